"""`compare` and the tables' significance marker.

The paired tests against scipy and hand enumeration on hand-built cases; identity clustering
widening the intervals where one person's pairs move together; Holm and Benjamini-Hochberg against
independent computations; refusal of runs scored on other pairs or by other evaluators; the dagger
on the right cell; and, on a smoke run, the CLI end to end and the README's Python route and
`compare` line as written."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from test_reports import latex_problems

from eggan.cli.main import main
from eggan.cli.pipeline import BenchConfig, run_benchmark
from evaluate.metrics import mean_with_ci
from evaluate.paired import (
    accepted_difference,
    benjamini_hochberg,
    holm,
    mean_difference,
    next_row_marks,
    pcc_difference,
)
from reports.results import load_results, row_by_label
from reports.tables import DAGGER, expression_table

ROOT = Path(__file__).resolve().parents[1]
SMOKE = BenchConfig(methods=["eggan", "stargan"], preset="smoke", device="cpu", overrides=["train.steps=1"],
                    per_expression=2, examples=2, interpolation_steps=3)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "smoke"
    run_benchmark(SMOKE, out, progress=False, log=lambda _msg: None)
    return out


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, list[str]]:
    with mock.patch.object(sys, "argv", ["eggan-bench", *map(str, args)]), pytest.raises(SystemExit) as done:
        main()
    captured = capsys.readouterr()
    return done.value.code or 0, captured.out, captured.err.strip().splitlines()


# --- the tests on hand-built cases ------------------------------------------------------------------


def test_the_sign_flip_test_is_scipys_exact_paired_permutation_test_and_wilcoxon_is_scipys() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 1.0, 12)
    b = a - rng.normal(0.4, 0.6, 12)
    got = mean_difference(a, b, rounds=0)
    exact = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                   permutation_type="samples", n_resamples=np.inf, alternative="two-sided")
    assert got["test"] == "sign-flip, exact over 4096 sign patterns"
    assert got["p"] == pytest.approx(exact.pvalue, rel=1e-12)
    assert got["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a - b).pvalue, rel=1e-12)
    assert got["difference"] == pytest.approx(np.mean(a - b))
    # Above EXACT_UP_TO units: seeded random sign patterns, within Monte Carlo error of scipy's own.
    a, b = rng.normal(0.0, 1.0, 40), rng.normal(0.25, 1.0, 40)
    got = mean_difference(a, b, rounds=0)
    sampled = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                     permutation_type="samples", n_resamples=50_000, rng=np.random.default_rng(5))
    assert got["test"] == "sign-flip, 20000 random sign patterns (seed 0)"
    assert got["p"] == pytest.approx(sampled.pvalue, abs=0.015)


def test_clustered_sign_flips_move_each_persons_pairs_together() -> None:
    """The p-value by hand: every one of the 2^5 sign patterns of the five people's summed differences."""
    people = np.repeat(["p1", "p2", "p3", "p4", "p5"], 3)
    diff = np.array([0.9, 1.1, 0.7, -0.2, 0.1, -0.3, 0.5, 0.6, 0.4, 1.4, 1.0, 1.2, 0.2, -0.1, 0.3])
    got = mean_difference(diff + 2.0, np.full(15, 2.0), people, rounds=0)
    sums = [diff[people == p].sum() for p in dict.fromkeys(people)]
    extreme = [abs(np.dot(signs, sums)) >= abs(sum(sums)) - 1e-9 for signs in itertools.product((-1, 1), repeat=5)]
    assert got["units"] == 5 and got["test"] == "sign-flip, exact over 32 sign patterns"
    assert got["p"] == pytest.approx(np.mean(extreme))
    person_means = [diff[people == p].mean() for p in dict.fromkeys(people)]
    assert got["wilcoxon_p"] == pytest.approx(stats.wilcoxon(person_means).pvalue)


def test_verification_is_exact_mcnemar_on_the_discordant_pairs() -> None:
    a = np.array([1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 0], dtype=float)
    b = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0], dtype=float)  # 5 pairs accepted only for a, 1 only for b
    got = accepted_difference(a, b, rounds=0)
    assert got["p"] == pytest.approx(stats.binomtest(5, 6, 0.5).pvalue)
    assert "5 pairs accepted only for a, 1 only for b" in got["test"]
    # Each pair its own cluster: the sign-flip route, which on 0/1 differences is the same test.
    flipped = accepted_difference(a, b, np.arange(12), rounds=0)
    assert flipped["test"].startswith("sign-flip") and flipped["p"] == pytest.approx(got["p"])


