"""`eggan-bench evaluate`, `export-protocol`, `score`, `weights fetch`, `throughput`: score trained
models, or another method's outputs, on the protocol; fetch the verifier's weights; time translation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eggan.cli.options import (
    AcceptNewWeights,
    AcceptUnverifiedWeights,
    AllowOtherData,
    Device,
    Estimator,
    OpenFaceCSV,
    Verifier,
    VerifierWeights,
    log,
    print_headline,
)
from eggan.errors import ConfigError


def evaluate(
    run: Annotated[
        Path | None,
        typer.Option(help="A `run --out` folder (train/<label>/seed<k>/ inside) or a `train --out` folder."),
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="A `train --out` folder's checkpoint.pt (results are written beside it).")
    ] = None,
    estimator: Estimator = "learned",
    openface_csv: OpenFaceCSV = None,
    verifier: Verifier = "indomain",
    weights: VerifierWeights = None,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(help="Pairs per translate call.")] = 32,
    export_images: Annotated[
        Path | None, typer.Option(help="Only write the images OpenFace must read (<key>.png) to this folder.")
    ] = None,
    allow_other_data: AllowOtherData = False,
    accept_unverified_weights: AcceptUnverifiedWeights = False,
    accept_new_weights: AcceptNewWeights = False,
) -> None:
    """Score trained models on the protocol's pairs.

    RUN is a `run --out` folder (every trained run in it), or a `train --out` folder; --checkpoint
    names that folder's checkpoint.pt. Writes RUN/eval/ and RUN/results.json (keeping the parts it
    does not compute: throughput, example images), then rebuilds the tables and figures. With
    --export-images, write the target, source and generated images named by their keys instead, to
    run OpenFace on elsewhere and come back with --openface-csv.

    \b
    Examples:
      eggan-bench evaluate --run runs/quick
      eggan-bench evaluate --checkpoint runs/eggan-quick/checkpoint.pt
      eggan-bench evaluate --run runs/rafd --export-images runs/rafd/images
      eggan-bench evaluate --run runs/rafd --estimator openface --openface-csv runs/rafd/openface
      eggan-bench evaluate --run runs/rafd --verifier lightcnn-29v2 --weights LightCNN_29Layers_V2_checkpoint.pth.tar
    """
    from evaluate.evaluation import evaluate_run, run_folder
    from evaluate.export import export_images as export

    run = run_folder(run, checkpoint)
    if export_images is not None:
        count = export(run, export_images, device=device, batch_size=batch_size, allow_other_data=allow_other_data)
        typer.echo(f"{count} images in {export_images}; run OpenFace's FaceLandmarkImg -fdir on them")
        return
    results = evaluate_run(run, estimator=estimator, openface_csv=openface_csv, verifier=verifier,
                           weights=weights, device=device, batch_size=batch_size, log=log,
                           allow_other_data=allow_other_data, accept_unverified_weights=accept_unverified_weights,
                           accept_new_weights=accept_new_weights)
    from reports.report import build_report
    from reports.results import headline

    build_report(run, log=log)
    print_headline(headline(results), f"{run / 'results.json'}, {run / 'tables'} and {run / 'figures'}")


def export_protocol(
    run: Annotated[Path, typer.Option(help="Benchmark run directory with train/<label>/seed<k>/ inside.")],
    out: Annotated[Path, typer.Option(help="New folder for the protocol (refused if it holds anything).")],
    allow_other_data: AllowOtherData = False,
) -> None:
    """Export the protocol as plain files.

    OUT gets sources/ and targets/ (<pair>.png), pairs.csv (ids, expressions, identities, the 17
    target and source AU intensities, original paths) and protocol.json (image size, AU order and
    scale, dataset fingerprint, pairs hash, the output layout that `score` reads).

    \b
    Examples:
      eggan-bench export-protocol --run runs/default --out protocol
    """
    from evaluate.outside import export_protocol as export

    typer.echo(f"protocol of {run} in {export(run, out, allow_other_data)}; write <pair>.png per pair, then "
               f"`eggan-bench score --run {run} --outputs DIR --name NAME`")


def score(
    run: Annotated[Path, typer.Option(help="An evaluated benchmark run directory.")],
    outputs: Annotated[Path, typer.Option(help="Folder with one <pair>.png per protocol pair and nothing else.")],
    name: Annotated[str, typer.Option(help="The row's name in every table.")],
    seed: Annotated[int, typer.Option(help="Which seed of NAME these outputs are (one folder per seed).")] = 0,
    estimator: Annotated[str | None, typer.Option(help="AU estimator (default: the run's own, bench.json).")] = None,
    openface_csv: OpenFaceCSV = None,
    verifier: Annotated[str | None, typer.Option(help="Verifier (default: the run's own, bench.json).")] = None,
    weights: VerifierWeights = None,
    device: Device = "auto",
    batch_size: Annotated[int, typer.Option(help="Pairs per scoring batch.")] = 32,
    allow_other_data: AllowOtherData = False,
    accept_unverified_weights: AcceptUnverifiedWeights = False,
    accept_new_weights: AcceptNewWeights = False,
) -> None:
    """Score a folder of outputs as a table row.

    The folder is checked whole first (every missing, extra, wrongly sized or unreadable file is
    named in one line, and nothing is written). It is then scored with the run's evaluators (those
    bench.json records, unless given) on the run's pairs and stays a row across `evaluate` and
    `report`; a folder changed since is rescored.

    \b
    Examples:
      eggan-bench score --run runs/default --outputs my_outputs --name mine
    """
    from eggan.limits import check_int
    from evaluate.outside import score_folder
    from reports.report import build_report
    from reports.results import headline

    check_int(seed, "--seed")
    results = score_folder(run, outputs, name, seed, log=log, allow_other_data=allow_other_data,
                           estimator=estimator, openface_csv=openface_csv, verifier=verifier, weights=weights,
                           device=device, batch_size=batch_size, accept_unverified_weights=accept_unverified_weights,
                           accept_new_weights=accept_new_weights)
    build_report(run, log=log)
    print_headline(headline(results), f"{run / 'results.json'}, {run / 'tables'} and {run / 'figures'}")



def weights_fetch(
    variant: Annotated[str, typer.Argument(help="lightcnn-9, lightcnn-29 or lightcnn-29v2.")],
    cache: Annotated[Path | None, typer.Option(help="Weights folder (default: the suite's cache).")] = None,
    accept_unverified_weights: AcceptUnverifiedWeights = False,
) -> None:
    """Download released LightCNN weights, or check them.

    gdown fetches the file into the cache; it is checked against the released file's sha256 where
    one is public (LightCNN-29v2), and its size and sha256 are recorded; a file already there is
    checked again. A file with no published checksum to match is kept only with
    --accept-unverified-weights. Offline, the error says where to put a file downloaded by hand.

    \b
    Examples:
      eggan-bench weights fetch lightcnn-29v2
      eggan-bench weights fetch lightcnn-9 --cache ~/weights --accept-unverified-weights
    """
    from evaluate.weights import fetch_weights

    typer.echo(f"{variant}: {fetch_weights(variant, cache, accept_unverified_weights)}")


def throughput(
    run: Annotated[Path | None, typer.Option(help="Benchmark run directory (every label, first seed).")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="One checkpoint.pt instead of a run.")] = None,
    device: Device = "auto",
) -> None:
    """Measure translations per second at batch sizes 1, 8 and 32.

    After warm-up passes, with GPU synchronisation around the timed calls.

    \b
    Examples:
      eggan-bench throughput --run runs/quick
      eggan-bench throughput --checkpoint runs/quick/train/eggan/seed0/checkpoint.pt --device cuda
    """
    if (run is None) == (checkpoint is None):
        raise ConfigError("give exactly one of --run and --checkpoint")
    if run is not None:
        from evaluate.throughput import run_throughput

        measured = run_throughput(run, device)
    else:
        from eggan.core.runmeta import select_device
        from eggan.core.train import load_trained
        from evaluate.throughput import measure

        method = load_trained(checkpoint, select_device(device))
        measured = {method.name: measure(method)}
    for label, result in measured.items():
        speeds = ", ".join(f"b{b['batch_size']}: {b['translations_per_s']:.1f}/s" for b in result["batches"])
        typer.echo(f"{label} on {result['device']['name']} ({result['threads']} threads): {speeds}")


# --- the benchmark --------------------------------------------------------------------------
