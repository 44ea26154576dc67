"""`eggan-bench train`, `edit`, `interpolate`: train one method, then use its checkpoint on a face."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eggan.cli.options import AllowOtherData, DataSource, Device, Overrides, Preset, console, log


def train(
    method: Annotated[str, typer.Option(help="eggan, stargan, homointerp or ganimation.")] = "eggan",
    preset: Preset = "quick",
    data: DataSource = "synthfacs",
    out: Annotated[Path, typer.Option(help="Run directory (created; resumed when it has a checkpoint).")] = Path(
        "runs/train"
    ),
    overrides: Overrides = None,
    device: Device = "auto",
    fresh: Annotated[bool, typer.Option(help="Ignore an existing checkpoint instead of resuming.")] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    allow_other_data: AllowOtherData = False,
) -> None:
    """Train one method (resuming from OUT/checkpoint.pt).

    An existing OUT/checkpoint.pt is resumed (exactly, on a CPU) unless --fresh is given.

    \b
    Examples:
      eggan-bench train --method eggan --preset quick --data synthfacs --out runs/eggan-quick
      eggan-bench train --method stargan --preset smoke --out runs/s --set train.steps=40
      torchrun --standalone --nproc_per_node=2 -m eggan train --method eggan --preset quick --out runs/ddp
    """
    from eggan.core.train import resolve_config, train_run
    from evaluate.monitor import edit_monitor

    config = resolve_config(method, preset, data, overrides or [], device)
    result = train_run(config, out, resume=not fresh, progress=progress, allow_other_data=allow_other_data,
                       log=lambda msg: console.print(msg, markup=False, highlight=False, soft_wrap=True),
                       monitor_for=lambda dataset: edit_monitor(config.data, dataset, config.train.seed))
    if result.rank == 0:
        typer.echo(f"{method}: step {result.step}/{result.total_steps}, checkpoint {result.checkpoint}")


Checkpoint = Annotated[Path, typer.Option(help="A run's checkpoint.pt (any method).")]
AusCheckpoint = Annotated[
    Path, typer.Option(help="A run's checkpoint.pt of a model conditioned on AU vectors (eggan or ganimation).")
]
SourceImage = Annotated[Path, typer.Option(help="Source face image (centre-cropped, resized to the model's size).")]
TargetImage = Annotated[
    Path | None,
    typer.Option(help="Target face image: its labels from the run's dataset index; another face's AUs are read by "
                 "the run's in-domain AU estimator."),
]
TargetAus = Annotated[str | None, typer.Option(help='Target AU intensities 0-5, e.g. "AU12=3,AU06=2" (others 0).')]
EditDevice = Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")]


def edit(
    checkpoint: Checkpoint,
    source: SourceImage,
    out: Annotated[Path, typer.Option(help="Output PNG: [source | edited].")],
    target_image: TargetImage = None,
    target_aus: TargetAus = None,
    target_expression: Annotated[str | None, typer.Option(help="Target expression, e.g. happy.")] = None,
    device: EditDevice = "cpu",
) -> None:
    """Edit one face with a trained model.

    The target is an image, an AU vector or an expression, whichever the model is conditioned on.

    \b
    Examples:
      eggan-bench edit --checkpoint runs/q/checkpoint.pt --source face.png --target-aus "AU12=3,AU06=2" --out e.png
      eggan-bench edit --checkpoint runs/s/checkpoint.pt --source face.png --target-expression happy --out h.png
    """
    from eggan.core.edit import edit_face
    from evaluate.au import run_au_reader

    typer.echo(edit_face(checkpoint, source, out, target_image, target_aus, target_expression, device,
                         read_aus=run_au_reader(checkpoint, device, log=log), log=log))


def interpolate(
    checkpoint: AusCheckpoint,
    source: SourceImage,
    out: Annotated[Path, typer.Option(help="Output PNG strip: [source | alpha = 0 ... 1].")],
    target_aus: TargetAus = None,
    target_image: TargetImage = None,
    source_aus: Annotated[
        str | None,
        typer.Option(help='Source AUs, e.g. "AU12=0" (default: its labels in the run\'s dataset index, else read by '
                     "the run's in-domain AU estimator, trained on first use).")
    ] = None,
    steps: Annotated[int, typer.Option(help="Frames from alpha = 0 to 1.")] = 7,
    device: EditDevice = "cpu",
) -> None:
    """Interpolate a face from its AUs to target AUs as one strip.

    The paper's Eq 8, G(l_s | u_s + alpha (u_t - u_s)) for alpha from 0 to 1: only for models
    conditioned on AU vectors (eggan, ganimation). A face that is not in the run's dataset has no
    AU labels: its AUs are read by the run's in-domain AU estimator (trained once on the run's
    dataset, then cached) and printed, or given with --source-aus.

    \b
    Examples:
      eggan-bench interpolate --checkpoint runs/q/checkpoint.pt --source a.png --target-aus AU12=4 --out s.png
      eggan-bench interpolate --checkpoint c.pt --source a.png --source-aus AU12=0 --target-image b.png --out t.png
    """
    from eggan.core.edit import interpolation_strip
    from evaluate.au import run_au_reader

    typer.echo(interpolation_strip(checkpoint, source, out, target_aus, target_image, source_aus, steps, device,
                                   read_aus=run_au_reader(checkpoint, device, log=log), log=log))
