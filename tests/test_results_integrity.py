"""Results that stay true (issue 23): results.json is written whole by the one process that holds
the run folder, `evaluate` keeps what it does not compute, no stale table survives a new
evaluation, and a model stays tied to the data and the config it was trained with.

Every case goes through the console script's ``main`` as a user types it: exit status, the one
line, and the files left as they were. One toy benchmark (2 steps) is shared by the module; a test
that changes it works on a copy, and one that changes its data puts the data back.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from folder_state import snapshot
from PIL import Image
from test_bad_input import cli, one_line_error

from eggan.cli.pipeline import BenchConfig, run_benchmark
from eggan.core.checkpoint import load_checkpoint
from eggan.core.registry import REGISTRY
from eggan.core.train import resolve_config, train_run
from eggan.data.aus import AU_COLUMNS
from eggan.data.dataset import load_dataset
from eggan.data.landmarks import LANDMARKS_NAME
from evaluate.au import LEARNED_SETTINGS
from evaluate.identity import INDOMAIN_SETTINGS
from evaluate.lightcnn import build_lightcnn

TESTS = Path(__file__).parent
RUN_ARGS = ["--methods", "toy", "--preset", "smoke", "--device", "cpu", "--per-expression", "4", "--set",
            "train.steps=2", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def toy_registered() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REGISTRY, "toy", "toy_method:ToyMethod")
        patch.setitem(LEARNED_SETTINGS, "epochs", 2)  # the machinery, not the evaluators' accuracy
        patch.setitem(INDOMAIN_SETTINGS, "epochs", 2)
        yield


def bench(data: Path) -> BenchConfig:
    """What `eggan-bench run RUN_ARGS --data DATA` runs."""
    return BenchConfig(methods=["toy"], preset="smoke", data=str(data), device="cpu", per_expression=4,
                       overrides=["train.steps=2"])


@pytest.fixture(scope="module")
def data(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's own copy of the tiny dataset (some tests change it, and put it back)."""
    return Path(shutil.copytree(tiny_dataset, tmp_path_factory.mktemp("integrity") / "data"))


@pytest.fixture(scope="module")
def toy_run(data: Path) -> Path:
    """A finished toy benchmark: train/toy/seed0, results.json with throughput and examples, report."""
    out = data.parent / "run"
    run_benchmark(bench(data), out, progress=False, log=lambda _msg: None)
    return out


@pytest.fixture
def run(toy_run: Path, tmp_path: Path) -> Path:
    """A copy of the toy benchmark that a test may change (its models still read the shared data)."""
    return Path(shutil.copytree(toy_run, tmp_path / "run"))


def results(run: Path) -> dict:
    return json.loads((run / "results.json").read_text())


@contextmanager
def changed_data(data: Path) -> Iterator[tuple[str, str]]:
    """One image of the shared dataset repainted (index unchanged); yields the fingerprints before
    and after, and puts the image back."""
    image = data / "images" / "id01_sad.png"
    original = image.read_bytes()
    before = load_dataset(data, 32).fingerprint()
    Image.fromarray(np.full((32, 32, 3), 200, dtype=np.uint8)).save(image)
    try:
        yield before, load_dataset(data, 32).fingerprint()
    finally:
        image.write_bytes(original)


# --- results.json: one writer, merged, whole -------------------------------------------------------


def test_evaluate_keeps_every_part_it_does_not_compute(capsys: pytest.CaptureFixture[str], run: Path) -> None:
    before = results(run)
    assert before["examples"]["generated"]["toy"] and before["throughput"]["toy"]["batches"]
    on_disk = {**before, "ground_truth": {"added by": "another command"}}
    (run / "results.json").write_text(json.dumps(on_disk))
    (run / "figures" / "comparison.png").unlink()
    assert cli(capsys, "evaluate", "--run", run, "--device", "cpu")[0] == 0
    after = results(run)
    assert after["examples"] == before["examples"] and after["throughput"] == before["throughput"]
    assert after["ground_truth"] == {"added by": "another command"}
    assert [r["label"] for r in after["rows"]] == [r["label"] for r in before["rows"]]
    assert (run / "figures" / "comparison.png").stat().st_size > 1000  # the figures are rebuilt from the file


