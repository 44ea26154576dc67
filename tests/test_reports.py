"""Tables and figures from a hand-made results.json: bold goes to the best method, n/a stays n/a,
seeds become mean ± std, substitutions reach the caption, and Markdown and LaTeX agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eggan.data.aus import AU_NAMES
from reports import figures
from reports.figures import build_figures
from reports.report import build_report
from reports.results import headline, substitution_notes
from reports.tables import (
    _tex,
    ablation_table,
    expression_table,
    ground_truth_table,
    identity_table,
    interpolation_table,
    throughput_table,
    to_latex,
    to_markdown,
)


def au_table(mse: float, pcc: float | None, n_aus: int = 17) -> dict:
    per_au = {"mse": dict.fromkeys(AU_NAMES, mse), "pcc": dict.fromkeys(AU_NAMES, pcc),
              "mae": dict.fromkeys(AU_NAMES, mse), "icc": dict.fromkeys(AU_NAMES, pcc)}
    per_au["pcc"]["AU45"] = None  # an AU without PCC: shown as n/a
    avg = {m: {"value": v, "ci_low": None if v is None else v - 0.01, "ci_high": None if v is None else v + 0.01,
               "n_aus": n_aus if m in ("pcc", "icc") else 17} for m, v in
           (("mse", mse), ("pcc", pcc), ("mae", mse), ("icc", pcc))}
    return {"n_pairs": 16, "n_used": 16, "n_excluded": 0, "per_au": per_au, "avg": avg}


def summary(mse: float, pcc: float, acc: float) -> dict:
    return {"n_pairs": 16, "au": {"vs_estimator": au_table(mse, pcc, 16), "vs_labels": au_table(mse + 0.1, pcc, 16)},
            "verification": {"threshold": 0.5, "accuracy": acc, "mean_cosine": acc, "balanced_accuracy": acc}}


def method_row(label: str, seeds: list[tuple[float, float, float]], metadata: dict | None = None) -> dict:
    per_seed = {str(k): summary(*s) for k, s in enumerate(seeds)}
    mean = lambda xs: {"mean": sum(xs) / len(xs), "std": None if len(xs) == 1 else 0.5}  # noqa: E731
    aggregate = {"n_seeds": len(seeds), "au": {side: {
        "per_au": {m: {au: mean([s[0] if m == "mse" else s[1] for s in seeds]) for au in AU_NAMES}
                   for m in ("mse", "pcc")},
        "avg": {m: {**mean([s[0] if m == "mse" else s[1] for s in seeds]), "n_aus": 16} for m in ("mse", "pcc")}}
        for side in ("vs_estimator", "vs_labels")},
        "verification": {k: mean([s[2] for s in seeds]) for k in ("accuracy", "mean_cosine", "balanced_accuracy")}}
    return {"label": label, "kind": "method", "method": label.split("-")[0], "seeds": per_seed,
            "checkpoint_steps": dict.fromkeys(per_seed, 10), "metadata": metadata or {}, "summary": aggregate}


def make_results(ablations: bool = False) -> dict:
    real = summary(0.1, 0.95, 0.99)
    real["au"]["vs_estimator"] = None
    random_vgg = {"vgg": {"weights": "random", "path": None, "note": "VGG19 ImageNet weights not found"}}
    rows = [
        {"label": "Source (no edit)", "kind": "reference", "method": None, "seeds": {}, "checkpoint_steps": {},
         "metadata": None, "summary": summary(1.0, 0.0, 1.0)},
        method_row("eggan", [(0.3, 0.8, 0.9)], random_vgg),
        method_row("stargan", [(0.5, 0.6, 0.95)]),
    ]
    if ablations:
        rows += [method_row(label, [(0.4, 0.7, 0.8)], random_vgg) for label in ("eggan-wtI", "eggan-wtP",
                                                                                   "eggan-wtS")]
    rows.append({"label": "Real", "kind": "reference", "method": None, "seeds": {}, "checkpoint_steps": {},
                 "metadata": None, "summary": real})
    return {
        "format": "eggan-bench-results/1",
        "meta": {
            "dataset": {"name": "SynthFACS", "image_size": 32},
            "protocol": {"n_pairs": 16, "per_expression_used": 2},
            "evaluators": {
                "estimator": {"name": "learned AU regressor", "heldout": {"n_images": 64, "avg": {
                    "pcc": {"value": 0.93}, "mse": {"value": 0.2}}}},
                "verifier": {"name": "LightCNN-9", "trained_in_domain": True, "threshold": 0.61,
                             "calibration": {"accuracy": 0.99, "n_genuine": 10, "n_impostor": 10}},
            },
        },
        "au_names": list(AU_NAMES),
        "metrics": {"mse": {"higher_is_better": False}, "pcc": {"higher_is_better": True},
                    "mae": {"higher_is_better": False}, "icc": {"higher_is_better": True}},
        "rows": rows,
        "throughput": None,
    }


def test_expression_table_bolds_the_best_method_not_the_references() -> None:
    table = expression_table(make_results())
    labels = [label for _, label in table.index]
    assert labels == ["Source (no edit)", "EGGAN", "StarGAN", "Real"] * 2
    mse_avg = {label: (cell[-1], best[-1]) for (group, label), cell, best in
               zip(table.index, table.cells, table.best, strict=True) if group == "MSE"}
    assert mse_avg["EGGAN"] == ("0.300 [0.290, 0.310]", True) and mse_avg["StarGAN"][1] is False
    assert not mse_avg["Real"][1] and not mse_avg["Source (no edit)"][1]  # references are never bold
    pcc_eggan = next(c for (g, lbl), c in zip(table.index, table.cells, strict=True) if g == "PCC" and lbl == "EGGAN")
    assert pcc_eggan[AU_NAMES.index("AU45")] == "n/a" and "(16 AUs)" in pcc_eggan[-1]
    markdown = to_markdown(table)
    assert "**0.300 [0.290, 0.310]**" in markdown and "n/a" in markdown
    assert "VGG19 ImageNet weights not found" in markdown  # the substitution reaches the caption


def test_seeds_are_reported_as_mean_and_std() -> None:
    results = make_results()
    results["rows"][1] = method_row("eggan", [(0.2, 0.8, 0.9), (0.4, 0.6, 0.8)])
    table = identity_table(results)
    eggan = table.cells[[label for _, label in table.index].index("EGGAN")]
    assert eggan[0] == "85.00 ± 50.00"
    assert "Source (no edit)" not in [label for _, label in table.index]


def test_table_2_says_the_verifiers_weights_sha256_and_alignment() -> None:
    results = make_results()
    results["meta"]["evaluators"]["verifier"] = {
        "name": "LightCNN-29v2", "trained_in_domain": False, "threshold": 0.5, "sha256": "ab12" * 16,
        "weights_verified": False, "checked_against": None,
        "alignment": "none (the dataset's own crop, grayscale, resized to 128)"}
    caption = identity_table(results).caption
    assert f"unverified weights (sha256 {'ab12' * 16} " in caption
    assert "face alignment: none (the dataset's own crop, grayscale, resized to 128);" in caption
    del results["meta"]["evaluators"]["verifier"]["alignment"]  # older results: nothing invented
    assert "face alignment" not in identity_table(results).caption


def test_latex_is_booktabs_and_escaped() -> None:
    tex = to_latex(ablation_table(make_results(ablations=True)))
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert tex.count(rule) == 1
    assert "E\\_wtP" in tex and "\\textbf{" in tex and tex.count("{") == tex.count("}")
    assert ablation_table(make_results()) is None  # no ablation rows, no ablation table


def test_substitutions_are_collected_per_label() -> None:
    notes = substitution_notes(make_results(ablations=True))
    assert len(notes) == 1 and notes[0].startswith("EGGAN, E_wtI, E_wtP, E_wtS:")


def test_headline_uses_estimator_side_and_real_labels() -> None:
    lines = {line["label"]: line for line in headline(make_results())}
    assert lines["EGGAN"]["mse"] == pytest.approx(0.3) and lines["Real"]["mse"] == pytest.approx(0.2)


def test_report_rebuilds_from_results_json_alone(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(make_results(ablations=True)))
    written = {p.name for p in build_report(tmp_path)}
    assert {"expression.md", "expression.tex", "identity.md", "ablation.tex", "per_au.png"} <= written
    assert "comparison.png" not in written  # no example images in these results
    assert build_figures(make_results(), tmp_path / "figs")[0].name == "per_au.png"


SPECIALS = "$ ~ ^ { } \\ & % _ #"


def test_latex_escapes_every_special_character() -> None:
    assert _tex(SPECIALS) == ("\\$ \\textasciitilde{} \\textasciicircum{} \\{ \\} \\textbackslash{} \\& \\% \\_ \\#")
    assert _tex("0.5 ± 0.1") == "0.5 $\\pm$ 0.1"
    assert _tex("α=0.25") == "$\\alpha$=0.25"  # the interpolation table's columns


def strange_results() -> dict:
    """Every LaTeX special character in a method's name, the dataset's name and a caption note."""
    results = make_results(ablations=True)
    results["rows"][2]["label"] = f"stargan {SPECIALS}"
    results["meta"]["dataset"]["name"] = f"faces {SPECIALS}"
    results["rows"][1]["metadata"]["vgg"]["note"] = f"weights not found at ~/x_y/{SPECIALS}.pth"
    return results


def test_special_characters_in_names_and_captions_are_escaped() -> None:
    tex = to_latex(identity_table(strange_results()))
    assert f"stargan {_tex(SPECIALS)}" in tex and f"faces {_tex(SPECIALS)}" in tex
    assert "\\textasciitilde{}/x\\_y/" in tex
    for raw in (SPECIALS, "~/x_y"):
        assert raw not in tex


def test_latex_compiles(tmp_path: Path, compile_latex) -> None:
    results = strange_results()
    compile_latex("\n".join(to_latex(t) for t in (expression_table(results), identity_table(results),
                                                  ablation_table(results))), tmp_path)


def bold_rows(table) -> dict[str, list[str]]:
    """Which columns are bold, by (group, row label)."""
    return {" ".join(filter(None, key)): [col for col, b in zip(table.columns, flags, strict=True) if b]
            for key, flags in zip(table.index, table.best, strict=True)}


def test_a_single_method_is_never_bold() -> None:
    results = make_results()
    results["rows"] = [r for r in results["rows"] if r["label"] != "stargan"]
    for table in (expression_table(results), identity_table(results)):
        assert not any(any(flags) for flags in table.best), table.name
        assert not any("**" in line for line in to_markdown(table).splitlines() if line.startswith("|"))
        assert "\\textbf" not in to_latex(table)


def test_bold_goes_to_every_tied_best_method_and_needs_two_defined_values() -> None:
    results = make_results()
    results["rows"].insert(3, method_row("homointerp", [(0.3, 0.8, 0.9)]))  # ties EGGAN everywhere
    results["rows"][2]["seeds"]["0"]["au"]["vs_estimator"]["avg"]["pcc"]["value"] = None  # StarGAN: no PCC
    bold = bold_rows(expression_table(results))
    assert bold["MSE EGGAN"] == bold["MSE HomoInterpGAN"] == [*AU_NAMES, "Avg"]
    assert bold["MSE StarGAN"] == [] and bold["MSE Real"] == [] and bold["MSE Source (no edit)"] == []
    assert "Avg" in bold["PCC EGGAN"] and "Avg" in bold["PCC HomoInterpGAN"]
    # With StarGAN's PCC undefined and one method left, nothing is "best" of one.
    results["rows"] = [r for r in results["rows"] if r["label"] != "homointerp"]
    assert "Avg" not in bold_rows(expression_table(results))["PCC EGGAN"]


def test_reference_rows_are_never_bold_even_when_they_score_best() -> None:
    bold = bold_rows(identity_table(make_results()))  # Real verifies 99 %, the methods 90 and 95 %
    assert bold["Real"] == [] and bold["StarGAN"] == ["Verification acc. (%)", "Mean cosine", "Balanced acc. (%)"]
    assert bold["EGGAN"] == []


# --- the exact bold cells of every table --------------------------------------------------------


def distinct_results() -> dict:
    """Results in which a different method is best in some columns of every table."""
    results = make_results(ablations=True)
    rows = {row["label"]: row for row in results["rows"]}
    for side in ("vs_estimator", "vs_labels"):
        stargan = rows["stargan"]["seeds"]["0"]["au"][side]["per_au"]
        stargan["mse"]["AU01"] = 0.05  # StarGAN beats EGGAN (0.3, 0.4 against the labels) on AU01's MSE
        stargan["pcc"]["AU02"] = 0.9  # ... and on AU02's PCC (EGGAN 0.8)
    rows["eggan"]["summary"]["verification"]["mean_cosine"]["mean"] = 0.97  # StarGAN 0.95
    rows["eggan-wtP"]["seeds"]["0"]["au"]["vs_estimator"]["avg"]["mse"]["value"] = 0.2  # the lowest MSE
    rows["eggan-wtS"]["seeds"]["0"]["au"]["vs_estimator"]["avg"]["pcc"]["value"] = 0.85  # the highest PCC
    rows["eggan-wtI"]["summary"]["verification"]["accuracy"]["mean"] = 0.95  # the highest accuracy
    results["throughput"] = {
        label: {"method": label, "image_size": 32, "device": {"type": "cpu", "name": "cpu"}, "dtype": "float32",
                "threads": 2, "warmup": 1, "repeats": 3, "statistic": "median",
                "batches": [{"batch_size": b, "seconds_per_batch": b / r, "translations_per_s": r}
                            for b, r in zip((1, 8), rates, strict=True)]}
        for label, rates in (("eggan", (10.0, 50.0)), ("stargan", (20.0, 40.0)))}
    curves = {"eggan": ([0.1, 0.3, 0.4, 0.5], 0.9), "stargan": ([0.2, 0.2, 0.5, 0.4], 0.95)}
    for label, (means, monotone) in curves.items():
        rows[label]["summary"]["interpolation"] = {
            "alphas": [0.0, 0.25, 0.5, 0.75, 1.0], "mean": [{"mean": m, "std": None} for m in [0.0, *means]],
            "monotone_share": {"mean": monotone, "std": None}, "n_pairs": 16, "definition": "d"}
    return results


ALL_BUT = lambda *left_out: [c for c in [*AU_NAMES, "Avg"] if c not in left_out]  # noqa: E731
EXPECTED_BOLD = {
    "expression_vs_estimator": {"MSE EGGAN": ALL_BUT("AU01"), "MSE StarGAN": ["AU01"],
                                "PCC EGGAN": ALL_BUT("AU02", "AU45"), "PCC StarGAN": ["AU02"]},
    "expression_vs_labels": {"MSE EGGAN": ALL_BUT("AU01"), "MSE StarGAN": ["AU01"],
                             "PCC EGGAN": ALL_BUT("AU02", "AU45"), "PCC StarGAN": ["AU02"]},
    "identity": {"EGGAN": ["Mean cosine"], "StarGAN": ["Verification acc. (%)", "Balanced acc. (%)"]},
    "ablation": {"E_wtP": ["Avg MSE"], "E_wtS": ["Avg PCC"], "E_wtI": ["Verification acc. (%)"]},
    "throughput": {"EGGAN": ["batch 8"], "StarGAN": ["batch 1"]},
    "interpolation": {"Estimator r(α) EGGAN": ["α=0.50", "α=1.00"],
                      "Estimator r(α) StarGAN": ["α=0.25", "α=0.75", "Monotone (%)"]},
}


def every_table(results: dict) -> list:
    return [expression_table(results, "vs_estimator"), expression_table(results, "vs_labels"),
            identity_table(results), ablation_table(results), throughput_table(results), interpolation_table(results)]


def test_every_table_bolds_exactly_the_best_cells() -> None:
    """Lower MSE, higher PCC, accuracy, cosine, throughput and response: the best method per column,
    and only those cells (no reference row, no n/a column)."""
    for table in every_table(distinct_results()):
        bold = {key: columns for key, columns in bold_rows(table).items() if columns}
        assert bold == EXPECTED_BOLD[table.name], table.name


def bold_in_markdown(text: str) -> set[tuple[str, str]]:
    """(row label, column) of every bold cell of a Markdown table."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    label_at = header.index("Method")
    found = set()
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        found |= {(cells[label_at], column) for column, cell in zip(header, cells, strict=True)
                  if cell.startswith("**")}
    return found


