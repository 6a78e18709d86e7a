"""The simulated world's ``kube-burner-ocp`` stand-in (``DIR/bin/kube-burner-ocp``), checked from outside.

A world runs as a subprocess (``python -m sim serve``) with four hosted clusters made with the stand-in
``hypershift`` CLI: ``perf-0001`` (3 workers), ``perf-0005`` (``--load-alert-clusters``), ``perf-0007``
(``--load-fail-clusters``) and ``perf-0009`` (``--load-slow-clusters``).  kube-burner-ocp runs like a harness
runs it: from another directory, without PYTHONPATH, ``KUBECONFIG`` = the hosted cluster's admin kubeconfig
(from its ``<name>-admin-kubeconfig`` secret); what it did is read back through the guest API.

The ``--metrics-endpoint`` tests scrape the hosted cluster's and the management cluster's simulated
Prometheus, found as a harness finds them: the route ``openshift-monitoring/prometheus-k8s`` and a
TokenRequest of that service account, made with the guest's and the management kubeconfig; the tokens reach
kube-burner only through its environment (``{{.VAR}}`` in the file).
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.simworld import SimWorld, wait_for

SPEED = 500          # a 3-node install is ~2.5 s; 1 simulated minute of churn is 0.12 s
WORKERS = {"perf-0001": 3, "perf-0005": 1, "perf-0007": 1, "perf-0009": 1}
LOGRUS = re.compile(r'^time="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d" level=(debug|info|warning|error|fatal) msg=(".*"|\S+) '
                    r'file="[^"]+"$')


def completed(rc: int, uuid: str) -> re.Pattern:
    return re.compile(rf'^time="[^"]+" level=info msg="👋 kube-burner run completed with rc {rc} for UUID '
                      rf'{re.escape(uuid)}" file="[^"]+"$')


def core_api(kubeconfig: str):
    import urllib3
    from kubernetes import client, config

    urllib3.disable_warnings()
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = SimWorld(tmp_path_factory.mktemp("kbworld") / "world", "--speed", str(SPEED), "--ocm-decoys", "3",
                 "--load-fail-clusters", "7", "--load-slow-clusters", "9", "--load-alert-clusters", "5").start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def guests(world, tmp_path_factory) -> dict[str, str]:
    """Create the hosted clusters (in parallel), wait for their nodes; {name: guest kubeconfig path}."""
    from kubernetes.client.rest import ApiException

    folder = tmp_path_factory.mktemp("guests")
    procs = [world.cli_async(*world.create_args(name, replicas), cwd=folder) for name, replicas in WORKERS.items()]
    for p in procs:
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
    core = core_api(world.kubeconfig)
    out = {}
    for name, replicas in WORKERS.items():
        def secret():
            try:
                return core.read_namespaced_secret(f"{name}-admin-kubeconfig", "clusters")
            except ApiException as exc:
                assert exc.status == 404
                return None

        data = wait_for(secret, 20, f"{name}-admin-kubeconfig").data["kubeconfig"]
        path = folder / f"{name}.kubeconfig"
        path.write_bytes(base64.b64decode(data))
        guest = core_api(str(path))

        def ready():
            nodes = guest.list_node().items
            return len(nodes) == replicas and all(
                any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes)

        wait_for(ready, 20, f"{name}'s nodes Ready")
        out[name] = str(path)
    return out


def burner(world, kubeconfig: str | None, *args: str, cwd: Path, timeout: float = 30.0,
           env: dict | None = None) -> subprocess.CompletedProcess:
    """Run DIR/bin/kube-burner-ocp as a harness would (no PYTHONPATH, another cwd); ``.elapsed`` is set."""
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KUBECONFIG")}
    if kubeconfig:
        e["KUBECONFIG"] = kubeconfig
    e.update(env or {})
    cwd.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    r = subprocess.run([world.world["kube_burner"], *args], capture_output=True, text=True, timeout=timeout,
                       cwd=str(cwd), env=e)
    r.elapsed = time.monotonic() - started
    return r


def namespaces(kubeconfig: str, prefix: str) -> list[str]:
    return sorted(n.metadata.name for n in core_api(kubeconfig).list_namespace().items
                  if n.metadata.name.startswith(prefix))


def namespace_events(kubeconfig: str, since_rv: str) -> list[tuple[str, str]]:
    """Every namespace watch event since ``since_rv``: [(type, name)]."""
    from kubernetes import watch

    events = []
    for ev in watch.Watch().stream(core_api(kubeconfig).list_namespace, resource_version=since_rv,
                                   timeout_seconds=1):
        events.append((ev["type"], ev["object"].metadata.name))
    return events


def summary(cwd: Path, uuid: str) -> dict:
    docs = json.loads((cwd / f"collected-metrics-{uuid}" / "jobSummary.json").read_text())
    assert isinstance(docs, list) and docs[0]["metricName"] == "jobSummary"
    return docs[0]


# ======================================================================= tests
def test_installed_with_the_world(world):
    path = Path(world.world["kube_burner"])
    assert path == world.dir / "bin" / "kube-burner-ocp" and os.access(path, os.X_OK)
    assert path.read_text().startswith(f"#!{sys.executable}\n")
    faults = world.world["faults"]
    assert faults["load_fail_clusters"] == [7] and faults["load_slow_clusters"] == [9]
    assert faults["load_alert_clusters"] == [5]
    assert world.world["guest_image_registry"] is True and world.world["guest_monitoring"] is True
    assert "kube-burner-ocp" in world.banner
    r = burner(world, None, "version", cwd=world.dir.parent / "elsewhere")
    assert r.returncode == 0
    assert [line.split(":", 1)[0] for line in r.stdout.splitlines()] == [
        "Version", "Git Commit", "Build Date", "Go Version", "OS/Arch"]
    assert r.stdout.splitlines()[0] == "Version: 1.12.1"


def test_cluster_density_ms_with_churn(world, guests, tmp_path):
    kc = guests["perf-0001"]
    rv = core_api(kc).list_namespace().metadata.resource_version
    r = burner(world, kc, "cluster-density-ms", "--iterations", "3", "--churn-duration", "1m", "--uuid", "X",
               "--local-indexing", "--alerting=false", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert all(LOGRUS.match(line) for line in lines), [x for x in lines if not LOGRUS.match(x)]
    assert completed(0, "X").match(lines[-1])
    assert r.stderr == ""
    for msg in ("Triggering job: cluster-density-ms", "Churn duration: 1m0s", "Churn delay: 2m0s",
                "Re-creating 1 deleted namespaces", "Churn job complete", "Garbage collecting jobs"):
        assert any(f'msg="{msg}"' in line for line in lines), msg
    # one namespace per iteration, churned, then garbage-collected
    events = namespace_events(kc, rv)
    added = [name for typ, name in events if typ == "ADDED"]
    deleted = [name for typ, name in events if typ == "DELETED"]
    assert sorted(set(added)) == ["cluster-density-ms-0", "cluster-density-ms-1", "cluster-density-ms-2"]
    assert len(added) >= 4                        # one of them deleted and re-created by the churn
    assert sorted(set(deleted)) == sorted(set(added)) and len(deleted) == len(added)
    assert namespaces(kc, "cluster-density-ms") == []
    # the files of --local-indexing and file logging, in the cwd
    doc = summary(tmp_path, "X")
    for key in ("timestamp", "endTimestamp", "elapsedTime", "uuid", "metricName", "jobConfig", "version", "passed",
                "workloadFlags", "platform", "ocpVersion", "k8sVersion", "workerNodesCount", "totalNodes"):
        assert key in doc, key
    assert doc["uuid"] == "X" and doc["passed"] is True and doc["executionErrors"] == ""
    assert doc["jobConfig"]["name"] == "cluster-density-ms" and doc["jobConfig"]["jobIterations"] == 3
    assert doc["jobConfig"]["qps"] == 20 and doc["jobConfig"]["burst"] == 20
    assert doc["workloadFlags"]["iterations"] == "3" and doc["workloadFlags"]["churnDuration"] == "1m0s"
    assert doc["workloadFlags"]["churnCycles"] == "0"
    assert doc["platform"] == "AWS" and doc["ocpVersion"] == "4.17.3" and doc["k8sVersion"] == "v1.30.5"
    assert doc["workerNodesCount"] == 3 and doc["totalNodes"] == 3
    assert doc["endTimestamp"] >= doc["timestamp"] and doc["timestamp"].endswith("Z")
    assert doc["elapsedTime"] >= 0
    quantiles = json.loads((tmp_path / "collected-metrics-X" / "podLatencyQuantilesMeasurement-cluster-density-ms.json")
                           .read_text())
    ready = [q for q in quantiles if q["quantileName"] == "Ready"][0]
    assert ready["metricName"] == "podLatencyQuantilesMeasurement" and ready["jobName"] == "cluster-density-ms"
    assert all(isinstance(ready[k], int) for k in ("P99", "P95", "P50", "min", "max", "avg"))
    assert ready["min"] <= ready["P50"] <= ready["P99"] <= ready["max"]
    assert (tmp_path / "kube-burner-ocp-X.log").read_text() == r.stdout


def test_gc_false_keeps_namespaces_until_the_next_run(world, guests, tmp_path):
    kc = guests["perf-0001"]
    r = burner(world, kc, "cluster-density-ms", "--iterations", "2", "--gc=false", "--uuid", "keep",
               "--alerting=false", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert namespaces(kc, "cluster-density-ms") == ["cluster-density-ms-0", "cluster-density-ms-1"]
    core = core_api(kc)
    ns = core.read_namespace("cluster-density-ms-1")
    assert ns.metadata.labels["kube-burner.io/uuid"] == "keep"
    assert ns.metadata.labels["kube-burner.io/job"] == "cluster-density-ms"
    assert len(core.list_namespaced_config_map("cluster-density-ms-1", label_selector="kube-burner.io/uuid=keep")
               .items) == 2
    assert len(core.list_namespaced_secret("cluster-density-ms-1").items) == 2
    # the workload's cleanup: the next run of the job removes the leftovers first
    r = burner(world, kc, "cluster-density-ms", "--iterations", "1", "--uuid", "next", "--alerting=false",
               cwd=tmp_path)
    assert r.returncode == 0 and "Deleting 2 namespaces with label: kube-burner.io/job=cluster-density-ms" in r.stdout
    assert namespaces(kc, "cluster-density-ms") == []


def test_auto_iterations_are_the_worker_nodes(world, guests, tmp_path):
    kc = guests["perf-0001"]
    r = burner(world, kc, "cluster-density-v2", "--uuid", "auto", "--local-indexing", "--alerting=false",
               cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert "Auto-calculated 3 iterations from 3 node(s) matching selector" in r.stdout
    assert summary(tmp_path, "auto")["jobConfig"]["jobIterations"] == WORKERS["perf-0001"]
    r = burner(world, kc, "cluster-density-ms", "--selector", "node-role.kubernetes.io/infra=", "--uuid", "none",
               cwd=tmp_path)
    assert r.returncode == 1
    last = r.stdout.splitlines()[-1]
    assert LOGRUS.match(last) and "level=fatal" in last
    assert 'msg="No nodes found with the selector: node-role.kubernetes.io/infra="' in last
    assert "kube-burner run completed" not in r.stdout


def test_timeout_is_rc_2(world, guests, tmp_path):
    kc = guests["perf-0001"]
    r = burner(world, kc, "cluster-density-ms", "--iterations", "2", "--churn-duration", "2h", "--timeout", "1s",
               "--uuid", "slow", "--local-indexing", "--alerting=false", cwd=tmp_path)
    assert r.returncode == 2, r.stdout
    assert 1.0 <= r.elapsed < 10
    lines = r.stdout.splitlines()
    assert completed(2, "slow").match(lines[-1])
    assert any('level=error msg="1s timeout reached"' in line for line in lines)
    doc = summary(tmp_path, "slow")
    assert doc["passed"] is False and doc["executionErrors"] == "1s timeout reached"
    assert namespaces(kc, "cluster-density-ms") == []     # garbage-collected all the same


def test_flag_errors_are_rc_1(world, guests, tmp_path):
    kc = guests["perf-0001"]
    cases = {
        ("--es-server", "http://127.0.0.1:9200"):
            "Error: if any flags in the group [es-server es-index] are set they must all be set; missing [es-index]",
        ("--bogus",): "Error: unknown flag: --bogus",
        ("--churn-delay", "5"): 'Error: invalid argument "5" for "--churn-delay" flag: time: missing unit in '
                                'duration "5"',
        ("--iterations", "many"): 'Error: invalid argument "many" for "--iterations" flag: strconv.ParseInt: '
                                  'parsing "many": invalid syntax',
    }
    for args, error in cases.items():
        r = burner(world, kc, "cluster-density-ms", *args, cwd=tmp_path)
        assert r.returncode == 1 and r.stdout == "", args
        assert r.stderr.splitlines()[0] == error
        assert "Usage:\n  kube-burner-ocp cluster-density-ms [flags]" in r.stderr
    r = burner(world, kc, "cluster-density-v3", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith('Error: unknown command "cluster-density-v3" for "kube-burner-ocp"')
    assert list(tmp_path.iterdir()) == []                 # nothing ran: not even a log file
    assert namespaces(kc, "cluster-density") == []


def test_load_fail_cluster_is_rc_1(world, guests, tmp_path):
    kc = guests["perf-0007"]
    r = burner(world, kc, "cluster-density-ms", "--iterations", "4", "--uuid", "fail", "--local-indexing",
               "--alerting=false", cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    lines = r.stdout.splitlines()
    assert completed(1, "fail").match(lines[-1])
    assert any("level=error" in line and "Error creating object" in line for line in lines)
    assert summary(tmp_path, "fail")["passed"] is False
    assert namespaces(kc, "cluster-density-ms") == []
    # the same load on a healthy cluster passes
    r = burner(world, guests["perf-0001"], "cluster-density-ms", "--iterations", "4", "--uuid", "ok",
               "--alerting=false", cwd=tmp_path)
    assert r.returncode == 0 and completed(0, "ok").match(r.stdout.splitlines()[-1])


def test_load_slow_cluster_outlasts_a_harness_timeout(world, guests, tmp_path):
    with pytest.raises(subprocess.TimeoutExpired):    # subprocess.run kills it
        burner(world, guests["perf-0009"], "cluster-density-ms", "--iterations", "1", "--alerting=false",
               cwd=tmp_path, timeout=2.5)
    r = burner(world, guests["perf-0009"], "cluster-density-ms", "--iterations", "1", "--alerting=false",
               "--timeout", "1s", "--uuid", "s", cwd=tmp_path)
    assert r.returncode == 2 and completed(2, "s").match(r.stdout.splitlines()[-1])


def test_real_time_grows_with_iterations_and_churn(world, guests, tmp_path):
    """The job's real duration (jobSummary ``elapsedTime``, measured by the stand-in itself, so interpreter
    start-up noise stays out) follows the simulated work at the world's speed."""
    kc = guests["perf-0001"]

    def seconds(uuid: str, *args: str) -> float:
        r = burner(world, kc, "cluster-density-ms", "--alerting=false", "--local-indexing", "--uuid", uuid, *args,
                   cwd=tmp_path)
        assert r.returncode == 0, r.stdout
        elapsed = summary(tmp_path, uuid)["elapsedTime"]
        assert r.elapsed >= elapsed
        return elapsed

    base = seconds("t1", "--iterations", "1")
    churn = seconds("t2", "--iterations", "1", "--churn-cycles", "2", "--churn-delay", "2m")
    many = seconds("t3", "--iterations", "40")
    # setup >= 20 s, the iteration >= 36 objects / 20 qps + 4 s, pods Ready >= 30 s: >= 0.11 s at speed 500
    assert base >= 0.11
    # + 2 rounds x (>= 15 s deletion + 5.8 s re-creation + 15 s pods + 120 s delay): >= 0.62 s more
    assert churn - base > 0.45, (base, churn)
    # + 39 iterations x >= 5.8 s: >= 0.45 s more
    assert many - base > 0.3, (base, many)


