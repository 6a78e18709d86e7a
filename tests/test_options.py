"""Option parsing: values, precedence, and bad input rejected as usage errors before anything runs."""
from __future__ import annotations

import pytest

from plugins import options


@pytest.mark.parametrize("raw, expected", [("90", 90.0), ("1.5", 1.5), ("45s", 45.0), ("5m", 300.0),
                                           ("1h30m", 5400.0), ("0", 0.0)])
def test_parse_duration(raw, expected):
    assert options.parse_duration("--x", raw) == expected


@pytest.mark.parametrize("raw", ["-5", "soon", "", "5 minutes"])
def test_parse_duration_rejects(raw):
    with pytest.raises(pytest.UsageError):
        options.parse_duration("--x", raw)


def test_parse_workers_list_and_round_robin():
    assert options.parse_workers("--workers", "20, 25,30") == [20, 25, 30]
    settings = options.Settings(**{**_defaults(), "workers": [20, 25, 30]})
    assert [settings.workers_for(i) for i in range(1, 8)] == [20, 25, 30, 20, 25, 30, 20]


def _defaults() -> dict:
    return dict(platform="sim", cluster_name_seed="perfsc", name_prefix="perfsc", cluster_count=1, workers=[3],
                batch_size=0, delay_between_batch=0.0, watcher_delay=60.0, install_timeout=3600.0,
                destroy_timeout=1800.0, uuid="u", path="/tmp/u", cleanup=False, keep_clusters="on-failure",
                wildcard_options=[], release_image=None, sim_dir=None, sim_speed=100.0, sim_seed=0,
                sim_fail_clusters=[], sim_failure_rate=0.0, sim_stuck_clusters=[], sim_destroy_fail_clusters=[])


