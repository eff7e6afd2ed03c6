"""The OpenAPI document describes exactly the API the server implements."""
from pathlib import Path

import yaml

import appliance.api
from appliance.api.server import Api

DOC = Path(appliance.api.__file__).parent / "openapi.yaml"


def test_every_path_and_method_is_documented_and_implemented():
    doc = yaml.safe_load(DOC.read_text())
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    implemented = set(Api(service=None).handlers)
    assert documented == implemented


def test_grafana_dashboard_queries_only_metrics_the_exporter_has():
    import json
    import re

    from appliance.metrics import PORT_COUNTERS
    dash = json.loads((Path(__file__).resolve().parents[2] / "configs" / "grafana-dashboard.json").read_text())
    exported = {f"appliance_port_{name}_total" for name, _ in PORT_COUNTERS.values()} | {
        "appliance_drops_total", "appliance_worker_busy_cycles_total",
        "appliance_worker_rx_packets_total", "appliance_table_entries", "appliance_neighbors",
        "appliance_held_packets", "appliance_arp_packets_total", "appliance_icmp_sent_total",
        "appliance_icmp_rate_limited_total"}
    used = {m for p in dash["panels"] for t in p["targets"]
            for m in re.findall(r"appliance_[a-z_]+", t["expr"])}
    assert used <= exported, used - exported
