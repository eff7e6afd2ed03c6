"""Route sync: the kernel table's routes through the ports' kernel interfaces become FIB
routes, and follow every change (tests/e2e/lab.py with kernel interfaces; routes put into
a table of the test's own with `ip route`, as a routing daemon would)."""
import random
import urllib.request

import pytest

from tests.e2e.conftest import free_port, wait_until
from tests.e2e.lab import Lab, sh


@pytest.fixture
def slab(tmp_path):
    lab = Lab(tmp_path, kernel=True)
    lab.table = random.randrange(1000, 60000)
    lab.appliance.config["route_sync"] = {"table": lab.table, "protocols": ["bgp", "static"]}
    lab.metrics_port = free_port()
    lab.appliance.config["metrics"] = {"listen": f"127.0.0.1:{lab.metrics_port}"}
    lab.host(1, "ip", "addr", "add", "172.16.0.1/32", "dev", "lo", check=True)
    lab.start()
    yield lab
    sh("ip", "route", "flush", "table", str(lab.table), check=False)
    lab.close()


def kernel_route(lab, *args: str, proto="bgp", verb="add") -> None:
    sh("ip", "route", verb, *args, "proto", proto, "table", str(lab.table))


def mirrored(lab) -> dict[str, dict]:
    with lab.appliance.client() as c:
        return {r["prefix"]: r for r in c.kernel_routes()}


def test_a_kernel_route_is_forwarded_by_the_appliance_and_follows_changes(slab):
    kernel_route(slab, "172.16.0.0/24", "via", "10.0.2.2", "dev", slab.kernel[1])
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(slab))
    r = mirrored(slab)["172.16.0.0/24"]
    assert (r["port"], r["gateway"], r["protocol"], r["shadowed"]) == ("lan1", "10.0.2.2", 186, False)
    assert slab.wait_ping(0, "172.16.0.1"), "h1 -> 172.16.0.1 through the mirrored route"
    listed = slab.appliance.cli("route", "list", "--source", "kernel").stdout
    assert "172.16.0.0/24        via 10.0.2.2 dev lan1 proto bgp" in listed, listed
    # Deleted in the kernel: gone here, and the sender hears about it.
    kernel_route(slab, "172.16.0.0/24", verb="del")
    assert wait_until(lambda: "172.16.0.0/24" not in mirrored(slab))
    r = slab.ping(0, "172.16.0.1", count=1)
    assert "Destination Net Unreachable" in r.stdout, r.stdout
    with slab.appliance.client() as c:
        sync = c.stats()["route_sync"]
    assert sync["synced"] and sync["added"] >= 1 and sync["deleted"] >= 1 and sync["error"] is None
    with urllib.request.urlopen(f"http://127.0.0.1:{slab.metrics_port}/metrics") as r:
        metrics = r.read().decode()
    assert 'appliance_route_sync_changes_total{kind="deleted"} 1.0' in metrics, metrics
    assert "appliance_route_sync_routes 0.0" in metrics


def test_only_chosen_protocols_and_our_interfaces_are_mirrored(slab):
    kernel_route(slab, "172.16.1.0/24", "via", "10.0.2.2", "dev", slab.kernel[1], proto="ospf")
    kernel_route(slab, "172.16.2.0/24", "dev", "lo")  # not through one of our ports
    kernel_route(slab, "172.16.3.0/24", "via", "10.0.2.2", "dev", slab.kernel[1], proto="static")
    assert wait_until(lambda: "172.16.3.0/24" in mirrored(slab))
    assert set(mirrored(slab)) == {"172.16.3.0/24"}
    with slab.appliance.client() as c:
        assert c.stats()["route_sync"]["ignored"] >= 2


def test_an_operator_route_shadows_a_kernel_route_which_comes_back(slab):
    kernel_route(slab, "172.16.0.0/24", "via", "10.0.2.2", "dev", slab.kernel[1])
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(slab))
    from appliance.errors import RouteError
    with slab.appliance.client() as c:
        with pytest.raises(RouteError, match="from the kernel table"):
            c.route_delete("172.16.0.0/24")
        c.nexthop_set(5, "lan0", "02:00:00:0b:00:01")  # h1: a static route wins
        c.route_add("172.16.0.0/24", 5)
        assert mirrored(slab)["172.16.0.0/24"]["shadowed"]
        assert slab.ping(0, "172.16.0.1", count=1).returncode != 0  # sent back to h1
        c.route_delete("172.16.0.0/24")
        assert not mirrored(slab)["172.16.0.0/24"]["shadowed"]
    assert slab.wait_ping(0, "172.16.0.1")


