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
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from appliance import Client
from appliance.demo import DEMO_WAN_MAC, write_demo_pcap
from appliance.host.hugepages import hugepages_usable, read_state
from tests.deploy import wheels
from tests.deploy.ssh_target import SshTarget
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
        # Boot files of this host stay untouched: the roles write these instead.
        "appliance_hugepages_sysctl_file": str(tmp_path / "sysctl-hugepages.conf"),
        "appliance_vfio_modules_file": str(tmp_path / "vfio.conf"),
        "appliance_service_mode": "supervisor",
        "appliance_config": config,
    }

    class Site:
        path = tmp_path
        socket = config["api"]["socket"]
        pidfile = tmp_path / "supervisor.pid"

        def inventory(self, host_vars: dict | None = None, **changes) -> Path:
            h = yaml.safe_load(yaml.safe_dump(host))
            h["appliance_config"].update(changes)
            h.update(host_vars or {})
            inv = tmp_path / f"inventory-{uuid.uuid4().hex[:6]}.yml"
            inv.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": h}}}))
            return inv

        host_vars = host

        def supervisor(self) -> int:
            return int(self.pidfile.read_text().split()[0])

        def appliance_pid(self) -> int:
            return int(subprocess.run(["pgrep", "-P", str(self.supervisor())], capture_output=True,
                                      text=True).stdout.split()[0])

        def routes(self) -> list[str]:
            with Client(self.socket) as c:
                return [str(p) for p, _ in c.routes()]

    yield Site()
    subprocess.run([*APPLIANCE, "service", "stop", "--pidfile", str(tmp_path / "supervisor.pid")],
                   capture_output=True, timeout=120)


def test_the_supervisor_restarts_its_appliance_and_takes_it_along_when_killed(site):
    assert deploy(site.inventory()).returncode == 0
    supervisor = site.supervisor()
    child = int(subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True,
                               text=True).stdout.split()[0])
    os.kill(child, signal.SIGKILL)
    time.sleep(0.5)
    health = subprocess.run([*APPLIANCE, "health", "--socket", site.socket, "--wait", "60"],
                            capture_output=True, text=True)
    assert health.returncode == 0, (site.path / "appliance.log").read_text()
    new_child = subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True, text=True).stdout.split()
    assert new_child and int(new_child[0]) != child
    # Killed itself (kill -9): its appliance goes with it, nothing claims to run, and a
    # redeploy starts afresh.
    appliance = site.appliance_pid()
    os.kill(supervisor, signal.SIGKILL)
    assert wait_until(lambda: not os.path.exists(f"/proc/{appliance}"), timeout=30), \
        "the appliance outlived its supervisor"
    status = service(site, "status")
    assert status.returncode == 3 and status.stdout.strip() == "not running"
    assert service(site, "stop").stdout.strip() == "not running"
    r = deploy(site.inventory())
    assert r.returncode == 0, r.stdout + r.stderr
    assert site.supervisor() != supervisor
    status = service(site, "status")
    assert status.returncode == 0 and f"supervisor pid {site.supervisor()}, appliance pid " \
        f"{site.appliance_pid()}" in status.stdout


MORE_ROUTES = [{"prefix": "10.1.0.0/16", "nexthop": 1}, {"prefix": "10.2.0.0/16", "nexthop": 1}]


def service(site, verb: str) -> subprocess.CompletedProcess:
    return subprocess.run([*APPLIANCE, "service", verb, "--pidfile", str(site.pidfile)],
                          capture_output=True, text=True, timeout=120)


