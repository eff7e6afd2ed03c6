#!/usr/bin/env python3
"""Benchmark: what a VRRP master's virtual MAC costs the frames sent to it, one worker.

    python3 bench/vrrp_forwarding.py [--rounds 9] [--seconds 2] [--routes 10000]

The rig of bench/vdev_forwarding.py (net_pcap replaying 64-byte UDP frames -> net_null,
10,000 routes), every frame addressed to 00:00:5e:00:01:01, in the same rounds:
- appliance: the port's own MAC is that MAC: the common path, as if no VRRP were there;
- appliance_vrrp: the port has a MAC of its own and is the master (the owner) of VRID 1:
  each frame is matched against the interface's virtual MACs and its destination rewritten
  to the port's MAC before the input checks (vrrp/vrrp_macs.h);
- l3fwd (LPM), which reads no destination MAC.
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402

VMAC = "00:00:5e:00:01:01"


def contenders(work: Path, l3fwd: Path, pcap: Path, routes: Path) -> list[vdev.Contender]:
    every = vdev.contenders(work, l3fwd, pcap, routes)
    plain = next(c for c in every if c.name == "appliance")
    common = vdev.Contender("appliance", [*plain.command, "--mac", f"wan0={VMAC}"], plain.file_prefix)
    vrrp = vdev.Contender("appliance_vrrp", [*plain.command, "--address", "wan0=192.0.2.1/24",
                                             "--vrrp", "wan0=1=192.0.2.1"], plain.file_prefix)
    return [common, vrrp, next(c for c in every if c.name == "l3fwd")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--routes", type=int, default=10_000)
    p.add_argument("--flows", type=int, default=4096)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        routes = traffic.make_routes(args.routes)
        (work / "routes.txt").write_text("".join(f"{r}\n" for r in routes))
        pcap = traffic.write_pcap(work / "vmac.pcap", traffic.frame_bytes(routes, args.flows, VMAC))
        l3fwd = vdev.build_l3fwd(args.cache)
        samples = vdev.rotated_rounds(lambda: contenders(work, l3fwd, pcap, work / "routes.txt"),
                                      args.rounds, args.seconds, work)
    mpps = {name: statistics.median(s.mpps for s in v) for name, v in samples.items()}
    paired = statistics.median(a.mpps / b.mpps for a, b in zip(samples["appliance_vrrp"], samples["appliance"]))
    print(f"ipv4, {args.routes} routes, 64-byte frames to {VMAC}, 1 worker, medians of {args.rounds} rounds")
    print(f"  port MAC = the frames' MAC  {mpps['appliance']:.3f} Mpps")
    print(f"  VRRP master, virtual MAC    {mpps['appliance_vrrp']:.3f} Mpps  ({paired:.3f} paired)")
    print(f"  l3fwd (lpm)                 {mpps['l3fwd']:.3f} Mpps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
