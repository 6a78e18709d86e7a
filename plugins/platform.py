"""Platforms: where hosted clusters are created and how.

A platform is described by plain JSON (``descriptor``) built once on the
controller and handed to every xdist worker, which opens its own ``Platform``
from it.  The ``hypershift`` kind drives a management cluster through the
``hypershift`` CLI and the Kubernetes API; the simulated world (``--platform
sim``) is exactly that kind, pointed at a management cluster served by
``python -m sim serve`` — the harness reaches it only through its kubeconfig
and its CLI paths, as it would a real one.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import process
from .options import SIM_CLUSTER_FAULTS
from .kube import USER_AGENT, Kube, WaitTimeout, condition, condition_true, format_time, normalize_time, parse_time
from .rundir import isotime, write_private

log = logging.getLogger("hcp.platform")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_LABEL = "hcp-scale.io/run"          # put on every HostedCluster the run creates
INDEX_LABEL = "hcp-scale.io/index"
INFRA_LABEL = "hypershift.openshift.io/auto-created-for-infra"
NODEPOOL_LABEL = "hypershift.openshift.io/nodePool"
DUMP_TIMEOUT = 600.0
SIM_START_TIMEOUT = 60.0

# Conditions that do not clear up by waiting (reference §1.7 "failed / stuck").
TERMINAL_FALSE = {"ValidConfiguration", "ValidReleaseImage", "SupportedHostedCluster", "PlatformCredentialsFound",
                  "ValidAWSIdentityProvider", "ValidOIDCConfiguration"}


class ClusterFailed(Exception):
    """The platform reports that the cluster cannot become ready."""


@dataclass
class ClusterSpec:
    index: int
    name: str
    test_id: str
    workers: int

    def to_json(self) -> dict:
        return {"index": self.index, "name": self.name, "test_id": self.test_id, "workers": self.workers}


def terminal_failure(hc: dict) -> str | None:
    """Why a HostedCluster will not become ready without someone changing it, or None."""
    for ctype in TERMINAL_FALSE:
        cond = condition(hc, ctype)
        if cond and cond.get("status") == "False":
            return f"{ctype}=False ({cond.get('reason')}): {cond.get('message', '')}".strip()
    infra = condition(hc, "InfrastructureReady")
    if infra and infra.get("status") == "False" and infra.get("reason") == "InfraStatusFailure":
        return f"InfrastructureReady=False (InfraStatusFailure): {infra.get('message', '')}".strip()
    progressing = condition(hc, "Progressing")
    if progressing and progressing.get("status") == "False" and progressing.get("reason") == "Blocked":
        return f"Progressing=False (Blocked): {progressing.get('message', '')}".strip()
    return None


def hc_state(hc: dict) -> str:
    """The HostedCluster's Available and Degraded conditions in a line, for error messages."""
    parts = []
    for ctype in ("Available", "Degraded"):
        cond = condition(hc, ctype)
        if cond:
            text = f"{ctype}={cond.get('status')} ({cond.get('reason')})"
            parts.append(f"{text}: {cond['message']}" if cond.get("message") else text)
    return "; ".join(parts)


def rolled_out(hc: dict) -> bool:
    """The reference's "fully rolled out" predicate (§1.7)."""
    status = hc.get("status") or {}
    version = status.get("version") or {}
    history = version.get("history") or []
    if not (condition_true(hc, "Available") and history):
        return False
    progressing = condition(hc, "Progressing")
    if progressing and progressing.get("status") != "False":
        return False
    head = history[0]
    desired = (version.get("desired") or {}).get("image")
    return head.get("state") == "Completed" and bool(head.get("completionTime")) and (
        not desired or head.get("image") == desired)


def nodepool_ready(np: dict) -> bool:
    """The reference's practical NodePool-ready predicate (§2.4)."""
    spec_replicas = (np.get("spec") or {}).get("replicas")
    status = np.get("status") or {}
    if not condition_true(np, "Ready"):
        return False
    for ctype in ("AllMachinesReady", "AllNodesHealthy"):
        cond = condition(np, ctype)
        if cond is not None and cond.get("status") != "True":
            return False
    for ctype in ("UpdatingVersion", "UpdatingConfig"):
        if condition_true(np, ctype):
            return False
    return spec_replicas is None or status.get("replicas") == spec_replicas