# ============================================================ --metrics-endpoint: guest and management Prometheus
MON, PROM = "openshift-monitoring", "prometheus-k8s"


def route_host(kubeconfig: str) -> str:
    """``spec.host`` of the cluster's openshift-monitoring/prometheus-k8s route (as kube-burner-ocp finds it)."""
    import urllib3
    from kubernetes import client, config

    urllib3.disable_warnings()
    custom = client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig))
    return custom.get_namespaced_custom_object("route.openshift.io", "v1", MON, "routes", PROM)["spec"]["host"]


def sa_token(kubeconfig: str, seconds: int = 3600) -> str:
    """A TokenRequest of the cluster's prometheus-k8s service account."""
    from kubernetes import client

    body = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                              expiration_seconds=seconds))
    return core_api(kubeconfig).create_namespaced_service_account_token(PROM, MON, body).status.token


def endpoint_file(path: Path, entries: list[dict]) -> str:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(entries, sort_keys=False))
    return str(path)


def docs(folder: Path, metric: str) -> list[dict]:
    data = json.loads((folder / f"{metric}.json").read_text())
    assert isinstance(data, list)
    return data


def fatal(r: subprocess.CompletedProcess) -> str:
    """The message of the run's last line, which must be a logrus fatal line (rc 1, nothing completed)."""
    assert r.returncode == 1, r.stdout + r.stderr
    last = r.stdout.splitlines()[-1]
    assert LOGRUS.match(last) and " level=fatal " in last, last
    assert "kube-burner run completed" not in r.stdout
    text = re.search(r' msg=("(?:[^"\\]|\\.)*"|\S+) file=', last).group(1)
    return json.loads(text) if text.startswith('"') else text