def test_a_route_only_change_is_reloaded_in_place_without_losing_a_packet(site):
    assert deploy(site.inventory()).returncode == 0
    supervisor, appliance = site.supervisor(), site.appliance_pid()
    with Client(site.socket) as c:
        before = c.stats()
    samples, done = [], threading.Event()

    def sample():  # lan0's output every 0.1 s while the deploy runs: a gap would show
        with Client(site.socket) as c:
            while not done.is_set():
                samples.append(c.stats()["ports"]["lan0"]["opackets"])
                time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        r = deploy(site.inventory(routes=MORE_ROUTES))
    finally:
        done.set()
        sampler.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(samples) > 20 and all(b > a for a, b in zip(samples, samples[1:])), \
        "lan0 stopped forwarding during the deploy"
    assert "TASK Reload: tables only, no forwarding gap; runtime changes: keep" in r.stdout
    assert "TASK Restart the supervisor\n  localhost: skipped" in r.stdout, r.stdout
    assert "localhost: the config needs: reload" in r.stdout
    assert site.routes() == ["10.1.0.0/16", "10.2.0.0/16"]
    assert (site.supervisor(), site.appliance_pid()) == (supervisor, appliance), "not restarted"
    with Client(site.socket) as c:
        after = c.stats()
    # Counters kept (not reset by a restart); every packet received is forwarded or counted
    # under a reason (read while forwarding at tens of Mpps: the reads are not one instant).
    assert after["rx_packets"] > before["rx_packets"] > 0
    accounted = after["tx_packets"] + sum(after["drops"].values()) + after["local_packets"] + \
        after["held_packets"]
    assert abs(after["rx_packets"] - accounted) < 1e-5 * after["rx_packets"]
    again = deploy(site.inventory(routes=MORE_ROUTES))
    assert "changed=0" in summary(again), again.stdout
    # Roles by tag: the config alone changes the file, not the running appliance; the
    # service alone then finds the file ahead of what the appliance runs, and reloads.
    config_only = deploy(site.inventory(), "--tags", "config")
    assert config_only.returncode == 0 and "TASK Health gate" not in config_only.stdout
    assert site.routes() == ["10.1.0.0/16", "10.2.0.0/16"]
    service_only = deploy(site.inventory(), "--tags", "service")
    assert service_only.returncode == 0, service_only.stdout + service_only.stderr
    assert "localhost: reload" in service_only.stdout and site.routes() == ["10.1.0.0/16"]


def test_check_mode_and_broken_configs_leave_the_running_appliance_untouched(site):
    assert deploy(site.inventory()).returncode == 0
    config_file = site.path / "etc" / "config.yaml"
    before, pid = config_file.read_text(), site.pidfile.read_text()
    # --check changes nothing and says what a real run would do; --diff shows how.
    diffed = deploy(site.inventory(routes=MORE_ROUTES), "--check", "--diff")
    assert diffed.returncode == 0 and "check mode: nothing changed" in diffed.stdout, diffed.stdout
    assert "localhost: the config needs: reload" in diffed.stdout
    assert "+ route 10.2.0.0/16: 1" in diffed.stdout, diffed.stdout  # the running tables'
    assert "localhost config file:\n--- " in diffed.stdout, diffed.stdout
    assert any(line.startswith("+") and "10.2.0.0/16" in line and not line.startswith("+ route")
               for line in diffed.stdout.splitlines()), diffed.stdout  # the file's unified diff
    eal = dict(yaml.safe_load(before)["eal"], memory_mb=320)
    restart = deploy(site.inventory(eal=eal), "--check")
    assert "localhost: the config needs: restart: eal" in restart.stdout, restart.stdout
    # A broken config fails --check too (validated on the target), and a real run.
    broken = site.inventory(routes=[{"prefix": "10.1.0.0/16", "nexthop": 9}])
    checked = deploy(broken, "--check")
    assert checked.returncode == 1 and "routes[0].nexthop: next hop 9 is not defined" in checked.stderr
    r = deploy(broken)
    assert r.returncode == 1
    assert "FAILED localhost: Config, validated on the target before it replaces the old one" in r.stderr
    assert "routes[0].nexthop: next hop 9 is not defined" in r.stderr
    assert config_file.read_text() == before and site.pidfile.read_text() == pid, "not restarted"
    assert site.routes() == ["10.1.0.0/16"]


def test_a_run_that_fails_after_the_config_changed_is_repaired_by_the_next(site):
    assert deploy(site.inventory()).returncode == 0
    inventory = site.inventory(routes=MORE_ROUTES)
    failing = yaml.safe_load(inventory.read_text())
    failing["all"]["hosts"]["localhost"]["appliance_nics"] = ["0000:99:1f.7"]  # no such NIC
    bad = site.path / "failing.yml"
    bad.write_text(yaml.safe_dump(failing))
    r = deploy(bad)
    # (vfio or the NIC binding fails, whichever this host reaches first: after the config)
    assert r.returncode == 1 and "FAILED localhost" in r.stderr, r.stdout + r.stderr
    assert "10.2.0.0/16" in (site.path / "etc" / "config.yaml").read_text(), "the file changed"
    assert site.routes() == ["10.1.0.0/16"], "the appliance did not"
    fixed = deploy(inventory)
    assert fixed.returncode == 0 and "TASK Reload" in fixed.stdout, fixed.stdout
    assert site.routes() == ["10.1.0.0/16", "10.2.0.0/16"]


