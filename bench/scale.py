"""How the harness itself scales: run the scale tests on the simulated world and measure the harness.

    python3 bench/scale.py                       # 100 clusters -n 20, then 1000 clusters -n 100
    python3 bench/scale.py --config 8:4 --watcher-delays 60,1 --sim-speed 300   # small (CI)

For each ``CLUSTERS:WORKERS`` configuration it runs ``pytest tests_scale
--cluster-count CLUSTERS -n WORKERS`` on a simulated world at ``--sim-speed``,
with ``-p bench.probe`` so every harness process (controller, xdist workers)
records its own CPU seconds and peak RSS, and reads what the world recorded
(``sim/transitions.jsonl``: the operator's ground truth; ``sim/usage.json``: API
requests per client and the world's own CPU and memory).  It prints, against
the targets of the harness:

* makespan / ideal: the run's first creation request to its last deletion,
  against the ideal schedule: each cluster's simulated durations (stand-in CLI
  create — which the model lengthens by the clusters installing when it starts,
  counted from the ground truth —, the operator's install, the deletion until
  the object is gone, which includes the CLI's teardown since the object keeps
  the CLI's finalizer until then), the clusters dealt in order to WORKERS slots
  as they free up;
* harness CPU seconds per cluster (controller + workers, not the world, not the
  stand-in CLIs, which are reported separately);
* peak RSS of the controller and of the largest worker;
* requests the harness (User-Agent ``hcp-scale/``) made to the management API,
  per cluster per simulated minute;
* ready detection latency: the operator's last transition the harness waits for
  (install completed, NodePool and nodes Ready) → the ledger's ``ready``;
* timing error: every phase instant the harness recorded against the
  operator's ground truth (whole-second API timestamps included), max; and the
  same at other ``--watcher-delays``.

Exit status 0 when every run passed (the targets are reported, not enforced).
``--json FILE`` writes every figure.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.rundir import epoch_seconds  # noqa: E402
from sim import model  # noqa: E402

HARNESS_AGENT = "hcp-scale"
TARGETS = {"makespan_ratio": 1.05, "cpu_s_per_cluster": 0.5, "controller_rss_mb": 250, "worker_rss_mb": 80,
           "requests_per_cluster_per_sim_min": 1.0, "detect_p95_s": 1.0, "timing_error_max_s": 1.0}
# Recorded instant (summary timings) -> the operator's transition it must equal (latest when several).
TRUTH = {"control_plane_available": ("control_plane_available",), "nodepools_ready": ("nodepool_ready",),
         "workers_ready": ("node_ready",), "install_completed": ("install_completed",), "deleted": ("deleted",)}
READY_TRUTH = ("install_completed", "nodepool_ready", "node_ready")


def parse_config(text: str) -> tuple[int, int]:
    try:
        clusters, workers = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected CLUSTERS:WORKERS, e.g. 100:20") from None
    if clusters < 1 or workers < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both must be at least 1")
    return clusters, workers


def run(clusters: int, workers: int, speed: float, watcher_delay: float, keep: bool, extra: list[str]) -> dict:
    path = Path(tempfile.mkdtemp(prefix=f"hcp-scale-bench-{clusters}x{workers}-"))
    probes = path.parent / (path.name + "-probe")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HCP_SCALE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["HCP_BENCH_PROBE_DIR"] = str(probes)
    cmd = [sys.executable, "-m", "pytest", "tests_scale", "-q", "-p", "no:cacheprovider", "-p", "bench.probe",
           "--cluster-count", str(clusters), "-n", str(workers), "--sim-speed", f"{speed:g}",
           "--watcher-delay", f"{watcher_delay:g}", "--path", str(path), *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - started
    figures = measure(path, probes, clusters, workers, speed)
    figures.update({"command": " ".join(cmd[3:]), "exit": proc.returncode, "wall_s": round(wall, 1),
                    "last_line": (proc.stdout.strip().splitlines() or [""])[-1], "path": str(path),
                    "watcher_delay": watcher_delay})
    if proc.returncode != 0:
        figures["output_tail"] = proc.stdout[-3000:]
    if not keep and proc.returncode == 0:
        subprocess.run(["rm", "-rf", str(path), str(probes)], check=False)
    return figures


def _lines(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def ideal_makespan(durations: list[float], workers: int) -> float:
    """Deal the clusters, in order, to the first free of ``workers`` slots; the last one to finish."""
    slots = [0.0] * min(workers, max(1, len(durations)))
    heapq.heapify(slots)
    end = 0.0
    for duration in durations:
        start = heapq.heappop(slots)
        end = max(end, start + duration)
        heapq.heappush(slots, start + duration)
    return end


def measure(path: Path, probes: Path, clusters: int, workers: int, speed: float) -> dict:
    summary = json.loads((path / "summary.json").read_text())
    ledger = _lines(path / "ledger.jsonl")
    truth = _lines(path / "sim" / "transitions.jsonl")
    world = json.loads((path / "sim" / "world.json").read_text())
    usage = json.loads((path / "sim" / "usage.json").read_text())
    seed = world.get("seed", 0)
    by_cluster: dict[str, dict[str, list[dict]]] = {}
    for event in truth:
        by_cluster.setdefault(event["cluster"], {}).setdefault(event["phase"], []).append(event)

    def truth_ts(name: str, phases: tuple[str, ...]) -> float | None:
        found = [e["ts"] for p in phases for e in by_cluster.get(name, {}).get(p, [])]
        return max(found) if found else None

    # makespan and the ideal schedule
    events = {(e["cluster"], e["event"]): epoch_seconds(e["time"]) for e in ledger}
    first = min(t for (_, ev), t in events.items() if ev == "create_requested")
    last = max(t for (_, ev), t in events.items() if ev in ("destroyed", "kept", "pending_deletion"))
    # Installing spans from the ground truth: the stand-in CLI's create time grows with the clusters
    # installing when it starts (it counts them as it starts), so the ideal takes the count it saw.
    installing_spans = []
    for name in by_cluster:
        seen = truth_ts(name, ("created_seen",))
        if seen is not None:
            ends = [truth_ts(name, (p,)) for p in ("install_completed", "deleting")]
            installing_spans.append((seen, min((e for e in ends if e is not None), default=float("inf"))))
    durations = []
    for entry in sorted(summary["clusters"], key=lambda c: c.get("index") or 0):
        name = entry["name"]
        seen, done = truth_ts(name, ("created_seen",)), truth_ts(name, ("install_completed",))
        deleting, deleted = truth_ts(name, ("deleting",)), truth_ts(name, ("deleted",))
        asked = events.get((name, "create_requested"))
        concurrent = 1 + (sum(1 for a, b in installing_spans if a <= asked < b) if asked is not None
                          else min(workers, clusters) - 1)
        # (the CLI's teardown is inside deleting -> deleted: the HostedCluster keeps the CLI's finalizer until then)
        cli = model.plan_cli_create(name, seed, concurrent).total / speed
        durations.append(cli + (done - seen if seen and done else 0) + (deleted - deleting if deleting and deleted
                                                                        else 0))
    ideal = ideal_makespan(durations, workers)
    makespan = last - first
    # where the difference goes: each cluster's own life beyond its simulated durations, and the time a
    # worker sat between one cluster's end and its next cluster's start
    ideal_by_name = dict(zip((e["name"] for e in sorted(summary["clusters"], key=lambda c: c.get("index") or 0)),
                             durations))
    overheads, gaps, lives = [], [], {}
    for entry in summary["clusters"]:
        name = entry["name"]
        start, end = events.get((name, "create_requested")), events.get((name, "destroyed"))
        if start is not None and end is not None:
            overheads.append(end - start - ideal_by_name[name])
            worker = next((e.get("worker") for e in ledger if e["cluster"] == name and e.get("worker")), None)
            lives.setdefault(worker, []).append((start, end))
    for spans in lives.values():
        spans.sort()
        gaps += [b[0] - a[1] for a, b in zip(spans, spans[1:])]

    # ready detection and timing errors
    latencies, errors = [], []
    worst = {"field": None, "cluster": None, "error_s": 0.0}
    for entry in summary["clusters"]:
        name, t = entry["name"], entry.get("timings") or {}
        ready = events.get((name, "ready"))
        operator = truth_ts(name, READY_TRUTH)
        if ready is not None and operator is not None:
            latencies.append(ready - operator)
        for field, phases in TRUTH.items():
            mine, real = epoch_seconds(t.get(field)), truth_ts(name, phases)
            if mine is None or real is None:
                continue
            error = abs(mine - real)
            errors.append(error)
            if error > worst["error_s"]:
                worst = {"field": field, "cluster": name, "error_s": round(error, 3)}

    # the harness's processes, the world, the stand-in CLIs
    procs = [json.loads(p.read_text()) for p in sorted(probes.glob("*.json"))]
    controller = next((p for p in procs if p["role"] == "controller"), {})
    worker_procs = [p for p in procs if p["role"] != "controller"]
    harness_cpu = controller.get("cpu_s", 0) + sum(p["cpu_s"] for p in worker_procs)
    expected_procs = 1 + min(workers, clusters)
    mine = usage.get("requests", {}).get(HARNESS_AGENT, {})
    mgmt_requests = sum(mine.get("mgmt", {}).values())
    sim_minutes = makespan * speed / 60
    return {
        "clusters": clusters, "workers": workers, "sim_speed": speed, "counts": summary["counts"],
        "makespan_s": round(makespan, 2), "ideal_s": round(ideal, 2), "makespan_ratio": round(makespan / ideal, 3),
        "harness_cpu_s": round(harness_cpu, 1), "cpu_s_per_cluster": round(harness_cpu / clusters, 3),
        "controller_cpu_s": controller.get("cpu_s"), "worker_cpu_s_mean": round(statistics.mean(
            [p["cpu_s"] for p in worker_procs]), 2) if worker_procs else None,
        "controller_rss_mb": controller.get("max_rss_mb"),
        "probes": len(procs), "probes_expected": expected_procs,
        "worker_rss_mb": max((p["max_rss_mb"] for p in worker_procs), default=None),
        "standin_cli_cpu_s": round(sum(p["children_cpu_s"] for p in worker_procs), 1),
        "world_cpu_s": usage.get("cpu_s"), "world_rss_mb": usage.get("max_rss_mb"),
        "mgmt_requests": mgmt_requests, "mgmt_requests_by_verb": mine.get("mgmt", {}),
        "guest_requests": sum(mine.get("guest", {}).values()),
        "requests_per_cluster": round(mgmt_requests / clusters, 1),
        "requests_per_cluster_per_sim_min": round(mgmt_requests / clusters / sim_minutes, 4) if sim_minutes else None,
        "detect_p50_s": _round(_pct(latencies, 0.5)), "detect_p95_s": _round(_pct(latencies, 0.95)),
        "detect_max_s": _round(max(latencies, default=None)),
        "timing_error_max_s": _round(max(errors, default=None)), "timing_error_worst": worst,
        "timing_fields_checked": len(errors),
        "cluster_overhead_mean_s": _round(statistics.mean(overheads)) if overheads else None,
        "worker_gap_mean_s": _round(statistics.mean(gaps)) if gaps else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def verdict(key: str, value) -> str:
    target = TARGETS.get(key)
    if target is None or value is None:
        return ""
    return "ok" if value <= target else f"MISSED (target ≤ {target:g})"


def report(f: dict) -> None:
    print(f"\n== {f['clusters']} clusters, -n {f['workers']}, --sim-speed {f['sim_speed']:g}, "
          f"--watcher-delay {f['watcher_delay']:g}: exit {f['exit']} ({f['last_line']}), wall {f['wall_s']} s")
    rows = [
        ("makespan / ideal", f"{f['makespan_s']} s / {f['ideal_s']} s = {f['makespan_ratio']}", "makespan_ratio"),
        ("harness CPU per cluster", f"{f['cpu_s_per_cluster']} s (controller {f['controller_cpu_s']} s, "
                                    f"workers {f['worker_cpu_s_mean']} s each; probes {f['probes']} of "
                                    f"{f['probes_expected']}"
                                    + ("" if f["probes"] >= f["probes_expected"] else ": INCOMPLETE, too low")
                                    + ")", "cpu_s_per_cluster"),
        ("controller peak RSS", f"{f['controller_rss_mb']} MB", "controller_rss_mb"),
        ("worker peak RSS (largest)", f"{f['worker_rss_mb']} MB", "worker_rss_mb"),
        ("mgmt API requests", f"{f['requests_per_cluster']} per cluster; {f['requests_per_cluster_per_sim_min']} "
                              f"per cluster per simulated minute", "requests_per_cluster_per_sim_min"),
        ("ready detection p50/p95/max", f"{f['detect_p50_s']} / {f['detect_p95_s']} / {f['detect_max_s']} s",
         "detect_p95_s"),
        ("timing error max", f"{f['timing_error_max_s']} s over {f['timing_fields_checked']} instants "
                             f"(worst: {f['timing_error_worst']['field']})", "timing_error_max_s"),
        ("where the rest goes", f"{f['cluster_overhead_mean_s']} s per cluster beyond its simulated durations; "
                                f"{f['worker_gap_mean_s']} s between a worker's clusters", None),
        ("simulated world", f"{f['world_cpu_s']} CPU s, {f['world_rss_mb']} MB peak", None),
        ("stand-in CLIs", f"{f['standin_cli_cpu_s']} CPU s", None),
    ]
    for label, text, key in rows:
        print(f"  {label:<28} {text:<70} {verdict(key, f.get(key)) if key else ''}")
    print(f"  mgmt requests by verb: {f['mgmt_requests_by_verb']}")
    if f["exit"] != 0:
        print(f["output_tail"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=parse_config, action="append", metavar="CLUSTERS:WORKERS",
                        help="a run to make (repeatable; default 100:20 and 1000:100)")
    parser.add_argument("--sim-speed", type=float, default=100.0, help="simulated seconds per real second")
    parser.add_argument("--watcher-delay", type=float, default=10.0, help="--watcher-delay of the main runs")
    parser.add_argument("--watcher-delays", default="60,1",
                        help="other --watcher-delay values, each run again at the smallest configuration "
                             "('' for none)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    args, extra = parser.parse_known_args(argv)
    configs = args.config or [(100, 20), (1000, 100)]
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {os.uname().sysname} "
          f"{os.uname().release}")
    results = []
    for clusters, workers in configs:
        results.append(run(clusters, workers, args.sim_speed, args.watcher_delay, args.keep, extra))
        report(results[-1])
    smallest = min(configs)
    for delay in [float(x) for x in args.watcher_delays.split(",") if x.strip()]:
        results.append(run(*smallest, args.sim_speed, delay, args.keep, extra))
        report(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
