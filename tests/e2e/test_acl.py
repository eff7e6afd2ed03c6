"""ACLs between unmodified Linux hosts: what their own tools see through the appliance.

    h1 (10.0.1.2, .200) -- lan0 [appliance, ACL "edge" in] lan1 -- h2 (10.0.2.2, 10.9.9.1)
                                                                 \\- r (10.0.2.3) -> h2

The policy is the issue's: TCP 22 to 10/8 rejected except from 10.0.1.200; web and
ping permitted; traffic from 10.0.1.128/25 redirected through r (a Linux router).
"""
import re
import subprocess
import sys
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import free_port
from tests.e2e.lab import Lab, sh

EDGE = {"name": "edge", "default": "permit", "entries": [
    {"action": "permit", "src": "10.0.1.200/32", "proto": "tcp", "dst_port": 22},
    {"action": "reject", "dst": "10.0.0.0/8", "proto": "tcp", "dst_port": 22},
    {"action": "permit", "proto": "icmp", "icmp_type": 8},
    {"action": "redirect", "src": "10.0.1.128/25", "nexthop": 2},
]}
CONNECT = ("import socket, sys\n"
           "s = socket.socket(); s.settimeout(5); s.bind((sys.argv[1], 0))\n"
           "print(s.connect_ex((sys.argv[2], int(sys.argv[3]))))\n")


