"""Packet capture on ring ports: what the worker receives and sends, and what the router
drops with why, filtered by a tcpdump expression, read back from the pcapng with scapy."""
import io
import struct
import time

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgReader

from appliance.capture import CaptureRequest, capture, complete_blocks
from appliance.errors import CaptureError, StateError
from appliance.capture import CaptureSession
from tests.native.conftest import HOST_MAC, NEXTHOP, ROUTER_MAC, forward, open_router, udp


def captured(dp, request: CaptureRequest, action) -> list:
    """Starts `request`, runs `action()`, reads until a quiet 0.3 s (or the count);
    returns the packets scapy reads back from the pcapng, and the raw stream."""
    stop_at = [float("inf")]
    stream = capture(dp, request, poll_s=0.01, stopped=lambda: time.monotonic() > stop_at[0])
    data = [next(stream)]  # the header: the capture runs
    action()
    dp.quiesce()
    stop_at[0] = time.monotonic() + 0.3
    data.extend(stream)
    assert not dp.capturing
    return list(PcapNgReader(io.BytesIO(b"".join(data)))), b"".join(data)


def test_capture_both_directions_with_a_filter(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    frames = [udp(dport=5000, sport=1000 + i) for i in range(5)] + \
             [Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src="192.0.2.1", dst="10.1.2.3") /
              TCP(dport=22) for _ in range(3)]
    got = {}
    packets, _ = captured(router, CaptureRequest(filter="udp port 5000"),
                          lambda: got.update(forward(router, frames, port="a")))
    assert len(got["c"]) == 8  # everything was forwarded, captured or not
    seen = [(p.sniffed_on, p.direction, p[UDP].sport) for p in packets]
    # Each UDP packet twice: in on a (as sent), out on c (TTL one less, new MACs).
    assert sorted(seen) == sorted([("a", 1, 1000 + i) for i in range(5)] +
                                  [("c", 2, 1000 + i) for i in range(5)])
    ins = [p for p in packets if p.sniffed_on == "a"]
    outs = [p for p in packets if p.sniffed_on == "c"]
    assert all(p[IP].ttl == 64 and p.dst == ROUTER_MAC["a"] for p in ins)
    assert all(p[IP].ttl == 63 and p.dst == HOST_MAC["c"] for p in outs)
    assert not any(TCP in p for p in packets)


