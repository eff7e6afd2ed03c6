"""Per-packet trace on ring ports: each traced packet's stages with their decisions (the
route's prefix and next hop, the MACs it left with, the ACL entry, the drop reason, the
slow path's answer), chosen by interface and a tcpdump expression, bounded by a count."""
import time

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from appliance.errors import CaptureError, StateError
from appliance.trace import TraceRequest, render, report
from tests.native.conftest import (HOST_IP, HOST_MAC, NEXTHOP, ROUTER_IP, ROUTER_MAC, forward,
                                   introduce, to_router, udp)


def start(dp, **request) -> None:
    dp.trace_start(TraceRequest(**request).native(dp.interfaces()))


def traced(dp, wait_for: int | None = None) -> list[dict]:
    """The trace's packets, once the slow path is done with them (its events are later)."""
    dp.quiesce()
    deadline = time.monotonic() + 5
    while True:
        packets = report(dp)["packets"]
        if wait_for is None or time.monotonic() > deadline or \
                sum(len(p["steps"]) for p in packets) >= wait_for:
            return packets
        time.sleep(0.02)


def stages(packet: dict) -> list[str]:
    return [s["stage"] for s in packet["steps"]]


def step(packet: dict, stage: str) -> dict:
    [found] = [s for s in packet["steps"] if s["stage"] == stage]
    return found


