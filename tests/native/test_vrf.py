"""VRFs on ring ports: a (VRF red) and b (VRF blue) both carry 10.0.0.1/24, c (the global
VRF) a shared-services subnet. Each VRF looks up in its own tables; a route leaks into
another VRF by its next hop's interface."""
import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.errors import AddressError, PortError, RouteError
from tests.native.conftest import EAL, FAST_TIMERS, HOST_MAC, PORTS, ROUTER_MAC, checked, forward

VRF = {"a": "red", "b": "blue", "c": "default"}
SHARED = "192.0.2.10"  # the shared-services host behind c
TO_SHARED, TO_RED_HOST, TO_BLUE_HOST = 1, 2, 3  # next hops: c's host, a's host, b's host


def open_vrf_router() -> Dataplane:
    ports = [PortConfig(name, "ring", mac=ROUTER_MAC[name], vrf=VRF[name]) for name in PORTS]
    dp = Dataplane(DataplaneConfig(ports=ports, vrfs=["red", "blue"], eal=EAL, slowpath=FAST_TIMERS,
                                   tables=TableSizes(max_routes=4096, tbl8_groups=256,
                                                     max_nexthops=64, max_rules=1024)))
    dp.start()
    dp.address_add("a", "10.0.0.1/24")
    dp.address_add("b", "10.0.0.1/24")  # the same subnet and address: another VRF
    dp.address_add("c", "192.0.2.1/24")
    dp.nexthop_set(TO_SHARED, "c", HOST_MAC["c"])
    dp.nexthop_set(TO_RED_HOST, "a", HOST_MAC["a"])
    dp.nexthop_set(TO_BLUE_HOST, "b", HOST_MAC["b"])
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)
    return dp


@pytest.fixture
def vrfs():
    yield from checked(open_vrf_router())


def from_host(port: str, src: str, dst: str, payload) -> Ether:
    return Ether(src=HOST_MAC[port], dst=ROUTER_MAC[port]) / IP(src=src, dst=dst) / payload


def learn(dp: Dataplane, port: str, ip: str) -> None:
    """The host asks for the router by ARP: answered on its own link, and learned."""
    out = forward(dp, [Ether(src=HOST_MAC[port], dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=HOST_MAC[port], psrc=ip, pdst="10.0.0.1")], port=port)
    assert [f[ARP].hwsrc for f in out[port]] == [ROUTER_MAC[port]]
    assert not any(out[p] for p in PORTS if p != port)


def test_one_address_in_two_vrfs_answers_on_each_link(vrfs):
    for port in ("a", "b"):
        learn(vrfs, port, "10.0.0.5")
        out = forward(vrfs, [from_host(port, "10.0.0.5", "10.0.0.1", ICMP(id=7))], port=port)
        assert len(out[port]) == 1 and out[port][0][ICMP].type == 0
        assert out[port][0][IP].src == "10.0.0.1" and out[port][0].dst == HOST_MAC[port]
        assert not out["c"] and not out["a" if port == "b" else "b"]


def test_each_vrf_routes_by_its_own_table(vrfs):
    # The same prefix in two VRFs, to two places; the global VRF has neither.
    vrfs.route_add("198.51.100.0/24", TO_SHARED, "red")
    vrfs.route_add("198.51.100.0/24", TO_RED_HOST, "blue")
    assert vrfs.route_lookup("198.51.100.7", "red") == TO_SHARED
    assert vrfs.route_lookup("198.51.100.7", "blue") == TO_RED_HOST
    assert vrfs.route_lookup("198.51.100.7") is None
    assert [str(p) for p, _ in vrfs.routes("red")] == ["198.51.100.0/24"]
    assert vrfs.routes() == []
    sent = from_host("a", "10.0.0.5", "198.51.100.7", UDP() / (b"x" * 30))
    out = forward(vrfs, [sent], port="a")
    assert len(out["c"]) == 1 and out["c"][0].dst == HOST_MAC["c"] and out["c"][0][IP].ttl == 63
    vrfs.route_delete("198.51.100.0/24", "red")
    assert vrfs.route_lookup("198.51.100.7", "red") is None
    assert vrfs.route_lookup("198.51.100.7", "blue") == TO_RED_HOST


def test_no_route_in_the_vrf_is_net_unreachable_from_its_interface(vrfs):
    vrfs.route_add("198.51.100.0/24", TO_SHARED, "red")  # red's, not blue's
    learn(vrfs, "b", "10.0.0.5")
    out = forward(vrfs, [from_host("b", "10.0.0.5", "198.51.100.7", UDP() / (b"x" * 30))], port="b")
    assert not out["c"] and len(out["b"]) == 1
    error = out["b"][0]
    assert (error[ICMP].type, error[ICMP].code) == (3, 0) and error[IP].src == "10.0.0.1"