def test_identity_clustering_widens_the_interval_where_a_persons_pairs_move_together() -> None:
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(6), 20)
    diff = 0.3 + rng.normal(0.0, 1.0, 6)[people] + rng.normal(0.0, 0.1, 120)  # one shift per person
    a, b = diff + 5.0, np.full(120, 5.0)
    by_pair = mean_difference(a, b, rounds=1000)
    by_person = mean_difference(a, b, people, rounds=1000)
    width = {name: r["ci"][1] - r["ci"][0] for name, r in (("pair", by_pair), ("person", by_person))}
    assert width["person"] > 3 * width["pair"]
    assert by_person["p"] > 0.05 > by_pair["p"]
    # By pair, the interval is the suite's own bootstrap of the mean (evaluate.metrics), not a copy.
    reference = mean_with_ci(diff, rounds=1000, seed=0)
    assert by_pair["ci"] == pytest.approx([reference["ci_low"], reference["ci_high"]])
    # Avg PCC too: one person's pairs predicted well or badly together.
    y = rng.uniform(0, 5, (120, 17))
    quality = rng.choice([0.2, 2.0], 6)[people][:, None]
    pa, pb = y + quality * rng.normal(size=y.shape), y + 1.0 * rng.normal(size=y.shape)
    keep = np.ones(120, dtype=bool)
    pcc_pair = pcc_difference([(y, pa)], [(y, pb)], keep, rounds=500)
    pcc_person = pcc_difference([(y, pa)], [(y, pb)], keep, people, rounds=500)
    assert pcc_person["ci"][1] - pcc_person["ci"][0] > 1.5 * (pcc_pair["ci"][1] - pcc_pair["ci"][0])


def test_the_avg_pcc_difference_is_an_explicit_paired_percentile_bootstrap() -> None:
    rng = np.random.default_rng(2)
    n, rounds, seed = 40, 200, 3
    y = rng.uniform(0, 5, (n, 17))
    pa, pb = y + 0.8 * rng.normal(size=y.shape), y + 1.5 * rng.normal(size=y.shape)

    def avg_pcc(t: np.ndarray, p: np.ndarray) -> float:
        return float(np.mean([np.corrcoef(t[:, j], p[:, j])[0, 1] for j in range(17)]))

    draws = torch.randint(n, (rounds, n), generator=torch.Generator().manual_seed(seed)).numpy()
    diffs = np.array([avg_pcc(y[d], pa[d]) - avg_pcc(y[d], pb[d]) for d in draws])
    got = pcc_difference([(y, pa)], [(y, pb)], np.ones(n, dtype=bool), rounds=rounds, seed=seed)
    assert got["difference"] == pytest.approx(avg_pcc(y, pa) - avg_pcc(y, pb))
    assert got["ci"] == pytest.approx(np.percentile(diffs, [2.5, 97.5]))
    side = min(np.sum(diffs <= 0), np.sum(diffs >= 0))
    assert got["p"] == pytest.approx(min(1.0, 2 * (1 + side) / (rounds + 1)))
    assert got["p"] > 0  # however clear the difference, a bootstrap of 200 rounds never says p = 0


def test_holm_by_hand_and_benjamini_hochberg_as_scipy() -> None:
    # Holm by hand: sorted .005, .01, .03, .04 times 4, 3, 2, 1 = .02, .03, .06, .04 -> running max .06.
    assert holm([0.01, 0.04, 0.03, 0.005, None]) == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    p = np.random.default_rng(4).uniform(0, 0.2, 25)
    assert benjamini_hochberg([*p, None]) == pytest.approx([*stats.false_discovery_control(p), None])


