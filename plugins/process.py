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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import secrets as _secrets
from .secrets import REDACTED  # noqa: F401 - re-exported for callers

log = logging.getLogger("hcp.process")
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


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the run's registered secrets nor ``secrets``."""
    return _secrets.redact(text, secrets)


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
    # With secrets about, the child's output goes through redaction on its way to the log.
    filtered = bool(log_path) and bool(secrets or _secrets.known())
    timed_out = False
    pump = None
    try:
        if capture:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE if filtered else out, env=child_env, cwd=cwd,
                                    start_new_session=True)
        else:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if filtered else out,
                                    stderr=subprocess.STDOUT, env=child_env, cwd=cwd, start_new_session=True)
            if filtered:
                pump = threading.Thread(target=_copy_redacted, args=(proc.stdout, out, secrets), daemon=True,
                                        name=f"output-{proc.pid}")
                pump.start()
        captured = errors = None
        try:
            try:
                if capture:
                    captured, errors = proc.communicate(timeout=timeout)
                else:
                    proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                log.warning("timeout after %.0fs: %s", timeout, shown)
                stop(proc, grace)
                if capture:
                    captured, errors = _leftover(proc)
        except BaseException:
            # Interrupted (pytest-timeout, KeyboardInterrupt): never leave the child running.
            stop(proc, grace)
            raise
        finally:
            if pump is not None:
                pump.join(timeout=5.0)
        if errors and log_path:
            out.write(redact(errors.decode(errors="replace"), secrets).encode())
    finally:
        if log_path:
            out.close()
    ended = time.time()
    result = Result(argv=shlex.split(shown), returncode=None if timed_out else proc.returncode,
                    started=started, ended=ended, timed_out=timed_out, log_path=log_path,
                    stdout=captured.decode(errors="replace") if captured is not None else None)
    log.info("exit %s after %.1fs: %s", "timeout" if timed_out else proc.returncode, result.duration, argv[0])
    return result


def _copy_redacted(source, sink, secrets: list[str]) -> None:
    """Copy a child's output line by line into its log, without secrets."""
    try:
        for line in iter(source.readline, b""):
            sink.write(redact(line.decode(errors="replace"), secrets).encode())
            sink.flush()
    except (OSError, ValueError):  # the log was closed under us (interrupted run)
        pass
    finally:
        source.close()


def _leftover(proc: subprocess.Popen) -> tuple[bytes | None, bytes | None]:
    try:
        return proc.communicate(timeout=5.0)
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return None, None


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
