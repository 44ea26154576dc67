"""AUs a dataset does not code (DISFA's 7, 10, 14, 23, 45) are missing, never 0: the loader's
accept/refuse rules, the DISFA list reader's empty cells, and the coded set carried to the end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openface_files import tiny_image

from eggan.data.aus import AU_COLUMNS, DISFA_CODED_AUS
from eggan.data.dataset import PROVENANCE_NAME, load_dataset, read_index, validate_table, write_index
from eggan.data.disfa import ingest_disfa
from eggan.data.ingest import Record, SplitRule, copy_image, write_dataset
from eggan.errors import DataError

UNCODED = ("AU07_r", "AU10_r", "AU14_r", "AU23_r", "AU45_r")


def index(rows: int = 4, uncoded: tuple[str, ...] = UNCODED) -> pd.DataFrame:
    """Identities a, b (train) and c, d (test); each AU in ``uncoded`` empty in every row."""
    frame = pd.DataFrame({
        "path": [f"images/{i}.png" for i in range(rows)],
        "identity": list("abcd")[:rows],
        "expression": [""] * rows,
        "split": ["train", "train", "test", "test"][:rows],
        **{c: [float("nan") if c in uncoded else 0.5 * (i + k % 3) for i in range(rows)]
           for k, c in enumerate(AU_COLUMNS)},
    })
    return frame


def test_disfa_constant_is_the_twelve_coded_aus() -> None:
    assert tuple(f"AU{n:02d}_r" for n in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)) == DISFA_CODED_AUS
    assert tuple(c for c in AU_COLUMNS if c not in DISFA_CODED_AUS) == UNCODED


def test_loader_accepts_whole_empty_columns_and_records_them(tmp_path: Path) -> None:
    table = index()
    for rel in table["path"]:
        tiny_image(tmp_path / rel)
    write_index(table, tmp_path, {"reader": "test", "split": {"level": "identity"},
                                  "coded_aus": list(DISFA_CODED_AUS)})
    text = (tmp_path / "index.csv").read_text().splitlines()
    header = text[0].split(",")
    for line in text[1:]:
        cells = dict(zip(header, line.split(","), strict=True))
        assert [cells[c] for c in UNCODED] == [""] * 5  # empty, not 0 and not "nan"
        assert all(cells[c] != "" for c in DISFA_CODED_AUS)
    dataset = load_dataset(tmp_path, 8)
    assert dataset.coded_aus == DISFA_CODED_AUS
    assert dataset.aus.shape == (4, 12)
    expected = np.array([[0.5 * (i + k % 3) for k, c in enumerate(AU_COLUMNS) if c in DISFA_CODED_AUS]
                         for i in range(4)], dtype=np.float32)
    assert np.array_equal(dataset.aus.numpy(), expected)
    assert dataset.split("test").coded_aus == DISFA_CODED_AUS and dataset.split("test").aus.shape == (2, 12)


def test_without_provenance_the_coded_set_is_read_from_the_columns(tmp_path: Path) -> None:
    table = index(uncoded=("AU45_r",))
    for rel in table["path"]:
        tiny_image(tmp_path / rel)
    write_index(table, tmp_path)
    assert load_dataset(tmp_path, 8).coded_aus == AU_COLUMNS[:-1]


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.assign(AU07_r=[1.0, float("nan"), float("nan"), float("nan")]),
     "AU07_r is empty in data row 2 but has values in other rows"),
    (lambda t: t.assign(AU01_r=[1.0, 2.0, float("nan"), 1.0]),
     "AU01_r is empty in data row 3 but has values in other rows"),
    (lambda t: t.assign(AU07_r=["x", float("nan"), float("nan"), float("nan")]),
     "AU07_r is not a number in data row 1"),
    (lambda t: t.assign(**{c: float("nan") for c in AU_COLUMNS}), "no AU column has values"),
])
def test_loader_refuses_partly_empty_columns(change: object, message: str) -> None:
    with pytest.raises(DataError) as info:
        validate_table(change(index()), "data/index.csv")  # type: ignore[operator]
    assert str(info.value).startswith(f"data/index.csv: {message}") and "\n" not in str(info.value)


def test_coded_set_must_match_dataset_json(tmp_path: Path) -> None:
    table = index()
    for rel in table["path"]:
        tiny_image(tmp_path / rel)
    write_index(table, tmp_path, {"split": {"level": "identity"}, "coded_aus": list(DISFA_CODED_AUS)})
    provenance = json.loads((tmp_path / PROVENANCE_NAME).read_text())
    for recorded, message in [
        (list(AU_COLUMNS), r"index\.csv: the coded AUs \(AU01, AU02, AU04, .*, AU26\) are not the ones "
                           r"dataset\.json records \(AU01, AU02, .*AU45\)"),
        (["AU12_r", "AU01_r"], r"dataset\.json: coded_aus \['AU12_r', 'AU01_r'\] repeats an AU or is not in "),
        (["AU12"], r"dataset\.json: coded_aus names 'AU12', not one of the 17 AU columns"),
        ("AU12_r", r"dataset\.json: coded_aus must be a list of AU column names"),
    ]:
        (tmp_path / PROVENANCE_NAME).write_text(json.dumps({**provenance, "coded_aus": recorded}))
        with pytest.raises(DataError, match=message) as info:
            read_index(tmp_path)
        assert "\n" not in str(info.value)


def test_write_dataset_checks_records_against_the_coded_set(tmp_path: Path) -> None:
    images = [tiny_image(tmp_path / "src" / f"{name}.png", colour=i) for i, name in enumerate("abcdef")]
    coded_values = {c: 1.0 for c in DISFA_CODED_AUS}

    def record(i: int, **values: float) -> Record:
        aus = {**coded_values, **values}
        return Record(source=images[i], name=f"images/{images[i].name}", identity=images[i].stem,
                      aus=tuple(aus.get(c, float("nan")) for c in AU_COLUMNS))

    records = [record(i) for i in range(6)]
    rule = SplitRule("identity", 0.34, 0)
    report = write_dataset(records, tmp_path / "out", copy_image, rule, "test", tmp_path / "src",
                           coded_aus=DISFA_CODED_AUS)
    assert report.images == 6
    assert json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())["coded_aus"] == list(DISFA_CODED_AUS)
    assert read_index(tmp_path / "out")[list(UNCODED)].isna().all().all()
    with pytest.raises(DataError, match=r"src: images/c\.png has values for AU01, .*AU26, AU45, but the dataset "
                                        r"codes AU01, .*AU26: a coded AU needs a value"):
        write_dataset([*records[:2], record(2, AU45_r=0.0), *records[3:]], tmp_path / "x", copy_image, rule,
                      "test", tmp_path / "src", coded_aus=DISFA_CODED_AUS)
    with pytest.raises(DataError, match=r"images/a\.png has values for AU01, .*AU26, but the dataset codes AU01, "
                                        r"AU02, AU04, AU05, AU06, AU07"):  # None = all 17 coded
        write_dataset(records, tmp_path / "y", copy_image, rule, "test", tmp_path / "src")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def disfa_list(tmp_path: Path, subjects: int = 4, frames: int = 4) -> tuple[Path, Path]:
    """The authors' list layout: 17 values a line, 0 for the five AUs DISFA does not code."""
    images, lines = tmp_path / "aligned", []
    for s in range(1, subjects + 1):
        for f in range(frames):
            name = f"SN{s:03d}_{f:04d}.png"
            tiny_image(images / name, colour=s * 10 + f)
            values = [round((s * 7 + f * 3 + k) % 11 * 0.45, 2) if c in DISFA_CODED_AUS else 0
                      for k, c in enumerate(AU_COLUMNS)]
            lines.append(" ".join([name, *map(str, values)]))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing, images


def test_disfa_list_writes_the_five_uncoded_aus_as_empty_cells(tmp_path: Path) -> None:
    listing, images = disfa_list(tmp_path)
    ingest_disfa(listing, images, tmp_path / "out", test_fraction=0.5)
    raw = pd.read_csv(tmp_path / "out" / "index.csv", dtype=str, keep_default_na=False)
    assert (raw[list(UNCODED)] == "").all().all()  # the list's zeros are not written
    assert (raw[list(DISFA_CODED_AUS)] != "").all().all()
    assert json.loads((tmp_path / "out" / PROVENANCE_NAME).read_text())["coded_aus"] == list(DISFA_CODED_AUS)
    dataset = load_dataset(tmp_path / "out", 8)
    assert dataset.coded_aus == DISFA_CODED_AUS and dataset.aus.shape == (16, 12)
    first = listing.read_text().splitlines()[0].split()
    row = dataset.table.index[dataset.table["path"] == f"images/{first[0]}"][0]
    coded_from_list = [float(v) for c, v in zip(AU_COLUMNS, first[1:], strict=True) if c in DISFA_CODED_AUS]
    assert dataset.aus[row].tolist() == pytest.approx(coded_from_list)
