"""Duration model of the simulated HyperShift-on-AWS world.

Everything here is pure: plain functions and dataclasses, no I/O, no clocks.

Durations are in **simulated seconds**.  The world runs ``speed`` simulated
seconds per real second, so a duration ``d`` takes ``d / speed`` real seconds
(:func:`real_seconds`).

Shape of one cluster's life (defaults, before spread and contention)::

    hypershift create cluster aws      infra 45-75 s + IAM 15-45 s  (CLI, before any object exists)
    HostedCluster created (t=0)
      hcp_created                       20-60 s   HCP-derived conditions leave Unknown
      infrastructure_ready              60-150 s  LBs/routes exist, controlPlaneEndpoint set
      etcd_available                   +60-90 s after infrastructure_ready
      kas_available                    +60-120 s after etcd_available
      control_plane_available           300-480 s (5-8 min) after creation; admin kubeconfig exists
    per NodePool, from max(control plane available, NodePool seen):
      node i joins (NotReady)           first node Ready 240-420 s (4-7 min) later, then one by one
                                        3-40 s apart; each node joins 20-50 s before it turns Ready
      NodePool Ready                    1-10 s after its last node is Ready
    install_completed                   120-240 s (2-4 min) after the last NodePool is Ready
                                        (never, when the cluster has no worker at all)

    hypershift destroy cluster aws     deletion:
      NodePools drain                   every node removed 30-120 s after deletion starts
      control-plane teardown            180-300 s (3-5 min) after the NodePools are gone
      CLI infra + IAM teardown          45-90 s + 15-30 s (1-2 min) after the HC is finalized

    kube-burner-ocp (stand-in) against a hosted cluster:
      setup                             20-40 s (health check, metadata, Prometheus, image pre-load)
      per iteration                     objects / --qps + 4-8 s; then every pod Ready 30-60 s later
      churn round                       deletion 15-45 s + re-creation of --churn-percent of the
                                        iterations, then --churn-delay; until --churn-duration or
                                        --churn-cycles
      garbage collection                20-40 s + 0.5 s per namespace

Spread: every duration is drawn uniformly from its range with a
:class:`random.Random` seeded by ``(seed, cluster name, what)``, so the same
seed and name always give the same durations, independent of the order in
which clusters are created.

Contention: install durations are multiplied by
``1 + contention_per_install * (concurrent_installs - 1)``; with the default
``contention_per_install = 0.01`` each *other* cluster installing at the
same time makes this one 1 % slower (10 concurrent installs: +9 %, 100: +99 %).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

Range = tuple[float, float]

_INDEX_RE = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class ModelParams:
    """Ranges (simulated seconds) of every modelled step.  See the module docstring."""

    # CLI, create
    cli_infra: Range = (45.0, 75.0)
    cli_iam: Range = (15.0, 45.0)
    # control plane, offsets from HostedCluster creation
    hcp_created: Range = (20.0, 60.0)
    infrastructure_ready: Range = (60.0, 150.0)
    etcd_after_infra: Range = (60.0, 90.0)
    kas_after_etcd: Range = (60.0, 120.0)
    control_plane_available: Range = (300.0, 480.0)
    # nodes, offsets from the NodePool's start (control plane available or later)
    first_node_ready: Range = (240.0, 420.0)
    node_gap: Range = (3.0, 40.0)
    node_join_before_ready: Range = (20.0, 50.0)
    nodepool_ready_after_nodes: Range = (1.0, 10.0)
    # install completion, after the last NodePool is Ready
    install_complete_after_nodes: Range = (120.0, 240.0)
    # deletion
    node_drain: Range = (30.0, 120.0)
    nodepool_finalize_after_drain: Range = (1.0, 5.0)
    control_plane_teardown: Range = (180.0, 300.0)
    cli_infra_teardown: Range = (45.0, 90.0)
    cli_iam_teardown: Range = (15.0, 30.0)
    # contention: relative slowdown per other concurrent install
    contention_per_install: float = 0.01
    # load (the kube-burner-ocp stand-in, sim/standin/kube_burner.py)
    load_setup: Range = (20.0, 40.0)              # health check, metadata, Prometheus, image pre-load
    load_iteration: Range = (4.0, 8.0)            # per iteration, on top of its objects / --qps
    load_wait_ready: Range = (30.0, 60.0)         # waitWhenFinished: every pod Ready
    load_churn_delete: Range = (15.0, 45.0)       # one churn round's namespace/object deletion
    load_gc: Range = (20.0, 40.0)                 # garbage collection (+ load_gc_per_namespace each)
    load_gc_per_namespace: float = 0.5
    load_index: Range = (2.0, 6.0)                # measurements and indexing at the end
    load_pod_ready: Range = (1.5, 7.0)            # a pod's Ready latency (the P99 stays below ~7 s)
    load_fail_retries: Range = (30.0, 90.0)       # --load-fail-clusters: retrying the failing creates
    load_slow_factor: float = 100.0               # --load-slow-clusters: creation and churn this much slower


DEFAULT_PARAMS = ModelParams()


def real_seconds(sim_seconds: float, speed: float) -> float:
    """Real seconds that ``sim_seconds`` simulated seconds take at ``speed``."""
    if speed <= 0:
        raise ValueError("speed must be > 0")
    return sim_seconds / speed


def contention_factor(concurrent_installs: int, params: ModelParams = DEFAULT_PARAMS) -> float:
    """Slowdown factor when ``concurrent_installs`` clusters (this one included) install at once."""
    others = max(0, int(concurrent_installs) - 1)
    return 1.0 + params.contention_per_install * others


def rng_for(seed: int | str, name: str, what: str) -> random.Random:
    """A reproducible random stream for one (seed, object name, purpose)."""
    return random.Random(f"{seed}/{name}/{what}")


def _draw(rng: random.Random, rng_range: Range) -> float:
    lo, hi = rng_range
    return rng.uniform(lo, hi)


def cluster_index(name: str) -> int | None:
    """The trailing ``-NNNN`` digits of a cluster name (``perf-0007`` -> 7), or None."""
    m = _INDEX_RE.search(name or "")
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------- faults
@dataclass(frozen=True)
class Faults:
    """Fault injection by cluster index (see :func:`cluster_index`)."""

    fail_clusters: frozenset[int] = frozenset()
    failure_rate: float = 0.0
    stuck_clusters: frozenset[int] = frozenset()
    destroy_fail_clusters: frozenset[int] = frozenset()
    # load faults (the kube-burner-ocp stand-in): object creation fails (rc 1), everything takes far
    # longer, an alert of severity error fires (rc 3)
    load_fail_clusters: frozenset[int] = frozenset()
    load_slow_clusters: frozenset[int] = frozenset()
    load_alert_clusters: frozenset[int] = frozenset()
    # CLI faults (the hypershift stand-in's `create cluster`): a Go panic after the HostedCluster is applied
    # (before its NodePools), a panic before anything is applied, a hang (until killed) after applying
    cli_crash_clusters: frozenset[int] = frozenset()
    cli_crash_early_clusters: frozenset[int] = frozenset()
    cli_hang_clusters: frozenset[int] = frozenset()
    # the control plane never becomes Available: Degraded=True (UnavailableReplicas) once etcd is up
    degraded_clusters: frozenset[int] = frozenset()

    _INDEX_SETS = ("fail_clusters", "stuck_clusters", "destroy_fail_clusters", "load_fail_clusters",
                   "load_slow_clusters", "load_alert_clusters", "cli_crash_clusters", "cli_crash_early_clusters",
                   "cli_hang_clusters", "degraded_clusters")

    @classmethod
    def make(cls, fail_clusters: Iterable[int] = (), failure_rate: float = 0.0,
             stuck_clusters: Iterable[int] = (), destroy_fail_clusters: Iterable[int] = (),
             load_fail_clusters: Iterable[int] = (), load_slow_clusters: Iterable[int] = (),
             load_alert_clusters: Iterable[int] = (), *, cli_crash_clusters: Iterable[int] = (),
             cli_crash_early_clusters: Iterable[int] = (), cli_hang_clusters: Iterable[int] = (),
             degraded_clusters: Iterable[int] = ()) -> "Faults":
        if not 0.0 <= float(failure_rate) <= 1.0:
            raise ValueError("failure_rate must be within [0, 1]")

        def ints(values: Iterable[int]) -> frozenset[int]:
            return frozenset(int(i) for i in values)

        return cls(ints(fail_clusters), float(failure_rate), ints(stuck_clusters), ints(destroy_fail_clusters),
                   ints(load_fail_clusters), ints(load_slow_clusters), ints(load_alert_clusters),
                   ints(cli_crash_clusters), ints(cli_crash_early_clusters), ints(cli_hang_clusters),
                   ints(degraded_clusters))

    def to_dict(self) -> dict:
        out: dict = {key: sorted(getattr(self, key)) for key in self._INDEX_SETS}
        out["failure_rate"] = self.failure_rate
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "Faults":
        sets = {key: data.get(key) or () for key in cls._INDEX_SETS}
        return cls.make(failure_rate=data.get("failure_rate") or 0.0, **sets)

    def _has(self, which: str, name: str) -> bool:
        idx = cluster_index(name)
        return idx is not None and idx in getattr(self, which)

    def install_fails(self, name: str, seed: int | str) -> bool:
        idx = cluster_index(name)
        if idx is not None and idx in self.fail_clusters:
            return True
        if self.failure_rate > 0:
            return rng_for(seed, name, "failure").random() < self.failure_rate
        return False

    def stuck(self, name: str) -> bool:
        return self._has("stuck_clusters", name)

    def destroy_fails(self, name: str) -> bool:
        return self._has("destroy_fail_clusters", name)

    def load_fails(self, name: str) -> bool:
        return self._has("load_fail_clusters", name)

    def load_slow(self, name: str) -> bool:
        return self._has("load_slow_clusters", name)

    def load_alert(self, name: str) -> bool:
        return self._has("load_alert_clusters", name)

    def cli_crash(self, name: str) -> str | None:
        """Where ``hypershift create cluster`` for ``name`` panics: "early", "after_hostedcluster" or None."""
        return cli_crash_point(self._has, name)

    def cli_hang(self, name: str) -> bool:
        return self._has("cli_hang_clusters", name)

    def degraded(self, name: str) -> bool:
        return self._has("degraded_clusters", name)


def cli_crash_point(has: Callable[[str, str], bool], name: str) -> str | None:
    """Where the CLI creating ``name`` panics, given ``has(fault set, name)``: "early" (cli_crash_early_clusters),
    "after_hostedcluster" (cli_crash_clusters) or None."""
    if has("cli_crash_early_clusters", name):
        return "early"
    if has("cli_crash_clusters", name):
        return "after_hostedcluster"
    return None


# Failure modes: (condition type that turns False, its reason, message template).  Every one of them
# is a "terminal" state per the failed/stuck heuristics of the reference (§1.7).
FAILURE_MODES: tuple[tuple[str, str, str], ...] = (
    ("InfrastructureReady", "InfraStatusFailure",
     "failed to reconcile load balancer for service kube-apiserver: TooManyLoadBalancers: Exceeded quota of "
     "account {account} (Service: ElasticLoadBalancing, Status Code: 400, Request ID: {request_id})"),
    ("InfrastructureReady", "InfraStatusFailure",
     "failed to create private link endpoint service for {infra_id}: operation error EC2: "
     "CreateVpcEndpointServiceConfiguration, https response error StatusCode: 400, RequestID: {request_id}, "
     "api error VpcEndpointServiceLimitExceeded: The maximum number of VPC endpoint services has been reached"),
    ("ValidAWSIdentityProvider", "InvalidIAMRole",
     "failed to verify role arn:aws:iam::{account}:role/{infra_id}-openshift-ingress: operation error STS: "
     "AssumeRoleWithWebIdentity, https response error StatusCode: 403, RequestID: {request_id}, "
     "InvalidIdentityToken: No OpenIDConnect provider found in your account for https://{infra_id}.s3.amazonaws.com"),
)


def failure_mode(name: str, seed: int | str, infra_id: str = "") -> tuple[str, str, str]:
    """(condition type, reason, message) of a failing cluster's install, reproducible from seed + name.

    Clusters listed in ``fail_clusters`` and those picked by ``failure_rate`` use the same choice:
    mostly the infrastructure failure (``InfrastructureReady=False``/``InfraStatusFailure``).
    """
    rng = rng_for(seed, name, "failure-mode")
    weights = (0.6, 0.2, 0.2)
    pick = rng.random()
    acc = 0.0
    idx = 0
    for idx, w in enumerate(weights):
        acc += w
        if pick < acc:
            break
    ctype, reason, template = FAILURE_MODES[idx]
    account = "".join(str(rng.randrange(10)) for _ in range(12))
    request_id = "%08x-%04x-%04x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                                 rng.getrandbits(16), rng.getrandbits(48))
    return ctype, reason, template.format(account=account, request_id=request_id, infra_id=infra_id or name)


# ------------------------------------------------------------------- plans
@dataclass(frozen=True)
class _CliPlan:
    """Simulated seconds the CLI spends on AWS infrastructure and on IAM."""

    infra: float
    iam: float

    @property
    def total(self) -> float:
        return self.infra + self.iam


class CliCreatePlan(_CliPlan):
    pass


class CliDestroyPlan(_CliPlan):
    pass


@dataclass(frozen=True)
class ControlPlanePlan:
    """Offsets (simulated seconds) from the HostedCluster's creation."""

    hcp_created: float
    infrastructure_ready: float
    etcd_available: float
    kas_available: float
    control_plane_available: float
    factor: float = 1.0

    def steps(self) -> list[tuple[str, float]]:
        return [("hcp_created", self.hcp_created), ("infrastructure_ready", self.infrastructure_ready),
                ("etcd_available", self.etcd_available), ("kas_available", self.kas_available),
                ("control_plane_available", self.control_plane_available)]

    def offset(self, step: str) -> float:
        return dict(self.steps())[step]


