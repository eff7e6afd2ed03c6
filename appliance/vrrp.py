"""VRRPv3 (RFC 5798) on an interface: its schema (`ports[].vrrp`, `vlans[].vrrp`), the checks
across the config, the tables' key and value, and the log of transitions.

A virtual router is one VRID of one family on one interface: as master it owns the virtual
MAC (00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6) and answers ARP/ND for
its addresses; as backup it listens. The state machine runs in the data plane's slow path
(native/slowpath/vrrp.cpp); a reload changes a router in place, its state kept.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appliance.dataplane import VrrpSettings

MAX_PER_INTERFACE = 8  # masters at once on one interface: the workers' MAC filter holds 8

log = logging.getLogger("appliance.vrrp")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VrrpTrackSection(_Strict):
    """While `interface`'s link is down, the priority is `decrement` lower (never below 1):
    a backup with a working uplink takes over (with preempt)."""

    interface: str = Field(min_length=1, max_length=64)
    decrement: int = Field(10, ge=1, le=254, strict=True)


class VrrpSection(_Strict):
    """A VRRPv3 virtual router. `addresses` are the virtual ones, all of one family, in the
    interface's subnets (or anywhere with `accept`); priority 255 makes this router their
    owner: they must be the interface's own addresses, and it is master at once."""

    vrid: int = Field(ge=1, le=255, strict=True)
    priority: int = Field(100, le=255, strict=True)
    interval_ms: int = Field(1000, ge=10, le=40950, strict=True)  # in 10 ms steps (centiseconds)
    preempt: bool = Field(True, strict=True)
    preempt_delay_ms: int = Field(0, ge=0, le=3_600_000, strict=True)
    accept: bool = Field(False, strict=True)  # as master, answer packets to the addresses (ping)
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = Field(min_length=1, max_length=32)
    track: list[VrrpTrackSection] = Field([], max_length=32)

    @field_validator("priority")
    @classmethod
    def not_zero(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"{v}: 1..254, or 255 for the owner of the addresses (0 is only "
                             "sent, by a master that leaves: RFC 5798 5.2.4)")
        return v

    @field_validator("interval_ms")
    @classmethod
    def centiseconds(cls, v: int) -> int:
        if v % 10:
            raise ValueError(f"{v}: advertisements go in 10 ms steps (RFC 5798 5.2.7)")
        return v

    @model_validator(mode="after")
    def one_family(self) -> VrrpSection:
        if len({a.version for a in self.addresses}) > 1:
            raise ValueError("addresses of both families: one virtual router per family "
                             "(the same VRID may serve both, as two routers)")
        if len(set(self.addresses)) != len(self.addresses):
            raise ValueError("an address is listed twice")
        return self

    @property
    def family(self) -> str:
        return f"ipv{self.addresses[0].version}"

    def settings(self, interface: str) -> VrrpSettings:
        return VrrpSettings(interface=interface, vrid=self.vrid,
                            addresses=[str(a) for a in self.addresses], priority=self.priority,
                            interval_ms=self.interval_ms, preempt=self.preempt,
                            preempt_delay_ms=self.preempt_delay_ms, accept=self.accept,
                            track={t.interface: t.decrement for t in self.track})


def vrrp_key(interface: str, vrid: int, family: str) -> str:
    """A virtual router's key in the tables and diffs: `lan0 10 ipv4`."""
    return f"{interface} {vrid} {family}"


def vrrp_value(s: VrrpSettings) -> dict[str, Any]:
    return {"addresses": list(s.addresses), "priority": s.priority, "interval_ms": s.interval_ms,
            "preempt": s.preempt, "preempt_delay_ms": s.preempt_delay_ms, "accept": s.accept,
            "track": dict(s.track)}


def vrrp_settings(key: str, value: dict[str, Any]) -> VrrpSettings:
    interface, vrid, _ = key.split(" ")
    return VrrpSettings(interface=interface, vrid=int(vrid), **value)


def vrrp_problems(interfaces: list) -> list[tuple[str, str]]:
    """(path, what is wrong) for virtual routers that cannot be: one VRID twice on an
    interface, a virtual address outside the interface's subnets without accept mode, an
    owner (255) of addresses that are not the interface's, a non-owner of one that is, an
    address claimed twice, a tracked interface that does not exist, too many."""
    out: list[tuple[str, str]] = []
    names = {f.name for f in interfaces}
    claimed: dict[tuple, str] = {}
    for f in interfaces:
        own = {a.ip for a in f.addresses}
        seen: dict[tuple, int] = {}
        if len(f.vrrp) > MAX_PER_INTERFACE:
            out.append((f"{f.path}.vrrp", f"{len(f.vrrp)} virtual routers: at most "
                                          f"{MAX_PER_INTERFACE} an interface"))
        for j, v in enumerate(f.vrrp):
            path = f"{f.path}.vrrp[{j}]"
            if (v.vrid, v.family) in seen:
                out.append((f"{path}.vrid", f"{v.vrid} ({v.family}) is already "
                                            f"{f.path}.vrrp[{seen[(v.vrid, v.family)]}]"))
            seen.setdefault((v.vrid, v.family), j)
            if v.family == "ipv4" and not any(a.version == 4 for a in f.addresses):
                out.append((path, f"{f.name} has no IPv4 address to advertise from"))
            for k, a in enumerate(v.addresses):
                where = f"{path}.addresses[{k}]"
                if v.priority == 255 and a not in own:
                    out.append((where, f"{a}: priority 255 is the owner's, and {a} is not an "
                                       f"address of {f.name}"))
                elif v.priority != 255 and a in own:
                    out.append((where, f"{a} is {f.name}'s own address: only its owner "
                                       "(priority 255) may have it as a virtual address"))
                elif not v.accept and not a.is_link_local and \
                        not any(a in n.network for n in f.addresses if n.version == a.version):
                    out.append((where, f"{a} is outside {f.name}'s subnets (only accept mode "
                                       "may have such an address)"))
                scope = (f.vrf, f.name if a.is_link_local else None, a)  # (link-local: per link)
                if scope in claimed:
                    out.append((where, f"{a} is already {claimed[scope]}'s"))
                claimed.setdefault(scope, where)
            for k, t in enumerate(v.track):
                if t.interface not in names:
                    out.append((f"{path}.track[{k}].interface",
                                f"unknown interface '{t.interface}' (interfaces: "
                                f"{', '.join(sorted(names))})"))
    return out


def log_transitions(events: list[dict]) -> None:
    """Each transition (and tracking's priority change) as one line of the log."""
    for e in events:
        router = f"vrrp {e['interface']} {e['vrid']} {e['family']}"
        if e["from"] == e["to"]:
            log.info("%s: priority %d (%s)", router, e["priority"], e["reason"])
        else:
            level = logging.WARNING if "master" in (e["from"], e["to"]) else logging.INFO
            log.log(level, "%s: %s -> %s (%s), priority %d", router, e["from"], e["to"],
                    e["reason"], e["priority"])
