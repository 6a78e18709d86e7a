"""Fixtures for the harness's own tests."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.simworld import SimWorld


def _load_kubernetes_models() -> None:
    """Import every model and API class of the kubernetes client now.

    The client loads them lazily, and pytester's in-process runs drop the modules first
    imported during a run: a later call would then validate its argument against a fresh
    copy of the class and refuse an instance of the old one (V1Namespace is not V1Namespace).
    """
    import kubernetes.client.api as apis
    import kubernetes.client.models as models

    for module in (models, apis):
        for name in getattr(module, "__all__", []):
            getattr(module, name)


_load_kubernetes_models()

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scale_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory laid out like this project (conftest.py, pytest.ini, tests_scale/)."""
    shutil.copy(ROOT / "conftest.py", pytester.path / "conftest.py")
    shutil.copy(ROOT / "pytest.ini", pytester.path / "pytest.ini")
    shutil.copytree(ROOT / "tests_scale", pytester.path / "tests_scale",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in list(os.environ):
        if name.startswith("HCP_SCALE_") or name in ("OCM_TOKEN", "ROSA_TOKEN"):
            monkeypatch.delenv(name)
    pytester.syspathinsert(ROOT)
    return pytester


@pytest.fixture
def sim_world(tmp_path):
    """Start standalone simulated worlds (``python -m sim serve``): ``sim_world(*serve_args) -> SimWorld``.

    Each runs in ``tmp_path/worldN`` at ``--speed 3000`` unless ``serve_args`` say otherwise, and is stopped
    (SIGINT, then kill) after the test."""
    worlds: list[SimWorld] = []

    def start(*args: str, timeout: float = 60.0) -> SimWorld:
        world = SimWorld(tmp_path / f"world{len(worlds)}", "--speed", "3000", *args)
        worlds.append(world)
        return world.start(timeout)

    yield start
    for world in worlds:
        world.stop(timeout=20, check=False)