@dataclass(frozen=True)
class NodePlan:
    join: float     # node registers (NotReady)
    ready: float    # node Ready


@dataclass(frozen=True)
class NodePoolPlan:
    """Offsets (simulated seconds) from the NodePool's start (control plane available, or later)."""

    nodes: tuple[NodePlan, ...]
    ready: float | None  # NodePool Ready; None for 0 replicas (nothing to wait for)


@dataclass(frozen=True)
class InstallPlan:
    """A whole install, offsets from HostedCluster creation (for tests and documentation)."""

    control_plane: ControlPlanePlan
    nodepools: dict[str, NodePoolPlan]
    nodepool_ready: dict[str, float]
    install_completed: float | None


def plan_cli_create(name: str, seed: int | str, concurrent_installs: int = 1,
                    params: ModelParams = DEFAULT_PARAMS) -> CliCreatePlan:
    rng = rng_for(seed, name, "cli-create")
    f = contention_factor(concurrent_installs, params)
    return CliCreatePlan(infra=_draw(rng, params.cli_infra) * f, iam=_draw(rng, params.cli_iam) * f)


def plan_cli_destroy(name: str, seed: int | str, params: ModelParams = DEFAULT_PARAMS) -> CliDestroyPlan:
    rng = rng_for(seed, name, "cli-destroy")
    return CliDestroyPlan(infra=_draw(rng, params.cli_infra_teardown), iam=_draw(rng, params.cli_iam_teardown))


