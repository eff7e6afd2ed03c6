"""Access control lists as users write them, checked, in one canonical form.

An ACL is a name, an ordered list of entries (the first that matches decides)
and a default for packets none matches. An entry matches on any of source and
destination prefix, protocol, port ranges, ICMP type and code, TCP flags,
DSCP and "non-first fragment"; fields left out match anything. The same
models check YAML (`acls:`), API bodies and state files; `canonical()` is the
form stored, compared by diffs and shown back; `to_native()` what the data
plane builds its classifier from.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance import _native
from appliance.errors import AclError

ACTIONS = ("permit", "deny", "reject", "redirect")
DIRECTIONS = ("in", "out")
ACL_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
ACL_NAME = re.compile(ACL_NAME_PATTERN)
# Protocol names as /etc/protocols spells them, and the aliases people type.
PROTOCOL_NUMBERS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                    "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
PROTOCOL_NAMES = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ah",
                  58: "ipv6-icmp", 132: "sctp"}
PORT_PROTOCOLS = (6, 17, 132)
TCP_FLAGS = {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ece": 64, "cwr": 128}

Byte = Annotated[int, Field(ge=0, le=255, strict=True)]
Id = Annotated[int, Field(ge=0, le=(1 << 32) - 1, strict=True)]


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_PREFIX = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}/(3[0-2]|[12]?[0-9])\Z")


def _prefix(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("a prefix is a string like 10.0.0.0/8, 2001:db8::/32 or an address")
    canonical = _IPV4_PREFIX.match(v)
    if canonical:  # the common case, 10x faster than ipaddress (100k-entry ACLs)
        *octets, length = map(int, canonical.groups())
        if int.from_bytes(bytes(octets), "big") & ((1 << (32 - length)) - 1) == 0:
            return v
    length = v.rpartition("/")[2] if "/" in v else ""
    if len(length) > 1 and length[0] == "0":
        raise ValueError(f"prefix length '{length}' has a leading zero")
    try:
        return str(ipaddress.ip_network(v))  # strict: host bits set is an error
    except ValueError as e:
        raise ValueError(str(e)) from None


def _port_range(v: Any) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        lo = hi = v
    elif isinstance(v, str) and re.fullmatch(r"[0-9]{1,5}(-[0-9]{1,5})?", v):
        lo, _, hi = v.partition("-")
        lo, hi = int(lo), int(hi or lo)
    else:
        raise ValueError("a port (22) or a range (1024-65535)")
    if lo > 65535 or hi > 65535:
        raise ValueError(f"{v}: ports are 0..65535")
    if lo > hi:
        raise ValueError(f"{v}: low end above high end")
    return lo, hi


def _tcp_flags(v: Any) -> tuple[int, int]:
    """'syn' (set), 'syn/syn,ack' (syn set, ack clear), 'none/rst' (rst clear)."""
    if not isinstance(v, str):
        raise ValueError("TCP flags like syn, syn/syn,ack or none/rst")

    def bits(text: str) -> int:
        if text == "none":
            return 0
        out = 0
        for name in text.split(","):
            if name not in TCP_FLAGS:
                raise ValueError(f"'{name}' is not a TCP flag ({', '.join(TCP_FLAGS)})")
            out |= TCP_FLAGS[name]
        return out

    value_text, _, mask_text = v.partition("/")
    value, mask = bits(value_text), bits(mask_text or value_text)
    if mask == 0:
        raise ValueError(f"{v}: the mask names no flag")
    if value & ~mask:
        raise ValueError(f"{v}: flags set outside the mask")
    return value, mask


def _flag_text(bits: int) -> str:
    return ",".join(n for n, b in TCP_FLAGS.items() if bits & b) or "none"


class AclEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["permit", "deny", "reject", "redirect"]
    src: str | None = None
    dst: str | None = None
    proto: Byte | str | None = None
    src_port: int | str | None = None
    dst_port: int | str | None = None
    icmp_type: Byte | None = None
    icmp_code: Byte | None = None
    tcp_flags: str | None = None
    dscp: Annotated[int, Field(ge=0, le=63, strict=True)] | None = None
    fragment: Annotated[bool, Field(strict=True)] | None = None  # true: only non-first fragments
    nexthop: Id | None = None  # redirect: the next hop or ECMP group taken instead of the route's

    @field_validator("src", "dst")
    @classmethod
    def prefixes(cls, v: Any) -> Any:
        return None if v is None else _prefix(v)

    @field_validator("proto")
    @classmethod
    def protocol(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.lower() not in PROTOCOL_NUMBERS:
                raise ValueError(f"'{v}': a protocol number 0..255 or one of "
                                 f"{', '.join(PROTOCOL_NUMBERS)}")
            return PROTOCOL_NUMBERS[v.lower()]
        return v

    @field_validator("src_port", "dst_port")
    @classmethod
    def ports(cls, v: Any) -> Any:
        if v is None:
            return v
        lo, hi = _port_range(v)
        return lo if lo == hi else f"{lo}-{hi}"

    @field_validator("tcp_flags")
    @classmethod
    def flags(cls, v: Any) -> Any:
        if v is None:
            return v
        value, mask = _tcp_flags(v)
        return _flag_text(value) if value == mask else f"{_flag_text(value)}/{_flag_text(mask)}"

    @model_validator(mode="after")
    def consistent(self) -> AclEntry:
        families = {6 if ":" in p else 4 for p in (self.src, self.dst) if p}  # canonical already
        if len(families) > 1:
            raise ValueError(f"src {self.src} and dst {self.dst} are of different IP versions")
        if (self.src_port is not None or self.dst_port is not None) and self.proto not in PORT_PROTOCOLS:
            raise ValueError("src_port and dst_port need proto tcp, udp or sctp")
        if self.icmp_type is not None or self.icmp_code is not None:
            if self.proto not in (1, 58):
                raise ValueError("icmp_type and icmp_code need proto icmp or ipv6-icmp")
            if self.icmp_type is None:  # the classifier matches the two as one 16-bit range
                raise ValueError("icmp_code needs its icmp_type")
            if families and families != {4 if self.proto == 1 else 6}:
                raise ValueError(f"proto {PROTOCOL_NAMES[self.proto]} with IPv{families.pop()} prefixes")
        if self.tcp_flags is not None and self.proto != 6:
            raise ValueError("tcp_flags needs proto tcp")
        if self.fragment and (self.src_port is not None or self.dst_port is not None
                              or self.icmp_type is not None or self.icmp_code is not None
                              or self.tcp_flags is not None):
            raise ValueError("a non-first fragment (fragment: true) has no ports, ICMP type or "
                             "TCP flags to match")
        if (self.action == "redirect") != (self.nexthop is not None):
            raise ValueError("redirect needs a nexthop" if self.action == "redirect"
                             else f"nexthop is for redirect, not {self.action}")
        return self

    @property
    def family(self) -> int:
        """4 or 6 when a prefix or ICMP's protocol says; 0: the entry applies to both."""
        for p in (self.src, self.dst):
            if p:
                return 6 if ":" in p else 4
        return {1: 4, 58: 6}.get(self.proto, 0) if self.icmp_type is not None or \
            self.icmp_code is not None else 0

    def canonical(self) -> dict[str, Any]:
        out = self.model_dump(exclude_none=True)
        if "proto" in out:
            out["proto"] = PROTOCOL_NAMES.get(out["proto"], out["proto"])
        return out

    def to_native(self) -> _native.AclEntry:
        e = _native.AclEntry()
        e.family = self.family
        e.action = self.action
        if self.src:
            e.src = self.src
        if self.dst:
            e.dst = self.dst
        if self.proto is not None:
            e.proto = self.proto
        if self.src_port is not None:
            e.src_port_lo, e.src_port_hi = _port_range(self.src_port)
        if self.dst_port is not None:
            e.dst_port_lo, e.dst_port_hi = _port_range(self.dst_port)
        if self.icmp_type is not None:
            e.icmp_type = self.icmp_type
        if self.icmp_code is not None:
            e.icmp_code = self.icmp_code
        if self.tcp_flags is not None:
            e.tcp_flags, e.tcp_mask = _tcp_flags(self.tcp_flags)
        if self.dscp is not None:
            e.dscp = self.dscp
        if self.fragment is not None:
            e.fragment = 1 if self.fragment else 0
        if self.nexthop is not None:
            e.nexthop = self.nexthop
        return e


