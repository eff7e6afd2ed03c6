"""The state file replays every recorded change, trusts no damaged byte, survives a full disk."""
import json

import pytest

from appliance.errors import StorageError
from appliance.state import StateFile, StateFileError
from appliance.tables import Overlay
from tests.conftest import fill


def write_some(path) -> None:
    s = StateFile(path)
    s.snapshot(Overlay(routes={"10.0.0.0/8": 1}))
    s.record("routes", "10.0.0.0/8", 2)
    s.record("nexthops", 7, {"port": "lan0", "mac": "02:00:00:00:00:07", "src_mac": None})
    s.record("rules", (17, "192.0.2.1", 53, "10.0.0.1", 4000), {"action": "drop", "nexthop": None})
    s.record_bulk("routes", [("172.16.0.0/24", 7), ("172.16.1.0/24", 7)])
    s.record("routes", "172.16.0.0/24", None)
    s.close()


def test_changes_replay_in_order(tmp_path):
    write_some(tmp_path / "state.json")
    o = StateFile(tmp_path / "state.json").load()
    assert o.routes == {"10.0.0.0/8": 2, "172.16.1.0/24": 7, "172.16.0.0/24": None}
    assert o.nexthops[7]["mac"] == "02:00:00:00:00:07"
    assert o.rules[(17, "192.0.2.1", 53, "10.0.0.1", 4000)]["action"] == "drop"


def test_a_torn_last_record_is_dropped_and_cut_off_before_the_next_append(tmp_path):
    path = tmp_path / "state.json"
    write_some(path)
    with open(path, "ab") as f:
        f.write(b'0badc0de {"kind": "routes", "key": "11.0.0.0/8", "va')
    s = StateFile(path)
    assert "11.0.0.0/8" not in s.load().routes
    s.record("routes", "12.0.0.0/8", 1)
    s.close()
    assert StateFile(path).load().routes["12.0.0.0/8"] == 1


@pytest.mark.parametrize("damage", ["flipped digit", "truncated middle", "garbage", "no checksum",
                                    "damaged last line"])
def test_damage_anywhere_but_the_last_record_refuses_and_names_the_line(tmp_path, damage):
    path = tmp_path / "state.json"
    write_some(path)
    lines = path.read_bytes().split(b"\n")
    if damage == "flipped digit":  # still valid JSON: only the checksum can tell
        lines[1] = lines[1].replace(b'"value":2', b'"value":3')
    elif damage == "truncated middle":
        lines[1] = lines[1][:20]
    elif damage == "garbage":
        lines[1] = bytes(range(256))
    elif damage == "no checksum":
        lines[1] = lines[1].split(b" ", 1)[1]
    else:  # complete (newline-terminated), so not an append cut short
        lines[-2] = lines[-2].replace(b"172.16.0.0", b"172.16.0.1")
    path.write_bytes(b"\n".join(lines))
    line = len(lines) - 1 if damage == "damaged last line" else 2
    with pytest.raises(StateFileError, match=rf"state.json: line {line}: damaged record.*--set-aside-state"):
        StateFile(path).load()


def test_a_compacted_file_cut_short_is_damage_not_a_torn_append(tmp_path):
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.snapshot(Overlay(routes={"10.0.0.0/8": 1, "11.0.0.0/8": 2}))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(StateFileError, match="line 1: damaged record.*cut short"):
        StateFile(path).load()


def test_a_damaged_snapshot_refuses_too(tmp_path):
    path = tmp_path / "state.json"
    write_some(path)
    s = StateFile(path)
    s.snapshot(s.load())
    s.record("routes", "13.0.0.0/8", 1)
    s.close()
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(StateFileError, match="line 1"):
        StateFile(path).load()


def test_set_aside_keeps_the_damaged_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b"\x00garbage\nmore\n")
    s = StateFile(path)
    with pytest.raises(StateFileError):
        s.load()
    aside = s.set_aside()
    assert aside.read_bytes() == b"\x00garbage\nmore\n" and not path.exists()


def test_a_file_without_checksums_from_the_previous_format_is_read(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"snapshot": {"routes": {"10.0.0.0/8": 1}}}) + "\n"
                    + json.dumps({"kind": "routes", "key": "11.0.0.0/8", "value": 2}) + "\n")
    assert StateFile(path).load().routes == {"10.0.0.0/8": 1, "11.0.0.0/8": 2}


