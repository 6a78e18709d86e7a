"""One simulated world (``python -m sim serve --dir DIR ...``) as a subprocess, shared by the tests.

``SimWorld(dir, *args).start()`` starts it and waits (bounded) for ``DIR/ready``; ``stop()`` sends SIGINT
and kills it if it does not exit in time; ``restart(*args)`` stops it and starts it again in the same
folder (optionally with other ``serve`` arguments).  The world's stdout banner is in ``banner``, its
stderr in ``DIR.parent/DIR.name-serve.log``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"


def interruptible() -> None:
    """``preexec_fn`` of the processes the tests stop or interrupt with SIGINT: a SIGINT this test process
    inherited as ignored (a background job of a non-interactive shell: ``cmd &``, ``nohup``) is not passed on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class SimWorld:
    """A ``python -m sim serve`` subprocess in ``dir``."""

    def __init__(self, dir_: Path, *args: str):
        self.dir = Path(dir_)
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.log = None

    # ----------------------------------------------------------- lifecycle
    def start(self, timeout: float = 30.0) -> "SimWorld":
        """Start ``sim serve`` and wait up to ``timeout`` seconds for ``DIR/ready``."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.dir.parent / f"{self.dir.name}-serve.log", "ab")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "sim", "serve", "--dir", str(self.dir), *self.args],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     preexec_fn=interruptible)
        deadline = time.monotonic() + timeout
        while not (self.dir / "ready").exists():
            assert self.proc.poll() is None, f"sim serve exited: {self.log.name}"
            assert time.monotonic() < deadline, "world not ready"
            time.sleep(0.05)
        self.banner = self.proc.stdout.readline()
        self.world = json.loads((self.dir / "world.json").read_text())
        return self

    def stop(self, sig=signal.SIGINT, timeout: float = 10.0, check: bool = True) -> int:
        """Send ``sig`` and wait; kill it after ``timeout`` (an AssertionError with ``check``)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            if check:
                raise AssertionError("sim serve did not stop in time")
            return self.proc.returncode
        finally:
            self.proc.stdout.close()
            self.log.close()

    def restart(self, *args: str, timeout: float = 30.0) -> "SimWorld":
        """Stop the world and start it again in the same folder (with ``args`` instead, if given)."""
        self.stop()
        if args:
            self.args = list(args)
        return self.start(timeout)

    # ----------------------------------------------------------- its files
    @property
    def kubeconfig(self) -> str:
        return str(self.dir / "kubeconfig")

    @property
    def hypershift(self) -> str:
        return str(self.dir / "bin" / "hypershift")

    @property
    def ocm(self) -> str:
        return str(self.dir / "bin" / "ocm")

    @property
    def pull_secret(self) -> str:
        return str(self.dir / "pull-secret.json")

    # ----------------------------------------------------------- its stand-in CLI
    def _cli_env(self, env: dict | None = None) -> dict:
        e = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        e["KUBECONFIG"] = self.kubeconfig
        e.update(env or {})
        return e

    def cli(self, *args: str, timeout: float = 30.0, cwd: Path | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
        """Run the world's stand-in ``hypershift`` (without PYTHONPATH, KUBECONFIG set)."""
        return subprocess.run([self.hypershift, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=str(cwd or self.dir.parent), env=self._cli_env(env))

    def cli_async(self, *args: str, cwd: Path | None = None) -> subprocess.Popen:
        return subprocess.Popen([self.hypershift, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=str(cwd or self.dir.parent), env=self._cli_env())

    def create_args(self, name: str, replicas: int = 2, *extra: str) -> list[str]:
        return ["create", "cluster", "aws", "--name", name, "--namespace", "clusters",
                "--base-domain", self.world["base_domain"], "--pull-secret", self.pull_secret,
                "--region", self.world["region"], "--node-pool-replicas", str(replicas),
                "--release-image", RELEASE, *extra]


def wait_for(fn, timeout: float, what: str, interval: float = 0.05):
    """Call ``fn`` until it returns something truthy (bounded by ``timeout``); return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
