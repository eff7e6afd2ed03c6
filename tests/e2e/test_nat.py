"""A small office behind NAT44, the appliance beside a Linux router doing the same with
nftables (masquerade, a port forward with its hairpin, `ct state established,related`
on the outside) as the reference: every scenario runs against both.

    h1 (10.0.1.2), web (10.0.1.3) -- router: 10.0.1.1 | 10.0.2.1 (public) -- outside (10.0.2.2)

The outside host must see only the router's public address; 10.0.2.1:8080 serves the
inside web server (port 80), to the outside and, by the public address, to the inside.
"""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from tests.e2e.conftest import free_port, wait_until
from tests.e2e.lab import HOST_ENV, Lab, LinuxReference, address_host, sh
from tests.e2e.test_stateful import SERVE, UDP_ASK

H1, OUTSIDE, WEB = 0, 1, 2
ADDRESS = ["10.0.1.2", "10.0.2.2", "10.0.1.3"]
PUBLIC, INSIDE_GW = "10.0.2.1", "10.0.1.1"
CONNECT = ("import socket, sys\n"
           "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)\n"
           "print(s.recv(100).decode())")
UDP_PEER = ("import socket, sys\n"  # answers each datagram with the address it came from
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5353))\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    data, peer = s.recvfrom(100); s.sendto(peer[0].encode(), peer)\n")
NAT_CONFIG = {"source": "masquerade",
              "forwards": [{"proto": "tcp", "port": 8080, "to": ADDRESS[WEB], "to_port": 80}]}


def add_host(ns: str, bridge: str | None, address: str, gateway: str, mac: str) -> None:
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    peer = f"v{uuid.uuid4().hex[:8]}"
    sh("ip", "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", ns)
    if bridge:
        sh("ip", "link", "set", peer, "master", bridge, "up")
    sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
    address_host(ns, address, gateway)


class LinuxNat(LinuxReference):
    """The reference: a namespace routing between a bridged inside and the outside."""

    RULES = ("table ip nat {\n"
             "  chain prerouting {\n"
             "    type nat hook prerouting priority dstnat;\n"
             f"    ip daddr {PUBLIC} tcp dport 8080 dnat to {ADDRESS[WEB]}:80\n"
             "  }\n"
             "  chain postrouting {\n"
             "    type nat hook postrouting priority srcnat;\n"
             "    oifname \"out0\" masquerade\n"
             "    oifname \"br0\" ct status dnat ip saddr 10.0.1.0/24 masquerade\n"  # hairpin
             "  }\n"
             "}\n"
             "table inet firewall {\n"
             "  chain forward {\n"
             "    type filter hook forward priority 0; policy accept;\n"
             "    iifname \"out0\" ct state established,related accept\n"
             "    iifname \"out0\" ct status dnat accept\n"
             "    iifname \"out0\" drop\n"
             "  }\n"
             "}\n")

    def __init__(self):
        self.id = uuid.uuid4().hex[:5]
        self.router = f"nat{self.id}r"
        self.ns = [f"nat{self.id}h1", f"nat{self.id}h2", f"nat{self.id}h3"]
        sh("ip", "netns", "add", self.router)
        r = ("ip", "-n", self.router)
        sh(*r, "link", "set", "lo", "up")
        sh(*r, "link", "add", "br0", "type", "bridge")
        sh(*r, "addr", "add", f"{INSIDE_GW}/24", "dev", "br0")
        sh(*r, "link", "set", "br0", "up")
        for i in (H1, WEB):
            sh("ip", "netns", "add", self.ns[i])
            sh("ip", "-n", self.ns[i], "link", "set", "lo", "up")
            sh(*r, "link", "add", f"in{i}", "type", "veth", "peer", "name", "eth0", "netns", self.ns[i])
            sh(*r, "link", "set", f"in{i}", "master", "br0", "up")
            address_host(self.ns[i], ADDRESS[i], INSIDE_GW)
        sh("ip", "netns", "add", self.ns[OUTSIDE])
        sh("ip", "-n", self.ns[OUTSIDE], "link", "set", "lo", "up")
        sh(*r, "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", self.ns[OUTSIDE])
        sh(*r, "addr", "add", f"{PUBLIC}/24", "dev", "out0")
        sh(*r, "link", "set", "out0", "up")
        address_host(self.ns[OUTSIDE], ADDRESS[OUTSIDE], PUBLIC)
        self.forward(self.RULES)