def plan_control_plane(name: str, seed: int | str, concurrent_installs: int = 1,
                       params: ModelParams = DEFAULT_PARAMS) -> ControlPlanePlan:
    rng = rng_for(seed, name, "control-plane")
    f = contention_factor(concurrent_installs, params)
    hcp = _draw(rng, params.hcp_created)
    infra = max(_draw(rng, params.infrastructure_ready), hcp + 5.0)
    etcd = infra + _draw(rng, params.etcd_after_infra)
    kas = etcd + _draw(rng, params.kas_after_etcd)
    available = max(_draw(rng, params.control_plane_available), kas + 10.0)
    return ControlPlanePlan(hcp * f, infra * f, etcd * f, kas * f, available * f, factor=f)


def plan_nodepool(name: str, seed: int | str, replicas: int, concurrent_installs: int = 1,
                  params: ModelParams = DEFAULT_PARAMS, first_index: int = 0) -> NodePoolPlan:
    """Node join/ready offsets for ``replicas`` nodes of NodePool ``name``.

    ``first_index`` continues an existing pool (scale-up): the random stream of node ``i`` depends
    on ``i`` only, and later nodes still come one by one after earlier ones.
    """
    f = contention_factor(concurrent_installs, params)
    nodes = []
    ready_at = 0.0
    for i in range(first_index, first_index + max(0, int(replicas))):
        rng = rng_for(seed, name, f"node-{i}")
        if i == first_index:
            ready_at = _draw(rng, params.first_node_ready)
        else:
            ready_at += _draw(rng, params.node_gap)
        join_at = max(1.0, ready_at - _draw(rng, params.node_join_before_ready))
        nodes.append(NodePlan(join=join_at * f, ready=ready_at * f))
    if not nodes:
        return NodePoolPlan(nodes=(), ready=None)
    rng = rng_for(seed, name, "nodepool-ready")
    return NodePoolPlan(nodes=tuple(nodes), ready=(ready_at + _draw(rng, params.nodepool_ready_after_nodes)) * f)


