"""VRRPv3 (RFC 5798) on ring ports, against advertisements a peer router would send (scapy's
VRRPv3, its checksum its own): the appliance's router on port a, VIP 192.0.2.254 (IPv4) and
fe80::1 + 2001:db8:a::fe (IPv6), 100 ms advertisements."""
import time

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vrrp import VRRPv3

from appliance.dataplane import VrrpSettings
from appliance.errors import PortError
from tests.native.conftest import (HOST_IP, HOST_MAC, PORTS, ROUTER_IP, ROUTER_MAC, arp_request,
                                   checked, forward, make_dataplane, solicit, FAST_TIMERS)

VIP, VMAC = "192.0.2.254", "00:00:5e:00:01:0a"
VIP6, VMAC6 = "2001:db8:a::fe", "00:00:5e:00:02:0a"
PEER, PEER_MAC = "192.0.2.9", "02:00:00:00:99:01"  # the other router on the LAN
ROUTER_IP6 = "2001:db8:a::1"


def vrrp(**kw) -> VrrpSettings:
    return VrrpSettings(**{"interface": "a", "vrid": 10, "addresses": [VIP], "priority": 100,
                           "interval_ms": 100, **kw})


def open_vrrp_router(*routers: VrrpSettings):
    dp = make_dataplane(slowpath=FAST_TIMERS)
    dp.start()
    for port in PORTS:
        dp.address_add(port, f"{ROUTER_IP[port]}/24")
    dp.address_add("a", f"{ROUTER_IP6}/64")
    dp.nexthop_set(1, "b", HOST_MAC["b"], ROUTER_MAC["b"])
    dp.route_add("10.0.0.0/8", 1)
    for r in routers:
        dp.vrrp_set(r)
    dp.quiesce()
    for port in PORTS:
        dp.drain(port)
    return dp


@pytest.fixture
def backup_first():
    """A router that has just started: a backup, until Master_Down_Interval passes."""
    yield from checked(open_vrrp_router(vrrp()))


def state(dp, v6=False) -> dict:
    (r,) = [r for r in dp.vrrp() if r["family"] == ("ipv6" if v6 else "ipv4")]
    return r


def wait_state(dp, want: str, within: float, v6=False) -> float:
    start = time.monotonic()
    while state(dp, v6)["state"] != want:
        assert time.monotonic() - start < within, (want, state(dp, v6))
        time.sleep(0.005)
    return time.monotonic() - start


def advert(priority: int, src=PEER, vrid=10, interval_cs=10, ttl=255, addresses=(VIP,), **kw) -> Ether:
    return Ether(src=f"00:00:5e:00:01:{vrid:02x}", dst="01:00:5e:00:00:12") / IP(
        src=src, dst="224.0.0.18", ttl=ttl, proto=112) / VRRPv3(
        vrid=vrid, priority=priority, adv=interval_cs, addrlist=list(addresses), **kw)


def adverts_out(dp, port="a") -> list[Ether]:
    dp.quiesce()
    return [f for f in map(Ether, dp.drain(port)) if VRRPv3 in f]


def test_a_lone_router_becomes_master_and_says_so(backup_first):
    dp = backup_first
    assert state(dp)["state"] == "backup" and state(dp)["reason"] == "startup"
    # Master_Down_Interval = 3 x 100 ms + skew (156/256 x 100 ms) = 361 ms
    waited = wait_state(dp, "master", 1.0)
    assert 0.25 < waited < 0.6
    r = state(dp)
    assert r["reason"] == "master down" and r["virtual_mac"] == VMAC and r["became_master"] == 1
    dp.quiesce()
    sent = [Ether(f) for f in dp.drain("a")]
    ads = [f for f in sent if VRRPv3 in f]
    garp = [f for f in sent if ARP in f]
    assert ads, sent
    ad = ads[0]
    assert (ad.src, ad.dst) == (VMAC, "01:00:5e:00:00:12")
    assert (ad[IP].src, ad[IP].dst, ad[IP].ttl, ad[IP].proto) == (ROUTER_IP["a"], "224.0.0.18", 255, 112)
    v = ad[VRRPv3]
    assert (v.version, v.type, v.vrid, v.priority, v.ipcount, v.adv, v.addrlist) == \
        (3, 1, 10, 100, 1, 10, [VIP])
    checksum = v.chksum
    v.chksum = None
    assert VRRPv3(bytes(v))[VRRPv3].chksum == checksum  # scapy's pseudo-header sum
    # Gratuitous ARP from the virtual MAC: hosts and switches learn where the VIP is now.
    assert [(g.src, g[ARP].op, g[ARP].hwsrc, g[ARP].psrc, g[ARP].pdst) for g in garp] == \
        [(VMAC, 1, VMAC, VIP, VIP)]
    # Then one every 100 ms.
    time.sleep(0.5)
    assert 3 <= len(adverts_out(dp)) <= 7


