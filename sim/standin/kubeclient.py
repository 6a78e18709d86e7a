"""A small Kubernetes REST client for the stand-in CLIs (urllib3 + JSON; plain dicts in and out).

The stand-ins are short-lived processes started once or twice per cluster.
Importing the official ``kubernetes`` package (its API classes, thousands of
models, ``kubernetes.config``) cost each of them most of a CPU second and
~55 MB of memory; this module talks to the API server directly.

On the wire it behaves as the kubernetes Python client the stand-ins used
before, so that what the simulated API server sees (and the fault injection
scoped by verb, path and User-Agent) is unchanged:

* one urllib3 ``PoolManager`` with urllib3's default retries: failed
  connections are retried three times, and idempotent requests answered 413,
  429 or 503 *with* ``Retry-After`` are retried after that delay; what urllib3
  raises when retries run out (``MaxRetryError``...) propagates unchanged;
* query strings are built as that client builds them (``key=quote(value)`` in
  the caller's order, booleans as ``true``/``false``);
* an error answer raises :class:`ApiError` carrying the HTTP status and reason
  phrase, the ``Status`` object's ``reason`` and ``message``, and the raw body.

Kubeconfigs are read here (server, CA file or data, ``insecure-skip-tls-verify``,
``tls-server-name``, bearer token or ``tokenFile``, client certificate file or
data, basic auth).  A user that needs an ``auth-provider`` plugin, or an
``exec`` plugin and no token, is resolved by the kubernetes package, imported
only then.
"""
from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from typing import Any, Iterator
from urllib.parse import quote

import urllib3

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0


class ApiError(Exception):
    """The API server answered with an error status.

    ``status``: HTTP status (0: no HTTP answer, e.g. a TLS failure); ``reason`` and ``message``: the
    ``Status`` object's fields (``reason`` falls back to the HTTP reason phrase); ``http_reason``: the HTTP
    reason phrase (``Not Found``); ``body``: the raw answer text.
    """

    def __init__(self, status: int, reason: str = "", message: str = "", *, http_reason: str = "",
                 body: str = ""):
        self.status = int(status)
        self.reason = reason or http_reason
        self.message = message
        self.http_reason = http_reason
        self.body = body
        super().__init__(f"({self.status}) {self.reason}" + (f": {message}" if message else ""))

    @classmethod
    def from_response(cls, status: int, http_reason: str, data: bytes | None) -> "ApiError":
        text = (data or b"").decode("utf-8", errors="replace")
        try:
            doc = json.loads(text) if text.strip() else {}
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        return cls(status, str(doc.get("reason") or ""), str(doc.get("message") or ""),
                   http_reason=http_reason or "", body=text)


class KubeconfigError(Exception):
    """The kubeconfig cannot be used (texts as the kubernetes package's ConfigException)."""


