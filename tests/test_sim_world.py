"""Tests of the simulated world: duration model, operator, stand-in CLI, serve/restore.

The world runs as a real subprocess (``python -m sim serve``) at a high speed;
everything is checked from outside, through the kubernetes client and the
stand-in ``hypershift`` binary, as a harness would.  The last test repeats the
create -> ready -> destroy flow against a real kube-apiserver with HyperShift's
own CRDs (only when ``KUBEBUILDER_ASSETS`` is set).
"""
from __future__ import annotations

import base64
import json
import os
import signal
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from sim import model
from tests.simworld import RELEASE, SimWorld, wait_for

ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = ROOT.parent / "shared" / "reference" / "crds"
GROUP, VERSION = "hypershift.openshift.io", "v1beta1"
SPEED = 2000


# =================================================================== model
class TestModel:
    def test_install_order(self):
        for name in ("perf-0001", "perf-0002", "x", "scale-0042"):
            plan = model.plan_install(name, 7, {f"{name}-us-east-1a": 3, f"{name}-us-east-1b": 2})
            cp = plan.control_plane
            assert 0 < cp.hcp_created < cp.infrastructure_ready < cp.etcd_available < cp.kas_available \
                < cp.control_plane_available
            assert 300 <= cp.control_plane_available <= 480
            for np_name, pool in plan.nodepools.items():
                readies = [n.ready for n in pool.nodes]
                assert readies == sorted(readies) and len(set(readies)) == len(readies)
                assert all(0 < n.join < n.ready for n in pool.nodes)
                assert 240 <= pool.nodes[0].ready <= 420
                assert pool.ready > pool.nodes[-1].ready
            assert plan.install_completed - max(plan.nodepool_ready.values()) >= 120
            assert plan.install_completed - max(plan.nodepool_ready.values()) <= 240

    def test_no_workers_never_completes(self):
        plan = model.plan_install("perf-0001", 1, {"perf-0001-us-east-1a": 0})
        assert plan.install_completed is None and plan.nodepools["perf-0001-us-east-1a"].ready is None

    def test_reproducible(self):
        a = model.plan_install("perf-0001", 42, {"p": 3})
        assert a == model.plan_install("perf-0001", 42, {"p": 3})
        assert a != model.plan_install("perf-0001", 43, {"p": 3})
        assert a.control_plane != model.plan_install("perf-0002", 42, {"p": 3}).control_plane
        assert model.plan_cli_create("c", 1) == model.plan_cli_create("c", 1)
        assert 60 <= model.plan_cli_create("c", 1).total <= 120
        assert 60 <= model.plan_cli_destroy("c", 1).total <= 120
        assert 180 <= model.plan_control_plane_teardown("c", 1) <= 300

    def test_contention(self):
        assert model.contention_factor(1) == 1.0
        assert model.contention_factor(0) == 1.0
        assert model.contention_factor(11) == pytest.approx(1.10)
        one = model.plan_install("perf-0001", 3, {"p": 2}, concurrent_installs=1)
        many = model.plan_install("perf-0001", 3, {"p": 2}, concurrent_installs=51)
        assert many.control_plane.control_plane_available == pytest.approx(
            one.control_plane.control_plane_available * 1.5)
        assert many.install_completed == pytest.approx(one.install_completed * 1.5)
        assert model.plan_cli_create("c", 1, 101).total == pytest.approx(model.plan_cli_create("c", 1).total * 2)

    def test_speed(self):
        assert model.real_seconds(600, 100) == 6.0
        with pytest.raises(ValueError):
            model.real_seconds(1, 0)
        t = model.typical_totals()
        assert 900 < t.install < 1300 and 60 <= t.cli_create <= 120

    def test_faults(self):
        assert model.cluster_index("perf-0007") == 7
        assert model.cluster_index("a-b-12") == 12
        assert model.cluster_index("nodigits") is None
        f = model.Faults.make(fail_clusters=[3], stuck_clusters=[4], destroy_fail_clusters=[5])
        assert f.install_fails("perf-0003", 0) and not f.install_fails("perf-0004", 0)
        assert f.stuck("perf-0004") and f.destroy_fails("perf-0005") and not f.destroy_fails("perf-0003")
        assert model.Faults.from_dict(f.to_dict()) == f
        assert not model.Faults.make(failure_rate=0.0).install_fails("perf-0001", 1)
        assert model.Faults.make(failure_rate=1.0).install_fails("perf-0001", 1)
        half = model.Faults.make(failure_rate=0.3)
        picks = [half.install_fails(f"perf-{i:04d}", 9) for i in range(2000)]
        assert picks == [half.install_fails(f"perf-{i:04d}", 9) for i in range(2000)]
        assert 0.25 < sum(picks) / len(picks) < 0.35
        with pytest.raises(ValueError):
            model.Faults.make(failure_rate=1.5)

    def test_failure_modes_are_terminal(self):
        terminal = {("InfrastructureReady", "InfraStatusFailure"), ("ValidAWSIdentityProvider", "InvalidIAMRole")}
        for i in range(50):
            ctype, reason, message = model.failure_mode(f"perf-{i:04d}", 1, "infra-x")
            assert (ctype, reason) in terminal and message
        assert model.failure_mode("perf-0001", 1) == model.failure_mode("perf-0001", 1)


