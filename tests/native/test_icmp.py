"""ICMP (RFC 792 / RFC 1812 4.3) through ring ports, field by field."""
import time

import pytest

from scapy.layers.inet import ICMP, IP, UDP, IPOption_RR, fragment
from scapy.layers.l2 import Ether

from tests.native.conftest import (HOST_IP, HOST_MAC, ROUTER_IP, ROUTER_MAC, FAST_TIMERS, forward,
                                   introduce, make_dataplane, to_router)
from appliance import SlowPathSettings


def checksum_ok(pkt) -> bool:
    """scapy recomputes checksums that are deleted: compare with what came."""
    ip = pkt[IP]
    fresh = IP(bytes(ip))
    del fresh.chksum
    if ICMP in fresh:
        del fresh[ICMP].chksum
    fresh = IP(bytes(fresh))
    return fresh.chksum == ip.chksum and (ICMP not in ip or fresh[ICMP].chksum == ip[ICMP].chksum)


def quoted(pkt) -> bytes:
    """What an ICMP error carries of the offending packet: header + 8 bytes."""
    return bytes(pkt[ICMP].payload)


def test_echo_to_each_of_our_addresses_is_answered(lan_router):
    introduce(lan_router, "a")
    for port in ("a", "b", "c"):  # the others' addresses too, as from any host
        req = to_router("a", ROUTER_IP[port], ttl=1) / ICMP(type=8, id=77, seq=3) / b"ping-data"
        out = forward(lan_router, [req], port="a")
        (rep,) = out["a"]
        assert (rep[IP].src, rep[IP].dst) == (ROUTER_IP[port], HOST_IP["a"])
        assert rep[Ether].dst == HOST_MAC["a"] and rep[Ether].src == ROUTER_MAC["a"]
        assert (rep[ICMP].type, rep[ICMP].code, rep[ICMP].id, rep[ICMP].seq) == (0, 0, 77, 3)
        assert bytes(rep[ICMP].payload) == b"ping-data" and checksum_ok(rep)
    slow = lan_router.stats()["slowpath"]
    assert slow["icmp_echo_replies"] == 3 and slow["cycles_per_packet"] > 0


def test_ttl_expired_in_transit_gets_time_exceeded_from_the_ingress_address(lan_router):
    introduce(lan_router, "a")
    bad = to_router("a", HOST_IP["b"], ttl=1) / UDP(sport=33434, dport=33435) / b"probe"
    out = forward(lan_router, [bad], port="a")
    (err,) = out["a"]
    assert (err[ICMP].type, err[ICMP].code) == (11, 0)
    assert (err[IP].src, err[IP].dst, err[IP].ttl) == (ROUTER_IP["a"], HOST_IP["a"], 64)
    assert quoted(err) == bytes(bad[IP])[:28] and checksum_ok(err)
    assert not out["b"] and lan_router.stats()["drops"]["ttl_expired"] == 1


def test_no_route_gets_net_unreachable(lan_router):
    introduce(lan_router, "a")
    bad = to_router("a", "10.9.9.9") / UDP() / b"12345678abc"
    (err,) = forward(lan_router, [bad], port="a")["a"]
    assert (err[ICMP].type, err[ICMP].code) == (3, 0)
    assert quoted(err) == bytes(bad[IP])[:28] and checksum_ok(err)
    assert lan_router.stats()["drops"]["no_route"] == 1


def test_df_over_the_egress_mtu_gets_fragmentation_needed_with_the_mtu():
    dp = make_dataplane(slowpath=FAST_TIMERS, mtus={"b": 1280})
    try:
        dp.start()
        dp.address_add("a", "192.0.2.1/24")
        dp.address_add("b", "198.51.100.1/24")
        dp.neighbor_add("b", HOST_IP["b"], HOST_MAC["b"])
        dp.neighbor_add("a", HOST_IP["a"], HOST_MAC["a"])
        big = to_router("a", HOST_IP["b"], flags="DF") / UDP() / (b"x" * 1400)
        small = to_router("a", HOST_IP["b"], flags="DF") / UDP() / (b"y" * 1200)
        out = forward(dp, [small, big, small], port="a")
        assert len([p for p in out["b"] if IP in p]) == 2  # the big one never reaches the tx batch
        (err,) = [p for p in out["a"] if ICMP in p]
        assert (err[ICMP].type, err[ICMP].code, err[ICMP].nexthopmtu) == (3, 4, 1280)
        assert quoted(err) == bytes(big[IP])[:28] and checksum_ok(err)
        assert dp.stats()["drops"]["fragmentation_needed"] == 1
        # Reported as the MTU in force (the API's /v1/ports), not the device's default.
        assert {p["name"]: p["mtu"] for p in dp.ports()} == {"a": 1500, "b": 1280, "c": 1500}
    finally:
        dp.close()


