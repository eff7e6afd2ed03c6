"""Serving the control API: uvicorn on a Unix socket (and optionally TCP with a token).

What a hostile or broken client can do is bounded here, before the app:
a whole request must arrive within `read_timeout_s` (else 408 and the
connection is closed), at most `max_connections` are open per listener and
`max_connections_per_peer` per TCP peer address (the next gets a 503), the
listen backlog is the kernel's maximum, malformed HTTP gets a JSON 400 at
the first byte that cannot start a request line (not at the deadline), a
peer's end of stream closes its connection (400 first if it cut a request
short), and on TCP the bearer token is checked before anything else.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import socket
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from appliance.api.app import create_app
from appliance.errors import ConfigError
from appliance.service import Service

log = logging.getLogger("appliance.api")
BACKLOG = socket.SOMAXCONN


def _raw_error(status: int, reason: str, type: str, message: str,
               extra: bytes = b"") -> bytes:
    body = json.dumps({"error": {"type": type, "message": message}}).encode()
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n%s\r\n%s" % (status, reason.encode(), len(body), extra, body))


@dataclass(frozen=True)
class Limits:
    read_timeout_s: float = 30.0
    max_connections: int = 256
    max_connections_per_peer: int = 32  # TCP only: Unix peers are this host's own users


# What a request line (RFC 9112 3) can be, whole and while it arrives: method (a token),
# target (visible characters), version. Leading empty lines are allowed (RFC 9112 2.2).
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_LINE = re.compile(rb"(?:\r?\n)*" + _TOKEN + rb"+ [!-~]+ HTTP/[0-9]\.[0-9]\r?\n")
_LINE_SO_FAR = re.compile(rb"(?:\r?\n)*(?:\r|" + _TOKEN + rb"*|" + _TOKEN + rb"+ [!-~]*|" + _TOKEN +
                          rb"+ [!-~]+ (?:H|HT|HTT|HTTP|HTTP/|HTTP/[0-9]|HTTP/[0-9]\.|"
                          rb"HTTP/[0-9]\.[0-9]\r?)?)")


def could_be_request_line(buffered: bytes) -> bool:
    """False once `buffered` (what a new request has sent so far) cannot be the start
    of an HTTP/1.x request: random bytes, TLS, an HTTP/0.9 line."""
    line_end = buffered.find(b"\n", len(buffered) - len(buffered.lstrip(b"\r\n")))
    if line_end < 0:
        return _LINE_SO_FAR.fullmatch(buffered) is not None
    return _LINE.match(buffered[:line_end + 1]) is not None


class BoundedProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a request deadline and a connection limit."""

    limits = Limits()
    _deadline: asyncio.TimerHandle | None = None
    _over_limit = False
    _last_warning = -1e9

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Refused once its first bytes are read: closing with them unread would reset the
        # connection before the client could read why.
        self._over_limit = self._limit_reached()
        self._eof = False
        self._arm()

    def _limit_reached(self) -> str | None:
        if len(self.connections) > self.limits.max_connections:
            return f"more than {self.limits.max_connections} connections"
        peer = self.client[0] if self.client else None
        if peer and sum(1 for c in self.connections if c.client and c.client[0] == peer) > \
                self.limits.max_connections_per_peer:
            return f"more than {self.limits.max_connections_per_peer} connections from {peer}"
        return None

    def data_received(self, data: bytes) -> None:
        if self._over_limit:
            now = self.loop.time()
            if now - BoundedProtocol._last_warning > 10:  # a flood is one line, not thousands
                BoundedProtocol._last_warning = now
                log.warning("API: %s open, refusing more", self._over_limit)
            self.transport.write(_raw_error(503, "Service Unavailable", "Unavailable",
                                            self._over_limit))
            self.transport.close()
            return
        if self.conn.their_state is h11.IDLE and \
                not could_be_request_line(self.conn.trailing_data[0] + data):
            self.send_400_response("the request line is not METHOD TARGET HTTP/1.x")
            return
        super().data_received(data)

    def eof_received(self) -> bool | None:
        """The peer will send nothing more: answer what it asked (a request in whole), say
        that a request was cut short, or just close."""
        self._eof = True
        if self.conn.their_state is h11.DONE and self.cycle is not None \
                and not self.cycle.response_complete:
            return True  # keep writing: closed once the response is out
        if self.conn.their_state is h11.SEND_BODY or (
                self.conn.their_state is h11.IDLE and self.conn.trailing_data[0].strip()):
            self.send_400_response("the request was cut short by the end of the stream")
        return None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.read_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        working = self.conn.their_state is h11.DONE  # the request is in; the app answers it
        if working or self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
            self.transport.close()  # nothing sent (or an idle keep-alive): just close it
            return
        log.info("API: request not received within %ss, connection closed",
                 self.limits.read_timeout_s)
        self.transport.write(_raw_error(408, "Request Timeout", "Timeout",
                                        f"request not received within "
                                        f"{self.limits.read_timeout_s}s"))
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._eof:
            self.transport.close()
        elif not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_raw_error(400, "Bad Request", "BadRequest",
                                        "not an HTTP/1.1 request: " + msg))
        self.transport.close()


