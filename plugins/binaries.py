"""The CLI binaries of a run: acquired and verified once, shared by every xdist worker.

The first process to get here takes a lock in the run directory and acquires the
``hypershift`` CLI — the given path, or built from ``--hypershift-cli-version``,
or extracted from ``--hypershift-image`` (see ``plugins/acquire.py``, which
caches builds and downloads between runs) — and records path, version and
sha256 in ``cli-hypershift.json``; the others wait on the lock and read it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .acquire import AcquireError, acquire_hypershift, acquire_once, cache_root


def acquire_clis(run_path: Path, platform, settings) -> dict:
    """Return ``{"hypershift": <tool record>}`` and point ``platform`` at that binary.

    ``--platform rosa``: the controller acquired ``rosa`` before logging in; its record.
    """
    if platform.kind == "rosa":
        return {"rosa": json.loads((run_path / "cli-rosa.json").read_text())}

    def fetch():
        return acquire_hypershift(explicit=platform.cli, git_ref=settings.hypershift_cli_version,
                                  repo_url=settings.hypershift_repo, image=settings.hypershift_image,
                                  pull_secret=settings.pull_secret_file, cache=cache_root(),
                                  log_path=run_path / "acquire.log")

    try:
        record = acquire_once(run_path / "cli-hypershift.json", run_path / ".cli-hypershift.lock", fetch)
    except AcquireError as exc:
        pytest.fail(f"hypershift CLI: {exc}", pytrace=False)
    platform.cli = record["path"]
    return {"hypershift": record}
