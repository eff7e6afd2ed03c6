"""Per-packet trace: what the router decided for a few packets, stage by stage.

`start()` has the workers choose the next `count` packets received (on an interface,
matching a tcpdump expression); every stage that decides something about them writes an
event (trace/trace.h). `report()` turns the events into one block per packet: when and
where it arrived, what it was, then a step per stage with its decision in words (the
route with its prefix and next hop, the ACL entry, the session, the MACs it left with,
or the drop reason), the slow path's part included.

    dp.trace_start(TraceRequest(interface="lan0", count=5, match="icmp").native(dp.interfaces()))
    ... traffic ...
    for packet in report(dp)["packets"]:
        print(packet["summary"], [step["text"] for step in packet["steps"]])
"""
from __future__ import annotations

import ipaddress
import struct
import time
from dataclasses import dataclass
from typing import Any

from appliance import _native
from appliance.errors import CaptureError

MAX_COUNT = 4096
DROP_REASONS: list[tuple[str, str]] = list(_native.drop_reasons())
NO_ROUTE, RULE_DROP = 0xFFFFFFFF, 0xFFFFFFFE
HOP_ACTIONS = ("forward", "drop", "local", "resolve", "unreachable", "group")
PUNT_KINDS = {1: "ARP", 2: "IPv4 the input checks hand over (for the router, TTL, options)",
              3: "routed, its next hop needs the slow path", 4: "IPv4, checked",
              5: "IPv6 the input checks hand over (for the router, hop limit, link scope)",
              6: "routed, its next hop needs the slow path", 7: "IPv6, checked",
              8: "link-local multicast for the kernel interface"}
ICMP_TYPES = {4: {3: "destination unreachable", 11: "time exceeded", 12: "parameter problem"},
              6: {1: "destination unreachable", 2: "packet too big", 3: "time exceeded",
                  4: "parameter problem"}}


@dataclass
class TraceRequest:
    """Which packets to trace: the next `count` an interface receives (None: any),
    matching `match` (a tcpdump expression; "": every packet)."""
    interface: str | None = None
    count: int = 16
    match: str = ""

    def problems(self, interfaces: list[str]) -> list[str]:
        out = []
        if self.interface is not None and self.interface not in interfaces:
            out.append(f"interface: no interface named {self.interface!r} "
                       f"(there are {', '.join(interfaces)})")
        if not 1 <= self.count <= MAX_COUNT:
            out.append(f"count: {self.count} is not 1..{MAX_COUNT}")
        if len(self.match) > 4096:
            out.append("match: longer than 4096 characters")
        return out

    def native(self, interfaces: list[dict]) -> _native.TraceSpec:
        """The data plane's spec, given its interfaces ({name, port, vlan}): a VLAN
        sub-interface's packets are chosen on its port, tagged, as `vlan N` picks them."""
        names = [f["name"] for f in interfaces]
        problems = self.problems(names)
        if problems:
            raise CaptureError("; ".join(problems))
        spec = _native.TraceSpec()
        spec.count = self.count
        spec.match = self.match
        if self.interface is not None:
            [f] = [f for f in interfaces if f["name"] == self.interface]
            ifaces = [0] * len(names)  # (spec.ifaces is a copy when read: set it whole)
            ifaces[names.index(f["port"] if f["vlan"] else f["name"])] = 1
            spec.ifaces = ifaces
            if f["vlan"]:
                spec.match = f"vlan {f['vlan']}" + (f" and ({self.match})" if self.match else "")
        return spec


