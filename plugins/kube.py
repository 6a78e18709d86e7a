"""Kubernetes API access for the harness: clients and watch-based waiting.

Every wait here is a list followed by a watch from the list's resourceVersion:
the harness learns about a change when the API server sends it, and times are
read from the objects themselves, never from when we happened to look.  Watches
that end (server timeout, dropped connection) resume from the last
resourceVersion seen; ``410 Gone`` relists; transient API errors back off and
retry until the caller's deadline.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from typing import Any, Callable

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

log = logging.getLogger("hcp.kube")

HYPERSHIFT_GROUP = "hypershift.openshift.io"
HYPERSHIFT_VERSION = "v1beta1"
WATCH_CHUNK = 300          # seconds a single watch request may stay open
CONNECT_TIMEOUT = 10.0
TRANSIENT_CODES = {0, 429, 500, 502, 503, 504}


# Reads (GET: get, list, the start of a watch) answered 429/5xx are retried by urllib3 with exponential
# backoff (0.5, 1, 2, 4, 8, 10 s; Retry-After honoured), connection failures twice: one-shot calls -- and
# the tests' own calls through ``Kube`` clients -- ride out a short API outage as ``wait_for`` does.
READ_RETRIES = urllib3.Retry(total=6, connect=2, read=2, status=6, backoff_factor=0.5, backoff_max=10.0,
                             status_forcelist=sorted(TRANSIENT_CODES - {0}), allowed_methods=frozenset({"GET", "HEAD"}),
                             raise_on_status=False, respect_retry_after_header=True)


USER_AGENT = "hcp-scale/1 (python kubernetes client)"


def _retrying_client(cfg: k8s.Configuration) -> k8s.ApiClient:
    cfg.retries = READ_RETRIES
    api = k8s.ApiClient(configuration=cfg)
    api.user_agent = USER_AGENT  # so an API server's audit log (and the simulated world's counts) can tell us apart
    return api


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


class Kube:
    """A client for one API server (the management cluster or a hosted cluster)."""

    def __init__(self, api_client: k8s.ApiClient):
        self.api = api_client
        self.custom = k8s.CustomObjectsApi(api_client)
        self.core = k8s.CoreV1Api(api_client)
        self.requests = 0  # API calls made through the helpers below, for benchmarks

    @classmethod
    def from_kubeconfig(cls, path: str) -> "Kube":
        cfg = k8s.Configuration()
        k8s_config.load_kube_config(config_file=path, client_configuration=cfg)
        return cls(_retrying_client(cfg))

    @classmethod
    def from_kubeconfig_text(cls, text: str) -> "Kube":
        cfg = k8s.Configuration()
        k8s_config.load_kube_config_from_dict(yaml.safe_load(text), client_configuration=cfg)
        return cls(_retrying_client(cfg))

    def close(self) -> None:
        try:
            self.api.close()
        except Exception:  # pragma: no cover - best effort on shutdown
            pass

    def as_dict(self, obj: Any) -> dict:
        return obj if isinstance(obj, dict) else self.api.sanitize_for_serialization(obj)

    # ---------------------------------------------------------- list calls
    def lister(self, kind: str, namespace: str | None = None) -> Callable[..., Any]:
        """A list function usable with ``watch.stream`` for ``kind``."""
        if kind in ("hostedclusters", "nodepools"):
            if namespace is None:
                return lambda **kw: self.custom.list_cluster_custom_object(
                    HYPERSHIFT_GROUP, HYPERSHIFT_VERSION, kind, **kw)
            return lambda **kw: self.custom.list_namespaced_custom_object(
                HYPERSHIFT_GROUP, HYPERSHIFT_VERSION, namespace, kind, **kw)
        if kind == "nodes":
            return self.core.list_node
        raise ValueError(f"unsupported kind {kind}")

    def get_hosted_cluster(self, namespace: str, name: str) -> dict | None:
        self.requests += 1
        try:
            return self.custom.get_namespaced_custom_object(
                HYPERSHIFT_GROUP, HYPERSHIFT_VERSION, namespace, "hostedclusters", name,
                _request_timeout=(CONNECT_TIMEOUT, 30))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        import base64

        self.requests += 1
        try:
            secret = self.core.read_namespaced_secret(name, namespace, _request_timeout=(CONNECT_TIMEOUT, 30))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        data = (secret.data or {}).get(key)
        return base64.b64decode(data).decode() if data else None

    def route_host(self, namespace: str, name: str) -> str | None:
        """``spec.host`` of an OpenShift Route; None when the route (or the route API) is not there."""
        self.requests += 1
        try:
            route = self.custom.get_namespaced_custom_object("route.openshift.io", "v1", namespace, "routes", name,
                                                             _request_timeout=(CONNECT_TIMEOUT, 30))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return ((route or {}).get("spec") or {}).get("host") or None

    def service_account_token(self, namespace: str, name: str, seconds: int) -> str:
        """A bound token of a service account (TokenRequest) valid for ``seconds``."""
        self.requests += 1
        body = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[],
                                                                             expiration_seconds=int(seconds)))
        response = self.core.create_namespaced_service_account_token(name, namespace, body,
                                                                     _request_timeout=(CONNECT_TIMEOUT, 30))
        return response.status.token

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
        list_fn = self.lister(kind, namespace)
        selectors = {}
        if label_selector:
            selectors["label_selector"] = label_selector
        if field_selector:
            selectors["field_selector"] = field_selector
        objects: dict[str, dict] = {}
        rv: str | None = None
        failures = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (stop is not None and stop.is_set()):
                raise WaitTimeout(f"timed out waiting for {what}")
            try:
                if rv is None:
                    self.requests += 1
                    listing = self.as_dict(list_fn(**selectors, _request_timeout=(CONNECT_TIMEOUT, min(60, remaining))))
                    objects = {o["metadata"]["name"]: o for o in listing.get("items") or []}
                    rv = listing["metadata"]["resourceVersion"]
                    failures = 0
                    result = predicate(objects)
                    if result is not None:
                        return result
                chunk = max(1, int(min(WATCH_CHUNK, remaining)))
                stream = k8s_watch.Watch()
                self.requests += 1
                for event in stream.stream(list_fn, resource_version=rv, timeout_seconds=chunk,
                                           allow_watch_bookmarks=True, **selectors,
                                           _request_timeout=(CONNECT_TIMEOUT, chunk + 30)):
                    failures = 0
                    etype = event.get("type")
                    obj = self.as_dict(event.get("object"))
                    meta = (obj or {}).get("metadata") or {}
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
                        stream.stop()
                        return result
                    if deadline - time.monotonic() <= 0:
                        stream.stop()
                        break
            except ApiException as exc:
                if exc.status == 410:
                    log.debug("watch of %s expired (410); relisting", kind)
                    rv = None
                    continue
                if exc.status not in TRANSIENT_CODES:
                    raise
                failures += 1
                self._backoff(failures, deadline, f"API error {exc.status} watching {kind}", stop)
            except (urllib3.exceptions.HTTPError, ConnectionError, OSError) as exc:
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