def test_a_row_is_marked_better_than_the_next_ranked_row_after_holm() -> None:
    significance = {"tests": [{"rows": ["x", "y"], "difference": -0.2, "p": 0.01},
                              {"rows": ["z", "y"], "difference": 0.1, "p": 0.024},  # stored the other way round
                              {"rows": ["x", "z"], "difference": -0.3, "p": 0.0001}]}
    marks = next_row_marks(significance, ["x", "y", "z"])
    assert marks["y"]["next"] == "z" and marks["y"]["difference"] == pytest.approx(-0.1)
    assert [marks[r]["p_adjusted"] for r in ("x", "y")] == pytest.approx([0.02, 0.024])
    assert marks["x"]["significant"] and marks["y"]["significant"]
    significance["tests"][1]["p"] = 0.03  # Holm: 0.02 and 0.03 stay, at alpha 0.025 only x is marked
    marks = next_row_marks(significance, ["x", "y", "z"], alpha=0.025)
    assert marks["x"]["significant"] and not marks["y"]["significant"]


# --- on a smoke run -----------------------------------------------------------------------------


def per_pair_errors(frame: pd.DataFrame) -> np.ndarray:
    aus = [c for c in frame.columns if c.startswith("pred_AU")]
    target = frame[[c.replace("pred_", "target_") for c in aus]].to_numpy(float)
    return ((frame[aus].to_numpy(float) - target) ** 2).mean(axis=1)


def test_the_evaluation_tests_every_two_method_rows_by_source_person(run: Path) -> None:
    results = load_results(run)
    (test,) = results["significance"]["tests"]
    assert test["rows"] == ["eggan", "stargan"]
    frames = [pd.read_csv(run / "eval" / label / "seed0" / "pairs.csv") for label in test["rows"]]
    assert all(f["pred_ok"].all() and f["target_ok"].all() for f in frames)
    diff = per_pair_errors(frames[0]) - per_pair_errors(frames[1])
    people = pd.read_csv(run / "eval" / "pairs.csv")["source_identity"].to_numpy()
    sums = [diff[people == p].sum() for p in sorted(set(people))]
    extreme = [abs(np.dot(s, sums)) >= abs(sum(sums)) - 1e-9 for s in itertools.product((-1, 1), repeat=len(sums))]
    assert test["units"] == len(sums) and test["p"] == pytest.approx(np.mean(extreme))
    assert test["difference"] == pytest.approx(diff.mean(), abs=1e-6)


def test_the_dagger_sits_on_the_avg_mse_cell_of_the_row_better_than_the_next(run: Path) -> None:
    results = load_results(run)
    avg = {label: row_by_label(results, label)["seeds"]["0"]["au"]["vs_estimator"]["avg"]["mse"]["value"]
           for label in ("eggan", "stargan")}
    better, worse = sorted(avg, key=avg.get)
    results["significance"]["tests"] = [{"rows": [worse, better], "difference": 0.01, "p": 0.001, "n": 16, "units": 4}]
    table = expression_table(results)
    marked = [(index, j) for index, row in zip(table.index, table.cells, strict=True)
              for j, cell in enumerate(row) if DAGGER in cell]
    names = {"eggan": "EGGAN", "stargan": "StarGAN"}
    assert marked == [(("MSE", names[better]), len(table.columns) - 1)]
    assert "Holm" in table.caption and DAGGER in table.caption
    results["significance"]["tests"][0]["p"] = 0.2
    assert not any(DAGGER in cell for row in expression_table(results).cells for cell in row)
    assert not any(DAGGER in cell for row in expression_table(results, "vs_labels").cells for cell in row)


