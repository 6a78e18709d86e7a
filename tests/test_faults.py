"""Fault injection: every fault the simulated world can inject, and what the harness must make of it.

Each case starts a world (``python -m sim serve`` with the fault's flags, through the ``sim_world``
fixture), runs the scale tests against it through a pytester subprocess (``--sim-dir``), and checks
the run's promise: nothing lost, nothing leaked --

* the pytest outcome counts the fault should give;
* every cluster in summary.json has the final state the fault should give (``destroyed``, ``kept``,
  ``pending_deletion``, or ``not_created`` when the CLI failed before creating anything), and the
  management API agrees: what is still there is exactly what was kept or is pending deletion;
* a kept cluster has its diagnostic dump; the CLI's output (``create.log``, ``destroy.log``) is in the
  cluster's folder;
* every timing document in a cluster's folder is also in ``documents.jsonl`` (written to disk before
  anything is sent);
* with API faults (errors, slow responses, dropped watches, 410 Gone, an outage from now for a few
  seconds through ``DIR/faults.json``) the recorded phase instants still equal the simulated operator's
  ground truth (``transitions.jsonl``).

Elasticsearch faults: an outage for the whole run (documents spooled, ``pending``, the
``--es-index-only`` command printed, then uploaded once) is
``tests/test_elastic.py::test_elasticsearch_down_for_the_whole_run_then_index_only``; 503s mid-run is
``test_failures_mid_run_lose_nothing`` and per-item 429s ``test_refused_items_are_retried_one_by_one_and_reported``
there.  Request-level 429s during a run are ``test_elasticsearch_429s_are_retried_and_nothing_is_lost`` below.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.esserver import FakeElasticsearch
from tests.simworld import wait_for
from tests.test_run import summary, ts

HARNESS_AGENT = "hcp-scale/"  # the harness's User-Agent (plugins/kube.py), not the stand-in CLI's


@dataclass
class Case:
    id: str
    world: tuple = ()                 # python -m sim serve flags
    harness: tuple = ()               # extra harness options
    count: int = 2
    xdist: bool = False               # -n 2: both clusters at once (each xdist run costs ~10 s of start-up)
    outcomes: dict = field(default_factory=lambda: {"passed": 2})
    finals: dict = field(default_factory=lambda: {1: "destroyed", 2: "destroyed"})   # index -> final state
    exact_phases: bool = False        # API fault: phase instants must equal transitions.jsonl
    counter: str | None = None        # the world's fault counter (faults-active.json) that must have moved
    outage: dict | None = None        # DIR/faults.json written once the first create is requested
    error: str | None = None          # in the summary's error of every non-destroyed cluster
    create_log: str | None = None     # in create.log of every non-destroyed cluster


CASES = [
    # --- the management API ---------------------------------------------------------------
    Case("api-5xx", world=("--api-error-rate", "0.4", "--api-fault-agents", HARNESS_AGENT),
         counter="injected_errors", exact_phases=True, xdist=True),
    Case("api-slow", world=("--api-delay", "0.05"), counter="delayed_requests", exact_phases=True),
    Case("watch-drops", world=("--drop-watches-after", "0.2"), counter="dropped_watches", exact_phases=True),
    Case("watch-410-gone", world=("--watch-gone-rate", "0.5"), counter="gone_watches", exact_phases=True),
    Case("api-outage-now-for-3s", outage={"api": {"error_rate": 1.0, "agents": [HARNESS_AGENT]}, "for_seconds": 3},
         exact_phases=True),
    # --- the hypershift CLI ---------------------------------------------------------------
    Case("cli-crash-after-creating", world=("--cli-crash-clusters", "1"), outcomes={"passed": 1, "errors": 1},
         finals={1: "kept", 2: "destroyed"}, error="create command exited 2", create_log="panic: runtime error"),
    Case("cli-crash-before-creating", world=("--cli-crash-early-clusters", "1"), outcomes={"passed": 1, "errors": 1},
         finals={1: "not_created", 2: "destroyed"}, error="create command exited 2",
         create_log="panic: runtime error"),
    Case("cli-hang", world=("--cli-hang-clusters", "1"), harness=("--install-timeout", "4"),
         outcomes={"passed": 1, "errors": 1}, finals={1: "kept", 2: "destroyed"}, error="create command timed out",
         create_log="Applied Kube resource"),
    # --- the cluster ----------------------------------------------------------------------
    Case("stuck-install", world=("--stuck-clusters", "1"), harness=("--install-timeout", "3"),
         outcomes={"passed": 1, "errors": 1}, finals={1: "kept", 2: "destroyed"}, error="timed out"),
    Case("degraded", world=("--degraded-clusters", "1"), harness=("--install-timeout", "3"),
         outcomes={"passed": 1, "errors": 1}, finals={1: "kept", 2: "destroyed"},
         error="Degraded=True (UnavailableReplicas)"),
    Case("failed-destroy", world=("--destroy-fail-clusters", "1"), harness=("--destroy-timeout", "2"),
         outcomes={"passed": 2, "errors": 1}, finals={1: "pending_deletion", 2: "destroyed"},
         error="destroy command"),
]


# ------------------------------------------------------------------------------ helpers
def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def hosted_clusters(world_dir: Path) -> dict[str, dict]:
    api = k8s_config.new_client_from_config(config_file=str(world_dir / "kubeconfig"))
    try:
        items = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
            "hypershift.openshift.io", "v1beta1", "clusters", "hostedclusters")["items"]
    finally:
        api.close()
    return {i["metadata"]["name"]: i for i in items}


def set_faults(world_dir: Path, doc: dict, timeout: float = 10.0) -> dict:
    """Write ``DIR/faults.json`` and wait (bounded) until the world confirms it in faults-active.json."""
    active = world_dir / "faults-active.json"
    before = json.loads(active.read_text())["generation"] if active.exists() else 0
    tmp = world_dir / "faults.json.tmp"
    tmp.write_text(json.dumps(doc))
    tmp.replace(world_dir / "faults.json")
    return wait_for(lambda: (lambda a: a if a["generation"] > before else None)(json.loads(active.read_text())),
                      timeout, "the world to apply faults.json")


def outage_when_requested(run_dir: Path, world_dir: Path, doc: dict) -> tuple[threading.Thread, dict]:
    """In the background: once the run's first create is requested, start the outage ``doc`` (bounded).

    The CLI (not faulted) is then creating the cluster; the harness's wait for it starts during the outage."""
    seen: dict = {}

    def go():
        ledger = run_dir / "ledger.jsonl"
        try:
            wait_for(lambda: ledger.exists() and '"event": "create_requested"' in ledger.read_text(),
                       120, "a create request", interval=0.02)
            seen["applied"] = set_faults(world_dir, doc)
            seen["restored"] = wait_for(
                lambda: (lambda a: a if a["source"] == "serve" else None)(
                    json.loads((world_dir / "faults-active.json").read_text())), 60, "the outage to end")
        except (AssertionError, OSError, ValueError) as exc:
            seen["error"] = str(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, seen


def check_phases_match_ground_truth(path: Path, world_dir: Path, clusters: list[dict]) -> None:
    truth = jsonl(world_dir / "transitions.jsonl")
    docs = {(d.get("cluster_name"), d["operation"]): d for d in jsonl(path / "documents.jsonl")}
    for cluster in clusters:
        mine = [t for t in truth if t["cluster"] == cluster["name"]]
        phase = {t["phase"]: t for t in mine if "node" not in t}
        doc = docs[(cluster["name"], "install")]
        assert doc["hc_created"] is not None
        assert doc["control_plane_available"] == phase["control_plane_available"]["time"]
        assert doc["nodepools_ready"] == max((t["time"] for t in mine if t["phase"] == "nodepool_ready"), key=ts)
        assert doc["workers_ready"] == max((t["time"] for t in mine if t["phase"] == "node_ready"), key=ts)
        assert doc["install_completed"] == phase["install_completed"]["time"]
        assert cluster["timings"]["install_completed"] == phase["install_completed"]["time"]
        if cluster["final"] == "destroyed":
            # an observation (watch event or relist), not an API timestamp: after the object went, never before
            deleted = docs[(cluster["name"], "destroy")]["deleted"]
            assert ts(deleted) >= int(phase["deleted"]["ts"]) - 1


def check_accounted(path: Path, world_dir: Path, data: dict, case: Case) -> None:
    """Nothing lost, nothing leaked: the summary, the ledger, the folders and the API agree."""
    by_index = {c["index"]: c for c in data["clusters"]}
    assert {i: c["final"] for i, c in by_index.items()} == case.finals
    on_api = set(hosted_clusters(world_dir))
    must_remain = {c["name"] for c in data["clusters"] if c["final"] in ("kept", "pending_deletion")}
    assert on_api == must_remain, "the management cluster holds exactly the kept and pending clusters"
    assert sorted(data["kept"]) == sorted(c["name"] for c in data["clusters"] if c["final"] == "kept")
    assert sorted(data["pending_deletion"]) == sorted(
        c["name"] for c in data["clusters"] if c["final"] == "pending_deletion")
    ledger = jsonl(path / "ledger.jsonl")
    spooled = {(d.get("cluster_name"), d["operation"]) for d in jsonl(path / "documents.jsonl")}
    for cluster in data["clusters"]:
        folder = path / cluster["name"]
        events = [e["event"] for e in ledger if e["cluster"] == cluster["name"]]
        assert events[0] == "create_requested", events
        assert (folder / "create.log").stat().st_size > 0, "the CLI's output stays in the cluster's folder"
        final = cluster["final"]
        if final == "destroyed":
            assert cluster["outcome"] == "passed" and events[-1] == "destroyed"
            assert "# " in (folder / "destroy.log").read_text()
        else:
            if case.error:
                assert case.error in (cluster["error"] or ""), cluster["error"]
            if case.create_log:
                assert case.create_log in (folder / "create.log").read_text()
        if final == "kept":
            assert cluster["outcome"] == "failed" and "kept" in events
            assert (folder / "dump" / "hypershift-dump.tar.gz").stat().st_size > 0
            assert (folder / "dump.log").exists()
        if final == "pending_deletion":
            assert "destroy_failed" in events and (folder / "destroy.log").stat().st_size > 0
        if final == "not_created":
            assert events[-1] == "create_failed" and not (folder / "dump").exists()
        for meta in folder.glob("metadata_*.json"):  # on disk in the folder and in the spool
            doc = json.loads(meta.read_text())
            assert (doc["cluster_name"], doc["operation"]) in spooled, meta


# ------------------------------------------------------------------------------ the table
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(scale_project, sim_world, tmp_path, case: Case):
    world = sim_world(*case.world)
    path = tmp_path / "run"
    outage = outage_when_requested(path, world.dir, case.outage) if case.outage else None
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--path", str(path), "--sim-dir", str(world.dir), "--cluster-count", str(case.count),
        "--workers", "2", *(("-n", "2") if case.xdist else ()), *case.harness, timeout=300)
    result.assert_outcomes(**case.outcomes)
    data = summary(path)
    check_accounted(path, world.dir, data, case)
    if case.exact_phases:
        check_phases_match_ground_truth(path, world.dir, data["clusters"])
    if case.counter:  # the fault really happened (the counters are refreshed every second)
        wait_for(lambda: json.loads((world.dir / "faults-active.json").read_text())["counters"][case.counter] > 0,
                   10, case.counter)
    if outage is not None:
        thread, seen = outage
        thread.join(60)
        assert "error" not in seen, seen
        assert seen["applied"]["api"]["error_rate"] == 1.0 and seen["applied"]["until"]
        assert seen["restored"]["counters"]["injected_errors"] > 0, "the outage hit the harness"
    if case.id == "degraded":
        kept = data["kept"][0]
        hc = hosted_clusters(world.dir)[kept]
        degraded = next(c for c in hc["status"]["conditions"] if c["type"] == "Degraded")
        available = next(c for c in hc["status"]["conditions"] if c["type"] == "Available")
        assert degraded["status"] == "True" and degraded["reason"] == "UnavailableReplicas"
        assert available["status"] == "False"
        assert any(t["phase"] == "degraded" and t["cluster"] == kept for t in jsonl(world.dir / "transitions.jsonl"))


