#!/usr/bin/env python3
"""Benchmark: transit rate while a share of the traffic needs the slow path.

    python3 bench/slowpath_load.py [--share 0.01] [--rounds 5] [--seconds 2] [--json]

One worker core, pcap -> null, 64-byte frames over 10k routes; in the mixed
run every 1/share-th frame has TTL 1. transit_ratio is the mixed run's
transit rate over the clean run's, per transit packet offered (1.0: the
exceptions cost the other packets nothing); icmp_per_s should sit at the
configured limit.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import slowpath, traffic  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--share", type=float, default=0.01)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--routes", type=int, default=10_000)
    p.add_argument("--flows", type=int, default=4096)
    p.add_argument("--icmp-rate", type=float, default=1000.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp:
        result = slowpath.run(Path(tmp), traffic.make_routes(args.routes), args.flows, args.share,
                              args.rounds, args.seconds, args.icmp_rate)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['slow_share']:.1%} of frames at TTL 1, medians of {args.rounds} rounds")
    print(f"  clean             {result['clean_mpps']:7.3f} Mpps")
    print(f"  mixed, transit    {result['mixed_transit_mpps']:7.3f} Mpps  "
          f"(ratio per offered transit packet {result['transit_ratio']:.3f})")
    print(f"  ICMP time exceeded {result['icmp_per_s']:8.1f}/s  (limit {args.icmp_rate:g}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
