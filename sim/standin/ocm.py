"""Stand-in for the ``ocm`` CLI (openshift-online/ocm-cli), for the simulated world.

It implements, with the real flag names and behaviour as seen from outside::

    ocm login   [--token T | --client-id I --client-secret S | --user U --password P]
                [--url URL|alias] [--token-url URL] [--scope S]... [--insecure] [--persistent]
    ocm get     <path-or-alias> [id] [--parameter/-p name=value]... [--header name=value]... [--single]
    ocm logout
    ocm version

* The config file: ``$OCM_CONFIG``, else ``~/.ocm.json`` if it exists, else
  ``$XDG_CONFIG_HOME/ocm/ocm.json`` (``~/.config/ocm/ocm.json``); keys
  ``access_token``, ``client_id``, ``client_secret``, ``insecure``, ``opaque_token``, ``password``,
  ``refresh_token``, ``scopes``, ``token_url``, ``url``, ``user``, ``pager`` (written in that
  order, empty ones left out, mode 0600 for a new file; an existing file keeps its mode).
* Like the SDK it uses the access token while it has at least a minute left, otherwise it
  exchanges the refresh token at ``token_url`` (``grant_type=refresh_token``, ``client_id``),
  and after each ``get`` writes the tokens back into the config file.
* ``OCM_URL`` overrides the API URL for ``get``; the URL aliases ``production``/``staging``/
  ``integration`` (and short forms) map to the real gateways, which the stand-in refuses to
  contact: it only talks to loopback addresses (the simulated OCM).
* ``get`` prints the body as indented JSON (``--single``: one line) on stdout, or on stderr with
  exit 1 when the HTTP status is >= 400.  Other errors: ``Error: <message>`` on stderr, exit 1.
* Without credentials (for example without a config file): ``Error: Not logged in, credentials
  aren't set, run the 'login' command``, exit 1 -- the text of ocm-cli 1.x (since the keyring
  support, a missing file loads as an empty config; older releases printed ``Not logged in, run
  the 'login' command``).  ``OCM_KEYRING`` is refused: keyrings are not simulated.

Defaults that differ from the real CLI: when ``../world.json`` (or ``$OCM_SIM_WORLD``) names the
simulated OCM, ``login`` defaults ``--url``/``--token-url`` to it instead of api.openshift.com /
sso.redhat.com.  Tokens are never printed or logged (the real ``login`` echoes an unparsable
token in its error; this one does not).
"""
from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from sim.standin import cli

