"""The run as a whole: what the controller sets up once and hands to every worker.

A scale session is *active* when the paths pytest was asked to run include the
scale tests (``tests_scale/`` under the rootdir, or a folder above it), so
running the harness's own tests never starts a management cluster.

On the controller (the only process without xdist) the session prepares the
run directory, starts the platform (the simulated world for ``--platform
sim``), the batch pacing service and the watcher, and ships a plain-JSON
``RunContext`` to each xdist worker.  At the end it stops them in reverse
order, whatever happened in between.

Interrupts: SIGTERM is turned into KeyboardInterrupt (in the controller and
the workers), so it takes pytest's Ctrl-C path: the session is torn down and
the summary written.  When the controller is interrupted, xdist shuts the
workers down (execnet interrupts a busy worker after 5 s and kills it after
10 s); each worker records its in-flight cluster as pending deletion.  A
worker that dies (``kill -9``) cannot: the controller records its cluster when
xdist reports the crash, and at the end of the session every cluster of the
run still without a final state is recorded as pending deletion
(``Controller.reconcile``).  ``--only-delete-clusters`` removes them later.
"""
from __future__ import annotations

import logging
import random
import re
import signal
import string
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from . import progress
from .options import Settings, get_settings
from .pacing import PacerService
from .platform import SimWorld, open_platform
from .rundir import RunDir, isotime, write_json
from .watcher import Watcher

log = logging.getLogger("hcp.session")

ACTIVE_KEY = pytest.StashKey[bool]()
CONTEXT_KEY = pytest.StashKey["RunContext"]()
CONTROLLER_KEY = pytest.StashKey["Controller"]()
SELECTED_KEY = pytest.StashKey[int]()
SIGTERM_KEY = pytest.StashKey[object]()
SCALE_DIR = "tests_scale"


@dataclass
class RunContext:
    """What every process of the run needs to know, as plain JSON."""

    uuid: str
    path: str
    name_prefix: str
    run_part: str
    platform: dict
    pacer: list | None = None
    extras: dict = field(default_factory=dict)

    def cluster_name(self, index: int) -> str:
        return f"{self.name_prefix}-{self.run_part}-{index:04d}"

    def to_json(self) -> dict:
        return asdict(self)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_active(config: pytest.Config) -> bool:
    return config.stash.get(ACTIVE_KEY, False)


def scale_requested(config: pytest.Config) -> bool:
    """True when the run's paths include the scale tests."""
    scale_dir = (config.rootpath / SCALE_DIR).resolve()
    for arg in config.args:
        path = Path(str(arg).split("::")[0])
        if not path.is_absolute():
            path = config.invocation_params.dir / path
        path = path.resolve()
        if path == scale_dir or scale_dir in path.parents or path in scale_dir.parents:
            return True
    return False


def activate(config: pytest.Config) -> None:
    """Make this pytest session a scale run: prepare the run directory (controller) or join it (worker)."""
    if is_active(config):
        return
    if is_worker(config):
        if "hcp_run" in config.workerinput:
            config.stash[ACTIVE_KEY] = True
            config.stash[CONTEXT_KEY] = RunContext(**config.workerinput["hcp_run"])
        return
    if config.option.collectonly or not scale_requested(config) or get_settings(config).es_index_only:
        return
    config.stash[ACTIVE_KEY] = True
    settings = get_settings(config)
    if not settings.only_delete_clusters:  # that mode works in an existing run directory (checked by options)
        RunDir(settings.path).prepare(settings.uuid, settings.cluster_name_seed)
    controller = Controller(config, settings)
    config.stash[CONTROLLER_KEY] = controller
    config.pluginmanager.register(_CrashWatch(controller), "hcp-crash-watch")


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def handle_sigterm(config: pytest.Config) -> None:
    """Make SIGTERM behave like Ctrl-C in this process (pytest's interrupted-session path)."""
    if threading.current_thread() is threading.main_thread():
        config.stash[SIGTERM_KEY] = signal.signal(signal.SIGTERM, _sigterm)


def restore_sigterm(config: pytest.Config) -> None:
    previous = config.stash.get(SIGTERM_KEY, None)
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


def context(config: pytest.Config) -> RunContext:
    ctx = config.stash.get(CONTEXT_KEY, None)
    if ctx is None:
        if not is_active(config):
            raise RuntimeError("the scale harness is not active: run the tests in tests_scale/ (pytest tests_scale)")
        raise RuntimeError("the run has not started (collect-only?)")
    return ctx


