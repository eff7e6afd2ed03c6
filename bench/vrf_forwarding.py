#!/usr/bin/env python3
"""Benchmark: what VRFs cost, traffic spread over 16 VRFs vs all in one, one worker.

    python3 bench/vrf_forwarding.py [--rounds 5] [--seconds 2] [--routes 10000] [--json]

The rig of bench/vdev_forwarding.py (net_pcap replaying 64-byte UDP frames -> net_null,
one worker core), the frames tagged round-robin with VLANs 101..116 (68 bytes) into 16
sub-interfaces of wan0, routed out of lan0. The routes are split in 16 shares, VLAN k's
256 flows (4096 in all) going to share k's prefixes. In the same rounds:
- appliance_one_vrf: the 16 sub-interfaces in the global VRF, with every route;
- appliance_16_vrfs: each sub-interface in a VRF of its own holding its share: the same
  routes and flows, the tables split 16 ways (each VRF's in on-demand memory);
- appliance_16_full: each of the 16 VRFs holding every route: 16 times the table memory
  the flows walk (the worst case: the lookups' working set is 16 tables' worth);
- each again with stage clocks (the lookup stage's cycles/packet);
- l3fwd (LPM) on the frames untagged, as in every bench here.
The target: appliance_16_vrfs within 5% of appliance_one_vrf. Each burst is split per
interface already (the VLAN stage), so a VRF only changes which table a sub-burst uses.
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402
from bench.vlan_forwarding import tagged  # noqa: E402

VLANS = range(101, 117)
NAMES = ("appliance_one_vrf", "appliance_16_vrfs", "appliance_16_full")


def contenders(work: Path, l3fwd: Path, pcap: Path, tagged_pcap: Path, routes: Path):
    every = vdev.contenders(work, l3fwd, pcap, routes)
    plain = next(c for c in every if c.name == "appliance")
    command = [f"wan0=net_pcap0,rx_pcap={tagged_pcap},infinite_rx=1" if a.startswith("wan0=net_pcap0")
               else a for a in plain.command]
    command += [arg for v in VLANS for arg in ("--vlan", f"wan0.{v}")]
    in_vrfs = [*command, *(arg for v in VLANS for arg in ("--vrf", f"wan0.{v}=v{v}"))]
    ours = [vdev.Contender(NAMES[0], command, plain.file_prefix),
            vdev.Contender(NAMES[1], [*in_vrfs, *(arg for v in VLANS for arg in (
                "--vrf-routes", f"v{v}={work / f'routes-{v}.txt'}"))], plain.file_prefix),
            vdev.Contender(NAMES[2], in_vrfs, plain.file_prefix)]
    clocks = [vdev.Contender(f"{c.name}_clocks", [*c.command, "--stage-clocks"], c.file_prefix)
              for c in ours]
    return [*ours, *clocks, next(c for c in every if c.name == "l3fwd")]


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
        shares = {v: routes[k::len(VLANS)] for k, v in enumerate(VLANS)}
        flows = {v: list(traffic.frame_bytes(share, 4096 // len(VLANS), traffic.ROUTER_MAC, seed=v))
                 for v, share in shares.items()}
        for v, share in shares.items():
            (work / f"routes-{v}.txt").write_text("".join(f"{r}\n" for r in share))
        # Round-robin over the VLANs, as bursts from a trunk mix them.
        frames = [flows[v][i] for i in range(4096 // len(VLANS)) for v in VLANS]
        pcap = traffic.write_pcap(work / "untagged.pcap", frames)
        tagged_pcap = traffic.write_pcap(work / "tagged.pcap", [
            tagged(f, VLANS[i % len(VLANS)]) for i, f in enumerate(frames)])
        l3fwd = vdev.build_l3fwd(args.cache)
        samples = vdev.rotated_rounds(
            lambda: contenders(work, l3fwd, pcap, tagged_pcap, work / "routes.txt"),
            args.rounds, args.seconds, work)
    med = {name: round(statistics.median(s.mpps for s in v), 3) for name, v in samples.items()}

    def ratio(a: str, b: str) -> float:
        return round(statistics.median(x.mpps / y.mpps for x, y in zip(samples[a], samples[b])), 3)

    result = {
        "mpps": med,
        "ratio_16_vs_1": ratio(NAMES[1], NAMES[0]),
        "ratio_16_full_vs_1": ratio(NAMES[2], NAMES[0]),
        "ratio_1_vs_l3fwd": ratio(NAMES[0], "l3fwd"),
        "stage_cycles_per_packet": {name: vdev.median_stages([
            vdev.stage_cycles_per_packet(s.extra["stats"]) for s in samples[f"{name}_clocks"]])
            for name in NAMES},
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"ipv4, {args.routes} routes, 4096 flows over 16 VLANs, 68-byte frames, 1 worker, "
          f"medians of {args.rounds} rounds")
    for name in (*NAMES, "l3fwd"):
        print(f"  {name:<18} {med[name]:7.3f} Mpps")
    print(f"  16 VRFs / 1 VRF {result['ratio_16_vs_1']:.3f}   16 full VRFs / 1 VRF "
          f"{result['ratio_16_full_vs_1']:.3f}   1 VRF / l3fwd (untagged) {result['ratio_1_vs_l3fwd']:.3f}")
    for name, s in result["stage_cycles_per_packet"].items():
        print(f"  stage clocks, {name}: " + ", ".join(f"{k} {v}" for k, v in s.items() if v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
