"""The controller's side of timing documents: spool first, then the receivers.

Documents arrive inside each cluster's final record (``pytest_hcp_cluster_result``);
the management cluster's document is recorded when the run starts.  Each is
appended to ``documents.jsonl`` in the run directory and only then passed to
``pytest_hcp_document_recorded`` (the Elasticsearch recorder, or a conftest's).
"""
from __future__ import annotations

import json
import logging

import pytest

from . import documents
from .session import CONTEXT_KEY, CONTROLLER_KEY, is_worker

log = logging.getLogger("hcp.recording")


def record(config: pytest.Config, doc: dict) -> None:
    ctx = config.stash[CONTEXT_KEY]
    documents.Spool(ctx.path).append(doc)
    try:
        config.hook.pytest_hcp_document_recorded(config=config, document=doc)
    except Exception as exc:  # the document is safe on disk; a receiver's failure must not end the run
        log.warning("a document receiver failed: %s", exc)


def pytest_hcp_cluster_result(config: pytest.Config, result: dict) -> None:
    if is_worker(config) or CONTEXT_KEY not in config.stash:
        return
    for doc in result.get("documents") or []:
        record(config, doc)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Record the run's management-cluster document (written by the platform at start)."""
    config = session.config
    if is_worker(config) or CONTROLLER_KEY not in config.stash or CONTEXT_KEY not in config.stash:
        return
    ctx = config.stash[CONTEXT_KEY]
    path = documents.Path(ctx.path) / "mgmt_cluster.json"
    if path.exists():
        record(config, documents.normalize(json.loads(path.read_text())))
