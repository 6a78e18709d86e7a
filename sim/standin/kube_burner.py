"""Stand-in for ``kube-burner-ocp``, for the simulated world.

It accepts the real command line of ``kube-burner-ocp`` v1.12 (see the reference, §6): the global
flags, the workloads ``cluster-density-v2`` and ``cluster-density-ms`` (also ``node-density``,
``node-density-cni``, ``node-density-heavy``) with their flags and defaults, ``cluster-health`` and
``version``; cobra/pflag errors (``Error: …`` and the usage on stderr, exit 1), Go durations.

Run against a hosted cluster (``KUBECONFIG`` = its guest kubeconfig, one path only; there is no
``--kubeconfig`` flag) it does, through the guest API of the simulated world:

* the health check (every node Ready) unless ``--ignore-health-check``;
* iterations from ``--iterations``, else one per node matching ``--selector``
  (``No nodes found with the selector: …``, rc 1, when none);
* its metrics endpoints (below): indexers, Prometheus clients, metrics profiles, alert managers;
* one namespace ``<workload>-<n>`` per iteration (n from 0, labelled ``kube-burner.io/job``,
  ``…/uuid``, ``…/runid``) with two Secrets and two ConfigMaps — a light version of the real objects;
* churn (``--churn-duration``/``--churn-cycles``/``--churn-delay``/``--churn-percent``/``--churn-mode``):
  namespaces (or objects) deleted and re-created;
* alerts, then every indexer gets the jobSummary and measurement documents and each Prometheus client's
  scraped metrics; garbage collection of its namespaces with ``--gc`` (default), a leftover cleanup of the
  job's namespaces before it starts; ``--enable-file-logging``: ``kube-burner-ocp-<UUID>.log`` in the cwd.

Metrics endpoints, as kube-burner v2.7 / kube-burner-ocp v1.12 build them:

* ``--metrics-endpoint FILE`` (not with ``--es-server``): the file is rendered as a Go template with the
  process environment as the data (``{{.NAME}}``; a missing key is fatal: ``Template error in FILE: …``),
  then decoded like yaml.v3 with KnownFields (an unknown key is fatal: ``Error decoding metricsEndpoint
  FILE: yaml: unmarshal errors: …``) into a list of ``endpoint``, ``token``, ``username``, ``password``,
  ``alias``, ``step`` (Go duration, 30s), ``skipTLSVerify`` (true), ``metrics``, ``alerts`` and
  ``indexer`` {``type`` local|opensearch|elastic, ``esServers``, ``defaultIndex``, ``insecureSkipVerify``,
  ``metricsDirectory`` (``collected-metrics-<uuid>``), ``createTarball``, ``tarballName``}.  That list is
  all there is: no discovery, no ES_SERVER for the workload, ``--local-indexing`` has no effect.
* Without it, the workload's own endpoints: ``--es-server`` (opensearch, ``--es-index``) and
  ``--local-indexing`` (``collected-metrics-<UUID>/``), each scraping the ``--profile-type`` profiles
  (``--metrics-profile``, ``metrics-report.yml``) from the cluster's Prometheus, and ``alerts.yml`` with
  ``--alerting`` (its alerts indexed everywhere).  That Prometheus is ``--prometheus-url`` (with
  ``--prometheus-token[-file]``) or discovered whenever ``--alerting`` or an indexer needs it: the route
  ``openshift-monitoring/prometheus-k8s`` of the guest (``https://`` + spec.host) and a 10 h TokenRequest of
  that service account (a failure is fatal: ``Error obtaining prometheus information from cluster: …``).
* Per entry: an indexer when ``indexer.type`` is set (``📁 Creating <type> indexer: <alias or
  indexer-<pos>>``; ES servers are loopback only, ``user:pass@`` becomes basic auth and is only ever shown
  masked); a Prometheus client when it has metrics or alerts and an endpoint (``👽 Initializing prometheus
  client with URL: …``), which queries ``up{}`` at once — 401/403/503 are fatal (``client_error: client
  error: 401``); every metrics profile needs the entry's indexer (``Metrics profile is configured for
  endpoint #N but no indexer was defined``) and is rendered with the environment, the workload's variables
  and ``--set k=v,k2=v2`` (repeatable): a missing variable (``HOSTED_CLUSTER_NAMESPACE`` for
  ``etcd-density-metrics-hcp.yml``) is fatal.  ``https://<host>`` endpoints reach the world's simulated
  Prometheus of the cluster whose route has that host (world.json's ``prometheus_url_template``); loopback
  URLs are used as they are.
* After the job each client runs every profile query over [job start, job end] at its step (``instant``
  ones at start and end) and its ``<metricName>`` documents go to ITS entry's indexer only (local:
  ``<metricsDirectory>/<metricName>.json``; ES: ``_bulk`` to ``defaultIndex``); jobSummary and the
  measurements go to EVERY indexer.  Alert managers query their profile (embedded ``alerts.yml`` or a
  file) over the job: severity error -> rc 3, critical -> exit 3 at once, ``alert`` documents to the
  entry's indexer.  The embedded profiles are small tables of real metric names (``EMBEDDED_METRICS``).

The time it takes is modelled (:class:`sim.model.ModelParams`, ``load_*``) in simulated seconds,
compressed by the world's ``speed`` like everything else; ``--timeout`` is real time (rc 2).  Faults
by the hosted cluster's index (trailing digits of its name, read from the guest kubeconfig's server
URL ``…/guests/<ns>/<name>``): ``load_fail_clusters`` (object creation fails, rc 1),
``load_slow_clusters`` (creation and churn ``load_slow_factor`` times slower),
``load_alert_clusters`` (that cluster's Prometheus has a critical ``ClusterOperatorDown`` firing, so
``alerts.yml`` on it gives an alert of severity error, rc 3).

Logs are logrus text lines (``time="…" level=info msg="…" file="…"``) on stdout (stderr with
``--enable-file-logging=false``); a run that reaches the benchmark ends with
``msg="👋 kube-burner run completed with rc <N> for UUID <uuid>"``, a setup failure with a
``level=fatal`` line (exit 1).  Exit code = rc (0 ok, 1 setup/creation, 2 timeout, 3 alert,
4 measurement threshold).  It only talks to loopback addresses.
"""
from __future__ import annotations

import base64
import datetime as _dt
import http.client
import json
import math
import os
import random
import re
import signal
import ssl
import sys
import tempfile
import time
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from sim.standin.hypershift import (Command, CommandError, Flag, format_duration, load_world, parse,
                                   parse_duration)

VERSION = "1.12.1"
GIT_COMMIT = "d09cdd30b24f5e1a7ed5e1a7ed5e1a7ed5e1a7ed"
BUILD_DATE = "2026-08-21T09:12:44Z"
GO_VERSION = "go1.24.6"
KB_VERSION = f"{VERSION}@{GIT_COMMIT[:10]}"
WORKER_SELECTOR = "node-role.kubernetes.io/worker=,node-role.kubernetes.io/infra!=,node-role.kubernetes.io/workload!="
LABEL_JOB = "kube-burner.io/job"
LABEL_UUID = "kube-burner.io/uuid"
LABEL_RUNID = "kube-burner.io/runid"
LABEL_INDEX = "kube-burner.io/index"
LABEL_ITERATION = "kube-burner.io/job-iteration"
LABEL_REPLICA = "kube-burner.io/replica"
LABEL_CHURN_DELETE = "kube-burner.io/churn-delete"
REQUEST_TIMEOUT = 30.0
MAX_CHURN_ROUNDS = 100000
MAX_WAIT_TIMEOUT = 4 * 3600.0   # the workloads' maxWaitTimeout
MONITORING_NAMESPACE = "openshift-monitoring"
PROMETHEUS = "prometheus-k8s"
TOKEN_EXPIRATION = 10 * 3600    # go-commons ocp-metadata's tokenExpiration (10h)


class Fatal(Exception):
    """log.Fatal: logged at level fatal, exit 1."""


class Timeout(Exception):
    """The benchmark's --timeout (real time) was reached."""


# ===================================================================== logging
_PLAIN = re.compile(r"^[A-Za-z0-9\-._/@^+]+$")
_LEVELS = {"panic": 0, "fatal": 1, "error": 2, "warn": 3, "warning": 3, "info": 4, "debug": 5, "trace": 6}


def _logfmt(value: str) -> str:
    """logrus TextFormatter quoting (``%q`` when anything but ``[A-Za-z0-9-._/@^+]`` is in it)."""
    if value and _PLAIN.match(value):
        return value
    return json.dumps(value, ensure_ascii=False)