# ---- what a packet is, in a line ----
# (scapy is imported where it is used: the CLI imports this module, and `appliance bench
# trex` must load TRex's own scapy first: appliance/bench/trex_client.py.)
def summary(frame: bytes) -> str:
    """The head of a frame as an operator reads it: tag, addresses, protocol, ports."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    p = Ether(frame)
    parts = [f"vlan {p[Dot1Q].vlan}"] if Dot1Q in p else []
    if ARP in p:
        a = p[ARP]
        parts.append(f"ARP who-has {a.pdst} tell {a.psrc}" if a.op == 1 else f"ARP {a.psrc} is-at {a.hwsrc}")
    elif IP in p or IPv6 in p:
        ip = p[IP] if IP in p else p[IPv6]
        hops = f"ttl {ip.ttl}" if IP in p else f"hlim {ip.hlim}"
        parts.append(f"{ip.src} > {ip.dst} {_l4(ip)}, {hops}")
    else:
        parts.append(f"{p.src} > {p.dst} ethertype 0x{p.type:04x}")
    return " ".join(parts)


def _l4(ip) -> str:
    from scapy.layers.inet import ICMP, TCP, UDP
    if TCP in ip:
        return f"TCP {ip[TCP].sport} > {ip[TCP].dport} [{ip[TCP].flags}]"
    if UDP in ip:
        return f"UDP {ip[UDP].sport} > {ip[UDP].dport}"
    if ICMP in ip:
        icmp = ip[ICMP]
        echo = f" id {icmp.id} seq {icmp.seq}" if icmp.type in (0, 8) else f" code {icmp.code}"
        return icmp.sprintf("ICMP %ICMP.type%") + echo
    layer = ip.payload
    return layer.name if layer else f"protocol {getattr(ip, 'proto', getattr(ip, 'nh', '?'))}"


# ---- the steps, in words ----
class _Context:
    """What the words need from the data plane, read once per report."""

    def __init__(self, dp):
        self.dp = dp
        self.interfaces = [f["name"] for f in dp.interfaces()]
        self.vrfs = dp.vrfs()
        self.gateways = {h["id"]: h["gateway"] for h in dp.nexthops()}
        self._acls: dict[str, dict] = {}

    def iface(self, index: int) -> str:
        return self.interfaces[index] if index < len(self.interfaces) else f"interface {index}"

    def acl(self, name: str) -> dict:
        if name not in self._acls:
            self._acls[name] = self.dp.acl_show(name)
        return self._acls[name]


def _mac(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def _hop(ctx: _Context, hop_id: int, data: bytes) -> str:
    """A next hop as the worker found it (TraceHop: action, drop reason, interface, MAC)."""
    if hop_id == NO_ROUTE:
        return "no route"
    if hop_id == RULE_DROP:
        return "an exact-match rule says drop"
    if data[0] == 0xFF:
        return f"next hop {hop_id}, which is not set"
    action, reason, iface = HOP_ACTIONS[data[0]], data[1], ctx.iface(data[2] | data[3] << 8)
    gateway = f" via {ctx.gateways[hop_id]}" if ctx.gateways.get(hop_id) else ""
    if action == "forward":
        return f"next hop {hop_id}{gateway}: out {iface} to {_mac(data[4:10])}"
    if action == "local":
        return "local: one of the router's own addresses"
    if action == "resolve":
        return f"next hop {hop_id}{gateway} on {iface}: neighbour not resolved yet"
    if action == "unreachable":
        return f"next hop {hop_id}{gateway} on {iface}: neighbour unreachable"
    if action == "group":
        return f"equal-cost group {hop_id}"
    return f"drop ({DROP_REASONS[reason][0]})"


def _tuple(data: bytes) -> tuple[str, str, int, int]:
    src, dst = (str(ipaddress.IPv4Address(data[i:i + 4])) for i in (0, 4))
    sport, dport = struct.unpack("!HH", data[8:12])
    return src, dst, sport, dport


def _acl_step(ctx: _Context, direction: str, iface: str, result: int) -> tuple[str, dict]:
    name = ctx.dp.acl_bound(iface, direction)
    if name is None:  # unbound since
        return f"{direction} on {iface}: entry {result} of an ACL unbound since", {}
    shown = ctx.acl(name)
    if result == 0:
        return (f"{direction} on {iface}: ACL {name}: no entry matched, default {shown['default']}",
                {"acl": name, "entry": None, "action": shown["default"]})
    entries = shown["entries"]
    entry = entries[result - 1] if result <= len(entries) else {"action": "?"}
    match = ", ".join(f"{k} {v}" for k, v in entry.items() if k not in ("action", "packets", "bytes"))
    return (f"{direction} on {iface}: ACL {name} entry {result} ({match or 'any'}): {entry['action']}",
            {"acl": name, "entry": result, "action": entry["action"]})


def _describe(ctx: _Context, family: int, state: dict, step: str, code: int, a: int, b: int,
              data: bytes) -> tuple[str, dict]:
    """One event in words, and its facts for the JSON."""
    if step == "input":
        return f"IPv{code} checks passed", {}
    if step == "nat":
        src, dst, sport, dport = _tuple(data)
        if (dst, dport) == (state["dst"], state["dport"]):
            return "destination NAT: none", {}
        text = f"destination NAT: {state['dst']}:{state['dport']} -> {dst}:{dport}"
        state.update(dst=dst, dport=dport)
        return text, {"dst": dst, "dport": dport}
    if step == "lookup":
        vrf = ctx.vrfs[b] if b < len(ctx.vrfs) else str(b)
        facts = {"vrf": vrf, "nexthop": None if a >= RULE_DROP else a}
        found = ctx.dp.route_match(state["dst"], vrf) if state["dst"] else None
        if found is None or a == NO_ROUTE:
            return f"vrf {vrf}: no route to {state['dst']}", facts
        prefix, now = found
        facts["prefix"] = prefix
        changed = " (the table has changed since)" if now != a else ""
        return f"vrf {vrf}: {prefix}{changed} -> {_hop(ctx, a, data)}", facts
    if step == "rule":
        return f"exact-match rule -> {_hop(ctx, a, data)}", {"nexthop": a}
    if step == "acl":
        return _acl_step(ctx, "out" if code else "in", ctx.iface(b), a)
    if step == "conntrack":
        if code == _native.TRACE_NO_SESSION:
            return "no session (not tracked)", {"session": None}
        name = _native.TRACE_CT_STATES[code]
        text = f"session {name}, {'reply' if b else 'original'} direction"
        if a:
            src, dst, sport, dport = _tuple(data)
            text += f", translated: {src}:{sport} > {dst}:{dport}"
        return text, {"session": name, "direction": "reply" if b else "original", "translated": bool(a)}
    if step == "member":
        return f"equal-cost path: {_hop(ctx, a, data)}", {"nexthop": a}
    if step == "output":
        dst, src = _mac(data[0:6]), _mac(data[6:12])
        vlan = struct.unpack("!H", data[14:16])[0] & 0xFFF if data[12:14] == b"\x81\x00" else None
        tag = f" vlan {vlan}" if vlan is not None else ""
        what = {0x0806: " ARP", 0x0800: "", 0x86DD: ""}.get(b, f" ethertype 0x{b:04x}")
        made = " (made by the slow path)" if code else ""
        iface = ctx.iface(a)
        return (f"{iface}: {src} > {dst}{tag}{what}{made}",
                {"interface": iface, "src_mac": src, "dst_mac": dst, "vlan": vlan})
    if step == "tx":
        return "sent", {}
    if step == "drop":
        name, help = DROP_REASONS[code]
        return f"dropped: {name} ({help})", {"reason": name}
    if step == "punt":
        return f"to the slow path: {PUNT_KINDS.get(code, code)}", {}
    # the slow path
    what = _native.TRACE_SLOW_NAMES[code]
    if what == "held":
        address = ipaddress.IPv6Address(data)
        address = address.ipv4_mapped or address
        return f"held until {address} on {ctx.iface(a)} answers", {"neighbour": str(address)}
    if what in ("icmp_error", "icmp_limited"):
        name = ICMP_TYPES[family].get(a, f"type {a}")
        sent = "answered with" if what == "icmp_error" else "rate limit: no"
        return f"{sent} ICMP{'v6' if family == 6 else ''} {name} (type {a} code {b})", \
            {"icmp_type": a, "icmp_code": b, "sent": what == "icmp_error"}
    if what == "local":
        return "for the router: answered", {}
    return f"to the kernel interface of {ctx.iface(a)}", {}


def _initial(head: bytes) -> tuple[int, dict]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    p = Ether(head)
    ip = p[IP] if IP in p else p[IPv6] if IPv6 in p else None
    l4 = ip[TCP] if ip is not None and TCP in ip else ip[UDP] if ip is not None and UDP in ip else None
    return (6 if IPv6 in p else 4), {"dst": ip.dst if ip is not None else None,
                                     "dport": l4.dport if l4 is not None else 0}


def report(dp) -> dict[str, Any]:
    """The running trace, or the last one stopped: {running, chosen, count, lost,
    packets: [{packet, time, worker, interface, queue, length, summary, steps:
    [{stage, at_us, by, text, ...facts}]}]}. StateError when none was started."""
    raw = dp.trace_records()
    ctx = _Context(dp)
    hz, tsc_now, now = _native.tsc_hz(), _native.tsc_now(), time.time()
    events: dict[int, list] = {}
    for e in raw["events"]:
        events.setdefault(e[0], []).append(e)
    packets = []
    for number, tsc, worker, iface, queue, wire_len, head in raw["packets"]:
        family, state = _initial(head)
        steps = []
        for _, at, by, step, code, a, b, data in sorted(events.get(number, []), key=lambda e: e[1]):
            text, facts = _describe(ctx, family, state, step, code, a, b, data)
            steps.append({"stage": step, "at_us": round((at - tsc) * 1e6 / hz, 1),
                          "by": "slow path" if by == _native.TRACE_SLOW_PATH else f"worker {by}",
                          "text": text, **facts})
        packets.append({"packet": number, "time": now - (tsc_now - tsc) / hz, "worker": worker,
                        "interface": ctx.iface(iface), "queue": queue, "length": wire_len,
                        "summary": summary(head), "steps": steps})
    return {"running": raw["running"], "chosen": raw["chosen"], "count": raw["count"],
            "lost": raw["lost"], "packets": packets}


def render(shown: dict[str, Any]) -> str:
    """A report as `appliance trace show` prints it."""
    state = "running" if shown["running"] else "stopped"
    lines = [f"trace {state}: {shown['chosen']} of {shown['count']} packets traced"
             + (f", {shown['lost']} events lost (log full)" if shown["lost"] else "")]
    for p in shown["packets"]:
        stamp = time.strftime("%H:%M:%S", time.localtime(p["time"])) + f".{int(p['time'] % 1 * 1e6):06d}"
        lines.append("")
        lines.append(f"packet {p['packet']}  {stamp}  {p['interface']} queue {p['queue']}  "
                     f"worker {p['worker']}  {p['length']} bytes")
        lines.append(f"  {'rx':<10} {p['summary']}")
        for s in p["steps"]:
            where = " [slow path]" if s["by"] == "slow path" else ""
            lines.append(f"  {s['stage']:<10} {s['text']}{where}  (+{s['at_us']} us)")
    return "\n".join(lines) + "\n"
