"""A client for DPDK's telemetry socket, the one dpdk-telemetry.py reads.

Every DPDK process with telemetry on (ours, l3fwd, testpmd) answers on
/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2, so one reader measures all of
them the same way.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from appliance.eal import RUNTIME_DIR


def socket_path(file_prefix: str) -> Path:
    return RUNTIME_DIR / file_prefix / "dpdk_telemetry.v2"


class Telemetry:
    def __init__(self, file_prefix: str, timeout: float = 30.0):
        path = socket_path(file_prefix)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                self._sock.connect(str(path))
                break
            except OSError:
                self._sock.close()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no DPDK telemetry socket at {path} after {timeout} s")
                time.sleep(0.1)
        self.info = json.loads(self._sock.recv(16384))

    def query(self, command: str) -> dict:
        self._sock.send(command.encode())
        reply = json.loads(self._sock.recv(1 << 20))
        return reply[command.split(",")[0]]

    def port_stats(self, port_id: int) -> dict:
        return self.query(f"/ethdev/stats,{port_id}")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
