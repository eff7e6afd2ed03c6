"""`appliance acl ...`: ACLs on a running appliance, through its API."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from appliance.decode import MAX_BYTES, load_yaml

MATCH_FIELDS = ("src", "dst", "proto", "src_port", "dst_port", "icmp_type", "icmp_code",
                "tcp_flags", "dscp", "fragment")


def add_commands(group, leaf) -> None:
    s = leaf(group, "set", help="create or replace an ACL from a YAML/JSON file ({default, "
                                "entries}); '-' reads stdin")
    s.add_argument("name")
    s.add_argument("file")
    leaf(group, "show", help="ACLs, or one with its counters").add_argument("name", nargs="?")
    i = leaf(group, "insert", help="insert one entry, e.g. '{action: deny, proto: tcp, "
                                   "dst_port: 22}'")
    i.add_argument("name")
    i.add_argument("entry")
    i.add_argument("--position", type=int, help="where (0: first); default: the end")
    r = leaf(group, "remove", help="remove the entry at a position")
    r.add_argument("name")
    r.add_argument("position", type=int)
    leaf(group, "delete", help="delete an ACL no port has bound").add_argument("name")
    b = leaf(group, "bind", help="bind an ACL to a port's input (in) or output (out)")
    b.add_argument("port")
    b.add_argument("direction", choices=["in", "out"])
    b.add_argument("name")
    u = leaf(group, "unbind", help="unbind a port's ACL")
    u.add_argument("port")
    u.add_argument("direction", choices=["in", "out"])


def _read(path: str) -> Any:
    if path == "-":
        return load_yaml(sys.stdin.buffer.read(MAX_BYTES + 1), "stdin")
    from appliance.config import read_yaml
    return read_yaml(path)


def entry_text(e: dict) -> str:
    match = " ".join(f"{k} {e[k]}" for k in MATCH_FIELDS if k in e) or "any"
    return match + (f" -> nexthop {e['nexthop']}" if e.get("nexthop") is not None else "")


def table(acl: dict) -> list[str]:
    bound = ", ".join(f"{p} {d}" for p, d in acl["bound"]) or "not bound"
    lines = [f"acl {acl['name']} (default {acl['default']}; {bound})",
             f"{'#':>5}  {'action':<8} {'packets':>12} {'bytes':>14}  match"]
    for i, e in enumerate(acl["entries"]):
        lines.append(f"{i:>5}  {e['action']:<8} {e['packets']:>12} {e['bytes']:>14}  {entry_text(e)}")
    d = acl["default_count"]
    lines.append(f"{'-':>5}  {acl['default']:<8} {d['packets']:>12} {d['bytes']:>14}  (default)")
    return lines


def _retired(found: list[dict]) -> list[str]:
    counted = [r for r in found if r["packets"]]
    return [f"retired: {'default' if r['entry'] < 0 else 'entry ' + str(r['entry'])} "
            f"({r['packets']} packets, {r['bytes']} bytes)" for r in counted]


def run(c, args: argparse.Namespace, show) -> None:
    verb = args.verb
    if verb == "set":
        show(c.acl_set(args.name, _read(args.file)), args.json, _retired)
    elif verb == "insert":
        entry = load_yaml(args.entry.encode(), "entry")
        show(c.acl_insert(args.name, entry, args.position), args.json, _retired)
    elif verb == "remove":
        show(c.acl_remove_entry(args.name, args.position), args.json, _retired)
    elif verb == "delete":
        c.acl_delete(args.name)
    elif verb == "bind":
        c.acl_bind(args.port, args.direction, args.name)
    elif verb == "unbind":
        c.acl_bind(args.port, args.direction, None)
    elif args.name:
        show(c.acl_show(args.name), args.json, table)
    else:
        show(c.acls(), args.json, lambda acls: [
            f"{a['name']:<20} default {a['default']:<7} {a['entries']:>7} entries  "
            + (", ".join(f"{p} {d}" for p, d in a["bound"]) or "not bound") for a in acls])

