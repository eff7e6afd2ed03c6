"""The connection table in the config: its section, interfaces marked stateful, what a
reload may change, the state file's records of it."""
import pytest

from appliance.config import parse_config, restart_needed
from appliance.dataplane import _native_spec
from appliance.errors import ConfigError
from appliance.state import StateFile, StateFileError
from appliance.tables import Tables


def config(**extra) -> dict:
    return {"eal": {"main_lcore": 0, "worker_lcores": [1]},
            "conntrack": {"max_sessions": 1000, "udp": 60},
            "ports": [{"name": "lan0", "device": "net_null0"},
                      {"name": "wan0", "device": "net_null1", "stateful": True,
                       "vlans": [{"vlan": 7, "stateful": True}]}],
            **extra}


def errors_of(doc: dict) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "x.yaml")
    return str(e.value)


def test_the_table_and_the_stateful_interfaces_reach_the_data_plane_and_tables():
    cfg = parse_config(config())
    spec = _native_spec(cfg.dataplane_config())
    assert spec.conntrack.max_sessions == 1000
    assert (spec.conntrack.timeouts.udp, spec.conntrack.timeouts.tcp_established) == (60, 7440)
    assert Tables.from_config(cfg).stateful == {"wan0": True, "wan0.7": True}
    assert _native_spec(parse_config({**config(), "conntrack": None,
                                      "ports": [{"name": "a", "device": "net_null0"}]})
                        .dataplane_config()).conntrack.max_sessions == 0


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("conntrack"), "x.yaml: ports[1].stateful: needs the connection table"),
    (lambda d: d["conntrack"].update(max_sessions=8), "x.yaml: conntrack.max_sessions: Input "
                                                       "should be greater than or equal to 16"),
    (lambda d: d["conntrack"].update(udp=0), "x.yaml: conntrack.udp: Input should be greater"),
    (lambda d: d["conntrack"].update(tcp_established="2h"), "x.yaml: conntrack.tcp_established: "
                                                             "Input should be a valid integer"),
    (lambda d: d["conntrack"].update(syn=5), "x.yaml: conntrack.syn: unknown key"),
    (lambda d: d["ports"][0].update(stateful="yes"), "x.yaml: ports[0].stateful"),
])
def test_bad_conntrack_config_is_named_by_path(change, message):
    doc = config()
    change(doc)
    assert message in errors_of(doc)


def test_stateful_changes_with_a_reload_the_table_with_a_restart():
    old = parse_config(config())
    flipped = config()
    flipped["ports"][0]["stateful"] = True
    flipped["ports"][1]["stateful"] = False
    assert restart_needed(old, parse_config(flipped)) == []
    bigger = config()
    bigger["conntrack"]["max_sessions"] = 2000
    assert restart_needed(old, parse_config(bigger)) == ["conntrack"]


def test_stateful_interfaces_set_at_runtime_survive_in_the_state_file(tmp_path):
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.record("stateful", "lan0", True)
    s.record("stateful", "wan0.7", None)
    s.close()
    assert StateFile(path).load().stateful == {"lan0": True, "wan0.7": None}


@pytest.mark.parametrize("key, value", [("lan 0", True), ("lan0", False), ("lan0", 1)])
def test_a_damaged_stateful_record_is_refused(tmp_path, key, value):
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.record("stateful", key, value)
    s.record("stateful", "lan0", True)  # not the last: a damaged record, not a torn one
    s.close()
    with pytest.raises(StateFileError, match="line 1"):
        StateFile(path).load()
