"""The cost of exceptions: transit rate with a share of slow-path traffic.

Each round runs the appliance twice on one worker core, pcap -> null: on
clean traffic, and on the same traffic with a share of frames at TTL 1
(each earns an ICMP time exceeded). Transit is the null port's opackets,
ICMP the pcap port's (the errors go back out of it), both sampled through
DPDK telemetry as in vdev.py.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from appliance.bench import traffic
from appliance.bench.telemetry import Telemetry
from appliance.bench.vdev import NEXTHOP_MAC, OUT_PORT

IN_PORT = 0
PREFIX = "bench-slowpath"


def serve_command(pcap: Path, routes: Path, icmp_rate: float) -> list[str]:
    return [sys.executable, "-m", "appliance.bench.serve", "--file-prefix", PREFIX,
            "--port", f"wan0=net_pcap0,rx_pcap={pcap},infinite_rx=1",
            "--port", "lan0=net_null0,no-rx=1", "--routes", str(routes),
            "--nexthop", f"lan0={NEXTHOP_MAC}", "--mac", f"wan0={traffic.ROUTER_MAC}",
            "--address", "wan0=198.18.255.254/15", "--icmp-rate", str(icmp_rate),
            "--return-route", f"198.18.0.0/16=wan0={traffic.SOURCE_MAC}"]


def measure(command: list[str], seconds: float, log: Path) -> tuple[float, float]:
    """(transit Mpps, ICMP errors per second) over `seconds` of steady state."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        with Telemetry(PREFIX, timeout=120) as tel:
            deadline = time.monotonic() + 120
            while tel.port_stats(OUT_PORT).get("opackets", 0) == 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the appliance forwarded nothing; see {log}")
                time.sleep(0.2)
            time.sleep(1.0)  # past the warm-up and the ICMP burst
            t0 = time.monotonic()
            out0, icmp0 = tel.port_stats(OUT_PORT)["opackets"], tel.port_stats(IN_PORT)["opackets"]
            time.sleep(seconds)
            t1 = time.monotonic()
            out1, icmp1 = tel.port_stats(OUT_PORT)["opackets"], tel.port_stats(IN_PORT)["opackets"]
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return (out1 - out0) / (t1 - t0) / 1e6, (icmp1 - icmp0) / (t1 - t0)


def run(work: Path, routes: list, flows: int, share: float, rounds: int, seconds: float,
        icmp_rate: float) -> dict:
    route_file = work / "routes.txt"
    route_file.write_text("".join(f"{r}\n" for r in routes))
    frames = traffic.make_frames(routes, flows, dst_mac=traffic.ROUTER_MAC)
    clean = traffic.write_pcap(work / "clean.pcap", frames)
    every = round(1 / share)
    for i in range(0, len(frames), every):  # the same frames, every Nth at TTL 1
        frames[i]["IP"].ttl = 1
        del frames[i]["IP"].chksum
    mixed = traffic.write_pcap(work / "mixed.pcap", frames)
    clean_mpps, mixed_mpps, icmp = [], [], []
    for r in range(rounds):
        c, _ = measure(serve_command(clean, route_file, icmp_rate), seconds, work / f"clean-{r}.log")
        m, i = measure(serve_command(mixed, route_file, icmp_rate), seconds, work / f"mixed-{r}.log")
        clean_mpps.append(c)
        mixed_mpps.append(m)
        icmp.append(i)
        print(f"  round {r + 1}/{rounds} clean {c:7.3f} Mpps, with {share:.0%} TTL 1 "
              f"{m:7.3f} Mpps, ICMP {i:8.1f}/s", file=sys.stderr, flush=True)
    # Transit packets in the mixed run are (1 - share) of the offered ones.
    transit = [m / (c * (1 - 1 / every)) for m, c in zip(mixed_mpps, clean_mpps)]
    return {
        "clean_mpps": round(statistics.median(clean_mpps), 3),
        "mixed_transit_mpps": round(statistics.median(mixed_mpps), 3),
        "transit_ratio": round(statistics.median(transit), 3),
        "icmp_per_s": round(statistics.median(icmp), 1),
        "icmp_rate_limit": icmp_rate,
        "slow_share": 1 / every,
        "rounds": rounds,
    }
