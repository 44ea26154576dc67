"""What the commands share: the console they report on, the options several of them take,
declared once, and the summary table `run`, `evaluate` and `score` end with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)


def log(message: str) -> None:
    """Progress lines of the library functions, on stderr so that stdout carries only the result."""
    console.print(message, highlight=False, soft_wrap=True)


# Options several commands share, declared once.
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
DataSource = Annotated[str, typer.Option(help="'synthfacs' or a dataset folder with index.csv.")]
Preset = Annotated[str, typer.Option(help="smoke, quick, standard or paper.")]
Estimator = Annotated[str, typer.Option(help="AU estimator: learned (in-domain) or openface.")]
OpenFaceCSV = Annotated[
    Path | None, typer.Option(help="Folder of OpenFace CSVs named <key>.csv (instead of the binary).")
]
Verifier = Annotated[str, typer.Option(help="indomain, lightcnn-9, lightcnn-29 or lightcnn-29v2.")]
VerifierWeights = Annotated[Path | None, typer.Option(help="LightCNN weights file (default: the cache).")]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Config override section.field=value (repeatable), e.g. train.steps=200."),
]
AcceptUnverifiedWeights = Annotated[
    bool,
    typer.Option(help="Use a LightCNN file that is not the released one by its sha256 (or has no published checksum); "
                 "captioned 'unverified weights'. Without it such a file is refused."),
]
AcceptNewWeights = Annotated[
    bool,
    typer.Option(help="Rescore a run folder with a LightCNN file other than the one (by sha256) it was evaluated "
                 "with. Without it such a file is refused."),
]
AllowOtherData = Annotated[
    bool,
    typer.Option(help="Use checkpoints trained on other data than the data has now (another fingerprint); said in "
                 "every caption. Without it they are refused."),
]


def print_headline(lines: list[dict], where: str) -> None:
    """The headline of every row (AU error, PCC, verification), with where the full tables are."""
    table = Table(title=f"eggan-bench summary (see {where})")
    for column in ("row", "Avg MSE", "Avg PCC", "verification acc."):
        table.add_column(column, justify="left" if column == "row" else "right")
    for line in lines:
        acc = line["accuracy"]
        accuracy = "n/a" if acc is None else f"{100 * acc:.2f} %"
        table.add_row(line["label"], _fmt(line["mse"]), _fmt(line["pcc"]), accuracy)
    Console().print(table)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
