"""Real appliance processes on vdevs, driven only through the CLI and Client."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from appliance import Client
from appliance.demo import DEMO_WAN_MAC, write_demo_pcap
from appliance.eal import RUNTIME_DIR, hugetlbfs_mounts
from appliance.host.hugepages import hugepages_usable


def cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True,
                          text=True, timeout=120, check=check)


class Appliance:
    """One `appliance run --config` process with its own prefix, socket and state file."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.prefix = f"e2e-{uuid.uuid4().hex[:8]}"
        self.socket = str(tmp / "api.sock")
        self.config_path = tmp / "appliance.yaml"
        pcap = write_demo_pcap(tmp / "in.pcap")
        self.config = {
            "eal": {"main_lcore": 0, "worker_lcores": [1], "memory_mb": 256,
                    "hugepages": hugepages_usable(256), "file_prefix": self.prefix},
            "ports": [{"name": "wan0", "device": f"net_pcap_{self.prefix},rx_pcap={pcap},infinite_rx=1",
                       "mac": DEMO_WAN_MAC},
                      {"name": "lan0", "device": f"net_null_{self.prefix}a,no-rx=1"},
                      {"name": "lan1", "device": f"net_null_{self.prefix}b,no-rx=1"}],
            "nexthops": [{"id": 1, "port": "lan0", "mac": "02:00:00:00:01:01"},
                         {"id": 2, "port": "lan1", "mac": "02:00:00:00:02:01"}],
            "routes": [{"prefix": "10.1.0.0/16", "nexthop": 1}],
            "tables": {"max_routes": 200_000, "tbl8_groups": 1024, "max_nexthops": 64,
                       "max_rules": 1024},
            "api": {"socket": self.socket},
            "state_file": str(tmp / "state.json"),
        }
        self.proc: subprocess.Popen | None = None

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config))

    def start(self, *extra_args: str) -> "Appliance":
        self.write_config()
        self.log = open(self.tmp / f"run-{time.monotonic_ns()}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance", "run", "--config", str(self.config_path),
             *extra_args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.client() as c:
                    if c.request("GET", "/v1/ready")["ready"]:
                        return self
            except Exception:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"appliance did not come up: {self.output()}")
            time.sleep(0.1)

    def client(self) -> Client:
        return Client(self.socket)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return cli(*args, "--socket", self.socket)

    def leftovers(self) -> list[str]:
        found = [str(f) for m in hugetlbfs_mounts() for f in m.glob(f"{self.prefix}map_*")]
        if (RUNTIME_DIR / self.prefix).exists():
            found.append(str(RUNTIME_DIR / self.prefix))
        if os.path.exists(self.socket):
            found.append(self.socket)
        return found

    def cleanup(self) -> None:
        """After a crash test: what a dead primary leaves, removed."""
        for f in self.leftovers():
            p = Path(f)
            if p.is_dir():
                import shutil
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


@pytest.fixture
def appliance(tmp_path):
    a = Appliance(tmp_path)
    yield a
    if a.proc and a.proc.poll() is None:
        a.signal(signal.SIGTERM)
    a.cleanup()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
