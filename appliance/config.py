"""The configuration schema: one source of truth for a running appliance.

A YAML document is validated completely before anything touches the host:
types and ranges by the pydantic model (unknown keys are errors), then the
cross-references (next hops to known ports, routes and rules to known next
hops, lcores present on this host, duplicates). Every problem is reported as
`FILE: path.inside[1].document: what is wrong (got VALUE)`.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from appliance.acl import ACL_NAME_PATTERN, AclEntry
from appliance.dataplane import (PROTOCOLS, ConntrackSettings, DataplaneConfig, PortConfig,
                                 RaSettings, RouteSyncSettings, SlowPathSettings, TableSizes, VlanConfig,
                                 VrrpSettings,
                                 refuse_padded_length)
from appliance.decode import MAX_BYTES, load_yaml, shorten
from appliance.eal import HOST_CPUS, EalOptions, port_kind
from appliance.errors import ConfigError
from appliance.nat import NatSection, nat_problems
from appliance.vrrp import VrrpSection, vrrp_key, vrrp_problems
from appliance.well_known import DEFAULT_SOCKET, ROUTE_PROTOCOLS, ROUTE_TABLES

MAC_PATTERN = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
PORT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,15}$"
PORT_NAME = re.compile(PORT_NAME_PATTERN)
# An L3 interface: a port, or a VLAN sub-interface of one (`trunk0.10`).
INTERFACE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,15}(\.[0-9]{1,4})?$"
INTERFACE_NAME = re.compile(INTERFACE_NAME_PATTERN)
# A VRF: "default" is the global one. (15 characters: a Linux interface name.)
VRF_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,14}$"
VRF_NAME = re.compile(VRF_NAME_PATTERN)
DEFAULT_VRF = "default"
# The shapes the API documents for its query strings (the values are then parsed in full):
# an IPv4 or IPv6 address, with a prefix length or not; a protocol name or number.
_IPV4_SHAPE, _IPV6_SHAPE = r"([0-9]{1,3}\.){3}[0-9]{1,3}", r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*"
IP_PATTERN = rf"^({_IPV4_SHAPE}|{_IPV6_SHAPE})$"
PREFIX_PATTERN = rf"^({_IPV4_SHAPE}|{_IPV6_SHAPE})(/[0-9]{{1,3}})?$"
PROTOCOL_PATTERN = r"^(tcp|udp|icmp|[0-9]{1,3})$"
MAX_ERRORS = 20  # error lines shown; a million bad routes are summed up after these


def _unicast(mac: str) -> str:
    # A group or zero MAC as either end of a frame makes every switch flood or drop it.
    if int(mac[:2], 16) & 1 or mac.replace(":", "") == "0" * 12:
        raise ValueError("not a unicast MAC (multicast, broadcast and 00:00:00:00:00:00 "
                         "are refused)")
    return mac


UnicastMac = Annotated[str, Field(pattern=MAC_PATTERN), AfterValidator(_unicast)]
PortName = Annotated[str, Field(pattern=PORT_NAME_PATTERN)]
InterfaceName = Annotated[str, Field(pattern=INTERFACE_NAME_PATTERN)]
VrfName = Annotated[str, Field(pattern=VRF_NAME_PATTERN)]
# Ids and ports: integers only (not true, "1" or 1.0), within what the data plane stores.
Id = Annotated[int, Field(ge=0, le=(1 << 32) - 1, strict=True)]
Bool = Annotated[bool, Field(strict=True)]  # true/false only: not "on", "yes" or 1
L4Port = Annotated[int, Field(ge=0, le=65535, strict=True)]
Protocol = Annotated[int, Field(ge=0, le=255, strict=True)] | Literal["tcp", "udp", "icmp"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Lcore = Annotated[int, Field(ge=0, le=1023, strict=True)]
FilePath = Annotated[str, Field(min_length=1, max_length=4096)]


class EalSection(Strict):
    main_lcore: Lcore = 0
    worker_lcores: list[Lcore] = Field(default_factory=lambda: [1], min_length=1, max_length=128)
    memory_mb: int = Field(512, ge=64, le=1 << 20)
    hugepages: Bool = True
    file_prefix: str = Field("appliance", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # 512: AVX-512 where the CPU has it (our input stage, DPDK's drivers); 256 for CPUs
    # that slow down with it. DPDK's own default is 256.
    max_simd_bitwidth: Literal[128, 256, 512] = 512
    # lcore -> the CPU it runs on (default: the CPU of its number). Two workers on one CPU
    # halve each other's speed: for labs and tests of several workers on a small machine.
    cpus: dict[Lcore, Lcore] = Field({}, max_length=129)


class KernelSection(Strict):
    """A kernel interface for the port: what the router does not answer itself (BGP, SSH,
    OSPF) goes to it, and routing daemons use it as the port."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")  # IFNAMSIZ - 1


