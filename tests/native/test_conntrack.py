"""Connection tracking and stateful filtering on ring ports: port a is the inside
(10.0.0.0/8 behind it), port c the outside (198.51.100.0/24, 2001:db8:c::/48), marked
stateful: what leaves by c starts sessions, what comes in on c passes only as part of one
(or an ICMP error about one). Port b is another inside port."""
import time

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.dataplane import ConntrackSettings
from appliance.errors import StateError
from tests.native.conftest import EAL, FAST_TIMERS, HOST_MAC, NEXTHOP, PORTS, ROUTER_MAC, checked, forward

INSIDE, OUTSIDE = "10.0.0.5", "198.51.100.7"
INSIDE6, OUTSIDE6 = "2001:db8:a::5", "2001:db8:c::7"


def open_ct_router(**timeouts) -> Dataplane:
    settings = ConntrackSettings(max_sessions=timeouts.pop("max_sessions", 1024), **timeouts)
    dp = Dataplane(DataplaneConfig(
        ports=[PortConfig(name, "ring", mac=ROUTER_MAC[name]) for name in PORTS], eal=EAL,
        slowpath=FAST_TIMERS, conntrack=settings,
        tables=TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64, max_rules=1024)))
    for port in PORTS:
        dp.nexthop_set(NEXTHOP[port], port, HOST_MAC[port], ROUTER_MAC[port])
    for prefix, port in (("10.0.0.0/8", "a"), ("198.51.100.0/24", "c"), ("2001:db8:a::/48", "a"),
                         ("2001:db8:c::/48", "c"), ("203.0.113.0/24", "b")):
        dp.route_add(prefix, NEXTHOP[port])
    dp.conntrack_set_stateful("c", True)
    dp.start()
    return dp


@pytest.fixture
def ct():
    yield from checked(open_ct_router())


def out(payload, src=INSIDE, dst=OUTSIDE) -> Ether:
    return Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src=src, dst=dst) / payload


def back(payload, src=OUTSIDE, dst=INSIDE) -> Ether:
    return Ether(src=HOST_MAC["c"], dst=ROUTER_MAC["c"]) / IP(src=src, dst=dst) / payload


def send(dp: Dataplane, frames, port: str) -> dict[str, list[Ether]]:
    return forward(dp, frames if isinstance(frames, list) else [frames], port=port)


def passes(dp: Dataplane, frame: Ether, port: str) -> bool:
    to = "c" if port == "a" else "a"
    return len(send(dp, frame, port)[to]) == 1


def drops(dp: Dataplane) -> dict[str, int]:
    return dp.stats()["drops"]


def states(dp: Dataplane) -> list[str]:
    return [s["state"] for s in dp.conntrack_list()]


def test_replies_to_inside_sessions_come_in_and_nothing_else(ct):
    assert passes(ct, out(UDP(sport=1000, dport=53) / b"q"), "a")
    assert passes(ct, back(UDP(sport=53, dport=1000) / b"a"), "c")
    refused = drops(ct)["not_established"]
    assert not passes(ct, back(UDP(sport=53, dport=1001) / b"x"), "c")  # another port
    assert not passes(ct, back(UDP(sport=53, dport=1000) / b"x", dst="10.0.0.6"), "c")  # another host
    assert not passes(ct, back(TCP(sport=53, dport=1000, flags="S")), "c")  # another protocol
    assert drops(ct)["not_established"] == refused + 3
    [s] = ct.conntrack_list()
    assert (s["proto"], s["state"], s["vrf"]) == (17, "replied", "default")
    assert s["original"] == {"src": INSIDE, "dst": OUTSIDE, "sport": 1000, "dport": 53}
    assert s["reply"] == {"src": OUTSIDE, "dst": INSIDE, "sport": 53, "dport": 1000}
    stats = ct.stats()["conntrack"]
    assert (stats["sessions"], stats["created"], stats["capacity"]) == (1, 1, 1024)
    # Inside to inside, and the router's own address: not filtered.
    assert len(send(ct, out(UDP(), dst="203.0.113.9"), "a")["b"]) == 1
    assert [x["original"] for x in ct.conntrack_list(proto="udp", address=OUTSIDE)] == [s["original"]]
    assert ct.conntrack_list(proto="tcp") == []


