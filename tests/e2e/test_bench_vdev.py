"""`appliance bench vdev`: the appliance, l3fwd and testpmd io per frame size, one report."""
import csv
import json
import subprocess
import sys


def test_bench_vdev_measures_all_three_per_size_and_writes_the_report(tmp_path):
    out = tmp_path / "report"
    r = subprocess.run([sys.executable, "-m", "appliance", "bench", "vdev", "--sizes", "64,imix",
                        "--rounds", "1", "--seconds", "0.5", "--routes", "500", "--flows", "256",
                        "--output", str(out), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert [row["size"] for row in doc["results"]] == [64, "imix"]
    for row in doc["results"]:
        assert set(row["series"]) == {"appliance", "l3fwd", "testpmd_io"}
        assert all(s["mpps"] > 0.1 for s in row["series"].values()), row["series"]
        assert 0 < row["ratios"]["appliance/l3fwd"] < 10 and row["cycles_per_packet"] > 0
    imix = doc["results"][1]
    assert imix["avg_frame_bytes"] == 4342 / 12
    a = imix["series"]["appliance"]
    assert a["gbps_l1"] == a["pps"] * (4342 / 12 + 20) * 8 / 1e9
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [row["size"] for row in rows] == ["64", "imix"] and "testpmd_io_mpps" in rows[0]
    assert (out / "report.png").stat().st_size > 10_000 and (out / "report.html").exists()


def test_bench_vdev_refuses_bad_sizes():
    r = subprocess.run([sys.executable, "-m", "appliance", "bench", "vdev", "--sizes", "32"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip() == (
        "BenchError: --sizes: '32' is not a frame size (64..9018 bytes) or imix")
