"""ACLs against a first-match model: random ACLs of 1..2,000 entries (both families,
prefixes, port ranges, ICMP, TCP flags, DSCP, fragments, overlapping wildcards) and
random packets through the real workers. Every packet's fate (out of port b by the
route, out of c by a redirect, dropped by deny, dropped with an ICMP error by reject)
and every entry's counter must be what the model says."""
import ipaddress
import random
from dataclasses import dataclass

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt,
                                IPv6ExtHdrFragment)
from scapy.layers.l2 import Ether
from scapy.layers.sctp import SCTP
from scapy.packet import Raw

from appliance.acl import PROTOCOL_NUMBERS, AclBody
from tests.native.conftest import (HOST_MAC, NEXTHOP, ROUTER_MAC, SlowPathSettings, open_router,
                                   started)

# Destinations are routed out of b; sources route back out of a (for reject's ICMP).
DST4, SRC4 = ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("172.16.0.0/12")
DST6, SRC6 = ipaddress.ip_network("2001:db8:d::/48"), ipaddress.ip_network("2001:db8:5::/48")
PORTS = [0, 1, 22, 53, 79, 80, 81, 443, 1023, 1024, 8080, 49152, 65535]
PROTOS = [6, 17, 132, 47]
FLAGS = {"fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ece": 64, "cwr": 128}


@dataclass
class Packet:
    family: int
    src: str
    dst: str
    proto: int
    sport: int = 0   # ICMP: type
    dport: int = 0   # ICMP: code
    flags: int = 0
    dscp: int = 0
    non_first: bool = False
    options: bool = False    # IPv4 options, or an IPv6 destination options header
    truncated: bool = False  # not a fragment, but only 2 bytes of its L4 header

    def frame(self, tag: int) -> Ether:
        """The tag rides in the IPv4 id or the IPv6 flow label."""
        eth = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"])
        payload = Raw(b"acl-model")
        if self.family == 4:
            ip = IP(src=self.src, dst=self.dst, tos=self.dscp << 2, proto=self.proto, id=tag)
            if self.options:
                ip.options = [IPOption(b"\x01\x01\x01\x01")]  # four NOPs
            if self.non_first:
                ip.frag, ip.flags = 100, 0
                return eth / ip / payload
            if self.truncated:
                return eth / ip / Raw(b"\x04\xd2")
            return eth / ip / self.l4() / payload
        ip = IPv6(src=self.src, dst=self.dst, tc=self.dscp << 2, fl=tag)
        if self.non_first:
            return eth / ip / IPv6ExtHdrFragment(nh=self.proto, offset=100) / payload
        if self.options:
            return eth / ip / IPv6ExtHdrDestOpt(nh=self.proto) / self.l4() / payload
        ip.nh = self.proto  # scapy would say 59 (no next header) before a Raw GRE
        if self.truncated:
            return eth / ip / Raw(b"\x04\xd2")
        return eth / ip / self.l4() / payload

    def l4(self):
        if self.proto == 6:
            return TCP(sport=self.sport, dport=self.dport, flags=self.flags)
        if self.proto == 17:
            return UDP(sport=self.sport, dport=self.dport)
        if self.proto == 132:
            return SCTP(sport=self.sport, dport=self.dport)
        if self.proto == 1:
            return ICMP(type=self.sport, code=self.dport)
        if self.proto == 58:
            return ICMPv6EchoRequest() if (self.sport, self.dport) == (128, 0) else \
                ICMPv6DestUnreach(type=self.sport, code=self.dport)
        return Raw(b"\0" * 8)  # GRE: no L4 fields


def random_address(rng: random.Random, net) -> str:
    return str(net[rng.randrange(net.num_addresses)])


def random_prefix(rng: random.Random, net) -> str:
    length = rng.choice([net.prefixlen, net.prefixlen + 4, 24 if net.version == 4 else 64,
                         net.max_prefixlen, rng.randrange(net.prefixlen, net.max_prefixlen + 1)])
    return str(ipaddress.ip_network((random_address(rng, net), length), strict=False))


def random_port_range(rng: random.Random) -> int | str:
    lo = rng.choice(PORTS)
    if rng.random() < 0.4:
        return lo
    hi = rng.choice([p for p in PORTS if p >= lo])
    return lo if lo == hi else f"{lo}-{hi}"


