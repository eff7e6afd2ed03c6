#!/usr/bin/env python3
"""Benchmark: what stateful filtering costs per packet on established sessions, one worker.

    python3 bench/conntrack_forwarding.py [--rounds 5] [--seconds 2] [--flows 1024,65536]

The rig of bench/vdev_forwarding.py (net_pcap replaying 64-byte UDP frames -> net_null,
10,000 routes, one worker core), per flow count (each flow one session), in the same rounds:
- appliance: plain forwarding;
- appliance_stateful: lan0 (where every frame leaves) stateful: each frame's session is
  looked up and refreshed (the first round of the pcap creates them: established after);
- the same with stage clocks (the conntrack stage's cycles/packet);
- l3fwd (LPM), as in every bench here.
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402


def contenders(work: Path, l3fwd: Path, pcap: Path, routes: Path, sessions: int):
    every = vdev.contenders(work, l3fwd, pcap, routes)
    plain = next(c for c in every if c.name == "appliance")
    stateful = vdev.Contender("appliance_stateful", [
        *plain.command, "--conntrack", str(sessions), "--stateful", "lan0"], plain.file_prefix)
    clocks = vdev.Contender("appliance_stateful_clocks", [*stateful.command, "--stage-clocks"],
                            plain.file_prefix)
    return [plain, stateful, clocks, next(c for c in every if c.name == "l3fwd")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--routes", type=int, default=10_000)
    p.add_argument("--flows", default="1024,65536", help="comma-separated flow counts")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        routes = traffic.make_routes(args.routes)
        (work / "routes.txt").write_text("".join(f"{r}\n" for r in routes))
        l3fwd = vdev.build_l3fwd(args.cache)
        for flows in (int(f) for f in args.flows.split(",")):
            pcap = traffic.write_pcap(work / f"flows-{flows}.pcap",
                                      traffic.frame_bytes(routes, flows, traffic.ROUTER_MAC))
            sessions = 1 << max(10, (2 * flows - 1).bit_length())  # room to spare
            samples = vdev.rotated_rounds(
                lambda: contenders(work, l3fwd, pcap, work / "routes.txt", sessions),
                args.rounds, args.seconds, work)
            clocks = vdev.median_stages([vdev.stage_cycles_per_packet(s.extra["stats"])
                                         for s in samples["appliance_stateful_clocks"]])
            results[flows] = {
                "mpps": {n: round(statistics.median(s.mpps for s in v), 3) for n, v in samples.items()},
                "ratio_stateful_vs_plain": round(statistics.median(
                    a.mpps / b.mpps for a, b in zip(samples["appliance_stateful"], samples["appliance"])), 3),
                "conntrack_cycles_per_packet": clocks.get("conntrack", 0),
                "stage_cycles_per_packet": clocks,
                "sessions": samples["appliance_stateful"][-1].extra["stats"]["conntrack"]["sessions"],
            }
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"ipv4, {args.routes} routes, 64-byte frames, 1 worker, medians of {args.rounds} rounds")
    for flows, r in results.items():
        m = r["mpps"]
        print(f"  {flows:>7} sessions: plain {m['appliance']:.3f} Mpps, stateful "
              f"{m['appliance_stateful']:.3f} ({r['ratio_stateful_vs_plain']:.3f} of plain), l3fwd "
              f"{m['l3fwd']:.3f}; conntrack stage {r['conntrack_cycles_per_packet']} cycles/packet "
              f"({r['sessions']} sessions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
