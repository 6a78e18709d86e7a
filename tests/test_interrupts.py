"""Interrupted runs leave no cluster unaccounted for, and ``--only-delete-clusters`` removes what they left.

Each test runs the scale tests in a pytester subprocess with real xdist workers on the simulated world,
interrupts it the way people and machines do (Ctrl-C, SIGTERM, ``kill -9`` of a worker, ``-x``), and
checks the ledger, summary.json and the terminal summary: every cluster the run created ends destroyed,
kept, or pending deletion, and the summary prints the command that deletes what is left.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from plugins import options
from plugins.reporting import delete_command
from tests.simworld import interruptible, wait_for
from tests.test_run import SPEED, hc_names, ledger, run_scale, summary

WAIT = 60.0  # bound on waiting for a run to reach the state a test interrupts it in


class Run:
    """A scale run in the background (``pytest tests_scale ...``) that a test can signal."""

    def __init__(self, project: pytest.Pytester, path: Path, *args: str):
        self.path = path
        world = [] if "--sim-dir" in args else ["--sim-speed", SPEED]
        self.out_path = path.parent / f"{path.name}.out"
        self.out = open(self.out_path, "wb")
        self.proc = project.popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests_scale",
                                   "--path", str(path), *world, *args], stdout=self.out, stderr=subprocess.STDOUT,
                                  preexec_fn=interruptible)

    def events(self) -> list[dict]:
        try:
            return ledger(self.path)
        except (FileNotFoundError, json.JSONDecodeError):
            return []

    def reached(self, wanted: dict[int, str]) -> bool:
        """Whether cluster index -> ledger event has happened for every entry of ``wanted``."""
        seen = {(e.get("index"), e["event"]) for e in self.events()}
        return all((index, event) in seen for index, event in wanted.items())

    def wait(self, wanted: dict[int, str]) -> None:
        def check():
            assert self.proc.poll() is None, f"the run ended early:\n{self.output()}"
            return self.reached(wanted)

        wait_for(check, WAIT, f"ledger events {wanted}", interval=0.1)

    def finish(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.out.close()

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def name(self, index: int) -> str:
        return next(e["cluster"] for e in self.events() if e.get("index") == index)


def finals(path: Path) -> dict[str, str]:
    """Last decisive ledger event of every cluster that may exist (create requested)."""
    out: dict[str, str] = {}
    for e in ledger(path):
        if e["event"] == "create_requested":
            out.setdefault(e["cluster"], "open")
        if e["event"] in ("destroyed", "kept", "pending_deletion", "destroy_failed", "create_failed"):
            out[e["cluster"]] = e["event"]
    return out


def assert_accounted(path: Path, result_output: str) -> dict:
    """Every cluster the run asked for has a final state in the ledger and in summary.json."""
    data = summary(path)
    ends = finals(path)
    assert "open" not in ends.values(), ends
    by_name = {c["name"]: c for c in data["clusters"]}
    for name, event in ends.items():
        expected = {"destroyed": "destroyed", "kept": "kept", "pending_deletion": "pending_deletion",
                    "destroy_failed": "pending_deletion", "create_failed": "not_created"}[event]
        assert by_name[name]["final"] == expected, (name, by_name[name])
    left = sorted(n for n, c in by_name.items() if c["final"] in ("kept", "pending_deletion"))
    assert sorted(data["left"]) == left
    if left:
        assert data["delete_command"].startswith("pytest tests_scale --only-delete-clusters --path ")
        assert data["delete_command"] in result_output
        assert f"{len(left)} cluster(s) left on the management cluster; delete them with:" in result_output
    return data


# ------------------------------------------------------------------------------
def interrupt_mid_install(project, path: Path, sig: signal.Signals) -> tuple[Run, dict]:
    """Three clusters on three workers: 1 finishes, 2 and 3 never do; interrupt the controller."""
    run = Run(project, path, "--cluster-count", "3", "-n", "3", "--sim-stuck-clusters", "2,3")
    run.wait({1: "destroyed", 2: "created", 3: "created"})
    run.proc.send_signal(sig)
    ret = run.finish()
    out = run.output()
    assert ret == pytest.ExitCode.INTERRUPTED, out
    data = assert_accounted(path, out)
    assert data["pending_deletion"] == sorted([run.name(2), run.name(3)])
    assert data["counts"]["destroyed"] == 1 and data["counts"]["pending_deletion"] == 2
    for index in (2, 3):
        entry = next(c for c in data["clusters"] if c["index"] == index)
        assert entry["events"][-1] == "pending_deletion", entry
        assert "interrupted" in entry["error"] or "not finished" in entry["error"], entry
    return run, data


def test_ctrl_c_to_the_controller_records_every_cluster(scale_project, tmp_path):
    path = tmp_path / "run"
    run, data = interrupt_mid_install(scale_project, path, signal.SIGINT)
    # the run started its own world: the command starts it again from its saved state
    assert data["delete_command"] == f"pytest tests_scale --only-delete-clusters --path {path}"
    assert "pending_deletion" in run.output()


def test_sigterm_behaves_like_ctrl_c_and_the_printed_command_deletes_the_leftovers(scale_project, tmp_path):
    path = tmp_path / "run"
    run, data = interrupt_mid_install(scale_project, path, signal.SIGTERM)
    assert "KeyboardInterrupt" in run.output()  # pytest's interrupted-session path, not a bare kill
    created_before = [e for e in ledger(path) if e["event"] == "create_requested"]

    argv = shlex.split(data["delete_command"])
    assert argv[:2] == ["pytest", "tests_scale"]
    result = scale_project.runpytest_subprocess(*argv[1:], "-v", timeout=120)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"*test_delete_cluster?{run.name(2)}? PASSED*",
                                 f"*test_delete_cluster?{run.name(3)}? PASSED*"])
    assert [e for e in ledger(path) if e["event"] == "create_requested"] == created_before
    after = summary(path)
    assert after["left"] == [] and after["delete_command"] is None
    assert {c["name"]: c["final"] for c in after["clusters"]} == {run.name(1): "destroyed", run.name(2): "destroyed",
                                                                   run.name(3): "destroyed"}
    # the original run's records survive; the deletion adds its own timings
    by_index = {c["index"]: c for c in after["clusters"]}
    assert by_index[1]["timings"] == next(c for c in data["clusters"] if c["index"] == 1)["timings"]
    assert by_index[2]["timings"]["destroy_s"] >= 0 and by_index[2]["deleted_by"] == "--only-delete-clusters"
    assert json.loads((path / run.name(2) / "metadata_destroy.json").read_text())["status"] == "success"


def test_kill_9_of_a_worker_leaves_its_cluster_pending_deletion(scale_project, tmp_path):
    path = tmp_path / "run"
    run = Run(scale_project, path, "--cluster-count", "2", "-n", "2", "--sim-stuck-clusters", "1")
    run.wait({1: "created"})
    victim = next(e for e in run.events() if e.get("index") == 1 and e["event"] == "created")
    assert victim["worker"].startswith("gw")
    os.kill(victim["pid"], signal.SIGKILL)
    ret = run.finish()
    out = run.output()
    assert ret == pytest.ExitCode.TESTS_FAILED, out
    assert "crashed while running" in out
    data = assert_accounted(path, out)
    lost = run.name(1)
    assert data["pending_deletion"] == [lost] and data["kept"] == []
    last = [e for e in ledger(path) if e["cluster"] == lost][-1]
    assert last["event"] == "pending_deletion" and last["worker"] == "controller"
    assert "worker crashed while running" in last["reason"] and "perfsc-0001" in last["reason"]
    assert data["counts"]["destroyed"] == 1  # the other worker's cluster


def test_exitfirst_stops_early_and_accounts_for_the_clusters_in_flight(scale_project, tmp_path):
    path = tmp_path / "run"
    result = run_scale(scale_project, "--cluster-count", "4", "-n", "2", "-x", "--sim-fail-clusters", "1", path=path)
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    out = result.stdout.str()
    data = assert_accounted(path, out)
    failed = next(c for c in data["clusters"] if c["index"] == 1)
    assert failed["final"] == "kept"
    assert len(data["clusters"]) < 4 or all(c["final"] in ("destroyed", "kept") for c in data["clusters"])
    assert "pending_deletion" not in {c["final"] for c in data["clusters"]}


def test_only_delete_clusters_destroys_what_a_run_left_and_creates_nothing(scale_project, tmp_path, sim_world):
    world = sim_world("--fail-clusters", "1", "--stuck-clusters", "2")
    path = tmp_path / "run"
    run = Run(scale_project, path, "--cluster-count", "3", "-n", "3", "--sim-dir", str(world.dir))
    run.wait({1: "kept", 2: "created", 3: "destroyed"})
    run.proc.send_signal(signal.SIGINT)
    assert run.finish() == pytest.ExitCode.INTERRUPTED
    first = assert_accounted(path, run.output())
    kept, pending = run.name(1), run.name(2)
    assert first["kept"] == [kept] and first["pending_deletion"] == [pending]
    assert first["delete_command"] == (f"pytest tests_scale --only-delete-clusters --path {path} "
                                       f"--sim-dir {world.dir}")
    # one more cluster named after the seed, made by someone else, and one that is not
    for name in ("perfsc-zz9-0001", "other-0001"):
        assert world.cli(*world.create_args(name, 1)).returncode == 0
    assert hc_names(world.dir) == {kept, pending, "perfsc-zz9-0001", "other-0001"}
    created_before = len([e for e in ledger(path) if e["event"] == "create_requested"])

    result = scale_project.runpytest_subprocess("tests_scale", "--only-delete-clusters", "--path", str(path),
                                                "--sim-dir", str(world.dir), "--cluster-name-seed", "perfsc",
                                                "-n", "2", "-v", timeout=120)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*--only-delete-clusters*3 cluster(s) to delete, nothing is created*"])
    for name in (kept, pending, "perfsc-zz9-0001"):
        result.stdout.fnmatch_lines([f"*PASSED*test_delete_cluster?{name}?*"])
    assert "test_hosted_cluster" not in result.stdout.str()
    assert hc_names(world.dir) == {"other-0001"}
    events = ledger(path)
    assert len([e for e in events if e["event"] == "create_requested"]) == created_before
    for name in (kept, pending, "perfsc-zz9-0001"):
        assert [e["event"] for e in events if e["cluster"] == name][-2:] == ["destroy_requested", "destroyed"]
    after = summary(path)
    assert after["left"] == [] and after["only_delete_clusters"]["destroyed"] == sorted(
        [kept, pending, "perfsc-zz9-0001"])


def test_only_delete_clusters_with_nothing_left_runs_no_test(scale_project, tmp_path, sim_world):
    world = sim_world()
    path = tmp_path / "run"
    run_scale(scale_project, "--cluster-count", "1", "--sim-dir", str(world.dir), path=path).assert_outcomes(passed=1)
    assert summary(path)["delete_command"] is None
    result = scale_project.runpytest_subprocess("tests_scale", "--only-delete-clusters", "--path", str(path),
                                                "--sim-dir", str(world.dir))
    assert "0 cluster(s) to delete" in result.stdout.str()
    assert "test_hosted_cluster" not in result.stdout.str()


@pytest.mark.parametrize("prepare, message", [
    (None, "--only-delete-clusters: no run in --path"),
    ("empty", "--only-delete-clusters: no run in --path"),
    ("no-ledger", "created no cluster (no ledger.jsonl)"),
    ("no-world", "did not start its own simulated world"),
], ids=["nonexistent", "empty", "no-ledger", "no-world"])
def test_only_delete_clusters_without_a_run_is_a_usage_error(scale_project, tmp_path, prepare, message):
    path = tmp_path / "run"
    if prepare:
        path.mkdir()
    if prepare in ("no-ledger", "no-world"):
        (path / "uuid").write_text("run-1\n")
    if prepare == "no-world":
        (path / "ledger.jsonl").write_text("")
    before = sorted(p.name for p in path.iterdir()) if path.exists() else None
    result = scale_project.runpytest_subprocess("tests_scale", "--only-delete-clusters", "--path", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert message in err and "Traceback" not in err + result.stdout.str()
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert (sorted(p.name for p in path.iterdir()) if path.exists() else None) == before


def test_delete_command_names_the_platform_options_but_no_secret():
    settings = options.Settings(
        platform="hypershift", cluster_name_seed="perfsc", name_prefix="perfsc", cluster_count=1, workers=[3],
        batch_size=0, delay_between_batch=0.0, watcher_delay=60.0, install_timeout=3600.0, destroy_timeout=600.0,
        uuid="u", path="/tmp/u", cleanup=False, keep_clusters="on-failure", wildcard_options=[], release_image=None,
        sim_dir=None, sim_speed=300.0, sim_seed=0, sim_fail_clusters=[], sim_failure_rate=0.0, sim_stuck_clusters=[],
        sim_destroy_fail_clusters=[], mgmt_kubeconfig="/k/mgmt kubeconfig", pull_secret_file="/k/ps.json",
        aws_account_file="/k/creds", aws_profile="perfci", ocm_token="s3cret-token")
    command = delete_command(settings, "/tmp/my run")
    assert shlex.split(command) == [
        "pytest", "tests_scale", "--only-delete-clusters", "--path", "/tmp/my run", "--platform", "hypershift",
        "--mgmt-kubeconfig", "/k/mgmt kubeconfig", "--pull-secret-file", "/k/ps.json",
        "--aws-account-file", "/k/creds", "--aws-profile", "perfci", "--destroy-timeout", "10m0s"]
    assert "s3cret" not in command
