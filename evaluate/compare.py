"""`eggan-bench compare RUN[:ROW] ...`: are the gaps between rows larger than chance?

Rows are read back from their per-pair results (``pairs.csv`` of each seed, written by
``evaluate.evaluation``), so any two rows scored on the same pairs by the same evaluators can be
compared pair by pair, within one run or across runs (another training recipe, another seed set).
Rows scored on other pairs, or by other evaluators, are refused in one line naming the file: a
paired test of numbers that do not describe the same pairs would mean nothing.

Every two of the given rows are compared (the first given against the later ones), on four
measures, each with its paired test (``evaluate.paired``): the per-pair AU error, Avg PCC,
verification, and on SynthFACS the ground-truth edit score. A row of several seeds enters with
its per-pair values averaged over the seeds (Avg PCC: the mean over seeds of each seed's Avg
PCC, as in the tables). ``cluster="identity"`` resamples whole source identities instead of pairs.
The primary p-value of every comparison and measure (sign-flip, bootstrap or McNemar; Wilcoxon is
shown beside it as a rank-based check, uncorrected) is corrected across all of them at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eggan.core.lock import READER_ADVICE, locked_dir
from eggan.errors import ConfigError, DataError
from evaluate.evaluation import REAL_ROW, evaluator_stamp, row_folders
from evaluate.paired import (
    ALPHA,
    CORRECTIONS,
    accepted_difference,
    mean_difference,
    pcc_difference,
    per_pair_au_error,
)
from evaluate.protocol import columns
from evaluate.results_store import RESULTS_NAME

# measure -> whether higher is better
MEASURES = {"AU error (MSE)": False, "Avg PCC": True, "Verification acc.": True, "GT edit score": True}


@dataclass(frozen=True)
class CompareConfig:
    """How rows are compared: resampling unit, correction, the AU reference, bootstrap and alpha."""

    cluster: str = "pair"  # "pair" or "identity" (the pairs' source person)
    correction: str = "holm"  # "holm", "bh" or "none"
    against: str = "estimator"  # AU reference: the estimator's reading of the target, or the labels
    rounds: int = 1000
    seed: int = 0
    alpha: float = ALPHA

    def check(self) -> None:
        for option, value, allowed in (("--cluster", self.cluster, ("pair", "identity")),
                                       ("--correction", self.correction, tuple(CORRECTIONS)),
                                       ("--against", self.against, ("estimator", "labels"))):
            if value not in allowed:
                raise ConfigError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
        if self.rounds < 1 or not 0 < self.alpha < 1:
            raise ConfigError(f"--rounds must be at least 1 and --alpha in (0, 1), got {self.rounds}, {self.alpha}")


@dataclass
class Row:
    """One compared row: where it comes from, its name in the tables, its per-pair results per seed."""

    run: Path
    label: str
    name: str
    frames: list[pd.DataFrame]


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """``RUN`` or ``RUN:ROW`` (a path holding ':' is read whole when it is a folder)."""
    run, colon, row = spec.rpartition(":")
    if colon and row and not Path(spec).is_dir():
        return Path(run), row
    return Path(spec), None


def run_stamp(run: Path) -> dict[str, Any]:
    """The run's pair list hash and evaluator identity (what every scored row of it records)."""
    evaluators, pairs = run / "eval" / "evaluators.json", run / "eval" / "pairs.csv"
    for path in (pairs, evaluators):
        if not path.is_file():
            raise DataError(f"has no eval/{path.name}: evaluate the run first (`eggan-bench evaluate --run RUN`)", run)
    return evaluator_stamp(json.loads(evaluators.read_text()), pairs)


