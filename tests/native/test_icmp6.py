"""ICMPv6 (RFC 4443) through ring ports, field by field, and the routes the router owns."""
import time

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6PacketTooBig, ICMPv6TimeExceeded, IPv6, IPv6ExtHdrDestOpt,
                                IPv6ExtHdrHopByHop)
from scapy.layers.l2 import Ether

from appliance import SlowPathSettings
from appliance.errors import AddressError, RouteError
from tests.native.conftest import (HOST_IP6, HOST_LL, HOST_MAC, PORTS, ROUTER_IP6, ROUTER_LL,
                                   ROUTER_MAC, checked, forward, introduce6, make_dataplane,
                                   to_router6)
from tests.native.test_ndp import advert, checksum_ok


def quoted(err) -> bytes:
    """What an ICMPv6 error carries of the offending packet, as it came."""
    return bytes(err[IPv6].payload)[8:]


def test_echo_to_each_of_our_addresses_is_answered(lan6_router):
    introduce6(lan6_router, "a")
    for dst in [ROUTER_IP6[p] for p in PORTS]:  # the other ports' addresses too
        req = to_router6("a", dst, hlim=1, tc=0x28, fl=0x12345) / ICMPv6EchoRequest(
            id=77, seq=3, data=b"ping-data")
        (rep,) = forward(lan6_router, [req], port="a")["a"]
        assert (rep[Ether].src, rep[Ether].dst) == (ROUTER_MAC["a"], HOST_MAC["a"])
        assert (rep[IPv6].src, rep[IPv6].dst, rep[IPv6].hlim) == (dst, HOST_IP6["a"], 64)
        assert (rep[IPv6].tc, rep[IPv6].fl) == (0x28, 0x12345)
        echo = rep[ICMPv6EchoReply]
        assert (echo.type, echo.code, echo.id, echo.seq, echo.data) == (129, 0, 77, 3, b"ping-data")
        assert checksum_ok(rep)
    assert lan6_router.stats()["slowpath"]["icmp_echo_replies"] == 3


def test_echo_to_our_link_local_address_and_to_all_nodes(lan6_router):
    # No solicitation first: the reply waits for NDP on the link it came from.
    req = to_router6("b", ROUTER_LL["b"], src=HOST_LL["b"]) / ICMPv6EchoRequest(id=1, seq=1)
    all_nodes = Ether(src=HOST_MAC["b"], dst="33:33:00:00:00:01") / IPv6(
        src=HOST_LL["b"], dst="ff02::1") / ICMPv6EchoRequest(id=1, seq=2)
    out = forward(lan6_router, [req, all_nodes], port="b")
    assert [p[IPv6].dst for p in out["b"]] == ["ff02::1:ff0b:10"]  # NS for fe80::b:10
    out = forward(lan6_router, [advert("b", HOST_LL["b"], dst=ROUTER_LL["b"])], port="b")
    replies = [p for p in out["b"] if ICMPv6EchoReply in p]
    # (Order within one burst: group frames reach the slow path first.)
    assert sorted((p[IPv6].src, p[IPv6].dst, p[ICMPv6EchoReply].seq) for p in replies) == [
        (ROUTER_LL["b"], HOST_LL["b"], 1), (ROUTER_LL["b"], HOST_LL["b"], 2)]
    assert all(p[Ether].dst == HOST_MAC["b"] and checksum_ok(p) for p in replies)


def test_hop_limit_exceeded_in_transit_gets_time_exceeded_from_the_ingress_address(lan6_router):
    introduce6(lan6_router, "a")
    lan6_router.neighbor_add("b", HOST_IP6["b"], HOST_MAC["b"])
    bad = to_router6("a", HOST_IP6["b"], hlim=1) / UDP(sport=33434, dport=33435) / b"probe"
    out = forward(lan6_router, [bad], port="a")
    (err,) = out["a"]
    assert (err[ICMPv6TimeExceeded].type, err[ICMPv6TimeExceeded].code) == (3, 0)
    assert (err[IPv6].src, err[IPv6].dst, err[IPv6].hlim) == (ROUTER_IP6["a"], HOST_IP6["a"], 64)
    assert quoted(err) == bytes(bad[IPv6]) and checksum_ok(err)
    assert not out["b"] and lan6_router.stats()["drops"]["ttl_expired"] == 1


def test_no_route_gets_destination_unreachable_code_0(lan6_router):
    introduce6(lan6_router, "a")
    bad = to_router6("a", "2001:db8:ffff::1") / UDP() / (b"q" * 1400)
    (err,) = forward(lan6_router, [bad], port="a")["a"]
    assert (err[ICMPv6DestUnreach].type, err[ICMPv6DestUnreach].code) == (1, 0)
    # As much of the packet as fits in the minimum MTU, 1280 bytes in all.
    assert len(err[IPv6]) == 1280 and quoted(err) == bytes(bad[IPv6])[:1280 - 48]
    assert checksum_ok(err) and lan6_router.stats()["drops"]["no_route"] == 1


