"""The stand-in CLIs' own Kubernetes client (sim/standin/kubeclient.py): kubeconfig forms, TLS, errors with the
API's Status, watches (410 included), the wire format the kubernetes package used to produce — and stand-ins that
never import the kubernetes package."""
from __future__ import annotations

import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import urllib3
import yaml

from sim.apiserver import ApiServer
from sim.standin import kubeclient
from sim.standin.hypershift import USER_AGENT, api_error
from sim.standin.kubeclient import ApiError, Client, Config, KubeconfigError, core_path, group_path, query_string
from pki import make_pki

ROOT = Path(__file__).resolve().parent.parent
HC = "hostedclusters.hypershift.openshift.io"


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def server():
    srv = ApiServer(token="s3cret", history=10).start()
    srv.store.ensure_namespace("clusters")
    yield srv
    srv.stop()


def write_kubeconfig(path: Path, doc: dict) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.fixture
def client(server, tmp_path):
    c = Client.from_kubeconfig(write_kubeconfig(tmp_path / "kubeconfig", server.kubeconfig()), USER_AGENT)
    yield c
    c.close()


def kubeconfig(server_url: str, user: dict, cluster_extra: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": server_url, **(cluster_extra or {})}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}


# ------------------------------------------------------------- verbs and errors
def test_verbs_return_plain_dicts_and_send_the_cli_user_agent(server, client):
    cm = core_path("configmaps", "clusters")
    made = client.create(cm, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}})
    assert isinstance(made, dict) and made["metadata"]["resourceVersion"]
    client.patch(core_path("configmaps", "clusters", "a"), {"data": {"k": "2"}})
    client.patch(core_path("configmaps", "clusters", "a"), {"metadata": {"labels": {"x": "y"}}},
                 content_type="application/strategic-merge-patch+json")
    got = client.get(core_path("configmaps", "clusters", "a"))
    assert got["data"] == {"k": "2"} and got["metadata"]["labels"] == {"x": "y"}
    got["data"]["k"] = "3"
    assert client.replace(core_path("configmaps", "clusters", "a"), got)["data"]["k"] == "3"
    listed = client.get(cm, [("labelSelector", "x=y")])
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    client.delete(core_path("configmaps", "clusters", "a"))
    assert client.get(cm)["items"] == []
    mine = server.requests_by_client["hypershift"]["mgmt"]
    assert mine == {"create": 1, "patch": 2, "get": 1, "update": 1, "list": 2, "delete": 1}


def test_errors_carry_status_reason_and_message(server, client, tmp_path):
    with pytest.raises(ApiError) as missing:
        client.get(group_path("hypershift.openshift.io", "v1beta1", "hostedclusters", "clusters", "nope"))
    err = missing.value
    assert (err.status, err.reason, err.http_reason) == (404, "NotFound", "Not Found")
    assert err.message == f'{HC} "nope" not found' and json.loads(err.body)["kind"] == "Status"
    assert api_error(err) == err.message  # client-go's text: the Status message

    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    client.create(core_path("secrets", "clusters"), body)
    with pytest.raises(ApiError) as exists:
        client.create(core_path("secrets", "clusters"), body)
    assert (exists.value.status, exists.value.reason) == (409, "AlreadyExists")

    bad = Client(Config.from_dict(kubeconfig(server.url, {"token": "wrong"})), USER_AGENT)
    with pytest.raises(ApiError) as denied:
        bad.get(core_path("namespaces"))
    assert (denied.value.status, denied.value.reason, api_error(denied.value)) == (401, "Unauthorized", "Unauthorized")

    # an answer without a Status body: client-go's fallback text
    plain = ApiError.from_response(502, "Bad Gateway", b"<html>")
    assert (plain.reason, plain.message, api_error(plain)) == ("Bad Gateway", "",
                                                              "the server responded with status 502 (Bad Gateway)")


def test_retries_as_the_kubernetes_client_did(server, client):
    """urllib3's default retries: an idempotent request answered 429 with Retry-After is retried (3 times), a POST
    is not; the last answer is the error."""
    server.faults.set(error_rate=1.0, error_code=429, retry_after=0)
    with pytest.raises(ApiError) as got:
        client.get(core_path("namespaces"))
    assert got.value.status == 429 and got.value.message == "injected fault: TooManyRequests"
    assert server.faults.injected_errors == 4
    with pytest.raises(ApiError):
        client.create(core_path("namespaces"), {"metadata": {"name": "n"}})
    assert server.faults.injected_errors == 5
    server.faults.set(error_rate=1.0, error_code=500)          # no Retry-After: no retry
    with pytest.raises(ApiError):
        client.get(core_path("namespaces"))
    assert server.faults.injected_errors == 6