def test_a_tcp_connection_goes_through_its_states():
    with_timeouts = {"tcp_time_wait": 60}
    dp = open_ct_router(**with_timeouts)
    steps = checked(dp)
    next(steps)
    try:
        seq = [("a", "S", "syn_sent"), ("c", "SA", "syn_recv"), ("a", "A", "established"),
               ("a", "PA", "established"), ("c", "A", "established"), ("a", "FA", "fin_wait"),
               ("c", "FA", "last_ack"), ("a", "A", "time_wait")]
        for port, flags, state in seq:
            frame = out(TCP(sport=40000, dport=80, flags=flags)) if port == "a" else \
                back(TCP(sport=80, dport=40000, flags=flags))
            assert passes(dp, frame, port), (flags, state)
            assert states(dp) == [state], (flags, states(dp))
        # The port reused: a new SYN opens it again.
        assert passes(dp, out(TCP(sport=40000, dport=80, flags="S")), "a")
        assert states(dp) == ["syn_sent"]
        assert passes(dp, back(TCP(sport=80, dport=40000, flags="R")), "c")
        assert states(dp) == ["close"]
        # Mid-stream (no SYN seen, as across a restart): picked up as established.
        assert passes(dp, out(TCP(sport=40001, dport=80, flags="A")), "a")
        assert sorted(states(dp)) == ["close", "established"]
    finally:
        next(steps, None)


def test_echo_replies_and_icmp_errors_about_a_session_are_related(ct):
    assert passes(ct, out(ICMP(type=8, id=77, seq=1)), "a")
    assert passes(ct, back(ICMP(type=0, id=77, seq=1)), "c")
    assert not passes(ct, back(ICMP(type=0, id=78, seq=1)), "c")  # another identifier
    assert not passes(ct, back(ICMP(type=8, id=77, seq=1)), "c")  # a request from outside
    # Fragmentation needed about the inside's TCP packet: PMTUD through the firewall works.
    sent = IP(src=INSIDE, dst=OUTSIDE) / TCP(sport=40000, dport=443, flags="A")
    assert passes(ct, out(TCP(sport=40000, dport=443, flags="S")), "a")
    error = ICMP(type=3, code=4, nexthopmtu=1400) / bytes(sent)[:28]
    assert passes(ct, back(error, src="198.51.100.1"), "c")
    unrelated = ICMP(type=3, code=4) / bytes(IP(src=INSIDE, dst=OUTSIDE) / TCP(sport=1, dport=2))[:28]
    assert not passes(ct, back(unrelated, src="198.51.100.1"), "c")
    assert len(ct.conntrack_list()) == 2  # the echo and the TCP connection; errors make none


def test_non_first_fragments_pass_and_a_first_one_is_checked(ct):
    """Without reassembly the first fragment (the one with the ports) decides: the rest
    cannot be put together without it."""
    first = back(UDP(sport=53, dport=1000) / (b"x" * 40), src=OUTSIDE)
    first[IP].flags, first[IP].id = "MF", 7
    assert not passes(ct, first, "c")
    rest = back(b"y" * 40)
    rest[IP].proto, rest[IP].frag, rest[IP].id = 17, 6, 7
    assert passes(ct, rest, "c")


def test_ipv6_sessions_are_tracked_the_same(ct):
    out6 = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IPv6(src=INSIDE6, dst=OUTSIDE6)
    back6 = Ether(src=HOST_MAC["c"], dst=ROUTER_MAC["c"]) / IPv6(src=OUTSIDE6, dst=INSIDE6)
    assert passes(ct, out6 / UDP(sport=5000, dport=53), "a")
    assert passes(ct, back6 / UDP(sport=53, dport=5000), "c")
    assert not passes(ct, back6 / UDP(sport=53, dport=5001), "c")
    assert passes(ct, out6 / ICMPv6EchoRequest(id=9), "a")
    assert passes(ct, back6 / ICMPv6EchoReply(id=9), "c")
    assert sorted((s["family"], s["proto"]) for s in ct.conntrack_list()) == [(6, 17), (6, 58)]


