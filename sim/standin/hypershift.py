"""Stand-in for the ``hypershift`` CLI, for the simulated world.

It accepts the real command line (flag names, defaults, cobra/pflag parsing and
error texts) of::

    hypershift create cluster aws | destroy cluster aws | dump cluster
    hypershift create nodepool aws | create kubeconfig | version

and behaves like the real binary as seen from outside: exit status 0 or 1,
controller-runtime JSON log lines on stderr (``level``, ``ts``, ``msg`` and
key/values), the error text as the last stderr line, ``Aborted...`` on SIGINT.
Instead of AWS it spends the modelled infrastructure/IAM time (see
:mod:`sim.model`, compressed by the world's speed).  It reads the world from
``<its own dir>/../world.json`` (or ``$HYPERSHIFT_SIM_WORLD``) and talks to the
management cluster only through its Kubernetes REST client
(:mod:`sim.standin.kubeclient`, as the real CLI's client-go would: same verbs,
paths and User-Agent), so the objects it writes are the ones the real CLI writes.

Secret material (pull secret, tokens, keys) is never logged.
"""
from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import random
import re
import secrets
import signal
import string
import sys
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sim.standin import cli

GROUP = "hypershift.openshift.io"
VERSION = "v1beta1"
AUTO_INFRA_LABEL = "hypershift.openshift.io/auto-created-for-infra"
SAFE_TO_DELETE_LABEL = "hypershift.openshift.io/safe-to-delete-with-cluster"
CLI_FINALIZER = "openshift.io/destroy-cluster"
CLEANUP_ANNOTATION = "hypershift.openshift.io/cleanup-cloud-resources"
CPO_IMAGE_ANNOTATION = "hypershift.openshift.io/control-plane-operator-image"
LATEST_SUPPORTED = "4.20.0"
REQUEST_TIMEOUT = (5, 30)
USER_AGENT = "hypershift/v0.0.0 (linux/amd64) kubernetes/$Format"  # what the real CLI's client-go sends


# ====================================================================== errors
class CommandError(Exception):
    """An error a command returns: printed as the last stderr line, exit 1."""


class Cancelled(BaseException):
    """SIGINT arrived (the command context was cancelled)."""


class DeadlineExceeded(Exception):
    pass


# ===================================================================== logging
class Logger:
    """controller-runtime zap JSON lines on stderr."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def _emit(self, level: str, msg: str, kv: tuple, error: str | None = None) -> None:
        rec: dict[str, Any] = {"level": level, "ts": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "msg": msg}
        if error is not None:
            rec["error"] = error
        for i in range(0, len(kv) - 1, 2):
            rec[str(kv[i])] = kv[i + 1]
        self.stream.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self.stream.flush()

    def info(self, msg: str, *kv) -> None:
        self._emit("info", msg, kv)

    def error(self, err: Any, msg: str, *kv) -> None:
        self._emit("error", msg, kv, error=str(err))


LOG = Logger()


# ======================================================================= world
def _world_path(argv0: str | None = None) -> str:
    env = os.environ.get("HYPERSHIFT_SIM_WORLD")
    if env:
        return env
    here = os.path.dirname(os.path.realpath(argv0 or sys.argv[0]))
    return os.path.join(here, os.pardir, "world.json")


def load_world(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


class World:
    """What the stand-in needs from world.json (with safe defaults)."""

    def __init__(self, data: dict):
        from sim import model  # local: keeps `--help` and parse errors fast

        self.data = data
        self.speed = float(data.get("speed") or 1.0)
        self.seed = data.get("seed", 0)
        self.region = data.get("region") or "us-east-1"
        self.base_domain = data.get("base_domain") or ""
        self.release_image = data.get("release_image") or ""
        self.commit = data.get("cli_commit") or "0000000000000000000000000000000000000000"
        self.dump_max_attempts = int(data.get("dump_max_attempts") or 720)
        self.faults = model.Faults.from_dict(data.get("faults") or {})
        params = data.get("model") or {}
        fields = {f for f in model.ModelParams.__dataclass_fields__}
        kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items() if k in fields}
        self.params = model.ModelParams(**kw)
        self.model = model

    def real(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed


# ================================================================ time helpers
def parse_duration(text: str) -> float:
    """Go ``time.ParseDuration`` -> seconds (surrounding white space is let through)."""
    return cli.go_duration(text.strip())


def format_duration(seconds: float) -> str:
    """Go ``Duration.String()`` for whole-ish durations (``0s``, ``1m30s``, ``2h0m0s``, ``500ms``)."""
    if seconds == 0:
        return "0s"
    neg = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        ms = seconds * 1000
        out = f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
        return ("-" if neg else "") + out
    h = int(seconds // 3600)
    m = int((seconds % 3600) // 60)
    s = seconds - h * 3600 - m * 60
    s_txt = f"{s:g}s" if s != int(s) else f"{int(s)}s"
    if h:
        out = f"{h}h{m}m{s_txt}"
    elif m:
        out = f"{m}m{s_txt}"
    else:
        out = s_txt
    return ("-" if neg else "") + out


class Deadline:
    """A command context: optional deadline (real seconds) plus SIGINT cancellation (raised by the handler)."""

    def __init__(self, seconds: float | None = None):
        self.end = time.monotonic() + seconds if seconds and seconds > 0 else None

    def remaining(self) -> float | None:
        return None if self.end is None else self.end - time.monotonic()

    def check(self) -> None:
        if self.end is not None and time.monotonic() >= self.end:
            raise DeadlineExceeded()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` or until the deadline (then raise DeadlineExceeded)."""
        rem = self.remaining()
        if rem is not None and rem < seconds:
            time.sleep(max(0.0, rem))
            raise DeadlineExceeded()
        time.sleep(max(0.0, seconds))


# ==================================================================== flag set
@dataclass
class Flag:
    name: str
    kind: str              # string | bool | int | duration | stringArray | stringSlice | stringToString | enum
    default: Any = None
    help: str = ""
    deprecated: str = ""
    hidden: bool = False


@dataclass
class Command:
    name: str
    short: str = ""
    flags: list[Flag] = field(default_factory=list)
    persistent: list[Flag] = field(default_factory=list)
    subcommands: list["Command"] = field(default_factory=list)
    run: Callable[["Invocation"], int | None] | None = None
    required: tuple = ()
    persistent_required: tuple = ()
    parent: "Command | None" = None

    def add(self, *cmds: "Command") -> "Command":
        for c in cmds:
            c.parent = self
            self.subcommands.append(c)
        return self

    def path(self) -> str:
        return f"{self.parent.path()} {self.name}" if self.parent else self.name

    def find(self, name: str) -> "Command | None":
        for c in self.subcommands:
            if c.name == name:
                return c
        return None

    def all_flags(self) -> dict[str, Flag]:
        out: dict[str, Flag] = {}
        chain = []
        c: Command | None = self
        while c is not None:
            chain.append(c)
            c = c.parent
        for c in reversed(chain[1:]):
            for f in c.persistent:
                out[f.name] = f
        for f in self.persistent + self.flags:
            out[f.name] = f
        return out

    def required_flags(self) -> list[str]:
        req = list(self.required)
        c = self.parent
        while c is not None:
            req = list(c.persistent_required) + req
            c = c.parent
        return req


class Invocation:
    def __init__(self, cmd: Command, values: dict, changed: set, args: list[str], world_path: str):
        self.cmd = cmd
        self.values = values
        self.changed = changed
        self.args = args
        self.world_path = world_path
        self._world: World | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def world(self) -> World:
        if self._world is None:
            self._world = World(load_world(self.world_path))
        return self._world


_BOOL_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_BOOL_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _convert(flag: Flag, raw: str, current: Any) -> Any:
    k = flag.kind
    bad = f'invalid argument "{raw}" for "--{flag.name}" flag: '
    if k == "bool":
        if raw in _BOOL_TRUE:
            return True
        if raw in _BOOL_FALSE:
            return False
        raise CommandError(bad + f'strconv.ParseBool: parsing "{raw}": invalid syntax')
    if k == "int":
        if not re.fullmatch(r"[-+]?\d+", raw.strip()):
            raise CommandError(bad + f'strconv.ParseInt: parsing "{raw}": invalid syntax')
        return int(raw)
    if k == "duration":
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise CommandError(bad + str(exc)) from None
    if k == "stringArray":
        return list(current or []) + [raw]
    if k == "stringSlice":
        items = [] if raw == "" else [x.strip() for x in raw.split(",")]
        return list(current or []) + items
    if k == "stringToString":
        out = dict(current or {})
        if raw:
            for item in raw.split(","):
                if "=" not in item:
                    raise CommandError(bad + f"{item} must be formatted as key=value")
                key, value = item.split("=", 1)
                out[key] = value
        return out
    if k == "enum":
        allowed = flag.default[1]
        for a in allowed:
            if raw.lower() == a.lower():
                return a
        raise CommandError(bad + f"unknown value {raw}, supported values are: {', '.join(allowed)}")
    return raw


def _default(flag: Flag) -> Any:
    if flag.kind == "enum":
        return flag.default[0]
    if flag.kind in ("stringArray", "stringSlice"):
        return list(flag.default or [])
    if flag.kind == "stringToString":
        return dict(flag.default or {})
    return flag.default


def parse(root: Command, argv: list[str]) -> tuple[Command, dict, set, list[str], bool]:
    """Find the command and parse its flags, cobra/pflag style.  Returns (cmd, values, changed, args, help).

    Flags may appear anywhere (also between command words); ``--flag value`` takes the next argument
    as the value for every non-bool flag, ``--flag=value`` always works, ``--`` ends the flags.
    """
    cmd = root
    args: list[str] = []
    i = 0
    while i < len(argv):                      # pass 1: the command path
        tok = argv[i]
        if tok == "--":
            args.extend(argv[i + 1:])
            break
        if tok.startswith("--"):
            name, eq, _ = tok[2:].partition("=")
            f = cmd.all_flags().get(name)
            i += 2 if (not eq and f is not None and f.kind != "bool") else 1
            continue
        if tok.startswith("-") and tok != "-":
            i += 1
            continue
        sub = cmd.find(tok) if not args else None
        if sub is not None:
            cmd = sub
        else:
            args.append(tok)
        i += 1
    if cmd is root and args:
        raise CommandError(f'unknown command "{args[0]}" for "{root.name}"')
    flags = cmd.all_flags()
    values = {name: _default(f) for name, f in flags.items()}
    changed: set = set()
    want_help = False
    i = 0
    while i < len(argv):                      # pass 2: the flags
        tok = argv[i]
        if tok == "--":
            break
        if tok in ("-h", "--help"):
            want_help = True
        elif tok.startswith("--"):
            name, eq, val = tok[2:].partition("=")
            f = flags.get(name)
            if f is None:
                raise CommandError(f"unknown flag: --{name}")
            if f.kind == "bool":
                values[name] = _convert(f, val if eq else "true", values[name])
            else:
                if not eq:
                    if i + 1 >= len(argv):
                        raise CommandError(f"flag needs an argument: --{name}")
                    i += 1
                    val = argv[i]
                values[name] = _convert(f, val, values[name] if name in changed else None)
            changed.add(name)
        elif tok.startswith("-") and tok != "-":
            raise CommandError(f"unknown shorthand flag: '{tok[1:2]}' in {tok}")
        i += 1
    return cmd, values, changed, args, want_help


