"""A hostile or unlucky operator: bad files on SIGHUP, a full disk, a damaged state file,
abusive HTTP clients, a second instance. The router keeps forwarding, nothing acknowledged
is lost and nothing refused comes back."""
import json
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance import Client
from appliance.errors import ConfigError, PortError, StorageError
from tests.conftest import fill
from tests.e2e.conftest import cli, free_port, wait_until

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile_configs"


def tx(c) -> int:
    return c.stats()["ports"]["lan0"]["opackets"]


def routes(c) -> list[str]:
    return sorted(str(p) for p, _ in c.routes())


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS"))) / 1024


def test_sighup_with_hostile_files_refuses_each_and_forwarding_goes_on(appliance):
    appliance.start()
    rss_before = rss_mb(appliance.proc.pid)
    hostile = ["latin-1.yaml", "utf-16.yaml", "integer-5000-digits.yaml", "nested-100k.yaml",
               "alias-bomb.yaml", "duplicate-routes-key.yaml", "binary.yaml", "python-tag.yaml"]
    with appliance.client() as c:
        for n, name in enumerate(hostile, 1):
            shutil.copy(HOSTILE / name, appliance.config_path)
            appliance.proc.send_signal(signal.SIGHUP)
            assert wait_until(lambda: appliance.output().count("refused, nothing changed") == n), \
                (name, appliance.output()[-2000:])
            assert appliance.proc.poll() is None, name
            assert routes(c) == ["10.1.0.0/16"], name
        assert "Traceback" not in appliance.output()
        before = tx(c)
        assert wait_until(lambda: tx(c) > before + 100_000), "still forwarding"
        appliance.config["routes"].append({"prefix": "10.2.0.0/16", "nexthop": 2})
        appliance.write_config()
        appliance.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: routes(c) == ["10.1.0.0/16", "10.2.0.0/16"])
    assert rss_mb(appliance.proc.pid) - rss_before < 200, "the alias bomb was not expanded"


@pytest.mark.parametrize("name", ["alias-bomb.yaml", "utf-16.yaml", "nested-100k.yaml"])
def test_config_validate_exits_2_naming_the_file(name):
    r = cli("config", "validate", str(HOSTILE / name))
    assert r.returncode == 2 and str(HOSTILE / name) in r.stderr and "Traceback" not in r.stderr


def test_a_full_disk_refuses_changes_which_never_come_back(appliance, small_disk):
    appliance.config["state_file"] = str(small_disk / "state.json")
    appliance.start()
    with appliance.client() as c:
        c.route_add("10.2.0.0/16", 2)  # acknowledged before the disk fills
        fill(small_disk)
        accepted, refused = ["10.1.0.0/16", "10.2.0.0/16"], 0
        for i in range(200):  # the file's last page may still take a few records
            try:
                c.route_add(f"11.{i}.0.0/16", 2)
                accepted.append(f"11.{i}.0.0/16")
            except StorageError as e:
                assert "No space left on device; change undone" in str(e)
                refused += 1
        assert refused > 100
        with pytest.raises(StorageError, match="change undone"):
            c.route_add_bulk([(f"12.{i}.0.0/16", 1) for i in range(50)])
        with pytest.raises(StorageError, match="nothing was applied"):
            c.apply(dict(appliance.config, routes=[{"prefix": "10.9.0.0/16", "nexthop": 1}]))
        accepted.sort()
        assert routes(c) == accepted
        # a valid file on SIGHUP: refused like any change that cannot be persisted
        appliance.config["routes"].append({"prefix": "10.3.0.0/16", "nexthop": 2})
        appliance.write_config()
        appliance.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "refused, nothing changed" in appliance.output())
        assert appliance.proc.poll() is None and routes(c) == accepted
    appliance.config["routes"].pop()
    appliance.signal(signal.SIGKILL)
    appliance.cleanup()
    appliance.start()  # on the still-full disk: snapshot deferred, changes replayed
    assert "state file not compacted" in appliance.output()
    with appliance.client() as c:
        assert routes(c) == accepted, "acknowledged changes kept, refused ones stay refused"
        (small_disk / "filler").unlink()
        c.route_add("10.4.0.0/16", 2)
    appliance.signal(signal.SIGTERM)
    appliance.start()
    with appliance.client() as c:
        assert routes(c) == sorted(accepted + ["10.4.0.0/16"])