def test_compare_on_the_command_line(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    code, printed, errors = cli(capsys, "compare", f"{run}:eggan", f"{run}:stargan", "--cluster", "identity",
                                "--out", out)
    assert code == 0, errors
    assert "| EGGAN vs StarGAN | AU error (MSE)" in printed and "| EGGAN vs StarGAN | GT edit score" in printed
    compared = json.loads((out / "compare.json").read_text())
    assert (out / "compare.md").read_text() in printed
    assert latex_problems((out / "compare.tex").read_text(), 11) == []
    by = {c["measure"]: c for c in compared["comparisons"]}
    assert [c["a"] for c in compared["comparisons"]] == ["eggan"] * 4
    results = load_results(run)
    seed = row_by_label(results, "eggan")["seeds"]["0"]
    assert by["AU error (MSE)"]["a_value"] == pytest.approx(seed["au"]["vs_estimator"]["avg"]["mse"]["value"], abs=1e-4)
    assert by["Avg PCC"]["a_value"] == pytest.approx(seed["au"]["vs_estimator"]["avg"]["pcc"]["value"], abs=1e-3)
    assert by["Verification acc."]["a_value"] == pytest.approx(seed["verification"]["accuracy"])
    assert by["GT edit score"]["a_value"] == pytest.approx(seed["ground_truth"]["metrics"]["edit"]["value"], abs=1e-4)
    assert holm([c["p"] for c in compared["comparisons"]]) == [c["p_adjusted"] for c in compared["comparisons"]]
    bold = [line.count("**") // 2 for line in printed.splitlines() if line.startswith("| EGGAN vs StarGAN")]
    assert bold == [int(c["significant"]) for c in compared["comparisons"]]
    # A bare RUN is every method row of it: the same comparisons.
    code, _, _ = cli(capsys, "compare", run, "--cluster", "identity", "--out", tmp_path / "bare")
    assert code == 0 and json.loads((tmp_path / "bare" / "compare.json").read_text())["comparisons"] == \
        compared["comparisons"]


def test_runs_on_other_pairs_or_evaluators_are_refused_in_one_line(run: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    other = shutil.copytree(run, tmp_path / "other")
    pairs = other / "eval" / "pairs.csv"
    pairs.write_text(pairs.read_text().replace("\n", "\r\n", 1))  # the same pairs, other bytes: another hash
    code, _, errors = cli(capsys, "compare", f"{run}:eggan", f"{other}:eggan")
    assert code == 2 and len(errors) == 1, errors
    assert str(pairs) in errors[0] and "other pairs" in errors[0]

    judged = shutil.copytree(run, tmp_path / "judged")
    path = judged / "eval" / "evaluators.json"
    evaluators = json.loads(path.read_text())
    evaluators["verifier"]["threshold"] += 0.01
    path.write_text(json.dumps(evaluators))
    code, _, errors = cli(capsys, "compare", f"{run}:eggan", f"{judged}:stargan")
    assert code == 2 and len(errors) == 1, errors
    assert str(path) in errors[0] and "threshold differ" in errors[0]
    # A row's per-pair file scored with other evaluators than its run's (a stale seed) is refused too.
    stale = shutil.copytree(run, tmp_path / "stale")
    summary = stale / "eval" / "stargan" / "seed0" / "summary.json"
    saved = json.loads(summary.read_text())
    saved["evaluators"]["verifier"] = "another verifier"
    summary.write_text(json.dumps(saved))
    code, _, errors = cli(capsys, "compare", stale)
    assert code == 2 and len(errors) == 1 and str(summary) in errors[0], errors
    assert not any((folder / "compare").exists() for folder in (run, other, judged, stale))


# --- the README, as written ---------------------------------------------------------------------


def readme_block(after: str, language: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match is not None
    return match.group(1)


def test_the_readme_python_route_scores_a_method_object_as_a_row(run: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code = readme_block("A method object in your own Python code", "python")
    (tmp_path / "runs").mkdir()
    shutil.copytree(run, tmp_path / "runs" / "default")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    results = load_results(tmp_path / "runs" / "default")
    assert row_by_label(results, "mine-api")["outside"]["0"]["outputs"] == str(tmp_path / "my_api_outputs")
    assert "| mine-api" in (tmp_path / "runs" / "default" / "tables" / "expression.md").read_text()
    # The row holds EGGAN's own translations (8-bit PNGs): read as EGGAN's are, up to that rounding.
    mine = pd.read_csv(tmp_path / "runs" / "default" / "outside" / "mine-api" / "seed0" / "pairs.csv")
    eggan = pd.read_csv(tmp_path / "runs" / "default" / "eval" / "eggan" / "seed0" / "pairs.csv")
    np.testing.assert_allclose(per_pair_errors(mine), per_pair_errors(eggan), atol=0.01)


def test_the_readme_compare_line_runs_as_written(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = [x for x in readme_block("### Is a gap larger than chance?", "bash").splitlines() if x.strip()]
    (tmp_path / "runs").mkdir()
    shutil.copytree(run, tmp_path / "runs" / "default")
    monkeypatch.chdir(tmp_path)
    code, printed, errors = cli(capsys, *shlex.split(line)[1:])
    assert code == 0, errors
    assert "EGGAN vs StarGAN" in printed and (tmp_path / "runs" / "default" / "compare" / "compare.md").is_file()
