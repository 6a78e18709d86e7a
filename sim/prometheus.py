"""The simulated clusters' monitoring: ``openshift-monitoring/prometheus-k8s`` and a Prometheus HTTP API.

On a real OpenShift cluster a client (kube-burner-ocp, the harness) finds the cluster's Prometheus as
the Route ``openshift-monitoring/prometheus-k8s`` (``https://<spec.host>``) and authenticates with a
token of the ServiceAccount of the same name (a TokenRequest).  This module gives every simulated
cluster the same:

* :func:`ensure_monitoring` / :func:`remove_monitoring` put (or take away) the namespace
  ``openshift-monitoring``, the ServiceAccount ``prometheus-k8s`` and the Route ``prometheus-k8s``
  (``spec.host`` from :func:`mgmt_route_host` / :func:`guest_route_host`, path ``/api``, port ``web``,
  TLS ``reencrypt``, admitted by the ``default`` router) into a :class:`sim.store.Store`;
* :class:`SimPrometheus` answers the Prometheus HTTP API on the world's HTTP server under
  ``/prometheus/<route host>/api/v1/query`` and ``/api/v1/query_range`` (GET, or POST with a form), as
  the route host would if DNS pointed it at the world.  The host is resolved to the cluster whose
  ``openshift-monitoring/prometheus-k8s`` Route has that host and is admitted (the management cluster
  or a hosted cluster); an unknown host gets the router's 503 "Application is not available" page.
  The request needs ``Authorization: Bearer <token>`` with a token that THAT cluster issued for
  ``openshift-monitoring/prometheus-k8s`` and that is not expired (401 otherwise; a valid token of
  another ServiceAccount of the cluster: 403) — a simplified oauth-proxy in front of Prometheus.

Queries are not PromQL.  A small, honest matcher picks the first known metric of the expression and
its label matchers (``=``, ``!=``, ``=~``, ``!~``), synthesises that metric's series from what exists
in the cluster (namespaces, nodes, HostedCluster control planes), keeps the labels of a
``by (...)``/``without (...)`` clause (``le`` dropped by ``histogram_quantile``; none for a bare
aggregation; ``__name__`` only for a bare selector), combines members with the aggregation operator
(sum, count, min, max, else the mean) and applies a trailing comparison with a number (``> 0``).
Values are deterministic functions of (route host, metric, labels, time).  Arithmetic, offsets and
every other function are ignored.  A matcher ``namespace="X"`` yields series only when namespace X
exists in that cluster; on the management cluster an HCP namespace (label
``hypershift.openshift.io/hosted-control-plane``) has its control plane's pods (``etcd-0``…,
``kube-apiserver-…``; three of each with ``controllerAvailabilityPolicy: HighlyAvailable``).
"""
from __future__ import annotations

import collections
import datetime as _dt
import hashlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs

from sim.store import ApiError, Store, format_time

__all__ = ["MONITORING_NAMESPACE", "PROMETHEUS_NAME", "ROUTES", "mgmt_route_host", "guest_route_host",
           "ensure_monitoring", "remove_monitoring", "SimPrometheus", "evaluate", "QueryError"]

MONITORING_NAMESPACE = "openshift-monitoring"
PROMETHEUS_NAME = "prometheus-k8s"
ROUTES = "routes.route.openshift.io"
HCP_LABEL = "hypershift.openshift.io/hosted-control-plane"
CLUSTER_ANNOTATION = "hypershift.openshift.io/cluster"
MAX_POINTS = 11000            # Prometheus' limit of points per series in a range query
MAX_SERIES = 20000            # a bound on the series one query synthesises
PROMETHEUS_VERSION = "2.55.1"
_T0 = 1_700_000_000.0         # counters count from here


# ----------------------------------------------------------------- monitoring objects
def mgmt_route_host(base_domain: str) -> str:
    """The management cluster's Prometheus host: ``prometheus-k8s-openshift-monitoring.apps.<domain>``."""
    return f"{PROMETHEUS_NAME}-{MONITORING_NAMESPACE}.apps.{base_domain}"


