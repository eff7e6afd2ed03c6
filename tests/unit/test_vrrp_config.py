"""VRRP in the config: the `vrrp` list of an interface, what is refused and where it is
named, what reaches the data plane, what a reload changes, and the state file (which never
holds virtual routers)."""
import pytest

from appliance.config import parse_config, restart_needed
from appliance.errors import ConfigError
from appliance.state import StateFile, StateFileError
from appliance.tables import Tables, describe_diff
from appliance.vrrp import vrrp_settings


def config(*routers: dict) -> dict:
    return {"eal": {"main_lcore": 0, "worker_lcores": [1]},
            "ports": [{"name": "lan0", "device": "net_null0",
                       "addresses": ["192.0.2.2/24", "2001:db8:a::2/64"],
                       "vrrp": list(routers) or [
                           {"vrid": 10, "priority": 200, "interval_ms": 100,
                            "addresses": ["192.0.2.1"], "track": [{"interface": "wan0",
                                                                   "decrement": 150}]},
                           {"vrid": 10, "addresses": ["fe80::1", "2001:db8:a::1"]}]},
                      {"name": "wan0", "device": "net_null1", "addresses": ["198.51.100.2/24"]}]}


def errors_of(doc: dict) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "x.yaml")
    return str(e.value)


def test_each_router_reaches_the_data_plane_with_its_defaults():
    tables = Tables.from_config(parse_config(config()))
    assert tables.vrrp == {
        "lan0 10 ipv4": {"addresses": ["192.0.2.1"], "priority": 200, "interval_ms": 100,
                         "preempt": True, "preempt_delay_ms": 0, "accept": False,
                         "track": {"wan0": 150}},
        "lan0 10 ipv6": {"addresses": ["fe80::1", "2001:db8:a::1"], "priority": 100,
                         "interval_ms": 1000, "preempt": True, "preempt_delay_ms": 0,
                         "accept": False, "track": {}}}
    s = vrrp_settings("lan0 10 ipv6", tables.vrrp["lan0 10 ipv6"])
    assert (s.interface, s.vrid, s.v6) == ("lan0", 10, True)


V4 = {"vrid": 10, "addresses": ["192.0.2.1"]}


@pytest.mark.parametrize("router, message", [
    ({**V4, "vrid": 0}, "x.yaml: ports[0].vrrp[0].vrid: Input should be greater than or equal to 1"),
    ({**V4, "vrid": 256}, "x.yaml: ports[0].vrrp[0].vrid: Input should be less than or equal to 255"),
    ({**V4, "priority": 0}, "x.yaml: ports[0].vrrp[0].priority: 0: 1..254, or 255 for the owner"),
    ({**V4, "interval_ms": 105}, "ports[0].vrrp[0].interval_ms: 105: advertisements go in 10 ms steps"),
    ({**V4, "interval_ms": 5}, "ports[0].vrrp[0].interval_ms: Input should be greater than or equal to 10"),
    ({**V4, "addresses": ["198.51.100.9"]},
     "x.yaml: ports[0].vrrp[0].addresses[0]: 198.51.100.9 is outside lan0's subnets (only accept "
     "mode may have such an address)"),
    ({**V4, "addresses": ["192.0.2.2"]},
     "ports[0].vrrp[0].addresses[0]: 192.0.2.2 is lan0's own address: only its owner (priority 255)"),
    ({**V4, "priority": 255}, "ports[0].vrrp[0].addresses[0]: 192.0.2.1: priority 255 is the owner's"),
    ({**V4, "addresses": ["192.0.2.1", "2001:db8:a::1"]}, "x.yaml: ports[0].vrrp[0]: addresses of both families"),
    ({**V4, "track": [{"interface": "nope"}]},
     "ports[0].vrrp[0].track[0].interface: unknown interface 'nope' (interfaces: lan0, wan0)"),
    ({**V4, "preempt": "yes"}, "ports[0].vrrp[0].preempt: Input should be a valid boolean"),
    ({**V4, "colour": 1}, "ports[0].vrrp[0].colour: unknown key"),
])
def test_bad_routers_are_refused_naming_the_path(router, message):
    assert message in errors_of(config(router))


def test_outside_the_subnets_is_fine_with_accept_mode_and_one_vrid_is_one_router():
    parse_config(config({**V4, "addresses": ["198.51.100.9"], "accept": True}))
    parse_config(config({"vrid": 10, "priority": 255, "addresses": ["192.0.2.2"]}))
    assert "ports[0].vrrp[1].vrid: 10 (ipv4) is already ports[0].vrrp[0]" in errors_of(config(V4, V4))
    assert "192.0.2.1 is already ports[0].vrrp[0].addresses[0]'s" in errors_of(
        config(V4, {**V4, "vrid": 11}))


def test_a_reload_changes_them_and_the_diff_says_how():
    old = parse_config(config())
    doc = config()
    doc["ports"][0]["vrrp"][0]["priority"] = 50
    del doc["ports"][0]["vrrp"][1]
    new = parse_config(doc)
    assert restart_needed(old, new) == []
    lines = describe_diff(Tables.from_config(old), Tables.from_config(new))
    assert lines == [
        "- vrrp lan0 10 ipv6: {'addresses': ['fe80::1', '2001:db8:a::1'], 'priority': 100, "
        "'interval_ms': 1000, 'preempt': True, 'preempt_delay_ms': 0, 'accept': False, 'track': {}}",
        "~ vrrp lan0 10 ipv4: {'addresses': ['192.0.2.1'], 'priority': 200, 'interval_ms': 100, "
        "'preempt': True, 'preempt_delay_ms': 0, 'accept': False, 'track': {'wan0': 150}} -> "
        "{'addresses': ['192.0.2.1'], 'priority': 50, 'interval_ms': 100, 'preempt': True, "
        "'preempt_delay_ms': 0, 'accept': False, 'track': {'wan0': 150}}"]


def test_a_state_file_with_a_virtual_router_is_refused(tmp_path):
    path = tmp_path / "state.json"
    written = StateFile(str(path))
    written.load()
    written.record("vrrp", "lan0 10 ipv4", {"priority": 255})  # (nothing in the appliance does)
    written.close()
    with pytest.raises(StateFileError, match="virtual routers come from the config only"):
        StateFile(str(path)).load()


def test_one_link_local_virtual_address_may_serve_every_link():
    doc = config()
    doc["ports"][1]["addresses"].append("2001:db8:b::2/64")
    doc["ports"][1]["vrrp"] = [{"vrid": 20, "addresses": ["fe80::1", "2001:db8:b::1"]}]
    parse_config(doc)
    doc["ports"][0]["vrrp"].append({"vrid": 11, "addresses": ["fe80::1"]})
    assert "ports[0].vrrp[2].addresses[0]: fe80::1 is already ports[0].vrrp[1].addresses[0]'s" \
        in errors_of(doc)
