"""The `appliance` command: thin, every subcommand calls one public function.

Exit codes: 0 ok, 1 runtime error, 2 usage or configuration error.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


from appliance.well_known import DEFAULT_SOCKET, ROUTE_PROTOCOLS
from appliance.errors import ApplianceError, ConfigError, StateError


SOURCE_TREE = Path(__file__).resolve().parent.parent  # a checkout: pyproject.toml beside us
PROTOCOL_NAMES = {number: name for name, number in ROUTE_PROTOCOLS.items()}


def run_demo(duration: float | None, interval: float, as_json: bool) -> int:
    """Runs the built-in demo router, printing rates until stopped."""
    from appliance.demo import open_demo
    from appliance.eal import shutdown_eal
    from appliance.host.hugepages import hugepages_usable

    stop = _stop_on_signals()
    dp = open_demo(hugepages=hugepages_usable(256))
    try:
        print("demo: wan0 (pcap) -> 10.1/16 lan0, 10.2/16 lan1, 10.3/16 no route; Ctrl-C stops",
              flush=True)
        _print_rates(dp.stats, stop, duration, interval, as_json)
    finally:
        dp.close()
        shutdown_eal(dp.config.eal)
    return 0


def run_config(path: str, duration: float | None, set_aside_state: bool = False) -> int:
    """Runs the appliance from a config file, serving the API, until SIGTERM/SIGINT."""
    from appliance.api.server import Limits, serve, serve_tcp
    from appliance.config import load_config, read_token, split_listen
    from appliance.instance import lock_instance
    from appliance.metrics import serve_metrics
    from appliance.service import Service

    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("appliance")
    cfg = load_config(path)
    stop = _stop_on_signals()
    reload = SignalFlag()
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    locks = lock_instance(cfg.api.socket, cfg.state_file)
    service, servers, metrics_server = None, [], None
    try:
        token = read_token(cfg.api.token_file) if cfg.api.tcp_listen else None
        if token and os.stat(cfg.api.token_file).st_mode & 0o044:
            log.warning("%s is readable by other users: anyone who reads it controls the "
                        "router (chmod 600)", cfg.api.token_file)
        service = Service(cfg, source=path, set_aside_state=set_aside_state)
        limits = Limits(cfg.api.read_timeout_s, cfg.api.max_connections,
                        cfg.api.max_connections_per_peer)
        servers.append(serve(service, cfg.api.socket, limits))
        log.info("API listening on %s", cfg.api.socket)
        if token:
            host, port = split_listen(cfg.api.tcp_listen)
            servers.append(serve_tcp(service, host, port, token, limits))
            log.info("API listening on tcp %s (bearer token required)", cfg.api.tcp_listen)
        if cfg.metrics:
            host, port = split_listen(cfg.metrics.listen)
            metrics_server, _ = serve_metrics(service.dp.stats, host, port, service.acl_details)
            log.info("metrics on http://%s/metrics", cfg.metrics.listen)
        _serve_until_stopped(service, path, stop, reload, duration, log)
    finally:
        for server in servers:
            server.stop()
        if metrics_server:
            metrics_server.shutdown()
        if service:
            service.close()
            log.info("stopped")
        for lock in locks:
            lock.release()
    return 0


def _vrrp_line(r: dict) -> str:
    priority = f"{r['priority']}" + (f" (configured {r['configured_priority']})"
                                      if r["priority"] != r["configured_priority"] else "")
    master = "" if r["state"] == "master" or r["master"] is None else \
        f", master {r['master']} priority {r['master_priority']}"
    return (f"{r['interface']} vrid {r['vrid']} {r['family']}: {r['state'].upper()} for "
            f"{r['since_s']:.1f}s ({r['reason']}), priority {priority}{master}; "
            f"{' '.join(r['addresses'])} at {r['virtual_mac']}; every {r['interval_ms']} ms; "
            f"adverts out {r['adverts_out']} in {r['adverts_in']}, became master "
            f"{r['became_master']} times")


def _serve_until_stopped(service, path: str, stop: SignalFlag, reload: SignalFlag,
                         duration: float | None, log: logging.Logger) -> None:
    started = time.monotonic()
    while not stop.wait(0.2):
        service.log_vrrp()
        if reload.is_set():
            reload.clear()
            try:
                service.reload()
            except ApplianceError as e:
                log.error("reload of %s refused, nothing changed: %s", path, e)
            except Exception:  # a bug must not stop a router that forwards
                log.exception("reload of %s failed, nothing changed", path)
        if duration is not None and time.monotonic() - started >= duration:
            break


class SignalFlag:
    """Set from a signal handler. Not threading.Event: its set() takes the lock
    its wait() may be holding in the same (main) thread when the signal lands,
    and the process hangs for good (seen: `stats --watch` ignoring SIGINT)."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._set:
            left = 0.05 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.05))
        return self._set


