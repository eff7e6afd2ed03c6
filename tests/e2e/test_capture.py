"""`appliance capture` and `appliance trace` on a running appliance between two Linux
hosts (tests/e2e/lab.py): capture files that scapy and tcpdump read, a filter, both
directions with the interfaces' names, `-w -` into tcpdump, a capture stopped by -c and
by Ctrl-C, the dropped packets with their reasons; a traced ping with its route, next hop
and MACs, a TTL-1 and a no-route packet with their fates and the ICMP answers."""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import PcapNgReader

from tests.e2e.conftest import wait_until
from tests.e2e.lab import HOST_ENV, HOST_MAC, ROUTER_MAC, Lab, sh


CAPTURES: list[subprocess.Popen] = []  # this module's capture processes


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("capture"))
    lab.start()
    assert lab.wait_ping(0, "10.0.2.2")
    yield lab
    lab.close()


@pytest.fixture(autouse=True)
def no_capture_left(lab):
    """Each test starts with no capture running (the last one's client gone and noticed;
    slow under load, e.g. the sanitized pass beside the deploy tests), and one that fails
    with its capture running does not leave it to the next (409)."""
    assert wait_until(lambda: not capturing(lab), 30), "a capture still running"
    yield
    for proc in CAPTURES:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    CAPTURES.clear()


def start_capture(lab: Lab, *args: str) -> subprocess.Popen:
    """`appliance capture ...` in the background, once the appliance runs it."""
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "capture", *args,
                             "--socket", lab.appliance.socket],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    CAPTURES.append(proc)

    assert wait_until(lambda: capturing(lab), 10), \
        proc.stderr.read1() if proc.poll() is not None else "not started"
    return proc


def capturing(lab: Lab) -> bool:
    with lab.appliance.client() as c:
        return c.request("GET", "/v1/stats").get("capturing") is True


def read(path) -> list:
    with open(path, "rb") as f:
        return list(PcapNgReader(f))


def tcpdump(path) -> list[str]:
    r = sh("tcpdump", "-nr", str(path), check=True)
    return r.stdout.splitlines()


def test_a_filtered_capture_of_both_directions_with_the_interfaces_names(lab, tmp_path):
    out = tmp_path / "ping.pcapng"
    proc = start_capture(lab, "--filter", "icmp and host 10.0.2.2", "-c", "8", "-w", str(out))
    assert lab.ping(0, "10.0.2.2", count=3).returncode == 0
    lab.host(0, "ping", "-n", "-c", "1", "-W", "1", "10.0.2.1")  # icmp, not matching
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    packets = read(out)
    assert len(packets) == 8
    assert all(ICMP in p and "10.0.2.2" in (p[IP].src, p[IP].dst) for p in packets)
    # Each request in on lan0 and out on lan1, each reply in on lan1 and out on lan0.
    seen = {(p.sniffed_on, p.direction, p[ICMP].type) for p in packets}
    assert seen == {("lan0", 1, 8), ("lan1", 2, 8), ("lan1", 1, 0), ("lan0", 2, 0)}
    assert all(p[IP].ttl == 64 for p in packets if p.direction == 1)
    assert all(p[IP].ttl == 63 for p in packets if p.direction == 2)
    assert len(tcpdump(out)) == 8


def test_streamed_into_tcpdump(lab):
    capture = subprocess.Popen(
        [sys.executable, "-m", "appliance", "capture", "lan1", "--out", "--filter", "icmp",
         "-c", "2", "-w", "-", "--socket", lab.appliance.socket], stdout=subprocess.PIPE)
    CAPTURES.append(capture)
    reader = subprocess.Popen(["tcpdump", "-nr", "-"], stdin=capture.stdout,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=HOST_ENV)
    capture.stdout.close()
    assert wait_until(lambda: capturing(lab), 10)
    assert lab.ping(0, "10.0.2.2", count=2).returncode == 0
    lines = reader.communicate(timeout=20)[0].splitlines()
    assert capture.wait(timeout=10) == 0
    assert len(lines) == 2 and all("10.0.1.2 > 10.0.2.2: ICMP echo request" in line for line in lines), lines


