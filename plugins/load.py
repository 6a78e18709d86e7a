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

kube-burner-ocp scrapes the guest's Prometheus and, with ``--mgmt-metrics``, the
management cluster's (HCP control-plane metrics of the cluster's namespace); see
:func:`plan_load` for how tokens and ES credentials reach it without argv or disk.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import pytest
import urllib3
import yaml

from . import pacing, process
from . import secrets as _secrets
from .acquire import AcquireError, acquire_kube_burner, acquire_once, cache_root
from .kube import ApiError, Kube
from .options import Settings, get_settings, go_duration
from .rundir import isotime, write_private
from .session import RunContext

MONITORING_NAMESPACE = "openshift-monitoring"
PROMETHEUS = "prometheus-k8s"
GUEST_PROFILES = ["metrics.yml", "metrics-report.yml"]   # kube-burner-ocp's own (--profile-type both)

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


def workload_args(settings: Settings, iterations_: int) -> list[str]:
    """The workload with the run uuid, iterations, churn (always explicit: kube-burner's defaults changed
    between versions) and timeout."""
    return [settings.workload, "--uuid", settings.uuid, "--iterations", str(iterations_),
            "--churn-duration", go_duration(settings.cluster_load_duration),
            "--churn-cycles", str(settings.cluster_load_churn_cycles),
            "--churn-delay", go_duration(settings.cluster_load_churn_delay),
            "--churn-percent", str(settings.cluster_load_churn_percent),
            "--timeout", go_duration(load_timeout(settings))]


def load_args(settings: Settings, iterations_: int, es_server: str | None = None) -> list[str]:
    """kube-burner-ocp's argv when no metrics-endpoint file is needed (local indexing, credential-free ES)."""
    args = [*workload_args(settings, iterations_), "--local-indexing"]
    if es_server:
        args += ["--es-server", es_server, "--es-index", settings.load_es_index]
    return args


# ---------------------------------------------------------------- Prometheus
def prometheus_url(kube: Kube) -> str | None:
    """The cluster's Prometheus as kube-burner-ocp finds it: the openshift-monitoring/prometheus-k8s route."""
    host = kube.route_host(MONITORING_NAMESPACE, PROMETHEUS)
    return f"https://{host}" if host else None


def prometheus_token(kube: Kube, seconds: float) -> str:
    """A token of the prometheus-k8s service account, valid for ``seconds`` (at least 10 minutes)."""
    return kube.service_account_token(MONITORING_NAMESPACE, PROMETHEUS, max(600, int(seconds)))


def mgmt_metrics_preflight(settings: Settings, kube: Kube) -> tuple[str | None, str | None]:
    """Find the management cluster's Prometheus and check a token can be had; (url, why not).

    Raises ``pytest.UsageError`` when ``--mgmt-metrics on`` cannot be honoured.
    """
    if not settings.add_cluster_load or settings.mgmt_metrics == "off":
        return None, None
    try:
        url = prometheus_url(kube)
        why = None if url else f"the management cluster serves no route {MONITORING_NAMESPACE}/{PROMETHEUS}"
        if url:
            prometheus_token(kube, 600)
    except ApiError as exc:
        url, why = None, f"cannot get a {MONITORING_NAMESPACE}/{PROMETHEUS} token ({exc.status} {exc.reason})"
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        url, why = None, f"management API unreachable ({exc.__class__.__name__})"
    if url is None and settings.mgmt_metrics == "on":
        raise pytest.UsageError(f"--mgmt-metrics on: {why}")
    return url, why


# ------------------------------------------------------------------- plans
class LoadSetupError(Exception):
    """The load cannot be started (its metrics endpoints could not be prepared)."""


@dataclass
class LoadPlan:
    """What to run: argv, and the child's extra environment (the secrets live only there)."""

    args: list[str]
    env: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def _endpoint(alias: str, url: str, token_var: str, profiles: list[str], indexer: dict,
              alerts: bool = False) -> dict:
    entry = {"alias": alias, "endpoint": url, "token": "{{." + token_var + "}}", "metrics": list(profiles),
             "indexer": indexer}
    if alerts:
        entry["alerts"] = ["alerts.yml"]
    return entry


