"""The steps every real-data reader shares: records in, a checked dataset folder out.

A reader (RaFD, StarGAN folders, DISFA, MMI) only knows its own layout: it lists ``Record``s
(image file, name, identity, expression, AUs, optionally a given split). ``write_dataset`` then
draws the split over all records, writes every readable image into the output folder, counts
the ones it cannot use (unreadable image, no AU readout), refuses the dataset when more than
``MAX_BAD_IMAGE_FRACTION`` of them are unusable, and writes ``dataset.json`` (provenance) and
``index.csv`` (and ``landmarks.csv`` where the records carry OpenFace's 5 alignment points,
``eggan.data.landmarks``), all into a staging folder renamed into place at the end: a refused or interrupted
run leaves no partial folder and the previous dataset as it was (replaced only with ``force``).
"""

from __future__ import annotations

import io
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image

from eggan.data.aus import AU_COLUMNS, EXPRESSIONS, au_list
from eggan.data.dataset import IMAGE_ERRORS, check_coded_aus, split_identities, write_index
from eggan.data.decode import open_image, rgb8
from eggan.data.landmarks import LANDMARKS_NAME, Points, landmark_rows, write_landmarks
from eggan.data.openface import AuReadout, AuVector
from eggan.data.staging import check_replaceable, replacing_dataset
from eggan.errors import ConfigError, DataError
from eggan.io import TEMP_SUFFIX, output_errors
from eggan.limits import MAX_BAD_IMAGE_FRACTION

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DEFAULT_TEST_FRACTION = 0.1  # StarGAN's RaFD.md suggests a 90/10 split

# Reads a source image and writes the dataset's copy; raises OSError/ValueError when unreadable.
ImageWriter = Callable[[Path, Path], None]


@dataclass
class Record:
    """One image as a reader found it."""

    source: Path  # the image file to read
    name: str  # its relative path in the output folder (posix), also the key of its AUs
    identity: str
    expression: str = ""  # one of EXPRESSIONS, or "" when the dataset has no expression labels
    # 17 intensities on 0-5, NaN for an AU the dataset does not code; None = no AU readout (skipped)
    aus: AuVector | None = None
    split: str | None = None  # a split the dataset itself gives (StarGAN folders), else None
    # LightCNN's 5 alignment points in the pixels of the image WRITTEN (the reader maps them
    # through its crop); None = none known (no landmarks in the CSV, or a geometry they do not fit)
    points: Points | None = None


@dataclass
class SplitRule:
    """How records get their split: seeded by identity (default), as given, or the image-level
    split of the EGGAN authors' DISFA code (explicit opt-in, recorded as such)."""

    level: str = "identity"  # identity | given | image
    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = 0
    test_count: int = 0  # image level only: the first ``test_count`` shuffled records are test

    def describe(self) -> dict[str, object]:
        if self.level == "given":
            return {"level": "given", "rule": "the source's own train/test folders"}
        if self.level == "image":
            return {"level": "image", "seed": self.seed, "test_count": self.test_count,
                    "rule": "EGGAN authors' DISFA split: random.seed(seed) shuffle of the list "
                            "lines, first test_count lines are test; identities appear in both"}
        return {"level": "identity", "seed": self.seed, "test_fraction": self.test_fraction,
                "rule": "eggan.data.dataset.split_identities(identities, test_fraction, seed)"}


@dataclass
class IngestReport:
    """What a reader wrote and what it left out (also saved in ``dataset.json``)."""

    out: Path
    images: int
    identities: int
    per_split: dict[str, int]
    unreadable: list[str] = field(default_factory=list)
    no_aus: list[str] = field(default_factory=list)

    def line(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in sorted(self.per_split.items()))
        return (f"{self.out}: {self.images} images of {self.identities} identities ({splits}); "
                f"skipped {len(self.unreadable)} unreadable, {len(self.no_aus)} without AUs")


