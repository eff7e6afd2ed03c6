"""The appliance service as an operator meets it: run, API, CLI, signals, state."""
import json
import signal
import subprocess
import sys
import urllib.request

import pytest
import yaml

from appliance import __version__ as VERSION
from appliance import Client
from appliance.errors import ApplianceError, ConfigError, NextHopError, RouteError
from tests.e2e.conftest import cli, free_port, wait_until


def tx(client, port: str) -> int:
    return client.stats()["ports"][port]["opackets"]


def hops(client) -> list[tuple]:
    # src_mac left out: net_null draws a random port MAC each start
    return [(h["id"], h["port"], h["dst_mac"], h["users"]) for h in client.nexthops()]


def test_packets_flow_and_runtime_changes_take_effect(appliance):
    appliance.start()
    with appliance.client() as c:
        assert wait_until(lambda: tx(c, "lan0") > 100_000), "10.1/16 goes out lan0"
        assert tx(c, "lan1") == 0
        c.route_add("10.2.0.0/16", 2)  # the Python API
        assert wait_until(lambda: tx(c, "lan1") > 100_000), "new route carries traffic"
        # the CLI: drop the demo's odd flow by exact match
        r = appliance.cli("rule", "add", "udp", "192.0.2.1", "4000", "10.1.0.1", "53", "drop")
        assert r.returncode == 0, r.stderr
        assert wait_until(lambda: c.stats()["drops"]["rule_drop"] > 0)
        listed = appliance.cli("route", "list", "--json")
        assert [r["prefix"] for r in yaml.safe_load(listed.stdout)] == ["10.1.0.0/16", "10.2.0.0/16"]
        assert c.routes(prefix="10.2.0.0/15")[0][1] == 2


def test_bad_requests_get_4xx_with_the_reason_and_forwarding_goes_on(appliance):
    appliance.start()
    with appliance.client() as c:
        before = tx(c, "lan0")
        with pytest.raises(RouteError, match="10.0.0.0/33"):
            c.route_add("10.0.0.0/33", 1)
        with pytest.raises(NextHopError, match="next hop 9 is not set"):
            c.route_add("10.9.0.0/16", 9)
        with pytest.raises(ConfigError, match="body.src: Input is not a valid IPv4 address"):
            c.rule_add("udp", "1.2.3", 1, "10.0.0.1", 2, "drop")
        with pytest.raises(RouteError, match="no such route"):
            c.route_delete("10.77.0.0/16")
        with pytest.raises(ConfigError, match="a route needs both prefix and nexthop"):
            c.request("POST", "/v1/routes", {"prefix": "10.0.0.0/8"})
        with pytest.raises(ConfigError, match="body.nexthop: Input should be a valid integer"):
            c.request("POST", "/v1/routes", {"prefix": "10.0.0.0/8", "nexthop": "one"})
        with pytest.raises(NextHopError, match="next hop 99 out of range"):  # all or nothing
            c.route_add_bulk([("10.50.0.0/16", 1), ("10.51.0.0/16", 99)])
        assert [str(p) for p, _ in c.routes()] == ["10.1.0.0/16"]
        # not JSON at all, straight on the socket
        c._conn.request("POST", "/v1/routes", body=b"{nope", headers={"Content-Length": "5"})
        resp = c._conn.getresponse()
        assert resp.status == 400 and b"not valid JSON" in resp.read()
        c._conn.request("GET", "/v1/teapot")
        resp = c._conn.getresponse()
        assert resp.status == 404 and resp.read()
        assert wait_until(lambda: tx(c, "lan0") > before + 100_000), "still forwarding"
        assert c.health() == {"status": "ok", "version": VERSION}


def test_cli_errors_exit_1_and_name_the_problem(appliance):
    appliance.start()
    r = appliance.cli("nexthop", "del", "1")
    assert r.returncode == 1
    assert r.stderr.strip() == "NextHopError: next hop 1 is used by 1 routes or rules; delete them first"
    r = cli("route", "list", "--socket", str(appliance.tmp / "nobody.sock"))
    assert r.returncode == 1 and "no appliance answering" in r.stderr


