"""DISFA as distributed: label files per subject and AU, left and right camera videos."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image
from real_layouts import DISFA_AUS, LEFT_MARK, RIGHT_MARK, disfa_intensity, disfa_tree
from video_files import frame_mark, frame_number, write_avi

from eggan.data.aus import AU_COLUMNS
from eggan.data.dataset import PROVENANCE_NAME, load_dataset, read_index
from eggan.data.disfa_tree import ingest_disfa_tree, read_au_file
from eggan.errors import ConfigError, DataError


def test_both_cameras_one_identity_every_kth_labelled_frame(tmp_path: Path) -> None:
    root = disfa_tree(tmp_path / "DISFA", subjects=6, frames=12)
    report = ingest_disfa_tree(root, tmp_path / "out", cameras="both", every=5, test_fraction=0.2, seed=1)
    # frames 1, 6, 11 of 12, two cameras, six subjects
    assert (report.images, report.identities) == (36, 6)
    table = read_index(tmp_path / "out").set_index("path")
    assert sorted(table["identity"].unique()) == [f"SN{s:03d}" for s in range(1, 7)]
    assert table.groupby("identity")["split"].nunique().max() == 1  # both views of a subject on one side
    assert table.groupby("identity").size().to_dict() == {f"SN{s:03d}": 6 for s in range(1, 7)}
    for camera, mark in (("left", LEFT_MARK), ("right", RIGHT_MARK)):
        path = f"frames/SN004/{camera}/00011.png"
        with Image.open(tmp_path / "out" / path) as image:
            assert (frame_number(image), frame_mark(image)) == (11, pytest.approx(mark, abs=10))
        row = table.loc[path]
        coded = {f"AU{n:02d}_r": disfa_intensity(4, n, 11) for n in DISFA_AUS}
        for column in AU_COLUMNS:  # the 12 coded AUs as labelled, the other five missing
            assert (row[column] == coded[column]) if column in coded else math.isnan(row[column])
    provenance = json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())
    assert provenance["coded_aus"] == [f"AU{n:02d}_r" for n in DISFA_AUS]
    assert provenance["cameras"] == ["left", "right"] and provenance["every"] == 5
    assert len(load_dataset(tmp_path / "out", 16, min_identities=1)) == 36
    assert not list(tmp_path.glob(".out.frames.*"))


def test_left_camera_by_default_and_every_frame_with_every_1(tmp_path: Path) -> None:
    root = disfa_tree(tmp_path / "DISFA", subjects=6, frames=4, right=False)
    report = ingest_disfa_tree(root, tmp_path / "out", every=1)
    assert report.images == 24
    assert {Path(p).parent.name for p in read_index(tmp_path / "out")["path"]} == {"left"}
    with pytest.raises(DataError, match=r"SN001 has labels \(ActionUnit_Labels/SN001\) but no video "
                                        r"Videos_RightCamera[/\\]RightVideoSN001_comp\.avi"):
        ingest_disfa_tree(root, tmp_path / "both", cameras="both")


@pytest.mark.parametrize(("line", "message"), [
    ("3;2", "line 3 '3;2' is not 'frame,intensity'"),
    ("3,6", "line 3 '3,6' is not 'frame,intensity' with a frame from 1 and an intensity in 0-5"),
    ("0,1", "line 3 '0,1' is not"),
    ("3,x", "line 3 '3,x' is not"),
    ("2,1", "frame 2 is labelled twice"),
])
def test_a_bad_label_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "SN001_au1.txt"
    path.write_text(f"1,0\n2,3\n{line}\n")
    with pytest.raises(DataError, match=rf"SN001_au1\.txt: {message}"):
        read_au_file(path)


def test_tree_errors_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    root = disfa_tree(tmp_path / "DISFA", subjects=6, frames=6, right=False)
    labels = root / "ActionUnit_Labels"
    (labels / "SN002" / "SN002_au9.txt").unlink()
    with pytest.raises(DataError, match=r"SN002: no SN002_au9\.txt: DISFA codes 12 AUs \(1, 2, 4, 5, 6, 9, 12,"):
        ingest_disfa_tree(root, tmp_path / "out")
    (labels / "SN002" / "SN002_au9.txt").write_text("1,0\n2,0\n3,0\n4,0\n5,0\n")
    with pytest.raises(DataError, match=r"SN002_au9\.txt labels 5 frames \(1-5\), SN002_au1\.txt 6 frames \(1-6\)"):
        ingest_disfa_tree(root, tmp_path / "out")
    (labels / "SN002" / "SN002_au9.txt").write_text("1,0\n2,0\n3,0\n4,0\n5,0\n6,0\n")
    (labels / "SN003" / "SN003_au12.txt").write_text("1,2\n2,3\nx\n")
    with pytest.raises(DataError, match=r"SN003_au12\.txt: line 3 'x' is not"):
        ingest_disfa_tree(root, tmp_path / "out")
    (labels / "SN003" / "SN003_au12.txt").write_text("\n".join(f"{f},1" for f in range(1, 7)))
    write_avi(root / "Videos_LeftCamera" / "LeftVideoSN005_comp.avi", 7)  # one frame more than labelled
    with pytest.raises(DataError, match=r"LeftVideoSN005_comp\.avi: has 7 frames, the labels of SN005 go to frame 6"):
        ingest_disfa_tree(root, tmp_path / "out", every=1)
    write_avi(root / "Videos_LeftCamera" / "LeftVideoSN005_comp.avi", 5)  # one frame less
    with pytest.raises(DataError, match=r"LeftVideoSN005_comp\.avi: has 5 frames; frame 6 was asked for"):
        ingest_disfa_tree(root, tmp_path / "out", every=1)
    (root / "Videos_LeftCamera" / "LeftVideoSN005_comp.avi").unlink()
    with pytest.raises(DataError, match=r"SN005 has labels .* but no video Videos_LeftCamera"):
        ingest_disfa_tree(root, tmp_path / "out")
    with pytest.raises(DataError, match="no ActionUnit_Labels folder: not a DISFA root"):
        ingest_disfa_tree(tmp_path, tmp_path / "out")
    with pytest.raises(ConfigError, match="--cameras 'right'"):
        ingest_disfa_tree(root, tmp_path / "out", cameras="right")
    with pytest.raises(ConfigError, match="--every must be at least 1"):
        ingest_disfa_tree(root, tmp_path / "out", every=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DISFA"]


def test_cli_tells_the_root_from_the_authors_list(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eggan.cli.main import app

    root = disfa_tree(tmp_path / "DISFA", subjects=6, frames=6)
    runner = CliRunner()
    result = runner.invoke(app, ["data", "disfa", str(root), "--out", str(tmp_path / "out"), "--cameras", "both",
                                 "--every", "3"])
    assert result.exit_code == 0, result.output
    assert "24 images of 6 identities" in result.output  # frames 1 and 4, two cameras
    for args, message in [
        ([str(root), str(tmp_path), "--out", str(tmp_path / "x")], "is a DISFA root: it takes no IMAGES folder"),
        ([str(root), "--image-level-split", "--out", str(tmp_path / "x")], "no --image-level-split"),
        ([str(root / "ActionUnit_Labels" / "SN001" / "SN001_au1.txt"), "--out", str(tmp_path / "x")],
         "is not a DISFA root folder; the authors' list file needs its IMAGES folder"),
        ([str(tmp_path / "list.txt"), str(tmp_path), "--every", "2", "--out", str(tmp_path / "x")],
         "--cameras, --every and --crop-box apply to a DISFA root"),
        ([str(root), "--crop-box", "1,2,3", "--out", str(tmp_path / "x")], "needs four numbers"),
    ]:
        result = runner.invoke(app, ["data", "disfa", *args])
        assert isinstance(result.exception, ConfigError) and message in str(result.exception), (args, result)
        assert "\n" not in str(result.exception)


def test_a_crop_box_cuts_every_frame_and_is_recorded(tmp_path: Path) -> None:
    root = disfa_tree(tmp_path / "DISFA", subjects=6, frames=6, size=(48, 32))
    ingest_disfa_tree(root, tmp_path / "out", cameras="both", every=2, crop_box=(8, 0, 40, 24))
    with Image.open(tmp_path / "out" / "frames/SN002/right/00005.png") as image:
        assert image.size == (32, 24)
        # rows 0-11 of the crop are the frame's number, rows 16-23 its camera's mark
        assert (frame_number(image.crop((0, 0, 32, 12))), frame_mark(image.crop((0, 12, 32, 24)))) == (
            5, pytest.approx(RIGHT_MARK, abs=10))
    assert json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())["crop_box"] == [8, 0, 40, 24]
    with pytest.raises(DataError, match=r"LeftVideoSN001_comp\.avi: --crop-box 8,0,40,40 does not fit its 48x32"):
        ingest_disfa_tree(root, tmp_path / "x", crop_box=(8, 0, 40, 40))
    with pytest.raises(ConfigError, match="--crop-box 40,0,8,24 is not left,top,right,bottom"):
        ingest_disfa_tree(root, tmp_path / "x", crop_box=(40, 0, 8, 24))
    assert not (tmp_path / "x").exists()


def test_a_split_that_cannot_be_drawn_is_refused_before_any_video_is_decoded(tmp_path: Path) -> None:
    root = disfa_tree(tmp_path / "DISFA", subjects=3, frames=4, right=False)
    for video in (root / "Videos_LeftCamera").iterdir():
        video.write_bytes(b"not decoded before the split is known")
    with pytest.raises(DataError, match=r"DISFA: 3 identities cannot be split with test fraction 0\.1"):
        ingest_disfa_tree(root, tmp_path / "out")
