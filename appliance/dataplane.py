"""The in-process data plane: a Pythonic face on appliance._native.Dataplane.

Prefixes are `ipaddress` objects or strings, MACs are strings, ports are
named. Everything is checked before it reaches C++, and C++ checks again; any
misuse raises an `appliance.errors` class with a message naming the value.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from appliance import _native, kernel_iface
from appliance.acl import DIRECTIONS, AclBody, entry_from_native, inserted, parse_body, removed
from appliance.eal import EalOptions, init_eal, port_kind
from appliance.errors import AclError, ConfigError, PortError, RouteError, RuleError

DROP_REASONS: list[str] = [name for name, _ in _native.drop_reasons()]
PROTOCOLS = {"icmp": socket.IPPROTO_ICMP, "tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}

Prefix = str | ipaddress.IPv4Network | ipaddress.IPv6Network
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class VlanConfig:
    """An 802.1Q sub-interface of a port: interface PORT.VLAN, 1..4094."""

    vlan: int
    mtu: int | None = None  # None: the port's
    kernel: str | None = None  # a kernel interface of this name (a net_tap of its own, untagged)
    vrf: str = "default"


@dataclass
class PortConfig:
    """One port: `device` is a PCI address, a vdev spec (net_tap0,iface=x) or 'ring'."""

    name: str
    device: str
    rx_queues: int = 1
    tx_queues: int | None = None  # None: one per worker, what the workers need
    rx_desc: int = 1024
    tx_desc: int = 1024
    mtu: int | None = None
    promiscuous: bool = False  # the NIC's filter only: frames to other MACs are dropped anyway
    rss: bool = True
    mac: str | None = None  # pinned MAC; None: the device's own
    kernel: str | None = None  # a kernel interface of this name (net_tap) for what the router does not answer
    vlans: list[VlanConfig] = field(default_factory=list)  # sub-interfaces (kernel: KERNEL.VLAN)
    vrf: str = "default"  # its VRF: one of DataplaneConfig.vrfs, or the global one


@dataclass
class SlowPathSettings:
    """ARP/neighbour timers and ICMP rate limit (defaults as Linux's)."""

    icmp_rate: float = 1000.0  # ICMP errors per second, all kinds; 0: unlimited
    icmp_burst: int = 50
    hold_packets: int = 8      # per unresolved neighbour
    reachable_ms: int = 30000
    stale_ms: int = 5000
    retrans_ms: int = 1000
    probes: int = 3
    failed_ms: int = 60000
    max_neighbors: int = 4096


@dataclass
class RaSettings:
    """IPv6 router advertisements on one interface (config.RaSection has the defaults and
    the checks)."""

    interface: str
    max_interval_s: int = 600
    min_interval_s: int = 200
    lifetime_s: int = 1800
    hop_limit: int = 64
    managed: bool = False
    other: bool = False
    on_link: bool = True
    autonomous: bool = True
    valid_lifetime_s: int = 2592000
    preferred_lifetime_s: int = 604800
    mtu: bool = True
    rdnss: list[str] = field(default_factory=list)
    rdnss_lifetime_s: int = 1200


@dataclass
class VrrpSettings:
    """One VRRPv3 virtual router on an interface (config.VrrpSection has the defaults and
    the checks); its family is its addresses'."""

    interface: str
    vrid: int
    addresses: list[str]
    priority: int = 100
    interval_ms: int = 1000
    preempt: bool = True
    preempt_delay_ms: int = 0
    accept: bool = False
    track: dict[str, int] = field(default_factory=dict)  # interface -> priority taken off while down

    @property
    def v6(self) -> bool:
        return ":" in self.addresses[0]


def _vrrp_spec(v: VrrpSettings) -> _native.VrrpSpec:
    spec = _native.VrrpSpec()
    spec.iface, spec.vrid, spec.priority = v.interface, v.vrid, v.priority
    spec.interval_cs = v.interval_ms // 10
    spec.preempt, spec.preempt_delay_ms, spec.accept = v.preempt, v.preempt_delay_ms, v.accept
    spec.addresses = [str(a) for a in v.addresses]
    tracks = []
    for name, decrement in v.track.items():
        t = _native.VrrpTrack()
        t.iface, t.decrement = name, decrement
        tracks.append(t)
    spec.track = tracks
    return spec


@dataclass
class TableSizes:
    max_routes: int = 1 << 20
    tbl8_groups: int = 1 << 16
    max_routes6: int = 1 << 16
    tbl8_groups6: int = 1 << 14  # 1 KiB each; a /48 needs up to 3 of its own
    max_nexthops: int = 4096
    max_rules: int = 1 << 16
    max_acl_entries: int = 1 << 16  # per ACL
    max_acl_memory_mb: int = 1024  # run-time memory of one ACL's classifier, per family


@dataclass
class ConntrackSettings:
    """The connection table (config.ConntrackSection has the checks): its size and the
    seconds a session lives idle in each state."""

    max_sessions: int = 65536
    tcp_syn_sent: int = 240
    tcp_syn_recv: int = 240
    tcp_established: int = 7440
    tcp_fin_wait: int = 240
    tcp_last_ack: int = 240
    tcp_time_wait: int = 240
    tcp_close: int = 10
    udp: int = 120
    icmp: int = 30
    other: int = 600


@dataclass
class RouteSyncSettings:
    """Mirror a kernel routing table (what FRR or BIRD install) into the FIB."""

    table: int = 254  # main
    protocols: list[int] = field(default_factory=list)  # RTPROT_* numbers; empty: all but kernel
    receive_buffer: int = 256 << 20  # bytes of route changes the kernel may queue; beyond: resync


@dataclass
class DataplaneConfig:
    ports: list[PortConfig]
    vrfs: list[str] = field(default_factory=list)  # VRFs besides "default" (the global one)
    eal: EalOptions = field(default_factory=EalOptions)
    tables: TableSizes = field(default_factory=TableSizes)
    verify_checksum: bool = True
    stage_clocks: bool = False  # rdtsc per pipeline stage: stats()['workers'][i]['stage_cycles']
    mbufs: int = 0  # per socket; 0: what the ports' descriptors and the workers need
    name: str = "dp"
    slowpath: SlowPathSettings = field(default_factory=SlowPathSettings)
    ra: list[RaSettings] = field(default_factory=list)  # interfaces sending router advertisements
    route_sync: RouteSyncSettings | None = None
    conntrack: ConntrackSettings | None = None  # None: no connection table


# Already canonical (what str(IPv4Network) prints): no leading zeros. Such
# strings skip the slow ipaddress parse; C++ still checks range and host bits.
_CANONICAL = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                        r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)/(?:3[0-2]|[12]?\d)")


