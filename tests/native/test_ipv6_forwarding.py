"""IPv6 forwarding on the fast path: real scapy frames through ring ports.

Longest-prefix match over the IPv6 table, the rewrite (MACs, hop limit - 1, nothing else
changed), and the RFC 8200 / RFC 4291 input rules as Linux applies them to forwarded
packets, each drop counted under its reason.
"""
import pytest
from scapy.layers.inet6 import IPv6, UDP
from scapy.layers.l2 import Ether

from tests.native.conftest import HOST_MAC, NEXTHOP, ROUTER_MAC, forward


def udp6(dst="2001:db8:b::10", src="2001:db8:a::10", hlim=64, payload=b"x" * 18):
    return Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IPv6(src=src, dst=dst, hlim=hlim) / UDP(
        sport=1234, dport=5678) / payload


def test_routes_by_longest_prefix_and_rewrites_only_macs_and_hop_limit(router):
    router.route_add("2001:db8::/32", NEXTHOP["c"])
    router.route_add("2001:db8:b::/48", NEXTHOP["b"])
    router.route_add("2001:db8:b::77/128", NEXTHOP["c"])
    sent = [udp6("2001:db8:b::10"), udp6("2001:db8:c::10"), udp6("2001:db8:b::77"),
            udp6("2001:db9::1")]
    out = forward(router, sent)
    assert [bytes(p[IPv6].payload) for p in out["b"]] == [bytes(sent[0][IPv6].payload)]
    assert [p[IPv6].dst for p in out["c"]] == ["2001:db8:c::10", "2001:db8:b::77"]
    got, want = out["b"][0], sent[0]
    assert (got.src, got.dst) == (ROUTER_MAC["b"], HOST_MAC["b"])
    assert got[IPv6].hlim == 63
    assert bytes(got[IPv6])[8:] == bytes(want[IPv6])[8:] and bytes(got[IPv6])[:7] == bytes(want[IPv6])[:7]
    assert router.stats()["drops"]["no_route"] == 1
    assert router.route_lookup("2001:db8:b::77") == NEXTHOP["c"]
    assert router.stats()["tbl8_groups6_in_use"] == 13  # /32: 1, /48: +2, /128: +10
    assert [str(p) for p, _ in router.routes()] == ["2001:db8::/32", "2001:db8:b::/48",
                                                   "2001:db8:b::77/128"]


def test_a_default_route_and_deletes_fall_back(router):
    router.route_add("::/0", NEXTHOP["c"])
    router.route_add("2001:db8::/32", NEXTHOP["b"])
    assert [len(forward(router, [udp6("2001:db8::1")])[p]) for p in ("b", "c")] == [1, 0]
    router.route_delete("2001:db8::/32")
    assert [len(forward(router, [udp6("2001:db8::1")])[p]) for p in ("b", "c")] == [0, 1]


@pytest.mark.parametrize("frame, reason", [
    (udp6(hlim=1), "ttl_expired"),
    (udp6(hlim=0), "ttl_expired"),
    (udp6(dst="ff0e::1"), "multicast_destination"),
    (udp6(dst="ff02::9"), "multicast_destination"),  # link scope, but not a group we are in
    (udp6(src="ff02::1"), "martian_source"),
    (udp6(src="::"), "martian_source"),
    (udp6(src="::1"), "martian_source"),
    (udp6(src="::ffff:192.0.2.1"), "martian_source"),
    (udp6(dst="::1"), "martian_destination"),
    (udp6(dst="::ffff:10.0.0.1"), "martian_destination"),
    (udp6(src="fe80::1"), "link_local"),
    (udp6(dst="fe80::1"), "link_local"),
    (Ether(bytes(udp6())[:14 + 39]), "malformed"),  # a truncated header
])
def test_input_rules_drop_and_count(router, frame, reason):
    router.route_add("::/0", NEXTHOP["b"])
    out = forward(router, [frame])
    assert out["b"] == [] and out["c"] == []  # (an error may go back to a link-local sender)
    assert router.stats()["drops"][reason] == 1


def test_a_payload_length_beyond_the_frame_is_malformed_and_a_padded_frame_is_forwarded(router):
    router.route_add("2001:db8::/32", NEXTHOP["b"])
    longer = udp6()
    longer[IPv6].plen = 200
    padded = Ether(bytes(udp6()) + b"\0" * 30)  # Ethernet padding after the packet
    out = forward(router, [longer, padded])
    assert router.stats()["drops"]["malformed"] == 1 and len(out["b"]) == 1


def test_ipv6_in_a_frame_for_another_mac_or_a_group_is_not_routed(router):
    router.route_add("::/0", NEXTHOP["b"])
    forward(router, [Ether(src=HOST_MAC["a"], dst="02:00:00:00:99:99") / IPv6(dst="2001:db8::1"),
                     Ether(src=HOST_MAC["a"], dst="33:33:00:00:00:01") / IPv6(dst="2001:db8::1"),
                     Ether(src=HOST_MAC["a"], dst="33:33:00:00:00:16") / IPv6(dst="ff02::16")])
    drops = router.stats()["drops"]
    assert (drops["other_host"], drops["link_broadcast"]) == (1, 2)


def test_over_the_egress_mtu_is_dropped_and_never_fragmented():
    from tests.native.conftest import checked, open_router
    for dp in checked(open_router(mtus={"b": 1280})):
        dp.route_add("2001:db8::/32", NEXTHOP["b"])
        out = forward(dp, [udp6(payload=b"x" * 1300), udp6(payload=b"x" * 1000)])
        assert len(out["b"]) == 1 and dp.stats()["drops"]["fragmentation_needed"] == 1


def test_exact_match_rules_override_the_lookup_for_ipv6(router):
    router.route_add("2001:db8::/32", NEXTHOP["b"])
    router.rule_add("udp", "2001:db8:a::10", 1234, "2001:db8:b::10", 5678, "drop")
    router.rule_add("udp", "2001:db8:a::11", 1234, "2001:db8:b::10", 5678, "forward", NEXTHOP["c"])
    out = forward(router, [udp6(), udp6(src="2001:db8:a::11"), udp6(src="2001:db8:a::12")])
    assert [p[IPv6].src for p in out["b"]] == ["2001:db8:a::12"]
    assert [p[IPv6].src for p in out["c"]] == ["2001:db8:a::11"]
    assert router.stats()["drops"]["rule_drop"] == 1
    listed = {(r["src"], r["action"]) for r in router.rules()}
    assert listed == {("2001:db8:a::10", "drop"), ("2001:db8:a::11", "forward")}
    router.rule_delete("udp", "2001:db8:a::10", 1234, "2001:db8:b::10", 5678)
    assert len(forward(router, [udp6()])["b"]) == 1


def test_a_rule_mixing_families_is_refused(router):
    from appliance.errors import RuleError
    with pytest.raises(RuleError, match="different families"):
        router.rule_add("udp", "10.0.0.1", 1, "2001:db8::1", 2, "drop")
    assert router.rules() == []
