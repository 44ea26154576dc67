"""`eggan-bench run --preset smoke` end to end: tables with the right rows and columns, numbers that
come from the run, a report rebuilt from results.json alone, a rerun that changes nothing, and
bad input refused before any training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from folder_state import snapshot
from PIL import Image
from typer.testing import CliRunner

from eggan.cli.main import app
from eggan.cli.pipeline import BenchConfig, plan, run_benchmark
from eggan.core.imageops import blur
from eggan.data.dataset import load_dataset
from eggan.data.ideal import IdealRenderer
from eggan.errors import ConfigError, DataError
from evaluate.evaluation import image_keys
from evaluate.export import export_images
from evaluate.groundtruth import pair_scores
from evaluate.run_data import find_runs
from reports.report import build_report

SMOKE = BenchConfig(methods=["eggan", "stargan"], ablations=True, preset="smoke", device="cpu", examples=4,
                    interpolation_steps=4)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke benchmark (EGGAN, its three ablations and StarGAN) shared by the tests below (its
    cache is the session's private one, conftest.private_environment)."""
    out = tmp_path_factory.mktemp("bench") / "smoke"
    run_benchmark(SMOKE, out, progress=False, log=lambda _msg: None)
    return out


def test_run_writes_results_tables_and_figures(smoke_run: Path) -> None:
    results = json.loads((smoke_run / "results.json").read_text())
    labels = [row["label"] for row in results["rows"]]
    assert labels == ["Source (no edit)", "eggan", "eggan-wtI", "eggan-wtP", "eggan-wtS", "stargan", "Ideal",
                      "Ideal, blurred 1 px", "Real"]
    for name in ("expression", "identity", "ablation", "throughput", "ground_truth", "ground_truth_expressions"):
        assert (smoke_run / "tables" / f"{name}.md").is_file() and (smoke_run / "tables" / f"{name}.tex").is_file()
    for name in ("comparison", "interpolation", "ablation", "per_au", "edit_maps", "learning_curves"):
        assert (smoke_run / "figures" / f"{name}.png").stat().st_size > 1000
    assert (smoke_run / "bench.json").is_file() and (smoke_run / "meta.json").is_file()
    train_meta = json.loads((smoke_run / "train" / "eggan-wtP" / "seed0" / "meta.json").read_text())
    assert train_meta["method"]["ablations"]["no_perceptual"] is True


def test_tables_carry_the_runs_numbers(smoke_run: Path) -> None:
    results = json.loads((smoke_run / "results.json").read_text())
    markdown = (smoke_run / "tables" / "expression.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| Metric"))
    assert [c.strip() for c in header.strip("|").split("|")][2:] == [*results["au_names"], "Avg"]
    eggan = next(r for r in results["rows"] if r["label"] == "eggan")
    avg = eggan["seeds"]["0"]["au"]["vs_estimator"]["avg"]["mse"]["value"]
    row = next(line for line in markdown.splitlines() if line.startswith("| MSE") and "| EGGAN " in line)
    assert f"{avg:.3f}" in row.split("|")[-2]
    identity = (smoke_run / "tables" / "identity.md").read_text()
    accuracy = 100 * eggan["seeds"]["0"]["verification"]["accuracy"]
    assert f"{accuracy:.2f}" in next(line for line in identity.splitlines() if "| EGGAN " in line)
    assert "random VGG19" in markdown  # smoke runs without ImageNet weights say so in every table


def test_the_ground_truth_table_is_the_mean_of_the_per_pair_scores(smoke_run: Path) -> None:
    """The edit score of each row, recomputed here from its per-pair CSV; SynthFACS rows only."""
    table = (smoke_run / "tables" / "ground_truth.md").read_text()
    for label, folder, name in (("stargan", "stargan/seed0", "StarGAN"), ("Ideal", "reference/ideal", "Ideal"),
                                ("Source (no edit)", "reference/source", "Source (no edit)")):
        frame = pd.read_csv(smoke_run / "eval" / folder / "pairs.csv")
        edit = frame["gt_edit"].dropna().mean()
        line = next(line for line in table.splitlines() if line.startswith(f"| {name} "))
        assert line.split("|")[2].strip().strip("*").startswith(f"{edit:.3f}"), label
    frame = pd.read_csv(smoke_run / "eval" / "reference" / "ideal" / "pairs.csv")
    assert np.allclose(frame["gt_edit"].dropna(), 1.0) and np.allclose(frame["gt_own_projection"].dropna(), 1.0)
    # learning curves: the training log holds the ground-truth monitor's readings at the last step
    curve = [json.loads(line) for line in (smoke_run / "train" / "eggan" / "seed0" / "metrics.jsonl").read_text()
             .splitlines() if "gt_edit" in line]
    assert curve and curve[-1]["step"] == 20 and set(curve[-1]) >= {"gt_edit", "gt_recon_psnr"}
    # ... and results.json carries them, so that the learning-curve figure rebuilds from it alone
    results = json.loads((smoke_run / "results.json").read_text())
    row = next(r for r in results["rows"] if r["label"] == "eggan")
    assert [p["step"] for p in row["learning_curves"]["0"]] == [c["step"] for c in curve]
    assert [p["gt_edit"] for p in row["learning_curves"]["0"]] == pytest.approx([c["gt_edit"] for c in curve])


