#!/usr/bin/env python3
"""Benchmark: what an ACL costs, by size, beside l3fwd's ACL mode doing the same work.

    python3 bench/acl_curve.py [--sizes 1,10,100,1000,10000] [--rounds 3] [--seconds 2]
                               [--traffic early,late,none] [--output DIR]

One worker core, 64-byte UDP frames from 4096 flows, net_pcap -> net_null (the rig of
bench/vdev_forwarding.py). Each size is a realistic mix of entries (source and destination
prefixes /8../32, TCP and UDP, port ranges, some protocol-only) none of which matches the
traffic, plus, for "early" and "late" traffic, one permit entry that does (first or last);
for "none" the default (permit) decides. In the same rounds:
- appliance_acl: the ACL bound in on the input port (route lookup, then the ACL);
- appliance: no ACL (what the ACL stage adds is the difference);
- appliance_acl_clocks: the same with stage clocks on, for the ACL stage's cycles per packet;
- appliance_acl_nocsum: the same without IPv4 checksum verification (l3fwd verifies none:
  the same work as l3fwd's);
- l3fwd_acl: `dpdk-l3fwd --lookup acl` with the same entries in its rule-file format (deny
  entries as '@' rules, the permit entry and a catch-all as 'R' routes to the output port:
  its one classify both filters and routes).
It also replaces the ACL whole every 0.2 s under the same traffic (appliance_acl_replace)
and reports each build's time and whether any packet was lost. Prints a table and writes
acl_curve.json and acl_curve.png.
"""
import argparse
import datetime
import ipaddress
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402

FLOWS = 4096
ROUTES = 1000
SRC_NET = ipaddress.ip_network("198.18.0.0/16")  # the traffic's sources (traffic.py)
MATCH = {"action": "permit", "src": "198.18.0.0/16", "dst": "16.0.0.0/4", "proto": "udp",
         "dst_port": 5000}


def entries(count: int, seed: int = 7) -> list[dict]:
    """`count` deny entries shaped like a real edge policy; none matches the traffic (their
    sources are outside 198.18/15)."""
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        src = ipaddress.ip_network((rng.getrandbits(32), rng.choice([8, 12, 16, 20, 24, 28, 32])),
                                   strict=False)
        if src.overlaps(ipaddress.ip_network("198.18.0.0/15")) or src.is_multicast or \
                src.prefixlen < 12 and rng.random() < 0.5:
            continue
        e = {"action": "deny", "src": str(src)}
        if rng.random() < 0.7:
            e["dst"] = str(ipaddress.ip_network(
                ((1 << 28) | rng.getrandbits(28), rng.choice([16, 20, 24, 32])), strict=False))
        kind = rng.random()
        if kind < 0.8:
            e["proto"] = rng.choice(["tcp", "udp"])
            lo = rng.choice([0, 22, 53, 80, 443, 1024, 3306, 5000, 8080, 49152])
            if rng.random() < 0.6:
                e["dst_port"] = lo if rng.random() < 0.5 else f"{lo}-{min(65535, lo + rng.choice([10, 100, 1000, 16383]))}"
            if rng.random() < 0.2:
                e["src_port"] = "1024-65535"
        elif kind < 0.9:
            e["proto"] = rng.choice(["icmp", "gre", "esp"])
        out.append(e)
    return out


def our_acl(size: int, where: str) -> dict:
    deny = entries(size - (where != "none"))
    if where == "early":
        return {"default": "permit", "entries": [MATCH, *deny]}
    if where == "late":
        return {"default": "permit", "entries": [*deny, MATCH]}
    return {"default": "permit", "entries": deny}


def l3fwd_rule(e: dict, lead: str, port: int | None = None) -> str:
    """One line of l3fwd's ACL rule file: @ (deny) or R (route to `port`)."""
    def ports(key: str) -> str:
        lo, _, hi = str(e.get(key, "0-65535")).partition("-")
        return f"{lo} : {hi or lo}"
    proto = {"tcp": 6, "udp": 17, "icmp": 1, "gre": 47, "esp": 50}.get(e.get("proto"))
    return (f"{lead}{e.get('src', '0.0.0.0/0')} {e.get('dst', '0.0.0.0/0')} "
            f"{ports('src_port')} {ports('dst_port')} "
            + (f"0x{proto:02x}/0xff" if proto is not None else "0x00/0x00")
            + (f" {port}" if port is not None else "") + "\n")