BAD_INPUT = [
    (["--workers", "20,x,30"], "--workers: 'x' is not a whole number"),
    (["--workers", "20,,30"], "--workers: expected an integer or a comma list"),
    (["--workers", "0"], "--workers: every value must be at least 1"),
    (["--cluster-count", "0"], "--cluster-count: must be at least 1"),
    (["--cluster-count", "-3"], "--cluster-count: must be at least 1"),
    (["--cluster-count", "many"], "--cluster-count: expected an integer"),
    (["--cluster-count", "10000"], "--cluster-count: must be at most 9999"),
    (["--batch-size", "-1"], "--batch-size: must be at least 0"),
    (["--batch-size", "2", "--delay-between-batch", "-10"], "--delay-between-batch: must not be negative"),
    (["--watcher-delay", "-1"], "--watcher-delay: must not be negative"),
    (["--watcher-delay", "0"], "--watcher-delay: must be greater than zero"),
    (["--install-timeout", "0"], "--install-timeout: must be greater than zero"),
    (["--delay-between-batch", "30"], "--delay-between-batch needs --batch-size"),
    (["--platform", "aws"], "--platform: expected one of sim, hypershift, rosa"),
    (["--platform", "hypershift"], "--platform hypershift needs --mgmt-kubeconfig or --mgmt-cluster"),
    (["--platform", "hypershift", "--mgmt-cluster", "mc1"], "--mgmt-cluster is looked up through OCM"),
    (["--mgmt-kubeconfig", "/nonexistent/kubeconfig"], "--mgmt-kubeconfig /nonexistent/kubeconfig: no such file"),
    (["--machinepool-name", "Bad_Name"], "--machinepool-name: use lowercase letters"),
    (["--ocp-version", "four"], "--ocp-version: expected a version like 4.17.3"),
    (["--ocp-version", "4.17.3", "--release-image", "quay.io/x:y"], "--release-image and --ocp-version both"),
    (["--ocm-url", "not a url"], "--ocm-url: expected a URL or one of production"),
    (["--cluster-load-job-variation", "101"], "--cluster-load-job-variation: must be at most 100"),
    (["--add-cluster-load", "--cluster-load-churn-percent", "0"], "--cluster-load-churn-percent: must be at least 1"),
    (["--add-cluster-load", "--cluster-load-churn-delay", "soon"], "--cluster-load-churn-delay: expected seconds or a duration"),
    (["--add-cluster-load", "--mgmt-metrics", "maybe"], "--mgmt-metrics: expected one of auto, on, off"),
    (["--add-cluster-load", "--mgmt-metrics-profile", "../etc/x.yml"], "--mgmt-metrics-profile: expected"),
    (["--mgmt-metrics", "on"], "--mgmt-metrics needs --add-cluster-load"),
    (["--es-index-retry", "0"], "--es-index-retry: must be at least 1"),
    (["--role-arn", "arn:aws:iam::123456789012:role/x"], "--role-arn applies to --platform hypershift, not sim"),
    (["--role-arn", "arn:aws:iam::1:role/x"], "--role-arn: expected an IAM role ARN"),
    (["--rosa-multi-az"], "--rosa-multi-az applies to --platform rosa, not sim"),
    (["--expire", "120"], "--expire applies to --platform rosa, not sim"),
    (["--platform", "hypershift", "--rosa-env", "staging"], "--rosa-env applies to --platform rosa, not hypershift"),
    (["--expire", "soon"], "--expire: expected an integer"),
    (["--platform", "rosa"], "--platform rosa logs in to OCM with your offline token: set OCM_TOKEN"),
    (["--platform", "rosa", "--ocm-token", "t0k"], "--platform rosa needs --rosa-subnet-ids"),
    (["--platform", "rosa", "--ocm-token", "t0k", "--rosa-subnet-ids", "subnet-1", "--sim-speed", "50"],
     "--sim-speed configures a world started for the run (--platform sim)"),
    (["--rosa-subnet-ids", "subnet-1,subnet-1"], "--rosa-subnet-ids: 'subnet-1,subnet-1' names an id twice"),
    (["--rosa-cli-version", "1.2.64"], "--rosa-cli-version applies to --platform rosa, not sim"),
    (["--aws-profile", "perfci"], "--aws-profile applies to --platform hypershift or rosa, not sim"),
    (["--platform", "hypershift", "--rosa-poll-interval", "5"], "--rosa-poll-interval applies to --platform rosa"),
    (["--keep-clusters", "sometimes"], "--keep-clusters: expected one of on-failure, always, never"),
    (["--cleanup-clusters", "--keep-clusters", "always"], "--cleanup-clusters destroys the clusters"),
    (["--cluster-name-seed", "Perf_1"], "--cluster-name-seed: use lowercase letters and digits"),
    (["--uuid", "has space"], "--uuid: use 1-63 letters"),
    (["--wildcard-options", "--network-type 'OVN"], "--wildcard-options: cannot split"),
    (["--sim-speed", "0"], "--sim-speed: must be greater than zero"),
    (["--sim-failure-rate", "1.5"], "--sim-failure-rate: must be between 0 and 1"),
    (["--sim-fail-clusters", "3,x"], "--sim-fail-clusters: expected an integer"),
    (["--cluster-count", "2", "--sim-fail-clusters", "3"], "--sim-fail-clusters: cluster index 3 is beyond"),
    (["--only-delete-clusters"], "--only-delete-clusters: no run in --path"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_a_usage_error(scale_project, args, message):
    run_path = scale_project.path / "run"
    result = scale_project.runpytest_inprocess(*args, "--path", str(run_path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert message in err
    assert "Traceback" not in err + result.stdout.str()
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert not run_path.exists(), "nothing may be created on bad input"


def test_unwritable_path_is_a_usage_error(scale_project):
    blocker = scale_project.path / "a-file"
    blocker.write_text("not a directory")
    result = scale_project.runpytest_inprocess("--path", str(blocker / "run"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--path {blocker / 'run'}: not writable" in result.stderr.str()


def test_uuid_reused_with_another_seed_is_a_usage_error(scale_project):
    run_path = scale_project.path / "run"
    run_path.mkdir()
    (run_path / "uuid").write_text("run-1\n")
    (run_path / "cluster_name_seed").write_text("perfsc\n")
    result = scale_project.runpytest_inprocess("--uuid", "run-1", "--cluster-name-seed", "other",
                                               "--path", str(run_path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "belongs to a run with cluster_name_seed 'perfsc'" in result.stderr.str()
    assert not (run_path / "ledger.jsonl").exists()


def test_precedence_cli_env_ini(scale_project, monkeypatch):
    ini = scale_project.path / "pytest.ini"
    ini.write_text(ini.read_text() + "cluster_count = 4\nwatcher_delay = 7\n")
    monkeypatch.setenv("HCP_SCALE_CLUSTER_COUNT", "6")
    config = scale_project.parseconfigure("--workers", "5")
    settings = options.get_settings(config)
    assert settings.cluster_count == 6          # env beats ini
    assert settings.watcher_delay == 7.0        # ini beats default
    assert settings.workers == [5]              # cli
    config = scale_project.parseconfigure("--cluster-count", "2")
    assert options.get_settings(config).cluster_count == 2  # cli beats env


def test_long_seed_is_truncated_with_a_warning(scale_project):
    config = scale_project.parseconfigure("--cluster-name-seed", "perfscale42")
    settings = options.get_settings(config)
    assert settings.name_prefix == "perfsc"
    assert any("longer than 6" in w for w in settings.warnings)


def test_every_option_has_help_ini_and_env(scale_project):
    result = scale_project.runpytest_inprocess("--help")
    out = result.stdout.str()
    for opt in options.OPTIONS:
        assert opt.flag in out
        assert f"[ini {opt.ini}]" in out.replace("\n", " ").replace("  ", " ") or opt.ini in out
        if opt.env:
            assert opt.envvar in out
