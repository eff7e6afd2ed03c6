"""Route sync at volume, through a ring port with a kernel interface: a burst larger than
the netlink socket's buffer is noticed (overrun) and put right by a new dump, so the FIB is
never silently stale; a forced resync removes what the kernel no longer has."""
import random
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from appliance import Dataplane, DataplaneConfig, PortConfig, TableSizes
from appliance.dataplane import RouteSyncSettings
from tests.native.conftest import EAL, ROUTER_MAC


def open_sync_router(receive_buffer: int):
    kernel = f"ks{uuid.uuid4().hex[:6]}"
    table = random.randrange(1000, 60000)
    dp = Dataplane(DataplaneConfig(
        ports=[PortConfig("a", "ring", mac=ROUTER_MAC["a"], kernel=kernel, rx_desc=4096,
                          tx_desc=4096)], eal=EAL,
        tables=TableSizes(max_routes=500_000, tbl8_groups=256, max_nexthops=64),
        route_sync=RouteSyncSettings(table=table, protocols=[186],
                                     receive_buffer=receive_buffer)))
    dp.start()
    dp.address_add("a", "10.255.0.1/16")
    return dp, kernel, table


def ip_batch(lines: list[str], while_busy=None) -> None:
    """`ip -batch` of these lines; `while_busy()` runs meanwhile."""
    with tempfile.NamedTemporaryFile("w", suffix=".batch") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        proc = subprocess.Popen(["ip", "-batch", f.name])
        if while_busy:
            while_busy()
        assert proc.wait() == 0


def kernel_table(table: int) -> dict[str, str]:
    out = subprocess.run(["ip", "-4", "route", "show", "table", str(table)], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    return {line.split()[0]: line.split()[2] for line in out if " via " in line}


def mirrored(dp) -> dict[str, str]:
    return {r["prefix"]: r["gateway"] for r in dp.kernel_routes()}


def settle(dp, table, timeout=20.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    want = kernel_table(table)
    while time.monotonic() < deadline and mirrored(dp) != want:
        time.sleep(0.05)
    return want


@pytest.fixture
def small_buffer_router():
    dp, kernel, table = open_sync_router(receive_buffer=16 * 1024)
    yield dp, kernel, table
    subprocess.run(["ip", "route", "flush", "table", str(table)], check=False)
    dp.close()


def test_an_overrun_is_detected_and_a_new_dump_puts_the_fib_right(small_buffer_router):
    dp, kernel, table = small_buffer_router
    via = f"dev {kernel} proto bgp table {table}"
    prefixes = [f"11.{i >> 8}.{i & 255}.0/24" for i in range(50_000)]
    # Meanwhile the tables are busy with an operator's bulk add of 400k routes (the
    # writer lock held for a while): the kernel's messages pile up beyond the buffer.
    # The prefixes are canonical already and go straight to the native call, so the
    # lock is taken while `ip -batch` (about a second) is still under way.
    ours = [f"{12 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/24" for i in range(400_000)]
    dp.nexthop_set(1, "a", "02:00:00:00:aa:01")

    def busy():
        time.sleep(0.1)
        dp._dp.route_add_bulk(ours, [1] * len(ours))
    ip_batch([f"route add {p} via 10.255.0.2 {via}" for p in prefixes], while_busy=busy)
    ip_batch([f"route replace {p} via 10.255.0.3 {via}" for p in prefixes[::3]])
    ip_batch([f"route del {p} {via}" for p in prefixes[1::7]])
    want = settle(dp, table)
    assert len(want) == 50_000 - len(prefixes[1::7])
    assert mirrored(dp) == want, str(dp.stats()["route_sync"])
    stats = dp.stats()["route_sync"]
    assert stats["overruns"] >= 1 and stats["resyncs"] >= 1, stats  # 16 KiB cannot hold a burst
    assert stats["error"] is None and stats["routes"] == len(want)


def test_a_forced_resync_forgets_what_the_kernel_no_longer_has():
    dp, kernel, table = open_sync_router(receive_buffer=64 << 20)
    try:
        via = f"dev {kernel} proto bgp table {table}"
        ip_batch([f"route add 11.0.{i}.0/24 via 10.255.0.2 {via}" for i in range(100)])
        assert len(settle(dp, table)) == 100 and len(mirrored(dp)) == 100
        resyncs = dp.stats()["route_sync"]["resyncs"]
        dp.route_sync_resync()
        deadline = time.monotonic() + 5
        while dp.stats()["route_sync"]["resyncs"] == resyncs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mirrored(dp) == kernel_table(table)
        assert dp.route_lookup("11.0.7.1") is not None
    finally:
        subprocess.run(["ip", "route", "flush", "table", str(table)], check=False)
        dp.close()


def test_a_stable_prefix_loses_nothing_while_kernel_routes_churn_at_10k_per_second():
    dp, kernel, table = open_sync_router(receive_buffer=256 << 20)
    try:
        from scapy.layers.inet import IP, UDP
        from scapy.layers.l2 import Ether
        dp.nexthop_set(1, "a", "02:00:00:00:aa:01")
        dp.route_add("192.0.2.0/24", 1)
        for gateway in ("10.255.0.2", "10.255.0.3"):
            dp.neighbor_add("a", gateway, "02:00:00:00:aa:02")
        frame = bytes(Ether(src="02:00:00:00:aa:01", dst=ROUTER_MAC["a"]) /
                      IP(src="10.255.0.9", dst="192.0.2.77") / UDP(sport=1, dport=2) / b"stable")
        stop = threading.Event()
        sent, received = 0, 0

        def traffic():
            nonlocal sent, received
            while not stop.is_set():
                if sent - received < 2048:  # a window smaller than the rings
                    sent += dp.inject("a", [frame] * 64)
                received += sum(1 for raw in dp.drain("a") if raw.endswith(b"stable"))
                # Not a spin: with the worker spinning on the other CPU of a 2-CPU host,
                # a spinning thread here starved the kernel's expedited-RCU worker and
                # `ip route del` hung (seen once in CI).
                time.sleep(0.0001)

        via = f"dev {kernel} proto bgp table {table}"
        prefixes = [f"11.{i >> 8}.{i & 255}.0/24" for i in range(20_000)]
        ip_batch([f"route add {p} via 10.255.0.2 {via}" for p in prefixes])
        settle(dp, table)
        t = threading.Thread(target=traffic)
        t.start()
        try:
            start = time.monotonic()
            for second in range(3):  # 10,000 replacements a second
                gateway = ("10.255.0.3", "10.255.0.2")[second % 2]
                ip_batch([f"route replace {p} via {gateway} {via}"
                          for p in random.sample(prefixes, 10_000)])
                time.sleep(max(0.0, start + second + 1 - time.monotonic()))
            ip_batch([f"route del {p} {via}" for p in prefixes])
            settle(dp, table)
        finally:
            stop.set()
            t.join()
        dp.quiesce()
        received += sum(1 for raw in dp.drain("a") if raw.endswith(b"stable"))
        stats = dp.stats()
        assert sent > 1000 and received == sent, (sent, received, {k: v for k, v in stats["drops"].items() if v}, stats["local_packets"], stats["held_packets"], stats["tx_packets"], stats["rx_packets"])
        assert mirrored(dp) == {} and dp.stats()["route_sync"]["overruns"] == 0
        assert dp.route_lookup("192.0.2.77") == 1
    finally:
        subprocess.run(["ip", "route", "flush", "table", str(table)], check=False)
        dp.close()
