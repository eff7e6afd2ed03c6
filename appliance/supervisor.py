"""Service mode for hosts without systemd (containers, CI machines).

`appliance service start --config F` detaches a supervisor that runs
`appliance run --config F`, restarts it when it fails (like systemd's
Restart=on-failure, with a growing delay) and writes a pid file;
`service stop` stops both cleanly; `service status` says what runs.
SIGHUP to the supervisor is passed on (config reload); SIGTERM stops.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from appliance.errors import StateError

DEFAULT_PIDFILE = "/run/appliance/supervisor.pid"
DEFAULT_LOG = "/var/log/appliance.log"


def read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


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


def supervise(config: str, pidfile: Path) -> int:
    """The supervisor loop (runs detached)."""
    pidfile.write_text(str(os.getpid()))
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
            child = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", config])
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
        if read_pid(pidfile) == os.getpid():
            pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1], Path(sys.argv[2])))
