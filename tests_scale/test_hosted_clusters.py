"""The scale test: one hosted cluster per test case (``--cluster-count``)."""
from plugins.kube import condition


def test_hosted_cluster(hosted_cluster, cluster_load):
    """The ready cluster serves its own API with every requested worker node Ready (after its load, if any)."""
    guest = hosted_cluster.guest()
    try:
        nodes = guest.get("/api/v1/nodes", labelSelector="node-role.kubernetes.io/worker")["items"]
    finally:
        guest.close()
    ready = [n for n in nodes if (condition(n, "Ready") or {}).get("status") == "True"]
    assert len(ready) >= hosted_cluster.workers, (
        f"{hosted_cluster.name}: {len(ready)} of {hosted_cluster.workers} worker nodes Ready")
