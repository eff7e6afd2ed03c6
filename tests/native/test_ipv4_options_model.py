"""IPv4 options against a reference model of RFC 791 3.1 and RFC 1812 4.3.3.5 / 5.2.4,
through both input stages: random option lists (Record Route and Timestamp of every flag,
with room, full, with some room but not enough, pointers below the minimum, overflow counts
at their limit; source routes; unknown options; bad lengths; duplicates), forwarded, sent
to the router as echo requests, or with TTL 1. What the model says each one earns (the
forwarded bytes, an echo reply with the options updated, a Parameter Problem pointing at
the octet in error, time exceeded, or a drop reason) is checked field by field, mixed with
plain frames so that groups of eight hold both."""
import ipaddress
import random
from collections import Counter
from dataclasses import replace

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

from appliance import SlowPathSettings
from tests.native.conftest import (EAL, HOST_IP, HOST_MAC, NEXTHOP, PORTS, ROUTER_IP, ROUTER_MAC,
                                   open_router, started)
from tests.native.test_ipv4_model import checksum_ok, cpu_has_avx512, ones_complement_sum

ROUTES = {"10.0.0.0/8": "b", "172.16.0.0/12": "c"}
DESTINATIONS = {"10.1.2.3": "b", "172.16.0.9": "c", ROUTER_IP["a"]: "us", ROUTER_IP["c"]: "us"}
RR, TS, LSRR, SSRR, ROUTER_ALERT = 7, 0x44, 0x83, 0x89, 0x94


# ---- the model ----

def problem(options: bytes) -> int | str | None:
    """The header offset of the octet in error (RFC 791: a pointer below its minimum, some
    room but not enough, an overflow count that cannot count; lengths outside the header;
    a second Record Route, Timestamp or source route), "source_route", or None."""
    seen: set[str] = set()
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2 or i + options[i + 1] > len(options):
            return 20 + i
        length = options[i + 1]
        name = {RR: "rr", TS: "ts", LSRR: "srr", SSRR: "srr"}.get(kind)
        if name in seen:
            return 20 + i
        if name:
            seen.add(name)
        minimum = {RR: (3, 4), TS: (4, 5), LSRR: (3, 4), SSRR: (3, 4)}.get(kind)
        if minimum:
            if length < minimum[0]:
                return 20 + i + 1
            pointer = options[i + 2]
            if pointer < minimum[1]:
                return 20 + i + 2
            entry = 8 if kind == TS and options[i + 3] & 0xF in (1, 3) else 4
            if kind in (RR, TS) and pointer <= length and pointer + entry - 1 > length:
                return 20 + i + 2
            if kind == TS and pointer > length and options[i + 3] >> 4 == 15:
                return 20 + i + 3
        i += length
    return "source_route" if "srr" in seen else None


def updated(options: bytes, address: str, ours: set[str]) -> bytes:
    """The options after this router (address `address`) has seen them; the times are
    left zero, for masked()."""
    out = bytearray(options)
    me = ipaddress.IPv4Address(address).packed
    i = 0
    while i < len(out) and out[i] != 0:
        if out[i] == 1:
            i += 1
            continue
        kind, length, pointer = out[i], out[i + 1], out[i + 2] if out[i + 1] > 2 else 0
        slot = i + pointer - 1
        if kind == RR and pointer <= length:
            out[slot:slot + 4] = me
            out[i + 2] += 4
        elif kind == TS and pointer > length:
            out[i + 3] += 0x10
        elif kind == TS and out[i + 3] & 0xF in (0, 1):
            flag = out[i + 3] & 0xF
            if flag == 1:
                out[slot:slot + 4] = me
            out[slot + 4 * flag:slot + 4 * flag + 4] = bytes(4)
            out[i + 2] += 4 + 4 * flag
        elif kind == TS and out[i + 3] & 0xF == 3 and \
                str(ipaddress.IPv4Address(bytes(out[slot:slot + 4]))) in ours:
            out[slot + 4:slot + 8] = bytes(4)
            out[i + 2] += 8
        i += length
    return bytes(out)


def echoed(options: bytes) -> bytes:
    """What an echo reply carries (RFC 1122 3.2.2.6): the request's Record Route and
    Timestamp, padded to a multiple of four."""
    out, i = b"", 0
    while i < len(options) and options[i] != 0:
        if options[i] == 1:
            i += 1
            continue
        if options[i] in (RR, TS):
            out += options[i:i + options[i + 1]]
        i += options[i + 1]
    return out + bytes(-len(out) % 4)


def time_slots(options: bytes, before: bytes) -> list[int]:
    """Offsets of the timestamps this router wrote: what `before` had free and now holds."""
    slots, i = [], 0
    while i < len(options) and options[i] != 0:
        if options[i] == 1:
            i += 1
            continue
        if options[i] == TS and options[i + 2] != before[i + 2]:
            flag = options[i + 3] & 0xF
            slots.append(i + before[i + 2] - 1 + (4 if flag else 0))
        i += options[i + 1]
    return slots


