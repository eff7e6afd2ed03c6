"""Equal-cost multipath from a kernel multipath route (route sync), through ring ports:
flows spread over every path, and each flow keeps to one."""
import random
import subprocess
import time
import uuid
from collections import Counter

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from appliance import Dataplane, DataplaneConfig, PortConfig, SlowPathSettings, TableSizes
from appliance.dataplane import RouteSyncSettings
from tests.native.conftest import (EAL, HOST_IP, HOST_IP6, HOST_MAC, PORTS, ROUTER_IP, ROUTER_IP6,
                                   ROUTER_MAC, check_invariants)


@pytest.fixture
def ecmp_router():
    tag = uuid.uuid4().hex[:4]
    kernel = {"b": f"ke{tag}b", "c": f"ke{tag}c"}
    table = random.randrange(1000, 60000)
    dp = Dataplane(DataplaneConfig(
        ports=[PortConfig(name, "ring", mac=ROUTER_MAC[name], kernel=kernel.get(name))
               for name in PORTS],
        eal=EAL, tables=TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64),
        slowpath=SlowPathSettings(icmp_rate=0), route_sync=RouteSyncSettings(table=table)))
    dp.start()
    for port in PORTS:
        dp.address_add(port, f"{ROUTER_IP[port]}/24")
        dp.address_add(port, f"{ROUTER_IP6[port]}/64")
        dp.neighbor_add(port, HOST_IP[port], HOST_MAC[port])
        dp.neighbor_add(port, HOST_IP6[port], HOST_MAC[port])
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)
    baseline = sum(p["in_use"] for p in dp.mempools())
    yield dp, kernel, table
    subprocess.run(["ip", "route", "flush", "table", str(table)], check=False)
    subprocess.run(["ip", "-6", "route", "flush", "table", str(table)], check=False)
    try:
        check_invariants(dp, baseline)
    finally:
        dp.close()


def synced(dp, prefix, paths, timeout=5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {r["prefix"]: r for r in dp.kernel_routes()}.get(prefix)
        if found and len(found["paths"]) == paths:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{prefix} with {paths} paths not mirrored: {dp.kernel_routes()}")


def flows(dst, count, ip=IP) -> list[Ether]:
    src = HOST_IP["a"] if ip is IP else HOST_IP6["a"]
    return [Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / ip(src=src, dst=dst)
            / UDP(sport=10000 + i, dport=53) / b"flow" for i in range(count)]


def exits(dp, frames, repeat=3) -> dict[int, set[str]]:
    """The ports each flow (by source port) left by, over `repeat` rounds."""
    seen: dict[int, set[str]] = {}
    for _ in range(repeat):
        assert dp.inject("a", [bytes(f) for f in frames]) == len(frames)
        dp.quiesce()
        for port in ("b", "c"):
            for raw in dp.drain(port):
                seen.setdefault(Ether(raw)[UDP].sport, set()).add(port)
    return seen


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_a_multipath_route_spreads_flows_and_keeps_each_on_one_path(ecmp_router, family):
    dp, kernel, table = ecmp_router
    if family == "ipv4":
        prefix, dst, ip = "172.16.0.0/24", "172.16.0.9", IP
        route = ["ip", "route", "add", prefix, "proto", "bgp", "table", str(table),
                 "nexthop", "via", HOST_IP["b"], "dev", kernel["b"],
                 "nexthop", "via", HOST_IP["c"], "dev", kernel["c"]]
    else:
        prefix, dst, ip = "2001:db8:99::/48", "2001:db8:99::9", IPv6
        route = ["ip", "-6", "route", "add", prefix, "proto", "bgp", "table", str(table),
                 "nexthop", "via", HOST_IP6["b"], "dev", kernel["b"],
                 "nexthop", "via", HOST_IP6["c"], "dev", kernel["c"]]
    subprocess.run(route, check=True)
    r = synced(dp, prefix, paths=2)
    assert {(p["port"], p["gateway"]) for p in r["paths"]} == {
        ("b", HOST_IP["b"] if ip is IP else HOST_IP6["b"]),
        ("c", HOST_IP["c"] if ip is IP else HOST_IP6["c"])}
    seen = exits(dp, flows(dst, 200, ip))
    assert len(seen) == 200 and all(len(ports) == 1 for ports in seen.values()), "a flow kept one path"
    spread = Counter(next(iter(ports)) for ports in seen.values())
    assert min(spread.values()) >= 60, spread  # 200 flows, two paths: neither starved
    # One path withdrawn: every flow on the other, none lost.
    replace = [*route[:route.index("nexthop")], "via", route[-3], "dev", kernel["c"]]
    replace[replace.index("add")] = "replace"
    subprocess.run(replace, check=True)
    synced(dp, prefix, paths=1)
    seen = exits(dp, flows(dst, 50, ip), repeat=1)
    assert len(seen) == 50 and all(ports == {"c"} for ports in seen.values())