def _stop_on_signals() -> SignalFlag:
    stop = SignalFlag()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _print_rates(read_stats, stop: SignalFlag, duration: float | None, interval: float,
                 as_json: bool) -> None:
    from appliance.stats_view import rates, render
    started = time.monotonic()
    before, t0 = read_stats(), time.monotonic()
    while not stop.wait(interval):
        after, t1 = read_stats(), time.monotonic()
        r = rates(before, after, t1 - t0)
        print(json.dumps(r) if as_json else render(r) + "\n", flush=True)
        before, t0 = after, t1
        if duration is not None and t1 - started >= duration:
            return


def validate_config(path: str, check_host: bool = True) -> int:
    from appliance.config import load_config
    cfg = load_config(path, check_host=check_host)
    subs = len(cfg.interfaces()) - len(cfg.ports)
    print(f"{path}: ok ({len(cfg.ports)} ports, " + (f"{subs} sub-interfaces, " if subs else "")
          + f"{len(cfg.nexthops)} next hops, "
          f"{len(cfg.routes)} routes, {len(cfg.rules)} rules, {len(cfg.acls)} ACLs)")
    return 0


def compare_configs(current: str, new: str) -> int:
    """What moving from `current` to `new` takes: `same`, `reload` or `restart: SECTIONS`
    (a missing current file: `start`). Both are validated, without host checks."""
    from appliance.config import load_config, restart_needed
    target = load_config(new, check_host=False)
    if not Path(current).exists():
        print("start")
        return 0
    old = load_config(current, check_host=False)
    changed = restart_needed(old, target)
    print("same" if old == target else f"restart: {', '.join(changed)}" if changed else "reload")
    return 0


def host_command(args: argparse.Namespace) -> int:
    """nic, hugepages and doctor: this host, no running appliance needed."""
    from appliance.host import doctor, hugepages, nics
    if args.command == "nic":
        if args.verb == "list":
            found = nics.list_nics()
            _show([n.to_dict() for n in found], args.json, lambda ns: [
                f"{n['pci']:<14} {n['driver'] or '-':<16} node {n['numa_node']}  "
                f"{n['interface'] or '-':<10} {n['link'] or '-':<6} "
                f"{' '.join(n['addresses']) or '-'}" for n in ns])
        elif args.verb == "bind":
            before = nics.find_nic(args.pci)
            nic = nics.bind(args.pci, args.driver, force=args.force, no_iommu=args.no_iommu)
            print(f"{nic.pci}: {'already ' if before.driver == nic.driver else ''}bound to {nic.driver}")
        else:
            nic = nics.unbind(args.pci)
            print(f"{nic.pci}: bound to {nic.driver or 'no driver'}")
    elif args.command == "hugepages":
        if args.verb == "reserve":
            granted = hugepages.reserve(args.pages, args.size_kb, args.node)
            print(f"{granted} hugepages of {args.size_kb} kB reserved")
        elif args.verb == "mount":
            mounted = hugepages.mount(Path(args.mountpoint), args.size_kb)
            print(f"{args.mountpoint}: {'mounted' if mounted else 'already mounted'}")
        else:
            pools = [vars(p) | {"free_mb": p.free_mb} for p in hugepages.read_state()]
            _show(pools, args.json, lambda ps: [
                f"{'host' if p['node'] is None else 'node ' + str(p['node']):<8} "
                f"{p['size_kb']:>8} kB  {p['total']:>6} pages, {p['free']:>6} free "
                f"({p['free_mb']} MiB)" for p in ps])
    elif args.command == "doctor":
        host = doctor.Host()
        if args.config:
            from appliance.config import load_config
            cfg = load_config(args.config)
            host = doctor.Host(memory_mb=cfg.eal.memory_mb, workers=tuple(cfg.eal.worker_lcores))
        checks = doctor.run_checks(host)
        _show(doctor.as_dicts(checks), args.json, lambda _: doctor.render(checks).splitlines())
        return 1 if any(c.status == "fail" for c in checks) else 0
    return 0


