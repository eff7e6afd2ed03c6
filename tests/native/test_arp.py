"""ARP and the neighbour table through ring ports: what a host on the link sees."""
import time

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from tests.native.conftest import (FAST_TIMERS, HOST_IP, HOST_MAC, ROUTER_IP, ROUTER_MAC,
                                   arp_request, forward, introduce,
                                   open_lan_router, to_router)


def neighbor(dp, ip):
    return next((n for n in dp.neighbors() if n["ip"] == ip), None)


def test_request_for_our_address_is_answered_and_the_asker_learned(lan_router):
    out = forward(lan_router, [arp_request("a", ROUTER_IP["a"])], port="a")
    (reply,) = out["a"]
    assert reply[Ether].dst == HOST_MAC["a"] and reply[Ether].src == ROUTER_MAC["a"]
    assert reply[ARP].op == 2
    assert (reply[ARP].hwsrc, reply[ARP].psrc) == (ROUTER_MAC["a"], ROUTER_IP["a"])
    assert (reply[ARP].hwdst, reply[ARP].pdst) == (HOST_MAC["a"], HOST_IP["a"])
    n = neighbor(lan_router, HOST_IP["a"])
    assert n["mac"] == HOST_MAC["a"] and n["state"] == "stale" and n["port"] == "a"
    assert lan_router.stats()["slowpath"]["arp_requests_in"] == 1


def test_requests_for_other_addresses_or_other_ports_are_not_answered(lan_router):
    out = forward(lan_router, [arp_request("a", "192.0.2.99"), arp_request("a", ROUTER_IP["b"])],
                  port="a")
    assert not out["a"] and not out["b"]
    assert lan_router.neighbors() == []
    assert lan_router.stats()["slowpath"]["arp_ignored"] == 2


def test_gratuitous_arp_on_address_add(lan_router):
    lan_router.address_add("a", "192.0.2.2/24")
    lan_router.quiesce()
    (garp,) = [Ether(f) for f in lan_router.drain("a")]
    assert garp[Ether].dst == "ff:ff:ff:ff:ff:ff" and garp[ARP].op == 1
    assert garp[ARP].psrc == garp[ARP].pdst == "192.0.2.2"
    assert garp[ARP].hwsrc == ROUTER_MAC["a"]


def test_unresolved_host_packets_are_held_then_released_in_order(lan_router):
    frames = [to_router("a", HOST_IP["b"]) / UDP(sport=1000 + i) / b"x" for i in range(5)]
    out = forward(lan_router, frames, port="a")
    (request,) = out["b"]  # one request, the packets wait for its answer
    assert request[ARP].op == 1 and request[Ether].dst == "ff:ff:ff:ff:ff:ff"
    assert request[ARP].pdst == HOST_IP["b"] and request[ARP].psrc == ROUTER_IP["b"]
    assert neighbor(lan_router, HOST_IP["b"])["held"] == 5
    assert lan_router.stats()["held_packets"] == 5

    reply = Ether(src=HOST_MAC["b"], dst=ROUTER_MAC["b"]) / ARP(
        op=2, hwsrc=HOST_MAC["b"], psrc=HOST_IP["b"], hwdst=ROUTER_MAC["b"], pdst=ROUTER_IP["b"])
    out = forward(lan_router, [reply], port="b")
    assert [p[UDP].sport for p in out["b"]] == [1000, 1001, 1002, 1003, 1004]
    assert all(p[Ether].dst == HOST_MAC["b"] and p[IP].ttl == 63 for p in out["b"])
    assert neighbor(lan_router, HOST_IP["b"])["state"] == "reachable"
    # From now on the fast path forwards on its own: nothing more is punted.
    punted = lan_router.stats()["workers"][0]["punted"]
    out = forward(lan_router, [to_router("a", HOST_IP["b"]) / UDP() / b"y"], port="a")
    assert len(out["b"]) == 1
    assert lan_router.stats()["workers"][0]["punted"] == punted


def test_requests_come_from_our_address_on_the_neighbours_subnet(lan_router):
    """Several subnets on one port: asked from the address on the target's own subnet, as
    Linux does, so a host that checks the sender answers (and a /31 peer sees its peer)."""
    lan_router.address_add("b", "10.0.4.1/31")
    lan_router.quiesce()
    lan_router.drain("b")  # the gratuitous ARP
    for target, sender in (("10.0.4.0", "10.0.4.1"), (HOST_IP["b"], ROUTER_IP["b"])):
        out = forward(lan_router, [to_router("a", target) / UDP() / b"x"], port="a")
        (request,) = out["b"]
        assert (request[ARP].pdst, request[ARP].psrc) == (target, sender)