def test_ctrl_c_leaves_a_file_that_reads(lab, tmp_path):
    out = tmp_path / "cut.pcapng"
    proc = start_capture(lab, "lan0", "--in", "-w", str(out))
    assert lab.ping(0, "10.0.2.2", count=3).returncode == 0
    # (The three requests written, not three packets: an ARP may be among them, and the
    # last request may still be on its way to the file when the ping has its reply.)
    assert wait_until(lambda: out.exists() and sum(ICMP in p for p in read(out)) >= 3, 10)
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    except subprocess.TimeoutExpired:  # what it was doing, for the report
        proc.kill()
        raise AssertionError(f"capture still running 30 s after SIGINT: {proc.communicate()}") from None
    packets = read(out)
    assert sum(ICMP in p for p in packets) == 3 and {p.sniffed_on for p in packets} == {"lan0"}
    assert len(tcpdump(out)) == len(packets)
    assert wait_until(lambda: not capturing(lab), 30)  # the appliance noticed and stopped


@pytest.fixture
def bridges_pass_bad_checksums():
    """br_netfilter (where loaded) drops IPv4 with a bad header checksum in the bridge,
    before the appliance could see it: off for the test, as it was after."""
    knob = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    was = knob.read_text() if knob.exists() else None
    if was is not None:
        knob.write_text("0")
    yield
    if was is not None:
        knob.write_text(was)


def test_drops_with_their_reasons_as_comments(lab, tmp_path, bridges_pass_bad_checksums):
    out = tmp_path / "drops.pcapng"
    proc = start_capture(lab, "--drops", "--reason", "no_route", "--reason", "bad_checksum",
                         "-c", "2", "-w", str(out))
    lab.host(0, "ping", "-n", "-c", "1", "-W", "1", "192.0.2.99")  # no route there
    # A bad IPv4 header checksum, sent by scapy from the host.
    script = ("from scapy.all import *; sendp(Ether(dst='02:00:00:0a:00:01')/"
              "IP(src='10.0.1.2', dst='10.0.2.2', chksum=0x1234)/UDP(dport=9), iface='eth0', verbose=0)")
    lab.host(0, sys.executable, "-c", script, check=True)
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    packets = read(out)
    comments = sorted(p.comment.decode() for p in packets)
    assert comments[0].startswith("drop: bad_checksum (input checks, worker 0)"), comments
    assert comments[1].startswith("drop: no_route (route lookup, slow path)"), comments
    assert {p.sniffed_on for p in packets} == {"lan0"}
    assert UDP in next(p for p in packets if "bad_checksum" in p.comment.decode())


def test_bad_captures_are_refused_and_name_what_is_wrong(lab, tmp_path):
    for args, says in ((["--filter", "tcp prot 80"], "filter 'tcp prot 80': can't parse"),
                       (["lan9"], "no interface named 'lan9'"),
                       (["--drops", "--reason", "nope"], "'nope' is not a drop reason")):
        r = lab.appliance.cli("capture", *args, "-w", str(tmp_path / "x.pcapng"))
        assert r.returncode == 1 and says in r.stderr, r.stderr
    assert lab.ping(0, "10.0.2.2", count=1).returncode == 0


# ---- appliance trace: what the router decided for each packet ----
def trace_show(lab: Lab, want_steps: int) -> dict:
    """`appliance trace show --json`, once the traced packets' steps are all written (the
    slow path's come a little later)."""
    shown = {}

    def complete() -> bool:
        r = lab.appliance.cli("trace", "show", "--json")
        assert r.returncode == 0, r.stderr
        shown.update(json.loads(r.stdout))
        return sum(len(p["steps"]) for p in shown["packets"]) >= want_steps
    assert wait_until(complete, 10), shown
    return shown