def test_without_df_packets_are_fragmented_byte_for_byte():
    dp = make_dataplane(slowpath=FAST_TIMERS, mtus={"b": 576})
    try:
        dp.start()
        dp.address_add("b", "198.51.100.1/24")
        dp.neighbor_add("b", HOST_IP["b"], HOST_MAC["b"])
        pkt = to_router("a", HOST_IP["b"], id=4242) / UDP(sport=5, dport=6) / (bytes(range(256)) * 5)
        out = forward(dp, [pkt], port="a")
        expected = IP(bytes(pkt[IP]))
        expected.ttl -= 1
        want = fragment(expected, fragsize=576 - 20)
        frags = [f for f in out["b"] if IP in f]
        assert [bytes(f[IP]) for f in frags] == [bytes(IP(bytes(w))) for w in want]
        assert all(f[Ether].dst == HOST_MAC["b"] and len(f[IP]) <= 576 for f in frags)
        s = dp.stats()
        assert s["slowpath"]["fragmented"] == 1 and s["slowpath"]["fragments_out"] == len(want)
    finally:
        dp.close()


def test_no_errors_about_errors_fragments_or_broadcasts(lan_router):
    introduce(lan_router, "a")
    frames = [
        to_router("a", "10.9.9.9") / ICMP(type=3, code=1) / IP(dst="1.2.3.4") / UDP(),  # an error
        to_router("a", "10.9.9.9", frag=10) / UDP(),                      # a non-first fragment
    ]
    out = forward(lan_router, frames, port="a")
    assert not out["a"] and lan_router.stats()["drops"]["no_route"] == 2


def test_icmp_errors_are_rate_limited():
    dp = make_dataplane(slowpath=SlowPathSettings(icmp_rate=10, icmp_burst=5))
    try:
        dp.start()
        dp.address_add("a", "192.0.2.1/24")
        dp.neighbor_add("a", HOST_IP["a"], HOST_MAC["a"])
        frames = [to_router("a", "10.9.9.9") / UDP(sport=i) for i in range(200)]
        start = time.monotonic()
        out = forward(dp, frames, port="a")
        time.sleep(max(0.0, 0.5 - (time.monotonic() - start)))
        out2 = forward(dp, frames[:50], port="a")
        elapsed = time.monotonic() - start
        sent = len(out["a"]) + len(out2["a"])
        # A burst of 5, then 10 per second: never more than the bucket allows.
        assert 5 <= sent <= 5 + 10 * elapsed + 1, (sent, elapsed)
        s = dp.stats()
        assert s["drops"]["no_route"] == 250
    finally:
        dp.close()


def test_record_route_gets_the_egress_address(lan_router):
    lan_router.neighbor_add("b", HOST_IP["b"], HOST_MAC["b"])
    pkt = to_router("a", HOST_IP["b"], options=[IPOption_RR(routers=["0.0.0.0"] * 3)]) / UDP()
    (out,) = forward(lan_router, [pkt], port="a")["b"]
    rr = out[IP].options[0]
    assert rr.routers[0] == ROUTER_IP["b"] and rr.pointer == 8
    assert out[IP].ttl == 63 and checksum_ok(out)


def test_source_routed_packets_are_dropped(lan_router):
    lsrr = to_router("a", HOST_IP["b"], options=b"\x83\x07\x04\x01\x02\x03\x04\x00") / UDP()
    out = forward(lan_router, [lsrr], port="a")
    assert not out["b"] and lan_router.stats()["drops"]["source_route"] == 1


def test_timestamp_option_gets_our_address_and_a_time(lan_router):
    lan_router.neighbor_add("b", HOST_IP["b"], HOST_MAC["b"])
    raw = b"\x44\x14\x05\x01" + b"\x00" * 16  # flag 1: (address, time) pairs, room for two
    pkt = to_router("a", HOST_IP["b"], options=raw) / UDP()
    (out,) = forward(lan_router, [pkt], port="a")["b"]
    opt = bytes(out[IP])[20:40]
    assert opt[2] == 13 and opt[3] == 0x01  # pointer moved past one (address, time) pair
    assert opt[4:8] == bytes(map(int, ROUTER_IP["b"].split(".")))
    assert int.from_bytes(opt[8:12], "big") < 86_400_000 and checksum_ok(out)


