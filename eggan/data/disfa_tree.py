"""DISFA as its owners distribute it: AU label files per subject and one video per camera.

The root holds ``ActionUnit_Labels/SN001/SN001_au1.txt`` ... (one file per coded AU, lines
``frame,intensity`` with intensities 0-5), ``Videos_LeftCamera/LeftVideoSN001_comp.avi`` and
``Videos_RightCamera/RightVideoSN001_comp.avi`` (4,845 frames at 20 fps per subject and camera).
DISFA codes 12 AUs (``DISFA_CODED_AUS``); the other five of the suite's 17 are written as missing,
never 0 (``write_dataset(coded_aus=...)``).

What is read, and what the suite assumes beyond the published facts:

* Frame numbers in the label files count from 1, and frame k is the k-th decoded frame of both
  videos (no public page states the base; the label files and the videos both having 4,845 frames
  is what ties them). The twelve files of a subject must label the same frames, and each video
  must have exactly as many frames as the labels' last frame: any disagreement is refused, since
  an offset of one frame would pair every face with its neighbour's labels.
* ``every`` keeps every k-th labelled frame (default 10: at 20 fps neighbouring frames are near
  duplicates, and 27 subjects x 4,845 frames take 6.4 GB in the in-memory loader at 128 px); the
  same frames are taken from both cameras.
* Both cameras show the same subject at the same moment: their frames share one identity (the
  subject, ``SN001``), so the identity-level split keeps a subject's two views on one side.
* Frames are saved as PNG (lossless), whole unless ``crop_box`` (left, top, right, bottom in video
  pixels, one box for every subject and camera, recorded in ``dataset.json``) cuts them; the
  loader resizes them. No public face box for DISFA is known: the user chooses it.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

from PIL import Image

from eggan.data.aus import AU_COLUMNS, AU_MAX, DISFA_CODED_AUS
from eggan.data.ingest import (
    DEFAULT_TEST_FRACTION,
    IngestReport,
    Record,
    SplitRule,
    assign_splits,
    move_image,
    save_png,
    write_dataset,
)
from eggan.data.staging import check_replaceable
from eggan.data.video import decode_frames
from eggan.errors import ConfigError, DataError
from eggan.io import make_dirs
from eggan.limits import MAX_BAD_IMAGE_FRACTION

LABELS = "ActionUnit_Labels"
CAMERAS = {"left": ("Videos_LeftCamera", "LeftVideo{subject}_comp.avi"),
           "right": ("Videos_RightCamera", "RightVideo{subject}_comp.avi")}
CAMERA_CHOICES = {"left": ("left",), "both": ("left", "right")}
DEFAULT_EVERY = 10
CODED_NUMBERS = tuple(int(c[2:4]) for c in DISFA_CODED_AUS)  # 1, 2, 4, ...: the label files' names
LINE = re.compile(r"\s*(\d+)\s*,\s*([-+0-9.eE]+)\s*")


def read_au_file(path: Path) -> dict[int, float]:
    """frame -> intensity of one ``SN001_au<n>.txt``; a bad or repeated line names its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the AU label file ({exc})", path) from None
    values: dict[int, float] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = LINE.fullmatch(line)
        try:
            frame, value = (int(match.group(1)), float(match.group(2))) if match else (0, math.nan)
        except ValueError:
            frame, value = 0, math.nan
        if frame < 1 or math.isnan(value) or not 0 <= value <= AU_MAX:
            raise DataError(f"line {number} {line.strip()[:40]!r} is not 'frame,intensity' with a frame from 1 "
                            "and an intensity in 0-5", path)
        if frame in values:
            raise DataError(f"frame {frame} is labelled twice (line {number})", path)
        values[frame] = value
    if not values:
        raise DataError("the AU label file is empty", path)
    return values


def span(frames: list[int]) -> str:
    return f"{len(frames)} frames ({frames[0]}-{frames[-1]})"


def read_subject_labels(folder: Path) -> dict[int, tuple[float, ...]]:
    """frame -> 17 intensities (NaN for the AUs DISFA does not code) of the subject in ``folder``."""
    subject = folder.name
    per_au: dict[int, dict[int, float]] = {}
    for n in CODED_NUMBERS:
        path = folder / f"{subject}_au{n}.txt"
        if not path.is_file():
            raise DataError(f"no {path.name}: DISFA codes 12 AUs ({', '.join(map(str, CODED_NUMBERS))}), "
                            "one label file each", folder)
        per_au[n] = read_au_file(path)
    first = sorted(per_au[CODED_NUMBERS[0]])
    for n, values in per_au.items():
        if sorted(values) != first:
            raise DataError(f"{subject}_au{n}.txt labels {span(sorted(values))}, {subject}_au{CODED_NUMBERS[0]}.txt "
                            f"{span(first)}: the AU files of a subject must label the same frames", folder)
    by_column = {f"AU{n:02d}_r": per_au[n] for n in CODED_NUMBERS}
    return {frame: tuple(by_column[c][frame] if c in by_column else math.nan for c in AU_COLUMNS)
            for frame in first}


