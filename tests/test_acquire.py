"""Acquiring the CLIs: ocm, kube-burner-ocp and rosa from a (local, GitHub-shaped) releases API, hypershift from a
local git repository or a stand-in ``oc image extract``, explicit paths, the cache and the once-per-run record.

Nothing here reaches the internet: the releases API is a threaded HTTP server on 127.0.0.1, the
upstream repository is a ``git init`` in tmp, and ``oc`` is a script the test writes.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import multiprocessing
import os
import re
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from plugins import acquire
from plugins.acquire import (AcquireError, Tool, acquire_hypershift, acquire_kube_burner, acquire_ocm, acquire_once,
                             acquire_rosa, version_key)

REPO = "openshift-online/ocm-cli"
KB_REPO = "kube-burner/kube-burner-ocp"
ROSA_REPO = "openshift/rosa"
ACQUIRE = {"ocm": acquire_ocm, "kube-burner-ocp": acquire_kube_burner, "rosa": acquire_rosa}
# The release assets of openshift/rosa before and after the change of August 2026; the first is linux/x86_64.
ROSA_ASSETS = {"goreleaser": ["rosa_Linux_x86_64.tar.gz", "rosa_Linux_arm64.tar.gz", "rosa_Darwin_x86_64.tar.gz",
                              "rosa_Windows_x86_64.zip"],
               "konflux": ["rosa_linux_amd64.tar.gz", "rosa_linux_amd64.zip", "rosa_linux_arm64.tar.gz",
                           "rosa_darwin_arm64.tar.gz", "rosa_windows_amd64.zip"]}


# ---------------------------------------------------------------- a GitHub-shaped releases API
def ocm_script(version: str) -> bytes:
    return (f"#!/bin/sh\n# fake ocm {version}\n"
            f"case \"$1\" in\n  version) echo {version} ;;\n  *) echo \"unknown command $1\" >&2; exit 1 ;;\nesac\n"
            ).encode()


def kube_burner_script(version: str) -> bytes:
    return (f"#!/bin/sh\n# fake kube-burner-ocp {version}\n"
            f"case \"$1\" in\n  version) printf 'Version: {version}\\nGit Commit: 0123abcd\\n"
            f"Build Date: 2026-01-01T00:00:00Z\\nGo Version: go1.22.5\\nOS/Arch: linux/amd64\\n' ;;\n"
            f"  *) echo \"unknown command $1\" >&2; exit 1 ;;\nesac\n").encode()


def rosa_script(version: str) -> bytes:
    """Like rosa: the version on stdout as an INFO line; anything but ``version --client`` (which skips the online
    check for a newer release) fails here."""
    return (f"#!/bin/sh\n# fake rosa {version}\n"
            f"[ \"$*\" = 'version --client' ] || {{ echo \"ERR: unexpected arguments: $*\" >&2; exit 1; }}\n"
            f"echo 'INFO: {version}'\n").encode()


def tarball(members: list[tuple[str, bytes | str]]) -> bytes:
    """A tar.gz of (name, content) members; a ``str`` content makes a symlink to it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1767225600
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755 if name.endswith("kube-burner-ocp") else 0o644
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