def bold_in_latex(text: str, table) -> set[tuple[str, str]]:
    """(row label, column) of every \\textbf cell of a LaTeX table body (labels and headers escaped)."""
    body = text[text.index("\\midrule") + len("\\midrule"):text.index("\\bottomrule")]
    columns = [_tex(c) for c in table.columns]
    skip = 2 if table.group_title else 1
    found = set()
    for line in body.strip().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)&", line.removesuffix("\\\\"))]
        found |= {(cells[skip - 1], column) for column, cell in zip(columns, cells[skip:], strict=True)
                  if cell.startswith("\\textbf{")}
    return found


def test_markdown_and_latex_bold_the_same_cells_as_the_table() -> None:
    for table in every_table(distinct_results()):
        expected = {(label, column) for (_, label), flags in zip(table.index, table.best, strict=True)
                    for column, flag in zip(table.columns, flags, strict=True) if flag}
        assert expected and bold_in_markdown(to_markdown(table)) == expected, table.name
        tex_expected = {(_tex(label), _tex(column)) for label, column in expected}
        assert bold_in_latex(to_latex(table), table) == tex_expected, table.name


# --- LaTeX checked without pdflatex ---------------------------------------------------------------

ESCAPED = re.compile(r"\\(?:[&%_#${}]|textasciitilde\{\}|textasciicircum\{\}|textbackslash\{\})|\$\\(?:pm|alpha)\$")
COMMAND = re.compile(r"\\label\{[^}]*\}|\\[A-Za-z]+\*?")  # a label may hold "_"


