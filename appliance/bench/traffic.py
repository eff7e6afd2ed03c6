"""The benchmark's traffic: a route table and a pcap of UDP frames to it (64 bytes unless
told otherwise)."""
from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.data import DLT_EN10MB
from scapy.utils import PcapWriter

FRAME_LEN = 64  # with the FCS the NIC would add: 60 bytes on the wire here
FRAME_LEN6 = 66  # the smallest IPv6 UDP frame (14 + 40 + 8, plus the FCS)
ROUTER_MAC = "02:00:00:00:00:fe"  # the appliance's input port: frames are addressed to it
SOURCE_MAC = "02:00:00:00:ff:01"  # the sender's


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
        frames.append(Ether(dst=dst_mac, src=SOURCE_MAC) / IPv6(
            src=f"2001:db8:ffff::{i:x}", dst=str(dst), hlim=64) / UDP(
            sport=1024 + i % 50000, dport=5000))
    return frames


def frame_bytes(routes: list[ipaddress.IPv4Network], count: int, dst_mac: str,
                seed: int = 2, frame_lens: Sequence[int] = (FRAME_LEN,)) -> Iterator[bytes]:
    """`count` frames, each to a random address inside a random route, distinct 5-tuples;
    frame i is frame_lens[i % len(frame_lens)] bytes long with the FCS. Built with struct,
    not scapy (byte for byte what scapy builds, ~100x faster: a million frames in seconds)."""
    rng = random.Random(seed)
    eth = bytes.fromhex((dst_mac + SOURCE_MAC).replace(":", "")) + b"\x08\x00"  # IPv4
    for i in range(count):
        net = rng.choice(routes)
        dst = int(net.network_address) + rng.randrange(net.num_addresses)
        src = 0xC6120000 | (i & 0xffff)  # 198.18.x.y
        sport = 1024 + i % 50000
        ip_len = frame_lens[i % len(frame_lens)] - 4 - 14
        udp_len = ip_len - 20
        ip = struct.pack("!BBHHHBBHII", 0x45, 0, ip_len, 1, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        # The payload is zeros: the UDP checksum covers the pseudo-header and the UDP header.
        pseudo = struct.pack("!IIBBHHHHH", src, dst, 0, 17, udp_len, sport, 5000, udp_len, 0)
        udp = struct.pack("!HHHH", sport, 5000, udp_len, _checksum(pseudo) or 0xffff)
        yield eth + ip + udp + bytes(udp_len - 8)


def _checksum(data: bytes) -> int:
    """RFC 1071, over an even number of bytes."""
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def make_frames(routes: list[ipaddress.IPv4Network], count: int, dst_mac: str,
                seed: int = 2, frame_lens: Sequence[int] = (FRAME_LEN,)) -> list[Ether]:
    """frame_bytes() as scapy packets, for callers that change some of them."""
    return [Ether(b) for b in frame_bytes(routes, count, dst_mac, seed, frame_lens)]


def write_pcap(path: Path, frames: Iterable[Ether | bytes]) -> Path:
    with PcapWriter(str(path), linktype=DLT_EN10MB) as out:
        for frame in frames:
            out.write(bytes(frame))
    return path
