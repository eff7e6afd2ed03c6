"""The control API server: HTTP/1.1 + JSON on a Unix socket (curl --unix-socket).

Requests are handled on their own threads; every table change goes through
the Service, which serializes them. A bad request gets a 4xx naming the
problem and changes nothing; the data plane never stops for it.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from appliance.api.errors import status_of, to_body
from appliance.errors import ApplianceError, ConfigError
from appliance.service import Service

log = logging.getLogger("appliance.api")
MAX_BODY = 256 << 20  # a 1M-route bulk add is about 40 MiB of JSON


class BadRequest(ConfigError):
    """A request that is not what the API accepts (shape, types, JSON)."""


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest(f"{what}: expected an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{what}: expected an integer, got {value!r}") from None


def _str(value: Any, what: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{what}: expected a string, got {value!r}")
    return value


def _field(body: dict, name: str, default: Any = ...) -> Any:
    if name in body:
        return body[name]
    if default is ...:
        raise BadRequest(f"missing field '{name}'")
    return default


def _rule_tuple(src: dict) -> tuple:
    return (_field(src, "proto"), _field(src, "src"), _int(_field(src, "src_port", 0), "src_port"),
            _field(src, "dst"), _int(_field(src, "dst_port", 0), "dst_port"))


class Api:
    """Routes (method, path) to Service calls; each handler returns JSON-able data."""

    def __init__(self, service: Service):
        self.s = service
        self.handlers: dict[tuple[str, str], Callable[[dict, dict], Any]] = {
            ("GET", "/v1/health"): lambda q, b: {"status": "ok"},
            ("GET", "/v1/ready"): lambda q, b: {"ready": self.s.dp.running},
            ("GET", "/v1/routes"): self.routes,
            ("POST", "/v1/routes"): self.route_add,
            ("DELETE", "/v1/routes"): self.route_delete,
            ("GET", "/v1/nexthops"): lambda q, b: self.s.nexthops(),
            ("POST", "/v1/nexthops"): self.nexthop_set,
            ("DELETE", "/v1/nexthops"): self.nexthop_delete,
            ("GET", "/v1/rules"): lambda q, b: self.s.dp.rules(),
            ("POST", "/v1/rules"): self.rule_add,
            ("DELETE", "/v1/rules"): self.rule_delete,
            ("GET", "/v1/stats"): lambda q, b: self.s.dp.stats(),
            ("GET", "/v1/ports"): lambda q, b: self.s.dp.ports(),
            ("GET", "/v1/addresses"): lambda q, b: self.s.addresses(),
            ("POST", "/v1/addresses"): self.address_add,
            ("DELETE", "/v1/addresses"): self.address_delete,
            ("GET", "/v1/neighbors"): lambda q, b: self.s.neighbors(),
            ("POST", "/v1/neighbors"): self.neighbor_add,
            ("DELETE", "/v1/neighbors"): self.neighbor_delete,
            ("POST", "/v1/apply"): lambda q, b: self.s.apply(b, "apply request"),
        }

    def routes(self, q: dict, b: dict) -> list:
        nh = q.get("nexthop")
        return self.s.routes(prefix=q.get("prefix"), nexthop=None if nh is None else _int(nh, "nexthop"))

    def route_add(self, q: dict, b: dict) -> dict:
        if "prefixes" in b:  # the compact bulk form: two parallel lists
            prefixes, hops = b["prefixes"], _field(b, "nexthops")
            if not (isinstance(prefixes, list) and isinstance(hops, list)) or len(prefixes) != len(hops):
                raise BadRequest("prefixes and nexthops: expected two lists of the same length")
            if not all(type(h) is int for h in hops):
                raise BadRequest("nexthops: expected integers")
            return {"added": self.s.route_add_bulk(list(zip(prefixes, hops)))}
        if "routes" in b:
            routes = b["routes"]
            if not isinstance(routes, list):
                raise BadRequest("routes: expected a list of {prefix, nexthop}")
            pairs = []
            for i, r in enumerate(routes):
                if not isinstance(r, dict):
                    raise BadRequest(f"routes[{i}]: expected {{prefix, nexthop}}")
                pairs.append((_field(r, "prefix"), _int(_field(r, "nexthop"), f"routes[{i}].nexthop")))
            return {"added": self.s.route_add_bulk(pairs)}
        self.s.route_add(_field(b, "prefix"), _int(_field(b, "nexthop"), "nexthop"))
        return {"added": 1}

    def route_delete(self, q: dict, b: dict) -> dict:
        self.s.route_delete(q.get("prefix") or _field(b, "prefix"))
        return {"deleted": 1}

    def nexthop_set(self, q: dict, b: dict) -> dict:
        self.s.nexthop_set(_int(_field(b, "id"), "id"), _str(_field(b, "port"), "port"),
                           _str(_field(b, "mac", None), "mac"), _str(_field(b, "src_mac", None), "src_mac"),
                           _str(_field(b, "gateway", None), "gateway"))
        return {"set": 1}

    def address_add(self, q: dict, b: dict) -> dict:
        self.s.address_add(_str(_field(b, "port"), "port"), _str(_field(b, "address"), "address"))
        return {"added": 1}

    def address_delete(self, q: dict, b: dict) -> dict:
        src = {**b, **q}
        self.s.address_delete(_str(_field(src, "port"), "port"),
                              _str(_field(src, "address"), "address"))
        return {"deleted": 1}

    def neighbor_add(self, q: dict, b: dict) -> dict:
        self.s.neighbor_add(_str(_field(b, "port"), "port"), _str(_field(b, "ip"), "ip"),
                            _str(_field(b, "mac"), "mac"))
        return {"added": 1}

    def neighbor_delete(self, q: dict, b: dict) -> dict:
        src = {**b, **q}
        self.s.neighbor_delete(_str(_field(src, "port"), "port"), _str(_field(src, "ip"), "ip"))
        return {"deleted": 1}

    def nexthop_delete(self, q: dict, b: dict) -> dict:
        self.s.nexthop_delete(_int(q.get("id", b.get("id")), "id"))
        return {"deleted": 1}

    def rule_add(self, q: dict, b: dict) -> dict:
        nexthop = _field(b, "nexthop", None)
        self.s.rule_add(*_rule_tuple(b), _field(b, "action", "forward"),
                        None if nexthop is None else _int(nexthop, "nexthop"))
        return {"added": 1}

    def rule_delete(self, q: dict, b: dict) -> dict:
        self.s.rule_delete(*_rule_tuple({**b, **q}))
        return {"deleted": 1}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api: Api  # set on the subclass made by serve()

    def address_string(self) -> str:  # Unix sockets have no peer address
        return "unix"

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug(fmt, *args)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            handler = self.api.handlers.get((self.command, url.path.rstrip("/")))
            if handler is None:
                known = {p for _, p in self.api.handlers}
                status = 405 if url.path.rstrip("/") in known else 404
                return self._reply(status, {"error": {"type": "NotFound", "message":
                                   f"{self.command} {url.path}: no such resource"}})
            self._reply(200, handler(query, self._body()))
        except ApplianceError as e:
            self._reply(status_of(e), to_body(e))
        except Exception as e:  # a bug: say so, keep serving, keep forwarding
            log.exception("API %s %s failed", self.command, self.path)
            self._reply(500, {"error": {"type": "InternalError", "message": repr(e)}})

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BadRequest(f"body of {length} bytes is larger than {MAX_BODY}")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        return body

    def _reply(self, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _TokenHandler(_Handler):
    """TCP requests must carry `Authorization: Bearer <token>`; others get 401."""

    token: str

    def _dispatch(self) -> None:
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return self._reply(401, {"error": {"type": "Unauthorized", "message":
                               "missing or wrong bearer token"}})
        super()._dispatch()

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch


def serve(service: Service, socket_path: str) -> _UnixServer:
    """Listens on `socket_path` (mode 0660) in a background thread."""
    path = Path(socket_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    handler = type("Handler", (_Handler,), {"api": Api(service)})
    server = _UnixServer(str(path), handler)
    os.chmod(path, 0o660)
    threading.Thread(target=server.serve_forever, name="api", daemon=True).start()
    return server


def serve_tcp(service: Service, host: str, port: int, token: str) -> _TcpServer:
    """The optional TCP listener; every request must carry the bearer token."""
    if not token:
        raise ConfigError("api.token_file: the token is empty; the TCP API needs one")
    handler = type("TokenHandler", (_TokenHandler,), {"api": Api(service), "token": token})
    server = _TcpServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="api-tcp", daemon=True).start()
    return server


def stop(server: socketserver.BaseServer) -> None:
    server.shutdown()
    server.server_close()
    if isinstance(server, _UnixServer):
        Path(server.server_address).unlink(missing_ok=True)
