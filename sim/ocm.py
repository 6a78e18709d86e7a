"""A simulated OCM (OpenShift Cluster Manager) API and its SSO token endpoint.

The harness may look up its management cluster "through OCM", as it would with
Red Hat's real OCM: an offline token is exchanged for short-lived access tokens
at the SSO token endpoint, and the clusters_mgmt API lists clusters, returns one
cluster and its credentials (a kubeconfig).  :class:`OcmServer` serves both on
one ``127.0.0.1`` port::

    POST /auth/realms/redhat-external/protocol/openid-connect/token
         grant_type=refresh_token&refresh_token=<offline token>&client_id=cloud-services
         -> {"access_token", "refresh_token", "token_type": "Bearer", "expires_in": 900, ...}
         (400 {"error": "invalid_grant", ...} for any other token)
    GET  /api/clusters_mgmt/v1/clusters?page=&size=&search=&order=
         -> {"kind": "ClusterList", "page", "size", "total", "items"}
    GET  /api/clusters_mgmt/v1/clusters/{id}                -> a Cluster
    GET  /api/clusters_mgmt/v1/clusters/{id}/status         -> a ClusterStatus
    GET  /api/clusters_mgmt/v1/clusters/{id}/credentials    -> {"kind": "ClusterCredentials", "kubeconfig"}
    GET  /api/clusters_mgmt/v1/oidc_configs?page=&size=&search=&order=
         -> {"kind": "OidcConfigList", "page", "size", "total", "items"}
    GET  /api/clusters_mgmt/v1/oidc_configs/{id}            -> an OidcConfig

In a world (``python -m sim serve``), :mod:`sim.rosa` adds ROSA HCP: ``POST``/``DELETE`` of clusters backed by
HostedClusters on the simulated management cluster, their node pools, add-ons, identity providers, groups and
install logs, ``POST``/``DELETE`` of OIDC configs, and the simulated AWS account under ``/sim/aws/`` (see there).

Every API call needs ``Authorization: Bearer <access token>`` (401 otherwise).
Tokens are JWT-shaped like Red Hat SSO's (the offline token has ``typ: Offline``
and no expiry, access tokens ``typ: Bearer`` and ``exp`` = 15 minutes), so the
real ``ocm`` CLI and SDK treat them as they treat real ones; they are signed
with HMAC-SHA256 using a key derived from the offline token, so access tokens
stay valid across a restart of the world.  Nothing here logs a token.

:func:`start_world_ocm` is what ``python -m sim serve`` uses: it registers the
world's own management cluster *after* many decoy clusters (default 250, so a
client that reads only the first page of 100 does not find it), writes
``DIR/ocm-token`` (0600) and the stand-in ``DIR/bin/ocm``.  It also registers two OIDC configs
of the organisation (one managed by Red Hat, one unmanaged), with ids derived from the seed.
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .files import write_private

log = logging.getLogger("sim.ocm")

TOKEN_PATH = "/auth/realms/redhat-external/protocol/openid-connect/token"
REALM_PATH = "/auth/realms/redhat-external"
API_PREFIX = "/api/clusters_mgmt/v1"
CLUSTERS_PATH = API_PREFIX + "/clusters"
OIDC_CONFIGS_PATH = API_PREFIX + "/oidc_configs"
MANAGED_OIDC_HOST = "oidc.op1.openshiftapps.com"
DEFAULT_CLIENT_ID = "cloud-services"
ACCESS_TOKEN_TTL = 900
DEFAULT_PAGE_SIZE = 100
DEFAULT_DECOYS = 250
DEFAULT_MGMT_NAME = "sim-mgmt"
ID_ALPHABET = "0123456789abcdefghijklmnopqrstuv"   # OCM cluster ids: 32 chars of this alphabet
MAX_BODY = 1 << 20


# ======================================================================== tokens
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(claims: dict, key: bytes, kid: str = "sim") -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def jwt_claims(token: str) -> dict | None:
    """The claims of a JWT, unverified; None when it is not one."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def verify_jwt(token: str, key: bytes) -> dict | None:
    """The claims of ``token`` when its HMAC-SHA256 signature is ``key``'s, else None (expiry not checked)."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return None
    try:
        sig = _b64url_decode(parts[2])
    except (ValueError, TypeError):
        return None
    want = hmac.new(key, (parts[0] + "." + parts[1]).encode("ascii", "replace"), hashlib.sha256).digest()
    if not hmac.compare_digest(sig, want):
        return None
    return jwt_claims(token)


def new_offline_token(issuer: str = "https://sso.redhat.com" + REALM_PATH) -> str:
    """A Red Hat SSO-style offline token (``typ: Offline``, no ``exp``), signed with a fresh random key."""
    now = int(time.time())
    claims = {"iat": now, "jti": str(uuid.uuid4()), "iss": issuer, "aud": issuer, "sub": str(uuid.uuid4()),
              "typ": "Offline", "azp": DEFAULT_CLIENT_ID, "sid": str(uuid.uuid4()),
              "scope": "openid offline_access"}
    return make_jwt(claims, secrets.token_bytes(32))


def is_offline_token(text: str) -> bool:
    claims = jwt_claims(text)
    return bool(claims) and str(claims.get("typ", "")).lower() in ("offline", "refresh")


# ====================================================================== clusters
def _ocm_id(rng: random.Random) -> str:
    return "".join(rng.choice(ID_ALPHABET) for _ in range(32))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _infra_id(name: str, rng: random.Random) -> str:
    return f"{name[:21].rstrip('-')}-{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(5))}"


def _ts(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_cluster(*, id: str, name: str, external_id: str, infra_id: str, openshift_version: str,
                 base_domain: str, region: str, compute: int, machine_type: str, network_type: str = "OVNKubernetes",
                 state: str = "ready", product: str = "rosa", hypershift: bool = False, multi_az: bool = True,
                 created: float | None = None, api_url: str | None = None, subscription_id: str = "",
                 availability_zones: list[str] | None = None) -> dict:
    """A clusters_mgmt ``Cluster`` object with the fields the real API returns (subset)."""
    href = f"{CLUSTERS_PATH}/{id}"
    created = time.time() if created is None else created
    azs = availability_zones or ([f"{region}{z}" for z in "abc"] if multi_az else [f"{region}a"])
    nodes: dict[str, Any] = {"compute": compute}
    if not hypershift:
        nodes.update({"master": 3, "infra": 3 if multi_az else 2})
    nodes.update({"compute_machine_type": {"kind": "MachineTypeLink", "id": machine_type,
                                           "href": f"{API_PREFIX}/machine_types/{machine_type}"},
                  "availability_zones": azs})
    version_id = f"openshift-v{openshift_version}"
    return {
        "kind": "Cluster",
        "id": id,
        "href": href,
        "name": name,
        "display_name": name,
        "external_id": external_id,
        "infra_id": infra_id,
        "creation_timestamp": _ts(created),
        "activity_timestamp": _ts(created + 3600),
        "state": state,
        "openshift_version": openshift_version,
        "version": {"kind": "Version", "id": version_id, "href": f"{API_PREFIX}/versions/{version_id}",
                    "raw_id": openshift_version, "channel_group": "stable"},
        "product": {"kind": "ProductLink", "id": product, "href": f"{API_PREFIX}/products/{product}"},
        "cloud_provider": {"kind": "CloudProviderLink", "id": "aws", "href": f"{API_PREFIX}/cloud_providers/aws"},
        "region": {"kind": "CloudRegionLink", "id": region,
                   "href": f"{API_PREFIX}/cloud_providers/aws/regions/{region}"},
        "multi_az": multi_az,
        "managed": True,
        "ccs": {"enabled": True},
        "hypershift": {"enabled": hypershift},
        "dns": {"base_domain": base_domain},
        "api": {"url": api_url or f"https://api.{name}.{base_domain}:6443", "listening": "external"},
        "console": {"url": f"https://console-openshift-console.apps.{name}.{base_domain}"},
        "nodes": nodes,
        "network": {"type": network_type, "machine_cidr": "10.0.0.0/16", "service_cidr": "172.30.0.0/16",
                    "pod_cidr": "10.128.0.0/14", "host_prefix": 23},
        "status": {"state": state, "dns_ready": state != "pending", "oidc_ready": state == "ready",
                   "provision_error_code": "", "provision_error_message": "",
                   "description": ""},
        "subscription": {"kind": "SubscriptionLink", "id": subscription_id,
                         "href": f"/api/accounts_mgmt/v1/subscriptions/{subscription_id}"},
        "metrics": {"nodes": {"compute": compute if state == "ready" else 0}},
    }


_DECOY_PREFIXES = ["prod", "stage", "dev", "qe", "perf", "ci", "demo", "team", "edge", "data", "ml", "ops", "hs-mc",
                   "hs-sc", "rosa", "osd", "sre", "payments", "search", "analytics"]
_DECOY_WORDS = ["east", "west", "blue", "green", "alpha", "beta", "gamma", "delta", "core", "apps", "batch", "api",
                "web", "etl", "int", "canary", "legacy", "shared", "tenant", "sandbox"]
_DECOY_REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1",
                  "ap-northeast-1", "ca-central-1", "sa-east-1", "ap-south-1"]
_DECOY_STATES = ["ready"] * 14 + ["installing", "uninstalling", "error", "hibernating", "pending", "waiting"]
_DECOY_TYPES = ["m5.xlarge", "m5.2xlarge", "m5.4xlarge", "m6i.xlarge", "m6i.2xlarge", "m6a.2xlarge", "r5.2xlarge",
                "c5.4xlarge"]
_DECOY_VERSIONS = ["4.12", "4.13", "4.14", "4.15", "4.16", "4.17", "4.18", "4.19"]


def decoy_clusters(n: int, seed: int | str = 0, avoid: set[str] | frozenset = frozenset(),
                   near_name: str | None = None, start: float | None = None) -> list[dict]:
    """``n`` other clusters of the organisation (ROSA classic and HCP, OSD), deterministic per seed.

    With ``near_name`` a few of them get names that start with it (``<near_name>-old``, ...), so a
    client that searches with ``like`` instead of ``=`` picks the wrong cluster."""
    rng = random.Random(f"{seed}/ocm/decoys")
    start = time.time() - 400 * 86400 if start is None else start
    names: set[str] = set(avoid)
    near = [f"{near_name}-{s}" for s in ("old", "staging", "2")] if near_name else []
    near_at = {(i + 1) * n // (len(near) + 1): nm for i, nm in enumerate(near)} if n > len(near) else {}
    out = []
    created = start
    for i in range(max(0, n)):
        created += 3600 * rng.uniform(20, 40)
        name = near_at.get(i)
        for _ in range(1000):
            if name and name not in names:
                break
            name = f"{rng.choice(_DECOY_PREFIXES)}-{rng.choice(_DECOY_WORDS)}-{rng.randint(1, 99):02d}"
        names.add(name)
        minor = rng.choice(_DECOY_VERSIONS)
        version = f"{minor}.{rng.randint(1, 40)}"
        hcp = rng.random() < 0.4
        product = "rosa" if rng.random() < 0.8 else "osd"
        region = rng.choice(_DECOY_REGIONS)
        shard = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4))
        net = "OpenShiftSDN" if minor in ("4.12", "4.13") and rng.random() < 0.5 else "OVNKubernetes"
        out.append(make_cluster(
            id=_ocm_id(rng), name=name, external_id=_uuid(rng), infra_id=_infra_id(name, rng),
            openshift_version=version, base_domain=f"{shard}.p{rng.randint(1, 3)}.openshiftapps.com", region=region,
            compute=rng.choice([2, 2, 3, 3, 4, 6, 9, 12, 24]), machine_type=rng.choice(_DECOY_TYPES),
            network_type=net, state=rng.choice(_DECOY_STATES), product="rosa" if hcp else product,
            hypershift=hcp, multi_az=rng.random() < 0.6, created=created,
            subscription_id=_ocm_id(rng)[:27]))
    return out


def management_cluster(*, name: str, seed: int | str, base_domain: str, region: str, api_url: str,
                       created: float | None = None) -> dict:
    """The world's own management cluster (a ROSA classic cluster hosting HyperShift), deterministic per seed."""
    rng = random.Random(f"{seed}/ocm/mgmt/{name}")
    return make_cluster(id=_ocm_id(rng), name=name, external_id=_uuid(rng), infra_id=_infra_id(name, rng),
                        openshift_version=f"4.17.{rng.randint(10, 30)}", base_domain=base_domain, region=region,
                        compute=6, machine_type="m5.4xlarge", network_type="OVNKubernetes", state="ready",
                        product="rosa", hypershift=False, multi_az=True, created=created, api_url=api_url,
                        subscription_id=_ocm_id(rng)[:27])


