"""One hosted cluster per test case: ids, fixtures, create → ready → test → teardown.

``pytest_generate_tests`` turns ``--cluster-count`` into test ids
``<seed>-0001`` … (stable across runs, so ``-k`` and ``--lf`` pick clusters).
The ``hosted_cluster`` fixture registers its teardown *before* it creates
anything, so a cluster is always accounted for — destroyed, kept on purpose
with a diagnostic dump, or listed as pending deletion — even when the test
times out or creation fails half-way.  An interrupted session (Ctrl-C,
SIGTERM, xdist shutting a worker down) records its in-flight clusters as
pending deletion at once, without dumping or destroying them; a crashed
worker's cluster is recorded so by the controller.

With ``--only-delete-clusters`` the hosted-cluster test is not generated;
``test_delete_cluster[<name>]`` destroys each cluster the run in ``--path``
left behind, through the same ``Lifecycle`` destroy as a normal teardown.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import documents
from . import rundir as ledger
from .binaries import acquire_clis
from .kube import Kube, WaitTimeout, parse_time
from .options import Settings, get_settings, go_duration
from . import pacing
from .pacing import Slot
from .platform import ClusterFailed, ClusterSpec, HypershiftPlatform, open_platform
from .rundir import RunDir, iso_epoch, isotime, write_json
from .session import CONTEXT_KEY, RunContext, context, delete_targets

log = logging.getLogger("hcp.lifecycle")

REPORTS_KEY = pytest.StashKey[dict]()
LIFECYCLE_KEY = pytest.StashKey["Lifecycle"]()
RESULT_KEY = pytest.StashKey[dict]()
INTERRUPTED_KEY = pytest.StashKey[bool]()
INDEX_ARG = "cluster_index"
DELETE_ARG = "deletion_target"
CREATE_TEST = "test_hosted_cluster"
DELETE_TEST = "test_delete_cluster"


def test_id_for(settings: Settings, index: int) -> str:
    return f"{settings.name_prefix}-{index:04d}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if INDEX_ARG in metafunc.fixturenames:
        settings = get_settings(metafunc.config)
        indices = list(range(1, settings.cluster_count + 1))
        metafunc.parametrize(INDEX_ARG, indices, ids=[test_id_for(settings, i) for i in indices])
    if DELETE_ARG in metafunc.fixturenames:
        ctx = metafunc.config.stash.get(CONTEXT_KEY, None)
        if ctx is not None:
            targets = ctx.extras.get("delete") or []
        else:  # --collect-only: the platform is not reached, the ledger tells
            settings = get_settings(metafunc.config)
            targets = delete_targets(settings, RunDir(settings.path), set())
        metafunc.parametrize(DELETE_ARG, targets, ids=[t["name"] for t in targets])


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name: str, obj):
    """Generate the create tests or (--only-delete-clusters) the delete tests, never both."""
    if name in (CREATE_TEST, DELETE_TEST) and callable(obj):
        deleting = get_settings(collector.config).only_delete_clusters
        if (name == DELETE_TEST) != deleting:
            return []
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(REPORTS_KEY, {})[report.when] = report
    if report.when == "teardown" and RESULT_KEY in item.stash:
        # Travels to the xdist controller with the report (plain JSON attribute).
        report.hcp_cluster = item.stash[RESULT_KEY]
    return report


class _InterruptWatch:
    """Remembers that the session was interrupted (Ctrl-C, SIGTERM, xdist shutting the worker down).

    pytest calls ``pytest_keyboard_interrupt`` before it tears the session's fixtures
    down, so ``Lifecycle.finish`` knows not to dump or destroy.
    """

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        self.config.stash[INTERRUPTED_KEY] = True


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_InterruptWatch(config), "hcp-interrupt-watch")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def hcp_run(pytestconfig: pytest.Config) -> RunContext:
    """The run's shared context (uuid, run directory, platform descriptor)."""
    return context(pytestconfig)


@pytest.fixture(scope="session")
def hcp_platform(hcp_run: RunContext):
    """This process's connection to the platform."""
    platform = open_platform(hcp_run.platform)
    yield platform
    platform.close()


