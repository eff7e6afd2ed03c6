"""What the host's hugepages can give the EAL right now."""
from __future__ import annotations

from pathlib import Path

from appliance.eal import hugetlbfs_mounts

SYSFS = Path("/sys/kernel/mm/hugepages")


def free_hugepage_mb(sysfs: Path = SYSFS) -> int:
    """Free hugepage memory in MiB over every page size."""
    total = 0
    for size_dir in sysfs.glob("hugepages-*kB"):
        page_kb = int(size_dir.name.removeprefix("hugepages-").removesuffix("kB"))
        free = int((size_dir / "free_hugepages").read_text())
        total += free * page_kb // 1024
    return total


def hugetlbfs_mounted() -> bool:
    return bool(hugetlbfs_mounts())


def hugepages_usable(mb: int) -> bool:
    """True when `mb` MiB of hugepages are free and hugetlbfs is mounted."""
    try:
        return free_hugepage_mb() >= mb and hugetlbfs_mounted()
    except OSError:
        return False
