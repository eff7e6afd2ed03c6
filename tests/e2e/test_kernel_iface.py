"""A port's kernel interface: sockets on the appliance host reach the hosts through it,
transit never touches it (tests/e2e/lab.py, with `kernel` interfaces)."""
import json
import time
from pathlib import Path

import pytest

from tests.e2e.lab import ROUTER_MAC, Lab, sh


@pytest.fixture
def klab(tmp_path):
    lab = Lab(tmp_path, kernel=True)
    lab.appliance.config["ports"][0]["addresses"].append("2001:db8:1::1/64")
    lab.start()
    yield lab
    lab.close()


def counter(iface: str, name: str) -> int:
    return int(Path(f"/sys/class/net/{iface}/statistics/{name}").read_text())


def test_the_kernel_interface_has_the_port_s_mac_addresses_and_no_arp(klab):
    link = sh("ip", "-j", "addr", "show", "dev", klab.kernel[0]).stdout
    (info,) = json.loads(link)
    assert info["address"] == ROUTER_MAC[0] and "NOARP" in info["flags"] and "UP" in info["flags"]
    assert {(a["local"], a["prefixlen"]) for a in info["addr_info"]} >= {
        ("10.0.1.1", 24), ("2001:db8:1::1", 64), ("fe80::ff:fe0a:1", 64)}
    # Addresses added at runtime follow.
    assert klab.appliance.cli("address", "add", "lan0", "10.0.9.1/24").returncode == 0
    assert "10.0.9.1/24" in sh("ip", "addr", "show", "dev", klab.kernel[0]).stdout
    assert klab.appliance.cli("address", "del", "lan0", "10.0.9.1/24").returncode == 0
    assert "10.0.9.1/24" not in sh("ip", "addr", "show", "dev", klab.kernel[0]).stdout


def test_tcp_to_the_appliance_address_reaches_a_socket_on_the_kernel_interface(klab, tmp_path):
    assert klab.wait_ping(0, "10.0.1.1")
    srv = sh("iperf3", "-s", "-D", "-1", "-B", "10.0.1.1", "--logfile", str(tmp_path / "k.log"))
    assert srv.returncode == 0
    time.sleep(0.5)
    r = klab.host(0, "iperf3", "-c", "10.0.1.1", "-t", "2", "-J", timeout=60)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    end = json.loads(r.stdout)["end"]["sum_received"]
    print(f"TCP through the kernel interface: {end['bits_per_second'] / 1e6:.0f} Mbit/s")
    assert end["bytes"] > 1_000_000, end
    with klab.appliance.client() as c:
        slow = c.stats()["slowpath"]
    assert slow["kernel_in"] > 100 and slow["kernel_out"] > 100


def test_transit_traffic_never_goes_through_the_kernel(klab):
    assert klab.wait_ping(0, "10.0.2.2")
    before = [counter(k, "rx_packets") + counter(k, "tx_packets") for k in klab.kernel]
    r = klab.host(0, "ping", "-n", "-c", "200", "-i", "0.002", "-W", "1", "10.0.2.2")
    assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout
    after = [counter(k, "rx_packets") + counter(k, "tx_packets") for k in klab.kernel]
    # (the kernel may send a stray IPv6 packet of its own; 400 transit ones would show)
    assert all(a - b < 10 for a, b in zip(after, before)), (before, after)


RECEIVE = """import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("224.0.0.9", 5209))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton("224.0.0.9") + socket.inet_aton(sys.argv[1]))
s.settimeout(5)
print(s.recvfrom(100)[0].decode(), flush=True)
"""

SEND = """import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for _ in range(20):
    s.sendto(sys.argv[2].encode(), ("224.0.0.9", 5209))
    time.sleep(0.1)
"""


def test_link_local_multicast_goes_both_ways_between_the_link_and_the_kernel(klab):
    """What routing protocols (OSPF, RIP, VRRP) send to 224.0.0.x reaches a socket on the
    kernel interface, and what one sends there reaches the hosts."""
    import subprocess
    import sys
    assert klab.wait_ping(0, "10.0.1.1")
    here = subprocess.Popen([sys.executable, "-c", RECEIVE, "10.0.1.1"], stdout=subprocess.PIPE,
                            text=True)
    time.sleep(0.3)
    klab.host(0, sys.executable, "-c", SEND, "10.0.1.2", "from-h1")
    assert here.communicate(timeout=10)[0].strip() == "from-h1"
    there = subprocess.Popen(["ip", "netns", "exec", klab.ns[0], sys.executable, "-c", RECEIVE,
                              "10.0.1.2"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    sh(sys.executable, "-c", SEND, "10.0.1.1", "from-the-kernel")
    assert there.communicate(timeout=10)[0].strip() == "from-the-kernel"


def kernel_link(iface: str) -> dict:
    (info,) = json.loads(sh("ip", "-j", "addr", "show", "dev", iface).stdout)
    return info


def wait_for(predicate, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_kernel_interface_follows_the_port_s_link(klab):
    """A cable pulled on the port takes its kernel interface down (a daemon sees it at once);
    back up, the interface comes back with all its addresses, IPv6 included."""
    kernel, lan = klab.kernel[0], klab.tap[0]
    assert klab.wait_ping(0, "10.0.1.1")
    sh("ip", "link", "set", lan, "down")
    assert wait_for(lambda: "UP" not in kernel_link(kernel)["flags"]), kernel_link(kernel)
    # The port on the other side stays up: only its own kernel interface follows.
    assert "UP" in kernel_link(klab.kernel[1])["flags"]
    sh("ip", "link", "set", lan, "up")
    assert wait_for(lambda: "UP" in kernel_link(kernel)["flags"]), kernel_link(kernel)
    addresses = {(a["local"], a["prefixlen"]) for a in kernel_link(kernel)["addr_info"]}
    assert {("10.0.1.1", 24), ("2001:db8:1::1", 64)} <= addresses
    assert klab.wait_ping(0, "10.0.1.1")