def new_run_part(taken_prefixes: set[str], name_prefix: str, rng: random.Random) -> str:
    """A short random part that makes this run's cluster names unique."""
    alphabet = string.ascii_lowercase + string.digits
    for _ in range(1000):
        part = "".join(rng.choice(alphabet) for _ in range(3))
        if f"{name_prefix}-{part}-" not in taken_prefixes:
            return part
    raise pytest.UsageError("could not find an unused cluster name prefix")


def hypershift_descriptor(s: Settings, run_path: Path) -> dict:
    """Find and check the management cluster and credentials of ``--platform hypershift``."""
    from . import mgmt

    ocm_cli = None
    oidc_issuer_url = None
    if s.ocm_token and (s.mgmt_cluster or s.oidc_config_id):
        from .acquire import AcquireError, acquire_ocm, cache_root

        try:
            tool = acquire_ocm(explicit=s.ocm_cli, version=s.ocm_cli_version, cache=cache_root(),
                               log_path=run_path / "acquire.log", github_api=s.github_api_url)
        except AcquireError as exc:
            raise pytest.UsageError(f"ocm CLI: {exc}") from None
        ocm_cli = tool.path
        write_json(run_path / "cli-ocm.json", tool.to_json())
    if s.oidc_config_id:
        oidc_issuer_url = mgmt.Ocm(ocm_cli, s, run_path).oidc_issuer_url(s.oidc_config_id)
    cluster = mgmt.resolve(s, run_path, ocm_cli)
    aws_creds, aws_secrets = mgmt.write_aws_credentials(s, run_path)
    return {
        "kind": "hypershift",
        "simulated": False,
        "name": f"management cluster {cluster.name}",
        "mgmt_name": cluster.name,
        "kubeconfig": cluster.kubeconfig,
        "hypershift_cli": s.hypershift_cli,
        "namespace": "clusters",
        "base_domain": cluster.base_domain,
        "region": cluster.region,
        "release_image": None,
        "pull_secret": s.pull_secret_file,
        "aws_creds": str(aws_creds) if aws_creds else None,
        "sts_creds": s.sts_creds,
        "role_arn": s.role_arn,
        "oidc_issuer_url": oidc_issuer_url,
        "secrets": [*aws_secrets, *s.secrets()],
    }


def delete_targets(s: Settings, rundir: RunDir, existing: set[str]) -> list[dict]:
    """--only-delete-clusters: the run's clusters not known to be destroyed, and (with a seed) every
    HostedCluster in ``existing`` named after the seed."""
    targets = {name: {"name": name, "index": c.get("index"), "test_id": c.get("test_id"), "workers": c.get("workers")}
               for name, c in rundir.clusters().items() if c["final"] in ("kept", "pending_deletion")}
    if s.delete_name_prefix:
        for name in sorted(existing):
            if name.startswith(s.delete_name_prefix + "-") and name not in targets:
                match = re.search(r"-(\d{4})$", name)
                targets[name] = {"name": name, "index": int(match.group(1)) if match else None,
                                 "test_id": None, "workers": None}
    return [targets[name] for name in sorted(targets)]


