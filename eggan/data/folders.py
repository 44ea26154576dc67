"""The StarGAN folder layout as a suite dataset: ``train/<expression>/*``, ``test/<expression>/*``.

This is what StarGAN's RaFD instructions produce (faces already cropped, split already made).
Semantics follow torchvision's ImageFolder: each sub-folder of ``train``/``test`` is a class,
searched recursively. Class folders must be named after the eight expressions (any case); the
suite stores the name, so its class index is the position in ``EXPRESSIONS`` (alphabetical),
which equals ImageFolder's index whenever all eight folders exist.

The given train/test split is kept and recorded. Identities are not part of the layout, so they
come from the file name: ``identity_pattern`` is a regular expression searched in the file name
whose group ``identity`` (or first group) is the identity. The default reads official RaFD names
(``Rafd090_01_...`` -> ``01``). A file the pattern does not match is an error, never a guess;
pass ``'^(.*)$'`` to make every file its own identity. An identity found in both splits is an
error (StarGAN's instructions do not say how to split; this suite evaluates unseen people).

AU labels are the suite's currency, so OpenFace CSVs are required: a folder of per-image CSVs
(mirroring ``train/<expression>/`` or flat by file stem) or one CSV with a ``name`` column.
"""

from __future__ import annotations

import re
from pathlib import Path

from eggan.data.aus import EXPRESSIONS
from eggan.data.dataset import REQUIRED_SPLITS
from eggan.data.ingest import (
    IngestReport,
    Record,
    SplitRule,
    attach_aus,
    copy_image,
    list_images,
    parse_expression,
    write_dataset,
)
from eggan.data.openface import read_au_source
from eggan.errors import DataError
from eggan.limits import MAX_BAD_IMAGE_FRACTION

RAFD_IDENTITY_PATTERN = r"^Rafd\d{3}_0*(?P<identity>\d+)_"


def identity_of(filename: str, pattern: re.Pattern[str], source: Path) -> str:
    """The identity coded in a file name; a name the pattern does not match is an error."""
    match = pattern.search(filename)
    if match is None or not match.groups():
        raise DataError(f"cannot read an identity from the file name with pattern {pattern.pattern!r}; "
                        "pass --identity-pattern (e.g. '^(.*)$' for one identity per file)", source)
    return match["identity"] if "identity" in pattern.groupindex else match[1]


def index_folders(src: str | Path, identity_pattern: str = RAFD_IDENTITY_PATTERN) -> list[Record]:
    """Records for ``src/{train,test}/<expression>/**`` with the given split kept."""
    src = Path(src)
    try:
        pattern = re.compile(identity_pattern)
    except re.error as exc:
        raise DataError(f"bad --identity-pattern {identity_pattern!r} ({exc})") from None
    records = []
    for split in REQUIRED_SPLITS:
        split_dir = src / split
        if not split_dir.is_dir():
            raise DataError(f"no {split}/ folder; expected the StarGAN layout {split}/<expression>/*.jpg",
                            src)
        classes = sorted(p for p in split_dir.iterdir() if p.is_dir())
        if not classes:
            raise DataError(f"no expression folders; expected one of {', '.join(EXPRESSIONS)}", split_dir)
        for folder in classes:
            expression = parse_expression(folder.name, folder)
            for path in list_images(folder):
                records.append(Record(
                    source=path, name=path.relative_to(src).as_posix(),
                    identity=identity_of(path.name, pattern, path), expression=expression,
                    split=split))
    return records


def ingest_folders(
    src: str | Path,
    au_source: str | Path,
    out: str | Path,
    identity_pattern: str = RAFD_IDENTITY_PATTERN,
    min_confidence: float = 0.0,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
) -> IngestReport:
    """Copy a StarGAN-layout folder with its OpenFace AUs into a suite dataset folder."""
    records = index_folders(src, identity_pattern)
    readout = read_au_source(au_source, [r.name for r in records], min_confidence)
    attach_aus(records, readout)
    return write_dataset(records, out, copy_image, SplitRule("given"), reader="folders", source=src,
                         extra={"identity_pattern": identity_pattern, "aus": readout.summary()},
                         force=force, max_failed=max_failed)
