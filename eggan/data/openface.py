"""OpenFace 2.x as the suite's AU estimator: a robust reader for its CSVs and a per-image runner.

AU intensities are the suite's currency, and OpenFace is where the paper's came from. Its CSVs
differ between versions and forks (``", "`` or ``","`` separators, header and data may differ;
CRLF; no final newline; ``frame, timestamp`` or ``frame, face_id, timestamp`` or image mode's
``face`` leading columns; AU28 only as presence ``AU28_c``; extra ``AU*_d`` columns), so the
reader strips every header name and selects the 17 ``AU??_r`` columns by name, never by position.

When the CSV has OpenFace's 2D landmarks (``x_*``, ``y_*``: written unless the run chose other
outputs only), the ones LightCNN's 5-point alignment needs are kept too (``eggan.data.landmarks``).

Rows OpenFace itself marks as failed (``success == 0``) or below a confidence threshold are
dropped and counted in ``table.attrs["dropped"]`` (``{"failed": n, "low_confidence": m}``), never
used silently. Any AU value that is not a number in 0-5 is a one-line error naming file and row.

The runner calls OpenFace once per image with the static AU models (``FaceLandmarkImg``, or
``FeatureExtraction -au_static``). It never uses ``FeatureExtraction -fdir``: that treats a folder
as one person's video and normalises the AUs across the faces of different people.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from eggan.data.aus import AU_COLUMNS, AU_MAX
from eggan.data.landmarks import OPENFACE_COLUMNS, Points, five_points, plausible
from eggan.errors import DataError, MissingComponentError
from eggan.io import output_errors

# Leading and identifying columns kept when the file has them (image mode, 2.0 and 2.2 layouts,
# and ``name`` for a combined CSV covering many images).
META_COLUMNS: tuple[str, ...] = ("name", "frame", "face", "face_id", "timestamp", "confidence", "success")
BINARIES: tuple[str, ...] = ("FaceLandmarkImg", "FeatureExtraction")
INSTALL_HINT = (
    "install OpenFace 2.x (github.com/TadasBaltrusaitis/OpenFace/wiki, Unix installation, then "
    "download_models.sh) and put FaceLandmarkImg on PATH"
)
# What `data openface` accepts instead of PATH; commands that read CSVs pass their own option.
BINARY_HINT = "or pass --binary"

AuVector = tuple[float, ...]


def read_openface_csv(path: str | Path, min_confidence: float = 0.0) -> pd.DataFrame:
    """One row per kept data row: the metadata columns present, then AU01_r..AU45_r as floats,
    then, when the file has 2D landmarks, the ``x_*``/``y_*`` columns of the 5 alignment points
    (``eggan.data.landmarks.OPENFACE_COLUMNS``).

    ``table.attrs["dropped"]`` counts the rows left out: ``failed`` (success == 0) and
    ``low_confidence`` (confidence < ``min_confidence``). A file with a header and no rows
    (image mode when no face was found) gives an empty table.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot read AU CSV ({exc.strerror})", path) from None
    except UnicodeDecodeError:
        raise DataError("not a text CSV (not UTF-8)", path) from None
    if not text.strip():
        raise DataError("empty AU CSV (no header)", path)
    try:
        lines = [row for row in csv.reader(io.StringIO(text), skipinitialspace=True) if row]
    except csv.Error as exc:
        raise DataError(f"not a readable CSV ({exc})", path) from None
    header = [name.strip() for name in lines[0]]
    for number, row in enumerate(lines[1:], start=1):
        if len(row) != len(header):
            raise DataError(f"data row {number} has {len(row)} cells, the header {len(header)} "
                            "(truncated file?)", path)
    repeated = sorted({name for name in header if header.count(name) > 1} & {*AU_COLUMNS, *META_COLUMNS})
    if repeated:
        raise DataError(f"column {repeated[0]} appears twice in the header", path)
    missing = [c for c in AU_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"no AU intensity columns {', '.join(missing)} (OpenFace writes them with -aus)", path
        )
    landmarks = list(OPENFACE_COLUMNS) if all(c in header for c in OPENFACE_COLUMNS) else []
    numeric = [c for c in META_COLUMNS if c in header and c != "name"] + list(AU_COLUMNS) + landmarks
    table = pd.DataFrame(_numbers(lines[1:], header, numeric, path), columns=numeric)
    if "name" in header:
        column = header.index("name")
        table.insert(0, "name", [row[column].strip() for row in lines[1:]])

    keep = np.ones(len(table), dtype=bool)
    dropped = {"failed": 0, "low_confidence": 0}
    if "success" in table:
        failed = (table["success"] == 0).to_numpy()
        dropped["failed"] = int(failed.sum())
        keep &= ~failed
    if min_confidence > 0:
        if "confidence" not in table:
            raise DataError(f"no confidence column to apply --min-confidence {min_confidence}", path)
        low = keep & (table["confidence"] < min_confidence).to_numpy()
        dropped["low_confidence"] = int(low.sum())
        keep &= ~low
    for column in AU_COLUMNS:
        values = table[column].to_numpy()
        outside = keep & ((values < 0) | (values > AU_MAX))
        if outside.any():
            row = int(outside.argmax())
            raise DataError(f"{column} = {values[row]} in data row {row + 1} is outside 0-5", path)
    table = table[keep].reset_index(drop=True)
    table.attrs["dropped"] = dropped
    table.attrs["source"] = str(path)
    return table


