"""The run directory: identity files, per-cluster folders and the ledger.

Layout of ``--path``::

    uuid                   the run uuid
    cluster_name_seed      the seed the clusters were named from
    ledger.jsonl           append-only: one line per cluster event (all workers)
    summary.json           written by the controller at the end of the session
    <cluster-name>/        logs, kubeconfig, metadata_*.json of one cluster

The ledger is the run's memory of every cluster it ever created.  Each event is
one ``write`` of one line to a file opened with ``O_APPEND`` under an exclusive
``flock``, so lines from concurrent xdist workers never interleave.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Iterable

import pytest

# Ledger events, in the order a cluster normally goes through them.
CREATE_REQUESTED = "create_requested"
CREATED = "created"
CREATE_FAILED = "create_failed"      # the create command failed and no cluster exists
READY = "ready"
FAILED = "failed"                    # exists but never became ready, or its test failed
KEPT = "kept"
DESTROY_REQUESTED = "destroy_requested"
DESTROYED = "destroyed"
DESTROY_FAILED = "destroy_failed"    # still exists: pending deletion
PENDING_DELETION = "pending_deletion"  # left behind unfinished (interrupt, crashed worker): must be deleted later

# Files that stay with a cleaned-up run directory while any of its clusters is left.
RUN_FILES = {"uuid", "cluster_name_seed", "ledger.jsonl", "summary.json", "sim", "report.html", "timeline.svg"}

# Where a cluster ends up, derived from its last decisive event.
FINAL_STATES = {CREATE_FAILED: "not_created", KEPT: "kept", DESTROYED: "destroyed",
                DESTROY_FAILED: "pending_deletion", PENDING_DELETION: "pending_deletion"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def isotime(when: dt.datetime | None = None) -> str:
    return (when or utcnow()).astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_epoch(value: float | None) -> str | None:
    """Seconds since the epoch as :func:`isotime` writes times (None stays None)."""
    return None if value is None else isotime(dt.datetime.fromtimestamp(value, dt.timezone.utc))


def epoch_seconds(value: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 / RFC 3339 time (``Z`` or an offset; naive means UTC) or of a
    number; None for anything else (missing, empty, not a time, a boolean)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (credentials, kubeconfigs), atomically."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


class RunDir:
    """One run directory, shared by the controller and every worker."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.ledger_path = self.path / "ledger.jsonl"
        self.summary_path = self.path / "summary.json"

    # ---------------------------------------------------------------- setup
    def prepare(self, run_uuid: str, seed: str) -> None:
        """Create the directory (or reuse it for the same uuid and seed); raise UsageError otherwise."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / f".write-probe-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise pytest.UsageError(f"--path {self.path}: not writable ({exc.strerror or exc})") from None
        for name, value, flag in (("uuid", run_uuid, "--uuid"), ("cluster_name_seed", seed, "--cluster-name-seed")):
            existing = self.read_text(name)
            if existing is not None and existing != value:
                raise pytest.UsageError(
                    f"{flag} {value}: the run directory {self.path} belongs to a run with {name} {existing!r}; "
                    f"use another --path or the same {flag}")
        (self.path / "uuid").write_text(run_uuid + "\n")
        (self.path / "cluster_name_seed").write_text(seed + "\n")

    def read_text(self, name: str) -> str | None:
        try:
            return (self.path / name).read_text().strip()
        except FileNotFoundError:
            return None

    def cluster_dir(self, name: str) -> Path:
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # --------------------------------------------------------------- ledger
    def record(self, event: str, cluster: str, **fields) -> dict:
        """Append one event about ``cluster`` to the ledger and return it (``worker``: which process wrote it)."""
        entry = {"time": isotime(), "event": event, "cluster": cluster, "pid": os.getpid(), **fields}
        line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
        fd = os.open(self.ledger_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return entry

    def events(self) -> list[dict]:
        """Every ledger event, oldest first (a torn last line from a crash is skipped)."""
        try:
            raw = self.ledger_path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in raw.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def clusters(self) -> dict[str, dict]:
        """Fold the ledger into one state per cluster: its events and where it ended up."""
        state: dict[str, dict] = {}
        for entry in self.events():
            item = state.setdefault(entry["cluster"], {"name": entry["cluster"], "events": [], "final": None})
            item["events"].append(entry["event"])
            for key in ("index", "test_id", "namespace", "workers"):
                if key in entry:
                    item[key] = entry[key]
            if entry["event"] in FINAL_STATES:
                item["final"] = FINAL_STATES[entry["event"]]
                item["reason"] = entry.get("reason") or entry.get("error")
            elif entry["event"] in (CREATE_REQUESTED, CREATED, READY, FAILED, DESTROY_REQUESTED):
                item["final"] = None
        for item in state.values():
            item["open"] = item["final"] is None
            if item["final"] is None:
                # Created (or maybe created) but neither destroyed nor kept: must be removed later.
                item["final"] = "pending_deletion"
        return state

    def reconcile(self, reason: str, prefix: str = "", test_id: str | None = None) -> list[str]:
        """Write ``pending_deletion`` for every cluster (named ``prefix…``, of ``test_id``) with no final event.

        Only the controller calls this, once no worker can still finish those clusters
        (the worker crashed, or the session is over); returns the names.
        """
        names = []
        for name, item in sorted(self.clusters().items()):
            if item["open"] and name.startswith(prefix) and (test_id is None or item.get("test_id") == test_id):
                self.record(PENDING_DELETION, name, index=item.get("index"), test_id=item.get("test_id"),
                            reason=reason, worker="controller")
                names.append(name)
        return names

    def names(self) -> set[str]:
        return {entry["cluster"] for entry in self.events()}

    # -------------------------------------------------------------- cleanup
    def cleanup(self, keep: Iterable[str]) -> list[str]:
        """Remove the run directory except the folders of ``keep`` clusters; return what was kept.

        While any cluster is left, the files that identify the run and list its
        clusters stay too (and ``also_keep`` entries such as the simulated
        world's folder), so the clusters can still be found and deleted later.
        """
        keep = set(keep)
        if keep:
            keep |= RUN_FILES
        kept = []
        if not self.path.is_dir():
            return kept
        for entry in self.path.iterdir():
            if entry.name in keep:
                kept.append(entry.name)
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                try:
                    entry.unlink()
                except OSError:
                    pass
        if not kept:
            try:
                self.path.rmdir()
            except OSError:
                pass
        return sorted(kept)
