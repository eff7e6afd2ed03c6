"""The state file: every accepted runtime change, durable before it is acknowledged.

One record per line, `CRC32 JSON`: the first is normally a snapshot of the
overlay, each later one a change (or one bulk change), appended and
fdatasync'ed, so an acknowledged change survives a crash and a single route
add costs one small write. The log is compacted into a new snapshot (new
file, fsync, rename) when it grows long and on apply/reload.

Reading trusts nothing: every record's checksum, JSON and shape are checked.
An unterminated last record (an append cut short by a crash: never
acknowledged) is dropped; any other damage refuses the start with the file
and line named, because starting without the changes would silently lose
them. A write that fails
(disk full) is cut off again, so a refused change never comes back.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticError

from appliance.acl import ACL_NAME, DIRECTIONS, AclBody
from appliance.config import INTERFACE_NAME, VRF_NAME, RaSection
from appliance.decode import DecodeError, load_json, shorten
from appliance.errors import ConfigError, StorageError
from appliance.nat import NatSection
from appliance.tables import KINDS, Overlay, key_text, port_key_parse, route_key_parse, rule_key_parse

log = logging.getLogger("appliance.state")
COMPACT_AFTER = 10_000  # appended records
FORMAT = 2  # 1: lines without checksums (read, rewritten at the next snapshot)


class StateFileError(ConfigError):
    """A state file that is damaged beyond a torn last record."""


def _encode_key(kind: str, key: Any) -> Any:
    return key_text(kind, key) if kind in ("rules", "addresses", "neighbors", "acl_bindings") else key


def _decode_key(kind: str, key: Any) -> Any:
    if kind == "rules":
        return rule_key_parse(key)
    if kind == "nexthops":
        if isinstance(key, bool) or not isinstance(key, (int, str)) or not str(key).isdigit():
            raise ValueError(f"next hop id {shorten(key)}")
        return int(key)
    if not isinstance(key, str):
        raise ValueError(f"{kind} key {shorten(key)}")
    if kind == "routes":
        vrf, prefix = route_key_parse(key)  # "prefix" or "vrf prefix"
        if not VRF_NAME.fullmatch(vrf):
            raise ValueError(f"route key {shorten(key)}: VRF name")
        ipaddress.ip_network(prefix)
        return key
    if kind == "vrrp":  # nothing at runtime changes them: a record of one is not ours
        raise ValueError(f"vrrp {shorten(key)}: virtual routers come from the config only")
    if kind == "acls":
        if not ACL_NAME.fullmatch(key):
            raise ValueError(f"ACL name {shorten(key)}")
        return key
    if kind in ("router_advertisements", "stateful", "nat"):
        if not INTERFACE_NAME.fullmatch(key):
            raise ValueError(f"{kind.replace('_', ' ')} of {shorten(key)}: interface name")
        return key
    if kind == "acl_bindings":
        port, direction = port_key_parse(key)  # "port in"
        if not INTERFACE_NAME.fullmatch(port) or direction not in DIRECTIONS:
            raise ValueError(f"ACL binding {shorten(key)}")
        return (port, direction)
    port, address = port_key_parse(key)  # "port address" or "port ip"
    if not INTERFACE_NAME.fullmatch(port):
        raise ValueError(f"{kind} key {shorten(key)}: port name")
    (ipaddress.ip_interface if kind == "addresses" else ipaddress.ip_address)(address)
    return (port, address)


_VALUE_TYPES = {"addresses": bool, "neighbors": str, "nexthops": dict, "routes": int,
                "rules": dict, "acls": dict, "acl_bindings": str, "router_advertisements": dict,
                "stateful": bool, "nat": dict, "vrrp": dict}


def _check_value(kind: str, value: Any) -> Any:
    if value is not None and (not isinstance(value, _VALUE_TYPES[kind])
                              or (kind == "routes" and isinstance(value, bool))
                              or (kind == "stateful" and value is not True)):
        raise ValueError(f"{kind} value {shorten(value)}")
    if kind == "router_advertisements" and value is not None:
        try:  # as the API took them: every field, each within its bounds
            RaSection.model_validate(value)
        except PydanticError as e:
            raise ValueError(f"router advertisements {shorten(value)}: {e.errors()[0]['msg']}") from None
    if kind == "nat" and value is not None:
        try:  # as the config took it
            value = NatSection.model_validate(value).value()
        except PydanticError as e:
            raise ValueError(f"NAT {shorten(value)}: {e.errors()[0]['msg']}") from None
    if kind == "acls" and value is not None:
        try:  # an ACL that cannot be built is as damaged as a torn record
            value = AclBody.model_validate(value).canonical()
        except PydanticError as e:
            raise ValueError(f"ACL {shorten(value)}: {e.errors()[0]['msg']}") from None
    return value


def _overlay(doc: Any) -> Overlay:
    if not isinstance(doc, dict) or not set(doc) <= set(KINDS):
        raise ValueError("snapshot is not a mapping of " + ", ".join(KINDS))
    overlay = Overlay()
    for kind, items in doc.items():
        if not isinstance(items, dict):
            raise ValueError(f"snapshot {kind} is not a mapping")
        target = getattr(overlay, kind)
        for key, value in items.items():
            target[_decode_key(kind, key)] = _check_value(kind, value)
    return overlay


def _frame(entry: dict) -> bytes:
    payload = json.dumps(entry, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _unframe(line: bytes, legacy: bool) -> bytes:
    if legacy:
        return line
    crc, _, payload = line.partition(b" ")
    if len(crc) != 8 or crc != b"%08x" % zlib.crc32(payload):
        raise ValueError("checksum mismatch")
    return payload


class StateFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None
        self._appended = 0
        self._compact_at = COMPACT_AFTER
        self._good_size: int | None = None  # bytes known good; beyond it: torn or refused
        self._cut_needed = False

    def load(self) -> Overlay:
        """Replays the file; an absent file is an empty overlay. StateFileError if damaged."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self._good_size = 0
            return Overlay()
        except OSError as e:
            raise StateFileError(f"{self.path}: cannot read: {e.strerror}") from None
        if not data:  # it is created whole (_write_whole): empty is damage, not "no changes"
            raise StateFileError(
                f"{self.path}: empty, and the appliance never leaves its state file empty: it "
                "was truncated, and the changes it held are lost. Restore it, or start with "
                "--set-aside-state to start from the config alone")
        lines = data.split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        legacy = data[:1] == b"{"
        overlay, offset = Overlay(), 0
        for n, line in enumerate(complete, 1):
            try:
                overlay = self._replay(overlay, line, legacy)
            except (ValueError, KeyError, TypeError) as e:
                raise self._damaged(n, str(e)) from None
            offset += len(line) + 1
        # An unterminated last record is an append cut short by a crash: never acknowledged.
        # A snapshot is never appended (written whole, then renamed): a cut one is damage.
        if tail and not complete and b'"snapshot"' in tail:
            raise self._damaged(1, "the snapshot is cut short")
        if tail:
            log.info("%s: dropped an incomplete last record (a change never acknowledged)",
                     self.path)
            self._cut_needed = True
        self._good_size = offset
        return overlay

    def _damaged(self, line: int, why: str) -> StateFileError:
        return StateFileError(
            f"{self.path}: line {line}: damaged record ({why[:200]}); nothing was started. "
            "Restore the file, or start with --set-aside-state to move it aside and start "
            "from the config alone")

    @staticmethod
    def _replay(overlay: Overlay, line: bytes, legacy: bool) -> Overlay:
        try:
            entry = load_json(_unframe(line, legacy), "record")
        except DecodeError as e:
            raise ValueError(str(e)) from None
        if not isinstance(entry, dict):
            raise ValueError("not a record")
        if "snapshot" in entry:
            return _overlay(entry["snapshot"])
        kind = entry["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown kind {shorten(kind)}")
        if "keys" in entry:
            pairs = list(zip(entry["keys"], entry["values"], strict=True))
        else:
            pairs = [(entry["key"], entry["value"])]
        target = getattr(overlay, kind)
        for key, value in pairs:
            target[_decode_key(kind, key)] = _check_value(kind, value)
        return overlay

    def set_aside(self) -> Path:
        """Moves a damaged file out of the way (kept for inspection); returns its new name."""
        aside = self.path.with_name(f"{self.path.name}.damaged-{os.getpid()}")
        os.replace(self.path, aside)
        self._good_size = 0
        return aside

    def snapshot(self, overlay: Overlay) -> None:
        """Replaces the file with one snapshot record, atomically. StorageError if it cannot."""
        self.close()
        self._write_whole(_frame({"format": FORMAT, "snapshot": overlay.to_json()}))
        self._cut_needed = False
        self._appended = 0
        self._compact_at = COMPACT_AFTER

    def _write_whole(self, data: bytes) -> None:
        """The file becomes `data` (new file, fsync, rename, fsync of the directory): it is
        never seen empty or half written. StorageError if it cannot."""
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            tmp = None
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as e:
            raise StorageError(f"cannot write state file {self.path}: {e.strerror}") from None
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self._good_size = len(data)

    def record(self, kind: str, key: Any, value: Any) -> None:
        self._append({"kind": kind, "key": _encode_key(kind, key), "value": value})

    def record_bulk(self, kind: str, items: list[tuple[Any, Any]]) -> None:
        # Two flat lists: a third of the time of a list of pairs for 1M routes.
        self._append({"kind": kind, "keys": [_encode_key(kind, k) for k, _ in items],
                      "values": [v for _, v in items]})

    def needs_compaction(self, ahead: int = 0) -> bool:
        return self._appended + ahead >= self._compact_at

    def defer_compaction(self) -> None:
        """A snapshot failed (disk full?): the log stays valid; try again later."""
        self._compact_at = self._appended + COMPACT_AFTER // 10

    def _append(self, entry: dict) -> None:
        """Appends and syncs one record, or leaves the file as it was (StorageError)."""
        line = _frame(entry)
        if self._fd is None and not self.path.exists():  # (a snapshot at start could not be written)
            self._write_whole(line)
            self._appended += 1
            return
        try:
            fd = self._open()
            if self._cut_needed:  # a torn record from a crash, or a refused write, is there
                os.ftruncate(fd, self._good_size)
                self._cut_needed = False
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fdatasync(fd)
        except OSError as e:
            self._cut_needed = True
            self._cut_back()
            raise StorageError(f"cannot write state file {self.path}: {e.strerror}") from None
        self._good_size += len(line)
        self._appended += 1

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            if self._good_size is None:
                self._good_size = os.fstat(self._fd).st_size
        return self._fd

    def _cut_back(self) -> None:
        # Shrinking a file works on a full disk; if even that fails, the next append retries.
        try:
            if self._fd is not None:
                os.ftruncate(self._fd, self._good_size)
                os.fdatasync(self._fd)
                self._cut_needed = False
        except OSError as e:
            log.error("%s: cannot cut off a failed write (%s); retried at the next change",
                      self.path, e.strerror)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
