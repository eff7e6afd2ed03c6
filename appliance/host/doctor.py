"""`appliance doctor`: the host against what a poll-mode appliance needs.

Each check says its status (ok, warn, fail, n/a), why it matters and the
exact fix. Checks read /proc and /sys under a root that tests can fake; on a
VM without NICs the NIC checks say 'n/a' instead of pretending.
"""
from __future__ import annotations

import os
import resource
from dataclasses import asdict, dataclass
from pathlib import Path

from appliance.eal import hugetlbfs_mounts
from appliance.host.hugepages import pages_needed, read_state
from appliance.host.nics import Nic, ip_info, list_nics


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | n/a
    detail: str
    why: str
    fix: str = ""


@dataclass
class Host:
    """Where the doctor looks; the real host by default."""

    root: Path = Path("/")
    memory_mb: int = 512
    workers: tuple[int, ...] = (1,)

    def read(self, rel: str, default: str = "") -> str:
        try:
            return (self.root / rel).read_text().strip()
        except OSError:
            return default

    @property
    def sysfs(self) -> Path:
        return self.root / "sys"

    def cmdline(self) -> dict[str, str]:
        out = {}
        for word in self.read("proc/cmdline").split():
            key, _, value = word.partition("=")
            out[key] = value
        return out


def _cpu_list(spec: str) -> set[int]:
    cpus: set[int] = set()
    for part in filter(None, spec.replace(" ", "").split(",")):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def check_hugepages(h: Host) -> Check:
    why = "DPDK's memory (mempools, tables) lives in hugepages; without them EAL init fails"
    pools = [p for p in read_state(h.sysfs) if p.node is None]
    free = sum(p.free_mb for p in pools)
    need = pages_needed(h.memory_mb)
    if free >= h.memory_mb:
        return Check("hugepages", "ok", f"{free} MiB free for {h.memory_mb} MiB", why)
    return Check("hugepages", "fail", f"{free} MiB free, {h.memory_mb} MiB needed", why,
                 f"appliance hugepages reserve --pages {need}  (persistent: hugepages={need} "
                 "on the kernel command line)")


def check_hugetlbfs(h: Host, mounts: list[Path] | None = None) -> Check:
    mounts = hugetlbfs_mounts() if mounts is None else mounts
    why = "the EAL maps hugepages through a hugetlbfs mount"
    if mounts:
        return Check("hugetlbfs", "ok", f"mounted at {', '.join(map(str, mounts))}", why)
    return Check("hugetlbfs", "fail", "not mounted", why, "appliance hugepages mount")


def check_iommu(h: Host, nics: list[Nic]) -> Check:
    why = "vfio-pci needs the IOMMU to isolate the NIC's DMA; without it only no-IOMMU mode works"
    groups = list((h.sysfs / "kernel/iommu_groups").glob("*"))
    if groups:
        return Check("iommu", "ok", f"{len(groups)} IOMMU groups", why)
    status = "n/a" if not nics else "warn"
    return Check("iommu", status, "no IOMMU groups" + (" (no PCI NICs here)" if not nics else ""),
                 why, "enable VT-d/AMD-Vi in firmware and add intel_iommu=on iommu=pt "
                      "(or amd_iommu=on) to the kernel command line")


def check_nics_bound(h: Host, nics: list[Nic]) -> Check:
    why = "poll-mode drivers need the NIC bound to vfio-pci (or uio_pci_generic)"
    if not nics:
        return Check("nics_bound", "n/a", "no PCI network devices (vdevs only)", why)
    bound = [n.pci for n in nics if n.dpdk_bound]
    if bound:
        return Check("nics_bound", "ok", f"bound to DPDK drivers: {', '.join(bound)}", why)
    return Check("nics_bound", "warn", "no NIC bound to a DPDK driver", why,
                 "appliance nic bind PCI_ADDRESS")


def check_isolation(h: Host) -> Check:
    why = ("worker lcores poll at 100 %: the scheduler, timer ticks and RCU callbacks on them "
           "steal cycles and cause drops")
    cmd = h.cmdline()
    workers = set(h.workers)
    # isolcpus may carry flags first: isolcpus=domain,managed_irq,2-5
    missing = [name for name in ("isolcpus", "nohz_full", "rcu_nocbs")
               if not workers <= _cpu_list(",".join(
                   p for p in cmd.get(name, "").split(",") if p[:1].isdigit()))]
    cpus = ",".join(map(str, sorted(workers)))
    if not missing:
        return Check("cpu_isolation", "ok", f"lcores {cpus} isolated", why)
    return Check("cpu_isolation", "warn", f"lcores {cpus} missing from {', '.join(missing)}", why,
                 f"add isolcpus={cpus} nohz_full={cpus} rcu_nocbs={cpus} to the kernel command line")


