"""VRFs in the config: interfaces and routes name theirs; addresses are unique per VRF;
what a reload may change; route keys in the tables and the state file."""
import pytest

from appliance.config import parse_config, restart_needed
from appliance.dataplane import _native_spec
from appliance.errors import ConfigError
from appliance.state import StateFile, StateFileError
from appliance.tables import Tables, route_key_parse


def config(**extra) -> dict:
    return {"eal": {"main_lcore": 0, "worker_lcores": [1]},
            "vrfs": [{"name": "red"}, {"name": "blue"}],
            "ports": [{"name": "cust0", "device": "net_null0", "vrf": "red",
                       "addresses": ["10.0.0.1/24"],
                       "vlans": [{"vlan": 20, "vrf": "blue", "addresses": ["10.0.0.1/24"]}]},
                      {"name": "shared0", "device": "net_null1", "addresses": ["192.0.2.1/24"]}],
            "nexthops": [{"id": 1, "port": "shared0", "gateway": "192.0.2.10"}],
            "routes": [{"prefix": "192.0.2.10/32", "nexthop": 1, "vrf": "red"},
                       {"prefix": "192.0.2.10/32", "nexthop": 1, "vrf": "blue"},
                       {"prefix": "198.51.100.0/24", "nexthop": 1}],
            **extra}


def errors_of(doc: dict) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "x.yaml")
    return str(e.value)


def test_interfaces_and_routes_carry_their_vrf_to_the_data_plane_and_tables():
    cfg = parse_config(config())
    spec = _native_spec(cfg.dataplane_config())
    assert spec.vrfs == ["red", "blue"]
    assert [p.vrf for p in spec.ports] == ["red", "default"] and spec.vlans[0].vrf == "blue"
    tables = Tables.from_config(cfg)
    assert tables.routes == {"red 192.0.2.10/32": 1, "blue 192.0.2.10/32": 1, "198.51.100.0/24": 1}
    assert route_key_parse("red 192.0.2.10/32") == ("red", "192.0.2.10/32")
    assert route_key_parse("198.51.100.0/24") == ("default", "198.51.100.0/24")


@pytest.mark.parametrize("change, message", [
    (lambda d: d["ports"][0].update(vrf="green"),
     "x.yaml: ports[0].vrf: unknown VRF 'green' (VRFs: blue, default, red)"),
    (lambda d: d["routes"][0].update(vrf="green"), "x.yaml: routes[0].vrf: unknown VRF 'green'"),
    (lambda d: d["vrfs"].append({"name": "red"}), "x.yaml: vrfs[2]: duplicate of vrfs[0] (red)"),
    (lambda d: d["vrfs"].append({"name": "default"}),
     "x.yaml: vrfs[2].name: 'default' is the global VRF's name"),
    (lambda d: d["vrfs"].append({"name": "has space"}), "x.yaml: vrfs[2].name: String should match"),
    (lambda d: d["routes"].append({"prefix": "192.0.2.10/32", "nexthop": 1, "vrf": "red"}),
     "x.yaml: routes[3]: duplicate of routes[0]"),
    # Two interfaces of one VRF with one address: cust0.20 is moved into red.
    (lambda d: d["ports"][0]["vlans"][0].update(vrf="red"),
     "x.yaml: ports[0].vlans[0].addresses[0]: 10.0.0.1 is already ports[0].addresses[0] "
     "(both in VRF red)"),
])
def test_bad_vrf_config_is_named_by_path(change, message):
    doc = config()
    change(doc)
    assert message in errors_of(doc)


def test_one_address_in_the_global_vrf_twice_is_still_refused():
    doc = config()
    doc["ports"][1]["addresses"].append("10.0.0.1/24")
    doc["ports"][0]["vrf"] = "default"
    assert "10.0.0.1 is already ports[0].addresses[0]" in errors_of(doc)


def test_vrfs_and_interface_vrfs_need_a_restart_routes_in_them_do_not():
    old = parse_config(config())
    more_routes = config()
    more_routes["routes"].append({"prefix": "203.0.113.0/24", "nexthop": 1, "vrf": "blue"})
    assert restart_needed(old, parse_config(more_routes)) == []
    moved = config()
    moved["ports"][1]["vrf"] = "blue"
    assert restart_needed(old, parse_config(moved)) == ["ports"]
    fewer = config()
    fewer["vrfs"].append({"name": "green"})
    assert restart_needed(old, parse_config(fewer)) == ["vrfs"]


def test_routes_of_a_vrf_survive_the_state_file(tmp_path):
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.record("routes", "red 203.0.113.0/24", 1)
    state.record_bulk("routes", [("blue 203.0.113.0/24", 1), ("198.51.100.0/24", 1)])
    state.close()
    assert StateFile(path).load().routes == {
        "red 203.0.113.0/24": 1, "blue 203.0.113.0/24": 1, "198.51.100.0/24": 1}


@pytest.mark.parametrize("key", ["red  10.0.0.0/8", "bad!vrf 10.0.0.0/8", "red 10.0.0.1/8", "red"])
def test_a_damaged_route_key_in_the_state_file_is_refused(tmp_path, key):
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.record("routes", key, 1)
    state.record("routes", "red 203.0.113.0/24", 1)  # so the bad one is not a torn last record
    state.close()
    with pytest.raises(StateFileError, match="line 1"):
        StateFile(path).load()
