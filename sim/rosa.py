"""ROSA with hosted control planes in the simulated world: the "ROSA service" behind the simulated OCM API,
the simulated AWS account, and the guests' OpenShift OAuth login.

Everything is served on 127.0.0.1 only.  Nothing here talks to a real cloud or to a real OCM.

OCM API (clusters_mgmt v1, on the simulated OCM server of :mod:`sim.ocm`, world.json ``ocm_url``)
==================================================================================================
Every call needs ``Authorization: Bearer <access token>`` (as the other OCM endpoints; 401 otherwise).
JSON is snake_case, as the real API serialises it.  Errors are OCM Error bodies::

    {"kind": "Error", "id": "400", "href": "/api/clusters_mgmt/v1/errors/400", "code": "CLUSTERS-MGMT-400",
     "reason": "<clear message>", "operation_id": "<uuid>"}

(404 unknown object: reason ``Cluster 'ID' not found`` / ``Node pool 'X' not found`` / ...).  Prefix P =
``/api/clusters_mgmt/v1``.

Clusters
--------
``POST P/clusters`` -- body a Cluster::

    {"name": "perf-0001",                              # required, <= 54 chars, ^[a-z]([-a-z0-9]*[a-z0-9])?$
     "product": {"id": "rosa"},                        # only "rosa" (default "rosa")
     "cloud_provider": {"id": "aws"},                  # only "aws" (default "aws")
     "region": {"id": "us-east-1"},                    # required; must be the world's region (world.json "region")
     "multi_az": true,
     "hypershift": {"enabled": true},                  # required true (only HCP is simulated)
     "version": {"id": "openshift-v4.17.3", "channel_group": "stable"},   # default: world release; minor must
                                                       # be in world.json supported_versions; channel_group one of
                                                       # stable, fast, candidate, eus, nightly (default stable)
     "domain_prefix": "perf-0001",                     # optional, <= 15 chars; default derived from the name
     "nodes": {"compute": 2,                           # default 2; integer >= 2
               "compute_machine_type": {"id": "m5.xlarge"},   # default m5.xlarge
               "availability_zones": ["us-east-1a"],   # optional; must be the AZs of the private subnets given
               "compute_labels": {"k": "v"}},          # optional: node labels of the default pool
     "aws": {"subnet_ids": ["subnet-...", "subnet-..."],       # required (>= 1 private; public clusters also
                                                               # >= 1 public); must exist in /sim/aws/subnets
             "sts": {"enabled": true,
                     "role_arn": "arn:aws:iam::<acct>:role/ManagedOpenShift-HCP-ROSA-Installer-Role",
                     "support_role_arn": "...-HCP-ROSA-Support-Role",
                     "instance_iam_roles": {"worker_role_arn": "...-HCP-ROSA-Worker-Role"},
                     "operator_role_prefix": "run-abcd",       # required, <= 32 chars
                     "oidc_config": {"id": "<oidc config id>"}},   # required, must exist
             "tags": {"hcp-scale-run": "UUID"},                # optional map string -> string
             "billing_account_id": "<acct>"},                  # optional
     "api": {"listening": "external"},                 # optional; "internal" = private (then no public subnet needed)
     "expiration_timestamp": "2026-11-24T21:00:00Z",   # optional RFC 3339, must be in the future
     "properties": {"rosa_creator_arn": "..."}}        # optional map, echoed

Validation (400, in this order, ``reason``): body not a JSON object; ``Cluster name is required``;
``Cluster name 'X' is longer than 54 characters``; ``Cluster name 'X' is not valid: ...``;
``Cluster name 'X' already exists`` (any cluster of the organisation not yet gone, decoys included);
product / cloud provider / ``hypershift.enabled`` / STS not as above; ``Region 'R' ...``; ``Version 'V' is not
supported for hosted control planes``; channel group; domain prefix; nodes; machine type;
``Hosted control plane clusters require a pre-configured VPC: specify the subnet IDs (aws.subnet_ids)``;
``Subnet 'S' does not exist in the VPC of AWS account 'A' in region 'R'``; missing private/public subnet;
account roles missing or unknown (``Role 'ARN' does not exist in AWS account 'A'``);
``Operator role prefix is required`` / too long; ``OIDC configuration ID is required for hosted control
planes``; ``OIDC config 'ID' not found``; expiration in the past; tags/properties not string maps.

Sim-only request headers on this POST (the real OCM has none; the stand-in ``rosa`` sends them):

* ``X-Sim-Faults: <JSON object>`` -- faults for THIS cluster, applied by the world exactly as if ``sim
  serve`` had been given them for its index.  Keys are the by-index fault sets of :class:`sim.model.Faults`
  (``fail_clusters``, ``stuck_clusters``, ``destroy_fail_clusters``, ``degraded_clusters``,
  ``load_fail_clusters``, ``load_slow_clusters``, ``load_alert_clusters``, ``cli_*``) with a value that is
  either ``true`` (applies) or a list of indices (applies when the cluster name's trailing ``-NNNN`` index is
  in it), plus ``failure_rate`` (a number in [0, 1], drawn per cluster name as ``serve --failure-rate``) and
  the ROSA-only key ``fail_addons`` (true / indices: every add-on installed on the cluster fails).  Unknown
  keys or bad values -> 400.  (The load_* keys reach the world's Prometheus, not the kube-burner stand-in,
  which reads world.json.)
* ``X-Sim-Ocm-Env: production | staging | integration`` -- the OCM environment the client logged into
  (``rosa login --env``); it names the management namespace ``ocm-<env>-<id>``.  Default ``production``.

-> ``201`` the Cluster (also ``Location: <href>``).  A Cluster (the same for GET and list items)::

    {"kind": "Cluster", "id": "<32 chars of 0-9a-v>", "href": "P/clusters/<id>", "name", "display_name",
     "external_id": "<uuid>", "domain_prefix", "infra_id": "<name[:21]>-<5 chars>",
     "creation_timestamp", "activity_timestamp", "expiration_timestamp" (only when set),
     "state": "waiting" | "pending" | "installing" | "ready" | "error" | "uninstalling",
     "status": {"kind": "ClusterStatus", "state", "description", "dns_ready", "oidc_ready",
                "provision_error_code": "" | "OCM3999", "provision_error_message": "" | "<condition message>",
                "limited_support_reason_count": 0, "configuration_mode": "full", "current_compute": <nodes>},
     "openshift_version": "4.17.3",
     "version": {"kind": "Version", "id": "openshift-v4.17.3", "href", "raw_id": "4.17.3", "channel_group"},
     "product": {"kind": "ProductLink", "id": "rosa", "href"}, "cloud_provider": {...,"id": "aws"},
     "region": {"kind": "CloudRegionLink", "id", "href"}, "multi_az": true, "managed": true,
     "ccs": {"enabled": true}, "hypershift": {"enabled": true}, "billing_model": "standard",
     "dns": {"base_domain": "<4 chars>.p3.openshiftapps.com"},
     "api": {"url": "http://127.0.0.1:<port>/guests/ocm-<env>-<id>/<name>", "listening": "external"},
     "console": {"url": "https://console-openshift-console.apps.rosa.<domain_prefix>.<base_domain>"},
     "nodes": {"compute", "compute_machine_type": {"kind": "MachineTypeLink", "id", "href"},
               "availability_zones": [...], "compute_labels": {...}},
     "network": {"type": "OVNKubernetes", "machine_cidr", "service_cidr", "pod_cidr", "host_prefix"},
     "aws": {"subnet_ids", "tags", "private_link": false, "billing_account_id", "account_id"?,
             "sts": {"enabled": true, "role_arn", "support_role_arn",
                     "instance_iam_roles": {"worker_role_arn"}, "operator_role_prefix",
                     "oidc_config": {"kind": "OidcConfig", "id", "href", "issuer_url", "managed", "reusable"},
                     "oidc_endpoint_url": "<issuer_url>", "managed_policies": true, "auto_mode": false,
                     "operator_iam_roles": [{"name", "namespace", "role_arn"}, ...]}},
     "properties": {...}, "subscription": {"kind": "SubscriptionLink", "id", "href"},
     "delete_protection": {"enabled": false}, "etcd_encryption": false, "fips": false,
     "metrics": {"nodes": {"compute": <nodes ready>}}}

``api.url`` is the guest API of the cluster on the world's API server (Bearer tokens: the OAuth tokens below;
it answers 503 until the control plane is available).  ``dns.base_domain``/``console.url`` are names only.

``GET P/clusters?page=&size=&search=&order=`` -- as before (:mod:`sim.ocm`), the ROSA clusters listed after the
organisation's other clusters; search works on every Cluster field, e.g. ``name = 'x'``,
``product.id = 'rosa' and hypershift.enabled = 'true'``, ``aws.sts.operator_role_prefix = 'run-abcd'``.
``GET P/clusters/{id}`` -> the Cluster.  ``GET P/clusters/{id}/status`` -> ``{"kind": "ClusterStatus", "id",
"href", "state", "description", "dns_ready", "oidc_ready", "provision_error_code", "provision_error_message",
"limited_support_reason_count", "configuration_mode", "current_compute"}``.

``DELETE P/clusters/{id}`` (``?deprovision=true&best_effort=...`` accepted and ignored) -> ``204`` (no body);
the state becomes ``uninstalling`` and the HostedCluster is deleted.  Again while uninstalling -> ``204``.  The
Cluster is gone (404) once its HostedCluster and NodePools are gone (a cluster that never got a HostedCluster:
after a modelled short while).  A ``destroy_fail_clusters`` cluster stays ``uninstalling``.

``GET P/clusters/{id}/logs/install[?tail=N][&offset=N]`` -> ``{"kind": "Log", "id": "install", "href",
"cluster_id", "content": "<text>"}``: one line per event, ``<RFC 3339 time> <message>``: each state change
(``Cluster state changed to 'installing'``), each HostedCluster/NodePool condition flip seen
(``HostedCluster condition InfrastructureReady=True (AsExpected): All is well``), and the failure
(``Installation failed: OCM3999: <message>``).  404 while the cluster is ``waiting`` (nothing yet).
``GET P/clusters/{id}/logs/uninstall`` -> the same for the deletion (404 before it starts).

Node pools (OCM NodePool, HCP machine pools)
--------------------------------------------
``GET P/clusters/{id}/node_pools`` -> ``{"kind": "NodePoolList", "page", "size", "total", "items"}``;
``GET P/clusters/{id}/node_pools/{np_id}`` -> a NodePool::

    {"kind": "NodePool", "id": "workers", "href", "replicas": 2,           # or "autoscaling" instead of replicas
     "autoscaling": {"kind": "NodePoolAutoscaling", "min_replica", "max_replica"},
     "auto_repair": true, "availability_zone": "us-east-1a", "subnet": "subnet-...",
     "aws_node_pool": {"kind": "AWSNodePool", "instance_type": "m5.xlarge", "instance_profile",
                       "root_volume": {"size": 300}, "tags": {}, "additional_security_group_ids": []},
     "labels": {"k": "v"}, "taints": [{"key", "value", "effect"}],
     "version": {"kind": "VersionLink", "id": "openshift-v4.17.3", "href", "raw_id": "4.17.3"},
     "tuning_configs": [], "kubelet_configs": [], "node_drain_grace_period": {"value": 0, "unit": "minutes"},
     "management_upgrade": {"kind": "NodePoolManagementUpgrade", "type": "Replace", "max_surge": "1",
                            "max_unavailable": "0"},
     "status": {"kind": "NodePoolStatus", "current_replicas": <ready nodes>, "message": "",
                "state": {"kind": "NodePoolState", "value": "pending" | "validating" | "installing" | "ready" |
                          "uninstalling" | "error", "last_updated_timestamp"}}}

``POST P/clusters/{id}/node_pools`` body ``{"id": "mp1" (required, <= 15 chars, DNS label, unique),
"replicas": N | "autoscaling": {"min_replica", "max_replica"}, "aws_node_pool": {"instance_type"} (default
m5.xlarge), "subnet" (one of the cluster's private subnets; default the first), "labels", "taints" (effect
NoSchedule | PreferNoSchedule | NoExecute), "auto_repair", "version": {"id"}}`` -> ``201`` the NodePool; 400 when
the cluster is not ``ready`` or the body is invalid.  The world then creates the HyperShift NodePool
``<cluster name>-<np id>`` in ``ocm-<env>-<id>`` (spec.nodeLabels = labels, spec.taints = taints; so the guest's
nodes carry them).  The default pool ``workers`` is created with the cluster (replicas ``nodes.compute``, instance
type ``nodes.compute_machine_type``, labels ``nodes.compute_labels``).
``PATCH P/clusters/{id}/node_pools/{np_id}`` body any of ``replicas``, ``autoscaling``, ``labels``, ``taints`` ->
200 the NodePool.  ``DELETE`` -> 204 (the HyperShift NodePool is deleted; gone when it is).

Add-ons
-------
``GET P/addons`` -> ``{"kind": "AddOnList", "page", "size", "total", "items"}`` of AddOns ``{"kind": "AddOn", "id",
"href", "name", "description", "enabled": true, "install_mode", "target_namespace", "operator_name",
"version": {"kind": "AddOnVersion", "id"}, "parameters": {"items": [...]}}``: ``cluster-logging-operator``,
``managed-odh``, ``managed-api-service``, ``reference-addon``.  ``GET P/addons/{id}`` -> one.
``GET P/clusters/{id}/addons`` -> ``{"kind": "AddOnInstallationList", "page", "size", "total", "items"}``;
``GET P/clusters/{id}/addons/{addon_id}`` -> an AddOnInstallation::

    {"kind": "AddOnInstallation", "id": "<addon id>", "href", "addon": {"kind": "AddOnLink", "id", "href"},
     "addon_version": {"kind": "AddOnVersionLink", "id"}, "cluster": {"kind": "ClusterLink", "id", "href"},
     "state": "installing" | "ready" | "failed" | "deleting", "state_description": "",
     "operator_version", "csv_name", "parameters": {"items": [{"id", "value"}]},
     "creation_timestamp", "updated_timestamp"}

``POST P/clusters/{id}/addons`` body ``{"addon": {"id": X}, "parameters": {"items": [{"id", "value"}]}}`` (a plain
``{"name": "value"}`` map is accepted too) -> ``201``; ``installing`` -> ``ready`` a modelled 3-7 simulated
minutes later (``failed`` with a state_description for ``fail_addons`` clusters; ``X-Sim-Faults:
{"fail_addons": true}`` on this POST fails this one add-on).  400 when the cluster is not
``ready``, the add-on is unknown (``Add-on 'X' does not exist``) or already installed.
``DELETE P/clusters/{id}/addons/{addon_id}`` -> 204 (``deleting``, then gone).

Identity providers, groups (``rosa create admin``)
-------------------------------------------------
``POST P/clusters/{id}/identity_providers`` body (what ``rosa create admin`` sends)::

    {"kind": "IdentityProvider", "type": "HTPasswdIdentityProvider", "name": "cluster-admin",
     "mapping_method": "claim",   # optional
     "htpasswd": {"users": {"items": [{"username": "cluster-admin", "hashed_password": "$2a$10$..."}]}}}

``hashed_password``: bcrypt (``$2a$``/``$2b$``/``$2y$``, what rosa sends), ``{SHA}<base64 sha1>``, or crypt
``$5$``/``$6$``; or ``"password": "<plain text>"`` instead.  -> ``201`` ``{"kind": "IdentityProvider", "type",
"id", "href", "name", "mapping_method", "htpasswd": {}}`` (never a password).  400 when the cluster is not
``ready``, the name is taken, or the type is not HTPasswdIdentityProvider.  Users become able to log in a
modelled 1-3 simulated minutes after they were added.  ``GET P/clusters/{id}/identity_providers`` ->
``{"kind": "IdentityProviderList", "page", "size", "total", "items"}``; ``GET/DELETE .../identity_providers/{idp_id}``;
``GET .../identity_providers/{idp_id}/htpasswd_users`` -> ``{"kind": "HTPasswdUserList", ..., "items": [{"kind":
"HTPasswdUser", "id", "href", "username"}]}``; ``POST`` there ``{"username", "password" | "hashed_password"}`` -> 201.

``GET P/clusters/{id}/groups`` -> ``{"kind": "GroupList", ...}`` of ``{"kind": "Group", "id": "cluster-admins" |
"dedicated-admins", "href", "users": {"kind": "UserList", "items": [...]}}``;
``GET .../groups/{gid}/users`` -> ``{"kind": "UserList", "page", "size", "total", "items"}``;
``GET .../groups/{gid}/users/{uid}`` -> ``{"kind": "User", "id", "href"}`` (404 when not a member);
``POST .../groups/{gid}/users`` body ``{"id": "cluster-admin"}`` -> 201 the User (400 when the cluster is not
ready, or already a member); ``DELETE .../groups/{gid}/users/{uid}`` -> 204.

OIDC configs
------------
``POST P/oidc_configs`` body ``{"managed": true}`` -> ``201`` OidcConfig ``{"kind": "OidcConfig", "id", "href",
"issuer_url": "https://oidc.op1.openshiftapps.com/<id>", "managed": true, "reusable": true, "organization_id",
"creation_timestamp", "last_update_timestamp"}``.  Unmanaged (``managed`` false or left out, as in the real
API): ``{"managed": false, "issuer_url", "secret_arn", "installer_role_arn"}`` (all required, else 400).  ``DELETE P/oidc_configs/{id}`` -> 204; 400 ``OIDC config
'ID' is in use by cluster(s) 'NAME'`` while a cluster that is not gone uses it; 404 unknown.  (GET as in
:mod:`sim.ocm`.)

The simulated AWS account (sim-only JSON API, same server, no authentication)
============================================================================
The real ``rosa`` calls AWS IAM/EC2 with the AWS SDK; the stand-in calls these instead.  Errors:
``{"error": "<AWS-like code>", "message": "..."}`` with 400 / 404.  ``A`` = ``/sim/aws``.

* ``GET A/account`` -> ``{"account_id": "<12 digits>", "arn": "arn:aws:iam::<acct>:user/sim-user",
  "user_id", "region", "vpc_id", "account_roles_prefix": "ManagedOpenShift"}``
* ``GET A/roles[?prefix=P][&type=account|operator]`` -> ``{"items": [Role]}``, Role = ``{"name", "arn",
  "type": "account" | "operator", "prefix", "role_type": "Installer" | "Support" | "Worker" (account roles),
  "namespace", "operator_name" (operator roles), "hcp": true, "managed_policies": true, "version": "4.17",
  "oidc_config_id" (operator roles, when given), "tags": {...}, "creation_timestamp"}``.
  Pre-created: ``ManagedOpenShift-HCP-ROSA-Installer-Role``, ``...-Support-Role``, ``...-Worker-Role``.
* ``POST A/account_roles`` ``{"prefix": "P", "hosted_cp": true}`` -> 201 ``{"items": [3 Roles]}`` (200 when they
  all exist already); ``DELETE A/account_roles?prefix=P`` -> 204 (404 none).
* ``GET A/operator_roles?prefix=P`` -> ``{"items": [Role]}``;
  ``POST A/operator_roles`` ``{"prefix": "P" (<= 32 chars), "oidc_config_id"?, "installer_role_arn"?}`` -> 201
  ``{"items": [the 8 Roles]}`` (200 when all exist); ``DELETE A/operator_roles?prefix=P`` -> 204 (404 none;
  400 while a cluster that is not gone uses the prefix).  The HCP operator roles for prefix P (as rosa names
  them: ``<P>-<namespace>-<name>`` cut to 64 chars) are :data:`HCP_OPERATOR_ROLES`:
  openshift-ingress-operator/cloud-credentials, openshift-cluster-csi-drivers/ebs-cloud-credentials,
  openshift-cloud-network-config-controller/cloud-credentials, openshift-image-registry/installer-cloud-credentials,
  kube-system/kube-controller-manager, kube-system/capa-controller-manager, kube-system/control-plane-operator,
  kube-system/kms-provider.
* ``GET A/oidc_providers`` -> ``{"items": [{"arn": "arn:aws:iam::<acct>:oidc-provider/<host>/<path>", "url":
  "https://<host>/<path>", "client_ids": ["openshift", "sts.amazonaws.com"], "thumbprint", "creation_timestamp"}]}``;
  ``POST A/oidc_providers`` ``{"issuer_url": URL}`` or ``{"oidc_config_id": ID}`` -> 201 the provider (200 when it
  exists); ``DELETE A/oidc_providers?issuer_url=URL`` (or ``?oidc_config_id=ID``) -> 204 (404 none).  The
  organisation's two pre-existing OIDC configs (world.json ``oidc_config_ids``) have their providers already.
* ``GET A/subnets`` -> ``{"vpc_id", "items": [{"subnet_id", "availability_zone", "cidr_block", "public": bool,
  "vpc_id", "tags": {"Name": ...}}]}``: a private and a public subnet in each of two AZs of the world's region.

A cluster stays ``waiting`` while the operator roles of its prefix or the OIDC provider of its OIDC config's
issuer are missing.

Guest OAuth (the OpenShift OAuth server of each ROSA cluster; on the world's API server)
=======================================================================================
* ``GET <api.url>/.well-known/oauth-authorization-server`` (no auth) -> ``{"issuer": "<base>/oauth/<ns>/<name>",
  "authorization_endpoint": "<issuer>/oauth/authorize", "token_endpoint": "<issuer>/oauth/token",
  "scopes_supported": [...], "response_types_supported": ["code", "token"], "grant_types_supported":
  ["authorization_code", "implicit"], "code_challenge_methods_supported": ["plain", "S256"]}``.
* ``GET <authorization_endpoint>?response_type=token&client_id=openshift-challenging-client`` with
  ``X-CSRF-Token: <anything>`` and ``Authorization: Basic base64(user:password)`` -> ``302`` with ``Location:
  <issuer>/oauth/token/implicit#access_token=sha256~<43 chars>&expires_in=86400&scope=user%3Afull&token_type=Bearer``.
  ``401`` with ``WWW-Authenticate: Basic realm="openshift"`` without credentials, for a wrong password or unknown
  user, or before the user is active; 401 (no challenge) without ``X-CSRF-Token``; 400 another client id or
  response type.
* The token then authorizes that cluster's guest API (``Authorization: Bearer sha256~...``) for 86400 s.

The ROSA service
================
One thread of the world (no thread per cluster).  Durations in simulated seconds, scaled by the world's speed:
``waiting`` until the operator roles + OIDC provider exist, then 10-40 s later ``pending``; 120-240 s later it
creates namespace ``ocm-<env>-<id>`` (labels ``api.openshift.com/id``, ``api.openshift.com/name``,
``api.openshift.com/environment``) with the pull secret, HostedCluster ``<name>`` and NodePool ``<name>-workers``
(same labels) -> ``installing``; the simulated operator installs them (world faults by the name's index apply, and
the cluster's ``X-Sim-Faults``); ``ready`` when the HostedCluster's version history is Completed and every NodePool
is Ready; ``error`` (``OCM3999`` + the failing condition's message) when a condition shows a terminal failure.
A cluster whose ``expiration_timestamp`` passed is deleted as by DELETE.  Every state change is appended to
``DIR/transitions.jsonl`` (``{"cluster": name, "namespace": "ocm-<env>-<id>", "uid": <ocm id>, "phase":
"rosa_<state>", "time", "ts"}``; ``rosa_deleted`` when the Cluster is gone).  The service's state is saved to ``DIR/rosa-state.json`` (0600) on stop and
restored on start.
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote

from sim import model
from sim.files import write_private
from sim.ocm import API_PREFIX, CLUSTERS_PATH, ID_ALPHABET, OIDC_CONFIGS_PATH, _paths, make_oidc_config

try:   # bcrypt/sha-crypt hashes of htpasswd users (rosa sends bcrypt); the module is deprecated, not gone yet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt
except ImportError:   # pragma: no cover - Python >= 3.13
    _crypt = None

log = logging.getLogger("sim.rosa")

GROUP = "hypershift.openshift.io"
VERSION = "v1beta1"
SERVICE_USER_AGENT = "ocm-clusters-service/sim (linux/amd64)"   # exempt from the world's API faults
ACCOUNT_ROLES_PREFIX = "ManagedOpenShift"
# (role type, rosa's role key, name suffix)
ACCOUNT_ROLES = (("Installer", "installer", "HCP-ROSA-Installer-Role"),
                 ("Support", "support", "HCP-ROSA-Support-Role"),
                 ("Worker", "instance_worker", "HCP-ROSA-Worker-Role"))
# the operator roles of a ROSA HCP cluster: (namespace, name) of the credential requests
HCP_OPERATOR_ROLES = (
    ("openshift-ingress-operator", "cloud-credentials"),
    ("openshift-cluster-csi-drivers", "ebs-cloud-credentials"),
    ("openshift-cloud-network-config-controller", "cloud-credentials"),
    ("openshift-image-registry", "installer-cloud-credentials"),
    ("kube-system", "kube-controller-manager"),
    ("kube-system", "capa-controller-manager"),
    ("kube-system", "control-plane-operator"),
    ("kube-system", "kms-provider"),
)
MAX_ROLE_NAME = 64
ENVIRONMENTS = ("production", "staging", "integration")
CHANNEL_GROUPS = ("stable", "fast", "candidate", "eus", "nightly")
LABEL_ID = "api.openshift.com/id"
LABEL_NAME = "api.openshift.com/name"
LABEL_ENV = "api.openshift.com/environment"
LABEL_NODEPOOL = "api.openshift.com/nodepool-id"
ERROR_CODE = "OCM3999"
TOKEN_TTL = 86400
CHALLENGING_CLIENT = "openshift-challenging-client"
MAX_LOG_LINES = 2000
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MACHINE_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
GROUPS = ("cluster-admins", "dedicated-admins")

# modelled durations (simulated seconds)
WAITING_TO_PENDING = (10.0, 40.0)     # the service notices the operator roles / OIDC provider
PENDING = (120.0, 240.0)              # account preparation before the HostedCluster is created
UNINSTALL_WITHOUT_HC = (30.0, 90.0)   # deleting a cluster that never got a HostedCluster
USER_ACTIVE = (60.0, 180.0)           # an htpasswd user can log in this long after it was added
ADDON_INSTALL = (180.0, 420.0)
ADDON_DELETE = (60.0, 120.0)

ADDONS = (
    {"id": "cluster-logging-operator", "name": "Cluster Logging Operator",
     "description": "Red Hat OpenShift Logging: aggregate and forward cluster logs.",
     "install_mode": "own_namespace", "target_namespace": "openshift-logging", "operator_name": "cluster-logging",
     "version": "5.9.6", "parameters": []},
    {"id": "managed-odh", "name": "Red Hat OpenShift AI",
     "description": "Red Hat OpenShift AI (managed Open Data Hub).", "install_mode": "own_namespace",
     "target_namespace": "redhat-ods-operator", "operator_name": "rhods-operator", "version": "2.13.0",
     "parameters": [{"id": "notification-email", "name": "Notification email", "value_type": "string",
                     "required": False}]},
    {"id": "managed-api-service", "name": "Red Hat OpenShift API Management",
     "description": "Red Hat OpenShift API Management (3scale).", "install_mode": "own_namespace",
     "target_namespace": "redhat-rhoam-operator", "operator_name": "managed-api-service", "version": "1.41.0",
     "parameters": [{"id": "addon-managed-api-service", "name": "Quota", "value_type": "string",
                     "required": False, "default_value": "1"}]},
    {"id": "reference-addon", "name": "Reference Add-on", "description": "The add-on of the add-on flow tests.",
     "install_mode": "all_namespaces", "target_namespace": "reference-addon", "operator_name": "reference-addon",
     "version": "0.1.6", "parameters": []},
)


# =================================================================== helpers
def _ts(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ts_short(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(text: Any) -> float | None:
    """An RFC 3339 time (one without an offset is UTC) in epoch seconds; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        d = _dt.datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", text.strip()))
    except ValueError:
        return None
    return (d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)).timestamp()


