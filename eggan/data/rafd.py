"""RaFD (Radboud Faces Database) as a suite dataset: official file names in, 128x128 faces out.

Official names code every label: ``Rafd090_01_Caucasian_female_angry_frontal.jpg`` is camera
angle 090 (frontal; 000/045/135/180 are the others), subject 01, ethnicity, gender, expression
(RaFD's eight names are exactly the suite's ``EXPRESSIONS``) and gaze (frontal/left/right).
The frontal camera is the default (1,608 images); the paper's 4,824 images are the three
angles 045, 090, 135. Identity = subject number; the split is by identity and seeded.

Face crop. RaFD ships 681x1024 portraits (head, shoulders, background), so a centre crop is not
a face crop. Without OpenFace's aligned faces (``aligned_dir``) each image is cut with the square
box of its camera angle, ``RAFD_CROPS[angle] = (left, top, right, bottom)`` in pixels of the
681x1024 frame, and resized to ``size`` (Lanczos), saved as PNG. Images of another size are refused.

How the boxes were chosen: they are GEOMETRIC ESTIMATES from the frame and the camera set-up, not
fitted to real faces (no RaFD copy was at hand). The frontal box (90, 150, 590, 650) is a 500x500
square centred horizontally, its centre at y = 400, meant to hold the head from the hair to the
chin at RaFD's standard framing (the head about 25 cm high, so about 20 px/cm). RaFD's five
cameras stand at one height on a half circle around the model, each aimed at the head, so turning
to another camera rotates the head about a vertical axis that stays where the frontal camera sees
it: the head's height and vertical place do not change (same top and size), and its horizontal
extent about that axis grows from about +-7.5 cm (frontal) to about -10/+12 cm (profile, nose
included), i.e. at most about 240 px of the box's 250 px half-width. So one box holds the whole
head at every angle, and the table gives every angle that box. What moves is the face within it:
the eyes, nose and mouth lie about 8 cm in front of the axis, so at an angle of t degrees from
frontal they sit about 160 * sin(t) px (110 px at 045/135, 160 px at 000/180) towards the side
the face points to, and which image side that is for 000 versus 180 is not stated in any public
description found; the boxes are therefore not shifted by a guess. Look at the crops with
``eggan-bench data show`` and override a camera's box with ``--crop ANGLE=LEFT,TOP,SIZE``
(``parse_crops``; e.g. ``--crop 000=40,150,500``), or pass OpenFace's aligned faces
(``aligned_dir``, written by ``eggan-bench data openface --aligned-size 128``). A box that does not
lie inside the frame is refused rather than clipped: PIL would fill the outside with black, and
the faces would be mostly background.

Landmarks: when the OpenFace CSVs carry 2D landmarks, each cropped face's 5 alignment points are
mapped through its box and resize and written to ``landmarks.csv`` (``eggan.data.landmarks``), so
a released LightCNN sees faces aligned as its authors aligned theirs. With ``aligned_dir`` they are
not (OpenFace's aligned faces have their own geometry, which its CSV does not record).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
from eggan.data.landmarks import crop_resize
from eggan.data.openface import read_au_source
from eggan.errors import ConfigError, DataError
from eggan.limits import MAX_BAD_IMAGE_FRACTION

RAFD_FRAME = (681, 1024)  # width, height of every official RaFD image
CropBox = tuple[int, int, int, int]  # left, top, right, bottom in the frame
ANGLES: tuple[int, ...] = (0, 45, 90, 135, 180)
# The face box of each camera angle: geometric estimates, the same for every angle (module docstring).
RAFD_CROPS: dict[int, CropBox] = {
    0: (90, 150, 590, 650),
    45: (90, 150, 590, 650),
    90: (90, 150, 590, 650),
    135: (90, 150, 590, 650),
    180: (90, 150, 590, 650),
}
CROP_FORMAT = "ANGLE=LEFT,TOP,SIZE (ANGLE one of 000, 045, 090, 135, 180; a SIZE x SIZE square, e.g. 090=90,150,500)"
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


def parse_crops(texts: Sequence[str]) -> dict[int, CropBox]:
    """``RAFD_CROPS`` with the boxes given as ``ANGLE=LEFT,TOP,SIZE`` (``--crop``, repeatable)
    replacing those of their angles; anything else is a one-line error quoting it."""
    crops = dict(RAFD_CROPS)
    for text in texts:
        angle, _, numbers = text.partition("=")
        try:
            left, top, side = (int(v) for v in numbers.split(","))
            key = int(angle)
        except ValueError:
            raise ConfigError(f"--crop {text!r}: expected {CROP_FORMAT}") from None
        if key not in ANGLES or side < 1:
            raise ConfigError(f"--crop {text!r}: expected {CROP_FORMAT}")
        crops[key] = (left, top, left + side, top + side)
    return crops


def check_crops(crops: Mapping[int, CropBox], angles: Sequence[int]) -> None:
    """Every box used lies inside the frame (a box partly outside would be filled with black)."""
    width, height = RAFD_FRAME
    for angle in (a for a in angles if a in crops):  # an unknown angle is index_rafd's error
        left, top, right, bottom = crops[angle]
        if not (0 <= left < right <= width and 0 <= top < bottom <= height):
            raise ConfigError(f"crop box {left},{top},{right},{bottom} of camera {angle:03d} is not inside RaFD's "
                              f"{width}x{height} frame (0 <= left < right <= {width}, 0 <= top < bottom <= {height})")


def crop_writer(crops: Mapping[int, CropBox], size: int) -> ImageWriter:
    """Cut the box of the image's camera angle out of an official 681x1024 frame and resize it to ``size``."""

    def write(source: Path, target: Path) -> None:
        box = crops[_angle(source)]
        with open_image(source) as im:
            if im.size != RAFD_FRAME:
                raise DataError(f"is {im.size[0]}x{im.size[1]}, not RaFD's 681x1024; the crop boxes "
                                "do not fit (pass aligned faces)", source)
            face = rgb8(im).crop(box).resize((size, size), Image.Resampling.LANCZOS)
        save_png(face, target)

    return write


