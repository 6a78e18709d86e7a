"""An Elasticsearch-API-compatible HTTP server for tests (in memory, loopback only).

It speaks enough of the Elasticsearch REST API for the official ``elasticsearch``
Python client (8.x) and its ``helpers``::

    with FakeElasticsearch(username="elastic", password="s3cret") as es_server:
        es = Elasticsearch(es_server.url, basic_auth=("elastic", "s3cret"))
        helpers.bulk(es, docs, index="timings")
        assert es_server.indexed["timings"] == len(docs)

Endpoints
---------
* ``GET|HEAD /`` (cluster info / ping), ``GET /_cluster/health``;
* index templates: ``PUT|POST|GET|HEAD|DELETE /_index_template/<name>``, ``GET /_index_template``;
* indices: ``PUT|HEAD|GET|DELETE /<index>``, ``GET|PUT /<index>/_mapping``, ``POST /<index>/_refresh``;
  an index is created on its first write, with the mappings/settings of the matching index
  template of highest ``priority`` (``index_patterns`` are ``*`` globs);
* documents: ``POST /_bulk``, ``POST /<index>/_bulk`` (``index``, ``create``, ``update``, ``delete``),
  ``PUT|POST /<index>/_doc/<id>``, ``POST /<index>/_doc``, ``PUT /<index>/_create/<id>``,
  ``POST /<index>/_update/<id>`` (``doc``, ``doc_as_upsert``, ``upsert``; no scripts),
  ``GET|HEAD|DELETE /<index>/_doc/<id>``;
* ``GET|POST /<indices>/_search`` and ``/_count`` (``match_all``, ``match_none``, ``term``, ``terms``,
  ``match``, ``ids``, ``exists``, ``range``, ``bool``; ``from``, ``size``, ``sort``, ``_source``).
  ``<indices>`` may be a comma-separated list with ``*`` globs.

Writes are visible at once (``?refresh`` is accepted and ignored).  Documents are checked
against the mapping like Elasticsearch does: a value that a ``date`` field cannot parse
(ISO 8601 / ``strict_date_optional_time`` or epoch millis) or that a numeric field cannot
coerce fails that document with 400 ``mapper_parsing_exception`` (Elasticsearch >= 8.8 names
it ``document_parsing_exception``; set :attr:`FakeElasticsearch.mapping_error_type` to that);
unmapped fields are mapped dynamically (``long``/``float``/``boolean``/``date``/``text`` +
``keyword``) unless ``dynamic`` is ``false`` or ``strict``.

Protocol
--------
Every response carries ``X-Elastic-Product: Elasticsearch``.  A request whose ``Accept`` or
``Content-Type`` is ``application/vnd.elasticsearch+json; compatible-with=N`` is answered with
the same media type; ``N`` must be the server's major version or the one before (a 9.x server
accepts 8 and rejects 7 with 400 ``media_type_header_exception``).  With ``username``/``password``
and/or ``api_key`` configured, every request needs ``Authorization: Basic ...`` or
``Authorization: ApiKey ...`` (else 401 ``security_exception`` with ``WWW-Authenticate``).

Test controls
-------------
* ``server.faults.set(status=503, count=2, paths={"/_bulk"})``: the next 2 matching requests
  are answered with that status and an Elasticsearch error body (429 adds ``Retry-After``);
  ``status=None`` clears.  Faults are applied before authentication (like a proxy or an
  overloaded node would).
* ``server.faults.item_errors(ids={"a", "b"}, status=429, count=1)``: in ``_bulk``, the items with
  those ``_id`` fail (``errors: true``) ``count`` times each, then succeed.
* ``server.down()`` / ``server.up()``: stop listening and drop every open connection, then listen
  again on the same port; ``server.delay(seconds)`` delays every response.
* counters: :attr:`requests` (``Counter`` of ``(method, path)``), :attr:`indexed` (``Counter`` of
  documents written per index), :attr:`bulk_calls`, :attr:`bulk_log` / :attr:`bulk_bodies`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as _dt
import errno
import fnmatch
import gzip
import hmac
import ipaddress
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["FakeElasticsearch", "Faults", "BulkRecord", "EsError"]

MAX_BODY = 64 * 1024 * 1024
MAX_DELAY = 60.0
IDLE_TIMEOUT = 30.0  # seconds an idle keep-alive connection is kept
REBIND_ATTEMPTS = 100  # up(): attempts (50 ms apart) to bind the same port again
DEFAULT_SEARCH_SIZE = 10
MAX_SEARCH_WINDOW = 10000

_LUCENE = {
    (8, 0): "9.0.0", (8, 1): "9.0.0", (8, 2): "9.1.0", (8, 3): "9.2.0", (8, 4): "9.3.0",
    (8, 5): "9.4.1", (8, 6): "9.5.0", (8, 7): "9.5.0", (8, 8): "9.6.0", (8, 9): "9.7.0",
    (8, 10): "9.7.0", (8, 11): "9.8.0", (8, 12): "9.9.2", (8, 13): "9.10.0", (8, 14): "9.10.0",
    (8, 15): "9.11.1", (8, 16): "9.12.0", (8, 17): "9.12.0", (8, 18): "9.12.1", (8, 19): "9.12.2",
    (9, 0): "10.1.0", (9, 1): "10.2.2", (9, 2): "10.3.1",
}
_COMPAT_RE = re.compile(
    r"^\s*application/vnd\.elasticsearch\+([a-z-]+)\s*(?:;(.*))?$", re.IGNORECASE)
_JSON_TYPES = ("application/json", "application/x-ndjson")
_INTEGER_RANGES = {
    "long": (-(2 ** 63), 2 ** 63 - 1), "integer": (-(2 ** 31), 2 ** 31 - 1),
    "short": (-(2 ** 15), 2 ** 15 - 1), "byte": (-128, 127), "unsigned_long": (0, 2 ** 64 - 1),
}
_FLOAT_TYPES = {"double", "float", "half_float", "scaled_float"}
_NUMERIC_TYPES = set(_INTEGER_RANGES) | _FLOAT_TYPES
_STRING_TYPES = {"keyword", "text", "match_only_text", "wildcard", "constant_keyword", "version"}
_ISO_RE = re.compile(
    r"^(?P<y>[+-]?\d{4,9})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$")
_SLASH_DATE_RE = re.compile(r"^\d{4}/\d{2}/\d{2}(?: \d{2}:\d{2}:\d{2})?(?: [+-]\d{4}| Z)?$")
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_STATUS_ERROR_TYPES = {
    400: "illegal_argument_exception", 401: "security_exception", 403: "security_exception",
    404: "resource_not_found_exception", 409: "version_conflict_engine_exception",
    429: "es_rejected_execution_exception", 500: "exception", 502: "exception",
    503: "unavailable_shards_exception", 504: "timeout_exception",
}
_SHARDS = {"total": 2, "successful": 1, "failed": 0}


# --------------------------------------------------------------------------- errors
class EsError(Exception):
    """An error answered as an Elasticsearch error document."""

    def __init__(self, status: int, type_: str, reason: str, *, index: str | None = None,
                 caused_by: dict | None = None, extra: dict | None = None,
                 headers: dict | None = None, raw_error: Any = None):
        super().__init__(f"{status} {type_}: {reason}")
        self.status = status
        self.type = type_
        self.reason = reason
        self.index = index
        self.caused_by = caused_by
        self.extra = extra or {}
        self.headers = headers or {}
        self.raw_error = raw_error  # some ES errors are a bare string

    def cause(self, index_uuid: str | None = None) -> dict:
        out: dict[str, Any] = {"type": self.type, "reason": self.reason}
        if self.index is not None:
            out["index_uuid"] = index_uuid or "_na_"
            out["index"] = self.index
        out.update(self.extra)
        if self.caused_by:
            out["caused_by"] = self.caused_by
        return out

    def body(self, index_uuid: str | None = None) -> dict:
        if self.raw_error is not None:
            return {"error": self.raw_error, "status": self.status}
        root = self.cause(index_uuid)
        root.pop("caused_by", None)
        err = {"root_cause": [root], **self.cause(index_uuid)}
        return {"error": err, "status": self.status}


def _index_not_found(name: str) -> EsError:
    return EsError(404, "index_not_found_exception", f"no such index [{name}]", index=name,
                   extra={"resource.type": "index_or_alias", "resource.id": name})


def _bad_request(reason: str, type_: str = "illegal_argument_exception") -> EsError:
    return EsError(400, type_, reason)


def error_for_status(status: int, reason: str | None = None) -> EsError:
    type_ = _STATUS_ERROR_TYPES.get(status, "exception")
    if reason is None:
        reason = {
            429: "rejected execution of coordinating operation (injected fault)",
            500: "internal server error (injected fault)",
            502: "bad gateway (injected fault)",
            503: "all shards failed / no master (injected fault)",
            504: "gateway timeout (injected fault)",
        }.get(status, f"injected fault with status {status}")
    return EsError(status, type_, reason)


# --------------------------------------------------------------------------- faults
class Faults:
    """Thread-safe fault injection shared by all request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: int | None = None
        self._remaining: int | None = 0
        self._paths: tuple[str, ...] | None = None
        self._methods: tuple[str, ...] | None = None
        self._retry_after: int | None = 1
        self._items: dict[str, list[int]] = {}  # _id -> [status, remaining]
        self.injected = 0  # request-level faults answered so far
        self.item_injected = 0  # bulk items failed on purpose so far

    def set(self, status: int | None = None, count: int | None = 1, paths: Iterable[str] | None = None,
            *, methods: Iterable[str] | None = None, retry_after: int | None = 1) -> None:
        """Answer the next ``count`` matching requests with ``status`` (``count=None``: until cleared).

        ``paths``: ``None`` matches every request; otherwise an entry matches a request path when
        it is a ``*`` glob matching the whole path, or else a substring of it (``"/_bulk"`` matches
        ``/_bulk`` and ``/timings/_bulk``).  ``status=None`` clears the request fault.
        """
        if status is not None and not 400 <= int(status) <= 599:
            raise ValueError(f"fault status must be 4xx/5xx, not {status!r}")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0 or None")
        if isinstance(paths, str):
            paths = (paths,)
        if isinstance(methods, str):
            methods = (methods,)
        with self._lock:
            self._status = None if status is None else int(status)
            self._remaining = count if status is not None else 0
            self._paths = tuple(paths) if paths is not None else None
            self._methods = tuple(m.upper() for m in methods) if methods is not None else None
            self._retry_after = retry_after

    def item_errors(self, ids: Iterable[str], status: int = 429, count: int = 1) -> None:
        """Fail the ``_bulk`` items with these ``_id`` values ``count`` times each (``status`` per item)."""
        if isinstance(ids, str):
            ids = (ids,)
        if not 400 <= int(status) <= 599:
            raise ValueError(f"item error status must be 4xx/5xx, not {status!r}")
        with self._lock:
            for doc_id in ids:
                if count > 0:
                    self._items[str(doc_id)] = [int(status), int(count)]
                else:
                    self._items.pop(str(doc_id), None)

    def clear(self) -> None:
        with self._lock:
            self._status, self._remaining, self._paths, self._methods = None, 0, None, None
            self._items.clear()

    @property
    def pending(self) -> int | None:
        """Request faults still to be answered (``None``: unlimited)."""
        with self._lock:
            return 0 if self._status is None else self._remaining

    @property
    def pending_items(self) -> dict[str, int]:
        with self._lock:
            return {k: v[1] for k, v in self._items.items()}

    def _path_matches(self, path: str) -> bool:
        if self._paths is None:
            return True
        for p in self._paths:
            if ("*" in p and fnmatch.fnmatchcase(path, p)) or ("*" not in p and p in path):
                return True
        return False

    def take(self, method: str, path: str) -> tuple[int, int | None] | None:
        """Consume one request fault for this request: ``(status, retry_after)`` or ``None``."""
        with self._lock:
            if self._status is None or self._remaining == 0:
                return None
            if self._methods is not None and method.upper() not in self._methods:
                return None
            if not self._path_matches(path):
                return None
            if self._remaining is not None:
                self._remaining -= 1
            self.injected += 1
            status, retry_after = self._status, self._retry_after
            if self._remaining == 0:
                self._status = None
            return status, retry_after

    def take_item(self, doc_id: str | None) -> int | None:
        if doc_id is None:
            return None
        with self._lock:
            entry = self._items.get(doc_id)
            if not entry:
                return None
            entry[1] -= 1
            if entry[1] <= 0:
                del self._items[doc_id]
            self.item_injected += 1
            return entry[0]


