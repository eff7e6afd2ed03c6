"""A million routes in one bulk call, spot-checked against a Python reference LPM."""
import ipaddress
import random

from appliance import TableSizes
from tests.native.conftest import NEXTHOP, forward, in_reserved, open_router, reserved, udp

ROUTES = 1_000_000
# Roughly the shape of an internet table: mostly /24, many /16../23, a few longer.
LENGTHS = [8] + [16] * 3 + [18, 19, 20, 21, 22, 23] * 5 + [24] * 60 + [25, 26, 27, 28, 30, 32]


def random_table(n: int, rng: random.Random) -> dict[tuple[int, int], int]:
    table: dict[tuple[int, int], int] = {}
    while len(table) < n:
        length = rng.choice(LENGTHS)
        net = rng.getrandbits(32) & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
        if in_reserved(net, length):
            continue
        table[(net, length)] = rng.choice(list(NEXTHOP.values()))
    return table


def reference_lookup(table: dict[tuple[int, int], int], addr: int) -> int | None:
    for length in range(32, -1, -1):
        net = addr & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF if length else 0
        if (net, length) in table:
            return table[(net, length)]
    return None


def test_one_million_routes_bulk_loaded_match_a_reference_lpm():
    rng = random.Random(2026)
    table = random_table(ROUTES, rng)
    dp = open_router(tables=TableSizes(max_routes=ROUTES, tbl8_groups=1 << 16, max_nexthops=64))
    try:
        loaded = dp.route_add_bulk(
            (f"{ipaddress.IPv4Address(net)}/{length}", hop) for (net, length), hop in table.items())
        assert loaded == ROUTES and dp.route_count() == ROUTES

        probes = [a for a in (rng.getrandbits(32) for _ in range(3000)) if not reserved(a)]
        # Also probe inside known prefixes, where the answer is never "no route".
        known = [net | rng.getrandbits(32 - length) if length < 32 else net
                 for net, length in rng.sample(sorted(table), 3000)]
        probes += known
        for addr in probes:
            text = str(ipaddress.IPv4Address(addr))
            assert dp.route_lookup(text) == reference_lookup(table, addr), text

        # And the worker agrees with the table for packets, too.
        routed = known[:200]
        out = forward(dp, [udp(dst=str(ipaddress.IPv4Address(a))) for a in routed])
        port_of = {hop: port for port, hop in NEXTHOP.items()}
        for port, frames in out.items():
            for f in frames:
                assert port_of[reference_lookup(table, int(ipaddress.IPv4Address(f["IP"].dst)))] == port
        assert sum(len(v) for v in out.values()) == len(routed)
    finally:
        dp.close()
