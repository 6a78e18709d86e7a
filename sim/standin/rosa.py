"""Stand-in for the ``rosa`` CLI (openshift/rosa v1.2.64), for the simulated world.

It accepts the real command line (cobra/pflag parsing: ``--flag=v``, ``--flag v``, ``-c v``, combined
boolean shorthands, the real flag aliases such as ``--installer-role-arn`` -> ``--role-arn``,
``--worker-iam-role`` -> ``--worker-iam-role-arn``, ``--default-mp-labels`` -> ``--worker-mp-labels``,
``--env`` -> ``--url``) and prints what the real one prints, as seen from outside::

    rosa login [--env ENV|--url URL] [--token-url URL] [--client-id I --client-secret S] [--scope S]
               [--insecure] [--token T]          (ROSA_TOKEN, then OCM_TOKEN, from the environment)
    rosa logout | rosa whoami [-o json] | rosa version [--client] [-v] | rosa init
    rosa create cluster --cluster-name N --hosted-cp ...   (the HCP flags, validated as the real one)
    rosa describe cluster -c KEY [-o json|yaml]       rosa list clusters [-o json|yaml]
    rosa delete cluster -c KEY [-y] [--watch] [--best-effort]
    rosa logs install|uninstall -c KEY [--tail N] [--watch]
    rosa create|delete oidc-config, rosa list oidc-config, rosa create|delete oidc-provider
    rosa create|delete operator-roles, rosa list operator-roles, rosa list account-roles
    rosa create admin -c KEY [-p PASSWORD] [-o json]
    rosa install addon --cluster KEY ID [-y] [--PARAM VALUE...], rosa list addons -c KEY [-o json]
    rosa create machinepool -c KEY --name N ..., rosa list machinepools -c KEY, rosa describe machinepool

Output conventions of the real CLI: ``INFO: `` lines on stdout, ``WARN: ``/``ERR: `` on stderr (``I:``/``W:``/
``E:`` in colour with ``--color always``, or ``auto`` on a terminal); exit 0, or 1 for any error; cobra's
``Error: unknown flag: --x`` (with the usage) and ``Failed to execute root command: ...`` for a bad command line.
Where the real CLI prints unguarded INFO lines around ``-o json`` output (``create cluster -o json`` prints the
billing-account INFO lines before the JSON, and ``Operator Roles already exists`` / ``OIDC provider already
exists`` after it), so does this one.  ``-o json`` objects built by rosa itself (describe, create admin, whoami)
have sorted keys, as Go's encoder writes maps.

The stand-in never prompts: where the real CLI would ask a question, it behaves as the real one with its
standard input at end of file (``survey`` answers ``EOF``): e.g. ``rosa create cluster --hosted-cp`` without
``--oidc-config-id`` fails with ``ERR: Expected a valid OIDC Config ID: EOF`` when the organisation has OIDC
configs (``Hosted Control Plane requires an OIDC Configuration ID ...`` when it has none), without
``--subnet-ids`` with ``ERR: Expected valid subnet IDs: EOF``; confirmations are "no" without ``-y`` (``rosa
delete cluster`` without ``-y`` does nothing and exits 0).

What it talks to (loopback only, like the ocm stand-in, whose config and token helpers it reuses):

* the simulated OCM (clusters_mgmt v1) at the URL of the shared OCM config file (``$OCM_CONFIG``, else
  ``~/.ocm.json`` if it exists, else ``$XDG_CONFIG_HOME/ocm/ocm.json``; written 0600 with the real rosa keys);
  access tokens are refreshed when less than 10 minutes are left and written back, as the SDK does;
* the simulated AWS account at ``<world ocm_url>/sim/aws`` instead of AWS IAM/EC2 (see ``sim/rosa.py``).

As the real one, ``rosa list clusters`` lists the ROSA clusters of the caller's AWS account (search
``product.id = 'rosa' AND (properties.rosa_creator_arn LIKE ... OR aws.sts.role_arn LIKE ...)``) in pages of
1000 (one request for up to 1000 clusters), and a cluster key is looked up with the same filter and
``id``/``name``/``external_id``.  (The simulated OCM rejects a search on a field no cluster has yet; the stand-in
reads that answer as "nothing matches", which is what the real OCM would answer.)

Simulation-only details: ``rosa login`` defaults to the simulated OCM of ``world.json`` and maps the
aliases production/staging/integration to it, remembering the alias in the config file's extra key
``sim_ocm_env`` (sent as ``X-Sim-Ocm-Env`` when a cluster is created: the namespace ``ocm-<env>-<id>``);
``HCP_SIM_FAULTS`` (a JSON object of ``sim.model.Faults`` index sets, e.g. ``{"fail_clusters": [2]}``) is
turned into ``X-Sim-Faults`` (the keys that apply to the new cluster's index, value true) on ``create
cluster``; ``create admin`` sends an htpasswd ``{SHA}`` hash (the real one sends bcrypt); add-ons use the
simulated ``/api/clusters_mgmt/v1/addons`` endpoints; ``--watch`` polls every 15 *simulated* seconds (the
world's speed) for at most one simulated hour; ``rosa version`` names the simulated world; unmanaged OIDC
configs (S3, Secrets Manager), interactive mode and the other rosa commands are not simulated (``ERR``, exit 1).
Tokens are never printed or logged.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
import urllib.parse
from typing import Any, Callable, NoReturn

from sim.standin import cli
from sim.standin import ocm as ocmcli

VERSION = "1.2.64"
USER_AGENT = f"ROSACLI/{VERSION} OCM-SDK/0.1.465"
TOKEN_PAGE = "https://console.redhat.com/openshift/token/rosa"
DEFAULT_URL = "https://api.openshift.com"
ENV_URLS = {"production": "https://api.openshift.com", "staging": "https://api.stage.openshift.com",
            "integration": "https://api.integration.openshift.com", "local": "http://localhost:8000",
            "local-proxy": "http://localhost:9000", "crc": "https://clusters-service.apps-crc.testing"}
SIM_ENVS = ("production", "staging", "integration")
ENV_KEY = "sim_ocm_env"
CONFIG_KEYS = ("access_token", "client_id", "client_secret", "insecure", "refresh_token", "scopes", "token_url",
               "url", "user_agent", "version", "fedramp")
TOKEN_MARGIN = 600.0            # the SDK connection asks for tokens valid 10 more minutes
POLL_SECONDS = 15.0             # simulated seconds between two polls of --watch
POLL_LIMIT = 3600.0             # simulated seconds before a --watch gives up
MODES = ("auto", "manual")
API = "/api/clusters_mgmt/v1"
AWS = "/sim/aws"
MAX_NAME = 54
MAX_DOMAIN_PREFIX = 15
MAX_ROLE_PREFIX = 32
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,52}[a-z0-9])?$")
DOMAIN_PREFIX_RE = re.compile(r"^[a-z]([-a-z0-9]{0,13}[a-z0-9])?$")
KEY_RE = re.compile(r"^[\w-]+$")
ROLE_NAME_RE = r"^[\w+=,.@-]+$"
MP_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
TAG_KEY_RE = re.compile(r"^[\w\s.:/=+\-@]{1,128}$")
TAG_VALUE_RE = re.compile(r"^[\w\s.:/=+\-@]{0,256}$")
HCP_VPC_DOC = "https://docs.openshift.com/rosa/rosa_hcp/rosa-hcp-sts-creating-a-cluster-quickly.html#rosa-hcp-creating-vpc"
INFORM_OPERATOR_ROLES = ("To create Operator Roles for this OIDC Configuration, run the following command and "
                         "remember to replace <user-defined> with a prefix of your choice:\n"
                         "\trosa create operator-roles --prefix <user-defined> --oidc-config-id %s\n"
                         "If you are going to create a Hosted Control Plane cluster please include '--hosted-cp'")


class Exit(Exception):
    """Leave with this code (the real CLI's os.Exit)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class CobraError(Exception):
    """A command-line error cobra reports (``Error: ...`` + usage, then main's line), exit 1."""

    def __init__(self, message: str, path: str = "rosa", usage: bool = True):
        super().__init__(message)
        self.path, self.usage = path, usage


class ApiError(Exception):
    """An OCM or simulated-AWS error answer (``status``: 0 for a transport error)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


# ===================================================================== reporter
class Out:
    color = False
    debug = False
    terminal = False


def info(msg: str) -> None:
    sys.stdout.write(("\033[0;36mI:\033[m " if Out.color else "INFO: ") + msg + "\n")
    sys.stdout.flush()


def warn(msg: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(("\033[0;33mW:\033[m " if Out.color else "WARN: ") + msg + "\n")


def error(msg: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(("\033[0;31mE:\033[m " if Out.color else "ERR: ") + msg + "\n")


def debug(msg: str) -> None:
    if Out.debug:
        info(msg)


def fail(msg: str, code: int = 1) -> NoReturn:
    error(msg)
    raise Exit(code)


def prompt_answer(question: str) -> str:
    """Every prompt of the stand-in: standard input is (treated as) at end of file, like survey's answer."""
    del question
    raise EOFError("EOF")


def ask(question: str, failure: str) -> str:
    """A prompt whose answer (end of file) fails the command with ``<failure>: EOF``, as survey's error does."""
    try:
        return prompt_answer(question)
    except EOFError as exc:
        fail(f"{failure}: {exc}")


def confirmed(values: dict) -> bool:
    """confirm.Prompt: yes with -y, else the unanswerable prompt -> no."""
    return bool(values.get("yes"))


def _stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False


# ======================================================================== flags
class Flag:
    __slots__ = ("name", "kind", "default", "short", "hidden", "deprecated")

    def __init__(self, name: str, kind: str = "str", default: Any = None, short: str = "", hidden: bool = False,
                 deprecated: str = ""):
        self.name, self.kind, self.short, self.hidden, self.deprecated = name, kind, short, hidden, deprecated
        if default is None:
            default = {"bool": False, "int": 0, "list": [], "array": [], "dur": 0.0}.get(kind, "")
        self.default = default


def B(name, short="", **kw):
    return Flag(name, "bool", None, short, **kw)


def S(name, default="", short="", **kw):
    return Flag(name, "str", default, short, **kw)


def I(name, default=0, short="", **kw):  # noqa: E743
    return Flag(name, "int", default, short, **kw)


def L(name, **kw):
    return Flag(name, "list", None, **kw)


def A(name, **kw):
    return Flag(name, "array", None, **kw)


GLOBAL = [S("color", "auto"), B("debug"), S("profile"), S("region"), B("help", "h")]
NORMALIZE = {"installer-role-arn": "role-arn", "default-mp-labels": "worker-mp-labels",
             "worker-iam-role": "worker-iam-role-arn", "controlplane-iam-role": "controlplane-iam-role-arn",
             "env": "url"}


def _convert(f: Flag, raw: str, shown: str, values: dict, changed: set) -> None:
    bad = f'invalid argument "{raw}" for "{shown}" flag: '
    if f.kind == "bool":
        low = raw.lower()
        if low in ("1", "t", "true"):
            values[f.name] = True
        elif low in ("0", "f", "false"):
            values[f.name] = False
        else:
            raise CobraError(bad + f'strconv.ParseBool: parsing "{raw}": invalid syntax')
    elif f.kind == "int":
        try:
            values[f.name] = int(raw.replace("_", "") if raw[:2].lower() in ("0x", "0o", "0b") else raw, 0)
        except ValueError:
            raise CobraError(bad + f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None
    elif f.kind == "dur":
        try:
            values[f.name] = cli.go_duration(raw)
        except ValueError as exc:
            raise CobraError(bad + str(exc)) from None
    elif f.kind in ("list", "array"):
        if f.name not in changed:
            values[f.name] = []
        if f.kind == "array":
            values[f.name].append(raw)
        elif raw != "":
            if '"' in raw:
                import csv
                values[f.name].extend(next(csv.reader([raw])))
            else:
                values[f.name].extend(raw.split(","))
    else:
        values[f.name] = raw
    changed.add(f.name)


def parse_flags(argv: list[str], flags: list[Flag], normalize: bool = False, unknown: list | None = None):
    """pflag: interspersed arguments, ``--``, ``--f=v``/``--f v``, ``-abc`` boolean groups, ``-cVALUE``.
    With ``unknown`` (a list), unknown long flags are collected there as (name, value) instead of failing."""
    allf = flags + GLOBAL
    by_name = {f.name: f for f in allf}
    by_short = {f.short: f for f in allf if f.short}
    values = {f.name: (list(f.default) if isinstance(f.default, list) else f.default) for f in allf}
    changed: set[str] = set()
    walk = cli.ArgWalk(argv, CobraError)
    for a in walk.flags():
        if a.startswith("--"):
            name, eq, raw = a[2:].partition("=")
            if normalize:
                name = NORMALIZE.get(name, name)
            f = by_name.get(name)
            if f is None:
                if unknown is None:
                    raise CobraError(f"unknown flag: --{name}")
                unknown.append((name, raw if eq else walk.value_if_any()))
                continue
            if not eq:
                raw = "true" if f.kind == "bool" else walk.value(f"--{name}")
            if f.deprecated:
                sys.stderr.write(f"Flag --{f.name} has been deprecated, {f.deprecated}\n")
            _convert(f, raw, "--" + f.name, values, changed)
        else:
            rest = a[1:]
            while rest:
                c, rest = rest[0], rest[1:]
                f = by_short.get(c)
                if f is None:
                    raise CobraError(f"unknown shorthand flag: '{c}' in {a}")
                if f.kind == "bool":
                    if rest.startswith("="):
                        _convert(f, rest[1:], "-" + c, values, changed)
                        rest = ""
                    else:
                        _convert(f, "true", "-" + c, values, changed)
                    continue
                if rest.startswith("="):
                    rest = rest[1:]
                elif not rest:
                    rest = walk.value(f"'{c}' in -{c}")
                _convert(f, rest, "-" + c, values, changed)
                rest = ""
    return values, changed, walk.args


# ===================================================================== commands
class Command:
    def __init__(self, path: str, flags: list[Flag], run: Callable, args: str = "none", normalize: bool = False,
                 required: tuple[str, ...] = (), raw_flags: bool = False, short: str = ""):
        self.path, self.flags, self.run, self.args = path, flags, run, args
        self.normalize, self.required, self.raw_flags, self.short = normalize, required, raw_flags, short


def usage(cmd: Command | None, path: str) -> str:
    lines = ["Usage:", f"  {path} [flags]" if cmd else f"  {path} [command]", ""]
    if cmd:
        lines.append("Flags:")
        for f in cmd.flags + [GLOBAL[-1]]:
            if f.hidden or f.deprecated:
                continue
            kind = {"str": " string", "int": " int", "list": " strings", "array": " stringArray",
                    "dur": " duration"}.get(f.kind, "")
            lines.append(f"  {'-' + f.short + ',' if f.short else '   '} --{f.name}{kind}")
        lines.append("")
    lines += ["Global Flags:", "      --color string   Surround certain characters with escape sequences to display "
              "them in color on the terminal. Allowed options are [auto never always] (default \"auto\")",
              "      --debug          Enable debug mode.", ""]
    return "\n".join(lines)


def help_text(cmd: Command | None, path: str) -> str:
    if cmd is None:
        top = path[5:]
        subs = sorted({k.split(" ")[1] for k in COMMANDS if k.startswith(top + " ")} if top
                      else {k.split(" ")[0] for k in COMMANDS})
        head = ("Command line tool for Red Hat OpenShift Service on AWS (simulated stand-in).\n"
                if path == "rosa" else f"{path}\n")
        return head + "\n" + usage(None, path) + "\nAvailable Commands:\n" + \
            "".join(f"  {s}\n" for s in subs) + f"\nUse \"{path} [command] --help\" for more information.\n"
    return (cmd.short or path) + "\n\n" + usage(cmd, path)


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """The command words (as cobra finds them) and the rest of the arguments."""
    words: list[str] = []
    rest: list[str] = []
    takes_value = {"--color", "--profile", "--region"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i:])
            break
        if a.startswith("-"):
            rest.append(a)
            if a in takes_value and i + 1 < len(argv):
                rest.append(argv[i + 1])
                i += 1
        elif not words or (len(words) == 1 and words[0] in GROUPS):
            words.append(a)
        else:
            rest.append(a)
        i += 1
    return words, rest


def resolve(words: list[str]) -> tuple[Command | None, str, list[str]]:
    """The command for these words: (command, its path, leftover words)."""
    if not words:
        return None, "rosa", []
    top = words[0]
    if top in GROUPS:
        if len(words) == 1:
            return None, f"rosa {top}", []
        noun = GROUPS[top].get(words[1], words[1])
        key = f"{top} {noun}"
        if key in COMMANDS:
            return COMMANDS[key], f"rosa {key}", []
        if noun in NOT_SIMULATED_SUB.get(top, ()):
            raise Exit(_not_simulated(f"rosa {top} {noun}"))
        return None, f"rosa {top}", words[1:]     # cobra: a command without Run shows its help
    if top in COMMANDS:
        return COMMANDS[top], f"rosa {top}", words[1:]
    if top in NOT_SIMULATED_TOP:
        raise Exit(_not_simulated(f"rosa {top}"))
    return None, "rosa", words


def _not_simulated(what: str) -> int:
    error(f"'{what}' is not simulated by the stand-in rosa of the simulated world")
    return 1


def run(argv: list[str], world_path: str | None) -> int:
    words, rest = _split_command(argv)
    cmd, path, leftover = resolve(words)
    if cmd is None:
        try:
            values, _, _ = parse_flags(rest, [])
        except CobraError as exc:
            exc.path = path
            raise
        _set_output_style(values)
        sys.stdout.write(help_text(None, path))
        return 0
    unknown: list | None = [] if cmd.raw_flags else None
    try:
        values, changed, args = parse_flags(rest, cmd.flags, cmd.normalize, unknown)
    except CobraError as exc:
        exc.path = path
        raise
    args = leftover + args
    _set_output_style(values)
    if values["help"]:
        sys.stdout.write(help_text(cmd, path))
        return 0
    if cmd.args == "none" and args:
        raise CobraError(f'unknown command "{args[0]}" for "{path}"', path)
    if cmd.args.startswith("max") and len(args) > int(cmd.args[3:]):
        raise CobraError(f"accepts at most {cmd.args[3:]} arg(s), received {len(args)}", path)
    missing = [r for r in cmd.required if r not in changed]
    if missing:
        raise CobraError("required flag(s) " + ", ".join(f'"{m}"' for m in missing) + " not set", path)
    ctx = Ctx(values, changed, args, world_path, path, unknown or [])
    return cmd.run(ctx) or 0


def _set_output_style(values: dict) -> None:
    Out.terminal = _stdout_is_terminal()
    Out.color = values["color"] == "always" or (values["color"] not in ("never",) and Out.terminal)
    Out.debug = bool(values["debug"])


class Ctx:
    def __init__(self, values: dict, changed: set, args: list[str], world_path: str | None, path: str,
                 unknown: list):
        self.v, self.changed, self.args, self.world_path, self.path, self.unknown = \
            values, changed, args, world_path, path, unknown
        self._world: dict | None = None
        self._ocm: Ocm | None = None
        self._creator: dict | None = None

    @property
    def output(self) -> str:
        return self.v.get("output") or ""

    @property
    def guarded(self) -> bool:
        """``!output.HasFlag() || r.Reporter.IsTerminal()``: the INFO lines rosa hides behind -o."""
        return not self.output or Out.terminal

    # -------------------------------------------------------------- the world
    @property
    def world(self) -> dict:
        if self._world is None:
            path = os.environ.get("OCM_SIM_WORLD") or self.world_path
            self._world = {}
            if path:
                try:
                    with open(path, encoding="utf-8") as fh:
                        data = json.load(fh)
                    self._world = data if isinstance(data, dict) else {}
                except (OSError, ValueError):
                    pass
        return self._world

    def speed(self) -> float:
        try:
            return max(float(self.world.get("speed") or 1.0), 1e-6)
        except (TypeError, ValueError):
            return 1.0

    # ---------------------------------------------------------------- clients
    def ocm(self) -> "Ocm":
        """rosa.NewRuntime().WithOCM(): the connection from the config file, or the real errors."""
        if self._ocm is None:
            try:
                cfg = load_config()
            except ocmcli.CommandError as exc:
                fail(f"Failed to create OCM connection: Failed to load config file: {exc}")
            if cfg is None:
                fail("Failed to create OCM connection: Not logged in, run the 'rosa login' command")
            try:
                self._ocm = Ocm(cfg)
            except ApiError as exc:
                fail(f"Failed to create OCM connection: {exc}")
        return self._ocm

    def aws(self, method: str, path: str, body: Any = None, params: dict | None = None) -> tuple[int, Any]:
        base = str(self.world.get("ocm_url") or (load_config() or {}).get("url") or "").rstrip("/")
        if not base:
            raise ApiError("no AWS credentials: the simulated AWS account of the world is unknown")
        url = base + AWS + path + ("?" + urllib.parse.urlencode(params) if params else "")
        return _request(method, url, {"User-Agent": "aws-sdk-go-v2 (simulated)"}, body)

    def creator(self) -> dict:
        """The AWS caller (account id, ARN); the real GetCreator (STS GetCallerIdentity)."""
        if self._creator is None:
            try:
                _, acct = self.aws("GET", "/account")
            except ApiError as exc:
                fail(f"Failed to get AWS creator: {exc}")
            self._creator = acct if isinstance(acct, dict) else {}
        return self._creator

    def region(self) -> str:
        """aws.GetRegion: --region, else $AWS_REGION, else the profile's region (the world's)."""
        return self.v.get("region") or os.environ.get("AWS_REGION") or str(self.creator().get("region") or
                                                                          self.world.get("region") or "")

    def runtime(self) -> "Ocm":
        """NewRuntime().WithAWS().WithOCM(): OCM first (login check), then the AWS creator."""
        ocm = self.ocm()
        self.creator()
        return ocm


NOT_SIMULATED_TOP = ("attach", "completion", "config", "detach", "docs", "download", "edit", "grant", "hibernate",
                     "link", "register", "resume", "revoke", "token", "uninstall", "unlink", "upgrade", "verify")
NOT_SIMULATED_SUB = {
    "create": ("account-roles", "accountroles", "idp", "ingress", "kubeletconfig", "ocm-role", "user-role",
               "break-glass-credential", "tuning-configs", "network", "decision", "external-auth-provider",
               "log-forwarder", "image-mirror", "autoscaler", "dns-domain", "access-request"),
    "delete": ("account-roles", "admin", "idp", "machinepool", "ingress", "ocm-role", "user-role", "kubeletconfig",
               "tuning-configs", "autoscaler", "dns-domain", "external-auth-provider", "image-mirror",
               "log-forwarder"),
    "describe": ("addon", "admin", "autoscaler", "ingress", "kubeletconfig", "upgrade", "tuning-configs",
                 "break-glass-credential", "external-auth-provider", "access-request", "installation",
                 "log-forwarder"),
    "list": ("idps", "ingresses", "instance-types", "ocm-roles", "regions", "upgrades", "user-roles", "users",
             "versions", "dns-domain", "tuning-configs", "kubeletconfigs", "gates", "rh-regions",
             "break-glass-credentials", "external-auth-providers", "access-request", "image-mirrors",
             "log-forwarders", "oidc-providers"),
    "logs": (), "install": (),
}


# ======================================================================= config
def load_config() -> dict | None:
    """config.Load: None when the file does not exist (CommandError on other failures)."""
    keyring = os.environ.get("OCM_KEYRING")
    if keyring:
        raise ocmcli.CommandError(f"can't load config from OS keyring [{keyring}]: OS keyrings are not simulated")
    path = ocmcli.config_location()
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = fh.read()
    except OSError as exc:
        raise ocmcli.CommandError(f"Failed to read config file '{path}': {exc.strerror}") from None
    try:
        cfg = json.loads(data)
    except ValueError as exc:
        raise ocmcli.CommandError(f"Failed to parse config file '{path}': {exc}") from None
    if not isinstance(cfg, dict):
        raise ocmcli.CommandError(f"Failed to parse config file '{path}': json: cannot unmarshal "
                                  f"{type(cfg).__name__} into Go value of type config.Config")
    return {k: cfg[k] for k in (*CONFIG_KEYS, ENV_KEY) if k in cfg}


def save_config(cfg: dict) -> None:
    """config.Save: the rosa keys (omitempty, in the struct's order), mode 0600 for a new file."""
    path = ocmcli.config_location()
    out = {k: cfg[k] for k in (*CONFIG_KEYS, ENV_KEY) if cfg.get(k) not in (None, "", False, [])}
    data = ocmcli._go_json(out, False).rstrip("\n")
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise ocmcli.CommandError(f"Failed to create directory {directory}: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
    except OSError as exc:
        raise ocmcli.CommandError(f"Failed to write file '{path}': {exc.strerror}") from None


def config_valid(cfg: dict | None) -> bool:
    return bool(cfg) and all(cfg.get(k) for k in ("client_id", "access_token", "url", "token_url"))


def armed(cfg: dict) -> bool:
    """Config.Armed: client credentials, or a token that is still usable."""
    if cfg.get("client_id") and cfg.get("client_secret"):
        return True
    for key, margin in (("access_token", 5.0), ("refresh_token", 10.0)):
        tok = cfg.get(key) or ""
        if not tok:
            continue
        if key == "refresh_token" and ocmcli.is_encrypted_token(tok):
            return True
        try:
            left = ocmcli.token_remaining(tok)
        except ocmcli.CommandError as exc:
            raise ocmcli.CommandError(f"Failed to parse token: {exc}") from None
        if left is None or left > margin:
            return True
    return False


def token_claim(token: str, key: str) -> str:
    try:
        value = ocmcli.parse_token(token).get(key)
    except ocmcli.CommandError:
        return ""
    return value if isinstance(value, str) else ""


# ========================================================================= HTTP
def _request(method: str, url: str, headers: dict, body: Any = None) -> tuple[int, Any]:
    data = None
    h = {"Accept": "application/json", **headers}
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    try:
        status, _, raw = ocmcli._http(method, url, h, data)
    except ocmcli.HttpFailure as exc:
        raise ApiError(str(exc)) from None
    try:
        obj = json.loads(raw) if raw else None
    except ValueError:
        obj = raw.decode("utf-8", "replace")
    if status >= 400:
        raise ApiError(_error_text(status, obj), status)
    return status, obj


def _error_text(status: int, obj: Any) -> str:
    """The SDK's errors.Error text (or the simulated AWS's message)."""
    if isinstance(obj, dict) and obj.get("kind") == "Error":
        chunks = [f"status is {status}"]
        if obj.get("id"):
            chunks.append(f"identifier is '{obj['id']}'")
        if obj.get("code"):
            chunks.append(f"code is '{obj['code']}'")
        if obj.get("operation_id"):
            chunks.append(f"operation identifier is '{obj['operation_id']}'")
        head = ", ".join(chunks[:-1]) + " and " + chunks[-1] if len(chunks) > 1 else chunks[0]
        return f"{head}: {obj.get('reason', '')}" if obj.get("reason") else head
    if isinstance(obj, dict) and (obj.get("message") or obj.get("error")):
        code = obj.get("error") or ""
        return f"{code}: {obj.get('message', '')}" if code and obj.get("message") else str(code or obj["message"])
    return f"status is {status}" + (f": {obj}" if isinstance(obj, str) and obj.strip() else "")


class Ocm:
    """The SDK connection of rosa's OCM client: tokens (refreshed with < 10 minutes left, persisted)."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.url = str(cfg.get("url") or DEFAULT_URL).rstrip("/")
        self.conn = ocmcli.Connection(cfg, self.url)
        if cfg.get("client_id") and cfg.get("client_secret"):
            pass
        elif not (cfg.get("access_token") or cfg.get("refresh_token")):
            raise ApiError("error creating connection. Not able to get authentication token: tokens or client "
                           "credentials are required")
        before = (cfg.get("access_token"), cfg.get("refresh_token"))
        try:
            self.conn.tokens(TOKEN_MARGIN)
        except (ocmcli.HttpFailure, ocmcli.CommandError) as exc:
            if "invalid_grant" in str(exc):
                raise ApiError("your authorization token needs to be updated. Please login again using rosa "
                               "login") from None
            raise ApiError(f"error creating connection. Not able to get authentication token: {exc}") from None
        if (self.conn.access, self.conn.refresh) != before:
            cfg["access_token"], cfg["refresh_token"] = self.conn.access, self.conn.refresh
            try:
                save_config(cfg)
            except ocmcli.CommandError:
                pass

    @property
    def env(self) -> str:
        env = self.cfg.get(ENV_KEY)
        return env if env in SIM_ENVS else "production"

    def call(self, method: str, path: str, params: dict | None = None, body: Any = None,
             headers: dict | None = None) -> tuple[int, Any]:
        query = urllib.parse.urlencode(sorted((params or {}).items()))
        url = self.url + path + ("?" + query if query else "")
        try:
            access, _ = self.conn.tokens(TOKEN_MARGIN)
        except (ocmcli.HttpFailure, ocmcli.CommandError) as exc:
            raise ApiError(f"can't get access token: {exc}") from None
        h = {"User-Agent": USER_AGENT, "Authorization": f"Bearer {access}", **(headers or {})}
        delay = 0.2
        for attempt in range(3):     # the SDK retries requests answered 429/503 and broken connections
            try:
                return _request(method, url, h, body)
            except ApiError as exc:
                if attempt == 2 or exc.status not in (0, 429, 503) or (exc.status == 0 and method != "GET"):
                    raise
            time.sleep(delay)
            delay *= 2
        raise ApiError("unreachable")

    def get(self, path: str, **params) -> Any:
        return self.call("GET", path, params or None)[1]

    def items(self, path: str, search: str = "", size: int = 100) -> list[dict]:
        """Every item of a paged list."""
        out: list[dict] = []
        page = 1
        while page <= 1000:
            params: dict = {"page": page, "size": size}
            if search:
                params["search"] = search
            body = self.get(path, **params) or {}
            chunk = body.get("items") or []
            out.extend(chunk)
            if len(chunk) < size or len(out) >= int(body.get("total") or 0):
                break
            page += 1
        return out


# ================================================================ login & co
def _world_urls(ctx: Ctx) -> tuple[str, str]:
    return str(ctx.world.get("ocm_url") or ""), str(ctx.world.get("ocm_token_url") or "")


def _parse_request_uri(url: str, source: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if not ((parts.scheme and parts.netloc) or url.startswith("/")):
        raise ValueError(f'parse "{url}": invalid URI for request\n\nURL Source: {source}\nExpected an absolute '
                         f"URI/path (e.g. {DEFAULT_URL}) or a case-sensitive alias, one of: "
                         f"[{', '.join(ENV_URLS)}]")
    return url


def cmd_login(ctx: Ctx) -> int:
    v = ctx.v
    if (v["use-auth-code"] or v["use-device-code"]) and v["token"]:
        fail("Token cannot be passed with '--use-auth-code' or '--use-device-code' commands")
    if v["use-auth-code"] or v["use-device-code"]:
        fail("an error occurred while retrieving the token: browser and device-code logins are not simulated; "
             "use ROSA_TOKEN")
    try:
        cfg = load_config()
    except ocmcli.CommandError as exc:
        fail(f"failed to load config file: {exc}")
    if not config_valid(cfg):
        cfg = {}
    cfg = dict(cfg)
    token = v["token"]
    have = bool(token) or bool(v["client-id"] and v["client-secret"])
    if not have:
        token = os.environ.get("ROSA_TOKEN") or os.environ.get("OCM_TOKEN") or ""
        have = bool(token)
    if not have:
        try:
            have = armed(cfg)
        except ocmcli.CommandError as exc:
            fail(f"failed to verify configuration: {exc}")
    if not have:
        sys.stdout.write(f"To login to your Red Hat account, get an offline access token at {TOKEN_PAGE}\n")
        sys.stdout.write("? Copy the token and paste it here: \n")
        token = ask("Copy the token and paste it here", "failed to parse token")
    env_flag = v["url"]
    world_url, world_token_url = _world_urls(ctx)
    env = ""
    try:
        if env_flag:
            if env_flag in SIM_ENVS and world_url:
                gateway, env = world_url, env_flag
            else:
                gateway = _parse_request_uri(ENV_URLS.get(env_flag, env_flag), "flag")
        elif cfg.get("url"):
            gateway, env = _parse_request_uri(cfg["url"], "config"), str(cfg.get(ENV_KEY) or "")
        else:
            gateway, env = world_url or DEFAULT_URL, ("production" if world_url else "")
    except ValueError as exc:
        fail(f"Failed to resolve gateway URL: {exc}")
    if v["rh-region"]:
        fail("Can't find region: OCM data sovereignty regions are not simulated")
    cfg.update({"token_url": v["token-url"] or world_token_url or ocmcli.DEFAULT_TOKEN_URL,
                "client_id": v["client-id"] or ocmcli.DEFAULT_CLIENT_ID, "client_secret": v["client-secret"],
                "scopes": v["scope"], "url": gateway, "insecure": v["insecure"], "fedramp": False, ENV_KEY: env})
    if token:
        try:
            cfg["access_token"], cfg["refresh_token"] = ocmcli.login_tokens(token, (
                "failed to parse token: {}",
                "failed to extract type from 'typ' claim of token: expected string 'typ' but got {}",
                "don't know how to handle token type '{}' in token"))
        except ocmcli.CommandError as exc:
            fail(str(exc))
    try:
        conn = Ocm.__new__(Ocm)
        conn.cfg, conn.url = cfg, gateway.rstrip("/")
        conn.conn = ocmcli.Connection(cfg, conn.url)
        ocmcli._check_loopback("Get", conn.url)
        access, refresh = conn.conn.tokens(TOKEN_MARGIN)
    except (ocmcli.HttpFailure, ocmcli.CommandError) as exc:
        if "invalid_grant" in str(exc) and not v["token"]:
            # rosa logs out and tries again without the environment's token: the prompt cannot be answered
            _remove_config()
            sys.stdout.write(f"To login to your Red Hat account, get an offline access token at {TOKEN_PAGE}\n")
            fail("failed to parse token: EOF")
        if "invalid_grant" in str(exc):
            fail("failed to create OCM connection: your authorization token needs to be updated. Please login "
                 "again using rosa login")
        fail(f"failed to create OCM connection: error creating connection. Not able to get authentication "
             f"token: {exc}")
    cfg["access_token"], cfg["refresh_token"] = access, refresh
    try:
        save_config(cfg)
    except ocmcli.CommandError as exc:
        fail(f"failed to save config file: {exc}")
    user = token_claim(access, "preferred_username") or token_claim(access, "username")
    if not user:
        fail("failed to get username: Token does not contain the 'username' claim")
    info(f"Logged in as '{user}' on '{cfg['url']}'")
    return 0


def _remove_config() -> None:
    path = ocmcli.config_location()
    if os.path.exists(path):
        os.remove(path)


def cmd_logout(ctx: Ctx) -> int:
    try:
        if os.environ.get("OCM_KEYRING"):
            raise OSError("can't remove configuration from keyring: OS keyrings are not simulated")
        _remove_config()
    except OSError as exc:
        fail(f"Failed to remove config file: {exc}")
    return 0


def _account_object(ctx: Ctx, ocm: Ocm) -> dict:
    try:
        acct = ocm.get("/api/accounts_mgmt/v1/current_account") or {}
    except ApiError as exc:
        if exc.status != 404:
            fail(f"Failed to get current account: {exc}")
        acct = {}
    tok = ocm.conn.access or ""
    org = acct.get("organization") or {}
    return {
        "id": acct.get("id") or token_claim(tok, "account_id") or token_claim(tok, "sub"),
        "name": f"{acct.get('first_name') or token_claim(tok, 'given_name')} "
                f"{acct.get('last_name') or token_claim(tok, 'family_name')}",
        "username": acct.get("username") or token_claim(tok, "preferred_username") or token_claim(tok, "username"),
        "email": acct.get("email") or token_claim(tok, "email"),
        "org_id": org.get("id") or token_claim(tok, "org_id"), "org_name": org.get("name") or "",
        "org_external": org.get("external_id") or token_claim(tok, "org_id"),
    }


def cmd_whoami(ctx: Ctx) -> int:
    ocm = ctx.runtime()
    cfg = load_config()
    if not config_valid(cfg) or not armed(cfg or {}):
        error("User is not logged in to OCM")
        return 0
    acct = _account_object(ctx, ocm)
    creator = ctx.creator()
    obj = {"AWS Account ID": creator.get("account_id", ""), "AWS Default Region": ctx.region(),
           "AWS ARN": creator.get("arn", ""), "OCM API": ocm.url, "OCM Account ID": acct["id"],
           "OCM Account Name": acct["name"], "OCM Account Username": acct["username"],
           "OCM Account Email": acct["email"], "OCM Organization ID": acct["org_id"],
           "OCM Organization Name": acct["org_name"]}
    if acct["org_external"]:
        obj["OCM Organization External ID"] = acct["org_external"]
    if ctx.output:
        print_output(ctx, obj, sort=True)
        return 0
    for key in sorted(obj):
        sys.stdout.write(f"{key + ':':<30}{obj[key]}\n")
    sys.stdout.write("\n")
    return 0


def cmd_version(ctx: Ctx) -> int:
    info(VERSION)
    if ctx.v["verbose"]:
        info("Information and download locations:\n\thttps://console.redhat.com/openshift/downloads#tool-rosa\n"
             "\thttps://mirror.openshift.com/pub/openshift-v4/clients/rosa/latest/\n")
    where = ctx.world.get("dir") or (os.path.dirname(os.path.abspath(ctx.world_path)) if ctx.world_path else "?")
    info(f"This rosa is the simulated stand-in of the simulated world in {where}: it talks to the simulated OCM "
         "and AWS only (no remote version check)")
    return 0


def cmd_init(ctx: Ctx) -> int:
    ocm = ctx.ocm()
    if ctx.v["delete"]:
        return _not_simulated("rosa init --delete")
    if any(f in ctx.changed for f in ("token-url", "client-id", "client-secret", "scope", "url", "token",
                                      "insecure")):
        code = cmd_login(ctx)
        if code:
            return code
    elif not armed(ocm.cfg):
        return cmd_login(ctx)
    region = ctx.region()
    if region != str(ctx.world.get("region") or region):
        fail(f"Unsupported region '{region}', available regions: {ctx.world.get('region')}")
    info("Validating AWS credentials...")
    creator = ctx.creator()
    if not creator.get("account_id"):
        fail("AWS credentials are invalid")
    scp = not ctx.v["disable-scp-checks"]
    steps = ["AWS credentials are valid!"]
    steps += ["Verifying permissions for non-STS clusters", "Validating SCP policies...", "AWS SCP policies ok"] \
        if scp else ["Skipping AWS SCP policies check"]
    if Out.terminal:
        steps += ["Validating AWS quota...",
                  "AWS quota ok. If cluster installation fails, validate actual AWS resource usage against "
                  "https://docs.openshift.com/rosa/rosa_getting_started/rosa-required-aws-service-quotas.html"]
    steps += ["Ensuring cluster administrator user 'osdCcsAdmin'...", "Admin user 'osdCcsAdmin' already exists!"]
    steps += ["Validating SCP policies for 'osdCcsAdmin'...", "AWS SCP policies ok"] \
        if scp else ["Skipping AWS SCP policies check for 'osdCcsAdmin'..."]
    steps += ["Validating cluster creation...", "Cluster creation valid"]
    for step in steps:
        info(step)
    if shutil.which("oc") is None:
        warn("OpenShift command-line tool is not installed.\n"
             "Run 'rosa download oc' to download the latest version, then add it to your PATH.")
    elif Out.terminal:
        info("Verifying whether OpenShift command-line tool is available...")
    return 0


# ======================================================================= output
def _sorted(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(x) for x in obj]
    return obj


def print_output(ctx: Ctx, obj: Any, sort: bool = False) -> None:
    """output.Print: -o json (indented, Go's escaping) or -o yaml; an empty list is ``[]``."""
    if sort:
        obj = _sorted(obj)
    fmt = ctx.output
    if fmt == "json":
        text = ocmcli._go_json(obj, False) if obj != [] else "[]\n"
    elif fmt == "yaml":
        import yaml   # only here: the CLI must start fast
        text = "[]\n" if obj == [] else yaml.safe_dump(_sorted(obj), default_flow_style=False, allow_unicode=True)
    else:
        fail(f"unknown format '{fmt}'. Valid formats are [json yaml]")
    sys.stdout.write(text)
    sys.stdout.flush()


def print_list(ctx: Ctx, items: list, empty: str, header: list[str], row: Callable[[Any], list[str]],
               minwidth: int = 0) -> int:
    """A list command's output: -o json|yaml, else ``empty`` (INFO) when there is nothing and ``empty`` is
    given, else the table of ``header`` and a ``row`` an item."""
    if ctx.output:
        print_output(ctx, items)
        return 0
    if not items and empty:
        info(empty)
        return 0
    sys.stdout.write(table([header] + [row(x) for x in items], minwidth=minwidth))
    return 0


def table(rows: list[list[str]], padding: int = 2, minwidth: int = 0) -> str:
    """Go's tabwriter (cells ended by a tab are padded; the last cell of a line is not)."""
    ncols = max(len(r) for r in rows) if rows else 0
    widths = [0] * ncols
    for r in rows:
        for j, cell in enumerate(r[:-1]):
            widths[j] = max(widths[j], len(cell) + padding, minwidth)
    out = []
    for r in rows:
        line = "".join(cell.ljust(widths[j]) for j, cell in enumerate(r[:-1])) + (r[-1] if r else "")
        out.append(line)
    return "".join(line + "\n" for line in out)


def go_time(ts: str, layout: str = "Jan _2 2006 15:04:05 MST") -> str:
    """An RFC 3339 time in one of Go's layouts used by rosa (UTC)."""
    import datetime as dt
    try:
        t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except (ValueError, AttributeError):
        return ts or ""
    if layout.startswith("Jan"):
        return f"{t.strftime('%b')} {t.day:>2} {t.strftime('%Y %H:%M:%S')} UTC"
    return t.strftime("%Y-%m-%d %H:%M") + " UTC"


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def dig(obj: Any, path: str, default: Any = "") -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj or obj[part] is None:
            return default
        obj = obj[part]
    return obj


# ================================================================ the clusters
def cluster_key(ctx: Ctx, key: str | None = None) -> str:
    key = ctx.v.get("cluster", "") if key is None else key
    if not KEY_RE.match(key or ""):
        fail(f"Cluster name, identifier or external identifier '{key}' isn't valid: it must contain only letters, "
             "digits, dashes and underscores")
    return key


def _account_filter(ctx: Ctx) -> str:
    acct = ctx.creator().get("account_id", "")
    return (f"product.id = 'rosa' AND (properties.rosa_creator_arn LIKE 'arn:%:{acct}:%' OR aws.sts.role_arn "
            f"LIKE 'arn:%:{acct}:%')")


def search_clusters(ctx: Ctx, query: str, page: int = 1, size: int = 1) -> dict:
    """One page of ``GET /clusters?search=``.  The simulated OCM only knows the fields some cluster has: a query
    on a field no cluster has yet (400 "field ... isn't valid") matches nothing, as it would on the real OCM."""
    try:
        return ctx.ocm().get(f"{API}/clusters", search=query, page=page, size=size) or {}
    except ApiError as exc:
        if exc.status == 400 and "isn't valid" in str(exc):
            return {"kind": "ClusterList", "page": page, "size": 0, "total": 0, "items": []}
        raise


def find_cluster(ctx: Ctx, key: str) -> dict | None:
    """ocm.GetCluster: the cluster of the caller's AWS account with this id, name or external id."""
    ctx.runtime()
    query = f"{_account_filter(ctx)} AND (id = '{key}' OR name = '{key}' OR external_id = '{key}')"
    try:
        body = search_clusters(ctx, query)
    except ApiError as exc:
        fail(f"Failed to get cluster '{key}': {exc}")
    total = int(body.get("total") or 0)
    if total > 1:
        fail(f"Failed to get cluster '{key}': there are {total} clusters with identifier or name '{key}'")
    items = body.get("items") or []
    return items[0] if total == 1 and items else None


def valid_mode(ctx: Ctx) -> str:
    """The --mode flag ('' when not given), one of MODES."""
    mode = ctx.v["mode"]
    if mode and mode not in MODES:
        fail("Invalid mode. Allowed values are [auto manual]")
    return mode


def fail_not_uninstalled(ctx: Ctx, what: str) -> NoReturn:
    """--cluster names a cluster whose ``what`` cannot be deleted: it still exists, or it is unknown."""
    key = cluster_key(ctx)
    cluster = find_cluster(ctx, key)
    if cluster is not None:
        fail(f"Cluster '{cluster['id']}' is in '{cluster.get('state')}' state. {what} can be deleted only "
             "for the uninstalled clusters")
    fail(f"Failed to get cluster '{key}': There is no cluster with identifier or name '{key}'")


def fetch_cluster(ctx: Ctx, key: str | None = None) -> dict:
    """r.FetchCluster(): the cluster, or ``ERR: Failed to get cluster ...`` and exit 1."""
    key = cluster_key(ctx, key)
    ctx.runtime()
    debug(f"Loading cluster '{key}'")
    cluster = find_cluster(ctx, key)
    if cluster is None:
        fail(f"Failed to get cluster '{key}': There is no cluster with identifier or name '{key}'")
    return cluster


def cluster_state(ctx: Ctx, cluster_id: str) -> str:
    try:
        return str((ctx.ocm().get(f"{API}/clusters/{cluster_id}/status") or {}).get("state") or "")
    except ApiError as exc:
        if exc.status == 404:
            return ""
        raise


def node_pools(ctx: Ctx, cluster: dict) -> list[dict]:
    return ctx.ocm().items(f"{API}/clusters/{cluster['id']}/node_pools")


def describe_json(ctx: Ctx, cluster: dict) -> dict:
    """formatClusterHypershift: the Cluster plus display_name (the subscription's) and migrations."""
    out = dict(cluster)
    display = cluster.get("display_name") or cluster.get("name", "")
    sub = dig(cluster, "subscription.id")
    if sub:
        try:
            display = (ctx.ocm().get(f"/api/accounts_mgmt/v1/subscriptions/{sub}") or {}).get("display_name") \
                or display
        except ApiError as exc:
            debug(f"Failed to get subscription by ID: {exc}")
    out["display_name"] = display
    out["migrations"] = []
    return out


def describe_text(ctx: Ctx, cluster: dict) -> str:
    sts = dig(cluster, "aws.sts", {})
    creator_arn = dig(cluster, "properties.rosa_creator_arn") or f"arn:aws:iam::{ctx.creator().get('account_id')}:x"
    parts = creator_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        fail(f"Failed to parse creator ARN for cluster '{cluster.get('name')}'")
    state = cluster.get("state", "")
    status = cluster.get("status") or {}
    phase = {"waiting": "(Waiting for user action)", "pending": "(Preparing account)"}.get(state, "")
    if state == "installing":
        if not status.get("dns_ready"):
            phase = "(DNS setup in progress)"
        if status.get("provision_error_message"):
            code = status.get("provision_error_code") or ""
            phase = "(" + (code + " - " if code else "") + "Install is taking longer than expected)"
    if status.get("description"):
        phase = f"({status['description']})"
    domain_prefix = cluster.get("domain_prefix", "")
    dns = f"{domain_prefix}.{dig(cluster, 'dns.base_domain')}" if status.get("dns_ready") else "Not ready"
    pools = node_pools(ctx, cluster)
    lo = hi = cur = 0
    zones = set()
    for np in pools:
        auto = np.get("autoscaling")
        lo += int(auto.get("min_replica", 0) if auto else np.get("replicas") or 0)
        hi += int(auto.get("max_replica", 0) if auto else np.get("replicas") or 0)
        cur += int(dig(np, "status.current_replicas", 0) or 0)
        zones.add(np.get("availability_zone", ""))
    nodes = (f"\nNodes:\n - Compute (Autoscaled):    {lo}-{hi}\n - Compute (current):       {cur}\n" if lo != hi
             else f"\nNodes:\n - Compute (desired):       {hi}\n - Compute (current):       {cur}\n")
    net = cluster.get("network") or {}
    s = ("\n"
         f"Name:                       {cluster.get('name', '')}\n"
         f"Domain Prefix:              {domain_prefix}\n"
         f"Display Name:               {describe_json(ctx, cluster)['display_name']}\n"
         f"ID:                         {cluster.get('id', '')}\n"
         f"External ID:                {cluster.get('external_id', '')}\n"
         f"Control Plane:              ROSA Service Hosted\n"
         f"OpenShift Version:          {cluster.get('openshift_version', '')}\n"
         f"Channel Group:              {dig(cluster, 'version.channel_group')}\n"
         f"Channel:                    {cluster.get('channel', '')}\n"
         f"DNS:                        {dns}\n"
         f"AWS Account:                {parts[4]}\n")
    if dig(cluster, "aws.billing_account_id"):
        s += f"AWS Billing Account:        {dig(cluster, 'aws.billing_account_id')}\n"
    s += (f"API URL:                    {dig(cluster, 'api.url')}\n"
          f"Console URL:                {dig(cluster, 'console.url')}\n"
          f"Region:                     {dig(cluster, 'region.id')}\n"
          "Availability:\n - Control Plane:           MultiAZ\n"
          f" - Data Plane:              {'MultiAZ' if len(zones) > 1 else 'SingleAZ'}\n"
          f"{nodes}Network:\n"
          + (f" - Type:                    {net.get('type')}\n" if net.get("type") != "OVNKubernetes" else "")
          + f" - Service CIDR:            {net.get('service_cidr', '')}\n"
          f" - Machine CIDR:            {net.get('machine_cidr', '')}\n"
          f" - Pod CIDR:                {net.get('pod_cidr', '')}\n"
          f" - Host Prefix:             /{net.get('host_prefix', 0)}\n")
    if dig(cluster, "aws.subnet_ids"):
        s += f" - Subnets:                 {', '.join(dig(cluster, 'aws.subnet_ids'))}\n"
    if cluster.get("infra_id"):
        s += f"Infra ID:                   {cluster['infra_id']}\n"
    s += f"EC2 Metadata Http Tokens:   {dig(cluster, 'aws.ec2_metadata_http_tokens') or 'optional'}\n"
    if sts.get("role_arn"):
        s += f"Role (STS) ARN:             {sts['role_arn']}\n"
        if sts.get("external_id"):
            s += f"STS External ID:            {sts['external_id']}\n"
        if sts.get("support_role_arn"):
            s += f"Support Role ARN:           {sts['support_role_arn']}\n"
        worker = dig(sts, "instance_iam_roles.worker_role_arn")
        if worker:
            s += f"Instance IAM Roles:\n - Worker:                  {worker}\n"
        if sts.get("operator_iam_roles"):
            s += "Operator IAM Roles:\n" + "".join(f" - {r.get('role_arn', '')}\n" for r in sts["operator_iam_roles"])
        s += f"Managed Policies:           {'Yes' if sts.get('managed_policies') else 'No'}\n"
    s += (f"State:                      {state} {phase}\n"
          f"Private:                    {'Yes' if dig(cluster, 'api.listening') == 'internal' else 'No'}\n"
          f"Delete Protection:          {'Enabled' if dig(cluster, 'delete_protection.enabled') else 'Disabled'}\n"
          f"Created:                    {go_time(cluster.get('creation_timestamp', ''))}\n"
          f"FIPS mode:                  {'Enabled' if cluster.get('fips') else 'Disabled'}\n")
    oidc = sts.get("oidc_config")
    kind = ("Managed" if oidc.get("managed") else "Unmanaged") if isinstance(oidc, dict) else "Classic"
    if sts.get("oidc_endpoint_url"):
        s += f"OIDC Endpoint URL:          {sts['oidc_endpoint_url']} ({kind})\n"
    s += (f"Etcd Encryption:            {'Enabled' if cluster.get('etcd_encryption') else 'Disabled'}\n"
          f"Audit Log Forwarding:       {'Enabled' if dig(cluster, 'aws.audit_log.role_arn') else 'Disabled'}\n"
          + (f"Audit Log Role ARN:         {dig(cluster, 'aws.audit_log.role_arn')}\n"
             if dig(cluster, 'aws.audit_log.role_arn') else "")
          + "AutoNode:                   Disabled\n"
          "External Authentication:    "
          f"{'Enabled' if dig(cluster, 'external_auth_config.enabled') else 'Disabled'}\n")
    if dig(cluster, "aws.additional_allowed_principals"):
        s += f"Additional Principals:      {','.join(dig(cluster, 'aws.additional_allowed_principals'))}\n"
    zero_egress = str(dig(cluster, "properties.zero_egress") or "false").lower() in ("1", "t", "true")
    s += f"Zero Egress:                {'Enabled' if zero_egress else 'Disabled'}\n"
    if status.get("state") == "error":
        s += (f"Provisioning Error Code:    {status.get('provision_error_code', '')}\n"
              f"Provisioning Error Message: {status.get('provision_error_message', '')}\n")
    return s + "\n"


def show_cluster(ctx: Ctx, cluster: dict) -> None:
    if ctx.output:
        print_output(ctx, describe_json(ctx, cluster), sort=True)
    else:
        sys.stdout.write(describe_text(ctx, cluster))
        sys.stdout.flush()


def cmd_describe_cluster(ctx: Ctx) -> int:
    ctx.runtime()
    show_cluster(ctx, fetch_cluster(ctx))
    return 0


def cmd_list_clusters(ctx: Ctx) -> int:
    ctx.runtime()   # logged in, as the real CLI checks first
    query = "product.id = 'rosa'" if ctx.v["all"] else _account_filter(ctx)
    clusters: list[dict] = []
    page, size = 1, 1000
    try:
        while page < 100:
            body = search_clusters(ctx, query, page, size)
            chunk = body.get("items") or []
            clusters.extend(chunk)
            if int(body.get("size", len(chunk)) or 0) < size:
                break
            page += 1
    except ApiError as exc:
        fail(f"Failed to get clusters: {exc}")

    def row(c: dict) -> list[str]:
        topo = "Hosted CP" if dig(c, "hypershift.enabled", False) else \
            ("Classic (STS)" if dig(c, "aws.sts.enabled", False) else "Classic")
        return [c.get("id", ""), c.get("name", ""), c.get("state", ""), topo]
    return print_list(ctx, clusters, "No clusters available", ["ID", "NAME", "STATE", "TOPOLOGY"], row)
    return 0


# =============================================================== create cluster
def account_roles(ctx: Ctx) -> list[dict]:
    try:
        _, body = ctx.aws("GET", "/roles", params={"type": "account"})
    except ApiError as exc:
        fail(f"Failed to get account roles: {exc}")
    return sorted((body or {}).get("items") or [], key=lambda r: r.get("name", ""))


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def arn_error(arn: str) -> str:
    """aws.ARNValidator (arn.Parse of the AWS SDK): '' when valid."""
    if not arn:
        return ""
    if not arn.startswith("arn:"):
        return "invalid ARN: arn: invalid prefix"
    if len(arn.split(":", 5)) < 6:
        return "invalid ARN: arn: not enough sections"
    return ""


def random_label(n: int = 4) -> str:
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz" if i % 2 == 0 else "0123456789") for i in range(n))


def list_oidc_configs(ctx: Ctx) -> list[dict]:
    ocm = ctx.ocm()
    acct = ctx.creator().get("account_id", "")
    try:
        return ocm.items(f"{API}/oidc_configs", search=f"aws.account_id='{acct}' or aws.account_id=''")
    except ApiError as exc:
        if exc.status != 400:
            raise
    return ocm.items(f"{API}/oidc_configs")


def get_oidc_config(ctx: Ctx, config_id: str) -> dict:
    try:
        return ctx.ocm().get(f"{API}/oidc_configs/{urllib.parse.quote(config_id, safe='')}") or {}
    except ApiError as exc:
        fail(f"There was a problem retrieving OIDC Config '{config_id}': {exc}")


def prompt_oidc_config_id(ctx: Ctx) -> str:
    """interactiveOidc.GetOidcConfigID: '' without configs, else the prompt (which cannot be answered)."""
    try:
        configs = list_oidc_configs(ctx)
    except ApiError as exc:
        warn(f"There was a problem retrieving OIDC Configurations for your organization: {exc}")
        return ""
    if not configs:
        return ""
    return ask("OIDC Configuration ID", "Expected a valid OIDC Config ID")


def validate_tags(tags: list[str]) -> dict:
    """aws.UserTagValidator + the delimiter rule of rosa: 'key value' (or 'key:value' without spaces)."""
    tags = [t.strip() for t in tags]
    delim = " " if any(" " in t for t in tags) else ":"
    seen = set()
    for t in tags:
        k = t.split(delim)[0]
        if k in seen:
            fail(f"invalid tags, user tag keys must be unique, duplicate key '{k}' found")
        seen.add(k)
    out = {}
    for t in tags:
        parts = t.split(delim)
        if len(parts) != 2:
            fail(f"invalid tag format for tag '[{' '.join(parts)}]'. Expected tag format: 'key value'")
        if not parts[0] or not parts[1]:
            fail("invalid tag format, tag key or tag value can not be empty")
        if not TAG_KEY_RE.match(parts[0]):
            fail(f"expected a valid user tag key '{parts[0]}' matching ^[\\pL\\pZ\\pN_.:/=+\\-@]{{1,128}}$")
        if not TAG_VALUE_RE.match(parts[1]):
            fail(f"expected a valid user tag value '{parts[1]}' matching ^[\\pL\\pZ\\pN_.:/=+\\-@]{{0,256}}$")
        out[parts[0]] = parts[1].strip()
    return out


def parse_rfc3339(text: str) -> float:
    import datetime as dt
    m = re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", text)
    if not m:
        raise ValueError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse "{text}" as '
                         '"2006"')
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def sim_faults(name: str) -> dict:
    """The HCP_SIM_FAULTS sets that apply to this cluster, as the X-Sim-Faults object (values true)."""
    raw = os.environ.get("HCP_SIM_FAULTS", "").strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        fail("HCP_SIM_FAULTS is not a JSON object")
    if not isinstance(data, dict):
        fail("HCP_SIM_FAULTS is not a JSON object")
    from dataclasses import fields

    from sim.model import Faults, cluster_index
    known = {f.name for f in fields(Faults)} | {"fail_addons"}
    idx = cluster_index(name)
    out: dict = {}
    for key, value in data.items():
        if key not in known or value in (None, False, [], 0, 0.0):
            continue
        if key == "failure_rate":
            out[key] = value
        elif value is True or (idx is not None and isinstance(value, list) and idx in value):
            out[key] = True
    return out


def hcp_subnets(ctx: Ctx, ids: list[str], private: bool, private_ingress: bool, region: str) -> tuple[list, int]:
    """The subnet checks of create cluster: (availability zones, number of private subnets)."""
    try:
        _, body = ctx.aws("GET", "/subnets")
    except ApiError as exc:
        fail(f"Failed to get the list of subnets: {exc}")
    subnets = (body or {}).get("items") or []
    if private and private_ingress:
        excluded = sorted(s["subnet_id"] for s in subnets if s.get("public"))
        if excluded:
            warn("The following subnets have been excluded because they have an Internet Gateway Targetded Route "
                 f"and the Cluster choice is private: {', '.join(excluded)}")
        subnets = [s for s in subnets if not s.get("public")]
        for sid in ids:
            if sid in excluded:
                fail(f"Cluster is set as private, cannot use public '{sid}'")
    if not subnets:
        warn("No subnets found in current region that are valid for the chosen CIDR ranges")
        fail(f"All Hosted Control Plane clusters need a pre-configured VPC. Please check: {HCP_VPC_DOC}")
    by_id = {s["subnet_id"]: s for s in subnets}
    for sid in ids:
        if sid not in by_id:
            fail(f"Could not find the following subnet provided in region '{region}': {sid}")
    if not ids:
        ask("Subnet IDs", "Expected valid subnet IDs")
    if private and len(ids) < 1:
        fail("the number of subnets for a private hosted cluster should be at least one")
    if not private and len(ids) < 2:
        fail("the number of subnets for a public hosted cluster should be at least two")
    n_private = sum(1 for sid in ids if not by_id[sid].get("public"))
    n_public = len(ids) - n_private
    if private and private_ingress:
        if n_public:
            fail("the number of public subnets for a private hosted cluster should be zero")
    elif not n_public:
        fail("must have at least one public subnet when not using both 'private API' and 'private ingress'")
    azs: list[str] = []
    for sid in ids:
        az = by_id[sid].get("availability_zone", "")
        if az not in azs:
            azs.append(az)
    return azs, n_private


def cmd_create_cluster(ctx: Ctx) -> int:
    v, changed = ctx.v, ctx.changed
    ctx.runtime()
    mode = valid_mode(ctx)
    hosted = v["hosted-cp"]
    if hosted:
        if "disable-workload-monitoring" in changed:
            fail("User Workload Monitoring configuration is not supported for Hosted Control Plane clusters")
        for flag in ("additional-infra-security-group-ids", "additional-control-plane-security-group-ids"):
            if flag in changed:
                fail(f"Cannot use '{flag}' flag with Hosted Control Plane clusters, only "
                     "'additional-compute-security-group-ids' is supported")
        if "private-link" in changed:
            fail("Cannot use 'private-link' flag with Hosted Control Plane clusters, 'private' is the supported "
                 "equivalent")
    if "subnet-ids" in changed and "availability-zones" in changed:
        error("Setting availability zones is not supported for BYO VPC. ROSA autodetects availability zones from "
              "subnet IDs provided")
    yes = v["yes"]
    name = v["cluster-name"].strip(" \t")
    if not name:
        info("Enabling interactive mode")
        name = ask("Cluster name", "Expected a valid cluster name")
    if not NAME_RE.match(name):
        fail(f"Cluster name must consist of no more than {MAX_NAME} lowercase alphanumeric characters or '-', start "
             "with a letter, and end with an alphanumeric character.")
    domain_prefix = v["domain-prefix"].strip(" \t")
    if domain_prefix and not DOMAIN_PREFIX_RE.match(domain_prefix):
        fail(f"Domain prefix must consist of no more than {MAX_DOMAIN_PREFIX} lowercase alphanumeric characters or "
             "'-', start with a letter, and end with an alphanumeric character.")
    if len(name) > MAX_DOMAIN_PREFIX and not domain_prefix and not yes:
        warn("You opted out from creating a cluster with an autogenerated sub-domain for your cluster on "
             "openshiftapps.com. To customise the sub-domain, use the '--domain-prefix' flag")
        raise Exit(0)
    if not hosted:
        return _not_simulated("rosa create cluster without --hosted-cp (classic clusters)")
    if v["create-admin-user"] or v["cluster-admin-password"]:
        return _not_simulated("rosa create cluster --create-admin-user (use 'rosa create admin')")
    if "worker-mp-labels" in changed:
        fail("Setting the worker machine pool labels is not supported for hosted clusters")
    creator = ctx.creator()
    account = str(creator.get("account_id", ""))
    billing = v["billing-account"]
    if billing and not re.fullmatch(r"\d{12}", billing):
        fail(f"provided billing account number {billing} is not valid. Rerun the command with a valid billing "
             "account number. To see the list of billing account options, you can use interactive mode by "
             "passing '-i'.")
    if not billing:
        billing = account
        info(f"Using '{billing}' as billing account")
        info("To use a different billing account, add --billing-account xxxxxxxxxx to previous command")
    if v["non-sts"]:
        fail("Can't use both STS and mint mode at the same time.")
    boundary = v["permissions-boundary"]
    if arn_error(boundary):
        fail(f"Expected a valid policy ARN for permissions boundary: {arn_error(boundary)}")
    version = v["version"] or str(ctx.world.get("release_version") or "")
    channel_group = v["channel-group"]
    if v["watch"] and mode == "auto" and not yes:
        fail("Cannot watch for STS cluster installation logs in mode 'auto' without also supplying '--yes' "
             "option.To watch your cluster installation logs, run 'rosa logs install' instead after the cluster "
             "has began creating.")
    if v["watch"] and mode == "manual":
        fail("Cannot watch for STS cluster installation logs in mode 'manual'.It requires manual commands to be "
             "performed as part of the process.To watch your cluster installation logs, run 'rosa logs install' "
             "after the cluster has began creating.")
    role_arn, support_arn, worker_arn = v["role-arn"], v["support-role-arn"], v["worker-iam-role-arn"]
    has_roles = False
    interactive = False
    if not role_arn:
        roles = account_roles(ctx)
        installers = [r for r in roles if r.get("role_type") == "Installer" and r.get("hcp", True)]
        warn("Account roles not created by ROSA CLI cannot be listed, updated, or upgraded.")
        if len(installers) > 1:
            chosen = next((r for r in installers if r.get("name") == "ManagedOpenShift-HCP-ROSA-Installer-Role"),
                          installers[0])
            warn("More than one Installer role found")
            if yes:
                info(f"Using {chosen['arn']} for the Installer role")
                role_arn = chosen["arn"]
            else:
                role_arn = ask("Installer role ARN", "Expected a valid role ARN")
        elif len(installers) == 1:
            if ctx.guarded:
                info(f"Using {installers[0]['arn']} for the Installer role")
            role_arn = installers[0]["arn"]
        else:
            warn("No suitable account with ROSA CLI-created account roles were found. You can manually set them in "
                 "the next steps or run 'rosa create account-roles --hosted-cp' to create them first.")
            interactive = True
        if role_arn:
            has_roles = True
            prefix = _role_name(role_arn)
            prefix = prefix[:-len("-HCP-ROSA-Installer-Role")] if prefix.endswith("-HCP-ROSA-Installer-Role") \
                else prefix.rsplit("-Installer-Role", 1)[0]
            for kind in ("Support", "Worker"):
                want = f"{prefix}-HCP-ROSA-{kind}-Role".lower()
                found = next((r["arn"] for r in roles if r.get("name", "").lower() == want), "")
                if not found:
                    warn("No suitable accounts with ROSA CLI-created account roles were found. You can manually set "
                         "them in the next steps or run 'rosa create account-roles --hosted-cp' to create them "
                         "first.")
                    interactive, has_roles = True, False
                    break
                if ctx.guarded:
                    info(f"Using {found} for the {kind} role")
                if kind == "Support":
                    support_arn = found
                else:
                    worker_arn = found
    if not has_roles and interactive:
        role_arn = ask("Role ARN", "Expected a valid ARN")
    if arn_error(role_arn):
        fail(f"Expected a valid Role ARN: {arn_error(role_arn)}")
    if not has_roles and (interactive or not support_arn):
        support_arn = ask("Support Role ARN", "Expected a valid ARN")
    if arn_error(support_arn):
        fail(f"Expected a valid Support Role ARN: {arn_error(support_arn)}")
    if not has_roles and (interactive or not worker_arn):
        worker_arn = ask("Worker IAM Role ARN", "Expected a valid worker IAM role ARN")
    if arn_error(worker_arn):
        fail(f"Expected a valid worker instance IAM role ARN: {arn_error(worker_arn)}")
    op_prefix = v["operator-roles-prefix"] or f"{name[:27]}-{random_label()}"
    if len(op_prefix) > MAX_ROLE_PREFIX:
        fail("Expected a prefix with no more than 32 characters")
    if not re.match(ROLE_NAME_RE, op_prefix):
        fail(f"Expected valid operator roles prefix matching {ROLE_NAME_RE}")
    oidc_id = v["oidc-config-id"]
    if not oidc_id:
        oidc_id = prompt_oidc_config_id(ctx)
        if not oidc_id:
            fail("Hosted Control Plane requires an OIDC Configuration ID\n"
                 "Please run `rosa create oidc-config -h` and create one.")
    oidc = get_oidc_config(ctx, oidc_id)
    tags = validate_tags(v["tags"]) if v["tags"] else {}
    if "multi-az" in changed:
        warn("Hosted clusters deprecate the --multi-az flag. The hosted control plane will be MultiAZ, machinepools "
             "will be created in the different private subnets provided under --subnet-ids flag.")
    region = ctx.region()
    if not region:
        fail("Expected a valid AWS region")
    world_region = str(ctx.world.get("region") or creator.get("region") or region)
    if region != world_region:
        warn(f"Region '{region}' not currently available for Hosted Control Plane cluster.")
        ask("AWS region", "Expected a valid AWS region")
    private, private_ingress = v["private"], v["default-ingress-private"]
    subnet_ids = [s for s in v["subnet-ids"] if s]
    azs, n_private = hcp_subnets(ctx, subnet_ids, private, private_ingress, region)
    kms = v["kms-key-arn"]
    if kms and not re.match(r"^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key/", kms):
        fail("Expected a valid value for kms-key-arn: expected a valid KMS key ARN")
    autoscaling = v["enable-autoscaling"]
    replicas_set = "replicas" in changed or "compute-nodes" in changed
    min_set, max_set = "min-replicas" in changed, "max-replicas" in changed
    min_r = v["min-replicas"] if min_set else (2 if n_private == 1 else n_private)
    max_r = v["max-replicas"] if max_set else min_r

    def replica_check(n: int) -> None:
        if not autoscaling and n < 2:
            fail(f"hosted Control Plane clusters require a minimum of 2 nodes, but {n} was requested")
        if autoscaling and n < 0:
            fail("min-replicas must be a non-negative number when autoscaling is enabled")
        if n > 500:
            fail("should provide an integer number less than or equal to '500'")
        if n < 0:
            fail("The value for the number of cluster nodes must be non-negative")
        if n_private < 1:
            fail("Hosted clusters require at least a private subnet")
        if n % n_private:
            fail("Hosted clusters require that the number of compute nodes be a multiple of the number of private "
                 f"subnets {n_private}, instead received: {n}")

    compute = v["replicas"] if replicas_set else min_r
    if autoscaling:
        if replicas_set:
            fail("Compute-nodes can't be set when autoscaling is enabled")
        if not min_set:
            fail("Expected a valid number of min replicas: EOF")
        replica_check(min_r)
        if not max_set:
            fail("Expected a valid number of max replicas: EOF")
        if max_r < 0:
            fail("max-replicas must be a non-negative number when autoscaling is enabled")
        if max_r > 500:
            fail("should provide an integer number less than or equal to '500'")
        if min_r > max_r:
            fail("max-replicas must be greater or equal to min-replicas")
        if max_r % n_private:
            fail("Hosted clusters require that the number of compute nodes be a multiple of the number of private "
                 f"subnets {n_private}, instead received: {max_r}")
    else:
        if min_set or max_set:
            fail("Autoscaling must be enabled in order to set min and max replicas")
        replica_check(compute)
    if v["expiration-time"] and v["expiration"]:
        fail("at most one of 'expiration-time' or 'expiration' may be specified")
    expiration = None
    if v["expiration-time"]:
        try:
            expiration = parse_rfc3339(v["expiration-time"])
        except ValueError as exc:
            fail(f"failed to parse expiration-time: {exc}")
    if v["expiration"]:
        expiration = time.time() + v["expiration"]
    if v["network-type"] and v["network-type"] not in ("OpenShiftSDN", "OVNKubernetes"):
        fail("expected a valid network type. Valid values: [OpenShiftSDN OVNKubernetes]")
    disk = v["worker-disk-size"]
    disk_gib = 0
    if disk:
        m = re.fullmatch(r"\s*(\d+)\s*(GiB|TiB|G|T|GB|TB|Gi|Ti)?\s*", disk)
        if not m:
            fail(f"Expected a valid machine pool root disk size value '{disk}': invalid disk size format: "
                 f"'{disk}'. accepted units are Giga or Tera in the form of g, G, GB, GiB, Gi, t, T, TB, TiB, Ti")
        disk_gib = int(m.group(1)) * (1024 if (m.group(2) or "G").startswith("T") else 1)
        if not 75 <= disk_gib <= 16384:
            fail(f"Invalid root disk size: {disk_gib} GiB. Must be between 75 GiB and 16384 GiB.")
    if "no-cni" in changed and "network-type" in changed:
        fail("--no-cni and --network-type are mutually exclusive parameters")
    etcd_kms = v["etcd-encryption-kms-arn"]
    etcd = v["etcd-encryption"] or v["fips"] or bool(etcd_kms)
    if etcd and not etcd_kms:
        fail("Expected a valid value for etcd-encryption-kms-arn: EOF")
    for flag in ("default-ingress-route-selector", "default-ingress-excluded-namespaces",
                 "default-ingress-wildcard-policy", "default-ingress-namespace-ownership-policy"):
        if flag in changed:
            fail("Updating default ingress settings is not supported for Hosted Control Plane clusters")
    if v["http-proxy"] or v["https-proxy"] or v["no-proxy"] or v["additional-trust-bundle-file"]:
        return _not_simulated("rosa create cluster with a cluster-wide proxy")

    props = {"rosa_creator_arn": str(creator.get("arn", "")), "rosa_cli_version": VERSION}
    for prop in v["properties"]:
        key, sep, value = prop.partition(":")
        props[key] = value if sep else "true"
    nodes: dict = {"compute": compute, "availability_zones": azs}
    if autoscaling:
        nodes["compute"] = min_r
        nodes["autoscale_compute"] = {"min_replicas": min_r, "max_replicas": max_r}
    if v["compute-machine-type"]:
        nodes["compute_machine_type"] = {"id": v["compute-machine-type"]}
    if disk_gib:
        nodes["compute_root_volume"] = {"aws": {"size": disk_gib}}
    sts = {"enabled": True, "role_arn": role_arn, "support_role_arn": support_arn,
           "instance_iam_roles": {"worker_role_arn": worker_arn}, "operator_role_prefix": op_prefix,
           "oidc_config": {"id": oidc.get("id", oidc_id)}, "auto_mode": mode == "auto"}
    if boundary:
        sts["permission_boundary"] = boundary
    if v["external-id"]:
        sts["external_id"] = v["external-id"]
    aws = {"subnet_ids": subnet_ids, "sts": sts, "billing_account_id": billing, "private_link": private,
           "ec2_metadata_http_tokens": v["ec2-metadata-http-tokens"] or "optional"}
    if tags:
        aws["tags"] = tags
    if kms:
        aws["kms_key_arn"] = kms
    if etcd_kms:
        aws["etcd_encryption"] = {"kms_key_arn": etcd_kms}
    if v["audit-log-arn"]:
        aws["audit_log"] = {"role_arn": v["audit-log-arn"]}
    if v["additional-allowed-principals"]:
        aws["additional_allowed_principals"] = v["additional-allowed-principals"]
    body: dict = {"name": name, "product": {"id": "rosa"}, "cloud_provider": {"id": "aws"},
                  "region": {"id": region}, "multi_az": True, "hypershift": {"enabled": True},
                  "version": {"id": f"openshift-v{version}", "channel_group": channel_group}, "nodes": nodes,
                  "aws": aws, "api": {"listening": "internal" if private else "external"},
                  "etcd_encryption": etcd, "fips": v["fips"], "properties": props}
    if domain_prefix:
        body["domain_prefix"] = domain_prefix
    if expiration is not None:
        body["expiration_timestamp"] = rfc3339(expiration)
    if v["external-auth-providers-enabled"]:
        body["external_auth_config"] = {"enabled": True}
    if v["no-cni"]:
        body["network"] = {"type": "Other"}
    elif v["network-type"]:
        body["network"] = {"type": v["network-type"]}
    headers = {"X-Sim-Ocm-Env": ctx.ocm().env}
    faults = sim_faults(name)
    if faults:
        headers["X-Sim-Faults"] = json.dumps(faults, separators=(",", ":"))
    if ctx.guarded:
        info(f"Creating cluster '{name}'")
        info("To view a list of clusters and their status, run 'rosa list clusters'")
    if v["dry-run"]:
        info(f"Creating cluster '{name}' should succeed. Run without the '--dry-run' flag to create the cluster.")
        return 0
    try:
        _, cluster = ctx.ocm().call("POST", f"{API}/clusters", body=body, headers=headers)
    except ApiError as exc:
        fail(f"Failed to create cluster: {exc}")
    if ctx.guarded:
        info(f"Cluster '{name}' has been created.")
        info("Once the cluster is installed you will need to add an Identity Provider before you can login into the "
             "cluster. See 'rosa create idp --help' for more information.")
    show_cluster(ctx, find_cluster(ctx, cluster.get("id", "")) or cluster)
    if mode:
        if ctx.guarded:
            info("Preparing to create operator roles.")
        operator_roles_for_cluster(ctx, cluster, mode, boundary)
        if ctx.guarded:
            info("Preparing to create OIDC Provider.")
        oidc_provider_for_cluster(ctx, cluster, mode)
    else:
        todo = ""
        if not operator_roles_of(ctx, op_prefix):
            todo += f"\trosa create operator-roles --cluster {name}" + \
                (f" --permissions-boundary {boundary}" if boundary else "") + "\n"
        if not find_oidc_provider(ctx, dig(cluster, "aws.sts.oidc_endpoint_url") or oidc.get("issuer_url", "")):
            todo += f"\trosa create oidc-provider --cluster {name}\n"
        if todo:
            info(f"Run the following commands to continue the cluster creation:\n\n{todo}")
    if v["watch"]:
        return watch_logs(ctx, "install", name)
    if ctx.guarded:
        info(f"To determine when your cluster is Ready, run 'rosa describe cluster -c {name}'.")
        info(f"To watch your cluster installation logs, run 'rosa logs install -c {name} --watch'.")
    return 0


# ============================================================ roles & providers
def operator_roles_of(ctx: Ctx, prefix: str) -> list[dict]:
    try:
        _, body = ctx.aws("GET", "/operator_roles", params={"prefix": prefix})
    except ApiError as exc:
        if exc.status == 404:
            return []
        fail(f"There was a problem retrieving the Operator Roles from AWS: {exc}")
    return (body or {}).get("items") or []


def oidc_providers(ctx: Ctx) -> list[dict]:
    try:
        _, body = ctx.aws("GET", "/oidc_providers")
    except ApiError as exc:
        fail(f"Failed to verify if OIDC provider exists: {exc}")
    return (body or {}).get("items") or []


def find_oidc_provider(ctx: Ctx, issuer: str) -> dict | None:
    want = issuer.rstrip("/")
    return next((p for p in oidc_providers(ctx) if str(p.get("url", "")).rstrip("/") == want), None) if want \
        else None


def create_operator_roles(ctx: Ctx, prefix: str, oidc_config_id: str, installer_arn: str) -> None:
    if ctx.guarded:
        info(f"Creating roles using '{ctx.creator().get('arn', '')}'")
    try:
        _, body = ctx.aws("POST", "/operator_roles", {"prefix": prefix, "oidc_config_id": oidc_config_id,
                                                      "installer_role_arn": installer_arn})
    except ApiError as exc:
        fail(f"There was an error creating the operator roles: {exc}")
    if ctx.guarded:
        for role in (body or {}).get("items") or []:
            info(f"Created role '{role.get('name', '')}' with ARN '{role.get('arn', '')}'")


def operator_roles_for_cluster(ctx: Ctx, cluster: dict, mode: str, boundary: str) -> None:
    """rosa create operator-roles for a cluster (what create cluster --mode runs)."""
    sts = dig(cluster, "aws.sts", {})
    if not sts.get("role_arn"):
        fail(f"Cluster '{cluster.get('name')}' is not an STS cluster.")
    prefix = sts.get("operator_role_prefix", "")
    existing = operator_roles_of(ctx, prefix)
    if mode == "auto":
        if existing:
            info("Operator Roles already exists")
            return
        create_operator_roles(ctx, prefix, dig(sts, "oidc_config.id"), sts["role_arn"])
        return
    if Out.terminal:
        info("All policy files saved to the current directory")
        info("Run the following commands to create the operator roles:\n")
    acct = ctx.creator().get("account_id", "")
    lines = []
    for role in sts.get("operator_iam_roles") or []:
        rname = _role_name(role.get("role_arn", ""))
        lines.append(f"aws iam create-role \\\n\t--role-name {rname} \\\n\t--assume-role-policy-document "
                     f"file://operator_{role.get('namespace', '')}_{role.get('name', '')}_policy.json \\\n\t--tags "
                     f"Key=rosa_cluster_id,Value={cluster.get('id')} Key=red-hat-managed,Value=true"
                     + (f" \\\n\t--permissions-boundary {boundary}" if boundary else ""))
    sys.stdout.write("\n\n".join(lines) + "\n" if lines else f"# no operator roles to create in {acct}\n")


def oidc_provider_for_cluster(ctx: Ctx, cluster: dict, mode: str) -> None:
    """rosa create oidc-provider for a cluster (what create cluster --mode runs)."""
    issuer = dig(cluster, "aws.sts.oidc_endpoint_url") or dig(cluster, "aws.sts.oidc_config.issuer_url")
    oidc_config = dig(cluster, "aws.sts.oidc_config", {})
    create_oidc_provider(ctx, issuer, oidc_config.get("id", ""), mode, cluster=cluster)


def create_oidc_provider(ctx: Ctx, issuer: str, config_id: str, mode: str, cluster: dict | None = None) -> None:
    if find_oidc_provider(ctx, issuer):
        if cluster is not None and isinstance(dig(cluster, "aws.sts.oidc_config", None), dict) and \
                not dig(cluster, "aws.sts.oidc_config.reusable", True):
            warn(f"Cluster '{cluster.get('name')}' already has OIDC provider but has not yet started installation. "
                 "Verify that the cluster operator roles exist and are configured correctly.")
            raise Exit(1)
        info("OIDC provider already exists")
        return
    if mode == "manual":
        if Out.terminal:
            info("Run the following commands to create the OIDC provider:\n")
        sys.stdout.write(f"aws iam create-open-id-connect-provider \\\n\t--url {issuer} \\\n\t--client-id-list "
                         "openshift sts.amazonaws.com \\\n\t--thumbprint-list "
                         f"{hashlib.sha1(issuer.encode()).hexdigest()} \\\n\t--tags "
                         "Key=red-hat-managed,Value=true\n")
        return
    if mode != "auto":
        fail("Invalid mode. Allowed values are [auto manual]")
    if ctx.guarded:
        info(f"Creating OIDC provider using '{ctx.creator().get('arn', '')}'")
    if not ctx.v.get("yes"):
        raise Exit(0)
    body = {"oidc_config_id": config_id} if config_id else {"issuer_url": issuer}
    try:
        _, provider = ctx.aws("POST", "/oidc_providers", body)
    except ApiError as exc:
        fail(f"There was an error creating the OIDC provider: {exc}")
    if ctx.guarded:
        info(f"Created OIDC provider with ARN '{(provider or {}).get('arn', '')}'")


def delete_oidc_provider(ctx: Ctx, issuer: str, mode: str) -> None:
    if urllib.parse.urlsplit(issuer).scheme != "https":
        fail(f"Expected OIDC endpoint URL '{issuer}' to use an https:// scheme")
    provider = find_oidc_provider(ctx, issuer)
    if provider is None:
        info(f"Provider '{issuer}' not found.")
        return
    acct = ctx.creator().get("account_id", "")
    query = f"aws.sts.oidc_endpoint_url = '{issuer}' AND aws.sts.role_arn like '%{acct}%'"
    if clusters_matching(ctx, query):
        fail(f"There are clusters using OIDC config '{issuer}', can't delete the provider")
    arn = provider.get("arn", "")
    if mode == "manual":
        if Out.terminal:
            info("Run the following commands to delete the OIDC provider:\n")
        sys.stdout.write(f"aws iam delete-open-id-connect-provider \\\n\t--open-id-connect-provider-arn {arn}\n")
        return
    if mode != "auto":
        fail("Invalid mode. Allowed values are [auto manual]")
    if not ctx.v.get("yes"):
        raise Exit(1)
    try:
        ctx.aws("DELETE", "/oidc_providers", params={"issuer_url": issuer})
    except ApiError as exc:
        fail(f"There was an error deleting the OIDC provider: {exc}")
    info(f"Successfully deleted the OIDC provider {arn}")


def clusters_matching(ctx: Ctx, query: str) -> int:
    return int(search_clusters(ctx, query).get("total") or 0)


# ============================================================ delete, logs
def cmd_delete_cluster(ctx: Ctx) -> int:
    ctx.runtime()
    key = cluster_key(ctx)
    if ctx.v["best-effort"]:
        warn(f"Deleting cluster '{key}' with 'best effort' means that certain resources may be left behind in AWS "
             f"account '{ctx.creator().get('account_id', '')}'. These resources will need to be deleted manually.")
    if not confirmed(ctx.v):
        return 0
    cluster = fetch_cluster(ctx, key)
    try:
        if cluster_state(ctx, cluster["id"]) == "uninstalling":
            info(f"cluster '{key}' is already uninstalling")
        else:
            debug(f"Deleting cluster '{key}'")
            params = {"best_effort": "true"} if ctx.v["best-effort"] else None
            ctx.ocm().call("DELETE", f"{API}/clusters/{cluster['id']}", params=params)
            info(f"Cluster '{key}' will start uninstalling now")
    except ApiError as exc:
        fail(str(exc))
    sts = dig(cluster, "aws.sts", {})
    if sts.get("role_arn"):
        info(f"Your cluster '{key}' will be deleted but the following objects may remain")
        if sts.get("operator_iam_roles"):
            info("Operator IAM Roles:" + "".join(f" - {r.get('role_arn', '')}\n" for r in sts["operator_iam_roles"]))
        info(f"OIDC Provider : {sts.get('oidc_endpoint_url', '')}\n")
        info("Once the cluster is uninstalled use the following commands to remove the above aws resources.\n")
        if dig(sts, "oidc_config.reusable", False):
            cmds = (f"\trosa delete operator-roles --prefix {sts.get('operator_role_prefix', '')}\n"
                    f"\trosa delete oidc-provider --oidc-config-id {dig(sts, 'oidc_config.id')}")
        else:
            cmds = f"\trosa delete operator-roles -c {cluster['id']}\n\trosa delete oidc-provider -c {cluster['id']}"
        sys.stdout.write(cmds + "\n")
        sys.stdout.flush()
    if ctx.v["watch"]:
        return watch_logs(ctx, "uninstall", key)
    info(f"To watch your cluster uninstallation logs, run 'rosa logs uninstall -c {key} --watch'")
    return 0


class LogPrinter:
    """printLog/findNextLines: print the lines after the last one already printed."""

    def __init__(self):
        self.last = ""

    def __call__(self, content: str) -> None:
        lines = content.split("\n")[:-1]
        if self.last:
            for i, line in enumerate(lines):
                if line == self.last:
                    lines = lines[i + 1:]
                    break
        if lines:
            self.last = lines[-1]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()


def _get_log(ctx: Ctx, which: str, cluster_id: str, tail: int) -> str | None:
    """The log's content; None when OCM has none (404)."""
    try:
        body = ctx.ocm().get(f"{API}/clusters/{cluster_id}/logs/{which}", tail=tail) or {}
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return str(body.get("content") or "")


def watch_logs(ctx: Ctx, which: str, key: str, tail: int = 2000) -> int:
    """rosa logs install|uninstall KEY as other commands call it (watching)."""
    return _logs(ctx, which, key, tail, True)


def _logs(ctx: Ctx, which: str, key: str, tail: int, watch: bool) -> int:
    cluster = fetch_cluster(ctx, key)
    state = cluster.get("state", "")
    printer = LogPrinter()
    if which == "install":
        if state == "ready":
            info(f"Cluster '{key}' has been successfully installed")
            return 0
        pending = (f"Cluster '{key}' is in {state} state waiting for installation to begin. Logs will show up "
                   "within 5 minutes")
        if state in ("pending", "waiting") and not watch:
            created = parse_rfc3339_loose(cluster.get("creation_timestamp", ""))
            if created and created + 300 < time.time():
                fail(f"Cluster '{key}' has been in {state} state for too long. Please contact support")
            warn(pending)
            return 0
        if state == "uninstalling":
            fail(f"Cluster '{key}' is in '{state}' state and no installation logs are available")
    else:
        if state != "uninstalling" and not watch:
            warn(f"Cluster '{key}' is not currently uninstalling")
            raise Exit(1)
        if state in ("installing", "pending", "waiting"):
            fail(f"Cluster '{key}' is in '{state}' state and no uninstallation logs are available")
    try:
        content = _get_log(ctx, which, cluster["id"], tail)
    except ApiError as exc:
        fail(f"Failed to get logs for cluster '{key}': {exc}")
    if content is None:
        if which == "install":
            info(pending)
        else:
            warn(f"Logs for cluster '{key}' are not available")
    else:
        printer(content)
    if not watch:
        return 0
    if which == "install" and state == "ready":
        info(f"Cluster '{key}' is successfully installed")
        return 0
    interval = POLL_SECONDS / ctx.speed()
    deadline = time.monotonic() + POLL_LIMIT / ctx.speed()
    while True:
        try:
            content = _get_log(ctx, which, cluster["id"], 100)
            state = cluster_state(ctx, cluster["id"])
        except ApiError as exc:
            fail(f"Failed to watch logs for cluster '{key}': Failed to poll logs for cluster '{cluster['id']}': "
                 f"{exc}")
        if which == "install":
            if state == "error":
                fail(f"There was an error installing cluster '{key}'")
            if state == "ready":
                info(f"Cluster '{key}' is now ready")
                return 0
        elif not state:
            info(f"Cluster '{key}' completed uninstallation")
            return 0
        if content is not None:
            printer(content)
        if time.monotonic() + interval > deadline:
            fail(f"Failed to watch logs for cluster '{key}': Failed to poll logs for cluster '{cluster['id']}': "
                 "context deadline exceeded")
        time.sleep(max(interval, 0.01))


def parse_rfc3339_loose(text: str) -> float:
    try:
        return parse_rfc3339(re.sub(r"\.\d+", "", text)) if text else 0.0
    except ValueError:
        return 0.0


def cmd_logs(which: str) -> Callable[[Ctx], int]:
    def run_logs(ctx: Ctx) -> int:
        ctx.runtime()
        return _logs(ctx, which, cluster_key(ctx), ctx.v["tail"], ctx.v["watch"])
    return run_logs


# ================================================================== OIDC configs
def cmd_create_oidc_config(ctx: Ctx) -> int:
    v, changed = ctx.v, ctx.changed
    ctx.runtime()
    mode = valid_mode(ctx)
    interactive = ("mode" not in changed and "raw-files" not in changed) or \
        ("managed" not in changed and not v["yes"]) or \
        (not v["managed"] and ("mode" not in changed or (mode == "auto" and not v["role-arn"] and not v["yes"])))
    managed = v["managed"]
    if interactive and "managed" not in changed:
        managed = bool(v["yes"])
    if v["raw-files"] and mode:
        warn("--raw-files param is not supported alongside --mode param.")
        raise Exit(1)
    if v["raw-files"] and v["role-arn"]:
        warn("--raw-files param is not supported alongside --role-arn param")
        raise Exit(1)
    if v["raw-files"] and managed:
        warn("--raw-files param is not supported alongside --managed param")
        raise Exit(1)
    if not v["raw-files"] and interactive and "mode" not in changed:
        question = "OIDC Config creation mode"
        if managed:
            warn("For a managed OIDC Config only auto mode is supported. However, you may choose the provider "
                 "creation mode")
            question = "OIDC Provider creation mode"
        fail(f"Expected a valid {question}: EOF")
    if ctx.output and mode and mode != "auto":
        warn("--output param is not supported outside auto mode.")
        raise Exit(1)
    if managed and v["prefix"]:
        warn("--prefix param is not supported for managed OIDC config")
        raise Exit(1)
    if managed and v["role-arn"]:
        warn("--role-arn param is not supported for managed OIDC config")
        raise Exit(1)
    if not managed:
        return _not_simulated("rosa create oidc-config --managed=false (S3 bucket, Secrets Manager)")
    if Out.terminal and not ctx.output:
        info("Setting up managed OIDC configuration")
    try:
        _, config = ctx.ocm().call("POST", f"{API}/oidc_configs", body={"managed": True})
    except ApiError as exc:
        fail(f"There was a problem registering your managed OIDC Configuration: {exc}")
    if ctx.output:
        print_output(ctx, config)
        return 0
    if Out.terminal:
        info(INFORM_OPERATOR_ROLES % config.get("id", ""))
    create_oidc_provider(ctx, config.get("issuer_url", ""), config.get("id", ""), mode)
    return 0


def cmd_delete_oidc_config(ctx: Ctx) -> int:
    v = ctx.v
    ctx.runtime()
    mode = valid_mode(ctx)
    if "mode" not in ctx.changed:
        fail("Expected a valid OIDC provider creation mode: EOF")
    config_id = v["oidc-config-id"]
    if not config_id and "oidc-config-id" not in ctx.changed:
        config_id = prompt_oidc_config_id(ctx)
    try:
        config = ctx.ocm().get(f"{API}/oidc_configs/{urllib.parse.quote(config_id, safe='')}") or {}
    except ApiError as exc:
        fail(f"There was a problem retrieving the OIDC Config '{config_id}': {exc}")
    issuer = config.get("issuer_url", "")
    if clusters_matching(ctx, f"aws.sts.oidc_endpoint_url = '{issuer}'"):
        fail(f"There are clusters using OIDC config '{issuer}', can't delete the configuration")
    if not config.get("managed"):
        return _not_simulated("rosa delete oidc-config of an unmanaged OIDC config")
    delete_oidc_provider(ctx, issuer, mode)
    try:
        ctx.ocm().call("DELETE", f"{API}/oidc_configs/{urllib.parse.quote(config_id, safe='')}")
    except ApiError as exc:
        debug(f"Failed to delete OIDC config '{config_id}': {exc}")
    if Out.terminal:
        info(f"Registered OIDC Config ID '{config_id}' has been removed from OCM and can no longer be used")
    return 0


def cmd_list_oidc_config(ctx: Ctx) -> int:
    ctx.runtime()
    try:
        configs = list_oidc_configs(ctx)
    except ApiError as exc:
        fail(f"Failed to list OIDC Configurations: {exc}")
    return print_list(ctx, configs, "There are no OIDC Configurations for your organization",
                      ["ID", "MANAGED", "ISSUER URL", "SECRET ARN"],
                      lambda c: [c.get("id", ""), "true" if c.get("managed") else "false", c.get("issuer_url", ""),
                                 c.get("secret_arn", "")])


def _oidc_provider_target(ctx: Ctx, verb: str) -> str:
    """The issuer URL of ``rosa create|delete oidc-provider`` (--oidc-config-id or -c)."""
    v = ctx.v
    if "cluster" in ctx.changed and "oidc-config-id" in ctx.changed:
        fail("A cluster key for STS cluster and an OIDC " + ("Config ID" if verb == "create" else "Config ID") +
             " cannot be specified alongside each other.")
    valid_mode(ctx)
    if "mode" not in ctx.changed:
        fail(f"Expected a valid OIDC provider {'creation' if verb == 'create' else 'deletion'} mode: EOF")
    config_id = v["oidc-config-id"] or prompt_oidc_config_id(ctx)
    return get_oidc_config(ctx, config_id).get("issuer_url", "")


def cmd_create_oidc_provider(ctx: Ctx) -> int:
    ctx.runtime()
    if "cluster" in ctx.changed and "oidc-config-id" not in ctx.changed:
        cluster = fetch_cluster(ctx)
        if not dig(cluster, "aws.sts.role_arn"):
            fail(f"Cluster '{ctx.v['cluster']}' is not an STS cluster.")
        if "mode" not in ctx.changed:
            fail("Expected a valid OIDC provider creation mode: EOF")
        oidc_provider_for_cluster(ctx, cluster, ctx.v["mode"])
        return 0
    issuer = _oidc_provider_target(ctx, "create")
    create_oidc_provider(ctx, issuer, ctx.v["oidc-config-id"], ctx.v["mode"])
    return 0


def cmd_delete_oidc_provider(ctx: Ctx) -> int:
    ctx.runtime()
    if "cluster" in ctx.changed and "oidc-config-id" not in ctx.changed:
        fail_not_uninstalled(ctx, "OIDC provider")
    issuer = _oidc_provider_target(ctx, "delete")
    delete_oidc_provider(ctx, issuer, ctx.v["mode"])
    return 0


# ================================================================ IAM roles
def cmd_create_operator_roles(ctx: Ctx) -> int:
    v, changed = ctx.v, ctx.changed
    ctx.runtime()
    if v["vpc-endpoint-role-arn"] and not v["hosted-cp"]:
        fail("Setting the 'vpc-endpoint-role-arn' flag is only supported for hosted clusters")
    mode = valid_mode(ctx)
    if "cluster" not in changed and "prefix" not in changed:
        fail("Either a cluster key for STS cluster or an operator roles prefix must be specified.")
    if "cluster" in changed and "prefix" in changed:
        fail("A cluster key for STS cluster and an operator roles prefix cannot be specified alongside each other.")
    if "cluster" in changed and "oidc-config-id" in changed:
        fail("A cluster key for STS cluster and an OIDC configuration ID cannot be specified alongside each other.")
    installer = v["role-arn"]
    if not v["hosted-cp"] and installer:
        role = next((r for r in account_roles(ctx) if r.get("arn") == installer), None)
        if role is None or role.get("managed_policies", True):
            fail("The managed policies are not supported for classic operator-roles.")
    cluster = fetch_cluster(ctx) if not v["prefix"] else None
    if "mode" not in changed:
        fail("Expected a valid role creation mode: EOF")
    if arn_error(v["permissions-boundary"]):
        fail(f"Expected a valid policy ARN for permissions boundary: {arn_error(v['permissions-boundary'])}")
    if cluster is not None:
        operator_roles_for_cluster(ctx, cluster, mode, v["permissions-boundary"])
        return 0
    if not v["oidc-config-id"]:
        fail("oidc-config-id is mandatory for prefix param flow.")
    if not installer:
        fail("role-arn is mandatory for prefix param flow.")
    config = get_oidc_config(ctx, v["oidc-config-id"])
    prefix = v["prefix"]
    if len(prefix) > MAX_ROLE_PREFIX:
        fail("Expected a prefix with no more than 32 characters")
    if not re.match(ROLE_NAME_RE, prefix):
        fail(f"Expected valid operator roles prefix matching {ROLE_NAME_RE}")
    issuer = config.get("issuer_url", "")
    if urllib.parse.urlsplit(issuer).scheme != "https":
        fail(f"Expected OIDC endpoint URL '{issuer}' to use an https:// scheme")
    if arn_error(installer):
        fail(arn_error(installer))
    role_name = _role_name(installer)
    if not re.match(r"^.+-(HCP-ROSA-)?Installer-Role$", role_name):
        info("Can only use installer roles created through ROSA CLI for this flow.")
        raise Exit(1)
    role = next((r for r in account_roles(ctx) if r.get("arn") == installer), None)
    if role is None:
        fail(f"Failed to determine if cluster has managed policies: NoSuchEntity: The role with name {role_name} "
             "cannot be found.")
    if v["hosted-cp"] and not (role.get("hcp", True) and role.get("managed_policies", True)):
        fail(f"Failed to create the operator role since the Installer role ARN '{installer}' does not have managed "
             "policies")
    if mode == "manual":
        if Out.terminal:
            info("All policy files saved to the current directory")
            info("Run the following commands to create the operator roles:\n")
        sys.stdout.write(f"aws iam create-role --role-name {prefix}-<namespace>-<name> (operator roles of prefix "
                         f"'{prefix}' for OIDC issuer {issuer})\n")
        return 0
    create_operator_roles(ctx, prefix, config.get("id", v["oidc-config-id"]), installer)
    if Out.terminal:
        info("To create a cluster with these roles, run the following command:\n\trosa create cluster --oidc-config-id "
             f"{v['oidc-config-id']} --operator-roles-prefix {prefix} --hosted-cp")
    return 0


def cmd_delete_operator_roles(ctx: Ctx) -> int:
    v, changed = ctx.v, ctx.changed
    ctx.runtime()
    mode = valid_mode(ctx)
    if "cluster" not in changed and "prefix" not in changed:
        fail("Either a cluster key or a prefix must be specified.")
    if "mode" not in changed:
        fail("Expected a valid operator role deletion mode: EOF")
    prefix = v["prefix"]
    if not prefix:
        fail_not_uninstalled(ctx, "Operator roles")
    if Out.terminal:
        info(f"Fetching operator roles for the prefix: {prefix}")
    if clusters_matching(ctx, f"aws.sts.operator_role_prefix = '{prefix}'"):
        fail(f"There are clusters using Operator Roles Prefix '{prefix}', can't delete the IAM roles")
    roles = operator_roles_of(ctx, prefix)
    if not roles:
        info(f"There are no operator roles to delete for prefix '{prefix}'")
        return 0
    if mode == "manual":
        if Out.terminal:
            info("Run the following commands to delete the Operator roles and policies:\n")
        sys.stdout.write("\n".join(f"aws iam delete-role --role-name {r.get('name', '')}" for r in roles) + "\n")
        return 0
    failed = False
    if v["yes"]:
        for r in roles:
            info(f"Deleting operator role '{r.get('name', '')}'")
        try:
            ctx.aws("DELETE", "/operator_roles", params={"prefix": prefix})
        except ApiError as exc:
            warn(f"There was an error deleting the Operator Role or Policies: {exc}")
            failed = True
    if not failed:
        info("Successfully deleted the operator roles")
    return 0


def _operator_role_detail(role: dict) -> dict:
    out: dict = {}
    for key, src in (("Name", "operator_name"), ("Namespace", "namespace"), ("Version", "policy_version"),
                     ("RoleName", "name"), ("RoleARN", "arn"), ("ClusterID", "cluster_id")):
        if role.get(src):
            out[key] = role[src]
    if role.get("managed_policies", True):
        out["ManagedPolicy"] = True
    return out


def cmd_list_operator_roles(ctx: Ctx) -> int:
    ctx.runtime()
    if Out.terminal:
        info("Fetching operator roles")
    prefix = ctx.v["prefix"]
    if "cluster" in ctx.changed:
        prefix = dig(fetch_cluster(ctx), "aws.sts.operator_role_prefix")
    try:
        _, body = ctx.aws("GET", "/roles", params={"type": "operator"})
    except ApiError as exc:
        fail(f"Failed to get operator roles: {exc}")
    by_prefix: dict[str, list] = {}
    for role in (body or {}).get("items") or []:
        m = re.match(r"(?i)(?P<p>[\w+=,.@-]+)-(openshift|kube-system)", role.get("name", ""))
        if m:
            by_prefix.setdefault(m.group("p").lower(), []).append(_operator_role_detail(role))
    if not by_prefix:
        info("No operator roles available" + (f" in version '{ctx.v['version']}'" if ctx.v["version"] else ""))
        return 0
    if prefix and prefix not in by_prefix and not ctx.output:
        info(f"No operator roles available for prefix '{prefix}'")
        return 0
    if ctx.output:
        print_output(ctx, by_prefix.get(prefix) if prefix else _sorted(by_prefix))
        return 0
    if not prefix:
        rows = [["ROLE PREFIX", "AMOUNT IN BUNDLE"]] + [[p, str(len(by_prefix[p]))] for p in
                                                        sorted(by_prefix, key=lambda p: (len(p), p))]
        sys.stdout.write(table(rows))
        return 0
    in_use = "Yes" if clusters_matching(ctx, f"aws.sts.operator_role_prefix = '{prefix}'") else "No"
    rows = [["OPERATOR NAME", "OPERATOR NAMESPACE", "ROLE NAME", "ROLE ARN", "CLUSTER ID", "VERSION", "POLICIES",
             "AWS Managed", "IN USE"]]
    for r in by_prefix[prefix]:
        rows.append([r.get("Name", ""), r.get("Namespace", ""), r.get("RoleName", ""), r.get("RoleARN", ""),
                     r.get("ClusterID", ""), r.get("Version", ""), "[]", "Yes" if r.get("ManagedPolicy") else "No",
                     in_use])
    sys.stdout.write(table(rows))
    return 0


def cmd_list_account_roles(ctx: Ctx) -> int:
    ctx.runtime()
    if Out.terminal:
        info("Fetching account roles")
    roles = []
    for r in account_roles(ctx):
        if ctx.v["version"] and r.get("version") and r.get("version") != ctx.v["version"]:
            continue
        role: dict = {}
        for key, src in (("RoleType", "role_type"), ("Version", "version"), ("RoleName", "name"),
                         ("RoleARN", "arn")):
            if r.get(src):
                role[key] = r[src]
        if r.get("managed_policies"):
            role["ManagedPolicy"] = True
        roles.append(role)

    def order(role: dict) -> tuple:
        name = role.get("RoleName", "")
        return (name.split("-")[0] + "-", "HCP-ROSA" not in name)
    roles.sort(key=order)
    if not roles:
        fail("Failed to get account roles: no account roles found")
    return print_list(ctx, roles, "", ["ROLE NAME", "ROLE TYPE", "ROLE ARN", "OPENSHIFT VERSION", "AWS Managed"],
                      lambda r: [r.get("RoleName", ""), r.get("RoleType", ""), r.get("RoleARN", ""),
                                 r.get("Version", ""), "Yes" if r.get("ManagedPolicy") else "No"])


# ==================================================================== admin
def generate_password() -> str:
    """ocm-common's GenerateRandomPassword: 23 characters, dashes at 5, 11 and 17."""
    alphabet = "abcdefghijkmnopqrstuvwxyz" + "ABCDEFGHIJKLMNPQRSTUVWXYZ" + "23456789"
    while True:
        chars = [secrets.choice(alphabet) for _ in range(23)]
        for i in (5, 11, 17):
            chars[i] = "-"
        pw = "".join(chars)
        if password_error(pw) == "":
            return pw


def password_error(pw: str) -> str:
    bad = re.findall(r"[^\x20-\x7E]", pw)
    errs = []
    if bad:
        errs.append(f"must not contain special characters [{', '.join(bad)}]")
    if " " in pw:
        errs.append("must not contain whitespace")
    if len(pw) < 14:
        errs.append(f"must be at least 14 characters (got {len(pw.encode())})")
    if errs:
        if len(errs) > 1:
            errs[-1] = "and " + errs[-1]
        return "Password " + ", ".join(errs)
    if not (re.search(r"[A-Z]", pw) and re.search(r"[a-z]", pw) and re.search(r"[^a-zA-Z]", pw)):
        return ("Password must include uppercase letters, lowercase letters, and numbers or symbols "
                "(ASCII-standard characters only)")
    return ""


def htpasswd_hash(pw: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()


def cmd_create_admin(ctx: Ctx) -> int:
    ocm = ctx.runtime()
    key = cluster_key(ctx)
    cluster = fetch_cluster(ctx, key)
    if cluster.get("state") != "ready":
        fail(f"Cluster '{key}' is not yet ready")
    if dig(cluster, "external_auth_config.enabled", False):
        fail("Creating the 'cluster-admin' user is not supported for clusters with external authentication "
             "configured.")
    base = f"{API}/clusters/{cluster['id']}"
    try:
        ocm.get(f"{base}/groups/cluster-admins/users/cluster-admin")
        fail(f"Cluster '{key}' already has 'cluster-admin' user")
    except ApiError as exc:
        if exc.status != 404:
            fail(f"Failed to get user 'cluster-admin' in 'cluster-admins' group for cluster '{key}'")
    given = ctx.v["password"]
    password = given or generate_password()
    debug("Using user provided password" if given else "Generating random password")
    problem = password_error(password)
    if problem:
        fail(problem)
    try:
        ocm.call("POST", f"{base}/groups/cluster-admins/users", body={"id": "cluster-admin"})
    except ApiError as exc:
        fail(f"Failed to add user 'cluster-admin' to cluster '{key}': {exc}")
    failed = ""
    try:
        idps = ocm.items(f"{base}/identity_providers")
        idp = next((i for i in idps if i.get("type") == "HTPasswdIdentityProvider" and
                    i.get("name") == "cluster-admin"), None)
    except ApiError as exc:
        fail(f"failed to get identity providers for cluster '{key}': {exc}")
    try:
        if idp is None:
            ocm.call("POST", f"{base}/identity_providers", body={
                "kind": "IdentityProvider", "type": "HTPasswdIdentityProvider", "name": "cluster-admin",
                "htpasswd": {"users": {"items": [{"username": "cluster-admin",
                                                  "hashed_password": htpasswd_hash(password)}]}}})
        else:
            ocm.call("POST", f"{base}/identity_providers/{idp['id']}/htpasswd_users",
                     body={"username": "cluster-admin", "hashed_password": htpasswd_hash(password)})
    except ApiError as exc:
        failed = str(exc)
        error(f"Failed to add 'cluster-admin' identity provider to cluster '{key}' as part of admin flow. Please try "
              f"again: {exc}" if idp is None else f"Failed to add 'cluster-admin' user to 'cluster-admin' identity "
              f"provider for cluster '{key}': {exc}")
    if failed:
        try:
            ocm.call("DELETE", f"{base}/groups/cluster-admins/users/cluster-admin")
        except ApiError as exc:
            error(f"Failed to revert the admin user for cluster '{key}'. Please try again: {exc}")
        raise Exit(1)
    obj = {"api_url": dig(cluster, "api.url"), "username": "cluster-admin", "password": password}
    if ctx.output:
        if given:
            del obj["password"]
        print_output(ctx, obj, sort=True)
        return 0
    info(f"Admin account has been added to cluster '{key}'.")
    info("Please securely store this generated password. If you lose this password you can delete and recreate the "
         "cluster admin user.")
    info(f"To login, run the following command:\n\n   oc login {obj['api_url']} --username cluster-admin "
         f"--password {password}\n")
    info("It may take several minutes for this access to become active.")
    return 0


# ================================================================== add-ons
def cmd_install_addon(ctx: Ctx) -> int:
    ocm = ctx.runtime()
    if len(ctx.args) != 1:
        raise CobraError("Expected exactly one command line parameter containing the id of the add-on", ctx.path)
    addon_id = ctx.args[0]
    key = cluster_key(ctx)
    cluster = fetch_cluster(ctx, key)
    if cluster.get("state") != "ready":
        fail(f"Cluster '{key}' is not yet ready")
    base = f"{API}/clusters/{cluster['id']}/addons"
    try:
        ocm.get(f"{base}/{addon_id}")
        warn(f"Addon '{addon_id}' is already installed on cluster '{cluster['id']}'")
        return 0
    except ApiError as exc:
        if exc.status != 404:
            fail(f"An error occurred while trying to get addon installation : {exc}")
    try:
        addon = ocm.get(f"{API}/addons/{addon_id}") or {}
    except ApiError:
        warn(f"Failed to get add-on '{addon_id}'")
        raise Exit(1)
    if not confirmed(ctx.v):
        return 0
    given = dict(ctx.unknown)
    params = []
    declared = dig(addon, "parameters.items", []) or []
    if declared and (not given or any(p.get("required") and not given.get(p.get("id", "")) for p in declared)):
        fail("EOF")
    for p in declared:
        val = str(given.get(p.get("id", ""), "")).strip(" ")
        options = [o.get("value", "") for o in p.get("options") or []]
        if options and val not in options:
            fail(f"Expected {val} to match one of the options /{[o.get('name', '') for o in p['options']]}/")
        if val and p.get("validation") and not re.search(p["validation"], val):
            fail(f"Expected {val} to match /{p['validation']}/")
        params.append({"id": p.get("id", ""), "value": val})
    billing = ctx.v["billing-model"]
    if billing != "standard" and "billing-model-account-id" not in ctx.changed:
        fail("Expected a valid account id: EOF")
    body = {"addon": {"id": addon_id}, "parameters": {"items": params}}
    try:
        ocm.call("POST", base, body=body)
    except ApiError as exc:
        fail(f"Failed to add add-on installation '{addon_id}' for cluster '{key}': {exc}")
    info(f"Add-on '{addon_id}' is now installing. To check the status run 'rosa list addons -c {key}'")
    return 0


def cmd_list_addons(ctx: Ctx) -> int:
    ocm = ctx.runtime()
    try:
        addons = ocm.items(f"{API}/addons")
    except ApiError as exc:
        fail(f"Failed to fetch add-ons: {exc}")
    if not ctx.v["cluster"]:
        return print_list(ctx, addons, "There are no add-ons available", ["ID", "", "NAME", "", "AVAILABILITY"],
                          lambda a: [a.get("id", ""), "", a.get("name", ""), "", "available"])
    key = cluster_key(ctx)
    cluster = fetch_cluster(ctx, key)
    if cluster.get("state") not in ("ready", "hibernating"):
        fail(f"Cluster '{key}' is not yet ready")
    try:
        installed = {i.get("id") or dig(i, "addon.id"): i for i in ocm.items(f"{API}/clusters/{cluster['id']}/addons")}
    except ApiError as exc:
        fail(f"Failed to get add-ons for cluster '{key}': {exc}")
    out = []
    for a in addons:
        inst = installed.get(a.get("id"))
        out.append({"id": a.get("id", ""), "name": a.get("name", ""),
                    "state": (inst.get("state") or "installing") if inst else "not installed"})
    return print_list(ctx, out, f"There are no add-ons installed on cluster '{key}'", ["ID", "", "NAME", "", "STATE"],
                      lambda o: [o["id"], "", o["name"], "", o["state"]])


# ============================================================== machine pools
def comma_items(text: str) -> list[str]:
    """The items of a comma-separated flag value, without the empty one after a trailing comma."""
    items = text.split(",") if text else []
    return items[:-1] if items and items[-1] == "" else items


def parse_labels(text: str) -> dict:
    out: dict = {}
    for item in comma_items(text):
        if "=" not in item:
            fail("expected key=value format for labels")
        k, _, val = item.partition("=")
        k, val = k.strip(), val.split("=")[0].strip()
        if not re.match(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$", k):
            fail(f"Invalid label key '{k}': name part must consist of alphanumeric characters, '-', '_' or '.', and "
                 "must start and end with an alphanumeric character")
        if k in out:
            fail(f"duplicated label key '{k}' used")
        out[k] = val
    return out


def parse_taints(text: str) -> list[dict]:
    out: list[dict] = []
    for item in comma_items(text):
        if "=" not in item or ":" not in item:
            fail(f"expected key=value:scheduleType format for taints. Got '{item}'")
        kv, _, effect = item.partition(":")
        k, _, val = kv.partition("=")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            fail(f"Invalid taint effect '{effect}', only the following effects are supported: 'NoExecute', "
                 "'NoSchedule', 'PreferNoSchedule'")
        out.append({"key": k, "value": val, "effect": effect})
    return out


def cmd_create_machinepool(ctx: Ctx) -> int:
    v, changed = ctx.v, ctx.changed
    ocm = ctx.runtime()
    key = cluster_key(ctx)
    cluster = fetch_cluster(ctx, key)
    if cluster.get("state") != "ready":
        fail(f"cluster '{key}' is not yet ready")
    if "multi-availability-zone" in changed:
        fail("setting `multi-availability-zone` flag is not supported for HCP clusters")
    if "subnet" in changed and "availability-zone" in changed:
        fail("setting both `subnet` and `availability-zone` flag is not supported. Please select `subnet` or "
             "`availability-zone` to create a single availability zone machine pool")
    name = v["name"].strip(" \t")
    if not name:
        info("Enabling interactive mode")
        fail("expected a valid name for the machine pool: EOF")
    if not MP_NAME_RE.match(name):
        fail("expected a valid name for the machine pool")
    autoscaling = v["enable-autoscaling"]
    body: dict = {"id": name}
    if autoscaling:
        if "replicas" in changed:
            fail("replicas can't be set when autoscaling is enabled")
        if "min-replicas" not in changed:
            fail("expected a valid number of min replicas: EOF")
        if v["min-replicas"] < 0:
            fail("min-replicas must be a non-negative number when autoscaling is enabled")
        if "max-replicas" not in changed:
            fail("expected a valid number of max replicas: EOF")
        if v["max-replicas"] < 0:
            fail("max-replicas must be a non-negative number when autoscaling is enabled")
        if v["min-replicas"] > v["max-replicas"]:
            fail("max-replicas must be greater or equal to min-replicas")
        body["autoscaling"] = {"min_replica": v["min-replicas"], "max_replica": v["max-replicas"]}
    else:
        if "min-replicas" in changed or "max-replicas" in changed:
            fail("autoscaling must be enabled in order to set min and max replicas")
        if "replicas" not in changed:
            fail("expected a valid number of replicas: EOF")
        if v["replicas"] < 0:
            fail("replicas must be a non-negative integer")
        if v["replicas"] > 500:
            fail("should provide an integer number less than or equal to '500'")
        body["replicas"] = v["replicas"]
    body["labels"] = parse_labels(v["labels"])
    body["taints"] = parse_taints(v["taints"])
    if "spot-max-price" in changed and not v["use-spot-instances"]:
        fail("can't set max price when not using spot instances")
    if not v["instance-type"]:
        fail("you must supply a valid instance type")
    body["aws_node_pool"] = {"instance_type": v["instance-type"]}
    if v["additional-security-group-ids"]:
        body["aws_node_pool"]["additional_security_group_ids"] = [s.strip() for s in
                                                                  v["additional-security-group-ids"]]
    if v["disk-size"]:
        m = re.fullmatch(r"\s*(\d+)\s*(GiB|TiB|G|T|GB|TB|Gi|Ti)?\s*", v["disk-size"])
        if not m:
            fail(f"expected a valid node pool root disk size value '{v['disk-size']}': invalid disk size format")
        body["aws_node_pool"]["root_volume"] = {"size": int(m.group(1)) * (1024 if (m.group(2) or "G")[0] == "T"
                                                                           else 1)}
    if v["subnet"]:
        body["subnet"] = v["subnet"]
    elif v["availability-zone"]:
        body["availability_zone"] = v["availability-zone"]
    body["auto_repair"] = v["autorepair"]
    if v["version"]:
        body["version"] = {"id": f"openshift-v{v['version']}"}
    try:
        _, pool = ocm.call("POST", f"{API}/clusters/{cluster['id']}/node_pools", body=body)
    except ApiError as exc:
        fail(f"failed to add machine pool to hosted cluster '{key}': {exc}")
    if ctx.output:
        print_output(ctx, pool)
        return 0
    info(f"Machine pool '{pool.get('id', name)}' created successfully on hosted cluster '{key}'")
    info(f"To view the machine pool details, run 'rosa describe machinepool --cluster {key} --machinepool {name}'")
    info(f"To view all machine pools, run 'rosa list machinepools --cluster {key}'")
    return 0


def _pool_row(np: dict) -> list[str]:
    auto = np.get("autoscaling")
    cur = dig(np, "status.current_replicas", 0)
    want = f"{auto.get('min_replica')}-{auto.get('max_replica')}" if auto else str(np.get("replicas", 0))
    labels = ", ".join(f"{k}={val}" for k, val in sorted((np.get("labels") or {}).items()))
    taints = ", ".join(f"{t.get('key')}={t.get('value')}:{t.get('effect')}" for t in np.get("taints") or [])
    disk = dig(np, "aws_node_pool.root_volume.size", 300)
    return [np.get("id", ""), "Yes" if auto else "No", f"{cur}/{want}", dig(np, "aws_node_pool.instance_type"), labels,
            "", taints, "", np.get("availability_zone", ""), np.get("subnet", ""), f"{disk} GiB",
            dig(np, "version.raw_id"), "Yes" if np.get("auto_repair") else "No", ""]


def cmd_list_machinepools(ctx: Ctx) -> int:
    ctx.runtime()
    cluster = fetch_cluster(ctx)
    try:
        pools = node_pools(ctx, cluster)
    except ApiError as exc:
        fail(str(exc))
    return print_list(ctx, pools, "", ["ID", "AUTOSCALING", "REPLICAS", "INSTANCE TYPE", "LABELS", "", "TAINTS", "",
                                       "AVAILABILITY ZONE", "SUBNET", "DISK SIZE", "VERSION", "AUTOREPAIR", ""],
                      _pool_row)


def cmd_describe_machinepool(ctx: Ctx) -> int:
    ctx.runtime()
    cluster = fetch_cluster(ctx)
    pool_id = ctx.v["machinepool"] or (ctx.args[0] if ctx.args else "")
    if not pool_id:
        fail("You need to specify a machine pool name")
    try:
        pool = ctx.ocm().get(f"{API}/clusters/{cluster['id']}/node_pools/{urllib.parse.quote(pool_id, safe='')}")
    except ApiError as exc:
        if exc.status == 404:
            fail(f"Machine pool '{pool_id}' not found")
        fail(str(exc))
    if ctx.output:
        print_output(ctx, pool, sort=True)
        return 0
    row = _pool_row(pool)
    sys.stdout.write(
        "\n"
        f"ID:                                    {pool.get('id', '')}\n"
        f"Cluster ID:                            {cluster['id']}\n"
        f"Autoscaling:                           {row[1]}\n"
        f"Desired replicas:                      {row[2].split('/')[1]}\n"
        f"Current replicas:                      {row[2].split('/')[0]}\n"
        f"Instance type:                         {row[3]}\n"
        f"Labels:                                {row[4]}\n"
        f"Taints:                                {row[6]}\n"
        f"Availability zone:                     {row[8]}\n"
        f"Subnet:                                {row[9]}\n"
        f"Disk Size:                             {row[10]}\n"
        f"Version:                               {row[11]}\n"
        f"Autorepair:                            {row[12]}\n"
        f"Message:                               {dig(pool, 'status.message')}\n\n")
    return 0


# ================================================================ the tables
def _yes():
    return B("yes", "y")


def _output():
    return S("output", short="o")


def _mode():
    return S("mode", short="m")


LOGIN_FLAGS = [S("token-url"), S("client-id"), S("client-secret"), Flag("scope", "list", ["openid"]),
               S("url", hidden=True), S("token", short="t"), B("insecure"), B("use-auth-code"),
               B("use-device-code"), S("rh-region", hidden=True), B("govcloud"), B("admin", hidden=True)]
AUTOSCALER_FLAGS = [B("autoscaler-" + n) for n in ("balance-similar-node-groups", "skip-nodes-with-local-storage",
                                                   "ignore-daemonsets-utilization", "scale-down-enabled")] + \
    [I("autoscaler-" + n) for n in ("log-verbosity", "pod-priority-threshold", "max-nodes-total", "min-cores",
                                    "max-cores", "min-memory", "max-memory")] + \
    [S("autoscaler-" + n) for n in ("max-pod-grace-period", "max-node-provision-time", "scale-down-unneeded-time",
                                    "scale-down-utilization-threshold", "scale-down-delay-after-add",
                                    "scale-down-delay-after-delete", "scale-down-delay-after-failure")] + \
    [L("autoscaler-balancing-ignored-labels"), A("autoscaler-gpu-limit")]
CREATE_CLUSTER_FLAGS = [
    S("name", short="n", deprecated="use --cluster-name instead"), S("cluster-name", short="c"), S("domain-prefix"),
    B("sts"), B("non-sts"), B("mint-mode"), S("role-arn"), S("external-id"), S("support-role-arn"),
    S("controlplane-iam-role-arn"), S("master-iam-role", deprecated="use --controlplane-iam-role-arn instead"),
    S("worker-iam-role-arn"), A("operator-iam-roles", deprecated="use --operator-roles-prefix instead"),
    S("operator-roles-prefix"), S("oidc-config-id"), B("classic-oidc-config", hidden=True),
    B("external-auth-providers-enabled"), L("tags"), B("multi-az"), S("version"), S("channel-group", "stable"),
    S("channel"), S("flavour", "osd-4", hidden=True), B("etcd-encryption"), B("fips"), S("http-proxy"),
    S("https-proxy"), L("no-proxy"), S("additional-trust-bundle-file"), L("additional-allowed-principals"),
    B("enable-customer-managed-key"), S("kms-key-arn"), S("etcd-encryption-kms-arn"),
    S("expiration-time", hidden=True), Flag("expiration", "dur", hidden=True), B("private-link"),
    B("default-ingress-private"), S("ec2-metadata-http-tokens"), L("subnet-ids"), L("availability-zones"),
    S("compute-machine-type"), I("compute-nodes", 2, deprecated="use --replicas instead"), I("replicas", 2),
    B("enable-autoscaling"), L("registry-config-allowed-registries"), L("registry-config-insecure-registries"),
    L("registry-config-blocked-registries"), S("registry-config-platform-allowlist"),
    S("registry-config-additional-trusted-ca"), S("registry-config-allowed-registries-for-import"),
    *AUTOSCALER_FLAGS, I("min-replicas", 2), I("max-replicas", 2), S("worker-mp-labels"),
    S("network-type", hidden=True), S("machine-cidr"), S("service-cidr"), S("pod-cidr"), I("host-prefix"),
    B("private"), B("disable-scp-checks"), B("disable-workload-monitoring"), B("watch", "w"), B("dry-run"),
    B("fake-cluster", hidden=True), A("properties", hidden=True), B("use-local-credentials", hidden=True),
    S("permissions-boundary"), B("hosted-cp"), S("worker-disk-size"), S("billing-account"), B("create-admin-user"),
    B("no-cni"), S("cluster-admin-user", hidden=True), S("cluster-admin-password"), S("audit-log-arn"),
    S("default-ingress-route-selector"), S("default-ingress-excluded-namespaces"),
    S("default-ingress-wildcard-policy"), S("default-ingress-namespace-ownership-policy"),
    S("private-hosted-zone-id", deprecated="'--private-hosted-zone-id' will be replaced with "
      "'--ingress-private-hosted-zone-id' in future versions of ROSA."),
    S("shared-vpc-role-arn", deprecated="'--shared-vpc-role-arn' will be replaced with '--route53-role-arn' in "
      "future versions of ROSA."),
    S("vpc-endpoint-role-arn"), S("route53-role-arn"), S("hcp-internal-communication-hosted-zone-id"),
    S("ingress-private-hosted-zone-id"), S("base-domain"), L("additional-compute-security-group-ids"),
    L("additional-infra-security-group-ids"), L("additional-control-plane-security-group-ids"),
    S("master-machine-type", hidden=True), S("infra-machine-type", hidden=True), S("log-fwd-config"), _mode(),
    B("interactive", "i"), _output(), _yes()]
CLUSTER = S("cluster", short="c")


def _create_cluster(ctx: Ctx) -> int:
    v, changed = ctx.v, ctx.changed
    for old, new in (("name", "cluster-name"), ("compute-nodes", "replicas"), ("master-iam-role",
                                                                                 "controlplane-iam-role-arn"),
                     ("shared-vpc-role-arn", "route53-role-arn"),
                     ("private-hosted-zone-id", "ingress-private-hosted-zone-id")):
        if old in changed and new not in changed:
            v[new] = v[old]
            changed.add(new)
    v["non-sts"] = v["non-sts"] or v["mint-mode"]
    if v["interactive"]:
        return _not_simulated("rosa create cluster --interactive")
    for f in AUTOSCALER_FLAGS:
        if f.name in changed and not v["enable-autoscaling"]:
            ctx.runtime()
            fail(f"Using autoscaling flag '{f.name}', requires flag '--enable-autoscaling'. Please try again with flag")
    if v["hosted-cp"] and v["enable-autoscaling"] and any(f.name in changed for f in AUTOSCALER_FLAGS):
        ctx.runtime()
        fail("Hosted Control Plane clusters do not support cluster-autoscaler configuration")
    return cmd_create_cluster(ctx)


COMMANDS: dict[str, Command] = {
    "login": Command("login", LOGIN_FLAGS, cmd_login, normalize=True, short="Log in to your Red Hat account"),
    "logout": Command("logout", [], cmd_logout, short="Log out"),
    "whoami": Command("whoami", [_output()], cmd_whoami, short="Displays user account information"),
    "version": Command("version", [B("client"), B("verbose", "v")], cmd_version,
                       short="Prints the version of the tool"),
    "init": Command("init", [B("delete"), B("delete-stack", deprecated="use --delete instead"),
                             B("disable-scp-checks"), B("use-local-credentials", hidden=True), *LOGIN_FLAGS, _yes()],
                    cmd_init, normalize=True, short="Applies templates to support Red Hat OpenShift Service on AWS"),
    "create cluster": Command("create cluster", CREATE_CLUSTER_FLAGS, _create_cluster, normalize=True,
                              short="Create cluster"),
    "create oidc-config": Command("create oidc-config", [B("raw-files"), S("prefix"), Flag("managed", "bool", True),
                                                         S("role-arn"), _mode(), _yes(), B("interactive", "i"),
                                                         _output()], cmd_create_oidc_config, normalize=True),
    "create oidc-provider": Command("create oidc-provider", [S("oidc-config-id"), CLUSTER, _mode(), _yes(),
                                                             B("interactive", "i")], cmd_create_oidc_provider,
                                    args="max3"),
    "create operator-roles": Command("create operator-roles", [
        CLUSTER, S("prefix"), S("oidc-config-id"), S("role-arn"), B("hosted-cp"), S("permissions-boundary"),
        B("force-policy-creation", "f"), S("shared-vpc-role-arn", deprecated="'--shared-vpc-role-arn' will be "
                                           "replaced with '--route53-role-arn' in future versions of ROSA."),
        S("channel-group", "stable", hidden=True), S("vpc-endpoint-role-arn"), S("route53-role-arn"), _mode(), _yes(),
        B("interactive", "i")], cmd_create_operator_roles, args="max3", normalize=True),
    "create admin": Command("create admin", [CLUSTER, S("password", short="p"), _output()], cmd_create_admin,
                            required=("cluster",)),
    "create machinepool": Command("create machinepool", [
        CLUSTER, S("name"), I("replicas"), B("enable-autoscaling"), I("min-replicas"), I("max-replicas"),
        S("instance-type", "m7i.xlarge"), S("labels"), S("taints"), B("use-spot-instances"),
        S("spot-max-price", "on-demand"), B("multi-availability-zone"), S("availability-zone"), S("subnet"),
        S("version"), Flag("autorepair", "bool", True), S("tuning-configs"), S("kubelet-configs"), S("disk-size"),
        L("additional-security-group-ids"), S("node-drain-grace-period"), L("tags"), S("ec2-metadata-http-tokens"),
        S("max-surge", "1"), S("max-unavailable", "0"), S("capacity-reservation-id"), S("type", hidden=True),
        S("capacity-reservation-preference"), _output(), B("interactive", "i"), _yes()],
        cmd_create_machinepool, required=("cluster",)),
    "describe cluster": Command("describe cluster", [_output(), CLUSTER, B("get-role-policy-bindings")],
                                cmd_describe_cluster, args="max1", required=("cluster",), short="Show details of a "
                                                                                                  "cluster"),
    "describe machinepool": Command("describe machinepool", [CLUSTER, S("machinepool"), _output()],
                                    cmd_describe_machinepool, args="max1", required=("cluster",)),
    "list clusters": Command("list clusters", [_output(), B("all", "a"), S("account-role-arn")], cmd_list_clusters,
                             short="List clusters"),
    "list oidc-config": Command("list oidc-config", [_output()], cmd_list_oidc_config),
    "list operator-roles": Command("list operator-roles", [S("version"), S("prefix"), B("interactive", "i"), CLUSTER,
                                                           _output()], cmd_list_operator_roles),
    "list account-roles": Command("list account-roles", [S("version"), _output()], cmd_list_account_roles),
    "list addons": Command("list addons", [CLUSTER, _output()], cmd_list_addons),
    "list machinepools": Command("list machinepools", [CLUSTER, B("all", "a"), _output()], cmd_list_machinepools,
                                 required=("cluster",)),
    "delete cluster": Command("delete cluster", [CLUSTER, B("best-effort"), B("watch", "w"), _yes()],
                              cmd_delete_cluster, required=("cluster",), short="Delete cluster"),
    "delete oidc-config": Command("delete oidc-config", [S("oidc-config-id"), _mode(), B("interactive", "i"),
                                                         _yes()], cmd_delete_oidc_config),
    "delete oidc-provider": Command("delete oidc-provider", [S("oidc-config-id"), CLUSTER, _mode(), _yes()],
                                    cmd_delete_oidc_provider, args="max3"),
    "delete operator-roles": Command("delete operator-roles", [S("prefix"), B("delete-hcp-shared-vpc-policies"),
                                                               CLUSTER, _mode(), _yes()], cmd_delete_operator_roles),
    "logs install": Command("logs install", [CLUSTER, I("tail", 2000), B("watch", "w")], cmd_logs("install"),
                            args="max1", required=("cluster",)),
    "logs uninstall": Command("logs uninstall", [CLUSTER, I("tail", 2000), B("watch", "w")], cmd_logs("uninstall"),
                              args="max1", required=("cluster",)),
    "install addon": Command("install addon", [S("billing-model", "standard"), S("billing-model-account-id"), _yes(),
                                               CLUSTER], cmd_install_addon, args="any", required=("cluster",),
                             raw_flags=True),
}
GROUPS: dict[str, dict[str, str]] = {
    "create": {"oidcconfig": "oidc-config", "oidcprovider": "oidc-provider", "operatorroles": "operator-roles",
               "machinepools": "machinepool", "machine-pool": "machinepool", "machine-pools": "machinepool"},
    "describe": {"machine-pool": "machinepool"},
    "list": {"cluster": "clusters", "oidcconfig": "oidc-config", "oidcconfigs": "oidc-config",
             "operatorrole": "operator-roles", "operator-role": "operator-roles", "operatorroles": "operator-roles",
             "accountrole": "account-roles", "account-role": "account-roles", "accountroles": "account-roles",
             "addon": "addons", "add-ons": "addons", "add-on": "addons", "machinepool": "machinepools",
             "machine-pools": "machinepools", "machine-pool": "machinepools"},
    "delete": {"oidcconfig": "oidc-config", "oidcprovider": "oidc-provider", "operatorrole": "operator-roles",
               "operatorroles": "operator-roles"},
    "logs": {},
    "install": {"addons": "addon", "add-on": "addon", "add-ons": "addon"},
}


# ========================================================================= main
def _cobra_failed(exc: CobraError) -> int:
    sys.stdout.flush()
    sys.stderr.write(f"Error: {exc}\n")
    if exc.usage:
        cmd = COMMANDS.get(exc.path[5:]) if exc.path.startswith("rosa ") else None
        sys.stderr.write(usage(cmd, exc.path) + "\n")
    else:
        sys.stderr.write(f"Run '{exc.path} --help' for usage.\n")
    sys.stderr.write(f"Failed to execute root command: {exc}\n")
    return 1


def _api_failed(exc: ApiError) -> int:
    error(str(exc))
    return 1


def main(argv: list[str] | None = None, world_path: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli.run_main(lambda: run(argv, world_path),
                        {Exit: lambda exc: exc.code, CobraError: _cobra_failed, ApiError: _api_failed})


if __name__ == "__main__":
    sys.exit(main())
