"""Load on each hosted cluster with kube-burner-ocp (``--add-cluster-load``).

The ``cluster_load`` fixture runs ``kube-burner-ocp <--workload>`` against the
hosted cluster's kubeconfig once the cluster is ready: iterations are
``--cluster-load-jobs-per-worker`` × the cluster's workers, varied uniformly
within ± ``--cluster-load-job-variation`` percent (reproducible for a run uuid),
with ``--cluster-load-duration`` of churn, bounded by ``--load-timeout``.  With
``--load-barrier`` no load starts before every cluster of the run has finished
installing.  A failed or timed-out load fails the test, so the cluster is kept;
its start, end, iterations, workload and exit status become the ``load``
timing document.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from . import pacing, process
from .acquire import AcquireError, acquire_kube_burner, acquire_once, cache_root
from .options import Settings, get_settings, go_duration
from .rundir import isotime
from .session import RunContext

RC_MEANING = {0: "success", 1: "failed: setup or object creation", 2: "failed: timeout",
              3: "failed: an alert fired", 4: "failed: a measurement threshold"}


def iterations(settings: Settings, index: int, workers: int) -> int:
    """jobs-per-worker × workers, varied within ± variation % (seeded by the run uuid and index), never < 0."""
    base = settings.cluster_load_jobs_per_worker * workers
    variation = settings.cluster_load_job_variation
    if not variation:
        return base
    low = math.ceil(base * (100 - variation) / 100)    # within the band, never outside it
    high = math.floor(base * (100 + variation) / 100)
    return max(0, random.Random(f"{settings.uuid}/{index}").randint(low, high))


def load_timeout(settings: Settings) -> float:
    return settings.load_timeout or settings.cluster_load_duration + 3600


def es_args(settings: Settings) -> list[str]:
    """kube-burner's own indexing, only when no credential would have to go on its command line."""
    if not settings.es_url:
        return []
    parts = urlsplit(settings.es_url)
    if parts.username or parts.password or os.environ.get("ES_API_KEY") or os.environ.get("ES_USERNAME"):
        return []
    return ["--es-server", settings.es_url, "--es-index", settings.es_index]


def load_args(settings: Settings, iterations_: int) -> list[str]:
    return [settings.workload, "--uuid", settings.uuid, "--iterations", str(iterations_),
            "--churn-duration", go_duration(settings.cluster_load_duration),
            "--timeout", go_duration(load_timeout(settings)), "--local-indexing", *es_args(settings)]


def job_summary(workdir: Path, run_uuid: str) -> dict:
    try:
        data = json.loads((workdir / f"collected-metrics-{run_uuid}" / "jobSummary.json").read_text())
        return data[0] if isinstance(data, list) and data else {}
    except (OSError, ValueError):
        return {}


def run_load(cli: str, settings: Settings, spec, folder: Path, secrets) -> dict:
    """Run the workload against the cluster in ``folder``; return the load's timings and result."""
    n = iterations(settings, spec.index, spec.workers)
    workdir = folder / "load"
    workdir.mkdir(exist_ok=True)
    env = dict(os.environ, KUBECONFIG=str(folder / "kubeconfig"))
    started = isotime()
    result = process.run([cli, *load_args(settings, n)], log_path=folder / "load.log", env=env, cwd=workdir,
                         timeout=load_timeout(settings) + 120, secrets=secrets)
    summary = job_summary(workdir, settings.uuid)
    rc = result.returncode
    status = "success" if rc == 0 else "failed: timeout" if result.timed_out else RC_MEANING.get(rc, f"failed: rc {rc}")
    return {"workload": settings.workload, "job_iterations": n, "load_rc": rc, "load_status": status,
            "load_start": summary.get("timestamp") or started, "load_end": summary.get("endTimestamp") or isotime(),
            "load_cli_s": round(result.duration, 3), "load_log": str(folder / "load.log")}


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def kube_burner_cli(pytestconfig: pytest.Config, hcp_run: RunContext) -> str | None:
    """The kube-burner-ocp binary of the run (acquired once, whichever worker gets there first)."""
    settings = get_settings(pytestconfig)
    if not settings.add_cluster_load:
        return None
    run_path = Path(hcp_run.path)

    def fetch():
        return acquire_kube_burner(explicit=settings.kube_burner_cli or hcp_run.platform.get("kube_burner_cli"),
                                   version=settings.kube_burner_version, cache=cache_root(),
                                   log_path=run_path / "acquire.log", github_api=settings.github_api_url)

    try:
        record = acquire_once(run_path / "cli-kube-burner.json", run_path / ".cli-kube-burner.lock", fetch)
    except AcquireError as exc:
        pytest.fail(f"kube-burner-ocp: {exc}", pytrace=False)
    return record["path"]


@pytest.fixture
def cluster_load(request: pytest.FixtureRequest, hosted_cluster, kube_burner_cli, hcp_run: RunContext):
    """Load the ready cluster with --workload (with --add-cluster-load); None otherwise."""
    settings = get_settings(request.config)
    if not settings.add_cluster_load:
        return None
    from .lifecycle import LIFECYCLE_KEY

    lifecycle = request.node.stash[LIFECYCLE_KEY]
    if settings.load_barrier:
        waited = time.time()
        pacing.wait_barrier(hcp_run.pacer)
        lifecycle.timings["load_barrier_wait_s"] = round(time.time() - waited, 3)
    outcome = run_load(kube_burner_cli, settings, lifecycle.spec, lifecycle.folder, lifecycle.platform.secrets())
    lifecycle.record_load(outcome)
    if outcome["load_status"] != "success":
        pytest.fail(f"load {settings.workload} ({outcome['job_iterations']} iterations) {outcome['load_status']} "
                    f"(exit {outcome['load_rc']}); see {outcome['load_log']}", pytrace=False)
    return outcome