def test_master_answers_arp_and_forwards_frames_to_the_virtual_mac(backup_first):
    dp = backup_first
    wait_state(dp, "master", 1.0)
    out = forward(dp, [arp_request("a", VIP)])
    replies = [f for f in out["a"] if ARP in f and f[ARP].op == 2]
    assert [(f.src, f[ARP].hwsrc, f[ARP].psrc) for f in replies] == [(VMAC, VMAC, VIP)]
    frame = Ether(src=HOST_MAC["a"], dst=VMAC) / IP(src=HOST_IP["a"], dst="10.1.2.3") / UDP() / b"x"
    out = forward(dp, [frame] * 5)
    assert len(out["b"]) == 5 and all(f.dst == HOST_MAC["b"] and f[IP].ttl == 63 for f in out["b"])
    # A ping to the VIP: refused without accept mode (RFC 5798 6.4.3).
    ping = Ether(src=HOST_MAC["a"], dst=VMAC) / IP(src=HOST_IP["a"], dst=VIP) / ICMP()
    drops = dp.stats()["drops"]["vrrp_not_accepted"]
    out = forward(dp, [ping])
    assert not any(ICMP in f for f in out["a"]) and dp.stats()["drops"]["vrrp_not_accepted"] == drops + 1


def test_accept_mode_answers_pings_to_the_virtual_address():
    with_accept = vrrp(accept=True)
    for dp in checked(open_vrrp_router(with_accept)):
        wait_state(dp, "master", 1.0)
        forward(dp, [arp_request("a", VIP)])
        ping = Ether(src=HOST_MAC["a"], dst=VMAC) / IP(src=HOST_IP["a"], dst=VIP) / ICMP(id=7)
        deadline = time.monotonic() + 1
        replies = []
        dp.inject("a", [bytes(ping)])
        while not replies and time.monotonic() < deadline:
            dp.quiesce()
            replies = [f for f in map(Ether, dp.drain("a")) if ICMP in f and f[ICMP].type == 0]
        assert replies and replies[0][IP].src == VIP and replies[0][ICMP].id == 7


def test_a_higher_priority_master_takes_over_and_the_backup_lets_go(backup_first):
    dp = backup_first
    wait_state(dp, "master", 1.0)
    forward(dp, [advert(200)])
    r = state(dp)
    assert r["state"] == "backup" and r["reason"] == "higher-priority master heard"
    assert (r["master"], r["master_priority"]) == (PEER, 200)
    # As backup: frames to the virtual MAC are another host's, ARP for the VIP unanswered.
    frame = Ether(src=HOST_MAC["a"], dst=VMAC) / IP(src=HOST_IP["a"], dst="10.1.2.3") / UDP()
    other = dp.stats()["drops"]["other_host"]
    out = forward(dp, [frame, arp_request("a", VIP)])
    assert not out["b"] and not [f for f in out["a"] if ARP in f]
    assert dp.stats()["drops"]["other_host"] == other + 1
    # Its adverts keep it backup; when they stop, it is master again after Master_Down_Interval.
    for _ in range(5):
        forward(dp, [advert(200)])
        time.sleep(0.05)
        assert state(dp)["state"] == "backup"
    waited = wait_state(dp, "master", 1.0)
    assert waited < 0.6 and state(dp)["reason"] == "master down"


def test_a_leaving_master_hands_over_within_the_skew_time(backup_first):
    dp = backup_first
    wait_state(dp, "master", 1.0)
    forward(dp, [advert(200)])
    assert state(dp)["state"] == "backup"
    forward(dp, [advert(0)])  # "I am leaving"
    assert wait_state(dp, "master", 0.3) < 0.15  # skew: 156/256 x 100 ms = 61 ms
    assert state(dp)["priority_zero_in"] == 1


def test_preempt_takes_over_from_a_lower_master_and_not_without_it():
    for preempt, wanted in ((True, "master"), (False, "backup")):
        for dp in checked(open_vrrp_router(vrrp(preempt=preempt))):
            for _ in range(12):  # 600 ms of a priority-50 master
                forward(dp, [advert(50)])
                time.sleep(0.05)
            assert state(dp)["state"] == wanted, preempt
            if preempt:
                assert state(dp)["reason"] == "preempted a lower-priority master"


