#!/usr/bin/env python3
"""Benchmark: what connection tracking and NAT44 cost per packet, one worker.

    python3 bench/conntrack_forwarding.py [--rounds 5] [--seconds 2] [--flows 1024,65536]
                                          [--session-rate 1000000]

The rig of bench/vdev_forwarding.py (net_pcap replaying 64-byte UDP frames -> net_null,
10,000 routes, one worker core), per flow count (each flow one session), in the same rounds:
- appliance: plain forwarding;
- appliance_stateful: lan0 (where every frame leaves) stateful: each frame's session is
  looked up and refreshed (the first pass of the pcap creates them: established after);
- appliance_nat: lan0 also translates sources to a /24 pool (each frame's session found
  and its addresses, port and checksums rewritten);
- the same two with stage clocks (the conntrack stage's cycles/packet, NAT included);
- l3fwd (LPM), as in every bench here.

--session-rate N: new sessions per second. A pcap of N flows, each frame a new one, is
replayed once into the NAT contender; the out port's counter is read every 20 ms from the
first frame out until N frames are out: every one of them started a session (created a
NAT mapping, took a port, rewrote the frame), so N over that time is the rate.
"""
import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.bench import traffic, vdev  # noqa: E402
from appliance.bench.telemetry import Telemetry  # noqa: E402

POOL = "198.51.100.0/24"  # the NAT contender's public addresses


def contenders(work: Path, l3fwd: Path, pcap: Path, routes: Path, sessions: int, frames: int,
               baseline: Path | None = None):
    mbufs = vdev.pool_mbufs(frames)
    every = vdev.contenders(work, l3fwd, pcap, routes, mbufs=mbufs)
    plain = next(c for c in every if c.name == "appliance")
    memory = vdev.memory_mb(mbufs) + sessions * 512 // (1 << 20)  # (a session, its keys, a mapping)
    stateful = vdev.Contender("appliance_stateful", [
        *plain.command, "--conntrack", str(sessions), "--stateful", "lan0", "--memory-mb", str(memory)],
        plain.file_prefix)
    nat = vdev.Contender("appliance_nat", [*stateful.command, "--nat", f"lan0={POOL}"], plain.file_prefix)
    clocks = [vdev.Contender(f"{c.name}_clocks", [*c.command, "--stage-clocks"], plain.file_prefix)
              for c in (stateful, nat)]
    before = []  # another build's stateful forwarding, in the same rounds
    if baseline:
        b = vdev.baseline_contender(stateful.command, baseline)
        before = [vdev.Contender("appliance_stateful_baseline", b.command, b.file_prefix)]
    return [plain, stateful, nat, *before, *clocks, next(c for c in every if c.name == "l3fwd")]


def session_rate(work: Path, l3fwd: Path, routes: list, flows: int, rounds: int) -> list[float]:
    """New sessions per second, each round: the time the first pass of `flows` new flows
    takes to come out (see the module's docstring)."""
    pcap = traffic.write_pcap(work / f"new-{flows}.pcap",
                              traffic.frame_bytes(routes, flows, traffic.ROUTER_MAC, seed=7))
    sessions = 1 << (2 * flows - 1).bit_length()
    [nat] = [c for c in contenders(work, l3fwd, pcap, work / "routes.txt", sessions, flows)
             if c.name == "appliance_nat"]
    rates = []
    for r in range(rounds):
        log = work / f"session-rate-{r}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(nat.command, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        try:
            with Telemetry(nat.file_prefix, timeout=120) as tel:
                first = None
                while True:
                    now, sent = time.monotonic(), tel.port_stats(vdev.OUT_PORT).get("opackets", 0)
                    if proc.poll() is not None:
                        raise RuntimeError(f"the appliance stopped; see {log}")
                    if sent and first is None:
                        first = (now, sent)
                    if sent >= flows:
                        break
                    time.sleep(0.02)
                rates.append((sent - first[1]) / (now - first[0]))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        created = json.loads(log.read_text().strip().splitlines()[-1])["stats"]["conntrack"]["created"]
        if created < flows:
            raise RuntimeError(f"{created} sessions for {flows} flows; see {log}")
        print(f"  round {r + 1}/{rounds} session rate {rates[-1] / 1e6:.3f} M/s", file=sys.stderr)
    return rates


