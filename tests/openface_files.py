"""Test helpers: OpenFace CSVs written byte by byte in each real layout, tiny images, and a
stand-in for the OpenFace binary.

The layouts follow the measured facts in shared/spec/openface.md §2.4: the 2.0 FeatureExtraction
file (431 columns, ", " header with "," data, CRLF, no final newline), the 2.2 layout with
``face_id``, FaceLandmarkImg's image mode (``face, confidence``), AU28 as ``AU28_c`` only.
"""

from __future__ import annotations

import random
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from eggan.data.aus import AU_COLUMNS, AU_IDS

PRESENCE = [f"AU{n:02d}_c" for n in sorted((*AU_IDS, 28))]  # 18, AU28 presence only


def layout_columns(layout: str) -> list[str]:
    """Header names (without AU columns) of one OpenFace layout."""
    if layout == "image":
        return ["face", "confidence"]
    if layout == "2.2":
        return ["frame", "face_id", "timestamp", "confidence", "success", "gaze_angle_x", "pose_Rx"]
    if layout == "2.0":  # 4 meta + 6 gaze + 6 pose + 136 2D + 204 3D + 6 rigid + 34 non-rigid
        gaze = [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"]
        pose = [f"pose_{k}" for k in ("Tx", "Ty", "Tz", "Rx", "Ry", "Rz")]
        lmk2 = [f"{a}_{i}" for a in "xy" for i in range(68)]
        lmk3 = [f"{a}_{i}" for a in "XYZ" for i in range(68)]
        rigid = ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"]
        return ["frame", "timestamp", "confidence", "success", *gaze, *pose, *lmk2, *lmk3, *rigid,
                *(f"p_{i}" for i in range(34))]
    raise ValueError(layout)


def openface_csv(
    rows: Sequence[dict[str, object]],
    layout: str = "image",
    header_sep: str = ", ",
    data_sep: str = ",",
    newline: str = "\r\n",
    final_newline: bool = False,
    with_d: bool = False,
    shuffle_seed: int | None = None,
    drop: Sequence[str] = (),
) -> bytes:
    """CSV bytes: each row gives AU values by column name and optional meta (success, confidence,
    frame, face); unspecified cells are 0 (meta cells get sensible defaults)."""
    columns = [*layout_columns(layout), *AU_COLUMNS, *PRESENCE]
    if with_d:
        columns += [f"AU{n:02d}_d" for n in AU_IDS]
    if rows and "name" in rows[0]:
        columns.insert(0, "name")
    columns = [c for c in columns if c not in drop]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(columns)
    lines = [header_sep.join(columns)]
    for k, row in enumerate(rows):
        defaults = {"frame": k + 1, "face": k, "face_id": 0, "timestamp": k * 0.001,
                    "confidence": 0.98, "success": 1}
        cells = [str(row.get(c, defaults.get(c, 0))) for c in columns]
        lines.append(data_sep.join(cells))
    text = newline.join(lines) + (newline if final_newline else "")
    return text.encode()


def au_row(seed: int, **meta: object) -> dict[str, object]:
    """A row of 17 distinct intensities in 0-5 (reproducible from ``seed``) plus meta cells."""
    rng = random.Random(seed)
    return {**{c: round(rng.uniform(0, 5), 2) for c in AU_COLUMNS}, **meta}


def tiny_image(path: Path, size: tuple[int, int] = (12, 16), colour: int = 0) -> Path:
    """A small RGB image whose pixels depend on ``colour`` (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (colour % 256, (3 * colour) % 256, 100))
    image.putpixel((0, 0), (255, 0, 0))
    image.save(path)
    return path


def truncated_image(path: Path) -> Path:
    """A JPEG cut in half: opens, but fails to decode."""
    tiny_image(path.with_suffix(".full.jpg"), (64, 64))
    data = path.with_suffix(".full.jpg").read_bytes()
    path.with_suffix(".full.jpg").unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


FAKE_OPENFACE = '''#!{python}
"""Fake FaceLandmarkImg: logs its arguments (to $FAKE_OPENFACE_LOG, if set), writes an image-mode
CSV named after the image (every AU 1.5; with -2Dfp also 68 landmarks of a fixed face) and, with
-simalign, a grey aligned face where OpenFace puts it."""
import json, os, sys
args = sys.argv[1:]
if "FAKE_OPENFACE_LOG" in os.environ:
    with open(os.environ["FAKE_OPENFACE_LOG"], "a") as log:
        log.write(json.dumps([os.path.basename(sys.argv[0])] + args) + "\\n")
image, out = args[args.index("-f") + 1], args[args.index("-out_dir") + 1]
stem = os.path.splitext(os.path.basename(image))[0]
if "noface" in stem:
    sys.exit(0)
if "crash" in stem:
    sys.stderr.write("could not load models\\n")
    sys.exit(3)
aus = {aus!r}
header = "face, confidence, " + ", ".join(aus) + ", AU28_c"
row = "0, 0.97, " + ", ".join("1.5" for _ in aus) + ", 1.0"
if "-2Dfp" in args:  # a face on a 12x16 image: eye contours at (3, 6) and (9, 6), nose (6, 9), mouth (4..8, 12)
    xs, ys = [6.0] * 68, [8.0] * 68
    for i in range(36, 42):
        xs[i], ys[i] = 3.0, 6.0
    for i in range(42, 48):
        xs[i], ys[i] = 9.0, 6.0
    xs[30], ys[30], xs[48], ys[48], xs[54], ys[54] = 6.0, 9.0, 4.0, 12.0, 8.0, 12.0
    header += ", " + ", ".join(["x_%d" % i for i in range(68)] + ["y_%d" % i for i in range(68)])
    row += ", " + ", ".join("%.3f" % v for v in xs + ys)
open(os.path.join(out, stem + ".csv"), "w").write(header + "\\r\\n" + row)
if "-simalign" in args:
    from PIL import Image
    size = int(args[args.index("-simsize") + 1])
    os.makedirs(os.path.join(out, stem + "_aligned"), exist_ok=True)
    Image.new("RGB", (size, size), (128, 128, 128)).save(os.path.join(out, stem + "_aligned", "face_det_000000.bmp"))
'''


def install_fake_openface(path: Path) -> Path:
    """Write the fake FaceLandmarkImg at ``path`` (executable, run by this Python)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_OPENFACE.format(python=sys.executable, aus=list(AU_COLUMNS)))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path
