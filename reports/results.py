"""Reading ``results.json`` (schema in ``evaluate.evaluation``) and the sentences every caption needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eggan.core.provenance import describe_other_data
from eggan.errors import DataError
from evaluate.evaluation import FORMAT as RESULTS_FORMAT
from reports.validate import check_results

ABLATION_LABELS = {"no_perceptual": "eggan-wtP", "no_identity": "eggan-wtI", "no_msssim": "eggan-wtS"}
DISPLAY = {
    "eggan": "EGGAN",
    "stargan": "StarGAN",
    "homointerp": "HomoInterpGAN",
    "ganimation": "GANimation",
    "eggan-wtP": "E_wtP",
    "eggan-wtI": "E_wtI",
    "eggan-wtS": "E_wtS",
}


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """``RUN/results.json``, checked to be in the suite's results format (``reports.validate``)."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise DataError("no results.json: run `eggan-bench run` or `eggan-bench evaluate` first", Path(run_dir))
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid JSON ({getattr(exc, 'msg', exc)})", path) from None
    if not isinstance(results, dict) or results.get("format") != RESULTS_FORMAT:
        raise DataError(f"not an eggan-bench results file (expected an object with format {RESULTS_FORMAT})", path)
    check_results(results, path)
    return results


def display_name(label: str) -> str:
    return DISPLAY.get(label, label)


def method_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in results["rows"] if row["kind"] == "method"]


def outside_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows scored from a folder of another method's outputs (`eggan-bench score`), not trained here."""
    return [row for row in results["rows"] if row.get("outside")]


def outside_notes(results: dict[str, Any]) -> list[str]:
    """What each outside row is: where its outputs came from, and what it cannot have."""
    notes = []
    for row in outside_rows(results):
        folders = "; ".join(f"seed {k}: {o['outputs']} (sha256 {o['sha256'][:12]})" for k, o in row["outside"].items())
        notes.append(f"{display_name(row['label'])} was scored from a folder of its outputs, not trained here "
                     f"({folders}): no reconstruction, so no own edit, throughput or interpolation (n/a).")
    return notes


def row_by_label(results: dict[str, Any], label: str) -> dict[str, Any] | None:
    return next((row for row in results["rows"] if row["label"] == label), None)


def data_sentence(results: dict[str, Any]) -> str:
    """The data, the pairs and the seeds; and, loudly, any model scored on other data than it learned from."""
    meta = results["meta"]
    data, protocol = meta["dataset"], meta["protocol"]
    seeds = {len(row["seeds"]) for row in method_rows(results)} or {1}
    text = (
        f"Data: {data['name']} at {data['image_size']}x{data['image_size']}, {protocol['n_pairs']} (source, target) "
        f"pairs ({protocol['per_expression_used']} targets per expression from the training split, sources from "
        f"held-out identities); {max(seeds)} seed(s)."
    )
    if data.get("other_data"):
        text += " " + describe_other_data(data["other_data"])
    return text


# What a table shows for an AU the dataset does not code: missing, not a figure (n/a is a figure
# that is undefined; n/c is a label that was never there).
NOT_CODED = "n/c"


def coded_aus(results: dict[str, Any]) -> list[str]:
    """The AUs the run's dataset codes (all of ``au_names`` in results written before the key existed)."""
    return list(results.get("coded_aus") or results["au_names"])


def average_sentence(results: dict[str, Any]) -> str:
    """What every Avg is over, for the captions: the coded AUs, named when they are not all 17."""
    coded = coded_aus(results)
    uncoded = [name for name in results["au_names"] if name not in coded]
    if not uncoded:
        return f"Avg is the unweighted mean over the {len(coded)} AUs"
    return (f"Avg is the unweighted mean over the {len(coded)} AUs the dataset codes ({', '.join(coded)}); "
            f"{NOT_CODED} marks the {len(uncoded)} it does not code ({', '.join(uncoded)}), which are missing, not 0, "
            "and never scored")


def estimator_sentence(results: dict[str, Any]) -> str:
    est = results["meta"]["evaluators"]["estimator"]
    text = f"AU estimator: {est['name']}"
    heldout = est.get("heldout")
    if heldout:
        avg = heldout["avg"]
        text += (
            f", own held-out accuracy Avg PCC {avg['pcc']['value']:.3f}, MSE {avg['mse']['value']:.3f} "
            f"on {heldout.get('n_images', heldout.get('n_pairs'))} images of unseen identities"
        )
    blurred = (est.get("training") or {}).get("heldout_blurred")
    if blurred:
        mse = " / ".join(f"{value['mse']:.3f}" for value in blurred.values())
        text += f" (MSE {mse} on the same faces blurred by sigma {' / '.join(blurred)} px)"
    return text + trained_on_clause(est.get("trained_on")) + ". " + excluded_sentence(results)


