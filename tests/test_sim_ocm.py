"""Tests of the simulated OCM API (``sim/ocm.py``) and the stand-in ``ocm`` CLI (``sim/standin/ocm.py``).

A real ``python -m sim serve`` subprocess is started; everything is checked from outside, through
``DIR/bin/ocm`` with an ``OCM_CONFIG`` file (as the harness would use Red Hat's real ``ocm``) and
through HTTP.  No token may ever show up on the CLI's stdout or stderr.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from sim import ocm as simocm
from tests.simworld import SimWorld

CLUSTERS = "/api/clusters_mgmt/v1/clusters"
DECOYS = 250
OIDC = "/api/clusters_mgmt/v1/oidc_configs"


# ================================================================= helpers
class World(SimWorld):
    """A ``python -m sim serve`` subprocess in ``dir`` at ``--speed 2000``, with its OCM token and URLs."""

    def __init__(self, dir_: Path, *args: str):
        super().__init__(dir_, "--speed", "2000", *args)

    def start(self, timeout: float = 30.0) -> "World":
        super().start(timeout)
        self.info = self.world
        self.offline_token = (self.dir / "ocm-token").read_text().strip()
        return self

    def write_config(self, path: Path, **over) -> Path:
        cfg = {"client_id": "cloud-services", "refresh_token": self.offline_token, "scopes": ["openid"],
               "token_url": self.info["ocm_token_url"], "url": self.info["ocm_url"]}
        cfg.update(over)
        cfg = {k: v for k, v in cfg.items() if v is not None}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(cfg, fh)
        return path


def secrets_of(world: World, *configs: Path) -> list[str]:
    out = [world.offline_token]
    for c in configs:
        if c.exists():
            data = json.loads(c.read_text() or "{}")
            out += [data[k] for k in ("access_token", "refresh_token") if data.get(k)]
    return out


def run_ocm(world: World, *args: str, config: Path | None = None, env: dict | None = None,
            cwd: Path | None = None, extra_secrets: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the stand-in from ``cwd`` without PYTHONPATH; assert no token appears in its output."""
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OCM_CONFIG", "OCM_URL", "OCM_KEYRING")}
    e["HOME"] = str(world.dir.parent / "home")   # never the real ~/.ocm.json
    e.pop("XDG_CONFIG_HOME", None)
    if config is not None:
        e["OCM_CONFIG"] = str(config)
    e.update(env or {})
    before = secrets_of(world, *([config] if config else []))
    r = subprocess.run([world.ocm, *args], capture_output=True, text=True, timeout=30, env=e,
                       cwd=str(cwd or world.dir.parent))
    after = secrets_of(world, *([config] if config else []))
    for secret in {*before, *after, *extra_secrets}:
        assert secret not in r.stdout and secret not in r.stderr, f"a token leaked in the output of {args}"
    return r


def forged_jwt(claims: dict) -> str:
    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    head = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64(claims)
    sig = hmac.new(b"not-the-world-key", head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def jwt_payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("ocmworld") / "world", "--seed", "3").start()
    yield w
    w.stop()


@pytest.fixture
def config(world, tmp_path) -> Path:
    return world.write_config(tmp_path / "cfg" / "ocm.json")


# ============================================================== the world
def test_world_files_and_keys(world):
    d = world.dir
    assert (d / "ocm-token").stat().st_mode & 0o777 == 0o600
    assert os.access(d / "bin" / "ocm", os.X_OK)
    assert (d / "bin" / "ocm").read_text().startswith(f"#!{sys.executable}\n")
    for key in ("ocm_url", "ocm_token_url", "mgmt_cluster_name", "mgmt_cluster_id", "oidc_config_ids"):
        assert world.info[key], key
    assert world.info["ocm_url"].startswith("http://127.0.0.1:")
    assert world.info["ocm_token_url"] == world.info["ocm_url"] + simocm.TOKEN_PATH
    assert world.info["mgmt_cluster_name"] == "sim-mgmt"
    assert re.fullmatch(r"[0-9a-v]{32}", world.info["mgmt_cluster_id"])
    assert "OCM" in world.banner and world.offline_token not in world.banner
    assert jwt_payload(world.offline_token)["typ"] == "Offline"


def test_version_is_bare(world, tmp_path):
    r = run_ocm(world, "version", cwd=tmp_path)
    assert r.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+\n", r.stdout) and r.stderr == ""


