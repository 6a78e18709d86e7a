"""The scale benchmark (bench/scale.py) works: a small run, every figure measured (no targets asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402


def test_ideal_makespan_deals_clusters_to_free_slots_in_order():
    assert scale.ideal_makespan([10, 10, 10, 10], 2) == 20
    assert scale.ideal_makespan([10, 1, 1, 1], 2) == 10  # the short ones share the other slot
    assert scale.ideal_makespan([5, 7], 4) == 7
    assert scale.ideal_makespan([3, 3, 3], 1) == 9


@pytest.mark.parametrize("text", ["100", "0:2", "a:b", "3:0"])
def test_a_bad_configuration_is_refused(text):
    with pytest.raises(Exception, match="CLUSTERS:WORKERS|at least 1"):
        scale.parse_config(text)


def test_small_benchmark_measures_every_figure(tmp_path):
    out = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--config", "3:2", "--sim-speed", "3000",
                           "--watcher-delays", "1", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = json.loads(out.read_text())
    assert [r["watcher_delay"] for r in runs] == [10.0, 1.0]
    for r in runs:
        assert r["counts"]["ready"] == 3 and r["counts"]["destroyed"] == 3
        assert 0 < r["ideal_s"] and r["makespan_ratio"] >= 0.9  # the harness cannot beat the simulated durations
        assert r["controller_rss_mb"] > 10 and r["worker_rss_mb"] > 10 and r["cpu_s_per_cluster"] > 0
        assert r["world_cpu_s"] > 0 and r["standin_cli_cpu_s"] > 0
        # the harness's own requests, told apart from the CLI's and the operator's by its User-Agent
        assert r["mgmt_requests_by_verb"].get("watch", 0) > 0 and r["requests_per_cluster"] > 0
        # every cluster: ready detection and 5 recorded instants against the operator's ground truth
        assert r["timing_fields_checked"] == 15 and r["timing_error_max_s"] is not None
        assert r["timing_error_max_s"] < 1.5 and r["detect_max_s"] is not None and r["detect_p50_s"] >= 0
        assert r["cluster_overhead_mean_s"] is not None and r["worker_gap_mean_s"] is not None
    assert "makespan / ideal" in proc.stdout and "ready detection p50/p95/max" in proc.stdout
