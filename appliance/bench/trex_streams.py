"""TRex streams made from the running appliance's own routes.

Each TRex port faces one appliance port and sends to the prefixes the appliance routes out of
the other one, so every packet has a route and comes back to TRex: destinations walk each
prefix with TRex's field engine (one stream per prefix, its whole range), sources walk a
prefix routed back to the sending side (or that side's subnet), so replies would route too.
Frame sizes as in appliance.bench.frames (with the FCS: 64 = 60 bytes built).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from types import ModuleType

from appliance.bench.frames import mix
from appliance.errors import BenchError

MAX_PREFIXES = 16  # per direction: streams per port stay few
UDP_SPORT, UDP_DPORT = 1025, 12
LATENCY_PPS = 1000


@dataclass
class Direction:
    tx: int  # TRex port that sends (faces appliance port tx_port)
    rx: int  # TRex port it comes back on
    tx_port: str
    rx_port: str
    destinations: list[ipaddress.IPv4Network]
    sources: ipaddress.IPv4Network


def plan(routes: list[tuple], nexthops: list[dict], addresses: list[dict],
         ports: list[str]) -> list[Direction]:
    """One direction per TRex port whose opposite appliance port has routes.
    `ports`: the appliance ports TRex ports 0, 1 face."""
    port_of = {h["id"]: h["port"] for h in nexthops}
    v4 = [(ipaddress.ip_network(p), port_of.get(nh)) for p, nh in routes]
    v4 = [(net, port) for net, port in v4 if net.version == 4 and port is not None]

    def routed_to(port: str) -> list[ipaddress.IPv4Network]:
        """Prefixes out of `port` with no more specific route inside going elsewhere."""
        return [net for net, p in v4 if p == port and not any(
            other != net and other.subnet_of(net) and q != port for other, q in v4)]

    def subnet(port: str) -> ipaddress.IPv4Network | None:
        for a in addresses:
            iface = ipaddress.ip_interface(a["address"])
            if a["port"] == port and iface.version == 4:
                return iface.network
        return None

    directions = []
    for tx, tx_port in enumerate(ports):
        rx = 1 - tx if len(ports) == 2 else tx
        rx_port = ports[rx]
        destinations = routed_to(rx_port)[:MAX_PREFIXES]
        back = routed_to(tx_port)
        sources = back[0] if back else subnet(tx_port)
        if destinations and sources is not None:
            directions.append(Direction(tx, rx, tx_port, rx_port, destinations, sources))
    if not directions:
        raise BenchError(f"no IPv4 routes out of {' or '.join(ports)} to send to: add routes "
                         "whose next hops are on those ports")
    return directions


def host_range(net: ipaddress.IPv4Network) -> tuple[str, str]:
    """The whole prefix: a router forwards to every address in it."""
    return str(net.network_address), str(net.broadcast_address)


def _packet(api: ModuleType, frame: int, src: str, dst: str):
    base = api.Ether() / api.IP(src=src, dst=dst) / api.UDP(sport=UDP_SPORT, dport=UDP_DPORT)
    return base / (b"x" * max(0, frame - 4 - len(base)))


def streams(api: ModuleType, d: Direction, size: int | str) -> list:
    """The load of one direction: per destination prefix and frame size, a continuous stream
    whose field engine walks the prefix's addresses (and the sources); rates are relative
    (weights), scaled by the multiplier at start."""
    out = []
    src_lo, src_hi = host_range(d.sources)
    for net in d.destinations:
        dst_lo, dst_hi = host_range(net)
        for frame, weight in mix(size):
            vm = api.STLVM()
            vm.var(name="dst", min_value=dst_lo, max_value=dst_hi, size=4, op="inc")
            vm.write(fv_name="dst", pkt_offset="IP.dst")
            vm.var(name="src", min_value=src_lo, max_value=src_hi, size=4, op="inc")
            vm.write(fv_name="src", pkt_offset="IP.src")
            vm.fix_chksum()
            pkt = api.STLPktBuilder(pkt=_packet(api, frame, src_lo, dst_lo), vm=vm)
            out.append(api.STLStream(packet=pkt, mode=api.STLTXCont(pps=weight)))
    return out


def latency_stream(api: ModuleType, d: Direction, pg_id: int):
    """A fixed-rate 64-byte stream TRex timestamps (not scaled by the multiplier)."""
    net = d.destinations[0]
    dst = net.network_address + (1 if net.prefixlen < 31 else 0)
    pkt = api.STLPktBuilder(pkt=_packet(api, 64, host_range(d.sources)[0], str(dst)))
    return api.STLStream(packet=pkt, mode=api.STLTXCont(pps=LATENCY_PPS),
                         flow_stats=api.STLFlowLatencyStats(pg_id=pg_id))
