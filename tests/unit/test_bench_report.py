"""The benchmark report: JSON, CSV columns, the plots (axes labelled), HTML; frame sizes."""
import csv
import json

import matplotlib.image
import pytest

from appliance.bench import frames, report
from appliance.errors import BenchError


def trex_row(size, ndr, pdr, latency=()):
    avg = frames.average_size(size)
    return {"size": size, "avg_frame_bytes": avg, "line_rate_pps": frames.line_rate_pps(size, 10),
            "ndr": report.rate_figures(ndr, avg), "pdr": report.rate_figures(pdr, avg),
            "converged": True, "trials": [{}] * 7, "latency": list(latency)}


LATENCY = [{"load": load, "rate_pps": load * 1e6, "direction": "p0->p1", "min_us": 5, "avg_us": 9.5,
            "max_us": 40, "jitter_us": 2, "p50_us": 10.0, "p99_us": 40.0} for load in (0.1, 0.5, 0.9)]


def vdev_row(size, mpps):
    avg = frames.average_size(size)
    return {"size": size, "avg_frame_bytes": avg, "line_rate_pps": None,
            "series": {name: report.rate_figures(v * 1e6, avg) for name, v in mpps.items()},
            "ratios": {"appliance/l3fwd": mpps["appliance"] / mpps["l3fwd"]}}


def test_a_trex_report_in_every_form(tmp_path):
    results = [trex_row(64, 1.0e6, 1.2e6, LATENCY), trex_row("imix", None, 0.5e6)]
    paths = report.write(results, {"title": "t", "settings": {"duration_s": 1}}, tmp_path)
    doc = json.loads(paths["json"].read_text())
    assert doc["meta"]["title"] == "t" and doc["results"][0]["ndr"]["mpps"] == 1.0
    rows = list(csv.DictReader(paths["csv"].open()))
    assert list(rows[0]) == ["size", "avg_frame_bytes", "ndr_mpps", "ndr_gbps_l1", "pdr_mpps",
                             "pdr_gbps_l1", "line_rate_mpps", "of_line_rate", "trials", "converged",
                             "latency_avg_us_at_90pct_ndr", "latency_p99_us_at_90pct_ndr"]
    assert rows[0]["ndr_gbps_l1"] == str(1.0e6 * 84 * 8 / 1e9) and rows[1]["ndr_mpps"] == ""
    assert float(rows[0]["line_rate_mpps"]) == pytest.approx(14.880952, rel=1e-6)
    assert rows[0]["latency_p99_us_at_90pct_ndr"] == "40.0"
    assert matplotlib.image.imread(paths["png"]).shape[:2] == (450, 1500)  # three panels
    assert "<img src='report.png'" in paths["html"].read_text()
    table = report.table(results)
    assert table[0].split()[:3] == ["size", "ndr", "Mpps"]
    assert "latency at 90% NDR p0->p1: min 5 avg 9.500" in "\n".join(table)


def test_latency_from_a_broken_trial_is_marked_and_left_out(tmp_path):
    broken = [dict(row, valid=row["load"] != 0.9, loss_ratio=0.5 if row["load"] == 0.9 else 0)
              for row in LATENCY]
    paths = report.write([trex_row(64, 1e6, 1.2e6, broken)], {"title": "t"}, tmp_path)
    (row,) = csv.DictReader(paths["csv"].open())
    assert row["latency_avg_us_at_90pct_ndr"] == ""
    assert "latency at 90% NDR p0->p1: not valid (loss 50.000%)" in "\n".join(report.table(
        [trex_row(64, 1e6, 1.2e6, broken)]))


def test_the_plots_say_what_they_show():
    fig = report.figure([trex_row(64, 1e6, 1.2e6, LATENCY), trex_row(1518, 0.5e6, 0.6e6)], "t")
    labels = [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes]
    assert labels == [("frame size (bytes)", "throughput (Mpps)"),
                      ("frame size (bytes)", "throughput (Gbit/s (L1))"),
                      ("offered load (Mpps)", "latency (µs)")]
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["ndr", "pdr", "line rate"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["64", "1518"]


def test_a_vdev_report_names_its_contenders(tmp_path):
    results = [vdev_row(64, {"appliance": 37.0, "l3fwd": 42.0, "testpmd_io": 63.0})]
    paths = report.write(results, {"title": "v"}, tmp_path)
    (row,) = csv.DictReader(paths["csv"].open())
    assert row["appliance_mpps"] == "37.0" and row["l3fwd_mpps"] == "42.0"
    assert float(row["appliance/l3fwd"]) == pytest.approx(37 / 42)
    assert row["line_rate_mpps"] == ""
    fig = report.figure(results, "v")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "appliance", "l3fwd", "testpmd_io"]
    assert len(fig.axes) == 2  # no latency panel


def test_frame_sizes():
    assert frames.parse_sizes("64, 1518,IMIX") == [64, 1518, "imix"]
    assert frames.sequence("imix") == [64] * 7 + [594] * 4 + [1518]
    assert frames.average_size("imix") == pytest.approx(4342 / 12)
    assert frames.line_rate_pps(64, 10) == pytest.approx(14_880_952.38)
    for bad in ("63", "jumbo", "", "64,,128", "9019"):
        with pytest.raises(BenchError, match="--sizes"):
            frames.parse_sizes(bad)


def test_latency_percentiles_from_trex_s_histogram():
    from appliance.bench.trex_bench import percentile_from_histogram
    hist = {"10": 50, "20": 30, "90": 15, "100": 4, "1000": 1}
    assert percentile_from_histogram(hist, 0.5) == 20.0      # bucket 10-20
    assert percentile_from_histogram(hist, 0.95) == 100.0    # bucket 90-100
    assert percentile_from_histogram(hist, 0.99) == 200.0    # bucket 100-200
    assert percentile_from_histogram(hist, 1.0) == 2000.0
    assert percentile_from_histogram(hist, 1.0, ceiling=1121) == 1121.0
    assert percentile_from_histogram({}, 0.5) is None
