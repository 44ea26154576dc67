"""RaFD (Radboud Faces Database) as a suite dataset: official file names in, 128x128 faces out.

Official names code every label: ``Rafd090_01_Caucasian_female_angry_frontal.jpg`` is camera
angle 090 (frontal; 000/045/135/180 are the others), subject 01, ethnicity, gender, expression
(RaFD's eight names are exactly the suite's ``EXPRESSIONS``) and gaze (frontal/left/right).
The frontal camera is the default (1,608 images); the paper's 4,824 images are the three
angles 045, 090, 135. Identity = subject number; the split is by identity and seeded.

Face crop. RaFD ships 681x1024 portraits (head, shoulders, background), so a centre crop is not
a face crop. Without OpenFace's aligned faces (``aligned_dir``) every image is cut with one
FIXED box, ``RAFD_CROP_BOX = (90, 150, 590, 650)`` (left, top, right, bottom in pixels of the
681x1024 frame: a 500x500 square centred horizontally, its centre at y = 400, meant to hold the
head from the hair to the chin) and resized to 128x128 (Lanczos), saved as PNG. The box is an
approximation chosen for RaFD's standard framing of the frontal camera; it was not fitted to
the faces (no RaFD copy was at hand when it was chosen), other camera angles and the children
are framed less well, and images of another size are refused. Look at the crops with
``eggan-bench data show``; pass another ``crop_box`` (CLI ``--crop-box``) or OpenFace's aligned
faces (``aligned_dir``, written by ``eggan-bench data openface --aligned-size 128``) otherwise.
A box that does not lie inside the frame is refused rather than clipped: PIL would fill the
outside with black, and the faces would be mostly background.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from eggan.data.decode import open_image, rgb8
from eggan.data.ingest import (
    DEFAULT_TEST_FRACTION,
    ImageWriter,
    IngestReport,
    Record,
    SplitRule,
    list_images,
    parse_expression,
    save_png,
    write_dataset,
)
from eggan.data.openface import read_au_source
from eggan.errors import ConfigError, DataError
from eggan.limits import MAX_BAD_IMAGE_FRACTION

RAFD_FRAME = (681, 1024)  # width, height of every official RaFD image
RAFD_CROP_BOX = (90, 150, 590, 650)  # left, top, right, bottom; see the module docstring
ANGLES: tuple[int, ...] = (0, 45, 90, 135, 180)
FRONTAL = 90
PAPER_ANGLES: tuple[int, ...] = (45, 90, 135)  # 67 x 8 x 3 gazes x 3 angles = 4,824 images
RAFD_NAME = re.compile(
    r"Rafd(?P<angle>\d{3})_(?P<subject>\d+)_(?P<ethnicity>[A-Za-z]+)_(?P<gender>[A-Za-z]+)_"
    r"(?P<expression>[A-Za-z]+)_(?P<gaze>[A-Za-z]+)\.\w+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RafdName:
    """The labels coded in one official RaFD file name."""

    angle: int
    subject: str
    ethnicity: str
    gender: str
    expression: str
    gaze: str


def parse_rafd_name(filename: str) -> RafdName | None:
    """Labels of an official RaFD file name, or None when the name is not one."""
    match = RAFD_NAME.fullmatch(filename)
    if match is None:
        return None
    return RafdName(
        angle=int(match["angle"]),
        subject=f"{int(match['subject']):02d}",
        ethnicity=match["ethnicity"].lower(),
        gender=match["gender"].lower(),
        expression=match["expression"].lower(),
        gaze=match["gaze"].lower(),
    )


def index_rafd(src: str | Path, angles: Sequence[int] = (FRONTAL,)) -> list[Record]:
    """Records for the official images under ``src`` taken by the cameras in ``angles``."""
    src = Path(src)
    unknown = sorted(set(angles) - set(ANGLES))
    if unknown:
        raise DataError(f"unknown RaFD camera angle {unknown[0]}; expected one of {ANGLES}", src)
    records = []
    for path in list_images(src):
        label = parse_rafd_name(path.name)
        if label is None:
            raise DataError("not an official RaFD file name (Rafd090_01_Caucasian_female_angry_"
                            "frontal.jpg); use `eggan-bench data folders` for other layouts", path)
        if label.angle not in angles:
            continue
        records.append(Record(source=path, name=f"images/{path.stem}.png", identity=label.subject,
                              expression=parse_expression(label.expression, path)))
    if not records:
        raise DataError(f"no RaFD images from camera angles {', '.join(map(str, angles))}", src)
    return records


def crop_writer(box: tuple[int, int, int, int], size: int) -> ImageWriter:
    """Cut ``box`` out of an official 681x1024 frame and resize it to ``size``."""

    def write(source: Path, target: Path) -> None:
        with open_image(source) as im:
            if im.size != RAFD_FRAME:
                raise DataError(f"is {im.size[0]}x{im.size[1]}, not RaFD's 681x1024; the fixed crop "
                                "does not fit (pass aligned faces)", source)
            face = rgb8(im).crop(box).resize((size, size), Image.Resampling.LANCZOS)
        save_png(face, target)

    return write


def aligned_writer(aligned_dir: Path, size: int) -> ImageWriter:
    """Use OpenFace's aligned face of each image (``<stem>_aligned/face_det_000000.bmp``, as
    FaceLandmarkImg -simalign writes it, or ``<stem>.<ext>``), resized to ``size``."""

    def write(source: Path, target: Path) -> None:
        candidates = [aligned_dir / f"{source.stem}_aligned" / "face_det_000000.bmp",
                      *(aligned_dir / f"{source.stem}{ext}" for ext in (".png", ".jpg", ".bmp"))]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"no aligned face for {source.name}")
        with open_image(found) as im:
            face = rgb8(im).resize((size, size), Image.Resampling.LANCZOS)
        save_png(face, target)

    return write


def ingest_rafd(
    src: str | Path,
    au_source: str | Path,
    out: str | Path,
    angles: Sequence[int] = (FRONTAL,),
    seed: int = 0,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    size: int = 128,
    crop_box: tuple[int, int, int, int] = RAFD_CROP_BOX,
    aligned_dir: str | Path | None = None,
    min_confidence: float = 0.0,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
) -> IngestReport:
    """Index RaFD, join OpenFace AUs (per-image CSV folder or one CSV with a name column),
    crop faces, split by identity and write the dataset folder."""
    width, height = RAFD_FRAME
    left, top, right, bottom = crop_box
    if aligned_dir is None and not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise ConfigError(f"crop box {left},{top},{right},{bottom} is not inside RaFD's {width}x{height} frame "
                          f"(0 <= left < right <= {width}, 0 <= top < bottom <= {height})")
    records = index_rafd(src, angles)
    readout = read_au_source(au_source, [r.source.name for r in records], min_confidence)
    for record in records:  # AUs are keyed by the original file name
        record.aus = readout.aus.get(record.source.name)
    writer = crop_writer(crop_box, size) if aligned_dir is None else aligned_writer(Path(aligned_dir), size)
    face = {"crop_box": list(crop_box), "frame": list(RAFD_FRAME)} if aligned_dir is None else {
        "aligned_dir": str(aligned_dir)}
    return write_dataset(
        records, out, writer, SplitRule("identity", test_fraction, seed), reader="rafd", source=src,
        extra={"angles": list(angles), "size": size, "face": face, "aus": readout.summary()},
        force=force, max_failed=max_failed,
    )