def masked(options: bytes, before: bytes) -> bytes:
    """Options with the times this router wrote zeroed, after checking they are times
    (milliseconds since midnight UT, RFC 791)."""
    out = bytearray(options)
    for at in time_slots(options, before):
        assert int.from_bytes(out[at:at + 4], "big") < 86_400_000
        out[at:at + 4] = bytes(4)
    return bytes(out)


# ---- the frames ----

def record_route(rng: random.Random) -> bytes:
    slots = rng.randrange(1, 10)
    length = 3 + 4 * slots
    pointer = rng.choice([4, 4 + 4 * rng.randrange(slots), length + 1,  # room; full
                          length - 2, length - 1, length,               # some room, not enough
                          rng.randrange(0, 4)])                          # below the minimum
    return bytes([RR, length, pointer]) + bytes(rng.randrange(256) for _ in range(length - 3))


def timestamp(rng: random.Random) -> bytes:
    flag = rng.choice([0, 0, 1, 1, 3, 3, 2])
    entry = 4 if flag == 0 else 8
    slots = rng.randrange(1, 36 // entry + 1)
    length = 4 + entry * slots
    pointer = rng.choice([5, 5 + entry * rng.randrange(slots), length + 1, length - 2,
                          length - entry + 2, rng.randrange(0, 5)])
    overflow = rng.choice([0, 3, 14, 15])
    body = bytearray(rng.randrange(256) for _ in range(length - 4))
    if flag == 3 and 5 <= pointer <= length - 7 and rng.random() < 0.5:  # names one of us
        at = pointer - 5
        body[at:at + 4] = ipaddress.IPv4Address(ROUTER_IP[rng.choice(PORTS)]).packed
    return bytes([TS, length, pointer, overflow << 4 | flag]) + bytes(body)


def option_list(rng: random.Random) -> bytes:
    pieces = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.randrange(9)
        if kind <= 2:
            pieces.append(record_route(rng))
        elif kind <= 5:
            pieces.append(timestamp(rng))
        elif kind == 6:
            pieces.append(bytes([rng.choice([LSRR, SSRR]), 7, 4]) + bytes(4))
        elif kind == 7:
            pieces.append(bytes([ROUTER_ALERT, 4, 0, 0]))
        else:
            pieces.append(rng.choice([b"\x01", b"\x00", bytes([RR, rng.choice([0, 1, 2, 60])]),
                                      bytes([TS, 3, 5]), bytes([ROUTER_ALERT])]))
    options = b"".join(pieces)[:40]
    return options + bytes(-len(options) % 4)


def option_frame(rng: random.Random) -> bytes:
    dst = rng.choice(list(DESTINATIONS))
    ip = IP(src=HOST_IP["a"], dst=dst, ttl=rng.choice([1, 2, 64]), id=rng.randrange(65536),
            options=option_list(rng))
    body = ICMP(type=8, id=rng.randrange(65536), seq=1) / b"ping" if rng.random() < 0.5 \
        else UDP(sport=rng.randrange(1, 65536), dport=33434) / b"data"
    return bytes(Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / ip / body)


def plain_frame(rng: random.Random) -> bytes:
    return bytes(Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(
        src=HOST_IP["a"], dst=rng.choice(["10.1.2.3", "172.16.0.9"]), id=rng.randrange(65536))
        / UDP(sport=rng.randrange(1, 65536), dport=53) / b"plain")


# ---- what each frame earns ----

def expected(raw: bytes) -> tuple[str, object]:
    ip = IP(raw[14:])
    options = raw[34:14 + ip.ihl * 4]
    where = DESTINATIONS[ip.dst]
    wrong = problem(options)
    if wrong == "source_route":
        return "drop", "source_route"
    if wrong is not None:
        return "parameter_problem", wrong
    if where == "us":
        if ICMP in ip:
            return "echo_reply", updated(echoed(options), ip.dst, set(ROUTER_IP.values()))
        return "drop", "local_unhandled"
    if ip.ttl <= 1:
        return "time_exceeded", None
    return where, updated(options, ROUTER_IP[where], set(ROUTER_IP.values()))


def check_error(reply: Ether, offending: bytes, kind: int, pointer: int | None) -> None:
    """An ICMP error about `offending`, field by field (RFC 792, RFC 1812 4.3.2)."""
    assert (reply[Ether].src, reply[Ether].dst) == (ROUTER_MAC["a"], HOST_MAC["a"])
    assert (reply[IP].src, reply[IP].dst, reply[IP].ttl) == (ROUTER_IP["a"], HOST_IP["a"], 64)
    icmp = bytes(reply[IP].payload)
    assert icmp[0] == kind and icmp[1] == 0 and ones_complement_sum(icmp) == 0xFFFF
    if pointer is not None:
        assert icmp[4] == pointer and icmp[5:8] == bytes(3), offending[34:].hex(" ")
    ihl = (offending[14] & 0xF) * 4
    assert icmp[8:] == offending[14:14 + ihl + 8]
    assert checksum_ok(bytes(reply[IP])[:20])


def check_echo_reply(reply: Ether, request: bytes, options: bytes) -> None:
    ip = IP(request[14:])
    assert (reply[IP].src, reply[IP].dst) == (ip.dst, HOST_IP["a"])
    header = bytes(reply[IP])[:reply[IP].ihl * 4]
    assert checksum_ok(header) and reply[IP].ihl * 4 == 20 + len(options)
    assert masked(header[20:], echoed(request[34:14 + ip.ihl * 4])) == options
    assert (reply[ICMP].type, reply[ICMP].id, bytes(reply[ICMP].payload)) == (0, ip[ICMP].id, b"ping")


def check_forwarded(out: bytes, raw: bytes, port: str, options: bytes) -> None:
    want = bytearray(raw)
    want[0:6] = bytes.fromhex(HOST_MAC[port].replace(":", ""))
    want[6:12] = bytes.fromhex(ROUTER_MAC[port].replace(":", ""))
    want[22] -= 1
    ihl = (raw[14] & 0xF) * 4
    want[34:14 + ihl] = options
    got = bytearray(out)
    assert checksum_ok(bytes(got[14:14 + ihl]))
    got[34:14 + ihl] = masked(bytes(got[34:14 + ihl]), raw[34:14 + ihl])
    got[24:26] = want[24:26] = b"\0\0"
    assert bytes(got) == bytes(want)


@pytest.mark.parametrize("bits", [512, 256], ids=["eight at a time", "one by one"])
def test_ipv4_options_do_what_the_model_says(bits):
    if bits == 512 and not cpu_has_avx512():
        pytest.skip("this CPU has no AVX-512: the one-by-one stage is the only one")
    router = open_router(slowpath=SlowPathSettings(icmp_rate=0),
                         eal=replace(EAL, max_simd_bitwidth=bits))
    with started(router):
        for port in PORTS:
            router.address_add(port, f"{ROUTER_IP[port]}/24")
        router.neighbor_add("a", HOST_IP["a"], HOST_MAC["a"])
        for prefix, port in ROUTES.items():
            router.route_add(prefix, NEXTHOP[port])
        router.quiesce()
        for port in PORTS:
            router.drain(port)  # gratuitous ARPs
        rng = random.Random(7)
        outcomes: Counter = Counter()
        drops: Counter = Counter()
        for batch in range(8):
            frames = [option_frame(rng) if rng.random() < 0.6 else plain_frame(rng)
                      for _ in range(120)]
            assert router.inject("a", frames) == len(frames)
            router.quiesce()
            sent = {p: [Ether(raw) for raw in router.drain(p)] for p in PORTS}
            # The fast path's frames leave before the slow path's: two queues per port.
            plain = {p: [bytes(f) for f in sent[p] if IP in f and f[IP].ihl == 5] for p in ("b", "c")}
            forwarded = {p: [bytes(f) for f in sent[p] if IP in f and f[IP].ihl > 5]
                         for p in ("b", "c")}
            answers = [f for f in sent["a"] if IP in f]
            for raw in frames:
                if raw[14] == 0x45:
                    port = DESTINATIONS[IP(raw[14:]).dst]
                    assert plain[port].pop(0)[26:] == raw[26:]  # addresses and data as they came
                    continue
                what, detail = expected(raw)
                outcomes[what] += 1
                if what in ("b", "c"):
                    check_forwarded(forwarded[what].pop(0), raw, what, detail)
                elif what == "echo_reply":
                    check_echo_reply(answers.pop(0), raw, detail)
                elif what == "parameter_problem":
                    check_error(answers.pop(0), raw, 12, detail)
                    drops["malformed"] += 1
                elif what == "time_exceeded":
                    check_error(answers.pop(0), raw, 11, None)
                    drops["ttl_expired"] += 1
                else:
                    drops[detail] += 1
            assert not answers and not any(forwarded.values()) and not any(plain.values()), batch
        stats = router.stats()
        assert {k: v for k, v in stats["drops"].items() if v} == dict(drops)
        assert stats["slowpath"]["icmp_parameter_problem"] == outcomes["parameter_problem"]
        assert stats["slowpath"]["icmp_echo_replies"] == outcomes["echo_reply"]
        assert min(outcomes[k] for k in ("b", "c", "echo_reply", "parameter_problem",
                                         "time_exceeded", "drop")) >= 5, outcomes
