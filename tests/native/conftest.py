"""One EAL per test process; a fresh data plane on ring ports per test.

Ports a, b, c are ring ports: tests inject scapy frames into one and read
exactly what the real worker loop transmitted on the others. After every
test: rx = tx + drops, and the mempool is back to its baseline.
"""
import ipaddress
from contextlib import contextmanager

import pytest
from socket import AF_INET6, inet_ntop, inet_pton

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.utils6 import in6_getnsma, in6_getnsmac

from appliance import (Dataplane, DataplaneConfig, EalOptions, PortConfig, SlowPathSettings,
                       TableSizes)
from appliance.host.hugepages import hugepages_usable

EAL_MEMORY_MB = 1024
EAL = EalOptions(main_lcore=0, worker_lcores=[1], memory_mb=EAL_MEMORY_MB,
                 hugepages=hugepages_usable(EAL_MEMORY_MB), in_memory=True)
PORTS = ("a", "b", "c")
ROUTER_MAC = {"a": "02:00:00:00:00:0a", "b": "02:00:00:00:00:0b", "c": "02:00:00:00:00:0c"}
HOST_MAC = {"a": "02:00:00:00:aa:01", "b": "02:00:00:00:bb:01", "c": "02:00:00:00:cc:01"}
NEXTHOP = {"a": 3, "b": 1, "c": 2}  # next hop id reaching the host behind each port


def make_dataplane(verify_checksum=True, tables=None, ring_desc=1024, slowpath=None,
                   mtus=None, stage_clocks=False, eal=EAL) -> Dataplane:
    config = DataplaneConfig(
        ports=[PortConfig(name, "ring", rx_desc=ring_desc, tx_desc=ring_desc,
                          mac=ROUTER_MAC[name], mtu=(mtus or {}).get(name)) for name in PORTS],
        eal=eal,
        tables=tables or TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64,
                                    max_rules=1024),
        verify_checksum=verify_checksum,
        stage_clocks=stage_clocks,
        slowpath=slowpath or SlowPathSettings(),
    )
    return Dataplane(config)


def check_invariants(dp: Dataplane, baseline_in_use: int) -> None:
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)
    stats = dp.stats()
    assert stats["rx_packets"] == (stats["tx_packets"] + sum(stats["drops"].values())
                                   + stats["local_packets"] + stats["held_packets"]), stats
    in_use = (sum(p["in_use"] for p in dp.mempools()) - stats["held_packets"]
              - stats["slowpath"]["held_generated"])
    assert in_use == baseline_in_use, f"mbuf leak: {in_use} in use, baseline {baseline_in_use}"


def open_router(**kwargs) -> Dataplane:
    """Static next hops only, for the forwarding tests (ARP has its own)."""
    dp = make_dataplane(**kwargs)
    for port in PORTS:
        dp.nexthop_set(NEXTHOP[port], port, HOST_MAC[port], ROUTER_MAC[port])
    dp.start()
    return dp


def checked(dp: Dataplane):
    """Yields a started data plane; after the test, the invariants, then close."""
    baseline = sum(p["in_use"] for p in dp.mempools())
    yield dp
    try:
        check_invariants(dp, baseline)
    finally:
        dp.close()


@contextmanager
def started(dp: Dataplane):
    """checked() as a context: the data plane is closed even when the test fails, so the
    next test gets the lcore."""
    steps = checked(dp)
    try:
        yield next(steps)
    finally:
        next(steps, None)


def longest_match(address: str, routes: dict[str, str]) -> str | None:
    """What a reference model routes by: the value of the longest prefix holding `address`."""
    a = ipaddress.ip_address(address)
    best = max((n for n in map(ipaddress.ip_network, routes) if a in n),
               key=lambda n: n.prefixlen, default=None)
    return None if best is None else routes[str(best)]


@pytest.fixture
def router():
    """A started 3-port router with next hops 1 (b), 2 (c), 3 (a) and no routes."""
    yield from checked(open_router())


def udp(dst="10.1.2.3", src="192.0.2.1", ttl=64, sport=1234, dport=5678, payload=b"x" * 18):
    return Ether(src=HOST_MAC["a"], dst=ROUTER_MAC["a"]) / IP(src=src, dst=dst, ttl=ttl) / UDP(
        sport=sport, dport=dport) / payload


def with_dst(frame: Ether, mac: str) -> Ether:
    frame[Ether].dst = mac
    return frame


def forward(dp: Dataplane, frames, port="a") -> dict[str, list[Ether]]:
    """Injects frames on `port`; returns what every port transmitted, parsed."""
    raw = [bytes(f) for f in frames]
    assert dp.inject(port, raw) == len(raw), "rx ring too small for this test"
    dp.quiesce()
    return {p: [Ether(raw) for raw in dp.drain(p)] for p in PORTS}