def l3fwd_rules(acl: dict, v4: Path, v6: Path) -> None:
    everything = {"src": "0.0.0.0/0", "dst": "0.0.0.0/0"}
    lines = [l3fwd_rule(e, "R", vdev.OUT_PORT) if e["action"] == "permit" else l3fwd_rule(e, "@")
             for e in acl["entries"]]
    v4.write_text("".join(lines) + l3fwd_rule(everything, "R", vdev.OUT_PORT))
    v6.write_text(f"R0:0:0:0:0:0:0:0/0 0:0:0:0:0:0:0:0/0 0 : 65535 0 : 65535 0x00/0x00 "
                  f"{vdev.OUT_PORT}\n")


def contenders(work: Path, l3fwd: Path, pcap: Path, routes: Path, acl_file: Path,
               with_plain: bool) -> list[vdev.Contender]:
    base = [c for c in vdev.contenders(work, l3fwd, pcap, routes) if c.name == "appliance"][0]
    ours = vdev.Contender("appliance_acl", [*base.command, "--acl", str(acl_file)], base.file_prefix)
    out = [ours, vdev.Contender("appliance_acl_clocks", [*ours.command, "--stage-clocks"],
                                base.file_prefix),
           # l3fwd verifies no IPv4 checksum: the same work, for the comparison.
           vdev.Contender("appliance_acl_nocsum", [*ours.command, "--no-verify-checksum"],
                          base.file_prefix)]
    if with_plain:
        out.append(base)
    out.append(vdev.Contender("l3fwd_acl", [
        "env", f"L3FWD_MIN_MBUFS={vdev.POOL_MBUFS}", str(l3fwd),
        *vdev.eal("bench-l3fwd", pcap, "1", vdev.POOL_MBUFS), "--", "-p", "0x3", "-P",
        "--config", "(0,0,1),(1,0,1)", f"--eth-dest={vdev.OUT_PORT},{vdev.NEXTHOP_MAC}",
        "--lookup", "acl", "--parse-ptype", "--rule_ipv4", str(work / "acl_v4.rules"),
        "--rule_ipv6", str(work / "acl_v6.rules")], "bench-l3fwd"))
    return out


def point(work: Path, l3fwd: Path, pcap: Path, routes: Path, size: int, where: str,
          args) -> dict:
    acl = our_acl(size, where)
    acl_file = work / "acl.json"
    acl_file.write_text(json.dumps(acl))
    l3fwd_rules(acl, work / "acl_v4.rules", work / "acl_v6.rules")
    startup = 60 + size / 500  # l3fwd and the appliance build the classifier before forwarding
    samples: dict[str, list[vdev.Sample]] = {}
    for r in range(args.rounds):
        order = contenders(work, l3fwd, pcap, routes, acl_file, where == "none")
        order = order[r % len(order):] + order[:r % len(order)]
        for c in order:
            s = vdev.measure(c, args.seconds, work / f"{c.name}-{size}-{where}-{r}.log", startup)
            samples.setdefault(c.name, []).append(s)
            print(f"  {size:>6} {where:<5} round {r + 1}/{args.rounds} {c.name:<20} "
                  f"{s.mpps:7.3f} Mpps", file=sys.stderr, flush=True)
    replace = vdev.Contender("appliance_acl_replace", [
        *contenders(work, l3fwd, pcap, routes, acl_file, False)[0].command,
        "--acl-replace-every", "0.2"], "bench-appliance")
    rs = vdev.measure(replace, max(args.seconds, 3), work / f"replace-{size}-{where}.log", startup)
    med = {n: statistics.median(s.mpps for s in v) for n, v in samples.items()}
    ours = samples["appliance_acl"][0].extra["acl"]
    clocks = [vdev.stage_cycles_per_packet(s.extra["stats"]) for s in samples["appliance_acl_clocks"]]
    replaced = rs.extra
    drops = sum(replaced["stats"]["drops"].values())
    return {
        "measured": datetime.date.today().isoformat(), "entries": size, "traffic": where,
        "appliance_acl_mpps": round(med["appliance_acl"], 3),
        "appliance_mpps": round(med["appliance"], 3) if "appliance" in med else None,
        "l3fwd_acl_mpps": round(med["l3fwd_acl"], 3),
        "ratio_vs_l3fwd_acl": round(statistics.median(
            a.mpps / b.mpps for a, b in zip(samples["appliance_acl"], samples["l3fwd_acl"])), 3),
        "appliance_acl_nocsum_mpps": round(med["appliance_acl_nocsum"], 3),
        "ratio_nocsum_vs_l3fwd_acl": round(statistics.median(
            a.mpps / b.mpps for a, b in zip(samples["appliance_acl_nocsum"], samples["l3fwd_acl"])), 3),
        "acl_stage_cycles": round(statistics.median(c["acl"] for c in clocks), 1),
        "stage_cycles_per_packet": vdev.median_stages(clocks),
        "build_s": round(ours["build_s"], 4), "memory_bytes": ours["memory"],
        "replace_mpps": round(rs.mpps, 3),
        "replaces": len(replaced["acl"]["replace_s"]),
        "replace_s_max": round(max(replaced["acl"]["replace_s"], default=0), 4),
        "replace_s_median": round(statistics.median(replaced["acl"]["replace_s"] or [0]), 4),
        # Both versions permit the traffic: a packet dropped for any reason was lost to a replace.
        "replace_lost": drops,
        "samples_mpps": {n: [round(s.mpps, 3) for s in v] for n, v in samples.items()},
    }