# ============================================================ cluster lookup
def test_pages_find_the_management_cluster_only_on_the_last_page(world, config):
    name = world.info["mgmt_cluster_name"]
    seen: list[str] = []
    for page in (1, 2):
        r = run_ocm(world, "get", CLUSTERS, "--parameter", f"page={page}", "--parameter", "size=100", config=config)
        assert r.returncode == 0, r.stderr
        body = json.loads(r.stdout)
        assert body["kind"] == "ClusterList" and body["page"] == page and body["size"] == 100
        assert name not in [c["name"] for c in body["items"]]
        seen += [c["id"] for c in body["items"]]
    r = run_ocm(world, "get", CLUSTERS, "--parameter", "page=3", "--parameter", "size=100", config=config)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("{\n  \"kind\": \"ClusterList\",\n")   # pretty, like the real CLI
    body = json.loads(r.stdout)
    assert body["total"] == DECOYS + 1 and body["page"] == 3 and body["size"] == DECOYS + 1 - 200
    assert body["items"][-1]["name"] == name and body["items"][-1]["id"] == world.info["mgmt_cluster_id"]
    seen += [c["id"] for c in body["items"]]
    assert len(set(seen)) == DECOYS + 1
    # default size is 100, the first page only
    first = json.loads(run_ocm(world, "get", "clusters", config=config).stdout)
    assert first["page"] == 1 and first["size"] == 100 and first["total"] == DECOYS + 1
    # past the end: no items
    empty = json.loads(run_ocm(world, "get", "clusters", "-p", "page=9", config=config).stdout)
    assert empty["items"] == [] and empty["size"] == 0 and empty["total"] == DECOYS + 1


def test_search_and_cluster_fields(world, config):
    name, cid = world.info["mgmt_cluster_name"], world.info["mgmt_cluster_id"]
    r = run_ocm(world, "get", CLUSTERS, "--parameter", f"search=name = '{name}'", config=config)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["total"] == 1 and body["size"] == 1
    c = body["items"][0]
    assert c["id"] == cid and c["name"] == name
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", c["external_id"])
    assert c["infra_id"].startswith(name + "-")
    assert re.fullmatch(r"4\.17\.\d+", c["openshift_version"])
    assert c["dns"]["base_domain"] == world.info["base_domain"]
    assert c["region"]["id"] == world.info["region"]
    assert isinstance(c["nodes"]["compute"], int) and c["nodes"]["compute"] > 0
    assert c["nodes"]["compute_machine_type"]["id"]
    assert c["network"]["type"] == "OVNKubernetes" and c["state"] == "ready"
    # by id, through the alias, and id/or/and searches
    r = run_ocm(world, "get", "cluster", cid, config=config)
    assert r.returncode == 0 and json.loads(r.stdout) == c
    for search in (f"id = '{cid}'", f"name = 'nope' or id = '{cid}'",
                   f"name = '{name}' and state = 'ready'", f"(name = '{name}') and region.id = '{c['region']['id']}'"):
        r = run_ocm(world, "get", "clusters", "-p", f"search={search}", "--single", config=config)
        assert r.returncode == 0 and r.stdout.count("\n") == 1, (search, r.stderr)
        assert [i["id"] for i in json.loads(r.stdout)["items"]] == [cid], search
    r = run_ocm(world, "get", "clusters", "-p", f"search=name = '{name}' and state = 'installing'", config=config)
    assert json.loads(r.stdout)["total"] == 0
    # near names exist: a `like` search is not an exact lookup
    like = json.loads(run_ocm(world, "get", "clusters", "-p", f"search=name like '{name}%'", config=config).stdout)
    assert like["total"] > 1 and name in [i["name"] for i in like["items"]]
    # a raw path with its own query works too
    r = run_ocm(world, "get", f"{CLUSTERS}?search=name+%3D+%27{name}%27", config=config)
    assert json.loads(r.stdout)["items"][0]["id"] == cid


def test_unknown_cluster_and_bad_search(world, config):
    r = run_ocm(world, "get", "cluster", "0" * 32, config=config)
    assert r.returncode == 1 and r.stdout == ""
    err = json.loads(r.stderr)
    assert err["kind"] == "Error" and err["id"] == "404" and err["code"] == "CLUSTERS-MGMT-404" and err["reason"]
    r = run_ocm(world, "get", "clusters", "-p", "search=name = = 'x'", config=config)
    assert r.returncode == 1 and json.loads(r.stderr)["code"] == "CLUSTERS-MGMT-400"
    r = run_ocm(world, "get", "cluster", config=config)
    assert r.returncode == 1 and r.stderr.startswith("Error: Could not create URI")


