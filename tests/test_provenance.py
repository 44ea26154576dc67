"""A checkpoint's record of its data and the check of its config copy (eggan.core.provenance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eggan.core.provenance import UNRECORDED, check_config_copy, check_data, dataset_record, restore_config_copy
from eggan.errors import ConfigError

CONFIG = {"method": "toy", "data": {"source": "d", "image_size": 32, "synth": {"sizes": (1, 2)}},
          "train": {"steps": 8, "device": "cpu", "checkpoint_every": 4}, "model": {"lr": 0.001}}


def test_the_record_keeps_every_earlier_dataset_once() -> None:
    fresh = dataset_record("aaa", "data")
    assert fresh == {"name": "data", "fingerprint": "aaa", "earlier": []}
    again = dataset_record("aaa", "data", {"dataset": fresh})
    assert again["earlier"] == []  # resumed on the same data: nothing earlier
    moved = dataset_record("bbb", "data", {"dataset": fresh})
    back = dataset_record("aaa", "data", {"dataset": moved})
    assert moved["earlier"] == ["aaa"] and back["earlier"] == ["aaa", "bbb"]
    assert dataset_record("ccc", "data", {})["earlier"] == [UNRECORDED]  # a checkpoint from before the record


def test_other_data_is_refused_naming_both_or_noted_when_allowed(tmp_path: Path) -> None:
    payload = {"dataset": dataset_record("aaa", "data")}
    assert check_data(payload, "aaa", tmp_path, allow=False) is None
    with pytest.raises(ConfigError, match="trained on data with fingerprint aaa, but the data is now bbb"):
        check_data(payload, "bbb", tmp_path, allow=False)
    with pytest.raises(ConfigError, match="fingerprint none recorded, but the data is now bbb"):
        check_data({}, "bbb", tmp_path, allow=False)
    assert check_data(payload, "bbb", tmp_path, allow=True) == {"trained_on": "aaa", "earlier": [], "scored_on": "bbb"}
    mixed = {"dataset": dataset_record("bbb", "data", {"dataset": payload["dataset"]})}
    assert check_data(mixed, "bbb", tmp_path, allow=False) == {"trained_on": "bbb", "earlier": ["aaa"],
                                                               "scored_on": "bbb"}  # recorded, so never silent


def test_the_config_copy_must_say_what_the_checkpoint_says(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    restore_config_copy(tmp_path, CONFIG)  # missing: written from the checkpoint (tuples as JSON lists)
    assert json.loads(path.read_text())["data"]["synth"]["sizes"] == [1, 2]
    check_config_copy(tmp_path, CONFIG)
    resumed = json.loads(path.read_text())
    resumed["train"].update(device="cuda", checkpoint_every=100)  # may change on a resume: not a difference
    path.write_text(json.dumps(resumed))
    check_config_copy(tmp_path, CONFIG)
    resumed["model"]["lr"] = 0.1
    path.write_text(json.dumps(resumed))
    with pytest.raises(ConfigError, match=r"config.json: differs from the checkpoint's own config \(model.lr: 0.1 in "
                                          r"config.json, 0.001 in the checkpoint\)"):
        check_config_copy(tmp_path, CONFIG)
    del resumed["model"]
    path.write_text(json.dumps(resumed))
    with pytest.raises(ConfigError, match=r"model: '<absent>' in config.json"):
        restore_config_copy(tmp_path, CONFIG)
