"""Hugepages: what the host has per page size and NUMA node, what a config
needs, reserving them (sysfs) and mounting hugetlbfs. Every function takes
the sysfs root so tests run against a fake tree.
"""
from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

from appliance.eal import hugetlbfs_mounts
from appliance.errors import ResourceError

SYSFS = Path("/sys")


@dataclass(frozen=True)
class HugepagePool:
    size_kb: int
    node: int | None  # None: the whole host
    total: int
    free: int

    @property
    def free_mb(self) -> int:
        return self.free * self.size_kb // 1024


def _size_dirs(base: Path) -> list[tuple[int, Path]]:
    out = []
    for d in sorted(base.glob("hugepages-*kB")):
        out.append((int(d.name.removeprefix("hugepages-").removesuffix("kB")), d))
    return out


def _pool(size_kb: int, d: Path, node: int | None) -> HugepagePool:
    return HugepagePool(size_kb, node, int((d / "nr_hugepages").read_text()),
                        int((d / "free_hugepages").read_text()))


def read_state(sysfs: Path = SYSFS) -> list[HugepagePool]:
    """Host-wide pools per page size, then per NUMA node."""
    pools = [_pool(size, d, None) for size, d in _size_dirs(sysfs / "kernel/mm/hugepages")]
    for node_dir in sorted((sysfs / "devices/system/node").glob("node[0-9]*")):
        node = int(node_dir.name.removeprefix("node"))
        pools += [_pool(size, d, node) for size, d in _size_dirs(node_dir / "hugepages")]
    return pools


def pages_needed(memory_mb: int, size_kb: int = 2048) -> int:
    return math.ceil(memory_mb * 1024 / size_kb)


def free_hugepage_mb(sysfs: Path = SYSFS) -> int:
    """Free hugepage memory in MiB over every page size."""
    try:
        return sum(p.free_mb for p in read_state(sysfs) if p.node is None)
    except OSError:
        return 0


def hugetlbfs_mounted() -> bool:
    return bool(hugetlbfs_mounts())


def hugepages_usable(mb: int) -> bool:
    """True when `mb` MiB of hugepages are free and hugetlbfs is mounted."""
    return free_hugepage_mb() >= mb and hugetlbfs_mounted()


def reserve(pages: int, size_kb: int = 2048, node: int | None = None,
            sysfs: Path = SYSFS) -> int:
    """Sets the pool to `pages` pages; returns what the kernel granted.

    ResourceError when it grants fewer (memory too fragmented or too small).
    """
    base = sysfs / "kernel/mm" if node is None else sysfs / f"devices/system/node/node{node}"
    target = base / "hugepages" / f"hugepages-{size_kb}kB" / "nr_hugepages"
    if not target.exists():
        raise ResourceError(f"no {size_kb} kB hugepage pool at {target}")
    target.write_text(f"{pages}\n")
    granted = int(target.read_text())
    if granted < pages:
        raise ResourceError(
            f"asked the kernel for {pages} hugepages of {size_kb} kB"
            f"{'' if node is None else f' on node {node}'}, got {granted}: memory is too "
            f"fragmented or too small; reserve them at boot (hugepages={pages} on the kernel "
            "command line)")
    return granted


def mount(mountpoint: Path = Path("/dev/hugepages"), size_kb: int = 2048) -> bool:
    """Mounts hugetlbfs for `size_kb` pages unless mounted; True if it mounted."""
    if mountpoint in hugetlbfs_mounts():
        return False
    mountpoint.mkdir(parents=True, exist_ok=True)
    size = f"{size_kb // 1024}M" if size_kb < 1 << 20 else f"{size_kb >> 20}G"
    r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", f"pagesize={size}", "nodev",
                        str(mountpoint)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ResourceError(f"cannot mount hugetlbfs on {mountpoint}: {r.stderr.strip()}")
    return True


def verify(memory_mb: int, sysfs: Path = SYSFS, size_kb: int = 2048) -> None:
    """Before EAL init: enough free pages and a mount, or an error saying how."""
    need = pages_needed(memory_mb, size_kb)
    pools = [p for p in read_state(sysfs) if p.node is None]
    free = sum(p.free_mb for p in pools)
    if free < memory_mb:
        have = next((p for p in pools if p.size_kb == size_kb), None)
        total = have.total if have else 0
        raise ResourceError(
            f"{memory_mb} MiB of hugepages needed ({need} pages of {size_kb} kB), "
            f"{free} MiB free; reserve them with `appliance hugepages reserve --pages "
            f"{total + need - (have.free if have else 0)}` or "
            f"`echo {total + need - (have.free if have else 0)} > "
            f"/sys/kernel/mm/hugepages/hugepages-{size_kb}kB/nr_hugepages`")
    if not hugetlbfs_mounted():
        raise ResourceError("no hugetlbfs mounted; `appliance hugepages mount` or "
                            "`mount -t hugetlbfs nodev /dev/hugepages`")
