"""Forwarding throughput on vdevs: the appliance, DPDK's l3fwd and testpmd io.

All three run on the same single worker core, read the same pcap (net_pcap,
infinite_rx) and send to net_null; all three are measured the same way, by
sampling the null port's opackets through DPDK telemetry. They run one after
another, round after round, in an order rotated each round, so a noisy
neighbour (or the contender before) hits them alike.
"""
from __future__ import annotations

import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from appliance.bench import traffic
from appliance.bench.telemetry import Telemetry

L3FWD_SOURCES = Path("/usr/share/dpdk/examples")
NEXTHOP_MAC = "02:00:00:00:00:01"
OUT_PORT = 1  # ethdev id of net_null in every contender
# Every contender's mbuf pool: net_pcap's infinite_rx copies the whole pcap into it
# (64k frames and more); l3fwd's floor is patched to read L3FWD_MIN_MBUFS.
POOL_MBUFS = 1 << 17
MBUF_BYTES = 2432  # an mbuf of the default data room, with its headers, in the pool


def pool_mbufs(frames: int) -> int:
    """A pool that holds the pcap's frames with room for the rings and caches."""
    return max(POOL_MBUFS, frames + (1 << 16))


def memory_mb(mbufs: int) -> int:
    """Hugepage memory for a contender with a pool of `mbufs` and its tables."""
    return max(1024, mbufs * MBUF_BYTES // (1 << 20) + 512)


@dataclass
class Contender:
    name: str
    command: list[str]
    file_prefix: str


@dataclass
class Sample:
    mpps: float
    extra: dict = field(default_factory=dict)


def build_l3fwd(cache: Path) -> Path:
    """Builds the distro's l3fwd example, patched only to run on vdevs.

    vdevs have no rx checksum offload (l3fwd insists on it), its LPM is sized
    for its 16 demo routes and its ACL for 100k rules; nothing on the fast
    path is changed.
    """
    binary = cache / "l3fwd" / "build" / "l3fwd"
    if binary.exists() and "L3FWD_MIN_MBUFS" in (cache / "l3fwd" / "main.c").read_text() and \
            "(1 << 20)" in (cache / "l3fwd" / "l3fwd_acl.h").read_text():
        return binary
    if not (L3FWD_SOURCES / "l3fwd").is_dir():
        raise FileNotFoundError(f"{L3FWD_SOURCES}/l3fwd missing: apt-get install dpdk-doc")
    cache.mkdir(parents=True, exist_ok=True)
    for sub in ("l3fwd", "common"):
        shutil.rmtree(cache / sub, ignore_errors=True)
        shutil.copytree(L3FWD_SOURCES / sub, cache / sub)
    patch(cache / "l3fwd" / "main.c",
          ".offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,", ".offloads = 0,")
    patch(cache / "l3fwd" / "l3fwd_lpm.c",
          "#define IPV4_L3FWD_LPM_MAX_RULES         1024",
          "#define IPV4_L3FWD_LPM_MAX_RULES         (1 << 20)")
    patch(cache / "l3fwd" / "l3fwd_lpm.c",
          "#define IPV4_L3FWD_LPM_NUMBER_TBL8S (1 << 8)",
          "#define IPV4_L3FWD_LPM_NUMBER_TBL8S (1 << 16)")
    patch(cache / "l3fwd" / "l3fwd_lpm.c",
          "#define IPV6_L3FWD_LPM_MAX_RULES         1024",
          "#define IPV6_L3FWD_LPM_MAX_RULES         (1 << 20)")
    # --lookup acl: room for the bench's largest rule sets (100k and its routes).
    patch(cache / "l3fwd" / "l3fwd_acl.h", "#define MAX_ACL_RULE_NUM\t100000",
          "#define MAX_ACL_RULE_NUM\t(1 << 20)")
    # net_pcap's infinite_rx holds the whole pcap in the pool: its floor from the environment.
    patch(cache / "l3fwd" / "main.c", "(unsigned)8192)",
          '(unsigned)(getenv("L3FWD_MIN_MBUFS") ? atoi(getenv("L3FWD_MIN_MBUFS")) : 8192))')
    subprocess.run(["make", "-C", str(cache / "l3fwd"), "-j2"], check=True,
                   stdout=subprocess.DEVNULL)
    return binary


def patch(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise RuntimeError(f"{path}: '{old}' not found; the l3fwd sources changed")
    path.write_text(text.replace(old, new))


def eal(prefix: str, pcap: Path, lcores: str, mbufs: int) -> list[str]:
    return ["-l", lcores, "--no-pci", "--file-prefix", prefix, "-m", str(memory_mb(mbufs)),
            "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "--vdev", "net_null0,no-rx=1"]


# --baseline's other value: this build with the input stage one header at a time.
SCALAR = "scalar"


def baseline_contender(appliance: list[str], baseline: Path) -> Contender:
    """Another build of the appliance (a checkout with its module built, e.g. the
    previous release) in the same rounds: before/after without a day between."""
    tree = baseline.resolve()
    python = tree / ".venv" / "bin" / "python"
    if not python.exists() or not list((tree / "appliance").glob("_native*.so")):
        # Its own venv: ours imports our own tree whatever PYTHONPATH says (editable install).
        raise FileNotFoundError(f"{tree}: needs .venv/bin/python and appliance/_native*.so "
                                "(recipe in bench/vdev_forwarding.py)")
    command = ["env", "-C", str(tree), f"PYTHONPATH={tree}", str(python), *appliance[1:]]
    serve = (tree / "appliance" / "bench" / "serve.py").read_text()
    # Older builds: no MAC filter, a pool and memory sized by themselves.
    for option in ("--mac", "--mbufs", "--memory-mb"):
        if option not in serve:
            i = command.index(option)
            del command[i:i + 2]
    return Contender("appliance_baseline", command, "bench-appliance")


def contenders(work: Path, l3fwd: Path, pcap: Path, routes: Path,
               baseline: Path | str | None = None, stage_clocks: bool = False,
               appliance_args: tuple[str, ...] = (), mbufs: int = POOL_MBUFS) -> list[Contender]:
    # l3fwd reads one rule file per family and needs a rule in each.
    prefixes = [line.split()[0] for line in routes.open() if line.strip()]
    v4 = [p for p in prefixes if ":" not in p] or ["16.0.0.0/4"]
    v6 = [p for p in prefixes if ":" in p] or ["2001:db8::/32"]
    lpm_rules = work / "l3fwd_v4.cfg"
    lpm_rules.write_text("".join(f"R{p} {OUT_PORT}\n" for p in v4))
    (work / "l3fwd_v6.cfg").write_text("".join(f"R{p} {OUT_PORT}\n" for p in v6))
    appliance = [
        sys.executable, "-m", "appliance.bench.serve", "--file-prefix", "bench-appliance",
        "--port", f"wan0=net_pcap0,rx_pcap={pcap},infinite_rx=1",
        "--port", "lan0=net_null0,no-rx=1", "--routes", str(routes),
        "--nexthop", f"lan0={NEXTHOP_MAC}", "--mac", f"wan0={traffic.ROUTER_MAC}",
        "--mbufs", str(mbufs), "--memory-mb", str(memory_mb(mbufs)), *appliance_args]
    ours = Contender("appliance", appliance, "bench-appliance")
    before = []
    if baseline == SCALAR:  # this build with the one-by-one input stage
        before = [Contender("appliance_baseline", [*appliance, "--max-simd-bitwidth", "256"],
                            "bench-appliance")]
    elif baseline:
        before = [baseline_contender(appliance, Path(baseline))]
    clocks = []  # where the cycles go: rdtsc per stage (costs some: contenders of their own)
    if stage_clocks:
        clocks = [Contender(f"{c.name}_clocks", [*c.command, "--stage-clocks"], c.file_prefix)
                  for c in [ours, *before]]
    return [
        ours,
        *before,
        # l3fwd does not verify IPv4 checksums: the same work, for comparison.
        Contender("appliance_nocsum", [*appliance, "--no-verify-checksum"], "bench-appliance"),
        *clocks,
        Contender("l3fwd", [
            # l3fwd opens a tx queue per lcore and pcap has one: give it
            # only the forwarding lcore (its main lcore forwards too).
            "env", f"L3FWD_MIN_MBUFS={mbufs}",  # env execs l3fwd: the pid stays the same
            str(l3fwd), *eal("bench-l3fwd", pcap, "1", mbufs), "--", "-p", "0x3", "-P",
            "--config", "(0,0,1),(1,0,1)", f"--eth-dest={OUT_PORT},{NEXTHOP_MAC}",
            "--lookup", "lpm", "--parse-ptype",
            "--rule_ipv4", str(lpm_rules), "--rule_ipv6", str(work / "l3fwd_v6.cfg")],
            "bench-l3fwd"),
        Contender("testpmd_io", [
            "dpdk-testpmd", *eal("bench-testpmd", pcap, "0,1", mbufs), "--", "--forward-mode=io",
            "--auto-start", "--stats-period", "60", "--nb-cores", "1",
            f"--total-num-mbufs={mbufs}"], "bench-testpmd"),
    ]


def measure(c: Contender, seconds: float, log: Path, startup_s: float = 120) -> Sample:
    """Starts the contender, waits for traffic (up to `startup_s`: l3fwd loads a million
    routes in ~140 s), samples opackets over `seconds`."""
    with log.open("w") as out:
        proc = subprocess.Popen(c.command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        with Telemetry(c.file_prefix, timeout=startup_s) as tel:
            deadline = time.monotonic() + startup_s
            while tel.port_stats(OUT_PORT).get("opackets", 0) == 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{c.name} forwarded nothing; see {log}")
                time.sleep(0.2)
            time.sleep(0.5)  # past the warm-up
            t0, p0 = time.monotonic(), tel.port_stats(OUT_PORT)["opackets"]
            time.sleep(seconds)
            t1, p1 = time.monotonic(), tel.port_stats(OUT_PORT)["opackets"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    extra = {}
    if c.name.startswith("appliance"):
        last = log.read_text().strip().splitlines()[-1]
        extra = json.loads(last)
    return Sample((p1 - p0) / (t1 - t0) / 1e6, extra)


def run(work: Path, pcap: Path, routes: Path, rounds: int, seconds: float,
        cache: Path, baseline: Path | str | None = None, stage_clocks: bool = False,
        appliance_args: tuple[str, ...] = (), startup_s: float = 120,
        mbufs: int = POOL_MBUFS) -> dict:
    l3fwd = build_l3fwd(cache)
    return summarize(rotated_rounds(
        lambda: contenders(work, l3fwd, pcap, routes, baseline, stage_clocks, appliance_args, mbufs),
        rounds, seconds, work, startup_s))


def rotated_rounds(make: Callable[[], list[Contender]], rounds: int, seconds: float, work: Path,
                   startup_s: float = 120) -> dict[str, list[Sample]]:
    """Every contender `make()` lists, once a round; their samples by name."""
    results: dict[str, list[Sample]] = {}
    for r in range(rounds):
        # Rotated each round: whoever runs right after testpmd (both cores
        # busy) was seen to lose up to ~10%, so no contender keeps that seat.
        order = make()
        order = order[r % len(order):] + order[:r % len(order)]
        for c in order:
            sample = measure(c, seconds, work / f"{c.name}-{r}.log", startup_s)
            results.setdefault(c.name, []).append(sample)
            print(f"  round {r + 1}/{rounds} {c.name:<20} {sample.mpps:7.3f} Mpps",
                  file=sys.stderr, flush=True)
    return results


def summarize(results: dict[str, list[Sample]]) -> dict:
    med = {name: statistics.median(s.mpps for s in samples) for name, samples in results.items()}
    ratios = [a.mpps / b.mpps for a, b in zip(results["appliance"], results["l3fwd"])]
    ratios_nocsum = [a.mpps / b.mpps
                     for a, b in zip(results["appliance_nocsum"], results["l3fwd"])]
    ours = [s.extra for s in results["appliance"]]
    baseline = {}
    if "appliance_baseline" in results:
        b = results["appliance_baseline"]
        baseline = {
            "baseline_mpps": round(med["appliance_baseline"], 3),
            "ratio_baseline_vs_l3fwd": round(statistics.median(
                x.mpps / y.mpps for x, y in zip(b, results["l3fwd"])), 3),
            "ratio_vs_baseline": round(statistics.median(
                x.mpps / y.mpps for x, y in zip(results["appliance"], b)), 3),
            "baseline_cycles_per_packet": round(statistics.median(
                s.extra["stats"]["cycles_per_packet"] for s in b), 1),
        }
    clocks = {key: median_stages([stage_cycles_per_packet(s.extra["stats"]) for s in results[name]])
              for name, key in (("appliance_clocks", "stage_cycles_per_packet"),
                                ("appliance_baseline_clocks", "baseline_stage_cycles_per_packet"))
              if name in results}
    cpp = statistics.median(e["stats"]["cycles_per_packet"] for e in ours)
    tsc_hz = ours[0]["tsc_hz"]
    return {
        "appliance_mpps": round(med["appliance"], 3),
        "l3fwd_mpps": round(med["l3fwd"], 3),
        "testpmd_io_mpps": round(med["testpmd_io"], 3),
        "appliance_nocsum_mpps": round(med["appliance_nocsum"], 3),
        "ratio_vs_l3fwd": round(statistics.median(ratios), 3),
        "ratio_nocsum_vs_l3fwd": round(statistics.median(ratios_nocsum), 3),
        "ratio_vs_testpmd_io": round(med["appliance"] / med["testpmd_io"], 3),
        "cycles_per_packet": round(cpp, 1),
        "total_cycles_per_packet": {
            name: round(tsc_hz / (m * 1e6), 1) for name, m in med.items()},
        "tsc_ghz": round(tsc_hz / 1e9, 3),
        "samples_mpps": {name: [round(s.mpps, 3) for s in v] for name, v in results.items()},
        "rounds": len(ratios),
        **baseline,
        **clocks,
    }


def median_stages(runs: list[dict[str, float]]) -> dict[str, float]:
    return {stage: round(statistics.median(r[stage] for r in runs), 1) for stage in runs[0]}


def stage_cycles_per_packet(stats: dict) -> dict[str, float]:
    """Each pipeline stage's rdtsc cycles per packet received, over all workers."""
    packets = sum(w["busy_packets"] for w in stats["workers"]) or 1
    stages = stats["workers"][0]["stage_cycles"]
    return {s: sum(w["stage_cycles"][s] for w in stats["workers"]) / packets for s in stages}
