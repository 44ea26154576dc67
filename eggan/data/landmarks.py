"""Five facial points per image, carried with a dataset so that LightCNN can see faces aligned
the way its authors aligned theirs.

LightCNN's README asks for grey 128x128 faces aligned by 5 points (eye centres, nose, mouth
corners). OpenFace CSVs carry 68 2D landmarks (``x_0..x_67``, ``y_0..y_67``, pixels of the image
OpenFace read, iBUG 68-point numbering counted from 0), so a reader that joins OpenFace CSVs can
keep the 5 points at no cost. They are derived here as:

- right eye centre (the subject's right, on the image's left): mean of points 36-41 (its contour);
- left eye centre: mean of points 42-47;
- nose: point 30 (the tip);
- mouth corners: points 48 (subject's right) and 54 (subject's left).

A reader stores them in ``landmarks.csv`` beside ``index.csv``, one row per image path of the
index, in the pixel coordinates of the file it WROTE (a RaFD crop maps OpenFace's frame
coordinates through its crop box and resize, ``crop_resize``), with that file's width and height.
Coordinates follow OpenCV's convention, as OpenFace's do: the centre of pixel (column j, row i) is
(j, i). ``dataset_points`` maps them to the working size the dataset was loaded at (the same centre
square crop and resize as ``eggan.data.dataset.load_image``). A dataset without the file (SynthFACS,
folders without OpenFace landmarks, OpenFace's own aligned faces, whose geometry differs from the
frame the landmarks are in) has no points, and the verifier says so in every caption.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eggan.errors import DataError
from eggan.io import atomic_write_text

LANDMARKS_NAME = "landmarks.csv"
RIGHT_EYE = tuple(range(36, 42))  # the subject's right eye: the left one in the image
LEFT_EYE = tuple(range(42, 48))
NOSE_TIP = 30
MOUTH_RIGHT, MOUTH_LEFT = 48, 54
POINT_NAMES: tuple[str, ...] = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
USED_INDICES = (*RIGHT_EYE, *LEFT_EYE, NOSE_TIP, MOUTH_RIGHT, MOUTH_LEFT)
# The OpenFace columns the 5 points come from (a CSV written without -2Dfp lacks them).
OPENFACE_COLUMNS: tuple[str, ...] = tuple(f"{axis}_{i}" for axis in "xy" for i in USED_INDICES)
POINT_COLUMNS: tuple[str, ...] = tuple(f"{name}_{axis}" for name in POINT_NAMES for axis in "xy")
FILE_COLUMNS: tuple[str, ...] = ("path", "width", "height", *POINT_COLUMNS)

Points = np.ndarray  # 5 x 2 float64, (x, y) in pixels, in POINT_NAMES order


def five_points(row: Mapping[str, float]) -> Points:
    """The 5 points of one OpenFace row (a mapping with ``OPENFACE_COLUMNS``)."""

    def point(indices: Sequence[int]) -> tuple[float, float]:
        return (float(np.mean([row[f"x_{i}"] for i in indices])), float(np.mean([row[f"y_{i}"] for i in indices])))

    return np.array([point(RIGHT_EYE), point(LEFT_EYE), point((NOSE_TIP,)), point((MOUTH_RIGHT,)),
                     point((MOUTH_LEFT,))], dtype=np.float64)


def geometry(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eye distance and the mouth centre's drop below the eye line (perpendicular to it, downwards)
    of point sets (... x 5 x 2): the two lengths the alignment divides by."""
    right, left, mouth = points[..., 0, :], points[..., 1, :], (points[..., 3, :] + points[..., 4, :]) / 2
    axis = left - right
    distance = np.linalg.norm(axis, axis=-1)
    normal = np.stack([-axis[..., 1], axis[..., 0]], axis=-1) / np.maximum(distance, 1e-12)[..., None]
    drop = ((mouth - (right + left) / 2) * normal).sum(axis=-1)
    return distance, drop


def plausible(points: Points, least: float = 1.0) -> bool:
    """Eyes at least ``least`` px apart and the mouth at least that far below the eye line: a face
    the alignment can place (an all-zero row, as a CSV with placeholder landmarks holds, is not)."""
    distance, drop = geometry(points)
    return bool(distance >= least and drop >= least)


