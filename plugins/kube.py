"""Kubernetes API access for the harness: a lean REST client and watch-based waiting.

Every wait here is a list followed by a watch from the list's resourceVersion:
the harness learns about a change when the API server sends it, and times are
read from the objects themselves, never from when we happened to look.  Watches
that end (server timeout, dropped connection) resume from the last
resourceVersion seen; ``410 Gone`` relists; transient API errors back off and
retry until the caller's deadline.

The client speaks JSON over one urllib3 pool per API server and returns plain
dicts.  It reads kubeconfigs itself (server, CA, insecure-skip-tls-verify,
bearer token or token file, client certificate, basic auth); a kubeconfig whose
user needs an ``exec`` or ``auth-provider`` plugin is read by the kubernetes
package instead (imported only then).  Not importing the kubernetes client and
its thousand model classes keeps every xdist worker small (see bench/scale.py).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import random
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
import urllib.parse
from urllib.parse import quote, urlencode

import urllib3
import yaml

log = logging.getLogger("hcp.kube")

HYPERSHIFT_GROUP = "hypershift.openshift.io"
HYPERSHIFT_VERSION = "v1beta1"
WATCH_CHUNK = 300          # seconds a single watch request may stay open
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TRANSIENT_CODES = {0, 429, 500, 502, 503, 504}
# Reads (GET: get, list, the start of a watch) answered 429/5xx, or whose connection failed, are retried with
# exponential backoff (0.5, 1, 2, 4, 8 s; Retry-After honoured, at most 10 s): one-shot calls ride out a short
# API outage as ``wait_for`` does.
READ_ATTEMPTS = 6
USER_AGENT = "hcp-scale/1 (python)"
# Paths of the kinds the waits know.
KIND_PATHS = {"hostedclusters": f"/apis/{HYPERSHIFT_GROUP}/{HYPERSHIFT_VERSION}",
              "nodepools": f"/apis/{HYPERSHIFT_GROUP}/{HYPERSHIFT_VERSION}", "nodes": "/api/v1"}


class ApiError(Exception):
    """The API server answered with an error status (``status`` 0: no answer at all)."""

    def __init__(self, status: int, reason: str, message: str = ""):
        super().__init__(f"({status}) {reason}" + (f": {message}" if message else ""))
        self.status = status
        self.reason = reason
        self.message = message


class WaitTimeout(Exception):
    """The deadline passed before the condition held."""


def parse_time(value: str | None) -> dt.datetime | None:
    """Parse a Kubernetes RFC 3339 timestamp (``2026-08-01T10:07:41Z``, fractions allowed)."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text)


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as the API server writes it (fractions kept when present)."""
    value = value.astimezone(dt.timezone.utc)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def normalize_time(value: str | None) -> str | None:
    parsed = parse_time(value)
    return format_time(parsed) if parsed else None


def condition(obj: dict, ctype: str) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def condition_true(obj: dict, ctype: str) -> bool:
    cond = condition(obj, ctype)
    return bool(cond) and cond.get("status") == "True"


@dataclass
class Connection:
    """Where an API server is and how to authenticate to it (from a kubeconfig)."""

    server: str
    token: str | None = None
    token_file: str | None = None
    basic: tuple[str, str] | None = None
    ca_file: str | None = None
    ca_data: str | None = None          # PEM
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None      # PEM
    key_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None

    @classmethod
    def from_kubeconfig(cls, path: str) -> "Connection":
        with open(path, encoding="utf-8") as fh:
            return cls.from_kubeconfig_dict(yaml.safe_load(fh) or {}, base=Path(path).resolve().parent)

    @classmethod
    def from_kubeconfig_dict(cls, config: dict, base: Path | None) -> "Connection":
        """The current context's cluster and user (relative file paths are relative to ``base``)."""
        def named(section: str, name: str | None) -> dict:
            for item in config.get(section) or []:
                if name is None or item.get("name") == name:
                    return item.get(section[:-1]) or {}
            raise ValueError(f"kubeconfig: no {section[:-1]} {name!r}")

        def file(value: str | None) -> str | None:
            if not value:
                return None
            return str(base / value) if base is not None and not os.path.isabs(value) else value

        context = named("contexts", config.get("current-context") or None)
        cluster = named("clusters", context.get("cluster"))
        user = named("users", context.get("user")) if config.get("users") else {}
        if user.get("exec") or user.get("auth-provider"):
            return cls._through_kubernetes_package(config, base)
        server = cluster.get("server")
        if not server:
            raise ValueError("kubeconfig: the cluster has no server")
        decoded = (lambda v: base64.b64decode(v) if v else None)
        return cls(server=server, token=user.get("token"), token_file=file(user.get("tokenFile")),
                   basic=(user["username"], user.get("password") or "") if user.get("username") else None,
                   ca_file=file(cluster.get("certificate-authority")),
                   ca_data=(decoded(cluster.get("certificate-authority-data")) or b"").decode() or None,
                   cert_file=file(user.get("client-certificate")), key_file=file(user.get("client-key")),
                   cert_data=decoded(user.get("client-certificate-data")),
                   key_data=decoded(user.get("client-key-data")),
                   insecure=bool(cluster.get("insecure-skip-tls-verify")),
                   tls_server_name=cluster.get("tls-server-name"))

    @classmethod
    def _through_kubernetes_package(cls, config: dict, base: Path | None) -> "Connection":
        """A user with an exec or auth-provider plugin: let the kubernetes package run it."""
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config

        cfg = k8s.Configuration()
        loader = k8s_config.kube_config.KubeConfigLoader(config_dict=config,
                                                         config_base_path=str(base) if base else "")
        loader.load_and_set(cfg)
        auth = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        token = auth[7:] if auth and auth.startswith("Bearer ") else auth
        return cls(server=cfg.host, token=token, ca_file=cfg.ssl_ca_cert, cert_file=cfg.cert_file,
                   key_file=cfg.key_file, insecure=not cfg.verify_ssl)

    def headers(self) -> dict[str, str]:
        if self.token_file:
            with open(self.token_file, encoding="utf-8") as fh:  # re-read: projected tokens rotate
                return {"Authorization": f"Bearer {fh.read().strip()}"}
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.basic:
            return {"Authorization": "Basic " + base64.b64encode(":".join(self.basic).encode()).decode()}
        return {}

    def pool(self) -> urllib3.PoolManager:
        if not self.server.startswith("https://"):
            return urllib3.PoolManager(maxsize=4)
        ctx = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        elif self.cert_data:
            _load_cert_data(ctx, self.cert_data, self.key_data)
        kwargs = {"server_hostname": self.tls_server_name} if self.tls_server_name else {}
        return urllib3.PoolManager(maxsize=4, ssl_context=ctx,
                                   cert_reqs="CERT_NONE" if self.insecure else "CERT_REQUIRED", **kwargs)


