"""Every example of the README (and docs/) and of every command's --help runs as written.

The examples are extracted, not copied: each line of a ```bash block of README.md and docs/**/*.md,
and each line under "Examples:" in a command's help. The examples of one source run in order in
one sandbox folder (cwd, with HOME = sandbox/home for "~"), so an example may use what an earlier
one wrote, as a reader following the text would. Before an example runs:
- APPENDED options and REPLACED text are applied (the smoke preset, one training step, one seed,
  a small synthetic dataset, the CPU for a GPU), and nothing else;
- a path it reads that does not exist yet is made by tests/example_inputs.py's INPUTS (a user's
  face, RaFD, trained runs, ...); OpenFace is a stand-in on PATH, gdown writes a test-made file.
The environment fixture shares trainings and the cache between examples and cuts what only costs
time (evaluator epochs, calibration pairs, throughput repeats); every stage an example names runs.
After it, the exit status must be 0 and the files OUTPUTS names must exist and be valid PNG, JSON,
CSV, Markdown or checkpoints. NOT_RUN lists the few examples that cannot run here, with why.

A new example is picked up automatically and fails here until it runs: if it reads a new kind of
file, add a recipe to INPUTS; if it is a new command, add its files to OUTPUTS; if it cannot run
on a CPU test machine at all, add it to NOT_RUN with the reason.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gdown
import pandas as pd
import pytest
import torch
import typer
from example_inputs import INPUTS, SMOKE_STEPS, Inputs, Trainings, lightcnn_weights
from hang_guard import HANG_GUARD_S
from openface_files import install_fake_openface
from PIL import Image
from typer.testing import CliRunner

import eggan.cli.pipeline
import evaluate.evaluation
import evaluate.throughput
from eggan.cli.main import app
from eggan.core import train as train_module
from eggan.core.checkpoint import load_file
from evaluate.au import LEARNED_SETTINGS
from evaluate.compare import default_out
from evaluate.identity import INDOMAIN_SETTINGS
from evaluate.weights import MANIFEST, expected_path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Options appended to a command before it runs: the last value of an option wins, and --set
# overrides apply in order, so these replace the example's own values. Trainings are cut to one
# step of the smoke preset (32 px), benchmarks to one seed and 2 pairs per expression.
APPENDED: dict[str, tuple[str, ...]] = {
    "train": ("--preset", "smoke", "--set", SMOKE_STEPS, "--no-progress"),
    "run": ("--preset", "smoke", "--set", SMOKE_STEPS, "--seeds", "0", "--per-expression", "2", "--no-progress"),
    "data synth": ("--identities", "3", "--test-identities", "1", "--variants", "1"),
}
# Text replaced in an example before it runs: (pattern, replacement, applies here).
REPLACED: list[tuple[str, str, bool]] = [
    (r"--device cuda\b", "--device cpu", not torch.cuda.is_available()),
]

# Example -> why it does not run here. Keep this short: anything a CPU can run, runs.
NOT_RUN: dict[str, str] = {
    'python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.14.1 torchvision==0.29.1 -e ".[dev]"':
        "the install: .ci/run executes it on a clean clone",
    "pytest": "the test suite itself: .ci/run executes it",
    "pytest --benchmark-only": "the timing benchmarks (tests/benchmarks/), minutes long; not a test",
    "pytest --benchmark-only --benchmark-autosave": "the timing benchmarks (tests/benchmarks/), minutes long",
    "pytest --benchmark-only --benchmark-compare": "the timing benchmarks (tests/benchmarks/), minutes long",
    "pytest --benchmark-only -k speedups --benchmark-group-by=group": "the speed-up benchmarks, minutes long",
    "pip install --no-deps -e examples/plugin-identity":
        "installs a package into the venv: tests/test_plugins.py runs it as written, then uninstalls it",
    "eggan-bench run --methods eggan,identity --out runs/mine":
        "needs the plug-in installed: tests/test_plugins.py runs it as written after the line above",
    "eggan-bench data disfa disfa_list.txt ~/DISFA/aligned --out data/disfa-authors --image-level-split":
        "the authors' split takes the first 20,000 lines as test: it needs their full list (tests/test_disfa.py "
        "checks the split on a short list)",
}


def run_dir_files(key: str) -> Callable[[dict[str, Any]], list[str]]:
    return lambda p: [f"{p[key]}/results.json", f"{p[key]}/tables/expression.md", f"{p[key]}/tables/identity.tex",
                      f"{p[key]}/figures/comparison.png"]


def dataset_files(p: dict[str, Any]) -> list[str]:
    return [f"{p['out']}/index.csv", f"{p['out']}/dataset.json"]


def evaluate_files(p: dict[str, Any]) -> list[str]:
    """`evaluate` writes into --run, or beside --checkpoint (a `train --out` folder)."""
    if p["export_images"]:
        return [f"{p['export_images']}/*.png"]
    folder = p["run"] or Path(p["checkpoint"]).parent
    return [f"{folder}/results.json", f"{folder}/eval/evaluators.json"]


# Command -> the files it must have written, from its parsed options (glob patterns allowed).
OUTPUTS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "train": lambda p: [f"{p['out']}/checkpoint.pt", f"{p['out']}/config.json", f"{p['out']}/meta.json"],
    "edit": lambda p: [str(p["out"])],
    "interpolate": lambda p: [str(p["out"])],
    "evaluate": lambda p: evaluate_files(p),
    "throughput": lambda p: [f"{p['run']}/eval/throughput.json"] if p["run"] else [],
    "run": run_dir_files("out"),
    "report": lambda p: [*run_dir_files("run_dir")(p)[1:], f"{p['run_dir']}/figures/per_au.png"],
    "data synth": lambda p: [f"{p['out']}/index.csv", f"{p['out']}/images/*/*.png"],
    "export-protocol": lambda p: [f"{p['out']}/protocol.json", f"{p['out']}/pairs.csv", f"{p['out']}/sources/*.png"],
    "score": lambda p: [f"{p['run']}/outside/{p['name']}/seed{p['seed']}/summary.json",
                        f"{p['run']}/tables/expression.md"],
    "compare": lambda p: [f"{p['out'] or default_out(p['rows'])}/compare.{ext}" for ext in ("md", "tex", "json")],
    "data show": lambda p: [str(p["out"])],
    "data rafd": dataset_files,
    "data folders": dataset_files,
    "data disfa": dataset_files,
    "data mmi": dataset_files,
    "data openface": lambda p: [f"{p['out']}/**/*.csv"],
    "weights fetch": lambda p: [str(expected_path(p["variant"], p["cache"])),
                               f"{expected_path(p['variant'], p['cache'])}.json"],  # the file and its record
}
OUTPUT_OPTIONS = {"out", "export_images", "cache"}  # never made as inputs (their folders may be)


# --- extraction ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    source: str  # "README.md", "docs/x.md" or "eggan-bench train --help"
    line: str


def doc_examples(path: Path) -> list[Example]:
    """Every command line in the file's ```bash blocks (comments and blank lines dropped)."""
    examples, fenced = [], False
    for raw in path.read_text().splitlines():
        text = raw.strip()
        if text.startswith("```"):
            fenced = not fenced and text[3:].strip() in ("bash", "sh", "shell", "console")
            continue
        command = text.split(" #", 1)[0].strip()
        if fenced and command and not command.startswith("#"):
            examples.append(Example(str(path.relative_to(ROOT)), command.removeprefix("$ ")))
    return examples


