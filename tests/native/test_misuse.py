"""Every misuse is an exception naming what is wrong; the tables stay as they were."""
import pytest

from appliance import TableSizes
from appliance.errors import (ConfigError, NextHopError, PortError, RouteError, StateError,
                              TableFullError)
from tests.native.conftest import NEXTHOP, forward, make_dataplane, open_router, udp


@pytest.mark.parametrize("prefix, message", [
    ("10.0.0.0/33", "10.0.0.0/33"),
    ("10.0.0.1/8", "has host bits set"),
    ("10.0.0.256/32", "10.0.0.256/32"),
    ("banana", "banana"),
    ("2001:db8::1/32", "has host bits set"),
    ("2001:db8::/129", "2001:db8::/129"),
    (42, "must be a string"),
])
def test_bad_prefixes_are_refused(router, prefix, message):
    with pytest.raises(RouteError, match=message):
        router.route_add(prefix, NEXTHOP["b"])
    assert router.routes() == []


def test_native_parser_rejects_what_python_would(router):
    # Canonical-looking text goes straight to C++: the native parser must be
    # as strict as Python's on its own.
    for bad, message in [("10.0.0.0/33", "prefix length must be 0..32"),
                         ("10.0.0.1/8", "host bits set"), ("10.0.0/8", "not an IPv4 address"),
                         ("10.0.0.0/", "prefix length must be a number")]:
        with pytest.raises(RouteError, match=message):
            router._dp.route_add_bulk(["10.1.0.0/16", bad], [NEXTHOP["b"]] * 2)
        with pytest.raises(RouteError, match="10.0.0"):
            router.route_add_bulk([("10.1.0.0/16", NEXTHOP["b"]), (bad, NEXTHOP["b"])])
    assert router.routes() == [], "a failed bulk add changes nothing"


def test_route_to_unset_or_out_of_range_nexthop_is_refused(router):
    with pytest.raises(NextHopError, match="next hop 7 is not set"):
        router.route_add("10.0.0.0/8", 7)
    with pytest.raises(NextHopError, match="out of range 0..63"):
        router.route_add("10.0.0.0/8", 1000)


def test_deleting_an_absent_route_says_so(router):
    with pytest.raises(RouteError, match="10.0.0.0/8: no such route"):
        router.route_delete("10.0.0.0/8")


def test_nexthop_errors(router):
    with pytest.raises(PortError, match="unknown port 'wan9' \\(ports: a, b, c\\)"):
        router.nexthop_set(4, "wan9", "02:00:00:00:00:01")
    with pytest.raises(NextHopError, match="'02:00:00:00:01' is not a MAC address"):
        router.nexthop_set(4, "b", "02:00:00:00:01")
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    with pytest.raises(NextHopError, match="is used by 1 routes or rules"):
        router.nexthop_delete(NEXTHOP["b"])
    router.route_delete("10.0.0.0/8")
    router.nexthop_delete(NEXTHOP["b"])
    assert NEXTHOP["b"] not in [h["id"] for h in router.nexthops()]


def test_route_table_full_is_an_error_and_bulk_is_all_or_nothing():
    dp = open_router(tables=TableSizes(max_routes=100, tbl8_groups=4, max_nexthops=8))
    try:
        dp.route_add_bulk((f"10.{i}.0.0/16", NEXTHOP["b"]) for i in range(90))
        with pytest.raises(TableFullError, match="route table full \\(100 routes\\)"):
            dp.route_add_bulk((f"11.{i}.0.0/16", NEXTHOP["b"]) for i in range(20))
        assert dp.route_count() == 90
        # tbl8 groups run out before rules do: also a clean error and a rollback
        with pytest.raises(TableFullError, match="all 4 tbl8 groups in use"):
            dp.route_add_bulk((f"12.0.{i}.0/25", NEXTHOP["c"]) for i in range(10))
        assert dp.route_count() == 90
        assert dp.route_lookup("12.0.0.1") is None
        assert len(forward(dp, [udp(dst="10.5.0.1")])["b"]) == 1, "still forwarding"
    finally:
        dp.close()


def test_replace_in_a_failed_bulk_is_rolled_back(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    with pytest.raises(NextHopError):
        router.route_add_bulk([("10.0.0.0/8", NEXTHOP["c"]), ("11.0.0.0/8", 55)])
    assert router.route_lookup("10.1.1.1") == NEXTHOP["b"]


def test_use_after_close_raises():
    dp = open_router()
    dp.close()
    for call in (lambda: dp.route_add("10.0.0.0/8", 1), dp.routes, dp.stats, dp.start,
                 lambda: dp.inject("a", [b"x"])):
        with pytest.raises(StateError, match="closed"):
            call()
    dp.close()  # closing twice is harmless


def test_bad_port_descriptions_are_refused():
    from appliance import Dataplane, DataplaneConfig, PortConfig
    from tests.native.conftest import EAL
    with pytest.raises(ConfigError, match="device 'eth0'"):
        Dataplane(DataplaneConfig(ports=[PortConfig("x", "eth0")], eal=EAL))
    with pytest.raises(PortError, match="port name 'x' used twice"):
        Dataplane(DataplaneConfig(ports=[PortConfig("x", "ring"), PortConfig("x", "ring")], eal=EAL))
    with pytest.raises(PortError, match="cannot probe device 'net_bogus0'"):
        Dataplane(DataplaneConfig(ports=[PortConfig("x", "net_bogus0")], eal=EAL))
    with pytest.raises(PortError, match="0 tx queues for 1 workers"):
        Dataplane(DataplaneConfig(ports=[PortConfig("x", "ring", tx_queues=0)], eal=EAL))


def test_eal_cannot_be_reinitialized_differently():
    from appliance import EalOptions
    from appliance.eal import init_eal
    make_dataplane().close()  # the EAL is up
    with pytest.raises(ConfigError, match="EAL already runs with lcores"):
        init_eal(EalOptions(main_lcore=0, worker_lcores=[1, 2]), [])
