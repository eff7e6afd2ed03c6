"""Neighbour discovery (RFC 4861) through ring ports: what a host on the link sees."""
import time

from scapy.layers.inet import UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6)
from scapy.layers.l2 import Ether

from tests.native.conftest import (HOST_IP6, HOST_LL, HOST_MAC, ROUTER_IP6, ROUTER_LL,
                                   ROUTER_MAC, forward, introduce6, solicit, to_router6)


def neighbor(dp, ip):
    return next((n for n in dp.neighbors() if n["ip"] == ip), None)


def checksum_ok(pkt) -> bool:
    """scapy recomputes a deleted checksum: it must be the one that came."""
    fresh = IPv6(bytes(pkt[IPv6]))
    layer = fresh[IPv6].payload
    sent = layer.cksum
    del layer.cksum
    return IPv6(bytes(fresh))[IPv6].payload.cksum == sent


def advert(port, target, mac=None, solicited=True, override=True, dst=None) -> Ether:
    mac = mac or HOST_MAC[port]
    return Ether(src=mac, dst=ROUTER_MAC[port]) / IPv6(
        src=target, dst=dst or ROUTER_IP6[port], hlim=255) / ICMPv6ND_NA(
        tgt=target, R=0, S=int(solicited), O=int(override)) / ICMPv6NDOptDstLLAddr(lladdr=mac)


def test_solicitation_for_our_address_is_answered_and_the_asker_learned(lan6_router):
    out = forward(lan6_router, [solicit("a", ROUTER_IP6["a"])], port="a")
    (na,) = out["a"]
    assert (na[Ether].src, na[Ether].dst) == (ROUTER_MAC["a"], HOST_MAC["a"])
    assert (na[IPv6].src, na[IPv6].dst, na[IPv6].hlim) == (ROUTER_IP6["a"], HOST_IP6["a"], 255)
    adv = na[ICMPv6ND_NA]
    assert (adv.tgt, adv.R, adv.S, adv.O, adv.code) == (ROUTER_IP6["a"], 1, 1, 1, 0)
    assert na[ICMPv6NDOptDstLLAddr].lladdr == ROUTER_MAC["a"] and checksum_ok(na)
    n = neighbor(lan6_router, HOST_IP6["a"])
    assert (n["mac"], n["state"], n["port"]) == (HOST_MAC["a"], "stale", "a")
    assert lan6_router.stats()["slowpath"]["nd_solicits_in"] == 1


def test_solicitation_for_our_link_local_address_is_answered_from_it(lan6_router):
    out = forward(lan6_router, [solicit("b", ROUTER_LL["b"], src=HOST_LL["b"])], port="b")
    (na,) = out["b"]
    assert (na[IPv6].src, na[IPv6].dst) == (ROUTER_LL["b"], HOST_LL["b"])
    assert na[ICMPv6ND_NA].tgt == ROUTER_LL["b"] and checksum_ok(na)
    assert neighbor(lan6_router, HOST_LL["b"])["mac"] == HOST_MAC["b"]


def test_solicitations_not_for_us_or_invalid_are_not_answered(lan6_router):
    frames = [solicit("a", ROUTER_IP6["b"]),         # ours, but another port's (same group)
              solicit("a", ROUTER_IP6["a"], hlim=64),  # not from the link (RFC 4861 7.1.1)
              solicit("a", "2001:db8:a::99"),       # a group we are not in
              solicit("a", ROUTER_LL["b"])]          # another port's link-local: its group too
    out = forward(lan6_router, frames, port="a")
    assert not any(out.values())
    assert lan6_router.neighbors() == []
    assert lan6_router.stats()["slowpath"]["nd_ignored"] == 2
    assert lan6_router.stats()["drops"]["multicast_destination"] == 2


def test_duplicate_address_detection_for_our_address_is_defended(lan6_router):
    dad = solicit("a", ROUTER_IP6["a"], src="::")
    del dad[ICMPv6NDOptSrcLLAddr]
    (na,) = forward(lan6_router, [Ether(bytes(dad))], port="a")["a"]
    assert (na[Ether].dst, na[IPv6].dst) == ("33:33:00:00:00:01", "ff02::1")
    assert (na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O, na[ICMPv6ND_NA].tgt) == (0, 1, ROUTER_IP6["a"])
    assert lan6_router.neighbors() == []


def test_unsolicited_advertisement_when_an_address_is_added(lan6_router):
    lan6_router.address_add("a", "2001:db8:aa::1/64")
    lan6_router.quiesce()
    (na,) = [Ether(f) for f in lan6_router.drain("a")]
    assert (na[Ether].dst, na[IPv6].src, na[IPv6].dst) == ("33:33:00:00:00:01", "2001:db8:aa::1",
                                                          "ff02::1")
    assert (na[ICMPv6ND_NA].S, na[ICMPv6ND_NA].O, na[ICMPv6ND_NA].R) == (0, 1, 1)
    assert na[ICMPv6NDOptDstLLAddr].lladdr == ROUTER_MAC["a"] and checksum_ok(na)