# The option errors a hostile re-test found forwarded (RFC 791 3.1): each earns a Parameter
# Problem whose pointer names the octet in error (RFC 1812 4.3.3.5), and is not forwarded.
@pytest.mark.parametrize("options, pointer", [
    (b"\x44\x0b\x09\x00" + bytes(7) + b"\x00", 22),    # Timestamp: 3 bytes of room
    (b"\x07\x26\x24" + bytes(35) + b"\x00\x00", 22),   # Record Route: 3 bytes of room
    (b"\x44\x28\x29\xf0" + bytes(36), 23),              # full, overflow count already 15
    (b"\x07\x23\x01" + bytes(32) + b"\x00", 22),       # Record Route pointer 1
    (b"\x44\x0c\x04\x00" + bytes(8), 22),               # Timestamp pointer 4
    (b"\x01\x94\x08\x00", 21),                          # an option longer than the header
])
def test_option_errors_get_parameter_problem(lan_router, options, pointer):
    introduce(lan_router, "a")
    bad = to_router("a", HOST_IP["b"], options=options) / UDP() / b"12345678"
    out = forward(lan_router, [bad], port="a")
    (err,) = out["a"]
    assert (err[ICMP].type, err[ICMP].code, err[ICMP].ptr) == (12, 0, pointer)
    assert (err[IP].src, err[IP].dst) == (ROUTER_IP["a"], HOST_IP["a"])
    assert quoted(err) == bytes(bad[IP])[:len(options) + 28] and checksum_ok(err)
    assert not out["b"] and lan_router.stats()["drops"]["malformed"] == 1
    assert lan_router.stats()["slowpath"]["icmp_parameter_problem"] == 1


def test_echo_reply_carries_record_route_and_timestamp_back(lan_router):
    """RFC 1122 3.2.2.6: updated with this router, not truncated (`ping -R`, `ping -T`)."""
    introduce(lan_router, "a")
    rr = b"\x07\x0b\x08" + bytes(map(int, HOST_IP["a"].split("."))) + bytes(4)  # one hop in
    ts = b"\x44\x14\x05\x01" + bytes(16)
    req = to_router("a", ROUTER_IP["b"], options=rr + b"\x01" + ts) / ICMP(type=8, id=9) / b"hi"
    (rep,) = forward(lan_router, [req], port="a")["a"]
    opts = bytes(rep[IP])[20:rep[IP].ihl * 4]
    assert opts[:11] == rr[:3].replace(b"\x08", b"\x0c") + rr[3:7] + bytes(map(int, ROUTER_IP["b"].split(".")))
    assert opts[11:15] == b"\x44\x14\x0d\x01"
    assert opts[15:19] == bytes(map(int, ROUTER_IP["b"].split(".")))
    assert int.from_bytes(opts[19:23], "big") < 86_400_000 and opts[23:] == bytes(8) + b"\x00"
    assert (rep[ICMP].type, rep[ICMP].id, bytes(rep[ICMP].payload)) == (0, 9, b"hi")
    assert checksum_ok(rep)


def test_no_parameter_problem_about_fragments_errors_or_martians(lan_router):
    """RFC 1812 4.3.2.7, as for every error: the packet is dropped all the same."""
    introduce(lan_router, "a")
    bad_option = b"\x07\x23\x01" + bytes(32) + b"\x00"  # Record Route pointer 1
    frames = [
        to_router("a", HOST_IP["b"], frag=10, options=bad_option) / UDP(),       # non-first fragment
        to_router("a", HOST_IP["b"], options=bad_option) / ICMP(type=3, code=1)  # an ICMP error
        / IP(dst="1.2.3.4") / UDP(),
        to_router("a", "127.0.0.1", options=bad_option) / UDP(),                  # martian destination
    ]
    out = forward(lan_router, frames, port="a")
    assert not out["a"] and not out["b"]
    drops = lan_router.stats()["drops"]
    assert (drops["malformed"], drops["martian_destination"]) == (2, 1)
    assert lan_router.stats()["slowpath"]["icmp_parameter_problem"] == 0
