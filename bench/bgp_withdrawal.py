#!/usr/bin/env python3
"""Benchmark: how fast an upstream router stops routing through a dead appliance, with BFD.

    python3 bench/bgp_withdrawal.py [--rounds 5] [--bfd-ms 100,300]

The pair of tests/e2e/ha_lab.py with its upstream: FRR (zebra, bgpd, bfdd) in a namespace
peering eBGP with each appliance's FRR over the appliance's kernel interface (BFD packets
through the punt path), BFD `ms` x 3 on both sessions, 10.0.1.0/24 learned from both. Per
round: SIGKILL appliance A (the upstream routes 10.0.1.0/24 by both, ECMP), and time from
the kill until the upstream's kernel table (what zebra installed) has B alone as the next
hop, polled every 5 ms. BGP's own hold time is 9 s here: what comes sooner is BFD's doing.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import wait_until  # noqa: E402
from tests.e2e.ha_lab import PEERS, HaPair  # noqa: E402


def one_round(bfd_ms: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        pair = HaPair(Path(tmp), interval_ms=100, bgp_ms=bfd_ms)
        try:
            pair.start("a")
            pair.start("b")
            up = pair.frr["up"]
            assert wait_until(lambda: all(up.established(p) for p in PEERS.values()), 60)
            assert wait_until(lambda: up.vtysh("show bfd peers").count("Status: up") == 2, 30)
            assert wait_until(lambda: len(pair.upstream_paths()) == 2, 30)
            time.sleep(1)
            start = time.monotonic()
            pair.kill("a")
            while pair.upstream_paths() != [PEERS["b"]]:
                assert time.monotonic() - start < 30
                time.sleep(0.005)
            return time.monotonic() - start
        finally:
            pair.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bfd-ms", default="100,300", help="BFD intervals (x 3 detection), ms")
    args = ap.parse_args()
    print(f"{'BFD':>10} {'detection':>10} {'withdrawn ms (median)':>22}  rounds (ms)")
    for ms in map(int, args.bfd_ms.split(",")):
        times = [one_round(ms) * 1000 for _ in range(args.rounds)]
        print(f"{ms:>6}ms x3 {3 * ms:>8}ms {statistics.median(times):>22.0f}  "
              f"{' '.join(f'{t:.0f}' for t in times)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