def test_examples_made_from_other_checkpoints_are_dropped_with_a_message(capsys: pytest.CaptureFixture[str],
                                                                         run: Path) -> None:
    on_disk = results(run)
    on_disk["examples"]["checkpoint_steps"]["toy"] = 1  # as if made before the last training step
    (run / "results.json").write_text(json.dumps(on_disk))
    code, lines = cli(capsys, "evaluate", "--run", run, "--device", "cpu")
    assert code == 0
    assert "examples: made from other checkpoints (toy at step 1, scored at 2); dropped, `eggan-bench run` makes it " \
           "again" in lines
    assert "examples" not in results(run) and not (run / "figures" / "comparison.png").exists()
    assert cli(capsys, "run", *RUN_ARGS, "--data", results(run)["meta"]["dataset"]["root"], "--out", run)[0] == 0
    assert results(run)["examples"]["checkpoint_steps"] == {"toy": 2}


def hold(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from eggan.core.lock import locked_dir\n"
         "with locked_dir(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()", str(folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("args", [["evaluate", "--run", "{run}"], ["report", "{run}"],
                                  ["throughput", "--run", "{run}"],
                                  ["evaluate", "--run", "{run}", "--export-images", "{run}/images"]],
                         ids=lambda a: " ".join(a[:1] + a[3:4]))
def test_commands_that_write_results_refuse_a_folder_in_use(capsys: pytest.CaptureFixture[str], run: Path,
                                                             args: list[str]) -> None:
    holder = hold(run)
    try:
        before = snapshot(run)
        one_line_error(cli(capsys, *[a.replace("{run}", str(run)) for a in args], *(
            ["--device", "cpu"] if args[0] != "report" else [])),
            f"{run}: in use by pid {holder.pid} on {socket.gethostname()} since ",
            "wait for it to finish (it writes results.json and the tables itself), then run this again")
        assert snapshot(run) == before
    finally:
        holder.communicate("", timeout=60)


def test_evaluate_against_a_training_run_is_refused_and_the_run_ends_whole(capsys: pytest.CaptureFixture[str],
                                                                           data: Path, tmp_path: Path) -> None:
    """A real `run` trains in another process; `evaluate` on its folder meanwhile is refused and
    writes nothing; the run's results.json then holds every row, its throughput and its examples."""
    out = tmp_path / "run"
    script = ("import sys\nfrom eggan.core.registry import REGISTRY\nREGISTRY['toy'] = 'toy_method:ToyMethod'\n"
              "from evaluate.au import LEARNED_SETTINGS\nfrom evaluate.identity import INDOMAIN_SETTINGS\n"
              "LEARNED_SETTINGS['epochs'] = INDOMAIN_SETTINGS['epochs'] = 2\n"  # the module's cached evaluators
              "from eggan.cli.main import main\nsys.argv = ['eggan-bench', *sys.argv[1:]]\nmain()\n")
    args = [a if a != "train.steps=2" else "train.steps=60" for a in RUN_ARGS]
    training = subprocess.Popen([sys.executable, "-c", script, "run", *args, "--data", str(data), "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
                                     "COLUMNS": "200"})
    try:
        for line in training.stdout:
            if "[2/6] train toy seed 0" in line:
                break
        assert not (out / "results.json").exists()
        one_line_error(cli(capsys, "evaluate", "--run", out, "--device", "cpu"), f"{out}: in use by pid {training.pid}")
        assert not (out / "results.json").exists() and not (out / "eval").exists()
        rest = training.communicate(timeout=600)[0]
    finally:
        training.kill()
    assert training.returncode == 0, rest
    final = results(out)
    assert [r["label"] for r in final["rows"]] == ["Source (no edit)", "toy", "Real"]
    assert final["rows"][1]["checkpoint_steps"] == {"0": 60}
    assert final["examples"]["checkpoint_steps"] == {"toy": 60} and final["throughput"]["toy"]


# --- no stale tables ---------------------------------------------------------------------------------


def test_an_evaluation_with_another_estimator_removes_the_interpolation_table(
        capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path) -> None:
    """OpenFace CSVs cover the exported images only, so Eq. 8's frames are not read: the old
    interpolation table (from the learned estimator) must not stay next to the new tables."""
    assert (run / "tables" / "interpolation.md").is_file()
    images, csvs = tmp_path / "images", tmp_path / "csv"
    assert cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--export-images", images)[0] == 0
    csvs.mkdir()
    header = "face, confidence, " + ", ".join(AU_COLUMNS)
    for i, png in enumerate(sorted(images.glob("*.png"))):
        (csvs / f"{png.stem}.csv").write_text(f"{header}\n0, 0.9, " + ", ".join([f"{i % 5}.0"] * 17) + "\n")
    code, lines = cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--estimator", "openface",
                      "--openface-csv", csvs)
    assert code == 0
    assert f"{run / 'tables' / 'interpolation.md'}: removed; the current results.json no longer supports it" in lines
    assert not (run / "tables" / "interpolation.md").exists() and not (run / "tables" / "interpolation.tex").exists()
    assert "OpenFace" in (run / "tables" / "expression.md").read_text()


def test_report_removes_only_the_tables_and_figures_the_results_no_longer_support(
        capsys: pytest.CaptureFixture[str], run: Path) -> None:
    on_disk = results(run)
    del on_disk["examples"]
    (run / "results.json").write_text(json.dumps(on_disk))
    (run / "tables" / "notes.txt").write_text("mine")
    code, lines = cli(capsys, "report", run)
    assert code == 0
    assert sorted(p.name for p in (run / "figures").iterdir()) == ["per_au.png"]  # no examples: no image figures
    assert f"{run / 'figures' / 'comparison.png'}: removed; the current results.json no longer supports it" in lines
    assert (run / "tables" / "notes.txt").read_text() == "mine" and (run / "tables" / "expression.md").is_file()


# --- models stay tied to their data and config -----------------------------------------------------------


def refused(trained: str, now: str) -> str:
    return f"trained on data with fingerprint {trained}, but the data is now {now}"


def files(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``folder`` with its mtime and hash (a lock taken and given back changes
    only its folder's mtime)."""
    return {name: state for name, state in snapshot(folder).items() if state[1]}


def test_train_refuses_to_resume_on_other_data_unless_allowed(capsys: pytest.CaptureFixture[str], data: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "train"
    train_run(resolve_config("toy", "smoke", str(data), ["train.steps=4"], "cpu"), out, until=2)  # stopped at 2 of 4
    train = ["train", "--method", "toy", "--preset", "smoke", "--data", data, "--out", out, "--no-progress",
             "--device", "cpu", "--set", "train.steps=4"]
    with changed_data(data) as (trained, now):
        assert trained != now
        before = files(out)
        one_line_error(cli(capsys, *train), f"{out / 'checkpoint.pt'}: {refused(trained, now)}",
                       "--fresh to start again", "--allow-other-data")
        assert files(out) == before
        code, lines = cli(capsys, *train, "--allow-other-data")
        assert code == 0 and f"{out / 'checkpoint.pt'}: trained on data {trained}, going on with {now} (allowed; " \
                              "recorded in the checkpoint)" in lines
        record = load_checkpoint(out / "checkpoint.pt")["dataset"]
        assert record == {"name": "data", "fingerprint": now, "earlier": [trained]}


def test_run_and_evaluate_refuse_models_trained_on_other_data(capsys: pytest.CaptureFixture[str], run: Path,
                                                              data: Path) -> None:
    with changed_data(data) as (trained, now):
        before = snapshot(run)
        one_line_error(cli(capsys, "run", *RUN_ARGS, "--data", data, "--out", run),
                       f"toy/seed0/checkpoint.pt: {refused(trained, now)}", "another --out to start again")
        one_line_error(cli(capsys, "evaluate", "--run", run, "--device", "cpu"),
                       f"toy/seed0/checkpoint.pt: {refused(trained, now)}")
        assert snapshot(run) == before
        assert cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--allow-other-data")[0] == 0
        on_disk = results(run)
        assert on_disk["meta"]["dataset"]["other_data"] == {
            "toy seed 0": {"trained_on": trained, "earlier": [], "scored_on": now}}
        for table in ("expression.md", "identity.md", "expression.tex"):
            text = (run / "tables" / table).read_text().replace("\\_", "_")
            assert f"WARNING: models trained wholly or partly on other data than the data scored here ({now}): " \
                   f"toy seed 0 (trained on {trained}); allowed with --allow-other-data." in " ".join(text.split())


def test_a_hand_edited_config_json_is_reported_and_nothing_runs_on_it(capsys: pytest.CaptureFixture[str],
                                                                       run: Path, data: Path) -> None:
    path = run / "train" / "toy" / "seed0" / "config.json"
    config = json.loads(path.read_text())
    config["train"]["steps"] = 999
    path.write_text(json.dumps(config))
    before = snapshot(run)
    message = (f"{path}: differs from the checkpoint's own config (train.steps: 999 in config.json, 2 in the "
               "checkpoint): edited by hand or copied from another run; delete it: the next `train` or `run` writes "
               "it again from the checkpoint")
    one_line_error(cli(capsys, "run", *RUN_ARGS, "--data", data, "--out", run), message)
    one_line_error(cli(capsys, "evaluate", "--run", run, "--device", "cpu"), message)
    one_line_error(cli(capsys, "train", "--method", "toy", "--preset", "smoke", "--data", data, "--out", path.parent,
                       "--device", "cpu", "--set", "train.steps=2"), message)
    assert files(run) == {name: state for name, state in before.items() if state[1]}
    path.unlink()
    assert cli(capsys, "run", *RUN_ARGS, "--data", data, "--out", run)[0] == 0
    assert json.loads(path.read_text())["train"]["steps"] == 2  # written again from the checkpoint


# --- evaluators and their inputs, checked before anything runs ----------------------------------------------


def test_missing_openface_csvs_are_counted_as_files(capsys: pytest.CaptureFixture[str], run: Path,
                                                    tmp_path: Path) -> None:
    images, csvs = tmp_path / "images", tmp_path / "csv"
    assert cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--export-images", images)[0] == 0
    csvs.mkdir()
    names = sorted(p.stem for p in images.glob("*.png"))
    for name in names:
        (csvs / f"{name}.csv").write_text("face, confidence, " + ", ".join(AU_COLUMNS) + "\n0, 0.9" + ", 1.0" * 17)
    removed = [names[i] for i in (3, 40, 70, 80, 95)]  # spread over the batches of every row
    for name in removed:
        (csvs / f"{name}.csv").unlink()
    before = snapshot(run)
    one_line_error(cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--estimator", "openface",
                       "--openface-csv", csvs),
                   f"{csvs}: 5 of the {len(names)} OpenFace CSV files this evaluation reads are missing (first: "
                   "target_0008.csv)")  # the targets are read first
    assert len(names) == 3 * 32 and snapshot(run) == before


def random_lightcnn9(path: Path, seed: int = 0) -> Path:
    """A LightCNN-9 of the right shape with random weights, laid out as the released files are."""
    torch.manual_seed(seed)
    state = build_lightcnn("lightcnn-9", num_classes=None).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path


def test_weights_of_unknown_origin_are_refused_unless_accepted_and_then_captioned(
        capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path) -> None:
    weights = random_lightcnn9(tmp_path / "LightCNN_9Layers_checkpoint.pth.tar")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    before = snapshot(run)
    evaluate = ["evaluate", "--run", run, "--device", "cpu", "--verifier", "lightcnn-9", "--weights", weights]
    one_line_error(cli(capsys, *evaluate), f"{weights}: sha256 {digest}: there is no published checksum of the "
                                           "released lightcnn-9 file", "--accept-unverified-weights")
    assert snapshot(run) == before
    assert cli(capsys, *evaluate, "--accept-unverified-weights")[0] == 0
    caption = " ".join((run / "tables" / "identity.md").read_text().split())
    assert f"Verifier: LightCNN-9, unverified weights (sha256 {digest} matches no published checksum of the released " \
           "file; accepted with --accept-unverified-weights)" in caption


def test_a_run_folder_keeps_its_lightcnn_weights_unless_a_change_is_accepted(
        capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path) -> None:
    """Evaluated with one LightCNN-9 file, the folder refuses another (same variant, same name) in
    one line naming the new file and both sha256s, writing nothing; --accept-new-weights rescores
    with it, and results.json and the caption then name the new file's sha256."""
    first = random_lightcnn9(tmp_path / "a" / "LightCNN_9Layers_checkpoint.pth.tar")
    second = random_lightcnn9(tmp_path / "b" / "LightCNN_9Layers_checkpoint.pth.tar", seed=1)
    old, new = (hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second))

    def evaluate(weights: Path, *more: str) -> tuple[int, list[str]]:
        return cli(capsys, "evaluate", "--run", run, "--device", "cpu", "--verifier", "lightcnn-9", "--weights",
                   weights, "--accept-unverified-weights", *more)

    assert evaluate(first)[0] == 0
    assert results(run)["meta"]["evaluators"]["verifier"]["sha256"] == old
    before = snapshot(run)
    one_line_error(evaluate(second), f"{second}: sha256 {new} (lightcnn-9) differs from {old} (LightCNN-9, {first}), "
                                     "the weights this run folder was evaluated with", "pass --accept-new-weights")
    assert snapshot(run) == before
    assert evaluate(second, "--accept-new-weights")[0] == 0
    assert results(run)["meta"]["evaluators"]["verifier"]["sha256"] == new
    assert f"sha256 {new}" in " ".join((run / "tables" / "identity.md").read_text().split())
    assert evaluate(second)[0] == 0  # the folder now records the new file: no flag needed again


def test_with_landmarks_in_the_dataset_evaluate_aligns_the_faces_and_says_so(
        capsys: pytest.CaptureFixture[str], run: Path, data: Path, tmp_path: Path) -> None:
    """The same run evaluated after the dataset gained a landmarks.csv (the data's fingerprint is
    its index and pixels, so the trained model still belongs to it): results.json and Table 2 say
    the faces were aligned by the landmarks; before, that they were the dataset's own crop."""
    weights = random_lightcnn9(tmp_path / "LightCNN_9Layers_checkpoint.pth.tar")
    evaluate = ["evaluate", "--run", run, "--device", "cpu", "--verifier", "lightcnn-9", "--weights", weights,
                "--accept-unverified-weights"]
    assert cli(capsys, *evaluate)[0] == 0
    verifier = results(run)["meta"]["evaluators"]["verifier"]
    assert verifier["aligned"] is False and verifier["alignment"].startswith("none: the dataset's own crop")
    paths = list(pd.read_csv(data / "index.csv")["path"])
    width, height = Image.open(data / paths[0]).size
    points = [0.3 * width, 0.4 * height, 0.7 * width, 0.4 * height, 0.5 * width, 0.55 * height,
              0.35 * width, 0.75 * height, 0.65 * width, 0.75 * height]
    pd.DataFrame([[p, width, height, *points] for p in paths], columns=[
        "path", "width", "height", *(f"{n}_{a}" for n in ("right_eye", "left_eye", "nose", "mouth_right",
                                                          "mouth_left") for a in "xy")]
    ).to_csv(data / LANDMARKS_NAME, index=False)
    try:
        assert cli(capsys, *evaluate)[0] == 0
    finally:
        (data / LANDMARKS_NAME).unlink()
    verifier = results(run)["meta"]["evaluators"]["verifier"]
    assert verifier["aligned"] is True
    caption = " ".join((run / "tables" / "identity.md").read_text().split())
    assert "face alignment: 5-point similarity alignment by the OpenFace landmarks" in caption
    assert "a generated image uses its source's landmarks" in caption


@pytest.mark.parametrize(("args", "message"), [
    (["--verifier", "lightcnn-9", "--weights", "/missing/weights.pth.tar"],
     "/missing/weights.pth.tar: no lightcnn-9 weights; run `eggan-bench weights fetch lightcnn-9`"),
    (["--weights", "/missing/weights.pth.tar"], "the indomain verifier trains its own weights"),
    (["--estimator", "openface", "--openface-csv", "/missing/csvs"],
     "/missing/csvs: OpenFace CSV folder does not exist (--openface-csv)"),
    (["--estimator", "openface"], "OpenFace (FaceLandmarkImg or FeatureExtraction) not found"),
], ids=["missing weights", "weights for indomain", "missing CSV folder", "no OpenFace binary"])
def test_every_input_of_run_is_checked_before_training(capsys: pytest.CaptureFixture[str], data: Path,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       args: list[str], message: str) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no OpenFace binary anywhere
    one_line_error(cli(capsys, "run", *RUN_ARGS, "--data", data, "--out", tmp_path / "out", *args), message)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_cached_evaluator_is_trained_again_with_a_message(capsys: pytest.CaptureFixture[str],
                                                                      run: Path) -> None:
    cached = Path(results(run)["meta"]["evaluators"]["estimator"]["weights"])
    good = cached.read_bytes()
    cached.write_bytes(good[:1000])
    try:
        code, lines = cli(capsys, "evaluate", "--run", run, "--device", "cpu")
        assert code == 0
        assert f"warning: {cached}: the cached au-regressor is truncated, corrupt or not a cached au-regressor; " \
               "training it again" in lines
        rebuilt = torch.load(cached, weights_only=True)["state_dict"]
        original = torch.load(io.BytesIO(good), weights_only=True)["state_dict"]
        assert rebuilt.keys() == original.keys() and all(torch.equal(rebuilt[k], original[k]) for k in rebuilt)
    finally:
        cached.write_bytes(good)


# --- report: results.json validated before anything is written --------------------------------------------------


def seed_block(on_disk: dict, label: str) -> dict:
    return next(r for r in on_disk["rows"] if r["label"] == label)["seeds"]["0"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: seed_block(r, "toy")["au"]["vs_estimator"]["avg"]["pcc"].__setitem__("value", float("inf")),
     "rows['toy'].seeds.0.au.vs_estimator.avg.pcc.value is inf; every figure must be a finite number, or null for n/a"),
    (lambda r: seed_block(r, "toy")["verification"].__setitem__("accuracy", "0.9"),
     "rows['toy'].seeds.0.verification.accuracy is '0.9', not a number; every figure must be a number, or null"),
    (lambda r: r["rows"].insert(2, r["rows"][1]), "row label 'toy' appears twice; each row needs its own label"),
    (lambda r: seed_block(r, "toy")["au"]["vs_labels"]["per_au"]["mse"].__setitem__("AU12", float("nan")),
     "rows['toy'].seeds.0.au.vs_labels.per_au.mse.AU12 is nan"),
    (lambda r: r["rows"][1].__setitem__("label", 7), "row #1 has a label or kind that is not a string (7, 'method')"),
], ids=["inf", "string", "duplicate label", "NaN", "label not a string"])
def test_report_refuses_a_results_file_that_would_print_false_tables(capsys: pytest.CaptureFixture[str], run: Path,
                                                                     change, message: str) -> None:
    on_disk = results(run)
    change(on_disk)
    (run / "results.json").write_text(json.dumps(on_disk))
    before = snapshot(run)
    one_line_error(cli(capsys, "report", run), f"{run / 'results.json'}: {message}")
    assert snapshot(run) == before
