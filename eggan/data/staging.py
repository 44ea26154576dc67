"""Writing a dataset folder whole or not at all, and never over data nobody asked to replace.

`eggan-bench data synth` and every real-data reader write through ``replacing_dataset``: a
staging folder beside the output, renamed into place when complete. A failed or killed reader
therefore leaves no half-written folder, an existing dataset stays as it was unless ``--force``
replaces it (images, index and provenance together, so no stale ``dataset.json`` survives), and
a folder that is not a dataset, or that holds the reader's source, is never replaced.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eggan.data.dataset import INDEX_NAME
from eggan.errors import DataError, OutputError
from eggan.io import TEMP_SUFFIX, make_dirs, output_errors, remove_if_empty


@contextmanager
def replacing_dataset(out: str | Path, force: bool = False, source: str | Path | None = None) -> Iterator[Path]:
    """A staging folder that becomes the dataset folder ``out`` when the body succeeds.

    A dataset is written whole or not at all: into ``.<name>.<pid>.tmp`` beside ``out``, renamed
    into place at the end and deleted on failure, so a failed reader leaves nothing behind. An
    existing dataset (with an index) is replaced, images, index and provenance together, only with
    ``force``; a non-empty folder that is not a dataset, or that holds ``source``, never is.
    Staging folders of killed writers (their pid gone) are removed on the next start.
    """
    out = Path(out)
    check_replaceable(out, force, source)
    staging = out.with_name(f".{out.name}.{os.getpid()}{TEMP_SUFFIX}")
    created = make_dirs(out.parent)
    with output_errors(out):
        for stale in out.parent.glob(f".{glob.escape(out.name)}.*{TEMP_SUFFIX}"):
            if stale == staging or not _alive(stale.name[len(out.name) + 2 : -len(TEMP_SUFFIX)]):
                shutil.rmtree(stale, ignore_errors=True)
        staging.mkdir()
    try:
        yield staging
        check_replaceable(out, force, source)  # another process may have written it meanwhile
        with output_errors(out):
            if out.exists():
                previous = staging.with_name(f"{staging.name}.old{TEMP_SUFFIX}")
                os.rename(out, previous)
                os.rename(staging, out)
                shutil.rmtree(previous)
            else:
                os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_if_empty(created)
        raise


def check_replaceable(out: Path, force: bool, source: str | Path | None = None) -> None:
    """Refuse an output folder that would destroy an input or data nobody asked to replace."""
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", out)
    if source is not None:
        src, dst = Path(source).resolve(), out.resolve()
        if dst == src or src in dst.parents:
            raise DataError("the output folder must lie outside the source", out)
        if dst in src.parents:
            raise OutputError(f"holds the source {source}; choose another --out", out)
    if out.is_dir() and any(out.iterdir()):
        if not (out / INDEX_NAME).is_file():
            raise OutputError("is not empty and not a dataset folder; choose a new --out", out)
        if not force:
            raise OutputError(f"is already a dataset ({INDEX_NAME}); pass --force to replace it", out)


def _alive(pid: str) -> bool:
    """Whether the process that named a staging folder still runs (on this machine)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