def latex_problems(tex: str, columns: int) -> list[str]:
    """What pdflatex would trip over in a booktabs table: a markup character left bare in a cell, a
    header or the caption, a row with the wrong number of cells, unbalanced braces."""
    problems = []
    for number, line in enumerate(tex.splitlines(), 1):
        row = line.rstrip().endswith("\\\\")
        plain = COMMAND.sub("", ESCAPED.sub("", line.rstrip().removesuffix("\\\\")))
        bare = [char for char in "%#$_^~\\" if char in plain]
        if bare:
            problems.append(f"line {number}: bare {bare}: {line}")
        cells = len(re.findall(r"(?<!\\)&", line)) + 1
        if cells != (columns if row else 1):
            problems.append(f"line {number}: {cells} cells, not {columns if row else 1}: {line}")
    braces = ESCAPED.sub("", tex)
    if braces.count("{") != braces.count("}"):
        problems.append("unbalanced braces")
    return problems


def test_latex_problems_finds_what_it_should() -> None:
    """The checker itself: each kind of mistake it must report, and a clean table it must pass."""
    assert latex_problems("a & b \\\\\n\\caption{x \\% y}", 2) == []
    assert latex_problems("Verification acc. (%) & b \\\\", 2)  # a bare percent comments out the rest
    assert latex_problems("E_wtP & b \\\\", 2) and latex_problems("a & b & c \\\\", 2)
    assert latex_problems("\\caption{a & b}", 2) and latex_problems("\\caption{{x}", 2)
    assert latex_problems("\\caption{~/x}", 2) and latex_problems("\\caption{x^2}", 2)


