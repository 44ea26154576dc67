"""`eggan-bench`: a thin typer layer. Each command parses its options, calls one library function
(the same one the tests call) and prints the outcome. User errors (`EgganError`) become one line
on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from eggan.errors import EgganError

app = typer.Typer(
    name="eggan-bench",
    help="Fine-grained facial expression manipulation benchmark: EGGAN, StarGAN, HomoInterpGAN, GANimation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Render SynthFACS, look at a dataset, ingest real datasets.", no_args_is_help=True)
weights_app = typer.Typer(help="Fetch and check evaluator weights (LightCNN).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(weights_app, name="weights")
console = Console(stderr=True)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except EgganError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


# --- data -----------------------------------------------------------------------------------


# --- training -------------------------------------------------------------------------------

Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Config override section.field=value (repeatable), e.g. train.steps=200."),
]


@app.command()
def train(
    method: Annotated[str, typer.Option(help="eggan, stargan, homointerp or ganimation.")] = "eggan",
    preset: Annotated[str, typer.Option(help="smoke, quick or paper.")] = "quick",
    data: Annotated[str, typer.Option(help="'synthfacs' or a dataset folder with index.csv.")] = "synthfacs",
    out: Annotated[Path, typer.Option(help="Run directory (created; resumed when it has a checkpoint).")] = Path(
        "runs/train"
    ),
    overrides: Overrides = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    fresh: Annotated[bool, typer.Option(help="Ignore an existing checkpoint instead of resuming.")] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train one method; resumes from OUT/checkpoint.pt when present.

    Examples:
      eggan-bench train --method eggan --preset quick --data synthfacs --out runs/eggan-quick
      eggan-bench train --method stargan --preset smoke --out runs/s --set train.steps=40
      torchrun --nproc_per_node=2 -m eggan train --method eggan --preset quick --out runs/ddp
    """
    from eggan.train import resolve_config, train_run

    config = resolve_config(method, preset, data, overrides or [], device)
    result = train_run(config, out, resume=not fresh, progress=progress)
    if result.rank == 0:
        typer.echo(f"{method}: step {result.step}/{result.total_steps}, checkpoint {result.checkpoint}")


# --- editing a face with a trained model ---------------------------------------------------


# --- evaluation -----------------------------------------------------------------------------


# --- the benchmark --------------------------------------------------------------------------
