"""Minimal CustomResourceDefinitions for HostedCluster and NodePool.

These are the simulated world's own, deliberately small CRDs: enough for a bare
kube-apiserver to serve ``hostedclusters``/``nodepools`` in
``hypershift.openshift.io/v1beta1`` with the ``status`` (and, for NodePools,
``scale``) subresources.  Their schemas keep every field
(``x-kubernetes-preserve-unknown-fields``), so nothing is pruned.  They are used by
``python -m sim serve --mgmt-kubeconfig ... --install-crds`` when the external
API server has no HyperShift CRDs.  To check what a real server's schema keeps,
test with HyperShift's own CRDs instead.
"""
from __future__ import annotations

import time

GROUP = "hypershift.openshift.io"
VERSION = "v1beta1"


def _schema(replicas: bool) -> dict:
    spec: dict = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    status: dict = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if replicas:
        spec["properties"] = {"replicas": {"type": "integer", "format": "int32"}}
        status["properties"] = {"replicas": {"type": "integer", "format": "int32"}}
    return {"openAPIV3Schema": {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": spec, "status": status}}}


def _crd(plural: str, kind: str, short: list[str], columns: list[dict], scale: bool) -> dict:
    subresources: dict = {"status": {}}
    if scale:
        subresources["scale"] = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": {"sim.hypershift.openshift.io/minimal-crd": "true"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List",
                      "shortNames": short},
            "versions": [{"name": VERSION, "served": True, "storage": True, "schema": _schema(scale),
                          "subresources": subresources, "additionalPrinterColumns": columns}],
        },
    }


def hypershift_crds() -> list[dict]:
    """The two minimal CRDs (HostedCluster, NodePool) as dicts."""
    hc_cols = [
        {"name": "Version", "type": "string", "jsonPath": '.status.version.history[?(@.state=="Completed")].version'},
        {"name": "KubeConfig", "type": "string", "jsonPath": ".status.kubeconfig.name"},
        {"name": "Progress", "type": "string", "jsonPath": ".status.version.history[0].state"},
        {"name": "Available", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Available")].status'},
        {"name": "Progressing", "type": "string",
         "jsonPath": '.status.conditions[?(@.type=="Progressing")].status'},
        {"name": "Message", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Available")].message'},
    ]
    np_cols = [
        {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterName"},
        {"name": "Desired Nodes", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Current Nodes", "type": "integer", "jsonPath": ".status.replicas"},
        {"name": "Version", "type": "string", "jsonPath": ".status.version"},
        {"name": "Message", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].message'},
    ]
    return [_crd("hostedclusters", "HostedCluster", ["hc", "hcs"], hc_cols, scale=False),
            _crd("nodepools", "NodePool", ["np", "nps"], np_cols, scale=True)]


def ensure_crds(api_client, timeout: float = 60.0) -> list[str]:
    """Create the minimal CRDs that are missing on the server behind ``api_client`` and wait until served.

    CRDs that already exist (HyperShift's real ones, say) are left alone.  Returns the names created.
    """
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    ext = k8s.ApiextensionsV1Api(api_client)
    custom = k8s.CustomObjectsApi(api_client)
    created = []
    for crd in hypershift_crds():
        name = crd["metadata"]["name"]
        try:
            ext.read_custom_resource_definition(name)
            continue
        except ApiException as exc:
            if exc.status != 404:
                raise
        try:
            ext.create_custom_resource_definition(crd)
            created.append(name)
        except ApiException as exc:
            if exc.status != 409:
                raise
    deadline = time.monotonic() + timeout
    for crd in hypershift_crds():
        plural = crd["spec"]["names"]["plural"]
        while True:
            try:
                custom.list_cluster_custom_object(GROUP, VERSION, plural, limit=1)
                break
            except ApiException as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
    return created
