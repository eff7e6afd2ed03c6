"""802.1Q sub-interfaces on ring ports: port a is a trunk of VLANs 10 and 20 (a router on
a stick), port b an untagged port. Frames are checked field by field, tag included."""
import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.dataplane import VlanConfig
from appliance.metrics import DataplaneCollector
from tests.native.conftest import EAL, FAST_TIMERS, HOST_MAC, PORTS, ROUTER_MAC, checked

HOST10, HOST20 = "02:00:00:00:10:10", "02:00:00:00:20:20"  # a host in each VLAN
ROUTER = {"a": "192.0.2.1", "a.10": "10.10.0.1", "a.20": "10.20.0.1", "b": "198.51.100.1"}


def open_trunk_router() -> Dataplane:
    ports = [PortConfig(name, "ring", mac=ROUTER_MAC[name],
                        vlans=[VlanConfig(10), VlanConfig(20, mtu=1400)] if name == "a" else [])
             for name in PORTS]
    dp = Dataplane(DataplaneConfig(ports=ports, eal=EAL, slowpath=FAST_TIMERS, tables=TableSizes(
        max_routes=4096, tbl8_groups=256, max_nexthops=64, max_rules=1024)))
    dp.start()
    for name, address in ROUTER.items():
        dp.address_add(name, f"{address}/24")
    dp.address_add("a.20", "2001:db8:20::1/64")
    dp.address_add("a.10", "2001:db8:10::1/64")
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)  # gratuitous ARPs, unsolicited NAs
    return dp


@pytest.fixture
def trunk():
    yield from checked(open_trunk_router())


def tagged(vlan: int, src: str, payload, prio: int = 0):
    return Ether(src=src, dst=ROUTER_MAC["a"]) / Dot1Q(vlan=vlan, prio=prio) / payload


def exchange(dp: Dataplane, frames, port="a") -> list[Ether]:
    assert dp.inject(port, [bytes(f) for f in frames]) == len(frames)
    dp.quiesce()
    return [Ether(raw) for raw in dp.drain("a")]


def learn(dp: Dataplane, vlan: int, mac: str, ip: str) -> None:
    """The host asks for the router by ARP on its VLAN: the answer is tagged, and the
    router now knows the host (as Linux does)."""
    out = exchange(dp, [Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=vlan) / ARP(
        op=1, hwsrc=mac, psrc=ip, pdst=ROUTER[f"a.{vlan}"])])
    assert len(out) == 1 and out[0][Dot1Q].vlan == vlan and out[0][ARP].op == 2
    assert out[0][ARP].psrc == ROUTER[f"a.{vlan}"] and out[0].dst == mac


def test_routes_between_two_vlans_of_one_trunk(trunk):
    learn(trunk, 10, HOST10, "10.10.0.5")
    learn(trunk, 20, HOST20, "10.20.0.5")
    sent = tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.5", ttl=64) / UDP() / (b"x" * 40),
                  prio=5)
    out = exchange(trunk, [sent] * 3)
    assert len(out) == 3
    got = out[0]
    assert got.dst == HOST20 and got.src == ROUTER_MAC["a"] and got.type == 0x8100
    # The tag is VLAN 20's, priority 0 (Linux's VLAN device: an empty egress QoS map).
    assert got[Dot1Q].vlan == 20 and got[Dot1Q].prio == 0 and got[Dot1Q].dei == 0
    assert got[Dot1Q].type == 0x0800 and got[IP].ttl == 63
    assert bytes(got[UDP]) == bytes(sent[UDP])
    counters = {f["name"]: f for f in trunk.interfaces()}
    assert counters["a.10"]["rx_packets"] == 4 and counters["a.20"]["tx_packets"] == 3
    assert counters["a.20"]["tx_bytes"] == 3 * len(got)
    assert counters["a.10"]["rx_bytes"] == 3 * len(sent) + len(Ether() / Dot1Q() / ARP())
    assert counters["a"]["rx_packets"] == 5  # the port: everything it received (2 ARPs, 3 UDP)
    registry = CollectorRegistry()
    registry.register(DataplaneCollector(trunk.stats))
    text = generate_latest(registry).decode()
    assert 'appliance_interface_tx_packets_total{interface="a.20"} 3.0' in text
    assert f'appliance_interface_tx_bytes_total{{interface="a.20"}} {3.0 * len(got)}' in text


