"""The `appliance` command: thin, every subcommand calls one public function."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from appliance import __version__
from appliance.errors import ApplianceError, ConfigError


def run_demo(duration: float | None, interval: float, as_json: bool) -> int:
    """Runs the built-in demo router, printing rates until stopped."""
    from appliance.demo import open_demo
    from appliance.eal import shutdown_eal
    from appliance.host.hugepages import hugepages_usable
    from appliance.stats_view import rates, render

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    dp = open_demo(hugepages=hugepages_usable(256))
    try:
        print("demo: wan0 (pcap) -> 10.1/16 lan0, 10.2/16 lan1, 10.3/16 no route; Ctrl-C stops",
              flush=True)
        started = time.monotonic()
        before, t0 = dp.stats(), time.monotonic()
        while not stop.wait(interval):
            after, t1 = dp.stats(), time.monotonic()
            r = rates(before, after, t1 - t0)
            print(json.dumps(r) if as_json else render(r) + "\n", flush=True)
            before, t0 = after, t1
            if duration is not None and t1 - started >= duration:
                break
    finally:
        dp.close()
        shutdown_eal(dp.config.eal)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appliance", description="DPDK forwarding appliance")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the appliance in the foreground (no config: the demo)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.add_argument("--interval", type=float, default=1.0, help="seconds between stats lines")
    run.add_argument("--json", action="store_true", help="stats as JSON lines")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    try:
        if args.command == "version":
            print(__version__)
            return 0
        return run_demo(args.duration, args.interval, args.json)
    except ConfigError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except ApplianceError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