def crop_resize(points: Points, box: tuple[int, int, int, int], size: int) -> Points:
    """``points`` of a frame, in the image that cutting ``box`` (left, top, right, bottom) out of it
    and resizing that to ``size`` x ``size`` gives (PIL's crop then resize: pixel centres map as
    (u + 0.5) * size / extent - 0.5)."""
    left, top, right, bottom = box
    scale = np.array([size / (right - left), size / (bottom - top)])
    return (points - np.array([left, top]) + 0.5) * scale - 0.5


def landmark_rows(entries: Sequence[tuple[str, int, int, Points]]) -> pd.DataFrame:
    """``landmarks.csv``'s table for (index path, written width, written height, points) entries."""
    return pd.DataFrame([[name, width, height, *points.reshape(-1)] for name, width, height, points in entries],
                        columns=list(FILE_COLUMNS))


def write_landmarks(root: Path, table: pd.DataFrame) -> Path:
    target = root / LANDMARKS_NAME
    atomic_write_text(target, table.to_csv(index=False, float_format="%.3f", lineterminator="\n"))
    return target


def read_landmarks(root: Path) -> pd.DataFrame | None:
    """``root/landmarks.csv`` checked (columns, finite numbers, one row per path), or None when absent."""
    path = Path(root) / LANDMARKS_NAME
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, dtype={"path": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV ({str(exc).splitlines()[0]})", path) from None
    missing = [c for c in FILE_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"missing columns {', '.join(missing)}", path)
    numbers = table[list(FILE_COLUMNS[1:])].apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(numbers.to_numpy(np.float64))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise DataError(f"{FILE_COLUMNS[1 + column]} is not a finite number in data row {row + 1}", path)
    if table["path"].duplicated().any():
        raise DataError(f"image path {table['path'][table['path'].duplicated()].iloc[0]!r} has two rows", path)
    distance, drop = geometry(numbers[list(POINT_COLUMNS)].to_numpy(np.float64).reshape(-1, 5, 2))
    flat = (distance <= 0) | (drop <= 0)
    if flat.any():
        row = int(flat.argmax())
        raise DataError(f"data row {row + 1} ({table['path'].iloc[row]}) has its eyes on one point or its mouth not "
                        "below the eye line: no face to align", path)
    return pd.concat([table[["path"]], numbers], axis=1)


def to_working_size(points: np.ndarray, width: np.ndarray, height: np.ndarray, size: int) -> np.ndarray:
    """Points (N x 5 x 2) of files of ``width`` x ``height`` in the ``size`` x ``size`` images
    ``load_image`` makes of them: the centre square crop (integer offsets, as it cuts), then the resize."""
    side = np.minimum(width, height)
    offset = np.stack([(width - side) // 2, (height - side) // 2], axis=1)[:, None, :]
    return (points - offset + 0.5) * (size / side)[:, None, None] - 0.5


def dataset_points(root: Path, paths: Sequence[str], size: int) -> tuple[torch.Tensor | None, str]:
    """The 5 points of every image in ``paths`` (index paths of ``root``) at working size ``size``,
    N x 5 x 2; None with the reason when the dataset has no landmarks file or it misses an image
    (one set of faces aligned and another not would make pairs incomparable)."""
    table = read_landmarks(root)
    if table is None:
        return None, f"the dataset has no {LANDMARKS_NAME} (no OpenFace landmarks were given at ingest)"
    rows = table.set_index("path").reindex(list(paths))
    absent = rows["width"].isna()
    if absent.any():
        return None, (f"{LANDMARKS_NAME} has no landmarks for {int(absent.sum())} of the {len(paths)} images "
                      f"(first: {rows.index[absent.to_numpy()][0]})")
    points = rows[list(POINT_COLUMNS)].to_numpy(np.float64).reshape(-1, 5, 2)
    mapped = to_working_size(points, rows["width"].to_numpy(np.int64), rows["height"].to_numpy(np.int64), size)
    return torch.from_numpy(mapped).float(), f"{LANDMARKS_NAME} (5 points from OpenFace's 68 landmarks)"
