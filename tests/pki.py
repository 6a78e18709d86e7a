"""Test certificates made with the openssl command: a CA, a server certificate for 127.0.0.1, a client one."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(folder: Path, client_subject: str, stranger: str = "stranger") -> Path:
    """``ca.crt``/``.key``, ``server.crt``/``.key`` (127.0.0.1) and ``client.crt``/``.key`` signed by the CA, and a
    ``<stranger>.crt`` CA that signs nothing; skips the test when openssl is missing."""
    if not any((Path(p) / "openssl").exists() for p in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("openssl is not installed")
    for ca in ("ca", stranger):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
                 "-days", "2", "-subj", f"/CN={ca}", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for who, subject in (("server", "/CN=127.0.0.1"), ("client", client_subject)):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}.key", "-out", f"{who}.csr",
                 "-subj", subject, cwd=folder)
        extra = ["-extfile", "san.cnf"] if who == "server" else []
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{who}.crt", "-days", "2", *extra, cwd=folder)
    return folder