class AclBody(BaseModel):
    """An ACL's content: what `acl set` sends and the state file keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Literal["permit", "deny", "reject"] = "permit"
    entries: list[AclEntry] = Field([], max_length=1 << 20)

    def canonical(self) -> dict[str, Any]:
        return {"default": self.default, "entries": [e.canonical() for e in self.entries]}


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_body(document: Any, name: str) -> AclBody:
    """An ACL body from YAML/JSON; AclError names each entry and field at fault."""
    if not isinstance(name, str) or not ACL_NAME.fullmatch(name):
        raise AclError(f"ACL name {name!r}: a letter, then letters, digits, '_', '.', '-' "
                       "(64 at most)")
    try:
        return AclBody.model_validate(document)
    except ValidationError as e:
        lines = [f"acl {name}: {_where(err['loc']) or '(body)'}: "
                 f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors()[:20]]
        raise AclError("\n".join(lines)) from None


def inserted(body: dict, name: str, entry: Any, position: int | None) -> dict:
    """`body` with `entry` at `position` (None: the end); AclError past the end."""
    entries = list(body["entries"])
    at = len(entries) if position is None else position
    if not 0 <= at <= len(entries):
        raise AclError(f"acl {name}: position {at} is beyond its {len(entries)} entries")
    entries.insert(at, entry)
    return {"default": body["default"], "entries": entries}


def removed(body: dict, name: str, position: int) -> dict:
    entries = list(body["entries"])
    if not 0 <= position < len(entries):
        raise AclError(f"acl {name}: no entry {position} (it has {len(entries)})")
    del entries[position]
    return {"default": body["default"], "entries": entries}


def entry_from_native(d: dict[str, Any]) -> dict[str, Any]:
    """An entry as the data plane reads it back, in canonical form (plus counters)."""
    out: dict[str, Any] = {"action": d["action"]}
    for key in ("src", "dst", "icmp_type", "icmp_code", "dscp", "fragment", "nexthop"):
        if d.get(key) is not None:
            out[key] = d[key]
    if d.get("proto") is not None:
        out["proto"] = PROTOCOL_NAMES.get(d["proto"], d["proto"])
    for key in ("src_port", "dst_port"):
        if d.get(key) is not None:
            lo, hi = d[key]
            out[key] = lo if lo == hi else f"{lo}-{hi}"
    if d.get("tcp_flags") is not None:
        value, mask = d["tcp_flags"]
        out["tcp_flags"] = _flag_text(value) if value == mask else f"{_flag_text(value)}/{_flag_text(mask)}"
    for key in ("packets", "bytes"):
        if key in d:
            out[key] = d[key]
    return out
