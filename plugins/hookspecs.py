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


def pytest_hcp_document(config: pytest.Config, document: dict) -> None:
    """Add or change fields of a timing document before it is recorded (change ``document`` in place).

    Called on the process that ran the cluster (an xdist worker, or the only
    process), before the document is written to the cluster's folder and sent
    to the controller.  Values must be JSON data.
    """


def pytest_hcp_document_recorded(config: pytest.Config, document: dict) -> None:
    """Receive a timing document once the controller has written it to the run's spool.

    The Elasticsearch recorder implements this hook; a conftest may add another
    receiver.  A receiver that fails loses nothing: the document is already on disk.
    """
