"""The simulated world: a management cluster the harness can live in.

:class:`World` starts the simulated API server (management API and the hosted
clusters' guest APIs) or, with ``mgmt_kubeconfig``, uses an external API server
(e.g. a real kube-apiserver) for the management objects and serves only the
guest APIs itself.  It creates the ``hypershift`` namespace with the
``supported-versions`` ConfigMap, starts the simulated operator
(:mod:`sim.operator`) and writes everything a harness or a stand-in CLI needs
into its directory.

Monitoring, as on a real OpenShift cluster (:mod:`sim.prometheus`): on the management API it serves
itself (never on ``mgmt_kubeconfig``), unless ``mgmt_monitoring`` is off (``--no-mgmt-monitoring``),
the world creates namespace ``openshift-monitoring``, ServiceAccount ``prometheus-k8s`` (with the
``token`` subresource: TokenRequest) and Route ``prometheus-k8s`` whose ``spec.host`` is
``prometheus-k8s-openshift-monitoring.apps.<base_domain>`` (the domain of its ``dnses/cluster``);
turned off, a restored state loses them.  Every hosted cluster gets the same in its guest API
(host ``prometheus-k8s-openshift-monitoring.apps.<cluster>.<base domain>``) from the operator when
``guest_monitoring`` is on.  The same HTTP server answers the Prometheus HTTP API of those route
hosts under ``/prometheus/<route host>/api/v1/query`` and ``…/query_range`` (world.json's
``prometheus_url_template``), with the bearer tokens the cluster's TokenRequests issued::

    DIR/kubeconfig          management kubeconfig (0600)
    DIR/bin/hypershift      the stand-in hypershift CLI (runs from any cwd)
    DIR/bin/ocm             the stand-in ocm CLI, for the simulated OCM API (sim/ocm.py)
    DIR/bin/kube-burner-ocp the stand-in kube-burner-ocp CLI (load on a hosted cluster's guest API)
    DIR/bin/rosa            the stand-in rosa CLI (sim/standin/rosa.py), for ROSA HCP (sim/rosa.py)
    DIR/ocm-token           the offline token the simulated OCM accepts (0600)
    DIR/pull-secret.json    a fake pull secret (0600)
    DIR/world.json          speed, seed, faults, names, URLs (prometheus_url_template), pid, model
    DIR/transitions.jsonl   ground truth: every transition the operator made (and the ROSA service: rosa_<state>)
    DIR/sim.log             the world's log
    DIR/state.json          saved on stop (API server snapshot incl. guests); restored on start
    DIR/rosa-state.json     saved on stop (ROSA clusters, simulated AWS account, OAuth tokens); restored on start
    DIR/ready               written last, once everything above is in place
    DIR/faults.json         yours: API faults at run time (FaultControl); confirmed in DIR/faults-active.json

ROSA with hosted control planes (:mod:`sim.rosa`): the simulated OCM API also creates ROSA HCP clusters, each
backed by a HostedCluster in namespace ``ocm-<env>-<id>`` that the simulated operator installs; world.json
names the simulated AWS account (``aws_account_id``, ``rosa_subnet_ids``, ``rosa_account_roles_prefix``) and the
stand-in ``rosa`` CLI (``rosa``).  Per-cluster faults handed over at creation (``X-Sim-Faults``) join the
by-index ``faults`` (:class:`sim.rosa.ClusterFaults`).

Nothing here talks to a real cloud or a real cluster unless ``mgmt_kubeconfig``
points at one.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import resource
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sim import model
from sim.apiserver import ApiServer
from sim.files import write_private
from sim.operator import Operator, parse_release
from sim.prometheus import SimPrometheus, ensure_monitoring, mgmt_route_host, remove_monitoring

log = logging.getLogger("sim.world")

PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
DEFAULT_RELEASE_IMAGE = "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"
SUPPORTED_VERSIONS = ["4.20", "4.19", "4.18", "4.17", "4.16", "4.15", "4.14"]
CLI_COMMIT = "5a1e0d0c0ffee5e1a7ed5e1a7ed5e1a7ed5e1a7e"  # the stand-in's "git commit" (also the server version)
STATE_FORMAT = "sim.world-state/v1"


@dataclass
class WorldConfig:
    dir: str
    speed: float = 100.0
    seed: int = 0
    faults: model.Faults = field(default_factory=model.Faults)
    port: int = 0
    mgmt_kubeconfig: str | None = None
    install_crds: bool = False
    base_domain: str = "sim.hypershift.local"
    region: str = "us-east-1"
    release_image: str = DEFAULT_RELEASE_IMAGE
    workers: int = 4
    params: model.ModelParams = field(default_factory=lambda: model.DEFAULT_PARAMS)
    restore: bool = True
    ocm_decoys: int = 250            # other clusters the simulated OCM lists before the management cluster
    ocm_cluster_name: str = "sim-mgmt"
    # create config.openshift.io dnses/cluster and infrastructures/cluster on the simulated management API
    cluster_config: bool = True
    # what the kube-burner-ocp stand-in finds in every hosted cluster: the internal image registry
    # (cluster-density-v2 needs it) and a monitoring stack (Prometheus discovery with --alerting/indexing)
    guest_image_registry: bool = True
    guest_monitoring: bool = True
    # openshift-monitoring/prometheus-k8s (ServiceAccount, Route) on the management API the world serves
    mgmt_monitoring: bool = True
    # faults of the simulated API server (keyword arguments of sim.apiserver.Faults.set: error_rate, error_code,
    # delay, drop_watches_after, watch_gone_rate, path_prefix, verbs, agents, retry_after); applied once the
    # world is ready, replaced at run time through DIR/faults.json (FaultControl)
    api_faults: dict = field(default_factory=dict)
    # filled in by World.start()
    guest_url: str = ""
    transitions_path: str = ""

    @property
    def release_version(self) -> str:
        return parse_release(self.release_image)[0]


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class World:
    def __init__(self, config: WorldConfig):
        self.config = config
        self.dir = Path(config.dir).resolve()
        self.server: ApiServer | None = None
        self.operator: Operator | None = None
        self.ocm = None   # sim.ocm.WorldOcm
        self.rosa = None  # sim.rosa.RosaService
        self.faults = None  # sim.rosa.ClusterFaults: config.faults + per-cluster faults (X-Sim-Faults)
        self.prometheus: SimPrometheus | None = None
        self.fault_control: FaultControl | None = None
        self.token = ""
        self.mgmt_url = ""
        self._log_handler: logging.Handler | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- paths
    @property
    def kubeconfig_path(self) -> str:
        return str(self.dir / "kubeconfig")

    @property
    def hypershift_path(self) -> str:
        return str(self.dir / "bin" / "hypershift")

    @property
    def kube_burner_path(self) -> str:
        return str(self.dir / "bin" / "kube-burner-ocp")

    @property
    def state_path(self) -> Path:
        return self.dir / "state.json"

    # ------------------------------------------------------------- lifecycle
    def start(self) -> "World":
        cfg = self.config
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "bin").mkdir(exist_ok=True)
        ready = self.dir / "ready"
        if ready.exists():
            ready.unlink()
        self._setup_logging()
        state = self._load_state() if cfg.restore else None
        self.token = (state or {}).get("token") or secrets.token_urlsafe(32)
        self.server = self._start_server(state)
        from sim.rosa import ClusterFaults, RosaService

        self.faults = ClusterFaults(cfg.faults)
        self.prometheus = SimPrometheus(self.server, faults=self.faults)
        self.server.mount("/prometheus", self.prometheus.handle)
        if cfg.mgmt_kubeconfig:
            text = Path(cfg.mgmt_kubeconfig).read_text(encoding="utf-8")
            write_private(self.dir / "kubeconfig", text)
            kc = yaml.safe_load(text) or {}
            self.mgmt_url = self._current_server(kc)
        else:
            self.mgmt_url = self.server.url
            kc = self.server.kubeconfig()
            write_private(self.dir / "kubeconfig", yaml.safe_dump(kc, sort_keys=False))
        cfg.guest_url = self.server.url
        cfg.transitions_path = str(self.dir / "transitions.jsonl")
        Path(cfg.transitions_path).touch()
        self._prepare_management()
        self._write_pull_secret()
        self._write_standin()
        from sim.ocm import start_world_ocm

        self.ocm = start_world_ocm(self)
        self.rosa = RosaService(self)
        self._cluster_config()
        self._mgmt_monitoring()
        self._write_world_json()
        self.operator = Operator(self.kubeconfig_path, self.server, cfg, logger=logging.getLogger("sim.operator"))
        self.operator.faults = self.faults
        self.operator.start()
        self.operator.wait_synced(30.0)
        self.rosa.start(self.operator.transitions)
        # API faults only now: the world's own set-up above is never faulted
        self.server.faults.set(seed=cfg.seed)
        self.server.faults.set_from(cfg.api_faults)
        self.fault_control = FaultControl(self)
        self.fault_control.start()
        write_private(ready, json.dumps({"pid": os.getpid(), "kubeconfig": self.kubeconfig_path,
                                          "url": self.mgmt_url}) + "\n", 0o644)
        log.info("world ready in %s (management API %s, guests %s, speed %s)", self.dir, self.mgmt_url,
                 self.server.url, cfg.speed)
        return self

    def stop(self) -> None:
        """Stop the operator, save ``state.json``, stop the server.  Idempotent, bounded."""
        with self._lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
        log.info("stopping the world")
        try:
            ready = self.dir / "ready"
            if ready.exists():
                ready.unlink()
        except OSError:
            pass
        if self.fault_control is not None:
            self.fault_control.stop()
        if self.rosa is not None:
            self.rosa.stop(timeout=5.0)
        if self.operator is not None:
            self.operator.stop(timeout=5.0)
        if self.ocm is not None:
            self.ocm.stop()
        if self.server is not None:
            try:
                self.save_state()
            finally:
                self.server.stop(timeout=3.0)
                self.write_usage()
        log.info("world stopped")
        if self._log_handler is not None:
            for name in ("sim",):
                logging.getLogger(name).removeHandler(self._log_handler)
            self._log_handler.close()

    def __enter__(self) -> "World":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- state
    def save_state(self) -> None:
        assert self.server is not None
        data = {"format": STATE_FORMAT, "saved": time.time(), "token": self.token, "port": self.server.port,
                "external_mgmt": bool(self.config.mgmt_kubeconfig), "apiserver": self.server.snapshot()}
        write_private(self.state_path, json.dumps(data))
        log.info("state saved to %s", self.state_path)

    def write_usage(self) -> None:
        """``usage.json``: the API requests served per client, API and verb, and this process's CPU and memory."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        data = {"format": "sim.usage/v1", "written": time.time(), "pid": os.getpid(),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
                "requests": self.server.requests_by_client if self.server is not None else {}}
        try:
            (self.dir / "usage.json").write_text(json.dumps(data, indent=1, sort_keys=True))
        except OSError as exc:
            log.warning("could not write usage.json: %s", exc)

    def _load_state(self) -> dict | None:
        if not self.state_path.exists():
            return None
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.state_path, exc)
            return None
        if data.get("format") != STATE_FORMAT:
            log.warning("ignoring %s: unknown format", self.state_path)
            return None
        log.info("restoring state saved at %s", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(data["saved"])))
        return data

    def _start_server(self, state: dict | None) -> ApiServer:
        ports = [self.config.port]
        if state and not self.config.port and state.get("port"):
            ports = [int(state["port"]), 0]   # same URL as before if the port is still free
        last: Exception | None = None
        for port in ports:
            try:
                if state:
                    srv = ApiServer.from_snapshot(state["apiserver"], port=port, token=self.token)
                else:
                    srv = ApiServer(port=port, token=self.token)
                return srv.start()
            except OSError as exc:
                last = exc
        raise RuntimeError(f"could not start the simulated API server: {last}")

    # ------------------------------------------------------------- contents
    @staticmethod
    def _current_server(kc: dict) -> str:
        ctx_name = kc.get("current-context")
        ctx = next((c["context"] for c in kc.get("contexts") or [] if c.get("name") == ctx_name), {})
        cluster = next((c["cluster"] for c in kc.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
        return cluster.get("server", "")

    def _prepare_management(self) -> None:
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config
        from kubernetes.client.rest import ApiException

        api = k8s_config.new_client_from_config(config_file=self.kubeconfig_path)
        try:
            if self.config.install_crds and self.config.mgmt_kubeconfig:
                from sim.crds import ensure_crds

                created = ensure_crds(api)
                if created:
                    log.info("installed minimal CRDs: %s", ", ".join(created))
            core = k8s.CoreV1Api(api)
            for ns in ("hypershift", "clusters"):
                try:
                    core.create_namespace({"metadata": {"name": ns}})
                except ApiException as exc:
                    if exc.status != 409:
                        raise
            cm = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "supported-versions", "namespace": "hypershift",
                               "labels": {"hypershift.openshift.io/supported-versions": "true"}},
                  "data": {"server-version": CLI_COMMIT,
                           "supported-versions": json.dumps({"versions": SUPPORTED_VERSIONS})}}
            try:
                core.create_namespaced_config_map("hypershift", cm)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                core.replace_namespaced_config_map("supported-versions", "hypershift", cm)
        finally:
            api.close()

    def _cluster_config(self) -> None:
        """OpenShift's ``dnses/cluster`` and ``infrastructures/cluster`` (config.openshift.io/v1) on the
        simulated management API, so a client reads the base domain and region as on a real cluster.

        Only on the world's own API server (never on ``mgmt_kubeconfig``); without ``cluster_config``
        they are removed (a restored state may hold them)."""
        if self.config.mgmt_kubeconfig:
            return
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config
        from kubernetes.client.rest import ApiException

        cfg = self.config
        group, version = "config.openshift.io", "v1"
        mgmt = self.ocm.mgmt if self.ocm is not None else {}
        infra_name = mgmt.get("infra_id") or f"{cfg.ocm_cluster_name}-sim"
        api = k8s_config.new_client_from_config(config_file=self.kubeconfig_path)
        try:
            custom = k8s.CustomObjectsApi(api)
            if not cfg.cluster_config:
                for plural in ("dnses", "infrastructures"):
                    try:
                        custom.delete_cluster_custom_object(group, version, plural, "cluster")
                    except ApiException as exc:
                        if exc.status != 404:
                            raise
                return
            objects = {
                "dnses": ({"baseDomain": cfg.base_domain,
                           "privateZone": {"tags": {"Name": f"{infra_name}-int",
                                                    f"kubernetes.io/cluster/{infra_name}": "owned"}},
                           "publicZone": {"id": "Z" + _hex(f"{cfg.seed}/dns/{cfg.base_domain}")[:19].upper()}},
                          {}),
                "infrastructures": ({"cloudConfig": {"key": "config", "name": "cloud-provider-config"},
                                     "platformSpec": {"type": "AWS", "aws": {}}},
                                    {"infrastructureName": infra_name, "platform": "AWS",
                                     "platformStatus": {"type": "AWS", "aws": {"region": cfg.region}},
                                     "apiServerURL": self.mgmt_url, "apiServerInternalURI": self.mgmt_url,
                                     "etcdDiscoveryDomain": "", "controlPlaneTopology": "HighlyAvailable",
                                     "infrastructureTopology": "HighlyAvailable", "cpuPartitioning": "None"}),
            }
            kinds = {"dnses": "DNS", "infrastructures": "Infrastructure"}
            for plural, (spec, status) in objects.items():
                body = {"apiVersion": f"{group}/{version}", "kind": kinds[plural],
                        "metadata": {"name": "cluster"}, "spec": spec}
                try:
                    obj = custom.create_cluster_custom_object(group, version, plural, body)
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    obj = custom.get_cluster_custom_object(group, version, plural, "cluster")
                    obj["spec"] = spec
                    obj = custom.replace_cluster_custom_object(group, version, plural, "cluster", obj)
                obj["status"] = status   # status only through the status subresource
                custom.replace_cluster_custom_object_status(group, version, plural, "cluster", obj)
            log.info("cluster config: dnses/cluster baseDomain %s, infrastructures/cluster region %s (%s)",
                     cfg.base_domain, cfg.region, infra_name)
        finally:
            api.close()

    @property
    def mgmt_prometheus_host(self) -> str:
        return mgmt_route_host(self.config.base_domain)

    def _mgmt_monitoring(self) -> None:
        """openshift-monitoring/prometheus-k8s (namespace, ServiceAccount, Route) on the management API the
        world serves itself (never on ``mgmt_kubeconfig``); removed when ``mgmt_monitoring`` is off (a
        restored state may hold them).  The route host is ``prometheus-k8s-openshift-monitoring.apps.`` +
        the base domain of ``dnses/cluster``."""
        if self.config.mgmt_kubeconfig:
            return
        assert self.server is not None
        if self.config.mgmt_monitoring:
            ensure_monitoring(self.server.store, self.mgmt_prometheus_host)
            log.info("management monitoring: route openshift-monitoring/prometheus-k8s at https://%s",
                     self.mgmt_prometheus_host)
        elif remove_monitoring(self.server.store):
            log.info("management monitoring removed (--no-mgmt-monitoring)")

    def _write_pull_secret(self) -> None:
        path = self.dir / "pull-secret.json"
        if path.exists():
            return
        auths = {}
        for registry in ("cloud.openshift.com", "quay.io", "registry.connect.redhat.com", "registry.redhat.io"):
            cred = base64.b64encode(f"sim-user:{secrets.token_hex(24)}".encode()).decode()
            auths[registry] = {"auth": cred, "email": "sim@sim.hypershift.local"}
        write_private(path, json.dumps({"auths": auths}))

    def _write_standin(self) -> None:
        self._write_wrapper("hypershift", "sim.standin.hypershift",
                            "It drives the SIMULATED management cluster described by ../world.json.")
        self._write_wrapper("kube-burner-ocp", "sim.standin.kube_burner",
                            "It loads a SIMULATED hosted cluster (KUBECONFIG: its guest kubeconfig); see "
                            "../world.json.")
        self._write_wrapper("rosa", "sim.standin.rosa",
                            "It talks to the SIMULATED OCM API and AWS account described by ../world.json.")

    def _write_wrapper(self, name: str, module: str, what: str) -> None:
        """``DIR/bin/<name>``: runs ``<module>.main`` from any cwd (no PYTHONPATH needed)."""
        script = (
            f"#!{sys.executable}\n"
            f"# Stand-in for the `{name}` CLI, written by `python -m sim serve`.\n"
            f"# {what}\n"
            "import os\n"
            "import sys\n"
            f"sys.path.insert(0, {PROJECT_ROOT!r})\n"
            f"from {module} import main\n"
            "sys.exit(main(world_path=os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir,"
            " 'world.json')))\n"
        )
        path = self.dir / "bin" / name
        tmp = path.with_name(name + ".tmp")
        tmp.write_text(script, encoding="utf-8")
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)

    def world_info(self) -> dict:
        info = self._world_info()
        if self.ocm is not None:
            info.update(self.ocm.info())   # ocm_url, ocm_token_url, mgmt_cluster_name, mgmt_cluster_id, ocm, ...
        if self.rosa is not None:
            info.update(self.rosa.info())  # rosa, rosa_subnet_ids, aws_account_id, rosa_account_roles_prefix, ...
        return info

    def _world_info(self) -> dict:
        cfg = self.config
        assert self.server is not None
        return {
            "format": "sim.world/v1",
            "simulated": True,
            "pid": os.getpid(),
            "dir": str(self.dir),
            "speed": cfg.speed,
            "seed": cfg.seed,
            "faults": dict(cfg.faults.to_dict(), api=self._api_fault_settings(cfg.api_faults)),
            "base_domain": cfg.base_domain,
            "cluster_config": bool(cfg.cluster_config and not cfg.mgmt_kubeconfig),
            "region": cfg.region,
            "release_image": cfg.release_image,
            "release_version": cfg.release_version,
            "supported_versions": SUPPORTED_VERSIONS,
            "cli_commit": CLI_COMMIT,
            "mgmt_url": self.mgmt_url,
            "external_mgmt": bool(cfg.mgmt_kubeconfig),
            "guest_url": self.server.url,
            "guest_url_template": self.server.url + "/guests/{namespace}/{name}",
            "kubeconfig": self.kubeconfig_path,
            "hypershift": self.hypershift_path,
            "kube_burner": self.kube_burner_path,
            "guest_image_registry": bool(cfg.guest_image_registry),
            "guest_monitoring": bool(cfg.guest_monitoring),
            "mgmt_monitoring": bool(cfg.mgmt_monitoring and not cfg.mgmt_kubeconfig),
            # https://<route host> of any simulated cluster's Prometheus is served here:
            "prometheus_url_template": self.server.url + "/prometheus/{host}",
            "pull_secret": str(self.dir / "pull-secret.json"),
            "transitions": cfg.transitions_path,
            "log": str(self.dir / "sim.log"),
            "state": str(self.state_path),
            "model": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg.params).items()},
            "dump_max_attempts": 720,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    @staticmethod
    def _api_fault_settings(data: dict) -> dict:
        from sim.apiserver import Faults as ApiFaults

        return ApiFaults().set_from(data).to_dict()

    def _write_world_json(self) -> None:
        write_private(self.dir / "world.json", json.dumps(self.world_info(), indent=2) + "\n", 0o644)

    def _setup_logging(self) -> None:
        handler = logging.FileHandler(self.dir / "sim.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
        lg = logging.getLogger("sim")
        lg.addHandler(handler)
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO)
        self._log_handler = handler