def test_elasticsearch_429s_are_retried_and_nothing_is_lost(scale_project, sim_world, tmp_path):
    world = sim_world()
    path = tmp_path / "run"
    with FakeElasticsearch() as es:
        es.faults.set(status=429, count=3, paths=["/_bulk"])
        result = scale_project.runpytest_subprocess(
            "tests_scale", "--path", str(path), "--sim-dir", str(world.dir), "--cluster-count", "2",
            "--es-url", es.url, "--es-index", "timings", timeout=300)
        result.assert_outcomes(passed=2)
        spooled = jsonl(path / "documents.jsonl")
        from plugins.documents import doc_id

        assert set(es.documents("timings")) == {doc_id(d) for d in spooled} and len(spooled) == 5
        assert es.faults.injected == 3
    result.stdout.fnmatch_lines(["Elasticsearch * index timings: 5 of 5 documents uploaded"])
    check_accounted(path, world.dir, summary(path), Case("es-429"))


# ------------------------------------------------------------------------------ the world's own fault control
def test_faults_json_changes_api_faults_at_run_time(sim_world):
    import requests

    world = sim_world("--api-delay", "0")
    kube = yaml_kubeconfig(world.dir)
    url = f"{kube['server']}/api/v1/namespaces/clusters/configmaps"
    headers = {"Authorization": f"Bearer {kube['token']}"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    active = set_faults(world.dir, {"api": {"error_rate": 1.0, "error_code": 500, "verbs": "list"},
                                    "for_seconds": 1.5})
    assert active["source"] == "faults.json" and active["api"]["verbs"] == ["list"]
    assert requests.get(url, headers=headers, timeout=5).status_code == 500
    # the simulated operator is never faulted, the stand-in CLI is: its User-Agent is hypershift's
    agent = requests.get(url, headers=dict(headers, **{"User-Agent": "hypershift-operator/sim"}), timeout=5)
    assert agent.status_code == 200
    restored = wait_for(lambda: (lambda a: a if a["source"] == "serve" else None)(
        json.loads((world.dir / "faults-active.json").read_text())), 15, "the outage to end")
    assert restored["api"]["error_rate"] == 0.0 and restored["counters"]["injected_errors"] >= 1
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    # an invalid file is reported and changes nothing; removing the file restores the start-up faults
    bad = set_faults(world.dir, {"api": {"error_rate": 2}})
    assert "error_rate" in bad["error"] and bad["api"]["error_rate"] == 0.0
    set_faults(world.dir, {"api": {"watch_gone_rate": 1.0}})
    r = requests.get(url, params={"watch": "true", "resourceVersion": "1", "timeoutSeconds": "5"}, headers=headers,
                     timeout=10)
    event = json.loads(r.text.splitlines()[0])
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    gen = json.loads((world.dir / "faults-active.json").read_text())["generation"]
    (world.dir / "faults.json").unlink()
    back = wait_for(lambda: (lambda a: a if a["generation"] > gen else None)(
        json.loads((world.dir / "faults-active.json").read_text())), 10, "the world to notice the removal")
    assert back["source"] == "serve" and back["api"]["watch_gone_rate"] == 0.0
    assert json.loads((world.dir / "world.json").read_text())["faults"]["api"]["error_code"] == 503


def yaml_kubeconfig(world_dir: Path) -> dict:
    import yaml

    kc = yaml.safe_load((world_dir / "kubeconfig").read_text())
    return {"server": kc["clusters"][0]["cluster"]["server"], "token": kc["users"][0]["user"]["token"]}


def test_harness_sim_options_reach_the_world_it_starts(scale_project, tmp_path):
    """--sim-cli-crash-clusters / --sim-degraded-clusters / --sim-api-error-rate configure the run's own world."""
    path = tmp_path / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--path", str(path), "--sim-speed", "3000", "--cluster-count", "3", "--install-timeout", "3",
        "--sim-cli-crash-clusters", "1", "--sim-degraded-clusters", "2", "--sim-api-error-rate", "0.2", timeout=120)
    result.assert_outcomes(passed=1, errors=2)
    world = json.loads((path / "sim" / "world.json").read_text())
    assert world["faults"]["api"]["error_rate"] == 0.2
    by_index = {c["index"]: c for c in summary(path)["clusters"]}
    assert [by_index[i]["final"] for i in (1, 2, 3)] == ["kept", "kept", "destroyed"]
    assert "create command exited 2" in by_index[1]["error"]
    assert "Degraded=True (UnavailableReplicas)" in by_index[2]["error"]
