"""The run's picture (timeline.svg) and standalone page (report.html), from synthetic run directories."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from plugins import runreport, secrets
from plugins.runreport import ReportError, cluster_row, render_html, timeline_svg, write_report

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.timezone.utc)
UUID = "0b5e4c1a-1111-2222-3333-444455556666"


def at(seconds: float) -> str:
    """The ISO time ``seconds`` after T0, as the harness writes it."""
    return (T0 + dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(cluster: str, name: str, seconds: float, index: int, **fields) -> dict:
    return {"cluster": cluster, "event": name, "time": at(seconds), "index": index,
            "test_id": f"tests_scale/test_hosted_clusters.py::test_hosted_cluster[c-{index:04d}]", **fields}


def install(start: float, cp: float, workers: float, **more) -> dict:
    """Timings of an install requested at ``start``: control plane for ``cp`` s, then workers for ``workers`` s."""
    return {"create_requested": at(start), "hc_created": at(start + 1), "control_plane_available": at(start + cp),
            "nodepools_ready": at(start + cp + workers), "workers_ready": at(start + cp + workers),
            "install_completed": at(start + cp + workers), "ready": at(start + cp + workers),
            "control_plane_s": cp, "workers_s": workers, "install_s": cp + workers, "ready_s": cp + workers,
            "batch_wait_s": 0.0, **more}


def destroy(start: float, seconds: float) -> dict:
    return {"destroy_requested": at(start), "deleted": at(start + seconds), "destroy_s": seconds}


ERROR = "ClusterFailed: <script>alert('x')</script> InfraStatusFailure token=TOPSECRET-42"


def synthetic_run(run: Path) -> tuple[dict, list[dict]]:
    """Five clusters, first instant T0, last T0+600 s; returns (summary, ledger) and writes the run directory.

    c-0001 waited 30 s for its batch; c-0002 was loaded; c-0003 failed while its workers
    came up and was kept with a dump; c-0004's destroy failed (pending deletion); c-0005's
    create failed (not created, no timings at all).
    """
    run.mkdir(parents=True, exist_ok=True)
    clusters = [
        {"name": "c-0001", "index": 1, "workers": 3, "outcome": "passed", "final": "destroyed", "phase": "destroyed",
         "error": None, "timings": {**install(30, 100, 60), "batch_wait_s": 30.0, **destroy(250, 60)}},
        {"name": "c-0002", "index": 2, "workers": 6, "outcome": "passed", "final": "destroyed", "phase": "destroyed",
         "error": None, "timings": {**install(0, 90, 60), "load_start": at(160), "load_end": at(400),
                                    "load_status": "success", **destroy(410, 40)}},
        {"name": "c-0003", "index": 3, "workers": 3, "outcome": "failed", "final": "kept", "phase": "installing",
         "error": ERROR, "timings": {"create_requested": at(10), "hc_created": at(11),
                                     "control_plane_available": at(100), "control_plane_s": 90.0,
                                     "batch_wait_s": 0.0, "install_s": None, "workers_s": None}},
        {"name": "c-0004", "index": 4, "workers": 3, "outcome": "passed", "final": "pending_deletion",
         "phase": "destroying", "error": "destroy command exited 1",
         "timings": {**install(40, 60, 60), "destroy_requested": at(300)}},
        {"name": "c-0005", "index": 5, "workers": 3, "outcome": "failed", "final": "not_created", "phase": "creating",
         "error": "create command exited 1", "timings": {}},
    ]
    ledger = [
        event("c-0002", "create_requested", 0, 2), event("c-0003", "create_requested", 10, 3),
        event("c-0005", "create_requested", 20, 5), event("c-0005", "create_failed", 25, 5, error="exit 1"),
        event("c-0001", "create_requested", 30, 1), event("c-0004", "create_requested", 40, 4),
        event("c-0002", "ready", 150, 2), event("c-0004", "ready", 160, 4), event("c-0001", "ready", 190, 1),
        event("c-0001", "destroy_requested", 250, 1), event("c-0004", "destroy_requested", 300, 4),
        event("c-0001", "destroyed", 310, 1), event("c-0002", "destroy_requested", 410, 2),
        event("c-0002", "destroyed", 450, 2), event("c-0003", "failed", 500, 3, phase="installing", error=ERROR),
        event("c-0003", "kept", 520, 3, reason="failed"),
        event("c-0004", "destroy_failed", 600, 4, error="destroy command exited 1"),
    ]
    for entry in clusters:
        folder = run / entry["name"]
        folder.mkdir()
        entry["folder"] = str(folder)
        (folder / "create.log").write_text("create\n")
        if entry["name"] != "c-0005":
            (folder / "kubeconfig").write_text("apiVersion: v1\n# secret\n")
            (folder / "metadata_install.json").write_text("{}\n")
    for name in ("c-0001", "c-0002"):
        (run / name / "destroy.log").write_text("destroy\n")
    (run / "c-0004" / "destroy.log").write_text("destroy failed\n")
    (run / "c-0002" / "load.log").write_text("load\n")
    (run / "c-0002" / "load").mkdir()
    (run / "c-0002" / "load" / "kube-burner-ocp-x.log").write_text("kube-burner\n")
    (run / "c-0002" / "load" / "kubeconfig.log").write_text("a decoy that must never be linked\n")
    (run / "c-0003" / "dump.log").write_text("dump\n")
    (run / "c-0003" / "dump").mkdir()
    (run / "c-0003" / "dump" / "hypershift-dump.tar.gz").write_bytes(b"\x1f\x8b")
    summary = {
        "uuid": UUID, "cluster_name_seed": "perfsc", "name_prefix": "perfsc", "run_part": "abc", "path": str(run),
        "platform": {"kind": "hypershift", "name": "simulated management cluster", "simulated": True},
        "finished": at(610), "requested": 5, "workers": [3], "keep_clusters": "on-failure",
        "batch": {"size": 2, "delay_between_batch": 30.0},
        "counts": {"ready": 3, "failed": 2, "kept": 1, "destroyed": 2, "pending_deletion": 1, "not_created": 1},
        "clusters": clusters, "pending_deletion": ["c-0004"], "kept": ["c-0003"], "left": ["c-0003", "c-0004"],
        "delete_command": f"pytest tests_scale --only-delete-clusters --path {run}",
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2))
    (run / "ledger.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ledger))
    return summary, ledger


@pytest.fixture
def run(tmp_path) -> tuple[Path, dict, list[dict]]:
    summary, ledger = synthetic_run(tmp_path / "run")
    return tmp_path / "run", summary, ledger


def segments(root: ET.Element) -> list[tuple[str, str, set[str], ET.Element]]:
    """(cluster, phase, classes, element) of every timeline segment."""
    out = []
    for row in root.iter(f"{SVG}g"):
        if "row" not in row.get("class", "").split():
            continue
        for rect in row.iter(f"{SVG}rect"):
            classes = set(rect.get("class", "").split())
            if "seg" in classes:
                phase = (classes - {"seg", "failed"}).pop()
                out.append((row.get("data-cluster"), phase, classes, rect))
    return out


def by_key(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(cluster, phase): rect for cluster, phase, _, rect in segments(root)}


# ------------------------------------------------------------------ timeline
def test_timeline_has_one_row_per_cluster_and_the_phases_that_happened(run):
    _, summary, ledger = run
    root = ET.fromstring(timeline_svg(summary, ledger))
    assert root.tag == f"{SVG}svg" and root.get("id") == "hcp-timeline"
    rows = [g.get("data-cluster") for g in root.iter(f"{SVG}g") if "row" in g.get("class", "").split()]
    assert rows == ["c-0001", "c-0002", "c-0003", "c-0004", "c-0005"]
    phases: dict[str, list[str]] = {}
    for cluster, phase, _, _ in segments(root):
        phases.setdefault(phase, []).append(cluster)
    assert phases == {"batch-wait": ["c-0001"],
                      "control-plane": ["c-0001", "c-0002", "c-0003", "c-0004", "c-0005"],
                      "workers": ["c-0001", "c-0002", "c-0003", "c-0004"],
                      "load": ["c-0002"],
                      "destroy": ["c-0001", "c-0002", "c-0004"]}
    labels = [t.text for t in root.iter(f"{SVG}text") if "label" in t.get("class", "").split()]
    assert labels == rows
    legend = {g.get("class") for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("legend-item")}
    assert legend == {"legend-item batch-wait", "legend-item control-plane", "legend-item workers",
                      "legend-item load", "legend-item destroy", "legend-item failed"}


def test_segment_positions_and_widths_follow_the_times(run):
    _, summary, ledger = run
    seg = by_key(ET.fromstring(timeline_svg(summary, ledger)))

    def span(key):
        rect = seg[key]
        return float(rect.get("x")), float(rect.get("width"))

    x0, wait_w = span(("c-0001", "batch-wait"))        # 0 .. 30 s
    x_cp1, cp1_w = span(("c-0001", "control-plane"))   # 30 .. 130 s
    x_cp2, _ = span(("c-0002", "control-plane"))       # 0 .. 90 s
    x_load, load_w = span(("c-0002", "load"))          # 160 .. 400 s
    x_des, des_w = span(("c-0004", "destroy"))         # 300 .. 600 s (failed)
    scale = cp1_w / 100
    assert scale > 0.5
    assert x_cp2 == pytest.approx(x0, abs=0.02)        # the run's first instant
    assert wait_w == pytest.approx(30 * scale, abs=0.05)
    assert x_cp1 == pytest.approx(x0 + 30 * scale, abs=0.05)
    assert load_w == pytest.approx(240 * scale, abs=0.05)
    assert x_load == pytest.approx(x0 + 160 * scale, abs=0.05)
    assert x_des + des_w == pytest.approx(x0 + 600 * scale, abs=0.05)
    assert (seg[("c-0001", "workers")].get("data-start"), seg[("c-0001", "workers")].get("data-end")) == \
        ("130.000", "190.000")
    # the time axis: 600 s in one-minute steps, labelled m:ss
    ticks = [t.text for t in ET.fromstring(timeline_svg(summary, ledger)).iter(f"{SVG}text")
             if t.get("class") == "tick"]
    assert ticks == [f"{m}:00" for m in range(11)]


def test_unfinished_phases_end_at_the_ledger_event_and_are_marked_failed(run):
    _, summary, ledger = run
    root = ET.fromstring(timeline_svg(summary, ledger))
    failed = {(c, p) for c, p, classes, _ in segments(root) if "failed" in classes}
    assert failed == {("c-0003", "workers"), ("c-0004", "destroy"), ("c-0005", "control-plane")}
    seg = by_key(root)
    assert seg[("c-0003", "workers")].get("data-end") == "500.000"        # its `failed` event, not `kept`
    assert seg[("c-0004", "destroy")].get("data-end") == "600.000"        # destroy_failed
    assert (seg[("c-0005", "control-plane")].get("data-start"),          # no timings: from the ledger
            seg[("c-0005", "control-plane")].get("data-end")) == ("20.000", "25.000")
    assert "failed" not in seg[("c-0003", "control-plane")].get("class")
    marks = [r for r in root.iter(f"{SVG}rect") if "fail-mark" in r.get("class", "").split()]
    assert sorted(r.get("class") for r in marks) == ["fail-mark control-plane", "fail-mark destroy",
                                                     "fail-mark workers"]
    assert all(r.get("fill") == "url(#hcp-hatch)" for r in marks)
    assert root.find(f".//{SVG}pattern[@id='hcp-hatch']") is not None
    row_classes = {g.get("data-cluster"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-cluster")}
    assert row_classes["c-0003"] == "row failed" and row_classes["c-0001"] == "row"


def test_every_segment_has_a_tooltip_with_cluster_phase_and_seconds(run):
    _, summary, ledger = run
    root = ET.fromstring(timeline_svg(summary, ledger))
    for cluster, phase, _, rect in segments(root):
        title = rect.find(f"{SVG}title").text
        assert cluster in title and runreport.PHASE_LABEL[phase] in title and " s " in title, title
    seg = by_key(root)
    assert "control plane: 100.0 s" in seg[("c-0001", "control-plane")].find(f"{SVG}title").text
    assert "did not finish: failed" in seg[("c-0003", "workers")].find(f"{SVG}title").text
    assert "400.0 s" in seg[("c-0003", "workers")].find(f"{SVG}title").text


def test_histogram_counts_every_install_duration(run):
    _, summary, ledger = run
    root = ET.fromstring(timeline_svg(summary, ledger))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    with_install = [c for c in summary["clusters"] if c["timings"].get("install_s") is not None]
    assert len(with_install) == 3
    assert sum(int(b.get("data-count")) for b in bars) == 3
    # durations 160, 150 and 120 s: each bar's range holds the values counted in it
    values = [c["timings"]["install_s"] for c in with_install]
    for bar in bars:
        low, high = float(bar.get("data-from")), float(bar.get("data-to"))
        assert int(bar.get("data-count")) == sum(low <= v < high for v in values)
    heights = {int(b.get("data-count")): float(b.get("height")) for b in bars}
    assert heights.get(0, 0.0) == 0.0 and heights[1] > 0
    caption = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "caption"]
    assert caption == ["2 cluster(s) have no install duration (failed, interrupted or not created)"]
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "count-tick"][0] == "0"


def test_timeline_is_self_contained_and_deterministic(run):
    _, summary, ledger = run
    svg = timeline_svg(summary, ledger)
    assert svg == timeline_svg(json.loads(json.dumps(summary)), list(ledger))
    root = ET.fromstring(svg)
    for element in root.iter():
        for name, value in element.attrib.items():
            if name.endswith("href") or value.startswith("url("):
                assert value.startswith(("#", "url(#")), (name, value)
    for tag in ("script", "image", "foreignObject", "use", "a", "style"):
        assert root.find(f".//{SVG}{tag}") is None
    assert "@import" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_single_cluster_short_and_long_runs_pick_tick_units():
    def one(seconds: float) -> list[str]:
        summary = {"uuid": "u", "clusters": [
            {"name": "solo", "index": 1, "outcome": "passed", "final": "destroyed",
             "timings": {**install(0, seconds / 2, seconds / 2)}}]}
        root = ET.fromstring(timeline_svg(summary, []))
        assert len(segments(root)) == 2
        return [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]

    assert one(30) == ["0s", "5s", "10s", "15s", "20s", "25s", "30s"]
    assert one(3 * 3600) == ["0:00", "0:30", "1:00", "1:30", "2:00", "2:30", "3:00"]
    assert one(1500)[:3] == ["0:00", "5:00", "10:00"]


def test_zero_durations_no_timings_and_empty_runs():
    summary = {"uuid": "u", "clusters": [
        {"name": "zero", "index": 1, "outcome": "passed", "final": "destroyed",
         "timings": {**install(0, 0, 0), **destroy(0, 0)}},
        {"name": "nothing", "index": 2, "outcome": "interrupted", "final": "pending_deletion", "timings": {}}]}
    root = ET.fromstring(timeline_svg(summary, []))
    rows = [g for g in root.iter(f"{SVG}g") if "row" in g.get("class", "").split()]
    assert [g.get("data-cluster") for g in rows] == ["zero", "nothing"]
    segs = segments(root)
    assert {p for _, p, _, _ in segs} == {"control-plane", "workers", "destroy"}
    for _, _, classes, rect in segs:
        assert "failed" not in classes
        assert rect.get("data-start") == rect.get("data-end") == "0.000"
        assert float(rect.get("width")) >= 1                       # still visible
        assert ": 0.0 s" in rect.find(f"{SVG}title").text
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [(b.get("data-count"), b.get("data-from")) for b in bars] == [("1", "0")]
    assert "no timings" in rows[1].find(f"{SVG}title").text

    empty = timeline_svg({"uuid": "u", "clusters": []}, [])
    root = ET.fromstring(empty)
    assert root.get("id") == "hcp-timeline" and float(root.get("height")) <= 100
    assert "No clusters" in "".join(root.itertext())
    assert root.find(f".//{SVG}rect[@class='bar']") is None


def test_a_thousand_clusters_keep_every_row_in_a_bounded_picture():
    n = 1000
    clusters, ledger = [], []
    for i in range(1, n + 1):
        start = (i // 50) * 60.0
        timings = {**install(start, 300 + i % 17, 100 + i % 13), **destroy(start + 600, 90)}
        clusters.append({"name": f"perfsc-x-{i:04d}", "index": i, "outcome": "passed", "final": "destroyed",
                         "timings": timings})
        ledger.append(event(f"perfsc-x-{i:04d}", "create_requested", start, i))
    summary = {"uuid": "big", "clusters": clusters}
    svg = timeline_svg(summary, ledger)
    root = ET.fromstring(svg)
    rows = [g.get("data-cluster") for g in root.iter(f"{SVG}g") if "row" in g.get("class", "").split()]
    assert rows == [c["name"] for c in clusters]
    assert len(segments(root)) == 3 * n
    assert float(root.get("height")) <= 1300 and float(root.get("width")) <= 1000
    assert not [t for t in root.iter(f"{SVG}text") if t.get("class") == "label"]   # too many names to read
    assert sum(int(b.get("data-count")) for b in root.iter(f"{SVG}rect") if b.get("class") == "bar") == n
    assert len(svg) < 3_000_000
    page = render_html(summary, svg, "/nonexistent")
    assert page.count('<tr class="cluster"') == n


# ------------------------------------------------------------------ rows and page
def test_cluster_row_columns(run):
    path, summary, _ = run
    rows = {e["name"]: cluster_row(e, path) for e in summary["clusters"]}
    assert {k: rows["c-0001"][k] for k in ("cluster", "workers", "install_s", "workers_ready_s", "destroy_s",
                                            "kept", "outcome", "error")} == \
        {"cluster": "c-0001", "workers": 3, "install_s": 160.0, "workers_ready_s": 60.0, "destroy_s": 60.0,
         "kept": "no", "outcome": "passed", "error": ""}
    assert [rows[n]["kept"] for n in sorted(rows)] == ["no", "no", "yes", "pending deletion", "not created"]
    assert rows["c-0003"]["install_s"] is None and rows["c-0003"]["destroy_s"] is None
    assert rows["c-0005"]["workers_ready_s"] is None
    assert [link["name"] for link in rows["c-0002"]["links"]] == \
        ["create log", "load log", "kube-burner log", "destroy log", "folder"]
    assert [(link["name"], link["href"]) for link in rows["c-0003"]["links"]] == \
        [("create log", "c-0003/create.log"), ("dump log", "c-0003/dump.log"),
         ("dump archive", "c-0003/dump/hypershift-dump.tar.gz"), ("folder", "c-0003/")]
    elsewhere = cluster_row(summary["clusters"][0], path / "c-0002" / "load")
    assert elsewhere["links"][0]["href"] == "../../c-0001/create.log"


def test_cluster_row_quotes_hrefs_and_finds_a_moved_run(tmp_path):
    folder = tmp_path / "run dir" / "c 1#x"
    folder.mkdir(parents=True)
    (folder / "create.log").write_text("x")
    row = cluster_row({"name": "c 1#x", "folder": "/gone/elsewhere", "timings": {}}, tmp_path,
                      run_path=tmp_path / "run dir")
    assert row["links"][0]["href"] == "run%20dir/c%201%23x/create.log"
    assert cluster_row({"name": "c 1#x", "folder": "/gone/elsewhere"}, tmp_path)["links"] == []


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.rows: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "tr" and "data-cluster" in attrs:
            self.rows[attrs["data-cluster"]] = attrs["class"]


def test_render_html_escapes_redacts_and_highlights(run, monkeypatch):
    path, summary, ledger = run
    monkeypatch.setattr(secrets, "_known", set())
    secrets.register("TOPSECRET-42")
    page = render_html(summary, timeline_svg(summary, ledger), path)
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "TOPSECRET" not in page and "token=***" in page
    assert f"<title>hcp-scale run {UUID}</title>" in page
    assert 'id="hcp-timeline"' in page and page.count("<svg") == 1
    for text in ('<span class="n">5</span>requested', '<span class="n">3</span>ready',
                 '<span class="n">1</span>pending deletion', "--only-delete-clusters", "perfsc"):
        assert text in page
    parser = Links()
    parser.feed(page)
    assert parser.rows == {"c-0001": "cluster", "c-0002": "cluster", "c-0003": "cluster failed left",
                           "c-0004": "cluster left", "c-0005": "cluster failed"}
    assert render_html(summary, timeline_svg(summary, ledger), path) == page


def test_write_report_links_resolve_from_the_page_and_never_reach_a_kubeconfig(run, tmp_path):
    path, _, _ = run
    for html_path in (None, tmp_path / "elsewhere" / "deep" / "page.html"):
        html_file, svg_file = write_report(path, html_path)
        assert svg_file == path / "timeline.svg" and ET.parse(svg_file).getroot().get("id") == "hcp-timeline"
        assert html_file == (html_path or path / "report.html")
        parser = Links()
        parser.feed(html_file.read_text())
        assert len(parser.hrefs) == 17
        for href in parser.hrefs:
            assert "kubeconfig" not in href
            target = (html_file.parent / unquote(href)).resolve()
            assert target.exists(), href
            assert target.is_relative_to(path.resolve())


def test_write_report_refuses_a_directory_without_a_summary(tmp_path):
    with pytest.raises(ReportError, match="no summary.json"):
        write_report(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(ReportError, match="not valid JSON"):
        write_report(tmp_path)
    with pytest.raises(ReportError, match="no such run directory"):
        write_report(tmp_path / "missing")


# ------------------------------------------------------------------ command line
def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "plugins.runreport", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_writes_both_files_and_prints_their_paths(run, tmp_path):
    path, _, _ = run
    svg = tmp_path / "pic.svg"
    result = cli(str(path), "--svg", str(svg))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(path / "report.html"), str(svg)]
    assert ET.parse(svg).getroot().get("id") == "hcp-timeline"
    assert "c-0003/dump/hypershift-dump.tar.gz" in (path / "report.html").read_text()


@pytest.mark.parametrize("case", ["empty", "missing", "invalid"])
def test_cli_bad_run_directory_is_one_line_and_exit_2(tmp_path, case):
    target = tmp_path / "run"
    if case != "missing":
        target.mkdir()
    if case == "invalid":
        (target / "summary.json").write_text("[1, 2]")
    result = cli(str(target))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("runreport: ") and str(target) in lines[0]
