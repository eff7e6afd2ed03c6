"""ACLs on the real workers: directions, actions, counters, replacing under traffic, and
every way to get one wrong (the ACL in force stays as it was)."""
import random
import threading

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, TCPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6
from scapy.layers.l2 import Ether

from appliance import SlowPathSettings, TableSizes
from appliance.errors import AclError, PortError, ResourceError
from tests.native.conftest import (HOST_MAC, NEXTHOP, ROUTER_MAC, forward, open_router, started,
                                   udp)

SSH_POLICY = {"default": "permit", "entries": [
    {"action": "permit", "src": "192.0.2.0/24", "proto": "tcp", "dst_port": 22},
    {"action": "reject", "dst": "10.0.0.0/8", "proto": "tcp", "dst_port": 22},
]}


def tcp(src="198.51.100.7", dst="10.1.2.3", dport=22, port="a", **ip):
    return Ether(src=HOST_MAC[port], dst=ROUTER_MAC[port]) / IP(src=src, dst=dst, **ip) / TCP(
        sport=40000, dport=dport, flags="S")


@pytest.fixture
def acl_router():
    """Routes 10/8 out of b, 192.0.2.0/24 and 198.51.100.0/24 back out of a; addresses for
    ICMP errors to come from; no ICMP rate limit."""
    dp = open_router(slowpath=SlowPathSettings(icmp_rate=0),
                     tables=TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64,
                                       max_rules=1024, max_acl_entries=100))
    with started(dp):
        dp.address_add("a", "203.0.113.1/24")
        dp.address_add("a", "2001:db8:a::1/64")
        dp.route_add("10.0.0.0/8", NEXTHOP["b"])
        dp.route_add("2001:db8:d::/48", NEXTHOP["b"])
        for back in ("192.0.2.0/24", "198.51.100.0/24", "2001:db8:5::/48"):
            dp.route_add(back, NEXTHOP["a"])
        dp.quiesce()
        dp.drain("a")
        yield dp


def test_deny_22_to_10_8_except_from_a_trusted_prefix(acl_router):
    dp = acl_router
    dp.acl_set("ssh", SSH_POLICY)
    dp.acl_bind("a", "in", "ssh")
    out = forward(dp, [tcp(src="192.0.2.5"), tcp(), tcp(dport=80), tcp(dst="11.0.0.1")])
    assert [f[IP].src for f in out["b"]] == ["192.0.2.5", "198.51.100.7"]  # trusted; port 80
    assert out["b"][1][TCP].dport == 80
    err, unreachable = out["a"]  # the rejected one: administratively prohibited, quoting it
    assert (err[ICMP].type, err[ICMP].code, err[IP].dst) == (3, 13, "198.51.100.7")
    assert (unreachable[ICMP].type, unreachable[ICMP].code) == (3, 0)  # 11.0.0.1: no route
    assert err[TCPerror].dport == 22
    shown = dp.acl_show("ssh")
    assert [e["packets"] for e in shown["entries"]] == [1, 1]
    assert shown["default_count"]["packets"] == 2  # port 80, and 11.0.0.1 (then: no route)
    summary = dp.stats()["acls"]["ssh"]  # by action: the permit entry and the default
    assert summary["entries"] == 2 and summary["permit"]["packets"] == 3
    assert summary["reject"] == {"packets": 1, "bytes": 40} and summary["deny"]["packets"] == 0
    assert shown["bound"] == [["a", "in"]]
    assert dp.stats()["drops"]["acl_reject"] == 1


def test_an_unbound_port_and_an_unbound_acl_filter_nothing(acl_router):
    dp = acl_router
    dp.acl_set("ssh", SSH_POLICY)
    assert len(forward(dp, [tcp()])["b"]) == 1  # defined, not bound
    dp.acl_bind("b", "in", "ssh")
    assert len(forward(dp, [tcp()])["b"]) == 1  # bound on another port
    dp.acl_bind("a", "in", "ssh")
    assert len(forward(dp, [tcp()])["b"]) == 0
    dp.acl_bind("a", "in", None)
    assert len(forward(dp, [tcp()])["b"]) == 1
    assert dp.acl_bound("a", "in") is None and dp.acl_bound("b", "in") == "ssh"
    dp.acl_bind("b", "in", None)


