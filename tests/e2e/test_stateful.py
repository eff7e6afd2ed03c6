"""A stateful firewall between unmodified Linux hosts, the appliance beside a Linux router
doing the same with nftables (`iifname <outside> ct state established,related accept;
iifname <outside> drop` in its forward chain), as the reference: every scenario runs
against both, and both must behave alike.

    inside (10.0.1.2) -- router: 10.0.1.1 | 10.0.2.1, the outside stateful -- outside (10.0.2.2)
"""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from tests.e2e.conftest import wait_until
from tests.e2e.lab import HOST_ENV, Lab, LinuxReference, address_host, sh

INSIDE, OUTSIDE = 0, 1
ADDRESS = ["10.0.1.2", "10.0.2.2"]
ROUTER = ["10.0.1.1", "10.0.2.1"]
SERVE = ("import socket, sys\n"
         "s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
         "print('ready', flush=True)\n"
         "while True:\n"
         "    c, peer = s.accept(); c.sendall(f'hello {peer[0]}'.encode()); c.close()\n")
CONNECT = ("import socket, sys\n"
           "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)\n"
           "print(s.recv(100).decode())")
UDP_ECHO = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5353))\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    data, peer = s.recvfrom(100); s.sendto(data, peer)\n")
UDP_ASK = ("import socket, sys\n"
           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)\n"
           "s.sendto(b'ping', (sys.argv[1], 5353)); print(s.recvfrom(100)[0].decode())")


class LinuxRouter(LinuxReference):
    """The reference: a namespace forwarding between two host namespaces, nftables
    filtering what comes in from the outside."""

    RULES = ("table inet firewall {\n"
             "  chain forward {\n"
             "    type filter hook forward priority 0; policy accept;\n"
             "    iifname \"out0\" ct state established,related accept\n"
             "    iifname \"out0\" drop\n"
             "  }\n"
             "}\n")

    def __init__(self):
        self.id = uuid.uuid4().hex[:5]
        self.router = f"lin{self.id}r"
        self.ns = [f"lin{self.id}h1", f"lin{self.id}h2"]
        for ns in [self.router, *self.ns]:
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i, name in enumerate(("in0", "out0")):
            sh("ip", "link", "add", name, "netns", self.router, "type", "veth", "peer", "name", "eth0",
               "netns", self.ns[i])
            sh("ip", "-n", self.router, "addr", "add", f"{ROUTER[i]}/24", "dev", name)
            sh("ip", "-n", self.router, "link", "set", name, "up")
            address_host(self.ns[i], ADDRESS[i], ROUTER[i])
        self.forward(self.RULES)


class ApplianceRouter:
    """The appliance between the lab's two hosts, its lan1 (the outside) stateful."""

    def __init__(self, tmp):
        self.lab = Lab(tmp)
        self.lab.appliance.config["conntrack"] = {}
        self.lab.appliance.config["ports"][1]["stateful"] = True
        self.lab.start()
        assert self.lab.wait_ping(INSIDE, ADDRESS[OUTSIDE]), "inside -> outside"

    def host(self, i: int, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return self.lab.host(i, *cmd, timeout=timeout)

    def close(self) -> None:
        self.lab.close()


@pytest.fixture(scope="module", params=["appliance", "linux"])
def router(request, tmp_path_factory):
    r = ApplianceRouter(tmp_path_factory.mktemp("stateful")) if request.param == "appliance" \
        else LinuxRouter()
    try:
        yield r
    finally:
        r.close()


def serve(r, i: int, script: str, *args: str) -> subprocess.Popen:
    ns = r.lab.ns[i] if isinstance(r, ApplianceRouter) else r.ns[i]
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", script, ADDRESS[i], *args],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=HOST_ENV)
    assert p.stdout.readline().strip() == "ready"
    return p


def test_the_inside_pings_out_and_the_outside_cannot_ping_in(router):
    assert router.host(INSIDE, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1",
                       ADDRESS[OUTSIDE]).returncode == 0
    out = router.host(OUTSIDE, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", ADDRESS[INSIDE])
    assert out.returncode != 0 and "0 received" in out.stdout, out.stdout


def test_tcp_from_the_inside_connects_and_from_the_outside_does_not(router):
    servers = [serve(router, i, SERVE, "7000") for i in (INSIDE, OUTSIDE)]
    try:
        out = router.host(INSIDE, sys.executable, "-c", CONNECT, ADDRESS[OUTSIDE], "7000")
        assert out.stdout.strip() == f"hello {ADDRESS[INSIDE]}", out.stdout + out.stderr
        out = router.host(OUTSIDE, sys.executable, "-c", CONNECT, ADDRESS[INSIDE], "7000")
        assert out.returncode != 0 and "timed out" in out.stderr, out.stdout + out.stderr
    finally:
        for s in servers:
            s.kill()


def test_udp_replies_come_back(router):
    server = serve(router, OUTSIDE, UDP_ECHO)
    try:
        out = router.host(INSIDE, sys.executable, "-c", UDP_ASK, ADDRESS[OUTSIDE])
        assert out.stdout.strip() == "ping", out.stdout + out.stderr
    finally:
        server.kill()


def test_traceroute_out_sees_the_router_and_the_host(router):
    """The outside's port unreachable (ending traceroute) is an ICMP error about the
    inside's probe: related, so it comes in."""
    out = router.host(INSIDE, "traceroute", "-n", "-q", "1", "-w", "1", ADDRESS[OUTSIDE]).stdout
    assert [line.split()[1] for line in out.splitlines()[1:]] == [ROUTER[INSIDE], ADDRESS[OUTSIDE]], out


def test_the_appliance_shows_and_counts_what_it_tracks(router):
    if not isinstance(router, ApplianceRouter):
        pytest.skip("the appliance's own view")
    app = router.lab.appliance
    with app.client() as c:
        before = c.stats()["drops"]["not_established"]
        router.host(OUTSIDE, "ping", "-n", "-c", "1", "-W", "1", ADDRESS[INSIDE])
        assert wait_until(lambda: c.stats()["drops"]["not_established"] > before, 5)
        router.host(INSIDE, "ping", "-n", "-c", "1", "-W", "1", ADDRESS[OUTSIDE])
        sessions = c.conntrack_list(proto="icmp", address=ADDRESS[INSIDE])
        assert sessions and sessions[0]["state"] == "replied", sessions
    listed = app.cli("conntrack", "list", "--proto", "icmp").stdout
    assert f"src={ADDRESS[INSIDE]} dst={ADDRESS[OUTSIDE]}" in listed, listed
    assert "sessions flushed" in app.cli("conntrack", "flush").stdout
    off = app.cli("interface", "stateful", "lan1", "off")
    assert off.returncode == 0, off.stderr
    assert router.host(OUTSIDE, "ping", "-n", "-c", "1", "-W", "1", ADDRESS[INSIDE]).returncode == 0
    assert app.cli("interface", "stateful", "lan1", "on").returncode == 0
    assert router.host(OUTSIDE, "ping", "-n", "-c", "1", "-W", "1", ADDRESS[INSIDE]).returncode != 0
