"""Host preparation against a fake sysfs tree, and read-only on this machine."""
import os
from pathlib import Path

import pytest

from appliance.errors import PortError, ResourceError
from appliance.host import doctor, hugepages, nics


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def sysfs(tmp_path) -> Path:
    """Two page sizes, one NUMA node, three NICs: one DPDK-bound, one idle, one the SSH link."""
    s = tmp_path / "sys"
    for base in ("kernel/mm/hugepages", "devices/system/node/node0/hugepages"):
        write(s / base / "hugepages-2048kB/nr_hugepages", "512\n")
        write(s / base / "hugepages-2048kB/free_hugepages", "300\n")
        write(s / base / "hugepages-1048576kB/nr_hugepages", "0\n")
        write(s / base / "hugepages-1048576kB/free_hugepages", "0\n")
    write(s / "devices/system/node/node0/cpulist", "0-3\n")
    for pci, driver, iface in [("0000:03:00.0", "vfio-pci", None), ("0000:03:00.1", "ixgbe", "ens1f1"),
                               ("0000:00:03.0", "virtio-pci", "eth0")]:
        dev = s / "bus/pci/devices" / pci
        write(dev / "class", "0x020000\n")
        write(dev / "vendor", "0x8086\n")
        write(dev / "device", "0x10fb\n")
        write(dev / "numa_node", "0\n")
        write(dev / "driver_override", "(null)\n")
        (s / "bus/pci/drivers" / driver).mkdir(parents=True, exist_ok=True)
        write(s / "bus/pci/drivers" / driver / "unbind", "")
        (dev / "driver").symlink_to(s / "bus/pci/drivers" / driver)
        if iface:
            net = dev / ("virtio0/net" if driver == "virtio-pci" else "net") / iface
            net.mkdir(parents=True)
            write(s / "class/net" / iface / "operstate", "up\n" if iface == "eth0" else "down\n")
    write(s / "bus/pci/drivers_probe", "")
    write(s / "bus/pci/devices/0000:00:00.0/class", "0x060000\n")  # a host bridge, not a NIC
    return s


def fake_ip(iface: str):
    return (["192.0.2.2/24"], ["default", "192.0.2.0/24"]) if iface == "eth0" else ([], [])


def fake_kernel(sysfs: Path, pci: str) -> None:
    """What drivers_probe does: bind to driver_override, else the device's own driver."""
    dev = sysfs / "bus/pci/devices" / pci
    wanted = (dev / "driver_override").read_text().strip() or "ixgbe"
    (sysfs / "bus/pci/drivers" / wanted).mkdir(parents=True, exist_ok=True)
    write(sysfs / "bus/pci/drivers" / wanted / "unbind", "")
    (dev / "driver").unlink(missing_ok=True)
    (dev / "driver").symlink_to(sysfs / "bus/pci/drivers" / wanted)


def test_hugepage_state_per_size_and_node(sysfs):
    pools = hugepages.read_state(sysfs)
    host_2m = next(p for p in pools if p.node is None and p.size_kb == 2048)
    assert (host_2m.total, host_2m.free, host_2m.free_mb) == (512, 300, 600)
    assert {p.node for p in pools} == {None, 0}
    assert hugepages.pages_needed(1000) == 500


def test_hugepage_reserve_and_the_error_that_says_how(sysfs):
    assert hugepages.reserve(1024, sysfs=sysfs) == 1024
    with pytest.raises(ResourceError, match=r"1024 MiB of hugepages needed \(512 pages of 2048 kB\), 600 MiB free; "
                       r"reserve them with `appliance hugepages reserve --pages 1236`"):
        hugepages.verify(1024, sysfs=sysfs)
    with pytest.raises(ResourceError, match="no 4096 kB hugepage pool"):
        hugepages.reserve(1, size_kb=4096, sysfs=sysfs)


def test_nic_list_finds_drivers_interfaces_addresses(sysfs):
    found = {n.pci: n for n in nics.list_nics(sysfs, fake_ip)}
    assert set(found) == {"0000:03:00.0", "0000:03:00.1", "0000:00:03.0"}
    assert found["0000:03:00.0"].dpdk_bound and found["0000:03:00.0"].interface is None
    assert found["0000:00:03.0"].interface == "eth0" and found["0000:00:03.0"].link == "up"
    assert found["0000:00:03.0"].routes == ["default", "192.0.2.0/24"]