@functools.cache
def commands() -> dict[str, Any]:
    """'train', 'data rafd', ...: every click command of the app."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        if not hasattr(command, "commands"):
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def help_examples(name: str, command: Any) -> list[Example]:
    text = (command.help or "").split("Examples:", 1)
    lines = text[1].strip().split("\n\n", 1)[0].splitlines() if len(text) == 2 else []
    return [Example(f"eggan-bench {name} --help", line.strip()) for line in lines if line.strip()]


def all_examples() -> dict[str, list[Example]]:
    sources = {str(path.relative_to(ROOT)): doc_examples(path) for path in DOCS}
    sources.update({f"eggan-bench {name} --help": help_examples(name, cmd) for name, cmd in commands().items()})
    return {source: examples for source, examples in sources.items() if examples}


# --- running -------------------------------------------------------------------------------------


def substituted(line: str) -> list[str]:
    """The example as it runs here: argv after the text replacements and appended options."""
    for pattern, replacement, applies in REPLACED:
        if applies:
            line = re.sub(pattern, replacement, line)
    argv = shlex.split(line)
    name = command_name(argv)
    return [*argv, *APPENDED.get(name, ())] if name else argv


def command_name(argv: list[str]) -> str | None:
    """'train' for `eggan-bench train ...` and `torchrun ... -m eggan train ...`, 'data rafd', ..."""
    if argv[0] == "eggan-bench":
        rest = argv[1:]
    elif argv[0] == "torchrun" and "-m" in argv and argv[argv.index("-m") + 1] == "eggan":
        rest = argv[argv.index("-m") + 2 :]
    else:
        return None
    known = commands()
    for size in (2, 1):
        name = " ".join(rest[:size])
        if name in known:
            return name
    return None


def cli_args(argv: list[str], name: str) -> list[str]:
    """What follows the command name (the options and arguments click parses)."""
    start = argv.index("eggan") + 1 if argv[0] == "torchrun" else 1
    return argv[start + len(name.split()) :]


def parsed(name: str, args: list[str]) -> dict[str, Any]:
    return commands()[name].make_context(name, list(args)).params


def make_inputs(argv: list[str], params: dict[str, Any], inputs: Inputs) -> None:
    """Make every INPUTS path the example reads (or reads below) that does not exist yet."""
    outputs = {os.path.normpath(str(params[k])) for k in OUTPUT_OPTIONS if params.get(k) is not None}
    for token in argv[1:]:
        written = os.path.normpath(token.partition(":")[0] if name_of_row(token) else token)
        for key in [written, *(str(p) for p in Path(written).parents if str(p) != ".")]:
            path = Path(os.path.expanduser(key))
            if key in INPUTS and key not in outputs and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                INPUTS[key](path.resolve(), inputs)


def name_of_row(token: str) -> bool:
    """`compare`'s RUN:ROW: the run is the path the example reads."""
    run, colon, row = token.partition(":")
    return bool(colon and run and row and not token.startswith("-"))