def usage(cmd: Command) -> str:
    lines = [cmd.short or cmd.path(), "", "Usage:"]
    if cmd.run is not None:
        lines.append(f"  {cmd.path()} [flags]")
    if cmd.subcommands:
        lines.append(f"  {cmd.path()} [command]")
        lines += ["", "Available Commands:"]
        for c in cmd.subcommands:
            lines.append(f"  {c.name:<12} {c.short}")
    flags = [f for f in cmd.all_flags().values() if not f.hidden and not f.deprecated]
    if flags:
        lines += ["", "Flags:"]
        for f in sorted(flags, key=lambda f: f.name):
            typ = {"bool": "", "int": " int32", "duration": " duration", "stringArray": " stringArray",
                   "stringSlice": " strings", "stringToString": " stringToString"}.get(f.kind, " string")
            d = _default(f)
            dflt = ""
            if f.kind == "duration":
                dflt = f" (default {format_duration(d)})" if d else ""
            elif d not in (None, "", False, [], {}, 0):
                dflt = f' (default "{d}")' if isinstance(d, str) else f" (default {d})"
            lines.append(f"      --{f.name}{typ}   {f.help}{dflt}")
    lines.append("      -h, --help   help for " + cmd.name)
    return "\n".join(lines) + "\n"


# ============================================================ Kubernetes API
def _kubeconfig_path(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG")
    if env:
        return env.split(os.pathsep)[0]
    home = os.path.expanduser("~/.kube/config")
    return home if os.path.exists(home) else None


class Kube:
    """The management cluster (or a guest) through :mod:`sim.standin.kubeclient`, as client-go would reach it."""

    def __init__(self, kubeconfig: str | None = None, *, client: Any = None):
        from sim.standin import kubeclient

        if client is None:
            path = _kubeconfig_path(kubeconfig)
            if not path or not os.path.exists(path):
                if os.environ.get("KUBERNETES_SERVICE_HOST"):
                    raise CommandError("unable to load in-cluster configuration")
                raise CommandError("invalid configuration: no configuration has been provided, try setting "
                                   "KUBERNETES_MASTER environment variable")
            try:
                client = kubeclient.Client.from_kubeconfig(path, USER_AGENT)  # as rest.DefaultKubernetesUserAgent()
            except Exception as exc:
                raise CommandError(f"failed to load kubeconfig {path}: {exc}") from None
        self.client = client
        self.host = client.host

    # -- paths
    @staticmethod
    def hc_path(ns: str, name: str | None = None) -> str:
        return _group_path("hostedclusters", ns, name)

    @staticmethod
    def np_path(ns: str, name: str | None = None) -> str:
        return _group_path("nodepools", ns, name)

    # -- verbs (REQUEST_TIMEOUT unless told)
    def get(self, path: str, query: Any = None, timeout: Any = REQUEST_TIMEOUT) -> dict:
        return self.client.get(path, query, timeout=timeout)

    def create(self, path: str, obj: dict) -> dict:
        return self.client.create(path, obj, timeout=REQUEST_TIMEOUT)

    def replace(self, path: str, obj: dict) -> dict:
        return self.client.replace(path, obj, timeout=REQUEST_TIMEOUT)

    def patch(self, path: str, patch: dict, strategic: bool = False) -> dict:
        """A merge patch (custom resources), or a strategic merge patch (built-in kinds, ``strategic``)."""
        ctype = "application/strategic-merge-patch+json" if strategic else "application/merge-patch+json"
        return self.client.patch(path, patch, content_type=ctype, timeout=REQUEST_TIMEOUT)

    def delete(self, path: str) -> dict:
        return self.client.delete(path, timeout=REQUEST_TIMEOUT)

    def close(self) -> None:
        self.client.close()


def _group_path(plural: str, ns: str | None, name: str | None = None) -> str:
    from sim.standin.kubeclient import group_path

    return group_path(GROUP, VERSION, plural, ns, name)


def _core_path(plural: str, ns: str | None = None, name: str | None = None) -> str:
    from sim.standin.kubeclient import core_path

    return core_path(plural, ns, name)


def api_error(exc: Exception, verb: str = "Get", path: str = "") -> str:
    """Error text in the style of client-go for an exception from the API client."""
    from sim.standin.kubeclient import ApiError

    if isinstance(exc, ApiError):
        if exc.message:
            return exc.message
        return f"the server responded with status {exc.status} ({exc.http_reason})"
    text = str(exc)
    m = re.search(r"host='([^']+)', port=(\d+)", text)
    if m and ("Connection refused" in text or "NewConnectionError" in text):
        return f'{verb} "{path}": dial tcp {m.group(1)}:{m.group(2)}: connect: connection refused'
    return f'{verb} "{path}": {text}'


def is_status(exc: Exception, *codes: int) -> bool:
    return getattr(exc, "status", None) in codes


def get_hc(kube: Kube, ns: str, name: str) -> dict | None:
    try:
        return kube.get(kube.hc_path(ns, name))
    except Exception as exc:
        if is_status(exc, 404):
            return None
        raise


# ====================================================================== helpers
_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_RE.match(value):
        errs.append("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    return errs


def generate_infra_id(name: str, rng: random.Random) -> str:
    base = re.sub(r"[^A-Za-z0-9-]", "-", name)
    base = re.sub(r"-{2,}", "-", base)[:21]
    suffix = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    return f"{base}-{suffix}"


def parse_kv_list(items: list[str], kind: str) -> dict[str, str]:
    out = {}
    for s in items:
        if "=" not in s:
            raise CommandError(f"invalid {kind}: {s}")
        k, v = s.split("=", 1)
        if not k:
            raise CommandError(f'invalid {kind}: key must not be empty in "{s}"')
        out[k] = v
    return out


def _b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def _h(*parts: Any, n: int = 17) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def _to_yaml(docs: list[dict]) -> str:
    import yaml

    return "".join(yaml.safe_dump(d, sort_keys=True) + "---\n" for d in docs)


# ===================================================================== commands
@contextlib.contextmanager
def _logged_failure(msg: str):
    """A command's body: its error is logged as ``msg`` (a zap error line) and ends it as a CommandError."""
    try:
        yield
    except (DeadlineExceeded, Cancelled) as exc:
        err = "context deadline exceeded" if isinstance(exc, DeadlineExceeded) else "context canceled"
        LOG.error(err, msg)
        raise CommandError(err) from None
    except CommandError as exc:
        LOG.error(str(exc), msg)
        raise


def _check_aws_creds(v: dict) -> None:
    if v["aws-creds"] and (v["sts-creds"] or v["role-arn"]):
        raise CommandError("only one of 'aws-creds' or 'role-arn' and 'sts-creds' can be provided")
    if v["sts-creds"] and not v["role-arn"]:
        raise CommandError("'role-arn' is required when 'sts-creds' is provided")


def _instance_type(v: dict) -> str:
    return v["instance-type"] or ("m6g.large" if v["arch"] == "arm64" else "m5.large")


def _root_volume(v: dict) -> dict:
    root = {"size": v["root-volume-size"], "type": v["root-volume-type"]}
    if v["root-volume-iops"]:
        root["iops"] = v["root-volume-iops"]
    if v["root-volume-kms-key"]:
        root["encryptionKey"] = v["root-volume-kms-key"]
    return root


def cmd_create_cluster_aws(inv: Invocation) -> None:
    v = inv.values
    ctx = Deadline(v["timeout"])
    with _logged_failure("Failed to create cluster"):
        _create_cluster_aws(inv, ctx)


def _create_cluster_aws(inv: Invocation, ctx: Deadline) -> None:
    v = inv.values
    name, ns = v["name"], v["namespace"]
    if not name:
        raise CommandError("--name is required")
    if not v["pull-secret"]:
        raise CommandError("--pull-secret is required")
    if v["wait"] and v["node-pool-replicas"] < 1:
        raise CommandError("--wait requires --node-pool-replicas > 0")
    errs = dns1123_label_errors(name)
    if errs:
        raise CommandError(f"HostedCluster name failed RFC1123 validation: {' '.join(errs)}")
    render = v["render"] or bool(v["render-into"])
    world = inv.world
    kube = None
    if v["version-check"]:
        _version_check(Kube(v["kubeconfig"]), world.commit)
    if not render:
        kube = Kube(v["kubeconfig"])
        try:
            if get_hc(kube, ns, name) is not None:
                raise CommandError(f"hostedcluster {ns}/{name} already exists")
        except CommandError:
            raise
        except Exception as exc:
            raise CommandError(api_error(exc, "Get", f"{kube.host}/apis/{GROUP}/{VERSION}/namespaces/{ns}/"
                                                      f"hostedclusters/{name}")) from None
    if v["arch"] not in ("amd64", "arm64", "ppc64le", "s390x"):
        raise CommandError(f'specified arch "{v["arch"]}" is not supported')
    if v["feature-set"] not in ("Default", "TechPreviewNoUpgrade", "DevPreviewNoUpgrade"):
        raise CommandError(f'specified feature set "{v["feature-set"]}" is not supported')
    if v["network-type"] not in ("OVNKubernetes", "OpenShiftSDN", "Calico", "Other"):
        raise CommandError(f'unsupported network type "{v["network-type"]}"')
    if v["ovn-kubernetes-mtu"] and v["network-type"] != "OVNKubernetes":
        raise CommandError(f"--ovn-kubernetes-mtu is only valid when --network-type is OVNKubernetes "
                           f"(got '{v['network-type']}')")
    if v["ovn-kubernetes-mtu"] and not 576 <= v["ovn-kubernetes-mtu"] <= 9216:
        raise CommandError(f"--ovn-kubernetes-mtu must be between 576 and 9216 (got {v['ovn-kubernetes-mtu']})")
    if v["default-dual"] and ({"service-cidr", "cluster-cidr"} & inv.changed):
        bad = sorted({"service-cidr", "cluster-cidr"} & inv.changed)[0]
        raise CommandError(f"if any flags in the group [{bad} default-dual] are set none of the others can be; "
                           f"[default-dual {bad}] were all set")
    # AWS credentials (v0.1.80+: none needed; sts-creds needs role-arn)
    _check_aws_creds(v)
    for flag in ("sts-creds", "aws-creds"):
        if v[flag] and not os.path.exists(v[flag]):
            raise CommandError(f"failed to read {flag} file: open {v[flag]}: no such file or directory")
    if v["enable-proxy"] and v["enable-secure-proxy"]:
        raise CommandError("use --enable-proxy or --enable-secure-proxy but not both")
    if v["generate-ssh"] and v["ssh-key"]:
        raise CommandError("--generate-ssh and --ssh-key cannot be specified together")
    annotations = parse_kv_list(v["annotations"], "annotation")
    labels = parse_kv_list(v["labels"], "label")
    tags = []
    for t in v["additional-tags"]:
        if "=" not in t or not t.split("=", 1)[0]:
            raise CommandError(f"failed to parse additional tags: invalid tag specification: {t}")
        k, val = t.split("=", 1)
        tags.append({"key": k, "value": val})
    try:
        with open(v["pull-secret"], "rb") as fh:
            pull_secret = fh.read()
    except OSError as exc:
        raise CommandError(f"failed to read pull secret file: open {v['pull-secret']}: "
                           f"{exc.strerror.lower() if exc.strerror else exc}") from None
    try:
        ps = json.loads(pull_secret)
        if not isinstance(ps, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise CommandError(f"failed to read pull secret file: {v['pull-secret']} is not a valid JSON pull secret: "
                           f"{exc}") from None
    ssh_pub = ssh_priv = None
    if v["ssh-key"]:
        try:
            with open(v["ssh-key"], "rb") as fh:
                ssh_pub = fh.read()
        except OSError as exc:
            raise CommandError(f"failed to read ssh key file: open {v['ssh-key']}: "
                               f"{(exc.strerror or str(exc)).lower()}") from None
    elif v["generate-ssh"]:
        raw = secrets.token_bytes(270)
        ssh_pub = b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ" + base64.b64encode(raw).rstrip(b"=") + b"\n"
        ssh_priv = (b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64.encodebytes(secrets.token_bytes(1200))
                    + b"-----END OPENSSH PRIVATE KEY-----\n")
    if v["etcd-storage-size"] and not re.fullmatch(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?",
                                                   v["etcd-storage-size"]):
        raise CommandError(f"failed parse ectd storage size: quantities must match the regular expression "
                           f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    if v["pausedUntil"] and v["pausedUntil"] not in ("true", "false", "True", "False"):
        try:
            _dt.datetime.strptime(v["pausedUntil"].replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            raise CommandError(f'invalid pausedUntil value, should be "true" or a valid RFC3339 date format: '
                               f'parsing time "{v["pausedUntil"]}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                               f'"{v["pausedUntil"]}" as "2006"') from None

    base_domain = v["base-domain"]
    if not v["infra-json"] and not base_domain:
        raise CommandError("base-domain flag is required if infra-json is not provided")
    region = v["region"] or world.region
    zones = v["zones"] or [f"{region}a"]
    rng = world.model.rng_for(world.seed, name, f"cli-{time.time_ns()}")
    infra_id = v["infra-id"] or generate_infra_id(name, rng)
    account = "".join(str(rng.randrange(10)) for _ in range(12))
    model = world.model

    # --- AWS infrastructure and IAM (modelled time) ---
    concurrent = 1
    if kube is not None:
        concurrent = _installing_count(kube) + 1
    plan = model.plan_cli_create(name, world.seed, concurrent, world.params)
    vpc = f"vpc-0{_h(infra_id, 'vpc')}"
    subnets = {z: (f"subnet-0{_h(infra_id, z, 'private')}", f"subnet-0{_h(infra_id, z, 'public')}") for z in zones}
    public_zone = "Z0" + _h(base_domain, "public", n=19).upper()
    private_zone = "Z0" + _h(infra_id, "private", n=19).upper()
    if not v["infra-json"]:
        LOG.info("Creating infrastructure", "id", infra_id)
        for z in zones:
            LOG.info("Using zone", "zone", z)
        ctx.sleep(world.real(plan.infra * 0.3))
        if world.faults.cli_crash(name) == "early":
            _go_panic("github.com/openshift/hypershift/cmd/infra/aws.(*CreateInfraOptions).CreateInfra",
                      "/hypershift/cmd/infra/aws/create.go:262")
        LOG.info("Found existing public zone", "name", base_domain, "id", public_zone)
        LOG.info("Enabled DNS support on VPC", "id", vpc)
        LOG.info("Enabled DNS hostnames on VPC", "id", vpc)
        ctx.sleep(world.real(plan.infra * 0.7))
        LOG.info("Successfully created infrastructure", "id", infra_id)
    issuer = v["oidc-issuer-url"] or f"https://hypershift-sim-oidc.s3.{region}.amazonaws.com/{infra_id}"
    roles = {
        "ingressARN": "openshift-ingress", "imageRegistryARN": "openshift-image-registry",
        "storageARN": "aws-ebs-csi-driver-controller", "networkARN": "cloud-network-config-controller",
        "kubeCloudControllerARN": "cloud-controller", "nodePoolManagementARN": "node-pool",
        "controlPlaneOperatorARN": "control-plane-operator",
    }
    roles_ref = {k: (f"arn:aws:iam::{account}:role/{infra_id}-shared-role" if v["shared-role"]
                     else f"arn:aws:iam::{account}:role/{infra_id}-{r}") for k, r in roles.items()}
    if not v["iam-json"]:
        LOG.info("Detected Issuer URL", "issuer", issuer)
        ctx.sleep(world.real(plan.iam * 0.5))
        for arn in sorted(set(roles_ref.values())):
            LOG.info("Created role", "name", arn.rsplit("/", 1)[1])
        ctx.sleep(world.real(plan.iam * 0.5))

    # --- objects ---
    secrets_ = []
    secret_labels = {SAFE_TO_DELETE_LABEL: "true"}
    ps_name = f"{name}-pull-secret"
    secrets_.append({"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": ps_name, "namespace": ns, "labels": dict(secret_labels)},
                     "data": {".dockerconfigjson": _b64(pull_secret)}})
    ssh_ref: dict = {}
    if ssh_pub is not None:
        data = {"id_rsa.pub": _b64(ssh_pub)}
        if ssh_priv is not None:
            data["id_rsa"] = _b64(ssh_priv)
        secrets_.append({"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": f"{name}-ssh-key", "namespace": ns, "labels": dict(secret_labels)},
                         "data": data})
        ssh_ref = {"name": f"{name}-ssh-key"}
    if v["kms-key-arn"]:
        encryption = {"type": "kms", "kms": {"provider": "AWS", "aws": {
            "region": region, "activeKey": {"arn": v["kms-key-arn"]},
            "auth": {"awsKms": f"arn:aws:iam::{account}:role/{infra_id}-kms-provider"}}}}
    else:
        secrets_.append({"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": f"{name}-etcd-encryption-key", "namespace": ns,
                                      "labels": dict(secret_labels)},
                         "data": {"key": _b64(secrets.token_bytes(32))}})
        encryption = {"type": "aescbc", "aescbc": {"activeKey": {"name": f"{name}-etcd-encryption-key"}}}
    image = v["release-image"] or world.release_image
    if not image:
        raise CommandError("release image is required when unable to lookup default OCP version: "
                           "no release stream available in the simulated world")
    hc_annotations = dict(annotations)
    if v["control-plane-operator-image"]:
        hc_annotations[CPO_IMAGE_ANNOTATION] = v["control-plane-operator-image"]
    services_kas = "LoadBalancer"
    services = [{"service": "APIServer", "servicePublishingStrategy": {"type": services_kas}}]
    for svc in ("Ignition", "Konnectivity", "OAuthServer"):
        strat: dict = {"type": "Route"}
        if v["external-dns-domain"] and svc == "OAuthServer":
            strat["route"] = {"hostname": f"oauth-{name}.{v['external-dns-domain']}"}
        services.append({"service": svc, "servicePublishingStrategy": strat})
    if v["external-dns-domain"]:
        services[0]["servicePublishingStrategy"] = {
            "type": "Route", "route": {"hostname": f"api-{name}.{v['external-dns-domain']}"}}
    vpc_cidr = v["vpc-cidr"] or "10.0.0.0/16"
    networking = {
        "networkType": v["network-type"],
        "clusterNetwork": [{"cidr": c} for c in (v["cluster-cidr"] or ["10.132.0.0/14"])],
        "serviceNetwork": [{"cidr": c} for c in (v["service-cidr"] or ["172.31.0.0/16"])],
        "machineNetwork": [{"cidr": c} for c in (v["machine-cidr"] or [vpc_cidr])],
    }
    dns: dict = {"baseDomain": base_domain, "publicZoneID": public_zone, "privateZoneID": private_zone}
    if v["base-domain-prefix"]:
        dns["baseDomainPrefix"] = "" if v["base-domain-prefix"] == "none" else v["base-domain-prefix"]
    aws: dict = {
        "region": region, "endpointAccess": v["endpoint-access"], "multiArch": bool(v["multi-arch"]),
        "cloudProviderConfig": {"vpc": vpc, "subnet": {"id": subnets[zones[0]][0]}, "zone": zones[0]},
        "rolesRef": roles_ref,
    }
    if tags:
        aws["resourceTags"] = tags
    etcd_size = v["etcd-storage-size"] or "8Gi"
    spec: dict = {
        "release": {"image": image},
        "infraID": infra_id,
        "controllerAvailabilityPolicy": v["control-plane-availability-policy"],
        "dns": dns,
        "networking": networking,
        "platform": {"type": "AWS", "aws": aws},
        "pullSecret": {"name": ps_name},
        "sshKey": ssh_ref,
        "issuerURL": issuer,
        "services": services,
        "etcd": {"managementType": "Managed", "managed": {"storage": {
            "type": "PersistentVolume",
            "persistentVolume": {"size": etcd_size, "storageClassName": v["etcd-storage-class"] or "gp3-csi"}}}},
        "secretEncryption": encryption,
        "fips": bool(v["fips"]),
        "olmCatalogPlacement": v["olm-catalog-placement"],
        "autoscaling": {},
        "capabilities": {},
    }
    if v["infra-availability-policy"]:
        spec["infrastructureAvailabilityPolicy"] = v["infra-availability-policy"]
    if v["disable-cluster-capabilities"]:
        spec["capabilities"]["disabled"] = list(v["disable-cluster-capabilities"])
    if v["enable-cluster-capabilities"]:
        spec["capabilities"]["enabled"] = list(v["enable-cluster-capabilities"])
    if v["pausedUntil"]:
        spec["pausedUntil"] = v["pausedUntil"]
    if v["feature-set"] != "Default":
        spec["configuration"] = {"featureGate": {"featureSet": v["feature-set"]}}
    if v["node-selector"]:
        spec["nodeSelector"] = dict(v["node-selector"])
    if v["pods-labels"]:
        spec["labels"] = dict(v["pods-labels"])
    if v["kas-dns-name"]:
        spec["kubeAPIServerDNSName"] = v["kas-dns-name"]
    if v["olm-disable-default-sources"]:
        spec.setdefault("configuration", {})["operatorhub"] = {"disableAllDefaultSources": True}
    hc_meta: dict = {"name": name, "namespace": ns}
    if hc_annotations:
        hc_meta["annotations"] = hc_annotations
    if labels:
        hc_meta["labels"] = dict(labels)
    hc = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "HostedCluster", "metadata": hc_meta, "spec": spec}
    nodepools = []
    if v["node-pool-replicas"] >= 0:
        instance_type = _instance_type(v)
        for z in zones:
            root = _root_volume(v)
            np_spec = {
                "clusterName": name, "replicas": v["node-pool-replicas"], "release": {"image": image},
                "arch": v["arch"],
                "management": {"upgradeType": v["node-upgrade-type"] or "Replace", "autoRepair": bool(v["auto-repair"])},
                "nodeDrainTimeout": format_duration(v["node-drain-timeout"]),
                "nodeVolumeDetachTimeout": format_duration(v["node-volume-detach-timeout"]),
                "platform": {"type": "AWS", "aws": {"instanceType": instance_type,
                                                    "instanceProfile": f"{infra_id}-worker",
                                                    "subnet": {"id": subnets[z][0]}, "rootVolume": root}},
            }
            if v["pausedUntil"]:
                np_spec["pausedUntil"] = v["pausedUntil"]
            nodepools.append({"apiVersion": f"{GROUP}/{VERSION}", "kind": "NodePool",
                              "metadata": {"name": f"{name}-{z}", "namespace": ns}, "spec": np_spec})
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    objects = [namespace] + secrets_ + [hc] + nodepools
    for obj in objects:
        obj["metadata"].setdefault("labels", {})[AUTO_INFRA_LABEL] = infra_id

    if render:
        shown = [o for o in objects if o["kind"] != "Secret" or v["render-sensitive"]]
        text = _to_yaml(shown)
        if v["render-into"]:
            try:
                with open(v["render-into"], "w", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as exc:
                raise CommandError(f"failed to create file for rendering output: {exc}") from None
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        return

    assert kube is not None
    crash = world.faults.cli_crash(name) == "after_hostedcluster"
    for obj in objects:
        ctx.check()
        if crash and obj["kind"] == "NodePool":  # the HostedCluster exists, its NodePools never will
            _go_panic("github.com/openshift/hypershift/cmd/cluster/core.apply",
                      "/hypershift/cmd/cluster/core/create.go:437")
        _apply(kube, obj)
        LOG.info("Applied Kube resource", "kind", obj["kind"], "namespace", obj["metadata"].get("namespace", ""),
                 "name", obj["metadata"]["name"])
    if world.faults.cli_hang(name):
        _hang(ctx)
    if v["wait"]:
        LOG.info("Waiting for cluster rollout")
        _wait_rollout(kube, ns, name, ctx, world)


HANG_LIMIT = 24 * 3600.0  # real seconds: even a hung stand-in goes away eventually


def _go_panic(func: str, where: str) -> None:
    """Crash like a Go program: the panic and goroutine trace on stderr, exit status 2, no clean-up."""
    sys.stdout.flush()
    sys.stderr.write(
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x28 pc=0x2f1c3a4]\n\n"
        "goroutine 1 [running]:\n"
        f"{func}(...)\n\t{where} +0x1c4\n"
        "github.com/openshift/hypershift/cmd/cluster/aws.NewCreateCommand.func1(0xc000a8e308, {0x4a5c1e0, 0x0, 0x1e})\n"
        "\t/hypershift/cmd/cluster/aws/create.go:118 +0x2b6\n"
        "github.com/spf13/cobra.(*Command).execute(0xc000a8e308, {0xc0001b4000, 0x1e, 0x1e})\n"
        "\t/hypershift/vendor/github.com/spf13/cobra/command.go:985 +0xaca\n"
        "main.main()\n\t/hypershift/main.go:71 +0x2e5\n")
    sys.stderr.flush()
    os._exit(2)


def _hang(ctx: Deadline) -> None:
    """Block (no API traffic, no output) until killed or interrupted (SIGINT: ``Aborted...``)."""
    end = time.monotonic() + HANG_LIMIT
    while time.monotonic() < end:
        ctx.check()
        time.sleep(0.5)


def _version_check(kube: Kube, cli_commit: str) -> None:
    try:
        cm = kube.get(_core_path("configmaps", "hypershift", "supported-versions"))
    except Exception as exc:
        raise CommandError(f"version validation failed: failed to get supported OCP versions: failed to find "
                           f"supported versions on the server: {api_error(exc)}") from None
    server = (cm.get("data") or {}).get("server-version")
    if not server:
        raise CommandError("version validation failed: failed to get supported OCP versions: the server did not "
                           "advertise its HyperShift version")
    if server != cli_commit:
        raise CommandError(f"version validation failed: version mismatch detected, CLI: {cli_commit}, "
                           f"Operator: {server}")


def _installing_count(kube: Kube) -> int:
    try:
        items = kube.get(_group_path("hostedclusters", None)).get("items") or []
    except Exception:
        return 0
    n = 0
    for hc in items:
        hist = ((hc.get("status") or {}).get("version") or {}).get("history") or []
        if hc["metadata"].get("deletionTimestamp"):
            continue
        if not hist or not hist[0].get("completionTime"):
            n += 1
    return n


def _create_or_update(create: Callable[[], Any], update: Callable[[], Any]) -> None:
    """``create()``; when the object already exists (409), ``update()`` it instead."""
    try:
        create()
    except Exception as exc:
        if not is_status(exc, 409):
            raise
        update()


def _apply(kube: Kube, obj: dict) -> None:
    md = obj["metadata"]
    ns = md.get("namespace")
    key = f"{ns}/{md['name']}" if ns else md["name"]
    try:
        if obj["kind"] == "Namespace":
            _create_or_update(
                lambda: kube.create(_core_path("namespaces"), obj),
                lambda: kube.patch(_core_path("namespaces", None, md["name"]),
                                   {"metadata": {"labels": md.get("labels") or {}}}, strategic=True))
        elif obj["kind"] == "Secret":
            _create_or_update(
                lambda: kube.create(_core_path("secrets", ns), obj),
                lambda: kube.replace(_core_path("secrets", ns, md["name"]), obj))
        elif obj["kind"] == "HostedCluster":
            kube.create(kube.hc_path(ns), obj)
        elif obj["kind"] == "NodePool":
            _create_or_update(
                lambda: kube.create(kube.np_path(ns), obj),
                lambda: kube.patch(kube.np_path(ns, md["name"]),
                                   {"metadata": {"labels": md.get("labels")}, "spec": obj["spec"]}))
    except Cancelled:
        raise
    except Exception as exc:
        raise CommandError(f'failed to apply object "{key}": {api_error(exc, "Post", kube.host)}') from None


def _read_hc(kube: Kube, ns: str, name: str) -> dict:
    """GET the HostedCluster; any failure is the command's error."""
    try:
        return kube.get(kube.hc_path(ns, name))
    except Cancelled:
        raise
    except Exception as exc:
        raise CommandError(f"failed to get hostedcluster {ns}/{name}: {api_error(exc)}") from None


def _wait_rollout(kube: Kube, ns: str, name: str, ctx: Deadline, world: World) -> None:
    """Wait (with a watch) until history[0].completionTime is set; logs like the 30 s poll of the real CLI.

    A watch that fails (410 Gone, an error answer, a refused connection: GET again) or ends early is followed
    by the next request at once; when watches keep failing or ending without delivering an event, the wait
    polls with GETs at the real CLI's pace (every 30 simulated seconds, at least 0.2 s apart) instead of
    spinning, until a watch delivers again."""
    def rolled_out(hc: dict | None) -> bool:
        hist = (((hc or {}).get("status") or {}).get("version") or {}).get("history") or []
        return bool(hist) and bool(hist[0].get("completionTime"))

    log_every = max(world.real(30.0), 0.05)
    last_log = 0.0

    def log_progress() -> None:
        nonlocal last_log
        if time.monotonic() - last_log >= log_every:
            LOG.info("Cluster rollout not finished yet, checking again in 30 seconds...")
            last_log = time.monotonic()

    poll_every = max(world.real(30.0), 0.2)
    failures = 0   # watches in a row that failed, or ended early, without delivering an event
    rv = None
    while True:
        ctx.check()
        if failures > 1:
            ctx.sleep(poll_every)
            rv = None   # watches are not working: look with a GET, as the real CLI always does
        if rv is None:
            hc = _read_hc(kube, ns, name)
            if rolled_out(hc):
                return
            rv = hc["metadata"]["resourceVersion"]
            log_progress()
        rem = ctx.remaining()
        chunk = 30 if rem is None else max(1, min(30, int(rem) + 1))
        events = kube.client.watch(kube.hc_path(ns), [("fieldSelector", f"metadata.name={name}"),
                                                      ("resourceVersion", rv)],
                                   timeout_seconds=chunk, timeout=(5, chunk + 10))
        started = time.monotonic()
        try:
            failures += 1
            for ev in events:
                failures = 0
                obj = ev.get("object") or {}
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if ev.get("type") == "DELETED":
                    raise CommandError(f'failed to get hostedcluster {ns}/{name}: hostedclusters.{GROUP} '
                                       f'"{name}" not found')
                if rolled_out(obj):
                    return
                log_progress()
                ctx.check()
            if time.monotonic() - started >= chunk - 1:
                failures = 0   # the server ended it on time: nothing happened meanwhile
        except (Cancelled, CommandError, DeadlineExceeded):
            raise
        except Exception:
            rv = None  # an ERROR event (410 Gone: too old), an error answer, a dropped connection: GET again
        finally:
            events.close()


# ---------------------------------------------------------------- destroy
def cmd_destroy_cluster_aws(inv: Invocation) -> None:
    _check_aws_creds(inv.values)
    with _logged_failure("Failed to destroy cluster"):
        _destroy_cluster_aws(inv)


def _destroy_cluster_aws(inv: Invocation) -> None:
    v = inv.values
    world = inv.world
    ns, name = v["namespace"], v["name"]
    kube = Kube(v["kubeconfig"])
    try:
        hc = get_hc(kube, ns, name)
    except Cancelled:
        raise
    except Exception as exc:
        raise CommandError(f"failed to get hostedcluster: {api_error(exc)}") from None
    infra_id, region, base_domain = v["infra-id"], v["region"], v["base-domain"]
    if hc is None:
        LOG.info("Hosted cluster not found, destroying infrastructure from user input", "namespace", ns,
                 "name", name, "infraID", infra_id)
    else:
        LOG.info("Found hosted cluster", "namespace", ns, "name", name)
        spec = hc.get("spec") or {}
        infra_id = spec.get("infraID") or ""
        region = ((spec.get("platform") or {}).get("aws") or {}).get("region") or ""
        base_domain = (spec.get("dns") or {}).get("baseDomain") or ""
    missing = []
    if not infra_id:
        missing.append("infrastructure ID is required")
    if not base_domain:
        missing.append("base domain is required")
    if not region:
        missing.append("region is required")
    if missing:
        agg = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
        raise CommandError(f"required inputs are missing: {agg}")

    if hc is not None:
        md = hc["metadata"]
        patch_md: dict = {}
        fins = list(md.get("finalizers") or [])
        if CLI_FINALIZER not in fins:
            if not md.get("deletionTimestamp"):
                patch_md["finalizers"] = fins + [CLI_FINALIZER]
            LOG.info("Setting client finalizer for hosted cluster", "namespace", ns, "name", name)
        if v["destroy-cloud-resources"]:
            if (md.get("annotations") or {}).get(CLEANUP_ANNOTATION) != "true":
                patch_md["annotations"] = {CLEANUP_ANNOTATION: "true"}
            LOG.info("Marking cleanup of cloud resources for hosted cluster", "namespace", ns, "name", name)
        if patch_md:
            patch_md["resourceVersion"] = md["resourceVersion"]
            try:
                kube.patch(kube.hc_path(ns, name), {"metadata": patch_md})
                LOG.info("Updated hosted cluster", "namespace", ns, "name", name)
            except Cancelled:
                raise
            except Exception as exc:
                if is_status(exc, 404):
                    LOG.info("Hosted cluster not found, skipping client updates", "namespace", ns, "name", name)
                elif "no new finalizers can be added if the object is being deleted" not in api_error(exc):
                    raise CommandError(f"failed to add client finalizer to hosted cluster: {api_error(exc)}") \
                        from None
        LOG.info("Deleting hosted cluster", "namespace", ns, "name", name)
        try:
            kube.delete(kube.hc_path(ns, name))
        except Cancelled:
            raise
        except Exception as exc:
            if is_status(exc, 404):
                LOG.info("Hosted not found, skipping delete", "namespace", ns, "name", name)
            else:
                raise CommandError(f"failed to delete hostedcluster: {api_error(exc)}") from None
        try:
            _wait_rest_of_finalizers(kube, ns, name, v["cluster-grace-period"], world)
        except CommandError:
            if not v["force"]:
                raise
            LOG.info("Grace period expired and --force is set, force-removing finalizers from all child resources",
                     "namespace", ns, "name", name)
            _force_remove_finalizers(kube, ns, name)

    # AWS infrastructure and IAM teardown (modelled time)
    plan = world.model.plan_cli_destroy(name, world.seed, world.params)
    errs = []
    LOG.info("Destroying infrastructure", "infraID", infra_id)
    grace = v["aws-infra-grace-period"]
    infra_real = world.real(plan.infra)
    if grace and infra_real > grace:
        time.sleep(grace)
        errs.append("failed to destroy infrastructure: context deadline exceeded")
    else:
        time.sleep(infra_real * 0.5)
        for msg in ("Deleted ELB", "Deleted EIP", "Deleted subnet",
                    "Deleted route table", "Detached internet gateway from VPC", "Deleted internet gateway",
                    "Deleted security group", "Deleted VPC", "Deleted private hosted zone"):
            LOG.info(msg, "infraID", infra_id)
        time.sleep(infra_real * 0.5)
        LOG.info("Successfully destroyed infrastructure", "infraID", infra_id)
    if not v["preserve-iam"]:
        LOG.info("Destroying IAM", "infraID", infra_id)
        time.sleep(world.real(plan.iam))
        for role in ("openshift-ingress", "openshift-image-registry", "aws-ebs-csi-driver-controller",
                     "cloud-network-config-controller", "cloud-controller", "node-pool", "control-plane-operator"):
            LOG.info("Deleted role", "name", f"{infra_id}-{role}")
        LOG.info("Deleted OIDC provider", "providerARN", f"arn:aws:iam::oidc-provider/{infra_id}")
        LOG.info("Successfully destroyed IAM infra")
    if errs:
        raise CommandError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")

    # CLI-generated secrets
    LOG.info("Deleting Secrets", "namespace", ns)
    try:
        items = kube.get(_core_path("secrets", ns),
                         [("labelSelector", f"{AUTO_INFRA_LABEL}={infra_id}")]).get("items") or []
        for s in items:
            try:
                kube.delete(_core_path("secrets", ns, s["metadata"]["name"]))
            except Exception as exc:
                if not is_status(exc, 404):
                    raise
        LOG.info("Deleted CLI generated secrets")
    except Cancelled:
        raise
    except Exception as exc:
        if is_status(exc, 404):
            LOG.info("Secrets not found based on labels, skipping delete", "namespace", ns,
                     "labels", f"{AUTO_INFRA_LABEL}:{infra_id}")
        else:
            raise CommandError(f"failed to clean up secrets in {ns} namespace: {api_error(exc)}") from None

    if hc is not None:
        _remove_cli_finalizer(kube, ns, name)
    LOG.info("Successfully destroyed cluster and infrastructure", "namespace", ns, "name", name, "infraID", infra_id)


def _wait_rest_of_finalizers(kube: Kube, ns: str, name: str, grace: float, world: World) -> None:
    """Poll every simulated second (at least 0.2 s real) until the HC is gone or only the CLI finalizer remains."""
    interval = max(world.real(1.0), 0.2)
    end = time.monotonic() + max(0.0, grace)
    while True:
        try:
            hc = get_hc(kube, ns, name)
            if hc is None:
                return
            if (hc["metadata"].get("finalizers") or []) == [CLI_FINALIZER]:
                return
        except Cancelled:
            raise
        except Exception as exc:
            LOG.error(api_error(exc), "Failed to get hosted cluster", "namespace", ns, "name", name)
        now = time.monotonic()
        if now >= end:
            raise CommandError("hostedcluster wasn't finalized, aborting delete: context deadline exceeded")
        time.sleep(min(interval, end - now))


def _force_remove_finalizers(kube: Kube, ns: str, name: str) -> None:
    try:
        pools = kube.get(kube.np_path(ns)).get("items") or []
        for np in pools:
            if (np.get("spec") or {}).get("clusterName") == name and np["metadata"].get("finalizers"):
                kube.patch(kube.np_path(ns, np["metadata"]["name"]), {"metadata": {"finalizers": None}})
                LOG.info("Stripped finalizers", "kind", "*v1beta1.NodePool", "namespace", ns,
                         "name", np["metadata"]["name"])
        hc = get_hc(kube, ns, name)
        if hc is not None:
            keep = [f for f in hc["metadata"].get("finalizers") or [] if f == CLI_FINALIZER]
            kube.patch(kube.hc_path(ns, name), {"metadata": {"finalizers": keep or None}})
            LOG.info("Stripped non-destroy finalizers from HostedCluster", "namespace", ns, "name", name)
        cpns = f"{ns}-{name}".replace(".", "-")
        try:
            kube.delete(_core_path("namespaces", None, cpns))
            LOG.info("Deleted control plane namespace", "namespace", cpns)
        except Exception as exc:
            if not is_status(exc, 404):
                raise
        LOG.info("Force removal of all finalizers complete", "namespace", ns, "name", name)
    except Cancelled:
        raise
    except Exception as exc:
        LOG.error(api_error(exc), "Errors during force finalizer removal, continuing with platform cleanup")


def _remove_cli_finalizer(kube: Kube, ns: str, name: str) -> None:
    for _attempt in range(5):
        hc = get_hc(kube, ns, name)
        if hc is None:
            return
        fins = list(hc["metadata"].get("finalizers") or [])
        if CLI_FINALIZER not in fins:
            return
        fins.remove(CLI_FINALIZER)
        try:
            kube.patch(kube.hc_path(ns, name),
                       {"metadata": {"finalizers": fins or None, "resourceVersion": hc["metadata"]["resourceVersion"]}})
            LOG.info("Finalized hosted cluster", "namespace", ns, "name", name)
            return
        except Cancelled:
            raise
        except Exception as exc:
            if is_status(exc, 404):
                return
            if not is_status(exc, 409):
                raise CommandError(api_error(exc)) from None
    raise CommandError(f'Operation cannot be fulfilled on hostedclusters.{GROUP} "{name}": the object has been '
                       f'modified; please apply your changes to the latest version and try again')


# --------------------------------------------------------------------- dump
def cmd_dump_cluster(inv: Invocation) -> None:
    v = inv.values
    world = inv.world
    interval = max(world.real(5.0), 0.2)
    last: Exception | None = None
    for attempt in range(world.dump_max_attempts):
        try:
            _dump_cluster(inv)
            break
        except Cancelled:
            err = str(last) if last else "context canceled"
            LOG.error(err, "Context canceled during cluster dump retries")
            raise CommandError(err) from None
        except CommandError as exc:
            last = exc
            LOG.info("Retrying cluster dump after error", "error", str(exc))
            if attempt + 1 < world.dump_max_attempts:
                try:
                    time.sleep(interval)
                except Cancelled:
                    LOG.error(str(exc), "Context canceled during cluster dump retries")
                    raise CommandError(str(exc)) from None
    else:
        raise CommandError(str(last))
    if v["archive-dump"]:
        _archive(v["artifact-dir"])


def _scrub(obj: dict) -> dict:
    obj = json.loads(json.dumps(obj))
    md = obj.get("metadata") or {}
    md.pop("managedFields", None)
    if obj.get("kind") == "Secret":
        obj["data"] = {k: "" for k in (obj.get("data") or {})}
        obj.pop("stringData", None)
        (md.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return obj


def _write_yaml(path: str, obj: Any) -> None:
    import yaml

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(obj, fh, sort_keys=True)


def _dump_namespace(kube: Kube, base: str, ns: str) -> None:
    """``oc adm inspect ns/<ns>``-like: the namespace and its core objects (secrets without values)."""
    try:
        nsobj = kube.get(_core_path("namespaces", None, ns))
    except Exception as exc:
        if is_status(exc, 404):
            return
        raise
    nsobj.setdefault("apiVersion", "v1")
    nsobj.setdefault("kind", "Namespace")
    _write_yaml(os.path.join(base, "namespaces", ns, f"{ns}.yaml"), _scrub(nsobj))
    for kind in ("secrets", "configmaps", "events"):
        try:
            items = kube.get(_core_path(kind, ns)).get("items") or []
        except Exception as exc:
            LOG.info(f"failed running command oc adm inspect {kind} -n {ns}: {api_error(exc)}")
            continue
        single = kind[:-1].capitalize() if kind != "configmaps" else "ConfigMap"
        for it in items:
            it.setdefault("apiVersion", "v1")
            it.setdefault("kind", {"secrets": "Secret", "configmaps": "ConfigMap", "events": "Event"}[kind])
        _write_yaml(os.path.join(base, "namespaces", ns, "core", f"{kind}.yaml"),
                    {"apiVersion": "v1", "kind": f"{single}List", "items": [_scrub(i) for i in items]})


def _dump_cluster(inv: Invocation) -> None:
    v = inv.values
    ns, name, base = v["namespace"], v["name"], v["artifact-dir"]
    kube = Kube(None)
    try:
        hc = _read_hc(kube, ns, name)
        os.makedirs(base, exist_ok=True)
        cpns = f"{ns}-{name}".replace(".", "-")
        _write_yaml(os.path.join(base, "namespaces", ns, GROUP, "hostedclusters", f"{name}.yaml"), _scrub(hc))
        try:
            pools = kube.get(kube.np_path(ns)).get("items") or []
        except Exception as exc:
            LOG.error(api_error(exc), "Cannot list nodepools")
            pools = []
        for np in pools:
            if (np.get("spec") or {}).get("clusterName") == name:
                _write_yaml(os.path.join(base, "namespaces", ns, GROUP, "nodepools", f"{np['metadata']['name']}.yaml"),
                            _scrub(np))
        for n in (ns, cpns, "hypershift"):
            try:
                _dump_namespace(kube, base, n)
            except Cancelled:
                raise
            except Exception as exc:
                LOG.info(f"failed running command oc adm inspect ns/{n}: {api_error(exc)}")
        if v["dump-guest-cluster"] or v["dump-guest-cluster-through-kube-service"]:
            _dump_guest(kube, hc, ns, name, cpns, base)
    finally:
        kube.close()


def _guest_user_agent() -> str:
    """What the guest dump has always sent: the kubernetes Python client's default User-Agent
    (``OpenAPI-Generator/<its version>/python``), read from the installed distribution, never imported."""
    try:
        from importlib.metadata import version

        return f"OpenAPI-Generator/{version('kubernetes')}/python"
    except Exception:
        return "OpenAPI-Generator/python"


def _dump_guest(kube: Kube, hc: dict, ns: str, name: str, cpns: str, base: str) -> None:
    import tempfile

    import yaml

    from sim.standin import kubeclient

    start = time.monotonic()
    target = os.path.join(base, f"hostedcluster-{name}")
    try:
        try:
            sec = kube.get(_core_path("secrets", cpns, "localhost-kubeconfig"))
        except Exception as exc:
            raise CommandError(f"failed to get running kube-apiserver pod for guest cluster: {api_error(exc)}") \
                from None
        data = base64.b64decode((sec.get("data") or {}).get("kubeconfig") or "")
        if not data:
            raise CommandError("failed to get hostedcluster localhost kubeconfig: missing kubeconfig key")
        cfg = yaml.safe_load(data)
        config = kubeclient.Config.from_dict(cfg, base=tempfile.gettempdir())
        guest = Kube(client=kubeclient.Client(config, _guest_user_agent()))
        LOG.info("Dumping guestcluster", "target", target)
        try:
            nodes = guest.get(_core_path("nodes")).get("items") or []
            for n in nodes:
                n.setdefault("apiVersion", "v1")
                n.setdefault("kind", "Node")
                _write_yaml(os.path.join(target, "cluster-scoped-resources", "core", "nodes",
                                         f"{n['metadata']['name']}.yaml"), _scrub(n))
            nss = guest.get(_core_path("namespaces")).get("items") or []
            for n in nss:
                n.setdefault("apiVersion", "v1")
                n.setdefault("kind", "Namespace")
                _write_yaml(os.path.join(target, "namespaces", n["metadata"]["name"],
                                         f"{n['metadata']['name']}.yaml"), _scrub(n))
            with open(os.path.join(target, "worker.nodes.log"), "w", encoding="utf-8") as fh:
                for n in nodes:
                    fh.write(f"{n['metadata']['name']} journal: kubelet started (simulated node, no logs)\n")
        finally:
            guest.close()
        LOG.info("Successfully dumped guest cluster", "duration", format_duration(round(time.monotonic() - start, 3)))
    except Cancelled:
        raise
    except CommandError as exc:
        LOG.error(str(exc), "Failed to dump guest cluster")
    except Exception as exc:
        LOG.error(api_error(exc), "Failed to dump guest cluster")


def _archive(artifact_dir: str) -> None:
    out = os.path.join(artifact_dir, "hypershift-dump.tar.gz")
    entries = sorted(e for e in os.listdir(artifact_dir) if e != "hypershift-dump.tar.gz")
    tmp = out + ".tmp"
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for e in entries:
                tar.add(os.path.join(artifact_dir, e), arcname=e)
        os.replace(tmp, out)
    except OSError as exc:
        raise CommandError(f"failed to create archive: {exc}") from None
    LOG.info("Archived dump", "file", out)


# --------------------------------------------------------------- nodepool
def cmd_create_nodepool_aws(inv: Invocation) -> None:
    with _logged_failure("Failed to create nodepool"):
        _create_nodepool_aws(inv)


def _create_nodepool_aws(inv: Invocation) -> None:
    v = inv.values
    ns, name, cluster = v["namespace"], v["name"], v["cluster-name"]
    if v["root-volume-size"] < 8:
        raise CommandError(f"root volume size must be at least 8 GB, got {v['root-volume-size']}")
    kube = Kube(None)
    try:
        hc = get_hc(kube, ns, cluster)
    except Exception as exc:
        raise CommandError(f"failed to get HostedCluster {ns}/{cluster}: {api_error(exc)}") from None
    if hc is None:
        raise CommandError(f'failed to get HostedCluster {ns}/{cluster}: hostedclusters.{GROUP} "{cluster}" not found')
    if ((hc.get("spec") or {}).get("platform") or {}).get("type") != "AWS":
        raise CommandError(f"NodePool platform type AWS must be HostedCluster type "
                           f"{((hc.get('spec') or {}).get('platform') or {}).get('type')}")
    if not v["render"]:
        try:
            kube.get(kube.np_path(ns, name))
            raise CommandError(f"NodePool {ns}/{name} already exists")
        except CommandError:
            raise
        except Exception as exc:
            if not is_status(exc, 404):
                raise CommandError(api_error(exc)) from None
    payload_arch = (hc.get("status") or {}).get("payloadArch")
    arch_map = {"amd64": "AMD64", "arm64": "ARM64", "ppc64le": "PPC64LE", "s390x": "S390X"}
    if not payload_arch:
        LOG.info("WARNING: Unable to validate NodePool CPU arch: HostedCluster.Status.PayloadArch unspecified - "
                 "skipping validation for this NodePool")
    elif payload_arch != "Multi" and arch_map.get(v["arch"]) != payload_arch:
        raise CommandError(f"NodePool CPU arch, {v['arch']}, is not supported by the HostedCluster payload type, "
                           f"{payload_arch}")
    spec = hc.get("spec") or {}
    aws = (spec.get("platform") or {}).get("aws") or {}
    subnet = v["subnet-id"] or ((aws.get("cloudProviderConfig") or {}).get("subnet") or {}).get("id")
    if not subnet:
        raise CommandError("subnet ID was not specified and cannot be determined from HostedCluster")
    image = v["release-image"] or (spec.get("release") or {}).get("image") or ""
    aws_np = {"instanceType": _instance_type(v),
              "instanceProfile": v["instance-profile"] or f"{spec.get('infraID') or cluster}-worker",
              "subnet": {"id": subnet}, "rootVolume": _root_volume(v)}
    if v["securitygroup-id"]:
        aws_np["securityGroups"] = [{"id": v["securitygroup-id"]}]
    np = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NodePool", "metadata": {"name": name, "namespace": ns},
          "spec": {"clusterName": cluster, "replicas": v["replicas"], "release": {"image": image}, "arch": v["arch"],
                   "management": {"upgradeType": v["node-upgrade-type"] or "Replace",
                                  "autoRepair": bool(v["auto-repair"])},
                   "nodeDrainTimeout": "0s", "nodeVolumeDetachTimeout": "0s",
                   "platform": {"type": "AWS", "aws": aws_np}}}
    if v["render"]:
        sys.stdout.write(_to_yaml([np]))
        sys.stdout.flush()
        sys.stderr.write(f"NodePool {name} was rendered to yaml output file\n")
        return
    try:
        kube.create(kube.np_path(ns), np)
    except Exception as exc:
        if is_status(exc, 409):
            raise CommandError(f"NodePool {ns}/{name} already exists") from None
        raise CommandError(f"failed to create nodepool: {api_error(exc)}") from None
    print(f"NodePool {name} created", flush=True)


# -------------------------------------------------------------- kubeconfig
def cmd_create_kubeconfig(inv: Invocation) -> None:
    try:
        _create_kubeconfig(inv)
    except CommandError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        raise


def _golog(msg: str) -> None:
    sys.stderr.write(time.strftime("%Y/%m/%d %H:%M:%S ") + msg + "\n")


def _create_kubeconfig(inv: Invocation) -> None:
    import yaml

    v = inv.values
    ns, name = v["namespace"], v["name"]
    kube = Kube(None)

    def secret_data(sns: str, sname: str) -> bytes | None:
        sec = kube.get(_core_path("secrets", sns, sname))
        raw = (sec.get("data") or {}).get("kubeconfig")
        return base64.b64decode(raw) if raw else None

    if name:
        try:
            hc = kube.get(kube.hc_path(ns, name))
        except Exception as exc:
            raise CommandError(api_error(exc)) from None
        ref = ((hc.get("status") or {}).get("kubeconfig") or {}).get("name")
        if not ref:
            raise CommandError("cluster doesn't report a kubeconfig")
        try:
            data = secret_data(ns, ref)
        except Exception as exc:
            raise CommandError(f"failed to get kubeconfig secret {ns}/{ref}: {api_error(exc)}") from None
        if not data:
            raise CommandError("kubeconfig secret has no kubeconfig")
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    try:
        hcs = kube.get(kube.hc_path(ns)).get("items") or []
    except Exception as exc:
        raise CommandError(f"failed to make kubeconfig: failed to list hostedclusters: {api_error(exc)}") from None
    picked = []
    for hc in hcs:
        if not ((hc.get("status") or {}).get("kubeconfig") or {}).get("name"):
            _golog(f"skipping hostedcluster {ns}/{hc['metadata']['name']} which reports no kubeconfig")
            continue
        picked.append(hc)
    _golog(f"selected {len(picked)} of {len(hcs)} hostedclusters for the kubeconfig")
    merged = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [], "preferences": {}}
    for hc in picked:
        hname = hc["metadata"]["name"]
        _golog(f"adding {ns}/{hname} to kubeconfig")
        try:
            data = secret_data(ns, hc["status"]["kubeconfig"]["name"])
        except Exception as exc:
            _golog(f"failed to get kubeconfig secret {ns}/{hc['status']['kubeconfig']['name']}: {api_error(exc)}")
            continue
        if not data:
            _golog("missing kubeconfig contents")
            continue
        cfg = yaml.safe_load(data)
        ctx_name = f"{ns}-{hname}"
        merged["clusters"].append({"name": ctx_name, "cluster": cfg["clusters"][0]["cluster"]})
        merged["users"].append({"name": ctx_name, "user": cfg["users"][0]["user"]})
        merged["contexts"].append({"name": ctx_name, "context": {"cluster": ctx_name, "user": ctx_name,
                                                                 "namespace": "default"}})
        _golog(f"added {ctx_name} to kubeconfig")
    if merged["contexts"]:
        merged["current-context"] = merged["contexts"][0]["name"]
    _golog(f"created kubeconfig with {len(merged['contexts'])} contexts")
    sys.stdout.write(yaml.safe_dump(merged, sort_keys=False))
    sys.stdout.flush()


# ----------------------------------------------------------------- version
def cmd_version(inv: Invocation) -> None:
    v = inv.values
    world = World(load_world(inv.world_path)) if os.path.exists(inv.world_path) else None
    commit = world.commit if world else "0000000000000000000000000000000000000000"
    if v["commit-only"]:
        print(commit, flush=True)
        return
    print(f"Client Version: openshift/hypershift: {commit}. Latest supported OCP: {LATEST_SUPPORTED}", flush=True)
    if v["client-only"]:
        return
    try:
        kube = Kube(None)
    except CommandError as exc:
        print(f"failed to connect to server: {exc}", flush=True)
        return
    try:
        cm = kube.get(_core_path("configmaps", v["namespace"], "supported-versions"), timeout=(5, 15))
    except Exception as exc:
        print(f"failed to get supported OCP versions: failed to find supported versions on the server: "
              f"{api_error(exc, 'Get', kube.host)}", flush=True)
        return
    finally:
        kube.close()
    data = cm.get("data") or {}
    if "server-version" not in data:
        print("failed to get supported OCP versions: the server did not advertise its HyperShift version", flush=True)
        return
    if "supported-versions" not in data:
        print("failed to get supported OCP versions: the server did not advertise supported OCP versions", flush=True)
        return
    try:
        versions = json.loads(data["supported-versions"]).get("versions") or []
    except (ValueError, AttributeError) as exc:
        print(f"failed to get supported OCP versions: failed to parse supported versions on the server: {exc}",
              flush=True)
        return
    print(f"Server Version: {data['server-version']}", flush=True)
    print(f"Server Supports OCP Versions: {', '.join(versions)}", flush=True)


# ================================================================ command tree
def S(name, default="", help_="", **kw) -> Flag:  # noqa: N802 - short constructors for the flag tables
    return Flag(name, "string", default, help_, **kw)


def B(name, default=False, help_="", **kw) -> Flag:  # noqa: N802
    return Flag(name, "bool", default, help_, **kw)


def I(name, default=0, help_="", **kw) -> Flag:  # noqa: N802,E743
    return Flag(name, "int", default, help_, **kw)


def D(name, default=0.0, help_="", **kw) -> Flag:  # noqa: N802
    return Flag(name, "duration", default, help_, **kw)


def A(name, help_="", **kw) -> Flag:  # noqa: N802
    return Flag(name, "stringArray", [], help_, **kw)


def L(name, help_="", **kw) -> Flag:  # noqa: N802
    return Flag(name, "stringSlice", [], help_, **kw)


def M(name, help_="", **kw) -> Flag:  # noqa: N802
    return Flag(name, "stringToString", {}, help_, **kw)


def E(name, default, allowed, help_="") -> Flag:  # noqa: N802
    return Flag(name, "enum", (default, tuple(allowed)), help_)


def _create_cluster_flags() -> list[Flag]:
    return [
        S("kubeconfig", help_="Path to a kubeconfig file (defaults to $KUBECONFIG)"),
        S("namespace", "clusters", "A namespace to contain the generated resources"),
        S("name", help_="A name for the cluster"),
        S("base-domain", help_="The ingress base domain for the cluster"),
        S("base-domain-prefix", help_="The ingress base domain prefix for the cluster, defaults to cluster name. "
                                      "Use 'none' for an empty prefix"),
        S("external-dns-domain", help_="Sets hostname to opinionated values in the specified domain"),
        S("network-type", "OVNKubernetes", "Enum specifying the cluster SDN provider"),
        S("release-image", help_="The OCP release image for the cluster"),
        S("pull-secret", help_="File path to a pull secret."),
        S("control-plane-availability-policy", "SingleReplica", "Availability policy for hosted cluster components"),
        B("render", help_="Render output as YAML to stdout instead of applying"),
        S("render-into", help_="Render output as YAML into this file instead of applying"),
        B("render-sensitive", help_="When used along --render it enables rendering of secrets in the output"),
        S("ssh-key", help_="Path to an SSH key file"),
        S("additional-trust-bundle", help_="Path to a file with user CA bundle"),
        S("image-content-sources", help_="Path to a file with image content sources"),
        I("node-pool-replicas", 0, "If 0 or greater, creates a nodepool with that many replicas; else if less "
                                   "than 0, does not create a nodepool."),
        D("node-drain-timeout", 0.0, "The NodeDrainTimeout on any created NodePools"),
        D("node-volume-detach-timeout", 0.0, "The NodeVolumeDetachTimeout on any created NodePools"),
        A("annotations", "Annotations to apply to the hostedcluster (key=value). Can be specified multiple times."),
        A("labels", "Labels to apply to the hostedcluster (key=value). Can be specified multiple times."),
        B("fips", help_="Enables FIPS mode for nodes in the cluster"),
        B("auto-repair", help_="Enables machine autorepair with machine health checks"),
        S("infra-availability-policy", help_="Availability policy for infrastructure services in guest cluster"),
        B("generate-ssh", help_="If true, generate SSH keys"),
        S("etcd-storage-class", help_="The persistent volume storage class for etcd data volumes"),
        S("etcd-storage-size", help_="The storage size for etcd data volume. Example: 8Gi"),
        S("infra-id", help_="Infrastructure ID to use for hosted cluster resources."),
        A("service-cidr", "The CIDR of the service network. Can be specified multiple times."),
        A("cluster-cidr", "The CIDR of the cluster network. Can be specified multiple times."),
        A("machine-cidr", "The CIDR of the machine network. Can be specified multiple times."),
        B("default-dual", help_="Defines the Service and Cluster CIDRs as dual-stack default values."),
        M("node-selector", "A comma separated list of key=value to use as node selector for the Hosted Control "
                           "Plane pods"),
        M("pods-labels", "A comma separated list of key=value to use as labels for the Hosted Control Plane pods"),
        A("toleration", "A comma separated list of options for a toleration that will be applied to the hcp pods"),
        B("wait", help_="If the create command should block until the cluster is up. Requires at least one node."),
        D("timeout", 0.0, "If the --wait flag is set, set the optional timeout to limit the waiting duration."),
        E("node-upgrade-type", "", ("Replace", "InPlace"), "The NodePool upgrade strategy"),
        E("olm-catalog-placement", "management", ("management", "guest"), "The OLM Catalog Placement"),
        B("olm-disable-default-sources", help_="Disables the OLM default catalog sources for the HostedCluster."),
        S("arch", "amd64", "The default processor architecture for the NodePool (e.g. arm64, amd64)"),
        S("pausedUntil", help_="If a date is provided in RFC3339 format, HostedCluster creation is paused until "
                               "that date."),
        S("release-stream", help_="The OCP release stream for the cluster (e.g. 4-stable-multi)"),
        S("feature-set", "Default", "The predefined feature set to use for the cluster"),
        L("disable-cluster-capabilities", "Optional cluster capabilities to disable."),
        L("enable-cluster-capabilities", "Optional cluster capabilities to enable."),
        S("kas-dns-name", help_="The custom DNS name for the kube-apiserver service."),
        B("disable-multi-network", help_="Disables the Multus CNI plugin and related components"),
        I("ovn-kubernetes-mtu", 0, "The MTU to use for the OVN-Kubernetes tunnel interface."),
        B("version-check", help_="Checks version of CLI and Hypershift operator and blocks create if mismatched"),
        B("allocate-node-cidrs", help_="When networkType=Other, it's recommended to set this field to 'true'."),
        S("control-plane-operator-image", help_="Override the default image used to deploy the control plane "
                                                "operator"),
        S("infra-json", help_="Path to file containing infrastructure information for the cluster."),
    ]


def _create_cluster_aws_flags() -> list[Flag]:
    return [
        S("region", "us-east-1", "Region to use for AWS infrastructure."),
        L("zones", "The availability zones in which NodePools will be created"),
        S("instance-type", help_="Instance type for AWS instances."),
        S("root-volume-type", "gp3", "The type of the root volume (e.g. gp3, io2) for machines in the NodePool"),
        I("root-volume-iops", 0, "The iops of the root volume when specifying type:io1 for machines in the NodePool"),
        I("root-volume-size", 120, "The size of the root volume (min: 8) for machines in the NodePool"),
        S("root-volume-kms-key", help_="The KMS key ID or ARN to use for root volume encryption"),
        L("additional-tags", "Additional tags to set on AWS resources"),
        S("endpoint-access", "Public", "Access for control plane endpoints (Public, PublicAndPrivate, Private)"),
        S("kms-key-arn", help_="The ARN of the KMS key to use for Etcd encryption."),
        B("enable-proxy", help_="If true, a proxy should be set up"),
        B("enable-secure-proxy", help_="If true, a secure proxy should be set up"),
        S("proxy-vpc-endpoint-service-name", help_="The name of a VPC Endpoint Service offering a proxy service"),
        S("secret-creds", help_="A Kubernetes secret with needed AWS platform credentials"),
        S("oidc-issuer-url", help_="The OIDC provider issuer URL"),
        S("sa-token-issuer-private-key-path", help_="The file to the private key for the service account token "
                                                    "issuer"),
        B("multi-arch", deprecated="Multi-arch validation is now performed automatically"),
        B("auto-node", help_="If true, the Hosted Cluster will support AutoNode feature."),
        S("vpc-cidr", help_="The CIDR to use for the cluster VPC (mask must be 16)"),
        B("private-zones-in-cluster-account", help_="In shared VPC infrastructure, create private hosted zones in "
                                                    "cluster account"),
        B("public-only", help_="If true, creates a cluster that does not have private subnets or NAT gateway"),
        B("use-rosa-managed-policies", help_="Use ROSA managed policies for the operator roles"),
        B("shared-role", help_="Create a single shared role with all role policies"),
        S("iam-json", help_="Path to file containing IAM information for the cluster."),
        B("single-nat-gateway", help_="If enabled, only a single NAT gateway is created"),
        S("role-arn", help_="The ARN of the role to assume."),
        S("sts-creds", help_="Path to the STS credentials file to use when assuming the role."),
        S("aws-creds", help_="Path to an AWS credentials file", deprecated="use --role-arn"),
        S("vpc-owner-aws-creds", help_="Path to VPC owner AWS credentials file"),
    ]


def build_root() -> Command:
    root = Command("hypershift", "HyperShift CLI (simulated world stand-in)")
    create = Command("create", "Commands for creating HyperShift resources")
    cluster = Command("cluster", "Creates basic functional HostedCluster resources",
                      persistent=_create_cluster_flags())
    cluster.add(Command("aws", "Creates basic functional HostedCluster resources on AWS",
                        flags=_create_cluster_aws_flags(), run=cmd_create_cluster_aws))
    nodepool = Command("nodepool", "Create a HyperShift NodePool", persistent=[
        S("name", "example", "The name of the NodePool"),
        S("namespace", "clusters", "The namespace in which to create the NodePool"),
        I("replicas", 2, "The number of nodes to create in the NodePool"),
        S("cluster-name", "example", "The name of the HostedCluster nodes in this pool will join"),
        S("release-image", help_="The release image for nodes."),
        E("node-upgrade-type", "Replace", ("Replace", "InPlace"), "The NodePool upgrade strategy"),
        S("arch", "amd64", "The processor architecture for the NodePool (e.g. arm64, amd64)"),
        B("render", help_="Render output as YAML to stdout instead of applying"),
        B("auto-repair", help_="Enables machine auto-repair with machine health checks."),
        I("node-count", 2, "The number of nodes to create in the NodePool", deprecated="please use '--replicas'"),
    ])
    nodepool.add(Command("aws", "Creates basic functional NodePool resources for AWS", flags=[
        S("instance-type", help_="The AWS instance type of the NodePool"),
        S("subnet-id", help_="The AWS subnet ID in which to create the NodePool"),
        S("securitygroup-id", help_="The AWS security group in which to create the NodePool"),
        S("instance-profile", help_="The AWS instance profile for the NodePool"),
        S("root-volume-type", "gp3", "The type of the root volume (e.g. gp3, io2) for machines in the NodePool"),
        I("root-volume-iops", 0, "The iops of the root volume for machines in the NodePool"),
        I("root-volume-size", 120, "The size of the root volume (min: 8) for machines in the NodePool"),
        S("root-volume-kms-key", help_="The KMS key ID or ARN to use for root volume encryption"),
    ], run=cmd_create_nodepool_aws))
    kubeconfig = Command("kubeconfig", "Renders kubeconfigs for HostedCluster resources", flags=[
        S("namespace", "clusters", "A HostedCluster namespace. Defaults to 'clusters'."),
        S("name", help_="A HostedCluster name."),
        B("port-forward", help_="For private clusters, rewrite the kubeconfig server URL for use with kubectl "
                                "port-forward."),
    ], run=cmd_create_kubeconfig)
    create.add(cluster, nodepool, kubeconfig)

    destroy = Command("destroy", "Commands for destroying HyperShift resources")
    dcluster = Command("cluster", "Destroys a HostedCluster and its associated infrastructure.", persistent=[
        S("kubeconfig", help_="Path to a kubeconfig file (defaults to $KUBECONFIG)"),
        S("namespace", "clusters", "A cluster namespace"),
        S("name", help_="A cluster name (required)"),
        D("cluster-grace-period", 600.0, "How long to wait for the cluster to be deleted before forcibly "
                                         "destroying its infra"),
        S("infra-id", help_="Infrastructure ID; inferred from the hosted cluster by default"),
        B("destroy-cloud-resources", True, "If true, cloud resources such as load balancers and persistent "
                                           "storage disks created by the cluster during its lifetime are removed"),
        B("force", help_="Dev/CI only: when the grace period expires, force-remove all finalizers from child "
                         "resources and continue with best-effort infrastructure cleanup"),
    ])
    dcluster.persistent_required = ("name",)
    dcluster.add(Command("aws", "Destroys a HostedCluster and its associated infrastructure on AWS", flags=[
        B("preserve-iam", help_="If true, skip deleting IAM. Otherwise destroy any default generated IAM along "
                                "with other infra."),
        S("region", "us-east-1", "Cluster's region; inferred from the hosted cluster by default"),
        S("base-domain", help_="Cluster's base domain; inferred from the hosted cluster by default"),
        S("base-domain-prefix", help_="Cluster's base domain prefix; inferred from the hosted cluster by default"),
        S("secret-creds", help_="A Kubernetes secret with a platform credential, pull-secret and base-domain."),
        D("aws-infra-grace-period", 0.0, "Timeout for destroying infrastructure in minutes"),
        B("private-zones-in-cluster-account", help_="In shared VPC infrastructure, delete private hosted zones in "
                                                    "cluster account"),
        S("role-arn", help_="The ARN of the role to assume."),
        S("sts-creds", help_="Path to the STS credentials file to use when assuming the role."),
        S("aws-creds", help_="Path to an AWS credentials file", deprecated="use --role-arn"),
        S("vpc-owner-aws-creds", help_="Path to VPC owner AWS credentials file"),
    ], run=cmd_destroy_cluster_aws))
    destroy.add(dcluster)

    dump = Command("dump", "Commands for dumping HyperShift resources for debugging")
    dump.add(Command("cluster", "Dumps hostedcluster diagnostic info", flags=[
        S("namespace", "clusters", "The namespace of the hostedcluster to dump"),
        S("name", "example", "The name of the hostedcluster to dump"),
        S("as", help_="The user or service account to impersonate to and used to execute the cluster dump command"),
        S("artifact-dir", help_="Destination directory for dump files"),
        B("archive-dump", True, "Create a tar archive of the artifact directory"),
        S("agent-namespace", help_="For agent platform, the namespace where the agents are located"),
        B("dump-guest-cluster", help_="Dump data plane content as well"),
        B("dump-guest-cluster-through-kube-service", help_="Dump data plane content through the kube-apiserver "
                                                           "service"),
    ], run=cmd_dump_cluster, required=("artifact-dir",)))

    version = Command("version", "Prints HyperShift CLI version", flags=[
        B("commit-only", help_="Output only the code commit"),
        B("client-only", help_="Output only the client version"),
        S("namespace", "hypershift", "The namespace in which HyperShift is installed"),
    ], run=cmd_version)
    root.add(create, destroy, dump, version)
    return root


_OTHER_PLATFORMS = {"none", "agent", "kubevirt", "azure", "powervs", "openstack", "gcp"}


# ======================================================================== main
_sigint_seen = False


def _on_sigint(signum, frame) -> None:
    global _sigint_seen
    sys.stderr.write("\nAborted...\n")
    sys.stderr.flush()
    if not _sigint_seen:
        _sigint_seen = True
        raise Cancelled()


def _late_sigint(signum, frame) -> None:
    sys.stderr.write("\nAborted...\n")


def main(argv: list[str] | None = None, world_path: str | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    world_path = world_path or _world_path()
    root = build_root()
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        try:
            cmd, values, changed, args, want_help = parse(root, argv)
        except CommandError as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        if want_help:
            sys.stdout.write(usage(cmd))
            return 0
        if cmd.run is None:
            if args and cmd.name in ("cluster", "nodepool") and args[0] in _OTHER_PLATFORMS:
                sys.stderr.write(f"platform {args[0]} is not available in the simulated world (only aws)\n")
                return 1
            sys.stdout.write(usage(cmd))
            return 1 if cmd is root else 0
        for f in cmd.all_flags().values():
            if f.deprecated and f.name in changed:
                sys.stderr.write(f"Flag --{f.name} has been deprecated, {f.deprecated}\n")
        if cmd.name == "cluster" and cmd.parent and cmd.parent.name == "dump":
            if values["dump-guest-cluster"] and values["dump-guest-cluster-through-kube-service"]:
                sys.stderr.write("if any flags in the group [dump-guest-cluster dump-guest-cluster-through-kube-"
                                 "service] are set none of the others can be; [dump-guest-cluster dump-guest-"
                                 "cluster-through-kube-service] were all set\n")
                return 1
        missing = [r for r in cmd.required_flags() if r not in changed]
        if missing:
            sys.stderr.write("required flag(s) " + ", ".join(f'"{m}"' for m in missing) + " not set\n")
            return 1
        if cmd.name == "aws" and cmd.parent and cmd.parent.name == "nodepool" and "node-count" in changed \
                and "replicas" not in changed:
            values["replicas"] = values["node-count"]
        inv = Invocation(cmd, values, changed, args, world_path)
        cmd.run(inv)
        return 0
    except CommandError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except Cancelled:
        sys.stderr.write("context canceled\n")
        return 1
    finally:
        signal.signal(signal.SIGINT, _late_sigint)  # no KeyboardInterrupt while the interpreter exits
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