class Log:
    """logrus text lines: ``time="2026-08-01 10:00:00" level=info msg="…" file="job.go:123"``."""

    def __init__(self, stream=None):
        self.streams = [stream or sys.stdout]
        self.level = _LEVELS["info"]
        self._file = None

    def set_level(self, name: str) -> None:
        lvl = _LEVELS.get(name.lower())
        if lvl is None:
            raise Fatal(f'not a valid logrus Level: "{name}"')
        self.level = lvl

    def to_file(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")
        self.streams.append(self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self.streams.remove(self._file)
            self._file = None

    def emit(self, level: str, msg: str, src: str = "job.go:0") -> None:
        name = "warning" if level == "warn" else level
        if _LEVELS[name] > self.level:
            return
        line = (f'time="{time.strftime("%Y-%m-%d %H:%M:%S")}" level={name} msg={_logfmt(msg)} '
                f'file="{src}"\n')
        for s in self.streams:
            try:
                s.write(line)
                s.flush()
            except (OSError, ValueError):
                pass

    def debug(self, msg: str, src: str = "job.go:0") -> None:
        self.emit("debug", msg, src)

    def info(self, msg: str, src: str = "job.go:0") -> None:
        self.emit("info", msg, src)

    def warn(self, msg: str, src: str = "job.go:0") -> None:
        self.emit("warning", msg, src)

    def error(self, msg: str, src: str = "job.go:0") -> None:
        self.emit("error", msg, src)

    def fatal(self, msg: str, src: str = "ocp.go:94") -> None:
        self.emit("fatal", msg, src)


# ================================================================= guest API
class ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str = ""):
        super().__init__(message)
        self.status = status
        self.reason = reason


def _is_loopback(host: str | None) -> bool:
    return (host or "").lower() in ("127.0.0.1", "localhost", "::1") or (host or "").startswith("127.")


class Kube:
    """A minimal Kubernetes REST client (bearer token, loopback only) over one keep-alive connection."""

    def __init__(self, server: str, token: str | None, insecure: bool = False, ca_data: str | None = None):
        self.server = server.rstrip("/")
        parts = urlsplit(self.server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Fatal(f'invalid configuration: host must be a URL or a host:port pair: "{server}"')
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base = parts.path.rstrip("/")
        self.token = token
        self.context = None
        if parts.scheme == "https":
            self.context = ssl.create_default_context()
            if insecure:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
            elif ca_data:
                self.context.load_verify_locations(cadata=base64.b64decode(ca_data).decode())
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if not _is_loopback(self.host):
                raise ConnectionRefusedError("the simulated world only reaches loopback addresses")
            if self.scheme == "https":
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=REQUEST_TIMEOUT,
                                                         context=self.context)
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None, query: dict | None = None,
                content_type: str = "application/json") -> Any:
        url_path = self.base + path + (("?" + urlencode(query)) if query else "")
        headers = {"Accept": "application/json", "User-Agent": f"kube-burner-ocp/{VERSION}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        verb = method.capitalize()
        shown = f"{self.scheme}://{self.host}:{self.port}{url_path}"
        for attempt in (1, 2):   # one reconnect when a kept-alive connection went away
            try:
                conn = self._connection()
                conn.request(method, url_path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except ConnectionRefusedError as exc:
                self.close()
                raise ApiError(0, f'{verb} "{shown}": dial tcp {self.host}:{self.port}: connect: '
                                  f'{"connection refused" if _is_loopback(self.host) else exc}') from None
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise ApiError(0, f'{verb} "{shown}": {exc}') from None
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {"message": raw.decode(errors="replace")[:200]}
        if resp.status >= 400:
            msg = doc.get("message") if isinstance(doc, dict) else None
            if resp.status == 401:
                msg = "Unauthorized"
            raise ApiError(resp.status, msg or f"the server responded with status {resp.status}",
                           doc.get("reason", "") if isinstance(doc, dict) else "")
        return doc


def _kubeconfig_path() -> str | None:
    env = os.environ.get("KUBECONFIG")
    if env:
        return env           # one path only: a colon-separated list is not handled (as kube-burner-ocp)
    home = os.path.expanduser("~/.kube/config")
    return home if os.path.exists(home) else None


def connect() -> tuple[Kube, str | None, str | None]:
    """The client for ``KUBECONFIG`` and the hosted cluster it points at: (kube, namespace, name)."""
    import yaml

    path = _kubeconfig_path()
    if not path:
        raise Fatal("invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER "
                    "environment variable")
    try:
        with open(path, encoding="utf-8") as fh:
            kc = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise Fatal(f"stat {path}: {(exc.strerror or str(exc)).lower()}") from None
    except yaml.YAMLError as exc:
        raise Fatal(f"error loading config file \"{path}\": {exc}") from None
    if not isinstance(kc, dict):
        raise Fatal(f'error loading config file "{path}": not a kubeconfig')
    ctx_name = kc.get("current-context")
    ctx = next((c.get("context") or {} for c in kc.get("contexts") or [] if c.get("name") == ctx_name), None)
    if ctx is None:
        raise Fatal("invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER "
                    "environment variable")
    cluster = next((c.get("cluster") or {} for c in kc.get("clusters") or [] if c.get("name") == ctx.get("cluster")),
                   {})
    user = next((u.get("user") or {} for u in kc.get("users") or [] if u.get("name") == ctx.get("user")), {})
    server = cluster.get("server") or ""
    if not server:
        raise Fatal("invalid configuration: no server found for cluster \"%s\"" % ctx.get("cluster"))
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            with open(user["tokenFile"], encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise Fatal(f"open {user['tokenFile']}: {(exc.strerror or str(exc)).lower()}") from None
    kube = Kube(server, token, bool(cluster.get("insecure-skip-tls-verify")), cluster.get("certificate-authority-data"))
    m = re.search(r"/guests/([^/]+)/([^/]+)/?$", urlsplit(server).path)
    return kube, (m.group(1) if m else None), (m.group(2) if m else None)


# ======================================================================= time
class Clock:
    """Simulated time spent as real sleeps (``speed`` simulated seconds per real second), bounded by the
    benchmark's real-time deadline."""

    def __init__(self, speed: float, factor: float = 1.0):
        self.speed = max(float(speed), 1e-6)
        self.factor = factor
        self.sim = 0.0
        self.deadline: float | None = None

    def arm(self, timeout: float) -> None:
        """Start the benchmark's timeout (like Go's ``time.After``: 0 or less fires at once)."""
        self.deadline = time.monotonic() + max(0.0, timeout)

    def disarm(self) -> None:
        self.deadline = None

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise Timeout()

    def spend(self, sim_seconds: float, scaled: bool = True) -> None:
        s = max(0.0, sim_seconds) * (self.factor if scaled else 1.0)
        self.sim += s
        real = s / self.speed
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= real:
                time.sleep(max(0.0, left))
                raise Timeout()
        time.sleep(real)


def _utc(epoch: float | None = None) -> str:
    """RFC 3339 with microseconds trimmed like Go's RFC3339Nano (``2026-08-01T11:00:02.5Z``)."""
    t = _dt.datetime.fromtimestamp(epoch if epoch is not None else time.time(), _dt.timezone.utc)
    text = t.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _go_ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _flag_string(flag: Flag, value: Any) -> str:
    """pflag's ``Value.String()``."""
    if flag.kind == "bool":
        return "true" if value else "false"
    if flag.kind == "duration":
        return format_duration(value or 0)
    if flag.kind == "stringSlice":
        return "[" + ",".join(value or []) + "]"
    if flag.kind == "stringToString":
        return "[" + ",".join(f"{k}={v}" for k, v in sorted((value or {}).items())) + "]"
    return str(value)


def _camel(name: str) -> str:
    parts = name.split("-")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


# ============================================================ templates (Go text/template, the subset used)
class TemplateError(Exception):
    """A Go template that does not execute (missing key, unknown function, bad action)."""


_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.S)
_FIELD = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)$")
_LABEL_REF = re.compile(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)$")


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def render_template(text: str, data: dict, name: str = "") -> str:
    """Render ``text`` like Go's text/template with ``missingkey=error`` over the map ``data``: ``{{.KEY}}``
    (``{{- … -}}`` trims), comments; alert descriptions also ``{{$labels.x}}`` and ``{{$value}}`` (from
    ``data["$labels"]``/``data["$value"]``).  Anything else is an error, as an unknown function would be."""
    out: list[str] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(text):
        before = text[pos:m.start()]
        if trim_next:
            before = before.lstrip()
        if m.group(1):
            before = before.rstrip()
        out.append(before)
        expr = m.group(2).strip()
        at = m.start() + 2 + (len(m.group(1)) if m.group(1) else 0) + (len(m.group(2)) - len(m.group(2).lstrip()))
        line = 1 + text.count("\n", 0, at)
        col = at - (text.rfind("\n", 0, at) + 1)
        where = f"{name}:{line}:{col}"
        if expr.startswith("/*") and expr.endswith("*/"):
            pass
        elif _FIELD.match(expr):
            key = _FIELD.match(expr).group(1)
            if key not in data:
                raise TemplateError(f'template: {where}: executing "{name}" at <.{key}>: map has no entry for key '
                                    f'"{key}"')
            out.append(_go_text(data[key]))
        elif _LABEL_REF.match(expr) and isinstance(data.get("$labels"), dict):
            out.append(_go_text(data["$labels"].get(_LABEL_REF.match(expr).group(1), "<no value>")))
        elif expr == "$value" and "$value" in data:
            out.append(_go_text(data["$value"]))
        else:
            word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", expr)
            if word:
                raise TemplateError(f'template: {name}:{line}: function "{word.group(0)}" not defined')
            raise TemplateError(f"template: {name}:{line}: unexpected {expr[:20]!r} in command")
        trim_next = bool(m.group(3))
        pos = m.end()
    rest = text[pos:]
    out.append(rest.lstrip() if trim_next else rest)
    return "".join(out)


_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]*):([^/@\s]*)@")


