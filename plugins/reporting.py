"""What the run tells people: the report header, summary.json and the terminal summary.

Per-cluster records arrive with the teardown report of each test (from xdist
workers as plain JSON) and go through the ``pytest_hcp_cluster_result`` hook;
only the controller writes files and the summary.  The summary is built after
xdist has shut its workers down and the controller has recorded every
unfinished cluster as pending deletion, so it lists everything the run left
behind, with the command that removes it (``delete_command``).
"""
from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path

import pytest

from .options import OPTION_BY_DEST, Settings, get_settings, go_duration
from .rosa import shared_left
from .rundir import RunDir, isotime, write_json
from .session import CONTEXT_KEY, CONTROLLER_KEY, SELECTED_KEY, is_active, is_worker

log = logging.getLogger("hcp.reporting")

RESULTS_KEY = pytest.StashKey[dict]()
SUMMARY_KEY = pytest.StashKey[dict]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _controller_session(config: pytest.Config) -> bool:
    return is_active(config) and not is_worker(config) and CONTROLLER_KEY in config.stash


def pytest_report_header(config: pytest.Config) -> list[str]:
    ctx = config.stash.get(CONTEXT_KEY, None)
    if not _controller_session(config) or ctx is None:
        return []
    s = get_settings(config)
    where = ctx.platform.get("name", ctx.platform["kind"])
    if ctx.platform.get("simulated") and ctx.platform["kind"] == "rosa":
        where = f"{where}: a SIMULATED OCM and management cluster behind {ctx.platform['rosa_cli']}"
    elif ctx.platform.get("simulated"):
        where = f"SIMULATED management cluster (python -m sim serve, {s.sim_speed:g} simulated s per real s) " \
                f"at {ctx.platform['folder']}"
    if s.only_delete_clusters:
        targets = ctx.extras.get("delete") or []
        return [f"hcp-scale: platform {s.platform}: {where}",
                f"hcp-scale: --only-delete-clusters: run {s.uuid} in {ctx.path}: {len(targets)} cluster(s) to "
                f"delete, nothing is created" + (f" (also HostedClusters named {s.delete_name_prefix}-*)"
                                                if s.delete_name_prefix else "")]
    batch = f"batch size {s.batch_size or 'unlimited'}" + (
        f" per {s.delay_between_batch:g}s" if s.delay_between_batch else " installing at once" if s.batch_size else "")
    lines = [f"hcp-scale: platform {s.platform}: {where}",
             f"hcp-scale: run {s.uuid}, {s.cluster_count} cluster(s) named {ctx.name_prefix}-{ctx.run_part}-NNNN, "
             f"workers {','.join(map(str, s.workers))}, {batch}, keep {s.keep_clusters}",
             f"hcp-scale: run directory {ctx.path}"]
    if s.add_cluster_load:
        mgmt = ctx.extras.get("mgmt_prometheus")
        lines.append(f"hcp-scale: load {s.workload}, {s.cluster_load_jobs_per_worker} iterations per worker"
                     f" ± {s.cluster_load_job_variation}%, churn {go_duration(s.cluster_load_duration)}"
                     + (f", management metrics from {mgmt}" if mgmt else ""))
    lines += [f"hcp-scale: warning: {w}" for w in s.warnings]
    return lines