class FaultControl:
    """Change the API faults while the world runs: ``DIR/faults.json``.

    The world looks at the file every :attr:`POLL` seconds.  When it appears or changes, its ``api`` object
    (the keyword arguments of :meth:`sim.apiserver.Faults.set`; left-out keys take their defaults, so
    ``{"api": {}}`` means no API faults) replaces the API faults; with ``"for_seconds": N`` the start-up
    configuration (``serve``'s ``--api-*`` flags) comes back N seconds after the change was read.  When the
    file goes away the start-up configuration comes back at once.  An unreadable or invalid file is logged
    and ignored (the faults stay as they were).  Every change is confirmed in ``DIR/faults-active.json``:
    ``{"generation", "source" ("serve" | "faults.json"), "api", "until" (epoch or null), "error", "counters"}``
    -- ``generation`` counts the changes applied, so a client knows when its file took effect; ``counters``
    (injected errors, delayed requests, dropped and 410-Gone watches since the start) are refreshed every second
    while they change, and on stop.
    """

    POLL = 0.1
    COUNTERS_EVERY = 1.0
    MAX_BYTES = 64 * 1024

    def __init__(self, world: "World"):
        self.world = world
        self.path = world.dir / "faults.json"
        self.active_path = world.dir / "faults-active.json"
        self.startup = dict(world.config.api_faults)
        self.generation = 0
        self.until: float | None = None
        self.source = "serve"
        self.error: str | None = None
        self._seen: tuple | None = None
        self._counters: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-control", daemon=True)

    def start(self) -> None:
        self._seen = self._stat()
        if self._seen is not None:
            self._apply_file()
        else:
            self._write_active()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        try:
            self._write_active(bump=False)
        except OSError:
            pass

    def _stat(self) -> tuple | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _run(self) -> None:
        written = time.monotonic()
        while not self._stop.wait(self.POLL):
            try:
                if time.monotonic() - written >= self.COUNTERS_EVERY and self._counters != self._faults().counters():
                    self._write_active(bump=False)  # fresh counters, same configuration
                    written = time.monotonic()
                current = self._stat()
                if current != self._seen:
                    self._seen = current
                    if current is None:
                        self._restore("faults.json removed")
                    else:
                        self._apply_file()
                elif self.until is not None and time.time() >= self.until:
                    self._restore("faults.json for_seconds elapsed")
            except Exception:  # pragma: no cover - the control must never take the world down
                log.exception("fault control")

    def _faults(self):
        assert self.world.server is not None
        return self.world.server.faults

    def _apply_file(self) -> None:
        try:
            raw = self.path.read_bytes()[: self.MAX_BYTES + 1]
            if len(raw) > self.MAX_BYTES:
                raise ValueError(f"larger than {self.MAX_BYTES} bytes")
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            unknown = sorted(set(data) - {"api", "for_seconds"})
            if unknown:
                raise ValueError(f"unknown key(s): {', '.join(unknown)}")
            api = data.get("api") or {}
            if not isinstance(api, dict):
                raise ValueError('"api" must be an object')
            seconds = data.get("for_seconds")
            if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                        or seconds < 0):
                raise ValueError('"for_seconds" must be a number >= 0')
            self._faults().set_from(api)
        except (OSError, ValueError, TypeError) as exc:
            if isinstance(exc, FileNotFoundError):
                return
            self.error = f"{self.path.name}: {exc}"
            log.warning("ignoring %s", self.error)
            self._write_active()
            return
        self.error = None
        self.source = "faults.json"
        self.until = None if seconds is None else time.time() + float(seconds)
        log.info("API faults from faults.json%s: %s", "" if seconds is None else f" for {seconds}s",
                 self._faults().to_dict())
        self._write_active()

    def _restore(self, why: str) -> None:
        self._faults().set_from(self.startup)
        self.until = None
        self.source = "serve"
        self.error = None
        log.info("API faults back to the start-up configuration (%s)", why)
        self._write_active()

    def _write_active(self, bump: bool = True) -> None:
        if bump:
            self.generation += 1
        faults = self._faults()
        self._counters = faults.counters()
        doc = {"generation": self.generation, "source": self.source, "api": faults.to_dict(), "until": self.until,
               "error": self.error, "counters": self._counters}
        write_private(self.active_path, json.dumps(doc) + "\n", 0o644)
