"""--platform hypershift: argv against the real CLI's flag set, preflight checks, and a run on the
standalone simulated management cluster with its stand-in hypershift CLI."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from plugins.options import Settings
from plugins.platform import ClusterSpec, HypershiftPlatform
from tests.test_options import _defaults
from tests.test_run import ledger, summary

REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "hypershift-reference.md"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"


def reference_flags(section: str) -> set[str]:
    """Flags documented in a section of the reference (e.g. '3.1'), from its tables and text."""
    text = REFERENCE.read_text()
    start = text.index(f"### {section} ")
    end = text.index("\n### ", start + 10)
    return set(re.findall(r"`(--[a-z][a-z0-9-]*)", text[start:end]))


def descriptor(**extra) -> dict:
    d = {"kind": "hypershift", "kubeconfig": "/run/mgmt_kubeconfig", "hypershift_cli": "/bin/hypershift",
         "namespace": "clusters", "base_domain": "perf.example.com", "region": "us-east-2",
         "pull_secret": "/run/pull-secret.json", "mgmt_name": "mgmt-1", "aws_creds": "/run/aws_creds"}
    d.update(extra)
    return d


def settings(**extra) -> Settings:
    return Settings(**{**_defaults(), "platform": "hypershift", "uuid": "u-1", **extra})


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference not present")
def test_create_and_destroy_argv_use_only_real_flags(tmp_path):
    platform = HypershiftPlatform(descriptor())
    spec = ClusterSpec(index=7, name="perfsc-abc-0007", test_id="t", workers=25)
    args = platform.create_args(spec, settings(ocp_version="4.17.3",
                                               wildcard_options=["--network-type", "OVNKubernetes"]))
    assert args == ["create", "cluster", "aws", "--name", "perfsc-abc-0007", "--namespace", "clusters",
                    "--base-domain", "perf.example.com", "--region", "us-east-2",
                    "--pull-secret", "/run/pull-secret.json", "--node-pool-replicas", "25",
                    "--release-image", "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64",
                    "--labels", "hcp-scale.io/run=u-1", "--labels", "hcp-scale.io/index=7",
                    "--additional-tags", "mgmt-cluster=mgmt-1,run-uuid=u-1",
                    "--aws-creds", "/run/aws_creds", "--network-type", "OVNKubernetes"]
    allowed = reference_flags("3.1") | reference_flags("3.0")
    assert {a for a in args if a.startswith("--")} <= allowed
    sts = HypershiftPlatform(descriptor(aws_creds=None, role_arn="arn:aws:iam::1:role/r", sts_creds="/run/sts.json"))
    assert sts.credential_args() == ["--role-arn", "arn:aws:iam::1:role/r", "--sts-creds", "/run/sts.json"]
    assert set(a for a in sts.credential_args() if a.startswith("--")) <= allowed


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference not present")
def test_destroy_and_dump_argv_use_only_real_flags(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("plugins.process.run", lambda argv, **kw: calls.append(list(argv)) or _ok(argv))
    platform = HypershiftPlatform(descriptor())
    spec = ClusterSpec(index=1, name="perfsc-abc-0001", test_id="t", workers=3)
    platform.dump(spec, tmp_path)
    assert calls[0][1:] == ["dump", "cluster", "--name", "perfsc-abc-0001", "--namespace", "clusters",
                            "--artifact-dir", str(tmp_path / "dump"), "--dump-guest-cluster"]
    assert {a for a in calls[0] if a.startswith("--")} <= reference_flags("3.3")
    destroy_flags = reference_flags("3.2")
    for flag in ("--name", "--namespace", "--cluster-grace-period", "--region", "--base-domain", "--infra-id",
                 "--aws-creds", "--role-arn", "--sts-creds"):
        assert flag in destroy_flags


def _ok(argv):
    from plugins.process import Result

    return Result(argv=list(argv), returncode=0, started=0.0, ended=0.0, timed_out=False, log_path=None)


# ------------------------------------------------------------ preflight, bad input
@pytest.fixture
def files(scale_project):
    tmp_path = scale_project.path / "inputs"  # inside the project, so pytest finds its rootdir and ini file
    tmp_path.mkdir()
    pull = tmp_path / "pull-secret.txt"
    pull.write_text(json.dumps({"auths": {"quay.io": {"auth": "c2VjcmV0"}}}))
    creds = tmp_path / "credentials"
    creds.write_text(f"[perfci]\naws_access_key_id = {AWS_KEY_ID}\naws_secret_access_key = {AWS_SECRET}\n"
                     "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n")
    return {"pull": pull, "creds": creds, "dir": tmp_path}


HYPERSHIFT_BAD = [
    ("two profiles, none chosen", [], "has 2 profiles (perfci, other): choose one with --aws-profile"),
    ("unknown profile", ["--aws-profile", "nope"], "--aws-profile nope: not in"),
    ("bad pull secret", ["--aws-profile", "perfci", "BADPULL"], "not valid JSON"),
    ("no aws credentials", ["NOCREDS"], "needs AWS credentials"),
    ("sts without role", ["--aws-profile", "perfci", "--sts-creds", "PULL"], "--sts-creds needs --role-arn"),
]


@pytest.mark.parametrize("why, extra, message", HYPERSHIFT_BAD, ids=[b[0] for b in HYPERSHIFT_BAD])
def test_hypershift_bad_input(scale_project, files, why, extra, message):
    kubeconfig = files["dir"] / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    args = ["tests_scale", "--platform", "hypershift", "--mgmt-kubeconfig", str(kubeconfig), "--pull-secret-file",
            str(files["pull"]), "--aws-account-file", str(files["creds"]), "--path", str(files["dir"] / "run")]
    if "BADPULL" in extra:
        bad = files["dir"] / "bad.json"
        bad.write_text("{not json")
        args[args.index(str(files["pull"]))] = str(bad)
    if "NOCREDS" in extra:
        i = args.index("--aws-account-file")
        del args[i:i + 2]
    extra = [str(files["pull"]) if e == "PULL" else e for e in extra if e not in ("BADPULL", "NOCREDS")]
    result = scale_project.runpytest_inprocess(*args, *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_unreachable_or_unauthorised_management_cluster_is_a_usage_error(scale_project, files, sim_world):
    world = sim_world("--no-cluster-config").dir  # the cluster cannot tell its base domain and region
    base = ["tests_scale", "--platform", "hypershift", "--pull-secret-file", str(files["pull"]), "--aws-account-file",
            str(files["creds"]), "--aws-profile", "perfci", "--base-domain", "x.example.com", "--region", "us-east-1",
            "--hypershift-cli", str(world / "bin" / "hypershift")]
    text = (world / "kubeconfig").read_text()
    wrong_token = files["dir"] / "wrong-token"
    wrong_token.write_text(re.sub(r"token: .*", "token: not-the-token", text))
    result = scale_project.runpytest_subprocess(*base, "--mgmt-kubeconfig", str(wrong_token),
                                                "--path", str(files["dir"] / "r1"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "refuses these credentials (401" in result.stderr.str()
    closed = files["dir"] / "closed"
    closed.write_text(re.sub(r"server: .*", "server: http://127.0.0.1:9", text))
    result = scale_project.runpytest_subprocess(*base, "--mgmt-kubeconfig", str(closed),
                                                "--path", str(files["dir"] / "r2"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot reach the management cluster API" in result.stderr.str()
    result = scale_project.runpytest_subprocess(*base[:-6], "--hypershift-cli", str(world / "bin" / "hypershift"),
                                                "--mgmt-kubeconfig", str(world / "kubeconfig"),
                                                "--path", str(files["dir"] / "r3"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--base-domain and --region needed" in result.stderr.str()
    for run in ("r1", "r2", "r3"):
        assert not list((files["dir"] / run).glob("perfsc-*")), "no cluster may be created"


# ------------------------------------------------------------------ a real run
def test_wrapper_invocation_runs_on_the_standalone_simulated_cluster(scale_project, files, sim_world):
    """The old wrapper's example invocation, translated to pytest with --platform hypershift.

    Only the simulated world's addresses are added (OCM URL, token URL, the stand-in CLIs)."""
    world = sim_world("--speed", "3000", "--ocm-cluster-name", "mgmt-cluster").dir
    info = json.loads((world / "world.json").read_text())
    token = (world / "ocm-token").read_text().strip()
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path),
        "--cluster-name-seed", "test", "--cluster-count", "3",
        "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci", "--ocm-token", token,
        "--pull-secret-file", str(world / "pull-secret.json"), "--mgmt-cluster", "mgmt-cluster",
        "--workers", "2,1,3", "--es-url", "https://127.0.0.1:9", "--es-index", "elastic-index", "--es-insecure",
        "--log-level", "DEBUG", "--cleanup-clusters", "--wildcard-options", "--network-type OVNKubernetes",
        "--add-cluster-load", "--cluster-load-jobs-per-worker", "50", "--cluster-load-job-distribution", "5",
        "--batch-size", "10", "--delay-between-batch", "60", "-n", "2",
        "--ocm-url", info["ocm_url"], "--ocm-token-url", info["ocm_token_url"], "--ocm-cli", str(world / "bin" / "ocm"),
        "--hypershift-cli", str(world / "bin" / "hypershift"), "--kube-burner-cli", str(world / "bin" / "kube-burner-ocp"),
        timeout=300)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["hcp-scale: platform hypershift: management cluster mgmt-cluster*"])
    data = summary(path)
    assert data["counts"]["destroyed"] == 3
    assert sorted(c["workers"] for c in data["clusters"]) == [1, 2, 3]
    name = data["clusters"][0]["name"]
    create_log = (path / name / "create.log").read_text()
    assert f"--aws-creds {path / 'aws_creds'}" in create_log
    assert "--additional-tags mgmt-cluster=mgmt-cluster,run-uuid=" in create_log
    assert create_log.splitlines()[0].endswith("--network-type OVNKubernetes")
    # the load: 50 jobs per worker, 5 % variation, reproducible; a load document per cluster
    for cluster in data["clusters"]:
        load = json.loads((path / cluster["name"] / "metadata_load.json").read_text())
        assert load["status"] == "success" and 0.95 * 50 * cluster["workers"] <= load["job_iterations"] <= \
            1.05 * 50 * cluster["workers"]
    mgmt_doc = json.loads((path / "mgmt_cluster.json").read_text())
    assert mgmt_doc["mgmt_cluster_name"] == "mgmt-cluster" and mgmt_doc["base_domain"] == "sim.hypershift.local"
    assert mgmt_doc["source"] == "ocm" and mgmt_doc["cluster_id"] == info["mgmt_cluster_id"]
    result.stdout.fnmatch_lines(["*warning: --ocm-token on the command line is visible*"])
    # Elasticsearch is down for the whole run: the run goes on and says how to upload later
    result.stdout.fnmatch_lines(["Elasticsearch https://127.0.0.1:9 index elastic-index: 0 of 10 documents "
                                 "uploaded, 10 pending",
                                 f"*upload them later with: pytest --es-index-only {path} *"])
    # the OCM token: only in the 0600 config file the ocm CLI reads, on no child's argv, in no log
    for file in path.rglob("*"):
        if file.is_file() and file.name != "ocm.json" and file.suffix != ".gz":
            assert token not in file.read_text(errors="replace"), file
    # credentials: only in the 0600 file the CLI reads, nowhere else
    creds_file = path / "aws_creds"
    assert oct(creds_file.stat().st_mode & 0o777) == "0o600"
    assert "[default]" in creds_file.read_text() and AWS_SECRET in creds_file.read_text()
    for file in path.rglob("*"):
        if file.is_file() and file != creds_file and file.suffix != ".gz":
            content = file.read_text(errors="replace")
            assert AWS_SECRET not in content and AWS_KEY_ID not in content, file
    assert AWS_SECRET not in result.stdout.str() + result.stderr.str()
    # the pull secret is passed as a path; its content appears nowhere in the run directory
    pull_auth = next(iter(json.loads((world / "pull-secret.json").read_text())["auths"].values()))["auth"]
    for file in path.rglob("*.log"):
        assert pull_auth not in file.read_text(errors="replace"), file


