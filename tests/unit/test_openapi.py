"""The OpenAPI document is generated from the server's models; the committed copy is current."""
import inspect
import json
import re
from pathlib import Path

import appliance.api
from appliance.api.app import openapi_document
from appliance.api.client import Client

DOC = Path(appliance.api.__file__).parent / "openapi.json"


def test_the_committed_document_is_the_generated_one():
    assert json.loads(DOC.read_text()) == openapi_document(), \
        "regenerate: python -m appliance.api.app > appliance/api/openapi.json"


def test_every_call_the_client_makes_is_documented():
    calls = set(re.findall(r'request\("(GET|POST|DELETE)", "(/v1/[a-z]+)"', inspect.getsource(Client)))
    documented = {(method.upper(), path) for path, ops in openapi_document()["paths"].items()
                  for method in ops}
    assert len(calls) >= 18 and calls <= documented, calls - documented


def test_grafana_dashboard_queries_only_metrics_the_exporter_has():
    import json
    import re

    from appliance.metrics import PORT_COUNTERS
    dash = json.loads((Path(__file__).resolve().parents[2] / "configs" / "grafana-dashboard.json").read_text())
    exported = {f"appliance_port_{name}_total" for name, _ in PORT_COUNTERS.values()} | {
        "appliance_drops_total", "appliance_worker_busy_cycles_total",
        "appliance_worker_rx_packets_total", "appliance_table_entries", "appliance_neighbors",
        "appliance_held_packets", "appliance_arp_packets_total", "appliance_nd_packets_total",
        "appliance_icmp_sent_total", "appliance_stage_cycles_total",
        "appliance_icmp_rate_limited_total"}
    used = {m for p in dash["panels"] for t in p["targets"]
            for m in re.findall(r"appliance_[a-z_]+", t["expr"])}
    assert used <= exported, used - exported