class TestUnits:
    def test_work_queue_timers(self):
        from sim.operator import WorkQueue

        q = WorkQueue()
        t0 = time.monotonic()
        q.add_at("b", t0 + 0.10)
        q.add_at("a", t0 + 0.05)
        q.add_at("a", t0 + 0.50)  # later timer for a key with an earlier one: dropped
        assert q.get() == "a"
        assert time.monotonic() - t0 >= 0.05
        q.add("a")                 # re-added while processing: runs again after done()
        q.done("a")
        assert q.get() == "a"
        q.done("a")
        assert q.get() == "b"
        q.done("b")
        q.close()
        assert q.get() is None

    def test_merge_conditions_keeps_transition_times(self):
        from sim.operator import merge_conditions

        c1, flipped = merge_conditions([], [("Available", "False", "Waiting", "w")], 1, "2026-01-01T00:00:00Z")
        assert flipped == {"Available"}
        c2, flipped = merge_conditions(c1, [("Available", "False", "Other", "x")], 2, "2026-01-01T00:01:00Z")
        assert not flipped and c2[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
        assert c2[0]["observedGeneration"] == 2 and c2[0]["reason"] == "Other"
        c3, flipped = merge_conditions(c2, [("Available", "True", "AsExpected", "")], 2, "2026-01-01T00:02:00Z")
        assert flipped == {"Available"} and c3[0]["lastTransitionTime"] == "2026-01-01T00:02:00Z"

    def test_release_parsing_and_durations(self):
        from sim.operator import kubelet_version, parse_release
        from sim.standin.hypershift import format_duration, parse_duration

        assert parse_release(RELEASE) == ("4.17.3", "AMD64")
        assert parse_release("quay.io/x/ocp-release:4.18.0-rc.2-multi") == ("4.18.0-rc.2", "Multi")
        assert parse_release("quay.io/x/ocp-release@sha256:abc", "4.16.1") == ("4.16.1", "AMD64")
        assert kubelet_version("4.17.3") == "v1.30.5" and kubelet_version("4.20.0").startswith("v1.33.")
        assert parse_duration("10m") == 600 and parse_duration("1h30m") == 5400 and parse_duration("0") == 0
        assert parse_duration("1.5s") == 1.5 and parse_duration("250ms") == 0.25
        for bad in ("5", "1x", ""):
            with pytest.raises(ValueError):
                parse_duration(bad)
        assert [format_duration(x) for x in (0, 2, 90, 600, 3600)] == ["0s", "2s", "1m30s", "10m0s", "1h0m0s"]


# =========================================================== world helpers
def kube(kubeconfig: str):
    import urllib3
    from kubernetes import client, config

    urllib3.disable_warnings()
    api = config.new_client_from_config(config_file=kubeconfig)
    return client.CustomObjectsApi(api), client.CoreV1Api(api)


def cond(obj: dict, ctype: str) -> dict:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c
    return {}


def get_hc(custom, name, ns="clusters"):
    from kubernetes.client.rest import ApiException

    try:
        return custom.get_namespaced_custom_object(GROUP, VERSION, ns, "hostedclusters", name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def rolled_out(hc: dict | None) -> bool:
    """§1.7 'fully rolled out'."""
    if not hc:
        return False
    st = hc.get("status") or {}
    hist = (st.get("version") or {}).get("history") or []
    return (cond(hc, "Available").get("status") == "True" and cond(hc, "Progressing").get("status") == "False"
            and bool(hist) and hist[0]["image"] == st["version"]["desired"]["image"]
            and hist[0]["state"] == "Completed" and bool(hist[0].get("completionTime")))


def terminal_failure(hc: dict | None) -> dict | None:
    """§1.7 'failed/stuck' heuristics."""
    for ctype, reason in (("InfrastructureReady", "InfraStatusFailure"), ("ValidAWSIdentityProvider", None),
                          ("ValidConfiguration", None), ("ValidReleaseImage", None)):
        c = cond(hc or {}, ctype)
        if c.get("status") == "False" and (reason is None or c.get("reason") == reason):
            return c
    return None


def nodepool_ready(np: dict) -> bool:
    """§2.4 practical predicate."""
    st = np.get("status") or {}
    return (cond(np, "Ready").get("status") == "True" and cond(np, "AllMachinesReady").get("status") == "True"
            and cond(np, "AllNodesHealthy").get("status") == "True"
            and st.get("replicas") == np["spec"]["replicas"]
            and cond(np, "UpdatingVersion").get("status") == "False"
            and cond(np, "UpdatingConfig").get("status") == "False")


def transitions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def json_logs(stderr: str) -> list[dict]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("simworld")
    w = SimWorld(base / "world", "--speed", str(SPEED), "--seed", "5", "--fail-clusters", "2",
                 "--destroy-fail-clusters", "3", "--stuck-clusters", "4", "--cli-crash-clusters", "61",
                 "--cli-crash-early-clusters", "62", "--cli-hang-clusters", "63", "--degraded-clusters", "64").start()
    yield w
    w.stop()


# ============================================================ world: tests
def test_world_files(world):
    d = world.dir
    assert "SIMULATED" in world.banner and world.kubeconfig in world.banner
    for f in ("kubeconfig", "pull-secret.json"):
        assert (d / f).stat().st_mode & 0o777 == 0o600
    assert os.access(d / "bin" / "hypershift", os.X_OK)
    assert (d / "bin" / "hypershift").read_text().startswith(f"#!{sys.executable}\n")
    assert json.loads((d / "pull-secret.json").read_text())["auths"]
    for key in ("speed", "seed", "faults", "base_domain", "region", "release_image", "mgmt_url", "guest_url", "pid",
                "kubeconfig", "hypershift", "transitions"):
        assert key in world.world, key
    assert world.world["faults"]["fail_clusters"] == [2] and world.world["speed"] == SPEED
    assert (d / "transitions.jsonl").exists() and (d / "sim.log").exists()
    assert json.loads((d / "ready").read_text())["pid"] == world.proc.pid


CONFIG_GROUP = "config.openshift.io"


def cluster_config(kubeconfig: str) -> dict:
    """What a client reads of OpenShift's cluster config: {plural: object or None (404)}."""
    from kubernetes.client.rest import ApiException

    custom, _ = kube(kubeconfig)
    out = {}
    for plural in ("dnses", "infrastructures"):
        try:
            out[plural] = custom.get_cluster_custom_object(CONFIG_GROUP, "v1", plural, "cluster")
        except ApiException as exc:
            assert exc.status == 404, exc
            out[plural] = None
    return out


def config_discovery(kubeconfig: str) -> dict:
    import requests

    kc = yaml.safe_load(Path(kubeconfig).read_text())
    server, token = kc["clusters"][0]["cluster"]["server"], kc["users"][0]["user"]["token"]
    groups = requests.get(f"{server}/apis", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    assert CONFIG_GROUP in [g["name"] for g in groups["groups"]]
    r = requests.get(f"{server}/apis/{CONFIG_GROUP}/v1", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    data = r.json()
    assert r.status_code == 200 and data["groupVersion"] == f"{CONFIG_GROUP}/v1"
    return {x["name"]: x for x in data["resources"]}


def test_cluster_config_objects(world):
    """The management cluster's base domain and region, read as on a real OpenShift cluster."""
    assert world.world["cluster_config"] is True
    res = config_discovery(world.kubeconfig)
    assert res["dnses"]["kind"] == "DNS" and res["infrastructures"]["kind"] == "Infrastructure"
    assert res["dnses"]["namespaced"] is False and res["infrastructures"]["namespaced"] is False
    assert "dnses/status" in res and "infrastructures/status" in res
    objs = cluster_config(world.kubeconfig)
    dns, infra = objs["dnses"], objs["infrastructures"]
    assert dns["apiVersion"] == f"{CONFIG_GROUP}/v1" and dns["kind"] == "DNS"
    assert dns["spec"]["baseDomain"] == world.world["base_domain"]
    assert infra["kind"] == "Infrastructure"
    st = infra["status"]
    assert st["platformStatus"] == {"type": "AWS", "aws": {"region": world.world["region"]}}
    assert st["platform"] == "AWS" and st["infrastructureName"]
    assert st["infrastructureName"] in dns["spec"]["privateZone"]["tags"]["Name"]
    # status belongs to the status subresource: a write to the main resource leaves it alone
    custom, _ = kube(world.kubeconfig)
    after = custom.patch_cluster_custom_object(CONFIG_GROUP, "v1", "infrastructures", "cluster",
                                               {"status": {"platformStatus": {"aws": {"region": "xx-nowhere-1"}}}})
    assert after["status"] == st


def test_cluster_config_absent_with_no_cluster_config(tmp_path):
    """``--no-cluster-config``: the types are served (discovery) but the objects cannot be read; a restored
    state that holds them loses them, and a restart without the flag creates them again."""
    d = tmp_path / "world"
    w = SimWorld(d, "--speed", str(SPEED), "--ocm-decoys", "3", "--no-cluster-config").start()
    try:
        assert w.world["cluster_config"] is False
        assert {"dnses", "infrastructures"} <= set(config_discovery(w.kubeconfig))
        assert cluster_config(w.kubeconfig) == {"dnses": None, "infrastructures": None}
    finally:
        w.stop()
    w.restart("--speed", str(SPEED), "--ocm-decoys", "3", "--base-domain", "other.example", "--region", "eu-west-1")
    try:
        objs = cluster_config(w.kubeconfig)
        assert objs["dnses"]["spec"]["baseDomain"] == "other.example"
        assert objs["infrastructures"]["status"]["platformStatus"]["aws"]["region"] == "eu-west-1"
    finally:
        w.stop()
    w.restart("--speed", str(SPEED), "--ocm-decoys", "3", "--no-cluster-config")
    try:
        assert cluster_config(w.kubeconfig) == {"dnses": None, "infrastructures": None}
    finally:
        w.stop()


MON, PROM = "openshift-monitoring", "prometheus-k8s"


def monitoring(kubeconfig: str) -> dict:
    """openshift-monitoring/prometheus-k8s as a client sees it: {"route": obj or None, "sa": obj or None}."""
    from kubernetes.client.rest import ApiException

    custom, core = kube(kubeconfig)
    out = {}
    for what, read in (("route", lambda: custom.get_namespaced_custom_object("route.openshift.io", "v1", MON,
                                                                              "routes", PROM)),
                       ("sa", lambda: core.read_namespaced_service_account(PROM, MON).to_dict())):
        try:
            out[what] = read()
        except ApiException as exc:
            assert exc.status == 404, exc
            out[what] = None
    return out


def prometheus_token(kubeconfig: str, seconds: int = 600) -> str:
    from kubernetes import client

    _, core = kube(kubeconfig)
    body = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                              expiration_seconds=seconds))
    return core.create_namespaced_service_account_token(PROM, MON, body).status.token


def test_mgmt_monitoring_objects(world):
    """The management cluster's Prometheus, found as on a real OpenShift cluster: the route
    openshift-monitoring/prometheus-k8s on the base domain of dnses/cluster, and a TokenRequest token."""
    import requests

    assert world.world["mgmt_monitoring"] is True
    assert world.world["prometheus_url_template"] == world.world["guest_url"] + "/prometheus/{host}"
    domain = cluster_config(world.kubeconfig)["dnses"]["spec"]["baseDomain"]
    host = f"prometheus-k8s-openshift-monitoring.apps.{domain}"
    objs = monitoring(world.kubeconfig)
    spec = objs["route"]["spec"]
    assert spec["host"] == host and spec["path"] == "/api"
    assert spec["to"] == {"kind": "Service", "name": PROM, "weight": 100}
    assert spec["port"] == {"targetPort": "web"} and spec["tls"]["termination"] == "reencrypt"
    [ingress] = objs["route"]["status"]["ingress"]
    assert ingress["host"] == host and ingress["routerName"] == "default"
    assert {"type": "Admitted", "status": "True"}.items() <= ingress["conditions"][0].items()
    assert objs["sa"]["metadata"]["name"] == PROM
    url = world.world["prometheus_url_template"].format(host=host) + "/api/v1/query"
    token = prometheus_token(world.kubeconfig)
    r = requests.post(url, data={"query": "up"}, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "success" and r.json()["data"]["result"]
    assert requests.post(url, data={"query": "up"}, timeout=5).status_code == 401
    assert requests.post(url, data={"query": "up"}, headers={"Authorization": f"Bearer {world.world['pid']}"},
                         timeout=5).status_code == 401


def test_no_mgmt_monitoring_and_no_guest_monitoring(tmp_path):
    """``--no-mgmt-monitoring``/``--no-guest-monitoring``: no route or service account on the management API
    nor in a hosted cluster; a restart without the flags creates them (the hosted cluster's on its own base
    domain), a restart with them removes them again."""
    d = tmp_path / "world"
    args = ("--speed", str(SPEED), "--ocm-decoys", "3")
    w = SimWorld(d, *args, "--no-mgmt-monitoring", "--no-guest-monitoring").start()
    try:
        assert w.world["mgmt_monitoring"] is False and w.world["guest_monitoring"] is False
        assert monitoring(w.kubeconfig) == {"route": None, "sa": None}
        r = w.cli(*w.create_args("perf-0001", 1))
        assert r.returncode == 0, r.stderr
        _, core = kube(w.kubeconfig)

        def secret():
            from kubernetes.client.rest import ApiException

            try:
                return core.read_namespaced_secret("perf-0001-admin-kubeconfig", "clusters")
            except ApiException as exc:
                assert exc.status == 404
                return None

        guest_kc = tmp_path / "guest.kubeconfig"
        guest_kc.write_bytes(base64.b64decode(wait_for(secret, 30, "admin kubeconfig").data["kubeconfig"]))
        assert monitoring(str(guest_kc)) == {"route": None, "sa": None}
    finally:
        w.stop()
    w.restart(*args)
    try:
        assert w.world["mgmt_monitoring"] is True
        assert monitoring(w.kubeconfig)["route"]["spec"]["host"] == \
            f"prometheus-k8s-openshift-monitoring.apps.{w.world['base_domain']}"
        guest = wait_for(lambda: monitoring(str(guest_kc))["route"], 30, "guest route")
        assert guest["spec"]["host"] == f"prometheus-k8s-openshift-monitoring.apps.perf-0001.{w.world['base_domain']}"
        assert monitoring(str(guest_kc))["sa"]["metadata"]["namespace"] == MON
        assert prometheus_token(str(guest_kc))
    finally:
        w.stop()
    w.restart(*args, "--no-mgmt-monitoring")
    try:
        assert monitoring(w.kubeconfig) == {"route": None, "sa": None}
        assert monitoring(str(guest_kc))["route"] is not None        # guest monitoring still on
    finally:
        w.stop()


def test_cli_flags_and_version(world, tmp_path):
    r = world.cli("create", "cluster", "aws", "--bogus", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == "unknown flag: --bogus"
    r = world.cli("destroy", "cluster", "aws")
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == 'required flag(s) "name" not set'
    r = world.cli("dump", "cluster", "--name", "x")
    assert r.returncode == 1 and 'required flag(s) "artifact-dir" not set' in r.stderr
    r = world.cli("create", "cluster", "aws", "--pull-secret", "/nonexistent")
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == "--name is required"
    r = world.cli(*world.create_args("Bad_Name"))
    assert r.returncode == 1 and "HostedCluster name failed RFC1123 validation" in r.stderr
    r = world.cli(*world.create_args("perf-0099", 0, "--wait"))
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == "--wait requires --node-pool-replicas > 0"
    r = world.cli("create", "cluster", "aws", "--name", "perf-0098", "--pull-secret", "/nonexistent/ps.json",
                  "--base-domain", "x")
    assert r.returncode == 1 and "failed to read pull secret file" in r.stderr.splitlines()[-1]
    assert json_logs(r.stderr)[-1]["msg"] == "Failed to create cluster"
    r = world.cli("create", "cluster", "aws", "--node-pool-replicas", "x")
    assert r.returncode == 1 and 'invalid argument "x" for "--node-pool-replicas" flag' in r.stderr
    r = world.cli()
    assert r.returncode == 1
    r = world.cli("version")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Client Version: openshift/hypershift: ")
    assert lines[1].startswith("Server Version: ") and lines[2].startswith("Server Supports OCP Versions: 4.20")
    r = world.cli("version", env={"KUBECONFIG": str(tmp_path / "missing")})
    assert r.returncode == 0 and "failed to connect to server" in r.stdout
    r = world.cli(*world.create_args("perf-0097", 1, "--render"))
    assert r.returncode == 0
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert [d["kind"] for d in docs] == ["Namespace", "HostedCluster", "NodePool"]  # secrets left out
    custom, _ = kube(world.kubeconfig)
    assert get_hc(custom, "perf-0097") is None


def test_create_ready_fail_dump_destroy(world, tmp_path):
    custom, core = kube(world.kubeconfig)
    ok = world.cli_async(*world.create_args("perf-0001", 2, "--generate-ssh", "--additional-tags", "owner=perf",
                                            "--annotations", "a=b", "--labels", "team=perf"), cwd=tmp_path)
    bad = world.cli_async(*world.create_args("perf-0002", 1), cwd=tmp_path)
    for p in (ok, bad):
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        logs = json_logs(err)
        assert all({"level", "ts", "msg"} <= set(rec) for rec in logs)
        assert [rec["kind"] for rec in logs if rec["msg"] == "Applied Kube resource"][-2:] == ["HostedCluster",
                                                                                               "NodePool"]
    ps_text = (world.dir / "pull-secret.json").read_text()
    assert ps_text not in err and json.loads(ps_text)["auths"]["quay.io"]["auth"] not in err

    hc = wait_for(lambda: (lambda h: h if rolled_out(h) else None)(get_hc(custom, "perf-0001")), 20, "rollout")
    assert hc["metadata"]["annotations"]["hypershift.openshift.io/HasBeenAvailable"] == "true"
    assert hc["metadata"]["annotations"]["a"] == "b" and hc["metadata"]["labels"]["team"] == "perf"
    assert "hypershift.openshift.io/finalizer" in hc["metadata"]["finalizers"]
    assert hc["spec"]["platform"]["aws"]["resourceTags"] == [{"key": "owner", "value": "perf"}]
    assert hc["spec"]["sshKey"]["name"] == "perf-0001-ssh-key"
    st = hc["status"]
    assert st["kubeconfig"]["name"] == "perf-0001-admin-kubeconfig"
    assert st["kubeadminPassword"]["name"] == "perf-0001-kubeadmin-password"
    assert st["controlPlaneEndpoint"]["port"] == 6443 and st["controlPlaneEndpoint"]["host"].endswith(".amazonaws.com")
    assert st["payloadArch"] == "AMD64" and st["ignitionEndpoint"]
    assert st["version"]["desired"]["version"] == "4.17.3" and st["version"]["availableUpdates"] is None
    gen = hc["metadata"]["generation"]
    for c in st["conditions"]:
        assert c["observedGeneration"] == gen and c["lastTransitionTime"].endswith("Z") and "reason" in c
    healthy = {"Degraded": "False", "ClusterVersionProgressing": "False", "ClusterVersionAvailable": "True",
               "ClusterVersionSucceeding": "True", "ValidConfiguration": "True", "ReconciliationActive": "True",
               "ReconciliationSucceeded": "True", "DataPlaneConnectionAvailable": "True",
               "ControlPlaneConnectionAvailable": "True", "ValidAWSKMSConfig": "Unknown",
               "ExternalDNSReachable": "Unknown", "InfrastructureReady": "True", "EtcdAvailable": "True",
               "KubeAPIServerAvailable": "True", "IgnitionEndpointAvailable": "True"}
    for ctype, status in healthy.items():
        assert cond(hc, ctype)["status"] == status, ctype
    assert cond(hc, "ReconciliationSucceeded")["reason"] == "ReconciliatonSucceeded"
    assert (st["version"]["history"][0]["startedTime"] <= cond(hc, "Available")["lastTransitionTime"]
            <= st["version"]["history"][0]["completionTime"])
    assert get_hc(custom, "perf-0001")["status"]["conditions"] == st["conditions"]  # no churn once done

    np = custom.get_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools", "perf-0001-us-east-1a")
    assert nodepool_ready(np) and np["status"]["version"] == "4.17.3"
    assert "hypershift.openshift.io/finalizer" in np["metadata"]["finalizers"]
    assert np["status"]["nodesInfo"]["nodeVersions"][0]["readyNodeCount"] == 2

    # guest nodes, through the kubeconfig the operator published
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    secret = core.read_namespaced_secret("perf-0001-admin-kubeconfig", "clusters")
    guest_cfg = yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]))
    assert guest_cfg["clusters"][0]["cluster"]["server"].endswith("/guests/clusters/perf-0001")
    gcore = k8s.CoreV1Api(k8s_config.new_client_from_config_dict(guest_cfg))
    nodes = gcore.list_node(label_selector="hypershift.openshift.io/nodePool=perf-0001-us-east-1a").items
    assert len(nodes) == 2
    for n in nodes:
        assert "node-role.kubernetes.io/worker" in n.metadata.labels
        ready = [c for c in n.status.conditions if c.type == "Ready"][0]
        assert ready.status == "True" and n.status.node_info.kubelet_version == "v1.30.5"
    r = world.cli("create", "kubeconfig", "--name", "perf-0001")
    assert r.returncode == 0 and yaml.safe_load(r.stdout) == guest_cfg

    # the failing cluster reports a terminal failure and makes no progress
    failed = wait_for(lambda: terminal_failure(get_hc(custom, "perf-0002")), 10, "terminal failure")
    hc2 = get_hc(custom, "perf-0002")
    assert cond(hc2, "Available")["status"] == "False" and not rolled_out(hc2)
    assert hc2["status"]["version"]["history"][0]["completionTime"] is None
    assert "kubeconfig" not in hc2["status"]

    # ground truth equals the API's own timestamps
    tr = [t for t in transitions(world.dir / "transitions.jsonl")]
    by = {(t["cluster"], t["phase"], t.get("node") or t.get("nodepool")): t for t in tr}
    assert by[("perf-0001", "created_seen", None)]["time"] == st["version"]["history"][0]["startedTime"]
    assert by[("perf-0001", "infrastructure_ready", None)]["time"] == cond(hc, "InfrastructureReady")[
        "lastTransitionTime"]
    assert by[("perf-0001", "control_plane_available", None)]["time"] == cond(hc, "Available")["lastTransitionTime"]
    assert by[("perf-0001", "install_completed", None)]["time"] == st["version"]["history"][0]["completionTime"]
    assert by[("perf-0001", "nodepool_ready", "perf-0001-us-east-1a")]["time"] == cond(np, "Ready")[
        "lastTransitionTime"]
    for n in nodes:
        ready = [c for c in n.status.conditions if c.type == "Ready"][0]
        rec = by[("perf-0001", "node_ready", n.metadata.name)]
        assert rec["time"] == ready.last_transition_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert rec["nodepool"] == "perf-0001-us-east-1a"
    assert by[("perf-0002", "install_failed", None)]["time"] == failed["lastTransitionTime"]
    order = [t["phase"] for t in tr if t["cluster"] == "perf-0001"]
    assert order.index("created_seen") < order.index("infrastructure_ready") < order.index(
        "control_plane_available") < order.index("nodepool_ready") < order.index("install_completed")
    assert all(isinstance(t["ts"], float) and t["uid"] for t in tr)

    # dump: tree + archive, and no secret values anywhere
    art = tmp_path / "dump"
    r = world.cli("dump", "cluster", "--name", "perf-0001", "--artifact-dir", str(art), "--dump-guest-cluster")
    assert r.returncode == 0, r.stderr
    assert (art / "namespaces/clusters/hypershift.openshift.io/hostedclusters/perf-0001.yaml").exists()
    assert (art / "namespaces/clusters/hypershift.openshift.io/nodepools/perf-0001-us-east-1a.yaml").exists()
    assert (art / "namespaces/clusters-perf-0001/core/secrets.yaml").exists()
    guest_nodes = list((art / "hostedcluster-perf-0001/cluster-scoped-resources/core/nodes").glob("*.yaml"))
    assert len(guest_nodes) == 2
    with tarfile.open(art / "hypershift-dump.tar.gz") as tar:
        names = tar.getnames()
    assert "namespaces/clusters/hypershift.openshift.io/hostedclusters/perf-0001.yaml" in names
    token = guest_cfg["users"][0]["user"]["token"]
    forbidden = [token, json.loads(ps_text)["auths"]["quay.io"]["auth"], secret.data["kubeconfig"]]
    for f in art.rglob("*.yaml"):
        text = f.read_text()
        assert not any(x in text for x in forbidden), f
    for f in art.rglob("secrets.yaml"):
        for item in yaml.safe_load(f.read_text())["items"]:
            assert all(v == "" for v in (item.get("data") or {}).values())

    # destroy: exit 0, the HostedCluster is gone, the guest API with it
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0001", "--cluster-grace-period", "20s")
    assert r.returncode == 0, r.stderr
    assert json_logs(r.stderr)[-1]["msg"] == "Successfully destroyed cluster and infrastructure"
    assert get_hc(custom, "perf-0001") is None
    assert core.list_namespaced_secret("clusters", label_selector="hypershift.openshift.io/auto-created-for-infra="
                                       + hc["spec"]["infraID"]).items == []
    phases = [t["phase"] for t in transitions(world.dir / "transitions.jsonl") if t["cluster"] == "perf-0001"]
    for p in ("deleting", "nodepool_deleted", "finalized", "deleted"):
        assert p in phases
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as exc:
        gcore.list_node()
    assert exc.value.status in (404, 503)

    # a failed install can be destroyed too
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0002", "--cluster-grace-period", "20s")
    assert r.returncode == 0, r.stderr
    assert get_hc(custom, "perf-0002") is None


def test_nodepool_create(world, tmp_path):
    custom, _ = kube(world.kubeconfig)
    r = world.cli(*world.create_args("perf-0011", 1))
    assert r.returncode == 0, r.stderr
    wait_for(lambda: rolled_out(get_hc(custom, "perf-0011")), 20, "rollout")
    r = world.cli("create", "nodepool", "aws", "--cluster-name", "perf-0011", "--name", "perf-0011-extra",
                  "--replicas", "3")
    assert r.returncode == 0 and r.stdout.strip() == "NodePool perf-0011-extra created", r.stderr
    r = world.cli("create", "nodepool", "aws", "--cluster-name", "perf-0011", "--name", "perf-0011-extra")
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == "NodePool clusters/perf-0011-extra already exists"
    np = wait_for(lambda: (lambda n: n if nodepool_ready(n) else None)(custom.get_namespaced_custom_object(
        GROUP, VERSION, "clusters", "nodepools", "perf-0011-extra")), 20, "extra nodepool ready")
    assert np["status"]["replicas"] == 3
    # scale down through the scale subresource: nodes drain away
    custom.patch_namespaced_custom_object_scale(GROUP, VERSION, "clusters", "nodepools", "perf-0011-extra",
                                                {"spec": {"replicas": 1}})
    wait_for(lambda: custom.get_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools",
                                                         "perf-0011-extra")["status"]["replicas"] == 1, 20,
             "scale down")
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0011")
    assert r.returncode == 0, r.stderr


