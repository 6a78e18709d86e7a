"""The management cluster of ``--platform hypershift``: find it, check it, describe it.

It comes from ``--mgmt-kubeconfig``, or from ``--mgmt-cluster`` looked up in OCM
with the ``ocm`` CLI (every page of the cluster list; the kubeconfig from the
credentials endpoint).  The OCM token reaches ``ocm`` only through its config
file (mode 0600, ``OCM_CONFIG``), never on a command line.  Before any cluster
is created the API must answer with the given credentials and serve the
HostedCluster API; otherwise the run stops with a usage error.
"""
from __future__ import annotations

import configparser
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import process
from .kube import ApiError, Kube
from .options import Settings, aws_profile
from .rundir import isotime, write_json, write_private

log = logging.getLogger("hcp.mgmt")

CLUSTERS_PATH = "/api/clusters_mgmt/v1/clusters"
PAGE_SIZE = 100
MAX_PAGES = 1000
OCM_TIMEOUT = 120.0


@dataclass
class MgmtCluster:
    name: str
    kubeconfig: str
    base_domain: str
    region: str
    id: str | None = None
    version: str | None = None
    source: str = "kubeconfig"
    details: dict = field(default_factory=dict)

    def document(self, settings: Settings) -> dict:
        """The run's one document about its management cluster."""
        doc = {"uuid": settings.uuid, "operation": "mgmt_cluster", "timestamp": isotime(), "platform": "hypershift",
               "mgmt_cluster_name": self.name, "cluster_id": self.id, "version": self.version,
               "base_domain": self.base_domain, "aws_region": self.region, "source": self.source,
               "hostedclusters": settings.cluster_count}
        doc.update(self.details)
        return doc


class Ocm:
    """The ``ocm`` CLI, logged in through a private config file."""

    def __init__(self, cli: str, settings: Settings, run_path: Path):
        self.cli = cli
        self.settings = settings
        self.config_path = run_path / "ocm.json"
        self.log_path = run_path / "ocm.log"
        write_private(self.config_path, json.dumps({
            "client_id": "cloud-services", "refresh_token": settings.ocm_token, "scopes": ["openid"],
            "token_url": settings.ocm_token_url, "url": settings.ocm_url}))

    def get(self, path: str, **params) -> dict:
        argv = [self.cli, "get", path]
        for key, value in params.items():
            argv += ["--parameter", f"{key}={value}"]
        env = dict(os.environ, OCM_CONFIG=str(self.config_path))
        result = process.run(argv, log_path=self.log_path, timeout=OCM_TIMEOUT, env=env,
                             secrets=self.settings.secrets(), capture=True)
        if not result.ok:
            raise pytest.UsageError(f"ocm get {path} failed ({'timeout' if result.timed_out else result.returncode}):"
                                    f" {result.tail(1)}")
        try:
            return json.loads(result.stdout or "")
        except ValueError:
            raise pytest.UsageError(f"ocm get {path}: the answer is not JSON") from None

    def find_cluster(self, name_or_id: str) -> dict:
        """Search every page of the cluster list for a name, ID or external ID."""
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            listing = self.get(CLUSTERS_PATH, page=page, size=PAGE_SIZE)
            items = listing.get("items") or []
            for cluster in items:
                if name_or_id in (cluster.get("id"), cluster.get("name"), cluster.get("external_id")):
                    return cluster
            seen += len(items)
            total = listing.get("total")
            if not items or (total is not None and seen >= total):
                break
        raise pytest.UsageError(f"--mgmt-cluster {name_or_id}: no such cluster in OCM ({self.settings.ocm_url}, "
                                f"{seen} clusters searched)")

    def oidc_issuer_url(self, config_id: str) -> str:
        """The issuer URL of an OCM OIDC configuration (``--oidc-config-id``)."""
        config = self.get(f"/api/clusters_mgmt/v1/oidc_configs/{config_id}")
        if not config.get("issuer_url"):
            raise pytest.UsageError(f"--oidc-config-id {config_id}: OCM reports no issuer URL for it")
        return config["issuer_url"]

    def kubeconfig(self, cluster_id: str) -> str:
        creds = self.get(f"{CLUSTERS_PATH}/{cluster_id}/credentials")
        if not creds.get("kubeconfig"):
            raise pytest.UsageError(f"OCM has no kubeconfig for management cluster {cluster_id}")
        return creds["kubeconfig"]


def from_ocm(settings: Settings, run_path: Path, ocm_cli: str) -> MgmtCluster:
    ocm = Ocm(ocm_cli, settings, run_path)
    cluster = ocm.find_cluster(settings.mgmt_cluster)
    kubeconfig = settings.mgmt_kubeconfig
    if not kubeconfig:
        kubeconfig = str(run_path / "mgmt_kubeconfig")
        write_private(Path(kubeconfig), ocm.kubeconfig(cluster["id"]))
    nodes = cluster.get("nodes") or {}
    details = {"infra_id": cluster.get("infra_id"), "workers": nodes.get("compute"),
               "workers_type": (nodes.get("compute_machine_type") or {}).get("id"),
               "network_type": (cluster.get("network") or {}).get("type")}
    return MgmtCluster(name=cluster.get("name") or settings.mgmt_cluster, kubeconfig=kubeconfig,
                       base_domain=settings.base_domain or (cluster.get("dns") or {}).get("base_domain"),
                       region=settings.region or (cluster.get("region") or {}).get("id"),
                       id=cluster.get("id"), version=cluster.get("openshift_version"), source="ocm",
                       details=details)


