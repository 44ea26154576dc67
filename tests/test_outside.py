"""`export-protocol` and `score` on a smoke run: the protocol as plain files, a folder of outputs
written with plain PIL becoming a row of every table (kept across `evaluate` and `report`, rescored
when its content changes), and a broken folder refused in one line with nothing written."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from folder_state import snapshot
from PIL import Image

from eggan.cli.main import main
from eggan.cli.pipeline import BenchConfig, run_benchmark
from evaluate.evaluation import evaluate_run
from evaluate.outside import run_evaluators
from reports.figures import generated_examples
from reports.report import build_report
from reports.results import load_results, row_by_label

SMOKE = BenchConfig(methods=["eggan"], preset="smoke", device="cpu", overrides=["train.steps=1"], per_expression=2,
                    examples=2, interpolation_steps=3)
TABLES = ("expression", "expression_labels", "identity", "ground_truth", "ground_truth_expressions", "throughput",
          "interpolation")


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, list[str]]:
    with mock.patch.object(sys, "argv", ["eggan-bench", *map(str, args)]), pytest.raises(SystemExit) as done:
        main()
    return done.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "smoke"
    run_benchmark(SMOKE, out, progress=False, log=lambda _msg: None)
    return out


@pytest.fixture(scope="module")
def protocol(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "protocol"
    argv = ["eggan-bench", "export-protocol", "--run", str(run), "--out", str(out)]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    return out


def copy_with_pil(images: Path, out: Path) -> Path:
    """What a user's own code does: read each input with PIL, write <pair>.png (no project import)."""
    out.mkdir()
    for path in sorted(images.glob("*.png")):
        Image.open(path).convert("RGB").save(out / path.name)
    return out