def test_out_filters_by_the_egress_port_after_the_route(acl_router):
    dp = acl_router
    dp.route_add("10.9.0.0/16", NEXTHOP["c"])
    dp.acl_set("no-udp", {"default": "permit", "entries": [{"action": "deny", "proto": "udp"}]})
    dp.acl_bind("c", "out", "no-udp")
    out = forward(dp, [udp(dst="10.1.0.1"), udp(dst="10.9.0.1"), tcp(dst="10.9.0.1", dport=80)])
    assert len(out["b"]) == 1 and [f.haslayer(TCP) for f in out["c"]] == [True]
    assert dp.stats()["drops"]["acl_deny"] == 1
    assert dp.acl_show("no-udp")["entries"][0]["packets"] == 1  # only what left by c was seen


def test_redirect_takes_another_next_hop_but_not_the_routers_own_traffic(acl_router):
    dp = acl_router
    dp.acl_set("pbr", {"entries": [
        {"action": "redirect", "src": "192.0.2.0/24", "nexthop": NEXTHOP["c"]}]})
    dp.acl_bind("a", "in", "pbr")
    out = forward(dp, [tcp(src="192.0.2.9", dport=80), tcp(dport=80)])
    assert [f[IP].src for f in out["c"]] == ["192.0.2.9"]
    assert [f[IP].src for f in out["b"]] == ["198.51.100.7"]
    assert out["c"][0][Ether].dst == HOST_MAC["c"] and out["c"][0][IP].ttl == 63
    # To the router's own address: answered, not redirected (as Linux's local table).
    ping = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src="192.0.2.9", dst="203.0.113.1") / ICMP()
    out = forward(dp, [ping])
    assert not out["c"] and [f[ICMP].type for f in out["a"]] == [0]


def test_options_do_not_slip_past_an_input_acl(acl_router):
    """IPv4 with options goes to the slow path whole; the input ACL still decides."""
    dp = acl_router
    dp.acl_set("ssh", SSH_POLICY)
    dp.acl_bind("a", "in", "ssh")
    nop = tcp(options=[b"\x01\x01\x01\x01"])
    out = forward(dp, [nop, tcp(src="192.0.2.5", options=[b"\x01\x01\x01\x01"])])
    assert [f[IP].src for f in out["b"]] == ["192.0.2.5"]
    assert [(f[ICMP].type, f[ICMP].code) for f in out["a"]] == [(3, 13)]
    # A redirect does not apply to them (the slow path routes them itself): routed as usual.
    dp.acl_set("ssh", {"entries": [{"action": "redirect", "proto": "tcp", "nexthop": NEXTHOP["c"]}]})
    out = forward(dp, [nop])
    assert len(out["b"]) == 1 and not out["c"]


def test_ipv6_entries_and_the_default_for_the_other_family(acl_router):
    dp = acl_router
    dp.acl_set("v6", {"default": "deny", "entries": [
        {"action": "reject", "src": "2001:db8:5::/48", "proto": "udp", "dst_port": "5000-6000"},
        {"action": "permit", "dst": "2001:db8:d::/48"}]})
    dp.acl_bind("a", "in", "v6")
    eth = Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"])
    v6 = [eth / IPv6(src="2001:db8:5::7", dst="2001:db8:d::1") / UDP(dport=d) for d in (5678, 53)]
    out = forward(dp, v6 + [udp()])  # IPv4: no entry of its family, the default decides
    assert [f[UDP].dport for f in out["b"]] == [53]
    (err,) = out["a"]
    assert (err[ICMPv6DestUnreach].code, err[IPv6].dst) == (1, "2001:db8:5::7")
    assert dp.acl_show("v6")["default_count"]["packets"] == 1


def test_counts_of_kept_entries_carry_over_and_dropped_ones_are_handed_back(acl_router):
    dp = acl_router
    dp.acl_set("ssh", SSH_POLICY)
    dp.acl_bind("a", "in", "ssh")
    forward(dp, [tcp(src="192.0.2.5"), tcp(), tcp()])
    kept = SSH_POLICY["entries"][1]
    retired = dp.acl_set("ssh", {"default": "deny", "entries": [
        {"action": "deny", "proto": "icmp"}, kept]})
    assert sorted((r["entry"], r["packets"]) for r in retired) == [(-1, 0), (0, 1)]
    shown = dp.acl_show("ssh")
    assert [(e["action"], e["packets"]) for e in shown["entries"]] == [("deny", 0), ("reject", 2)]
    assert shown["default"] == "deny" and shown["default_count"]["packets"] == 0


