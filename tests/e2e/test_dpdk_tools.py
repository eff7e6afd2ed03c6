"""DPDK's own tools work against a running appliance: dumpcap and telemetry."""
import json
import shutil
import subprocess

import pytest
from scapy.layers.inet import IP
from scapy.utils import rdpcap

pytestmark = pytest.mark.skipif(not shutil.which("dpdk-dumpcap"), reason="dpdk-tools not installed")


def test_dumpcap_captures_what_the_appliance_transmits(appliance):
    appliance.start()
    out = appliance.tmp / "lan0.pcapng"
    lan0 = appliance.config["ports"][1]["device"].split(",")[0]
    r = subprocess.run(["dpdk-dumpcap", "--file-prefix", appliance.prefix, "-i", lan0, "-c", "20",
                        "-w", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    packets = rdpcap(str(out))
    assert len(packets) >= 20  # dumpcap stops after the burst that reaches -c
    assert all(p.dst == "02:00:00:00:01:01" for p in packets), "rewritten to next hop 1's MAC"
    assert all(p[IP].ttl == 63 and p[IP].dst.startswith("10.1.") for p in packets)


def test_dpdk_telemetry_reads_the_running_appliance(appliance):
    appliance.start()
    r = subprocess.run(["dpdk-telemetry.py", "-f", appliance.prefix], input="/ethdev/stats,1\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    reply = json.loads(r.stdout.strip().splitlines()[-1])
    assert reply["/ethdev/stats"]["opackets"] > 0
