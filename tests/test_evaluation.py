from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from standins import fake_run, load_standin

from eggan.core.checkpoint import load_checkpoint, save_checkpoint
from eggan.data.aus import AU_COLUMNS
from eggan.errors import ConfigError, DataError
from evaluate.au import LEARNED_SETTINGS
from evaluate.evaluation import SOURCE_ROW, aggregate, evaluate_run, run_folder
from evaluate.export import export_images
from evaluate.identity import INDOMAIN_SETTINGS
from evaluate.metrics import au_agreement, verification
from evaluate.throughput import run_throughput
from reports.results import excluded_sentence
from reports.tables import expression_table


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(LEARNED_SETTINGS, "epochs", 2)  # the machinery, not the evaluators' accuracy
    monkeypatch.setitem(INDOMAIN_SETTINGS, "epochs", 2)
    return tmp_path / "cache"


def test_evaluate_run_writes_every_file_and_the_rows_make_sense(tmp_path: Path, tiny_dataset: Path, cache) -> None:
    run = fake_run(tmp_path / "run", tiny_dataset, {"keep": 2, "paste": 1})
    messages: list[str] = []
    results = evaluate_run(run, device="cpu", rounds=50, loader=load_standin, log=messages.append)
    for rel in ("eval/pairs.csv", "eval/evaluators.json", "eval/keep/seed0/pairs.csv", "eval/keep/seed1/summary.json",
                "eval/paste/seed0/pairs.csv", "results.json"):
        assert (run / rel).is_file(), rel
    on_disk = json.loads((run / "results.json").read_text())
    assert [r["label"] for r in on_disk["rows"]] == [SOURCE_ROW, "keep", "paste", "Real"]
    rows = {r["label"]: r for r in results["rows"]}
    # Keeping the source scores the sources' readings against the target labels (from its pairs.csv by
    # hand; every figure against independent references: test_evaluation_references.py).
    keep, paste = rows["keep"]["seeds"]["0"], rows["paste"]["seeds"]["0"]
    frame = pd.read_csv(run / "eval" / "keep" / "seed0" / "pairs.csv")
    used = frame[frame["pred_ok"]]
    error = used[[f"pred_{c}" for c in AU_COLUMNS]].to_numpy() - used[[f"label_{c}" for c in AU_COLUMNS]].to_numpy()
    assert keep["au"]["vs_labels"]["avg"]["mse"]["value"] == pytest.approx(np.mean(error**2), rel=1e-4)
    assert keep["verification"]["accuracy"] == 1.0
    assert paste["au"]["vs_estimator"]["avg"]["mse"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert paste["verification"]["accuracy"] < keep["verification"]["accuracy"]
    aggregate = rows["keep"]["summary"]
    assert aggregate["n_seeds"] == 2 and aggregate["verification"]["accuracy"]["std"] == 0.0
    meta = on_disk["meta"]
    assert meta["protocol"]["n_pairs"] == 32 and meta["evaluators"]["verifier"]["threshold"] is not None
    assert meta["evaluators"]["estimator"]["heldout"]["avg"]["pcc"]["n_aus"] == 17  # random labels: every AU varies
    # Re-running skips the finished seeds (same step, same evaluators, same pairs).
    messages.clear()
    evaluate_run(run, device="cpu", rounds=50, loader=load_standin, log=messages.append)
    assert sum("skipped" in m for m in messages) == 3


def test_a_directory_without_trained_runs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no trained runs"):
        evaluate_run(tmp_path, device="cpu")


def test_a_train_out_folder_is_evaluated_as_its_one_run(tmp_path: Path, tiny_dataset: Path, cache) -> None:
    """`train --out F` then `evaluate --checkpoint F/checkpoint.pt` (or `--run F`): F is the one run."""
    fake_run(tmp_path / "bench", tiny_dataset, {"keep": 1})
    folder = tmp_path / "bench" / "train" / "keep" / "seed0"
    config = json.loads((folder / "config.json").read_text())
    config["train"] = {"seed": 3}  # what `train` writes: the seed lives in the config, not the folder name
    (folder / "config.json").write_text(json.dumps(config))
    payload = load_checkpoint(folder / "checkpoint.pt")
    save_checkpoint(folder / "checkpoint.pt", {**payload, "config": config})
    out = folder.rename(tmp_path / "eggan-quick")
    results = evaluate_run(run_folder(None, out / "checkpoint.pt"), device="cpu", rounds=20,
                           loader=lambda path, device: load_standin(tmp_path / "train" / "keep" / "x", device))
    assert [r["label"] for r in results["rows"]] == [SOURCE_ROW, "keep", "Real"]
    assert list(results["rows"][1]["seeds"]) == ["3"]
    assert (out / "results.json").is_file() and (out / "eval" / "keep" / "seed3" / "pairs.csv").is_file()
    with pytest.raises(ConfigError, match="exactly one of --run and --checkpoint"):
        run_folder(out, out / "checkpoint.pt")
    with pytest.raises(DataError, match=r"--checkpoint must be an existing checkpoint\.pt"):
        run_folder(None, out / "config.json")


def test_throughput_of_a_run_lands_in_results(tmp_path: Path, tiny_dataset: Path) -> None:
    run = fake_run(tmp_path / "run", tiny_dataset, {"keep": 1})
    (run / "results.json").write_text(json.dumps({"rows": [], "throughput": None}))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        measured = run_throughput(run, device="cpu", loader=load_standin)
    finally:
        torch.set_num_threads(threads)
    assert [b["batch_size"] for b in measured["keep"]["batches"]] == [1, 8, 32]
    assert json.loads((run / "results.json").read_text())["throughput"]["keep"]["threads"] == 1


def test_export_then_score_with_openface_csvs(tmp_path: Path, tiny_dataset: Path, cache) -> None:
    """The OpenFace round trip: export keyed images, 'run OpenFace' (CSVs written here), evaluate."""
    run = fake_run(tmp_path / "run", tiny_dataset, {"keep": 1})
    images = tmp_path / "images"
    count = export_images(run, images, device="cpu", loader=load_standin)
    assert count == 3 * 32 and (images / "keep_seed0_0031.png").is_file() and (images / "target_0000.png").is_file()
    csvs = tmp_path / "csv"
    csvs.mkdir()
    header = "face, confidence, " + ", ".join(AU_COLUMNS)
    for i, png in enumerate(sorted(images.glob("*.png"))):
        value = 0.5 + (i * 7 % 9) / 2
        (csvs / f"{png.stem}.csv").write_text(f"{header}\n0, 0.9, " + ", ".join([f"{value:.2f}"] * 17) + "\n")
    for key in ("keep_seed0_0003", "keep_seed0_0010"):  # OpenFace found no face: a header and no row
        (csvs / f"{key}.csv").write_text(f"{header}\n")
    results = evaluate_run(run, estimator="openface", openface_csv=csvs, device="cpu", rounds=20, loader=load_standin)
    estimator = results["meta"]["evaluators"]["estimator"]
    assert estimator["kind"] == "openface" and estimator["failures"]["no_face"] == 2  # counted after scoring, not 0
    keep = next(r for r in results["rows"] if r["label"] == "keep")["seeds"]["0"]
    assert keep["estimator_failures"] == 2 and keep["au"]["vs_estimator"]["n_used"] == 30
    caption = expression_table(results).caption
    assert "Pairs excluded because the estimator read no face in an image (summed over seeds): keep 2;" in caption
    clean = {"rows": [{"label": "keep", "seeds": {"0": {"estimator_failures": 0}}},
                      {"label": "Real", "seeds": {}, "summary": {"estimator_failures": 0}}]}
    assert excluded_sentence(clean) == "No pair was excluded for an image the estimator could not read."
    # the CSVs cover the exported translations only: Eq. 8's frames cannot be read, and the summary says so
    assert "never exported" in keep["interpolation"]["skipped"]


def test_runs_trained_on_different_data_are_refused(tmp_path: Path, tiny_dataset: Path) -> None:
    run = fake_run(tmp_path / "run", tiny_dataset, {"keep": 1, "paste": 1})
    folder = run / "train" / "paste" / "seed0"
    payload = load_checkpoint(folder / "checkpoint.pt")
    payload["config"]["data"]["image_size"] = 64
    save_checkpoint(folder / "checkpoint.pt", payload)
    (folder / "config.json").write_text(json.dumps(payload["config"]))
    with pytest.raises(ConfigError, match="paste/seed0 was trained on other data than keep/seed0"):
        evaluate_run(run, device="cpu", loader=load_standin)


def test_aggregate_is_the_mean_and_sample_std_over_seeds() -> None:
    """Three seeds' summaries: every figure's mean and its sample standard deviation (n - 1), from
    the seeds where it is defined (a seed without PCC leaves that seed out)."""
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 5, (30, 17))
    summaries = []
    for k, (noise, accepted) in enumerate(((0.5, 0.9), (1.0, 0.8), (2.0, 0.6))):
        p = y + rng.normal(0, noise, y.shape)
        if k == 2:
            p[:, 0] = 1.0  # no PCC for AU01 in this seed
        table = au_agreement(y, p, rounds=0)
        genuine = np.r_[np.full(int(100 * accepted), 0.9), np.full(100 - int(100 * accepted), 0.1)]
        summaries.append({"au": {"vs_estimator": table, "vs_labels": table},
                          "verification": verification(genuine, np.full(10, 0.1), 0.5)})
    result = aggregate(summaries)
    mse = [s["au"]["vs_labels"]["avg"]["mse"]["value"] for s in summaries]
    assert result["n_seeds"] == 3
    assert result["au"]["vs_labels"]["avg"]["mse"] == {"mean": pytest.approx(statistics.mean(mse)),
                                                      "std": pytest.approx(statistics.stdev(mse)), "n_aus": 17}
    au01 = [s["au"]["vs_labels"]["per_au"]["pcc"]["AU01"] for s in summaries[:2]]
    assert result["au"]["vs_labels"]["per_au"]["pcc"]["AU01"] == {
        "mean": pytest.approx(statistics.mean(au01)), "std": pytest.approx(statistics.stdev(au01))}
    assert result["au"]["vs_labels"]["avg"]["pcc"]["n_aus"] == 16
    assert result["verification"]["accuracy"] == {"mean": pytest.approx(0.7667, abs=1e-4),
                                                  "std": pytest.approx(statistics.stdev([0.9, 0.8, 0.6]))}
    one = aggregate(summaries[:1])
    assert one["verification"]["accuracy"] == {"mean": 0.9, "std": None}  # one seed: no spread to report
