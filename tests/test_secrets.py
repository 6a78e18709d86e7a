"""Secrets planted in a full simulated run appear nowhere: no file of the run directory (archives
included), no report, no log (DEBUG), no terminal output and no child's command line.

The run is the hypershift platform on a standalone simulated world (the management cluster found
through OCM with OCM_TOKEN, AWS keys from a credentials file, a pull secret, Elasticsearch with a
password in the URL and an API key, a load scraping both Prometheus endpoints with minted tokens,
every cluster dumped and kept so its kubeadmin password can be read afterwards).  The CLIs are
wrapped by spies that record every argv outside the run directory.
"""
from __future__ import annotations

import base64
import gzip
import io
import json
import stat
import tarfile
from pathlib import Path

from plugins.secrets import pull_secret_auths, redact, register
from tests.esserver import FakeElasticsearch
from tests.test_run import summary

AWS_KEY_ID = "AKIAPLANTEDKEY0000001"
AWS_SECRET = "planted/AwsSecret+0000000000000000000000001"
ES_PASSWORD = "planted-es-password-0001"
ES_API_KEY = base64.b64encode(b"planted-key-id:planted-api-key-0001").decode()
PULL_AUTH = base64.b64encode(b"planted-user:planted-pull-secret-0001").decode()


def spy(folder: Path, name: str, real: Path, record: Path) -> Path:
    """A wrapper recording its argv (and the KB_ variables kube-burner gets) before running ``real``."""
    path = folder / name
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> {record}\n"
                    f"env | grep '^KB_' | sed 's/^/env /' >> {record}\nexec {real} \"$@\"\n")
    path.chmod(0o755)
    return path


def texts(path: Path):
    """(name, text) of a file, and of every member of a .tar.gz / .tgz / .gz file."""
    data = path.read_bytes()
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    yield f"{path}:{member.name}", tar.extractfile(member).read().decode(errors="replace")
        return
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    yield str(path), data.decode(errors="replace")


def kubeadmin_passwords(kubeconfig: str) -> list[str]:
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    found = [base64.b64decode(s.data["password"]).decode() for s in core.list_namespaced_secret("clusters").items
             if s.metadata.name.endswith("-kubeadmin-password")]
    return found