def test_snapshot_compacts(tmp_path, monkeypatch):
    monkeypatch.setattr("appliance.state.COMPACT_AFTER", 3)
    s = StateFile(tmp_path / "state.json")
    for i in range(3):
        s.record("routes", f"10.{i}.0.0/16", 1)
    assert s.needs_compaction()
    s.snapshot(s.load())
    assert len((tmp_path / "state.json").read_text().splitlines()) == 1
    assert len(StateFile(tmp_path / "state.json").load().routes) == 3


def test_a_write_refused_for_a_full_disk_leaves_nothing_behind(small_disk):
    path = small_disk / "state.json"
    s = StateFile(path)
    s.snapshot(Overlay())
    s.record("routes", "10.0.0.0/8", 1)
    fill(small_disk)
    refused = 0
    for i in range(200):  # big records so that some fail part way through
        try:
            s.record_bulk("routes", [(f"11.{i}.{j}.0/24", 2) for j in range(100)])
        except StorageError as e:
            assert "No space left on device" in str(e)
            refused += 1
    assert refused
    with pytest.raises(StorageError):
        s.snapshot(Overlay())
    s.close()
    (small_disk / "filler").unlink()
    replayed = StateFile(path).load().routes
    accepted = 200 - refused
    assert len(replayed) == 1 + 100 * accepted
    assert all(f"11.{i}.0.0/24" in replayed for i in range(accepted))


def test_an_emptied_file_is_damage_not_a_fresh_start(tmp_path):
    """Every file the appliance writes holds a record from its first write on, so an empty
    one lost its changes (a truncation): refused, not read as "no changes"."""
    path = tmp_path / "state.json"
    write_some(path)
    path.write_bytes(b"")
    with pytest.raises(StateFileError, match=r"state.json: empty.*--set-aside-state"):
        StateFile(path).load()


def test_the_first_record_of_a_new_file_is_written_whole(tmp_path, small_disk):
    """No snapshot at start (a full disk): the first change creates the file whole, and a
    first change the disk refuses leaves no file (not an empty one)."""
    path = tmp_path / "state.json"
    s = StateFile(path)
    assert s.load() == Overlay()
    s.record("routes", "10.0.0.0/8", 1)
    s.record("routes", "10.1.0.0/16", 1)
    s.close()
    assert StateFile(path).load().routes == {"10.0.0.0/8": 1, "10.1.0.0/16": 1}
    fill(small_disk)
    s = StateFile(small_disk / "state.json")
    with pytest.raises(StorageError):
        s.record_bulk("routes", [(f"11.{i}.0.0/16", 2) for i in range(200)])
    assert not (small_disk / "state.json").exists()
    assert [p.name for p in small_disk.iterdir()] == ["filler"]


def test_a_table_diff_says_what_is_added_removed_and_changed():
    from appliance.tables import Tables, describe_diff, nexthop_value
    now = Tables(routes={"10.1.0.0/16": 1, "10.3.0.0/16": 1},
                 nexthops={1: nexthop_value("lan0", "02:00:00:00:00:01")})
    then = Tables(routes={"10.1.0.0/16": 2, "10.2.0.0/16": 1},
                  nexthops={1: nexthop_value("lan0", "02:00:00:00:00:01"),
                            2: nexthop_value("lan1", gateway="10.0.2.2")})
    assert describe_diff(now, then) == [
        "+ nexthop 2: {'port': 'lan1', 'mac': None, 'src_mac': None, 'gateway': '10.0.2.2'}",
        "+ route 10.2.0.0/16: 1", "- route 10.3.0.0/16: 1", "~ route 10.1.0.0/16: 1 -> 2"]
    assert describe_diff(then, then) == []


def test_router_advertisements_replay_and_impossible_ones_are_damage(tmp_path):
    from appliance.config import RaSection
    from appliance.tables import ra_value
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.snapshot(Overlay())
    value = ra_value(RaSection(max_interval_s=60, rdnss=["2001:db8::53"]).settings("trunk0.10"))
    s.record("router_advertisements", "trunk0.10", value)
    s.record("router_advertisements", "lan0", None)
    s.close()
    o = StateFile(path).load()
    assert o.router_advertisements == {"trunk0.10": value, "lan0": None}
    # A record that passes its checksum but says what the API never takes: refused.
    bad = json.dumps({"kind": "router_advertisements", "key": "lan0",
                      "value": dict(value, max_interval_s=1)}, separators=(",", ":")).encode()
    import zlib
    with open(path, "ab") as f:
        f.write(b"%08x %s\n" % (zlib.crc32(bad), bad))
    with pytest.raises(StateFileError, match="router advertisements"):
        StateFile(path).load()
