#!/usr/bin/env python3
"""Benchmark: what 802.1Q sub-interfaces cost, untagged vs all traffic tagged, one worker.

    python3 bench/vlan_forwarding.py [--rounds 5] [--seconds 2] [--routes 10000] [--json]

The rig of bench/vdev_forwarding.py (net_pcap replaying 64-byte UDP frames from 4096
flows -> net_null, one worker core), in the same rounds:
- appliance: untagged frames in, untagged out (no sub-interfaces: today's path);
- appliance_tagged: the same frames tagged VLAN 10 (68 bytes) into sub-interface wan0.10,
  routed out of sub-interface lan0.20 (tagged on output): the tag taken off and put on;
- both again with stage clocks, for the cycles of the VLAN stage and of the tagging in
  the output stage (the target: <= 5 cycles/packet for the two together);
- l3fwd (LPM) on the untagged frames, as in every bench here.
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402


def tagged(frame: bytes, vlan: int) -> bytes:
    return frame[:12] + (0x8100).to_bytes(2, "big") + vlan.to_bytes(2, "big") + frame[12:]


def contenders(work: Path, l3fwd: Path, pcap: Path, tagged_pcap: Path, routes: Path):
    every = vdev.contenders(work, l3fwd, pcap, routes)
    plain = next(c for c in every if c.name == "appliance")
    command = [str(tagged_pcap) if a == str(pcap) else a for a in plain.command]
    command = [f"wan0=net_pcap0,rx_pcap={tagged_pcap},infinite_rx=1" if a.startswith("wan0=net_pcap0")
               else f"lan0.20={vdev.NEXTHOP_MAC}" if a == f"lan0={vdev.NEXTHOP_MAC}" else a
               for a in command]
    tags = vdev.Contender("appliance_tagged", [*command, "--vlan", "wan0.10", "--vlan", "lan0.20"],
                          plain.file_prefix)
    clocks = [vdev.Contender(f"{c.name}_clocks", [*c.command, "--stage-clocks"], c.file_prefix)
              for c in (plain, tags)]
    return [plain, tags, *clocks, next(c for c in every if c.name == "l3fwd")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--routes", type=int, default=10_000)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        routes = traffic.make_routes(args.routes)
        (work / "routes.txt").write_text("".join(f"{r}\n" for r in routes))
        frames = list(traffic.frame_bytes(routes, 4096, traffic.ROUTER_MAC))
        pcap = traffic.write_pcap(work / "untagged.pcap", frames)
        tagged_pcap = traffic.write_pcap(work / "tagged.pcap", [tagged(f, 10) for f in frames])
        l3fwd = vdev.build_l3fwd(args.cache)
        samples = vdev.rotated_rounds(
            lambda: contenders(work, l3fwd, pcap, tagged_pcap, work / "routes.txt"),
            args.rounds, args.seconds, work)
    med = {name: round(statistics.median(s.mpps for s in v), 3) for name, v in samples.items()}
    stages = {name: vdev.median_stages([vdev.stage_cycles_per_packet(s.extra["stats"])
                                        for s in samples[name]])
              for name in ("appliance_clocks", "appliance_tagged_clocks")}
    plain, tags = stages["appliance_clocks"], stages["appliance_tagged_clocks"]
    result = {
        "mpps": med,
        "ratio_tagged_vs_untagged": round(statistics.median(
            t.mpps / u.mpps for t, u in zip(samples["appliance_tagged"], samples["appliance"])), 3),
        "ratio_vs_l3fwd": round(statistics.median(
            a.mpps / b.mpps for a, b in zip(samples["appliance"], samples["l3fwd"])), 3),
        "ratio_tagged_vs_l3fwd": round(statistics.median(
            a.mpps / b.mpps for a, b in zip(samples["appliance_tagged"], samples["l3fwd"])), 3),
        "stage_cycles_per_packet": stages,
        # The tag taken off (the VLAN stage) and put on (the output stage's extra).
        "tag_cycles_per_packet": round(tags.get("vlan", 0) + tags["output"] - plain["output"], 1),
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"ipv4, {args.routes} routes, 4096 flows, 64-byte frames (68 tagged), 1 worker, "
          f"medians of {args.rounds} rounds")
    for name in ("appliance", "appliance_tagged", "l3fwd"):
        print(f"  {name:<18} {med[name]:7.3f} Mpps")
    print(f"  tagged / untagged {result['ratio_tagged_vs_untagged']:.3f}   untagged / l3fwd "
          f"{result['ratio_vs_l3fwd']:.3f}   tagged / l3fwd {result['ratio_tagged_vs_l3fwd']:.3f}")
    for label, s in (("untagged", plain), ("tagged", tags)):
        print(f"  stage clocks, {label}: " + ", ".join(f"{k} {v}" for k, v in s.items() if v))
    print(f"  tag handling: {result['tag_cycles_per_packet']} cycles/packet "
          "(VLAN stage + the output stage's extra)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
