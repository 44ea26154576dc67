"""RaFD reader: official names, camera filter, AU join, the crop box per camera, landmarks, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from openface_files import au_row, openface_csv, tiny_image, truncated_image
from PIL import Image, ImageDraw

from eggan.data.aus import AU_COLUMNS, EXPRESSIONS
from eggan.data.dataset import PROVENANCE_NAME, load_dataset, read_index
from eggan.data.rafd import RAFD_CROPS, ingest_rafd, parse_crops, parse_rafd_name
from eggan.errors import DataError

RED, BLUE = (220, 20, 20), (20, 20, 220)


def rafd_image(path: Path, box: tuple[int, int, int, int] = RAFD_CROPS[90]) -> Path:
    """A 681x1024 portrait: blue, with the region ``box`` red."""
    image = Image.new("RGB", (681, 1024), BLUE)
    ImageDraw.Draw(image).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=RED)
    image.save(path, quality=95)
    return path


def rafd_name(subject: int, expression: str, angle: int = 90, gaze: str = "frontal") -> str:
    return f"Rafd{angle:03d}_{subject:02d}_Caucasian_female_{expression}_{gaze}.jpg"


@pytest.fixture
def rafd(tmp_path: Path) -> tuple[Path, Path]:
    """4 subjects x 8 expressions (frontal camera) + 2 images at 045, with per-image AU CSVs."""
    src, csvs = tmp_path / "RaFD", tmp_path / "aus"
    src.mkdir()
    csvs.mkdir()
    names = [rafd_name(s, e) for s in (1, 2, 3, 4) for e in EXPRESSIONS]
    names += [rafd_name(1, "happy", angle=45), rafd_name(2, "sad", angle=45, gaze="left")]
    for k, name in enumerate(names):
        rafd_image(src / name)
        (csvs / f"{Path(name).stem}.csv").write_bytes(openface_csv([au_row(k)]))
    (src / "README.txt").write_text("not an image")
    return src, csvs


def test_parse_official_names() -> None:
    label = parse_rafd_name("Rafd090_01_Caucasian_female_angry_frontal.jpg")
    assert label is not None
    assert (label.angle, label.subject, label.ethnicity, label.gender, label.expression, label.gaze) == (
        90, "01", "caucasian", "female", "angry", "frontal")
    kid = parse_rafd_name("Rafd135_7_Kid_male_Surprised_left.JPG")
    assert kid is not None and (kid.angle, kid.subject, kid.expression) == (135, "07", "surprised")
    assert parse_rafd_name("face_001.jpg") is None
    assert parse_rafd_name("Rafd090_01_Caucasian_female_angry.jpg") is None


def test_ingest_frontal_camera_writes_a_loadable_dataset(tmp_path: Path, rafd: tuple[Path, Path]) -> None:
    src, csvs = rafd
    report = ingest_rafd(src, csvs, tmp_path / "out", seed=3, test_fraction=0.25)
    assert (report.images, report.identities) == (32, 4)
    table = read_index(tmp_path / "out")
    assert sorted(table["expression"].unique()) == list(EXPRESSIONS)
    assert table.groupby("identity")["split"].nunique().max() == 1
    assert (table.groupby("identity")["split"].first() == "test").sum() == 1
    row = table[table["path"] == "images/Rafd090_02_Caucasian_female_happy_frontal.png"].iloc[0]
    k = 8 + EXPRESSIONS.index("happy")
    assert row[list(AU_COLUMNS)].to_numpy(float) == pytest.approx([au_row(k)[c] for c in AU_COLUMNS], abs=1e-4)
    provenance = json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())
    assert provenance["split"]["level"] == "identity"
    assert provenance["face"]["crop_boxes"] == {"090": list(RAFD_CROPS[90])}
    again = ingest_rafd(src, csvs, tmp_path / "again", seed=3, test_fraction=0.25)
    assert again.per_split == report.per_split
    assert read_index(tmp_path / "again").equals(table)  # same seed, same split
    dataset = load_dataset(tmp_path / "out", image_size=32, min_identities=1)
    assert dataset.images.shape == (32, 3, 32, 32)


def test_crop_box_cuts_exactly_the_documented_region(tmp_path: Path, rafd: tuple[Path, Path]) -> None:
    src, csvs = rafd
    ingest_rafd(src, csvs, tmp_path / "out", test_fraction=0.25)
    face = np.asarray(Image.open(tmp_path / "out" / "images" / "Rafd090_01_Caucasian_female_angry_frontal.png"))
    assert face.shape == (128, 128, 3)
    assert np.abs(face.astype(int) - RED).max() < 40  # only the red box, no blue border
    shifted = (RAFD_CROPS[90][0] + 100, *RAFD_CROPS[90][1:])  # a box 100 px to the right
    rafd_image(src / rafd_name(1, "angry"), box=shifted)
    ingest_rafd(src, csvs, tmp_path / "out2", test_fraction=0.25)
    face = np.asarray(Image.open(tmp_path / "out2" / "images" / "Rafd090_01_Caucasian_female_angry_frontal.png"))
    assert np.abs(face[:, :10].astype(int) - BLUE).max() < 40  # the left strip is now background
    ingest_rafd(src, csvs, tmp_path / "out3", test_fraction=0.25, crops={**RAFD_CROPS, 90: shifted})
    face = np.asarray(Image.open(tmp_path / "out3" / "images" / "Rafd090_01_Caucasian_female_angry_frontal.png"))
    assert np.abs(face.astype(int) - RED).max() < 40  # a given box follows the face


def test_every_camera_angle_is_cut_with_its_own_box(tmp_path: Path) -> None:
    """Five cameras, each frame red inside a different box: with those boxes as overrides every
    crop is all red; with the frontal box for all, the shifted ones show blue background."""
    src, csvs = tmp_path / "RaFD", tmp_path / "aus"
    src.mkdir()
    csvs.mkdir()
    boxes = {0: (0, 96, 400, 496), 45: (40, 120, 504, 584), 90: (90, 150, 590, 650), 135: (176, 144, 672, 640),
             180: (280, 520, 680, 920)}  # edges on JPEG's 8 px blocks (no ringing inside the box)
    names = []
    for subject in (1, 2):
        for angle, box in boxes.items():
            name = rafd_name(subject, "happy", angle=angle)
            rafd_image(src / name, box)
            (csvs / f"{Path(name).stem}.csv").write_bytes(openface_csv([au_row(len(names))]))
            names.append(name)
    overrides = [f"{a:03d}={b[0]},{b[1]},{b[2] - b[0]}" for a, b in boxes.items()]
    assert parse_crops(overrides) == boxes
    ingest_rafd(src, csvs, tmp_path / "out", angles=tuple(boxes), test_fraction=0.5, crops=parse_crops(overrides))
    for name in names:
        face = np.asarray(Image.open(tmp_path / "out" / "images" / f"{Path(name).stem}.png")).astype(int)
        assert np.abs(face - RED).max() < 40, name
    provenance = json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())["face"]
    assert provenance["crop_boxes"] == {f"{a:03d}": list(b) for a, b in boxes.items()}
    assert "geometric estimates, not fitted to real faces" in provenance["boxes_are"]
    ingest_rafd(src, csvs, tmp_path / "default", angles=tuple(boxes), test_fraction=0.5)
    face = np.asarray(Image.open(tmp_path / "default" / "images" / f"{Path(names[4]).stem}.png")).astype(int)
    assert np.abs(face[:10] - BLUE).max() < 40  # the default box starts above camera 180's (moved) face


def test_the_default_table_has_a_box_for_every_camera_and_an_override_replaces_one() -> None:
    assert sorted(RAFD_CROPS) == [0, 45, 90, 135, 180]
    for left, top, right, bottom in RAFD_CROPS.values():  # squares inside the 681x1024 frame
        assert right - left == bottom - top and 0 <= left < right <= 681 and 0 <= top < bottom <= 1024
    assert parse_crops([]) == RAFD_CROPS
    changed = parse_crops(["000=40,150,500", "45=10,20,300"])
    assert changed[0] == (40, 150, 540, 650) and changed[45] == (10, 20, 310, 320)
    assert {a: changed[a] for a in (90, 135, 180)} == {a: RAFD_CROPS[a] for a in (90, 135, 180)}
    assert parse_crops(["090=1,1,10", "090=2,2,20"])[90] == (2, 2, 22, 22)  # the last one given wins


def test_angles_and_combined_csv(tmp_path: Path, rafd: tuple[Path, Path]) -> None:
    src, _ = rafd
    names = sorted(p.name for p in src.glob("*.jpg"))
    combined = tmp_path / "all.csv"
    combined.write_bytes(openface_csv([au_row(k, name=n) for k, n in enumerate(names)], layout="2.2"))
    report = ingest_rafd(src, combined, tmp_path / "out", angles=(45, 90), test_fraction=0.25)
    assert report.images == 34
    assert ingest_rafd(src, combined, tmp_path / "all", angles=(0, 45, 90, 135, 180),
                       test_fraction=0.25).images == 34
    with pytest.raises(DataError, match="no RaFD images from camera angles 180"):
        ingest_rafd(src, combined, tmp_path / "none", angles=(180,))
    with pytest.raises(DataError, match="unknown RaFD camera angle 30"):
        ingest_rafd(src, combined, tmp_path / "none", angles=(30,))


def test_aligned_faces_replace_the_crop(tmp_path: Path, rafd: tuple[Path, Path]) -> None:
    src, csvs = rafd
    aligned = tmp_path / "aligned"
    for path in src.glob("Rafd090_*.jpg"):
        tiny_image(aligned / f"{path.stem}_aligned" / "face_det_000000.bmp", (112, 112), colour=7)
    ingest_rafd(src, csvs, tmp_path / "out", aligned_dir=aligned, size=64, test_fraction=0.25)
    face = Image.open(tmp_path / "out" / "images" / "Rafd090_03_Caucasian_female_sad_frontal.png")
    assert face.size == (64, 64) and face.getpixel((32, 32)) == (7, 21, 100)


def test_bad_names_expressions_sizes_and_empty_folders(tmp_path: Path, rafd: tuple[Path, Path]) -> None:
    src, csvs = rafd
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no images"):
        ingest_rafd(tmp_path / "empty", csvs, tmp_path / "out")
    odd = tiny_image(src / "holiday.jpg")
    with pytest.raises(DataError, match=r"holiday\.jpg: not an official RaFD file name"):
        ingest_rafd(src, csvs, tmp_path / "out")
    odd.unlink()
    bored = rafd_image(src / rafd_name(9, "bored"))
    with pytest.raises(DataError, match=r"bored_frontal\.jpg: unknown expression 'bored'"):
        ingest_rafd(src, csvs, tmp_path / "out")
    bored.unlink()
    tiny_image(src / rafd_name(1, "angry"), (256, 256))
    (csvs / "Rafd090_01_Caucasian_female_angry_frontal.csv").write_bytes(openface_csv([au_row(1)]))
    with pytest.raises(DataError, match="is 256x256, not RaFD's 681x1024"):
        ingest_rafd(src, csvs, tmp_path / "out", test_fraction=0.25)


def test_unusable_images_refuse_the_dataset_and_keep_the_old_index(tmp_path: Path,
                                                                   rafd: tuple[Path, Path]) -> None:
    src, csvs = rafd
    out = tmp_path / "out"
    ingest_rafd(src, csvs, out, test_fraction=0.25)
    before = (out / "index.csv").read_bytes()
    truncated_image(src / rafd_name(2, "sad"))
    with pytest.raises(DataError, match=r"1 of 32 images are unusable \(1 unreadable.*Rafd090_02.*sad"):
        ingest_rafd(src, csvs, out, test_fraction=0.25, force=True)
    rafd_image(src / rafd_name(2, "sad"))
    (csvs / "Rafd090_03_Caucasian_female_fearful_frontal.csv").unlink()
    with pytest.raises(DataError, match="1 without AUs; first: images/Rafd090_03"):
        ingest_rafd(src, csvs, out, test_fraction=0.25, force=True)
    assert (out / "index.csv").read_bytes() == before
    assert len(load_dataset(out, 32, min_identities=1)) == 32


def test_too_few_identities_for_a_split(tmp_path: Path) -> None:
    src, csvs = tmp_path / "RaFD", tmp_path / "aus"
    src.mkdir()
    csvs.mkdir()
    for k, expression in enumerate(EXPRESSIONS[:2]):
        rafd_image(src / rafd_name(5, expression))
        (csvs / f"{Path(rafd_name(5, expression)).stem}.csv").write_bytes(openface_csv([au_row(k)]))
    with pytest.raises(DataError, match="RaFD: 1 identities cannot be split"):
        ingest_rafd(src, csvs, tmp_path / "out")


def test_cli_data_rafd(tmp_path: Path, rafd: tuple[Path, Path]) -> None:
    from typer.testing import CliRunner

    from eggan.cli.main import app
    from eggan.errors import ConfigError

    src, csvs = rafd
    base = ["data", "rafd", str(src), "--au-csv-dir", str(csvs), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*base, "--all-angles", "--test-fraction", "0.25", "--size", "32"])
    assert result.exit_code == 0, result.output
    assert "34 images of 4 identities" in result.output
    assert Image.open(tmp_path / "out" / "images" / "Rafd045_01_Caucasian_female_happy_frontal.png").size == (32, 32)
    result = CliRunner().invoke(app, [*base, "--angles", "ninety"])
    assert isinstance(result.exception, ConfigError) and "--angles 'ninety'" in str(result.exception)
    result = CliRunner().invoke(app, [*base, "--crop", "090=1,2"])
    assert isinstance(result.exception, ConfigError) and "--crop '090=1,2': expected ANGLE=LEFT,TOP,SIZE" in str(
        result.exception)
    result = CliRunner().invoke(app, [*base, "--crop", "090=0,0,681", "--test-fraction", "0.25", "--force"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())["face"]["crop_boxes"] == {
        "090": [0, 0, 681, 681]}