@pytest.mark.parametrize("build", [lambda r: expression_table(r, "vs_estimator"), identity_table, ablation_table,
                                   throughput_table, interpolation_table],
                         ids=["expression", "identity", "ablation", "throughput", "interpolation"])
def test_every_latex_table_is_fully_escaped(build) -> None:
    """Every header, row label, cell and caption, with every special character in the names, the
    dataset and a note: escaped (the pdflatex test below compiles them where pdflatex exists)."""
    results = strange_results()
    distinct = distinct_results()
    results["throughput"] = {f"stargan {SPECIALS}" if k == "stargan" else k: v for k, v in
                             distinct["throughput"].items()}
    for row in results["rows"]:
        if row["label"] in ("eggan", f"stargan {SPECIALS}"):
            row["summary"]["interpolation"] = distinct["rows"][1]["summary"]["interpolation"]
    table = build(results)
    tex = to_latex(table)
    assert latex_problems(tex, len(table.columns) + 1 + bool(table.group_title)) == []
    for column in table.columns:
        assert _tex(column) in tex


def test_the_ground_truth_table_is_fully_escaped() -> None:
    results = with_ground_truth(make_results())
    results["rows"][2]["label"] = f"stargan {SPECIALS}"
    results["meta"]["dataset"]["name"] = f"faces {SPECIALS}"
    table = ground_truth_table(results)
    tex = to_latex(table)
    assert latex_problems(tex, len(table.columns) + 1 + bool(table.group_title)) == []
    assert f"stargan {_tex(SPECIALS)}" in tex


