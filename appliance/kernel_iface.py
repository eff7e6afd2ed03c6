"""The kernel side of a port's kernel interface (the net_tap the data plane made).

The appliance resolves neighbours itself, so the kernel side does not: IFF_NOARP (as grout's
ports) makes the kernel address every frame to the interface's own MAC and the slow path
routes it on with its own ARP/NDP table; there is no second neighbour table to keep in step.
The port's addresses are put on it, so sockets (BGP on TCP 179) and routing daemons bind
to them and the kernel has the connected routes they expect.

The kernel interfaces of a VRF's interfaces live in the network namespace named after the
VRF (/run/netns/NAME, as `ip netns add` makes it): each VRF's interfaces, connected routes
and routing table are apart, and FRR's netns VRF backend (`zebra -n`) runs
`router bgp ASN vrf NAME` there. (Linux VRF devices would do the same in one namespace;
kernels without CONFIG_NET_VRF, as this project's CI, have none.)
"""
from __future__ import annotations

import ctypes
import ipaddress
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from appliance.errors import PortError

if TYPE_CHECKING:
    from pyroute2 import IPRoute


# pyroute2's synchronous API runs an event loop of its own: never inside the API's.
_netlink = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-iface")


_CLONE_NEWNET = 0x40000000


def _enter(netns: str) -> None:
    """The calling thread joins namespace `netns` (its netlink sockets and /proc/sys/net
    are that namespace's from now on)."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, _CLONE_NEWNET) != 0:
            raise PortError(f"network namespace {netns}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def _in_thread(fn):
    """On the netlink thread; with netns=NAME, on a thread of its own in that namespace."""
    def run(*args, netns: str | None = None, **kwargs):
        if netns is None:
            return _netlink.submit(fn, *args, **kwargs).result()
        with ThreadPoolExecutor(max_workers=1) as one:
            one.submit(_enter, netns).result()
            return one.submit(fn, *args, **kwargs).result()
    run.__doc__ = fn.__doc__
    return run


def ensure_netns(name: str) -> None:
    """Network namespace `name` for a VRF's kernel interfaces: made (`ip netns add`, its
    loopback up) unless there already, as when FRR was configured first."""
    if os.path.exists(f"/run/netns/{name}"):
        return
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        raise PortError(f"VRF {name}: cannot make network namespace {name}: {made.stderr.strip()}")
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], capture_output=True)


def _index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise PortError(f"kernel interface {name} is gone")
    return found[0]


@_in_thread
def prepare(name: str) -> None:
    """No ARP/ND, no router advertisements taken (the appliance's routes come from config,
    the API or route sync), addresses kept while down, up."""
    # The interface goes down with its port's link: IPv6 addresses must stay (Linux drops
    # them on down by default) as the IPv4 ones do.
    from pyroute2 import IPRoute  # 0.1 s to import: only where a port has a kernel interface

    for setting, value in (("accept_ra", "0"), ("keep_addr_on_down", "1")):
        with open(f"/proc/sys/net/ipv6/conf/{name}/{setting}", "w") as f:
            f.write(value)
    with IPRoute() as ipr:
        index = _index(ipr, name)
        ipr.link("set", index=index, flags=0x80, mask=0x80)  # IFF_NOARP
        ipr.link("set", index=index, state="up")


@_in_thread
def address(name: str, prefix: str, add: bool) -> None:
    """Adds or removes one of the port's addresses on its kernel interface."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    iface = ipaddress.ip_interface(prefix)
    with IPRoute() as ipr:
        try:
            ipr.addr("add" if add else "del", index=_index(ipr, name), address=str(iface.ip),
                     prefixlen=iface.network.prefixlen)
        except NetlinkError as e:
            if e.code not in (17, 99):  # EEXIST on add, EADDRNOTAVAIL on delete: already so
                raise PortError(f"kernel interface {name}: {prefix}: {e}") from None