def test_credentials_kubeconfig_lists_hostedclusters(world, config, tmp_path):
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    cid = world.info["mgmt_cluster_id"]
    r = run_ocm(world, "get", f"{CLUSTERS}/{cid}/credentials", config=config)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["kind"] == "ClusterCredentials" and "clusters" in yaml.safe_load(body["kubeconfig"])
    kc = tmp_path / "mgmt.kubeconfig"
    kc.write_text(body["kubeconfig"])
    api = k8s_config.new_client_from_config(config_file=str(kc))
    try:
        hcs = k8s.CustomObjectsApi(api).list_namespaced_custom_object("hypershift.openshift.io", "v1beta1",
                                                                      "clusters", "hostedclusters")
        assert isinstance(hcs["items"], list)
        ns = [n.metadata.name for n in k8s.CoreV1Api(api).list_namespace().items]
        assert "hypershift" in ns and "clusters" in ns
    finally:
        api.close()
    # a decoy's credentials are not ours
    decoy = json.loads(run_ocm(world, "get", "clusters", "-p", "size=1", config=config).stdout)["items"][0]
    r = run_ocm(world, "get", f"{CLUSTERS}/{decoy['id']}/credentials", config=config)
    assert r.returncode == 1 and json.loads(r.stderr)["id"] == "403"


# ============================================================ OIDC configs
def access_token(world: World) -> str:
    r = requests.post(world.info["ocm_token_url"], data={"grant_type": "refresh_token", "client_id": "cloud-services",
                                                          "refresh_token": world.offline_token}, timeout=5)
    assert r.status_code == 200
    return r.json()["access_token"]


def test_oidc_configs_through_the_standin(world, config):
    ids = world.info["oidc_config_ids"]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(re.fullmatch(r"[0-9a-v]{32}", i) for i in ids)
    # stable per seed: the same ids as the in-process factory gives for --seed 3, others for another seed
    assert [c["id"] for c in simocm.world_oidc_configs(3, "us-east-1")] == ids
    assert not set(ids) & {c["id"] for c in simocm.world_oidc_configs(4, "us-east-1")}
    r = run_ocm(world, "get", OIDC, config=config)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["kind"] == "OidcConfigList" and body["page"] == 1 and body["size"] == 2 and body["total"] == 2
    assert [c["id"] for c in body["items"]] == ids
    # paged like clusters
    r = run_ocm(world, "get", OIDC, "-p", "size=1", "-p", "page=2", config=config)
    body2 = json.loads(r.stdout)
    assert body2["page"] == 2 and body2["size"] == 1 and body2["total"] == 2 and body2["items"][0]["id"] == ids[1]
    by_managed = {}
    for oid, listed in zip(ids, body["items"]):
        r = run_ocm(world, "get", f"{OIDC}/{oid}", config=config)
        assert r.returncode == 0, r.stderr
        c = json.loads(r.stdout)
        assert c == listed
        assert c["kind"] == "OidcConfig" and c["id"] == oid and c["href"] == f"{OIDC}/{oid}"
        assert c["reusable"] is True and isinstance(c["managed"], bool)
        assert c["issuer_url"].startswith("https://") and c["issuer_url"].endswith("/" + oid)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", c["creation_timestamp"])
        by_managed[c["managed"]] = c
    managed, unmanaged = by_managed[True], by_managed[False]
    assert "secret_arn" not in managed and "installer_role_arn" not in managed
    assert re.fullmatch(r"https://[a-z0-9-]+\.s3\.us-east-1\.amazonaws\.com/" + unmanaged["id"],
                        unmanaged["issuer_url"])
    assert re.fullmatch(r"arn:aws:secretsmanager:us-east-1:\d{12}:secret:[\w-]+", unmanaged["secret_arn"])
    assert unmanaged["installer_role_arn"].startswith("arn:aws:iam::")
    # search works as for clusters
    r = run_ocm(world, "get", OIDC, "-p", "search=managed = 'false'", config=config)
    assert [c["id"] for c in json.loads(r.stdout)["items"]] == [unmanaged["id"]]
    # unknown id: the OCM error body on stderr, exit 1
    r = run_ocm(world, "get", f"{OIDC}/{'0' * 32}", config=config)
    assert r.returncode == 1 and r.stdout == ""
    err = json.loads(r.stderr)
    assert err["kind"] == "Error" and err["id"] == "404" and err["code"] == "CLUSTERS-MGMT-404" and err["reason"]
    # a rejected access token: 401
    bad = forged_jwt({"typ": "Bearer", "exp": int(time.time()) + 600})
    cfg = world.write_config(config.with_name("bad.json"), refresh_token=None, access_token=bad)
    r = run_ocm(world, "get", f"{OIDC}/{ids[0]}", config=cfg, extra_secrets=(bad,))
    assert r.returncode == 1 and json.loads(r.stderr)["code"] == "CLUSTERS-MGMT-401"


