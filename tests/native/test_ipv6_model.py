"""IPv6 forwarding against a reference model: thousands of random frames (special and
global addresses, hop limits, payload lengths, truncations) through ring ports; what each
port sends and every drop counter must be what the model says, byte for byte."""
import ipaddress
import random
from collections import Counter
from dataclasses import replace

import pytest

from scapy.layers.inet6 import IPv6, UDP
from scapy.layers.l2 import Ether

from appliance import SlowPathSettings
from tests.native.conftest import (EAL, HOST_MAC, NEXTHOP, PORTS, ROUTER_MAC, longest_match,
                                   open_router, started)

ROUTES = {"2001:db8::/32": "b", "2001:db8:c::/48": "c", "2001:db8:c:1::/64": "b",
          "2400::/12": "c", "2001:db8:c:1::9/128": "a", "fd00::/8": "b"}
SPECIAL = ["::", "::1", "ff02::1", "ff0e::5", "::ffff:192.0.2.1", "fe80::1", "fe80::2:3",
           "fc00::1", "fd00::7", "2001:db8::1", "2001:db8:c::1", "2001:db8:c:1::9",
           "2001:db8:c:1::10", "2400:1::1", "2fff::1", "3000::1", "8000::1", "::2"]
NEXT_PORT = {"a": NEXTHOP["a"], "b": NEXTHOP["b"], "c": NEXTHOP["c"]}


def verdict(raw: bytes) -> str:
    """The reason the appliance drops it, or the port it leaves by. The router has no
    IPv6 address of its own but the link-local ones: only errors to link-local senders
    can be sent, and they go back out of port a."""
    if len(raw) < 54 or raw[14] >> 4 != 6:
        return "malformed"
    ip = IPv6(raw[14:54])
    if 54 + ip.plen > len(raw):
        return "malformed"
    src, dst = ipaddress.IPv6Address(ip.src), ipaddress.IPv6Address(ip.dst)
    mapped = ipaddress.IPv6Network("::ffff:0:0/96")
    if src.is_multicast or src in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")) \
            or src in mapped:
        return "martian_source"
    if dst == ipaddress.IPv6Address("ff02::1"):
        return "local_unhandled"  # all nodes: we are one, but nothing here takes UDP
    if dst.is_multicast:
        return "multicast_destination"
    if dst in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")) or dst in mapped:
        return "martian_destination"
    if dst.is_link_local:
        return "link_local"  # not ours: the router's are fe80::ff:fe00:X
    port = longest_match(ip.dst, ROUTES)
    if port is None:
        return "no_route"  # before the hop limit, as on Linux
    if src.is_link_local:
        return "link_local"  # would leave the link: "beyond scope" back to the sender
    if ip.hlim <= 1:
        return "ttl_expired"
    return port


def is_ours(raw: bytes) -> bool:
    """ICMPv6 the router made (errors, neighbour solicitations), not a forwarded frame."""
    frame = Ether(raw)
    return frame.src in ROUTER_MAC.values() and IPv6 in frame and frame[IPv6].nh == 58


def random_frame(rng: random.Random) -> bytes:
    pick = lambda: rng.choice(SPECIAL) if rng.random() < 0.7 else str(  # noqa: E731
        ipaddress.IPv6Address(rng.getrandbits(128)))
    frame = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IPv6(
        src=pick(), dst=pick(), hlim=rng.choice([0, 1, 2, 64, 255]), tc=rng.randrange(256),
        fl=rng.getrandbits(20)) / UDP(sport=rng.randrange(65536), dport=53) / (
        b"p" * rng.randrange(0, 40))
    raw = bytearray(bytes(frame))
    roll = rng.random()
    if roll < 0.05:
        raw = raw[:rng.randrange(14, len(raw))]  # truncated
    elif roll < 0.10:
        raw[18:20] = rng.randrange(65536).to_bytes(2, "big")  # payload length anything
    elif roll < 0.13:
        raw[14] = (rng.randrange(16) << 4) | (raw[14] & 0x0F)  # version anything
    elif roll < 0.2:
        raw += b"\0" * rng.randrange(1, 30)  # Ethernet padding
    return bytes(raw)


def rewritten(raw: bytes, port: str) -> bytes:
    out = bytearray(raw)
    out[0:6] = bytes.fromhex(HOST_MAC[port].replace(":", ""))
    out[6:12] = bytes.fromhex(ROUTER_MAC[port].replace(":", ""))
    out[21] -= 1  # hop limit
    return bytes(out)


@pytest.mark.parametrize("bits", [512, 256], ids=["input eight at a time", "one by one"])
def test_random_ipv6_frames_do_what_the_model_says(bits):
    # ICMPv6 unlimited: which packets reach the slow path must not depend on timing.
    with started(open_router(slowpath=SlowPathSettings(icmp_rate=0),
                             eal=replace(EAL, max_simd_bitwidth=bits))) as router:
        check_model(router)


def check_model(router):
    for prefix, port in ROUTES.items():
        router.route_add(prefix, NEXT_PORT[port])
    rng = random.Random(9)
    expected_out = {p: [] for p in PORTS}
    expected_drops: Counter = Counter()
    for batch in range(12):
        frames = [random_frame(rng) for _ in range(250)]
        for raw in frames:
            v = verdict(raw)
            if v in PORTS:
                expected_out[v].append(rewritten(raw, v))
            else:
                expected_drops[v] += 1
        assert router.inject("a", frames) == len(frames)
        router.quiesce()
        for p in PORTS:
            got = [raw for raw in router.drain(p) if not is_ours(raw)]
            assert got == expected_out[p], (batch, p)
            expected_out[p] = []
    drops = {k: v for k, v in router.stats()["drops"].items() if v}
    assert drops == dict(expected_drops)
    assert sum(expected_drops.values()) < 2800, "some frames were forwarded"
