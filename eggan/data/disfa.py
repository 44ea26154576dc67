"""DISFA as the EGGAN authors' code reads it: one list file and one folder of aligned faces.

The list has no header; each line is ``filename v1 ... v17``, whitespace separated, the 17 AU
intensities in the paper's order (``AU_COLUMNS``) on the 0-5 scale. DISFA codes 12 of them
(``DISFA_CODED_AUS``); the list holds 0 for the other five (AU 7, 10, 14, 23, 45), which are written
to the dataset as missing (empty cells, ``coded_aus`` in dataset.json), never as 0: the list's
zeros are a placeholder, not an observation, and as ground truth they would reward a method for
leaving those AUs off. A non-zero value there means the list is not in this layout and is refused.
Identity = the file-name
prefix before the first ``_`` (DISFA subjects ``SN001`` ... ``SN032``). Images are copied
unchanged (the authors' faces are already aligned; the loader resizes them).

Split. The suite's default is its usual seeded identity-level split. The authors' own split is
available as an explicit option, labelled ``image`` in ``dataset.json``: Python's
``random.seed(1234)`` shuffle of the list lines, the first 20,000 lines are the test set and the
rest train, so test subjects also appear in training (results on it measure seen identities).
Blank lines are ignored before the shuffle; the authors' file has none.
"""

from __future__ import annotations

import math
from pathlib import Path

from eggan.data.aus import AU_COLUMNS, AU_MAX, DISFA_CODED_AUS
from eggan.data.ingest import DEFAULT_TEST_FRACTION, IngestReport, Record, SplitRule, copy_image, write_dataset
from eggan.errors import DataError
from eggan.limits import MAX_BAD_IMAGE_FRACTION

AUTHORS_SEED = 1234
AUTHORS_TEST_LINES = 20_000


def read_disfa_list(path: str | Path) -> list[tuple[str, tuple[float, ...]]]:
    """(file name, 17 AU intensities) per non-blank line, NaN for the five AUs DISFA does not code
    (the list's 0 there is a placeholder); any malformed line names its number."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the DISFA list ({exc})", path) from None
    entries = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 + len(AU_COLUMNS):
            raise DataError(f"line {number} has {len(fields)} fields; expected a file name and "
                            f"{len(AU_COLUMNS)} AU intensities", path)
        try:
            values = tuple(float(v) for v in fields[1:])
        except ValueError:
            raise DataError(f"line {number} has a value that is not a number", path) from None
        for column, value in zip(AU_COLUMNS, values, strict=True):
            if math.isnan(value) or not 0 <= value <= AU_MAX:
                raise DataError(f"{column} = {value} on line {number} is not in 0-5", path)
            if column not in DISFA_CODED_AUS and value != 0:
                raise DataError(f"{column} = {value} on line {number}: DISFA does not code "
                                f"{column.removesuffix('_r')}, so the list must hold 0 there (is it in "
                                "another AU order?)", path)
        entries.append((fields[0], tuple(v if c in DISFA_CODED_AUS else math.nan
                                         for c, v in zip(AU_COLUMNS, values, strict=True))))
    if not entries:
        raise DataError("the DISFA list is empty", path)
    return entries


def disfa_identity(filename: str, path: Path) -> str:
    """The subject: the file-name prefix before the first ``_`` (as the authors' code takes it)."""
    stem = Path(filename).name
    if "_" not in stem or stem.startswith("_"):
        raise DataError(f"file name {filename!r} has no subject prefix before an '_'", path)
    return stem.split("_", 1)[0]


def ingest_disfa(
    list_path: str | Path,
    images: str | Path,
    out: str | Path,
    image_level_split: bool = False,
    seed: int = 0,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    test_lines: int = AUTHORS_TEST_LINES,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
) -> IngestReport:
    """Copy the listed images with their AUs into a dataset folder.

    ``image_level_split`` reproduces the authors' split (seed 1234, first ``test_lines`` shuffled
    lines are test); ``seed``/``test_fraction`` are then unused.
    """
    list_path, images = Path(list_path), Path(images)
    if not images.is_dir():
        raise DataError("no such image folder", images)
    records = [
        Record(source=images / name, name=f"images/{name}", identity=disfa_identity(name, list_path),
               aus=aus)
        for name, aus in read_disfa_list(list_path)
    ]
    rule = (SplitRule("image", seed=AUTHORS_SEED, test_count=test_lines) if image_level_split
            else SplitRule("identity", test_fraction, seed))
    return write_dataset(records, out, copy_image, rule, reader="disfa", source=list_path,
                         extra={"images_folder": str(images)}, force=force, max_failed=max_failed,
                         coded_aus=DISFA_CODED_AUS)
