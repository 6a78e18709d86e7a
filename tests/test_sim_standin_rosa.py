"""Tests of the stand-in ``rosa`` CLI (``sim/standin/rosa.py``) against a simulated world.

A real ``python -m sim serve`` subprocess is started at a high ``--speed``; the world's ``DIR/bin/rosa`` runs as
a subprocess, as the harness runs Red Hat's rosa: a private ``OCM_CONFIG``, ``ROSA_TOKEN`` from ``DIR/ocm-token``
in the environment of ``rosa login`` only, standard input closed.  Outputs, errors and exit codes are the real
rosa v1.2.64's; no token may ever show up in the output.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.simworld import SimWorld

SPEED = "400"


class World(SimWorld):
    def start(self, timeout: float = 30.0) -> "World":
        super().start(timeout)
        self.token = (self.dir / "ocm-token").read_text().strip()
        self.rosa = str(self.dir / "bin" / "rosa")
        return self


def first_json(text: str):
    """The first JSON document of stdout (rosa may print INFO lines around -o json output)."""
    start = min(i for i in (text.find("{"), text.find("[")) if i >= 0)
    return json.JSONDecoder().raw_decode(text[start:])[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("rosaworld") / "world", "--speed", SPEED, "--seed", "9").start()
    yield w
    w.stop()


class Rosa:
    """``DIR/bin/rosa`` with a private OCM config; checks that no token leaks into its output."""

    def __init__(self, world: World, config: Path):
        self.world, self.config = world, config
        config.parent.mkdir(parents=True, exist_ok=True)

    def secrets(self) -> list[str]:
        out = [self.world.token]
        if self.config.exists():
            data = json.loads(self.config.read_text() or "{}")
            out += [data[k] for k in ("access_token", "refresh_token") if data.get(k)]
        return out

    def __call__(self, *args: str, env: dict | None = None, timeout: float = 60.0,
                 login_token: bool = False) -> subprocess.CompletedProcess:
        e = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "ROSA_TOKEN", "OCM_TOKEN", "OCM_CONFIG", "HCP_SIM_FAULTS", "AWS_REGION")}
        e["HOME"] = str(self.config.parent / "home")
        e.pop("XDG_CONFIG_HOME", None)
        e["OCM_CONFIG"] = str(self.config)
        if login_token:
            e["ROSA_TOKEN"] = self.world.token
        e.update(env or {})
        before = self.secrets()
        r = subprocess.run([self.world.rosa, *args], capture_output=True, text=True, timeout=timeout, env=e,
                           stdin=subprocess.DEVNULL, cwd=str(self.config.parent))
        for secret in {*before, *self.secrets()}:
            assert secret not in r.stdout and secret not in r.stderr, f"a token leaked in the output of {args}"
        return r

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r


@pytest.fixture(scope="module")
def rosa(world, tmp_path_factory) -> Rosa:
    r = Rosa(world, tmp_path_factory.mktemp("rosacfg") / "ocm" / "ocm.json")
    r.ok("login", login_token=True)
    return r


@pytest.fixture(scope="module")
def setup(world, rosa):
    """What the harness prepares once per run: an OIDC config, the account roles, the run's operator roles."""
    config = first_json(rosa.ok("create", "oidc-config", "--mode", "auto", "--managed", "-y", "-o", "json").stdout)
    roles = json.loads(rosa.ok("list", "account-roles", "-o", "json").stdout)
    arns = {r["RoleType"]: r["RoleARN"] for r in roles}
    rosa.ok("create", "operator-roles", "--hosted-cp", "--prefix", "tst-run", "--oidc-config-id", config["id"],
            "--installer-role-arn", arns["Installer"], "--mode", "auto", "-y")
    return {"oidc": config["id"], "roles": arns, "prefix": "tst-run"}


def create_args(world: World, setup: dict, name: str, *extra: str) -> list[str]:
    return ["create", "cluster", "--cluster-name", name, "--hosted-cp", "--sts", "--mode", "auto", "-y",
            "--color", "never", "-o", "json", "--subnet-ids", ",".join(world.world["rosa_subnet_ids"]),
            "--oidc-config-id", setup["oidc"], "--operator-roles-prefix", setup["prefix"],
            "--role-arn", setup["roles"]["Installer"], "--support-role-arn", setup["roles"]["Support"],
            "--worker-iam-role", setup["roles"]["Worker"], "--region", world.world["region"], *extra]


