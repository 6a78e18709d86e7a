"""--only-delete-clusters: one test per cluster a previous run left behind (never generated otherwise)."""


def test_delete_cluster(deleted_cluster):
    """The cluster was destroyed and is gone from the management cluster."""
    assert deleted_cluster["final"] == "destroyed", f"{deleted_cluster['name']}: {deleted_cluster['error']}"