def excluded_pairs(results: dict[str, Any]) -> dict[str, int]:
    """Row label -> pairs left out because the estimator read no face (OpenFace success=0, or a
    CSV with no row): a method's count is summed over its seeds. Read from the rows themselves, so
    a seed reused from an earlier evaluation is counted too."""
    counts = {}
    for row in results["rows"]:
        summaries = list(row["seeds"].values()) if row["seeds"] else [row["summary"]]
        counts[row["label"]] = sum(int(s.get("estimator_failures") or 0) for s in summaries)
    return counts


def excluded_sentence(results: dict[str, Any]) -> str:
    """The caption's count of excluded pairs, said even when it is zero (a silent exclusion reads as none)."""
    counts = {label: n for label, n in excluded_pairs(results).items() if n}
    if not counts:
        return "No pair was excluded for an image the estimator could not read."
    listed = ", ".join(f"{display_name(label)} {n}" for label, n in counts.items())
    return (f"Pairs excluded because the estimator read no face in an image (summed over seeds): {listed}; "
            "the AU figures are over the remaining pairs.")


def trained_on_clause(trained_on: dict[str, Any] | None) -> str:
    """Which people an in-domain evaluator learned from; the fallback that flatters Real is said loudly."""
    if not trained_on:
        return ""
    if trained_on["disjoint_from_scored_faces"]:
        return f"; trained on the {trained_on['split']} split ({trained_on['identities']} people never scored)"
    return f"; WARNING: {trained_on['warning']}"


def verifier_sentence(results: dict[str, Any]) -> str:
    ver = results["meta"]["evaluators"]["verifier"]
    calibration = ver.get("calibration") or {}
    trained = " (not the released weights)" + trained_on_clause(ver.get("trained_on")) if ver.get(
        "trained_in_domain") else ""
    text = (f"Verifier: {ver['name']}{trained}{weights_clause(ver)}{alignment_clause(ver)}; "
            f"cosine threshold {ver['threshold']:.3f}")
    if calibration:
        accuracy = 100 * calibration["accuracy"]
        text += (
            f" fixed on real pairs of held-out identities before scoring (accuracy {accuracy:.2f} % on "
            f"{calibration['n_genuine']} genuine and {calibration['n_impostor']} impostor pairs"
        )
        blurred = calibration.get("accuracy_second_blurred")
        if blurred:
            accuracy = " / ".join(f"{100 * value:.2f}" for value in blurred.values())
            text += f"; {accuracy} % with the second face blurred by sigma {' / '.join(blurred)} px"
        text += ")"
    return text + "."


def alignment_clause(ver: dict[str, Any]) -> str:
    """How faces were prepared for the verifier, said either way: LightCNN's authors align faces by
    5 landmarks, and a crop that skips it is a different input from theirs."""
    alignment = ver.get("alignment")
    return f"; face alignment: {alignment}" if alignment else ""


def weights_clause(ver: dict[str, Any]) -> str:
    """Which weights file a released verifier read: the released one (its sha256 matched a published
    checksum) or, loudly, unverified weights."""
    if ver.get("trained_in_domain") or "weights_verified" not in ver:
        return ""
    if ver["weights_verified"]:
        return f", the released weights (sha256 {ver['sha256']}, matching {ver['checked_against']})"
    return (f", unverified weights (sha256 {ver['sha256']} matches no published checksum of the released file; "
            "accepted with --accept-unverified-weights)")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def substitution_notes(results: dict[str, Any]) -> list[str]:
    """Every substitution recorded in a method's metadata that changes what a number means.

    A random stand-in for ImageNet VGG19 is recorded as a dict with ``"weights": "random"`` and a
    ``note`` (``eggan.core.vgg.VGGStatus``); any such dict anywhere in a row's metadata is reported.
    """
    notes: dict[str, list[str]] = {}
    for row in method_rows(results):
        for node in _walk(row.get("metadata")):
            if node.get("weights") == "random" and node.get("note"):
                notes.setdefault(node["note"], []).append(display_name(row["label"]))
    return [f"{', '.join(dict.fromkeys(labels))}: {note}" for note, labels in notes.items()]


def headline(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per row for the terminal summary: Avg MSE, Avg PCC, verification accuracy."""
    lines = []
    for row in results["rows"]:
        summary = row["summary"]
        side = "vs_labels" if row["label"] == "Real" else "vs_estimator"
        au = summary["au"].get(side) or summary["au"]["vs_labels"]
        lines.append({
            "label": display_name(row["label"]),
            "mse": _value(au["avg"]["mse"]),
            "pcc": _value(au["avg"]["pcc"]),
            "accuracy": _value(summary["verification"]["accuracy"]),
        })
    return lines


def _value(stat: Any) -> float | None:
    return stat.get("mean", stat.get("value")) if isinstance(stat, dict) else stat
