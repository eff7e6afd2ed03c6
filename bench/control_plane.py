#!/usr/bin/env python3
"""Benchmark: the control plane through the Python Client, while forwarding.

    python3 bench/control_plane.py [--bulk-routes 1000000] [--adds 2000] [--churn-seconds 10] [--json]

Starts `appliance run --config` on vdevs (net_pcap replaying frames to one
stable prefix, to net_null) with a state file, then measures through the
Client: a bulk load (end to end: JSON, socket, validation, tables, state
file), single route add round trips (p50/p99), and route add/delete churn
per second while checking that not one packet to the stable prefix is lost.
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import Client  # noqa: E402


WAN_MAC = "02:00:00:00:0a:01"  # frames are addressed to the router, as on a real link


def start(work: Path, max_routes: int) -> tuple[subprocess.Popen, str]:
    pcap = work / "stable.pcap"
    wrpcap(str(pcap), [Ether(dst=WAN_MAC) / IP(src="192.0.2.1", dst=f"10.1.{i}.1") / UDP(sport=i) / (b"\0" * 18)
                       for i in range(256)])
    sock = str(work / "api.sock")
    config = {
        "eal": {"main_lcore": 0, "worker_lcores": [1], "memory_mb": 1024, "file_prefix": "bench-cp"},
        "ports": [{"name": "wan0", "device": f"net_pcap_cp,rx_pcap={pcap},infinite_rx=1",
                   "mac": WAN_MAC},
                  {"name": "lan0", "device": "net_null_cp,no-rx=1"}],
        "nexthops": [{"id": 1, "port": "lan0", "mac": "02:00:00:00:00:01"},
                     {"id": 2, "port": "lan0", "mac": "02:00:00:00:00:02"}],
        "routes": [{"prefix": "10.1.0.0/16", "nexthop": 1}],
        "tables": {"max_routes": max_routes + 100_000, "tbl8_groups": 1 << 16},
        "api": {"socket": sock}, "state_file": str(work / "state.json"),
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config",
                             str(work / "config.yaml")], stdout=open(work / "run.log", "w"),
                            stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            with Client(sock) as c:
                if c.request("GET", "/v1/ready")["ready"]:
                    return proc, sock
        except Exception:
            time.sleep(0.1)
    raise RuntimeError((work / "run.log").read_text())


def internet_like(n: int, rng: random.Random) -> list[str]:
    """n distinct prefixes outside 10/8, mostly /24 like a full table."""
    lengths = [16] * 3 + [19, 20, 21, 22, 23] * 4 + [24] * 60
    out: set[str] = set()
    while len(out) < n:
        length = rng.choice(lengths)
        first = rng.randrange(11, 224)
        if first == 127:  # loopback: refused as a route (RFC 1812 5.3.7)
            continue
        addr = (first << 24) | rng.getrandbits(24)
        addr &= (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
        out.add(f"{addr >> 24}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}/{length}")
    return list(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bulk-routes", type=int, default=1_000_000)
    p.add_argument("--adds", type=int, default=2000)
    p.add_argument("--churn-seconds", type=float, default=10.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rng = random.Random(5)
    result = {}
    with tempfile.TemporaryDirectory(prefix="bench-cp-") as tmp:
        proc, sock = start(Path(tmp), args.bulk_routes)
        try:
            with Client(sock, timeout=3600) as c:
                routes = internet_like(args.bulk_routes, rng)
                t0 = time.perf_counter()
                c.route_add_bulk((r, 2) for r in routes)
                result["bulk_routes"] = args.bulk_routes
                result["bulk_load_s"] = round(time.perf_counter() - t0, 2)

                latencies = []
                for i in range(args.adds):
                    prefix = f"100.{64 + (i >> 16 & 63)}.{i >> 8 & 255}.{i & 255}/32"
                    t = time.perf_counter()
                    c.route_add(prefix, 2)
                    latencies.append(time.perf_counter() - t)
                latencies.sort()
                result["route_add_p50_ms"] = round(1000 * latencies[len(latencies) // 2], 3)
                result["route_add_p99_ms"] = round(1000 * latencies[int(len(latencies) * 0.99)], 3)

                before = c.stats()
                ops, deadline = 0, time.monotonic() + args.churn_seconds
                while time.monotonic() < deadline:
                    prefix = f"100.127.{ops >> 8 & 255}.{ops & 255}/32"
                    c.route_add(prefix, 2)
                    c.route_delete(prefix)
                    ops += 2
                after = c.stats()
                result["churn_updates_per_s"] = round(ops / args.churn_seconds)
                result["churn_packets"] = after["rx_packets"] - before["rx_packets"]
                result["churn_lost_packets"] = (after["rx_packets"] - before["rx_packets"]) - (
                    after["tx_packets"] - before["tx_packets"])
                result["churn_drops"] = {k: v - before["drops"][k]
                                         for k, v in after["drops"].items() if v - before["drops"][k]}
        finally:
            proc.terminate()
            proc.wait(timeout=120)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<24} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
