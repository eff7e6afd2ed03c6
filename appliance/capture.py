"""Packet capture to pcapng: what interfaces receive and send, and what the router drops.

The data plane copies the chosen packets (by interface, direction, drop reason and a
tcpdump filter, run as eBPF where the packet is: trace/capture.h); this module turns the
copies into pcapng that tcpdump, tshark and Wireshark read: one interface block per
appliance interface (its name, as in the config), each packet with its direction, and a
dropped one with its reason and the stage that dropped it as the packet's comment.

    with open("wan0.pcapng", "wb") as f:
        for chunk in capture(dp, CaptureRequest(interface="wan0", filter="icmp", count=10)):
            f.write(chunk)
"""
from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from appliance import _native
from appliance.errors import CaptureError

DROP_REASONS: list[tuple[str, str]] = list(_native.drop_reasons())
DIRECTIONS = ("in", "out", "both")
MAX_SNAPLEN = 262144

# Which part of the router drops a packet for a reason (the drop capture's comment).
_STAGES = {
    "input checks": ("ttl_expired", "malformed", "bad_checksum", "not_ipv4", "other_host",
                     "link_broadcast", "martian_source", "martian_destination",
                     "multicast_destination", "link_local", "source_route", "unknown_vlan"),
    "route lookup": ("no_route", "nexthop_down", "rule_drop", "blackhole", "route_unreachable",
                     "route_prohibited"),
    "acl": ("acl_deny", "acl_reject"),
    "conntrack": ("not_established", "conntrack_full", "nat_no_port"),
    "output": ("fragmentation_needed", "neighbor_unreachable", "hold_queue_full", "tx_full"),
    "slow path": ("punt_full", "no_mbuf", "kernel_full", "local_unhandled"),
}
STAGE_OF = {reason: stage for stage, reasons in _STAGES.items() for reason in reasons}


@dataclass
class CaptureRequest:
    """What to capture. `interface` None: every interface. `drops`: the packets dropped
    (coming in on `interface`), for `reasons` (empty: every reason), instead of what
    passes. `count` 0 and `seconds` 0: until stopped."""
    interface: str | None = None
    direction: str = "both"
    drops: bool = False
    reasons: list[str] = field(default_factory=list)
    filter: str = ""
    count: int = 0
    snaplen: int = MAX_SNAPLEN
    seconds: float = 0.0

    def problems(self, interfaces: list[str]) -> list[str]:
        out = []
        if self.interface is not None and self.interface not in interfaces:
            out.append(f"interface: no interface named {self.interface!r} "
                       f"(there are {', '.join(interfaces)})")
        if self.direction not in DIRECTIONS:
            out.append(f"direction: {self.direction!r} is not one of {', '.join(DIRECTIONS)}")
        known = [name for name, _ in DROP_REASONS]
        for r in self.reasons:
            if r not in known:
                out.append(f"reasons: {r!r} is not a drop reason ({', '.join(known)})")
        if self.reasons and not self.drops:
            out.append("reasons: only with drops (a capture of dropped packets)")
        if not 0 <= self.count <= 2**32:
            out.append(f"count: {self.count} is not 0..{2**32}")
        if not 1 <= self.snaplen <= MAX_SNAPLEN:
            out.append(f"snaplen: {self.snaplen} is not 1..{MAX_SNAPLEN}")
        if not 0 <= self.seconds <= 86400:
            out.append(f"seconds: {self.seconds} is not 0..86400")
        if len(self.filter) > 4096:
            out.append("filter: longer than 4096 characters")
        return out

    def native(self, interfaces: list[str]) -> _native.CaptureSpec:
        problems = self.problems(interfaces)
        if problems:
            raise CaptureError("; ".join(problems))
        what = (_native.CAPTURE_DROPS if self.drops else
                {"in": _native.CAPTURE_IN, "out": _native.CAPTURE_OUT,
                 "both": _native.CAPTURE_IN | _native.CAPTURE_OUT}[self.direction])
        spec = _native.CaptureSpec()
        spec.ifaces = [what if self.interface in (None, name) else 0 for name in interfaces]
        known = [name for name, _ in DROP_REASONS]
        spec.reasons = sum(1 << known.index(r) for r in set(self.reasons))
        spec.snaplen = self.snaplen
        spec.count = self.count
        spec.filter = self.filter
        return spec


# ---- pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html) ----
def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def section_header(interfaces: list[str], snaplen: int) -> bytes:
    """The section header and one interface block per appliance interface (ids in
    interface order), names as in the config, nanosecond timestamps."""
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) +
                 _option(4, b"appliance") + _option(0, b""))
    idbs = b"".join(
        _block(1, struct.pack("<HHI", 1, 0, snaplen) + _option(2, name.encode()) +
               _option(3, f"appliance interface {name}".encode()) + _option(9, b"\x09") +
               _option(0, b""))
        for name in interfaces)
    return shb + idbs


def packet_block(iface: int, ts_ns: int, data: bytes, wire_len: int, inbound: bool,
                 comment: str = "") -> bytes:
    """An enhanced packet block: direction in epb_flags, a comment if any."""
    options = _option(2, struct.pack("<I", 1 if inbound else 2))
    if comment:
        options += _option(1, comment.encode())
    body = (struct.pack("<IIIII", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data), wire_len) +
            data + b"\0" * (-len(data) % 4) + options + _option(0, b""))
    return _block(6, body)


def drop_comment(reason: int, worker: int) -> str:
    name, help = DROP_REASONS[reason]
    where = "slow path" if worker == _native.CAPTURE_SLOW_PATH else f"worker {worker}"
    return f"drop: {name} ({STAGE_OF.get(name, 'slow path')}, {where}): {help}"


def complete_blocks(buffer: bytearray) -> bytes:
    """Takes the whole pcapng blocks off the front of `buffer` (a stream read in
    arbitrary pieces), leaving a partial one: a file cut there still reads."""
    end = 0
    while len(buffer) - end >= 8:
        length = struct.unpack_from("<I", buffer, end + 4)[0]
        if length < 12 or len(buffer) - end < length:
            break
        end += length
    whole = bytes(buffer[:end])
    del buffer[:end]
    return whole


# ---- a capture on a Dataplane in this process ----
def capture(dp, request: CaptureRequest, poll_s: float = 0.05,
            stopped=lambda: False) -> Iterator[bytes]:
    """pcapng, as it is captured: the header first, then a chunk of packet blocks each
    time some arrive. Ends at `count` packets, after `seconds`, or when `stopped()`;
    the capture stops when the generator is closed, whichever way it ends."""
    interfaces = [f["name"] for f in dp.interfaces()]
    dp.capture_start(request.native(interfaces))
    try:
        hz = _native.tsc_hz()
        tsc0, ns0 = _native.tsc_now(), time.time_ns()
        yield section_header(interfaces, request.snaplen)
        deadline = time.monotonic() + request.seconds if request.seconds else None
        written = 0
        while not stopped() and (deadline is None or time.monotonic() < deadline):
            blocks = []
            for tsc, wire_len, iface, what, reason, worker, data in dp.capture_read(256):
                if request.count and written >= request.count:
                    break
                ts = ns0 + (tsc - tsc0) * 1_000_000_000 // hz
                drop = what == _native.CAPTURE_DROPS
                blocks.append(packet_block(iface, ts, data, wire_len,
                                           inbound=what != _native.CAPTURE_OUT,
                                           comment=drop_comment(reason, worker) if drop else ""))
                written += 1
            if blocks:
                yield b"".join(blocks)
            if request.count and written >= request.count:
                return
            if not blocks:
                time.sleep(poll_s)
    finally:
        dp.capture_stop()
