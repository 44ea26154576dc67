"""Atomic file writes: a temp file in the same folder, fsync, then rename.

Checkpoints, results and indexes go through here, so an interrupted run never leaves a
half-written file where a good one used to be. A write that cannot happen (read-only folder, full
disk, a folder where the file should be) is a one-line ``OutputError`` naming the file. Text and
bytes whose file already holds exactly them are not rewritten (``atomic_write_bytes``), so a
finished run keeps its mtimes and can be read from a read-only mount. The temp files
(``.<name>.*.tmp``) a killed write leaves are removed by the next process that locks the folder
(``eggan.core.lock``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from eggan.errors import OutputError

TEMP_SUFFIX = ".tmp"


@contextmanager
def output_errors(path: str | Path) -> Iterator[None]:
    """Report an ``OSError`` raised while writing ``path`` as one line naming it, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write ({exc.strerror or type(exc).__name__})", path) from None


def make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns the ones created, deepest first, so a
    failed command can take them away again (``remove_if_empty``)."""
    if folder.exists() and not folder.is_dir():
        raise OutputError("exists and is not a folder", folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    with output_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_if_empty(created: list[Path]) -> None:
    """Remove folders ``make_dirs`` created, deepest first, as long as they are empty."""
    for path in created:
        try:
            path.rmdir()
        except OSError:
            return  # not empty (something was written) or already gone


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path`` and rename it into place."""
    path = Path(path)
    if path.is_dir():
        raise OutputError("is a folder; expected a file name", path)
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` unless the file already holds exactly it (mtime and read-only mounts kept)."""
    path = Path(path)
    if _holds(path, data):
        return path
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def sha256(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB chunks (weights files run to hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
