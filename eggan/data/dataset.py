"""One dataset abstraction for synthetic and real faces.

A dataset is a folder with images and an ``index.csv`` with the columns
``path, identity, expression, split, AU01_r ... AU45_r``: image path relative to the folder,
identity name, one of the eight expressions (empty when unknown), the split (by identity), and the
17 AU intensities on OpenFace's 0-5 scale. An AU the dataset does not code (DISFA codes 12) is an
empty column, missing and never 0; ``dataset.json`` then lists the coded ones as ``coded_aus``, and
``FaceDataset.aus`` holds the coded columns only. Methods train on ``train``; protocol targets come from
``train`` and sources from ``test``; the optional ``evaluator`` split holds identities that only the
in-domain evaluators learn from, so no scored face belongs to a person the evaluators have seen.
SynthFACS and every real-data reader write this file, so the trainers and evaluators never know
where the faces came from.

Images are decoded once, resized to the working size and kept as a uint8 tensor: the datasets
of the paper (RaFD 4,824 images, SynthFACS a few thousand) fit in memory at 128x128, and
index-selecting a batch from one tensor keeps the data order a pure function of the seed, which
is what makes resumed training bit-exact.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd
import torch
from PIL import Image

from eggan.data.aus import AU_COLUMNS, AU_MAX, EXPRESSIONS, au_list
from eggan.data.decode import ImageRefused, open_image, rgb8
from eggan.errors import DataError
from eggan.io import atomic_write_json, atomic_write_text
from eggan.limits import check_int

INDEX_NAME = "index.csv"
# Provenance written next to the index by the real-data readers: source, split rule, skipped files.
# Its ``split.level`` is "identity" unless a reader was explicitly asked for an image-level split
# (the EGGAN authors' DISFA split), the one case where an identity may sit in both splits.
PROVENANCE_NAME = "dataset.json"
META_COLUMNS: tuple[str, ...] = ("path", "identity", "expression", "split")
INDEX_COLUMNS: tuple[str, ...] = META_COLUMNS + AU_COLUMNS
SPLITS = ("train", "test", "evaluator")
REQUIRED_SPLITS = ("train", "test")  # "evaluator" is optional (SynthFACS renders it; real datasets rarely have it)
# What decoding a broken file raises (a text file named .png, a truncated or corrupt image).
IMAGE_ERRORS = (OSError, ValueError, SyntaxError, zlib.error, Image.DecompressionBombError)


@dataclass
class Batch:
    """A batch of faces: images in [-1, 1], AUs on 0-5, identity and expression indices."""

    image: torch.Tensor  # B x 3 x H x W, float
    aus: torch.Tensor  # B x len(coded_aus), float, 0-5 (17 on SynthFACS)
    identity: torch.Tensor  # B, long, index into the dataset's identity list
    expression: torch.Tensor  # B, long, 0..7 or -1 when the dataset has no expression labels

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(t.to(device) for t in (self.image, self.aus, self.identity, self.expression)))

    def __len__(self) -> int:
        return self.image.shape[0]


@dataclass
class Target:
    """What a method may be conditioned on: AU intensities, an expression class, a reference image.

    A method reads only the field it needs (``Method.condition``); evaluation always fills all three
    from the target image, so no method is special-cased outside its own module.
    """

    aus: torch.Tensor | None = None  # B x len(coded_aus) on 0-5
    expression: torch.Tensor | None = None  # B, long
    image: torch.Tensor | None = None  # B x 3 x H x W in [-1, 1]

    @classmethod
    def from_batch(cls, batch: Batch) -> Target:
        return cls(aus=batch.aus, expression=batch.expression, image=batch.image)

    def to(self, device: torch.device | str) -> Target:
        return Target(*(None if t is None else t.to(device) for t in (self.aus, self.expression, self.image)))


@dataclass
class FaceDataset:
    """Faces of one dataset (or one split of it), decoded to ``image_size`` and held in memory."""

    name: str
    root: Path
    table: pd.DataFrame
    image_size: int
    images: torch.Tensor  # N x 3 x S x S, uint8
    identities: list[str]
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    @property
    def aus(self) -> torch.Tensor:
        """N x len(coded_aus) intensities on 0-5: the coded AUs only, so a method is trained and
        conditioned on labels the dataset has, never on an uncoded AU's missing value."""
        return torch.tensor(self.table[list(self.coded_aus)].to_numpy(np.float32))

    @property
    def coded_aus(self) -> tuple[str, ...]:
        """The AU columns this dataset codes, in ``AU_COLUMNS`` order (the index guarantees each
        column is coded in every row or in none)."""
        return tuple(c for c in AU_COLUMNS if self.table[c].notna().all())

    @property
    def all_aus(self) -> torch.Tensor:
        """N x 17 intensities, NaN for an AU the dataset does not code: the labels as files hold them
        (per-pair tables, the exported protocol), never what a method is given."""
        return torch.tensor(self.table[list(AU_COLUMNS)].to_numpy(np.float32))

    @property
    def identity_index(self) -> torch.Tensor:
        lookup = {name: i for i, name in enumerate(self.identities)}
        return torch.tensor([lookup[name] for name in self.table["identity"]], dtype=torch.long)

    @property
    def expression_index(self) -> torch.Tensor:
        lookup = {name: i for i, name in enumerate(EXPRESSIONS)}
        return torch.tensor([lookup.get(e, -1) for e in self.table["expression"]], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.table)

    def batch(self, indices: torch.Tensor | Sequence[int]) -> Batch:
        """Images as floats in [-1, 1] with their labels, in the order of ``indices``."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        image = self.images[idx].float().div(127.5).sub(1.0)
        return Batch(image, self.aus[idx], self.identity_index[idx], self.expression_index[idx])

    def has_split(self, name: str) -> bool:
        return bool((self.table["split"] == name).any())

    def split(self, name: str) -> FaceDataset:
        """The rows of one split; identities are re-indexed within it (C_id sees train ids only)."""
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        mask = (self.table["split"] == name).to_numpy()
        table = self.table[mask].reset_index(drop=True)
        if table.empty:
            raise DataError(f"the {name} split is empty", self.root / INDEX_NAME)
        return FaceDataset(
            name=f"{self.name}:{name}",
            root=self.root,
            table=table,
            image_size=self.image_size,
            images=self.images[torch.tensor(mask)],
            identities=sorted(table["identity"].unique()),
        )

    def fingerprint(self) -> str:
        """Hash of the index (paths, labels, split), the working size and every decoded pixel: what
        each checkpoint records of its data (``eggan.core.provenance``) and the key of every cache.
        The pixels are in it because an image replaced under an unchanged index is other data too.
        Computed once per object (images and table are not changed in place)."""
        if self._fingerprint is None:
            digest = hashlib.sha256(self.table.to_csv(index=False).encode())
            digest.update(f"size={self.image_size}".encode())
            digest.update(self.images.contiguous().numpy())  # the buffer itself, no copy
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def describe(self) -> dict[str, object]:
        """Sizes recorded in every run's metadata."""
        return {
            "name": self.name,
            "root": str(self.root),
            "images": len(self),
            "identities": len(self.identities),
            "image_size": self.image_size,
            "fingerprint": self.fingerprint(),
            "per_split": self.table["split"].value_counts().to_dict(),
        }