def test_a_damaged_state_file_refuses_the_start_until_set_aside(appliance):
    appliance.start()
    with appliance.client() as c:
        c.route_add("10.2.0.0/16", 2)
        c.route_add("10.3.0.0/16", 2)
    appliance.signal(signal.SIGTERM)
    state = Path(appliance.config["state_file"])
    appliance.start()  # compacts into one snapshot line
    appliance.signal(signal.SIGTERM)
    data = bytearray(state.read_bytes())
    data[data.index(b"10.3.0.0")] = ord("9")  # one changed byte; still valid JSON
    state.write_bytes(bytes(data))
    r = cli("run", "--config", str(appliance.config_path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{state}: line 1: damaged record (checksum mismatch)" in r.stderr
    assert state.read_bytes() == bytes(data), "the evidence is kept"
    appliance.start("--set-aside-state")
    assert "moved aside" in appliance.output()
    with appliance.client() as c:
        assert routes(c) == ["10.1.0.0/16"]
    assert [p.read_bytes() for p in state.parent.glob("state.json.damaged-*")] == [bytes(data)]


def exchange(address, data: bytes, timeout: float = 10.0, half_close: bool = False,
             source: str | None = None) -> tuple[int, dict, float]:
    """Sends raw bytes (then its end of stream, if `half_close`), reads until the server
    closes: (status, JSON body, seconds). `source`: the TCP address to connect from."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if source:
            s.bind((source, 0))
        s.connect(address)
        t0 = time.monotonic()
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
        elapsed = time.monotonic() - t0
    if not reply:
        return 0, {}, elapsed
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), elapsed


def get(path: str, headers: str = "", body: bytes = b"", method: str = "GET") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


@pytest.fixture
def abused(appliance):
    token = appliance.tmp / "token"
    token.write_text("s3cret\n")
    token.chmod(0o644)
    port = free_port()
    appliance.config["api"].update(tcp_listen=f"127.0.0.1:{port}", token_file=str(token),
                                   read_timeout_s=1, max_connections=8, max_connections_per_peer=4)
    appliance.start()
    appliance.tcp = ("127.0.0.1", port)
    return appliance


def test_http_abuse_gets_json_errors_and_bounded_resources(abused):
    sock, tcp = abused.socket, abused.tcp
    assert "readable by other users" in abused.output()
    # nothing sent, half a request, an HTTP/0.9 line: closed within the deadline
    status, _, took = exchange(sock, b"")
    assert status == 0 and took < 3
    status, body, took = exchange(sock, b"POST /v1/routes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    assert status == 408 and body["error"]["type"] == "Timeout" and took < 3
    # garbage is answered at the first byte that cannot start a request, not at the deadline
    for garbage in (b"GET /\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40,
                    b"\x8a\x01zz\xff random", b"GET / HTTP/1.1 extra\r\n", b"GET\t/ HTTP/1.1\r\n"):
        status, body, took = exchange(sock, garbage)
        assert status == 400 and body["error"]["type"] == "BadRequest" and took < 0.5, garbage
    # the peer's end of stream closes at once; a request it cut short gets a 400 first
    assert exchange(sock, b"", half_close=True)[0::2] == (0, pytest.approx(0, abs=0.5))
    status, body, took = exchange(
        tcp, b"POST /v1/routes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
             b"Content-Length: 100\r\n\r\n{", half_close=True)
    assert status == 400 and "cut short" in body["error"]["message"] and took < 0.5
    status, body, _ = exchange(tcp, get("/v1/health", "Authorization: Bearer s3cret\r\n")
                               .replace(b"Connection: close\r\n", b""), half_close=True)
    assert status == 200 and body["status"] == "ok", "a whole request is answered, then closed"
    status, body, _ = exchange(sock, b"POST /v1/routes HTTP/1.1\r\nContent-Length: ten\r\n\r\n")
    assert status == 400 and "error" in body
    assert exchange(sock, get("/v1/health", method="OPTIONS"))[:2] == (
        405, {"error": {"type": "MethodNotAllowed", "message": "OPTIONS /v1/health: method not allowed"}})
    assert exchange(sock, get("/nope"))[0] == 404
    # client mistakes are 400 with the reason, never 500
    for path, payload, message in [
            ("/v1/nexthops?id=-1", None, "query.id: Input should be greater than or equal to 0"),
            ("/v1/nexthops?id=4294967296", None, "query.id: Input should be less than or equal"),
            ("/v1/routes", {"prefix": "10.0.0.0/8", "nexthop": True}, "body.nexthop: Input should be a valid integer"),
            ("/v1/routes", {"prefix": "10.0.0.0/8", "nexthop": 1 << 40}, "body.nexthop: Input should be less than"),
            ("/v1/routes", {"prefixes": ["10.0.0.0/8"], "nexthops": "1"}, "body.nexthops: Input should be a valid list"),
            ("/v1/rules", {"proto": "udp", "src": "192.0.2.1", "dst": "10.0.0.1", "src_port": 70000}, "body.src_port"),
            ("/v1/apply", [1, 2], "Input should be a valid dictionary"),
            ("/v1/nexthops", {"id": 3, "port": "lan0", "mac": "ff:ff:ff:ff:ff:ff"}, "not a unicast MAC")]:
        method = "DELETE" if payload is None else "POST"
        status, body, _ = exchange(sock, get(path, "Content-Type: application/json\r\n",
                                             b"" if payload is None else json.dumps(payload).encode(),
                                             method=method))
        assert status == 400 and body["error"]["type"] == "ConfigError", (path, body)
        assert message in body["error"]["message"], (path, body)
    deep = b'{"prefix": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, body, _ = exchange(sock, get("/v1/routes", "", deep, method="POST"))
    assert status == 400 and "nested more than 32 levels" in body["error"]["message"]
    dup = b'{"prefix": "10.9.0.0/16", "nexthop": 1, "nexthop": 2}'
    status, body, _ = exchange(sock, get("/v1/routes", "", dup, method="POST"))
    assert status == 400 and "duplicate key 'nexthop'" in body["error"]["message"]
    # TCP: the token before anything else; the scheme is case-insensitive (RFC 7235)
    smuggled = get("/v1/routes", method="DELETE").replace(b"Connection: close\r\n", b"")
    wrong = get("/v1/routes", "Authorization: Bearer wrong\r\n", smuggled, method="POST")
    status, body, _ = exchange(tcp, wrong.replace(b"Connection: close\r\n", b""))
    assert status == 401 and body["error"]["type"] == "Unauthorized"
    assert exchange(tcp, get("/v1/health", "Authorization: bearer s3cret\r\n"))[0] == 200
    assert exchange(tcp, get("/v1/health", "authorization: BEARER  s3cret \r\n"))[0] == 200
    assert exchange(tcp, b"")[0] == 0, "an unauthenticated silent connection is closed"
    # no routes or methods told to a client without the token; one Authorization header only
    for method, path in (("GET", "/nope"), ("OPTIONS", "/v1/health"), ("FOO", "/v1/routes")):
        assert exchange(tcp, get(path, method=method))[0] == 401, (method, path)
    status, body, _ = exchange(tcp, get("/v1/health", "Authorization: Bearer wrong\r\n"
                                                      "Authorization: Bearer s3cret\r\n"))
    assert status == 400 and body["error"]["message"] == "more than one Authorization header"
    # one TCP peer address cannot take every connection: another address still gets in
    held = [socket.create_connection(tcp) for _ in range(4)]
    status, body, _ = exchange(tcp, get("/v1/health", "Authorization: Bearer s3cret\r\n"))
    assert status == 503 and body["error"]["message"] == "more than 4 connections from 127.0.0.1"
    assert exchange(tcp, get("/v1/health", "Authorization: Bearer s3cret\r\n"),
                    source="127.0.0.2")[0] == 200
    for s in held:
        s.close()
    # the connection limit: the ninth gets a JSON 503; the Client waits for room
    idle = [socket.socket(socket.AF_UNIX) for _ in range(8)]
    for s in idle:
        s.connect(sock)
    status, body, _ = exchange(sock, get("/v1/health"))
    assert status == 503 and body["error"]["type"] == "Unavailable"
    with Client(sock) as c:
        assert c.health()["status"] == "ok"  # once the deadline closed the idle ones
    for s in idle:
        s.close()
    assert "Traceback" not in abused.output() and abused.proc.poll() is None
    with Client(sock) as c:
        assert routes(c) == ["10.1.0.0/16"], "no abusive request changed anything"
        before = tx(c)
        assert wait_until(lambda: tx(c) > before + 100_000), "still forwarding"


def test_many_concurrent_clients_all_get_answers(abused):
    errors, done = [], []

    def calls() -> None:
        try:
            for _ in range(5):
                with Client(abused.socket) as c:
                    c.health()
                    c.routes()
            done.append(1)
        except Exception as e:  # noqa: BLE001 - collected, asserted below
            errors.append(repr(e))

    threads = [threading.Thread(target=calls) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(done) == 200


def test_a_second_instance_on_the_same_socket_is_refused(appliance, tmp_path):
    appliance.start()
    other = dict(appliance.config, eal=dict(appliance.config["eal"], file_prefix="e2e-second"),
                 state_file=str(tmp_path / "other-state.json"))
    (tmp_path / "second.yaml").write_text(json.dumps(other))
    r = cli("run", "--config", str(tmp_path / "second.yaml"))
    assert r.returncode == 2
    assert f"another appliance (pid {appliance.proc.pid}) is running with it" in r.stderr
    with appliance.client() as c:
        assert c.health()["status"] == "ok", "the running one keeps its socket"
    appliance.signal(signal.SIGTERM)
    Path(appliance.socket).write_text("not a socket")
    r = cli("run", "--config", str(appliance.config_path))
    assert r.returncode == 2 and "exists and is not a socket; not removing it" in r.stderr
    assert Path(appliance.socket).read_text() == "not a socket"
    os.unlink(appliance.socket)


def test_api_fuzzing_from_the_openapi_document_finds_no_5xx(abused):
    from tests.e2e.api_fuzz import fuzz
    host, port = abused.tcp
    statuses = fuzz(f"http://{host}:{port}", "s3cret", examples=10, seed=1)
    assert sum(statuses.values()) > 200 and statuses[400] > 100, statuses
    assert abused.proc.poll() is None and "Traceback" not in abused.output()
    # Addresses and neighbours on any port string: 400 naming what is wrong, never a 500
    with Client(abused.socket) as c:
        ports = st.text(max_size=24).filter(lambda p: p not in ("wan0", "lan0", "lan1"))
        @given(port=ports | st.sampled_from(["lan 0", "lan0 10.0.0.1/24", "lan9", ""]))
        @settings(max_examples=150, deadline=None, database=None, derandomize=True)
        def any_port(port: str) -> None:
            for call in (lambda: c.address_add(port, "192.0.2.1/24"),
                         lambda: c.address_delete(port, "192.0.2.1/24"),
                         lambda: c.neighbor_add(port, "192.0.2.9", "02:00:00:00:00:09"),
                         lambda: c.neighbor_delete(port, "192.0.2.9")):
                with pytest.raises((ConfigError, PortError)) as e:
                    call()
                assert "unknown port" in str(e.value) or "body.port" in str(e.value) \
                    or "query.port" in str(e.value), (port, str(e.value))
        any_port()
        assert all(a["port"] in ("wan0", "lan0", "lan1") for a in c.addresses())
    assert abused.proc.poll() is None and "Traceback" not in abused.output()
    with Client(abused.socket) as c:
        before = tx(c)
        assert wait_until(lambda: tx(c) > before + 100_000), "still forwarding"
