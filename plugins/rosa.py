"""``--platform rosa``: ROSA hosted control planes through the ``rosa`` CLI.

The run, on the controller (:func:`prepare`, once):

* the ``rosa`` CLI — ``--rosa-cli``, else the ``--rosa-cli-version`` release,
  downloaded once, cached and checked (``plugins/acquire.py``); recorded in
  ``cli-rosa.json``;
* ``rosa login [--env ENV]`` with the OCM token in the child's environment
  (``ROSA_TOKEN``; never on argv), into a config file of the run's own
  (``rosa/ocm.json``, 0600, ``OCM_CONFIG`` for every later call); ``rosa init``
  with ``--rosa-init``; ``rosa whoami`` and ``rosa version`` recorded;
* the HCP account roles (``rosa list account-roles``), an OIDC config
  (``--oidc-config-id``, else ``rosa create oidc-config --managed``) and the run's
  operator roles (``rosa create operator-roles --hosted-cp --prefix``); what the
  run created is written to ``rosa/setup.json`` first and removed at the end
  (:func:`teardown`) unless a cluster of the run is still there (kept or
  pending deletion: they need them) — a user's ``--oidc-config-id`` never;
* :class:`Poller`: ONE ``rosa list clusters -o json`` every
  ``--rosa-poll-interval`` for all the run's clusters, written atomically to
  ``rosa/clusters.json`` with the first time each cluster was seen in each
  state; every change also in ``rosa/states.jsonl``.  It is the run's watcher
  too (status lines, ``watcher.jsonl``).

Each cluster, on its worker (:class:`RosaPlatform`): ``rosa create cluster
--hosted-cp`` (``-o json``: its id); readiness from the shared listing (waiting
→ pending → installing → ready, or error); ``rosa create admin`` and the OAuth
login ``oc login`` does, for a guest kubeconfig (0600); the workers Ready from
the guest's nodes (watched, their own timestamps); ``rosa install addon`` for
``--rosa-addons``; ``rosa delete cluster`` and its disappearance from the
listing; for a failed cluster ``rosa logs install`` in its folder.

Timing sources: OCM gives no time for a state change, so ``rosa_<state>``
instants are when the listing first showed the state (at most one poll interval
late, ``state_poll_interval_s`` in the documents); ``hc_created`` is the
cluster's ``creation_timestamp`` and ``workers_ready`` the nodes' Ready
``lastTransitionTime`` — the API's own.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from . import process
from .kube import ApiError, Kube, WaitTimeout, normalize_time, oauth_login, token_kubeconfig
from .platform import ClusterFailed, ClusterSpec, _latest, node_ready_time, pool_nodes_ready, timed_out
from .rundir import epoch_seconds, iso_epoch, isotime, write_json, write_private
from .watcher import Watcher

log = logging.getLogger("hcp.rosa")

FOLDER = "rosa"
CLUSTERS_FILE = "clusters.json"
STATES_FILE = "states.jsonl"
SETUP_FILE = "setup.json"
CONFIG_FILE = "ocm.json"
NAME_MAX = 54                  # rosa create cluster --cluster-name
OPERATOR_PREFIX_MAX = 32       # --operator-roles-prefix
CLI_TIMEOUT = 300.0            # seconds for one rosa call
LOGIN_RETRY = 5.0              # seconds between two OAuth logins while the new admin is not active yet
READY, ERROR, UNINSTALLING = "ready", "error", "uninstalling"
# OCM cluster states -> the watcher's four
STATE_CLASS = {"waiting": "installing", "pending": "installing", "validating": "installing",
               "installing": "installing", "ready": "ready", "error": "failed", "uninstalling": "deleting"}
# --sim-* options -> the fault sets of the simulated world (sim.model.Faults), handed to a simulated rosa
SIM_FAULT_KEYS = {"sim_fail_clusters": "fail_clusters", "sim_stuck_clusters": "stuck_clusters",
                  "sim_destroy_fail_clusters": "destroy_fail_clusters", "sim_degraded_clusters": "degraded_clusters"}


class RosaError(Exception):
    """A rosa command failed."""


# ---------------------------------------------------------------------- the CLI
class Rosa:
    """The ``rosa`` CLI with the run's environment: its OCM config file, AWS profile, simulated faults."""

    def __init__(self, cli: str, ocm_config: str, *, aws_profile: str | None = None,
                 sim_faults: dict | None = None, secrets: list[str] | None = None):
        self.cli = cli
        self.ocm_config = ocm_config
        self.aws_profile = aws_profile
        self.sim_faults = sim_faults
        self.secrets = list(secrets or [])

    def env(self, extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("ROSA_TOKEN", "OCM_TOKEN")}
        env["OCM_CONFIG"] = self.ocm_config
        if self.aws_profile:
            env["AWS_PROFILE"] = self.aws_profile
        if self.sim_faults:
            env["HCP_SIM_FAULTS"] = json.dumps(self.sim_faults, sort_keys=True)
        env.update(extra or {})
        return env

    def run(self, args: list[str], log_path: Path, *, timeout: float = CLI_TIMEOUT, capture: bool = False,
            extra_env: dict | None = None, secrets: list[str] | None = None) -> process.Result:
        return process.run([self.cli, *args], log_path=log_path, timeout=timeout, env=self.env(extra_env),
                           secrets=[*self.secrets, *(secrets or [])], capture=capture)

    def json(self, args: list[str], log_path: Path, *, timeout: float = CLI_TIMEOUT) -> Any:
        """Run ``rosa ARGS -o json``; its decoded output, or RosaError with the end of the log."""
        result = self.check([*args, "-o", "json"], log_path, timeout=timeout, capture=True)
        try:
            return first_json(result.stdout or "")
        except ValueError:
            raise RosaError(f"rosa {' '.join(args[:2])} printed no JSON") from None

    def check(self, args: list[str], log_path: Path, *, timeout: float = CLI_TIMEOUT, **kwargs) -> process.Result:
        result = self.run(args, log_path, timeout=timeout, **kwargs)
        if not result.ok:
            why = "timed out" if result.timed_out else f"exited {result.returncode}"
            raise RosaError(f"rosa {' '.join(args[:2])} {why}: {result.tail(2)}")
        return result