def random_entry(rng: random.Random) -> dict:
    e: dict = {"action": rng.choice(["permit", "deny", "reject", "redirect"])}
    if e["action"] == "redirect":
        e["nexthop"] = NEXTHOP["c"]
    family = rng.choice([4, 6, 0])
    if family:
        dst_net, src_net = (DST4, SRC4) if family == 4 else (DST6, SRC6)
        if rng.random() < 0.7:
            e["dst"] = random_prefix(rng, dst_net)
        if rng.random() < 0.5:
            e["src"] = random_prefix(rng, src_net)
    r = rng.random()
    if r < 0.15 and family:
        e["proto"] = "icmp" if family == 4 else "ipv6-icmp"
        if rng.random() < 0.7:
            e["icmp_type"] = rng.choice([0, 3, 8, 11]) if family == 4 else rng.choice([1, 3, 128])
        if rng.random() < 0.3 and "icmp_type" in e:
            e["icmp_code"] = rng.choice([0, 1])
        if "icmp_type" not in e and not ({"src", "dst"} & e.keys()):
            e.setdefault("dst", random_prefix(rng, DST4 if family == 4 else DST6))
    elif r < 0.8:
        e["proto"] = rng.choice(PROTOS)
        if e["proto"] in (6, 17, 132):
            if rng.random() < 0.6:
                e["dst_port"] = random_port_range(rng)
            if rng.random() < 0.3:
                e["src_port"] = random_port_range(rng)
        if e["proto"] == 6 and rng.random() < 0.2:
            mask = rng.choice([2, 18, 4, 1])
            e["tcp_flags"] = flag_text(rng.choice([0, mask, mask & 2])) + "/" + flag_text(mask)
    if rng.random() < 0.1:
        e["dscp"] = rng.choice([0, 10, 46])
    if rng.random() < 0.08 and not ({"src_port", "dst_port", "icmp_type", "icmp_code",
                                     "tcp_flags"} & e.keys()):
        e["fragment"] = rng.random() < 0.6
    if e.keys() <= {"action", "nexthop"} and rng.random() < 0.97:  # few catch-alls
        e["dscp"] = rng.choice([10, 46])
    return e


def flag_text(bits: int) -> str:
    return ",".join(n for n, b in FLAGS.items() if bits & b) or "none"


def random_packet(rng: random.Random) -> Packet:
    family = rng.choice([4, 6])
    dst_net, src_net = (DST4, SRC4) if family == 4 else (DST6, SRC6)
    icmp = 1 if family == 4 else 58
    proto = rng.choice(PROTOS + [icmp])
    p = Packet(family, random_address(rng, src_net), random_address(rng, dst_net), proto,
               dscp=rng.choice([0, 0, 10, 46, rng.randrange(64)]),
               non_first=rng.random() < 0.05, options=rng.random() < 0.08)
    p.truncated = not p.non_first and proto != icmp and rng.random() < 0.04
    if proto in (6, 17, 132):
        p.sport, p.dport = rng.choice(PORTS), rng.choice(PORTS)
        if proto == 6:
            p.flags = rng.choice([2, 18, 16, 4, 1, 17, rng.randrange(256)])
    elif proto == icmp:
        # Types a router forwards as they come (no error about errors is at stake here).
        p.sport, p.dport = (rng.choice([(0, 0), (8, 0), (3, 1), (11, 0)]) if family == 4
                            else rng.choice([(128, 0), (1, 0), (3, 1), (1, 1)]))
    return p


def has_l4(e: dict) -> bool:
    full = ("0-65535", None)
    return (e.get("src_port") not in full or e.get("dst_port") not in full
            or "icmp_type" in e or "icmp_code" in e or "tcp_flags" in e)


def in_range(value: int, spec) -> bool:
    lo, _, hi = str(spec).partition("-")
    return int(lo) <= value <= int(hi or lo)


def matches(e: dict, p: Packet) -> bool:
    nets = [ipaddress.ip_network(e[k]) for k in ("src", "dst") if k in e]
    family = nets[0].version if nets else ({"icmp": 4, "ipv6-icmp": 6}.get(e.get("proto"))
                                           if {"icmp_type", "icmp_code"} & e.keys() else None)
    if family and family != p.family:
        return False
    if "src" in e and ipaddress.ip_address(p.src) not in ipaddress.ip_network(e["src"]):
        return False
    if "dst" in e and ipaddress.ip_address(p.dst) not in ipaddress.ip_network(e["dst"]):
        return False
    proto = PROTOCOL_NUMBERS.get(e.get("proto"), e.get("proto"))
    if proto is not None and proto != p.proto:
        return False
    if "dscp" in e and e["dscp"] != p.dscp:
        return False
    fragment = e.get("fragment", False if has_l4(e) else None)
    if fragment is not None and fragment != p.non_first:
        return False
    if p.non_first or p.truncated:  # no L4 header to match
        return not has_l4(e)
    if "src_port" in e and not in_range(p.sport, e["src_port"]):
        return False
    if "dst_port" in e and not in_range(p.dport, e["dst_port"]):
        return False
    if "icmp_type" in e and e["icmp_type"] != p.sport:
        return False
    if "icmp_code" in e and e["icmp_code"] != p.dport:
        return False
    if "tcp_flags" in e:
        value, _, mask = e["tcp_flags"].partition("/")
        bits = {t: sum(FLAGS.get(n, 0) for n in t.split(",")) for t in (value, mask or value)}
        if p.flags & bits[mask or value] != bits[value]:
            return False
    return True