@pytest.fixture(scope="session")
def cli_binaries(pytestconfig: pytest.Config, hcp_run: RunContext, hcp_platform: HypershiftPlatform) -> dict:
    """The CLI binaries of the run: acquired and verified once, whichever worker gets there first."""
    return acquire_clis(Path(hcp_run.path), hcp_platform, get_settings(pytestconfig))


@pytest.fixture
def cluster_spec(request: pytest.FixtureRequest, hcp_run: RunContext, cluster_index: int) -> ClusterSpec:
    """Name, index and worker count of this test's cluster."""
    settings = get_settings(request.config)
    return ClusterSpec(index=cluster_index, name=hcp_run.cluster_name(cluster_index),
                       test_id=request.node.nodeid, workers=settings.workers_for(cluster_index))


@pytest.fixture
def hosted_cluster(request: pytest.FixtureRequest, hcp_run: RunContext, hcp_platform: HypershiftPlatform,
                   cli_binaries: dict, cluster_spec: ClusterSpec) -> "HostedCluster":
    """A ready hosted cluster; destroyed or kept after the test according to --keep-clusters."""
    lifecycle = Lifecycle(request, get_settings(request.config), RunDir(hcp_run.path), hcp_platform, cluster_spec)
    request.node.stash[LIFECYCLE_KEY] = lifecycle
    request.addfinalizer(lifecycle.finish)
    lifecycle.install()
    return lifecycle.handle


@pytest.fixture
def deleted_cluster(request: pytest.FixtureRequest, hcp_run: RunContext, hcp_platform: HypershiftPlatform,
                    cli_binaries: dict, deletion_target: dict) -> dict:
    """--only-delete-clusters: destroy one cluster a previous run left behind; its record (final state)."""
    settings = get_settings(request.config)
    spec = ClusterSpec(index=deletion_target.get("index") or 0, name=deletion_target["name"],
                       test_id=deletion_target.get("test_id") or request.node.nodeid,
                       workers=deletion_target.get("workers") or 0)
    lifecycle = Lifecycle(request, settings, RunDir(hcp_run.path), hcp_platform, spec)
    request.node.stash[LIFECYCLE_KEY] = lifecycle
    return lifecycle.delete()


# ----------------------------------------------------------------- the cluster
@dataclass
class HostedCluster:
    """What a test body gets: the ready cluster."""

    name: str
    index: int
    namespace: str
    workers: int
    folder: Path
    kubeconfig: Path
    timings: dict = field(default_factory=dict)

    def guest(self) -> Kube:
        """A client for the hosted cluster's own API (close it when done)."""
        return Kube.from_kubeconfig(str(self.kubeconfig))


