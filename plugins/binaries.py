"""The CLI binaries of a run: acquired and verified once, shared by every xdist worker.

The first process to get here takes a file lock in the run directory, checks
each CLI (it runs and reports a version) and records path, version and sha256
in ``cli.json``; the others wait on the lock and read that record.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from filelock import FileLock

from .rundir import write_json

LOCK_TIMEOUT = 600.0


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def acquire_clis(run_path: Path, platform) -> dict:
    """Return ``{"hypershift": {"path", "version", "sha256"}}``, verifying the CLI at most once per run."""
    record = run_path / "cli.json"
    with FileLock(str(run_path / ".cli.lock"), timeout=LOCK_TIMEOUT):
        if record.exists():
            data = json.loads(record.read_text())
            if data.get("hypershift", {}).get("path") == platform.cli:
                return data
        version = platform.cli_version(run_path / "cli-version.log")
        data = {"hypershift": {"path": platform.cli, "version": version, "sha256": sha256(platform.cli)}}
        write_json(record, data)
        return data
