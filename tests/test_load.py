"""Load on each hosted cluster with kube-burner-ocp: iterations, argv, barrier, failures."""
from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
import yaml

from plugins.elastic import kube_burner_target
from plugins.load import iterations, load_args
from plugins.options import Settings
from tests.esserver import FakeElasticsearch
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


def reference_flags() -> set[str]:
    text = REFERENCE.read_text()
    return set(re.findall(r"`(--[a-z][a-z0-9-]*)", text[text.index("## 6. kube-burner-ocp"):text.index("### 6.3")]))


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference not present")
def test_argv_uses_only_real_kube_burner_flags():
    s = settings(workload="cluster-density-ms", cluster_load_duration=5400.0, load_timeout=7200.0,
                 cluster_load_churn_cycles=3, cluster_load_churn_delay=30.0, cluster_load_churn_percent=25,
                 es_url="http://es.example:9200", load_es_index="kb")
    args = load_args(s, 42, "http://es.example:9200")
    assert args == ["cluster-density-ms", "--uuid", "run-1", "--iterations", "42", "--churn-duration", "1h30m0s",
                    "--churn-cycles", "3", "--churn-delay", "30s", "--churn-percent", "25",
                    "--timeout", "2h0m0s", "--local-indexing", "--es-server", "http://es.example:9200",
                    "--es-index", "kb"]
    assert {a for a in args if a.startswith("--")} <= reference_flags()
    assert "--es-server" not in load_args(s, 1)


