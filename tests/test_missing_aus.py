"""AUs a dataset does not code (DISFA's 7, 10, 14, 23, 45) are missing, never 0: the loader's
accept/refuse rules, the DISFA list reader's empty cells, and the coded set carried to the end."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
from openface_files import tiny_image
from PIL import Image
from scipy import stats
from standins import MeanColourAUs, colour_verifier, failed, fake_run, hand_aus, load_standin

from eggan.core.method import DataInfo, Method
from eggan.data.aus import AU_COLUMNS, DISFA_CODED_AUS
from eggan.data.dataset import PROVENANCE_NAME, load_dataset, read_index, validate_table, write_index
from eggan.data.disfa import ingest_disfa
from eggan.data.ingest import Record, SplitRule, copy_image, write_dataset
from eggan.errors import ConfigError, DataError
from evaluate import evaluation
from evaluate.au import LEARNED_SETTINGS
from evaluate.evaluation import evaluate_run
from evaluate.identity import INDOMAIN_SETTINGS
from evaluate.outside import export_protocol
from reports.report import build_report
from reports.results import NOT_CODED
from reports.tables import expression_table, interpolation_table, to_markdown

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


def test_data_info_carries_the_coded_aus_and_reads_older_checkpoints() -> None:
    info = DataInfo(32, 4, n_aus=12, coded_aus=list(DISFA_CODED_AUS))  # a list, as a checkpoint holds it
    assert info.coded_aus == DISFA_CODED_AUS and info.to_dict()["coded_aus"] == list(DISFA_CODED_AUS)
    assert DataInfo(**info.to_dict()) == info
    older = {"image_size": 32, "n_identities": 4, "n_aus": 17, "n_expressions": 8}  # before coded_aus existed
    assert DataInfo(**older).coded_aus == AU_COLUMNS
    with pytest.raises(ConfigError, match="n_aus 12 does not match the 17 coded AUs"):
        DataInfo(32, 4, n_aus=12)


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


# --- the coded set carried through training, evaluation, tables and the exported protocol ----------


def disfa_faces(tmp_path: Path, subjects: int = 6, frames: int = 8, size: int = 32) -> Path:
    """A DISFA list (the authors' 17 values a line, 0 where DISFA codes nothing) over random-texture
    faces, one base colour per subject, ingested with two test subjects."""
    generator = torch.Generator().manual_seed(0)
    images, lines = tmp_path / "aligned", []
    images.mkdir(parents=True)
    for s in range(1, subjects + 1):
        base = torch.rand(3, 1, 1, generator=generator)
        for f in range(frames):
            name = f"SN{s:03d}_{f:04d}.png"
            pixels = (base + 0.3 * torch.rand(3, size, size, generator=generator)).clamp(0, 1)
            Image.fromarray((pixels.permute(1, 2, 0) * 255).byte().numpy()).save(images / name)
            values = [round(float(torch.rand(1, generator=generator)) * 5, 2) if c in DISFA_CODED_AUS else 0
                      for c in AU_COLUMNS]
            lines.append(" ".join([name, *map(str, values)]))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    ingest_disfa(listing, images, tmp_path / "disfa", test_fraction=0.34)
    return tmp_path / "disfa"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(LEARNED_SETTINGS, "epochs", 2)  # the machinery, not the evaluators' accuracy
    monkeypatch.setitem(INDOMAIN_SETTINGS, "epochs", 2)
    return tmp_path / "cache"


def disfa_standin(path: Path, device: torch.device) -> Method:
    """``load_standin``'s methods as trained on DISFA: conditioned on its 12 coded AUs."""
    method = load_standin(path, device)
    method.info = DataInfo(image_size=32, n_identities=4, n_aus=12, coded_aus=DISFA_CODED_AUS)
    return method


CODED_NAMES = [c.removesuffix("_r") for c in DISFA_CODED_AUS]
UNCODED_NAMES = [c.removesuffix("_r") for c in UNCODED]


def test_evaluation_scores_and_averages_the_coded_aus_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AU figure against numpy on the 12 coded columns, computed from the images and the index
    alone (the stand-in estimator's numpy twin), never from what the evaluation wrote."""
    data = disfa_faces(tmp_path)
    run = fake_run(tmp_path / "run", data, {"keep": 1})
    monkeypatch.setattr(evaluation, "build_estimator", lambda *_args: MeanColourAUs())
    monkeypatch.setattr(evaluation, "build_verifier", lambda *_args: colour_verifier(32))
    results = evaluate_run(run, device="cpu", rounds=20, loader=disfa_standin, per_expression=4)
    assert results["coded_aus"] == CODED_NAMES and results["au_names"][5] == "AU07"
    assert "over the 12 AUs the dataset codes" in results["meta"]["protocol"]["average"]
    dataset = load_dataset(data, 32)
    pairs = pd.read_csv(run / "eval" / "pairs.csv")
    lookup = {path: i for i, path in enumerate(dataset.table["path"])}
    rows = {name: torch.tensor([lookup[p] for p in pairs[f"{name}_path"]]) for name in ("source", "target")}
    coded = [AU_COLUMNS.index(c) for c in DISFA_CODED_AUS]
    index = pd.read_csv(data / "index.csv").set_index("path")
    labels = index.loc[pairs["target_path"], list(DISFA_CODED_AUS)].to_numpy(np.float64)
    read_source = hand_aus(dataset.batch(rows["source"]).image.numpy())[:, coded]  # keep returns the source
    read_target = hand_aus(dataset.batch(rows["target"]).image.numpy())[:, coded]
    ok = np.array([not failed(f"keep_seed0_{i:04d}") for i in pairs["pair"]])
    target_ok = np.array([not failed(f"target_{i:04d}") for i in pairs["pair"]])
    keep = next(r for r in results["rows"] if r["label"] == "keep")["seeds"]["0"]
    for side, reference, used in (("vs_labels", labels, ok), ("vs_estimator", read_target, ok & target_ok)):
        table = keep["au"][side]
        assert list(table["per_au"]["mse"]) == CODED_NAMES and table["n_used"] == used.sum() < len(pairs)
        error = read_source[used] - reference[used]
        assert table["avg"]["mse"]["value"] == pytest.approx(np.mean(error**2), rel=1e-5)
        assert table["avg"]["mae"]["value"] == pytest.approx(np.mean(np.abs(error)), rel=1e-5)
        pcc = [stats.pearsonr(read_source[used, j], reference[used, j])[0] for j in range(12)]
        assert table["avg"]["pcc"]["value"] == pytest.approx(np.mean(pcc), rel=1e-5)
        assert table["avg"]["pcc"]["n_aus"] == 12
    real = next(r for r in results["rows"] if r["label"] == "Real")["summary"]["au"]["vs_labels"]
    assert list(real["per_au"]["mse"]) == CODED_NAMES
    assert real["avg"]["mse"]["value"] == pytest.approx(np.mean((read_target - labels)[target_ok] ** 2), rel=1e-5)
    frame = pd.read_csv(run / "eval" / "keep" / "seed0" / "pairs.csv", dtype=str, keep_default_na=False)
    assert (frame[[f"label_{c}" for c in UNCODED]] == "").all().all()  # missing in the per-pair file too
    assert (frame[[f"label_{c}" for c in DISFA_CODED_AUS]] != "").all().all()
    # Eq. 8 for the AU-conditioned stand-in: its AU vectors are the 12 coded ones
    assert "over the 12 coded AUs" in keep["interpolation"]["definition"]


@pytest.mark.filterwarnings("ignore:the dataset has no evaluator split")
def test_tables_mark_uncoded_aus_and_captions_name_the_coded_ones(tmp_path: Path, cache: Path) -> None:
    """With the in-domain evaluators: the AU regressor learns and reads the 12 coded AUs only."""
    data = disfa_faces(tmp_path)
    run = fake_run(tmp_path / "run", data, {"keep": 1, "blend": 1})
    results = evaluate_run(run, device="cpu", rounds=20, loader=disfa_standin, per_expression=4)
    estimator = results["meta"]["evaluators"]["estimator"]
    assert estimator["columns"] == list(DISFA_CODED_AUS)
    assert list(estimator["heldout"]["per_au"]["mse"]) == CODED_NAMES
    table = expression_table(results)
    uncoded = [table.columns.index(name) for name in UNCODED_NAMES]
    coded = [table.columns.index(name) for name in CODED_NAMES]
    assert len(table.cells) == 2 * 4  # MSE and PCC for Source, keep, blend, Real
    for row, flags in zip(table.cells, table.best, strict=True):
        assert [row[i] for i in uncoded] == [NOT_CODED] * 5 and not any(flags[i] for i in uncoded)
        assert all(row[i] not in (NOT_CODED, "") for i in coded)
    assert ("Avg is the unweighted mean over the 12 AUs the dataset codes (AU01, AU02, AU04, AU05, AU06, AU09, "
            "AU12, AU15, AU17, AU20, AU25, AU26); n/c marks the 5 it does not code (AU07, AU10, AU14, AU23, AU45)"
            ) in table.caption
    interpolation = interpolation_table(results)
    assert interpolation is not None and "over the 12 AUs the dataset codes" in interpolation.caption
    markdown = to_markdown(table)
    assert markdown.count(f"| {NOT_CODED} ") == 5 * 8
    written = build_report(run)  # results.json passes the checks; the per-AU figure shows the 12 only
    assert run / "tables" / "expression.md" in written and (run / "figures" / "per_au.png").is_file()
    assert f"| {NOT_CODED} " in (run / "tables" / "expression.md").read_text()


def test_a_model_of_other_coded_aus_is_refused(tmp_path: Path, cache: Path) -> None:
    data = disfa_faces(tmp_path)
    run = fake_run(tmp_path / "run", data, {"keep": 1})
    with pytest.warns(UserWarning, match="no evaluator split"), pytest.raises(
            DataError, match=r"keep/seed0/checkpoint\.pt: trained on the AUs AU01, AU02, AU04, AU05, AU06, AU07, .*"
                             r"but disfa codes AU01, AU02, AU04, AU05, AU06, AU09, "):
        evaluate_run(run, device="cpu", rounds=20, loader=load_standin, per_expression=4)  # 17-AU stand-ins


def test_exported_protocol_leaves_uncoded_aus_empty(tmp_path: Path) -> None:
    data = disfa_faces(tmp_path)
    run = fake_run(tmp_path / "run", data, {"keep": 1})
    out = export_protocol(run, tmp_path / "protocol")
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["coded_aus"] == CODED_NAMES
    table = pd.read_csv(out / "pairs.csv", dtype=str, keep_default_na=False)
    for prefix in ("target_", "source_"):
        assert (table[[prefix + c for c in UNCODED]] == "").all().all()
        assert (table[[prefix + c for c in DISFA_CODED_AUS]] != "").all().all()
    dataset = load_dataset(data, 32)
    row = dataset.table.index[dataset.table["path"] == table["target_path"].iloc[0]][0]
    assert [float(v) for v in table.loc[0, [f"target_{c}" for c in DISFA_CODED_AUS]]] == pytest.approx(
        dataset.aus[row].tolist(), abs=1e-4)


def test_results_with_coded_aus_outside_au_names_are_refused(tmp_path: Path) -> None:
    from reports.validate import check_results

    results = {"meta": {"dataset": {}, "protocol": {}, "evaluators": {}}, "au_names": ["AU01", "AU02"],
               "metrics": {}, "rows": [{"label": "x", "kind": "method", "summary": {}}], "coded_aus": ["AU03"]}
    with pytest.raises(DataError, match=r"results\.json: 'coded_aus' must be a non-empty list of names from "
                                        r"'au_names', got \['AU03'\]"):
        check_results(results, tmp_path / "results.json")


@pytest.mark.slow
def test_run_preset_smoke_on_a_disfa_list_end_to_end(tmp_path: Path, cache: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The documented commands on DISFA's list layout: `data disfa`, then `run --preset smoke` with
    both AU-conditioned methods; they train on the 12 coded AUs, and every table and the edit
    command know which AUs exist."""
    from typer.testing import CliRunner

    from eggan.cli.main import app, main
    from eggan.core.checkpoint import load_checkpoint

    data = disfa_faces(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--preset", "smoke", "--data", str(data), "--methods", "eggan,ganimation",
                                 "--set", "train.steps=2", "--per-expression", "2", "--device", "cpu",
                                 "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    for label in ("eggan", "ganimation"):
        info = load_checkpoint(run / "train" / label / "seed0" / "checkpoint.pt")["info"]
        assert info["n_aus"] == 12 and info["coded_aus"] == list(DISFA_CODED_AUS)
    results = json.loads((run / "results.json").read_text())
    assert results["coded_aus"] == CODED_NAMES
    for row in results["rows"]:
        summaries = list(row["seeds"].values()) or [row["summary"]]
        for summary in summaries:
            for side in ("vs_estimator", "vs_labels"):
                if summary["au"].get(side):
                    assert list(summary["au"][side]["per_au"]["mse"]) == CODED_NAMES, (row["label"], side)
    markdown = (run / "tables" / "expression.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| Metric"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    body = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith("| MSE") or line.startswith("| PCC")]
    assert len(body) == 2 * 4  # Source, EGGAN, GANimation, Real
    for cells in body:
        assert [cells[columns.index(name)] for name in UNCODED_NAMES] == [NOT_CODED] * 5
        assert NOT_CODED not in [cells[columns.index(name)] for name in CODED_NAMES]
    assert "over the 12 AUs the dataset codes (AU01, AU02, AU04" in markdown
    assert "over the 12 AUs the dataset codes" in (run / "tables" / "interpolation.md").read_text()
    # `edit` with the DISFA model: a coded AU is taken, an uncoded one refused in one line
    checkpoint, face = run / "train" / "eggan" / "seed0" / "checkpoint.pt", data / "images" / "SN001_0000.png"
    done = runner.invoke(app, ["edit", "--checkpoint", str(checkpoint), "--source", str(face), "--target-aus",
                               "AU12=3", "--out", str(tmp_path / "edit.png")])
    assert done.exit_code == 0, done.output
    argv = ["eggan-bench", "edit", "--checkpoint", str(checkpoint), "--source", str(face), "--target-aus",
            "AU12=3,AU45=2", "--out", str(tmp_path / "refused.png")]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as refused:
        main()
    error = capsys.readouterr().err.strip().splitlines()
    assert refused.value.code != 0 and not (tmp_path / "refused.png").exists() and len(error) == 1
    assert "the target sets AU45, which the model's training data does not code (it codes AU01, AU02, AU04" in error[0]