def _rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_ocm_id() -> str:
    return _rand(ID_ALPHABET, 32)


def truncate_role_name(name: str) -> str:
    return name[:MAX_ROLE_NAME]


def operator_role_name(prefix: str, namespace: str, name: str) -> str:
    """The IAM role name rosa gives an operator role: ``<prefix>-<namespace>-<name>`` cut to 64 chars."""
    return truncate_role_name(f"{prefix}-{namespace}-{name}")


def account_id_for(seed: int | str) -> str:
    """The simulated AWS account id (the one sim.ocm's unmanaged OIDC config names)."""
    org_rng = random.Random(f"{seed}/ocm/org")
    "".join(org_rng.choice(ID_ALPHABET) for _ in range(32))   # the organisation id comes first
    return "".join(str(org_rng.randint(0, 9)) for _ in range(12))


def organization_id_for(seed: int | str) -> str:
    org_rng = random.Random(f"{seed}/ocm/org")
    return "".join(org_rng.choice(ID_ALPHABET) for _ in range(32))[:27]


def _hash(*parts: Any, n: int = 17) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:n]


def _draw(rng_range: tuple[float, float]) -> float:
    return random.uniform(*rng_range)


def check_password(user: dict, password: str, cache: dict | None = None) -> bool:
    """Whether ``password`` is the password of an htpasswd ``user`` (``password`` or ``hashed_password``)."""
    plain = user.get("password")
    if isinstance(plain, str) and plain:
        return hmac.compare_digest(plain.encode(), password.encode())
    hashed = user.get("hashed_password")
    if not isinstance(hashed, str) or not hashed:
        return False
    key = (hashed, hashlib.sha256(password.encode()).hexdigest())
    if cache is not None and key in cache:
        return cache[key]
    ok = False
    if hashed.startswith("{SHA}"):
        want = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        ok = hmac.compare_digest(hashed[5:].encode(), want.encode())
    elif hashed.startswith("$") and _crypt is not None:
        probe = hashed
        if probe.startswith(("$2a$", "$2y$")):   # the same algorithm; glibc's libxcrypt knows $2b$ (and $2y$)
            probe = "$2b$" + probe[4:]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                got = _crypt.crypt(password, probe)
        except (OSError, ValueError):
            got = None
        ok = bool(got) and hmac.compare_digest(got.encode(), probe.encode())
    if cache is not None:
        if len(cache) > 4096:
            cache.clear()
        cache[key] = ok
    return ok


def _valid_hash(hashed: str) -> bool:
    return hashed.startswith(("{SHA}", "$2a$", "$2b$", "$2y$", "$5$", "$6$")) and len(hashed) >= 10


