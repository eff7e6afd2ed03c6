"""The built-in demo: a three-port router on vdevs, no NIC needed.

wan0 (net_pcap) replays UDP frames towards 10.1/16, 10.2/16 and 10.3/16;
10.1/16 routes to lan0 and 10.2/16 to lan1 (both net_null); 10.3/16 has no
route and one flow is dropped by an exact-match rule, so the drop counters
move too. `appliance run` with no config runs this.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from appliance.dataplane import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.eal import HOST_CPUS, EalOptions

DEMO_ROUTES = {"10.1.0.0/16": 1, "10.2.0.0/16": 2}
DEMO_NEXTHOPS = {1: ("lan0", "02:00:00:00:01:01"), 2: ("lan1", "02:00:00:00:02:01")}
DEMO_DROP_RULE = ("udp", "192.0.2.1", 4000, "10.1.0.1", 53)
DEMO_WAN_MAC = "02:00:00:00:00:01"  # pinned: the replayed frames are addressed to it


def demo_frames() -> list[Ether]:
    frames = []
    for i in range(240):
        dst = f"10.{1 + i % 3}.{i // 3}.1"  # 1/3 to each prefix, the last one unrouted
        frames.append(Ether(dst=DEMO_WAN_MAC) / IP(src=f"192.0.2.{1 + i % 200}", dst=dst)
                      / UDP(sport=4000 + i, dport=53) / (b"\x00" * 18))
    proto, src, sport, dst, dport = DEMO_DROP_RULE
    frames.append(Ether(dst=DEMO_WAN_MAC) / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / (b"\x00" * 18))
    return frames


def write_demo_pcap(path: str | Path) -> Path:
    wrpcap(str(path), demo_frames())
    return Path(path)


def demo_config(workdir: Path, hugepages: bool) -> DataplaneConfig:
    pcap = write_demo_pcap(workdir / "demo.pcap")
    return DataplaneConfig(
        name="demo",
        ports=[PortConfig("wan0", f"net_pcap_demo0,rx_pcap={pcap},infinite_rx=1", mac=DEMO_WAN_MAC),
               PortConfig("lan0", "net_null_demo0,no-rx=1"),
               PortConfig("lan1", "net_null_demo1,no-rx=1")],
        eal=EalOptions(main_lcore=0, worker_lcores=[1], file_prefix="appliance-demo",
                       hugepages=hugepages, memory_mb=256,
                       cpus={0: HOST_CPUS[0], 1: HOST_CPUS[-1]}),
        tables=TableSizes(max_routes=1024, tbl8_groups=64, max_nexthops=16, max_rules=64))


def open_demo(workdir: Path | None = None, hugepages: bool = True) -> Dataplane:
    """Builds and starts the demo router; the caller closes it."""
    if workdir is None:
        # net_pcap has read the replay into memory once started: nothing to leave behind.
        with tempfile.TemporaryDirectory(prefix="appliance-demo-") as tmp:
            return open_demo(Path(tmp), hugepages)
    dp = Dataplane(demo_config(workdir, hugepages))
    for id, (port, mac) in DEMO_NEXTHOPS.items():
        dp.nexthop_set(id, port, mac)
    for prefix, nh in DEMO_ROUTES.items():
        dp.route_add(prefix, nh)
    dp.rule_add(*DEMO_DROP_RULE, action="drop")
    dp.start()
    return dp