def test_a_forwarded_packet_with_its_route_next_hop_and_macs(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    start(router, count=4)
    got = forward(router, [udp()], port="a")
    assert len(got["c"]) == 1
    [p] = traced(router)
    assert (p["interface"], p["queue"], p["worker"], p["length"]) == ("a", 0, 0, 60)
    assert p["summary"] == "192.0.2.1 > 10.1.2.3 UDP 1234 > 5678, ttl 64"
    assert stages(p) == ["input", "lookup", "output", "tx"]
    lookup = step(p, "lookup")
    assert (lookup["vrf"], lookup["prefix"], lookup["nexthop"]) == ("default", "10.1.0.0/16", NEXTHOP["c"])
    assert lookup["text"] == f"vrf default: 10.1.0.0/16 -> next hop {NEXTHOP['c']}: out c to {HOST_MAC['c']}"
    out = step(p, "output")
    assert (out["interface"], out["src_mac"], out["dst_mac"], out["vlan"]) == \
        ("c", ROUTER_MAC["c"], HOST_MAC["c"], None)
    assert step(p, "tx")["text"] == "sent"
    assert all(s["by"] == "worker 0" for s in p["steps"])
    assert [s["at_us"] for s in p["steps"]] == sorted(s["at_us"] for s in p["steps"])


def test_no_route_and_ttl_1_name_their_fate_and_the_icmp_answer(lan_router):
    dp = lan_router
    introduce(dp, "a")
    start(dp, count=2)
    forward(dp, [to_router("a", "10.9.9.9") / UDP(), to_router("a", HOST_IP["b"], ttl=1) / UDP()])
    no_route, ttl = traced(dp, wait_for=13)
    assert step(no_route, "lookup")["text"] == "vrf default: no route to 10.9.9.9"
    # (The worker may send the answer before the slow path notes the drop: by time.)
    assert stages(no_route)[:4] == ["input", "lookup", "punt", "slow"]
    assert sorted(stages(no_route)[4:]) == ["drop", "output", "tx"]
    assert step(no_route, "slow")["text"] == \
        "answered with ICMP destination unreachable (type 3 code 0)"
    assert step(no_route, "slow")["by"] == "slow path"
    assert step(no_route, "drop")["reason"] == "no_route"
    # The answer leaves on a, to the host, made by the slow path.
    answer = step(no_route, "output")
    assert (answer["interface"], answer["dst_mac"]) == ("a", HOST_MAC["a"])
    assert answer["text"].endswith("(made by the slow path)")
    assert stages(ttl)[:2] == ["punt", "slow"] and sorted(stages(ttl)[2:]) == ["drop", "output", "tx"]
    assert step(ttl, "slow")["text"] == "answered with ICMP time exceeded (type 11 code 0)"
    assert step(ttl, "drop")["reason"] == "ttl_expired"


def test_a_ping_to_the_router_and_a_packet_held_for_arp(lan_router):
    dp = lan_router
    introduce(dp, "a")
    start(dp, count=2)
    ping = to_router("a", ROUTER_IP["a"]) / ICMP(id=7, seq=1)
    held = to_router("a", HOST_IP["b"]) / UDP(dport=9)
    got = forward(dp, [ping, held])
    assert [f[ARP].pdst for f in got["b"] if ARP in f] == [HOST_IP["b"]]  # resolving
    p1, p2 = traced(dp, wait_for=12)
    assert p1["summary"].endswith("ICMP echo-request id 7 seq 1, ttl 64")
    assert step(p1, "lookup")["text"] == "vrf default: 192.0.2.1/32 -> local: one of the router's own addresses"
    assert [s["text"] for s in p1["steps"] if s["by"] == "slow path"] == ["for the router: answered"]
    assert step(p1, "output")["dst_mac"] == HOST_MAC["a"]
    assert "held until 198.51.100.10 on b answers" in [s["text"] for s in p2["steps"]]
    # The ARP request it made is part of its trace; then the host answers and it leaves.
    assert step(p2, "output")["text"].endswith("ARP (made by the slow path)")
    reply = Ether(src=HOST_MAC["b"], dst=ROUTER_MAC["b"]) / ARP(
        op=2, hwsrc=HOST_MAC["b"], psrc=HOST_IP["b"], hwdst=ROUTER_MAC["b"], pdst=ROUTER_IP["b"])
    got = forward(dp, [reply], port="b")
    assert [f[UDP].dport for f in got["b"] if UDP in f] == [9]
    p2 = traced(dp, wait_for=14)[1]
    last = [s for s in p2["steps"] if s["stage"] == "output"][-1]
    assert (last["interface"], last["dst_mac"]) == ("b", HOST_MAC["b"])
    assert stages(p2)[-1] == "tx"


def test_an_acl_denied_packet_names_the_list_and_entry(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    router.acl_set("guests", {"default": "permit", "entries": [
        {"action": "permit", "proto": "udp"},
        {"action": "deny", "proto": "tcp", "dst_port": 22}]})
    router.acl_bind("a", "in", "guests")
    start(router, count=2)
    ssh = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src="192.0.2.1", dst="10.1.2.3") / TCP(dport=22)
    got = forward(router, [ssh, udp()])
    assert len(got["c"]) == 1
    denied, passed = traced(router)
    acl = step(denied, "acl")
    assert (acl["acl"], acl["entry"], acl["action"]) == ("guests", 2, "deny")
    assert acl["text"] == "in on a: ACL guests entry 2 (proto tcp, dst_port 22): deny"
    assert step(denied, "drop")["reason"] == "acl_deny"
    assert stages(denied) == ["input", "lookup", "acl", "drop"]
    assert step(passed, "acl")["entry"] == 1 and stages(passed)[-1] == "tx"


def test_a_flood_while_tracing_is_forwarded_and_the_trace_stops_at_its_count(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    start(router, count=10)
    frames = [udp(sport=1000 + i) for i in range(600)]
    sent = 0
    for i in range(0, len(frames), 200):  # (the rx ring holds 1024)
        sent += len(forward(router, frames[i:i + 200])["c"])
    assert sent == 600  # every packet forwarded
    shown = report(router)
    assert (shown["chosen"], shown["count"], len(shown["packets"])) == (10, 10, 10)
    assert [p["summary"].split()[4] for p in shown["packets"]] == [str(1000 + i) for i in range(10)]
    assert router.tracing  # running, but choosing nothing more
    text = render(shown)
    assert text.startswith("trace running: 10 of 10 packets traced\n")
    assert text.count("\npacket ") == 10


def test_interface_and_match_choose_the_packets(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    router.route_add("192.0.2.0/24", NEXTHOP["a"])
    start(router, interface="b", count=5, match="udp dst port 53")
    forward(router, [udp(dport=53), udp(dport=54)], port="a")
    b = lambda dport: Ether(src=HOST_MAC["b"], dst=ROUTER_MAC["b"]) / IP(src="198.51.100.7", dst="10.1.2.3") / UDP(dport=dport)
    forward(router, [b(54), b(53), b(53)], port="b")
    packets = traced(router)
    assert [(p["interface"], p["summary"]) for p in packets] == \
        [("b", "198.51.100.7 > 10.1.2.3 UDP 53 > 53, ttl 64")] * 2


def test_stop_keeps_the_records_and_start_replaces_them(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    with pytest.raises(StateError, match="no trace was started"):
        report(router)
    start(router, count=5)
    forward(router, [udp()])
    router.trace_stop()
    assert not router.tracing
    forward(router, [udp()])
    shown = report(router)
    assert (shown["running"], shown["chosen"], len(shown["packets"])) == (False, 1, 1)
    start(router, count=5)
    assert report(router)["packets"] == []


def test_bad_requests_change_nothing(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    start(router, count=3)
    with pytest.raises(CaptureError, match="match 'udp port': "):
        start(router, match="udp port")
    with pytest.raises(CaptureError, match=r"count: 0 is not 1\.\.4096"):
        start(router, count=0)
    with pytest.raises(CaptureError, match="no interface named 'x'"):
        start(router, interface="x")
    forward(router, [udp()])
    assert report(router)["chosen"] == 1  # the first trace still runs


def test_nat_and_conntrack_name_the_session_and_the_translation():
    from tests.native.conftest import checked
    from tests.native.test_nat import PUBLIC, REMOTE, SERVER, inside, open_nat_router, outside
    steps = checked(open_nat_router())
    dp = next(steps)
    try:
        start(dp, count=4)
        out = forward(dp, [inside(UDP(sport=5000, dport=53), "10.0.0.5")], port="a")["c"]
        [sent] = [f for f in out if UDP in f]
        public_port = sent[UDP].sport
        back = forward(dp, [outside(UDP(sport=53, dport=public_port))], port="c")["a"]
        assert [f[IP].dst for f in back if UDP in f] == ["10.0.0.5"]
        forwarded = forward(dp, [outside(TCP(sport=40000, dport=8080, flags="S"))], port="c")["a"]
        assert [f[IP].dst for f in forwarded if TCP in f] == [SERVER]
        refused = forward(dp, [outside(UDP(sport=53, dport=9999), dst="10.0.0.5")], port="c")["a"]
        assert not [f for f in refused if UDP in f]
        first, reply, port_forward, stray = traced(dp)
        ct = step(first, "conntrack")
        assert (ct["session"], ct["direction"], ct["translated"]) == ("unreplied", "original", True)
        assert ct["text"].endswith(f"translated: {PUBLIC}:{public_port} > {REMOTE}:53")
        assert step(reply, "nat")["text"] == f"destination NAT: {PUBLIC}:{public_port} -> 10.0.0.5:5000"
        assert step(reply, "lookup")["prefix"] == "10.0.0.0/8"
        assert (step(reply, "conntrack")["session"], step(reply, "conntrack")["direction"]) == \
            ("replied", "reply")
        assert step(port_forward, "nat")["text"] == f"destination NAT: {PUBLIC}:8080 -> {SERVER}:80"
        assert step(port_forward, "output")["dst_mac"] == HOST_MAC["a"]
        assert step(stray, "nat")["text"] == "destination NAT: none"
        assert step(stray, "conntrack")["text"] == "no session (not tracked)"
        assert step(stray, "drop")["reason"] == "not_established"
    finally:
        next(steps, None)


def test_an_ipv6_packet(router):
    from scapy.layers.inet6 import IPv6
    router.route_add("2001:db8:b::/48", NEXTHOP["b"])
    start(router, count=1)
    frame = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IPv6(src="2001:db8:a::10", dst="2001:db8:b::7") / UDP()
    assert len(forward(router, [frame])["b"]) == 1
    [p] = traced(router)
    assert p["summary"] == "2001:db8:a::10 > 2001:db8:b::7 UDP 53 > 53, hlim 64"
    assert step(p, "input")["text"] == "IPv6 checks passed"
    assert step(p, "lookup")["text"] == f"vrf default: 2001:db8:b::/48 -> next hop {NEXTHOP['b']}: out b to {HOST_MAC['b']}"
    assert step(p, "output")["dst_mac"] == HOST_MAC["b"] and stages(p)[-1] == "tx"


def test_a_sub_interface_is_traced_on_its_vlan_and_leaves_tagged():
    from scapy.layers.l2 import Dot1Q
    from tests.native.conftest import checked
    from tests.native.test_vlan import HOST10, HOST20, learn, open_trunk_router, tagged
    steps = checked(open_trunk_router())
    dp = next(steps)
    try:
        learn(dp, 10, HOST10, "10.10.0.5")
        learn(dp, 20, HOST20, "10.20.0.5")
        start(dp, interface="a.10", count=2)
        to20 = tagged(10, HOST10, IP(src="10.10.0.5", dst="10.20.0.5") / UDP())
        to10 = tagged(20, HOST20, IP(src="10.20.0.5", dst="10.10.0.5") / UDP())
        forward(dp, [to10, to20, to10], port="a")
        [p] = traced(dp)
        assert p["summary"].startswith("vlan 10 10.10.0.5 > 10.20.0.5 UDP")
        out = step(p, "output")
        assert (out["interface"], out["vlan"], out["dst_mac"]) == ("a", 20, HOST20)
        assert out["text"] == f"a: {ROUTER_MAC['a']} > {HOST20} vlan 20"
    finally:
        next(steps, None)
