"""Timing documents end to end: exact phases, hooks, and Elasticsearch uploads that lose nothing.

Elasticsearch is the ES-API-compatible server in tests/esserver.py (on 127.0.0.1).
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from plugins.documents import FIELDS, doc_id
from plugins.elastic import mask_url
from tests.esserver import FakeElasticsearch
from tests.test_run import SPEED, summary, ts

INDEX = f"hcp-scale-test-{uuid.uuid4().hex[:8]}" if os.environ.get("ES_URL") else "timings"


class RealElasticsearch:
    """A real cluster named by ES_URL, seen through the few calls these tests make."""

    def __init__(self, url: str):
        from plugins.elastic import connection

        self.url = url
        self.client = connection(url, insecure=os.environ.get("ES_INSECURE") == "1")

    def documents(self, index: str) -> dict:
        self.client.indices.refresh(index=index)
        hits = self.client.search(index=index, size=10000, query={"match_all": {}})["hits"]["hits"]
        return {hit["_id"]: hit["_source"] for hit in hits}

    def templates(self) -> dict:
        found = self.client.indices.get_index_template(name=f"{INDEX}*")["index_templates"]
        return {t["name"]: t["index_template"] for t in found}


@pytest.fixture
def es():
    """The test server, or a real Elasticsearch when ES_URL is set (then INDEX is unique per test)."""
    if os.environ.get("ES_URL"):
        yield RealElasticsearch(os.environ["ES_URL"])
        return
    with FakeElasticsearch() as server:
        yield server


def fake_only(es):
    if not isinstance(es, FakeElasticsearch):
        pytest.skip("needs fault injection: only with the test server")


def run(project, path: Path, es_url: str, *args: str, speed: str = SPEED):
    return project.runpytest_subprocess("tests_scale", "--path", str(path), "--sim-speed", speed,
                                        "--es-url", es_url, "--es-index", INDEX, *args, timeout=300)


def index_only(project, path: Path, es_url: str):
    return project.runpytest_subprocess("tests_scale", "--es-index-only", str(path), "--es-url", es_url,
                                        "--es-index", INDEX, timeout=120)


def spooled(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "documents.jsonl").read_text().splitlines()]


def test_every_document_is_uploaded_once_with_fixed_types(scale_project, tmp_path, es):
    path = tmp_path / "run"
    result = run(scale_project, path, es.url, "--cluster-count", "2", "--sim-fail-clusters", "2", "-n", "2")
    result.assert_outcomes(passed=1, errors=1)
    docs = spooled(path)
    assert sorted(d["operation"] for d in docs) == ["destroy", "install", "install", "mgmt_cluster"]
    stored = es.documents(INDEX)
    assert set(stored) == {doc_id(d) for d in docs}
    failed = [d for d in docs if d["operation"] == "install" and d["status"] == "failed"][0]
    assert failed["phase"] == "installing" and failed["error"] and failed["index"] == 2
    for doc in docs:  # one type per field, null when unknown
        for field, value in doc.items():
            kind = FIELDS.get(field)
            if value is None or kind is None:
                continue
            expected = {"double": float, "long": int, "date": str, "keyword": str, "text": str}[kind]
            assert isinstance(value, expected) and value != "", (field, value)
    template = es.templates()[f"{INDEX}-hcp-scale"]
    assert template["template"]["mappings"]["properties"]["ready_s"]["type"] == "double"
    result.stdout.fnmatch_lines([f"Elasticsearch {mask_url(es.url)} index {INDEX}: 4 of 4 documents uploaded"])
    # uploading the finished run again changes nothing
    again = index_only(scale_project, path, es.url)
    assert again.ret == 0
    assert len(es.documents(INDEX)) == 4


def test_elasticsearch_down_for_the_whole_run_then_index_only(scale_project, tmp_path, es):
    fake_only(es)
    es.down()
    path = tmp_path / "run"
    result = run(scale_project, path, es.url, "--cluster-count", "2", "--es-index-retry", "2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"Elasticsearch {es.url} index {INDEX}: 0 of 5 documents uploaded, 5 pending",
                                 f"*upload them later with: pytest --es-index-only {path} --es-url {es.url}*"])
    es.up()
    first = index_only(scale_project, path, es.url)
    assert first.ret == 0
    first.stdout.fnmatch_lines([f"*5 of 5 documents from {path} uploaded*"])
    assert len(es.documents(INDEX)) == 5
    second = index_only(scale_project, path, es.url)
    assert second.ret == 0 and len(es.documents(INDEX)) == 5


def test_failures_mid_run_lose_nothing(scale_project, tmp_path, es):
    fake_only(es)
    es.faults.set(status=503, count=2, paths=["/_bulk"])
    path = tmp_path / "run"
    result = run(scale_project, path, es.url, "--cluster-count", "3", "-n", "2")
    result.assert_outcomes(passed=3)
    assert len(es.documents(INDEX)) == 7
    assert es.faults.injected >= 2


def test_refused_items_are_retried_one_by_one_and_reported(scale_project, tmp_path, es, monkeypatch):
    fake_only(es)
    path = tmp_path / "run"
    # the mgmt document of this run is the first one recorded; fail it per item a few times
    result = run(scale_project, path, es.url, "--cluster-count", "1", "--uuid", "fixed-uuid")
    result.assert_outcomes(passed=1)
    docs = spooled(path)
    es2 = FakeElasticsearch().start()
    try:
        es2.faults.item_errors(ids={doc_id(docs[0])}, status=429, count=2)
        es2.faults.item_errors(ids={doc_id(docs[1])}, status=400, count=10)
        out = index_only(scale_project, path, es2.url)
        assert out.ret == 1
        out.stdout.fnmatch_lines([f"*2 of 3 documents from {path} uploaded, 1 refused*",
                                  f"  refused {doc_id(docs[1])}: 400*"])
        assert set(es2.documents(INDEX)) == {doc_id(docs[0]), doc_id(docs[2])}
    finally:
        es2.stop()


def test_credentials_are_used_and_never_shown(scale_project, tmp_path):
    with FakeElasticsearch(username="elastic", password="s3cr3t-pw") as server:
        host = server.url.split("://", 1)[1]
        url = f"http://elastic:s3cr3t-pw@{host}"
        path = tmp_path / "run"
        result = run(scale_project, path, url, "--cluster-count", "1")
        result.assert_outcomes(passed=1)
        assert len(server.documents(INDEX)) == 3
        out = result.stdout.str() + result.stderr.str()
        assert f"http://elastic:***@{host}" in out
        assert "s3cr3t-pw" not in out.replace(f"--es-url {url}", "")  # pytester echoes our own command line
        for file in path.rglob("*"):
            if file.is_file() and file.suffix != ".gz":
                assert "s3cr3t-pw" not in file.read_text(errors="replace"), file


def test_document_hooks_change_and_receive(scale_project, tmp_path, es):
    (scale_project.path / "conftest.py").write_text((scale_project.path / "conftest.py").read_text() + '''

def pytest_hcp_document(config, document):
    document["team"] = "perfscale"


def pytest_hcp_document_recorded(config, document):
    import json, pathlib
    with open(pathlib.Path(config.getoption("path")) / "received.jsonl", "a") as fh:
        fh.write(json.dumps(document) + "\\n")
''')
    path = tmp_path / "run"
    result = run(scale_project, path, es.url, "--cluster-count", "2", "-n", "2")
    result.assert_outcomes(passed=2)
    received = [json.loads(x) for x in (path / "received.jsonl").read_text().splitlines()]
    assert len(received) == 5
    cluster_docs = [d for d in received if d["operation"] != "mgmt_cluster"]
    assert all(d["team"] == "perfscale" for d in cluster_docs)
    assert all(d["team"] == "perfscale" for d in es.documents(INDEX).values() if d["operation"] != "mgmt_cluster")
    assert json.loads(next(path.glob("perfsc-*/metadata_install.json")).read_text())["team"] == "perfscale"


@pytest.mark.parametrize("watcher_delay", ["60", "1"])
def test_phase_times_match_the_simulated_operator(scale_project, tmp_path, watcher_delay):
    """Every recorded instant is the operator's own (the ground truth), whatever the watcher does."""
    path = tmp_path / "run"
    result = scale_project.runpytest_subprocess("tests_scale", "--path", str(path), "--sim-speed", "300",
                                                "--cluster-count", "2", "--workers", "2", "-n", "2",
                                                "--watcher-delay", watcher_delay, timeout=300)
    result.assert_outcomes(passed=2)
    truth = [json.loads(x) for x in (path / "sim" / "transitions.jsonl").read_text().splitlines()]
    for doc in spooled(path):
        if doc["operation"] == "mgmt_cluster":
            continue
        mine = [t for t in truth if t["cluster"] == doc["cluster_name"]]
        phase = {t["phase"]: t for t in mine}
        if doc["operation"] == "install":
            assert doc["control_plane_available"] == phase["control_plane_available"]["time"]
            assert doc["install_completed"] == phase["install_completed"]["time"]
            assert doc["nodepools_ready"] == phase["nodepool_ready"]["time"]
            assert doc["workers_ready"] == max((t["time"] for t in mine if t["phase"] == "node_ready"),
                                               key=ts)
            expected = ts(phase["install_completed"]["time"]) - ts(phase["control_plane_available"]["time"])
            assert abs((doc["install_s"] - doc["control_plane_s"]) - expected) <= 1.0
        else:
            assert abs(ts(doc["deleted"]) - phase["deleted"]["ts"]) <= 1.0
            assert doc["destroy_s"] > 0
    assert summary(path)["counts"]["destroyed"] == 2


def test_an_elasticsearch_9_server_is_served_by_the_pinned_client(scale_project, tmp_path):
    with FakeElasticsearch(version="9.1.0") as server:
        path = tmp_path / "run"
        result = run(scale_project, path, server.url, "--cluster-count", "1")
        result.assert_outcomes(passed=1)
        assert len(server.documents(INDEX)) == 3


def test_api_key_from_the_environment(scale_project, tmp_path, monkeypatch):
    with FakeElasticsearch(api_key="a2V5LWlkOmtleS1zZWNyZXQ=") as server:
        monkeypatch.setenv("ES_API_KEY", "a2V5LWlkOmtleS1zZWNyZXQ=")
        path = tmp_path / "run"
        result = run(scale_project, path, server.url, "--cluster-count", "1")
        result.assert_outcomes(passed=1)
        assert len(server.documents(INDEX)) == 3
        for file in path.rglob("*"):
            if file.is_file() and file.suffix != ".gz":
                assert "a2V5LWlkOmtleS1zZWNyZXQ=" not in file.read_text(errors="replace"), file