def test_machinepool_must_gather_all_and_mgmt_must_gather(scale_project, files, sim_world):
    world = sim_world("--speed", "3000").dir
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "1",
        "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
        "--pull-secret-file", str(world / "pull-secret.json"), "--mgmt-kubeconfig", str(world / "kubeconfig"),
        "--base-domain", "sim.hypershift.local", "--region", "us-east-1",
        "--hypershift-cli", str(world / "bin" / "hypershift"),
        "--machinepool-name", "infra", "--machinepool-replicas", "2", "--machinepool-wait",
        "--machinepool-labels", "node-role.kubernetes.io/infra=,team=perf",
        "--machinepool-taints", "role=infra:NoSchedule", "--must-gather-all", "--mgmt-must-gather",
        "--keep-clusters", "always", timeout=300)
    result.assert_outcomes(passed=1)
    cluster = summary(path)["clusters"][0]
    t = cluster["timings"]
    assert t["machinepool"] == f"{cluster['name']}-infra"
    assert t["machinepool_created"] <= t["machinepool_ready"] and t["machinepool_nodes_ready"]
    log = (path / cluster["name"] / "machinepool.log").read_text()
    assert f"create nodepool aws --cluster-name {cluster['name']} --name {cluster['name']}-infra" in log
    assert "--replicas 2 --instance-type m5.xlarge" in log
    if REFERENCE.exists():
        argv = log.splitlines()[0].split(" $ ", 1)[1]
        assert set(re.findall(r" (--[a-z-]+)", argv)) <= reference_flags("3.4")
    # passed, but dumped because of --must-gather-all
    assert (path / cluster["name"] / "dump" / "hypershift-dump.tar.gz").exists()
    gathered = (path / "mgmt-must-gather" / "clusters-nodepools.yaml").read_text()
    assert f"name: {cluster['name']}-infra" in gathered and "team: perf" in gathered
    assert "effect: NoSchedule" in gathered



