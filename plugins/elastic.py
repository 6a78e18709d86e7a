"""Elasticsearch: the one module that talks to it.

The recorder receives every timing document the controller has spooled
(``pytest_hcp_document_recorded``), indexes them in bulk with deterministic ids
(uploading twice never duplicates), creates an index template with explicit
mappings when it is missing, retries 429/5xx/connection errors with backoff and
failed bulk items one by one, and never stops the run: what could not be sent
stays in the run directory and the terminal summary prints the
``--es-index-only`` command that uploads it later.

Credentials come from the URL (``https://user:pass@host``) or ``ES_USERNAME`` /
``ES_PASSWORD`` / ``ES_API_KEY``; URLs are only ever shown with them masked.
"""
from __future__ import annotations

import logging
import os
import random
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from . import documents

log = logging.getLogger("hcp.elastic")

BATCH = 200
QUIET_AFTER_FAILURE = 60.0
TRANSIENT = {429, 500, 502, 503, 504}


def _hostport(parts) -> str:
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = _hostport(parts)
    user = f"{parts.username}:***@" if parts.password is not None else f"{parts.username}@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def connection(url: str, insecure: bool):
    """An Elasticsearch client for ``url`` with credentials from the URL or the environment."""
    from elasticsearch import Elasticsearch

    parts = urlsplit(url)
    host = _hostport(parts)
    plain = urlunsplit((parts.scheme, host, parts.path, "", ""))
    kwargs: dict = {"request_timeout": 30, "max_retries": 0, "verify_certs": not insecure}
    if insecure:
        kwargs["ssl_show_warn"] = False
    if os.environ.get("ES_API_KEY"):
        kwargs["api_key"] = os.environ["ES_API_KEY"]
    elif parts.username is not None:
        from urllib.parse import unquote

        kwargs["basic_auth"] = (unquote(parts.username), unquote(parts.password or ""))
    elif os.environ.get("ES_USERNAME"):
        kwargs["basic_auth"] = (os.environ["ES_USERNAME"], os.environ.get("ES_PASSWORD", ""))
    return Elasticsearch(plain, **kwargs)


def kube_burner_target(url: str | None) -> tuple[str | None, str | None]:
    """The URL kube-burner-ocp can index to, credentials inside and percent-encoded; and why not, if it cannot.

    kube-burner takes credentials only as ``user:password@`` in the URL: an ``ES_API_KEY`` cannot be passed on.
    """
    if not url:
        return None, None
    if os.environ.get("ES_API_KEY"):
        return None, ("kube-burner's own documents are not sent to Elasticsearch: kube-burner authenticates with "
                      "user:password only, not ES_API_KEY")
    from urllib.parse import quote, unquote

    parts = urlsplit(url)
    if parts.username is not None:
        user, password = unquote(parts.username), unquote(parts.password or "")
    elif os.environ.get("ES_USERNAME"):
        user, password = os.environ["ES_USERNAME"], os.environ.get("ES_PASSWORD", "")
    else:
        return url, None
    host = _hostport(parts)
    userinfo = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    return urlunsplit((parts.scheme, userinfo + host, parts.path, parts.query, parts.fragment)), None


def template_body(index: str) -> dict:
    properties = {}
    for field, kind in documents.FIELDS.items():
        spec = {"type": kind}
        if kind == "date":
            spec["format"] = "strict_date_optional_time||epoch_millis"
        properties[field] = spec
    return {"index_patterns": [index], "priority": 100,
            "template": {"mappings": {"dynamic": True, "properties": properties}},
            "_meta": {"managed_by": "hcp-scale"}}