def mask_credentials(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host`` everywhere in ``text``."""
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:***@", text)


# ====================================================== the --metrics-endpoint file
@dataclass
class IndexerConfig:
    type: str = ""
    es_servers: list = field(default_factory=list)
    default_index: str = ""
    insecure_skip_verify: bool = False
    metrics_directory: str = ""
    create_tarball: bool = False
    tarball_name: str = ""


@dataclass
class MetricsEndpoint:
    endpoint: str = ""
    token: str = ""
    username: str = ""
    password: str = ""
    alias: str = ""
    step: float = 30.0
    skip_tls_verify: bool = True
    metrics: list = field(default_factory=list)
    alerts: list = field(default_factory=list)
    indexer: IndexerConfig = field(default_factory=IndexerConfig)


# yaml name -> (attribute, kind)
_ENDPOINT_FIELDS = {"endpoint": ("endpoint", "str"), "token": ("token", "str"), "username": ("username", "str"),
                    "password": ("password", "str"), "alias": ("alias", "str"), "step": ("step", "duration"),
                    "skipTLSVerify": ("skip_tls_verify", "bool"), "metrics": ("metrics", "strlist"),
                    "alerts": ("alerts", "strlist"), "indexer": ("indexer", "indexer")}
_INDEXER_FIELDS = {"type": ("type", "str"), "esServers": ("es_servers", "strlist"),
                   "defaultIndex": ("default_index", "str"), "insecureSkipVerify": ("insecure_skip_verify", "bool"),
                   "metricsDirectory": ("metrics_directory", "str"), "createTarball": ("create_tarball", "bool"),
                   "tarballName": ("tarball_name", "str")}
_GO_TYPES = {"str": "string", "bool": "bool", "duration": "time.Duration", "strlist": "[]string",
             "indexer": "indexers.IndexerConfig"}
_YAML_TAG = "tag:yaml.org,2002:"


def _tag(node) -> str:
    tag = node.tag or ""
    return "!!" + tag[len(_YAML_TAG):] if tag.startswith(_YAML_TAG) else tag


def _scalar_text(node) -> str:
    text = mask_credentials(str(node.value))
    return text if len(text) <= 40 else text[:37] + "..."


def _decode_value(node, kind: str, errors: list[str]) -> Any:
    import yaml

    line = node.start_mark.line + 1
    null = isinstance(node, yaml.ScalarNode) and _tag(node) == "!!null"

    def bad() -> None:
        shown = f" `{_scalar_text(node)}`" if isinstance(node, yaml.ScalarNode) else ""
        errors.append(f"line {line}: cannot unmarshal {_tag(node)}{shown} into {_GO_TYPES[kind]}")

    if kind == "indexer":
        if null:
            return IndexerConfig()
        if not isinstance(node, yaml.MappingNode):
            bad()
            return IndexerConfig()
        return _decode_struct(node, IndexerConfig(), _INDEXER_FIELDS, "indexers.IndexerConfig", errors)
    if kind == "strlist":
        if null:
            return []
        if not isinstance(node, yaml.SequenceNode):
            bad()
            return []
        items = []
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and _tag(item) != "!!null":
                items.append(str(item.value))
            elif not (isinstance(item, yaml.ScalarNode)):
                _decode_value(item, "str", errors)
            else:
                items.append("")
        return items
    if not isinstance(node, yaml.ScalarNode):
        bad()
        return None
    if null:
        return None
    if kind == "str":
        return str(node.value)
    if kind == "bool":
        if _tag(node) == "!!bool":
            return str(node.value).lower() in ("true", "yes", "on", "y")
        bad()
        return None
    if kind == "duration":
        if _tag(node) != "!!str":
            bad()
            return None
        try:
            return parse_duration(str(node.value))
        except ValueError:
            bad()
            return None
    return None   # pragma: no cover


def _decode_struct(node, target: Any, fields: dict, go_type: str, errors: list[str]) -> Any:
    import yaml

    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""
        spec = fields.get(key)
        if spec is None:   # yaml.v3 KnownFields(true)
            errors.append(f"line {key_node.start_mark.line + 1}: field {key} not found in type {go_type}")
            continue
        attr, kind = spec
        value = _decode_value(value_node, kind, errors)
        if value is not None:
            setattr(target, attr, value)
    return target


def decode_metrics_endpoints(text: str) -> list[MetricsEndpoint]:
    """The rendered file as yaml.v3 with KnownFields(true) decodes it into ``[]metricEndpoint``; raises
    ValueError with yaml.v3's message (``yaml: unmarshal errors:\\n  line N: field x not found in type …``)."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ValueError(mask_credentials(f"yaml: {where}{getattr(exc, 'problem', None) or exc}")) from None
    if root is None or (isinstance(root, yaml.ScalarNode) and _tag(root) == "!!null"):
        return []
    errors: list[str] = []
    out: list[MetricsEndpoint] = []
    if not isinstance(root, yaml.SequenceNode):
        shown = f" `{_scalar_text(root)}`" if isinstance(root, yaml.ScalarNode) else ""
        raise ValueError(f"yaml: unmarshal errors:\n  line {root.start_mark.line + 1}: cannot unmarshal "
                         f"{_tag(root)}{shown} into []metrics.metricEndpoint")
    for item in root.value:
        if not isinstance(item, yaml.MappingNode):
            shown = f" `{_scalar_text(item)}`" if isinstance(item, yaml.ScalarNode) else ""
            errors.append(f"line {item.start_mark.line + 1}: cannot unmarshal {_tag(item)}{shown} into "
                          f"metrics.metricEndpoint")
            continue
        out.append(_decode_struct(item, MetricsEndpoint(), _ENDPOINT_FIELDS, "metrics.metricEndpoint", errors))
    if errors:
        raise ValueError("yaml: unmarshal errors:\n  " + "\n  ".join(errors))
    return out


def load_metrics_endpoints(path: str) -> list[MetricsEndpoint]:
    """kube-burner's DecodeMetricsEndpoint: read ``path``, render it as a Go template with the process
    environment as the data (a missing key is an error), decode it (unknown keys are errors)."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = fh.read()
    except OSError as exc:
        raise Fatal(f"Error reading metricsEndpoint {path}: open {path}: {(exc.strerror or str(exc)).lower()}") \
            from None
    try:
        rendered = render_template(raw, dict(os.environ))
    except TemplateError as exc:
        raise Fatal(f"Template error in {path}: {exc}") from None
    try:
        return decode_metrics_endpoints(rendered)
    except ValueError as exc:
        raise Fatal(f"Error decoding metricsEndpoint {path}: {exc}") from None


# ================================================================ indexers
class Indexer:
    """go-commons' indexers, collecting documents per metric name until :meth:`flush`."""

    type = ""

    def __init__(self, alias: str):
        self.alias = alias
        self.docs: dict[str, list[dict]] = {}

    def add(self, metric: str, docs: list[dict]) -> None:
        self.docs.setdefault(metric, []).extend(docs)

    def flush(self, log: Log) -> None:   # pragma: no cover - abstract
        raise NotImplementedError


class LocalIndexer(Indexer):
    type = "local"

    def __init__(self, alias: str, cfg: IndexerConfig):
        super().__init__(alias)
        self.directory = cfg.metrics_directory
        self.create_tarball = cfg.create_tarball
        self.tarball_name = cfg.tarball_name

    def flush(self, log: Log) -> None:
        if self.docs:
            os.makedirs(self.directory, exist_ok=True)
        for metric, items in self.docs.items():
            path = os.path.join(self.directory, f"{metric}.json")
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{metric}.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(items, fh, indent=2, ensure_ascii=False)
            os.replace(tmp, path)
            os.chmod(path, 0o644)
            log.info(f"File {path} created with {len(items)} documents", "local.go:74")
        self.docs = {}
        if self.create_tarball and os.path.isdir(self.directory):
            import tarfile

            name = self.tarball_name or f"kube-burner-metrics-{int(time.time())}.tgz"
            with tarfile.open(name, "w:gz") as tar:
                tar.add(self.directory, arcname=os.path.basename(os.path.normpath(self.directory)))
            log.info(f"Metrics tarball generated at {name}", "tarball.go:61")


class EsIndexer(Indexer):
    """opensearch/elastic: ``_bulk`` to ``defaultIndex`` of the first server (loopback only); credentials
    from ``https://user:pass@host`` go into basic auth and never into a log line."""

    def __init__(self, alias: str, cfg: IndexerConfig, log: Log):
        super().__init__(alias)
        self.type = cfg.type
        if not cfg.es_servers:
            raise ValueError("no ES servers specified")
        if not cfg.default_index:
            raise ValueError("index name not specified")
        self.server = str(cfg.es_servers[0]).rstrip("/")
        self.index_name = cfg.default_index
        log.debug(f"Using {cfg.type} server {mask_credentials(self.server)}, index {self.index_name}",
                  "opensearch.go:61")
        try:
            _http_json("GET", self.server + "/", None)
        except OSError as exc:
            raise ValueError(f"ES health check failed: {mask_credentials(str(exc))}") from None

    def flush(self, log: Log) -> None:
        flat = [d for items in self.docs.values() for d in items]
        self.docs = {}
        if not flat:
            return
        indexed = bad = 0
        for at in range(0, len(flat), 1000):       # bulk requests of at most 1000 documents
            chunk = flat[at:at + 1000]
            lines = []
            for d in chunk:
                lines.append(json.dumps({"index": {"_index": self.index_name}}))
                lines.append(json.dumps(d, ensure_ascii=False))
            try:
                resp = _http_json("POST", self.server + "/_bulk", ("\n".join(lines) + "\n").encode(),
                                  "application/x-ndjson")
            except OSError as exc:
                log.error(f"Indexing error: {mask_credentials(str(exc))}", "opensearch.go:108")
                bad += len(chunk)
                continue
            failed = sum(1 for it in (resp.get("items") or []) if isinstance(it, dict)
                         and (next(iter(it.values()), {}) or {}).get("error")) if isinstance(resp, dict) else 0
            bad += failed
            indexed += len(chunk) - failed
        if bad:
            log.error(f"Indexing error: {bad} documents were not indexed", "opensearch.go:113")
        log.info(f"Indexed {indexed} documents in {self.index_name}", "opensearch.go:120")


def make_indexer(alias: str, cfg: IndexerConfig, log: Log) -> Indexer:
    if cfg.type == "local":
        if not cfg.metrics_directory:
            raise ValueError("directory name not specified")
        return LocalIndexer(alias, cfg)
    if cfg.type in ("opensearch", "elastic"):
        return EsIndexer(alias, cfg, log)
    raise ValueError(f"indexer not found: {cfg.type}")


# ================================================================ Prometheus
class PromError(Exception):
    """An error of the Prometheus API client (client_golang's ``<type>: <message>``)."""


def _go_float(x: float) -> str:
    """strconv.FormatFloat(x, 'f', -1, 64)."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text[:-2] if text.endswith(".0") else text


class PromClient:
    """go-commons' Prometheus client: ``up{}`` checked on creation; POST form queries.  ``https://<host>`` of a
    route is reached through world.json's ``prometheus_url_template`` (the world's router); a loopback URL
    directly."""

    def __init__(self, endpoint: str, token: str, username: str, password: str, skip_tls: bool,
                 world: dict):
        self.endpoint = endpoint
        self.token = token or ""
        self.username, self.password = username or "", password or ""
        parts = urlsplit(endpoint)
        self.host = (parts.hostname or "").lower()
        self.base: str | None = None
        if parts.scheme in ("http", "https") and self.host:
            path = parts.path.rstrip("/")
            if _is_loopback(self.host):
                port = parts.port or (443 if parts.scheme == "https" else 80)
                self.base = f"{parts.scheme}://{self.host}:{port}{path}"
            elif world.get("prometheus_url_template"):
                self.base = str(world["prometheus_url_template"]).format(host=self.host) + path
        self.skip_tls = skip_tls
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _post(self, api: str, form: dict) -> Any:
        shown = f'Post "{self.endpoint.rstrip("/")}{api}"'
        if self.base is None:
            parts = urlsplit(self.endpoint)
            if parts.scheme not in ("http", "https"):
                raise PromError(f'{shown}: unsupported protocol scheme "{parts.scheme}"')
            raise PromError(f"{shown}: dial tcp: lookup {self.host}: no such host")
        url = urlsplit(self.base + api)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                   "User-Agent": "Go-http-client/1.1"}
        if self.username:
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{self.username}:{self.password}".encode()).decode()
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = urlencode(form).encode()
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    if url.scheme == "https":
                        ctx = ssl._create_unverified_context() if self.skip_tls else ssl.create_default_context()
                        self._conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT,
                                                                 context=ctx)
                    else:
                        self._conn = http.client.HTTPConnection(url.hostname, url.port, timeout=REQUEST_TIMEOUT)
                self._conn.request("POST", url.path, body=data, headers=headers)
                resp = self._conn.getresponse()
                raw = resp.read()
                break
            except ConnectionRefusedError:
                self.close()
                raise PromError(f"{shown}: dial tcp {url.hostname}:{url.port}: connect: connection refused") \
                    from None
            except (http.client.HTTPException, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise PromError(f"{shown}: {exc}") from None
        code = resp.status
        if code // 100 != 2 and code not in (400, 422):
            kind = "client_error: client error" if code // 100 == 4 else \
                "server_error: server error" if code // 100 == 5 else "bad_response: bad response code"
            raise PromError(f"{kind}: {code}")
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise PromError(f"bad_response: {exc}") from None
        if doc.get("status") == "error":
            raise PromError(f"{doc.get('errorType', '')}: {doc.get('error', '')}")
        return doc.get("data") or {}

    def query(self, query: str, at: float) -> list[tuple[dict, list]]:
        data = self._post("/api/v1/query", {"query": query, "time": _go_float(at)})
        if data.get("resultType") != "vector":
            raise PromError(f"unsupported result format: {data.get('resultType')}")
        return [(r.get("metric") or {}, [(float(r["value"][0]), _sample(r["value"][1]))])
                for r in data.get("result") or []]

    def query_range(self, query: str, start: float, end: float, step: float) -> list[tuple[dict, list]]:
        data = self._post("/api/v1/query_range", {"query": query, "start": _go_float(start),
                                                   "end": _go_float(end), "step": _go_float(step)})
        if data.get("resultType") != "matrix":
            raise PromError(f"unsupported result format: {data.get('resultType')}")
        return [(r.get("metric") or {}, [(float(t), _sample(v)) for t, v in r.get("values") or []])
                for r in data.get("result") or []]

    def verify(self) -> None:
        """go-commons' verifyConnection: ``up{}`` at now."""
        self.query("up{}", time.time())


def _sample(text: Any) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(value) else value


# =============================================================== profiles
# Small, honest query tables standing in for the profiles embedded in kube-burner-ocp (the metric names
# are the real ones; the simulated Prometheus knows them, see sim/prometheus.py).
EMBEDDED_METRICS = {
    "metrics.yml": """\
# API server
- query: sum(irate(apiserver_request_total{verb=~"GET|LIST|POST|PUT|PATCH|DELETE"}[2m])) by (verb,resource,code) > 0
  metricName: APIRequestRate
- query: histogram_quantile(0.99, sum(irate(apiserver_request_duration_seconds_bucket{verb=~"GET|LIST|POST|PUT|PATCH|DELETE"}[2m])) by (verb,resource,le)) > 0
  metricName: API99thLatency
# nodes
- query: sum(irate(node_cpu_seconds_total[2m])) by (mode,instance) > 0
  metricName: nodeCPU
- query: avg(node_memory_MemAvailable_bytes) by (instance)
  metricName: nodeMemoryAvailable
- query: avg(node_memory_MemTotal_bytes) by (instance)
  metricName: nodeMemoryTotal
# monitoring stack
- query: sum(irate(container_cpu_usage_seconds_total{namespace="openshift-monitoring",container!=""}[2m])) by (pod,container) > 0
  metricName: containerCPU-Monitoring
- query: sum(container_memory_working_set_bytes{namespace="openshift-monitoring",container!=""}) by (pod,container)
  metricName: containerMemory-Monitoring
""",
    "metrics-aggregated.yml": """\
- query: sum(irate(apiserver_request_total{verb=~"GET|LIST|POST|PUT|PATCH|DELETE"}[2m])) by (verb) > 0
  metricName: APIRequestRate
- query: avg(irate(node_cpu_seconds_total[2m])) by (mode) > 0
  metricName: nodeCPU-AggregatedWorkers
- query: avg(node_memory_MemAvailable_bytes)
  metricName: nodeMemoryAvailable-AggregatedWorkers
- query: avg(node_memory_MemTotal_bytes)
  metricName: nodeMemoryTotal-AggregatedWorkers
""",
    "metrics-report.yml": """\
- query: max_over_time(sum(irate(apiserver_request_total{verb=~"GET|LIST|POST|PUT|PATCH|DELETE"}[2m]))[{{.elapsed}}:])
  metricName: maxAPIRequestRate
  instant: true
- query: avg(avg_over_time(node_memory_MemAvailable_bytes[{{.elapsed}}:])) by (instance)
  metricName: avgNodeMemoryAvailable
  instant: true
- query: avg(avg_over_time(sum(irate(node_cpu_seconds_total{mode!="idle"}[2m])) by (instance)[{{.elapsed}}:])) by (instance)
  metricName: avgNodeCPUUsage
  instant: true
""",
    "metrics-egressip.yml": """\
- query: sum(ovnkube_clustermanager_num_egress_ips)
  metricName: egressIPCount
- query: histogram_quantile(0.99, sum(rate(ovnkube_controller_egress_routing_via_gw_bucket[2m])) by (le))
  metricName: egressIPRoutingLatency
""",
    "etcd-density-metrics-hcp.yml": """\
# the hosted control plane's etcd and API server, in its namespace on the management cluster
- query: avg by (pod) (etcd_mvcc_db_total_size_in_bytes{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}"})
  metricName: etcdDBTotalSize
- query: etcd_server_quota_backend_bytes{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}"}
  metricName: etcdQuotaBackendBytes
- query: histogram_quantile(0.99, sum(rate(etcd_disk_wal_fsync_duration_seconds_bucket{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}"}[2m])) by (pod, le))
  metricName: 99thEtcdDiskWalFsyncDurationSeconds
- query: histogram_quantile(0.99, sum(rate(etcd_disk_backend_commit_duration_seconds_bucket{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}"}[2m])) by (pod, le))
  metricName: 99thEtcdDiskBackendCommitDurationSeconds
- query: sum(irate(apiserver_request_total{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}",verb!="WATCH"}[2m])) by (verb,resource,code) > 0
  metricName: APIRequestRate-HCP
- query: sum(irate(container_cpu_usage_seconds_total{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}",container!=""}[2m])) by (pod,container) > 0
  metricName: podCPU-ControlPlane
- query: sum(container_memory_working_set_bytes{namespace="{{.HOSTED_CLUSTER_NAMESPACE}}",container!=""}) by (pod,container)
  metricName: podMemory-ControlPlane
""",
}
EMBEDDED_PROFILES = tuple(EMBEDDED_METRICS)
EMBEDDED_ALERTS = {
    "alerts.yml": """\
- expr: max_over_time(ALERTS{severity="critical",alertstate="firing"}[{{.elapsed}}:]) > 0
  description: Critical prometheus alert. {{$labels.alertname}}
  severity: error
- expr: avg_over_time(histogram_quantile(0.99, rate(etcd_disk_wal_fsync_duration_seconds_bucket[2m]))[{{.elapsed}}:]) > 0.01
  description: 5 minutes avg. 99th etcd fsync latency on {{$labels.pod}} higher than 10ms. {{$value}}s
  severity: warning
- expr: up{job=~"crio|kubelet"} == 0
  description: "{{$labels.node}}/{{$labels.job}} down"
  severity: warning
""",
}


