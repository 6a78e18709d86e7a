"""Acquiring the CLI binaries a run drives: ``hypershift``, ``ocm``, ``kube-burner-ocp`` and ``rosa``.

Each binary comes from exactly one place, chosen by the caller:

* an **explicit** path: checked (it exists, is executable, runs) and used where it is, never copied;
* for ``ocm``, a **GitHub release** of ``openshift-online/ocm-cli``: the bare ``ocm-<os>-<arch>`` asset,
  verified against the release's ``<asset>.sha256`` file and the API's ``digest`` when they exist;
* for ``kube-burner-ocp``, a **GitHub release** of ``kube-burner/kube-burner-ocp``: the GoReleaser archive
  ``kube-burner-ocp-<tag>-<os>-<arch>.tar.gz``, chosen by pattern (the tag is title-cased, ``V1.12.1``, and
  ``amd64`` is spelled ``x86_64``), verified against ``kube-burner-ocp-checksums.txt`` and ``digest`` when
  they exist; only the ``kube-burner-ocp`` regular file is taken out of it, never unpacked to disk;
* for ``rosa``, a **GitHub release** of ``openshift/rosa``: the ``rosa_<os>_<arch>.tar.gz`` archive, chosen by
  pattern because the names changed in August 2026 (GoReleaser up to v1.2.64: ``rosa_Linux_x86_64.tar.gz``; the
  Konflux flow after it: ``rosa_linux_amd64.tar.gz`` beside a ``.zip``, which is never used), verified against the
  checksum manifest (``rosa_<version>_SHA256SUMS``, or GoReleaser's ``rosa_<version>_checksums.txt`` or
  ``checksums.txt``) and ``digest`` when they exist; only the ``rosa`` regular file is taken out of it;
* for ``hypershift`` (it has no release assets), an **operator image** (``oc image extract`` of
  ``/usr/bin/hypershift``) or a **source build** (``git fetch`` of a branch, tag or commit, then
  ``make hypershift`` → ``bin/hypershift``).

Downloaded and built binaries are kept in a cache shared by runs::

    <cache_root()>/
        ocm.lock                      file lock: one process at a time looks up or fetches ocm
        ocm/<tag>/ocm                 e.g. ocm/v1.0.15/ocm (0755)
        ocm/<tag>/record.json         {"name", "key", "sha256", "version", "source", "detail", "installed_at"}
        kube-burner-ocp.lock
        kube-burner-ocp/<tag>/kube-burner-ocp     e.g. kube-burner-ocp/v1.12.1/kube-burner-ocp (0755)
        kube-burner-ocp/<tag>/record.json         sha256 of the binary; the archive's is in detail
        rosa.lock
        rosa/<tag>/rosa               e.g. rosa/v1.2.65/rosa (0755)
        rosa/<tag>/record.json        sha256 of the binary; the archive's is in detail
        hypershift.lock
        hypershift/<commit-sha>/hypershift        built from source at that commit
        hypershift/image-<sha256(image ref)>/hypershift   extracted from that image
        hypershift/<key>/record.json

A cached binary is used again only if its sha256 still matches its ``record.json`` and it still
runs; otherwise it is replaced.  Files are written to a temporary name in the same folder, fsynced
and renamed into place, so a reader never sees half a binary.  The lock makes concurrent pytest-xdist
workers (separate processes) download or build once: the second waits, then finds the cache.

``acquire_once`` adds the per-run layer: the first process records the ``Tool`` it got in a JSON file
in the run directory, and every other process of the run reads that record instead of acquiring again.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import gzip
import hashlib
import json
import os
import platform as _platform
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence
from urllib.parse import urlsplit

import requests
from filelock import FileLock, Timeout as LockTimeout

from . import process

CACHE_ENV = "HCP_SCALE_CACHE_DIR"
TOKEN_ENV = "GITHUB_TOKEN"

HTTP_ATTEMPTS = 4            # tries per HTTP request (connection errors and 5xx are retried)
RETRY_DELAY = 1.0            # seconds before the 2nd try; doubled per try, capped at RETRY_DELAY_MAX
RETRY_DELAY_MAX = 8.0
MAX_ASSET_BYTES = 1 << 30    # refuse a download larger than this
MAX_CHECKSUM_BYTES = 1 << 16
VERSION_TIMEOUT = 60.0       # seconds for `<tool> version`
TAIL_LINES = 15              # log lines quoted in an error message
TAGS_SHOWN = 10              # available tags listed when a version does not exist
LIST_PER_PAGE = 100
MAX_ARCHIVE_MEMBERS = 10000  # refuse a tar archive with more entries than this
# How each CLI is asked for its own version (default: ``<cli> version``).  ``rosa version`` without
# ``--client`` also asks mirror.openshift.com for the newest release and fails offline; ``--client``
# exists since rosa v1.2.36.
VERSION_ARGS = {"hypershift": ("version", "--client-only"), "rosa": ("version", "--client")}

ARCH_ALIASES = {"x86_64": "amd64", "amd64": "amd64", "x64": "amd64",
                "aarch64": "arm64", "arm64": "arm64",
                "ppc64le": "ppc64le", "s390x": "s390x"}
SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class AcquireError(Exception):
    """A binary could not be acquired or verified; the message is one sentence (plus a log tail)."""


@dataclass
class Tool:
    name: str            # "hypershift" | "ocm" | "kube-burner-ocp" | "rosa"
    path: str            # absolute path of the executable to run
    version: str         # as reported by the binary itself
    sha256: str
    source: str          # "explicit" | "cache" | "download" | "build" | "image"
    detail: dict = field(default_factory=dict)   # {"url", "tag", "commit", "image", ...}

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Tool":
        return cls(name=data["name"], path=data["path"], version=data["version"], sha256=data["sha256"],
                   source=data["source"], detail=dict(data.get("detail") or {}))


# ------------------------------------------------------------------ small helpers
def cache_root() -> Path:
    """``$HCP_SCALE_CACHE_DIR``, else ``$XDG_CACHE_HOME/hcp-scale``, else ``~/.cache/hcp-scale``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "hcp-scale"
    return Path.home() / ".cache" / "hcp-scale"


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def normalize_arch(machine: str | None = None) -> str:
    machine = (machine or _platform.machine()).lower()
    return ARCH_ALIASES.get(machine, machine)


