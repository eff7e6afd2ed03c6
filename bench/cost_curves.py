#!/usr/bin/env python3
"""Benchmark: how the cost per packet grows with the work, beside l3fwd doing the same work.

    python3 bench/cost_curves.py [--routes 1000,10000,100000,1000000] [--flows 1,1024,65536,1048576]
                                 [--rules 0,1000,65536] [--sizes 64,128,256,512,1024,1518,imix]
                                 [--curves routes,flows,rules,size] [--rounds 3] [--seconds 2]
                                 [--output DIR]

Four curves, one worker core, 64-byte UDP frames, net_pcap -> net_null (bench/vdev_forwarding.py's
rig: the appliance, l3fwd LPM and testpmd io in the same rounds, and the appliance again with
its stage clocks on, for where the cycles go):
- routes: internet-shaped tables of each size (mostly /24, 2% longer: tbl8 groups), 4096 flows;
- distinct destinations: 1 to 1M flows over 100k routes (cache pressure on the table). net_pcap
  holds the whole pcap in mbufs, so every contender's pool is sized to it: 1M flows need
  about 3.1 GB of hugepages (the script says how many pages when the host has fewer);
- exact-match rules loaded (none matching: every packet pays a hash lookup that misses), 100k
  routes, 4096 flows; l3fwd LPM has no such stage and runs as it does without them;
- frame sizes 64..1518 bytes and IMIX (64/594/1518 at 7:4:1), 100k routes, 4096 flows: what a
  bigger frame costs in I/O (net_pcap copies it into the mbuf) beside what it costs nobody else.
Prints a table and writes cost_curves.json and cost_curves.png (Mpps and cycles per packet).
--curves runs some of them and keeps the others' points from an earlier cost_curves.json in
--output (each point says when it was measured).
"""
import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import frames, traffic, vdev  # noqa: E402

CURVES = ("routes", "flows", "rules", "size")
AXIS_LABELS = {"routes": "routes (internet-shaped)", "flows": "distinct destinations",
               "rules": "exact-match rules (none matching)",
               "size": "frame bytes with FCS (imix: 64/594/1518 at 7:4:1)"}


def point(work: Path, routes: list, flows: int, args, rules: int = 0, size: int | str = 64) -> dict:
    (work / "routes.txt").write_text("".join(f"{r}\n" for r in routes))
    pcap = traffic.write_pcap(work / "traffic.pcap", traffic.frame_bytes(
        routes, flows, dst_mac=traffic.ROUTER_MAC, frame_lens=frames.sequence(size)))
    mbufs = vdev.pool_mbufs(flows)
    check_hugepages(vdev.memory_mb(mbufs))
    r = vdev.run(work, pcap, work / "routes.txt", args.rounds, args.seconds, args.cache,
                 stage_clocks=True, appliance_args=("--rules", str(rules)),
                 # l3fwd's rte_lpm loads 1M routes in ~140 s; net_pcap reads 1M frames in ~10 s.
                 startup_s=120 + len(routes) / 3000 + flows / 50_000, mbufs=mbufs)
    return {"measured": datetime.date.today().isoformat(),
            "routes": len(routes), "flows": flows, "rules": rules, "size": size,
            "appliance_mpps": r["appliance_mpps"],
            "l3fwd_mpps": r["l3fwd_mpps"], "testpmd_io_mpps": r["testpmd_io_mpps"],
            "ratio_vs_l3fwd": r["ratio_vs_l3fwd"], "cycles_per_packet": r["cycles_per_packet"],
            "total_cycles_per_packet": r["total_cycles_per_packet"],
            "stage_cycles_per_packet": r["stage_cycles_per_packet"]}


def check_hugepages(needed_mb: int) -> None:
    """One contender runs at a time; it needs its pool (the whole pcap) in hugepages."""
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total_mb = int(meminfo["HugePages_Total"]) * int(meminfo["Hugepagesize"].split()[0]) // 1024
    if total_mb < needed_mb:
        sys.exit(f"this point needs {needed_mb} MB of hugepages, the host has {total_mb}: "
                 f"echo {needed_mb // 2 + 64} > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")