def _profile_text(name: str, embedded: dict, what: str) -> str:
    if name in embedded:
        return embedded[name]
    try:
        with open(name, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise Fatal(f"error reading {what} {name}: open {name}: {(exc.strerror or str(exc)).lower()}") from None


def _decode_list(text: str, name: str, what: str, fields: dict) -> list[dict]:
    """yaml.v3 with KnownFields(true) into a list of structs with the given (yaml name -> kind) fields."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise Fatal(f"error decoding {what} {name}: yaml: {getattr(exc, 'problem', None) or exc}") from None
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise Fatal(f"error decoding {what} {name}: yaml: unmarshal errors:\n  line {root.start_mark.line + 1}: "
                    f"cannot unmarshal {_tag(root)} into a list")
    out, errors = [], []
    for item in root.value:
        if not isinstance(item, yaml.MappingNode):
            errors.append(f"line {item.start_mark.line + 1}: cannot unmarshal {_tag(item)} into a struct")
            continue
        entry: dict = {}
        for key_node, value_node in item.value:
            key = str(key_node.value)
            if key not in fields:
                errors.append(f"line {key_node.start_mark.line + 1}: field {key} not found in type {fields['']}")
                continue
            if not isinstance(value_node, yaml.ScalarNode):
                errors.append(f"line {value_node.start_mark.line + 1}: cannot unmarshal {_tag(value_node)} into "
                              f"{fields[key]}")
                continue
            if fields[key] == "bool":
                if _tag(value_node) != "!!bool":
                    errors.append(f"line {value_node.start_mark.line + 1}: cannot unmarshal {_tag(value_node)} "
                                  f"`{value_node.value}` into bool")
                    continue
                entry[key] = str(value_node.value).lower() in ("true", "yes", "on", "y")
            else:
                entry[key] = "" if _tag(value_node) == "!!null" else str(value_node.value)
        out.append(entry)
    if errors:
        raise Fatal(f"error decoding {what} {name}: yaml: unmarshal errors:\n  " + "\n  ".join(errors))
    return out


_METRIC_FIELDS = {"": "prometheus.metricDefinition", "query": "string", "metricName": "string", "instant": "bool",
                  "captureStart": "bool"}
_ALERT_FIELDS = {"": "alerting.alertProfile", "expr": "string", "description": "string", "severity": "string"}


def read_metric_profile(name: str, data: dict) -> list[dict]:
    """A metrics profile (embedded, else the file): rendered with the template variables ``data``
    (missing key: fatal), decoded; every entry needs ``query`` and ``metricName``."""
    try:
        text = render_template(_profile_text(name, EMBEDDED_METRICS, "metrics profile"), data, name)
    except TemplateError as exc:
        raise Fatal(f"error rendering metrics profile {name}: {exc}") from None
    metrics = _decode_list(text, name, "metrics profile", _METRIC_FIELDS)
    for i, md in enumerate(metrics):
        if not md.get("query"):
            raise Fatal(f"query not defined in query number {i + 1}")
        if not md.get("metricName"):
            raise Fatal(f"metricName not defined in query number {i + 1}")
    return metrics


def read_alert_profile(name: str) -> list[dict]:
    alerts = _decode_list(_profile_text(name, EMBEDDED_ALERTS, "alert profile"), name, "alert profile",
                          _ALERT_FIELDS)
    for alert in alerts:
        if alert.get("severity") not in ("info", "warning", "error", "critical"):
            raise Fatal(f"Error creating alert manager: invalid severity: {alert.get('severity')}")
        if not alert.get("expr"):
            raise Fatal("Error creating alert manager: alert expression not defined")
    return alerts


@dataclass
class Scraper:
    """One metrics endpoint's Prometheus client, its indexer and its rendered profiles."""

    client: PromClient
    indexer: Indexer | None
    step: float
    profiles: list = field(default_factory=list)     # [(profile name, [metric definitions])]


@dataclass
class AlertManager:
    client: PromClient
    profile: str
    alerts: list
    step: float
    indexers: list | None = None     # None: every indexer of the run (the discovered endpoints)


class CriticalAlert(Exception):
    """An alert of severity critical: kube-burner exits 3 at once."""


# ================================================================== workloads
@dataclass(frozen=True)
class Workload:
    name: str
    objects_per_iteration: int     # API objects the real templates create per iteration (for --qps)
    pods_per_iteration: int        # pods, for the pod latency measurement
    iteration_weight: float        # share of the per-iteration time (load_iteration)
    namespaced: bool = True        # one namespace per iteration (cluster-density) or per N (node-density)


WORKLOADS = {
    "cluster-density-v2": Workload("cluster-density-v2", 37, 10, 1.0),
    "cluster-density-ms": Workload("cluster-density-ms", 36, 8, 1.0),
    "node-density": Workload("node-density", 1, 1, 0.05, namespaced=False),
    "node-density-cni": Workload("node-density-cni", 3, 2, 0.1, namespaced=False),
    "node-density-heavy": Workload("node-density-heavy", 3, 2, 0.1, namespaced=False),
}


@dataclass
class World:
    data: dict
    speed: float = 1.0
    seed: Any = 0
    params: Any = None
    faults: Any = None

    @classmethod
    def load(cls, path: str) -> "World":
        from sim import model

        data = load_world(path)
        fields_ = set(model.ModelParams.__dataclass_fields__)
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in (data.get("model") or {}).items()
              if k in fields_}
        return cls(data=data, speed=float(data.get("speed") or 1.0), seed=data.get("seed", 0),
                   params=model.ModelParams(**kw), faults=model.Faults.from_dict(data.get("faults") or {}))


@dataclass
class Outcome:
    rc: int = 0
    errors: list[str] = field(default_factory=list)
    execution_errors: str = ""