def test_capture_one_interface_one_direction_and_a_count(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    frames = [udp(sport=2000 + i) for i in range(20)]
    packets, _ = captured(router, CaptureRequest(interface="c", direction="out", count=7),
                          lambda: forward(router, frames, port="a"))
    assert len(packets) == 7
    assert {(p.sniffed_on, p.direction) for p in packets} == {("c", 2)}
    assert [p[UDP].sport for p in packets] == [2000 + i for i in range(7)]


def test_capture_snaplen_keeps_the_wire_length(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    packets, _ = captured(router, CaptureRequest(interface="a", direction="in", snaplen=34),
                          lambda: forward(router, [udp(payload=b"y" * 200)], port="a"))
    [p] = packets
    assert len(bytes(p)) == 34 and p.wirelen == 14 + 20 + 8 + 200


def test_drops_captured_with_their_reasons(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    no_route = udp(dst="10.9.9.9")
    bad_sum = Ether(bytes(udp()))
    bad_sum[IP].chksum = 0x1234
    ttl = udp(ttl=1)
    fine = udp()
    packets, _ = captured(router, CaptureRequest(drops=True),
                          lambda: forward(router, [no_route, bad_sum, fine, ttl], port="a"))
    why = {p[IP].dst if p[IP].ttl != 1 else "ttl": p.comment.decode() for p in packets}
    assert why["10.9.9.9"].startswith("drop: no_route (route lookup, ")
    assert "bad_checksum (input checks" in why["10.1.2.3"]
    assert why["ttl"].startswith("drop: ttl_expired (input checks")
    assert len(packets) == 3 and all(p.sniffed_on == "a" and p.direction == 1 for p in packets)


def test_drop_capture_by_reason(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    packets, _ = captured(router, CaptureRequest(drops=True, reasons=["ttl_expired"]),
                          lambda: forward(router, [udp(dst="10.9.9.9"), udp(ttl=1)], port="a"))
    assert [p[IP].ttl for p in packets] == [1]


def test_bad_requests_change_nothing(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    with pytest.raises(CaptureError, match="filter 'udp prot 53': can't parse filter expression: syntax error"):
        next(capture(router, CaptureRequest(filter="udp prot 53")))
    for bad, says in ((CaptureRequest(interface="wan9"), "no interface named 'wan9'"),
                      (CaptureRequest(reasons=["no_route"]), "only with drops"),
                      (CaptureRequest(drops=True, reasons=["lunch"]), "'lunch' is not a drop reason"),
                      (CaptureRequest(snaplen=0), "snaplen: 0")):
        with pytest.raises(CaptureError, match=says):
            next(capture(router, bad))
    assert not router.capturing
    assert len(forward(router, [udp()], port="a")["c"]) == 1


def test_one_capture_at_a_time(router):
    first = capture(router, CaptureRequest())
    next(first)
    with pytest.raises(StateError, match="a capture is running"):
        next(capture(router, CaptureRequest(interface="a")))
    first.close()
    assert not router.capturing
    second = capture(router, CaptureRequest(interface="a"))
    next(second)
    second.close()


def test_a_stream_cut_anywhere_keeps_whole_blocks(router):
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    _, data = captured(router, CaptureRequest(), lambda: forward(router, [udp()] * 3, port="a"))
    buffer, kept = bytearray(), b""
    for cut in range(0, len(data), 7):  # as a pipe or a socket may deliver it
        buffer += data[cut:cut + 7]
        kept += complete_blocks(buffer)
    assert kept == data and not buffer
    truncated = data[:-5]
    buffer = bytearray(truncated)
    readable = complete_blocks(buffer)
    assert len(list(PcapNgReader(io.BytesIO(readable)))) == 5  # 3 in, 3 out, the last cut off


def test_closing_the_data_plane_ends_a_running_capture():
    dp = open_router()
    try:
        dp.route_add("10.1.0.0/16", NEXTHOP["c"])
        session = CaptureSession(dp, CaptureRequest())
        forward(dp, [udp()], port="a")
        dp.quiesce()
    finally:
        dp.close()  # its copies still queued: freed with it, the pool after the last holder
    assert session.read() is None
    session.stop()  # (nothing left to stop: no error)


def test_a_quiet_capture_sends_a_statistics_block_every_second(router):
    packets, data = captured(router, CaptureRequest(interface="b"), lambda: time.sleep(1.3))
    kinds, at = [], 0
    while at < len(data):  # the blocks' types: section header, 3 interfaces, statistics
        kind, length = struct.unpack_from("<II", data, at)
        kinds.append(kind)
        at += length
    assert kinds[:4] == [0x0A0D0D0A, 1, 1, 1] and 5 in kinds[4:] and 6 not in kinds
    assert packets == []  # readers skip it: it is not a packet
    assert len(tcpdump_lines(data)) == 0


def tcpdump_lines(data: bytes) -> list[str]:
    import subprocess
    r = subprocess.run(["tcpdump", "-nr", "-"], input=data, capture_output=True, check=True)
    return r.stdout.decode().splitlines()


def test_filters_that_read_a_byte_past_the_ip_header(router):
    """`tcp[tcpflags]`, `icmp[icmptype]`: a byte load at the index register's offset (one
    DPDK 22.11's rte_bpf gets wrong: such a filter never matched there)."""
    router.route_add("10.1.0.0/16", NEXTHOP["c"])
    tcp = lambda flags: Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src="192.0.2.1", dst="10.1.2.3") / \
        TCP(sport=4000, dport=80, flags=flags)
    packets, _ = captured(router, CaptureRequest(interface="a", direction="in",
                                                 filter="tcp[tcpflags] & tcp-syn != 0"),
                          lambda: forward(router, [tcp("S"), tcp("A"), tcp("SA"), tcp("PA")], port="a"))
    assert [str(p[TCP].flags) for p in packets] == ["S", "SA"]