def first_match(entries: list[dict], p: Packet) -> int:
    """The deciding entry's index, -1 for the default."""
    return next((i for i, e in enumerate(entries) if matches(e, p)), -1)


def earns_error(p: Packet) -> bool:
    """Never an ICMP error about an ICMP error, nor about a non-first IPv4 fragment (RFC 1812
    4.3.2.7); IPv6 has no such rule for fragments (RFC 4443 2.4: as Linux)."""
    if p.family == 4:
        return not p.non_first and not (p.proto == 1 and p.sport in (3, 11))
    return p.non_first or not (p.proto == 58 and p.sport < 128)


def ip_length(frame: Ether) -> int:
    return len(frame) - 14


@pytest.mark.parametrize("size,seed", [(1, 1), (12, 2), (150, 3), (2000, 4)])
def test_acl_decides_every_packet_as_a_first_match_model(size, seed):
    rng = random.Random(seed)
    entries = [random_entry(rng) for _ in range(size)]
    default = rng.choice(["permit", "deny", "reject"])
    body = AclBody.model_validate({"default": default, "entries": entries})
    entries = body.canonical()["entries"]
    packets = [random_packet(rng) for _ in range(2500)]
    # Packets each entry should catch: one built from it, when it can be.
    dp = open_router(slowpath=SlowPathSettings(icmp_rate=0))
    with started(dp):
        dp.address_add("a", "192.0.2.1/24")  # what reject's ICMP errors come from
        dp.address_add("a", "2001:db8:a::1/64")
        dp.route_add(str(DST4), NEXTHOP["b"])
        dp.route_add(str(DST6), NEXTHOP["b"])
        dp.route_add(str(SRC4), NEXTHOP["a"])
        dp.route_add(str(SRC6), NEXTHOP["a"])
        dp.acl_set("model", body)
        dp.acl_bind("a", "in", "model")
        expected_counts = [[0, 0] for _ in range(len(entries) + 1)]  # [0]: default
        expected_out = {"b": set(), "c": set()}
        rejects = {4: 0, 6: 0}  # those that earn an ICMP error
        rejected = 0
        seen_out = {"b": set(), "c": set()}
        errors = {4: 0, 6: 0}
        for start in range(0, len(packets), 500):
            frames = []
            for tag in range(start, min(start + 500, len(packets))):
                p = packets[tag]
                frame = p.frame(tag)
                frames.append(frame)
                i = first_match(entries, p)
                action = entries[i]["action"] if i >= 0 else default
                expected_counts[i + 1][0] += 1
                expected_counts[i + 1][1] += ip_length(frame)
                if action == "permit":
                    expected_out["b"].add(tag)
                elif action == "redirect" and p.options and p.family == 4:
                    expected_out["b"].add(tag)  # routed by the slow path: no policy routing
                elif action == "redirect":
                    expected_out["c"].add(tag)
                elif action == "reject" and earns_error(p):
                    rejects[p.family] += 1
                rejected += action == "reject"
            assert dp.inject("a", [bytes(f) for f in frames]) == len(frames)
            dp.quiesce()
            for port in ("b", "c"):
                for raw in dp.drain(port):
                    f = Ether(raw)
                    seen_out[port].add(f[IP].id if IP in f else f[IPv6].fl)
            for raw in dp.drain("a"):
                f = Ether(raw)  # the address's unsolicited announcements aside
                if ICMP in f and (f[ICMP].type, f[ICMP].code) == (3, 13):
                    errors[4] += 1
                elif ICMPv6DestUnreach in f and f[ICMPv6DestUnreach].code == 1:
                    errors[6] += 1
        assert seen_out == expected_out, [(t, packets[t], first_match(entries, packets[t])) for t in sorted(seen_out["b"] ^ expected_out["b"] | seen_out["c"] ^ expected_out["c"])][:5]
        assert errors == rejects  # one administratively-prohibited error per rejected packet
        shown = dp.acl_show("model")
        got = [[shown["default_count"]["packets"], shown["default_count"]["bytes"]]] + \
            [[e["packets"], e["bytes"]] for e in shown["entries"]]
        assert got == expected_counts
        decided = {entries[i]["action"] for i, c in enumerate(got[1:]) if c[0]}
        assert size < 150 or decided == {"permit", "deny", "reject", "redirect"}  # not trivial
        drops = dp.stats()["drops"]
        deny_count = sum(c[0] for c, e in zip(expected_counts[1:], entries) if e["action"] == "deny")
        deny_count += expected_counts[0][0] if default == "deny" else 0
        assert drops["acl_deny"] == deny_count
        assert drops["acl_reject"] == rejected
        dp.acl_bind("a", "in", None)