class Uploader:
    """Sends documents to one index; keeps what it could not send."""

    def __init__(self, url: str, index: str, insecure: bool, retries: int):
        self.url = url
        self.index = index
        self.insecure = insecure
        self.retries = max(1, retries)
        self.client = None
        self.template_ready = False
        self.sent: set[str] = set()
        self.failed: dict[str, str] = {}  # id -> why, for permanent per-item errors

    def _client(self):
        if self.client is None:
            self.client = connection(self.url, self.insecure)
        return self.client

    def _ensure_template(self) -> None:
        if self.template_ready:
            return
        client = self._client()
        name = f"{self.index}-hcp-scale"
        if not client.indices.exists_index_template(name=name):
            body = template_body(self.index)
            client.indices.put_index_template(name=name, index_patterns=body["index_patterns"],
                                              priority=body["priority"], template=body["template"],
                                              meta=body["_meta"])
        self.template_ready = True

    def _pause(self, attempt: int) -> None:
        time.sleep(min(30.0, 0.2 * 2 ** attempt) * (0.5 + random.random() / 2))

    def upload(self, docs: list[dict]) -> int:
        """Index ``docs`` (in batches); return how many are now in Elasticsearch."""
        pending = {documents.doc_id(d): d for d in docs if documents.doc_id(d) not in self.sent}
        for attempt in range(self.retries):
            if not pending:
                break
            try:
                self._ensure_template()
                ids = list(pending)
                for start in range(0, len(ids), BATCH):
                    chunk = ids[start:start + BATCH]
                    operations = []
                    for doc_id in chunk:
                        operations += [{"index": {"_index": self.index, "_id": doc_id}}, pending[doc_id]]
                    response = self._client().bulk(operations=operations)
                    for item in response["items"]:
                        result = next(iter(item.values()))
                        doc_id = result.get("_id")
                        status = result.get("status", 500)
                        if status < 300:
                            self.sent.add(doc_id)
                            pending.pop(doc_id, None)
                            self.failed.pop(doc_id, None)
                        elif status not in TRANSIENT:
                            # a document Elasticsearch refuses (mapping): report it, do not retry
                            error = result.get("error") or {}
                            self.failed[doc_id] = f"{status} {error.get('type', '')}: {error.get('reason', '')}"
                            pending.pop(doc_id, None)
            except Exception as exc:  # connection refused, 429/5xx on the request, timeouts
                log.warning("Elasticsearch %s: %s (attempt %d of %d)", mask_url(self.url),
                            type(exc).__name__, attempt + 1, self.retries)
                self.client = None
            if pending and attempt + 1 < self.retries:
                self._pause(attempt)
        return len([d for d in docs if documents.doc_id(d) in self.sent])


class Recorder:
    """The controller's ES receiver: batches documents and uploads them; reports what is pending."""

    def __init__(self, config: pytest.Config, settings):
        self.config = config
        self.settings = settings
        self.uploader = Uploader(settings.es_url, settings.es_index, settings.es_insecure, settings.es_index_retry)
        self.buffer: list[dict] = []
        self.received = 0
        self.quiet_until = 0.0  # after a failed flush, leave Elasticsearch alone for a while mid-run

    def pytest_hcp_document_recorded(self, config: pytest.Config, document: dict) -> None:
        self.buffer.append(document)
        self.received += 1
        if len(self.buffer) >= BATCH and time.monotonic() >= self.quiet_until:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.uploader.upload(self.buffer)
            self.buffer = [d for d in self.buffer if documents.doc_id(d) not in self.uploader.sent
                           and documents.doc_id(d) not in self.uploader.failed]
            # Still failing: do not hold up the controller again before a minute has passed.
            self.quiet_until = time.monotonic() + (QUIET_AFTER_FAILURE if self.buffer else 0.0)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.flush()

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        shown = f"{mask_url(self.settings.es_url)} index {self.settings.es_index}"
        sent = len(self.uploader.sent)
        pending = len(self.buffer)
        tr.write_line(f"Elasticsearch {shown}: {sent} of {self.received} documents uploaded"
                      + (f", {pending} pending" if pending else "")
                      + (f", {len(self.uploader.failed)} refused" if self.uploader.failed else ""))
        for doc_id, why in sorted(self.uploader.failed.items()):
            tr.write_line(f"  refused {doc_id}: {why}"[:240])
        if pending:
            tr.write_line(f"  upload them later with: pytest --es-index-only {self.settings.path} "
                          f"--es-url {mask_url(self.settings.es_url)} --es-index {self.settings.es_index}")


@pytest.hookimpl(trylast=True)  # after plugins.session has decided whether this is a scale run
def pytest_configure(config: pytest.Config) -> None:
    from .options import get_settings
    from .session import is_worker

    if is_worker(config):
        return
    settings = get_settings(config)
    if settings.es_url and not settings.es_index_only:
        from .session import is_active

        if is_active(config):
            config.pluginmanager.register(Recorder(config, settings), "hcp-es-recorder")


def pytest_cmdline_main(config: pytest.Config):
    """``--es-index-only PATH``: upload every document of a finished run directory, then exit."""
    from .options import get_settings

    settings = get_settings(config)
    if not settings.es_index_only:
        return None
    if not settings.es_url:
        raise pytest.UsageError("--es-index-only needs --es-url")
    docs = documents.run_documents(settings.es_index_only)
    if not docs:
        raise pytest.UsageError(f"--es-index-only {settings.es_index_only}: no timing documents there")
    uploader = Uploader(settings.es_url, settings.es_index, settings.es_insecure, settings.es_index_retry)
    sent = uploader.upload(docs)
    print(f"Elasticsearch {mask_url(settings.es_url)} index {settings.es_index}: {sent} of {len(docs)} documents "
          f"from {settings.es_index_only} uploaded" + (f", {len(uploader.failed)} refused" if uploader.failed else ""))
    for doc_id, why in sorted(uploader.failed.items()):
        print(f"  refused {doc_id}: {why}")
    return 0 if sent == len(docs) else 1
