"""A small network around a real appliance: Linux hosts in namespaces, net_tap ports.

    h1 (10.0.1.2) --veth-- bridge --tap-- lan0 [appliance] lan1 --tap-- bridge --veth-- h2 (10.0.2.2)

Each host is an unmodified network namespace with a default route via the
appliance and no static neighbour entry. The tap of each port sits in a
bridge with the host's veth, so the hosts keep their interfaces when the
appliance restarts: only the new tap is put back into its bridge. The tap's
kernel side gets a MAC of its own (net_tap gives it the port's), else the
bridge would keep frames for the appliance to itself.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from tests.e2e.conftest import Appliance

ROUTER_MAC = ["02:00:00:0a:00:01", "02:00:00:0a:00:02"]
HOST_MAC = ["02:00:00:0b:00:01", "02:00:00:0b:00:02"]
SUBNET = ["10.0.1", "10.0.2"]
FAST_ARP = {"reachable_ms": 2000, "stale_ms": 500, "retrans_ms": 200, "probes": 3,
            "failed_ms": 3000, "hold_packets": 8}


# The hosts' own tools run as they would anywhere: without the sanitizer runtime the
# sanitized test pass preloads (iproute2's `ip route get` trips ASan's strncpy check).
HOST_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def sh(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=HOST_ENV)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.returncode}\n{r.stdout}{r.stderr}")
    return r


class Lab:
    def __init__(self, tmp: Path, mtu: list[int | None] | None = None, kernel: bool = False):
        self.id = uuid.uuid4().hex[:5]
        self.ns = [f"lab{self.id}h1", f"lab{self.id}h2"]
        self.bridge = [f"b{self.id}0", f"b{self.id}1"]
        self.tap = [f"t{self.id}0", f"t{self.id}1"]
        self.kernel = [f"k{self.id}{i}" for i in range(2)] if kernel else []  # in this namespace
        self.appliance = Appliance(tmp)
        prefix = self.appliance.prefix
        self.appliance.config.update({
            "ports": [{"name": f"lan{i}", "device": f"net_tap_{prefix}{i},iface={self.tap[i]}",
                       "mac": ROUTER_MAC[i], "addresses": [f"{SUBNET[i]}.1/24"],
                       **({"mtu": mtu[i]} if mtu and mtu[i] else {}),
                       **({"kernel": {"name": self.kernel[i]}} if kernel else {})}
                      for i in range(2)],
            "nexthops": [], "routes": [], "arp": dict(FAST_ARP),
        })
        for i in range(2):
            self._host(i)

    def _host(self, i: int) -> None:
        bridged_host(self.ns[i], self.bridge[i], f"v{self.id}{i}", HOST_MAC[i], f"{SUBNET[i]}.2",
                     f"{SUBNET[i]}.1")

    def start(self) -> Lab:
        self.appliance.start()
        self.plug_taps()
        return self

    def plug_taps(self) -> None:
        """The appliance's new taps into their bridges (what a restart needs)."""
        for i in range(2):
            sh("sysctl", "-qw", f"net.ipv6.conf.{self.tap[i]}.disable_ipv6=1")
            sh("ip", "link", "set", self.tap[i], "address", f"02:00:00:0c:00:0{i + 1}")
            sh("ip", "link", "set", self.tap[i], "master", self.bridge[i], "up")

    def restart(self) -> None:
        assert self.appliance.signal(signal.SIGTERM) == 0
        assert self.appliance.leftovers() == [], "net_tap ports must shut down cleanly"
        self.start()

    def host(self, i: int, *cmd: str, check: bool = False,
             timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns[i], *cmd, check=check, timeout=timeout)

    def ping(self, i: int, dst: str, count: int = 2) -> subprocess.CompletedProcess:
        return self.host(i, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", dst)

    def wait_ping(self, i: int, dst: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping(i, dst, count=1).returncode == 0:
                return True
        return False

    def close(self) -> None:
        app = self.appliance
        if app.proc and app.proc.poll() is None:
            app.signal(signal.SIGTERM)
        app.cleanup()
        for i in range(2):
            sh("ip", "netns", "del", self.ns[i], check=False)
            sh("ip", "link", "del", self.bridge[i], check=False)


def bridged_host(ns: str, bridge: str, veth: str, mac: str, address: str, gateway: str) -> None:
    """Host namespace `ns` (IPv4 only), its eth0 on a new bridge through veth `veth`,
    `address`/24 with a default route via `gateway`."""
    sh("ip", "netns", "add", ns)
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    sh("ip", "link", "add", bridge, "type", "bridge")
    sh("sysctl", "-qw", f"net.ipv6.conf.{bridge}.disable_ipv6=1")
    sh("ip", "link", "set", bridge, "up")
    sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "link", "set", veth, "master", bridge, "up")
    sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
    sh("ip", "-n", ns, "route", "add", "default", "via", gateway)


def address_host(ns: str, address: str, gateway: str) -> None:
    """A host namespace's eth0 up with `address`/24 and a default route via `gateway`."""
    sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "route", "add", "default", "via", gateway)


class LinuxReference:
    """A Linux router in a namespace (`router`) with host namespaces (`ns`): the reference
    a test holds the appliance against. Subclasses build the links."""

    router: str
    ns: list[str]

    def forward(self, nft_rules: str) -> None:
        sh("ip", "netns", "exec", self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        subprocess.run(["ip", "netns", "exec", self.router, "nft", "-f", "-"], input=nft_rules,
                       text=True, check=True, env=HOST_ENV)

    def host(self, i: int, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns[i], *cmd, check=False, timeout=timeout)

    def close(self) -> None:
        for ns in [self.router, *self.ns]:
            sh("ip", "netns", "del", ns, check=False)