class _ResultForwarder:
    """Turns teardown reports that carry a cluster record into ``pytest_hcp_cluster_result`` calls."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = getattr(report, "hcp_cluster", None)
        if result is not None and report.when == "teardown":
            self.config.hook.pytest_hcp_cluster_result(config=self.config, result=result)


def pytest_configure(config: pytest.Config) -> None:
    if not is_worker(config):
        config.pluginmanager.register(_ResultForwarder(config), "hcp-result-forwarder")


def pytest_hcp_cluster_result(config: pytest.Config, result: dict) -> None:
    config.stash.setdefault(RESULTS_KEY, {})[result["name"]] = result


# Options a later --only-delete-clusters run needs to reach the same platform (secrets never: use the environment).
DELETE_COMMAND_OPTIONS = ("platform", "sim_dir", "mgmt_kubeconfig", "mgmt_cluster", "ocm_url", "ocm_cli",
                          "hypershift_cli", "hypershift_cli_version", "hypershift_image", "pull_secret_file",
                          "aws_account_file", "aws_profile", "sts_creds", "role_arn", "base_domain", "region",
                          "rosa_cli", "rosa_cli_version", "rosa_env", "rosa_subnet_ids", "rosa_poll_interval",
                          "destroy_timeout")


def delete_command(s: Settings, path: str) -> str:
    """The command that destroys what a run in ``path`` left behind.

    A simulated world started for the run (``<path>/sim``) is started again from
    its saved state by that command; a world given with --sim-dir must still be served.
    """
    argv = ["pytest", "tests_scale", "--only-delete-clusters", "--path", path]
    for dest in DELETE_COMMAND_OPTIONS:
        opt = OPTION_BY_DEST[dest]
        value = getattr(s, dest)
        default = opt.parse(opt.flag, opt.default) if opt.default is not None else None
        if value is None or value == default:
            continue
        if dest == "destroy_timeout":
            value = go_duration(value)
        elif isinstance(value, list):
            value = ",".join(map(str, value))
        argv += [opt.flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(argv)


def _previous_summary(run: RunDir) -> dict:
    try:
        data = json.loads(run.summary_path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def build_summary(config: pytest.Config) -> dict:
    """summary.json: the run and every cluster it touched, from the ledger and the test results."""
    s = get_settings(config)
    ctx = config.stash[CONTEXT_KEY]
    run = RunDir(ctx.path)
    results = config.stash.get(RESULTS_KEY, {})
    ledger = run.clusters()
    # --only-delete-clusters updates the run's summary: earlier records stay, the deletions amend them.
    before = _previous_summary(run) if s.only_delete_clusters else {}
    previous = {c["name"]: c for c in before.get("clusters", []) if isinstance(c, dict) and "name" in c}
    clusters = []
    for name in sorted(set(ledger) | set(results)):
        entry = dict(previous.get(name) or {})
        result = results.get(name)
        if result is not None:
            timings = {**entry.get("timings", {}), **result.get("timings", {})}
            entry.update(result)
            entry["timings"] = timings
            if previous.get(name) and s.only_delete_clusters:
                entry["outcome"] = previous[name].get("outcome", entry["outcome"])
                entry["deleted_by"] = "--only-delete-clusters"
        if not entry:
            entry = {"name": name, "outcome": "interrupted", "timings": {}}
        from_ledger = ledger.get(name)
        if from_ledger:
            entry.setdefault("index", from_ledger.get("index"))
            entry.setdefault("test_id", from_ledger.get("test_id"))
            entry["final"] = from_ledger["final"]  # the ledger has the last word: it outlives any process
            entry["events"] = from_ledger["events"]
            if entry["final"] == "pending_deletion" and not entry.get("error"):
                entry["error"] = from_ledger.get("reason")
        clusters.append(entry)
    counts = {key: 0 for key in ("ready", "failed", "kept", "destroyed", "pending_deletion", "not_created")}
    for entry in clusters:
        if "ready" in entry.get("events", []):
            counts["ready"] += 1
        if entry.get("outcome") != "passed":
            counts["failed"] += 1
        if entry.get("final") in counts:
            counts[entry["final"]] += 1
    platform = {k: ctx.platform.get(k) for k in ("kind", "name", "simulated", "folder")}
    left = [c["name"] for c in clusters if c.get("final") in ("kept", "pending_deletion")]
    summary = {
        "uuid": s.uuid, "cluster_name_seed": s.cluster_name_seed, "name_prefix": ctx.name_prefix,
        "run_part": ctx.run_part, "path": ctx.path, "platform": platform, "finished": isotime(),
        "requested": config.stash.get(SELECTED_KEY, s.cluster_count), "workers": s.workers, "keep_clusters": s.keep_clusters,
        "batch": {"size": s.batch_size, "delay_between_batch": s.delay_between_batch},
        "counts": counts, "clusters": clusters,
        "pending_deletion": [c["name"] for c in clusters if c.get("final") == "pending_deletion"],
        "kept": [c["name"] for c in clusters if c.get("final") == "kept"],
        "left": left,
        "delete_command": delete_command(s, ctx.path) if left else None,
    }
    if s.only_delete_clusters:
        summary["only_delete_clusters"] = {"targets": [t["name"] for t in ctx.extras.get("delete") or []],
                                           "destroyed": sorted(n for n, r in results.items()
                                                               if r.get("final") == "destroyed")}
        summary["run_part"] = before.get("run_part", "")
    return summary


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session):
    """After every other sessionfinish (xdist shuts its workers down there), before the terminal summary."""
    try:
        return (yield)
    finally:
        config = session.config
        if _controller_session(config) and CONTEXT_KEY in config.stash:
            config.stash[CONTROLLER_KEY].reconcile()
            summary = build_summary(config)
            config.stash[SUMMARY_KEY] = summary
            write_json(RunDir(summary["path"]).summary_path, summary)
            write_run_report(summary["path"])


def write_run_report(path: str) -> None:
    """The run's own report.html and timeline.svg (never at the cost of the run's results)."""
    try:
        from . import runreport

        runreport.write_report(path)
    except Exception as exc:
        log.warning("could not write the run's report: %s", exc)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY_KEY, None)
    if summary is None:
        return
    c = summary["counts"]
    tr = terminalreporter
    tr.section("hosted clusters")
    where = "simulated management cluster" if summary["platform"].get("simulated") and \
        summary["platform"].get("kind") != "rosa" else summary["platform"]["name"]
    batch = summary["batch"]
    tr.write_line(f"requested {summary['requested']}  ready {c['ready']}  failed {c['failed']}  kept {c['kept']}  "
                  f"destroyed {c['destroyed']}  pending deletion {c['pending_deletion']}  "
                  f"not created {c['not_created']}")
    tr.write_line(f"platform {where}; seed {summary['cluster_name_seed']} (names {summary['name_prefix']}-"
                  f"{summary['run_part']}-NNNN); batch size {batch['size'] or 'unlimited'}, delay "
                  f"{batch['delay_between_batch']:g}s; keep {summary['keep_clusters']}")
    tr.write_line(f"run directory {summary['path']} (summary.json, ledger.jsonl, report.html, timeline.svg)")
    for entry in summary["clusters"]:
        if entry.get("final") in ("kept", "pending_deletion"):
            tr.write_line(f"  {entry.get('final'):<16} {entry['name']}  {entry.get('test_id') or ''}  "
                          f"{entry.get('error') or ''}"[:240])
    if summary["delete_command"]:
        tr.write_line(f"{len(summary['left'])} cluster(s) left on the management cluster; delete them with:")
        tr.write_line(f"  {summary['delete_command']}")
    for key, item in shared_left(Path(summary["path"])).items():
        tr.write_line(f"ROSA {key.replace('_', ' ')} {item['value']} kept ({item['why']}); remove it later with:")
        tr.write_line(f"  {' '.join(item['remove_with'])}")
