"""EAL arguments come from the description, never typed by hand."""
import pytest

from appliance import EalOptions
from appliance.eal import eal_args, port_kind
from appliance.errors import ConfigError


def test_vdevs_pci_memory_and_prefix_become_eal_args():
    opts = EalOptions(main_lcore=0, worker_lcores=[1], cpus={0: 0, 1: 1}, memory_mb=256,
                      file_prefix="edge1")
    args = eal_args(opts, ["net_null0,no-rx=1", "0000:03:00.0", "net_tap0,iface=t0"])
    assert args == ["--lcores", "0@0,1@1", "--main-lcore", "0", "-m", "256",
                    "--file-prefix", "edge1", "--vdev", "net_null0,no-rx=1",
                    "--vdev", "net_tap0,iface=t0", "-a", "0000:03:00.0",
                    "--force-max-simd-bitwidth", "512", "--log-level", "*:notice"]


def test_no_pci_ports_means_no_pci_scan_and_in_memory_drops_the_prefix():
    args = eal_args(EalOptions(in_memory=True, cpus={0: 0, 1: 0}), [])
    assert "--no-pci" in args and "--in-memory" in args and "--no-huge" not in args
    assert "--file-prefix" not in args


def test_without_hugepages_in_memory_means_no_shared_config():
    # the EAL refuses --in-memory with --no-huge (legacy memory)
    args = eal_args(EalOptions(in_memory=True, hugepages=False), [])
    assert "--no-huge" in args and "--no-shconf" in args and "--in-memory" not in args


@pytest.mark.parametrize("device, kind", [
    ("ring", "ring"), ("0000:01:00.0", "pci"), ("01:00.1", "pci"), ("net_pcap0,rx_pcap=x", "vdev"),
])
def test_port_kinds(device, kind):
    assert port_kind(device) == kind


def test_unknown_device_and_bad_lcores_are_config_errors():
    with pytest.raises(ConfigError, match="device 'eth0': expected a PCI address"):
        port_kind("eth0")
    with pytest.raises(ConfigError, match="lcore 1 is the main lcore"):
        eal_args(EalOptions(main_lcore=1, worker_lcores=[1]), [])
    with pytest.raises(ConfigError, match="at least one worker lcore"):
        eal_args(EalOptions(worker_lcores=[]), [])