def test_hypershift_cli_is_built_once_per_run_across_workers(scale_project, files, sim_world, monkeypatch):
    """Without --hypershift-cli the CLI is built from --hypershift-cli-version of --hypershift-repo, once."""
    import subprocess

    world = sim_world("--speed", "3000").dir
    repo = files["dir"] / "hypershift-src"
    repo.mkdir()
    (repo / "Makefile").write_text(
        "hypershift:\n"
        "\tmkdir -p bin\n"
        f"\tprintf '#!/bin/sh\\nexec {world / 'bin' / 'hypershift'} \"$$@\"\\n' > bin/hypershift\n"
        "\tchmod +x bin/hypershift\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "Makefile"], check=True)
    subprocess.run([*git, "commit", "-qm", "build"], check=True)
    monkeypatch.setenv("HCP_SCALE_CACHE_DIR", str(files["dir"] / "cache"))
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "4", "-n", "2",
        "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
        "--pull-secret-file", str(world / "pull-secret.json"), "--mgmt-kubeconfig", str(world / "kubeconfig"),
        "--base-domain", "sim.hypershift.local", "--region", "us-east-1",
        "--hypershift-repo", str(repo), "--hypershift-cli-version", "main", timeout=300)
    result.assert_outcomes(passed=4)
    record = json.loads((path / "cli-hypershift.json").read_text())
    assert record["source"] == "build" and record["detail"]["ref"] == "main"
    assert record["path"].startswith(str(files["dir"] / "cache"))
    assert record["version"].startswith("openshift/hypershift:")
    assert (path / "acquire.log").read_text().count("make hypershift") == 1
    pids = {e["pid"] for e in ledger(path) if e["event"] == "create_requested"}
    assert len(pids) == 2  # both workers ran clusters with the one build