def test_idle_sessions_expire_by_their_state_timeout():
    with_timeouts = {"udp": 1, "tcp_established": 60}
    dp = open_ct_router(**with_timeouts)
    steps = checked(dp)
    next(steps)
    try:
        assert passes(dp, out(UDP(sport=1000, dport=53)), "a")
        assert passes(dp, out(TCP(sport=40000, dport=80, flags="A")), "a")
        deadline = time.monotonic() + 5
        while len(dp.conntrack_list()) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [s["proto"] for s in dp.conntrack_list()] == [6]  # the UDP one went after 1 s
        assert dp.stats()["conntrack"]["expired"] == 1
        assert not passes(dp, back(UDP(sport=53, dport=1000)), "c")
        assert passes(dp, back(TCP(sport=80, dport=40000, flags="A")), "c")
    finally:
        next(steps, None)


def test_a_full_table_refuses_new_sessions_and_keeps_the_old():
    dp = open_ct_router(max_sessions=16)
    steps = checked(dp)
    next(steps)
    try:
        flows = [out(UDP(sport=2000 + i, dport=53)) for i in range(17)]
        results = send(dp, flows, "a")["c"]
        assert len(results) == 16
        assert drops(dp)["conntrack_full"] == 1
        assert dp.stats()["conntrack"]["sessions"] == 16
        assert len(send(dp, [back(UDP(sport=53, dport=2000 + i)) for i in range(16)], "c")["a"]) == 16
        assert not passes(dp, back(UDP(sport=53, dport=2016)), "c")
        assert dp.conntrack_flush() == 16
        assert not passes(dp, back(UDP(sport=53, dport=2000)), "c")  # gone with the flush
        deadline = time.monotonic() + 5  # the freed sessions come back after a grace period
        while not passes(dp, out(UDP(sport=3000, dport=53)), "a"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        next(steps, None)


def test_thousands_of_sessions_are_each_found_through_churn():
    """The index under load: 2000 sessions of one host's ports (neighbouring keys), every
    reply found; flushed, and 2000 others on the reused sessions found, the old refused."""
    dp = open_ct_router(max_sessions=4096)
    steps = checked(dp)
    next(steps)

    def through(frames: list, port: str) -> int:  # (500 at a time: the rx ring's room)
        to = "c" if port == "a" else "a"
        return sum(len(send(dp, frames[i:i + 500], port)[to]) for i in range(0, len(frames), 500))
    try:
        for first, flushed in ((10000, None), (20000, 10000)):
            ports = range(first, first + 2000)
            assert through([out(UDP(sport=p, dport=53)) for p in ports], "a") == 2000
            assert through([back(UDP(sport=53, dport=p)) for p in ports], "c") == 2000
            if flushed:
                assert through([back(UDP(sport=53, dport=p)) for p in range(flushed, flushed + 2000)], "c") == 0
            assert dp.stats()["conntrack"]["sessions"] == 2000
            assert dp.conntrack_flush() == 2000
            deadline = time.monotonic() + 5  # the sessions come back after a grace period
            while dp.stats()["conntrack"]["sessions"] or not passes(dp, out(UDP(sport=9, dport=9)), "a"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            dp.conntrack_flush()
    finally:
        next(steps, None)


def test_stateful_can_be_turned_off_and_on_while_forwarding(ct):
    assert not passes(ct, back(UDP(sport=53, dport=1000)), "c")
    ct.conntrack_set_stateful("c", False)
    assert passes(ct, back(UDP(sport=53, dport=1000)), "c")
    assert ct.conntrack_stateful() == []
    ct.conntrack_set_stateful("c", True)
    assert ct.conntrack_stateful() == ["c"]
    assert not passes(ct, back(UDP(sport=53, dport=1000)), "c")


def test_without_a_connection_table_stateful_is_refused():
    dp = Dataplane(DataplaneConfig(ports=[PortConfig(name, "ring") for name in PORTS], eal=EAL))
    try:
        with pytest.raises(StateError, match="connection tracking is off"):
            dp.conntrack_set_stateful("c", True)
        dp.conntrack_set_stateful("c", False)  # (nothing to turn off)
        assert dp.stats()["conntrack"] is None
    finally:
        dp.close()