class Controller:
    """Owns the run's long-lived pieces on the controller."""

    def __init__(self, config: pytest.Config, settings: Settings):
        self.config = config
        self.settings = settings
        self.rundir = RunDir(settings.path)
        self.world: SimWorld | None = None
        self.pacer: PacerService | None = None
        self.watcher: Watcher | None = None
        self.context: RunContext | None = None
        self.rosa_descriptor: dict | None = None   # --platform rosa: what release_shared() removes at the end

    def start(self) -> RunContext:
        s = self.settings
        try:
            if s.platform == "sim":
                if s.sim_dir:
                    self.world = SimWorld(Path(s.sim_dir))
                else:  # --only-delete-clusters: the run's own world again, its state restored
                    self.world = SimWorld.start(self.rundir.path / "sim", s)
                descriptor = self.world.descriptor()
                if not s.only_delete_clusters:
                    write_json(self.rundir.path / "mgmt_cluster.json", {
                        "uuid": s.uuid, "operation": "mgmt_cluster", "timestamp": isotime(),
                        "mgmt_cluster_name": descriptor["mgmt_name"], "base_domain": descriptor["base_domain"],
                        "aws_region": descriptor["region"], "source": "sim", "platform": "sim",
                        "hostedclusters": s.cluster_count})
            elif s.platform == "hypershift":
                descriptor = hypershift_descriptor(s, self.rundir.path)
            elif s.platform == "rosa":
                from . import rosa

                self.rosa_descriptor = descriptor = rosa.prepare(s, self.rundir.path)
            else:  # pragma: no cover - options reject other platforms
                raise pytest.UsageError(f"--platform {s.platform}: not available yet")
            platform = open_platform(descriptor)
            try:
                existing = set(platform.list_names())
                if s.only_delete_clusters:
                    extras = {"delete": delete_targets(s, self.rundir, existing)}
                elif platform.kind == "rosa":
                    extras = {}   # no management cluster to scrape
                    if s.add_cluster_load and s.mgmt_metrics == "on":
                        raise pytest.UsageError("--mgmt-metrics on: --platform rosa gives no access to the "
                                                "management cluster")
                else:
                    extras = self._load_extras(platform.kube)
            finally:
                platform.close()
            if s.only_delete_clusters and descriptor["kind"] == "rosa":
                self.watcher = self._rosa_poller(descriptor, f"{s.name_prefix}-")
            if s.only_delete_clusters:
                self.context = RunContext(uuid=s.uuid, path=str(self.rundir.path), name_prefix=s.name_prefix,
                                          run_part="", platform=descriptor, extras=extras)
                self.config.stash[CONTEXT_KEY] = self.context
                return self.context
            taken = {name[: len(s.name_prefix) + 5] for name in existing | self.rundir.names()}
            part = new_run_part(taken, s.name_prefix, random.Random())
            if s.batch_size > 0 or s.load_barrier:
                self.pacer = PacerService(s.batch_size, s.delay_between_batch, expected=s.cluster_count)
            self.context = RunContext(uuid=s.uuid, path=str(self.rundir.path), name_prefix=s.name_prefix,
                                      run_part=part, platform=descriptor,
                                      pacer=list(self.pacer.address) if self.pacer else None, extras=extras)
            status = progress.attach(self.config)  # None without a terminal (-p no:terminal)
            live = status.refresh if status is not None and status.live else None  # the TTY's footer
            if descriptor["kind"] == "rosa":
                self.watcher = self._rosa_poller(descriptor, f"{s.name_prefix}-{part}-", live)
            else:
                self.watcher = Watcher(descriptor["kubeconfig"], descriptor.get("namespace", "clusters"), s.uuid,
                                       s.watcher_delay, s.cluster_count, self.rundir.path / "watcher.jsonl",
                                       emit=self._emit, live=live).start()
        except BaseException:
            self.stop()
            raise
        self.config.stash[CONTEXT_KEY] = self.context
        return self.context

    def _rosa_poller(self, descriptor: dict, run_prefix: str, live=None):
        from .rosa import Poller

        return Poller(descriptor, run_prefix, self.settings.watcher_delay, self.settings.cluster_count,
                      self.rundir.path / "watcher.jsonl", emit=self._emit, live=live).start()

    def reconcile(self) -> list[str]:
        """At the end of the session: every cluster of this run with no final state is pending deletion.

        By now no worker can finish one any more (xdist has shut them down or they died).  Then what the
        clusters shared (--platform rosa: the run's operator roles and OIDC config) goes, unless some remain.
        """
        if self.context is None:
            return []
        prefix = "" if self.settings.only_delete_clusters else f"{self.context.name_prefix}-{self.context.run_part}-"
        names = self.rundir.reconcile("not finished when the session ended (interrupted, or its worker died)",
                                      prefix=prefix)
        for name in names:
            log.warning("%s did not finish: pending deletion", name)
        self.release_shared()
        return names

    def release_shared(self) -> None:
        """--platform rosa: remove the run's operator roles and OIDC config when none of its clusters remain."""
        descriptor, self.rosa_descriptor = self.rosa_descriptor, None
        if descriptor is None:
            return
        from .rosa import teardown

        left = [name for name, c in self.rundir.clusters().items() if c["final"] in ("kept", "pending_deletion")]
        try:
            setup = teardown(descriptor, left)
        except Exception as exc:  # never at the cost of the run's results
            log.warning("removing the run's ROSA operator roles / OIDC config failed: %s", exc)
            return
        for key, item in (setup.get("left") or {}).items():
            log.warning("ROSA %s %s left: %s", key.replace("_", " "), item["value"], item["why"])

    def _load_extras(self, kube) -> dict:
        """Where the loads scrape the management cluster's metrics (--add-cluster-load, --mgmt-metrics)."""
        s = self.settings
        if not s.add_cluster_load:
            return {}
        from .load import mgmt_metrics_preflight

        url, why = mgmt_metrics_preflight(s, kube)
        if why and s.mgmt_metrics == "auto":
            s.warnings.append(f"management cluster metrics are not scraped during the loads: {why}")
        return {"mgmt_prometheus": url}

    def _emit(self, text: str) -> None:
        progress.report(self.config, text)  # a plain line, or the TTY's status footer

    def stop(self) -> None:
        if self.watcher:
            self.watcher.stop()
            self.watcher = None
        if self.context is None:   # the start failed half-way: what the run created for its clusters goes
            self.release_shared()
        if self.pacer:
            self.pacer.stop()
            self.pacer = None
        if self.world:
            self.world.stop()
            self.world = None
        if self.settings.cleanup and self.context is not None:
            left = [name for name, c in self.rundir.clusters().items() if c["final"] in ("kept", "pending_deletion")]
            self.rundir.cleanup(left)
            self.context = None