def video_path(root: Path, camera: str, subject: str) -> Path:
    folder, pattern = CAMERAS[camera]
    return root / folder / pattern.format(subject=subject)


def index_disfa_tree(root: Path, cameras: tuple[str, ...], every: int) -> tuple[
        dict[str, dict[int, tuple[float, ...]]], dict[str, list[int]]]:
    """Every subject's labels and the frames to take, after checking that every video is there."""
    labels_root = root / LABELS
    if not labels_root.is_dir():
        raise DataError(f"no {LABELS} folder: not a DISFA root (the EGGAN authors' list: data disfa LIST IMAGES)",
                        root)
    subjects = sorted(p for p in labels_root.iterdir() if p.is_dir())
    if not subjects:
        raise DataError("no subject folders (SN001/ ...)", labels_root)
    for subject in subjects:  # every video is checked before any is decoded
        for camera in cameras:
            video = video_path(root, camera, subject.name)
            if not video.is_file():
                raise DataError(f"{subject.name} has labels ({LABELS}/{subject.name}) but no video "
                                f"{video.relative_to(root)}", root)
    labels = {s.name: read_subject_labels(s) for s in subjects}
    return labels, {s: sorted(frames)[::every] for s, frames in labels.items()}


def ingest_disfa_tree(
    root: str | Path,
    out: str | Path,
    cameras: str = "left",
    every: int = DEFAULT_EVERY,
    seed: int = 0,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
    crop_box: tuple[int, int, int, int] | None = None,
) -> IngestReport:
    """Extract the labelled frames (every ``every``-th) of each subject's videos into a dataset
    folder: identity = subject for both cameras, split by subject, the five uncoded AUs missing."""
    root, out = Path(root), Path(out)
    if cameras not in CAMERA_CHOICES:
        raise ConfigError(f"--cameras {cameras!r}: expected one of {', '.join(CAMERA_CHOICES)}")
    if every < 1:
        raise ConfigError(f"--every must be at least 1, not {every}")
    if crop_box is not None and not (0 <= crop_box[0] < crop_box[2] and 0 <= crop_box[1] < crop_box[3]):
        raise ConfigError(f"--crop-box {','.join(map(str, crop_box))} is not left,top,right,bottom with left < right "
                          "and top < bottom")
    chosen = CAMERA_CHOICES[cameras]
    labels, wanted = index_disfa_tree(root, chosen, every)
    rule = SplitRule("identity", test_fraction, seed)
    # before minutes of decoding, not after: a split that cannot be drawn, an output in the way
    assign_splits([Record(source=root, name=s, identity=s) for s in labels], rule, root)
    check_replaceable(out, force, root)
    make_dirs(out.parent)
    records: list[Record] = []
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.frames.", dir=out.parent) as scratch:
        for subject, frames in wanted.items():
            last = max(labels[subject])
            for camera in chosen:
                video = video_path(root, camera, subject)
                folder = Path(scratch) / subject / camera

                def keep(frame: int, image: Image.Image, folder: Path = folder, video: Path = video) -> None:
                    if crop_box is not None:
                        if crop_box[2] > image.width or crop_box[3] > image.height:
                            raise DataError(f"--crop-box {','.join(map(str, crop_box))} does not fit its "
                                            f"{image.width}x{image.height} frames", video)
                        image = image.crop(crop_box)
                    save_png(image, folder / f"{frame:05d}.png")

                count = decode_frames(video, frames, keep)
                if count != last:
                    raise DataError(f"has {count} frames, the labels of {subject} go to frame {last}: frame "
                                    "counts disagree", video)
                records += [Record(source=folder / f"{f:05d}.png", name=f"frames/{subject}/{camera}/{f:05d}.png",
                                   identity=subject, aus=labels[subject][f]) for f in frames]
        return write_dataset(records, out, move_image, rule,
                             reader="disfa", source=root, force=force, max_failed=max_failed,
                             coded_aus=DISFA_CODED_AUS,
                             extra={"layout": "DISFA tree (ActionUnit_Labels + Videos_*Camera)",
                                    "cameras": list(chosen), "every": every,
                                    "crop_box": None if crop_box is None else list(crop_box),
                                    "frames_per_subject": {s: len(f) for s, f in wanted.items()},
                                    "frame_numbering": "label frame k = the k-th decoded video frame (from 1)"})
