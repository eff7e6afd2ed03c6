"""The state file replays every recorded change, survives torn writes, compacts."""
import pytest

from appliance.errors import StateError
from appliance.state import StateFile
from appliance.tables import Overlay


def test_changes_replay_in_order(tmp_path):
    s = StateFile(tmp_path / "state.json")
    s.snapshot(Overlay(routes={"10.0.0.0/8": 1}))
    s.record("routes", "10.0.0.0/8", 2)
    s.record("nexthops", 7, {"port": "lan0", "mac": "02:00:00:00:00:07", "src_mac": None})
    s.record("rules", (17, "192.0.2.1", 53, "10.0.0.1", 4000), {"action": "drop", "nexthop": None})
    s.record_bulk("routes", [("172.16.0.0/24", 7), ("172.16.1.0/24", 7)])
    s.record("routes", "172.16.0.0/24", None)
    s.close()
    o = StateFile(tmp_path / "state.json").load()
    assert o.routes == {"10.0.0.0/8": 2, "172.16.1.0/24": 7, "172.16.0.0/24": None}
    assert o.nexthops[7]["mac"] == "02:00:00:00:00:07"
    assert o.rules[(17, "192.0.2.1", 53, "10.0.0.1", 4000)]["action"] == "drop"


def test_torn_last_line_is_ignored_but_a_broken_middle_is_an_error(tmp_path):
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.snapshot(Overlay())
    s.record("routes", "10.0.0.0/8", 1)
    s.close()
    with open(path, "a") as f:
        f.write('{"kind": "routes", "key": "11.0.0.0/8", "va')
    assert StateFile(path).load().routes == {"10.0.0.0/8": 1}
    with open(path, "a") as f:
        f.write('\n{"kind": "routes", "key": "12.0.0.0/8", "value": 1}\n')
    with pytest.raises(StateError, match="line 3 unreadable"):
        StateFile(path).load()


def test_snapshot_compacts(tmp_path, monkeypatch):
    monkeypatch.setattr("appliance.state.COMPACT_AFTER", 3)
    s = StateFile(tmp_path / "state.json")
    for i in range(3):
        s.record("routes", f"10.{i}.0.0/16", 1)
    assert s.needs_compaction()
    s.snapshot(s.load())
    assert len((tmp_path / "state.json").read_text().splitlines()) == 1
    assert len(StateFile(tmp_path / "state.json").load().routes) == 3