def test_hold_queue_is_bounded_and_drops_the_oldest(lan_router):
    frames = [to_router("a", HOST_IP["b"]) / UDP(sport=2000 + i) for i in range(12)]
    forward(lan_router, frames, port="a")
    assert neighbor(lan_router, HOST_IP["b"])["held"] == 8
    assert lan_router.stats()["drops"]["hold_queue_full"] == 4
    introduce_reply = Ether(src=HOST_MAC["b"], dst=ROUTER_MAC["b"]) / ARP(
        op=2, hwsrc=HOST_MAC["b"], psrc=HOST_IP["b"], hwdst=ROUTER_MAC["b"], pdst=ROUTER_IP["b"])
    out = forward(lan_router, [introduce_reply], port="b")
    assert [p[UDP].sport for p in out["b"]] == list(range(2004, 2012))


def test_silent_neighbour_fails_and_senders_get_host_unreachable(lan_router):
    introduce(lan_router, "a")
    out = forward(lan_router, [to_router("a", HOST_IP["b"]) / UDP() / b"z"], port="a")
    time.sleep(0.6)  # 3 requests 100 ms apart, then failed
    lan_router.quiesce()
    requests = out["b"] + [Ether(f) for f in lan_router.drain("b")]
    assert len(requests) == 3 and all(r[ARP].pdst == HOST_IP["b"] for r in requests)
    assert neighbor(lan_router, HOST_IP["b"])["state"] == "failed"
    # (host a, learned as stale, is being probed meanwhile: leave its ARP out)
    (err,) = [p for p in map(Ether, lan_router.drain("a")) if ICMP in p]
    assert err[ICMP].type == 3 and err[ICMP].code == 1
    assert err[IP].src == ROUTER_IP["a"] and err[IP].dst == HOST_IP["a"]
    assert lan_router.stats()["drops"]["neighbor_unreachable"] == 1


def test_gateway_next_hop_is_resolved_and_kept_fresh():
    dp = open_lan_router(FAST_TIMERS)
    try:
        dp.nexthop_set_gateway(5, "b", "198.51.100.254")
        dp.route_add("10.0.0.0/8", 5)
        dp.quiesce()
        (request,) = [Ether(f) for f in dp.drain("b")]  # resolved at once, not on first use
        assert request[ARP].pdst == "198.51.100.254"
        assert dp.nexthops()[0]["state"] == "resolving" and dp.nexthops()[0]["dst_mac"] is None
        gw_mac = "02:00:00:00:bb:fe"
        reply = Ether(src=gw_mac, dst=ROUTER_MAC["b"]) / ARP(
            op=2, hwsrc=gw_mac, psrc="198.51.100.254", hwdst=ROUTER_MAC["b"], pdst=ROUTER_IP["b"])
        forward(dp, [reply], port="b")
        hop = dp.nexthops()[0]
        assert (hop["state"], hop["dst_mac"], hop["gateway"]) == ("resolved", gw_mac, "198.51.100.254")
        out = forward(dp, [to_router("a", "10.1.2.3") / UDP()], port="a")
        assert out["b"][0][Ether].dst == gw_mac
        # reachable (2 s) -> stale (0.5 s) -> a unicast probe to the known MAC
        time.sleep(2.8)
        dp.quiesce()
        probes = [Ether(f) for f in dp.drain("b")]
        assert probes and probes[0][Ether].dst == gw_mac and probes[0][ARP].pdst == "198.51.100.254"
        assert neighbor(dp, "198.51.100.254")["state"] in ("probe", "failed")
    finally:
        dp.close()


def test_static_neighbour_is_used_and_never_aged(lan_router):
    lan_router.neighbor_add("b", HOST_IP["b"], HOST_MAC["b"])
    out = forward(lan_router, [to_router("a", HOST_IP["b"]) / UDP()], port="a")
    assert len(out["b"]) == 1 and out["b"][0][Ether].dst == HOST_MAC["b"]
    assert neighbor(lan_router, HOST_IP["b"])["state"] == "permanent"
    lan_router.neighbor_delete("b", HOST_IP["b"])
    assert neighbor(lan_router, HOST_IP["b"]) is None


def test_address_delete_removes_its_routes_and_neighbours(lan_router):
    introduce(lan_router, "a")
    lan_router.address_delete("a", f"{ROUTER_IP['a']}/24")
    configured = [a for a in lan_router.addresses() if not a.pop("automatic")]
    assert configured == [{"port": "b", "address": "198.51.100.1/24"},
                          {"port": "c", "address": "203.0.113.1/24"}]
    assert neighbor(lan_router, HOST_IP["a"]) is None
    out = forward(lan_router, [arp_request("a", ROUTER_IP["a"])], port="a")
    assert not out["a"]  # no longer ours