def test_replacing_under_traffic_counts_every_packet_under_exactly_one_version(acl_router):
    dp = acl_router
    # Both decide every packet, differently: no entry is shared, so each swap hands the
    # outgoing version's counts back and the new one starts from zero.
    versions = [
        {"default": "deny", "entries": [{"action": "permit", "proto": "udp", "dst_port": 5678}]},
        {"default": "permit", "entries": [{"action": "deny", "proto": "udp", "dst_port": 5678}]},
    ]
    dp.acl_set("flip", versions[0])
    dp.acl_bind("a", "in", "flip")
    frames = [bytes(udp(dst=f"10.0.{i >> 8}.{i & 255}")) for i in range(256)]
    sent, forwarded, stop = [0], [0], threading.Event()

    def traffic():
        while not stop.is_set():
            sent[0] += dp.inject("a", frames)
            forwarded[0] += len(dp.drain("b"))

    runner = threading.Thread(target=traffic)
    runner.start()
    under = {"permit": 0, "deny": 0}
    try:
        for swap in range(1, 201):
            old = versions[(swap - 1) % 2]
            for r in dp.acl_set("flip", versions[swap % 2]):
                action = old["default"] if r["entry"] == -1 else old["entries"][r["entry"]]["action"]
                under[action] += r["packets"]
    finally:
        stop.set()
        runner.join()
    dp.quiesce()
    forwarded[0] += len(dp.drain("b"))
    shown = dp.acl_show("flip")
    final = versions[200 % 2]
    under[final["default"]] += shown["default_count"]["packets"]
    under[final["entries"][0]["action"]] += shown["entries"][0]["packets"]
    assert sent[0] > 10_000 and under["permit"] > 0 and under["deny"] > 0
    assert under["permit"] + under["deny"] == sent[0]  # none under neither, none twice
    drops = dp.stats()["drops"]
    # Permitted: forwarded, or refused by b's ring when the drainer fell behind (slow builds).
    assert under["permit"] == forwarded[0] + drops["tx_full"]
    assert under["deny"] == drops["acl_deny"]


@pytest.mark.parametrize("body,message", [
    ({"entries": [{"action": "deny", "proto": "tcp", "dst_port": "80-22"}]},
     "acl ssh: entries[0].dst_port: 80-22: low end above high end"),
    ({"entries": [{"action": "deny", "dst_port": 22}]}, "need proto tcp, udp or sctp"),
    ({"entries": [{"action": "deny", "src": "10.0.0.1/8"}]}, "has host bits set"),
    ({"entries": [{"action": "deny", "src": "10.0.0.0/8", "dst": "2001:db8::/32"}]},
     "different IP versions"),
    ({"entries": [{"action": "redirect"}]}, "redirect needs a nexthop"),
    ({"entries": [{"action": "deny", "proto": "udp", "icmp_type": 8}]}, "need proto icmp"),
    ({"entries": [{"action": "deny", "proto": "tcp", "tcp_flags": "syn/ack"}]},
     "flags set outside the mask"),
    ({"entries": [{"action": "deny", "fragment": True, "proto": "tcp", "dst_port": 80}]},
     "non-first fragment"),
    ({"default": "redirect"}, "default"),
    ({"entries": [{"action": "deny", "colour": "red"}]}, "colour"),
    ({"entries": [{"action": "permit"}] * 101}, "exceed tables.max_acl_entries 100"),
])
def test_bad_acls_are_refused_and_the_old_one_stays(acl_router, body, message):
    dp = acl_router
    dp.acl_set("ssh", SSH_POLICY)
    dp.acl_bind("a", "in", "ssh")
    with pytest.raises(AclError, match=message.replace("[", r"\[").replace("]", r"\]")):
        dp.acl_set("ssh", body)
    assert len(dp.acl_show("ssh")["entries"]) == 2
    assert forward(dp, [tcp()])["b"] == []  # still rejected


