"""A Kubernetes-API-compatible HTTP server backed by :class:`sim.store.Store`.

It speaks enough of the kube-apiserver REST protocol for the official ``kubernetes``
Python client, ``kubectl``-style discovery and plain ``requests``:

* discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<g>``, ``/apis/<g>/<v>``,
  ``/healthz``, ``/readyz``, ``/livez``;
* CRUD, patch (merge, strategic-as-merge, JSON patch, simplified server-side apply),
  ``/status`` and ``/scale`` subresources, deletecollection;
* watches streamed as chunked newline-delimited JSON with bookmarks, resume and 410;
* the ``serviceaccounts/<name>/token`` subresource (TokenRequest, see :meth:`sim.store.Store.create_token`);
* bearer-token auth, per-guest stores under ``/guests/<namespace>/<name>`` (hooks for more guest tokens
  and unauthenticated guest paths: ``guest_auth``, ``guest_public``);
* other services on the same port under a path prefix (:meth:`ApiServer.mount`), e.g. the simulated
  Prometheus of :mod:`sim.prometheus` under ``/prometheus/<route host>/``;
* a small fault injector (``srv.faults``).

The server binds to 127.0.0.1 only.  Every watch ends at its timeout, on ``stop()``,
or when the client goes away.
"""

from __future__ import annotations

import hmac
import json
import random
import secrets
import select
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sim.store import ApiError, ResourceTable, ResourceType, Store, Watcher, DEFAULT_RESOURCES

__all__ = ["ApiServer", "Faults", "make_kubeconfig"]

MAX_BODY = 16 * 1024 * 1024
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 410: "Gone", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 502: "InternalError", 503: "ServiceUnavailable",
    504: "Timeout",
}
_HEALTH = ("healthz", "readyz", "livez")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _truthy(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true", "yes", "t")


def make_kubeconfig(server: str, token: str | None, name: str = "sim", namespace: str | None = None) -> dict:
    """A kubeconfig (as a dict; dump it with yaml/json) for a bearer-token server."""
    user: dict = {"token": token} if token else {}
    ctx: dict = {"cluster": name, "user": name}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": ctx}],
        "current-context": name,
        "preferences": {},
    }


# ---------------------------------------------------------------------------
# fault injection