def node_ready_time(node: dict) -> str | None:
    cond = condition(node, "Ready")
    if cond and cond.get("status") == "True":
        return cond.get("lastTransitionTime")
    return None


def pool_nodes_ready(kubeconfig: Path, selector: str | None, replicas: int, deadline: float, what: str) -> str | None:
    """Watch the guest until ``replicas`` nodes matching ``selector`` are Ready; the latest of their Ready times."""
    def ready(objs):
        nodes = [n for n in objs.values() if node_ready_time(n)]
        return nodes if len(nodes) >= replicas else None

    guest = Kube.from_kubeconfig(str(kubeconfig))
    try:
        nodes = guest.wait_for("nodes", ready, deadline=deadline, label_selector=selector, what=what)
    finally:
        guest.close()
    return _latest(node_ready_time(n) for n in nodes)


def timed_out(exc: WaitTimeout, timings: dict, last_said: str) -> WaitTimeout:
    """The timeout a ``wait_ready`` raises: what the platform last said, and the phases reached so far."""
    if last_said:
        exc = WaitTimeout(f"{exc}; {last_said}")
    exc.timings = timings
    return exc


def _latest(times) -> str | None:
    parsed = [parse_time(t) for t in times if t]
    return format_time(max(parsed)) if parsed else None


class HypershiftPlatform:
    """Hosted clusters through the ``hypershift`` CLI on a management cluster."""

    kind = "hypershift"

    def __init__(self, descriptor: dict):
        self.d = descriptor
        self.namespace = descriptor.get("namespace", "clusters")
        self.kubeconfig = descriptor["kubeconfig"]
        self.cli = descriptor["hypershift_cli"]
        self._kube: Kube | None = None

    # ------------------------------------------------------------ plumbing
    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube.from_kubeconfig(self.kubeconfig)
        return self._kube

    def close(self) -> None:
        if self._kube is not None:
            self._kube.close()
            self._kube = None

    def env(self) -> dict:
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig  # dump/create kubeconfig have no --kubeconfig flag
        return env

    def secrets(self) -> list[str]:
        return list(self.d.get("secrets") or [])

    def _cli(self, args: list[str], log_path: Path, timeout: float) -> process.Result:
        return process.run([self.cli, *args], log_path=log_path, timeout=timeout, env=self.env(),
                           secrets=self.secrets())

    # ------------------------------------------------------------ lifecycle
    def credential_args(self) -> list[str]:
        """AWS credentials as the hypershift CLI takes them: STS + role when given, else a credentials file."""
        if self.d.get("role_arn"):
            args = ["--role-arn", self.d["role_arn"]]
            if self.d.get("sts_creds"):
                args += ["--sts-creds", self.d["sts_creds"]]
            return args
        if self.d.get("aws_creds"):
            return ["--aws-creds", self.d["aws_creds"]]
        return []

    def create_args(self, spec: ClusterSpec, settings) -> list[str]:
        args = ["create", "cluster", "aws",
                "--name", spec.name,
                "--namespace", self.namespace,
                "--base-domain", self.d["base_domain"],
                "--region", self.d["region"],
                "--pull-secret", self.d["pull_secret"],
                "--node-pool-replicas", str(spec.workers)]
        release = settings.release(self.d.get("release_image") or "")
        if release:
            args += ["--release-image", release]
        tags = [f"run-uuid={settings.uuid}"]
        if self.d.get("mgmt_name"):
            tags.insert(0, f"mgmt-cluster={self.d['mgmt_name']}")
        args += ["--labels", f"{RUN_LABEL}={settings.uuid}",
                 "--labels", f"{INDEX_LABEL}={spec.index}",
                 "--additional-tags", ",".join(tags)]
        args += self.credential_args()
        if self.d.get("oidc_issuer_url"):
            args += ["--oidc-issuer-url", self.d["oidc_issuer_url"]]
        return args + list(settings.wildcard_options)

    def create(self, spec: ClusterSpec, settings, folder: Path, timeout: float) -> process.Result:
        return self._cli(self.create_args(spec, settings), folder / "create.log", timeout)

    def exists(self, spec: ClusterSpec) -> bool:
        return self.kube.get_hosted_cluster(self.namespace, spec.name) is not None

    def wait_ready(self, spec: ClusterSpec, folder: Path, deadline: float) -> dict:
        """Wait (watching) until the cluster is ready; return API timestamps of each phase.

        Raises ``ClusterFailed`` when the platform reports a terminal failure and
        ``WaitTimeout`` at ``deadline``; ``timings`` on the exception carries what
        was reached.
        """
        timings: dict = {}
        name, ns = spec.name, self.namespace
        seen = {"state": ""}       # the HostedCluster's last conditions, for a timeout's message
        try:
            def control_plane(objs):
                hc = objs.get(name)
                if hc is None:
                    return None
                seen["state"] = hc_state(hc)
                timings.setdefault("hc_created", normalize_time(hc["metadata"].get("creationTimestamp")))
                failure = terminal_failure(hc)
                if failure:
                    raise ClusterFailed(failure)
                if condition_true(hc, "Available") and ((hc.get("status") or {}).get("kubeconfig") or {}).get("name"):
                    return hc
                return None

            hc = self.kube.wait_for("hostedclusters", control_plane, deadline=deadline, namespace=ns,
                                    field_selector=f"metadata.name={name}", what=f"{name} control plane available")
            timings["control_plane_available"] = normalize_time(condition(hc, "Available").get("lastTransitionTime"))
            infra_id = (hc.get("spec") or {}).get("infraID")
            secret_name = hc["status"]["kubeconfig"]["name"]
            kubeconfig_text = self.kube.read_secret_key(ns, secret_name, "kubeconfig")
            if not kubeconfig_text:
                raise ClusterFailed(f"secret {ns}/{secret_name} has no kubeconfig")
            write_private(folder / "kubeconfig", kubeconfig_text)

            def pools(objs):
                mine = [np for np in objs.values() if (np.get("spec") or {}).get("clusterName") == name]
                if mine and all(nodepool_ready(np) for np in mine):
                    return mine
                return None

            selector = f"{INFRA_LABEL}={infra_id}" if infra_id else None
            nodepools = self.kube.wait_for("nodepools", pools, deadline=deadline, namespace=ns,
                                           label_selector=selector, what=f"{name} node pools ready")
            timings["nodepools_ready"] = _latest(condition(np, "Ready").get("lastTransitionTime") for np in nodepools)
            expected = {np["metadata"]["name"]: (np.get("spec") or {}).get("replicas") or 0 for np in nodepools}
            timings["workers_expected"] = sum(expected.values())

            guest = Kube.from_kubeconfig_text(kubeconfig_text)
            try:
                def nodes(objs):
                    ready = [n for n in objs.values()
                             if (n["metadata"].get("labels") or {}).get(NODEPOOL_LABEL) in expected
                             and node_ready_time(n)]
                    return ready if len(ready) >= timings["workers_expected"] else None

                ready_nodes = guest.wait_for("nodes", nodes, deadline=deadline, what=f"{name} worker nodes Ready")
            finally:
                guest.close()
            timings["workers_ready"] = _latest(node_ready_time(n) for n in ready_nodes)
            timings["workers_ready_count"] = len(ready_nodes)

            def complete(objs):
                hc = objs.get(name)
                if hc is None:
                    raise ClusterFailed("the HostedCluster disappeared while installing")
                seen["state"] = hc_state(hc)
                failure = terminal_failure(hc)
                if failure:
                    raise ClusterFailed(failure)
                return hc if rolled_out(hc) else None

            hc = self.kube.wait_for("hostedclusters", complete, deadline=deadline, namespace=ns,
                                    field_selector=f"metadata.name={name}", what=f"{name} install complete")
            timings["install_completed"] = normalize_time(hc["status"]["version"]["history"][0]["completionTime"])
            timings["version"] = hc["status"]["version"]["history"][0].get("version") or ""
            timings["ready"] = _latest([timings["control_plane_available"], timings["nodepools_ready"],
                                        timings["workers_ready"], timings["install_completed"]])
            return timings
        except WaitTimeout as exc:
            raise timed_out(exc, timings, seen["state"] and f"the HostedCluster last said: {seen['state']}") \
                from None
        except ClusterFailed as exc:
            exc.timings = timings
            raise

    def destroy(self, spec: ClusterSpec, settings, folder: Path) -> tuple[process.Result, float | None]:
        """Run the destroy command and watch, at the same time, for the object to go away.

        Returns the command's result and the epoch time the deletion was seen
        (None when it was not seen before the destroy timeout).
        """
        hc = self.kube.get_hosted_cluster(self.namespace, spec.name)
        args = ["destroy", "cluster", "aws", "--name", spec.name, "--namespace", self.namespace,
                "--cluster-grace-period", f"{int(settings.destroy_timeout)}s",
                "--region", self.d["region"], "--base-domain", self.d["base_domain"], *self.credential_args()]
        infra_id = ((hc or {}).get("spec") or {}).get("infraID")
        if infra_id:
            args += ["--infra-id", infra_id]
        deadline = time.monotonic() + settings.destroy_timeout + 120
        seen: dict = {}

        def watch_gone():
            watcher = Kube.from_kubeconfig(self.kubeconfig)
            try:
                seen["gone"] = watcher.wait_gone("hostedclusters", self.namespace, spec.name, deadline=deadline)
            except Exception as exc:  # reported through ``seen`` below
                seen["error"] = exc
            finally:
                watcher.close()

        thread = threading.Thread(target=watch_gone, name=f"gone-{spec.name}", daemon=True)
        thread.start()
        result = self._cli(args, folder / "destroy.log", timeout=settings.destroy_timeout + 60)
        if result.ok:
            thread.join(max(0.0, deadline - time.monotonic()))
        else:
            thread.join(1.0)
        return result, seen.get("gone")

    def add_nodepool(self, spec: ClusterSpec, settings, folder: Path) -> dict:
        """Create the extra node pool (--machinepool-*) and, with --machinepool-wait, time it until Ready."""
        name = f"{spec.name}-{settings.machinepool_name}"
        timings = {"machinepool": name, "machinepool_requested": isotime()}
        result = self._cli(["create", "nodepool", "aws", "--cluster-name", spec.name, "--name", name,
                            "--namespace", self.namespace, "--replicas", str(settings.machinepool_replicas),
                            "--instance-type", settings.machinepool_flavour],
                           folder / "machinepool.log", timeout=600)
        timings["machinepool_cli_s"] = round(result.duration, 3)
        if not result.ok:
            raise ClusterFailed(f"create nodepool {name} failed: {result.tail(1)}")
        # The CLI has no flags for node labels and taints: set them before any node joins.
        self.kube.request("PATCH", Kube.path("nodepools", self.namespace, name),
                          body={"spec": {"nodeLabels": settings.machinepool_labels,
                                         "taints": settings.machinepool_taints}},
                          content_type="application/merge-patch+json")
        if not settings.machinepool_wait:
            return timings
        deadline = time.monotonic() + 5 * settings.machinepool_wait_cycles
        try:
            pool = self.kube.wait_for("nodepools", lambda objs: objs.get(name) if name in objs and nodepool_ready(
                objs[name]) else None, deadline=deadline, namespace=self.namespace,
                field_selector=f"metadata.name={name}", what=f"node pool {name} ready")
            timings["machinepool_created"] = normalize_time(pool["metadata"].get("creationTimestamp"))
            timings["machinepool_ready"] = normalize_time(condition(pool, "Ready").get("lastTransitionTime"))
            timings["machinepool_nodes_ready"] = pool_nodes_ready(folder / "kubeconfig", f"{NODEPOOL_LABEL}={name}",
                                                                  settings.machinepool_replicas, deadline,
                                                                  f"node pool {name} nodes Ready")
        except WaitTimeout as exc:
            raise ClusterFailed(f"node pool {name} not ready after {settings.machinepool_wait_cycles} cycles of 5s") \
                from exc
        return timings

    def dump(self, spec: ClusterSpec, folder: Path) -> process.Result:
        target = folder / "dump"
        target.mkdir(exist_ok=True)
        return self._cli(["dump", "cluster", "--name", spec.name, "--namespace", self.namespace,
                          "--artifact-dir", str(target), "--dump-guest-cluster"],
                         folder / "dump.log", timeout=DUMP_TIMEOUT)

    def list_names(self, label_selector: str | None = None) -> list[str]:
        """Names of the HostedClusters in the namespace (optionally only those matching a selector)."""
        kwargs = {"labelSelector": label_selector} if label_selector else {}
        listing = self.kube.get(Kube.path("hostedclusters", self.namespace), **kwargs)
        return [item["metadata"]["name"] for item in listing.get("items") or []]


    def gather(self, target: Path) -> list[Path]:
        """Dump the management cluster's HyperShift objects through the API (``--mgmt-must-gather``)."""
        import yaml

        target.mkdir(parents=True, exist_ok=True)
        written = []
        for plural in ("hostedclusters", "nodepools"):
            listing = self.kube.get(Kube.path(plural, self.namespace))
            path = target / f"{self.namespace}-{plural}.yaml"
            path.write_text(yaml.safe_dump_all(listing.get("items") or [], sort_keys=False))
            written.append(path)
        config_maps = self.kube.get("/api/v1/namespaces/hypershift/configmaps")
        path = target / "hypershift-configmaps.yaml"
        path.write_text(yaml.safe_dump_all(config_maps.get("items") or [], sort_keys=False))
        written.append(path)
        return written