def plot(results: dict, rate: float | None, path: Path) -> None:
    """Mpps by session count: plain, stateful, NAT, l3fwd; the new-session rate noted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    flows = list(results)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, label in (("appliance", "plain forwarding"), ("appliance_stateful", "stateful (conntrack)"),
                        ("appliance_nat", "stateful + NAT44"), ("l3fwd", "l3fwd LPM")):
        ax.plot(flows, [results[f]["mpps"][name] for f in flows], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("established sessions (flows)")
    ax.set_ylabel("Mpps (1 core, 64-byte frames)")
    if rate:
        ax.set_title(f"new sessions (NAT44): {rate / 1e6:.2f} M/s", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--routes", type=int, default=10_000)
    p.add_argument("--flows", default="1024,65536", help="comma-separated flow counts")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "appliance-bench")
    p.add_argument("--session-rate", type=int, default=0, metavar="FLOWS",
                   help="also new sessions/s, over a pass of this many new flows")
    p.add_argument("--baseline", type=Path, help="a checkout with its module built (recipe in "
                   "bench/vdev_forwarding.py): its stateful forwarding in the same rounds")
    p.add_argument("--plot", type=Path, help="a PNG of Mpps by session count")
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
                lambda: contenders(work, l3fwd, pcap, work / "routes.txt", sessions, flows, args.baseline),
                args.rounds, args.seconds, work)
            clocks = {name: vdev.median_stages([vdev.stage_cycles_per_packet(s.extra["stats"])
                                                for s in samples[f"appliance_{name}_clocks"]])
                      for name in ("stateful", "nat")}

            def ratio(name: str) -> float:
                return round(statistics.median(
                    a.mpps / b.mpps for a, b in zip(samples[name], samples["appliance"])), 3)
            results[flows] = {
                "mpps": {n: round(statistics.median(s.mpps for s in v), 3) for n, v in samples.items()},
                "ratio_stateful_vs_plain": ratio("appliance_stateful"),
                "ratio_nat_vs_plain": ratio("appliance_nat"),
                **({"ratio_stateful_vs_baseline": round(statistics.median(
                    a.mpps / b.mpps for a, b in zip(samples["appliance_stateful"],
                                                    samples["appliance_stateful_baseline"])), 3)}
                   if args.baseline else {}),
                "conntrack_cycles_per_packet": clocks["stateful"].get("conntrack", 0),
                "nat_cycles_per_packet": clocks["nat"].get("conntrack", 0),
                "stage_cycles_per_packet": clocks,
                "sessions": samples["appliance_nat"][-1].extra["stats"]["conntrack"]["sessions"],
            }
        if args.session_rate:
            rates = session_rate(work, l3fwd, routes, args.session_rate, args.rounds)
            results["session_rate_per_s"] = round(statistics.median(rates))
    rate = results.get("session_rate_per_s")
    if args.plot:
        plot({k: v for k, v in results.items() if k != "session_rate_per_s"}, rate, args.plot)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"ipv4, {args.routes} routes, 64-byte frames, 1 worker, medians of {args.rounds} rounds")
    results.pop("session_rate_per_s", None)
    for flows, r in results.items():
        m = r["mpps"]
        print(f"  {flows:>7} sessions: plain {m['appliance']:.3f} Mpps, stateful "
              f"{m['appliance_stateful']:.3f} ({r['ratio_stateful_vs_plain']:.3f} of plain), NAT "
              f"{m['appliance_nat']:.3f} ({r['ratio_nat_vs_plain']:.3f}), l3fwd {m['l3fwd']:.3f}; "
              f"conntrack stage {r['conntrack_cycles_per_packet']} cycles/packet, with NAT "
              f"{r['nat_cycles_per_packet']} ({r['sessions']} sessions)")
        if "ratio_stateful_vs_baseline" in r:
            print(f"           stateful vs the baseline build: {r['ratio_stateful_vs_baseline']:.3f} "
                  f"({m['appliance_stateful_baseline']:.3f} Mpps)")
    if rate is not None:
        print(f"  new sessions (NAT): {rate / 1e6:.3f} M/s over {args.session_rate} new flows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
