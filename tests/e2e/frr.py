"""FRR daemons (Debian's frr package) for a test: zebra and a routing daemon (bgpd, ospfd)
in the appliance host's namespace or a neighbour's, or bgpd alone (no zebra: nothing
installed). Each instance has its own directory for config, pid files and sockets, owned
by frr (the daemons drop to that user), so several can run beside a system FRR."""
from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

FRR = Path("/usr/lib/frr")


class Frr:
    def __init__(self, conf: str, netns: str | None = None, zebra: bool = True,
                 daemon: str = "bgpd", vrf_netns: bool = False, bfd: str | None = None):
        """`vrf_netns`: zebra's netns VRF backend (-n): each /run/netns/NAME is VRF NAME.
        `bfd`: bfdd too, with this config (its sessions for bgpd's `neighbor ... bfd`)."""
        self.dir = Path(tempfile.mkdtemp(prefix="frr-"))
        self.netns = netns
        self.zebra = zebra
        self.vrf_netns = vrf_netns
        self.daemon = daemon
        (self.dir / f"{daemon}.conf").write_text(conf)
        (self.dir / "zebra.conf").write_text("hostname appliance-host\n")
        self.bfd = bfd
        if bfd is not None:
            (self.dir / "bfdd.conf").write_text(bfd)
        shutil.chown(self.dir, "frr", "frr")
        for f in self.dir.iterdir():
            shutil.chown(f, "frr", "frr")
        self.procs: list[str] = []

    def _run(self, daemon: str, *args: str) -> None:
        cmd = [str(FRR / daemon), "-d", "-f", str(self.dir / f"{daemon}.conf"),
               "-i", str(self.dir / f"{daemon}.pid"), "--vty_socket", str(self.dir),
               "-u", "frr", "-g", "frr", *args]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{daemon}: {r.returncode}\n{r.stdout}{r.stderr}")
        self.procs.append(daemon)

    def start(self) -> Frr:
        zserv = str(self.dir / "zserv.api")
        if self.zebra:
            self._run("zebra", "-z", zserv, *(["-n"] if self.vrf_netns else []))
            if self.bfd is not None:  # (its own control socket: several run on one host)
                self._run("bfdd", "-z", zserv, "--bfdctl", str(self.dir / "bfdd.sock"))
            self._run(self.daemon, "-z", zserv)
        else:
            self._run(self.daemon, "-Z")  # (bgpd only)
        return self

    def vtysh(self, *commands: str) -> str:
        cmd = ["vtysh", "--vty_socket", str(self.dir)]
        for c in commands:
            cmd += ["-c", c]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout

    def established(self, peer: str) -> bool:
        return "Established" in self.vtysh(f"show bgp neighbors {peer}")

    def stop(self) -> None:
        for daemon in reversed(self.procs):
            pid_file = self.dir / f"{daemon}.pid"
            try:
                pid = int(pid_file.read_text())
            except (OSError, ValueError):
                continue
            try:
                import os
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