def first_json(text: str) -> Any:
    """The JSON value in ``text``: rosa prints ``INFO:`` lines around it on stdout even with ``-o json``
    (``create cluster``: the billing account before, the operator roles and OIDC provider after)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError("no JSON value")
    value, _ = json.JSONDecoder().raw_decode(text, min(starts))
    return value


def rosa_from(descriptor: dict) -> Rosa:
    return Rosa(descriptor["rosa_cli"], descriptor["ocm_config"], aws_profile=descriptor.get("aws_profile"),
                sim_faults=descriptor.get("sim_faults"), secrets=descriptor.get("secrets"))


def sim_faults(settings) -> dict | None:
    """The run's ``--sim-*`` cluster faults as the simulated world's fault sets (None without any)."""
    faults = {key: list(getattr(settings, dest)) for dest, key in SIM_FAULT_KEYS.items() if getattr(settings, dest)}
    if settings.sim_failure_rate:
        faults["failure_rate"] = settings.sim_failure_rate
    return faults or None


# ----------------------------------------------------------------- the run's setup
def prepare(settings, run_path: Path) -> dict:
    """Acquire rosa, log in, find or create what the clusters share; the platform descriptor (plain JSON)."""
    from .acquire import AcquireError, acquire_rosa, cache_root

    folder = run_path / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "setup.log"
    try:
        tool = acquire_rosa(explicit=settings.rosa_cli, version=settings.rosa_cli_version, cache=cache_root(),
                            log_path=run_path / "acquire.log", github_api=settings.github_api_url)
    except AcquireError as exc:
        raise pytest.UsageError(f"rosa CLI: {exc}") from None
    write_json(run_path / "cli-rosa.json", tool.to_json())
    faults = sim_faults(settings)
    rosa = Rosa(tool.path, str(folder / CONFIG_FILE), aws_profile=settings.aws_profile, sim_faults=faults,
                secrets=settings.secrets())
    login = ["login"] + (["--env", settings.rosa_env] if settings.rosa_env else [])
    result = rosa.run(login, log_path, extra_env={"ROSA_TOKEN": settings.ocm_token}, secrets=[settings.ocm_token])
    if not result.ok:
        raise pytest.UsageError(f"rosa login failed (exit {result.returncode}): {result.tail(1)}; see {log_path}")
    if os.path.exists(rosa.ocm_config):
        os.chmod(rosa.ocm_config, 0o600)
    version = rosa.run(["version", "--client"], log_path, capture=True)   # --client: no remote version check
    simulated = "simulated" in (version.stdout or "")
    if faults and not simulated:
        raise pytest.UsageError("--sim-* faults need a simulated world: this rosa CLI is not the stand-in of "
                                "python -m sim serve (give --rosa-cli DIR/bin/rosa)")
    try:
        if settings.rosa_init:
            rosa.check(["init"], log_path)
        whoami = rosa.json(["whoami"], log_path)
        roles = account_roles(rosa.json(["list", "account-roles"], log_path))
    except RosaError as exc:
        raise pytest.UsageError(f"--platform rosa: {exc}; see {log_path}") from None
    setup_path = folder / SETUP_FILE
    previous = _read_json(setup_path) if settings.only_delete_clusters else None
    if previous:   # --only-delete-clusters: the run's own OIDC config and operator roles, removed at the end
        created, given = previous.get("created") or {}, previous.get("given") or {}
        return descriptor(settings, tool, version, rosa, whoami, roles, folder, faults, simulated,
                          oidc_id=created.get("oidc_config_id") or given.get("oidc_config_id") or "",
                          prefix=previous.get("operator_roles_prefix") or operator_roles_prefix(settings.uuid))
    setup = {"uuid": settings.uuid, "created": {}, "given": {}, "removed": {}, "left": {},
             "operator_roles_prefix": operator_roles_prefix(settings.uuid)}
    if settings.oidc_config_id:
        setup["given"]["oidc_config_id"] = settings.oidc_config_id
        oidc_id = settings.oidc_config_id
    else:
        try:
            created = rosa.json(["create", "oidc-config", "--mode", "auto", "--managed", "-y"], log_path)
        except RosaError as exc:
            raise pytest.UsageError(f"--platform rosa: {exc}; see {log_path}") from None
        oidc_id = (created or {}).get("id")
        if not oidc_id:
            raise pytest.UsageError(f"rosa create oidc-config printed no id; see {log_path}")
        setup["created"]["oidc_config_id"] = oidc_id
        write_json(setup_path, setup)
    prefix = setup["operator_roles_prefix"]
    setup["created"]["operator_roles_prefix"] = prefix   # recorded before: a half-made set is removed too
    write_json(setup_path, setup)
    try:
        rosa.check(["create", "operator-roles", "--hosted-cp", "--prefix", prefix, "--oidc-config-id", oidc_id,
                    "--installer-role-arn", roles["installer"], "--mode", "auto", "-y"], log_path)
    except RosaError as exc:
        teardown_setup(rosa, setup_path, log_path)
        raise pytest.UsageError(f"--platform rosa: {exc}; see {log_path}") from None
    return descriptor(settings, tool, version, rosa, whoami, roles, folder, faults, simulated, oidc_id=oidc_id,
                      prefix=prefix)


def descriptor(settings, tool, version, rosa: Rosa, whoami, roles: dict, folder: Path, faults, simulated: bool, *,
               oidc_id: str, prefix: str) -> dict:
    """The platform descriptor every worker opens :class:`RosaPlatform` from (plain JSON, no secret)."""
    return {
        "kind": "rosa",
        "simulated": simulated,
        "name": f"ROSA ({settings.rosa_env or 'production'}{', simulated' if simulated else ''})",
        "mgmt_name": None,
        "namespace": "",
        "rosa_cli": tool.path,
        "rosa_version": (version.stdout or "").strip().splitlines()[0] if version.stdout else None,
        "ocm_config": rosa.ocm_config,
        "aws_profile": settings.aws_profile,
        "account": {k: whoami.get(k) for k in ("AWS Account ID", "OCM Account Username", "OCM API")
                    if isinstance(whoami, dict) and k in whoami},
        "role_arn": roles["installer"], "support_role_arn": roles["support"], "worker_role_arn": roles["worker"],
        "oidc_config_id": oidc_id,
        "operator_roles_prefix": prefix,
        "subnet_ids": list(settings.rosa_subnet_ids or []),
        "addons": list(settings.rosa_addons or []),
        "poll_interval": settings.rosa_poll_interval,
        "state_dir": str(folder),
        "sim_faults": faults,
        "secrets": [],
    }


def operator_roles_prefix(run_uuid: str) -> str:
    return f"hcp-scale-{run_uuid.replace('-', '')[:12]}"[:OPERATOR_PREFIX_MAX]


def account_roles(listing: Any) -> dict:
    """The HCP installer, support and worker role ARNs from ``rosa list account-roles -o json``."""
    found: dict[str, list[str]] = {"installer": [], "support": [], "worker": []}
    for role in listing or []:
        arn = role.get("RoleARN") or role.get("roleARN") or role.get("arn") or ""
        kind = str(role.get("RoleType") or role.get("roleType") or "").lower()
        name = arn.rsplit("/", 1)[-1]
        if "-HCP-ROSA-" not in name:
            continue
        for key in found:
            if kind.startswith(key) or name.lower().endswith(f"-{key}-role"):
                found[key].append(arn)
    missing = [key for key, arns in found.items() if not arns]
    if missing:
        raise RosaError(f"no HCP {', '.join(missing)} account role: create them with "
                        "rosa create account-roles --hosted-cp --mode auto -y")
    # several sets: the default prefix's, as rosa -y does
    return {key: next((a for a in arns if "/ManagedOpenShift-" in a), sorted(arns)[0]) for key, arns in found.items()}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def teardown_setup(rosa: Rosa, setup_path: Path, log_path: Path, left: list[str] = ()) -> dict:
    """Remove what the run created for its clusters (operator roles, OIDC config); never the user's.

    With clusters of the run still there (``left``) nothing is removed: they need
    them.  ``setup.json`` says what was removed and what is left, with the commands.
    """
    setup = _read_json(setup_path)
    if not setup:
        return {}
    created = setup.get("created") or {}
    if left:
        for key, value in created.items():
            setup["left"][key] = {"value": value, "why": f"{len(left)} cluster(s) of the run remain: "
                                  f"{', '.join(sorted(left)[:5])}", "remove_with": _removal(key, value)}
        write_json(setup_path, setup)
        return setup
    for key in ("operator_roles_prefix", "oidc_config_id"):     # the roles first: they use the OIDC config
        value = created.get(key)
        if not value or key in setup.get("removed", {}):
            continue
        result = rosa.run(_removal(key, value)[1:], log_path)
        if result.ok:
            setup.setdefault("removed", {})[key] = value
            setup.get("left", {}).pop(key, None)
        else:
            setup.setdefault("left", {})[key] = {"value": value, "why": f"removal exited {result.returncode}",
                                                 "remove_with": _removal(key, value)}
        write_json(setup_path, setup)
    return setup


def _removal(key: str, value: str) -> list[str]:
    if key == "operator_roles_prefix":
        return ["rosa", "delete", "operator-roles", "--prefix", value, "--mode", "auto", "-y"]
    return ["rosa", "delete", "oidc-config", "--oidc-config-id", value, "--mode", "auto", "-y"]


def shared_left(run_path: Path) -> dict:
    """What the run created for its clusters and left because some remain (``rosa/setup.json`` "left")."""
    return (_read_json(run_path / FOLDER / SETUP_FILE) or {}).get("left") or {}


def teardown(descriptor: dict, left: list[str]) -> dict:
    folder = Path(descriptor["state_dir"])
    return teardown_setup(rosa_from(descriptor), folder / SETUP_FILE, folder / "setup.log", left)


# -------------------------------------------------------------- the run's listing
class Poller(Watcher):
    """One ``rosa list clusters -o json`` per interval for the whole run; the run's watcher.

    Writes ``rosa/clusters.json`` ({"polled_at", "seq", "error", "clusters": {name: cluster},
    "first_seen": {name: {state: epoch}}}) atomically after every listing, and each state
    change to ``rosa/states.jsonl``; workers wait on that file (:func:`wait_listing`).
    """

    def __init__(self, descriptor: dict, run_prefix: str, delay: float, requested: int, out: Path, **kwargs):
        super().__init__("", "", "", delay, requested, out, **kwargs)
        self.rosa = rosa_from(descriptor)
        self.run_prefix = run_prefix
        self.interval = float(descriptor.get("poll_interval") or 15.0)
        self.folder = Path(descriptor["state_dir"])
        self.first_seen: dict[str, dict[str, float]] = {}
        self.clusters: dict[str, dict] = {}     # the last listing that succeeded
        self.seq = 0

    @staticmethod
    def classify(cluster: dict) -> str:
        return STATE_CLASS.get(str(cluster.get("state") or ""), "installing")

    @staticmethod
    def created_of(cluster: dict) -> float | None:
        return epoch_seconds(cluster.get("creation_timestamp"))

    def _watch(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self.poll_once()
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def poll_once(self) -> None:
        polled_at = time.time()
        error = None
        clusters: dict[str, dict] = {}
        try:
            listing = self.rosa.json(["list", "clusters"], self.folder / "poll.log", timeout=max(60.0, self.interval))
            clusters = {c["name"]: c for c in listing or [] if str(c.get("name", "")).startswith(self.run_prefix)}
        except (RosaError, KeyError, TypeError) as exc:
            error = str(exc)
            log.warning("rosa list clusters: %s", exc)
        if error is None:
            self.clusters = clusters
            changes = []
            for name, cluster in clusters.items():
                state = str(cluster.get("state") or "")
                seen = self.first_seen.setdefault(name, {})
                if state and state not in seen:
                    seen[state] = polled_at
                    changes.append({"cluster": name, "id": cluster.get("id"), "state": state,
                                    "seen_at": iso_epoch(polled_at)})
            for name in self.first_seen:
                if name not in clusters and "gone" not in self.first_seen[name]:
                    self.first_seen[name]["gone"] = polled_at
                    changes.append({"cluster": name, "state": "gone", "seen_at": iso_epoch(polled_at)})
            if changes:
                with open(self.folder / STATES_FILE, "a") as fh:
                    fh.writelines(json.dumps(c) + "\n" for c in changes)
            self.apply(clusters)
        self.seq += 1
        write_json(self.folder / CLUSTERS_FILE, {"polled_at": polled_at, "seq": self.seq, "error": error,
                                                 "interval": self.interval, "clusters": self.clusters,
                                                 "first_seen": self.first_seen})


def wait_listing(folder: Path, predicate: Callable[[dict], Any], deadline: float, what: str,
                 check_every: float = 0.2) -> Any:
    """Read ``rosa/clusters.json`` each time the poller rewrote it until ``predicate(listing)`` is not None."""
    path = folder / CLUSTERS_FILE
    last = None
    listing: dict = {}
    while True:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp is not None and stamp != last:
            last = stamp
            try:
                listing = json.loads(path.read_text())
            except (OSError, ValueError):   # being replaced: read it at the next look
                last = None
            else:
                result = predicate(listing)
                if result is not None:
                    return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            error = listing.get("error")
            raise WaitTimeout(f"timed out waiting for {what}" + (f" (last listing failed: {error})" if error else ""))
        time.sleep(min(check_every, remaining))   # a local file the controller rewrites; bounded by the deadline


# ---------------------------------------------------------------- each cluster
class RosaPlatform:
    """Hosted clusters through the ``rosa`` CLI (each worker opens its own from the descriptor)."""

    kind = "rosa"

    def __init__(self, descriptor: dict):
        self.d = descriptor
        self.namespace = ""
        self.rosa = rosa_from(descriptor)
        self.folder = Path(descriptor["state_dir"])
        self.interval = float(descriptor.get("poll_interval") or 15.0)

    @property
    def kube(self) -> Kube:
        raise RuntimeError("--platform rosa has no management cluster API")

    def close(self) -> None:
        pass

    def secrets(self) -> list[str]:
        return list(self.d.get("secrets") or [])

    # ------------------------------------------------------------ lifecycle
    def create_args(self, spec: ClusterSpec, settings) -> list[str]:
        if len(spec.name) > NAME_MAX:
            raise ClusterFailed(f"{spec.name}: ROSA cluster names have at most {NAME_MAX} characters")
        d = self.d
        args = ["create", "cluster", "--cluster-name", spec.name, "--hosted-cp", "--sts", "--mode", "auto", "-y",
                "--color", "never", "--subnet-ids", ",".join(d["subnet_ids"]),
                "--oidc-config-id", d["oidc_config_id"], "--operator-roles-prefix", d["operator_roles_prefix"],
                "--role-arn", d["role_arn"], "--support-role-arn", d["support_role_arn"],
                "--worker-iam-role", d["worker_role_arn"], "--replicas", str(spec.workers),
                "--tags", f"hcp-scale-run {settings.uuid}, hcp-scale-index {spec.index}"]
        if settings.region:
            args += ["--region", settings.region]
        if settings.rosa_version:
            args += ["--version", settings.rosa_version]
        if settings.rosa_flavour:
            args += ["--compute-machine-type", settings.rosa_flavour]
        if settings.rosa_multi_az:
            args += ["--multi-az"]
        if settings.expire:
            args += ["--expiration", f"{settings.expire}m"]
        return args + ["-o", "json"] + list(settings.wildcard_options)

    def create(self, spec: ClusterSpec, settings, folder: Path, timeout: float) -> process.Result:
        result = self.rosa.run(self.create_args(spec, settings), folder / "create.log", timeout=timeout, capture=True)
        if result.ok and result.stdout:
            try:
                write_json(folder / "cluster.json", first_json(result.stdout))
            except ValueError:
                log.warning("%s: rosa create cluster -o json printed no JSON", spec.name)
        return result

    def describe(self, name: str, folder: Path) -> dict | None:
        try:
            return self.rosa.json(["describe", "cluster", "-c", name], folder / "describe.log")
        except RosaError:
            return None

    def exists(self, spec: ClusterSpec) -> bool:
        return self.describe(spec.name, self.folder) is not None

    def wait_ready(self, spec: ClusterSpec, folder: Path, deadline: float) -> dict:
        """Wait for state ready in the run's listing, then the guest's workers and add-ons; the timings."""
        timings: dict = {"state_poll_interval_s": self.interval}
        name = spec.name
        seen = {"state": ""}
        try:
            def settled(listing):
                cluster = (listing.get("clusters") or {}).get(name)
                firsts = (listing.get("first_seen") or {}).get(name) or {}
                for state, at in firsts.items():
                    if state != "gone":
                        timings[f"rosa_{state}"] = iso_epoch(at)
                if cluster is None:
                    return None
                seen["state"] = cluster.get("state") or ""
                timings.setdefault("cluster_id", cluster.get("id"))
                timings.setdefault("hc_created", normalize_time(cluster.get("creation_timestamp")))
                if cluster.get("state") == ERROR:
                    status = cluster.get("status") or {}
                    raise ClusterFailed(f"ROSA reports state error: {status.get('provision_error_code') or ''} "
                                        f"{status.get('provision_error_message') or status.get('description') or ''}"
                                        .strip())
                return cluster if cluster.get("state") == READY else None

            cluster = wait_listing(self.folder, settled, deadline, f"{name} state ready")
            timings["version"] = (cluster.get("version") or {}).get("raw_id") or cluster.get("openshift_version")
            timings["control_plane_available"] = timings.get("rosa_ready")
            timings["install_completed"] = timings.get("rosa_ready")
            kubeconfig = self.guest_login(spec, folder, deadline, timings)
            guest = Kube.from_kubeconfig_text(kubeconfig)
            try:
                def nodes(objs):
                    ready = [n for n in objs.values() if node_ready_time(n)]
                    return ready if len(ready) >= spec.workers else None

                ready_nodes = guest.wait_for("nodes", nodes, deadline=deadline, what=f"{name} worker nodes Ready")
            finally:
                guest.close()
            timings["workers_expected"] = spec.workers
            timings["workers_ready"] = _latest(node_ready_time(n) for n in ready_nodes)
            timings["workers_ready_count"] = len(ready_nodes)
            if self.d.get("addons"):
                timings.update(self.install_addons(spec, folder, deadline, self.d["addons"]))
            timings["ready"] = _latest([timings["install_completed"], timings["workers_ready"],
                                        timings.get("addons_ready")])
            return timings
        except WaitTimeout as exc:
            raise timed_out(exc, timings, seen["state"] and f"ROSA last said: state {seen['state']}") from None
        except (ClusterFailed, RosaError) as exc:
            failed = exc if isinstance(exc, ClusterFailed) else ClusterFailed(str(exc))
            failed.timings = timings
            raise failed from None

    def guest_login(self, spec: ClusterSpec, folder: Path, deadline: float, timings: dict) -> str:
        """``rosa create admin`` and the OAuth login; the guest kubeconfig (also written 0600 to the folder)."""
        requested = time.time()
        # rosa generates the password and prints it in its JSON (captured, never logged): no secret on argv
        result = self.rosa.run(["create", "admin", "-c", spec.name, "-o", "json"], folder / "admin.log",
                               capture=True)
        if not result.ok:
            raise ClusterFailed(f"rosa create admin exited {result.returncode}: {result.tail(1)}")
        try:
            answer = first_json(result.stdout or "")
        except ValueError:
            raise ClusterFailed("rosa create admin printed no JSON") from None
        api_url, username = answer.get("api_url"), answer.get("username") or "cluster-admin"
        password = answer.get("password")
        if not api_url or not password:
            raise ClusterFailed("rosa create admin named no API URL or password")
        failures = 0
        while True:   # a new admin is accepted after a while (minutes on a real cluster): bounded by the deadline
            try:
                token = oauth_login(api_url, username, password)
                break
            except ApiError as exc:
                failures += 1
                if time.monotonic() + LOGIN_RETRY > deadline:
                    raise WaitTimeout(f"{spec.name}: the cluster admin could not log in ({exc}) after "
                                      f"{failures} attempt(s)") from None
                time.sleep(LOGIN_RETRY if exc.status in (0, 401, 403, 500, 502, 503, 504) else LOGIN_RETRY * 2)
        timings["admin_login_s"] = round(time.time() - requested, 3)
        text = token_kubeconfig(api_url, token, spec.name)
        write_private(folder / "kubeconfig", text)
        return text

    def install_addons(self, spec: ClusterSpec, folder: Path, deadline: float, addons: list[str]) -> dict:
        requested = time.time()
        for addon in addons:
            self.rosa.check(["install", "addon", "--cluster", spec.name, addon, "-y"], folder / "addons.log")
        pending = set(addons)
        while pending:   # one listing per cluster per poll interval, bounded by the deadline
            listing = self.rosa.json(["list", "addons", "-c", spec.name], folder / "addons.log")
            for item in listing or []:
                addon = item.get("id") or (item.get("addon") or {}).get("id")
                state = item.get("state")
                if addon in pending and state == "ready":
                    pending.discard(addon)
                elif addon in pending and state == "failed":
                    raise ClusterFailed(f"add-on {addon} failed: {item.get('state_description') or ''}".strip())
            if not pending:
                break
            if time.monotonic() + self.interval > deadline:
                raise WaitTimeout(f"add-ons {', '.join(sorted(pending))} of {spec.name} not ready")
            time.sleep(self.interval)
        done = time.time()
        return {"addons": ",".join(addons), "addons_ready": iso_epoch(done),
                "addons_s": round(done - requested, 3)}

    def destroy(self, spec: ClusterSpec, settings, folder: Path) -> tuple[process.Result, float | None]:
        """``rosa delete cluster -y``, then its disappearance from the run's listing (None: not seen in time)."""
        requested = time.time()
        result = self.rosa.run(["delete", "cluster", "-c", spec.name, "-y", "--color", "never"],
                               folder / "destroy.log", timeout=settings.destroy_timeout)
        if not result.ok:
            return result, None
        deadline = time.monotonic() + settings.destroy_timeout

        def gone(listing):
            if listing.get("error") or float(listing.get("polled_at") or 0) <= requested:
                return None
            if spec.name in (listing.get("clusters") or {}):
                return None
            return float(listing["polled_at"])

        try:
            return result, wait_listing(self.folder, gone, deadline, f"{spec.name} deleted")
        except WaitTimeout:
            return result, None

    def add_nodepool(self, spec: ClusterSpec, settings, folder: Path) -> dict:
        """``rosa create machinepool`` (--machinepool-*) and, with --machinepool-wait, its nodes Ready."""
        name = settings.machinepool_name
        timings = {"machinepool": name, "machinepool_requested": isotime()}
        labels = ",".join(f"{k}={v}" for k, v in settings.machinepool_labels.items())
        taints = ",".join(f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in settings.machinepool_taints)
        args = ["create", "machinepool", "-c", spec.name, "--name", name, "--replicas",
                str(settings.machinepool_replicas), "--instance-type", settings.machinepool_flavour, "-y"]
        if labels:
            args += ["--labels", labels]
        if taints:
            args += ["--taints", taints]
        result = self.rosa.run(args, folder / "machinepool.log", timeout=600)
        timings["machinepool_cli_s"] = round(result.duration, 3)
        if not result.ok:
            raise ClusterFailed(f"rosa create machinepool {name} failed: {result.tail(1)}")
        if not settings.machinepool_wait:
            return timings
        deadline = time.monotonic() + 5 * settings.machinepool_wait_cycles
        selector = ",".join(f"{k}={v}" if v else k for k, v in settings.machinepool_labels.items()) or None
        try:
            timings["machinepool_nodes_ready"] = pool_nodes_ready(folder / "kubeconfig", selector,
                                                                  settings.machinepool_replicas, deadline,
                                                                  f"machine pool {name} nodes Ready")
        except WaitTimeout as exc:
            raise ClusterFailed(f"machine pool {name} not ready after {settings.machinepool_wait_cycles} cycles of "
                                "5s") from exc
        return timings

    def dump(self, spec: ClusterSpec, folder: Path) -> process.Result:
        """The install logs (``rosa logs install``) and the cluster as ROSA describes it, into ``dump/``."""
        target = folder / "dump"
        target.mkdir(exist_ok=True)
        described = self.describe(spec.name, folder)
        if described is not None:
            write_json(target / "cluster.json", described)
        return self.rosa.run(["logs", "install", "-c", spec.name, "--color", "never"], target / "install.log",
                             timeout=120)

    def list_names(self, label_selector: str | None = None) -> list[str]:
        """Names of the clusters this account sees (one listing)."""
        return [c.get("name") for c in self.rosa.json(["list", "clusters"], self.folder / "poll.log") or []
                if c.get("name")]

    def gather(self, target: Path) -> list[Path]:
        raise RuntimeError("--mgmt-must-gather needs the management cluster (--platform hypershift)")

