"""Command-line options, ini keys and environment fallbacks of the scale harness.

Every option is declared once in ``OPTIONS``: its flag, ini key, environment
variable and help text (shared by all three), and a small parser that turns the
raw string into a value or raises ``pytest.UsageError``.  Precedence is
command line, then environment, then ini file, then the default.

The parsed, validated result is a plain ``Settings`` object; it is built on the
controller and shipped to xdist workers as JSON, so every worker sees the same
values (including the generated uuid).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shlex
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

ENV_PREFIX = "HCP_SCALE_"
KEEP_POLICIES = ("on-failure", "always", "never")
PLATFORMS = ("sim", "hypershift", "rosa")
MGMT_METRICS = ("auto", "on", "off")
# --sim-* options naming cluster indices -> the `python -m sim serve` flag of the same fault
SIM_CLUSTER_FAULTS = {"sim_fail_clusters": "--fail-clusters", "sim_stuck_clusters": "--stuck-clusters",
                      "sim_destroy_fail_clusters": "--destroy-fail-clusters",
                      "sim_load_fail_clusters": "--load-fail-clusters", "sim_cli_crash_clusters": "--cli-crash-clusters",
                      "sim_cli_hang_clusters": "--cli-hang-clusters", "sim_degraded_clusters": "--degraded-clusters"}
AVAILABLE_PLATFORMS = ("sim", "hypershift", "rosa")
MAX_CLUSTERS = 9999  # the index is zero-padded to four digits in ids and names
SEED_MAX = 6

_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


# --------------------------------------------------------------------- parsers
def parse_int(name: str, raw: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Parse an integer option, bounded."""
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise pytest.UsageError(f"{name}: expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise pytest.UsageError(f"{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise pytest.UsageError(f"{name}: must be at most {maximum}, got {value}")
    return value


def parse_duration(name: str, raw: str, allow_zero: bool = True) -> float:
    """Parse seconds given as a number (``90``, ``1.5``) or Go-style (``1h30m``, ``5m``, ``45s``)."""
    text = str(raw).strip().lower()
    match = _DURATION_RE.match(text) if text else None
    if not match or not any(match.groups()):
        if text.startswith("-"):
            raise pytest.UsageError(f"{name}: must not be negative, got {raw!r}")
        raise pytest.UsageError(f"{name}: expected seconds or a duration like 90s, 5m, 1h, got {raw!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    value = hours * 3600 + minutes * 60 + seconds
    if not allow_zero and value <= 0:
        raise pytest.UsageError(f"{name}: must be greater than zero, got {raw!r}")
    return value


def parse_workers(name: str, raw: str) -> list[int]:
    """Parse ``20`` or ``20,25,30`` (node-pool replicas, used round-robin by cluster index)."""
    parts = [p.strip() for p in str(raw).split(",")]
    if not parts or any(not p for p in parts):
        raise pytest.UsageError(f"{name}: expected an integer or a comma list of integers, got {raw!r}")
    values = []
    for part in parts:
        if not re.fullmatch(r"\d+", part):
            raise pytest.UsageError(f"{name}: {part!r} is not a whole number (in {raw!r})")
        value = int(part)
        if value < 1:
            raise pytest.UsageError(f"{name}: every value must be at least 1 (a cluster needs workers to finish installing), got {raw!r}")
        values.append(value)
    return values


def parse_index_list(name: str, raw: str) -> list[int]:
    """Parse a comma list of cluster indices such as ``3,7``."""
    text = str(raw).strip()
    if not text:
        return []
    out = []
    for part in text.split(","):
        out.append(parse_int(name, part, minimum=1))
    return sorted(set(out))


def parse_fraction(name: str, raw: str) -> float:
    """Parse a number between 0 and 1."""
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise pytest.UsageError(f"{name}: must be between 0 and 1, got {raw!r}")
    return value


def parse_positive_float(name: str, raw: str) -> float:
    """Parse a number greater than zero."""
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise pytest.UsageError(f"{name}: must be greater than zero, got {raw!r}")
    return value


def parse_choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = str(raw).strip()
        if value not in choices:
            raise pytest.UsageError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def parse_uuid(name: str, raw: str) -> str:
    """Accept any string usable as a folder name and an ES field (the old wrapper did too)."""
    value = str(raw).strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", value):
        raise pytest.UsageError(
            f"{name}: use 1-63 letters, digits, '.', '_' or '-' (starting with a letter or digit), got {raw!r}")
    return value


def parse_seed(name: str, raw: str) -> str:
    value = str(raw).strip()
    if not re.fullmatch(r"[a-z][a-z0-9]*", value):
        raise pytest.UsageError(
            f"{name}: use lowercase letters and digits, starting with a letter (it becomes part of DNS names), got {raw!r}")
    return value


def parse_shell_words(name: str, raw: str) -> list[str]:
    try:
        return shlex.split(str(raw))
    except ValueError as exc:
        raise pytest.UsageError(f"{name}: cannot split {raw!r} like a shell would: {exc}") from None


def parse_list_of_names(name: str, raw: str) -> list[str]:
    """Parse a comma-separated list of file names (no paths, none empty)."""
    items = [item.strip() for item in str(raw).split(",")]
    if not all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", item) for item in items):
        raise pytest.UsageError(f"{name}: expected comma-separated file names such as a.yml,b.yml, got {raw!r}")
    return items


def parse_id_list(name: str, raw: str) -> list[str]:
    """Parse a comma-separated list of identifiers (subnet ids, add-on ids): none empty, no duplicates."""
    items = [item.strip() for item in str(raw).split(",")]
    if not all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", item) for item in items):
        raise pytest.UsageError(f"{name}: expected comma-separated ids such as subnet-0a1,subnet-0b2, got {raw!r}")
    if len(set(items)) != len(items):
        raise pytest.UsageError(f"{name}: {raw!r} names an id twice")
    return items


def parse_word(name: str, raw: str) -> str:
    """A non-empty value without whitespace (names, versions, image references, tokens)."""
    value = str(raw).strip()
    if not value or any(ch.isspace() for ch in value):
        raise pytest.UsageError(f"{name}: expected a single word without spaces, got {raw!r}")
    return value


def _http_url(raw: str) -> str | None:
    """``raw`` as an http(s) URL without a trailing slash, or None when it is not one."""
    value = str(raw).strip()
    parts = urlsplit(value)
    return value.rstrip("/") if parts.scheme in ("http", "https") and parts.hostname else None


def parse_http_url(name: str, raw: str) -> str:
    value = _http_url(raw)
    if value is None:
        raise pytest.UsageError(f"{name}: expected an http(s) URL, got {raw!r}")
    return value


def parse_matching(pattern: str, example: str) -> Callable[[str, str], str]:
    """A parser accepting values that match ``pattern`` entirely (e.g. an AWS region)."""
    def parse(name: str, raw: str) -> str:
        value = str(raw).strip()
        if not re.fullmatch(pattern, value):
            raise pytest.UsageError(f"{name}: expected {example}, got {raw!r}")
        return value

    return parse


parse_region = parse_matching(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+", "an AWS region such as us-east-1")
parse_role_arn = parse_matching(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+",
                                "an IAM role ARN such as arn:aws:iam::123456789012:role/name")
parse_instance_type = parse_matching(r"[a-z][a-z0-9-]*\.[a-z0-9]+", "an instance type such as m5.xlarge")


def parse_domain(name: str, raw: str) -> str:
    value = str(raw).strip().rstrip(".")
    if len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+", value):
        raise pytest.UsageError(f"{name}: expected a DNS domain such as perf.example.com, got {raw!r}")
    return value


def parse_es_index(name: str, raw: str) -> str:
    """An Elasticsearch index name: lowercase, no spaces nor \\/*?"<>|,#:, not starting with -_+."""
    value = str(raw).strip()
    if (not value or value in (".", "..") or value != value.lower() or value[0] in "-_+"
            or re.search(r'[\s\\/*?"<>|,#:]', value) or len(value.encode()) > 255):
        raise pytest.UsageError(f"{name}: not a valid Elasticsearch index name (lowercase, no spaces or "
                                f'\\/*?"<>|,#:, not starting with - _ +), got {raw!r}')
    return value


def parse_path(name: str, raw: str) -> str:
    value = str(raw).strip()
    if not value:
        raise pytest.UsageError(f"{name}: empty path")
    return os.path.abspath(os.path.expanduser(value))


def parse_bool(name: str, raw: str) -> bool:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise pytest.UsageError(f"{name}: expected true or false, got {raw!r}")


def parse_existing_file(name: str, raw: str) -> str:
    path = parse_path(name, raw)
    if not os.path.isfile(path):
        raise pytest.UsageError(f"{name} {raw}: no such file")
    if not os.access(path, os.R_OK):
        raise pytest.UsageError(f"{name} {raw}: not readable")
    return path


def parse_existing_dir(name: str, raw: str) -> str:
    path = parse_path(name, raw)
    if not os.path.isdir(path):
        raise pytest.UsageError(f"{name} {raw}: no such directory")
    return path


def parse_es_url(name: str, raw: str) -> str:
    value = _http_url(raw)
    if value is None:
        raise pytest.UsageError(f"{name}: expected an http(s) URL")  # the value may hold credentials: not shown
    return value


OCM_ALIASES = {"production": "https://api.openshift.com", "prod": "https://api.openshift.com",
               "prd": "https://api.openshift.com", "staging": "https://api.stage.openshift.com",
               "stage": "https://api.stage.openshift.com", "stg": "https://api.stage.openshift.com",
               "integration": "https://api.integration.openshift.com", "int": "https://api.integration.openshift.com"}


def parse_ocm_url(name: str, raw: str) -> str:
    text = str(raw).strip()
    value = _http_url(OCM_ALIASES.get(text.lower(), text))
    if value is None:
        raise pytest.UsageError(f"{name}: expected a URL or one of production, staging, integration, got {raw!r}")
    return value


def parse_ocp_version(name: str, raw: str) -> str:
    value = str(raw).strip().lstrip("v")
    if not re.fullmatch(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", value):
        raise pytest.UsageError(f"{name}: expected a version like 4.17.3, got {raw!r}")
    return value


def parse_dns_label(name: str, raw: str) -> str:
    value = str(raw).strip()
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
        raise pytest.UsageError(f"{name}: use lowercase letters, digits and '-' (a DNS label), got {raw!r}")
    return value


def parse_labels(name: str, raw: str) -> dict[str, str]:
    """``k=v,k2=v2`` (a value may be empty) into a dict."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in str(raw).split(","))):
        key, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", key):
            raise pytest.UsageError(f"{name}: {part!r} is not key=value with a valid label key")
        out[key] = value
    return out


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_taints(name: str, raw: str) -> list[dict]:
    """``key=value:Effect,...`` into NodePool taints."""
    out = []
    for part in filter(None, (p.strip() for p in str(raw).split(","))):
        match = re.fullmatch(r"([^=:\s]+)(?:=([^:\s]*))?:(\w+)", part)
        if not match or match.group(3) not in TAINT_EFFECTS:
            raise pytest.UsageError(f"{name}: {part!r} is not key=value:Effect with Effect one of "
                                    f"{', '.join(TAINT_EFFECTS)}")
        taint = {"key": match.group(1), "effect": match.group(3)}
        if match.group(2):
            taint["value"] = match.group(2)
        out.append(taint)
    return out


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    parse: Callable[[str, str], Any]
    default: Any = None
    is_flag: bool = False  # store_true on the command line
    metavar: str | None = None
    env: bool = True
    envname: str | None = None   # an established variable name (OCM_TOKEN) instead of HCP_SCALE_<DEST>
    secret: bool = False          # never shown, logged or put on a child's argv

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def ini(self) -> str:
        return self.dest

    @property
    def envvar(self) -> str:
        return self.envname or ENV_PREFIX + self.dest.upper()


OPTIONS: tuple[Option, ...] = (
    Option("--platform", f"Where clusters are created: {'|'.join(PLATFORMS)} (default sim, a simulated management "
           "cluster started for the run).", parse_choice(PLATFORMS), "sim", metavar="NAME"),
    Option("--cluster-name-seed", "Seed for naming all clusters: lowercase letters and digits, at most 6 are used "
           "(longer seeds are truncated with a warning).", parse_seed, "perfsc", metavar="SEED"),
    Option("--cluster-count", "Total number of clusters to create (one test case each).",
           lambda n, r: parse_int(n, r, 1, MAX_CLUSTERS), 1, metavar="N"),
    Option("--workers", "Worker nodes (node-pool replicas) per cluster: an integer or a comma list such as 20,25,30 "
           "used round-robin by cluster index.", parse_workers, "3", metavar="N[,N...]"),
    Option("--batch-size", "At most this many cluster creations start in any --delay-between-batch window, across all "
           "xdist workers; without a delay, at most this many clusters install at once. 0 means no limit.",
           lambda n, r: parse_int(n, r, 0), 0, metavar="N"),
    Option("--delay-between-batch", "Length of the batch window in seconds (or 30s, 2m...); see --batch-size.",
           parse_duration, 0.0, metavar="SECONDS"),
    Option("--watcher-delay", "Seconds between the controller watcher's status lines.",
           lambda n, r: parse_duration(n, r, allow_zero=False), 60.0, metavar="SECONDS"),
    Option("--install-timeout", "Give up on a cluster that is not ready this long after its creation was requested "
           "(the cluster is kept).", lambda n, r: parse_duration(n, r, allow_zero=False), 3600.0, metavar="SECONDS"),
    Option("--destroy-timeout", "Give up waiting for a cluster to be destroyed after this long (it is listed for "
           "later deletion).", lambda n, r: parse_duration(n, r, allow_zero=False), 1800.0, metavar="SECONDS"),
    Option("--uuid", "Identifier of the run (generated when absent); reusing one continues in its run directory.",
           parse_uuid, None, metavar="UUID"),
    Option("--path", "Run directory (default /tmp/<uuid>).", parse_path, None, metavar="DIR"),
    Option("--cleanup", "Remove the run directory at the end, except the folders of kept clusters.",
           parse_bool, False, is_flag=True),
    Option("--cleanup-clusters", "Destroy every cluster that did not fail (the old wrapper's flag; the same as "
           "--keep-clusters on-failure, which is the default).", parse_bool, False, is_flag=True),
    Option("--keep-clusters", f"Which clusters survive the run: {'|'.join(KEEP_POLICIES)} (default on-failure: failed "
           "clusters are kept with a diagnostic dump, the others destroyed).", parse_choice(KEEP_POLICIES),
           "on-failure", metavar="POLICY"),
    Option("--wildcard-options", "Extra arguments appended to the create command, shell-quoted.",
           parse_shell_words, "", metavar="ARGS"),
    Option("--release-image", "OCP release image of the hosted clusters (default: the platform's).",
           parse_word, None, metavar="IMAGE"),
    Option("--sim-dir", "Use the simulated management cluster already served from DIR (python -m sim serve --dir "
           "DIR) instead of starting one for the run.", parse_path, None, metavar="DIR"),
    Option("--sim-speed", "Simulated seconds per real second in the simulated world.", parse_positive_float, 300.0,
           metavar="X"),
    Option("--sim-seed", "Seed of the simulated world's randomness (durations, --sim-failure-rate).",
           lambda n, r: parse_int(n, r, 0), 0, metavar="N"),
    Option("--sim-fail-clusters", "Cluster indices whose install fails in the simulated world, e.g. 3,7.",
           parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-failure-rate", "Fraction of clusters whose install fails in the simulated world (seeded, "
           "reproducible).", parse_fraction, 0.0, metavar="F"),
    Option("--sim-stuck-clusters", "Cluster indices that never finish installing (no failure condition either).",
           parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-load-fail-clusters", "Cluster indices whose load (kube-burner-ocp) fails in the simulated world.",
           parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-destroy-fail-clusters", "Cluster indices whose deletion never completes in the simulated world.",
           parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-cli-crash-clusters", "Cluster indices whose hypershift create panics after creating the "
           "HostedCluster, in the simulated world.", parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-cli-hang-clusters", "Cluster indices whose hypershift create hangs until killed, in the simulated "
           "world.", parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-degraded-clusters", "Cluster indices whose control plane stays Degraded and never Available, in "
           "the simulated world.", parse_index_list, "", metavar="I[,I...]"),
    Option("--sim-api-error-rate", "Fraction of the harness's management API requests the simulated world answers "
           "with 503 (retried with backoff).", parse_fraction, 0.0, metavar="F"),
    # ---- --platform hypershift: the management cluster, credentials and CLIs
    Option("--mgmt-kubeconfig", "Kubeconfig of the HyperShift management cluster (--platform hypershift).",
           parse_existing_file, None, metavar="PATH"),
    Option("--mgmt-cluster", "Name or ID of the management cluster, looked up through OCM (base domain, region, "
           "kubeconfig).", parse_word, None, metavar="NAME_OR_ID"),
    Option("--ocm-url", "OCM API URL or alias (production, staging, integration).", parse_ocm_url,
           "https://api.stage.openshift.com", metavar="URL"),
    Option("--ocm-token-url", "OCM single sign-on token URL used to refresh --ocm-token.", parse_http_url,
           "https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token", metavar="URL"),
    Option("--ocm-token", "OCM offline token; never put on a command line or in a log (prefer the environment).",
           parse_word, None, metavar="TOKEN", envname="OCM_TOKEN", secret=True),
    Option("--ocm-cli", "Path of the ocm binary (default: download the release named by --ocm-cli-version).",
           parse_path, None, metavar="PATH"),
    Option("--ocm-cli-version", "ocm release to download when --ocm-cli is not given (latest, or e.g. 1.0.15).",
           parse_word, "latest", metavar="VERSION"),
    Option("--hypershift-cli", "Path of the hypershift binary (default: build it from --hypershift-cli-version, "
           "or extract it from --hypershift-image).", parse_path, None, metavar="PATH"),
    Option("--hypershift-cli-version", "Git ref (branch, tag or commit) to build the hypershift CLI from.",
           parse_word, "main", metavar="REF"),
    Option("--hypershift-image", "HyperShift operator image to extract the hypershift CLI from (oc image extract).",
           parse_word, None, metavar="IMAGE"),
    Option("--hypershift-repo", "Git repository the hypershift CLI is built from.", parse_word,
           "https://github.com/openshift/hypershift", metavar="URL"),
    Option("--github-api-url", "GitHub API base URL used to find CLI releases.", parse_http_url,
           "https://api.github.com", metavar="URL"),
    Option("--pull-secret-file", "OCP pull secret (JSON) for the hosted clusters.", parse_existing_file, None,
           metavar="PATH"),
    Option("--aws-account-file", "AWS shared credentials file; the profile used needs aws_access_key_id and "
           "aws_secret_access_key.", parse_existing_file, None, metavar="PATH"),
    Option("--aws-profile", "Profile of --aws-account-file to use (needed when it has more than one); "
           "--platform rosa: the AWS profile rosa uses (AWS_PROFILE).",
           parse_word, None, metavar="NAME"),
    Option("--sts-creds", "AWS STS session credentials (JSON of aws sts get-session-token) for the hypershift CLI; "
           "needs --role-arn.", parse_existing_file, None, metavar="PATH"),
    Option("--role-arn", "IAM role the hypershift CLI assumes with --sts-creds.", parse_role_arn, None, metavar="ARN"),
    Option("--base-domain", "Base domain of the hosted clusters (default: the management cluster's).", parse_domain,
           None, metavar="DOMAIN"),
    Option("--region", "AWS region of the hosted clusters (default: the management cluster's).", parse_region,
           None, metavar="REGION"),
    Option("--ocp-version", "OCP version of the hosted clusters, e.g. 4.17.3 (sets the release image).",
           parse_ocp_version, None, metavar="X.Y.Z"),
    Option("--oidc-config-id", "OCM OIDC configuration whose issuer URL the hosted clusters use "
           "(hypershift: --oidc-issuer-url; looked up in OCM; never deleted at cleanup).", parse_word, None,
           metavar="ID"),
    Option("--must-gather-all", "Dump every cluster (hypershift dump cluster), not only the failed ones.",
           parse_bool, False, is_flag=True),
    Option("--mgmt-must-gather", "Dump the management cluster's HyperShift state into the run directory at the end.",
           parse_bool, False, is_flag=True),
    Option("--machinepool-name", "Add a node pool of this name to every cluster after it is ready, and time it.",
           parse_dns_label, None, metavar="NAME"),
    Option("--machinepool-labels", "Node labels of the extra node pool (comma list of key=value).",
           parse_labels, "node-role.kubernetes.io/workload=", metavar="K=V[,K=V]"),
    Option("--machinepool-taints", "Taints of the extra node pool (comma list of key=value:Effect).",
           parse_taints, "role=workload:NoSchedule", metavar="K=V:EFFECT[,...]"),
    Option("--machinepool-flavour", "Instance type of the extra node pool.", parse_instance_type, "m5.xlarge",
           metavar="TYPE"),
    Option("--machinepool-replicas", "Nodes in the extra node pool.", lambda n, r: parse_int(n, r, 0), 2,
           metavar="N"),
    Option("--machinepool-wait", "Wait until the extra node pool's nodes are Ready (its readiness is timed).",
           parse_bool, False, is_flag=True),
    Option("--machinepool-wait-cycles", "How long to wait for the extra node pool, in 5-second cycles.",
           lambda n, r: parse_int(n, r, 1), 60, metavar="N"),
    # ---- --platform rosa: ROSA hosted control planes through the rosa CLI (the old wrapper's ROSA options)
    Option("--rosa-cli", "Path of the rosa binary (--platform rosa; default: download the release named by "
           "--rosa-cli-version).", parse_path, None, metavar="PATH"),
    Option("--rosa-cli-version", "rosa release to download when --rosa-cli is not given (latest, or e.g. 1.2.64).",
           parse_word, "latest", metavar="VERSION"),
    Option("--rosa-init", "Run rosa init before creating clusters (--platform rosa).", parse_bool, False,
           is_flag=True),
    Option("--rosa-env", "ROSA environment to log in to: production, staging, integration or an OCM URL "
           "(--platform rosa; default: rosa's, production).", parse_word, None, metavar="ENV"),
    Option("--rosa-multi-az", "Multi-AZ ROSA clusters (--platform rosa).", parse_bool, False, is_flag=True),
    Option("--rosa-addons", "Comma list of add-ons installed after each cluster is ready (--platform rosa).",
           parse_id_list, None, metavar="A[,B]"),
    Option("--rosa-flavour", "Compute machine type of ROSA clusters (--platform rosa).", parse_instance_type, None,
           metavar="TYPE"),
    Option("--rosa-version", "OCP version of ROSA clusters (--platform rosa).", parse_ocp_version, None,
           metavar="X.Y.Z"),
    Option("--rosa-subnet-ids", "Subnets of the VPC the ROSA clusters are installed in: private and public, comma "
           "list (--platform rosa; hosted control planes need a VPC of your own).", parse_id_list, None,
           metavar="ID[,ID]"),
    Option("--rosa-poll-interval", "Seconds between two listings of the run's clusters (one rosa list clusters for "
           "all of them; --platform rosa).", lambda n, r: parse_duration(n, r, allow_zero=False), 15.0,
           metavar="SECONDS"),
    Option("--expire", "Minutes until a ROSA cluster expires and is deleted (--platform rosa).",
           lambda n, r: parse_int(n, r, 1), None, metavar="MINUTES"),
    # ---- accepted now, used by later parts of the harness (Elasticsearch, load)
    Option("--es-url", "Elasticsearch URL for the timing documents (credentials in the URL or ES_USERNAME/"
           "ES_PASSWORD/ES_API_KEY); without it nothing is uploaded.", parse_es_url, None, metavar="URL",
           secret=True),
    Option("--es-index", "Elasticsearch index of the timing documents.", parse_es_index, "osde2e-install-timings",
           metavar="INDEX"),
    Option("--es-insecure", "Do not verify Elasticsearch's TLS certificate.", parse_bool, False, is_flag=True),
    Option("--es-index-retry", "Attempts to index a document.", lambda n, r: parse_int(n, r, 1), 5, metavar="N"),
    Option("--es-index-only", "Upload every timing document of the finished run directory PATH to --es-url, "
           "then exit (uploading twice never duplicates).", parse_existing_dir, None, metavar="PATH"),
    Option("--only-delete-clusters", "Create nothing: destroy the clusters the run in --path left behind (kept, "
           "pending deletion, or never finished), one test each; with --cluster-name-seed also every HostedCluster "
           "named after that seed on the management cluster.", parse_bool, False, is_flag=True),
    Option("--add-cluster-load", "Load every ready cluster with kube-burner-ocp (--workload) before it is "
           "destroyed; a failed load fails the test and keeps the cluster.", parse_bool, False, is_flag=True),
    Option("--cluster-load-duration", "Churn duration of the load (kube-burner --churn-duration), e.g. 4h, 30m.",
           parse_duration, 4 * 3600.0, metavar="DURATION"),
    Option("--cluster-load-jobs-per-worker", "Load iterations per worker node.", lambda n, r: parse_int(n, r, 0),
           10, metavar="N"),
    Option("--cluster-load-job-variation", "Random variation of the iterations, in percent (also "
           "--cluster-load-job-distribution).", lambda n, r: parse_int(n, r, 0, 100), 0, metavar="PERCENT"),
    Option("--workload", "kube-burner-ocp workload run as the load (cluster-density-v2, cluster-density-ms, ...).",
           parse_dns_label, "cluster-density-v2", metavar="NAME"),
    Option("--kube-burner-cli", "Path of the kube-burner-ocp binary (default: download the release named by "
           "--kube-burner-version).", parse_path, None, metavar="PATH"),
    Option("--kube-burner-version", "kube-burner-ocp release to download when --kube-burner-cli is not given "
           "(latest, or e.g. 1.12.1).", parse_word, "latest", metavar="VERSION"),
    Option("--load-timeout", "Give up on a cluster's load after this long (kube-burner --timeout; default: the "
           "churn duration plus one hour); the test fails and the cluster is kept.",
           lambda n, r: parse_duration(n, r, allow_zero=False), None, metavar="DURATION"),
    Option("--load-barrier", "Start no cluster's load until every cluster of the run is ready (or failed), as the "
           "old wrapper did; needs an xdist worker per cluster.", parse_bool, False, is_flag=True),
    Option("--cluster-load-churn-cycles", "Churn rounds of the load (kube-burner --churn-cycles; 0: no limit, "
           "--cluster-load-duration ends the churn).", lambda n, r: parse_int(n, r, 0), 0, metavar="N"),
    Option("--cluster-load-churn-delay", "Pause between churn rounds (kube-burner --churn-delay).",
           parse_duration, 120.0, metavar="DURATION"),
    Option("--cluster-load-churn-percent", "Share of the load's namespaces re-created per churn round "
           "(kube-burner --churn-percent).", lambda n, r: parse_int(n, r, 1, 100), 10, metavar="PERCENT"),
    Option("--load-es-index", "Elasticsearch index (on --es-url) of kube-burner's own metrics and job summaries.",
           parse_es_index, "ripsaw-kube-burner", metavar="INDEX"),
    Option("--mgmt-metrics", f"Scrape the management cluster's Prometheus for each loaded cluster's control plane "
           f"(--mgmt-metrics-profile in its HCP namespace): {'|'.join(MGMT_METRICS)} (default auto: when the "
           f"management cluster serves the openshift-monitoring/prometheus-k8s route; on: required).",
           parse_choice(MGMT_METRICS), "auto", metavar="|".join(MGMT_METRICS)),
    Option("--mgmt-metrics-profile", "kube-burner-ocp metrics profile(s) scraped from the management cluster, "
           "comma-separated.", parse_list_of_names, "etcd-density-metrics-hcp.yml", metavar="FILE[,FILE]"),
)

# Old spellings kept working.
ALIASES = {"--cluster-load-job-distribution": "--cluster-load-job-variation"}

OPTION_BY_DEST = {opt.dest: opt for opt in OPTIONS}


def addoption(parser: pytest.Parser) -> None:
    """Register every option with the same help on the command line and in the ini file."""
    group = parser.getgroup("hcp-scale", "HyperShift scale harness")
    aliases: dict[str, list[str]] = {}
    for old, new in ALIASES.items():
        aliases.setdefault(new, []).append(old)
    for opt in OPTIONS:
        env_note = f" [env {opt.envvar}]" if opt.env else ""
        text = f"{opt.help}{env_note} [ini {opt.ini}]"
        names = [opt.flag, *aliases.get(opt.flag, [])]
        if opt.is_flag:
            group.addoption(*names, action="store_true", default=None, dest=opt.dest, help=text)
            parser.addini(opt.ini, opt.help, type="bool", default=False)
        else:
            group.addoption(*names, action="store", default=None, dest=opt.dest, metavar=opt.metavar, help=text)
            parser.addini(opt.ini, opt.help, type="string", default=None)


def raw_value(config: pytest.Config, opt: Option) -> tuple[Any, str]:
    """Return the raw value and where it came from: cli, env, ini or default."""
    value = config.getoption(opt.dest)
    if value is not None:
        return value, "cli"
    if opt.env and os.environ.get(opt.envvar) not in (None, ""):
        return os.environ[opt.envvar], "env"
    ini = config.getini(opt.ini)
    if opt.is_flag:
        if ini:
            return True, "ini"
    elif ini not in (None, ""):
        return ini, "ini"
    return opt.default, "default"


# -------------------------------------------------------------------- settings
@dataclass
class Settings:
    platform: str
    cluster_name_seed: str
    name_prefix: str
    cluster_count: int
    workers: list[int]
    batch_size: int
    delay_between_batch: float
    watcher_delay: float
    install_timeout: float
    destroy_timeout: float
    uuid: str
    path: str
    cleanup: bool
    keep_clusters: str
    wildcard_options: list[str]
    release_image: str | None
    sim_dir: str | None
    sim_speed: float
    sim_seed: int
    sim_fail_clusters: list[int]
    sim_failure_rate: float
    sim_stuck_clusters: list[int]
    sim_destroy_fail_clusters: list[int]
    sim_load_fail_clusters: list[int] = field(default_factory=list)
    sim_cli_crash_clusters: list[int] = field(default_factory=list)
    sim_cli_hang_clusters: list[int] = field(default_factory=list)
    sim_degraded_clusters: list[int] = field(default_factory=list)
    sim_api_error_rate: float = 0.0
    mgmt_kubeconfig: str | None = None
    mgmt_cluster: str | None = None
    ocm_url: str = "https://api.stage.openshift.com"
    ocm_token_url: str = ""
    ocm_token: str | None = None
    ocm_cli: str | None = None
    ocm_cli_version: str = "latest"
    hypershift_cli: str | None = None
    hypershift_cli_version: str = "main"
    hypershift_image: str | None = None
    hypershift_repo: str = "https://github.com/openshift/hypershift"
    github_api_url: str = "https://api.github.com"
    pull_secret_file: str | None = None
    aws_account_file: str | None = None
    aws_profile: str | None = None
    sts_creds: str | None = None
    role_arn: str | None = None
    base_domain: str | None = None
    region: str | None = None
    ocp_version: str | None = None
    oidc_config_id: str | None = None
    must_gather_all: bool = False
    mgmt_must_gather: bool = False
    machinepool_name: str | None = None
    machinepool_labels: dict = field(default_factory=dict)
    machinepool_taints: list = field(default_factory=list)
    machinepool_flavour: str = "m5.xlarge"
    machinepool_replicas: int = 2
    machinepool_wait: bool = False
    machinepool_wait_cycles: int = 60
    rosa_cli: str | None = None
    rosa_init: bool = False
    rosa_env: str | None = None
    rosa_multi_az: bool = False
    rosa_addons: list[str] | None = None
    rosa_flavour: str | None = None
    rosa_version: str | None = None
    rosa_cli_version: str = "latest"
    rosa_subnet_ids: list[str] | None = None
    rosa_poll_interval: float = 15.0
    expire: int | None = None
    es_url: str | None = None
    es_index: str = "osde2e-install-timings"
    es_insecure: bool = False
    es_index_retry: int = 5
    es_index_only: str | None = None
    add_cluster_load: bool = False
    cluster_load_duration: float = 4 * 3600.0
    cluster_load_jobs_per_worker: int = 10
    cluster_load_job_variation: int = 0
    workload: str = "cluster-density-v2"
    kube_burner_cli: str | None = None
    kube_burner_version: str = "latest"
    load_timeout: float | None = None
    load_barrier: bool = False
    cluster_load_churn_cycles: int = 0
    cluster_load_churn_delay: float = 120.0
    cluster_load_churn_percent: int = 10
    load_es_index: str = "ripsaw-kube-burner"
    mgmt_metrics: str = "auto"
    mgmt_metrics_profile: list = field(default_factory=lambda: ["etcd-density-metrics-hcp.yml"])
    only_delete_clusters: bool = False
    delete_name_prefix: str | None = None  # --only-delete-clusters with --cluster-name-seed: also these names
    uuid_generated: bool = False
    warnings: list[str] = field(default_factory=list)

    def secrets(self) -> list[str]:
        """Values that must never be shown, logged or passed on a command line."""
        return [getattr(self, opt.dest) for opt in OPTIONS if opt.secret and getattr(self, opt.dest)]

    def release(self, platform_default: str) -> str:
        if self.release_image:
            return self.release_image
        if self.ocp_version:
            return f"quay.io/openshift-release-dev/ocp-release:{self.ocp_version}-x86_64"
        return platform_default

    def workers_for(self, index: int) -> int:
        """Node-pool replicas of cluster ``index`` (1-based), round-robin over the list."""
        return self.workers[(index - 1) % len(self.workers)]

    def to_json(self, include_secrets: bool = False) -> dict:
        data = dataclasses.asdict(self)
        if not include_secrets:
            for opt in OPTIONS:
                if opt.secret and data.get(opt.dest):
                    data[opt.dest] = None
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Settings":
        return cls(**data)


def go_duration(seconds: float) -> str:
    """Seconds as a Go duration string (5400 -> 1h30m0s), as kube-burner and hypershift take them."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{secs}s"


def build_settings(config: pytest.Config) -> Settings:
    """Parse and cross-check every option; raise ``pytest.UsageError`` on bad input."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        raw, source = raw_value(config, opt)
        sources[opt.dest] = source
        if raw is None:
            values[opt.dest] = None
        elif opt.is_flag and isinstance(raw, bool):
            values[opt.dest] = raw
        else:
            values[opt.dest] = opt.parse(opt.flag, raw)

    warnings: list[str] = []
    platform = values["platform"]
    if platform not in AVAILABLE_PLATFORMS:
        raise pytest.UsageError(
            f"--platform {platform}: not available yet; this version supports {', '.join(AVAILABLE_PLATFORMS)}")

    seed = values["cluster_name_seed"]
    prefix = seed[:SEED_MAX]
    if prefix != seed:
        warnings.append(f"--cluster-name-seed {seed!r} is longer than {SEED_MAX} characters; using {prefix!r}")

    keep = values["keep_clusters"]
    if values["cleanup_clusters"] and sources["keep_clusters"] != "default" and keep != "on-failure":
        raise pytest.UsageError(
            f"--cleanup-clusters destroys the clusters that did not fail, which contradicts --keep-clusters {keep}")

    if sources["delay_between_batch"] != "default" and values["delay_between_batch"] > 0 and values["batch_size"] == 0:
        raise pytest.UsageError("--delay-between-batch needs --batch-size (how many creations each window allows)")

    if sources["sim_dir"] != "default" and platform != "sim":
        raise pytest.UsageError(f"--sim-dir only applies to --platform sim, not {platform}")
    if values["sim_dir"]:
        for dest in ("sim_speed", "sim_seed", "sim_failure_rate", "sim_api_error_rate", *SIM_CLUSTER_FAULTS):
            if sources[dest] != "default":
                flag = OPTION_BY_DEST[dest].flag
                raise pytest.UsageError(f"{flag} configures a world started for the run; with --sim-dir give it to "
                                        f"python -m sim serve ({flag.replace('--sim-', '--')})")
    if values["sim_dir"] and not os.path.isfile(os.path.join(values["sim_dir"], "kubeconfig")):
        raise pytest.UsageError(f"--sim-dir {values['sim_dir']}: no simulated world is served there (no kubeconfig; "
                                "start one with: python -m sim serve --dir DIR)")
    count = values["cluster_count"]
    for dest in SIM_CLUSTER_FAULTS:
        beyond = [i for i in values[dest] if i > count]
        if beyond:
            flag = OPTION_BY_DEST[dest].flag
            raise pytest.UsageError(f"{flag}: cluster index {beyond[0]} is beyond --cluster-count {count}")

    check_platform_options(platform, values, sources, warnings)
    check_load_options(config, values, sources)

    delete_prefix = check_delete_options(values, sources, prefix)

    generated = values["uuid"] is None
    run_uuid = values["uuid"] or str(uuidlib.uuid4())
    known = {f.name for f in dataclasses.fields(Settings)}
    kwargs = {dest: value for dest, value in values.items() if dest in known}
    kwargs["delete_name_prefix"] = delete_prefix
    kwargs.update(platform=platform, name_prefix=prefix, keep_clusters=keep, uuid=run_uuid,
                  path=values["path"] or os.path.join("/tmp", run_uuid), cleanup=bool(values["cleanup"]),
                  uuid_generated=generated, warnings=warnings)
    return Settings(**kwargs)


def check_delete_options(values: dict, sources: dict, prefix: str) -> str | None:
    """``--only-delete-clusters``: the run to clean up must be in --path; its uuid becomes this run's.

    Returns the name prefix to look for on the management cluster (only with an explicit --cluster-name-seed).
    """
    if not values["only_delete_clusters"]:
        return None
    if values["es_index_only"]:
        raise pytest.UsageError("--only-delete-clusters and --es-index-only are separate runs; give one")
    path = values["path"]
    if not path:
        raise pytest.UsageError("--only-delete-clusters needs --path: the run directory of the run whose clusters "
                                "to delete")
    try:
        with open(os.path.join(path, "uuid")) as fh:
            run_uuid = fh.read().strip()
    except OSError:
        run_uuid = ""
    if not run_uuid:
        raise pytest.UsageError(f"--only-delete-clusters: no run in --path {path} (no uuid file); give the run "
                                "directory of the run whose clusters to delete")
    if values["uuid"] and values["uuid"] != run_uuid:
        raise pytest.UsageError(f"--uuid {values['uuid']}: the run in --path {path} is {run_uuid}")
    seed_given = sources["cluster_name_seed"] != "default"
    if not os.path.isfile(os.path.join(path, "ledger.jsonl")) and not seed_given:
        raise pytest.UsageError(f"--only-delete-clusters: the run in --path {path} created no cluster (no "
                                "ledger.jsonl); give --cluster-name-seed to delete clusters by name")
    if values["platform"] == "sim" and not values["sim_dir"] and not os.path.isfile(
            os.path.join(path, "sim", "world.json")):
        raise pytest.UsageError(f"--only-delete-clusters: the run in --path {path} did not start its own simulated "
                                "world (no sim/ folder); give the world it used with --sim-dir")
    values["uuid"] = run_uuid
    return prefix if seed_given else None


# Options that only mean something on one platform.
PLATFORM_ONLY = {
    "hypershift": ("mgmt_kubeconfig", "mgmt_cluster", "ocm_cli", "hypershift_cli", "hypershift_image",
                   "pull_secret_file", "aws_account_file", "sts_creds", "role_arn", "must_gather_all",
                   "mgmt_must_gather"),
    "rosa": ("rosa_cli", "rosa_cli_version", "rosa_init", "rosa_env", "rosa_multi_az", "rosa_addons", "rosa_flavour",
             "rosa_version", "rosa_subnet_ids", "rosa_poll_interval", "expire"),
}


# Options of more than one platform (but not all).
PLATFORMS_OF = {"aws_profile": ("hypershift", "rosa")}


def check_platform_options(platform: str, values: dict, sources: dict, warnings: list[str]) -> None:
    """Cross-check options against the platform; raise UsageError naming what is wrong."""
    given = {dest for dest, source in sources.items() if source != "default"}
    for dest, owners in PLATFORMS_OF.items():
        if dest in given and platform not in owners:
            raise pytest.UsageError(f"{OPTION_BY_DEST[dest].flag} applies to --platform {' or '.join(owners)}, "
                                    f"not {platform}")
    for owner, dests in PLATFORM_ONLY.items():
        if owner == platform:
            continue
        for dest in dests:
            if dest in given:
                raise pytest.UsageError(f"{OPTION_BY_DEST[dest].flag} applies to --platform {owner}, not {platform}")
    if values["release_image"] and values["ocp_version"]:
        raise pytest.UsageError("--release-image and --ocp-version both choose the release; give one")
    if values["sts_creds"] and not values["role_arn"]:
        raise pytest.UsageError("--sts-creds needs --role-arn (the role the hypershift CLI assumes)")
    if sources.get("ocm_token") == "cli":
        warnings.append("--ocm-token on the command line is visible to other users of this machine; "
                        "prefer the OCM_TOKEN environment variable")
    if platform == "rosa":
        check_rosa_options(values, sources)
        return
    if platform != "hypershift":
        return
    if not values["mgmt_kubeconfig"] and not values["mgmt_cluster"]:
        raise pytest.UsageError("--platform hypershift needs --mgmt-kubeconfig or --mgmt-cluster")
    if values["mgmt_cluster"] and not values["mgmt_kubeconfig"] and not values["ocm_token"]:
        raise pytest.UsageError("--mgmt-cluster is looked up through OCM: give --ocm-token or set OCM_TOKEN")
    if values["oidc_config_id"] and not values["ocm_token"]:
        raise pytest.UsageError("--oidc-config-id is looked up through OCM: give --ocm-token or set OCM_TOKEN")
    if not values["pull_secret_file"]:
        raise pytest.UsageError("--platform hypershift needs --pull-secret-file")
    check_pull_secret(values["pull_secret_file"])
    if not values["aws_account_file"] and not values["role_arn"]:
        raise pytest.UsageError("--platform hypershift needs AWS credentials: --aws-account-file, or --sts-creds "
                                "with --role-arn")
    if values["aws_account_file"]:
        aws_profile(values["aws_account_file"], values["aws_profile"])


def check_rosa_options(values: dict, sources: dict) -> None:
    """What ``--platform rosa`` needs before any cluster is created."""
    if not values["ocm_token"]:
        raise pytest.UsageError("--platform rosa logs in to OCM with your offline token: set OCM_TOKEN "
                                "(or give --ocm-token)")
    if not values["rosa_subnet_ids"]:
        raise pytest.UsageError("--platform rosa needs --rosa-subnet-ids: hosted control planes are installed in a "
                                "VPC of your own (its private and public subnets)")
    # the cluster faults reach a simulated world through its rosa stand-in; these only through serve's flags
    for dest in ("sim_speed", "sim_seed", "sim_api_error_rate", "sim_load_fail_clusters", "sim_cli_crash_clusters",
                 "sim_cli_hang_clusters"):
        if sources[dest] != "default":
            raise pytest.UsageError(f"{OPTION_BY_DEST[dest].flag} configures a world started for the run "
                                    "(--platform sim); with --platform rosa give it to python -m sim serve")


def check_load_options(config: pytest.Config, values: dict, sources: dict) -> None:
    given = [dest for dest in ("load_barrier", "load_timeout", "kube_burner_cli", "workload",
                               "cluster_load_churn_cycles", "cluster_load_churn_delay", "cluster_load_churn_percent",
                               "mgmt_metrics", "mgmt_metrics_profile", "load_es_index")
             if sources[dest] != "default"]
    if given and not values["add_cluster_load"]:
        raise pytest.UsageError(f"{OPTION_BY_DEST[given[0]].flag} needs --add-cluster-load")
    if values["load_barrier"]:
        processes = xdist_processes(config)
        if processes < values["cluster_count"]:
            raise pytest.UsageError(
                f"--load-barrier holds every cluster's load until all {values['cluster_count']} clusters are ready, so "
                f"they must all be in flight at once: use -n {values['cluster_count']} (have {processes} process(es))")


def xdist_processes(config: pytest.Config) -> int:
    """How many clusters can be in flight at once: xdist workers, or 1 without xdist."""
    value = getattr(config.option, "numprocesses", None)
    if value in (None, 0, "0"):
        return 1
    if isinstance(value, str):
        return os.cpu_count() or 1 if value in ("auto", "logical") else int(value)
    return int(value)


def check_pull_secret(path: str) -> None:
    import json

    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--pull-secret-file {path}: not valid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("auths"), dict):
        raise pytest.UsageError(f"--pull-secret-file {path}: expected a JSON object with \"auths\"")


def aws_profile(path: str, profile: str | None) -> tuple[str, str, str]:
    """Return (profile, access key id, secret key) from an AWS credentials file, or raise UsageError."""
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise pytest.UsageError(f"--aws-account-file {path}: not an AWS credentials file "
                                f"({type(exc).__name__})") from None
    sections = parser.sections()
    if not sections:
        raise pytest.UsageError(f"--aws-account-file {path}: no profile in it")
    if profile is None:
        if len(sections) > 1:
            raise pytest.UsageError(f"--aws-account-file {path} has {len(sections)} profiles "
                                    f"({', '.join(sections)}): choose one with --aws-profile")
        profile = sections[0]
    elif profile not in sections:
        raise pytest.UsageError(f"--aws-profile {profile}: not in {path} (it has {', '.join(sections)})")
    missing = [key for key in ("aws_access_key_id", "aws_secret_access_key") if not parser[profile].get(key)]
    if missing:
        raise pytest.UsageError(f"--aws-account-file {path}: profile {profile} lacks {' and '.join(missing)}")
    return profile, parser[profile]["aws_access_key_id"], parser[profile]["aws_secret_access_key"]


SETTINGS_KEY = pytest.StashKey[Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    addoption(parser)


def get_settings(config: pytest.Config) -> Settings:
    """Return the run's settings: from the controller on workers, parsed once otherwise."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and "hcp_settings" in workerinput:
            settings = Settings.from_json(workerinput["hcp_settings"])
        else:
            settings = build_settings(config)
        config.stash[SETTINGS_KEY] = settings
    return settings


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Parse early so bad input is a usage error before anything else happens.
    get_settings(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Ship the controller's settings to an xdist worker (plain JSON)."""
    node.workerinput["hcp_settings"] = get_settings(node.config).to_json()


def markdown_table() -> str:
    """The options table of README.md (``python -m plugins.options``)."""
    rows = ["| option | ini key | environment | default | meaning |", "|---|---|---|---|---|"]
    for opt in OPTIONS:
        default = "off" if opt.is_flag else ("—" if opt.default in (None, "") else str(opt.default))
        if opt.metavar == "DURATION" and isinstance(opt.default, float):
            default = go_duration(opt.default)
        elif isinstance(opt.default, list):
            default = ",".join(map(str, opt.default))
        if opt.dest == "uuid":
            default = "generated"
        elif opt.dest == "path":
            default = "/tmp/<uuid>"
        text = opt.help.replace("|", "\\|")
        rows.append(f"| `{opt.flag}` | `{opt.ini}` | `{opt.envvar}` | {default} | {text} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