def ocm_env(world: Path, monkeypatch) -> dict:
    info = json.loads((world / "world.json").read_text())
    token = (world / "ocm-token").read_text().strip()
    monkeypatch.setenv("OCM_TOKEN", token)
    return {"info": info, "token": token}


def test_mgmt_cluster_found_through_ocm_without_the_token_on_any_argv(scale_project, files, sim_world, monkeypatch):
    world = sim_world("--speed", "3000").dir
    ocm = ocm_env(world, monkeypatch)
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "1",
        "--mgmt-cluster", ocm["info"]["mgmt_cluster_name"], "--ocm-url", ocm["info"]["ocm_url"],
        "--ocm-token-url", ocm["info"]["ocm_token_url"], "--ocm-cli", str(world / "bin" / "ocm"),
        "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
        "--pull-secret-file", str(world / "pull-secret.json"), "--hypershift-cli", str(world / "bin" / "hypershift"),
        "--log-level", "DEBUG", timeout=300)
    result.assert_outcomes(passed=1)
    doc = json.loads((path / "mgmt_cluster.json").read_text())
    assert doc["cluster_id"] == ocm["info"]["mgmt_cluster_id"]
    assert doc["base_domain"] == "sim.hypershift.local" and doc["aws_region"] == "us-east-1"
    assert doc["source"] == "ocm" and doc["version"].startswith("4.17")
    # every page was searched (the management cluster is listed after 250 others)
    ocm_log = (path / "ocm.log").read_text()
    assert "--parameter page=3" in ocm_log and "/credentials" in ocm_log
    assert oct((path / "mgmt_kubeconfig").stat().st_mode & 0o777) == "0o600"
    assert oct((path / "ocm.json").stat().st_mode & 0o777) == "0o600"
    # the token lives only in the 0600 ocm config file
    for file in path.rglob("*"):
        if file.is_file() and file.name != "ocm.json" and file.suffix != ".gz":
            assert ocm["token"] not in file.read_text(errors="replace"), file
    assert ocm["token"] not in result.stdout.str() + result.stderr.str()