def reserved(addr: int) -> bool:
    """0/8, 127/8, 224/4, 240/4: never forwarded, whatever the routes say (RFC 1812 5.3.7)."""
    return (addr >> 24) in (0, 127) or (addr >> 28) >= 0xE


def in_reserved(net: int, length: int) -> bool:
    """A prefix users may not add: inside a reserved range."""
    return reserved(net) and length >= (8 if (net >> 24) in (0, 127) else 4)


# ---- a router with addresses: ARP, ICMP and the input rules ----
ROUTER_IP = {"a": "192.0.2.1", "b": "198.51.100.1", "c": "203.0.113.1"}
HOST_IP = {"a": "192.0.2.10", "b": "198.51.100.10", "c": "203.0.113.10"}
FAST_TIMERS = SlowPathSettings(icmp_rate=0, reachable_ms=2000, stale_ms=500, retrans_ms=100,
                               probes=3, failed_ms=2000)


def open_lan_router(slowpath: SlowPathSettings = FAST_TIMERS) -> Dataplane:
    """Addresses on every port, no static next hops: neighbours come from ARP."""
    dp = make_dataplane(slowpath=slowpath)
    dp.start()
    for port in PORTS:
        dp.address_add(port, f"{ROUTER_IP[port]}/24")
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)  # the gratuitous ARPs
    return dp


@pytest.fixture
def lan_router():
    yield from checked(open_lan_router())


def arp_request(port: str, target: str, sender: str | None = None) -> Ether:
    sender = sender or HOST_IP[port]
    return Ether(src=HOST_MAC[port], dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=HOST_MAC[port], psrc=sender, hwdst="00:00:00:00:00:00", pdst=target)


def introduce(dp: Dataplane, port: str) -> None:
    """The host on `port` asks for the router: it learns the host (as Linux does)."""
    out = forward(dp, [arp_request(port, ROUTER_IP[port])], port=port)
    assert len(out[port]) == 1 and out[port][0][ARP].op == 2


def to_router(port: str, dst: str, src: str | None = None, ttl: int = 64, **ip) -> Ether:
    return Ether(src=HOST_MAC[port], dst=ROUTER_MAC[port]) / IP(
        src=src or HOST_IP[port], dst=dst, ttl=ttl, **ip)


# ---- the same router on IPv6: NDP, ICMPv6 ----
ROUTER_IP6 = {"a": "2001:db8:a::1", "b": "2001:db8:b::1", "c": "2001:db8:c::1"}
HOST_IP6 = {"a": "2001:db8:a::10", "b": "2001:db8:b::10", "c": "2001:db8:c::10"}
HOST_LL = {"a": "fe80::a:10", "b": "fe80::b:10", "c": "fe80::c:10"}
ROUTER_LL = {"a": "fe80::ff:fe00:a", "b": "fe80::ff:fe00:b", "c": "fe80::ff:fe00:c"}  # EUI-64


def open_lan6_router(slowpath: SlowPathSettings = FAST_TIMERS) -> Dataplane:
    """A /64 on every port, no static next hops: neighbours come from NDP."""
    dp = make_dataplane(slowpath=slowpath)
    dp.start()
    for port in PORTS:
        dp.address_add(port, f"{ROUTER_IP6[port]}/64")
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)  # the unsolicited neighbour advertisements
    return dp


@pytest.fixture
def lan6_router():
    yield from checked(open_lan6_router())


def to_router6(port: str, dst: str, src: str | None = None, hlim: int = 64, **ip) -> Ether:
    return Ether(src=HOST_MAC[port], dst=ROUTER_MAC[port]) / IPv6(
        src=src or HOST_IP6[port], dst=dst, hlim=hlim, **ip)


def solicit(port: str, target: str, src: str | None = None, hlim: int = 255) -> Ether:
    """A host's neighbour solicitation for `target`, to its solicited-node group."""
    group = in6_getnsma(inet_pton(AF_INET6, target))
    return Ether(src=HOST_MAC[port], dst=in6_getnsmac(group)) / IPv6(
        src=src or HOST_IP6[port], dst=inet_ntop(AF_INET6, group), hlim=hlim) / \
        ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC[port])


def introduce6(dp: Dataplane, port: str) -> None:
    """The host on `port` resolves the router: the router learns the host (STALE)."""
    out = forward(dp, [solicit(port, ROUTER_IP6[port])], port=port)
    assert len(out[port]) == 1 and ICMPv6ND_NA in out[port][0]
