"""Start a real etcd + kube-apiserver on loopback for tests (envtest style).

The binaries come from ``KUBEBUILDER_ASSETS`` (see ``shared/tools/envtest-assets``).
Usage::

    with RealApiServer(assets_dir, workdir) as kas:
        apply_crds(kas.kubeconfig, crd_dir)
        ...  # kas.kubeconfig, kas.url, kas.token

Both processes listen on 127.0.0.1 only, on free ports picked at start (a port
clash is retried with new ports).  Authentication is a static bearer token
(``system:masters``); TLS uses the self-signed serving certificate that
kube-apiserver writes into ``--cert-dir``, so the kubeconfig sets
``insecure-skip-tls-verify: true``.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ETCD_READY_TIMEOUT = 30.0
KAS_READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
PORT_ATTEMPTS = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env() -> dict:
    env = dict(os.environ)
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env.pop(key, None)
    return env


def _stop(proc: subprocess.Popen | None, timeout: float = STOP_TIMEOUT) -> None:
    """TERM, wait (bounded), then KILL one process we started."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - the kernel did not reap it
            pass
    except ProcessLookupError:  # already gone
        pass


class RealApiServerError(RuntimeError):
    pass


class RealApiServer:
    """Context manager running etcd + kube-apiserver from ``assets_dir`` with state in ``workdir``."""

    def __init__(self, assets_dir: str | os.PathLike, workdir: str | os.PathLike):
        self.assets = Path(assets_dir)
        self.workdir = Path(workdir)
        self.token = secrets.token_hex(16)
        self.url = ""
        self.kubeconfig = ""
        self._etcd: subprocess.Popen | None = None
        self._kas: subprocess.Popen | None = None
        self._logs: list = []

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> "RealApiServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "RealApiServer":
        for name in ("etcd", "kube-apiserver"):
            if not os.access(self.assets / name, os.X_OK):
                raise RealApiServerError(f"{self.assets / name} is missing or not executable")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_credentials()
        last = ""
        for _attempt in range(PORT_ATTEMPTS):
            try:
                self._start_once()
                self._write_kubeconfig()
                return self
            except _PortClash as exc:
                last = str(exc)
                self.stop()
        raise RealApiServerError(f"could not start on free ports: {last}")

    def stop(self) -> None:
        _stop(self._kas)
        _stop(self._etcd)
        self._kas = self._etcd = None
        for fh in self._logs:
            try:
                fh.close()
            except OSError:
                pass
        self._logs = []

    # ------------------------------------------------------------- helpers
    def _write_credentials(self) -> None:
        (self.workdir / "certs").mkdir(exist_ok=True)
        key = self.workdir / "sa.key"
        pub = self.workdir / "sa.pub"
        if not key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f"{self.token},admin,admin-uid,system:masters\n")
        os.chmod(tokens, 0o600)

    def _log(self, name: str):
        fh = open(self.workdir / f"{name}.log", "ab")
        self._logs.append(fh)
        return fh

    def _start_once(self) -> None:
        etcd_port, peer_port, kas_port = _free_port(), _free_port(), _free_port()
        data = self.workdir / "etcd-data"
        if data.exists():
            subprocess.run(["rm", "-rf", str(data)], check=False, timeout=60)
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd_log = self._log("etcd")
        self._etcd = subprocess.Popen(
            [str(self.assets / "etcd"), "--name", "default", "--data-dir", str(data),
             "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
             "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
             "--initial-cluster", f"default={peer_url}", "--unsafe-no-fsync=true"],
            stdin=subprocess.DEVNULL, stdout=etcd_log, stderr=subprocess.STDOUT, env=_clean_env())
        deadline = time.monotonic() + ETCD_READY_TIMEOUT
        while True:
            if self._etcd.poll() is not None:
                self._fail_or_clash("etcd")
            try:
                with urllib.request.urlopen(f"{etcd_url}/health", timeout=2) as resp:
                    if b'"health":"true"' in resp.read():
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RealApiServerError("etcd not healthy after %.0f s" % ETCD_READY_TIMEOUT)
            time.sleep(0.1)

        kas_log = self._log("kube-apiserver")
        self._kas = subprocess.Popen(
            [str(self.assets / "kube-apiserver"), f"--etcd-servers={etcd_url}",
             "--bind-address=127.0.0.1", f"--secure-port={kas_port}",
             f"--cert-dir={self.workdir / 'certs'}",
             f"--token-auth-file={self.workdir / 'tokens.csv'}", "--authorization-mode=RBAC",
             "--service-cluster-ip-range=10.0.0.0/24",
             "--service-account-issuer=https://kubernetes.default.svc",
             f"--service-account-key-file={self.workdir / 'sa.pub'}",
             f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
             "--disable-admission-plugins=ServiceAccount", "--allow-privileged=true"],
            stdin=subprocess.DEVNULL, stdout=kas_log, stderr=subprocess.STDOUT, env=_clean_env())
        self.url = f"https://127.0.0.1:{kas_port}"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + KAS_READY_TIMEOUT
        while True:
            if self._kas.poll() is not None:
                self._fail_or_clash("kube-apiserver")
            req = urllib.request.Request(f"{self.url}/readyz", headers={"Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
                    if resp.read().strip() == b"ok":
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RealApiServerError("kube-apiserver not ready after %.0f s" % KAS_READY_TIMEOUT)
            time.sleep(0.2)

    def _fail_or_clash(self, name: str) -> None:
        text = (self.workdir / f"{name}.log").read_text(errors="replace")
        if "address already in use" in text:
            raise _PortClash(f"{name}: address already in use")
        raise RealApiServerError(f"{name} exited during startup:\n{text[-3000:]}")

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "envtest", "cluster": {"server": self.url, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": "admin"}}],
            "current-context": "envtest",
        }
        path = self.workdir / "kubeconfig"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(cfg, fh)
        self.kubeconfig = str(path)


class _PortClash(RealApiServerError):
    pass


def apply_crds(kubeconfig: str, crd_dir: str | os.PathLike | None = None, *, docs: list | None = None,
               timeout: float = 60.0) -> list[str]:
    """Create (or replace) the CRDs in the yaml files of ``crd_dir`` (and/or ``docs``) and wait until Established.

    Returns the CRD names.  Also waits until each CRD's resource is actually served (a list call
    answers), since the API server needs a moment after Established.
    """
    import urllib3
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # self-signed serving certificate
    objs = list(docs or [])
    if crd_dir is not None:
        for path in sorted(Path(crd_dir).glob("*.y*ml")):
            with open(path) as fh:
                objs.extend(d for d in yaml.safe_load_all(fh) if d and d.get("kind") == "CustomResourceDefinition")
    api = k8s_config.new_client_from_config(config_file=kubeconfig)
    try:
        ext = k8s.ApiextensionsV1Api(api)
        custom = k8s.CustomObjectsApi(api)
        names = []
        for crd in objs:
            name = crd["metadata"]["name"]
            names.append(name)
            try:
                ext.create_custom_resource_definition(crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                current = ext.read_custom_resource_definition(name)
                crd = dict(crd)
                crd["metadata"] = dict(crd["metadata"], resourceVersion=current.metadata.resource_version)
                ext.replace_custom_resource_definition(name, crd)
        deadline = time.monotonic() + timeout
        for crd in objs:
            name = crd["metadata"]["name"]
            spec = crd["spec"]
            version = next(v["name"] for v in spec["versions"] if v.get("storage"))
            while True:
                obj = api.sanitize_for_serialization(ext.read_custom_resource_definition(name))
                conds = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
                if conds.get("Established") == "True":
                    try:
                        custom.list_cluster_custom_object(spec["group"], version, spec["names"]["plural"], limit=1)
                        break
                    except ApiException as exc:
                        if exc.status != 404:
                            raise
                if time.monotonic() > deadline:
                    raise RealApiServerError(f"CRD {name} not established after {timeout:.0f} s: {json.dumps(conds)}")
                time.sleep(0.2)
        return names
    finally:
        api.close()