class ApplianceNat:
    """The appliance between the lab's hosts: lan0 the inside (h1 and the web server on
    its bridge), lan1 the outside, stateful, masquerading, forwarding 8080 to the web server."""

    def __init__(self, tmp):
        self.lab = Lab(tmp)
        config = self.lab.appliance.config
        config["conntrack"] = {}
        self.metrics_port = free_port()
        config["metrics"] = {"listen": f"127.0.0.1:{self.metrics_port}"}
        config["ports"][1].update(stateful=True, nat=NAT_CONFIG)
        self.web = f"lab{self.lab.id}h3"
        add_host(self.web, self.lab.bridge[0], ADDRESS[WEB], INSIDE_GW, "02:00:00:0b:00:03")
        self.lab.start()
        assert self.lab.wait_ping(H1, ADDRESS[OUTSIDE]), "inside -> outside"
        self.ns = [*self.lab.ns, self.web]

    def host(self, i: int, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns[i], *cmd, check=False, timeout=timeout)

    def close(self) -> None:
        self.lab.close()
        sh("ip", "netns", "del", self.web, check=False)


@pytest.fixture(scope="module", params=["appliance", "linux"])
def router(request, tmp_path_factory):
    r = ApplianceNat(tmp_path_factory.mktemp("nat")) if request.param == "appliance" else LinuxNat()
    try:
        yield r
    finally:
        r.close()


