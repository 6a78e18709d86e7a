"""End-to-end runs of the scale tests on the simulated world, through pytester subprocesses.

Each test runs ``pytest`` the way a user does (real xdist workers where it
matters) against a simulated management cluster at high speed, then checks
what the run left behind: the run directory, the ledger, summary.json, and the
simulated API itself.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

SPEED = "3000"  # simulated seconds per real second: a cluster's whole life takes a few real seconds


def ts(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run_scale(project: pytest.Pytester, *args: str, path: Path, timeout: float = 300) -> pytest.RunResult:
    world = [] if "--sim-dir" in args else ["--sim-speed", SPEED]
    return project.runpytest_subprocess("tests_scale", "--path", str(path), *world, *args, timeout=timeout)


def summary(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())


def ledger(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "ledger.jsonl").read_text().splitlines()]


def overlaps(intervals: list[tuple[float, float]]) -> int:
    """Largest number of intervals open at one instant."""
    points = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    best = cur = 0
    for _, step in points:
        cur += step
        best = max(best, cur)
    return best


def mgmt_api(folder: Path) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(k8s_config.new_client_from_config(config_file=str(folder / "kubeconfig")))


def hc_names(folder: Path) -> set[str]:
    items = mgmt_api(folder).list_namespaced_custom_object("hypershift.openshift.io", "v1beta1", "clusters",
                                                           "hostedclusters")["items"]
    return {i["metadata"]["name"] for i in items}


# ------------------------------------------------------------------------------
def test_ids_are_stable_and_lf_and_k_rerun_exactly_those_clusters(scale_project, tmp_path):
    first = tmp_path / "first"
    result = run_scale(scale_project, "--cluster-count", "3", "--sim-fail-clusters", "2", "-v", path=first)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test_hosted_cluster?perfsc-0001? PASSED*",
                                 "*test_hosted_cluster?perfsc-0002? ERROR*",
                                 "*test_hosted_cluster?perfsc-0003? PASSED*"])
    kept_name = summary(first)["kept"][0]
    assert kept_name.startswith("perfsc-") and kept_name.endswith("-0002") and len(kept_name) <= 15

    again = tmp_path / "again"
    result = run_scale(scale_project, "--cluster-count", "3", "--lf", "-v", path=again)
    result.assert_outcomes(passed=1)
    assert summary(again)["requested"] == 1
    result.stdout.fnmatch_lines(["*test_hosted_cluster?perfsc-0002? PASSED*"])
    rerun = summary(again)["clusters"]
    assert [c["test_id"].split("[")[1] for c in rerun] == ["perfsc-0002]"]
    assert rerun[0]["name"] != kept_name, "a rerun must never reuse the name of a kept cluster"

    chosen = tmp_path / "chosen"
    result = run_scale(scale_project, "--cluster-count", "3", "-k", "perfsc-0003", "-v", path=chosen)
    result.assert_outcomes(passed=1, deselected=2)
    assert [c["index"] for c in summary(chosen)["clusters"]] == [3]
    assert summary(chosen)["requested"] == 1


def test_xdist_workers_run_clusters_concurrently(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "6", "-n", "3", "--workers", "1,2", path=path)
    result.assert_outcomes(passed=6, warnings=0)  # no plugin imported before pytest registers it
    events = ledger(path)
    life = {}
    for e in events:
        if e["event"] == "create_requested":
            life.setdefault(e["cluster"], [ts(e["time"]), None])
        if e["event"] == "destroyed":
            life[e["cluster"]][1] = ts(e["time"])
    assert len(life) == 6 and all(end for _, end in life.values())
    # one cluster per xdist worker at a time, and the workers really ran side by side
    assert overlaps([tuple(v) for v in life.values()]) == 3
    pids = {e["pid"] for e in events if e["event"] == "create_requested"}
    assert len(pids) == 3
    data = summary(path)
    assert data["counts"]["ready"] == 6 and data["counts"]["destroyed"] == 6
    assert sorted(c["workers"] for c in data["clusters"]) == [1, 1, 1, 2, 2, 2]


def test_batch_window_holds_across_workers(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "6", "-n", "4", "--batch-size", "2",
                       "--delay-between-batch", "3", path=path)
    result.assert_outcomes(passed=6)
    starts = sorted(ts(e["time"]) for e in ledger(path) if e["event"] == "create_requested")
    assert len(starts) == 6
    for s in starts:
        assert len([x for x in starts if s <= x < s + 3 - 0.05]) <= 2, starts
    assert starts[-1] - starts[0] >= 6 - 0.1  # three windows for six clusters
    waits = [c["timings"]["batch_wait_s"] for c in summary(path)["clusters"]]
    # the two workers that asked while the first window was full waited for the next one
    assert sum(1 for w in waits if w > 1) >= 2


def test_batch_size_alone_caps_clusters_installing_at_once(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "6", "-n", "4", "--batch-size", "2", path=path)
    result.assert_outcomes(passed=6)
    installing = {}
    for e in ledger(path):
        if e["event"] == "create_requested":
            installing[e["cluster"]] = [ts(e["time"]), None]
        if e["event"] in ("ready", "failed"):
            installing[e["cluster"]][1] = ts(e["time"])
    assert overlaps([tuple(v) for v in installing.values()]) == 2


def test_failed_cluster_is_kept_with_a_dump_and_the_others_destroyed(scale_project, tmp_path, sim_world):
    world = sim_world("--fail-clusters", "2")
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "3", "--sim-dir", str(world.dir), "-n", "2", path=path)
    result.assert_outcomes(passed=2, errors=1)
    data = summary(path)
    by_index = {c["index"]: c for c in data["clusters"]}
    failed = by_index[2]
    assert failed["final"] == "kept" and failed["outcome"] == "failed"
    assert "InfraStatusFailure" in failed["error"] or "InvalidIAMRole" in failed["error"]  # the world's failure modes
    assert data["kept"] == [failed["name"]] and data["pending_deletion"] == []
    # still on the management cluster, the others gone
    assert hc_names(world.dir) == {failed["name"]}
    folder = path / failed["name"]
    assert (folder / "dump" / "hypershift-dump.tar.gz").stat().st_size > 0
    assert (folder / "create.log").exists() and (folder / "metadata_install.json").exists()
    install_doc = json.loads((folder / "metadata_install.json").read_text())
    assert install_doc["status"] == "failed" and install_doc["operation"] == "install"
    for index in (1, 3):
        ok = by_index[index]
        assert ok["final"] == "destroyed" and ok["outcome"] == "passed"
        doc = json.loads((path / ok["name"] / "metadata_destroy.json").read_text())
        assert doc["status"] == "success" and doc["duration"] > 0
        assert (path / ok["name"] / "kubeconfig").stat().st_mode & 0o777 == 0o600
    events = [(e["cluster"], e["event"]) for e in ledger(path)]
    assert (failed["name"], "kept") in events
    assert [ev for name, ev in events if name == by_index[1]["name"]] == [
        "create_requested", "created", "ready", "destroy_requested", "destroyed"]
    # the terminal summary
    result.stdout.fnmatch_lines(["*hosted clusters*", "requested 3  ready 2  failed 1  kept 1  destroyed 2*",
                                 f"*kept*{failed['name']}*"])


def test_summary_json_and_timings(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "2", "--workers", "2", "--uuid", "run-abc", path=path)
    result.assert_outcomes(passed=2)
    data = summary(path)
    assert data["uuid"] == "run-abc" and data["requested"] == 2 and data["platform"]["simulated"] is True
    assert (path / "uuid").read_text().strip() == "run-abc"
    assert (path / "cluster_name_seed").read_text().strip() == "perfsc"
    truth = [json.loads(line) for line in (path / "sim" / "transitions.jsonl").read_text().splitlines()]
    for cluster in data["clusters"]:
        t = cluster["timings"]
        assert cluster["outcome"] == "passed" and cluster["final"] == "destroyed"
        mine = {e["phase"]: e["time"] for e in truth if e["cluster"] == cluster["name"] and "node" not in e}
        assert t["control_plane_available"] == mine["control_plane_available"]
        assert t["install_completed"] == mine["install_completed"]
        assert t["hc_created"] <= t["control_plane_available"] <= t["install_completed"]
        assert t["workers_ready_count"] == 2
        for key in ("create_cli_s", "install_s", "control_plane_s", "workers_s", "destroy_s"):
            assert isinstance(t[key], (int, float)) and t[key] >= 0, key
        # ready_s runs from our own clock (create requested) to an API timestamp, which has whole seconds
        assert t["ready_s"] >= -1.0


def test_pytest_timeout_keeps_and_records_the_cluster(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "1", "--sim-stuck-clusters", "1", "--timeout", "4",
                       path=path)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Timeout*"])
    cluster = summary(path)["clusters"][0]
    assert cluster["final"] == "kept" and cluster["phase"] == "installing"
    assert (path / cluster["name"] / "dump" / "hypershift-dump.tar.gz").exists()


def test_install_timeout_fails_and_keeps_a_stuck_cluster(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "2", "--sim-stuck-clusters", "2", "--install-timeout", "3",
                       path=path)
    result.assert_outcomes(passed=1, errors=1)
    by_index = {c["index"]: c for c in summary(path)["clusters"]}
    assert by_index[2]["final"] == "kept" and "timed out" in by_index[2]["error"]
    assert by_index[1]["final"] == "destroyed"


def test_failed_destroy_is_listed_for_later_deletion(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "1", "--sim-destroy-fail-clusters", "1",
                       "--destroy-timeout", "2", path=path)
    result.assert_outcomes(passed=1, errors=1)  # the test passed, its teardown failed
    data = summary(path)
    assert data["pending_deletion"] == [data["clusters"][0]["name"]]
    assert "wasn't finalized" in data["clusters"][0]["error"] or "destroy command" in result.stdout.str()
    result.stdout.fnmatch_lines(["*pending deletion 1*"])


@pytest.mark.parametrize("policy, fail, expected", [
    ("always", "", {1: "kept", 2: "kept"}),
    ("never", "2", {1: "destroyed", 2: "destroyed"}),
])
def test_keep_policy(scale_project, tmp_path, policy, fail, expected):
    path = tmp_path / "run"
    args = ["--cluster-count", "2", "--keep-clusters", policy]
    if fail:
        args += ["--sim-fail-clusters", fail]
    run_scale(scale_project, *args, path=path)
    finals = {c["index"]: c["final"] for c in summary(path)["clusters"]}
    assert finals == expected
    if fail:  # failed clusters are dumped even when they are destroyed afterwards
        name = [c["name"] for c in summary(path)["clusters"] if c["index"] == 2][0]
        assert (path / name / "dump" / "hypershift-dump.tar.gz").exists()


def test_cleanup_removes_the_run_directory_but_not_kept_clusters(scale_project, tmp_path):
    path = tmp_path / "run"
    run_scale(scale_project, "--cluster-count", "2", "--sim-fail-clusters", "1", "--cleanup", path=path)
    left = sorted(p.name for p in path.iterdir())
    kept = [name for name in left if name.startswith("perfsc-")]
    assert len(kept) == 1 and kept[0].endswith("-0001")
    assert (path / kept[0] / "dump").is_dir()
    assert "ledger.jsonl" in left  # the kept cluster can still be found and deleted later
    assert "report.html" in left and "timeline.svg" in left  # and the run's report tells what happened

    clean = tmp_path / "clean"
    run_scale(scale_project, "--cluster-count", "1", "--cleanup", path=clean)
    assert not clean.exists()


def test_watcher_reports_counts(scale_project, tmp_path):
    """Without a TTY (pytester's pipe): one plain line per --watcher-delay interval, never inside pytest's lines."""
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "2", "--watcher-delay", "0.5", "--sim-speed", "600",
                       "-n", "2", path=path)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*[[]watcher *installing *, ready *, failed *, deleting * (of 2 requested), gone *"])
    records = [json.loads(x) for x in (path / "watcher.jsonl").read_text().splitlines()]
    assert any(r["installing"] > 0 for r in records)
    assert (records[-1]["installing"], records[-1]["gone"]) == (0, 2)
    for r in records:
        assert len(r["slowest"]) == min(3, r["installing"]) and r["requested"] == 2
        assert all(s["name"].startswith("perfsc-") and s["age_s"] >= 0 for s in r["slowest"])
        assert [s["age_s"] for s in r["slowest"]] == sorted((s["age_s"] for s in r["slowest"]), reverse=True)
    assert any("; slowest: perfsc-" in line for line in result.stdout.lines)

    out = result.stdout.str()
    assert "\x1b" not in out
    shown = [line for line in result.stdout.lines if "[watcher " in line]
    assert all(line.startswith("[watcher ") for line in shown), "a status line inside pytest's output"
    assert len(shown) == len(records), "one line per report (the intervals and the final one)"
    span = ts(records[-1]["time"]) - ts(records[0]["time"])
    assert len(records) <= span / 0.5 + 2, "more than one line per --watcher-delay interval"


def test_runs_without_xdist_and_says_it_is_simulated(scale_project, tmp_path):
    result = run_scale(scale_project, "--cluster-count", "1", path=tmp_path / "run")
    result.assert_outcomes(passed=1, warnings=0)
    result.stdout.fnmatch_lines(["hcp-scale: platform sim: SIMULATED management cluster*"])


def test_harness_tests_do_not_start_a_world(scale_project, tmp_path):
    scale_project.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = scale_project.runpytest_subprocess("test_plain.py", "--path", str(tmp_path / "run"))
    result.assert_outcomes(passed=1)
    assert not (tmp_path / "run").exists()
