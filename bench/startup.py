#!/usr/bin/env python3
"""Benchmark: startup and the CLI at scale.

    python3 bench/startup.py [--routes 1000,20000,100000,1000000] [--cli-runs 20] [--json]

For each size: an internet-shaped config of that many routes (bench/control_plane.py's
prefix mix) is written as YAML; measured are `appliance config validate` (wall time:
Python start, libyaml parse, schema, host checks) and `appliance run --config` until
/v1/ready (EAL, ports, the tables bulk-loaded, workers forwarding). Then, against the
running appliance, the wall time of CLI commands as a shell runs them (median of N):
`appliance version`, `route add`, `route del`, `stats --json`.
"""
import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from appliance import Client  # noqa: E402
from bench.control_plane import internet_like  # noqa: E402

APPLIANCE = [sys.executable, "-m", "appliance"]


def config(work: Path, routes: list[str]) -> Path:
    doc = {
        "eal": {"main_lcore": 0, "worker_lcores": [1], "memory_mb": 1024, "file_prefix": "bench-start"},
        "ports": [{"name": "wan0", "device": "net_null_s0"}, {"name": "lan0", "device": "net_null_s1,no-rx=1"}],
        "nexthops": [{"id": 1, "port": "lan0", "mac": "02:00:00:00:00:01"}],
        "routes": [{"prefix": p, "nexthop": 1} for p in routes],
        "tables": {"max_routes": len(routes) + 1000, "tbl8_groups": 1 << 16},
        "api": {"socket": str(work / "api.sock")},
    }
    path = work / f"config-{len(routes)}.yaml"
    path.write_text(yaml.dump(doc, Dumper=yaml.CSafeDumper, default_flow_style=None))
    return path


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def run_until_ready(path: Path, sock: str, log: Path) -> tuple[subprocess.Popen, float]:
    t = time.perf_counter()
    proc = subprocess.Popen([*APPLIANCE, "run", "--config", str(path)], stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    while True:
        try:
            with Client(sock) as c:
                if c.request("GET", "/v1/ready")["ready"]:
                    return proc, time.perf_counter() - t
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text())
            time.sleep(0.05)


def cli_times(sock: str, runs: int) -> dict[str, float]:
    """Medians of `runs` wall times per command; adds and deletes alternate."""
    times: dict[str, list[float]] = {"version": [], "route add": [], "route del": [], "stats --json": []}
    api = ["--socket", sock]
    for _ in range(runs):
        times["version"].append(timed([*APPLIANCE, "version"]))
        times["route add"].append(timed([*APPLIANCE, "route", "add", "10.9.0.0/16", "1", *api]))
        times["route del"].append(timed([*APPLIANCE, "route", "del", "10.9.0.0/16", *api]))
        times["stats --json"].append(timed([*APPLIANCE, "stats", "--json", *api]))
    return {name: statistics.median(t) for name, t in times.items()}


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--routes", default="1000,20000,100000,1000000")
    p.add_argument("--cli-runs", type=int, default=20)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rows, cli = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        work = Path(tmp)
        sock = str(work / "api.sock")
        for n in map(int, args.routes.split(",")):
            path = config(work, internet_like(n, random.Random(n)))
            validate = timed([*APPLIANCE, "config", "validate", str(path)])
            proc, ready = run_until_ready(path, sock, work / "run.log")
            try:
                if n == min(map(int, args.routes.split(","))):
                    cli.update(cli_times(sock, args.cli_runs))
            finally:
                stop(proc)
            rows.append({"routes": n, "yaml_mb": round(path.stat().st_size / 1e6, 1),
                         "validate_s": round(validate, 2), "ready_s": round(ready, 2)})
    if args.json:
        print(json.dumps({"startup": rows, "cli_s": cli}, indent=2))
        return 0
    print(f"{'routes':>9} {'YAML MB':>8} {'validate s':>11} {'run->ready s':>13}")
    for r in rows:
        print(f"{r['routes']:>9} {r['yaml_mb']:>8} {r['validate_s']:>11} {r['ready_s']:>13}")
    print("CLI wall time, median of", args.cli_runs, "runs:",
          ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in cli.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
