"""IPv4 input and forwarding against a reference model, through both input stages: the
one that tests eight headers per AVX-512 instruction and the one that tests one header at
a time. Thousands of random frames, most good, the rest broken in one field each (MAC,
EtherType, version/IHL, total length, truncation, checksum, TTL, source, destination),
mixed so that most groups of eight hold an exception; what each port sends, in order,
and every drop counter must be what the model says, byte for byte."""
import ipaddress
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from appliance import SlowPathSettings
from tests.native.conftest import (EAL, HOST_MAC, NEXTHOP, PORTS, ROUTER_MAC, longest_match,
                                   open_router, started)

ROUTES = {"10.0.0.0/8": "b", "10.1.0.0/16": "c", "10.1.2.0/24": "b", "172.16.0.0/12": "c",
          "198.18.0.0/15": "b", "10.1.2.9/32": "c"}
DESTINATIONS = ["10.0.0.1", "10.1.0.1", "10.1.2.3", "10.1.2.9", "172.16.5.5", "198.19.0.1",
                "192.0.2.77", "8.8.8.8",                      # no route
                "224.0.0.5", "239.1.2.3", "0.1.2.3", "127.0.0.1", "240.0.0.1",
                "255.255.255.255"]
SOURCES = ["192.0.2.1", "203.0.113.9", "100.64.0.1", "1.2.3.4",
           "0.0.0.0", "127.0.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255"]


# What the input stage itself refuses (TTL <= 1 it hands to the slow path).
INPUT_REFUSALS = {"malformed", "other_host", "link_broadcast", "not_ipv4", "bad_checksum",
                  "martian_source", "unknown_vlan"}


def cpu_has_avx512() -> bool:
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("flags")).split()
    return "avx512f" in flags and "avx512bw" in flags


def ones_complement_sum(data: bytes) -> int:
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum_ok(header: bytes) -> bool:
    return ones_complement_sum(header) == 0xFFFF


def verdict(raw: bytes) -> str:
    """The port the frame leaves by, or the reason it is dropped (RFC 1812 5.2.2, 5.3.4,
    5.3.7; the router has no address, so nothing is for it)."""
    if len(raw) < 14:
        return "malformed"
    if raw[0:6] != bytes.fromhex(ROUTER_MAC["a"].replace(":", "")):
        return "link_broadcast" if raw[0] & 1 else "other_host"
    if raw[12:14] == b"\x86\xdd":
        return "malformed"  # to the IPv6 path, which finds version 4 in its header
    if raw[12:14] in (b"\x81\x00", b"\x88\xa8"):
        return "unknown_vlan"  # tagged, and port a has no sub-interfaces
    if raw[12:14] != b"\x08\x00":
        return "not_ipv4"
    if len(raw) < 34:
        return "malformed"
    ihl = (raw[14] & 0x0F) * 4
    if raw[14] >> 4 != 4 or ihl < 20 or 14 + ihl > len(raw):
        return "malformed"
    total = int.from_bytes(raw[16:18], "big")
    if total < ihl or 14 + total > len(raw):
        return "malformed"
    if not checksum_ok(raw[14:14 + ihl]):
        return "bad_checksum"
    if raw[26] in (0, 127) or raw[26] >= 224:
        return "martian_source"
    if ihl != 20:
        return "options"  # the slow path's: the generator does not make these
    dst = ipaddress.IPv4Address(raw[30:34])
    if dst.is_multicast:
        return "multicast_destination"
    if raw[30] in (0, 127) or raw[30] >= 240:
        return "martian_destination"
    port = longest_match(str(dst), ROUTES)
    if port is None:
        return "no_route"  # before the TTL, as on Linux
    return "ttl_expired" if raw[22] <= 1 else port


def good_frame(rng: random.Random) -> bytearray:
    frame = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(
        src=rng.choice(SOURCES[:4]), dst=rng.choice(DESTINATIONS[:8]), ttl=rng.choice([2, 64, 255]),
        tos=rng.randrange(256), id=rng.randrange(65536)) / UDP(
        sport=rng.randrange(65536), dport=53) / (b"p" * rng.randrange(0, 60))
    return bytearray(bytes(frame))


def fix_checksum(raw: bytearray) -> bytearray:
    ihl = (raw[14] & 0x0F) * 4
    raw[24:26] = b"\0\0"
    raw[24:26] = (~ones_complement_sum(raw[14:14 + ihl]) & 0xFFFF).to_bytes(2, "big")
    return raw