def test_sigterm_exits_clean_without_leftovers(appliance):
    appliance.start()
    assert appliance.signal(signal.SIGTERM) == 0
    assert appliance.leftovers() == []
    assert "INFO appliance: stopped" in appliance.output()


def test_sigkill_and_restart_restores_every_accepted_change(appliance):
    appliance.config["vrfs"] = [{"name": "red"}]
    appliance.config["routes"].append({"prefix": "10.1.0.0/16", "nexthop": 2, "vrf": "red"})
    appliance.start()
    with appliance.client() as c:
        c.nexthop_set(5, "lan1", "02:00:00:00:05:01")
        c.route_add_bulk((f"172.16.{i}.0/24", 5) for i in range(200))
        c.route_delete("10.1.0.0/16")  # a config route removed at runtime stays removed
        c.rule_add("tcp", "192.0.2.9", 1000, "10.2.0.9", 80, "forward", 5)
        # A VRF's routes are kept apart: the same prefix in red stays, another is added.
        c.route_add_bulk([("172.16.0.0/24", 1), ("192.0.2.0/24", 5)], vrf="red")
        with pytest.raises(RouteError, match="unknown VRF 'blue' \\(VRFs: default, red\\)"):
            c.route_add("198.51.100.0/24", 5, vrf="blue")
        expected = (c.routes(), c.routes(vrf="red"), hops(c), c.rules())
    appliance.signal(signal.SIGKILL)
    appliance.cleanup()
    appliance.start()
    with appliance.client() as c:
        assert (c.routes(), c.routes(vrf="red"), hops(c), c.rules()) == expected
        assert len(c.routes()) == 200
        assert [str(p) for p, _ in c.routes(vrf="red")] == ["10.1.0.0/16", "172.16.0.0/24",
                                                          "192.0.2.0/24"]


def test_sighup_applies_the_changed_file_and_refuses_a_broken_one(appliance):
    appliance.start()
    appliance.config["routes"].append({"prefix": "10.2.0.0/16", "nexthop": 2})
    appliance.write_config()
    appliance.proc.send_signal(signal.SIGHUP)
    with appliance.client() as c:
        assert wait_until(lambda: len(c.routes()) == 2)
        assert wait_until(lambda: tx(c, "lan1") > 10_000)
        appliance.config["routes"].append({"prefix": "10.3.0.0/16", "nexthop": 42})
        appliance.write_config()
        appliance.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload of" in appliance.output())
        assert "routes[2].nexthop: next hop 42 is not defined" in appliance.output()
        assert len(c.routes()) == 2, "a broken file changes nothing"


def test_apply_moves_to_the_desired_state_and_invalid_changes_nothing(appliance):
    appliance.start()
    desired = dict(appliance.config, routes=[{"prefix": "10.2.0.0/16", "nexthop": 2},
                                             {"prefix": "10.3.0.0/16", "nexthop": 1}])
    with appliance.client() as c:
        summary = c.apply(desired)
        assert summary["routes"] == {"added": 2, "removed": 1}
        assert [str(p) for p, _ in c.routes()] == ["10.2.0.0/16", "10.3.0.0/16"]
        with pytest.raises(ConfigError, match=r"routes\[0\].nexthop: next hop 9 is not defined"):
            c.apply(dict(desired, routes=[{"prefix": "10.9.0.0/16", "nexthop": 9}]))
        with pytest.raises(ConfigError, match="ports: changed; a restart is needed"):
            c.apply(dict(desired, ports=[dict(p, rx_desc=512) for p in desired["ports"]]))
        assert [str(p) for p, _ in c.routes()] == ["10.2.0.0/16", "10.3.0.0/16"]


@pytest.mark.parametrize("change, message", [
    ({"ports": [{"name": "wan0", "device": "net_null0", "speed": 10}]}, "ports[0].speed: unknown key"),
    ({"routes": [{"prefix": "10.0.0.0/8", "nexthop": 3}]}, "routes[0].nexthop: next hop 3 is not defined"),
    ({"eal": {"main_lcore": 0, "worker_lcores": [64]}}, "eal: lcore 64 is not a CPU of this host"),
])
def test_bad_config_exits_2_before_touching_the_host(appliance, change, message):
    appliance.config.update(change)
    appliance.write_config()
    r = cli("run", "--config", str(appliance.config_path))
    assert r.returncode == 2
    assert r.stderr.startswith(f"ConfigError: {appliance.config_path}: {message}")
    assert appliance.leftovers() == []


