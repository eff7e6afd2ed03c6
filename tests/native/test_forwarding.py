"""RFC 1812 forwarding through the real worker loop, checked field by field."""
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from tests.native.conftest import HOST_MAC, NEXTHOP, ROUTER_MAC, forward, udp, with_dst


def ip_checksum_ok(pkt) -> bool:
    ip = pkt[IP]
    sent = ip.chksum
    del ip.chksum
    return IP(bytes(ip)).chksum == sent


def test_forwarded_packet_is_rewritten_per_rfc1812(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    sent = udp(dst="10.1.2.3", ttl=64)
    out = forward(router, [sent])
    assert [len(out["a"]), len(out["b"]), len(out["c"])] == [0, 1, 0]
    got = out["b"][0]
    assert got.dst == HOST_MAC["b"]
    assert got.src == ROUTER_MAC["b"]
    assert got[IP].ttl == 63
    assert ip_checksum_ok(got)
    assert got[IP].src == "192.0.2.1" and got[IP].dst == "10.1.2.3"
    assert bytes(got[UDP]) == bytes(sent[UDP])
    stats = router.stats()
    assert stats["rx_packets"] == 1 and stats["tx_packets"] == 1
    assert stats["ports"]["b"]["opackets"] == 1


def test_checksum_stays_valid_for_every_ttl_and_header(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    frames = [udp(dst=f"10.{i}.{i * 7 % 256}.{i * 13 % 256}", ttl=ttl, src=f"172.16.{i}.1")
              for i, ttl in enumerate([2, 3, 64, 128, 255, 17, 200, 99])]
    out = forward(router, frames)["b"]
    assert [p[IP].ttl for p in out] == [f[IP].ttl - 1 for f in frames]
    assert all(ip_checksum_ok(p) for p in out)


def test_ip_options_are_forwarded_intact(router):
    router.route_add("10.0.0.0/8", NEXTHOP["c"])
    sent = Ether(dst=ROUTER_MAC["a"]) / IP(dst="10.0.0.9", ihl=6, options=b"\x01\x01\x01\x00") / UDP()
    out = forward(router, [sent])["c"]
    assert len(out) == 1 and out[0][IP].ihl == 6
    assert bytes(out[0][IP])[20:24] == b"\x01\x01\x01\x00"
    assert ip_checksum_ok(out[0])


def test_longest_prefix_wins(router):
    router.route_add("10.0.0.0/8", NEXTHOP["a"])
    router.route_add("10.1.2.0/24", NEXTHOP["b"])
    router.route_add("10.1.2.3/32", NEXTHOP["c"])
    out = forward(router, [udp(dst="10.1.2.3"), udp(dst="10.1.2.4"), udp(dst="10.9.9.9")])
    assert [p[IP].dst for p in out["c"]] == ["10.1.2.3"]
    assert [p[IP].dst for p in out["b"]] == ["10.1.2.4"]
    assert [p[IP].dst for p in out["a"]] == ["10.9.9.9"]


def test_default_route_catches_the_rest_and_loses_to_specifics(router):
    router.route_add("0.0.0.0/0", NEXTHOP["c"])
    router.route_add("128.0.0.0/1", NEXTHOP["a"])
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    out = forward(router, [udp(dst="8.8.8.8"), udp(dst="10.0.0.1"), udp(dst="200.1.1.1")])
    assert [p[IP].dst for p in out["c"]] == ["8.8.8.8"]
    assert [p[IP].dst for p in out["b"]] == ["10.0.0.1"]
    assert [p[IP].dst for p in out["a"]] == ["200.1.1.1"]
    router.route_delete("128.0.0.0/1")  # the default covers that half again
    out = forward(router, [udp(dst="200.1.1.1")])
    assert [p[IP].dst for p in out["c"]] == ["200.1.1.1"]
    router.route_delete("0.0.0.0/0")
    out = forward(router, [udp(dst="8.8.8.8"), udp(dst="200.1.1.1")])
    assert not out["a"] + out["b"] + out["c"]
    assert router.stats()["drops"]["no_route"] == 2


def test_no_route_is_dropped_and_counted(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    out = forward(router, [udp(dst="11.0.0.1"), udp(dst="10.0.0.1")])
    assert len(out["b"]) == 1
    assert router.stats()["drops"]["no_route"] == 1


def test_ttl_one_and_zero_are_dropped_as_expired(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    out = forward(router, [udp(ttl=1), udp(ttl=0), udp(ttl=2)])
    assert [p[IP].ttl for p in out["b"]] == [1]
    assert router.stats()["drops"]["ttl_expired"] == 2


def test_neither_ip_nor_arp_is_counted_and_arp_goes_to_the_slow_path(router):
    router.route_add("0.0.0.0/0", NEXTHOP["b"])
    arp = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.1")
    lldp = Ether(dst=ROUTER_MAC["a"], type=0x88CC) / (b"\x02" + b"\x00" * 60)
    out = forward(router, [arp, lldp])
    assert not out["b"] and not out["a"]  # 10.0.0.1 is not ours: no reply
    stats = router.stats()
    assert stats["drops"]["not_ipv4"] == 1
    assert stats["local_packets"] == 1 and stats["slowpath"]["arp_ignored"] == 1


def test_bursts_larger_than_one_rx_burst_all_arrive_in_order(router):
    router.route_add("10.0.0.0/8", NEXTHOP["b"])
    frames = [udp(dst="10.0.0.1", sport=i) for i in range(500)]
    out = forward(router, frames)["b"]
    assert [p[UDP].sport for p in out] == list(range(500))


def test_traffic_can_enter_on_any_port(router):
    router.route_add("10.0.0.0/8", NEXTHOP["a"])
    out_b = forward(router, [with_dst(udp(), ROUTER_MAC["b"])], port="b")
    out_c = forward(router, [with_dst(udp(), ROUTER_MAC["c"])], port="c")
    assert len(out_b["a"]) == 1 and len(out_c["a"]) == 1