# --------------------------------------------------------------------------- data model
@dataclass
class _Doc:
    source: dict
    version: int
    seq_no: int


@dataclass
class _Index:
    name: str
    mappings: dict
    settings: dict
    aliases: dict = field(default_factory=dict)
    uuid: str = field(default_factory=lambda: base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode())
    docs: dict[str, _Doc] = field(default_factory=dict)
    seq_no: int = -1
    created: float = field(default_factory=time.time)


@dataclass
class BulkRecord:
    """One ``_bulk`` request as received."""
    method: str
    path: str
    params: dict
    raw: str
    status: int = 0  # HTTP status answered
    lines: list = field(default_factory=list)  # parsed NDJSON lines (unparsable ones as str)

    @property
    def actions(self) -> int:
        """Number of actions (index/create/update/delete) in the body."""
        return sum(1 for line in self.lines if isinstance(line, dict) and len(line) == 1
                   and next(iter(line)) in ("index", "create", "update", "delete")
                   and isinstance(next(iter(line.values())), dict))

    @property
    def ids(self) -> list:
        out = []
        for line in self.lines:
            if isinstance(line, dict) and len(line) == 1:
                (op, meta), = line.items()
                if op in ("index", "create", "update", "delete") and isinstance(meta, dict):
                    out.append(meta.get("_id"))
        return out


# --------------------------------------------------------------------------- helpers
def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _now_ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


def _auto_id() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, like Elasticsearch's auto ids


def _glob_match(pattern: str, name: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, name) is not None


