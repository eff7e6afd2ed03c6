"""`appliance deploy`: playbooks/deploy.yml through ansible-runner.

Prints progress task by task and a per-host summary (ok/changed/failed);
returns non-zero with the failed task's message when anything fails.
"""
from __future__ import annotations

import difflib
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from appliance.errors import ConfigError, DeployError

PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"


def parse_extra_vars(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"-e {pair}: expected KEY=VALUE")
        out[key] = yaml.safe_load(value)  # numbers, booleans and lists as Ansible would
    return out


def file_diff(diffs: Any) -> list[str]:
    """Ansible's --diff data of a task (before/after texts) as a unified diff."""
    out: list[str] = []
    for d in diffs if isinstance(diffs, list) else [diffs] if diffs else []:
        before, after = d.get("before"), d.get("after")
        if isinstance(before, str) and isinstance(after, str) and before != after:
            out += [line.rstrip("\n") for line in difflib.unified_diff(
                before.splitlines(True), after.splitlines(True),
                d.get("before_header", "before"), d.get("after_header", "after"))]
    return out


def deploy(inventory: str, check: bool = False, limit: str | None = None,
           extra_vars: list[str] | None = None, playbooks: Path = PLAYBOOKS,
           verbosity: int = 0, diff: bool = False, tags: str | None = None) -> int:
    try:
        import ansible_runner
    except ImportError:
        raise DeployError("Ansible is not installed with this appliance: "
                          "pip install 'appliance[deploy]'") from None

    if not Path(inventory).exists():
        raise ConfigError(f"{inventory}: no such inventory file")
    if not (playbooks / "deploy.yml").exists():
        raise ConfigError(f"{playbooks}/deploy.yml missing: deploy runs from a source checkout")
    failures: list[str] = []

    def on_event(event: dict) -> bool:
        data = event.get("event_data", {})
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            print(f"TASK {data.get('task')}", flush=True)
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable",
                      "runner_on_skipped"):
            res = data.get("res", {})
            status = {"runner_on_ok": "changed" if res.get("changed") else "ok",
                      "runner_on_failed": "FAILED", "runner_on_unreachable": "UNREACHABLE",
                      "runner_on_skipped": "skipped"}[kind]
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                status = "failed (ignored)"
            print(f"  {data.get('host')}: {status}", flush=True)
            if data.get("task_action", "").endswith("debug") and res.get("msg"):
                print(f"  {res['msg']}", flush=True)  # what the play reports: reload, overrides
            for line in file_diff(res.get("diff")):
                print(f"    {line}", flush=True)
            if status in ("FAILED", "UNREACHABLE"):
                items = [r for r in res.get("results", []) if isinstance(r, dict) and r.get("failed")]
                message = "; ".join(filter(None, [r.get("msg") for r in items] or [res.get("msg")]))
                message = "; ".join(filter(None, (message, res.get("stderr"))))
                message = message or res.get("stdout") or str(res)
                failures.append(f"{data.get('host')}: {data.get('task')}: {message}".strip())
        return True

    # ansible-runner calls ansible-playbook from PATH: ours sits beside this Python.
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "ANSIBLE_NOCOLOR": "1"}
    private = tempfile.mkdtemp(prefix="appliance-deploy-")
    try:
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=str(playbooks), playbook="deploy.yml",
            inventory=str(Path(inventory).resolve()), limit=limit,
            extravars=parse_extra_vars(extra_vars or []),
            cmdline=" ".join([flag for flag, on in (("--check", check), ("--diff", diff)) if on]
                             + (["--tags", shlex.quote(tags)] if tags else [])) or None,
            envvars=env, event_handler=on_event, quiet=True, verbosity=verbosity)
        stats = runner.stats or {}
        output = runner.stdout.read() if runner.stdout else ""
    finally:
        shutil.rmtree(private, ignore_errors=True)
    hosts = sorted({h for kind in ("ok", "changed", "failures", "dark", "skipped")
                    for h in (stats.get(kind) or {})})
    print("\nSUMMARY" + (" (check mode: nothing changed)" if check else ""))
    for h in hosts:
        print(f"  {h}: ok={stats.get('ok', {}).get(h, 0)} changed={stats.get('changed', {}).get(h, 0)} "
              f"failed={stats.get('failures', {}).get(h, 0) + stats.get('dark', {}).get(h, 0)}")
    if runner.rc != 0 or failures:
        for f in failures:
            print(f"FAILED {f}", file=sys.stderr)
        if not failures:  # Ansible's own reason (no such host, a syntax error): its last words
            reason = [line for line in output.splitlines() if line.strip()][-4:]
            print("\n".join(reason) or f"ansible-playbook exited {runner.rc} ({runner.status})",
                  file=sys.stderr)
        return 1
    return 0
