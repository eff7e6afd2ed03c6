"""configs/ha-pair/inventory.yml as Ansible renders it for each host (Jinja2, which comes with
Ansible: here with the deploy tests, not in the sanitized pass): both appliance configs
valid, the priorities the host vars give, the FRR config valid for vtysh."""
import subprocess
from pathlib import Path

import yaml
from jinja2.nativetypes import NativeEnvironment

from appliance.config import parse_config

INVENTORY = Path(__file__).resolve().parents[2] / "configs" / "ha-pair" / "inventory.yml"


def rendered(value, host_vars: dict):
    """Each string templated as Ansible does it (a lone expression keeps its type)."""
    if isinstance(value, dict):
        return {k: rendered(v, host_vars) for k, v in value.items()}
    if isinstance(value, list):
        return [rendered(v, host_vars) for v in value]
    if isinstance(value, str) and "{{" in value:
        return NativeEnvironment().from_string(value).render(**host_vars)
    return value


def test_each_host_gets_a_valid_config_with_its_priority_and_a_valid_frr_config(tmp_path):
    inventory = yaml.safe_load(INVENTORY.read_text())["all"]
    priorities = {}
    for host, host_vars in inventory["hosts"].items():
        variables = {**host_vars, "inventory_hostname": host}
        cfg = parse_config(rendered(inventory["vars"]["appliance_config"], variables), host,
                           check_host=False)  # (a config for another machine)
        routers = {v.vrid: v for p in cfg.ports for v in p.vrrp}
        priorities[host] = {vrid: v.priority for vrid, v in routers.items()}
        conf = tmp_path / f"{host}.conf"
        conf.write_text(rendered(inventory["vars"]["appliance_frr_conf"], variables))
        check = subprocess.run(["vtysh", "-C", "-f", str(conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"bgp router-id {host_vars['ha_wan']}" in conf.read_text()
    assert priorities == {"edge-a.example.net": {1: 200, 2: 200},
                          "edge-b.example.net": {1: 100, 2: 100}}
