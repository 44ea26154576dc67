"""`eggan-bench`: a thin typer layer. Each command parses its options, calls one library function
(the same one the tests call) and prints the outcome. User errors (`EgganError`) become one line
on stderr and exit status 2; Ctrl-C one line saying how to go on, and exit status 130.

The commands live by what they work on: models.py (train, edit, interpolate), scoring.py
(evaluate, export-protocol, score, weights fetch, throughput), benchmark.py (run, report,
compare), data.py (the `data` group); this module gathers them into one application.
"""

from __future__ import annotations

import sys
import warnings
from typing import TextIO

import typer
from rich.markup import escape

from eggan.cli import benchmark, models, scoring
from eggan.cli.data import data_app
from eggan.cli.options import console
from eggan.errors import EgganError, EgganWarning, Interrupted

app = typer.Typer(
    name="eggan-bench",
    help="Fine-grained facial expression manipulation benchmark: EGGAN, StarGAN, HomoInterpGAN, GANimation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
)
weights_app = typer.Typer(help="Fetch and check evaluator weights (LightCNN).", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(weights_app, name="weights")
for command in (models.train, models.edit, models.interpolate, scoring.evaluate, scoring.export_protocol,
                scoring.score, scoring.throughput, benchmark.run, benchmark.report, benchmark.compare):
    app.command()(command)  # the name from the function's: export_protocol -> export-protocol
weights_app.command("fetch")(scoring.weights_fetch)


def main() -> None:
    """Console-script entry point."""
    show_warnings_as_lines()
    try:
        app()
    except Interrupted as exc:
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(130)
    except EgganError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except SystemExit as exc:
        if exc.code == 130:  # typer's silent answer to a Ctrl-C outside a training loop
            console.print("interrupted; rerun the same command to continue", markup=False, highlight=False)
        raise


def show_warnings_as_lines() -> None:
    """Print every warning as one line like an error, the suite's own once per process.

    Python's default display adds the file path, line number and source line that warned, which
    tells a user of the command nothing; another package's warning keeps its category name so it
    can still be reported upstream.
    """

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        console.print(f"[yellow]warning:[/] {escape(warning_line(message, category))}", highlight=False,
                      soft_wrap=True)

    warnings.showwarning = show
    warnings.filterwarnings("once", category=EgganWarning)


def warning_line(message: Warning | str, category: type[Warning]) -> str:
    """One line: the message with its newlines folded, prefixed by the category unless it is ours."""
    text = " ".join(str(message).split())
    return text if issubclass(category, EgganWarning) else f"{category.__name__}: {text}"
