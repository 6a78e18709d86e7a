"""The simulated world's ``kube-burner-ocp`` stand-in (``DIR/bin/kube-burner-ocp``), checked from outside.

A world runs as a subprocess (``python -m sim serve``) with three hosted clusters made with the stand-in
``hypershift`` CLI: ``perf-0001`` (3 workers), ``perf-0007`` (``--load-fail-clusters``) and ``perf-0009``
(``--load-slow-clusters``).  kube-burner-ocp runs like a harness runs it: from another directory, without
PYTHONPATH, ``KUBECONFIG`` = the hosted cluster's admin kubeconfig (from its ``<name>-admin-kubeconfig``
secret); what it did is read back through the guest API.
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
WORKERS = {"perf-0001": 3, "perf-0007": 1, "perf-0009": 1}
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
                 "--load-fail-clusters", "7", "--load-slow-clusters", "9").start()
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
