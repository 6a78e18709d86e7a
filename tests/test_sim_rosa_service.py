"""Tests of the world side of ROSA HCP (``sim/rosa.py``): the simulated OCM API's ROSA clusters backed by
HostedClusters, the simulated AWS account (``/sim/aws/``) and the guests' OAuth login.

A real ``python -m sim serve`` subprocess is started at a high speed; everything is driven over HTTP, as the
stand-in ``rosa`` CLI does.  Every wait is bounded.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import types
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml

from sim import rosa as simrosa
from tests.simworld import SimWorld, wait_for

API = "/api/clusters_mgmt/v1"
CLUSTERS = API + "/clusters"
OIDC = API + "/oidc_configs"
FAIL_INDEX = 7
PASSWORD = "Sim-Admin-Passw0rd-123"


# ================================================================= helpers
class Rosa:
    """The world plus an OCM session (Bearer access token) and the AWS account's URL."""

    def __init__(self, world: SimWorld):
        self.world = world
        self.info = world.world
        self.url = self.info["ocm_url"]
        token = (world.dir / "ocm-token").read_text().strip()
        r = requests.post(self.info["ocm_token_url"], timeout=10,
                          data={"grant_type": "refresh_token", "client_id": "cloud-services", "refresh_token": token})
        r.raise_for_status()
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        kc = yaml.safe_load(Path(world.kubeconfig).read_text())
        self.mgmt_url = kc["clusters"][0]["cluster"]["server"]
        self.mgmt_token = kc["users"][0]["user"]["token"]

    # ---- OCM
    def get(self, path: str, **kw) -> requests.Response:
        return self.s.get(self.url + path, timeout=10, **kw)

    def post(self, path: str, body: dict, headers: dict | None = None) -> requests.Response:
        return self.s.post(self.url + path, json=body, headers=headers or {}, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.s.delete(self.url + path, timeout=10)

    def cluster(self, cid: str) -> dict | None:
        r = self.get(f"{CLUSTERS}/{cid}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def wait_state(self, cid: str, *states: str, timeout: float = 30.0) -> dict:
        return wait_for(lambda: (c := self.cluster(cid)) and c["state"] in states and c, timeout,
                        f"cluster {cid} in state {states}")

    # ---- AWS
    def aws(self, method: str, what: str, body: dict | None = None, **params) -> requests.Response:
        return requests.request(method, f"{self.url}/sim/aws/{what}", json=body, params=params, timeout=10)

    # ---- management API
    def mgmt(self, path: str) -> requests.Response:
        return requests.get(self.mgmt_url + path, headers={"Authorization": f"Bearer {self.mgmt_token}"}, timeout=10)

    # ---- a cluster body as `rosa create cluster --hosted-cp` sends it
    def body(self, name: str, oidc_id: str, prefix: str, replicas: int = 2, **over) -> dict:
        acct, p = self.info["aws_account_id"], self.info["rosa_account_roles_prefix"]
        worker = f"arn:aws:iam::{acct}:role/{p}-HCP-ROSA-Worker-Role"
        body = {
            "name": name, "product": {"id": "rosa"}, "cloud_provider": {"id": "aws"},
            "region": {"id": self.info["region"]}, "multi_az": True, "hypershift": {"enabled": True},
            "version": {"id": "openshift-v4.17.3", "channel_group": "stable"},
            "nodes": {"compute": replicas, "compute_machine_type": {"id": "m5.xlarge"}},
            "aws": {"subnet_ids": self.info["rosa_subnet_ids"],
                    "sts": {"enabled": True,
                            "role_arn": f"arn:aws:iam::{acct}:role/{p}-HCP-ROSA-Installer-Role",
                            "support_role_arn": f"arn:aws:iam::{acct}:role/{p}-HCP-ROSA-Support-Role",
                            "instance_iam_roles": {"worker_role_arn": worker},
                            "operator_role_prefix": prefix, "oidc_config": {"id": oidc_id}},
                    "tags": {"hcp-scale-run": "test"}},
            "properties": {"rosa_creator_arn": f"arn:aws:iam::{acct}:user/sim-user"},
        }
        body.update(over)
        return body

    def prerequisites(self, oidc: dict, prefix: str) -> None:
        r = self.aws("POST", "operator_roles", {"prefix": prefix, "oidc_config_id": oidc["id"]})
        assert r.status_code in (200, 201)
        assert self.aws("POST", "oidc_providers", {"issuer_url": oidc["issuer_url"]}).status_code in (200, 201)

    def transitions(self, name: str) -> list[str]:
        lines = Path(self.info["transitions"]).read_text().splitlines()
        return [r["phase"] for r in map(json.loads, lines) if r.get("cluster") == name
                and str(r.get("phase", "")).startswith("rosa_")]


def bcrypt_hash(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))
    return "$2a$" + h[4:]   # what Go's bcrypt (rosa) writes


@pytest.fixture(scope="module")
def rosa(tmp_path_factory):
    w = SimWorld(tmp_path_factory.mktemp("rosaworld") / "world", "--speed", "3000", "--seed", "5",
                 "--ocm-decoys", "5", "--fail-clusters", str(FAIL_INDEX)).start(60)
    try:
        yield Rosa(w)
    finally:
        w.stop(timeout=20, check=False)


@pytest.fixture(scope="module")
def oidc(rosa) -> dict:
    r = rosa.post(OIDC, {"managed": True})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def ready(rosa, oidc) -> dict:
    """One cluster, driven from waiting to ready."""
    prefix = "rt-ready"
    r = rosa.post(CLUSTERS, rosa.body("rt-ready", oidc["id"], prefix))
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["state"] == "waiting" and c["status"]["state"] == "waiting"
    # nothing moves without the operator roles and the OIDC provider
    assert rosa.get(f"{CLUSTERS}/{c['id']}/logs/install").status_code == 404
    time.sleep(0.5)
    assert rosa.cluster(c["id"])["state"] == "waiting"
    assert "operator roles" in rosa.cluster(c["id"])["status"]["description"]
    rosa.prerequisites(oidc, prefix)
    rosa.wait_state(c["id"], "pending", "installing", "ready", timeout=20)
    return rosa.wait_state(c["id"], "ready", timeout=40)


# ================================================================= world files and the AWS account
def test_world_json_and_aws_account(rosa):
    info = rosa.info
    assert info["rosa"] == str(rosa.world.dir / "bin" / "rosa")
    assert os.access(info["rosa"], os.X_OK) and "sim.standin.rosa" in Path(info["rosa"]).read_text()
    assert len(info["aws_account_id"]) == 12 and info["aws_account_id"].isdigit()
    assert info["rosa_account_roles_prefix"] == "ManagedOpenShift"
    subnets = rosa.aws("GET", "subnets").json()
    assert [s["subnet_id"] for s in subnets["items"]] == info["rosa_subnet_ids"]
    assert len({s["availability_zone"] for s in subnets["items"]}) >= 2
    assert {s["public"] for s in subnets["items"]} == {True, False}
    account = rosa.aws("GET", "account").json()
    assert account["account_id"] == info["aws_account_id"] and account["region"] == info["region"]
    roles = rosa.aws("GET", "roles", type="account").json()["items"]
    names = {r["name"]: r for r in roles}
    for t in ("Installer", "Support", "Worker"):
        role = names[f"ManagedOpenShift-HCP-ROSA-{t}-Role"]
        assert role["role_type"] == t and role["arn"] == f"arn:aws:iam::{info['aws_account_id']}:role/{role['name']}"
    # operator roles: create, list, the names rosa gives them, delete
    prefix = "x" * 30
    r = rosa.aws("POST", "operator_roles", {"prefix": prefix})
    assert r.status_code == 201 and len(r.json()["items"]) == len(simrosa.HCP_OPERATOR_ROLES)
    got = {x["name"] for x in rosa.aws("GET", "operator_roles", prefix=prefix).json()["items"]}
    assert f"{prefix}-kube-system-control-plane-operator"[:64] in got and "x-kube-system-kms-provider" in str(got)
    assert f"{prefix}-openshift-cloud-network-config-controller-cloud-credentials"[:64] in got
    assert all(len(n) <= 64 for n in got)
    assert rosa.aws("POST", "operator_roles", {"prefix": prefix}).status_code == 200
    assert rosa.aws("POST", "operator_roles", {"prefix": "y" * 33}).status_code == 400
    assert rosa.aws("DELETE", "operator_roles", prefix=prefix).status_code == 204
    assert rosa.aws("DELETE", "operator_roles", prefix=prefix).status_code == 404
    # OIDC providers: the organisation's two configs have theirs already
    urls = {p["url"] for p in rosa.aws("GET", "oidc_providers").json()["items"]}
    for oid in info["oidc_config_ids"]:
        assert rosa.get(f"{OIDC}/{oid}").json()["issuer_url"] in urls


def test_oidc_configs_create_delete(rosa):
    r = rosa.post(OIDC, {"managed": True})
    assert r.status_code == 201
    oc = r.json()
    assert oc["managed"] is True and oc["issuer_url"] == f"https://oidc.op1.openshiftapps.com/{oc['id']}"
    assert rosa.get(f"{OIDC}/{oc['id']}").json()["id"] == oc["id"]
    assert oc["id"] in [c["id"] for c in rosa.get(OIDC).json()["items"]]
    assert rosa.post(OIDC, {}).status_code == 400            # unmanaged without issuer/secret/role
    assert rosa.delete(f"{OIDC}/{oc['id']}").status_code == 204
    assert rosa.get(f"{OIDC}/{oc['id']}").status_code == 404
    assert rosa.delete(f"{OIDC}/{oc['id']}").status_code == 404
    # the provider of an issuer URL
    r = rosa.aws("POST", "oidc_providers", {"issuer_url": "https://example.invalid/abc"})
    assert r.status_code == 201 and r.json()["arn"].endswith(":oidc-provider/example.invalid/abc")
    assert rosa.aws("DELETE", "oidc_providers", issuer_url="https://example.invalid/abc").status_code == 204


def test_validation_errors(rosa, oidc):
    good = rosa.body("rt-valid", oidc["id"], "rt-valid")

    def err(body: dict, *, headers: dict | None = None) -> str:
        r = rosa.post(CLUSTERS, body, headers)
        assert r.status_code == 400, r.text
        e = r.json()
        assert e["kind"] == "Error" and e["code"] == "CLUSTERS-MGMT-400"
        return e["reason"]

    assert "name is required" in err(dict(good, name=""))
    assert "54" in err(dict(good, name="a" * 55))
    assert "not valid" in err(dict(good, name="Bad_Name"))
    assert err(dict(good, name=rosa.info["mgmt_cluster_name"])) == \
        f"Cluster name '{rosa.info['mgmt_cluster_name']}' already exists"
    aws = json.loads(json.dumps(good["aws"]))
    aws["sts"]["oidc_config"] = {"id": "0" * 32}
    assert "OIDC config" in err(dict(good, aws=aws))
    aws = dict(good["aws"], subnet_ids=["subnet-0nope"])
    assert "Subnet 'subnet-0nope' does not exist" in err(dict(good, aws=aws))
    assert "subnet IDs" in err(dict(good, aws=dict(good["aws"], subnet_ids=[])))
    assert "not supported for hosted control planes" in err(dict(good, version={"id": "openshift-v4.9.1"}))
    assert "hosted control planes" in err(dict(good, hypershift={"enabled": False}))
    assert "minimum of 2 compute nodes" in err(dict(good, nodes={"compute": 1}))
    assert "X-Sim-Faults" in err(good, headers={"X-Sim-Faults": '{"nope": true}'})
    assert "future" in err(dict(good, expiration_timestamp="2001-01-01T00:00:00Z"))
    assert rosa.get(CLUSTERS, params={"search": "name = 'rt-valid'"}).json()["total"] == 0
    r = requests.post(rosa.url + CLUSTERS, json=good, timeout=10)
    assert r.status_code == 401
    # a duplicate of a ROSA cluster
    r = rosa.post(CLUSTERS, good)
    assert r.status_code == 201
    assert err(good) == "Cluster name 'rt-valid' already exists"
    assert rosa.post(f"{CLUSTERS}/{r.json()['id']}/addons", {"addon": {"id": "managed-odh"}}).status_code == 400
    assert rosa.delete(f"{CLUSTERS}/{r.json()['id']}").status_code == 204


# ================================================================= the happy path
def test_ready_cluster_and_its_hostedcluster(rosa, ready):
    c = ready
    ns = f"ocm-production-{c['id']}"
    assert len(c["id"]) == 32 and set(c["id"]) <= set(simrosa.ID_ALPHABET)
    assert c["href"] == f"{CLUSTERS}/{c['id']}" and c["product"]["id"] == "rosa" and c["hypershift"]["enabled"]
    assert c["api"]["url"].endswith(f"/guests/{ns}/rt-ready") and c["api"]["url"].startswith("http://127.0.0.1:")
    assert c["status"]["dns_ready"] and c["status"]["oidc_ready"] and c["status"]["provision_error_code"] == ""
    assert c["version"]["raw_id"] == "4.17.3" and c["aws"]["sts"]["oidc_config"]["id"]
    assert c["nodes"]["compute"] == 2 and c["status"]["current_compute"] == 2
    hc = rosa.mgmt(f"/apis/hypershift.openshift.io/v1beta1/namespaces/{ns}/hostedclusters/rt-ready").json()
    assert hc["metadata"]["labels"]["api.openshift.com/id"] == c["id"]
    assert hc["metadata"]["labels"]["api.openshift.com/name"] == "rt-ready"
    assert hc["status"]["version"]["history"][0]["state"] == "Completed"
    np = rosa.mgmt(f"/apis/hypershift.openshift.io/v1beta1/namespaces/{ns}/nodepools/rt-ready-workers").json()
    assert np["spec"]["replicas"] == 2 and np["spec"]["platform"]["aws"]["instanceType"] == "m5.xlarge"
    assert rosa.transitions("rt-ready")[:4] == ["rosa_waiting", "rosa_pending", "rosa_installing", "rosa_ready"]
    # listing and search
    for search in ("name = 'rt-ready'", "product.id = 'rosa' and name = 'rt-ready'",
                   "aws.sts.operator_role_prefix = 'rt-ready'"):
        body = rosa.get(CLUSTERS, params={"search": search}).json()
        assert body["total"] == 1 and body["items"][0]["id"] == c["id"], search
    status = rosa.get(f"{CLUSTERS}/{c['id']}/status").json()
    assert status["kind"] == "ClusterStatus" and status["state"] == "ready"
    log = rosa.get(f"{CLUSTERS}/{c['id']}/logs/install").json()
    assert log["kind"] == "Log" and log["id"] == "install"
    assert "Cluster state changed to 'ready'" in log["content"]
    assert "HostedCluster condition Available=True" in log["content"]
    tail = rosa.get(f"{CLUSTERS}/{c['id']}/logs/install", params={"tail": 1}).json()["content"]
    assert tail.count("\n") == 1


def test_node_pools(rosa, ready):
    cid = ready["id"]
    pools = rosa.get(f"{CLUSTERS}/{cid}/node_pools").json()
    assert pools["kind"] == "NodePoolList" and [p["id"] for p in pools["items"]] == ["workers"]
    w = pools["items"][0]
    assert w["status"]["current_replicas"] == 2 and w["status"]["state"]["value"] == "ready"
    body = {"id": "mp1", "replicas": 1, "aws_node_pool": {"instance_type": "m6i.xlarge"},
            "labels": {"tier": "perf"}, "taints": [{"key": "dedicated", "value": "perf", "effect": "NoSchedule"}]}
    r = rosa.post(f"{CLUSTERS}/{cid}/node_pools", body)
    assert r.status_code == 201, r.text
    assert rosa.post(f"{CLUSTERS}/{cid}/node_pools", body).status_code == 400           # duplicate
    assert rosa.post(f"{CLUSTERS}/{cid}/node_pools", dict(body, id="x" * 16)).status_code == 400
    assert rosa.post(f"{CLUSTERS}/{cid}/node_pools", dict(body, id="mp2", taints=[{"key": "a", "effect": "No"}])
                     ).status_code == 400
    mp = wait_for(lambda: (p := rosa.get(f"{CLUSTERS}/{cid}/node_pools/mp1").json())
                  and p["status"]["state"]["value"] == "ready" and p, 30, "node pool mp1 ready")
    assert mp["status"]["current_replicas"] == 1 and mp["labels"] == {"tier": "perf"}
    assert mp["taints"] == [{"key": "dedicated", "value": "perf", "effect": "NoSchedule"}]
    ns = f"ocm-production-{cid}"
    hs = rosa.mgmt(f"/apis/hypershift.openshift.io/v1beta1/namespaces/{ns}/nodepools/rt-ready-mp1").json()
    assert hs["spec"]["nodeLabels"] == {"tier": "perf"} and hs["spec"]["taints"][0]["key"] == "dedicated"
    assert rosa.get(f"{CLUSTERS}/{cid}/node_pools/nope").status_code == 404


def test_addons(rosa, ready):
    cid = ready["id"]
    catalogue = rosa.get(f"{API}/addons").json()
    ids = [a["id"] for a in catalogue["items"]]
    assert catalogue["kind"] == "AddOnList" and "cluster-logging-operator" in ids and "managed-odh" in ids
    assert rosa.post(f"{CLUSTERS}/{cid}/addons", {"addon": {"id": "no-such-addon"}}).status_code == 400
    r = rosa.post(f"{CLUSTERS}/{cid}/addons", {"addon": {"id": "cluster-logging-operator"}})
    assert r.status_code == 201 and r.json()["state"] == "installing" and r.json()["kind"] == "AddOnInstallation"
    assert rosa.post(f"{CLUSTERS}/{cid}/addons", {"addon": {"id": "cluster-logging-operator"}}).status_code == 400
    r = rosa.post(f"{CLUSTERS}/{cid}/addons", {"addon": {"id": "managed-odh"}},
                  headers={"X-Sim-Faults": '{"fail_addons": true}'})
    assert r.status_code == 201

    def states():
        items = rosa.get(f"{CLUSTERS}/{cid}/addons").json()["items"]
        got = {i["addon"]["id"]: i["state"] for i in items}
        return got if "installing" not in got.values() else None

    assert wait_for(states, 20, "add-ons settled") == {"cluster-logging-operator": "ready", "managed-odh": "failed"}
    inst = rosa.get(f"{CLUSTERS}/{cid}/addons/managed-odh").json()
    assert inst["state_description"] and inst["updated_timestamp"] >= inst["creation_timestamp"]


def test_admin_idp_and_oauth_login(rosa, ready):
    cid, api_url = ready["id"], ready["api"]["url"]
    r = rosa.post(f"{CLUSTERS}/{cid}/groups/cluster-admins/users", {"id": "cluster-admin"})
    assert r.status_code == 201 and r.json()["id"] == "cluster-admin"
    assert rosa.get(f"{CLUSTERS}/{cid}/groups/cluster-admins/users/cluster-admin").status_code == 200
    assert rosa.get(f"{CLUSTERS}/{cid}/groups/cluster-admins/users/nobody").status_code == 404
    idp = {"kind": "IdentityProvider", "type": "HTPasswdIdentityProvider", "name": "cluster-admin",
           "htpasswd": {"users": {"items": [{"username": "cluster-admin", "hashed_password": bcrypt_hash(PASSWORD)}]}}}
    r = rosa.post(f"{CLUSTERS}/{cid}/identity_providers", idp)
    assert r.status_code == 201 and r.json()["name"] == "cluster-admin" and "hashed_password" not in r.text
    assert rosa.post(f"{CLUSTERS}/{cid}/identity_providers", idp).status_code == 400      # the name is taken
    assert [i["name"] for i in rosa.get(f"{CLUSTERS}/{cid}/identity_providers").json()["items"]] == ["cluster-admin"]
    meta = requests.get(f"{api_url}/.well-known/oauth-authorization-server", timeout=10).json()
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "scopes_supported",
                "response_types_supported", "grant_types_supported", "code_challenge_methods_supported"):
        assert key in meta
    assert urlsplit(meta["authorization_endpoint"]).hostname == "127.0.0.1"

    def authorize(user: str, password: str, csrf: bool = True) -> requests.Response:
        h = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        if csrf:
            h["X-CSRF-Token"] = "1"
        return requests.get(meta["authorization_endpoint"], headers=h, allow_redirects=False, timeout=10,
                            params={"response_type": "token", "client_id": "openshift-challenging-client"})

    for user, pw in (("cluster-admin", "wrong"), ("nobody", PASSWORD)):
        r = authorize(user, pw)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="openshift"'
    assert authorize("cluster-admin", PASSWORD, csrf=False).status_code == 401
    r = wait_for(lambda: (x := authorize("cluster-admin", PASSWORD)).status_code == 302 and x, 20,
                 "the admin user to become active")
    loc = r.headers["Location"]
    assert loc.startswith(f"{meta['issuer']}/oauth/token/implicit#")
    frag = parse_qs(urlsplit(loc).fragment)
    assert frag["token_type"] == ["Bearer"] and frag["expires_in"] == ["86400"] and frag["scope"] == ["user:full"]
    assert "scope=user%3Afull" in loc
    token = frag["access_token"][0]
    assert token.startswith("sha256~")
    nodes = requests.get(f"{api_url}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert nodes.status_code == 200 and len(nodes.json()["items"]) >= 2
    assert requests.get(f"{api_url}/api/v1/nodes", headers={"Authorization": "Bearer sha256~nope"},
                        timeout=10).status_code == 401
    # the nodes of the extra pool carry its labels (test_node_pools ran first)
    labelled = [n for n in nodes.json()["items"] if n["metadata"]["labels"].get("tier") == "perf"]
    assert len(labelled) == 1


def test_delete_and_oidc_config_in_use(rosa, ready, oidc):
    cid = ready["id"]
    r = rosa.delete(f"{OIDC}/{oidc['id']}")
    assert r.status_code == 400 and "in use" in r.json()["reason"]
    assert rosa.delete(f"{CLUSTERS}/{cid}").status_code == 204
    assert rosa.cluster(cid)["state"] == "uninstalling"
    assert rosa.delete(f"{CLUSTERS}/{cid}").status_code == 204
    wait_for(lambda: rosa.cluster(cid) is None, 40, "the cluster to be gone")
    ns = f"ocm-production-{cid}"
    assert rosa.mgmt(f"/apis/hypershift.openshift.io/v1beta1/namespaces/{ns}/hostedclusters/rt-ready"
                     ).status_code == 404
    phases = rosa.transitions("rt-ready")
    assert phases[-2:] == ["rosa_uninstalling", "rosa_deleted"]
    assert rosa.get(CLUSTERS, params={"search": "name = 'rt-ready'"}).json()["total"] == 0
    wait_for(lambda: rosa.delete(f"{OIDC}/{oidc['id']}").status_code == 204, 10, "the OIDC config deleted")


# ================================================================= failures and expiry
@pytest.fixture(scope="module")
def oidc2(rosa) -> dict:
    r = rosa.post(OIDC, {"managed": True})
    assert r.status_code == 201
    oc = r.json()
    rosa.prerequisites(oc, "rt-fail")
    return oc


def _assert_error(rosa, cid: str, name: str) -> None:
    c = rosa.wait_state(cid, "error", timeout=40)
    assert c["status"]["provision_error_code"] == "OCM3999" and c["status"]["provision_error_message"]
    log = rosa.get(f"{CLUSTERS}/{cid}/logs/install").json()["content"]
    assert "Installation failed: OCM3999" in log
    assert rosa.transitions(name)[-1] == "rosa_error"


def test_failure_by_world_index(rosa, oidc2):
    name = f"rt-fail-{FAIL_INDEX:04d}"
    r = rosa.post(CLUSTERS, rosa.body(name, oidc2["id"], "rt-fail"))
    assert r.status_code == 201
    _assert_error(rosa, r.json()["id"], name)


def test_failure_and_stuck_delete_by_header(rosa, oidc2):
    r = rosa.post(CLUSTERS, rosa.body("rt-hdr", oidc2["id"], "rt-fail"),
                  headers={"X-Sim-Faults": json.dumps({"fail_clusters": True, "destroy_fail_clusters": [3, 9]})})
    assert r.status_code == 201
    _assert_error(rosa, r.json()["id"], "rt-hdr")
    # a listed index that is not this cluster's does not apply: its deletion completes
    assert rosa.delete(f"{CLUSTERS}/{r.json()['id']}").status_code == 204
    wait_for(lambda: rosa.cluster(r.json()["id"]) is None, 40, "rt-hdr gone")
    # destroy-fail by header: the cluster stays uninstalling
    r = rosa.post(CLUSTERS, rosa.body("rt-stuck", oidc2["id"], "rt-fail"),
                  headers={"X-Sim-Faults": '{"destroy_fail_clusters": true}'})
    cid = r.json()["id"]
    rosa.wait_state(cid, "ready", timeout=40)
    assert rosa.delete(f"{CLUSTERS}/{cid}").status_code == 204
    time.sleep(2.0)   # >= 6000 simulated seconds: far beyond a normal deletion
    assert rosa.cluster(cid)["state"] == "uninstalling"
    assert rosa.get(f"{CLUSTERS}/{cid}/logs/uninstall").json()["content"]


def test_expiration_deletes_the_cluster(rosa, oidc2):
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
    r = rosa.post(CLUSTERS, rosa.body("rt-expire", oidc2["id"], "rt-fail", expiration_timestamp=exp))
    assert r.status_code == 201 and r.json()["expiration_timestamp"] == exp
    cid = r.json()["id"]
    wait_for(lambda: rosa.cluster(cid) is None, 40, "the expired cluster gone")
    assert "rosa_uninstalling" in rosa.transitions("rt-expire")


# ================================================================= units
def test_passwords_and_inactive_users():
    plain = {"password": "pw"}
    assert simrosa.check_password(plain, "pw") and not simrosa.check_password(plain, "x")
    sha = {"hashed_password": "{SHA}" + base64.b64encode(hashlib.sha1(b"pw").digest()).decode()}
    assert simrosa.check_password(sha, "pw") and not simrosa.check_password(sha, "x")
    bc = {"hashed_password": bcrypt_hash("pw")}
    cache: dict = {}
    assert simrosa.check_password(bc, "pw", cache) and not simrosa.check_password(bc, "x", cache)
    rec = {"idps": {"i": {"users": [{"username": "u", "password": "pw", "active_at": time.time() + 60}]}}}
    svc = types.SimpleNamespace(_pw_cache={})
    assert not simrosa.RosaService._login_ok(svc, rec, "u", "pw")      # not active yet
    rec["idps"]["i"]["users"][0]["active_at"] = time.time() - 1
    assert simrosa.RosaService._login_ok(svc, rec, "u", "pw")


def test_cluster_faults_parse_and_lookup():
    from sim import model

    f = simrosa.ClusterFaults(model.Faults.make(stuck_clusters=[4]))
    assert simrosa.ClusterFaults.parse('{"fail_clusters": [1, 7], "stuck_clusters": true}', "a-0007") == \
        {"fail_clusters": True, "stuck_clusters": True}
    assert simrosa.ClusterFaults.parse('{"fail_clusters": [1]}', "a-0007") == {}
    for bad in ("[]", '{"x": true}', '{"failure_rate": 2}', '{"fail_clusters": "7"}', "nope"):
        with pytest.raises(ValueError):
            simrosa.ClusterFaults.parse(bad, "a-0007")
    f.set_cluster("b", {"fail_clusters": True})
    assert f.install_fails("b", 0) and not f.install_fails("c", 0)
    assert f.stuck("x-0004") and not f.stuck("b") and f.to_dict()["stuck_clusters"] == [4]
    assert f.fail_clusters == frozenset()
    f.clear_cluster("b")
    assert not f.install_fails("b", 0)


def test_restart_keeps_rosa_clusters_and_tokens(tmp_path):
    w = SimWorld(tmp_path / "world", "--speed", "3000", "--ocm-decoys", "0").start(60)
    try:
        rosa = Rosa(w)
        oc = rosa.post(OIDC, {"managed": True}).json()
        rosa.prerequisites(oc, "rt-keep")
        cid = rosa.post(CLUSTERS, rosa.body("rt-keep", oc["id"], "rt-keep")).json()["id"]
        c = rosa.wait_state(cid, "ready", timeout=40)
        idp = {"type": "HTPasswdIdentityProvider", "name": "cluster-admin",
               "htpasswd": {"users": {"items": [{"username": "cluster-admin", "password": PASSWORD}]}}}
        assert rosa.post(f"{CLUSTERS}/{cid}/identity_providers", idp).status_code == 201
        meta = requests.get(f"{c['api']['url']}/.well-known/oauth-authorization-server", timeout=10).json()
        auth = {"Authorization": "Basic " + base64.b64encode(f"cluster-admin:{PASSWORD}".encode()).decode(),
                "X-CSRF-Token": "1"}
        r = wait_for(lambda: (x := requests.get(meta["authorization_endpoint"], headers=auth, timeout=10,
                                                allow_redirects=False,
                                                params={"response_type": "token",
                                                        "client_id": "openshift-challenging-client"})
                              ).status_code == 302 and x, 20, "login")
        token = parse_qs(urlsplit(r.headers["Location"]).fragment)["access_token"][0]
        w.restart("--speed", "3000", "--ocm-decoys", "0")
        rosa = Rosa(w)
        again = rosa.cluster(cid)
        assert again["state"] == "ready" and again["api"]["url"] == c["api"]["url"]
        assert rosa.get(f"{OIDC}/{oc['id']}").status_code == 200
        assert (w.dir / "rosa-state.json").stat().st_mode & 0o077 == 0
        r = requests.get(f"{c['api']['url']}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200
        assert rosa.delete(f"{CLUSTERS}/{cid}").status_code == 204
        wait_for(lambda: rosa.cluster(cid) is None, 40, "the cluster to be gone")
    finally:
        w.stop(timeout=20, check=False)