def open_platform(descriptor: dict):
    """This process's platform object (``HypershiftPlatform`` or ``rosa.RosaPlatform``) from its descriptor."""
    if descriptor["kind"] == "hypershift":
        return HypershiftPlatform(descriptor)
    if descriptor["kind"] == "rosa":
        from .rosa import RosaPlatform

        return RosaPlatform(descriptor)
    raise ValueError(f"unknown platform kind {descriptor['kind']!r}")


# ------------------------------------------------------------- the sim world
class SimWorld:
    """A simulated management cluster: either started for the run or already served from a folder."""

    def __init__(self, folder: Path, proc=None):
        self.folder = folder
        self.proc = proc

    @classmethod
    def start(cls, folder: Path, settings) -> "SimWorld":
        """Start ``python -m sim serve`` for this run and wait until it is ready."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ready").unlink(missing_ok=True)
        argv = [sys.executable, "-m", "sim", "serve", "--dir", str(folder), "--speed", repr(settings.sim_speed),
                "--seed", str(settings.sim_seed)]
        for dest, flag in SIM_CLUSTER_FAULTS.items():
            values = getattr(settings, dest)
            if values:
                argv += [flag, ",".join(str(v) for v in values)]
        if settings.sim_failure_rate:
            argv += ["--failure-rate", repr(settings.sim_failure_rate)]
        if settings.sim_api_error_rate:     # the harness's own requests (its User-Agent), not the CLIs'
            argv += ["--api-error-rate", repr(settings.sim_api_error_rate), "--api-fault-agents", USER_AGENT.split("/")[0] + "/"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        proc = process.spawn(argv, log_path=folder / "serve.log", env=env)
        world = cls(folder, proc)
        deadline = time.monotonic() + SIM_START_TIMEOUT
        while not (folder / "ready").exists():  # a child starting up, not cluster state: bounded
            if proc.poll() is not None:
                raise pytest.UsageError(f"the simulated management cluster did not start (exit {proc.returncode}); "
                                        f"see {folder / 'serve.log'}")
            if time.monotonic() > deadline:
                world.stop()
                raise pytest.UsageError(f"the simulated management cluster was not ready after {SIM_START_TIMEOUT:.0f}s;"
                                        f" see {folder / 'serve.log'}")
            time.sleep(0.05)
        return world

    def descriptor(self) -> dict:
        info = json.loads((self.folder / "world.json").read_text())
        return {
            "kind": "hypershift",
            "simulated": True,
            "name": "simulated management cluster",
            "folder": str(self.folder),
            "kubeconfig": str(self.folder / "kubeconfig"),
            "hypershift_cli": str(self.folder / "bin" / "hypershift"),
            "namespace": "clusters",
            "base_domain": info["base_domain"],
            "region": info["region"],
            "release_image": info["release_image"],
            "pull_secret": str(self.folder / "pull-secret.json"),
            "mgmt_name": info.get("mgmt_cluster_name") or "sim-mgmt",
            "kube_burner_cli": str(self.folder / "bin" / "kube-burner-ocp"),
            "secrets": [],
        }

    def stop(self) -> None:
        if self.proc is not None:
            process.stop(self.proc, grace=15.0)
            self.proc = None
