"""The control API as an ASGI app (FastAPI): each path calls one Service method.

Bodies are read through the bounded decoder (size, depth, duplicate keys)
before FastAPI validates them against the models; every error, whatever its
status, is `{"error": {"type", "message"}}`. Listings and bulk changes run on
the server's thread pool; a single change runs on the event loop when the
Service is free (the thread hop cost ~0.55 ms here, more than the change),
and on the pool when a bulk change holds it or a compaction is due, so the
loop never waits long.
"""
from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from appliance.acl import ACL_NAME_PATTERN, AclBody, AclEntry
from appliance.api import models as m
from appliance.api.errors import status_of, to_body
from appliance.config import (DEFAULT_VRF, IP_PATTERN, PREFIX_PATTERN, PROTOCOL_PATTERN,
                              VRF_NAME_PATTERN, Id, InterfaceName, L4Port, format_errors)
from appliance.capture import CaptureRequest
from appliance.trace import TraceRequest
from appliance.decode import MAX_BYTES, load_json
from appliance.errors import ApplianceError, PortError
from appliance.nat import NatSection
from appliance.service import Service

log = logging.getLogger("appliance.api")
ERRORS = {code: {"model": m.ErrorBody} for code in (400, 404, 405, 409, 413, 507)}


def error(status: int, type: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": {"type": type, "message": message}}, status, headers=headers)


class BoundedRoute(APIRoute):
    """Reads the body through the appliance's decoder before FastAPI sees it."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def bounded(request: Request):
            length = request.headers.get("content-length", "0")
            if not length.isdigit():
                raise HTTPException(400, f"Content-Length {length[:40]!r} is not a number")
            if int(length) > MAX_BYTES:
                raise HTTPException(413, f"a body of {length} bytes is more than {MAX_BYTES}")
            body = bytearray()
            try:
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise HTTPException(413, f"a body of more than {MAX_BYTES} bytes")
            except ClientDisconnect:  # gone (or cut off by the read deadline): nobody to answer
                return error(408, "Timeout", "the client went away before its body arrived")
            request._body = bytes(body)
            if body:
                request._json = load_json(request._body, "request body")
            return await handler(request)
        return bounded


def create_app(service: Service) -> FastAPI:
    app = FastAPI(title="appliance control API", version="1", openapi_url="/v1/openapi.json",
                  docs_url=None, redoc_url=None, description=DESCRIPTION)
    app.router.route_class = BoundedRoute
    s = service
    from appliance import __version__ as version  # what this process loaded (an upgrade shows)

    @app.exception_handler(ApplianceError)
    async def appliance_error(request: Request, e: ApplianceError) -> JSONResponse:
        return JSONResponse(to_body(e), status_of(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return error(400, "ConfigError", format_errors("request", e.errors()).replace("\n", "; "))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        if e.status_code == 404:
            return error(404, "NotFound", f"{request.method} {request.url.path}: no such resource")
        if e.status_code == 405:
            return error(405, "MethodNotAllowed", f"{request.method} {request.url.path}: "
                         "method not allowed", allow=e.headers.get("allow", "") if e.headers else "")
        return error(e.status_code, "BadRequest", str(e.detail))

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("API %s %s failed", request.method, request.url.path)
        return error(500, "InternalError", f"{type(e).__name__}: the appliance logged the details")

    def listing(data: Any) -> JSONResponse:  # lists are returned as built: no re-validation
        return JSONResponse(data)

    async def change(fn, *args) -> None:
        if not s.compaction_due() and s.lock.acquire(blocking=False):
            try:
                return fn(*args)
            finally:
                s.lock.release()
        return await run_in_threadpool(fn, *args)

    # Answered on the event loop (no thread hop, ~0.4 ms less): they take no lock.
    @app.get("/v1/health", response_model=m.Health, summary="Liveness")
    async def health():
        return {"status": "ok", "version": version}

    @app.get("/v1/ready", response_model=m.Ready, summary="Readiness (workers forwarding)")
    async def ready():
        return {"ready": s.dp.running}

    @app.get("/v1/routes", response_model=list[m.RouteSection], summary="List a VRF's routes")
    def routes(prefix: Annotated[str | None, Query(description="only routes inside it",
                                                   pattern=PREFIX_PATTERN)] = None,
               nexthop: Annotated[Id | None, Query(strict=False)] = None,
               vrf: Annotated[str, Query(pattern=VRF_NAME_PATTERN)] = DEFAULT_VRF):
        return listing(s.routes(prefix=prefix, nexthop=nexthop, vrf=vrf))

    @app.get("/v1/vrfs", response_model=list[m.VrfState], summary="VRFs, their interfaces and routes")
    def vrfs():
        return listing(s.vrfs())

    @app.post("/v1/routes", response_model=m.Added, responses=ERRORS,
              summary="Add or replace one route, or many (all or nothing)")
    async def route_add(body: m.RoutesBody):
        if body.prefix is not None:
            await change(s.route_add, body.prefix, body.nexthop, body.vrf)
            return {"added": 1}
        return {"added": await run_in_threadpool(s.route_add_bulk, body.triples())}

    @app.delete("/v1/routes", response_model=m.Deleted, responses=ERRORS, summary="Delete a route")
    async def route_delete(prefix: Annotated[str, Query(pattern=PREFIX_PATTERN)],
                           force: Annotated[bool, Query(
            description="also a route mirrored from the kernel table (until the kernel "
                        "changes it or a resync)")] = False,
                           vrf: Annotated[str, Query(pattern=VRF_NAME_PATTERN)] = DEFAULT_VRF):
        await change(s.route_delete, prefix, force, vrf)
        return {"deleted": 1}

    @app.get("/v1/kernel-routes", response_model=list[m.KernelRouteState],
             summary="Routes mirrored from the kernel table (route_sync); not persisted")
    def kernel_routes():
        return listing(s.dp.kernel_routes())

    @app.post("/v1/kernel-routes/resync", response_model=m.Requested, responses=ERRORS,
              summary="A full dump of the kernel table, in the background (route_sync)")
    def route_sync_resync():
        s.dp.route_sync_resync()
        return {"requested": True}

    @app.get("/v1/nexthops", response_model=list[m.NextHopState], summary="List next hops")
    def nexthops():
        return listing(s.nexthops())

    @app.post("/v1/nexthops", response_model=m.Set, responses=ERRORS,
              summary="Set a next hop: a static mac, or a gateway resolved with ARP or NDP")
    async def nexthop_set(body: m.NextHopSection):
        await change(s.nexthop_set, body.id, body.port, body.mac, body.src_mac,
                     None if body.gateway is None else str(body.gateway))
        return {"set": 1}

    @app.delete("/v1/nexthops", response_model=m.Deleted, responses=ERRORS,
                summary="Delete an unused next hop")
    async def nexthop_delete(id: Annotated[Id, Query(strict=False)]):
        await change(s.nexthop_delete, id)
        return {"deleted": 1}

    @app.get("/v1/addresses", response_model=list[m.AddressState],
             summary="The router's own addresses (each with its connected route)")
    def addresses():
        return listing(s.addresses())

    @app.post("/v1/addresses", response_model=m.Added, responses=ERRORS,
              summary="Add an IPv4 or IPv6 address to a port (ARP or NDP, ping, connected route)")
    async def address_add(body: m.AddressBody):
        await change(s.address_add, body.port, body.address)
        return {"added": 1}

    @app.delete("/v1/addresses", response_model=m.Deleted, responses=ERRORS,
                summary="Remove an address (its routes and its subnet's neighbours go with it)")
    async def address_delete(port: Annotated[InterfaceName, Query()],
                             address: Annotated[str, Query(pattern=PREFIX_PATTERN)]):
        await change(s.address_delete, port, address)
        return {"deleted": 1}

    @app.get("/v1/vrrp", response_model=list[m.VrrpState],
             summary="VRRP virtual routers: state and why, priority, the master, counters")
    def vrrp():
        return listing(s.vrrp())

    @app.get("/v1/neighbors", response_model=list[m.NeighborState],
             summary="The neighbour table (ARP and NDP), with states")
    def neighbors():
        return listing(s.neighbors())

    @app.post("/v1/neighbors", response_model=m.Added, responses=ERRORS,
              summary="Add or replace a static (permanent) neighbour")
    async def neighbor_add(body: m.NeighborSection):
        await change(s.neighbor_add, body.port, str(body.ip), body.mac)
        return {"added": 1}

    @app.delete("/v1/neighbors", response_model=m.Deleted, responses=ERRORS,
                summary="Delete a neighbour (static, or flush a learned one)")
    async def neighbor_delete(port: Annotated[InterfaceName, Query()],
                              ip: Annotated[str, Query(pattern=IP_PATTERN)]):
        await change(s.neighbor_delete, port, ip)
        return {"deleted": 1}

    @app.get("/v1/rules", response_model=list[m.RuleBody], summary="List exact-match rules")
    def rules():
        return listing(s.dp.rules())

    @app.post("/v1/rules", response_model=m.Added, responses=ERRORS,
              summary="Add or replace an exact-match rule")
    async def rule_add(body: m.RuleBody):
        await change(s.rule_add, body.proto, str(body.src), body.src_port, str(body.dst),
                     body.dst_port, body.action, body.nexthop)
        return {"added": 1}

    @app.delete("/v1/rules", response_model=m.Deleted, responses=ERRORS,
                summary="Delete a rule by its 5-tuple")
    async def rule_delete(proto: Annotated[str, Query(pattern=PROTOCOL_PATTERN)],
                          src: Annotated[str, Query(pattern=IP_PATTERN)],
                          dst: Annotated[str, Query(pattern=IP_PATTERN)],
                          src_port: Annotated[L4Port, Query(strict=False)] = 0,
                          dst_port: Annotated[L4Port, Query(strict=False)] = 0):
        await change(s.rule_delete, proto, src, src_port, dst, dst_port)
        return {"deleted": 1}

    @app.get("/v1/acls", response_model=list[m.AclSummary], summary="List ACLs")
    def acls():
        return listing(s.acls())

    @app.get("/v1/acls/{name}", response_model=m.Json, responses=ERRORS,
             summary="An ACL: its entries with their packet and byte counters, where it is bound")
    def acl_show(name: Annotated[str, Path(pattern=ACL_NAME_PATTERN)]):
        return listing(s.acl_show(name))

    @app.put("/v1/acls/{name}", response_model=m.AclReplaced, responses=ERRORS,
             summary="Create or replace an ACL whole (built first: a refusal leaves the old one "
                     "in force); the counts of entries it took out of service come back")
    def acl_set(name: Annotated[str, Path(pattern=ACL_NAME_PATTERN)], body: AclBody):
        return {"set": 1, "retired": s.acl_set(name, body.canonical())}

    @app.delete("/v1/acls/{name}", response_model=m.Deleted, responses=ERRORS,
                summary="Delete an ACL that no port has bound")
    async def acl_delete(name: Annotated[str, Path(pattern=ACL_NAME_PATTERN)]):
        await change(s.acl_delete, name)
        return {"deleted": 1}

    @app.post("/v1/acls/{name}/entries", response_model=m.AclReplaced, responses=ERRORS,
              summary="Insert one entry at a position (default: the end); the ACL is replaced")
    def acl_insert(name: Annotated[str, Path(pattern=ACL_NAME_PATTERN)], body: AclEntry,
                   position: Annotated[int | None, Query(ge=0, le=1 << 20, strict=False)] = None):
        return {"set": 1, "retired": s.acl_insert(name, position, body.canonical())}

    @app.delete("/v1/acls/{name}/entries", response_model=m.AclReplaced, responses=ERRORS,
                summary="Delete the entry at a position; the ACL is replaced")
    def acl_remove_entry(name: Annotated[str, Path(pattern=ACL_NAME_PATTERN)],
                         position: Annotated[int, Query(ge=0, le=1 << 20, strict=False)]):
        return {"set": 1, "retired": s.acl_remove_entry(name, position)}

    @app.put("/v1/ports/{port}/acl/{direction}", response_model=m.Set, responses=ERRORS,
             summary="Bind an ACL to a port: in (what it receives) or out (what it sends)")
    async def acl_bind(port: Annotated[InterfaceName, Path()], direction: Literal["in", "out"],
                       body: m.AclBinding):
        await change(s.acl_bind, port, direction, body.name)
        return {"set": 1}

    @app.delete("/v1/ports/{port}/acl/{direction}", response_model=m.Deleted, responses=ERRORS,
                summary="Unbind a port's ACL")
    async def acl_unbind(port: Annotated[InterfaceName, Path()], direction: Literal["in", "out"]):
        await change(s.acl_bind, port, direction, None)
        return {"deleted": 1}

    @app.get("/v1/stats", response_model=m.Json,
             summary="Totals, drops by reason, per worker and per port counters")
    def stats():
        return listing(s.dp.stats())

    @app.get("/v1/ports", response_model=list[m.Json],
             summary="Port state (link, MAC, MTU, queues, RSS, offloads)")
    def ports():
        return listing(s.dp.ports())

    @app.get("/v1/interfaces", response_model=list[m.Json],
             summary="L3 interfaces (ports and VLAN sub-interfaces): port, VLAN, MTU, kernel "
                     "interface, rx/tx packets and bytes")
    def interfaces():
        return listing(s.dp.interfaces())

    @app.get("/v1/interfaces/{name}/ra", response_model=m.Json, responses=ERRORS,
             summary="An interface's router advertisement settings")
    def ra_show(name: Annotated[InterfaceName, Path()]):
        found = s.router_advertisements().get(name)
        if found is None:
            raise PortError(f"{name} sends no router advertisements")
        return found

    @app.put("/v1/interfaces/{name}/ra", response_model=m.Set, responses=ERRORS,
             summary="Send router advertisements on an interface (the config's `ra` fields; "
                     "the first goes out at once)")
    async def ra_set(name: Annotated[InterfaceName, Path()], body: m.RaBody):
        await change(s.ra_set, name, body.model_dump(exclude_unset=True))
        return {"set": 1}

    @app.delete("/v1/interfaces/{name}/ra", response_model=m.Deleted, responses=ERRORS,
                summary="Stop router advertisements on an interface (a last one with router "
                        "lifetime 0 withdraws the router from its hosts)")
    async def ra_clear(name: Annotated[InterfaceName, Path()]):
        await change(s.ra_set, name, None)
        return {"deleted": 1}

    @app.put("/v1/interfaces/{name}/stateful", response_model=m.Set, responses=ERRORS,
             summary="Filter statefully on an interface: only packets of sessions started "
                     "through it come in (needs the connection table)")
    async def stateful_on(name: Annotated[InterfaceName, Path()]):
        await change(s.stateful_set, name, True)
        return {"set": 1}

    @app.delete("/v1/interfaces/{name}/stateful", response_model=m.Deleted, responses=ERRORS,
                summary="Stop filtering statefully on an interface")
    async def stateful_off(name: Annotated[InterfaceName, Path()]):
        await change(s.stateful_set, name, False)
        return {"deleted": 1}

    @app.put("/v1/interfaces/{name}/nat", response_model=m.Set, responses=ERRORS,
             summary="NAT44 on an outside interface (the config's `nat` section: masquerade or "
                     "a pool, port forwards, 1:1); sessions already translated keep theirs")
    async def nat_set(name: Annotated[InterfaceName, Path()], body: NatSection):
        await change(s.nat_set, name, body.model_dump(mode="json", exclude_unset=True))
        return {"set": 1}

    @app.delete("/v1/interfaces/{name}/nat", response_model=m.Deleted, responses=ERRORS,
                summary="No NAT on an interface (new sessions are not translated)")
    async def nat_clear(name: Annotated[InterfaceName, Path()]):
        await change(s.nat_set, name, None)
        return {"deleted": 1}

    @app.get("/v1/nat", response_model=m.Json, responses=ERRORS,
             summary="NAT44: each interface's settings, the mappings, each public address's "
                     "ports in use")
    def nat_show():
        return s.nat()

    @app.get("/v1/conntrack", response_model=list[m.Json], responses=ERRORS,
             summary="Tracked connections (sessions), both directions' tuples, state and ages")
    def conntrack_list(proto: Annotated[str | None, Query(pattern=PROTOCOL_PATTERN)] = None,
                       address: Annotated[str | None, Query(
                           pattern=IP_PATTERN, description="in either direction's tuple")] = None):
        return listing(s.conntrack_list(proto, address))

    @app.delete("/v1/conntrack", response_model=m.Deleted, responses=ERRORS,
                summary="Forget every session (replies of the flushed ones are refused)")
    def conntrack_flush():
        return {"deleted": s.conntrack_flush()}

    @app.post("/v1/capture", responses={200: {"content": {"application/x-pcapng": {}},
                                              "description": "pcapng, streamed as it is captured"},
                                        **ERRORS},
              summary="Capture packets (or the dropped ones, with why) to pcapng, streamed until "
                      "the count, the seconds or the client goes")
    async def capture(body: m.CaptureBody, request: Request):
        session = await run_in_threadpool(s.capture, CaptureRequest(**body.model_dump()))

        async def pcapng():
            try:
                yield session.header
                while (chunk := await run_in_threadpool(session.read)) is not None:
                    if await request.is_disconnected():  # (whether or not a write failed)
                        break
                    if chunk:
                        yield chunk
            finally:  # the end, or the client gone (the stream cancelled)
                session.stop()
        return StreamingResponse(pcapng(), media_type="application/x-pcapng")

    @app.post("/v1/trace", response_model=m.Set, responses=ERRORS,
              summary="Trace the next packets received (on an interface, matching a tcpdump "
                      "expression): each stage's decision, for `GET /v1/trace`")
    def trace_start(body: m.TraceBody):
        s.trace_start(TraceRequest(**body.model_dump()))
        return {"set": 1}

    @app.get("/v1/trace", response_model=m.Json, responses=ERRORS,
             summary="The running or last trace: each packet, then each stage's decision in words")
    def trace_show():
        return s.trace_show()

    @app.delete("/v1/trace", response_model=m.Deleted, responses=ERRORS,
                summary="Stop choosing packets to trace (what was traced stays for GET)")
    def trace_stop():
        s.trace_stop()
        return {"deleted": 1}

    @app.post("/v1/apply", response_model=m.Json, responses=ERRORS,
              summary="Make the tables those of a config document (diff; all or nothing)")
    def apply(document: Annotated[m.Json, Body(description="a config document as in the README")]):
        return s.apply(document, "apply request")

    @app.post("/v1/diff", response_model=m.Json, responses=ERRORS,
              summary="What a config document would change in the running tables (nothing is "
                      "applied): with runtime changes kept (a reload) or not (apply)")
    def diff(document: Annotated[m.Json, Body(description="a config document as in the README")],
             keep_runtime_changes: bool = True):
        return s.diff(document, keep_runtime_changes)

    @app.get("/v1/overrides", response_model=m.Json,
             summary="Runtime changes that differ from the config in force, per table")
    def overrides():
        return s.overrides()

    @app.post("/v1/reload", response_model=m.Json, responses=ERRORS,
              summary="Re-read the config file, as SIGHUP, and say what changed; runtime changes "
                      "stay on top (a section only a restart changes: refused, nothing applied)")
    def reload():
        return s.reload()

    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _errors_as_answered(generate())
        return app.openapi_schema
    app.openapi = openapi
    return app


DESCRIPTION = """\
JSON over HTTP/1.1 on a Unix socket (default /run/appliance/appliance.sock, mode 0660), e.g.
`curl --unix-socket /run/appliance/appliance.sock http://x/v1/routes`. An optional TCP
listener (api.tcp_listen) requires `Authorization: Bearer <token>` on every request (401
otherwise, before anything else is read). Every error is
`{"error": {"type": "<ErrorClass>", "message": "..."}}`: 400 invalid input, 401 no token,
404 unknown path, 405 wrong method, 408 request not received in api.read_timeout_s, 409 state,
413 body over 256 MiB, 503 over api.max_connections, 507 table full or state file not
writable. Every change is applied to the data plane and persisted to the state file (when
configured) before the reply; a refused change changes nothing.
"""


def openapi_document() -> dict:
    """The OpenAPI document, generated from the models (openapi.json is this, committed)."""
    return create_app(None).openapi()


def _errors_as_answered(document: dict) -> dict:
    """FastAPI documents 422 for invalid parameters and bodies; this API answers 400 with
    its error body (and 4xx/5xx listed in ERRORS), so the document says that."""
    error_body = {"description": "what is wrong, and nothing changed",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            if responses.pop("422", None) is not None:
                responses.setdefault("400", error_body)
    for unused in ("HTTPValidationError", "ValidationError"):
        document["components"]["schemas"].pop(unused, None)
    return document


if __name__ == "__main__":  # python -m appliance.api.app > appliance/api/openapi.json
    import json
    print(json.dumps(openapi_document(), indent=1))
