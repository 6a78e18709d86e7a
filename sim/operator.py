"""The simulated HyperShift operator.

It plays the HyperShift operator, the control-plane operator, CAPI/CAPA and the
hosted clusters' kubelets: it watches HostedClusters and NodePools on the
management API and moves them through a realistic install and deletion, with
durations from :mod:`sim.model` compressed by the world's ``speed``.

It reaches the management API **only over HTTP through the official kubernetes
client** (list + watch with resume and relist on 410, merge patches, ``PUT`` on
``/status`` where a value must be an explicit JSON ``null``), so it works both
against :mod:`sim.apiserver` and a real kube-apiserver that has HyperShift's
CRDs (it only writes status fields those CRDs define, with their types).  The
hosted clusters' own APIs (their Nodes) live in ``guests``, the in-process guest
registry of the simulated API server.

Design:

* level-triggered reconcilers, one key at a time per object, on a few worker
  threads fed by a work queue with a timed scheduler (a heap and
  ``Condition.wait(timeout)``; there is no sleep-polling);
* what an object has done is read from its status (and, for nodes, from the
  guest API), so the operator can be restarted at any time and continues each
  object from the phase its status shows;
* every transition it makes is appended to ``transitions.jsonl`` (ground
  truth for the harness's measurements), one flushed JSON line each, with the
  exact timestamp string written to the API.
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import heapq
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

from sim import model
from sim.prometheus import ensure_monitoring, guest_route_host, remove_monitoring

log = logging.getLogger("sim.operator")

GROUP = "hypershift.openshift.io"
VERSION = "v1beta1"
HC_FINALIZER = "hypershift.openshift.io/finalizer"
CLI_FINALIZER = "openshift.io/destroy-cluster"
HAS_BEEN_AVAILABLE = "hypershift.openshift.io/HasBeenAvailable"
NODEPOOL_LABEL = "hypershift.openshift.io/nodePool"
SIM_NODEPOOL_ANNOTATION = "sim.hypershift.openshift.io/nodepool"  # the sim's own bookkeeping on guest nodes
WATCH_TIMEOUT = 30          # seconds one watch request stays open (server side)
REQUEST_TIMEOUT = (5, 30)   # connect, read for ordinary calls
# The simulated operator's User-Agent: it runs inside the management cluster, so the world's API faults
# (sim.apiserver.Faults.EXEMPT_AGENTS) leave it alone unless they name it.
OPERATOR_USER_AGENT = "hypershift-operator/sim (linux/amd64) kubernetes/$Format"
DESTROY_TIMEOUT_SIM = 600.0  # the CPO gives up on cloud resources after 10 minutes

# install steps, in order
BOOT, HCP, INFRA, ETCD, KAS, AVAIL, DONE = range(7)
STEP_NAMES = ["created_seen", "hcp_created", "infrastructure_ready", "etcd_available", "kas_available",
              "control_plane_available", "install_completed"]


# --------------------------------------------------------------------- helpers
def fmt_time(epoch: float) -> str:
    """metav1.Time: RFC 3339, UTC, whole seconds, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


_RELEASE_RE = re.compile(r":(\d+\.\d+\.\d+(?:-(?:rc|ec|fc)\.\d+)?)-(x86_64|aarch64|arm64|multi|ppc64le|s390x)$")
_ARCH = {"x86_64": "AMD64", "aarch64": "ARM64", "arm64": "ARM64", "multi": "Multi", "ppc64le": "PPC64LE",
         "s390x": "S390X"}


def parse_release(image: str, default_version: str = "4.17.3") -> tuple[str, str]:
    """(OCP version, payloadArch) of a release pull spec such as ``…/ocp-release:4.17.3-x86_64``."""
    m = _RELEASE_RE.search(image or "")
    if not m:
        return default_version, "AMD64"
    return m.group(1), _ARCH[m.group(2)]


def kubelet_version(ocp: str) -> str:
    """The kubelet version an OCP release ships (4.N -> 1.(N+13))."""
    try:
        major, minor, patch = (int(x) for x in ocp.split("-")[0].split(".")[:3])
    except ValueError:
        return "v1.30.5"
    kminor = minor + 13 if major == 4 else 33 + minor
    return f"v1.{kminor}.{min(patch + 2, 14)}"


def cp_namespace(namespace: str, name: str) -> str:
    return f"{namespace}-{name}".replace(".", "-")


def _cond(obj: dict | None, ctype: str) -> dict | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def _cond_status(obj: dict | None, ctype: str) -> str | None:
    c = _cond(obj, ctype)
    return c.get("status") if c else None


def merge_conditions(existing: list | None, desired: list[tuple], generation: int, now: str,
                     keep_unmanaged: bool = True) -> tuple[list[dict], set[str]]:
    """Desired ``(type, status, reason, message)`` tuples -> condition list, keeping lastTransitionTime
    of every condition whose status did not change.  Returns (conditions, types that flipped)."""
    old_by_type = {c.get("type"): c for c in existing or [] if isinstance(c, dict)}
    out: list[dict] = []
    flipped: set[str] = set()
    for ctype, status, reason, message in desired:
        old = old_by_type.pop(ctype, None)
        if old and old.get("status") == status and old.get("lastTransitionTime"):
            ltt = old["lastTransitionTime"]
        else:
            ltt = now
            flipped.add(ctype)
        out.append({"type": ctype, "status": status, "reason": reason, "message": message or "",
                    "lastTransitionTime": ltt, "observedGeneration": generation})
    if keep_unmanaged:
        out.extend(old_by_type.values())
    return out, flipped


