"""Desired table state (next hops, routes, rules, ACLs) and the diff that applies it.

A running appliance's tables are its config's tables plus the runtime
overlay (changes made through the API, persisted in the state file). Going
from one state to another is a diff applied in an order that never leaves a
prefix pointing at a missing next hop: remove addresses that go (one may
come back on another port or length), add addresses and static neighbours,
set next hops, add/replace routes and rules, set ACLs, bind them (a rebind
replaces the port's ACL in one step, never leaving it unfiltered), then
unbind, set and clear router advertisements, mark interfaces stateful or not, delete ACLs, rules, routes, next
hops and neighbours. Routes are keyed by prefix, "VRF PREFIX" in a VRF other than the
global one ("red 10.0.0.0/24"). Addresses are keyed (port, address) (("lan0", "192.0.2.1/24")), static
neighbours (port, ip) -> MAC, ACL bindings (port, "in" | "out") -> ACL name; the state file
writes those keys as "port address" and "port in" text. An ACL is its name -> {default,
entries} in the canonical form of appliance.acl.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from appliance.config import DEFAULT_VRF, Config
from appliance.dataplane import Dataplane, RaSettings, to_protocol
from appliance.errors import ApplianceError
from appliance.nat import nat_rules
from appliance.vrrp import vrrp_settings, vrrp_value

RuleKey = tuple[int, str, int, str, int]  # proto, src, src_port, dst, dst_port
PortKey = tuple[str, str]  # (port, address) or (port, ip)


def rule_key(proto: int | str, src: str, src_port: int, dst: str, dst_port: int) -> RuleKey:
    return (to_protocol(proto), str(src), int(src_port), str(dst), int(dst_port))


def rule_key_text(k: RuleKey) -> str:
    return f"{k[0]} {k[1]}:{k[2]} {k[3]}:{k[4]}"


def route_key(prefix: str, vrf: str = DEFAULT_VRF) -> str:
    return prefix if vrf == DEFAULT_VRF else f"{vrf} {prefix}"


def route_key_parse(key: str) -> tuple[str, str]:
    """(vrf, prefix) of a route key."""
    vrf, _, prefix = key.rpartition(" ")
    return (vrf or DEFAULT_VRF, prefix)


def port_key_text(k: PortKey) -> str:
    return f"{k[0]} {k[1]}"


def port_key_parse(text: str) -> PortKey:
    port, _, address = text.partition(" ")
    return (port, address)


def key_text(kind: str, key) -> str:
    """A table key as the state file and diffs write it."""
    if kind == "rules":
        return rule_key_text(key)
    if kind in ("addresses", "neighbors", "acl_bindings"):
        return port_key_text(key)
    return str(key)


def rule_key_parse(text: str) -> RuleKey:
    proto, src, dst = text.split(" ")
    (sa, sp), (da, dp) = src.rsplit(":", 1), dst.rsplit(":", 1)
    return (int(proto), sa, int(sp), da, int(dp))


KINDS = ("addresses", "neighbors", "nexthops", "routes", "rules", "acls", "acl_bindings",
         "router_advertisements", "stateful", "nat", "vrrp")


def ra_value(settings: RaSettings) -> dict[str, Any]:
    """Router advertisement settings as the tables and the state file keep them."""
    value = asdict(settings)
    del value["interface"]
    return value


def nexthop_value(port: str, mac: str | None = None, src_mac: str | None = None,
                  gateway: str | None = None) -> dict[str, Any]:
    return {"port": port, "mac": mac, "src_mac": src_mac,
            "gateway": None if gateway is None else str(gateway)}


@dataclass
class Tables:
    addresses: dict[PortKey, bool] = field(default_factory=dict)      # (port, address) -> True
    neighbors: dict[PortKey, str] = field(default_factory=dict)       # (port, ip) -> MAC
    nexthops: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> nexthop_value()
    routes: dict[str, int] = field(default_factory=dict)               # route_key() -> next hop
    rules: dict[RuleKey, dict[str, Any]] = field(default_factory=dict)  # key -> action, nexthop
    acls: dict[str, dict[str, Any]] = field(default_factory=dict)      # name -> default, entries
    acl_bindings: dict[PortKey, str] = field(default_factory=dict)     # (port, dir) -> name
    # interface -> its router advertisement settings (ra_value())
    router_advertisements: dict[str, dict[str, Any]] = field(default_factory=dict)
    stateful: dict[str, bool] = field(default_factory=dict)  # interface -> True: filters statefully
    nat: dict[str, dict[str, Any]] = field(default_factory=dict)  # interface -> NatSection.value()
    vrrp: dict[str, dict[str, Any]] = field(default_factory=dict)  # vrrp_key() -> vrrp_value()

    @classmethod
    def from_config(cls, cfg: Config) -> Tables:
        return cls(
            addresses={(f.name, str(a)): True for f in cfg.interfaces() for a in f.addresses},
            neighbors={(n.port, str(n.ip)): n.mac for n in cfg.neighbors},
            nexthops={n.id: nexthop_value(n.port, n.mac, n.src_mac, n.gateway)
                      for n in cfg.nexthops},
            routes={route_key(str(r.prefix), r.vrf): r.nexthop for r in cfg.routes},
            rules={r.key(): {"action": r.action, "nexthop": r.nexthop} for r in cfg.rules},
            acls={a.name: a.body() for a in cfg.acls},
            acl_bindings={(f.name, d): name for f in cfg.interfaces()
                          for d, name in (("in", f.acl.in_), ("out", f.acl.out)) if name},
            router_advertisements={name: ra_value(s) for name, s in cfg.ra_settings().items()},
            stateful={f.name: True for f in cfg.interfaces() if f.stateful},
            nat={f.name: f.nat.value() for f in cfg.interfaces() if f.nat},
            vrrp={key: vrrp_value(s) for key, s in cfg.vrrp_settings().items()})

    def copy(self) -> Tables:
        return Tables(*(dict(getattr(self, k)) for k in KINDS))


@dataclass
class Overlay:
    """Runtime changes on top of the config: a value, or None for 'deleted'."""

    addresses: dict[PortKey, bool | None] = field(default_factory=dict)
    neighbors: dict[PortKey, str | None] = field(default_factory=dict)
    nexthops: dict[int, dict | None] = field(default_factory=dict)
    routes: dict[str, int | None] = field(default_factory=dict)
    rules: dict[RuleKey, dict | None] = field(default_factory=dict)
    acls: dict[str, dict | None] = field(default_factory=dict)
    acl_bindings: dict[PortKey, str | None] = field(default_factory=dict)
    router_advertisements: dict[str, dict | None] = field(default_factory=dict)
    stateful: dict[str, bool | None] = field(default_factory=dict)
    nat: dict[str, dict | None] = field(default_factory=dict)
    vrrp: dict[str, dict | None] = field(default_factory=dict)  # (config only: stays empty)

    def over(self, base: Tables) -> Tables:
        out = base.copy()
        for kind in KINDS:
            mine, theirs = getattr(self, kind), getattr(out, kind)
            for k, v in mine.items():
                if v is None:
                    theirs.pop(k, None)
                else:
                    theirs[k] = v
        return out

    def to_json(self) -> dict:
        return {kind: {key_text(kind, k): v for k, v in getattr(self, kind).items()}
                for kind in KINDS}

    @classmethod
    def from_json(cls, doc: dict) -> Overlay:
        return cls(addresses={port_key_parse(k): v for k, v in doc.get("addresses", {}).items()},
                   neighbors={port_key_parse(k): v for k, v in doc.get("neighbors", {}).items()},
                   nexthops={int(k): v for k, v in doc.get("nexthops", {}).items()},
                   routes=dict(doc.get("routes", {})),
                   rules={rule_key_parse(k): v for k, v in doc.get("rules", {}).items()},
                   acls=dict(doc.get("acls", {})),
                   acl_bindings={port_key_parse(k): v
                                 for k, v in doc.get("acl_bindings", {}).items()},
                   router_advertisements=dict(doc.get("router_advertisements", {})),
                   stateful=dict(doc.get("stateful", {})),
                   nat=dict(doc.get("nat", {})),
                   vrrp=dict(doc.get("vrrp", {})))


def describe_diff(current: Tables, desired: Tables) -> list[str]:
    """What going from `current` to `desired` adds (+), removes (-) and changes (~), one
    line per entry, as `appliance diff` and the deploy's --diff show it."""
    lines = []
    for kind in KINDS:
        now, then = getattr(current, kind), getattr(desired, kind)
        if kind == "acls":
            lines += _describe_acls(now, then)
            continue
        def text(key) -> str:
            return key_text(kind, key)
        one = kind if kind in ("stateful", "nat", "vrrp") else kind.removesuffix("es" if kind == "addresses" else "s")
        for key in sorted(then.keys() - now.keys(), key=text):
            lines.append(f"+ {one} {text(key)}: {then[key]}")
        for key in sorted(now.keys() - then.keys(), key=text):
            lines.append(f"- {one} {text(key)}: {now[key]}")
        for key in sorted((k for k in now.keys() & then.keys() if now[k] != then[k]), key=text):
            lines.append(f"~ {one} {text(key)}: {now[key]} -> {then[key]}")
    return lines