def _validate_index_name(name: str) -> None:
    bad = None
    if not name:
        bad = "must not be empty"
    elif name != name.lower():
        bad = "must be lowercase"
    elif name[0] in "_-+":
        bad = "must not start with '_', '-', or '+'"
    elif name in (".", ".."):
        bad = "must not be '.' or '..'"
    elif any(c in name for c in '\\/*?"<>| ,#:'):
        bad = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?, #, :]"
    elif len(name.encode()) > 255:
        bad = "index name is too long"
    if bad:
        raise EsError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {bad}",
                      index=name)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("", "true", "1", "yes")


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _parse_iso(value: str) -> _dt.datetime | None:
    """``strict_date_optional_time``: yyyy[-MM[-dd[THH[:mm[:ss[.fff]]]][zone]]] -> datetime or None."""
    m = _ISO_RE.match(value)
    if not m:
        return None
    g = m.groupdict()
    try:
        year = int(g["y"])
        if not 1 <= year <= 9999:
            # datetime cannot represent it; Elasticsearch can.  Accept after checking the rest.
            _dt.datetime(2000, int(g["mo"] or 1), int(g["d"] or 1), int(g["h"] or 0),
                         int(g["mi"] or 0), int(g["s"] or 0))
            return _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)
        frac = (g["f"] or "0")[:6].ljust(6, "0")
        tz = _dt.timezone.utc
        if g["tz"] and g["tz"] != "Z":
            sign = -1 if g["tz"][0] == "-" else 1
            digits = g["tz"][1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
            if hours > 18 or minutes > 59:
                return None
            tz = _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
        hour = int(g["h"] or 0)
        if hour == 24:
            return None
        return _dt.datetime(year, int(g["mo"] or 1), int(g["d"] or 1), hour, int(g["mi"] or 0),
                            int(g["s"] or 0), int(frac), tzinfo=tz)
    except (ValueError, OverflowError):
        return None


def _date_ok(value: Any, fmt: str | None) -> bool:
    formats = [f.strip() for f in (fmt or "strict_date_optional_time||epoch_millis").split("||")]
    for f in formats:
        name = f[7:] if f.startswith("strict_") else f
        if name in ("date_optional_time", "date_time", "date_time_no_millis", "date", "date_hour_minute_second",
                    "date_hour_minute_second_millis", "date_hour_minute_second_fraction",
                    "date_hour_minute", "date_hour", "year_month_day", "year_month", "year",
                    "iso8601"):
            if isinstance(value, str) and _parse_iso(value) is not None:
                return True
        elif name in ("epoch_millis", "epoch_second"):
            if isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                return True
            if isinstance(value, str):
                try:
                    if math.isfinite(float(value)):
                        return True
                except ValueError:
                    pass
        else:
            # A custom pattern (yyyy/MM/dd ...): not emulated; be lenient with strings and numbers.
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return True
    return False


def _date_key(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        parsed = _parse_iso(value)
        if parsed is not None:
            try:
                return parsed.timestamp() * 1000.0
            except (OverflowError, ValueError):
                return None
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _tokens(value: Any) -> list[str]:
    return [t.lower() for t in _TOKEN_RE.findall(str(value))]


def _scalar_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def _walk_values(obj: Any, parts: list[str]) -> Iterator[Any]:
    """Values at a dotted path of a source document (lists flattened, dotted keys honoured)."""
    if isinstance(obj, list):
        for item in obj:
            yield from _walk_values(item, parts)
        return
    if not parts:
        yield obj
        return
    if isinstance(obj, dict):
        for i in range(1, len(parts) + 1):
            key = ".".join(parts[:i])
            if key in obj:
                yield from _walk_values(obj[key], parts[i:])


def _leaf_values(obj: Any, parts: list[str]) -> list[Any]:
    out: list[Any] = []
    for v in _walk_values(obj, parts):
        if isinstance(v, list):
            out.extend(_leaf_values(v, []))
        elif v is not None:
            out.append(v)
    return out


def _expand_dots(obj: dict) -> dict:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (recursively) for mapping checks."""
    out: dict = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            value = _expand_dots(value)
        elif isinstance(value, list):
            value = [_expand_dots(v) if isinstance(v, dict) else v for v in value]
        parts = key.split(".") if key not in ("", ".") and "." in key.strip(".") else [key]
        target = out
        for part in parts[:-1]:
            nxt = target.get(part)
            if nxt is None:
                nxt = target[part] = {}
            elif not isinstance(nxt, dict):
                raise EsError(400, "mapper_parsing_exception",
                              f"Could not dynamically add mapping for field [{key}]. Existing "
                              f"mapping for [{part}] must be of type object but found a concrete value.")
            target = nxt
        last = parts[-1]
        if last in target and isinstance(target[last], dict) and isinstance(value, dict):
            target[last].update(value)
        else:
            target[last] = value
    return out


# --------------------------------------------------------------------------- the store
class _Store:
    """Indices, documents and templates; every method is called with the server lock held."""

    def __init__(self, server: "FakeElasticsearch"):
        self.server = server
        self.indices: dict[str, _Index] = {}
        self.templates: dict[str, dict] = {}

    # ---- templates
    def template_for(self, name: str) -> dict | None:
        best: tuple[int, str] | None = None
        for tname, body in self.templates.items():
            patterns = body.get("index_patterns") or []
            if isinstance(patterns, str):
                patterns = [patterns]
            if any(_glob_match(p, name) for p in patterns):
                prio = int(body.get("priority") or 0)
                if best is None or prio > best[0]:
                    best = (prio, tname)
        return self.templates[best[1]] if best else None

    # ---- indices
    def create_index(self, name: str, body: dict | None = None, *, implicit: bool = False) -> _Index:
        _validate_index_name(name)
        if name in self.indices:
            raise EsError(400, "resource_already_exists_exception", f"index [{name}/{self.indices[name].uuid}] already exists",
                          index=name)
        mappings: dict = {}
        settings: dict = {}
        aliases: dict = {}
        tmpl = self.template_for(name)
        if tmpl is not None:
            t = tmpl.get("template") or {}
            mappings = copy.deepcopy(t.get("mappings") or {})
            settings = copy.deepcopy(t.get("settings") or {})
            aliases = copy.deepcopy(t.get("aliases") or {})
        if body:
            if not isinstance(body, dict):
                raise _bad_request("request body must be an object", "parse_exception")
            _merge_mappings(mappings, body.get("mappings") or {})
            settings.update(copy.deepcopy(body.get("settings") or {}))
            aliases.update(copy.deepcopy(body.get("aliases") or {}))
        idx = _Index(name=name, mappings=mappings, settings=settings, aliases=aliases)
        self.indices[name] = idx
        return idx

    def get_index(self, name: str) -> _Index:
        idx = self.indices.get(name)
        if idx is None:
            for candidate in self.indices.values():
                if name in candidate.aliases:
                    return candidate
            raise _index_not_found(name)
        return idx

    def write_index(self, name: str) -> _Index:
        idx = self.indices.get(name)
        if idx is not None:
            return idx
        for candidate in self.indices.values():
            if name in candidate.aliases:
                return candidate
        return self.create_index(name, implicit=True)

    def resolve(self, expr: str | None, *, allow_no_indices: bool = True, ignore_unavailable: bool = False) -> list[_Index]:
        if not expr or expr in ("_all", "*"):
            return [i for n, i in sorted(self.indices.items()) if not n.startswith(".")]
        out: dict[str, _Index] = {}
        for part in expr.split(","):
            part = part.strip()
            exclude = part.startswith("-") and len(out) > 0
            if exclude:
                part = part[1:]
            if "*" in part:
                matched = {n: i for n, i in self.indices.items() if _glob_match(part, n)
                           or any(_glob_match(part, a) for a in i.aliases)}
                if exclude:
                    for n in matched:
                        out.pop(n, None)
                else:
                    out.update(matched)
            else:
                try:
                    idx = self.get_index(part)
                except EsError:
                    if ignore_unavailable:
                        continue
                    raise
                if exclude:
                    out.pop(idx.name, None)
                else:
                    out[idx.name] = idx
        if not out and not allow_no_indices:
            raise _index_not_found(expr)
        return [out[n] for n in sorted(out)]

    # ---- documents
    def check_and_map(self, idx: _Index, source: Any, doc_id: str | None) -> dict:
        """Validate ``source`` against the index mapping; returns the mapping to commit (dynamic fields added)."""
        if not isinstance(source, dict):
            raise EsError(400, self.server.mapping_error_type,
                          "failed to parse, document is empty" if source is None else
                          "failed to parse: document must be an object")
        mappings = copy.deepcopy(idx.mappings)
        expanded = _expand_dots(source)
        dynamic = str(mappings.get("dynamic", "true")).lower()
        props = mappings.setdefault("properties", {}) if dynamic not in ("false", "strict", "runtime") or "properties" in mappings else {}
        _check_object(self.server, mappings, props, expanded, "", dynamic, doc_id)
        if not props and "properties" in mappings and not mappings["properties"]:
            del mappings["properties"]
        return mappings

    def put_doc(self, idx: _Index, doc_id: str | None, source: Any, *, op: str,
                if_seq_no: int | None = None, if_primary_term: int | None = None) -> tuple[str, _Doc, str]:
        """Index or create one document; returns (id, doc, result)."""
        if doc_id is not None:
            doc_id = str(doc_id)
            if doc_id == "":
                raise EsError(400, "action_request_validation_exception",
                              "Validation Failed: 1: if _id is specified it must not be empty;")
            if len(doc_id.encode()) > 512:
                raise EsError(400, "action_request_validation_exception",
                              f"Validation Failed: 1: id [{doc_id}] is too long, must be no longer than 512 bytes but was: {len(doc_id.encode())};")
        existing = idx.docs.get(doc_id) if doc_id is not None else None
        if op == "create" and existing is not None:
            raise EsError(409, "version_conflict_engine_exception",
                          f"[{doc_id}]: version conflict, document already exists (current version [{existing.version}])",
                          index=idx.name, extra={"shard": "0"})
        if if_seq_no is not None or if_primary_term is not None:
            cur_seq = existing.seq_no if existing else -2
            if existing is None or cur_seq != if_seq_no or (if_primary_term is not None and if_primary_term != 1):
                raise EsError(409, "version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, required seqNo [{if_seq_no}], primary term "
                              f"[{if_primary_term}]. " + ("but no document was found" if existing is None else
                                                          f"current document has seqNo [{cur_seq}] and primary term [1]"),
                              index=idx.name, extra={"shard": "0"})
        new_mappings = self.check_and_map(idx, source, doc_id)
        if doc_id is None:
            doc_id = _auto_id()
            for _ in range(100):  # bounded: collisions of 120 random bits do not happen
                if doc_id not in idx.docs:
                    break
                doc_id = _auto_id()
        idx.mappings = new_mappings
        idx.seq_no += 1
        if existing is not None:
            doc = _Doc(source=copy.deepcopy(source), version=existing.version + 1, seq_no=idx.seq_no)
            result = "updated"
        else:
            doc = _Doc(source=copy.deepcopy(source), version=1, seq_no=idx.seq_no)
            result = "created"
        idx.docs[doc_id] = doc
        self.server._count_indexed(idx.name)
        return doc_id, doc, result

    def delete_doc(self, idx: _Index, doc_id: str) -> tuple[_Doc | None, int]:
        existing = idx.docs.pop(doc_id, None)
        idx.seq_no += 1
        return existing, idx.seq_no


def _merge_mappings(target: dict, extra: dict) -> None:
    for key, value in extra.items():
        if key == "properties" and isinstance(value, dict):
            props = target.setdefault("properties", {})
            for fname, fmap in value.items():
                if fname in props and isinstance(props[fname], dict) and isinstance(fmap, dict):
                    old_type = props[fname].get("type", "object")
                    new_type = fmap.get("type", "object")
                    if old_type != new_type:
                        raise EsError(400, "illegal_argument_exception",
                                      f"mapper [{fname}] cannot be changed from type [{old_type}] to [{new_type}]")
                    merged = copy.deepcopy(props[fname])
                    _merge_mappings(merged, fmap)
                    props[fname] = merged
                else:
                    props[fname] = copy.deepcopy(fmap)
        else:
            target[key] = copy.deepcopy(value)


def _dynamic_field(server: "FakeElasticsearch", mappings: dict, value: Any) -> dict | None:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "long"}
    if isinstance(value, float):
        return {"type": "float"}
    if isinstance(value, dict):
        return {"properties": {}}
    if isinstance(value, str):
        if mappings.get("date_detection", True) not in (False, "false"):
            if _parse_iso(value) is not None or _SLASH_DATE_RE.match(value):
                return {"type": "date"}
        if mappings.get("numeric_detection", False) in (True, "true"):
            try:
                int(value)
                return {"type": "long"}
            except ValueError:
                try:
                    float(value)
                    return {"type": "float"}
                except ValueError:
                    pass
        return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    return None


def _field_error(server: "FakeElasticsearch", path: str, ftype: str, value: Any, doc_id: str | None,
                 cause: dict) -> EsError:
    return EsError(400, server.mapping_error_type,
                   f"failed to parse field [{path}] of type [{ftype}] in document with id '{doc_id}'. "
                   f"Preview of field's value: '{_preview(value)}'", caused_by=cause)


def _check_scalar(server: "FakeElasticsearch", fmap: dict, ftype: str, path: str, value: Any, doc_id: str | None) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        if ftype in ("geo_point", "geo_shape", "shape", "flattened", "point", "histogram",
                     "aggregate_metric_double", "range", "integer_range", "long_range", "float_range",
                     "double_range", "date_range", "ip_range", "join", "sparse_vector", "semantic_text"):
            return
        raise _field_error(server, path, ftype, value, doc_id, {
            "type": "illegal_argument_exception",
            "reason": f"Can't get text on a START_OBJECT at {path}" if ftype in _STRING_TYPES else
            f"Current token (START_OBJECT) not numeric, can not use numeric value accessors"})
    coerce = fmap.get("coerce", True) not in (False, "false")
    if ftype in _NUMERIC_TYPES:
        number: float | None
        if isinstance(value, bool):
            raise _field_error(server, path, ftype, value, doc_id, {
                "type": "x_content_parse_exception",
                "reason": f"Current token ({'VALUE_TRUE' if value else 'VALUE_FALSE'}) not numeric, "
                          "can not use numeric value accessors"})
        if isinstance(value, str):
            number = _as_number(value) if coerce else None
            if number is None:
                raise _field_error(server, path, ftype, value, doc_id, {
                    "type": "number_format_exception" if coerce else "illegal_argument_exception",
                    "reason": f'For input string: "{value}"' if coerce else "[coerce] is false, strings are not accepted"})
        elif isinstance(value, (int, float)):
            number = float(value)
        else:
            raise _field_error(server, path, ftype, value, doc_id, {
                "type": "illegal_argument_exception", "reason": "not a number"})
        if not math.isfinite(number):
            if ftype in _INTEGER_RANGES or not fmap.get("ignore_malformed"):
                raise _field_error(server, path, ftype, value, doc_id, {
                    "type": "illegal_argument_exception", "reason": f"[{ftype}] supports only finite values, but got [{value}]"})
        if ftype in _INTEGER_RANGES:
            lo, hi = _INTEGER_RANGES[ftype]
            exact = value if isinstance(value, int) else number
            if not coerce and not float(number).is_integer():
                raise _field_error(server, path, ftype, value, doc_id, {
                    "type": "illegal_argument_exception", "reason": f"Value [{value}] has a decimal part"})
            if exact < lo or exact > hi:
                raise _field_error(server, path, ftype, value, doc_id, {
                    "type": "illegal_argument_exception",
                    "reason": f"Value [{value}] is out of range for {'a' if ftype != 'integer' else 'an'} {ftype}"})
        return
    if ftype in ("date", "date_nanos"):
        if not _date_ok(value, fmap.get("format")):
            fmt = fmap.get("format") or "strict_date_optional_time||epoch_millis"
            raise _field_error(server, path, ftype, value, doc_id, {
                "type": "illegal_argument_exception",
                "reason": f"failed to parse date field [{value}] with format [{fmt}]"})
        return
    if ftype == "boolean":
        if value in (True, False, "true", "false", ""):
            return
        raise _field_error(server, path, ftype, value, doc_id, {
            "type": "illegal_argument_exception",
            "reason": f"Failed to parse value [{value}] as only [true] or [false] are allowed."})
    if ftype == "ip":
        try:
            ipaddress.ip_address(str(value))
        except ValueError:
            raise _field_error(server, path, ftype, value, doc_id, {
                "type": "illegal_argument_exception", "reason": f"'{value}' is not an IP string literal."})
        return
    # keyword, text, and the types not emulated: any scalar is accepted.


def _check_object(server: "FakeElasticsearch", mappings: dict, props: dict, obj: dict, prefix: str,
                  dynamic: str, doc_id: str | None) -> None:
    for key, value in obj.items():
        path = prefix + key
        if key == "":
            raise EsError(400, server.mapping_error_type,
                          "field name cannot be an empty string")
        values = _leaf_values(value, []) if isinstance(value, list) else ([] if value is None else [value])
        fmap = props.get(key)
        if fmap is None:
            if not values:
                continue  # null / [] are not mapped
            if dynamic == "strict":
                raise EsError(400, "strict_dynamic_mapping_exception",
                              f"[1:2] mapping set to strict, dynamic introduction of [{key}] within "
                              f"[{prefix[:-1] or '_doc'}] is not allowed")
            if dynamic in ("false", "runtime"):
                continue
            fmap = _dynamic_field(server, mappings, values[0])
            if fmap is None:
                continue
            props[key] = fmap
        ftype = fmap.get("type") or "object"
        if ftype in ("object", "nested"):
            sub_dynamic = str(fmap.get("dynamic", dynamic)).lower()
            if fmap.get("enabled", True) in (False, "false"):
                continue
            for v in values:
                if not isinstance(v, dict):
                    raise EsError(400, server.mapping_error_type,
                                  f"object mapping for [{path}] tried to parse field [{key}] as object, "
                                  f"but found a concrete value")
                sub_props = fmap.setdefault("properties", {}) if sub_dynamic not in ("false", "strict", "runtime") \
                    else fmap.get("properties", {})
                _check_object(server, mappings, sub_props, v, path + ".", sub_dynamic, doc_id)
            continue
        if fmap.get("ignore_malformed") in (True, "true"):
            continue
        for v in values:
            _check_scalar(server, fmap, ftype, path, v, doc_id)


def _field_mapping(mappings: dict, name: str) -> dict | None:
    props = mappings.get("properties") or {}
    parts = name.split(".")
    fmap: dict | None = None
    for i, part in enumerate(parts):
        fmap = props.get(part)
        if fmap is None:
            # a multi-field: "<field>.keyword"
            return None
        props = fmap.get("properties") or {}
        if not props and i < len(parts) - 1:
            sub = (fmap.get("fields") or {}).get(".".join(parts[i + 1:]))
            return {**sub, "_multi_field_of": ".".join(parts[:i + 1])} if sub else None
    return fmap


# --------------------------------------------------------------------------- queries
class _Query:
    """Evaluates the small query DSL subset on (doc_id, source) of one index."""

    def __init__(self, query: Any, mappings: dict):
        self.query = query if query is not None else {"match_all": {}}
        self.mappings = mappings
        _Query.validate(self.query)

    @staticmethod
    def validate(q: Any) -> None:
        if not isinstance(q, dict) or len(q) != 1:
            raise _bad_request("query malformed, must start with start_object and contain exactly one query",
                               "parsing_exception")
        (kind, body), = q.items()
        if kind not in ("match_all", "match_none", "term", "terms", "match", "match_phrase", "ids",
                        "exists", "range", "bool", "prefix", "wildcard"):
            raise EsError(400, "parsing_exception", f"unknown query [{kind}] (not emulated by the test server)")
        if kind == "bool":
            if not isinstance(body, dict):
                raise _bad_request("[bool] query malformed", "parsing_exception")
            for clause in ("must", "filter", "should", "must_not"):
                sub = body.get(clause)
                for s in (sub if isinstance(sub, list) else [sub] if sub is not None else []):
                    _Query.validate(s)

    def values(self, source: dict, fname: str) -> tuple[list, dict | None]:
        fmap = _field_mapping(self.mappings, fname)
        lookup = fname
        if fmap is not None and "_multi_field_of" in fmap:
            lookup = fmap["_multi_field_of"]
        vals = _leaf_values(source, lookup.split("."))
        if not vals and "." in fname and fmap is None:
            head, _, tail = fname.rpartition(".")
            if tail == "keyword":  # unmapped but conventional multi-field
                vals = _leaf_values(source, head.split("."))
                fmap = {"type": "keyword"}
        return vals, fmap

    @staticmethod
    def _field_and_value(body: Any, kind: str, key: str) -> tuple[str, Any, dict]:
        if not isinstance(body, dict):
            raise _bad_request(f"[{kind}] query malformed", "parsing_exception")
        fields = {k: v for k, v in body.items() if k not in ("boost", "_name")}
        if len(fields) != 1:
            raise _bad_request(f"[{kind}] query doesn't support multiple fields, found {sorted(fields)}",
                               "parsing_exception")
        (fname, spec), = fields.items()
        if isinstance(spec, dict):
            if key not in spec:
                raise _bad_request(f"[{kind}] query malformed, no [{key}] field", "parsing_exception")
            return fname, spec[key], spec
        return fname, spec, {}

    @staticmethod
    def _equal(doc_value: Any, query_value: Any, fmap: dict | None, case_insensitive: bool = False) -> bool:
        ftype = (fmap or {}).get("type")
        if ftype in _NUMERIC_TYPES or (ftype is None and isinstance(doc_value, (int, float))
                                      and not isinstance(doc_value, bool)):
            a, b = _as_number(doc_value), _as_number(query_value)
            return a is not None and b is not None and a == b
        if ftype in ("date", "date_nanos"):
            a, b = _date_key(doc_value), _date_key(query_value)
            if a is not None and b is not None:
                return a == b
        if ftype == "boolean" or isinstance(doc_value, bool):
            return _scalar_str(doc_value).lower() == _scalar_str(query_value).lower()
        a, b = _scalar_str(doc_value), _scalar_str(query_value)
        return a.lower() == b.lower() if case_insensitive else a == b

    def matches(self, doc_id: str, source: dict, q: Any = None) -> bool:
        q = self.query if q is None else q
        (kind, body), = q.items()
        if kind == "match_all":
            return True
        if kind == "match_none":
            return False
        if kind == "ids":
            return doc_id in [str(v) for v in (body or {}).get("values", [])]
        if kind == "exists":
            vals, _ = self.values(source, (body or {}).get("field", ""))
            return bool(vals)
        if kind == "bool":
            return self._bool(doc_id, source, body)
        if kind == "terms":
            fields = {k: v for k, v in body.items() if k not in ("boost", "_name")}
            if len(fields) != 1 or not isinstance(next(iter(fields.values())), list):
                raise _bad_request("[terms] query malformed", "parsing_exception")
            (fname, wanted), = fields.items()
            if fname == "_id":
                return doc_id in [str(w) for w in wanted]
            vals, fmap = self.values(source, fname)
            return any(self._term_match(v, w, fmap) for v in vals for w in wanted)
        if kind == "range":
            return self._range(doc_id, source, body)
        if kind in ("term", "prefix", "wildcard"):
            fname, wanted, spec = self._field_and_value(body, kind, "value")
            ci = spec.get("case_insensitive") in (True, "true")
            if fname == "_id":
                return self._equal(doc_id, wanted, {"type": "keyword"}, ci)
            vals, fmap = self.values(source, fname)
            if kind == "term":
                return any(self._term_match(v, wanted, fmap, ci) for v in vals)
            pattern = str(wanted) + "*" if kind == "prefix" else str(wanted)
            return any(fnmatch.fnmatchcase(_scalar_str(v).lower() if ci else _scalar_str(v),
                                           pattern.lower() if ci else pattern) for v in vals)
        if kind in ("match", "match_phrase"):
            fname, wanted, spec = self._field_and_value(body, kind, "query")
            if fname == "_id":
                return self._equal(doc_id, wanted, {"type": "keyword"})
            vals, fmap = self.values(source, fname)
            ftype = (fmap or {}).get("type")
            if ftype in ("text", "match_only_text") or (fmap is None and any(isinstance(v, str) for v in vals)):
                qtokens = _tokens(wanted)
                if not qtokens:
                    return False
                for v in vals:
                    dtokens = _tokens(v)
                    if kind == "match_phrase":
                        n = len(qtokens)
                        if any(dtokens[i:i + n] == qtokens for i in range(len(dtokens) - n + 1)):
                            return True
                    elif str(spec.get("operator", "or")).lower() == "and":
                        if all(t in dtokens for t in qtokens):
                            return True
                    elif any(t in dtokens for t in qtokens):
                        return True
                return False
            return any(self._equal(v, wanted, fmap) for v in vals)
        raise EsError(400, "parsing_exception", f"unknown query [{kind}]")

    def _term_match(self, doc_value: Any, wanted: Any, fmap: dict | None, ci: bool = False) -> bool:
        if (fmap or {}).get("type") in ("text", "match_only_text"):
            return _scalar_str(wanted) in _tokens(doc_value)
        return self._equal(doc_value, wanted, fmap, ci)

    def _bool(self, doc_id: str, source: dict, body: dict) -> bool:
        def clauses(name: str) -> list:
            sub = body.get(name)
            return sub if isinstance(sub, list) else [sub] if sub is not None else []
        musts = clauses("must") + clauses("filter")
        if not all(self.matches(doc_id, source, c) for c in musts):
            return False
        if any(self.matches(doc_id, source, c) for c in clauses("must_not")):
            return False
        shoulds = clauses("should")
        if shoulds:
            default_msm = 0 if musts else 1
            msm = body.get("minimum_should_match", default_msm)
            try:
                msm = int(str(msm).rstrip("%")) if not str(msm).endswith("%") else \
                    math.floor(len(shoulds) * int(str(msm).rstrip("%")) / 100)
            except ValueError:
                msm = default_msm
            if msm < 0:
                msm = len(shoulds) + msm
            return sum(1 for c in shoulds if self.matches(doc_id, source, c)) >= msm
        return True

    def _range(self, doc_id: str, source: dict, body: dict) -> bool:
        fields = {k: v for k, v in body.items() if k not in ("boost", "_name")}
        if len(fields) != 1 or not isinstance(next(iter(fields.values())), dict):
            raise _bad_request("[range] query malformed", "parsing_exception")
        (fname, spec), = fields.items()
        vals, fmap = self.values(source, fname)
        ftype = (fmap or {}).get("type")

        def key(v: Any) -> Any:
            if ftype in ("date", "date_nanos"):
                return _date_key(v)
            if ftype in _NUMERIC_TYPES or (ftype is None and _as_number(v) is not None):
                return _as_number(v)
            return _scalar_str(v)

        bounds = {op: spec[op] for op in ("gt", "gte", "lt", "lte", "from", "to") if spec.get(op) is not None}
        if "from" in bounds:
            bounds["gte" if spec.get("include_lower", True) else "gt"] = bounds.pop("from")
        if "to" in bounds:
            bounds["lte" if spec.get("include_upper", True) else "lt"] = bounds.pop("to")
        for v in vals:
            kv = key(v)
            if kv is None:
                continue
            ok = True
            for op, bound in bounds.items():
                kb = key(bound)
                if kb is None or type(kb) is not type(kv):
                    ok = False
                    break
                if (op == "gt" and not kv > kb) or (op == "gte" and not kv >= kb) or \
                        (op == "lt" and not kv < kb) or (op == "lte" and not kv <= kb):
                    ok = False
                    break
            if ok:
                return True
        return False


def _sort_specs(sort: Any) -> list[tuple[str, bool, str]]:
    """-> [(field, descending, missing)]"""
    if sort is None:
        return []
    items = sort if isinstance(sort, list) else [sort]
    out = []
    for item in items:
        if isinstance(item, str):
            for part in item.split(","):
                name, _, order = part.partition(":")
                out.append((name, order.lower() == "desc" or (not order and name == "_score"), "_last"))
        elif isinstance(item, dict) and len(item) == 1:
            (name, spec), = item.items()
            if isinstance(spec, str):
                out.append((name, spec.lower() == "desc", "_last"))
            elif isinstance(spec, dict):
                out.append((name, str(spec.get("order", "desc" if name == "_score" else "asc")).lower() == "desc",
                            spec.get("missing", "_last")))
            else:
                raise _bad_request(f"malformed sort [{item}]", "parsing_exception")
        else:
            raise _bad_request(f"malformed sort [{item}]", "parsing_exception")
    return out


def _filter_source(source: dict, spec: Any) -> dict | None:
    """``_source`` filtering: ``True``/``None`` (all), ``False`` (none), a list of paths or includes/excludes."""
    if spec is None or spec is True:
        return source
    if spec is False:
        return None
    includes: list[str] = []
    excludes: list[str] = []
    if isinstance(spec, str):
        includes = [s for s in spec.split(",") if s]
    elif isinstance(spec, list):
        includes = [str(s) for s in spec]
    elif isinstance(spec, dict):
        inc = spec.get("includes", spec.get("include", []))
        exc = spec.get("excludes", spec.get("exclude", []))
        includes = [inc] if isinstance(inc, str) else list(inc or [])
        excludes = [exc] if isinstance(exc, str) else list(exc or [])

    def hit(path: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in patterns)

    def walk(obj: dict, prefix: str, inside: bool, depth: int) -> dict:
        out: dict = {}
        if depth > 100:  # bounded recursion
            return out
        for k, v in obj.items():
            path = prefix + k
            if hit(path, excludes):
                continue
            full = inside or not includes or hit(path, includes)
            if isinstance(v, dict):
                if full and not excludes:
                    out[k] = v
                elif full or any(i.startswith(path + ".") or "*" in i for i in includes):
                    sub = walk(v, path + ".", full, depth + 1)
                    if sub or full:
                        out[k] = sub
            elif full:
                out[k] = v
        return out

    return walk(source, "", False, 0)


# --------------------------------------------------------------------------- HTTP layer
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr: tuple[str, int], handler: type, owner: "FakeElasticsearch"):
        self.owner = owner
        super().__init__(addr, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on dropped connections
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, OSError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-elasticsearch"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    wbufsize = 64 * 1024  # headers and body leave in one segment (no Nagle/delayed-ACK stalls)
    server: _HTTPServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the access log
        pass

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.owner._track(self.connection, True, self.server)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._track(self.connection, False)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True
        except OSError as exc:
            if exc.errno in (errno.EBADF, errno.ENOTCONN, errno.EPIPE, errno.ECONNRESET, None):
                self.close_connection = True
            else:
                raise

    def _dispatch(self) -> None:
        self.server.owner._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch


@dataclass
class _Request:
    method: str
    path: str
    segments: list[str]
    params: dict[str, str]
    headers: Any
    body: bytes
    accept_compat: str | None = None
    content_compat: str | None = None

    def json(self, *, required: bool = False) -> Any:
        if not self.body.strip():
            if required:
                raise EsError(400, "parse_exception", "request body is required")
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EsError(400, "x_content_parse_exception", f"Failed to parse request body: {exc}")


class FakeElasticsearch:
    """In-memory Elasticsearch lookalike on ``127.0.0.1`` (see the module docstring).

    ``version``: the version reported by ``GET /`` (its major version decides which
    ``compatible-with`` values are accepted).  ``username``/``password`` enable basic auth,
    ``api_key`` (the encoded value the client sends, or an ``(id, key)`` tuple) enables API keys.
    ``port=0`` picks a free port; it is kept across :meth:`down`/:meth:`up`.
    """

    def __init__(self, version: str = "8.15.0", username: str | None = None, password: str | None = None,
                 api_key: str | tuple[str, str] | None = None, *, port: int = 0,
                 cluster_name: str = "fake-elasticsearch", product_header: bool = True):
        self.version = version
        try:
            self.major = int(version.split(".")[0])
            self.minor = int(version.split(".")[1]) if "." in version else 0
        except ValueError:
            raise ValueError(f"version must look like 8.15.0, not {version!r}") from None
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        self.username = username
        self.password = password
        if isinstance(api_key, (tuple, list)):
            api_key = base64.b64encode(f"{api_key[0]}:{api_key[1]}".encode()).decode()
        self.api_key = api_key
        self.cluster_name = cluster_name
        self.node_name = "fake-es-node-0"
        self.cluster_uuid = base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()
        self.product_header = product_header
        self.mapping_error_type = "mapper_parsing_exception"
        self.faults = Faults()

        self._lock = threading.RLock()  # the data (store, counters)
        self._life = threading.Lock()  # start/stop/down/up
        self._conns_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._delay = 0.0
        self._delay_count: int | None = None
        self._store = _Store(self)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self._is_down = False

        self.requests: Counter = Counter()  # (method, path) -> count
        self.indexed: Counter = Counter()  # index -> documents written (index/create/update)
        self.bulk_log: list[BulkRecord] = []
        self.statuses: Counter = Counter()  # HTTP status -> count

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("FakeElasticsearch is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def is_up(self) -> bool:
        return self._httpd is not None

    def start(self) -> "FakeElasticsearch":
        with self._life:
            if self._httpd is not None:
                return self
            self._stopping.clear()
            self._listen(self._port)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        with self._life:
            self._stopping.set()
            self._close_listener(timeout)
            self._drop_connections()
            self._is_down = False

    def down(self) -> None:
        """Stop listening (connections are refused) and drop every open connection."""
        with self._life:
            if self._httpd is None:
                return
            self._is_down = True
            self._close_listener(5.0)
            self._drop_connections()

    def up(self) -> None:
        """Listen again, on the same port."""
        with self._life:
            if self._httpd is not None:
                return
            if not self._port:
                raise RuntimeError("FakeElasticsearch was never started")
            self._listen(self._port)
            self._is_down = False

    def delay(self, seconds: float, count: int | None = None) -> None:
        """Delay every response (or the next ``count``) by ``seconds`` (``0``: no delay)."""
        if not 0 <= seconds <= MAX_DELAY:
            raise ValueError(f"delay must be within [0, {MAX_DELAY}] seconds")
        with self._lock:
            self._delay = float(seconds)
            self._delay_count = count

    def __enter__(self) -> "FakeElasticsearch":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _listen(self, port: int) -> None:
        last: OSError | None = None
        for attempt in range(REBIND_ATTEMPTS if port else 1):
            try:
                httpd = _HTTPServer(("127.0.0.1", port), _Handler, self)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                last = exc
                time.sleep(0.05)
        else:
            raise RuntimeError(f"could not listen on 127.0.0.1:{port} again: {last}")
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"fake-es-{self._port}")
        self._thread.start()

    def _close_listener(self, timeout: float) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is None:
            return
        httpd.shutdown()  # returns once serve_forever's loop (poll 50 ms) has ended
        httpd.server_close()
        if thread is not None:
            thread.join(timeout)

    def _track(self, conn: socket.socket, add: bool, server: Any = None) -> None:
        with self._conns_lock:
            if not add:
                self._conns.discard(conn)
            elif server is not self._httpd:  # accepted just before down()/stop(): drop it too
                _shutdown_socket(conn)
            else:
                self._conns.add(conn)

    def _drop_connections(self) -> None:
        """Shut every open connection down; its handler thread then closes it (no fd reuse races)."""
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
            for conn in conns:
                _shutdown_socket(conn)

    # ------------------------------------------------------------------ counters
    @property
    def bulk_calls(self) -> int:
        with self._lock:
            return len(self.bulk_log)

    @property
    def bulk_bodies(self) -> list[str]:
        with self._lock:
            return [r.raw for r in self.bulk_log]

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests received, optionally only of one method and/or one exact path."""
        with self._lock:
            return sum(n for (m, p), n in self.requests.items()
                       if (method is None or m == method.upper()) and (path is None or p == path))

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.indexed.clear()
            self.bulk_log.clear()
            self.statuses.clear()

    def _count_indexed(self, index: str) -> None:
        self.indexed[index] += 1

    # ------------------------------------------------------------------ direct access for assertions
    def documents(self, index: str) -> dict[str, dict]:
        """``{_id: _source}`` of an index (copies); ``{}`` if the index does not exist."""
        with self._lock:
            idx = self._store.indices.get(index)
            return {} if idx is None else {k: copy.deepcopy(d.source) for k, d in idx.docs.items()}

    def document(self, index: str, doc_id: str) -> dict | None:
        with self._lock:
            idx = self._store.indices.get(index)
            doc = idx.docs.get(doc_id) if idx else None
            return None if doc is None else copy.deepcopy(doc.source)

    def indices(self) -> list[str]:
        with self._lock:
            return sorted(self._store.indices)

    def mapping(self, index: str) -> dict | None:
        with self._lock:
            idx = self._store.indices.get(index)
            return None if idx is None else copy.deepcopy(idx.mappings)

    def templates(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._store.templates)

    # ------------------------------------------------------------------ request handling
    def _handle(self, h: _Handler) -> None:
        start = time.monotonic()
        split = urlsplit(h.path)
        path = split.path or "/"
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        method = h.command.upper()
        params = {k: v for k, v in parse_qsl(split.query, keep_blank_values=True)}
        try:
            body = self._read_body(h)
        except EsError as exc:
            self._send(h, method, exc.status, exc.body(), None, exc.headers)
            h.close_connection = True
            return
        req = _Request(method=method, path=path, params=params, headers=h.headers, body=body,
                       segments=[unquote(s) for s in path.strip("/").split("/") if s])
        with self._lock:
            self.requests[(method, path)] += 1
            record = None
            if req.segments and req.segments[-1] == "_bulk" and len(req.segments) <= 2:
                raw = body.decode("utf-8", "replace")
                record = BulkRecord(method=method, path=path, params=dict(params), raw=raw,
                                    lines=_parse_ndjson_loose(raw))
                self.bulk_log.append(record)
            delay = 0.0
            if self._delay > 0 and self._delay_count != 0:
                delay = self._delay
                if self._delay_count is not None:
                    self._delay_count -= 1
        if delay:
            self._stopping.wait(delay)
        headers: dict[str, Any] = {}
        compat: str | None = None
        try:
            compat = self._negotiate(req)
            fault = self.faults.take(method, path)
            if fault is not None:
                status, retry_after = fault
                err = error_for_status(status)
                if status == 429 and retry_after is not None:
                    err.headers["Retry-After"] = str(retry_after)
                raise err
            self._authenticate(req)
            status, payload = self._route(req, start)
        except EsError as exc:
            status, payload, headers = exc.status, exc.body(), exc.headers
        except Exception as exc:  # a bug in this server: answer like ES would, keep serving
            status, payload = 500, EsError(500, "exception", f"fake server error: {type(exc).__name__}: {exc}").body()
        if record is not None:
            record.status = status
        with self._lock:
            self.statuses[status] += 1
        self._send(h, method, status, payload, compat, headers)

    def _read_body(self, h: _Handler) -> bytes:
        te = (h.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks: list[bytes] = []
            total = 0
            for _ in range(1_000_000):  # bounded number of chunks
                line = h.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    for _ in range(100):  # trailers
                        trailer = h.rfile.readline(8192)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    raise EsError(413, "content_too_long_exception", "request body too large")
                chunks.append(h.rfile.read(size))
                h.rfile.readline(8)
            data = b"".join(chunks)
        else:
            try:
                length = int(h.headers.get("Content-Length") or 0)
            except ValueError:
                raise EsError(400, "illegal_argument_exception", "bad Content-Length")
            if length > MAX_BODY:
                raise EsError(413, "content_too_long_exception", "request body too large")
            data = h.rfile.read(length) if length > 0 else b""
        encoding = (h.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip" and data:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                raise EsError(400, "illegal_argument_exception", "malformed gzip request body")
        return data

    def _negotiate(self, req: _Request) -> str | None:
        """Check ``Accept``/``Content-Type``; returns the compat version to answer with (or None)."""
        accepted = (str(self.major), str(self.major - 1))
        found: dict[str, tuple[str, str | None]] = {}
        for header in ("Accept", "Content-Type"):
            value = req.headers.get(header)
            if not value:
                continue
            for part in value.split(","):
                m = _COMPAT_RE.match(part)
                if not m:
                    continue
                params = dict(p.strip().lower().partition("=")[::2] for p in (m.group(2) or "").split(";") if p.strip())
                found[header] = (part.strip(), params.get("compatible-with"))
                break
        for header, (value, version) in found.items():
            if version is None or version not in accepted:
                raise EsError(400, "media_type_header_exception",
                              f"Invalid media-type value on headers [{header}]", caused_by={
                                  "type": "status_exception",
                                  "reason": f"{header} version must be either version {accepted[0]} or "
                                            f"{accepted[1]}, but found {version}. {header}={value}"})
        acc = found.get("Accept", (None, None))[1]
        ctv = found.get("Content-Type", (None, None))[1]
        if req.body and acc and ctv and acc != ctv:
            raise EsError(400, "media_type_header_exception",
                          "Invalid media-type value on headers [Content-Type, Accept]", caused_by={
                              "type": "status_exception",
                              "reason": "A compatible version is required on both Content-Type and Accept headers if "
                                        "either one has requested a compatible version and the compatible versions "
                                        f"must match. Accept={req.headers.get('Accept')}, "
                                        f"Content-Type={req.headers.get('Content-Type')}"})
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if req.body and ctype and ctype not in _JSON_TYPES and "Content-Type" not in found:
            raise EsError(406, "", "", raw_error=f"Content-Type header [{req.headers.get('Content-Type')}] is not supported")
        return acc or ctv

    def _authenticate(self, req: _Request) -> None:
        if self.username is None and self.api_key is None:
            return
        auth = req.headers.get("Authorization") or ""
        scheme, _, cred = auth.strip().partition(" ")
        scheme = scheme.lower()
        cred = cred.strip()
        challenge = []
        if self.username is not None:
            challenge.append('Basic realm="security", charset="UTF-8"')
        if self.api_key is not None:
            challenge.append("ApiKey")
        if scheme == "basic" and self.username is not None:
            try:
                user, _, pwd = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                user, pwd = "", None
            if pwd is not None and hmac.compare_digest(user.encode(), self.username.encode()) \
                    and hmac.compare_digest(pwd.encode(), (self.password or "").encode()):
                return
            reason = f"unable to authenticate user [{user}] for REST request [{req.path}]"
        elif scheme == "apikey" and self.api_key is not None:
            if hmac.compare_digest(cred.encode(), self.api_key.encode()):
                return
            reason = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
        elif auth:
            reason = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
        else:
            reason = f"missing authentication credentials for REST request [{req.path}]"
        hdr = {"WWW-Authenticate": challenge}
        raise EsError(401, "security_exception", reason, extra={"header": hdr}, headers=hdr)

    def _send(self, h: _Handler, method: str, status: int, payload: Any, compat: str | None,
              headers: dict[str, Any]) -> None:
        data = b"" if payload is None else _dumps(payload)
        ctype = (f"application/vnd.elasticsearch+json;compatible-with={compat}" if compat
                 else "application/json")
        try:
            h.send_response(status)
            if self.product_header:
                h.send_header("X-Elastic-Product", "Elasticsearch")
            h.send_header("Content-Type", ctype)
            for name, value in headers.items():
                for v in (value if isinstance(value, list) else [value]):
                    h.send_header(name, str(v))
            h.send_header("Content-Length", "0" if method == "HEAD" else str(len(data)))
            h.end_headers()
            if method != "HEAD" and data:
                h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    # ------------------------------------------------------------------ routing
    def _route(self, req: _Request, start: float) -> tuple[int, Any]:
        seg, m = req.segments, req.method
        with self._lock:
            if not seg:
                return self._allow(m, ("GET", "HEAD"), req) or (200, self._info() if m == "GET" else None)
            head = seg[0]
            if head == "_bulk" and len(seg) == 1:
                return self._allow(m, ("POST", "PUT"), req) or self._bulk(req, None, start)
            if head == "_index_template":
                return self._templates(req)
            if head == "_cluster" and seg[1:] == ["health"]:
                return self._allow(m, ("GET",), req) or (200, self._health())
            if head in ("_search", "_count") and len(seg) == 1:
                return self._allow(m, ("GET", "POST"), req) or (
                    self._search(req, None, start) if head == "_search" else self._count(req, None))
            if head == "_refresh" and len(seg) == 1:
                return self._allow(m, ("GET", "POST"), req) or (200, {"_shards": _SHARDS})
            if head == "_mapping" and len(seg) == 1:
                return self._allow(m, ("GET",), req) or (200, {
                    i.name: {"mappings": copy.deepcopy(i.mappings)} for i in self._store.resolve(None)})
            if head.startswith("_"):
                raise self._no_handler(req)
            index = head
            if len(seg) == 1:
                return self._index_api(req, index)
            op = seg[1]
            if op == "_bulk" and len(seg) == 2:
                return self._allow(m, ("POST", "PUT"), req) or self._bulk(req, index, start)
            if op == "_search" and len(seg) == 2:
                return self._allow(m, ("GET", "POST"), req) or self._search(req, index, start)
            if op == "_count" and len(seg) == 2:
                return self._allow(m, ("GET", "POST"), req) or self._count(req, index)
            if op == "_refresh" and len(seg) == 2:
                self._allow(m, ("GET", "POST"), req)
                self._store.resolve(index, allow_no_indices=True)
                return 200, {"_shards": _SHARDS}
            if op == "_mapping" and len(seg) == 2:
                return self._mapping_api(req, index)
            if op == "_update" and len(seg) == 3:
                self._allow(m, ("POST",), req)
                body = req.json(required=True)
                item = self._bulk_one("update", {}, body, index, seg[2])
                status = item.pop("status")
                return status, item
            if op in ("_doc", "_create") and len(seg) in (2, 3):
                doc_id = seg[2] if len(seg) == 3 else None
                return self._doc_api(req, index, op, doc_id, start)
            raise self._no_handler(req)

    @staticmethod
    def _no_handler(req: _Request) -> EsError:
        return EsError(400, "", "", raw_error=f"no handler found for uri [{req.path}] and method [{req.method}]")

    @staticmethod
    def _allow(method: str, allowed: tuple[str, ...], req: _Request) -> tuple[int, Any] | None:
        if method in allowed:
            return None
        raise EsError(405, "", "", raw_error=f"Incorrect HTTP method for uri [{req.path}] and method "
                                             f"[{method}], allowed: [{', '.join(allowed)}]",
                      headers={"Allow": ",".join(allowed)})

    def _info(self) -> dict:
        if self.major >= 9:
            wire = "8.19.0" if self.minor >= 1 else "8.18.0"
            index_compat = "8.0.0"
        else:
            wire, index_compat = ("7.17.0", "7.0.0") if self.major == 8 else (f"{self.major - 1}.0.0", f"{self.major - 1}.0.0")
        return {
            "name": self.node_name,
            "cluster_name": self.cluster_name,
            "cluster_uuid": self.cluster_uuid,
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2024-01-01T00:00:00.000000000Z",
                "build_snapshot": False,
                "lucene_version": _LUCENE.get((self.major, self.minor), "9.11.1" if self.major < 9 else "10.2.2"),
                "minimum_wire_compatibility_version": wire,
                "minimum_index_compatibility_version": index_compat,
            },
            "tagline": "You Know, for Search",
        }

    def _health(self) -> dict:
        n = len(self._store.indices)
        return {"cluster_name": self.cluster_name, "status": "green", "timed_out": False,
                "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": n,
                "active_shards": n, "relocating_shards": 0, "initializing_shards": 0,
                "unassigned_shards": 0, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
                "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
                "active_shards_percent_as_number": 100.0}

    # ---- index templates
    def _templates(self, req: _Request) -> tuple[int, Any]:
        seg, m = req.segments, req.method
        store = self._store
        if len(seg) == 1:
            self._allow(m, ("GET",), req)
            return 200, {"index_templates": [{"name": n, "index_template": copy.deepcopy(b)}
                                             for n, b in sorted(store.templates.items())]}
        if len(seg) != 2:
            raise self._no_handler(req)
        name = seg[1]
        if m in ("PUT", "POST"):
            body = req.json(required=True)
            if not isinstance(body, dict):
                raise _bad_request("index template must be an object", "parse_exception")
            patterns = body.get("index_patterns")
            if not patterns:
                raise EsError(400, "action_request_validation_exception",
                              "Validation Failed: 1: index patterns are missing;")
            if _truthy(req.params.get("create")) and name in store.templates:
                raise _bad_request(f"index template [{name}] already exists")
            unknown = set(body) - {"index_patterns", "template", "composed_of", "priority", "version",
                                   "_meta", "data_stream", "allow_auto_create", "ignore_missing_component_templates",
                                   "deprecated"}
            if unknown:
                raise EsError(400, "x_content_parse_exception",
                              f"[1:2] [index_template] unknown field [{sorted(unknown)[0]}]")
            for other, ob in store.templates.items():
                if other != name and int(ob.get("priority") or 0) == int(body.get("priority") or 0):
                    op = set([ob["index_patterns"]] if isinstance(ob["index_patterns"], str) else ob["index_patterns"])
                    np = set([patterns] if isinstance(patterns, str) else patterns)
                    if op & np:
                        raise _bad_request(
                            f"index template [{name}] has index patterns {sorted(np)} matching patterns from "
                            f"existing templates [{other}] with patterns ({other} => {sorted(op)}) that have "
                            f"the same priority [{int(body.get('priority') or 0)}], multiple index templates "
                            f"may not match during index creation, please use a different priority")
            store.templates[name] = copy.deepcopy(body)
            return 200, {"acknowledged": True}
        if m in ("GET", "HEAD"):
            names = [n for n in sorted(store.templates) if _glob_match(name, n)] if "*" in name else \
                [n for n in name.split(",") if n in store.templates]
            if not names and ("*" not in name or m == "HEAD"):
                if m == "HEAD":
                    return 404, None
                raise EsError(404, "resource_not_found_exception", f"index template matching [{name}] not found")
            if m == "HEAD":
                return 200, None
            return 200, {"index_templates": [{"name": n, "index_template": copy.deepcopy(store.templates[n])}
                                             for n in names]}
        if m == "DELETE":
            if name not in store.templates:
                raise EsError(404, "resource_not_found_exception", f"index_template [{name}] missing")
            del store.templates[name]
            return 200, {"acknowledged": True}
        return self._allow(m, ("PUT", "POST", "GET", "HEAD", "DELETE"), req)  # type: ignore[return-value]

    # ---- indices
    def _index_api(self, req: _Request, index: str) -> tuple[int, Any]:
        m, store = req.method, self._store
        if m == "PUT":
            body = req.json()
            idx = store.create_index(index, body)
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": idx.name}
        if m == "HEAD":
            try:
                found = store.resolve(index, allow_no_indices=False)
            except EsError:
                found = []
            return (200 if found else 404), None
        if m == "GET":
            return 200, {i.name: {"aliases": copy.deepcopy(i.aliases), "mappings": copy.deepcopy(i.mappings),
                                  "settings": {"index": {"number_of_shards": "1", "number_of_replicas": "1",
                                                         "uuid": i.uuid, "provided_name": i.name,
                                                         "creation_date": str(int(i.created * 1000)),
                                                         **_flat_index_settings(i.settings)}}}
                         for i in store.resolve(index, allow_no_indices=False)}
        if m == "DELETE":
            targets = store.resolve(index, allow_no_indices=True, ignore_unavailable=_truthy(req.params.get("ignore_unavailable")))
            for i in targets:
                del store.indices[i.name]
            return 200, {"acknowledged": True}
        return self._allow(m, ("PUT", "HEAD", "GET", "DELETE"), req)  # type: ignore[return-value]

    def _mapping_api(self, req: _Request, index: str) -> tuple[int, Any]:
        m = req.method
        if m == "GET":
            return 200, {i.name: {"mappings": copy.deepcopy(i.mappings)}
                         for i in self._store.resolve(index, allow_no_indices=False)}
        if m in ("PUT", "POST"):
            body = req.json(required=True)
            if not isinstance(body, dict):
                raise _bad_request("mapping must be an object", "parse_exception")
            for i in self._store.resolve(index, allow_no_indices=False):
                merged = copy.deepcopy(i.mappings)
                _merge_mappings(merged, body)
                i.mappings = merged
            return 200, {"acknowledged": True}
        return self._allow(m, ("GET", "PUT", "POST"), req)  # type: ignore[return-value]

    # ---- documents
    def _doc_api(self, req: _Request, index: str, op: str, doc_id: str | None, start: float) -> tuple[int, Any]:
        m, store = req.method, self._store
        if op == "_doc" and m in ("GET", "HEAD") and doc_id is not None:
            idx = store.get_index(index)
            doc = idx.docs.get(doc_id)
            if m == "HEAD":
                return (200 if doc else 404), None
            if doc is None:
                return 404, {"_index": idx.name, "_id": doc_id, "found": False}
            out = {"_index": idx.name, "_id": doc_id, "_version": doc.version, "_seq_no": doc.seq_no,
                   "_primary_term": 1, "found": True}
            src = _filter_source(doc.source, _source_param(req.params))
            if src is not None:
                out["_source"] = copy.deepcopy(src)
            return 200, out
        if op == "_doc" and m == "DELETE" and doc_id is not None:
            idx = store.get_index(index)
            existing, seq = store.delete_doc(idx, doc_id)
            version = existing.version + 1 if existing else 1
            return (200 if existing else 404), {
                "_index": idx.name, "_id": doc_id, "_version": version,
                "result": "deleted" if existing else "not_found", "_shards": _SHARDS,
                "_seq_no": seq, "_primary_term": 1}
        if m in ("PUT", "POST"):
            if op == "_doc" and doc_id is None and m == "PUT":
                raise self._allow(m, ("POST",), req) or self._no_handler(req)
            if op == "_create" and doc_id is None:
                raise self._no_handler(req)
            op_type = "create" if op == "_create" else (req.params.get("op_type") or "index")
            if op_type not in ("index", "create"):
                raise _bad_request(f"opType must be 'create' or 'index', found: [{op_type}]")
            source = req.json(required=True)
            idx = store.write_index(index)
            if_seq = req.params.get("if_seq_no")
            if_term = req.params.get("if_primary_term")
            new_id, doc, result = store.put_doc(idx, doc_id, source, op=op_type,
                                                if_seq_no=int(if_seq) if if_seq is not None else None,
                                                if_primary_term=int(if_term) if if_term is not None else None)
            return (201 if result == "created" else 200), {
                "_index": idx.name, "_id": new_id, "_version": doc.version, "result": result,
                "_shards": _SHARDS, "_seq_no": doc.seq_no, "_primary_term": 1}
        return self._allow(m, ("GET", "HEAD", "PUT", "POST", "DELETE"), req)  # type: ignore[return-value]

    def _bulk(self, req: _Request, default_index: str | None, start: float) -> tuple[int, Any]:
        text = req.body.decode("utf-8", "replace")
        if not text.strip():
            raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
        if not text.endswith("\n"):
            raise _bad_request("The bulk request must be terminated by a newline [\\n]")
        lines = text.split("\n")[:-1]
        ops: list[tuple[str, dict, Any]] = []
        i = 0
        n = len(lines)
        while i < n:  # bounded: i grows every turn
            line = lines[i].strip()
            i += 1
            if not line:
                continue
            try:
                action = json.loads(line)
            except ValueError:
                raise _bad_request(f"Malformed action/metadata line [{i}], expected START_OBJECT but found [{line[:20]}]")
            if not isinstance(action, dict) or len(action) != 1:
                raise _bad_request(f"Malformed action/metadata line [{i}], expected a simple value for field "
                                   f"[{next(iter(action), '')}] but found [START_OBJECT]" if isinstance(action, dict)
                                   else f"Malformed action/metadata line [{i}], expected START_OBJECT")
            (op, meta), = action.items()
            if op not in ("index", "create", "update", "delete"):
                raise _bad_request(f"Malformed action/metadata line [{i}], expected field [create], [delete], "
                                   f"[index] or [update] but found [{op}]")
            if not isinstance(meta, dict):
                raise _bad_request(f"Malformed action/metadata line [{i}], expected START_OBJECT but found [{meta!r}]")
            source: Any = None
            if op != "delete":
                if i >= n:
                    raise _bad_request(f"Validation Failed: 1: no document source for action on line [{i}];",
                                       "action_request_validation_exception")
                src_line = lines[i]
                i += 1
                try:
                    source = json.loads(src_line)
                except ValueError as exc:
                    source = _BadSource(str(exc), src_line)
            ops.append((op, meta, source))
        missing = [k for k, (op, meta, _) in enumerate(ops) if not (meta.get("_index") or default_index)]
        if missing:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: " + "".join(f"{j + 1}: index is missing;" for j in range(len(missing))))
        items = []
        errors = False
        for op, meta, source in ops:
            index = str(meta.get("_index") or default_index)
            doc_id = meta.get("_id")
            doc_id = None if doc_id is None else str(doc_id)
            try:
                injected = self.faults.take_item(doc_id)
                if injected is not None:
                    err = error_for_status(injected, {
                        429: f"rejected execution of primary operation [coordinating_and_primary_bytes=0] (injected for [{doc_id}])",
                    }.get(injected, f"injected item failure for [{doc_id}]"))
                    err.index = index
                    err.extra = {"shard": "0"}
                    raise err
                item = self._bulk_one(op, meta, source, index, doc_id)
            except EsError as exc:
                errors = True
                uuid_ = self._store.indices[index].uuid if index in self._store.indices else None
                if exc.index is None:
                    exc.index = index
                item = {"_index": index, "_id": doc_id, "status": exc.status, "error": exc.cause(uuid_)}
            items.append({op: item})
        return 200, {"errors": errors, "took": _now_ms(start), "items": items}

    def _bulk_one(self, op: str, meta: dict, source: Any, index: str, doc_id: str | None) -> dict:
        store = self._store
        if isinstance(source, _BadSource):
            raise EsError(400, self.mapping_error_type, f"failed to parse: {source.error}",
                          caused_by={"type": "json_parse_exception", "reason": source.error})
        if op == "delete":
            if doc_id is None:
                raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
            idx = store.write_index(index)
            existing, seq = store.delete_doc(idx, doc_id)
            return {"_index": idx.name, "_id": doc_id, "_version": existing.version + 1 if existing else 1,
                    "result": "deleted" if existing else "not_found", "_shards": _SHARDS,
                    "_seq_no": seq, "_primary_term": 1, "status": 200 if existing else 404}
        if op == "update":
            if doc_id is None:
                raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
            if not isinstance(source, dict):
                raise _bad_request("update body must be an object", "x_content_parse_exception")
            idx = store.write_index(index)
            existing = idx.docs.get(doc_id)
            if existing is None:
                if "upsert" in source:
                    new_source = source["upsert"]
                elif source.get("doc_as_upsert") and "doc" in source:
                    new_source = source["doc"]
                else:
                    raise EsError(404, "document_missing_exception", f"[{doc_id}]: document missing",
                                  index=idx.name, extra={"shard": "0"})
            else:
                if "doc" not in source:
                    raise _bad_request("Validation Failed: 1: script or doc is missing;",
                                       "action_request_validation_exception")
                new_source = copy.deepcopy(existing.source)
                _deep_merge(new_source, source["doc"])
                if new_source == existing.source and source.get("detect_noop", True):
                    return {"_index": idx.name, "_id": doc_id, "_version": existing.version, "result": "noop",
                            "_shards": {"total": 0, "successful": 0, "failed": 0}, "_seq_no": existing.seq_no,
                            "_primary_term": 1, "status": 200}
            new_id, doc, result = store.put_doc(idx, doc_id, new_source, op="index")
            return {"_index": idx.name, "_id": new_id, "_version": doc.version, "result": result,
                    "_shards": _SHARDS, "_seq_no": doc.seq_no, "_primary_term": 1,
                    "status": 201 if result == "created" else 200}
        idx = store.write_index(index)
        if_seq = meta.get("if_seq_no")
        if_term = meta.get("if_primary_term")
        new_id, doc, result = store.put_doc(idx, doc_id, source, op=op,
                                            if_seq_no=int(if_seq) if if_seq is not None else None,
                                            if_primary_term=int(if_term) if if_term is not None else None)
        return {"_index": idx.name, "_id": new_id, "_version": doc.version, "result": result,
                "_shards": _SHARDS, "_seq_no": doc.seq_no, "_primary_term": 1,
                "status": 201 if result == "created" else 200}

    # ---- search
    def _search_body(self, req: _Request) -> dict:
        body = req.json() or {}
        if not isinstance(body, dict):
            raise _bad_request("request body must be an object", "parse_exception")
        for key in ("aggs", "aggregations", "knn", "suggest", "collapse", "rescore", "pit", "search_after"):
            if key in body:
                raise _bad_request(f"[{key}] is not emulated by the test server")
        if "q" in req.params:
            fname, sep, value = req.params["q"].partition(":")
            body.setdefault("query", {"match": {fname: value}} if sep else {"match_all": {}})
        return body

    def _matching(self, req: _Request, index: str | None, body: dict) -> list[tuple[_Index, str, _Doc]]:
        targets = self._store.resolve(index, allow_no_indices=True,
                                      ignore_unavailable=_truthy(req.params.get("ignore_unavailable")))
        out = []
        query = body.get("query")
        if query is not None:
            _Query.validate(query)
        for idx in targets:
            q = _Query(query, idx.mappings)
            for doc_id, doc in idx.docs.items():
                if q.matches(doc_id, doc.source):
                    out.append((idx, doc_id, doc))
        return out

    def _search(self, req: _Request, index: str | None, start: float) -> tuple[int, Any]:
        body = self._search_body(req)
        hits = self._matching(req, index, body)
        try:
            size = int(req.params.get("size", body.get("size", DEFAULT_SEARCH_SIZE)))
            from_ = int(req.params.get("from", body.get("from", 0)))
        except (TypeError, ValueError):
            raise _bad_request("[size] and [from] must be integers")
        if size < 0 or from_ < 0:
            raise _bad_request("[from] and [size] must be >= 0")
        if from_ + size > MAX_SEARCH_WINDOW:
            raise _bad_request(f"Result window is too large, from + size must be less than or equal to: "
                               f"[{MAX_SEARCH_WINDOW}] but was [{from_ + size}].")
        sort_spec = _sort_specs(req.params.get("sort", body.get("sort")))
        sort_values: dict[int, list] = {}
        if sort_spec:
            def key_of(entry: tuple[_Index, str, _Doc]) -> list:
                idx, doc_id, doc = entry
                out = []
                for fname, _desc, _missing in sort_spec:
                    if fname == "_id":
                        out.append(doc_id)
                    elif fname == "_doc":
                        out.append(doc.seq_no)
                    elif fname == "_score":
                        out.append(1.0)
                    else:
                        vals = _leaf_values(doc.source, fname.split("."))
                        fmap = _field_mapping(idx.mappings, fname)
                        ftype = (fmap or {}).get("type")
                        if ftype in ("date", "date_nanos"):
                            vals = [_date_key(v) for v in vals]
                        elif ftype in _NUMERIC_TYPES:
                            vals = [_as_number(v) for v in vals]
                        vals = [v for v in vals if v is not None]
                        out.append(min(vals, key=_cmp_key) if vals else None)
                return out
            keyed = [(key_of(h), h) for h in hits]
            for pos in range(len(sort_spec) - 1, -1, -1):  # stable multi-key sort, last key first
                _fname, desc, missing = sort_spec[pos]
                present = [kh for kh in keyed if kh[0][pos] is not None]
                absent = [kh for kh in keyed if kh[0][pos] is None]
                present.sort(key=lambda kh: _cmp_key(kh[0][pos]), reverse=desc)
                keyed = absent + present if missing == "_first" else present + absent
            hits = [h for _, h in keyed]
            sort_values = {id(h): k for k, h in keyed}
        total = len(hits)
        page = hits[from_:from_ + size]
        src_spec = body.get("_source", _source_param(req.params))
        out_hits = []
        for entry in page:
            idx, doc_id, doc = entry
            hit: dict[str, Any] = {"_index": idx.name, "_id": doc_id, "_score": None if sort_spec else 1.0}
            src = _filter_source(doc.source, src_spec)
            if src is not None:
                hit["_source"] = copy.deepcopy(src)
            if body.get("version") or _truthy(req.params.get("version")):
                hit["_version"] = doc.version
            if body.get("seq_no_primary_term"):
                hit["_seq_no"], hit["_primary_term"] = doc.seq_no, 1
            if sort_spec:
                hit["sort"] = sort_values[id(entry)]
            out_hits.append(hit)
        track = body.get("track_total_hits", True)
        total_obj = {"value": total, "relation": "eq"}
        if track is not True and isinstance(track, int) and not isinstance(track, bool) and total > track:
            total_obj = {"value": track, "relation": "gte"}
        hits_obj: dict[str, Any] = {"max_score": None if sort_spec or not page else 1.0, "hits": out_hits}
        if track is not False:
            hits_obj = {"total": total_obj, **hits_obj}
        n_idx = len(self._store.resolve(index, allow_no_indices=True,
                                        ignore_unavailable=_truthy(req.params.get("ignore_unavailable"))))
        return 200, {"took": _now_ms(start), "timed_out": False,
                     "_shards": {"total": n_idx, "successful": n_idx, "skipped": 0, "failed": 0},
                     "hits": hits_obj}

    def _count(self, req: _Request, index: str | None) -> tuple[int, Any]:
        body = self._search_body(req)
        extra = set(body) - {"query"}
        if extra:
            raise _bad_request(f"request does not support [{sorted(extra)[0]}]", "parsing_exception")
        hits = self._matching(req, index, body)
        n_idx = len(self._store.resolve(index, allow_no_indices=True,
                                        ignore_unavailable=_truthy(req.params.get("ignore_unavailable"))))
        return 200, {"count": len(hits), "_shards": {"total": n_idx, "successful": n_idx, "skipped": 0, "failed": 0}}


def _shutdown_socket(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _BadSource:
    def __init__(self, error: str, line: str):
        self.error = error
        self.line = line


def _cmp_key(v: Any) -> tuple:
    if isinstance(v, bool):
        return (0, int(v), "")
    if isinstance(v, (int, float)):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def _deep_merge(target: dict, extra: Any) -> None:
    if not isinstance(extra, dict):
        raise _bad_request("[doc] must be an object")
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _deep_merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)


def _source_param(params: dict) -> Any:
    if "_source" in params:
        v = params["_source"]
        if v.lower() in ("false", "0"):
            return False
        if v.lower() in ("true", "1", ""):
            return True
        return [s for s in v.split(",") if s]
    if "_source_includes" in params or "_source_excludes" in params:
        return {"includes": [s for s in params.get("_source_includes", "").split(",") if s],
                "excludes": [s for s in params.get("_source_excludes", "").split(",") if s]}
    return None


def _flat_index_settings(settings: dict) -> dict:
    """Template/PUT settings ({"number_of_shards": 1} or {"index": {...}}) as ES shows them (strings)."""
    out: dict[str, Any] = {}

    def walk(obj: Any, prefix: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = obj if isinstance(obj, str) else json.dumps(obj)

    walk(settings, "")
    flat: dict[str, Any] = {}
    for k, v in out.items():
        k = k[len("index."):] if k.startswith("index.") else k
        flat[k] = v
    return flat


def _parse_ndjson_loose(raw: str) -> list:
    out: list = []
    for line in raw.split("\n"):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append(line)
    return out
