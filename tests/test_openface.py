"""OpenFace CSV reader on every layout and quirk, the per-image runner (with a fake binary)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openface_files import au_row, install_fake_openface, openface_csv
from test_folders import stargan_tree

from eggan.data.aus import AU_COLUMNS
from eggan.data.folders import ingest_folders
from eggan.data.landmarks import LANDMARKS_NAME, OPENFACE_COLUMNS, POINT_COLUMNS, read_landmarks
from eggan.data.openface import (
    find_openface,
    openface_command,
    read_au_source,
    read_openface_csv,
    read_openface_dir,
    run_openface,
)
from eggan.errors import DataError, MissingComponentError


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def values(row: dict[str, object]) -> list[float]:
    return [float(row[c]) for c in AU_COLUMNS]  # type: ignore[arg-type]


def test_measured_2_0_layout_431_columns_crlf_mixed_separators(tmp_path: Path) -> None:
    rows = [au_row(k) for k in range(5)]
    data = openface_csv(rows, layout="2.0", header_sep=", ", data_sep=",", newline="\r\n",
                        final_newline=False)
    header = data.split(b"\r\n")[0].decode().split(", ")
    assert len(header) == 431 and not data.endswith(b"\n") and b"\r\n" in data
    table = read_openface_csv(write(tmp_path / "video.csv", data))
    assert list(table.columns) == ["frame", "timestamp", "confidence", "success", *AU_COLUMNS, *OPENFACE_COLUMNS]
    assert table[list(AU_COLUMNS)].to_numpy().tolist() == [values(r) for r in rows]
    assert table["frame"].tolist() == [1, 2, 3, 4, 5]
    assert table.attrs["dropped"] == {"failed": 0, "low_confidence": 0}


@pytest.mark.parametrize(("header_sep", "data_sep"), [(", ", ", "), (",", ","), (", ", ","), (",", ", ")])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_separators_line_endings_and_final_newline(
    tmp_path: Path, header_sep: str, data_sep: str, newline: str, final_newline: bool
) -> None:
    rows = [au_row(1), au_row(2)]
    data = openface_csv(rows, header_sep=header_sep, data_sep=data_sep, newline=newline,
                        final_newline=final_newline)
    table = read_openface_csv(write(tmp_path / "a.csv", data))
    assert table[list(AU_COLUMNS)].to_numpy().tolist() == [values(r) for r in rows]


def test_2_2_layout_keeps_face_id(tmp_path: Path) -> None:
    table = read_openface_csv(write(tmp_path / "a.csv", openface_csv([au_row(3)], layout="2.2")))
    assert {"frame", "face_id", "confidence", "success"} <= set(table.columns)


def test_image_mode_layout_has_no_success_column(tmp_path: Path) -> None:
    rows = [au_row(4, face=0, confidence=0.9), au_row(5, face=1, confidence=0.7)]
    table = read_openface_csv(write(tmp_path / "img.csv", openface_csv(rows, layout="image")))
    assert list(table.columns) == ["face", "confidence", *AU_COLUMNS]
    assert len(table) == 2


def test_columns_in_any_order_with_d_columns_and_au28_presence_only(tmp_path: Path) -> None:
    rows = [au_row(6), au_row(7)]
    data = openface_csv(rows, layout="2.2", with_d=True, shuffle_seed=3)
    header = data.decode().splitlines()[0].split(", ")
    assert "AU28_c" in header and "AU28_r" not in header and "AU01_d" in header
    assert header[: len(AU_COLUMNS)] != list(AU_COLUMNS)
    table = read_openface_csv(write(tmp_path / "a.csv", data))
    assert table[list(AU_COLUMNS)].to_numpy().tolist() == [values(r) for r in rows]


def test_failed_and_low_confidence_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    rows = [au_row(1, success=1, confidence=0.95), au_row(2, success=0, confidence=0.1),
            au_row(3, success=1, confidence=0.5), au_row(4, success=1, confidence=0.9)]
    path = write(tmp_path / "a.csv", openface_csv(rows, layout="2.0"))
    table = read_openface_csv(path, min_confidence=0.8)
    assert table.attrs["dropped"] == {"failed": 1, "low_confidence": 1}
    assert table[list(AU_COLUMNS)].to_numpy().tolist() == [values(rows[0]), values(rows[3])]
    assert len(read_openface_csv(path)) == 3


def test_confidence_threshold_without_confidence_column_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", openface_csv([au_row(1)], drop=("confidence",)))
    with pytest.raises(DataError, match="no confidence column"):
        read_openface_csv(path, min_confidence=0.5)


def test_missing_au_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", openface_csv([au_row(1)], drop=("AU12_r", "AU45_r")))
    with pytest.raises(DataError, match=r"a\.csv: no AU intensity columns AU12_r, AU45_r"):
        read_openface_csv(path)


@pytest.mark.parametrize("bad", ["nan", "NaN", "", "abc"])
def test_non_numeric_au_value_names_file_and_row(tmp_path: Path, bad: str) -> None:
    rows = [au_row(1), au_row(2, AU06_r=bad)]
    path = write(tmp_path / "a.csv", openface_csv(rows))
    with pytest.raises(DataError, match=r"a\.csv: AU06_r is .* in data row 2, not a number") as info:
        read_openface_csv(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", [5.5, -0.1])
def test_out_of_range_au_value_is_an_error_not_clipped(tmp_path: Path, bad: float) -> None:
    path = write(tmp_path / "a.csv", openface_csv([au_row(1), au_row(2), au_row(3, AU17_r=bad)]))
    with pytest.raises(DataError, match=r"AU17_r = .* in data row 3 is outside 0-5"):
        read_openface_csv(path)


def test_short_row_is_an_error(tmp_path: Path) -> None:
    data = openface_csv([au_row(1), au_row(2)])
    cut = data[: data.rfind(b",")]  # the last row loses its last cell
    with pytest.raises(DataError, match="data row 2"):
        read_openface_csv(write(tmp_path / "a.csv", cut))


def test_header_only_file_has_no_rows_and_empty_file_is_an_error(tmp_path: Path) -> None:
    assert read_openface_csv(write(tmp_path / "h.csv", openface_csv([]))).empty
    with pytest.raises(DataError, match="empty AU CSV"):
        read_openface_csv(write(tmp_path / "e.csv", b""))
    with pytest.raises(DataError, match="cannot read"):
        read_openface_csv(tmp_path / "absent.csv")


def test_dir_lookup_mirrored_flat_missing_and_no_face(tmp_path: Path) -> None:
    csvs = tmp_path / "csv"
    write(csvs / "train" / "angry" / "a.csv", openface_csv([au_row(1)]))
    write(csvs / "b.csv", openface_csv([au_row(2, confidence=0.5), au_row(9, confidence=0.9)]))
    write(csvs / "c.csv", openface_csv([]))  # FaceLandmarkImg found no face
    names = ["train/angry/a.jpg", "test/happy/b.jpg", "test/happy/c.jpg", "test/happy/d.jpg"]
    readout = read_openface_dir(csvs, names)
    assert readout.aus["train/angry/a.jpg"] == tuple(values(au_row(1)))
    assert readout.aus["test/happy/b.jpg"] == tuple(values(au_row(9)))  # most confident face
    assert readout.no_face == ["test/happy/c.jpg"] and readout.missing == ["test/happy/d.jpg"]


def test_flat_lookup_refuses_stems_shared_by_two_images(tmp_path: Path) -> None:
    csvs = tmp_path / "csv"
    write(csvs / "0001.csv", openface_csv([au_row(1)]))
    readout = read_openface_dir(csvs, ["s1/0001.jpg", "s2/0001.jpg"])
    assert readout.aus == {} and readout.missing == ["s1/0001.jpg", "s2/0001.jpg"]


def test_combined_csv_with_name_column(tmp_path: Path) -> None:
    rows = [au_row(1, name="x.jpg"), au_row(2, name="sub/y.jpg"), au_row(3, name="z")]
    path = write(tmp_path / "all.csv", openface_csv(rows))
    readout = read_au_source(path, ["x.jpg", "sub/y.jpg", "other/z.png", "w.jpg"])
    assert readout.aus["x.jpg"] == tuple(values(rows[0]))
    assert readout.aus["sub/y.jpg"] == tuple(values(rows[1]))
    assert readout.aus["other/z.png"] == tuple(values(rows[2]))
    assert readout.missing == ["w.jpg"]
    with pytest.raises(DataError, match="'name' column"):
        read_au_source(write(tmp_path / "noname.csv", openface_csv([au_row(1)])), ["x.jpg"])
    with pytest.raises(DataError, match="no such AU CSV"):
        read_au_source(tmp_path / "absent", ["x.jpg"])


# --- runner -------------------------------------------------------------------------------------


@pytest.fixture
def fake_openface(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = install_fake_openface(tmp_path / "bin" / "FaceLandmarkImg")
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_OPENFACE_LOG", str(tmp_path / "log.jsonl"))
    return script


def test_runner_calls_face_landmark_img_once_per_image(tmp_path: Path, fake_openface: Path) -> None:
    root = tmp_path / "faces"
    images = [root / "train" / "a.jpg", root / "test" / "a.jpg", root / "test" / "noface.jpg"]
    for image in images:
        write(image, b"not decoded by the fake")
    assert find_openface() == fake_openface
    result = run_openface(images, tmp_path / "csv", root=root)
    calls = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert calls == [["FaceLandmarkImg", "-f", str(image), "-aus", "-2Dfp", "-out_dir",
                      str(tmp_path / "csv" / image.relative_to(root).parent)] for image in images]
    assert all("-fdir" not in call for call in calls)
    assert set(result) == set(images[:2])  # no CSV for the image without a face
    assert result[images[1]] == tmp_path / "csv" / "test" / "a.csv"
    table = read_openface_csv(result[images[0]])
    assert table[list(AU_COLUMNS)].to_numpy().tolist() == [[1.5] * len(AU_COLUMNS)]


def test_the_runners_landmarks_reach_the_dataset_folder(tmp_path: Path, fake_openface: Path) -> None:
    """`data openface` asks for -2Dfp; the folders reader keeps the 5 points of each image's CSV in
    landmarks.csv (the image is copied as it is, so OpenFace's pixels are the dataset's)."""
    root = tmp_path / "faces"
    written = stargan_tree(root, tmp_path / "given", range(2), range(2, 3))
    run_openface([root / rel for rel in written], tmp_path / "csv", root=root)
    ingest_folders(root, tmp_path / "csv", tmp_path / "out")
    table = read_landmarks(tmp_path / "out")
    assert sorted(table["path"]) == sorted(written)
    assert set(table["width"]) == {12} and set(table["height"]) == {16}  # tiny_image's size
    expected = [3, 6, 9, 6, 6, 9, 4, 12, 8, 12]  # what the fake wrote: eye contours, nose 30, mouth 48 and 54
    assert (table[list(POINT_COLUMNS)].to_numpy() == expected).all()
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["landmarks"] == {
        "file": LANDMARKS_NAME, "images": len(written), "of": len(written)}


def test_runner_errors(tmp_path: Path, fake_openface: Path) -> None:
    crash = write(tmp_path / "crash.jpg", b"x")
    with pytest.raises(DataError, match=r"crash\.jpg: FaceLandmarkImg exited with 3: could not load"):
        run_openface([crash], tmp_path / "csv")
    same = [write(tmp_path / "a" / "x.jpg", b"x"), write(tmp_path / "b" / "x.jpg", b"x")]
    with pytest.raises(DataError, match="same CSV"):
        run_openface(same, tmp_path / "csv")


def test_feature_extraction_gets_static_models_per_image() -> None:
    command = openface_command(Path("/opt/of/FeatureExtraction"), Path("f.jpg"), Path("out"))
    assert command == ["/opt/of/FeatureExtraction", "-f", "f.jpg", "-au_static", "-aus", "-2Dfp", "-out_dir", "out"]
    command = openface_command(Path("FaceLandmarkImg"), Path("f.jpg"), Path("out"), aligned_size=128)
    assert command == ["FaceLandmarkImg", "-f", "f.jpg", "-aus", "-2Dfp", "-simalign", "-simsize", "128", "-nomask",
                       "-out_dir", "out"]


def test_missing_binary_says_how_to_install_or_pass_csvs(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingComponentError, match=r"install OpenFace 2\.x.*--binary") as info:
        find_openface()
    assert "\n" not in str(info.value)
    with pytest.raises(MissingComponentError, match="OpenFace binary /nope/FaceLandmarkImg not found"):
        run_openface([], tmp_path, binary="/nope/FaceLandmarkImg")


def test_cli_data_openface(tmp_path: Path, fake_openface: Path) -> None:
    from typer.testing import CliRunner

    from eggan.cli.main import app

    for rel in ("a/x.jpg", "b/x.jpg", "b/noface.jpg"):
        write(tmp_path / "faces" / rel, b"x")
    result = CliRunner().invoke(app, ["data", "openface", str(tmp_path / "faces"), "--out", str(tmp_path / "csv")])
    assert result.exit_code == 0, result.output
    assert "2 CSVs for 3 images (1 without a face)" in result.output
    assert read_openface_dir(tmp_path / "csv", ["a/x.jpg", "b/x.jpg"]).missing == []
