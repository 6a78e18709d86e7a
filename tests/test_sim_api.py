"""Tests for the simulated Kubernetes API server (sim/apiserver.py) and its store (sim/store.py).

Everything goes through real HTTP on 127.0.0.1, mostly with the official ``kubernetes``
client configured from a kubeconfig that carries a bearer token.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import pytest
import requests
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from sim.apiserver import ApiServer
from sim.store import ApiError, Store

pytestmark = pytest.mark.timeout(60)

G, V = "hypershift.openshift.io", "v1beta1"
HC, NP = "hostedclusters", "nodepools"
TOKEN = "s3cret-token"
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# ---------------------------------------------------------------------------
# fixtures and helpers


def _kube_client(tmp_path_factory, kubeconfig: dict) -> client.ApiClient:
    path = tmp_path_factory.mktemp("kc") / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(kubeconfig))
    return config.new_client_from_config(config_file=str(path))


@pytest.fixture(scope="module")
def server():
    srv = ApiServer(token=TOKEN, bookmark_interval=0.2, liveness_interval=0.2).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server, tmp_path_factory):
    kc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "sim",
        "clusters": [{"name": "sim", "cluster": {"server": server.url}}],
        "users": [{"name": "sim", "user": {"token": TOKEN}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}}],
    }
    c = _kube_client(tmp_path_factory, kc)
    yield c
    c.close()


@pytest.fixture()
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture()
def co(api):
    return client.CustomObjectsApi(api)


@pytest.fixture()
def ns(core):
    name = "t-" + uuid.uuid4().hex[:8]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def hc_body(name: str, labels: dict | None = None, **extra) -> dict:
    body = {
        "apiVersion": f"{G}/{V}",
        "kind": "HostedCluster",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"release": {"image": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"},
                 "platform": {"type": "AWS", "aws": {"region": "us-east-2"}}},
    }
    body.update(extra)
    return body


def np_body(name: str, cluster: str, replicas: int = 2) -> dict:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {"clusterName": cluster, "replicas": replicas,
                 "management": {"upgradeType": "Replace"},
                 "platform": {"type": "AWS", "aws": {"instanceType": "m5.large"}}},
    }


def auth() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}


def collect(stream_fn, *args, until=None, max_events=100, **kwargs) -> list:
    """Run a watch and collect events until ``until(events)`` is true or the stream ends."""
    w = watch.Watch()
    events = []
    for ev in w.stream(stream_fn, *args, **kwargs):
        events.append(ev)
        if (until is not None and until(events)) or len(events) >= max_events:
            w.stop()
            break
    return events


def raw_object(ev) -> dict:
    return ev["raw_object"] if "raw_object" in ev else ev["object"]


# ---------------------------------------------------------------------------
# discovery and auth


def test_discovery_paths_used_by_the_client(server, api):
    version = client.VersionApi(api).get_code()
    assert version.git_version == "v1.31.0-sim" and version.major == "1" and version.minor == "31"
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    core_res = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"namespaces", "secrets", "configmaps", "nodes", "events"} <= set(core_res)
    assert core_res["namespaces"].namespaced is False and core_res["secrets"].namespaced is True
    groups = client.ApisApi(api).get_api_versions().groups
    assert any(g.name == G and g.preferred_version.version == V for g in groups)
    r = requests.get(f"{server.url}/apis/{G}/{V}", headers=auth(), timeout=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == f"{G}/{V}"
    res = {x["name"]: x for x in doc["resources"]}
    assert res["hostedclusters"]["kind"] == "HostedCluster"
    assert res["hostedclusters"]["shortNames"] == ["hc", "hcs"]
    assert res["hostedclusters"]["namespaced"] is True
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(res["hostedclusters"]["verbs"])
    assert res["nodepools"]["shortNames"] == ["np", "nps"]
    assert "hostedclusters/status" in res and "nodepools/status" in res
    assert res["nodepools/scale"]["kind"] == "Scale" and res["nodepools/scale"]["group"] == "autoscaling"
    r = requests.get(f"{server.url}/apis/{G}", headers=auth(), timeout=5)
    assert r.json()["kind"] == "APIGroup" and r.json()["preferredVersion"]["groupVersion"] == f"{G}/{V}"
    for path in ("/healthz", "/readyz", "/livez"):
        r = requests.get(server.url + path, timeout=5)  # open without a token
        assert r.status_code == 200 and r.text == "ok"


def test_unauthorized_without_or_with_wrong_token(server):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        r = requests.get(f"{server.url}/api/v1/namespaces", headers=headers, timeout=5)
        assert r.status_code == 401
        st = r.json()
        assert st["kind"] == "Status" and st["status"] == "Failure"
        assert st["reason"] == "Unauthorized" and st["code"] == 401
    assert requests.get(f"{server.url}/api/v1/namespaces", headers=auth(), timeout=5).status_code == 200


def test_error_shapes_unknown_paths_and_verbs(server, ns):
    r = requests.get(f"{server.url}/apis/nope.example.com/v1/things", headers=auth(), timeout=5)
    assert r.status_code == 404 and r.json()["reason"] == "NotFound" and r.json()["kind"] == "Status"
    r = requests.post(f"{server.url}/api/v1/namespaces/{ns}/secrets/x", json={}, headers=auth(), timeout=5)
    assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"
    r = requests.patch(f"{server.url}/api/v1/namespaces/{ns}/configmaps/x", data="{}",
                       headers={**auth(), "Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 415
    r = requests.get(f"{server.url}/api/v1/namespaces/{ns}/secrets/missing", headers=auth(), timeout=5)
    st = r.json()
    assert r.status_code == 404 and st["message"] == 'secrets "missing" not found'
    assert st["details"] == {"name": "missing", "group": "", "kind": "secrets"}


# ---------------------------------------------------------------------------
# create / get / list


def test_create_sets_system_fields_and_drops_status(co, ns):
    body = hc_body("perf-01", status={"conditions": [{"type": "Available", "status": "True"}]})
    body["metadata"]["resourceVersion"] = "999"
    created = co.create_namespaced_custom_object(G, V, ns, HC, body)
    md = created["metadata"]
    assert md["namespace"] == ns and md["generation"] == 1
    assert uuid.UUID(md["uid"])
    assert RFC3339_SECONDS.match(md["creationTimestamp"])
    assert isinstance(md["resourceVersion"], str) and md["resourceVersion"] != "999"
    assert "status" not in created  # status subresource: status ignored on create
    got = co.get_namespaced_custom_object(G, V, ns, HC, "perf-01")
    assert got == created
    # resourceVersion is one global, increasing counter
    other = co.create_namespaced_custom_object(G, V, ns, HC, hc_body("perf-02"))
    assert int(other["metadata"]["resourceVersion"]) > int(md["resourceVersion"])


def test_create_errors(co, core, ns):
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("dup"))
    with pytest.raises(ApiException) as ei:
        co.create_namespaced_custom_object(G, V, ns, HC, hc_body("dup"))
    assert ei.value.status == 409 and json.loads(ei.value.body)["reason"] == "AlreadyExists"
    for bad in ("Bad_Name", "-x", "a" * 254):
        with pytest.raises(ApiException) as ei:
            co.create_namespaced_custom_object(G, V, ns, HC, hc_body(bad))
        assert ei.value.status == 422 and json.loads(ei.value.body)["reason"] == "Invalid"
    nameless = hc_body("x")
    del nameless["metadata"]["name"]
    with pytest.raises(ApiException) as ei:
        co.create_namespaced_custom_object(G, V, ns, HC, nameless)
    assert ei.value.status == 422
    with pytest.raises(ApiException) as ei:
        co.create_namespaced_custom_object(G, V, "no-such-ns", HC, hc_body("x"))
    assert ei.value.status == 404 and json.loads(ei.value.body)["message"] == 'namespaces "no-such-ns" not found'
    wrong = hc_body("x")
    wrong["kind"] = "NodePool"
    with pytest.raises(ApiException) as ei:
        co.create_namespaced_custom_object(G, V, ns, HC, wrong)
    assert ei.value.status == 400
    wrong = hc_body("x", )
    wrong["apiVersion"] = "hypershift.openshift.io/v1alpha1"
    with pytest.raises(ApiException) as ei:
        co.create_namespaced_custom_object(G, V, ns, HC, wrong)
    assert ei.value.status == 400
    # generateName
    gen = hc_body("x")
    gen["metadata"] = {"generateName": "perf-"}
    made = co.create_namespaced_custom_object(G, V, ns, HC, gen)
    assert re.match(r"^perf-[a-z0-9]{5}$", made["metadata"]["name"])
    # namespaces must be RFC 1123 labels (no dots)
    with pytest.raises(ApiException) as ei:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="a.b")))
    assert ei.value.status == 422


def test_list_label_and_field_selectors(co, core, ns):
    specs = {"a": {"env": "prod", "tier": "web"}, "b": {"env": "dev", "tier": "web"},
             "c": {"env": "qa"}, "d": {}}
    for name, labels in specs.items():
        co.create_namespaced_custom_object(G, V, ns, HC, hc_body(name, labels))

    def names(**kw):
        lst = co.list_namespaced_custom_object(G, V, ns, HC, **kw)
        return [i["metadata"]["name"] for i in lst["items"]]

    assert names() == ["a", "b", "c", "d"]
    assert names(label_selector="env=prod") == ["a"]
    assert names(label_selector="env==dev") == ["b"]
    assert names(label_selector="env!=prod") == ["b", "c", "d"]
    assert names(label_selector="env in (prod, qa)") == ["a", "c"]
    assert names(label_selector="env notin (prod,qa)") == ["b", "d"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c", "d"]
    assert names(label_selector="tier=web,env!=prod") == ["b"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c") == ["a", "b", "d"]
    assert names(field_selector=f"metadata.namespace={ns}", label_selector="env") == ["a", "b", "c"]
    with pytest.raises(ApiException) as ei:
        names(field_selector="spec.clusterName=x")
    assert ei.value.status == 400
    with pytest.raises(ApiException) as ei:
        names(label_selector="env in (prod")
    assert ei.value.status == 400
    # list metadata carries the store's current resourceVersion
    lst = co.list_namespaced_custom_object(G, V, ns, HC)
    assert lst["kind"] == "HostedClusterList" and lst["apiVersion"] == f"{G}/{V}"
    assert int(lst["metadata"]["resourceVersion"]) >= max(int(i["metadata"]["resourceVersion"]) for i in lst["items"])
    # across all namespaces
    everything = co.list_cluster_custom_object(G, V, HC, label_selector="env=qa")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everything["items"]] == [(ns, "c")]
    core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="s", labels={"k": ns})))
    secrets = core.list_secret_for_all_namespaces(label_selector=f"k={ns}")
    assert [s.metadata.name for s in secrets.items] == ["s"]


def test_pagination_with_limit_and_continue(core, ns):
    for i in range(7):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"cm-{i}", labels={"page": "yes"}), data={"i": str(i)}))
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=token, label_selector="page=yes")
        pages += 1
        seen += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 7 - len(seen)
        assert pages < 10
    assert pages == 3 and seen == [f"cm-{i}" for i in range(7)]


# ---------------------------------------------------------------------------
# watches


def test_watch_initial_live_and_resume(co, ns):
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("w1"))

    def mutate():
        co.create_namespaced_custom_object(G, V, ns, HC, hc_body("w2"))
        co.patch_namespaced_custom_object(G, V, ns, HC, "w2", {"spec": {"channel": "fast"}})
        co.delete_namespaced_custom_object(G, V, ns, HC, "w2")

    timer = threading.Timer(0.3, mutate)
    timer.start()
    events = collect(co.list_namespaced_custom_object, G, V, ns, HC, timeout_seconds=10,
                     until=lambda evs: evs[-1]["type"] == "DELETED")
    timer.join()
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert got == [("ADDED", "w1"), ("ADDED", "w2"), ("MODIFIED", "w2"), ("DELETED", "w2")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs[1] < rvs[2] < rvs[3]
    assert events[2]["object"]["spec"]["channel"] == "fast"
    # resume from the RV of the first live event: the later ones are replayed
    replay = collect(co.list_namespaced_custom_object, G, V, ns, HC, resource_version=str(rvs[1]),
                     timeout_seconds=5, until=lambda evs: len(evs) == 2)
    assert [(e["type"], int(e["object"]["metadata"]["resourceVersion"])) for e in replay] == \
        [("MODIFIED", rvs[2]), ("DELETED", rvs[3])]
    # replay only carries events of the watched resource
    core = client.CoreV1Api(co.api_client)
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="other")))
    replay = collect(core.list_namespaced_config_map, ns, resource_version=str(rvs[0]), timeout_seconds=5,
                     until=lambda evs: len(evs) == 1)
    assert [(e["type"], e["object"].metadata.name) for e in replay] == [("ADDED", "other")]


def test_watch_all_namespaces_with_selectors_and_typed_client(co, core, ns):
    start_rv = core.list_namespace().metadata.resource_version
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("sel-a", {"team": "x"}))
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("sel-b", {"team": "y"}))
    events = collect(co.list_cluster_custom_object, G, V, HC, label_selector="team=x",
                     resource_version=start_rv, timeout_seconds=5, until=lambda evs: len(evs) == 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "sel-a")]
    # typed watch from the core API with a field selector
    events = collect(core.list_namespace, field_selector=f"metadata.name={ns}", timeout_seconds=5,
                     until=lambda evs: len(evs) == 1)
    assert events[0]["type"] == "ADDED" and isinstance(events[0]["object"], client.V1Namespace)
    assert events[0]["object"].metadata.name == ns


def test_object_leaving_selector_is_delivered_as_deleted(co, ns):
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("mover", {"pool": "blue"}))
    rv = co.list_namespaced_custom_object(G, V, ns, HC)["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(G, V, ns, HC, "mover", {"metadata": {"labels": {"pool": "green"}}})
    co.patch_namespaced_custom_object(G, V, ns, HC, "mover", {"metadata": {"labels": {"pool": "blue"}}})
    events = collect(co.list_namespaced_custom_object, G, V, ns, HC, label_selector="pool=blue",
                     resource_version=rv, timeout_seconds=5, until=lambda evs: len(evs) == 2)
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]
    # the DELETED event carries the last matching content, at the event's RV
    assert events[0]["object"]["metadata"]["labels"] == {"pool": "blue"}
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) > int(rv)


def test_watch_too_old_resource_version_gives_410(tmp_path_factory):
    srv = ApiServer(token=TOKEN, history=5).start()
    try:
        srv.store.ensure_namespace("clusters")
        first_rv = srv.store.resource_version
        for i in range(10):
            srv.store.create(f"{HC}.{G}", hc_body(f"hc-{i}"), namespace="clusters")
        # raw protocol: HTTP 200, then a single ERROR event with a 410 Status
        r = requests.get(f"{srv.url}/apis/{G}/{V}/namespaces/clusters/{HC}",
                         params={"watch": "true", "resourceVersion": str(first_rv)}, headers=auth(), timeout=5)
        assert r.status_code == 200
        lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0]["type"] == "ERROR"
        status = lines[0]["object"]
        assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
        assert re.match(rf"^too old resource version: {first_rv} \(\d+\)$", status["message"])
        # the official client surfaces it as ApiException(410)
        c = _kube_client(tmp_path_factory, srv.kubeconfig())
        with pytest.raises(ApiException) as ei:
            collect(client.CustomObjectsApi(c).list_namespaced_custom_object, G, V, "clusters", HC,
                    resource_version=str(first_rv), timeout_seconds=2)
        assert ei.value.status == 410
        c.close()
        # a recent RV is still fine
        recent = srv.store.resource_version - 2
        r = requests.get(f"{srv.url}/apis/{G}/{V}/{HC}", params={"watch": "1", "resourceVersion": str(recent),
                                                                 "timeoutSeconds": "1"}, headers=auth(), timeout=5)
        assert [json.loads(x)["type"] for x in r.text.splitlines()] == ["ADDED", "ADDED"]
    finally:
        srv.stop()


def test_watch_bookmarks_and_timeout(server, co, ns):
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("bm"))
    t0 = time.monotonic()
    events = collect(co.list_namespaced_custom_object, G, V, ns, HC, allow_watch_bookmarks=True,
                     timeout_seconds=1)
    elapsed = time.monotonic() - t0
    assert 0.8 < elapsed < 4  # the server ends the stream at timeoutSeconds
    assert events[0]["type"] == "ADDED"
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, "expected at least one bookmark with a 0.2 s bookmark interval"
    obj = raw_object(bookmarks[-1])
    assert obj["kind"] == "HostedCluster" and obj["apiVersion"] == f"{G}/{V}"
    assert int(obj["metadata"]["resourceVersion"]) >= int(events[0]["object"]["metadata"]["resourceVersion"])
    # no bookmarks unless asked for
    events = collect(co.list_namespaced_custom_object, G, V, ns, HC, timeout_seconds=1)
    assert [e["type"] for e in events] == ["ADDED"]


# ---------------------------------------------------------------------------
# updates, status subresource, patches


def test_status_subresource_semantics(co, ns):
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("st"))
    cond = {"type": "Available", "status": "True", "reason": "AsExpected", "message": "ok",
            "lastTransitionTime": "2026-08-01T10:07:41Z"}
    # /status takes only status
    after = co.patch_namespaced_custom_object_status(
        G, V, ns, HC, "st", {"status": {"conditions": [cond]}, "spec": {"channel": "ignored"},
                             "metadata": {"labels": {"ignored": "yes"}}})
    assert after["status"]["conditions"] == [cond]
    assert "channel" not in after["spec"] and "ignored" not in (after["metadata"].get("labels") or {})
    assert after["metadata"]["generation"] == 1
    # main resource ignores status, bumps generation on spec change
    after2 = co.patch_namespaced_custom_object(G, V, ns, HC, "st", {"spec": {"channel": "stable-4.17"},
                                                                    "status": {"conditions": []}})
    assert after2["spec"]["channel"] == "stable-4.17" and after2["status"]["conditions"] == [cond]
    assert after2["metadata"]["generation"] == 2
    # metadata-only change: no generation bump
    after3 = co.patch_namespaced_custom_object(G, V, ns, HC, "st", {"metadata": {"annotations": {"a": "b"}}})
    assert after3["metadata"]["generation"] == 2 and after3["metadata"]["annotations"] == {"a": "b"}
    # PUT on the main resource keeps status; PUT on /status keeps spec
    full = co.get_namespaced_custom_object(G, V, ns, HC, "st")
    full["spec"]["channel"] = "candidate"
    full["status"] = {"conditions": []}
    put = co.replace_namespaced_custom_object(G, V, ns, HC, "st", full)
    assert put["spec"]["channel"] == "candidate" and put["status"]["conditions"] == [cond]
    assert put["metadata"]["generation"] == 3
    put["spec"]["channel"] = "nope"
    put["status"] = {"conditions": [], "payloadArch": "AMD64"}
    put2 = co.replace_namespaced_custom_object_status(G, V, ns, HC, "st", put)
    assert put2["spec"]["channel"] == "candidate" and put2["status"] == {"conditions": [], "payloadArch": "AMD64"}
    assert put2["metadata"]["generation"] == 3
    # a no-op update does not change the resourceVersion
    same = co.patch_namespaced_custom_object(G, V, ns, HC, "st", {"spec": {"channel": "candidate"}})
    assert same["metadata"]["resourceVersion"] == put2["metadata"]["resourceVersion"]


def test_put_conflict_on_stale_resource_version(co, ns):
    created = co.create_namespaced_custom_object(G, V, ns, HC, hc_body("cf"))
    stale = json.loads(json.dumps(created))
    co.patch_namespaced_custom_object(G, V, ns, HC, "cf", {"spec": {"channel": "a"}})
    stale["spec"]["channel"] = "b"
    with pytest.raises(ApiException) as ei:
        co.replace_namespaced_custom_object(G, V, ns, HC, "cf", stale)
    st = json.loads(ei.value.body)
    assert ei.value.status == 409 and st["reason"] == "Conflict" and "the object has been modified" in st["message"]
    fresh = co.get_namespaced_custom_object(G, V, ns, HC, "cf")
    fresh["spec"]["channel"] = "b"
    assert co.replace_namespaced_custom_object(G, V, ns, HC, "cf", fresh)["spec"]["channel"] == "b"
    # a merge patch carrying a stale resourceVersion is a precondition too
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(G, V, ns, HC, "cf", {"metadata": {"resourceVersion": "1"},
                                                                "spec": {"channel": "c"}})
    assert ei.value.status == 409
    # URL/body name mismatch
    fresh = co.get_namespaced_custom_object(G, V, ns, HC, "cf")
    with pytest.raises(ApiException) as ei:
        co.replace_namespaced_custom_object(G, V, ns, HC, "other", fresh)
    assert ei.value.status == 400


def test_merge_json_and_apply_patches(co, core, ns):
    co.create_namespaced_custom_object(G, V, ns, HC, hc_body("p", {"keep": "1", "drop": "1"}))
    # RFC 7386 merge patch: null deletes
    out = co.patch_namespaced_custom_object(G, V, ns, HC, "p", {"metadata": {"labels": {"drop": None, "new": "1"}},
                                                                "spec": {"platform": {"aws": {"region": "eu-west-1"}}}})
    assert out["metadata"]["labels"] == {"keep": "1", "new": "1"}
    assert out["spec"]["platform"] == {"type": "AWS", "aws": {"region": "eu-west-1"}}
    # JSON patch (list body)
    ops = [{"op": "add", "path": "/spec/channel", "value": "fast"},
           {"op": "replace", "path": "/spec/release/image", "value": "img:2"},
           {"op": "remove", "path": "/metadata/labels/new"}]
    out = co.patch_namespaced_custom_object(G, V, ns, HC, "p", ops, _content_type="application/json-patch+json")
    assert out["spec"]["channel"] == "fast" and out["spec"]["release"]["image"] == "img:2"
    assert out["metadata"]["labels"] == {"keep": "1"}
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(G, V, ns, HC, "p", [{"op": "test", "path": "/spec/channel", "value": "x"}],
                                          _content_type="application/json-patch+json")
    assert ei.value.status == 422
    # JSON patch on /status
    out = co.patch_namespaced_custom_object_status(G, V, ns, HC, "p", [{"op": "add", "path": "/status",
                                                                        "value": {"payloadArch": "ARM64"}}],
                                                   _content_type="application/json-patch+json")
    assert out["status"] == {"payloadArch": "ARM64"}
    # server-side apply: creates when missing, merges when present
    applied = hc_body("applied", {"via": "ssa"})
    # (creating answers 201 Created, which this client's CustomObjectsApi maps to no body)
    co.patch_namespaced_custom_object(G, V, ns, HC, "applied", applied, field_manager="harness",
                                      force=True, _content_type="application/apply-patch+yaml")
    out = co.get_namespaced_custom_object(G, V, ns, HC, "applied")
    assert out["metadata"]["labels"] == {"via": "ssa"} and out["metadata"]["generation"] == 1
    applied["spec"]["channel"] = "eus"
    out = co.patch_namespaced_custom_object(G, V, ns, HC, "applied", applied, field_manager="harness",
                                            _content_type="application/apply-patch+yaml")
    assert out["spec"]["channel"] == "eus" and out["metadata"]["generation"] == 2
    yaml_body = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa-cm"},
                                "data": {"k": "v"}})
    r = requests.patch(f"{core.api_client.configuration.host}/api/v1/namespaces/{ns}/configmaps/ssa-cm",
                       params={"fieldManager": "harness"}, data=yaml_body,
                       headers={**auth(), "Content-Type": "application/apply-patch+yaml"}, timeout=5)
    assert r.status_code == 201 and r.json()["data"] == {"k": "v"}
    # a dict body with the core client goes out as a strategic merge patch
    cm = core.patch_namespaced_config_map("ssa-cm", ns, {"data": {"k2": "v2"}})
    assert cm.data == {"k": "v", "k2": "v2"}


# ---------------------------------------------------------------------------
# deletion


def test_finalizers_delay_deletion(co, ns):
    body = hc_body("fin")
    body["metadata"]["finalizers"] = ["hypershift.openshift.io/finalizer"]
    created = co.create_namespaced_custom_object(G, V, ns, HC, body)
    rv0 = created["metadata"]["resourceVersion"]
    resp = co.delete_namespaced_custom_object(G, V, ns, HC, "fin")
    assert resp["metadata"]["deletionTimestamp"] and resp["metadata"]["deletionGracePeriodSeconds"] == 0
    assert RFC3339_SECONDS.match(resp["metadata"]["deletionTimestamp"])
    still = co.get_namespaced_custom_object(G, V, ns, HC, "fin")
    assert still["metadata"]["deletionTimestamp"] == resp["metadata"]["deletionTimestamp"]
    # no new finalizers while deleting
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object(G, V, ns, HC, "fin", {"metadata": {"finalizers": ["a", "b"]}})
    assert ei.value.status == 422
    # status updates still work while terminating
    co.patch_namespaced_custom_object_status(G, V, ns, HC, "fin", {"status": {"payloadArch": "AMD64"}})
    co.patch_namespaced_custom_object(G, V, ns, HC, "fin", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as ei:
        co.get_namespaced_custom_object(G, V, ns, HC, "fin")
    assert ei.value.status == 404
    events = collect(co.list_namespaced_custom_object, G, V, ns, HC, resource_version=rv0, timeout_seconds=5,
                     until=lambda evs: evs[-1]["type"] == "DELETED")
    assert [e["type"] for e in events] == ["MODIFIED", "MODIFIED", "DELETED"]
    with pytest.raises(ApiException) as ei:
        co.delete_namespaced_custom_object(G, V, ns, HC, "fin")
    assert ei.value.status == 404


def test_delete_without_finalizers_is_immediate(core, ns):
    core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="gone"),
                                                      string_data={"password": "x"}))
    got = core.read_namespaced_secret("gone", ns)
    assert got.data == {"password": "eA=="} and got.type == "Opaque"
    resp = core.delete_namespaced_secret("gone", ns)
    assert resp["kind"] == "Status" and resp["status"] == "Success"
    with pytest.raises(ApiException) as ei:
        core.read_namespaced_secret("gone", ns)
    assert ei.value.status == 404


def test_namespace_deletion_cascades(co, core, ns):
    body = hc_body("held")
    body["metadata"]["finalizers"] = ["hypershift.openshift.io/finalizer"]
    co.create_namespaced_custom_object(G, V, ns, HC, body)
    core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="s1")))
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1")))
    resp = core.delete_namespace(ns)
    assert resp["status"]["phase"] == "Terminating" and resp["metadata"]["deletionTimestamp"]
    assert core.read_namespace(ns).status.phase == "Terminating"
    assert core.list_namespaced_secret(ns).items == []
    assert core.list_namespaced_config_map(ns).items == []
    held = co.get_namespaced_custom_object(G, V, ns, HC, "held")
    assert held["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="late")))
    assert ei.value.status == 403 and json.loads(ei.value.body)["reason"] == "Forbidden"
    co.patch_namespaced_custom_object(G, V, ns, HC, "held", {"metadata": {"finalizers": []}})
    with pytest.raises(ApiException) as ei:
        core.read_namespace(ns)
    assert ei.value.status == 404
    # protected namespaces
    with pytest.raises(ApiException) as ei:
        core.delete_namespace("kube-system")
    assert ei.value.status == 403


def test_deletecollection(core, ns):
    for i in range(3):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"dc-{i}", labels={"batch": "a" if i < 2 else "b"})))
    core.delete_collection_namespaced_config_map(ns, label_selector="batch=a")
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["dc-2"]


# ---------------------------------------------------------------------------
# scale subresource


def test_nodepool_scale_subresource(co, ns):
    co.create_namespaced_custom_object(G, V, ns, NP, np_body("np1", "hc1", replicas=2))
    co.patch_namespaced_custom_object_status(G, V, ns, NP, "np1", {"status": {"replicas": 1}})
    scale = co.get_namespaced_custom_object_scale(G, V, ns, NP, "np1")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"]["replicas"] == 1
    out = co.patch_namespaced_custom_object_scale(G, V, ns, NP, "np1", {"spec": {"replicas": 5}})
    assert out["spec"]["replicas"] == 5
    np_obj = co.get_namespaced_custom_object(G, V, ns, NP, "np1")
    assert np_obj["spec"]["replicas"] == 5 and np_obj["metadata"]["generation"] == 2
    scale = co.get_namespaced_custom_object_scale(G, V, ns, NP, "np1")
    scale["spec"]["replicas"] = 3
    out = co.replace_namespaced_custom_object_scale(G, V, ns, NP, "np1", scale)
    assert out["spec"]["replicas"] == 3
    stale = dict(scale, spec={"replicas": 4})
    with pytest.raises(ApiException) as ei:
        co.replace_namespaced_custom_object_scale(G, V, ns, NP, "np1", stale)
    assert ei.value.status == 409
    with pytest.raises(ApiException) as ei:
        co.patch_namespaced_custom_object_scale(G, V, ns, NP, "np1", {"spec": {"replicas": -1}})
    assert ei.value.status == 422
    with pytest.raises(ApiException) as ei:  # HostedClusters have no scale subresource
        co.get_namespaced_custom_object_scale(G, V, ns, HC, "np1")
    assert ei.value.status == 404


# ---------------------------------------------------------------------------
# plain requests round trip


def test_hostedcluster_json_round_trips_through_requests(server, ns):
    doc = {
        "apiVersion": f"{G}/{V}",
        "kind": "HostedCluster",
        "metadata": {"name": "rt-01", "namespace": ns,
                     "labels": {"hypershift.openshift.io/auto-created-for-infra": "rt-01-x7k2p"},
                     "annotations": {"hypershift.openshift.io/cleanup-cloud-resources": "true"},
                     "finalizers": ["hypershift.openshift.io/finalizer"]},
        "spec": {
            "release": {"image": "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"},
            "infraID": "rt-01-x7k2p",
            "controllerAvailabilityPolicy": "SingleReplica",
            "dns": {"baseDomain": "perf.example.com"},
            "networking": {"networkType": "OVNKubernetes", "clusterNetwork": [{"cidr": "10.132.0.0/14"}],
                           "serviceNetwork": [{"cidr": "172.31.0.0/16"}]},
            "platform": {"type": "AWS", "aws": {"region": "us-east-2", "endpointAccess": "Public",
                                                "resourceTags": [{"key": "owner", "value": "perf"}]}},
            "pullSecret": {"name": "rt-01-pull-secret"},
            "services": [{"service": s, "servicePublishingStrategy": {"type": "Route"}}
                         for s in ("APIServer", "Ignition", "Konnectivity", "OAuthServer")],
            "fips": False,
            "nodeSelector": None,
        },
    }
    base = f"{server.url}/apis/{G}/{V}/namespaces/{ns}/{HC}"
    r = requests.post(base, json=doc, headers=auth(), timeout=5)
    assert r.status_code == 201
    created = r.json()
    assert created["spec"] == doc["spec"]
    for k in ("labels", "annotations", "finalizers"):
        assert created["metadata"][k] == doc["metadata"][k]
    status = {
        "conditions": [{"type": "Available", "status": "True", "reason": "AsExpected", "message": "m",
                        "lastTransitionTime": "2026-08-01T10:07:41Z", "observedGeneration": 1}],
        "version": {"desired": {"image": "img", "version": "4.17.3"}, "observedGeneration": 1,
                    "availableUpdates": None,
                    "history": [{"state": "Partial", "startedTime": "2026-08-01T10:02:10Z",
                                 "completionTime": None, "version": "", "image": "img", "verified": False}]},
        "controlPlaneEndpoint": {"host": "", "port": 0},
    }
    created["status"] = status
    r = requests.put(f"{base}/rt-01/status", json=created, headers=auth(), timeout=5)
    assert r.status_code == 200 and r.json()["status"] == status
    r = requests.get(f"{base}/rt-01", headers=auth(), timeout=5)
    got = r.json()
    assert r.headers["Content-Type"] == "application/json"
    assert got["spec"] == doc["spec"] and got["status"] == status  # nulls and falses survive
    assert got["status"]["version"]["history"][0]["completionTime"] is None
    r = requests.put(f"{base}/rt-01", data=json.dumps(got), headers={**auth(), "Content-Type": "application/json"},
                     timeout=5)
    assert r.status_code == 200 and r.json()["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]


# ---------------------------------------------------------------------------
# guests, persistence, faults, lifecycle


def test_guest_cluster_paths_with_their_own_token(server, tmp_path_factory):
    guest = server.add_guest("clusters", "perf-01", token="guesttoken")
    try:
        assert server.get_guest("clusters", "perf-01") is guest
        assert ("clusters", "perf-01") in server.guest_keys()
        guest.create("nodes", {"metadata": {"name": "ip-10-0-1-1.ec2.internal", "labels": {"role": "worker"}},
                               "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        kc = server.kubeconfig(guest=("clusters", "perf-01"))
        assert kc["clusters"][0]["cluster"]["server"] == f"{server.url}/guests/clusters/perf-01"
        assert kc["users"][0]["user"]["token"] == "guesttoken"
        gc = _kube_client(tmp_path_factory, kc)
        gcore = client.CoreV1Api(gc)
        assert client.VersionApi(gc).get_code().git_version == "v1.31.0-sim"
        assert {r.name for r in gcore.get_api_resources().resources} >= {"nodes", "namespaces"}
        nodes = gcore.list_node(label_selector="role=worker").items
        assert [n.metadata.name for n in nodes] == ["ip-10-0-1-1.ec2.internal"]
        assert nodes[0].status.conditions[0].type == "Ready"
        assert {n.metadata.name for n in gcore.list_namespace().items} == {"default", "kube-system"}
        # watch through the guest prefix
        threading.Timer(0.2, lambda: guest.delete("nodes", "ip-10-0-1-1.ec2.internal")).start()
        events = collect(gcore.list_node, timeout_seconds=5, until=lambda evs: evs[-1]["type"] == "DELETED")
        assert [e["type"] for e in events] == ["ADDED", "DELETED"]
        # management objects are not visible in the guest and tokens are not interchangeable
        gurl = f"{server.url}/guests/clusters/perf-01"
        assert requests.get(f"{gurl}/api/v1/nodes", headers=auth(), timeout=5).status_code == 401
        r = requests.get(f"{server.url}/api/v1/nodes", headers={"Authorization": "Bearer guesttoken"}, timeout=5)
        assert r.status_code == 401
        assert requests.get(f"{gurl}/healthz", timeout=5).text == "ok"
        gc.close()
    finally:
        assert server.remove_guest("clusters", "perf-01")
    assert server.get_guest("clusters", "perf-01") is None
    r = requests.get(f"{server.url}/guests/clusters/perf-01/api/v1/nodes",
                     headers={"Authorization": "Bearer guesttoken"}, timeout=5)
    assert r.status_code == 503 and r.json()["kind"] == "Status"


def test_snapshot_restore_round_trip(tmp_path_factory):
    srv = ApiServer(token=TOKEN).start()
    try:
        st = srv.store
        st.ensure_namespace("clusters")
        hc = st.create(f"{HC}.{G}", hc_body("snap", {"x": "y"}), namespace="clusters")
        st.patch(f"{HC}.{G}", "snap", {"status": {"payloadArch": "AMD64"}}, namespace="clusters",
                 subresource="status")
        st.create(f"{NP}.{G}", np_body("snap-np", "snap"), namespace="clusters")
        g = srv.add_guest("clusters", "snap", token="gt")
        g.create("nodes", {"metadata": {"name": "n1"}})
        before_rv = st.resource_version
        port = srv.port
        data = json.loads(json.dumps(srv.snapshot()))  # must be JSON-serialisable
    finally:
        srv.stop()
    assert data["port"] == port and data["token"] == TOKEN
    srv2 = ApiServer.from_snapshot(data, port=0, token="new-token").start()
    try:
        assert requests.get(f"{srv2.url}/api/v1/namespaces", headers={"Authorization": "Bearer new-token"},
                            timeout=5).status_code == 200
        st2 = srv2.store
        got = st2.get(f"{HC}.{G}", "snap", namespace="clusters")
        assert got["metadata"]["uid"] == hc["metadata"]["uid"]
        assert got["status"] == {"payloadArch": "AMD64"}
        assert st2.resource_version == before_rv
        assert [n["metadata"]["name"] for n in st2.list(f"{NP}.{G}", namespace="clusters")] == ["snap-np"]
        assert srv2.guest_keys() == [("clusters", "snap")]
        r = requests.get(f"{srv2.url}/guests/clusters/snap/api/v1/nodes",
                         headers={"Authorization": "Bearer gt"}, timeout=5)
        assert [i["metadata"]["name"] for i in r.json()["items"]] == ["n1"]
        # new writes continue the RV sequence; old RVs are too old to resume from
        newer = st2.patch(f"{HC}.{G}", "snap", {"spec": {"channel": "x"}}, namespace="clusters")
        assert int(newer["metadata"]["resourceVersion"]) == before_rv + 1
        with pytest.raises(ApiError) as ei:
            st2.watch(f"{HC}.{G}", resource_version=str(before_rv - 1))
        assert ei.value.code == 410
        c = _kube_client(tmp_path_factory, srv2.kubeconfig())
        assert client.CustomObjectsApi(c).get_namespaced_custom_object(G, V, "clusters", HC, "snap")
        c.close()
        data2 = srv2.snapshot()
    finally:
        srv2.stop()
    # by default a restored server comes back on the same port with the same token
    srv3 = ApiServer.from_snapshot(data2).start()
    try:
        assert srv3.port == data2["port"] and srv3.token == "new-token"
    finally:
        srv3.stop()
    # a bare store round-trips too
    st3 = Store.restore(Store.restore(data["store"]).snapshot())
    assert st3.get(f"{HC}.{G}", "snap", "clusters")["metadata"]["uid"] == hc["metadata"]["uid"]


def test_fault_injection(server, ns):
    url = f"{server.url}/api/v1/namespaces/{ns}/configmaps"
    try:
        server.faults.set(error_rate=1.0, error_code=503, seed=7)
        r = requests.get(url, headers=auth(), timeout=5)
        assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200  # health is never faulted
        server.faults.set(error_rate=1.0, error_code=429, verbs=("create",))
        assert requests.get(url, headers=auth(), timeout=5).status_code == 200
        r = requests.post(url, json={"metadata": {"name": "x"}}, headers=auth(), timeout=5)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"

        def outcomes(seed):
            server.faults.set(error_rate=0.5, error_code=500, seed=seed)
            return [requests.get(url, headers=auth(), timeout=5).status_code for _ in range(12)]
        first = outcomes(3)
        assert set(first) == {200, 500} and outcomes(3) == first  # seeded RNG: reproducible
        server.faults.set(delay=0.3)
        t0 = time.monotonic()
        requests.get(url, headers=auth(), timeout=5)
        assert time.monotonic() - t0 >= 0.3
        server.faults.set(drop_watches_after=0.3)
        t0 = time.monotonic()
        r = requests.get(url, params={"watch": "true", "timeoutSeconds": "30"}, headers=auth(), timeout=5)
        assert r.status_code == 200 and time.monotonic() - t0 < 3
    finally:
        server.faults.reset()
    assert requests.get(url, headers=auth(), timeout=5).status_code == 200


def test_stop_is_prompt_with_open_watches():
    srv = ApiServer(token=TOKEN).start()
    srv.store.ensure_namespace("clusters")
    ended = []

    def watcher():
        with requests.get(f"{srv.url}/apis/{G}/{V}/{HC}", params={"watch": "true"}, headers=auth(),
                          stream=True, timeout=10) as r:
            for _ in r.iter_lines():
                pass
        ended.append(True)

    threads = [threading.Thread(target=watcher, daemon=True) for _ in range(5)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while srv.active_watches < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.active_watches == 5
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 2
    for t in threads:
        t.join(5)
    assert len(ended) == 5
    assert srv.request_counts.get("watch") == 5


def test_in_process_store_api_and_watch():
    st = Store(history=100)
    st.ensure_namespace("clusters")
    w = st.watch("hc", namespace="clusters")  # short names resolve too
    try:
        st.create("hostedclusters.hypershift.openshift.io", hc_body("ip"), namespace="clusters")
        out = st.patch("hostedclusters.hypershift.openshift.io", "ip", {"spec": {"channel": "c"}},
                       namespace="clusters")
        out["spec"]["channel"] = "mutating a returned copy does not touch the store"
        assert st.get("HostedCluster", "ip", "clusters")["spec"]["channel"] == "c"
        obj = st.get("hostedclusters.hypershift.openshift.io", "ip", "clusters")
        obj["status"] = {"payloadArch": "AMD64"}
        st.update("hostedclusters.hypershift.openshift.io", obj, subresource="status")
        assert st.delete("hostedclusters.hypershift.openshift.io", "ip", "clusters")["metadata"]["name"] == "ip"
        assert st.delete("hostedclusters.hypershift.openshift.io", "ip", "clusters") is None
        assert st.get("hostedclusters.hypershift.openshift.io", "ip", "clusters") is None
        types = []
        while (ev := w.get(timeout=0.5)) is not None:
            types.append(ev[0])
        assert types == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
        with pytest.raises(ApiError) as ei:
            st.create("secrets", {"metadata": {"name": "s"}}, namespace="missing")
        assert ei.value.code == 404
        assert st.list("secrets", label_selector={"a": "b"}) == []
        with pytest.raises(ApiError) as ei:  # metadata a real apiserver could not decode
            st.create("configmaps", {"metadata": {"name": "bad", "labels": {"n": 1}}}, namespace="clusters")
        assert ei.value.code == 400
        st.create("nodepools.hypershift.openshift.io", np_body("np", "ip", replicas=1), namespace="clusters")
        scale = st.patch("nodepools.hypershift.openshift.io", "np", {"spec": {"replicas": 4}},
                         namespace="clusters", subresource="scale")
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4
        assert st.get("nodepools.hypershift.openshift.io", "np", "clusters")["spec"]["replicas"] == 4
    finally:
        w.close()
    assert st.watcher_count() == 0


def test_watch_is_released_when_the_client_goes_away(server):
    def wait_for(pred):
        deadline = time.monotonic() + 5
        while not pred() and time.monotonic() < deadline:
            time.sleep(0.02)
        return pred()

    before = server.active_watches
    r = requests.get(f"{server.url}/api/v1/namespaces", params={"watch": "true"}, headers=auth(), stream=True,
                     timeout=5)
    assert r.status_code == 200
    assert wait_for(lambda: server.active_watches == before + 1)
    r.close()
    assert wait_for(lambda: server.active_watches == before)


# ---------------------------------------------------------------------------
# service accounts, TokenRequest, routes, the simulated Prometheus

MON, PROM = "openshift-monitoring", "prometheus-k8s"
ROUTE_G = "route.openshift.io"


def token_request(seconds: int | None = 3600, audiences: list | None = None):
    spec = client.V1TokenRequestSpec(audiences=audiences or [], expiration_seconds=seconds)
    return client.AuthenticationV1TokenRequest(spec=spec)


def test_discovery_of_service_accounts_tokens_and_routes(server, api):
    core_res = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    sa = core_res["serviceaccounts"]
    assert sa.kind == "ServiceAccount" and sa.namespaced is True and sa.short_names == ["sa"]
    tok = core_res["serviceaccounts/token"]
    assert (tok.kind, tok.group, tok.version, tok.verbs) == ("TokenRequest", "authentication.k8s.io", "v1", ["create"])
    groups = client.ApisApi(api).get_api_versions().groups
    assert any(g.name == ROUTE_G and g.preferred_version.version == "v1" for g in groups)
    doc = requests.get(f"{server.url}/apis/{ROUTE_G}/v1", headers=auth(), timeout=5).json()
    res = {x["name"]: x for x in doc["resources"]}
    assert res["routes"]["kind"] == "Route" and res["routes"]["namespaced"] is True and "routes/status" in res


def test_token_request_with_the_official_client(server, core, ns):
    core.create_namespaced_service_account(ns, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot")))
    before = time.time()
    tr = core.create_namespaced_service_account_token("robot", ns, token_request(3600))
    assert isinstance(tr, client.AuthenticationV1TokenRequest)
    assert tr.kind == "TokenRequest" and tr.api_version == "authentication.k8s.io/v1"
    assert tr.metadata.name == "robot" and tr.metadata.namespace == ns
    assert tr.spec.audiences == ["https://kubernetes.default.svc"] and tr.spec.expiration_seconds == 3600
    token = tr.status.token
    assert token.count(".") == 2 and len(token) > 300          # JWT-shaped
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{ns}:robot" and claims["kubernetes.io"]["namespace"] == ns
    expiry = tr.status.expiration_timestamp.timestamp()
    assert before + 3600 - 2 <= expiry <= time.time() + 3600 + 1
    # recorded: the store reviews it (namespace, service account, expiry) ...
    review = server.store.review_token(token)
    assert review["namespace"] == ns and review["name"] == "robot" and review["exp"] == int(expiry)
    # ... every request issues another one, audiences kept
    tr2 = core.create_namespaced_service_account_token("robot", ns, token_request(600, ["prometheus"]))
    assert tr2.status.token != token and tr2.spec.audiences == ["prometheus"]
    assert server.store.review_token("not-a-token") is None
    # a re-created service account invalidates the tokens of the old one
    core.delete_namespaced_service_account("robot", ns)
    assert server.store.review_token(token) is None
    core.create_namespaced_service_account(ns, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot")))
    assert server.store.review_token(token) is None


def test_token_request_errors(server, core, ns):
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_service_account_token("nobody", ns, token_request(3600))
    assert ei.value.status == 404
    st = json.loads(ei.value.body)
    assert st["reason"] == "NotFound" and st["message"] == 'serviceaccounts "nobody" not found'
    core.create_namespaced_service_account(ns, {"metadata": {"name": "robot"}})
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_service_account_token("robot", ns, token_request(599))
    assert ei.value.status == 422
    st = json.loads(ei.value.body)
    assert st["reason"] == "Invalid" and st["details"]["causes"][0]["field"] == "spec.expirationSeconds"
    assert st["message"] == ('TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: '
                             'Invalid value: 599: may not specify a duration less than 10 minutes')
    url = f"{server.url}/api/v1/namespaces/{ns}/serviceaccounts/robot/token"
    # the default lifetime is an hour
    r = requests.post(url, json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
                      headers=auth(), timeout=5)
    assert r.status_code == 201 and r.json()["spec"]["expirationSeconds"] == 3600
    # not a TokenRequest: 400
    for body in ({"apiVersion": "v1", "kind": "Secret", "spec": {}}, {"kind": "TokenRequest", "spec": "x"},
                 {"spec": {"expirationSeconds": "long"}}, ["not", "an", "object"]):
        r = requests.post(url, json=body, headers=auth(), timeout=5)
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest", body
    # only POST on the subresource; no token without authentication
    assert requests.get(url, headers=auth(), timeout=5).status_code == 405
    assert requests.post(url, json={"spec": {}}, timeout=5).status_code == 401


def test_routes_crud(co, ns):
    body = {"apiVersion": f"{ROUTE_G}/v1", "kind": "Route", "metadata": {"name": "web"},
            "spec": {"host": "web.apps.example.test", "to": {"name": "web"}, "port": {"targetPort": "http"}},
            "status": {"ingress": [{"host": "ignored"}]}}
    created = co.create_namespaced_custom_object(ROUTE_G, "v1", ns, "routes", body)
    assert "status" not in created                                    # status only through /status
    assert created["spec"]["to"] == {"name": "web", "kind": "Service", "weight": 100}
    assert created["spec"]["wildcardPolicy"] == "None"
    created["status"] = {"ingress": [{"host": "web.apps.example.test", "routerName": "default",
                                      "conditions": [{"type": "Admitted", "status": "True"}]}]}
    st = co.replace_namespaced_custom_object_status(ROUTE_G, "v1", ns, "routes", "web", created)
    assert st["status"]["ingress"][0]["routerName"] == "default"
    patched = co.patch_namespaced_custom_object(ROUTE_G, "v1", ns, "routes", "web",
                                                {"spec": {"host": "other.apps.example.test"}})
    assert patched["spec"]["host"] == "other.apps.example.test" and patched["metadata"]["generation"] == 2
    listed = co.list_namespaced_custom_object(ROUTE_G, "v1", ns, "routes")["items"]
    assert [r["metadata"]["name"] for r in listed] == ["web"]
    with pytest.raises(ApiException) as ei:
        co.create_namespaced_custom_object(ROUTE_G, "v1", ns, "routes", {"metadata": {"name": "bad"}, "spec": {}})
    assert ei.value.status == 422 and "spec.to.name" in json.loads(ei.value.body)["message"]
    co.delete_namespaced_custom_object(ROUTE_G, "v1", ns, "routes", "web")
    with pytest.raises(ApiException) as ei:
        co.get_namespaced_custom_object(ROUTE_G, "v1", ns, "routes", "web")
    assert ei.value.status == 404


@pytest.fixture()
def prom_world(tmp_path_factory):
    """A server with a management cluster and one guest, both with monitoring, the Prometheus mounted,
    and a clock the test moves (token expiry)."""
    from sim.prometheus import SimPrometheus, ensure_monitoring, guest_route_host, mgmt_route_host

    now = [time.time()]
    srv = ApiServer(token=TOKEN, store=Store(clock=lambda: now[0])).start()
    prom = SimPrometheus(srv, clock=lambda: now[0])
    srv.mount("/prometheus", prom.handle)
    mgmt_host, guest_host = mgmt_route_host("mgmt.example.test"), guest_route_host("perf-0001", "example.test")
    ensure_monitoring(srv.store, mgmt_host)
    srv.store.create("namespaces", {"metadata": {"name": "clusters-perf-0001",
                                                 "labels": {"hypershift.openshift.io/hosted-control-plane": "true"}}})
    guest = srv.add_guest("clusters", "perf-0001", token="guesttoken", store=Store(clock=lambda: now[0]))
    ensure_monitoring(guest, guest_host)
    for i in range(2):
        guest.create("nodes", {"metadata": {"name": f"ip-10-0-1-{i}.ec2.internal"},
                               "status": {"capacity": {"cpu": "2", "memory": "8Gi"}}})
    yield {"server": srv, "prom": prom, "now": now, "mgmt": mgmt_host, "guest": guest_host, "guest_store": guest,
           "core": client.CoreV1Api(_kube_client(tmp_path_factory, srv.kubeconfig()))}
    srv.stop()


def promql(w, host: str, token: str | None, path: str = "query", method: str = "POST", **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{w['server'].url}/prometheus/{host}/api/v1/{path}"
    if method == "POST":
        return requests.post(url, data=params, headers=headers, timeout=5)
    return requests.get(url, params=params, headers=headers, timeout=5)


def test_prometheus_auth_and_routing(prom_world):
    w = prom_world
    mgmt_token = w["core"].create_namespaced_service_account_token(PROM, MON, token_request(600)).status.token
    guest_token = w["guest_store"].create_token(MON, PROM, {"spec": {"expirationSeconds": 3600}})["status"]["token"]
    # unknown host: the router's page
    r = promql(w, "prometheus-k8s-openshift-monitoring.apps.nowhere.test", mgmt_token, query="up")
    assert r.status_code == 503 and "Application is not available" in r.text
    # no token, a wrong one, another cluster's: 401
    for tok in (None, "wrong", guest_token):
        r = promql(w, w["mgmt"], tok, query="up")
        assert r.status_code == 401 and r.json()["status"] == "error", tok
    assert promql(w, w["guest"], mgmt_token, query="up").status_code == 401
    # a valid token of another service account of the cluster: 403
    w["server"].store.create("serviceaccounts", {"metadata": {"name": "default"}}, namespace="default")
    other = w["server"].store.create_token("default", "default", {})["status"]["token"]
    r = promql(w, w["mgmt"], other, query="up")
    assert r.status_code == 403 and "system:serviceaccount:default:default" in r.json()["error"]
    # the right tokens: 200, GET or POST
    for host, tok in ((w["mgmt"], mgmt_token), (w["guest"], guest_token)):
        for method in ("POST", "GET"):
            r = promql(w, host, tok, method=method, query="up{}")
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["status"] == "success" and doc["data"]["resultType"] == "vector"
            assert doc["data"]["result"] and all(s["value"][1] == "1" for s in doc["data"]["result"])
    # the route's path is /api: nothing else is routed
    r = requests.get(f"{w['server'].url}/prometheus/{w['mgmt']}/graph", timeout=5)
    assert r.status_code == 503
    # request counts per host
    assert w["prom"].request_count(w["mgmt"]) == 7 and w["prom"].request_count(w["guest"]) == 3
    # the token expires with the cluster's clock
    w["now"][0] += 601
    assert promql(w, w["mgmt"], mgmt_token, query="up").status_code == 401
    assert promql(w, w["guest"], guest_token, query="up").status_code == 200


def test_prometheus_queries(prom_world):
    w = prom_world
    tok = w["server"].store.create_token(MON, PROM, {})["status"]["token"]
    q = 'avg by (pod) (etcd_mvcc_db_total_size_in_bytes{namespace="clusters-perf-0001"})'
    r = promql(w, w["mgmt"], tok, "query_range", query=q, start="1780000000", end="1780000120", step="30s")
    doc = r.json()
    assert r.status_code == 200 and doc["data"]["resultType"] == "matrix"
    [series] = doc["data"]["result"]
    assert series["metric"] == {"pod": "etcd-0"}
    assert [t for t, _ in series["values"]] == [1780000000, 1780000030, 1780000060, 1780000090, 1780000120]
    assert all(30e6 <= float(v) <= 120e6 for _, v in series["values"])
    again = promql(w, w["mgmt"], tok, "query_range", query=q, start="1780000000", end="1780000120", step="30").json()
    assert again == doc                                                         # deterministic
    # a bare selector keeps every label; an unknown namespace has no series
    r = promql(w, w["mgmt"], tok, query='etcd_server_quota_backend_bytes{namespace="clusters-perf-0001"}',
               time="2026-01-01T00:00:00Z").json()
    [s] = r["data"]["result"]
    assert s["metric"]["__name__"] == "etcd_server_quota_backend_bytes"
    assert s["metric"]["namespace"] == "clusters-perf-0001" and s["metric"]["pod"] == "etcd-0"
    assert s["value"] == [1767225600, str(8 * 1024 ** 3)]
    r = promql(w, w["mgmt"], tok, query='etcd_server_quota_backend_bytes{namespace="clusters-nope"}').json()
    assert r["status"] == "success" and r["data"]["result"] == []
    # histogram_quantile drops le; the control plane is not visible in the guest
    q = ('histogram_quantile(0.99, sum(rate(etcd_disk_wal_fsync_duration_seconds_bucket'
         '{namespace="clusters-perf-0001"}[2m])) by (pod, le))')
    [s] = promql(w, w["mgmt"], tok, query=q).json()["data"]["result"]
    assert s["metric"] == {"pod": "etcd-0"} and 0.001 <= float(s["value"][1]) <= 0.012
    gtok = w["guest_store"].create_token(MON, PROM, {})["status"]["token"]
    assert promql(w, w["guest"], gtok, query=q).json()["data"]["result"] == []
    # the guest's nodes; regex and negative matchers; a trailing comparison filters
    r = promql(w, w["guest"], gtok, query="sum(irate(node_cpu_seconds_total[2m])) by (instance)").json()
    assert sorted(s["metric"]["instance"] for s in r["data"]["result"]) == ["ip-10-0-1-0.ec2.internal",
                                                                           "ip-10-0-1-1.ec2.internal"]
    r = promql(w, w["guest"], gtok, query='node_memory_MemTotal_bytes{instance=~".*-1-1.*"}').json()
    assert [s["value"][1] for s in r["data"]["result"]] == [str(8 * 1024 ** 3)]
    alerts = promql(w, w["guest"], gtok, query='ALERTS{alertstate="firing"}').json()["data"]["result"]
    assert [a["metric"]["alertname"] for a in alerts] == ["Watchdog"]
    assert promql(w, w["guest"], gtok, query='ALERTS{severity="critical"}').json()["data"]["result"] == []
    assert promql(w, w["guest"], gtok, query='up{job="node-exporter"} == 0').json()["data"]["result"] == []
    assert len(promql(w, w["guest"], gtok, query='up{job="node-exporter"} == 1').json()["data"]["result"]) == 2
    assert promql(w, w["guest"], gtok, query="no_such_metric").json()["data"]["result"] == []
    # bad requests: 400 bad_data
    for path, params in (("query", {}), ("query", {"query": "sum(up"}),
                         ("query_range", {"query": "up", "start": "1", "end": "0", "step": "1"}),
                         ("query_range", {"query": "up", "start": "x", "end": "2", "step": "1"}),
                         ("query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}),
                         ("query_range", {"query": "up", "start": "0", "end": "10", "step": "0"})):
        r = promql(w, w["guest"], gtok, path, **params)
        assert r.status_code == 400 and r.json()["errorType"] == "bad_data", (path, params)


def test_tokens_survive_a_snapshot(prom_world):
    w = prom_world
    tok = w["server"].store.create_token(MON, PROM, {})["status"]["token"]
    snap = w["server"].snapshot()
    restored = ApiServer.from_snapshot(json.loads(json.dumps(snap)), port=0)
    assert restored.store.review_token(tok)["name"] == PROM
    guest_tok = w["guest_store"].create_token(MON, PROM, {})["status"]["token"]
    assert restored.get_guest("clusters", "perf-0001").review_token(guest_tok) is None   # issued after the snapshot


def test_fault_scope_by_user_agent_410_gone_watches_and_settings_round_trip(server, ns):
    url = f"{server.url}/api/v1/namespaces/{ns}/configmaps"
    operator = {"User-Agent": "hypershift-operator/sim (linux/amd64) kubernetes/$Format"}
    cli = {"User-Agent": "hypershift/v0.0.0 (linux/amd64) kubernetes/$Format"}
    try:
        server.faults.set(error_rate=1.0)  # every client but the simulated operator
        assert requests.get(url, headers=auth(), timeout=5).status_code == 503
        assert requests.get(url, headers=dict(auth(), **cli), timeout=5).status_code == 503
        assert requests.get(url, headers=dict(auth(), **operator), timeout=5).status_code == 200
        server.faults.set(error_rate=1.0, agents="hypershift/")  # only the CLI
        assert requests.get(url, headers=dict(auth(), **cli), timeout=5).status_code == 503
        assert requests.get(url, headers=auth(), timeout=5).status_code == 200
        server.faults.set(error_rate=1.0, agents=["hypershift-operator/"])  # named: the operator too
        assert requests.get(url, headers=dict(auth(), **operator), timeout=5).status_code == 503

        server.faults.set(watch_gone_rate=1.0)
        listing = requests.get(url, headers=auth(), timeout=5)
        rv = listing.json()["metadata"]["resourceVersion"]
        r = requests.get(url, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "5"}, headers=auth(),
                         timeout=10)
        event = json.loads(r.text.splitlines()[0])
        assert r.status_code == 200 and event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        assert server.faults.gone_watches == 1
        # a watch without a resourceVersion cannot be "too old": served as usual
        t0 = time.monotonic()
        r = requests.get(url, params={"watch": "true", "timeoutSeconds": "1"}, headers=auth(), timeout=10)
        assert r.status_code == 200 and "ERROR" not in r.text and time.monotonic() - t0 >= 0.9

        settings = {"error_rate": 0.5, "error_code": 500, "delay": 0.0, "drop_watches_after": 2.0,
                    "watch_gone_rate": 0.1, "path_prefix": "/apis/", "verbs": ["list", "watch"],
                    "agents": ["OpenAPI-Generator"], "retry_after": 2}
        assert server.faults.set_from(settings).to_dict() == settings
        with pytest.raises(ValueError):
            server.faults.set_from({"error_rat": 1})
        with pytest.raises(ValueError):
            server.faults.set(watch_gone_rate=2)
        with pytest.raises(ValueError):
            server.faults.set(error_code=200)
    finally:
        server.faults.reset()
