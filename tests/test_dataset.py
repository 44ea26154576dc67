"""The shared index checks every reader relies on, and the provenance file's split level."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from openface_files import tiny_image

from eggan.data.aus import AU_COLUMNS
from eggan.data.dataset import (
    PROVENANCE_NAME,
    load_dataset,
    read_index,
    split_identities,
    split_level,
    validate_table,
    write_index,
)
from eggan.errors import DataError


def table(rows: int = 4, **changes: object) -> pd.DataFrame:
    """A valid index: identities a, b (train) and c, d (test), one image each."""
    frame = pd.DataFrame({
        "path": [f"images/{i}.png" for i in range(rows)],
        "identity": list("abcd")[:rows],
        "expression": ["happy", "sad", "", "Neutral"][:rows],
        "split": ["train", "train", "test", "test"][:rows],
        **{c: [1.0] * rows for c in AU_COLUMNS},
    })
    for key, value in changes.items():
        column, row = key.rsplit("_at", 1) if "_at" in key else (key, None)
        if row is None:
            frame[column] = value
        else:
            frame.loc[int(row), column] = value
    return frame


def test_valid_table_is_normalised() -> None:
    checked = validate_table(table(), "index.csv")
    assert checked["expression"].tolist() == ["happy", "sad", "", "neutral"]
    assert checked[list(AU_COLUMNS)].dtypes.unique().tolist() == ["float32"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"expression_at1": "bored"}, "unknown expression 'bored'"),
    ({"split_at0": "val"}, "unknown split 'val'"),
    ({"identity_at2": "a"}, "identity 'a' is in both splits"),
    ({"path_at3": "images/0.png"}, "duplicate image path 'images/0.png'"),
    ({"AU12_r_at2": float("nan")}, "AU12_r is empty in data row 3 but has values in other rows"),
    ({"AU45_r_at1": 5.01}, "AU45_r = 5.01 in data row 2 is outside 0-5"),
    ({"AU01_r_at0": -0.5}, "AU01_r = -0.5 in data row 1 is outside 0-5"),
])
def test_each_bad_index_is_a_one_line_error_naming_the_file(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DataError) as info:
        validate_table(table(**changes), "data/index.csv")
    assert str(info.value).startswith(f"data/index.csv: {message}") and "\n" not in str(info.value)


def test_missing_columns_and_empty_table() -> None:
    with pytest.raises(DataError, match="missing columns AU06_r, AU45_r"):
        validate_table(table().drop(columns=["AU06_r", "AU45_r"]), "x")
    with pytest.raises(DataError, match="no rows"):
        validate_table(table().iloc[:0], "x")


def test_image_level_flag_allows_an_identity_in_both_splits() -> None:
    mixed = table(identity_at2="a")
    assert len(validate_table(mixed, "x", image_level_split=True)) == 4


def test_write_index_with_provenance_records_the_split_level(tmp_path: Path) -> None:
    mixed = table(identity_at2="a", identity_at3="b")
    for rel in mixed["path"]:
        tiny_image(tmp_path / rel)
    with pytest.raises(DataError, match="in both splits"):
        write_index(mixed, tmp_path)
    assert not (tmp_path / "index.csv").exists() and not (tmp_path / PROVENANCE_NAME).exists()
    write_index(mixed, tmp_path, {"reader": "test", "split": {"level": "image"}})
    assert split_level(tmp_path) == "image"
    assert len(read_index(tmp_path)) == 4
    assert len(load_dataset(tmp_path, 8)) == 4
    (tmp_path / PROVENANCE_NAME).write_text(json.dumps({"split": {"level": "identity"}}))
    with pytest.raises(DataError, match="in both splits"):  # the label, not the data, decides
        read_index(tmp_path)


def test_provenance_file_errors(tmp_path: Path) -> None:
    assert split_level(tmp_path) == "identity"  # no provenance: readers' default
    (tmp_path / PROVENANCE_NAME).write_text("{not json")
    with pytest.raises(DataError, match="not a dataset provenance file"):
        split_level(tmp_path)
    (tmp_path / PROVENANCE_NAME).write_text(json.dumps({"split": {"level": "frame"}}))
    with pytest.raises(DataError, match="unknown split level 'frame'"):
        split_level(tmp_path)
    (tmp_path / PROVENANCE_NAME).write_text(json.dumps({"split": {"level": "given"}}))
    assert split_level(tmp_path) == "identity"


def test_split_identities_is_seeded_and_needs_two_identities() -> None:
    names = [f"id{i}" for i in range(10)]
    first = split_identities(names, 0.3, seed=5)
    assert first == split_identities(list(reversed(names)), 0.3, seed=5)
    assert sum(v == "test" for v in first.values()) == 3
    assert any(split_identities(names, 0.3, seed=s) != first for s in range(6, 10))
    with pytest.raises(DataError, match="1 identities cannot be split"):
        split_identities(["solo"], 0.5, seed=0)