def service_command(args: argparse.Namespace) -> int:
    """Service mode without systemd: a detached supervisor around `run --config`."""
    from appliance import supervisor
    pidfile = Path(args.pidfile)
    if args.verb == "start":
        if not args.config:
            raise ConfigError("service start needs --config")
        validate_config(args.config)
        pid, started = supervisor.start(args.config, pidfile, Path(args.log))
        print(f"supervisor {'started' if started else 'already running'}, pid {pid}")
    elif args.verb == "stop":
        print("stopped" if supervisor.stop(pidfile) else "not running")
    elif args.verb == "reload":
        if not supervisor.reload(pidfile):
            raise StateError(f"no supervisor running (pid file {pidfile})")
        print("reload sent")
    else:
        pid = supervisor.read_pid(pidfile)
        if pid is None:
            print("not running")
            return 3
        appliance = supervisor.children(pid)
        print(f"running, supervisor pid {pid}, appliance pid "
              f"{', '.join(map(str, appliance)) or 'none (restarting)'}")
    return 0


def health(args: argparse.Namespace, timeout: float) -> int:
    """Exit 0 once the appliance answers and forwards, 1 if not within `timeout` s."""
    from appliance.api.client import Client
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Client(args.socket, timeout=5) as c:
                answer = c.health()
                if answer["status"] == "ok" and c.request("GET", "/v1/ready")["ready"]:
                    down = [p["name"] for p in c.ports() if not p["link_up"]]
                    if not down:
                        print(f"healthy (version {answer['version']})")
                        return 0
                    problem = f"link down on port {', '.join(down)}"
                else:
                    problem = f"no ready appliance on {args.socket}"
        except (ApplianceError, OSError):
            problem = f"no ready appliance on {args.socket}"
        if time.monotonic() >= deadline:
            print(f"not healthy: {problem}", file=sys.stderr)
            return 1
        time.sleep(0.2)


def wheel(args: argparse.Namespace) -> int:
    from appliance import wheelhouse
    built = wheelhouse.build(args.source, args.cache or wheelhouse.DEFAULT_CACHE)
    if args.json:
        print(json.dumps({"archive": str(built.archive), "version": built.version,
                          "built": built.built}))
    else:
        print(f"{built.archive} ({'built' if built.built else 'cached'})")
    return 0


def _client(args: argparse.Namespace):
    from appliance.api.client import Client
    return Client(args.socket)


def _show(data: Any, as_json: bool, table=None) -> None:
    if as_json or table is None:
        print(json.dumps(data, indent=None if as_json else 2, default=str))
    else:
        for line in table(data):
            print(line)


def _kernel_route_line(r: dict) -> str:
    """As `ip route` shows it, prefix first."""
    paths = " ".join(("nexthop " if len(r["paths"]) > 1 else "")
                     + (f"via {p['gateway']} " if p["gateway"] else "") + f"dev {p['port']}"
                     for p in r["paths"])
    return (f"{r['prefix']:<20} " + (paths if r["type"] == "unicast" else r["type"])
            + f" proto {PROTOCOL_NAMES.get(r['protocol'], r['protocol'])}"
            + (" (shadowed by a static route)" if r["shadowed"] else ""))