def steps_of(packet: dict, stage: str) -> list[dict]:
    return [s for s in packet["steps"] if s["stage"] == stage]


def test_trace_a_ping_through_the_router(lab):
    r = lab.appliance.cli("trace", "start", "--count", "2", "--match", "icmp and host 10.0.2.2")
    assert r.returncode == 0, r.stderr
    assert lab.ping(0, "10.0.2.2", count=1).returncode == 0
    request, reply = trace_show(lab, 8)["packets"]
    assert request["interface"] == "lan0" and "10.0.1.2 > 10.0.2.2 ICMP echo-request" in request["summary"]
    assert [s["stage"] for s in request["steps"]] == ["input", "lookup", "output", "tx"]
    [lookup] = steps_of(request, "lookup")
    # The host's own route, installed when its neighbour resolved; the next hop is its MAC.
    assert lookup["prefix"] == "10.0.2.2/32" and lookup["text"].endswith(f"out lan1 to {HOST_MAC[1]}")
    [out] = steps_of(request, "output")
    assert (out["interface"], out["src_mac"], out["dst_mac"]) == ("lan1", ROUTER_MAC[1], HOST_MAC[1])
    assert reply["interface"] == "lan1" and "10.0.2.2 > 10.0.1.2 ICMP echo-reply" in reply["summary"]
    [out] = steps_of(reply, "output")
    assert (out["interface"], out["src_mac"], out["dst_mac"]) == ("lan0", ROUTER_MAC[0], HOST_MAC[0])
    text = lab.appliance.cli("trace", "show").stdout
    assert text.startswith("trace running: 2 of 2 packets traced\n")
    assert f"  output     lan1: {ROUTER_MAC[1]} > {HOST_MAC[1]}  (+" in text
    assert lab.appliance.cli("trace", "stop").returncode == 0
    assert lab.appliance.cli("trace", "show").stdout.startswith("trace stopped: 2 of 2")


def test_trace_ttl_1_and_no_route_name_their_fate(lab):
    r = lab.appliance.cli("trace", "start", "--port", "lan0", "--count", "2",
                          "--match", "icmp[icmptype] == icmp-echo")
    assert r.returncode == 0, r.stderr
    expired = lab.host(0, "ping", "-n", "-c", "1", "-t", "1", "-W", "1", "10.0.2.2")
    assert "Time to live exceeded" in expired.stdout
    unreachable = lab.host(0, "ping", "-n", "-c", "1", "-W", "1", "10.9.9.9")
    assert "Destination Net Unreachable" in unreachable.stdout
    ttl, no_route = trace_show(lab, 12)["packets"]
    assert steps_of(ttl, "drop")[0]["reason"] == "ttl_expired"
    assert steps_of(ttl, "slow")[0]["text"] == "answered with ICMP time exceeded (type 11 code 0)"
    assert steps_of(no_route, "lookup")[0]["text"] == "vrf default: no route to 10.9.9.9"
    assert steps_of(no_route, "drop")[0]["reason"] == "no_route"
    assert steps_of(no_route, "slow")[0]["text"] == \
        "answered with ICMP destination unreachable (type 3 code 0)"
    # Each answer left on lan0 for the host, made by the slow path.
    for p in (ttl, no_route):
        [out] = steps_of(p, "output")
        assert (out["interface"], out["dst_mac"]) == ("lan0", HOST_MAC[0]) and "slow path" in out["text"]
    lab.appliance.cli("trace", "stop")


def test_bad_traces_are_refused_and_name_what_is_wrong(lab):
    for args, code, says in ((["--count", "0"], 2, "body.count: Input should be greater than or equal to 1"),
                             (["--port", "wan9"], 1, "no interface named 'wan9'"),
                             (["--match", "tcp port"], 1, "match 'tcp port': ")):
        r = lab.appliance.cli("trace", "start", *args)
        assert r.returncode == code and says in r.stderr, (args, r.stderr)