def test_the_blurred_ideal_row_is_the_ideal_edit_and_its_source_blurred_alike(smoke_run: Path) -> None:
    """Recomputed here from the renders: the row's outputs are the ideal edits blurred by a 1 px
    Gaussian and its reconstructions the sources blurred the same way (a plain source would give an
    infinite reconstruction PSNR, an unblurred ideal an edit score of 1)."""
    results = json.loads((smoke_run / "results.json").read_text())
    dataset = load_dataset(results["meta"]["dataset"]["root"], results["meta"]["dataset"]["image_size"])
    frame = pd.read_csv(smoke_run / "eval" / "reference" / "ideal_blurred" / "pairs.csv")
    rows = {path: i for i, path in enumerate(dataset.table["path"])}
    source = dataset.batch(torch.tensor([rows[p] for p in frame["source_path"]]))
    target = dataset.batch(torch.tensor([rows[p] for p in frame["target_path"]]))
    ideal = IdealRenderer(dataset.root).render(list(frame["source_path"]), target.aus, list(frame["expression"]))
    sigma = torch.ones(len(frame))
    soft_source, soft_ideal = blur(source.image, sigma), blur(ideal.float() / 127.5 - 1, sigma)
    scores = pair_scores(source.image, ideal, soft_ideal, soft_source)
    for column in ("edit", "psnr", "recon_psnr", "own_projection"):
        assert np.allclose(frame[f"gt_{column}"], scores[column], atol=1e-3, equal_nan=True), column  # CSV: 5 digits
    assert 0 < np.nanmean(scores["edit"]) < 0.9 and np.isfinite(scores["recon_psnr"]).all()
    table = (smoke_run / "tables" / "ground_truth.md").read_text()
    assert next(line for line in table.splitlines() if line.startswith("| Ideal, blurred 1 px "))


def test_the_openface_export_writes_exactly_the_images_an_evaluation_looks_up(smoke_run: Path, tmp_path: Path
                                                                            ) -> None:
    """`evaluate --export-images` and `evaluate --estimator openface` must agree on every key, the
    Ideal rows' included (SynthFACS): a key written under another name is a pair OpenFace never read."""
    pairs = pd.read_csv(smoke_run / "eval" / "pairs.csv")
    count = export_images(smoke_run, tmp_path, device="cpu")
    written = sorted(path.stem for path in tmp_path.glob("*.png"))
    assert count == len(written)
    assert written == sorted(image_keys(find_runs(smoke_run), len(pairs), ideal=True))
    sharp, soft = (np.asarray(Image.open(tmp_path / f"{prefix}_0000.png"), dtype=float) for prefix in ("ideal",
                                                                                                      "idealblur"))
    assert 0 < np.abs(sharp - soft).mean() < 20  # the same face, blurred


def test_the_tables_compile_with_pdflatex(smoke_run: Path, tmp_path: Path, compile_latex) -> None:
    tables = sorted((smoke_run / "tables").glob("*.tex"))
    assert [t.stem for t in tables] == [
        "ablation", "expression", "expression_labels", "ground_truth", "ground_truth_expressions", "identity",
        "interpolation", "throughput"]
    compile_latex("\n".join(t.read_text() for t in tables), tmp_path)


def test_report_rebuilds_identically_from_results_json(smoke_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "results.json").write_bytes((smoke_run / "results.json").read_bytes())
    build_report(copy)
    for name in ("expression.md", "identity.tex", "ablation.md", "throughput.md"):
        assert (copy / "tables" / name).read_text() == (smoke_run / "tables" / name).read_text()


def test_rerun_of_a_finished_run_changes_nothing(smoke_run: Path) -> None:
    before = snapshot(smoke_run)
    messages: list[str] = []
    results = run_benchmark(SMOKE, smoke_run, progress=False, log=messages.append)
    assert snapshot(smoke_run) == before  # nothing trained, scored or written again
    assert messages == [f"{smoke_run}: already finished; nothing to train or score (delete results.json to score "
                        "again)"]
    assert results == json.loads((smoke_run / "results.json").read_text())


def test_bad_input_fails_before_training(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown method 'pix2pix'"):
        plan(BenchConfig(methods=["eggan", "pix2pix"]))
    with pytest.raises(DataError, match="no such dataset folder"):
        plan(BenchConfig(data=str(tmp_path / "missing")))
    with pytest.raises(ConfigError, match="add eggan"):
        plan(BenchConfig(methods=["stargan"], ablations=True))
    result = CliRunner().invoke(app, ["run", "--methods", "eggan,nope", "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and not (tmp_path / "r").exists()


def test_paper_preset_refuses_to_start_without_vgg_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torchvision cache
    monkeypatch.delenv("EGGAN_VGG19_WEIGHTS", raising=False)
    from eggan.errors import MissingComponentError

    with pytest.raises(MissingComponentError, match=r"vgg19-dcbb9e9d\.pth"):
        plan(BenchConfig(methods=["eggan"], preset="paper"))
