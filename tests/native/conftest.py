"""One EAL per test process; a fresh data plane on ring ports per test.

Ports a, b, c are ring ports: tests inject scapy frames into one and read
exactly what the real worker loop transmitted on the others. After every
test: rx = tx + drops, and the mempool is back to its baseline.
"""
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

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


def make_dataplane(verify_checksum=True, tables=None, ring_desc=1024, slowpath=None) -> Dataplane:
    config = DataplaneConfig(
        ports=[PortConfig(name, "ring", rx_desc=ring_desc, tx_desc=ring_desc,
                          mac=ROUTER_MAC[name]) for name in PORTS],
        eal=EAL,
        tables=tables or TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64,
                                    max_rules=1024),
        verify_checksum=verify_checksum,
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
    in_use = sum(p["in_use"] for p in dp.mempools())
    assert in_use == baseline_in_use, f"mbuf leak: {in_use} in use, baseline {baseline_in_use}"


def open_router(**kwargs) -> Dataplane:
    """Static next hops only: the PR's forwarding tests; ARP has its own tests."""
    dp = make_dataplane(**kwargs)
    for port in PORTS:
        dp.nexthop_set(NEXTHOP[port], port, HOST_MAC[port], ROUTER_MAC[port])
    dp.start()
    return dp


@pytest.fixture
def router():
    """A started 3-port router with next hops 1 (b), 2 (c), 3 (a) and no routes."""
    dp = open_router()
    baseline = sum(p["in_use"] for p in dp.mempools())
    yield dp
    try:
        check_invariants(dp, baseline)
    finally:
        dp.close()


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