def paused_until(spec: dict | None) -> tuple[bool, float | None]:
    """``spec.pausedUntil``: (paused now?, until epoch or None).  ``true``/``True`` pauses for good; an
    RFC 3339 date pauses until then; anything else (``false``, invalid) does not pause."""
    value = (spec or {}).get("pausedUntil")
    if not value or value in ("false", "False"):
        return False, None
    if value in ("true", "True"):
        return True, None
    try:
        until = calendar.timegm(time.strptime(value.replace("Z", "+0000")[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return False, None
    return time.time() < until, until


def _rv_int(obj: dict | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def _hash(*parts: Any, n: int = 8) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:n]


def make_kubeconfig(server: str, token: str, cluster: str = "cluster", user: str = "admin") -> str:
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": cluster, "namespace": "default", "user": user}}],
        "current-context": user,
    }
    if server.startswith("https://"):
        cfg["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    return yaml.safe_dump(cfg, sort_keys=False)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -------------------------------------------------------------- transitions
class TransitionLog:
    """Append-only ``transitions.jsonl``; one flushed line per transition, deduplicated across restarts."""

    def __init__(self, path: str | None):
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[tuple] = set()
        self._fh = None
        if path:
            if os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    for line in fh:
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            continue  # a torn last line from a crash
                        self._seen.add(self._key(rec))
            self._fh = open(path, "a", encoding="utf-8")

    @staticmethod
    def _key(rec: dict) -> tuple:
        return (rec.get("uid"), rec.get("phase"), rec.get("node"), rec.get("nodepool"), rec.get("time"))

    def record(self, rec: dict) -> bool:
        with self._lock:
            key = self._key(rec)
            if key in self._seen:
                return False
            self._seen.add(key)
            if self._fh:
                self._fh.write(json.dumps(rec, sort_keys=False) + "\n")
                self._fh.flush()
            return True

    def close(self) -> None:
        with self._lock:
            if self._fh:
                self._fh.close()
                self._fh = None


# ---------------------------------------------------------------- work queue
class WorkQueue:
    """Keys to reconcile, immediately or at a monotonic time.

    A key is never handed to two workers at once; adding a key that is being
    processed marks it dirty so it runs again afterwards.
    """

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._ready: deque = deque()
        self._queued: set = set()
        self._processing: set = set()
        self._dirty: set = set()
        self._timers: list = []
        self._timer_due: dict = {}     # key -> earliest pending timer
        self._seq = itertools.count()
        self._closed = False

    def add(self, key) -> None:
        with self._cv:
            self._add_locked(key)

    def add_at(self, key, when: float) -> None:
        with self._cv:
            pending = self._timer_due.get(key)
            if pending is not None and pending <= when:
                return  # an earlier timer for this key will reconcile it anyway
            self._timer_due[key] = when
            heapq.heappush(self._timers, (when, next(self._seq), key))
            self._cv.notify()

    def _add_locked(self, key) -> None:
        if self._closed:
            return
        if key in self._processing:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._ready.append(key)
            self._cv.notify()

    def get(self):
        """Next key to process, or None once the queue is closed."""
        with self._cv:
            while not self._closed:
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    when, _, key = heapq.heappop(self._timers)
                    if self._timer_due.get(key) == when:
                        del self._timer_due[key]
                    self._add_locked(key)
                if self._ready:
                    key = self._ready.popleft()
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                timeout = (self._timers[0][0] - now) if self._timers else None
                self._cv.wait(timeout)
            return None

    def done(self, key) -> None:
        with self._cv:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._add_locked(key)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def __len__(self) -> int:
        with self._cv:
            return len(self._ready) + len(self._timers)


class _Requeue(Exception):
    """Reconcile again soon (a conflict or a transient error)."""


# ------------------------------------------------------------ runtime state
@dataclass
class _PendingNode:
    name: str
    index: int
    join_due: float
    ready_due: float
    joined: bool = False


@dataclass
class _NPRuntime:
    pending: dict[str, _PendingNode] = field(default_factory=dict)
    next_index: int = 0
    ready_due: float | None = None
    ready_after: float = 0.0           # simulated seconds between last node Ready and NodePool Ready
    scale_down_due: dict[str, float] = field(default_factory=dict)
    drain_due: dict[str, float] | None = None
    finalize_due: float | None = None


@dataclass
class _HCRuntime:
    plan: model.ControlPlanePlan | None = None
    due: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ operator
class Operator:
    """The simulated HyperShift operator.

    ``world`` provides: ``speed``, ``seed``, ``faults`` (:class:`sim.model.Faults`), ``guest_url`` (base
    URL under which ``/guests/<ns>/<name>`` is served), ``region``, ``base_domain``, ``release_version``,
    ``transitions_path`` and optionally ``params`` (:class:`sim.model.ModelParams`) and ``workers``.
    """

    def __init__(self, mgmt_kubeconfig: str, guests, world, *, logger: logging.Logger | None = None):
        self.kubeconfig = mgmt_kubeconfig
        self.guests = guests
        self.world = world
        self.log = logger or log
        self.speed = float(world.speed)
        self.seed = world.seed
        self.faults: model.Faults = getattr(world, "faults", None) or model.Faults()
        self.params: model.ModelParams = getattr(world, "params", None) or model.DEFAULT_PARAMS
        self.region = getattr(world, "region", "us-east-1")
        self.base_domain = getattr(world, "base_domain", "sim.hypershift.local")
        self.default_version = getattr(world, "release_version", "4.17.3")
        self.guest_url = (getattr(world, "guest_url", "") or "").rstrip("/")
        self.transitions = TransitionLog(getattr(world, "transitions_path", None))
        self.workers = int(getattr(world, "workers", 4) or 4)
        self.queue = WorkQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []    # reconcile workers
        self._watchers: list[threading.Thread] = []   # watch loops (daemon; they end at their next event/timeout)
        self._lock = threading.RLock()
        self._hcs: dict[tuple, dict] = {}   # (ns, name) -> last seen object (watch cache)
        self._nps: dict[tuple, dict] = {}
        self._hc_rt: dict[tuple, _HCRuntime] = {}
        self._np_rt: dict[tuple, _NPRuntime] = {}
        self._deleted_uids: set[str] = set()
        self._tombstones: set[str] = set()   # uids of objects seen deleted (never cache them again)
        self._secrets_ok: set[tuple] = set()  # clusters whose kubeconfig secret was checked by this process
        self._synced = {"hostedclusters": threading.Event(), "nodepools": threading.Event()}
        self.errors = 0
        self.api: k8s.ApiClient | None = None
        self.watch_api: k8s.ApiClient | None = None

    # ----------------------------------------------------------- lifecycle
    def _new_client(self, pool: int) -> k8s.ApiClient:
        cfg = k8s.Configuration()
        k8s_config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = pool
        if not cfg.verify_ssl:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        api = k8s.ApiClient(cfg)
        api.user_agent = OPERATOR_USER_AGENT  # never subject to the world's API faults (sim.apiserver.Faults)
        return api

    def start(self) -> "Operator":
        self.api = self._new_client(self.workers + 4)
        self.watch_api = self._new_client(4)
        self.custom = k8s.CustomObjectsApi(self.api)
        self.core = k8s.CoreV1Api(self.api)
        for plural in ("hostedclusters", "nodepools"):
            t = threading.Thread(target=self._watch_loop, args=(plural,), name=f"watch-{plural}", daemon=True)
            t.start()
            self._watchers.append(t)
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"reconcile-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self.log.info("operator started (speed %s, seed %s, faults %s)", self.speed, self.seed,
                      self.faults.to_dict())
        return self

    def wait_synced(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        return all(ev.wait(max(0.0, deadline - time.monotonic())) for ev in self._synced.values())

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: workers finish the reconcile at hand (bounded by ``timeout``); the watch loops are
        daemon threads that notice the stop flag at their next event or when their server closes them."""
        self._stop.set()
        self.queue.close()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for t in self._watchers:
            t.join(0.05)
        try:
            self.api.close()
        except Exception:  # pragma: no cover - best effort on shutdown
            pass
        self.transitions.close()
        self.log.info("operator stopped")

    # ------------------------------------------------------------- timing
    def real(self, sim_seconds: float) -> float:
        return model.real_seconds(sim_seconds, self.speed)

    def _record(self, obj_or_meta: dict, phase: str, when: str, ts: float, **extra) -> None:
        md = obj_or_meta.get("metadata", obj_or_meta)
        rec = {"cluster": extra.pop("cluster", None) or md.get("name"), "namespace": md.get("namespace"),
               "uid": extra.pop("uid", None) or md.get("uid"), "phase": phase, "time": when, "ts": round(ts, 6)}
        rec.update({k: v for k, v in extra.items() if v is not None})
        if self.transitions.record(rec):
            self.log.info("transition %s/%s %s%s at %s", rec["namespace"], rec["cluster"], phase,
                          "".join(f" {k}={v}" for k, v in extra.items() if k in ("node", "nodepool") and v), when)

    def _record_pool(self, np: dict, hc: dict | None, phase: str, when: str, ts: float, node: str | None = None,
                     **extra) -> None:
        """Record a NodePool (or node) transition under its HostedCluster."""
        md = np["metadata"]
        cluster = (np.get("spec") or {}).get("clusterName") or ""
        self._record({"name": cluster, "namespace": md["namespace"]}, phase, when, ts,
                     uid=(hc or {}).get("metadata", {}).get("uid"), node=node, nodepool=md["name"], **extra)

    # -------------------------------------------------------------- watches
    def _watch_loop(self, plural: str) -> None:
        custom = k8s.CustomObjectsApi(self.watch_api)
        rv = None
        failures = 0
        while not self._stop.is_set():
            try:
                if rv is None:
                    listing = custom.list_cluster_custom_object(GROUP, VERSION, plural, _request_timeout=(5, 60))
                    rv = listing["metadata"]["resourceVersion"]
                    self._resync(plural, listing.get("items") or [])
                    self._synced[plural].set()
                stream = k8s_watch.Watch()
                for event in stream.stream(custom.list_cluster_custom_object, GROUP, VERSION, plural,
                                           resource_version=rv, timeout_seconds=WATCH_TIMEOUT,
                                           allow_watch_bookmarks=True,
                                           _request_timeout=(5, WATCH_TIMEOUT + 10)):
                    if self._stop.is_set():
                        stream.stop()
                        break
                    etype = event.get("type")
                    obj = event.get("object") or {}
                    if etype == "ERROR":
                        if obj.get("code") == 410:
                            rv = None
                            break
                        raise ApiException(status=obj.get("code") or 500, reason=obj.get("message"))
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        rv = new_rv
                    if etype in ("ADDED", "MODIFIED", "DELETED"):
                        self._on_event(plural, etype, obj)
                failures = 0
            except ApiException as exc:
                if exc.status == 410:
                    self.log.info("watch of %s expired (410 Gone); relisting", plural)
                    rv = None
                    continue
                failures += 1
                if not self._stop.is_set():
                    self.log.warning("watch of %s failed: %s %s", plural, exc.status, exc.reason)
                self._stop.wait(min(5.0, 0.2 * 2 ** min(failures, 5)))
            except Exception as exc:  # connection problems, read timeouts, server restarts
                failures += 1
                if not self._stop.is_set():
                    self.log.debug("watch of %s interrupted: %r", plural, exc)
                self._stop.wait(min(5.0, 0.1 * 2 ** min(failures, 5)))

    def _cache(self, plural: str) -> dict:
        """The watch cache of ``plural``: (ns, name) -> last seen object."""
        return self._hcs if plural == "hostedclusters" else self._nps

    def _resync(self, plural: str, items: list[dict]) -> None:
        cache = self._cache(plural)
        seen = set()
        for obj in items:
            md = obj["metadata"]
            key = (md["namespace"], md["name"])
            seen.add(key)
            self._on_event(plural, "ADDED", obj)
        with self._lock:
            gone = [(key, obj) for key, obj in cache.items() if key not in seen]
        for _key, obj in gone:
            self._on_event(plural, "DELETED", obj)

    @staticmethod
    def _uncache(cache: dict, key: tuple, uid: str | None) -> bool:
        """Drop ``key`` from ``cache`` unless it now holds another object (a new one of the same name).
        True when the key no longer holds an object (called with ``self._lock`` held)."""
        cur = cache.get(key)
        if cur is None or cur["metadata"].get("uid") == uid:
            cache.pop(key, None)
            return True
        return False

    def _cache_put(self, cache: dict, key: tuple, obj: dict) -> None:
        md = obj.get("metadata") or {}
        with self._lock:
            if md.get("uid") in self._tombstones:
                return
            if md.get("deletionTimestamp") and not md.get("finalizers"):
                self._uncache(cache, key, md.get("uid"))
                return  # the write that removed the last finalizer removed the object
            old = cache.get(key)
            if old is not None and (old.get("metadata") or {}).get("uid") == obj["metadata"].get("uid") \
                    and _rv_int(old) > _rv_int(obj):
                return  # an older event than what we already know (e.g. our own write's response)
            cache[key] = obj

    def _on_event(self, plural: str, etype: str, obj: dict) -> None:
        md = obj.get("metadata") or {}
        key = (md.get("namespace"), md.get("name"))
        if plural == "hostedclusters":
            if etype == "DELETED":
                with self._lock:
                    self._tombstones.add(md.get("uid"))
                    self._uncache(self._hcs, key, md.get("uid"))
                self._on_hc_gone(obj)
            else:
                self._cache_put(self._hcs, key, obj)
                self.queue.add(("hc",) + key)
        else:
            cluster = (obj.get("spec") or {}).get("clusterName")
            if etype == "DELETED":
                with self._lock:
                    self._tombstones.add(md.get("uid"))
                    if self._uncache(self._nps, key, md.get("uid")):
                        self._np_rt.pop(key, None)
            else:
                self._cache_put(self._nps, key, obj)
            self.queue.add(("np",) + key)
            if cluster:
                self.queue.add(("hc", key[0], cluster))

    def _on_hc_gone(self, obj: dict) -> None:
        md = obj["metadata"]
        ns, name, uid = md.get("namespace"), md.get("name"), md.get("uid")
        with self._lock:
            if uid in self._deleted_uids:
                return
            self._deleted_uids.add(uid)
            self._hc_rt.pop((ns, name), None)
        now = time.time()
        self._record(obj, "deleted", fmt_time(now), now)
        self._remove_guest(ns, name)

    # --------------------------------------------------------------- worker
    def _worker(self) -> None:
        backoff: dict = {}
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                if key[0] == "hc":
                    self._reconcile_hc(key[1], key[2])
                else:
                    self._reconcile_np(key[1], key[2])
                backoff.pop(key, None)
            except _Requeue:
                self.queue.add_at(key, time.monotonic() + 0.05)
            except ApiException as exc:
                if exc.status in (404, 409):
                    self.queue.add_at(key, time.monotonic() + 0.05)
                elif not self._stop.is_set():
                    self._retry_later(key, backoff, f"API error {exc.status}: {exc.reason}")
            except Exception as exc:  # keep the operator alive whatever happens to one object
                if not self._stop.is_set():
                    self._retry_later(key, backoff, repr(exc), exc_info=True)
            finally:
                self.queue.done(key)

    def _retry_later(self, key, backoff: dict, why: str, exc_info: bool = False) -> None:
        self.errors += 1
        n = backoff[key] = backoff.get(key, 0) + 1
        delay = min(5.0, 0.1 * 2 ** min(n, 6))
        self.log.warning("reconcile %s failed (%s); retrying in %.1fs", "/".join(key), why, delay,
                         exc_info=exc_info)
        self.queue.add_at(key, time.monotonic() + delay)

    # ------------------------------------------------------ API primitives
    def _get(self, plural: str, ns: str, name: str) -> dict | None:
        try:
            obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name,
                                                           _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        self._cache_put(self._cache(plural), (ns, name), obj)
        return obj

    def _read(self, plural: str, ns: str, name: str) -> dict | None:
        """The object as the watch cache (plus our own writes' responses) knows it; GET on a cache miss.

        Writes that could race carry the resourceVersion they were computed from, and a 409 refreshes
        the cache with a GET, so a stale read costs one retry, never a lost update.
        """
        with self._lock:
            obj = self._cache(plural).get((ns, name))
        if obj is not None:
            return obj
        return self._get(plural, ns, name)

    def _conflict(self, plural: str, obj: dict, exc: ApiException) -> _Requeue:
        md = obj["metadata"]
        if exc.status == 409:
            try:
                self._get(plural, md["namespace"], md["name"])
            except ApiException:
                pass
        else:
            with self._lock:
                self._uncache(self._cache(plural), (md["namespace"], md["name"]), md.get("uid"))
        return _Requeue()

    def _write(self, fn: Callable, plural: str, obj: dict, body: dict) -> dict:
        """``fn`` (a CustomObjectsApi write) on ``obj`` with ``body``; the response goes into the cache.
        404/409 refresh the cache and requeue."""
        md = obj["metadata"]
        try:
            new = fn(GROUP, VERSION, md["namespace"], plural, md["name"], body, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status in (404, 409):
                raise self._conflict(plural, obj, exc) from exc
            raise
        self._cache_put(self._cache(plural), (md["namespace"], md["name"]), new)
        return new

    def _patch(self, plural: str, obj: dict, body: dict, status: bool = False) -> dict:
        fn = self.custom.patch_namespaced_custom_object_status if status else \
            self.custom.patch_namespaced_custom_object
        return self._write(fn, plural, obj, body)

    def _put_status(self, plural: str, obj: dict, status: dict) -> dict:
        body = dict(obj)
        body["status"] = status
        return self._write(self.custom.replace_namespaced_custom_object_status, plural, obj, body)

    def _write_status(self, plural: str, obj: dict, new_status: dict) -> dict:
        """Write the keys of ``new_status`` that differ; PUT when a value must be JSON null."""
        old = obj.get("status") or {}
        changed = {k: v for k, v in new_status.items() if old.get(k) != v}
        if not changed:
            return obj
        version = changed.get("version")
        needs_null = isinstance(version, dict) and (
            any(h.get("completionTime") is None for h in version.get("history") or [])
            or version.get("availableUpdates", 0) is None)
        if needs_null:
            full = dict(old)
            full.update(new_status)
            return self._put_status(plural, obj, full)
        return self._patch(plural, obj, {"status": changed}, status=True)

    def _ensure_finalizer(self, plural: str, obj: dict) -> dict:
        md = obj["metadata"]
        fins = list(md.get("finalizers") or [])
        if HC_FINALIZER in fins or md.get("deletionTimestamp"):
            return obj
        return self._patch(plural, obj, {"metadata": {"finalizers": fins + [HC_FINALIZER],
                                                      "resourceVersion": md["resourceVersion"]}})

    def _remove_finalizer(self, plural: str, obj: dict) -> dict | None:
        md = obj["metadata"]
        fins = list(md.get("finalizers") or [])
        if HC_FINALIZER not in fins:
            return obj
        fins.remove(HC_FINALIZER)
        return self._patch(plural, obj, {"metadata": {"finalizers": fins or None,
                                                      "resourceVersion": md["resourceVersion"]}})

    def _create_core(self, kind: str, body: dict, namespace: str | None = None) -> None:
        try:
            if kind == "namespace":
                self.core.create_namespace(body, _request_timeout=REQUEST_TIMEOUT)
            else:
                self.core.create_namespaced_secret(namespace, body, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _delete_core(self, kind: str, name: str, namespace: str | None = None) -> None:
        try:
            if kind == "namespace":
                self.core.delete_namespace(name, _request_timeout=REQUEST_TIMEOUT)
            else:
                self.core.delete_namespaced_secret(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    # ---------------------------------------------------------------- guests
    def _guest(self, ns: str, name: str):
        try:
            return self.guests.get_guest(ns, name) if self.guests is not None else None
        except KeyError:
            return None

    def _ensure_guest(self, hc: dict, token: str):
        """Serve the hosted cluster's API (or keep serving it) with the token of its kubeconfig secret, with
        its monitoring stack (``openshift-monitoring/prometheus-k8s``) when the world has guest monitoring."""
        if self.guests is None:
            return None
        md = hc["metadata"]
        store = self.guests.add_guest(md["namespace"], md["name"], token=token)
        try:
            self._guest_monitoring(store, hc)
        except Exception:  # the guest's API must not fail on its monitoring objects
            self.log.exception("guest monitoring of %s/%s", md["namespace"], md["name"])
        return store

    def _guest_monitoring(self, store, hc: dict) -> None:
        """The namespace ``openshift-monitoring``, ServiceAccount and Route ``prometheus-k8s`` (host
        ``prometheus-k8s-openshift-monitoring.apps.<name>.<base domain>``) in the guest; removed when the
        world has no guest monitoring."""
        if not hasattr(store, "list"):
            return
        if not getattr(self.world, "guest_monitoring", True):
            if remove_monitoring(store):
                self.log.info("guest monitoring of %s removed", hc["metadata"]["name"])
            return
        dns = (hc.get("spec") or {}).get("dns") or {}
        prefix = dns["baseDomainPrefix"] if isinstance(dns.get("baseDomainPrefix"), str) else hc["metadata"]["name"]
        host = guest_route_host(prefix, dns.get("baseDomain") or self.base_domain)
        if ensure_monitoring(store, host):
            self.log.info("guest monitoring of %s: route openshift-monitoring/prometheus-k8s at https://%s",
                          hc["metadata"]["name"], host)

    def _remove_guest(self, ns: str, name: str) -> None:
        if self.guests is None:
            return
        try:
            self.guests.remove_guest(ns, name)
        except KeyError:
            pass

    def guest_server(self, ns: str, name: str) -> str:
        return f"{self.guest_url}/guests/{ns}/{name}"

    def _guest_nodes(self, store, np_name: str | None = None) -> list[dict]:
        if store is None:
            return []
        try:
            nodes = store.list("nodes")
        except Exception:  # the guest went away under us
            return []
        if isinstance(nodes, dict):
            nodes = nodes.get("items") or []
        if np_name is None:
            return nodes
        return [n for n in nodes if ((n.get("metadata") or {}).get("annotations") or {})
                .get(SIM_NODEPOOL_ANNOTATION) == np_name]

    # ----------------------------------------------------- HostedCluster
    def hc_step(self, hc: dict | None) -> int:
        """The last install step the HostedCluster's status shows (-1: not bootstrapped yet)."""
        st = (hc or {}).get("status") or {}
        hist = (st.get("version") or {}).get("history") or []
        if not hist:
            return -1
        if hist[0].get("state") == "Completed":
            return DONE
        if _cond_status(hc, "Available") == "True":
            return AVAIL
        if _cond_status(hc, "KubeAPIServerAvailable") == "True":
            return KAS
        if _cond_status(hc, "EtcdAvailable") == "True":
            return ETCD
        infra = _cond_status(hc, "InfrastructureReady")
        if infra == "True":
            return INFRA
        if infra == "False":
            return HCP
        return BOOT

    def hc_failed(self, hc: dict) -> bool:
        for ctype, reason, _ in model.FAILURE_MODES:
            c = _cond(hc, ctype)
            if c and c.get("status") == "False" and c.get("reason") == reason:
                return True
        return False

    def _np_for_cluster(self, ns: str, name: str) -> list[dict]:
        with self._lock:
            return [np for (nns, _), np in self._nps.items()
                    if nns == ns and (np.get("spec") or {}).get("clusterName") == name]

    def _concurrent_installs(self) -> int:
        with self._lock:
            hcs = list(self._hcs.values())
        n = 0
        for hc in hcs:
            if hc["metadata"].get("deletionTimestamp") or self.hc_failed(hc):
                continue
            if self.hc_step(hc) < DONE:
                n += 1
        return max(1, n)

    def _runtime(self, table: dict, key: tuple, factory: Callable):
        """The runtime state of ``key`` in ``table`` (``_hc_rt`` or ``_np_rt``), created on first use."""
        with self._lock:
            rt = table.get(key)
            if rt is None:
                rt = table[key] = factory()
            return rt

    def _hc_runtime(self, key: tuple) -> _HCRuntime:
        return self._runtime(self._hc_rt, key, _HCRuntime)

    def _reconcile_hc(self, ns: str, name: str) -> None:
        hc = self._read("hostedclusters", ns, name)
        if hc is None:
            return
        if hc["metadata"].get("deletionTimestamp"):
            self._reconcile_hc_delete(hc)
            return
        hc = self._ensure_finalizer("hostedclusters", hc)
        key = (ns, name)
        rt = self._hc_runtime(key)
        if self._pause(("hc", ns, name), "hostedclusters", hc, rt):
            return
        if rt.plan is None:
            rt.plan = model.plan_control_plane(name, self.seed, self._concurrent_installs(), self.params)
        step = self.hc_step(hc)
        now_m = time.monotonic()
        if step < BOOT:
            self._hc_apply(hc, BOOT)
            self.queue.add(("hc", ns, name))
            return
        failed = self.hc_failed(hc)
        if failed:
            self._hc_apply(hc, step)  # keep observedGeneration and node-dependent conditions current
            return
        stuck = self.faults.stuck(name)
        degraded = self.faults.degraded(name)
        nxt = step + 1
        if nxt > DONE or (stuck and nxt > INFRA) or (degraded and nxt > ETCD):
            self._hc_apply(hc, step)
            return
        if nxt == DONE:
            delay = self._completion_delay(hc)
            if delay is None:
                rt.due.pop(STEP_NAMES[DONE], None)
                self._hc_apply(hc, step)
                return
        else:
            delay = rt.plan.offset(STEP_NAMES[nxt]) - (0.0 if step == BOOT else rt.plan.offset(STEP_NAMES[step]))
        due_key = STEP_NAMES[nxt]
        due = rt.due.get(due_key)
        if due is None:
            due = rt.due[due_key] = now_m + self.real(max(0.0, delay))
        if now_m >= due:
            rt.due.pop(due_key, None)
            self._hc_apply(hc, nxt)
            self.queue.add(("hc", ns, name))
        else:
            self._hc_apply(hc, step)
            self.queue.add_at(("hc", ns, name), due)

    def _pause(self, key: tuple, plural: str, obj: dict, rt) -> bool:
        """Honour ``spec.pausedUntil``: only ReconciliationActive=False is written, nothing progresses."""
        paused, until = paused_until(obj.get("spec"))
        if not paused:
            return False
        # forget every pending schedule: on resume, each step waits its full modelled time again
        if isinstance(rt, _HCRuntime):
            rt.due.clear()
        else:
            rt.pending = {k: p for k, p in rt.pending.items() if p.joined}
            rt.ready_due = None
        t = time.time()
        value = obj["spec"]["pausedUntil"]
        desired = [("ReconciliationActive", "False", "ReconciliationPaused", f"Reconciliation paused until: {value}")]
        if plural == "hostedclusters":
            desired.append(("Progressing", "False", "Blocked",
                            f"ReconciliationActive condition is false: Reconciliation paused until: {value}"))
        gen = int(obj["metadata"].get("generation") or 1)
        st = obj.get("status") or {}
        conds, flipped = merge_conditions(st.get("conditions"), desired, gen, fmt_time(t))
        if flipped or st.get("conditions") != conds:
            self._write_status(plural, obj, dict(st, conditions=conds))
        if until is not None:
            self.queue.add_at(key, time.monotonic() + max(0.0, until - time.time()) + 0.01)
        return True

    def _completion_delay(self, hc: dict) -> float | None:
        """Simulated seconds to install completion once every NodePool is Ready; None while not ready."""
        md = hc["metadata"]
        pools = [np for np in self._np_for_cluster(md["namespace"], md["name"])
                 if not np["metadata"].get("deletionTimestamp")]
        total = 0
        for np in pools:
            want = self._np_desired(np)
            if want == 0:
                continue
            total += want
            if _cond_status(np, "Ready") != "True" or int((np.get("status") or {}).get("replicas") or 0) < want:
                return None
        if total == 0:
            return None  # no workers: the CVO never finishes (history stays Partial)
        rt = self._hc_runtime((md["namespace"], md["name"]))
        factor = rt.plan.factor if rt.plan else 1.0
        return model.plan_install_completion(md["name"], self.seed, 1, self.params) * factor

    def _hc_conditions(self, hc: dict, step: int, failure: tuple | None, ready_node: bool,
                       deleting: tuple | None) -> list[tuple]:
        image = (hc.get("spec") or {}).get("release", {}).get("image") or ""
        version, _arch = parse_release(image, self.default_version)
        U, T, F = "Unknown", "True", "False"
        c: dict[str, tuple] = {}
        # HostedCluster-controller conditions
        c["ValidConfiguration"] = (T, "AsExpected", "Configuration passes validation")
        c["SupportedHostedCluster"] = (T, "AsExpected", "HostedCluster is supported by operator configuration")
        c["ValidReleaseImage"] = (T, "AsExpected", "Release image is valid")
        c["ReconciliationActive"] = (T, "AsExpected", "Reconciliation active on resource")
        c["ReconciliationSucceeded"] = (T, "ReconciliatonSucceeded", "Reconciliation completed successfully")
        c["ValidProxyConfiguration"] = (T, "AsExpected", "No proxy CA bundle configured")
        c["PlatformCredentialsFound"] = (T, "AsExpected", "Required platform credentials are found")
        c["ValidOIDCConfiguration"] = (T, "AsExpected", "OIDC configuration is valid")
        c["ValidAWSIdentityProvider"] = (U, "StatusUnknown", "")
        c["IgnitionEndpointAvailable"] = (F, "NotFound", "Ignition server deployment not found")
        # conditions copied from the HostedControlPlane (Unknown until it reports)
        for t in ("ValidAWSKMSConfig", "ExternalDNSReachable", "AWSDefaultSecurityGroupCreated", "InfrastructureReady",
                  "EtcdAvailable", "KubeAPIServerAvailable", "ValidHostedControlPlaneConfiguration",
                  "ValidReleaseInfo", "ConfigOperatorReconciliationSucceeded", "DataPlaneConnectionAvailable",
                  "ControlPlaneConnectionAvailable"):
            c[t] = (U, "StatusUnknown", "")
        c["Degraded"] = (U, "StatusUnknown", "The hosted control plane is not found")
        for t in ("ClusterVersionSucceeding", "ClusterVersionAvailable", "ClusterVersionProgressing",
                  "ClusterVersionReleaseAccepted", "ClusterVersionUpgradeable"):
            c[t] = (U, "StatusUnknown", "Condition not found in the CVO.")
        c["Progressing"] = (T, "Progressing", "HostedCluster is deploying, upgrading, or reconfiguring")
        c["Available"] = (F, "WaitingForAvailable", "Waiting for hosted control plane to be healthy")
        if step >= HCP:
            c["Progressing"] = (F, "AsExpected", "HostedCluster is at expected version")
            c["ValidAWSIdentityProvider"] = (T, "AsExpected", "All is well")
            c["ValidAWSKMSConfig"] = (U, "StatusUnknown", "AWS KMS is not configured")
            c["ExternalDNSReachable"] = (U, "StatusUnknown", "External DNS is not configured")
            waiting = "Waiting for the kube-apiserver load balancer and the control plane routes to be provisioned"
            c["InfrastructureReady"] = (F, "WaitingOnInfrastructureReady", waiting)
            c["EtcdAvailable"] = (F, "StatefulSetNotFound", "Etcd StatefulSet not found")
            c["KubeAPIServerAvailable"] = (F, "NotFound", "Kube APIServer deployment not found")
            c["ValidHostedControlPlaneConfiguration"] = (T, "AsExpected", "Configuration passes validation")
            c["ValidReleaseInfo"] = (T, "AsExpected", "All is well")
            c["IgnitionEndpointAvailable"] = (F, "WaitingForAvailable", "Ignition server deployment is not yet available")
            c["Degraded"] = (F, "AsExpected", "The hosted cluster is not degraded")
            c["DataPlaneConnectionAvailable"] = (U, "NoWorkerNodesAvailable", "No worker nodes available")
            c["ControlPlaneConnectionAvailable"] = (U, "NoWorkerNodesAvailable", "No worker nodes available")
            c["Available"] = (F, "WaitingOnInfrastructureReady", waiting)
        if step >= INFRA:
            c["InfrastructureReady"] = (T, "AsExpected", "All is well")
            c["AWSDefaultSecurityGroupCreated"] = (T, "AsExpected", "All is well")
            c["EtcdAvailable"] = (F, "EtcdWaitingForQuorum", "Waiting for etcd to reach quorum")
            c["Available"] = (F, "EtcdWaitingForQuorum", "Waiting for etcd to reach quorum")
        if step >= ETCD:
            c["EtcdAvailable"] = (T, "QuorumAvailable", "All is well")
            c["KubeAPIServerAvailable"] = (F, "WaitingForAvailable",
                                           "Waiting for Kube APIServer deployment to become available")
            c["Available"] = (F, "WaitingForAvailable", "Waiting for Kube APIServer deployment to become available")
        if step >= KAS:
            c["KubeAPIServerAvailable"] = (T, "AsExpected", "Kube APIServer deployment is available")
            c["IgnitionEndpointAvailable"] = (T, "AsExpected", "Ignition server deployment is available")
            c["Available"] = (F, "KubeconfigWaitingForCreate", "Waiting for hostedControlPlane kubeconfig to be created")
        if step >= AVAIL:
            c["Available"] = (T, "AsExpected", "The hosted control plane is available")
            c["ConfigOperatorReconciliationSucceeded"] = (T, "AsExpected", "All is well")
            c["ClusterVersionSucceeding"] = (T, "FromClusterVersion", "")
            c["ClusterVersionAvailable"] = (F, "FromClusterVersion", "")
            done, total = (len(image) * 7) % 300 + 150, 900
            c["ClusterVersionProgressing"] = (T, "FromClusterVersion",
                                              f"Working towards {version}: {done} of {total} done "
                                              f"({done * 100 // total}% complete)")
            c["ClusterVersionReleaseAccepted"] = (T, "PayloadLoaded",
                                                  f'Payload loaded version="{version}" image="{image}" '
                                                  f'architecture="{_arch.lower()}"')
            c["ClusterVersionUpgradeable"] = (T, "AsExpected", "")
        if ready_node and step >= AVAIL:
            c["DataPlaneConnectionAvailable"] = (T, "AsExpected", "All is well")
            c["ControlPlaneConnectionAvailable"] = (T, "AsExpected", "All is well")
        if step >= DONE:
            c["ClusterVersionProgressing"] = (F, "FromClusterVersion", f"Cluster version is {version}")
            c["ClusterVersionAvailable"] = (T, "FromClusterVersion", f"Done applying {version}")
        if step >= ETCD and self.faults.degraded(hc["metadata"]["name"]):
            # the kube-apiserver pods crash-loop: HyperShift copies the HCP's Degraded condition
            replicas = 1 if (hc.get("spec") or {}).get("controllerAvailabilityPolicy") == "SingleReplica" else 3
            c["Degraded"] = (T, "UnavailableReplicas", f"kube-apiserver deployment has {replicas} unavailable replicas")
        if failure is not None:
            ctype, reason, message = failure
            c[ctype] = (F, reason, message)
            if ctype == "InfrastructureReady":
                c["Available"] = (F, reason, message)
        if deleting is not None:
            c["CloudResourcesDestroyed"] = deleting
        return [(t,) + v for t, v in c.items()]

    def _failure_for(self, hc: dict, step: int) -> tuple | None:
        name = hc["metadata"]["name"]
        if step < HCP or not self.faults.install_fails(name, self.seed):
            return None
        return model.failure_mode(name, self.seed, (hc.get("spec") or {}).get("infraID") or name)

    def _hc_apply(self, hc: dict, step: int, deleting: tuple | None = None) -> dict:
        """Write the status (and side effects) of install step ``step``; record the flips."""
        md = hc["metadata"]
        ns, name = md["namespace"], md["name"]
        gen = int(md.get("generation") or 1)
        t = time.time()
        now = fmt_time(t)
        st = dict(hc.get("status") or {})
        spec = hc.get("spec") or {}
        image = (spec.get("release") or {}).get("image") or ""
        version, arch = parse_release(image, self.default_version)
        failure = self._failure_for(hc, step)
        cpns = cp_namespace(ns, name)
        new: dict[str, Any] = {}

        if step >= BOOT and not st.get("version") and deleting is None:
            self._create_core("namespace", {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": cpns, "labels": {"hypershift.openshift.io/hosted-control-plane": "true"},
                             "annotations": {"hypershift.openshift.io/cluster": f"{ns}/{name}"}}})
            new["version"] = {"desired": {"image": image, "version": ""},
                              "history": [{"state": "Partial", "startedTime": now, "completionTime": None,
                                           "image": image, "version": "", "verified": False}],
                              "observedGeneration": gen, "availableUpdates": None}
            new["controlPlaneEndpoint"] = {"host": "", "port": 0}
        if step >= HCP:
            new["payloadArch"] = arch
        if step >= INFRA and failure is None:
            infra_id = spec.get("infraID") or name
            new["controlPlaneEndpoint"] = {
                "host": f"a{_hash(infra_id, 'elb', n=31)}-{_hash(infra_id, 'elb2', n=8)}.elb.{self.region}.amazonaws.com",
                "port": 6443}
            plat = dict(st.get("platform") or {})
            plat["aws"] = dict(plat.get("aws") or {}, defaultWorkerSecurityGroupID=f"sg-0{_hash(infra_id, 'sg', n=16)}")
            new["platform"] = plat
        if step >= KAS:
            new["ignitionEndpoint"] = f"ignition-server-{cpns}.apps.mgmt.{self.base_domain}"
        if step >= AVAIL and not deleting:
            if not st.get("kubeconfig") or self._guest(ns, name) is None or (ns, name) not in self._secrets_ok:
                token = self._ensure_admin_secrets(hc)
                self._ensure_guest(hc, token)
                self._secrets_ok.add((ns, name))
            new["kubeconfig"] = {"name": f"{name}-admin-kubeconfig"}
            new["kubeadminPassword"] = {"name": f"{name}-kubeadmin-password"}
            new["oauthCallbackURLTemplate"] = (f"https://oauth-{cpns}.apps.mgmt.{self.base_domain}:443/"
                                               f"oauth2callback/[identity-provider-name]")
            if (md.get("annotations") or {}).get(HAS_BEEN_AVAILABLE) != "true":
                hc = self._patch("hostedclusters", hc, {"metadata": {"annotations": {HAS_BEEN_AVAILABLE: "true"}}})
                md = hc["metadata"]
        if step >= AVAIL:
            ver = dict(new.get("version") or st.get("version") or {})
            ver["desired"] = {"image": image, "version": version}
            hist = [dict(h) for h in ver.get("history") or []]
            if hist and not hist[0].get("version"):
                hist[0]["version"] = version
            if step >= DONE and hist and hist[0].get("state") != "Completed":
                hist[0]["state"] = "Completed"
                hist[0]["completionTime"] = now
            ver["history"] = hist
            ver["observedGeneration"] = gen
            new["version"] = ver
        elif st.get("version") and st["version"].get("observedGeneration") != gen:
            new["version"] = dict(st["version"], observedGeneration=gen)

        ready_node = step >= AVAIL and any(_node_ready(n) for n in self._guest_nodes(self._guest(ns, name)))
        desired = self._hc_conditions(hc, step, failure, ready_node, deleting)
        conds, flipped = merge_conditions(st.get("conditions"), desired, gen, now)
        new["conditions"] = conds
        merged = dict(st)
        merged.update(new)
        hc2 = self._write_status("hostedclusters", hc, merged)

        # ground truth
        by_type = {c["type"]: c for c in conds}
        if "version" in new and not st.get("version"):
            self._record(hc2, "created_seen", now, t)
        if failure is not None and failure[0] in flipped:
            self._record(hc2, "install_failed", by_type[failure[0]]["lastTransitionTime"], t,
                         reason=failure[1], message=failure[2])
        if "InfrastructureReady" in flipped and by_type["InfrastructureReady"]["status"] == "False" and failure is None:
            self._record(hc2, "hcp_created", by_type["InfrastructureReady"]["lastTransitionTime"], t)
        if "Degraded" in flipped and by_type["Degraded"]["status"] == "True":
            self._record(hc2, "degraded", by_type["Degraded"]["lastTransitionTime"], t,
                         reason=by_type["Degraded"].get("reason"), message=by_type["Degraded"].get("message"))
        for ctype, phase in (("InfrastructureReady", "infrastructure_ready"), ("EtcdAvailable", "etcd_available"),
                             ("KubeAPIServerAvailable", "kas_available"), ("Available", "control_plane_available")):
            if ctype in flipped and by_type[ctype]["status"] == "True":
                self._record(hc2, phase, by_type[ctype]["lastTransitionTime"], t)
        hist = ((hc2.get("status") or {}).get("version") or {}).get("history") or []
        if step >= DONE and hist and hist[0].get("completionTime") == now and \
                not (((st.get("version") or {}).get("history") or [{}])[0].get("completionTime")):
            self._record(hc2, "install_completed", now, t, version=version)
        if step != self.hc_step(hc) or failure is not None and failure[0] in flipped:
            for np in self._np_for_cluster(ns, name):
                self.queue.add(("np", ns, np["metadata"]["name"]))
        return hc2

    def _ensure_admin_secrets(self, hc: dict) -> str:
        """Create (or repair) the kubeconfig/password secrets of an available cluster; return the guest token.

        CP namespace: ``admin-kubeconfig``, ``localhost-kubeconfig``, ``kubeadmin-password``; HC namespace:
        ``<name>-kubeadmin-password`` and, last, ``<name>-admin-kubeconfig``.  An existing kubeconfig keeps
        its token; its server URL is rewritten if the guest API moved (restart on another port).
        """
        md = hc["metadata"]
        ns, name = md["namespace"], md["name"]
        cpns = cp_namespace(ns, name)
        secret_name = f"{name}-admin-kubeconfig"
        server = self.guest_server(ns, name)
        token = None
        current_server = None
        try:
            existing = self.core.read_namespaced_secret(secret_name, ns, _request_timeout=REQUEST_TIMEOUT)
            data = (existing.data or {}).get("kubeconfig")
            if data:
                cfg = yaml.safe_load(base64.b64decode(data))
                token = cfg["users"][0]["user"]["token"]
                current_server = cfg["clusters"][0]["cluster"]["server"]
        except ApiException as exc:
            if exc.status != 404:
                raise
        except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
            token = None
        if token and current_server == server:
            return token
        if not token:
            getter = getattr(self.guests, "guest_token", None)
            token = (getter(ns, name) if getter else None) or secrets.token_urlsafe(32)
        kubeconfig = make_kubeconfig(server, token)
        owner = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "HostedCluster", "name": name, "uid": md["uid"],
                  "controller": True, "blockOwnerDeletion": True}]
        bodies = [(cpns, "admin-kubeconfig", {"kubeconfig": kubeconfig}, None),
                  (cpns, "localhost-kubeconfig", {"kubeconfig": kubeconfig}, None)]
        if current_server is None:  # first time: also the kubeadmin password
            password = "-".join(secrets.token_hex(3)[:5] for _ in range(4))
            bodies += [(cpns, "kubeadmin-password", {"password": password}, None),
                       (ns, f"{name}-kubeadmin-password", {"password": password}, owner)]
        # the kubeconfig secret last: once it exists, everything it needs exists
        bodies.append((ns, secret_name, {"kubeconfig": kubeconfig}, owner))
        for sns, sname, data, owners in bodies:
            body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": sname, "namespace": sns},
                    "data": {k: _b64(v) for k, v in data.items()}}
            if owners:
                body["metadata"]["ownerReferences"] = owners
            try:
                self.core.create_namespaced_secret(sns, body, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self.core.replace_namespaced_secret(sname, sns, body, _request_timeout=REQUEST_TIMEOUT)
        return token

    # -------------------------------------------------- HostedCluster deletion
    def _reconcile_hc_delete(self, hc: dict) -> None:
        md = hc["metadata"]
        ns, name = md["namespace"], md["name"]
        t = time.time()
        self._record(hc, "deleting", md["deletionTimestamp"], t)
        if HC_FINALIZER not in (md.get("finalizers") or []):
            return  # ours is done (or never added); the CLI owns the rest
        # 1. delete the cluster's NodePools and wait until they are gone
        pools = self._np_for_cluster(ns, name)
        for np in pools:
            if not np["metadata"].get("deletionTimestamp"):
                try:
                    self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "nodepools",
                                                                np["metadata"]["name"],
                                                                _request_timeout=REQUEST_TIMEOUT)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
        if pools:
            return  # NodePool deletions re-queue this cluster
        # 2. control-plane teardown (cloud resources, HCP, namespace)
        key = (ns, name)
        rt = self._hc_runtime(key)
        crd = _cond(hc, "CloudResourcesDestroyed")
        step = max(self.hc_step(hc), BOOT)
        destroy_fails = self.faults.destroy_fails(name)
        if crd is None or (crd.get("status") == "Unknown" and "teardown" not in rt.due):
            if crd is None:
                self._hc_apply(hc, step, deleting=("Unknown", "RemovingCloudResources",
                                                   "Removing cloud resources created by the hosted cluster"))
            sim_delay = DESTROY_TIMEOUT_SIM if destroy_fails else \
                model.plan_control_plane_teardown(name, self.seed, self.params)
            rt.due["teardown"] = time.monotonic() + self.real(sim_delay)
            self.queue.add_at(("hc", ns, name), rt.due["teardown"])
            return
        if crd.get("status") == "False":
            return  # gave up (destroy-fail fault): the finalizer stays, deletion never completes
        due = rt.due.get("teardown")
        if crd.get("status") == "Unknown":
            if time.monotonic() < due:
                self.queue.add_at(("hc", ns, name), due)
                return
            rt.due.pop("teardown", None)
            if destroy_fails:
                hc2 = self._hc_apply(hc, step, deleting=("False", "CloudResourcesDeletionTimedOut",
                                                         "Giving up on cloud resource deletion after 10m0s"))
                c = _cond(hc2, "CloudResourcesDestroyed")
                self._record(hc2, "destroy_failed", c["lastTransitionTime"], time.time(),
                             reason="CloudResourcesDeletionTimedOut")
                return
            hc = self._hc_apply(hc, step, deleting=("True", "AsExpected", "All guest resources destroyed"))
        # 3. remove what we created, then our finalizer
        cpns = cp_namespace(ns, name)
        for sname in ("admin-kubeconfig", "localhost-kubeconfig", "kubeadmin-password"):
            self._delete_core("secret", sname, cpns)
        for sname in (f"{name}-admin-kubeconfig", f"{name}-kubeadmin-password"):
            self._delete_core("secret", sname, ns)
        self._delete_core("namespace", cpns)
        self._remove_guest(ns, name)
        c = _cond(hc, "CloudResourcesDestroyed") or {}
        self._record(hc, "finalized", c.get("lastTransitionTime") or fmt_time(time.time()), time.time())
        self._remove_finalizer("hostedclusters", hc)

    # ------------------------------------------------------------- NodePool
    @staticmethod
    def _np_desired(np: dict) -> int:
        spec = np.get("spec") or {}
        if spec.get("autoScaling"):
            return int((spec["autoScaling"] or {}).get("min") or 0)
        return max(0, int(spec.get("replicas") or 0))

    def _np_runtime(self, key: tuple) -> _NPRuntime:
        return self._runtime(self._np_rt, key, _NPRuntime)

    def _reconcile_np(self, ns: str, name: str) -> None:
        np = self._read("nodepools", ns, name)
        if np is None:
            with self._lock:
                self._np_rt.pop((ns, name), None)
            return
        cluster = (np.get("spec") or {}).get("clusterName") or ""
        hc = self._read("hostedclusters", ns, cluster) if cluster else None
        if np["metadata"].get("deletionTimestamp"):
            self._reconcile_np_delete(np, hc)
            return
        np = self._ensure_finalizer("nodepools", np)
        key = (ns, name)
        rt = self._np_runtime(key)
        if self._pause(("np", ns, name), "nodepools", np, rt):
            return
        step = self.hc_step(hc) if hc is not None else -1
        if hc is not None and self.hc_failed(hc):
            step = min(step, HCP)
        desired = self._np_desired(np)
        guest = self._guest(ns, cluster) if step >= AVAIL else None
        nodes = {n["metadata"]["name"]: n for n in self._guest_nodes(guest, name)}
        now_m = time.monotonic()
        t = time.time()
        now = fmt_time(t)
        factor = 1.0
        with self._lock:
            hrt = self._hc_rt.get((ns, cluster))
            if hrt and hrt.plan:
                factor = hrt.plan.factor
        wake: list[float] = []

        if step >= AVAIL and guest is not None:
            self._np_plan(np, hc, rt, nodes, desired, factor, now_m)
            # node events that are due
            for p in sorted(rt.pending.values(), key=lambda p: p.index):
                if not p.joined and now_m >= p.join_due:
                    nodes[p.name] = self._node_join(guest, np, hc, p)
                    p.joined = True
                    self._record_pool(np, hc, "node_joined", now, t, node=p.name)
                if p.joined and now_m >= p.ready_due:
                    node = self._node_ready(guest, np, p.name, t)
                    rt.pending.pop(p.name, None)
                    if node is not None:
                        nodes[p.name] = node
                        ltt = _node_ready_time(node) or now
                        self._record_pool(np, hc, "node_ready", ltt, t, node=p.name)
                        self.queue.add(("hc", ns, cluster))
                elif not p.joined:
                    wake.append(p.join_due)
                else:
                    wake.append(p.ready_due)
            # scale down: remove surplus nodes after their drain time
            for node_name, due in list(rt.scale_down_due.items()):
                if now_m >= due:
                    self._node_delete(guest, node_name)
                    nodes.pop(node_name, None)
                    rt.scale_down_due.pop(node_name, None)
                    self._record_pool(np, hc, "node_removed", now, t, node=node_name)
                else:
                    wake.append(due)

        ready_nodes = sum(1 for n in nodes.values() if _node_ready(n))
        joined = len(nodes)
        was_ready = _cond_status(np, "Ready") == "True"
        np_ready = False
        if desired == 0:
            np_ready = step >= AVAIL or was_ready
        elif ready_nodes >= desired and joined >= desired and step >= AVAIL:
            if was_ready:
                np_ready = True
            else:
                if rt.ready_due is None:
                    rt.ready_due = now_m + self.real(rt.ready_after or self._np_ready_after(np))
                if now_m >= rt.ready_due:
                    np_ready = True
                    rt.ready_due = None
                else:
                    wake.append(rt.ready_due)
        else:
            rt.ready_due = None
        np2 = self._np_write(np, hc, step, desired, joined, ready_nodes, np_ready, nodes, now)
        if np_ready and not was_ready and desired > 0:
            c = _cond(np2, "Ready") or {}
            self._record_pool(np, hc, "nodepool_ready", c.get("lastTransitionTime") or now, t, replicas=desired)
        if np_ready != was_ready:
            self.queue.add(("hc", ns, cluster))
        if wake:
            self.queue.add_at(("np", ns, name), min(wake))

    def _np_ready_after(self, np: dict) -> float:
        rng = model.rng_for(self.seed, np["metadata"]["name"], "nodepool-ready")
        lo, hi = self.params.nodepool_ready_after_nodes
        return rng.uniform(lo, hi)

    def _np_plan(self, np: dict, hc: dict, rt: _NPRuntime, nodes: dict, desired: int, factor: float,
                 now_m: float) -> None:
        """Make sure every desired node has a join/ready schedule (restart safe: from the guest's state)."""
        name = np["metadata"]["name"]
        existing_idx = [int((n["metadata"].get("annotations") or {}).get("sim.hypershift.openshift.io/index", -1))
                        for n in nodes.values()]
        rt.next_index = max([rt.next_index] + [i + 1 for i in existing_idx])
        # nodes that joined but are not Ready and have no schedule (operator restarted): Ready soon
        for node_name, node in nodes.items():
            if not _node_ready(node) and node_name not in rt.pending and node_name not in rt.scale_down_due:
                rng = model.rng_for(self.seed, name, f"resume-{node_name}")
                rt.pending[node_name] = _PendingNode(node_name, rt.next_index, now_m, now_m + self.real(
                    rng.uniform(*self.params.node_join_before_ready) * factor), joined=True)
        unjoined = [p for p in rt.pending.values() if not p.joined]
        active = [n for n in nodes if n not in rt.scale_down_due]
        have = len(active) + len(unjoined)
        if have < desired:
            plan = model.plan_nodepool(name, self.seed, desired - have, 1, self.params, first_index=rt.next_index)
            taken = set(nodes) | set(rt.pending)
            for i, nplan in enumerate(plan.nodes):
                idx = rt.next_index + i
                node_name = self._node_name(np, hc, idx, taken)
                taken.add(node_name)
                rt.pending[node_name] = _PendingNode(node_name, idx, now_m + self.real(nplan.join * factor),
                                                     now_m + self.real(nplan.ready * factor))
            rt.next_index += len(plan.nodes)
            rt.ready_after = self._np_ready_after(np) * factor
        elif have > desired:
            surplus = have - desired
            for p in sorted(unjoined, key=lambda p: -p.index)[:surplus]:
                rt.pending.pop(p.name, None)
                surplus -= 1
            if surplus > 0:
                victims = sorted(active, key=lambda n: -int((nodes[n]["metadata"].get("annotations") or {})
                                                         .get("sim.hypershift.openshift.io/index", 0)))[:surplus]
                drain, _ = model.plan_node_drain(name, self.seed, victims, self.params)
                for v in victims:
                    rt.pending.pop(v, None)
                    rt.scale_down_due[v] = now_m + self.real(drain[v])

    def _node_name(self, np: dict, hc: dict, idx: int, taken: set) -> str:
        suffix = "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"
        for attempt in range(50):
            rng = model.rng_for(self.seed, f"{np['metadata']['uid']}", f"node-name-{idx}-{attempt}")
            name = f"ip-10-0-{rng.randrange(128, 144)}-{rng.randrange(2, 255)}.{suffix}"
            if name not in taken:
                return name
        return f"ip-10-0-{200 + idx // 250}-{idx % 250 + 2}.{suffix}"

    def _node_join(self, guest, np: dict, hc: dict, p: _PendingNode) -> dict:
        spec = np.get("spec") or {}
        aws = (spec.get("platform") or {}).get("aws") or {}
        instance_type = aws.get("instanceType") or "m5.large"
        arch = spec.get("arch") or "amd64"
        image = (spec.get("release") or {}).get("image") or ""
        version, _ = parse_release(image, self.default_version)
        zone = ((hc.get("spec") or {}).get("platform") or {}).get("aws", {}).get("cloudProviderConfig", {}) \
            .get("zone") or f"{self.region}a"
        np_name = np["metadata"]["name"]
        m = re.search(rf"^{re.escape(hc['metadata']['name'])}-(.+)$", np_name)
        if m and m.group(1).startswith(self.region):
            zone = m.group(1)
        rng = model.rng_for(self.seed, p.name, np["metadata"]["uid"])
        ip = p.name.split(".")[0][3:].replace("-", ".")
        instance = "i-0" + "".join(rng.choice("0123456789abcdef") for _ in range(16))
        infra_id = (hc.get("spec") or {}).get("infraID") or hc["metadata"]["name"]
        cpns = cp_namespace(hc["metadata"]["namespace"], hc["metadata"]["name"])
        t = time.time()
        now = fmt_time(t)
        cpu, mem = _instance_size(instance_type)
        labels = {
            "beta.kubernetes.io/arch": arch, "beta.kubernetes.io/instance-type": instance_type,
            "beta.kubernetes.io/os": "linux", "failure-domain.beta.kubernetes.io/region": self.region,
            "failure-domain.beta.kubernetes.io/zone": zone, "kubernetes.io/arch": arch,
            "kubernetes.io/hostname": p.name.split(".")[0], "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/worker": "", "node.kubernetes.io/instance-type": instance_type,
            "node.openshift.io/os_id": "rhcos", "topology.ebs.csi.aws.com/zone": zone,
            "topology.kubernetes.io/region": self.region, "topology.kubernetes.io/zone": zone,
        }
        machine = f"{np_name}-{_hash(np['metadata']['uid'], n=5)}-{_hash(p.name, n=5)}"
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": p.name, "labels": labels,
                "annotations": {
                    "cluster.x-k8s.io/cluster-name": infra_id, "cluster.x-k8s.io/cluster-namespace": cpns,
                    "cluster.x-k8s.io/machine": machine, "cluster.x-k8s.io/owner-kind": "MachineSet",
                    "cluster.x-k8s.io/owner-name": f"{np_name}-{_hash(np['metadata']['uid'], n=5)}",
                    "machine.openshift.io/machine": f"{cpns}/{machine}",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    SIM_NODEPOOL_ANNOTATION: np_name,
                    "sim.hypershift.openshift.io/index": str(p.index),
                },
            },
            "spec": {"providerID": f"aws:///{zone}/{instance}",
                     "taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]},
            "status": {
                "conditions": _node_conditions(False, now),
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": p.name},
                              {"type": "InternalDNS", "address": p.name}],
                "capacity": {"cpu": str(cpu), "memory": f"{mem}Ki", "pods": "250",
                             "ephemeral-storage": "125238252Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0"},
                "allocatable": {"cpu": f"{cpu * 1000 - 500}m", "memory": f"{mem - 1048576}Ki", "pods": "250",
                                "ephemeral-storage": "114345831029", "hugepages-1Gi": "0", "hugepages-2Mi": "0"},
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": arch, "bootID": str(uuid.UUID(int=rng.getrandbits(128))),
                    "containerRuntimeVersion": f"cri-o://{kubelet_version(version)[1:]}-3.rhaos{version[:4]}.el9",
                    "kernelVersion": "5.14.0-427.42.1.el9_4.x86_64", "kubeProxyVersion": kubelet_version(version),
                    "kubeletVersion": kubelet_version(version), "machineID": _hash(p.name, "machine", n=32),
                    "operatingSystem": "linux",
                    "osImage": f"Red Hat Enterprise Linux CoreOS {version.replace('.', '')[:3]}.94.202410211619-0",
                    "systemUUID": str(uuid.UUID(int=rng.getrandbits(128))),
                },
            },
        }
        try:
            return guest.create("nodes", node)
        except Exception as exc:
            if getattr(exc, "code", None) == 409:
                return guest.get("nodes", p.name) or node
            raise

    def _node_ready(self, guest, np: dict, node_name: str, t: float) -> dict | None:
        node = guest.get("nodes", node_name)
        if node is None:
            return None
        now = fmt_time(t)
        status = dict(node.get("status") or {})
        status["conditions"] = _node_conditions(True, now, status.get("conditions"))
        node = guest.patch("nodes", node_name, {"status": {"conditions": status["conditions"]}}, subresource="status")
        labels = {NODEPOOL_LABEL: np["metadata"]["name"]}
        labels.update((np.get("spec") or {}).get("nodeLabels") or {})
        spec_taints = list((np.get("spec") or {}).get("taints") or [])
        patch = {"metadata": {"labels": labels, "annotations": {"hypershift.openshift.io/labelsSynced": "true"}},
                 "spec": {"taints": spec_taints or None}}
        return guest.patch("nodes", node_name, patch)

    def _node_delete(self, guest, node_name: str) -> None:
        try:
            guest.delete("nodes", node_name)
        except Exception as exc:
            if getattr(exc, "code", None) != 404:
                raise

    def _np_write(self, np: dict, hc: dict | None, step: int, desired: int, joined: int, ready: int,
                  np_ready: bool, nodes: dict, now: str) -> dict:
        md = np["metadata"]
        spec = np.get("spec") or {}
        st = np.get("status") or {}
        gen = int(md.get("generation") or 1)
        image = (spec.get("release") or {}).get("image") or ((hc or {}).get("spec") or {}).get("release", {}) \
            .get("image") or ""
        version, _ = parse_release(image, self.default_version)
        T, F = "True", "False"
        auto = spec.get("autoScaling")
        cur_version = st.get("version") or ""
        if np_ready and desired > 0:
            cur_version = version
        ami = f"ami-0{_hash(version, self.region, 'ami', n=16)}"
        c = [
            ("AutoscalingEnabled", T if auto else F, "AsExpected",
             f"Maximum nodes: {auto.get('max')}, Minimum nodes: {auto.get('min')}" if auto else ""),
            ("UpdateManagementEnabled", T, "AsExpected", ""),
            ("ValidReleaseImage", T, "AsExpected", f"Using release image: {image}"),
            ("ValidArchPlatform", T, "AsExpected", ""),
            ("ReconciliationActive", T, "ReconciliationActive", "Reconciliation active on resource"),
            ("SupportedVersionSkew", T, "AsExpected", "Release image version is valid"),
            ("ValidMachineConfig", T, "AsExpected", ""),
            ("ValidTuningConfig", T, "AsExpected", ""),
            ("ValidPlatformImage", T, "AsExpected", f'Bootstrap AMI is "{ami}"') if step >= HCP else
            ("ValidPlatformImage", F, "WaitingForHostedCluster", "Waiting for the hosted cluster release"),
            ("AWSSecurityGroupAvailable", T, "AsExpected", "NodePool has a default security group")
            if step >= INFRA else
            ("AWSSecurityGroupAvailable", F, "DefaultSGNotReady",
             "Waiting for AWS default security group to be created for hosted cluster"),
            ("ValidGeneratedPayload", T, "AsExpected", "Payload generated successfully") if step >= KAS else
            ("ValidGeneratedPayload", F, "WaitingForIgnitionServer", "Waiting for the ignition server to be available"),
            ("UpdatingConfig", F, "AsExpected", ""),
            ("UpdatingVersion", T, "AsExpected", f"Updating version in progress. Target version: {version}")
            if cur_version != version and desired > 0 else ("UpdatingVersion", F, "AsExpected", ""),
            ("UpdatingPlatformMachineTemplate", F, "AsExpected", ""),
            ("ReachedIgnitionEndpoint", T, "AsExpected", "")
            if joined > 0 or _cond_status(np, "ReachedIgnitionEndpoint") == "True" else
            ("ReachedIgnitionEndpoint", F, "ignitionNotReached", ""),
        ]
        if desired == 0:
            c.append(("AllMachinesReady", T, "AsExpected", "NodePool set to no replicas"))
            c.append(("AllNodesHealthy", T, "AsExpected", "NodePool set to no replicas"))
        else:
            if step < AVAIL:
                c.append(("AllMachinesReady", F, "NotFound", "No Machines are created"))
            elif joined >= desired:
                c.append(("AllMachinesReady", T, "AsExpected", "All is well"))
            else:
                c.append(("AllMachinesReady", F, "InstanceProvisionStarted",
                          f"{desired - joined} of {desired} machines are not ready"))
            if step < AVAIL:
                c.append(("AllNodesHealthy", F, "NotFound", "No Machines are created"))
            elif ready >= desired and joined >= desired:
                c.append(("AllNodesHealthy", T, "AsExpected", "All is well"))
            elif joined < desired:
                c.append(("AllNodesHealthy", F, "WaitingForNodeRef",
                          f"{desired - ready} of {desired} machines are waiting for their node"))
            else:
                c.append(("AllNodesHealthy", F, "NodeConditionsFailed",
                          f"{desired - ready} of {desired} nodes are not ready"))
        c.append(("AutorepairEnabled", T if (spec.get("management") or {}).get("autoRepair") else F,
                  "AsExpected", ""))
        if np_ready:
            c.append(("Ready", T, "AsExpected", ""))
        else:
            c.append(("Ready", F, "WaitingForAvailableMachines",
                      f"Minimum availability requires {desired} replicas, current {ready} available"))
        conds, _flipped = merge_conditions(st.get("conditions"), c, gen, now)
        new = dict(st)
        new["conditions"] = conds
        new["replicas"] = joined
        new["version"] = cur_version
        if not cur_version:
            new.pop("version", None)
        if joined:
            kv = kubelet_version(version)
            new["nodesInfo"] = {"nodeVersions": [{"ocpVersion": version, "kubeletVersion": kv,
                                                  "readyNodeCount": ready, "unreadyNodeCount": joined - ready}]}
        else:
            new.pop("nodesInfo", None)
        if new == st:
            return np
        if "version" in st and "version" not in new or "nodesInfo" in st and "nodesInfo" not in new:
            return self._put_status("nodepools", np, new)
        return self._write_status("nodepools", np, new)

    def _reconcile_np_delete(self, np: dict, hc: dict | None) -> None:
        md = np["metadata"]
        ns, name = md["namespace"], md["name"]
        cluster = (np.get("spec") or {}).get("clusterName") or ""
        if HC_FINALIZER not in (md.get("finalizers") or []):
            return
        key = (ns, name)
        rt = self._np_runtime(key)
        guest = self._guest(ns, cluster)
        nodes = [n["metadata"]["name"] for n in self._guest_nodes(guest, name)]
        now_m = time.monotonic()
        t = time.time()
        if rt.drain_due is None:
            self._record_pool(np, hc, "nodepool_deleting", md["deletionTimestamp"], t)
            drain, finalize = model.plan_node_drain(name, self.seed, nodes, self.params)
            rt.drain_due = {n: now_m + self.real(d) for n, d in drain.items()}
            rt.finalize_due = now_m + self.real(finalize)
            rt.pending.clear()
        wake = []
        for node in nodes:
            due = rt.drain_due.get(node)
            if due is None:  # joined after the drain started
                due = rt.drain_due[node] = now_m
            if now_m >= due:
                self._node_delete(guest, node)
                self._record_pool(np, hc, "node_removed", fmt_time(t), t, node=node)
            else:
                wake.append(due)
        if wake:
            self.queue.add_at(("np", ns, name), min(wake))
            return
        if now_m < rt.finalize_due:
            self.queue.add_at(("np", ns, name), rt.finalize_due)
            return
        self._remove_finalizer("nodepools", np)
        self._record_pool(np, hc, "nodepool_deleted", fmt_time(t), t)
        with self._lock:
            self._np_rt.pop(key, None)
        if cluster:
            self.queue.add(("hc", ns, cluster))