def _load_cert_data(ctx: ssl.SSLContext, cert: bytes, key: bytes | None) -> None:
    """ssl loads client certificates from files only: private files that live as long as the call."""
    with tempfile.TemporaryDirectory(prefix="hcp-kube-") as folder:
        paths = []
        for name, data in (("cert.pem", cert), ("key.pem", key)):
            if data is None:
                paths.append(None)
                continue
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            paths.append(path)
        ctx.load_cert_chain(paths[0], paths[1])


def _error(status: int, data: bytes | None) -> ApiError:
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(status, body.get("reason") or _REASONS.get(status, "Error"), body.get("message") or "")


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
            410: "Gone", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


def _retry_after(resp, attempt: int) -> float:
    delay = min(10.0, 0.5 * 2 ** (attempt - 1))
    try:
        return min(10.0, max(delay, float(resp.headers.get("Retry-After") or 0)))
    except ValueError:
        return delay


class Kube:
    """A client for one API server (the management cluster or a hosted cluster)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.server = conn.server.rstrip("/")
        self.requests = 0  # API calls made through this client, for benchmarks
        self._pool = conn.pool()

    @classmethod
    def from_kubeconfig(cls, path: str) -> "Kube":
        return cls(Connection.from_kubeconfig(path))

    @classmethod
    def from_kubeconfig_text(cls, text: str) -> "Kube":
        return cls(Connection.from_kubeconfig_dict(yaml.safe_load(text) or {}, base=None))

    def close(self) -> None:
        try:
            self._pool.clear()
        except Exception:  # pragma: no cover - best effort on shutdown
            pass

    # ------------------------------------------------------------ requests
    def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None,
                content_type: str = "application/json", timeout: float = READ_TIMEOUT) -> Any:
        """One API call; the decoded JSON answer.  GETs are retried on 429/5xx and connection failures."""
        url = self.server + path + (("?" + urlencode(params)) if params else "")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **self.conn.headers()}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        attempts = READ_ATTEMPTS if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            self.requests += 1
            try:
                resp = self._pool.request(method, url, body=data, headers=headers, retries=False,
                                          timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout))
            except urllib3.exceptions.HTTPError as exc:
                if attempt < min(attempts, 3):
                    time.sleep(0.5 * 2 ** (attempt - 1))
                    continue
                raise ApiError(0, "ConnectionError", str(exc)) from None
            if resp.status < 400:
                return json.loads(resp.data) if resp.data else {}
            if resp.status in TRANSIENT_CODES and attempt < attempts:
                time.sleep(_retry_after(resp, attempt))
                continue
            raise _error(resp.status, resp.data)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, params=params or None)

    def get_or_none(self, path: str, **params) -> dict | None:
        """The object at ``path``, or None when it (or its API) does not exist."""
        try:
            return self.get(path, **params)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def watch(self, path: str, params: dict, timeout: int) -> Iterator[dict]:
        """The events of one watch request (``timeoutSeconds`` = ``timeout``); an ``ERROR`` event raises ApiError."""
        query = {**params, "watch": "true", "timeoutSeconds": str(timeout), "allowWatchBookmarks": "true"}
        url = self.server + path + "?" + urlencode(query)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **self.conn.headers()}
        self.requests += 1
        resp = self._pool.request("GET", url, headers=headers, retries=False, preload_content=False,
                                  timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout + 30))
        try:
            if resp.status >= 400:
                raise _error(resp.status, resp.read())
            pending = b""
            for chunk in resp.stream(None):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise ApiError(int(status.get("code") or 500), status.get("reason") or "Error",
                                       status.get("message") or "")
                    yield event
        finally:
            resp.close()  # an unfinished watch must not go back to the pool half-read
            resp.release_conn()

    # -------------------------------------------------------------- helpers
    @staticmethod
    def path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
        """The API path of ``kind`` objects (in ``namespace``; one named ``name``)."""
        base = KIND_PATHS.get(kind)
        if base is None:
            raise ValueError(f"unsupported kind {kind}")
        ns = f"/namespaces/{quote(namespace)}" if namespace else ""
        return f"{base}{ns}/{kind}" + (f"/{quote(name)}" if name else "")

    def get_hosted_cluster(self, namespace: str, name: str) -> dict | None:
        return self.get_or_none(self.path("hostedclusters", namespace, name))

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        secret = self.get_or_none(f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")
        data = ((secret or {}).get("data") or {}).get(key)
        return base64.b64decode(data).decode() if data else None

    def route_host(self, namespace: str, name: str) -> str | None:
        """``spec.host`` of an OpenShift Route; None when the route (or the route API) is not there."""
        route = self.get_or_none(f"/apis/route.openshift.io/v1/namespaces/{quote(namespace)}/routes/{quote(name)}")
        return ((route or {}).get("spec") or {}).get("host") or None

    def service_account_token(self, namespace: str, name: str, seconds: int) -> str:
        """A bound token of a service account (TokenRequest) valid for ``seconds``."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [], "expirationSeconds": int(seconds)}}
        response = self.request("POST", f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(name)}/token",
                                body=body)
        return response["status"]["token"]

    # ---------------------------------------------------------------- waits
    def wait_for(self, kind: str, predicate: Callable[[dict[str, dict]], Any], *, deadline: float,
                 namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, what: str = "condition",
                 stop: threading.Event | None = None) -> Any:
        """Watch ``kind`` objects until ``predicate(objects_by_name)`` returns something other than None.

        ``deadline`` is a ``time.monotonic()`` value.  The predicate sees the
        current state of every matching object each time one changes, and may
        raise to abort the wait (for example when a cluster reports a terminal
        failure).
        """
        path = self.path(kind, namespace)
        selectors = {}
        if label_selector:
            selectors["labelSelector"] = label_selector
        if field_selector:
            selectors["fieldSelector"] = field_selector
        objects: dict[str, dict] = {}
        rv: str | None = None
        failures = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (stop is not None and stop.is_set()):
                raise WaitTimeout(f"timed out waiting for {what}")
            try:
                if rv is None:
                    listing = self.request("GET", path, params=selectors or None, timeout=min(60.0, remaining))
                    objects = {o["metadata"]["name"]: o for o in listing.get("items") or []}
                    rv = listing["metadata"]["resourceVersion"]
                    failures = 0
                    result = predicate(objects)
                    if result is not None:
                        return result
                chunk = max(1, int(min(WATCH_CHUNK, remaining)))
                for event in self.watch(path, {**selectors, "resourceVersion": rv}, chunk):
                    failures = 0
                    etype = event.get("type")
                    obj = event.get("object") or {}
                    meta = obj.get("metadata") or {}
                    if meta.get("resourceVersion"):
                        rv = meta["resourceVersion"]
                    if etype == "BOOKMARK":
                        continue
                    name = meta.get("name")
                    if etype == "DELETED":
                        objects.pop(name, None)
                    elif etype in ("ADDED", "MODIFIED"):
                        objects[name] = obj
                    else:
                        continue
                    result = predicate(objects)
                    if result is not None:
                        return result
                    if deadline - time.monotonic() <= 0 or (stop is not None and stop.is_set()):
                        break
            except ApiError as exc:
                if exc.status == 410:
                    log.debug("watch of %s expired (410); relisting", kind)
                    rv = None
                    continue
                if exc.status not in TRANSIENT_CODES:
                    raise
                failures += 1
                self._backoff(failures, deadline, f"API error {exc.status} watching {kind}", stop)
            except (urllib3.exceptions.HTTPError, ConnectionError, OSError, ValueError) as exc:
                failures += 1
                self._backoff(failures, deadline, f"connection problem watching {kind}: {exc}", stop)

    @staticmethod
    def _backoff(failures: int, deadline: float, why: str, stop: threading.Event | None = None) -> None:
        if stop is not None and stop.is_set():
            return
        delay = min(30.0, 0.5 * 2 ** min(failures, 6)) * (0.5 + random.random() / 2)
        delay = max(0.0, min(delay, deadline - time.monotonic()))
        log.warning("%s; retrying in %.1fs", why, delay)
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)

    def wait_gone(self, kind: str, namespace: str, name: str, *, deadline: float) -> float:
        """Wait until the object is deleted; return the epoch time its deletion was seen."""
        return self.wait_for(kind, lambda objs: None if name in objs else time.time(), deadline=deadline,
                             namespace=namespace, field_selector=f"metadata.name={name}",
                             what=f"{kind} {namespace}/{name} to be deleted")


