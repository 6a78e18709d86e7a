"""Hooks the scale harness adds to pytest (register with ``pluginmanager.add_hookspecs``)."""
from __future__ import annotations

import pytest



def pytest_hcp_cluster_result(config: pytest.Config, result: dict) -> None:
    """Called on the controller with the final record of one cluster (plain JSON data).

    ``result`` has the cluster's ``name``, ``index``, ``test_id``, ``workers``,
    ``outcome`` (passed/failed), ``final`` (destroyed, kept, pending_deletion or
    not_created), ``phase`` (the last phase reached), ``error`` and ``timings``.
    It arrives once per cluster, after its teardown, on whichever process runs
    the session (the xdist controller, or the only process without xdist).
    """
