"""MMI frames: both accepted layouts, per-frame and per-session OpenFace CSVs, subject split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openface_files import au_row, openface_csv, tiny_image

from eggan.data.aus import AU_COLUMNS
from eggan.data.dataset import PROVENANCE_NAME, read_index
from eggan.data.mmi import ingest_mmi, session_subject
from eggan.errors import DataError


def frames(folder: Path, count: int, colour: int = 0) -> list[Path]:
    return [tiny_image(folder / f"{k:04d}.png", (8, 8), colour) for k in range(1, count + 1)]


def test_subject_session_tree_with_per_frame_csvs(tmp_path: Path) -> None:
    src, csvs = tmp_path / "mmi", tmp_path / "aus"
    for subject in ("S001", "S002", "S003", "S004"):
        for session in ("s1", "s2"):
            for frame in frames(src / subject / session, 3):
                rel = frame.relative_to(src).with_suffix(".csv")
                (csvs / rel).parent.mkdir(parents=True, exist_ok=True)
                (csvs / rel).write_bytes(openface_csv([au_row(int(frame.stem) + 10 * int(subject[-1]))]))
    report = ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25, seed=2)
    assert (report.images, report.identities) == (24, 4)
    table = read_index(tmp_path / "out")
    assert table.groupby("identity")["split"].nunique().max() == 1
    row = table[table["path"] == "frames/S002/s1/0003.png"].iloc[0]
    assert row[list(AU_COLUMNS)].to_numpy(float) == pytest.approx([au_row(23)[c] for c in AU_COLUMNS], abs=1e-4)
    assert (tmp_path / "out" / "frames" / "S002" / "s1" / "0003.png").is_file()
    assert ingest_mmi(src, csvs, tmp_path / "every2", every=2, test_fraction=0.25).images == 16


def session_xml(folder: Path, subject: str) -> None:
    (folder / "session.xml").write_text(
        f'<?xml version="1.0"?>\n<session sessionId="{folder.name}">'
        f'<subject id="{subject}" age="25"/><track id="0"/></session>')


def test_session_folders_with_session_xml_and_one_csv_per_session(tmp_path: Path) -> None:
    src, csvs = tmp_path / "mmi", tmp_path / "aus"
    csvs.mkdir()
    for k, subject in enumerate(("1", "2", "2", "3", "4")):
        session = src / f"{100 + k}"
        frames(session, 21, colour=k)
        session_xml(session, subject)
        rows = [au_row(10 * k + f, success=0 if (k, f) == (1, 4) else 1) for f in range(1, 22)]
        (csvs / f"{100 + k}.csv").write_bytes(openface_csv(rows, layout="2.0"))
    report = ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    assert report.images == 104 and report.no_aus == ["frames/101/0004.png"]  # success == 0
    assert report.identities == 4
    provenance = json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())
    assert provenance["aus"]["dropped_rows"]["failed"] == 1
    table = read_index(tmp_path / "out")
    row = table[table["path"] == "frames/103/0007.png"].iloc[0]  # frame 7 = 7th sorted frame
    assert row["identity"] == "3"
    assert row[list(AU_COLUMNS)].to_numpy(float) == pytest.approx([au_row(37)[c] for c in AU_COLUMNS], abs=1e-4)


def test_session_csv_named_after_the_video_as_feature_extraction_names_it(tmp_path: Path) -> None:
    """Sessions/<n>/ holds <id>.avi; FeatureExtraction -f <id>.avi writes <id>.csv, not <n>.csv."""
    src, csvs = tmp_path / "Sessions", tmp_path / "aus"
    csvs.mkdir()
    for k, subject in enumerate(("1", "2", "3", "4")):
        session = src / f"{200 + k}"
        frames(session, 5, colour=k)
        session_xml(session, subject)
        (session / f"S00{k}-take.avi").write_bytes(b"RIFF")  # only its name matters here
        (csvs / f"S00{k}-take.csv").write_bytes(openface_csv([au_row(10 * k + f) for f in range(1, 6)], layout="2.2"))
    report = ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    assert (report.images, report.no_aus) == (20, [])
    row = read_index(tmp_path / "out").set_index("path").loc["frames/202/0004.png"]
    assert row[list(AU_COLUMNS)].to_numpy(float) == pytest.approx([au_row(24)[c] for c in AU_COLUMNS], abs=1e-4)


def test_layout_errors(tmp_path: Path) -> None:
    src = tmp_path / "mmi"
    frames(src / "100", 2)
    with pytest.raises(DataError, match=r"100: no session\.xml to name the subject"):
        ingest_mmi(src, tmp_path, tmp_path / "out")
    (src / "100" / "session.xml").write_text("<session><track/></session>")
    with pytest.raises(DataError, match=r"session\.xml: no <subject id"):
        session_subject(src / "100")
    (src / "100" / "session.xml").write_text("<session")
    with pytest.raises(DataError, match="not readable XML"):
        session_subject(src / "100")
    session_xml(src / "100", "7")
    frames(src / "a" / "b" / "c", 1)
    with pytest.raises(DataError, match="frames must be in"):
        ingest_mmi(src, tmp_path, tmp_path / "out")
    with pytest.raises(DataError, match="every must be at least 1"):
        ingest_mmi(src, tmp_path, tmp_path / "out", every=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no images"):
        ingest_mmi(tmp_path / "empty", tmp_path, tmp_path / "out")


def test_session_csv_without_frame_column_is_an_error(tmp_path: Path) -> None:
    src, csvs = tmp_path / "mmi", tmp_path / "aus"
    csvs.mkdir()
    frames(src / "S1" / "x", 2)
    (csvs / "x.csv").write_bytes(openface_csv([au_row(1), au_row(2)], layout="image"))
    with pytest.raises(DataError, match=r"x\.csv: a per-session AU CSV needs a 'frame' column"):
        ingest_mmi(src, csvs, tmp_path / "out")


def test_cli_data_mmi(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eggan.cli.main import app

    src, csvs = tmp_path / "mmi", tmp_path / "aus"
    csvs.mkdir()
    for k, subject in enumerate("ABCD"):
        frames(src / subject / f"take{k}", 4)
        (csvs / f"take{k}.csv").write_bytes(openface_csv([au_row(f) for f in range(4)], layout="2.2"))
    result = CliRunner().invoke(app, ["data", "mmi", str(src), "--au-csv-dir", str(csvs), "--out",
                                      str(tmp_path / "out"), "--every", "2", "--test-fraction", "0.25"])
    assert result.exit_code == 0, result.output
    assert "8 images of 4 identities (test 2, train 6)" in result.output
