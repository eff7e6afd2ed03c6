"""Router on a stick: unmodified Linux hosts in two VLANs of one trunk, routed by the
appliance's sub-interfaces, as a switch's access layer meets its router.

    h1: eth0.10 (10.10.0.2) --+                    +-- trunk0.10 10.10.0.1
                              +- bridge (tagged) --+ trunk0 [appliance]
    h2: eth0.20 (10.20.0.2) --+                    +-- trunk0.20 10.20.0.1, MTU 1400

The bridge passes tagged frames as a trunk port does; each host's VLAN device is what
`ip link add link eth0 name eth0.10 type vlan id 10` makes. h1 marks what it sends with
priority 5 (an egress QoS map); the appliance ignores it and sends priority 0, as a Linux
router's VLAN device does. trunk0 has a kernel interface: its VLAN devices carry what the
appliance does not answer itself (TCP to its own addresses here).
"""
import subprocess
import sys
import time
import uuid

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import rdpcap

from tests.e2e.conftest import Appliance, wait_until
from tests.e2e.lab import FAST_ARP, sh

ROUTER_MAC = "02:00:00:0a:00:01"
HOST_MAC = ["02:00:00:0b:00:01", "02:00:00:0b:00:02"]
VLAN = [10, 20]
LISTEN = ("import socket, sys\n"
          "s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
          "c, peer = s.accept(); c.sendall(b'hello ' + peer[0].encode()); c.close()\n")