def plan_load(settings: Settings, folder: Path, iterations_: int, mgmt_url: str | None,
              mgmt_kube: Callable[[], Kube] | None, hcp_namespace: str = "") -> LoadPlan:
    """Decide how kube-burner-ocp runs for the cluster in ``folder``.

    Without management-cluster metrics and without ES credentials, flags suffice.  Otherwise
    a ``--metrics-endpoint`` file (mode 0600, no secret in it: tokens and the ES URL are
    ``{{.VAR}}`` references that kube-burner fills from its environment) lists the guest's
    Prometheus and the management cluster's, each with a local indexer and, with --es-url,
    an Elasticsearch one.
    """
    # Imported here: plugins.elastic is a pytest plugin of its own, registered (and assertion-rewritten) later.
    from .elastic import kube_burner_target

    es_server, es_note = kube_burner_target(settings.es_url)
    notes = [es_note] if es_note else []
    credentialed = es_server is not None and urlsplit(es_server).username is not None
    if not mgmt_url and not credentialed:
        return LoadPlan(load_args(settings, iterations_, es_server), notes=notes)

    timeout = load_timeout(settings) + 600
    env: dict[str, str] = {}
    guest = Kube.from_kubeconfig(str(folder / "kubeconfig"))
    try:
        guest_url = prometheus_url(guest)
        if guest_url is None:
            raise LoadSetupError(f"the hosted cluster serves no route {MONITORING_NAMESPACE}/{PROMETHEUS} "
                                 "(no monitoring stack to scrape)")
        env["KB_GUEST_PROMETHEUS_TOKEN"] = prometheus_token(guest, timeout)
    except ApiError as exc:
        raise LoadSetupError(f"hosted cluster Prometheus: {exc.status} {exc.reason}") from None
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        raise LoadSetupError(f"hosted cluster API unreachable ({exc.__class__.__name__})") from None
    finally:
        guest.close()
    local = f"collected-metrics-{settings.uuid}"
    es_indexer = {"type": "opensearch", "esServers": ["{{.KB_ES_SERVER}}"], "defaultIndex": settings.load_es_index,
                  "insecureSkipVerify": True}
    entries = [_endpoint("guest", guest_url, "KB_GUEST_PROMETHEUS_TOKEN", GUEST_PROFILES,
                         {"type": "local", "metricsDirectory": local}, alerts=True)]
    if es_server:
        env["KB_ES_SERVER"] = es_server
        entries.append(_endpoint("guest-es", guest_url, "KB_GUEST_PROMETHEUS_TOKEN", GUEST_PROFILES, es_indexer))
    extra: list[str] = []
    if mgmt_url and mgmt_kube is not None:
        try:
            env["KB_MGMT_PROMETHEUS_TOKEN"] = prometheus_token(mgmt_kube(), timeout)
        except ApiError as exc:
            raise LoadSetupError(f"management cluster Prometheus token: {exc.status} {exc.reason}") from None
        profiles = settings.mgmt_metrics_profile
        entries.append(_endpoint("management", mgmt_url, "KB_MGMT_PROMETHEUS_TOKEN", profiles,
                                 {"type": "local", "metricsDirectory": f"{local}-management"}))
        if es_server:
            entries.append(_endpoint("management-es", mgmt_url, "KB_MGMT_PROMETHEUS_TOKEN", profiles, es_indexer))
        extra = ["--set", f"HOSTED_CLUSTER_NAMESPACE={hcp_namespace}"]
    _secrets.register(*env.values())
    path = folder / "load" / "metrics-endpoint.yml"
    write_private(path, yaml.safe_dump(entries, sort_keys=False))
    args = [*workload_args(settings, iterations_), "--metrics-endpoint", str(path), *extra]
    return LoadPlan(args, env=env, notes=notes)


def job_summary(workdir: Path, run_uuid: str) -> dict:
    try:
        data = json.loads((workdir / f"collected-metrics-{run_uuid}" / "jobSummary.json").read_text())
        return data[0] if isinstance(data, list) and data else {}
    except (OSError, ValueError):
        return {}


def run_load(cli: str, settings: Settings, spec, folder: Path, secrets, mgmt_url: str | None = None,
             mgmt_kube: Callable[[], Kube] | None = None, hcp_namespace: str = "") -> dict:
    """Run the workload against the cluster in ``folder``; return the load's timings and result."""
    n = iterations(settings, spec.index, spec.workers)
    workdir = folder / "load"
    workdir.mkdir(exist_ok=True)
    started = isotime()
    outcome = {"workload": settings.workload, "job_iterations": n, "load_log": str(folder / "load.log"),
               "load_mgmt_metrics": bool(mgmt_url)}
    try:
        plan = plan_load(settings, folder, n, mgmt_url, mgmt_kube, hcp_namespace)
    except LoadSetupError as exc:
        with open(folder / "load.log", "a", encoding="utf-8") as fh:
            fh.write(f"# {started} load not started: {exc}\n")
        return dict(outcome, load_rc=None, load_status=f"failed: setup ({exc})", load_start=started,
                    load_end=isotime(), load_cli_s=0.0)
    if plan.notes:
        with open(folder / "load.log", "a", encoding="utf-8") as fh:
            fh.writelines(f"# note: {note}\n" for note in plan.notes)
    env = dict(os.environ, KUBECONFIG=str(folder / "kubeconfig"), **plan.env)
    result = process.run([cli, *plan.args], log_path=folder / "load.log", env=env, cwd=workdir,
                         timeout=load_timeout(settings) + 120, secrets=[*secrets, *plan.env.values()])
    summary = job_summary(workdir, settings.uuid)
    rc = result.returncode
    status = "success" if rc == 0 else "failed: timeout" if result.timed_out else RC_MEANING.get(rc, f"failed: rc {rc}")
    return dict(outcome, load_rc=rc, load_status=status, load_start=summary.get("timestamp") or started,
                load_end=summary.get("endTimestamp") or isotime(), load_cli_s=round(result.duration, 3))


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
    mgmt_url = hcp_run.extras.get("mgmt_prometheus")
    platform = lifecycle.platform
    hcp_namespace = f"{platform.namespace}-{lifecycle.spec.name}".replace(".", "-")   # HyperShift's HCP namespace
    outcome = run_load(kube_burner_cli, settings, lifecycle.spec, lifecycle.folder, platform.secrets(),
                       mgmt_url, (lambda: platform.kube) if mgmt_url else None, hcp_namespace)
    lifecycle.record_load(outcome)
    if outcome["load_status"] != "success":
        rc = "" if outcome["load_rc"] is None else f" (exit {outcome['load_rc']})"
        pytest.fail(f"load {settings.workload} ({outcome['job_iterations']} iterations) {outcome['load_status']}"
                    f"{rc}; see {outcome['load_log']}", pytrace=False)
    return outcome