def test_oidc_configs_over_http(world):
    url, ids = world.info["ocm_url"] + OIDC, world.info["oidc_config_ids"]
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {world.offline_token}"}):
        for path in (url, f"{url}/{ids[0]}", f"{url}/{'0' * 32}"):
            r = requests.get(path, headers=headers, timeout=5)
            assert r.status_code == 401 and r.json()["code"] == "CLUSTERS-MGMT-401" and r.json()["kind"] == "Error"
    h = {"Authorization": f"Bearer {access_token(world)}"}
    body = requests.get(url, headers=h, timeout=5).json()
    assert body["kind"] == "OidcConfigList" and body["total"] == 2 and [c["id"] for c in body["items"]] == ids
    for oid in ids:
        r = requests.get(f"{url}/{oid}", headers=h, timeout=5)
        assert r.status_code == 200 and r.json()["id"] == oid
    r = requests.get(f"{url}/nope", headers=h, timeout=5)
    assert r.status_code == 404 and r.json()["code"] == "CLUSTERS-MGMT-404" and r.json()["kind"] == "Error"
    assert requests.get(url, params={"size": "x"}, headers=h, timeout=5).status_code == 400
    # an unmanaged config (managed defaults to false) needs its issuer URL, secret and installer role
    assert requests.post(url, json={}, headers=h, timeout=5).status_code == 400


# ================================================================ tokens
def test_refreshed_tokens_are_written_back(world, config):
    assert "access_token" not in json.loads(config.read_text())
    r = run_ocm(world, "get", "clusters", "-p", "size=1", config=config)
    assert r.returncode == 0, r.stderr
    saved = json.loads(config.read_text())
    assert config.stat().st_mode & 0o777 == 0o600
    assert saved["refresh_token"] == world.offline_token
    claims = jwt_payload(saved["access_token"])
    assert claims["typ"] == "Bearer" and 850 < claims["exp"] - time.time() <= 900
    assert {"url", "token_url", "client_id", "scopes"} <= set(saved)
    # the next call reuses the still valid access token
    assert run_ocm(world, "get", "clusters", "-p", "size=1", config=config).returncode == 0
    assert json.loads(config.read_text())["access_token"] == saved["access_token"]
    # an access token about to expire is replaced (the SDK wants a minute left)
    world.write_config(config, access_token=forged_jwt({"typ": "Bearer", "exp": int(time.time()) + 30}))
    assert run_ocm(world, "get", "clusters", "-p", "size=1", config=config).returncode == 0
    fresh = json.loads(config.read_text())["access_token"]
    assert jwt_payload(fresh)["exp"] - time.time() > 850


def test_wrong_tokens(world, tmp_path):
    # a refresh token the SSO does not know: the token endpoint's error, exit 1
    bad_refresh = forged_jwt({"typ": "Offline", "iat": int(time.time()), "azp": "cloud-services"})
    cfg = world.write_config(tmp_path / "bad.json", refresh_token=bad_refresh)
    r = run_ocm(world, "get", "clusters", config=cfg, extra_secrets=(bad_refresh,))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("Error: Can't send request: ") and "invalid_grant" in r.stderr
    # an access token the API does not accept: the API's 401 body on stderr, exit 1
    bad_access = forged_jwt({"typ": "Bearer", "exp": int(time.time()) + 600})
    cfg = world.write_config(tmp_path / "bad2.json", refresh_token=None, access_token=bad_access)
    r = run_ocm(world, "get", "clusters", config=cfg, extra_secrets=(bad_access,))
    assert r.returncode == 1 and r.stdout == ""
    err = json.loads(r.stderr)
    assert err["kind"] == "Error" and err["id"] == "401" and err["code"] == "CLUSTERS-MGMT-401"
    # not a JWT at all
    cfg = world.write_config(tmp_path / "bad3.json", refresh_token="not-a-jwt")
    r = run_ocm(world, "get", "clusters", config=cfg, extra_secrets=("not-a-jwt",))
    assert r.returncode == 1 and r.stderr == "Error: token contains an invalid number of segments\n"


