"""The one place that runs child processes.

``run`` logs the argv with secrets redacted, sends the child's stdout and stderr
to a log file in the cluster's folder, bounds it with a timeout (SIGINT first,
so CLIs that trap it can clean up, then SIGKILL), and never leaves a child
behind when the caller is interrupted (pytest-timeout, Ctrl-C).
"""
from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

log = logging.getLogger("hcp.process")

REDACTED = "***"
INTERRUPT_GRACE = 10.0  # seconds between SIGINT and SIGKILL


@dataclass
class Result:
    argv: list[str]          # redacted
    returncode: int | None   # None when it had to be killed
    started: float           # epoch seconds
    ended: float
    timed_out: bool
    log_path: Path | None
    stdout: str | None = None  # only with capture=True: kept in memory, never logged

    @property
    def duration(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 5) -> str:
        """Last lines of the log, for error messages."""
        if not self.log_path or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            text = fh.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def render(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    return redact(shlex.join(argv), list(secrets))


class CommandTimeout(Exception):
    pass


def run(argv: Sequence[str], *, log_path: Path | None = None, timeout: float | None = None,
        env: Mapping[str, str] | None = None, secrets: Iterable[str] = (), cwd: str | os.PathLike | None = None,
        grace: float = INTERRUPT_GRACE, capture: bool = False) -> Result:
    """Run ``argv`` to completion (or until ``timeout``) with output appended to ``log_path``.

    With ``capture`` the child's stdout is returned in ``Result.stdout`` instead of
    going to the log (for output that may hold credentials, such as a kubeconfig);
    stderr still goes to the log.
    """
    argv = [str(a) for a in argv]
    secrets = [s for s in secrets if s]
    shown = render(argv, secrets)
    log.info("run: %s", shown)
    child_env = dict(os.environ if env is None else env)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    started = time.time()
    if log_path:
        out.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S%z')} $ {shown}\n".encode())
        out.flush()
    timed_out = False
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if capture else out,
                                stderr=out if capture else subprocess.STDOUT, env=child_env, cwd=cwd,
                                start_new_session=True)
        captured = None
        try:
            try:
                if capture:
                    captured, _ = proc.communicate(timeout=timeout)
                else:
                    proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                log.warning("timeout after %.0fs: %s", timeout, shown)
                stop(proc, grace)
        except BaseException:
            # Interrupted (pytest-timeout, KeyboardInterrupt): never leave the child running.
            stop(proc, grace)
            raise
    finally:
        if log_path:
            out.close()
    ended = time.time()
    result = Result(argv=shlex.split(shown), returncode=None if timed_out else proc.returncode,
                    started=started, ended=ended, timed_out=timed_out, log_path=log_path,
                    stdout=captured.decode(errors="replace") if captured is not None else None)
    log.info("exit %s after %.1fs: %s", "timeout" if timed_out else proc.returncode, result.duration, argv[0])
    return result


def stop(proc: subprocess.Popen, grace: float = INTERRUPT_GRACE) -> None:
    """SIGINT the child's process group, then SIGKILL it if it is still there after ``grace``."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def spawn(argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None,
          secrets: Iterable[str] = ()) -> subprocess.Popen:
    """Start a long-running child (a server) in its own session, output to ``log_path``."""
    argv = [str(a) for a in argv]
    log.info("start: %s", render(argv, secrets))
    with open(log_path, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ if env is None else env), start_new_session=True)
