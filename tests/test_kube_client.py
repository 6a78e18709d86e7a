"""The harness's lean Kubernetes client: kubeconfig forms, TLS, retries, errors — and no kubernetes import."""
from __future__ import annotations

import base64
import http.server
import json
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from pki import make_pki
from plugins.kube import USER_AGENT, ApiError, Kube

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA; and a stranger CA."""
    return make_pki(tmp_path_factory.mktemp("pki"), "/CN=scale-admin/O=system:masters")


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.seen.append({"path": self.path, "agent": self.headers.get("User-Agent"),
                            "auth": self.headers.get("Authorization"),
                            "cn": (dict(x[0] for x in self.connection.getpeercert()["subject"])["commonName"]
                                   if isinstance(self.connection, ssl.SSLSocket) and self.connection.getpeercert()
                                   else None)})
        if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
            return self._json(401, {"kind": "Status", "reason": "Unauthorized", "message": "Unauthorized"})
        if self.path.startswith("/flaky") and server.flaky > 0:
            server.flaky -= 1
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/forbidden"):
            return self._json(403, {"kind": "Status", "reason": "Forbidden", "message": "nodes is forbidden"})
        if self.path.startswith("/missing"):
            return self._json(404, {"kind": "Status", "reason": "NotFound", "message": "not found"})
        self._json(200, {"gitVersion": "v1.31.0", "path": self.path})

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def serve(pki):
    servers = []

    def start(tls: bool = True, client_certs: bool = False, token: str | None = None):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.seen, httpd.token, httpd.flaky = [], token, 0
        if tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
            if client_certs:
                ctx.load_verify_locations(pki / "ca.crt")
                ctx.verify_mode = ssl.CERT_REQUIRED
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        httpd.url = f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
        return httpd

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def kubeconfig(tmp_path: Path, cluster: dict, user: dict) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config",
                                    "clusters": [{"name": "c", "cluster": cluster}],
                                    "users": [{"name": "u", "user": user}],
                                    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                                    "current-context": "x"}))
    return str(path)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_client_certificate_and_ca_as_inline_data(serve, pki, tmp_path):
    httpd = serve(client_certs=True)
    path = kubeconfig(tmp_path, {"server": httpd.url, "certificate-authority-data": b64(pki / "ca.crt")},
                      {"client-certificate-data": b64(pki / "client.crt"), "client-key-data": b64(pki / "client.key")})
    kube = Kube.from_kubeconfig(path)
    try:
        assert kube.get("/version")["gitVersion"] == "v1.31.0"
    finally:
        kube.close()
    assert httpd.seen[-1]["cn"] == "scale-admin" and httpd.seen[-1]["agent"] == USER_AGENT


def test_files_relative_to_the_kubeconfig_and_an_untrusted_server_is_refused(serve, pki, tmp_path):
    httpd = serve(client_certs=True)
    for name in ("ca.crt", "stranger.crt", "client.crt", "client.key"):
        (tmp_path / name).write_bytes((pki / name).read_bytes())
    good = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url, "certificate-authority": "ca.crt"},
                                           {"client-certificate": "client.crt", "client-key": "client.key"}))
    assert good.get("/version", labelSelector="a=b")["path"] == "/version?labelSelector=a%3Db"
    good.close()
    stranger = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url, "certificate-authority": "stranger.crt"},
                                               {"client-certificate": "client.crt", "client-key": "client.key"}))
    with pytest.raises(ApiError) as info:
        stranger.get("/version")
    assert info.value.status == 0  # no answer: the server's certificate is not trusted
    stranger.close()
    insecure = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url, "insecure-skip-tls-verify": True},
                                               {"client-certificate": "client.crt", "client-key": "client.key"}))
    assert insecure.get("/version")["gitVersion"] == "v1.31.0"
    insecure.close()


def test_token_file_is_read_again_for_every_request(serve, tmp_path):
    httpd = serve(tls=False, token="first-token-aaaa")
    token = tmp_path / "token"
    token.write_text("first-token-aaaa\n")
    kube = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url}, {"tokenFile": str(token)}))
    assert kube.get("/version")
    httpd.token = "second-token-bbbb"  # rotated, as a projected service account token is
    token.write_text("second-token-bbbb")
    assert kube.get("/version")
    kube.close()


def test_exec_credential_plugin_goes_through_the_kubernetes_package(serve, tmp_path):
    httpd = serve(tls=False, token="exec-token-cccc")
    plugin = tmp_path / "credential.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
                      "'kind': 'ExecCredential', 'status': {'token': 'exec-token-cccc'}}))\n")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                     "args": [str(plugin)]}}
    kube = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url}, user))
    assert kube.get("/version")["gitVersion"] == "v1.31.0"
    kube.close()


def test_errors_retries_and_missing_objects(serve, tmp_path):
    httpd = serve(tls=False, token="t-dddd")
    kube = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url}, {"token": "t-dddd"}))
    assert kube.get_or_none("/missing/thing") is None
    with pytest.raises(ApiError) as info:
        kube.get("/forbidden")
    assert (info.value.status, info.value.reason) == (403, "Forbidden") and "forbidden" in str(info.value)
    httpd.flaky = 2
    before = len(httpd.seen)
    assert kube.get("/flaky")["path"] == "/flaky"  # two 503s, then the answer
    assert len(httpd.seen) - before == 3
    kube.close()
    wrong = Kube.from_kubeconfig(kubeconfig(tmp_path, {"server": httpd.url}, {"token": "nope"}))
    with pytest.raises(ApiError) as info:
        wrong.get("/version")
    assert info.value.status == 401
    wrong.close()


def test_the_harness_never_imports_the_kubernetes_client():
    code = ("import sys; import plugins.session, plugins.lifecycle, plugins.load, plugins.platform, plugins.mgmt, "
            "plugins.watcher, plugins.reporting; print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
