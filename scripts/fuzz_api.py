#!/usr/bin/env python3
"""A long fuzzing run of the control API (the test suite runs a short one).

    python scripts/fuzz_api.py [--examples 500] [--seed N]

Starts an appliance on vdevs with the TCP API, sends `examples` valid and as many invalid
requests per operation generated from the OpenAPI document, and fails on the first 5xx
or non-JSON answer; prints the status counts. The appliance must still forward after.
"""
import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.api_fuzz import fuzz  # noqa: E402
from tests.e2e.conftest import Appliance, free_port  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=500)
    p.add_argument("--seed", type=int)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        a = Appliance(Path(tmp))
        (Path(tmp) / "token").write_text("fuzz\n")
        (Path(tmp) / "token").chmod(0o600)
        port = free_port()
        a.config["api"].update(tcp_listen=f"127.0.0.1:{port}", token_file=str(Path(tmp) / "token"))
        a.start()
        try:
            t0 = time.monotonic()
            statuses = fuzz(f"http://127.0.0.1:{port}", "fuzz", args.examples, args.seed)
            print(f"{sum(statuses.values())} requests in {time.monotonic() - t0:.0f} s, "
                  f"statuses {dict(sorted(statuses.items()))}")
            with a.client() as c:
                before = c.stats()["tx_packets"]
                time.sleep(0.5)
                assert c.stats()["tx_packets"] > before, "stopped forwarding"
            assert "Traceback" not in a.output(), a.output()[-3000:]
        finally:
            a.signal(signal.SIGTERM)
            a.cleanup()
    print("ok: no 5xx, every answer JSON, still forwarding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
