"""RFC 1812 5.3 input rules: what a router must never forward, each under its own reason."""
import pytest
from scapy.layers.inet import ICMP, UDP
from scapy.layers.l2 import Ether

from tests.native.conftest import HOST_IP, HOST_MAC, ROUTER_IP, forward, introduce, to_router


@pytest.fixture
def routed(lan_router):
    """Everything is routable to host b (a default route and a resolved neighbour)."""
    lan_router.neighbor_add("b", HOST_IP["b"], HOST_MAC["b"])
    lan_router.nexthop_set(1, "b", HOST_MAC["b"])
    lan_router.route_add("0.0.0.0/0", 1)
    return lan_router


@pytest.mark.parametrize("dst_mac, reason", [
    ("02:00:00:00:99:99", "other_host"),           # unicast to someone else
    ("ff:ff:ff:ff:ff:ff", "link_broadcast"),
    ("01:00:5e:00:00:05", "link_broadcast"),       # link-layer multicast
])
def test_frames_not_for_our_mac_are_not_routed(routed, dst_mac, reason):
    frame = to_router("a", "10.1.2.3") / UDP()
    frame[Ether].dst = dst_mac
    out = forward(routed, [frame], port="a")
    assert not out["b"] and routed.stats()["drops"][reason] == 1


@pytest.mark.parametrize("src", ["0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "240.0.0.1",
                                 "255.255.255.255"])
def test_martian_sources_are_not_forwarded(routed, src):
    out = forward(routed, [to_router("a", "10.1.2.3", src=src) / UDP()], port="a")
    assert not out["b"] and not out["a"] and routed.stats()["drops"]["martian_source"] == 1


@pytest.mark.parametrize("dst, reason", [
    ("0.1.2.3", "martian_destination"), ("127.0.0.1", "martian_destination"),
    ("240.1.2.3", "martian_destination"), ("255.255.255.255", "martian_destination"),
    ("192.0.2.255", "martian_destination"),   # the subnet broadcast of port a (directed)
    ("224.0.0.5", "multicast_destination"), ("239.1.1.1", "multicast_destination"),
])
def test_reserved_destinations_are_not_forwarded_despite_a_default_route(routed, dst, reason):
    out = forward(routed, [to_router("a", dst) / UDP()], port="a")
    assert not out["b"] and not out["a"] and routed.stats()["drops"][reason] == 1


def test_packets_for_us_that_nothing_answers_are_counted_local_unhandled(routed):
    introduce(routed, "a")
    out = forward(routed, [to_router("a", ROUTER_IP["c"]) / UDP(dport=179)], port="a")
    assert not any(out.values()) and routed.stats()["drops"]["local_unhandled"] == 1


def test_ping_to_us_with_ttl_1_is_answered_not_expired(routed):
    introduce(routed, "a")
    out = forward(routed, [to_router("a", ROUTER_IP["a"], ttl=1) / ICMP()], port="a")
    assert out["a"][0][ICMP].type == 0 and routed.stats()["drops"]["ttl_expired"] == 0


def test_a_host_on_the_wrong_subnet_is_not_learned_nor_answered(routed):
    from tests.native.conftest import arp_request
    out = forward(routed, [arp_request("a", ROUTER_IP["a"], sender="10.77.0.5")], port="a")
    # Answered (the address is ours) but not learned: 10.77.0.5 is not on-link.
    assert len(out["a"]) == 1
    assert all(n["ip"] != "10.77.0.5" for n in routed.neighbors())


def test_user_routes_cannot_take_reserved_or_connected_prefixes(routed):
    from appliance.errors import RouteError
    for prefix in ("127.0.0.0/8", "224.1.0.0/16", "240.0.0.0/4", "192.0.2.0/24", "192.0.2.1/32"):
        with pytest.raises(RouteError):
            routed.route_add(prefix, 1)
    with pytest.raises(RouteError, match="port address"):
        routed.route_delete("192.0.2.0/24")
