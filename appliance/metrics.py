"""Prometheus exporter: the data plane's counters under Prometheus names.

A custom collector reads one stats() snapshot per scrape, so the exporter
adds no work to the data plane between scrapes. Names follow Prometheus
conventions: appliance_port_rx_packets_total{port="wan0"},
appliance_drops_total{reason="no_route"}, ...
"""
from __future__ import annotations

from typing import Callable

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

PORT_COUNTERS = {  # ethdev name -> (metric suffix, help)
    "ipackets": ("rx_packets", "packets received"),
    "opackets": ("tx_packets", "packets transmitted"),
    "ibytes": ("rx_bytes", "bytes received"),
    "obytes": ("tx_bytes", "bytes transmitted"),
    "imissed": ("rx_missed", "packets the NIC dropped for lack of rx descriptors"),
    "ierrors": ("rx_errors", "erroneous received packets"),
    "oerrors": ("tx_errors", "failed transmissions"),
    "rx_nombuf": ("rx_nombuf", "rx mbuf allocation failures"),
}


SLOWPATH_COUNTERS = [  # slow-path stats key, metric name, help
    ("icmp_rate_limited", "appliance_icmp_rate_limited", "ICMP errors not sent: over the rate limit"),
    ("busy_cycles", "appliance_slowpath_busy_cycles", "TSC cycles the slow path spent on punted packets"),
    ("received", "appliance_slowpath_packets", "Packets the workers punted to the slow path"),
    ("local", "appliance_local_packets", "Packets for the router itself that it consumed (ARP, echo)"),
]