def make_oidc_config(*, id: str, managed: bool, region: str = "us-east-1", organization_id: str = "",
                     bucket: str = "", aws_account: str = "123456789012", secret_suffix: str = "AbCdEf",
                     installer_role_arn: str = "", created: float | None = None,
                     last_used: float | None = None) -> dict:
    """A clusters_mgmt ``OidcConfig``: managed (hosted by Red Hat) or unmanaged (the customer's S3 bucket,
    with the private key in AWS Secrets Manager: ``secret_arn`` and ``installer_role_arn``)."""
    created = time.time() if created is None else created
    obj: dict[str, Any] = {"kind": "OidcConfig", "id": id, "href": f"{OIDC_CONFIGS_PATH}/{id}"}
    if managed:
        obj["issuer_url"] = f"https://{MANAGED_OIDC_HOST}/{id}"
    else:
        bucket = bucket or f"sim-oidc-{id[:4]}"
        obj["issuer_url"] = f"https://{bucket}.s3.{region}.amazonaws.com/{id}"
        obj["secret_arn"] = (f"arn:aws:secretsmanager:{region}:{aws_account}:secret:"
                             f"{bucket}-private-key-{secret_suffix}")
        obj["installer_role_arn"] = installer_role_arn or \
            f"arn:aws:iam::{aws_account}:role/ManagedOpenShift-HCP-ROSA-Installer-Role"
    obj.update({"managed": managed, "reusable": True, "organization_id": organization_id,
                "creation_timestamp": _ts(created), "last_update_timestamp": _ts(created)})
    if last_used is not None:
        obj["last_used_timestamp"] = _ts(last_used)
    return obj