def test_preempt_delay_keeps_the_lower_master_for_that_long():
    for dp in checked(open_vrrp_router(vrrp(preempt_delay_ms=800))):
        start = time.monotonic()
        while time.monotonic() - start < 1.6 and state(dp)["state"] != "master":
            forward(dp, [advert(50)])
            time.sleep(0.05)
        took = time.monotonic() - start
        assert state(dp)["state"] == "master" and took > 0.8, took


def test_the_owner_is_master_at_once_and_answers_for_its_address():
    owner = vrrp(addresses=[ROUTER_IP["a"]], priority=255)
    for dp in checked(open_vrrp_router(owner)):
        r = state(dp)
        assert (r["state"], r["reason"]) == ("master", "owner at startup")
        out = forward(dp, [arp_request("a", ROUTER_IP["a"])])
        assert [f[ARP].hwsrc for f in out["a"] if ARP in f and f[ARP].op == 2] == [VMAC]
        # The owner does not step down for anyone (255 is the highest there is).
        forward(dp, [advert(254)])
        assert state(dp)["state"] == "master"


def test_advertisements_that_fail_the_checks_are_counted_and_change_nothing(backup_first):
    dp = backup_first
    wait_state(dp, "master", 1.0)
    bad = [advert(200, ttl=64), advert(200, chksum=0x1234), advert(200, version=2),
           advert(200, vrid=11)]
    before = dp.stats()["drops"]["vrrp_ignored"]
    forward(dp, bad)
    assert dp.stats()["drops"]["vrrp_ignored"] == before + 4
    assert state(dp)["state"] == "master" and state(dp)["adverts_in"] == 0


def test_ipv6_master_advertises_from_its_link_local_and_answers_nd():
    six = vrrp(addresses=["fe80::1", VIP6])
    for dp in checked(open_vrrp_router(six)):
        wait_state(dp, "master", 1.0, v6=True)
        dp.quiesce()
        sent = [Ether(f) for f in dp.drain("a")]
        (ad, *_) = [f for f in sent if VRRPv3 in f]
        assert (ad.src, ad.dst, ad[IPv6].dst, ad[IPv6].hlim, ad[IPv6].nh) == \
            (VMAC6, "33:33:00:00:00:12", "ff02::12", 255, 112)
        assert ad[IPv6].src.startswith("fe80::") and ad[VRRPv3].addrlist == ["fe80::1", VIP6]
        unsolicited = [f for f in sent if ICMPv6ND_NA in f]
        assert sorted(f[ICMPv6ND_NA].tgt for f in unsolicited) == ["2001:db8:a::fe", "fe80::1"]
        assert all(f[ICMPv6NDOptDstLLAddr].lladdr == VMAC6 for f in unsolicited)
        out = forward(dp, [solicit("a", VIP6, src="2001:db8:a::10")])
        (na,) = [f for f in out["a"] if ICMPv6ND_NA in f]
        assert na.src == VMAC6 and na[ICMPv6ND_NA].tgt == VIP6 and na[ICMPv6NDOptDstLLAddr].lladdr == VMAC6


@pytest.mark.parametrize("change, error", [
    ({"vrid": 0}, "VRID must be 1..255"),
    ({"priority": 0}, "priority must be 1..255"),
    ({"addresses": ["198.51.100.254"]}, "outside a's subnets"),
    ({"addresses": [ROUTER_IP["a"]]}, "only its owner (priority 255)"),
    ({"priority": 255}, "priority 255 is the owner's"),
    ({"addresses": [VIP, VIP6]}, "both families"),
    ({"track": {"nope": 10}}, "nope"),
])
def test_bad_settings_are_refused_and_change_nothing(change, error):
    for dp in checked(open_vrrp_router(vrrp())):
        before = dp.vrrp()
        with pytest.raises(PortError, match=error.replace("(", r"\(").replace(")", r"\)")):
            dp.vrrp_set(vrrp(**change))
        assert [(r["vrid"], r["addresses"], r["priority"]) for r in dp.vrrp()] == \
            [(r["vrid"], r["addresses"], r["priority"]) for r in before]


def test_removed_master_leaves_with_priority_zero():
    for dp in checked(open_vrrp_router(vrrp())):
        wait_state(dp, "master", 1.0)
        adverts_out(dp)
        dp.vrrp_clear("a", 10, False)
        (bye,) = adverts_out(dp)
        assert bye[VRRPv3].priority == 0 and dp.vrrp() == []
        events = dp.vrrp_events()
        assert [(e["from"], e["to"], e["reason"]) for e in events] == [
            ("init", "backup", "startup"), ("backup", "master", "master down"),
            ("master", "init", "removed")]


