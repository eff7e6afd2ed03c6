"""Config validation: every class of error names the file, the path, the value."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appliance.config import load_config, parse_config
from appliance.dataplane import _native_spec
from appliance.eal import eal_args
from appliance.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MINIMAL = {"eal": {"main_lcore": 0, "worker_lcores": [1]},
           "ports": [{"name": "wan0", "device": "net_null0"}, {"name": "lan0", "device": "net_null1"}],
           "nexthops": [{"id": 1, "port": "lan0", "mac": "02:00:00:00:00:01"}],
           "routes": [{"prefix": "10.0.0.0/8", "nexthop": 1}]}


def with_change(path: str, value) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(MINIMAL))
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node.setdefault(p, {})
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_example_configs_validate(name):
    # They are written for other hosts' CPUs and NICs: host checks off.
    cfg = load_config(CONFIGS / name, check_host=False)
    assert cfg.ports


def test_minimal_config_builds_a_dataplane_description():
    dp = parse_config(MINIMAL).dataplane_config()
    assert [p.name for p in dp.ports] == ["wan0", "lan0"]
    assert dp.eal.worker_lcores == [1]
    assert dp.eal.max_simd_bitwidth == 512


def test_max_simd_bitwidth_reaches_the_eal_and_the_dataplane():
    dp = parse_config(with_change("eal.max_simd_bitwidth", 256)).dataplane_config()
    assert "--force-max-simd-bitwidth 256" in " ".join(eal_args(dp.eal, []))
    assert _native_spec(dp).max_simd_bitwidth == 256


@pytest.mark.parametrize("change, message", [
    (("ports.1.rx_queues", "x"), "x.yaml: ports[1].rx_queues: Input should be a valid integer"),
    (("ports.1.rx_queues", 0), "x.yaml: ports[1].rx_queues: Input should be greater than or equal to 1 (got 0)"),
    (("ports.0.colour", "red"), "x.yaml: ports[0].colour: unknown key"),
    (("ports.0.device", "eth0"), "x.yaml: ports[0].device: expected a PCI address"),
    (("nexthops.0.mac", "02:00:00:00:01"), "x.yaml: nexthops[0].mac: String should match pattern"),
    (("routes.0.prefix", "10.0.0.1/8"), "x.yaml: routes[0].prefix: 10.0.0.1/8 has host bits set"),
    (("routes.0.prefix", "10.0.0.0/40"), "x.yaml: routes[0].prefix: '40' is not a valid netmask"),
    (("eal.max_simd_bitwidth", 384), "x.yaml: eal.max_simd_bitwidth: Input should be 128, 256 or 512"),
])
def test_schema_errors_name_path_value_and_expectation(change, message):
    with pytest.raises(ConfigError) as e:
        parse_config(with_change(*change), "x.yaml")
    assert message in str(e.value)


@pytest.mark.parametrize("change, message", [
    (("nexthops.0.port", "lan9"), "x.yaml: nexthops[0].port: unknown interface 'lan9' (interfaces: lan0, wan0)"),
    (("nexthops.0.port", "lan0.7"), "x.yaml: nexthops[0].port: unknown interface 'lan0.7' (interfaces: lan0, wan0)"),
    (("ports.1.vlans", [{"vlan": 10}, {"vlan": 10}]),
     "x.yaml: ports[1].vlans[1]: interface name lan0.10 is already ports[1].vlans[0]"),
    (("routes.0.nexthop", 7), "x.yaml: routes[0].nexthop: next hop 7 is not defined"),
    (("ports.1.name", "wan0"), "x.yaml: ports[1]: duplicate of ports[0] (wan0)"),
    (("ports.1.device", "net_null0"), "x.yaml: ports[1]: duplicate of ports[0] (net_null0)"),
    (("eal.worker_lcores", [99]), "x.yaml: eal: lcore 99 is not a CPU of this host"),
    (("eal.worker_lcores", [0]), "x.yaml: eal.worker_lcores: contains the main lcore 0"),
    (("eal.cpus", {1: 99}), "x.yaml: eal: lcore 1 (on CPU 99) is not a CPU of this host"),
    (("eal.cpus", {1: 0}), None),  # (sharing the main lcore's CPU: allowed, a lab's choice)
    (("ports.0.tx_queues", 1), None),  # fine with one worker
    (("rules", [{"proto": "udp", "src": "192.0.2.1", "dst": "10.0.0.1", "action": "forward"}]),
     "x.yaml: rules[0].nexthop: a forward rule needs a nexthop"),
])
def test_semantic_errors(change, message):
    if message is None:
        parse_config(with_change(*change), "x.yaml")
        return
    with pytest.raises(ConfigError) as e:
        parse_config(with_change(*change), "x.yaml")
    assert message in str(e.value)


def test_all_errors_are_reported_at_once():
    doc = with_change("routes.0.nexthop", 7)
    doc["nexthops"][0]["port"] = "lan9"
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "x.yaml")
    assert len(str(e.value).splitlines()) == 2


def test_yaml_syntax_error_names_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ports:\n  - name: a\n   device: x\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line 3 column 4: not valid YAML"):
        load_config(bad)


def test_validate_command_exit_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(MINIMAL))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_change("routes.0.nexthop", 7)))
    ok = subprocess.run([sys.executable, "-m", "appliance", "config", "validate", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "ok (2 ports" in ok.stdout
    fail = subprocess.run([sys.executable, "-m", "appliance", "config", "validate", str(bad)],
                          capture_output=True, text=True)
    assert fail.returncode == 2
    assert fail.stderr.strip() == f"ConfigError: {bad}: routes[0].nexthop: next hop 7 is not defined"
    other = subprocess.run([sys.executable, "-m", "appliance", "config", "validate",
                            str(CONFIGS / "rss-multiqueue.yaml")], capture_output=True, text=True)
    assert other.returncode == 2 and "eal: lcore 5 is not a CPU of this host" in other.stderr
    other = subprocess.run([sys.executable, "-m", "appliance", "config", "validate",
                            "--no-host-checks", str(CONFIGS / "rss-multiqueue.yaml")],
                           capture_output=True, text=True)
    assert other.returncode == 0, other.stderr


def test_example_inventory_configs_validate():
    inventory = yaml.safe_load((CONFIGS / "inventory.yml").read_text())
    for name, host in inventory["all"]["hosts"].items():
        parse_config(host["appliance_config"], f"inventory {name}", check_host=False)


@pytest.mark.parametrize("path, value, message", [
    ("ports.0.addresses", ["192.0.2.1"], "needs its prefix length"),
    ("ports.0.addresses", ["192.0.2.300/24"], "192.0.2.300/24"),
    ("ports.0.addresses", ["192.0.2.0/24"], "network or broadcast address"),
    ("ports.0.addresses", ["192.0.2.255/24"], "network or broadcast address"),
    ("ports.0.addresses", ["127.0.0.1/8"], "not a usable unicast address"),
    ("ports.0.addresses", ["224.0.0.1/24"], "not a usable unicast address"),
    ("ports.0.mac", "01:00:5e:00:00:01x", "ports[0].mac"),
    ("nexthops.0", {"id": 1, "port": "lan0"}, "give either mac or gateway (got neither)"),
    ("nexthops.0", {"id": 1, "port": "lan0", "mac": "02:00:00:00:00:01", "gateway": "10.0.0.1"},
     "give either mac or gateway (got both)"),
    ("nexthops.0", {"id": 1, "port": "lan0", "gateway": "10.0.0.300"}, "nexthops[0].gateway"),
    ("neighbors", [{"port": "lan9", "ip": "10.0.0.1", "mac": "02:00:00:00:00:01"}],
     "neighbors[0].port: unknown interface 'lan9'"),
    ("icmp.rate_limit", -1, "icmp.rate_limit"),
    ("arp.probes", 0, "arp.probes"),
])
def test_router_settings_are_checked(path, value, message):
    with pytest.raises(ConfigError, match=re_escape(message)):
        parse_config(with_change(path, value), "x.yaml")


@pytest.mark.parametrize("address", ["198.19.167.86/31", "198.19.167.87/31", "192.0.2.1/32"])
def test_point_to_point_addresses_validate(address):
    """RFC 3021: both ends of a /31 are hosts (the native side agrees: tests/e2e test_router)."""
    parse_config(with_change("ports.0.addresses", [address]), "x.yaml")


def test_an_address_on_two_ports_is_refused():
    doc = with_change("ports.0.addresses", ["192.0.2.1/24"])
    doc["ports"][1]["addresses"] = ["192.0.2.1/25"]
    with pytest.raises(ConfigError, match=r"ports\[1\].addresses\[0\]: 192.0.2.1 is already "
                                          r"ports\[0\].addresses\[0\]"):
        parse_config(doc, "x.yaml")


def test_router_settings_reach_the_dataplane_description():
    doc = with_change("ports.0.addresses", ["192.0.2.1/24"])
    doc["ports"][0]["mac"] = "02:00:00:00:00:aa"
    doc["icmp"] = {"rate_limit": 10, "burst": 3}
    doc["arp"] = {"retrans_ms": 250}
    dp = parse_config(doc).dataplane_config()
    assert dp.ports[0].mac == "02:00:00:00:00:aa" and not dp.ports[0].promiscuous
    assert (dp.slowpath.icmp_rate, dp.slowpath.icmp_burst, dp.slowpath.retrans_ms) == (10, 3, 250)


def re_escape(text: str) -> str:
    import re
    return re.escape(text)


@pytest.mark.parametrize("path, value, message", [
    ("eal.memory_mb", 10 ** 15, "eal.memory_mb: Input should be less than or equal to 1048576"),
    ("eal.worker_lcores", [5000], "eal.worker_lcores[0]: Input should be less than or equal to 1023"),
    ("eal.hugepages", "yes", "eal.hugepages: Input should be a valid boolean (got 'yes')"),
    ("icmp.rate_limit", float("nan"), "icmp.rate_limit: Input should be less than or equal to"),
    ("nexthops.0.id", 1.0, "nexthops[0].id: Input should be a valid integer (got 1.0)"),
    ("routes.0.nexthop", "1", "routes[0].nexthop: Input should be a valid integer (got '1')"),
    ("nexthops.0.mac", "01:00:5e:00:00:01", "nexthops[0].mac: not a unicast MAC"),
    ("state_file", "", "state_file: String should have at least 1 character"),
    ("api.read_timeout_s", 0, "api.read_timeout_s: Input should be greater than 0"),
    ("ports.0.device", "x" * 100_000, "(got 'xxxxxxxxxxxx"),
])
def test_bounds_and_strict_types(path, value, message):
    with pytest.raises(ConfigError, match=re_escape(message)) as e:
        parse_config(with_change(path, value), "x.yaml")
    assert len(str(e.value)) < 1000


def test_a_token_file_is_checked_at_validation(tmp_path):
    token = tmp_path / "token"
    doc = with_change("api", {"tcp_listen": "127.0.0.1:8080", "token_file": str(token)})
    for content, message in [(None, "cannot read: No such file"), ("", "the token file is empty"),
                             ("two words\n", "the token must be one line of printable ASCII")]:
        if content is not None:
            token.write_text(content)
        with pytest.raises(ConfigError, match=re_escape(f"api.token_file: {token}: {message}")):
            parse_config(doc, "x.yaml")
    token.write_text("s3cret\n")
    assert parse_config(doc, "x.yaml").api.token_file == str(token)


@pytest.mark.parametrize("path, value, needs", [
    ("routes", [{"prefix": "10.0.0.0/8", "nexthop": 1}, {"prefix": "172.16.0.0/12", "nexthop": 1}], []),
    ("ports.0.addresses", ["192.0.2.1/24"], []),
    ("eal.memory_mb", 1024, ["eal"]),
    ("ports.0.mtu", 9000, ["ports"]),
    ("tables.max_routes", 4096, ["tables"]),
    ("metrics", {"listen": "127.0.0.1:9999"}, ["metrics"]),
    ("ports.1.kernel", {"name": "lan0k"}, ["ports"]),
    ("api.socket", "/run/other.sock", ["api"]),
])
def test_what_a_change_needs_reload_or_restart(path, value, needs):
    """A reload (SIGHUP, `appliance reload`) applies tables only; the rest needs a restart
    and a reload refuses it whole (metrics and route_sync included: they were taken silently)."""
    from appliance.config import restart_needed
    old, new = parse_config(MINIMAL, "old"), parse_config(with_change(path, value), "new")
    assert restart_needed(old, new) == needs


def test_config_compare_command(tmp_path):
    old, new, big = tmp_path / "old.yaml", tmp_path / "new.yaml", tmp_path / "big.yaml"
    old.write_text(yaml.safe_dump(MINIMAL))
    new.write_text(yaml.safe_dump(with_change("routes", [{"prefix": "10.9.0.0/16", "nexthop": 1}])))
    big.write_text(yaml.safe_dump(with_change("tables.max_routes", 4096)))

    def compare(a, b):
        r = subprocess.run([sys.executable, "-m", "appliance", "config", "compare", str(a), str(b)],
                           capture_output=True, text=True)
        return r.returncode, r.stdout.strip()
    assert compare(old, old) == (0, "same")
    assert compare(old, new) == (0, "reload")
    assert compare(old, big) == (0, "restart: tables")
    assert compare(tmp_path / "none.yaml", new) == (0, "start")
    assert compare(old, tmp_path / "none.yaml")[0] == 2