def test_unresolved_host_is_asked_for_on_its_vlan_and_then_reached(trunk):
    learn(trunk, 10, HOST10, "10.10.0.5")
    out = exchange(trunk, [tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.9") / UDP())])
    assert len(out) == 1 and out[0][Dot1Q].vlan == 20 and out[0][ARP].pdst == "10.20.0.9"
    assert out[0][ARP].psrc == "10.20.0.1" and out[0].dst == "ff:ff:ff:ff:ff:ff"
    reply = Ether(src=HOST20, dst=ROUTER_MAC["a"]) / Dot1Q(vlan=20) / ARP(
        op=2, hwsrc=HOST20, psrc="10.20.0.9", hwdst=ROUTER_MAC["a"], pdst="10.20.0.1")
    out = exchange(trunk, [reply])
    assert len(out) == 1 and out[0][Dot1Q].vlan == 20 and out[0][IP].dst == "10.20.0.9"
    assert out[0].dst == HOST20
    assert {(n["port"], n["ip"]) for n in trunk.neighbors()} >= {("a.20", "10.20.0.9"),
                                                                ("a.10", "10.10.0.5")}


def test_untagged_and_priority_tagged_frames_belong_to_the_port(trunk):
    trunk.neighbor_add("a", "192.0.2.7", HOST_MAC["a"])
    out = exchange(trunk, [
        Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src="192.0.2.7", dst="192.0.2.1") / ICMP(id=1),
        tagged(0, HOST_MAC["a"], IP(src="192.0.2.7", dst="192.0.2.1") / ICMP(id=2), prio=3)])
    assert sorted(p[ICMP].id for p in out) == [1, 2]
    assert all(Dot1Q not in p and p[ICMP].type == 0 and p[IP].src == "192.0.2.1" for p in out)


def test_a_vlan_without_sub_interface_is_dropped_and_counted(trunk):
    out = exchange(trunk, [tagged(30, HOST10, IP(src="10.30.0.5", dst="10.20.0.5") / UDP()),
                           tagged(10, HOST10, IP(src="192.0.2.7", dst="192.0.2.1") / ICMP())])
    assert out == [] or all(p[ICMP].type != 0 for p in out if ICMP in p)
    assert trunk.stats()["drops"]["unknown_vlan"] == 1
    # Tagged frames on a port without sub-interfaces: the same count.
    trunk.inject("b", [bytes(Ether(src=HOST_MAC["b"], dst=ROUTER_MAC["b"]) / Dot1Q(vlan=10) /
                             IP(dst="198.51.100.1") / ICMP())])
    trunk.quiesce()
    assert trunk.drain("b") == []
    assert trunk.stats()["drops"]["unknown_vlan"] == 2


def test_the_sub_interface_answers_for_itself_only(trunk):
    """Ping its own address from its VLAN: a tagged reply from it. An address of another
    interface is still the router's (Linux: the weak host model), answered on the VLAN it
    was asked on."""
    learn(trunk, 10, HOST10, "10.10.0.5")
    out = exchange(trunk, [tagged(10, HOST10, IP(src="10.10.0.5", dst="10.10.0.1") / ICMP(id=7)),
                           tagged(10, HOST10, IP(src="10.10.0.5", dst="198.51.100.1") / ICMP(id=8))])
    assert sorted((p[Dot1Q].vlan, p[IP].src, p[ICMP].type, p[ICMP].id) for p in out) == [
        (10, "10.10.0.1", 0, 7), (10, "198.51.100.1", 0, 8)]


def test_time_exceeded_and_fragmentation_needed_come_from_the_sub_interface(trunk):
    learn(trunk, 10, HOST10, "10.10.0.5")
    learn(trunk, 20, HOST20, "10.20.0.5")
    big = tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.5", flags="DF") / UDP() / (b"x" * 1450))
    dying = tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.5", ttl=1) / UDP())
    out = exchange(trunk, [big, dying])
    assert sorted((p[Dot1Q].vlan, p[IP].src, p[ICMP].type, p[ICMP].code) for p in out) == [
        (10, "10.10.0.1", 3, 4), (10, "10.10.0.1", 11, 0)]
    too_big = next(p for p in out if p[ICMP].type == 3)
    assert too_big[ICMP].nexthopmtu == 1400  # VLAN 20's MTU, not the port's
    fits = tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.5", flags="DF") / UDP() / (b"x" * 1372))
    out = exchange(trunk, [fits])
    assert len(out) == 1 and out[0][Dot1Q].vlan == 20 and out[0][IP].len == 1400


def test_ipv6_between_vlans_with_neighbour_discovery(trunk):
    h10, h20 = "2001:db8:10::5", "2001:db8:20::5"
    out = exchange(trunk, [tagged(10, HOST10, IPv6(src=h10, dst=h20, hlim=64) / UDP() / b"y")])
    ns = [p for p in out if ICMPv6ND_NS in p]
    assert len(ns) == 1 and ns[0][Dot1Q].vlan == 20 and ns[0][ICMPv6ND_NS].tgt == h20
    na = Ether(src=HOST20, dst=ROUTER_MAC["a"]) / Dot1Q(vlan=20) / IPv6(
        src=h20, dst=ns[0][IPv6].src, hlim=255) / ICMPv6ND_NA(tgt=h20, R=0, S=1, O=1) / \
        bytes.fromhex("0201" + HOST20.replace(":", ""))
    out = exchange(trunk, [na])
    assert len(out) == 1 and out[0][Dot1Q].vlan == 20 and out[0][IPv6].hlim == 63
    assert out[0].dst == HOST20
    # An echo to the sub-interface's address: answered from it, on VLAN 10.
    trunk.neighbor_add("a.10", h10, HOST10)
    out = exchange(trunk, [tagged(10, HOST10, IPv6(src=h10, dst="2001:db8:10::1") / ICMPv6EchoRequest(id=3))])
    replies = [p for p in out if ICMPv6EchoReply in p]
    assert len(replies) == 1 and replies[0][Dot1Q].vlan == 10 and replies[0][IPv6].src == "2001:db8:10::1"


def test_an_acl_on_a_sub_interface_filters_that_vlan_only(trunk):
    learn(trunk, 10, HOST10, "10.10.0.5")
    learn(trunk, 20, HOST20, "10.20.0.5")
    trunk.acl_set("no-udp", {"default": "permit", "entries": [{"action": "deny", "proto": "udp"}]})
    trunk.acl_bind("a.10", "in", "no-udp")
    out = exchange(trunk, [tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.5") / UDP()),
                           tagged(20, HOST20, IP(src="10.20.0.5", dst="10.10.0.5") / UDP())])
    assert [(p[Dot1Q].vlan, p[IP].dst) for p in out] == [(10, "10.10.0.5")]
    assert trunk.stats()["drops"]["acl_deny"] == 1
    assert trunk.acl_bound("a", "in") is None


def test_sub_interfaces_are_listed_with_their_vlan_and_mtu(trunk):
    listed = {f["name"]: (f["port"], f["vlan"], f["mtu"]) for f in trunk.interfaces()}
    assert listed == {"a": ("a", 0, 1500), "b": ("b", 0, 1500), "c": ("c", 0, 1500),
                      "a.10": ("a", 10, 1500), "a.20": ("a", 20, 1400)}
    with pytest.raises(Exception, match="a.10 is a sub-interface"):
        trunk.inject("a.10", [b"\x00" * 60])
