"""NAT44 on an interface: its schema (`ports[].nat`, `vlans[].nat`), the checks across the
config, and the rules the data plane is given.

An interface with `nat` is an outside one: what leaves by it gets its source translated
(`source: masquerade`, to the interface's first IPv4 address; `source: pool`, to one of
the pool's, always the same for one inside host), and packets to its forwards' public
side are sent to the inside host. The tables keep a value per interface
(`nat_value()`); addresses are resolved when applied, so a masquerade follows the
interface's address.
"""
from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_POOL = 1024  # public addresses per pool (each keeps a bit per port: 24 KiB)

NatPort = Annotated[int, Field(ge=1, le=65535, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NatForwardSection(_Strict):
    """A port forward (`proto`, `port`: public port -> `to`:`to_port`) or, with neither,
    1:1 static NAT (every packet to `address` goes to `to`, and `to`'s own connections
    leave from `address`)."""

    proto: Literal["tcp", "udp"] | None = None
    port: NatPort | None = None
    address: ipaddress.IPv4Address | None = None  # the public side; None: the interface's
    to: ipaddress.IPv4Address
    to_port: NatPort | None = None  # None: `port`

    @model_validator(mode="after")
    def shape(self) -> NatForwardSection:
        if (self.proto is None) != (self.port is None):
            raise ValueError("a port forward gives both proto and port; 1:1 NAT neither")
        if self.proto is None and self.to_port is not None:
            raise ValueError("to_port is for port forwards (1:1 NAT keeps every port)")
        if self.proto is None and self.address is None:
            raise ValueError("1:1 NAT needs its public address (address)")
        return self

    def value(self) -> dict[str, Any]:
        return {"proto": self.proto, "port": self.port,
                "address": None if self.address is None else str(self.address),
                "to": str(self.to), "to_port": self.to_port}


class NatSection(_Strict):
    """NAT44 on an outside interface (needs the conntrack section)."""

    source: Literal["masquerade", "pool"] | None = None  # None: forwards only
    pool: list[ipaddress.IPv4Network] = Field([], max_length=MAX_POOL)  # addresses or CIDRs
    ports: tuple[NatPort, NatPort] = (1024, 65535)  # where a port is picked when the inside one is taken
    forwards: list[NatForwardSection] = Field([], max_length=4096)

    @field_validator("pool", mode="before")
    @classmethod
    def networks(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out = []
        for a in v:
            try:
                out.append(ipaddress.IPv4Network(a, strict=True))
            except (ValueError, TypeError) as e:
                raise ValueError(f"{a!r}: not an IPv4 address or network ({e})") from None
        return out

    @model_validator(mode="after")
    def consistent(self) -> NatSection:
        lo, hi = self.ports
        if lo > hi:
            raise ValueError(f"ports [{lo}, {hi}]: out of order (the first is the lowest)")
        if self.source == "pool" and not self.pool:
            raise ValueError("source pool needs pool addresses (pool: [...])")
        if self.source != "pool" and self.pool:
            raise ValueError("pool is for source: pool")
        if sum(n.num_addresses for n in self.pool) > MAX_POOL:
            raise ValueError(f"the pool has more than {MAX_POOL} addresses")
        return self

    def value(self) -> dict[str, Any]:
        """What the tables and the state file keep for the interface."""
        return {"source": self.source,
                "pool": [str(a) for n in self.pool for a in (n if n.num_addresses > 1 else [n.network_address])],
                "ports": list(self.ports), "forwards": [f.value() for f in self.forwards]}


def nat_problems(interfaces: list, has_conntrack: bool) -> list[tuple[str, str]]:
    """(path, what is wrong) for NAT sections that cannot work together: NAT without a
    connection table, masquerade without an address, overlapping pools, a forward's public
    side twice, a forward to an address on no interface."""
    out: list[tuple[str, str]] = []
    owners: dict[ipaddress.IPv4Address, str] = {}
    public: dict[tuple, str] = {}
    subnets = [(f.vrf, a.network) for f in interfaces for a in f.addresses if a.version == 4]
    for f in interfaces:
        nat = f.nat
        if nat is None:
            continue
        path = f"{f.path}.nat"
        if not has_conntrack:
            out.append((path, "needs the connection table (a conntrack section, `conntrack: {}` "
                              "for the defaults)"))
        v4 = [a for a in f.addresses if a.version == 4]
        if nat.source == "masquerade" and not v4:
            out.append((f"{path}.source", f"masquerade needs an IPv4 address on {f.name}"))
        for j, net in enumerate(nat.pool):
            for a in (net if net.num_addresses > 1 else [net.network_address]):
                if a in owners:
                    out.append((f"{path}.pool[{j}]", f"{a} overlaps {owners[a]}"))
                    break
                owners[a] = f"{path}.pool[{j}]"
        for j, fw in enumerate(nat.forwards):
            where = f"{path}.forwards[{j}]"
            address = fw.address or (v4[0].ip if v4 else None)
            if address is None:
                out.append((f"{where}.address", f"{f.name} has no IPv4 address to forward from"))
                continue
            key = (address, fw.proto, fw.port)
            clash = public.get(key) or public.get((address, None, None))
            if clash or (fw.proto is None and any(k[0] == address for k in public)):
                what = " ".join(str(x) for x in (address, fw.proto, fw.port) if x is not None)
                out.append((where, f"{what} is already forwarded by {clash or 'another forward'}"))
            public.setdefault(key, where)
            if not any(vrf == f.vrf and fw.to in net for vrf, net in subnets):
                out.append((f"{where}.to", f"{fw.to} is on no interface's subnet in VRF {f.vrf}"))
    return out


def nat_rules(nat: dict[str, dict], addresses: dict[tuple[str, str], bool]) -> tuple[dict, list]:
    """The tables' NAT values resolved against their interfaces' addresses: the data
    plane's per-interface specs and forwards, as plain data (compared to see a change)."""
    first_v4: dict[str, str] = {}
    for name, address in addresses:  # (in order: the first configured is the one)
        ip = ipaddress.ip_interface(address)
        if ip.version == 4:
            first_v4.setdefault(name, str(ip.ip))
    ifaces, forwards = {}, []
    for name, value in sorted(nat.items()):
        own = first_v4.get(name)
        addrs = ([own] if own else []) if value["source"] == "masquerade" else list(value["pool"])
        # (A masquerade whose interface has no IPv4 address now translates nothing.)
        ifaces[name] = {"source": (value["source"] or "") if addrs else "", "addresses": addrs,
                        "ports": list(value["ports"])}
        for fw in value["forwards"]:
            forwards.append({"iface": name, "proto": fw["proto"] or "",
                             "public_addr": fw["address"] or own or "", "public_port": fw["port"] or 0,
                             "to_addr": fw["to"], "to_port": fw["to_port"] or 0})
    return ifaces, forwards