AclName = Annotated[str, Field(pattern=ACL_NAME_PATTERN)]


class PortAclSection(Strict):
    """The ACLs a port applies: `in` to what it receives (before the route lookup), `out`
    to what the route sends out of it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    in_: AclName | None = Field(None, alias="in")
    out: AclName | None = None


class RaSection(Strict):
    """IPv6 router advertisements on an interface (RFC 4861 6.2.1; RDNSS: RFC 8106). Off
    unless present. The prefixes are those of the interface's global IPv6 addresses."""

    max_interval_s: int = Field(600, ge=4, le=1800, strict=True)
    min_interval_s: int | None = Field(None, ge=3, le=1350, strict=True)  # None: max / 3
    lifetime_s: int | None = Field(None, ge=0, le=9000, strict=True)  # None: 3 x max, 0: no default router
    hop_limit: int = Field(64, ge=0, le=255, strict=True)
    managed: Bool = False   # M: addresses from DHCPv6
    other: Bool = False     # O: other configuration from DHCPv6
    on_link: Bool = True
    autonomous: Bool = True  # hosts form their own addresses in the prefixes (SLAAC)
    valid_lifetime_s: int = Field(2592000, ge=0, le=0xFFFFFFFF, strict=True)
    preferred_lifetime_s: int = Field(604800, ge=0, le=0xFFFFFFFF, strict=True)
    mtu: Bool = True  # advertise the interface's MTU
    rdnss: list[ipaddress.IPv6Address] = Field([], max_length=8)
    rdnss_lifetime_s: int | None = Field(None, ge=0, le=0xFFFFFFFF, strict=True)  # None: 2 x max

    @model_validator(mode="after")
    def consistent(self) -> RaSection:
        if self.min_interval_s is not None and self.min_interval_s > 0.75 * self.max_interval_s:
            raise ValueError(f"min_interval_s {self.min_interval_s} is above 0.75 x "
                             f"max_interval_s ({self.max_interval_s}) (RFC 4861 6.2.1)")
        if self.lifetime_s not in (None, 0) and self.lifetime_s < self.max_interval_s:
            raise ValueError(f"lifetime_s {self.lifetime_s} is below max_interval_s "
                             f"{self.max_interval_s}: 0 or max_interval_s..9000 (RFC 4861 6.2.1)")
        if self.preferred_lifetime_s > self.valid_lifetime_s:
            raise ValueError("preferred_lifetime_s is above valid_lifetime_s")
        return self

    def settings(self, interface: str) -> RaSettings:
        return RaSettings(
            interface=interface, max_interval_s=self.max_interval_s,
            min_interval_s=self.min_interval_s or max(3, self.max_interval_s // 3),
            lifetime_s=min(9000, 3 * self.max_interval_s) if self.lifetime_s is None else self.lifetime_s,
            hop_limit=self.hop_limit, managed=self.managed, other=self.other, on_link=self.on_link,
            autonomous=self.autonomous, valid_lifetime_s=self.valid_lifetime_s,
            preferred_lifetime_s=self.preferred_lifetime_s, mtu=self.mtu,
            rdnss=[str(a) for a in self.rdnss],
            rdnss_lifetime_s=2 * self.max_interval_s if self.rdnss_lifetime_s is None
            else self.rdnss_lifetime_s)


class _Addressed(Strict):
    """What every L3 interface has: addresses, ACL bindings, router advertisements (all
    change on a reload)."""

    addresses: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = Field([], max_length=4096)
    acl: PortAclSection = PortAclSection()
    ra: RaSection | None = None
    vrf: VrfName = DEFAULT_VRF  # (a restart moves an interface to another VRF)
    # The outside of a stateful firewall: only packets of sessions started through it
    # (their replies, and ICMP errors about them) come in. Needs `conntrack`.
    stateful: Bool = False
    # The outside of NAT44 (appliance/nat.py): sources translated as they leave, port forwards.
    nat: NatSection | None = None
    vrrp: list[VrrpSection] = Field([], max_length=255)  # virtual routers (appliance/vrrp.py)

    @field_validator("addresses", mode="before")
    @classmethod
    def interfaces(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out = []
        for a in v:
            if not isinstance(a, str) or "/" not in a:
                raise ValueError(f"'{a}': an address needs its prefix length, like 192.0.2.1/24 "
                                 "or 2001:db8::1/64")
            try:
                refuse_padded_length(a)
                out.append(ipaddress.ip_interface(a))
            except ValueError as e:
                raise ValueError(f"'{a}': {e}" if "leading zero" in str(e) else str(e)) from None
        return out


class VlanSection(_Addressed):
    """An 802.1Q sub-interface of its port, named PORT.VLAN (`wan0.100`) wherever an
    interface is named (next hops, neighbours, the API). Tagged frames of this VLAN are its
    own; untagged ones stay the port's."""

    vlan: int = Field(ge=1, le=4094, strict=True)
    mtu: int | None = Field(None, ge=68, le=9600)  # None: the port's
    kernel: KernelSection | None = None  # a kernel interface of its own (untagged)


class PortSection(_Addressed):
    name: PortName
    device: str = Field(max_length=1024)
    rx_queues: int = Field(1, ge=1, le=64)
    tx_queues: int | None = Field(None, ge=1, le=64)
    rx_desc: int = Field(1024, ge=64, le=16384)
    tx_desc: int = Field(1024, ge=64, le=16384)
    mtu: int | None = Field(None, ge=68, le=9600)
    promiscuous: Bool = False
    rss: Bool = True
    mac: UnicastMac | None = None
    kernel: KernelSection | None = None
    vlans: list[VlanSection] = Field([], max_length=4094)

    def port_config(self) -> PortConfig:
        return PortConfig(**self.model_dump(exclude={"addresses", "kernel", "acl", "vlans", "ra", "stateful", "nat",
                                                     "vrrp"}),
                          kernel=self.kernel.name if self.kernel else None,
                          vlans=[VlanConfig(v.vlan, v.mtu, v.kernel.name if v.kernel else None, v.vrf)
                                 for v in self.vlans])

    def live_stripped(self) -> PortSection:
        """The port without what a reload changes (addresses, ACL bindings and router
        advertisements, its sub-interfaces' too): two configs whose ports differ only there need no restart."""
        live = {"addresses": [], "acl": PortAclSection(), "ra": None, "stateful": False, "nat": None,
                "vrrp": []}
        return self.model_copy(update={**live, "vlans": [v.model_copy(update=live) for v in self.vlans]})

    @field_validator("device")
    @classmethod
    def known_device(cls, v: str) -> str:
        try:
            port_kind(v)
        except ConfigError as e:
            raise ValueError(str(e).split(": ", 1)[1]) from None
        if v == "ring":
            raise ValueError("ring ports are for tests; use a PCI address or a vdev")
        return v


class NextHopSection(Strict):
    """A next hop is a static MAC, or a gateway address resolved with ARP or NDP
    (an IPv6 gateway may be link-local, as routing daemons install them)."""

    id: Id
    port: InterfaceName
    mac: UnicastMac | None = None
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    src_mac: UnicastMac | None = None


class NeighborSection(Strict):
    """A static (permanent) neighbour entry."""

    port: InterfaceName
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    mac: UnicastMac


class ArpSection(Strict):
    reachable_ms: int = Field(30000, ge=100, le=3_600_000)
    stale_ms: int = Field(5000, ge=100, le=3_600_000)
    retrans_ms: int = Field(1000, ge=10, le=60_000)
    probes: int = Field(3, ge=1, le=20)
    failed_ms: int = Field(60000, ge=100, le=3_600_000)
    hold_packets: int = Field(8, ge=1, le=1024)
    max_neighbors: int = Field(4096, ge=16, le=1 << 20)


class IcmpSection(Strict):
    rate_limit: float = Field(1000, ge=0, le=1e9)  # errors per second, 0: unlimited
    burst: int = Field(50, ge=1, le=100_000)


class RouteSection(Strict):
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    nexthop: Id  # (its interface may be in another VRF: the route leaks into that one)
    vrf: VrfName = DEFAULT_VRF

    @field_validator("prefix", mode="before")
    @classmethod
    def strict_prefix(cls, v: Any) -> Any:
        if isinstance(v, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return v
        if not isinstance(v, str):
            raise ValueError("a prefix is a string like 10.0.0.0/8 or 2001:db8::/32")
        canonical = _IPV4_PREFIX.match(v)
        try:
            if canonical:  # the common case, 5x faster than parsing the string (1M-route configs)
                *octets, length = map(int, canonical.groups())
                return ipaddress.IPv4Network((int.from_bytes(bytes(octets), "big"), length))
            refuse_padded_length(v)
            return ipaddress.IPv6Network(v) if ":" in v else ipaddress.IPv4Network(v)
        except ValueError as e:
            raise ValueError(str(e)) from None


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_PREFIX = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(3[0-2]|[12]?[0-9])\Z")


class RuleSection(Strict):
    proto: Protocol
    src: ipaddress.IPv4Address | ipaddress.IPv6Address
    src_port: L4Port = 0
    dst: ipaddress.IPv4Address | ipaddress.IPv6Address
    dst_port: L4Port = 0
    action: Literal["forward", "drop"]
    nexthop: Id | None = None

    @model_validator(mode="after")
    def one_family(self) -> RuleSection:
        if self.src.version != self.dst.version:
            raise ValueError(f"src {self.src} and dst {self.dst} are of different IP versions")
        return self

    def key(self) -> tuple:
        proto = PROTOCOLS[self.proto] if isinstance(self.proto, str) else self.proto
        return (proto, str(self.src), self.src_port, str(self.dst), self.dst_port)


class AclSection(Strict):
    """A named, ordered list of entries; the first that matches decides, `default` when none
    does. See appliance/acl.py for the fields of an entry."""

    name: AclName
    default: Literal["permit", "deny", "reject"] = "permit"
    entries: list[AclEntry] = Field([], max_length=1 << 20)

    def body(self) -> dict:
        return {"default": self.default, "entries": [e.canonical() for e in self.entries]}


class TablesSection(Strict):
    max_routes: int = Field(TableSizes.max_routes, ge=1, le=1 << 24)
    tbl8_groups: int = Field(TableSizes.tbl8_groups, ge=1, le=1 << 24)
    max_routes6: int = Field(TableSizes.max_routes6, ge=1, le=1 << 24)
    tbl8_groups6: int = Field(TableSizes.tbl8_groups6, ge=1, le=1 << 24)
    max_nexthops: int = Field(TableSizes.max_nexthops, ge=1, le=1 << 24)
    max_rules: int = Field(TableSizes.max_rules, ge=8, le=1 << 26)
    max_acl_entries: int = Field(TableSizes.max_acl_entries, ge=1, le=1 << 20)  # per ACL
    max_acl_memory_mb: int = Field(TableSizes.max_acl_memory_mb, ge=1, le=1 << 20)


LISTEN_PATTERN = r"^[0-9A-Za-z.:\[\]-]+:[0-9]{1,5}$"


class ApiSection(Strict):
    socket: str = Field(DEFAULT_SOCKET, min_length=1, max_length=107)  # sun_path
    # Optional TCP listener; only with a bearer token (a file holding it).
    tcp_listen: str | None = Field(None, pattern=LISTEN_PATTERN)
    token_file: FilePath | None = None
    read_timeout_s: float = Field(30, gt=0, le=3600)  # a whole request must arrive in this
    max_connections: int = Field(256, ge=1, le=65536)  # per listener; more get a 503
    max_connections_per_peer: int = Field(32, ge=1, le=65536)  # per TCP peer address


Seconds = Annotated[int, Field(ge=1, le=30 * 86400, strict=True)]


class ConntrackSection(Strict):
    """The connection table: its size (its memory is taken at start) and the seconds a
    session lives idle in each state. The defaults are no shorter than the BEHAVE minimums
    (RFC 5382 REQ-5: established 2 h 4 min, transitory 4 min; RFC 4787 REQ-5: UDP 2 min)."""

    max_sessions: int = Field(65536, ge=16, le=1 << 26, strict=True)
    tcp_syn_sent: Seconds = 240
    tcp_syn_recv: Seconds = 240
    tcp_established: Seconds = 7440
    tcp_fin_wait: Seconds = 240
    tcp_last_ack: Seconds = 240
    tcp_time_wait: Seconds = 240
    tcp_close: Seconds = 10
    udp: Seconds = 120
    icmp: Seconds = 30
    other: Seconds = 600


class RouteSyncSection(Strict):
    """Mirror a kernel routing table into the FIB: what FRR, BIRD or `ip route` put there
    through the ports' kernel interfaces."""

    table: int | str = 254  # a number 1..2^32-1, or main / default
    protocols: list[int | str] = Field([], max_length=256)  # empty: all but the kernel's own

    @field_validator("table")
    @classmethod
    def table_id(cls, v: int | str) -> int:
        if isinstance(v, str):
            if v not in ROUTE_TABLES:
                raise ValueError(f"'{v}': a table number or one of {', '.join(ROUTE_TABLES)}")
            return ROUTE_TABLES[v]
        if isinstance(v, bool) or not 1 <= v <= 0xFFFFFFFF or v == 255:
            raise ValueError(f"{v}: a table number 1..4294967295 (not 255, the local table)")
        return v

    @field_validator("protocols")
    @classmethod
    def protocol_numbers(cls, v: list) -> list[int]:
        out = []
        for p in v:
            if isinstance(p, str) and p in ROUTE_PROTOCOLS:
                out.append(ROUTE_PROTOCOLS[p])
            elif isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255:
                out.append(p)
            else:
                raise ValueError(f"{shorten(p)}: a protocol number 0..255 or one of "
                                 f"{', '.join(ROUTE_PROTOCOLS)}")
        return out


class MetricsSection(Strict):
    listen: str = Field("127.0.0.1:9400", pattern=LISTEN_PATTERN)


@dataclass(frozen=True)
class Interface:
    """An L3 interface of a config: a port or a VLAN sub-interface (`wan0.100`)."""

    name: str
    path: str  # where it is in the document: ports[0] or ports[0].vlans[1]
    addresses: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]
    acl: PortAclSection
    ra: RaSection | None
    vrf: str
    stateful: bool
    nat: NatSection | None
    vrrp: list[VrrpSection]


class VrfSection(Strict):
    """A VRF: its own IPv4 and IPv6 route tables, each as big as `tables` says, in memory
    backed as routes fill it. Interfaces name theirs (ports[].vrf, vlans[].vrf)."""

    name: VrfName


class Config(Strict):
    eal: EalSection = EalSection()
    ports: list[PortSection] = Field(min_length=1, max_length=32)  # RTE_MAX_ETHPORTS
    vrfs: list[VrfSection] = Field([], max_length=1023)  # besides "default"
    nexthops: list[NextHopSection] = []
    neighbors: list[NeighborSection] = []
    routes: list[RouteSection] = []
    rules: list[RuleSection] = []
    acls: list[AclSection] = Field([], max_length=4096)
    tables: TablesSection = TablesSection()
    verify_checksum: Bool = True
    stage_clocks: Bool = False
    arp: ArpSection = ArpSection()
    icmp: IcmpSection = IcmpSection()
    api: ApiSection = ApiSection()
    metrics: MetricsSection | None = None  # off unless present
    state_file: FilePath | None = None
    route_sync: RouteSyncSection | None = None  # off unless present
    conntrack: ConntrackSection | None = None  # no connection table unless present

    def ra_settings(self) -> dict[str, RaSettings]:
        """Interface -> its router advertisement settings, for those that send them."""
        return {f.name: f.ra.settings(f.name) for f in self.interfaces() if f.ra}

    def vrrp_settings(self) -> dict[str, VrrpSettings]:
        """vrrp_key() -> the virtual router's settings, for every one configured."""
        return {vrrp_key(f.name, v.vrid, v.family): v.settings(f.name)
                for f in self.interfaces() for v in f.vrrp}

    def interfaces(self) -> list[Interface]:
        """Every L3 interface: each port, then its sub-interfaces."""
        out = []
        for i, p in enumerate(self.ports):
            out.append(Interface(p.name, f"ports[{i}]", p.addresses, p.acl, p.ra, p.vrf, p.stateful,
                                 p.nat, p.vrrp))
            out += [Interface(f"{p.name}.{v.vlan}", f"ports[{i}].vlans[{j}]", v.addresses, v.acl,
                              v.ra, v.vrf, v.stateful, v.nat, v.vrrp) for j, v in enumerate(p.vlans)]
        return out

    def dataplane_config(self) -> DataplaneConfig:
        return DataplaneConfig(
            name="appliance",
            ports=[p.port_config() for p in self.ports],
            vrfs=[v.name for v in self.vrfs],
            eal=EalOptions(**self.eal.model_dump(exclude={"cpus"}), cpus={
                lcore: self.eal.cpus.get(lcore, lcore)
                for lcore in [self.eal.main_lcore, *self.eal.worker_lcores]}),
            tables=TableSizes(**self.tables.model_dump()),
            verify_checksum=self.verify_checksum,
            stage_clocks=self.stage_clocks,
            slowpath=SlowPathSettings(icmp_rate=self.icmp.rate_limit, icmp_burst=self.icmp.burst,
                                      **self.arp.model_dump()),
            route_sync=RouteSyncSettings(**self.route_sync.model_dump()) if self.route_sync else None,
            conntrack=ConntrackSettings(**self.conntrack.model_dump()) if self.conntrack else None)


RESTART_SECTIONS = ("eal", "ports", "vrfs", "tables", "verify_checksum", "stage_clocks", "arp", "icmp", "api",
                    "metrics", "state_file", "route_sync", "conntrack")


def restart_needed(old: Config, new: Config) -> list[str]:
    """The sections that differ and only a restart applies (sub-interfaces are part of
    ports); the rest (next hops, routes, rules, ACLs, neighbours, interface addresses, ACL
    bindings and router advertisements) a reload (SIGHUP) applies with
    no forwarding gap."""
    changed = []
    for section in RESTART_SECTIONS:
        if section == "ports":
            same = [p.live_stripped() for p in new.ports] == [p.live_stripped() for p in old.ports]
        else:
            same = getattr(new, section) == getattr(old, section)
        if not same:
            changed.append(section)
    return changed


def split_listen(listen: str) -> tuple[str, int]:
    host, port = listen.rsplit(":", 1)
    return host.strip("[]"), int(port)


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue  # pydantic's internal validator steps
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def _format(source: str, error: dict) -> str:
    where = _path(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{source}: {where}: unknown key"
    if error["type"] == "missing":
        return f"{source}: {where}: required key missing"
    return f"{source}: {where}: {message} (got {shorten(error.get('input'))})"


def format_errors(source: str, errors: list[dict]) -> str:
    """pydantic's errors as `SOURCE: path: what is wrong (got VALUE)` lines."""
    return _joined([_format(source, err) for err in errors])


def _address_problems(a: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> list[str]:
    """Why a port address cannot be one (as the data plane would say), if it cannot."""
    net = a.network
    if a.version == 4:
        if net.prefixlen < 31 and a.ip in (net.network_address, net.broadcast_address):
            return ["is the subnet's network or broadcast address"]
        if a.ip.is_loopback or a.ip.is_multicast or a.ip.is_reserved or int(a.ip) >> 24 == 0:
            return ["is not a usable unicast address"]
        return []
    if a.ip.is_multicast or a.ip.is_loopback or a.ip.is_unspecified or a.ip.ipv4_mapped:
        return ["is not a usable unicast address"]
    if not a.ip.is_link_local and net.prefixlen < 127 and a.ip == net.network_address:
        return ["is the subnet-router anycast address (RFC 4291 2.6.1)"]
    return []


def _semantic_errors(cfg: Config, source: str, check_host: bool) -> list[str]:
    errors = []

    def dup(items: list, what: str, key) -> None:
        seen: dict = {}
        for i, item in enumerate(items):
            k = key(item)
            if k in seen:
                errors.append(f"{source}: {what}[{i}]: duplicate of {what}[{seen[k]}] ({k})")
            seen.setdefault(k, i)

    dup(cfg.ports, "ports", lambda p: p.name)
    dup(cfg.ports, "ports", lambda p: p.device.split(",")[0])
    kernels: dict[str, str] = {}
    for i, p in enumerate(cfg.ports):
        for path, section in [(f"ports[{i}]", p), *((f"ports[{i}].vlans[{j}]", v)
                                                     for j, v in enumerate(p.vlans))]:
            if section.kernel is None:
                continue
            if section.kernel.name in kernels:
                errors.append(f"{source}: {path}.kernel.name: {section.kernel.name} is already "
                              f"{kernels[section.kernel.name]}'s")
            kernels.setdefault(section.kernel.name, path)
    if cfg.route_sync is not None and not kernels:
        errors.append(f"{source}: route_sync: no interface has a kernel interface (ports[].kernel) "
                      "for the mirrored routes to leave by")
    dup(cfg.nexthops, "nexthops", lambda n: n.id)
    dup(cfg.vrfs, "vrfs", lambda v: v.name)
    vrfs = {DEFAULT_VRF, *(v.name for v in cfg.vrfs)}
    for i, v in enumerate(cfg.vrfs):
        if v.name == DEFAULT_VRF:
            errors.append(f"{source}: vrfs[{i}].name: '{DEFAULT_VRF}' is the global VRF's name")

    def unknown_vrf(path: str, name: str) -> None:
        if name not in vrfs:
            errors.append(f"{source}: {path}.vrf: unknown VRF '{name}' (VRFs: "
                          f"{', '.join(sorted(vrfs))})")
    dup(cfg.routes, "routes", lambda r: (r.vrf, str(r.prefix)) if r.vrf != DEFAULT_VRF
        else str(r.prefix))
    for i, r in enumerate(cfg.routes):
        unknown_vrf(f"routes[{i}]", r.vrf)
    dup(cfg.rules, "rules", RuleSection.key)
    interfaces = cfg.interfaces()
    for f in interfaces:
        unknown_vrf(f.path, f.vrf)
        if f.stateful and cfg.conntrack is None:
            errors.append(f"{source}: {f.path}.stateful: needs the connection table (a conntrack "
                          "section, `conntrack: {}` for the defaults)")
    errors += [f"{source}: {path}: {why}" for path, why in nat_problems(interfaces, cfg.conntrack is not None)]
    errors += [f"{source}: {path}: {why}" for path, why in vrrp_problems(interfaces)]
    named: dict[str, str] = {}
    for f in interfaces:
        if f.name in named and "vlans" in f.path + named[f.name]:  # (ports: dup() above)
            errors.append(f"{source}: {f.path}: interface name {f.name} is already {named[f.name]}")
        named.setdefault(f.name, f.path)
    for i, p in enumerate(cfg.ports):
        for j, v in enumerate(p.vlans):
            if p.mtu is not None and v.mtu is not None and v.mtu > p.mtu:
                errors.append(f"{source}: ports[{i}].vlans[{j}].mtu: {v.mtu} is above the "
                              f"port's MTU {p.mtu}")
    ports = {f.name for f in interfaces}
    hops = {n.id for n in cfg.nexthops}
    workers = len(cfg.eal.worker_lcores)
    for i, p in enumerate(cfg.ports):
        if p.tx_queues is not None and p.tx_queues < workers:
            errors.append(f"{source}: ports[{i}].tx_queues: {p.tx_queues} is fewer than the "
                          f"{workers} workers (each worker needs its own tx queue)")
    for lcore in [cfg.eal.main_lcore, *cfg.eal.worker_lcores] if check_host else []:
        cpu = cfg.eal.cpus.get(lcore, lcore)
        if cpu not in HOST_CPUS:
            errors.append(f"{source}: eal: lcore {lcore}"
                          + (f" (on CPU {cpu})" if cpu != lcore else "") + " is not a CPU of this host "
                          f"(available: {','.join(map(str, HOST_CPUS))})")
    if cfg.eal.main_lcore in cfg.eal.worker_lcores:
        errors.append(f"{source}: eal.worker_lcores: contains the main lcore {cfg.eal.main_lcore}")
    for i, n in enumerate(cfg.nexthops):
        if n.port not in ports:
            errors.append(f"{source}: nexthops[{i}].port: unknown interface '{n.port}' "
                          f"(interfaces: {', '.join(sorted(ports))})")
        if (n.mac is None) == (n.gateway is None):
            errors.append(f"{source}: nexthops[{i}]: give either mac or gateway (got "
                          f"{'both' if n.mac else 'neither'})")
        if n.gateway is not None and n.src_mac is not None:
            errors.append(f"{source}: nexthops[{i}].src_mac: a gateway next hop sends from "
                          "the port's MAC")
    for i, n in enumerate(cfg.neighbors):
        if n.port not in ports:
            errors.append(f"{source}: neighbors[{i}].port: unknown interface '{n.port}' "
                          f"(interfaces: {', '.join(sorted(ports))})")
    dup(cfg.neighbors, "neighbors", lambda n: (n.port, str(n.ip)))
    seen_addresses: dict = {}
    for f in interfaces:
        for j, a in enumerate(f.addresses):
            where = f"{source}: {f.path}.addresses[{j}]"
            errors += [f"{where}: {a} {why}" for why in _address_problems(a)]
            # Unique in its VRF (link-local ones: on their link)
            key = (f.name, a.ip) if a.ip.is_link_local else (f.vrf, a.ip)
            if key in seen_addresses:
                errors.append(f"{where}: {a.ip} is already {seen_addresses[key]}"
                              + (f" (both in VRF {f.vrf})" if f.vrf != DEFAULT_VRF else ""))
            seen_addresses.setdefault(key, f"{f.path}.addresses[{j}]")
    for i, r in enumerate(cfg.routes):
        if r.nexthop not in hops:
            errors.append(f"{source}: routes[{i}].nexthop: next hop {r.nexthop} is not defined")
    errors += _acl_errors(cfg, source, hops)
    for i, r in enumerate(cfg.rules):
        if r.action == "forward" and r.nexthop is None:
            errors.append(f"{source}: rules[{i}].nexthop: a forward rule needs a nexthop")
        elif r.nexthop is not None and r.nexthop not in hops:
            errors.append(f"{source}: rules[{i}].nexthop: next hop {r.nexthop} is not defined")
    if cfg.api.tcp_listen and not cfg.api.token_file:
        errors.append(f"{source}: api.token_file: required with api.tcp_listen "
                      "(the TCP API never runs without a bearer token)")
    elif cfg.api.token_file and check_host:
        try:
            read_token(cfg.api.token_file)
        except ConfigError as e:
            errors.append(f"{source}: api.token_file: {e}")
    tables = cfg.tables
    routes6 = sum(r.prefix.version == 6 for r in cfg.routes)
    if len(cfg.routes) - routes6 > tables.max_routes:
        errors.append(f"{source}: routes: {len(cfg.routes) - routes6} IPv4 routes exceed "
                      f"tables.max_routes {tables.max_routes}")
    if routes6 > tables.max_routes6:
        errors.append(f"{source}: routes: {routes6} IPv6 routes exceed tables.max_routes6 "
                      f"{tables.max_routes6}")
    for i, n in enumerate(cfg.nexthops):
        if n.id >= tables.max_nexthops:
            errors.append(f"{source}: nexthops[{i}].id: {n.id} is beyond tables.max_nexthops "
                          f"{tables.max_nexthops}")
    return errors


def _acl_errors(cfg: Config, source: str, hops: set[int]) -> list[str]:
    errors = []
    seen: dict[str, int] = {}
    for i, acl in enumerate(cfg.acls):
        if acl.name in seen:
            errors.append(f"{source}: acls[{i}]: duplicate of acls[{seen[acl.name]}] ({acl.name})")
        seen.setdefault(acl.name, i)
        if len(acl.entries) > cfg.tables.max_acl_entries:
            errors.append(f"{source}: acls[{i}].entries: {len(acl.entries)} entries exceed "
                          f"tables.max_acl_entries {cfg.tables.max_acl_entries}")
        for j, e in enumerate(acl.entries):
            if e.nexthop is not None and e.nexthop not in hops:
                errors.append(f"{source}: acls[{i}].entries[{j}].nexthop: next hop {e.nexthop} "
                              "is not defined")
    redirects = {a.name for a in cfg.acls if any(e.action == "redirect" for e in a.entries)}
    for f in cfg.interfaces():
        for direction, name in (("in", f.acl.in_), ("out", f.acl.out)):
            if name is None:
                continue
            if name not in seen:
                errors.append(f"{source}: {f.path}.acl.{direction}: no ACL named '{name}' "
                              f"(acls: {', '.join(sorted(seen)) or 'none'})")
            elif direction == "out" and name in redirects:
                errors.append(f"{source}: {f.path}.acl.out: ACL {name} redirects, which acts "
                              "only before the route lookup: bind it in")
    return errors


def parse_config(document: Any, source: str = "<config>", check_host: bool = True) -> Config:
    """Validates a parsed document; ConfigError lists every problem found.

    check_host=False skips what depends on this machine (its CPUs), to
    validate a config meant for another host.
    """
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        cfg = Config.model_validate(document)
    except ValidationError as e:
        raise ConfigError(format_errors(source, e.errors())) from None
    errors = _semantic_errors(cfg, source, check_host)
    if errors:
        raise ConfigError(_joined(errors))
    return cfg


def _joined(errors: list[str]) -> str:
    more = len(errors) - MAX_ERRORS
    return "\n".join(errors[:MAX_ERRORS] + ([f"... and {more} more errors"] if more > 0 else []))


def read_token(path: str) -> str:
    """The API bearer token from its file; ConfigError if it cannot be one."""
    try:
        with open(path, "rb") as f:
            raw = f.read(4097)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the token must be printable ASCII") from None
    if not token:
        raise ConfigError(f"{path}: the token file is empty")
    if len(raw) > 4096 or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(f"{path}: the token must be one line of printable ASCII "
                          "without spaces, at most 4096 bytes")
    return token


def load_config(path: str | os.PathLike, check_host: bool = True) -> Config:
    """Reads and validates a YAML config file."""
    return parse_config(read_yaml(path), str(path), check_host)


def read_yaml(path: str | os.PathLike) -> Any:
    """A YAML file through the bounded decoder; ConfigError names the file."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)  # bounded: /dev/zero is a path too
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    return load_yaml(data, str(path))