def guest_route_host(cluster: str, base_domain: str) -> str:
    """A hosted cluster's: ``prometheus-k8s-openshift-monitoring.apps.<cluster>.<base domain>`` (``cluster``
    is the HostedCluster's name, or its ``spec.dns.baseDomainPrefix`` when set; an empty prefix drops it)."""
    sub = f"{cluster}.{base_domain}" if cluster else base_domain
    return f"{PROMETHEUS_NAME}-{MONITORING_NAMESPACE}.apps.{sub}"


_LABELS = {"app.kubernetes.io/component": "prometheus", "app.kubernetes.io/instance": "k8s",
           "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/part-of": "openshift-monitoring"}


def _route_status(host: str, now: str) -> dict:
    domain = host.split(".apps.", 1)[1] if ".apps." in host else host
    return {"ingress": [{"host": host, "routerName": "default", "wildcardPolicy": "None",
                         "routerCanonicalHostname": f"router-default.apps.{domain}",
                         "conditions": [{"type": "Admitted", "status": "True", "lastTransitionTime": now}]}]}


def ensure_monitoring(store: Store, host: str) -> bool:
    """Create (or repair) ``openshift-monitoring``, ServiceAccount and Route ``prometheus-k8s`` with
    ``spec.host`` = ``host`` in ``store``.  Idempotent; returns True when something was written."""
    changed = False
    ns = store.get("namespaces", MONITORING_NAMESPACE)
    if ns is None or (ns.get("metadata") or {}).get("deletionTimestamp"):
        if ns is not None:
            return False   # still terminating from a removal: the next call creates it again
        store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": MONITORING_NAMESPACE, "labels": {"openshift.io/cluster-monitoring": "true",
                                                     "kubernetes.io/metadata.name": MONITORING_NAMESPACE},
            "annotations": {"openshift.io/node-selector": ""}}})
        changed = True
    try:
        store.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": PROMETHEUS_NAME, "namespace": MONITORING_NAMESPACE,
                                                      "labels": dict(_LABELS)}})
        changed = True
    except ApiError as exc:
        if exc.code != 409:
            raise
    spec = {"host": host, "path": "/api", "port": {"targetPort": "web"},
            "tls": {"termination": "reencrypt", "insecureEdgeTerminationPolicy": "Redirect"},
            "to": {"kind": "Service", "name": PROMETHEUS_NAME, "weight": 100}, "wildcardPolicy": "None"}
    route = store.get(ROUTES, PROMETHEUS_NAME, MONITORING_NAMESPACE)
    if route is None:
        route = store.create(ROUTES, {"apiVersion": "route.openshift.io/v1", "kind": "Route",
                                      "metadata": {"name": PROMETHEUS_NAME, "namespace": MONITORING_NAMESPACE,
                                                   "labels": dict(_LABELS)}, "spec": spec})
        changed = True
    elif (route.get("spec") or {}).get("host") != host:
        route["spec"] = spec
        route = store.update(ROUTES, route)
        changed = True
    ingress = ((route.get("status") or {}).get("ingress") or [{}])[0]
    if ingress.get("host") != host:
        route["status"] = _route_status(host, format_time(store.clock()))
        store.update(ROUTES, route, subresource="status")
        changed = True
    return changed


def remove_monitoring(store: Store) -> bool:
    """Remove ``openshift-monitoring`` (and with it the ServiceAccount, its tokens, the Route)."""
    if store.get("namespaces", MONITORING_NAMESPACE) is None:
        return False
    store.delete("namespaces", MONITORING_NAMESPACE)
    return True


# ----------------------------------------------------------------------- targets
@dataclass
class Target:
    """A cluster the Prometheus of a route host belongs to."""

    host: str
    kind: str                       # "management" | "guest"
    store: Store
    cluster: str | None = None      # guest: the HostedCluster's name
    namespace: str | None = None    # guest: the HostedCluster's namespace


def _h(*parts: Any, n: int = 10) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:n]


