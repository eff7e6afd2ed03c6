"""The IPv6 route table (Trie6 + Fib6) against a reference model: longest-prefix match
over /0../128 after random adds, replaces and deletes, all-or-nothing bulk adds, and
groups given back when routes go."""
import ipaddress
import random

import pytest

from appliance import _native
from appliance.errors import NextHopError, RouteError, TableFullError
from tests.native.conftest import make_dataplane


@pytest.fixture(scope="module")
def eal():
    make_dataplane().close()  # the EAL, once per process, as the other native tests


def reference_lookup(routes: dict, address: str):
    a = ipaddress.IPv6Address(address)
    best = None
    for prefix, nh in routes.items():
        net = ipaddress.IPv6Network(prefix)
        if a in net and (best is None or net.prefixlen > best[0]):
            best = (net.prefixlen, nh)
    return None if best is None else best[1]


def random_prefix(rng: random.Random) -> str:
    length = rng.choice([0, 3, 16, 19, 23, 24, 25, 29, 32, 33, 40, 44, 47, 48, 56, 63, 64, 65, 96,
                         120, 127, 128])
    base = rng.choice([0x2001_0db8 << 96, 0x2a00 << 112, 0xfd00 << 112, rng.getrandbits(128)])
    addr = base | rng.getrandbits(96)  # near each other: shared groups, nested prefixes
    return str(ipaddress.IPv6Network((addr >> (128 - length) << (128 - length), length)))


def probe_addresses(routes: dict, rng: random.Random) -> list[str]:
    out = []
    for prefix in list(routes)[:120]:
        net = ipaddress.IPv6Network(prefix)
        out += [str(net.network_address), str(net.broadcast_address),
                str(net.network_address + rng.getrandbits(max(0, 128 - net.prefixlen)))]
    return out + [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(100)]


def test_longest_prefix_match_matches_the_model_through_adds_replaces_and_deletes(eal):
    rng = random.Random(6)
    t = _native._Fib6Table(max_routes=10_000, groups=4096, nexthops=64)
    model: dict = {}
    for step in range(12):
        adds = [(random_prefix(rng), rng.randrange(64)) for _ in range(60)]
        t.add_bulk(adds)
        model.update(adds)
        for prefix in rng.sample(sorted(model), k=min(len(model), 25)):
            t.remove(prefix)
            del model[prefix]
        for a in probe_addresses(model, rng):
            assert t.lookup(a) == reference_lookup(model, a), (step, a)
    assert dict(t.routes()) == model
    for prefix in list(model):
        t.remove(prefix)
    assert t.routes() == [] and t.groups_in_use == 0, "every group given back"
    assert t.lookup("2001:db8::1") is None


def test_errors_name_the_prefix_and_change_nothing(eal):
    t = _native._Fib6Table(max_routes=3, groups=4, nexthops=4)
    t.add_bulk([("2001:db8::/32", 1)])
    for bad, message in [("2001:db8::1/32", "has host bits set"), ("2001:db8::/129", "0..128"),
                         ("2001:db8::", "needs its length"), ("10.0.0.0/8", "not an IPv6 address"),
                         ("2001:db8::/ 3", "0..128")]:
        with pytest.raises(RouteError, match=message):
            t.add_bulk([(bad, 1)])
    with pytest.raises(NextHopError):
        t.add_bulk([("2001:db9::/32", 1), ("2001:dba::/32", 9)])
    with pytest.raises(TableFullError, match="IPv6 route table full"):
        t.add_bulk([("2001:db9::/32", 1), ("2001:dba::/32", 1), ("2001:dbb::/32", 1)])
    with pytest.raises(TableFullError, match="groups in use"):  # /128s need 13 groups each
        t.add_bulk([("2001:db8::1/128", 2)])
    with pytest.raises(RouteError, match="no such route"):
        t.remove("2001:db9::/32")
    assert t.routes() == [("2001:db8::/32", 1)] and t.groups_in_use == 1  # the /32 needs one
    assert t.lookup("2001:db8::1") == 1 and t.lookup("2001:db9::1") is None


def test_a_replace_keeps_longer_prefixes_and_a_delete_falls_back(eal):
    t = _native._Fib6Table(max_routes=100, groups=64, nexthops=8)
    t.add_bulk([("::/0", 1), ("2001:db8::/32", 2), ("2001:db8:1::/48", 3), ("2001:db8:1::1/128", 4)])
    assert [t.lookup(a) for a in ("::1", "2001:db8::1", "2001:db8:1::2", "2001:db8:1::1")] == [1, 2, 3, 4]
    t.add_bulk([("2001:db8::/32", 5)])
    assert [t.lookup(a) for a in ("2001:db8::1", "2001:db8:1::2", "2001:db8:1::1")] == [5, 3, 4]
    t.remove("2001:db8:1::/48")
    assert [t.lookup(a) for a in ("2001:db8:1::2", "2001:db8:1::1")] == [5, 4]
    t.remove("::/0")
    assert t.lookup("::1") is None and t.lookup("2001:db8:1::1") == 4


def test_a_million_routes_in_bulk_spot_checked_against_a_reference_lpm(eal):
    """1M routes shaped as a big table is: dense /48s, /64s packed under a few /48s,
    and a scatter of /29../44 and /128s; 20,000 addresses looked up against a model
    keyed by length (exact, not a scan), after the load and after deleting a tenth."""
    rng = random.Random(12)
    routes = {f"2400:{0xc000 | (i >> 16):x}:{i & 0xffff:x}::/48": i % 64 for i in range(780_000)}
    for i in range(200_000):  # 2a00:1000:0:K:L::/64, packed under 4 /48s
        routes[f"2a00:1000:{i >> 16:x}:{i & 0xffff:x}::/64"] = (i * 7) % 64
    while len(routes) < 1_000_000:
        length = rng.choice([29, 32, 32, 36, 40, 44, 48, 48] * 6 + [128])
        addr = (rng.choice([0x2400, 0x2a00, 0x2c0f]) << 112) | rng.getrandbits(112)
        routes[str(ipaddress.IPv6Network((addr >> (128 - length) << (128 - length), length)))] = \
            rng.randrange(64)
    t = _native._Fib6Table(max_routes=len(routes), groups=65536, nexthops=64)
    t.add_bulk(list(routes.items()))

    by_length: dict[int, dict[int, int]] = {}
    for prefix, nh in routes.items():
        net = ipaddress.IPv6Network(prefix)
        by_length.setdefault(net.prefixlen, {})[int(net.network_address)] = nh

    def model(address: int):
        for length in sorted(by_length, reverse=True):
            nh = by_length[length].get(address >> (128 - length) << (128 - length))
            if nh is not None:
                return nh
        return None

    def spot_check(count):
        picks = rng.sample(sorted(routes), k=count // 2)
        addresses = [int(ipaddress.IPv6Network(p).network_address) | rng.getrandbits(
            128 - ipaddress.IPv6Network(p).prefixlen) for p in picks]
        addresses += [(rng.choice([0x2400, 0x2a00, 0x2c0f]) << 112) | rng.getrandbits(112)
                      for _ in range(count // 2)]
        for a in addresses:
            text = str(ipaddress.IPv6Address(a))
            assert t.lookup(text) == model(a), text

    spot_check(20_000)
    gone = rng.sample(sorted(routes), k=len(routes) // 10)
    for prefix in gone:
        t.remove(prefix)
        net = ipaddress.IPv6Network(prefix)
        del by_length[net.prefixlen][int(net.network_address)]
        del routes[prefix]
    spot_check(20_000)
    assert t.groups_in_use > 0 and len(t.routes()) == len(routes)