def test_a_leaked_route_reaches_the_shared_host_from_both_vrfs_and_back(vrfs):
    for vrf in ("red", "blue"):
        vrfs.route_add(f"{SHARED}/32", TO_SHARED, vrf)  # a next hop in the global VRF
    # Back: the global VRF has a host route to each VRF's client (their subnets overlap).
    vrfs.route_add("10.0.0.5/32", TO_RED_HOST)
    vrfs.route_add("10.0.0.6/32", TO_BLUE_HOST)
    for port, client in (("a", "10.0.0.5"), ("b", "10.0.0.6")):
        out = forward(vrfs, [from_host(port, client, SHARED, UDP(dport=53) / b"q")], port=port)
        assert len(out["c"]) == 1 and out["c"][0][IP].src == client
        reply = Ether(src=HOST_MAC["c"], dst=ROUTER_MAC["c"]) / IP(src=SHARED, dst=client) / UDP(
            sport=53) / b"a"
        back = forward(vrfs, [reply], port="c")
        assert len(back[port]) == 1 and back[port][0].dst == HOST_MAC[port]
        assert back[port][0][IP].dst == client
    # The global VRF does not see red's routes, nor red the global one's.
    assert vrfs.route_lookup("10.0.0.5", "red") != TO_RED_HOST  # red's connected route
    assert vrfs.route_lookup(SHARED) != TO_SHARED


def test_a_default_route_in_a_vrf_and_the_routes_under_it(vrfs):
    vrfs.route_add("0.0.0.0/0", TO_SHARED, "red")
    vrfs.route_add("8.0.0.0/8", TO_RED_HOST, "red")
    vrfs.route_add("::/0", TO_SHARED, "red")
    assert vrfs.route_lookup("8.8.8.8", "red") == TO_RED_HOST
    assert vrfs.route_lookup("9.9.9.9", "red") == TO_SHARED
    assert vrfs.route_lookup("2001:db8::1", "red") == TO_SHARED
    assert vrfs.route_lookup("9.9.9.9", "blue") is None
    vrfs.route_delete("8.0.0.0/8", "red")  # falls back to the default, kept aside
    assert vrfs.route_lookup("8.8.8.8", "red") == TO_SHARED
    out = forward(vrfs, [from_host("a", "10.0.0.5", "8.8.8.8", UDP() / (b"x" * 20))] * 4, port="a")
    assert len(out["c"]) == 4
    vrfs.route_delete("0.0.0.0/0", "red")
    vrfs.route_delete("::/0", "red")
    assert vrfs.route_lookup("8.8.8.8", "red") is None
    assert vrfs.route_lookup("2001:db8::1", "red") is None
    assert vrfs.route_lookup("10.0.0.9", "red") is not None  # its connected route stays


def test_bad_vrf_input_is_refused(vrfs):
    with pytest.raises(RouteError, match="unknown VRF 'green' .*default, red, blue"):
        vrfs.route_add("198.51.100.0/24", TO_SHARED, "green")
    with pytest.raises(RouteError, match="unknown VRF"):
        vrfs.route_add_bulk([("198.51.100.0/24", TO_SHARED, "red"), ("203.0.113.0/24", 1, "green")])
    assert vrfs.routes("red") == []  # all or nothing
    with pytest.raises(RouteError, match="connected, local or broadcast"):
        vrfs.route_add("10.0.0.0/24", TO_SHARED, "red")
    vrfs.route_add("10.0.0.0/24", TO_SHARED)  # the global VRF has no such subnet
    assert vrfs.vrfs() == ["default", "red", "blue"]
    assert {f["name"]: f["vrf"] for f in vrfs.interfaces()} == VRF


def test_bulk_adds_span_vrfs_all_or_nothing(vrfs):
    vrfs.route_add("203.0.113.0/24", TO_SHARED, "blue")
    with pytest.raises(RouteError):  # the last one's prefix is red's connected route
        vrfs.route_add_bulk([("203.0.113.0/24", TO_RED_HOST, "blue"),
                             ("198.51.100.0/24", TO_SHARED, "default"),
                             ("10.0.0.0/24", TO_SHARED, "red")])
    assert vrfs.routes("blue")[0][1] == TO_SHARED and vrfs.routes() == []
    assert vrfs.route_add_bulk([("203.0.113.0/24", TO_RED_HOST, "blue"),
                                ("198.51.100.0/24", TO_SHARED, "default")]) == 2
    assert vrfs.route_lookup("203.0.113.1", "blue") == TO_RED_HOST


def test_two_interfaces_of_one_vrf_cannot_share_an_address():
    ports = [PortConfig(name, "ring", mac=ROUTER_MAC[name], vrf="red" if name != "c" else "default")
             for name in PORTS]
    with Dataplane(DataplaneConfig(ports=ports, vrfs=["red"], eal=EAL)) as dp:
        dp.address_add("a", "10.0.0.1/24")
        with pytest.raises(AddressError, match="already an address of this router in VRF red"):
            dp.address_add("b", "10.0.0.1/24")
        with pytest.raises(AddressError, match="already connected on another port in VRF red"):
            dp.address_add("b", "10.0.0.2/24")
        dp.address_add("c", "10.0.0.1/24")


@pytest.mark.parametrize("vrfs, port_vrf, error", [
    (["red"], "green", "interface a: unknown VRF 'green'"),
    (["red", "red"], "red", "VRF red: defined twice"),
    (["default"], "default", "VRF default: the global VRF's name"),
])
def test_bad_vrf_specs_are_refused(vrfs, port_vrf, error):
    ports = [PortConfig(name, "ring", mac=ROUTER_MAC[name], vrf=port_vrf if name == "a" else "default")
             for name in PORTS]
    with pytest.raises((PortError, RouteError), match=error):
        Dataplane(DataplaneConfig(ports=ports, vrfs=vrfs, eal=EAL))