def test_ipv6_kernel_routes_through_a_link_local_gateway(slab):
    for i in range(2):
        slab.host(i, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0",
                  "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.eth0.disable_ipv6=0",
                  check=True)
    slab.host(1, "ip", "-6", "addr", "add", "2001:db8:99::1/128", "dev", "lo", check=True)
    kernel_route(slab, "2001:db8:99::/64", "via", "fe80::ff:fe0b:2", "dev", slab.kernel[1])
    assert wait_until(lambda: "2001:db8:99::/64" in mirrored(slab))
    r = mirrored(slab)["2001:db8:99::/64"]
    assert (r["gateway"], r["port"]) == ("fe80::ff:fe0b:2", "lan1")
    with slab.appliance.client() as c:
        assert wait_until(lambda: any(n["ip"] == "fe80::ff:fe0b:2" and n["mac"] == "02:00:00:0b:00:02"
                                      for n in c.neighbors()))


def test_a_forced_delete_takes_a_kernel_route_out_until_a_resync_or_a_kernel_change(slab):
    kernel_route(slab, "172.16.0.0/24", "via", "10.0.2.2", "dev", slab.kernel[1])
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(slab))
    assert slab.wait_ping(0, "172.16.0.1")
    refused = slab.appliance.cli("route", "del", "172.16.0.0/24")
    assert refused.returncode != 0 and "from the kernel table" in refused.stderr, refused
    forced = slab.appliance.cli("route", "del", "172.16.0.0/24", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "172.16.0.0/24" not in mirrored(slab)
    assert "Destination Net Unreachable" in slab.ping(0, "172.16.0.1", count=1).stdout
    assert "172.16.0.0/24" in sh("ip", "route", "show", "table", str(slab.table)).stdout
    again = slab.appliance.cli("route", "del", "172.16.0.0/24", "--force")
    assert again.returncode != 0 and "no route from the kernel table" in again.stderr, again
    # A resync brings it back; so does the kernel's next change of it.
    assert slab.appliance.cli("route", "resync").returncode == 0
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(slab))
    assert slab.wait_ping(0, "172.16.0.1")
    assert slab.appliance.cli("route", "del", "172.16.0.0/24", "--force").returncode == 0
    kernel_route(slab, "172.16.0.0/24", verb="del")
    kernel_route(slab, "172.16.0.0/24", "via", "10.0.2.2", "dev", slab.kernel[1])
    assert wait_until(lambda: "172.16.0.0/24" in mirrored(slab))


def test_blackhole_unreachable_and_prohibit_routes_drop_as_linux_does(slab):
    """A daemon's discard routes (Null0 for an announced aggregate): blackhole drops
    silently, unreachable and prohibit answer as Linux does; a more specific route wins."""
    kernel_route(slab, "blackhole", "172.16.0.0/16", proto="static")
    kernel_route(slab, "172.16.0.0/24", "via", "10.0.2.2", "dev", slab.kernel[1])
    kernel_route(slab, "unreachable", "172.17.0.0/16")
    kernel_route(slab, "prohibit", "172.18.0.0/16")
    assert wait_until(lambda: len(mirrored(slab)) == 4)
    routes = mirrored(slab)
    assert [routes[p]["type"] for p in ("172.16.0.0/16", "172.17.0.0/16", "172.18.0.0/16")] == \
        ["blackhole", "unreachable", "prohibit"]
    assert routes["172.16.0.0/16"]["port"] is None
    listed = slab.appliance.cli("route", "list", "--source", "kernel").stdout
    assert "172.16.0.0/16        blackhole proto static" in listed, listed
    assert slab.wait_ping(0, "172.16.0.1"), "the more specific route still forwards"
    with slab.appliance.client() as c:
        before = c.stats()["drops"]
    silent = slab.ping(0, "172.16.5.1", count=2)
    assert silent.returncode != 0 and "Unreachable" not in silent.stdout, silent.stdout
    assert "Destination Host Unreachable" in slab.ping(0, "172.17.0.1", count=1).stdout
    assert "Packet filtered" in slab.ping(0, "172.18.0.1", count=1).stdout
    with slab.appliance.client() as c:
        after = c.stats()["drops"]
    for reason in ("blackhole", "route_unreachable", "route_prohibited"):
        assert after[reason] - before.get(reason, 0) >= 1, (reason, after)
    kernel_route(slab, "blackhole", "172.16.0.0/16", proto="static", verb="del")
    assert wait_until(lambda: "172.16.0.0/16" not in mirrored(slab))
    assert "Destination Net Unreachable" in slab.ping(0, "172.16.5.1", count=1).stdout