def _nat_lines(nat: dict) -> list[str]:
    """Per interface: its source translation and forwards; then mappings and port use."""
    out = []
    for name, n in nat["interfaces"].items():
        source = {"masquerade": "masquerade", "pool": "pool " + " ".join(n["pool"])}.get(n["source"], "none")
        out.append(f"{name:<12} source {source} ports {n['ports'][0]}-{n['ports'][1]}")
        for f in n["forwards"]:
            public = f"{f['address'] or name}" + (f" {f['proto']} {f['port']}" if f["proto"] else "")
            out.append(f"{'':<12} forward {public} -> {f['to']}"
                       + (f" {f['to_port'] or f['port']}" if f["proto"] else " (1:1)"))
    out.append(f"{nat['mappings']} mappings, {nat['port_failures']} refused for want of a port")
    out += [f"{p['address']:<15} ports in use: tcp {p['tcp']} udp {p['udp']} icmp {p['icmp']}"
            for p in nat["ports"]]
    return out


def _conntrack_line(s: dict) -> str:
    """As `conntrack -L` shows one: protocol, state, idle/timeout, then both tuples."""
    def tuple_text(t: dict) -> str:
        return f"src={t['src']} dst={t['dst']} sport={t['sport']} dport={t['dport']}"
    name = PROTOCOL_NAMES_IP.get(s["proto"], str(s["proto"]))
    return (f"{name:<6} {s['proto']:>3} {s['state']:<12} idle {s['idle_s']:.0f}/{s['timeout_s']}s "
            f"{tuple_text(s['original'])}  {tuple_text(s['reply'])}"
            + (f" vrf {s['vrf']}" if s["vrf"] != "default" else ""))


PROTOCOL_NAMES_IP = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