def test_unknown_mgmt_cluster_in_ocm_is_a_usage_error(scale_project, files, sim_world, monkeypatch):
    world = sim_world("--speed", "3000").dir
    ocm = ocm_env(world, monkeypatch)
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path),
        "--mgmt-cluster", "no-such-cluster", "--ocm-url", ocm["info"]["ocm_url"],
        "--ocm-token-url", ocm["info"]["ocm_token_url"], "--ocm-cli", str(world / "bin" / "ocm"),
        "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
        "--pull-secret-file", str(world / "pull-secret.json"), "--hypershift-cli", str(world / "bin" / "hypershift"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--mgmt-cluster no-such-cluster: no such cluster in OCM" in result.stderr.str()
    assert f"{ocm['info']['ocm_clusters']} clusters searched" in result.stderr.str()


def test_ocm_cli_is_downloaded_from_the_release_api(scale_project, files, sim_world, monkeypatch):
    """Without --ocm-cli the release named by --ocm-cli-version is downloaded (here from a local API)."""
    import hashlib

    from tests.test_acquire import FakeGitHub

    world = sim_world("--speed", "3000").dir
    ocm = ocm_env(world, monkeypatch)
    github = FakeGitHub()
    try:
        body = f"#!/bin/sh\nexec {world / 'bin' / 'ocm'} \"$@\"\n".encode()
        tag, name = "v1.0.15", "ocm-linux-amd64"
        github.routes[github.asset_path(tag, name)] = (200, body, "application/octet-stream")
        sha = f"{hashlib.sha256(body).hexdigest()}  {name}\n".encode()
        github.routes[github.asset_path(tag, name + ".sha256")] = (200, sha, "text/plain")
        release = {"tag_name": tag, "name": tag, "prerelease": False, "draft": False, "assets": [
            {"name": name, "size": len(body), "browser_download_url": github.base + github.asset_path(tag, name)},
            {"name": name + ".sha256", "size": len(sha),
             "browser_download_url": github.base + github.asset_path(tag, name + ".sha256")}]}
        github.routes[github.api(f"releases/tags/{tag}")] = (200, json.dumps(release).encode(), "application/json")
        monkeypatch.setenv("HCP_SCALE_CACHE_DIR", str(files["dir"] / "cache"))
        path = files["dir"] / "run"
        result = scale_project.runpytest_subprocess(
            "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "1",
            "--mgmt-cluster", ocm["info"]["mgmt_cluster_name"], "--ocm-url", ocm["info"]["ocm_url"],
            "--ocm-token-url", ocm["info"]["ocm_token_url"], "--ocm-cli-version", "1.0.15",
            "--github-api-url", github.base,
            "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
            "--pull-secret-file", str(world / "pull-secret.json"),
            "--hypershift-cli", str(world / "bin" / "hypershift"), timeout=300)
        result.assert_outcomes(passed=1)
        record = json.loads((path / "cli-ocm.json").read_text())
        assert record["source"] == "download" and record["detail"]["tag"] == "v1.0.15"
        assert record["version"] == "1.0.15"
        assert github.hits[github.asset_path(tag, name)] == 1
        unknown = scale_project.runpytest_subprocess(
            "tests_scale", "--platform", "hypershift", "--path", str(files["dir"] / "run2"),
            "--mgmt-cluster", ocm["info"]["mgmt_cluster_name"], "--ocm-url", ocm["info"]["ocm_url"],
            "--ocm-cli-version", "9.9.9", "--github-api-url", github.base,
            "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
            "--pull-secret-file", str(world / "pull-secret.json"))
        assert unknown.ret == pytest.ExitCode.USAGE_ERROR
        assert "9.9.9" in unknown.stderr.str() and "does not exist" in unknown.stderr.str()
    finally:
        github.close()


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference not present")
def test_ocm_argv_and_login_without_argv(tmp_path, monkeypatch):
    from plugins import mgmt, process

    calls = []

    def fake_run(argv, **kw):
        calls.append((list(argv), dict(kw["env"])))
        page = int([a for a in argv if a.startswith("page=")][0].split("=")[1]) if "--parameter" in argv else 1
        items = [{"id": f"id{page}", "name": "wanted" if page == 3 else f"other{page}"}]
        result = _ok(argv)
        result.stdout = json.dumps({"items": items, "total": 3, "page": page, "size": 1})
        return result

    monkeypatch.setattr(process, "run", fake_run)
    s = settings(ocm_token="offline-token-value", mgmt_cluster="wanted", ocm_url="https://api.stage.openshift.com")
    ocm = mgmt.Ocm("/bin/ocm", s, tmp_path)
    assert ocm.find_cluster("wanted")["id"] == "id3"
    assert [c[0][1:] for c in calls] == [
        ["get", "/api/clusters_mgmt/v1/clusters", "--parameter", f"page={p}", "--parameter", "size=100"]
        for p in (1, 2, 3)]
    assert {x for argv, _ in calls for x in argv if x.startswith("--")} <= reference_flags("5.1")
    for argv, env in calls:
        assert "offline-token-value" not in " ".join(argv)
        assert env["OCM_CONFIG"] == str(tmp_path / "ocm.json")
    config = json.loads((tmp_path / "ocm.json").read_text())
    assert config["refresh_token"] == "offline-token-value" and config["url"] == "https://api.stage.openshift.com"
    assert oct((tmp_path / "ocm.json").stat().st_mode & 0o777) == "0o600"


def test_base_domain_and_region_are_read_from_the_management_cluster(scale_project, files, sim_world):
    world = sim_world("--speed", "3000").dir
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "1",
        "--mgmt-kubeconfig", str(world / "kubeconfig"), "--hypershift-cli", str(world / "bin" / "hypershift"),
        "--pull-secret-file", str(world / "pull-secret.json"), "--aws-account-file", str(files["creds"]),
        "--aws-profile", "perfci", timeout=300)
    result.assert_outcomes(passed=1)
    info = json.loads((world / "world.json").read_text())
    doc = json.loads((path / "mgmt_cluster.json").read_text())
    assert (doc["base_domain"], doc["aws_region"]) == (info["base_domain"], info["region"])
    create_log = next(path.glob("perfsc-*/create.log")).read_text()
    assert f"--base-domain {info['base_domain']} --region {info['region']}" in create_log