class DataplaneCollector:
    def __init__(self, read_stats: Callable[[], dict],
                 read_acls: Callable[[], list[dict]] = lambda: []):
        self.read_stats = read_stats
        self.read_acls = read_acls  # acl_show() of every ACL

    def collect(self):
        yield from self.acl_metrics(self.read_acls())
        s = self.read_stats()
        for key, (name, help) in PORT_COUNTERS.items():
            m = CounterMetricFamily(f"appliance_port_{name}", f"Port {help}", labels=["port"])
            for port, counters in s["ports"].items():
                m.add_metric([port], counters[key])
            yield m
        queues = CounterMetricFamily("appliance_port_rx_queue_packets",
                                     "Port packets received per rx queue (RSS spread)",
                                     labels=["port", "queue"])
        for port, counters in s["ports"].items():
            for key, n in counters.items():
                if key.startswith("rx_q") and key.endswith("_packets"):
                    queues.add_metric([port, key[4:-8]], n)
        yield queues
        for key in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes"):
            m = CounterMetricFamily(
                f"appliance_interface_{key}",
                f"L3 interface {key.replace('_', ' ').replace('rx', 'received').replace('tx', 'sent')} "
                "(a port's: all its frames; a VLAN sub-interface's: its own, tag included)",
                labels=["interface"])
            for name, counters in s.get("interfaces", {}).items():
                m.add_metric([name], counters[key])
            yield m
        drops = CounterMetricFamily("appliance_drops", "Packets dropped, by reason",
                                    labels=["reason"])
        for reason, n in s["drops"].items():
            drops.add_metric([reason], n)
        yield drops
        for key, name, help in (("rx_packets", "rx_packets", "packets taken from rx queues"),
                                ("tx_packets", "tx_packets", "packets handed to tx queues"),
                                ("busy_cycles", "busy_cycles", "TSC cycles spent on non-empty bursts")):
            m = CounterMetricFamily(f"appliance_worker_{name}", f"Worker {help}", labels=["lcore"])
            for w in s["workers"]:
                m.add_metric([str(w["lcore"])], w[key])
            yield m
        # The stage clocks (config `stage_clocks`): cycles per stage; over the worker's
        # rx packets, each stage's cycles a packet (the Grafana panel's query).
        stages = CounterMetricFamily("appliance_stage_cycles", "TSC cycles a worker spent in a "
                                     "pipeline stage (stage_clocks on)", labels=["lcore", "stage"])
        for w in s["workers"]:
            for stage, cycles in w.get("stage_cycles", {}).items():
                if cycles:
                    stages.add_metric([str(w["lcore"]), stage], cycles)
        yield stages
        cpp = GaugeMetricFamily("appliance_worker_cycles_per_packet",
                                "Worker cycles per packet since start", labels=["lcore"])
        for w in s["workers"]:
            cpp.add_metric([str(w["lcore"])], w["cycles_per_packet"])
        yield cpp
        slow = s["slowpath"]
        arp = CounterMetricFamily("appliance_arp_packets", "ARP packets, by kind", labels=["kind"])
        for kind in ("requests_in", "replies_in", "ignored", "requests_out", "replies_out"):
            arp.add_metric([kind], slow[f"arp_{kind}"])
        yield arp
        nd = CounterMetricFamily("appliance_nd_packets", "IPv6 neighbour discovery packets, by kind",
                                 labels=["kind"])
        for kind in ("solicits_in", "adverts_in", "ignored", "solicits_out", "adverts_out"):
            nd.add_metric([kind], slow[f"nd_{kind}"])
        nd.add_metric(["router_solicits_in"], slow["rs_in"])
        nd.add_metric(["router_adverts_out"], slow["ra_out"])
        yield nd
        icmp = CounterMetricFamily("appliance_icmp_sent", "ICMP and ICMPv6 messages sent, by type",
                                   labels=["type"])
        for kind in ("echo_replies", "time_exceeded", "unreachable", "fragmentation_needed",
                     "parameter_problem"):
            icmp.add_metric([kind], slow[f"icmp_{kind}"])
        yield icmp
        for key, name, help in SLOWPATH_COUNTERS:
            yield CounterMetricFamily(name, help, value=slow[key])
        yield GaugeMetricFamily("appliance_held_packets",
                                "Packets waiting for a neighbour to resolve", value=slow["held"])
        states = GaugeMetricFamily("appliance_neighbors", "Neighbour entries, by state",
                                   labels=["state"])
        for state in ("incomplete", "reachable", "stale", "probe", "failed", "permanent"):
            states.add_metric([state], s["neighbors"].get(state, 0))
        yield states
        sync = s.get("route_sync")
        if sync is not None:  # route_sync configured
            changes = CounterMetricFamily("appliance_route_sync_changes",
                                          "Kernel route changes, by what became of them",
                                          labels=["kind"])
            for kind in ("added", "deleted", "ignored", "failed"):
                changes.add_metric([kind], sync[kind])
            yield changes
            yield CounterMetricFamily("appliance_route_sync_overruns",
                                      "Times the kernel dropped route messages (each: a resync)",
                                      value=sync["overruns"])
            yield GaugeMetricFamily("appliance_route_sync_routes",
                                    "Routes mirrored from the kernel table", value=sync["routes"])
        ct = s.get("conntrack")
        if ct is not None:  # a connection table configured
            sessions = GaugeMetricFamily("appliance_conntrack_sessions",
                                         "Tracked connections, by protocol and state",
                                         labels=["proto", "state"])
            for proto, by_state in sorted(ct["by_state"].items()):
                for state, n in sorted(by_state.items()):
                    sessions.add_metric([proto, state], n)
            yield sessions
            yield CounterMetricFamily("appliance_conntrack_created",
                                      "Connections tracking started", value=ct["created"])
            yield CounterMetricFamily("appliance_conntrack_expired",
                                      "Connections timed out or flushed", value=ct["expired"])
            yield GaugeMetricFamily("appliance_conntrack_capacity",
                                    "Sessions the table holds (conntrack.max_sessions)",
                                    value=ct["capacity"])
        nat = s.get("nat")
        if nat is not None:
            yield GaugeMetricFamily("appliance_nat_mappings",
                                    "Inside address:port mappings to a public one", value=nat["mappings"])
            yield CounterMetricFamily("appliance_nat_port_failures",
                                      "New mappings refused: the public address had no port free",
                                      value=nat["port_failures"])
            ports = GaugeMetricFamily("appliance_nat_ports_in_use",
                                      "Ports a public address has given to mappings, by protocol",
                                      labels=["address", "proto"])
            for use in nat["ports"]:
                for proto in ("tcp", "udp", "icmp"):
                    ports.add_metric([use["address"], proto], use[proto])
            yield ports
        yield from self.vrrp_metrics(s.get("vrrp", []))
        sizes = GaugeMetricFamily("appliance_table_entries", "Entries per table", labels=["table"])
        sizes.add_metric(["routes"], s["routes"])  # IPv4 and IPv6
        sizes.add_metric(["rules"], s["rules"])
        # Groups in use against tables.tbl8_groups / tbl8_groups6: what to size them by.
        sizes.add_metric(["tbl8_groups"], s["tbl8_groups_in_use"])
        sizes.add_metric(["tbl8_groups6"], s["tbl8_groups6_in_use"])
        yield sizes


    @staticmethod
    def vrrp_metrics(routers: list[dict]):
        """Per virtual router: its state (1 for the one it is in), priority and counters."""
        labels = ["interface", "vrid", "family"]
        state = GaugeMetricFamily("appliance_vrrp_state", "VRRP state: 1 for the router's "
                                  "current one (init, backup, master)", labels=[*labels, "state"])
        priority = GaugeMetricFamily("appliance_vrrp_priority", "VRRP priority in effect "
                                     "(less what tracked interfaces take)", labels=labels)
        counters = {key: CounterMetricFamily(f"appliance_vrrp_{key}", help, labels=labels)
                    for key, help in (("transitions", "VRRP state changes"),
                                      ("became_master", "Times the router became master"))}
        adverts = CounterMetricFamily("appliance_vrrp_adverts", "VRRP advertisements, by "
                                      "direction (priority 0: a master leaving)",
                                      labels=[*labels, "direction", "priority_zero"])
        for r in routers:
            key = [r["interface"], str(r["vrid"]), r["family"]]
            for s in ("init", "backup", "master"):
                state.add_metric([*key, s], 1 if r["state"] == s else 0)
            priority.add_metric(key, r["priority"])
            for name, family in counters.items():
                family.add_metric(key, r[name])
            for direction in ("in", "out"):
                zero = r[f"priority_zero_{direction}"]
                adverts.add_metric([*key, direction, "false"], r[f"adverts_{direction}"] - zero)
                adverts.add_metric([*key, direction, "true"], zero)
        yield from (state, priority, *counters.values(), adverts)

    @staticmethod
    def acl_metrics(acls: list[dict]):
        """Per entry (its index, or "default") of each ACL: what it decided."""
        families = {key: CounterMetricFamily(f"appliance_acl_entry_{key}",
                                             f"ACL {key} decided by an entry (or the default)",
                                             labels=["acl", "entry", "action"])
                    for key in ("packets", "bytes")}
        for acl in acls:
            rows = [(str(i), e["action"], e) for i, e in enumerate(acl["entries"])]
            rows.append(("default", acl["default"], acl["default_count"]))
            for entry, action, counts in rows:
                for key, family in families.items():
                    family.add_metric([acl["name"], entry, action], counts[key])
        yield from families.values()


def serve_metrics(read_stats: Callable[[], dict], address: str, port: int,
                  read_acls: Callable[[], list[dict]] = lambda: []):
    """Starts the exporter; returns (server, thread) for shutdown."""
    registry = CollectorRegistry()
    registry.register(DataplaneCollector(read_stats, read_acls))
    return start_http_server(port, addr=address, registry=registry)
