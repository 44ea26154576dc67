"""DISFA list reader: the authors' format, identity-level split, their image-level split, bad lines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from openface_files import tiny_image

from eggan.data.aus import AU_COLUMNS, DISFA_CODED_AUS
from eggan.data.dataset import PROVENANCE_NAME, load_dataset, read_index, validate_table
from eggan.data.disfa import ingest_disfa, read_disfa_list
from eggan.errors import DataError


def disfa(tmp_path: Path, subjects: int = 5, frames: int = 6) -> tuple[Path, Path, list[str]]:
    """A list file (tabs and spaces mixed, like hand-made lists) and its tiny images."""
    images = tmp_path / "aligned"
    lines = []
    for s in range(1, subjects + 1):
        for f in range(frames):
            name = f"SN{s:03d}_{f:04d}.png"
            tiny_image(images / name, colour=s)
            values = [round((s + f + k) % 6 * 0.8, 2) if c in DISFA_CODED_AUS else 0.0
                      for k, c in enumerate(AU_COLUMNS)]  # the list's 0 where DISFA codes nothing
            lines.append(name + "\t" + " ".join(map(str, values)))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing, images, lines


def test_list_format_and_identity_split(tmp_path: Path) -> None:
    listing, images, _ = disfa(tmp_path)
    entries = read_disfa_list(listing)
    assert entries[7][0] == "SN002_0001.png" and len(entries[7][1]) == 17
    assert entries[7][1][0] == pytest.approx((2 + 1 + 0) % 6 * 0.8)
    report = ingest_disfa(listing, images, tmp_path / "out", seed=1, test_fraction=0.4)
    assert report.images == 30 and report.identities == 5
    table = read_index(tmp_path / "out")
    assert table.groupby("identity")["split"].nunique().max() == 1
    assert table.loc[table["split"] == "test", "identity"].nunique() == 2
    assert sorted(table["identity"].unique()) == [f"SN{s:03d}" for s in range(1, 6)]
    assert set(table["expression"]) == {""}
    assert table.loc[7, list(AU_COLUMNS)].to_numpy(float).tolist() == pytest.approx(list(entries[7][1]), nan_ok=True)


def test_authors_image_level_split_is_explicit_and_reproduced(tmp_path: Path) -> None:
    listing, images, lines = disfa(tmp_path)
    report = ingest_disfa(listing, images, tmp_path / "out", image_level_split=True, test_lines=12)
    assert report.per_split == {"test": 12, "train": 18}
    shuffled = list(lines)
    state = random.getstate()
    random.seed(1234)  # exactly what the authors' loader does
    random.shuffle(shuffled)
    random.setstate(state)
    expected_test = {"images/" + line.split()[0] for line in shuffled[:12]}
    table = read_index(tmp_path / "out")
    assert set(table.loc[table["split"] == "test", "path"]) == expected_test
    assert table.groupby("identity")["split"].nunique().max() == 2  # subjects leak, as labelled
    provenance = json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())
    assert provenance["split"]["level"] == "image" and provenance["split"]["seed"] == 1234
    assert len(load_dataset(tmp_path / "out", 16)) == 30
    with pytest.raises(DataError, match="in both splits"):  # without the label it is refused
        validate_table(table, "index.csv")
    with pytest.raises(DataError, match="needs more than 20000 lines"):
        ingest_disfa(listing, images, tmp_path / "x", image_level_split=True)


def list_line(name: str, **values: str) -> str:
    """A list line: 1 for each coded AU, 0 for the five DISFA does not code, unless ``values``
    (e.g. AU01_r="5.1") says otherwise."""
    default = {c: "1" if c in DISFA_CODED_AUS else "0" for c in AU_COLUMNS}
    return " ".join([name, *({**default, **values}[c] for c in AU_COLUMNS)])


@pytest.mark.parametrize(("line", "message"), [
    ("SN001_9.png 1 2 3", "line 2 has 4 fields"),
    (list_line("SN001_9.png", AU26_r="x"), "line 2 has a value that is not a number"),
    (list_line("SN001_9.png", AU45_r="nan"), "AU45_r = nan on line 2 is not in 0-5"),
    (list_line("SN001_9.png", AU01_r="5.1"), "AU01_r = 5.1 on line 2 is not in 0-5"),
    (list_line("SN001_9.png", AU01_r="-1"), "AU01_r = -1.0 on line 2 is not in 0-5"),
    (list_line("SN001_9.png", AU07_r="0.5"), r"AU07_r = 0.5 on line 2: DISFA does not code AU07, so the list "
                                             "must hold 0 there"),
])
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(list_line("SN001_0.png") + "\n" + line + "\n")
    with pytest.raises(DataError, match=f"list.txt: {message}"):
        read_disfa_list(listing)


def test_bad_inputs(tmp_path: Path) -> None:
    listing, images, lines = disfa(tmp_path)
    duplicated = tmp_path / "dup.txt"
    duplicated.write_text("\n".join([*lines, lines[3]]))
    with pytest.raises(DataError, match=r"dup\.txt: duplicate image path 'images/SN001_0003.png'"):
        ingest_disfa(duplicated, images, tmp_path / "out")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="the DISFA list is empty"):
        read_disfa_list(tmp_path / "empty.txt")
    with pytest.raises(DataError, match="no such image folder"):
        ingest_disfa(listing, tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "noprefix.txt").write_text(list_line("frame1.png"))
    with pytest.raises(DataError, match=r"'frame1\.png' has no subject prefix"):
        ingest_disfa(tmp_path / "noprefix.txt", images, tmp_path / "out")
    (images / "SN003_0002.png").unlink()  # a listed image that is missing: 1 of 30 > 1 %
    with pytest.raises(DataError, match=r"1 of 30 images are unusable.*SN003_0002"):
        ingest_disfa(listing, images, tmp_path / "out", test_fraction=0.4)
    with pytest.raises(DataError, match=r"5 identities cannot be split with test fraction 0\.1"):
        ingest_disfa(listing, images, tmp_path / "out")


def test_cli_data_disfa(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eggan.cli.main import app

    listing, images, _ = disfa(tmp_path)
    result = CliRunner().invoke(app, ["data", "disfa", str(listing), str(images), "--out",
                                      str(tmp_path / "out"), "--test-fraction", "0.4", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "30 images of 5 identities (test 12, train 18)" in result.output
    assert len(read_index(tmp_path / "out")) == 30