# ================================================================== kubeconfig
class Config:
    """Where an API server is and how to authenticate to it."""

    def __init__(self, host: str, authorization: str | None = None, ca_file: str | None = None,
                 ca_data: str | None = None, cert_file: str | None = None, key_file: str | None = None,
                 cert_data: bytes | None = None, key_data: bytes | None = None, verify_ssl: bool = True,
                 tls_server_name: str | None = None):
        self.host = host
        self.authorization = authorization      # the whole Authorization header value ("Bearer ...")
        self.ca_file, self.ca_data = ca_file, ca_data
        self.cert_file, self.key_file = cert_file, key_file
        self.cert_data, self.key_data = cert_data, key_data
        self.verify_ssl = verify_ssl
        self.tls_server_name = tls_server_name

    @classmethod
    def from_file(cls, path: str) -> "Config":
        import yaml

        with open(path, encoding="utf-8") as fh:
            try:
                doc = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when there
            except yaml.YAMLError:
                fh.seek(0)
                doc = yaml.safe_load(fh)   # the error text of the kubernetes package's loader, naming the file
        if not doc:
            raise KubeconfigError(f"Invalid kube-config. {path} file is empty")
        return cls.from_dict(doc, base=os.path.dirname(os.path.abspath(path)), name=path)

    @classmethod
    def from_dict(cls, doc: Any, base: str | None = None, name: str = "kubeconfig") -> "Config":
        """The current context's cluster and user; relative file names are relative to ``base``."""
        if not isinstance(doc, dict):
            raise KubeconfigError(f"Invalid kube-config file. No configuration found in {name}")
        base = base if base is not None else os.getcwd()

        def key(node: Any, what: str, where: str) -> Any:
            if not isinstance(node, dict) or what not in node:
                raise KubeconfigError(f"Invalid kube-config file. Expected key {what} in {where}")
            return node[what]

        def named(section: str, wanted: Any) -> dict | None:
            for item in doc.get(section) or []:
                if isinstance(item, dict) and item.get("name") == wanted:
                    return item
            return None

        current = key(doc, "current-context", name)
        ctx_item = named("contexts", current)
        if ctx_item is None:
            raise KubeconfigError(f"Invalid kube-config file. Expected object with name {current} in "
                                  f"{name}/contexts list")
        context = key(ctx_item, "context", f"{name}/{ctx_item}") or {}
        cluster: dict = {}
        if context.get("cluster") is not None:
            item = named("clusters", context["cluster"])
            if item is None:
                raise KubeconfigError(f"Invalid kube-config file. Expected object with name {context['cluster']} "
                                      f"in {name}/clusters list")
            cluster = key(item, "cluster", f"{name}/{item}") or {}
        user: dict = {}
        if context.get("user") is not None and doc.get("users"):
            item = named("users", context["user"])
            user = (item or {}).get("user") or {}
        if "auth-provider" in user or ("exec" in user and not (user.get("token") or user.get("tokenFile"))):
            return cls._through_kubernetes_package(doc, base)

        def path_of(value: str) -> str:
            return os.path.normpath(os.path.join(base, value))

        def file_or_data(node: dict, file_key: str) -> tuple[str | None, bytes | None]:
            """``<key>-data`` (base64) when present, else the file ``<key>`` (which must exist)."""
            if f"{file_key}-data" in node:
                data = node[f"{file_key}-data"]
                return None, (base64.b64decode(data) if data else None)
            if node.get(file_key):
                path = path_of(node[file_key])
                if not os.path.isfile(path):
                    raise KubeconfigError(f"File does not exist: {path}")
                return path, None
            return None, None

        config = cls(host=str(cluster.get("server") or "").rstrip("/"))
        token = user.get("token")
        if "token" not in user and user.get("tokenFile"):
            with open(path_of(user["tokenFile"]), encoding="utf-8") as fh:
                token = fh.read().strip()
        if token:
            config.authorization = f"Bearer {token}"
        elif "username" in user and "password" in user:
            pair = f"{user['username']}:{user['password']}".encode()
            config.authorization = "Basic " + base64.b64encode(pair).decode()
        if config.host.startswith("https"):
            ca_file, ca_data = file_or_data(cluster, "certificate-authority")
            config.ca_file, config.ca_data = ca_file, (ca_data.decode() if ca_data else None)
            config.cert_file, config.cert_data = file_or_data(user, "client-certificate")
            config.key_file, config.key_data = file_or_data(user, "client-key")
        if "insecure-skip-tls-verify" in cluster:
            config.verify_ssl = not cluster["insecure-skip-tls-verify"]
        config.tls_server_name = cluster.get("tls-server-name") or None
        return config

    @classmethod
    def _through_kubernetes_package(cls, doc: dict, base: str) -> "Config":
        """A user whose credentials come from an auth-provider or exec plugin: the kubernetes package runs it."""
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config

        cfg = k8s.Configuration()
        k8s_config.kube_config.KubeConfigLoader(config_dict=doc, config_base_path=base).load_and_set(cfg)
        auth = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
        return cls(host=(cfg.host or "").rstrip("/"), authorization=auth, ca_file=cfg.ssl_ca_cert,
                   cert_file=cfg.cert_file, key_file=cfg.key_file, verify_ssl=bool(cfg.verify_ssl),
                   tls_server_name=getattr(cfg, "tls_server_name", None))


def _tls_context(config: Config) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=config.ca_file, cadata=config.ca_data)
    if not config.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if config.cert_file or config.cert_data:
        # ssl reads a client certificate from files only: data goes through a private folder for the call
        with tempfile.TemporaryDirectory(prefix="standin-kube-") as folder:
            def materialise(path: str | None, data: bytes | None, name: str) -> str | None:
                if path or data is None:
                    return path
                target = os.path.join(folder, name)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                return target

            ctx.load_cert_chain(materialise(config.cert_file, config.cert_data, "cert.pem"),
                                materialise(config.key_file, config.key_data, "key.pem"))
    return ctx


def query_string(params: list[tuple[str, Any]] | dict | None) -> str:
    """``k=v&...`` as the kubernetes client writes it: values ``quote()``d (``/`` kept), booleans lower-case."""
    items = params.items() if isinstance(params, dict) else (params or [])
    out = []
    for k, v in items:
        if v is None:
            continue
        if isinstance(v, bool):
            v = str(v).lower()
        out.append(f"{k}={quote(str(v))}")
    return "&".join(out)


