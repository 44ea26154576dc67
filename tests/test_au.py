from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from eggan.core.checkpoint import save_checkpoint
from eggan.data.aus import AU_COLUMNS
from eggan.data.dataset import load_dataset
from eggan.egg.model import EggAN
from eggan.errors import ConfigError, MissingComponentError
from evaluate.au import (
    LEARNED_SETTINGS,
    OpenFaceEstimator,
    build_estimator,
    learned_estimator,
    run_au_reader,
    save_images,
)
from evaluate.indomain import blur

HEADER = "face, confidence, " + ", ".join(AU_COLUMNS) + ", " + ", ".join(c[:-2] + "_c" for c in AU_COLUMNS)


def _image_mode_csv(path: Path, value: float | None) -> None:
    """A FaceLandmarkImg CSV: header only when no face was found."""
    rows = [HEADER]
    if value is not None:
        rows.append("0, 0.98, " + ", ".join([f"{value:.2f}"] * 17) + ", " + ", ".join(["1.0"] * 17))
    path.write_text("\r\n".join(rows))


def test_learned_estimator_reads_0_to_5_and_reports_its_heldout_error(tiny_dataset: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path))
    monkeypatch.setitem(LEARNED_SETTINGS, "epochs", 2)
    dataset = load_dataset(tiny_dataset, 32)
    with pytest.warns(UserWarning, match="no evaluator split"):  # the tiny dataset has only train and test
        estimator = learned_estimator(dataset, "cpu")
    assert estimator.metadata()["trained_on"]["split"] == "train"
    reading = estimator.estimate(torch.rand(5, 3, 48, 48) * 2 - 1, [])  # any size is resized
    assert reading.aus.shape == (5, 17) and reading.ok.all()
    assert reading.aus.min() >= 0 and reading.aus.max() <= 5
    heldout = estimator.metadata()["heldout"]
    assert heldout["n_images"] == (dataset.table["split"] == "test").sum()
    assert set(heldout["per_au"]) == {"mse", "mae", "pcc", "icc"}
    # The held-out figures, recomputed here from the estimator's readings of the test faces.
    test = dataset.split("test")
    faces, labels = test.images.float().div(127.5).sub(1.0), test.aus.numpy()
    assert heldout["avg"]["mse"]["value"] == pytest.approx(np.mean((estimator.predict(faces).numpy() - labels) ** 2))
    blurred = estimator.metadata()["training"]["heldout_blurred"]
    assert set(blurred) == {"1", "2"}
    for sigma, figures in blurred.items():
        readings = estimator.predict(blur(faces, torch.full((len(faces),), float(sigma)))).numpy()
        assert figures["mse"] == pytest.approx(np.mean((readings - labels) ** 2), rel=1e-5)
    # The reading is the mean of the members' readings, and the members differ (their own seeds).
    members = [member(faces) for member in estimator.net.members]
    assert len(members) == LEARNED_SETTINGS["members"] and not torch.equal(members[0], members[1])
    assert torch.allclose(estimator.predict(faces), 5 * torch.stack(members).mean(0), atol=1e-5)
    cached = list((tmp_path / "evaluators").glob("au-regressor-*.pt"))
    assert len(cached) == 1 and dataset.fingerprint() in cached[0].name
    again = learned_estimator(dataset, "cpu")
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.equal(again.estimate(x).aus, estimator.estimate(x).aus)
    assert again.metadata()["training"] == estimator.metadata()["training"]  # the cached report, training time too
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path / "elsewhere"))
    torch.manual_seed(123)  # retrained from scratch after other RNG use: the same weights
    assert torch.equal(learned_estimator(dataset, "cpu").estimate(x).aus, estimator.estimate(x).aus)


def test_run_au_reader_uses_the_runs_estimator_built_on_first_use(tiny_dataset: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path))
    monkeypatch.setitem(LEARNED_SETTINGS, "epochs", 2)
    config = EggAN.preset("smoke")  # the reader needs only the checkpoint's data section
    config.data.source = str(tiny_dataset)
    checkpoint = save_checkpoint(tmp_path / "checkpoint.pt", {"config": config.to_dict()})
    messages: list[str] = []
    read = run_au_reader(checkpoint, "cpu", log=messages.append)
    assert messages == [] and not (tmp_path / "evaluators").exists()  # nothing is trained before a face is read
    faces = torch.rand(2, 3, 40, 40) * 2 - 1
    aus = read(faces)
    assert messages[0].startswith("training the in-domain au-regressor on ")
    assert "held-out AU MSE" in messages[1] and len(messages) == 2
    cached = learned_estimator(load_dataset(tiny_dataset, 32), "cpu")  # trained once, now from the cache
    assert torch.equal(aus, cached.estimate(faces).aus)
    read(faces)
    assert len(messages) == 2


def test_openface_csv_folder_gives_aus_and_marks_faces_not_found(tmp_path: Path) -> None:
    _image_mode_csv(tmp_path / "gen_0000.csv", 2.5)
    _image_mode_csv(tmp_path / "gen_0001.csv", None)
    estimator = OpenFaceEstimator(csv_dir=tmp_path)
    reading = estimator.estimate(torch.zeros(2, 3, 8, 8), ["gen_0000", "gen_0001"])
    assert reading.ok.tolist() == [True, False]
    assert torch.allclose(reading.aus[0], torch.full((17,), 2.5))
    assert torch.isnan(reading.aus[1]).all()
    assert estimator.metadata()["failures"]["no_face"] == 1
    with pytest.raises(MissingComponentError, match="1 of the 1 OpenFace CSV files asked for are missing"):
        estimator.estimate(torch.zeros(1, 3, 8, 8), ["gen_0002"])


def test_openface_without_binary_is_a_one_line_missing_component(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingComponentError, match="install OpenFace"):
        build_estimator("openface", dataset=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="learned or openface"):
        build_estimator("dlib", dataset=None)  # type: ignore[arg-type]


def test_openface_binary_runs_once_per_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in FaceLandmarkImg on PATH: one CSV per `-f` image, written into `-out_dir`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.txt"
    script = bin_dir / "FaceLandmarkImg"
    row = "0, 0.9, " + ", ".join(["1.25"] * 17) + ", " + ", ".join(["1.0"] * 17)
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'while [ $# -gt 0 ]; do case "$1" in -f) img="$2"; shift;; -out_dir) out="$2"; shift;; esac; shift; done\n'
        f'stem=$(basename "$img" .png)\nprintf "%s\\n%s\\n" "{HEADER}" "{row}" > "$out/$stem.csv"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    estimator = OpenFaceEstimator()
    reading = estimator.estimate(torch.zeros(3, 3, 16, 16), ["a", "b", "c"])
    assert reading.ok.all() and torch.allclose(reading.aus, torch.full((3, 17), 1.25))
    calls = log.read_text().splitlines()
    assert len(calls) == 3 and all("-aus" in c and "-fdir" not in c for c in calls)


def test_saved_images_round_trip_to_8_bit(tmp_path: Path) -> None:
    images = torch.linspace(-1, 1, 3 * 4 * 4).view(1, 3, 4, 4)
    (path,) = save_images(images, ["x"], tmp_path)
    with Image.open(path) as im:
        assert im.size == (4, 4) and im.mode == "RGB"
