"""The roles as operators use them: linted with ansible-lint's production profile, built
and installed as the appliance.router collection, one role run on its own from a playbook
of the operator's."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
BIN = Path(sys.executable).parent


def run(*cmd: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})})


def test_the_playbooks_pass_ansible_lint_s_production_profile():
    r = run(str(BIN / "ansible-lint"), "--nocolor", "-f", "pep8", "deploy.yml", cwd=PLAYBOOKS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Profile 'production' was required, and it passed" in r.stderr, r.stderr


def test_a_role_of_the_installed_collection_runs_on_its_own(tmp_path):
    built = run(str(BIN / "ansible-galaxy"), "collection", "build", str(PLAYBOOKS), "--output-path",
                str(tmp_path), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    archive = next(tmp_path.glob("appliance-router-*.tar.gz"))
    installed = run(str(BIN / "ansible-galaxy"), "collection", "install", str(archive), "-p",
                    str(tmp_path / "collections"), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    config = {"eal": {"main_lcore": 0, "worker_lcores": [1]},
              "ports": [{"name": "lan0", "device": "net_null0"}],
              "nexthops": [{"id": 1, "port": "lan0", "mac": "02:00:00:00:01:01"}],
              "routes": [{"prefix": "10.1.0.0/16", "nexthop": 1}]}

    def play(**role_vars) -> subprocess.CompletedProcess:
        playbook = tmp_path / "site.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "An operator's own play", "hosts": "localhost", "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "roles": [{"role": "appliance.router.appliance_config", "vars": {
                "appliance_bin": str(BIN / "appliance"), "appliance_config_dir": str(tmp_path / "etc"),
                "appliance_config": config, **role_vars}}]}]))
        return run(str(BIN / "ansible-playbook"), str(playbook), cwd=tmp_path,
                   env={"ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections")})

    r = play()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "localhost: the config needs: start" in r.stdout
    assert yaml.safe_load((tmp_path / "etc" / "config.yaml").read_text()) == config
    typo = play(appliance_runtime_changes="kept")
    assert typo.returncode == 2
    assert "value of appliance_runtime_changes must be one of: keep, exact, got: kept" in typo.stdout


def test_the_frr_role_writes_a_checked_config_and_refuses_a_broken_one(tmp_path):
    frr_dir = tmp_path / "frr"
    good = "frr defaults traditional\nrouter bgp 65001\n neighbor 10.0.2.254 remote-as 65000\n" \
           " neighbor 10.0.2.254 bfd\nexit\n"

    def play(conf: str) -> subprocess.CompletedProcess:
        playbook = tmp_path / "frr.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": "FRR beside the appliance", "hosts": "localhost", "connection": "local",
            "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
            "roles": [{"role": "appliance_frr", "vars": {
                "appliance_frr_conf": conf, "appliance_frr_dir": str(frr_dir),
                "appliance_frr_install": False, "appliance_frr_apply": False}}]}]))
        return run(str(BIN / "ansible-playbook"), str(playbook), cwd=tmp_path,
                   env={"ANSIBLE_ROLES_PATH": str(PLAYBOOKS / "roles")})

    r = play(good)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (frr_dir / "frr.conf").read_text() == good
    assert {"bgpd=yes", "bfdd=yes"} <= set((frr_dir / "daemons").read_text().splitlines())
    broken = play(good.replace("neighbor 10.0.2.254 bfd", "neighbour 10.0.2.254 bfd"))
    assert broken.returncode == 2 and "Unknown command" in broken.stdout, broken.stdout
    assert (frr_dir / "frr.conf").read_text() == good  # the old one stays
