"""BFD for routing peers: each appliance of the pair (tests/e2e/ha_lab.py) peers eBGP with an
upstream FRR over its kernel interface, BFD 100 ms x 3 on both sessions, its packets through
the punt path. Under forwarding load the sessions hold; when the appliance the upstream routes
by (both: ECMP) is killed, the upstream drops its routes within BFD's detection time (not
BGP's 9 s hold time) and its traffic to the hosts moves to the other appliance."""
import re
import subprocess
import time

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.ha_lab import HOSTS, PEERS, HaPair
from tests.e2e.lab import HOST_ENV


# 300 Mbit/s of 1200-byte datagrams (~31 kpps) through the master's worker: on this 2-CPU
# machine both appliances' workers poll one CPU, and everything else (iperf3 at both ends,
# three FRRs, the slow paths) shares the other; iperf3 unbounded (~600 Mbit/s) starves that
# CPU and BFD sessions flap there (README: "A redundant pair").
LOAD = "300M"


@pytest.fixture
def bgp_pair(tmp_path):
    pair = HaPair(tmp_path, interval_ms=100, bgp_ms=100)
    try:
        pair.start("a")
        assert pair.wait_states("a", "master", 5), pair.states("a")
        pair.start("b")
        assert pair.wait_states("b", "backup", 5), pair.states("b")
        up = pair.frr["up"]
        assert wait_until(lambda: all(up.established(p) for p in PEERS.values()), timeout=60), \
            up.vtysh("show bgp summary")
        assert wait_until(lambda: bfd_up(pair) == 2, timeout=30), up.vtysh("show bfd peers")
        assert wait_until(lambda: len(pair.upstream_paths()) == 2, timeout=30)
        yield pair
    finally:
        pair.close()


def bfd_up(pair: HaPair) -> int:
    return pair.frr["up"].vtysh("show bfd peers").count("Status: up")


def session_downs(pair: HaPair) -> int:
    """Times any of the upstream's BFD sessions went down since it started."""
    out = pair.frr["up"].vtysh("show bfd peers counters")
    return sum(int(n) for n in re.findall(r"Session down events: (\d+)", out))


def test_bfd_holds_under_load_and_a_dead_appliance_is_withdrawn_at_once(bgp_pair):
    pair = bgp_pair
    # Load: h1 -> h2 through the master's workers, 5 s.
    server = subprocess.Popen(["ip", "netns", "exec", pair.ns[1], "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=HOST_ENV)
    time.sleep(0.5)
    load = pair.host(0, "iperf3", "-c", HOSTS[1], "-u", "-b", LOAD, "-l", "1200", "-t", "5", timeout=30)
    server.wait(timeout=10)
    assert load.returncode == 0, load.stdout + load.stderr
    print("\n" + load.stdout.strip().splitlines()[-4])
    assert bfd_up(pair) == 2 and session_downs(pair) == 0, pair.frr["up"].vtysh("show bfd peers counters")

    # The upstream has both as equal eBGP paths (ECMP); A is also the VRRP master.
    assert pair.upstream_paths() == sorted(PEERS.values())
    victim, other = "a", PEERS["b"]
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", pair.upstream, "ping", "-n", "-D", "-i", "0.01", "-c", "400",
         "-W", "1", HOSTS[0]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=HOST_ENV)
    time.sleep(1)
    start, killed_at = time.monotonic(), time.time()
    pair.kill(victim)
    while pair.upstream_paths() != [other] and time.monotonic() - start < 15:
        time.sleep(0.005)
    withdrawn = time.monotonic() - start
    out, _ = pinger.communicate(timeout=30)
    replies = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", out, re.M)]
    gap = max(b - a for a, b in zip(replies, replies[1:]))
    print(f"BFD 100 ms x 3: upstream withdrew {victim}'s route {withdrawn * 1000:.0f} ms after "
          f"kill -9; its pings to h1: {gap * 1000:.0f} ms without a reply")
    assert pair.upstream_paths() == [other], pair.frr["up"].vtysh("show ip route")
    assert withdrawn < 2, withdrawn  # BFD's doing: BGP alone would wait out its 9 s hold time
    assert gap < 2 and replies[-1] > killed_at + withdrawn  # it reaches h1 again, by the other