def test_state_priority_and_counters_reach_prometheus(backup_first):
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from appliance.metrics import DataplaneCollector
    dp = backup_first
    wait_state(dp, "master", 1.0)
    forward(dp, [advert(0)])  # a stray farewell: counted, answered with an advert at once
    registry = CollectorRegistry()
    registry.register(DataplaneCollector(dp.stats))
    text = generate_latest(registry).decode()
    samples = {(s.name, tuple(sorted((k, v) for k, v in s.labels.items()
                                     if k not in ("interface", "vrid", "family")))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples
               if s.name.startswith("appliance_vrrp_")
               and (s.labels["interface"], s.labels["vrid"], s.labels["family"]) == ("a", "10", "ipv4")}
    assert samples[("appliance_vrrp_state", (("state", "master"),))] == 1
    assert samples[("appliance_vrrp_state", (("state", "backup"),))] == 0
    assert samples[("appliance_vrrp_priority", ())] == 100
    assert samples[("appliance_vrrp_became_master_total", ())] == 1
    assert samples[("appliance_vrrp_adverts_total", (("direction", "in"), ("priority_zero", "true")))] == 1
    assert samples[("appliance_vrrp_adverts_total", (("direction", "out"), ("priority_zero", "false")))] >= 1


def test_a_changed_router_keeps_its_state_and_advertises_the_new_priority(backup_first):
    dp = backup_first
    wait_state(dp, "master", 1.0)
    adverts_out(dp)
    dp.vrrp_set(vrrp(priority=150))  # what a reload does
    r = state(dp)
    assert (r["state"], r["priority"], r["transitions"]) == ("master", 150, 2)
    time.sleep(0.25)
    assert {a[VRRPv3].priority for a in adverts_out(dp)} == {150}
    # The frames to the virtual MAC never stopped being the router's.
    frame = Ether(src=HOST_MAC["a"], dst=VMAC) / IP(src=HOST_IP["a"], dst="10.1.2.3") / UDP()
    assert len(forward(dp, [frame])["b"]) == 1


def test_router_advertisements_come_from_the_master_s_virtual_link_local_address():
    from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptSrcLLAddr

    from appliance.dataplane import RaSettings
    six = vrrp(addresses=["fe80::1", VIP6])
    for dp in checked(open_vrrp_router(six)):
        dp.ra_set("a", RaSettings("a", max_interval_s=600, min_interval_s=200))
        rs = Ether(src=HOST_MAC["a"], dst="33:33:00:00:00:02") / IPv6(
            src="fe80::a:10", dst="ff02::2", hlim=255) / ICMPv6ND_RS()

        def advertisements(within: float) -> list[Ether]:
            deadline, found = time.monotonic() + within, []
            while time.monotonic() < deadline and not found:
                dp.quiesce()
                found = [f for f in map(Ether, dp.drain("a")) if ICMPv6ND_RA in f]
                time.sleep(0.02)
            return found

        # The first goes out at once, but the router is a backup yet: none (its master's link).
        assert advertisements(0.2) == []
        wait_state(dp, "master", 1.0, v6=True)  # as master, at once, from fe80::1
        (ra, *_) = advertisements(1.0)
        assert (ra.src, ra[IPv6].src, ra[ICMPv6NDOptSrcLLAddr].lladdr) == (VMAC6, "fe80::1", VMAC6)
        # A higher-priority master takes over (its adverts keep coming): this one is quiet.
        forward(dp, [six_advert(200)])
        assert state(dp, v6=True)["state"] == "backup"
        dp.inject("a", [bytes(rs)])
        sent, deadline = [], time.monotonic() + 3.2  # (an RS is answered within 3 s of the last)
        while time.monotonic() < deadline:
            sent += [f for f in forward(dp, [six_advert(200)])["a"] if ICMPv6ND_RA in f]
            time.sleep(0.05)
        assert sent == [] and state(dp, v6=True)["state"] == "backup"


def six_advert(priority: int) -> Ether:
    return Ether(src=VMAC6, dst="33:33:00:00:00:12") / IPv6(
        src="fe80::9", dst="ff02::12", hlim=255, nh=112) / VRRPv3(
        vrid=10, priority=priority, adv=10, addrlist=["fe80::1", VIP6])
