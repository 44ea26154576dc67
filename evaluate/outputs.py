"""A folder of another method's outputs, read back for scoring: one ``<pair>.png`` per protocol pair.

A method that is not one of ours (another framework, another language) exports the protocol
(``eggan-bench export-protocol``), writes its outputs as ``0000.png``, ``0001.png``, ... (the pair
id on four digits, 8-bit RGB at the protocol's size) and has them scored (``eggan-bench score``).
Such a folder is checked whole before anything is written: every missing, extra, wrongly sized
or unreadable file is named in one line, because a partial folder scored as a row would be a
table figure over other pairs than every other row's. The folder's content hash is recorded with
its row, so a folder changed since it was scored is scored again (``evaluate.outside_rows``).

Scored folders are registered under ``RUN/outside/<name>/seed<k>/``: ``source.json`` (the folder
and its hash when registered), and once scored ``pairs.csv`` and ``summary.json`` as for a
trained seed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import torch

from eggan.data.decode import ImageRefused, open_image
from eggan.errors import ConfigError, DataError

OUTSIDE_DIR = "outside"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
SHOWN = 5  # files named per problem in the one-line error; the rest are counted


def output_name(pair: int) -> str:
    """The file an outside method writes for protocol pair ``pair``."""
    return f"{pair:04d}.png"


def check_name(name: str, taken: set[str]) -> None:
    """A row name that fits a folder name and a table, and is not a trained label or reference row."""
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"--name {name!r}: use 1-64 letters, digits, '.', '_', '+' or '-', starting with a "
                          "letter or digit")
    if name in taken:
        raise ConfigError(f"--name {name!r} is already a row of this run (a trained label or a reference row); "
                          "choose another")


def _listing(kind: str, names: list[str]) -> str:
    more = f" (+{len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    return f"{kind} {', '.join(names[:SHOWN])}{more}"


def read_outputs(folder: str | Path, pair_ids: list[int], size: int) -> torch.Tensor:
    """Every output of ``folder`` as N x 3 x size x size uint8, in ``pair_ids`` order; or one
    ``DataError`` naming every missing, extra, wrongly sized and unreadable file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("not a folder of outputs (expected one <pair>.png per protocol pair)", folder)
    expected = [output_name(p) for p in pair_ids]
    present = {p.name for p in folder.iterdir()}
    missing = [n for n in expected if n not in present]
    extra = sorted(present - set(expected))
    wrong, unreadable = [], []
    images = np.zeros((len(expected), size, size, 3), dtype=np.uint8)
    for i, name in enumerate(expected):
        if name in missing:
            continue
        try:
            with open_image(folder / name) as image:
                if image.mode != "RGB" or image.size != (size, size):
                    wrong.append(f"{name} ({image.size[0]}x{image.size[1]} {image.mode})")
                    continue
                images[i] = np.asarray(image)
        except (OSError, ValueError, SyntaxError, ImageRefused) as exc:
            unreadable.append(f"{name} ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    problems = [_listing(kind, names) for kind, names in (("missing", missing), ("extra", extra),
                ("not 8-bit RGB " + f"{size}x{size}:", wrong), ("unreadable", unreadable)) if names]
    if problems:
        raise DataError(f"not a whole folder of outputs for {len(expected)} pairs: {'; '.join(problems)}; "
                        "nothing was scored or written", folder)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def outputs_sha256(folder: str | Path, pair_ids: list[int]) -> str:
    """One hash of the folder's outputs (name and bytes of each, in pair order): a folder changed
    since it was scored hashes differently and is scored again."""
    digest = hashlib.sha256()
    for pair in pair_ids:
        name = output_name(pair)
        digest.update(name.encode())
        digest.update(hashlib.sha256((Path(folder) / name).read_bytes()).digest())
    return digest.hexdigest()