def wait_state(rosa: Rosa, name: str, states: set[str], timeout: float = 60.0) -> dict:
    """Poll ``rosa list clusters -o json`` (as the harness does) until NAME is in one of STATES."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        clusters = json.loads(rosa.ok("list", "clusters", "-o", "json").stdout)
        mine = [c for c in clusters if c["name"] == name]
        if mine:
            seen.append(mine[0]["state"])
            if mine[0]["state"] in states:
                return mine[0]
        assert time.monotonic() < deadline, f"{name} never reached {states} (seen {seen[-5:]})"
        time.sleep(0.3)


# =================================================================== login & co
def test_version_names_the_simulated_world(world, tmp_path):
    r = Rosa(world, tmp_path / "ocm.json").ok("version")
    assert r.stdout.splitlines()[0] == "INFO: 1.2.64"
    assert "simulated" in r.stdout and str(world.dir) in r.stdout


def test_login_whoami_logout(world, tmp_path):
    rosa = Rosa(world, tmp_path / "cfg" / "ocm.json")
    r = rosa.ok("login", "--env", "staging", login_token=True)
    assert r.stdout == f"INFO: Logged in as 'sim-user' on '{world.world['ocm_url']}'\n"
    assert stat.S_IMODE(os.stat(rosa.config).st_mode) == 0o600
    cfg = json.loads(rosa.config.read_text())
    assert cfg["refresh_token"] == world.token and cfg["url"] == world.world["ocm_url"]
    assert cfg["client_id"] == "cloud-services" and cfg["sim_ocm_env"] == "staging"
    me = json.loads(rosa.ok("whoami", "-o", "json").stdout)
    assert me["AWS Account ID"] == world.world["aws_account_id"] and me["OCM API"] == world.world["ocm_url"]
    assert list(me) == sorted(me)
    rosa.ok("logout")
    assert not rosa.config.exists()
    r = rosa("describe", "cluster", "-c", "x")
    assert r.returncode == 1
    assert r.stderr == "ERR: Failed to create OCM connection: Not logged in, run the 'rosa login' command\n"


def test_login_without_credentials_fails_as_without_a_terminal(world, tmp_path):
    r = Rosa(world, tmp_path / "ocm.json")("login")
    assert r.returncode == 1
    assert r.stdout.startswith("To login to your Red Hat account, get an offline access token at "
                               "https://console.redhat.com/openshift/token/rosa\n")
    assert r.stderr == "ERR: failed to parse token: EOF\n"
    r = Rosa(world, tmp_path / "ocm.json")("login", "--env", "https://api.openshift.com", login_token=True)
    assert r.returncode == 1 and "the simulated world does not reach real services" in r.stderr


# ============================================================ command-line errors
def test_command_line_errors_are_the_real_ones(world, rosa, setup):
    r = rosa(*create_args(world, setup, "badflag-0001", "--bogus"))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("Error: unknown flag: --bogus\nUsage:\n  rosa create cluster [flags]\n")
    assert r.stderr.endswith("Failed to execute root command: unknown flag: --bogus\n")

    long_name = "a" * 55
    r = rosa(*create_args(world, setup, long_name))
    assert r.returncode == 1
    assert r.stderr.endswith("ERR: Cluster name must consist of no more than 54 lowercase alphanumeric characters or "
                             "'-', start with a letter, and end with an alphanumeric character.\n")

    args = create_args(world, setup, "nooidc-0001")
    i = args.index("--oidc-config-id")
    r = rosa(*(args[:i] + args[i + 2:]))
    assert r.returncode == 1 and r.stderr.endswith("ERR: Expected a valid OIDC Config ID: EOF\n")

    args = create_args(world, setup, "nosubnets-0001")
    i = args.index("--subnet-ids")
    r = rosa(*(args[:i] + args[i + 2:]))
    assert r.returncode == 1 and r.stderr.endswith("ERR: Expected valid subnet IDs: EOF\n")

    r = rosa(*create_args(world, setup, "odd-0001", "--replicas", "3"))
    assert r.returncode == 1 and r.stderr.endswith(
        "ERR: Hosted clusters require that the number of compute nodes be a multiple of the number of private "
        "subnets 2, instead received: 3\n")
    r = rosa(*create_args(world, setup, "exp-0001", "--expiration", "1d"))
    assert r.returncode == 1 and r.stderr.startswith(
        'Error: invalid argument "1d" for "--expiration" flag: time: unknown unit "d" in duration "1d"\n')
    r = rosa(*create_args(world, setup, "labels-0001", "--default-mp-labels", "a=b"))
    assert r.returncode == 1 and r.stderr.endswith(
        "ERR: Setting the worker machine pool labels is not supported for hosted clusters\n")

    r = rosa("delete", "cluster", "-c", "does-not-exist")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    r = rosa("describe", "cluster", "-c", "does-not-exist")
    assert r.returncode == 1 and r.stderr == ("ERR: Failed to get cluster 'does-not-exist': There is no cluster with "
                                              "identifier or name 'does-not-exist'\n")
    r = rosa("create", "machinepool", "-c", "x", "mp1")
    assert r.returncode == 1 and r.stderr.startswith('Error: unknown command "mp1" for "rosa create machinepool"\n')
    r = rosa("describe", "cluster")
    assert r.returncode == 1 and r.stderr.startswith('Error: required flag(s) "cluster" not set\n')
    r = rosa("create", "cluster", "--cluster-name", "x", "--hosted-cp", "--mode", "sometimes")
    assert r.returncode == 1 and r.stderr == "ERR: Invalid mode. Allowed values are [auto manual]\n"


# ============================================================ OIDC and IAM roles
def test_oidc_config_and_operator_roles(world, rosa):
    config = first_json(rosa.ok("create", "oidc-config", "--mode", "auto", "--managed", "-y", "-o", "json").stdout)
    assert config["managed"] is True and config["issuer_url"].startswith("https://")
    listed = json.loads(rosa.ok("list", "oidc-config", "-o", "json").stdout)
    assert config["id"] in {c["id"] for c in listed}
    r = rosa.ok("create", "oidc-provider", "--oidc-config-id", config["id"], "--mode", "auto", "-y")
    assert "INFO: Created OIDC provider with ARN 'arn:aws:iam::" in r.stdout
    r = rosa.ok("create", "oidc-provider", "--oidc-config-id", config["id"], "--mode", "auto", "-y")
    assert r.stdout == "INFO: OIDC provider already exists\n"

    installer = {r["RoleType"]: r for r in json.loads(rosa.ok("list", "account-roles", "-o", "json").stdout)}
    assert set(installer) == {"Installer", "Support", "Worker"}
    assert installer["Installer"]["RoleName"] == "ManagedOpenShift-HCP-ROSA-Installer-Role"
    r = rosa.ok("create", "operator-roles", "--hosted-cp", "--prefix", "tst-ops", "--oidc-config-id", config["id"],
                "--installer-role-arn", installer["Installer"]["RoleARN"], "--mode", "auto", "-y")
    assert r.stdout.count("INFO: Created role 'tst-ops-") == 8
    roles = json.loads(rosa.ok("list", "operator-roles", "--prefix", "tst-ops", "-o", "json").stdout)
    assert len(roles) == 8 and all(x["RoleName"].startswith("tst-ops-") for x in roles)
    r = rosa("create", "operator-roles", "--prefix", "tst-ops", "--oidc-config-id", config["id"], "--mode", "auto",
             "-y")
    assert r.returncode == 1 and r.stderr == "ERR: role-arn is mandatory for prefix param flow.\n"

    r = rosa.ok("delete", "operator-roles", "--prefix", "tst-ops", "--mode", "auto", "-y")
    assert r.stdout.endswith("INFO: Successfully deleted the operator roles\n")
    r = rosa.ok("delete", "operator-roles", "--prefix", "tst-ops", "--mode", "auto", "-y")
    assert r.stdout == "INFO: There are no operator roles to delete for prefix 'tst-ops'\n"
    r = rosa.ok("delete", "oidc-config", "--oidc-config-id", config["id"], "--mode", "auto", "-y")
    assert "INFO: Successfully deleted the OIDC provider arn:aws:iam::" in r.stdout
    assert config["id"] not in {c["id"] for c in json.loads(rosa.ok("list", "oidc-config", "-o", "json").stdout)}


# ================================================================== lifecycle
def test_cluster_lifecycle(world, rosa, setup):
    name = "life-0001"
    r = rosa.ok(*create_args(world, setup, name, "--tags", "hcp-scale-run abc,hcp-scale-index 1",
                             "--expiration", "60m"))
    created = first_json(r.stdout)
    assert created["name"] == name and created["hypershift"]["enabled"] is True
    assert created["state"] in ("waiting", "pending", "installing")
    assert created["aws"]["tags"] == {"hcp-scale-run": "abc", "hcp-scale-index": "1"}
    assert list(created) == sorted(created) and created["display_name"] == name and created["migrations"] == []
    # the real rosa's unguarded INFO lines around the JSON, with the billing account defaulted
    assert r.stdout.startswith(f"INFO: Using '{world.world['aws_account_id']}' as billing account\n")
    assert "INFO: Operator Roles already exists\n" in r.stdout

    ready = wait_state(rosa, name, {"ready", "error"})
    assert ready["state"] == "ready", ready["status"]
    described = json.loads(rosa.ok("describe", "cluster", "-c", ready["id"], "-o", "json").stdout)
    assert described["id"] == ready["id"] and described["state"] == "ready"
    text = rosa.ok("describe", "cluster", "-c", name, "--color", "never").stdout
    assert f"Name:                       {name}\n" in text and "State:                      ready \n" in text
    table = rosa.ok("list", "clusters", "--color", "never").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STATE", "TOPOLOGY"]
    assert any(line.split()[:3] == [ready["id"], name, "ready"] for line in table[1:])

    admin = json.loads(rosa.ok("create", "admin", "-c", name, "-o", "json").stdout)
    assert list(admin) == ["api_url", "password", "username"]
    assert admin["username"] == "cluster-admin" and len(admin["password"]) == 23
    assert admin["api_url"] == ready["api"]["url"]
    r = rosa("create", "admin", "-c", name)
    assert r.returncode == 1 and r.stderr == f"ERR: Cluster '{name}' already has 'cluster-admin' user\n"

    pool = json.loads(rosa.ok("create", "machinepool", "-c", name, "--name", "mp1", "--replicas", "1",
                              "--instance-type", "m5.xlarge", "--labels", "a=b,c=d",
                              "--taints", "k=v:NoSchedule", "-y", "-o", "json").stdout)
    assert pool["id"] == "mp1" and pool["labels"] == {"a": "b", "c": "d"}
    pools = json.loads(rosa.ok("list", "machinepools", "-c", name, "-o", "json").stdout)
    assert "mp1" in {p["id"] for p in pools}
    one = json.loads(rosa.ok("describe", "machinepool", "-c", name, "--machinepool", "mp1", "-o", "json").stdout)
    assert one["id"] == "mp1"

    addon = world.world["rosa_addons"][0]
    r = rosa.ok("install", "addon", "--cluster", name, addon, "-y")
    assert r.stdout == (f"INFO: Add-on '{addon}' is now installing. To check the status run 'rosa list addons -c "
                        f"{name}'\n")
    listed = {a["id"]: a["state"] for a in json.loads(rosa.ok("list", "addons", "-c", name, "-o", "json").stdout)}
    assert listed[addon] in ("installing", "ready")

    r = rosa.ok("delete", "cluster", "-c", name, "-y")
    assert f"INFO: Cluster '{name}' will start uninstalling now\n" in r.stdout
    assert f"\trosa delete operator-roles --prefix {setup['prefix']}\n" in r.stdout
    assert f"\trosa delete oidc-provider --oidc-config-id {setup['oidc']}\n" in r.stdout
    r = rosa.ok("delete", "cluster", "-c", name, "-y")
    assert f"INFO: cluster '{name}' is already uninstalling\n" in r.stdout
    deadline = time.monotonic() + 60
    while True:
        r = rosa("describe", "cluster", "-c", name, "-o", "json")
        if r.returncode == 1:
            break
        assert json.loads(r.stdout)["state"] == "uninstalling"
        assert time.monotonic() < deadline, "the cluster was never gone"
        time.sleep(0.3)
    assert r.stderr == f"ERR: Failed to get cluster '{name}': There is no cluster with identifier or name '{name}'\n"


def test_faults_from_the_environment_fail_the_cluster(world, rosa, setup):
    name = "fail-0002"
    faults = {"HCP_SIM_FAULTS": json.dumps({"fail_clusters": [2], "stuck_clusters": [5]})}
    rosa.ok(*create_args(world, setup, name), env=faults)
    failed = wait_state(rosa, name, {"ready", "error"})
    assert failed["state"] == "error"
    assert failed["status"]["provision_error_code"] and failed["status"]["provision_error_message"]
    r = rosa.ok("logs", "install", "-c", name, "--tail", "50")
    assert "Installation failed" in r.stdout
    r = rosa("logs", "install", "-c", name, "--watch")
    assert r.returncode == 1 and r.stderr.endswith(f"ERR: There was an error installing cluster '{name}'\n")
    rosa.ok("delete", "cluster", "-c", name, "-y")