VERSION = "1.0.15"
USER_AGENT = f"OCM-CLI/{VERSION}"
DEFAULT_URL = "https://api.openshift.com"
DEFAULT_TOKEN_URL = "https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token"
DEFAULT_CLIENT_ID = "cloud-services"
DEFAULT_SCOPES = ["openid"]
OFFLINE_TOKEN_PAGE = "https://console.redhat.com/openshift/token"
URL_ALIASES = {
    "production": "https://api.openshift.com", "prod": "https://api.openshift.com", "prd": "https://api.openshift.com",
    "staging": "https://api.stage.openshift.com", "stage": "https://api.stage.openshift.com",
    "stg": "https://api.stage.openshift.com",
    "integration": "https://api.integration.openshift.com", "int": "https://api.integration.openshift.com",
}
LIST_ALIASES = {
    "accounts": "/api/accounts_mgmt/v1/accounts", "accts": "/api/accounts_mgmt/v1/accounts",
    "subscriptions": "/api/accounts_mgmt/v1/subscriptions", "subs": "/api/accounts_mgmt/v1/subscriptions",
    "organizations": "/api/accounts_mgmt/v1/organizations", "orgs": "/api/accounts_mgmt/v1/organizations",
    "resource_quota": "/api/accounts_mgmt/v1/resource_quota", "role_bindings": "/api/accounts_mgmt/v1/role_bindings",
    "roles": "/api/accounts_mgmt/v1/roles", "skus": "/api/accounts_mgmt/v1/skus",
    "sku_rules": "/api/accounts_mgmt/v1/sku_rules", "addons": "/api/addons_mgmt/v1/addons",
    "clusters": "/api/clusters_mgmt/v1/clusters", "versions": "/api/clusters_mgmt/v1/versions",
}
ITEM_ALIASES = {
    "account": "/api/accounts_mgmt/v1/accounts/%s", "acct": "/api/accounts_mgmt/v1/accounts/%s",
    "subscription": "/api/accounts_mgmt/v1/subscriptions/%s", "sub": "/api/accounts_mgmt/v1/subscriptions/%s",
    "organization": "/api/accounts_mgmt/v1/organizations/%s", "org": "/api/accounts_mgmt/v1/organizations/%s",
    "quota_cost": "/api/accounts_mgmt/v1/organizations/%s/quota_cost",
    "role_binding": "/api/accounts_mgmt/v1/role_bindings/%s", "role": "/api/accounts_mgmt/v1/roles/%s",
    "sku": "/api/accounts_mgmt/v1/skus/%s", "sku_rule": "/api/accounts_mgmt/v1/sku_rules/%s",
    "cluster": "/api/clusters_mgmt/v1/clusters/%s", "addon": "/api/addons_mgmt/v1/addons/%s",
    "version": "/api/clusters_mgmt/v1/versions/%s",
    "limitedsupportreasons": "/api/clusters_mgmt/v1/clusters/%s/limited_support_reasons",
}
CONFIG_KEYS = ["access_token", "client_id", "client_secret", "insecure", "opaque_token", "password",
               "refresh_token", "scopes", "token_url", "url", "user", "pager"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT = 30.0
ACCESS_MIN_REMAINING = 60.0     # the SDK refreshes an access token with less than a minute left


class CommandError(Exception):
    """Printed as ``Error: <message>`` on stderr; exit 1."""


class HttpFailure(Exception):
    def __init__(self, message: str, code: int = 0):
        super().__init__(message)
        self.code = code


# ======================================================================= flags
class Flag:
    def __init__(self, name: str, kind: str, default: Any = None, short: str = "", hidden: bool = False,
                 help: str = ""):
        self.name, self.kind, self.short, self.hidden, self.help = name, kind, short, hidden, help
        self.default = default if default is not None else ([] if kind in ("array", "slice") else
                                                            False if kind == "bool" else "")


GLOBAL_FLAGS = [Flag("debug", "bool", help="Enable debug mode."),
                Flag("opaque-token", "bool", help="Treat the access token as opaque (non-JWT)."),
                Flag("help", "bool", short="h", help="help")]


def parse_flags(argv: list[str], flags: list[Flag]) -> tuple[dict, set, list[str]]:
    """pflag-style parsing: ``--name=v``, ``--name v``, ``-p v``, ``-pv``, ``-p=v``, ``--`` and interspersed args."""
    by_name = {f.name: f for f in flags + GLOBAL_FLAGS}
    by_short = {f.short: f for f in flags + GLOBAL_FLAGS if f.short}
    values = {f.name: (list(f.default) if isinstance(f.default, list) else f.default) for f in by_name.values()}
    changed: set[str] = set()

    def setv(f: Flag, raw: str | None, shown: str) -> None:
        if f.kind == "bool":
            if raw is None:
                values[f.name] = True
            elif raw.lower() in ("1", "t", "true"):
                values[f.name] = True
            elif raw.lower() in ("0", "f", "false"):
                values[f.name] = False
            else:
                raise CommandError(f'invalid argument "{raw}" for "{shown}" flag: strconv.ParseBool: parsing '
                                   f'"{raw}": invalid syntax')
        elif f.kind == "string":
            values[f.name] = raw
        elif f.kind == "array":
            if f.name not in changed:
                values[f.name] = []
            values[f.name].append(raw)
        else:  # slice: comma separated, repeatable
            if f.name not in changed:
                values[f.name] = []
            values[f.name].extend(p for p in (raw or "").split(",") if p != "")
        changed.add(f.name)

    walk = cli.ArgWalk(argv, CommandError)
    for a in walk.flags():
        if a.startswith("--"):
            name, eq, raw = a[2:].partition("=")
            f = by_name.get(name)
            if f is None:
                raise CommandError(f"unknown flag: --{name}")
            if not eq and f.kind != "bool":
                raw = walk.value(f"--{name}")
            setv(f, raw if eq or f.kind != "bool" else None, f"--{name}")
        else:
            s, rest = a[1], a[2:]
            f = by_short.get(s)
            if f is None:
                raise CommandError(f"unknown shorthand flag: '{s}' in {a}")
            if f.kind == "bool":
                setv(f, rest[1:] if rest.startswith("=") else None, f"-{s}")
                if rest and not rest.startswith("="):
                    raise CommandError(f"unknown shorthand flag: '{rest[0]}' in {a}")
            else:
                if rest.startswith("="):
                    rest = rest[1:]
                elif not rest:
                    rest = walk.value(f"'{s}' in -{s}")
                setv(f, rest, f"-{s}")
    return values, changed, walk.args


# ======================================================================== JWTs
def _b64decode_url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_token(text: str) -> dict:
    """The claims of a JWT (unverified), or CommandError with golang-jwt's message (never the token)."""
    parts = text.split(".")
    if len(parts) != 3:
        raise CommandError("token contains an invalid number of segments")
    try:
        json.loads(_b64decode_url(parts[0]))
        claims = json.loads(_b64decode_url(parts[1]))
    except (ValueError, TypeError) as exc:
        raise CommandError(f"token is malformed: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise CommandError("token is malformed: claims are not a JSON object")
    return claims


# the messages of login_tokens (the token cannot be parsed, its 'typ' is not a string, an unknown 'typ')
LOGIN_TOKEN_ERRORS = ("Can't parse token: {}",
                      "Can't extract type from 'typ' claim of token: expected string 'typ' but got {}",
                      "Don't know how to handle token type '{}' in the token")


def login_tokens(token: str, errors: tuple[str, str, str]) -> tuple[str, str]:
    """(access token, refresh token) of the token given to a login: an encrypted, refresh or offline token
    is a refresh token, a bearer one an access token; else CommandError with one of ``errors``."""
    if is_encrypted_token(token):
        return "", token
    try:
        claims = parse_token(token)
    except CommandError as exc:
        raise CommandError(errors[0].format(exc)) from None
    typ = claims.get("typ", "")
    if not isinstance(typ, str):
        raise CommandError(errors[1].format(type(typ).__name__))
    if typ in ("Bearer", ""):
        return token, ""
    if typ in ("Refresh", "Offline"):
        return "", token
    raise CommandError(errors[2].format(typ))


def is_encrypted_token(text: str) -> bool:
    parts = text.split(".")
    if len(parts) != 5:
        return False
    try:
        header = json.loads(_b64decode_url(parts[0]))
    except (ValueError, TypeError):
        return False
    return isinstance(header, dict) and bool(header.get("enc")) and header.get("cty") == "JWT"


def token_remaining(text: str) -> float | None:
    """Seconds left before ``exp``; None when the token does not expire."""
    exp = parse_token(text).get("exp")
    if exp in (None, 0):
        return None
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise CommandError(f"expected floating point 'exp' but got {type(exp).__name__}")
    return float(exp) - time.time()


def token_usable(text: str, margin: float) -> bool:
    left = token_remaining(text)
    return left is None or left >= margin


# ====================================================================== config
def config_location() -> str:
    env = os.environ.get("OCM_CONFIG")
    if env:
        return env
    home = os.path.expanduser("~")
    legacy = os.path.join(home, ".ocm.json")
    if os.path.exists(legacy):
        return legacy
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(xdg, "ocm", "ocm.json")


def _no_keyring() -> None:
    keyring = os.environ.get("OCM_KEYRING")
    if keyring:
        raise CommandError(f"can't load config from OS keyring [{keyring}]: OS keyrings are not simulated; "
                           "unset OCM_KEYRING and use the config file")


def load_config() -> dict:
    """The config; ``{}`` when the file does not exist or is empty (as ocm-cli 1.x)."""
    _no_keyring()
    path = config_location()
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = fh.read()
    except OSError as exc:
        raise CommandError(f"can't read config file '{path}': {exc.strerror}") from None
    if not data.strip():
        return {}
    try:
        cfg = json.loads(data)
    except ValueError as exc:
        raise CommandError(f"can't parse config file '{path}': {exc}") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise CommandError(f"can't parse config file '{path}': json: cannot unmarshal "
                           f"{type(cfg).__name__} into Go value of type config.Config")
    return {k: cfg[k] for k in CONFIG_KEYS if k in cfg}


def save_config(cfg: dict) -> None:
    _no_keyring()
    path = os.path.realpath(config_location())
    out = {}
    for k in CONFIG_KEYS:
        v = cfg.get(k)
        if v in (None, "", False, []):
            continue
        out[k] = v
    data = json.dumps(out, indent=2, ensure_ascii=False)
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o600
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise CommandError(f"can't write file '{path}': {exc.strerror}") from None


def armed(cfg: dict) -> tuple[bool, str]:
    """ocm-cli's ``Config.Armed``: URLs present and credentials or a usable token."""
    have_url, have_token_url = bool(cfg.get("url")), bool(cfg.get("token_url"))
    have_creds = bool(cfg.get("user") and cfg.get("password")) or bool(cfg.get("client_id") and
                                                                        cfg.get("client_secret"))
    access, refresh = cfg.get("access_token") or "", cfg.get("refresh_token") or ""
    access_ok = bool(access) and token_usable(access, 5)
    refresh_ok = bool(refresh) and (is_encrypted_token(refresh) or token_usable(refresh, 10))
    if have_url and have_token_url and (have_creds or access_ok or refresh_ok):
        return True, ""
    if access and not refresh and not access_ok:
        return False, "access token is expired"
    if not access and refresh and not refresh_ok:
        return False, "refresh token is expired"
    if access and not access_ok and refresh and not refresh_ok:
        return False, "access and refresh tokens are expired"
    if not have_creds:
        return False, "credentials aren't set"
    if not have_url and have_token_url:
        return False, "server URL isn't set"
    if have_url and not have_token_url:
        return False, "token URL isn't set"
    return False, "server and token URLs aren't set"


# ======================================================================== HTTP
def _check_loopback(method: str, url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpFailure(f'{method} "{url}": unsupported protocol scheme "{parts.scheme}"')
    if parts.hostname not in LOOPBACK:
        raise HttpFailure(f'{method} "{url}": dial tcp: lookup {parts.hostname}: the simulated world does not '
                          "reach real services (the stand-in ocm only talks to 127.0.0.1)")


def _http(method: str, url: str, headers: dict, body: bytes | None = None) -> tuple[int, dict, bytes]:
    _check_loopback(method.capitalize() if method != "GET" else "Get", url)
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=TIMEOUT) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, dict(exc.headers.items()) if exc.headers else {}, exc.read()
        finally:
            exc.close()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        what = "Get" if method == "GET" else method.capitalize()
        raise HttpFailure(f'{what} "{url}": {reason}') from None


class Connection:
    """The SDK's token handling: access token while usable, else refresh grant (client credentials /
    password grants when the config has them)."""

    def __init__(self, cfg: dict, api_url: str):
        self.cfg = cfg
        self.api_url = api_url.rstrip("/")
        self.token_url = cfg.get("token_url") or DEFAULT_TOKEN_URL
        self.client_id = cfg.get("client_id") or DEFAULT_CLIENT_ID
        self.client_secret = cfg.get("client_secret") or ""
        self.scopes = cfg.get("scopes") or DEFAULT_SCOPES
        self.access = cfg.get("access_token") or ""
        self.refresh = cfg.get("refresh_token") or ""

    def tokens(self, min_remaining: float = ACCESS_MIN_REMAINING) -> tuple[str, str]:
        if self.access:
            left = token_remaining(self.access)
            if left is None or left >= min_remaining:
                return self.access, self.refresh
        if self.client_id and self.client_secret:
            self._send_form({"grant_type": "client_credentials", "client_id": self.client_id,
                             "scope": " ".join(self.scopes)},
                            {"Authorization": "Basic " + base64.b64encode(
                                f"{self.client_id}:{self.client_secret}".encode()).decode()})
            return self.access, self.refresh
        if self.refresh:
            left = None if is_encrypted_token(self.refresh) else token_remaining(self.refresh)
            if left is None or left > 0:
                self._send_form({"grant_type": "refresh_token", "client_id": self.client_id,
                                 "refresh_token": self.refresh})
                return self.access, self.refresh
        if self.cfg.get("user") and self.cfg.get("password"):
            self._send_form({"grant_type": "password", "client_id": self.client_id, "username": self.cfg["user"],
                             "password": self.cfg["password"], "scope": " ".join(self.scopes)})
            return self.access, self.refresh
        if self.access and (token_remaining(self.access) or 0) > 0:
            return self.access, self.refresh
        raise HttpFailure("access and refresh tokens are unavailable or expired, and there are no password or "
                          "client secret to request new ones")

    def _send_form(self, form: dict, extra: dict | None = None) -> None:
        body = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                   "User-Agent": USER_AGENT, **(extra or {})}
        delay, last = 0.25, None
        for attempt in range(4):     # the SDK retries 5xx answers with a back-off
            try:
                code, rheaders, data = _http("POST", self.token_url, headers, body)
            except HttpFailure as exc:
                raise HttpFailure(f"can't send request: {exc}") from None
            if code < 500:
                break
            last = code
            if attempt < 3:
                time.sleep(delay)
                delay *= 2
        else:
            raise HttpFailure(f"token response status code is '{last}'", last or 0)
        ctype = {k.lower(): v for k, v in rheaders.items()}.get("content-type", "")
        if "json" not in ctype.lower():
            raise HttpFailure(f"expected JSON content type but received '{ctype}'", code)
        try:
            result = json.loads(data)
        except ValueError as exc:
            raise HttpFailure(f"can't parse JSON response: {exc}", code) from None
        if not isinstance(result, dict):
            raise HttpFailure("can't parse JSON response", code)
        if result.get("error"):
            desc = result.get("error_description")
            raise HttpFailure(f"{result['error']}: {desc}" if desc else str(result["error"]), code)
        if code != 200:
            raise HttpFailure(f"token response status code is '{code}'", code)
        if result.get("token_type") and str(result["token_type"]).lower() != "bearer":
            raise HttpFailure(f"expected 'bearer' token type but got '{result['token_type']}'", code)
        access = result.get("access_token")
        if not access:
            raise HttpFailure("no access token was received", code)
        try:
            parse_token(access)
        except CommandError as exc:
            raise HttpFailure(str(exc), code) from None
        self.access = access
        if result.get("refresh_token"):
            self.refresh = result["refresh_token"]

    def get(self, path: str, params: list[tuple[str, str]], headers: list[tuple[str, str]]) -> tuple[int, bytes]:
        query = urllib.parse.urlencode(sorted(params, key=lambda kv: kv[0]))   # like Go's url.Values.Encode
        url = self.api_url + path + (("?" + query) if query else "")
        _check_loopback("Get", url)
        try:
            access, _ = self.tokens()
        except (HttpFailure, CommandError) as exc:
            raise HttpFailure(f'Get "{url}": can\'t get access token: {exc}') from None
        h = {"Accept": "application/json", "User-Agent": USER_AGENT}
        for k, v in headers:
            h[k] = v
        h["Authorization"] = f"Bearer {access}"
        code, _, body = _http("GET", url, h)
        return code, body


# ====================================================================== output
def _go_json(obj: Any, single: bool) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) if single else \
        json.dumps(obj, ensure_ascii=False, indent=2)
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text + "\n"