class Lifecycle:
    def __init__(self, request: pytest.FixtureRequest, settings: Settings, run: RunDir,
                 platform: HypershiftPlatform, spec: ClusterSpec):
        self.request = request
        self.settings = settings
        self.run = run
        self.platform = platform
        self.spec = spec
        self.folder = run.cluster_dir(spec.name)
        self.phase = "pending"
        self.error: str | None = None
        self.install_failed = False
        self.interrupted = False
        self.maybe_created = False
        self.timings: dict = {}
        self.documents: list[dict] = []
        self.handle: HostedCluster | None = None

    def _ledger(self, event: str, **fields) -> None:
        worker = getattr(self.request.config, "workerinput", {}).get("workerid", "controller")
        self.run.record(event, self.spec.name, index=self.spec.index, test_id=self.spec.test_id, worker=worker,
                        namespace=self.platform.namespace, **fields)

    # ------------------------------------------------------------ install
    def install(self) -> None:
        s, spec, t = self.settings, self.spec, self.timings
        if s.only_delete_clusters:  # belt and braces: that mode never generates this test
            raise RuntimeError("--only-delete-clusters never creates a cluster")
        slot = None
        try:
            pacer = context(self.request.config).pacer
            if pacer and s.batch_size > 0:
                self.phase = "batch_wait"
                slot = Slot(pacer, spec.name).acquire()
                t["batch_wait_s"] = round(slot.waited, 3)
            else:
                t["batch_wait_s"] = 0.0
            self.phase = "creating"
            t["create_requested"] = isotime()
            start = time.monotonic()
            self._ledger(ledger.CREATE_REQUESTED, workers=spec.workers)
            self.maybe_created = True
            result = self.platform.create(spec, s, self.folder, timeout=s.install_timeout)
            t["create_cli_s"] = round(result.duration, 3)
            if not result.ok:
                why = "timed out" if result.timed_out else f"exited {result.returncode}"
                self.error = f"create command {why}: {result.tail(1)}"
                if not self.platform.exists(spec):
                    self.maybe_created = False
                    self._ledger(ledger.CREATE_FAILED, error=self.error)
                    raise ClusterFailed(self.error)
                self._ledger(ledger.CREATED)
                raise ClusterFailed(self.error)
            self._ledger(ledger.CREATED)
            self.phase = "installing"
            deadline = start + s.install_timeout
            try:
                reached = self.platform.wait_ready(spec, self.folder, deadline)
            except (ClusterFailed, WaitTimeout) as exc:
                t.update(getattr(exc, "timings", {}))
                raise
            t.update(reached)
            if s.machinepool_name:
                self.phase = "machinepool"
                t.update(self.platform.add_nodepool(spec, s, self.folder))
            self.phase = "ready"
            self._ledger(ledger.READY)
        except BaseException as exc:
            self.install_failed = True
            self.interrupted = isinstance(exc, KeyboardInterrupt)
            if self.error is None:
                self.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if self.maybe_created:
                self._ledger(ledger.FAILED, phase=self.phase, error=self.error)
            raise
        finally:
            if slot is not None:
                slot.release()
            if s.load_barrier:
                try:
                    pacing.arrive(context(self.request.config).pacer, spec.name)
                except (OSError, RuntimeError) as exc:
                    log.warning("could not tell the controller that %s finished installing: %s", spec.name, exc)
        self.handle = HostedCluster(name=spec.name, index=spec.index, namespace=self.platform.namespace,
                                    workers=spec.workers, folder=self.folder, kubeconfig=self.folder / "kubeconfig",
                                    timings=dict(t))
        self.phase = "test"

    # ------------------------------------------------------------- finish
    def test_failed(self) -> bool:
        if self.install_failed:
            return True
        reports = self.request.node.stash.get(REPORTS_KEY, {})
        call = reports.get("call")
        return call is None or call.failed

    def finish(self) -> None:
        """Teardown: dump and keep a failed cluster, destroy a passed one (per --keep-clusters).

        After an interrupt the cluster is only recorded as pending deletion (first
        thing, the process may be killed soon): no dump, no destroy.
        """
        s, spec, t = self.settings, self.spec, self.timings
        if self.interrupted or self.request.config.stash.get(INTERRUPTED_KEY, False):
            self._finish_interrupted()
            return
        failed = self.test_failed()
        if failed and self.error is None:
            call = self.request.node.stash.get(REPORTS_KEY, {}).get("call")
            self.error = f"test failed: {call.longrepr.reprcrash.message}" if call is not None and getattr(
                call.longrepr, "reprcrash", None) else "test failed"
        final = "not_created"
        teardown_error = None
        self._write_install_metadata(failed)
        try:
            if self.maybe_created:
                if failed or s.must_gather_all:
                    self._dump()
                keep = s.keep_clusters == "always" or (s.keep_clusters == "on-failure" and failed)
                if keep:
                    final = "kept"
                    self._ledger(ledger.KEPT, reason="failed" if failed else "--keep-clusters always",
                                 dump=str(self.folder / "dump") if failed else None)
                else:
                    final, teardown_error = self._destroy()
        finally:
            if teardown_error and self.error is None:
                self.error = teardown_error
            self.request.node.stash[RESULT_KEY] = self._result(failed=failed, final=final)
        if teardown_error:
            pytest.fail(teardown_error, pytrace=False)

    def _finish_interrupted(self) -> None:
        final = "not_created"
        if self.maybe_created:
            final = "pending_deletion"
            self._ledger(ledger.PENDING_DELETION, reason=f"interrupted while {self.phase}")
        if self.error is None:
            self.error = f"interrupted while {self.phase}"
        self.request.node.stash[RESULT_KEY] = self._result(failed=True, final=final)
        self._write_install_metadata(True)

    def _result(self, failed: bool, final: str) -> dict:
        spec = self.spec
        return {"name": spec.name, "index": spec.index, "test_id": spec.test_id, "workers": spec.workers,
                "outcome": "failed" if failed else "passed", "final": final, "phase": self.phase,
                "error": self.error, "folder": str(self.folder), "timings": dict(self.timings),
                "documents": self.documents}

    def delete(self) -> dict:
        """--only-delete-clusters: destroy this (existing) cluster and return its record (the test checks it)."""
        self.maybe_created = True
        final, error = self._destroy()
        self.error = error
        result = self._result(failed=error is not None, final=final)
        self.request.node.stash[RESULT_KEY] = result
        return result

    def _dump(self) -> None:
        result = self.platform.dump(self.spec, self.folder)
        self.timings["dump_cli_s"] = round(result.duration, 3)
        if not result.ok:
            log.warning("dump of %s failed: %s", self.spec.name, result.tail(2))

    def _destroy(self) -> tuple[str, str | None]:
        t = self.timings
        self.phase = "destroying"
        t["destroy_requested"] = isotime()
        requested = time.time()
        self._ledger(ledger.DESTROY_REQUESTED)
        try:
            result, gone = self.platform.destroy(self.spec, self.settings, self.folder)
        except BaseException as exc:
            self._ledger(ledger.DESTROY_FAILED, error=f"{type(exc).__name__}: {exc}")
            raise
        t["destroy_cli_s"] = round(result.duration, 3)
        if result.ok and gone is not None:
            t["deleted"] = iso_epoch(gone)
            t["destroy_s"] = round(gone - requested, 3)
            self.phase = "destroyed"
            self._ledger(ledger.DESTROYED)
            self._write_destroy_metadata("success")
            return "destroyed", None
        why = "timed out" if result.timed_out else f"exited {result.returncode}" if not result.ok else \
            "reported success but the HostedCluster is still there"
        error = f"destroy command {why}: {result.tail(1)}"
        self._ledger(ledger.DESTROY_FAILED, error=error)
        self._write_destroy_metadata("failed", error)
        return "pending_deletion", error

    # ---------------------------------------------------------- documents
    def _record_document(self, doc: dict) -> None:
        """Let plugins amend the document, write it to the cluster's folder, and send it with the report."""
        config = self.request.config
        doc = documents.normalize(doc)
        config.hook.pytest_hcp_document(config=config, document=doc)
        doc = documents.normalize(doc)
        write_json(self.folder / f"metadata_{doc['operation']}.json", doc)
        self.documents.append(doc)

    def _base_document(self) -> dict:
        return {"uuid": self.settings.uuid, "cluster_name": self.spec.name, "index": self.spec.index,
                "test_id": self.spec.test_id, "workers": self.spec.workers, "platform": self.settings.platform,
                "install_method": self.platform.kind, "mgmt_cluster_name": self.platform.d.get("mgmt_name"),
                "job_iterations": self.timings.get("job_iterations"),
                "load_duration": go_duration(self.settings.cluster_load_duration) if self.settings.add_cluster_load
                else None, "timestamp": documents.now()}

    def record_load(self, outcome: dict) -> None:
        """The load's result (from the cluster_load fixture): timings and the ``load`` document."""
        self.timings.update(outcome)
        self._record_document(documents.load_document(
            self._base_document(), self.timings, load_duration=go_duration(self.settings.cluster_load_duration)))

    def _write_install_metadata(self, failed: bool) -> None:
        doc = documents.install_document(
            self._base_document(), self.timings, status="failed" if self.install_failed else "ready",
            test_outcome="failed" if failed else "passed", phase=self.phase if self.install_failed else "ready",
            error=self.error)
        for key in ("hc_created_s", "control_plane_s", "workers_s", "install_s", "ready_s"):
            self.timings[key] = doc[key]
        self._record_document(doc)

    def _write_destroy_metadata(self, status: str, error: str | None = None) -> None:
        self._record_document(documents.destroy_document(self._base_document(), self.timings, status=status,
                                                         error=error))