# =================================================================== faults
class ClusterFaults:
    """The world's by-index faults (:class:`sim.model.Faults`) plus per-cluster ones handed over at creation
    (``X-Sim-Faults``), with the same query methods, so the operator and Prometheus treat both alike."""

    SET_KEYS = tuple(model.Faults._INDEX_SETS) + ("fail_addons",)

    def __init__(self, base: model.Faults | None = None):
        self.base = base or model.Faults()
        self._lock = threading.Lock()
        self._extra: dict[str, dict] = {}

    @classmethod
    def parse(cls, text: str, name: str) -> dict:
        """The faults of ``X-Sim-Faults`` that apply to cluster ``name``: ``{key: True, "failure_rate": f}``.
        Raises ValueError with a reason."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("X-Sim-Faults is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError("X-Sim-Faults must be a JSON object")
        idx = model.cluster_index(name)
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key == "failure_rate":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                    raise ValueError("X-Sim-Faults: failure_rate must be a number within [0, 1]")
                if value > 0:
                    out["failure_rate"] = float(value)
                continue
            if key not in cls.SET_KEYS:
                raise ValueError(f"X-Sim-Faults: unknown fault '{key}' (known: "
                                 f"{', '.join(cls.SET_KEYS + ('failure_rate',))})")
            if isinstance(value, bool):
                applies = value
            elif isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in value):
                applies = idx is not None and idx in value
            else:
                raise ValueError(f"X-Sim-Faults: '{key}' must be true/false or a list of cluster indices")
            if applies:
                out[key] = True
        return out

    def set_cluster(self, name: str, faults: dict | None) -> None:
        with self._lock:
            if faults:
                self._extra[name] = dict(faults)
            else:
                self._extra.pop(name, None)

    def clear_cluster(self, name: str) -> None:
        self.set_cluster(name, None)

    def cluster(self, name: str) -> dict:
        with self._lock:
            return dict(self._extra.get(name) or {})

    def _has(self, key: str, name: str) -> bool:
        with self._lock:
            return bool((self._extra.get(name) or {}).get(key))

    # ---- the sim.model.Faults interface
    def install_fails(self, name: str, seed: int | str) -> bool:
        if self.base.install_fails(name, seed) or self._has("fail_clusters", name):
            return True
        with self._lock:
            rate = float((self._extra.get(name) or {}).get("failure_rate") or 0.0)
        return rate > 0 and model.rng_for(seed, name, "failure").random() < rate

    def stuck(self, name: str) -> bool:
        return self.base.stuck(name) or self._has("stuck_clusters", name)

    def destroy_fails(self, name: str) -> bool:
        return self.base.destroy_fails(name) or self._has("destroy_fail_clusters", name)

    def load_fails(self, name: str) -> bool:
        return self.base.load_fails(name) or self._has("load_fail_clusters", name)

    def load_slow(self, name: str) -> bool:
        return self.base.load_slow(name) or self._has("load_slow_clusters", name)

    def load_alert(self, name: str) -> bool:
        return self.base.load_alert(name) or self._has("load_alert_clusters", name)

    def cli_crash(self, name: str) -> str | None:
        return self.base.cli_crash(name) or model.cli_crash_point(self._has, name)

    def cli_hang(self, name: str) -> bool:
        return self.base.cli_hang(name) or self._has("cli_hang_clusters", name)

    def degraded(self, name: str) -> bool:
        return self.base.degraded(name) or self._has("degraded_clusters", name)

    def addons_fail(self, name: str) -> bool:
        return self._has("fail_addons", name)

    def to_dict(self) -> dict:
        return self.base.to_dict()

    def __getattr__(self, item: str) -> Any:   # fail_clusters, failure_rate, ... of the world's faults
        if item.startswith("__") or item in ("base", "_lock", "_extra"):
            raise AttributeError(item)
        return getattr(self.base, item)


class OcmError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _bad(reason: str) -> OcmError:
    return OcmError(400, reason)


def _string_map(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _bad(f"{what} must be a map of strings")
    return dict(value)


def _parse_body(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8") or "null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"Failed to parse the request body: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object")
    return data


def _aws_error(status: int, code: str, message: str) -> tuple[int, Any, dict]:
    return status, {"error": code, "message": message}, {}


class RosaService:
    """The ROSA service of a :class:`sim.world.World`: the OCM side of ROSA HCP clusters, the simulated AWS
    account and the guests' OAuth server.  See the module docstring."""

    def __init__(self, world: Any):
        cfg = world.config
        self.world = world
        self.dir: Path = Path(world.dir)
        self.seed = cfg.seed
        self.speed = float(cfg.speed)
        self.region = cfg.region
        self.world_base_domain = cfg.base_domain
        self.default_version = cfg.release_version
        from sim.world import SUPPORTED_VERSIONS

        self.supported_versions = list(SUPPORTED_VERSIONS)
        self.external_mgmt = bool(cfg.mgmt_kubeconfig)
        faults = getattr(world, "faults", None)
        self.faults: ClusterFaults = faults if isinstance(faults, ClusterFaults) else ClusterFaults(cfg.faults)
        self.ocm = world.ocm.server if world.ocm is not None else None
        self.state_path = self.dir / "rosa-state.json"
        self.account_id = account_id_for(self.seed)
        self.organization_id = organization_id_for(self.seed)
        self.vpc_id = "vpc-0" + _hash(self.seed, "vpc", n=16)
        self.subnets = self._make_subnets()
        self._lock = threading.RLock()
        self._tokens_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.transitions = None
        self.clusters: dict[str, dict] = {}
        self.roles: dict[str, dict] = {}
        self.oidc_providers: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}            # sha256(token) -> {"ns", "name", "user", "expires"}
        self.created_oidc: list[dict] = []           # OidcConfigs created through the API (persisted)
        self.deleted_oidc: list[str] = []            # ids of pre-existing ones deleted through the API
        self._pw_cache: dict = {}
        self._kube = None
        self.errors = 0
        now = time.time() - 30 * 86400
        for rtype, key, suffix in ACCOUNT_ROLES:
            self._add_account_role(ACCOUNT_ROLES_PREFIX, rtype, suffix, created=now)
        if self.ocm is not None:
            for oc in self.ocm.oidc_configs:
                self._add_oidc_provider(oc["issuer_url"], created=now)
        if getattr(cfg, "restore", True):
            self._load_state()

    # ------------------------------------------------------------- world glue
    @property
    def api_server(self):
        return self.world.server

    def info(self) -> dict:
        return {"rosa": str(self.dir / "bin" / "rosa"),
                "rosa_subnet_ids": [s["subnet_id"] for s in self.subnets],
                "rosa_vpc_id": self.vpc_id,
                "aws_account_id": self.account_id,
                "rosa_account_roles_prefix": ACCOUNT_ROLES_PREFIX,
                "rosa_addons": [a["id"] for a in ADDONS],
                "rosa_state": str(self.state_path)}

    def start(self, transitions: Any = None) -> "RosaService":
        """Attach to the OCM server and the API server, start the service thread."""
        self.transitions = transitions
        if self.ocm is not None:
            self.ocm.rosa = self
        srv = self.api_server
        srv.mount("/oauth", self.oauth_handler)
        srv.guest_auth = self.guest_auth
        srv.guest_public = self.guest_public
        with self._lock:
            for rec in self.clusters.values():
                self.faults.set_cluster(rec["name"], rec.get("faults") or None)
        self._thread = threading.Thread(target=self._run, name="rosa-service", daemon=True)
        self._thread.start()
        log.info("ROSA service started: AWS account %s, VPC %s (subnets %s), %d cluster(s)", self.account_id,
                 self.vpc_id, ", ".join(s["subnet_id"] for s in self.subnets), len(self.clusters))
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.ocm is not None and getattr(self.ocm, "rosa", None) is self:
            self.ocm.rosa = None
        try:
            self.save_state()
        except OSError as exc:
            log.warning("could not save %s: %s", self.state_path, exc)
        if self._kube is not None:
            try:
                self._kube[0].close()
            except Exception:  # pragma: no cover - best effort
                pass
            self._kube = None

    def real(self, sim_seconds: float) -> float:
        return model.real_seconds(sim_seconds, self.speed)

    def _later(self, rng_range: tuple[float, float]) -> float:
        return time.time() + self.real(_draw(rng_range))

    # ------------------------------------------------------------ persistence
    def save_state(self) -> None:
        with self._lock:
            data = {"format": "sim.rosa-state/v1", "saved": time.time(), "clusters": self.clusters,
                    "roles": self.roles, "oidc_providers": self.oidc_providers, "tokens": self.tokens,
                    "created_oidc": self.created_oidc, "deleted_oidc": self.deleted_oidc}
            text = json.dumps(data)
        write_private(self.state_path, text)

    def _load_state(self) -> None:
        if not self.state_path.exists():
            return
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.state_path, exc)
            return
        if data.get("format") != "sim.rosa-state/v1":
            return
        self.clusters = dict(data.get("clusters") or {})
        self.roles = dict(data.get("roles") or self.roles)
        self.oidc_providers = dict(data.get("oidc_providers") or self.oidc_providers)
        now = time.time()
        self.tokens = {k: v for k, v in (data.get("tokens") or {}).items() if float(v.get("expires") or 0) > now}
        self.created_oidc = list(data.get("created_oidc") or [])
        self.deleted_oidc = list(data.get("deleted_oidc") or [])
        if self.ocm is not None:
            configs = [c for c in self.ocm.oidc_configs if c["id"] not in self.deleted_oidc]
            known = {c["id"] for c in configs}
            configs += [c for c in self.created_oidc if c["id"] not in known]
            self._set_oidc_configs(configs)
        log.info("ROSA state restored: %d cluster(s)", len(self.clusters))

    # ------------------------------------------------------------ AWS account
    def _make_subnets(self) -> list[dict]:
        out = []
        for i, az in enumerate(("a", "b")):
            zone = f"{self.region}{az}"
            for j, public in enumerate((False, True)):
                kind = "public" if public else "private"
                out.append({"subnet_id": "subnet-0" + _hash(self.seed, "subnet", zone, kind, n=16),
                            "availability_zone": zone, "cidr_block": f"10.0.{i * 64 + j * 32}.0/19",
                            "public": public, "vpc_id": self.vpc_id,
                            "tags": {"Name": f"rosa-sim-{kind}-{zone}",
                                     f"kubernetes.io/role/{'elb' if public else 'internal-elb'}": "1"}})
        return out

    def _subnet(self, subnet_id: str) -> dict | None:
        return next((s for s in self.subnets if s["subnet_id"] == subnet_id), None)

    def _role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    def _add_account_role(self, prefix: str, rtype: str, suffix: str, created: float | None = None) -> dict:
        name = truncate_role_name(f"{prefix}-{suffix}")
        role = self.roles.get(name)
        if role is None:
            role = self.roles[name] = {
                "name": name, "arn": self._role_arn(name), "type": "account", "prefix": prefix, "role_type": rtype,
                "hcp": True, "managed_policies": True, "version": self.default_version.rsplit(".", 1)[0],
                "tags": {"rosa_hcp_policies": "true", "rosa_managed_policies": "true", "rosa_role_prefix": prefix,
                         "rosa_role_type": dict((t, k) for t, k, _ in ACCOUNT_ROLES)[rtype],
                         "red-hat-managed": "true"},
                "creation_timestamp": _ts(created or time.time())}
        return role

    def _add_oidc_provider(self, issuer_url: str, created: float | None = None) -> tuple[dict, bool]:
        url = issuer_url.rstrip("/")
        prov = self.oidc_providers.get(url)
        if prov is not None:
            return prov, False
        host_path = url.split("://", 1)[-1]
        prov = self.oidc_providers[url] = {
            "arn": f"arn:aws:iam::{self.account_id}:oidc-provider/{host_path}", "url": url,
            "client_ids": ["openshift", "sts.amazonaws.com"], "thumbprint": _hash(url, "thumbprint", n=40),
            "creation_timestamp": _ts(created or time.time())}
        return prov, True

    def operator_roles(self, prefix: str) -> list[dict]:
        return [r for r in self.roles.values() if r["type"] == "operator" and r["prefix"] == prefix]

    def _delete_roles(self, kind: str, prefix: str, names: list[str],
                      uses: Callable[[dict], bool]) -> tuple[int, Any, dict]:
        """DELETE /sim/aws/<kind>_roles?prefix=: the roles ``names``; 404 without any, 400 while a cluster ``uses``
        them (given its ``sts``)."""
        if not names:
            return _aws_error(404, "NoSuchEntity", f"There are no {kind} roles with prefix '{prefix}'")
        users = [c["name"] for c in self.clusters.values() if uses(c["sts"])]
        if users:
            raise _bad(f"{kind.capitalize()} roles with prefix '{prefix}' are in use by cluster(s) "
                       f"{', '.join(repr(u) for u in users)}")
        for n in names:
            del self.roles[n]
        return 204, b"", {}

    def _prerequisites(self, rec: dict) -> list[str]:
        """What a cluster still waits for (empty: nothing)."""
        missing = []
        prefix = rec["sts"]["operator_role_prefix"]
        have = {r["name"] for r in self.operator_roles(prefix)}
        want = [operator_role_name(prefix, ns, n) for ns, n in HCP_OPERATOR_ROLES]
        if not all(w in have for w in want):
            missing.append(f"operator roles with prefix '{prefix}'")
        issuer = rec["sts"]["oidc_config"].get("issuer_url") or ""
        if issuer.rstrip("/") not in self.oidc_providers:
            missing.append(f"OIDC provider '{issuer}'")
        return missing

    def handle_aws(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any, dict]:
        rest = path[len("/sim/aws"):].strip("/").split("/") if path != "/sim/aws" else [""]
        q = {k: v[-1] for k, v in query.items()}
        try:
            with self._lock:
                return self._aws(method, rest, q, body)
        except OcmError as exc:
            return _aws_error(exc.status, "ValidationError" if exc.status == 400 else "NoSuchEntity", exc.reason)

    def _aws(self, method: str, rest: list[str], q: dict, body: bytes) -> tuple[int, Any, dict]:
        what = rest[0] if rest else ""
        if len(rest) != 1:
            return _aws_error(404, "NotFound", f"unknown path /sim/aws/{'/'.join(rest)}")
        if what == "account" and method == "GET":
            return 200, {"account_id": self.account_id, "arn": f"arn:aws:iam::{self.account_id}:user/sim-user",
                         "user_id": "AIDA" + _hash(self.seed, "user", n=17).upper(), "region": self.region,
                         "vpc_id": self.vpc_id, "account_roles_prefix": ACCOUNT_ROLES_PREFIX}, {}
        if what == "subnets" and method == "GET":
            return 200, {"vpc_id": self.vpc_id, "items": copy.deepcopy(self.subnets)}, {}
        if what == "roles" and method == "GET":
            items = [r for r in self.roles.values()
                     if (not q.get("prefix") or r["prefix"] == q["prefix"]) and (not q.get("type") or
                                                                                r["type"] == q["type"])]
            return 200, {"items": copy.deepcopy(items)}, {}
        if what == "account_roles":
            if method == "GET":
                items = [r for r in self.roles.values() if r["type"] == "account"
                         and (not q.get("prefix") or r["prefix"] == q["prefix"])]
                return 200, {"items": copy.deepcopy(items)}, {}
            if method == "POST":
                data = _parse_body(body)
                prefix = data.get("prefix") or ACCOUNT_ROLES_PREFIX
                if not isinstance(prefix, str) or not re.match(r"^[\w+=,.@-]{1,32}$", prefix):
                    raise _bad(f"Invalid account role prefix '{prefix}'")
                before = len(self.roles)
                items = [self._add_account_role(prefix, t, s) for t, _, s in ACCOUNT_ROLES]
                return (201 if len(self.roles) > before else 200), {"items": copy.deepcopy(items)}, {}
            if method == "DELETE":
                prefix = q.get("prefix") or ""
                names = [n for n, r in self.roles.items() if r["type"] == "account" and r["prefix"] == prefix]
                arns = {self.roles[n]["arn"] for n in names}
                return self._delete_roles("account", prefix, names, lambda sts: bool(
                    {sts["role_arn"], sts["support_role_arn"], sts["worker_role_arn"]} & arns))
        if what == "operator_roles":
            if method == "GET":
                prefix = q.get("prefix")
                items = [r for r in self.roles.values() if r["type"] == "operator"
                         and (not prefix or r["prefix"] == prefix)]
                return 200, {"items": copy.deepcopy(items)}, {}
            if method == "POST":
                data = _parse_body(body)
                prefix = data.get("prefix")
                if not isinstance(prefix, str) or not prefix:
                    raise _bad("The operator role prefix is required")
                if len(prefix) > 32:
                    raise _bad(f"Expected a prefix with no more than 32 characters, got '{prefix}'")
                if not re.match(r"^[\w+=,.@-]+$", prefix):
                    raise _bad(f"Invalid operator role prefix '{prefix}'")
                oidc_id = data.get("oidc_config_id") or ""
                if oidc_id and self._oidc_config(oidc_id) is None:
                    raise _bad(f"OIDC config '{oidc_id}' not found")
                created = 0
                now = time.time()
                for ns, n in HCP_OPERATOR_ROLES:
                    name = operator_role_name(prefix, ns, n)
                    if name in self.roles:
                        continue
                    created += 1
                    self.roles[name] = {
                        "name": name, "arn": self._role_arn(name), "type": "operator", "prefix": prefix,
                        "namespace": ns, "operator_name": n, "hcp": True, "managed_policies": True,
                        "version": self.default_version.rsplit(".", 1)[0], "oidc_config_id": oidc_id,
                        "installer_role_arn": data.get("installer_role_arn") or "",
                        "tags": {"rosa_hcp_policies": "true", "rosa_managed_policies": "true",
                                 "operator_namespace": ns, "operator_name": n, "rosa_role_prefix": prefix,
                                 "red-hat-managed": "true"},
                        "creation_timestamp": _ts(now)}
                if created:
                    self._wake.set()
                return (201 if created else 200), {"items": copy.deepcopy(self.operator_roles(prefix))}, {}
            if method == "DELETE":
                prefix = q.get("prefix") or ""
                return self._delete_roles("operator", prefix, [r["name"] for r in self.operator_roles(prefix)],
                                          lambda sts: sts["operator_role_prefix"] == prefix)
        if what == "oidc_providers":
            if method == "GET":
                return 200, {"items": copy.deepcopy(list(self.oidc_providers.values()))}, {}
            if method == "POST":
                data = _parse_body(body)
                url = self._issuer_from(data.get("issuer_url"), data.get("oidc_config_id"))
                prov, created = self._add_oidc_provider(url)
                if created:
                    self._wake.set()
                return (201 if created else 200), copy.deepcopy(prov), {}
            if method == "DELETE":
                url = self._issuer_from(q.get("issuer_url"), q.get("oidc_config_id")).rstrip("/")
                if url not in self.oidc_providers:
                    return _aws_error(404, "NoSuchEntity", f"There is no OIDC provider for '{url}'")
                del self.oidc_providers[url]
                return 204, b"", {}
        return _aws_error(404 if method in ("GET", "POST", "DELETE") else 405, "NotFound",
                          f"{method} /sim/aws/{what} is not supported")

    def _issuer_from(self, issuer_url: Any, oidc_config_id: Any) -> str:
        if isinstance(issuer_url, str) and issuer_url.startswith("https://"):
            return issuer_url.rstrip("/")
        if isinstance(oidc_config_id, str) and oidc_config_id:
            oc = self._oidc_config(oidc_config_id)
            if oc is None:
                raise OcmError(404, f"OIDC config '{oidc_config_id}' not found")
            return oc["issuer_url"].rstrip("/")
        raise _bad("issuer_url (https://...) or oidc_config_id is required")

    # ------------------------------------------------------------ OIDC configs
    def _oidc_config(self, oid: str) -> dict | None:
        if self.ocm is None:
            return None
        return self.ocm._oidc_by_id.get(oid)

    def _set_oidc_configs(self, configs: list[dict]) -> None:
        self.ocm.oidc_configs = list(configs)
        self.ocm._oidc_by_id = {c["id"]: c for c in configs}

    def _oidc_post(self, body: bytes) -> tuple[int, Any, dict]:
        data = _parse_body(body)
        managed = data.get("managed", False)   # the API's default; `rosa create oidc-config --managed` sends true
        if not isinstance(managed, bool):
            raise _bad("Attribute 'managed' must be a boolean")
        oid = new_ocm_id()
        if managed:
            obj = make_oidc_config(id=oid, managed=True, region=self.region, organization_id=self.organization_id,
                                   aws_account=self.account_id)
        else:
            issuer = data.get("issuer_url")
            secret_arn = data.get("secret_arn")
            installer = data.get("installer_role_arn")
            for key, value in (("issuer_url", issuer), ("secret_arn", secret_arn),
                               ("installer_role_arn", installer)):
                if not isinstance(value, str) or not value:
                    raise _bad(f"Attribute '{key}' is required for an unmanaged OIDC config")
            if not issuer.startswith("https://"):
                raise _bad(f"Issuer URL '{issuer}' must use https")
            obj = make_oidc_config(id=oid, managed=False, region=self.region, organization_id=self.organization_id,
                                   aws_account=self.account_id, installer_role_arn=installer)
            obj["issuer_url"] = issuer.rstrip("/")
            obj["secret_arn"] = secret_arn
        self.created_oidc.append(obj)
        self._set_oidc_configs(self.ocm.oidc_configs + [obj])
        log.info("OIDC config %s created (%s)", oid, obj["issuer_url"])
        return 201, copy.deepcopy(obj), {"Location": obj["href"]}

    def _oidc_delete(self, oid: str) -> tuple[int, Any, dict]:
        if self._oidc_config(oid) is None:
            raise OcmError(404, f"OidcConfig with id '{oid}' not found")
        users = [c["name"] for c in self.clusters.values() if c["sts"]["oidc_config"]["id"] == oid]
        if users:
            raise _bad(f"OIDC config '{oid}' is in use by cluster(s) {', '.join(repr(u) for u in users)}")
        self._set_oidc_configs([c for c in self.ocm.oidc_configs if c["id"] != oid])
        if any(c["id"] == oid for c in self.created_oidc):
            self.created_oidc = [c for c in self.created_oidc if c["id"] != oid]
        else:
            self.deleted_oidc.append(oid)
        log.info("OIDC config %s deleted", oid)
        return 204, b"", {}

    # ---------------------------------------------------------------- OCM API
    def handle_ocm(self, method: str, rest: list[str], query: dict[str, list[str]], headers: dict,
                   body: bytes) -> tuple[int, Any, dict] | None:
        """Requests of the OCM API for ROSA (``rest``: the path after /api/clusters_mgmt/v1, split); None when
        :mod:`sim.ocm` answers them itself."""
        try:
            with self._lock:
                return self._handle_ocm(method, rest, query, headers, body)
        except OcmError as exc:
            self.ocm._count("bad_request" if exc.status == 400 else "not_found" if exc.status == 404 else "error")
            return exc.status, self.ocm.error(exc.status, exc.reason), {}

    def _page(self, query: dict, items: list[dict], kind: str) -> tuple[int, Any, dict]:
        fields = set().union(*(_paths(i) for i in items)) if items else {"id", "name"}
        return self.ocm._page(query, items, fields | {"id", "name", "state"}, kind)

    def _handle_ocm(self, method: str, rest: list[str], query: dict, headers: dict,
                    body: bytes) -> tuple[int, Any, dict] | None:
        n = len(rest)
        if n == 0:
            return None
        top = rest[0]
        if top == "oidc_configs":
            if n == 1 and method == "POST":
                return self._oidc_post(body)
            if n == 2 and method == "DELETE":
                return self._oidc_delete(rest[1])
            return None
        if top == "addons":
            catalogue = [self._addon_json(a) for a in ADDONS]
            if n == 1 and method == "GET":
                return self._page(query, catalogue, "AddOnList")
            if n == 2 and method == "GET":
                found = next((a for a in catalogue if a["id"] == rest[1]), None)
                if found is None:
                    raise OcmError(404, f"Add-on '{rest[1]}' not found")
                return 200, found, {}
            return None
        if top != "clusters":
            return None
        if n == 1:
            if method == "POST":
                return self._create_cluster(headers, body)
            if method in ("GET", "HEAD"):
                self.ocm._count("list")
                items = list(self.ocm.clusters) + [self.cluster_json(r) for r in self.clusters.values()]
                fields = set(self.ocm._fields)
                for r in items[len(self.ocm.clusters):]:
                    fields |= _paths(r)
                return self.ocm._page(query, items, fields, "ClusterList")
            return None
        rec = self.clusters.get(rest[1])
        if rec is None:
            return None   # sim.ocm: another cluster of the organisation, or 404
        if n == 2:
            if method in ("GET", "HEAD"):
                self.ocm._count("cluster")
                return 200, self.cluster_json(rec), {}
            if method == "DELETE":
                self._request_delete(rec, "Cluster deletion requested")
                return 204, b"", {}
            if method == "PATCH":
                return self._patch_cluster(rec, body)
            raise OcmError(405, f"Method '{method}' isn't supported for path '{CLUSTERS_PATH}/{rec['id']}'")
        sub = rest[2]
        if sub == "status" and n == 3 and method in ("GET", "HEAD"):
            self.ocm._count("status")
            st = self.cluster_json(rec)["status"]
            st.update({"id": rec["id"], "href": f"{self._href(rec)}/status"})
            return 200, st, {}
        if sub == "credentials" and n == 3:
            raise OcmError(403, f"User '{self.ocm.username}' is not authorized to get the credentials of cluster "
                                f"'{rec['id']}': ROSA clusters have no admin kubeconfig in OCM")
        if sub == "logs" and n == 4 and method == "GET":
            return self._logs(rec, rest[3], query)
        if sub == "node_pools":
            return self._node_pools(rec, method, rest[3:], query, body)
        if sub == "addons":
            return self._addons(rec, method, rest[3:], query, headers, body)
        if sub == "identity_providers":
            return self._idps(rec, method, rest[3:], query, body)
        if sub == "groups":
            return self._groups(rec, method, rest[3:], query, body)
        raise OcmError(404, f"Can't find resource for path '{CLUSTERS_PATH}/{'/'.join(rest[1:])}'")

    # ------------------------------------------------------------- clusters
    def _href(self, rec: dict) -> str:
        return f"{CLUSTERS_PATH}/{rec['id']}"

    def _all_names(self) -> set[str]:
        names = {c.get("name") for c in self.ocm.clusters} if self.ocm is not None else set()
        return names | {r["name"] for r in self.clusters.values()}

    def _create_cluster(self, headers: dict, body: bytes) -> tuple[int, Any, dict]:
        data = _parse_body(body)
        hdr = {k.lower(): v for k, v in headers.items()}
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _bad("Cluster name is required")
        if len(name) > 54:
            raise _bad(f"Cluster name '{name}' is longer than 54 characters")
        if not NAME_RE.match(name):
            raise _bad(f"Cluster name '{name}' is not valid: it must consist of lower-case alphanumeric characters "
                       f"or '-', start with a letter and end with an alphanumeric character")
        if name in self._all_names():
            raise _bad(f"Cluster name '{name}' already exists")
        product = ((data.get("product") or {}).get("id") if isinstance(data.get("product"), dict) else None) or "rosa"
        if product != "rosa":
            raise _bad(f"Product '{product}' is not supported: only 'rosa' clusters can be created")
        provider = ((data.get("cloud_provider") or {}).get("id")
                    if isinstance(data.get("cloud_provider"), dict) else None) or "aws"
        if provider != "aws":
            raise _bad(f"Cloud provider '{provider}' is not supported for ROSA")
        if not (isinstance(data.get("hypershift"), dict) and data["hypershift"].get("enabled") is True):
            raise _bad("Only ROSA with hosted control planes is available: set 'hypershift.enabled' to true")
        region = (data.get("region") or {}).get("id") if isinstance(data.get("region"), dict) else None
        if not region:
            raise _bad("Region is required")
        if region != self.region:
            raise _bad(f"Region '{region}' is not supported: the AWS account's VPC is in region '{self.region}'")
        # version
        ver = data.get("version") if isinstance(data.get("version"), dict) else {}
        vid = ver.get("id") or ""
        raw = vid[len("openshift-v"):] if vid.startswith("openshift-v") else vid
        raw = raw or self.default_version
        channel = ver.get("channel_group") or "stable"
        if not re.match(r"^\d+\.\d+\.\d+([-.][\w.-]+)?$", raw) or \
                ".".join(raw.split(".")[:2]) not in self.supported_versions:
            raise _bad(f"Version '{vid or raw}' is not supported for hosted control planes")
        if channel not in CHANNEL_GROUPS:
            raise _bad(f"Channel group '{channel}' is not valid")
        # domain prefix
        prefix = data.get("domain_prefix")
        if prefix is not None and prefix != "":
            if not isinstance(prefix, str) or len(prefix) > 15 or not NAME_RE.match(prefix):
                raise _bad(f"Domain prefix '{prefix}' is not valid: at most 15 lower-case alphanumeric characters "
                           f"or '-', starting with a letter")
        else:
            prefix = name if len(name) <= 15 else \
                f"{name[:10].rstrip('-')}-{_rand('abcdefghijklmnopqrstuvwxyz0123456789', 4)}"
        # nodes
        nodes = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
        compute = nodes.get("compute", 2)
        if isinstance(compute, bool) or not isinstance(compute, int):
            raise _bad(f"The number of compute nodes must be an integer, got '{compute}'")
        if compute < 2:
            raise _bad(f"Hosted control plane clusters require a minimum of 2 compute nodes, but {compute} was "
                       f"requested")
        mtype = ((nodes.get("compute_machine_type") or {}).get("id")
                 if isinstance(nodes.get("compute_machine_type"), dict) else None) or "m5.xlarge"
        if not isinstance(mtype, str) or not MACHINE_TYPE_RE.match(mtype):
            raise _bad(f"Machine type '{mtype}' is not supported")
        compute_labels = _string_map(nodes.get("compute_labels"), "nodes.compute_labels")
        # AWS
        aws = data.get("aws") if isinstance(data.get("aws"), dict) else {}
        listening = ((data.get("api") or {}).get("listening") if isinstance(data.get("api"), dict) else None) or \
            "external"
        if listening not in ("external", "internal"):
            raise _bad(f"API listening method '{listening}' is not valid")
        subnet_ids = aws.get("subnet_ids")
        if not subnet_ids:
            raise _bad("Hosted control plane clusters require a pre-configured VPC: specify the subnet IDs "
                       "(aws.subnet_ids)")
        if not isinstance(subnet_ids, list) or not all(isinstance(s, str) for s in subnet_ids):
            raise _bad("aws.subnet_ids must be a list of subnet IDs")
        subnets = []
        for sid in subnet_ids:
            s = self._subnet(sid)
            if s is None:
                raise _bad(f"Subnet '{sid}' does not exist in the VPC of AWS account '{self.account_id}' in region "
                           f"'{region}'")
            subnets.append(s)
        private = [s for s in subnets if not s["public"]]
        public = [s for s in subnets if s["public"]]
        if not private:
            raise _bad("Hosted control plane clusters need at least one private subnet")
        if listening == "external" and not public:
            raise _bad("The number of subnets for a public hosted cluster should be at least two: one private "
                       "and one public")
        azs = sorted({s["availability_zone"] for s in private})
        want_azs = nodes.get("availability_zones")
        if want_azs:
            if not isinstance(want_azs, list) or sorted(set(want_azs)) != azs:
                raise _bad(f"Availability zones {want_azs} do not match the zones of the private subnets {azs}")
        sts = aws.get("sts") if isinstance(aws.get("sts"), dict) else {}
        if sts.get("enabled") is not True:
            raise _bad("Hosted control plane clusters require STS: set 'aws.sts.enabled' to true")
        role_arns = {"role_arn": sts.get("role_arn"), "support_role_arn": sts.get("support_role_arn")}
        iir = sts.get("instance_iam_roles") if isinstance(sts.get("instance_iam_roles"), dict) else {}
        role_arns["worker_role_arn"] = iir.get("worker_role_arn")
        for key, label, rtype in (("role_arn", "installer", "Installer"), ("support_role_arn", "support", "Support"),
                                  ("worker_role_arn", "worker", "Worker")):
            arn = role_arns[key]
            if not isinstance(arn, str) or not arn:
                where = f"instance_iam_roles.{key}" if rtype == "Worker" else key
                raise _bad(f"The {label} role ARN is required (aws.sts.{where})")
            role = next((r for r in self.roles.values() if r["arn"] == arn), None)
            if role is None or role["type"] != "account":
                raise _bad(f"Role '{arn}' does not exist in AWS account '{self.account_id}'")
            if role["role_type"] != rtype:
                raise _bad(f"Role '{arn}' is not an HCP {rtype} account role")
        op_prefix = sts.get("operator_role_prefix")
        if not isinstance(op_prefix, str) or not op_prefix:
            raise _bad("Operator role prefix is required (aws.sts.operator_role_prefix)")
        if len(op_prefix) > 32 or not re.match(r"^[\w+=,.@-]+$", op_prefix):
            raise _bad(f"Operator role prefix '{op_prefix}' is not valid: at most 32 characters of [\\w+=,.@-]")
        oidc_id = (sts.get("oidc_config") or {}).get("id") if isinstance(sts.get("oidc_config"), dict) else None
        if not oidc_id:
            raise _bad("OIDC configuration ID is required for hosted control planes (aws.sts.oidc_config.id)")
        oidc = self._oidc_config(oidc_id)
        if oidc is None:
            raise _bad(f"OIDC config '{oidc_id}' not found")
        tags = _string_map(aws.get("tags"), "aws.tags")
        properties = _string_map(data.get("properties"), "properties")
        expiration = None
        if data.get("expiration_timestamp"):
            expiration = _parse_ts(data["expiration_timestamp"])
            if expiration is None:
                raise _bad(f"Expiration timestamp '{data['expiration_timestamp']}' is not a valid RFC 3339 time")
            if expiration <= time.time():
                raise _bad(f"Expiration timestamp '{data['expiration_timestamp']}' must be in the future")
        env = (hdr.get("x-sim-ocm-env") or "production").strip().lower()
        env = {"prod": "production", "prd": "production", "stage": "staging", "stg": "staging",
               "int": "integration"}.get(env, env)
        if env not in ENVIRONMENTS:
            raise _bad(f"X-Sim-Ocm-Env: unknown OCM environment '{env}' (production, staging, integration)")
        faults = {}
        if hdr.get("x-sim-faults"):
            try:
                faults = ClusterFaults.parse(hdr["x-sim-faults"], name)
            except ValueError as exc:
                raise _bad(str(exc)) from None
        # accepted
        now = time.time()
        cid = new_ocm_id()
        while cid in self.clusters:
            cid = new_ocm_id()
        ns = f"ocm-{env}-{cid}"
        shard = _rand("abcdefghijklmnopqrstuvwxyz0123456789", 4)
        rec = {
            "id": cid, "name": name, "env": env, "namespace": ns, "created": now,
            "external_id": str(uuid.uuid4()), "infra_id": f"{name[:21].rstrip('-')}-"
                                                          f"{_rand('abcdefghijklmnopqrstuvwxyz0123456789', 5)}",
            "domain_prefix": prefix, "base_domain": f"{shard}.p3.openshiftapps.com",
            "version": raw, "channel_group": channel, "region": region,
            "multi_az": bool(data.get("multi_az", True)), "compute": compute, "machine_type": mtype,
            "availability_zones": azs, "compute_labels": compute_labels, "subnet_ids": list(subnet_ids),
            "private_subnets": [s["subnet_id"] for s in private], "listening": listening,
            "sts": {"role_arn": role_arns["role_arn"], "support_role_arn": role_arns["support_role_arn"],
                    "worker_role_arn": role_arns["worker_role_arn"], "operator_role_prefix": op_prefix,
                    "oidc_config": {"id": oidc_id, "issuer_url": oidc["issuer_url"], "managed": oidc["managed"],
                                    "reusable": oidc.get("reusable", True)}},
            "tags": tags, "properties": properties, "expiration": expiration,
            "billing_account_id": aws.get("billing_account_id") or self.account_id,
            "subscription_id": new_ocm_id()[:27], "faults": faults,
            "state": "waiting", "state_time": now, "error_code": "", "error_message": "",
            "nodes_ready": 0, "due": {}, "hc": None, "hc_uid": "", "delete_requested": False,
            "deleting_hc": False, "log": [], "uninstall_log": [], "seen": {},
            "node_pools": {}, "addons": {}, "idps": {}, "groups": {g: [] for g in GROUPS},
        }
        rec["node_pools"]["workers"] = self._new_np(rec, "workers", replicas=compute, autoscaling=None,
                                                     instance_type=mtype, subnet=rec["private_subnets"][0],
                                                     labels=compute_labels, taints=[], auto_repair=True)
        self.clusters[cid] = rec
        self.faults.set_cluster(name, faults or None)
        self._record(rec, "waiting", now)
        log.info("ROSA cluster %s (%s) created in %s%s", name, cid, env,
                 f" with faults {sorted(faults)}" if faults else "")
        self._wake.set()
        return 201, self.cluster_json(rec), {"Location": self._href(rec)}

    def _patch_cluster(self, rec: dict, body: bytes) -> tuple[int, Any, dict]:
        data = _parse_body(body)
        if "expiration_timestamp" in data:
            exp = _parse_ts(data["expiration_timestamp"]) if data["expiration_timestamp"] else None
            if data["expiration_timestamp"] and exp is None:
                raise _bad(f"Expiration timestamp '{data['expiration_timestamp']}' is not a valid RFC 3339 time")
            rec["expiration"] = exp
        if isinstance(data.get("nodes"), dict) and "compute" in data["nodes"]:
            raise _bad("Hosted control plane clusters are scaled through their machine pools (node_pools)")
        self._wake.set()
        return 200, self.cluster_json(rec), {}

    def api_url(self, rec: dict) -> str:
        return f"{self.api_server.url}/guests/{rec['namespace']}/{rec['name']}"

    def _description(self, rec: dict) -> str:
        st = rec["state"]
        if st == "waiting":
            missing = self._prerequisites(rec)
            return ("Waiting for " + " and ".join(missing)) if missing else "Waiting for the account to be prepared"
        return {"pending": "Preparing account", "installing": "Installing cluster", "ready": "",
                "error": rec.get("error_message") or "", "uninstalling": "Uninstalling cluster"}.get(st, "")

    def cluster_json(self, rec: dict) -> dict:
        st = rec["state"]
        href = self._href(rec)
        raw = rec["version"]
        vid = f"openshift-v{raw}"
        oidc = rec["sts"]["oidc_config"]
        prefix = rec["sts"]["operator_role_prefix"]
        nodes_ready = int(rec.get("nodes_ready") or 0)
        mtype = rec["machine_type"]
        nodes = {"compute": rec["compute"],
                 "compute_machine_type": {"kind": "MachineTypeLink", "id": mtype,
                                          "href": f"{API_PREFIX}/machine_types/{mtype}"},
                 "availability_zones": list(rec["availability_zones"])}
        if rec["compute_labels"]:
            nodes["compute_labels"] = dict(rec["compute_labels"])
        obj = {
            "kind": "Cluster", "id": rec["id"], "href": href, "name": rec["name"], "display_name": rec["name"],
            "external_id": rec["external_id"], "domain_prefix": rec["domain_prefix"], "infra_id": rec["infra_id"],
            "creation_timestamp": _ts(rec["created"]), "activity_timestamp": _ts(rec.get("state_time") or
                                                                                rec["created"]),
        }
        if rec.get("expiration"):
            obj["expiration_timestamp"] = _ts_short(rec["expiration"])
        obj.update({
            "state": st,
            "status": {"kind": "ClusterStatus", "state": st, "description": self._description(rec),
                       "dns_ready": st in ("installing", "ready", "error", "uninstalling"),
                       "oidc_ready": st != "waiting",
                       "provision_error_code": rec.get("error_code") or "",
                       "provision_error_message": rec.get("error_message") or "",
                       "limited_support_reason_count": 0, "configuration_mode": "full",
                       "current_compute": nodes_ready},
            "openshift_version": raw,
            "version": {"kind": "Version", "id": vid, "href": f"{API_PREFIX}/versions/{vid}", "raw_id": raw,
                        "channel_group": rec["channel_group"]},
            "product": {"kind": "ProductLink", "id": "rosa", "href": f"{API_PREFIX}/products/rosa"},
            "cloud_provider": {"kind": "CloudProviderLink", "id": "aws", "href": f"{API_PREFIX}/cloud_providers/aws"},
            "region": {"kind": "CloudRegionLink", "id": rec["region"],
                       "href": f"{API_PREFIX}/cloud_providers/aws/regions/{rec['region']}"},
            "multi_az": rec["multi_az"], "managed": True, "ccs": {"enabled": True},
            "hypershift": {"enabled": True}, "billing_model": "standard",
            "dns": {"base_domain": rec["base_domain"]},
            "api": {"url": self.api_url(rec), "listening": rec["listening"]},
            "console": {"url": f"https://console-openshift-console.apps.rosa.{rec['domain_prefix']}."
                               f"{rec['base_domain']}"},
            "nodes": nodes,
            "network": {"type": "OVNKubernetes", "machine_cidr": "10.0.0.0/16", "service_cidr": "172.30.0.0/16",
                        "pod_cidr": "10.128.0.0/14", "host_prefix": 23},
            "aws": {"subnet_ids": list(rec["subnet_ids"]), "tags": dict(rec["tags"]), "private_link":
                    rec["listening"] == "internal", "billing_account_id": rec["billing_account_id"],
                    "sts": {"enabled": True, "role_arn": rec["sts"]["role_arn"],
                            "support_role_arn": rec["sts"]["support_role_arn"],
                            "instance_iam_roles": {"worker_role_arn": rec["sts"]["worker_role_arn"]},
                            "operator_role_prefix": prefix,
                            "oidc_config": {"kind": "OidcConfig", "id": oidc["id"],
                                            "href": f"{OIDC_CONFIGS_PATH}/{oidc['id']}",
                                            "issuer_url": oidc["issuer_url"], "managed": oidc["managed"],
                                            "reusable": oidc.get("reusable", True)},
                            "oidc_endpoint_url": oidc["issuer_url"], "managed_policies": True, "auto_mode": False,
                            "operator_iam_roles": [
                                {"name": n, "namespace": ns,
                                 "role_arn": self._role_arn(operator_role_name(prefix, ns, n))}
                                for ns, n in HCP_OPERATOR_ROLES]}},
            "properties": dict(rec["properties"]),
            "subscription": {"kind": "SubscriptionLink", "id": rec["subscription_id"],
                             "href": f"/api/accounts_mgmt/v1/subscriptions/{rec['subscription_id']}"},
            "delete_protection": {"enabled": False}, "etcd_encryption": False, "fips": False,
            "metrics": {"nodes": {"compute": nodes_ready}},
        })
        return obj

    # ------------------------------------------------------------------ logs
    def _log(self, rec: dict, message: str, when: float | str | None = None, which: str = "log") -> None:
        stamp = when if isinstance(when, str) else _ts_short(when if when is not None else time.time())
        lines = rec[which]
        lines.append(f"{stamp} {message}")
        if len(lines) > MAX_LOG_LINES:
            del lines[: len(lines) - MAX_LOG_LINES]

    def _logs(self, rec: dict, which: str, query: dict) -> tuple[int, Any, dict]:
        if which not in ("install", "uninstall"):
            raise OcmError(404, f"Log '{which}' not found")
        lines = rec["log"] if which == "install" else rec["uninstall_log"]
        if not lines or (which == "install" and rec["state"] == "waiting"):
            raise OcmError(404, f"The {which} logs of cluster '{rec['id']}' are not available yet")

        def integer(key: str) -> int:
            raw = (query.get(key) or [""])[-1].strip()
            try:
                return max(0, int(raw)) if raw else 0
            except ValueError:
                raise _bad(f"Value '{raw}' of parameter '{key}' isn't a valid integer") from None

        offset, tail = integer("offset"), integer("tail")
        chosen = lines[offset:]
        if tail:
            chosen = chosen[-tail:]
        return 200, {"kind": "Log", "id": which, "href": f"{self._href(rec)}/logs/{which}", "cluster_id": rec["id"],
                     "content": "".join(line + "\n" for line in chosen)}, {}

    # ------------------------------------------------------------ node pools
    def _new_np(self, rec: dict, np_id: str, *, replicas: int | None, autoscaling: dict | None, instance_type: str,
                subnet: str, labels: dict, taints: list, auto_repair: bool) -> dict:
        now = time.time()
        return {"id": np_id, "replicas": replicas, "autoscaling": autoscaling, "instance_type": instance_type,
                "subnet": subnet, "availability_zone": (self._subnet(subnet) or {}).get("availability_zone", ""),
                "labels": dict(labels), "taints": list(taints), "auto_repair": bool(auto_repair),
                "version": rec["version"], "created": now, "state": "pending", "message": "",
                "state_time": now, "current_replicas": 0, "hs_created": False, "deleting": False,
                "hs_synced": True}

    def np_json(self, rec: dict, np: dict) -> dict:
        href = f"{self._href(rec)}/node_pools/{np['id']}"
        vid = f"openshift-v{np['version']}"
        obj: dict[str, Any] = {"kind": "NodePool", "id": np["id"], "href": href}
        if np.get("autoscaling"):
            obj["autoscaling"] = {"kind": "NodePoolAutoscaling", "min_replica": np["autoscaling"]["min_replica"],
                                  "max_replica": np["autoscaling"]["max_replica"]}
        else:
            obj["replicas"] = np["replicas"]
        obj.update({
            "auto_repair": np["auto_repair"], "availability_zone": np["availability_zone"], "subnet": np["subnet"],
            "aws_node_pool": {"kind": "AWSNodePool", "instance_type": np["instance_type"],
                              "instance_profile": f"rosa-service-managed-{rec['id'][:8]}-{np['id']}",
                              "root_volume": {"size": 300}, "tags": dict(rec["tags"]),
                              "additional_security_group_ids": []},
            "labels": dict(np["labels"]), "taints": [dict(t) for t in np["taints"]],
            "version": {"kind": "VersionLink", "id": vid, "href": f"{API_PREFIX}/versions/{vid}",
                        "raw_id": np["version"]},
            "tuning_configs": [], "kubelet_configs": [],
            "node_drain_grace_period": {"value": 0, "unit": "minutes"},
            "management_upgrade": {"kind": "NodePoolManagementUpgrade", "type": "Replace", "max_surge": "1",
                                   "max_unavailable": "0"},
            "status": {"kind": "NodePoolStatus", "current_replicas": np["current_replicas"],
                       "message": np["message"],
                       "state": {"kind": "NodePoolState", "value": np["state"],
                                 "last_updated_timestamp": _ts(np["state_time"])}},
        })
        return obj

    @staticmethod
    def _parse_np_fields(data: dict, np: dict | None) -> dict:
        """The node pool fields of a POST/PATCH body (validated)."""
        out: dict[str, Any] = {}
        if "autoscaling" in data and data["autoscaling"] is not None:
            a = data["autoscaling"]
            if not isinstance(a, dict):
                raise _bad("Attribute 'autoscaling' must be an object")
            lo, hi = a.get("min_replica"), a.get("max_replica")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)) or lo < 1 or hi < lo:
                raise _bad(f"Autoscaling needs 1 <= min_replica <= max_replica, got {lo} and {hi}")
            out["autoscaling"] = {"min_replica": lo, "max_replica": hi}
            out["replicas"] = None
        if "replicas" in data and data["replicas"] is not None:
            r = data["replicas"]
            if isinstance(r, bool) or not isinstance(r, int) or r < 0:
                raise _bad(f"The number of machine pool replicas needs to be a non-negative integer, got '{r}'")
            if "autoscaling" in out:
                raise _bad("Attributes 'replicas' and 'autoscaling' are mutually exclusive")
            out["replicas"] = r
            out["autoscaling"] = None
        if "labels" in data:
            out["labels"] = _string_map(data["labels"], "labels")
        if "taints" in data:
            taints = data["taints"] or []
            if not isinstance(taints, list):
                raise _bad("Attribute 'taints' must be a list")
            clean = []
            for t in taints:
                if not isinstance(t, dict) or not isinstance(t.get("key"), str) or not t["key"]:
                    raise _bad("Every taint needs a 'key'")
                if t.get("effect") not in TAINT_EFFECTS:
                    raise _bad(f"Taint effect '{t.get('effect')}' is not valid: one of {', '.join(TAINT_EFFECTS)}")
                clean.append({"key": t["key"], "value": str(t.get("value") or ""), "effect": t["effect"]})
            out["taints"] = clean
        return out

    def _children(self, method: str, rest: list[str], query: dict, items: dict, render: Callable[[dict], dict], *,
                  list_kind: str, what: str, noun: str, create: Callable[[], tuple[int, Any, dict]],
                  ops: dict[str, Callable[[dict], tuple[int, Any, dict]]], where: str = "",
                  below: Callable[[dict, list[str]], tuple[int, Any, dict]] | None = None) -> tuple[int, Any, dict]:
        """A collection of a cluster (``items`` by ID): GET (a page of ``list_kind``) or POST (``create()``) on it,
        GET or one of ``ops`` on an item (``rest[0]``), ``below(item, rest[1:])`` for what is below one; 404
        (``<noun> '<id>' not found<where>``) for an unknown item and 405 (``... isn't supported for <what>``)."""
        if not rest:
            if method in ("GET", "HEAD"):
                return self._page(query, [render(x) for x in items.values()], list_kind)
            if method != "POST":
                raise OcmError(405, f"Method '{method}' isn't supported for {what}")
            return create()
        item = items.get(rest[0])
        if item is None or (len(rest) > 1 and below is None):
            raise OcmError(404, f"{noun} '{rest[0]}' not found{where}")
        if below is not None and len(rest) > 1:
            return below(item, rest[1:])
        if method in ("GET", "HEAD"):
            return 200, render(item), {}
        if method in ops:
            return ops[method](item)
        raise OcmError(405, f"Method '{method}' isn't supported for {what}")

    def _node_pools(self, rec: dict, method: str, rest: list[str], query: dict,
                    body: bytes) -> tuple[int, Any, dict]:
        return self._children(method, rest, query, rec["node_pools"], lambda np: self.np_json(rec, np),
                              list_kind="NodePoolList", what="node pools", noun="Node pool",
                              create=lambda: self._post_np(rec, body),
                              ops={"PATCH": lambda np: self._update_np(rec, np, body),
                                   "DELETE": lambda np: self._remove_np(rec, np)})

    def _post_np(self, rec: dict, body: bytes) -> tuple[int, Any, dict]:
        pools = rec["node_pools"]
        self._need_ready(rec, "machine pools can only be added to ready clusters")
        data = _parse_body(body)
        np_id = data.get("id")
        if not isinstance(np_id, str) or not np_id:
            raise _bad("Node pool ID is required (attribute 'id')")
        if len(np_id) > 15 or not NAME_RE.match(np_id):
            raise _bad(f"Node pool name '{np_id}' is not valid: at most 15 lower-case alphanumeric characters or "
                       f"'-', starting with a letter and ending with an alphanumeric character")
        if np_id in pools:
            raise _bad(f"Node pool '{np_id}' already exists on cluster '{rec['id']}'")
        fields = self._parse_np_fields(data, None)
        if "replicas" not in fields and "autoscaling" not in fields:
            raise _bad("Either 'replicas' or 'autoscaling' is required")
        anp = data.get("aws_node_pool") if isinstance(data.get("aws_node_pool"), dict) else {}
        itype = anp.get("instance_type") or "m5.xlarge"
        if not isinstance(itype, str) or not MACHINE_TYPE_RE.match(itype):
            raise _bad(f"Instance type '{itype}' is not supported")
        subnet = data.get("subnet") or rec["private_subnets"][0]
        if subnet not in rec["private_subnets"]:
            raise _bad(f"Subnet '{subnet}' is not one of the private subnets of cluster '{rec['id']}': "
                       f"{', '.join(rec['private_subnets'])}")
        az = data.get("availability_zone")
        if az and az != (self._subnet(subnet) or {}).get("availability_zone"):
            raise _bad(f"Availability zone '{az}' does not match subnet '{subnet}'")
        version = ((data.get("version") or {}).get("id") if isinstance(data.get("version"), dict) else "") or ""
        raw = version[len("openshift-v"):] if version.startswith("openshift-v") else version
        if raw and raw != rec["version"]:
            raise _bad(f"Version '{version}' is not available for node pools of cluster '{rec['id']}' "
                       f"(control plane version {rec['version']})")
        np = self._new_np(rec, np_id, replicas=fields.get("replicas"), autoscaling=fields.get("autoscaling"),
                          instance_type=itype, subnet=subnet, labels=fields.get("labels") or {},
                          taints=fields.get("taints") or [], auto_repair=data.get("auto_repair", True) is not False)
        pools[np_id] = np
        self._log(rec, f"Node pool '{np_id}' requested")
        self._wake.set()
        return 201, self.np_json(rec, np), {"Location": f"{self._href(rec)}/node_pools/{np_id}"}

    def _update_np(self, rec: dict, np: dict, body: bytes) -> tuple[int, Any, dict]:
        if np["deleting"]:
            raise _bad(f"Node pool '{np['id']}' is being deleted")
        fields = self._parse_np_fields(_parse_body(body), np)
        np.update(fields)
        np["hs_synced"] = False
        if "replicas" in fields or "autoscaling" in fields:
            self._np_state(np, "updating" if np["hs_created"] else np["state"])
        self._wake.set()
        return 200, self.np_json(rec, np), {}

    def _remove_np(self, rec: dict, np: dict) -> tuple[int, Any, dict]:
        if not np["deleting"]:
            np["deleting"] = True
            self._np_state(np, "uninstalling")
            self._log(rec, f"Node pool '{np['id']}' deletion requested")
            self._wake.set()
        return 204, b"", {}

    @staticmethod
    def _np_state(np: dict, state: str, message: str | None = None) -> None:
        if np["state"] != state:
            np["state"] = state
            np["state_time"] = time.time()
        if message is not None:
            np["message"] = message

    # --------------------------------------------------------------- add-ons
    @staticmethod
    def _addon_json(a: dict) -> dict:
        return {"kind": "AddOn", "id": a["id"], "href": f"{API_PREFIX}/addons/{a['id']}", "name": a["name"],
                "description": a["description"], "enabled": True, "install_mode": a["install_mode"],
                "target_namespace": a["target_namespace"], "operator_name": a["operator_name"],
                "resource_name": "addon", "resource_cost": 0,
                "version": {"kind": "AddOnVersion", "id": a["version"],
                            "href": f"{API_PREFIX}/addons/{a['id']}/versions/{a['version']}"},
                "parameters": {"items": [dict(p) for p in a["parameters"]]}}

    def addon_json(self, rec: dict, inst: dict) -> dict:
        a = next(x for x in ADDONS if x["id"] == inst["id"])
        return {"kind": "AddOnInstallation", "id": inst["id"], "href": f"{self._href(rec)}/addons/{inst['id']}",
                "addon": {"kind": "AddOnLink", "id": inst["id"], "href": f"{API_PREFIX}/addons/{inst['id']}"},
                "addon_version": {"kind": "AddOnVersionLink", "id": a["version"],
                                  "href": f"{API_PREFIX}/addons/{a['id']}/versions/{a['version']}"},
                "cluster": {"kind": "ClusterLink", "id": rec["id"], "href": self._href(rec)},
                "state": inst["state"], "state_description": inst["description"],
                "operator_version": a["version"], "csv_name": f"{a['operator_name']}.v{a['version']}",
                "parameters": {"items": [{"id": k, "value": v} for k, v in inst["parameters"].items()]},
                "creation_timestamp": _ts(inst["created"]), "updated_timestamp": _ts(inst["updated"])}

    def _addons(self, rec: dict, method: str, rest: list[str], query: dict, headers: dict,
                body: bytes) -> tuple[int, Any, dict]:
        return self._children(method, rest, query, rec["addons"], lambda i: self.addon_json(rec, i),
                              list_kind="AddOnInstallationList", what="add-on installations",
                              noun="Add-on installation", where=f" on cluster '{rec['id']}'",
                              create=lambda: self._install_addon(rec, headers, body),
                              ops={"DELETE": self._delete_addon})

    def _install_addon(self, rec: dict, headers: dict, body: bytes) -> tuple[int, Any, dict]:
        insts = rec["addons"]
        data = _parse_body(body)
        aid = (data.get("addon") or {}).get("id") if isinstance(data.get("addon"), dict) else data.get("id")
        if not isinstance(aid, str) or not aid:
            raise _bad("Add-on ID is required (attribute 'addon.id')")
        addon = next((a for a in ADDONS if a["id"] == aid), None)
        if addon is None:
            raise _bad(f"Add-on '{aid}' does not exist")
        self._need_ready(rec, "add-ons can only be installed on ready clusters")
        if aid in insts:
            raise _bad(f"Add-on '{aid}' is already installed on cluster '{rec['id']}'")
        params = data.get("parameters") or {}
        if isinstance(params, dict) and isinstance(params.get("items"), list):
            try:
                params = {str(p["id"]): str(p.get("value", "")) for p in params["items"]}
            except (TypeError, KeyError):
                raise _bad("Every add-on parameter needs an 'id'") from None
        elif isinstance(params, dict):
            params = {str(k): str(v) for k, v in params.items()}
        else:
            raise _bad("Attribute 'parameters' must be an object")
        known = {p["id"] for p in addon["parameters"]}
        unknown = sorted(set(params) - known)
        if unknown:
            raise _bad(f"Add-on '{aid}' has no parameter(s) {', '.join(repr(u) for u in unknown)}")
        hdr = {k.lower(): v for k, v in headers.items()}
        fail = self.faults.addons_fail(rec["name"])
        if hdr.get("x-sim-faults"):
            try:
                fail = fail or bool(ClusterFaults.parse(hdr["x-sim-faults"], rec["name"]).get("fail_addons"))
            except ValueError as exc:
                raise _bad(str(exc)) from None
        now = time.time()
        insts[aid] = {"id": aid, "parameters": params, "state": "installing", "description": "",
                      "created": now, "updated": now, "due": self._later(ADDON_INSTALL), "fail": fail}
        self._log(rec, f"Add-on '{aid}' installation requested")
        self._wake.set()
        return 201, self.addon_json(rec, insts[aid]), {"Location": f"{self._href(rec)}/addons/{aid}"}

    def _delete_addon(self, inst: dict) -> tuple[int, Any, dict]:
        if inst["state"] != "deleting":
            inst.update(state="deleting", description="", updated=time.time(), due=self._later(ADDON_DELETE))
            self._wake.set()
        return 204, b"", {}

    # ------------------------------------------------------------------ IDPs
    def idp_json(self, rec: dict, idp: dict) -> dict:
        return {"kind": "IdentityProvider", "type": idp["type"], "id": idp["id"],
                "href": f"{self._href(rec)}/identity_providers/{idp['id']}", "name": idp["name"],
                "mapping_method": idp["mapping_method"], "htpasswd": {}}

    def _user_json(self, rec: dict, idp: dict, user: dict) -> dict:
        return {"kind": "HTPasswdUser", "id": user["id"],
                "href": f"{self._href(rec)}/identity_providers/{idp['id']}/htpasswd_users/{user['id']}",
                "username": user["username"]}

    def _parse_user(self, u: Any) -> dict:
        if not isinstance(u, dict) or not isinstance(u.get("username"), str) or not u["username"]:
            raise _bad("Every htpasswd user needs a 'username'")
        if not re.match(r"^[^/:%~\s]+$", u["username"]):
            raise _bad(f"Username '{u['username']}' is not valid")
        user = {"id": _rand(ID_ALPHABET, 32), "username": u["username"],
                "active_at": self._later(USER_ACTIVE)}
        if isinstance(u.get("hashed_password"), str) and u["hashed_password"]:
            if not _valid_hash(u["hashed_password"]):
                raise _bad(f"The hashed password of user '{u['username']}' is not a bcrypt, SHA-crypt or {{SHA}} "
                           f"hash")
            user["hashed_password"] = u["hashed_password"]
        elif isinstance(u.get("password"), str) and u["password"]:
            user["password"] = u["password"]
        else:
            raise _bad(f"User '{u['username']}' needs a 'password' or a 'hashed_password'")
        return user

    def _need_ready(self, rec: dict, what: str) -> None:
        if rec["state"] != "ready":
            raise _bad(f"Cluster '{rec['name']}' is not ready (state '{rec['state']}'): {what}")

    def _idps(self, rec: dict, method: str, rest: list[str], query: dict, body: bytes) -> tuple[int, Any, dict]:
        idps = rec["idps"]

        def delete(idp: dict) -> tuple[int, Any, dict]:
            del idps[idp["id"]]
            return 204, b"", {}

        return self._children(method, rest, query, idps, lambda i: self.idp_json(rec, i),
                              list_kind="IdentityProviderList", what="identity providers", noun="Identity provider",
                              create=lambda: self._create_idp(rec, body), ops={"DELETE": delete},
                              below=lambda idp, sub: self._htpasswd_users(rec, idp, method, sub, query, body))

    def _create_idp(self, rec: dict, body: bytes) -> tuple[int, Any, dict]:
        idps = rec["idps"]
        self._need_ready(rec, "identity providers can only be added to ready clusters")
        data = _parse_body(body)
        name = data.get("name")
        if not isinstance(name, str) or not name or not re.match(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$", name):
            raise _bad(f"Identity provider name '{name}' is not valid")
        if any(i["name"] == name for i in idps.values()):
            raise _bad(f"Identity provider named '{name}' already exists on cluster '{rec['id']}'")
        itype = data.get("type") or "HTPasswdIdentityProvider"
        if itype != "HTPasswdIdentityProvider":
            raise _bad(f"Identity provider type '{itype}' is not simulated: only HTPasswdIdentityProvider")
        mapping = data.get("mapping_method") or "claim"
        if mapping not in ("claim", "add", "generate", "lookup"):
            raise _bad(f"Mapping method '{mapping}' is not valid")
        ht = data.get("htpasswd") if isinstance(data.get("htpasswd"), dict) else {}
        users_in = ht.get("users")
        if isinstance(users_in, dict):
            users_in = users_in.get("items")
        if users_in is None and (ht.get("username") or ht.get("password")):
            users_in = [{"username": ht.get("username"), "password": ht.get("password")}]
        if not isinstance(users_in, list) or not users_in:
            raise _bad("An htpasswd identity provider needs at least one user (htpasswd.users.items)")
        users = [self._parse_user(u) for u in users_in]
        if len({u["username"] for u in users}) != len(users):
            raise _bad("Usernames must be unique")
        idp = {"id": _rand(ID_ALPHABET, 32), "name": name, "type": itype, "mapping_method": mapping,
               "users": users, "created": time.time()}
        idps[idp["id"]] = idp
        self._log(rec, f"Identity provider '{name}' added with user(s) "
                       f"{', '.join(repr(u['username']) for u in users)}")
        return 201, self.idp_json(rec, idp), {"Location": f"{self._href(rec)}/identity_providers/{idp['id']}"}

    def _htpasswd_users(self, rec: dict, idp: dict, method: str, rest: list[str], query: dict,
                        body: bytes) -> tuple[int, Any, dict]:
        if rest[0] != "htpasswd_users":
            raise OcmError(404, f"Can't find resource '{rest[0]}'")

        def create() -> tuple[int, Any, dict]:
            self._need_ready(rec, "users can only be added to ready clusters")
            user = self._parse_user(_parse_body(body))
            if any(u["username"] == user["username"] for u in idp["users"]):
                raise _bad(f"User '{user['username']}' already exists in identity provider '{idp['name']}'")
            idp["users"].append(user)
            return 201, self._user_json(rec, idp, user), {}

        def delete(user: dict) -> tuple[int, Any, dict]:
            idp["users"] = [u for u in idp["users"] if u is not user]
            return 204, b"", {}

        return self._children(method, rest[1:], query, {u["id"]: u for u in idp["users"]},
                              lambda u: self._user_json(rec, idp, u), list_kind="HTPasswdUserList",
                              what="htpasswd users", noun="HTPasswd user", create=create, ops={"DELETE": delete})

    # ---------------------------------------------------------------- groups
    def _groups(self, rec: dict, method: str, rest: list[str], query: dict, body: bytes) -> tuple[int, Any, dict]:
        href = f"{self._href(rec)}/groups"

        def user_obj(gid: str, uid: str) -> dict:
            return {"kind": "User", "id": uid, "href": f"{href}/{gid}/users/{uid}"}

        def group_obj(gid: str) -> dict:
            items = [user_obj(gid, u) for u in rec["groups"][gid]]
            return {"kind": "Group", "id": gid, "href": f"{href}/{gid}",
                    "users": {"kind": "UserList", "href": f"{href}/{gid}/users", "items": items}}

        if not rest:
            if method not in ("GET", "HEAD"):
                raise OcmError(405, f"Method '{method}' isn't supported for groups")
            return self._page(query, [group_obj(g) for g in GROUPS], "GroupList")
        gid = rest[0]
        if gid not in GROUPS:
            raise OcmError(404, f"Group '{gid}' not found")
        if len(rest) == 1:
            return 200, group_obj(gid), {}
        if rest[1] != "users":
            raise OcmError(404, f"Can't find resource '{rest[1]}'")
        members = rec["groups"][gid]
        if len(rest) == 2:
            if method in ("GET", "HEAD"):
                return self._page(query, [user_obj(gid, u) for u in members], "UserList")
            if method == "POST":
                self._need_ready(rec, "users can only be added to ready clusters")
                uid = _parse_body(body).get("id")
                if not isinstance(uid, str) or not uid:
                    raise _bad("User ID is required (attribute 'id')")
                if uid in members:
                    raise _bad(f"User '{uid}' is already a member of group '{gid}'")
                members.append(uid)
                self._log(rec, f"User '{uid}' added to group '{gid}'")
                return 201, user_obj(gid, uid), {"Location": f"{href}/{gid}/users/{uid}"}
            raise OcmError(405, f"Method '{method}' isn't supported for group users")
        uid = rest[2]
        if uid not in members or len(rest) > 3:
            raise OcmError(404, f"User '{uid}' not found in group '{gid}'")
        if method in ("GET", "HEAD"):
            return 200, user_obj(gid, uid), {}
        if method == "DELETE":
            members.remove(uid)
            return 204, b"", {}
        raise OcmError(405, f"Method '{method}' isn't supported for group users")

    # ------------------------------------------------------------- lifecycle
    def _record(self, rec: dict, state: str, t: float) -> None:
        if self.transitions is None:
            return
        try:
            self.transitions.record({"cluster": rec["name"], "namespace": rec["namespace"], "uid": rec["id"],
                                     "phase": f"rosa_{state}", "time": _ts_short(t), "ts": round(t, 6)})
        except Exception:  # pragma: no cover - the ground truth must not stop the service
            log.exception("transition of %s", rec["name"])

    def _set_state(self, rec: dict, state: str, t: float | None = None, note: str = "") -> None:
        if rec["state"] == state:
            return
        t = time.time() if t is None else t
        rec["state"] = state
        rec["state_time"] = t
        which = "uninstall_log" if state == "uninstalling" else "log"
        self._log(rec, f"Cluster state changed to '{state}'" + (f": {note}" if note else ""), t, which)
        self._record(rec, state, t)
        log.info("ROSA cluster %s (%s): %s%s", rec["name"], rec["id"], state, f" ({note})" if note else "")

    def _request_delete(self, rec: dict, why: str) -> None:
        if rec["delete_requested"]:
            return
        rec["delete_requested"] = True
        self._log(rec, why, which="uninstall_log")
        self._set_state(rec, "uninstalling")
        rec["due"]["gone"] = self._later(UNINSTALL_WITHOUT_HC)
        for np in rec["node_pools"].values():
            self._np_state(np, "uninstalling")
        self._wake.set()

    def _run(self) -> None:
        tick = min(1.0, max(0.1, 30.0 / self.speed))
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._step()
            except Exception:
                self.errors += 1
                log.exception("ROSA service step")

    def _kube_clients(self):
        if self._kube is None:
            from kubernetes import client as k8s
            from kubernetes import config as k8s_config

            cfg = k8s.Configuration()
            k8s_config.load_kube_config(config_file=str(self.world.kubeconfig_path), client_configuration=cfg)
            api = k8s.ApiClient(cfg)
            api.user_agent = SERVICE_USER_AGENT
            self._kube = (api, k8s.CoreV1Api(api), k8s.CustomObjectsApi(api))
        return self._kube

    def _list(self, plural: str) -> dict[tuple, dict]:
        """The HostedClusters / NodePools of ROSA clusters, by (namespace, name)."""
        if not self.external_mgmt:
            items = self.api_server.store.list(f"{plural}.{GROUP}", label_selector=LABEL_ID)
        else:
            _, _, custom = self._kube_clients()
            items = custom.list_cluster_custom_object(GROUP, VERSION, plural, label_selector=LABEL_ID,
                                                      _request_timeout=(5, 30)).get("items") or []
        return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in items}

    @staticmethod
    def _needs_kube(rec: dict) -> bool:
        if rec["state"] in ("installing", "uninstalling"):
            return True
        if rec["state"] == "ready":
            return any(np["state"] != "ready" or not np["hs_synced"] or np["deleting"]
                       for np in rec["node_pools"].values())
        if rec["state"] == "error":
            return any(not np["hs_synced"] or np["deleting"] for np in rec["node_pools"].values())
        return False

    def _step(self) -> None:
        now = time.time()
        with self._lock:
            recs = list(self.clusters.values())
            need = any(self._needs_kube(r) for r in recs)
        hcs = self._list("hostedclusters") if need else None   # None: not looked at in this step
        nps = self._list("nodepools") if need else None
        with self._lock:
            for rec in recs:
                if rec["id"] not in self.clusters:
                    continue
                try:
                    self._advance(rec, now, hcs, nps)
                except Exception as exc:
                    self.errors += 1
                    log.warning("ROSA cluster %s: %s (retrying)", rec["name"], exc, exc_info=True)
            self._tick_addons(now)

    def _advance(self, rec: dict, now: float, hcs: dict | None, nps: dict | None) -> None:
        state = rec["state"]
        if state != "uninstalling" and rec.get("expiration") and now >= rec["expiration"]:
            self._request_delete(rec, f"Cluster expired at {_ts_short(rec['expiration'])}")
            state = rec["state"]
        key = (rec["namespace"], rec["name"])
        hc = hcs.get(key) if hcs is not None else None
        if state == "waiting":
            missing = self._prerequisites(rec)
            if missing:
                rec["due"].pop("pending", None)
                return
            due = rec["due"].setdefault("pending", self._later(WAITING_TO_PENDING))
            if now >= due:
                self._log(rec, "Operator roles and OIDC provider found", now)
                self._set_state(rec, "pending", now)
                rec["due"]["install"] = self._later(PENDING)
            return
        if state == "pending":
            if now >= rec["due"].get("install", 0):
                self._create_objects(rec)
                self._set_state(rec, "installing", time.time(), "HostedCluster created")
            return
        if hcs is None or nps is None:
            return   # nothing to look at for this cluster (see _needs_kube)
        if state == "uninstalling":
            self._uninstall(rec, now, hc, nps)
            return
        # installing, ready, error: the HostedCluster exists (or should)
        if hc is None:
            if state != "error":
                self._fail(rec, "The HostedCluster of the cluster was deleted outside OCM")
            return
        self._observe_hc(rec, hc)
        self._sync_pools(rec, nps)
        if state == "installing":
            failure = self._hc_failure(hc)
            if failure is not None:
                self._fail(rec, failure)
                return
            hist = ((hc.get("status") or {}).get("version") or {}).get("history") or []
            pools = [np for np in rec["node_pools"].values() if not np["deleting"]]
            if hist and hist[0].get("state") == "Completed" and all(np["state"] == "ready" for np in pools):
                self._set_state(rec, "ready", now)

    def _fail(self, rec: dict, message: str) -> None:
        rec["error_code"] = ERROR_CODE
        rec["error_message"] = message
        self._log(rec, f"Installation failed: {ERROR_CODE}: {message}")
        self._set_state(rec, "error", time.time(), message)

    @staticmethod
    def _hc_failure(hc: dict) -> str | None:
        conds = {c.get("type"): c for c in (hc.get("status") or {}).get("conditions") or []}
        for ctype, reason, _ in model.FAILURE_MODES:
            c = conds.get(ctype)
            if c and c.get("status") == "False" and c.get("reason") == reason:
                return c.get("message") or f"{ctype}: {reason}"
        return None

    LOG_CONDITIONS = ("ValidConfiguration", "ValidReleaseImage", "ValidAWSIdentityProvider", "InfrastructureReady",
                      "EtcdAvailable", "KubeAPIServerAvailable", "IgnitionEndpointAvailable", "Available",
                      "Degraded", "ClusterVersionProgressing", "ClusterVersionAvailable", "CloudResourcesDestroyed")

    def _observe_hc(self, rec: dict, hc: dict, which: str = "log") -> None:
        seen = rec["seen"]
        for c in (hc.get("status") or {}).get("conditions") or []:
            ctype = c.get("type")
            if ctype not in self.LOG_CONDITIONS:
                continue
            cur = [c.get("status"), c.get("reason")]
            k = f"hc/{ctype}"
            if seen.get(k) != cur:
                first = k not in seen
                seen[k] = cur
                if first and c.get("status") == "Unknown":
                    continue
                self._log(rec, f"HostedCluster condition {ctype}={c.get('status')} ({c.get('reason')})"
                               + (f": {c.get('message')}" if c.get("message") else ""),
                          c.get("lastTransitionTime") or None, which)
        hist = ((hc.get("status") or {}).get("version") or {}).get("history") or []
        if hist and hist[0].get("state") == "Completed" and not seen.get("hc/completed"):
            seen["hc/completed"] = True
            self._log(rec, f"HostedCluster version {hist[0].get('version')} rolled out (history Completed)",
                      hist[0].get("completionTime") or None, which)

    def _hs_np_name(self, rec: dict, np: dict) -> str:
        return f"{rec['name']}-{np['id']}"

    def _sync_pools(self, rec: dict, nps: dict) -> None:
        ns = rec["namespace"]
        total = 0
        for np in list(rec["node_pools"].values()):
            hs = nps.get((ns, self._hs_np_name(rec, np)))
            if np["deleting"]:
                if hs is None and (np["hs_created"] or np.get("hs_delete_sent")):
                    del rec["node_pools"][np["id"]]
                    self._log(rec, f"Node pool '{np['id']}' deleted")
                    continue
                if hs is None and not np["hs_created"]:
                    del rec["node_pools"][np["id"]]
                    continue
                if hs is not None and not hs["metadata"].get("deletionTimestamp") and not np.get("hs_delete_sent"):
                    self._delete_np(rec, np)
                    np["hs_delete_sent"] = True
                if hs is not None:
                    np["current_replicas"] = int((hs.get("status") or {}).get("replicas") or 0)
                    total += np["current_replicas"]
                continue
            if hs is None:
                if not np["hs_created"] or np.get("hs_seen"):
                    self._create_np(rec, np)
                    np["hs_created"] = True
                    np["hs_seen"] = False
                    np["hs_synced"] = True
                continue
            np["hs_seen"] = True
            if not np["hs_synced"]:
                self._patch_np(rec, np, hs)
                np["hs_synced"] = True
                continue   # read the result next time
            st = hs.get("status") or {}
            ready_c = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
            current = int(st.get("replicas") or 0)
            np["current_replicas"] = current
            total += current
            want = np["autoscaling"]["min_replica"] if np.get("autoscaling") else int(np["replicas"] or 0)
            seen = rec["seen"]
            cur = [ready_c.get("status") if ready_c else None, current]
            k = f"np/{np['id']}"
            if seen.get(k) != cur:
                seen[k] = cur
                self._log(rec, f"Node pool '{np['id']}': {current}/{want} nodes ready"
                               + (f", Ready={ready_c.get('status')} ({ready_c.get('reason')})" if ready_c else ""))
            if ready_c and ready_c.get("status") == "True" and current >= want:
                self._np_state(np, "ready", "")
            else:
                msg = (ready_c or {}).get("message") or ""
                self._np_state(np, "updating" if np["state"] in ("ready", "updating") else "installing", msg)
        rec["nodes_ready"] = total

    def _uninstall(self, rec: dict, now: float, hc: dict | None, nps: dict) -> None:
        if hc is not None:
            self._observe_hc(rec, hc, "uninstall_log")
            if not hc["metadata"].get("deletionTimestamp") and not rec["deleting_hc"]:
                self._delete_hc(rec)
                rec["deleting_hc"] = True
            for np in rec["node_pools"].values():
                hs = nps.get((rec["namespace"], self._hs_np_name(rec, np)))
                np["current_replicas"] = int(((hs or {}).get("status") or {}).get("replicas") or 0)
            rec["nodes_ready"] = sum(np["current_replicas"] for np in rec["node_pools"].values())
            return
        if not rec["hc"] and now < rec["due"].get("gone", 0):
            return   # never installed: a short clean-up
        if any(k[0] == rec["namespace"] for k in nps):
            return
        if rec["hc"]:
            self._delete_namespace(rec)
        self._log(rec, "Cluster deleted", now, "uninstall_log")
        self._record(rec, "deleted", now)
        log.info("ROSA cluster %s (%s) is gone", rec["name"], rec["id"])
        del self.clusters[rec["id"]]
        self.faults.clear_cluster(rec["name"])
        with self._tokens_lock:
            self.tokens = {k: v for k, v in self.tokens.items() if v.get("cluster") != rec["id"]}

    def _tick_addons(self, now: float) -> None:
        for rec in self.clusters.values():
            for aid, inst in list(rec["addons"].items()):
                if inst["state"] == "installing" and now >= inst["due"]:
                    if inst.get("fail") or rec["state"] != "ready":
                        inst.update(state="failed", updated=now,
                                    description=f"Add-on '{aid}' failed: the operator's ClusterServiceVersion "
                                                f"did not succeed (InstallComponentFailed)")
                        self._log(rec, f"Add-on '{aid}' failed")
                    else:
                        inst.update(state="ready", updated=now, description="")
                        self._log(rec, f"Add-on '{aid}' is ready")
                        self._addon_namespace(rec, aid)
                elif inst["state"] == "deleting" and now >= inst["due"]:
                    del rec["addons"][aid]
                    self._log(rec, f"Add-on '{aid}' removed")

    def _addon_namespace(self, rec: dict, aid: str) -> None:
        addon = next(a for a in ADDONS if a["id"] == aid)
        try:
            store = self.api_server.get_guest(rec["namespace"], rec["name"])
            if store is not None:
                store.ensure_namespace(addon["target_namespace"], {"api.openshift.com/addon": aid})
        except Exception:  # the guest is not essential for the add-on's state
            log.debug("add-on namespace of %s", rec["name"], exc_info=True)

    # ---------------------------------------------------- management objects
    def _labels(self, rec: dict) -> dict:
        return {LABEL_ID: rec["id"], LABEL_NAME: rec["name"], LABEL_ENV: rec["env"]}

    def _release_image(self, version: str) -> str:
        return f"quay.io/openshift-release-dev/ocp-release:{version}-x86_64"

    def _create(self, fn, *args) -> None:
        from kubernetes.client.rest import ApiException

        try:
            fn(*args, _request_timeout=(5, 30))
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _delete(self, fn, *args) -> None:
        from kubernetes.client.rest import ApiException

        try:
            fn(*args, _request_timeout=(5, 30))
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def _create_objects(self, rec: dict) -> None:
        """Namespace ``ocm-<env>-<id>``, the pull secret, the HostedCluster and the default NodePool."""
        _, core, custom = self._kube_clients()
        ns, name = rec["namespace"], rec["name"]
        labels = self._labels(rec)
        self._create(core.create_namespace, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": ns, "labels": dict(labels)}})
        try:
            pull = (self.dir / "pull-secret.json").read_bytes()
        except OSError:
            pull = b'{"auths": {}}'
        self._create(core.create_namespaced_secret, ns, {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": f"{name}-pull-secret", "namespace": ns, "labels": dict(labels)},
            "data": {".dockerconfigjson": base64.b64encode(pull).decode()}})
        prefix = rec["sts"]["operator_role_prefix"]

        def role(namespace: str, n: str) -> str:
            return self._role_arn(operator_role_name(prefix, namespace, n))

        subnet = rec["private_subnets"][0]
        zone = (self._subnet(subnet) or {}).get("availability_zone", f"{self.region}a")
        dp, base = rec["domain_prefix"], rec["base_domain"]
        tags = [{"key": "red-hat-managed", "value": "true"}, {"key": "red-hat-clustertype", "value": "rosa"},
                {"key": LABEL_ID, "value": rec["id"]}, {"key": LABEL_NAME, "value": name}]
        tags += [{"key": k, "value": v} for k, v in rec["tags"].items()]
        hc = {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "HostedCluster",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels),
                         "annotations": {"api.openshift.com/external-id": rec["external_id"]}},
            "spec": {
                "release": {"image": self._release_image(rec["version"])},
                "clusterID": rec["external_id"],
                "infraID": rec["infra_id"],
                "channel": f"{rec['channel_group']}-{'.'.join(rec['version'].split('.')[:2])}",
                "controllerAvailabilityPolicy": "HighlyAvailable",
                "infrastructureAvailabilityPolicy": "HighlyAvailable",
                "dns": {"baseDomain": f"{dp}.{base}", "baseDomainPrefix": "rosa"},
                "networking": {"networkType": "OVNKubernetes",
                               "clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
                               "serviceNetwork": [{"cidr": "172.30.0.0/16"}],
                               "machineNetwork": [{"cidr": "10.0.0.0/16"}]},
                "platform": {"type": "AWS", "aws": {
                    "region": rec["region"],
                    "endpointAccess": "Private" if rec["listening"] == "internal" else "PublicAndPrivate",
                    "cloudProviderConfig": {"vpc": self.vpc_id, "subnet": {"id": subnet}, "zone": zone},
                    "rolesRef": {
                        "ingressARN": role("openshift-ingress-operator", "cloud-credentials"),
                        "imageRegistryARN": role("openshift-image-registry", "installer-cloud-credentials"),
                        "storageARN": role("openshift-cluster-csi-drivers", "ebs-cloud-credentials"),
                        "networkARN": role("openshift-cloud-network-config-controller", "cloud-credentials"),
                        "kubeCloudControllerARN": role("kube-system", "kube-controller-manager"),
                        "nodePoolManagementARN": role("kube-system", "capa-controller-manager"),
                        "controlPlaneOperatorARN": role("kube-system", "control-plane-operator")},
                    "resourceTags": tags}},
                "pullSecret": {"name": f"{name}-pull-secret"},
                "issuerURL": rec["sts"]["oidc_config"]["issuer_url"],
                "services": [
                    {"service": "APIServer", "servicePublishingStrategy": {
                        "type": "Route", "route": {"hostname": f"api.{dp}.{base}"}}},
                    {"service": "OAuthServer", "servicePublishingStrategy": {
                        "type": "Route", "route": {"hostname": f"oauth.{dp}.{base}"}}},
                    {"service": "Konnectivity", "servicePublishingStrategy": {"type": "Route"}},
                    {"service": "Ignition", "servicePublishingStrategy": {"type": "Route"}}],
                "etcd": {"managementType": "Managed", "managed": {"storage": {
                    "type": "PersistentVolume",
                    "persistentVolume": {"size": "8Gi", "storageClassName": "gp3-csi"}}}},
                "fips": False,
                "olmCatalogPlacement": "management",
            }}
        self._create(custom.create_namespaced_custom_object, GROUP, VERSION, ns, "hostedclusters", hc)
        rec["hc"] = True
        self._log(rec, f"HostedCluster {ns}/{name} created (release {rec['version']}, infra ID {rec['infra_id']})")
        for np in rec["node_pools"].values():
            if not np["deleting"]:
                self._create_np(rec, np)
                np["hs_created"] = True
                np["hs_synced"] = True
                self._np_state(np, "installing")

    def _np_spec(self, rec: dict, np: dict) -> dict:
        spec: dict[str, Any] = {
            "clusterName": rec["name"], "release": {"image": self._release_image(np["version"])}, "arch": "amd64",
            "management": {"upgradeType": "Replace", "autoRepair": bool(np["auto_repair"]),
                           "replace": {"strategy": "RollingUpdate",
                                       "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
            "nodeDrainTimeout": "0s",
            "platform": {"type": "AWS", "aws": {
                "instanceType": np["instance_type"], "instanceProfile": f"{rec['infra_id']}-worker",
                "subnet": {"id": np["subnet"]}, "rootVolume": {"size": 300, "type": "gp3"}}},
        }
        if np.get("autoscaling"):
            spec["autoScaling"] = {"min": np["autoscaling"]["min_replica"], "max": np["autoscaling"]["max_replica"]}
        else:
            spec["replicas"] = int(np["replicas"] or 0)
        if np["labels"]:
            spec["nodeLabels"] = dict(np["labels"])
        if np["taints"]:
            spec["taints"] = [dict(t) for t in np["taints"]]
        return spec

    def _create_np(self, rec: dict, np: dict) -> None:
        _, _, custom = self._kube_clients()
        labels = dict(self._labels(rec), **{LABEL_NODEPOOL: np["id"]})
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NodePool",
                "metadata": {"name": self._hs_np_name(rec, np), "namespace": rec["namespace"], "labels": labels},
                "spec": self._np_spec(rec, np)}
        self._create(custom.create_namespaced_custom_object, GROUP, VERSION, rec["namespace"], "nodepools", body)
        self._log(rec, f"NodePool {rec['namespace']}/{self._hs_np_name(rec, np)} created "
                       f"({np['instance_type']}, {self._np_size(np)})")

    @staticmethod
    def _np_size(np: dict) -> str:
        if np.get("autoscaling"):
            return f"autoscaling {np['autoscaling']['min_replica']}-{np['autoscaling']['max_replica']}"
        return f"{np['replicas']} replica(s)"

    def _patch_np(self, rec: dict, np: dict, hs: dict) -> None:
        _, _, custom = self._kube_clients()
        old = hs.get("spec") or {}
        want = self._np_spec(rec, np)
        patch: dict[str, Any] = {}
        if np.get("autoscaling"):
            patch["autoScaling"] = want["autoScaling"]
            patch["replicas"] = None
        else:
            patch["replicas"] = want["replicas"]
            patch["autoScaling"] = None
        labels = {k: None for k in (old.get("nodeLabels") or {})}
        labels.update(want.get("nodeLabels") or {})
        patch["nodeLabels"] = labels or None
        patch["taints"] = want.get("taints") or None
        custom.patch_namespaced_custom_object(GROUP, VERSION, rec["namespace"], "nodepools", hs["metadata"]["name"],
                                              {"spec": patch}, _request_timeout=(5, 30))
        self._log(rec, f"Node pool '{np['id']}' updated ({self._np_size(np)})")

    def _delete_np(self, rec: dict, np: dict) -> None:
        _, _, custom = self._kube_clients()
        self._delete(custom.delete_namespaced_custom_object, GROUP, VERSION, rec["namespace"], "nodepools",
                     self._hs_np_name(rec, np))

    def _delete_hc(self, rec: dict) -> None:
        _, _, custom = self._kube_clients()
        self._delete(custom.delete_namespaced_custom_object, GROUP, VERSION, rec["namespace"], "hostedclusters",
                     rec["name"])
        self._log(rec, f"HostedCluster {rec['namespace']}/{rec['name']} deletion requested", which="uninstall_log")

    def _delete_namespace(self, rec: dict) -> None:
        _, core, _ = self._kube_clients()
        self._delete(core.delete_namespaced_secret, f"{rec['name']}-pull-secret", rec["namespace"])
        self._delete(core.delete_namespace, rec["namespace"])

    # ------------------------------------------------------------ guest OAuth
    def _cluster_of_guest(self, ns: str, name: str) -> dict | None:
        if not ns.startswith("ocm-"):
            return None
        rec = self.clusters.get(ns.rsplit("-", 1)[-1])
        return rec if rec is not None and rec["name"] == name and rec["namespace"] == ns else None

    def issuer(self, rec: dict) -> str:
        return f"{self.api_server.url}/oauth/{rec['namespace']}/{rec['name']}"

    def guest_public(self, method: str, ns: str, name: str, rest: str, headers: Any):
        """``/.well-known/oauth-authorization-server`` of a ROSA cluster's guest API (unauthenticated)."""
        if rest.rstrip("/") != "/.well-known/oauth-authorization-server" or method not in ("GET", "HEAD"):
            return None
        rec = self._cluster_of_guest(ns, name)
        if rec is None:
            return None
        issuer = self.issuer(rec)
        doc = {"issuer": issuer, "authorization_endpoint": f"{issuer}/oauth/authorize",
               "token_endpoint": f"{issuer}/oauth/token",
               "scopes_supported": ["user:check-access", "user:full", "user:info", "user:list-projects",
                                    "user:list-scoped-projects"],
               "response_types_supported": ["code", "token"],
               "grant_types_supported": ["authorization_code", "implicit"],
               "code_challenge_methods_supported": ["plain", "S256"]}
        return 200, {}, json.dumps(doc, indent=2).encode()

    def guest_auth(self, ns: str, name: str, token: str) -> bool:
        if not token.startswith("sha256~"):
            return False
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._tokens_lock:
            entry = self.tokens.get(digest)
        return bool(entry) and entry["namespace"] == ns and entry["name"] == name and \
            float(entry["expires"]) > time.time()

    def oauth_handler(self, method: str, path: str, query_string: str, headers: Any, body: bytes):
        """``/oauth/<ns>/<name>/oauth/{authorize,token,token/implicit}``: the cluster's OAuth server."""
        parts = [p for p in path.split("/") if p]
        if len(parts) < 3 or parts[2] != "oauth":
            return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
        ns, name, what = parts[0], parts[1], "/".join(parts[3:])
        with self._lock:
            rec = self._cluster_of_guest(ns, name)
            if rec is None:
                return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
            issuer = self.issuer(rec)
            if what == "token/implicit":
                return 200, {"Content-Type": "text/html; charset=utf-8"}, \
                    b"<html><body>Token issued.</body></html>\n"
            if what == "token":
                err = {"error": "unsupported_grant_type",
                       "error_description": "The authorization grant type is not supported by the simulated "
                                            "authorization server."}
                return 400, {}, json.dumps(err).encode()
            if what != "authorize" or method not in ("GET", "HEAD", "POST"):
                return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
            q = {k: v[-1] for k, v in parse_qs(query_string or "", keep_blank_values=True).items()}
            if q.get("client_id") != CHALLENGING_CLIENT:
                err = {"error": "unauthorized_client", "error_description": f"client '{q.get('client_id')}' is "
                                                                            f"not supported here"}
                return 400, {}, json.dumps(err).encode()
            if q.get("response_type") != "token":
                err = {"error": "unsupported_response_type",
                       "error_description": "the challenging client only supports response_type=token"}
                return 400, {}, json.dumps(err).encode()
            h = {k.lower(): v for k, v in headers.items()}
            challenge = {"WWW-Authenticate": 'Basic realm="openshift"', "Content-Type": "text/plain"}
            if not (h.get("x-csrf-token") or "").strip():
                return 401, {"Content-Type": "text/plain"}, \
                    b"A non-empty X-CSRF-Token header is required to receive basic-auth challenges\n"
            auth = h.get("authorization") or ""
            if not auth.lower().startswith("basic "):
                return 401, challenge, b"Unauthorized\n"
            try:
                user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return 401, challenge, b"Unauthorized\n"
            if rec["state"] != "ready" or not self._login_ok(rec, user, password):
                log.info("OAuth login of %r to %s refused", user, rec["name"])
                return 401, challenge, b"Unauthorized\n"
            token = "sha256~" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
            with self._tokens_lock:
                self.tokens[hashlib.sha256(token.encode()).hexdigest()] = {
                    "namespace": ns, "name": name, "cluster": rec["id"], "user": user,
                    "expires": time.time() + TOKEN_TTL}
            self._log(rec, f"User '{user}' logged in (OAuth token issued)")
        location = (f"{issuer}/oauth/token/implicit#access_token={token}&expires_in={TOKEN_TTL}"
                    f"&scope={quote('user:full', safe='')}&token_type=Bearer")
        return 302, {"Location": location, "Content-Type": "text/plain"}, b""

    def _login_ok(self, rec: dict, username: str, password: str) -> bool:
        now = time.time()
        for idp in rec["idps"].values():
            for user in idp["users"]:
                if user["username"] == username and now >= float(user["active_at"]):
                    if check_password(user, password, self._pw_cache):
                        return True
        return False
