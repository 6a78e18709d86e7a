"""In-memory, Kubernetes-style object store for the simulated management cluster.

The store keeps objects as plain JSON-compatible dicts, grouped per resource type.
It reproduces the parts of kube-apiserver semantics that a test harness notices:

* one global, monotonically increasing ``resourceVersion`` counter per store;
* ``uid``, ``creationTimestamp`` (RFC 3339, whole seconds, ``Z``), ``generation``;
* status-subresource rules (main resource ignores status, ``/status`` ignores the rest);
* optimistic concurrency (409 Conflict on a stale ``resourceVersion``);
* finalizers, ``deletionTimestamp`` and namespace deletion cascades;
* label and field selectors, pagination;
* watches with a bounded event history (410 Expired when a client is too far behind);
* service-account tokens (the ``serviceaccounts/<name>/token`` subresource, a TokenRequest):
  random JWT-shaped bearer tokens recorded with their expiry and ServiceAccount, so a component of
  the same cluster (the simulated Prometheus, :mod:`sim.prometheus`) can review them.

Objects that are stored are never mutated in place; every write builds a new dict
and caches its JSON encoding, so listing and fanning out watch events costs almost
nothing per watcher.  Dicts handed to callers are always private copies.

Resources are described by :class:`ResourceType` records kept in a
:class:`ResourceTable`.  ``DEFAULT_RESOURCES`` holds the built-in ones; more can be
registered at any time with :func:`register_resource`, e.g.::

    register_resource(ResourceType(group="apps", version="v1", plural="deployments",
                                   kind="Deployment", status_subresource=True,
                                   scale={"spec": "spec.replicas", "status": "status.replicas"}))
"""

from __future__ import annotations

import base64
import collections
import json
import random
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

__all__ = [
    "ApiError",
    "ResourceType",
    "ResourceTable",
    "DEFAULT_RESOURCES",
    "register_resource",
    "Store",
    "Watcher",
    "parse_label_selector",
    "match_labels",
    "format_time",
]


# ---------------------------------------------------------------------------
# errors


class ApiError(Exception):
    """An error with a Kubernetes ``Status`` shape (code, reason, message, details)."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(f"{code} {reason}: {message}")
        self.code = int(code)
        self.reason = reason
        self.message = message
        self.details = dict(details or {})

    def to_status(self) -> dict:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


# ---------------------------------------------------------------------------
# time helpers


def format_time(epoch: float) -> str:
    """RFC 3339 in UTC with whole seconds, e.g. ``2026-08-01T10:07:41Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


# ---------------------------------------------------------------------------
# resource table


