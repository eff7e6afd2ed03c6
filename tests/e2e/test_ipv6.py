"""IPv6 between unmodified Linux hosts through the appliance (tests/e2e/lab.py).

No static neighbour entry anywhere: the hosts resolve their gateway with NDP (h1 through
the appliance's EUI-64 link-local address, as a router advertisement would set it, h2
through its global one) and the appliance resolves them the same way.
"""
import json
import time

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.lab import HOST_MAC, ROUTER_MAC, Lab

ROUTER6 = ["2001:db8:1::1", "2001:db8:2::1"]
HOST6 = ["2001:db8:1::2", "2001:db8:2::2"]
ROUTER_LL = ["fe80::ff:fe0a:1", "fe80::ff:fe0a:2"]  # modified EUI-64 of ROUTER_MAC
HOST_LL = ["fe80::ff:fe0b:1", "fe80::ff:fe0b:2"]


def ipv6_lab(tmp_path, mtu=None) -> Lab:
    lab = Lab(tmp_path, mtu=mtu)
    for i, port in enumerate(lab.appliance.config["ports"]):
        port["addresses"].append(f"{ROUTER6[i]}/64")
    lab.start()
    for i in range(2):
        # The kernel's own link-local address, usable at once (no DAD wait).
        lab.host(i, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0",
                 "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.eth0.disable_ipv6=0",
                 check=True)
        lab.host(i, "ip", "-6", "addr", "add", f"{HOST6[i]}/64", "dev", "eth0", check=True)
    gateways = [ROUTER_LL[0], ROUTER6[1]]
    for i in range(2):
        lab.host(i, "ip", "-6", "route", "add", "default", "via", gateways[i], "dev", "eth0",
                 check=True)
    return lab


@pytest.fixture
def lab6(tmp_path):
    lab = ipv6_lab(tmp_path)
    yield lab
    lab.close()


def ping6(lab, i, dst, count=2, size=None, dont_fragment=False):
    cmd = ["ping", "-6", "-n", "-c", str(count), "-i", "0.2", "-W", "1"]
    cmd += ["-s", str(size)] if size else []
    cmd += ["-M", "do"] if dont_fragment else []
    return lab.host(i, *cmd, dst)


def wait_ping6(lab, i, dst, timeout=10) -> bool:
    return wait_until(lambda: ping6(lab, i, dst, count=1).returncode == 0, timeout=timeout)


def test_ping6_through_and_to_each_address_global_and_link_local(lab6):
    assert wait_ping6(lab6, 0, HOST6[1]), "h1 -> h2 over IPv6"
    r = ping6(lab6, 0, HOST6[1], count=3)
    assert r.returncode == 0 and "ttl=63" in r.stdout, r.stdout  # one hop: hop limit 64 - 1
    for address in (*ROUTER6, f"{ROUTER_LL[0]}%eth0"):
        r = ping6(lab6, 0, address)
        assert r.returncode == 0 and "ttl=64" in r.stdout, (address, r.stdout)
    r = ping6(lab6, 1, f"{ROUTER_LL[1]}%eth0")
    assert r.returncode == 0, r.stdout
    # Both sides learned each other by NDP.
    neigh = lab6.host(0, "ip", "-6", "neigh", "show", ROUTER_LL[0]).stdout
    assert ROUTER_MAC[0] in neigh and "router" in neigh, neigh  # the R flag was seen
    with lab6.appliance.client() as c:
        learned = {n["ip"]: n for n in c.neighbors()}
        assert learned[HOST6[1]]["mac"] == HOST_MAC[1]
        assert learned[HOST6[1]]["state"] in ("reachable", "stale", "probe")
        slow = c.stats()["slowpath"]
        automatic = {a["address"] for a in c.addresses() if a["automatic"]}
    assert slow["nd_solicits_in"] >= 1 and slow["nd_solicits_out"] >= 1
    assert slow["nd_adverts_in"] >= 1 and slow["icmp_echo_replies"] >= 6
    assert automatic == {f"{ll}/64" for ll in ROUTER_LL}


def test_traceroute6_shows_the_appliance_as_hop_1(lab6):
    assert wait_ping6(lab6, 0, HOST6[1])
    r = lab6.host(0, "traceroute", "-6", "-n", "-q", "1", "-w", "2", "-m", "5", HOST6[1])
    hops = [line.split()[1] for line in r.stdout.splitlines()[1:]]
    assert hops[:2] == [ROUTER6[0], HOST6[1]], r.stdout


def test_iperf3_tcp_over_ipv6(lab6, tmp_path):
    assert wait_ping6(lab6, 0, HOST6[1])
    server = lab6.host(1, "iperf3", "-s", "-D", "-1", "--logfile", str(tmp_path / "iperf6.log"))
    assert server.returncode == 0, server.stderr
    time.sleep(0.5)
    r = lab6.host(0, "iperf3", "-6", "-c", HOST6[1], "-t", "2", "-J", timeout=60)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert json.loads(r.stdout)["end"]["sum_received"]["bytes"] > 1_000_000


def test_route_removed_gives_no_route_and_a_link_local_gateway_carries_it_back(lab6):
    # A network behind h2, through h2's link-local address, as routing daemons install it.
    lab6.host(1, "ip", "-6", "addr", "add", "2001:db8:99::1/128", "dev", "lo", check=True)
    lab6.host(1, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0", check=True)
    r = lab6.appliance.cli("nexthop", "set", "7", "lan1", "--gateway", HOST_LL[1])
    assert r.returncode == 0, r.stderr
    assert lab6.appliance.cli("route", "add", "2001:db8:99::/64", "7").returncode == 0
    assert wait_ping6(lab6, 0, "2001:db8:99::1")
    assert lab6.appliance.cli("route", "del", "2001:db8:99::/64").returncode == 0
    r = ping6(lab6, 0, "2001:db8:99::1", count=1)
    assert "Destination unreachable: No route" in r.stdout and ROUTER6[0] in r.stdout, r.stdout
    assert lab6.appliance.cli("route", "add", "2001:db8:99::/64", "7").returncode == 0
    assert ping6(lab6, 0, "2001:db8:99::1", count=1).returncode == 0
    listed = lab6.appliance.cli("nexthop", "list").stdout
    assert f"via {HOST_LL[1]}" in listed and HOST_MAC[1] in listed and "resolved" in listed, listed


def test_pmtud_through_a_smaller_egress_mtu_gets_packet_too_big(tmp_path):
    lab = ipv6_lab(tmp_path, mtu=[None, 1280])
    try:
        assert wait_ping6(lab, 0, HOST6[1])
        r = ping6(lab, 0, HOST6[1], count=1, size=1400, dont_fragment=True)
        assert "Packet too big: mtu=1280" in r.stdout and ROUTER6[0] in r.stdout, r.stdout
        tracepath = lab.host(0, "tracepath", "-6", "-n", HOST6[1], timeout=60).stdout
        assert "pmtu 1280" in tracepath, tracepath
        server = lab.host(1, "iperf3", "-s", "-D", "-1", "--logfile", str(tmp_path / "iperf.log"))
        assert server.returncode == 0, server.stderr
        time.sleep(0.5)
        r = lab.host(0, "iperf3", "-6", "-c", HOST6[1], "-t", "2", "-J", timeout=60)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        assert json.loads(r.stdout)["end"]["sum_received"]["bytes"] > 1_000_000
        with lab.appliance.client() as c:
            assert c.stats()["slowpath"]["icmp_fragmentation_needed"] >= 1
    finally:
        lab.close()