# ====================================================================== client
class Client:
    """One API server; every call returns the decoded JSON answer."""

    def __init__(self, config: Config, user_agent: str, maxsize: int = 4):
        self.config = config
        self.host = config.host
        self.user_agent = user_agent
        kwargs: dict = {"maxsize": maxsize}
        if self.host.startswith("https"):
            if not config.verify_ssl:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            kwargs["ssl_context"] = _tls_context(config)
            kwargs["cert_reqs"] = "CERT_REQUIRED" if config.verify_ssl else "CERT_NONE"
            if config.tls_server_name:
                kwargs["server_hostname"] = config.tls_server_name
        self._pool = urllib3.PoolManager(**kwargs)

    @classmethod
    def from_kubeconfig(cls, path: str, user_agent: str) -> "Client":
        return cls(Config.from_file(path), user_agent)

    def close(self) -> None:
        try:
            self._pool.clear()
        except Exception:  # pragma: no cover - best effort
            pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def url(self, path: str, query: list[tuple[str, Any]] | dict | None = None) -> str:
        qs = query_string(query)
        return self.host + path + ("?" + qs if qs else "")

    def _headers(self, content_type: str | None) -> dict:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        if self.config.authorization:
            headers["Authorization"] = self.config.authorization
        return headers

    def _send(self, method: str, path: str, query: Any, body: Any, content_type: str | None,
              timeout: tuple[float, float] | float | None, stream: bool = False) -> urllib3.BaseHTTPResponse:
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            content_type = content_type or "application/json"
        if isinstance(timeout, tuple):
            t = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        elif timeout:
            t = urllib3.Timeout(total=timeout)
        else:
            t = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
        try:
            return self._pool.request(method, self.url(path, query), body=data,
                                      headers=self._headers(content_type if data is not None else None),
                                      timeout=t, preload_content=not stream)
        except urllib3.exceptions.SSLError as exc:   # as the kubernetes client: a status-0 API error
            raise ApiError(0, http_reason=f"{type(exc).__name__}\n{exc}") from None

    def request(self, method: str, path: str, *, query: Any = None, body: Any = None,
                content_type: str | None = None, timeout: tuple[float, float] | float | None = None) -> Any:
        """One call; the decoded JSON answer ({} when empty).  Raises ApiError for an error status."""
        resp = self._send(method, path, query, body, content_type, timeout)
        if not 200 <= resp.status <= 299:
            raise ApiError.from_response(resp.status, resp.reason or "", resp.data)
        return json.loads(resp.data) if resp.data else {}

    # -- verbs
    def get(self, path: str, query: Any = None, timeout: Any = None) -> Any:
        return self.request("GET", path, query=query, timeout=timeout)

    def create(self, path: str, obj: dict, timeout: Any = None) -> Any:
        return self.request("POST", path, body=obj, timeout=timeout)

    def replace(self, path: str, obj: dict, timeout: Any = None) -> Any:
        return self.request("PUT", path, body=obj, timeout=timeout)

    def patch(self, path: str, patch: Any, content_type: str = "application/merge-patch+json",
              timeout: Any = None) -> Any:
        return self.request("PATCH", path, body=patch, content_type=content_type, timeout=timeout)

    def delete(self, path: str, query: Any = None, timeout: Any = None) -> Any:
        return self.request("DELETE", path, query=query, timeout=timeout)

    def watch(self, path: str, query: list[tuple[str, Any]] | None = None, timeout_seconds: int | None = None,
              timeout: tuple[float, float] | float | None = None) -> Iterator[dict]:
        """The events of one watch request (``watch=true``; ``timeoutSeconds`` when given).

        Yields ``{"type": ..., "object": {...}}`` as the server sends them (BOOKMARKs included).  An error
        answer or an ``ERROR`` event (e.g. 410 Gone: the resourceVersion is too old) raises ApiError.
        Closing the generator closes the connection.
        """
        params = list(query.items() if isinstance(query, dict) else (query or []))
        if timeout_seconds is not None:
            params.append(("timeoutSeconds", int(timeout_seconds)))
        params.append(("watch", True))
        resp = self._send("GET", path, params, None, None, timeout, stream=True)
        try:
            if not 200 <= resp.status <= 299:
                raise ApiError.from_response(resp.status, resp.reason or "", resp.read())
            pending = b""
            for chunk in resp.stream(None, decode_content=False):
                pending += chunk
                if b"\n" not in chunk:
                    continue
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    event = _event(line)
                    if event is not None:
                        yield event
            event = _event(pending)
            if event is not None:
                yield event
        finally:
            resp.close()          # a watch left half-read must not go back to the pool
            resp.release_conn()


def _event(line: bytes) -> dict | None:
    if not line.strip():
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        code = int(status.get("code") or 500) if isinstance(status, dict) else 500
        reason = str(status.get("reason") or "") if isinstance(status, dict) else ""
        message = str(status.get("message") or "") if isinstance(status, dict) else ""
        raise ApiError(code, reason, message, body=json.dumps(status))
    return event


# ======================================================================= paths
def core_path(plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """``/api/v1[/namespaces/NS]/PLURAL[/NAME]`` (``namespaces`` itself: ``/api/v1/namespaces[/NAME]``)."""
    ns = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
    return f"/api/v1{ns}/{plural}" + (f"/{quote(name, safe='')}" if name else "")


def group_path(group: str, version: str, plural: str, namespace: str | None = None,
               name: str | None = None) -> str:
    ns = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
    return f"/apis/{group}/{version}{ns}/{plural}" + (f"/{quote(name, safe='')}" if name else "")
