"""The run directory's ledger under concurrent writers, and cleanup that spares kept clusters."""
from __future__ import annotations

import json
import multiprocessing
import os

from plugins.rundir import RunDir


def _writer(path, worker, count):
    run = RunDir(path)
    for i in range(count):
        run.record("created", f"w{worker}-{i:04d}", index=i, note="x" * 2000)


def test_ledger_lines_never_interleave_across_processes(tmp_path):
    procs = [multiprocessing.Process(target=_writer, args=(tmp_path, w, 100)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = (tmp_path / "ledger.jsonl").read_text().splitlines()
    assert len(lines) == 400
    entries = [json.loads(line) for line in lines]
    assert {e["cluster"] for e in entries} == {f"w{w}-{i:04d}" for w in range(4) for i in range(100)}


def test_final_state_per_cluster(tmp_path):
    run = RunDir(tmp_path)
    run.record("create_requested", "a")
    run.record("created", "a")
    run.record("ready", "a")
    run.record("destroy_requested", "a")
    run.record("destroyed", "a")
    run.record("create_requested", "b")
    run.record("created", "b")
    run.record("failed", "b")
    run.record("kept", "b")
    run.record("create_requested", "c")
    run.record("created", "c")                   # the process died here
    run.record("create_requested", "d")
    run.record("create_failed", "d")
    run.record("create_requested", "e")
    run.record("created", "e")
    run.record("destroy_requested", "e")
    run.record("destroy_failed", "e")
    finals = {name: c["final"] for name, c in run.clusters().items()}
    assert finals == {"a": "destroyed", "b": "kept", "c": "pending_deletion", "d": "not_created",
                      "e": "pending_deletion"}


def test_torn_last_line_is_ignored(tmp_path):
    run = RunDir(tmp_path)
    run.record("created", "a")
    with open(tmp_path / "ledger.jsonl", "a") as fh:
        fh.write('{"event": "destr')
    assert [e["cluster"] for e in run.events()] == ["a"]


def test_cleanup_spares_kept_clusters_and_the_files_that_find_them(tmp_path):
    run = RunDir(tmp_path / "run")
    run.prepare("u1", "perfsc")
    for name in ("perfsc-abc-0001", "perfsc-abc-0002"):
        (run.cluster_dir(name) / "create.log").write_text("log")
    run.record("kept", "perfsc-abc-0002")
    kept = run.cleanup(["perfsc-abc-0002"])
    assert "perfsc-abc-0002" in kept
    assert not (run.path / "perfsc-abc-0001").exists()
    assert (run.path / "perfsc-abc-0002" / "create.log").exists()
    assert (run.path / "ledger.jsonl").exists()


def test_cleanup_without_kept_clusters_removes_everything(tmp_path):
    run = RunDir(tmp_path / "run")
    run.prepare("u1", "perfsc")
    run.cluster_dir("perfsc-abc-0001")
    assert run.cleanup([]) == []
    assert not run.path.exists()


def test_private_files_are_0600(tmp_path):
    from plugins.rundir import write_private

    write_private(tmp_path / "kubeconfig", "secret")
    assert oct(os.stat(tmp_path / "kubeconfig").st_mode & 0o777) == "0o600"
