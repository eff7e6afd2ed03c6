"""IPv6 router advertisements to an unmodified Linux host that has no IPv6 configuration
but accept_ra (a host's default):

    h1 (SLAAC from the RA) -- lan0 [appliance: RA, 2001:db8:1::1/64, MTU 1400] lan1 -- h2 (2001:db8:2::2)

h1 forms its address from the advertised prefix, takes the router's link-local address as
its default router and the MTU from the RA, and pings h2; when the appliance stops, its
last advertisement (router lifetime 0) takes the default route away at once.
"""
import signal

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.lab import Lab, sh

ROUTER_LINK_LOCAL = "fe80::ff:fe0a:1"  # EUI-64 of lan0's MAC 02:00:00:0a:00:01


@pytest.fixture(scope="module")
def ra_lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("ra"), mtu=[1400, None])
    lan0, lan1 = lab.appliance.config["ports"]
    lan0["addresses"].append("2001:db8:1::1/64")
    lan0["ra"] = {"max_interval_s": 4, "min_interval_s": 3}
    lan1["addresses"].append("2001:db8:2::1/64")
    for ns in lab.ns:  # IPv6 back on (the lab turns it off); h1 keeps the host defaults
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
           "net.ipv6.conf.eth0.disable_ipv6=0")
    sh("ip", "-n", lab.ns[1], "addr", "add", "2001:db8:2::2/64", "dev", "eth0", "nodad")
    sh("ip", "-n", lab.ns[1], "-6", "route", "add", "default", "via", "2001:db8:2::1")
    try:
        lab.start()
        yield lab
    finally:
        lab.close()


def h1_global_address(lab: Lab) -> str | None:
    """Once duplicate address detection is done (a tentative one is not used as a source)."""
    out = lab.host(0, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global",
                   "-tentative").stdout
    words = out.split()
    return words[words.index("inet6") + 1] if "inet6" in words else None


def h1_default_route(lab: Lab) -> str:
    return lab.host(0, "ip", "-6", "route", "show", "default").stdout


def test_a_host_autoconfigures_from_the_advertisement_and_reaches_the_far_side(ra_lab):
    assert wait_until(lambda: h1_global_address(ra_lab) is not None, 15), \
        ra_lab.host(0, "ip", "-6", "addr").stdout
    address = h1_global_address(ra_lab)
    assert address.startswith("2001:db8:1:") and address.endswith("/64"), address
    assert wait_until(lambda: "proto ra" in h1_default_route(ra_lab), 10)
    route = h1_default_route(ra_lab)
    assert f"via {ROUTER_LINK_LOCAL} dev eth0 proto ra" in route, route
    mtu = ra_lab.host(0, "cat", "/proc/sys/net/ipv6/conf/eth0/mtu").stdout.strip()
    assert mtu == "1400"  # the RA's MTU option, as Linux applies it (accept_ra_mtu)
    ping = ra_lab.host(0, "ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "2", "2001:db8:2::2")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    with ra_lab.appliance.client() as c:
        slow = c.stats()["slowpath"]
    assert slow["ra_out"] >= 1 and slow["rs_in"] >= 0


def test_a_reload_stops_and_starts_advertising(ra_lab):
    """The operator takes `ra` out of the config and reloads: the last advertisement
    (router lifetime 0) takes h1's default route away; put back, it returns at once."""
    app = ra_lab.appliance
    lan0 = app.config["ports"][0]
    settings = lan0.pop("ra")
    app.write_config()
    assert app.cli("reload").returncode == 0
    assert wait_until(lambda: "proto ra" not in h1_default_route(ra_lab), 3), h1_default_route(ra_lab)
    lan0["ra"] = settings
    app.write_config()
    assert app.cli("reload").returncode == 0
    assert wait_until(lambda: "proto ra" in h1_default_route(ra_lab), 3)


def default_route_expires(lab: Lab) -> int:
    words = h1_default_route(lab).split()
    return int(words[words.index("expires") + 1].rstrip("sec")) if "expires" in words else 0


def test_the_api_changes_them_and_the_change_survives_a_crash(ra_lab):
    """Through the CLI (the API): a router lifetime of 1234 s instead of the config's 12;
    after SIGKILL and a restart the state file brings it back, not the config's."""
    app = ra_lab.appliance
    out = app.cli("interface", "ra", "lan0", "{max_interval_s: 4, min_interval_s: 3, lifetime_s: 1234}")
    assert out.returncode == 0, out.stderr
    assert wait_until(lambda: default_route_expires(ra_lab) > 1000, 5), h1_default_route(ra_lab)
    refused = app.cli("interface", "ra", "lan0", "{max_interval_s: 1}")
    assert refused.returncode == 2 and "body.max_interval_s" in refused.stderr, refused.stderr
    assert app.signal(signal.SIGKILL) != 0
    app.cleanup()
    sh("ip", "-n", ra_lab.ns[0], "-6", "route", "flush", "default")
    ra_lab.start()
    assert wait_until(lambda: default_route_expires(ra_lab) > 1000, 10), h1_default_route(ra_lab)
    shown = app.cli("interface", "ra", "lan0")
    assert '"lifetime_s": 1234' in shown.stdout, shown.stdout


def test_stopping_the_appliance_withdraws_it_as_default_router(ra_lab):
    assert "proto ra" in h1_default_route(ra_lab)
    assert ra_lab.appliance.signal(signal.SIGTERM) == 0
    # Router lifetime 0: the host drops the route at once (else after 1800 s).
    assert wait_until(lambda: "proto ra" not in h1_default_route(ra_lab), 3), \
        h1_default_route(ra_lab)
