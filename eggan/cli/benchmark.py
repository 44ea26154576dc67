"""`eggan-bench run`, `report`, `compare`: the whole benchmark, its tables and figures rebuilt from
results.json, and paired tests between rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eggan.cli.options import (
    AcceptUnverifiedWeights,
    AllowOtherData,
    DataSource,
    Device,
    Estimator,
    OpenFaceCSV,
    Overrides,
    Preset,
    Verifier,
    VerifierWeights,
    console,
    log,
    print_headline,
)
from eggan.errors import ConfigError


def run(
    methods: Annotated[str, typer.Option(help="Comma-separated: eggan, stargan, homointerp, ganimation.")] = (
        "eggan,stargan,homointerp"
    ),
    ablations: Annotated[bool, typer.Option(help="Also train and score E_wtP, E_wtI and E_wtS.")] = False,
    preset: Preset = "quick",
    data: DataSource = "synthfacs",
    seeds: Annotated[str, typer.Option(help="Comma-separated training seeds, e.g. 0,1,2.")] = "0",
    device: Device = "auto",
    out: Annotated[Path, typer.Option(help="Run directory (an interrupted run continues there).")] = Path(
        "runs/default"
    ),
    overrides: Overrides = None,
    estimator: Estimator = "learned",
    openface_csv: OpenFaceCSV = None,
    verifier: Verifier = "indomain",
    weights: VerifierWeights = None,
    per_expression: Annotated[int, typer.Option(help="Targets per expression (174 in the paper: 1,392 pairs).")] = 174,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    allow_other_data: AllowOtherData = False,
    accept_unverified_weights: AcceptUnverifiedWeights = False,
) -> None:
    """Run the whole benchmark: train, evaluate and report.

    An interrupted run continues where it stopped when started again with the same OUT.

    \b
    Examples:
      eggan-bench run --out runs/default
      eggan-bench run --methods eggan,stargan,homointerp,ganimation --seeds 0,1,2 --out runs/all
      eggan-bench run --ablations --preset smoke --out runs/smoke
    """
    from eggan.cli.pipeline import BenchConfig, run_benchmark
    from reports.results import headline

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be integers separated by commas, not {seeds!r}") from None
    bench = BenchConfig(
        methods=[m.strip() for m in methods.split(",") if m.strip()], ablations=ablations, preset=preset,
        data=data, seeds=seed_list, device=device, overrides=overrides or [], estimator=estimator,
        openface_csv=None if openface_csv is None else str(openface_csv), verifier=verifier,
        weights=None if weights is None else str(weights), per_expression=per_expression,
    )
    results = run_benchmark(bench, out, progress=progress, log=console.print, allow_other_data=allow_other_data,
                            accept_unverified_weights=accept_unverified_weights)
    print_headline(headline(results), f"{out}/tables and {out}/figures")


def report(run_dir: Annotated[Path, typer.Argument(help="A run directory with results.json.")]) -> None:
    """Rebuild every table and figure from RUN/results.json alone.

    Tables in Markdown and LaTeX under RUN/tables/, figures under RUN/figures/.

    \b
    Examples:
      eggan-bench report runs/default
    """
    from reports.report import build_report

    for path in build_report(run_dir, log=log):
        typer.echo(path)


def compare(
    rows: Annotated[list[str], typer.Argument(help="RUN or RUN:ROW (a table row's label), two rows or more in all.")],
    cluster: Annotated[str, typer.Option(help="Resample pairs, or whole source identities (identity).")] = "pair",
    correction: Annotated[str, typer.Option(help="Across all comparisons: holm, bh (Benjamini-Hochberg) or "
                                                 "none.")] = "holm",
    against: Annotated[str, typer.Option(help="AU reference: the estimator's reading of the target, or the "
                                              "labels.")] = "estimator",
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of the random sign patterns.")] = 0,
    alpha: Annotated[float, typer.Option(help="Significance level of the corrected p-values.")] = 0.05,
    out: Annotated[Path | None, typer.Option(help="Folder for compare.md/.tex/.json (default: "
                                                  "FIRST_RUN/compare).")] = None,
) -> None:
    """Paired tests of rows scored on the same pairs.

    Every two of the rows are compared on the per-pair AU error (sign-flip permutation test and
    Wilcoxon), Avg PCC (paired bootstrap), verification (exact McNemar) and, on SynthFACS, the
    ground-truth edit score. RUN alone means every method row of RUN. Runs scored on other pairs or
    by other evaluators are refused.

    \b
    Examples:
      eggan-bench compare runs/default:eggan runs/default:Ideal --cluster identity
    """
    from eggan.limits import check_int
    from evaluate.compare import CompareConfig, compare_rows, default_out
    from reports.comparison import write_comparison

    check_int(seed, "--seed")
    compared = compare_rows(rows, CompareConfig(cluster, correction, against, rounds, seed, alpha), log=log)
    written, markdown = write_comparison(compared, out or default_out(rows))
    typer.echo(markdown)
    typer.echo(f"written: {', '.join(map(str, written))}")
