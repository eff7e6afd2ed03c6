"""The running appliance: data plane from a config, runtime changes, reloads.

Every table change goes through here, under one lock: it is applied to the
data plane, mirrored in `current`, recorded in the overlay and persisted to
the state file (when configured) before it is acknowledged. A change that
cannot be persisted is undone, so an acknowledged change survives a crash.
"""
from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from appliance.config import (DEFAULT_VRF, Config, RaSection, format_errors, load_config, parse_config,
                              restart_needed)
from appliance.dataplane import (Dataplane, RaSettings, canonical_prefixes, refuse_padded_length,
                                 to_prefix)
from appliance.eal import shutdown_eal
from appliance.acl import inserted, parse_body, removed
from appliance.capture import CaptureRequest, CaptureSession
from appliance import trace
from appliance.errors import (AclError, AddressError, ConfigError, NeighborError, PortError,
                              StorageError)
from appliance.host import hugepages
from appliance.nat import NatSection, nat_problems, nat_rules
from appliance.vrrp import log_transitions
from appliance.state import StateFile
from appliance.tables import (KINDS, Overlay, Tables, apply_diff, describe_diff, nexthop_value,
                              ra_value, route_key, rule_key, set_nexthop)

log = logging.getLogger("appliance.service")
_MISSING = object()


def _interface(text: str) -> str:
    try:
        if "/" not in str(text):
            raise ValueError("needs its prefix length, like 192.0.2.1/24 or 2001:db8::1/64")
        refuse_padded_length(text)
        return str(ipaddress.ip_interface(text))
    except ValueError as e:
        raise AddressError(f"'{text}': {e}") from None


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise NeighborError(f"'{text}': not an IPv4 or IPv6 address") from None