class _CrashWatch:
    """xdist reports a crashed worker: record its unfinished cluster as pending deletion right away."""

    def __init__(self, controller: Controller):
        self.controller = controller

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report, sched) -> None:
        ctx = self.controller.context
        if ctx is None:
            return
        prefix = "" if self.controller.settings.only_delete_clusters else f"{ctx.name_prefix}-{ctx.run_part}-"
        for name in self.controller.rundir.reconcile(f"worker crashed while running {crashitem}", prefix=prefix,
                                                     test_id=crashitem):
            log.warning("worker crashed: %s is pending deletion", name)


def count_cluster_ids(config: pytest.Config, nodeids) -> int:
    if get_settings(config).only_delete_clusters:
        return sum(1 for nodeid in nodeids if "::test_delete_cluster[" in nodeid)
    pattern = re.compile(r"\[" + re.escape(get_settings(config).name_prefix) + r"-\d{4}\]$")
    return sum(1 for nodeid in nodeids if pattern.search(nodeid))


def set_selected(config: pytest.Config, count: int) -> None:
    """Record how many cluster tests this run will execute (after -k, --lf, deselection)."""
    config.stash[SELECTED_KEY] = count
    controller = config.stash.get(CONTROLLER_KEY, None)
    if controller is not None and controller.watcher is not None:
        controller.watcher.requested = count
    if controller is not None and controller.pacer is not None:
        controller.pacer.barrier.expect(count)


# ------------------------------------------------------------------- hooks
@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    if not is_worker(session.config) and is_active(session.config):
        set_selected(session.config, count_cluster_ids(session.config, [i.nodeid for i in session.items]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids) -> None:
    if is_active(node.config) and SELECTED_KEY not in node.config.stash:
        set_selected(node.config, count_cluster_ids(node.config, ids))


def pytest_configure(config: pytest.Config) -> None:
    activate(config)
    if is_active(config):
        handle_sigterm(config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    controller = session.config.stash.get(CONTROLLER_KEY, None)
    if controller is not None and controller.context is None:
        controller.start()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    ctx = node.config.stash.get(CONTEXT_KEY, None)
    if ctx is not None:
        node.workerinput["hcp_run"] = ctx.to_json()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    controller = session.config.stash.get(CONTROLLER_KEY, None)
    if controller is None:
        return
    if controller.watcher is not None:
        controller.watcher.stop()
        # The last status: in watcher.jsonl, and as one plain line where the footer was (before the summary).
        progress.finish(session.config, controller.watcher.report(emit=False))
        controller.watcher = None
    if controller.settings.mgmt_must_gather and controller.context is not None:
        platform = open_platform(controller.context.platform)
        try:
            platform.gather(controller.rundir.path / "mgmt-must-gather")
        except Exception as exc:  # a failed dump must not hide the run's results
            log.warning("management cluster dump failed: %s", exc)
        finally:
            platform.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    controller = config.stash.get(CONTROLLER_KEY, None)
    if controller is not None:
        controller.stop()
    restore_sigterm(config)
