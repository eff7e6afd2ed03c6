"""Router on a stick: unmodified Linux hosts in two VLANs of one trunk, routed by the
appliance's sub-interfaces, as a switch's access layer meets its router.

    h1: eth0 (10.10.0.2) -- access VLAN 10, priority 5 -+                +-- trunk0.10 10.10.0.1
                                                        +- switch ------ trunk0 [appliance]
    h2: eth0 (10.20.0.2) -- access VLAN 20 -------------+  (tagged)      +-- trunk0.20 10.20.0.1,
                                                                              MTU 1400
This machine's kernel has no 802.1Q devices (CONFIG_VLAN_8021Q unset), so the hosts cannot
run `ip link add link eth0 name eth0.10 type vlan id 10` themselves: the tagging is done by
an access switch (tests/e2e/vlan_switch.py) on the appliance's tap, as a real switch's
access ports do. h1's port marks frames priority 5; the appliance ignores it and sends
priority 0, as a Linux router's VLAN device does. trunk0.20 has a kernel interface of its
own: it carries what the appliance does not answer itself (TCP to its address here).
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
from tests.e2e.lab import FAST_ARP, HOST_ENV, sh

ROUTER_MAC = "02:00:00:0a:00:01"
HOST_MAC = ["02:00:00:0b:00:01", "02:00:00:0b:00:02"]
VLAN = [10, 20]
LISTEN = ("import socket, sys\n"
          "s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
          "print('ready', flush=True)\n"
          "c, peer = s.accept(); c.sendall(b'hello ' + peer[0].encode()); c.close()\n")


class Trunk:
    def __init__(self, tmp):
        self.id = uuid.uuid4().hex[:5]
        self.ns = [f"vl{self.id}h1", f"vl{self.id}h2"]
        self.access = [f"a{self.id}{i}" for i in range(2)]
        self.tap, self.kernel = f"t{self.id}", f"k{self.id}"
        self.appliance = Appliance(tmp)
        self.appliance.config.update({
            "ports": [{"name": "trunk0", "device": f"net_tap_{self.appliance.prefix},iface={self.tap}",
                       "mac": ROUTER_MAC,
                       "vlans": [{"vlan": 10, "addresses": ["10.10.0.1/24"]},
                                 {"vlan": 20, "mtu": 1400, "addresses": ["10.20.0.1/24"],
                                  "kernel": {"name": self.kernel}}]}],
            "nexthops": [], "routes": [], "arp": dict(FAST_ARP)})
        self.switch = None
        for i in range(2):
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
        sh("ip", "-n", ns, "addr", "add", f"10.{VLAN[i]}.0.2/24", "dev", "eth0")
        sh("ip", "-n", ns, "route", "add", "default", "via", f"10.{VLAN[i]}.0.1")

    def start(self) -> "Trunk":
        self.appliance.start()
        sh("sysctl", "-qw", f"net.ipv6.conf.{self.tap}.disable_ipv6=1")
        sh("ip", "link", "set", self.tap, "address", "02:00:00:0c:00:01", "up")
        self.switch = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.vlan_switch", self.tap, f"{self.access[0]}:10:5",
             f"{self.access[1]}:20"], stdout=subprocess.PIPE, text=True)
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
        for ns in self.ns:
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
    server = subprocess.Popen([sys.executable, "-c", LISTEN, "10.20.0.1", "7020"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        out = trunk.host(1, sys.executable, "-c", "import socket\n"
                         "s = socket.create_connection(('10.20.0.1', 7020), timeout=5)\n"
                         "print(s.recv(100).decode())")
        assert out.stdout.strip() == "hello 10.20.0.2", out.stdout + out.stderr
    finally:
        server.kill()