class FakeGitHub:
    """Serves /repos/<repo>/releases{,/latest,/tags/<tag>} and /download/<tag>/<asset>, counting hits per path."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.hits: Counter = Counter()
        self.auth: list[str | None] = []
        self.fail_next: Counter = Counter()       # path -> how many 503s to answer first
        self.delay: dict[str, float] = {}         # path -> seconds to wait before answering
        self.releases: dict[str, list[dict]] = {}     # repo -> releases, in publication order
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                with fake.lock:
                    fake.hits[path] += 1
                    fake.auth.append(self.headers.get("Authorization"))
                    fail = fake.fail_next[path] > 0
                    if fail:
                        fake.fail_next[path] -= 1
                if fail:
                    self._answer(503, b'{"message": "try again"}', "application/json")
                    return
                time.sleep(fake.delay.get(path, 0))
                status, body, ctype = fake.routes.get(path, (404, b'{"message": "Not Found"}', "application/json"))
                self._answer(status, body, ctype)

            def _answer(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def api(self, suffix: str, repo: str = REPO) -> str:
        return f"/repos/{repo}/{suffix}"

    def asset_path(self, tag: str, name: str) -> str:
        return f"/download/{tag}/{name}"

    def add_release(self, tag: str, *, prerelease: bool = False, sha_file: str | None = "good",
                    digest: str | None = None, latest: bool = False) -> bytes:
        version = tag.lstrip("v")
        body = ocm_script(version)
        good = hashlib.sha256(body).hexdigest()
        assets = []
        for arch in ("amd64", "arm64"):
            name = f"ocm-linux-{arch}"
            self.routes[self.asset_path(tag, name)] = (200, body, "application/octet-stream")
            asset = {"name": name, "size": len(body), "content_type": "application/octet-stream",
                     "browser_download_url": self.base + self.asset_path(tag, name),
                     "url": self.base + f"/api-assets/{tag}/{name}"}
            if digest == "good":
                asset["digest"] = f"sha256:{good}"
            elif digest == "bad":
                asset["digest"] = "sha256:" + "0" * 64
            assets.append(asset)
            if sha_file:
                hexdigest = good if sha_file == "good" else "f" * 64
                text = f"{hexdigest}  {name}\n".encode()
                self.routes[self.asset_path(tag, name + ".sha256")] = (200, text, "text/plain")
                assets.append({"name": name + ".sha256", "size": len(text), "content_type": "text/plain",
                               "browser_download_url": self.base + self.asset_path(tag, name + ".sha256")})
        self.publish(REPO, tag, assets, prerelease=prerelease, latest=latest)
        return body

    def publish(self, repo: str, tag: str, assets: list[dict], *, prerelease: bool = False,
                latest: bool = False) -> dict:
        release = {"tag_name": tag, "name": tag, "prerelease": prerelease, "draft": False,
                   "published_at": "2026-01-01T00:00:00Z", "assets": assets}
        self.releases.setdefault(repo, []).append(release)
        self.routes[self.api(f"releases/tags/{tag}", repo)] = (200, json.dumps(release).encode(), "application/json")
        # GitHub lists releases by creation date, not by version: keep insertion order here.
        self.routes[self.api("releases", repo)] = (200, json.dumps(self.releases[repo]).encode(), "application/json")
        if latest:
            self.routes[self.api("releases/latest", repo)] = (200, json.dumps(release).encode(), "application/json")
        return release

    def add_asset(self, tag: str, name: str, body: bytes, *, digest: str | None = None) -> dict:
        """Serve ``body`` as release asset ``name``; ``digest``: "good", "bad" or None (no digest field)."""
        self.routes[self.asset_path(tag, name)] = (200, body, "application/octet-stream")
        asset = {"name": name, "size": len(body), "content_type": "application/octet-stream",
                 "browser_download_url": self.base + self.asset_path(tag, name)}
        if digest:
            asset["digest"] = "sha256:" + (hashlib.sha256(body).hexdigest() if digest == "good" else "0" * 64)
        return asset

    def add_kube_burner_release(self, tag: str, *, asset_tag: str | None = None,
                                members: list[tuple[str, bytes | str]] | None = None,
                                checksums: str | None = "good", digest: str | None = None,
                                prerelease: bool = False, latest: bool = False) -> bytes:
        """A GoReleaser-shaped kube-burner-ocp release: ``kube-burner-ocp-<asset_tag>-<os>-<arch>.tar.gz`` archives
        (``asset_tag`` defaults to the title-cased tag, ``V1.12.1``) plus ``kube-burner-ocp-checksums.txt``.
        Returns the linux/x86_64 archive; ``checksums="bad"`` gets its line wrong."""
        script = kube_burner_script(tag.lstrip("v"))
        asset_tag = asset_tag or tag[:1].upper() + tag[1:]
        names = [f"kube-burner-ocp-{asset_tag}-{os_arch}.{'zip' if os_arch.startswith('windows') else 'tar.gz'}"
                 for os_arch in ("linux-x86_64", "linux-arm64", "darwin-x86_64", "windows-x86_64")]
        members = members if members is not None else [("kube-burner-ocp", script), ("LICENSE", b"Apache 2.0\n")]
        return self.add_archive_release(KB_REPO, tag, names, members, "kube-burner-ocp-checksums.txt",
                                        checksums=checksums, digest=digest, prerelease=prerelease, latest=latest)

    def add_rosa_release(self, tag: str, *, style: str = "konflux", sums: str | None = None,
                         members: list[tuple[str, bytes | str]] | None = None, checksums: str | None = "good",
                         digest: str | None = None, latest: bool = False) -> bytes:
        """An openshift/rosa release with the ``ROSA_ASSETS[style]`` archives and a checksum manifest, by default
        ``rosa_<version>_SHA256SUMS`` (konflux) or ``rosa_<version>_checksums.txt`` (goreleaser)."""
        version = tag.lstrip("v")
        sums = sums or f"rosa_{version}_" + ("SHA256SUMS" if style == "konflux" else "checksums.txt")
        members = members if members is not None else [("rosa", rosa_script(version)), ("README.md", b"# rosa\n"),
                                                       ("LICENSE", b"Apache 2.0\n")]
        return self.add_archive_release(ROSA_REPO, tag, ROSA_ASSETS[style], members, sums, checksums=checksums,
                                        digest=digest, latest=latest)

    def add_archive_release(self, repo: str, tag: str, names: list[str], members: list[tuple[str, bytes | str]],
                            sums: str, *, checksums: str | None = "good", digest: str | None = None,
                            prerelease: bool = False, latest: bool = False) -> bytes:
        """A release of tar.gz ``members`` under each of ``names`` (the first is the main one and is returned; the
        others differ by a suffix) plus the sha256sum-format file ``sums``: ``checksums`` "good", "bad" (the
        main archive's line is wrong) or None (no such file); ``digest`` as for ``add_asset``."""
        assets, lines, main = [], [], b""
        for index, name in enumerate(names):
            body = tarball(members)
            if index:
                body += name.encode()          # a different archive per platform
            else:
                main = body
            bad = checksums == "bad" and index == 0
            lines.append(f"{'f' * 64 if bad else hashlib.sha256(body).hexdigest()}  {name}\n")
            assets.append(self.add_asset(tag, name, body, digest=digest))
        if checksums:
            assets.append(self.add_asset(tag, sums, "".join(lines).encode()))
        self.publish(repo, tag, assets, prerelease=prerelease, latest=latest)
        return main


@pytest.fixture
def github(monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setattr(acquire, "RETRY_DELAY", 0.01)
    fake = FakeGitHub()
    fake.add_release("v1.0.9")
    fake.add_release("v1.0.15", latest=True, digest="good")
    fake.add_release("v1.0.10")
    fake.add_release("v1.0.16-rc1", prerelease=True)
    yield fake
    fake.close()


def get_ocm(github: FakeGitHub, tmp_path: Path, version: str | None = None, **kwargs) -> Tool:
    kwargs.setdefault("cache", tmp_path / "cache")
    kwargs.setdefault("log_path", tmp_path / "acquire.log")
    return acquire_ocm(explicit=None, version=version, github_api=github.base, arch="x86_64", timeout=10, **kwargs)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


# ---------------------------------------------------------------- version ordering
def test_version_key_orders_numbers_and_prereleases():
    tags = ["v1.0.9", "1.0.15", "v1.0.10", "v1.0.16-rc1", "v1.0.16", "v1.0.16-rc10", "v1.0.16-rc2", "v1.2",
            "junk", "v1.1.0-prerelease.1"]
    assert sorted(tags, key=version_key) == ["junk", "v1.0.9", "v1.0.10", "1.0.15", "v1.0.16-rc1", "v1.0.16-rc2",
                                             "v1.0.16-rc10", "v1.0.16", "v1.1.0-prerelease.1", "v1.2"]
    assert version_key("1.2.10") > version_key("1.2.9")
    assert version_key("v1.3.0-rc1") < version_key("1.3.0")


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HCP_SCALE_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert acquire.cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("HCP_SCALE_CACHE_DIR")
    assert acquire.cache_root() == tmp_path / "xdg" / "hcp-scale"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert acquire.cache_root() == Path.home() / ".cache" / "hcp-scale"


# ---------------------------------------------------------------- ocm from GitHub releases
def test_latest_release_is_downloaded_verified_and_cached(github, tmp_path):
    tool = get_ocm(github, tmp_path)
    path = tmp_path / "cache" / "ocm" / "v1.0.15" / "ocm"
    assert tool.name == "ocm" and tool.source == "download"
    assert tool.path == str(path) and tool.version == "1.0.15"
    assert tool.detail["tag"] == "v1.0.15" and tool.detail["url"].endswith("/download/v1.0.15/ocm-linux-amd64")
    assert tool.detail["verified_with"] == ["digest", "ocm-linux-amd64.sha256"]
    assert tool.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert subprocess.run([tool.path, "version"], capture_output=True, text=True).stdout.strip() == "1.0.15"
    record = json.loads((path.parent / "record.json").read_text())
    assert record["sha256"] == tool.sha256 and record["source"] == "download"
    assert github.hits[github.api("releases/latest")] == 1
    assert json.loads(json.dumps(tool.to_json())) == tool.to_json()
    assert Tool.from_json(tool.to_json()) == tool


@pytest.mark.parametrize("version", ["1.0.9", "v1.0.9"])
def test_pinned_version(github, tmp_path, version):
    tool = get_ocm(github, tmp_path, version)
    assert tool.version == "1.0.9" and tool.detail["tag"] == "v1.0.9"
    assert tool.path == str(tmp_path / "cache" / "ocm" / "v1.0.9" / "ocm")
    assert github.hits[github.api("releases/tags/v1.0.9")] == 1
    assert github.hits[github.api("releases/latest")] == 0


def test_arch_selects_the_asset(github, tmp_path):
    tool = acquire_ocm(explicit=None, version="1.0.15", github_api=github.base, arch="aarch64",
                       cache=tmp_path / "cache", log_path=tmp_path / "log", timeout=10)
    assert tool.detail["asset"] == "ocm-linux-arm64"
    with pytest.raises(AcquireError, match=r"no asset ocm-plan9-amd64 \(assets: ocm-linux-amd64, "):
        acquire_ocm(explicit=None, version="1.0.10", os_name="plan9", arch="x86_64", github_api=github.base,
                    cache=tmp_path / "cache", log_path=tmp_path / "log", timeout=10)


def test_unknown_version_lists_the_newest_tags_in_version_order(github, tmp_path):
    with pytest.raises(AcquireError) as info:
        get_ocm(github, tmp_path, "1.0.99")
    message = str(info.value)
    assert "1.0.99" in message
    assert "newest available: v1.0.16-rc1, v1.0.15, v1.0.10, v1.0.9" in message
    assert files_under(tmp_path / "cache" / "ocm") == []
    assert not any(path.startswith("/download/") for path in github.hits)     # no silent fallback


def test_checksum_file_mismatch_installs_nothing(github, tmp_path):
    github.add_release("v1.1.0", sha_file="bad")
    with pytest.raises(AcquireError, match=r"ocm-linux-amd64 of v1.1.0 has sha256 [0-9a-f]{64}, "
                                           r"but ocm-linux-amd64.sha256 says f{64}"):
        get_ocm(github, tmp_path, "1.1.0")
    assert files_under(tmp_path / "cache" / "ocm") == []
    assert not (tmp_path / "cache" / "ocm" / "v1.1.0").exists()


def test_digest_mismatch_installs_nothing(github, tmp_path):
    github.add_release("v1.1.1", digest="bad")
    with pytest.raises(AcquireError, match="but the release API says sha256:0000"):
        get_ocm(github, tmp_path, "1.1.1")
    assert files_under(tmp_path / "cache" / "ocm") == []


def test_second_call_is_served_from_cache_without_downloading(github, tmp_path):
    first = get_ocm(github, tmp_path, "1.0.10")
    downloads = sum(n for path, n in github.hits.items() if path.startswith("/download/"))
    assert downloads == 2          # the binary and its .sha256
    second = get_ocm(github, tmp_path, "v1.0.10")
    assert second.source == "cache" and second.path == first.path and second.sha256 == first.sha256
    assert second.version == "1.0.10" and second.detail["tag"] == "v1.0.10"
    assert sum(n for path, n in github.hits.items() if path.startswith("/download/")) == downloads
    assert github.hits[github.api("releases/tags/v1.0.10")] == 1          # a pinned cache hit asks nothing
    latest = get_ocm(github, tmp_path)
    again = get_ocm(github, tmp_path, "latest")
    assert (latest.source, again.source) == ("download", "cache")
    assert github.hits[github.asset_path("v1.0.15", "ocm-linux-amd64")] == 1


def test_corrupt_cached_binary_is_replaced(github, tmp_path):
    first = get_ocm(github, tmp_path, "1.0.9")
    Path(first.path).write_bytes(b"#!/bin/sh\necho tampered\n")
    second = get_ocm(github, tmp_path, "1.0.9")
    assert second.source == "download" and second.sha256 == first.sha256 and second.version == "1.0.9"
    assert github.hits[github.asset_path("v1.0.9", "ocm-linux-amd64")] == 2
    assert "is damaged (its sha256 does not match record.json); replacing it" in (tmp_path / "acquire.log").read_text()
    (Path(first.path).parent / "record.json").write_text("{not json")
    assert get_ocm(github, tmp_path, "1.0.9").source == "download"


def test_server_errors_are_retried_a_bounded_number_of_times(github, tmp_path):
    github.fail_next[github.api("releases/latest")] = 2
    assert get_ocm(github, tmp_path).version == "1.0.15"
    assert github.hits[github.api("releases/latest")] == 3
    github.fail_next[github.api("releases/tags/v1.0.9")] = 100
    with pytest.raises(AcquireError, match=f"failed {acquire.HTTP_ATTEMPTS} times \\(last: HTTP 503\\)"):
        get_ocm(github, tmp_path, "1.0.9")
    assert github.hits[github.api("releases/tags/v1.0.9")] == acquire.HTTP_ATTEMPTS


def test_github_token_is_sent_as_bearer_and_never_logged(github, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not-a-real-token-123")
    get_ocm(github, tmp_path, "1.0.9")
    assert "Bearer ghp_not-a-real-token-123" in github.auth
    assert "ghp_not-a-real-token-123" not in (tmp_path / "acquire.log").read_text()


def _acquire_worker(tool: str, base: str, cache: str, log: str, barrier, results) -> None:
    barrier.wait(10)
    version, arch = {"ocm": ("1.0.15", "x86_64"), "kube-burner-ocp": ("1.12.1", "amd64"),
                     "rosa": ("1.2.65", "amd64")}[tool]
    try:
        tool_ = ACQUIRE[tool](explicit=None, version=version, github_api=base, arch=arch,
                      cache=Path(cache), log_path=Path(log), timeout=10)
        results.put(tool_.to_json())
    except Exception as exc:   # reported to the parent, which fails the test
        results.put({"error": repr(exc)})


def acquire_in_two_processes(tool: str, server, asset: str, tmp_path) -> None:
    """Two spawned processes acquire ``tool`` at once: one downloads, the other finds it in the cache."""
    server.delay[asset] = 0.5           # keep the first download in flight while the second arrives
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_acquire_worker, args=(tool, server.base, str(tmp_path / "cache"),
                                                    str(tmp_path / f"w{i}.log"), barrier, results))
             for i in range(2)]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert all("error" not in g for g in got), got
    assert sorted(g["source"] for g in got) == ["cache", "download"]
    assert got[0]["path"] == got[1]["path"] and got[0]["sha256"] == got[1]["sha256"]
    assert server.hits[asset] == 1


def test_two_processes_download_exactly_once(github, tmp_path):
    acquire_in_two_processes("ocm", github, github.asset_path("v1.0.15", "ocm-linux-amd64"), tmp_path)


# ---------------------------------------------------------------- hypershift built from a local git repository
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}