# ------------------------------------------------------------------ OpenShift OAuth (what `oc login` does)
CHALLENGING_CLIENT = "openshift-challenging-client"


def oauth_login(api_url: str, username: str, password: str, *, ca_file: str | None = None, insecure: bool = False,
                timeout: float = READ_TIMEOUT) -> str:
    """An OpenShift API token for ``username``/``password`` of an htpasswd identity provider.

    The challenging-client flow of ``oc login``: the API's
    ``/.well-known/oauth-authorization-server`` names the authorization endpoint;
    a GET there with Basic credentials answers ``302`` to a URL whose fragment
    holds ``access_token``.  ``ApiError(401)`` while the user is not (yet)
    accepted — a new user of a managed cluster takes minutes to become active.
    """
    conn = Connection(server=api_url, ca_file=ca_file, insecure=insecure)
    pool = conn.pool()
    timeouts = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout)
    try:
        try:
            resp = pool.request("GET", api_url.rstrip("/") + "/.well-known/oauth-authorization-server",
                                headers={"Accept": "application/json", "User-Agent": USER_AGENT}, retries=False,
                                timeout=timeouts)
            if resp.status >= 400:
                raise _error(resp.status, resp.data)
            endpoint = (json.loads(resp.data) or {}).get("authorization_endpoint")
            if not endpoint:
                raise ApiError(0, "NoOAuthServer", f"{api_url} names no OAuth authorization endpoint")
            credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
            resp = pool.request("GET", endpoint + "?" + urlencode({"response_type": "token",
                                                                    "client_id": CHALLENGING_CLIENT}),
                                headers={"Authorization": f"Basic {credentials}", "X-CSRF-Token": "1",
                                         "User-Agent": USER_AGENT}, redirect=False, retries=False, timeout=timeouts)
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(0, "ConnectionError", str(exc)) from None
        if resp.status not in (301, 302, 303, 307, 308):
            raise _error(resp.status, resp.data) if resp.status >= 400 else \
                ApiError(resp.status, "UnexpectedAnswer", "the OAuth server did not redirect with a token")
        fragment = (resp.headers.get("Location") or "").partition("#")[2]
        token = dict(part.partition("=")[::2] for part in fragment.split("&") if part).get("access_token")
        if not token:
            raise ApiError(resp.status, "NoToken", "the OAuth server's redirect holds no access_token")
        return urllib.parse.unquote(token)
    finally:
        pool.clear()


def token_kubeconfig(server: str, token: str, name: str) -> str:
    """A kubeconfig (YAML text) for ``server`` with a bearer token."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name, "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server}}],
        "users": [{"name": f"{name}-admin", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}]}, sort_keys=False)