def test_over_the_egress_mtu_gets_packet_too_big_with_the_mtu():
    for dp in checked(make_dataplane(slowpath=SlowPathSettings(icmp_rate=0), mtus={"b": 1400})):
        dp.start()
        for port in ("a", "b"):
            dp.address_add(port, f"{ROUTER_IP6[port]}/64")
            dp.neighbor_add(port, HOST_IP6[port], HOST_MAC[port])
        dp.quiesce()
        for port in PORTS:
            dp.drain(port)
        big = to_router6("a", HOST_IP6["b"]) / UDP() / (b"x" * 1400)  # 1448 bytes of IPv6
        fits = to_router6("a", HOST_IP6["b"]) / UDP() / (b"x" * 1352)  # exactly 1400
        out = forward(dp, [big, fits], port="a")
        assert [len(p[IPv6]) for p in out["b"]] == [1400]
        (err,) = out["a"]
        assert (err[ICMPv6PacketTooBig].type, err[ICMPv6PacketTooBig].mtu) == (2, 1400)
        assert (err[IPv6].src, err[IPv6].dst) == (ROUTER_IP6["a"], HOST_IP6["a"])
        assert checksum_ok(err) and dp.stats()["drops"]["fragmentation_needed"] == 1


def test_link_local_source_leaving_its_link_gets_beyond_scope(lan6_router):
    lan6_router.neighbor_add("a", HOST_LL["a"], HOST_MAC["a"])
    lan6_router.neighbor_add("b", HOST_IP6["b"], HOST_MAC["b"])
    bad = to_router6("a", HOST_IP6["b"], src=HOST_LL["a"]) / UDP() / b"scoped"
    out = forward(lan6_router, [bad], port="a")
    (err,) = out["a"]
    assert (err[ICMPv6DestUnreach].code, err[IPv6].src, err[IPv6].dst) == (2, ROUTER_LL["a"],
                                                                          HOST_LL["a"])
    assert not out["b"] and lan6_router.stats()["drops"]["link_local"] == 1


def test_no_errors_about_errors_or_to_groups(lan6_router):
    introduce6(lan6_router, "a")
    frames = [
        to_router6("a", "2001:db8:ffff::1") / ICMPv6DestUnreach() / IPv6(dst="2001:db8::9") / UDP(),
        to_router6("a", "2001:db8:ffff::1") / ICMPv6TimeExceeded() / IPv6() / UDP(),
        to_router6("a", "2001:db8:ffff::1", src="fe80::a:99") / ICMPv6PacketTooBig() / IPv6(),
        # Behind extension headers it is still an error (Linux: ipv6_skip_exthdr).
        to_router6("a", "2001:db8:ffff::1") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
        ICMPv6DestUnreach() / IPv6() / UDP(),
    ]
    out = forward(lan6_router, frames, port="a")
    assert not out["a"] and lan6_router.stats()["drops"]["no_route"] == 4
    # An informational message behind the same headers does get its error.
    info = to_router6("a", "2001:db8:ffff::1") / IPv6ExtHdrDestOpt() / ICMPv6EchoRequest()
    (err,) = forward(lan6_router, [info], port="a")["a"]
    assert err[ICMPv6DestUnreach].code == 0


def test_icmpv6_errors_share_the_rate_limit():
    for dp in checked(make_dataplane(slowpath=SlowPathSettings(icmp_rate=10, icmp_burst=5))):
        dp.start()
        dp.address_add("a", f"{ROUTER_IP6['a']}/64")
        dp.neighbor_add("a", HOST_IP6["a"], HOST_MAC["a"])
        dp.quiesce()
        dp.drain("a")
        frames = [to_router6("a", "2001:db8:ffff::1") / UDP(sport=i) for i in range(200)]
        start = time.monotonic()
        sent = len(forward(dp, frames, port="a")["a"])
        elapsed = time.monotonic() - start
        assert 5 <= sent <= 5 + 10 * elapsed + 1, (sent, elapsed)
        assert dp.stats()["drops"]["no_route"] == 200


@pytest.mark.parametrize("prefix, why", [
    ("fe80::/64", "link-local"), ("ff02::/16", "multicast"), ("::1/128", "loopback"),
    ("::ffff:10.0.0.0/104", "IPv4-mapped"), ("2001:db8:a::/64", "connected"),
    ("2001:db8:a::1/128", "connected, local"),
])
def test_user_routes_may_not_take_what_the_router_owns(lan6_router, prefix, why):
    with pytest.raises(RouteError, match=why):
        lan6_router.route_add(prefix, 1)
    if why.startswith("connected"):
        with pytest.raises(RouteError, match="not a user route"):
            lan6_router.route_delete(prefix)
    assert lan6_router.routes() == []


@pytest.mark.parametrize("address, why", [
    ("ff02::1/64", "not a unicast"), ("2001:db8:9::/64", "subnet-router anycast"),
    ("2001:db8:a::1/64", "already an address"), ("2001:db8:a::7/64", "already connected"),
    ("::1/128", "not a unicast"), ("2001:db8:9::1/129", "1..128"),
])
def test_bad_ipv6_addresses_are_refused(lan6_router, address, why):
    port = "b" if why == "already connected" else "a"
    with pytest.raises(AddressError, match=why):
        lan6_router.address_add(port, address)


def test_the_automatic_link_local_address_is_listed_and_kept(lan6_router):
    listed = {(a["port"], a["address"]) for a in lan6_router.addresses() if a["automatic"]}
    assert listed == {(p, f"{ROUTER_LL[p]}/64") for p in PORTS}
    with pytest.raises(AddressError, match="cannot be deleted"):
        lan6_router.address_delete("a", f"{ROUTER_LL['a']}/64")
    lan6_router.address_add("a", "fe80::1/64")  # a configured one beside it, as routing daemons use
    lan6_router.address_delete("a", "fe80::1/64")
