"""Reports people read: JUnit properties, pytest-html columns, links and picture, the run's own report.

One scale run (3 clusters on 2 xdist workers, with a load; cluster 2 fails while it
is created) writes a JUnit XML and a self-contained pytest-html report; the tests
read them — and one opens the HTML report in headless Chromium.  The run happens
once per test session, whichever xdist worker asks first (a file lock).
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["Cluster", "Workers", "Install s", "Workers ready s", "Destroy s", "Kept"]
CHROMIUM = os.environ.get("HCP_TEST_CHROMIUM", "/usr/bin/chromium")


def _run(base: Path) -> dict:
    project, path, reports = base / "project", base / "run", base / "reports"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    reports.mkdir(exist_ok=True)
    shutil.copy(ROOT / "conftest.py", project / "conftest.py")
    shutil.copy(ROOT / "pytest.ini", project / "pytest.ini")
    shutil.copytree(ROOT / "tests_scale", project / "tests_scale", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HCP_SCALE_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "pytest", "tests_scale", "-p", "no:cacheprovider", "-n", "2",
            "--path", str(path), "--sim-speed", "3000", "--cluster-count", "3", "--workers", "1,2",
            "--sim-fail-clusters", "2", "--add-cluster-load", "--workload", "cluster-density-ms",
            "--cluster-load-duration", "2m", "--cluster-load-jobs-per-worker", "1",
            "--junitxml", str(reports / "junit.xml"), "--html", str(reports / "report.html"),
            "--self-contained-html"]
    proc = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "path": str(path),
            "junit": str(reports / "junit.xml"), "html": str(reports / "report.html"), "reports": str(reports)}


@pytest.fixture(scope="session")
def reported_run(tmp_path_factory) -> dict:
    """The one scale run these tests read (shared by the xdist workers of this test session)."""
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker's basetemp is a folder of this session's: share the parent
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "hcp-reported-run"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / "lock")):
        done = shared / "result.json"
        if done.exists():
            return json.loads(done.read_text())
        result = _run(shared)
        done.write_text(json.dumps(result))
        return result


@pytest.fixture(scope="session")
def run(reported_run) -> dict:
    assert reported_run["rc"] == 1, reported_run["stdout"][-3000:] + reported_run["stderr"][-3000:]
    assert "3 " in reported_run["stdout"] and "1 error" in reported_run["stdout"], reported_run["stdout"][-2000:]
    summary = json.loads((Path(reported_run["path"]) / "summary.json").read_text())
    return {**reported_run, "summary": summary, "by_index": {c["index"]: c for c in summary["clusters"]}}


def _html_data(report: Path) -> dict:
    text = report.read_text()
    blob = re.search(r'data-jsonblob="([^"]*)"', text)
    assert blob, "pytest-html's data container is missing"
    return json.loads(html.unescape(blob.group(1)))


def _cells(row_cells: list[str]) -> dict[str, str]:
    out = {}
    for cell in row_cells:
        match = re.match(r'<td class="col-(\w+)">(.*)</td>$', cell, re.S)
        if match:
            out[match.group(1)] = match.group(2)
    return out


# ------------------------------------------------------------------- JUnit
def test_junit_has_one_testcase_per_cluster_with_its_properties(run):
    root = ET.parse(run["junit"]).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    suite_props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    summary = run["summary"]
    assert suite_props["run_uuid"] == summary["uuid"]
    assert suite_props["cluster_name_seed"] == "perfsc"
    assert suite_props["platform"] == "sim" and suite_props["simulated"] == "true"
    assert suite_props["mgmt_cluster"] == "sim-mgmt" and suite_props["run_dir"] == run["path"]
    cases = suite.findall("testcase")
    assert sorted(c.get("name") for c in cases) == [f"test_hosted_cluster[perfsc-000{i}]" for i in (1, 2, 3)]
    for case in cases:
        # xunit1: <properties> inside <testcase>, once
        assert len(case.findall("properties")) == 1
        props = {p.get("name"): p.get("value") for p in case.find("properties")}
        index = int(case.get("name")[-2])
        entry = run["by_index"][index]
        assert props["cluster_name"] == entry["name"] and props["workers"] == str(entry["workers"])
        assert props["final_state"] == entry["final"] and props["folder"] == entry["folder"]
        if index == 2:  # failed while it was created: an <error>, kept, with its dump
            assert case.find("error") is not None
            assert props["kept"] == "true" and props["destroyed"] == "false" and props["outcome"] == "failed"
            assert Path(props["dump"]).is_dir() and any(Path(props["dump"]).iterdir())
            assert "destroy_s" not in props and props["error"]
        else:
            assert case.find("error") is None and case.find("failure") is None
            assert props["kept"] == "false" and props["destroyed"] == "true" and props["outcome"] == "passed"
            t = entry["timings"]
            for key in ("control_plane_s", "workers_s", "install_s", "destroy_s", "batch_wait_s"):
                assert float(props[key]) == pytest.approx(t[key]), key
            assert float(props["load_s"]) > 0
            assert "dump" not in props
    assert "incompatible with junit_family" not in run["stdout"]


# ------------------------------------------------------------- pytest-html
def test_html_report_has_cluster_columns_links_and_the_picture(run):
    report = Path(run["html"])
    text = report.read_text()
    data = _html_data(report)
    for title in COLUMNS:
        assert f">{title}</th>" in text
    rows = {nodeid: tests[-1] for nodeid, tests in data["tests"].items()}
    assert len(rows) == 3
    for nodeid, test in rows.items():
        index = int(nodeid[-2])
        entry = run["by_index"][index]
        cells = _cells(test["resultsTableRow"])
        assert cells["cluster"] == entry["name"] and cells["workers"] == str(entry["workers"])
        assert cells["kept"] == ("yes" if index == 2 else "no")
        links = {e["name"]: e["content"] for e in test["extras"] if e["format_type"] == "url"}
        assert links, f"no links for {nodeid}"
        for href in links.values():
            target = (report.parent / unquote(href)).resolve()
            assert target.exists(), href
            assert target == Path(entry["folder"]) or Path(entry["folder"]) in target.parents
            assert target.name != "kubeconfig"
        if index == 2:  # the setup row of the cluster that failed while it was created
            assert test["result"].lower() == "error"
            assert cells["destroy_s"] == "" and any("dump" in name.lower() for name in links)
        else:
            assert float(cells["install_s"]) == pytest.approx(entry["timings"]["install_s"], abs=0.05)
            assert float(cells["destroy_s"]) == pytest.approx(entry["timings"]["destroy_s"], abs=0.05)
            assert any("load" in name.lower() for name in links)
    # the picture, inline
    svg = re.search(r'<svg[^>]*id="hcp-timeline".*?</svg>', text, re.S)
    assert svg and svg.group(0).count("<rect") > 10
    ET.fromstring(svg.group(0))  # well-formed
    assert "http://" not in svg.group(0).replace("http://www.w3.org/", "")


def test_the_run_directory_has_its_report_and_the_command_regenerates_it(run, tmp_path):
    path = Path(run["path"])
    svg, page = path / "timeline.svg", path / "report.html"
    first_svg = svg.read_text()
    ET.fromstring(first_svg)
    assert run["by_index"][2]["name"] in page.read_text()
    moved = tmp_path / "run"
    shutil.copytree(path, moved, ignore=shutil.ignore_patterns("sim"))
    (moved / "timeline.svg").unlink()
    (moved / "report.html").unlink()
    proc = subprocess.run([sys.executable, "-m", "plugins.runreport", str(moved)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert str(moved / "report.html") in proc.stdout and str(moved / "timeline.svg") in proc.stdout
    assert (moved / "timeline.svg").read_text() == first_svg  # the same run draws the same picture
    again = (moved / "report.html").read_text()
    for entry in run["summary"]["clusters"]:
        assert entry["name"] in again


# -------------------------------------------------------------- a browser
def _browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    return sync_api


PIXELS = """async (svg) => {
  const img = new Image();
  const text = new XMLSerializer().serializeToString(svg);
  img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(text);
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width || svg.getBoundingClientRect().width;
  canvas.height = img.height || svg.getBoundingClientRect().height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] < 240 || data[i+1] < 240 || data[i+2] < 240) inked++;
  return {inked, total: data.length / 4};
}"""


def test_the_report_in_headless_chromium(run):
    sync_api = _browser()
    report = Path(run["html"])
    shot = Path(run["reports"]) / "report.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            page.wait_for_selector("#results-table tbody.results-table-row", timeout=20000)
            headers = [h.strip() for h in page.locator("#results-table-head th").all_inner_texts()]
            for title in COLUMNS:
                assert title in headers, headers
            rows = page.locator("#results-table tbody.results-table-row")
            assert rows.count() == 3
            names = sorted(rows.locator("td.col-cluster").all_inner_texts())
            assert names == sorted(c["name"] for c in run["summary"]["clusters"])
            kept = dict(zip(rows.locator("td.col-cluster").all_inner_texts(), rows.locator("td.col-kept").all_inner_texts()))
            assert kept[run["by_index"][2]["name"]] == "yes" and kept[run["by_index"][1]["name"]] == "no"
            # every row links to its cluster's files, and they are there
            for i in range(rows.count()):
                hrefs = rows.nth(i).locator("td.col-links a").evaluate_all("els => els.map(e => e.href)")
                assert hrefs
                for href in hrefs:
                    assert Path(unquote(urlparse(href).path)).exists(), href
            # the picture: present, laid out and drawn
            svg = page.locator("svg#hcp-timeline")
            box = svg.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100
            assert page.locator("svg#hcp-timeline rect").count() > 10
            ink = svg.evaluate(PIXELS)
            assert ink["inked"] > ink["total"] * 0.01, ink
            page.screenshot(path=str(shot), full_page=True)
            # a self-contained report asks for nothing but itself
            assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10000
