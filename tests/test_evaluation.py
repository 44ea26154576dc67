from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from standins import KeepSource, PasteTarget, standin

from eggan.core.checkpoint import load_checkpoint, save_checkpoint
from eggan.core.provenance import dataset_record
from eggan.data.aus import AU_COLUMNS
from eggan.data.config import DataConfig
from eggan.data.dataset import load_dataset
from eggan.errors import ConfigError, DataError
from evaluate.au import LEARNED_SETTINGS
from evaluate.evaluation import SOURCE_ROW, evaluate_run, export_images, run_throughput
from evaluate.identity import INDOMAIN_SETTINGS


def _fake_run(root: Path, dataset: Path, labels: dict[str, int]) -> Path:
    """A benchmark directory as `eggan-bench run` lays it out (config.json + checkpoint.pt, which
    records its config and the fingerprint of the data it learned from)."""
    fingerprint = load_dataset(dataset, 32).fingerprint()
    for label, seeds in labels.items():
        for k in range(seeds):
            folder = root / "train" / label / f"seed{k}"
            folder.mkdir(parents=True)
            config = {"method": label, "data": asdict(DataConfig(source=str(dataset), image_size=32))}
            (folder / "config.json").write_text(json.dumps(config))
            save_checkpoint(folder / "checkpoint.pt", {"method": label, "image_size": 32, "step": 7, "config": config,
                                                       "dataset": dataset_record(fingerprint, dataset.name)})
    return root


def _loader(path: Path, device: torch.device):
    kind = PasteTarget if "paste" in str(path) else KeepSource
    return standin(kind, 32)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(LEARNED_SETTINGS, "epochs", 2)  # the machinery, not the evaluators' accuracy
    monkeypatch.setitem(INDOMAIN_SETTINGS, "epochs", 2)
    return tmp_path / "cache"


def test_evaluate_run_writes_every_file_and_the_rows_make_sense(tmp_path: Path, tiny_dataset: Path, cache) -> None:
    run = _fake_run(tmp_path / "run", tiny_dataset, {"keep": 2, "paste": 1})
    messages: list[str] = []
    results = evaluate_run(run, device="cpu", rounds=50, loader=_loader, log=messages.append)
    for rel in ("eval/pairs.csv", "eval/evaluators.json", "eval/keep/seed0/pairs.csv", "eval/keep/seed1/summary.json",
                "eval/paste/seed0/pairs.csv", "results.json"):
        assert (run / rel).is_file(), rel
    on_disk = json.loads((run / "results.json").read_text())
    assert [r["label"] for r in on_disk["rows"]] == [SOURCE_ROW, "keep", "paste", "Real"]
    rows = {r["label"]: r for r in results["rows"]}
    # Keeping the source is exactly the "Source (no edit)" row; pasting the target is exactly "Real".
    keep, paste = rows["keep"]["seeds"]["0"], rows["paste"]["seeds"]["0"]
    assert keep["au"]["vs_labels"]["avg"] == rows[SOURCE_ROW]["summary"]["au"]["vs_labels"]["avg"]
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
    evaluate_run(run, device="cpu", rounds=50, loader=_loader, log=messages.append)
    assert sum("skipped" in m for m in messages) == 3


def test_a_directory_without_trained_runs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no trained runs"):
        evaluate_run(tmp_path, device="cpu")


def test_throughput_of_a_run_lands_in_results(tmp_path: Path, tiny_dataset: Path) -> None:
    run = _fake_run(tmp_path / "run", tiny_dataset, {"keep": 1})
    (run / "results.json").write_text(json.dumps({"rows": [], "throughput": None}))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        measured = run_throughput(run, device="cpu", loader=_loader)
    finally:
        torch.set_num_threads(threads)
    assert [b["batch_size"] for b in measured["keep"]["batches"]] == [1, 8, 32]
    assert json.loads((run / "results.json").read_text())["throughput"]["keep"]["threads"] == 1


def test_export_then_score_with_openface_csvs(tmp_path: Path, tiny_dataset: Path, cache) -> None:
    """The OpenFace round trip: export keyed images, 'run OpenFace' (CSVs written here), evaluate."""
    run = _fake_run(tmp_path / "run", tiny_dataset, {"keep": 1})
    images = tmp_path / "images"
    count = export_images(run, images, device="cpu", loader=_loader)
    assert count == 3 * 32 and (images / "keep_seed0_0031.png").is_file() and (images / "target_0000.png").is_file()
    csvs = tmp_path / "csv"
    csvs.mkdir()
    header = "face, confidence, " + ", ".join(AU_COLUMNS)
    for i, png in enumerate(sorted(images.glob("*.png"))):
        value = 0.5 + (i * 7 % 9) / 2
        (csvs / f"{png.stem}.csv").write_text(f"{header}\n0, 0.9, " + ", ".join([f"{value:.2f}"] * 17) + "\n")
    results = evaluate_run(run, estimator="openface", openface_csv=csvs, device="cpu", rounds=20, loader=_loader)
    assert results["meta"]["evaluators"]["estimator"]["kind"] == "openface"
    keep = next(r for r in results["rows"] if r["label"] == "keep")["seeds"]["0"]
    assert keep["estimator_failures"] == 0 and keep["au"]["vs_estimator"]["n_used"] == 32
    # the CSVs cover the exported translations only: Eq. 8's frames cannot be read, and the summary says so
    assert "never exported" in keep["interpolation"]["skipped"]


def test_runs_trained_on_different_data_are_refused(tmp_path: Path, tiny_dataset: Path) -> None:
    run = _fake_run(tmp_path / "run", tiny_dataset, {"keep": 1, "paste": 1})
    folder = run / "train" / "paste" / "seed0"
    payload = load_checkpoint(folder / "checkpoint.pt")
    payload["config"]["data"]["image_size"] = 64
    save_checkpoint(folder / "checkpoint.pt", payload)
    (folder / "config.json").write_text(json.dumps(payload["config"]))
    with pytest.raises(ConfigError, match="paste/seed0 was trained on other data than keep/seed0"):
        evaluate_run(run, device="cpu", loader=_loader)
