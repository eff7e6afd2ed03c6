"""Service mode for hosts without systemd (containers, CI machines).

`appliance service start --config F` detaches a supervisor that runs
`appliance run --config F`, restarts it when it fails (like systemd's
Restart=on-failure, with a growing delay) and writes a pid file;
`service stop` stops both cleanly; `service status` says what runs.
SIGHUP to the supervisor is passed on (config reload: `service reload`); SIGTERM stops.
The pid file holds the supervisor's pid and start time, and a pid is believed only if that
process is still a supervisor started then; the appliance dies with its supervisor
(PR_SET_PDEATHSIG), so killing the supervisor never leaves an orphan forwarding.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from appliance.errors import StateError

DEFAULT_PIDFILE = "/run/appliance/supervisor.pid"
DEFAULT_LOG = "/var/log/appliance.log"
PR_SET_PDEATHSIG = 1


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): with
    the pid, it names one process, whatever later reuses the number."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def is_supervisor(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"appliance.supervisor" in cmdline


def read_pid(pidfile: Path) -> int | None:
    """The supervisor the pid file names, if that very process still runs: the pid, its
    start time and its command line must all match (a reused pid is not it)."""
    try:
        fields = pidfile.read_text().split()
        pid = int(fields[0])
        started = int(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return None
    if not is_supervisor(pid) or (started is not None and start_time(pid) != started):
        return None
    return pid


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _die_with_parent(parent: int):
    """For the child, before exec: SIGTERM when the supervisor dies, however it dies
    (kill -9 included), so no appliance runs on orphaned holding the DPDK lock."""
    libc = ctypes.CDLL(None, use_errno=True)

    def set_up() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # it died before prctl took effect
            os._exit(1)
    return set_up


def start(config: str, pidfile: Path, log: Path) -> tuple[int, bool]:
    """Detaches the supervisor; returns (pid, whether it was started now)."""
    running = read_pid(pidfile)
    if running:
        return running, False
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.supervisor", config, str(pidfile)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + 10
    while read_pid(pidfile) != proc.pid:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise StateError(f"supervisor did not start; see {log}")
        time.sleep(0.05)
    return proc.pid, True


def stop(pidfile: Path, timeout: float = 60) -> bool:
    """Stops the supervisor and its appliance; False if none was running."""
    pid = read_pid(pidfile)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while read_pid(pidfile) == pid:
        if time.monotonic() > deadline:
            raise StateError(f"supervisor {pid} did not stop within {timeout} s")
        time.sleep(0.1)
    return True


def reload(pidfile: Path) -> bool:
    """SIGHUP to the appliance through its supervisor; False if none runs."""
    pid = read_pid(pidfile)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


def supervise(config: str, pidfile: Path) -> int:
    """The supervisor loop (runs detached)."""
    me = os.getpid()
    pidfile.write_text(f"{me} {start_time(me)}\n")
    child: subprocess.Popen | None = None
    stopping = False

    def on_term(*_):
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    def on_hup(*_):
        if child and child.poll() is None:
            child.send_signal(signal.SIGHUP)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_hup)
    delay = 1.0
    try:
        while not stopping:
            started = time.monotonic()
            child = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", config],
                                     preexec_fn=_die_with_parent(me))
            code = child.wait()
            if stopping:
                break
            if code == 2:  # a config error does not fix itself by restarting
                print(f"supervisor: appliance exited 2 (config error); not restarting", flush=True)
                return 2
            delay = 1.0 if time.monotonic() - started > 30 else min(delay * 2, 30.0)
            print(f"supervisor: appliance exited {code}; restarting in {delay:.0f} s", flush=True)
            time.sleep(delay)
        return 0
    finally:
        if read_pid(pidfile) == me:
            pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1], Path(sys.argv[2])))