@dataclass
class ResourceType:
    """Describes one REST resource served by the store and the API server."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple = ()
    categories: tuple = ()
    list_kind: str = ""
    status_subresource: bool = False
    # Status sent on create is dropped (what kube-apiserver does for CRDs with a
    # status subresource).  None -> True for non-core groups with a status subresource.
    drop_status_on_create: bool | None = None
    # {"spec": "spec.replicas", "status": "status.replicas", "selector": "status.selector"}
    scale: dict | None = None
    name_rule: str = "subdomain"  # "subdomain" (RFC 1123, <=253) or "label" (<=63, no dots)
    # DELETE answers with the object (CRDs) or with a Status "Success" (most core types).
    return_deleted_object: bool | None = None
    field_selectors: tuple = ()  # extra selectable fields besides metadata.name/namespace
    # POST <plural>/<name>/token answers with an authentication.k8s.io/v1 TokenRequest (ServiceAccounts)
    token_subresource: bool = False
    required: tuple = ()  # dotted paths that must be present on create
    # Optional hooks: prepare_create(obj) and prepare_update(new, old) may edit `new` in place.
    prepare_create: Callable[[dict], None] | None = None
    prepare_update: Callable[[dict, dict], None] | None = None
    verbs: tuple = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.list_kind:
            self.list_kind = self.kind + "List"
        if self.drop_status_on_create is None:
            self.drop_status_on_create = bool(self.status_subresource and self.group)
        if self.return_deleted_object is None:
            self.return_deleted_object = bool(self.group)
        self.short_names = tuple(self.short_names)
        self.categories = tuple(self.categories)

    @property
    def key(self) -> str:
        """Store key: ``plural`` for the core group, ``plural.group`` otherwise."""
        return self.plural if not self.group else f"{self.plural}.{self.group}"

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def group_version(self) -> str:
        return self.api_version

    def subresources(self) -> list[str]:
        subs = []
        if self.status_subresource:
            subs.append("status")
        if self.scale:
            subs.append("scale")
        if self.token_subresource:
            subs.append("token")
        return subs


class ResourceTable:
    """A registry of :class:`ResourceType` records, indexed several ways."""

    def __init__(self, types: Iterable[ResourceType] = ()):
        self._lock = threading.Lock()
        self._by_key: dict[str, ResourceType] = {}
        for rt in types:
            self.register(rt)

    def register(self, rt: ResourceType) -> ResourceType:
        with self._lock:
            self._by_key[rt.key] = rt
        return rt

    def all(self) -> list[ResourceType]:
        return list(self._by_key.values())

    def __contains__(self, key: str) -> bool:
        return self.find(key) is not None

    def find(self, name: str) -> ResourceType | None:
        """Look a resource up by ``plural[.group]``, kind, singular or short name."""
        rt = self._by_key.get(name)
        if rt is not None:
            return rt
        low = name.lower()
        for rt in list(self._by_key.values()):
            if low in (rt.plural, rt.singular, rt.kind.lower(), rt.key.lower()) or low in rt.short_names:
                return rt
            if low == f"{rt.kind.lower()}.{rt.group}" or low == f"{rt.singular}.{rt.group}":
                return rt
        return None

    def get(self, name: str) -> ResourceType:
        rt = self.find(name)
        if rt is None:
            raise ApiError(404, "NotFound", f"the server doesn't have a resource type \"{name}\"")
        return rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        rt = self._by_key.get(plural if not group else f"{plural}.{group}")
        if rt is not None and rt.version == version:
            return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """group -> versions (the core group is ``""``)."""
        out: dict[str, list[str]] = {}
        for rt in self.all():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def for_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self.all() if rt.group == group and rt.version == version]


def _namespace_prepare_create(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    fins = spec.setdefault("finalizers", [])
    if "kubernetes" not in fins:
        fins.append("kubernetes")
    obj["status"] = {"phase": "Active"}


def _namespace_prepare_update(new: dict, old: dict) -> None:
    # spec.finalizers is only changed through the /finalize subresource
    if "spec" in old:
        new["spec"] = old["spec"]
    else:
        new.pop("spec", None)


def _secret_prepare(new: dict, old: dict | None = None) -> None:
    string_data = new.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = new.get("data")
        if not isinstance(data, dict):
            data = new["data"] = {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    if not new.get("type"):
        new["type"] = (old or {}).get("type") or "Opaque"


def _route_prepare(new: dict) -> None:
    """Route defaults the API server fills in: ``spec.to.kind`` Service, ``weight`` 100, ``wildcardPolicy``."""
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return
    to = spec.get("to")
    if isinstance(to, dict):
        to.setdefault("kind", "Service")
        to.setdefault("weight", 100)
    spec.setdefault("wildcardPolicy", "None")


def builtin_resources() -> list[ResourceType]:
    """The resources every simulated API server starts with."""
    return [
        ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
                     status_subresource=True, name_rule="label", field_selectors=("status.phase",),
                     return_deleted_object=True,
                     prepare_create=_namespace_prepare_create, prepare_update=_namespace_prepare_update),
        ResourceType("", "v1", "secrets", "Secret", field_selectors=("type",),
                     prepare_create=_secret_prepare, prepare_update=_secret_prepare),
        ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
        ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=("no",),
                     status_subresource=True, field_selectors=("spec.unschedulable",)),
        ResourceType("", "v1", "events", "Event", short_names=("ev",), required=("involvedObject",),
                     field_selectors=("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                                      "involvedObject.uid", "involvedObject.apiVersion",
                                      "involvedObject.resourceVersion", "involvedObject.fieldPath",
                                      "reason", "reportingComponent", "source", "type")),
        ResourceType("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",), token_subresource=True),
        # OpenShift's routes: openshift-monitoring/prometheus-k8s is how clients find a cluster's Prometheus.
        ResourceType("route.openshift.io", "v1", "routes", "Route", status_subresource=True,
                     required=("spec.to.name",), prepare_create=_route_prepare,
                     prepare_update=lambda new, old: _route_prepare(new)),
        # OpenShift's cluster-wide configuration (the management cluster is an OpenShift cluster):
        # dnses/cluster (spec.baseDomain) and infrastructures/cluster (status.platformStatus, ...).
        ResourceType("config.openshift.io", "v1", "dnses", "DNS", namespaced=False, status_subresource=True),
        ResourceType("config.openshift.io", "v1", "infrastructures", "Infrastructure", namespaced=False,
                     status_subresource=True),
        ResourceType("hypershift.openshift.io", "v1beta1", "hostedclusters", "HostedCluster",
                     short_names=("hc", "hcs"), status_subresource=True),
        ResourceType("hypershift.openshift.io", "v1beta1", "nodepools", "NodePool",
                     short_names=("np", "nps"), status_subresource=True,
                     scale={"spec": "spec.replicas", "status": "status.replicas"}),
    ]


DEFAULT_RESOURCES = ResourceTable(builtin_resources())


def register_resource(rt: ResourceType, table: ResourceTable | None = None) -> ResourceType:
    """Register (or replace) a resource type; by default in ``DEFAULT_RESOURCES``."""
    return (table or DEFAULT_RESOURCES).register(rt)


# ---------------------------------------------------------------------------
# validation helpers

_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_GEN_CHARS = "bcdfghjklmnpqrstvwxz2456789"


# rule -> (max length, pattern, message when the pattern does not match)
_NAME_RULES = {
    "label": (63, _LABEL_RE,
              "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
              "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
              "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
    "subdomain": (253, _SUBDOMAIN_RE,
                  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
}


def _name_error(rule: str, name: str) -> str | None:
    """Why ``name`` breaks ``rule`` (``"label"``; anything else is a DNS subdomain), or None."""
    limit, pattern, message = _NAME_RULES["label" if rule == "label" else "subdomain"]
    if len(name) > limit:
        return f"must be no more than {limit} characters"
    if not pattern.match(name):
        return message
    return None


# ---------------------------------------------------------------------------
# selectors

_LABEL_KEY_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET_RE = re.compile(r"^(\S+?)\s+(in|notin)\s*\((.*)\)$", re.S)


def _split_top_level(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise ValueError("unbalanced parentheses")
    parts.append("".join(cur))
    return parts


def parse_label_selector(selector: str | dict | None) -> list[tuple]:
    """Parse a label selector into requirements ``(op, key, values)``.

    Supports ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``,
    ``!k``, ``k>n`` and ``k<n``.  A dict is read as equality requirements.
    Raises ``ValueError`` on syntax errors.
    """
    if selector is None:
        return []
    if isinstance(selector, dict):
        return [("=", str(k), frozenset([str(v)])) for k, v in selector.items()]
    s = selector.strip()
    if not s:
        return []
    reqs = []
    for raw in _split_top_level(s):
        p = raw.strip()
        if not p:
            raise ValueError(f"invalid label selector {selector!r}: empty requirement")
        m = _SET_RE.match(p)
        if m:
            key, op, vals = m.group(1), m.group(2), m.group(3)
            values = frozenset(v.strip() for v in vals.split(","))
            if not vals.strip():
                raise ValueError(f"invalid label selector {selector!r}: empty value set for {key}")
            for v in values:
                if not _LABEL_VALUE_RE.match(v):
                    raise ValueError(f"invalid label value {v!r}")
            req = (op, key, values)
        elif p.startswith("!"):
            key = p[1:].strip()
            req = ("!", key, frozenset())
        elif "!=" in p:
            key, v = (x.strip() for x in p.split("!=", 1))
            req = ("!=", key, frozenset([v]))
        elif "==" in p:
            key, v = (x.strip() for x in p.split("==", 1))
            req = ("=", key, frozenset([v]))
        elif "=" in p:
            key, v = (x.strip() for x in p.split("=", 1))
            req = ("=", key, frozenset([v]))
        elif ">" in p or "<" in p:
            op = ">" if ">" in p else "<"
            key, v = (x.strip() for x in p.split(op, 1))
            try:
                int(v)
            except ValueError:
                raise ValueError(f"invalid label selector {selector!r}: {v!r} is not an integer") from None
            req = (op, key, frozenset([v]))
        else:
            key = p
            req = ("exists", key, frozenset())
        if not _LABEL_KEY_RE.match(req[1]) or len(req[1]) > 316:
            raise ValueError(f"invalid label key {req[1]!r}")
        if req[0] in ("=", "!="):
            for v in req[2]:
                if len(v) > 63 or not _LABEL_VALUE_RE.match(v):
                    raise ValueError(f"invalid label value {v!r}")
        reqs.append(req)
    return reqs


def match_labels(reqs: list[tuple], labels: dict | None) -> bool:
    labels = labels or {}
    for op, key, values in reqs:
        present = key in labels
        val = labels.get(key)
        if op in ("=", "in"):
            if not present or val not in values:
                return False
        elif op in ("!=", "notin"):
            if present and val in values:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!":
            if present:
                return False
        elif op in (">", "<"):
            if not present:
                return False
            try:
                a, b = int(val), int(next(iter(values)))
            except (TypeError, ValueError):
                return False
            if (op == ">" and not a > b) or (op == "<" and not a < b):
                return False
    return True


def _field_value(obj: dict, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            cur = None
            break
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(selector: str | dict | None, rt: ResourceType) -> list[tuple]:
    """Parse a field selector into ``(op, path, value)``; raises ApiError 400."""
    if selector is None:
        return []
    if isinstance(selector, dict):
        items = [("=", str(k), str(v)) for k, v in selector.items()]
    else:
        s = selector.strip()
        if not s:
            return []
        items = []
        for raw in s.split(","):
            p = raw.strip()
            if "!=" in p:
                k, v = p.split("!=", 1)
                items.append(("!=", k.strip(), v.strip()))
            elif "==" in p:
                k, v = p.split("==", 1)
                items.append(("=", k.strip(), v.strip()))
            elif "=" in p:
                k, v = p.split("=", 1)
                items.append(("=", k.strip(), v.strip()))
            else:
                raise _bad_request(f"invalid field selector: {selector!r}")
    allowed = ("metadata.name", "metadata.namespace") + tuple(rt.field_selectors)
    for _, k, _ in items:
        if k not in allowed:
            raise _bad_request(f"field label not supported: {k}")
    return items


def _match_fields(reqs: list[tuple], obj: dict) -> bool:
    for op, path, value in reqs:
        actual = _field_value(obj, path)
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
    return True


class _Filter:
    __slots__ = ("namespace", "labels", "fields")

    def __init__(self, namespace: str | None, labels: list, fields: list):
        self.namespace = namespace or None
        self.labels = labels
        self.fields = fields

    def match(self, obj: dict) -> bool:
        md = obj.get("metadata") or {}
        if self.namespace is not None and md.get("namespace") != self.namespace:
            return False
        if self.labels and not match_labels(self.labels, md.get("labels")):
            return False
        if self.fields and not _match_fields(self.fields, obj):
            return False
        return True


# ---------------------------------------------------------------------------
# patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch.  Returns a new value; `target` is not modified."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _strip_directives(patch: Any) -> Any:
    """Drop strategic-merge-patch directives (``$patch``, ``$setElementOrder/...``...)."""
    if isinstance(patch, dict):
        return {k: _strip_directives(v) for k, v in patch.items() if not str(k).startswith("$")}
    if isinstance(patch, list):
        return [_strip_directives(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    return patch


PATCH_TYPES = ("merge", "strategic", "json", "apply")


# ---------------------------------------------------------------------------
# entries and events


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Entry:
    """A stored object: the dict (never mutated after storing) and its JSON bytes."""

    __slots__ = ("obj", "raw", "rv")

    def __init__(self, obj: dict):
        self.obj = obj
        self.raw = _dumps(obj)
        self.rv = int(obj["metadata"]["resourceVersion"])

    def copy(self) -> dict:
        return json.loads(self.raw)


class _Event:
    """One change in the store, shared by every watcher (JSON lines are cached)."""

    __slots__ = ("rv", "key", "type", "entry", "prev", "_lines")

    def __init__(self, rv: int, key: str, type_: str, entry: _Entry, prev: _Entry | None):
        self.rv = rv
        self.key = key
        self.type = type_
        self.entry = entry
        self.prev = prev
        self._lines: dict[str, bytes] = {}

    def object_raw(self, type_: str) -> bytes:
        if type_ == "DELETED" and self.type == "MODIFIED" and self.prev is not None:
            # object left the watcher's selector: previous content with the event's RV
            old = self.prev.copy()
            old.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            return _dumps(old)
        return self.entry.raw

    def line(self, type_: str) -> bytes:
        line = self._lines.get(type_)
        if line is None:
            line = b'{"type":"' + type_.encode() + b'","object":' + self.object_raw(type_) + b"}\n"
            self._lines[type_] = line
        return line


# ---------------------------------------------------------------------------
# watchers


class Watcher:
    """A subscription to changes of one resource type in a :class:`Store`.

    In-process use::

        w = store.watch("hostedclusters.hypershift.openshift.io", namespace="clusters")
        try:
            while (ev := w.get(timeout=1.0)) is not None:
                etype, obj = ev          # "ADDED" | "MODIFIED" | "DELETED", dict copy
        finally:
            w.close()

    ``get`` returns None on timeout or once the watcher is closed (check ``closed``).
    """

    def __init__(self, store: "Store", rt: ResourceType, flt: _Filter, start_rv: int, queue_limit: int):
        self.store = store
        self.resource = rt
        self._filter = flt
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque = collections.deque()
        self._queue_limit = queue_limit
        self.closed = False
        self.close_reason = ""
        # highest store RV this watcher has been offered (for bookmarks)
        self.seen_rv = start_rv

    # called by the store with its lock held
    def _offer(self, ev: _Event) -> None:
        t = self._translate(ev)
        if t is not None:
            with self._cond:
                if self.closed:
                    return
                self._queue.append((t, ev))
                if len(self._queue) > self._queue_limit:
                    self.closed = True
                    self.close_reason = "too slow: event queue overflow"
                self._cond.notify()
        self.seen_rv = ev.rv

    def _translate(self, ev: _Event) -> str | None:
        f = self._filter
        if ev.type == "MODIFIED":
            cur = f.match(ev.entry.obj)
            old = f.match(ev.prev.obj) if ev.prev is not None else cur
            if cur and old:
                return "MODIFIED"
            if cur:
                return "ADDED"
            if old:
                return "DELETED"
            return None
        return ev.type if f.match(ev.entry.obj) else None

    def _push_initial(self, items: list) -> None:
        with self._cond:
            self._queue.extend(items)
            self._queue_limit += len(items)

    def next_batch(self, timeout: float | None = None) -> list | None:
        """Wait for events; return all queued ``(type, _Event)`` pairs.

        Returns ``[]`` on timeout and ``None`` when the watcher is closed and drained.
        """
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            if self._queue:
                items = list(self._queue)
                self._queue.clear()
                return items
            return None if self.closed else []

    def get(self, timeout: float | None = None) -> tuple[str, dict] | None:
        """Next event as ``(type, object copy)``, or None on timeout/close."""
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            if not self._queue:
                return None
            t, ev = self._queue.popleft()
        return t, json.loads(ev.object_raw(t))

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        while True:
            item = self.get(timeout=0.5)
            if item is None:
                if self.closed:
                    return
                continue
            yield item

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self, reason: str = "closed") -> None:
        with self._cond:
            if not self.closed:
                self.closed = True
                self.close_reason = reason
            self._cond.notify_all()
        self.store._remove_watcher(self)

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------
# the store

TOKEN_REQUEST_API_VERSION = "authentication.k8s.io/v1"
TOKEN_ISSUER = "https://kubernetes.default.svc"
TOKEN_DEFAULT_AUDIENCES = ("https://kubernetes.default.svc",)

_SYSTEM_META = ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp",
                "deletionGracePeriodSeconds", "resourceVersion", "selfLink")
_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


def _spec_part(obj: dict, exclude_status: bool) -> dict:
    skip = ("apiVersion", "kind", "metadata", "status") if exclude_status else ("apiVersion", "kind", "metadata")
    return {k: v for k, v in obj.items() if k not in skip}


def _get_path(obj: dict, path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj: dict, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


class Store:
    """Thread-safe in-memory object store with watch support.

    Resources are named ``plural`` for the core group (``"secrets"``) and
    ``plural.group`` otherwise (``"hostedclusters.hypershift.openshift.io"``);
    kinds and short names are accepted too.  Errors raise :class:`ApiError`.
    """

    def __init__(self, history: int = 5000, resources: ResourceTable | None = None,
                 clock: Callable[[], float] | None = None, watch_queue_limit: int = 50000):
        self.resources = resources if resources is not None else DEFAULT_RESOURCES
        self.clock = clock or time.time
        self._lock = threading.RLock()
        self._rv = 0
        self._objs: dict[str, dict[str, dict[str, _Entry]]] = {}  # key -> ns ("" if cluster) -> name -> entry
        self._history: collections.deque[_Event] = collections.deque()
        self._history_limit = max(0, int(history))
        self._floor = 0  # events with rv > _floor are all retained
        self._watchers: dict[str, set[Watcher]] = {}
        self._watch_queue_limit = watch_queue_limit
        self._rng = random.Random()
        self._tokens: dict[str, dict] = {}   # bearer token -> {namespace, name, uid, exp, audiences}
        self._token_kid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")

    # -- small helpers --------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The current (latest) resourceVersion of the store."""
        return self._rv

    @property
    def history_size(self) -> int:
        return self._history_limit

    def _rt(self, resource: str | ResourceType) -> ResourceType:
        return resource if isinstance(resource, ResourceType) else self.resources.get(resource)

    def _not_found(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(404, "NotFound", f'{rt.key} "{name}" not found',
                        {"name": name, "group": rt.group, "kind": rt.plural})

    def _invalid(self, rt: ResourceType, name: str, field_: str, detail: str, reason="FieldValueInvalid") -> ApiError:
        kind = rt.kind if not rt.group else f"{rt.kind}.{rt.group}"
        msg = f'{kind} "{name}" is invalid: {field_}: {detail}'
        return ApiError(422, "Invalid", msg, {"name": name, "group": rt.group, "kind": rt.kind,
                                             "causes": [{"reason": reason, "message": detail, "field": field_}]})

    def _ns_key(self, rt: ResourceType, namespace: str | None) -> str:
        if rt.namespaced:
            if not namespace:
                raise _bad_request(f"a namespace is required for namespaced resource {rt.key}")
            return namespace
        return ""

    def _entry(self, rt: ResourceType, name: str, namespace: str | None) -> _Entry | None:
        return self._objs.get(rt.key, {}).get(self._ns_key(rt, namespace), {}).get(name)

    def _existing(self, rt: ResourceType, name: str, namespace: str | None) -> _Entry:
        """The stored entry, or 404 (called with the lock held)."""
        e = self._entry(rt, name, namespace)
        if e is None:
            raise self._not_found(rt, name)
        return e

    def _now(self) -> str:
        return format_time(self.clock())

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _record(self, rt: ResourceType, type_: str, entry: _Entry, prev: _Entry | None) -> None:
        ev = _Event(entry.rv, rt.key, type_, entry, prev)
        if self._history_limit:
            self._history.append(ev)
            while len(self._history) > self._history_limit:
                self._floor = self._history.popleft().rv
        else:
            self._floor = ev.rv
        watchers = self._watchers.get(rt.key)
        if watchers:
            for w in tuple(watchers):
                w._offer(ev)

    def _store_entry(self, rt: ResourceType, ns: str, name: str, entry: _Entry) -> None:
        self._objs.setdefault(rt.key, {}).setdefault(ns, {})[name] = entry

    def _drop_entry(self, rt: ResourceType, ns: str, name: str) -> None:
        by_ns = self._objs.get(rt.key, {})
        names = by_ns.get(ns)
        if names is not None:
            names.pop(name, None)
            if not names:
                by_ns.pop(ns, None)

    @staticmethod
    def _coerce(obj: Any, what: str = "object") -> dict:
        if not isinstance(obj, dict):
            raise _bad_request(f"the {what} must be a JSON object")
        # private deep copy (also rejects non-JSON values early)
        try:
            return json.loads(_dumps(obj))
        except (TypeError, ValueError) as e:
            raise _bad_request(f"object is not JSON-serialisable: {e}") from None

    @staticmethod
    def _check_meta(md: dict) -> None:
        """Reject metadata a real apiserver could not decode (keeps typed clients happy)."""
        for fld in ("labels", "annotations"):
            v = md.get(fld)
            if v is None:
                continue
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                raise _bad_request(f"metadata.{fld} must be a map of string keys to string values")
        fins = md.get("finalizers")
        if fins is not None and (not isinstance(fins, list) or not all(isinstance(x, str) for x in fins)):
            raise _bad_request("metadata.finalizers must be a list of strings")
        refs = md.get("ownerReferences")
        if refs is not None and (not isinstance(refs, list) or not all(isinstance(x, dict) for x in refs)):
            raise _bad_request("metadata.ownerReferences must be a list of objects")

    def _check_type(self, rt: ResourceType, obj: dict) -> None:
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != rt.api_version:
            raise _bad_request(f"the API version in the data ({av}) does not match the expected API version "
                               f"({rt.api_version})")
        if kind and kind != rt.kind:
            raise _bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        if list(obj)[:2] != ["apiVersion", "kind"]:
            rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            obj.clear()
            obj["apiVersion"] = rt.api_version
            obj["kind"] = rt.kind
            obj.update(rest)
        else:
            obj["apiVersion"] = rt.api_version
            obj["kind"] = rt.kind

    # -- reads -----------------------------------------------------------------

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict | None:
        """A copy of the object, or None when it does not exist."""
        rt = self._rt(resource)
        with self._lock:
            e = self._entry(rt, name, namespace)
        return e.copy() if e is not None else None

    def exists(self, resource: str, name: str, namespace: str | None = None) -> bool:
        rt = self._rt(resource)
        with self._lock:
            return self._entry(rt, name, namespace) is not None

    @staticmethod
    def _filter(rt: ResourceType, namespace: str | None, label_selector: Any, field_selector: Any) -> _Filter:
        """The filter of a list or watch request (400 on a label selector that does not parse)."""
        try:
            lreqs = parse_label_selector(label_selector)
        except ValueError as e:
            raise _bad_request(f"unable to parse requirement: {e}") from None
        freqs = parse_field_selector(field_selector, rt)
        return _Filter(namespace if rt.namespaced else None, lreqs, freqs)

    def _pool_locked(self, rt: ResourceType, namespace: str | None) -> list[_Entry]:
        """The entries of ``rt`` in ``namespace`` (all namespaces when None), unfiltered and unsorted."""
        by_ns = self._objs.get(rt.key, {})
        if rt.namespaced and namespace:
            return list(by_ns.get(namespace, {}).values())
        return [e for names in by_ns.values() for e in names.values()]

    def _select(self, rt: ResourceType, namespace: str | None, label_selector: Any,
                field_selector: Any) -> tuple[list[_Entry], int]:
        flt = self._filter(rt, namespace, label_selector, field_selector)
        with self._lock:
            pool = self._pool_locked(rt, namespace)
            rv = self._rv
        if flt.labels or flt.fields:
            pool = [e for e in pool if flt.match(e.obj)]
        pool.sort(key=lambda e: (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]))
        return pool, rv

    def list(self, resource: str, namespace: str | None = None, label_selector: str | dict | None = None,
             field_selector: str | dict | None = None) -> list[dict]:
        """Copies of the matching objects, sorted by (namespace, name)."""
        entries, _ = self._select(self._rt(resource), namespace, label_selector, field_selector)
        return [e.copy() for e in entries]

    def count(self, resource: str, namespace: str | None = None) -> int:
        rt = self._rt(resource)
        with self._lock:
            by_ns = self._objs.get(rt.key, {})
            if rt.namespaced and namespace:
                return len(by_ns.get(namespace, {}))
            return sum(len(v) for v in by_ns.values())

    def list_raw(self, resource: str, namespace: str | None = None, label_selector: Any = None,
                 field_selector: Any = None, limit: int | None = None,
                 continue_token: str | None = None) -> tuple[list[bytes], int, str | None, int | None]:
        """For the HTTP layer: (raw JSON items, list RV, continue token, remaining count)."""
        rt = self._rt(resource)
        entries, rv = self._select(rt, namespace, label_selector, field_selector)
        if continue_token:
            try:
                tok = json.loads(base64.urlsafe_b64decode(continue_token.encode() + b"==="))
                start = tuple(tok["start"])
                rv = int(tok.get("rv", rv))
            except Exception:
                raise _bad_request("continue key is not valid") from None
            entries = [e for e in entries
                       if (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]) > start]
        token = None
        remaining = None
        if limit is not None and limit > 0 and len(entries) > limit:
            remaining = len(entries) - limit
            entries = entries[:limit]
            md = entries[-1].obj["metadata"]
            token = base64.urlsafe_b64encode(
                _dumps({"rv": rv, "start": [md.get("namespace", ""), md["name"]]})).decode().rstrip("=")
        return [e.raw for e in entries], rv, token, remaining

    def get_raw(self, resource: str, name: str, namespace: str | None = None) -> bytes:
        rt = self._rt(resource)
        with self._lock:
            return self._existing(rt, name, namespace).raw

    # -- raw variants for the HTTP layer (return cached JSON bytes) ---------------

    def create_raw(self, resource: str, obj: dict, namespace: str | None = None, dry_run: bool = False) -> bytes:
        rt = self._rt(resource)
        with self._lock:
            return self._create_locked(rt, obj, namespace, dry_run).raw

    def update_raw(self, resource: str, obj: dict, subresource: str | None = None, dry_run: bool = False) -> bytes:
        rt = self._rt(resource)
        obj = self._coerce(obj)
        md = obj.get("metadata") or {}
        with self._lock:
            return self._update_locked(rt, obj, md.get("name") or "", md.get("namespace"), subresource,
                                       dry_run).raw

    def patch_raw(self, resource: str, name: str, patch: Any, namespace: str | None = None,
                  subresource: str | None = None, patch_type: str = "merge",
                  dry_run: bool = False) -> tuple[bytes, bool]:
        """Returns (raw JSON, created) - created is True when an apply patch created the object."""
        rt = self._rt(resource)
        with self._lock:
            entry, created = self._patch_locked(rt, name, namespace, patch, patch_type, subresource, dry_run)
            return entry.raw, created

    # -- create ------------------------------------------------------------------

    def ensure_namespace(self, name: str, labels: dict | None = None) -> dict:
        """Create the namespace if it does not exist; return it."""
        with self._lock:
            existing = self.get("namespaces", name)
            if existing is not None:
                return existing
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            if labels:
                body["metadata"]["labels"] = dict(labels)
            return self.create("namespaces", body)

    def create(self, resource: str, obj: dict, namespace: str | None = None, dry_run: bool = False) -> dict:
        """Create an object (POST semantics); returns a copy of the stored object."""
        rt = self._rt(resource)
        with self._lock:
            return self._create_locked(rt, obj, namespace, dry_run).copy()

    def _create_locked(self, rt: ResourceType, obj: dict, namespace: str | None, dry_run: bool = False) -> _Entry:
        obj = self._coerce(obj)
        self._check_type(rt, obj)
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise _bad_request("metadata must be an object")
        self._check_meta(md)
        ns = ""
        if rt.namespaced:
            body_ns = md.get("namespace")
            if namespace and body_ns and body_ns != namespace:
                raise _bad_request("the namespace of the provided object does not match the namespace sent "
                                   "on the request")
            ns = namespace or body_ns or ""
            if not ns:
                raise _bad_request(f"a namespace is required for namespaced resource {rt.key}")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        name = md.get("name") or ""
        if not name:
            gen = md.get("generateName") or ""
            if not gen:
                raise self._invalid(rt, "", "metadata.name", "Required value: name or generateName is required",
                                    "FieldValueRequired")
            names = self._objs.get(rt.key, {}).get(ns, {})
            for _ in range(100):
                name = gen + "".join(self._rng.choice(_GEN_CHARS) for _ in range(5))
                if name not in names:
                    break
            md["name"] = name
        err = _name_error(rt.name_rule, name)
        if err:
            raise self._invalid(rt, name, "metadata.name", f'Invalid value: "{name}": {err}')
        if rt.namespaced:
            ns_entry = self._objs.get("namespaces", {}).get("", {}).get(ns)
            if ns_entry is None:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
            if ns_entry.obj["metadata"].get("deletionTimestamp"):
                raise ApiError(403, "Forbidden",
                               f'{rt.key} "{name}" is forbidden: unable to create new content in namespace {ns} '
                               f"because it is being terminated",
                               {"name": name, "group": rt.group, "kind": rt.plural,
                                "causes": [{"reason": "NamespaceTerminating",
                                            "message": f"namespace {ns} is being terminated",
                                            "field": "metadata.namespace"}]})
        if name in self._objs.get(rt.key, {}).get(ns, {}):
            raise ApiError(409, "AlreadyExists", f'{rt.key} "{name}" already exists',
                           {"name": name, "group": rt.group, "kind": rt.plural})
        for sysfield in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                         "deletionGracePeriodSeconds", "generation", "selfLink"):
            md.pop(sysfield, None)
        if rt.drop_status_on_create:
            obj.pop("status", None)
        if rt.prepare_create is not None:
            rt.prepare_create(obj)
        for path in rt.required:
            if _get_path(obj, path) is None:
                raise self._invalid(rt, name, path, "Required value", "FieldValueRequired")
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = self._now()
        md["generation"] = 1
        if dry_run:
            md["resourceVersion"] = str(self._rv)
            return _Entry(obj)
        md["resourceVersion"] = str(self._next_rv())
        entry = _Entry(obj)
        self._store_entry(rt, ns, name, entry)
        self._record(rt, "ADDED", entry, None)
        return entry

    # -- update / patch ----------------------------------------------------------

    def update(self, resource: str, obj: dict, subresource: str | None = None, dry_run: bool = False) -> dict:
        """Replace an object (PUT semantics).  ``subresource`` may be ``"status"`` or ``"scale"``
        (then ``obj`` is an autoscaling/v1 Scale and a Scale is returned)."""
        rt = self._rt(resource)
        obj = self._coerce(obj)
        md = obj.get("metadata") or {}
        if subresource == "scale":
            return self.update_scale(rt.key, md.get("name") or "", obj, md.get("namespace"), dry_run)
        with self._lock:
            return self._update_locked(rt, obj, md.get("name") or "", md.get("namespace"), subresource,
                                       dry_run).copy()

    def _update_locked(self, rt: ResourceType, obj: dict, name: str, namespace: str | None,
                       subresource: str | None, dry_run: bool = False) -> _Entry:
        if subresource not in (None, "", "status"):
            raise ApiError(404, "NotFound", f"subresource {subresource!r} is not supported by the update call")
        if subresource == "status" and not rt.status_subresource:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({rt.key}/status)")
        if not name:
            raise self._invalid(rt, "", "metadata.name", "Required value: name is required", "FieldValueRequired")
        ns = self._ns_key(rt, namespace)
        old = self._objs.get(rt.key, {}).get(ns, {}).get(name)
        if old is None:
            raise self._not_found(rt, name)
        self._check_type(rt, obj)
        md = obj.get("metadata")
        if not isinstance(md, dict):
            md = obj["metadata"] = {}
        want_rv = md.get("resourceVersion")
        if want_rv not in (None, "") and str(want_rv) != old.obj["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           f'Operation cannot be fulfilled on {rt.key} "{name}": the object has been modified; '
                           f"please apply your changes to the latest version and try again",
                           {"name": name, "group": rt.group, "kind": rt.plural})
        old_obj = old.obj
        old_md = old_obj["metadata"]
        if subresource == "status":
            new = old.copy()
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            new = obj
            self._check_meta(md)
            for k in _SYSTEM_META:
                if k in old_md:
                    md[k] = old_md[k]
                else:
                    md.pop(k, None)
            if rt.status_subresource:
                if "status" in old_obj:
                    new["status"] = json.loads(_dumps(old_obj["status"]))
                else:
                    new.pop("status", None)
            if rt.prepare_update is not None:
                rt.prepare_update(new, old_obj)
            if old_md.get("deletionTimestamp"):
                added = [f for f in (md.get("finalizers") or []) if f not in (old_md.get("finalizers") or [])]
                if added:
                    raise self._invalid(rt, name, "metadata.finalizers",
                                        f"Forbidden: no new finalizers can be added if the object is being "
                                        f"deleted, found new finalizers {added!r}", "FieldValueForbidden")
            if not md.get("finalizers"):
                md.pop("finalizers", None)
            if _spec_part(new, rt.status_subresource) != _spec_part(old_obj, rt.status_subresource):
                md["generation"] = int(old_md.get("generation") or 0) + 1
        # no-op updates do not bump the resourceVersion (like kube-apiserver)
        if new == old_obj:
            return old
        new_md = new["metadata"]
        if dry_run:
            return _Entry(new)
        if new_md.get("deletionTimestamp") and not new_md.get("finalizers"):
            return self._remove_locked(rt, ns, name, new, old)
        new_md["resourceVersion"] = str(self._next_rv())
        entry = _Entry(new)
        self._store_entry(rt, ns, name, entry)
        self._record(rt, "MODIFIED", entry, old)
        return entry

    def patch(self, resource: str, name: str, patch: Any, namespace: str | None = None,
              subresource: str | None = None, patch_type: str = "merge", dry_run: bool = False,
              field_manager: str | None = None, force: bool = False) -> dict:
        """Patch an object.  ``patch_type``: merge (default), strategic, json or apply.
        ``subresource``: None, ``"status"`` or ``"scale"`` (returns the Scale)."""
        rt = self._rt(resource)
        if subresource == "scale":
            return self.patch_scale(rt.key, name, patch, namespace, patch_type, dry_run)
        with self._lock:
            entry, _ = self._patch_locked(rt, name, namespace, patch, patch_type, subresource, dry_run)
            return entry.copy()

    def _apply_patch_doc(self, rt: ResourceType, base: dict, patch: Any, patch_type: str) -> dict:
        if patch_type in ("merge", "strategic", "apply"):
            if not isinstance(patch, dict):
                raise _bad_request("the patch must be a JSON object for a merge patch")
            if patch_type == "strategic":
                patch = _strip_directives(patch)
            return merge_patch(base, patch)
        if patch_type == "json":
            import jsonpatch  # local import: only needed for JSON patches
            if not isinstance(patch, list):
                raise _bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            try:
                result = jsonpatch.apply_patch(base, patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError,
                    TypeError, ValueError) as e:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                               f"request: {e}") from None
            if not isinstance(result, dict):
                raise ApiError(422, "Invalid", "the patched document is not an object")
            return result
        raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {patch_type!r}")

    def _patch_locked(self, rt: ResourceType, name: str, namespace: str | None, patch: Any, patch_type: str,
                      subresource: str | None, dry_run: bool = False) -> tuple[_Entry, bool]:
        """Returns (entry, created)."""
        ns = self._ns_key(rt, namespace)
        old = self._objs.get(rt.key, {}).get(ns, {}).get(name)
        if patch_type == "apply":
            if not isinstance(patch, dict):
                raise _bad_request("the apply configuration must be an object")
            pmd = patch.get("metadata") or {}
            if not patch.get("apiVersion") or not patch.get("kind"):
                raise _bad_request("apiVersion and kind must be set in an apply configuration")
            if pmd.get("name") and pmd["name"] != name:
                raise _bad_request(f"the name of the object ({pmd['name']}) does not match the name on the "
                                   f"URL ({name})")
            if old is None:
                if subresource:
                    raise self._not_found(rt, name)
                body = self._coerce(patch)
                body.setdefault("metadata", {})["name"] = name
                return self._create_locked(rt, body, ns or None, dry_run), True
            patch = self._coerce(patch)
            patch.get("metadata", {}).pop("resourceVersion", None)
        if old is None:
            raise self._not_found(rt, name)
        new = self._apply_patch_doc(rt, old.copy(), patch, patch_type)
        md = new.get("metadata")
        if not isinstance(md, dict):
            md = new["metadata"] = {}
        if md.get("name") not in (None, name):
            raise _bad_request("metadata.name cannot be changed by a patch")
        md["name"] = name
        if rt.namespaced:
            md["namespace"] = ns
        return self._update_locked(rt, new, name, ns or None, subresource, dry_run), False

    # -- scale subresource -------------------------------------------------------

    def _scale_of(self, rt: ResourceType, entry: _Entry) -> dict:
        obj = entry.obj
        md = obj["metadata"]
        spec_r = _get_path(obj, rt.scale["spec"])
        status_r = _get_path(obj, rt.scale["status"])
        scale = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in md},
            "spec": {"replicas": int(spec_r) if isinstance(spec_r, (int, float)) else 0},
            "status": {"replicas": int(status_r) if isinstance(status_r, (int, float)) else 0},
        }
        sel_path = rt.scale.get("selector")
        if sel_path:
            sel = _get_path(obj, sel_path)
            if sel:
                scale["status"]["selector"] = str(sel)
        return scale

    def _need_scale(self, rt: ResourceType) -> None:
        if not rt.scale:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({rt.key}/scale)")

    def get_scale(self, resource: str, name: str, namespace: str | None = None) -> dict:
        rt = self._rt(resource)
        self._need_scale(rt)
        with self._lock:
            return self._scale_of(rt, self._existing(rt, name, namespace))

    def update_scale(self, resource: str, name: str, scale: dict, namespace: str | None = None,
                     dry_run: bool = False) -> dict:
        """PUT .../scale: sets the spec replicas path from ``scale.spec.replicas``."""
        rt = self._rt(resource)
        self._need_scale(rt)
        with self._lock:
            return self._update_scale_locked(rt, name, namespace, scale, dry_run)

    def _update_scale_locked(self, rt: ResourceType, name: str, namespace: str | None, scale: dict,
                             dry_run: bool = False) -> dict:
        ns = self._ns_key(rt, namespace)
        old = self._objs.get(rt.key, {}).get(ns, {}).get(name)
        if old is None:
            raise self._not_found(rt, name)
        if not isinstance(scale, dict):
            raise _bad_request("the scale must be an object")
        if scale.get("kind") not in (None, "", "Scale"):
            raise _bad_request(f"the kind in the data ({scale.get('kind')}) does not match the expected kind (Scale)")
        replicas = (scale.get("spec") or {}).get("replicas")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                                           f"{replicas!r}: must be greater than or equal to 0",
                           {"name": name, "group": "autoscaling", "kind": "Scale"})
        smd = scale.get("metadata") or {}
        new = old.copy()
        if smd.get("resourceVersion"):
            new["metadata"]["resourceVersion"] = str(smd["resourceVersion"])
        _set_path(new, rt.scale["spec"], replicas)
        entry = self._update_locked(rt, new, name, ns or None, None, dry_run)
        return self._scale_of(rt, entry)

    def patch_scale(self, resource: str, name: str, patch: Any, namespace: str | None = None,
                    patch_type: str = "merge", dry_run: bool = False) -> dict:
        rt = self._rt(resource)
        self._need_scale(rt)
        with self._lock:
            current = self._scale_of(rt, self._existing(rt, name, namespace))
            rv = current["metadata"].get("resourceVersion")
            patched = self._apply_patch_doc(rt, current, patch, patch_type)
            pmd = patched.get("metadata") or {}
            if pmd.get("resourceVersion") == rv:
                pmd.pop("resourceVersion", None)  # only an explicit RV in the patch is a precondition
            return self._update_scale_locked(rt, name, namespace, patched, dry_run)

    # -- delete -----------------------------------------------------------------------

    def delete(self, resource: str, name: str, namespace: str | None = None,
               preconditions: dict | None = None, dry_run: bool = False) -> dict | None:
        """Delete an object.  Returns its last state (with ``deletionTimestamp`` when
        finalizers keep it around), or None if it did not exist."""
        rt = self._rt(resource)
        with self._lock:
            try:
                entry, _ = self._delete_locked(rt, name, namespace, preconditions, dry_run)
            except ApiError as e:
                if e.code == 404:
                    return None
                raise
            return entry.copy()

    def delete_ex(self, resource: str, name: str, namespace: str | None = None,
                  preconditions: dict | None = None, dry_run: bool = False) -> tuple[dict, bool]:
        """Like :meth:`delete` but raises 404 and returns ``(object, gone_now)``."""
        rt = self._rt(resource)
        with self._lock:
            entry, gone = self._delete_locked(rt, name, namespace, preconditions, dry_run)
            return entry.copy(), gone

    def _delete_locked(self, rt: ResourceType, name: str, namespace: str | None,
                       preconditions: dict | None = None, dry_run: bool = False) -> tuple[_Entry, bool]:
        ns = self._ns_key(rt, namespace)
        old = self._objs.get(rt.key, {}).get(ns, {}).get(name)
        if old is None:
            raise self._not_found(rt, name)
        md = old.obj["metadata"]
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != md.get("uid"):
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {rt.key} "{name}": Precondition failed: '
                               f'UID in precondition: {preconditions["uid"]}, UID in object meta: {md.get("uid")}',
                               {"name": name, "group": rt.group, "kind": rt.plural})
            if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != md["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               f'Operation cannot be fulfilled on {rt.key} "{name}": Precondition failed: '
                               f'ResourceVersion in precondition: {preconditions["resourceVersion"]}, '
                               f'ResourceVersion in object meta: {md["resourceVersion"]}',
                               {"name": name, "group": rt.group, "kind": rt.plural})
        if dry_run:
            return old, False
        if rt.key == "namespaces":
            if name in _PROTECTED_NAMESPACES:
                raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be '
                                                 f"deleted", {"name": name, "kind": "namespaces"})
            return self._delete_namespace_locked(rt, name, old)
        if md.get("finalizers"):
            if md.get("deletionTimestamp"):
                return old, False
            new = old.copy()
            nmd = new["metadata"]
            nmd["deletionTimestamp"] = self._now()
            nmd["deletionGracePeriodSeconds"] = 0
            if nmd.get("generation"):
                nmd["generation"] = int(nmd["generation"]) + 1
            nmd["resourceVersion"] = str(self._next_rv())
            entry = _Entry(new)
            self._store_entry(rt, ns, name, entry)
            self._record(rt, "MODIFIED", entry, old)
            return entry, False
        final = old.copy()
        return self._remove_locked(rt, ns, name, final, old), True

    def _remove_locked(self, rt: ResourceType, ns: str, name: str, final: dict, old: _Entry) -> _Entry:
        final["metadata"]["resourceVersion"] = str(self._next_rv())
        entry = _Entry(final)
        self._drop_entry(rt, ns, name)
        self._record(rt, "DELETED", entry, old)
        if rt.namespaced:
            self._maybe_finish_namespace(ns)
        return entry

    def _namespace_empty(self, ns: str) -> bool:
        for key, by_ns in self._objs.items():
            if by_ns.get(ns):
                rt = self.resources.find(key)
                if rt is None or rt.namespaced:
                    return False
        return True

    def _maybe_finish_namespace(self, ns: str) -> None:
        ns_rt = self.resources.find("namespaces")
        if ns_rt is None:
            return
        e = self._objs.get("namespaces", {}).get("", {}).get(ns)
        if e is None or not e.obj["metadata"].get("deletionTimestamp"):
            return
        if e.obj["metadata"].get("finalizers") or not self._namespace_empty(ns):
            return
        final = e.copy()
        final.get("spec", {}).pop("finalizers", None)
        self._remove_locked(ns_rt, "", ns, final, e)

    def _delete_namespace_locked(self, rt: ResourceType, name: str, old: _Entry) -> tuple[_Entry, bool]:
        entry = old
        if not old.obj["metadata"].get("deletionTimestamp"):
            new = old.copy()
            nmd = new["metadata"]
            nmd["deletionTimestamp"] = self._now()
            nmd["deletionGracePeriodSeconds"] = 0
            new["status"] = dict(new.get("status") or {}, phase="Terminating")
            nmd["resourceVersion"] = str(self._next_rv())
            entry = _Entry(new)
            self._store_entry(rt, "", name, entry)
            self._record(rt, "MODIFIED", entry, old)
        # cascade: delete everything inside (finalizers respected)
        for key in list(self._objs):
            sub_rt = self.resources.find(key)
            if sub_rt is None or not sub_rt.namespaced:
                continue
            for obj_name in list(self._objs.get(key, {}).get(name, {})):
                try:
                    self._delete_locked(sub_rt, obj_name, name)
                except ApiError:
                    pass
        gone = name not in self._objs.get("namespaces", {}).get("", {})
        if not gone:
            self._maybe_finish_namespace(name)
            gone = name not in self._objs.get("namespaces", {}).get("", {})
        return entry, gone

    def delete_collection(self, resource: str, namespace: str | None = None, label_selector: Any = None,
                          field_selector: Any = None) -> list[dict]:
        """Delete every matching object; returns their last states."""
        rt = self._rt(resource)
        out = []
        with self._lock:
            entries, _ = self._select(rt, namespace, label_selector, field_selector)
            for e in entries:
                md = e.obj["metadata"]
                if rt.key == "namespaces" and md["name"] in _PROTECTED_NAMESPACES:
                    continue
                try:
                    entry, _ = self._delete_locked(rt, md["name"], md.get("namespace"))
                except ApiError:
                    continue
                out.append(entry.copy())
        return out

    # -- watch ------------------------------------------------------------------------

    def watch(self, resource: str, namespace: str | None = None, label_selector: Any = None,
              field_selector: Any = None, resource_version: str | int | None = None,
              send_initial_events: bool | None = None) -> Watcher:
        """Start watching.  With ``resource_version`` None/""/"0" the current matching
        objects are delivered first as ADDED; with a specific RV the retained events
        after it are replayed (ApiError 410 "Expired" if it is too old)."""
        rt = self._rt(resource)
        flt = self._filter(rt, namespace, label_selector, field_selector)
        rv_s = "" if resource_version is None else str(resource_version).strip()
        if rv_s not in ("", "0"):
            try:
                since = int(rv_s)
            except ValueError:
                raise ApiError(400, "BadRequest", f"resourceVersion: Invalid value: \"{rv_s}\": "
                                                  f"strconv.ParseUint: parsing \"{rv_s}\": invalid syntax") from None
        else:
            since = None
        with self._lock:
            w = Watcher(self, rt, flt, self._rv, self._watch_queue_limit)
            initial = []
            if since is None or send_initial_events:
                for e in self._pool_locked(rt, namespace):
                    if flt.match(e.obj):
                        initial.append(("ADDED", _Event(e.rv, rt.key, "ADDED", e, None)))
                initial.sort(key=lambda item: item[1].rv)
            else:
                if since < self._floor:
                    oldest = self._history[0].rv if self._history else self._rv + 1
                    raise ApiError(410, "Expired", f"too old resource version: {since} ({oldest - 1})")
                for ev in self._history:
                    if ev.rv > since and ev.key == rt.key:
                        t = w._translate(ev)
                        if t is not None:
                            initial.append((t, ev))
            w._push_initial(initial)
            self._watchers.setdefault(rt.key, set()).add(w)
            return w

    def _remove_watcher(self, w: Watcher) -> None:
        with self._lock:
            ws = self._watchers.get(w.resource.key)
            if ws is not None:
                ws.discard(w)

    def watcher_count(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._watchers.values())

    def close_watchers(self, reason: str = "store closed") -> None:
        """Close every open watcher (their streams end)."""
        with self._lock:
            all_w = [w for ws in self._watchers.values() for w in ws]
        for w in all_w:
            w.close(reason)

    # -- service-account tokens (serviceaccounts/<name>/token) ---------------------------

    def create_token(self, namespace: str, name: str, request: Any) -> dict:
        """POST ``.../serviceaccounts/<name>/token``: issue a bound token for the ServiceAccount.

        ``request`` is an ``authentication.k8s.io/v1`` TokenRequest; returns it completed with
        ``status.token`` and ``status.expirationTimestamp``.  Like kube-apiserver: 404 when the
        ServiceAccount does not exist, 400 on a body that is not a TokenRequest, 422 when
        ``spec.expirationSeconds`` is under 10 minutes (default 3600) or over 2^32; empty
        ``spec.audiences`` become the API server's own (``https://kubernetes.default.svc``).
        The token stays valid until it expires or the ServiceAccount is deleted."""
        rt = self._rt("serviceaccounts")
        if not isinstance(request, dict):
            raise _bad_request("the body of the request must be a TokenRequest object")
        av, kind = request.get("apiVersion"), request.get("kind")
        if av and av != TOKEN_REQUEST_API_VERSION:
            raise _bad_request(f"the API version in the data ({av}) does not match the expected API version "
                               f"({TOKEN_REQUEST_API_VERSION})")
        if kind and kind != "TokenRequest":
            raise _bad_request(f"the kind in the data ({kind}) does not match the expected kind (TokenRequest)")
        spec = request.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise _bad_request("json: cannot unmarshal into Go struct field TokenRequest.spec of type "
                               "v1.TokenRequestSpec")
        audiences = spec.get("audiences")
        if audiences is None:
            audiences = []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise _bad_request("json: cannot unmarshal into Go struct field TokenRequestSpec.spec.audiences of "
                               "type []string")
        seconds = spec.get("expirationSeconds")
        if seconds is None:
            seconds = 3600
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise _bad_request(f"json: cannot unmarshal {type(seconds).__name__} into Go struct field "
                               f"TokenRequestSpec.spec.expirationSeconds of type int64")
        bound = spec.get("boundObjectRef")
        with self._lock:
            sa = self._existing(rt, name, namespace)   # 404 first, as the real storage does
            problem = None
            if seconds < 600:
                problem = ("spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a duration less "
                                                     f"than 10 minutes")
            elif seconds > 1 << 32:
                problem = ("spec.expirationSeconds", f"Invalid value: {seconds}: may not specify a duration "
                                                     f"larger than 2^32 seconds")
            elif bound is not None and (not isinstance(bound, dict) or bound.get("kind") not in
                                        ("Pod", "Secret", "Node")):
                got = bound.get("kind") if isinstance(bound, dict) else bound
                problem = ("spec.boundObjectRef.kind", f'Unsupported value: "{got}": supported values: "Pod", '
                                                       f'"Secret", "Node"')
            if problem is not None:
                fld, detail = problem
                raise ApiError(422, "Invalid",
                               f'TokenRequest.authentication.k8s.io "{name}" is invalid: {fld}: {detail}',
                               {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                                "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": fld}]})
            now = int(self.clock())
            exp = now + seconds
            auds = list(audiences) or list(TOKEN_DEFAULT_AUDIENCES)
            uid = sa.obj["metadata"]["uid"]
            token = self._sign({"aud": auds, "exp": exp, "iat": now, "iss": TOKEN_ISSUER, "jti": str(uuid.uuid4()),
                                "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name,
                                                                                            "uid": uid}},
                                "nbf": now, "sub": f"system:serviceaccount:{namespace}:{name}"})
            for old in [t for t, rec in self._tokens.items() if rec["exp"] <= now]:
                del self._tokens[old]
            self._tokens[token] = {"namespace": namespace, "name": name, "uid": uid, "exp": exp,
                                   "audiences": auds}
        return {"kind": "TokenRequest", "apiVersion": TOKEN_REQUEST_API_VERSION,
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": format_time(now)},
                "spec": {"audiences": auds, "expirationSeconds": seconds, "boundObjectRef": bound},
                "status": {"token": token, "expirationTimestamp": format_time(exp)}}

    def _sign(self, claims: dict) -> str:
        """A JWT-shaped token: header and claims as a real one, a random (unverifiable) signature."""
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        header = {"alg": "RS256", "kid": self._token_kid}
        return ".".join((b64(_dumps(header)), b64(_dumps(claims)), b64(secrets.token_bytes(256))))

    def review_token(self, token: str) -> dict | None:
        """The TokenReview of a bearer token issued by this store: ``{namespace, name, uid, exp,
        audiences}`` of its ServiceAccount, or None when unknown, expired, or the ServiceAccount is gone
        (or was re-created)."""
        with self._lock:
            rec = self._tokens.get(token)
            if rec is None or self.clock() >= rec["exp"]:
                return None
            sa = self._objs.get("serviceaccounts", {}).get(rec["namespace"], {}).get(rec["name"])
            if sa is None or sa.obj["metadata"].get("uid") != rec["uid"]:
                return None
            return dict(rec)

    # -- persistence --------------------------------------------------------------------

    def snapshot(self) -> dict:
        """A JSON-serialisable copy of every object plus the resourceVersion counter."""
        with self._lock:
            raw = {key: [e.raw for names in by_ns.values() for e in names.values()]
                   for key, by_ns in self._objs.items()}
            rv = self._rv
            now = self.clock()
            tokens = [dict(rec, token=tok) for tok, rec in self._tokens.items() if rec["exp"] > now]
        out = {
            "format": "sim.store/v1",
            "resourceVersion": rv,
            "objects": {key: [json.loads(r) for r in items] for key, items in raw.items() if items},
        }
        if tokens:
            out["tokens"] = tokens   # issued service-account tokens stay valid across a restart
        return out

    @classmethod
    def restore(cls, data: dict, history: int = 5000, resources: ResourceTable | None = None,
                clock: Callable[[], float] | None = None, **kw: Any) -> "Store":
        """Build a store from :meth:`snapshot` output.  The event history starts empty,
        so watches resuming from an older resourceVersion get 410 Expired."""
        st = cls(history=history, resources=resources, clock=clock, **kw)
        if not isinstance(data, dict) or data.get("format") != "sim.store/v1":
            raise ValueError("not a sim.store/v1 snapshot")
        max_rv = int(data.get("resourceVersion") or 0)
        for key, items in (data.get("objects") or {}).items():
            rt = st.resources.find(key)
            if rt is None:
                raise ValueError(f"snapshot contains unknown resource {key!r}; register it first")
            for obj in items:
                obj = json.loads(_dumps(obj))
                md = obj.setdefault("metadata", {})
                md.setdefault("resourceVersion", "1")
                max_rv = max(max_rv, int(md["resourceVersion"]))
                st._store_entry(rt, md.get("namespace", "") if rt.namespaced else "", md["name"], _Entry(obj))
        for rec in data.get("tokens") or []:
            rec = dict(rec)
            tok = rec.pop("token", None)
            if tok and {"namespace", "name", "uid", "exp"} <= set(rec):
                st._tokens[tok] = rec
        st._rv = max_rv
        st._floor = max_rv
        return st
