"""Small file helpers shared by the simulated world's pieces."""
from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` atomically with ``mode`` (0600 by default: tokens, kubeconfigs)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