def test_paused_until(world):
    custom, _ = kube(world.kubeconfig)
    r = world.cli(*world.create_args("perf-0005", 1, "--pausedUntil", "true"))
    assert r.returncode == 0, r.stderr
    hc = wait_for(lambda: (lambda h: h if cond(h or {}, "ReconciliationActive") else None)(
        get_hc(custom, "perf-0005")), 10, "paused condition")
    c = cond(hc, "ReconciliationActive")
    assert (c["status"], c["reason"]) == ("False", "ReconciliationPaused")
    time.sleep(0.5)  # longer than a whole modelled install at this speed
    hc = get_hc(custom, "perf-0005")
    assert not (hc.get("status") or {}).get("version") and cond(hc, "Available") == {}
    for plural, name in (("hostedclusters", "perf-0005"), ("nodepools", "perf-0005-us-east-1a")):
        custom.patch_namespaced_custom_object(GROUP, VERSION, "clusters", plural, name,
                                              {"spec": {"pausedUntil": None}})
    hc = wait_for(lambda: (lambda h: h if rolled_out(h) else None)(get_hc(custom, "perf-0005")), 20, "rollout")
    assert cond(hc, "ReconciliationActive")["status"] == "True"
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0005")
    assert r.returncode == 0, r.stderr


def test_destroy_fail(world):
    custom, _ = kube(world.kubeconfig)
    r = world.cli(*world.create_args("perf-0003", 1))
    assert r.returncode == 0, r.stderr
    wait_for(lambda: rolled_out(get_hc(custom, "perf-0003")), 20, "rollout")
    t0 = time.monotonic()
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0003", "--cluster-grace-period", "2s")
    assert r.returncode == 1
    assert 2 <= time.monotonic() - t0 < 15
    assert r.stderr.strip().splitlines()[-1] == \
        "hostedcluster wasn't finalized, aborting delete: context deadline exceeded"
    hc = get_hc(custom, "perf-0003")
    assert hc["metadata"]["deletionTimestamp"]
    assert set(hc["metadata"]["finalizers"]) == {"hypershift.openshift.io/finalizer", "openshift.io/destroy-cluster"}
    c = wait_for(lambda: (lambda c: c if c.get("status") == "False" else None)(
        cond(get_hc(custom, "perf-0003"), "CloudResourcesDestroyed")), 10, "cloud resources timeout")
    assert c["reason"] == "CloudResourcesDeletionTimedOut"


