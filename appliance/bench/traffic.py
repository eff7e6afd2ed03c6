"""The benchmark's traffic: a route table and a pcap of UDP frames to it (64 bytes unless
told otherwise)."""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

FRAME_LEN = 64  # with the FCS the NIC would add: 60 bytes on the wire here
FRAME_LEN6 = 66  # the smallest IPv6 UDP frame (14 + 40 + 8, plus the FCS)
ROUTER_MAC = "02:00:00:00:00:fe"  # the appliance's input port: frames are addressed to it


def make_routes(count: int, seed: int = 1) -> list[ipaddress.IPv4Network]:
    """`count` distinct prefixes of mixed lengths /16../32 inside 16.0.0.0/4."""
    rng = random.Random(seed)
    routes: set[ipaddress.IPv4Network] = set()
    while len(routes) < count:
        length = rng.randint(16, 32)
        addr = (1 << 28) | rng.getrandbits(28)
        routes.add(ipaddress.IPv4Network((addr, length), strict=False))
    return sorted(routes)


def make_internet_routes(count: int, seed: int = 1) -> list[ipaddress.IPv4Network]:
    """`count` distinct prefixes shaped like the IPv4 DFZ: ~60% /24, /16../23 for most of
    the rest, 2% longer than /24 (each takes a tbl8 group), anywhere in 1.0.0.0-223.255.255.255
    but 10/8 and 127/8."""
    rng = random.Random(seed)
    lengths = [24] * 60 + [16] * 3 + [19, 20, 21, 22, 23] * 7 + [25, 28, 32]
    routes: set[ipaddress.IPv4Network] = set()
    while len(routes) < count:
        first = rng.randrange(1, 224)
        if first in (10, 127):
            continue
        addr = (first << 24) | rng.getrandbits(24)
        routes.add(ipaddress.IPv4Network((addr, rng.choice(lengths)), strict=False))
    return sorted(routes)


def make_routes6(count: int, seed: int = 1) -> list[ipaddress.IPv6Network]:
    """`count` distinct prefixes under 2000::/3, lengths as in an IPv6 DFZ: mostly /48,
    then /32../44, some /56 and /64, a few /128."""
    rng = random.Random(seed)
    lengths = [48] * 50 + [32] * 10 + [36, 40, 44] * 5 + [56] * 10 + [64] * 13 + [128] * 2
    routes: set[ipaddress.IPv6Network] = set()
    while len(routes) < count:
        length = rng.choice(lengths)
        addr = (1 << 125) | rng.getrandbits(125)
        routes.add(ipaddress.IPv6Network((addr, length), strict=False))
    return sorted(routes)


def make_frames6(routes: list[ipaddress.IPv6Network], count: int, dst_mac: str,
                 seed: int = 2) -> list[Ether]:
    """As make_frames, for IPv6: the smallest UDP frames, distinct flows."""
    rng = random.Random(seed)
    frames = []
    for i in range(count):
        net = rng.choice(routes)
        dst = net.network_address + rng.getrandbits(128 - net.prefixlen)
        frames.append(Ether(dst=dst_mac, src="02:00:00:00:ff:01") / IPv6(
            src=f"2001:db8:ffff::{i:x}", dst=str(dst), hlim=64) / UDP(
            sport=1024 + i % 50000, dport=5000))
    return frames


def make_frames(routes: list[ipaddress.IPv4Network], count: int, dst_mac: str,
                seed: int = 2, frame_lens: Sequence[int] = (FRAME_LEN,)) -> list[Ether]:
    """`count` frames, each to a random address inside a random route, distinct 5-tuples;
    frame i is frame_lens[i % len(frame_lens)] bytes long with the FCS."""
    rng = random.Random(seed)
    frames = []
    for i in range(count):
        net = rng.choice(routes)
        dst = net.network_address + rng.randrange(net.num_addresses)
        pkt = Ether(dst=dst_mac, src="02:00:00:00:ff:01") / IP(
            src=f"198.18.{i >> 8 & 0xff}.{i & 0xff}", dst=str(dst), ttl=64) / UDP(
            sport=1024 + i % 50000, dport=5000)
        frames.append(pkt / (b"\x00" * (frame_lens[i % len(frame_lens)] - 4 - len(pkt))))
    return frames


def write_pcap(path: Path, frames: list[Ether]) -> Path:
    wrpcap(str(path), frames)
    return path