def client_command(args: argparse.Namespace) -> int:
    c = _client(args)
    what, verb = args.command, getattr(args, "verb", None)
    if what == "route":
        if verb == "add":
            c.route_add(args.prefix, args.nexthop, vrf=args.vrf)
        elif verb == "del":
            c.route_delete(args.prefix, force=args.force, vrf=args.vrf)
        elif verb == "resync":
            c.route_sync_resync()
        elif args.source == "kernel":
            _show(c.kernel_routes(), args.json, lambda rs: [_kernel_route_line(r) for r in rs])
        else:
            routes = [{"prefix": str(p), "nexthop": nh}
                      for p, nh in c.routes(args.prefix, args.nexthop, vrf=args.vrf)]
            _show(routes, args.json, lambda rs: [f"{r['prefix']:<20} via {r['nexthop']}" for r in rs])
    elif what == "vrf":
        _show(c.vrfs(), args.json, lambda vs: [
            f"{v['name']:<16} {v['routes']:>8} routes  {' '.join(v['interfaces']) or '-'}" for v in vs])
    elif what == "nexthop":
        if verb == "set" and args.gateway:
            if args.mac or args.src_mac:
                raise ConfigError("nexthop set: give a MAC or --gateway, not both")
            c.nexthop_set_gateway(args.id, args.port, args.gateway)
        elif verb == "set":
            if not args.mac:
                raise ConfigError("nexthop set: give a MAC or --gateway IP")
            c.nexthop_set(args.id, args.port, args.mac, args.src_mac)
        elif verb == "del":
            c.nexthop_delete(args.id)
        else:
            _show(c.nexthops(), args.json, lambda hs: [
                f"{h['id']:<6} {h['port']:<8} "
                + (f"via {h['gateway']} " if h["gateway"] else "")
                + f"{h['dst_mac'] or '-'} {h['state']} (src {h['src_mac']}, {h['users']} users)"
                for h in hs])
    elif what == "address":
        if verb == "add":
            c.address_add(args.port, args.address)
        elif verb == "del":
            c.address_delete(args.port, args.address)
        else:
            _show(c.addresses(), args.json, lambda rs: [
                f"{a['port']:<8} {a['address']}" + (" (automatic)" if a.get("automatic") else "")
                for a in rs])
    elif what == "interface" and verb == "ra":
        if args.off:
            c.ra_set(args.name, None)
        elif args.settings is not None:
            from appliance.decode import load_yaml
            c.ra_set(args.name, load_yaml(args.settings.encode(), "settings") or {})
        else:
            _show(c.ra_show(args.name), True)
    elif what == "interface" and verb == "stateful":
        c.conntrack_set_stateful(args.name, args.state == "on")
    elif what == "nat" and verb == "set":
        from appliance.decode import load_yaml
        c.nat_set(args.name, load_yaml(args.settings.encode(), "settings") or {})
    elif what == "nat" and verb == "clear":
        c.nat_set(args.name, None)
    elif what == "nat":
        _show(c.nat(), args.json, _nat_lines)
    elif what == "conntrack" and verb == "flush":
        print(f"{c.conntrack_flush()} sessions flushed")
    elif what == "conntrack":
        _show(c.conntrack_list(args.proto, args.address), args.json,
              lambda ss: [_conntrack_line(s) for s in ss])
    elif what == "interface":
        _show(c.interfaces(), args.json, lambda fs: [
            f"{f['name']:<12} " + (f"vlan {f['vlan']:<4} on {f['port']:<8}" if f["vlan"] else f"{'port':<17}")
            + f" mtu {f['mtu']:<5} vrf {f['vrf']:<8} rx {f['rx_packets']} pkts {f['rx_bytes']} bytes,"
            f" tx {f['tx_packets']} pkts {f['tx_bytes']} bytes"
            + (f" (kernel {f['kernel']})" if f["kernel"] else "") for f in fs])
    elif what == "vrrp":
        _show(c.vrrp(), args.json, lambda rs: [_vrrp_line(r) for r in rs])
    elif what == "neigh":
        if verb == "add":
            c.neighbor_add(args.port, args.ip, args.mac)
        elif verb == "del":
            c.neighbor_delete(args.port, args.ip)
        else:
            _show(c.neighbors(), args.json, lambda ns: [
                f"{n['ip']:<16} dev {n['port']:<8} lladdr {n['mac'] or '-':<17} {n['state'].upper()}"
                + (f" ({n['held']} held)" if n["held"] else "") for n in ns])
    elif what == "rule":
        key = (args.proto, args.src, args.src_port, args.dst, args.dst_port) if verb != "list" else ()
        if verb == "add":
            c.rule_add(*key, args.action, args.nexthop)
        elif verb == "del":
            c.rule_delete(*key)
        else:
            _show(c.rules(), args.json, lambda rs: [
                f"{r['proto']:<4} {r['src']}:{r['src_port']} -> {r['dst']}:{r['dst_port']} "
                f"{r['action']}" + (f" via {r['nexthop']}" if r['nexthop'] is not None else "")
                for r in rs])
    elif what == "acl":
        from appliance import cli_acl
        cli_acl.run(c, args, _show)
    elif what == "capture":
        from appliance import cli_capture
        return cli_capture.run(c, args)
    elif what == "trace":
        from appliance import cli_trace
        cli_trace.run(c, args)
    elif what == "stats":
        if args.watch:
            _print_rates(c.stats, _stop_on_signals(), None, args.watch, args.json)
        else:
            _show(c.stats(), True)
    elif what == "apply":
        from appliance.config import read_yaml
        _show(c.apply(read_yaml(args.file)), args.json)
    elif what == "reload":
        _show(c.reload(), args.json)
    elif what == "diff":
        from appliance.config import read_yaml
        found = c.diff(read_yaml(args.file), keep_runtime_changes=not args.exact)
        _show(found, args.json, lambda f: (
            [f"restart needed: {', '.join(f['restart'])}"] if f["restart"] else []) + (
            f["changes"] or ["no table changes"]))
    elif what == "overrides":
        found = c.overrides()
        total = sum(n for counts in found.values() for n in counts.values())
        _show(found, args.json, lambda f: [f"{total} runtime overrides" + (": " + ", ".join(
            f"{kind} +{c['set']} -{c['deleted']}" for kind, c in f.items() if c["set"] or c["deleted"])
            if total else "")])
    return 0


