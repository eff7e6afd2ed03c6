"""The state file: every accepted runtime change, durable before it is acknowledged.

JSON lines. The first line is a snapshot of the overlay; each later line is
one change (or one bulk change), appended and fdatasync'ed, so an
acknowledged change survives a crash and a single route add costs one small
write, not a rewrite of a million-route file. The log is compacted into a new
snapshot (temp file, fsync, rename) when it grows long and on apply/reload.
A torn last line (a crash mid-write, never acknowledged) is ignored.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from appliance.errors import StateError
from appliance.tables import Overlay, rule_key_parse, rule_key_text

COMPACT_AFTER = 10_000  # appended lines


def _encode_key(kind: str, key: Any) -> Any:
    return rule_key_text(key) if kind == "rules" else key


def _decode_key(kind: str, key: Any) -> Any:
    if kind == "rules":
        return rule_key_parse(key)
    return int(key) if kind == "nexthops" else key


class StateFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._log = None
        self._appended = 0

    def load(self) -> Overlay:
        """Replays the file; an absent file is an empty overlay."""
        if not self.path.exists():
            return Overlay()
        lines = self.path.read_text().splitlines()
        overlay = Overlay()
        for n, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                if "snapshot" in entry:
                    overlay = Overlay.from_json(entry["snapshot"])
                    continue
                kind = entry["kind"]
                target = getattr(overlay, kind)
                if "keys" in entry:
                    pairs = zip(entry["keys"], entry["values"], strict=True)
                else:
                    pairs = [(entry["key"], entry["value"])]
                for key, value in pairs:
                    target[_decode_key(kind, key)] = value
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                if n == len(lines):
                    break  # torn last write: it was never acknowledged
                raise StateError(f"{self.path}: line {n} unreadable ({e}); move the file away "
                                 "to start from the config alone") from None
        return overlay

    def snapshot(self, overlay: Overlay) -> None:
        """Replaces the file with one snapshot line, atomically."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps({"snapshot": overlay.to_json()}) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._appended = 0

    def record(self, kind: str, key: Any, value: Any) -> None:
        self._append({"kind": kind, "key": _encode_key(kind, key), "value": value})

    def record_bulk(self, kind: str, items: list[tuple[Any, Any]]) -> None:
        # Two flat lists: a third of the time of a list of pairs for 1M routes.
        self._append({"kind": kind, "keys": [_encode_key(kind, k) for k, _ in items],
                      "values": [v for _, v in items]})

    def needs_compaction(self) -> bool:
        return self._appended >= COMPACT_AFTER

    def _append(self, entry: dict) -> None:
        if self._log is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.path, "a")
        self._log.write(json.dumps(entry) + "\n")
        self._log.flush()
        os.fdatasync(self._log.fileno())
        self._appended += 1

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