def dump(stream, body: bytes, single: bool) -> None:
    if not body:
        return
    try:
        obj = json.loads(body)
    except ValueError:
        stream.write(body.decode("utf-8", "replace") + "\n")
        return
    stream.write(_go_json(obj, single))
    stream.flush()


# ==================================================================== commands
GET_FLAGS = [
    Flag("parameter", "array", short="p", help="Query parameters to add to the request. The value must be the name "
         "of the parameter, followed by an optional equals sign and then the value of the parameter. Can be used "
         "multiple times."),
    Flag("header", "array", help="Headers to add to the request (name=value). Can be used multiple times."),
    Flag("single", "bool", help="Return the output as a single line."),
]
LOGIN_FLAGS = [
    Flag("token-url", "string", help=f"OpenID token URL. The default value is '{DEFAULT_TOKEN_URL}'."),
    Flag("client-id", "string", help=f"OpenID client identifier. The default value is '{DEFAULT_CLIENT_ID}'."),
    Flag("client-secret", "string", help="OpenID client secret."),
    Flag("scope", "slice", default=list(DEFAULT_SCOPES), help="OpenID scope (repeatable)."),
    Flag("url", "string", help="URL of the OCM API gateway, or an alias: " + ", ".join(URL_ALIASES)),
    Flag("rh-region", "string", hidden=True),
    Flag("token", "string", help="Access or refresh token."),
    Flag("user", "string", help="User name."),
    Flag("password", "string", help="User password."),
    Flag("insecure", "bool", help="Enables insecure communication with the server."),
    Flag("persistent", "bool", help="Store the user name and password persistently."),
    Flag("use-auth-code", "bool", help="Login using OAuth Authorization Code."),
    Flag("use-device-code", "bool", help="Login using OAuth Device Code."),
]


