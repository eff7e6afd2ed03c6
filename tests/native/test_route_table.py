"""The route table against a reference LPM through random adds, replaces and deletes."""
import ipaddress
import random

from appliance import TableSizes
from tests.native.conftest import NEXTHOP, forward, in_reserved, open_router, reserved, udp
from tests.native.test_scale import reference_lookup


def random_prefix(rng: random.Random) -> tuple[int, int]:
    # Crowded into 10.0.0.0/14 so prefixes of every length overlap, plus a
    # few short ones (default route included) that cover everything.
    length = rng.choice([0, 1, 6, 8, 12, 14, 16, 18, 20, 22, 23, 24, 24, 25, 26, 27, 28, 30, 31, 32])
    addr = (10 << 24) | rng.getrandbits(18) << 6 | rng.getrandbits(6)
    if length < 14:
        addr = rng.getrandbits(32)
    mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF if length else 0
    if in_reserved(addr & mask, length):
        return random_prefix(rng)
    return addr & mask, length


def text(net: int, length: int) -> str:
    return f"{ipaddress.IPv4Address(net)}/{length}"


def probes(table: dict, rng: random.Random) -> list[int]:
    out = [(10 << 24) | rng.getrandbits(18) for _ in range(400)] + [rng.getrandbits(32) for _ in range(100)]
    for net, length in list(table)[:300]:  # the edges of live prefixes
        out += [net, net + (1 << (32 - length)) - 1 if length else 0xFFFFFFFF]
    return [a for a in out if not reserved(a)]


def test_random_adds_replaces_and_deletes_match_the_reference():
    rng = random.Random(11)
    dp = open_router(tables=TableSizes(max_routes=20_000, tbl8_groups=4096, max_nexthops=64))
    hops = list(NEXTHOP.values())
    table: dict[tuple[int, int], int] = {}
    try:
        for round_ in range(30):
            for _ in range(300):
                key = random_prefix(rng)
                if key in table and rng.random() < 0.5:
                    dp.route_delete(text(*key))
                    del table[key]
                else:
                    table[key] = rng.choice(hops)
                    dp.route_add(text(*key), table[key])
            for addr in probes(table, rng):
                want = reference_lookup(table, addr)
                got = dp.route_lookup(str(ipaddress.IPv4Address(addr)))
                assert got == want, (round_, str(ipaddress.IPv4Address(addr)))
        # The worker's lookups (four at a time) agree with the table too.
        addrs = [(10 << 24) | rng.getrandbits(18) for _ in range(64)]
        out = forward(dp, [udp(dst=str(ipaddress.IPv4Address(a))) for a in addrs])
        port_of = {hop: port for port, hop in NEXTHOP.items()}
        expected = sorted((port_of[h], a) for a in addrs if (h := reference_lookup(table, a)) is not None)
        got = sorted((port, int(ipaddress.IPv4Address(f["IP"].dst))) for port, fs in out.items() for f in fs)
        assert got == expected
        # Deleting everything gives every second-level group back.
        for key in list(table):
            dp.route_delete(text(*key))
        assert dp.stats()["tbl8_groups_in_use"] == 0
        assert dp.route_lookup("10.0.0.1") is None
    finally:
        dp.close()
