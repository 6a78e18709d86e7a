"""Watch-based waiting against the simulated API server: resume, 410 relist, transient errors, deadlines."""
from __future__ import annotations

import threading
import time

import pytest
import yaml

from plugins.kube import Kube, WaitTimeout, format_time, normalize_time
from sim.apiserver import ApiServer

HC = "hostedclusters.hypershift.openshift.io"


@pytest.fixture
def server(tmp_path):
    srv = ApiServer(token="t0ken", history=20).start()
    srv.store.ensure_namespace("clusters")
    yield srv
    srv.stop()


@pytest.fixture
def kube(server, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(server.kubeconfig()))
    k = Kube.from_kubeconfig(str(path))
    yield k
    k.close()


def make_hc(server, name, phase="installing"):
    return server.store.create(HC, {"apiVersion": "hypershift.openshift.io/v1beta1", "kind": "HostedCluster",
                                    "metadata": {"name": name, "labels": {"phase": phase}},
                                    "spec": {"release": {"image": "x"}}}, namespace="clusters")


def later(delay, fn, *args):
    timer = threading.Timer(delay, fn, args)
    timer.start()
    return timer


def test_waits_for_a_change_seen_through_the_watch(server, kube):
    make_hc(server, "a")
    later(0.3, server.store.patch, HC, "a", {"metadata": {"labels": {"phase": "ready"}}}, "clusters")
    found = kube.wait_for("hostedclusters", lambda objs: objs["a"] if objs["a"]["metadata"]["labels"]["phase"]
                          == "ready" else None, deadline=time.monotonic() + 10, namespace="clusters")
    assert found["metadata"]["labels"]["phase"] == "ready"


def test_survives_dropped_watches_and_missed_history(server, kube):
    make_hc(server, "a")
    server.faults.set(drop_watches_after=0.2)

    def churn():
        # more changes than the server keeps in its event history (20)
        for i in range(60):
            server.store.patch(HC, "a", {"metadata": {"labels": {"step": str(i)}}}, "clusters")
            time.sleep(0.01)
        server.store.patch(HC, "a", {"metadata": {"labels": {"phase": "ready"}}}, "clusters")

    later(0.5, churn)
    found = kube.wait_for("hostedclusters", lambda objs: True if objs["a"]["metadata"]["labels"].get("phase")
                          == "ready" else None, deadline=time.monotonic() + 20, namespace="clusters")
    assert found is True


def test_retries_transient_errors_until_the_deadline(server, kube):
    make_hc(server, "a")
    server.faults.set(error_rate=1.0, error_code=503)
    later(1.0, server.faults.reset)
    assert kube.wait_for("hostedclusters", lambda objs: True if "a" in objs else None,
                         deadline=time.monotonic() + 20, namespace="clusters") is True


def test_deadline_raises(server, kube):
    make_hc(server, "a")
    with pytest.raises(WaitTimeout):
        kube.wait_for("hostedclusters", lambda objs: None, deadline=time.monotonic() + 0.5, namespace="clusters")


def test_wait_gone_reports_the_deletion(server, kube):
    make_hc(server, "a")
    later(0.3, server.store.delete, HC, "a", "clusters")
    before = time.time()
    gone = kube.wait_gone("hostedclusters", "clusters", "a", deadline=time.monotonic() + 10)
    assert before <= gone <= time.time()


def test_time_normalisation():
    assert normalize_time("2026-08-01T10:07:41+00:00") == "2026-08-01T10:07:41Z"
    assert normalize_time("2026-08-01T10:07:41.250000Z") == "2026-08-01T10:07:41.250000Z"
    assert normalize_time(None) is None
    import datetime as dt
    assert format_time(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == "2026-01-02T03:04:05Z"