def test_misuse_is_refused_with_the_reason(acl_router):
    dp = acl_router
    dp.acl_set("pbr", {"entries": [{"action": "redirect", "nexthop": 1, "proto": "gre"}]})
    with pytest.raises(AclError, match="no ACL named 'nope'"):
        dp.acl_bind("a", "in", "nope")
    with pytest.raises(AclError, match="bind it in, not out"):
        dp.acl_bind("b", "out", "pbr")
    with pytest.raises(PortError, match="zz"):
        dp.acl_bind("zz", "in", "pbr")
    with pytest.raises(AclError, match="direction 'up'"):
        dp.acl_bind("a", "up", "pbr")
    with pytest.raises(AclError, match="next hop|nexthop"):
        dp.acl_set("pbr", {"entries": [{"action": "redirect", "nexthop": 64}]})
    with pytest.raises(AclError, match="ACL name"):
        dp.acl_set("has space", {"entries": []})
    dp.acl_bind("a", "in", "pbr")
    with pytest.raises(AclError, match=r"bound \(a in\): unbind it first"):
        dp.acl_delete("pbr")
    dp.acl_set("plain", {"entries": []})
    dp.acl_bind("c", "out", "plain")
    with pytest.raises(AclError, match="bound out on c"):
        dp.acl_set("plain", {"entries": [{"action": "redirect", "nexthop": 1}]})
    with pytest.raises(AclError, match="no ACL named 'nope'"):
        dp.acl_show("nope")
    dp.acl_bind("a", "in", None)
    dp.acl_bind("c", "out", None)
    dp.acl_delete("pbr")
    assert dp.acls() == ["plain"]


def test_one_entry_in_and_out_keeps_the_other_counts(acl_router):
    dp = acl_router
    dp.acl_set("ssh", SSH_POLICY)
    dp.acl_bind("a", "in", "ssh")
    forward(dp, [tcp(), tcp()])
    dp.acl_insert("ssh", {"action": "deny", "proto": "udp"}, position=0)
    shown = dp.acl_show("ssh")
    assert [(e["action"], e["packets"]) for e in shown["entries"]] == [
        ("deny", 0), ("permit", 0), ("reject", 2)]
    assert forward(dp, [udp(dst="10.1.0.1")])["b"] == []
    retired = dp.acl_remove_entry("ssh", 0)
    assert [(r["entry"], r["packets"]) for r in retired] == [(0, 1)]
    assert [e["packets"] for e in dp.acl_show("ssh")["entries"]] == [0, 2]
    with pytest.raises(AclError, match="position 9 is beyond its 2 entries"):
        dp.acl_insert("ssh", {"action": "deny"}, position=9)
    with pytest.raises(AclError, match="no entry 2"):
        dp.acl_remove_entry("ssh", 2)


def test_a_build_over_the_memory_cap_is_refused_and_the_acl_in_force_stays():
    dp = open_router(tables=TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64,
                                       max_rules=1024, max_acl_memory_mb=1))
    with started(dp):
        dp.route_add("10.0.0.0/8", NEXTHOP["b"])
        dp.acl_set("ssh", SSH_POLICY)
        dp.acl_bind("a", "in", "ssh")
        rng = random.Random(5)
        big = {"entries": []}  # overlapping port ranges on both ports: a trie over 1 MiB
        for _ in range(3000):
            lo = rng.randrange(60000)
            big["entries"].append({
                "action": "deny", "proto": "tcp", "src": f"{rng.randrange(1, 223)}.{rng.randrange(256)}.0.0/16",
                "src_port": f"{lo}-{lo + rng.randrange(1, 5000)}",
                "dst_port": f"{lo}-{lo + rng.randrange(1, 5000)}"})
        with pytest.raises(ResourceError, match=r"within tables.max_acl_memory_mb \(1 MiB\); "
                                                r"the ACL in force stays"):
            dp.acl_set("ssh", big)
        assert len(dp.acl_show("ssh")["entries"]) == 2
        assert forward(dp, [tcp()])["b"] == []  # still rejected
        assert len(forward(dp, [tcp(dport=80)])["b"]) == 1
        dp.acl_bind("a", "in", None)