def test_bind_and_unbind_through_driver_override(sysfs):
    loaded = []
    nic = nics.bind("ens1f1", "vfio-pci", sysfs=sysfs, info=fake_ip, reprobe=fake_kernel,
                    modprobe=lambda d, no_iommu: loaded.append(d))
    assert (nic.pci, nic.driver, loaded) == ("0000:03:00.1", "vfio-pci", ["vfio-pci"])
    assert (sysfs / "bus/pci/devices/0000:03:00.1/driver_override").read_text() == "vfio-pci"
    back = nics.unbind("0000:03:00.1", sysfs=sysfs, info=fake_ip, reprobe=fake_kernel)
    assert back.driver == "ixgbe"


def test_the_ssh_link_is_refused_unless_forced(sysfs):
    def must_not_run(*a, **k):
        raise AssertionError("touched the device")
    with pytest.raises(PortError, match=r"0000:00:03.0 is interface eth0 \(link up\) with addresses "
                       r"\['192.0.2.2/24'\].*may be your SSH link"):
        nics.bind("0000:00:03.0", sysfs=sysfs, info=fake_ip, reprobe=must_not_run,
                  modprobe=must_not_run)
    assert (sysfs / "bus/pci/devices/0000:00:03.0/driver_override").read_text() == "(null)\n"


def test_unknown_device(sysfs):
    with pytest.raises(PortError, match="no network device 0000:09:00.0"):
        nics.bind("0000:09:00.0", sysfs=sysfs, info=fake_ip)


def test_doctor_on_a_tuned_and_an_untuned_fake_host(sysfs):
    root = sysfs.parent
    write(root / "proc/cmdline", "BOOT_IMAGE=x isolcpus=managed_irq,1-3 nohz_full=1-3 rcu_nocbs=1-3\n")
    write(root / "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    write(root / "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave\n")
    (root / "sys/kernel/iommu_groups/7").mkdir(parents=True)
    host = doctor.Host(root=root, memory_mb=512, workers=(1,))
    checks = {c.name: c for c in doctor.run_checks(host, nics.list_nics(sysfs, fake_ip))}
    assert checks["hugepages"].status == "ok"
    assert checks["cpu_isolation"].status == "ok"
    assert checks["iommu"].status == "ok"
    assert checks["nics_bound"].status == "ok" and "0000:03:00.0" in checks["nics_bound"].detail
    assert checks["transparent_hugepages"].status == "ok"
    assert checks["cpu_governor"].status == "warn"
    assert "scaling_governor" in checks["cpu_governor"].fix

    write(root / "proc/cmdline", "BOOT_IMAGE=x\n")
    host = doctor.Host(root=root, memory_mb=4096, workers=(2, 3))
    checks = {c.name: c for c in doctor.run_checks(host, [])}
    assert checks["hugepages"].status == "fail" and "reserve --pages 2048" in checks["hugepages"].fix
    assert checks["cpu_isolation"].fix == "add isolcpus=2,3 nohz_full=2,3 rcu_nocbs=2,3 to the kernel command line"
    assert checks["nics_bound"].status == "n/a" and checks["numa"].status == "n/a"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_real_host_reserve_same_count_mount_and_doctor(tmp_path):
    pool = next(p for p in hugepages.read_state() if p.node is None and p.size_kb == 2048)
    assert hugepages.reserve(pool.total) == pool.total  # a no-op reservation, for real
    mountpoint = tmp_path / "huge"
    assert hugepages.mount(mountpoint) is True
    try:
        assert mountpoint in hugepages.hugetlbfs_mounts()
        assert hugepages.mount(mountpoint) is False
    finally:
        os.system(f"umount {mountpoint}")
    checks = doctor.run_checks()
    assert {c.name for c in checks} >= {"hugepages", "iommu", "cpu_isolation", "memlock"}
    assert all(c.status in ("ok", "warn", "fail", "n/a") for c in checks)


def test_doctor_and_nic_list_commands():
    import json
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "appliance", "doctor", "--json"], capture_output=True, text=True)
    checks = json.loads(r.stdout)
    assert r.returncode == (1 if any(c["status"] == "fail" for c in checks) else 0)
    assert all(c["why"] for c in checks)
    assert all(c["fix"] for c in checks if c["status"] in ("warn", "fail"))
    r = subprocess.run([sys.executable, "-m", "appliance", "nic", "list", "--json"], capture_output=True, text=True)
    assert r.returncode == 0 and isinstance(json.loads(r.stdout), list)