def test_oidc_config_id_sets_the_issuer_url(scale_project, files, sim_world, monkeypatch):
    world = sim_world("--speed", "3000").dir
    ocm = ocm_env(world, monkeypatch)
    config_id = ocm["info"]["oidc_config_ids"][1]
    path = files["dir"] / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "1",
        "--mgmt-cluster", ocm["info"]["mgmt_cluster_name"], "--ocm-url", ocm["info"]["ocm_url"],
        "--ocm-token-url", ocm["info"]["ocm_token_url"], "--ocm-cli", str(world / "bin" / "ocm"),
        "--oidc-config-id", config_id, "--aws-account-file", str(files["creds"]), "--aws-profile", "perfci",
        "--pull-secret-file", str(world / "pull-secret.json"), "--hypershift-cli", str(world / "bin" / "hypershift"),
        timeout=300)
    result.assert_outcomes(passed=1)
    create_log = next(path.glob("perfsc-*/create.log")).read_text()
    issuer = re.search(r"--oidc-issuer-url (\S+)", create_log).group(1)
    assert issuer.endswith(config_id) and "--oidc-issuer-url" in reference_flags("3.1")
    missing = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(files["dir"] / "run2"),
        "--mgmt-kubeconfig", str(world / "kubeconfig"), "--oidc-config-id", "nope",
        "--ocm-url", ocm["info"]["ocm_url"], "--ocm-token-url", ocm["info"]["ocm_token_url"],
        "--ocm-cli", str(world / "bin" / "ocm"), "--aws-account-file", str(files["creds"]), "--aws-profile",
        "perfci", "--pull-secret-file", str(world / "pull-secret.json"))
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    assert "oidc_configs/nope failed" in missing.stderr.str()