def test_not_logged_in(world, tmp_path):
    r = run_ocm(world, "get", "clusters", config=tmp_path / "absent.json")
    assert r.returncode == 1 and r.stdout == ""
    assert "Not logged in" in r.stderr and "run the 'login' command" in r.stderr
    assert not (tmp_path / "absent.json").exists()
    # no OCM_CONFIG, nothing in HOME or XDG_CONFIG_HOME either
    r = run_ocm(world, "get", "clusters", env={"HOME": str(tmp_path / "h"), "XDG_CONFIG_HOME": str(tmp_path / "x")})
    assert r.returncode == 1 and "Not logged in" in r.stderr


def test_login_get_logout(world, tmp_path):
    cfg = tmp_path / "new" / "dir" / "ocm.json"
    r = run_ocm(world, "login", config=cfg)
    assert r.returncode == 1 and "--token" in r.stderr and not cfg.exists()
    r = run_ocm(world, "login", "--token", world.offline_token, "--url", world.info["ocm_url"],
                "--token-url", world.info["ocm_token_url"], config=cfg)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stderr
    assert cfg.stat().st_mode & 0o777 == 0o600
    saved = json.loads(cfg.read_text())
    assert saved["refresh_token"] == world.offline_token and saved["access_token"]
    assert saved["url"] == world.info["ocm_url"] and saved["token_url"] == world.info["ocm_token_url"]
    assert saved["client_id"] == "cloud-services" and saved["scopes"] == ["openid"]
    r = run_ocm(world, "get", "clusters", "-p", f"search=name = '{world.info['mgmt_cluster_name']}'", config=cfg)
    assert r.returncode == 0 and json.loads(r.stdout)["items"][0]["id"] == world.info["mgmt_cluster_id"]
    # a wrong token does not log in (and is not echoed)
    bad = forged_jwt({"typ": "Offline"})
    r = run_ocm(world, "login", "--token", bad, "--url", world.info["ocm_url"], "--token-url",
                world.info["ocm_token_url"], config=tmp_path / "other.json", extra_secrets=(bad,))
    assert r.returncode == 1 and "Can't get token" in r.stderr and not (tmp_path / "other.json").exists()
    # logout keeps the file but drops the credentials
    r = run_ocm(world, "logout", config=cfg)
    assert r.returncode == 0 and json.loads(cfg.read_text()) == {}
    r = run_ocm(world, "get", "clusters", config=cfg)
    assert r.returncode == 1 and "Not logged in" in r.stderr


