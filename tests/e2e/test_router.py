"""The appliance as a router between unmodified Linux hosts: what their own tools print.

No static neighbour entry anywhere: the hosts ARP for their gateway, the
appliance ARPs for them. Topology in tests/e2e/lab.py.
"""
import re
import time

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.lab import HOST_MAC, ROUTER_MAC, Lab


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    yield lab.start()
    lab.close()


def test_ping_through_and_to_each_of_the_appliances_addresses(lab):
    assert lab.wait_ping(0, "10.0.2.2"), "h1 -> h2 through the appliance"
    r = lab.ping(0, "10.0.2.2", count=3)
    assert r.returncode == 0 and "ttl=63" in r.stdout, r.stdout
    for address in ("10.0.1.1", "10.0.2.1"):
        r = lab.ping(0, address)
        assert r.returncode == 0 and "ttl=64" in r.stdout, r.stdout
    # The hosts learned the appliance's MAC by ARP, and it learned theirs.
    neigh = lab.host(0, "ip", "neigh", "show", "10.0.1.1").stdout
    assert ROUTER_MAC[0] in neigh, neigh
    with lab.appliance.client() as c:
        learned = {n["ip"]: n for n in c.neighbors()}
        assert learned["10.0.2.2"]["mac"] == HOST_MAC[1]
        assert learned["10.0.2.2"]["state"] in ("reachable", "stale", "probe")
        stats = c.stats()
    assert stats["slowpath"]["icmp_echo_replies"] >= 4
    assert stats["slowpath"]["arp_requests_in"] >= 1


def test_31_links_both_ways_and_ping_record_route(lab):
    """RFC 3021 point-to-point links, as between routers (FRR numbers them so): both
    addresses of a /31 are hosts, the even one too. Then `ping -R` through and to the
    appliance: it records itself, and an echo reply carries the route back."""
    links = [("10.0.3.0/31", "10.0.3.1/31"), ("10.0.4.1/31", "10.0.4.0/31")]  # (ours, host's)
    for i, (ours, theirs) in enumerate(links):
        r = lab.appliance.cli("address", "add", f"lan{i}", ours)
        assert r.returncode == 0, r.stderr
        lab.host(i, "ip", "addr", "flush", "dev", "eth0", check=True)
        lab.host(i, "ip", "addr", "add", theirs, "dev", "eth0", check=True)
        lab.host(i, "ip", "route", "add", "default", "via", ours.split("/")[0], check=True)
    assert lab.wait_ping(0, "10.0.4.0"), "h1 -> h2 over two /31 links"
    assert lab.ping(1, "10.0.3.1").returncode == 0, "h2 -> h1"
    for i, (ours, _) in enumerate(links):
        r = lab.ping(i, ours.split("/")[0])
        assert r.returncode == 0 and "ttl=64" in r.stdout, r.stdout
    r = lab.host(0, "ping", "-n", "-R", "-c", "1", "-W", "2", "10.0.4.0")
    assert r.returncode == 0 and "RR:" in r.stdout, r.stdout
    recorded = r.stdout.split("RR:", 1)[1].split()
    assert recorded[:2] == ["10.0.3.1", "10.0.4.1"], r.stdout  # h1 out, the appliance out
    assert "10.0.3.0" in recorded, r.stdout  # the appliance again, on the way back
    r = lab.host(0, "ping", "-n", "-R", "-c", "1", "-W", "2", "10.0.3.0")
    assert r.returncode == 0 and r.stdout.split("RR:", 1)[1].split()[:2] == \
        ["10.0.3.1", "10.0.3.0"], r.stdout


def test_traceroute_shows_the_appliance_as_hop_1(lab):
    assert lab.wait_ping(0, "10.0.2.2")
    r = lab.host(0, "traceroute", "-n", "-q", "1", "-w", "2", "-m", "5", "10.0.2.2")
    hops = [line.split()[1] for line in r.stdout.splitlines()[1:]]
    assert hops[:2] == ["10.0.1.1", "10.0.2.2"], r.stdout


def test_route_removed_gives_net_unreachable_and_back_replies(lab):
    # A network behind h2, reached through a gateway next hop resolved by ARP.
    lab.host(1, "ip", "addr", "add", "172.16.0.1/32", "dev", "lo", check=True)
    r = lab.appliance.cli("nexthop", "set", "7", "lan1", "--gateway", "10.0.2.2")
    assert r.returncode == 0, r.stderr
    assert lab.appliance.cli("route", "add", "172.16.0.0/24", "7").returncode == 0
    assert lab.wait_ping(0, "172.16.0.1")
    assert lab.appliance.cli("route", "del", "172.16.0.0/24").returncode == 0
    r = lab.ping(0, "172.16.0.1", count=1)
    assert "Destination Net Unreachable" in r.stdout and "10.0.1.1" in r.stdout, r.stdout
    assert lab.appliance.cli("route", "add", "172.16.0.0/24", "7").returncode == 0
    assert lab.ping(0, "172.16.0.1", count=1).returncode == 0
    listed = lab.appliance.cli("nexthop", "list").stdout
    assert "via 10.0.2.2" in listed and HOST_MAC[1] in listed and "resolved" in listed, listed


