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

import pytest

ENV_PREFIX = "HCP_SCALE_"
KEEP_POLICIES = ("on-failure", "always", "never")
PLATFORMS = ("sim", "hypershift", "rosa")
AVAILABLE_PLATFORMS = ("sim",)
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


def parse_text(name: str, raw: str) -> str:
    return str(raw)


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

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def ini(self) -> str:
        return self.dest

    @property
    def envvar(self) -> str:
        return ENV_PREFIX + self.dest.upper()


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
           parse_text, None, metavar="IMAGE"),
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
    Option("--sim-destroy-fail-clusters", "Cluster indices whose deletion never completes in the simulated world.",
           parse_index_list, "", metavar="I[,I...]"),
)

OPTION_BY_DEST = {opt.dest: opt for opt in OPTIONS}


def addoption(parser: pytest.Parser) -> None:
    """Register every option with the same help on the command line and in the ini file."""
    group = parser.getgroup("hcp-scale", "HyperShift scale harness")
    for opt in OPTIONS:
        env_note = f" [env {opt.envvar}]" if opt.env else ""
        text = f"{opt.help}{env_note} [ini {opt.ini}]"
        if opt.is_flag:
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.dest, help=text)
            parser.addini(opt.ini, opt.help, type="bool", default=False)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=opt.dest, metavar=opt.metavar, help=text)
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
    uuid_generated: bool = False
    warnings: list[str] = field(default_factory=list)

    def workers_for(self, index: int) -> int:
        """Node-pool replicas of cluster ``index`` (1-based), round-robin over the list."""
        return self.workers[(index - 1) % len(self.workers)]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Settings":
        return cls(**data)


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
        for dest in ("sim_speed", "sim_seed", "sim_fail_clusters", "sim_failure_rate", "sim_stuck_clusters",
                     "sim_destroy_fail_clusters"):
            if sources[dest] != "default":
                flag = OPTION_BY_DEST[dest].flag
                raise pytest.UsageError(f"{flag} configures a world started for the run; with --sim-dir give it to "
                                        f"python -m sim serve ({flag.replace('--sim-', '--')})")
    if values["sim_dir"] and not os.path.isfile(os.path.join(values["sim_dir"], "kubeconfig")):
        raise pytest.UsageError(f"--sim-dir {values['sim_dir']}: no simulated world is served there (no kubeconfig; "
                                "start one with: python -m sim serve --dir DIR)")
    count = values["cluster_count"]
    for dest in ("sim_fail_clusters", "sim_stuck_clusters", "sim_destroy_fail_clusters"):
        beyond = [i for i in values[dest] if i > count]
        if beyond:
            flag = OPTION_BY_DEST[dest].flag
            raise pytest.UsageError(f"{flag}: cluster index {beyond[0]} is beyond --cluster-count {count}")

    generated = values["uuid"] is None
    run_uuid = values["uuid"] or str(uuidlib.uuid4())
    path = values["path"] or os.path.join("/tmp", run_uuid)

    return Settings(
        platform=platform,
        cluster_name_seed=seed,
        name_prefix=prefix,
        cluster_count=count,
        workers=values["workers"],
        batch_size=values["batch_size"],
        delay_between_batch=values["delay_between_batch"],
        watcher_delay=values["watcher_delay"],
        install_timeout=values["install_timeout"],
        destroy_timeout=values["destroy_timeout"],
        uuid=run_uuid,
        path=path,
        cleanup=bool(values["cleanup"]),
        keep_clusters=keep,
        wildcard_options=values["wildcard_options"],
        release_image=values["release_image"],
        sim_dir=values["sim_dir"],
        sim_speed=values["sim_speed"],
        sim_seed=values["sim_seed"],
        sim_fail_clusters=values["sim_fail_clusters"],
        sim_failure_rate=values["sim_failure_rate"],
        sim_stuck_clusters=values["sim_stuck_clusters"],
        sim_destroy_fail_clusters=values["sim_destroy_fail_clusters"],
        uuid_generated=generated,
        warnings=warnings,
    )


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
        if opt.dest == "uuid":
            default = "generated"
        elif opt.dest == "path":
            default = "/tmp/<uuid>"
        text = opt.help.replace("|", "\\|")
        rows.append(f"| `{opt.flag}` | `{opt.ini}` | `{opt.envvar}` | {default} | {text} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