class Faults:
    """Per-request fault injection, consulted by the server for every API request.

    ``set()`` replaces the whole configuration (arguments left out go back to their
    defaults).  Decisions come from a seeded RNG so runs are reproducible.
    """

    # Clients whose User-Agent starts with one of these are never faulted unless ``agents`` names them:
    # the simulated HyperShift operator runs inside the management cluster (its ground truth must stay
    # the operator's own) -- see sim/operator.py OPERATOR_USER_AGENT.
    EXEMPT_AGENTS = ("hypershift-operator/", "ocm-clusters-service/")
    KEYS = ("error_rate", "error_code", "delay", "drop_watches_after", "watch_gone_rate", "path_prefix", "verbs",
            "agents", "retry_after")

    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.injected_errors = 0
        self.delayed_requests = 0
        self.dropped_watches = 0
        self.gone_watches = 0
        self.set()

    def set(self, error_rate: float = 0.0, error_code: int = 503, delay: float = 0.0,
            drop_watches_after: float | None = None, seed: int | None = None,
            path_prefix: str | None = None, verbs: tuple | list | None = None,
            retry_after: int | None = None, watch_gone_rate: float = 0.0,
            agents: tuple | list | None = None) -> "Faults":
        """Configure faults.

        error_rate: probability (0..1) that a request is answered with ``error_code``.
        delay: seconds added before every matching request is handled.
        drop_watches_after: end every matching watch stream after this many seconds.
        watch_gone_rate: probability (0..1) that a watch from a resourceVersion is answered with a
            ``410 Gone`` ERROR event (``too old resource version``), so the client must relist.
        path_prefix: only requests whose path starts with this (e.g. "/guests/") are affected.
        verbs: only these verbs (get, list, watch, create, update, patch, delete, ...).
        agents: only clients whose User-Agent starts with one of these; by default every client except
            :attr:`EXEMPT_AGENTS` (the simulated operator).
        retry_after: send ``Retry-After: <n>`` with injected errors.  By default only 429
            carries it (1 s), like API priority and fairness.  Note that the official
            ``kubernetes`` client transparently retries GETs answered with Retry-After.
        """
        if isinstance(verbs, str):
            verbs = [v.strip() for v in verbs.split(",") if v.strip()]
        if isinstance(agents, str):
            agents = [a for a in agents.split(",") if a]
        for what, rate in (("error_rate", error_rate), ("watch_gone_rate", watch_gone_rate)):
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"{what} must be within [0, 1]")
        code = int(error_code)
        if not 400 <= code <= 599:
            raise ValueError("error_code must be an HTTP error status (400-599)")
        with self._lock:
            self.error_rate = float(error_rate)
            self.error_code = code
            self.delay = max(0.0, float(delay))
            self.drop_watches_after = None if drop_watches_after is None else max(0.0, float(drop_watches_after))
            self.watch_gone_rate = float(watch_gone_rate)
            self.path_prefix = path_prefix or None
            self.verbs = tuple(verbs) if verbs else None
            self.agents = tuple(agents) if agents else None
            self.retry_after = None if retry_after is None else int(retry_after)
            if seed is not None:
                self._rng.seed(seed)
        return self

    def reset(self) -> "Faults":
        return self.set()

    def to_dict(self) -> dict:
        """The configuration as plain JSON (the keyword arguments of :meth:`set`)."""
        with self._lock:
            return {"error_rate": self.error_rate, "error_code": self.error_code, "delay": self.delay,
                    "drop_watches_after": self.drop_watches_after, "watch_gone_rate": self.watch_gone_rate,
                    "path_prefix": self.path_prefix, "verbs": list(self.verbs) if self.verbs else None,
                    "agents": list(self.agents) if self.agents else None, "retry_after": self.retry_after}

    def set_from(self, data: dict | None) -> "Faults":
        """``set(**data)`` for a dict such as :meth:`to_dict` returns; unknown keys are an error."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(self.KEYS) - {"seed"})
        if unknown:
            raise ValueError(f"unknown API fault setting(s): {', '.join(unknown)}")
        return self.set(**{k: v for k, v in data.items() if v is not None or k == "drop_watches_after"})

    def counters(self) -> dict:
        return {"injected_errors": self.injected_errors, "delayed_requests": self.delayed_requests,
                "dropped_watches": self.dropped_watches, "gone_watches": self.gone_watches}

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.delay or self.drop_watches_after is not None or self.watch_gone_rate)

    def _applies(self, verb: str, path: str, agent: str = "") -> bool:
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.verbs and verb not in self.verbs:
            return False
        agent = agent or ""
        if self.agents is not None:
            return agent.startswith(self.agents)
        return not agent.startswith(self.EXEMPT_AGENTS)

    def decide(self, verb: str, path: str, agent: str = "") -> tuple[float, int | None]:
        """Return ``(delay_seconds, error_code_or_None)`` for one request."""
        with self._lock:
            if not self.active or not self._applies(verb, path, agent):
                return 0.0, None
            code = None
            if self.error_rate and self._rng.random() < self.error_rate:
                code = self.error_code
                self.injected_errors += 1
            if self.delay:
                self.delayed_requests += 1
            return self.delay, code

    def watch_deadline(self, path: str, agent: str = "") -> float | None:
        """Seconds after which a watch on ``path`` must be cut, or None."""
        with self._lock:
            if self.drop_watches_after is None or not self._applies("watch", path, agent):
                return None
            return self.drop_watches_after

    def watch_gone(self, path: str, agent: str = "") -> bool:
        """Whether this watch (from a resourceVersion) is answered ``410 Gone`` instead of being served."""
        with self._lock:
            if not self.watch_gone_rate or not self._applies("watch", path, agent):
                return False
            if self._rng.random() < self.watch_gone_rate:
                self.gone_watches += 1
                return True
            return False


# ---------------------------------------------------------------------------
# discovery documents


def _storage_hash(rt: ResourceType) -> str:
    import base64
    import hashlib
    return base64.b64encode(hashlib.sha256(rt.key.encode()).digest()[:8]).decode()


def _resource_list(table: ResourceTable, group: str, version: str) -> dict:
    resources = []
    for rt in sorted(table.for_group_version(group, version), key=lambda r: r.plural):
        entry: dict = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                       "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = _storage_hash(rt)
        resources.append(entry)
        if rt.status_subresource:
            resources.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": ["get", "patch", "update"]})
        if rt.scale:
            resources.append({"name": f"{rt.plural}/scale", "singularName": "", "namespaced": rt.namespaced,
                              "group": "autoscaling", "version": "v1", "kind": "Scale",
                              "verbs": ["get", "patch", "update"]})
        if rt.token_subresource:
            resources.append({"name": f"{rt.plural}/token", "singularName": "", "namespaced": rt.namespaced,
                              "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
                              "verbs": ["create"]})
    doc: dict = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = resources
    return doc


def _group_doc(name: str, versions: list[str]) -> dict:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


# ---------------------------------------------------------------------------
# request routing


class _Route:
    __slots__ = ("kind", "rt", "namespace", "name", "sub", "verb", "doc", "watch")

    def __init__(self, kind: str, verb: str, rt: ResourceType | None = None, namespace: str | None = None,
                 name: str | None = None, sub: str | None = None, doc: Any = None, watch: bool = False):
        self.kind = kind
        self.verb = verb
        self.rt = rt
        self.namespace = namespace
        self.name = name
        self.sub = sub
        self.doc = doc
        self.watch = watch


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


class _Guest:
    __slots__ = ("store", "token")

    def __init__(self, store: Store, token: str | None):
        self.store = store
        self.token = token


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, addr, handler, api: "ApiServer"):
        self.api = api
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conns_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        t = threading.Thread(target=self._serve_conn, args=(request, client_address), daemon=True,
                             name="sim-apiserver-conn")
        with self._conns_lock:
            self._conns[request] = t
        t.start()

    def _serve_conn(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            if self.api.verbose:
                self.handle_error(request, client_address)
        finally:
            with self._conns_lock:
                self._conns.pop(request, None)
            self.shutdown_request(request)

    def connections(self) -> list[tuple[socket.socket, threading.Thread]]:
        with self._conns_lock:
            return list(self._conns.items())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim-kube-apiserver"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        self.timeout = self.server.api.idle_timeout
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        if self.server.api.verbose:
            sys.stderr.write("sim-apiserver: %s - %s\n" % (self.address_string(), format % args))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    # -- plumbing -------------------------------------------------------------------

    def _send(self, code: int, payload: bytes, ctype: str = "application/json",
              headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_json(self, code: int, obj: Any) -> None:
        self._send(code, obj if isinstance(obj, bytes) else _dumps(obj))

    def _send_error(self, err: ApiError) -> None:
        headers = {}
        if "retryAfterSeconds" in err.details:
            headers["Retry-After"] = str(err.details["retryAfterSeconds"])
        self._send(err.code, _dumps(err.to_status()), headers=headers)

    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge", "the request body is too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "BadRequest", "invalid Content-Length") from None
        if n > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge", "the request body is too large")
        return self.rfile.read(n) if n > 0 else b""

    def _parse_body(self, body: bytes, required: bool = True) -> Any:
        if not body.strip():
            if required:
                raise ApiError(400, "BadRequest", "the request body is empty")
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if "yaml" in ctype:
                import yaml
                return yaml.safe_load(body.decode("utf-8"))
            return json.loads(body)
        except Exception as e:
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {e}") from None

    # -- main entry -----------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        api = self.server.api
        verb = "other"
        try:
            split = urlsplit(self.path)
            full_path = unquote(split.path)
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            body = self._read_body()
            mounted = api._mounted(full_path)
            if mounted is not None:
                prefix, handler = mounted
                verb = prefix.strip("/") or "mounted"
                code, headers, payload = handler(method, full_path[len(prefix):] or "/", split.query,
                                                 self.headers, body)
                headers = dict(headers or {})
                ctype = headers.pop("Content-Type", "application/json")
                self._send(code, payload, ctype, headers)
                return
            store, token, rest = api._target(full_path)
            parts = [p for p in rest.split("/") if p]
            if parts and parts[0] in _HEALTH and method in ("GET", "HEAD"):
                verb = "health"
                self._send(200, b"ok", "text/plain; charset=utf-8")
                return
            guest_key = tuple(full_path.split("/", 4)[2:4]) if full_path.startswith("/guests/") else None
            if guest_key is not None and api.guest_public is not None:
                answer = api.guest_public(method, guest_key[0], guest_key[1], rest, self.headers)
                if answer is not None:
                    verb = "public"
                    code, headers, payload = answer
                    headers = dict(headers or {})
                    ctype = headers.pop("Content-Type", "application/json")
                    self._send(code, payload, ctype, headers)
                    return
            if token is not None:
                auth = self.headers.get("Authorization") or ""
                if not (auth.startswith("Bearer ") and
                        (hmac.compare_digest(auth[7:].strip().encode(), token.encode()) or
                         (guest_key is not None and api.guest_auth is not None and
                          api.guest_auth(guest_key[0], guest_key[1], auth[7:].strip())))):
                    verb = "unauthorized"
                    raise ApiError(401, "Unauthorized", "Unauthorized", {})
            route = self._route(api, store, method, parts, query)
            verb = route.verb
            delay, code = api.faults.decide(verb, full_path, self.headers.get("User-Agent") or "")
            if delay:
                api._stopping.wait(delay)
            if code is not None:
                reason = _REASONS.get(code, "InternalError")
                details: dict = {}
                retry_after = api.faults.retry_after
                if retry_after is None and code == 429:
                    retry_after = 1
                if retry_after is not None:
                    details["retryAfterSeconds"] = int(retry_after)
                raise ApiError(code, reason, f"injected fault: {reason}", details)
            self._execute(api, store, route, method, query, body, full_path)
        except ApiError as e:
            self._send_error(e)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout, TimeoutError):
            self.close_connection = True
        except Exception as e:  # pragma: no cover - defensive
            if api.verbose:
                traceback.print_exc()
            try:
                self._send_error(ApiError(500, "InternalError", f"internal error: {e!r}"))
            except OSError:
                self.close_connection = True
        finally:
            target = "guest" if self.path.startswith("/guests/") else "mgmt"
            api._count(verb, self.headers.get("User-Agent") or "", target)

    # -- routing --------------------------------------------------------------------

    def _route(self, api: "ApiServer", store: Store, method: str, parts: list[str], query: dict) -> _Route:
        table = store.resources
        n = len(parts)
        if n == 0:
            if method != "GET":
                raise _method_not_allowed()
            return _Route("doc", "discovery", doc=api._root_doc(table))
        head = parts[0]
        if head == "version" and n == 1:
            if method != "GET":
                raise _method_not_allowed()
            return _Route("doc", "discovery", doc=api._version_doc())
        if head == "api":
            if n == 1:
                self._only_get(method)
                return _Route("doc", "discovery", doc={
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": api.address}]})
            group, version, rest = "", parts[1], parts[2:]
        elif head == "apis":
            groups = table.groups()
            if n == 1:
                self._only_get(method)
                return _Route("doc", "discovery", doc={
                    "kind": "APIGroupList", "apiVersion": "v1",
                    "groups": [_group_doc(g, vs) for g, vs in sorted(groups.items()) if g]})
            group = parts[1]
            if not group or group not in groups:
                raise _not_found_path()
            if n == 2:
                self._only_get(method)
                return _Route("doc", "discovery", doc=dict(kind="APIGroup", apiVersion="v1",
                                                           **_group_doc(group, groups[group])))
            version, rest = parts[2], parts[3:]
        else:
            raise _not_found_path()
        if version not in table.groups().get(group, []):
            raise _not_found_path()
        if not rest:
            self._only_get(method)
            return _Route("doc", "discovery", doc=_resource_list(table, group, version))
        watch = _truthy(query.get("watch"))
        if rest[0] == "watch":
            watch = True
            rest = rest[1:]
            if not rest:
                raise _not_found_path()
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            rt = table.lookup(group, version, rest[2])
            if rt is not None and rt.namespaced:
                namespace = rest[1]
                rest = rest[2:]
        rt = table.lookup(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if rt.namespaced and namespace is None and name is not None:
            raise _not_found_path()
        if sub is not None and sub not in rt.subresources():
            raise _not_found_path()
        if name is None:
            if method == "GET":
                verb = "watch" if watch else "list"
            elif method == "POST":
                if rt.namespaced and namespace is None:
                    raise _method_not_allowed()
                verb = "create"
            elif method == "DELETE":
                verb = "deletecollection"
            else:
                raise _method_not_allowed()
        elif sub == "token":
            if method != "POST":
                raise _method_not_allowed()
            verb = "create"
        else:
            verbs = {"GET": "watch" if watch and sub is None else "get", "PUT": "update", "PATCH": "patch"}
            if sub is None:
                verbs["DELETE"] = "delete"
            if method not in verbs:
                raise _method_not_allowed()
            verb = verbs[method]
        return _Route("resource", verb, rt, namespace, name, sub, watch=watch)

    @staticmethod
    def _only_get(method: str) -> None:
        if method != "GET":
            raise _method_not_allowed()

    # -- execution ------------------------------------------------------------------

    def _execute(self, api: "ApiServer", store: Store, route: _Route, method: str, query: dict,
                 body: bytes, full_path: str) -> None:
        if route.kind == "doc":
            self._send_json(200, route.doc)
            return
        rt, ns, name, sub, verb = route.rt, route.namespace, route.name, route.sub, route.verb
        dry_run = bool(query.get("dryRun"))
        if verb == "list":
            self._list(store, rt, ns, query)
        elif verb == "watch":
            fsel = query.get("fieldSelector")
            if name is not None:
                fsel = ",".join(x for x in (fsel, f"metadata.name={name}") if x)
            self._watch(api, store, rt, ns, query, fsel, full_path)
        elif verb == "create" and sub == "token":
            self._send_json(201, store.create_token(ns, name, self._parse_body(body)))
        elif verb == "create":
            obj = self._parse_body(body)
            self._send_json(201, store.create_raw(rt.key, obj, namespace=ns, dry_run=dry_run))
        elif verb == "get":
            if sub == "scale":
                self._send_json(200, store.get_scale(rt.key, name, ns))
            else:
                self._send_json(200, store.get_raw(rt.key, name, ns))
        elif verb == "update":
            obj = self._parse_body(body)
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body must be a JSON object")
            md = obj.get("metadata")
            if not isinstance(md, dict):
                md = obj["metadata"] = {}
            if md.get("name") and md["name"] != name:
                raise ApiError(400, "BadRequest", f"the name of the object ({md['name']}) does not match the "
                                                  f"name on the URL ({name})")
            if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the "
                                                  "namespace sent on the request")
            if sub == "scale":
                self._send_json(200, store.update_scale(rt.key, name, obj, ns, dry_run=dry_run))
                return
            md["name"] = name
            if rt.namespaced:
                md["namespace"] = ns
            self._send_json(200, store.update_raw(rt.key, obj, subresource=sub, dry_run=dry_run))
        elif verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            ptype = _PATCH_TYPES.get(ctype)
            if ptype is None:
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted media types include: "
                               f"{', '.join(_PATCH_TYPES)}", {})
            if ptype == "apply":
                patch = self._parse_apply(body)
            else:
                try:
                    patch = json.loads(body or b"null")
                except ValueError as e:
                    raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {e}") from None
            if sub == "scale":
                self._send_json(200, store.patch_scale(rt.key, name, patch, ns, patch_type=ptype, dry_run=dry_run))
                return
            raw, created = store.patch_raw(rt.key, name, patch, ns, subresource=sub, patch_type=ptype,
                                           dry_run=dry_run)
            self._send_json(201 if created else 200, raw)
        elif verb == "delete":
            opts = self._parse_body(body, required=False) or {}
            pre = opts.get("preconditions") if isinstance(opts, dict) else None
            if isinstance(opts, dict) and opts.get("dryRun"):
                dry_run = True
            obj, gone = store.delete_ex(rt.key, name, ns, preconditions=pre, dry_run=dry_run)
            if gone and not rt.return_deleted_object:
                md = obj.get("metadata") or {}
                self._send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                      "details": {"name": name, "group": rt.group, "kind": rt.plural,
                                                  "uid": md.get("uid", "")}})
            else:
                self._send_json(200, obj)
        elif verb == "deletecollection":
            items = store.delete_collection(rt.key, ns, query.get("labelSelector"), query.get("fieldSelector"))
            self._send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                  "metadata": {"resourceVersion": str(store.resource_version)}, "items": items})
        else:  # pragma: no cover
            raise _method_not_allowed()

    def _parse_apply(self, body: bytes) -> dict:
        try:
            import yaml
            doc = yaml.safe_load(body.decode("utf-8")) if body.strip() else None
        except Exception as e:
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {e}") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "BadRequest", "the apply configuration must be an object")
        return doc

    def _list(self, store: Store, rt: ResourceType, ns: str | None, query: dict) -> None:
        limit = None
        if query.get("limit"):
            try:
                limit = int(query["limit"])
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid limit: {query['limit']!r}") from None
        items, rv, token, remaining = store.list_raw(rt.key, ns, query.get("labelSelector"),
                                                     query.get("fieldSelector"), limit, query.get("continue"))
        meta: dict = {"resourceVersion": str(rv)}
        if token:
            meta["continue"] = token
            meta["remainingItemCount"] = remaining
        head = _dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        payload = head[:-1] + b',"items":[' + b",".join(items) + b"]}"
        self._send(200, payload)

    # -- watch ------------------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True
        return False

    def _watch(self, api: "ApiServer", store: Store, rt: ResourceType, ns: str | None, query: dict,
               field_selector: str | None, full_path: str) -> None:
        timeout = api.watch_timeout
        if query.get("timeoutSeconds"):
            try:
                requested = float(query["timeoutSeconds"])
            except ValueError:
                raise ApiError(400, "BadRequest", "invalid timeoutSeconds") from None
            if requested > 0:  # 0 means "server default", as in kube-apiserver
                timeout = requested
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        initial_events = _truthy(query.get("sendInitialEvents"))
        expired: ApiError | None = None
        watcher: Watcher | None = None
        since = query.get("resourceVersion")
        if since and since != "0" and api.faults.watch_gone(full_path, self.headers.get("User-Agent") or ""):
            # injected: as if the event history no longer reached back to ``since`` (the client must relist)
            expired = ApiError(410, "Expired", f"too old resource version: {since} ({since})")
        try:
            if expired is not None:
                raise expired
            watcher = store.watch(rt.key, namespace=ns, label_selector=query.get("labelSelector"),
                                  field_selector=field_selector, resource_version=query.get("resourceVersion"),
                                  send_initial_events=initial_events)
        except ApiError as e:
            if e.code != 410:
                raise
            expired = e
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Connection", "close")
        self.end_headers()
        if expired is not None:
            try:
                self._write_chunk(_dumps({"type": "ERROR", "object": expired.to_status()}) + b"\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return
        assert watcher is not None
        api._watch_started(watcher)
        try:
            self._watch_loop(api, store, rt, watcher, timeout, bookmarks, initial_events, full_path)
        except (OSError, ValueError):
            return
        finally:
            watcher.close("watch ended")
            api._watch_ended(watcher)
        try:
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def _bookmark(self, rt: ResourceType, rv: int, initial_end: bool = False) -> bytes:
        md: dict = {"resourceVersion": str(rv)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _dumps({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version,
                                                       "metadata": md}}) + b"\n"

    def _watch_loop(self, api: "ApiServer", store: Store, rt: ResourceType, w: Watcher, timeout: float,
                    bookmarks: bool, initial_events: bool, full_path: str) -> None:
        start = time.monotonic()
        deadline = start + timeout
        drop = api.faults.watch_deadline(full_path, self.headers.get("User-Agent") or "")
        if drop is not None:
            deadline = min(deadline, start + drop)
        interval = max(0.05, float(api.bookmark_interval))
        next_bookmark = start + interval
        liveness = max(0.05, float(api.liveness_interval))
        if initial_events and bookmarks:
            rv = w.seen_rv
            items = w.next_batch(0) or []
            self._write_chunk(b"".join(ev.line(t) for t, ev in items) + self._bookmark(rt, rv, True))
        while not api._stopping.is_set():
            now = time.monotonic()
            if now >= deadline:
                if drop is not None and deadline == start + drop:
                    api.faults.dropped_watches += 1
                break
            wake = min(deadline, now + liveness)
            if bookmarks:
                wake = min(wake, next_bookmark)
            items = w.next_batch(max(0.0, wake - now))
            if items is None:
                break  # closed (server stop, guest removal, slow consumer)
            out = b"".join(ev.line(t) for t, ev in items)
            now = time.monotonic()
            if bookmarks and now >= next_bookmark:
                rv = w.seen_rv
                more = w.next_batch(0) or []
                out += b"".join(ev.line(t) for t, ev in more) + self._bookmark(rt, rv)
                next_bookmark = now + interval
            if out:
                self._write_chunk(out)
            elif self._client_gone():
                break


# ---------------------------------------------------------------------------
# the server


_FROM_SNAPSHOT = object()


class ApiServer:
    """Simulated kube-apiserver.

    >>> srv = ApiServer(token="secret").start()
    >>> srv.url                      # "http://127.0.0.1:PORT"
    >>> srv.store.create("namespaces", {"metadata": {"name": "clusters"}})
    >>> guest = srv.add_guest("clusters", "perf-01", token="guesttoken")
    >>> srv.stop()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 store: Store | None = None, *, history: int = 5000, resources: ResourceTable | None = None,
                 bookmark_interval: float = 30.0, watch_timeout: float = 1800.0, idle_timeout: float = 120.0,
                 liveness_interval: float = 5.0, seed: int | None = None, verbose: bool = False,
                 git_version: str = "v1.31.0-sim"):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulated API server only listens on loopback addresses")
        self.host = host
        self._requested_port = int(port)
        self.token = token
        self.history = history
        self.resources = resources if resources is not None else (
            store.resources if store is not None else DEFAULT_RESOURCES)
        self.store = store if store is not None else Store(history=history, resources=self.resources)
        for ns in ("default", "kube-system"):
            self.store.ensure_namespace(ns)
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.idle_timeout = idle_timeout
        self.liveness_interval = liveness_interval
        self.verbose = verbose
        self.git_version = git_version
        self.faults = Faults(seed)
        self._guests: dict[tuple[str, str], _Guest] = {}
        self._guests_lock = threading.Lock()
        self._mounts: list[tuple[str, Any]] = []
        # guests' extra bearer tokens (e.g. OAuth tokens, sim.rosa): guest_auth(ns, name, token) -> bool, asked
        # when the token is not the guest's own; unauthenticated guest paths (e.g. /.well-known/...):
        # guest_public(method, ns, name, rest, headers) -> (code, headers, payload) or None
        self.guest_auth: Any = None
        self.guest_public: Any = None
        self._counts: dict[str, int] = {}
        self._by_client: dict[tuple[str, str, str], int] = {}
        self._counts_lock = threading.Lock()
        self._watches: set[Watcher] = set()
        self._watches_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> "ApiServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), _Handler, self)
        self._serving = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="sim-apiserver")
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: ends watch streams, closes connections, joins threads (bounded)."""
        httpd = self._httpd
        if httpd is None:
            return
        end = time.monotonic() + max(0.1, timeout)
        self._stopping.set()
        with self._watches_lock:
            watches = list(self._watches)
        for w in watches:
            w.close("server stopping")
        if self._serving:
            httpd.shutdown()
            self._serving = False
        httpd.server_close()
        # let watch streams finish their last chunk, then cut whatever is left
        grace = time.monotonic() + min(0.5, max(0.0, end - time.monotonic()))
        while time.monotonic() < grace:
            with self._watches_lock:
                if not self._watches:
                    break
            time.sleep(0.01)
        for sock, _ in httpd.connections():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, t in httpd.connections():
            t.join(max(0.0, end - time.monotonic()))
        if self._thread is not None:
            self._thread.join(max(0.0, end - time.monotonic()))
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- other services on the same port ------------------------------------------------

    def mount(self, prefix: str, handler: Any) -> None:
        """Serve every path under ``prefix`` (e.g. ``"/prometheus"``) with
        ``handler(method, path, query_string, headers, body) -> (code, headers, payload)``; ``path`` is the
        rest of the path (``/...``), ``headers`` may carry ``Content-Type``.  No Kubernetes authentication
        and no fault injection: the handler is a service of its own."""
        prefix = "/" + prefix.strip("/")
        self._mounts = [(p, h) for p, h in self._mounts if p != prefix] + [(prefix, handler)]

    def _mounted(self, path: str) -> tuple[str, Any] | None:
        for prefix, handler in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, handler
        return None

    # -- guests ---------------------------------------------------------------------------

    def add_guest(self, namespace: str, name: str, token: str | None = None, store: Store | None = None) -> Store:
        """Serve a guest cluster API under ``/guests/<namespace>/<name>``.

        Returns the guest's store.  If the guest exists already, its store is returned
        (and its token replaced when one is given).  ``token=None`` generates one;
        read it with :meth:`guest_token`."""
        key = (namespace, name)
        with self._guests_lock:
            g = self._guests.get(key)
            if g is not None:
                if token is not None:
                    g.token = token
                return g.store
            st = store if store is not None else Store(history=self.history, resources=self.resources)
            for ns in ("default", "kube-system"):
                st.ensure_namespace(ns)
            self._guests[key] = _Guest(st, token if token is not None else secrets.token_hex(16))
            return st

    def get_guest(self, namespace: str, name: str) -> Store | None:
        with self._guests_lock:
            g = self._guests.get((namespace, name))
        return g.store if g is not None else None

    def guest_token(self, namespace: str, name: str) -> str | None:
        with self._guests_lock:
            g = self._guests.get((namespace, name))
        return g.token if g is not None else None

    def remove_guest(self, namespace: str, name: str) -> bool:
        """Stop serving a guest; its open watches end.  Returns False if unknown."""
        with self._guests_lock:
            g = self._guests.pop((namespace, name), None)
        if g is None:
            return False
        g.store.close_watchers("guest removed")
        return True

    def guest_keys(self) -> list[tuple[str, str]]:
        with self._guests_lock:
            return sorted(self._guests)

    def guest_url(self, namespace: str, name: str) -> str:
        return f"{self.url}/guests/{namespace}/{name}"

    def kubeconfig(self, guest: tuple[str, str] | None = None, namespace: str | None = None) -> dict:
        """Kubeconfig dict for the management API, or for ``guest=(ns, name)``."""
        if guest is None:
            return make_kubeconfig(self.url, self.token, "sim", namespace)
        tok = self.guest_token(*guest)
        if tok is None:
            raise KeyError(f"unknown guest {guest}")
        return make_kubeconfig(self.guest_url(*guest), tok, f"{guest[0]}-{guest[1]}", namespace)

    def _target(self, path: str) -> tuple[Store, str | None, str]:
        if path == "/guests" or path.startswith("/guests/"):
            parts = path.split("/", 4)  # ['', 'guests', ns, name, rest]
            if len(parts) < 4 or not parts[2] or not parts[3]:
                raise _not_found_path()
            with self._guests_lock:
                g = self._guests.get((parts[2], parts[3]))
            if g is None:
                raise ApiError(503, "ServiceUnavailable",
                               f"guest cluster {parts[2]}/{parts[3]} is not available", {})
            return g.store, g.token, "/" + (parts[4] if len(parts) > 4 else "")
        return self.store, self.token, path

    # -- persistence -----------------------------------------------------------------------

    def snapshot(self) -> dict:
        """JSON-serialisable state: the management store and every guest (with tokens)."""
        with self._guests_lock:
            guests = list(self._guests.items())
        return {
            "format": "sim.apiserver/v1",
            "port": self._httpd.server_address[1] if self._httpd is not None else self._requested_port,
            "token": self.token,
            "store": self.store.snapshot(),
            "guests": [{"namespace": ns, "name": name, "token": g.token, "store": g.store.snapshot()}
                       for (ns, name), g in guests],
        }

    @classmethod
    def from_snapshot(cls, data: dict, host: str = "127.0.0.1", port: int | None = None,
                      token: Any = _FROM_SNAPSHOT, **kw: Any) -> "ApiServer":
        """Rebuild a (not yet started) server from :meth:`snapshot` output.

        ``port=None`` reuses the snapshot's port (so existing kubeconfigs keep working;
        pass 0 for a fresh ephemeral port); ``token`` defaults to the snapshot's token."""
        if not isinstance(data, dict) or data.get("format") != "sim.apiserver/v1":
            raise ValueError("not a sim.apiserver/v1 snapshot")
        if port is None:
            port = int(data.get("port") or 0)
        if token is _FROM_SNAPSHOT:
            token = data.get("token")
        history = kw.get("history", 5000)
        resources = kw.get("resources")
        store = Store.restore(data["store"], history=history, resources=resources)
        srv = cls(host=host, port=port, token=token, store=store, **kw)
        for g in data.get("guests") or []:
            gst = Store.restore(g["store"], history=history, resources=srv.resources)
            srv.add_guest(g["namespace"], g["name"], token=g.get("token"), store=gst)
        return srv

    # -- documents & counters ----------------------------------------------------------------

    def _version_doc(self) -> dict:
        ver = self.git_version.lstrip("v").split("-")[0].split(".")
        return {"major": ver[0], "minor": ver[1] if len(ver) > 1 else "0", "gitVersion": self.git_version,
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.0", "compiler": "gc",
                "platform": "linux/amd64"}

    def _root_doc(self, table: ResourceTable) -> dict:
        paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
        for g, vs in table.groups().items():
            if g:
                paths.append(f"/apis/{g}")
                paths.extend(f"/apis/{g}/{v}" for v in vs)
        return {"paths": sorted(paths)}

    def _count(self, verb: str, agent: str = "", target: str = "mgmt") -> None:
        client = agent.split("/", 1)[0].strip() or "unknown"
        key = (client, target, verb)
        with self._counts_lock:
            self._counts[verb] = self._counts.get(verb, 0) + 1
            self._by_client[key] = self._by_client.get(key, 0) + 1

    @property
    def requests_by_client(self) -> dict[str, dict[str, dict[str, int]]]:
        """Requests per client (User-Agent up to its first ``/``), API (``mgmt`` or ``guest``) and verb."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._counts_lock:
            for (client, target, verb), n in sorted(self._by_client.items()):
                out.setdefault(client, {}).setdefault(target, {})[verb] = n
        return out

    @property
    def request_count(self) -> int:
        """Total HTTP requests served."""
        with self._counts_lock:
            return sum(self._counts.values())

    @property
    def request_counts(self) -> dict[str, int]:
        """Requests per verb (get, list, watch, create, update, patch, delete, discovery, health, ...)."""
        with self._counts_lock:
            return dict(self._counts)

    def reset_counters(self) -> None:
        with self._counts_lock:
            self._counts.clear()
            self._by_client.clear()

    def _watch_started(self, w: Watcher) -> None:
        with self._watches_lock:
            self._watches.add(w)
        if self._stopping.is_set():
            w.close("server stopping")

    def _watch_ended(self, w: Watcher) -> None:
        with self._watches_lock:
            self._watches.discard(w)

    @property
    def active_watches(self) -> int:
        """Number of watch streams currently open over HTTP."""
        with self._watches_lock:
            return len(self._watches)
