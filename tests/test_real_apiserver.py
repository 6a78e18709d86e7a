"""The harness and the simulated operator against a real kube-apiserver (set KUBEBUILDER_ASSETS).

HyperShift's own CRDs from ../shared/reference/crds/ are applied when that folder
exists, so a status field the real schema lacks is pruned by the server and the
run fails here; otherwise the world installs its own minimal CRDs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.simworld import SimWorld

ROOT = Path(__file__).resolve().parent.parent
CRD_DIR = ROOT.parent / "shared" / "reference" / "crds"

pytestmark = pytest.mark.skipif(not os.environ.get("KUBEBUILDER_ASSETS"), reason="KUBEBUILDER_ASSETS not set")


@pytest.fixture
def real_world(tmp_path):
    """A real kube-apiserver with the HostedCluster/NodePool CRDs, and the simulated operator on it."""
    import urllib3

    from tests.kubeapiserver import RealApiServer, apply_crds

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with RealApiServer(os.environ["KUBEBUILDER_ASSETS"], tmp_path / "kas") as kas:
        if CRD_DIR.is_dir():
            apply_crds(kas.kubeconfig, CRD_DIR)
        world = SimWorld(tmp_path / "world", "--speed", "1000", "--mgmt-kubeconfig", kas.kubeconfig,
                         "--install-crds", "--fail-clusters", "2")
        try:
            world.start(timeout=60)
            yield world.dir, kas
        finally:
            world.stop(timeout=20, check=False)


def test_harness_on_a_real_kube_apiserver(scale_project, tmp_path, real_world):
    folder, kas = real_world
    path = tmp_path / "run"
    result = scale_project.runpytest_subprocess("tests_scale", "--path", str(path), "--sim-dir", str(folder),
                                                "--cluster-count", "2", "--workers", "2", "-n", "2", timeout=300)
    result.assert_outcomes(passed=1, errors=1)
    summary = json.loads((path / "summary.json").read_text())
    by_index = {c["index"]: c for c in summary["clusters"]}
    assert by_index[1]["final"] == "destroyed" and by_index[2]["final"] == "kept"
    timings = by_index[1]["timings"]
    for key in ("hc_created", "control_plane_available", "nodepools_ready", "workers_ready", "install_completed"):
        assert timings[key], key
    assert timings["workers_ready_count"] == 2
    # What is left on the real server: exactly the kept cluster.
    custom = k8s.CustomObjectsApi(k8s_config.new_client_from_config(config_file=kas.kubeconfig))
    names = {i["metadata"]["name"] for i in custom.list_namespaced_custom_object(
        "hypershift.openshift.io", "v1beta1", "clusters", "hostedclusters")["items"]}
    assert names == {by_index[2]["name"]}


def test_hypershift_platform_on_a_real_kube_apiserver(scale_project, tmp_path, real_world):
    """--platform hypershift with --mgmt-kubeconfig of the real server and the world's stand-in CLI."""
    folder, kas = real_world
    creds = scale_project.path / "credentials"
    creds.write_text("[perfci]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = c2VjcmV0a2V5\n")
    path = tmp_path / "run"
    result = scale_project.runpytest_subprocess(
        "tests_scale", "--platform", "hypershift", "--path", str(path), "--cluster-count", "1",
        "--mgmt-kubeconfig", kas.kubeconfig, "--hypershift-cli", str(folder / "bin" / "hypershift"),
        "--pull-secret-file", str(folder / "pull-secret.json"), "--aws-account-file", str(creds),
        "--base-domain", "sim.hypershift.local", "--region", "us-east-1", timeout=300)
    result.assert_outcomes(passed=1)
    summary = json.loads((path / "summary.json").read_text())
    assert summary["counts"]["destroyed"] == 1
    assert summary["clusters"][0]["timings"]["install_completed"]