def with_ground_truth(results: dict) -> dict:
    """make_results() with ground-truth figures: EGGAN edits best, the Ideal reference best of all."""
    def truth(edit: float, psnr: float | None) -> dict:
        metrics = {k: {"value": v, "ci_low": None, "ci_high": None, "n": 16} for k, v in (
            ("edit", edit), ("damage", 10 * (1 - edit)), ("psnr", psnr), ("ssim", edit), ("recon_psnr", psnr),
            ("own_projection", edit), ("own_cosine", edit))}
        return {"n_pairs": 16, "n_no_change": 1, "metrics": metrics,
                "per_expression": {"happy": {k: m["value"] for k, m in metrics.items()}}}

    for row, edit in zip(results["rows"], (0.0, 0.4, 0.2, None), strict=True):
        if edit is not None:
            row["summary"]["ground_truth"] = truth(edit, 20.0 + edit)
            for seed in row["seeds"].values():
                seed["ground_truth"] = truth(edit, 20.0 + edit)
    ideal = {"label": "Ideal", "kind": "reference", "method": None, "seeds": {}, "checkpoint_steps": {},
             "metadata": None, "summary": {**summary(0.2, 0.9, 0.98), "ground_truth": truth(1.0, None),
                                           "own_edit": {"gain": 0.8}}}
    results["rows"].insert(-1, ideal)
    results["rows"][1]["summary"]["own_edit"] = {"gain": {"mean": 3.5, "std": None}}
    results["meta"]["ground_truth"] = {"available": True, "change_level": 8.0, "min_changed_pixels": 4}
    return results


