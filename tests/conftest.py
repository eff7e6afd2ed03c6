import os


def free_hugepages() -> int:
    try:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            return int(f.read())
    except OSError:
        return 0


def hugepages_usable(mb: int) -> bool:
    """Enough free 2 MiB pages and a hugetlbfs mount (or we are root and can mount one)."""
    mounted = any(line.split()[2] == "hugetlbfs" for line in open("/proc/mounts"))
    return free_hugepages() * 2 >= mb and (mounted or os.geteuid() == 0)
