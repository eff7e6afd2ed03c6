"""VRRP between two appliance processes on shared LANs, with unmodified Linux hosts whose
gateway is the virtual address (tests/e2e/ha_lab.py): the master is killed (SIGKILL) and the
backup takes over; it comes back and preempts; a tracked uplink goes down and the other
router takes the LAN. h1 pings h2 every 10 ms through both gateways meanwhile."""
import time

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.ha_lab import HOSTS, HOSTS6, VMAC, VMAC6, HaPair


@pytest.fixture
def pair(tmp_path):
    p = HaPair(tmp_path, interval_ms=100, track=True)
    yield p
    p.close()


def up(pair: HaPair) -> None:
    pair.start("a")
    assert pair.wait_states("a", "master", 5), pair.states("a")
    pair.start("b")
    assert pair.wait_states("b", "backup", 5), pair.states("b")
    assert pair.host(0, "ping", "-c", "3", "-i", "0.2", "-W", "1", HOSTS[1]).returncode == 0
    assert pair.gateway_mac(0) == VMAC[0]


def since(pair: HaPair, name: str, vrid: int) -> tuple[str, float]:
    """(state, when it entered it) on this host's monotonic clock."""
    with pair.apps[name].client() as c:
        (r,) = [r for r in c.vrrp() if r["vrid"] == vrid]
        return r["state"], time.monotonic() - r["since_s"]


def test_the_backup_takes_over_from_a_dead_master_and_the_master_preempts_on_return(pair):
    up(pair)
    a_log = pair.apps["a"].output()
    assert "vrrp lan0 1 ipv4: backup -> master (master down)" in a_log, a_log

    with pair.apps["b"].client() as c:
        before = {r["vrid"]: r["became_master"] for r in c.vrrp()}
    b_log_before = pair.apps["b"].output()
    pinger = pair.pinger(count=500)  # 5 s at 10 ms
    time.sleep(1.5)
    pair.kill("a")
    assert pair.wait_states("b", "master", 3), pair.states("b")
    sent, lost, gap = HaPair.outcome(pinger)
    print(f"\nkill -9 of the master, 100 ms adverts: {lost} of {sent} pings lost (every 10 ms), "
          f"{gap * 1000:.0f} ms without a reply")
    assert 0 < lost and gap < 2, (sent, lost, gap)  # it took over: a gap, then answers
    assert pair.gateway_mac(0) == VMAC[0]  # the host never had to learn another MAC
    with pair.apps["b"].client() as c:
        for r in c.vrrp():  # one clean takeover each
            assert (r["state"], r["reason"], r["became_master"] - before[r["vrid"]]) == \
                ("master", "master down", 1), r
    listed = pair.apps["b"].cli("vrrp", "list").stdout
    assert "lan0 vrid 1 ipv4: MASTER for" in listed and "(master down), priority 100" in listed, listed
    b_log = pair.apps["b"].output()[len(b_log_before):]
    assert b_log.count("backup -> master (master down)") == 2 and "master -> backup" not in b_log

    # A comes back with the higher priority: it preempts B (make before break).
    pinger = pair.pinger(count=300)
    time.sleep(0.5)
    pair.start("a")
    assert pair.wait_states("a", "master", 5), pair.states("a")
    assert pair.wait_states("b", "backup", 2), pair.states("b")
    sent, lost, gap = HaPair.outcome(pinger)
    print(f"master back, preempting: {lost} of {sent} pings lost, {gap * 1000:.0f} ms without a reply")
    assert lost < 50, (sent, lost)
    for vrid in (1, 2):
        (a_state, a_since), (b_state, b_since) = since(pair, "a", vrid), since(pair, "b", vrid)
        # Two masters only for as long as A's first advertisement takes to reach B.
        assert a_state == "master" and b_state == "backup" and b_since - a_since < 0.25
    assert "(preempted a lower-priority master)" in pair.apps["a"].output()
    assert "master -> backup (higher-priority master heard)" in pair.apps["b"].output()
    assert pair.host(0, "ping", "-c", "3", "-i", "0.2", "-W", "1", HOSTS[1]).returncode == 0


def test_a_tracked_uplink_going_down_hands_the_lan_to_the_other_router(pair):
    up(pair)
    tap = pair.apps["a"].taps[1]  # A's lan1: lan0's router tracks it (decrement 150)
    from tests.e2e.lab import sh
    sh("ip", "link", "set", tap, "down")
    assert pair.wait_states("b", "master", 3), pair.states("b")
    # (A hears B's first advertisement as master a moment after B says it is.)
    assert wait_until(lambda: pair.states("a") == {1: "backup", 2: "init"}, timeout=3), pair.states("a")
    with pair.apps["a"].client() as c:
        routers = {r["vrid"]: r for r in c.vrrp()}
    assert (routers[1]["state"], routers[1]["priority"]) == ("backup", 50)
    assert (routers[2]["state"], routers[2]["reason"]) == ("init", "link down")
    assert pair.host(0, "ping", "-c", "3", "-i", "0.2", "-W", "1", HOSTS[1]).returncode == 0
    assert "vrrp lan0 1 ipv4: priority 50 (tracked interface)" in pair.apps["a"].output()
    sh("ip", "link", "set", tap, "up")
    assert pair.wait_states("a", "master", 3), pair.states("a")
    assert pair.wait_states("b", "backup", 2), pair.states("b")


@pytest.fixture
def pair6(tmp_path):
    p = HaPair(tmp_path, interval_ms=100, ipv6=True)
    yield p
    p.close()


def test_ipv6_hosts_follow_the_virtual_router_their_advertisements_name(pair6):
    pair = pair6
    up(pair)

    def default_via() -> str:
        return pair.host(0, "ip", "-6", "route", "show", "default").stdout

    deadline = time.monotonic() + 10
    while "via fe80::1 dev eth0" not in default_via() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "via fe80::1 dev eth0" in default_via(), default_via()
    assert pair.host(0, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "1", HOSTS6[1]).returncode == 0
    assert f"lladdr {VMAC6[0]}" in pair.host(0, "ip", "-6", "neigh", "show", "fe80::1").stdout

    pinger = pair.pinger(count=400, ipv6=True)
    time.sleep(1.0)
    pair.kill("a")
    sent, lost, gap = HaPair.outcome(pinger)
    print(f"\nIPv6, kill -9 of the master: {lost} of {sent} pings lost, {gap * 1000:.0f} ms without a reply")
    assert 0 < lost and gap < 2, (sent, lost, gap)
    assert "via fe80::1 dev eth0" in default_via()  # the same router, now B
    assert f"lladdr {VMAC6[0]}" in pair.host(0, "ip", "-6", "neigh", "show", "fe80::1").stdout
