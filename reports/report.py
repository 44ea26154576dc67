"""`eggan-bench report RUN`: every table and figure, rebuilt from ``RUN/results.json`` alone."""

from __future__ import annotations

from pathlib import Path

from reports.figures import build_figures
from reports.results import load_results
from reports.tables import build_tables


def build_report(run_dir: str | Path) -> list[Path]:
    """Write ``RUN/tables/*.{md,tex}`` and ``RUN/figures/*.png``; returns the files written."""
    run = Path(run_dir)
    results = load_results(run)
    return build_tables(results, run / "tables") + build_figures(results, run / "figures")
