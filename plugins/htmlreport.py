"""pytest-html (``--html report.html``): one row per cluster with its columns, links and the run's picture.

On the controller only (pytest-html writes the report there).  The cluster
record arrives with each teardown report; pytest-html builds a test's rows
when that teardown report arrives, from all of the test's reports, so the
columns (cluster, workers, install s, workers ready s, destroy s, kept) and
the links to the cluster's logs and dump appear on whichever row the test
has — the call row, or the setup row of a cluster that failed while it was
being created.  Links are pytest-html ``url`` extras (plain data), relative
to the report's folder, so the report and the run directory can be archived
together.  The summary section embeds the run's timeline and install-duration
histogram (an inline SVG, ``plugins.runreport``), so a self-contained report
needs no network and no other file to show it.
"""
from __future__ import annotations

import html
import logging
import os
from pathlib import Path

import pytest

from .rundir import RunDir
from .session import CONTEXT_KEY, CONTROLLER_KEY, is_worker

log = logging.getLogger("hcp.htmlreport")

# (key of runreport.cluster_row, column title); keys double as pytest-html's sortable column types.
COLUMNS = (("cluster", "Cluster"), ("workers", "Workers"), ("install_s", "Install s"),
           ("workers_ready_s", "Workers ready s"), ("destroy_s", "Destroy s"), ("kept", "Kept"))
AFTER = 2  # the new columns go after Result and Test


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return html.escape(str(value))


def report_folder(config: pytest.Config) -> Path:
    """The folder of the HTML report (as pytest-html resolves ``--html``)."""
    path = Path(os.path.expandvars(config.option.htmlpath)).expanduser()
    return (Path.cwd() / path).resolve().parent


class _HtmlColumns:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.base = report_folder(config)
        self.rows: dict[str, dict] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the cluster's row and attach its links before pytest-html builds the test's rows."""
        result = getattr(report, "hcp_cluster", None)
        if result is None or report.when != "teardown":
            return
        from pytest_html import extras

        from . import runreport

        row = runreport.cluster_row(result, self.base)
        self.rows[report.nodeid] = row
        report.extras = [*(getattr(report, "extras", None) or []),
                         *(extras.url(link["href"], name=link["name"]) for link in row["links"])]

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list) -> None:
        cells[AFTER:AFTER] = [f'<th class="sortable" data-column-type="{key}">{title}</th>' for key, title in COLUMNS]

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list) -> None:
        row = self.rows.get(report.nodeid, {})
        cells[AFTER:AFTER] = [f'<td class="col-{key}">{_cell(row.get(key))}</td>' for key, _ in COLUMNS]

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, postfix: list, session: pytest.Session) -> None:
        """The run's picture (and where its run directory is) under pytest-html's summary."""
        config = session.config
        if CONTEXT_KEY not in config.stash or CONTROLLER_KEY not in config.stash:
            return
        from . import runreport
        from .reporting import build_summary

        try:
            summary = build_summary(config)
            run = RunDir(summary["path"])
            svg = runreport.timeline_svg(summary, run.events())
        except Exception as exc:  # the picture must never cost the report
            log.warning("could not draw the run's timeline: %s", exc)
            return
        folder = os.path.relpath(summary["path"], self.base)
        postfix.append(
            '<div class="hcp-run" id="hcp-run">'
            f'<h2>Hosted clusters: timeline</h2><p>Run {html.escape(summary["uuid"])}; run directory '
            f'<a href="{html.escape(Path(folder).as_posix())}">{html.escape(summary["path"])}</a> '
            '(its report.html and timeline.svg are written when the run ends; '
            '<code>python3 -m plugins.runreport RUN_DIR</code> writes them again).</p>'
            f"{svg}</div>")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """On the controller of a scale run, when pytest-html writes a report."""
    if (not is_worker(config) and CONTROLLER_KEY in config.stash and getattr(config.option, "htmlpath", None)
            and config.pluginmanager.hasplugin("html")):
        config.pluginmanager.register(_HtmlColumns(config), "hcp-html-columns")
