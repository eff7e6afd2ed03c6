"""Concurrent changes of every kind leave one truth: data plane = mirror = state file.

Bulk adds, single adds and deletes, apply and SIGHUP reloads race each other; after each
round the routes the data plane holds are exactly the config with the state file replayed
over it, and a reload of the unchanged file finds nothing to do (the service's mirror,
which every diff starts from, is the data plane too).
"""
import ast
import signal
import threading

from appliance.config import load_config
from appliance.errors import RouteError
from appliance.state import StateFile
from appliance.tables import Tables
from tests.e2e.conftest import wait_until


def applied_summaries(output: str) -> list[dict]:
    return [ast.literal_eval(line.split("applied: ", 1)[1]) for line in output.splitlines()
            if "appliance.service: applied: " in line]


def delete(c, prefix: str) -> None:
    try:
        c.route_delete(prefix)
    except RouteError as e:  # an apply (it replaces runtime changes) took it first
        assert "no such route" in str(e)


def test_racing_bulk_single_apply_and_reload_keep_one_truth(appliance):
    appliance.start()
    state = StateFile(appliance.config["state_file"])
    with appliance.client() as control:
        for round in range(8):
            def bulk() -> None:
                with appliance.client() as c:
                    c.route_add_bulk([(f"20.{round}.{i >> 8}.{i & 255}/32", 1) for i in range(3000)])

            def singles() -> None:
                with appliance.client() as c:
                    for i in range(60):
                        c.route_add(f"21.{round}.{i}.0/24", 2)
                        if round:  # take back some of the last round's bulk
                            delete(c, f"20.{round - 1}.0.{i}/32")
                        if i % 3 == 0:
                            delete(c, f"21.{round}.{i}.0/24")

            def whole() -> None:
                if round % 2:
                    with appliance.client() as c:
                        c.apply(dict(appliance.config))
                else:
                    appliance.proc.send_signal(signal.SIGHUP)

            seen = len(applied_summaries(appliance.output()))
            errors = []

            def caught(f):
                def run() -> None:
                    try:
                        f()
                    except Exception as e:  # noqa: BLE001 - asserted below
                        errors.append(repr(e))
                return run

            threads = [threading.Thread(target=caught(f)) for f in (bulk, singles, whole)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert errors == []
            assert wait_until(lambda: len(applied_summaries(appliance.output())) > seen)

            expected = state.load().over(Tables.from_config(load_config(appliance.config_path)))
            held = {str(p): nh for p, nh in control.routes()}
            assert held == expected.routes, f"round {round}: data plane != state file"
            seen = len(applied_summaries(appliance.output()))
            appliance.proc.send_signal(signal.SIGHUP)
            assert wait_until(lambda: len(applied_summaries(appliance.output())) > seen)
            last = applied_summaries(appliance.output())[-1]
            assert last["routes"] == {"added": 0, "removed": 0}, f"round {round}: mirror drifted"
    assert appliance.proc.poll() is None and "Traceback" not in appliance.output()
