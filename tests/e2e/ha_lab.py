"""Two appliances as a redundant pair: VRRP on both of their LANs, Linux hosts behind.

    h1 (10.0.1.10) --veth-- bridge L --tap-- A.lan0 (10.0.1.2)   A.lan1 (10.0.2.2) --tap-- bridge W --veth-- h2 (10.0.2.10)
                                      --tap-- B.lan0 (10.0.1.3)   B.lan1 (10.0.2.3) --tap--

Each host's gateway is its LAN's virtual address (10.0.1.1 on VRID 1, 10.0.2.1 on VRID 2);
A has priority 200, B 100. The appliances are two processes whose workers share a CPU.

With `bgp_ms`, an upstream router (FRR in namespace `up`, 10.0.2.254 on bridge W) peers eBGP
with each appliance's FRR over its lan1 kernel interface, BFD on every session (`bgp_ms` x 3),
and learns 10.0.1.0/24 from both. Two appliances on one host cannot both have kernel
interfaces in one namespace (the same subnet twice): each puts its ports in a VRF of its
own, so its kernel interface and its FRR live in that VRF's namespace (/run/netns/VRF).
Used by tests/e2e/test_vrrp.py, tests/e2e/test_bfd.py, bench/vrrp_failover.py and
bench/bgp_withdrawal.py (the README's figures).
"""
from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.e2e.conftest import Appliance
from tests.e2e.frr import Frr
from tests.e2e.lab import HOST_ENV, bridged_host, sh

VIP = ["10.0.1.1", "10.0.2.1"]
VMAC = ["00:00:5e:00:01:01", "00:00:5e:00:01:02"]
HOSTS = ["10.0.1.10", "10.0.2.10"]
VIP6 = ["2001:db8:1::1", "2001:db8:2::1"]  # (with fe80::1 first, the link-local one)
VMAC6 = ["00:00:5e:00:02:01", "00:00:5e:00:02:02"]
HOSTS6 = ["2001:db8:1::10", "2001:db8:2::10"]
PRIORITY = {"a": 200, "b": 100}
ADDRESS = {"a": ["10.0.1.2/24", "10.0.2.2/24"], "b": ["10.0.1.3/24", "10.0.2.3/24"]}
UPSTREAM = "10.0.2.254"
PEERS = {"a": "10.0.2.2", "b": "10.0.2.3"}

BFD = """bfd
 profile fast
  detect-multiplier 3
  receive-interval {ms}
  transmit-interval {ms}
 exit
exit
"""

APPLIANCE_BGP = """frr defaults traditional
hostname {name}
router bgp 65001
 bgp router-id {me}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.0.2.254 remote-as 65000
 neighbor 10.0.2.254 timers 3 9
 neighbor 10.0.2.254 timers connect 1
 neighbor 10.0.2.254 bfd profile fast
 address-family ipv4 unicast
  network 10.0.1.0/24
 exit-address-family
"""

UPSTREAM_BGP = """frr defaults traditional
hostname upstream
router bgp 65000
 bgp router-id 10.0.2.254
 no bgp ebgp-requires-policy
""" + "".join(f""" neighbor {peer} remote-as 65001
 neighbor {peer} timers 3 9
 neighbor {peer} timers connect 1
 neighbor {peer} bfd profile fast
""" for peer in PEERS.values())