class TokenGate:
    """ASGI middleware: `Authorization: Bearer <token>` (scheme case-insensitive, RFC 7235)
    or 401, before routing or reading the body."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = [value for name, value in scope["headers"] if name == b"authorization"]
            if len(given) > 1:  # which one counts would depend on who reads them
                return await _refuse(send, 400, "BadRequest", "more than one Authorization header")
            scheme, _, credentials = (given or [b""])[0].strip().partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(credentials.strip(),
                                                                       self.token):
                return await _refuse(send, 401, "Unauthorized", "missing or wrong bearer token",
                                     (b"www-authenticate", b"Bearer"))
        await self.app(scope, receive, send)


async def _refuse(send, status: int, type: str, message: str, *headers) -> None:
    body = json.dumps({"error": {"type": type, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
        *headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class ApiServer:
    """One uvicorn server on one listening socket, in its own thread."""

    def __init__(self, app, sock: socket.socket, limits: Limits, name: str):
        protocol = type("Protocol", (BoundedProtocol,), {"limits": limits})
        config = uvicorn.Config(app, http=protocol, lifespan="off", log_config=None,
                                access_log=False, backlog=BACKLOG, timeout_keep_alive=5,
                                timeout_graceful_shutdown=5, server_header=False)
        self.sock = sock
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       name=name, daemon=True)
        self.thread.start()
        self.socket_path: str | None = None
        self.socket_inode: int | None = None

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        if self.socket_path is not None and _inode(self.socket_path) == self.socket_inode:
            Path(self.socket_path).unlink()  # only our own socket, never someone else's


def _inode(path: str) -> int | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_ino if stat.S_ISSOCK(st.st_mode) else None


def bind_unix(path: str) -> socket.socket:
    """A listening Unix socket at `path` (mode 0660). The caller holds the instance lock,
    so a socket already there is a dead instance's; anything else there is refused."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists() or p.is_symlink():
        if _inode(path) is None:
            raise ConfigError(f"api.socket: {path} exists and is not a socket; not removing it")
        p.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)  # created 0660: no window in which others may connect
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(BACKLOG)
    return sock


def serve(service: Service, socket_path: str, limits: Limits = Limits()) -> ApiServer:
    """The API on `socket_path`, in a background thread."""
    server = ApiServer(create_app(service), bind_unix(socket_path), limits, "api")
    server.socket_path, server.socket_inode = socket_path, _inode(socket_path)
    return server


def serve_tcp(service: Service, host: str, port: int, token: str,
              limits: Limits = Limits()) -> ApiServer:
    """The optional TCP listener; every request must carry the bearer token."""
    if not token:
        raise ConfigError("api.token_file: the token is empty; the TCP API needs one")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(f"api.tcp_listen: cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(BACKLOG)
    return ApiServer(TokenGate(create_app(service), token), sock, limits, "api-tcp")


def stop(server: ApiServer) -> None:
    server.stop()
