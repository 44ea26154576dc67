"""LightCNN's 5-point alignment and the landmarks that travel with a dataset.

Expected positions come from the authors' recipe (README: ec_y 40, ec_mc_y 48 in a 128x128 crop)
and from where the tests paint marks, found again in the output pixels (blob centroids), never
from the transform under test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from openface_files import au_row, openface_csv
from PIL import Image
from scipy import ndimage
from standins import MeanColourAUs
from test_reports import make_results

from eggan.data.aus import AU_COLUMNS, EXPRESSIONS
from eggan.data.dataset import load_dataset, write_index
from eggan.data.landmarks import LANDMARKS_NAME, dataset_points, five_points, read_landmarks
from eggan.data.openface import read_openface_dir
from eggan.data.rafd import RAFD_CROPS, ingest_rafd
from eggan.errors import DataError
from evaluate.alignment import align
from evaluate.identity import Verifier, released_verifier
from evaluate.lightcnn import build_lightcnn
from evaluate.pairs import make_pairs
from evaluate.protocol import prepare_reference, score_source
from reports.tables import identity_table

SIGMA = 2.0


def blobs(size: tuple[int, int], centres: list[tuple[float, float]], sigma: float = SIGMA) -> np.ndarray:
    """A black H x W image with a Gaussian spot (peak 1) at each (x, y) pixel centre."""
    ys, xs = np.mgrid[0:size[1], 0:size[0]].astype(np.float64)
    return sum(np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2)) for x, y in centres)


def spot_centres(image: np.ndarray, level: float = 0.3) -> list[tuple[float, float]]:
    """Intensity-weighted centroids (x, y) of the bright spots, sorted by y then x."""
    labels, count = ndimage.label(image > level)
    found = ndimage.center_of_mass(np.where(image > level, image, 0), labels, range(1, count + 1))
    return sorted(((float(x), float(y)) for y, x in found), key=lambda p: (round(p[1]), p[0]))


def face_points(centre: tuple[float, float], tilt_degrees: float, half_eyes: float, drop: float
                ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """5 points of an upright symmetric face (eyes ``half_eyes`` either side of ``centre``, mouth
    centre ``drop`` below) turned by ``tilt_degrees``; also its eye and mouth centres."""
    t = math.radians(tilt_degrees)

    def at(dx: float, dy: float) -> tuple[float, float]:
        return (centre[0] + dx * math.cos(t) - dy * math.sin(t), centre[1] + dx * math.sin(t) + dy * math.cos(t))

    right, left, mouth = at(-half_eyes, 0), at(half_eyes, 0), at(0, drop)
    points = np.array([right, left, at(0, drop / 2), at(-12, drop), at(12, drop)])
    return points, [right, left, mouth]


@pytest.mark.parametrize(("tilt", "half_eyes", "drop"), [(0.0, 15.0, 30.0), (23.0, 18.0, 34.0), (-35.0, 11.0, 20.0)])
def test_alignment_puts_eyes_and_mouth_where_the_authors_do(tilt: float, half_eyes: float, drop: float) -> None:
    """Spots painted at the eye centres and the mouth centre of a turned, scaled face come out with
    the eye midpoint at (63.5, 40) on a horizontal line and the mouth centre 48 px below it; the
    eyes 48 * half_eyes / drop px either side (the scale the mouth distance sets)."""
    points, marks = face_points((95.0, 70.0), tilt, half_eyes, drop)
    image = torch.from_numpy(blobs((200, 160), marks)).float()[None, None]
    out = align(image, torch.from_numpy(points)[None].float())[0, 0].numpy()
    assert out.shape == (128, 128)
    eye_a, eye_b, mouth = spot_centres(out)
    spread = 48 * half_eyes / drop
    assert eye_a == pytest.approx((63.5 - spread, 40.0), abs=0.15)
    assert eye_b == pytest.approx((63.5 + spread, 40.0), abs=0.15)
    assert mouth == pytest.approx((63.5, 88.0), abs=0.15)


def test_the_five_points_come_from_the_documented_openface_indices() -> None:
    """Eye centres = mean of 36-41 and 42-47, nose 30, mouth corners 48 and 54: every other
    landmark is put far away, so a wrong index moves a point by hundreds of pixels."""
    row = {f"{axis}_{i}": 1000.0 for axis in "xy" for i in range(68)}
    for k, i in enumerate(range(36, 42)):  # a hexagon of radius 4 around (30, 50)
        row[f"x_{i}"], row[f"y_{i}"] = 30 + 4 * math.cos(k * math.pi / 3), 50 + 4 * math.sin(k * math.pi / 3)
    for k, i in enumerate(range(42, 48)):
        row[f"x_{i}"], row[f"y_{i}"] = 70 + 3 * math.cos(k * math.pi / 3), 52 + 3 * math.sin(k * math.pi / 3)
    row.update({"x_30": 50, "y_30": 70, "x_48": 38, "y_48": 90, "x_54": 62, "y_54": 91})
    assert five_points(row) == pytest.approx(np.array([[30, 50], [70, 52], [50, 70], [38, 90], [62, 91]]), abs=1e-9)


def landmark_row(points: np.ndarray, k: int) -> dict[str, object]:
    """An OpenFace 2.0 row with AUs and 68 landmarks whose 5 derived points are ``points``."""
    row = au_row(k)
    for i in range(68):
        row[f"x_{i}"], row[f"y_{i}"] = 5.0, 5.0
    for index, point in zip(((36, 42), (42, 48), (30, 31), (48, 49), (54, 55)), points, strict=True):
        for i in range(*index):
            row[f"x_{i}"], row[f"y_{i}"] = round(float(point[0]), 3), round(float(point[1]), 3)
    return row


def test_rafd_ingest_writes_each_crops_landmarks_where_its_pixels_are(tmp_path: Path) -> None:
    """Dots painted at a frame's eye and mouth centres, found again in the 128 px crop and in the
    64 px working images: landmarks.csv and dataset_points put the points on them."""
    src, csvs = tmp_path / "RaFD", tmp_path / "aus"
    src.mkdir()
    csvs.mkdir()
    box = RAFD_CROPS[90]
    names = []
    for subject in (1, 2):
        for e, expression in enumerate(EXPRESSIONS[:2]):
            points, marks = face_points((340.0 + 10 * e, 380.0 + 7 * subject), 8.0 * (e - 0.5), 60.0, 110.0)
            name = f"Rafd090_{subject:02d}_Caucasian_female_{expression}_frontal.jpg"
            pixels = (255 * np.clip(blobs((681, 1024), marks, sigma=8.0), 0, 1)).astype(np.uint8)
            Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(src / name, quality=98)
            (csvs / f"{Path(name).stem}.csv").write_bytes(openface_csv([landmark_row(points, len(names))],
                                                                       layout="2.0"))
            names.append((name, box))
    ingest_rafd(src, csvs, tmp_path / "out", test_fraction=0.5)
    table = read_landmarks(tmp_path / "out")
    assert len(table) == 4 and set(table["width"]) == {128} and set(table["height"]) == {128}
    dataset = load_dataset(tmp_path / "out", image_size=64, min_identities=1)
    points, source = dataset_points(dataset.root, list(dataset.table["path"]), 64)
    assert points is not None and LANDMARKS_NAME in source
    for k, path in enumerate(dataset.table["path"]):
        crop = np.asarray(Image.open(tmp_path / "out" / path).convert("L"), dtype=np.float64) / 255
        row = table.set_index("path").loc[path]
        written = np.array([[row[f"{n}_x"], row[f"{n}_y"]] for n in ("right_eye", "left_eye", "mouth_right",
                                                                      "mouth_left")])
        same_places(spot_centres(crop), written)
        working = dataset.images[k].float().mean(0).numpy() / 255
        same_places(spot_centres(working), points[k].numpy())


def same_places(found: list[tuple[float, float]], points: np.ndarray, tolerance: float = 0.3) -> None:
    """The spots found are the eye centres and the mouth centre of ``points`` (5 x 2, or the 4 without
    the nose), in any order."""
    mouth = (points[-2] + points[-1]) / 2
    expected = sorted([tuple(points[0]), tuple(points[1]), tuple(mouth)])
    np.testing.assert_allclose(np.array(sorted(found)), np.array(expected), atol=tolerance)


def test_a_csv_without_real_landmarks_gives_no_points(tmp_path: Path) -> None:
    """The 2.0 layout with every landmark 0 (a placeholder) and an AU-only CSV: AUs yes, points no."""
    (tmp_path / "zero.csv").write_bytes(openface_csv([au_row(1)], layout="2.0"))
    (tmp_path / "aus.csv").write_bytes(openface_csv([au_row(2)], layout="image"))
    readout = read_openface_dir(tmp_path, ["zero.jpg", "aus.jpg"])
    assert set(readout.aus) == {"zero.jpg", "aus.jpg"} and readout.points == {}


def face_dataset(root: Path, with_landmarks: bool) -> Path:
    """6 identities x 8 expressions of 64 px faces (spots at eyes and mouth, turned a little per
    image), and a landmarks.csv when asked."""
    rows, entries = [], []
    rng = np.random.default_rng(0)
    for i in range(6):
        for e, expression in enumerate(EXPRESSIONS):
            points, marks = face_points((32 + rng.uniform(-3, 3), 26 + rng.uniform(-3, 3)), rng.uniform(-15, 15),
                                        9 + i, 18 + e % 3)
            path = f"images/id{i}_{expression}.png"
            pixels = (255 * np.clip(blobs((64, 64), marks, sigma=1.5), 0, 1)).astype(np.uint8)
            (root / "images").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.stack([pixels] * 3, axis=-1)).save(root / path)
            rows.append({"path": path, "identity": f"id{i}", "expression": expression,
                         "split": "test" if i >= 4 else "train", **{c: 1.0 for c in AU_COLUMNS}})
            entries.append([path, 64, 64, *points.reshape(-1)])
    write_index(pd.DataFrame(rows), root)
    if with_landmarks:
        columns = ["path", "width", "height", *(f"{n}_{a}" for n in ("right_eye", "left_eye", "nose", "mouth_right",
                                                                      "mouth_left") for a in "xy")]
        pd.DataFrame(entries, columns=columns).to_csv(root / LANDMARKS_NAME, index=False)
    return root


def lightcnn9_file(path: Path) -> Path:
    """A random LightCNN-9 in the authors' layout ('module.' keys under state_dict)."""
    torch.manual_seed(0)
    state = build_lightcnn("lightcnn-9", num_classes=None).state_dict()
    torch.save({"epoch": 1, "arch": "LightCNN", "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path


def test_the_verifier_aligns_where_landmarks_exist_and_the_caption_says_which(tmp_path: Path) -> None:
    weights = lightcnn9_file(tmp_path / "LightCNN_9Layers_checkpoint.pth.tar")
    aligned = load_dataset(face_dataset(tmp_path / "with", True), 64)
    plain = load_dataset(face_dataset(tmp_path / "without", False), 64)
    on = released_verifier("lightcnn-9", str(weights), "cpu", accept_unverified=True, dataset=aligned)
    off = released_verifier("lightcnn-9", str(weights), "cpu", accept_unverified=True, dataset=plain)
    assert on.metadata()["aligned"] is True and off.metadata()["aligned"] is False
    rows = torch.arange(len(aligned))
    images = aligned.batch(rows).image
    with pytest.raises(ValueError, match="give the dataset rows"):
        on.features(images)
    # Aligned, every face's spots land on the same 3 places: the net sees near-identical inputs.
    gray = torch.stack([align(images[k:k + 1].mean(1, keepdim=True).add(1).div(2),
                              on.points[k:k + 1])[0, 0] for k in range(len(images))])
    for k in range(len(images)):
        marks = spot_centres(gray[k].numpy(), level=0.2)
        assert [m[1] for m in marks] == pytest.approx([40.0, 40.0, 88.0], abs=0.5)
    spread_on = torch.nn.functional.normalize(on.features(images, rows), dim=1)
    spread_off = torch.nn.functional.normalize(off.features(images), dim=1)
    assert (spread_on @ spread_on.T).min() > (spread_off @ spread_off.T).min()
    for verifier, expected in ((on, "face alignment: 5-point similarity alignment by the OpenFace landmarks"),
                               (off, "face alignment: none: the dataset's own crop, not aligned")):
        verifier.threshold = 0.5
        results = make_results()
        results["meta"]["evaluators"]["verifier"] = verifier.metadata()
        caption = identity_table(results).caption
        assert expected in caption, caption
        assert f"sha256 {verifier.metadata()['sha256']}" in caption
    assert "landmarks from the dataset's landmarks.csv" in on.metadata()["alignment"]
    assert "a generated image uses its source's landmarks" in on.metadata()["alignment"]
    assert f"the dataset has no {LANDMARKS_NAME}" in off.metadata()["alignment"]


def test_a_landmarks_file_with_a_flat_face_or_missing_images_is_said(tmp_path: Path) -> None:
    root = face_dataset(tmp_path / "faces", True)
    table = pd.read_csv(root / LANDMARKS_NAME)
    table.drop(index=3).to_csv(root / LANDMARKS_NAME, index=False)
    paths = list(pd.read_csv(root / "index.csv")["path"])
    points, reason = dataset_points(root, paths, 64)
    assert points is None and reason == (f"{LANDMARKS_NAME} has no landmarks for 1 of the 48 images "
                                         f"(first: {paths[3]})")
    table.loc[5, "left_eye_x"], table.loc[5, "left_eye_y"] = table.loc[5, "right_eye_x"], table.loc[5, "right_eye_y"]
    table.to_csv(root / LANDMARKS_NAME, index=False)
    with pytest.raises(DataError, match=rf"{LANDMARKS_NAME}: data row 6 \({paths[5]}\) has its eyes on one point"):
        dataset_points(root, paths, 64)


class Pixels(torch.nn.Module):
    """Features = the aligned face's pixels: any change of geometry changes them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def test_a_generated_image_is_aligned_by_its_sources_landmarks(tmp_path: Path) -> None:
    """The unedited source, scored as a generated image, must come out of the alignment exactly as
    the source did: cosine 1 for every pair. Aligned by any other row's points (the target's, the
    impostor's), the pixels move and the cosine drops."""
    dataset = load_dataset(face_dataset(tmp_path / "faces", True), 64)
    points, _ = dataset_points(dataset.root, list(dataset.table["path"]), 64)
    verifier = Verifier(Pixels(), 32, {"name": "pixels", "sha256": "stand-in"}, torch.device("cpu"), points)
    verifier.threshold = 0.999
    pairs = make_pairs(dataset, per_expression=2)
    reference = prepare_reference(dataset, pairs, MeanColourAUs(), verifier)
    frame, _ = score_source(dataset, pairs, MeanColourAUs(), verifier, reference, rounds=0)
    np.testing.assert_allclose(frame["cosine"], 1.0, atol=1e-6)
    images = dataset.batch(reference.source).image
    other = torch.nn.functional.cosine_similarity(verifier.features(images, reference.source),
                                                  verifier.features(images, reference.target))
    assert other.max() < 0.99
