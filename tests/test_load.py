"""Load on each hosted cluster with kube-burner-ocp: iterations, argv, barrier, failures."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from plugins.load import iterations, load_args
from plugins.options import Settings
from tests.test_options import _defaults
from tests.test_run import ledger, summary, ts

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "hypershift-reference.md"


def settings(**extra) -> Settings:
    return Settings(**{**_defaults(), "uuid": "run-1", "add_cluster_load": True, **extra})


def test_iterations_without_variation_are_jobs_per_worker_times_workers():
    s = settings(cluster_load_jobs_per_worker=50, cluster_load_job_variation=0)
    assert [iterations(s, i, w) for i, w in ((1, 20), (2, 25), (3, 30))] == [1000, 1250, 1500]
    assert iterations(settings(cluster_load_jobs_per_worker=0), 1, 20) == 0


def test_iterations_vary_within_bounds_and_are_reproducible_per_run():
    s = settings(cluster_load_jobs_per_worker=10, cluster_load_job_variation=20)
    values = [iterations(s, i, 10) for i in range(1, 201)]
    assert all(80 <= v <= 120 for v in values)
    assert len(set(values)) > 10                       # really varied
    assert values == [iterations(s, i, 10) for i in range(1, 201)]          # same uuid: same numbers
    other = settings(uuid="run-2", cluster_load_jobs_per_worker=10, cluster_load_job_variation=20)
    assert values != [iterations(other, i, 10) for i in range(1, 201)]      # another run: others


def test_iterations_at_full_variation_never_go_below_zero():
    s = settings(cluster_load_jobs_per_worker=3, cluster_load_job_variation=100)
    values = [iterations(s, i, 1) for i in range(1, 300)]
    assert min(values) == 0 and max(values) == 6 and all(v >= 0 for v in values)


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference not present")
def test_argv_uses_only_real_kube_burner_flags():
    text = REFERENCE.read_text()
    section = text[text.index("## 6. kube-burner-ocp"):text.index("### 6.3")]
    allowed = set(re.findall(r"`(--[a-z][a-z0-9-]*)", section))
    s = settings(workload="cluster-density-ms", cluster_load_duration=5400.0, load_timeout=7200.0,
                 es_url="http://es.example:9200", es_index="idx")
    args = load_args(s, 42)
    assert args == ["cluster-density-ms", "--uuid", "run-1", "--iterations", "42", "--churn-duration", "1h30m0s",
                    "--timeout", "2h0m0s", "--local-indexing", "--es-server", "http://es.example:9200",
                    "--es-index", "idx"]
    assert {a for a in args if a.startswith("--")} <= allowed
    # credentials never go on kube-burner's command line
    secret = settings(es_url="http://elastic:pw@es.example:9200")
    assert "--es-server" not in load_args(secret, 1) and "pw" not in " ".join(load_args(secret, 1))


def test_barrier_needs_a_worker_per_cluster(scale_project, tmp_path):
    result = scale_project.runpytest_inprocess("tests_scale", "--path", str(tmp_path / "run"), "--cluster-count", "3",
                                               "--add-cluster-load", "--load-barrier", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--load-barrier holds every cluster's load until all 3 clusters are ready" in result.stderr.str()
    assert not (tmp_path / "run").exists()


def test_load_options_need_add_cluster_load(scale_project, tmp_path):
    result = scale_project.runpytest_inprocess("tests_scale", "--path", str(tmp_path / "run"), "--load-barrier")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--load-barrier needs --add-cluster-load" in result.stderr.str()


def run_with_load(project, path: Path, *args: str):
    return project.runpytest_subprocess("tests_scale", "--path", str(path), "--sim-speed", "3000",
                                        "--add-cluster-load", "--workload", "cluster-density-ms",
                                        "--cluster-load-duration", "2m", "--cluster-load-jobs-per-worker", "2",
                                        *args, timeout=300)


def test_barrier_starts_every_load_after_the_last_cluster_is_ready(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_with_load(scale_project, path, "--cluster-count", "3", "--workers", "1,2,3", "-n", "3",
                           "--load-barrier")
    result.assert_outcomes(passed=3)
    last_ready = max(ts(e["time"]) for e in ledger(path) if e["event"] == "ready")
    loads = [json.loads(p.read_text()) for p in path.glob("perfsc-*/metadata_load.json")]
    assert len(loads) == 3
    for doc in loads:
        assert doc["status"] == "success" and doc["workload"] == "cluster-density-ms"
        assert doc["job_iterations"] == 2 * doc["workers"]
        assert ts(doc["load_start"]) >= last_ready - 1.0  # API-free instants: 1 s of timestamp resolution
    assert all(c["final"] == "destroyed" for c in summary(path)["clusters"])


def test_failed_load_fails_the_test_and_keeps_the_cluster(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_with_load(scale_project, path, "--cluster-count", "2", "--sim-load-fail-clusters", "2", "-n", "2")
    result.assert_outcomes(passed=1, errors=1)
    by_index = {c["index"]: c for c in summary(path)["clusters"]}
    assert by_index[2]["final"] == "kept" and by_index[1]["final"] == "destroyed"
    doc = json.loads((path / by_index[2]["name"] / "metadata_load.json").read_text())
    assert doc["status"] == "failed" and doc["load_rc"] == 1
    last = (path / by_index[2]["name"] / "load.log").read_text().strip().splitlines()[-1]
    assert "👋 kube-burner run completed with rc 1 for UUID" in last
    spool = [json.loads(x) for x in (path / "documents.jsonl").read_text().splitlines()]
    assert sorted(d["operation"] for d in spool if d.get("cluster_name") == by_index[1]["name"]) == [
        "destroy", "install", "load"]


def test_load_timeout_fails_and_keeps_the_cluster(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_with_load(scale_project, path, "--cluster-count", "1", "--cluster-load-duration", "10h",
                           "--load-timeout", "2s")
    result.assert_outcomes(errors=1)
    cluster = summary(path)["clusters"][0]
    assert cluster["final"] == "kept"
    doc = json.loads((path / cluster["name"] / "metadata_load.json").read_text())
    assert doc["load_status"] == "failed: timeout" and doc["load_rc"] == 2
