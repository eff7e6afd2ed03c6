"""FRR eBGP end to end: bgpd on the appliance host peers over the appliance's port (its
kernel interface, TCP 179 through the punt path) with bgpd in h2's namespace; zebra
installs what it learns into the kernel table, route sync mirrors it into the FIB, and h1
reaches the announced prefix through the DPDK path, not the kernel's."""
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.frr import Frr
from tests.e2e.lab import Lab

APPLIANCE_BGP = """frr defaults traditional
hostname appliance
router bgp 65001
 bgp router-id 10.0.2.1
 no bgp ebgp-requires-policy
 neighbor 10.0.2.2 remote-as 65002
 neighbor 10.0.2.2 timers 3 9
 neighbor 10.0.2.2 timers connect 1
"""

NEIGHBOUR_BGP = """frr defaults traditional
hostname neighbour
router bgp 65002
 bgp router-id 10.0.2.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.2.1 remote-as 65001
 neighbor 10.0.2.1 timers 3 9
 neighbor 10.0.2.1 timers connect 1
 address-family ipv4 unicast
  network 172.16.0.0/24
 exit-address-family
"""


@pytest.fixture
def bgp_lab(tmp_path):
    lab = Lab(tmp_path, kernel=True)
    lab.appliance.config["route_sync"] = {"table": "main", "protocols": ["bgp"]}
    lab.host(1, "ip", "addr", "add", "172.16.0.1/32", "dev", "lo", check=True)
    lab.start()
    ours = Frr(APPLIANCE_BGP)
    theirs = Frr(NEIGHBOUR_BGP, netns=lab.ns[1], zebra=False)
    try:
        ours.start()
        theirs.start()
        yield lab, ours, theirs
    finally:
        theirs.stop()
        ours.stop()
        lab.close()


def counter(iface: str) -> int:
    stats = Path(f"/sys/class/net/{iface}/statistics")
    return sum(int((stats / f).read_text()) for f in ("rx_packets", "tx_packets"))


def mirrored(lab) -> dict[str, dict]:
    with lab.appliance.client() as c:
        return {r["prefix"]: r for r in c.kernel_routes()}


def test_ebgp_routes_reach_the_fib_and_are_forwarded_by_dpdk(bgp_lab):
    lab, ours, theirs = bgp_lab
    assert wait_until(lambda: ours.established("10.0.2.2"), timeout=60), ours.vtysh("show bgp summary")
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(lab), timeout=30), ours.vtysh("show ip route")
    r = mirrored(lab)["172.16.0.0/24"]
    assert (r["gateway"], r["port"], r["protocol"]) == ("10.0.2.2", "lan1", 186)
    assert lab.wait_ping(0, "172.16.0.1")
    # Transit: the kernel interfaces see only the BGP session's few packets.
    before = [counter(k) for k in lab.kernel]
    ping = lab.host(0, "ping", "-n", "-c", "300", "-i", "0.002", "-W", "1", "172.16.0.1")
    assert " 0% packet loss" in ping.stdout, ping.stdout
    after = [counter(k) for k in lab.kernel]
    assert all(a - b < 30 for a, b in zip(after, before)), (before, after)
    with lab.appliance.client() as c:
        assert c.stats()["slowpath"]["kernel_in"] > 0  # the session came in through the punt path

    # Withdrawn: gone from the kernel, then from the FIB; the sender is told.
    theirs.vtysh("configure terminal", "router bgp 65002", "address-family ipv4 unicast",
                 "no network 172.16.0.0/24")
    assert wait_until(lambda: "172.16.0.0/24" not in mirrored(lab), timeout=30)
    r = lab.ping(0, "172.16.0.1", count=1)
    assert "Destination Net Unreachable" in r.stdout, r.stdout
    assert ours.established("10.0.2.2"), "the session stays up"


def kernel_bgp_routes() -> set[str]:
    import subprocess
    out = subprocess.run(["ip", "-4", "route", "show", "proto", "bgp"], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines()}


def test_a_restart_resyncs_from_the_kernel_table_with_nothing_stale(bgp_lab):
    lab, ours, theirs = bgp_lab
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(lab), timeout=60), ours.vtysh("show bgp summary")
    assert lab.wait_ping(0, "172.16.0.1")
    # While the appliance is down its kernel interfaces are gone, and with them the
    # session and zebra's routes; withdrawn meanwhile, a prefix must not come back.
    lab.appliance.signal(__import__("signal").SIGTERM)
    theirs.vtysh("configure terminal", "router bgp 65002", "address-family ipv4 unicast",
                 "network 172.16.5.0/24")
    lab.start()
    assert wait_until(lambda: ours.established("10.0.2.2"), timeout=60), ours.vtysh("show bgp summary")
    assert wait_until(lambda: {"172.16.0.0/24", "172.16.5.0/24"} <= set(mirrored(lab)), timeout=30)
    assert lab.wait_ping(0, "172.16.0.1")
    theirs.vtysh("configure terminal", "router bgp 65002", "address-family ipv4 unicast",
                 "no network 172.16.0.0/24")
    assert wait_until(lambda: "172.16.0.0/24" not in mirrored(lab), timeout=30)
    assert set(mirrored(lab)) == {r for r in kernel_bgp_routes() if r.startswith("172.16.")}


