"""Stage clocks: where a worker's cycles go, stage by stage, and only when asked for."""
import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from appliance.stats_view import rates, render
from tests.native.conftest import HOST_MAC, NEXTHOP, ROUTER_MAC, checked, forward, open_router, udp


@pytest.fixture
def clocked():
    yield from checked(open_router(stage_clocks=True))


def stages(dp) -> dict[str, int]:
    [worker] = dp.stats()["workers"]
    return worker["stage_cycles"]


def test_each_stage_a_burst_goes_through_is_timed_and_no_other(clocked):
    clocked.route_add("10.0.0.0/8", NEXTHOP["b"])
    before = clocked.stats()
    assert len(forward(clocked, [udp(dst=f"10.0.0.{i}") for i in range(1, 200)])["b"]) == 199
    timed = stages(clocked)
    assert all(timed[s] > 0 for s in ("rx", "input", "lookup", "output", "tx")), timed
    assert timed["ipv6"] == 0 and timed["rules"] == 0, timed
    [worker] = clocked.stats()["workers"]
    # forward_burst's stages lie inside the busy window (rx is before it starts).
    assert sum(c for s, c in timed.items() if s != "rx") <= worker["busy_cycles"]

    # A rule table in use adds its stage, IPv6 its own.
    clocked.rule_add("udp", "192.0.2.1", 1, "10.0.0.1", 1, "drop")
    clocked.route_add("2001:db8::/32", NEXTHOP["b"])
    v6 = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IPv6(
        src="2001:db8:a::10", dst="2001:db8::5") / UDP(sport=1, dport=2)
    out = forward(clocked, [udp(dst="10.0.0.1"), v6])
    assert len(out["b"]) == 2
    now = stages(clocked)
    assert now["rules"] > 0 and now["ipv6"] > 0, now

    # `appliance stats` shows cycles/packet per stage for the interval.
    view = render(rates(before, clocked.stats(), 1.0))
    assert "cycles/packet (rx " in view and "input " in view and "rules " in view, view


def test_off_by_default_nothing_is_timed(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    before = router.stats()
    assert len(forward(router, [udp(dst="10.0.0.1")] * 50)["b"]) == 50
    assert set(stages(router).values()) == {0}
    view = render(rates(before, router.stats(), 1.0))
    assert "cycles/packet" in view and "(rx" not in view, view


def test_the_stage_clocks_reach_prometheus_per_worker_and_stage(clocked):
    from prometheus_client import CollectorRegistry, generate_latest

    from appliance.metrics import DataplaneCollector
    clocked.route_add("10.0.0.0/8", NEXTHOP["b"])
    forward(clocked, [udp(dst=f"10.0.0.{i}") for i in range(1, 50)])
    registry = CollectorRegistry()
    registry.register(DataplaneCollector(clocked.stats))
    lines = [line for line in generate_latest(registry).decode().splitlines()
             if line.startswith("appliance_stage_cycles_total{")]
    timed = stages(clocked)
    exported = {line.split('stage="')[1].split('"')[0]: float(line.split()[-1]) for line in lines}
    # The stages that ran, each with the cycles it took so far (the counter grows).
    assert set(exported) == {s for s, c in timed.items() if c} >= {"rx", "input", "lookup", "output", "tx"}
    assert all('lcore="1"' in line for line in lines)
    assert all(exported[s] <= stages(clocked)[s] for s in exported)
