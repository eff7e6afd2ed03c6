#!/usr/bin/env python3
"""Benchmark: how long hosts lose their gateway when one of a VRRP pair dies.

    python3 bench/vrrp_failover.py [--rounds 5] [--intervals 100,1000]

The pair of tests/e2e/ha_lab.py (two appliance processes, VRRP on both LANs, master A at
priority 200, backup B at 100, workers sharing a CPU), h1 pinging h2 every 10 ms through
both virtual gateways. Per advertisement interval and round:
- kill: SIGKILL the master (the plug pulled): B takes over after Master_Down_Interval
  (3 x interval + skew, skew = (256 - 100) / 256 x interval);
- stop: SIGTERM the master (a restart, a deploy): it leaves with a priority-0
  advertisement and B takes over after its skew time alone.
Reported: the longest time between two replies h1 saw, and the pings lost (sent - received),
medians over the rounds.
"""
import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.ha_lab import HaPair  # noqa: E402


def one_round(interval_ms: int, how: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        pair = HaPair(Path(tmp), interval_ms=interval_ms)
        try:
            pair.start("a")
            assert pair.wait_states("a", "master", 10), pair.states("a")
            pair.start("b")
            assert pair.wait_states("b", "backup", 10), pair.states("b")
            down_s = 3 * interval_ms / 1000 * 1.25 + 1.5
            pinger = pair.pinger(count=int((1.5 + down_s) / 0.01))
            time.sleep(1.0)
            if how == "kill":
                pair.kill("a")
            else:
                pair.apps["a"].signal(signal.SIGTERM)
            assert pair.wait_states("b", "master", down_s + 5), pair.states("b")
            _, lost, gap = HaPair.outcome(pinger)
            return gap, lost
        finally:
            pair.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--intervals", default="100,1000", help="advertisement intervals, ms")
    args = ap.parse_args()
    print(f"{'adverts':>8} {'master':>7} {'gap ms (median)':>16} {'lost pings':>11}  rounds (gap ms)")
    for interval in map(int, args.intervals.split(",")):
        for how in ("kill", "stop"):
            results = [one_round(interval, how) for _ in range(args.rounds)]
            gaps = [g * 1000 for g, _ in results]
            print(f"{interval:>6}ms {how:>7} {statistics.median(gaps):>16.0f} "
                  f"{statistics.median(l for _, l in results):>11.0f}  "
                  f"{' '.join(f'{g:.0f}' for g in gaps)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
