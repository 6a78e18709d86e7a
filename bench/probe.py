"""A pytest plugin for benchmarks: each process of a run writes what it cost.

Load it with ``-p bench.probe`` and set ``HCP_BENCH_PROBE_DIR``: at the end of
the session the controller and every xdist worker write
``<dir>/<role>-<pid>.json`` with their own CPU seconds and peak RSS
(``getrusage(RUSAGE_SELF)``: the process alone, not the CLIs it ran, which are
reported as ``children_cpu_s``) and the seconds from its start to the
session's end.
"""
from __future__ import annotations

import json
import os
import resource
import time

import pytest

_STARTED = time.time()


def _write(config: pytest.Config) -> None:
    folder = os.environ.get("HCP_BENCH_PROBE_DIR")
    if not folder:
        return
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    role = config.workerinput["workerid"] if hasattr(config, "workerinput") else "controller"
    data = {"role": role, "pid": os.getpid(), "cpu_s": round(own.ru_utime + own.ru_stime, 3),
            "max_rss_mb": round(own.ru_maxrss / 1024, 1),
            "children_cpu_s": round(children.ru_utime + children.ru_stime, 3),
            "children_max_rss_mb": round(children.ru_maxrss / 1024, 1), "alive_s": round(time.time() - _STARTED, 3)}
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{role}-{os.getpid()}.json"), "w") as fh:
        json.dump(data, fh)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """After the harness stopped its threads and services (its unconfigure runs first)."""
    _write(config)