def build_parser() -> argparse.ArgumentParser:
    # Every leaf command takes --socket and --json, wherever they are written.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--socket", default=DEFAULT_SOCKET, help="API socket of a running appliance")
    common.add_argument("--json", action="store_true", help="machine-readable output")

    p = argparse.ArgumentParser(prog="appliance", description="DPDK forwarding appliance")
    sub = p.add_subparsers(dest="command", required=True)

    def leaf(parent, name: str, **kw) -> argparse.ArgumentParser:
        return parent.add_parser(name, parents=[common], **kw)

    def group(name: str, help: str):
        return sub.add_parser(name, help=help).add_subparsers(dest="verb", required=True)

    run = leaf(sub, "run", help="run in the foreground (no --config: the built-in demo)")
    run.add_argument("--config", help="YAML config file")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.add_argument("--set-aside-state", action="store_true",
                     help="if the state file is damaged, move it aside (FILE.damaged-PID) and "
                          "start from the config alone")
    run.add_argument("--interval", type=float, default=1.0, help="demo: seconds between stats")

    cfg_group = group("config", "config files")
    compare = leaf(cfg_group, "compare", help="what a running appliance needs to move from "
                   "CURRENT to NEW: same, reload (tables only) or restart (and why)")
    compare.add_argument("current")
    compare.add_argument("new")
    validate = leaf(cfg_group, "validate",
                    help="validate a config file, touch nothing")
    validate.add_argument("file")
    validate.add_argument("--no-host-checks", action="store_true",
                          help="skip checks against this machine (a config for another host)")
    leaf(sub, "demo-pcap", help="write the demo's traffic to a pcap file").add_argument("file")

    route = group("route", "routes")
    add = leaf(route, "add")
    add.add_argument("prefix")
    add.add_argument("nexthop", type=int)
    rdel = leaf(route, "del")
    rdel.add_argument("prefix")
    lst = leaf(route, "list")
    for verb in (add, rdel, lst):
        verb.add_argument("--vrf", default="default",
                       help="the VRF's table (default: the global one)")
    rdel.add_argument("--force", action="store_true",
                      help="also a route from the kernel table (route_sync): out of the FIB "
                           "until the kernel changes it or `route resync`")
    lst.add_argument("--prefix", help="only routes inside this prefix")
    lst.add_argument("--nexthop", type=int)
    lst.add_argument("--source", choices=("static", "kernel"), default="static",
                     help="static: config and API (default); kernel: mirrored by route_sync")

    leaf(route, "resync", help="dump the kernel table again (route_sync): what a forced "
                               "delete took out comes back, what the kernel lacks goes")

    vrf = group("vrf", "VRFs: their own route tables (config: vrfs, ports[].vrf)")
    leaf(vrf, "list", help="each VRF, its interfaces and how many routes it has")

    nh = group("nexthop", "next hops")
    s = leaf(nh, "set")
    s.add_argument("id", type=int)
    s.add_argument("port")
    s.add_argument("mac", nargs="?", help="static MAC of the next hop")
    s.add_argument("--gateway", help="or: its IPv4 or IPv6 address (link-local too), resolved with ARP or NDP")
    s.add_argument("--src-mac")
    leaf(nh, "del").add_argument("id", type=int)
    leaf(nh, "list")

    addr = group("address", "the router's own addresses")
    for verb in ("add", "del"):
        a = leaf(addr, verb)
        a.add_argument("port")
        a.add_argument("address", help="with its prefix length: 192.0.2.1/24")
    leaf(addr, "list")

    iface = group("interface", "L3 interfaces: ports and their VLAN sub-interfaces (PORT.VLAN)")
    leaf(iface, "list", help="each interface's VLAN, MTU, kernel interface and counters")
    ra = leaf(iface, "ra", help="router advertisements on an interface: show them, set them "
                                "('{max_interval_s: 60, rdnss: [\"2001:db8::53\"]}', '{}' for "
                                "the defaults) or --off")
    ra.add_argument("name")
    ra.add_argument("settings", nargs="?", help="the config's `ra` fields, YAML or JSON")
    ra.add_argument("--off", action="store_true", help="stop (a last one with router lifetime 0)")
    st = leaf(iface, "stateful", help="filter statefully on an interface (the outside of a "
                                      "firewall: only packets of sessions started through it "
                                      "come in), or not; needs the conntrack section")
    st.add_argument("name")
    st.add_argument("state", choices=("on", "off"))

    conntrack = group("conntrack", "tracked connections (sessions)")
    ct_list = leaf(conntrack, "list", help="the sessions, as conntrack -L shows them")
    ct_list.add_argument("--proto", help="only this protocol (tcp, udp, icmp, or a number)")
    ct_list.add_argument("--address", "--src", help="only sessions with this address in a tuple")
    leaf(conntrack, "flush", help="forget every session (their replies are refused after)")

    nat = group("nat", "NAT44 on outside interfaces (needs the conntrack section)")
    leaf(nat, "show", help="each interface's NAT, the mappings, each public address's ports in use")
    ns = leaf(nat, "set", help="NAT on an interface: the config's `nat` fields, YAML or JSON "
                               "('{source: masquerade, forwards: [{proto: tcp, port: 8080, to: "
                               "10.0.0.2, to_port: 80}]}')")
    ns.add_argument("name")
    ns.add_argument("settings")
    nc = leaf(nat, "clear", help="no NAT on an interface")
    nc.add_argument("name")

    vrrp = group("vrrp", "VRRP virtual routers (config: ports[].vrrp, vlans[].vrrp)")
    leaf(vrrp, "list", help="each virtual router: state and why, priority, the master, counters")

    neigh = group("neigh", "the neighbour table (ARP and NDP)")
    a = leaf(neigh, "add", help="a static neighbour")
    a.add_argument("port")
    a.add_argument("ip")
    a.add_argument("mac")
    d = leaf(neigh, "del", help="delete a static neighbour or flush a learned one")
    d.add_argument("port")
    d.add_argument("ip")
    leaf(neigh, "list")

    rule = group("rule", "exact-match rules")
    for verb in ("add", "del"):
        r = leaf(rule, verb)
        r.add_argument("proto")
        r.add_argument("src")
        r.add_argument("src_port", type=int)
        r.add_argument("dst")
        r.add_argument("dst_port", type=int)
        if verb == "add":
            r.add_argument("action", choices=["forward", "drop"])
            r.add_argument("--nexthop", type=int)
    leaf(rule, "list")

    from appliance import cli_acl
    cli_acl.add_commands(group("acl", "access control lists: ordered entries, first match "
                                      "decides; bound to a port in or out"), leaf)

    from appliance import cli_capture
    cli_capture.add_command(sub, leaf)

    from appliance import cli_trace
    cli_trace.add_commands(group("trace", "per-packet trace: each stage's decision for the next "
                                          "packets received"), leaf)

    leaf(sub, "stats", help="counters (--watch N: rates every N seconds)").add_argument(
        "--watch", type=float, metavar="N")
    leaf(sub, "apply", help="make the running tables those of a config file").add_argument("file")
    diff = leaf(sub, "diff", help="what a config file would change in the running tables "
                                  "(+ added, - removed, ~ changed); nothing is applied")
    diff.add_argument("file")
    diff.add_argument("--exact", action="store_true",
                      help="as `apply` would (runtime changes replaced), not as a reload")
    leaf(sub, "overrides", help="runtime changes (API, CLI) that differ from the config in force")
    leaf(sub, "reload", help="re-read the running appliance's config file (as SIGHUP; runtime "
                             "changes kept) and say what changed")
    leaf(sub, "version", help="print the version")

    nic = group("nic", "network devices of this host")
    leaf(nic, "list")
    b = leaf(nic, "bind", help="hand a device to a DPDK driver")
    b.add_argument("pci", help="PCI address or interface name")
    b.add_argument("--driver", default="vfio-pci", choices=["vfio-pci", "uio_pci_generic"])
    b.add_argument("--force", action="store_true", help="even if it carries addresses/routes")
    b.add_argument("--no-iommu", action="store_true", help="vfio unsafe no-IOMMU mode (warns)")
    leaf(nic, "unbind", help="give a device back to its kernel driver").add_argument("pci")

    hp = group("hugepages", "hugepages of this host")
    leaf(hp, "show")
    r = leaf(hp, "reserve")
    r.add_argument("--pages", type=int, required=True)
    r.add_argument("--size-kb", type=int, default=2048)
    r.add_argument("--node", type=int)
    m = leaf(hp, "mount")
    m.add_argument("--mountpoint", default="/dev/hugepages")
    m.add_argument("--size-kb", type=int, default=2048)

    leaf(sub, "doctor", help="check this host for a poll-mode appliance").add_argument(
        "--config", help="check against this config's memory and lcores")

    svc = group("service", "service mode without systemd: a supervisor that restarts on failure")
    for verb in ("start", "stop", "status", "reload"):
        v = leaf(svc, verb)
        v.add_argument("--config", help="YAML config (start)")
        v.add_argument("--pidfile", default="/run/appliance/supervisor.pid")
        v.add_argument("--log", default="/var/log/appliance.log")
    leaf(sub, "health", help="exit 0 when the appliance answers and forwards").add_argument(
        "--wait", type=float, default=0.0, metavar="S", help="keep trying for S seconds")

    bench = group("bench", "throughput benchmarks with reports (JSON, CSV, PNG, HTML)")
    from appliance.bench import trex_command
    trex_command.add_arguments(leaf(bench, "trex", help="RFC 2544 NDR/PDR and latency of the "
                                    "running appliance with a TRex server"))
    from appliance.bench import vdev_command
    vdev_command.add_arguments(leaf(bench, "vdev", help="the appliance beside l3fwd and testpmd "
                                    "io on vdevs, per frame size (no NICs, no TRex)"))

    deploy = leaf(sub, "deploy", help="deploy with Ansible (playbooks/deploy.yml)")
    deploy.add_argument("-i", "--inventory", required=True)
    deploy.add_argument("--check", action="store_true", help="dry run: report, change nothing")
    deploy.add_argument("--diff", action="store_true",
                        help="show the config file's diff and the running tables' changes")
    deploy.add_argument("--limit", help="only these hosts (Ansible pattern)")
    deploy.add_argument("--tags", help="only these roles: install, config, tuning, hugepages, "
                                       "nics, service (comma-separated)")
    deploy.add_argument("-e", "--extra-var", action="append", default=[], metavar="K=V",
                        help="appliance_serial=N (hosts per batch, default 1) and "
                             "appliance_max_fail_percentage=P (default 0) shape a rolling deploy")
    deploy.add_argument("-v", "--verbose", action="count", default=0, help="Ansible's -v, -vv, ...")

    wheel = leaf(sub, "wheel", help="build (or take from the cache) the wheelhouse a deploy ships")
    wheel.add_argument("--source", type=Path, default=SOURCE_TREE,
                       help="the source tree (default: the one this appliance runs from)")
    wheel.add_argument("--cache", type=Path, help="where wheelhouses are kept "
                       "(default ~/.cache/appliance/wheelhouses)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "version":
            from appliance import __version__
            print(__version__)
            return 0
        if args.command == "run":
            if args.config:
                return run_config(args.config, args.duration, args.set_aside_state)
            return run_demo(args.duration, args.interval, args.json)
        if args.command == "config" and args.verb == "compare":
            return compare_configs(args.current, args.new)
        if args.command == "config":
            return validate_config(args.file, check_host=not args.no_host_checks)
        if args.command in ("nic", "hugepages", "doctor"):
            return host_command(args)
        if args.command == "service":
            return service_command(args)
        if args.command == "health":
            return health(args, args.wait)
        if args.command == "deploy":
            from appliance.deploy import deploy
            return deploy(args.inventory, check=args.check, limit=args.limit,
                          extra_vars=args.extra_var, verbosity=args.verbose, diff=args.diff,
                          tags=args.tags)
        if args.command == "wheel":
            return wheel(args)
        if args.command == "bench":
            from appliance.bench import trex_command, vdev_command
            return (trex_command if args.verb == "trex" else vdev_command).run(args)
        if args.command == "demo-pcap":
            from appliance.demo import write_demo_pcap
            print(write_demo_pcap(args.file))
            return 0
        return client_command(args)
    except ConfigError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except ApplianceError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