class Trunk:
    def __init__(self, tmp):
        self.id = uuid.uuid4().hex[:5]
        self.ns = [f"vl{self.id}h1", f"vl{self.id}h2"]
        self.bridge, self.tap, self.kernel = f"b{self.id}", f"t{self.id}", f"k{self.id}"
        self.appliance = Appliance(tmp)
        self.appliance.config.update({
            "ports": [{"name": "trunk0", "device": f"net_tap_{self.appliance.prefix},iface={self.tap}",
                       "mac": ROUTER_MAC, "kernel": {"name": self.kernel},
                       "vlans": [{"vlan": 10, "addresses": ["10.10.0.1/24"]},
                                 {"vlan": 20, "mtu": 1400, "addresses": ["10.20.0.1/24"]}]}],
            "nexthops": [], "routes": [], "arp": dict(FAST_ARP)})
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("sysctl", "-qw", f"net.ipv6.conf.{self.bridge}.disable_ipv6=1")
        sh("ip", "link", "set", self.bridge, "up")
        for i in range(2):
            self._host(i)

    def _host(self, i: int) -> None:
        ns, vlan = self.ns[i], VLAN[i]
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "link", "add", f"v{self.id}{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", f"v{self.id}{i}", "master", self.bridge, "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "address", HOST_MAC[i])
        for link in ("eth0", "lo"):
            sh("ip", "-n", ns, "link", "set", link, "up")
        qos = ["egress-qos-map", "0:5"] if i == 0 else []
        sh("ip", "-n", ns, "link", "add", "link", "eth0", "name", f"eth0.{vlan}", "type", "vlan",
           "id", str(vlan), *qos)
        sh("ip", "-n", ns, "link", "set", f"eth0.{vlan}", "up")
        sh("ip", "-n", ns, "addr", "add", f"10.{vlan}.0.2/24", "dev", f"eth0.{vlan}")
        sh("ip", "-n", ns, "route", "add", "default", "via", f"10.{vlan}.0.1")

    def start(self) -> "Trunk":
        self.appliance.start()
        sh("sysctl", "-qw", f"net.ipv6.conf.{self.tap}.disable_ipv6=1")
        sh("ip", "link", "set", self.tap, "address", "02:00:00:0c:00:01")
        sh("ip", "link", "set", self.tap, "master", self.bridge, "up")
        return self

    def host(self, i: int, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns[i], *cmd, check=False, timeout=timeout)

    def ping(self, i: int, dst: str, *extra: str) -> subprocess.CompletedProcess:
        return self.host(i, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", *extra, dst)

    def close(self) -> None:
        app = self.appliance
        if app.proc and app.proc.poll() is None:
            app.signal(15)
        app.cleanup()
        for ns in self.ns:
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)


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
                               "10.20.0.2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def test_frames_on_the_trunk_carry_the_vlan_tags_linux_expects(trunk, tmp_path):
    """Captured on h2's trunk side: the appliance's frames to h2 carry VLAN 20, priority 0;
    on h1's: h1's requests went out with priority 5 and still were answered, on VLAN 10."""
    pcaps = [tmp_path / f"h{i + 1}.pcap" for i in range(2)]
    dumps = [subprocess.Popen(["ip", "netns", "exec", trunk.ns[i], "tcpdump", "-i", "eth0", "-U",
                               "-w", str(pcaps[i]), "icmp or (vlan and icmp)"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
    time.sleep(1)
    try:
        assert trunk.ping(0, "10.20.0.2").returncode == 0
        time.sleep(0.5)
    finally:
        for d in dumps:
            d.terminate()
            d.wait(10)
    at_h2 = [p for p in rdpcap(str(pcaps[1])) if Dot1Q in p and ICMP in p]
    to_h2 = [p for p in at_h2 if p[Ether].src == ROUTER_MAC and p[ICMP].type == 8]
    assert to_h2 and all(p[Dot1Q].vlan == 20 and p[Dot1Q].prio == 0 for p in to_h2)
    assert all(p[IP].ttl == 63 for p in to_h2)
    at_h1 = [p for p in rdpcap(str(pcaps[0])) if Dot1Q in p and ICMP in p]
    sent = [p for p in at_h1 if p[Ether].src == HOST_MAC[0]]
    replies = [p for p in at_h1 if p[Ether].src == ROUTER_MAC and p[ICMP].type == 0]
    assert sent and all(p[Dot1Q].vlan == 10 and p[Dot1Q].prio == 5 for p in sent)
    assert replies and all(p[Dot1Q].vlan == 10 and p[Dot1Q].prio == 0 for p in replies)


def test_a_vlan_the_appliance_has_no_sub_interface_for_is_counted(trunk):
    before = drops(trunk)["unknown_vlan"]
    sh("ip", "-n", trunk.ns[0], "link", "add", "link", "eth0", "name", "eth0.30", "type", "vlan",
       "id", "30")
    sh("ip", "-n", trunk.ns[0], "link", "set", "eth0.30", "up")
    sh("ip", "-n", trunk.ns[0], "addr", "add", "10.30.0.2/24", "dev", "eth0.30")
    try:
        assert trunk.ping(0, "10.30.0.1").returncode != 0
        assert drops(trunk)["unknown_vlan"] >= before + 2  # h1's ARP requests at least
    finally:
        sh("ip", "-n", trunk.ns[0], "link", "del", "eth0.30", check=False)
    listed = trunk.appliance.cli("interface", "list").stdout
    line = next(line for line in listed.splitlines() if line.startswith("trunk0.20"))
    assert "vlan 20" in line and "mtu 1400" in line and f"kernel {trunk.kernel}.20" in line


def test_the_kernel_side_of_a_sub_interface_takes_tcp_to_its_address(trunk):
    """A socket on the appliance host bound to trunk0.20's address: h2 connects through
    the kernel interface's VLAN device, frames tagged both ways."""
    details = sh("ip", "-d", "link", "show", f"{trunk.kernel}.20").stdout
    assert "vlan protocol 802.1Q id 20" in details and "mtu 1400" in details, details
    assert "10.20.0.1/24" in sh("ip", "addr", "show", f"{trunk.kernel}.20").stdout
    server = subprocess.Popen([sys.executable, "-c", LISTEN, "10.20.0.1", "7020"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        out = trunk.host(1, sys.executable, "-c", "import socket\n"
                         "s = socket.create_connection(('10.20.0.1', 7020), timeout=5)\n"
                         "print(s.recv(100).decode())")
        assert out.stdout.strip() == "hello 10.20.0.2", out.stdout + out.stderr
    finally:
        server.kill()
