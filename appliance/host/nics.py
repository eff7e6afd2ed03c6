"""Network devices: list them, bind them to a DPDK driver and back.

The same safety as dpdk-devbind.py: an interface that carries addresses or
routes (maybe the operator's SSH link) is not taken unless forced. Binding
goes through sysfs driver_override, so it names exactly one device. Every
function takes the sysfs root, and where the kernel's routing state matters
a function that reports it, so tests run against a fake tree.
"""
from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from appliance.errors import PortError

SYSFS = Path("/sys")
DPDK_DRIVERS = ("vfio-pci", "uio_pci_generic", "igb_uio")
log = logging.getLogger("appliance.host")

# (interface) -> (addresses, routes) it carries
IpInfo = Callable[[str], tuple[list[str], list[str]]]


def ip_info(interface: str) -> tuple[list[str], list[str]]:
    """Addresses and routes on `interface`, from iproute2's JSON output."""
    def ip(*args: str) -> list[dict]:
        r = subprocess.run(["ip", "-j", *args], capture_output=True, text=True)
        return json.loads(r.stdout or "[]") if r.returncode == 0 else []
    addrs = [f"{a['local']}/{a['prefixlen']}" for link in ip("addr", "show", "dev", interface)
             for a in link.get("addr_info", []) if a.get("scope") != "link"]
    routes = [r["dst"] for r in ip("route", "show", "dev", interface)]
    return addrs, routes


@dataclass
class Nic:
    pci: str
    vendor: str
    device: str
    driver: str | None
    numa_node: int
    interface: str | None
    link: str | None
    addresses: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)

    @property
    def dpdk_bound(self) -> bool:
        return self.driver in DPDK_DRIVERS

    def to_dict(self) -> dict:
        return asdict(self) | {"dpdk_bound": self.dpdk_bound}


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def list_nics(sysfs: Path = SYSFS, info: IpInfo = ip_info) -> list[Nic]:
    """PCI network-class devices (class 0x02xxxx), whatever driver holds them."""
    nics = []
    for dev in sorted((sysfs / "bus/pci/devices").glob("*")):
        if not _read(dev / "class").startswith("0x02"):
            continue
        driver = (dev / "driver").resolve().name if (dev / "driver").exists() else None
        # net/ may sit one level down (virtio: 0000:00:03.0/virtio0/net/eth0)
        ifaces = sorted(p.name for p in [*dev.glob("net/*"), *dev.glob("*/net/*")])
        iface = ifaces[0] if ifaces else None
        addrs, routes = info(iface) if iface else ([], [])
        nics.append(Nic(
            pci=dev.name, vendor=_read(dev / "vendor"), device=_read(dev / "device"),
            driver=driver, numa_node=max(0, int(_read(dev / "numa_node", "-1") or -1)),
            interface=iface,
            link=_read(sysfs / "class/net" / iface / "operstate") if iface else None,
            addresses=addrs, routes=routes))
    return nics


def find_nic(pci: str, sysfs: Path = SYSFS, info: IpInfo = ip_info) -> Nic:
    for nic in list_nics(sysfs, info):
        if nic.pci == pci or nic.pci.endswith(pci) or nic.interface == pci:
            return nic
    raise PortError(f"no network device {pci} (see `appliance nic list`)")


def load_module(driver: str, no_iommu: bool = False,
                run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
    module = driver.replace("-", "_")
    args = ["modprobe", module]
    if driver == "vfio-pci" and no_iommu:
        log.warning("vfio no-IOMMU mode: DMA is not isolated; any device can reach all memory")
        run(["modprobe", "vfio", "enable_unsafe_noiommu_mode=1"], capture_output=True, text=True)
    r = run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise PortError(f"cannot load kernel module {module}: {r.stderr.strip()}")


def probe(sysfs: Path, pci: str) -> None:
    """Asks the kernel to bind the device to a driver (its driver_override, if set)."""
    (sysfs / "bus/pci/drivers_probe").write_text(pci)


def bind(pci: str, driver: str = "vfio-pci", force: bool = False, no_iommu: bool = False,
         sysfs: Path = SYSFS, info: IpInfo = ip_info, modprobe=load_module,
         reprobe=probe) -> Nic:
    """Hands the device to `driver` (a DPDK one by default); returns its new state."""
    nic = find_nic(pci, sysfs, info)
    if nic.driver == driver:
        return nic
    if nic.interface and (nic.addresses or nic.routes or nic.link == "up") and not force:
        raise PortError(
            f"{nic.pci} is interface {nic.interface} (link {nic.link}) with addresses "
            f"{nic.addresses} and routes {nic.routes}: it may be your SSH link; bring it down "
            "first or use --force")
    if driver in DPDK_DRIVERS:
        modprobe(driver, no_iommu=no_iommu)
    dev = sysfs / "bus/pci/devices" / nic.pci
    (dev / "driver_override").write_text(driver)
    if nic.driver:
        (dev / "driver" / "unbind").write_text(nic.pci)
    reprobe(sysfs, nic.pci)
    after = find_nic(nic.pci, sysfs, info)
    if after.driver != driver:
        raise PortError(f"{nic.pci}: bound to {after.driver or 'no driver'}, not {driver} "
                        "(is the module loaded and the IOMMU on? see `appliance doctor`)")
    return after


def unbind(pci: str, sysfs: Path = SYSFS, info: IpInfo = ip_info, reprobe=probe) -> Nic:
    """Gives the device back to the kernel's own driver."""
    nic = find_nic(pci, sysfs, info)
    dev = sysfs / "bus/pci/devices" / nic.pci
    (dev / "driver_override").write_text("\n")
    if nic.driver:
        (dev / "driver" / "unbind").write_text(nic.pci)
    reprobe(sysfs, nic.pci)
    return find_nic(nic.pci, sysfs, info)
