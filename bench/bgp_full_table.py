#!/usr/bin/env python3
"""Benchmark: a full table over a real BGP session, end to end.

    python3 bench/bgp_full_table.py [--routes 1000000]

The e2e lab (tests/e2e/lab.py: two Linux hosts in namespaces, net_tap ports, the
appliance with kernel interfaces and route_sync {main, bgp}); FRR zebra + bgpd on the
appliance host; zebra + bgpd in h2's namespace announcing `--routes` /24s (blackhole
routes in its kernel table, `redistribute kernel`). Prints when the session came up, when
the last route reached the appliance's FIB, and whether the session stayed Established
and h1 kept reaching a stable prefix behind h2 all along (it runs through the punt path
and the kernel interface while the appliance takes the routes).
"""
import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.frr import Frr  # noqa: E402
from tests.e2e.lab import Lab  # noqa: E402

OURS = """frr defaults traditional
hostname appliance
router bgp 65001
 bgp router-id 10.0.2.1
 no bgp ebgp-requires-policy
 neighbor 10.0.2.2 remote-as 65002
"""
THEIRS = """frr defaults traditional
hostname neighbour
router bgp 65002
 bgp router-id 10.0.2.2
 no bgp ebgp-requires-policy
 neighbor 10.0.2.1 remote-as 65001
 address-family ipv4 unicast
  redistribute kernel
  redistribute connected
 exit-address-family
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--routes", type=int, default=1_000_000)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bgp-"))
    lab = Lab(tmp, kernel=True)
    lab.appliance.config["route_sync"] = {"table": "main", "protocols": ["bgp"]}
    lab.appliance.config["tables"].update(max_routes=args.routes + 100_000)
    lab.appliance.config["eal"]["memory_mb"] = 512
    lab.host(1, "ip", "addr", "add", "172.31.0.1/32", "dev", "lo", check=True)  # stable, connected
    batch = tmp / "routes.batch"
    batch.write_text("".join(f"route add blackhole {11 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/24\n"
                             for i in range(args.routes)))
    r = lab.host(1, "ip", "-batch", str(batch), timeout=600)
    assert r.returncode == 0, r.stderr
    lab.start()
    ours, theirs = Frr(OURS), Frr(THEIRS, netns=lab.ns[1])
    stop = threading.Event()
    lost, pings = [], [0]

    def keep_pinging():
        while not stop.is_set():
            pings[0] += 1
            if lab.ping(0, "172.31.0.1", count=1).returncode != 0:
                lost.append(time.monotonic())

    try:
        start = time.monotonic()
        ours.start()
        theirs.start()
        while not ours.established("10.0.2.2"):
            time.sleep(0.2)
        up = time.monotonic() - start
        print(f"session established after {up:.1f} s", flush=True)
        with lab.appliance.client() as c:
            while not any(r["prefix"] == "172.31.0.1/32" for r in c.kernel_routes()):
                time.sleep(0.2)
        pinger = threading.Thread(target=keep_pinging)
        pinger.start()
        last, count = time.monotonic(), 0
        with lab.appliance.client() as c:
            while count < args.routes:
                time.sleep(1)
                now_count = c.stats()["route_sync"]["routes"]
                if now_count != count:
                    last, count = time.monotonic(), now_count
                    print(f"  {time.monotonic() - start:6.1f} s: {count} routes in the FIB", flush=True)
                elif time.monotonic() - last > 120:
                    print("no progress for 120 s", flush=True)
                    break
            sync = c.stats()["route_sync"]
        stop.set()
        pinger.join()
        print(f"{count} routes in the FIB {last - start:.1f} s after the daemons started "
              f"({last - start - up:.1f} s after the session came up); session still "
              f"established: {ours.established('10.0.2.2')}; pings to the stable prefix lost: "
              f"{len(lost)} of {pings[0]} (1 s timeout); overruns {sync['overruns']}, "
              f"failed {sync['failed']}")
        return 0 if count >= args.routes and not lost else 1
    finally:
        stop.set()
        theirs.stop()
        ours.stop()
        lab.close()
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    sys.exit(main())
