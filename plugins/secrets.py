"""The run's secrets and their redaction wherever text leaves the harness.

Every process of the run registers the secrets it knows (OCM token, AWS keys,
pull-secret auths, ES credentials, Prometheus tokens minted for a load).  From then
on they are replaced by ``***`` in: log records (a log-record factory, so pytest's
captured logs, the log file, JUnit and HTML reports all get the redacted text), the
argv that ``process.run`` logs, the output of children written to a cluster's logs,
and test reports (failure text and captured sections).  Kubernetes client
response bodies are never logged (they carry Secrets and tokens at DEBUG).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Iterable

import pytest

REDACTED = "***"
MIN_LENGTH = 4            # shorter values would redact ordinary words
ENV_SECRETS = ("OCM_TOKEN", "ES_PASSWORD", "ES_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

_known: set[str] = set()
_lock = threading.Lock()
_installed = False


def register(*values: str | None) -> None:
    """Remember secret values of this process (empty and very short ones are ignored).

    A URL with credentials also registers its password (and its percent-decoded form).
    """
    from urllib.parse import unquote, urlsplit

    found = [v for v in values if isinstance(v, str)]
    for value in list(found):
        if "://" in value and "@" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found += [password, unquote(password)]
    with _lock:
        _known.update(v for v in found if len(v) >= MIN_LENGTH)


def known() -> list[str]:
    """The registered secrets, longest first (so a secret containing another is replaced whole)."""
    with _lock:
        return sorted(_known, key=len, reverse=True)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every registered (and every ``extra``) secret replaced by ``***``."""
    values = set(known())
    values.update(v for v in extra if isinstance(v, str) and len(v) >= MIN_LENGTH)
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def pull_secret_auths(path: str | None) -> list[str]:
    """The credentials inside a pull secret file (each registry's ``auth`` and password)."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8") as fh:
            auths = (json.load(fh) or {}).get("auths") or {}
    except (OSError, ValueError, AttributeError):
        return []
    found = []
    for entry in auths.values() if isinstance(auths, dict) else []:
        if isinstance(entry, dict):
            found += [entry.get("auth"), entry.get("password"), entry.get("identitytoken")]
    return [v for v in found if isinstance(v, str) and v]


def register_environment() -> None:
    """Secrets this process was given through its environment."""
    register(*(os.environ.get(name) for name in ENV_SECRETS))


def install_log_redaction() -> None:
    """Redact registered secrets from every log record of this process; never log API response bodies."""
    global _installed
    if _installed:
        return
    _installed = True
    logging.getLogger("kubernetes.client.rest").setLevel(logging.INFO)
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not _known:
            return record
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error handling
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return record

    logging.setLogRecordFactory(factory)


def redact_report(report: pytest.TestReport) -> None:
    """Remove registered secrets from a test report's failure text and captured sections."""
    if not _known:
        return
    report.sections = [(title, redact(content)) for title, content in report.sections]
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact(text)
        if clean != text:
            report.longrepr = clean


def register_run(platform: dict | None) -> None:
    """The secrets of a run's platform descriptor (AWS keys, OCM token, ...) and its pull secret's auths."""
    if platform:
        register(*(platform.get("secrets") or []), *pull_secret_auths(platform.get("pull_secret")))


# ------------------------------------------------------------------- hooks
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    register_environment()
    install_log_redaction()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Register what the run knows: the settings' secrets (controller) and the platform's (every process)."""
    from .options import get_settings
    from .session import CONTEXT_KEY

    config = session.config
    if not hasattr(config, "workerinput"):
        settings = get_settings(config)
        register(*settings.secrets(), *pull_secret_auths(settings.pull_secret_file))
    ctx = config.stash.get(CONTEXT_KEY, None)
    if ctx is not None:
        register_run(ctx.platform)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    redact_report(outcome.get_result())