# ------------------------------------------------------------- node helpers
def _node_ready(node: dict) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _node_ready_time(node: dict) -> str | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("lastTransitionTime")
    return None


def _node_conditions(ready: bool, now: str, old: list | None = None) -> list[dict]:
    old_by = {c.get("type"): c for c in old or []}

    def mk(ctype, status, reason, message):
        prev = old_by.get(ctype)
        ltt = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
        return {"type": ctype, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": ltt,
                "reason": reason, "message": message}

    out = [mk("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
           mk("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
           mk("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available")]
    if ready:
        out.append(mk("Ready", "True", "KubeletReady", "kubelet is posting ready status"))
    else:
        out.append(mk("Ready", "False", "KubeletNotReady",
                      "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                      "message:Network plugin returns error: no CNI configuration file in /etc/kubernetes/cni/net.d/. "
                      "Has your network provider started?"))
    return out


_SIZES = {"large": (2, 8), "xlarge": (4, 16), "2xlarge": (8, 32), "4xlarge": (16, 64), "8xlarge": (32, 128),
          "medium": (1, 4), "12xlarge": (48, 192), "16xlarge": (64, 256)}


def _instance_size(instance_type: str) -> tuple[int, int]:
    """(vCPUs, memory KiB) of an AWS instance type (m5-ish shapes)."""
    size = instance_type.split(".")[-1]
    cpu, gib = _SIZES.get(size, (2, 8))
    return cpu, gib * 1024 * 1024 - 150000