def test_kube_burner_es_target_carries_credentials_inside_the_url_only(monkeypatch):
    for name in ("ES_API_KEY", "ES_USERNAME", "ES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert kube_burner_target(None) == (None, None)
    assert kube_burner_target("http://es:9200") == ("http://es:9200", None)
    assert kube_burner_target("https://el:p%40ss@es:9200/x") == ("https://el:p%40ss@es:9200/x", None)
    monkeypatch.setenv("ES_USERNAME", "elastic")
    monkeypatch.setenv("ES_PASSWORD", "it's \"quoted\"")   # would break the YAML it is rendered into
    assert kube_burner_target("http://es:9200") == ("http://elastic:it%27s%20%22quoted%22@es:9200", None)
    monkeypatch.setenv("ES_API_KEY", "key")
    url, why = kube_burner_target("http://es:9200")
    assert url is None and "ES_API_KEY" in why


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
    world = [] if "--sim-dir" in args else ["--sim-speed", "3000"]
    return project.runpytest_subprocess("tests_scale", "--path", str(path), *world,
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


def load_argv(folder: Path) -> str:
    """The kube-burner-ocp command line as process.run logged it (first '# … $ argv' line of load.log)."""
    return next(line for line in (folder / "load.log").read_text().splitlines() if line.startswith("# ") and " $ " in line)


def test_load_scrapes_guest_and_management_prometheus_without_secrets_on_argv_or_disk(scale_project, tmp_path,
                                                                                       sim_world):
    world = sim_world().dir
    seen = tmp_path / "kb-seen.txt"       # outside the run directory: what kube-burner got, argv and environment
    spy = tmp_path / "kube-burner-ocp"
    spy.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {seen}\nenv | grep '^KB_' >> {seen}\n"
                   f"exec {world / 'bin' / 'kube-burner-ocp'} \"$@\"\n")
    spy.chmod(0o755)
    with FakeElasticsearch(username="elastic", password="s3cr3t-pw") as server:
        host = server.url.split("://", 1)[1]
        path = tmp_path / "run"
        result = run_with_load(scale_project, path, "--sim-dir", str(world), "--cluster-count", "1", "--uuid",
                               "kbrun1", "--kube-burner-cli", str(spy),
                               "--es-url", f"http://elastic:s3cr3t-pw@{host}", "--es-index", "timings")
        result.assert_outcomes(passed=1)
        lines = seen.read_text().splitlines()          # `version` at acquisition, then the load
        argv_seen = next(line for line in lines if line.startswith("cluster-density-ms "))
        secrets = dict(line.split("=", 1) for line in lines if line.startswith("KB_"))
        assert set(secrets) == {"KB_GUEST_PROMETHEUS_TOKEN", "KB_MGMT_PROMETHEUS_TOKEN", "KB_ES_SERVER"}
        assert secrets["KB_ES_SERVER"] == f"http://elastic:s3cr3t-pw@{host}"
        assert not any(value in argv_seen for value in secrets.values())
        name = summary(path)["clusters"][0]["name"]
        folder = path / name
        endpoints = folder / "load" / "metrics-endpoint.yml"
        assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600
        entries = yaml.safe_load(endpoints.read_text())
        assert [e["alias"] for e in entries] == ["guest", "guest-es", "management", "management-es"]
        assert {e["token"] for e in entries} == {"{{.KB_GUEST_PROMETHEUS_TOKEN}}", "{{.KB_MGMT_PROMETHEUS_TOKEN}}"}
        assert entries[2]["endpoint"].startswith("https://prometheus-k8s-openshift-monitoring.apps.")
        assert entries[1]["indexer"]["esServers"] == ["{{.KB_ES_SERVER}}"]
        assert entries[1]["indexer"]["defaultIndex"] == "ripsaw-kube-burner"
        argv = load_argv(folder)
        assert f"--metrics-endpoint {endpoints}" in argv and f"--set HOSTED_CLUSTER_NAMESPACE=clusters-{name}" in argv
        assert "--es-server" not in argv and "--local-indexing" not in argv
        # the management cluster's etcd metrics of this cluster's control-plane namespace, next to the guest's
        mgmt = json.loads((folder / "load" / "collected-metrics-kbrun1-management" / "etcdDBTotalSize.json").read_text())
        assert mgmt and all(f'namespace="clusters-{name}"' in d["query"] and d["value"] > 0 for d in mgmt)
        assert {d["labels"]["pod"] for d in mgmt} >= {"etcd-0"}          # series exist only for a live namespace
        assert json.loads((folder / "load" / "collected-metrics-kbrun1" / "jobSummary.json").read_text())[0]["passed"]
        # kube-burner indexed its own documents (with the credentials it got from its environment)
        kb_docs = list(server.documents("ripsaw-kube-burner").values())
        assert {"jobSummary", "etcdDBTotalSize"} <= {d.get("metricName") for d in kb_docs}
        timings = server.documents("timings").values()
        load_doc = next(d for d in timings if d["operation"] == "load")
        assert load_doc["status"] == "success" and load_doc["load_mgmt_metrics"] is True
        hidden = ["s3cr3t-pw", secrets["KB_GUEST_PROMETHEUS_TOKEN"], secrets["KB_MGMT_PROMETHEUS_TOKEN"]]
        for file in path.rglob("*"):
            if file.is_file() and file.suffix != ".gz":
                text = file.read_text(errors="replace")
                assert not [h for h in hidden if h in text], file
        out = result.stdout.str() + result.stderr.str()
        assert not [h for h in hidden[1:] if h in out]


def test_mgmt_metrics_follow_the_management_cluster(scale_project, tmp_path, sim_world):
    world = sim_world("--no-mgmt-monitoring").dir
    result = scale_project.runpytest_subprocess("tests_scale", "--path", str(tmp_path / "on"), "--sim-dir", str(world),
                                                "--add-cluster-load", "--mgmt-metrics", "on", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("--mgmt-metrics on: the management cluster serves no route openshift-monitoring/prometheus-k8s"
            in result.stderr.str())
    assert not list((tmp_path / "on").glob("*/kubeconfig"))          # no cluster was created
    path = tmp_path / "auto"
    result = run_with_load(scale_project, path, "--sim-dir", str(world), "--cluster-count", "1")
    result.assert_outcomes(passed=1)
    assert "management cluster metrics are not scraped during the loads" in result.stdout.str()
    folder = path / summary(path)["clusters"][0]["name"]
    argv = load_argv(folder)
    assert "--local-indexing" in argv and "--metrics-endpoint" not in argv and "HOSTED_CLUSTER_NAMESPACE" not in argv
    assert not (folder / "load" / "metrics-endpoint.yml").exists()


def test_load_without_a_guest_prometheus_fails_before_kube_burner_and_keeps_the_cluster(scale_project, tmp_path,
                                                                                          sim_world):
    world = sim_world("--no-guest-monitoring").dir
    path = tmp_path / "run"
    result = run_with_load(scale_project, path, "--sim-dir", str(world), "--cluster-count", "1",
                           "--mgmt-metrics", "on")
    result.assert_outcomes(errors=1)
    cluster = summary(path)["clusters"][0]
    assert cluster["final"] == "kept"
    doc = json.loads((path / cluster["name"] / "metadata_load.json").read_text())
    assert doc["status"] == "failed" and doc["load_rc"] is None
    assert doc["load_status"].startswith("failed: setup (the hosted cluster serves no route "
                                         "openshift-monitoring/prometheus-k8s")
    log = (path / cluster["name"] / "load.log").read_text()
    assert "load not started" in log and " $ " not in log          # kube-burner-ocp never ran