def test_sigint_saves_and_restart_restores(world):
    custom, _ = kube(world.kubeconfig)
    r = world.cli(*world.create_args("perf-0021", 1))
    assert r.returncode == 0, r.stderr
    # a cluster stuck in deletion (index 3 is a destroy-fail cluster), of this test's own making, so the
    # test does not depend on which other tests ran before it on this world
    r = world.cli(*world.create_args("rst-0003", 1))
    assert r.returncode == 0, r.stderr
    wait_for(lambda: rolled_out(get_hc(custom, "rst-0003")), 20, "rollout of rst-0003")
    r = world.cli("destroy", "cluster", "aws", "--name", "rst-0003", "--cluster-grace-period", "1s")
    assert r.returncode == 1, r.stderr
    # a hosted cluster's own API (a guest) exists once its control plane is available
    wait_for(lambda: cond(get_hc(custom, "perf-0021") or {}, "Available").get("status") == "True", 20,
             "control plane of perf-0021")
    rv_before = {h["metadata"]["name"]: h["metadata"]["uid"] for h in
                 custom.list_cluster_custom_object(GROUP, VERSION, "hostedclusters")["items"]}
    t0 = time.monotonic()
    assert world.stop(signal.SIGINT) == 0
    assert time.monotonic() - t0 < 5
    state = json.loads((world.dir / "state.json").read_text())
    assert state["apiserver"]["guests"]
    assert not (world.dir / "ready").exists()
    world.start()
    custom, _ = kube(world.kubeconfig)
    after = {h["metadata"]["name"]: h["metadata"]["uid"] for h in
             custom.list_cluster_custom_object(GROUP, VERSION, "hostedclusters")["items"]}
    assert after == rv_before
    # the cluster config objects are kept (and re-applied) across the restart
    objs = cluster_config(world.kubeconfig)
    assert objs["dnses"]["spec"]["baseDomain"] == world.world["base_domain"]
    assert objs["infrastructures"]["status"]["platformStatus"]["aws"]["region"] == world.world["region"]
    # the operator resumes: the cluster created just before the restart still rolls out
    wait_for(lambda: rolled_out(get_hc(custom, "perf-0021")), 20, "rollout after restart")
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0021")
    assert r.returncode == 0, r.stderr
    # the destroy-fail cluster is still stuck in deletion after the restart
    assert get_hc(custom, "rst-0003")["metadata"]["deletionTimestamp"]