def _angle(path: Path) -> int:
    label = parse_rafd_name(path.name)
    assert label is not None  # index_rafd kept official names only
    return label.angle


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
    crops: Mapping[int, CropBox] = RAFD_CROPS,
    aligned_dir: str | Path | None = None,
    min_confidence: float = 0.0,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
) -> IngestReport:
    """Index RaFD, join OpenFace AUs (per-image CSV folder or one CSV with a name column),
    crop faces with the box of their camera angle (``crops``, default ``RAFD_CROPS``), split by
    identity and write the dataset folder, with the faces' 5 alignment points where the CSVs carry
    landmarks."""
    if aligned_dir is None:
        check_crops(crops, angles)
    records = index_rafd(src, angles)
    readout = read_au_source(au_source, [r.source.name for r in records], min_confidence)
    for record in records:  # AUs and landmarks are keyed by the original file name
        record.aus = readout.aus.get(record.source.name)
        points = readout.points.get(record.source.name)
        if points is not None and aligned_dir is None:  # OpenFace's frame -> this crop's pixels
            record.points = crop_resize(points, crops[_angle(record.source)], size)
    writer = crop_writer(crops, size) if aligned_dir is None else aligned_writer(Path(aligned_dir), size)
    face = {"crop_boxes": {f"{a:03d}": list(crops[a]) for a in angles}, "frame": list(RAFD_FRAME),
            "boxes_are": "geometric estimates, not fitted to real faces (eggan.data.rafd)"} \
        if aligned_dir is None else {"aligned_dir": str(aligned_dir)}
    return write_dataset(
        records, out, writer, SplitRule("identity", test_fraction, seed), reader="rafd", source=src,
        extra={"angles": list(angles), "size": size, "face": face, "aus": readout.summary()},
        force=force, max_failed=max_failed,
    )