def test_the_protocol_is_plain_files_that_match_the_run(run: Path, protocol: Path) -> None:
    meta = json.loads(protocol.joinpath("protocol.json").read_text())
    results = load_results(run)
    assert meta["image_size"] == 32 and len(meta["au_order"]) == 17 and meta["au_order"][0] == "AU01"
    assert meta["pairs"]["sha256"] == hashlib.sha256((run / "eval" / "pairs.csv").read_bytes()).hexdigest()
    assert meta["dataset"]["fingerprint"] == results["meta"]["dataset"]["fingerprint"]
    pairs = pd.read_csv(protocol / "pairs.csv")
    saved = pd.read_csv(run / "eval" / "pairs.csv")
    assert len(pairs) == len(saved) == 16 and list(pairs["output"][:2]) == ["0000.png", "0001.png"]
    root = Path(results["meta"]["dataset"]["root"])
    index = pd.read_csv(root / "index.csv").set_index("path")
    for row in pairs.itertuples():
        for kind, original in (("source", row.source_path), ("target", row.target_path)):
            exported = np.asarray(Image.open(protocol / getattr(row, kind)))
            np.testing.assert_array_equal(exported, np.asarray(Image.open(root / original).convert("RGB")))
        expected = index.loc[row.target_path, [c for c in index.columns if c.startswith("AU")]].to_numpy(float)
        got = np.array([getattr(row, f"target_{c}") for c in index.columns if c.startswith("AU")])
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_folder_of_outputs_becomes_a_row_of_every_table(run: Path, protocol: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    keep = copy_with_pil(protocol / "sources", tmp_path / "keep")
    paste = copy_with_pil(protocol / "targets", tmp_path / "paste")
    assert cli(capsys, "score", "--run", run, "--outputs", keep, "--name", "keep", "--device", "cpu")[0] == 0
    assert cli(capsys, "score", "--run", run, "--outputs", paste, "--name", "paste", "--device", "cpu")[0] == 0
    for table in TABLES:
        text = (run / "tables" / f"{table}.md").read_text()
        assert "| paste" in text and "| keep" in text, table
    assert "| paste    | n/a" in (run / "tables" / "throughput.md").read_text()
    # The unedited sources scored as outputs read exactly as the Source row, pair by pair.
    source = pd.read_csv(run / "eval" / "reference" / "source" / "pairs.csv")
    kept = pd.read_csv(run / "outside" / "keep" / "seed0" / "pairs.csv")
    columns = [c for c in source.columns if c.startswith("pred_")] + ["cosine", "impostor_cosine"]
    np.testing.assert_allclose(kept[columns].to_numpy(float), source[columns].to_numpy(float), atol=1e-5)
    assert np.nanmax(np.abs(kept["gt_edit"].to_numpy())) < 1e-9  # no change is an edit score of 0
    # The targets pasted as outputs read exactly as the estimator reads the targets: MSE 0.
    results = load_results(run)
    avg = next(iter(row_by_label(results, "paste")["seeds"].values()))["au"]["vs_estimator"]["avg"]["mse"]["value"]
    assert avg == pytest.approx(0.0, abs=1e-9)
    # The comparison figure shows the pasted targets in the example rows.
    shown = generated_examples(results)["paste"]
    for png, target in zip(shown, results["examples"]["target"], strict=True):
        decode = [np.asarray(Image.open(io.BytesIO(base64.b64decode(x))).convert("RGB")) for x in (png, target)]
        np.testing.assert_array_equal(*decode)


def test_the_row_stays_and_a_changed_folder_is_rescored(run: Path, protocol: Path, tmp_path: Path) -> None:
    folder = copy_with_pil(protocol / "targets", tmp_path / "mine")
    from evaluate.outside import score_folder

    score_folder(run, folder, "mine", device="cpu")
    first = row_by_label(load_results(run), "mine")["outside"]["0"]["sha256"]
    messages: list[str] = []
    evaluate_run(run, device="cpu", log=messages.append)
    build_report(run)
    assert any(m.startswith("mine/seed0: up to date") for m in messages), messages
    assert "| mine" in (run / "tables" / "expression.md").read_text()
    shutil.copy(protocol / "sources" / "0003.png", folder / "0003.png")  # one output changed
    messages.clear()
    results = evaluate_run(run, device="cpu", log=messages.append)
    row = row_by_label(results, "mine")
    assert row["outside"]["0"]["sha256"] != first
    assert any(m.startswith("mine/seed0: 16 pairs") for m in messages), messages
    frame = pd.read_csv(run / "outside" / "mine" / "seed0" / "pairs.csv")
    source = pd.read_csv(run / "eval" / "reference" / "source" / "pairs.csv")
    assert frame.loc[3, "cosine"] == pytest.approx(source.loc[3, "cosine"], abs=1e-5)


def test_a_broken_folder_is_refused_in_one_line_and_nothing_is_written(run: Path, protocol: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_with_pil(protocol / "targets", tmp_path / "broken")
    (folder / "0001.png").unlink()
    (folder / "notes.txt").write_text("mine")
    Image.new("RGB", (16, 16)).save(folder / "0002.png")
    (folder / "0003.png").write_bytes(b"not a png")
    before = snapshot(run)
    code, lines = cli(capsys, "score", "--run", run, "--outputs", folder, "--name", "broken", "--device", "cpu")
    assert code == 2 and len(lines) == 1, lines
    for fragment in ("missing 0001.png", "extra notes.txt", "0002.png (16x16 RGB)", "unreadable 0003.png"):
        assert fragment in lines[0], lines[0]
    assert snapshot(run) == before


def test_a_name_of_a_trained_row_is_refused(run: Path, protocol: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_with_pil(protocol / "targets", tmp_path / "x")
    code, lines = cli(capsys, "score", "--run", run, "--outputs", folder, "--name", "eggan")
    assert code == 2 and len(lines) == 1 and "already a row" in lines[0], lines


def test_score_uses_the_runs_own_evaluators_unless_told_otherwise(tmp_path: Path) -> None:
    """A row added to a LightCNN run is read by LightCNN: the command's defaults never replace the
    evaluators bench.json records (that would rescore every row with others)."""
    bench = {"estimator": "openface", "openface_csv": "/data/csv", "verifier": "lightcnn-29",
             "weights": "/w/LightCNN_29Layers_checkpoint.pth.tar", "per_expression": 174}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    unset = {"estimator": None, "openface_csv": None, "verifier": None, "weights": None, "device": "cpu"}
    assert run_evaluators(tmp_path, unset) == {"estimator": "openface", "openface_csv": "/data/csv",
                                               "verifier": "lightcnn-29",
                                               "weights": "/w/LightCNN_29Layers_checkpoint.pth.tar", "device": "cpu"}
    given = {**unset, "verifier": "indomain"}
    assert run_evaluators(tmp_path, given)["verifier"] == "indomain"
    (tmp_path / "bench.json").unlink()  # a train folder evaluated directly: evaluate_run's defaults apply
    assert run_evaluators(tmp_path, unset) == {"device": "cpu"}