def test_stuck_cluster_and_cli_sigint(world, tmp_path):
    """perf-0004 is a stuck cluster: `create --wait` waits for ever, until SIGINT."""
    custom, _ = kube(world.kubeconfig)
    p = world.cli_async(*world.create_args("perf-0004", 1, "--wait"), cwd=tmp_path)
    wait_for(lambda: cond(get_hc(custom, "perf-0004") or {}, "InfrastructureReady").get("status") == "True", 20,
             "infrastructure of the stuck cluster")
    time.sleep(0.5)  # several modelled install durations: a healthy cluster would be Available by now
    hc = get_hc(custom, "perf-0004")
    assert cond(hc, "Available")["status"] == "False" and terminal_failure(hc) is None
    assert cond(hc, "EtcdAvailable")["reason"] == "EtcdWaitingForQuorum"
    assert p.poll() is None
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=15)
    assert p.returncode == 1
    assert "Aborted..." in err and err.strip().splitlines()[-1] == "context canceled"
    assert json_logs(err)[-1] == {**json_logs(err)[-1], "level": "error", "msg": "Failed to create cluster",
                                  "error": "context canceled"}
    r = world.cli("destroy", "cluster", "aws", "--name", "perf-0004")
    assert r.returncode == 0, r.stderr


def test_cli_crash_hang_and_degraded_cluster(world, tmp_path):
    """CLI faults by index: a Go panic after the HostedCluster (61) or before anything (62), a hang (63); and a
    control plane that stays Degraded (64)."""
    custom, _ = kube(world.kubeconfig)
    faults = world.world["faults"]
    assert (faults["cli_crash_clusters"], faults["cli_crash_early_clusters"], faults["cli_hang_clusters"],
            faults["degraded_clusters"]) == ([61], [62], [63], [64])
    assert faults["api"]["error_rate"] == 0.0 and faults["api"]["error_code"] == 503

    r = world.cli(*world.create_args("flt-0061", 1), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.splitlines()[-1].startswith("\t/hypershift/main.go")
    assert "panic: runtime error: invalid memory address or nil pointer dereference" in r.stderr
    assert "goroutine 1 [running]:" in r.stderr
    assert any(e.get("msg") == "Applied Kube resource" and e.get("kind") == "HostedCluster" for e in json_logs(r.stderr))
    assert get_hc(custom, "flt-0061") is not None  # created: someone must account for it
    assert not [np for np in custom.list_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools")["items"]
                if np["spec"]["clusterName"] == "flt-0061"]

    r = world.cli(*world.create_args("flt-0062", 1), cwd=tmp_path)
    assert r.returncode == 2 and "panic: runtime error" in r.stderr
    assert get_hc(custom, "flt-0062") is None

    p = world.cli_async(*world.create_args("flt-0063", 1), cwd=tmp_path)
    wait_for(lambda: get_hc(custom, "flt-0063"), 20, "the hanging CLI to apply its objects")
    time.sleep(0.3)
    assert p.poll() is None
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=15)
    assert p.returncode == 1 and "Aborted..." in err and err.strip().splitlines()[-1] == "context canceled"

    r = world.cli(*world.create_args("flt-0064", 1), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    degraded = wait_for(lambda: (lambda c: c if c.get("status") == "True" else None)(
        cond(get_hc(custom, "flt-0064"), "Degraded")), 20, "Degraded=True")
    assert degraded["reason"] == "UnavailableReplicas"
    # one replica: the CLI's default --control-plane-availability-policy is SingleReplica
    assert degraded["message"] == "kube-apiserver deployment has 1 unavailable replicas"
    time.sleep(0.5)  # several modelled install durations
    hc = get_hc(custom, "flt-0064")
    assert cond(hc, "EtcdAvailable")["status"] == "True" and cond(hc, "Available")["status"] == "False"
    assert cond(hc, "KubeAPIServerAvailable")["status"] == "False" and terminal_failure(hc) is None
    truth = [t for t in transitions(world.dir / "transitions.jsonl") if t["cluster"] == "flt-0064"]
    assert [t for t in truth if t["phase"] == "degraded"][0]["time"] == degraded["lastTransitionTime"]
    assert "control_plane_available" not in {t["phase"] for t in truth}
    for name in ("flt-0061", "flt-0063", "flt-0064"):
        r = world.cli("destroy", "cluster", "aws", "--name", name)
        assert r.returncode == 0, r.stderr


# =============================================================== real server
@pytest.fixture(scope="module")
def real_kas(tmp_path_factory):
    """One real kube-apiserver (+ etcd) for the tests below; skipped unless KUBEBUILDER_ASSETS is set."""
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        pytest.skip("KUBEBUILDER_ASSETS not set")
    import urllib3

    from tests.kubeapiserver import RealApiServer

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with RealApiServer(os.environ["KUBEBUILDER_ASSETS"], tmp_path_factory.mktemp("kas")) as kas:
        yield kas


def test_minimal_crds_on_real_kube_apiserver(real_kas):
    """The world's own minimal CRDs (``--install-crds``) are accepted by a bare kube-apiserver and keep status.

    Runs before the HyperShift-CRD test on the same server and removes its CRDs again."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException

    from sim.crds import ensure_crds

    kas = real_kas
    custom, core = kube(kas.kubeconfig)
    api = k8s_config.new_client_from_config(config_file=kas.kubeconfig)
    ext = k8s.ApiextensionsV1Api(api)
    try:
        assert sorted(ensure_crds(api)) == [f"hostedclusters.{GROUP}", f"nodepools.{GROUP}"]
        assert ensure_crds(api) == []  # idempotent: existing CRDs are left alone
        core.create_namespace({"metadata": {"name": "clusters"}})
        hc = custom.create_namespaced_custom_object(GROUP, VERSION, "clusters", "hostedclusters", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "HostedCluster", "metadata": {"name": "perf-0001"},
            "spec": {"release": {"image": RELEASE}, "anything": {"kept": True}}})
        hc["status"] = {"version": {"history": [{"state": "Partial", "completionTime": None}],
                                    "availableUpdates": None}, "conditions": [{"type": "Available"}]}
        hc = custom.replace_namespaced_custom_object_status(GROUP, VERSION, "clusters", "hostedclusters",
                                                            "perf-0001", hc)
        assert hc["status"]["version"]["history"][0]["completionTime"] is None
        assert hc["spec"]["anything"] == {"kept": True}
        custom.create_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "NodePool", "metadata": {"name": "np"},
            "spec": {"clusterName": "perf-0001", "replicas": 2}})
        custom.patch_namespaced_custom_object_scale(GROUP, VERSION, "clusters", "nodepools", "np",
                                                    {"spec": {"replicas": 3}})
        np = custom.get_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools", "np")
        assert np["spec"]["replicas"] == 3
        custom.delete_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools", "np")
        custom.delete_namespaced_custom_object(GROUP, VERSION, "clusters", "hostedclusters", "perf-0001")
    finally:
        for plural in ("hostedclusters", "nodepools"):
            try:
                ext.delete_custom_resource_definition(f"{plural}.{GROUP}")
            except ApiException as exc:
                if exc.status != 404:
                    raise
        for plural in ("hostedclusters", "nodepools"):
            wait_for(lambda: _crd_gone(ext, f"{plural}.{GROUP}"), 30, f"{plural} CRD deletion")


def _crd_gone(ext, name: str) -> bool:
    from kubernetes.client.rest import ApiException

    try:
        ext.read_custom_resource_definition(name)
        return False
    except ApiException as exc:
        return exc.status == 404


def test_real_kube_apiserver_with_hypershift_crds(real_kas, tmp_path):
    if not CRD_DIR.is_dir():
        pytest.skip(f"{CRD_DIR} not present")
    from tests.kubeapiserver import apply_crds

    kas = real_kas
    apply_crds(kas.kubeconfig, CRD_DIR)
    w = SimWorld(tmp_path / "world", "--speed", str(SPEED), "--mgmt-kubeconfig", kas.kubeconfig,
                 "--install-crds", "--fail-clusters", "2").start()
    try:
        assert w.world["external_mgmt"] is True and w.world["mgmt_url"] == kas.url
        custom, core = kube(w.kubeconfig)
        from kubernetes import client as k8s
        from kubernetes import config as k8s_config

        ext = k8s.ApiextensionsV1Api(k8s_config.new_client_from_config(config_file=w.kubeconfig))
        hc_crd = ext.read_custom_resource_definition(f"hostedclusters.{GROUP}")
        assert not (hc_crd.metadata.labels or {}).get("sim.hypershift.openshift.io/minimal-crd")  # kept
        procs = [w.cli_async(*w.create_args(name, 2)) for name in ("perf-0001", "perf-0002")]
        for p in procs:
            _, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
        hc = wait_for(lambda: (lambda h: h if rolled_out(h) else None)(get_hc(custom, "perf-0001")), 30,
                      "rollout on a real kube-apiserver")
        # what the harness needs survived the real server's schema pruning
        st = hc["status"]
        hist = st["version"]["history"][0]
        assert hist["completionTime"] and hist["startedTime"] and hist["state"] == "Completed"
        assert st["version"]["desired"]["image"] == RELEASE and "availableUpdates" in st["version"]
        assert st["kubeconfig"]["name"] == "perf-0001-admin-kubeconfig"
        assert st["kubeadminPassword"]["name"] and st["controlPlaneEndpoint"]["port"] == 6443
        assert st["payloadArch"] == "AMD64" and st["ignitionEndpoint"]
        assert st["platform"]["aws"]["defaultWorkerSecurityGroupID"].startswith("sg-")
        for c in st["conditions"]:
            assert {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"} <= set(c)
        np = custom.get_namespaced_custom_object(GROUP, VERSION, "clusters", "nodepools", "perf-0001-us-east-1a")
        assert nodepool_ready(np) and np["status"]["version"] == "4.17.3"
        assert np["status"]["nodesInfo"]["nodeVersions"][0]["readyNodeCount"] == 2
        tr = {(t["cluster"], t["phase"]): t["time"] for t in transitions(w.dir / "transitions.jsonl")}
        assert tr[("perf-0001", "install_completed")] == hist["completionTime"]
        assert tr[("perf-0001", "control_plane_available")] == cond(hc, "Available")["lastTransitionTime"]
        failed = wait_for(lambda: terminal_failure(get_hc(custom, "perf-0002")), 10, "terminal failure")
        assert tr.get(("perf-0002", "install_failed")) in (None, failed["lastTransitionTime"])
        secret = core.read_namespaced_secret("perf-0001-admin-kubeconfig", "clusters")
        gcfg = yaml.safe_load(base64.b64decode(secret.data["kubeconfig"]))
        nodes = k8s.CoreV1Api(k8s_config.new_client_from_config_dict(gcfg)).list_node().items
        assert len(nodes) == 2
        procs = [w.cli_async("destroy", "cluster", "aws", "--name", name, "--cluster-grace-period", "30s")
                 for name in ("perf-0001", "perf-0002")]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        assert get_hc(custom, "perf-0001") is None and get_hc(custom, "perf-0002") is None
    finally:
        w.stop()
