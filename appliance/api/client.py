"""appliance.Client: the Python API for a running appliance.

Same method names and types as the in-process Dataplane; the server's
errors come back as the same exception classes with the server's message.

    from appliance import Client
    with Client("/run/appliance/appliance.sock") as c:
        c.route_add("10.0.0.0/8", 1)
"""
from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from appliance.api.errors import from_body
from appliance.well_known import DEFAULT_SOCKET
from appliance.errors import StateError


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        # A full listen backlog is EAGAIN on a Unix socket: wait for room, within the timeout.
        deadline = time.monotonic() + (self.timeout or 60.0)
        delay = 0.001
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            try:
                self.sock.connect(self._path)
                return
            except BlockingIOError:
                self.sock.close()
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)


def _error_type(body: Any) -> Any:
    return body.get("error", {}).get("type") if isinstance(body, dict) else None


class Client:
    """`Client(socket_path)` or, for the TCP listener, `Client("http://host:port", token=...)`."""

    def __init__(self, socket_path: str = DEFAULT_SOCKET, timeout: float = 60.0,
                 token: str | None = None):
        self.socket_path = socket_path
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._conn = self._connection(timeout)

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self.socket_path.startswith("http://"):
            url = urlsplit(self.socket_path)
            return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        return _UnixConnection(self.socket_path, timeout)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        query = {k: v for k, v in query.items() if v is not None}
        url = path + ("?" + urlencode(query) if query else "")
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload else {}
        headers.update(self._auth)
        deadline, delay = time.monotonic() + (self._conn.timeout or 60.0), 0.005
        while True:
            status, decoded = self._exchange(method, url, payload, headers)
            # 503 Unavailable: refused at connect (too many connections), never processed
            if status != 503 or _error_type(decoded) != "Unavailable" or \
                    time.monotonic() + delay > deadline:
                break
            self._conn.close()
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        if status >= 400:
            raise from_body(status, decoded)
        return decoded

    def _exchange(self, method: str, url: str, payload: bytes | None,
                  headers: dict) -> tuple[int, Any]:
        try:
            self._conn.request(method, url, body=payload, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (FileNotFoundError, ConnectionRefusedError) as e:
            self._conn.close()
            raise StateError(f"no appliance answering on {self.socket_path}: {e.strerror}") from None
        except (http.client.HTTPException, OSError):
            self._conn.close()  # one retry on a fresh connection (server closed an idle one)
            self._conn.request(method, url, body=payload, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        if response.getheader("connection", "").lower() == "close":
            self._conn.close()
        return response.status, json.loads(data) if data else None


    # -- routes --
    # `vrf`: the VRF whose table it is ("default": the global one). A next hop on an
    # interface of another VRF leaks the route into that VRF.
    def route_add(self, prefix: str | ipaddress.IPv4Network | ipaddress.IPv6Network, nexthop: int,
                  vrf: str = "default") -> None:
        self.request("POST", "/v1/routes", {"prefix": str(prefix), "nexthop": nexthop, "vrf": vrf})

    def route_add_bulk(self, routes: Iterable[tuple[str | ipaddress.IPv4Network | ipaddress.IPv6Network, int]],
                       vrf: str = "default") -> int:
        routes = list(routes)
        body = {"prefixes": [p if isinstance(p, str) else str(p) for p, _ in routes],
                "nexthops": [nh for _, nh in routes], "vrf": vrf}
        return self.request("POST", "/v1/routes", body)["added"]

    def route_delete(self, prefix: str | ipaddress.IPv4Network | ipaddress.IPv6Network,
                     force: bool = False, vrf: str = "default") -> None:
        """`force`: a route mirrored from the kernel table may go too (until the kernel
        changes it or a resync)."""
        self.request("DELETE", "/v1/routes", prefix=str(prefix), vrf=vrf,
                     **({"force": "true"} if force else {}))

    def routes(self, prefix: str | None = None, nexthop: int | None = None,
               vrf: str = "default") -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int]]:
        return [(ipaddress.ip_network(r["prefix"]), r["nexthop"])
                for r in self.request("GET", "/v1/routes", prefix=prefix, nexthop=nexthop, vrf=vrf)]

    def vrfs(self) -> list[dict]:
        """Each VRF, the global one ("default") first: {name, interfaces, routes}."""
        return self.request("GET", "/v1/vrfs")

    def kernel_routes(self) -> list[dict]:
        """Routes mirrored from the kernel table: {prefix, port, gateway, protocol, shadowed}."""
        return self.request("GET", "/v1/kernel-routes")

    def route_sync_resync(self) -> None:
        """Asks route sync for a full dump of the kernel table (done in the background)."""
        self.request("POST", "/v1/kernel-routes/resync")

    # -- next hops --
    def nexthop_set(self, id: int, port: str, dst_mac: str, src_mac: str | None = None) -> None:
        self.request("POST", "/v1/nexthops", {"id": id, "port": port, "mac": dst_mac,
                                               "src_mac": src_mac})

    def nexthop_set_gateway(self, id: int, port: str, gateway: str) -> None:
        """A next hop whose MAC the appliance resolves with ARP (and keeps fresh)."""
        self.request("POST", "/v1/nexthops", {"id": id, "port": port, "gateway": str(gateway)})

    def nexthop_delete(self, id: int) -> None:
        self.request("DELETE", "/v1/nexthops", id=id)

    def nexthops(self) -> list[dict]:
        return self.request("GET", "/v1/nexthops")

    # -- own addresses and neighbours --
    def address_add(self, port: str, address: str) -> None:
        self.request("POST", "/v1/addresses", {"port": port, "address": str(address)})

    def address_delete(self, port: str, address: str) -> None:
        self.request("DELETE", "/v1/addresses", port=port, address=str(address))

    def addresses(self) -> list[dict]:
        return self.request("GET", "/v1/addresses")

    def neighbor_add(self, port: str, ip: str, mac: str) -> None:
        self.request("POST", "/v1/neighbors", {"port": port, "ip": str(ip), "mac": mac})

    def neighbor_delete(self, port: str, ip: str) -> None:
        self.request("DELETE", "/v1/neighbors", port=port, ip=str(ip))

    def vrrp(self) -> list[dict]:
        """Each VRRP virtual router: state (init, backup, master), reason, priority, master."""
        return self.request("GET", "/v1/vrrp")

    def neighbors(self) -> list[dict]:
        return self.request("GET", "/v1/neighbors")

    # -- rules --
    def rule_add(self, proto: int | str, src: str, src_port: int, dst: str, dst_port: int,
                 action: str = "forward", nexthop: int | None = None) -> None:
        self.request("POST", "/v1/rules", {"proto": proto, "src": str(src), "src_port": src_port,
                                            "dst": str(dst), "dst_port": dst_port,
                                            "action": action, "nexthop": nexthop})

    def rule_delete(self, proto: int | str, src: str, src_port: int, dst: str,
                    dst_port: int) -> None:
        self.request("DELETE", "/v1/rules", proto=proto, src=str(src), src_port=src_port,
                     dst=str(dst), dst_port=dst_port)

    def rules(self) -> list[dict]:
        return self.request("GET", "/v1/rules")

    # -- observability and whole-config --
    # -- access control lists --
    def acl_set(self, name: str, body: dict) -> list[dict]:
        """Creates or replaces ACL `name` ({default, entries}); returns the final counts of the
        entries the change took out of service."""
        return self.request("PUT", f"/v1/acls/{quote(name, safe='')}", body)["retired"]

    def acl_insert(self, name: str, entry: dict, position: int | None = None) -> list[dict]:
        return self.request("POST", f"/v1/acls/{quote(name, safe='')}/entries", entry,
                            position=position)["retired"]

    def acl_remove_entry(self, name: str, position: int) -> list[dict]:
        return self.request("DELETE", f"/v1/acls/{quote(name, safe='')}/entries",
                            position=position)["retired"]

    def acl_delete(self, name: str) -> None:
        self.request("DELETE", f"/v1/acls/{quote(name, safe='')}")

    def acl_bind(self, port: str, direction: str, name: str | None) -> None:
        """None unbinds."""
        path = f"/v1/ports/{quote(port, safe='')}/acl/{quote(direction, safe='')}"
        if name is None:
            self.request("DELETE", path)
        else:
            self.request("PUT", path, {"name": name})

    def acls(self) -> list[dict]:
        return self.request("GET", "/v1/acls")

    def acl_show(self, name: str) -> dict:
        return self.request("GET", f"/v1/acls/{quote(name, safe='')}")

    def stats(self) -> dict:
        return self.request("GET", "/v1/stats")

    def ports(self) -> list[dict]:
        return self.request("GET", "/v1/ports")

    def interfaces(self) -> list[dict]:
        return self.request("GET", "/v1/interfaces")

    def ra_set(self, interface: str, settings: dict | None) -> None:
        """Router advertisements on `interface` ({} for the defaults; the config's `ra`
        fields), or None: no more (a last one with router lifetime 0)."""
        path = f"/v1/interfaces/{quote(interface, safe='')}/ra"
        if settings is None:
            self.request("DELETE", path)
        else:
            self.request("PUT", path, settings)

    def ra_show(self, interface: str) -> dict:
        return self.request("GET", f"/v1/interfaces/{quote(interface, safe='')}/ra")

    # -- NAT44 --
    def nat_set(self, interface: str, settings: dict | None) -> None:
        """NAT on `interface` (the config's `nat` fields), or None: none."""
        path = f"/v1/interfaces/{quote(interface, safe='')}/nat"
        if settings is None:
            self.request("DELETE", path)
        else:
            self.request("PUT", path, settings)

    def nat(self) -> dict:
        """{interfaces: {name: settings}, mappings, port_failures, ports: [{address, tcp,
        udp, icmp}]}."""
        return self.request("GET", "/v1/nat")

    # -- connection tracking --
    def conntrack_set_stateful(self, interface: str, on: bool) -> None:
        """`interface` admits only packets of sessions started through it, or no longer."""
        self.request("PUT" if on else "DELETE", f"/v1/interfaces/{quote(interface, safe='')}/stateful")

    def conntrack_list(self, proto: int | str | None = None, address: str | None = None) -> list[dict]:
        return self.request("GET", "/v1/conntrack", proto=None if proto is None else str(proto),
                            address=address)

    def conntrack_flush(self) -> int:
        return self.request("DELETE", "/v1/conntrack")["deleted"]

    # -- packet capture --
    def capture(self, interface: str | None = None, direction: str = "both", drops: bool = False,
                reasons: Iterable[str] = (), filter: str = "", count: int = 0,
                snaplen: int = 262144, seconds: float = 0) -> Iterator[bytes]:
        """pcapng as the appliance captures it, in pieces as they arrive (cut anywhere:
        appliance.capture.complete_blocks() keeps whole blocks). A generator on a
        connection of its own: closing it ends the capture."""
        body = {"interface": interface, "direction": direction, "drops": drops,
                "reasons": list(reasons), "filter": filter, "count": count, "snaplen": snaplen,
                "seconds": seconds}
        conn = self._connection(None)  # no read timeout: packets may be a long time coming
        try:
            try:
                conn.request("POST", "/v1/capture", body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json", **self._auth})
                response = conn.getresponse()
            except (FileNotFoundError, ConnectionRefusedError) as e:
                raise StateError(f"no appliance answering on {self.socket_path}: {e.strerror}") from None
            if response.status >= 400:
                data = response.read()
                raise from_body(response.status, json.loads(data) if data else None)
            while chunk := response.read1(65536):
                yield chunk
        finally:
            conn.close()

    # -- per-packet trace --
    def trace_start(self, interface: str | None = None, count: int = 16, match: str = "") -> None:
        """Traces the next `count` packets `interface` (None: any) receives that `match`
        (a tcpdump expression) takes; the last trace's records are gone."""
        self.request("POST", "/v1/trace", {"interface": interface, "count": count, "match": match})

    def trace_show(self) -> dict:
        """{running, chosen, count, lost, packets: [{packet, time, interface, queue, worker,
        length, summary, steps: [{stage, at_us, by, text, ...}]}]}."""
        return self.request("GET", "/v1/trace")

    def trace_stop(self) -> None:
        self.request("DELETE", "/v1/trace")

    def health(self) -> dict:
        return self.request("GET", "/v1/health")

    def diff(self, document: dict, keep_runtime_changes: bool = True) -> dict:
        """{restart: [sections], changes: ["+ route ...", ...]}: what `document` would change."""
        return self.request("POST", "/v1/diff", document,
                            keep_runtime_changes=str(keep_runtime_changes).lower())

    def overrides(self) -> dict:
        """Runtime changes that differ from the config, per table: {set, deleted}."""
        return self.request("GET", "/v1/overrides")

    def reload(self) -> dict:
        """Re-reads the appliance's config file (runtime changes kept); what was added and
        removed per table."""
        return self.request("POST", "/v1/reload")

    def apply(self, document: dict) -> dict:
        """Makes the appliance's tables those of `document` (a config mapping)."""
        return self.request("POST", "/v1/apply", document)
