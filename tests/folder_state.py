"""What a folder holds, to show that a command changed nothing: every path with mtime and hash."""

from __future__ import annotations

import hashlib
from pathlib import Path


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``folder`` with its mtime and content hash."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, "" if p.is_dir() else
                                         hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*"))}
