"""An 802.1Q access switch for the tests: this machine's kernel has no VLAN devices
(CONFIG_VLAN_8021Q unset) and no tc vlan action, so hosts cannot tag for themselves.

    python -m tests.e2e.vlan_switch TRUNK IFACE:VLAN[:PRIORITY] ...

Frames a host sends on its access port leave the trunk tagged with the port's VLAN and
priority (as a Linux VLAN device with an egress QoS map would send them); tagged frames
from the trunk reach the access port of their VLAN untagged; other VLANs are dropped.
AF_PACKET sockets: the kernel hands received frames up with the tag taken off and put
in the auxiliary data (PACKET_AUXDATA), so that is where it is read.
"""
import select
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_AUXDATA, PACKET_OUTGOING = 263, 8, 4
TP_STATUS_VLAN_VALID = 1 << 4


def open_port(name: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((name, 0))
    return s


def receive(s: socket.socket) -> tuple[bytes, int | None] | None:
    """A frame the port received (not one it sent) and its VLAN tag's TCI, if tagged."""
    frame, ancillary, _, address = s.recvmsg(65535, socket.CMSG_SPACE(20))
    if address[2] == PACKET_OUTGOING:
        return None
    for level, kind, data in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            status, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", data[:20])
            if status & TP_STATUS_VLAN_VALID:
                return frame, tci
    if frame[12:14] == b"\x81\x00":  # the tag still in the frame
        return frame[:12] + frame[16:], int.from_bytes(frame[14:16], "big")
    return frame, None


def main(trunk_name: str, access: list[str]) -> None:
    trunk = open_port(trunk_name)
    ports = {}  # socket -> (vlan, priority)
    by_vlan = {}
    for spec in access:
        name, vlan, *priority = spec.split(":")
        s = open_port(name)
        ports[s] = (int(vlan), int(priority[0]) if priority else 0)
        by_vlan[int(vlan)] = s
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([trunk, *ports], [], [])
        for s in readable:
            got = receive(s)
            if got is None:
                continue
            frame, tci = got
            if s is trunk:
                out = by_vlan.get(tci & 0x0FFF) if tci is not None else None
                if out is not None:
                    out.send(frame)
            elif tci is None:
                vlan, priority = ports[s]
                tag = struct.pack("!HH", 0x8100, (priority << 13) | vlan)
                trunk.send(frame[:12] + tag + frame[12:])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