def normalize_tag(version: str) -> str:
    """``1.0.15`` and ``v1.0.15`` both become the release tag ``v1.0.15``."""
    text = version.strip()
    if text[:1] in ("v", "V") and text[1:2].isdigit():
        text = text[1:]
    tag = "v" + text
    if not SAFE_KEY.match(tag):
        raise AcquireError(f"{version!r} is not a valid release version (expected something like 1.0.15)")
    return tag


def version_key(tag: str) -> tuple:
    """A sort key for release tags: ``1.2.10`` > ``1.2.9``, and ``1.3.0-rc1`` < ``1.3.0``.

    Numeric components compare as numbers; a pre-release (anything after ``-``) sorts before the
    final release with the same numbers, and its parts compare number-wise (``rc2`` < ``rc10``).
    Build metadata (``+…``) is ignored.  Tags that do not start with a number sort lowest.
    """
    text = tag.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    text = text.split("+", 1)[0]
    core, _, pre = text.partition("-")
    parts = core.split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return (0, (), 0, (), tag)
    numbers = [int(p) for p in parts]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    pre_key = []
    for piece in re.findall(r"\d+|[A-Za-z]+", pre):
        pre_key.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece.lower()))
    return (1, tuple(numbers), 0 if pre else 1, tuple(pre_key), tag)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _log(log_path: Path, line: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {line}\n")


def _tail(log_path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _fail(message: str, log_path: Path) -> AcquireError:
    """An AcquireError whose message ends with the last lines of the log."""
    tail = _tail(log_path)
    return AcquireError(f"{message}; last lines of {log_path}:\n{tail}" if tail else f"{message} (see {log_path})")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _unlink(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _lock(cache: Path, name: str, wait: float) -> FileLock:
    cache.mkdir(parents=True, exist_ok=True)
    return FileLock(str(cache / f"{name}.lock"), timeout=wait)


# ------------------------------------------------------------------ running the binaries
def _capture(argv: Sequence[str], log_path: Path, timeout: float, *, cwd: str | None = None,
             env: dict | None = None, secrets: Sequence[str] = ()) -> tuple[int | None, str, str]:
    """Run ``argv``, return (exit code or None on timeout, stdout, stderr); both are appended to the log."""
    argv = [str(a) for a in argv]
    _log(log_path, "$ " + process.render(argv, secrets))
    proc = None
    for attempt in range(5):       # a just-written executable can briefly be "text file busy"
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=cwd, env=env, start_new_session=True)
            break
        except OSError as exc:
            if exc.errno != errno.ETXTBSY or attempt == 4:
                with open(log_path, "a", encoding="utf-8") as fh:
                    fh.write(f"cannot execute: {exc}\n")
                raise
            time.sleep(0.05 * (attempt + 1))
    assert proc is not None
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        code = None
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(process.redact(stdout, secrets))
        fh.write(process.redact(stderr, secrets))
        if stdout + stderr and not (stdout + stderr).endswith("\n"):
            fh.write("\n")
        fh.write(f"# exit {'timeout' if code is None else code}\n")
    return code, stdout, stderr


def _report_version(name: str, path: str, log_path: Path) -> str:
    """The version ``path`` reports about itself; AcquireError if it does not run."""
    argv = [path, *VERSION_ARGS.get(name, ("version",))]
    try:
        code, stdout, _ = _capture(argv, log_path, VERSION_TIMEOUT)
    except OSError as exc:
        raise AcquireError(f"{name} binary {path} does not run: {exc.strerror or exc}") from None
    shown = " ".join(argv[1:])
    if code is None:
        raise _fail(f"{name} binary {path} did not answer '{shown}' within {VERSION_TIMEOUT:.0f}s", log_path)
    if code != 0:
        raise _fail(f"{name} binary {path} does not run: '{shown}' exited {code}", log_path)
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    prefix = {"hypershift": "Client Version:", "kube-burner-ocp": "Version:"}.get(name)
    if prefix:
        for line in lines:
            if line.startswith(prefix) and line.split(":", 1)[1].strip():
                return line.split(":", 1)[1].strip()
    if name == "kube-burner-ocp":
        raise _fail(f"{name} binary {path} printed no 'Version:' line for '{shown}'", log_path)
    if not lines:
        raise _fail(f"{name} binary {path} printed no version for '{shown}'", log_path)
    if name == "rosa":      # rosa reports it as "INFO: 1.2.65" ("I: " and colours on a terminal)
        return re.sub(r"^(?:\x1b\[[0-9;]*m)*(?:INFO|I):(?:\x1b\[[0-9;]*m)*\s*", "", lines[0]) or lines[0]
    return lines[0]


def _explicit(name: str, explicit: str, log_path: Path) -> Tool:
    candidate = os.path.expanduser(explicit)
    if os.sep not in candidate and not os.path.exists(candidate):
        candidate = shutil.which(candidate) or candidate      # a bare name: look it up on PATH
    path = os.path.abspath(candidate)
    if not os.path.isfile(path):
        raise AcquireError(f"{name} binary {explicit} does not exist")
    if not os.access(path, os.X_OK):
        raise AcquireError(f"{name} binary {path} is not executable")
    version = _report_version(name, path, log_path)
    return Tool(name=name, path=path, version=version, sha256=file_sha256(path), source="explicit", detail={})


# ------------------------------------------------------------------ the cache
class _Entry:
    """One cache slot: ``<cache>/<name>/<key>/<name>`` plus its ``record.json``."""

    def __init__(self, cache: Path, name: str, key: str):
        if not SAFE_KEY.match(key):
            raise AcquireError(f"{key!r} cannot be used as a cache key for {name}")
        self.name = name
        self.key = key
        self.dir = cache / name / key
        self.binary = self.dir / name
        self.record = self.dir / "record.json"

    def lookup(self, log_path: Path) -> Tool | None:
        """The cached Tool if it is intact and runs; a damaged entry is removed and None returned."""
        if not self.binary.exists() and not self.record.exists():
            return None
        problem = None
        try:
            record = json.loads(self.record.read_text())
            if not self.binary.is_file():
                problem = "the binary is missing"
            elif file_sha256(self.binary) != record.get("sha256"):
                problem = "its sha256 does not match record.json"
        except (OSError, ValueError) as exc:
            problem = f"record.json is unreadable ({exc.__class__.__name__})"
        if problem is None:
            try:
                version = _report_version(self.name, str(self.binary), log_path)
            except AcquireError as exc:
                problem = str(exc).split(";", 1)[0]
        if problem:
            _log(log_path, f"cached {self.name} {self.key} is damaged ({problem}); replacing it")
            _unlink(self.binary)
            _unlink(self.record)
            return None
        detail = dict(record.get("detail") or {})
        detail.setdefault("installed_from", record.get("source"))
        detail.setdefault("installed_at", record.get("installed_at"))
        _log(log_path, f"using cached {self.name} {self.key}: {self.binary}")
        return Tool(name=self.name, path=str(self.binary), version=version, sha256=record["sha256"],
                    source="cache", detail=detail)

    def staging_file(self) -> tuple[int, str]:
        self.dir.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp", dir=self.dir)

    def install(self, staged: str, sha256: str, source: str, detail: dict, log_path: Path) -> Tool:
        """Check that the staged file runs, then move it and its record into place."""
        os.chmod(staged, 0o755)
        version = _report_version(self.name, staged, log_path)
        os.replace(staged, self.binary)
        _fsync_dir(self.dir)
        _write_json_atomic(self.record, {"name": self.name, "key": self.key, "sha256": sha256, "version": version,
                                         "source": source, "detail": detail, "installed_at": _now()})
        _log(log_path, f"installed {self.name} {self.key} ({source}) as {self.binary}")
        return Tool(name=self.name, path=str(self.binary), version=version, sha256=sha256, source=source,
                    detail=detail)

    def copy_in(self, src: Path) -> tuple[str, str]:
        """Copy ``src`` to a fsynced staging file next to the final path; return (staging path, sha256)."""
        fd, staged = self.staging_file()
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                for block in iter(lambda: inp.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            _unlink(staged)
            raise
        return staged, digest.hexdigest()

    def install_copy(self, src: Path, source: str, detail: dict, log_path: Path) -> Tool:
        """Stage a copy of ``src`` and install it; nothing is left behind if that fails."""
        staged = None
        try:
            staged, digest = self.copy_in(src)
            tool = self.install(staged, digest, source, detail, log_path)
            staged = None
            return tool
        finally:
            self.discard(staged)

    def discard(self, staged: str | None) -> None:
        if staged:
            _unlink(staged)
        try:
            self.dir.rmdir()        # only if empty: never leave an empty slot behind
        except OSError:
            pass


# ------------------------------------------------------------------ GitHub releases: ocm, kube-burner-ocp, rosa
class _GitHub:
    def __init__(self, api: str, repo: str, timeout: float, log_path: Path):
        self.api = api.rstrip("/")
        self.repo = repo
        self.timeout = timeout
        self.log_path = log_path
        self.api_host = urlsplit(self.api).netloc
        self.token = os.environ.get(TOKEN_ENV) or None
        self.session = requests.Session()
        self.session.trust_env = True

    def _headers(self, url: str, accept: str) -> dict:
        headers = {"Accept": accept, "User-Agent": "hcp-scale-acquire", "X-GitHub-Api-Version": "2022-11-28"}
        if self.token and urlsplit(url).netloc == self.api_host:
            headers["Authorization"] = f"Bearer {self.token}"     # only to the API host; never logged
        return headers

    def get(self, url: str, *, accept: str = "application/vnd.github+json", stream: bool = False) -> requests.Response:
        """GET with a bounded retry on connection errors, timeouts and 5xx answers."""
        last = "no attempt"
        for attempt in range(HTTP_ATTEMPTS):
            _log(self.log_path, f"GET {url}" + (f" (try {attempt + 1})" if attempt else ""))
            try:
                resp = self.session.get(url, headers=self._headers(url, accept), timeout=self.timeout,
                                        stream=stream, allow_redirects=True)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc.__class__.__name__
            else:
                if resp.status_code < 500:
                    return resp
                last = f"HTTP {resp.status_code}"
                resp.close()
            _log(self.log_path, f"GET {url} failed: {last}")
            if attempt + 1 < HTTP_ATTEMPTS:
                time.sleep(min(RETRY_DELAY * (2 ** attempt), RETRY_DELAY_MAX))
        raise AcquireError(f"GET {url} failed {HTTP_ATTEMPTS} times (last: {last})")

    def _refused(self, resp: requests.Response, what: str) -> AcquireError:
        try:
            message = str(resp.json().get("message", ""))[:200]
        except ValueError:
            message = resp.text[:200].strip()
        hint = f"; set {TOKEN_ENV} to raise the API rate limit" if resp.status_code in (403, 429) else ""
        return AcquireError(f"GitHub answered HTTP {resp.status_code} for {what}"
                            + (f" ({message})" if message else "") + hint)

    def release(self, tag: str | None) -> dict | None:
        """The release JSON for ``tag`` (None: the latest release); None if there is no such release."""
        path = "releases/latest" if tag is None else f"releases/tags/{tag}"
        url = f"{self.api}/repos/{self.repo}/{path}"
        resp = self.get(url)
        with resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._refused(resp, url)
            try:
                data = resp.json()
            except ValueError:
                raise AcquireError(f"GitHub answered something that is not JSON for {url}") from None
        if not isinstance(data, dict) or not isinstance(data.get("tag_name"), str):
            raise AcquireError(f"GitHub's answer for {url} has no tag_name")
        return data

    def tags(self) -> list[str]:
        """Tags of the published releases, newest first by version (one page of at most 100)."""
        url = f"{self.api}/repos/{self.repo}/releases?per_page={LIST_PER_PAGE}"
        resp = self.get(url)
        with resp:
            if resp.status_code != 200:
                raise self._refused(resp, url)
            data = resp.json()
        tags = [r["tag_name"] for r in data if isinstance(r, dict) and isinstance(r.get("tag_name"), str)
                and not r.get("draft")]
        return sorted(set(tags), key=version_key, reverse=True)

    def download(self, asset: dict, out, limit: int) -> tuple[str, int, str]:
        """Stream an asset to the file object ``out``; return (url, size, sha256 hex)."""
        url = asset.get("browser_download_url") or asset.get("url")
        if not url:
            raise AcquireError(f"asset {asset.get('name')} has no download URL")
        resp = self.get(url, accept="application/octet-stream", stream=True)
        digest = hashlib.sha256()
        size = 0
        with resp:
            if resp.status_code != 200:
                raise self._refused(resp, url)
            try:
                for chunk in resp.iter_content(1 << 16):
                    size += len(chunk)
                    if size > limit:
                        raise AcquireError(f"download of {url} is larger than {limit} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise AcquireError(f"download of {url} broke off after {size} bytes ({exc.__class__.__name__})") \
                    from None
        return url, size, digest.hexdigest()

    def text(self, asset: dict) -> str:
        class _Buf:
            def __init__(self):
                self.data = bytearray()

            def write(self, chunk):
                self.data.extend(chunk)
        buf = _Buf()
        self.download(asset, buf, MAX_CHECKSUM_BYTES)
        return bytes(buf.data).decode(errors="replace")


def _expected_from_sha256_file(text: str, asset_name: str) -> str | None:
    """The hex digest for ``asset_name`` in sha256sum output (``<hex>  <name>`` or ``<hex> *<name>``)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    for fields in lines:
        if len(fields) >= 2 and fields[1].lstrip("*") == asset_name and SHA256_HEX.match(fields[0]):
            return fields[0].lower()
    if len(lines) == 1 and lines[0] and SHA256_HEX.match(lines[0][0]):
        return lines[0][0].lower()
    return None


def acquire_ocm(*, explicit: str | None, version: str | None, cache: Path, log_path: Path,
                github_api: str = "https://api.github.com", repo: str = "openshift-online/ocm-cli",
                os_name: str = "linux", arch: str | None = None, timeout: float = 120) -> Tool:
    """The ``ocm`` CLI: the explicit path, else the cached or downloaded GitHub release ``version``."""
    log_path = Path(log_path)
    if explicit:
        return _explicit("ocm", explicit, log_path)
    asset_name = f"ocm-{os_name}-{normalize_arch(arch)}"
    hub = _GitHub(github_api, repo, timeout, log_path)

    def fetch(release: dict, tag: str, entry: _Entry) -> Tool:
        assets = _assets(release)
        asset = assets.get(asset_name)
        if asset is None:
            raise AcquireError(f"release {tag} of {repo} has no asset {asset_name} (assets: {_names(assets)})")
        staged = None
        try:
            staged, url, size, actual, checked = _download_verified(hub, asset, assets.get(f"{asset_name}.sha256"),
                                                                    tag, entry, log_path)
            detail = {"url": url, "tag": tag, "repo": repo, "asset": asset_name, "size": size,
                      "verified_with": checked}
            tool = entry.install(staged, actual, "download", detail, log_path)
            staged = None
            return tool
        finally:
            entry.discard(staged)

    return _acquire_release("ocm", version, Path(cache), log_path, hub, fetch)


def acquire_kube_burner(*, explicit: str | None, version: str | None, cache: Path, log_path: Path,
                        github_api: str = "https://api.github.com", repo: str = "kube-burner/kube-burner-ocp",
                        os_name: str = "linux", arch: str | None = None, timeout: float = 300) -> Tool:
    """The ``kube-burner-ocp`` CLI: the explicit path, else the cached or downloaded GitHub release ``version``.

    The release archive is found by pattern, case-insensitively: ``kube-burner-ocp-[v|V]<version>-<os>-<arch>.tar.gz``
    with ``amd64`` spelled ``x86_64`` (``amd64`` is accepted too).  It is checked against
    ``kube-burner-ocp-checksums.txt`` and the API's ``digest`` when they exist, and only its ``kube-burner-ocp``
    regular file is taken out; an archive with an absolute or ``..`` path, or a link leading out, is refused.
    """
    name = "kube-burner-ocp"
    log_path = Path(log_path)
    if explicit:
        return _explicit(name, explicit, log_path)
    goarch = normalize_arch(arch)
    hub = _GitHub(github_api, repo, timeout, log_path)

    def fetch(release: dict, tag: str, entry: _Entry) -> Tool:
        assets = _assets(release)
        pattern = re.compile(rf"^{re.escape(name)}-v?{re.escape(tag[1:])}-{re.escape(os_name)}-{_arch_pattern(goarch)}"
                             r"\.tar\.gz$", re.IGNORECASE)
        # x86_64 is GoReleaser's spelling: prefer it over amd64
        asset_name = _one_asset(assets, pattern, lambda n: "x86_64" in n.lower(), tag, repo, os_name, goarch,
                                f"{name}-{tag}-{os_name}-{'x86_64' if goarch == 'amd64' else goarch}.tar.gz")
        sums = _first_asset(assets, [f"{name}-checksums.txt"])
        return _install_from_archive(hub, assets[asset_name], sums, tag, entry, log_path)

    return _acquire_release(name, version, Path(cache), log_path, hub, fetch)


def acquire_rosa(*, explicit: str | None, version: str | None, cache: Path, log_path: Path,
                 github_api: str = "https://api.github.com", repo: str = "openshift/rosa",
                 os_name: str = "linux", arch: str | None = None, timeout: float = 300) -> Tool:
    """The ``rosa`` CLI: the explicit path, else the cached or downloaded GitHub release ``version``.

    The asset names changed in August 2026, so the archive is found by pattern, case-insensitively:
    ``rosa_<os>_<arch>.tar.gz`` with ``amd64`` spelled ``x86_64`` or ``amd64`` (GoReleaser up to v1.2.64:
    ``rosa_Linux_x86_64.tar.gz``; the Konflux flow after it: ``rosa_linux_amd64.tar.gz``).  Where both spellings
    exist, ``rosa_<os>_<goarch>.tar.gz`` wins.  The ``.tar.gz`` is always taken over the ``.zip`` published
    beside it, and a platform with only a ``.zip`` (Windows before the change) is refused: nothing here reads zip
    archives, and a Windows binary would not run on this machine anyway.

    It is checked against the release's checksum manifest, the first of ``rosa_<version>_SHA256SUMS`` (the
    Konflux flow; ``<version>`` is the tag without ``v``), ``rosa_<version>_checksums.txt`` and ``checksums.txt``
    (GoReleaser), and against the API's ``digest``, when they exist.  A release that publishes neither is used
    unverified, with a warning in the log and ``verified_with: []`` in the detail, exactly as for ``ocm`` and
    ``kube-burner-ocp`` (see ``_download_verified``); a manifest that exists but lacks the archive or disagrees
    with it is refused.  Only the archive's ``rosa`` regular file is taken out (README/LICENSE beside it are
    ignored); an archive with an absolute or ``..`` path, or a link leading out, is refused.

    The binary is checked with ``rosa version --client`` (no update check over the network), which rosa
    releases before v1.2.36 do not understand: they are refused as not running.
    """
    name = "rosa"
    log_path = Path(log_path)
    if explicit:
        return _explicit(name, explicit, log_path)
    goarch = normalize_arch(arch)
    pattern = re.compile(rf"^rosa_{re.escape(os_name)}_{_arch_pattern(goarch)}\.tar\.gz$", re.IGNORECASE)
    preferred = f"rosa_{os_name}_{goarch}.tar.gz"
    hub = _GitHub(github_api, repo, timeout, log_path)

    def fetch(release: dict, tag: str, entry: _Entry) -> Tool:
        assets = _assets(release)
        asset_name = _one_asset(assets, pattern, lambda n: n.lower() == preferred.lower(), tag, repo, os_name,
                                goarch, preferred)
        version_text = tag[1:]
        sums = _first_asset(assets, [f"rosa_{version_text}_SHA256SUMS", f"rosa_{version_text}_checksums.txt",
                                     "checksums.txt"])
        return _install_from_archive(hub, assets[asset_name], sums, tag, entry, log_path)

    return _acquire_release(name, version, Path(cache), log_path, hub, fetch)


def _arch_pattern(goarch: str) -> str:
    """A regular expression for ``goarch`` in an asset name: GoReleaser spells ``amd64`` as ``x86_64``."""
    return "(?:x86_64|amd64)" if goarch == "amd64" else re.escape(goarch)


def _one_asset(assets: dict, pattern: re.Pattern, prefer: Callable[[str], bool], tag: str, repo: str,
               os_name: str, goarch: str, wanted: str) -> str:
    """The name of the one asset ``pattern`` matches; among several, the one ``prefer`` picks.  AcquireError
    (naming ``wanted`` and listing the assets) if there is none, or if several are left."""
    matches = sorted(n for n in assets if pattern.match(n))
    if len(matches) > 1:
        matches = [n for n in matches if prefer(n)] or matches
    if not matches:
        raise AcquireError(f"release {tag} of {repo} has no asset {wanted} (assets: {_names(assets)})")
    if len(matches) > 1:
        raise AcquireError(f"release {tag} of {repo} has several assets for {os_name}/{goarch}: "
                           + ", ".join(matches))
    return matches[0]


def _first_asset(assets: dict, names: Sequence[str]) -> dict | None:
    """The asset with the first of ``names`` (compared case-insensitively) that the release has, else None."""
    for wanted in names:
        found = next((a for n, a in sorted(assets.items()) if n.lower() == wanted.lower()), None)
        if found is not None:
            return found
    return None


def _install_from_archive(hub: _GitHub, asset: dict, sums: dict | None, tag: str, entry: _Entry,
                          log_path: Path) -> Tool:
    """Download the tar.gz ``asset`` (verified as ``_download_verified`` does), take its ``entry.name`` regular file
    out (``_extract_member``) and install that; the archive itself is never kept."""
    asset_name = asset["name"]
    archive = binary = None
    try:
        archive, url, size, archive_sha, checked = _download_verified(hub, asset, sums, tag, entry, log_path)
        binary, actual = _extract_member(archive, entry.name, asset_name, entry)
        _unlink(archive)
        archive = None
        detail = {"url": url, "tag": tag, "repo": hub.repo, "asset": asset_name, "size": size,
                  "archive_sha256": archive_sha, "verified_with": checked}
        tool = entry.install(binary, actual, "download", detail, log_path)
        binary = None
        return tool
    finally:
        if archive:
            _unlink(archive)
        entry.discard(binary)


def _acquire_release(name: str, version: str | None, cache: Path, log_path: Path, hub: _GitHub,
                     fetch: Callable[[dict, str, _Entry], Tool]) -> Tool:
    """The cached copy of release ``version`` (None or "latest": the latest release) of ``name``, else
    ``fetch(release, tag, entry)``; both under ``<cache>/<name>.lock``."""
    latest = version is None or version.strip().lower() in ("", "latest")
    release = None
    if latest:
        release = hub.release(None)
        if release is None:
            raise AcquireError(f"{hub.repo} has no published release (GitHub answered 404 for releases/latest)")
        tag = normalize_tag(release["tag_name"])
    else:
        tag = normalize_tag(version)
    entry = _Entry(cache, name, tag)
    try:
        with _lock(cache, name, wait=HTTP_ATTEMPTS * hub.timeout * 3 + 60):
            found = entry.lookup(log_path)
            if found:
                return found
            if release is None:
                release = hub.release(tag)
                if release is None:
                    raise AcquireError(_unknown_version_message(hub, name, version or "", tag))
            return fetch(release, tag, entry)
    except LockTimeout:
        raise AcquireError(f"another process held {cache / (name + '.lock')} for too long") from None


def _unknown_version_message(hub: _GitHub, name: str, version: str, tag: str) -> str:
    try:
        tags = hub.tags()
    except (AcquireError, requests.RequestException, ValueError) as exc:
        return (f"{name} version {version} (tag {tag}) does not exist in {hub.repo}, "
                f"and the list of releases failed: {exc}")
    shown = ", ".join(tags[:TAGS_SHOWN]) if tags else "none"
    return f"{name} version {version} (tag {tag}) does not exist in {hub.repo}; newest available: {shown}"


def _assets(release: dict) -> dict[str, dict]:
    return {a["name"]: a for a in release.get("assets") or [] if isinstance(a, dict) and isinstance(a.get("name"), str)}


def _names(assets: dict) -> str:
    return ", ".join(sorted(assets)) or "none"


def _download_verified(hub: _GitHub, asset: dict, sums: dict | None, tag: str, entry: _Entry,
                       log_path: Path) -> tuple[str, str, int, str, list[str]]:
    """Download ``asset`` to a staging file in ``entry``'s folder and check it against the API's ``digest`` and
    the sha256sum-format asset ``sums`` when they exist.  Returns (staged path, url, size, sha256, checked with);
    on any failure the staged file is gone."""
    asset_name = asset["name"]
    fd, staged = entry.staging_file()
    try:
        with os.fdopen(fd, "wb") as out:
            url, size, actual = hub.download(asset, out, MAX_ASSET_BYTES)
            out.flush()
            os.fsync(out.fileno())
        checked = []
        digest = asset.get("digest")
        if isinstance(digest, str) and digest.lower().startswith("sha256:"):
            if digest.split(":", 1)[1].strip().lower() != actual:
                raise AcquireError(f"{asset_name} of {tag} has sha256 {actual}, but the release API says {digest}")
            checked.append("digest")
        if sums is not None:
            sums_name = sums.get("name")
            expected = _expected_from_sha256_file(hub.text(sums), asset_name)
            if expected is None:
                raise AcquireError(f"{sums_name} of {tag} has no checksum for {asset_name}")
            if expected != actual:
                raise AcquireError(f"{asset_name} of {tag} has sha256 {actual}, but {sums_name} says {expected}")
            checked.append(sums_name)
        if not checked:
            _log(log_path, f"warning: release {tag} publishes no checksum for {asset_name}; not verified")
        return staged, url, size, actual, checked
    except BaseException:
        entry.discard(staged)
        raise


def _unsafe_path(path: str) -> bool:
    pure = PurePosixPath(path.replace("\\", "/"))
    return not path or pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", path) is not None


def _extract_member(archive: str, member: str, label: str, entry: _Entry) -> tuple[str, str]:
    """Copy the regular file ``member`` (at the top, or under one top folder) out of the tar.gz ``archive`` to a
    staging file in ``entry``'s folder; return (staged path, sha256).  Nothing is unpacked to disk; an archive
    with an absolute or ``..`` path, a link leading out of it, or a device entry is refused as a whole."""
    found: list[tarfile.TarInfo] = []
    staged = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for count, info in enumerate(tar, 1):
                if count > MAX_ARCHIVE_MEMBERS:
                    raise AcquireError(f"{label} has more than {MAX_ARCHIVE_MEMBERS} entries")
                if _unsafe_path(info.name):
                    raise AcquireError(f"{label} has an unsafe entry {info.name!r}; not using it")
                if (info.issym() or info.islnk()) and _unsafe_path(info.linkname):
                    raise AcquireError(f"{label} has a link {info.name!r} to {info.linkname!r}; not using it")
                if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
                    raise AcquireError(f"{label} has a special entry {info.name!r}; not using it")
                parts = [p for p in PurePosixPath(info.name).parts if p != "."]
                if parts and parts[-1] == member and len(parts) <= 2:
                    found.append(info)
            top = [i for i in found if len([p for p in PurePosixPath(i.name).parts if p != "."]) == 1]
            candidates = top or found
            if not candidates:
                raise AcquireError(f"{label} has no {member} in it")
            if len(candidates) > 1:
                raise AcquireError(f"{label} has {len(candidates)} entries named {member}; not using it")
            chosen = candidates[0]
            if not chosen.isreg():
                raise AcquireError(f"{label}: {chosen.name!r} is not a regular file")
            if chosen.size > MAX_ASSET_BYTES:
                raise AcquireError(f"{label}: {chosen.name} is larger than {MAX_ASSET_BYTES} bytes")
            src = tar.extractfile(chosen)
            if src is None:
                raise AcquireError(f"{label}: {chosen.name!r} cannot be read")
            fd, staged = entry.staging_file()
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        return staged, digest.hexdigest()
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if staged:
            _unlink(staged)
        raise AcquireError(f"{label} is not a readable tar.gz archive ({exc.__class__.__name__}: {exc})") from None
    except BaseException:
        if staged:
            _unlink(staged)
        raise


# ------------------------------------------------------------------ hypershift: image or source build
def acquire_hypershift(*, explicit: str | None, git_ref: str = "main",
                       repo_url: str = "https://github.com/openshift/hypershift",
                       image: str | None = None, pull_secret: str | None = None, oc: str = "oc",
                       cache: Path, log_path: Path, timeout: float = 1800) -> Tool:
    """The ``hypershift`` CLI: the explicit path, else extracted from ``image``, else built at ``git_ref``."""
    log_path = Path(log_path)
    if explicit:
        return _explicit("hypershift", explicit, log_path)
    cache = Path(cache)
    deadline = time.monotonic() + timeout
    wait = timeout + 600
    try:
        if image:
            entry = _Entry(cache, "hypershift", "image-" + hashlib.sha256(image.encode()).hexdigest())
            with _lock(cache, "hypershift", wait):
                return entry.lookup(log_path) or _extract_image(image, pull_secret, oc, entry, cache, log_path,
                                                                deadline)
        commit = _resolve_ref(repo_url, git_ref, log_path, deadline)
        with _lock(cache, "hypershift", wait):
            if commit:
                found = _Entry(cache, "hypershift", commit).lookup(log_path)
                if found:
                    return found
            return _build(repo_url, git_ref, commit, cache, log_path, deadline)
    except LockTimeout:
        raise AcquireError(f"another process held {cache / 'hypershift.lock'} for more than {wait:.0f}s") from None


def _remaining(deadline: float, what: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise AcquireError(f"no time left to {what}")
    return left


def _git_env() -> dict:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"       # fail instead of asking for credentials
    env.setdefault("GIT_ASKPASS", "true")
    return env


def _url_secrets(repo_url: str) -> list[str]:
    """Credentials embedded in a repository URL (``https://user:token@host/…``), to keep out of logs."""
    try:
        parts = urlsplit(repo_url)
        return [s for s in (parts.password, parts.username if parts.password is None else None) if s]
    except ValueError:
        return []


def _check_url(repo_url: str) -> str:
    if not repo_url or repo_url.startswith("-") or any(c.isspace() for c in repo_url):
        raise AcquireError(f"{repo_url!r} is not a usable git repository URL")
    return repo_url


def _check_ref(git_ref: str) -> str:
    ref = git_ref.strip()
    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        raise AcquireError(f"{git_ref!r} is not a usable git ref")
    return ref


def _resolve_ref(repo_url: str, git_ref: str, log_path: Path, deadline: float) -> str | None:
    """The commit ``git_ref`` names in ``repo_url`` (ls-remote), or None if ls-remote does not know it."""
    ref = _check_ref(git_ref)
    if FULL_SHA.match(ref):
        return ref.lower()
    budget = min(120.0, _remaining(deadline, f"resolve {ref}"))
    try:
        code, stdout, _ = _capture(["git", "ls-remote", "--", _check_url(repo_url), ref], log_path, budget,
                                   env=_git_env(), secrets=_url_secrets(repo_url))
    except OSError as exc:
        raise AcquireError(f"cannot run git: {exc.strerror or exc}") from None
    if code != 0:
        outcome = "timeout" if code is None else f"exit {code}"
        shown_url = process.redact(repo_url, _url_secrets(repo_url))
        raise _fail(f"git ls-remote {shown_url} {ref} failed ({outcome})", log_path)
    refs: dict[str, str] = {}
    for line in stdout.splitlines():
        sha, _, name = line.partition("\t")
        if FULL_SHA.match(sha.strip()):
            refs[name.strip()] = sha.strip().lower()
    # The order git itself uses to expand a short ref name; annotated tags resolve to their commit.
    for candidate in (ref, f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}", f"refs/remotes/{ref}",
                      f"refs/remotes/{ref}/HEAD"):
        if candidate + "^{}" in refs:
            return refs[candidate + "^{}"]
        if candidate in refs:
            return refs[candidate]
    return None


def _build(repo_url: str, git_ref: str, commit: str | None, cache: Path, log_path: Path, deadline: float) -> Tool:
    ref = _check_ref(git_ref)
    secrets = _url_secrets(_check_url(repo_url))
    shown_url = process.redact(repo_url, secrets)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=_ensure(cache / "hypershift")))
    env = _git_env()
    try:
        steps = [(["git", "init", "-q"], "git init"),
                 (["git", "remote", "add", "origin", repo_url], "git remote add"),
                 (["git", "fetch", "--depth", "1", "origin", ref], f"git fetch of {ref} from {shown_url}"),
                 (["git", "-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD"], "git checkout")]
        for argv, what in steps:
            _step(argv, what, work, env, log_path, deadline, secrets)
        code, stdout, _ = _capture(["git", "rev-parse", "HEAD"], log_path, 60, cwd=str(work), env=env)
        fetched = stdout.strip().lower()
        if code != 0 or not FULL_SHA.match(fetched):
            raise _fail("git rev-parse HEAD failed after the fetch", log_path)
        if commit and fetched != commit:
            _log(log_path, f"{ref} moved from {commit} to {fetched} while fetching; building {fetched}")
        entry = _Entry(cache, "hypershift", fetched)
        if commit != fetched:       # not resolved (or moved) before the fetch: the cache may have it after all
            found = entry.lookup(log_path)
            if found:
                return found
        _step(["make", "hypershift"], f"make hypershift at {fetched[:12]}", work, os.environ.copy(), log_path,
              deadline)
        built = work / "bin" / "hypershift"
        if not built.is_file():
            raise _fail(f"make hypershift at {fetched[:12]} succeeded but did not produce bin/hypershift", log_path)
        return entry.install_copy(built, "build", {"repo": shown_url, "ref": git_ref, "commit": fetched}, log_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _step(argv: list[str], what: str, cwd: Path, env: dict, log_path: Path, deadline: float,
          secrets: Sequence[str] = ()) -> None:
    budget = _remaining(deadline, what)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = process.run(argv, log_path=log_path, timeout=budget, env=env, cwd=cwd, secrets=secrets)
    except OSError as exc:
        raise AcquireError(f"cannot run {argv[0]} for {what}: {exc.strerror or exc}") from None
    if result.timed_out:
        raise _fail(f"{what} did not finish within {budget:.0f}s", log_path)
    if result.returncode != 0:
        raise _fail(f"{what} failed (exit {result.returncode})", log_path)


def _extract_image(image: str, pull_secret: str | None, oc: str, entry: _Entry, cache: Path, log_path: Path,
                   deadline: float) -> Tool:
    if pull_secret and not os.path.isfile(pull_secret):
        raise AcquireError(f"pull secret {pull_secret} does not exist")
    dest = Path(tempfile.mkdtemp(prefix=".extract-", dir=_ensure(cache / "hypershift")))
    try:
        argv = [oc, "image", "extract", image, "--path", f"/usr/bin/hypershift:{dest}"]
        if pull_secret:
            argv.append(f"--registry-config={os.path.abspath(pull_secret)}")
        argv.append("--filter-by-os=linux/amd64")
        _step(argv, f"oc image extract of {image}", dest.parent, os.environ.copy(), log_path, deadline)
        extracted = dest / "hypershift"
        if not extracted.is_file():
            raise _fail(f"oc image extract of {image} did not produce /usr/bin/hypershift", log_path)
        return entry.install_copy(extracted, "image", {"image": image}, log_path)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


# ------------------------------------------------------------------ once per run
def acquire_once(record_path: Path, lock_path: Path, fn: Callable[[], Tool], *, timeout: float = 3600) -> dict:
    """Run ``fn()`` once per run: the first process records its Tool in ``record_path``; later ones read it.

    A record whose binary no longer exists is acquired again.  Returns ``Tool.to_json()``.
    """
    record_path, lock_path = Path(record_path), Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path), timeout=timeout):
            if record_path.exists():
                try:
                    data = json.loads(record_path.read_text())
                except ValueError:
                    data = None
                if isinstance(data, dict) and data.get("path") and os.path.isfile(data["path"]):
                    return data
            tool = fn()
            data = tool.to_json() if isinstance(tool, Tool) else dict(tool)
            _write_json_atomic(record_path, data)
            return data
    except LockTimeout:
        raise AcquireError(f"another process held {lock_path} for more than {timeout:.0f}s") from None
