"""One appliance per API socket and per state file: a lock file beside each.

Two instances on one socket would take each other's clients (and the second
would remove the first's socket when it stops); two on one state file would
interleave their records. flock() is released by the kernel when the holder
dies, so a crashed instance never blocks the next start.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from appliance.errors import ConfigError


class InstanceLock:
    def __init__(self, path: str | os.PathLike, what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"{self.what}: another appliance (pid {holder}) is running with "
                              f"it (lock {self.path}); stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        # The file stays: unlinking it could let two starters lock two different files.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_instance(socket_path: str, state_file: str | None) -> list[InstanceLock]:
    """Locks the socket's and the state file's lock files, or ConfigError naming the holder."""
    locks = [InstanceLock(socket_path + ".lock", f"api.socket {socket_path}")]
    if state_file:
        locks.append(InstanceLock(state_file + ".lock", f"state_file {state_file}"))
    taken = []
    try:
        for lock in locks:
            taken.append(lock.acquire())
    except ConfigError:
        for lock in taken:
            lock.release()
        raise
    return taken