def broken(raw: bytearray, rng: random.Random) -> bytearray:
    """One field made wrong (the checksum fixed up after, but for the checksum case)."""
    kind = rng.randrange(10)
    if kind == 0:
        raw[0:6] = rng.choice([b"\xff" * 6, bytes.fromhex("01005e000005"), bytes.fromhex("020000009999"),
                               bytes.fromhex(ROUTER_MAC["b"].replace(":", ""))])
        if rng.random() < 0.5:  # IPv6, VLAN-tagged or other non-IP to someone else: not ours
            raw[12:14] = rng.choice([b"\x86\xdd", b"\x81\x00", b"\x08\x01"])
    elif kind == 1:
        raw[12:14] = rng.choice([b"\x08\x01", b"\x88\xcc", b"\x00\x00", b"\x81\x00", b"\x86\xdd"])
    elif kind == 2:
        raw[14] = rng.choice([0x44, 0x35, 0x65, 0x40, 0x4f, 0x05])
    elif kind == 3:
        raw[16:18] = rng.choice([0, 19, 20, len(raw) - 14, len(raw) - 13, 65535,
                                 rng.randrange(65536)]).to_bytes(2, "big")
    elif kind == 4:
        return raw[:rng.randrange(0, 34)]  # truncated inside the headers
    elif kind == 5:
        raw[rng.randrange(14, 34)] ^= 1 << rng.randrange(8)  # a flipped bit
        return raw
    elif kind == 6:
        raw[22] = rng.choice([0, 1])
    elif kind == 7:
        raw[26:30] = ipaddress.IPv4Address(rng.choice(SOURCES[4:])).packed
    elif kind == 8:
        raw[30:34] = ipaddress.IPv4Address(rng.choice(DESTINATIONS[8:])).packed
    else:
        raw += b"\0" * rng.randrange(1, 30)  # Ethernet padding: still good
    return fix_checksum(raw) if len(raw) >= 34 and (raw[14] & 0x0F) == 5 else raw


def random_frame(rng: random.Random) -> bytes:
    while True:
        raw = good_frame(rng)
        if rng.random() < 0.15:
            raw = broken(raw, rng)
        if verdict(bytes(raw)) != "options":
            return bytes(raw)


def rewritten(raw: bytes, port: str) -> bytes:
    out = bytearray(raw)
    out[0:6] = bytes.fromhex(HOST_MAC[port].replace(":", ""))
    out[6:12] = bytes.fromhex(ROUTER_MAC[port].replace(":", ""))
    out[22] -= 1
    return bytes(fix_checksum(out))


def is_ours(raw: bytes) -> bool:
    """What the router made itself (an error it could send, an ARP), not a forwarded frame."""
    return Ether(raw).src in ROUTER_MAC.values() and IP not in Ether(raw)


def router_with(max_simd_bitwidth: int, verify_checksum: bool = True):
    # ICMP unlimited: which packets reach the slow path must not depend on timing.
    dp = open_router(slowpath=SlowPathSettings(icmp_rate=0), verify_checksum=verify_checksum,
                     eal=replace(EAL, max_simd_bitwidth=max_simd_bitwidth))
    for prefix, port in ROUTES.items():
        dp.route_add(prefix, NEXTHOP[port])
    assert dp.stats()["avx512_input"] == (max_simd_bitwidth == 512 and cpu_has_avx512())
    return dp


@pytest.mark.parametrize("bits", [512, 256], ids=["eight at a time", "one by one"])
def test_random_ipv4_frames_do_what_the_model_says(bits):
    if bits == 512 and not cpu_has_avx512():
        pytest.skip("this CPU has no AVX-512: the one-by-one stage is the only one")
    with started(router_with(bits)) as router:
        rng = random.Random(4)
        expected_out = {p: [] for p in PORTS}
        expected_drops: Counter = Counter()
        exceptions_per_group = Counter()
        for batch in range(10):
            frames = [random_frame(rng) for _ in range(rng.choice([250, 253]))]
            for i, raw in enumerate(frames):
                v = verdict(raw)
                if v in PORTS:
                    expected_out[v].append(rewritten(raw, v))
                else:
                    expected_drops[v] += 1
                exceptions_per_group[batch, i // 8] += v in INPUT_REFUSALS or raw[22] <= 1
            assert router.inject("a", frames) == len(frames)
            router.quiesce()
            for p in PORTS:
                got = [raw for raw in router.drain(p) if not is_ours(raw)]
                assert got == expected_out[p], (batch, p)
                expected_out[p] = []
        drops = {k: v for k, v in router.stats()["drops"].items() if v}
        assert drops == dict(expected_drops)
        assert len(set(expected_drops)) >= 10, "every kind of refusal was tried"
        assert 0 < sum(1 for n in exceptions_per_group.values() if n == 0) < len(exceptions_per_group)


def test_without_checksum_verification_both_stages_send_the_same():
    """Bad checksums are forwarded then (the rewrite updates them incrementally): the model
    does not say those bytes, the other input stage does."""
    if not cpu_has_avx512():
        pytest.skip("this CPU has no AVX-512: the one-by-one stage is the only one")
    rng = random.Random(5)
    frames = [random_frame(rng) for _ in range(1000)]
    sent, drops = [], []
    for bits in (512, 256):
        with started(router_with(bits, verify_checksum=False)) as router:
            for i in range(0, len(frames), 250):
                assert router.inject("a", frames[i:i + 250]) == len(frames[i:i + 250])
                router.quiesce()
            sent.append({p: [raw for raw in router.drain(p) if not is_ours(raw)] for p in PORTS})
            drops.append(router.stats()["drops"])
    assert sent[0] == sent[1] and drops[0] == drops[1]
    forwarded = sent[0]["b"] + sent[0]["c"]
    assert drops[0]["bad_checksum"] == 0 and len(forwarded) > 600
    assert any(not checksum_ok(raw[14:34]) for raw in forwarded), "bad checksums went through"
