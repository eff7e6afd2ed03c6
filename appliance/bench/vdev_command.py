"""`appliance bench vdev`: the appliance beside DPDK's l3fwd and testpmd io on vdevs, no NICs
and no TRex needed, per frame size, in the same report as `appliance bench trex`.

Per size: a pcap of that size's frames (IMIX: 64/594/1518 interleaved 7:4:1) replayed by
net_pcap into each contender on one worker core, measured at the net_null output port
(appliance.bench.vdev: medians of rounds, contenders rotated). A maximum forwarding rate,
not a loss search: vdevs drop nothing they cannot take, they are simply slower.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path

CONTENDERS = (("appliance", "appliance_mpps"), ("l3fwd", "l3fwd_mpps"),
              ("testpmd_io", "testpmd_io_mpps"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="64,128,256,512,1024,1280,1518,imix",
                   help="frame sizes in bytes with FCS, and imix")
    p.add_argument("--rounds", type=int, default=3, help="rounds per size (medians)")
    p.add_argument("--seconds", type=float, default=2.0, help="sampling time per run")
    p.add_argument("--routes", type=int, default=10_000, help="IPv4 routes, /16../32")
    p.add_argument("--flows", type=int, default=4096, help="distinct frames in the pcap")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench",
                   help="where l3fwd is built once")
    p.add_argument("--output", type=Path, default=Path("bench-report"),
                   help="directory for report.json, .csv, .png, .html")


def row(size: int | str, summary: dict) -> dict:
    from appliance.bench.frames import average_size
    from appliance.bench.report import rate_figures
    avg = average_size(size)
    return {"size": size, "avg_frame_bytes": avg, "line_rate_pps": None,
            "series": {name: rate_figures(summary[key] * 1e6, avg) for name, key in CONTENDERS},
            "ratios": {"appliance/l3fwd": summary["ratio_vs_l3fwd"],
                       "appliance/testpmd_io": summary["ratio_vs_testpmd_io"]},
            "cycles_per_packet": summary["cycles_per_packet"], "summary": summary}


def run(args: argparse.Namespace) -> int:
    from appliance.bench import report, traffic, vdev
    from appliance.bench.frames import parse_sizes, sequence
    from appliance.errors import BenchError

    sizes = parse_sizes(args.sizes)
    if args.rounds < 1 or args.seconds <= 0 or args.routes < 1 or args.flows < 1:
        raise BenchError("--rounds, --seconds, --routes and --flows must be positive")
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-vdev-") as tmp:
        work = Path(tmp)
        routes = traffic.make_routes(args.routes)
        (work / "routes.txt").write_text("".join(f"{r}\n" for r in routes))
        for size in sizes:
            print(f"frame size {size}", file=sys.stderr, flush=True)
            frames = traffic.make_frames(routes, args.flows, dst_mac=traffic.ROUTER_MAC,
                                         frame_lens=sequence(size))
            pcap = traffic.write_pcap(work / f"traffic-{size}.pcap", frames)
            try:
                summary = vdev.run(work, pcap, work / "routes.txt", args.rounds, args.seconds,
                                   args.cache)
            except (RuntimeError, FileNotFoundError) as e:
                raise BenchError(str(e).splitlines()[0]) from None
            results.append(row(size, summary))
    meta = {"title": "appliance vs l3fwd vs testpmd io on vdevs (1 worker core, pcap -> null)",
            "started": started, "routes": args.routes, "flows": args.flows,
            "rounds": args.rounds, "seconds": args.seconds}
    paths = report.write(results, meta, args.output)
    if args.json:
        print(json.dumps({"meta": meta, "results": results,
                          "files": {k: str(v) for k, v in paths.items()}}, default=str))
    else:
        for line in report.table(results):
            print(line)
        print(f"report: {', '.join(str(p) for p in paths.values())}")
    return 0
