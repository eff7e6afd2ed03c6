"""Runs the data plane on given ports and routes until SIGINT/SIGTERM.

The benchmark starts this in its own process (the EAL runs once per
process) and reads it through DPDK telemetry like l3fwd and testpmd; at
exit it prints its own counters as one JSON line.

    python -m appliance.bench.serve --port wan0=net_pcap0,rx_pcap=x.pcap,infinite_rx=1 \
        --port lan0=net_null0,no-rx=1 --routes routes.txt --nexthop lan0=02:00:00:00:00:01
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
import threading
import time

from appliance import (Dataplane, DataplaneConfig, EalOptions, PortConfig, SlowPathSettings,
                       TableSizes)
from appliance import _native
from appliance.dataplane import ConntrackSettings, VlanConfig, VrrpSettings
from appliance.eal import shutdown_eal


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m appliance.bench.serve")
    p.add_argument("--port", action="append", required=True, metavar="NAME=DEVICE")
    p.add_argument("--routes", required=True, help="file of 'prefix' lines, all to the next hop")
    p.add_argument("--nexthop", required=True, metavar="PORT=MAC")
    p.add_argument("--mac", action="append", default=[], metavar="PORT=MAC",
                   help="pin a port's MAC (the frames it receives are addressed to it)")
    p.add_argument("--address", action="append", default=[], metavar="PORT=ADDRESS/LEN")
    p.add_argument("--return-route", metavar="PREFIX=PORT=MAC",
                   help="where ICMP errors to the senders go (next hop 2)")
    p.add_argument("--icmp-rate", type=float, default=1000.0, help="ICMP errors per second")
    p.add_argument("--file-prefix", default="bench-appliance")
    p.add_argument("--no-verify-checksum", action="store_true")
    p.add_argument("--stage-clocks", action="store_true", help="rdtsc per pipeline stage")
    p.add_argument("--rules", type=int, default=0,
                   help="exact-match rules to load, none matching the bench's traffic (its "
                        "sources are 198.18/16; theirs 198.19/16): the cost of the rule stage")
    p.add_argument("--mbufs", type=int, default=0,
                   help="buffers in the pool (net_pcap's infinite_rx holds the whole pcap in it)")
    p.add_argument("--max-simd-bitwidth", type=int, default=512, choices=(128, 256, 512),
                   help="256: the input stage one header at a time, not eight (AVX-512)")
    p.add_argument("--memory-mb", type=int, default=1024, help="hugepage memory for the EAL")
    p.add_argument("--vrf", action="append", default=[], metavar="INTERFACE=VRF",
                   help="the interface's VRF; each VRF named gets the routes (--routes)")
    p.add_argument("--vrf-routes", action="append", default=[], metavar="VRF=FILE",
                   help="the VRF's routes instead (prefix lines, to the same next hop)")
    p.add_argument("--conntrack", type=int, default=0, metavar="SESSIONS",
                   help="a connection table of this size")
    p.add_argument("--stateful", action="append", default=[], metavar="INTERFACE",
                   help="filter statefully on it (needs --conntrack)")
    p.add_argument("--nat", action="append", default=[], metavar="INTERFACE=POOL",
                   help="translate sources leaving by it to the pool (a CIDR; needs --conntrack)")
    p.add_argument("--vlan", action="append", default=[], metavar="PORT.VLAN",
                   help="an 802.1Q sub-interface (wan0.10); next hops may name it")
    p.add_argument("--vrrp", action="append", default=[], metavar="PORT=VRID=ADDRESS",
                   help="a VRRP router owning ADDRESS (one of the port's --address): master at "
                        "once, its virtual MAC taken as the port's")
    p.add_argument("--acl", metavar="FILE",
                   help="an ACL ({default, entries}, JSON) bound in on the first port")
    p.add_argument("--acl-replace-every", type=float, default=0, metavar="SECONDS",
                   help="replace that ACL whole this often while forwarding (alternately with "
                        "its entries reversed): the build times and the packets lost")
    return p.parse_args(argv)


def load_acl(dp: Dataplane, path: str, port: str) -> dict:
    """Binds the ACL in on `port`; returns its size, build time and memory."""
    with open(path) as f:
        body = json.load(f)
    t0 = time.perf_counter()
    dp.acl_set("bench", body)
    built = time.perf_counter() - t0
    dp.acl_bind(port, "in", "bench")
    return {"entries": len(body["entries"]), "build_s": built,
            "memory": dp.acl_show("bench")["memory"], "body": body}


def replace_acl(dp: Dataplane, body: dict, every: float, stop: threading.Event) -> list[float]:
    """Replaces the bound ACL whole every `every` seconds until `stop`; the build times."""
    flipped = {"default": body["default"], "entries": body["entries"][::-1]}
    times = []
    while not stop.wait(every):
        t0 = time.perf_counter()
        dp.acl_set("bench", flipped if len(times) % 2 == 0 else body)
        times.append(time.perf_counter() - t0)
    return times


def read_prefixes(path: str) -> list[str]:
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    macs = dict(spec.split("=", 1) for spec in args.mac)
    vlans = [spec.rsplit(".", 1) for spec in args.vlan]
    vrf_of = dict(spec.split("=", 1) for spec in args.vrf)
    vrfs = sorted(set(vrf_of.values()))
    ports = [PortConfig(name, device, mac=macs.get(name), vrf=vrf_of.get(name, "default"),
                        vlans=[VlanConfig(int(vlan), vrf=vrf_of.get(f"{port}.{vlan}", "default"))
                               for port, vlan in vlans if port == name])
             for name, device in (spec.split("=", 1) for spec in args.port)]
    prefixes = read_prefixes(args.routes)
    vrf_prefixes = {vrf: read_prefixes(path) for vrf, path in
                    (spec.split("=", 1) for spec in args.vrf_routes)}
    config = DataplaneConfig(
        ports=ports, vrfs=vrfs, verify_checksum=not args.no_verify_checksum, stage_clocks=args.stage_clocks,
        mbufs=args.mbufs,
        eal=EalOptions(main_lcore=0, worker_lcores=[1], file_prefix=args.file_prefix,
                       memory_mb=args.memory_mb, max_simd_bitwidth=args.max_simd_bitwidth),
        tables=TableSizes(max_routes=max(1024, 2 * len(prefixes)), tbl8_groups=1 << 16,
                          max_routes6=max(1024, 2 * len(prefixes)), tbl8_groups6=1 << 16,
                          max_nexthops=16, max_rules=max(1 << 16, 2 * args.rules),
                          max_acl_entries=1 << 20),
        slowpath=SlowPathSettings(icmp_rate=args.icmp_rate),
        conntrack=ConntrackSettings(max_sessions=args.conntrack) if args.conntrack else None)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    dp = Dataplane(config)
    port, mac = args.nexthop.split("=", 1)
    dp.nexthop_set(1, port, mac)
    for vrf in vrfs or ["default"]:
        dp.route_add_bulk((p, 1, vrf) for p in vrf_prefixes.get(vrf, prefixes))
    for i in range(args.rules):
        dp.rule_add("udp", f"198.19.{i >> 8 & 0xff}.{i & 0xff}", 1024 + (i >> 16), "10.0.0.1", 5000,
                    "forward", 1)
    for spec in args.address:
        dp.address_add(*spec.split("=", 1))
    for spec in args.vrrp:
        port, vrid, address = spec.split("=")
        dp.vrrp_set(VrrpSettings(port, int(vrid), [address], priority=255))
    if args.return_route:
        prefix, port, mac = args.return_route.split("=")
        dp.nexthop_set(2, port, mac)
        dp.route_add(prefix, 2)
    acl = load_acl(dp, args.acl, ports[0].name) if args.acl else None
    for interface in args.stateful:
        dp.conntrack_set_stateful(interface, True)
    if args.nat:
        dp.nat_set({name: {"source": "pool", "ports": [1024, 65535], "addresses": [
            str(a) for a in ipaddress.IPv4Network(pool)]} for name, pool in (s.split("=", 1) for s in args.nat)}, [])
    dp.start()
    print("ready", flush=True)
    if acl and args.acl_replace_every:
        acl["replace_s"] = replace_acl(dp, acl["body"], args.acl_replace_every, stop)
    stop.wait()
    stats = dp.stats()
    dp.close()
    shutdown_eal(config.eal)
    if acl:
        del acl["body"]
    print(json.dumps({"stats": stats, "tsc_hz": _native.tsc_hz(), "acl": acl}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
