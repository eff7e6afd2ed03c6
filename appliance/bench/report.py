"""A throughput report in the forms people ask for: a table on screen, JSON, CSV, PNG plots
(throughput per frame size against line rate; latency against load) and an HTML page.

`appliance bench trex` and `appliance bench vdev` both write it. A result row is a dict with
`size`, `avg_frame_bytes`, `line_rate_pps` (None where there is no line) and named rate
series, each {pps, mpps, gbps, gbps_l1}: `ndr` and `pdr` for TRex (with `trials`,
`converged` and `latency` rows {load, rate_pps, direction, min/avg/max/p50/p99/jitter _us}),
`series` {contender: figures} for the vdev bench.
"""
from __future__ import annotations

import csv
import html
import json
from math import nan
from pathlib import Path
from typing import Any

from appliance.bench.frames import L1_OVERHEAD


def rate_figures(pps: float | None, avg_frame: float) -> dict[str, Any]:
    if pps is None:
        return {"pps": None, "mpps": None, "gbps": None, "gbps_l1": None}
    return {"pps": pps, "mpps": pps / 1e6, "gbps": pps * avg_frame * 8 / 1e9,
            "gbps_l1": pps * (avg_frame + L1_OVERHEAD) * 8 / 1e9}


def series(r: dict) -> dict[str, dict]:
    """The row's named rates, in order."""
    return r["series"] if "series" in r else {"ndr": r["ndr"], "pdr": r["pdr"]}


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def csv_row(r: dict) -> dict[str, Any]:
    line = r.get("line_rate_pps")
    out: dict[str, Any] = {"size": r["size"], "avg_frame_bytes": round(r["avg_frame_bytes"], 2)}
    for name, figures in series(r).items():
        out[f"{name}_mpps"] = figures["mpps"]
        out[f"{name}_gbps_l1"] = figures["gbps_l1"]
    out["line_rate_mpps"] = line / 1e6 if line else None
    first = next(iter(series(r).values()))["pps"]
    out["of_line_rate"] = first / line if first and line else None
    if "trials" in r:
        at90 = [row for row in r.get("latency", [])
                if abs(row["load"] - 0.9) < 1e-9 and row.get("valid", True)]
        out.update({"trials": len(r["trials"]), "converged": r.get("converged"),
                    "latency_avg_us_at_90pct_ndr": max((x["avg_us"] or 0 for x in at90), default=None),
                    "latency_p99_us_at_90pct_ndr": max((x["p99_us"] or 0 for x in at90), default=None)})
    out.update(r.get("ratios", {}))
    return out


def table(results: list[dict]) -> list[str]:
    names = list(series(results[0])) if results else []
    head = f"{'size':>6} " + " ".join(f"{n + ' Mpps':>14} {n + ' Gb/s':>12}" for n in names)
    lines = [head + f" {'line Mpps':>10} {'of line':>8}"]
    for r in results:
        c = csv_row(r)
        cells = " ".join(f"{fmt(c[n + '_mpps'], 4):>14} {fmt(c[n + '_gbps_l1'], 2):>12}" for n in names)
        share = c["of_line_rate"]
        lines.append(f"{r['size']!s:>6} {cells} {fmt(c['line_rate_mpps'], 2):>10} "
                     f"{fmt(share * 100 if share else None, 2):>7}%")
        if r.get("ratios"):
            lines.append(f"{'':>6}   " + ", ".join(f"{k} {v:.3f}" for k, v in r["ratios"].items()))
        for row in r.get("latency", []):
            if not row.get("valid", True):
                lines.append(f"{'':>6}   latency at {row['load']:.0%} NDR {row['direction']}: "
                             f"not valid (loss {row['loss_ratio']:.3%})")
                continue
            lines.append(f"{'':>6}   latency at {row['load']:.0%} NDR {row['direction']}: "
                         f"min {fmt(row['min_us'])} avg {fmt(row['avg_us'])} "
                         f"p50 <= {fmt(row['p50_us'])} p99 <= {fmt(row['p99_us'])} "
                         f"max {fmt(row['max_us'])} jitter {fmt(row['jitter_us'])} µs")
    return lines


def figure(results: list[dict], title: str):
    """Throughput per frame size (Mpps, Gbit/s with layer 1 overhead) with the line rate
    where there is one; latency against load where measured."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r["size"]) for r in results]
    x = list(range(len(results)))
    has_latency = any(r.get("latency") for r in results)
    fig, axes = plt.subplots(1, 3 if has_latency else 2, figsize=(15 if has_latency else 10, 4.5))
    line = [r.get("line_rate_pps") for r in results]
    for ax, unit, key in ((axes[0], "Mpps", "mpps"), (axes[1], "Gbit/s (L1)", "gbps_l1")):
        for name in series(results[0]):
            values = [series(r)[name][key] for r in results]
            ax.plot(x, [nan if v is None else v for v in values], "o-", label=name)
        if all(line):
            ax.plot(x, [v / 1e6 if key == "mpps" else v * (r["avg_frame_bytes"] + L1_OVERHEAD) * 8 / 1e9
                        for v, r in zip(line, results)], "k:", label="line rate")
            ax.set_yscale("log" if key == "mpps" else "linear")
        ax.set_xticks(x, labels)
        ax.set_xlabel("frame size (bytes)")
        ax.set_ylabel(f"throughput ({unit})")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if has_latency:
        ax = axes[2]
        for r in results:
            rows = [row for row in r.get("latency", []) if row.get("valid", True)]
            for direction in sorted({row["direction"] for row in rows}):
                mine = [row for row in rows if row["direction"] == direction]
                load = [row["rate_pps"] / 1e6 for row in mine]
                ax.plot(load, [row["avg_us"] or nan for row in mine], "o-", label=f"{r['size']} {direction} avg")
                ax.plot(load, [row["p99_us"] or nan for row in mine], "x:", label=f"{r['size']} {direction} p99")
        ax.set_xlabel("offered load (Mpps)")
        ax.set_ylabel("latency (µs)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot(results: list[dict], path: Path, title: str) -> Path:
    import matplotlib.pyplot as plt
    fig = figure(results, title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(results: list[dict], meta: dict, out_dir: Path, name: str = "report") -> dict[str, Path]:
    """report.json, report.csv, report.png, report.html in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{name}.{ext}" for ext in ("json", "csv", "png", "html")}
    paths["json"].write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    rows = [csv_row(r) for r in results]
    with paths["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]) if rows else ["size"])
        w.writeheader()
        w.writerows(rows)
    title = meta.get("title", "appliance throughput")
    plot(results, paths["png"], title)
    lines = "\n".join(html.escape(line) for line in table(results))
    settings = html.escape(json.dumps(meta, indent=2, default=str))
    paths["html"].write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><pre>{lines}</pre>"
        f"<img src='{paths['png'].name}' alt='throughput and latency plots'>"
        f"<h2>Settings</h2><pre>{settings}</pre>")
    return paths