def world_oidc_configs(seed: int | str, region: str, prefix: str = DEFAULT_MGMT_NAME,
                       created: float | None = None) -> list[dict]:
    """The organisation's two OIDC configs, managed first, then unmanaged; ids and ARNs deterministic per seed."""
    created = time.time() - 60 * 86400 if created is None else created
    org_rng = random.Random(f"{seed}/ocm/org")
    org = _ocm_id(org_rng)[:27]
    account = "".join(str(org_rng.randint(0, 9)) for _ in range(12))
    out = []
    for i, managed in enumerate((True, False)):
        rng = random.Random(f"{seed}/ocm/oidc/{'managed' if managed else 'unmanaged'}")
        oid = _ocm_id(rng)
        suffix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4))
        secret = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(6))
        out.append(make_oidc_config(id=oid, managed=managed, region=region, organization_id=org,
                                    bucket=f"{prefix[:40]}-oidc-{suffix}", aws_account=account,
                                    secret_suffix=secret, created=created + i * 86400,
                                    last_used=created + 20 * 86400))
    return out


# ======================================================================== search
class SearchError(ValueError):
    pass


_TOKEN_RE = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op><=|>=|<>|!=|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
)""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "like", "ilike", "in", "is", "null", "true", "false"}


def _tokenize(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos, text = 0, text or ""
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise SearchError(f"unexpected character at position {pos}")
        pos = m.end()
        if m.group("str") is not None:
            out.append(("value", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("num") is not None:
            num = m.group("num")
            out.append(("value", float(num) if "." in num else int(num)))
        elif m.group("op") is not None:
            out.append(("op", m.group("op")))
        elif m.group("punct") is not None:
            out.append(("punct", m.group("punct")))
        else:
            word = m.group("ident")
            if word.lower() in ("true", "false"):
                out.append(("value", word.lower() == "true"))
            elif word.lower() in _KEYWORDS:
                out.append(("kw", word.lower()))
            else:
                out.append(("ident", word))
    return out


def _get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _scalar(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _cmp(actual: Any, op: str, value: Any) -> bool:
    if actual is None or isinstance(actual, (dict, list)):
        return False
    a, v = _scalar(actual), _scalar(value)
    if isinstance(a, (int, float)) and isinstance(v, (int, float)):
        pass
    elif isinstance(a, (int, float)) and isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            a = str(a)
    else:
        a, v = str(a), str(v)
    if op == "=":
        return a == v
    if op in ("!=", "<>"):
        return a != v
    if op == "<":
        return a < v
    if op == "<=":
        return a <= v
    if op == ">":
        return a > v
    return a >= v


def _like(actual: Any, pattern: Any, ci: bool) -> bool:
    if actual is None or isinstance(actual, (dict, list)):
        return False
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(pattern))
    return re.fullmatch(rx, str(_scalar(actual)), re.IGNORECASE | re.DOTALL if ci else re.DOTALL) is not None


Predicate = Callable[[dict], bool]


class _Parser:
    def __init__(self, text: str, fields: set[str]):
        self.toks = _tokenize(text)
        self.i = 0
        self.fields = fields

    def peek(self, kind: str | None = None, value: Any = None) -> bool:
        if self.i >= len(self.toks):
            return False
        k, v = self.toks[self.i]
        return (kind is None or k == kind) and (value is None or v == value)

    def take(self, kind: str, value: Any = None, what: str = "") -> Any:
        if not self.peek(kind, value):
            got = repr(self.toks[self.i][1]) if self.i < len(self.toks) else "end of query"
            raise SearchError(f"expected {what or value or kind} but got {got}")
        v = self.toks[self.i][1]
        self.i += 1
        return v

    def parse(self) -> Predicate:
        if not self.toks:
            return lambda c: True
        pred = self.expr()
        if self.i != len(self.toks):
            raise SearchError(f"unexpected {self.toks[self.i][1]!r}")
        return pred

    def expr(self) -> Predicate:
        left = self.conj()
        while self.peek("kw", "or"):
            self.i += 1
            right = self.conj()
            left = (lambda a, b: lambda c: a(c) or b(c))(left, right)
        return left

    def conj(self) -> Predicate:
        left = self.neg()
        while self.peek("kw", "and"):
            self.i += 1
            right = self.neg()
            left = (lambda a, b: lambda c: a(c) and b(c))(left, right)
        return left

    def neg(self) -> Predicate:
        if self.peek("kw", "not"):
            self.i += 1
            inner = self.neg()
            return lambda c: not inner(c)
        if self.peek("punct", "("):
            self.i += 1
            inner = self.expr()
            self.take("punct", ")")
            return inner
        return self.comparison()

    def value(self) -> Any:
        return self.take("value", what="a value")

    def comparison(self) -> Predicate:
        field = self.take("ident", what="a field name")
        if field not in self.fields:
            raise SearchError(f"field '{field}' isn't valid")
        if self.peek("op"):
            op = self.take("op")
            v = self.value()
            return lambda c: _cmp(_get_path(c, field), op, v)
        negate = False
        if self.peek("kw", "is"):
            self.i += 1
            if self.peek("kw", "not"):
                self.i += 1
                negate = True
            self.take("kw", "null")
            return lambda c: (_get_path(c, field) is None) != negate
        if self.peek("kw", "not"):
            self.i += 1
            negate = True
        if self.peek("kw", "like") or self.peek("kw", "ilike"):
            ci = self.take("kw") == "ilike"
            pat = self.value()
            return lambda c: _get_path(c, field) is not None and _like(_get_path(c, field), pat, ci) != negate
        if self.peek("kw", "in"):
            self.i += 1
            self.take("punct", "(")
            values = [self.value()]
            while self.peek("punct", ","):
                self.i += 1
                values.append(self.value())
            self.take("punct", ")")
            return lambda c: _get_path(c, field) is not None and \
                any(_cmp(_get_path(c, field), "=", v) for v in values) != negate
        got = repr(self.toks[self.i][1]) if self.i < len(self.toks) else "end of query"
        raise SearchError(f"expected an operator after '{field}' but got {got}")


def _paths(obj: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{prefix}.{k}" if prefix else k
            out.add(p)
            out |= _paths(v, p)
    return out


def compile_search(text: str, fields: set[str]) -> Predicate:
    """OCM's search language (subset): ``name = 'x'``, ``id in ('a', 'b')``, ``name like 'perf-%'``,
    ``ilike``, ``!=``/``<>``/``<``..., ``is [not] null``, ``and``/``or``/``not`` and parentheses."""
    return _Parser(text, fields).parse()


# ======================================================================== server
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim-ocm/1"
    server: "_HttpServer"

    def log_message(self, fmt: str, *args) -> None:   # never the headers (tokens), only method + path
        log.debug("%s %s", self.command, urlsplit(self.path).path)

    def _send(self, status: int, body: Any, headers: dict | None = None) -> None:
        data = (json.dumps(body, indent=2) + "\n").encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n else b""

    def _dispatch(self) -> None:
        ocm: OcmServer = self.server.ocm
        try:
            body = self._body()
        except ValueError:
            self._send(413, {"error": "request body too large"})
            self.close_connection = True
            return
        try:
            status, payload, headers = ocm.handle(self.command, self.path, dict(self.headers.items()), body)
        except Exception:   # a bug in the sim must not kill the connection silently
            log.exception("OCM request %s %s failed", self.command, urlsplit(self.path).path)
            status, payload, headers = 500, ocm.error(500, "Internal server error"), {}
        self._send(status, payload, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ocm: "OcmServer"


class OcmServer:
    """The simulated OCM API + SSO token endpoint (one ThreadingHTTPServer in a daemon thread).

    ``clusters`` are Cluster objects (see :func:`make_cluster`), served in the given order;
    ``credentials`` maps a cluster id to its kubeconfig text (other clusters: 403);
    ``oidc_configs`` are OidcConfig objects (see :func:`make_oidc_config`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, offline_token: str | None = None,
                 clusters: list[dict] | None = None, credentials: dict[str, str] | None = None,
                 username: str = "sim-user", rotate_refresh: bool = False,
                 oidc_configs: list[dict] | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the simulated OCM only listens on the loopback interface")
        self.host = host
        self.port = port
        self.offline_token = offline_token or new_offline_token()
        self.clusters: list[dict] = list(clusters or [])
        self.credentials: dict[str, str] = dict(credentials or {})
        self.username = username
        self.rotate_refresh = rotate_refresh
        self._by_id = {c["id"]: c for c in self.clusters}
        self._fields = set().union(*(_paths(c) for c in self.clusters)) if self.clusters else {"id", "name"}
        self.oidc_configs: list[dict] = list(oidc_configs or [])
        self._oidc_by_id = {c["id"]: c for c in self.oidc_configs}
        self._oidc_fields = set().union(*(_paths(c) for c in self.oidc_configs)) if self.oidc_configs \
            else {"id", "managed", "issuer_url"}
        self._key = hashlib.sha256(b"sim-ocm-access\0" + self.offline_token.encode()).digest()
        self._refresh_tokens = {self.offline_token}
        self.rosa = None   # sim.rosa.RosaService: ROSA HCP (POST/DELETE, sub-resources) and /sim/aws/
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        oc = jwt_claims(self.offline_token) or {}
        self._subject = str(oc.get("sub") or uuid.uuid4())
        self._client = str(oc.get("azp") or DEFAULT_CLIENT_ID)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "OcmServer":
        httpd = _HttpServer((self.host, self.port), _Handler)
        httpd.ocm = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                                        name="sim-ocm")
        self._thread.start()
        log.info("simulated OCM API at %s (%d clusters)", self.url, len(self.clusters))
        return self

    def stop(self, timeout: float = 3.0) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "OcmServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    # -------------------------------------------------------------- counters
    def _count(self, *names: str) -> None:
        with self._lock:
            for n in names:
                self._counts[n] = self._counts.get(n, 0) + 1

    @property
    def counts(self) -> dict[str, int]:
        """Requests served: ``token``, ``token_ok``, ``token_rejected``, ``api``, ``unauthorized``,
        ``list``, ``cluster``, ``credentials``, ``status``, ``oidc_list``, ``oidc_config``, ``not_found``,
        ``bad_request``."""
        with self._lock:
            return dict(self._counts)

    # ---------------------------------------------------------------- tokens
    def issue_access_token(self, client_id: str = DEFAULT_CLIENT_ID, ttl: int = ACCESS_TOKEN_TTL) -> str:
        now = int(time.time())
        iss = self.url + REALM_PATH
        claims = {"exp": now + ttl, "iat": now, "auth_time": now, "jti": str(uuid.uuid4()), "iss": iss,
                  "aud": ["api.ocm", "cloud-services"], "sub": self._subject, "typ": "Bearer", "azp": client_id,
                  "scope": "openid api.ocm offline_access", "preferred_username": self.username,
                  "email": f"{self.username}@sim.hypershift.local", "is_org_admin": True}
        return make_jwt(claims, self._key)

    def access_token_valid(self, token: str) -> tuple[bool, str]:
        claims = verify_jwt(token, self._key)
        if claims is None:
            return False, "Signature of bearer token isn't valid"
        if str(claims.get("typ", "")).lower() != "bearer":
            return False, "Bearer token type isn't allowed"
        if float(claims.get("exp") or 0) <= time.time():
            return False, "Bearer token is expired"
        return True, ""

    def _token(self, body: bytes, headers: dict) -> tuple[int, Any, dict]:
        self._count("token")
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type", "")
        nocache = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if not grant:
            self._count("token_rejected")
            return 400, {"error": "invalid_request", "error_description": "Missing form parameter: grant_type"}, nocache
        if grant != "refresh_token":
            self._count("token_rejected")
            if grant in ("client_credentials", "password"):
                return 401, {"error": "invalid_client", "error_description": "Invalid client or Invalid client "
                                                                             "credentials"}, nocache
            return 400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"}, nocache
        client_id = form.get("client_id", "")
        if not client_id:
            self._count("token_rejected")
            return 401, {"error": "invalid_client", "error_description": "Missing parameter: client_id"}, nocache
        refresh = form.get("refresh_token", "")
        with self._lock:
            known = any(hmac.compare_digest(refresh.encode(), t.encode()) for t in self._refresh_tokens)
        if not known:
            self._count("token_rejected")
            return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}, nocache
        if client_id != self._client:
            self._count("token_rejected")
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid refresh token. Token client and authorized client don't "
                                              "match"}, nocache
        new_refresh = refresh
        if self.rotate_refresh:   # a new refresh token each time; earlier ones (and the offline token) stay valid
            claims = dict(jwt_claims(self.offline_token) or {})
            claims.update({"iat": int(time.time()), "jti": str(uuid.uuid4())})
            new_refresh = make_jwt(claims, self._key)
            with self._lock:
                self._refresh_tokens.add(new_refresh)
        self._count("token_ok")
        return 200, {"access_token": self.issue_access_token(client_id), "expires_in": ACCESS_TOKEN_TTL,
                     "refresh_expires_in": 0, "refresh_token": new_refresh, "token_type": "Bearer",
                     "not-before-policy": 0, "session_state": str(uuid.uuid4()),
                     "scope": "openid api.ocm offline_access"}, nocache

    # ------------------------------------------------------------------- API
    @staticmethod
    def error(status: int, reason: str, prefix: str = API_PREFIX, code: str = "CLUSTERS-MGMT") -> dict:
        return {"kind": "Error", "id": str(status), "href": f"{prefix}/errors/{status}",
                "code": f"{code}-{status}", "reason": reason, "operation_id": str(uuid.uuid4())}

    def handle(self, method: str, raw_path: str, headers: dict, body: bytes) -> tuple[int, Any, dict]:
        """One request -> (status, JSON body, extra headers)."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        if path == TOKEN_PATH:
            if method != "POST":
                return 405, {"error": "HTTP 405 Method Not Allowed"}, {}
            return self._token(body, headers)
        if (path == "/sim/aws" or path.startswith("/sim/aws/")) and self.rosa is not None:
            return self.rosa.handle_aws(method, path, query, body)   # the simulated AWS account (sim.rosa)
        if not path.startswith("/api/"):
            return 404, self.error(404, f"Can't find resource for path '{path}'", "/api", "OCM"), {}
        self._count("api")
        op_headers: dict[str, str] = {}
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not auth:
            self._count("unauthorized")
            return 401, self.error(401, "Request doesn't contain the 'Authorization' header or the "
                                        "'cs_authorization' cookie"), op_headers
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._count("unauthorized")
            return 401, self.error(401, "Authorization header doesn't contain a bearer token"), op_headers
        ok, why = self.access_token_valid(token.strip())
        if not ok:
            self._count("unauthorized")
            return 401, self.error(401, why), op_headers
        if not path.startswith(API_PREFIX):
            self._count("not_found")
            return 404, self.error(404, f"Can't find resource for path '{path}'", "/api", "OCM"), op_headers
        rest = path[len(API_PREFIX):].strip("/").split("/") if path != API_PREFIX else []
        if self.rosa is not None:   # ROSA HCP clusters, node pools, add-ons, IDPs, OIDC config writes (sim.rosa)
            answer = self.rosa.handle_ocm(method, rest, query, headers, body)
            if answer is not None:
                return answer
        if method not in ("GET", "HEAD"):
            return 405, self.error(405, f"Method '{method}' isn't supported for path '{path}'"), op_headers
        if rest == ["clusters"]:
            return self._list(query)
        if rest == ["oidc_configs"]:
            self._count("oidc_list")
            return self._page(query, self.oidc_configs, self._oidc_fields, "OidcConfigList")
        if len(rest) == 2 and rest[0] == "oidc_configs":
            oidc = self._oidc_by_id.get(rest[1])
            if oidc is None:
                self._count("not_found")
                return 404, self.error(404, f"OidcConfig with id '{rest[1]}' not found"), {}
            self._count("oidc_config")
            return 200, oidc, {}
        if len(rest) in (2, 3) and rest[0] == "clusters":
            cluster = self._by_id.get(rest[1])
            if cluster is None:
                self._count("not_found")
                return 404, self.error(404, f"Cluster '{rest[1]}' not found"), {}
            if len(rest) == 2:
                self._count("cluster")
                return 200, cluster, {}
            if rest[2] == "credentials":
                self._count("credentials")
                kubeconfig = self.credentials.get(cluster["id"])
                if kubeconfig is None:
                    return 403, self.error(403, f"User '{self.username}' is not authorized to get the "
                                                f"credentials of cluster '{cluster['id']}'"), {}
                return 200, {"kind": "ClusterCredentials", "id": cluster["id"],
                             "href": f"{cluster['href']}/credentials", "kubeconfig": kubeconfig}, {}
            if rest[2] == "status":
                self._count("status")
                st = dict(cluster.get("status") or {})
                return 200, {"kind": "ClusterStatus", "id": cluster["id"], "href": f"{cluster['href']}/status",
                             **st}, {}
        self._count("not_found")
        return 404, self.error(404, f"Can't find resource for path '{path}'"), {}

    def _list(self, query: dict[str, list[str]]) -> tuple[int, Any, dict]:
        self._count("list")
        return self._page(query, self.clusters, self._fields, "ClusterList")

    def _page(self, query: dict[str, list[str]], all_items: list[dict], fields: set[str],
              list_kind: str) -> tuple[int, Any, dict]:
        """A paged list (``page``, ``size``, ``search``, ``order``) of ``all_items``."""

        def bad(reason: str) -> tuple[int, Any, dict]:
            self._count("bad_request")
            return 400, self.error(400, reason), {}

        def integer(name: str, default: int) -> int | None:
            raw = (query.get(name) or [""])[-1].strip()
            if raw == "":
                return default
            try:
                return int(raw)
            except ValueError:
                return None

        page, size = integer("page", 1), integer("size", DEFAULT_PAGE_SIZE)
        if page is None:
            return bad(f"Value '{query['page'][-1]}' of parameter 'page' isn't a valid integer")
        if size is None:
            return bad(f"Value '{query['size'][-1]}' of parameter 'size' isn't a valid integer")
        if page < 1:
            return bad("Parameter 'page' must be greater than zero")
        if size < 0:
            return bad("Parameter 'size' must be zero or greater")
        items = all_items
        search = (query.get("search") or [""])[-1]
        if search.strip():
            try:
                pred = compile_search(search, fields)
            except SearchError as exc:
                return bad(f"Can't parse search query '{search}': {exc}")
            items = [c for c in items if pred(c)]
        order = (query.get("order") or [""])[-1]
        if order.strip():
            keys = []
            for term in order.split(","):
                words = term.split()
                if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                    return bad(f"Can't parse order '{order}'")
                if words[0] not in fields:
                    return bad(f"Can't parse order '{order}': field '{words[0]}' isn't valid")
                keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
            items = list(items)
            for field, desc in reversed(keys):
                present = [c for c in items if _get_path(c, field) is not None]
                missing = [c for c in items if _get_path(c, field) is None]
                present.sort(key=lambda c: (_scalar(_get_path(c, field)),), reverse=desc)
                items = present + missing
        total = len(items)
        chunk = items[(page - 1) * size: page * size] if size else []
        return 200, {"kind": list_kind, "page": page, "size": len(chunk), "total": total,
                     "items": chunk}, {}

    def cluster_by_name(self, name: str) -> dict | None:
        return next((copy.deepcopy(c) for c in self.clusters if c.get("name") == name), None)


# ================================================================= world glue


def _kubeconfig_server(text: str) -> str:
    try:
        import yaml

        kc = yaml.safe_load(text) or {}
        ctx_name = kc.get("current-context")
        ctx = next((c["context"] for c in kc.get("contexts") or [] if c.get("name") == ctx_name), {})
        cl = next((c["cluster"] for c in kc.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {})
        return str(cl.get("server") or "")
    except Exception:
        return ""


class WorldOcm:
    """The world's OCM: the server, the offline-token file and the stand-in ``bin/ocm``."""

    def __init__(self, server: OcmServer, mgmt: dict, token_path: Path, bin_path: Path):
        self.server = server
        self.mgmt = mgmt
        self.oidc_configs = list(server.oidc_configs)
        self.token_path = token_path
        self.bin_path = bin_path

    def info(self) -> dict:
        return {"ocm_url": self.server.url, "ocm_token_url": self.server.token_url,
                "mgmt_cluster_name": self.mgmt["name"], "mgmt_cluster_id": self.mgmt["id"],
                "ocm": str(self.bin_path), "ocm_token": str(self.token_path),
                "ocm_clusters": len(self.server.clusters),
                "oidc_config_ids": [c["id"] for c in self.oidc_configs]}

    def stop(self) -> None:
        self.server.stop()


def write_standin(bin_dir: Path, project_root: str) -> Path:
    script = (
        f"#!{sys.executable}\n"
        "# Stand-in for the `ocm` CLI, written by `python -m sim serve`.\n"
        "# It talks to the SIMULATED OCM API described by ../world.json (never to a real service).\n"
        "import os\n"
        "import sys\n"
        f"sys.path.insert(0, {project_root!r})\n"
        "from sim.standin.ocm import main\n"
        "sys.exit(main(world_path=os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir,"
        " 'world.json')))\n"
    )
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "ocm"
    tmp = path.with_name("ocm.tmp")
    tmp.write_text(script, encoding="utf-8")
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


def _previous_port(world_json: Path) -> int:
    try:
        url = json.loads(world_json.read_text(encoding="utf-8")).get("ocm_url") or ""
        return int(urlsplit(url).port or 0)
    except (OSError, ValueError, TypeError):
        return 0


def start_world_ocm(world: Any) -> WorldOcm:
    """Start the OCM of a :class:`sim.world.World` (after its kubeconfig is written, before world.json)."""
    from sim.world import PROJECT_ROOT

    cfg = world.config
    d: Path = world.dir
    token_path = d / "ocm-token"
    token = ""
    if token_path.exists():
        token = token_path.read_text(encoding="utf-8").strip()
    if not is_offline_token(token):
        token = new_offline_token()
    write_private(token_path, token + "\n")
    kubeconfig = Path(world.kubeconfig_path).read_text(encoding="utf-8")
    name = getattr(cfg, "ocm_cluster_name", DEFAULT_MGMT_NAME) or DEFAULT_MGMT_NAME
    n_decoys = int(getattr(cfg, "ocm_decoys", DEFAULT_DECOYS))
    created = time.time() - 30 * 86400
    mgmt = management_cluster(name=name, seed=cfg.seed, base_domain=cfg.base_domain, region=cfg.region,
                              api_url=_kubeconfig_server(kubeconfig) or world.mgmt_url, created=created)
    decoys = decoy_clusters(n_decoys, cfg.seed, avoid={name}, near_name=name,
                            start=created - n_decoys * 41 * 3600 - 86400)
    oidc_configs = world_oidc_configs(cfg.seed, cfg.region, prefix=name, created=created - 30 * 86400)
    ports = [0]
    if getattr(cfg, "restore", False):
        prev = _previous_port(d / "world.json")
        if prev:
            ports = [prev, 0]
    last: Exception | None = None
    for port in ports:
        server = OcmServer(port=port, offline_token=token, clusters=decoys + [mgmt],
                           credentials={mgmt["id"]: kubeconfig}, oidc_configs=oidc_configs)
        try:
            server.start()
            break
        except OSError as exc:
            last = exc
    else:
        raise RuntimeError(f"could not start the simulated OCM API: {last}")
    bin_path = write_standin(d / "bin", PROJECT_ROOT)
    log.info("OCM: management cluster %r (id %s) is item %d of %d; OIDC configs %s", name, mgmt["id"],
             len(decoys) + 1, len(decoys) + 1, ", ".join(c["id"] for c in oidc_configs))
    return WorldOcm(server, mgmt, token_path, bin_path)