def canonical_prefixes(values: Iterable[Prefix]) -> list[str]:
    """Prefixes as canonical strings, fast for the common already-canonical text."""
    match = _CANONICAL.fullmatch
    return [v if isinstance(v, str) and match(v) else to_prefix(v) for v in values]


def refuse_padded_length(text: str) -> None:
    """ValueError for `10.3.0.0/016`: some parsers read a leading zero as octal, so it is
    refused as in address octets (which ipaddress refuses itself)."""
    length = text.rpartition("/")[2] if "/" in text else ""
    if len(length) > 1 and length[0] == "0":
        raise ValueError(f"prefix length '{length}' has a leading zero")


def to_prefix(value: Prefix) -> str:
    """'10.0.0.0/8' or '2001:db8::/32' for any accepted prefix form; RouteError otherwise."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    if not isinstance(value, str):
        raise RouteError(f"{value!r}: a prefix must be a string or an ipaddress network")
    try:
        refuse_padded_length(value)
        return str(ipaddress.IPv6Network(value) if ":" in value else ipaddress.IPv4Network(value))
    except ValueError as e:
        raise RouteError(f"{value}: {e}") from None


def to_protocol(value: int | str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, str):
        if value.lower() in PROTOCOLS:
            return PROTOCOLS[value.lower()]
        raise RuleError(f"protocol '{value}': expected tcp, udp, icmp or a number 0..255")
    if not 0 <= value <= 255:
        raise RuleError(f"protocol {value}: expected 0..255")
    return value


def _ra_spec(r: RaSettings) -> _native.RaSpec:
    ra = _native.RaSpec()
    ra.iface = r.interface
    ra.min_interval_ms, ra.max_interval_ms = 1000 * r.min_interval_s, 1000 * r.max_interval_s
    ra.advertise_mtu = r.mtu
    for name in ("lifetime_s", "hop_limit", "managed", "other", "on_link", "autonomous",
                 "valid_lifetime_s", "preferred_lifetime_s", "rdnss", "rdnss_lifetime_s"):
        setattr(ra, name, getattr(r, name))
    return ra


def _native_spec(config: DataplaneConfig) -> _native.DataplaneSpec:
    workers = len(config.eal.worker_lcores)
    spec = _native.DataplaneSpec()
    spec.name = config.name
    spec.worker_lcores = list(config.eal.worker_lcores)
    spec.max_routes = config.tables.max_routes
    spec.tbl8_groups = config.tables.tbl8_groups
    spec.max_routes6 = config.tables.max_routes6
    spec.tbl8_groups6 = config.tables.tbl8_groups6
    spec.max_nexthops = config.tables.max_nexthops
    spec.max_rules = config.tables.max_rules
    spec.max_acl_entries = config.tables.max_acl_entries
    spec.acl_max_bytes = config.tables.max_acl_memory_mb << 20
    spec.verify_checksum = config.verify_checksum
    spec.stage_clocks = config.stage_clocks
    spec.max_simd_bitwidth = config.eal.max_simd_bitwidth
    spec.mbufs = config.mbufs
    slow = _native.SlowPathConfig()
    for name, value in vars(config.slowpath).items():
        setattr(slow, name, value)
    spec.slow = slow
    spec.ra = [_ra_spec(r) for r in config.ra]
    if config.conntrack is not None:
        ct = _native.CtSpec()
        ct.max_sessions = config.conntrack.max_sessions
        timeouts = _native.CtTimeouts()
        for name, value in vars(config.conntrack).items():
            if name != "max_sessions":
                setattr(timeouts, name, value)
        ct.timeouts = timeouts
        spec.conntrack = ct
    if config.route_sync is not None:
        sync = _native.RouteSyncSpec()
        sync.enabled = True
        sync.table = config.route_sync.table
        sync.protocols = list(config.route_sync.protocols)
        sync.receive_buffer = config.route_sync.receive_buffer
        spec.route_sync = sync
    ports = []
    for p in config.ports:
        ps = _native.PortSpec()
        ps.name = p.name
        ps.kind = getattr(_native.PortKind, port_kind(p.device))
        ps.device = "" if p.device == "ring" else p.device
        ps.rx_queues = p.rx_queues
        ps.tx_queues = workers if p.tx_queues is None else p.tx_queues
        ps.rx_desc = p.rx_desc
        ps.tx_desc = p.tx_desc
        ps.mtu = p.mtu or 0
        ps.promiscuous = p.promiscuous
        ps.rss = p.rss
        ps.mac = p.mac or ""
        ps.kernel = p.kernel or ""
        ps.vrf = p.vrf
        ports.append(ps)
    spec.ports = ports
    vlans = []
    for p in config.ports:
        for v in p.vlans:
            vs = _native.VlanSpec()
            vs.port, vs.vlan, vs.mtu, vs.kernel = p.name, v.vlan, v.mtu or 0, v.kernel or ""
            vs.vrf = v.vrf
            vlans.append(vs)
    spec.vlans = vlans
    spec.vrfs = list(config.vrfs)
    return spec


def _kernel_vrfs(config: DataplaneConfig) -> set[str]:
    """The VRFs besides the global one with kernel interfaces: each gets a namespace."""
    vrfs = {p.vrf for p in config.ports if p.kernel}
    vrfs |= {v.vrf for p in config.ports for v in p.vlans if v.kernel}
    return vrfs - {"default"}


class Dataplane:
    """Ports, tables and workers of one appliance, in this process.

    Use as a context manager, or call start() / stop() / close().
    """

    def __init__(self, config: DataplaneConfig):
        if not config.ports:
            raise ConfigError("a dataplane needs at least one port")
        self.config = config
        init_eal(config.eal, [p.device for p in config.ports if p.device != "ring"])
        for vrf in _kernel_vrfs(config):  # (the VRF's kernel interfaces are made in it)
            kernel_iface.ensure_netns(vrf)
        self._dp = _native.Dataplane(_native_spec(config))
        # Every interface's kernel interface (ports' and sub-interfaces' taps), and the
        # network namespace it is in (None: ours).
        self._kernel = {f["name"]: f["kernel"] for f in self._dp.interfaces() if f["kernel"]}
        self._netns = {f["name"]: None if f["vrf"] == "default" else f["vrf"]
                       for f in self._dp.interfaces()}
        for port, name in self._kernel.items():
            kernel_iface.prepare(name, netns=self._netns[port])

    # -- lifecycle --
    def start(self) -> None:
        self._dp.start()

    def stop(self) -> None:
        self._dp.stop()

    def close(self) -> None:
        self._dp.close()

    @property
    def running(self) -> bool:
        return self._dp.running

    def __enter__(self) -> Dataplane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- routes --
    # `vrf`: the VRF's name, "default" the global one's. A route's next hop may be on
    # an interface of another VRF: that is how a route leaks between VRFs.
    def route_add(self, prefix: Prefix, nexthop: int, vrf: str = "default") -> None:
        self._dp.route_add(to_prefix(prefix), nexthop, vrf)

    def route_add_bulk(self, routes: Iterable[tuple[Prefix, int] | tuple[Prefix, int, str]]) -> int:
        """Adds all routes or none, each (prefix, next hop) or (prefix, next hop, vrf);
        returns how many. The GIL is released meanwhile."""
        routes = list(routes)
        prefixes = canonical_prefixes(r[0] for r in routes)
        vrfs = [r[2] if len(r) > 2 else "default" for r in routes]
        self._dp.route_add_bulk(prefixes, [r[1] for r in routes],
                                vrfs if any(v != "default" for v in vrfs) else [])
        return len(prefixes)

    def route_delete(self, prefix: Prefix, vrf: str = "default") -> None:
        self._dp.route_delete(to_prefix(prefix), vrf)

    def kernel_route_delete(self, prefix: Prefix, vrf: str = "default") -> None:
        """Takes a route mirrored from a kernel table out of the VRF's FIB by hand."""
        self._dp.kernel_route_delete(to_prefix(prefix), vrf)

    def routes(self, vrf: str = "default") -> list[tuple[Network, int]]:
        """A VRF's IPv4 routes, then its IPv6 ones, each sorted by prefix."""
        return [(ipaddress.ip_network(p), nh) for p, nh in self._dp.routes(vrf)]

    def vrfs(self) -> list[str]:
        """Every VRF's name, the global one ("default") first."""
        return self._dp.vrfs()

    def route_count(self) -> int:
        return self._dp.route_count()

    def route_lookup(self, address: str | ipaddress.IPv4Address | ipaddress.IPv6Address,
                     vrf: str = "default") -> int | None:
        """The next hop a worker would pick for `address` in `vrf` (None: no route)."""
        return self._dp.route_lookup(str(address), vrf)

    # -- next hops --
    def nexthop_set(self, id: int, port: str, dst_mac: str, src_mac: str | None = None) -> None:
        self._dp.nexthop_set(id, port, dst_mac, src_mac or "")

    def nexthop_set_gateway(self, id: int, port: str, gateway: str) -> None:
        """A next hop whose MAC the appliance resolves with ARP or NDP (and keeps fresh);
        an IPv6 gateway may be link-local (on `port`)."""
        self._dp.nexthop_set_gateway(id, port, str(gateway))

    def nexthop_delete(self, id: int) -> None:
        self._dp.nexthop_delete(id)

    # -- own addresses and neighbours --
    def address_add(self, port: str, address: str) -> None:
        """`192.0.2.1/24` or `2001:db8::1/64`: answered for (ARP or NDP, ping), with its
        connected route. Every port also has an automatic IPv6 link-local address. The
        port's kernel interface, if it has one, gets it too."""
        self._dp.address_add(port, str(address))
        if port in self._kernel:
            try:
                kernel_iface.address(self._kernel[port], str(address), add=True,
                                     netns=self._netns[port])
            except PortError:
                self._dp.address_delete(port, str(address))
                raise

    def address_delete(self, port: str, address: str) -> None:
        self._dp.address_delete(port, str(address))
        if port in self._kernel:
            kernel_iface.address(self._kernel[port], str(address), add=False,
                                 netns=self._netns[port])

    def addresses(self) -> list[dict[str, Any]]:
        return self._dp.addresses()

    def ra_set(self, interface: str, settings: RaSettings | None) -> None:
        """Router advertisements on `interface` from now on (the first at once), or, with
        None, no more: a last one with router lifetime 0 withdraws the router from its hosts."""
        if settings is None:
            self._dp.ra_clear(interface)
        else:
            self._dp.ra_set(_ra_spec(replace(settings, interface=interface)))

    def vrrp_set(self, settings: VrrpSettings) -> None:
        """A virtual router, new (it starts as RFC 5798 says: a backup, or master at once as
        the owner) or changed in place, its state kept."""
        self._dp.vrrp_set(_vrrp_spec(settings))

    def vrrp_clear(self, interface: str, vrid: int, v6: bool) -> None:
        """The virtual router leaves; as master, with a priority-0 advertisement so a backup
        takes over at once."""
        self._dp.vrrp_clear(interface, vrid, v6)

    def vrrp(self) -> list[dict[str, Any]]:
        """Each virtual router: its settings, state, why it is in it, effective priority,
        the master as last heard, counters."""
        return self._dp.vrrp_list()

    def vrrp_events(self, after: int = 0) -> list[dict[str, Any]]:
        """Transitions (and tracking's priority changes) with a sequence number above
        `after`, oldest first; the last 1024 are kept."""
        return self._dp.vrrp_events(after)

    def interfaces(self) -> list[dict[str, Any]]:
        """Every L3 interface (each port, then the VLAN sub-interfaces): port, vlan, mtu,
        kernel interface, rx/tx packets and bytes (a port's: all its frames, as ethdev and
        Linux count them; a sub-interface's: its own, tag included)."""
        return self._dp.interfaces()

    def neighbor_add(self, port: str, ip: str, mac: str) -> None:
        """A static (permanent) neighbour entry."""
        self._dp.neighbor_add(port, str(ip), mac)

    def neighbor_delete(self, port: str, ip: str) -> None:
        self._dp.neighbor_delete(port, str(ip))

    def neighbors(self) -> list[dict[str, Any]]:
        return self._dp.neighbors()

    def nexthops(self) -> list[dict[str, Any]]:
        return self._dp.nexthops()

    # -- connection tracking --
    def conntrack_set_stateful(self, interface: str, on: bool) -> None:
        """`interface` admits only packets of sessions started through it (their replies,
        and ICMP errors about them); what leaves by it starts sessions. Needs a conntrack
        table (DataplaneConfig.conntrack)."""
        self._dp.conntrack_set_stateful(interface, on)

    def conntrack_stateful(self) -> list[str]:
        return self._dp.conntrack_stateful()

    def conntrack_list(self, proto: int | str | None = None,
                       address: str | None = None) -> list[dict[str, Any]]:
        """Sessions: {proto, family, vrf, state, original, reply ({src, dst, sport, dport}),
        age_s, idle_s, timeout_s}; only those of `proto`, or with `address` in a tuple."""
        return self._dp.conntrack_list(-1 if proto is None else to_protocol(proto),
                                       "" if address is None else str(address))

    def conntrack_flush(self) -> int:
        """Every session gone at once; returns how many."""
        return self._dp.conntrack_flush()

    def conntrack_stats(self) -> dict[str, Any]:
        return self._dp.conntrack_stats()

    # -- NAT44 --
    def nat_set(self, interfaces: dict[str, dict[str, Any]], forwards: list[dict[str, Any]]) -> None:
        """Every NAT rule at once (appliance.nat.nat_rules() makes them): per outside
        interface {source: masquerade|pool|"", addresses, ports: [lo, hi]}; forwards
        {iface, proto: tcp|udp|"" (1:1), public_addr, public_port, to_addr, to_port}.
        Sessions already translated keep their translation."""
        specs = {}
        for name, r in interfaces.items():
            spec = _native.NatIfaceSpec()
            spec.source, spec.addresses = r["source"], list(r["addresses"])
            spec.port_lo, spec.port_hi = r["ports"]
            specs[name] = spec
        out = []
        for f in forwards:
            spec = _native.NatForwardSpec()
            for k in ("iface", "proto", "public_addr", "public_port", "to_addr", "to_port"):
                setattr(spec, k, f[k])
            out.append(spec)
        self._dp.nat_set(specs, out)

    def nat_stats(self) -> dict[str, Any]:
        """{mappings, port_failures, ports: [{address, tcp, udp, icmp}]}: ports in use per
        public address."""
        return self._dp.nat_stats()

    # -- packet capture (appliance/capture.py writes the pcapng) --
    def capture_start(self, spec: _native.CaptureSpec) -> None:
        """One capture at a time (StateError while one runs); CaptureError for a filter
        libpcap refuses."""
        self._dp.capture_start(spec)

    def capture_read(self, max: int = 256) -> list[tuple]:
        """The copies made since the last read: (tsc, wire_len, interface index, what,
        drop reason, worker, bytes), oldest first."""
        return self._dp.capture_read(max)

    def capture_stats(self) -> dict[str, Any]:
        """{copied, filtered, lost, done} of the running capture."""
        return self._dp.capture_stats()

    def capture_stop(self) -> None:
        self._dp.capture_stop()

    @property
    def capturing(self) -> bool:
        return self._dp.capturing

    # -- per-packet trace (appliance/trace.py says it in words) --
    def trace_start(self, spec: _native.TraceSpec) -> None:
        """Traces the next spec.count packets chosen (replacing the last trace's records);
        CaptureError for a match libpcap refuses."""
        self._dp.trace_start(spec)

    def trace_stop(self) -> None:
        """No more packets chosen; the records stay for trace_records()."""
        self._dp.trace_stop()

    def trace_records(self) -> dict[str, Any]:
        """The running or last trace: {chosen, count, lost, running, packets: [(packet,
        tsc, worker, interface index, queue, wire_len, head)], events: [(packet, tsc,
        worker, step, code, a, b, data)]}; StateError when none was started."""
        return self._dp.trace_records()

    @property
    def tracing(self) -> bool:
        return self._dp.tracing

    def route_match(self, address: str, vrf: str = "default") -> tuple[str, int] | None:
        """The route a lookup of `address` meets in `vrf`: (prefix, next hop); None: none."""
        return self._dp.route_match(str(address), vrf)

    # -- routes mirrored from the kernel (route sync) --
    def route_sync_resync(self) -> None:
        """A full dump of the kernel table now, as after an overrun."""
        self._dp.route_sync_resync()

    def kernel_routes(self) -> list[dict[str, Any]]:
        """{prefix, port, gateway, protocol, shadowed}, sorted by prefix."""
        return sorted(self._dp.kernel_routes(),
                      key=lambda r: (":" in r["prefix"], ipaddress.ip_network(r["prefix"])))

    # -- exact-match rules --
    def rule_add(self, proto: int | str, src: str, src_port: int, dst: str, dst_port: int,
                 action: str = "forward", nexthop: int | None = None) -> None:
        if action == "forward" and nexthop is None:
            raise RuleError("a forward rule needs a nexthop")
        self._dp.rule_add(to_protocol(proto), str(src), src_port, str(dst), dst_port, action,
                          nexthop or 0)

    def rule_delete(self, proto: int | str, src: str, src_port: int, dst: str,
                    dst_port: int) -> None:
        self._dp.rule_delete(to_protocol(proto), str(src), src_port, str(dst), dst_port)

    def rules(self) -> list[dict[str, Any]]:
        return self._dp.rules()

    # -- access control lists --
    def acl_set(self, name: str, body: AclBody | dict[str, Any]) -> list[dict[str, Any]]:
        """Creates or replaces ACL `name` whole ({default, entries}); the classifier is built
        first, so a failure leaves the old one in force. Returns the final counts of the
        entries the change took out of service ({entry: old index or -1 for the default,
        packets, bytes}); counts of entries it keeps carry over."""
        if not isinstance(body, AclBody):
            body = parse_body(body, name)
        return self._dp.acl_set(name, [e.to_native() for e in body.entries], body.default)

    def acl_insert(self, name: str, entry: dict[str, Any],
                   position: int | None = None) -> list[dict[str, Any]]:
        """One entry in at `position` (None: the end): a whole replace underneath."""
        return self.acl_set(name, inserted(self._acl_body(name), name, entry, position))

    def acl_remove_entry(self, name: str, position: int) -> list[dict[str, Any]]:
        return self.acl_set(name, removed(self._acl_body(name), name, position))

    def _acl_body(self, name: str) -> dict[str, Any]:
        shown = self.acl_show(name)
        entries = [{k: v for k, v in e.items() if k not in ("packets", "bytes")}
                   for e in shown["entries"]]
        return {"default": shown["default"], "entries": entries}

    def acl_delete(self, name: str) -> None:
        self._dp.acl_delete(name)

    def acl_bind(self, port: str, direction: str, name: str | None) -> None:
        """ACL `name` filters what `port` receives (in) or sends (out); None unbinds."""
        if direction not in DIRECTIONS:
            raise AclError(f"direction '{direction}': in or out")
        self._dp.acl_bind(port, direction, name or "")

    def acl_bound(self, port: str, direction: str) -> str | None:
        return self._dp.acl_bound(port, direction) or None

    def acls(self) -> list[str]:
        return self._dp.acl_names()

    def acl_show(self, name: str) -> dict[str, Any]:
        """{name, default, default_count, entries (with packets, bytes), bound, memory}."""
        shown = self._dp.acl_show(name)
        shown["entries"] = [entry_from_native(e) for e in shown["entries"]]
        shown["bound"] = [list(b) for b in shown["bound"]]
        return shown

    # -- observability --
    def stats(self) -> dict[str, Any]:
        """Totals, per-worker and per-port counters as plain dicts."""
        workers = self._dp.worker_stats()
        slow = self._dp.slowpath_stats()
        slow["cycles_per_packet"] = slow["busy_cycles"] / slow["received"] if slow["received"] else 0.0
        drops = {r: sum(w["drops"][r] for w in workers) + slow["drops"][r] for r in DROP_REASONS}
        busy_cycles = sum(w["busy_cycles"] for w in workers)
        busy_packets = sum(w["busy_packets"] for w in workers)
        for w in workers:
            w["cycles_per_packet"] = w["busy_cycles"] / w["busy_packets"] if w["busy_packets"] else 0.0
        # Every packet received is forwarded (tx), dropped under a reason,
        # consumed by the router itself (local: ARP, echo) or held for ARP.
        return {
            "rx_packets": sum(w["rx_packets"] for w in workers),
            "tx_packets": sum(w["tx_packets"] for w in workers) + slow["fragmented"],
            "drops": drops,
            "local_packets": slow["local"],
            "held_packets": slow["held"],
            "slowpath": slow,
            "cycles_per_packet": busy_cycles / busy_packets if busy_packets else 0.0,
            "workers": workers,
            "ports": self._dp.port_counters(),
            "interfaces": {f["name"]: {k: f[k] for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")}
                           for f in self._dp.interfaces()},
            "routes": self._dp.route_count(),
            "tbl8_groups_in_use": self._dp.tbl8_groups_in_use(),
            "tbl8_groups6_in_use": self._dp.tbl8_groups6_in_use(),
            "rules": self._dp.rule_count(),
            # Per ACL: its size and what it decided, by action (entry by entry: acl_show()).
            "acls": self._dp.acl_summaries(),
            # Stage 1 tests eight headers per instruction (eal.max_simd_bitwidth 512, a CPU with it).
            "avx512_input": self._dp.avx512_input,
            "neighbors": self._neighbor_states(),
            "route_sync": self._dp.route_sync_stats() if self.config.route_sync else None,
            # Sessions now, started (by the workers) and expired since start; None: no table.
            "conntrack": {**self._dp.conntrack_stats(), "created": sum(w["ct_created"] for w in workers)}
            if self.config.conntrack else None,
            "nat": self._dp.nat_stats() if self.config.conntrack else None,
            # A capture runs (appliance capture): its copies made, filtered out, lost.
            "capturing": self._dp.capturing,
            "tracing": self._dp.tracing,  # appliance trace: choosing packets to trace
            "vrrp": self._dp.vrrp_list(),  # each virtual router: state, priority, counters
            "capture": self._capture_stats(),
        }

    def _capture_stats(self) -> dict[str, Any] | None:
        try:
            return self._dp.capture_stats() if self._dp.capturing else None
        except StateError:  # (it ended meanwhile)
            return None

    def _neighbor_states(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self._dp.neighbors():
            counts[n["state"]] = counts.get(n["state"], 0) + 1
        return counts

    def ports(self) -> list[dict[str, Any]]:
        return self._dp.port_states()

    def mempools(self) -> list[dict[str, Any]]:
        return self._dp.mempools()

    # -- ring ports (tests, debugging) --
    def inject(self, port: str, frames: Iterable[bytes], queue: int = 0) -> int:
        """Queues frames on a ring port's rx queue; returns how many fit."""
        return self._dp.inject(port, [bytes(f) for f in frames], queue)

    def drain(self, port: str) -> list[bytes]:
        return self._dp.drain(port)

    def quiesce(self, timeout: float = 5.0) -> None:
        """Returns once every injected frame is transmitted or counted."""
        if not self._dp.quiesce(timeout):
            raise TimeoutError(f"workers did not consume injected frames within {timeout} s")