class LoadRun:
    """One ``kube-burner-ocp <workload>`` run."""

    def __init__(self, cmd: Command, values: dict, changed: set, world: World, log: Log):
        self.cmd = cmd
        self.v = values
        self.changed = changed
        self.world = world
        self.log = log
        self.job = cmd.name
        self.workload = WORKLOADS[cmd.name]
        self.uuid = values["uuid"]
        self.runid = str(_uuid.uuid4())
        self.kube: Kube | None = None
        self.cluster_ns: str | None = None
        self.cluster: str | None = None
        self.rng = random.Random(f"{world.seed}/{self.uuid}/load")
        self.clock = Clock(world.speed)
        self.metadata: dict = {}
        self.user_metadata: dict = {}
        self.endpoints: list[MetricsEndpoint] | None = None   # the --metrics-endpoint file's entries
        self.indexers: list[Indexer] = []
        self.scrapers: list[Scraper] = []
        self.alert_managers: list[AlertManager] = []
        self.iterations = 0
        self.namespaces: list[str] = []       # in iteration order
        self.objects_created = 0
        self.served: set[str] = set()
        self.pod_latencies: list[dict] = []
        self.start = self.end = 0.0
        self.churn_start: float | None = None
        self.churn_end: float | None = None
        self.gc_window: tuple[float, float] | None = None   # --gc-metrics: the garbage-collection "job"

    # ------------------------------------------------------------- helpers
    def draw(self, name: str) -> float:
        lo, hi = getattr(self.world.params, name)
        return self.rng.uniform(lo, hi)

    def api(self, method: str, path: str, body: Any = None, query: dict | None = None,
            content_type: str = "application/json") -> Any:
        assert self.kube is not None
        return self.kube.request(method, path, body, query, content_type)

    @property
    def indexing(self) -> bool:
        """The flags give the workload an indexer (without --metrics-endpoint: --local-indexing, --es-server)."""
        return bool(self.v["local-indexing"] or self.v["es-server"])

    # ---------------------------------------------------------------- setup
    def setup(self) -> None:
        v = self.v
        if v["churn-mode"] not in ("namespaces", "objects"):
            raise Fatal(f"Unsupported churn mode: {v['churn-mode']}, valid options are: namespaces, objects")
        if v["deletion-strategy"] not in ("default", "gvr"):
            raise Fatal(f"Unsupported deletion strategy: {v['deletion-strategy']}, valid options are: default, gvr")
        if v["profile-type"] not in ("regular", "reporting", "both"):
            raise Fatal(f"Metrics profile type not supported: {v['profile-type']}, valid options are: regular, "
                        "reporting or both")
        if v["user-metadata"]:
            self.user_metadata = self._read_yaml(v["user-metadata"], "Error reading provided user metadata", dict)
        if v["metrics-endpoint"]:
            self.endpoints = load_metrics_endpoints(v["metrics-endpoint"])
        self.kube, self.cluster_ns, self.cluster = connect()
        try:
            self.api("GET", "/version")
        except ApiError as exc:
            raise Fatal(str(exc)) from None
        self.log.debug(f"Hosted cluster {self.cluster_ns}/{self.cluster}" if self.cluster else
                       f"API server {self.kube.server}")
        faults = self.world.faults
        if self.cluster and faults.load_slow(self.cluster):
            self.clock.factor = float(self.world.params.load_slow_factor)
        health_check(self.kube, self.log, v["ignore-health-check"])
        self.gather_metadata()
        self.discover_served()

    def _read_yaml(self, path: str, what: str, kind: type) -> Any:
        import yaml

        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh)
        except OSError as exc:
            raise Fatal(f"{what}: open {path}: {(exc.strerror or str(exc)).lower()}") from None
        except yaml.YAMLError as exc:
            raise Fatal(f"{what}: {exc}") from None
        if data is None:
            data = kind()
        if not isinstance(data, kind):
            raise Fatal(f"{what}: {path} is not a YAML {'mapping' if kind is dict else 'list'}")
        return data

    def nodes(self, selector: str | None = None) -> list[dict]:
        assert self.kube is not None
        return list_nodes(self.kube, selector)

    def gather_metadata(self) -> None:
        nodes = self.nodes()
        workers = [n for n in nodes if "node-role.kubernetes.io/worker" in (n["metadata"].get("labels") or {})]
        first = nodes[0] if nodes else {"metadata": {}, "status": {}}
        labels = first["metadata"].get("labels") or {}
        info = (first.get("status") or {}).get("nodeInfo") or {}
        runtime = info.get("containerRuntimeVersion", "")
        m = re.search(r"rhaos(\d+\.\d+)", runtime)
        release = str(self.world.data.get("release_version") or "")
        major = m.group(1) if m else ".".join(release.split(".")[:2])
        ocp = release if release.startswith(major + ".") else (f"{major}.0" if major else "")
        self.metadata = {
            "platform": "AWS", "clusterType": "self-managed", "ocpVersion": ocp, "ocpMajorVersion": major,
            "k8sVersion": info.get("kubeletVersion", ""), "controlPlaneTopology": "External",
            "workerNodesCount": len(workers), "masterNodesCount": 0, "infraNodesCount": 0,
            "otherNodesCount": len(nodes) - len(workers), "totalNodes": len(nodes), "sdnType": "OVNKubernetes",
            "clusterName": (first["metadata"].get("annotations") or {}).get("cluster.x-k8s.io/cluster-name")
            or (self.cluster or ""),
            "region": labels.get("topology.kubernetes.io/region") or self.world.data.get("region", ""),
            "fips": False, "publish": "External", "workerArch": labels.get("kubernetes.io/arch", ""),
            "controlPlaneArch": "", "ipsecMode": "Disabled",
        }

    def discover_prometheus(self) -> tuple[str, str]:
        """The cluster's Prometheus as kube-burner-ocp finds it without --metrics-endpoint: --prometheus-url
        (and --prometheus-token[-file]), else the route openshift-monitoring/prometheus-k8s (``https://`` +
        spec.host) and a TokenRequest of the prometheus-k8s service account (10 hours)."""
        v = self.v
        if v["prometheus-url"]:
            token = v["prometheus-token"]
            if v["prometheus-token-file"]:
                try:
                    with open(v["prometheus-token-file"], encoding="utf-8") as fh:
                        token = fh.read().strip()
                except OSError as exc:
                    raise Fatal(f"Error reading prometheus token file: open {v['prometheus-token-file']}: "
                                f"{(exc.strerror or str(exc)).lower()}") from None
            return v["prometheus-url"], token
        try:
            route = self.api("GET", f"/apis/route.openshift.io/v1/namespaces/{MONITORING_NAMESPACE}/routes/"
                                    f"{PROMETHEUS}")
            host = ((route or {}).get("spec") or {}).get("host")
            if not host:
                raise Fatal(f"Error obtaining prometheus information from cluster: host field not found in "
                            f"{MONITORING_NAMESPACE}/{PROMETHEUS} route spec")
            tr = self.api("POST", f"/api/v1/namespaces/{MONITORING_NAMESPACE}/serviceaccounts/{PROMETHEUS}/token",
                          {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "spec": {"expirationSeconds": TOKEN_EXPIRATION}})
        except ApiError as exc:
            raise Fatal(f"Error obtaining prometheus information from cluster: {exc}") from None
        return f"https://{host}", str(((tr or {}).get("status") or {}).get("token") or "")

    def profiles_by_type(self) -> list[str]:
        v = self.v
        regular = list(v["metrics-profile"])
        return {"regular": regular, "reporting": ["metrics-report.yml"],
                "both": regular + ["metrics-report.yml"]}[v["profile-type"]]

    def template_vars(self) -> dict:
        """What metrics profiles are rendered with: the environment, the workload's variables, --set."""
        v = self.v
        data: dict = dict(os.environ)
        data.update({"UUID": self.uuid, "RUN_ID": self.runid, "JOB_ITERATIONS": self.iterations, "QPS": v["qps"],
                     "BURST": v["burst"], "GC": v["gc"], "GC_METRICS": v["gc-metrics"],
                     "CHURN_CYCLES": v.get("churn-cycles", 0),
                     "CHURN_DURATION": format_duration(v.get("churn-duration") or 0),
                     "CHURN_DELAY": format_duration(v.get("churn-delay") or 0),
                     "CHURN_PERCENT": v.get("churn-percent", 0), "CHURN_MODE": v.get("churn-mode", ""),
                     "DELETION_STRATEGY": v.get("deletion-strategy", ""),
                     "POD_READY_THRESHOLD": format_duration(v.get("pod-ready-threshold") or 0),
                     "LOCAL_INDEXING": v["local-indexing"]})
        if not v["metrics-endpoint"]:     # with --metrics-endpoint the workload gets no ES_SERVER
            data.update({"ES_SERVER": v["es-server"], "ES_INDEX": v["es-index"]})
        data.update(v["set"])
        data["elapsed"] = "{{.elapsed}}"    # the job's duration: known when the metrics are scraped
        return data

    def setup_metrics(self) -> None:
        """kube-burner's metrics scraper config: per endpoint an indexer (when ``indexer.type``), a Prometheus
        client (when metrics or alerts and an endpoint; ``up{}`` must answer), its metrics profiles (rendered:
        a missing variable is fatal) and alert managers.

        With --metrics-endpoint the file's list is all there is (--local-indexing has no effect); without it
        the workload's own endpoints: --es-server (opensearch) and --local-indexing
        (``collected-metrics-<uuid>``), both on the discovered Prometheus with the --profile-type profiles
        and, with --alerting, alerts.yml; discovery runs whenever --alerting or an indexer needs it."""
        v, log = self.v, self.log
        shared_alerts = False
        if self.endpoints is not None:
            entries = self.endpoints
        else:
            if not (v["alerting"] or self.indexing):
                return
            url, token = self.discover_prometheus()
            entries = []
            if v["es-server"]:
                entries.append(MetricsEndpoint(endpoint=url, token=token, metrics=self.profiles_by_type(),
                                               indexer=IndexerConfig(type="opensearch", es_servers=[v["es-server"]],
                                                                     default_index=v["es-index"],
                                                                     insecure_skip_verify=True)))
            if v["local-indexing"]:
                entries.append(MetricsEndpoint(endpoint=url, token=token, metrics=self.profiles_by_type(),
                                               indexer=IndexerConfig(type="local",
                                                                     metrics_directory=f"collected-metrics-"
                                                                                       f"{self.uuid}")))
            if entries and v["alerting"]:
                entries[0].alerts = ["alerts.yml"]
                shared_alerts = True       # alerts of the workload's own endpoints go to every indexer
        data = self.template_vars()
        for pos, ep in enumerate(entries):
            indexer = None
            if ep.indexer.type:
                alias = ep.alias or f"indexer-{pos}"
                if ep.indexer.type == "local" and not ep.indexer.metrics_directory:
                    ep.indexer.metrics_directory = f"collected-metrics-{self.uuid}"
                log.info(f"📁 Creating {ep.indexer.type} indexer: {alias}", "metrics.go:58")
                try:
                    indexer = make_indexer(alias, ep.indexer, log)
                except ValueError as exc:
                    raise Fatal(f"Error creating indexer {pos}: {mask_credentials(str(exc))}") from None
                self.indexers.append(indexer)
            if not ((ep.metrics or ep.alerts) and ep.endpoint):
                continue
            log.info(f"👽 Initializing prometheus client with URL: {mask_credentials(ep.endpoint)}",
                     "prometheus.go:48")
            client = PromClient(ep.endpoint, ep.token, ep.username, ep.password, ep.skip_tls_verify,
                                self.world.data)
            try:
                client.verify()
            except PromError as exc:
                raise Fatal(mask_credentials(str(exc))) from None
            step = ep.step if ep.step and ep.step > 0 else 30.0
            scraper = Scraper(client, indexer, step)
            for name in ep.metrics:
                if indexer is None:
                    raise Fatal(f"Metrics profile is configured for endpoint #{pos} but no indexer was defined")
                scraper.profiles.append((name, read_metric_profile(name, data)))
            self.scrapers.append(scraper)
            for name in ep.alerts:
                log.info(f"🔔 Initializing alert manager for prometheus: {mask_credentials(ep.endpoint)}",
                         "alert_manager.go:92")
                self.alert_managers.append(AlertManager(client, name, read_alert_profile(name), step,
                                                        None if shared_alerts else
                                                        ([indexer] if indexer is not None else [])))

    def discover_served(self) -> None:
        try:
            res = self.api("GET", "/api/v1").get("resources") or []
        except ApiError as exc:
            raise Fatal(str(exc)) from None
        self.served = {r.get("name") for r in res if "/" not in r.get("name", "")}
        if "namespaces" not in self.served:
            raise Fatal('the server could not find the requested resource (post namespaces)')

    # ------------------------------------------------------------ iterations
    def compute_iterations(self) -> None:
        v, wl = self.v, self.workload
        selector = v["selector"]
        if wl.namespaced:
            if "iterations" in self.changed:
                self.iterations = max(0, v["iterations"])
                return
            matching = self.nodes(selector)
            if not matching:
                raise Fatal(f"No nodes found with the selector: {selector}")
            self.iterations = len(matching)
            self.log.info(f"Auto-calculated {self.iterations} iterations from {len(matching)} node(s) matching "
                          f"selector {json.dumps(selector)}", "cluster-density.go:96")
            return
        matching = self.nodes(selector)
        if not matching:
            raise Fatal(f"No nodes found with the selector: {selector}")
        total = len(matching) * max(0, v["pods-per-node"])
        self.iterations = total if self.job == "node-density" else total // 2

    def namespace_of(self, i: int) -> str:
        if self.workload.namespaced:
            return f"{self.job}-{i}"
        if self.v["namespaced-iterations"]:
            return f"{self.job}-{i // max(1, self.v['iterations-per-namespace'])}"
        return self.job

    # ---------------------------------------------------------------- the run
    def run(self) -> int:
        v = self.v
        self.setup()
        if self.job == "cluster-density-v2" and not self.world.data.get("guest_image_registry", True):
            raise Fatal("deployment image-registry in namespace openshift-image-registry doesn't have available "
                        "replicas")
        self.compute_iterations()
        for p in v["metrics-profile"]:
            if p not in EMBEDDED_PROFILES and not os.path.exists(p):
                raise Fatal(f"Error reading metrics profile {p}: open {p}: no such file or directory")
        if v["pprof"]:
            os.makedirs("pprof-data", exist_ok=True)
        for k, val in sorted(v["set"].items()):
            self.log.debug(f"Setting template variable {k}={val}", "helpers.go:131")
        self.setup_metrics()
        return self.burner()

    def burner(self) -> int:
        v, log = self.v, self.log
        out = Outcome()
        log.info(f"🔥 Starting kube-burner ({KB_VERSION}) with UUID {self.uuid}", "job.go:91")
        self.clock.arm(v["timeout"])
        self.start = time.time()
        timed_out = False
        gc_done = False
        try:
            log.info("📈 Creating measurement factory", "factory.go:63")
            log.info("Registered measurement: podLatency", "factory.go:95")
            if v.get("service-latency"):
                log.info("Registered measurement: serviceLatency", "factory.go:95")
            log.info(f"Triggering job: {self.job}", "job.go:282")
            log.info(f"Pre-load: images from job {self.job}", "pre_load.go:73")
            self.clock.spend(self.draw("load_setup"))
            self.cleanup_previous()
            if self.churn_enabled:
                log.info("Churning enabled", "job.go:241")
                log.info(f"Churn cycles: {v['churn-cycles']}", "job.go:242")
                log.info(f"Churn duration: {format_duration(v['churn-duration'])}", "job.go:243")
                log.info(f"Churn percent: {v['churn-percent']}", "job.go:244")
                log.info(f"Churn delay: {format_duration(v['churn-delay'])}", "job.go:245")
                log.info(f"Using deletion strategy: {v['deletion-strategy']}", "job.go:246")
            failed = self.create(0, self.iterations, out)
            if not failed:
                log.info(f"Waiting up to {format_duration(MAX_WAIT_TIMEOUT)} for actions to be completed",
                         "create.go:219")
                self.clock.spend(self.draw("load_wait_ready"))
                if self.churn_enabled and self.iterations > 0:
                    self.churn(out)
            self.end = time.time()
            log.info(f"Job {self.job} took {format_duration(round(self.end - self.start))}", "job.go:332")
            self.measure(out)
            if v["gc"] and v["gc-metrics"]:
                log.info("Garbage collection metrics on, waiting for GC", "job.go:171")
                gc_start = time.time()
                self.gc()
                gc_done = True
                self.gc_window = (gc_start, time.time())
            self.evaluate_alerts(out)
            self.clock.spend(self.draw("load_index"))
        except Timeout:
            timed_out = True
            msg = f"{format_duration(v['timeout'])} timeout reached"
            log.error(msg, "job.go:198")
            out.rc = 2
            out.errors.append(msg)
            out.execution_errors = msg
            self.end = time.time()
        self.clock.disarm()
        self.index(out)
        if not timed_out:
            log.info(f"Finished execution with UUID: {self.uuid}", "job.go:191")
        if v["gc"] and not gc_done:
            log.info("Garbage collecting jobs", "job.go:207")
            self.gc()
        if out.errors:   # burner.Run's aggregate error, logged by the workload helper
            log.error(out.errors[0] if len(out.errors) == 1 else "[" + ", ".join(out.errors) + "]", "helpers.go:84")
        return out.rc

    @property
    def churn_enabled(self) -> bool:
        return self.v["churn-cycles"] > 0 or self.v["churn-duration"] > 0

    # ------------------------------------------------------- objects in the guest
    def ns_labels(self) -> dict:
        return {LABEL_JOB: self.job, LABEL_UUID: self.uuid, LABEL_RUNID: self.runid}

    def obj_labels(self, i: int, r: int, index: int) -> dict:
        return {LABEL_JOB: self.job, LABEL_UUID: self.uuid, LABEL_RUNID: self.runid, LABEL_INDEX: str(index),
                LABEL_ITERATION: str(i), LABEL_REPLICA: str(r)}

    def create_namespace(self, name: str) -> bool:
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": dict(self.ns_labels(),
                                                          **{"pod-security.kubernetes.io/warn": "privileged",
                                                             "pod-security.kubernetes.io/audit": "privileged",
                                                             "pod-security.kubernetes.io/enforce": "privileged"})}}
        try:
            self.api("POST", "/api/v1/namespaces", body)
            self.objects_created += 1
            return True
        except ApiError as exc:
            if exc.status == 409:
                self.log.debug(f"Namespace {name} already exists", "namespaces.go:44")
                return False
            self.log.error(f"Unable to create namespace {name}: {exc}", "namespaces.go:48")
            return False

    def create_objects(self, ns: str, i: int) -> None:
        """A light version of the iteration's objects: two Secrets and two ConfigMaps (when served)."""
        for index, (plural, kind) in enumerate((("secrets", "Secret"), ("configmaps", "ConfigMap"))):
            if plural not in self.served:
                continue
            for r in (1, 2):
                name = f"{self.job}-{i}-{r}" if not self.workload.namespaced else f"{kind.lower()}-{r}"
                body = {"apiVersion": "v1", "kind": kind,
                        "metadata": {"name": name, "labels": self.obj_labels(i, r, index)}}
                if kind == "Secret":
                    body["type"] = "Opaque"
                    body["data"] = {"key": base64.b64encode(f"{self.uuid}/{i}/{r}".encode()).decode()}
                else:
                    body["data"] = {"key": f"{self.uuid}/{i}/{r}"}
                try:
                    self.api("POST", f"/api/v1/namespaces/{quote(ns)}/{plural}", body)
                    self.objects_created += 1
                except ApiError as exc:
                    if exc.status == 409:
                        self.log.error(f"{kind}/{name} in namespace {ns} already exists", "create.go:312")
                    else:
                        self.log.error(f"Error creating object {kind}/{name} in namespace {ns}: {exc}",
                                       "create.go:322")

    def create(self, first: int, last: int, out: Outcome) -> bool:
        """Iterations [first, last): namespaces, objects, time.  True when object creation failed (fault)."""
        wl, v = self.workload, self.v
        qps = max(1, v["qps"])
        n = last - first
        fail_at = None
        if self.cluster and self.world.faults.load_fails(self.cluster) and n > 0 and first == 0:
            fail_at = n // 2
        progress = max(1, n // 10)
        created_ns: set[str] = set()
        for i in range(first, last):
            self.clock.check()
            if n > 1 and (i - first) % progress == 0 and i > first:
                self.log.info(f"{i - first}/{n} iterations completed", "create.go:104")
            ns = self.namespace_of(i)
            if ns not in created_ns:      # node-density: objects once per namespace, not per pod
                created_ns.add(ns)
                self.create_namespace(ns)
                if ns not in self.namespaces:
                    self.namespaces.append(ns)
                self.create_objects(ns, i)
            if fail_at is not None and i - first == fail_at:
                self.fail_creation(ns, i, out)
                return True
            self.clock.spend(wl.objects_per_iteration / qps + self.draw("load_iteration") * wl.iteration_weight)
            if first == 0:
                self.record_pods(i, ns)
        return False

    def fail_creation(self, ns: str, i: int, out: Outcome) -> None:
        """--load-fail-clusters: the guest's API server starts timing out; the creates fail after retries."""
        name = f"{self.job}-{i}-1" if not self.workload.namespaced else "secret-3"
        err = "etcdserver: request timed out"
        for _ in range(3):
            self.log.error(f"Error creating object Secret/{name} in namespace {ns}: {err}", "create.go:322")
            self.log.error("Retrying object creation", "create.go:325")
            self.clock.spend(self.draw("load_fail_retries") / 3)
        msg = f"error creating object Secret/{name} in namespace {ns}: {err}"
        self.log.error(f"Error creating object Secret/{name} in namespace {ns}: context deadline exceeded",
                       "create.go:322")
        out.rc = 1
        out.errors.append(msg)

    def record_pods(self, i: int, ns: str) -> None:
        for r in range(1, self.workload.pods_per_iteration + 1):
            ready = self.draw("load_pod_ready")
            scheduled = self.rng.uniform(0.0, 0.05)
            initialized = scheduled + self.rng.uniform(0.5, 1.2)
            containers = max(initialized + 0.1, ready - self.rng.uniform(0.0, 0.02))
            name = f"{self.job}-{i}-{r}"
            self.pod_latencies.append({
                "timestamp": _utc(), "schedulingLatency": int(scheduled * 1000),
                "initializedLatency": int(initialized * 1000), "containersReadyLatency": int(containers * 1000),
                "podReadyLatency": int(ready * 1000), "metricName": "podLatencyMeasurement", "uuid": self.uuid,
                "namespace": ns, "podName": name, "nodeName": "", "jobName": self.job, "jobIteration": i,
                "replica": r})

    def delete_namespace(self, ns: str) -> None:
        try:
            self.api("DELETE", f"/api/v1/namespaces/{quote(ns)}")
        except ApiError as exc:
            if exc.status != 404:
                self.log.error(f"Error deleting namespace {ns}: {exc}", "namespaces.go:91")

    def wait_gone(self, names: list[str], real_limit: float = 30.0) -> None:
        """Until the namespaces are gone: kube-burner polls every second; here every simulated second, at most
        five times per real second (a namespace without finalized objects is gone at the first look)."""
        end = time.monotonic() + real_limit
        interval = max(1.0 / self.clock.speed, 0.2)
        pending = list(names)
        while pending and time.monotonic() < end:
            still = []
            for ns in pending:
                try:
                    self.api("GET", f"/api/v1/namespaces/{quote(ns)}")
                    still.append(ns)
                except ApiError as exc:
                    if exc.status != 404:
                        still.append(ns)
            pending = still
            if pending:
                time.sleep(max(0.0, min(interval, end - time.monotonic())))

    def namespaces_with(self, selector: str) -> list[str]:
        try:
            items = self.api("GET", "/api/v1/namespaces", query={"labelSelector": selector}).get("items") or []
        except ApiError as exc:
            self.log.error(f"Error listing namespaces: {exc}", "namespaces.go:72")
            return []
        return [it["metadata"]["name"] for it in items]

    def delete_objects_in(self, names: list[str]) -> None:
        for ns in names:
            for plural in ("secrets", "configmaps"):
                if plural in self.served:
                    try:
                        self.api("DELETE", f"/api/v1/namespaces/{quote(ns)}/{plural}",
                                 query={"labelSelector": f"{LABEL_UUID}"})
                    except ApiError as exc:
                        if exc.status != 404:
                            self.log.error(f"Error deleting {plural} in {ns}: {exc}", "gc.go:88")

    def cleanup_previous(self) -> None:
        """The workloads' ``cleanup: true``: namespaces of this job left by an earlier run go first."""
        selector = f"{LABEL_JOB}={self.job}"
        old = self.namespaces_with(selector)
        if not old:
            return
        self.log.info(f"Deleting {len(old)} namespaces with label: {selector}", "namespaces.go:79")
        for ns in old:
            self.delete_namespace(ns)
        self.wait_gone(old)
        self.clock.spend(self.draw("load_gc") + self.world.params.load_gc_per_namespace * len(old), scaled=False)

    def gc(self) -> None:
        selector = f"{LABEL_UUID}={self.uuid}"
        names = self.namespaces_with(selector)
        if names:
            self.log.info(f"Deleting {len(names)} namespaces with label: {selector}", "namespaces.go:79")
            if self.v["deletion-strategy"] == "gvr":
                self.delete_objects_in(names)
            for ns in names:
                self.delete_namespace(ns)
            self.wait_gone(names)
        self.clock.spend(self.draw("load_gc") + self.world.params.load_gc_per_namespace * len(names), scaled=False)

    # ------------------------------------------------------------------ churn
    def churn(self, out: Outcome) -> None:
        v, log = self.v, self.log
        self.churn_start = time.time()
        start_sim = self.clock.sim
        log.info(f"Churning mode: {v['churn-mode']}", "create.go:421")
        n = self.iterations
        units = self.namespaces if v["churn-mode"] == "namespaces" else None
        total = len(units) if units is not None else n
        num = max(v["churn-percent"] * total // 100, 1)
        num = min(num, total)
        cycles = 0
        for _ in range(MAX_CHURN_ROUNDS):
            if v["churn-duration"] > 0 and self.clock.sim - start_sim >= v["churn-duration"]:
                log.info("Churn job complete", "create.go:441")
                break
            if v["churn-cycles"] > 0 and cycles >= v["churn-cycles"]:
                log.info(f"Reached specified number of churn cycles ({v['churn-cycles']})", "create.go:446")
                break
            rand_start = self.rng.randrange(total - num + 1) if total - num + 1 > 0 else 0
            if units is not None:
                chosen = units[rand_start:rand_start + num]
                for ns in chosen:
                    try:
                        self.api("PATCH", f"/api/v1/namespaces/{quote(ns)}",
                                 {"metadata": {"labels": {LABEL_CHURN_DELETE: ""}}},
                                 content_type="application/merge-patch+json")
                    except ApiError as exc:
                        log.error(f"Error applying label to namespace {ns}: {exc}", "create.go:469")
                    self.delete_namespace(ns)
                self.wait_gone(chosen)
                self.clock.spend(self.draw("load_churn_delete"))
                log.info(f"Re-creating {num} deleted namespaces", "create.go:480")
                iters = [int(ns.rsplit("-", 1)[1]) for ns in chosen if ns.rsplit("-", 1)[-1].isdigit()]
                for i in iters:
                    self.clock.check()
                    ns = self.namespace_of(i)
                    self.create_namespace(ns)
                    self.create_objects(ns, i)
                    self.clock.spend(self.workload.objects_per_iteration / max(1, v["qps"])
                                     + self.draw("load_iteration") * self.workload.iteration_weight)
            else:
                log.info("Deleting objects", "create.go:511")
                touched = self.namespaces[rand_start % max(1, len(self.namespaces)):][:num] or self.namespaces[:1]
                self.delete_objects_in(touched)
                self.clock.spend(self.draw("load_churn_delete"))
                log.info(f"Re-creating {num} deleted objects", "create.go:560")
                for ns in touched:
                    suffix = ns.rsplit("-", 1)[-1]
                    self.create_objects(ns, int(suffix) if suffix.isdigit() else 0)
                self.clock.spend(num * self.workload.objects_per_iteration / max(1, v["qps"]))
            self.clock.spend(self.draw("load_wait_ready") / 2)
            log.info(f"Sleeping for {format_duration(v['churn-delay'])}", "create.go:487")
            self.clock.spend(v["churn-delay"], scaled=False)
            cycles += 1
        self.churn_end = time.time()

    # ----------------------------------------------------------- measurements
    def measure(self, out: Outcome) -> None:
        v, log = self.v, self.log
        log.info("Stopping measurement: podLatency", "factory.go:118")
        q = self.quantiles()
        ready = next((x for x in q if x["quantileName"] == "Ready"), None)
        if ready:
            log.info(f"{self.job}: Ready 99th: {ready['P99']}ms max: {ready['max']}ms avg: {ready['avg']}ms",
                     "pod_latency.go:356")
        threshold = v["pod-ready-threshold"]
        if threshold > 0 and ready and ready["P99"] > threshold * 1000:
            msg = (f"P99 Ready latency ({ready['P99'] / 1000:.2f}s) higher than configured threshold: "
                   f"{format_duration(threshold)}")
            log.error(f"❗ {msg}", "pod_latency.go:371")
            out.rc = 4
            out.errors.append(msg)

    def quantiles(self) -> list[dict]:
        keys = (("PodScheduled", "schedulingLatency"), ("Initialized", "initializedLatency"),
                ("ContainersReady", "containersReadyLatency"), ("Ready", "podReadyLatency"))
        out = []
        now = _utc()
        for qname, key in keys:
            vals = sorted(p[key] for p in self.pod_latencies)
            if not vals:
                continue

            def pct(p: float) -> int:
                return vals[min(len(vals) - 1, max(0, math.ceil(p / 100 * len(vals)) - 1))]

            out.append({"quantileName": qname, "uuid": self.uuid, "P99": pct(99), "P95": pct(95), "P50": pct(50),
                        "min": vals[0], "max": vals[-1], "avg": int(sum(vals) / len(vals)), "timestamp": now,
                        "metricName": "podLatencyQuantilesMeasurement", "jobName": self.job})
        return out

    def evaluate_alerts(self, out: Outcome) -> None:
        """Every alert manager queries its alert profile over the job (its endpoint's step): severity error
        -> rc 3 (``executionErrors``), critical -> exit 3 at once, warning/info -> logged; the alerts are
        indexed as ``alert`` documents."""
        if not self.alert_managers:
            return
        self.log.info(f"Evaluating alerts for job: {self.job}", "alert_manager.go:153")
        elapsed = f"{int(max(0.0, self.end - self.start))}s"
        for am in self.alert_managers:
            for alert in am.alerts:
                try:
                    expr = render_template(alert["expr"], {"elapsed": elapsed}, am.profile)
                except TemplateError as exc:
                    self.log.warn(f"Error rendering alert expression: {exc}", "alert_manager.go:168")
                    continue
                self.log.debug(f"Evaluating expression: '{expr}'", "alert_manager.go:173")
                try:
                    result = am.client.query_range(expr, self.start, max(self.start, self.end), am.step)
                except PromError as exc:
                    self.log.warn(f"Error performing query {expr}: {exc}", "alert_manager.go:177")
                    continue
                for labels, samples in result:
                    if not samples:
                        continue
                    t, value = samples[0]
                    try:
                        desc = render_template(alert.get("description", ""), {"$labels": labels, "$value": value})
                    except TemplateError:
                        desc = alert.get("description", "")
                    when = _utc(t)
                    msg = f"alert at {when}: '{desc}'"
                    doc = {"timestamp": when, "uuid": self.uuid, "severity": alert["severity"], "description": desc,
                           "metricName": "alert", "jobName": self.job}
                    for idx in (self.indexers if am.indexers is None else am.indexers):
                        idx.add("alert", [doc])
                    if alert["severity"] == "critical":
                        self.log.error(f"🚨 {msg}", "alert_manager.go:214")
                        raise CriticalAlert(msg)
                    if alert["severity"] == "error":
                        self.log.error(f"🚨 {msg}", "alert_manager.go:214")
                        out.rc = 3
                        out.execution_errors = "\n".join(x for x in (out.execution_errors, msg) if x)
                        out.errors.append(msg)
                    elif alert["severity"] == "warning":
                        self.log.warn(f"🚨 {msg}", "alert_manager.go:216")
                    else:
                        self.log.info(f"🚨 {msg}", "alert_manager.go:218")

    # ---------------------------------------------------------------- indexing
    def job_config(self) -> dict:
        v = self.v
        cfg = {"name": self.job, "jobType": "create", "jobIterations": self.iterations, "namespace": self.job,
               "namespacedIterations": True if self.workload.namespaced else bool(v["namespaced-iterations"]),
               "iterationsPerNamespace": 1 if self.workload.namespaced else v["iterations-per-namespace"],
               "cleanup": True, "podWait": False, "waitWhenFinished": True, "maxWaitTimeout": _go_ns(MAX_WAIT_TIMEOUT),
               "preLoadImages": True, "preLoadPeriod": _go_ns(15), "qps": v["qps"], "burst": v["burst"],
               "gc": v["gc"], "verifyObjects": True, "errorOnVerify": True,
               "churnConfig": {"cycles": v["churn-cycles"], "percent": v["churn-percent"],
                               "duration": _go_ns(v["churn-duration"]), "delay": _go_ns(v["churn-delay"]),
                               "mode": v["churn-mode"]},
               "churn": self.churn_enabled, "deletionStrategy": v["deletion-strategy"],
               "metricsClosing": "afterJobPause"}
        return cfg

    def workload_flags(self) -> dict:
        return {_camel(f.name): _flag_string(f, self.v[f.name]) for f in self.cmd.flags}

    def summary(self, out: Outcome, name: str | None = None, start: float | None = None,
                end: float | None = None) -> dict:
        start = self.start if start is None else start
        end = self.end if end is None else end
        doc: dict = {"timestamp": _utc(start), "endTimestamp": _utc(end),
                     "elapsedTime": round(max(0.0, end - start), 3), "uuid": self.uuid, "metricName": "jobSummary",
                     "jobConfig": dict(self.job_config(), **({"name": name} if name else {})),
                     "version": KB_VERSION, "passed": out.rc == 0, "executionErrors": out.execution_errors,
                     "objectOperations": self.objects_created}
        if self.churn_start is not None and name is None:
            doc["churnStartTimestamp"] = _utc(self.churn_start)
            doc["churnEndTimestamp"] = _utc(self.churn_end or end)
        doc.update(self.metadata)
        doc["workloadFlags"] = self.workload_flags()
        doc.update(self.user_metadata)
        return doc

    def documents(self, out: Outcome) -> dict[str, list[dict]]:
        docs: dict[str, list[dict]] = {"jobSummary": [self.summary(out)]}
        if self.gc_window is not None:
            docs["jobSummary"].append(self.summary(out, "garbage-collection", *self.gc_window))
        docs[f"podLatencyMeasurement-{self.job}"] = self.pod_latencies
        docs[f"podLatencyQuantilesMeasurement-{self.job}"] = self.quantiles()
        if self.v.get("service-latency"):
            svc = [{"timestamp": _utc(), "uuid": self.uuid, "metricName": "svcLatencyMeasurement",
                    "jobName": self.job, "namespace": ns, "service": "service-1",
                    "ready": int(self.rng.uniform(5, 80))} for ns in self.namespaces]
            docs[f"svcLatencyMeasurement-{self.job}"] = svc
            vals = sorted(d["ready"] for d in svc) or [0]
            docs[f"svcLatencyQuantilesMeasurement-{self.job}"] = [{
                "quantileName": "Ready", "uuid": self.uuid, "P99": vals[-1], "P95": vals[-1],
                "P50": vals[len(vals) // 2], "min": vals[0], "max": vals[-1], "avg": int(sum(vals) / len(vals)),
                "timestamp": _utc(), "metricName": "svcLatencyQuantilesMeasurement", "jobName": self.job}]
        return docs

    def index(self, out: Outcome) -> None:
        """jobSummary and the measurements to every indexer; each Prometheus client's metrics to its own
        endpoint's indexer; then every indexer writes (local: ``<metricName>.json`` in its metricsDirectory;
        opensearch/elastic: ``_bulk`` to its defaultIndex)."""
        if not self.indexers:
            return
        for metric, items in self.documents(out).items():
            for idx in self.indexers:
                idx.add(metric, items)
        self.scrape()
        for idx in self.indexers:
            idx.flush(self.log)

    def scrape(self) -> None:
        """kube-burner's ScrapeJobsMetrics for every Prometheus client with an indexer: each profile query
        over [job start, job end] at the endpoint's step (plus an instant query at the end when the window
        is not a whole number of steps); ``instant: true`` queries at the start (``<name>-start``) and end."""
        jobs = [(self.job, self.start, max(self.start, self.end), self.churn_start, self.churn_end)]
        if self.gc_window is not None:
            jobs.append(("garbage-collection", self.gc_window[0], self.gc_window[1], None, None))
        meta = dict(self.metadata, **self.user_metadata)
        for sc in self.scrapers:
            if sc.indexer is None:
                if sc.profiles:
                    self.log.info("Indexer not configured, skipping metric scraping", "prometheus.go:58")
                continue
            docs: dict[str, list[dict]] = {}
            for job, start, end, churn_start, churn_end in jobs:
                elapsed = f"{int(end - start)}s"
                for pname, metrics in sc.profiles:
                    self.log.info(f"🔍 Endpoint: {mask_credentials(sc.client.endpoint)}; profile: {pname} start: "
                                  f"{_utc(int(start))} end: {_utc(int(end))}; job: {job}", "prometheus.go:72")
                    for md in metrics:
                        try:
                            query = render_template(md["query"], {"elapsed": elapsed}, pname)
                        except TemplateError as exc:
                            self.log.warn(f"Error rendering query: {exc}", "prometheus.go:80")
                            continue
                        name = md["metricName"]

                        def run(what: str, at: tuple, metric: str, instant: bool) -> None:
                            self.log.debug(f"{what} query: {query}", "prometheus.go:170")
                            try:
                                result = (sc.client.query(query, at[0]) if instant else
                                          sc.client.query_range(query, at[0], at[1], sc.step))
                            except PromError as exc:
                                self.log.warn(f"Error found with query {query}: {exc}", "prometheus.go:173")
                                return
                            items = docs.setdefault(metric, [])
                            for labels, samples in result:
                                for t, value in samples:
                                    doc = {"timestamp": _utc(t),
                                           "labels": {k: v for k, v in labels.items() if k != "__name__"},
                                           "value": value, "uuid": self.uuid, "query": query, "metricName": metric,
                                           "jobName": job}
                                    if not instant and churn_start and churn_end and churn_start < t < churn_end:
                                        doc["churnMetric"] = True
                                    if meta:
                                        doc["metadata"] = meta
                                    items.append(doc)

                        if md.get("instant"):
                            run("Instant", (start,), f"{name}-start", True)
                            run("Instant", (end,), name, True)
                        else:
                            run("Range", (start, end), name, False)
                            if round((end - start) * 1000) % max(1, round(sc.step * 1000)) != 0:
                                run("Instant", (end,), name, True)
            for metric, items in docs.items():
                self.log.info(f"Indexing [{len(items)}] documents from metric {metric}", "prometheus.go:178")
                if items:
                    sc.indexer.add(metric, items)


def list_nodes(kube: Kube, selector: str | None = None) -> list[dict]:
    try:
        return kube.request("GET", "/api/v1/nodes", query={"labelSelector": selector} if selector else None
                            ).get("items") or []
    except ApiError as exc:
        raise Fatal(str(exc)) from None


def health_check(kube: Kube, log: Log, ignore: bool) -> None:
    """kube-burner-ocp's pre-run check; here: every guest node Ready (the simulated guests serve no
    ClusterOperators; a cluster still installing has NotReady nodes)."""
    log.info("❤️ Checking for Cluster Health", "cluster-health.go:62")
    unhealthy = []
    for n in list_nodes(kube):
        ready = [c for c in (n.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
        if not ready or ready[0].get("status") != "True":
            unhealthy.append(n["metadata"]["name"])
    if not unhealthy:
        log.info("Cluster is Healthy", "cluster-health.go:82")
        return
    for name in unhealthy:
        log.error(f"Node {name} is not Ready", "util.go:118")
    if ignore:
        log.warn("Cluster is Unhealthy, continuing execution", "cluster-health.go:85")
        return
    raise Fatal("Cluster is Unhealthy")


def _http_json(method: str, url: str, body: bytes | None, content_type: str = "application/json") -> Any:
    """A request to a loopback HTTP(S) server (the indexer); OSError on any failure."""
    parts = urlsplit(url)
    if not _is_loopback(parts.hostname):
        raise OSError(f'{method.capitalize()} "{url}": the simulated world only reaches loopback addresses')
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    kw = {"context": ssl._create_unverified_context()} if parts.scheme == "https" else {}
    conn = cls(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), timeout=REQUEST_TIMEOUT, **kw)
    try:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if parts.username is not None:
            cred = f"{parts.username}:{parts.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        path = (parts.path or "/") + (("?" + parts.query) if parts.query else "")
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        if resp.status >= 400:
            raise OSError(f'{method.capitalize()} "{parts.scheme}://{parts.hostname}:{parts.port}{path}": '
                          f"status {resp.status}")
        return json.loads(raw) if raw else {}
    except (http.client.HTTPException, ValueError) as exc:
        raise OSError(str(exc)) from None
    finally:
        conn.close()


# ======================================================================= extract
def extract(job: str, log: Log) -> None:
    """--extract: the workload's config, templates and profiles into the current directory."""
    files = {
        f"{job}.yml": (
            "---\nglobal:\n  gc: {{.GC}}\n  gcMetrics: {{.GC_METRICS}}\n  measurements:\n    - name: podLatency\n"
            "metricsEndpoints:\n{{ if .ES_SERVER }}\n  - indexer:\n      esServers: [\"{{.ES_SERVER}}\"]\n"
            "      defaultIndex: {{.ES_INDEX}}\n      type: opensearch\n{{ end }}\n"
            "{{ if .LOCAL_INDEXING }}\n  - indexer:\n      type: local\n"
            "      metricsDirectory: collected-metrics-{{.UUID}}\n{{ end }}\n"
            f"jobs:\n  - name: {job}\n    namespace: {job}\n    jobIterations: {{{{.JOB_ITERATIONS}}}}\n"
            "    qps: {{.QPS}}\n    burst: {{.BURST}}\n    namespacedIterations: true\n    podWait: false\n"
            "    waitWhenFinished: true\n    preLoadImages: true\n    preLoadPeriod: 15s\n"
            "    churnConfig:\n      cycles: {{.CHURN_CYCLES}}\n      duration: {{.CHURN_DURATION}}\n"
            "      percent: {{.CHURN_PERCENT}}\n      delay: {{.CHURN_DELAY}}\n      mode: {{.CHURN_MODE}}\n"
            "    objects:\n      - objectTemplate: secret.yml\n        replicas: 2\n"
            "      - objectTemplate: configmap.yml\n        replicas: 2\n"),
        "secret.yml": "kind: Secret\napiVersion: v1\nmetadata:\n  name: secret-{{.Replica}}\ntype: Opaque\n"
                      "data:\n  key: {{randAlphaNum 1024 | b64enc}}\n",
        "configmap.yml": "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: configmap-{{.Replica}}\n"
                         "data:\n  key: \"{{randAlphaNum 512}}\"\n",
        "alerts.yml": EMBEDDED_ALERTS["alerts.yml"],
        **{name: EMBEDDED_METRICS[name] for name in ("metrics.yml", "metrics-report.yml", "metrics-aggregated.yml")},
    }
    for name, text in files.items():
        with open(name, "w", encoding="utf-8") as fh:
            fh.write(text)
        log.debug(f"Extracted {name}", "helpers.go:112")


# ======================================================================== commands
def S(name: str, default: str = "", help_: str = "") -> Flag:
    return Flag(name, "string", default, help_)


def B(name: str, default: bool = False, help_: str = "") -> Flag:
    return Flag(name, "bool", default, help_)


def I(name: str, default: int = 0, help_: str = "") -> Flag:  # noqa: E743 - pflag's name
    return Flag(name, "int", default, help_)


def D(name: str, default: float = 0.0, help_: str = "") -> Flag:
    return Flag(name, "duration", default, help_)


def global_flags() -> list[Flag]:
    return [
        S("es-server", help_="Elastic Search endpoint"),
        S("es-index", help_="Elastic Search index"),
        B("local-indexing", help_="Enable local indexing"),
        S("metrics-endpoint", help_="YAML file with a list of metric endpoints, overrides the es-server and "
                                    "es-index flags"),
        B("alerting", True, "Enable alerting"),
        B("ignore-health-check", help_="Ignore the cluster health check and run the workload anyway"),
        S("uuid", str(_uuid.uuid4()), "Benchmark UUID"),
        D("timeout", 4 * 3600.0, "Benchmark timeout"),
        I("qps", 20, "QPS"),
        I("burst", 20, "Burst"),
        B("gc", True, "Garbage collect created resources"),
        B("gc-metrics", help_="Collect metrics during garbage collection"),
        S("user-metadata", help_="User provided metadata file, in YAML format"),
        B("extract", help_="Extract workload in the current directory"),
        S("profile-type", "both", "Metrics profile to use, supported options are: regular, reporting or both"),
        S("prometheus-url", help_="Prometheus URL (skips the discovery of the cluster's Prometheus)"),
        S("prometheus-token", help_="Prometheus bearer token"),
        S("prometheus-token-file", help_="File with the Prometheus bearer token"),
        Flag("set", "stringToString", {}, "Set template variables: key1=value1,key2=value2"),
        B("enable-file-logging", True, "Enable file logging"),
        S("log-level", "info", "Allowed values: debug, info, warn, error, fatal"),
    ]


def cluster_density_flags() -> list[Flag]:
    return [
        I("iterations", 0, "Number of iterations (one namespace each); default: the nodes matching --selector"),
        S("selector", WORKER_SELECTOR, "Node selector for the auto-calculated iterations and the pods' affinity"),
        D("pod-ready-threshold", 0.0, "Pod ready timeout threshold"),
        B("pprof", help_="Enable pprof collection"),
        D("pprof-interval", 0.0, "Interval between pprof collections"),
        I("churn-cycles", 0, "Churn cycles to execute"),
        D("churn-duration", 0.0, "Churn duration"),
        D("churn-delay", 120.0, "Time to wait between each churn"),
        S("churn-mode", "namespaces", "Either namespaces, to churn entire namespaces or objects, to churn "
                                      "individual objects"),
        I("churn-percent", 10, "Percentage of job iterations that kube-burner will churn each round"),
        S("deletion-strategy", "default", "GC deletion mode, default deletes entire namespaces and gvr deletes "
                                          "objects within namespaces before deleting the parent namespace"),
        B("service-latency", help_="Enable service latency measurement"),
        Flag("metrics-profile", "stringSlice", ["metrics.yml"], "Comma separated list of metrics profiles to use"),
    ]


def node_density_flags(variant: str) -> list[Flag]:
    flags = [
        I("churn-cycles", 0, "Churn cycles to execute"),
        D("churn-duration", 0.0, "Churn duration"),
        D("churn-delay", 120.0, "Time to wait between each churn"),
        S("deletion-strategy", "gvr", "GC deletion mode, default deletes entire namespaces and gvr deletes "
                                      "objects within namespaces before deleting the parent namespace"),
        I("churn-percent", 10, "Percentage of job iterations that kube-burner will churn each round"),
        S("churn-mode", "objects", "Either namespaces, to churn entire namespaces or objects, to churn "
                                   "individual objects"),
        I("pods-per-node", 245, "Pods per node"),
        B("pprof", help_="Enable pprof collection"),
        D("pprof-interval", 0.0, "Interval between pprof collections"),
    ]
    if variant == "node-density":
        flags += [D("pod-ready-threshold", 15.0, "Pod ready timeout threshold"),
                  S("container-image", "gcr.io/google_containers/pause:3.1", "Container image")]
    elif variant == "node-density-heavy":
        flags += [D("pod-ready-threshold", 120.0, "Pod ready timeout threshold"),
                  D("probes-period", 10.0, "Perf app readiness/liveness probes period"),
                  B("service-latency", help_="Enable service latency measurement")]
    else:
        flags += [D("pod-ready-threshold", 60.0, "Pod ready timeout threshold"),
                  B("service-latency", help_="Enable service latency measurement")]
    flags += [Flag("metrics-profile", "stringSlice", ["metrics.yml"], "Comma separated list of metrics profiles "
                                                                      "to use"),
              B("namespaced-iterations", True, "Namespaced iterations"),
              I("iterations-per-namespace", 1000, "Iterations per namespace"),
              S("selector", WORKER_SELECTOR, "Node selector")]
    return flags


def build_root() -> Command:
    root = Command("kube-burner-ocp", "kube-burner plugin designed to be used with OpenShift clusters as a quick way "
                                      "to run well-known workloads (simulated world stand-in)",
                   persistent=global_flags())
    for variant in ("cluster-density-v2", "cluster-density-ms"):
        root.add(Command(variant, f"Runs {variant} workload", flags=cluster_density_flags(), run=_runnable))
    for variant in ("node-density", "node-density-cni", "node-density-heavy"):
        root.add(Command(variant, f"Runs {variant} workload", flags=node_density_flags(variant), run=_runnable))
    root.add(Command("cluster-health", "Checks for ocp cluster health", run=_runnable))
    root.add(Command("version", "Print the version number of kube-burner-ocp", run=_runnable))
    return root


_PFLAG_TYPES = {"bool": "", "int": "int", "duration": "duration", "string": "string", "stringSlice": "strings",
                "stringToString": "stringToString"}


def _flag_lines(flags: list[Flag], help_for: str | None = None) -> list[str]:
    """pflag's FlagUsages: aligned ``--name type   usage (default …)`` lines, sorted by name."""
    rows = []
    for f in flags:
        typ = _PFLAG_TYPES.get(f.kind, "string")
        left = f"      --{f.name}" + (f" {typ}" if typ else "")
        d = f.default
        dflt = ""
        if f.kind == "string" and d:
            dflt = f' (default "{d}")'
        elif f.kind in ("bool", "int", "duration") and d:
            dflt = f" (default {_flag_string(f, d)})"
        elif f.kind in ("stringSlice", "stringToString") and d:
            dflt = f" (default {_flag_string(f, d)})"
        rows.append((f.name, left, f.help + dflt))
    if help_for:
        rows.append(("help", "  -h, --help", f"help for {help_for}"))
    rows.sort()
    width = max((len(r[1]) for r in rows), default=0)
    return [f"{left.ljust(width)}   {text}" for _, left, text in rows]


def usage(cmd: Command) -> str:
    """cobra's usage text."""
    lines = ["Usage:"]
    if cmd.run is not None:
        lines.append(f"  {cmd.path()} [flags]")
    if cmd.subcommands:
        lines.append(f"  {cmd.path()} [command]")
        lines += ["", "Available Commands:"]
        subs = sorted(cmd.subcommands + [Command("help", "Help about any command")], key=lambda c: c.name)
        width = max(len(c.name) for c in subs)
        lines += [f"  {c.name.ljust(width)} {c.short}" for c in subs]
    lines += ["", "Flags:"] + _flag_lines(cmd.flags + (cmd.persistent if cmd.parent is None else []), cmd.name)
    if cmd.parent is not None and cmd.parent.persistent:
        lines += ["", "Global Flags:"] + _flag_lines(cmd.parent.persistent)
    if cmd.subcommands:
        lines += ["", f'Use "{cmd.path()} [command] --help" for more information about a command.']
    return "\n".join(lines) + "\n"


def help_text(cmd: Command) -> str:
    return (cmd.short + "\n\n" if cmd.short else "") + usage(cmd)


def _runnable(inv) -> None:
    """Marks a runnable command (for the usage text); main() dispatches by the command's name."""


# ============================================================================ main
def _cobra_error(cmd: Command, msg: str, show_usage: bool = True) -> int:
    sys.stderr.write(f"Error: {msg}\n")
    if show_usage:
        sys.stderr.write(usage(cmd))
    sys.stderr.flush()
    return 1


def main(argv: list[str] | None = None, world_path: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # a Go binary without a signal handler: SIGINT/SIGTERM end it at once
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    world_path = os.environ.get("KUBE_BURNER_SIM_WORLD") or world_path or os.path.join(
        os.path.dirname(os.path.realpath(sys.argv[0])), os.pardir, "world.json")
    root = build_root()
    if argv[:1] == ["help"]:
        target = root.find(argv[1]) if len(argv) > 1 else None
        sys.stdout.write(help_text(target or root))
        return 0
    try:
        cmd, values, changed, args, want_help = parse(root, argv)
    except CommandError as exc:
        text = str(exc)
        if text.startswith("unknown command"):
            sys.stderr.write(f"Error: {text}\nRun 'kube-burner-ocp --help' for usage.\n")
            return 1
        # the command the flags were meant for, for the usage text
        cmd = root
        for tok in argv:
            sub = cmd.find(tok)
            if sub is not None:
                cmd = sub
        return _cobra_error(cmd, text)
    if want_help or cmd is root:
        sys.stdout.write(help_text(cmd))
        return 0
    if cmd.name == "version":
        sys.stdout.write(f"Version: {VERSION}\nGit Commit: {GIT_COMMIT}\nBuild Date: {BUILD_DATE}\n"
                         f"Go Version: {GO_VERSION}\nOS/Arch: linux/amd64\n")
        return 0
    # cobra's flag groups
    if ("es-server" in changed) != ("es-index" in changed):
        missing = "es-index" if "es-server" in changed else "es-server"
        return _cobra_error(cmd, f"if any flags in the group [es-server es-index] are set they must all be set; "
                                 f"missing [{missing}]")
    if "es-server" in changed and "metrics-endpoint" in changed:
        return _cobra_error(cmd, "if any flags in the group [es-server metrics-endpoint] are set none of the others "
                                 "can be; [es-server metrics-endpoint] were all set")
    log = Log(sys.stdout if values["enable-file-logging"] else sys.stderr)
    try:
        log.set_level(values["log-level"])
    except Fatal as exc:
        log.fatal(str(exc), "log.go:27")
        return 1
    if values["enable-file-logging"] and cmd.name != "version":
        try:
            log.to_file(f"kube-burner-ocp-{values['uuid']}.log")
        except OSError as exc:
            log.fatal(f"Error creating log file: {exc}", "log.go:41")
            return 1
    try:
        if values["extract"]:
            extract(cmd.name, log)
            return 0
        world = World.load(world_path)
        if cmd.name == "cluster-health":
            kube, _, _ = connect()
            health_check(kube, log, False)
            return 0
        rc = LoadRun(cmd, values, changed, world, log).run()
        log.info(f"👋 kube-burner run completed with rc {rc} for UUID {values['uuid']}", "helpers.go:86")
        return rc
    except CriticalAlert:
        return 3          # os.Exit(3) at the alert
    except Fatal as exc:
        log.fatal(mask_credentials(str(exc)))
        return 1
    finally:
        log.close()
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
