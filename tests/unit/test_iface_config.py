"""VLAN sub-interfaces in the config: names, checks, what a reload may change."""
import pytest

from appliance.config import parse_config, restart_needed
from appliance.dataplane import _native_spec
from appliance.errors import ConfigError
from appliance.tables import Tables


def config(**port0) -> dict:
    return {"eal": {"main_lcore": 0, "worker_lcores": [1]},
            "ports": [{"name": "trunk0", "device": "net_null0", "kernel": {"name": "trunk0"},
                       "addresses": ["192.0.2.1/24"], **port0},
                      {"name": "wan0", "device": "net_null1"}],
            "nexthops": [{"id": 1, "port": "trunk0.10", "gateway": "10.10.0.9"}],
            "acls": [{"name": "edge"}]}


VLANS = [{"vlan": 10, "addresses": ["10.10.0.1/24"], "acl": {"in": "edge"}},
         {"vlan": 20, "mtu": 1400, "addresses": ["10.20.0.1/24", "2001:db8:20::1/64"]}]


def errors_of(doc: dict) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "x.yaml")
    return str(e.value)


def test_sub_interfaces_are_interfaces_named_port_dot_vlan():
    cfg = parse_config(config(vlans=VLANS))
    assert [f.name for f in cfg.interfaces()] == ["trunk0", "trunk0.10", "trunk0.20", "wan0"]
    tables = Tables.from_config(cfg)
    assert ("trunk0.20", "2001:db8:20::1/64") in tables.addresses
    assert tables.acl_bindings == {("trunk0.10", "in"): "edge"}
    spec = _native_spec(cfg.dataplane_config())
    assert [(v.port, v.vlan, v.mtu) for v in spec.vlans] == [("trunk0", 10, 0), ("trunk0", 20, 1400)]


@pytest.mark.parametrize("vlans, message", [
    ([{"vlan": 0}], "x.yaml: ports[0].vlans[0].vlan: Input should be greater than or equal to 1 (got 0)"),
    ([{"vlan": 4095}], "x.yaml: ports[0].vlans[0].vlan: Input should be less than or equal to 4094"),
    ([{"vlan": "10"}], "x.yaml: ports[0].vlans[0].vlan: Input should be a valid integer"),
    ([{"vlan": 10}, {"vlan": 10}], "x.yaml: ports[0].vlans[1]: interface name trunk0.10 is already "
                                   "ports[0].vlans[0]"),
    ([{"vlan": 10, "addresses": ["192.0.2.1/24"]}],
     "x.yaml: ports[0].vlans[0].addresses[0]: 192.0.2.1 is already ports[0].addresses[0]"),
    ([{"vlan": 10, "acl": {"out": "nope"}}], "x.yaml: ports[0].vlans[0].acl.out: no ACL named 'nope'"),
    ([{"vlan": 10, "colour": "red"}], "x.yaml: ports[0].vlans[0].colour: unknown key"),
])
def test_bad_sub_interfaces_are_named_by_path(vlans, message):
    assert message in errors_of(config(vlans=vlans))


def test_a_next_hop_on_a_sub_interface_that_is_not_there_is_refused():
    assert "nexthops[0].port: unknown interface 'trunk0.10'" in errors_of(config())


def test_a_port_named_like_a_sub_interface_is_refused():
    doc = config(vlans=VLANS)
    doc["ports"][1]["name"] = "trunk0.20"
    assert "x.yaml: ports[1]: interface name trunk0.20 is already ports[0].vlans[1]" in errors_of(doc)


def test_kernel_names_are_unique_and_mtus_fit_the_port():
    message = errors_of(config(vlans=[{"vlan": 4000, "mtu": 1600, "kernel": {"name": "trunk0"}}],
                               mtu=1500))
    assert "ports[0].vlans[0].kernel.name: trunk0 is already ports[0]'s" in message
    assert "ports[0].vlans[0].mtu: 1600 is above the port's MTU 1500" in message
    assert "ports[0].vlans[0].kernel.name: String should match pattern" in errors_of(
        config(vlans=[{"vlan": 30, "kernel": {"name": "trunk0.30-too-long"}}]))


def test_sub_interface_addresses_and_acls_reload_but_the_vlans_themselves_restart():
    old = parse_config(config(vlans=VLANS))
    changed = [dict(VLANS[0], addresses=["10.10.0.2/24"], acl={}), VLANS[1]]
    assert restart_needed(old, parse_config(config(vlans=changed))) == []
    assert restart_needed(old, parse_config(config(vlans=VLANS[:1]))) == ["ports"]
    assert restart_needed(old, parse_config(config(vlans=[VLANS[0], dict(VLANS[1], mtu=1300)]))) == ["ports"]


def test_the_longest_port_name_with_the_highest_vlan_names_an_interface():
    doc = config(vlans=[{"vlan": 4094}])
    doc["ports"][0]["name"] = "trunk-uplink-abc"  # 16 characters, the most a port has
    doc["nexthops"][0]["port"] = "trunk-uplink-abc.4094"
    cfg = parse_config(doc)
    assert cfg.interfaces()[1].name == "trunk-uplink-abc.4094"
    assert cfg.nexthops[0].port == "trunk-uplink-abc.4094"


def test_router_advertisements_change_with_a_reload_and_say_so_in_the_diff():
    from appliance.tables import describe_diff
    old = parse_config(config(vlans=VLANS, ra={"max_interval_s": 60}))
    new_vlans = [VLANS[0], dict(VLANS[1], ra={"max_interval_s": 30, "rdnss": ["2001:db8::53"]})]
    new = parse_config(config(vlans=new_vlans))
    assert restart_needed(old, new) == []
    before, after = Tables.from_config(old), Tables.from_config(new)
    assert list(after.router_advertisements) == ["trunk0.20"]
    settings = after.router_advertisements["trunk0.20"]
    assert settings["rdnss"] == ["2001:db8::53"]
    assert (settings["min_interval_s"], settings["lifetime_s"], settings["rdnss_lifetime_s"]) == (10, 90, 60)
    lines = describe_diff(before, after)
    assert any(line.startswith("+ router_advertisement trunk0.20: {'max_interval_s': 30") for line in lines)
    assert any(line.startswith("- router_advertisement trunk0: {'max_interval_s': 60") for line in lines)


@pytest.mark.parametrize("ra, message", [
    ({"max_interval_s": 3}, "ports[0].ra.max_interval_s: Input should be greater than or equal to 4"),
    ({"max_interval_s": 10, "min_interval_s": 9}, "ports[0].ra: min_interval_s 9 is above 0.75 x max_interval_s"),
    ({"max_interval_s": 600, "lifetime_s": 300}, "ports[0].ra: lifetime_s 300 is below max_interval_s 600"),
    ({"rdnss": ["192.0.2.53"]}, "ports[0].ra.rdnss[0]: Input is not a valid IPv6 address"),
    ({"colour": "red"}, "ports[0].ra.colour: unknown key"),
])
def test_bad_router_advertisement_settings_are_named_by_path(ra, message):
    assert message in errors_of(config(ra=ra))