def from_kubeconfig(settings: Settings, kube: Kube) -> MgmtCluster:
    """Base domain and region from the options, else from the cluster's own config objects."""
    base_domain, region = settings.base_domain, settings.region
    if not base_domain:
        dns = _cluster_config(kube, "dnses")
        base_domain = ((dns or {}).get("spec") or {}).get("baseDomain")
    if not region:
        infra = _cluster_config(kube, "infrastructures")
        region = (((infra or {}).get("status") or {}).get("platformStatus") or {}).get("aws", {}).get("region")
    missing = [flag for flag, value in (("--base-domain", base_domain), ("--region", region)) if not value]
    if missing:
        raise pytest.UsageError(f"{' and '.join(missing)} needed: the management cluster does not tell "
                                "(no readable config.openshift.io dns/infrastructure objects)")
    name = settings.mgmt_cluster or _context_cluster(settings.mgmt_kubeconfig)
    return MgmtCluster(name=name, kubeconfig=settings.mgmt_kubeconfig, base_domain=base_domain, region=region)


def _cluster_config(kube: Kube, plural: str) -> dict | None:
    try:
        return kube.get(f"/apis/config.openshift.io/v1/{plural}/cluster")
    except ApiError:
        return None


def _context_cluster(kubeconfig: str) -> str:
    import yaml

    try:
        config = yaml.safe_load(Path(kubeconfig).read_text()) or {}
        current = config.get("current-context")
        for ctx in config.get("contexts") or []:
            if ctx.get("name") == current:
                return (ctx.get("context") or {}).get("cluster") or current
    except (OSError, yaml.YAMLError):
        pass
    return "management-cluster"


def preflight(kube: Kube, where: str) -> None:
    """The API answers with these credentials and serves HostedClusters; raise UsageError otherwise."""
    try:
        kube.get("/version")
        resources = kube.get("/apis/hypershift.openshift.io/v1beta1")
    except ApiError as exc:
        if exc.status == 0:
            raise pytest.UsageError(f"{where}: cannot reach the management cluster API ({exc.message[:160]})") \
                from None
        if exc.status in (401, 403):
            raise pytest.UsageError(f"{where}: the management cluster refuses these credentials "
                                    f"({exc.status} {exc.reason})") from None
        if exc.status == 404:
            raise pytest.UsageError(f"{where}: the HostedCluster CRD is not installed on the management cluster "
                                    "(no hypershift.openshift.io/v1beta1 API)") from None
        raise pytest.UsageError(f"{where}: management cluster API error {exc.status} {exc.reason}") from None
    except Exception as exc:  # connection refused, DNS, TLS
        raise pytest.UsageError(f"{where}: cannot reach the management cluster API ({type(exc).__name__}: "
                                f"{str(exc)[:160]})") from None
    names = {r.get("name") for r in (resources or {}).get("resources") or []}
    if "hostedclusters" not in names:
        raise pytest.UsageError(f"{where}: the HostedCluster CRD is not installed on the management cluster")


def write_aws_credentials(settings: Settings, run_path: Path) -> tuple[Path | None, list[str]]:
    """The chosen profile as the ``default`` profile of a 0600 file in the run directory, and its secrets."""
    if not settings.aws_account_file:
        return None, []
    profile, key_id, secret = aws_profile(settings.aws_account_file, settings.aws_profile)
    out = configparser.RawConfigParser()
    out["default"] = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    path = run_path / "aws_creds"
    from io import StringIO

    text = StringIO()
    out.write(text)
    write_private(path, text.getvalue())
    log.info("AWS credentials of profile %s written to %s", profile, path)
    return path, [key_id, secret]


def resolve(settings: Settings, run_path: Path, ocm_cli: str | None) -> MgmtCluster:
    """Find and check the management cluster; write its document to ``mgmt_cluster.json``."""
    if settings.mgmt_cluster and ocm_cli and settings.ocm_token:
        mgmt = from_ocm(settings, run_path, ocm_cli)
        kube = Kube.from_kubeconfig(mgmt.kubeconfig)
        try:
            preflight(kube, f"--mgmt-cluster {settings.mgmt_cluster}")
            if not (mgmt.base_domain and mgmt.region):
                fallback = from_kubeconfig(settings, kube)
                mgmt.base_domain = mgmt.base_domain or fallback.base_domain
                mgmt.region = mgmt.region or fallback.region
        finally:
            kube.close()
    else:
        kube = Kube.from_kubeconfig(settings.mgmt_kubeconfig)
        try:
            preflight(kube, f"--mgmt-kubeconfig {settings.mgmt_kubeconfig}")
            mgmt = from_kubeconfig(settings, kube)
        finally:
            kube.close()
    write_json(run_path / "mgmt_cluster.json", mgmt.document(settings))
    return mgmt

