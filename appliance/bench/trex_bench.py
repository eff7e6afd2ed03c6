"""`appliance bench trex`: RFC 2544 throughput and latency of the running appliance with TRex.

Per frame size: streams from the appliance's routes (trex_streams), an NDR/PDR search
(rfc2544) whose every trial is checked twice, by TRex's counters and by the appliance's own
(what it received = forwarded + dropped by reason + answered locally, and it received all
TRex sent), then latency with TRex's timestamped streams at fractions of the NDR.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from appliance.bench import trex_streams as ts
from appliance.bench.report import rate_figures
from appliance.bench.rfc2544 import Trial, search
from appliance.bench.frames import average_size, line_rate_pps
from appliance.bench.trex_client import first_line
from appliance.errors import BenchError

LATENCY_PG_BASE = 100  # pg_id = base + TRex port


@dataclass
class Settings:
    sizes: list[int | str]
    duration_s: float = 10.0
    loss_ratio: float = 0.005
    resolution: float = 0.01      # of the search's top rate
    max_rate_pps: float | None = None  # default: the port's line rate per size
    min_rate_pps: float = 1000.0
    max_trials: int = 20
    latency: bool = False
    latency_loads: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    latency_duration_s: float | None = None  # default: duration_s


def counters(stats: dict) -> dict[str, Any]:
    """What the appliance counted: received, sent, dropped by reason, kept, NIC misses."""
    missed = sum(p.get("imissed", 0) + p.get("rx_nombuf", 0) for p in stats["ports"].values())
    return {"rx": stats["rx_packets"], "tx": stats["tx_packets"], "drops": dict(stats["drops"]),
            "local": stats.get("local_packets", 0), "held": stats.get("held_packets", 0),
            "missed": missed}


def counter_delta(before: dict, after: dict) -> dict[str, Any]:
    drops = {k: after["drops"].get(k, 0) - before["drops"].get(k, 0) for k in after["drops"]}
    out = {k: after[k] - before[k] for k in ("rx", "tx", "local", "held", "missed")}
    out["drops"] = {k: v for k, v in drops.items() if v}
    return out


def percentile_from_histogram(histogram: dict[str, int], q: float,
                              ceiling: float | None = None) -> float | None:
    """TRex's latency histogram: bucket lower edges in µs (0, 10, 20, ... 90, 100, 200, ...).
    The percentile is given as its bucket's upper edge (an upper bound, never flattering),
    or the largest latency seen (`ceiling`) where that is lower."""
    buckets = sorted((int(k), n) for k, n in histogram.items() if n)
    total = sum(n for _, n in buckets)
    if not total:
        return None
    seen = 0
    for edge, n in buckets:
        seen += n
        if seen >= q * total:
            step = 10 if edge < 100 else 10 ** (len(str(edge)) - 1)
            return float(min(edge + step, ceiling or edge + step))
    return float(buckets[-1][0])


class TrexBench:
    def __init__(self, api, trex, appliance, ports: list[str], settings: Settings,
                 progress: Callable[[str], None] = lambda line: None):
        self.api, self.trex, self.appliance, self.s = api, trex, appliance, settings
        self.progress = progress
        self.directions = ts.plan(appliance.routes(), appliance.nexthops(),
                                  appliance.addresses(), ports)
        self.tx_ports = sorted({d.tx for d in self.directions})
        self.rx_ports = sorted({d.rx for d in self.directions})
        self.all_ports = sorted(set(self.tx_ports) | set(self.rx_ports))
        info = trex.get_port_info(ports=self.all_ports)
        self.speed_gbps = min(float(p.get("speed") or 10) for p in info)

    # -- one trial --
    def _load(self, size: int | str, latency: bool) -> None:
        self.trex.reset(ports=self.all_ports)
        for d in self.directions:
            streams = ts.streams(self.api, d, size)
            if latency:
                streams.append(ts.latency_stream(self.api, d, LATENCY_PG_BASE + d.tx))
            self.trex.add_streams(streams, ports=[d.tx])

    def _run(self, rate: float, duration: float) -> tuple[Trial, dict]:
        """Offers `rate` pps in all (split over the sending ports) for `duration` s."""
        self.trex.clear_stats(ports=self.all_ports)
        before = counters(self.appliance.stats())
        try:
            if rate > 0:
                self.trex.start(ports=self.tx_ports, mult=f"{rate:.0f}pps", duration=duration,
                                total=True, force=True)
            else:  # latency streams alone
                self.trex.start(ports=self.tx_ports, mult="1", duration=duration, force=True)
            self.trex.wait_on_traffic(ports=self.tx_ports, rx_delay_ms=200)
            stats = self.trex.get_stats(ports=self.all_ports)
        except self.api.TRexError as e:
            return Trial(rate, duration, 0, 0, error=f"TRex: {first_line(e)}"), {}
        dut = counter_delta(before, counters(self.appliance.stats()))
        tx = sum(stats[p]["opackets"] for p in self.tx_ports)
        rx = sum(stats[p]["ipackets"] for p in self.rx_ports)
        dropped = sum(dut["drops"].values())
        reasons = dict(dut["drops"], **({"nic_missed": dut["missed"]} if dut["missed"] else {}))
        error = None
        if dut["rx"] + dut["missed"] < tx:
            error = f"the appliance received {dut['rx']} of the {tx} packets TRex sent"
        elif abs(dut["rx"] - (dut["tx"] + dropped + dut["local"] + dut["held"])) > 0:
            error = (f"appliance counters do not add up: rx {dut['rx']} != tx {dut['tx']} + "
                     f"drops {dropped} + local {dut['local']} + held {dut['held']}")
        trial = Trial(rate, duration, tx, rx, dropped + dut["missed"], reasons, error)
        return trial, stats

    # -- per frame size --
    def measure(self, size: int | str) -> dict[str, Any]:
        line = line_rate_pps(size, self.speed_gbps)
        top = min(self.s.max_rate_pps or line, line)
        self._load(size, latency=False)

        def trial(rate: float) -> Trial:
            t, _ = self._run(rate, self.s.duration_s)
            return t

        def report(t: Trial, ndr, pdr) -> None:
            verdict = ("error: " + t.error if t.error else
                       f"loss {t.loss_ratio:.3%}" + (" (generator short)" if t.generator_limited else ""))
            self.progress(f"  {size}: trial {t.rate_pps / 1e6:8.4f} Mpps -> {verdict}; "
                          f"NDR {mpps(ndr.rate_pps)}, PDR {mpps(pdr.rate_pps)}")

        result = search(trial, min(self.s.min_rate_pps, top), top, loss_ratio=self.s.loss_ratio,
                        resolution=self.s.resolution, max_trials=self.s.max_trials,
                        progress=report)
        avg = average_size(size)
        out = {"size": size, "avg_frame_bytes": avg, "line_rate_pps": line, "top_rate_pps": top,
               "converged": result.converged,
               "ndr": rate_figures(result.ndr.rate_pps, avg), "pdr": rate_figures(result.pdr.rate_pps, avg),
               "trials": [trial_dict(t) for t in result.trials], "latency": []}
        out["ndr"]["trial"] = trial_dict(result.ndr.trial) if result.ndr.trial else None
        out["pdr"]["trial"] = trial_dict(result.pdr.trial) if result.pdr.trial else None
        if self.s.latency and result.ndr.rate_pps:
            out["latency"] = self.latency(size, result.ndr.rate_pps)
        return out

    def latency(self, size: int | str, ndr_pps: float) -> list[dict[str, Any]]:
        self._load(size, latency=True)
        rows = []
        for load in self.s.latency_loads:
            rate = load * ndr_pps
            duration = self.s.latency_duration_s or self.s.duration_s
            trial, _ = self._run(rate, duration)
            pgids = self.trex.get_pgid_stats([LATENCY_PG_BASE + d.tx for d in self.directions])
            for d in self.directions:
                lat = pgids.get("latency", {}).get(LATENCY_PG_BASE + d.tx, {}).get("latency", {})
                hist = lat.get("histogram", {})
                # Figures from a trial that lost more than PDR allows, or counted nothing,
                # describe a broken run, not the router: kept, marked, not plotted.
                valid = (trial.error is None and trial.loss_ratio <= self.s.loss_ratio
                         and sum(hist.values()) > 0)
                row = {"load": load, "rate_pps": rate, "direction": f"{d.tx_port}->{d.rx_port}",
                       "valid": valid,
                       "min_us": lat.get("total_min"), "avg_us": lat.get("average"),
                       "max_us": lat.get("total_max"), "jitter_us": lat.get("jitter"),
                       "p50_us": percentile_from_histogram(hist, 0.5, lat.get("total_max")),
                       "p99_us": percentile_from_histogram(hist, 0.99, lat.get("total_max")),
                       "loss_ratio": trial.loss_ratio, "error": trial.error}
                rows.append(row)
                self.progress(f"  {size}: latency at {load:.0%} of NDR ({d.tx_port}->{d.rx_port}): "
                              + (f"avg {row['avg_us']} µs, p99 <= {row['p99_us']} µs, max {row['max_us']} µs"
                                 if valid else f"not valid (loss {trial.loss_ratio:.3%}"
                                 + (f", {trial.error}" if trial.error else "") + ")"))
        return rows

    def run(self) -> list[dict[str, Any]]:
        results = []
        for size in self.s.sizes:
            self.progress(f"frame size {size}: searching")
            results.append(self.measure(size))
        self.trex.reset(ports=self.all_ports)
        return results


def mpps(pps: float | None) -> str:
    return "-" if pps is None else f"{pps / 1e6:.4f} Mpps"


def trial_dict(t: Trial) -> dict[str, Any]:
    return {"rate_pps": t.rate_pps, "duration_s": t.duration_s, "tx_packets": t.tx_packets,
            "rx_packets": t.rx_packets, "loss_ratio": t.loss_ratio, "tx_pps": t.tx_pps,
            "generator_limited": t.generator_limited, "dut_drops": t.dut_drops,
            "dut_drop_reasons": t.dut_drop_reasons, "error": t.error}


def check_ports(appliance, ports: list[str] | None) -> list[str]:
    names = [p["name"] for p in appliance.ports()]
    chosen = ports or names[:2]
    unknown = [p for p in chosen if p not in names]
    if unknown:
        raise BenchError(f"--ports: no appliance port {', '.join(unknown)} (ports: {', '.join(names)})")
    if not 1 <= len(chosen) <= 2:
        raise BenchError("--ports: one or two appliance ports (the ones TRex ports 0 and 1 face)")
    return chosen

