"""The paper's tables from ``results.json``: Markdown and LaTeX (booktabs) from the same cells.

Each table is built once as a grid of text cells with a parallel "best" mask; the two renderers
only decide how to write a cell and how to bold it, so the Markdown and the LaTeX can never
disagree. A caption always states what produced the numbers (estimator, verifier, data, pairs,
seeds) and any substitution that changes their meaning (random VGG19, in-domain evaluators).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from eggan.io import atomic_write_text
from evaluate.evaluation import SOURCE_ROW
from evaluate.groundtruth import HIGHER_IS_BETTER as HIGHER_IS_BETTER_GT
from evaluate.paired import ALPHA, next_row_marks
from reports.results import (
    ABLATION_LABELS,
    NOT_CODED,
    average_sentence,
    coded_aus,
    data_sentence,
    display_name,
    estimator_sentence,
    method_rows,
    outside_notes,
    outside_rows,
    row_by_label,
    substitution_notes,
    verifier_sentence,
)


@dataclass
class Table:
    """Text cells by row and column, which cells are best, a caption, and row-group breaks."""

    name: str
    columns: list[str]
    index: list[tuple[str, str]]  # (group, row label); group "" when the table has none
    cells: list[list[str]]
    best: list[list[bool]]
    caption: str
    group_title: str = ""
    notes: list[str] = field(default_factory=list)
    row_title: str = "Method"


# --- number formatting -------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _cell(stat: dict[str, Any] | float | None, digits: int = 3, ci: bool = False) -> tuple[str, float | None]:
    """Text and sortable value of one figure: a value (with its CI) or a mean +- std over seeds."""
    if stat is None or isinstance(stat, float | int):
        return _fmt(stat, digits), stat
    if "mean" in stat:
        mean, std = stat["mean"], stat["std"]
        text = _fmt(mean, digits) if std is None or mean is None else f"{_fmt(mean, digits)} ± {_fmt(std, digits)}"
        return text, mean
    value = stat["value"]
    text = _fmt(value, digits)
    if ci and value is not None and stat.get("ci_low") is not None:
        text += f" [{_fmt(stat['ci_low'], digits)}, {_fmt(stat['ci_high'], digits)}]"
    return text, value


def _mark_best(values: list[float | None], eligible: list[bool], higher: bool) -> list[bool]:
    """The best of the eligible rows (methods; a reference row is never bold), every one of them on a
    tie, and none unless two or more eligible rows have the figure: a lone method is best of nothing."""
    defined = [ok and v is not None and not math.isnan(v) for v, ok in zip(values, eligible, strict=True)]
    if sum(defined) < 2:
        return [False] * len(values)
    target = (max if higher else min)(v for v, ok in zip(values, defined, strict=True) if ok)
    return [ok and math.isclose(v, target) for v, ok in zip(values, defined, strict=True)]


# --- the tables --------------------------------------------------------------------------------


def _au_block(row: dict[str, Any], side: str) -> dict[str, Any] | None:
    """A row's AU figures for ``side``: one seed's values with their intervals, or the mean +- std over
    seeds. The Real row has only the estimator against the labels, shown in both tables."""
    if row["label"] == "Real":
        side = "vs_labels"
    if len(row["seeds"]) == 1:
        return next(iter(row["seeds"].values()))["au"][side]
    return row["summary"]["au"].get(side)


def _table_rows(results: dict[str, Any], with_source: bool = True) -> list[dict[str, Any]]:
    """Source (no edit), the compared methods (ablations have their own table), Real."""
    ablations = set(ABLATION_LABELS.values())
    return [r for r in results["rows"] if r["label"] not in ablations and (with_source or r["label"] != SOURCE_ROW)]


def expression_table(results: dict[str, Any], side: str = "vs_estimator") -> Table:
    """Table 1: per-AU MSE and PCC (+ Avg with 95 % CI), rows Source, each method, Real. An AU the
    dataset does not code has no figure: its column shows n/c in every row."""
    au_names, coded = results["au_names"], coded_aus(results)
    rows = [(r, block) for r in _table_rows(results) if (block := _au_block(r, side)) is not None]
    index, cells, best = [], [], []
    for metric in ("mse", "pcc"):
        values = []
        for row, block in rows:
            per_au = [_cell(block["per_au"][metric][name]) if name in coded else (NOT_CODED, None)
                      for name in au_names]
            avg = block["avg"][metric]
            text, value = _cell(avg, ci=True)
            if avg.get("n_aus") is not None and avg["n_aus"] < len(coded):
                text += f" ({avg['n_aus']} AUs)"
            cells.append([t for t, _ in per_au] + [text])
            values.append([v for _, v in per_au] + [value])
            index.append((metric.upper(), display_name(row["label"])))
        higher = results["metrics"][metric]["higher_is_better"]
        eligible = [row["kind"] == "method" for row, _ in rows]
        best.extend(_best_by_column(values, eligible, [higher] * (len(au_names) + 1)))
        if metric == "mse" and side == "vs_estimator":
            marked = _next_row_marks(results, [(row["label"], v[-1]) for (row, _), v, ok in
                                               zip(rows, values, eligible, strict=True) if ok])
            for i, (row, _) in enumerate(rows):
                if row["label"] in marked:
                    cells[-len(rows) + i][-1] += f" {DAGGER}"
    reference = "the estimator's reading of each target image" if side == "vs_estimator" else "the dataset's AU labels"
    caption = (
        f"Expression accuracy: per-AU MSE (lower is better) and PCC (higher is better) between the AU intensities "
        f"estimated on the generated image and {reference}, on the 0-5 scale. {data_sentence(results)} "
        f"{estimator_sentence(results)} Source (no edit) scores the unedited source; Real is the estimator on the "
        f"real target images against their labels. {average_sentence(results)}, with a 95 % bootstrap "
        "interval over pairs (mean ± std over seeds when several); n/a marks an AU whose targets or predictions "
        "do not vary (no PCC), left out of the PCC average. With two or more methods, the best per column is in "
        f"bold (ties: all).{ground_truth_absence(results)}"
        + (_dagger_sentence(results) if side == "vs_estimator" else "")
    )
    return Table(f"expression_{side}", [*au_names, "Avg"], index, cells, best, caption, "Metric",
                 substitution_notes(results) + outside_notes(results))


DAGGER = "†"


def _next_row_marks(results: dict[str, Any], rows: list[tuple[str, float | None]]) -> set[str]:
    """The method rows whose Avg MSE is significantly lower than that of the row ranked next below
    them (``evaluate.paired.next_row_marks``, Holm across the rows shown), from the evaluation's
    paired tests; none when the run has fewer than two method rows."""
    significance = results.get("significance")
    ranked = [label for label, value in sorted((r for r in rows if r[1] is not None), key=lambda r: r[1])]
    if not significance or len(ranked) < 2:
        return set()
    return {label for label, mark in next_row_marks(significance, ranked).items() if mark["significant"]}


def _dagger_sentence(results: dict[str, Any]) -> str:
    if not results.get("significance"):
        return ""
    return (f" {DAGGER}: Avg MSE significantly lower than that of the method ranked next below it (per-pair "
            "squared AU error, two-sided sign-flip permutation test of the paired differences flipping whole "
            f"source identities, Holm-corrected across the adjacent comparisons, alpha = {ALPHA:g}).")


def identity_table(results: dict[str, Any]) -> Table:
    """Table 2: verification accuracy (the paper's figure), mean cosine and balanced accuracy."""
    rows = _table_rows(results, with_source=False)
    keys = [("accuracy", "Verification acc. (%)", 100), ("mean_cosine", "Mean cosine", 1),
            ("balanced_accuracy", "Balanced acc. (%)", 100)]
    cells, values, eligible = [], [], []
    for row in rows:
        ver = row["summary"]["verification"]
        texts, vals = [], []
        for key, _title, scale in keys:
            text, value = _cell(_scaled(ver.get(key), scale), digits=2 if scale == 100 else 3)
            texts.append(text)
            vals.append(value)
        cells.append(texts)
        values.append(vals)
        eligible.append(row["kind"] == "method")
    best = _best_by_column(values, eligible, [True, True, True])
    caption = (
        f"Identity preservation: share of (source, generated) pairs that the verifier accepts as the same person. "
        f"{verifier_sentence(results)} Balanced accuracy also counts impostor pairs (generated vs another identity) "
        f"that are rejected. Real verifies real genuine/impostor pairs. {data_sentence(results)}"
    )
    return Table("identity", [k[1] for k in keys], [("", display_name(r["label"])) for r in rows], cells, best,
                 caption, notes=substitution_notes(results) + outside_notes(results))


def ablation_table(results: dict[str, Any]) -> Table | None:
    """Full EGGAN against E_wtP, E_wtI and E_wtS on Avg MSE, Avg PCC and verification accuracy."""
    labels = ["eggan", *ABLATION_LABELS.values()]
    rows = [row_by_label(results, label) for label in labels]
    if any(r is None for r in rows[1:]) or rows[0] is None:
        return None
    cells, values = [], []
    for row in rows:
        au = _au_block(row, "vs_estimator")
        mse, v_mse = _cell(au["avg"]["mse"], ci=True)
        pcc, v_pcc = _cell(au["avg"]["pcc"], ci=True)
        acc, v_acc = _cell(_scaled(row["summary"]["verification"]["accuracy"], 100), digits=2)
        cells.append([mse, pcc, acc])
        values.append([v_mse, v_pcc, v_acc])
    best = _best_by_column(values, [True] * len(rows), [False, True, True])
    caption = (
        "Ablation of EGGAN's losses: without the perceptual loss (E_wtP), the identity loss (E_wtI) or the MS-SSIM "
        f"term (E_wtS), on the same pairs and evaluators. {average_sentence(results)}. {estimator_sentence(results)} "
        f"{verifier_sentence(results)}"
    )
    return Table("ablation", ["Avg MSE", "Avg PCC", "Verification acc. (%)"],
                 [("", display_name(r["label"])) for r in rows], cells, best, caption,
                 notes=substitution_notes(results))


def throughput_table(results: dict[str, Any]) -> Table | None:
    """Translations per second of each method at each batch size, on the recorded device."""
    measured = results.get("throughput")
    if not measured:
        return None
    outside = [r["label"] for r in outside_rows(results)]
    labels = [r["label"] for r in method_rows(results) if r["label"] in measured or r["label"] in outside]
    sizes = sorted({b["batch_size"] for m in measured.values() for b in m["batches"]})
    cells, values = [], []
    for label in labels:  # an outside row's outputs came from elsewhere: nothing here was timed (n/a)
        by_size = {b["batch_size"]: b["translations_per_s"] for b in measured.get(label, {"batches": []})["batches"]}
        values.append([by_size.get(s) for s in sizes])
        cells.append([_fmt(by_size.get(s), 1) for s in sizes])
    first = next(measured[label] for label in [*labels, *measured] if label in measured)
    caption = (
        f"Test-time throughput (translations per second, median of {first['repeats']} timed calls after "
        f"{first['warmup']} warm-up calls) at {first['image_size']}x{first['image_size']} on "
        f"{first['device']['name']} ({first['device']['type']}, {first['dtype']}, {first['threads']} threads)."
        + (f" n/a: {', '.join(map(display_name, outside))} scored from a folder of outputs, never run here."
           if outside else "")
    )
    best = _best_by_column(values, [True] * len(labels), [True] * len(sizes))
    return Table("throughput", [f"batch {s}" for s in sizes], [("", display_name(x)) for x in labels], cells, best,
                 caption)


def interpolation_table(results: dict[str, Any]) -> Table | None:
    """Eq. 8 in numbers: how far each AU-conditioned method's frames move along the asked change, as
    the estimator reads it and, on SynthFACS, as the pixels hold it against the ideal renders."""
    rows = [r for r in method_rows(results) if (r["summary"].get("interpolation") or {}).get("mean")]
    if not rows:
        return None
    outside = outside_rows(results)
    alphas = rows[0]["summary"]["interpolation"]["alphas"][1:]
    index, cells, best = [], [], []
    measures = [("mean", "Estimator r(α)"), ("ground_truth.mean", "Ground truth r*(α)"),
                ("ground_truth.edit", "Edit score vs ideal(α)")]
    for key, title in measures:
        group = [(row, curve) for row in rows if (curve := _curve(row["summary"]["interpolation"], key))]
        values = []
        for row, curve in group:
            stats = [*curve[1:], _scaled(row["summary"]["interpolation"]["monotone_share"], 100) if key == "mean"
                     else None]
            texts, vals = zip(*(_cell(stat, digits=2) for stat in stats), strict=True)
            cells.append([*texts[:-1], texts[-1] if key == "mean" else ""])
            values.append(list(vals))
            index.append((title, display_name(row["label"])))
        best.extend(_best_by_column(values, [True] * len(group), [True] * (len(alphas) + 1)))
        for row in outside if key == "mean" else []:  # no frames of Eq. 8 came with its folder of outputs
            cells.append(["n/a"] * (len(alphas) + 1))
            best.append([False] * (len(alphas) + 1))
            index.append((title, display_name(row["label"])))
    caption = (
        "Interpolation (Eq. 8): r(α) is the estimator's AU change from the α = 0 frame, projected on the asked "
        "change u_t - u_s and divided by its squared length (1 = the frame moved by exactly the asked change, 0 = "
        f"not at all), over the {len(coded_aus(results))} AUs the dataset codes, mean over "
        f"{rows[0]['summary']['interpolation']['n_pairs']} protocol pairs; monotone = share "
        "of pairs whose response never drops by more than 0.05 as α grows. On SynthFACS, r*(α) is the same "
        "projection on the pixels: each frame's change from the α = 0 frame against the ideal change ideal - "
        "source, and the edit score compares each frame with the ideal render at its α. "
        f"{estimator_sentence(results)} {gain_sentence(results)}"
        + (f" n/a: {', '.join(display_name(r['label']) for r in outside)} scored from a folder of outputs, which "
           "holds no interpolation frames." if outside else "")
    )
    return Table("interpolation", [*(f"α={a:.2f}" for a in alphas), "Monotone (%)"], index, cells, best, caption,
                 "Measure")


def _curve(interpolation: dict[str, Any], key: str) -> list[Any] | None:
    """One curve of an interpolation summary by dotted key (``ground_truth.mean``); None if absent."""
    node: Any = interpolation
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


GT_COLUMNS = [("edit", "Edit score", 3), ("damage", "Damage (levels)", 1), ("psnr", "PSNR to ideal (dB)", 2),
              ("ssim", "SSIM to ideal", 3), ("recon_psnr", "Recon. PSNR (dB)", 2),
              ("own_projection", "Own edit: projection", 3), ("own_cosine", "Own edit: cosine", 3)]


def _truth_block(row: dict[str, Any]) -> dict[str, Any] | None:
    """A row's ground-truth figures: one seed's values with intervals, or mean +- std over seeds."""
    if row["kind"] == "method" and len(row["seeds"]) == 1:
        return next(iter(row["seeds"].values())).get("ground_truth")
    return row["summary"].get("ground_truth")


def ground_truth_table(results: dict[str, Any]) -> Table | None:
    """Every SynthFACS output against its ideal render (evaluate.groundtruth): rows Source, each
    method, Ideal, Ideal blurred; absent where the data has no ideal renders."""
    rows = [(r, block) for r in _table_rows(results) if (block := _truth_block(r)) is not None]
    if not rows:
        return None
    cells, values = [], []
    for _row, block in rows:
        stats = [_cell(block["metrics"][key], digits, ci=key == "edit") for key, _title, digits in GT_COLUMNS]
        cells.append([text for text, _ in stats])
        values.append([value for _, value in stats])
    higher = [HIGHER_IS_BETTER_GT[key] for key, _t, _d in GT_COLUMNS]
    best = _best_by_column(values, [row["kind"] == "method" for row, _ in rows], higher)
    note = results["meta"]["ground_truth"]
    first = rows[0][1]
    caption = (
        "Edits against the ground truth: every output compared with the ideal edit, the source person in its own "
        "shift, scale and brightness rendered with the target's AU labels. Edit score = 1 - sum |out - ideal| / "
        f"sum |source - ideal| over the pixels the edit must change (ideal and source differ by more than "
        f"{note['change_level']:g} grey levels): 1 is the ideal change, 0 none. Damage = mean |out - source| over "
        "the pixels that must stay the same (grey levels 0-255). Recon. = the method asked for the source's own "
        "AUs, class or image; own edit = output minus reconstruction, projected on the ideal change ideal - source "
        f"(1 = all of it) and its cosine with it. {data_sentence(results)} Means over pairs with a 95 % bootstrap "
        f"interval for the edit score (mean ± std over seeds when several); {first['n_no_change']} of "
        f"{first['n_pairs']} pairs ask for fewer than {note['min_changed_pixels']} changed pixels and have no edit "
        "score or own edit. Source (no edit) and Ideal are references (never bold), and so is Ideal, blurred: the "
        "ideal edit and its source blurred alike (Gaussian), the right edit as soft as a generator draws it; read a "
        "method against the Ideal row of its own sharpness (compare the Recon. PSNR). n/a where a figure does not "
        f"apply. {gain_sentence(results)}"
    )
    return Table("ground_truth", [title for _k, title, _d in GT_COLUMNS],
                 [("", display_name(r["label"])) for r, _ in rows], cells, best, caption, notes=outside_notes(results))


def ground_truth_expression_table(results: dict[str, Any]) -> Table | None:
    """The edit score and the own edit's projection per target expression, for every method."""
    rows = [(r, block) for r in _table_rows(results) if r["kind"] == "method" and (block := _truth_block(r))]
    if not rows:
        return None
    expressions = list(rows[0][1]["per_expression"])
    index, cells, best = [], [], []
    for key, title in (("edit", "Edit score"), ("own_projection", "Own edit: projection")):
        values = []
        for row, block in rows:
            stats = [_cell(block["per_expression"][e][key]) for e in expressions]
            cells.append([text for text, _ in stats])
            values.append([value for _, value in stats])
            index.append((title, display_name(row["label"])))
        best.extend(_best_by_column(values, [True] * len(rows), [True] * len(expressions)))
    caption = (
        "Edits against the ground truth per target expression: the edit score and the projection of the method's "
        "own edit on the ideal change (as in the ground-truth table; Source scores 0 and Ideal 1 on both by "
        f"definition). {data_sentence(results)}"
    )
    return Table("ground_truth_expressions", [e.capitalize() for e in expressions], index, cells, best, caption,
                 "Measure")


def ground_truth_absence(results: dict[str, Any]) -> str:
    """Why a run has no ground-truth edit table (data without ideal renders), for Table 1's caption."""
    note = results["meta"].get("ground_truth") or {}
    return "" if note.get("available", True) else f" No ground-truth edit table: {note['why']}."


def gain_sentence(results: dict[str, Any]) -> str:
    """How much change the AU estimator reads per unit of change the pixels hold, per row."""
    parts = []
    for row in results["rows"]:
        own = row["summary"].get("own_edit") or {}
        gain = own.get("gain")
        if gain is not None:
            text, _ = _cell(gain, digits=2)
            parts.append(f"{display_name(row['label'])} {text}")
    if not parts:
        return ""
    return ("Estimator gain (its reading of each row's own edit, projected on the asked AU change, divided by the "
            f"ground-truth projection of the same edit; 1 = it reads what the pixels hold): {', '.join(parts)}.")


def _scaled(stat: Any, scale: float) -> Any:
    if stat is None:
        return None
    if isinstance(stat, dict):
        return {k: (v * scale if isinstance(v, float) and k in ("mean", "std", "value") else v) for k, v in
                stat.items()}
    return stat * scale


def _best_by_column(values: list[list[float | None]], eligible: list[bool], higher: list[bool]) -> list[list[bool]]:
    columns = [_mark_best([row[c] for row in values], eligible, higher[c]) for c in range(len(higher))]
    return [[columns[c][r] for c in range(len(higher))] for r in range(len(values))]


# --- rendering ---------------------------------------------------------------------------------


def _frame(table: Table, bold: str) -> pd.DataFrame:
    data = [[bold.format(c) if b else c for c, b in zip(row, flags, strict=True)]
            for row, flags in zip(table.cells, table.best, strict=True)]
    frame = pd.DataFrame(data, columns=table.columns)
    if table.group_title:
        frame.insert(0, table.group_title, [g for g, _ in table.index])
    frame.insert(1 if table.group_title else 0, table.row_title, [label for _, label in table.index])
    return frame


def to_markdown(table: Table) -> str:
    frame = _frame(table, "**{}**")
    notes = "".join(f"\n> **Note:** {note}\n" for note in table.notes)
    return f"**{_title(table)}.** {table.caption}\n{notes}\n{frame.to_markdown(index=False)}\n"


# Every character LaTeX reads as markup in running text (names, paths and notes reach the captions),
# and the non-ASCII symbols of the cells and headers, which pdflatex cannot read as they are.
LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}",
                 "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "±": r"$\pm$",
                 "α": r"$\alpha$", "†": r"\textdagger{}"}


