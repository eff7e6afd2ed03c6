"""The README's first quick-start command, run as a user would."""
import json
import os
import signal
import subprocess
import sys
import time

from appliance.eal import hugetlbfs_mounts


def appliance(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_demo_forwards_and_counts_drops(tmp_path):
    proc = appliance("run", "--duration", "2", "--interval", "0.5", "--json",
                     env={**os.environ, "TMPDIR": str(tmp_path)})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert list(tmp_path.iterdir()) == [], "the demo's replay file is left behind"
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert lines, out
    last = lines[-1]
    assert last["ports"]["lan0"]["tx_pps"] > 1000
    assert last["ports"]["lan1"]["tx_pps"] > 1000
    assert last["drops_per_s"]["no_route"] > 1000, "10.3/16 has no route"
    assert last["drops_per_s"]["rule_drop"] > 0, "the demo's drop rule"


def test_sigterm_stops_the_demo_cleanly():
    proc = appliance("run", "--interval", "0.2")
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "lan0" in out
    assert not os.path.exists("/var/run/dpdk/appliance-demo"), "runtime files left"
    hugepage_files = [f for m in hugetlbfs_mounts() for f in m.glob("appliance-demomap_*")]
    assert hugepage_files == [], "hugepage files left"


def test_version_and_usage_errors():
    version = subprocess.run([sys.executable, "-m", "appliance", "version"], capture_output=True,
                             text=True)
    assert version.returncode == 0 and version.stdout.strip()
    bad = subprocess.run([sys.executable, "-m", "appliance", "frobnicate"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
