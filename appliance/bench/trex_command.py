"""`appliance bench trex`: the command line around TrexBench and the report."""
from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

from appliance.errors import BenchError

RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmg]?)(pps)?\s*$", re.IGNORECASE)


def rate(text: str) -> float:
    """1000, 200kpps, 1.5mpps."""
    m = RATE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a packet rate (e.g. 500000, 200kpps, 1.5mpps)")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()]


def fractions(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",")]
    except ValueError:
        out = []
    if not out or not all(0 <= x <= 1 for x in out):
        raise argparse.ArgumentTypeError(f"{text!r}: fractions of the NDR between 0 and 1, e.g. 0.1,0.5,0.9")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default="127.0.0.1", help="TRex server (interactive mode, -i)")
    p.add_argument("--ports", nargs="+", metavar="PORT",
                   help="the appliance ports TRex ports 0 and 1 face (default: its first two)")
    p.add_argument("--sizes", default="64,128,256,512,1024,1280,1518,imix",
                   help="frame sizes in bytes with FCS, and imix (64/594/1518 at 7:4:1)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per trial")
    p.add_argument("--loss-ratio", type=float, default=0.005, help="loss PDR tolerates")
    p.add_argument("--resolution", type=float, default=0.01,
                   help="search resolution, a fraction of the top rate")
    p.add_argument("--max-rate", type=rate, help="top of the search (default: line rate)")
    p.add_argument("--min-rate", type=rate, default=1000.0, help="bottom of the search")
    p.add_argument("--max-trials", type=int, default=20, help="trials per frame size at most")
    p.add_argument("--latency", action="store_true",
                   help="latency at fractions of the NDR (TRex timestamped streams)")
    p.add_argument("--latency-loads", type=fractions, default=[0.1, 0.5, 0.9])
    p.add_argument("--trex-dir", help="the TRex directory (default $APPLIANCE_TREX_DIR or /opt/trex)")
    p.add_argument("--output", type=Path, default=Path("bench-report"),
                   help="directory for report.json, .csv, .png, .html")


def run(args: argparse.Namespace) -> int:
    from appliance.api.client import Client
    from appliance.bench import report
    from appliance.bench.frames import parse_sizes
    from appliance.bench.trex_bench import Settings, TrexBench, check_ports

    sizes = parse_sizes(args.sizes)
    if not 0 <= args.loss_ratio < 1:
        raise BenchError(f"--loss-ratio {args.loss_ratio}: between 0 and 1")
    if args.duration <= 0 or not 0 < args.resolution < 1:
        raise BenchError("--duration must be > 0 and --resolution between 0 and 1")
    settings = Settings(sizes=sizes, duration_s=args.duration, loss_ratio=args.loss_ratio,
                        resolution=args.resolution, max_rate_pps=args.max_rate,
                        min_rate_pps=args.min_rate, max_trials=args.max_trials,
                        latency=args.latency, latency_loads=args.latency_loads)
    with Client(args.socket, timeout=30) as appliance:
        ports = check_ports(appliance, args.ports)
        # Loaded last: it replaces scapy and yaml modules in this process.
        from appliance.bench import trex_client
        api = trex_client.load_api(args.trex_dir)
        trex = trex_client.connect(api, args.server)
        try:
            trex.acquire(ports=list(range(len(ports))), force=True)
            progress = (lambda line: print(line, file=sys.stderr, flush=True))
            bench = TrexBench(api, trex, appliance, ports, settings, progress)
            started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            results = bench.run()
        finally:
            trex.disconnect()
        meta = {"title": f"appliance RFC 2544 with TRex ({args.server})", "started": started,
                "appliance_ports": ports, "trex_port_speed_gbps": bench.speed_gbps,
                "directions": [f"{d.tx_port}->{d.rx_port} ({len(d.destinations)} prefixes)"
                               for d in bench.directions],
                "settings": {k: v for k, v in vars(settings).items()}}
    paths = report.write(results, meta, args.output)
    if args.json:
        print(json.dumps({"meta": meta, "results": results, "files": {k: str(v) for k, v in paths.items()}},
                         default=str))
    else:
        for line in report.table(results):
            print(line)
        print(f"report: {', '.join(str(p) for p in paths.values())}")
    return 0