def check_irqbalance(h: Host) -> Check:
    why = "irqbalance moves interrupts onto worker cores"
    running = any((p / "comm").exists() and (p / "comm").read_text().strip() == "irqbalance"
                  for p in (h.root / "proc").glob("[0-9]*"))
    if not running:
        return Check("irqbalance", "ok", "not running", why)
    banned = h.read("etc/default/irqbalance")
    if "IRQBALANCE_BANNED_CPULIST" in banned or "IRQBALANCE_BANNED_CPUS" in banned:
        return Check("irqbalance", "ok", "running with banned CPUs set", why)
    cpus = ",".join(map(str, h.workers))
    return Check("irqbalance", "warn", "running on all CPUs", why,
                 f"IRQBALANCE_BANNED_CPULIST={cpus} in /etc/default/irqbalance, or stop irqbalance")


def check_governor(h: Host) -> Check:
    why = "a power-saving governor lowers worker clocks between bursts: latency and lost packets"
    govs = {c: h.read(f"sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor") for c in h.workers}
    if not any(govs.values()):
        return Check("cpu_governor", "n/a", "no cpufreq (VM or fixed clock)", why)
    slow = [f"cpu{c}={g}" for c, g in govs.items() if g and g != "performance"]
    if not slow:
        return Check("cpu_governor", "ok", "performance", why)
    return Check("cpu_governor", "warn", ", ".join(slow), why,
                 "cpupower frequency-set -g performance (or echo performance > "
                 "/sys/devices/system/cpu/cpuN/cpufreq/scaling_governor)")


def check_numa(h: Host, nics: list[Nic]) -> Check:
    why = "a worker on another NUMA node than its NIC pays a cross-socket hop per packet"
    if not nics:
        return Check("numa", "n/a", "no PCI NICs", why)
    node_of = {}
    for node_dir in (h.sysfs / "devices/system/node").glob("node[0-9]*"):
        for cpu in _cpu_list(h.read(str((node_dir / "cpulist").relative_to(h.root)))):
            node_of[cpu] = int(node_dir.name.removeprefix("node"))
    far = [f"{n.pci} (node {n.numa_node}) / lcore {w} (node {node_of.get(w, 0)})"
           for n in nics if n.dpdk_bound for w in h.workers if node_of.get(w, 0) != n.numa_node]
    if not far:
        return Check("numa", "ok", "workers on their NICs' nodes", why)
    return Check("numa", "warn", "; ".join(far), why, "pick worker lcores on the NIC's node")


def check_thp(h: Host) -> Check:
    why = "transparent hugepages' compaction stalls the control plane at random moments"
    mode = h.read("sys/kernel/mm/transparent_hugepage/enabled")
    current = mode[mode.find("[") + 1:mode.find("]")] if "[" in mode else mode
    if current in ("never", "madvise"):
        return Check("transparent_hugepages", "ok", current, why)
    if not current:
        return Check("transparent_hugepages", "n/a", "not available", why)
    return Check("transparent_hugepages", "warn", current, why,
                 "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled "
                 "(persistent: transparent_hugepage=madvise)")


def check_memlock(h: Host) -> Check:
    why = "the EAL locks its memory; a low RLIMIT_MEMLOCK fails vfio DMA mapping"
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY or os.geteuid() == 0 or soft >= h.memory_mb << 20:
        detail = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft >> 20} MiB"
        return Check("memlock", "ok", detail + (" (root)" if os.geteuid() == 0 else ""), why)
    return Check("memlock", "fail", f"{soft >> 20} MiB", why,
                 "LimitMEMLOCK=infinity in the unit, or `ulimit -l unlimited`")


def run_checks(h: Host | None = None, nics: list[Nic] | None = None) -> list[Check]:
    h = h or Host()
    if nics is None:
        nics = list_nics(h.sysfs, ip_info)
    return [check_hugepages(h), check_hugetlbfs(h), check_iommu(h, nics),
            check_nics_bound(h, nics), check_isolation(h), check_irqbalance(h), check_governor(h),
            check_numa(h, nics), check_thp(h), check_memlock(h)]


def render(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{c.status.upper():<5} {c.name:<22} {c.detail}")
        if c.status in ("warn", "fail"):
            lines.append(f"      why: {c.why}")
            lines.append(f"      fix: {c.fix}")
    return "\n".join(lines)


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