def test_far_host_gone_fails_its_neighbour_with_a_bounded_hold_queue(lab):
    assert lab.wait_ping(0, "10.0.2.2")
    lab.host(1, "ip", "link", "set", "eth0", "down", check=True)
    # 2 s reachable + 0.5 s stale + 3 probes 0.2 s apart: failed within ~3 s.
    with lab.appliance.client() as c:
        assert wait_until(lambda: any(n["ip"] == "10.0.2.2" and n["state"] == "failed"
                                      for n in c.neighbors()), timeout=10)
    r = lab.ping(0, "10.0.2.2", count=1)
    assert r.returncode != 0
    # An address nobody has: many packets, but only hold_packets (8) wait.
    lab.host(0, "ping", "-n", "-c", "40", "-i", "0.01", "-W", "1", "10.0.2.77")
    with lab.appliance.client() as c:
        stats = c.stats()
        assert stats["held_packets"] <= 8
        assert stats["drops"]["hold_queue_full"] + stats["drops"]["neighbor_unreachable"] >= 30
    r = lab.ping(0, "10.0.2.77", count=1)
    assert "Destination Host Unreachable" in r.stdout, r.stdout
    listed = lab.appliance.cli("neigh", "list").stdout
    assert re.search(r"10\.0\.2\.77 .*FAILED", listed), listed


def test_restart_with_pinned_macs_keeps_the_hosts_working_untouched(lab):
    assert lab.wait_ping(0, "10.0.2.2")
    before = lab.host(0, "ip", "neigh", "show", "10.0.1.1").stdout
    lab.restart()
    assert lab.wait_ping(0, "10.0.2.2", timeout=10)
    after = lab.host(0, "ip", "neigh", "show", "10.0.1.1").stdout
    assert ROUTER_MAC[0] in before and ROUTER_MAC[0] in after


def test_pmtud_lets_tcp_through_a_smaller_egress_mtu(tmp_path):
    lab = Lab(tmp_path, mtu=[None, 1280]).start()
    try:
        assert lab.wait_ping(0, "10.0.2.2")
        tracepath = lab.host(0, "tracepath", "-n", "10.0.2.2", timeout=60).stdout
        assert "pmtu 1280" in tracepath, tracepath
        server = lab.host(1, "iperf3", "-s", "-D", "-1", "--logfile", str(tmp_path / "iperf.log"))
        assert server.returncode == 0, server.stderr
        time.sleep(0.5)
        r = lab.host(0, "iperf3", "-c", "10.0.2.2", "-t", "2", "-J", timeout=60)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        import json
        moved = json.loads(r.stdout)["end"]["sum_received"]["bytes"]
        assert moved > 1_000_000, moved
        with lab.appliance.client() as c:
            assert c.stats()["slowpath"]["icmp_fragmentation_needed"] >= 1
    finally:
        lab.close()


def test_a_host_on_the_wrong_subnet_gets_nothing(lab):
    # h1 renumbered into lan1's subnet while still on lan0's link.
    lab.host(0, "ip", "addr", "flush", "dev", "eth0", check=True)
    lab.host(0, "ip", "addr", "add", "10.0.2.50/24", "dev", "eth0", check=True)
    assert lab.ping(0, "10.0.2.1", count=2).returncode != 0  # not answered on the wrong port
    assert lab.ping(0, "10.0.2.2", count=2).returncode != 0
    with lab.appliance.client() as c:
        assert all(n["ip"] != "10.0.2.50" for n in c.neighbors())


def test_link_state_of_a_tap_moved_into_a_namespace_and_health(tmp_path):
    from tests.e2e.lab import sh
    lab = Lab(tmp_path)
    try:
        lab.appliance.start()
        ns = lab.ns[0]
        sh("ip", "link", "set", lab.tap[0], "netns", ns)
        sh("ip", "-n", ns, "link", "set", lab.tap[0], "up")
        sh("ip", "link", "set", lab.tap[1], "master", lab.bridge[1], "up")

        def link(name):
            with lab.appliance.client() as c:
                return next(p["link_up"] for p in c.ports() if p["name"] == name)
        assert wait_until(lambda: link("lan0")), "a tap moved into a namespace and up is up"
        assert lab.appliance.cli("health").returncode == 0
        sh("ip", "-n", ns, "link", "set", lab.tap[0], "down")
        assert wait_until(lambda: not link("lan0"))
        r = lab.appliance.cli("health")
        assert r.returncode == 1 and "link down on port lan0" in r.stderr, r.stderr
    finally:
        lab.close()