def test_refused_connections_keep_client_go_text():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = Client(Config.from_dict(kubeconfig(f"http://127.0.0.1:{port}/", {"token": "t"})), USER_AGENT)
    assert c.host == f"http://127.0.0.1:{port}"
    with pytest.raises(urllib3.exceptions.MaxRetryError) as got:
        c.get("/api/v1/namespaces")
    assert api_error(got.value, "Get", c.host) == \
        f'Get "http://127.0.0.1:{port}": dial tcp 127.0.0.1:{port}: connect: connection refused'


def test_query_strings_as_the_kubernetes_client_builds_them():
    params = [("fieldSelector", "metadata.name=a b"), ("labelSelector", "hypershift.openshift.io/x=y,z!=w"),
              ("resourceVersion", "12"), ("timeoutSeconds", 30), ("watch", True)]
    text = query_string(params)
    assert text == ("fieldSelector=metadata.name%3Da%20b&labelSelector=hypershift.openshift.io/x%3Dy%2Cz%21%3Dw"
                    "&resourceVersion=12&timeoutSeconds=30&watch=true")
    k8s = pytest.importorskip("kubernetes.client")
    assert text == k8s.ApiClient().parameters_to_url_query(params, {})


# ------------------------------------------------------------------ kubeconfig
def test_kubeconfig_forms_token_token_file_and_basic(server, tmp_path):
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "token").write_text("s3cret\n")
    path = write_kubeconfig(tmp_path / "kc-file", kubeconfig(server.url, {"tokenFile": "creds/token"}))
    assert Client.from_kubeconfig(path, USER_AGENT).get("/api/v1/namespaces/clusters")["metadata"]["name"] == \
        "clusters"
    # an inline token wins over tokenFile (as the kubernetes package reads it)
    both = Config.from_dict(kubeconfig(server.url, {"token": "s3cret", "tokenFile": "/nonexistent"}))
    assert both.authorization == "Bearer s3cret"
    basic = Config.from_dict(kubeconfig(server.url, {"username": "admin", "password": "pw"}))
    assert basic.authorization == "Basic " + base64.b64encode(b"admin:pw").decode()
    assert Config.from_dict(kubeconfig(server.url, {})).authorization is None


