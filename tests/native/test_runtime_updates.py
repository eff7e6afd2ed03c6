"""Routes, next hops and rules change while a worker forwards: nothing lost."""
import ipaddress
import random
import threading

from scapy.layers.inet import IP, UDP

import pytest

from appliance import TableSizes
from tests.native.conftest import NEXTHOP, forward, open_router, udp
from tests.native.test_ipv6_forwarding import udp6

WINDOW = 2048  # frames in flight; the rings hold 4096


def churn_prefixes(n: int) -> list[str]:
    """n distinct prefixes inside 10.0.0.0/8, a mix of /16../28 so tbl8 groups come and go."""
    rng = random.Random(7)
    seen: set[str] = set()
    while len(seen) < n:
        length = rng.choice([16, 20, 22, 24, 24, 24, 25, 26, 28])
        addr = (10 << 24) | rng.getrandbits(24)
        seen.add(str(ipaddress.IPv4Network((addr, length), strict=False)))
    return sorted(seen)


def churn_prefixes6(n: int) -> list[str]:
    """n distinct prefixes inside 2400:cafe::/32, /40../64 and some /128, so groups come and go."""
    rng = random.Random(7)
    seen: set[str] = set()
    while len(seen) < n:
        length = rng.choice([40, 44, 48, 48, 48, 52, 56, 64, 128])
        addr = (0x2400CAFE << 96) | rng.getrandbits(96)
        seen.add(str(ipaddress.IPv6Network((addr, length), strict=False)))
    return sorted(seen)


# (stable prefix, a destination in it, the frame, the churning prefixes)
FAMILIES = {
    "ipv4": ("192.0.2.0/24", lambda: udp(dst="192.0.2.77"), lambda: churn_prefixes(100_000)),
    "ipv6": ("2001:db8:77::/48", lambda: udp6(dst="2001:db8:77::77"),
             lambda: churn_prefixes6(20_000)),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_stable_prefix_loses_nothing_while_other_routes_churn(family):
    stable, make_frame, make_prefixes = FAMILIES[family]
    dp = open_router(tables=TableSizes(max_routes=200_000, tbl8_groups=65536, max_nexthops=64,
                                       max_routes6=65536, tbl8_groups6=65536),
                     ring_desc=4096)
    try:
        dp.route_add(stable, NEXTHOP["b"])
        groups = lambda s: (s["tbl8_groups_in_use"], s["tbl8_groups6_in_use"])  # noqa: E731
        groups_before = groups(dp.stats())
        frame = bytes(make_frame())
        done = threading.Event()
        sent = 0
        received: list[bytes] = []

        def traffic():
            nonlocal sent
            # A window of frames in flight, smaller than the rings: a loss can
            # only come from the data plane, never from this harness.
            while not done.is_set():
                if sent - len(received) < WINDOW:
                    sent += dp.inject("a", [frame] * 64)
                received.extend(dp.drain("b"))

        prefixes = make_prefixes()
        t = threading.Thread(target=traffic)
        t.start()
        try:
            for i in range(0, len(prefixes), 1000):  # add in bulk batches
                dp.route_add_bulk((p, NEXTHOP["c"]) for p in prefixes[i:i + 1000])
            for p in prefixes[::10]:  # replace one in ten, route by route
                dp.route_add(p, NEXTHOP["a"])
            for p in prefixes:  # delete all, route by route
                dp.route_delete(p)
        finally:
            done.set()
            t.join()
        dp.quiesce()
        received.extend(dp.drain("b"))
        misrouted = dp.drain("a") + dp.drain("c")

        print(f"{sent} packets during the churn of {len(prefixes)} routes, {len(received)} received")
        assert sent > 1000, "the stream must run during the churn"
        assert len(received) == sent, f"lost {sent - len(received)} of {sent}: {dp.stats()['drops']}"
        assert not misrouted
        stats = dp.stats()
        assert sum(stats["drops"].values()) == 0, stats["drops"]
        assert dp.routes() == [(ipaddress.ip_network(stable), NEXTHOP["b"])]
        assert groups(stats) == groups_before  # every group the churn took is back
    finally:
        dp.close()


def test_route_replace_switches_output_at_once(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    assert len(forward(router, [udp()])["b"]) == 1
    router.route_add("10.0.0.0/8", NEXTHOP["c"])
    assert len(forward(router, [udp()])["c"]) == 1
    assert router.routes() == [(ipaddress.IPv4Network("10.0.0.0/8"), NEXTHOP["c"])]


def test_nexthop_replace_rewrites_with_new_macs(router):
    router.nexthop_set(5, "b", "02:00:00:00:bb:99")
    router.route_add("10.0.0.0/8", 5)
    first = forward(router, [udp()])["b"][0]
    router.nexthop_set(5, "c", "02:00:00:00:cc:99", "02:00:00:00:00:c0")
    second = forward(router, [udp()])["c"][0]
    assert first.dst == "02:00:00:00:bb:99"
    assert first.src == router.ports()[1]["mac"], "no src MAC given: the port's own"
    assert (second.dst, second.src) == ("02:00:00:00:cc:99", "02:00:00:00:00:c0")
    assert second[IP].ttl == 63 and second[UDP].dport == 5678