def check_comparable(stamps: dict[Path, dict[str, Any]]) -> None:
    """Refuse, in one line naming the file, runs scored on other pairs or by other evaluators."""
    (first, stamp), *others = stamps.items()
    for run, other in others:
        if other["pairs_sha256"] != stamp["pairs_sha256"]:
            raise DataError(f"other pairs than {first / 'eval' / 'pairs.csv'} (sha256 {other['pairs_sha256'][:12]} vs "
                            f"{stamp['pairs_sha256'][:12]}); rows are compared only on the same pairs",
                            run / "eval" / "pairs.csv")
        differ = [key for key in stamp if key != "pairs_sha256" and other[key] != stamp[key]]
        if differ:
            raise DataError(f"other evaluators than {first / 'eval' / 'evaluators.json'} ({', '.join(differ)} "
                            "differ); rows are compared only when scored by the same evaluators",
                            run / "eval" / "evaluators.json")


def _results_rows(run: Path) -> list[dict[str, Any]]:
    path = run / RESULTS_NAME
    try:
        return json.loads(path.read_text())["rows"]
    except FileNotFoundError:
        raise DataError("no results.json: evaluate the run first (`eggan-bench evaluate --run RUN`)", run) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not a readable results file ({type(exc).__name__})", path) from None


def read_rows(run: Path, label: str | None, stamp: dict[str, Any], pair_ids: np.ndarray) -> list[Row]:
    """Row ``label`` of ``run`` (every method row when None), each seed's per-pair results checked
    to be of the run's pairs and, where a summary records it, of the run's evaluators."""
    rows = _results_rows(run)
    known = [r["label"] for r in rows if r["label"] != REAL_ROW]
    if label is not None and label not in known:
        raise ConfigError(f"{run}:{label}: no such row; rows of {run}: {', '.join(known)} (Real has no per-pair "
                          "outputs to compare)")
    chosen = [r for r in rows if r["label"] == label or (label is None and r["kind"] == "method")]
    found = []
    for row in chosen:
        frames = []
        for folder in row_folders(run, row):
            summary = folder / "summary.json"
            recorded = json.loads(summary.read_text()).get("evaluators") if summary.is_file() else None
            if recorded is not None and recorded != stamp:
                raise DataError("scored with other pairs or evaluators than the run's eval/; evaluate the run again "
                                "(`eggan-bench evaluate --run RUN`)", summary)
            path = folder / "pairs.csv"
            try:
                frame = pd.read_csv(path)
            except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise DataError(f"unreadable per-pair results ({type(exc).__name__}); evaluate the run again",
                                path) from None
            if "pair" not in frame or not np.array_equal(frame["pair"].to_numpy(), pair_ids):
                raise DataError("not the per-pair results of the run's pairs; evaluate the run again", path)
            frames.append(frame)
        found.append(Row(run, row["label"], row["label"], frames))
    return found


def load_rows(specs: Sequence[str], log: Callable[[str], None] = lambda _msg: None
              ) -> tuple[list[Row], pd.DataFrame, dict[str, Any]]:
    """The rows named by ``specs`` (RUN[:ROW]), the shared pair list and evaluator stamp; refused
    when the runs' pairs or evaluators differ."""
    parsed = [parse_spec(s) for s in specs]
    for run, _ in parsed:
        if not run.is_dir():
            raise DataError("not a run folder", run)
    stamps = {run: run_stamp(run) for run, _ in dict.fromkeys(parsed)}
    check_comparable(stamps)
    first = parsed[0][0]
    pairs = pd.read_csv(first / "eval" / "pairs.csv", dtype={"source_identity": str})
    rows = []
    for run, label in parsed:
        with locked_dir(run, log, READER_ADVICE):
            rows += read_rows(run, label, stamps[run], pairs["pair"].to_numpy())
    several_runs = len({run.resolve() for run, _ in parsed}) > 1
    for row in rows:
        row.name = f"{row.run.name}:{row.label}" if several_runs else row.label
    names = [row.name for row in rows]
    if len(set(names)) < len(names):
        raise ConfigError(f"a row is named twice ({', '.join(names)}); give each row once")
    if len(rows) < 2:
        raise ConfigError(f"{len(rows)} row(s) to compare ({', '.join(names) or 'none'}); give at least two")
    return rows, pairs, next(iter(stamps.values()))


