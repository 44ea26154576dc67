"""One writer per output folder: a lock file naming its holder, held while a process writes there.

Two processes training into one ``--out`` would overwrite each other's checkpoints, and with
different configs one model would be silently lost. ``locked_dir`` creates the folder, takes an
exclusive ``flock`` on ``<folder>/.eggan-bench.lock`` and writes the holder's pid and host into
it; a second process gets a one-line error naming that holder. The kernel drops a ``flock`` when
its process dies, so a lock file left by a killed run is free: it is taken over with a message.
The new holder also removes the temp files a killed atomic write left (``eggan.io``).

Every command that writes into a run folder takes its lock: `train` and `run` while they train,
`evaluate`, `throughput --run` and `report` while they write ``results.json`` and the tables, so
``results.json`` is only ever written, whole, by the one process that holds the folder. A command
that finds the folder held refuses in one line (``advice`` says what to do instead).

A folder on a read-only mount gets no lock (nobody can write there); the lock is re-entrant within
a process, so `run` can hold its run folder while the evaluation it calls locks it again. A folder
the lock created is removed again when the body fails before writing anything into it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from eggan.errors import OutputError
from eggan.io import TEMP_SUFFIX, make_dirs, remove_if_empty

LOCK_NAME = ".eggan-bench.lock"
WRITER_ADVICE = "wait for it to finish or choose another --out"
READER_ADVICE = "wait for it to finish (it writes results.json and the tables itself), then run this again"
_held: set[Path] = set()  # folders this process holds (resolved), for re-entry


@contextmanager
def locked_dir(folder: str | Path, log: Callable[[str], None] | None = None,
               advice: str = WRITER_ADVICE) -> Iterator[Path]:
    """Create ``folder`` if needed and hold its lock for the body; see the module docstring."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _held:
        yield folder
        return
    created = make_dirs(folder)
    try:
        fd = _acquire(folder, log or (lambda _msg: None), advice)
        _held.add(key)
        try:
            removed = 0 if fd is None else remove_stale_temps(folder)
            if removed and log is not None:
                log(f"{folder}: removed {removed} temp file(s) of an interrupted write")
            yield folder
        finally:
            _held.discard(key)
            if fd is not None:
                _release(folder, fd)
    except BaseException:
        remove_if_empty(created)
        raise


def _acquire(folder: Path, log: Callable[[str], None], advice: str) -> int | None:
    path = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return None  # read-only here: nobody can write, and any write will say so
            raise OutputError(f"cannot write ({exc.strerror})", path) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            raise OutputError(f"in use by {holder}; {advice}", folder) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file between our open and flock: retry
    previous = _read(fd)
    if previous:
        log(f"{folder}: took over the lock of {_describe(previous)}, which is no longer running")
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    return fd


def _release(folder: Path, fd: int) -> None:
    (folder / LOCK_NAME).unlink(missing_ok=True)  # before unlocking: a waiter re-checks the inode
    os.close(fd)


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {"pid": "?", "host": "?"}
    return data if isinstance(data, dict) else {"pid": "?", "host": "?"}


def _describe(holder: dict[str, object]) -> str:
    since = f" since {holder['since']}" if holder.get("since") else ""
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}{since}"


def remove_stale_temps(folder: Path, depth: int = 4) -> int:
    """Delete the temp files of killed writes under ``folder``: ``.<name>.<8 chars>.tmp`` of
    ``atomic_write`` and ``.<name>.tmp`` of the dataset readers. Only as deep as the suite's own
    layouts go, and not in a sub-folder that another lock guards."""
    removed = 0
    for root, dirs, files in os.walk(folder):
        deep = len(Path(root).relative_to(folder).parts) >= depth
        dirs[:] = [] if deep else [d for d in dirs if not (Path(root, d) / LOCK_NAME).exists()]
        for name in files:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                Path(root, name).unlink(missing_ok=True)
                removed += 1
    return removed
