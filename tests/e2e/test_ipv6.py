"""IPv6 between unmodified Linux hosts through the appliance (tests/e2e/lab.py).

Until the appliance speaks NDP, each host reaches the router's MAC through a permanent
neighbour entry for its gateway, and the appliance reaches each host through a static-MAC
next hop: what the test shows is the forwarding, with the kernels' own ping6 and iperf3.
"""
import json
import time

import pytest

from tests.e2e.lab import HOST_MAC, ROUTER_MAC, Lab


@pytest.fixture
def lab6(tmp_path):
    lab = Lab(tmp_path)
    lab.appliance.config["nexthops"] = [{"id": 11, "port": "lan0", "mac": HOST_MAC[0]},
                                        {"id": 12, "port": "lan1", "mac": HOST_MAC[1]}]
    lab.appliance.config["routes"] = [{"prefix": "2001:db8:1::/64", "nexthop": 11},
                                      {"prefix": "2001:db8:2::/64", "nexthop": 12}]
    lab.start()
    for i in range(2):
        lab.host(i, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                 "net.ipv6.conf.eth0.disable_ipv6=0", check=True)
        lab.host(i, "ip", "-6", "addr", "add", f"2001:db8:{i + 1}::2/64", "dev", "eth0", "nodad",
                 check=True)
        lab.host(i, "ip", "-6", "neigh", "replace", "fe80::1", "lladdr", ROUTER_MAC[i], "dev",
                 "eth0", "nud", "permanent", check=True)
        lab.host(i, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0",
                 check=True)
    yield lab
    lab.close()


def test_ping6_and_iperf3_over_ipv6_through_the_appliance(lab6, tmp_path):
    assert lab6.wait_ping(0, "2001:db8:2::2"), "h1 -> h2 over IPv6"
    r = lab6.ping(0, "2001:db8:2::2", count=3)
    assert r.returncode == 0 and "ttl=63" in r.stdout, r.stdout  # one hop: hop limit 64 - 1
    server = lab6.host(1, "iperf3", "-s", "-D", "-1", "--logfile", str(tmp_path / "iperf6.log"))
    assert server.returncode == 0, server.stderr
    time.sleep(0.5)
    r = lab6.host(0, "iperf3", "-6", "-c", "2001:db8:2::2", "-t", "2", "-J", timeout=60)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert json.loads(r.stdout)["end"]["sum_received"]["bytes"] > 1_000_000
    with lab6.appliance.client() as c:
        assert {str(p) for p, _ in c.routes()} >= {"2001:db8:1::/64", "2001:db8:2::/64"}
        c.route_delete("2001:db8:2::/64")
        assert lab6.ping(0, "2001:db8:2::2", count=1).returncode != 0, "no route, no answer"
        assert c.stats()["drops"]["no_route"] >= 1