def test_a_pid_file_naming_another_process_is_not_believed(site):
    site.pidfile.write_text(f"{os.getpid()}\n")  # this test process: alive, not a supervisor
    assert service(site, "status").returncode == 3
    assert service(site, "stop").stdout.strip() == "not running"
    assert os.path.exists(f"/proc/{os.getpid()}")


def test_runtime_overrides_are_reported_and_kept_or_replaced_by_policy(site):
    assert deploy(site.inventory()).returncode == 0
    with Client(site.socket) as c:
        c.route_delete("10.1.0.0/16")
        c.route_add("10.7.0.0/16", 1)
    kept = deploy(site.inventory(routes=MORE_ROUTES))
    assert kept.returncode == 0, kept.stdout
    assert "localhost: 2 runtime overrides: routes +1 -1" in kept.stdout, kept.stdout
    assert site.routes() == ["10.2.0.0/16", "10.7.0.0/16"], "keep: the API's changes stay on top"
    exact = yaml.safe_load(site.inventory().read_text())
    exact["all"]["hosts"]["localhost"]["appliance_runtime_changes"] = "exact"
    exact["all"]["hosts"]["localhost"]["appliance_config"]["routes"] = MORE_ROUTES[1:]
    inv = site.path / "exact.yml"
    inv.write_text(yaml.safe_dump(exact))
    r = deploy(inv)
    assert r.returncode == 0, r.stdout
    assert "TASK Reload: tables only, no forwarding gap; runtime changes: exact" in r.stdout
    assert site.routes() == ["10.2.0.0/16"] and "localhost: 0 runtime overrides" in r.stdout
    typo = deploy(site.inventory(), "-e", "appliance_runtime_changes=kept")
    assert typo.returncode == 1 and "value of appliance_runtime_changes must be one of: keep, exact, got: kept" in typo.stderr, typo.stderr


def test_a_rolling_deploy_stops_at_the_first_batch_that_fails_its_health_gate(site):
    """Two hosts, one per batch (the default): the first never turns healthy (its health
    gate asks a socket nobody serves), so the second is never touched."""
    first = dict(yaml.safe_load(yaml.safe_dump(site.host_vars)),
                 appliance_socket=str(site.path / "nobody.sock"), appliance_health_wait=3)
    second = yaml.safe_load(yaml.safe_dump(site.host_vars))
    second.update(appliance_config_dir=str(site.path / "etc2"),
                  appliance_pidfile=str(site.path / "second.pid"))
    inv = site.path / "fleet.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {"first": first, "second": second}}}))
    try:
        r = deploy(inv)
    finally:
        service(type("S", (), {"pidfile": site.path / "second.pid"}), "stop")
    assert r.returncode == 1, r.stdout
    assert "FAILED first: Health gate" in r.stderr, r.stderr
    assert "  second:" not in r.stdout, "the second batch ran"
    assert not (site.path / "etc2").exists() and not (site.path / "second.pid").exists()


def test_ansible_s_own_reason_is_shown(site):
    r = deploy(site.inventory(), "--limit", "nosuch")
    assert r.returncode == 1
    assert "nosuch" in r.stderr and "exited" not in r.stderr, r.stderr


@pytest.fixture
def ssh_target(tmp_path):
    target = SshTarget(tmp_path)
    yield target
    target.close()


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    return wheels.build()  # once per source: cached in ~/.cache/appliance/wheelhouses


