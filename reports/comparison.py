"""The tables of `eggan-bench compare`: Markdown and LaTeX from the same cells (``reports.tables``),
and the numbers as JSON, written atomically into one folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eggan.io import atomic_write_json, atomic_write_text
from reports.results import display_name
from reports.tables import Table, _fmt, to_latex, to_markdown

CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}


def _p(value: float | None) -> str:
    """Three significant digits, so a p-value just under alpha never prints as alpha itself."""
    return "n/a" if value is None else f"{value:.2e}" if value < 1e-3 else f"{value:.3g}"


def _name(name: str) -> str:
    run, colon, label = name.rpartition(":")
    return f"{run}{colon}{display_name(label)}"


def comparison_table(compared: dict[str, Any]) -> Table:
    """One line per comparison and measure; the corrected p-value is bold where it is under alpha."""
    config = compared["config"]
    correction = CORRECTION_NAMES[config["correction"]]
    index, cells, best = [], [], []
    for c in compared["comparisons"]:
        low, high = c["ci"]
        interval = f" [{_fmt(low, 4)}, {_fmt(high, 4)}]" if low is not None else ""
        units = f"{c['n']} ({c['units']} identities)" if config["cluster"] == "identity" else str(c["n"])
        index.append((f"{_name(c['a'])} vs {_name(c['b'])}", c["measure"]))
        cells.append([_fmt(c["a_value"], 4), _fmt(c["b_value"], 4), _fmt(c["difference"], 4) + interval, units,
                      c["test"], _p(c["p"]), _p(c["p_adjusted"]), _p(c["wilcoxon_p"]),
                      _name(c["better"]) if c["significant"] else "-"])
        best.append([False] * 6 + [c["significant"], False, False])
    unit = "source identities (pairs of one person resampled together)" if config["cluster"] == "identity" else "pairs"
    caption = (
        f"Paired comparisons on the same {compared['n_pairs']} pairs ({compared['source_identities']} source "
        f"identities), scored by the same evaluators; A - B with a 95 % bootstrap interval ({config['rounds']} "
        f"rounds over {unit}). AU error: per-pair squared AU error against the "
        f"{'estimator reading of the target' if config['against'] == 'estimator' else 'dataset labels'}, mean over "
        "AUs (its mean is Avg MSE); two-sided sign-flip permutation test of the mean difference, Wilcoxon "
        "signed-rank beside it. Avg PCC: paired bootstrap of the difference (two-sided percentile p). "
        "Verification: share of pairs accepted, exact McNemar on the discordant pairs (sign-flip test with "
        "clusters or several seeds). GT edit score (SynthFACS): as the AU error. A row of several seeds enters "
        f"with its per-pair values averaged over seeds. p ({correction}): corrected across all "
        f"{len(compared['comparisons'])} comparisons; bold and 'Better' where under alpha = {config['alpha']:g}."
    )
    return Table("compare", ["A", "B", "A - B [95 % CI]", "Pairs", "Test", "p", f"p ({correction})", "Wilcoxon p",
                             "Better"], index, cells, best, caption, "Comparison", row_title="Measure")


def write_comparison(compared: dict[str, Any], out_dir: str | Path) -> tuple[list[Path], str]:
    """``compare.md``, ``compare.tex`` and ``compare.json`` in ``out_dir``; returns them and the Markdown."""
    out = Path(out_dir)
    table = comparison_table(compared)
    markdown = to_markdown(table)
    written = [atomic_write_text(out / "compare.md", markdown), atomic_write_text(out / "compare.tex", to_latex(table)),
               atomic_write_json(out / "compare.json", compared)]
    return written, markdown