def plan_install_completion(name: str, seed: int | str, concurrent_installs: int = 1,
                            params: ModelParams = DEFAULT_PARAMS) -> float:
    """Simulated seconds from the last NodePool Ready to history Completed."""
    rng = rng_for(seed, name, "install-complete")
    return _draw(rng, params.install_complete_after_nodes) * contention_factor(concurrent_installs, params)


def plan_node_drain(nodepool: str, seed: int | str, node_names: Iterable[str],
                    params: ModelParams = DEFAULT_PARAMS) -> tuple[dict[str, float], float]:
    """Per-node removal offsets from deletion start, and the offset of the NodePool's finalization."""
    out = {}
    for node in node_names:
        out[node] = _draw(rng_for(seed, nodepool, f"drain-{node}"), params.node_drain)
    last = max(out.values(), default=0.0)
    return out, last + _draw(rng_for(seed, nodepool, "finalize"), params.nodepool_finalize_after_drain)


def plan_control_plane_teardown(name: str, seed: int | str, params: ModelParams = DEFAULT_PARAMS) -> float:
    return _draw(rng_for(seed, name, "teardown"), params.control_plane_teardown)


def plan_install(name: str, seed: int | str, nodepools: Mapping[str, int], concurrent_installs: int = 1,
                 params: ModelParams = DEFAULT_PARAMS) -> InstallPlan:
    """The whole install of a cluster whose NodePools exist from the start (the CLI's normal case)."""
    cp = plan_control_plane(name, seed, concurrent_installs, params)
    pools = {np: plan_nodepool(np, seed, replicas, concurrent_installs, params) for np, replicas in nodepools.items()}
    ready = {np: cp.control_plane_available + p.ready for np, p in pools.items() if p.ready is not None}
    completed = None
    if ready:
        completed = max(ready.values()) + plan_install_completion(name, seed, concurrent_installs, params)
    return InstallPlan(control_plane=cp, nodepools=pools, nodepool_ready=ready, install_completed=completed)


@dataclass
class ModelSummary:
    """Typical (mid-range) totals, for documentation and --help."""

    cli_create: float = field(default=0.0)
    install: float = field(default=0.0)
    destroy: float = field(default=0.0)


def typical_totals(params: ModelParams = DEFAULT_PARAMS, replicas: int = 2) -> ModelSummary:
    mid = lambda r: (r[0] + r[1]) / 2  # noqa: E731
    cli = mid(params.cli_infra) + mid(params.cli_iam)
    install = (mid(params.control_plane_available) + mid(params.first_node_ready)
               + max(0, replicas - 1) * mid(params.node_gap) + mid(params.nodepool_ready_after_nodes)
               + mid(params.install_complete_after_nodes))
    destroy = (params.node_drain[1] + mid(params.control_plane_teardown)
               + mid(params.cli_infra_teardown) + mid(params.cli_iam_teardown))
    return ModelSummary(cli_create=cli, install=install, destroy=destroy)