def test_login_into_xdg_config_without_ocm_config(world, tmp_path):
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}
    r = run_ocm(world, "login", "--token", world.offline_token, "--url", world.info["ocm_url"],
                "--token-url", world.info["ocm_token_url"], env=env)
    assert r.returncode == 0, r.stderr
    path = xdg / "ocm" / "ocm.json"
    assert path.stat().st_mode & 0o777 == 0o600 and not (home / ".ocm.json").exists()
    r = run_ocm(world, "get", "cluster", world.info["mgmt_cluster_id"], env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["name"] == world.info["mgmt_cluster_name"]


def test_ocm_url_override_and_no_real_services(world, tmp_path):
    cfg = world.write_config(tmp_path / "prod.json", url="https://api.openshift.com")
    r = run_ocm(world, "get", "clusters", "-p", "size=1", config=cfg)
    assert r.returncode == 1 and "does not reach real services" in r.stderr
    r = run_ocm(world, "get", "clusters", "-p", "size=1", config=cfg, env={"OCM_URL": world.info["ocm_url"]})
    assert r.returncode == 0 and json.loads(r.stdout)["kind"] == "ClusterList"
    assert json.loads(cfg.read_text())["url"] == "https://api.openshift.com"   # OCM_URL is not persisted


def test_cli_errors(world, tmp_path):
    r = run_ocm(world, "bogus")
    assert r.returncode == 1 and r.stderr == 'Error: unknown command "bogus" for "ocm"\n'
    r = run_ocm(world, "get", "clusters", "--bogus")
    assert r.returncode == 1 and r.stderr == "Error: unknown flag: --bogus\n"
    r = run_ocm(world, "get", "clusters", "-p")
    assert r.returncode == 1 and r.stderr == "Error: flag needs an argument: 'p' in -p\n"


# ================================================================ restart
def test_restart_keeps_token_cluster_and_login(tmp_path):
    w = World(tmp_path / "w", "--ocm-decoys", "5", "--seed", "9").start()
    try:
        assert w.info["ocm_clusters"] == 6
        cfg = w.write_config(tmp_path / "cfg.json")
        assert run_ocm(w, "get", "clusters", config=cfg).returncode == 0
        before = dict(w.info)
        token = w.offline_token
    finally:
        w.stop()
    w2 = w.restart()   # the same folder and arguments
    try:
        assert w2.offline_token == token
        assert w2.info["mgmt_cluster_id"] == before["mgmt_cluster_id"]
        assert w2.info["oidc_config_ids"] == before["oidc_config_ids"]
        assert w2.info["ocm_url"] == before["ocm_url"]      # same port when it is still free
        # the saved access token is still accepted: no new token request needed
        r = run_ocm(w2, "get", "cluster", w2.info["mgmt_cluster_id"], config=cfg)
        assert r.returncode == 0 and json.loads(r.stdout)["name"] == "sim-mgmt"
    finally:
        w2.stop()


# ====================================================== the server in-process
def test_server_http_contract():
    token = simocm.new_offline_token()
    mgmt = simocm.management_cluster(name="m", seed=1, base_domain="b.example", region="eu-west-1",
                                      api_url="https://api.m.b.example:6443")
    decoys = simocm.decoy_clusters(12, seed=1, avoid={"m"}, near_name="m")
    assert len({c["name"] for c in decoys}) == 12 and "m" not in {c["name"] for c in decoys}
    srv = simocm.OcmServer(offline_token=token, clusters=decoys + [mgmt], credentials={mgmt["id"]: "kc"}).start()
    try:
        s = requests.Session()
        r = s.post(srv.token_url, data={"grant_type": "refresh_token", "refresh_token": "x",
                                        "client_id": "cloud-services"}, timeout=5)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        r = s.post(srv.token_url, data={"grant_type": "refresh_token", "refresh_token": token,
                                        "client_id": "cloud-services"}, timeout=5)
        assert r.status_code == 200
        tok = r.json()
        assert tok["token_type"] == "Bearer" and tok["expires_in"] == 900 and tok["refresh_token"] == token
        assert s.get(srv.url + CLUSTERS, timeout=5).status_code == 401
        r = s.get(srv.url + CLUSTERS, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert r.status_code == 401 and r.json()["code"] == "CLUSTERS-MGMT-401"
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        r = s.get(srv.url + CLUSTERS, params={"size": 5, "page": 3}, headers=h, timeout=5).json()
        assert r["total"] == 13 and r["size"] == 3 and r["items"][-1]["id"] == mgmt["id"]
        r = s.get(srv.url + CLUSTERS, params={"search": "name in ('m', 'zz')"}, headers=h, timeout=5).json()
        assert [c["id"] for c in r["items"]] == [mgmt["id"]]
        r = s.get(srv.url + CLUSTERS, params={"search": "not (name != 'm')"}, headers=h, timeout=5).json()
        assert r["total"] == 1
        r = s.get(srv.url + CLUSTERS, params={"search": "nodes.compute >= 1 and hypershift.enabled = 'false'",
                                              "order": "name desc"}, headers=h, timeout=5).json()
        names = [c["name"] for c in r["items"]]
        assert "m" in names and names == sorted(names, reverse=True)
        r = s.get(srv.url + CLUSTERS, params={"search": "bogus_field = 'x'"}, headers=h, timeout=5)
        assert r.status_code == 400
        r = s.get(srv.url + CLUSTERS, params={"page": "x"}, headers=h, timeout=5)
        assert r.status_code == 400
        r = s.get(f"{srv.url}{CLUSTERS}/{mgmt['id']}/credentials", headers=h, timeout=5).json()
        assert r == {"kind": "ClusterCredentials", "id": mgmt["id"], "href": f"{mgmt['href']}/credentials",
                     "kubeconfig": "kc"}
        assert s.post(srv.url + CLUSTERS, headers=h, json={}, timeout=5).status_code == 405
        counts = srv.counts
        assert counts["token"] == 2 and counts["token_ok"] == 1 and counts["unauthorized"] == 2
        assert counts["list"] >= 6 and counts["credentials"] == 1
    finally:
        srv.stop()
