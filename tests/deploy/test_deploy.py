"""`appliance deploy` for real: ansible-playbook (through ansible-runner) against localhost.

The appliance ends up running under the supervisor (this host has no
systemd), answering on its API and forwarding; a second run changes
nothing; --check changes nothing; a broken config fails before the running
appliance is touched; the supervisor restarts an appliance that dies.
"""
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
from appliance.host.hugepages import hugepages_usable, read_state
from tests.e2e.conftest import wait_until

APPLIANCE = [sys.executable, "-m", "appliance"]


def deploy(inventory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*APPLIANCE, "deploy", "-i", str(inventory), *args], capture_output=True,
                          text=True, timeout=600)


def summary(r: subprocess.CompletedProcess) -> str:
    return r.stdout[r.stdout.rindex("SUMMARY"):]


@pytest.fixture
def site(tmp_path):
    prefix = f"dep-{uuid.uuid4().hex[:6]}"
    pages = next(p.total for p in read_state() if p.node is None and p.size_kb == 2048)
    config = {
        "eal": {"main_lcore": 0, "worker_lcores": [1], "memory_mb": 256, "file_prefix": prefix,
                "hugepages": hugepages_usable(256)},
        "ports": [{"name": "wan0", "device": f"net_pcap_{prefix},rx_pcap={write_demo_pcap(tmp_path / 'in.pcap')},infinite_rx=1",
                   "mac": DEMO_WAN_MAC},
                  {"name": "lan0", "device": f"net_null_{prefix}0,no-rx=1"},
                  {"name": "lan1", "device": f"net_null_{prefix}1,no-rx=1"}],
        "nexthops": [{"id": 1, "port": "lan0", "mac": "02:00:00:00:01:01"}],
        "routes": [{"prefix": "10.1.0.0/16", "nexthop": 1}],
        "tables": {"max_routes": 1024, "tbl8_groups": 64, "max_nexthops": 16, "max_rules": 64},
        "api": {"socket": str(tmp_path / "api.sock")},
    }
    host = {
        "ansible_connection": "local", "ansible_become": False,
        "ansible_python_interpreter": sys.executable,
        # The package under test is already installed here; real targets pip-install it.
        "appliance_install": False,
        "appliance_bin": str(Path(sys.executable).parent / "appliance"),
        "appliance_config_dir": str(tmp_path / "etc"),
        "appliance_pidfile": str(tmp_path / "supervisor.pid"),
        "appliance_log": str(tmp_path / "appliance.log"),
        "appliance_hugepages": pages,  # what this host has: reserve nothing new
        "appliance_hugepages_persist": False,
        "appliance_service_mode": "supervisor",
        "appliance_config": config,
    }

    class Site:
        path = tmp_path
        socket = config["api"]["socket"]
        pidfile = tmp_path / "supervisor.pid"

        def inventory(self, **changes) -> Path:
            h = yaml.safe_load(yaml.safe_dump(host))
            h["appliance_config"].update(changes)
            inv = tmp_path / f"inventory-{uuid.uuid4().hex[:6]}.yml"
            inv.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": h}}}))
            return inv

        def routes(self) -> list[str]:
            with Client(self.socket) as c:
                return [str(p) for p, _ in c.routes()]

    yield Site()
    subprocess.run([*APPLIANCE, "service", "stop", "--pidfile", str(tmp_path / "supervisor.pid")],
                   capture_output=True, timeout=120)


def test_deploy_runs_the_appliance_and_a_second_run_changes_nothing(site):
    first = deploy(site.inventory())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "TASK Config, validated on the target" in first.stdout
    assert "failed=0" in summary(first)
    with Client(site.socket) as c:
        assert c.health() == {"status": "ok"}
        assert wait_until(lambda: c.stats()["ports"]["lan0"]["opackets"] > 10_000), "forwarding"
    assert site.routes() == ["10.1.0.0/16"]

    second = deploy(site.inventory())
    assert second.returncode == 0, second.stdout
    assert "changed=0" in summary(second), second.stdout


def test_check_mode_changes_nothing(site):
    assert deploy(site.inventory()).returncode == 0
    config_file = site.path / "etc" / "config.yaml"
    before = config_file.read_text()
    pid = site.pidfile.read_text()
    more = [{"prefix": "10.1.0.0/16", "nexthop": 1}, {"prefix": "10.2.0.0/16", "nexthop": 1}]
    r = deploy(site.inventory(routes=more), "--check")
    assert r.returncode == 0, r.stdout
    assert "check mode: nothing changed" in r.stdout
    assert config_file.read_text() == before
    assert site.pidfile.read_text() == pid, "not restarted"
    assert site.routes() == ["10.1.0.0/16"]


def test_broken_config_fails_before_the_running_appliance_is_touched(site):
    assert deploy(site.inventory()).returncode == 0
    pid = site.pidfile.read_text()
    r = deploy(site.inventory(routes=[{"prefix": "10.1.0.0/16", "nexthop": 9}]))
    assert r.returncode == 1
    assert "FAILED localhost: Config, validated on the target before it replaces the old one" in r.stderr
    assert "routes[0].nexthop: next hop 9 is not defined" in r.stderr
    assert site.pidfile.read_text() == pid
    assert site.routes() == ["10.1.0.0/16"]
    assert "next hop 9" not in (site.path / "etc" / "config.yaml").read_text()


def test_supervisor_restarts_an_appliance_that_dies(site):
    assert deploy(site.inventory()).returncode == 0
    supervisor = int(site.pidfile.read_text())
    child = int(subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True,
                               text=True).stdout.split()[0])
    os.kill(child, signal.SIGKILL)
    time.sleep(0.5)
    health = subprocess.run([*APPLIANCE, "health", "--socket", site.socket, "--wait", "60"],
                            capture_output=True, text=True)
    assert health.returncode == 0, (site.path / "appliance.log").read_text()
    new_child = subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True, text=True).stdout.split()
    assert new_child and int(new_child[0]) != child
