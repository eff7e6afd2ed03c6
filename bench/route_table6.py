#!/usr/bin/env python3
"""Benchmark: the IPv6 route table's update speed (Trie6 + Fib6), in-process.

    python3 bench/route_table6.py [--routes 200000] [--seed 1]

Internet-shaped IPv6 routes (most /48, then /32../44, some /56, /64 and /128,
under 2000::/3): one bulk add, then adds and deletes one route per call
(what a routing daemon's updates are), and the groups the table needed.
"""
import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import _native  # noqa: E402
from appliance.eal import EalOptions, init_eal  # noqa: E402
from appliance.host.hugepages import hugepages_usable  # noqa: E402


def internet6(n: int, rng: random.Random) -> list[str]:
    lengths = [48] * 55 + [32] * 8 + [36, 40, 44] * 6 + [29] * 2 + [56] * 4 + [64] * 8 + [128] * 5
    out: set[str] = set()
    while len(out) < n:
        length = rng.choice(lengths)
        addr = (0x2000 << 112 | rng.getrandbits(125)) >> (128 - length) << (128 - length)
        hextets = [(addr >> (112 - 16 * i)) & 0xffff for i in range(8)]
        out.add(":".join(f"{h:x}" for h in hextets) + f"/{length}")
    return list(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--routes", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    init_eal(EalOptions(memory_mb=2048, hugepages=hugepages_usable(2048), in_memory=True,
                        file_prefix="bench-rt6"), [])
    rng = random.Random(args.seed)
    routes = internet6(args.routes + 20_000, rng)
    bulk, singles = routes[:args.routes], routes[args.routes:]
    t = _native._Fib6Table(max_routes=args.routes + 20_000, groups=1 << 20, nexthops=256)
    t0 = time.perf_counter()
    t.add_bulk([(r, i & 255) for i, r in enumerate(bulk)])
    bulk_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, r in enumerate(singles):
        t.add_bulk([(r, i & 255)])
    add_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for r in singles:
        t.remove(r)
    del_s = time.perf_counter() - t0
    print(f"bulk add of {args.routes} routes: {bulk_s:.2f} s ({args.routes / bulk_s:,.0f} routes/s)")
    print(f"single adds: {len(singles) / add_s:,.0f}/s, single deletes: {len(singles) / del_s:,.0f}/s "
          "(one call each, through Python)")
    print(f"groups in use: {t.groups_in_use} ({t.groups_in_use / 1024:.0f} MiB of 1 KiB groups)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
