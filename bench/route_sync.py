#!/usr/bin/env python3
"""Benchmark: route sync, a kernel routing table mirrored into the FIB.

    python3 bench/route_sync.py [--routes 1000000] [--churn-rate 10000] [--churn-seconds 10]

A data plane with one port (a ring) and its kernel interface; routes go into a table of
the bench's own through that interface with `ip -batch`, as a routing daemon's would:
1. a full table: how long `ip -batch` takes, how far behind the FIB is when it ends,
   and a forced full dump + apply of the whole table (what a start or resync costs);
2. churn: route replacements at a set rate for some seconds (two gateways, back and
   forth), then whether the FIB matches the kernel table exactly and any overruns.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import Dataplane, DataplaneConfig, EalOptions, PortConfig, TableSizes  # noqa: E402
from appliance.dataplane import RouteSyncSettings  # noqa: E402
from appliance.host.hugepages import hugepages_usable  # noqa: E402

KERNEL = "kbench0"
GATEWAYS = ("10.255.0.2", "10.255.0.3")


def prefix(i: int) -> str:  # /24s from 11.0.0.0 on: distinct, any number up to 2^24
    a = (11 << 24) + (i << 8)
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.0/24"


def ip_batch(lines: list[str]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    start = time.monotonic()
    subprocess.run(["ip", "-batch", f.name], check=True)
    os.unlink(f.name)
    return time.monotonic() - start


def wait(dp: Dataplane, done, timeout: float) -> float:
    start = time.monotonic()
    while not done(dp.stats()["route_sync"]):
        if time.monotonic() - start > timeout:
            raise SystemExit(f"route sync did not catch up in {timeout} s: {dp.stats()['route_sync']}")
        time.sleep(0.01)
    return time.monotonic() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--routes", type=int, default=1_000_000)
    p.add_argument("--churn-rate", type=int, default=10_000, help="route changes per second")
    p.add_argument("--churn-seconds", type=int, default=10)
    args = p.parse_args()
    table = random.randrange(1000, 60000)
    config = DataplaneConfig(
        ports=[PortConfig("a", "ring", kernel=KERNEL)],
        eal=EalOptions(main_lcore=0, worker_lcores=[1], memory_mb=1024,
                       hugepages=hugepages_usable(1024), in_memory=True, file_prefix="bench-sync"),
        tables=TableSizes(max_routes=args.routes + 1000, tbl8_groups=1 << 12, max_nexthops=64),
        route_sync=RouteSyncSettings(table=table, protocols=[186]))
    dp = Dataplane(config)
    try:
        dp.start()
        dp.address_add("a", "10.255.0.1/16")
        routes = [prefix(i) for i in range(args.routes)]
        via = f"dev {KERNEL} proto bgp table {table}"
        took = ip_batch([f"route add {r} via {GATEWAYS[0]} {via}" for r in routes])
        lag = wait(dp, lambda s: s["routes"] >= args.routes, 120)
        print(f"full table: {args.routes} routes, ip -batch {took:.2f} s, FIB complete "
              f"{lag:.2f} s after it ended ({args.routes / (took + lag):,.0f} routes/s end to end)")
        dumps = dp.stats()["route_sync"]["resyncs"]
        dp.route_sync_resync()
        wait(dp, lambda s: s["resyncs"] > dumps, 120)
        print(f"full dump + apply of {args.routes} routes: {dp.stats()['route_sync']['last_dump_s']:.2f} s")

        rng = random.Random(1)
        changes = 0
        start = time.monotonic()
        for second in range(args.churn_seconds):
            batch = [f"route replace {routes[rng.randrange(len(routes))]} via "
                     f"{GATEWAYS[(second + 1) % 2]} {via}" for _ in range(args.churn_rate)]
            ip_batch(batch)
            changes += len(batch)
            time.sleep(max(0.0, start + second + 1 - time.monotonic()))
        elapsed = time.monotonic() - start
        time.sleep(1)
        kernel = subprocess.run(["ip", "-4", "route", "show", "table", str(table)],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        want = {line.split()[0]: line.split()[2] for line in kernel if " via " in line}
        got = {r["prefix"]: r["gateway"] for r in dp.kernel_routes()}
        stats = dp.stats()["route_sync"]
        print(f"churn: {changes} replacements in {elapsed:.1f} s ({changes / elapsed:,.0f}/s); "
              f"FIB == kernel table: {got == want}; overruns {stats['overruns']}, "
              f"resyncs {stats['resyncs']}, failed {stats['failed']}")
        return 0 if got == want else 1
    finally:
        subprocess.run(["ip", "route", "flush", "table", str(table)], check=False)
        dp.close()


if __name__ == "__main__":
    sys.exit(main())