def test_planted_secrets_appear_nowhere(scale_project, sim_world, tmp_path, monkeypatch):
    world = sim_world("--ocm-cluster-name", "mgmt-cluster").dir
    info = json.loads((world / "world.json").read_text())
    inputs = scale_project.path / "inputs"
    inputs.mkdir()
    creds = inputs / "credentials"
    creds.write_text(f"[perfci]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n")
    pull = inputs / "pull-secret.json"
    pull.write_text(json.dumps({"auths": {"quay.io": {"auth": PULL_AUTH, "email": "perf@example.com"}}}))
    record = tmp_path / "argv.txt"
    bins = tmp_path / "spies"
    bins.mkdir()
    clis = {name: spy(bins, name, world / "bin" / name, record) for name in ("hypershift", "ocm", "kube-burner-ocp")}
    ocm_token = (world / "ocm-token").read_text().strip()
    path, reports = tmp_path / "run", tmp_path / "reports"
    with FakeElasticsearch(api_key=ES_API_KEY) as es:
        host = es.url.split("://", 1)[1]
        monkeypatch.setenv("OCM_TOKEN", ocm_token)
        monkeypatch.setenv("ES_API_KEY", ES_API_KEY)
        monkeypatch.setenv("HCP_SCALE_ES_URL", f"http://elastic:{ES_PASSWORD}@{host}")
        result = scale_project.runpytest_subprocess(
            "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "2", "-n", "2",
            "--mgmt-cluster", "mgmt-cluster", "--ocm-url", info["ocm_url"], "--ocm-token-url", info["ocm_token_url"],
            "--aws-account-file", str(creds), "--pull-secret-file", str(pull),
            "--ocm-cli", str(clis["ocm"]), "--hypershift-cli", str(clis["hypershift"]),
            "--kube-burner-cli", str(clis["kube-burner-ocp"]), "--add-cluster-load", "--workload",
            "cluster-density-ms", "--cluster-load-duration", "2m", "--cluster-load-jobs-per-worker", "1",
            "--mgmt-metrics", "on", "--keep-clusters", "always", "--must-gather-all", "--mgmt-must-gather",
            "--log-level", "DEBUG", "--log-file", str(reports / "debug.log"), "--log-file-level", "DEBUG",
            "--junitxml", str(reports / "junit.xml"), "--html", str(reports / "report.html"),
            "--self-contained-html", "-o", "junit_logging=all", timeout=300)
        result.assert_outcomes(passed=2)
        assert len(es.documents("osde2e-install-timings")) == 5   # install, load (x2), mgmt: the API key worked
    assert all(c["final"] == "kept" for c in summary(path)["clusters"])
    calls = record.read_text().splitlines()
    tokens = [line.split("=", 1)[1] for line in calls if line.startswith("env KB_")]
    assert len(tokens) == 4                   # guest and management Prometheus tokens, for each cluster
    argv = [line for line in calls if not line.startswith("env ")]
    assert {line.split()[0] for line in argv} == {"hypershift", "ocm", "kube-burner-ocp"}
    planted = {"OCM token": ocm_token, "AWS key id": AWS_KEY_ID, "AWS secret": AWS_SECRET,
               "pull secret": PULL_AUTH, "ES password": ES_PASSWORD, "ES API key": ES_API_KEY,
               **{f"Prometheus token {i}": t for i, t in enumerate(tokens)},
               **{f"kubeadmin password {i}": p for i, p in enumerate(kubeadmin_passwords(str(world / "kubeconfig")))}}
    assert sum(k.startswith("kubeadmin") for k in planted) == 2
    # Credential files the harness writes hold only what their reader needs, and are the owner's alone.
    allowed = {path / "aws_creds": {"AWS key id", "AWS secret"}, path / "ocm.json": {"OCM token"}}
    for file in allowed:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    leaks = []
    everything = [p for p in (*path.rglob("*"), *reports.rglob("*")) if p.is_file()]
    assert any(p.name.endswith((".tar.gz", ".tgz")) for p in everything), "the dumps must be scanned too"
    for file in everything:
        for name, text in texts(file):
            leaks += [(what, name) for what, value in planted.items()
                      if value in text and what not in allowed.get(file, set())]
    for line in argv:
        leaks += [(what, f"argv: {line[:60]}") for what, value in planted.items() if value in line]
    out = result.stdout.str() + result.stderr.str()
    leaks += [(what, "terminal") for what, value in planted.items() if value in out]
    assert not leaks
    assert "DEBUG" in (reports / "debug.log").read_text()          # the run really logged at DEBUG


def test_redaction_covers_registered_values_and_pull_secret_auths(tmp_path):
    pull = tmp_path / "pull.json"
    pull.write_text(json.dumps({"auths": {"a.io": {"auth": "QUJDRA=="}, "b.io": {"password": "pw-12345"}}}))
    assert sorted(pull_secret_auths(str(pull))) == ["QUJDRA==", "pw-12345"]
    assert pull_secret_auths(str(tmp_path / "missing")) == []
    register("registered-secret-1")
    assert redact("a registered-secret-1 b pw-12345", ["pw-12345"]) == "a *** b ***"
    assert redact("abc", ["abc"]) == "abc"                         # too short to be a secret worth hiding


def test_log_records_and_reports_are_redacted(caplog):
    import logging

    import pytest

    from plugins.secrets import install_log_redaction, redact_report

    install_log_redaction()
    register("https://elastic:url-pass%2F1@es.example:9200")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("hcp.test").debug("connecting to %s with %s", "es.example", "url-pass/1")
        try:
            raise RuntimeError("token url-pass%2F1 refused")
        except RuntimeError:
            logging.getLogger("hcp.test").exception("failed")
    text = caplog.text
    assert "url-pass" not in text and text.count("***") >= 2
    report = pytest.TestReport("t::x", ("t", 1, "x"), {}, "failed", "AssertionError: url-pass/1", "call",
                               [("Captured log call", "x url-pass/1 y")])
    redact_report(report)
    assert "url-pass" not in str(report.longrepr) and report.sections == [("Captured log call", "x *** y")]
