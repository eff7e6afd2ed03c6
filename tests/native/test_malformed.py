"""Malformed frames are dropped under a named reason, never forwarded."""
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from tests.native.conftest import NEXTHOP, ROUTER_MAC, forward, open_router, udp


def raw_ip(**fields) -> bytes:
    """A valid frame with some IPv4 header bytes overridden after the checksum."""
    return bytes(Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.1", **fields) / UDP() / (b"y" * 10))


def with_byte(frame: bytes, offset: int, value: int) -> bytes:
    return frame[:offset] + bytes([value]) + frame[offset + 1:]


IP_OFFSET = 14

CASES = {
    "runt (6 bytes)": bytes(Ether(dst=ROUTER_MAC["a"]))[:6],
    "ethernet header only": bytes(Ether(dst=ROUTER_MAC["a"], type=0x0800)),
    "truncated ip header": bytes(Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.1"))[:14 + 12],
    "version 6 in an IPv4 ethertype": bytes(Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.1", version=6)),
    "ihl 4 (< 5)": bytes(Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.1", ihl=4) / UDP()),
    "ihl 15 beyond frame": bytes(Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.1", ihl=15)),
    "total length beyond frame": raw_ip(len=200),
    "total length below header": raw_ip(len=12),
}


@pytest.mark.parametrize("frame", CASES.values(), ids=CASES.keys())
def test_malformed_frames_are_dropped_and_counted(router, frame):
    router.route_add("0.0.0.0/0", NEXTHOP["b"])
    out = forward(router, [frame, udp(dst="10.0.0.1")])
    assert len(out["b"]) == 1, "the good frame behind the bad one still goes through"
    drops = router.stats()["drops"]
    assert drops["malformed"] == 1, drops


def test_ethernet_padding_beyond_total_length_is_fine(router):
    router.route_add("0.0.0.0/0", NEXTHOP["b"])
    short = bytes(Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.1") / UDP()) + b"\x00" * 18
    assert len(forward(router, [short])["b"]) == 1


def bad_checksum_frame() -> bytes:
    good = bytes(udp(dst="10.0.0.1"))
    return with_byte(good, IP_OFFSET + 10, good[IP_OFFSET + 10] ^ 0xFF)


def test_bad_checksum_dropped_when_verification_on(router):
    router.route_add("0.0.0.0/0", NEXTHOP["b"])
    out = forward(router, [bad_checksum_frame()])
    assert not out["b"]
    assert router.stats()["drops"]["bad_checksum"] == 1


def test_bad_checksum_forwarded_when_verification_off():
    dp = open_router(verify_checksum=False)
    try:
        dp.route_add("0.0.0.0/0", NEXTHOP["b"])
        out = forward(dp, [bad_checksum_frame()])
        assert len(out["b"]) == 1
        assert dp.stats()["drops"]["bad_checksum"] == 0
    finally:
        dp.close()
