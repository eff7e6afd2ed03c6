"""IPv6 router advertisements (RFC 4861 6.2, RFC 8106) on ring ports: port a advertises,
port b does not. Checked field by field as a host would read them."""
import time

import pytest
from scapy.layers.inet6 import (ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptMTU, ICMPv6NDOptPrefixInfo,
                                ICMPv6NDOptRDNSS, ICMPv6NDOptSrcLLAddr, IPv6)
from scapy.layers.l2 import Ether

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.dataplane import RaSettings
from appliance.errors import PortError
from tests.native.conftest import EAL, FAST_TIMERS, HOST_MAC, PORTS, ROUTER_LL, ROUTER_MAC, checked

# The next unsolicited one is 16 s after the first (MAX_INITIAL_RTR_ADVERT_INTERVAL): what
# comes within seconds answers a solicitation.
RA = RaSettings("a", max_interval_s=40, min_interval_s=30, lifetime_s=1800, managed=False,
                other=True, rdnss=["2001:db8:53::53"], rdnss_lifetime_s=600)


def open_ra_router() -> Dataplane:
    dp = Dataplane(DataplaneConfig(
        ports=[PortConfig(p, "ring", mac=ROUTER_MAC[p], mtu=1400 if p == "a" else None) for p in PORTS],
        eal=EAL, slowpath=FAST_TIMERS, ra=[RA],
        tables=TableSizes(max_routes=4096, tbl8_groups=256, max_nexthops=64, max_rules=1024)))
    for address in ("2001:db8:a::1/64", "2001:db8:a::2/64", "2001:db8:aa::1/48", "192.0.2.1/24"):
        dp.address_add("a", address)
    dp.address_add("b", "2001:db8:b::1/64")
    dp.start()
    return dp


@pytest.fixture
def ra_router():
    """The router, and the advertisement it sent as it started (what else it sent at start,
    gratuitous ARP and unsolicited NAs, drained)."""
    dp = open_ra_router()
    first = advertisements(dp, "a", 2)
    for port in PORTS:
        dp.drain(port)
    dp.first_ra = first
    yield from checked(dp)


def advertisements(dp: Dataplane, port: str, within: float) -> list[Ether]:
    deadline = time.monotonic() + within
    found = []
    while time.monotonic() < deadline and not found:
        dp.quiesce()
        found = [p for p in map(Ether, dp.drain(port)) if ICMPv6ND_RA in p]
        time.sleep(0.05)
    return found


def test_unsolicited_advertisement_says_what_a_host_needs(ra_router):
    (ra,) = ra_router.first_ra
    assert ra.src == ROUTER_MAC["a"] and ra.dst == "33:33:00:00:00:01"
    assert ra[IPv6].src == ROUTER_LL["a"] and ra[IPv6].dst == "ff02::1" and ra[IPv6].hlim == 255
    adv = ra[ICMPv6ND_RA]
    assert (adv.chlim, adv.M, adv.O, adv.routerlifetime) == (64, 0, 1, 1800)
    assert (adv.reachabletime, adv.retranstimer) == (0, 0)
    assert ra[ICMPv6NDOptSrcLLAddr].lladdr == ROUTER_MAC["a"]
    assert ra[ICMPv6NDOptMTU].mtu == 1400
    prefixes = []
    option = ra[ICMPv6NDOptPrefixInfo]
    while option is not None and isinstance(option, ICMPv6NDOptPrefixInfo):
        prefixes.append((option.prefix, option.prefixlen, option.L, option.A,
                         option.validlifetime, option.preferredlifetime))
        option = option.payload if isinstance(option.payload, ICMPv6NDOptPrefixInfo) else \
            option.payload.getlayer(ICMPv6NDOptPrefixInfo)
    # One per prefix (two addresses in 2001:db8:a::/64 make one), none for IPv4 or fe80::.
    assert sorted(prefixes) == [("2001:db8:a::", 64, 1, 1, 2592000, 604800),
                                ("2001:db8:aa::", 48, 1, 1, 2592000, 604800)]
    rdnss = ra[ICMPv6NDOptRDNSS]
    assert rdnss.dns == ["2001:db8:53::53"] and rdnss.lifetime == 600
    assert ra_router.stats()["slowpath"]["ra_out"] >= 1


def test_a_solicitation_is_answered_and_its_asker_learned(ra_router):
    assert ra_router.first_ra
    rs = Ether(src=HOST_MAC["a"], dst="33:33:00:00:00:02") / IPv6(
        src="fe80::a:10", dst="ff02::2", hlim=255) / ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(
        lladdr=HOST_MAC["a"])
    assert ra_router.inject("a", [bytes(rs)]) == 1
    ra_router.quiesce()
    learned = {(n["port"], n["ip"]): n["state"] for n in ra_router.neighbors()}
    assert learned[("a", "fe80::a:10")] == "stale"  # (then probed, unanswered here)
    # No sooner than 3 s after the last one (MIN_DELAY_BETWEEN_RAS), long before the next
    # unsolicited one.
    started = time.monotonic()
    (answer,) = advertisements(ra_router, "a", 3.5)
    assert time.monotonic() - started > 2
    assert answer[IPv6].dst == "ff02::1"
    assert ra_router.stats()["slowpath"]["rs_in"] == 1


def test_an_interface_without_advertisements_stays_quiet(ra_router):
    rs = Ether(src=HOST_MAC["b"], dst="33:33:00:00:00:02") / IPv6(
        src="fe80::b:10", dst="ff02::2", hlim=255) / ICMPv6ND_RS()
    ra_router.inject("b", [bytes(rs)])
    assert advertisements(ra_router, "b", 1) == []


def test_stopping_says_goodbye_with_router_lifetime_zero():
    dp = open_ra_router()
    try:
        assert advertisements(dp, "a", 2)
        dp.stop()
        last = [p for p in map(Ether, dp.drain("a")) if ICMPv6ND_RA in p]
        assert len(last) == 1 and last[0][ICMPv6ND_RA].routerlifetime == 0
        assert last[0][ICMPv6NDOptRDNSS].lifetime == 0  # the resolvers go with it
        assert last[0][ICMPv6NDOptPrefixInfo].validlifetime == 2592000  # addresses stay
    finally:
        dp.close()


def test_advertising_starts_and_stops_at_runtime(ra_router):
    """Turned on: the first one at once. Turned off: a last one with router lifetime 0."""
    ra_router.ra_set("b", RaSettings("b", max_interval_s=40, min_interval_s=30))
    (first,) = advertisements(ra_router, "b", 2)
    assert first[ICMPv6ND_RA].routerlifetime == 1800 and first[ICMPv6NDOptMTU].mtu == 1500
    assert first[ICMPv6NDOptPrefixInfo].prefix == "2001:db8:b::"
    ra_router.ra_set("a", None)
    ra_router.quiesce()
    (last,) = [p for p in map(Ether, ra_router.drain("a")) if ICMPv6ND_RA in p]
    assert last[ICMPv6ND_RA].routerlifetime == 0
    assert advertisements(ra_router, "a", 0.5) == []
    ra_router.ra_set("a", None)  # already off: nothing to say
    assert advertisements(ra_router, "a", 0.3) == []


def test_bad_settings_are_refused_and_change_nothing(ra_router):
    with pytest.raises(PortError, match="rdnss 192.0.2.53 is not an IPv6 address"):
        ra_router.ra_set("b", RaSettings("b", rdnss=["192.0.2.53"]))
    with pytest.raises(PortError, match="unknown port 'z'"):
        ra_router.ra_set("z", RaSettings("z"))
    assert advertisements(ra_router, "b", 0.5) == []