def table_text(points: list[dict]) -> str:
    lines = ["| entries | traffic | appliance + ACL Mpps | appliance, no ACL | l3fwd --lookup acl "
             "| ratio | ratio, no checksum check | ACL stage cycles/pkt | build s | memory KiB "
             "| replace: builds, max s, lost |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for p in points:
        plain = f"{p['appliance_mpps']:.2f}" if p["appliance_mpps"] else "-"
        lines.append(f"| {p['entries']:,} | {p['traffic']} | {p['appliance_acl_mpps']:.2f} | {plain} "
                     f"| {p['l3fwd_acl_mpps']:.2f} | {p['ratio_vs_l3fwd_acl']:.3f} "
                     f"| {p['ratio_nocsum_vs_l3fwd_acl']:.3f} "
                     f"| {p['acl_stage_cycles']:.1f} | {p['build_s']:.3f} "
                     f"| {p['memory_bytes'] // 1024:,} "
                     f"| {p['replaces']}, {p['replace_s_max']:.3f}, {p['replace_lost']} |")
    return "\n".join(lines)


def plot(points: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (mpps, cycles) = plt.subplots(1, 2, figsize=(11, 4))
    for where, style in (("early", "-"), ("late", "--"), ("none", ":")):
        rows = [p for p in points if p["traffic"] == where]
        if not rows:
            continue
        x = [p["entries"] for p in rows]
        mpps.plot(x, [p["appliance_acl_mpps"] for p in rows], "C0" + style, marker="o",
                  label=f"appliance + ACL ({where})")
        mpps.plot(x, [p["l3fwd_acl_mpps"] for p in rows], "C1" + style, marker="s",
                  label=f"l3fwd --lookup acl ({where})")
        cycles.plot(x, [p["acl_stage_cycles"] for p in rows], "C0" + style, marker="o",
                    label=f"ACL stage ({where})")
    plain = [p for p in points if p["appliance_mpps"]]
    if plain:
        mpps.plot([p["entries"] for p in plain], [p["appliance_mpps"] for p in plain], "C2-",
                  marker="^", label="appliance, no ACL")
    for ax, label in ((mpps, "Mpps, one core, 64 B"), (cycles, "cycles per packet")):
        ax.set_xscale("log")
        ax.set_xlabel("ACL entries")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    cycles.axhline(40, color="grey", linewidth=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1,10,100,1000,10000")
    p.add_argument("--traffic", default="early,late,none")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--output", type=Path, default=Path("build/bench"))
    p.add_argument("--cache", type=Path, default=Path("build/bench-cache"))
    args = p.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    points = []
    with tempfile.TemporaryDirectory(prefix="acl-curve-") as tmp:
        work = Path(tmp)
        l3fwd = vdev.build_l3fwd(args.cache)
        route_list = traffic.make_routes(ROUTES)
        routes = work / "routes.txt"
        routes.write_text("".join(f"{r}\n" for r in route_list))
        pcap = traffic.write_pcap(work / "traffic.pcap", traffic.frame_bytes(
            route_list, FLOWS, dst_mac=traffic.ROUTER_MAC))
        for size in (int(s) for s in args.sizes.split(",")):
            for where in args.traffic.split(","):
                points.append(point(work, l3fwd, pcap, routes, size, where, args))
                print(table_text(points[-1:]).splitlines()[-1], flush=True)
    (args.output / "acl_curve.json").write_text(json.dumps(points, indent=1))
    plot(points, args.output / "acl_curve.png")
    print(table_text(points))
    return 0


if __name__ == "__main__":
    sys.exit(main())
