"""Start, stop, restart and real vdevs: mbufs come back, counters make sense."""
import time

from scapy.layers.inet import IP
from scapy.utils import wrpcap

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from tests.native.conftest import EAL, NEXTHOP, ROUTER_MAC, forward, make_dataplane, open_router, udp


def test_stop_and_start_again_keeps_tables_and_forwards(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    router.stop()
    assert not router.running
    router.start()
    assert len(forward(router, [udp()])["b"]) == 1


def test_stopped_dataplane_keeps_frames_until_started():
    dp = open_router()
    try:
        dp.route_add("10.0.0.0/8", NEXTHOP["b"])
        dp.stop()
        dp.inject("a", [bytes(udp())] * 3)
        time.sleep(0.05)
        assert dp.drain("b") == []
        dp.start()
        dp.quiesce()
        assert len(dp.drain("b")) == 3
    finally:
        dp.close()


def test_closing_returns_every_mbuf_even_with_frames_in_rings():
    dp = make_dataplane()
    dp.inject("a", [bytes(udp())] * 100)  # never started: they sit in the ring
    assert dp.mempools()[0]["in_use"] == 100
    dp.close()  # frees them; a leak would trip DPDK's mempool audit in debug builds


def test_tx_queue_full_is_counted_not_leaked():
    dp = open_router(ring_desc=64)  # ring of 127 slots, nobody drains it
    try:
        dp.route_add("10.0.0.0/8", NEXTHOP["b"])
        for _ in range(4):
            forward(dp, [udp()] * 100)  # drains between batches: refill the tx ring
        dp.inject("a", [bytes(udp())] * 120)
        dp.quiesce()
        dp.inject("a", [bytes(udp())] * 120)
        dp.quiesce()
        stats = dp.stats()
        assert stats["drops"]["tx_full"] > 0
        assert stats["rx_packets"] == stats["tx_packets"] + sum(stats["drops"].values())
        dp.drain("b")
        assert dp.mempools()[0]["in_use"] == 0
    finally:
        dp.close()


def test_pcap_to_null_vdevs_forward_at_speed(tmp_path):
    pcap = tmp_path / "in.pcap"
    wrpcap(str(pcap), [udp(dst=f"10.0.{i}.1") for i in range(64)])
    config = DataplaneConfig(
        ports=[PortConfig("wan0", f"net_pcap_t0,rx_pcap={pcap},infinite_rx=1", mac=ROUTER_MAC["a"]),
               PortConfig("lan0", "net_null_t0,no-rx=1")],
        eal=EAL, tables=TableSizes(max_routes=1024, tbl8_groups=16, max_nexthops=8))
    with Dataplane(config) as dp:
        dp.nexthop_set(1, "lan0", "02:00:00:00:00:01")
        dp.route_add("10.0.0.0/16", 1)
        time.sleep(0.5)
        ports = {p["name"]: p for p in dp.ports()}
        dp.stop()  # counters are read consistently only once the worker is out of its loop
        stats = dp.stats()
    assert stats["tx_packets"] > 10_000
    assert stats["ports"]["lan0"]["opackets"] > 10_000
    assert stats["cycles_per_packet"] > 0
    assert ports["lan0"]["link_up"]
    assert stats["rx_packets"] == stats["tx_packets"] + sum(stats["drops"].values())
    assert stats["drops"]["other_host"] == 0


def test_rss_multiqueue_ring_port_reports_its_queues():
    config = DataplaneConfig(ports=[PortConfig("m", "ring", rx_queues=4, mac=ROUTER_MAC["a"])], eal=EAL,
                             tables=TableSizes(max_routes=64, tbl8_groups=4, max_nexthops=4))
    dp = Dataplane(config)
    try:
        dp.nexthop_set(1, "m", "02:00:00:00:00:01")
        dp.route_add("0.0.0.0/0", 1)
        dp.start()
        for q in range(4):
            dp.inject("m", [bytes(udp(dst=f"10.0.0.{q}"))], queue=q)
        dp.quiesce()
        out = [IP(bytes(f)[14:]).dst for f in dp.drain("m")]
        assert sorted(out) == [f"10.0.0.{q}" for q in range(4)]
        assert dp.stats()["workers"][0]["rx_queues"] == [("m", q) for q in range(4)]
    finally:
        dp.close()