@pytest.fixture(scope="module")
def acl_lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("acl"))
    lab.metrics_port = free_port()
    lab.appliance.config.update({
        "nexthops": [{"id": 1, "port": "lan1", "gateway": "10.0.2.2"},
                     {"id": 2, "port": "lan1", "gateway": "10.0.2.3"}],
        "routes": [{"prefix": "10.9.9.0/24", "nexthop": 1}],
        "acls": [EDGE],
        "metrics": {"listen": f"127.0.0.1:{lab.metrics_port}"},
    })
    lab.appliance.config["ports"][0]["acl"] = {"in": "edge"}
    router = f"lab{lab.id}r"
    try:
        _second_path(lab, router)
        lab.start()
        servers = [subprocess.Popen(["ip", "netns", "exec", lab.ns[1], sys.executable, "-m",
                                     "http.server", str(port), "--bind", "10.9.9.1"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for port in (22, 80)]
        assert lab.wait_ping(0, "10.9.9.1"), "h1 -> h2 through the appliance"
        yield lab
    finally:
        for s in locals().get("servers", []):
            s.terminate()
        lab.close()
        sh("ip", "netns", "del", router, check=False)


def _second_path(lab: Lab, router: str) -> None:
    """h2 also answers on 10.9.9.1; r, a Linux router on lan1's link, reaches it too."""
    sh("ip", "-n", lab.ns[1], "addr", "add", "10.9.9.1/32", "dev", "lo")
    sh("ip", "netns", "add", router)
    sh("ip", "link", "add", f"r{lab.id}", "type", "veth", "peer", "name", "eth0", "netns", router)
    sh("ip", "link", "set", f"r{lab.id}", "master", lab.bridge[1], "up")
    sh("ip", "-n", router, "link", "set", "eth0", "address", "02:00:00:0d:00:01")
    sh("ip", "-n", router, "link", "set", "eth0", "up")
    sh("ip", "-n", router, "addr", "add", "10.0.2.3/24", "dev", "eth0")
    sh("ip", "-n", router, "route", "add", "10.9.9.0/24", "via", "10.0.2.2")
    sh("ip", "-n", router, "route", "add", "default", "via", "10.0.2.1")
    sh("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    sh("ip", "-n", lab.ns[0], "addr", "add", "10.0.1.200/24", "dev", "eth0")


def connect(lab: Lab, src: str, port: int) -> int:
    """What h1's own TCP stack says: 0 connected, 113 EHOSTUNREACH (ICMP prohibited)."""
    r = lab.host(0, sys.executable, "-c", CONNECT, src, "10.9.9.1", str(port), check=True)
    return int(r.stdout)


def counts(lab: Lab) -> list[int]:
    with lab.appliance.client() as c:
        return [e["packets"] for e in c.acl_show("edge")["entries"]]


def test_ssh_rejected_web_and_ping_permitted_and_counted(acl_lab):
    lab = acl_lab
    before = counts(lab)
    assert [connect(lab, "10.0.1.2", 22) for _ in range(3)] == [113] * 3  # No route to host
    assert connect(lab, "10.0.1.200", 22) == 0  # the trusted source
    # Python's HTTP client, not curl: curl hangs under the sanitized run's LD_PRELOAD.
    r = lab.host(0, sys.executable, "-c", "import urllib.request as u; "
                 "print(u.urlopen('http://10.9.9.1/', timeout=5).status)")
    assert r.stdout.strip() == "200", r.stdout + r.stderr
    assert lab.ping(0, "10.9.9.1", count=5).returncode == 0
    after = counts(lab)
    delta = [a - b for a, b in zip(after, before)]
    # One SYN per refused connect (a SYN that meets "prohibited" is not retried), the trusted
    # connection's packets, five echo requests; nothing redirected from 10.0.1.2.
    assert delta[1] == 3 and delta[2] == 5 and delta[3] == 0, delta
    assert delta[0] >= 3, delta  # SYN, ACK, FIN at least
    with lab.appliance.client() as c:
        stats = c.stats()
    assert stats["drops"]["acl_reject"] >= 3
    with urllib.request.urlopen(f"http://127.0.0.1:{lab.metrics_port}/metrics") as m:
        metrics = m.read().decode()
    exported = {(s.labels["entry"], s.labels["action"]): s.value
                for family in text_string_to_metric_families(metrics)
                if family.name == "appliance_acl_entry_packets" for s in family.samples
                if s.labels.get("acl") == "edge"}
    assert exported[("1", "reject")] == after[1] and ("default", "permit") in exported, exported


def traceroute(lab: Lab, src: str) -> list[str]:
    r = lab.host(0, "traceroute", "-n", "-s", src, "-w", "1", "-q", "1", "-m", "5", "10.9.9.1",
                 timeout=30)
    return re.findall(r"^\s*\d+\s+(\S+)", r.stdout, re.M)


def test_policy_routes_a_source_prefix_through_the_second_path(acl_lab):
    lab = acl_lab
    assert traceroute(lab, "10.0.1.2") == ["10.0.1.1", "10.9.9.1"]
    assert traceroute(lab, "10.0.1.200") == ["10.0.1.1", "10.0.2.3", "10.9.9.1"]
    # The router itself is not policy-routed: its address answers from the redirected source.
    r = lab.host(0, "ping", "-n", "-c", "1", "-W", "2", "-I", "10.0.1.200", "10.0.1.1")
    assert r.returncode == 0, r.stdout


def test_replace_and_bind_from_the_cli_and_a_reload_keeps_them(acl_lab):
    lab = acl_lab
    app = lab.appliance
    open_ssh = {"default": "permit", "entries": [{"action": "permit", "proto": "tcp"}]}
    (app.tmp / "open.yaml").write_text(yaml.safe_dump(open_ssh))
    r = app.cli("acl", "set", "open", str(app.tmp / "open.yaml"))
    assert r.returncode == 0, r.stderr
    r = app.cli("acl", "bind", "lan0", "in", "open")
    assert r.returncode == 0, r.stderr
    assert connect(lab, "10.0.1.2", 22) == 0
    shown = app.cli("acl", "show", "open").stdout
    assert re.search(r"^\s+0\s+permit\s+[1-9]\d*\s+\d+\s+proto tcp$", shown, re.M), shown
    bad = app.cli("acl", "insert", "open", "{action: deny, proto: tcp, dst_port: 80-22}")
    assert bad.returncode == 2 and "dst_port: 80-22: low end above high end" in bad.stderr
    # SIGHUP: the config's binding (edge) is overridden by the runtime one, which persists.
    r = app.cli("reload")
    assert r.returncode == 0, r.stderr
    assert connect(lab, "10.0.1.2", 22) == 0
    r = app.cli("acl", "bind", "lan0", "in", "edge")
    assert r.returncode == 0 and connect(lab, "10.0.1.2", 22) == 113
    assert app.cli("acl", "delete", "open").returncode == 0
    listed = app.cli("acl", "show").stdout
    assert re.search(r"^edge\s+default permit\s+4 entries\s+lan0 in$", listed, re.M), listed
    # An acknowledged change survives a crash: the state file brings it back.
    r = app.cli("acl", "insert", "edge", "{action: deny, proto: icmp, icmp_type: 8}", "--position", "0")
    assert r.returncode == 0, r.stderr
    app.proc.kill()
    app.proc.wait()
    app.cleanup()
    lab.start()
    with app.client() as c:
        edge = c.acl_show("edge")
    assert edge["entries"][0] == {"action": "deny", "proto": "icmp", "icmp_type": 8,
                                  "packets": 0, "bytes": 0}
    assert edge["bound"] == [["lan0", "in"]] and len(edge["entries"]) == 5
    assert lab.ping(0, "10.9.9.1", count=1).returncode == 1  # echo requests now denied
