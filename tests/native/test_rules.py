"""Exact-match 5-tuple rules override the LPM, both ways, and go away cleanly."""
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from appliance.errors import NextHopError, RuleError
from tests.native.conftest import NEXTHOP, ROUTER_MAC, forward, udp


def test_forward_rule_overrides_lpm_for_its_flow_only(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    router.rule_add("udp", "192.0.2.1", 1234, "10.1.2.3", 5678, "forward", NEXTHOP["c"])
    out = forward(router, [udp(dst="10.1.2.3"), udp(dst="10.1.2.3", sport=9999)])
    assert [p[UDP].sport for p in out["c"]] == [1234]
    assert [p[UDP].sport for p in out["b"]] == [9999]
    assert out["c"][0][IP].ttl == 63


def test_drop_rule_drops_and_counts(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    router.rule_add("udp", "192.0.2.1", 1234, "10.1.2.3", 5678, "drop")
    out = forward(router, [udp(dst="10.1.2.3"), udp(dst="10.1.2.4")])
    assert [p[IP].dst for p in out["b"]] == ["10.1.2.4"]
    assert router.stats()["drops"]["rule_drop"] == 1


def test_rule_routes_packets_that_have_no_lpm_route(router):
    router.rule_add("tcp", "192.0.2.1", 40000, "198.51.100.7", 443, "forward", NEXTHOP["b"])
    frame = Ether(dst=ROUTER_MAC["a"]) / IP(src="192.0.2.1", dst="198.51.100.7") / TCP(sport=40000, dport=443)
    assert len(forward(router, [frame])["b"]) == 1


def test_rule_without_ports_matches_icmp(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    router.rule_add("icmp", "192.0.2.1", 0, "10.0.0.1", 0, "drop")
    frame = Ether(dst=ROUTER_MAC["a"]) / IP(src="192.0.2.1", dst="10.0.0.1") / ICMP()
    assert not forward(router, [frame])["b"]
    assert router.stats()["drops"]["rule_drop"] == 1


def test_rule_replace_and_delete_take_effect(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    tuple5 = ("udp", "192.0.2.1", 1234, "10.1.2.3", 5678)
    router.rule_add(*tuple5, "forward", NEXTHOP["c"])
    router.rule_add(*tuple5, "forward", NEXTHOP["a"])
    assert len(router.rules()) == 1 and router.rules()[0]["nexthop"] == NEXTHOP["a"]
    assert len(forward(router, [udp(dst="10.1.2.3")])["a"]) == 1
    router.rule_delete(*tuple5)
    assert router.rules() == []
    assert len(forward(router, [udp(dst="10.1.2.3")])["b"]) == 1


def test_rule_listing_reads_back_what_was_added(router):
    router.rule_add(6, "192.0.2.1", 1, "10.0.0.1", 2, "forward", NEXTHOP["b"])
    assert router.rules() == [{"proto": 6, "src": "192.0.2.1", "src_port": 1, "dst": "10.0.0.1",
                               "dst_port": 2, "action": "forward", "nexthop": NEXTHOP["b"]}]


@pytest.mark.parametrize("args, message", [
    (("udp", "192.0.2.300", 1, "10.0.0.1", 2, "drop"), "192.0.2.300' is not an IPv4 address"),
    (("udp", "192.0.2.1", 70000, "10.0.0.1", 2, "drop"), "L4 ports must be 0..65535"),
    (("sctpx", "192.0.2.1", 1, "10.0.0.1", 2, "drop"), "protocol 'sctpx'"),
    ((300, "192.0.2.1", 1, "10.0.0.1", 2, "drop"), "protocol 300"),
    (("udp", "192.0.2.1", 1, "10.0.0.1", 2, "reject"), "action 'reject'"),
    (("udp", "192.0.2.1", 1, "10.0.0.1", 2, "forward"), "needs a nexthop"),
])
def test_bad_rules_are_refused_with_the_reason(router, args, message):
    with pytest.raises(RuleError, match=message):
        router.rule_add(*args)
    assert router.rules() == []


def test_rule_to_unset_nexthop_is_refused(router):
    with pytest.raises(NextHopError, match="next hop 9 is not set"):
        router.rule_add("udp", "192.0.2.1", 1, "10.0.0.1", 2, "forward", 9)


def test_deleting_an_absent_rule_says_so(router):
    with pytest.raises(RuleError, match="no such rule"):
        router.rule_delete("udp", "192.0.2.1", 1, "10.0.0.1", 2)


def _rule_udp(i: int, dport: int = 5678):
    """Rule i's flow: its own source address, one destination for all."""
    return ("udp", f"192.0.{2 + i // 250}.{1 + i % 250}", 1234, "10.1.2.3", dport)


def _sent_to(router, flows) -> list[str]:
    """Where each flow's packet went ('drop' if nowhere), by the source it carried."""
    out = {}
    for start in range(0, len(flows), 256):
        chunk = flows[start:start + 256]
        frames = [udp(src=f[1], sport=f[2], dst=f[3], dport=f[4]) for f in chunk]
        for port, pkts in forward(router, frames).items():
            for p in pkts:
                out[(p[IP].src, p[UDP].dport)] = port
    return [out.get((f[1], f[4]), "drop") for f in flows]


def test_a_full_rule_table_matches_every_rule_and_only_them(router):
    # 1024 rules fill the test table (and its filter); a packet of each rule's
    # flow takes the rule, the same pair on another port takes the route.
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    rules = [_rule_udp(i) for i in range(1024)]
    for r in rules:
        router.rule_add(*r, "forward", NEXTHOP["c"])
    assert set(_sent_to(router, rules)) == {"c"}
    others = [r[:4] + (5679,) for r in rules]
    assert set(_sent_to(router, others)) == {"b"}


def test_deleted_rules_stop_matching_and_their_neighbours_keep_matching(router):
    # Two rules share each address pair (ports differ): deleting one must not
    # hide the other from the lookup, and the deleted one must stop matching.
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    kept = [_rule_udp(i, 5678) for i in range(400)]
    deleted = [_rule_udp(i, 5679) for i in range(400)]
    for r in kept + deleted:
        router.rule_add(*r, "drop")
    for r in deleted:
        router.rule_delete(*r)
    assert set(_sent_to(router, kept)) == {"drop"}
    assert router.stats()["drops"]["rule_drop"] == 400
    assert set(_sent_to(router, deleted)) == {"b"}
    for r in kept:
        router.rule_delete(*r)
    assert set(_sent_to(router, kept)) == {"b"}