def _seed_mean(row: Row, values: Callable[[pd.DataFrame], np.ndarray]) -> np.ndarray:
    """Per-pair values of a row: the mean over its seeds (NaN where any seed has none)."""
    return np.mean([values(frame) for frame in row.frames], axis=0)


def _au_sides(frame: pd.DataFrame, against: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference AUs, predicted AUs, usable) of one seed, as the tables use them."""
    ok = frame["pred_ok"].to_numpy(bool)
    if against == "estimator":
        ok = ok & frame["target_ok"].to_numpy(bool)
    y, p = columns(frame, "target_" if against == "estimator" else "label_"), columns(frame, "pred_")
    return y, p, ok & np.isfinite(y).all(axis=1) & np.isfinite(p).all(axis=1)


def compare_pair(a: Row, b: Row, clusters: np.ndarray | None, config: CompareConfig) -> dict[str, dict[str, Any]]:
    """Every measure of a against b (difference = a - b)."""
    rounds, seed = config.rounds, config.seed
    results = {"AU error (MSE)": mean_difference(_seed_mean(a, lambda f: per_pair_au_error(f, config.against)),
                                                 _seed_mean(b, lambda f: per_pair_au_error(f, config.against)),
                                                 clusters, rounds, seed)}
    sides_a = [_au_sides(f, config.against) for f in a.frames]
    sides_b = [_au_sides(f, config.against) for f in b.frames]
    keep = np.logical_and.reduce([ok for *_, ok in sides_a + sides_b])
    results["Avg PCC"] = pcc_difference([(y, p) for y, p, _ in sides_a], [(y, p) for y, p, _ in sides_b], keep,
                                        clusters, rounds, seed)
    results["Verification acc."] = accepted_difference(_seed_mean(a, lambda f: f["accepted"].to_numpy(float)),
                                                       _seed_mean(b, lambda f: f["accepted"].to_numpy(float)),
                                                       clusters, rounds, seed)
    if all("gt_edit" in f for f in a.frames + b.frames):
        results["GT edit score"] = mean_difference(_seed_mean(a, lambda f: f["gt_edit"].to_numpy(float)),
                                                   _seed_mean(b, lambda f: f["gt_edit"].to_numpy(float)),
                                                   clusters, rounds, seed)
    return results


def compare_rows(specs: Sequence[str], config: CompareConfig = CompareConfig(),
                 log: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Compare every two of the rows named by ``specs`` on every measure; JSON-ready, with the
    p-values corrected across all comparisons and measures."""
    config.check()
    rows, pairs, stamp = load_rows(specs, log)
    clusters = pairs["source_identity"].to_numpy() if config.cluster == "identity" else None
    comparisons = []
    for a, b in combinations(rows, 2):
        for measure, result in compare_pair(a, b, clusters, config).items():
            comparisons.append({"a": a.name, "b": b.name, "measure": measure, "higher_is_better": MEASURES[measure],
                                **result})
    adjusted = CORRECTIONS[config.correction]([c["p"] for c in comparisons])
    for comparison, q in zip(comparisons, adjusted, strict=True):
        gain = comparison["difference"]
        better = None if gain is None or gain == 0 else (
            comparison["a"] if (gain > 0) == comparison["higher_is_better"] else comparison["b"])
        comparison.update(p_adjusted=q, significant=q is not None and q < config.alpha and better is not None,
                          better=better)
    return {"rows": [{"name": r.name, "run": str(r.run), "label": r.label, "seeds": len(r.frames)} for r in rows],
            "config": config.__dict__, "n_pairs": len(pairs),
            "source_identities": int(pairs["source_identity"].nunique()),
            "pairs_sha256": stamp["pairs_sha256"], "evaluators": {k: stamp[k] for k in ("estimator", "verifier")},
            "comparisons": comparisons}


def default_out(specs: Sequence[str]) -> Path:
    """Where the tables go unless told: ``compare/`` in the first run (a later compare replaces them)."""
    return parse_spec(specs[0])[0] / "compare"