def table_text(curves: dict) -> str:
    """Markdown: one row per point; where the appliance's cycles go, from its stage clocks."""
    lines = ["| routes | flows | rules | frame | appliance Mpps | l3fwd Mpps | ratio "
             "| cycles/packet ours | l3fwd | testpmd io "
             "| stage clocks: rx / input / lookup / rules / output / tx |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for rows in curves.values():
        for r in rows:
            t, s = r["total_cycles_per_packet"], r["stage_cycles_per_packet"]
            split = " / ".join(f"{s[k]:.1f}" for k in ("rx", "input", "lookup", "rules", "output", "tx"))
            lines.append(f"| {r['routes']:,} | {r['flows']:,} | {r['rules']:,} | "
                         f"{r.get('size', 64)} | "
                         f"{r['appliance_mpps']:.2f} | {r['l3fwd_mpps']:.2f} | "
                         f"{r['ratio_vs_l3fwd']:.3f} | {t['appliance']:.1f} | {t['l3fwd']:.1f} | "
                         f"{t['testpmd_io']:.1f} | {split} |")
    return "\n".join(lines)


def plot(curves: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(curves), figsize=(5 * len(curves), 7), sharex="col",
                             squeeze=False)  # one curve alone is still a column
    for col, (axis, rows) in enumerate(curves.items()):
        # Frame sizes (with imix among them) are categories; the rest numbers on a log scale.
        x = list(range(len(rows))) if axis == "size" else [r[axis] for r in rows]
        mpps, cycles = axes[0][col], axes[1][col]
        for name, label in (("appliance", "appliance"), ("l3fwd", "l3fwd LPM"), ("testpmd_io", "testpmd io")):
            mpps.plot(x, [r[f"{name}_mpps"] for r in rows], marker="o", label=label)
            cycles.plot(x, [r["total_cycles_per_packet"][name] for r in rows], marker="o", label=label)
        mpps.set_ylabel("Mpps (1 core)")
        cycles.set_ylabel("cycles/packet, all in")
        cycles.set_xlabel(AXIS_LABELS[axis])
        for ax in (mpps, cycles):
            if axis == "size":
                ax.set_xticks(x, [str(r["size"]) for r in rows])
            else:
                ax.set_xscale("symlog" if 0 in x else "log")
            ax.grid(True, alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--routes", default="1000,10000,100000,1000000")
    p.add_argument("--flows", default="1,1024,65536,1048576")
    p.add_argument("--rules", default="0,1000,65536")
    p.add_argument("--sizes", default="64,128,256,512,1024,1518,imix")
    p.add_argument("--curves", default=",".join(CURVES), help="which curves to measure")
    p.add_argument("--table", type=int, default=100_000,
                   help="routes of the flows, rules and size curves")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench")
    p.add_argument("--output", type=Path, default=Path("bench/results"))
    args = p.parse_args()
    wanted = args.curves.split(",")
    if unknown := set(wanted) - set(CURVES):
        p.error(f"--curves: {', '.join(sorted(unknown))} (known: {', '.join(CURVES)})")
    saved = args.output / "cost_curves.json"
    curves: dict[str, list[dict]] = json.loads(saved.read_text()) if saved.exists() else {}
    curves = {c: [] if c in wanted else curves.get(c, []) for c in CURVES}
    table = traffic.make_internet_routes(args.table)
    points = [("flows", table, int(f), 0, 64) for f in args.flows.split(",")]
    points += [("rules", table, 4096, int(r), 64) for r in args.rules.split(",")]
    points += [("size", table, 4096, 0, s) for s in frames.parse_sizes(args.sizes)]
    # The routes curve last: its million-route point takes longest (l3fwd's load).
    points += [("routes", int(n), 4096, 0, 64) for n in args.routes.split(",")]
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-curves-") as tmp:
        for curve, routes, flows, rules, size in points:
            if curve not in wanted:
                continue
            if isinstance(routes, int):
                routes = traffic.make_internet_routes(routes)
            curves[curve].append(point(Path(tmp), routes, flows, args, rules, size))
            # Written as it goes: a point that fails later loses nothing measured.
            (args.output / "cost_curves.json").write_text(json.dumps(curves, indent=2))
    curves = {c: rows for c, rows in curves.items() if rows}
    plot(curves, args.output / "cost_curves.png")
    print(table_text(curves))
    print(f"wrote {args.output}/cost_curves.json and cost_curves.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
