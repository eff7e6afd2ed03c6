"""NAT44 in the config: the `nat` section of an interface, what is refused and where it
is named, what reaches the data plane (addresses resolved), what a reload changes, and
the state file's records of it."""
import copy

import pytest

from appliance.config import parse_config, restart_needed
from appliance.errors import ConfigError
from appliance.nat import nat_rules
from appliance.state import StateFile, StateFileError
from appliance.tables import Tables, describe_diff


def config(**wan) -> dict:
    nat = {"source": "masquerade",
           "forwards": [{"proto": "tcp", "port": 8080, "to": "10.0.0.2", "to_port": 80},
                        {"address": "198.51.100.9", "to": "10.0.0.9"}]}
    return {"eal": {"main_lcore": 0, "worker_lcores": [1]},
            "conntrack": {},
            "ports": [{"name": "lan0", "device": "net_null0", "addresses": ["10.0.0.1/24"]},
                      {"name": "wan0", "device": "net_null1", "addresses": ["198.51.100.1/24"],
                       "stateful": True, "nat": {**nat, **wan}}]}


def errors_of(doc: dict) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "x.yaml")
    return str(e.value)


def test_the_rules_reach_the_data_plane_with_their_addresses_resolved():
    tables = Tables.from_config(parse_config(config()))
    ifaces, forwards = nat_rules(tables.nat, tables.addresses)
    assert ifaces == {"wan0": {"source": "masquerade", "addresses": ["198.51.100.1"],
                               "ports": [1024, 65535]}}
    assert forwards == [
        {"iface": "wan0", "proto": "tcp", "public_addr": "198.51.100.1", "public_port": 8080,
         "to_addr": "10.0.0.2", "to_port": 80},
        {"iface": "wan0", "proto": "", "public_addr": "198.51.100.9", "public_port": 0,
         "to_addr": "10.0.0.9", "to_port": 0}]
    pool = Tables.from_config(parse_config(config(source="pool", pool=["203.0.113.8/30", "203.0.113.20"],
                                                  ports=[2000, 3000])))
    ifaces, _ = nat_rules(pool.nat, pool.addresses)
    assert ifaces["wan0"] == {"source": "pool", "ports": [2000, 3000], "addresses": [
        "203.0.113.8", "203.0.113.9", "203.0.113.10", "203.0.113.11", "203.0.113.20"]}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("conntrack"), "x.yaml: ports[1].nat: needs the connection table"),
    (lambda d: d["ports"][1]["nat"].update(ports=[3000, 2000]),
     "x.yaml: ports[1].nat: ports [3000, 2000]: out of order"),
    (lambda d: d["ports"][1]["nat"].update(ports=[0, 2000]), "x.yaml: ports[1].nat.ports[0]: Input should be "
                                                             "greater than or equal to 1"),
    (lambda d: d["ports"][1]["nat"].update(source="pool"), "source pool needs pool addresses"),
    (lambda d: d["ports"][1]["nat"].update(source="pool", pool=[]), "source pool needs pool addresses"),
    (lambda d: d["ports"][1]["nat"].update(pool=["203.0.113.8"]), "pool is for source: pool"),
    (lambda d: d["ports"][1]["nat"].update(source="pool", pool=["203.0.113.9/30"]),
     "x.yaml: ports[1].nat.pool: '203.0.113.9/30': not an IPv4 address or network"),
    (lambda d: d["ports"][1]["nat"].update(source="pool", pool=["203.0.113.8/30", "203.0.113.10"]),
     "x.yaml: ports[1].nat.pool[1]: 203.0.113.10 overlaps ports[1].nat.pool[0]"),
    (lambda d: d["ports"][1]["nat"].update(source="snat"), "x.yaml: ports[1].nat.source: Input should be"),
    (lambda d: d["ports"][1].update(addresses=[]), "x.yaml: ports[1].nat.source: masquerade needs an "
                                                   "IPv4 address on wan0"),
    (lambda d: d["ports"][1]["nat"]["forwards"][0].update(to="192.0.2.5"),
     "x.yaml: ports[1].nat.forwards[0].to: 192.0.2.5 is on no interface's subnet in VRF default"),
    (lambda d: d["ports"][1]["nat"]["forwards"][0].pop("port"),
     "x.yaml: ports[1].nat.forwards[0]: a port forward gives both proto and port"),
    (lambda d: d["ports"][1]["nat"]["forwards"][1].update(to_port=80), "to_port is for port forwards"),
    (lambda d: d["ports"][1]["nat"]["forwards"][0].update(port=70000),
     "x.yaml: ports[1].nat.forwards[0].port: Input should be less than or equal to 65535"),
    (lambda d: d["ports"][1]["nat"]["forwards"].append(
        {"proto": "tcp", "port": 8080, "to": "10.0.0.3"}),
     "x.yaml: ports[1].nat.forwards[2]: 198.51.100.1 tcp 8080 is already forwarded by ports[1].nat.forwards[0]"),
    (lambda d: d["ports"][1]["nat"]["forwards"][1].update(address="198.51.100.1"),
     "x.yaml: ports[1].nat.forwards[1]: 198.51.100.1 is already forwarded"),
    (lambda d: d["ports"][1]["nat"].update(extra=1), "x.yaml: ports[1].nat.extra: unknown key"),
])
def test_bad_nat_config_is_named_by_path(change, message):
    doc = config()
    change(doc)
    assert message in errors_of(doc)


def test_nat_changes_with_a_reload_and_the_diff_says_so():
    old = parse_config(config())
    doc = config(ports=[5000, 6000])
    new = parse_config(doc)
    assert restart_needed(old, new) == []
    lines = describe_diff(Tables.from_config(old), Tables.from_config(new))
    assert any(line.startswith("~ nat wan0") for line in lines), lines


def test_the_state_file_keeps_an_interfaces_nat_and_refuses_a_bad_one(tmp_path):
    path = tmp_path / "state.json"
    state = StateFile(path)
    value = Tables.from_config(parse_config(config())).nat["wan0"]
    state.record("nat", "wan0", value)
    assert StateFile(path).load().nat == {"wan0": value}
    bad = copy.deepcopy(value)
    bad["ports"] = [9, 1]
    state.record("nat", "wan0", bad)
    with pytest.raises(StateFileError, match="NAT"):
        StateFile(path).load()