def check_file(path: Path) -> None:
    """The file is what its suffix says: a PNG, JSON, CSV, Markdown/LaTeX text or a checkpoint."""
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".pth.tar") else path.suffix
    if suffix == ".png":
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 0, path
            image.verify()
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".csv":
        assert len(pd.read_csv(path)) >= 1, path
    elif suffix in (".md", ".tex"):
        assert path.read_text().strip(), path
    elif suffix in (".pt", ".pth.tar"):
        assert isinstance(load_file(path), dict), path
    else:
        raise AssertionError(f"{path}: add a check for {suffix or 'this'} files to check_file")


def check_outputs(name: str, params: dict[str, Any], line: str) -> None:
    for pattern in OUTPUTS[name](params):
        found = [Path(p) for p in sorted(glob.glob(os.path.expanduser(pattern), recursive=True))]
        found = [p for p in found if p.is_file()]
        assert found, f"{line}: wrote no {pattern}"
        for path in found[:20]:
            check_file(path)


def run_example(example: Example, inputs: Inputs) -> None:
    argv = substituted(example.line)
    name = command_name(argv)
    assert name is not None, (f"{example.source}: {example.line!r} is neither an eggan-bench command nor in "
                              "NOT_RUN; add a way to run it or a reason")
    assert name in OUTPUTS, f"{example.line}: add the files `{name}` writes to OUTPUTS"
    params = parsed(name, cli_args(argv, name))
    make_inputs(argv, params, inputs)
    argv = [os.path.expanduser(token) for token in argv]  # what the shell does with a leading ~
    if argv[0] == "torchrun":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([str(Path(sys.executable).parent / "torchrun"), *argv[1:]], env=env,
                              capture_output=True, text=True, timeout=HANG_GUARD_S)
        assert done.returncode == 0, f"{example.line}\n{done.stdout}\n{done.stderr}"
        warnings_shown = [line for line in done.stderr.splitlines() if "random VGG19" in line]
        assert all(line.startswith("warning: ") for line in warnings_shown), done.stderr
    else:
        result = CliRunner().invoke(app, argv[1:])
        assert result.exit_code == 0, f"{example.line}\n{result.output}\n{result.exception!r}"
    check_outputs(name, params, example.line)


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    return Inputs(Trainings(tmp_path_factory.mktemp("trainings")), tmp_path_factory.mktemp("shared"))


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[None]:
    """One cache (SynthFACS renders, evaluators) and one training memory for all examples;
    OpenFace's stand-in on PATH; gdown writing test-made LightCNN weights; trainings shared.

    What only costs time is cut: `evaluate` scores 2 pairs per expression (as `run` does, with
    its --per-expression 2 above), verifiers are calibrated on 32 real pairs, the in-domain
    evaluators train for one epoch, throughput times one call at batch size 1. The examples
    still run every stage they name."""
    patch = pytest.MonkeyPatch()
    bin_dir = tmp_path_factory.mktemp("bin")
    install_fake_openface(bin_dir / "FaceLandmarkImg")
    patch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    patch.setenv("EGGAN_CACHE", str(tmp_path_factory.mktemp("cache")))
    patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch")))  # no ImageNet VGG19: the smoke default
    variants = {entry.drive_id: variant for variant, entry in MANIFEST.items()}

    released = tmp_path_factory.mktemp("released")
    for variant, entry in MANIFEST.items():  # the test-made files stand in for the released ones
        if entry.sha256 is not None:
            made = lightcnn_weights(variant, released / entry.filename)  # the same bytes at any path
            patch.setitem(MANIFEST, variant, dataclasses.replace(
                entry, sha256=hashlib.sha256(made.read_bytes()).hexdigest(), size=made.stat().st_size))

    def download(id: str, output: str, **_: object) -> str:
        return str(lightcnn_weights(variants[id], Path(output)))

    patch.setattr(gdown, "download", download)
    patch.setattr(train_module, "train_run", inputs.trainings)  # `eggan-bench train` imports it when called
    patch.setattr(eggan.cli.pipeline, "train_run", inputs.trainings)
    patch.setattr(evaluate.evaluation, "evaluate_run", functools.partial(evaluate.evaluation.evaluate_run,
                                                                          per_expression=2))
    patch.setattr(evaluate.evaluation, "calibrate", functools.partial(evaluate.evaluation.calibrate, count=32))
    patch.setitem(LEARNED_SETTINGS, "epochs", 1)
    patch.setitem(INDOMAIN_SETTINGS, "epochs", 1)
    patch.setattr(evaluate.throughput, "measure",
                  functools.partial(evaluate.throughput.measure, batch_sizes=(1,), warmup=0, repeats=1))
    yield
    patch.undo()


EXAMPLES = all_examples()


@pytest.mark.parametrize("source", EXAMPLES)
def test_examples_run_as_written(source: str, environment: None, inputs: Inputs, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for example in EXAMPLES[source]:
        if example.line not in NOT_RUN:
            run_example(example, inputs)


def test_not_run_lists_only_current_examples() -> None:
    lines = {example.line for examples in EXAMPLES.values() for example in examples}
    assert sorted(set(NOT_RUN) - lines) == []


def test_every_command_documents_an_example() -> None:
    documented = {command_name(shlex.split(example.line)) for examples in EXAMPLES.values() for example in examples}
    assert set(commands()) <= documented