def test_tcp_api_needs_the_bearer_token_and_metrics_are_exported(appliance):
    token = appliance.tmp / "token"
    token.write_text("s3cret\n")
    api_port, metrics_port = free_port(), free_port()
    appliance.config["api"].update(tcp_listen=f"127.0.0.1:{api_port}", token_file=str(token))
    appliance.config["metrics"] = {"listen": f"127.0.0.1:{metrics_port}"}
    appliance.start()
    url = f"http://127.0.0.1:{api_port}"
    for bad in (None, "wrong"):
        with Client(url, token=bad) as c, pytest.raises(ApplianceError, match="bearer token"):
            c.routes()
    with Client(url, token="s3cret") as c:
        c.route_add("10.2.0.0/16", 2)
        assert len(c.routes()) == 2

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as r:
            return r.read().decode()

    assert wait_until(lambda: 'appliance_drops_total{reason="no_route"}' in scrape())
    text = scrape()
    tx_line = next(line for line in text.splitlines()
                   if line.startswith('appliance_port_tx_packets_total{port="lan0"}'))
    assert float(tx_line.split()[-1]) > 0
    assert 'appliance_table_entries{table="routes"} 2.0' in text
    assert 'appliance_table_entries{table="tbl8_groups6"} 0.0' in text
    assert "appliance_worker_cycles_per_packet" in text
    assert 'appliance_neighbors{state="reachable"}' in text
    assert 'appliance_arp_packets_total{kind="requests_out"}' in text
    assert 'appliance_nd_packets_total{kind="solicits_in"}' in text
    assert 'appliance_icmp_sent_total{type="time_exceeded"}' in text
    assert 'appliance_icmp_sent_total{type="parameter_problem"}' in text
    assert "appliance_held_packets" in text


def test_tcp_listener_without_token_is_a_config_error(appliance):
    appliance.config["api"]["tcp_listen"] = "127.0.0.1:8080"
    appliance.write_config()
    r = cli("config", "validate", str(appliance.config_path))
    assert r.returncode == 2 and "api.token_file: required with api.tcp_listen" in r.stderr


