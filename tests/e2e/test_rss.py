"""RSS on one worker: a port with four rx queues, flows from a Linux host spread over them.

The port is a multi-queue net_tap: the kernel picks a queue per flow by the flow's hash,
as a NIC's RSS does (net_tap's own eBPF RSS needs the multiq qdisc, absent here), and the
one worker polls all four. Per-queue counters show the spread; every packet is forwarded
or counted.
"""
from tests.e2e.conftest import wait_until
from tests.e2e.lab import Lab

FLOWS, PER_FLOW = 64, 20

# One-way UDP flows from 64 source ports. (The tap sends a flow the appliance has written
# back on the queue it was written on, tun's "automq": flows answered through this port,
# like iperf3's, would all land on the queue of the worker's one tx queue.)
SENDER = f"""
import socket
for port in range(20000, 20000 + {FLOWS}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.1.2", port))
    for _ in range({PER_FLOW}):
        s.sendto(bytes(64), ("10.0.2.2", 9))
"""


def test_flows_spread_over_the_rx_queues_one_worker_polls(tmp_path):
    lab = Lab(tmp_path)
    lab.appliance.config["ports"][0].update(rx_queues=4, tx_queues=4)  # net_tap: as many of each
    lab.start()
    try:
        assert lab.wait_ping(0, "10.0.2.2"), "h1 -> h2 through the appliance"
        with lab.appliance.client() as c:
            before = c.stats()["ports"]["lan1"]["opackets"]
            r = lab.host(0, "python3", "-c", SENDER)
            assert r.returncode == 0, r.stderr
            assert wait_until(lambda: c.stats()["ports"]["lan1"]["opackets"] - before >= FLOWS * PER_FLOW)
            stats = c.stats()
        lan0 = stats["ports"]["lan0"]
        queues = [lan0[f"rx_q{q}_packets"] for q in range(4)]
        assert sum(queues) == lan0["ipackets"], (queues, lan0["ipackets"])
        busy = [n for n in queues if n > 0.1 * FLOWS * PER_FLOW]
        assert len(busy) >= 3, f"{FLOWS} flows on {len(busy)} of 4 queues: {queues}"
        worker = stats["workers"][0]
        assert [q for q in worker["rx_queues"] if q[0] == "lan0"] == [["lan0", q] for q in range(4)]
        assert stats["rx_packets"] == stats["tx_packets"] + sum(stats["drops"].values()) + \
            stats["local_packets"] + stats["held_packets"]
    finally:
        lab.close()