class HaPair:
    def __init__(self, tmp: Path, interval_ms: int = 100, preempt: bool = True,
                 preempt_delay_ms: int = 0, track: bool = False, bgp_ms: int | None = None,
                 ipv6: bool = False):
        self.id = uuid.uuid4().hex[:5]
        self.ns = [f"ha{self.id}h1", f"ha{self.id}h2"]
        self.bridge = [f"hb{self.id}0", f"hb{self.id}1"]
        self.apps: dict[str, Appliance] = {}
        self.bgp_ms = bgp_ms
        self.frr: dict[str, Frr] = {}
        self.vrf = {name: f"ha{self.id}{name}" for name in ("a", "b")}  # (bgp_ms only)
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
            if ipv6:  # an IPv6 router beside each IPv4 one, advertised to the hosts
                for i, port in enumerate(app.config["ports"]):
                    port["addresses"].append(f"{HOSTS6[i].rsplit(':', 1)[0]}:{2 + 'ab'.index(name)}/64")
                    port["vrrp"].append({**port["vrrp"][0], "addresses": ["fe80::1", VIP6[i]]})
                    port["ra"] = {"max_interval_s": 4}
            if bgp_ms is not None:
                app.config["vrfs"] = [{"name": self.vrf[name]}]
                for port in app.config["ports"]:
                    port["vrf"] = self.vrf[name]
                app.config["ports"][1]["kernel"] = {"name": f"hk{self.id}{name}"}
                app.config["route_sync"] = {"table": "main", "protocols": ["bgp"]}
            self.apps[name] = app
        for i in range(2):
            self._host(i)
            if ipv6:  # its default route from the master's router advertisements
                sh("ip", "netns", "exec", self.ns[i], "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                   "net.ipv6.conf.eth0.disable_ipv6=0")
                sh("ip", "-n", self.ns[i], "addr", "add", f"{HOSTS6[i]}/64", "dev", "eth0", "nodad")
        self.upstream = f"ha{self.id}up"
        if bgp_ms is not None:
            sh("ip", "netns", "add", self.upstream)
            sh("ip", "link", "add", f"hu{self.id}", "type", "veth", "peer", "name", "eth0",
               "netns", self.upstream)
            sh("ip", "link", "set", f"hu{self.id}", "master", self.bridge[1], "up")
            sh("ip", "-n", self.upstream, "link", "set", "eth0", "address", "02:00:00:0d:00:01")
            sh("ip", "-n", self.upstream, "link", "set", "eth0", "up")
            sh("ip", "-n", self.upstream, "link", "set", "lo", "up")
            sh("ip", "-n", self.upstream, "addr", "add", f"{UPSTREAM}/24", "dev", "eth0")
            self.frr["up"] = Frr(UPSTREAM_BGP, netns=self.upstream, bfd=BFD.format(ms=bgp_ms)).start()

    def _host(self, i: int) -> None:
        bridged_host(self.ns[i], self.bridge[i], f"hv{self.id}{i}", f"02:00:00:0b:00:0{i + 1}",
                     HOSTS[i], VIP[i])

    def start(self, name: str) -> Appliance:
        """Its taps go into their bridges as soon as they exist, as a NIC's cable is in
        before it starts: a router alone on a link it thinks up would make itself master."""
        app = self.apps[name]
        plugger = threading.Thread(target=self._plug, args=(name,))
        plugger.start()
        try:
            app.start()
        finally:
            plugger.join()
        assert self.plugged, f"{name}'s taps did not appear"
        self._own_macs(name)  # again: net_tap gives them the port's MAC as it starts
        if self.bgp_ms is not None and name not in self.frr:
            conf = APPLIANCE_BGP.format(name=name, me=PEERS[name])
            self.frr[name] = Frr(conf, netns=self.vrf[name], bfd=BFD.format(ms=self.bgp_ms)).start()
        return app

    def _plug(self, name: str) -> None:
        self.plugged = False
        taps = self.apps[name].taps
        deadline = time.monotonic() + 60
        while not all(Path(f"/sys/class/net/{tap}").exists() for tap in taps):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        self._own_macs(name)
        for i, tap in enumerate(taps):
            sh("sysctl", "-qw", f"net.ipv6.conf.{tap}.disable_ipv6=1")
            sh("ip", "link", "set", tap, "master", self.bridge[i], "up")
        self.plugged = True

    def _own_macs(self, name: str) -> None:
        """The taps' kernel sides get MACs of their own: with the port's, the bridge would
        keep the frames for the appliance to itself."""
        for i, tap in enumerate(self.apps[name].taps):
            sh("ip", "link", "set", tap, "address", f"02:00:00:0c:0{'ab'.index(name) + 1}:0{i + 1}")

    def upstream_paths(self) -> list[str]:
        """The next hops the upstream's kernel table has for 10.0.1.0/24 (what zebra put)."""
        out = sh("ip", "-n", self.upstream, "route", "show", "10.0.1.0/24", check=False).stdout
        return sorted(set(re.findall(r"via (\S+)", out)))

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

    def pinger(self, count: int, interval_s: float = 0.01, ipv6: bool = False) -> subprocess.Popen:
        """h1 pings h2 through both gateways, every `interval_s`, each reply timestamped."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns[0], "ping", "-n", "-D", "-i", str(interval_s), "-c",
             str(count), "-W", "1", HOSTS6[1] if ipv6 else HOSTS[1]], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=HOST_ENV)

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
        for frr in self.frr.values():
            frr.stop()
        for app in self.apps.values():
            if app.proc and app.proc.poll() is None:
                app.signal(signal.SIGTERM)
            app.cleanup()
        for i in range(2):
            sh("ip", "netns", "del", self.ns[i], check=False)
            sh("ip", "link", "del", self.bridge[i], check=False)
        for ns in (self.upstream, *self.vrf.values()):
            sh("ip", "netns", "del", ns, check=False)

