"""ACLs in YAML, in the state file and in diffs: every mistake named by its entry and field."""
import json
import zlib

import pytest
import yaml

from appliance.acl import AclBody, parse_body
from appliance.config import parse_config, restart_needed
from appliance.errors import AclError, ConfigError
from appliance.state import StateFile, StateFileError
from appliance.tables import Overlay, Tables, describe_diff
from tests.unit.test_config import MINIMAL

POLICY = {"name": "edge", "default": "permit", "entries": [
    {"action": "permit", "src": "192.0.2.0/24", "proto": "tcp", "dst_port": 22},
    {"action": "deny", "dst": "10.0.0.0/8", "proto": "tcp", "dst_port": "22"},
]}


def config(acls=None, port_acl=None, **extra) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(MINIMAL))
    doc["acls"] = [POLICY] if acls is None else acls
    if port_acl is not None:
        doc["ports"][0]["acl"] = port_acl
    doc.update(extra)
    return doc


def errors_of(doc) -> str:
    with pytest.raises(ConfigError) as e:
        parse_config(doc, "c.yaml", check_host=False)
    return str(e.value)


def test_the_issues_policy_reads_and_binds():
    cfg = parse_config(config(port_acl={"in": "edge"}), "c.yaml", check_host=False)
    assert cfg.ports[0].acl.in_ == "edge" and cfg.ports[0].acl.out is None
    tables = Tables.from_config(cfg)
    assert tables.acl_bindings == {("wan0", "in"): "edge"}
    assert tables.acls["edge"]["entries"][1] == {"action": "deny", "dst": "10.0.0.0/8",
                                                 "proto": "tcp", "dst_port": 22}


@pytest.mark.parametrize("entry,message", [
    ({"action": "deny", "proto": "tcp", "dst_port": "80-22"},
     "acls[0].entries[2].dst_port: 80-22: low end above high end"),
    ({"action": "deny", "proto": "tcp", "dst_port": "80-70000"},
     "acls[0].entries[2].dst_port: 80-70000: ports are 0..65535"),
    ({"action": "deny", "dst": "10.0.0.0/33"}, "acls[0].entries[2].dst:"),
    ({"action": "deny", "dst": "10.0.0.0/08"}, "leading zero"),
    ({"action": "deny", "src": "10.0.0.0/8", "dst": "::/0"}, "acls[0].entries[2]: "),
    ({"action": "deny", "proto": "bogus"}, "acls[0].entries[2].proto: 'bogus'"),
    ({"action": "deny", "proto": 300}, "acls[0].entries[2].proto"),
    ({"action": "deny", "proto": "tcp", "tcp_flags": "syn,bogus"}, "'bogus' is not a TCP flag"),
    ({"action": "deny", "dscp": 64}, "acls[0].entries[2].dscp"),
    ({"action": "deny", "fragment": "yes"}, "acls[0].entries[2].fragment"),
    ({"action": "drop"}, "acls[0].entries[2].action"),
    ({"action": "redirect", "nexthop": 9}, "acls[0].entries[2].nexthop: next hop 9 is not defined"),
    ({"action": "deny", "nexthop": 1}, "nexthop is for redirect, not deny"),
])
def test_a_bad_entry_is_named_by_its_place(entry, message):
    acl = dict(POLICY, entries=POLICY["entries"] + [entry])
    assert message in errors_of(config([acl]))


def test_bindings_and_names_are_checked():
    assert "ports[0].acl.in: no ACL named 'nope' (acls: edge)" in \
        errors_of(config(port_acl={"in": "nope"}))
    assert "ports[0].acl.sideways: unknown key" in errors_of(config(port_acl={"sideways": "edge"}))
    pbr = {"name": "pbr", "entries": [{"action": "redirect", "nexthop": 1}]}
    assert "ports[0].acl.out: ACL pbr redirects" in \
        errors_of(config([POLICY, pbr], port_acl={"out": "pbr"}))
    assert "acls[1]: duplicate of acls[0] (edge)" in errors_of(config([POLICY, POLICY]))
    assert "acls[0].name" in errors_of(config([dict(POLICY, name="has space")]))
    too_many = dict(POLICY, entries=[{"action": "permit"}] * 3)
    assert "3 entries exceed tables.max_acl_entries 2" in \
        errors_of(config([too_many], tables={"max_acl_entries": 2}))


def test_acls_and_bindings_change_without_a_restart():
    old = parse_config(config(), "c.yaml", check_host=False)
    new = parse_config(config([dict(POLICY, default="deny")], port_acl={"in": "edge"}),
                       "c.yaml", check_host=False)
    assert restart_needed(old, new) == []


def test_a_diff_shows_an_acl_change_entry_by_entry():
    old = Tables.from_config(parse_config(config(), "c.yaml", check_host=False))
    changed = dict(POLICY, default="deny", entries=[
        POLICY["entries"][0], {"action": "permit", "proto": "icmp"}, POLICY["entries"][1]])
    new = Tables.from_config(parse_config(config([changed], port_acl={"in": "edge"}), "c.yaml",
                                          check_host=False))
    assert describe_diff(old, new) == [
        "~ acl edge default: permit -> deny",
        "+ acl edge entries[1]: {'action': 'permit', 'proto': 'icmp'}",
        "+ acl_binding wan0 in: edge",
    ]


def test_the_state_file_keeps_acls_and_bindings_and_refuses_a_damaged_one(tmp_path):
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.snapshot(Overlay())
    body = parse_body({"entries": POLICY["entries"]}, "edge").canonical()
    s.record("acls", "edge", body)
    s.record("acl_bindings", ("lan0", "in"), "edge")
    s.record("acl_bindings", ("lan0", "out"), None)
    s.close()
    o = StateFile(path).load()
    assert o.acls == {"edge": body}
    assert o.acl_bindings == {("lan0", "in"): "edge", ("lan0", "out"): None}
    for damaged in ({"kind": "acls", "key": "edge", "value": {"entries": [{"action": "fly"}]}},
                    {"kind": "acl_bindings", "key": "lan0 sideways", "value": "edge"},
                    {"kind": "acls", "key": "bad name", "value": {"entries": []}}):
        lines = path.read_bytes().splitlines(keepends=True)
        payload = json.dumps(damaged, separators=(",", ":")).encode()
        bad = lines + [b"%08x %s\n" % (zlib.crc32(payload), payload)] + lines[-1:]
        path.write_bytes(b"".join(bad))
        with pytest.raises(StateFileError):
            StateFile(path).load()
        path.write_bytes(b"".join(lines))


def test_parse_body_names_the_acl_and_field():
    with pytest.raises(AclError, match=r"acl web: entries\[0\].tcp_flags: syn/ack: flags set "
                                       r"outside the mask"):
        parse_body({"entries": [{"action": "deny", "proto": "tcp", "tcp_flags": "syn/ack"}]}, "web")
    assert AclBody.model_validate({"entries": [{"action": "deny", "proto": "TCP",
                                                "tcp_flags": "ack,syn/syn,ack,rst"}]}).canonical() \
        == {"default": "permit", "entries": [{"action": "deny", "proto": "tcp",
                                              "tcp_flags": "syn,ack/syn,rst,ack"}]}  # bit order