def serve(r, i: int, script: str, *args: str) -> subprocess.Popen:
    p = subprocess.Popen(["ip", "netns", "exec", r.ns[i], sys.executable, "-c", script, ADDRESS[i], *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=HOST_ENV)
    assert p.stdout.readline().strip() == "ready"
    return p


def connect(r, i: int, address: str, port: int) -> str:
    out = r.host(i, sys.executable, "-c", CONNECT, address, str(port))
    return out.stdout.strip() or out.stderr.strip().splitlines()[-1]


def test_the_outside_sees_only_the_public_address(router):
    servers = [serve(router, OUTSIDE, SERVE, "7000"), serve(router, OUTSIDE, UDP_PEER)]
    try:
        assert connect(router, H1, ADDRESS[OUTSIDE], 7000) == f"hello {PUBLIC}"
        out = router.host(H1, sys.executable, "-c", UDP_ASK, ADDRESS[OUTSIDE])
        assert out.stdout.strip() == PUBLIC, out.stdout + out.stderr
    finally:
        for s in servers:
            s.kill()
    # ping: the outside's tcpdump sees echo requests from the public address only
    dump = subprocess.Popen(["ip", "netns", "exec", router.ns[OUTSIDE], "tcpdump", "-l", "-n", "-c", "2",
                             "-i", "eth0", "icmp[icmptype] == icmp-echo"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=HOST_ENV)
    time.sleep(1)
    try:
        assert router.host(H1, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1",
                           ADDRESS[OUTSIDE]).returncode == 0
        lines, _ = dump.communicate(timeout=10)
    finally:
        dump.kill()
    sources = {line.split()[2] for line in lines.splitlines() if " > " in line}
    assert sources == {PUBLIC}, lines


def test_iperf3_tcp_through_the_masquerade(router):
    server = subprocess.Popen(["ip", "netns", "exec", router.ns[OUTSIDE], "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=HOST_ENV)
    try:
        assert wait_until(lambda: ":5201" in router.host(OUTSIDE, "ss", "-ltn").stdout, 10)
        out = router.host(H1, "iperf3", "-c", ADDRESS[OUTSIDE], "-t", "1", "-J").stdout
        assert '"sum_received"' in out and '"bits_per_second"' in out, out[-500:]
    finally:
        server.kill()


def test_traceroute_and_tracepath_through_nat(router):
    out = router.host(H1, "traceroute", "-n", "-q", "1", "-w", "1", ADDRESS[OUTSIDE]).stdout
    assert [line.split()[1] for line in out.splitlines()[1:]] == [INSIDE_GW, ADDRESS[OUTSIDE]], out
    out = router.host(H1, "tracepath", "-n", ADDRESS[OUTSIDE]).stdout
    assert "reached" in out and ADDRESS[OUTSIDE] in out, out


def test_a_port_forward_serves_the_web_server_outside_and_inside(router):
    web = serve(router, WEB, SERVE, "80")
    try:
        # From the outside: the server sees the client's own address.
        assert connect(router, OUTSIDE, PUBLIC, 8080) == f"hello {ADDRESS[OUTSIDE]}"
        # From the inside by the public address (hairpin): the server sees the router,
        # the appliance by its public address (RFC 4787 REQ-9), Linux by its inside one.
        seen = connect(router, H1, PUBLIC, 8080)
        assert seen == f"hello {PUBLIC if isinstance(router, ApplianceNat) else INSIDE_GW}", seen
    finally:
        web.kill()


def test_unsolicited_outside_traffic_is_dropped(router):
    # (Nothing listens: a SYN let through would be refused, not left unanswered.)
    assert "timed out" in connect(router, OUTSIDE, ADDRESS[WEB], 80)
    out = router.host(OUTSIDE, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", ADDRESS[H1])
    assert out.returncode != 0 and "0 received" in out.stdout, out.stdout


def test_the_appliance_shows_its_sessions_ports_and_drops(router):
    if not isinstance(router, ApplianceNat):
        pytest.skip("the appliance's own view")
    app = router.lab.appliance
    server = serve(router, OUTSIDE, UDP_PEER)
    try:
        with app.client() as c:
            assert router.host(H1, sys.executable, "-c", UDP_ASK, ADDRESS[OUTSIDE]).returncode == 0
            sessions = c.conntrack_list(proto="udp", address=ADDRESS[H1])
            assert sessions and all(s["translated"] and s["reply"]["dst"] == PUBLIC
                                    for s in sessions), sessions
            stats = c.stats()
            assert stats["nat"]["mappings"] >= 1 and any(
                p["address"] == PUBLIC and p["udp"] >= 1 for p in stats["nat"]["ports"]), stats["nat"]
        listed = app.cli("conntrack", "list", "--proto", "udp").stdout
        assert f"src={ADDRESS[H1]}" in listed and f"dst={PUBLIC}" in listed, listed
        with urllib.request.urlopen(f"http://127.0.0.1:{router.metrics_port}/metrics") as m:
            metrics = m.read().decode()
        assert f'appliance_nat_ports_in_use{{address="{PUBLIC}",proto="udp"}}' in metrics, metrics[-800:]
    finally:
        server.kill()
    shown = app.cli("nat", "show").stdout
    assert f"lan1         source masquerade ports 1024-65535" in shown, shown
    assert f"forward lan1 tcp 8080 -> {ADDRESS[WEB]} 80" in shown, shown
    # A forward to an address on no subnet: refused, named, nothing changed.
    bad = app.cli("nat", "set", "lan1", "{source: masquerade, forwards: [{proto: tcp, port: 22, to: 192.0.2.9}]}")
    assert bad.returncode != 0 and "192.0.2.9 is on no interface's subnet" in bad.stderr, bad.stderr
    assert app.cli("nat", "show").stdout == shown


# Connections through the NAT, each a new one: (the outside's echo server says whom it saw)
CONNECTIONS = ("import socket, sys\n"
               "for _ in range(int(sys.argv[3])):\n"
               "    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)\n"
               "    print(s.recv(100).decode(), flush=True); s.close()\n")


def test_two_workers_meet_each_session_whatever_queue_a_packet_comes_on(tmp_path):
    """Two workers (sharing a CPU here), three rx queues a port. A tap sends a flow back on
    the queue it was written on, and worker w writes on tx queue w: queue w of lan1 is
    polled by the other worker, so every reply (and its NAT) is handled by the worker that
    did not see its request; the requests spread over both."""
    lab = Lab(tmp_path)
    config = lab.appliance.config
    config["eal"] = {**config.get("eal", {}), "worker_lcores": [1, 2], "cpus": {2: 1}}
    config["conntrack"] = {}
    for port in config["ports"]:
        port.update(rx_queues=3, tx_queues=3)
    config["ports"][1].update(stateful=True, nat={"source": "masquerade"})
    lab.start()
    server = None
    try:
        assert lab.wait_ping(H1, ADDRESS[OUTSIDE]), "inside -> outside"
        with lab.appliance.client() as c:
            workers = c.stats()["workers"]
            assert [sorted(map(tuple, w["rx_queues"])) for w in workers] == [
                [("lan0", 0), ("lan0", 2), ("lan1", 1)], [("lan0", 1), ("lan1", 0), ("lan1", 2)]]
            server = subprocess.Popen(["ip", "netns", "exec", lab.ns[OUTSIDE], sys.executable, "-c",
                                       SERVE, ADDRESS[OUTSIDE], "7000"], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, env=HOST_ENV)
            assert server.stdout.readline().strip() == "ready"
            out = lab.host(H1, sys.executable, "-c", CONNECTIONS, ADDRESS[OUTSIDE], "7000", "40")
            assert out.stdout.split("\n")[:-1] == [f"hello {PUBLIC}"] * 40, out.stdout + out.stderr
            stats = c.stats()
            assert stats["drops"]["not_established"] == 0, stats["drops"]  # (the first ping too: held for ARP, translated)
            assert all(w["rx_packets"] > 40 for w in stats["workers"]), \
                [w["rx_packets"] for w in stats["workers"]]
    finally:
        if server:
            server.kill()
        lab.close()