def test_kubeconfig_errors_read_like_the_kubernetes_package(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(KubeconfigError, match=f"Invalid kube-config. {empty} file is empty"):
        Config.from_file(str(empty))
    doc = kubeconfig("http://127.0.0.1:1", {})
    doc["current-context"] = "other"
    with pytest.raises(KubeconfigError, match="Expected object with name other in kc/contexts list"):
        Config.from_dict(doc, name="kc")
    del doc["current-context"]
    with pytest.raises(KubeconfigError, match="Expected key current-context in kc"):
        Config.from_dict(doc, name="kc")
    tls = kubeconfig("https://127.0.0.1:1", {}, {"certificate-authority": "missing-ca.crt"})
    with pytest.raises(KubeconfigError, match=f"File does not exist: {tmp_path / 'missing-ca.crt'}"):
        Config.from_dict(tls, base=str(tmp_path))


def test_exec_plugin_users_go_through_the_kubernetes_package(server, tmp_path):
    pytest.importorskip("kubernetes")
    plugin = tmp_path / "cred.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
                      "'kind': 'ExecCredential', 'status': {'token': 's3cret'}}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                     "args": [str(plugin)], "interactiveMode": "Never"}}
    c = Client(Config.from_dict(kubeconfig(server.url, user), base=str(tmp_path)), USER_AGENT)
    assert c.get("/api/v1/namespaces/clusters")["metadata"]["name"] == "clusters"


# ------------------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """ca (server + client certificates signed by it) and other-ca (signs nothing we use)."""
    return make_pki(tmp_path_factory.mktemp("certs"), "/CN=standin-user", stranger="other-ca")


@pytest.fixture
def tls_server(certs):
    """An HTTPS server answering every GET with the client certificate's CN (client certificates optional)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            peer = self.connection.getpeercert()
            cn = dict(x[0] for x in peer["subject"])["commonName"] if peer else None
            data = json.dumps({"cn": cn, "agent": self.headers.get("User-Agent")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.crt"))
    ctx.load_cert_chain(str(certs / "server.crt"), str(certs / "server.key"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_tls_inline_ca_and_client_certificate(tls_server, certs):
    doc = kubeconfig(tls_server, {"client-certificate-data": b64(certs / "client.crt"),
                                  "client-key-data": b64(certs / "client.key")},
                     {"certificate-authority-data": b64(certs / "ca.crt")})
    c = Client(Config.from_dict(doc), USER_AGENT)
    assert c.get("/version") == {"cn": "standin-user", "agent": USER_AGENT}


def test_tls_files_relative_to_the_kubeconfig_insecure_and_untrusted(tls_server, certs, tmp_path):
    for name in ("ca.crt", "client.crt", "client.key", "other-ca.crt"):
        (tmp_path / name).write_bytes((certs / name).read_bytes())
    path = write_kubeconfig(tmp_path / "kc", kubeconfig(
        tls_server, {"client-certificate": "client.crt", "client-key": "client.key"},
        {"certificate-authority": "ca.crt"}))
    assert Client.from_kubeconfig(path, USER_AGENT).get("/version")["cn"] == "standin-user"

    untrusted = Client(Config.from_dict(kubeconfig(tls_server, {}, {"certificate-authority": "other-ca.crt"}),
                                        base=str(tmp_path)), USER_AGENT)
    with pytest.raises(urllib3.exceptions.MaxRetryError) as refused:
        untrusted.get("/version")
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)

    insecure = Client(Config.from_dict(kubeconfig(tls_server, {}, {"certificate-authority": "other-ca.crt",
                                                                   "insecure-skip-tls-verify": True}),
                                       base=str(tmp_path)), USER_AGENT)
    assert insecure.get("/version")["cn"] is None


# ----------------------------------------------------------------------- watch
def hc(name: str) -> dict:
    return {"apiVersion": "hypershift.openshift.io/v1beta1", "kind": "HostedCluster",
            "metadata": {"name": name}, "spec": {"release": {"image": "x"}}}


def test_watch_sees_changes_from_a_resource_version(server, client):
    server.store.create(HC, hc("a"), namespace="clusters")
    path = group_path("hypershift.openshift.io", "v1beta1", "hostedclusters", "clusters")
    listing = client.get(path, [("fieldSelector", "metadata.name=a")])
    rv = listing["metadata"]["resourceVersion"]
    timer = threading.Timer(0.2, server.store.patch, (HC, "a", {"metadata": {"labels": {"phase": "done"}}},
                                                      "clusters"))
    timer.start()
    seen = []
    events = client.watch(path, [("fieldSelector", "metadata.name=a"), ("resourceVersion", rv)], timeout_seconds=5)
    for ev in events:
        seen.append(ev["type"])
        if ev["type"] == "MODIFIED":
            assert ev["object"]["metadata"]["labels"] == {"phase": "done"}
            break
    events.close()
    timer.join()
    assert seen[-1] == "MODIFIED" and "ADDED" not in seen
    end = time.monotonic() + 5      # a watch is counted once the server sees its stream end
    while server.requests_by_client["hypershift"]["mgmt"].get("watch") != 1 and time.monotonic() < end:
        time.sleep(0.05)
    assert server.requests_by_client["hypershift"]["mgmt"] == {"list": 1, "watch": 1}


def test_watch_ends_when_the_server_times_it_out(server, client):
    path = core_path("configmaps", "clusters")
    rv = client.get(path)["metadata"]["resourceVersion"]
    start = time.monotonic()
    assert [e for e in client.watch(path, [("resourceVersion", rv)], timeout_seconds=1)
            if e["type"] != "BOOKMARK"] == []
    assert time.monotonic() - start < 5


def test_watch_410_gone_raises_for_a_relist(server, client):
    path = core_path("configmaps", "clusters")
    rv = client.get(path)["metadata"]["resourceVersion"]
    server.faults.set(watch_gone_rate=1.0)
    with pytest.raises(ApiError) as gone:
        list(client.watch(path, [("resourceVersion", rv)], timeout_seconds=5))
    assert (gone.value.status, gone.value.reason) == (410, "Expired")
    server.faults.reset()
    # history too short for the resourceVersion: the same answer from the store itself
    for i in range(30):
        server.store.create("configmaps", {"metadata": {"name": f"c{i}"}}, namespace="clusters")
    with pytest.raises(ApiError) as old:
        list(client.watch(path, [("resourceVersion", rv)], timeout_seconds=5))
    assert old.value.status == 410


# ------------------------------------------------------- the stand-ins stay lean
def run_standin(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    code = ("import sys\n"
            "from sim.standin import hypershift\n"
            f"rc = hypershift.main({args!r}, world_path='/nonexistent/world.json')\n"
            "sys.stdout.flush()\n"
            "print('KUBERNETES-IMPORTED' if any(m == 'kubernetes' or m.startswith('kubernetes.') "
            "for m in sys.modules) else 'KUBERNETES-NOT-IMPORTED', rc)\n")
    return subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_hypershift_standin_never_imports_the_kubernetes_package(server, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), KUBECONFIG=write_kubeconfig(tmp_path / "kc", server.kubeconfig()))
    server.store.ensure_namespace("hypershift")
    server.store.create("configmaps", {"metadata": {"name": "supported-versions"},
                                       "data": {"server-version": "abc", "supported-versions":
                                                json.dumps({"versions": ["4.17"]})}}, namespace="hypershift")
    for args in (["--help"], ["version", "--client-only"], ["version"],
                 ["create", "nodepool", "aws", "--cluster-name", "nope", "--name", "np"]):
        proc = run_standin(args, env, tmp_path)
        assert "KUBERNETES-NOT-IMPORTED" in proc.stdout, (args, proc.stdout, proc.stderr[-2000:])
        assert not [line for line in proc.stderr.splitlines()
                    if line.startswith("import time:") and "kubernetes" in line.split("|")[-1]], args
    proc = run_standin(["version"], env, tmp_path)
    assert "Server Version: abc" in proc.stdout and "Server Supports OCP Versions: 4.17" in proc.stdout
    assert server.requests_by_client["hypershift"]["mgmt"]["get"] >= 2


def test_kubeclient_imports_nothing_heavy():
    proc = subprocess.run([sys.executable, "-c", "import sys, sim.standin.kubeclient, sim.standin.kube_burner, "
                           "sim.standin.ocm; print(sorted(m for m in sys.modules if m.split('.')[0] in "
                           "('kubernetes', 'requests', 'pydantic')))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
    assert kubeclient.__doc__


# ------------------------------------------------- the rollout wait does not spin
class _World:
    speed = 100.0

    def real(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed


def rollout_wait(server, seconds: float):
    from sim.standin import hypershift

    kube = hypershift.Kube(client=Client(Config.from_dict(server.kubeconfig()), USER_AGENT))
    try:
        hypershift._wait_rollout(kube, "clusters", "a", hypershift.Deadline(seconds), _World())
    finally:
        kube.close()


def test_rollout_wait_backs_off_when_every_watch_is_gone(server):
    from sim.standin.hypershift import DeadlineExceeded

    server.store.create(HC, hc("a"), namespace="clusters")
    server.faults.set(watch_gone_rate=1.0)
    with pytest.raises(DeadlineExceeded):
        rollout_wait(server, 2.0)
    mine = server.requests_by_client["hypershift"]["mgmt"]
    # at most one GET + one watch per 0.3 s (30 simulated seconds at speed 100) after the first failures
    assert 2 <= server.faults.gone_watches <= 12 and mine["get"] <= 12, (server.faults.counters(), mine)


def test_rollout_wait_polls_when_watches_end_at_once_and_sees_completion(server):
    server.store.create(HC, hc("a"), namespace="clusters")
    server.faults.set(drop_watches_after=0.0)
    done = {"status": {"version": {"history": [{"state": "Completed", "completionTime": "2026-01-01T00:00:00Z"}]}}}
    timer = threading.Timer(0.5, lambda: server.store.patch(HC, "a", done, "clusters", subresource="status"))
    timer.start()
    start = time.monotonic()
    rollout_wait(server, 10.0)
    timer.join()
    assert time.monotonic() - start < 2.0
    assert server.requests_by_client["hypershift"]["mgmt"]["get"] <= 8