def test_learning_curves_draw_each_seed_of_each_method_from_its_logged_points(monkeypatch: pytest.MonkeyPatch,
                                                                              tmp_path: Path) -> None:
    def point(step: int, edit: float | None, recon: float) -> dict:
        return {"step": step, "gt_edit": edit, "gt_recon_psnr": recon, "gt_psnr": recon - 1,
                "gt_own_projection": 0.1}

    results = make_results()
    assert figures.learning_curve_figure(results, tmp_path / "none.png") is None  # no monitor: no figure
    results["rows"][1]["learning_curves"] = {"0": [point(100, 0.1, 24.0), point(200, 0.2, 25.0)],
                                             "1": [point(100, None, 23.0), point(200, 0.3, 26.0)]}
    drawn = {}

    def keep(fig: object, path: Path) -> Path:
        drawn["fig"] = fig
        return path

    monkeypatch.setattr(figures, "_save", keep)
    figures.learning_curve_figure(results, tmp_path / "curves.png")
    edit, recon = drawn["fig"].axes[0], drawn["fig"].axes[1]
    assert [list(line.get_xdata()) for line in edit.lines] == [[100, 200], [100, 200]]
    assert [list(line.get_ydata()) for line in recon.lines] == [[24.0, 25.0], [23.0, 26.0]]
    assert edit.lines[1].get_ydata()[0] != edit.lines[1].get_ydata()[0]  # n/a drawn as a gap (NaN)
    assert edit.lines[0].get_color() == edit.lines[1].get_color()  # one colour per method
    assert [text.get_text() for text in edit.get_legend().get_texts()] == ["EGGAN"]  # StarGAN has no curve


def test_ground_truth_table_bolds_the_best_method_never_the_ideal_and_gives_the_gains() -> None:
    table = ground_truth_table(with_ground_truth(make_results()))
    assert [label for _, label in table.index] == ["Source (no edit)", "EGGAN", "StarGAN", "Ideal"]
    bold = bold_rows(table)
    # EGGAN edits more and damages less (6 grey levels against 8: lower is better there)
    assert bold["EGGAN"] == table.columns
    assert bold["StarGAN"] == [] and bold["Ideal"] == [] and bold["Source (no edit)"] == []
    assert "EGGAN 3.50, Ideal 0.80" in table.caption and "1 of 16 pairs" in table.caption
    assert table.cells[3][2] == "n/a"  # the Ideal's PSNR to itself is infinite: not a number


def test_without_ideal_renders_there_is_no_ground_truth_table_and_table_1_says_why() -> None:
    results = make_results()
    results["meta"]["ground_truth"] = {"available": False, "why": "RaFD has no ideal renders"}
    assert ground_truth_table(results) is None
    assert "No ground-truth edit table: RaFD has no ideal renders." in expression_table(results).caption


def test_group_labels_are_escaped_for_latex() -> None:
    results = make_results()
    results["rows"][1]["summary"]["interpolation"] = {"alphas": [0.0, 1.0], "n_pairs": 4, "monotone_share": 1.0,
                                                      "mean": [0.0, 0.5]}
    tex = to_latex(interpolation_table(results))
    assert "Estimator r($\\alpha$)" in tex and "α" not in tex
