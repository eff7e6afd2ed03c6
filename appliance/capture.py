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
from appliance.errors import CaptureError, StateError

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
    "vrrp": ("vrrp_not_accepted", "vrrp_ignored"),
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

    def native(self, interfaces: list[dict]) -> _native.CaptureSpec:
        """The data plane's spec, given its interfaces ({name, port, vlan}). A VLAN
        sub-interface's frames are captured on its port, tagged, as `vlan N` picks
        them (its drops, untagged by then, as its own)."""
        names = [f["name"] for f in interfaces]
        problems = self.problems(names)
        if problems:
            raise CaptureError("; ".join(problems))
        spec = _native.CaptureSpec()
        ifaces = [0] * len(names)  # (spec.ifaces is a copy when read: set it whole)
        spec.filter = self.filter
        chosen = [f for f in interfaces if self.interface in (None, f["name"])]
        if self.drops:
            for f in chosen:
                ifaces[names.index(f["name"])] = _native.CAPTURE_DROPS
        else:
            what = {"in": _native.CAPTURE_IN, "out": _native.CAPTURE_OUT,
                    "both": _native.CAPTURE_IN | _native.CAPTURE_OUT}[self.direction]
            for f in chosen:
                ifaces[names.index(f["port"] if f["vlan"] else f["name"])] = what
            if self.interface is not None and chosen[0]["vlan"]:
                spec.filter = f"vlan {chosen[0]['vlan']}" + (f" and ({self.filter})" if self.filter else "")
        spec.ifaces = ifaces
        known = [name for name, _ in DROP_REASONS]
        spec.reasons = sum(1 << known.index(r) for r in set(self.reasons))
        spec.snaplen = self.snaplen
        spec.count = self.count
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


def statistics_block(ts_ns: int) -> bytes:
    """An interface statistics block (no counters): what a quiet capture sends every
    HEARTBEAT_S so its reader wakes (Ctrl-C is seen) and a reader gone is noticed by the
    write; readers skip it."""
    return _block(5, struct.pack("<III", 0, ts_ns >> 32, ts_ns & 0xFFFFFFFF) + _option(0, b""))


HEARTBEAT_S = 1.0


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


# ---- a capture on a Dataplane ----
class CaptureSession:
    """A running capture: its pcapng header, then read() for the packet blocks captured
    since; stop() (idempotent, from any thread) ends it. The data plane runs one at a time."""

    def __init__(self, dp, request: CaptureRequest):
        self._dp, self._request = dp, request
        found = dp.interfaces()
        interfaces = [f["name"] for f in found]
        dp.capture_start(request.native(found))
        self._hz = _native.tsc_hz()
        self._tsc0, self._ns0 = _native.tsc_now(), time.time_ns()
        self._deadline = time.monotonic() + request.seconds if request.seconds else None
        self._stopped = False
        self._sent_at = time.monotonic()
        self.written = 0
        self.header = section_header(interfaces, request.snaplen)

    @property
    def finished(self) -> bool:
        return self._stopped or bool(self._request.count and self.written >= self._request.count) or \
            (self._deadline is not None and time.monotonic() >= self._deadline)

    def read(self, wait_s: float = 0.05) -> bytes | None:
        """The packet blocks captured since the last read (b"" if none came within
        wait_s); None once finished (its count, its seconds, or stopped)."""
        if self.finished:
            return None
        try:
            copies = self._dp.capture_read(256)
        except StateError:  # stopped meanwhile
            return None
        if not copies:
            time.sleep(wait_s)
            if time.monotonic() - self._sent_at < HEARTBEAT_S:
                return b""
            self._sent_at = time.monotonic()
            return statistics_block(time.time_ns())
        blocks = []
        for tsc, wire_len, iface, what, reason, worker, data in copies:
            if self._request.count and self.written >= self._request.count:
                break
            drop = what == _native.CAPTURE_DROPS
            blocks.append(packet_block(
                iface, self._ns0 + (tsc - self._tsc0) * 1_000_000_000 // self._hz, data, wire_len,
                inbound=what != _native.CAPTURE_OUT, comment=drop_comment(reason, worker) if drop else ""))
            self.written += 1
        self._sent_at = time.monotonic()
        return b"".join(blocks)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            try:
                self._dp.capture_stop()
            except StateError:  # the data plane closed first (its captures with it)
                pass


def capture(dp, request: CaptureRequest, poll_s: float = 0.05,
            stopped=lambda: False) -> Iterator[bytes]:
    """pcapng as it is captured: the header, then a chunk of packet blocks each time
    some arrive, until the count, the seconds, or `stopped()`; the capture stops when
    the generator ends or is closed."""
    session = CaptureSession(dp, request)
    try:
        yield session.header
        while True:
            last = stopped()  # (what was copied before it said stop is still read)
            chunk = session.read(poll_s)
            if chunk is None:
                return
            if chunk:
                yield chunk
            if last:
                return
    finally:
        session.stop()
