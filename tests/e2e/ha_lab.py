"""Two appliances as a redundant pair: VRRP on both of their LANs, Linux hosts behind.

    h1 (10.0.1.10) --veth-- bridge L --tap-- A.lan0 (10.0.1.2)   A.lan1 (10.0.2.2) --tap-- bridge W --veth-- h2 (10.0.2.10)
                                      --tap-- B.lan0 (10.0.1.3)   B.lan1 (10.0.2.3) --tap--

Each host's gateway is its LAN's virtual address (10.0.1.1 on VRID 1, 10.0.2.1 on VRID 2);
A has priority 200, B 100. The appliances are two processes whose workers share a CPU.
Used by tests/e2e/test_vrrp.py and bench/vrrp_failover.py (the README's failover figures).
"""
from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

from tests.e2e.conftest import Appliance
from tests.e2e.lab import HOST_ENV, sh

VIP = ["10.0.1.1", "10.0.2.1"]
VMAC = ["00:00:5e:00:01:01", "00:00:5e:00:01:02"]
HOSTS = ["10.0.1.10", "10.0.2.10"]
PRIORITY = {"a": 200, "b": 100}
ADDRESS = {"a": ["10.0.1.2/24", "10.0.2.2/24"], "b": ["10.0.1.3/24", "10.0.2.3/24"]}


class HaPair:
    def __init__(self, tmp: Path, interval_ms: int = 100, preempt: bool = True,
                 preempt_delay_ms: int = 0, track: bool = False):
        self.id = uuid.uuid4().hex[:5]
        self.ns = [f"ha{self.id}h1", f"ha{self.id}h2"]
        self.bridge = [f"hb{self.id}0", f"hb{self.id}1"]
        self.apps: dict[str, Appliance] = {}
        for name in ("a", "b"):
            (tmp / name).mkdir()
            app = Appliance(tmp / name)
            taps = [f"h{self.id}{name}{i}" for i in range(2)]
            app.taps = taps
            app.config.update({
                "ports": [{
                    "name": f"lan{i}", "device": f"net_tap_{app.prefix}{i},iface={taps[i]}",
                    "mac": f"02:00:00:0{'ab'.index(name) + 1}:00:0{i + 1}",
                    "addresses": [ADDRESS[name][i]],
                    "vrrp": [{"vrid": i + 1, "priority": PRIORITY[name], "interval_ms": interval_ms,
                              "preempt": preempt, "preempt_delay_ms": preempt_delay_ms,
                              "addresses": [VIP[i]],
                              **({"track": [{"interface": f"lan{1 - i}", "decrement": 150}]}
                                 if track else {})}]} for i in range(2)],
                "nexthops": [], "routes": [],
                "arp": {"reachable_ms": 2000, "stale_ms": 500, "retrans_ms": 200, "probes": 3,
                        "failed_ms": 3000},
            })
            self.apps[name] = app
        for i in range(2):
            self._host(i)

    def _host(self, i: int) -> None:
        ns, br = self.ns[i], self.bridge[i]
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "link", "add", br, "type", "bridge")
        sh("sysctl", "-qw", f"net.ipv6.conf.{br}.disable_ipv6=1")
        sh("ip", "link", "set", br, "up")
        sh("ip", "link", "add", f"hv{self.id}{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", f"hv{self.id}{i}", "master", br, "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "address", f"02:00:00:0b:00:0{i + 1}")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{HOSTS[i]}/24", "dev", "eth0")
        sh("ip", "-n", ns, "route", "add", "default", "via", VIP[i])

    def start(self, name: str) -> Appliance:
        app = self.apps[name]
        app.start()
        for i, tap in enumerate(app.taps):  # a kernel-side MAC of its own, into its bridge
            sh("sysctl", "-qw", f"net.ipv6.conf.{tap}.disable_ipv6=1")
            sh("ip", "link", "set", tap, "address", f"02:00:00:0c:0{'ab'.index(name) + 1}:0{i + 1}")
            sh("ip", "link", "set", tap, "master", self.bridge[i], "up")
        return app

    def kill(self, name: str) -> None:
        """Pulls the plug: SIGKILL, nothing said to the peer."""
        app = self.apps[name]
        app.proc.kill()
        app.proc.wait(timeout=30)
        app.cleanup()

    def states(self, name: str) -> dict[int, str]:
        """VRID -> state, as the appliance's API says."""
        with self.apps[name].client() as c:
            return {r["vrid"]: r["state"] for r in c.vrrp()}

    def wait_states(self, name: str, want: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if set(self.states(name).values()) == {want}:
                return True
            time.sleep(0.05)
        return False

    def host(self, i: int, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns[i], *cmd, check=False, timeout=timeout)

    def gateway_mac(self, i: int) -> str | None:
        """The MAC host i's ARP table has for its gateway (the virtual address)."""
        out = self.host(i, "ip", "neigh", "show", VIP[i]).stdout
        m = re.search(r"lladdr (\S+)", out)
        return m.group(1) if m else None

    def pinger(self, count: int, interval_s: float = 0.01) -> subprocess.Popen:
        """h1 pings h2 through both gateways, every `interval_s`, each reply timestamped."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns[0], "ping", "-n", "-D", "-i", str(interval_s), "-c",
             str(count), "-W", "1", HOSTS[1]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=HOST_ENV)

    @staticmethod
    def outcome(pinger: subprocess.Popen) -> tuple[int, int, float]:
        """(sent, lost, the longest time between two replies in s) once the pinger is done."""
        out, _ = pinger.communicate(timeout=120)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert m, out
        replies = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", out, re.M)]
        gap = max((b - a for a, b in zip(replies, replies[1:])), default=0.0)
        return int(m.group(1)), int(m.group(1)) - int(m.group(2)), gap

    def close(self) -> None:
        for app in self.apps.values():
            if app.proc and app.proc.poll() is None:
                app.signal(signal.SIGTERM)
            app.cleanup()
        for i in range(2):
            sh("ip", "netns", "del", self.ns[i], check=False)
            sh("ip", "link", "del", self.bridge[i], check=False)


def mastership(events: list[dict], vrid: int) -> list[tuple[float, float]]:
    """The spans (start, end) a router was master, from its transitions (end: now if still)."""
    spans, start = [], None
    for e in events:
        if e["vrid"] != vrid or e["from"] == e["to"]:
            continue
        if e["to"] == "master":
            start = e["time"]
        elif e["from"] == "master" and start is not None:
            spans.append((start, e["time"]))
            start = None
    if start is not None:
        spans.append((start, time.time()))
    return spans


def overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Seconds both were master at once."""
    return sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in a for y0, y1 in b)