def _tex(text: str) -> str:
    """One pass over ``text``, so no replacement is escaped again."""
    return re.sub("|".join(re.escape(k) for k in LATEX_ESCAPES), lambda m: LATEX_ESCAPES[m.group()], text)


def to_latex(table: Table) -> str:
    escaped = Table(table.name, [_tex(c) for c in table.columns], [(_tex(g), _tex(lbl)) for g, lbl in table.index],
                    [[_tex(c) for c in row] for row in table.cells], table.best, table.caption, table.group_title,
                    row_title=_tex(table.row_title))
    frame = _frame(escaped, r"\textbf{{{}}}")
    caption = _tex(table.caption + "".join(f" Note: {n}" for n in table.notes))
    body = frame.style.hide(axis="index").to_latex(
        hrules=True, column_format="l" * (1 + bool(table.group_title)) + "r" * len(table.columns),
        caption=caption, label=f"tab:{table.name}", position="t",
        environment="table*" if len(table.columns) > 8 else "table",
    )
    return body.replace("\\begin{tabular}", "\\small\n\\begin{tabular}", 1)


TITLES = {
    "expression_vs_estimator": "Table 1 (expression)",
    "expression_vs_labels": "Table 1b (expression against the labels)",
    "identity": "Table 2 (identity)",
    "interpolation": "Interpolation (Eq. 8)",
    "ablation": "Ablation",
    "throughput": "Throughput",
    "ground_truth": "Ground truth (SynthFACS)",
    "ground_truth_expressions": "Ground truth per expression",
    "compare": "Paired comparisons",
}


def _title(table: Table) -> str:
    return TITLES.get(table.name, table.name)


def build_tables(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write every table that the results support as ``NAME.md`` and ``NAME.tex``."""
    out = Path(out_dir)
    tables = [expression_table(results, "vs_estimator"), identity_table(results), ground_truth_table(results),
              ground_truth_expression_table(results), interpolation_table(results), ablation_table(results),
              throughput_table(results)]
    if any(r["summary"]["au"].get("vs_labels") for r in results["rows"] if r["kind"] == "method"):
        tables.insert(1, expression_table(results, "vs_labels"))
    written = []
    for table in filter(None, tables):
        name = {"expression_vs_estimator": "expression", "expression_vs_labels": "expression_labels"}.get(
            table.name, table.name)
        written.append(atomic_write_text(out / f"{name}.md", to_markdown(table)))
        written.append(atomic_write_text(out / f"{name}.tex", to_latex(table)))
    return written