class Service:
    def __init__(self, cfg: Config, source: str | None = None, set_aside_state: bool = False):
        self.cfg = cfg
        self.source = source
        self.lock = threading.RLock()
        self._vrrp_logged = 0  # the last VRRP event written to the log
        if cfg.eal.hugepages:
            hugepages.verify(cfg.eal.memory_mb)  # a clear error before the EAL's own
        self.state = StateFile(cfg.state_file) if cfg.state_file else None
        self.overlay = self._load_state(set_aside_state) if self.state else Overlay()
        self.dp = Dataplane(cfg.dataplane_config())
        self.current = Tables()
        desired = self.overlay.over(Tables.from_config(cfg))
        try:
            apply_diff(self.dp, self.current, desired)
        except Exception:
            self.dp.close()
            raise
        self.current = desired
        self._compact()  # what the last run appended
        self.dp.start()
        log.info("started: %d ports, %d addresses, %d next hops, %d routes, %d rules, %d ACLs "
                 "(%d changes from the state file)", len(cfg.ports), len(desired.addresses),
                 len(desired.nexthops), len(desired.routes), len(desired.rules), len(desired.acls),
                 sum(len(getattr(self.overlay, k)) for k in KINDS))

    def _load_state(self, set_aside: bool) -> Overlay:
        from appliance.state import StateFileError
        try:
            return self.state.load()
        except StateFileError as e:
            if not set_aside:
                raise
            log.warning("%s", e)
            log.warning("state file moved aside to %s; starting from the config alone",
                        self.state.set_aside())
            return Overlay()

    # -- one change: apply, mirror, persist, or undo --
    def _change(self, kind: str, key: Any, value: Any, apply, undo) -> None:
        with self.lock:  # the mirror is read under it: a bulk change or reload replaces it
            mirror, overlay = getattr(self.current, kind), getattr(self.overlay, kind)
            old_value, old_overlay = mirror.get(key, _MISSING), overlay.get(key, _MISSING)
            apply()
            if value is None:
                mirror.pop(key, None)
            else:
                mirror[key] = value
            overlay[key] = value
            try:
                if self.state:
                    self.state.record(kind, key, value)
            except StorageError as e:
                undo(None if old_value is _MISSING else old_value)
                for d, old in ((mirror, old_value), (overlay, old_overlay)):
                    if old is _MISSING:
                        d.pop(key, None)
                    else:
                        d[key] = old
                raise StorageError(f"{e}; change undone") from None
            self._compact_if_due()

    def compaction_due(self) -> bool:
        """The next change would rewrite the state file (seconds for a big table)."""
        return bool(self.state) and self.state.needs_compaction(ahead=1)

    def _compact_if_due(self) -> None:
        if self.state and self.state.needs_compaction():
            self._compact()

    def _compact(self) -> None:
        """A new snapshot; if it cannot be written, the log it replaces stays valid."""
        if not self.state:
            return
        try:
            self.state.snapshot(self.overlay)
        except StorageError as e:
            self.state.defer_compaction()
            log.warning("%s; state file not compacted, tried again later", e)

    # -- routes --
    # `vrf`: the VRF whose table the route is in ("default": the global one).
    def route_add(self, prefix: str, nexthop: int, vrf: str = DEFAULT_VRF) -> None:
        p = to_prefix(prefix)
        self._change("routes", route_key(p, vrf), nexthop, lambda: self.dp.route_add(p, nexthop, vrf),
                     lambda old: self.dp.route_add(p, old, vrf) if old is not None
                     else self.dp.route_delete(p, vrf))

    def route_add_bulk(self, routes: list[tuple[str, int] | tuple[str, int, str]]) -> int:
        """(prefix, next hop) in the global VRF, or (prefix, next hop, vrf): all or nothing."""
        with self.lock:
            prefixes = canonical_prefixes(r[0] for r in routes)
            routes = [(p, r[1], r[2] if len(r) > 2 else DEFAULT_VRF) for p, r in zip(prefixes, routes)]
            keyed = [(route_key(p, vrf), nh) for p, nh, vrf in routes]
            desired = self.current.copy()
            desired.routes.update(keyed)
            before_overlay = dict(self.overlay.routes)
            n = self.dp.route_add_bulk(routes)
            previous = self.current
            self.current = desired
            self.overlay.routes.update(keyed)
            try:
                if self.state:
                    self.state.record_bulk("routes", keyed)
            except StorageError as e:
                apply_diff(self.dp, desired, previous)
                self.current, self.overlay.routes = previous, before_overlay
                raise StorageError(f"{e}; change undone") from None
            self._compact_if_due()
            return n

    def route_delete(self, prefix: str, force: bool = False, vrf: str = DEFAULT_VRF) -> None:
        """`force`: a route mirrored from the kernel table may go too (not recorded: it is
        the kernel's, and comes back when the kernel changes it or on a resync)."""
        p = to_prefix(prefix)
        with self.lock:
            if force and route_key(p, vrf) not in self.current.routes:
                self.dp.kernel_route_delete(p, vrf)
                return
        self._change("routes", route_key(p, vrf), None, lambda: self.dp.route_delete(p, vrf),
                     lambda old: self.dp.route_add(p, old, vrf))

    def routes(self, prefix: str | None = None, nexthop: int | None = None,
               vrf: str | None = DEFAULT_VRF) -> list[dict]:
        """One VRF's routes, or every VRF's (vrf None)."""
        within = ipaddress.ip_network(to_prefix(prefix)) if prefix is not None else None
        out = []
        for name in self.dp.vrfs() if vrf is None else [vrf]:
            for net, nh in self.dp.routes(name):
                if nexthop is not None and nh != nexthop:
                    continue
                if within is not None and (net.version != within.version or not net.subnet_of(within)):
                    continue
                out.append({"prefix": str(net), "nexthop": nh, "vrf": name})
        return out

    def vrfs(self) -> list[dict]:
        """Each VRF (the global one first): its interfaces and how many routes it has."""
        members: dict[str, list[str]] = {}
        for f in self.dp.interfaces():
            members.setdefault(f["vrf"], []).append(f["name"])
        return [{"name": name, "interfaces": members.get(name, []),
                 "routes": len(self.dp.routes(name))} for name in self.dp.vrfs()]

    # -- next hops --
    def nexthop_set(self, id: int, port: str, mac: str | None = None, src_mac: str | None = None,
                    gateway: str | None = None) -> None:
        if (mac is None) == (gateway is None):
            raise ConfigError(f"next hop {id}: give either a MAC or a gateway")
        value = nexthop_value(port, mac, src_mac, gateway)
        self._change("nexthops", id, value, lambda: set_nexthop(self.dp, id, value),
                     lambda old: set_nexthop(self.dp, id, old) if old
                     else self.dp.nexthop_delete(id))

    def nexthop_delete(self, id: int) -> None:
        self._change("nexthops", id, None, lambda: self.dp.nexthop_delete(id),
                     lambda old: set_nexthop(self.dp, id, old))

    def nexthops(self) -> list[dict]:
        return self.dp.nexthops()

    # -- router advertisements --
    def ra_set(self, interface: str, settings: dict | None) -> None:
        """An interface's router advertisement settings (a config `ra` section, defaults
        filled in), or None: it stops advertising."""
        value = None
        if settings is None:
            with self.lock:
                if interface not in self.current.router_advertisements:
                    raise PortError(f"{interface} sends no router advertisements")
        else:
            try:
                value = ra_value(RaSection.model_validate(settings).settings(interface))
            except ValidationError as e:
                raise ConfigError(format_errors("router advertisements", e.errors())) from None

        def set_to(v: dict | None) -> None:
            self.dp.ra_set(interface, None if v is None else RaSettings(interface, **v))
        self._change("router_advertisements", interface, value, lambda: set_to(value), set_to)

    def router_advertisements(self) -> dict[str, dict]:
        with self.lock:
            return dict(self.current.router_advertisements)

    # -- VRRP (from the config: a reload changes it) --
    def vrrp(self) -> list[dict]:
        """Each virtual router: settings, state and why, priority in effect, master, counters."""
        return self.dp.vrrp()

    def log_vrrp(self) -> None:
        """Writes the transitions since the last call to the log (the serving loop calls it)."""
        events = self.dp.vrrp_events(self._vrrp_logged)
        if events:
            self._vrrp_logged = events[-1]["seq"]
            log_transitions(events)

    # -- connection tracking --
    def stateful_set(self, interface: str, on: bool) -> None:
        """`interface` admits only packets of sessions started through it, or no longer."""
        self._change("stateful", interface, True if on else None,
                     lambda: self.dp.conntrack_set_stateful(interface, on),
                     lambda old: self.dp.conntrack_set_stateful(interface, old is not None))

    def conntrack_list(self, proto: int | str | None = None, address: str | None = None) -> list[dict]:
        return self.dp.conntrack_list(proto, address)

    def capture(self, request: CaptureRequest) -> CaptureSession:
        """A capture, started (one at a time: StateError while another runs)."""
        return CaptureSession(self.dp, request)

    def conntrack_flush(self) -> int:
        return self.dp.conntrack_flush()

    # -- per-packet trace --
    def trace_start(self, request: trace.TraceRequest) -> None:
        """Traces the next packets chosen; the last trace's records are gone."""
        self.dp.trace_start(request.native(self.dp.interfaces()))

    def trace_stop(self) -> None:
        self.dp.trace_stop()

    def trace_show(self) -> dict:
        """The running or last trace, packet by packet (appliance/trace.py: report)."""
        return trace.report(self.dp)

    # -- NAT44 --
    def nat_set(self, interface: str, settings: dict | None) -> None:
        """An interface's NAT (a config `nat` section), or None: none. Checked with the
        rest as a config would be (overlapping pools, forwards to no subnet)."""
        value = None
        with self.lock:
            if settings is None and interface not in self.current.nat:
                raise PortError(f"{interface} has no NAT")
            if interface not in {f.name for f in self.cfg.interfaces()}:
                raise PortError(f"unknown interface '{interface}'")
            if settings is not None:
                try:
                    value = NatSection.model_validate(settings).value()
                except ValidationError as e:
                    raise ConfigError(format_errors("nat", e.errors())) from None
            self._nat_check({**self.current.nat, interface: value})

        def set_to(v: dict | None) -> None:
            nat = {**self.current.nat, interface: v}
            self.dp.nat_set(*nat_rules({k: x for k, x in nat.items() if x is not None},
                                       self.current.addresses))
        self._change("nat", interface, value, lambda: set_to(value), set_to)

    def _nat_check(self, nat: dict[str, dict | None]) -> None:
        interfaces = [replace(f, addresses=[ipaddress.ip_interface(a) for n, a in self.current.addresses
                                            if n == f.name],
                              nat=NatSection.model_validate(nat[f.name]) if nat.get(f.name) else None)
                      for f in self.cfg.interfaces()]
        problems = nat_problems(interfaces, self.cfg.conntrack is not None)
        if problems:
            raise ConfigError("\n".join(f"nat: {path}: {why}" for path, why in problems))

    def _nat_follow_addresses(self, before: tuple) -> None:
        """A masquerade (and a forward from the interface's address) follows the address."""
        rules = nat_rules(self.current.nat, self.current.addresses)
        if rules != before:
            self.dp.nat_set(*rules)

    def nat(self) -> dict:
        """Each interface's NAT settings, the mappings and the public addresses' ports in use."""
        with self.lock:
            interfaces = dict(self.current.nat)
        return {"interfaces": interfaces, **(self.dp.nat_stats() if self.cfg.conntrack else
                                             {"mappings": 0, "port_failures": 0, "ports": []})}

    # -- own addresses --
    def address_add(self, port: str, address: str) -> None:
        key = (port, _interface(address))
        with self.lock:
            before = nat_rules(self.current.nat, self.current.addresses)
            self._change("addresses", key, True, lambda: self.dp.address_add(*key),
                         lambda old: self.dp.address_delete(*key))
            self._nat_follow_addresses(before)

    def address_delete(self, port: str, address: str) -> None:
        key = (port, _interface(address))
        with self.lock:
            before = nat_rules(self.current.nat, self.current.addresses)
            self._change("addresses", key, None, lambda: self.dp.address_delete(*key),
                         lambda old: self.dp.address_add(*key))
            self._nat_follow_addresses(before)

    def addresses(self) -> list[dict]:
        return self.dp.addresses()

    # -- neighbours --
    def neighbor_add(self, port: str, ip: str, mac: str) -> None:
        key = (port, _ip(ip))
        self._change("neighbors", key, mac, lambda: self.dp.neighbor_add(*key, mac),
                     lambda old: self.dp.neighbor_add(*key, old) if old
                     else self.dp.neighbor_delete(*key))

    def neighbor_delete(self, port: str, ip: str) -> None:
        key = (port, _ip(ip))
        with self.lock:
            if key in self.current.neighbors:  # a static entry: the change is persisted
                self._change("neighbors", key, None, lambda: self.dp.neighbor_delete(*key),
                             lambda old: self.dp.neighbor_add(*key, old))
            else:  # a learned one: flushed, as `ip neigh del` does; nothing to persist
                self.dp.neighbor_delete(*key)

    def neighbors(self) -> list[dict]:
        return self.dp.neighbors()

    # -- rules --
    def rule_add(self, proto, src, src_port, dst, dst_port, action="forward",
                 nexthop=None) -> None:
        key = rule_key(proto, src, src_port, dst, dst_port)
        value = {"action": action, "nexthop": nexthop}
        self._change("rules", key, value, lambda: self.dp.rule_add(*key, action, nexthop),
                     lambda old: self.dp.rule_add(*key, old["action"], old["nexthop"])
                     if old else self.dp.rule_delete(*key))

    def rule_delete(self, proto, src, src_port, dst, dst_port) -> None:
        key = rule_key(proto, src, src_port, dst, dst_port)
        self._change("rules", key, None, lambda: self.dp.rule_delete(*key),
                     lambda old: self.dp.rule_add(*key, old["action"], old["nexthop"]))

    # -- access control lists --
    def acl_set(self, name: str, body: Any) -> list[dict]:
        """Creates or replaces an ACL whole; returns the counts of the entries it retired."""
        value = parse_body(body, name).canonical()
        retired: list[dict] = []

        def apply() -> None:
            retired.extend(self.dp.acl_set(name, value))

        self._change("acls", name, value, apply,
                     lambda old: self.dp.acl_set(name, old) if old else self.dp.acl_delete(name))
        return retired

    def acl_insert(self, name: str, position: int | None, entry: Any) -> list[dict]:
        """One entry in at `position` (None: at the end): a whole replace underneath."""
        with self.lock:
            return self.acl_set(name, inserted(self._acl_body(name), name, entry, position))

    def acl_remove_entry(self, name: str, position: int) -> list[dict]:
        with self.lock:
            return self.acl_set(name, removed(self._acl_body(name), name, position))

    def _acl_body(self, name: str) -> dict:
        if name not in self.current.acls:
            raise AclError(f"no ACL named '{name}'")
        return self.current.acls[name]

    def acl_delete(self, name: str) -> None:
        with self.lock:
            self._acl_body(name)
        self._change("acls", name, None, lambda: self.dp.acl_delete(name),
                     lambda old: self.dp.acl_set(name, old))

    def acl_bind(self, port: str, direction: str, name: str | None) -> None:
        """`name` None unbinds."""
        key = (port, direction)
        self._change("acl_bindings", key, name, lambda: self.dp.acl_bind(port, direction, name),
                     lambda old: self.dp.acl_bind(port, direction, old))

    def acls(self) -> list[dict]:
        """Each ACL's name, default, entry count and where it is bound."""
        out = []
        for name in self.dp.acls():
            shown = self.dp.acl_show(name)
            out.append({"name": name, "default": shown["default"],
                        "entries": len(shown["entries"]), "bound": shown["bound"]})
        return out

    def acl_show(self, name: str) -> dict:
        return self.dp.acl_show(name)

    def acl_details(self) -> list[dict]:
        """Every ACL with its counters (for metrics)."""
        out = []
        for name in self.dp.acls():
            try:
                out.append(self.dp.acl_show(name))
            except AclError:  # deleted meanwhile
                continue
        return out

    # -- whole-config changes --
    def apply(self, document: Any, source: str = "<apply>") -> dict:
        """Desired config -> diff -> applied; the runtime overlay is replaced by it."""
        new = parse_config(document, source)
        with self.lock:
            self._check_restartless(new)
            return self._move_to(new, Overlay())

    def diff(self, document: Any, keep_runtime_changes: bool = True) -> dict:
        """What applying `document` would do to the running tables, without doing it: with
        runtime changes kept on top (a reload) or replaced (apply). Also whether a restart
        would be needed instead (then the table diff is what the restart would bring)."""
        new = parse_config(document, "diff request")
        with self.lock:
            overlay = self.overlay if keep_runtime_changes else Overlay()
            desired = overlay.over(Tables.from_config(new))
            return {"restart": restart_needed(self.cfg, new),
                    "changes": describe_diff(self.current, desired)}

    def overrides(self) -> dict:
        """Runtime changes that differ from the config in force, per table: set (added or
        changed) and deleted. What a `keep` deploy leaves on top, an `exact` one removes."""
        base = Tables.from_config(self.cfg)
        out = {}
        with self.lock:
            for kind in KINDS:
                config, mine = getattr(base, kind), getattr(self.overlay, kind)
                differ = [k for k, v in mine.items() if config.get(k) != v]
                deleted = sum(1 for k in differ if mine[k] is None)
                out[kind] = {"set": len(differ) - deleted, "deleted": deleted}
        return out

    def reload(self) -> dict:
        """SIGHUP: re-read the config file; runtime changes stay on top of it."""
        if self.source is None:
            raise ConfigError("no config file to reload (started without --config)")
        new = load_config(self.source)
        with self.lock:
            self._check_restartless(new)
            return self._move_to(new, self.overlay)

    def _check_restartless(self, new: Config) -> None:
        changed = restart_needed(self.cfg, new)
        if changed:
            raise ConfigError(f"{', '.join(changed)}: changed; a restart is needed to change "
                              f"{'it' if len(changed) == 1 else 'them'} (nothing was applied)")

    def _move_to(self, new: Config, overlay: Overlay) -> dict:
        """All or nothing: the data plane, the mirror and the state file move together."""
        desired = overlay.over(Tables.from_config(new))
        apply_diff(self.dp, self.current, desired)
        try:
            if self.state:
                self.state.snapshot(overlay)
        except StorageError as e:
            apply_diff(self.dp, desired, self.current)
            raise StorageError(f"{e}; nothing was applied") from None
        summary = {kind: {"added": len(getattr(desired, kind).keys() - getattr(self.current, kind).keys()),
                          "removed": len(getattr(self.current, kind).keys() - getattr(desired, kind).keys())}
                   for kind in KINDS}
        self.current, self.cfg, self.overlay = desired, new, overlay
        log.info("applied: %s", summary)
        return summary

    # -- lifecycle --
    def close(self) -> None:
        with self.lock:
            if self.state:
                self.state.close()
            self.dp.close()
            shutdown_eal(self.dp.config.eal)