@pytest.fixture(scope="module")
def prom(world, guests) -> dict:
    """The Prometheus routes of perf-0001 and of the management cluster, and a token of each (made with the
    guest kubeconfig and the management kubeconfig)."""
    kc = guests["perf-0001"]
    return {"guest_host": route_host(kc), "mgmt_host": route_host(world.kubeconfig),
            "guest_token": sa_token(kc), "mgmt_token": sa_token(world.kubeconfig)}


def guest_and_mgmt(prom: dict, **mgmt_extra) -> list[dict]:
    return [
        {"alias": "guest", "endpoint": f"https://{prom['guest_host']}", "token": "{{.KB_GUEST_TOKEN}}",
         "metrics": ["metrics.yml"], "alerts": ["alerts.yml"],
         "indexer": {"type": "local", "metricsDirectory": "guest-metrics"}},
        {"alias": "management", "endpoint": f"https://{prom['mgmt_host']}/", "token": "{{.KB_MGMT_TOKEN}}",
         "step": "15s", "metrics": ["etcd-density-metrics-hcp.yml"],
         "indexer": {"type": "local", "metricsDirectory": "mgmt-metrics"}, **mgmt_extra},
    ]


def test_metrics_endpoint_scrapes_guest_and_management_prometheus(world, guests, prom, tmp_path):
    kc = guests["perf-0001"]
    base = world.world["base_domain"]
    assert prom["guest_host"] == f"prometheus-k8s-openshift-monitoring.apps.perf-0001.{base}"
    assert prom["mgmt_host"] == f"prometheus-k8s-openshift-monitoring.apps.{base}"
    path = endpoint_file(tmp_path / "metrics-endpoint.yml", guest_and_mgmt(prom))
    env = {"KB_GUEST_TOKEN": prom["guest_token"], "KB_MGMT_TOKEN": prom["mgmt_token"]}
    r = burner(world, kc, "cluster-density-ms", "--iterations", "2", "--uuid", "me", "--local-indexing",
               "--metrics-endpoint", path, "--set", "HOSTED_CLUSTER_NAMESPACE=clusters-perf-0001,OTHER=x",
               "--set", "MORE=y", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert all(LOGRUS.match(line) for line in lines), [x for x in lines if not LOGRUS.match(x)]
    assert completed(0, "me").match(lines[-1])
    for msg in ("📁 Creating local indexer: guest", "📁 Creating local indexer: management",
                f"👽 Initializing prometheus client with URL: https://{prom['guest_host']}",
                f"👽 Initializing prometheus client with URL: https://{prom['mgmt_host']}/",
                f"🔔 Initializing alert manager for prometheus: https://{prom['guest_host']}",
                "Evaluating alerts for job: cluster-density-ms"):
        assert f'msg="{msg}' in r.stdout, msg
    # the file replaces the workload's endpoints: --local-indexing has no effect
    assert not (tmp_path / "collected-metrics-me").exists()
    guest_dir, mgmt_dir = tmp_path / "guest-metrics", tmp_path / "mgmt-metrics"
    # jobSummary and the measurements go to every indexer
    summary_g, summary_m = docs(guest_dir, "jobSummary"), docs(mgmt_dir, "jobSummary")
    assert summary_g == summary_m and len(summary_g) == 1
    assert summary_g[0]["passed"] is True and summary_g[0]["uuid"] == "me"
    assert summary_g[0]["timestamp"] <= summary_g[0]["endTimestamp"] and summary_g[0]["jobConfig"]["jobIterations"] == 2
    for folder in (guest_dir, mgmt_dir):
        assert docs(folder, "podLatencyQuantilesMeasurement-cluster-density-ms")
    # the management cluster's Prometheus: the hosted control plane in its namespace there
    db = docs(mgmt_dir, "etcdDBTotalSize")
    assert db and all(d["labels"] == {"pod": "etcd-0"} for d in db)          # avg by (pod)
    assert all(d["query"] == 'avg by (pod) (etcd_mvcc_db_total_size_in_bytes{namespace="clusters-perf-0001"})'
               and d["metricName"] == "etcdDBTotalSize" and d["uuid"] == "me" for d in db)
    assert all(30e6 <= d["value"] <= 120e6 and d["timestamp"].endswith("Z") for d in db)
    quota = docs(mgmt_dir, "etcdQuotaBackendBytes")
    assert quota and {(d["labels"]["namespace"], d["labels"]["pod"]) for d in quota} == {("clusters-perf-0001",
                                                                                           "etcd-0")}
    assert {d["value"] for d in quota} == {8 * 1024 ** 3}
    pods = {d["labels"]["pod"] for d in docs(mgmt_dir, "podCPU-ControlPlane")}
    assert "etcd-0" in pods and any(p.startswith("kube-apiserver-") for p in pods)
    assert all(0.001 <= d["value"] <= 0.012 for d in docs(mgmt_dir, "99thEtcdDiskWalFsyncDurationSeconds"))
    # the hosted cluster's Prometheus: its own nodes, no control plane
    nodes = {n.metadata.name for n in core_api(kc).list_node().items}
    assert {d["labels"]["instance"] for d in docs(guest_dir, "nodeCPU")} == nodes
    assert docs(guest_dir, "APIRequestRate")
    assert not (guest_dir / "etcdDBTotalSize.json").exists() and not (mgmt_dir / "nodeCPU.json").exists()
    assert not (guest_dir / "alert.json").exists()                      # nothing critical fires on perf-0001
    # the tokens came through the environment and appear nowhere
    log = (tmp_path / "kube-burner-ocp-me.log").read_text()
    assert log == r.stdout
    for secret in env.values():
        assert secret not in r.stdout + r.stderr + log
    # a namespace the management cluster does not have: no series (the files are not written)
    r = burner(world, kc, "cluster-density-ms", "--iterations", "1", "--uuid", "nope", "--metrics-endpoint", path,
               "--set", "HOSTED_CLUSTER_NAMESPACE=clusters-perf-4242", cwd=tmp_path / "nope", env=env)
    assert r.returncode == 0, r.stdout
    assert 'msg="Indexing [0] documents from metric etcdDBTotalSize"' in r.stdout
    folder = tmp_path / "nope" / "mgmt-metrics"
    assert docs(folder, "jobSummary")[0]["uuid"] == "nope" and not (folder / "etcdDBTotalSize.json").exists()


def test_metrics_endpoint_setup_errors_are_rc_1(world, guests, prom, tmp_path):
    kc = guests["perf-0001"]
    env = {"KB_GUEST_TOKEN": prom["guest_token"], "KB_MGMT_TOKEN": prom["mgmt_token"]}
    hcp = ("--set", "HOSTED_CLUSTER_NAMESPACE=clusters-perf-0001")
    guest, mgmt = guest_and_mgmt(prom)
    cases = [
        # (entries, extra args, expected message: exact text or a compiled pattern)
        ([dict(guest, token="{{.KB_NOT_SET}}")], (),
         re.compile(r'Template error in .*/e0\.yml: template: :\d+:\d+: executing "" at <\.KB_NOT_SET>: map has no '
                    r'entry for key "KB_NOT_SET"$')),
        ([dict(guest, bogus=1)], (),
         re.compile(r"Error decoding metricsEndpoint .*/e1\.yml: yaml: unmarshal errors:\n  line \d+: field bogus "
                    r"not found in type metrics\.metricEndpoint$")),
        ([dict(guest, indexer={"type": "local", "directory": "x"})], (),
         re.compile(r"line \d+: field directory not found in type indexers\.IndexerConfig$")),
        ([dict(guest, step="soon")], (), re.compile(r"cannot unmarshal !!str `soon` into time\.Duration$")),
        ([dict(guest, token="not-a-token")], (), "client_error: client error: 401"),
        ([dict(mgmt, token="{{.KB_GUEST_TOKEN}}")], hcp, "client_error: client error: 401"),   # another cluster's
        ([mgmt], (), re.compile(r'^error rendering metrics profile etcd-density-metrics-hcp\.yml: template: '
                                r'etcd-density-metrics-hcp\.yml:\d+:\d+: executing "etcd-density-metrics-hcp\.yml" '
                                r'at <\.HOSTED_CLUSTER_NAMESPACE>: map has no entry for key '
                                r'"HOSTED_CLUSTER_NAMESPACE"$')),
        ([{k: v for k, v in guest.items() if k != "indexer"}], (),
         "Metrics profile is configured for endpoint #0 but no indexer was defined"),
        ([dict(guest, endpoint="https://prometheus-k8s-openshift-monitoring.apps.nowhere.example")], (),
         "server_error: server error: 503"),
        ([dict(guest, indexer={"type": "splunk"})], (), "Error creating indexer 0: indexer not found: splunk"),
    ]
    for i, (entries, extra, expected) in enumerate(cases):
        path = endpoint_file(tmp_path / f"e{i}.yml", entries)
        r = burner(world, kc, "cluster-density-ms", "--iterations", "1", "--uuid", f"e{i}", "--metrics-endpoint",
                   path, *extra, cwd=tmp_path / f"run{i}", env=env)
        msg = fatal(r)
        if isinstance(expected, str):
            assert msg == expected, (i, msg)
        else:
            assert expected.search(msg), (i, msg)
        assert not (tmp_path / f"run{i}" / "guest-metrics").exists(), i
        for secret in env.values():
            assert secret not in r.stdout + r.stderr, i
    assert namespaces(kc, "cluster-density") == []                    # nothing ran


def test_metrics_endpoint_expired_token_is_rc_1(world, guests, tmp_path):
    """A token that expired (on a cluster whose clock the test moves: an in-process API server with its own
    Prometheus, reached at a loopback endpoint) is refused like a wrong one."""
    from sim.apiserver import ApiServer
    from sim.prometheus import SimPrometheus, ensure_monitoring, mgmt_route_host
    from sim.store import Store

    now = [time.time()]
    srv = ApiServer(store=Store(clock=lambda: now[0])).start()
    try:
        other = SimPrometheus(srv, clock=lambda: now[0])
        srv.mount("/prometheus", other.handle)
        host = mgmt_route_host("other-mgmt.example")
        ensure_monitoring(srv.store, host)
        token = srv.store.create_token(MON, PROM, {"spec": {"expirationSeconds": 600}})["status"]["token"]
        path = endpoint_file(tmp_path / "other.yml", [
            {"endpoint": f"{srv.url}/prometheus/{host}", "token": "{{.KB_TOKEN}}", "metrics": ["metrics.yml"],
             "indexer": {"type": "local", "metricsDirectory": "other-metrics"}}])
        r = burner(world, guests["perf-0001"], "cluster-density-ms", "--iterations", "1", "--uuid", "ok",
                   "--metrics-endpoint", path, cwd=tmp_path / "ok", env={"KB_TOKEN": token})
        assert r.returncode == 0, r.stdout
        assert other.request_count(host) > 1 and docs(tmp_path / "ok" / "other-metrics", "jobSummary")
        now[0] += 601
        r = burner(world, guests["perf-0001"], "cluster-density-ms", "--iterations", "1", "--uuid", "late",
                   "--metrics-endpoint", path, cwd=tmp_path / "late", env={"KB_TOKEN": token})
        assert fatal(r) == "client_error: client error: 401"
    finally:
        srv.stop()


def test_metrics_endpoint_elasticsearch_with_credentials(world, guests, prom, tmp_path):
    """An opensearch entry whose esServers URL carries credentials (from the environment): basic auth on the
    bulk requests, and the password nowhere in the output or the log file, even at debug level."""
    import uuid

    from tests.esserver import FakeElasticsearch

    password = f"pw-{uuid.uuid4().hex}"
    entry = {"alias": "guest-es", "endpoint": f"https://{prom['guest_host']}", "token": "{{.KB_GUEST_TOKEN}}",
             "metrics": ["metrics.yml"],
             "indexer": {"type": "opensearch", "esServers": ["{{.KB_ES_SERVER}}"], "defaultIndex": "kb-metrics",
                         "insecureSkipVerify": True}}
    path = endpoint_file(tmp_path / "es.yml", [entry])
    with FakeElasticsearch(username="elastic", password=password) as es:
        server = f"http://elastic:{password}@127.0.0.1:{es.port}"
        r = burner(world, guests["perf-0001"], "cluster-density-ms", "--iterations", "1", "--uuid", "es",
                   "--metrics-endpoint", path, "--log-level", "debug", cwd=tmp_path / "es",
                   env={"KB_GUEST_TOKEN": prom["guest_token"], "KB_ES_SERVER": server})
        assert r.returncode == 0, r.stdout + r.stderr
        indexed = list(es.documents("kb-metrics").values())
        by_metric = {d["metricName"] for d in indexed}
        assert {"jobSummary", "podLatencyQuantilesMeasurement", "nodeCPU", "APIRequestRate"} <= by_metric
        assert [d["uuid"] for d in indexed if d["metricName"] == "jobSummary"] == ["es"]
        assert es.request_count("POST", "/_bulk") >= 1
        assert f"elastic:***@127.0.0.1:{es.port}" in r.stdout              # shown masked
        log = (tmp_path / "es" / "kube-burner-ocp-es.log").read_text()
        assert password not in r.stdout + r.stderr + log
        assert not list((tmp_path / "es").glob("collected-metrics*"))
        # the wrong password: the indexer cannot be created (rc 1); it is not shown either
        r = burner(world, guests["perf-0001"], "cluster-density-ms", "--iterations", "1", "--uuid", "es2",
                   "--metrics-endpoint", path, "--log-level", "debug", cwd=tmp_path / "es2",
                   env={"KB_GUEST_TOKEN": prom["guest_token"],
                        "KB_ES_SERVER": f"http://elastic:not-{password[::-1]}@127.0.0.1:{es.port}"})
        assert fatal(r).startswith("Error creating indexer 0: ES health check failed: ")
        assert password[::-1] not in r.stdout + r.stderr + (tmp_path / "es2" / "kube-burner-ocp-es2.log").read_text()


def test_alerts_are_evaluated_per_endpoint(world, guests, prom, tmp_path):
    """perf-0005 (``--load-alert-clusters``): its Prometheus has a critical ClusterOperatorDown firing; the
    entry with ``alerts`` on that Prometheus fires (rc 3, ``alert.json`` in its indexer), the management one
    (alerts on a Prometheus without it) does not."""
    kc = guests["perf-0005"]
    host = route_host(kc)
    guest, mgmt = guest_and_mgmt(prom, alerts=["alerts.yml"])
    guest = dict(guest, endpoint=f"https://{host}", metrics=[])
    path = endpoint_file(tmp_path / "alerts.yml", [guest, dict(mgmt, metrics=[])])
    env = {"KB_GUEST_TOKEN": sa_token(kc), "KB_MGMT_TOKEN": prom["mgmt_token"]}
    r = burner(world, kc, "cluster-density-ms", "--iterations", "1", "--uuid", "al", "--metrics-endpoint", path,
               cwd=tmp_path, env=env)
    assert r.returncode == 3, r.stdout
    assert completed(3, "al").match(r.stdout.splitlines()[-1])
    fired = [line for line in r.stdout.splitlines() if "🚨" in line]
    assert len(fired) == 1 and "level=error" in fired[0]
    assert "Critical prometheus alert. ClusterOperatorDown" in fired[0]
    [alert] = docs(tmp_path / "guest-metrics", "alert")
    assert alert["severity"] == "error" and alert["metricName"] == "alert" and alert["uuid"] == "al"
    assert not (tmp_path / "mgmt-metrics" / "alert.json").exists()
    summary_doc = docs(tmp_path / "mgmt-metrics", "jobSummary")[0]
    assert summary_doc["passed"] is False and "ClusterOperatorDown" in summary_doc["executionErrors"]
    # without --metrics-endpoint: the Prometheus discovered in the guest (route + TokenRequest), alerts.yml
    r = burner(world, kc, "cluster-density-ms", "--iterations", "1", "--uuid", "al2", "--local-indexing",
               cwd=tmp_path, env=env)
    assert r.returncode == 3, r.stdout
    assert f'msg="👽 Initializing prometheus client with URL: https://{host}"' in r.stdout
    assert docs(tmp_path / "collected-metrics-al2", "alert")[0]["severity"] == "error"
    assert docs(tmp_path / "collected-metrics-al2", "nodeCPU")            # the metrics.yml queries, scraped
    assert docs(tmp_path / "collected-metrics-al2", "maxAPIRequestRate-start")   # metrics-report.yml (instant)
    r = burner(world, kc, "cluster-density-ms", "--iterations", "1", "--uuid", "al3", "--local-indexing",
               "--alerting=false", cwd=tmp_path, env=env)
    assert r.returncode == 0 and not (tmp_path / "collected-metrics-al3" / "alert.json").exists()
    # a guest Prometheus of another cluster's route is not this cluster's: perf-0001 has nothing critical
    r = burner(world, guests["perf-0001"], "cluster-density-ms", "--iterations", "1", "--uuid", "al4",
               "--local-indexing", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout
