"""Router on a stick, then VRFs on the same trunk: unmodified Linux hosts, each in a VLAN
of one trunk, routed by the appliance's sub-interfaces, as a switch's access layer meets its
router.

    h1: eth0 (10.10.0.2) -- access VLAN 10, priority 5 -+                +-- trunk0.10 10.10.0.1
                                                        +- switch ------ trunk0 [appliance]
    h2: eth0 (10.20.0.2) -- access VLAN 20 -------------+  (tagged)      +-- trunk0.20 10.20.0.1,
                                                        |                     MTU 1400
    VRF red:   red (10.102.0.2) VLAN 102, its far side redfar (10.0.0.2) VLAN 101
    VRF blue:  blue (10.202.0.2) VLAN 202, its far side bluefar (10.0.0.2) VLAN 201
    global:    shared (192.168.30.2) VLAN 300, reached from both VRFs by leaked routes

red's and blue's far sides are the same subnet (10.0.0.0/24, the appliance 10.0.0.1 on
both). This machine's kernel has no 802.1Q devices (CONFIG_VLAN_8021Q unset), so the hosts
cannot run `ip link add link eth0 name eth0.10 type vlan id 10` themselves: the tagging is
done by an access switch (tests/e2e/vlan_switch.py) on the appliance's tap, as a real
switch's access ports do. h1's port marks frames priority 5; the appliance ignores it and
sends priority 0, as a Linux router's VLAN device does. trunk0.20 has a kernel interface of
its own: it carries what the appliance does not answer itself (TCP to its address here).
"""
import subprocess
import sys
import time
import uuid

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.sendrecv import AsyncSniffer, sendp

from tests.e2e.conftest import Appliance, wait_until
from tests.e2e.frr import Frr
from tests.e2e.lab import FAST_ARP, HOST_ENV, sh

ROUTER_MAC = "02:00:00:0a:00:01"
# name, access VLAN (:priority the switch marks), address, the appliance's address there
HOSTS = [("h1", "10:5", "10.10.0.2/24", "10.10.0.1"),
         ("h2", "20", "10.20.0.2/24", "10.20.0.1"),
         ("redfar", "101", "10.0.0.2/24", "10.0.0.1"),
         ("red", "102", "10.102.0.2/24", "10.102.0.1"),
         ("bluefar", "201", "10.0.0.2/24", "10.0.0.1"),
         ("blue", "202", "10.202.0.2/24", "10.202.0.1"),
         ("shared", "300", "192.168.30.2/24", "192.168.30.1")]
HOST_MAC = [f"02:00:00:0b:00:{i + 1:02x}" for i in range(len(HOSTS))]
H1, H2, REDFAR, RED, BLUEFAR, BLUE, SHARED = range(len(HOSTS))
VRFS = {101: "red", 102: "red", 201: "blue", 202: "blue"}
# A TCP server answering each connection with its name and the peer's address.
LISTEN = ("import socket, sys\n"
          "s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
          "print('ready', flush=True)\n"
          "while True:\n"
          "    c, peer = s.accept(); c.sendall(f'{sys.argv[3]} {peer[0]}'.encode()); c.close()\n")
CONNECT = ("import socket, sys\n"
           "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
           "print(s.recv(100).decode())")