ECMP_NEIGHBOUR_BGP = """frr defaults traditional
hostname {name}
router bgp 65002
 bgp router-id {me}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.2.1 remote-as 65001
 neighbor 10.0.2.1 timers 3 9
 neighbor 10.0.2.1 timers connect 1
 address-family ipv4 unicast
  network 172.16.0.0/24
 exit-address-family
"""

ECMP_APPLIANCE_BGP = """frr defaults traditional
hostname appliance
router bgp 65001
 bgp router-id 10.0.2.1
 no bgp ebgp-requires-policy
 neighbor 10.0.2.2 remote-as 65002
 neighbor 10.0.2.3 remote-as 65002
 address-family ipv4 unicast
  maximum-paths 8
 exit-address-family
"""


def rx_packets(lab, ns: str) -> int:
    from tests.e2e.lab import sh
    out = sh("ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/statistics/rx_packets").stdout
    return int(out)


def send_udp(lab, flows: int, per_flow: int) -> None:
    """From h1 to the anycast 172.16.0.1: `flows` source ports, `per_flow` packets each."""
    script = ("import socket\n"
              f"for port in range(20000, 20000 + {flows}):\n"
              "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "    s.bind(('10.0.1.2', port))\n"
              f"    for _ in range({per_flow}): s.sendto(b'ecmp', ('172.16.0.1', 9))\n"
              "    s.close()\n")
    r = lab.host(0, "python3", "-c", script)
    assert r.returncode == 0, r.stderr


def test_two_neighbours_announcing_one_prefix_share_its_flows(tmp_path):
    from tests.e2e.lab import sh
    lab = Lab(tmp_path, kernel=True)
    lab.appliance.config["route_sync"] = {"table": "main", "protocols": ["bgp"]}
    h3 = f"lab{lab.id}h3"
    sh("ip", "netns", "add", h3)
    sh("ip", "link", "add", f"v{lab.id}3", "type", "veth", "peer", "name", "eth0", "netns", h3)
    sh("ip", "link", "set", f"v{lab.id}3", "master", lab.bridge[1], "up")
    sh("ip", "-n", h3, "link", "set", "eth0", "address", "02:00:00:0b:00:03")
    for ns, me in ((lab.ns[1], "10.0.2.2"), (h3, "10.0.2.3")):
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if ns == h3:
            sh("ip", "-n", ns, "addr", "add", "10.0.2.3/24", "dev", "eth0")
            sh("ip", "-n", ns, "route", "add", "default", "via", "10.0.2.1")
        sh("ip", "-n", ns, "addr", "add", "172.16.0.1/32", "dev", "lo")  # anycast
    lab.start()
    daemons = [Frr(ECMP_APPLIANCE_BGP)]
    daemons += [Frr(ECMP_NEIGHBOUR_BGP.format(name=ns, me=me), netns=ns, zebra=False)
                for ns, me in ((lab.ns[1], "10.0.2.2"), (h3, "10.0.2.3"))]
    try:
        for d in daemons:
            d.start()
        assert wait_until(lambda: all(daemons[0].established(p) for p in ("10.0.2.2", "10.0.2.3")),
                          timeout=60), daemons[0].vtysh("show bgp summary")
        assert wait_until(lambda: len(mirrored(lab).get("172.16.0.0/24", {}).get("paths", [])) == 2,
                          timeout=30), (mirrored(lab), daemons[0].vtysh("show ip route"))
        assert {p["gateway"] for p in mirrored(lab)["172.16.0.0/24"]["paths"]} == {"10.0.2.2", "10.0.2.3"}
        assert lab.wait_ping(0, "172.16.0.1")  # (h1 has resolved its gateway: no ARP queue)
        before = [rx_packets(lab, ns) for ns in (lab.ns[1], h3)]
        send_udp(lab, flows=64, per_flow=5)
        spread = [rx_packets(lab, ns) - b for ns, b in zip((lab.ns[1], h3), before)]
        assert sum(spread) >= 320 and min(spread) >= 60, spread  # both paths carry flows
        before = [rx_packets(lab, ns) for ns in (lab.ns[1], h3)]
        send_udp(lab, flows=1, per_flow=200)
        one = sorted(rx_packets(lab, ns) - b for ns, b in zip((lab.ns[1], h3), before))
        assert one[1] >= 200 and one[0] < 20, one  # one flow, one path
    finally:
        for d in reversed(daemons):
            d.stop()
        lab.close()
        sh("ip", "netns", "del", h3, check=False)