def _describe_acls(now: dict, then: dict) -> list[str]:
    """ACLs that come and go whole, and those that change, entry by entry."""
    lines = [f"+ acl {n}: default {then[n]['default']}, {len(then[n]['entries'])} entries"
             for n in sorted(then.keys() - now.keys())]
    lines += [f"- acl {n}: default {now[n]['default']}, {len(now[n]['entries'])} entries"
              for n in sorted(now.keys() - then.keys())]
    for name in sorted(n for n in now.keys() & then.keys() if now[n] != then[n]):
        old, new = now[name], then[name]
        if old["default"] != new["default"]:
            lines.append(f"~ acl {name} default: {old['default']} -> {new['default']}")
        a = [json.dumps(e, sort_keys=True) for e in old["entries"]]
        b = [json.dumps(e, sort_keys=True) for e in new["entries"]]
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            lines += [f"- acl {name} entries[{i}]: {old['entries'][i]}" for i in range(i1, i2)]
            lines += [f"+ acl {name} entries[{j}]: {new['entries'][j]}" for j in range(j1, j2)]
    return lines


def apply_diff(dp: Dataplane, current: Tables, desired: Tables) -> None:
    """Moves the data plane from `current` to `desired`; on failure, back to `current`."""
    try:
        _apply(dp, current, desired)
    except ApplianceError:
        _apply(dp, desired, current, best_effort=True)
        raise


