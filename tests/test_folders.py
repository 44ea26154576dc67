"""StarGAN folder layout: given split kept, identities from file names, ImageFolder class order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openface_files import au_row, openface_csv, tiny_image, truncated_image

from eggan.data.aus import EXPRESSIONS
from eggan.data.dataset import PROVENANCE_NAME, load_dataset, read_index
from eggan.data.folders import ingest_folders
from eggan.errors import DataError


def stargan_tree(root: Path, csvs: Path, train_ids: range, test_ids: range, name: str = "rafd") -> list[str]:
    """train/<expr>/ and test/<expr>/ with one tiny image per (identity, expression), mirrored CSVs."""
    written = []
    for split, ids in (("train", train_ids), ("test", test_ids)):
        for i in ids:
            for expression in EXPRESSIONS:
                stem = (f"Rafd090_{i:02d}_Caucasian_male_{expression}_frontal" if name == "rafd"
                        else f"person{i}-{expression}")
                rel = f"{split}/{expression}/{stem}.jpg"
                tiny_image(root / rel, colour=i)
                (csvs / split / expression).mkdir(parents=True, exist_ok=True)
                (csvs / split / expression / f"{stem}.csv").write_bytes(openface_csv([au_row(i)]))
                written.append(rel)
    return written


def test_given_split_kept_and_imagefolder_class_index(tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    src, csvs, out = tmp_path / "RaFD", tmp_path / "aus", tmp_path / "out"
    stargan_tree(src, csvs, range(1, 4), range(4, 6))
    report = ingest_folders(src, csvs, out)
    assert report.per_split == {"train": 24, "test": 16} and report.identities == 5
    table = read_index(out)
    assert set(table.loc[table["split"] == "test", "identity"]) == {"4", "5"}
    assert json.loads((out / PROVENANCE_NAME).read_text())["split"]["level"] == "given"
    dataset = load_dataset(out, image_size=16)
    reference = ImageFolder(str(src / "train"))
    targets = {Path(p).relative_to(src).as_posix(): t for p, t in reference.samples}
    train = dataset.split("train")
    for rel, index in zip(train.table["path"], train.expression_index.tolist(), strict=True):
        assert targets[rel] == index


def test_identity_pattern_option_and_unmatched_names(tmp_path: Path) -> None:
    src, csvs = tmp_path / "faces", tmp_path / "aus"
    stargan_tree(src, csvs, range(3), range(3, 5), name="plain")
    with pytest.raises(DataError, match=r"person0-angry\.jpg: cannot read an identity .*--identity-pattern"):
        ingest_folders(src, csvs, tmp_path / "out")
    report = ingest_folders(src, csvs, tmp_path / "out", identity_pattern=r"^(?P<identity>person\d+)-")
    assert report.identities == 5
    assert ingest_folders(src, csvs, tmp_path / "own", identity_pattern="^(.*)$").identities == 40
    with pytest.raises(DataError, match="bad --identity-pattern"):
        ingest_folders(src, csvs, tmp_path / "x", identity_pattern="(")


def test_identity_in_both_splits_is_an_error(tmp_path: Path) -> None:
    src, csvs = tmp_path / "RaFD", tmp_path / "aus"
    stargan_tree(src, csvs, range(1, 4), range(3, 5))
    with pytest.raises(DataError, match="identity '3' is in both splits"):
        ingest_folders(src, csvs, tmp_path / "out")


def test_layout_errors(tmp_path: Path) -> None:
    src, csvs = tmp_path / "RaFD", tmp_path / "aus"
    stargan_tree(src, csvs, range(1, 3), range(3, 4))
    (src / "train" / "bored").mkdir()
    tiny_image(src / "train" / "bored" / "Rafd090_01_Caucasian_male_bored_frontal.jpg")
    with pytest.raises(DataError, match=r"train/bored: unknown expression 'bored'"):
        ingest_folders(src, csvs, tmp_path / "out")
    (src / "train" / "bored" / "Rafd090_01_Caucasian_male_bored_frontal.jpg").unlink()
    (src / "train" / "bored").rmdir()
    with pytest.raises(DataError, match="no such AU CSV folder or file"):
        ingest_folders(src, tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(DataError, match="must lie outside the source"):
        ingest_folders(src, csvs, src / "out")
    for rel in (src / "test" / "sad").rglob("*.jpg"):
        rel.unlink()
    with pytest.raises(DataError, match="test/sad: no images"):
        ingest_folders(src, csvs, tmp_path / "out")
    with pytest.raises(DataError, match="no train/ folder"):
        ingest_folders(src / "train", csvs, tmp_path / "out")
    (src / "test").rename(tmp_path / "elsewhere")
    with pytest.raises(DataError, match="no test/ folder"):
        ingest_folders(src, csvs, tmp_path / "out")


def test_one_corrupt_image_in_more_than_a_hundred_is_skipped_and_counted(tmp_path: Path) -> None:
    src, csvs, out = tmp_path / "RaFD", tmp_path / "aus", tmp_path / "out"
    written = stargan_tree(src, csvs, range(1, 11), range(11, 14))
    assert len(written) == 104
    truncated_image(src / written[5])
    report = ingest_folders(src, csvs, out)
    assert report.images == 103 and report.unreadable == [written[5]]
    assert json.loads((out / PROVENANCE_NAME).read_text())["skipped_unreadable"] == [written[5]]
    assert written[5] not in set(read_index(out)["path"])
    truncated_image(src / written[6])  # two of 104 is more than 1 %
    with pytest.raises(DataError, match="2 of 104 images are unusable"):
        ingest_folders(src, csvs, out, force=True)


def test_failed_faces_are_kept_out_up_to_max_failed_and_listed(tmp_path: Path) -> None:
    """OpenFace success=0 (e.g. profile faces) or a row under --min-confidence leaves an image with
    no AUs: refused above the default 1 % with a message naming --max-failed, accepted below the
    user's --max-failed with every dropped file listed in dataset.json."""
    from typer.testing import CliRunner

    from eggan.cli.main import app

    src, csvs, out = tmp_path / "faces", tmp_path / "aus", tmp_path / "out"
    written = stargan_tree(src, csvs, range(3), range(3, 5), name="plain")  # 40 images
    failed = [written[1], written[17], written[30]]
    for rel in failed[:2]:  # what OpenFace writes when it finds no face
        (csvs / rel).with_suffix(".csv").write_bytes(openface_csv([au_row(0, success=0, confidence=0.0)]))
    (csvs / failed[2]).with_suffix(".csv").write_bytes(openface_csv([au_row(0, confidence=0.3)]))
    base = ["data", "folders", str(src), "--au-csv-dir", str(csvs), "--out", str(out),
            "--identity-pattern", r"^(person\d+)-", "--min-confidence", "0.5"]
    refused = CliRunner().invoke(app, base)
    assert refused.exit_code != 0 and not out.exists()
    message = str(refused.exception)
    # 3 of 40 = 7.5 %: over the default 1 %; the message names the option, its default and a value that works
    assert "3 of 40 images are unusable" in message and "--max-failed, default 0.01" in message, message
    assert "pass --max-failed 0.08" in message, message
    too_low = CliRunner().invoke(app, [*base, "--max-failed", "0.07"])
    assert too_low.exit_code != 0 and not out.exists()
    result = CliRunner().invoke(app, [*base, "--max-failed", "0.08"])
    assert result.exit_code == 0, result.output
    provenance = json.loads((out / PROVENANCE_NAME).read_text())
    assert sorted(provenance["skipped_no_aus"]) == sorted(failed) and provenance["max_failed"] == 0.08
    assert set(read_index(out)["path"]) == set(written) - set(failed)


def test_cli_data_folders(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eggan.cli.main import app

    src, csvs = tmp_path / "faces", tmp_path / "aus"
    stargan_tree(src, csvs, range(3), range(3, 5), name="plain")
    result = CliRunner().invoke(app, ["data", "folders", str(src), "--au-csv-dir", str(csvs), "--out",
                                      str(tmp_path / "out"), "--identity-pattern", r"^(person\d+)-"])
    assert result.exit_code == 0, result.output
    assert "40 images of 5 identities (test 16, train 24)" in result.output
