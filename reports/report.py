"""`eggan-bench report RUN`: every table and figure, rebuilt from ``RUN/results.json`` alone.

``RUN/tables`` and ``RUN/figures`` belong to the report: a table or figure that the results no
longer support (an interpolation table after an evaluation whose estimator could not read the
frames, an ablation figure after the ablations were removed) is deleted, with a message, so that
the folders never show numbers from an earlier evaluation next to the current ones. The report
holds the run folder's lock while it writes (``eggan.core.lock``): a folder that `run` or
`evaluate` is still writing is refused in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eggan.core.lock import READER_ADVICE, locked_dir
from eggan.io import output_errors
from reports.figures import build_figures
from reports.results import load_results
from reports.tables import build_tables

# What the report writes into each of its folders; anything else there is left alone.
OUTPUTS = {"tables": (".md", ".tex"), "figures": (".png",)}


def build_report(run_dir: str | Path, log: Callable[[str], None] = lambda _msg: None) -> list[Path]:
    """Write ``RUN/tables/*.{md,tex}`` and ``RUN/figures/*.png``; returns the files written."""
    run = Path(run_dir)
    with locked_dir(run, log, READER_ADVICE):
        results = load_results(run)
        written = build_tables(results, run / "tables") + build_figures(results, run / "figures")
        for folder, suffixes in OUTPUTS.items():
            for path in sorted((run / folder).glob("*")):
                if path.suffix in suffixes and path.is_file() and path not in written:
                    with output_errors(path):
                        path.unlink()
                    log(f"{path}: removed; the current results.json no longer supports it")
    return written
