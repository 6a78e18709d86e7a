"""JUnit XML (``--junitxml``): one testcase per cluster, with the cluster's record as properties.

Properties are added on the controller, from the cluster record that travels
with each teardown report (plain JSON, so it survives xdist), just before
pytest's junitxml plugin closes the testcase — a cluster that failed while it
was being created gets them too.  ``record_property`` on a worker would do the
same for the test body only; ``record_testsuite_property`` does not work under
xdist at all, so the suite-level properties (run uuid, seed, platform,
management cluster) are added to the controller's XML writer directly.

Per-testcase ``<properties>`` are valid in the ``xunit1`` family only, which
pytest.ini sets (``junit_family = xunit1``).  Every value goes through
``plugins.secrets.redact``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from .documents import seconds_between
from .secrets import redact
from .session import CONTEXT_KEY, CONTROLLER_KEY, is_worker

# Phase durations (seconds), named as in the timing documents.
DURATIONS = ("batch_wait_s", "create_cli_s", "hc_created_s", "control_plane_s", "workers_s", "install_s", "ready_s",
             "machinepool_s", "load_s", "destroy_s")


def _xml(config: pytest.Config):
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest always has it; guard against a rename
        return None
    return config.stash.get(xml_key, None)


def cluster_properties(result: dict) -> list[tuple[str, str]]:
    """The JUnit properties of one cluster record (missing durations are left out)."""
    t = result.get("timings") or {}
    durations = dict(t)
    durations.setdefault("load_s", seconds_between(t.get("load_start"), t.get("load_end")))
    final = result.get("final")
    props: list[tuple[str, object]] = [
        ("cluster_name", result.get("name")), ("index", result.get("index")), ("workers", result.get("workers")),
        ("outcome", result.get("outcome")), ("phase", result.get("phase")), ("final_state", final),
        ("kept", "true" if final == "kept" else "false"),
        ("destroyed", "true" if final == "destroyed" else "false"),
    ]
    props += [(key, durations[key]) for key in DURATIONS if durations.get(key) is not None]
    folder = result.get("folder")
    if folder:
        props.append(("folder", folder))
        dump = Path(folder) / "dump"
        if dump.is_dir():
            props.append(("dump", str(dump)))
    if result.get("error"):
        props.append(("error", result["error"]))
    return [(name, redact(str(value))) for name, value in props if value is not None]


def suite_properties(config: pytest.Config) -> list[tuple[str, str]]:
    """The run's own properties: uuid, seed, platform, management cluster, run directory."""
    from .options import get_settings

    ctx = config.stash[CONTEXT_KEY]
    s = get_settings(config)
    props = [("run_uuid", s.uuid), ("cluster_name_seed", s.cluster_name_seed), ("platform", s.platform),
             ("simulated", "true" if ctx.platform.get("simulated") else "false"),
             ("mgmt_cluster", ctx.platform.get("mgmt_name")), ("run_dir", ctx.path),
             ("cluster_names", f"{ctx.name_prefix}-{ctx.run_part}-NNNN" if ctx.run_part else None),
             ("cluster_count", s.cluster_count), ("keep_clusters", s.keep_clusters)]
    return [(name, redact(str(value))) for name, value in props if value is not None]


class _JUnitProperties:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.suite_done = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Before junitxml finalizes the testcase (on the teardown report), add the cluster's properties."""
        result = getattr(report, "hcp_cluster", None)
        if result is None or report.when != "teardown":
            return
        names = {name for name, _ in report.user_properties}
        report.user_properties = [*report.user_properties,
                                  *[(n, v) for n, v in cluster_properties(result) if n not in names]]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.add_suite_properties()

    def add_suite_properties(self) -> None:
        xml = _xml(self.config)
        if self.suite_done or xml is None or CONTEXT_KEY not in self.config.stash:
            return
        for name, value in suite_properties(self.config):
            xml.add_global_property(name, value)
        self.suite_done = True


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """On the controller, when --junitxml is given (after the session and junitxml plugins configured)."""
    if not is_worker(config) and CONTROLLER_KEY in config.stash and _xml(config) is not None:
        config.pluginmanager.register(_JUnitProperties(config), "hcp-junit-properties")