GOOD_MAKEFILE = """\
.PHONY: hypershift
hypershift:
\tmkdir -p bin
\techo "$$(git rev-parse HEAD)" >> {builds}
\tprintf '#!/bin/sh\\necho "Client Version: openshift/hypershift: %s. Latest supported OCP: 4.17.0"\\n' \
"$$(git rev-parse HEAD)" > bin/hypershift
\tchmod +x bin/hypershift
"""

BROKEN_MAKEFILE = """\
hypershift:
\t@echo "compiling ./cmd/cluster"
\t@echo "cmd/cluster/aws.go:12:2: undefined: compilerExploded" >&2
\t@exit 2
"""


class Upstream:
    def __init__(self, path: Path, builds: Path):
        self.path, self.builds = path, builds
        path.mkdir()
        self.git("init", "-q", "-b", "main")
        self.commit("initial", GOOD_MAKEFILE.format(builds=builds))

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        return subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                              cwd=self.path, env=env, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, makefile: str | None = None) -> str:
        if makefile is not None:
            (self.path / "Makefile").write_text(makefile)
        (self.path / "CHANGES").open("a").write(message + "\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def built(self) -> list[str]:
        return self.builds.read_text().split() if self.builds.exists() else []


@pytest.fixture
def upstream(tmp_path):
    return Upstream(tmp_path / "upstream", tmp_path / "builds.txt")


def build(upstream: Upstream, tmp_path: Path, ref: str, cache: str = "cache") -> Tool:
    return acquire_hypershift(explicit=None, git_ref=ref, repo_url=str(upstream.path), cache=tmp_path / cache,
                              log_path=tmp_path / "build.log", timeout=60)


def leftovers(cache: Path) -> list[str]:
    return [p.name for p in (cache / "hypershift").iterdir() if p.name.startswith(".")] \
        if (cache / "hypershift").exists() else []


def test_build_from_branch_then_cache(upstream, tmp_path):
    head = upstream.git("rev-parse", "HEAD")
    tool = build(upstream, tmp_path, "main")
    assert tool.source == "build" and tool.name == "hypershift"
    assert tool.path == str(tmp_path / "cache" / "hypershift" / head / "hypershift")
    assert tool.version == f"openshift/hypershift: {head}. Latest supported OCP: 4.17.0"
    assert tool.detail == {"repo": str(upstream.path), "ref": "main", "commit": head}
    assert stat.S_IMODE(Path(tool.path).stat().st_mode) == 0o755
    again = build(upstream, tmp_path, "main")
    assert again.source == "cache" and again.path == tool.path and again.detail["commit"] == head
    assert upstream.built() == [head]
    assert leftovers(tmp_path / "cache") == []


def test_build_from_tags_and_a_commit(upstream, tmp_path):
    first = upstream.git("rev-parse", "HEAD")
    upstream.git("tag", "v0.1.0")                               # lightweight
    second = upstream.commit("second")
    upstream.git("tag", "-a", "v0.2.0", "-m", "annotated")      # annotated: resolves to the commit it tags
    upstream.commit("third")
    assert build(upstream, tmp_path, "v0.1.0").detail["commit"] == first
    tagged = build(upstream, tmp_path, "v0.2.0")
    assert tagged.detail["commit"] == second and second in tagged.version
    by_commit = build(upstream, tmp_path, first)
    assert by_commit.source == "cache" and by_commit.detail["commit"] == first
    fresh = build(upstream, tmp_path, second, cache="other-cache")
    assert fresh.source == "build" and fresh.detail == {"repo": str(upstream.path), "ref": second, "commit": second}
    assert upstream.built() == [first, second, second]


def test_moved_branch_is_rebuilt(upstream, tmp_path):
    old = build(upstream, tmp_path, "main")
    new_head = upstream.commit("moved")
    new = build(upstream, tmp_path, "main")
    assert new.source == "build" and new.detail["commit"] == new_head != old.detail["commit"]
    assert new.path != old.path and Path(old.path).exists()
    assert len(upstream.built()) == 2


def test_bad_ref_reports_the_git_error(upstream, tmp_path):
    with pytest.raises(AcquireError) as info:
        build(upstream, tmp_path, "no-such-branch")
    message = str(info.value)
    assert message.startswith("git fetch of no-such-branch from ")
    assert message.rstrip().endswith("fatal: couldn't find remote ref no-such-branch")
    assert upstream.built() == [] and leftovers(tmp_path / "cache") == []
    with pytest.raises(AcquireError, match="is not a usable git ref"):
        build(upstream, tmp_path, "--upload-pack=touch /tmp/x")
    with pytest.raises(AcquireError, match="git ls-remote .*does-not-exist main failed"):
        acquire_hypershift(explicit=None, git_ref="main", repo_url=str(tmp_path / "does-not-exist"),
                           cache=tmp_path / "cache", log_path=tmp_path / "build.log", timeout=30)


def test_failing_make_reports_the_make_output(upstream, tmp_path):
    upstream.git("checkout", "-q", "-b", "broken")
    upstream.commit("break the build", BROKEN_MAKEFILE)
    with pytest.raises(AcquireError) as info:
        build(upstream, tmp_path, "broken")
    message = str(info.value)
    assert message.startswith("make hypershift at ") and "failed (exit 2)" in message
    assert "compiling ./cmd/cluster" in message
    assert message.rstrip().splitlines()[-1].startswith("make: *** [Makefile:")
    assert "undefined: compilerExploded" in message
    assert files_under(tmp_path / "cache" / "hypershift") == [] and leftovers(tmp_path / "cache") == []


# ---------------------------------------------------------------- hypershift from an operator image
FAKE_OC = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
with open({argv_file!r}, "a") as fh:
    fh.write(json.dumps(args) + "\\n")
if os.environ.get("FAKE_OC_FAIL"):
    print("error: unable to read image quay.io/x: unauthorized: access denied", file=sys.stderr)
    sys.exit(1)
src, dest = args[args.index("--path") + 1].split(":", 1)
with open(os.path.join(dest, os.path.basename(src)), "w") as fh:   # written without the x bit, as a tar may be
    fh.write('#!/bin/sh\\necho "Client Version: openshift/hypershift: 0123abcd. Latest supported OCP: 4.18.0"\\n')
print("extracted", src)
"""

PULL_SECRET = '{"auths": {"quay.io": {"auth": "cHVsbC1zZWNyZXQtdmFsdWUtNDI="}}}'


@pytest.fixture
def fake_oc(tmp_path):
    argv_file = tmp_path / "oc-argv.jsonl"
    oc = tmp_path / "bin" / "oc"
    oc.parent.mkdir()
    oc.write_text(FAKE_OC.format(python=sys.executable, argv_file=str(argv_file)))
    oc.chmod(0o755)
    secret = tmp_path / "pull-secret.json"
    secret.write_text(PULL_SECRET)
    return oc, argv_file, secret


def test_image_extract(fake_oc, tmp_path, monkeypatch):
    oc, argv_file, secret = fake_oc
    monkeypatch.setenv("PATH", f"{oc.parent}{os.pathsep}{os.environ['PATH']}")
    image = "quay.io/hypershift/hypershift-operator:latest"
    cache, log = tmp_path / "cache", tmp_path / "image.log"
    tool = acquire_hypershift(explicit=None, image=image, pull_secret=str(secret), cache=cache, log_path=log)
    key = "image-" + hashlib.sha256(image.encode()).hexdigest()
    assert tool.source == "image" and tool.detail == {"image": image}
    assert tool.path == str(cache / "hypershift" / key / "hypershift")
    assert tool.version == "openshift/hypershift: 0123abcd. Latest supported OCP: 4.18.0"
    calls = [json.loads(line) for line in argv_file.read_text().splitlines()]
    assert len(calls) == 1
    dest = calls[0][4].split(":", 1)[1]
    assert calls[0] == ["image", "extract", image, "--path", f"/usr/bin/hypershift:{dest}",
                        f"--registry-config={secret}", "--filter-by-os=linux/amd64"]
    assert Path(dest).parent == cache / "hypershift" and not Path(dest).exists()
    for text in (argv_file.read_text(), log.read_text()):
        assert PULL_SECRET not in text and "cHVsbC1zZWNyZXQtdmFsdWUtNDI=" not in text
    again = acquire_hypershift(explicit=None, image=image, pull_secret=str(secret), oc=str(oc), cache=cache,
                               log_path=log)
    assert again.source == "cache" and len(argv_file.read_text().splitlines()) == 1


def test_image_extract_failure_reports_oc_output(fake_oc, tmp_path, monkeypatch):
    oc, _, secret = fake_oc
    monkeypatch.setenv("FAKE_OC_FAIL", "1")
    with pytest.raises(AcquireError, match=r"(?s)oc image extract of quay.io/x:1 failed \(exit 1\).*"
                                           r"unauthorized: access denied$"):
        acquire_hypershift(explicit=None, image="quay.io/x:1", pull_secret=str(secret), oc=str(oc),
                           cache=tmp_path / "cache", log_path=tmp_path / "image.log")
    assert files_under(tmp_path / "cache" / "hypershift") == [] and leftovers(tmp_path / "cache") == []


# ---------------------------------------------------------------- explicit paths
def test_explicit_paths(tmp_path):
    log = tmp_path / "explicit.log"
    kwargs = {"cache": tmp_path / "cache", "log_path": log}
    with pytest.raises(AcquireError, match=f"ocm binary {tmp_path}/nope does not exist"):
        acquire_ocm(explicit=str(tmp_path / "nope"), version=None, **kwargs)
    plain = tmp_path / "plain"
    plain.write_bytes(ocm_script("1.2.3"))
    plain.chmod(0o644)
    with pytest.raises(AcquireError, match=f"{plain} is not executable"):
        acquire_ocm(explicit=str(plain), version=None, **kwargs)
    plain.chmod(0o755)
    tool = acquire_ocm(explicit=str(plain), version="9.9.9", **kwargs)
    assert (tool.source, tool.path, tool.version) == ("explicit", str(plain), "1.2.3")
    assert tool.sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()
    assert not (tmp_path / "cache").exists()                  # never copied
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'segfault' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(AcquireError, match=f"(?s)hypershift binary {broken} does not run.*segfault"):
        acquire_hypershift(explicit=str(broken), **kwargs)
    hs = tmp_path / "hypershift"
    hs.write_text('#!/bin/sh\n[ "$1 $2" = "version --client-only" ] || exit 1\n'
                  'echo "Client Version: openshift/hypershift: abc. Latest supported OCP: 4.17.0"\n')
    hs.chmod(0o755)
    tool = acquire_hypershift(explicit=str(hs), image="ignored", **kwargs)
    assert (tool.source, tool.version) == ("explicit", "openshift/hypershift: abc. Latest supported OCP: 4.17.0")


# ---------------------------------------------------------------- once per run
def test_acquire_once_records_and_reuses(tmp_path):
    binary = tmp_path / "ocm"
    binary.write_bytes(ocm_script("1.0.15"))
    binary.chmod(0o755)
    calls = []

    def fn() -> Tool:
        calls.append(1)
        return Tool(name="ocm", path=str(binary), version="1.0.15", sha256="x", source="download",
                    detail={"tag": "v1.0.15"})

    record, lock = tmp_path / "run" / "ocm.json", tmp_path / "run" / ".ocm.lock"
    first = acquire_once(record, lock, fn)
    second = acquire_once(record, lock, fn)
    assert first == second == json.loads(record.read_text())
    assert first["source"] == "download" and first["detail"] == {"tag": "v1.0.15"}
    assert len(calls) == 1
    binary.unlink()                      # the recorded binary is gone: acquire again
    acquire_once(record, lock, fn)
    assert len(calls) == 2


# ---------------------------------------------------------------- kube-burner-ocp from GitHub releases
@pytest.fixture
def kb(github):
    github.add_kube_burner_release("v1.9.0", asset_tag="v1.9.0")      # the lowercase spelling of hack/install.sh
    github.add_kube_burner_release("v1.12.10", latest=True, digest="good")
    github.add_kube_burner_release("v1.12.1")                           # title-cased: kube-burner-ocp-V1.12.1-…
    github.add_kube_burner_release("v1.13.0-rc1", prerelease=True)
    return github


def get_kb(github: FakeGitHub, tmp_path: Path, version: str | None = None, fn=acquire_kube_burner, **kwargs) -> Tool:
    kwargs.setdefault("cache", tmp_path / "cache")
    kwargs.setdefault("log_path", tmp_path / "acquire.log")
    kwargs.setdefault("arch", "x86_64")
    return fn(explicit=None, version=version, github_api=github.base, timeout=10, **kwargs)


get_rosa = functools.partial(get_kb, fn=acquire_rosa)


def downloads(github: FakeGitHub) -> int:
    return sum(n for path, n in github.hits.items() if path.startswith("/download/"))


def test_kube_burner_latest_release_is_downloaded_verified_and_cached(kb, tmp_path):
    tool = get_kb(kb, tmp_path)
    path = tmp_path / "cache" / "kube-burner-ocp" / "v1.12.10" / "kube-burner-ocp"
    asset = "kube-burner-ocp-V1.12.10-linux-x86_64.tar.gz"
    assert (tool.name, tool.source, tool.path, tool.version) == ("kube-burner-ocp", "download", str(path), "1.12.10")
    assert tool.detail["tag"] == "v1.12.10" and tool.detail["asset"] == asset
    assert tool.detail["url"].endswith(f"/download/v1.12.10/{asset}")
    assert tool.detail["verified_with"] == ["digest", "kube-burner-ocp-checksums.txt"]
    assert tool.sha256 == hashlib.sha256(kube_burner_script("1.12.10")).hexdigest() == acquire.file_sha256(path)
    assert tool.detail["archive_sha256"] == hashlib.sha256(kb.routes[kb.asset_path("v1.12.10", asset)][1]).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(p.name for p in path.parent.iterdir()) == ["kube-burner-ocp", "record.json"]    # no LICENSE, no tmp
    record = json.loads((path.parent / "record.json").read_text())
    assert record["sha256"] == tool.sha256 and record["version"] == "1.12.10" and record["key"] == "v1.12.10"
    assert kb.hits[kb.api("releases/latest", KB_REPO)] == 1
    assert downloads(kb) == 2                     # the archive and the checksums file
    assert Tool.from_json(tool.to_json()) == tool


@pytest.mark.parametrize("version", ["1.12.1", "v1.12.1", "V1.12.1"])
def test_kube_burner_pinned_version_finds_the_title_cased_asset(kb, tmp_path, version):
    tool = get_kb(kb, tmp_path, version)
    assert tool.version == "1.12.1" and tool.detail["tag"] == "v1.12.1"
    assert tool.detail["asset"] == "kube-burner-ocp-V1.12.1-linux-x86_64.tar.gz"
    assert tool.detail["verified_with"] == ["kube-burner-ocp-checksums.txt"]
    assert tool.path == str(tmp_path / "cache" / "kube-burner-ocp" / "v1.12.1" / "kube-burner-ocp")
    assert kb.hits[kb.api("releases/tags/v1.12.1", KB_REPO)] == 1
    assert kb.hits[kb.api("releases/latest", KB_REPO)] == 0


def test_kube_burner_asset_pattern_lowercase_tag_and_arch(kb, tmp_path):
    assert get_kb(kb, tmp_path, "1.9.0").detail["asset"] == "kube-burner-ocp-v1.9.0-linux-x86_64.tar.gz"
    arm = get_kb(kb, tmp_path, "1.12.1", arch="aarch64", cache=tmp_path / "arm")
    assert arm.detail["asset"] == "kube-burner-ocp-V1.12.1-linux-arm64.tar.gz"
    with pytest.raises(AcquireError, match=r"has no asset kube-burner-ocp-v1.12.1-plan9-x86_64.tar.gz \(assets: "
                                           r"kube-burner-ocp-V1.12.1-darwin-x86_64.tar.gz, "):
        get_kb(kb, tmp_path, "1.12.1", os_name="plan9", cache=tmp_path / "plan9")


# The CLIs that come as tar.gz archives: (cli, how a release is published, its tag, its linux/x86_64 archive, its
# checksum file).
ARCHIVED_CLIS = [
    pytest.param("kube-burner-ocp", FakeGitHub.add_kube_burner_release, "v1.12.2",
                 "kube-burner-ocp-V1.12.2-linux-x86_64.tar.gz", "kube-burner-ocp-checksums.txt", id="kube-burner-ocp"),
    pytest.param("rosa", FakeGitHub.add_rosa_release, "v1.2.66", "rosa_linux_amd64.tar.gz",
                 "rosa_1.2.66_SHA256SUMS", id="rosa-konflux"),
    pytest.param("rosa", functools.partial(FakeGitHub.add_rosa_release, style="goreleaser"), "v1.2.63",
                 "rosa_Linux_x86_64.tar.gz", "rosa_1.2.63_checksums.txt", id="rosa-goreleaser"),
]


@pytest.mark.parametrize("cli, publish, tag, asset, sums", ARCHIVED_CLIS)
@pytest.mark.parametrize("bad", ["checksums", "digest"])
def test_archive_checksum_mismatch_installs_nothing(github, tmp_path, cli, publish, tag, asset, sums, bad):
    publish(github, tag, **{bad: "bad"})
    expected = f"{re.escape(sums)} says f{{64}}" if bad == "checksums" else "the release API says sha256:0{64}"
    with pytest.raises(AcquireError, match=rf"^{re.escape(asset)} of {tag} has sha256 [0-9a-f]{{64}}, but {expected}"):
        get_kb(github, tmp_path, tag, fn=ACQUIRE[cli])
    assert files_under(tmp_path / "cache" / cli) == []
    assert not (tmp_path / "cache" / cli / tag).exists()


def test_kube_burner_second_call_uses_the_cache_and_a_corrupt_copy_is_replaced(kb, tmp_path):
    first = get_kb(kb, tmp_path, "1.12.1")
    assert downloads(kb) == 2
    second = get_kb(kb, tmp_path, "V1.12.1")
    assert second.source == "cache" and (second.path, second.sha256) == (first.path, first.sha256)
    assert second.version == "1.12.1" and second.detail["asset"] == first.detail["asset"]
    assert downloads(kb) == 2 and kb.hits[kb.api("releases/tags/v1.12.1", KB_REPO)] == 1
    Path(first.path).write_bytes(b"#!/bin/sh\necho 'Version: tampered'\n")
    third = get_kb(kb, tmp_path, "1.12.1")
    assert third.source == "download" and third.sha256 == first.sha256 and third.version == "1.12.1"
    assert downloads(kb) == 4
    assert "is damaged (its sha256 does not match record.json)" in (tmp_path / "acquire.log").read_text()


@pytest.mark.parametrize("cli, publish, tag, asset, sums", ARCHIVED_CLIS)
@pytest.mark.parametrize("members, error", [         # {cli}: the binary's name
    ([("{cli}", b"#!/bin/sh\n"), ("../evil", b"pwned\n")], "unsafe entry '../evil'"),
    ([("/tmp/evil", b"pwned\n"), ("{cli}", b"#!/bin/sh\n")], "unsafe entry '/tmp/evil'"),
    ([("{cli}", "/bin/sh")], "a link '{cli}' to '/bin/sh'"),
    ([("{cli}", "LICENSE"), ("LICENSE", b"x")], "'{cli}' is not a regular file"),
    ([("LICENSE", b"x")], "has no {cli} in it"),
])
def test_unsafe_or_wrong_archives_are_refused(github, tmp_path, cli, publish, tag, asset, sums, members, error):
    publish(github, tag, members=[(name.format(cli=cli), content) for name, content in members])
    with pytest.raises(AcquireError, match=re.escape(asset) + ".*" + re.escape(error.format(cli=cli))):
        get_kb(github, tmp_path, tag, fn=ACQUIRE[cli])
    assert [p for p in files_under(tmp_path / "cache") if p.suffix != ".lock"] == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "cache" / "evil").exists()


def test_kube_burner_unknown_version_lists_the_newest_tags_in_version_order(kb, tmp_path):
    with pytest.raises(AcquireError) as info:
        get_kb(kb, tmp_path, "1.99.0")
    message = str(info.value)
    assert message.startswith(f"kube-burner-ocp version 1.99.0 (tag v1.99.0) does not exist in {KB_REPO}")
    assert message.endswith("newest available: v1.13.0-rc1, v1.12.10, v1.12.1, v1.9.0")
    assert files_under(tmp_path / "cache" / "kube-burner-ocp") == [] and downloads(kb) == 0


@pytest.mark.parametrize("cli, script, unusable, error", [
    ("kube-burner-ocp", kube_burner_script, "echo 'kube-burner-ocp, no idea which'",
     "printed no 'Version:' line for 'version'"),
    ("rosa", rosa_script, "echo 'Error: unknown flag: --client' >&2; exit 1",       # rosa before v1.2.36
     "does not run: 'version --client' exited 1"),
])
def test_archived_cli_explicit_path_is_verified_not_copied(tmp_path, cli, script, unusable, error):
    binary = tmp_path / cli
    binary.write_bytes(script("1.12.1"))
    binary.chmod(0o755)
    kwargs = {"cache": tmp_path / "cache", "log_path": tmp_path / "explicit.log"}
    tool = ACQUIRE[cli](explicit=str(binary), version="9.9.9", **kwargs)
    assert (tool.name, tool.source, tool.path, tool.version) == (cli, "explicit", str(binary), "1.12.1")
    assert tool.sha256 == acquire.file_sha256(binary) and tool.detail == {}
    assert not (tmp_path / "cache").exists()
    binary.write_text(f"#!/bin/sh\n{unusable}\n")
    with pytest.raises(AcquireError, match=re.escape(f"{cli} binary {binary} {error}")):
        ACQUIRE[cli](explicit=str(binary), version=None, **kwargs)


def test_kube_burner_two_processes_download_exactly_once(kb, tmp_path):
    acquire_in_two_processes("kube-burner-ocp", kb,
                             kb.asset_path("v1.12.1", "kube-burner-ocp-V1.12.1-linux-x86_64.tar.gz"), tmp_path)


# ---------------------------------------------------------------- rosa from GitHub releases
@pytest.fixture
def rosa(github):
    github.add_rosa_release("v1.2.40", style="goreleaser", sums="checksums.txt")     # GoReleaser's older default
    github.add_rosa_release("v1.2.41", style="goreleaser", checksums=None)            # no checksum file at all
    github.add_rosa_release("v1.2.64", style="goreleaser")
    github.add_rosa_release("v1.2.65", latest=True, digest="good")
    return github


@pytest.mark.parametrize("version, tag, asset, verified_with", [
    (None, "v1.2.65", "rosa_linux_amd64.tar.gz", ["digest", "rosa_1.2.65_SHA256SUMS"]),
    ("1.2.64", "v1.2.64", "rosa_Linux_x86_64.tar.gz", ["rosa_1.2.64_checksums.txt"]),
    ("v1.2.40", "v1.2.40", "rosa_Linux_x86_64.tar.gz", ["checksums.txt"]),
    ("1.2.41", "v1.2.41", "rosa_Linux_x86_64.tar.gz", []),
], ids=["konflux-latest", "goreleaser", "goreleaser-checksums.txt", "no-checksums"])
def test_rosa_release_is_downloaded_verified_and_cached(rosa, tmp_path, version, tag, asset, verified_with):
    tool = get_rosa(rosa, tmp_path, version)
    path = tmp_path / "cache" / "rosa" / tag / "rosa"
    assert (tool.name, tool.source, tool.path, tool.version) == ("rosa", "download", str(path), tag[1:])
    assert tool.detail["tag"] == tag and tool.detail["asset"] == asset and tool.detail["repo"] == ROSA_REPO
    assert tool.detail["url"].endswith(f"/download/{tag}/{asset}")
    assert tool.detail["verified_with"] == verified_with
    assert tool.detail["archive_sha256"] == hashlib.sha256(rosa.routes[rosa.asset_path(tag, asset)][1]).hexdigest()
    assert tool.sha256 == hashlib.sha256(rosa_script(tag[1:])).hexdigest() == acquire.file_sha256(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json", "rosa"]     # no README, no tmp
    unverified = "publishes no checksum for" in (tmp_path / "acquire.log").read_text()
    assert unverified == (not verified_with)
    fetched = downloads(rosa)
    assert fetched == (2 if verified_with else 1)          # the archive, and its manifest where there is one
    again = get_rosa(rosa, tmp_path, version)
    assert again.source == "cache" and (again.path, again.sha256, again.version) == (tool.path, tool.sha256, tag[1:])
    assert again.detail["asset"] == asset and downloads(rosa) == fetched
    assert rosa.hits[rosa.api(f"releases/tags/{tag}", ROSA_REPO)] == (0 if version is None else 1)


@pytest.mark.parametrize("version, kwargs, message", [
    ("1.2.65", {"arch": "s390x"}, "has no asset rosa_linux_s390x.tar.gz (assets: rosa_1.2.65_SHA256SUMS, "
     "rosa_darwin_arm64.tar.gz, rosa_linux_amd64.tar.gz, rosa_linux_amd64.zip, rosa_linux_arm64.tar.gz, "
     "rosa_windows_amd64.zip)"),
    ("1.2.64", {"os_name": "windows"}, "has no asset rosa_windows_amd64.tar.gz (assets: rosa_1.2.64_checksums.txt, "
     "rosa_Darwin_x86_64.tar.gz, rosa_Linux_arm64.tar.gz, rosa_Linux_x86_64.tar.gz, rosa_Windows_x86_64.zip)"),
])
def test_rosa_missing_asset_lists_the_assets(rosa, tmp_path, version, kwargs, message):
    with pytest.raises(AcquireError, match=re.escape(f"release v{version} of {ROSA_REPO} {message}")):
        get_rosa(rosa, tmp_path, version, **kwargs)
    assert downloads(rosa) == 0 and files_under(tmp_path / "cache" / "rosa") == []


def test_rosa_asset_pattern_arch_and_both_spellings(rosa, tmp_path):
    assert get_rosa(rosa, tmp_path, "1.2.64", arch="aarch64").detail["asset"] == "rosa_Linux_arm64.tar.gz"
    both = ROSA_ASSETS["goreleaser"] + ROSA_ASSETS["konflux"]          # a release that carries both spellings
    rosa.add_archive_release(ROSA_REPO, "v1.2.66", both, [("rosa", rosa_script("1.2.66"))], "rosa_1.2.66_SHA256SUMS")
    tool = get_rosa(rosa, tmp_path, "1.2.66")
    assert tool.detail["asset"] == "rosa_linux_amd64.tar.gz"
    assert tool.detail["verified_with"] == ["rosa_1.2.66_SHA256SUMS"]


def test_rosa_two_processes_download_exactly_once(rosa, tmp_path):
    acquire_in_two_processes("rosa", rosa, rosa.asset_path("v1.2.65", "rosa_linux_amd64.tar.gz"), tmp_path)