def parse_expression(text: str, source: str | Path) -> str:
    """One of the eight expression names (case-insensitive); anything else names the file."""
    key = text.strip().lower()
    if key not in EXPRESSIONS:
        raise DataError(f"unknown expression {text!r}; expected one of {', '.join(EXPRESSIONS)}", source)
    return key


def list_images(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` in sorted order; an empty or missing folder is an error."""
    if not folder.is_dir():
        raise DataError("no such image folder", folder)
    pattern = "**/*" if recursive else "*"
    found = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found", folder)
    return found


def attach_aus(records: Sequence[Record], readout: AuReadout) -> None:
    """Give each record its AU vector and alignment points from an OpenFace readout (None where
    there are none); for readers that copy the image as it is, so OpenFace's pixels are its pixels."""
    for record in records:
        record.aus = readout.aus.get(record.name)
        record.points = readout.points.get(record.name)


def replace_file(target: Path, data: bytes) -> None:
    """Write via a temporary file and rename: a killed run never leaves half an image where the
    previous index expects a whole one. (No fsync per image: thousands of them would dominate the
    run; the index, written last with ``atomic_write``, is the commit point.)"""
    with output_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}{TEMP_SUFFIX}")
        temporary.write_bytes(data)
        os.replace(temporary, target)


def copy_image(source: Path, target: Path) -> None:
    """Copy the file byte for byte after checking that it decodes completely, to pixels of known
    8-bit meaning (``eggan.data.decode``)."""
    with open_image(source) as im:
        rgb8(im)
    replace_file(target, source.read_bytes())


def move_image(source: Path, target: Path) -> None:
    """Move a file this run extracted (a video frame) into the dataset after checking that it
    decodes like ``copy_image`` does: thousands of full frames are not written twice."""
    with open_image(source) as im:
        rgb8(im)
    with output_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def save_png(image: Image.Image, target: Path) -> None:
    """Write an image as PNG (lossless: crops are not re-compressed)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    replace_file(target, buffer.getvalue())


def assign_splits(records: Sequence[Record], rule: SplitRule, source: Path) -> list[str]:
    """The split of every record under ``rule``; identity leaks across given splits are errors."""
    if rule.level == "given":
        seen: dict[str, Record] = {}
        for record in records:
            first = seen.setdefault(record.identity, record)
            if first.split != record.split:
                raise DataError(
                    f"identity {record.identity!r} is in both splits ({first.name} and {record.name});"
                    " splits must be by identity (fix the folders or the --identity-pattern)", source)
        return [str(r.split) for r in records]
    if rule.level == "image":
        order = list(range(len(records)))
        random.Random(rule.seed).shuffle(order)  # = random.seed(seed); random.shuffle(lines)
        if not 0 < rule.test_count < len(records):
            raise DataError(f"an image-level split with {rule.test_count} test lines needs more "
                            f"than {rule.test_count} lines, not {len(records)}", source)
        test = set(order[: rule.test_count])
        return ["test" if i in test else "train" for i in range(len(records))]
    try:
        by_identity = split_identities([r.identity for r in records], rule.test_fraction, rule.seed)
    except DataError as exc:
        raise DataError(str(exc), source) from None
    return [by_identity[r.identity] for r in records]


def rounded_up_share(count: int, total: int) -> float:
    """count / total rounded up to a hundredth: the smallest --max-failed that accepts ``count``."""
    return math.ceil(100 * count / total) / 100


def write_dataset(
    records: Sequence[Record],
    out: str | Path,
    write_image: ImageWriter,
    rule: SplitRule,
    reader: str,
    source: str | Path,
    extra: dict[str, object] | None = None,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
    coded_aus: Sequence[str] | None = None,
) -> IngestReport:
    """Write images and index for ``records``; refuse when more than ``max_failed`` of them are
    unusable. The folder is written whole or not at all, and replaces an existing dataset only with
    ``force`` (``replacing_dataset``).

    ``coded_aus`` (AU columns, ``AU_COLUMNS`` order; None = all 17) are the AUs the dataset codes:
    every record holds a number for each of them and NaN for every other AU, whose index.csv cells
    are left empty. The list is written to dataset.json, so every table can say what it averages.

    ``max_failed`` is the user's choice (``--max-failed``): a RaFD export whose profile faces
    OpenFace missed is usable with a higher share, and every file left out is listed in
    dataset.json, so the choice is visible in what was written."""
    out, source = Path(out), Path(source)
    if not 0.0 <= max_failed <= 1.0:
        raise ConfigError(f"--max-failed must be a fraction from 0 to 1, got {max_failed}")
    if not records:
        raise DataError("no images found", source)
    names = pd.Series([r.name for r in records])
    if names.duplicated().any():
        raise DataError(f"duplicate image path {names[names.duplicated()].iloc[0]!r}", source)
    coded = check_coded_aus(AU_COLUMNS if coded_aus is None else list(coded_aus), source)
    for record in records:
        if record.aus is not None:
            has = tuple(c for c, v in zip(AU_COLUMNS, record.aus, strict=True) if not math.isnan(v))
            if has != coded:
                raise DataError(f"{record.name} has values for {au_list(has)}, but the dataset codes "
                                f"{au_list(coded)}: a coded AU needs a value, an uncoded one is missing (NaN)",
                                source)
    check_replaceable(out, force, source)
    # Splits are drawn over every record, so a skipped image never moves anyone else's.
    split_of = dict(zip(names, assign_splits(records, rule, source), strict=True))
    no_aus = [r.name for r in records if r.aus is None]
    with replacing_dataset(out, force, source) as staging:
        usable: list[Record] = []
        unreadable: list[str] = []
        for record in records:
            if record.aus is None:
                continue
            try:
                write_image(record.source, staging / record.name)
            except IMAGE_ERRORS:
                unreadable.append(record.name)
                continue
            usable.append(record)
        bad = len(no_aus) + len(unreadable)
        if bad > max_failed * len(records):
            first = (unreadable or no_aus)[0]
            raise DataError(
                f"{bad} of {len(records)} images are unusable ({len(unreadable)} unreadable, "
                f"{len(no_aus)} without AUs; first: {first}); at most "
                f"{max_failed:.2%} may be skipped (--max-failed, default {MAX_BAD_IMAGE_FRACTION}): pass "
                f"--max-failed {rounded_up_share(bad, len(records))} "
                "to keep the rest (no AUs: no usable AU row, e.g. OpenFace success=0 or low confidence), "
                "each skipped file listed in dataset.json", source)
        table = pd.DataFrame({
            "path": [r.name for r in usable],
            "identity": [r.identity for r in usable],
            "expression": [r.expression for r in usable],
            "split": [split_of[r.name] for r in usable],
        })
        table[list(AU_COLUMNS)] = pd.DataFrame([r.aus for r in usable], columns=list(AU_COLUMNS))
        report = IngestReport(out=out, images=len(usable), identities=table["identity"].nunique(),
                              per_split=table["split"].value_counts().to_dict(),
                              unreadable=unreadable, no_aus=no_aus)
        provenance = {"reader": reader, "source": str(source), "split": rule.describe(),
                      "images": report.images, "identities": report.identities,
                      "per_split": report.per_split, "skipped_unreadable": unreadable,
                      "skipped_no_aus": no_aus, "max_failed": max_failed, **(extra or {}),
                      "coded_aus": list(coded)}
        with_points = [r for r in usable if r.points is not None]
        if with_points:
            sizes = [_size(staging / r.name) for r in with_points]
            write_landmarks(staging, landmark_rows([(r.name, w, h, r.points) for r, (w, h) in
                                                    zip(with_points, sizes, strict=True)]))
        provenance["landmarks"] = {"file": LANDMARKS_NAME if with_points else None, "images": len(with_points),
                                   "of": len(usable)}
        write_index(table, staging, provenance)
    return report


def _size(path: Path) -> tuple[int, int]:
    """Width and height of a written image (its header only)."""
    with Image.open(path) as im:
        return im.size
