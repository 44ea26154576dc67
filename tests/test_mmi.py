"""MMI frames: both accepted layouts, per-frame and per-session OpenFace CSVs, subject split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openface_files import au_row, openface_csv, tiny_image
from PIL import Image
from real_layouts import au_xml, mmi_csv_row, mmi_session
from video_files import frame_number, write_avi

from eggan.data.aus import AU_COLUMNS
from eggan.data.dataset import PROVENANCE_NAME, read_index
from eggan.data.mmi import ingest_mmi, read_au_xml, session_subject
from eggan.errors import ConfigError, DataError


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


# --- MMI as distributed: Sessions/<n>/ with <id>.avi, <id>-oao_aucs.xml, session.xml --------------


def sessions_tree(tmp_path: Path) -> tuple[Path, Path]:
    src, csvs = tmp_path / "Sessions", tmp_path / "openface"
    mmi_session(src, csvs, 1, "A", [(12, 3, 6, 10), (6, 4, 6, 9), (1, 11, 13, 15)])
    mmi_session(src, csvs, 2, "B", [(4, 2, 5, 8), (4, 9, 12, 14)], typed=True)
    mmi_session(src, csvs, 3, "C", [(25, 1, 2, 4)])
    mmi_session(src, csvs, 4, "D", [(25, 1, 2, 4)])
    return src, csvs


def test_video_sessions_give_the_apex_frames_with_openface_aus_of_that_frame(tmp_path: Path) -> None:
    src, csvs = sessions_tree(tmp_path)
    report = ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    # apexes by hand: session 1 at 6 (AU12, AU6) and 13 (AU1); session 2 at 5 and 12; sessions 3, 4 at 2
    expected = {(1, 6), (1, 13), (2, 5), (2, 12), (3, 2), (4, 2)}
    assert (report.images, report.identities, report.no_aus) == (6, 4, [])
    table = read_index(tmp_path / "out").set_index("path")
    assert set(table.index) == {f"frames/{s}/{f:05d}.png" for s, f in expected}
    for session, frame in expected:
        path = f"frames/{session}/{frame:05d}.png"
        with Image.open(tmp_path / "out" / path) as image:
            assert frame_number(image) == frame  # the frame itself, not a neighbour
        assert table.loc[path, list(AU_COLUMNS)].to_numpy(float) == pytest.approx(
            [mmi_csv_row(session, frame)[c] for c in AU_COLUMNS], abs=1e-4)
        assert table.loc[path, "identity"] == "ABCD"[session - 1]
    provenance = json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())
    assert provenance["xml_aus"]["frames/1/00006.png"] == [6, 12] and provenance["xml_aus"]["frames/1/00013.png"] == [1]
    assert provenance["xml_aus"]["frames/2/00012.png"] == [4] and provenance["frames"] == "apex"
    assert not list(tmp_path.glob(".out.frames.*"))  # the extracted frames were moved, the scratch removed


def test_all_frames_every_k_and_a_user_subject_map(tmp_path: Path) -> None:
    src, csvs = sessions_tree(tmp_path)
    (src / "3" / "session.xml").write_text("<session><track/></session>")  # no subject recorded
    with pytest.raises(DataError, match=r"3[/\\]session\.xml: no <subject id=.*--subjects"):
        ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("session,subject\n3,C\n1,Z\n")
    report = ingest_mmi(src, csvs, tmp_path / "out", frames="all", every=5, subjects=subjects, test_fraction=0.25)
    assert report.images == 16  # frames 1, 6, 11, 16 of four 16-frame sessions
    table = read_index(tmp_path / "out").set_index("path")
    assert table.loc["frames/1/00011.png", "identity"] == "Z" and table.loc["frames/3/00016.png", "identity"] == "C"
    with Image.open(tmp_path / "out" / "frames/4/00006.png") as image:
        assert frame_number(image) == 6
    with pytest.raises(ConfigError, match="--every applies to --frames all"):
        ingest_mmi(src, csvs, tmp_path / "x", every=5, subjects=subjects)
    subjects.write_text("session,subject\n3,C\n3,D\n")
    with pytest.raises(DataError, match=r"subjects\.csv: session '3' is given two subjects"):
        ingest_mmi(src, csvs, tmp_path / "x", subjects=subjects)


def test_au_xml_phases_by_type_or_by_order(tmp_path: Path) -> None:
    path = tmp_path / "a-oao_aucs.xml"
    path.write_text('<ActionUnits><ActionUnit number="2"><Marker Frame="12" Type="1"/><Marker Frame="3" Type="1"/>'
                    '<Marker Frame="10" Type="3"/><Marker Frame="6" Type="2"/><Marker Frame="14" Type="2"/>'
                    "</ActionUnit></ActionUnits>")
    events = read_au_xml(path)  # numeric types are not read: by frame order, onset, apex, offset, onset, apex
    assert [(e.au, e.onset, e.apex, e.offset) for e in events] == [(2, 3, 6, 10), (2, 12, 14, None)]
    assert [e.active(f) for e in events for f in (2, 3, 9, 10, 30)] == [False, True, True, False, False,
                                                                        False, False, False, False, True]
    path.write_text(au_xml([(9, 2, 4, 7)], typed=True).replace('Type="onset"/>', 'Type="Onset"/>'))
    assert [(e.onset, e.apex, e.offset) for e in read_au_xml(path)] == [(2, 4, 7)]
    path.write_text('<ActionUnits><ActionUnit Number="x"/></ActionUnits>')
    with pytest.raises(DataError, match=r"a-oao_aucs\.xml: <ActionUnit Number='x'> is not an AU number"):
        read_au_xml(path)
    path.write_text('<ActionUnits><ActionUnit Number="4"><Marker Frame="-2"/></ActionUnit></ActionUnits>')
    with pytest.raises(DataError, match="AU 4: <Marker Frame='-2'> is not a frame number from 1"):
        read_au_xml(path)


def test_video_session_errors_name_the_file(tmp_path: Path) -> None:
    src, csvs = sessions_tree(tmp_path)
    (src / "2" / "S002-002-oao_aucs.xml").rename(src / "2" / "coding.xml")
    with pytest.raises(DataError, match=r"Sessions[/\\]2: no S002-002-oao_aucs\.xml .*--frames all"):
        ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    (src / "2" / "coding.xml").rename(src / "2" / "S002-002-oao_aucs.xml")
    rows = [mmi_csv_row(1, f) for f in range(1, 16)]  # one frame short of the 16-frame video
    (csvs / "S001-001.csv").write_bytes(openface_csv(rows, layout="2.0"))
    with pytest.raises(DataError, match=r"S001-001\.csv: has 15 frame rows, S001-001\.avi 16 frames: frame counts"):
        ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    (csvs / "S001-001.csv").unlink()  # no CSV: the session's two frames have no AUs, 2 of 6 > 1 %
    with pytest.raises(DataError, match=r"2 of 6 images are unusable \(0 unreadable, 2 without AUs"):
        ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25)
    (src / "4" / "S004-004-oao_aucs.xml").write_text(au_xml([(25, 1, 20, 22)]))  # apex past the end
    with pytest.raises(DataError, match=r"S004-004\.avi: has 16 frames; frame 20 was asked for"):
        ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25, max_failed=0.5)
    write_avi(src / "4" / "second.avi", 3)
    with pytest.raises(DataError, match=r"Sessions[/\\]4: holds 2 videos"):
        ingest_mmi(src, csvs, tmp_path / "out", test_fraction=0.25, max_failed=0.5)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_a_split_that_cannot_be_drawn_is_refused_before_any_video_is_decoded(tmp_path: Path) -> None:
    src, csvs = tmp_path / "Sessions", tmp_path / "openface"
    for n in (1, 2):
        video_id = mmi_session(src, csvs, n, f"P{n}", [(12, 2, 5, 9)])
        (src / str(n) / f"{video_id}.avi").write_bytes(b"not decoded before the split is known")
    with pytest.raises(DataError, match=r"Sessions: 2 identities cannot be split with test fraction 0\.1"):
        ingest_mmi(src, csvs, tmp_path / "out")
