"""EAL arguments, generated from a description of lcores, memory and ports.

Nobody types EAL arguments by hand: `eal_args()` turns an `EalOptions` plus
the ports into the argv the EAL wants, and `init_eal()` initializes it once
per process (rte_eal_init cannot run twice).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from appliance import _native
from appliance.errors import ConfigError

RUNTIME_DIR = Path("/var/run/dpdk")
def online_cpus() -> list[int]:
    """The host's online CPUs as the EAL sees them (sysfs), not this process's
    affinity: a parent that ran rte_eal_init is pinned to one CPU, and so are
    the processes it starts."""
    try:
        spec = Path("/sys/devices/system/cpu/online").read_text().strip()
    except OSError:
        return list(range(os.cpu_count() or 1))
    cpus = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


HOST_CPUS = online_cpus()
PCI_ADDRESS = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def port_kind(device: str) -> str:
    """'ring' for test ring ports, 'pci' for a PCI address, 'vdev' for net_*."""
    if device == "ring":
        return "ring"
    if PCI_ADDRESS.match(device):
        return "pci"
    if device.startswith("net_"):
        return "vdev"
    raise ConfigError(
        f"device '{device}': expected a PCI address (0000:01:00.0), a vdev spec "
        "(net_null0,no-rx=1) or 'ring'"
    )


@dataclass
class EalOptions:
    """What the EAL needs to know; every field has a working default."""

    main_lcore: int = 0
    worker_lcores: list[int] = field(default_factory=lambda: [1])
    # CPU each lcore runs on; None: lcore N on CPU N when it exists, else the last CPU.
    cpus: dict[int, int] | None = None
    memory_mb: int = 512
    hugepages: bool = True
    # in_memory: no hugepage or runtime files; secondary processes (dumpcap) cannot attach.
    in_memory: bool = False
    file_prefix: str = "appliance"
    log_level: str = "notice"
    # Widest SIMD DPDK's drivers and the fast path may use; DPDK's own default is 256.
    max_simd_bitwidth: int = 512


def _lcore_map(opts: EalOptions) -> str:
    available = HOST_CPUS
    parts = []
    for lcore in [opts.main_lcore, *opts.worker_lcores]:
        if opts.cpus and lcore in opts.cpus:
            cpu = opts.cpus[lcore]
        else:
            cpu = lcore if lcore in available else available[-1]
        parts.append(f"{lcore}@{cpu}")
    return ",".join(parts)


def eal_args(opts: EalOptions, devices: list[str]) -> list[str]:
    """The EAL argv (without argv[0]) for these options and port devices."""
    if opts.main_lcore in opts.worker_lcores:
        raise ConfigError(f"lcore {opts.main_lcore} is the main lcore and cannot also be a worker")
    if not opts.worker_lcores:
        raise ConfigError("at least one worker lcore is needed")
    args = ["--lcores", _lcore_map(opts), "--main-lcore", str(opts.main_lcore)]
    args += ["-m", str(opts.memory_mb)]
    if not opts.hugepages:
        args.append("--no-huge")
    if opts.in_memory:
        # --no-huge implies legacy memory, which --in-memory refuses; without
        # hugepages, --no-shconf is what keeps files out of the runtime dir.
        args.append("--in-memory" if opts.hugepages else "--no-shconf")
    else:
        args += ["--file-prefix", opts.file_prefix]
    pci = [d for d in devices if port_kind(d) == "pci"]
    for d in devices:
        if port_kind(d) == "vdev":
            args += ["--vdev", d]
    if pci:
        for d in pci:
            args += ["-a", d]
    else:
        args.append("--no-pci")
    args += ["--force-max-simd-bitwidth", str(opts.max_simd_bitwidth)]
    args += ["--log-level", f"*:{opts.log_level}"]
    return args


def init_eal(opts: EalOptions, devices: list[str]) -> list[str]:
    """Initializes the EAL once per process; a second call must agree."""
    args = eal_args(opts, devices)
    if _native.eal_is_initialized():
        current = _native.eal_args()
        if _lcores(current) != _lcores(args):
            raise ConfigError(
                f"EAL already runs with lcores {_lcores(current)} in this process; "
                f"cannot switch to {_lcores(args)}"
            )
        return current
    _native.eal_init(args)
    return args


def shutdown_eal(opts: EalOptions) -> None:
    """At process exit: release the EAL, then the files it leaves behind.

    DPDK keeps a primary's hugepage files and runtime directory so a restart
    can reuse them; a cleanly stopped appliance leaves nothing.
    """
    _native.eal_cleanup()
    if opts.in_memory:
        return
    for mount in hugetlbfs_mounts():
        for f in mount.glob(f"{opts.file_prefix}map_*"):
            f.unlink(missing_ok=True)
    shutil.rmtree(RUNTIME_DIR / opts.file_prefix, ignore_errors=True)


def hugetlbfs_mounts() -> list[Path]:
    with open("/proc/mounts") as f:
        return [Path(line.split()[1]) for line in f if line.split()[2] == "hugetlbfs"]


def _lcores(args: list[str]) -> str:
    return args[args.index("--lcores") + 1]
