"""Checking ``results.json`` before any table is written: one line naming the first problem.

The report reads nothing else, and a file edited by hand, cut short or written by another tool
must not become a table that looks right: an infinite value would be bolded as the best, a
repeated row label would print two rows, a number stored as a string would stop the report half
way with a traceback after some tables were written. So before anything is written:

- the keys every table and figure reads are there, with the right types (schema in
  ``evaluate.evaluation``);
- row labels are unique strings; ``coded_aus`` (the AUs the dataset codes), when present, names AUs
  of ``au_names`` (a table shows n/c for the others);
- every figure a table prints (``NUMERIC`` keys, per-AU values, curves, throughput) is a number
  or null (shown as n/a), never a string or a boolean;
- every number anywhere in the file is finite (JSON's NaN and Infinity are refused; n/a is null).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from eggan.errors import DataError

# Keys whose values are figures (a number, or null for n/a), wherever they appear.
NUMERIC = frozenset({
    "value", "mean", "std", "ci_low", "ci_high", "n_aus", "n_pairs", "n_used", "n_excluded", "n_seeds",
    "accuracy", "mean_cosine", "balanced_accuracy", "threshold", "impostor_rejection", "mean_impostor_cosine",
    "n_genuine", "n_impostor", "n_nonfinite", "estimator_failures", "seconds", "pairs_per_s", "monotone_share",
    "translations_per_s", "batch_size", "image_size", "per_expression_used",
})
# Keys whose values are lists of figures (Eq. 8's alphas).
NUMERIC_LISTS = frozenset({"alphas"})


def check_results(results: dict[str, Any], path: Path) -> None:
    """Raise a one-line ``DataError`` naming ``path`` and the first problem (see the module docstring)."""
    for key, kind in (("meta", dict), ("au_names", list), ("metrics", dict), ("rows", list)):
        if not isinstance(results.get(key), kind):
            raise DataError(f"missing or malformed key {key!r} (a {kind.__name__})", path)
    for key in ("dataset", "protocol", "evaluators"):
        if not isinstance(results["meta"].get(key), dict):
            raise DataError(f"missing or malformed key 'meta.{key}'", path)
    coded = results.get("coded_aus", results["au_names"])
    if not isinstance(coded, list) or not coded or not set(coded) <= set(results["au_names"]):
        raise DataError(f"'coded_aus' must be a non-empty list of names from 'au_names', got {coded!r}", path)
    if not results["rows"]:
        raise DataError("'rows' is empty", path)
    seen: set[str] = set()
    for i, row in enumerate(results["rows"]):
        label = row.get("label", f"#{i}") if isinstance(row, dict) else f"#{i}"
        if not isinstance(row, dict) or not {"label", "kind", "summary"} <= set(row):
            raise DataError(f"row {label} lacks one of the keys label, kind, summary", path)
        if not isinstance(label, str) or not isinstance(row["kind"], str):
            raise DataError(f"row #{i} has a label or kind that is not a string ({label!r}, {row['kind']!r})", path)
        if label in seen:
            raise DataError(f"row label {label!r} appears twice; each row needs its own label", path)
        seen.add(label)
        summary = row["summary"]
        if not isinstance(summary, dict) or not isinstance(summary.get("au"), dict) or not isinstance(
                summary.get("verification"), dict) or not isinstance(summary["au"].get("vs_labels"), dict):
            raise DataError(f"row {label!r} has an empty or incomplete summary (needs au.vs_labels and "
                            "verification)", path)
    problem = first_bad_value(results, "")
    if problem:
        raise DataError(problem, path)


def first_bad_value(node: Any, where: str, figure: bool = False) -> str | None:
    """The first value under ``node`` that is not finite, or, below a figure (a ``NUMERIC`` key, a
    ``per_au`` table, a ``NUMERIC_LISTS`` list), not a number or null. ``where`` names it as a path,
    rows by their label."""
    if isinstance(node, dict):
        children = [(f"{where}.{key}" if where else str(key),
                     value, figure or key in NUMERIC or key in NUMERIC_LISTS or key == "per_au")
                    for key, value in node.items()]
    elif isinstance(node, list):
        children = [(f"{where}[{value['label']!r}]" if isinstance(value, dict) and isinstance(value.get("label"), str)
                     else f"{where}[{i}]", value, figure) for i, value in enumerate(node)]
    elif isinstance(node, float) and not math.isfinite(node):
        return f"{where} is {node}; every figure must be a finite number, or null for n/a"
    elif figure and (isinstance(node, bool) or not isinstance(node, int | float | type(None))):
        return f"{where} is {node!r}, not a number; every figure must be a number, or null for n/a"
    else:
        return None
    return next((found for path, value, inner in children if (found := first_bad_value(value, path, inner))), None)
