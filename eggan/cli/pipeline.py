"""`eggan-bench run`: the whole benchmark, stage by stage, resumable.

Stages: plan and check everything (unknown methods, unreadable data, missing weights fail here,
before any training) -> data -> train every (label, seed) -> evaluate on the protocol ->
throughput -> example images -> tables and figures. Every stage writes atomically into the run
directory and skips what is already done, so an interrupted run started again continues where it
stopped: a finished checkpoint is reused, an unfinished one resumed, a scored seed not rescored.

Run directory::

    RUN/bench.json                the resolved benchmark config; RUN/meta.json: versions, device
    RUN/train/<label>/seed<k>/    one training run each (config.json, meta.json, checkpoint.pt, ...)
    RUN/eval/                     pairs, evaluators, per-pair results, throughput; *.stage.json: the
                                  throughput and example images with the checkpoint steps they came from
    RUN/results.json              everything the report reads
    RUN/tables/, RUN/figures/     built from results.json by reports.report.build_report
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from eggan.core.checkpoint import CHECKPOINT_NAME, load_checkpoint
from eggan.core.config import RunConfig
from eggan.core.lock import locked_dir
from eggan.core.provenance import check_config_copy, check_data, restore_config_copy
from eggan.core.registry import get_method
from eggan.core.runmeta import environment, select_device
from eggan.core.train import load_trained, resolve_config, train_run
from eggan.data.dataset import FaceDataset, read_index
from eggan.data.sources import open_dataset
from eggan.errors import ConfigError, DataError
from eggan.io import atomic_write_json
from eggan.limits import MAX_SEED, check_int
from evaluate.au import check_estimator_inputs
from evaluate.evaluation import evaluate_run
from evaluate.evaluators import NEW_WEIGHTS_FLAG, check_evaluators, check_run_weights
from evaluate.examples import collect_examples
from evaluate.groundtruth import ideal_renderer
from evaluate.identity import check_verifier_weights
from evaluate.monitor import edit_monitor
from evaluate.run_data import find_runs
from evaluate.throughput import run_throughput
from reports.report import build_report
from reports.results import ABLATION_LABELS, load_results

DEFAULT_METHODS = ("eggan", "stargan", "homointerp")


@dataclass
class BenchConfig:
    """What `eggan-bench run` does; dumped as ``RUN/bench.json``."""

    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    ablations: bool = False
    preset: str = "quick"
    data: str = "synthfacs"
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    overrides: list[str] = field(default_factory=list)  # applied to every method's config
    estimator: str = "learned"
    openface_csv: str | None = None
    verifier: str = "indomain"
    weights: str | None = None
    per_expression: int = 174
    examples: int = 8
    interpolation_steps: int = 7


@dataclass
class Job:
    label: str
    seed: int
    config: RunConfig


def plan(bench: BenchConfig, accept_unverified_weights: bool = False) -> list[Job]:
    """Every (label, seed) training job, with its config resolved and every input checked: the
    methods, the data, the evaluators' weights, CSV folder or binary (nothing fails after training)."""
    if not bench.methods:
        raise ConfigError("--methods is empty")
    if not bench.seeds or len(set(bench.seeds)) < len(bench.seeds) or not all(0 <= s <= MAX_SEED for s in bench.seeds):
        seeds = ",".join(map(str, bench.seeds))
        raise ConfigError(f"--seeds {seeds}: expected distinct integers from 0 to {MAX_SEED}, e.g. 0,1,2")
    if bench.per_expression < 1:
        raise ConfigError(f"--per-expression must be at least 1, got {bench.per_expression}")
    check_int(bench.per_expression, "--per-expression")
    check_evaluators(bench.estimator, bench.verifier)
    for name in bench.methods:
        get_method(name)  # unknown names fail here, before anything runs
    if bench.ablations and "eggan" not in bench.methods:
        raise ConfigError("--ablations compares against the full EGGAN: add eggan to --methods")
    if bench.data != "synthfacs":
        read_index(bench.data)  # an unreadable dataset fails here, in one line
    labels = [(name, name, []) for name in bench.methods]
    if bench.ablations:
        labels += [(label, "eggan", [f"model.{switch}=true"]) for switch, label in ABLATION_LABELS.items()]
    jobs = []
    for label, method, extra in labels:
        for seed in bench.seeds:
            config = resolve_config(method, bench.preset, bench.data,
                                    [*bench.overrides, *extra, f"train.seed={seed}"], bench.device)
            get_method(method).check_requirements(config)
            jobs.append(Job(label, seed, config))
    sizes = {job.config.data.image_size for job in jobs}
    if len(sizes) > 1:
        raise ConfigError(f"the methods' presets use different image sizes {sorted(sizes)}; one protocol needs one")
    check_verifier_weights(bench.verifier, bench.weights, accept_unverified_weights)
    check_estimator_inputs(bench.estimator, bench.openface_csv)
    return jobs


def _check_same_bench(path: Path, bench: BenchConfig) -> None:
    """Continuing a run is only meaningful with the config it started with (device may change)."""
    if not path.is_file():
        return
    saved = json.loads(path.read_text())
    current = dataclasses.asdict(bench)
    for key in current:
        if key != "device" and saved.get(key) != current[key]:
            raise ConfigError(f"this run directory was started with {key}={saved.get(key)!r}, not "
                              f"{current[key]!r}; use another --out", path)