def _apply(dp: Dataplane, current: Tables, desired: Tables, best_effort: bool = False) -> None:
    def attempt(fn, *args):
        try:
            fn(*args)
        except ApplianceError:
            if not best_effort:
                raise

    # A master leaves (priority 0) while it still has the address it advertises from.
    for key in current.vrrp.keys() - desired.vrrp.keys():
        interface, vrid, family = key.split(" ")
        attempt(dp.vrrp_clear, interface, int(vrid), family == "ipv6")
    # An address that moves (new length, other port) must go before it comes back.
    for key in current.addresses.keys() - desired.addresses.keys():
        attempt(dp.address_delete, *key)
    for key in desired.addresses.keys() - current.addresses.keys():
        attempt(dp.address_add, *key)
    for key, mac in desired.neighbors.items():
        if current.neighbors.get(key) != mac:
            attempt(dp.neighbor_add, *key, mac)
    for id, hop in desired.nexthops.items():
        if current.nexthops.get(id) != hop:
            attempt(set_nexthop, dp, id, hop)
    changed = []
    for key, nh in desired.routes.items():
        if current.routes.get(key) != nh:
            vrf, prefix = route_key_parse(key)
            changed.append((prefix, nh, vrf))
    if changed:
        attempt(dp.route_add_bulk, changed)
    for key, rule in desired.rules.items():
        if current.rules.get(key) != rule:
            attempt(dp.rule_add, *key, rule["action"], rule.get("nexthop"))
    for name, body in desired.acls.items():
        if current.acls.get(name) != body:
            attempt(dp.acl_set, name, body)
    for key, name in desired.acl_bindings.items():
        if current.acl_bindings.get(key) != name:
            attempt(dp.acl_bind, *key, name)
    for key in current.acl_bindings.keys() - desired.acl_bindings.keys():
        attempt(dp.acl_bind, *key, None)
    # After the addresses: the first advertisement carries the prefixes it should.
    for name, value in desired.router_advertisements.items():
        if current.router_advertisements.get(name) != value:
            attempt(dp.ra_set, name, RaSettings(name, **value))
    for name in current.router_advertisements.keys() - desired.router_advertisements.keys():
        attempt(dp.ra_set, name, None)
    for name in desired.stateful.keys() - current.stateful.keys():
        attempt(dp.conntrack_set_stateful, name, True)
    # After the addresses: a virtual router's are checked against the interface's.
    for key, value in desired.vrrp.items():
        if current.vrrp.get(key) != value:
            attempt(dp.vrrp_set, vrrp_settings(key, value))
    for name in current.stateful.keys() - desired.stateful.keys():
        attempt(dp.conntrack_set_stateful, name, False)
    # As a whole, after the addresses (a masquerade follows its interface's address).
    rules = nat_rules(desired.nat, desired.addresses)
    if rules != nat_rules(current.nat, current.addresses):
        attempt(dp.nat_set, *rules)
    for name in current.acls.keys() - desired.acls.keys():
        attempt(dp.acl_delete, name)
    for key in current.rules.keys() - desired.rules.keys():
        attempt(dp.rule_delete, *key)
    for key in current.routes.keys() - desired.routes.keys():
        vrf, prefix = route_key_parse(key)
        attempt(dp.route_delete, prefix, vrf)
    for id in current.nexthops.keys() - desired.nexthops.keys():
        attempt(dp.nexthop_delete, id)
    for key in current.neighbors.keys() - desired.neighbors.keys():
        attempt(dp.neighbor_delete, *key)


def set_nexthop(dp: Dataplane, id: int, hop: dict[str, Any]) -> None:
    if hop.get("gateway"):
        dp.nexthop_set_gateway(id, hop["port"], hop["gateway"])
    else:
        dp.nexthop_set(id, hop["port"], hop["mac"], hop.get("src_mac"))
