"""A throughput report in the forms people ask for: a table on screen, JSON, CSV, PNG plots
(throughput per frame size against line rate; latency against load) and an HTML page.

`appliance bench trex` and `appliance bench vdev` both write it; a result row is a dict with
`size`, `avg_frame_bytes`, `line_rate_pps` (or None), `ndr`/`pdr` ({pps, mpps, gbps,
gbps_l1}) and `latency` rows ({load, rate_pps, direction, min/avg/max/p50/p99/jitter _us}).
"""
from __future__ import annotations

import csv
import html
import json
from math import nan
from pathlib import Path
from typing import Any

CSV_COLUMNS = ["size", "avg_frame_bytes", "ndr_mpps", "ndr_gbps_l1", "pdr_mpps", "pdr_gbps_l1",
               "line_rate_mpps", "ndr_of_line_rate", "trials", "converged",
               "latency_avg_us_at_90pct_ndr", "latency_p99_us_at_90pct_ndr"]


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def csv_row(r: dict) -> dict[str, Any]:
    line = r.get("line_rate_pps")
    ndr = r["ndr"]["pps"]
    at90 = [row for row in r.get("latency", []) if abs(row["load"] - 0.9) < 1e-9]
    return {"size": r["size"], "avg_frame_bytes": round(r["avg_frame_bytes"], 2),
            "ndr_mpps": r["ndr"]["mpps"], "ndr_gbps_l1": r["ndr"]["gbps_l1"],
            "pdr_mpps": r["pdr"]["mpps"], "pdr_gbps_l1": r["pdr"]["gbps_l1"],
            "line_rate_mpps": line / 1e6 if line else None,
            "ndr_of_line_rate": ndr / line if ndr and line else None,
            "trials": len(r.get("trials", [])), "converged": r.get("converged"),
            "latency_avg_us_at_90pct_ndr": max((x["avg_us"] or 0 for x in at90), default=None),
            "latency_p99_us_at_90pct_ndr": max((x["p99_us"] or 0 for x in at90), default=None)}


def table(results: list[dict]) -> list[str]:
    lines = [f"{'size':>6} {'NDR Mpps':>10} {'NDR Gb/s':>9} {'PDR Mpps':>10} {'PDR Gb/s':>9} "
             f"{'line Mpps':>10} {'NDR/line':>8} {'trials':>6}"]
    for r in results:
        c = csv_row(r)
        lines.append(f"{r['size']!s:>6} {fmt(c['ndr_mpps'], 4):>10} {fmt(c['ndr_gbps_l1'], 2):>9} "
                     f"{fmt(c['pdr_mpps'], 4):>10} {fmt(c['pdr_gbps_l1'], 2):>9} "
                     f"{fmt(c['line_rate_mpps'], 2):>10} "
                     f"{fmt(c['ndr_of_line_rate'] * 100 if c['ndr_of_line_rate'] else None, 2):>7}% "
                     f"{c['trials']:>6}")
        for row in r.get("latency", []):
            lines.append(f"{'':>6}   latency at {row['load']:.0%} NDR {row['direction']}: "
                         f"min {fmt(row['min_us'])} avg {fmt(row['avg_us'])} "
                         f"p50 <= {fmt(row['p50_us'])} p99 <= {fmt(row['p99_us'])} "
                         f"max {fmt(row['max_us'])} jitter {fmt(row['jitter_us'])} µs")
    return lines


def plot(results: list[dict], path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r["size"]) for r in results]
    x = range(len(results))
    has_latency = any(r.get("latency") for r in results)
    fig, axes = plt.subplots(1, 3 if has_latency else 2, figsize=(15 if has_latency else 10, 4.5))
    for ax, unit, key, line_key in ((axes[0], "Mpps", "mpps", 1e6), (axes[1], "Gbit/s (L1)", "gbps_l1", None)):
        for name, style in (("ndr", "o-"), ("pdr", "s--")):
            ax.plot(x, [nan if r[name][key] is None else r[name][key] for r in results], style,
                    label=name.upper())
        line = [r.get("line_rate_pps") for r in results]
        if all(line):
            values = ([v / 1e6 for v in line] if line_key else
                      [v * (r["avg_frame_bytes"] + 20) * 8 / 1e9 for v, r in zip(line, results)])
            ax.plot(x, values, "k:", label="line rate")
        ax.set_xticks(list(x), labels)
        ax.set_xlabel("frame size (bytes)")
        ax.set_ylabel(f"throughput ({unit})")
        ax.set_yscale("log" if key == "mpps" and all(line) else "linear")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if has_latency:
        ax = axes[2]
        for r in results:
            rows = r.get("latency", [])
            for direction in sorted({row["direction"] for row in rows}):
                mine = [row for row in rows if row["direction"] == direction]
                ax.plot([row["rate_pps"] / 1e6 for row in mine], [row["avg_us"] or 0 for row in mine],
                        "o-", label=f"{r['size']} {direction} avg")
                ax.plot([row["rate_pps"] / 1e6 for row in mine], [row["p99_us"] or 0 for row in mine],
                        "x:", label=f"{r['size']} {direction} p99")
        ax.set_xlabel("offered load (Mpps)")
        ax.set_ylabel("latency (µs)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(results: list[dict], meta: dict, out_dir: Path, name: str = "report") -> dict[str, Path]:
    """report.json, report.csv, report.png, report.html in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{name}.{ext}" for ext in ("json", "csv", "png", "html")}
    paths["json"].write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    with paths["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, CSV_COLUMNS)
        w.writeheader()
        for r in results:
            w.writerow(csv_row(r))
    plot(results, paths["png"], meta.get("title", "appliance throughput"))
    rows = "\n".join(html.escape(line) for line in table(results))
    settings = html.escape(json.dumps(meta, indent=2, default=str))
    paths["html"].write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(meta.get('title', ''))}</title>"
        f"<h1>{html.escape(meta.get('title', ''))}</h1><pre>{rows}</pre>"
        f"<img src='{paths['png'].name}' alt='throughput and latency plots'>"
        f"<h2>Settings</h2><pre>{settings}</pre>")
    return paths