def _numbers(rows: list[list[str]], header: list[str], columns: list[str], path: Path) -> np.ndarray:
    """The cells of ``columns`` as floats; a blank, NaN or non-numeric cell is an error naming
    its data row (the fast path converts the whole block at once, the slow one finds the cell)."""
    index = [header.index(c) for c in columns]
    cells = [[row[i] for i in index] for row in rows]
    try:
        values = np.array(cells, dtype=np.float64).reshape(len(rows), len(columns))
    except ValueError:
        values = np.array([[_float(cell) for cell in row] for row in cells]).reshape(len(rows), len(columns))
    bad = np.isnan(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise DataError(f"{columns[column]} is {cells[row][column]!r} in data row {row + 1}, not a number",
                        path)
    return values


def _float(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def best_row(table: pd.DataFrame) -> int | None:
    """The most confident kept row (image mode writes one row per detected face), None when none."""
    if table.empty:
        return None
    return int(table["confidence"].to_numpy().argmax()) if "confidence" in table else 0


def best_face(table: pd.DataFrame) -> AuVector | None:
    """The AUs of the most confident kept row."""
    row = best_row(table)
    return None if row is None else tuple(float(v) for v in table[list(AU_COLUMNS)].to_numpy()[row])


def best_points(table: pd.DataFrame) -> Points | None:
    """The 5 alignment points of the most confident kept row, None when the CSV has no landmarks or
    they do not describe a face (``plausible``)."""
    row = best_row(table)
    if row is None or not all(c in table for c in OPENFACE_COLUMNS):
        return None
    points = five_points(table.iloc[row])
    return points if plausible(points) else None


@dataclass
class AuReadout:
    """AU vectors looked up for a list of image names, with what could not be looked up."""

    aus: dict[str, AuVector] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # no CSV, or no kept row naming the image
    no_face: list[str] = field(default_factory=list)  # a CSV whose rows were all dropped or empty
    dropped: dict[str, int] = field(default_factory=lambda: {"failed": 0, "low_confidence": 0})
    points: dict[str, Points] = field(default_factory=dict)  # 5 landmarks, in the image OpenFace read

    def add_face(self, name: str, table: pd.DataFrame) -> None:
        """The best row of ``table`` as ``name``'s AUs (and points, where the CSV has landmarks)."""
        vector = best_face(table)
        if vector is None:
            self.no_face.append(name)
            return
        self.aus[name] = vector
        points = best_points(table)
        if points is not None:
            self.points[name] = points

    def add_dropped(self, table: pd.DataFrame) -> None:
        for reason, count in table.attrs.get("dropped", {}).items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def summary(self) -> dict[str, object]:
        return {"found": len(self.aus), "missing": len(self.missing), "no_face": len(self.no_face),
                "dropped_rows": dict(self.dropped)}


def unique_keys(names: Sequence[str]) -> set[str]:
    """File names and stems that identify one image only: the keys a flat lookup may use."""
    counts: dict[str, int] = {}
    for name in names:
        rel = PurePosixPath(name)
        for key in {rel.name, rel.stem}:
            counts[key] = counts.get(key, 0) + 1
    return {key for key, count in counts.items() if count == 1}


def csv_candidates(csv_dir: Path, name: str, unique: set[str]) -> list[Path]:
    """Where the CSV of image ``name`` (a relative path) may be: the mirrored tree, then flat by
    stem when no other image shares that stem (frames 0001.jpg of two sessions must not)."""
    rel = PurePosixPath(name)
    flat = [csv_dir / f"{rel.stem}.csv"] if rel.stem in unique else []
    return [csv_dir / rel.with_suffix(".csv"), *flat]


def read_openface_dir(csv_dir: str | Path, names: Sequence[str], min_confidence: float = 0.0) -> AuReadout:
    """Join one-CSV-per-image outputs (``<stem>.csv``, mirroring ``names`` or flat) to images."""
    csv_dir = Path(csv_dir)
    if not csv_dir.is_dir():
        raise DataError("AU CSV folder does not exist", csv_dir)
    readout = AuReadout()
    unique = unique_keys(names)
    for name in names:
        found = next((p for p in csv_candidates(csv_dir, name, unique) if p.is_file()), None)
        if found is None:
            readout.missing.append(name)
            continue
        table = read_openface_csv(found, min_confidence)
        readout.add_dropped(table)
        readout.add_face(name, table)
    return readout


def read_openface_table(path: str | Path, names: Sequence[str], min_confidence: float = 0.0) -> AuReadout:
    """Join one combined CSV with a ``name`` column (relative path, file name or stem) to images."""
    table = read_openface_csv(path, min_confidence)
    if "name" not in table:
        raise DataError("a combined AU CSV needs a 'name' column naming each image", path)
    readout = AuReadout()
    readout.add_dropped(table)
    rows: dict[str, list[int]] = {}
    for row, cell in enumerate(table["name"]):
        rows.setdefault(PurePosixPath(cell.replace("\\", "/")).as_posix(), []).append(row)
    unique = unique_keys(names)
    for name in names:
        rel = PurePosixPath(name)
        keys = [rel.as_posix(), *(k for k in (rel.name, rel.stem) if k in unique)]
        key = next((k for k in keys if k in rows), None)
        if key is None:
            readout.missing.append(name)
            continue
        readout.add_face(name, table.iloc[rows[key]].reset_index(drop=True))  # rows exist: a face exists
    return readout


def read_au_source(source: str | Path, names: Sequence[str], min_confidence: float = 0.0) -> AuReadout:
    """AUs for ``names`` from a folder of per-image CSVs or from one combined CSV."""
    source = Path(source)
    if source.is_dir():
        return read_openface_dir(source, names, min_confidence)
    if source.is_file():
        return read_openface_table(source, names, min_confidence)
    raise DataError("no such AU CSV folder or file", source)


# --- running the binary ---------------------------------------------------------------------


def find_openface(binary: str | Path | None = None, otherwise: str = BINARY_HINT) -> Path:
    """The OpenFace executable: ``binary`` (a path or a name on PATH), else FaceLandmarkImg, else
    FeatureExtraction on PATH. FaceLandmarkImg is preferred: it always uses the static AU models.

    ``otherwise`` ends the error with what the calling command offers instead (its own option
    names: a hint naming another command's option is a dead end)."""
    candidates = [str(binary)] if binary is not None else list(BINARIES)
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path.resolve()
        found = shutil.which(candidate)
        if found is not None:
            return Path(found)
    what = f"OpenFace binary {binary}" if binary is not None else "OpenFace (FaceLandmarkImg or FeatureExtraction)"
    raise MissingComponentError(f"{what} not found; {INSTALL_HINT}, {otherwise}")


def openface_command(
    binary: Path, image: Path, out_dir: Path, aligned_size: int | None = None
) -> list[str]:
    """The argument list for one image: static AU models, AU outputs, the 2D landmarks (the readers
    keep LightCNN's 5 alignment points from them: ``eggan.data.landmarks``), and optionally the
    similarity-aligned face (``aligned_size`` px, background not masked) for the RaFD reader."""
    args = [str(binary), "-f", str(image)]
    if binary.name.startswith("FeatureExtraction"):
        args.append("-au_static")
    args += ["-aus", "-2Dfp"]
    if aligned_size is not None:
        args += ["-simalign", "-simsize", str(aligned_size), "-nomask"]
    return [*args, "-out_dir", str(out_dir)]


def run_openface(
    images: Sequence[str | Path],
    out_dir: str | Path,
    binary: str | Path | None = None,
    root: str | Path | None = None,
    aligned_size: int | None = None,
) -> dict[Path, Path]:
    """Run OpenFace once per image; return image -> its parsed-and-checked CSV.

    With ``root``, CSVs mirror the images' folders under ``out_dir`` (so equal file names in
    different folders do not collide); otherwise they are flat and file stems must be unique.
    Images for which OpenFace wrote no CSV (no face found) are absent from the result.
    """
    executable = find_openface(binary)
    out_dir = Path(out_dir)
    targets: dict[Path, Path] = {}
    for image in map(Path, images):
        folder = out_dir / (image.relative_to(root).parent if root is not None else Path())
        csv = folder / f"{image.stem}.csv"
        if csv in targets.values():
            raise DataError(f"two images would write the same CSV {csv}; give a root folder", image)
        targets[image] = csv
    results: dict[Path, Path] = {}
    for image, csv in targets.items():
        with output_errors(csv.parent):
            csv.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(openface_command(executable, image, csv.parent, aligned_size),
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(f"{executable.name} exited with {done.returncode}: {last[0]}", image)
        if csv.is_file():
            read_openface_csv(csv)  # a malformed CSV stops here, naming the file
            results[image] = csv
    return results
