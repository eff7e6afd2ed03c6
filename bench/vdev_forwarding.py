#!/usr/bin/env python3
"""Benchmark: IPv4 (or IPv6) forwarding on one worker core vs DPDK's l3fwd and testpmd io.

    python3 bench/vdev_forwarding.py [--rounds 5] [--seconds 3] [--routes 10000] [--json]
                                     [--ipv6] [--baseline TREE|scalar] [--stage-clocks] [--rules N]

Port 0 is net_pcap replaying 64-byte UDP frames (infinite_rx), port 1 is
net_null; destinations spread over a table of mixed /16../32 routes. Each
round runs the appliance, l3fwd (LPM mode) and testpmd (io, the I/O ceiling)
one after another; figures are medians over rounds, ratios from the same round.

--baseline TREE adds another build of the appliance to every round, for a
before/after of a fast-path change on the same machine at the same time:

    git worktree add /tmp/before REV && python3 -m venv /tmp/before/.venv
    /tmp/before/.venv/bin/pip install -q /tmp/before
    cp /tmp/before/.venv/lib/python3.11/site-packages/appliance/_native*.so /tmp/before/appliance/
    python3 bench/vdev_forwarding.py --rounds 9 --seconds 2 --baseline /tmp/before

--baseline scalar runs this build again with the input stage one header at a
time (--force-max-simd-bitwidth 256) instead of eight per AVX-512 instruction.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--routes", type=int, default=10_000)
    p.add_argument("--flows", type=int, default=4096, help="distinct frames in the pcap")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--ipv6", action="store_true",
                   help="IPv6 routes (as an IPv6 DFZ: mostly /48) and the smallest IPv6 frames; "
                        "l3fwd in its LPM6 mode")
    p.add_argument("--baseline", metavar="TREE|scalar",
                   help="also run the appliance of this checkout (its module built in it, or "
                        "in TREE/.venv) in the same rounds, e.g. the previous release; "
                        "'scalar': this build with the input stage one header at a time")
    p.add_argument("--stage-clocks", action="store_true",
                   help="also run the appliance with rdtsc per pipeline stage: where the cycles go")
    p.add_argument("--rules", type=int, default=0,
                   help="exact-match rules loaded in the appliance, none matching the traffic")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        routes = (traffic.make_routes6 if args.ipv6 else traffic.make_routes)(args.routes)
        (work / "routes.txt").write_text("".join(f"{r}\n" for r in routes))
        frames = (traffic.make_frames6 if args.ipv6 else traffic.make_frames)(
            routes, args.flows, dst_mac=traffic.ROUTER_MAC)
        pcap = traffic.write_pcap(work / "traffic.pcap", frames)
        result = vdev.run(work, pcap, work / "routes.txt", args.rounds, args.seconds, args.cache,
                          args.baseline, args.stage_clocks,
                          ("--rules", str(args.rules)) if args.rules else ())
    frame_len = traffic.FRAME_LEN6 if args.ipv6 else traffic.FRAME_LEN
    result.update(routes=args.routes, flows=args.flows, frame_bytes=frame_len,
                  family="ipv6" if args.ipv6 else "ipv4")

    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['family']}: routes {args.routes}, flows {args.flows}, {frame_len}-byte frames, "
          f"1 worker core, medians of {result['rounds']} rounds")
    tc = result["total_cycles_per_packet"]
    for name, key in [("appliance", "appliance_mpps"),
                      ("  no cksum", "appliance_nocsum_mpps"), ("l3fwd (lpm)", "l3fwd_mpps"),
                      ("testpmd io", "testpmd_io_mpps")]:
        short = key.removesuffix("_mpps")
        print(f"  {name:<12} {result[key]:7.3f} Mpps  {tc[short]:6.1f} cycles/packet all in")
    print(f"  appliance / l3fwd      {result['ratio_vs_l3fwd']:.3f}  "
          f"(checksum verification off: {result['ratio_nocsum_vs_l3fwd']:.3f})")
    print(f"  appliance / testpmd io {result['ratio_vs_testpmd_io']:.3f}")
    if "ratio_vs_baseline" in result:
        print(f"  baseline {result['baseline_mpps']:.3f} Mpps, / l3fwd "
              f"{result['ratio_baseline_vs_l3fwd']:.3f}; appliance / baseline, paired per round "
              f"{result['ratio_vs_baseline']:.3f}")
    for label, key in [("stage clocks", "stage_cycles_per_packet"),
                       ("baseline's", "baseline_stage_cycles_per_packet")]:
        if key in result:
            print(f"  {label}: " + ", ".join(f"{s} {c}" for s, c in result[key].items() if c))
    print(f"  appliance processing   {result['cycles_per_packet']:.1f} cycles/packet "
          "(rx burst to tx flush, rdtsc)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
