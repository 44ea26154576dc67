"""`eggan-bench`: a thin typer layer. Each command parses its options, calls one library function
(the same one the tests call) and prints the outcome. User errors (`EgganError`) become one line
on stderr and exit status 2; Ctrl-C one line saying how to go on, and exit status 130.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from eggan.cli.data import data_app
from eggan.errors import ConfigError, EgganError, EgganWarning, Interrupted

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
console = Console(stderr=True)


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


# --- training -------------------------------------------------------------------------------

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


@app.command()
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


# --- editing a face with a trained model ---------------------------------------------------

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


@app.command()
def edit(
    checkpoint: Checkpoint,
    source: SourceImage,
    out: Annotated[Path, typer.Option(help="Output PNG: [source | edited].")],
    target_image: TargetImage = None,
    target_aus: TargetAus = None,
    target_expression: Annotated[str | None, typer.Option(help="Target expression, e.g. happy.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
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
                         read_aus=run_au_reader(checkpoint, device, log=_log), log=_log))


@app.command()
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
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N.")] = "cpu",
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
                                   read_aus=run_au_reader(checkpoint, device, log=_log), log=_log))


def _log(message: str) -> None:
    console.print(message, highlight=False, soft_wrap=True)


# --- evaluation -----------------------------------------------------------------------------


@app.command()
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
                           weights=weights, device=device, batch_size=batch_size, log=_log,
                           allow_other_data=allow_other_data, accept_unverified_weights=accept_unverified_weights,
                           accept_new_weights=accept_new_weights)
    from reports.report import build_report
    from reports.results import headline

    build_report(run, log=_log)
    _print_headline(headline(results), f"{run / 'results.json'}, {run / 'tables'} and {run / 'figures'}")


@app.command("export-protocol")
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


@app.command()
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
    results = score_folder(run, outputs, name, seed, log=_log, allow_other_data=allow_other_data,
                           estimator=estimator, openface_csv=openface_csv, verifier=verifier, weights=weights,
                           device=device, batch_size=batch_size, accept_unverified_weights=accept_unverified_weights,
                           accept_new_weights=accept_new_weights)
    build_report(run, log=_log)
    _print_headline(headline(results), f"{run / 'results.json'}, {run / 'tables'} and {run / 'figures'}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@weights_app.command("fetch")
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


@app.command()
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


@app.command()
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
    _print_headline(headline(results), f"{out}/tables and {out}/figures")


def _print_headline(lines: list[dict], where: str) -> None:
    from rich.table import Table

    table = Table(title=f"eggan-bench summary (see {where})")
    for column in ("row", "Avg MSE", "Avg PCC", "verification acc."):
        table.add_column(column, justify="left" if column == "row" else "right")
    for line in lines:
        acc = line["accuracy"]
        accuracy = "n/a" if acc is None else f"{100 * acc:.2f} %"
        table.add_row(line["label"], _fmt(line["mse"]), _fmt(line["pcc"]), accuracy)
    Console().print(table)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory with results.json.")]) -> None:
    """Rebuild every table and figure from RUN/results.json alone.

    Tables in Markdown and LaTeX under RUN/tables/, figures under RUN/figures/.

    \b
    Examples:
      eggan-bench report runs/default
    """
    from reports.report import build_report

    for path in build_report(run_dir, log=_log):
        typer.echo(path)


@app.command()
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
    compared = compare_rows(rows, CompareConfig(cluster, correction, against, rounds, seed, alpha), log=_log)
    written, markdown = write_comparison(compared, out or default_out(rows))
    typer.echo(markdown)
    typer.echo(f"written: {', '.join(map(str, written))}")
