"""Request and response bodies of the control API: the config's own types where they fit.

A next hop, neighbour or rule sent to the API is validated by the same model
as in the config file, so both accept and refuse the same things.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from appliance.acl import ACL_NAME_PATTERN
from appliance.config import (DEFAULT_VRF, Id, InterfaceName, NeighborSection, NextHopSection,
                              RaSection, RouteSection, RuleSection, Strict, VrfName)

__all__ = ["AddressBody", "Added", "Deleted", "NeighborSection", "NextHopSection", "RouteSection",
           "RoutesBody", "RuleBody", "NextHopState", "NeighborState", "AddressState", "Health",
           "Ready", "ErrorBody", "Set", "AclSummary", "AclReplaced", "AclBinding", "VrfState", "CaptureBody"]


class RoutesBody(Strict):
    """One route (prefix + nexthop), a list (routes) or the compact bulk form
    (prefixes + nexthops, what Client.route_add_bulk sends). Bulk adds are all or nothing."""

    prefix: str | None = None
    nexthop: Id | None = None
    routes: list[RouteSection] | None = None  # (each with its own vrf)
    prefixes: list[str] | None = None
    nexthops: list[Id] | None = None
    vrf: VrfName = DEFAULT_VRF  # of prefix, or prefixes

    @model_validator(mode="after")
    def one_form(self) -> RoutesBody:
        forms = [self.prefix is not None or self.nexthop is not None, self.routes is not None,
                 self.prefixes is not None or self.nexthops is not None]
        if sum(forms) != 1:
            raise ValueError("give prefix and nexthop, or routes, or prefixes and nexthops")
        if forms[0] and (self.prefix is None or self.nexthop is None):
            raise ValueError("a route needs both prefix and nexthop")
        if forms[2] and (self.prefixes is None or self.nexthops is None
                         or len(self.prefixes) != len(self.nexthops)):
            raise ValueError("prefixes and nexthops: two lists of the same length")
        return self

    def triples(self) -> list[tuple[str, int, str]]:
        """(prefix, next hop, vrf) of each route."""
        if self.routes is not None:
            return [(str(r.prefix), r.nexthop, r.vrf) for r in self.routes]
        return [(p, nh, self.vrf) for p, nh in zip(self.prefixes, self.nexthops)]


class RuleBody(RuleSection):
    action: Literal["forward", "drop"] = "forward"


class AddressBody(Strict):
    port: InterfaceName
    address: str  # "192.0.2.1/24", "2001:db8::1/64"; checked by the service, which says what is wrong


class CaptureBody(Strict):
    """What to capture (appliance/capture.py: CaptureRequest): an interface (none: every
    one), its direction, or the packets dropped (for some reasons), a tcpdump filter, and
    when to stop (a count, seconds; neither: when the client goes)."""
    interface: InterfaceName | None = None
    direction: Literal["in", "out", "both"] = "both"
    drops: bool = False
    reasons: list[str] = Field(default_factory=list, max_length=64)
    filter: str = Field("", max_length=4096, description="a tcpdump (pcap-filter) expression")
    count: int = Field(0, ge=0, le=2**32)
    snaplen: int = Field(262144, ge=1, le=262144)
    seconds: float = Field(0, ge=0, le=86400)


class TraceBody(Strict):
    """Which packets to trace (appliance/trace.py: TraceRequest): the next `count` an
    interface receives (none: any), matching a tcpdump expression."""
    interface: InterfaceName | None = None
    count: int = Field(16, ge=1, le=4096)
    match: str = Field("", max_length=4096, description="a tcpdump (pcap-filter) expression")


class Added(BaseModel):
    added: int


class Deleted(BaseModel):
    deleted: int


class Requested(BaseModel):
    requested: bool


class Set(BaseModel):
    set: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str = Field(description="the appliance's version, as this process loaded it")


class Ready(BaseModel):
    ready: bool


class VrfState(BaseModel):
    name: str
    interfaces: list[str]
    routes: int  # user routes, both families


class NextHopState(BaseModel):
    id: int
    port: str
    dst_mac: str | None
    src_mac: str | None
    gateway: str | None = None
    state: Literal["resolved", "resolving", "unreachable"] | None = None
    users: int


class NeighborState(BaseModel):
    port: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    mac: str | None
    state: Literal["incomplete", "reachable", "stale", "probe", "failed", "permanent"]
    held: int = 0
    age_s: float | None = None


class VrrpTrackState(BaseModel):
    interface: str
    decrement: int


class VrrpState(BaseModel):
    interface: str
    vrid: int
    family: Literal["ipv4", "ipv6"]
    state: Literal["init", "backup", "master"]
    reason: str  # why it is in that state
    priority: int  # in effect: the configured one less what tracked interfaces take
    configured_priority: int
    master: str | None  # the master as last heard (ours when master); None: none heard
    master_priority: int | None
    interval_ms: int
    master_interval_ms: int
    preempt: bool
    preempt_delay_ms: int
    accept: bool
    addresses: list[str]
    track: list[VrrpTrackState]
    virtual_mac: str
    since_s: float
    transitions: int
    became_master: int
    adverts_out: int
    adverts_in: int
    priority_zero_out: int
    priority_zero_in: int


class RoutePathState(BaseModel):
    port: str
    gateway: str | None  # None: on the link


class KernelRouteState(BaseModel):
    prefix: str
    type: str  # unicast; blackhole, unreachable, prohibit: dropped here (the last two with ICMP)
    port: str | None  # the first path's; None for a reject route
    gateway: str | None  # None: on the link
    paths: list[RoutePathState]  # several: equal-cost, a flow hash picks one per flow
    protocol: int  # RTPROT_*: 186 bgp, 188 ospf, 4 static, ...
    shadowed: bool  # an operator's route on the same prefix wins meanwhile
    vrf: str  # whose table it was mirrored from (the namespace's), and whose FIB it is in


class AddressState(BaseModel):
    port: str
    address: str
    automatic: bool = False  # the port's EUI-64 IPv6 link-local address, not configured


class ErrorDetail(BaseModel):
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error, whatever its status: the class name clients raise, and why."""

    error: ErrorDetail


class AclSummary(BaseModel):
    name: str
    default: str
    entries: int
    bound: list[list[str]]  # [port, "in" | "out"]


class RetiredCount(BaseModel):
    entry: int  # the index it had, -1: the default
    packets: int
    bytes: int


class AclReplaced(BaseModel):
    set: int
    retired: list[RetiredCount]


RaBody = RaSection  # the config's `ra` section, as a request body


class AclBinding(Strict):
    name: str = Field(pattern=ACL_NAME_PATTERN)


Json = dict[str, Any]