def test_unresolved_host_packets_are_held_then_released_in_order(lan6_router):
    frames = [to_router6("a", HOST_IP6["b"]) / UDP(sport=1000 + i) / b"x" for i in range(5)]
    out = forward(lan6_router, frames, port="a")
    (ns,) = out["b"]  # one solicitation, the packets wait for its answer
    assert (ns[Ether].src, ns[Ether].dst) == (ROUTER_MAC["b"], "33:33:ff:00:00:10")
    assert (ns[IPv6].src, ns[IPv6].dst, ns[IPv6].hlim) == (ROUTER_IP6["b"], "ff02::1:ff00:10", 255)
    assert ns[ICMPv6ND_NS].tgt == HOST_IP6["b"] and checksum_ok(ns)
    assert ns[ICMPv6NDOptSrcLLAddr].lladdr == ROUTER_MAC["b"]
    assert neighbor(lan6_router, HOST_IP6["b"])["held"] == 5

    out = forward(lan6_router, [advert("b", HOST_IP6["b"])], port="b")
    assert [p[UDP].sport for p in out["b"]] == [1000, 1001, 1002, 1003, 1004]
    assert all(p[Ether].dst == HOST_MAC["b"] and p[IPv6].hlim == 63 for p in out["b"])
    assert neighbor(lan6_router, HOST_IP6["b"])["state"] == "reachable"
    assert lan6_router.stats()["slowpath"]["nd_adverts_in"] == 1
    # From now on the fast path forwards on its own (a /128 host route): nothing is punted.
    punted = lan6_router.stats()["workers"][0]["punted"]
    out = forward(lan6_router, [to_router6("a", HOST_IP6["b"]) / UDP() / b"y"], port="a")
    assert len(out["b"]) == 1
    assert lan6_router.stats()["workers"][0]["punted"] == punted


def test_silent_neighbour_fails_and_senders_get_address_unreachable(lan6_router):
    introduce6(lan6_router, "a")
    sent = to_router6("a", HOST_IP6["b"]) / UDP() / b"z"
    out = forward(lan6_router, [sent], port="a")
    assert ICMPv6ND_NS in out["b"][0]
    deadline = time.monotonic() + 5
    while neighbor(lan6_router, HOST_IP6["b"])["state"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    lan6_router.quiesce()
    solicitations = [Ether(f) for f in lan6_router.drain("b")]
    assert len(solicitations) == 2 and all(ICMPv6ND_NS in p for p in solicitations)  # 3 in all
    (err,) = [Ether(f) for f in lan6_router.drain("a")]
    assert (err[ICMPv6DestUnreach].type, err[ICMPv6DestUnreach].code) == (1, 3)
    assert (err[IPv6].src, err[IPv6].dst) == (ROUTER_IP6["a"], HOST_IP6["a"])
    assert lan6_router.stats()["drops"]["neighbor_unreachable"] == 1


def test_advertisements_follow_the_override_rules(lan6_router):
    lan6_router.neighbor_add("b", HOST_IP6["c"], HOST_MAC["c"])  # static: never changed
    forward(lan6_router, [to_router6("a", HOST_IP6["b"]) / UDP()], port="a")
    forward(lan6_router, [advert("b", HOST_IP6["b"])], port="b")
    assert neighbor(lan6_router, HOST_IP6["b"])["state"] == "reachable"
    other = "02:00:00:00:bb:99"
    # Another MAC without override: not believed, but no longer reachable either.
    forward(lan6_router, [advert("b", HOST_IP6["b"], mac=other, solicited=False, override=False)],
            port="b")
    n = neighbor(lan6_router, HOST_IP6["b"])
    assert (n["mac"], n["state"]) == (HOST_MAC["b"], "stale")
    # With override it is taken, as STALE since nobody asked.
    forward(lan6_router, [advert("b", HOST_IP6["b"], mac=other, solicited=False)], port="b")
    n = neighbor(lan6_router, HOST_IP6["b"])
    assert (n["mac"], n["state"]) == (other, "stale")
    # Unknown targets and static entries are left alone.
    forward(lan6_router, [advert("b", "2001:db8:b::77"), advert("b", HOST_IP6["c"], mac=other)],
            port="b")
    assert neighbor(lan6_router, "2001:db8:b::77") is None
    assert neighbor(lan6_router, HOST_IP6["c"])["mac"] == HOST_MAC["c"]


def test_a_link_local_gateway_is_resolved_from_our_link_local_address(lan6_router):
    lan6_router.nexthop_set_gateway(5, "b", HOST_LL["b"])
    lan6_router.quiesce()
    (ns,) = [Ether(f) for f in lan6_router.drain("b")]  # resolved at once, not on first use
    assert (ns[IPv6].src, ns[ICMPv6ND_NS].tgt) == (ROUTER_LL["b"], HOST_LL["b"])
    lan6_router.route_add("2001:db8:99::/48", 5)
    lan6_router.route_add("198.18.0.0/15", 5)  # IPv4 through an IPv6 gateway (RFC 8950)
    forward(lan6_router, [advert("b", HOST_LL["b"], dst=ROUTER_LL["b"])], port="b")
    (hop,) = [h for h in lan6_router.nexthops() if h["id"] == 5]
    assert (hop["gateway"], hop["dst_mac"]) == (HOST_LL["b"], HOST_MAC["b"])
    out = forward(lan6_router, [to_router6("a", "2001:db8:99::5") / UDP() / b"g"], port="a")
    (fwd,) = out["b"]
    assert (fwd[Ether].dst, fwd[IPv6].dst, fwd[IPv6].hlim) == (HOST_MAC["b"], "2001:db8:99::5", 63)


def test_static_ipv6_neighbours_forward_at_once(lan6_router):
    lan6_router.neighbor_add("c", HOST_IP6["c"], HOST_MAC["c"])
    out = forward(lan6_router, [to_router6("a", HOST_IP6["c"]) / UDP() / b"s"], port="a")
    assert [p[Ether].dst for p in out["c"]] == [HOST_MAC["c"]]
    assert neighbor(lan6_router, HOST_IP6["c"])["state"] == "permanent"