def _name_value(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    return name.strip(), value if eq else ""


def expand_path(args: list[str]) -> str:
    if len(args) < 1 or len(args) > 2:
        raise CommandError(f"Could not create URI: Expected 1 (for Lists) or 2 (for a specific resource) but "
                           f"got {len(args)}")
    if args[0] in LIST_ALIASES:
        return LIST_ALIASES[args[0]]
    if args[0] in ITEM_ALIASES:
        if len(args) != 2:
            raise CommandError("Could not create URI: Resource requires an ID, but got none")
        return ITEM_ALIASES[args[0]] % args[1]
    return args[0]


def _connection(cfg: dict, url_override: str = "") -> Connection:
    if cfg.get("opaque_token") or os.environ.get("OCM_OPAQUE_TOKEN", "").lower() in ("1", "true"):
        raise CommandError("opaque tokens are not supported by the simulated OCM")
    ok, reason = armed(cfg)
    if not ok:
        raise CommandError(f"Not logged in, {reason}, run the 'login' command")
    return Connection(cfg, url_override or cfg.get("url") or DEFAULT_URL)


def cmd_get(values: dict, args: list[str]) -> int:
    path = expand_path(args)
    cfg = load_config()
    conn = _connection(cfg, os.environ.get("OCM_URL", ""))
    parsed = urllib.parse.urlsplit(path)
    params = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    params += [_name_value(p) for p in values["parameter"]]
    headers = [_name_value(h) for h in values["header"]]
    try:
        status, body = conn.get(parsed.path, params, headers)
    except HttpFailure as exc:
        raise CommandError(f"Can't send request: {exc}") from None
    dump(sys.stdout if status < 400 else sys.stderr, body, values["single"])
    try:
        cfg["access_token"], cfg["refresh_token"] = conn.tokens()
    except (HttpFailure, CommandError) as exc:
        raise CommandError(f"Can't get tokens: {exc}") from None
    try:
        save_config(cfg)
    except CommandError as exc:
        raise CommandError(f"Can't save config file: {exc}") from None
    return 1 if status >= 400 else 0


def _world_ocm(world_path: str | None) -> tuple[str, str]:
    path = os.environ.get("OCM_SIM_WORLD") or world_path
    if not path:
        return "", ""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return str(data.get("ocm_url") or ""), str(data.get("ocm_token_url") or "")
    except (OSError, ValueError, AttributeError):
        return "", ""


def cmd_login(values: dict, args: list[str], world_path: str | None) -> int:
    if args:
        raise CommandError(f'unknown command "{args[0]}" for "ocm login"')
    if os.environ.get("OCM_OPAQUE_TOKEN", "").lower() in ("1", "true"):
        raise CommandError("The '--opaque-token' flag and 'OCM_OPAQUE_TOKEN' environment variable are not used "
                           "with the login command.")
    if values["use-auth-code"] or values["use-device-code"]:
        raise CommandError("an error occurred while retrieving the token : no browser or device flow in the "
                           "simulated world; use '--token'")
    token = values["token"]
    have_password = bool(values["user"] and values["password"])
    have_client = bool(values["client-id"] and values["client-secret"])
    if not (have_password or have_client or token):
        sys.stderr.write("In order to log in it is mandatory to use '--token', '--user' and '--password', or "
                         "'--client-id' and '--client-secret'.\n"
                         f"You can obtain a token at: {OFFLINE_TOKEN_PAGE} .\n"
                         "See 'ocm login --help' for full help.\n")
        return 1
    if have_password:
        sys.stderr.write("Authenticating with a user name and password is deprecated. To avoid this warning go "
                         f"to '{OFFLINE_TOKEN_PAGE}' to obtain your offline access token and then login using the "
                         "'--token' option.\n")
    try:
        cfg = load_config()
    except CommandError as exc:
        raise CommandError(f"Can't load config: {exc}") from None
    cfg = dict(cfg or {})
    if token:
        cfg["access_token"], cfg["refresh_token"] = login_tokens(token, LOGIN_TOKEN_ERRORS)
    world_url, world_token_url = _world_ocm(world_path)
    token_url = values["token-url"] or world_token_url or DEFAULT_TOKEN_URL
    client_id = values["client-id"] or DEFAULT_CLIENT_ID
    flag_url = values["url"]
    if flag_url:
        gateway, source = URL_ALIASES.get(flag_url, flag_url), "flag"
    elif cfg.get("url"):
        gateway, source = cfg["url"], "config"
    else:
        gateway, source = world_url or DEFAULT_URL, "default"
    parts = urllib.parse.urlsplit(gateway)
    if not (parts.scheme and parts.netloc) and not gateway.startswith("/"):
        raise CommandError(f'parse "{gateway}": invalid URI for request\n\nURL Source: {source}\nExpected an '
                           f"absolute URI/path (e.g. {DEFAULT_URL}) or a case-sensitive alias, one of: "
                           f"[{', '.join(URL_ALIASES)}]")
    if values["rh-region"]:
        raise CommandError("Can't find region: regions are not simulated")
    if os.environ.get("OCM_URL"):
        sys.stderr.write("WARNING: the `OCM_URL` environment variable is set, but is not used for the login "
                         "command. The `ocm login` command will only use the explicitly set flag's url, which is "
                         f"set as {gateway}\n")
    cfg.update({"token_url": token_url, "client_id": client_id, "client_secret": values["client-secret"],
                "scopes": values["scope"], "url": gateway, "user": values["user"], "password": values["password"],
                "insecure": values["insecure"]})
    try:
        conn = _connection(cfg)
    except CommandError as exc:
        raise CommandError(f"Can't create connection: {exc}") from None
    try:
        cfg["access_token"], cfg["refresh_token"] = conn.tokens()
    except (HttpFailure, CommandError) as exc:
        raise CommandError(f"Can't get token: {exc}") from None
    if not values["persistent"]:
        cfg["user"] = cfg["password"] = ""
    try:
        save_config(cfg)
    except CommandError as exc:
        raise CommandError(f"can't save config: {exc}") from None
    return 0


def cmd_logout(values: dict, args: list[str]) -> int:
    if args:
        raise CommandError(f'unknown command "{args[0]}" for "ocm logout"')
    try:
        cfg = dict(load_config() or {})
    except CommandError as exc:
        raise CommandError(f"can't load configuration file: {exc}") from None
    for k in ("access_token", "client_id", "client_secret", "insecure", "opaque_token", "password", "refresh_token",
              "scopes", "token_url", "url", "user"):
        cfg.pop(k, None)
    try:
        save_config(cfg)
    except CommandError as exc:
        raise CommandError(f"can't save configuration file: {exc}") from None
    return 0


COMMANDS = {
    "get": ("Send a GET request", GET_FLAGS),
    "login": ("Log in", LOGIN_FLAGS),
    "logout": ("Log out", []),
    "version": ("Prints the version", []),
}


def _usage(cmd: str | None = None) -> str:
    if cmd is None:
        lines = ["Command line tool for api.openshift.com (stand-in of the simulated world).", "", "Usage:",
                 "  ocm [command]", "", "Available Commands:"]
        lines += [f"  {name:<10} {desc}" for name, (desc, _) in COMMANDS.items()]
        lines += ["", "Flags:", "      --debug   Enable debug mode.", "  -h, --help    help for ocm", "",
                  'Use "ocm [command] --help" for more information about a command.']
        return "\n".join(lines) + "\n"
    desc, flags = COMMANDS[cmd]
    use = {"get": "ocm get RESOURCE [ID] [flags]", "login": "ocm login [flags]"}.get(cmd, f"ocm {cmd} [flags]")
    lines = [desc, "", "Usage:", f"  {use}", "", "Flags:"]
    for f in flags:
        if f.hidden:
            continue
        short = f"-{f.short}, " if f.short else "    "
        kind = {"string": " string", "array": " stringArray", "slice": " strings"}.get(f.kind, "")
        lines.append(f"  {short}--{f.name}{kind}   {f.help}")
    lines.append(f"  -h, --help   help for {cmd}")
    return "\n".join(lines) + "\n"


def run(argv: list[str], world_path: str | None = None) -> int:
    # the command is the first argument that is not a (global) flag
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        i += 1
    if i >= len(argv) or argv[i] == "--":
        parse_flags(argv, [])
        sys.stdout.write(_usage())
        return 0
    cmd = argv[i]
    if cmd == "help":
        rest = argv[i + 1:]
        sys.stdout.write(_usage(rest[0] if rest and rest[0] in COMMANDS else None))
        return 0
    if cmd not in COMMANDS:
        raise CommandError(f'unknown command "{cmd}" for "ocm"')
    values, _, args = parse_flags(argv[:i] + argv[i + 1:], COMMANDS[cmd][1])
    if values["help"]:
        sys.stdout.write(_usage(cmd))
        return 0
    if cmd == "version":
        if args:
            raise CommandError(f'unknown command "{args[0]}" for "ocm version"')
        sys.stdout.write(VERSION + "\n")
        return 0
    if cmd == "get":
        return cmd_get(values, args)
    if cmd == "login":
        return cmd_login(values, args, world_path)
    return cmd_logout(values, args)


def _command_failed(exc: CommandError) -> int:
    sys.stderr.write(f"Error: {exc}\n")
    return 1


def main(argv: list[str] | None = None, world_path: str | None = None) -> int:
    return cli.run_main(lambda: run(list(sys.argv[1:] if argv is None else argv), world_path),
                        {CommandError: _command_failed})


if __name__ == "__main__":
    sys.exit(main())