def test_stats_watch_and_apply_from_the_cli(appliance):
    appliance.start()
    watch = subprocess.Popen([sys.executable, "-m", "appliance", "stats", "--watch", "0.3",
                              "--socket", appliance.socket], stdout=subprocess.PIPE, text=True)
    lines = [watch.stdout.readline() for _ in range(8)]
    watch.send_signal(signal.SIGINT)
    assert watch.wait(timeout=30) == 0
    lan0 = next(line for line in lines if line.startswith("lan0"))
    assert lan0.split()[2].endswith("M"), lan0  # tx pps in millions
    assert any(line.startswith("worker lcore 1:") and "cycles/packet" in line for line in lines)

    desired = dict(appliance.config, routes=[{"prefix": "10.2.0.0/16", "nexthop": 2}])
    target = appliance.tmp / "desired.yaml"
    target.write_text(yaml.safe_dump(desired))
    r = appliance.cli("apply", str(target), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["routes"] == {"added": 1, "removed": 1}


def configured(client) -> list[dict]:
    """The router's addresses but the automatic link-local ones."""
    return [a for a in client.addresses() if not a["automatic"]]


def test_addresses_neighbours_and_gateways_survive_a_crash_and_follow_the_file(appliance):
    from appliance.errors import AddressError
    appliance.start()
    with appliance.client() as c:
        c.address_add("lan0", "198.51.100.1/24")
        c.address_add("lan0", "2001:db8:64::1/64")
        c.neighbor_add("lan0", "198.51.100.7", "02:00:00:00:07:07")
        c.neighbor_add("lan0", "2001:db8:64::7", "02:00:00:00:07:08")
        c.nexthop_set_gateway(9, "lan0", "198.51.100.254")
        c.nexthop_set_gateway(10, "lan0", "fe80::254")
        with pytest.raises(AddressError, match="198.51.100.300/24"):
            c.address_add("lan0", "198.51.100.300/24")
        with pytest.raises(AddressError, match="already an address"):
            c.address_add("lan1", "198.51.100.1/25")
        with pytest.raises(AddressError, match="subnet-router anycast"):
            c.address_add("lan1", "2001:db8:65::/64")
        with pytest.raises(ConfigError, match="body.ip.*not a valid IPv4 address.*not a valid IPv6"):
            c.neighbor_add("lan0", "nope", "02:00:00:00:07:07")
        with pytest.raises(ConfigError, match="body.mac: Value error, not a unicast MAC|"
                                              "body.mac: not a unicast MAC"):
            c.neighbor_add("lan0", "192.0.2.7", "01:00:5e:00:00:01")
        expected = (configured(c), [n for n in c.neighbors() if n["state"] == "permanent"],
                    [h["gateway"] for h in c.nexthops() if h["id"] in (9, 10)])
    assert expected[0] == [{"port": "lan0", "address": "198.51.100.1/24", "automatic": False},
                           {"port": "lan0", "address": "2001:db8:64::1/64", "automatic": False}]
    appliance.signal(signal.SIGKILL)
    appliance.cleanup()
    appliance.start()
    with appliance.client() as c:
        got = (configured(c), [n for n in c.neighbors() if n["state"] == "permanent"],
               [h["gateway"] for h in c.nexthops() if h["id"] in (9, 10)])
        assert sorted((n["ip"], n["mac"]) for n in got[1]) == [
            ("198.51.100.7", "02:00:00:00:07:07"), ("2001:db8:64::7", "02:00:00:00:07:08")]
        assert got[0] == expected[0] and got[2] == ["198.51.100.254", "fe80::254"]
    # An address in the file is a table entry: SIGHUP adds it, no restart needed.
    appliance.config["ports"][2]["addresses"] = ["203.0.113.1/24"]
    appliance.write_config()
    appliance.proc.send_signal(signal.SIGHUP)
    with appliance.client() as c:
        assert wait_until(lambda: {"port": "lan1", "address": "203.0.113.1/24",
                                   "automatic": False} in c.addresses())
    r = appliance.cli("address", "list")
    assert "lan1     203.0.113.1/24" in r.stdout and "lan0     198.51.100.1/24" in r.stdout, r.stdout


def test_ipv6_routes_go_through_cli_api_and_state_file_like_ipv4(appliance):
    appliance.config["routes"].append({"prefix": "2001:db8::/32", "nexthop": 1})
    appliance.start()
    assert appliance.cli("route", "add", "2001:db8:77::/48", "2").returncode == 0
    r = appliance.cli("route", "add", "2001:db8::1/32", "2")
    assert r.returncode == 1 and "has host bits set" in r.stderr
    with appliance.client() as c:
        c.route_add_bulk([("2001:db8:78::/48", 2), ("10.78.0.0/16", 2)])
        c.route_delete("2001:db8::/32")
        c.rule_add("tcp", "2001:db8::1", 0, "2001:db8:77::2", 443, "forward", 1)
        with pytest.raises(ConfigError, match="different IP versions"):
            c.rule_add("tcp", "10.0.0.1", 0, "2001:db8:77::2", 443, "drop")
    appliance.signal(signal.SIGKILL)
    appliance.cleanup()
    appliance.start()
    listed = appliance.cli("route", "list", "--prefix", "2001:db8::/32").stdout
    assert "2001:db8:77::/48" in listed and "2001:db8:78::/48" in listed and "10.78" not in listed
    with appliance.client() as c:
        assert {str(p) for p, _ in c.routes()} == {"10.1.0.0/16", "10.78.0.0/16",
                                                  "2001:db8:77::/48", "2001:db8:78::/48"}
        assert [(r["src"], r["dst"], r["dst_port"]) for r in c.rules()] == [
            ("2001:db8::1", "2001:db8:77::2", 443)]
