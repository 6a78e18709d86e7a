"""--platform rosa (plugins/rosa.py): the rosa argv against the reference, the run's setup, the shared
listing, and the whole lifecycle on the simulated world through its stand-in rosa CLI."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugins.kube import ApiError, oauth_login
from plugins.platform import ClusterSpec
from plugins.rundir import epoch_seconds
from plugins.rosa import (OPERATOR_PREFIX_MAX, Poller, RosaError, RosaPlatform, account_roles,
                          operator_roles_prefix, sim_faults, wait_listing)

DESCRIPTOR = {"kind": "rosa", "rosa_cli": "/usr/bin/rosa", "ocm_config": "/run/rosa/ocm.json",
              "subnet_ids": ["subnet-0a", "subnet-0b"], "oidc_config_id": "2f7c0oidc",
              "operator_roles_prefix": "hcp-scale-0123456789ab",
              "role_arn": "arn:aws:iam::111122223333:role/ManagedOpenShift-HCP-ROSA-Installer-Role",
              "support_role_arn": "arn:aws:iam::111122223333:role/ManagedOpenShift-HCP-ROSA-Support-Role",
              "worker_role_arn": "arn:aws:iam::111122223333:role/ManagedOpenShift-HCP-ROSA-Worker-Role",
              "poll_interval": 0.5, "state_dir": "/run/rosa", "secrets": []}


def settings(**over) -> SimpleNamespace:
    base = dict(uuid="0a1b2c3d-0000-4000-8000-000000000001", region=None, rosa_version=None, rosa_flavour=None,
                rosa_multi_az=False, expire=None, wildcard_options=[], sim_fail_clusters=[], sim_stuck_clusters=[],
                sim_destroy_fail_clusters=[], sim_degraded_clusters=[], sim_load_fail_clusters=[],
                sim_failure_rate=0.0)
    base.update(over)
    return SimpleNamespace(**base)


def flags(argv: list[str]) -> dict[str, str | None]:
    """``--flag value`` / ``--flag`` pairs of an argv (values are the next word unless it is a flag)."""
    out: dict[str, str | None] = {}
    for i, word in enumerate(argv):
        if word.startswith("-"):
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            out[word] = None if nxt is None or nxt.startswith("-") else nxt
    return out


# ------------------------------------------------------------------------ argv
def test_create_cluster_argv_follows_the_reference():
    spec = ClusterSpec(index=7, name="perfsc-h4i-0007", test_id="t", workers=3)
    argv = RosaPlatform(DESCRIPTOR).create_args(spec, settings())
    assert argv[:2] == ["create", "cluster"]
    f = flags(argv)
    # what the reference says a harness must always pass (§5.3, pitfall 12), and nothing interactive
    for flag in ("--hosted-cp", "--sts", "-y"):
        assert flag in f and f[flag] is None
    assert f["--cluster-name"] == "perfsc-h4i-0007" and f["--mode"] == "auto" and f["--color"] == "never"
    assert f["--subnet-ids"] == "subnet-0a,subnet-0b" and f["--oidc-config-id"] == "2f7c0oidc"
    assert f["--operator-roles-prefix"] == DESCRIPTOR["operator_roles_prefix"]
    assert f["--role-arn"].endswith("Installer-Role") and f["--support-role-arn"].endswith("Support-Role")
    assert f["--worker-iam-role"].endswith("Worker-Role")
    assert f["--replicas"] == "3" and f["-o"] == "json"
    assert f["--tags"] == "hcp-scale-run 0a1b2c3d-0000-4000-8000-000000000001, hcp-scale-index 7"
    assert not {"-i", "--interactive", "--watch", "-w", "--token", "--version", "--region", "--multi-az",
                "--expiration", "--compute-machine-type"} & set(f)


def test_optional_flags_and_wildcard_options_come_last():
    spec = ClusterSpec(index=1, name="perfsc-h4i-0001", test_id="t", workers=2)
    argv = RosaPlatform(DESCRIPTOR).create_args(spec, settings(
        region="us-east-2", rosa_version="4.17.3", rosa_flavour="m5.2xlarge", rosa_multi_az=True, expire=90,
        wildcard_options=["--private", "--worker-disk-size", "200GiB"]))
    f = flags(argv)
    assert f["--region"] == "us-east-2" and f["--version"] == "4.17.3"
    assert f["--compute-machine-type"] == "m5.2xlarge" and "--multi-az" in f
    assert f["--expiration"] == "90m"        # --expire is minutes; rosa takes a Go duration
    assert argv[-3:] == ["--private", "--worker-disk-size", "200GiB"]


def test_operator_roles_prefix_fits_rosa_and_names_the_run():
    prefix = operator_roles_prefix("0a1b2c3d-0000-4000-8000-000000000001")
    assert prefix == "hcp-scale-0a1b2c3d0000" and len(prefix) <= OPERATOR_PREFIX_MAX


def test_account_roles_picks_the_hcp_set_of_the_default_prefix():
    listing = [{"RoleType": "Installer", "RoleARN": "arn:aws:iam::1:role/ManagedOpenShift-Installer-Role"},
               {"RoleType": "Installer", "RoleARN": "arn:aws:iam::1:role/Other-HCP-ROSA-Installer-Role"},
               {"RoleType": "Installer", "RoleARN": "arn:aws:iam::1:role/ManagedOpenShift-HCP-ROSA-Installer-Role"},
               {"RoleType": "Support", "RoleARN": "arn:aws:iam::1:role/ManagedOpenShift-HCP-ROSA-Support-Role"},
               {"RoleType": "Worker", "RoleARN": "arn:aws:iam::1:role/ManagedOpenShift-HCP-ROSA-Worker-Role"}]
    roles = account_roles(listing)
    assert roles == {"installer": "arn:aws:iam::1:role/ManagedOpenShift-HCP-ROSA-Installer-Role",
                     "support": "arn:aws:iam::1:role/ManagedOpenShift-HCP-ROSA-Support-Role",
                     "worker": "arn:aws:iam::1:role/ManagedOpenShift-HCP-ROSA-Worker-Role"}
    with pytest.raises(RosaError, match="no HCP support, worker account role"):
        account_roles(listing[:3])


def test_children_get_the_runs_config_and_profile_never_the_token(monkeypatch):
    monkeypatch.setenv("OCM_TOKEN", "offline")
    monkeypatch.setenv("ROSA_TOKEN", "offline")
    rosa = RosaPlatform({**DESCRIPTOR, "aws_profile": "perfci", "sim_faults": {"fail_clusters": [2]}}).rosa
    env = rosa.env()
    assert env["OCM_CONFIG"] == "/run/rosa/ocm.json" and env["AWS_PROFILE"] == "perfci"
    assert "OCM_TOKEN" not in env and "ROSA_TOKEN" not in env
    assert json.loads(env["HCP_SIM_FAULTS"]) == {"fail_clusters": [2]}


def test_sim_faults_are_the_worlds_fault_sets():
    assert sim_faults(settings()) is None
    assert sim_faults(settings(sim_fail_clusters=[2], sim_failure_rate=0.25)) == \
        {"fail_clusters": [2], "failure_rate": 0.25}


# --------------------------------------------------------------- the listing
def test_states_map_to_the_watchers_four():
    assert [Poller.classify({"state": s}) for s in ("waiting", "pending", "installing", "ready", "error",
                                                    "uninstalling", "")] == \
        ["installing", "installing", "installing", "ready", "failed", "deleting", "installing"]


def test_wait_listing_reads_each_rewrite_and_times_out_naming_the_last_error(tmp_path):
    path = tmp_path / "clusters.json"
    path.write_text(json.dumps({"seq": 1, "clusters": {}}))

    def later():
        time.sleep(0.3)
        path.write_text(json.dumps({"seq": 2, "clusters": {"c1": {"state": "ready"}}}))

    threading.Thread(target=later, daemon=True).start()
    got = wait_listing(tmp_path, lambda l: (l["clusters"].get("c1") or {}).get("state") == "ready" or None,
                       time.monotonic() + 10, "c1 ready", check_every=0.05)
    assert got is True
    path.write_text(json.dumps({"seq": 3, "error": "rosa list clusters exited 1: boom", "clusters": {}}))
    with pytest.raises(Exception, match="last listing failed: rosa list clusters exited 1: boom"):
        wait_listing(tmp_path, lambda l: None, time.monotonic() + 0.3, "c2 ready", check_every=0.05)


# --------------------------------------------------------------- OAuth login
class _OAuth(BaseHTTPRequestHandler):
    accept_after = 2          # the first logins answer 401, as a new cluster admin does for a while
    calls = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == "/.well-known/oauth-authorization-server":
            body = json.dumps({"issuer": base, "authorization_endpoint": base + "/oauth/authorize",
                               "token_endpoint": base + "/oauth/token"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        good = self.headers.get("Authorization") == "Basic Y2x1c3Rlci1hZG1pbjpzM2NyZXQ="   # cluster-admin:s3cret
        type(self).calls += 1
        if (self.path.startswith("/oauth/authorize?") and "client_id=openshift-challenging-client" in self.path
                and self.headers.get("X-CSRF-Token") and good and type(self).calls > self.accept_after):
            self.send_response(302)
            self.send_header("Location", base + "/oauth/token/implicit#access_token=sha256~abc%2Bd&expires_in=86400"
                                                "&token_type=Bearer")
        else:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="openshift"')
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_oauth_login_is_the_challenging_client_flow_of_oc_login():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OAuth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for _ in range(_OAuth.accept_after):
            with pytest.raises(ApiError) as err:
                oauth_login(url, "cluster-admin", "s3cret")
            assert err.value.status == 401
        assert oauth_login(url, "cluster-admin", "s3cret") == "sha256~abc+d"
        with pytest.raises(ApiError):
            oauth_login(url, "cluster-admin", "wrong")
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------- on the simulated world
def rosa_run(scale_project, world: Path, path: Path, *args: str, timeout: float = 300):
    info = json.loads((world / "world.json").read_text())
    return scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "rosa", "--path", str(path), "--rosa-cli", str(world / "bin" / "rosa"),
        "--rosa-subnet-ids", ",".join(info["rosa_subnet_ids"]), "--rosa-poll-interval", "0.3", *args,
        timeout=timeout)


def rosa_cli(world: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(world / "bin" / "rosa"), *args], env={**os.environ, "OCM_CONFIG": str(config)},
                          capture_output=True, text=True, timeout=60)


def test_the_rosa_lifecycle_on_the_simulated_world(scale_project, sim_world, monkeypatch):
    world = sim_world("--speed", "3000").dir
    token = (world / "ocm-token").read_text().strip()
    monkeypatch.setenv("OCM_TOKEN", token)
    path = scale_project.path / "run"
    result = rosa_run(scale_project, world, path, "--cluster-count", "3", "-n", "3", "--sim-fail-clusters", "2",
                      "--expire", "120", "--rosa-version", "4.17.3", "--workers", "2")
    result.assert_outcomes(passed=2, errors=1)
    summary = json.loads((path / "summary.json").read_text())
    by_index = {c["index"]: c for c in summary["clusters"]}
    assert [by_index[i]["final"] for i in (1, 2, 3)] == ["destroyed", "kept", "destroyed"]
    assert "ROSA reports state error" in by_index[2]["error"]
    # one argv per cluster, as the reference wants it, never a token
    create = (Path(by_index[1]["folder"]) / "create.log").read_text()
    assert "create cluster --cluster-name " + by_index[1]["name"] in create and "--hosted-cp" in create
    assert "--expiration 120m" in create and "--version 4.17.3" in create
    # readiness: the states each listing showed, the nodes from the guest, the API's creation time
    t = by_index[1]["timings"]
    assert t["cluster_id"] and t["hc_created"] and t["workers_ready"] and t["workers_ready_count"] == 2
    at = {k: epoch_seconds(t[k]) for k in ("hc_created", "rosa_installing", "rosa_ready", "install_completed",
                                           "workers_ready", "ready")}
    assert at["rosa_installing"] <= at["rosa_ready"] == at["install_completed"] <= at["ready"]
    assert at["hc_created"] <= at["rosa_installing"] and at["workers_ready"] <= at["ready"]
    assert t["state_poll_interval_s"] == 0.3
    states = [json.loads(line) for line in (path / "rosa" / "states.jsonl").read_text().splitlines()]
    mine = [s["state"] for s in states if s["cluster"] == by_index[1]["name"]]
    assert mine[-1] == "gone" and mine.index("installing") < mine.index("ready") < len(mine) - 1
    assert oct((Path(by_index[1]["folder"]) / "kubeconfig").stat().st_mode & 0o777) == "0o600"
    # the failed cluster: kept, with ROSA's install logs and its description
    failed = Path(by_index[2]["folder"])
    assert (failed / "dump" / "install.log").read_text().strip()
    assert json.loads((failed / "dump" / "cluster.json").read_text())["state"] == "error"
    # the run's OIDC config and operator roles stay while a cluster of the run is kept
    setup = json.loads((path / "rosa" / "setup.json").read_text())
    assert set(setup["created"]) == {"oidc_config_id", "operator_roles_prefix"} and set(setup["left"]) == set(
        setup["created"]) and not setup["removed"]
    result.stdout.fnmatch_lines([f"  pytest tests_scale --only-delete-clusters --path {path} --platform rosa --rosa-cli "
                                 f"{world / 'bin' / 'rosa'} --rosa-subnet-ids subnet-* --rosa-poll-interval 0.3",
                                 "ROSA oidc config id * kept (1 cluster(s) of the run remain*",
                                 "  rosa delete oidc-config --oidc-config-id * --mode auto -y"])
    # the documents say where their times come from; the admin's generated password is in no file
    doc = json.loads((Path(by_index[1]["folder"]) / "metadata_install.json").read_text())
    assert doc["install_method"] == "rosa" and doc["cluster_id"] == t["cluster_id"]
    assert doc["rosa_ready"] == t["rosa_ready"] and doc["state_poll_interval_s"] == 0.3 and doc["install_s"] > 0
    assert '"password"' not in (Path(by_index[1]["folder"]) / "admin.log").read_text()
    config = path / "rosa" / "ocm.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    # the token: in the 0600 config file only
    for file in path.rglob("*"):
        if file.is_file() and file != config:
            assert token not in file.read_text(errors="replace"), file
    assert token not in result.stdout.str() + result.stderr.str()

    # deleting what is left: the kept cluster, then the run's OIDC config and operator roles
    again = rosa_run(scale_project, world, path, "--only-delete-clusters")
    again.assert_outcomes(passed=1)
    setup = json.loads((path / "rosa" / "setup.json").read_text())
    assert set(setup["removed"]) == {"oidc_config_id", "operator_roles_prefix"} and not setup["left"]
    listed = rosa_cli(world, config, "list", "clusters", "-o", "json")
    assert by_index[2]["name"] not in listed.stdout
    oidc = rosa_cli(world, config, "list", "oidc-config", "-o", "json")
    assert setup["created"]["oidc_config_id"] not in oidc.stdout


def test_addons_a_machine_pool_and_the_users_own_oidc_config(scale_project, sim_world, monkeypatch):
    world = sim_world("--speed", "3000").dir
    monkeypatch.setenv("OCM_TOKEN", (world / "ocm-token").read_text().strip())
    managed_oidc = json.loads((world / "world.json").read_text())["oidc_config_ids"][0]
    path = scale_project.path / "run"
    result = rosa_run(scale_project, world, path, "--cluster-count", "1", "--workers", "2",
                      "--rosa-addons", "cluster-logging-operator", "--machinepool-name", "extra",
                      "--machinepool-replicas", "2", "--machinepool-wait", "--rosa-init", "--rosa-env", "staging",
                      "--oidc-config-id", managed_oidc, "--aws-profile", "perfci", "--add-cluster-load",
                      "--kube-burner-cli", str(world / "bin" / "kube-burner-ocp"), "--cluster-load-duration", "30s")
    result.assert_outcomes(passed=1)
    setup_log = (path / "rosa" / "setup.log").read_text()
    assert "rosa login --env staging" in setup_log and "rosa init" in setup_log
    assert "create oidc-config" not in setup_log
    assert f"--oidc-config-id {managed_oidc}" in setup_log        # the run's operator roles use the user's config
    cluster = json.loads((path / "summary.json").read_text())["clusters"][0]
    t = cluster["timings"]
    assert t["addons"] == "cluster-logging-operator" and t["addons_s"] > 0
    assert epoch_seconds(t["addons_ready"]) <= epoch_seconds(t["ready"])
    assert t["machinepool"] == "extra" and t["machinepool_nodes_ready"]
    # the load ran on the guest through the kubeconfig the OAuth login gave
    assert t["load_status"] == "success" and t["load_mgmt_metrics"] is False
    log = (Path(cluster["folder"]) / "machinepool.log").read_text()
    assert "create machinepool -c " + cluster["name"] + " --name extra --replicas 2" in log
    assert "--labels node-role.kubernetes.io/workload=" in log and "--taints role=workload:NoSchedule" in log
    # the run's operator roles are gone with its last cluster; the user's OIDC config stays
    setup = json.loads((path / "rosa" / "setup.json").read_text())
    assert setup["given"] == {"oidc_config_id": managed_oidc} and set(setup["removed"]) == {"operator_roles_prefix"}
    assert "delete oidc-config" not in (path / "rosa" / "setup.log").read_text()


def test_sim_faults_need_the_simulated_rosa(scale_project, tmp_path, monkeypatch):
    """A rosa that does not say it is the simulated one: --sim-* faults are a usage error, nothing is created."""
    fake = tmp_path / "rosa"
    calls = tmp_path / "calls"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\ncase \"$1\" in version) echo 'INFO: 1.2.64';; esac\n"
                    "exit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("OCM_TOKEN", "offline-t0ken")
    path = tmp_path / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "rosa", "--rosa-cli", str(fake), "--rosa-subnet-ids", "subnet-1,subnet-2",
        "--path", str(path), "--sim-fail-clusters", "1", "--cluster-count", "1", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--sim-* faults need a simulated world" in result.stderr.str()
    assert [line.split()[0] for line in calls.read_text().splitlines()] == ["version", "login", "version"]
    assert "offline-t0ken" not in calls.read_text()
