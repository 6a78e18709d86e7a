"""The subprocess runner: redacted argv, output in the log, timeouts that stop the child."""
from __future__ import annotations

import logging
import sys
import time

from plugins import process


def test_output_goes_to_the_log_and_secrets_are_redacted(tmp_path, caplog):
    log_path = tmp_path / "cmd.log"
    with caplog.at_level(logging.INFO, logger="hcp.process"):
        result = process.run([sys.executable, "-c", "print('hello')", "--token", "s3cr3t-value"],
                             log_path=log_path, secrets=["s3cr3t-value"])
    assert result.ok and result.returncode == 0
    text = log_path.read_text()
    assert "hello" in text
    assert "s3cr3t-value" not in text and "s3cr3t-value" not in caplog.text
    assert "***" in caplog.text
    assert "s3cr3t-value" not in " ".join(result.argv)


def test_timeout_interrupts_then_kills(tmp_path):
    script = ("import signal, time\n"
              "signal.signal(signal.SIGINT, lambda *a: print('got SIGINT', flush=True))\n"
              "time.sleep(30)\n")
    started = time.monotonic()
    result = process.run([sys.executable, "-c", script], log_path=tmp_path / "hang.log", timeout=0.5, grace=0.5)
    assert result.timed_out and result.returncode is None and not result.ok
    assert "got SIGINT" in (tmp_path / "hang.log").read_text()
    assert time.monotonic() - started < 25  # it did not wait for the child's own 30 s


def test_failure_exit_code_and_tail(tmp_path):
    result = process.run([sys.executable, "-c", "import sys; print('line1'); print('boom'); sys.exit(1)"],
                         log_path=tmp_path / "f.log")
    assert result.returncode == 1 and not result.ok
    assert result.tail(1) == "boom"