def test_over_ssh_a_wheelhouse_is_installed_upgraded_and_rolled_back(site, ssh_target, wheelhouse):
    """As an operator reaches a router: SSH to a user with sudo, become root. The appliance
    arrives as a wheelhouse built on the controller and is installed offline into its own
    virtualenv; a new build restarts it into the new version, the old one rolls it back."""
    prefix = site.path / "opt" / "appliance"
    router = dict(ssh_target.host_vars(), appliance_install=True, appliance_prefix=str(prefix),
                  appliance_bin=str(prefix / "bin" / "appliance"))
    first = deploy(site.inventory(host_vars=router))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "localhost: appliance not installed -> 0.1.0" in first.stdout, first.stdout
    with Client(site.socket) as c:
        assert c.health() == {"status": "ok", "version": "0.1.0"}
        assert wait_until(lambda: c.stats()["ports"]["lan0"]["opackets"] > 10_000), "forwarding"
    assert site.routes() == ["10.1.0.0/16"]
    installed = subprocess.run([prefix / "bin" / "python", "-c", "import appliance._native as n; print(n.__file__)"],
                               cwd=site.path, capture_output=True, text=True)
    assert installed.stdout.startswith(str(prefix)), installed.stdout + installed.stderr

    second = deploy(site.inventory(host_vars=router))
    assert second.returncode == 0 and "changed=0" in summary(second), second.stdout
    assert "localhost: appliance 0.1.0 installed, unchanged" in second.stdout

    supervisor = site.supervisor()
    newer = wheels.with_version(wheelhouse, "0.1.1", site.path)
    checked = deploy(site.inventory(host_vars=dict(router, appliance_wheelhouse=str(newer))), "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "localhost: appliance 0.1.0 -> (check mode: a new build would be installed)" in checked.stdout
    assert "localhost: restart: a new build" in checked.stdout, checked.stdout
    with Client(site.socket) as c:
        assert c.health()["version"] == "0.1.0", "--check changed nothing"
    upgrade = deploy(site.inventory(host_vars=dict(router, appliance_wheelhouse=str(newer))))
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "localhost: appliance 0.1.0 -> 0.1.1" in upgrade.stdout
    assert "localhost: restart: a new build" in upgrade.stdout, upgrade.stdout
    with Client(site.socket) as c:
        assert c.health()["version"] == "0.1.1", "the running appliance loaded the upgrade"
    assert site.supervisor() != supervisor

    rollback = deploy(site.inventory(host_vars=dict(router, appliance_wheelhouse=str(wheelhouse)),
                                     routes=MORE_ROUTES))
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert "localhost: appliance 0.1.1 -> 0.1.0" in rollback.stdout
    with Client(site.socket) as c:
        assert c.health()["version"] == "0.1.0"
    assert site.routes() == ["10.1.0.0/16", "10.2.0.0/16"], "the config the restart read"


def test_boot_files_and_host_tuning(site):
    """Boot: the hugepage sysctl file never shrinks the host's pool, features turned off
    take their files along. Tuning (opt-in): the kernel command line for the worker CPUs
    at the next boot (a grub drop-in; this host has no grub and is not rebooted),
    irqbalance kept off them, `appliance doctor` passing at the end, its warnings shown.
    Every file goes to the test's directory: this host's /etc stays as it is."""
    pages = site.host_vars["appliance_hugepages"]
    sysctl, vfio = site.path / "sysctl-hugepages.conf", site.path / "vfio.conf"
    grub, irqbalance = site.path / "grub.d" / "appliance.cfg", site.path / "irqbalance"
    vfio.write_text("vfio-pci\n")  # left by an earlier deploy that bound NICs
    (site.path / "etc").mkdir()
    (site.path / "etc" / "nics.conf").write_text("0000:01:00.0\n")
    host = {"appliance_hugepages_sysctl_file": str(sysctl), "appliance_vfio_modules_file": str(vfio),
            "appliance_hugepages_persist": True, "appliance_hugepages": max(1, pages // 2),
            "appliance_tuning": True, "appliance_tuning_grub_file": str(grub),
            "appliance_tuning_irqbalance_file": str(irqbalance)}
    r = deploy(site.inventory(host_vars=host))
    assert r.returncode == 0, r.stdout + r.stderr
    assert sysctl.read_text() == f"vm.nr_hugepages = {pages}\n", "the host's pool, not less"
    assert not vfio.exists() and not (site.path / "etc" / "nics.conf").exists(), "no NICs: gone"
    words = "isolcpus=managed_irq,domain,1 nohz_full=1 rcu_nocbs=1 intel_iommu=on iommu=pt"
    assert f'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX {words}"' in grub.read_text()
    assert irqbalance.read_text() == "IRQBALANCE_BANNED_CPULIST=1\n"
    running = Path("/proc/cmdline").read_text().split()
    pending = [w for w in words.split() if w not in running]
    assert f"localhost: reboot needed for: {' '.join(pending)}" in r.stdout, r.stdout
    assert "localhost doctor:\n" in r.stdout and "cpu_isolation" in r.stdout
    again = deploy(site.inventory(host_vars=host))
    assert again.returncode == 0 and "changed=0" in summary(again), again.stdout
    r = deploy(site.inventory(host_vars=dict(host, appliance_hugepages_persist=False)))
    assert r.returncode == 0 and not sysctl.exists(), r.stdout
    typo = deploy(site.inventory(host_vars=dict(host, appliance_tuning_governor="turbo")))
    assert typo.returncode == 1 and "appliance_tuning_governor must be one of" in typo.stderr
    assert irqbalance.read_text() == "IRQBALANCE_BANNED_CPULIST=1\n"