def validate_table(
    table: pd.DataFrame, source: str | Path, image_level_split: bool = False,
    coded_aus: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Check an index table and return it normalised; every problem is a one-line DataError.

    ``image_level_split`` lets an identity appear in both splits; only a split recorded as
    image-level in ``dataset.json`` (an explicit, labelled choice) is allowed to do that.

    An AU column is either coded (a number in 0-5 in every row) or not coded by the dataset
    (empty in every row: DISFA codes 12 of the 17 AUs). A column empty in some rows only is an
    error, never a 0: a missing label read as "AU absent" would become ground truth in every table.
    ``coded_aus`` (what ``dataset.json`` records) must then be exactly the coded columns.
    """
    missing = [c for c in INDEX_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(header_problem([str(c) for c in table.columns], missing), source)
    if table.empty:
        raise DataError("no rows", source)
    table = table.copy()
    for column in ("path", "identity", "split"):
        empty = table[column].isna() | (table[column].astype(str).str.strip() == "")
        if empty.any():
            row = int(empty.to_numpy().argmax()) + 1
            raise DataError(f"data row {row} (line {row + 1}) has no {column} (a row cut short?)", source)
    escaping = table["path"].map(_leaves_folder)
    if escaping.any():
        row = int(escaping.to_numpy().argmax()) + 1
        raise DataError(f"image path {table['path'].iloc[row - 1]!r} in data row {row} is not inside the "
                        "dataset folder (paths are relative, without '..')", source)
    table["expression"] = table["expression"].fillna("").astype(str).str.strip().str.lower()
    unknown = sorted(set(table["expression"]) - set(EXPRESSIONS) - {""})
    if unknown:
        raise DataError(
            f"unknown expression {unknown[0]!r}; expected one of {', '.join(EXPRESSIONS)}", source
        )
    table["split"] = table["split"].astype(str).str.strip()
    bad_split = sorted(set(table["split"]) - set(SPLITS))
    if bad_split:
        raise DataError(f"unknown split {bad_split[0]!r}; expected one of {', '.join(SPLITS)}", source)
    table["identity"] = table["identity"].astype(str)
    mixed = table.groupby("identity")["split"].nunique()
    if not image_level_split and (mixed > 1).any():
        raise DataError(
            f"identity {mixed[mixed > 1].index[0]!r} is in both splits; splits must be by identity",
            source,
        )
    spelled = table["path"].map(lambda p: PurePosixPath(p).as_posix())  # ./images//x.png is images/x.png
    duplicated = spelled[spelled.duplicated()]
    if not duplicated.empty:
        row = int(duplicated.index[0]) + 1
        first = int(spelled[spelled == duplicated.iloc[0]].index[0]) + 1
        raise DataError(f"duplicate image path {table['path'].iloc[row - 1]!r} in data row {row} (data row {first} "
                        f"names the same file as {table['path'].iloc[first - 1]!r}): one image would carry two "
                        "label sets", source)
    aus = table[list(AU_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    for column in AU_COLUMNS:
        values, blank = aus[column], table[column].isna()  # blank: an empty cell, or NaN in memory
        text = values.isna() & ~blank
        if text.any():
            row = int(text.to_numpy().argmax())
            raise DataError(f"{column} is not a number in data row {row + 1}", source)
        if blank.any() and not blank.all():
            row = int(blank.to_numpy().argmax())
            raise DataError(f"{column} is empty in data row {row + 1} but has values in other rows; an AU is "
                            "either coded in every row or empty in every row (not coded by the dataset)", source)
        outside = (values < 0) | (values > AU_MAX)
        if outside.any():
            row = int(outside.to_numpy().argmax())
            raise DataError(f"{column} = {values.iloc[row]} in data row {row + 1} is outside 0-5", source)
    coded = tuple(c for c in AU_COLUMNS if aus[c].notna().all())
    if not coded:
        raise DataError("no AU column has values; at least one AU must be coded", source)
    if coded_aus is not None and coded != tuple(coded_aus):
        raise DataError(f"the coded AUs ({au_list(coded)}) are not the ones {PROVENANCE_NAME} records "
                        f"({au_list(coded_aus)})", source)
    table[list(AU_COLUMNS)] = aus.astype(np.float32)
    return table[list(INDEX_COLUMNS)].reset_index(drop=True)


def check_coded_aus(columns: object, source: str | Path) -> tuple[str, ...]:
    """A coded-AU list (from ``dataset.json`` or a reader) as AU columns in ``AU_COLUMNS`` order;
    an unknown, repeated or misordered name is an error: a list that means something else than it
    says would change which AUs every table averages."""
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
        raise DataError(f"coded_aus must be a list of AU column names (e.g. AU01_r), got {columns!r}", source)
    unknown = [c for c in columns if c not in AU_COLUMNS]
    if unknown:
        raise DataError(f"coded_aus names {unknown[0]!r}, not one of the 17 AU columns "
                        f"({AU_COLUMNS[0]} ... {AU_COLUMNS[-1]})", source)
    ordered = tuple(c for c in AU_COLUMNS if c in columns)
    if ordered != tuple(columns):
        raise DataError(f"coded_aus {list(columns)} repeats an AU or is not in the AU order {au_list(AU_COLUMNS)}",
                        source)
    return ordered


DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def header_problem(header: list[str], missing: list[str]) -> str:
    """Why an index lacks ``missing`` columns, as exactly as the header shows: another delimiter
    than the comma, spaces around a name, another case; else the plain list."""
    if len(header) == 1:
        found = [name for sep, name in DELIMITERS.items() if sep in header[0]]
        if found:
            return f"the header is one column separated by {found[0]}; index.csv must be separated by commas"
    for column in missing:
        near = next((name for name in header if name.strip() == column), None)
        if near is not None:
            return f"column {near!r} has spaces around its name; expected {column!r}"
        near = next((name for name in header if name.strip().lower() == column.lower()), None)
        if near is not None:
            return f"column {near!r} is not spelled {column!r} (names are case-sensitive)"
    return f"missing columns {', '.join(missing)}"


def _leaves_folder(path: str) -> bool:
    """An index path that is absolute or climbs out with '..' (on POSIX or Windows spelling)."""
    posix, windows = PurePosixPath(path), PureWindowsPath(path)
    return posix.is_absolute() or windows.is_absolute() or bool(windows.drive) or ".." in windows.parts


def load_image(path: Path, image_size: int | None) -> torch.Tensor:
    """Decode one image to a 3 x S x S uint8 tensor (8-bit RGB at the right scale or refused,
    ``eggan.data.decode``; centre square crop, antialiased resize to ``image_size``; ``None`` keeps
    the crop's own size)."""
    with open_image(path) as opened:
        im = rgb8(opened)
        w, h = im.size
        side = min(w, h)
        if w != h:
            left, top = (w - side) // 2, (h - side) // 2
            im = im.crop((left, top, left + side, top + side))
        if image_size is not None and side != image_size:
            im = im.resize((image_size, image_size), Image.Resampling.LANCZOS)
        array = np.asarray(im, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def read_index(root: str | Path) -> pd.DataFrame:
    """Read and validate ``root/index.csv``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("is a file, not a dataset folder" if root.exists() else "no such dataset folder", root)
    index = root / INDEX_NAME
    if not index.is_file():
        raise DataError(
            f"no {INDEX_NAME}: run `eggan-bench data synth` or one of the `eggan-bench data` readers first",
            root,
        )
    try:
        table = pd.read_csv(index, dtype={"path": str, "identity": str, "expression": str, "split": str},
                            keep_default_na=False, na_values={c: ["", "nan", "NaN"] for c in AU_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV ({str(exc).splitlines()[0]})", index) from None
    return validate_table(table, index, image_level_split=split_level(root) == "image",
                          coded_aus=recorded_coded_aus(root))


def read_provenance(root: str | Path) -> dict[str, object] | None:
    """``root/dataset.json`` as a dict, or None when the folder has none (SynthFACS, hand-made)."""
    path = Path(root) / PROVENANCE_NAME
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise DataError("not a dataset provenance file (not readable JSON)", path) from None
    if not isinstance(payload, dict):
        raise DataError("not a dataset provenance file (expected a JSON object)", path)
    return payload


def recorded_coded_aus(root: str | Path) -> tuple[str, ...] | None:
    """The coded AUs ``dataset.json`` records (``coded_aus``), or None when it records none."""
    provenance = read_provenance(root)
    if provenance is None or "coded_aus" not in provenance:
        return None
    return check_coded_aus(provenance["coded_aus"], Path(root) / PROVENANCE_NAME)


def split_level(root: str | Path) -> str:
    """How the folder's split was made: "identity" (the default) or "image" (from dataset.json)."""
    provenance = read_provenance(root)
    if provenance is None:
        return "identity"
    path = Path(root) / PROVENANCE_NAME
    try:
        level = provenance["split"]["level"]  # type: ignore[index]
    except (KeyError, TypeError):
        raise DataError("not a dataset provenance file (expected split.level)", path) from None
    if level not in ("identity", "image", "given"):
        raise DataError(f"unknown split level {level!r}; expected identity, image or given", path)
    return "identity" if level == "given" else level


def load_dataset(root: str | Path, image_size: int, min_identities: int = 2) -> FaceDataset:
    """Load a dataset folder: validated index plus decoded images. Every row's image must be
    there and decode: a missing or broken one is an error naming it and its row, never a hole."""
    root = Path(root)
    table = read_index(root)
    files: dict[Path, int] = {}
    for row, rel in enumerate(table["path"], start=1):
        first = files.setdefault(image_file(root, rel, row), row)
        if first != row:
            raise DataError(f"data rows {first} and {row} name the same image file ({table['path'].iloc[first - 1]!r} "
                            f"and {rel!r}): one image would carry two label sets", root / INDEX_NAME)
    images = [read_face(root, rel, row + 1, image_size) for row, rel in enumerate(table["path"])]
    for split in REQUIRED_SPLITS:
        count = table.loc[table["split"] == split, "identity"].nunique()
        if count < min_identities:
            raise DataError(
                f"the {split} split has {count} identities; at least {min_identities} are needed",
                root / INDEX_NAME,
            )
    return FaceDataset(
        name=root.name,
        root=root,
        table=table,
        image_size=image_size,
        images=torch.stack(images),
        identities=sorted(table["identity"].unique()),
    )


def image_file(root: Path, rel: str, row: int) -> Path:
    """The file data row ``row`` of ``root``'s index names, resolved: it must exist and, once every
    symlink is followed, lie inside the dataset folder (an index cannot read files elsewhere)."""
    path = root / rel
    if not path.is_file():
        raise DataError(f"no such image file (data row {row} of {INDEX_NAME})", path)
    real, inside = path.resolve(), root.resolve()
    if not real.is_relative_to(inside):
        raise DataError(f"resolves to {real}, outside the dataset folder {inside} (a symlink?); data row {row} "
                        f"of {INDEX_NAME}", path)
    return real


def read_face(root: Path, rel: str, row: int, image_size: int | None) -> torch.Tensor:
    """The image of data row ``row`` of ``root``'s index, decoded; errors name the file and row."""
    path = image_file(root, rel, row)
    try:
        return load_image(path, image_size)
    except IMAGE_ERRORS as exc:
        raise unreadable_image(root / rel, exc, f"; data row {row} of {INDEX_NAME}") from None


def unreadable_image(path: Path, exc: BaseException, where: str = "") -> DataError:
    """The one-line error for an image file that does not decode, or whose pixels have no known
    8-bit meaning (``IMAGE_ERRORS``; ``eggan.data.decode.ImageRefused`` says why itself)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, ImageRefused):
        return DataError(f"{reason}{where}", path)
    return DataError(f"not a readable image ({reason}{where})", path)


def split_identities(identities: Sequence[str], test_fraction: float, seed: int) -> dict[str, str]:
    """Seeded identity-level split: the same seed and identity set give the same split anywhere."""
    check_int(seed, "--seed")
    names = sorted(set(identities))
    n_test = round(len(names) * test_fraction)
    if n_test < 1 or n_test >= len(names):
        raise DataError(
            f"{len(names)} identities cannot be split with test fraction {test_fraction}: "
            "each split needs at least one identity"
        )
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()
    test = {names[i] for i in order[:n_test]}
    return {name: ("test" if name in test else "train") for name in names}


def write_index(
    table: pd.DataFrame, root: str | Path, provenance: dict[str, object] | None = None
) -> Path:
    """Validate and write ``root/index.csv`` atomically (a crash never leaves half an index).

    ``provenance`` (a reader's source, split rule and counts) goes to ``dataset.json`` first, so
    the index, written last, is never newer than the record of how it was made.
    """
    root = Path(root)
    split = (provenance or {}).get("split")
    image_level = isinstance(split, dict) and split.get("level") == "image"
    coded = (provenance or {}).get("coded_aus")
    table = validate_table(table, root / INDEX_NAME, image_level_split=image_level,
                           coded_aus=None if coded is None else check_coded_aus(coded, root / PROVENANCE_NAME))
    if provenance is not None:
        atomic_write_json(root / PROVENANCE_NAME, provenance)
    target = root / INDEX_NAME
    atomic_write_text(target, table.to_csv(index=False, float_format="%.4f", lineterminator="\n"))
    return target