def run_benchmark(
    bench: BenchConfig, out_dir: str | Path, progress: bool = True, log: Callable[[str], None] = print,
    allow_other_data: bool = False, accept_unverified_weights: bool = False,
) -> dict[str, Any]:
    """Run (or continue) the benchmark in ``out_dir``; returns the final results.json content.

    Everything is checked before the folder is made; it is locked while this process writes it
    (`eggan.core.lock`). Checkpoints already there must have learned from the data as it is now
    and agree with their config.json (`eggan.core.provenance`), else nothing is written
    (``allow_other_data`` lets them go on, said in the captions). A finished run (results.json
    holds every job at its last step, on this data) is not rescored: only missing or changed report
    files are written, which for an intact run is none.
    """
    out = Path(out_dir)
    jobs = plan(bench, accept_unverified_weights)
    _check_same_bench(out / "bench.json", bench)
    check_run_weights(out, bench.verifier, bench.weights,  # a file swapped since: said before any training
                      otherwise=f"rescore the folder with `eggan-bench evaluate --run {out} --verifier "
                                f"{bench.verifier} --weights FILE {NEW_WEIGHTS_FLAG}` first, or use another --out")
    device = select_device(bench.device)
    with locked_dir(out, log):
        dataset = open_dataset(jobs[0].config.data)
        _check_trained(out, jobs, dataset.fingerprint(), allow_other_data)
        if _finished(out, jobs, dataset.fingerprint()):
            log(f"{out}: already finished; nothing to train or score (delete results.json to score again)")
            build_report(out, log)
            return load_results(out)
        return _run_stages(bench, jobs, out, device, dataset, progress, log, allow_other_data,
                           accept_unverified_weights)


def _check_trained(out: Path, jobs: list[Job], fingerprint: str, allow_other_data: bool) -> None:
    """Every checkpoint already in the run learned from this data and agrees with its config.json."""
    for job in jobs:
        folder = out / "train" / job.label / f"seed{job.seed}"
        if (folder / CHECKPOINT_NAME).is_file():
            payload = load_checkpoint(folder / CHECKPOINT_NAME)
            check_config_copy(folder, payload["config"])
            check_data(payload, fingerprint, folder / CHECKPOINT_NAME, allow_other_data, "another --out to start again")
    for job in jobs:  # every check passed: a missing readable copy of a config may be written now
        folder = out / "train" / job.label / f"seed{job.seed}"
        if (folder / CHECKPOINT_NAME).is_file() and not (folder / "config.json").is_file():
            restore_config_copy(folder, load_checkpoint(folder / CHECKPOINT_NAME)["config"])


def _run_stages(bench: BenchConfig, jobs: list[Job], out: Path, device: torch.device, dataset: FaceDataset,
                progress: bool, log: Callable[[str], None], allow_other_data: bool,
                accept_unverified_weights: bool) -> dict[str, Any]:
    atomic_write_json(out / "bench.json", dataclasses.asdict(bench))
    atomic_write_json(out / "meta.json", {"environment": environment(device), "jobs": len(jobs)})

    log(f"[1/6] data: {bench.data} at {jobs[0].config.data.image_size}x{jobs[0].config.data.image_size}")
    for i, job in enumerate(jobs, 1):
        log(f"[2/6] train {job.label} seed {job.seed} ({i}/{len(jobs)})")
        train_run(job.config, out / "train" / job.label / f"seed{job.seed}", progress=progress, dataset=dataset,
                  log=log, allow_other_data=allow_other_data,
                  monitor_for=lambda data, job=job: edit_monitor(job.config.data, data, job.seed))

    log("[3/6] evaluate on the protocol")
    results = evaluate_run(out, estimator=bench.estimator, openface_csv=bench.openface_csv,
                           verifier=bench.verifier, weights=bench.weights, device=bench.device,
                           per_expression=bench.per_expression, seed=bench.seeds[0], log=log,
                           allow_other_data=allow_other_data, accept_unverified_weights=accept_unverified_weights)

    log("[4/6] throughput")
    steps = {label: _steps(seeds) for label, seeds in find_runs(out).items()}
    results["throughput"] = _reuse(out / "eval" / "throughput.stage.json", steps,
                                   lambda: run_throughput(out, device=bench.device))

    log("[5/6] example images")
    renderer = ideal_renderer(jobs[0].config.data, dataset)
    results["examples"] = _reuse(out / "eval" / "examples.stage.json", steps, lambda: collect_examples(
        out, dataset, load_trained, device, bench.examples, bench.interpolation_steps, renderer))
    atomic_write_json(out / "results.json", results)

    log("[6/6] tables and figures")
    build_report(out, log)
    return results


def _finished(out: Path, jobs: list[Job], fingerprint: str) -> bool:
    """Whether results.json, with its example images (stage 5), scores every job's checkpoint on
    the data as it is now and each checkpoint is at its last step: then there is nothing left to
    train, score or measure."""
    try:
        results = load_results(out)
    except DataError:
        return False
    rows = {row["label"]: row for row in results["rows"]}
    if not results.get("examples") or results["meta"]["dataset"].get("fingerprint") != fingerprint:
        return False
    for job in jobs:
        checkpoint = out / "train" / job.label / f"seed{job.seed}" / CHECKPOINT_NAME
        if not checkpoint.is_file():
            return False
        payload = load_checkpoint(checkpoint)
        scored = rows.get(job.label, {}).get("checkpoint_steps", {}).get(str(job.seed))
        if payload["step"] < payload["total_steps"] or scored != payload["step"]:
            return False
    return True


def _steps(seeds: dict[int, Path]) -> dict[str, int]:
    return {str(k): int(load_checkpoint(folder / CHECKPOINT_NAME)["step"]) for k, folder in seeds.items()}


def _reuse(path: Path, steps: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A stage's saved output when it was made from the same checkpoints, else computed and saved."""
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("checkpoint_steps") == steps:
            return saved["value"]
    value = compute()
    atomic_write_json(path, {"checkpoint_steps": steps, "value": value})
    return value