class Trunk:
    def __init__(self, tmp):
        self.id = uuid.uuid4().hex[:5]
        self.ns = [f"vl{self.id}{name}" for name, *_ in HOSTS]
        self.access = [f"a{self.id}{i}" for i in range(len(HOSTS))]
        self.tap, self.kernel, self.red_kernel = f"t{self.id}", f"k{self.id}", f"kr{self.id}"
        # (unique: a VRF's kernel interfaces live in the network namespace of its name)
        self.vrf = {"red": f"red{self.id}", "blue": f"blue{self.id}", "default": "default"}
        self.appliance = Appliance(tmp)
        vlans = []
        for _, access, _, router in HOSTS:
            vlan = int(access.split(":")[0])
            vlans.append({"vlan": vlan, "addresses": [f"{router}/24"],
                          "vrf": self.vrf[VRFS.get(vlan, "default")]})
        vlans[H2].update(mtu=1400, kernel={"name": self.kernel})
        vlans[REDFAR].update(kernel={"name": self.red_kernel})  # BGP with redfar, in VRF red
        self.appliance.config.update({
            "vrfs": [{"name": self.vrf["red"]}, {"name": self.vrf["blue"]}],
            "route_sync": {"table": "main", "protocols": ["bgp"]},
            "ports": [{"name": "trunk0", "device": f"net_tap_{self.appliance.prefix},iface={self.tap}",
                       "mac": ROUTER_MAC, "vlans": vlans}],
            # The shared host is reached from red and blue by routes leaked into them (their
            # next hop is on a global interface); their clients from it by routes whose next
            # hops are on red's and blue's interfaces.
            "nexthops": [{"id": 1, "port": "trunk0.300", "gateway": "192.168.30.2"},
                         {"id": 2, "port": "trunk0.102", "gateway": "10.102.0.2"},
                         {"id": 3, "port": "trunk0.202", "gateway": "10.202.0.2"}],
            "routes": [{"prefix": "192.168.30.0/24", "nexthop": 1, "vrf": self.vrf["red"]},
                       {"prefix": "192.168.30.0/24", "nexthop": 1, "vrf": self.vrf["blue"]},
                       {"prefix": "10.102.0.0/24", "nexthop": 2},
                       {"prefix": "10.202.0.0/24", "nexthop": 3}],
            "arp": dict(FAST_ARP)})
        self.switch = None
        for i in range(len(HOSTS)):
            self._host(i)

    def _host(self, i: int) -> None:
        ns = self.ns[i]
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "link", "add", self.access[i], "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("sysctl", "-qw", f"net.ipv6.conf.{self.access[i]}.disable_ipv6=1")
        sh("ip", "link", "set", self.access[i], "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "address", HOST_MAC[i])
        for link in ("eth0", "lo"):
            sh("ip", "-n", ns, "link", "set", link, "up")
        # The switch relays frames through sockets: they must leave with their checksums
        # done (a veth leaves TCP and UDP ones to the receiver).
        sh("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off")
        _, _, address, router = HOSTS[i]
        sh("ip", "-n", ns, "addr", "add", address, "dev", "eth0")
        sh("ip", "-n", ns, "route", "add", "default", "via", router)

    def start(self) -> "Trunk":
        self.appliance.start()
        sh("sysctl", "-qw", f"net.ipv6.conf.{self.tap}.disable_ipv6=1")
        sh("ip", "link", "set", self.tap, "address", "02:00:00:0c:00:01", "up")
        self.switch = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.vlan_switch", self.tap,
             *(f"{port}:{access}" for port, (_, access, *_) in zip(self.access, HOSTS))],
            stdout=subprocess.PIPE, text=True)
        assert self.switch.stdout.readline().strip() == "ready"
        return self

    def host(self, i: int, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns[i], *cmd, check=False, timeout=timeout)

    def ping(self, i: int, dst: str, *extra: str) -> subprocess.CompletedProcess:
        return self.host(i, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", *extra, dst)

    def close(self) -> None:
        if self.switch:
            self.switch.kill()
        app = self.appliance
        if app.proc and app.proc.poll() is None:
            app.signal(15)
        app.cleanup()
        for ns in [*self.ns, self.vrf["red"]]:
            sh("ip", "netns", "del", ns, check=False)


@pytest.fixture(scope="module")
def trunk(tmp_path_factory):
    lab = Trunk(tmp_path_factory.mktemp("vlan"))
    try:
        lab.start()
        assert wait_until(lambda: lab.ping(0, "10.20.0.2").returncode == 0, 15), \
            "h1 -> h2 across the trunk"
        yield lab
    finally:
        lab.close()


def drops(lab: Trunk) -> dict:
    with lab.appliance.client() as c:
        return c.stats()["drops"]


def test_hosts_in_two_vlans_reach_each_other_by_arp_alone(trunk):
    assert trunk.ping(1, "10.10.0.2").returncode == 0
    neigh = trunk.host(0, "ip", "neigh", "show", "10.10.0.1").stdout
    assert ROUTER_MAC in neigh, neigh  # learned by ARP on VLAN 10
    listed = trunk.appliance.cli("neigh", "list").stdout
    assert "10.10.0.2" in listed and "trunk0.10" in listed and "10.20.0.2" in listed
    assert "trunk0.20" in listed


def test_traceroute_shows_the_sub_interface_as_hop_one(trunk):
    out = trunk.host(0, "traceroute", "-n", "-q", "1", "-w", "1", "10.20.0.2").stdout
    hops = [line.split()[1] for line in out.splitlines()[1:]]
    assert hops == ["10.10.0.1", "10.20.0.2"], out


def test_path_mtu_discovery_finds_the_smaller_vlan_and_tcp_flows(trunk):
    out = trunk.host(0, "ping", "-n", "-c", "1", "-W", "1", "-M", "do", "-s", "1472", "10.20.0.2")
    assert "mtu = 1400" in out.stdout + out.stderr, out.stdout + out.stderr
    assert trunk.ping(0, "10.20.0.2", "-M", "do", "-s", "1372").returncode == 0
    server = subprocess.Popen(["ip", "netns", "exec", trunk.ns[1], "iperf3", "-s", "-1", "-B",
                               "10.20.0.2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=HOST_ENV)
    try:
        time.sleep(0.5)
        out = trunk.host(0, "iperf3", "-c", "10.20.0.2", "-t", "2", "-J", timeout=30)
        import json
        result = json.loads(out.stdout)
        assert result["end"]["sum_received"]["bytes"] > 1_000_000, out.stdout[-500:]
    finally:
        server.kill()
    # Linux learned VLAN 20's MTU from the appliance's ICMP.
    assert "mtu 1400" in trunk.host(0, "ip", "route", "get", "10.20.0.2").stdout


def test_frames_on_the_trunk_carry_the_vlan_tags(trunk):
    """Captured on the trunk (the appliance's tap): h1's requests arrive tagged VLAN 10,
    priority 5, and are answered; what the appliance routes to h2 leaves tagged VLAN 20,
    priority 0, TTL one less; the replies go back on VLAN 10."""
    sniffer = AsyncSniffer(iface=trunk.tap, filter="icmp or (vlan and icmp)")
    sniffer.start()
    time.sleep(0.5)
    try:
        assert trunk.ping(0, "10.20.0.2").returncode == 0
        time.sleep(0.5)
    finally:
        captured = sniffer.stop()
    # (scapy puts back the tag the kernel handed up beside each frame: PACKET_AUXDATA)
    frames = [p for p in captured if Dot1Q in p and ICMP in p]
    from_h1 = [p for p in frames if p[Ether].src == HOST_MAC[0]]
    to_h2 = [p for p in frames if p[Ether].src == ROUTER_MAC and p[ICMP].type == 8]
    to_h1 = [p for p in frames if p[Ether].src == ROUTER_MAC and p[ICMP].type == 0]
    assert len(from_h1) == len(to_h2) == len(to_h1) == 2, [p.summary() for p in frames]
    assert all(p[Dot1Q].vlan == 10 and p[Dot1Q].prio == 5 for p in from_h1)
    assert all(p[Dot1Q].vlan == 20 and p[Dot1Q].prio == 0 and p[IP].ttl == 63 for p in to_h2)
    assert all(p[Dot1Q].vlan == 10 and p[Dot1Q].prio == 0 and p[Ether].dst == HOST_MAC[0]
               for p in to_h1)


def test_a_vlan_the_appliance_has_no_sub_interface_for_is_counted(trunk):
    before = drops(trunk)["unknown_vlan"]
    arp = Ether(src=HOST_MAC[0], dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=30) / ARP(
        psrc="10.30.0.2", pdst="10.30.0.1")
    sendp([arp] * 3, iface=trunk.tap, verbose=False)
    assert wait_until(lambda: drops(trunk)["unknown_vlan"] == before + 3, 5)
    listed = trunk.appliance.cli("interface", "list").stdout
    line = next(line for line in listed.splitlines() if line.startswith("trunk0.20"))
    assert "vlan 20" in line and "mtu 1400" in line and f"kernel {trunk.kernel}" in line


def test_the_kernel_side_of_a_sub_interface_takes_tcp_to_its_address(trunk):
    """A socket on the appliance host bound to trunk0.20's address: h2 connects through
    the sub-interface's kernel interface (the frames on the trunk tagged both ways)."""
    details = sh("ip", "addr", "show", trunk.kernel).stdout
    assert "mtu 1400" in details and "10.20.0.1/24" in details, details
    server = subprocess.Popen([sys.executable, "-c", LISTEN, "10.20.0.1", "7020", "hello"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        out = trunk.host(H2, sys.executable, "-c", CONNECT, "10.20.0.1", "7020")
        assert out.stdout.strip() == "hello 10.20.0.2", out.stdout + out.stderr
    finally:
        server.kill()


# ---- VRFs: red and blue, with one subnet each behind them, and a shared host ----

def serve(lab: Trunk, i: int, port: int) -> subprocess.Popen:
    """LISTEN on host i's address, answering with the host's name."""
    name, _, address, _ = HOSTS[i]
    server = subprocess.Popen(["ip", "netns", "exec", lab.ns[i], sys.executable, "-c", LISTEN,
                               address.split("/")[0], str(port), name],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=HOST_ENV)
    assert server.stdout.readline().strip() == "ready"
    return server


def address_of(i: int) -> str:
    return HOSTS[i][2].split("/")[0]


def test_each_vrf_reaches_its_own_far_side_of_one_subnet(trunk):
    servers = [serve(trunk, REDFAR, 7100), serve(trunk, BLUEFAR, 7100)]
    try:
        for client, far in ((RED, REDFAR), (BLUE, BLUEFAR)):
            assert trunk.ping(client, "10.0.0.2").returncode == 0
            out = trunk.host(client, sys.executable, "-c", CONNECT, "10.0.0.2", "7100")
            assert out.stdout.strip() == f"{HOSTS[far][0]} {address_of(client)}", out.stdout + out.stderr
    finally:
        for s in servers:
            s.kill()


def test_another_vrfs_subnet_is_net_unreachable_from_the_vrfs_interface(trunk):
    for client, other in ((RED, BLUE), (BLUE, RED), (H1, REDFAR)):
        out = trunk.host(client, "ping", "-n", "-c", "1", "-W", "1", address_of(other))
        assert out.returncode != 0
        assert f"From {HOSTS[client][3]} icmp_seq=1 Destination Net Unreachable" in out.stdout, out.stdout


def test_a_leaked_route_reaches_the_shared_host_from_both_vrfs(trunk):
    server = serve(trunk, SHARED, 7300)
    try:
        for client in (RED, BLUE):
            assert trunk.ping(client, "192.168.30.2").returncode == 0
            out = trunk.host(client, sys.executable, "-c", CONNECT, "192.168.30.2", "7300")
            assert out.stdout.strip() == f"shared {address_of(client)}", out.stdout + out.stderr
    finally:
        server.kill()
    out = trunk.host(RED, "traceroute", "-n", "-q", "1", "-w", "1", "192.168.30.2").stdout
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["10.102.0.1", "192.168.30.2"], out


def test_the_cli_lists_each_vrfs_routes_and_interfaces(trunk):
    red = trunk.appliance.cli("route", "list", "--vrf", trunk.vrf["red"]).stdout
    assert "192.168.30.0/24" in red and "10.102.0.0/24" not in red, red
    default = trunk.appliance.cli("route", "list").stdout
    assert "10.102.0.0/24" in default and "192.168.30.0/24" not in default, default
    vrfs = {line.split()[0]: line.split() for line in trunk.appliance.cli("vrf", "list").stdout.splitlines()}
    assert vrfs[trunk.vrf["red"]][1:] == ["1", "routes", "trunk0.101", "trunk0.102"], vrfs
    assert vrfs[trunk.vrf["blue"]][1:] == ["1", "routes", "trunk0.201", "trunk0.202"], vrfs
    assert "trunk0.300" in vrfs["default"]


# ---- FRR in a VRF: bgpd's `router bgp ASN vrf NAME` drives VRF red's table ----

APPLIANCE_VRF_BGP = """frr defaults traditional
hostname appliance
router bgp 65001 vrf {vrf}
 bgp router-id 10.0.0.1
 no bgp ebgp-requires-policy
 neighbor 10.0.0.2 remote-as 65002
 neighbor 10.0.0.2 timers 3 9
 neighbor 10.0.0.2 timers connect 1
"""

REDFAR_BGP = """frr defaults traditional
hostname redfar
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.0.1 remote-as 65001
 neighbor 10.0.0.1 timers 3 9
 neighbor 10.0.0.1 timers connect 1
 address-family ipv4 unicast
  network 172.16.101.0/24
 exit-address-family
"""


def mirrored(lab: Trunk) -> dict[str, dict]:
    with lab.appliance.client() as c:
        return {r["prefix"]: r for r in c.kernel_routes()}


def test_frr_bgp_in_a_vrf_fills_only_that_vrfs_table(trunk):
    """zebra's netns VRF backend (-n) finds VRF red as the network namespace of that name,
    where the appliance made trunk0.101's kernel interface; bgpd peers with redfar over it,
    zebra installs into red's kernel table, route sync mirrors that into red's FIB."""
    red = trunk.vrf["red"]
    trunk.host(REDFAR, "ip", "addr", "add", "172.16.101.1/32", "dev", "lo")
    ours = Frr(APPLIANCE_VRF_BGP.format(vrf=red), vrf_netns=True)
    theirs = Frr(REDFAR_BGP, netns=trunk.ns[REDFAR], zebra=False)
    try:
        ours.start()
        theirs.start()
        assert wait_until(lambda: "172.16.101.0/24" in mirrored(trunk), timeout=60), \
            ours.vtysh(f"show bgp vrf {red} summary") + sh("ip", "-n", red, "route").stdout
        route = mirrored(trunk)["172.16.101.0/24"]
        assert (route["vrf"], route["port"], route["gateway"]) == (red, "trunk0.101", "10.0.0.2")
        assert "proto bgp" in sh("ip", "-n", red, "route", "show", "172.16.101.0/24").stdout
        assert "172.16.101.0/24" not in sh("ip", "route").stdout  # not the global table
        assert wait_until(lambda: trunk.ping(RED, "172.16.101.1").returncode == 0, 10)
        for other in (BLUE, H1):  # blue's and the global table do not have it
            out = trunk.host(other, "ping", "-n", "-c", "1", "-W", "1", "172.16.101.1").stdout
            assert "Destination Net Unreachable" in out, out

        theirs.vtysh("configure terminal", "router bgp 65002", "address-family ipv4 unicast",
                     "no network 172.16.101.0/24")
        assert wait_until(lambda: "172.16.101.0/24" not in mirrored(trunk), timeout=30)
        out = trunk.host(RED, "ping", "-n", "-c", "1", "-W", "1", "172.16.101.1").stdout
        assert "Destination Net Unreachable" in out, out
    finally:
        theirs.stop()
        ours.stop()
