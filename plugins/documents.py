"""Timing documents: their fields, how they are built, and where they are kept.

One document per cluster and operation (``install``, ``destroy``) and one per
run for the management cluster (``mgmt_cluster``).  Field names keep the old
wrapper's (``uuid``, ``cluster_name``, ``operation``, ``duration``, ``status``,
``version``, ``mgmt_cluster_name``, ``workers``, ``job_iterations``,
``load_duration``, ``install_method``, ``timestamp``) and add the phases.  Every
field has one type (``FIELDS``): a value is of that type or null, never ``""``
in place of a number.

Documents are built on the process that ran the cluster, passed through the
``pytest_hcp_document`` hook (any plugin or conftest may add or change fields),
written to the cluster's ``metadata_<operation>.json``, and travel to the
controller with the test report.  The controller appends each one to the run's
spool, ``documents.jsonl``, *before* handing it to ``pytest_hcp_document_recorded``
receivers such as the Elasticsearch recorder — so nothing is lost when a
receiver fails.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from .kube import parse_time
from .rundir import epoch_seconds

# field -> Elasticsearch type (also the Python type a value must have, or None)
FIELDS: dict[str, str] = {
    # identity (old wrapper names)
    "uuid": "keyword", "cluster_name": "keyword", "operation": "keyword", "status": "keyword",
    "version": "keyword", "mgmt_cluster_name": "keyword", "install_method": "keyword", "platform": "keyword",
    "timestamp": "date", "duration": "double", "workers": "long", "job_iterations": "long",
    "load_duration": "keyword",
    # the test case
    "index": "long", "test_id": "keyword", "test_outcome": "keyword", "phase": "keyword", "error": "text",
    # install: instants (API timestamps, except create_requested: the harness's own clock)
    "create_requested": "date", "hc_created": "date", "control_plane_available": "date",
    "nodepools_ready": "date", "workers_ready": "date", "install_completed": "date", "ready": "date",
    # install: durations in seconds
    "batch_wait_s": "double", "create_cli_s": "double", "hc_created_s": "double", "control_plane_s": "double",
    "workers_s": "double", "install_s": "double", "ready_s": "double",
    # extra node pool (--machinepool-*)
    "machinepool": "keyword", "machinepool_ready": "date", "machinepool_s": "double",
    # load (--add-cluster-load)
    "workload": "keyword", "load_rc": "long", "load_status": "keyword", "load_start": "date", "load_end": "date",
    "load_cli_s": "double", "load_barrier_wait_s": "double", "load_mgmt_metrics": "boolean",
    # destroy
    "destroy_requested": "date", "deleted": "date", "destroy_cli_s": "double", "destroy_s": "double",
    # --platform rosa: when the run's listing first showed each OCM state (at most one poll interval late)
    "rosa_waiting": "date", "rosa_pending": "date", "rosa_validating": "date", "rosa_installing": "date",
    "rosa_ready": "date", "rosa_error": "date", "state_poll_interval_s": "double", "admin_login_s": "double",
    "addons": "keyword", "addons_ready": "date", "addons_s": "double",
    # management cluster (cluster_id: also the OCM id of a ROSA cluster)
    "cluster_id": "keyword", "base_domain": "keyword", "aws_region": "keyword", "source": "keyword",
    "hostedclusters": "long", "infra_id": "keyword", "workers_type": "keyword", "network_type": "keyword",
}
_NUMERIC = {"double": float, "long": int}

SPOOL = "documents.jsonl"


def doc_id(doc: dict) -> str:
    """Deterministic id: the same run, cluster and operation always give the same id (no duplicates)."""
    key = f"{doc['uuid']}/{doc.get('cluster_name') or doc.get('mgmt_cluster_name')}/{doc['operation']}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def seconds_between(start, end) -> float | None:
    a, b = epoch_seconds(start), epoch_seconds(end)
    return None if a is None or b is None else round(b - a, 3)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def normalize(doc: dict) -> dict:
    """Give every known field its one type; unknown fields (from hooks) pass through."""
    out = {}
    for key, value in doc.items():
        kind = FIELDS.get(key)
        if value is None or (value == "" and kind in ("double", "long", "date")):
            out[key] = None
        elif kind in _NUMERIC:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise TypeError(f"{key}: expected a number, got {value!r}")
            out[key] = _NUMERIC[kind](float(value)) if kind == "long" else float(value)
        elif kind == "date":
            out[key] = str(value)
            parse_time(out[key])  # raises on a malformed date
        elif kind in ("keyword", "text"):
            out[key] = str(value)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise TypeError(f"{key}: expected true or false, got {value!r}")
            out[key] = value
        else:
            out[key] = value
    return out


def install_document(base: dict, t: dict, *, status: str, test_outcome: str, phase: str, error: str | None) -> dict:
    doc = dict(base)
    doc.update({
        "operation": "install", "status": status, "test_outcome": test_outcome, "phase": phase, "error": error,
        "version": t.get("version"),
        "batch_wait_s": t.get("batch_wait_s"), "create_cli_s": t.get("create_cli_s"),
        "create_requested": t.get("create_requested"), "hc_created": t.get("hc_created"),
        "control_plane_available": t.get("control_plane_available"), "nodepools_ready": t.get("nodepools_ready"),
        "workers_ready": t.get("workers_ready"), "install_completed": t.get("install_completed"),
        "ready": t.get("ready"),
        "hc_created_s": seconds_between(t.get("create_requested"), t.get("hc_created")),
        "control_plane_s": seconds_between(t.get("hc_created"), t.get("control_plane_available")),
        "workers_s": seconds_between(t.get("control_plane_available"), t.get("workers_ready")),
        "install_s": seconds_between(t.get("hc_created"), t.get("install_completed")),
        "ready_s": seconds_between(t.get("create_requested"), t.get("ready")),
        "machinepool": t.get("machinepool"), "machinepool_ready": t.get("machinepool_nodes_ready"),
        "machinepool_s": seconds_between(t.get("machinepool_requested"), t.get("machinepool_nodes_ready")),
    })
    doc.update({key: t[key] for key in INSTALL_EXTRAS if t.get(key) is not None})
    doc["duration"] = doc["ready_s"]
    return doc


# install fields a platform records only when it has them (--platform rosa)
INSTALL_EXTRAS = ("cluster_id", "rosa_waiting", "rosa_pending", "rosa_validating", "rosa_installing", "rosa_ready",
                  "rosa_error", "state_poll_interval_s", "admin_login_s", "addons", "addons_ready", "addons_s")


def destroy_document(base: dict, t: dict, *, status: str, error: str | None) -> dict:
    doc = dict(base)
    doc.update({"operation": "destroy", "status": status, "error": error, "version": t.get("version"),
                "destroy_requested": t.get("destroy_requested"), "deleted": t.get("deleted"),
                "destroy_cli_s": t.get("destroy_cli_s"), "destroy_s": t.get("destroy_s"),
                "duration": t.get("destroy_s")})
    return doc


def load_document(base: dict, t: dict, *, load_duration: str) -> dict:
    doc = dict(base)
    ok = t.get("load_status") == "success"
    doc.update({"operation": "load", "status": "success" if ok else "failed", "error": None if ok else
                t.get("load_status"), "workload": t.get("workload"), "job_iterations": t.get("job_iterations"),
                "load_duration": load_duration, "load_rc": t.get("load_rc"), "load_status": t.get("load_status"),
                "load_start": t.get("load_start"), "load_end": t.get("load_end"), "load_cli_s": t.get("load_cli_s"),
                "load_barrier_wait_s": t.get("load_barrier_wait_s"), "load_mgmt_metrics": t.get("load_mgmt_metrics"),
                "version": t.get("version"),
                "duration": seconds_between(t.get("load_start"), t.get("load_end"))})
    return doc


# ------------------------------------------------------------------- the spool
class Spool:
    """``documents.jsonl`` in the run directory: every document the controller received, in order."""

    def __init__(self, run_path: str | os.PathLike):
        self.path = Path(run_path) / SPOOL

    def append(self, doc: dict) -> None:
        line = (json.dumps(doc, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def run_documents(run_path: str | os.PathLike) -> list[dict]:
    """Every document of a run directory, once each: the spool, then files the spool may lack.

    A controller that died before spooling leaves the workers' per-cluster
    ``metadata_*.json`` files and ``mgmt_cluster.json``; they are read too, and
    documents are told apart by their deterministic id (the last copy wins).
    """
    run_path = Path(run_path)
    found: dict[str, dict] = {}

    def add(docs: Iterable[dict]) -> None:
        for doc in docs:
            if isinstance(doc, dict) and doc.get("uuid") and doc.get("operation"):
                found[doc_id(doc)] = doc

    spool = run_path / SPOOL
    if spool.exists():
        lines = []
        for line in spool.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue  # a torn last line
        add(lines)
    files = sorted(run_path.glob("*/metadata_*.json")) + [run_path / "mgmt_cluster.json"]
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("uuid") and doc.get("operation") and doc_id(doc) not in found:
            found[doc_id(doc)] = doc
    return list(found.values())