_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _pod_suffix(*parts: Any) -> str:
    """A Deployment pod's ``<hash>-<5 chars>`` suffix, deterministic."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return _h(*parts, n=10) + "-" + "".join(_POD_CHARS[b % len(_POD_CHARS)] for b in digest[:5])


def _namespaces(t: Target) -> list[dict]:
    return [ns for ns in t.store.list("namespaces") if not ns["metadata"].get("deletionTimestamp")]


def _nodes(t: Target) -> list[dict]:
    return t.store.list("nodes")


def _quantity(text: Any, default: float) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(text or "").strip())
    if not m:
        return default
    mult = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "k": 1e3, "M": 1e6, "G": 1e9,
            "T": 1e12}.get(m.group(2) or "", 1)
    return float(m.group(1)) * mult


def _control_plane_pods(t: Target, ns: dict) -> list[tuple[str, str]]:
    """(pod, container) of a hosted control plane in HCP namespace ``ns`` of the management cluster."""
    name = ns["metadata"]["name"]
    ha = False
    ref = (ns["metadata"].get("annotations") or {}).get(CLUSTER_ANNOTATION, "")
    if "/" in ref:
        hc_ns, hc_name = ref.split("/", 1)
        try:
            hc = t.store.get("hostedclusters.hypershift.openshift.io", hc_name, hc_ns)
        except ApiError:
            hc = None
        ha = ((hc or {}).get("spec") or {}).get("controllerAvailabilityPolicy") == "HighlyAvailable"
    replicas = 3 if ha else 1
    pods = [(f"etcd-{i}", "etcd") for i in range(replicas)]
    for deployment, n in (("kube-apiserver", replicas), ("kube-controller-manager", replicas),
                          ("kube-scheduler", replicas), ("openshift-apiserver", replicas),
                          ("cluster-version-operator", 1), ("control-plane-operator", 1)):
        suffix_base = _h(name, deployment)
        pods += [(f"{deployment}-{suffix_base}-{_pod_suffix(name, deployment, i)[-5:]}", deployment)
                 for i in range(n)]
    return pods


def _hcp_namespaces(t: Target) -> list[dict]:
    if t.kind != "management":
        return []
    return [ns for ns in _namespaces(t) if (ns["metadata"].get("labels") or {}).get(HCP_LABEL) == "true"]


def _monitoring_pods(t: Target) -> list[tuple[str, str]]:
    if not any(ns["metadata"]["name"] == MONITORING_NAMESPACE for ns in _namespaces(t)):
        return []
    pods = [(f"prometheus-k8s-{i}", "prometheus") for i in range(2)]
    pods += [(f"alertmanager-main-{i}", "alertmanager") for i in range(2)]
    pods += [(f"node-exporter-{_pod_suffix(t.host, n['metadata']['name'])[-5:]}", "node-exporter")
             for n in _nodes(t)]
    return pods


Series = tuple[dict, float, float]      # labels (without __name__), low, high


def _s_up(t: Target) -> list[Series]:
    out: list[Series] = []
    if any(ns["metadata"]["name"] == MONITORING_NAMESPACE for ns in _namespaces(t)):
        for i in range(2):
            out.append(({"job": "prometheus-k8s", "namespace": MONITORING_NAMESPACE, "service": "prometheus-k8s",
                         "pod": f"prometheus-k8s-{i}", "instance": f"10.128.{i}.{10 + i}:9091"}, 1, 1))
        for n in _nodes(t):
            node = n["metadata"]["name"]
            out.append(({"job": "node-exporter", "namespace": MONITORING_NAMESPACE, "service": "node-exporter",
                         "instance": node}, 1, 1))
    if t.kind == "guest":
        out.append(({"job": "apiserver", "namespace": "default", "service": "kubernetes",
                     "instance": "172.20.0.1:6443"}, 1, 1))
    for ns in _hcp_namespaces(t):
        for pod, container in _control_plane_pods(t, ns):
            if container in ("etcd", "kube-apiserver"):
                out.append(({"job": container if container == "etcd" else "kube-apiserver",
                             "namespace": ns["metadata"]["name"], "pod": pod, "container": container}, 1, 1))
    return out


def _cp(container: str, lo: float, hi: float, extra: Callable[[dict], list[dict]] | None = None):
    """Series of every ``container`` pod of every hosted control plane (management cluster only)."""
    def series(t: Target) -> list[Series]:
        out = []
        for ns in _hcp_namespaces(t):
            for pod, c in _control_plane_pods(t, ns):
                if c != container:
                    continue
                base = {"namespace": ns["metadata"]["name"], "pod": pod, "job": c,
                        "endpoint": "metrics", "service": c}
                for more in (extra(base) if extra else [{}]):
                    out.append((dict(base, **more), lo, hi))
        return out
    return series


_LE = ("0.005", "0.01", "0.05", "0.1", "0.5", "+Inf")
_VERBS = (("GET", "200"), ("LIST", "200"), ("WATCH", "200"), ("POST", "201"), ("PUT", "200"),
          ("PATCH", "200"), ("DELETE", "200"))
_RESOURCES = ("namespaces", "secrets", "configmaps", "nodes", "pods")


def _buckets(base: dict) -> list[dict]:
    return [{"le": le} for le in _LE]


def _requests(t: Target) -> list[Series]:
    """apiserver_request_total: the guest's API server (job apiserver) and every hosted control plane's."""
    out: list[Series] = []
    bases = []
    if t.kind == "guest":
        bases.append({"job": "apiserver", "instance": "172.20.0.1:6443", "namespace": "default"})
    for ns in _hcp_namespaces(t):
        for pod, c in _control_plane_pods(t, ns):
            if c == "kube-apiserver":
                bases.append({"job": "kube-apiserver", "namespace": ns["metadata"]["name"], "pod": pod})
    for base in bases:
        for verb, code in _VERBS:
            for res in _RESOURCES:
                out.append((dict(base, verb=verb, resource=res, code=code), 0.2, 25.0))
    return out


def _request_durations(t: Target) -> list[Series]:
    out: list[Series] = []
    for labels, _, _ in _requests(t):
        if labels["verb"] == "WATCH":
            continue
        base = {k: v for k, v in labels.items() if k != "code"}
        out += [(dict(base, le=le), 0.2, 25.0) for le in _LE]
    return out


def _containers(lo: float, hi: float):
    """Containers of the hosted control planes (management) and of openshift-monitoring."""
    def series(t: Target) -> list[Series]:
        out = []
        for ns in _hcp_namespaces(t):
            for pod, c in _control_plane_pods(t, ns):
                out.append(({"namespace": ns["metadata"]["name"], "pod": pod, "container": c}, lo, hi))
        for pod, c in _monitoring_pods(t):
            out.append(({"namespace": MONITORING_NAMESPACE, "pod": pod, "container": c}, lo, hi))
        return out
    return series


def _node_cpu(t: Target) -> list[Series]:
    out = []
    for n in _nodes(t):
        cpus = int(min(16, max(1, _quantity(((n.get("status") or {}).get("capacity") or {}).get("cpu"), 4))))
        for cpu in range(cpus):
            for mode, lo, hi in (("idle", 0.4, 0.9), ("user", 0.03, 0.4), ("system", 0.01, 0.12),
                                 ("iowait", 0.0, 0.02)):
                out.append(({"instance": n["metadata"]["name"], "cpu": str(cpu), "mode": mode,
                             "job": "node-exporter", "namespace": MONITORING_NAMESPACE}, lo, hi))
    return out


def _node_memory(share: tuple[float, float] | None):
    def series(t: Target) -> list[Series]:
        out = []
        for n in _nodes(t):
            total = _quantity(((n.get("status") or {}).get("capacity") or {}).get("memory"), 16 * 1024 ** 3)
            lo, hi = (total, total) if share is None else (total * share[0], total * share[1])
            out.append(({"instance": n["metadata"]["name"], "job": "node-exporter",
                         "namespace": MONITORING_NAMESPACE}, lo, hi))
        return out
    return series


@dataclass
class _FaultsRef:
    faults: Any = None


def _alerts(ref: _FaultsRef):
    """ALERTS: Watchdog always fires (as on every OpenShift cluster); a hosted cluster with the world's
    ``load_alert_clusters`` fault also has a critical ClusterOperatorDown."""
    def series(t: Target) -> list[Series]:
        out: list[Series] = [({"alertname": "Watchdog", "alertstate": "firing", "namespace": MONITORING_NAMESPACE,
                               "severity": "none"}, 1, 1)]
        faults = ref.faults
        if t.kind == "guest" and faults is not None and t.cluster and faults.load_alert(t.cluster):
            out.append(({"alertname": "ClusterOperatorDown", "alertstate": "firing", "name": "monitoring",
                         "namespace": "openshift-cluster-version", "reason": "UpdatingPrometheusFailed",
                         "severity": "critical"}, 1, 1))
        return out
    return series


@dataclass
class Metric:
    series: Callable[[Target], list[Series]]
    counter: bool = False                       # a counter: raw values grow, rate() gives the range
    quantile: tuple[float, float] | None = None  # histogram buckets: histogram_quantile's range (seconds)
    wave: float = 0.08                          # relative variation over time


def catalog(faults: Any = None) -> dict[str, Metric]:
    """Every metric the simulated Prometheus has, by name."""
    ref = _FaultsRef(faults)
    gib = 1024 ** 3
    return {
        "up": Metric(_s_up, wave=0),
        "ALERTS": Metric(_alerts(ref), wave=0),
        "etcd_mvcc_db_total_size_in_bytes": Metric(_cp("etcd", 30e6, 120e6), wave=0.03),
        "etcd_mvcc_db_total_size_in_use_in_bytes": Metric(_cp("etcd", 20e6, 90e6), wave=0.03),
        "etcd_server_quota_backend_bytes": Metric(_cp("etcd", 8 * gib, 8 * gib), wave=0),
        "etcd_server_has_leader": Metric(_cp("etcd", 1, 1), wave=0),
        "etcd_disk_wal_fsync_duration_seconds_bucket": Metric(_cp("etcd", 5, 40, _buckets), counter=True,
                                                              quantile=(0.001, 0.012)),
        "etcd_disk_backend_commit_duration_seconds_bucket": Metric(_cp("etcd", 2, 20, _buckets), counter=True,
                                                                   quantile=(0.002, 0.025)),
        "apiserver_request_total": Metric(_requests, counter=True),
        "apiserver_request_duration_seconds_bucket": Metric(_request_durations, counter=True,
                                                            quantile=(0.01, 0.45)),
        "container_cpu_usage_seconds_total": Metric(_containers(0.005, 1.2), counter=True),
        "container_memory_working_set_bytes": Metric(_containers(60e6, 2.5e9), wave=0.05),
        "node_cpu_seconds_total": Metric(_node_cpu, counter=True),
        "node_memory_MemTotal_bytes": Metric(_node_memory(None), wave=0),
        "node_memory_MemAvailable_bytes": Metric(_node_memory((0.35, 0.8)), wave=0.05),
    }


# ------------------------------------------------------------------------ queries
class QueryError(Exception):
    """A query Prometheus would reject: 400 ``bad_data``."""


_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')\s*(,|$)')
_AGGREGATORS = ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group")
_COMPARE = re.compile(r"(==|!=|>=|<=|>|<)\s*(?:bool\s+)?(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def _check_syntax(q: str) -> None:
    if not q.strip():
        raise QueryError("1:1: parse error: no expression found in input")
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    quote = None
    i = 0
    while i < len(q):
        ch = q[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "({[":
            stack.append(ch)
        elif ch in ")}]":
            if not stack or stack.pop() != pairs[ch]:
                raise QueryError(f"1:{i + 1}: parse error: unexpected right {'parenthesis' if ch == ')' else 'brace'} "
                                 f"{ch!r}")
        i += 1
    if quote:
        raise QueryError("1:1: parse error: unterminated quoted string")
    if stack:
        raise QueryError(f"1:{len(q) + 1}: parse error: unclosed left "
                         f"{'parenthesis' if stack[-1] == '(' else 'brace' if stack[-1] == '{' else 'bracket'}")


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _selector(q: str, metrics: dict[str, Metric]) -> tuple[str, list[tuple[str, str, str]]] | None:
    """The first known metric of ``q`` and its label matchers."""
    i = 0
    while i < len(q):
        ch = q[i]
        if ch in "\"'`":                     # skip string literals
            end = q.find(ch, i + 1)
            i = len(q) if end < 0 else end + 1
            continue
        m = _IDENT.match(q, i)
        if not m or (i > 0 and (q[i - 1].isalnum() or q[i - 1] in "_:.$")):
            i += 1
            continue
        name = m.group(0)
        j = m.end()
        while j < len(q) and q[j] == " ":
            j += 1
        body = None
        if j < len(q) and q[j] == "{":
            depth_end = q.find("}", j)
            body = q[j + 1:depth_end] if depth_end > 0 else ""
            nxt = depth_end + 1 if depth_end > 0 else len(q)
        else:
            nxt = m.end()
        if name in metrics:
            return name, _matchers(body or "")
        i = nxt
    return None


def _matchers(body: str) -> list[tuple[str, str, str]]:
    out = []
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise QueryError(f"1:1: parse error: unexpected character inside braces: {body[pos:pos + 1]!r}")
        name, op, value = m.group(1), m.group(2), _unquote(m.group(3))
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise QueryError(f"1:1: parse error: error parsing regexp: {exc}") from None
        out.append((name, op, value))
        pos = m.end()
    return out


def _match(matchers: list[tuple[str, str, str]], labels: dict) -> bool:
    for name, op, value in matchers:
        actual = labels.get(name, "")
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "=~" and not re.fullmatch(value, actual):
            return False
        if op == "!~" and re.fullmatch(value, actual):
            return False
    return True


def _frac(*parts: Any) -> float:
    return int(_h(*parts, n=12), 16) / float(16 ** 12)


def _value(seed: str, lo: float, hi: float, t: float, wave: float) -> float:
    base = lo + (hi - lo) * _frac(seed, "base")
    if lo == hi or not wave:
        return base
    phase = 2 * math.pi * _frac(seed, "phase")
    return min(hi, max(lo, base * (1 + wave * math.sin(2 * math.pi * t / 600.0 + phase))))


def evaluate(target: Target, query: str, times: list[float], metrics: dict[str, Metric]) -> list[tuple[dict, list]]:
    """Evaluate ``query`` on ``target`` at ``times``: ``[(labels, [(t, value), ...]), ...]`` (see the module
    docstring for what is and is not understood)."""
    q = query.strip()
    _check_syntax(q)
    found = _selector(q, metrics)
    if found is None:
        return []
    name, matchers = found
    metric = metrics[name]
    raw = [(labels, lo, hi) for labels, lo, hi in metric.series(target)[:MAX_SERIES]
           if _match(matchers, dict(labels, __name__=name))]
    quantile = metric.quantile is not None and "histogram_quantile" in q
    rated = re.search(r"\b(i?rate|increase|deriv)\s*\(", q) is not None
    grouping = re.search(r"\b(by|without)\s*\(([^)]*)\)", q)
    agg = re.search(r"\b(" + "|".join(_AGGREGATORS) + r")\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(", q)
    groups: dict[tuple, list] = collections.OrderedDict()
    for labels, lo, hi in raw:
        if grouping:
            names = {x.strip() for x in grouping.group(2).split(",") if x.strip()}
            if grouping.group(1) == "by":
                out = {k: v for k, v in labels.items() if k in names}
            else:
                out = {k: v for k, v in labels.items() if k not in names}
        elif agg:
            out = {}
        else:
            out = dict(labels)
            if re.match(re.escape(name) + r"\b", q):
                out = {"__name__": name, **out}
        if quantile:
            out.pop("le", None)
        key = tuple(sorted(out.items()))
        groups.setdefault(key, []).append((labels, lo, hi))
    compare = _COMPARE.search(q)
    result = []
    for key, members in groups.items():
        labels = dict(key)
        samples = []
        for t in times:
            if quantile:
                qlo, qhi = metric.quantile
                v = _value(f"{target.host}/{name}/q/{key}", qlo, qhi, t, metric.wave or 0.08)
            else:
                vals = []
                for mlabels, lo, hi in members:
                    seed = f"{target.host}/{name}/{sorted(mlabels.items())}"
                    v = _value(seed, lo, hi, t, metric.wave if not metric.counter or rated else 0)
                    if metric.counter and not rated:
                        v = v * max(0.0, t - _T0)      # a counter: the rate times its age
                    vals.append(v)
                op = agg.group(1) if agg else ""
                v = (float(len(vals)) if op == "count" else sum(vals) if op == "sum" else
                     max(vals) if op == "max" else min(vals) if op == "min" else sum(vals) / len(vals))
            if compare and not _compare(v, compare.group(1), float(compare.group(2))):
                continue
            samples.append((t, v))
        if samples:
            result.append((labels, samples))
    return result


def _compare(v: float, op: str, x: float) -> bool:
    return {"==": v == x, "!=": v != x, ">=": v >= x, "<=": v <= x, ">": v > x, "<": v < x}[op]


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(round(v, 9))


# --------------------------------------------------------------------- parameters
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_time(name: str, text: str) -> float:
    text = (text or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return t.timestamp()
    except ValueError:
        raise QueryError(f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp') from None


def parse_step(text: str) -> float:
    text = (text or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise QueryError(f'invalid parameter "step": cannot parse "{text}" to a valid duration')
    return total


# ----------------------------------------------------------------------- server
_NOT_AVAILABLE = (b"<html>\n<head><title>Application is not available</title></head>\n<body>\n"
                  b"<h1>Application is not available</h1>\n<p>The application is currently not serving requests at "
                  b"this endpoint. It may not have been started or is still starting.</p>\n</body>\n</html>\n")


def _json(code: int, doc: dict, **headers: str) -> tuple[int, dict, bytes]:
    return code, {"Content-Type": "application/json", **headers}, json.dumps(doc, separators=(",", ":")).encode()


def _error(code: int, etype: str, message: str, **headers: str) -> tuple[int, dict, bytes]:
    return _json(code, {"status": "error", "errorType": etype, "error": message}, **headers)


class SimPrometheus:
    """The Prometheus of every simulated cluster, served by ``server`` (a :class:`sim.apiserver.ApiServer`)
    under ``/prometheus/<route host>/``: ``server.mount("/prometheus", prom.handle)``.

    ``faults`` (:class:`sim.model.Faults`) gives the load-alert clusters their critical alert.
    ``requests`` counts requests per host (``statuses`` per (host, HTTP status)), for tests."""

    def __init__(self, server: Any, faults: Any = None, clock: Callable[[], float] = time.time):
        self.server = server
        self.clock = clock
        self.metrics = catalog(faults)
        self.requests: collections.Counter = collections.Counter()
        self.statuses: collections.Counter = collections.Counter()
        self._lock = threading.Lock()

    # -- resolution and auth ------------------------------------------------------------
    def resolve(self, host: str) -> Target | None:
        """The cluster whose admitted ``openshift-monitoring/prometheus-k8s`` Route has ``host``."""
        candidates: list[tuple[str, Store, tuple | None]] = [("management", self.server.store, None)]
        keys = self.server.guest_keys()
        keys.sort(key=lambda k: f".{k[1]}." not in host)   # the likely one first
        for key in keys:
            store = self.server.get_guest(*key)
            if store is not None:
                candidates.append(("guest", store, key))
        for kind, store, key in candidates:
            try:
                route = store.get(ROUTES, PROMETHEUS_NAME, MONITORING_NAMESPACE)
            except ApiError:
                continue
            if not route or (route.get("spec") or {}).get("host") != host:
                continue
            admitted = any(c.get("type") == "Admitted" and c.get("status") == "True"
                           for ing in (route.get("status") or {}).get("ingress") or []
                           for c in ing.get("conditions") or [])
            if not admitted:
                return None
            return Target(host, kind, store, key[1] if key else None, key[0] if key else None)
        return None

    @staticmethod
    def _authorize(target: Target, headers: Any) -> tuple[int, dict, bytes] | None:
        auth = (headers.get("Authorization") if headers is not None else "") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return _error(401, "unauthorized", "Unauthorized: a bearer token is required",
                          **{"WWW-Authenticate": 'Bearer realm="prometheus-k8s"'})
        review = target.store.review_token(auth[7:].strip())
        if review is None:
            return _error(401, "unauthorized", "Unauthorized: the token is not valid in this cluster or expired",
                          **{"WWW-Authenticate": 'Bearer realm="prometheus-k8s"'})
        if (review["namespace"], review["name"]) != (MONITORING_NAMESPACE, PROMETHEUS_NAME):
            user = f"system:serviceaccount:{review['namespace']}:{review['name']}"
            return _error(403, "forbidden", f"Forbidden (user={user}, verb=get, resource=namespaces, subresource=)")
        return None

    # -- the handler ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query_string: str, headers: Any, body: bytes) -> tuple[int, dict, bytes]:
        parts = path.lstrip("/").split("/", 1)
        host = parts[0].lower()
        rest = "/" + (parts[1] if len(parts) > 1 else "")
        code, hdrs, payload = self._handle(method, host, rest, query_string, headers, body)
        with self._lock:
            self.requests[host] += 1
            self.statuses[(host, code)] += 1
        return code, hdrs, payload

    def request_count(self, host: str) -> int:
        with self._lock:
            return self.requests[host]

    def _handle(self, method, host, rest, query_string, headers, body) -> tuple[int, dict, bytes]:
        target = self.resolve(host) if host else None
        if target is None or not (rest == "/api" or rest.startswith("/api/")):   # the route's path is /api
            return 503, {"Content-Type": "text/html", "Cache-Control": "private, max-age=0, no-cache, no-store",
                         "Pragma": "no-cache"}, _NOT_AVAILABLE
        denied = self._authorize(target, headers)
        if denied is not None:
            return denied
        if rest == "/api/v1/status/buildinfo" and method in ("GET", "HEAD"):
            return _json(200, {"status": "success", "data": {"version": PROMETHEUS_VERSION, "revision": _h(
                PROMETHEUS_VERSION, n=40), "branch": "HEAD", "goVersion": "go1.23.4"}})
        if rest not in ("/api/v1/query", "/api/v1/query_range"):
            return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"404 page not found\n"
        if method not in ("GET", "POST"):
            return 405, {"Content-Type": "text/plain; charset=utf-8", "Allow": "GET, POST, OPTIONS"}, \
                b"Method Not Allowed\n"
        params = {k: v[-1] for k, v in parse_qs(query_string or "", keep_blank_values=True).items()}
        ctype = ((headers.get("Content-Type") if headers is not None else "") or "").split(";")[0].strip().lower()
        if method == "POST" and ctype == "application/x-www-form-urlencoded":
            params.update({k: v[-1] for k, v in
                           parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()})
        try:
            if rest.endswith("/query_range"):
                return self._range(target, params)
            return self._instant(target, params)
        except QueryError as exc:
            return _error(400, "bad_data", str(exc))

    def _instant(self, target: Target, params: dict) -> tuple[int, dict, bytes]:
        query = params.get("query", "")
        if not query.strip():
            raise QueryError('invalid parameter "query": 1:1: parse error: no expression found in input')
        t = parse_time("time", params["time"]) if params.get("time") else self.clock()
        result = [{"metric": labels, "value": [_ts(t), _fmt(v)]}
                  for labels, samples in evaluate(target, query, [t], self.metrics) for t, v in samples]
        return _json(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def _range(self, target: Target, params: dict) -> tuple[int, dict, bytes]:
        for name in ("start", "end", "step"):
            if not params.get(name):
                raise QueryError(f'invalid parameter "{name}": cannot parse "" to a valid '
                                 f'{"duration" if name == "step" else "timestamp"}')
        start, end = parse_time("start", params["start"]), parse_time("end", params["end"])
        step = parse_step(params["step"])
        if end < start:
            raise QueryError('invalid parameter "end": end timestamp must not be before start time')
        if step <= 0:
            raise QueryError('invalid parameter "step": zero or negative query resolution step widths are not '
                             'accepted. Try a positive integer')
        if (end - start) / step > MAX_POINTS:
            raise QueryError("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
                             "query resolution (?step=XX)")
        query = params.get("query", "")
        if not query.strip():
            raise QueryError('invalid parameter "query": 1:1: parse error: no expression found in input')
        n = int(math.floor((end - start) / step + 1e-9)) + 1
        times = [start + i * step for i in range(n)]
        result = [{"metric": labels, "values": [[_ts(t), _fmt(v)] for t, v in samples]}
                  for labels, samples in evaluate(target, query, times, self.metrics)]
        return _json(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})


def _ts(t: float) -> float | int:
    """A sample timestamp as Prometheus writes it (seconds, at most millisecond precision)."""
    t = round(t, 3)
    return int(t) if t == int(t) else t
