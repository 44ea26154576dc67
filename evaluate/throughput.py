"""Test-time speed: translations per second of a method at fixed batch sizes.

Measured through ``Method.translate`` (what a user of the method calls), on random inputs of the
method's image size with every target field filled, after warm-up passes, with
``torch.cuda.synchronize`` around the timed region on a GPU. Device name, dtype and thread count
are recorded with the figures: a number without them cannot be compared. ``run_throughput``
measures every label of a run folder and stores the figures beside its results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from eggan.core.checkpoint import CHECKPOINT_NAME
from eggan.core.lock import READER_ADVICE, locked_dir
from eggan.core.method import Method
from eggan.core.runmeta import device_name, select_device
from eggan.data.aus import AU_MAX, N_AUS, N_EXPRESSIONS
from eggan.data.dataset import Target
from eggan.io import atomic_write_json
from evaluate.results_store import RESULTS_NAME, read_previous, write_results
from evaluate.run_data import Loader, find_runs

BATCH_SIZES: tuple[int, ...] = (1, 8, 32)


def random_inputs(batch_size: int, size: int, seed: int = 0, n_aus: int = N_AUS) -> tuple[torch.Tensor, Target]:
    """Random sources and targets; ``n_aus`` AUs, those the method's data codes (``DataInfo.n_aus``)."""
    generator = torch.Generator().manual_seed(seed)
    source = torch.rand(batch_size, 3, size, size, generator=generator) * 2 - 1
    target = Target(
        aus=torch.rand(batch_size, n_aus, generator=generator) * AU_MAX,
        expression=torch.randint(N_EXPRESSIONS, (batch_size,), generator=generator),
        image=torch.rand(batch_size, 3, size, size, generator=generator) * 2 - 1,
    )
    return source, target


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(method: Method, batch_sizes: Sequence[int] = BATCH_SIZES, warmup: int = 2, repeats: int = 5
            ) -> dict[str, Any]:
    """Translations/s per batch size (median of ``repeats`` timed calls) and the conditions."""
    device = method.device
    size = method.info.image_size
    results = []
    for batch_size in batch_sizes:
        source, target = random_inputs(batch_size, size, n_aus=method.info.n_aus)
        source, target = source.to(device), target.to(device)
        for _ in range(warmup):
            method.translate(source, target)
        times = []
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            method.translate(source, target)
            _sync(device)
            times.append(time.perf_counter() - start)
        median = sorted(times)[len(times) // 2]
        results.append({"batch_size": batch_size, "seconds_per_batch": median,
                        "translations_per_s": batch_size / median})
    dtype = next((p.dtype for p in method.nets.parameters()), torch.float32)
    return {
        "method": method.name,
        "image_size": size,
        "device": {"type": device.type, "name": device_name(device)},
        "dtype": str(dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "warmup": warmup,
        "repeats": repeats,
        "statistic": "median",
        "batches": results,
    }


def run_throughput(run_dir: str | Path, device: str = "auto", loader: Loader | None = None) -> dict[str, Any]:
    """Throughput of seed 0 (or the first seed) of every label; written to ``eval/throughput.json``
    and into ``results.json`` when that exists."""
    run_dir = Path(run_dir)
    torch_device = select_device(device)
    if loader is None:
        from eggan.core.train import load_trained as loader
    with locked_dir(run_dir, advice=READER_ADVICE):
        measured = {}
        for label, seeds in sorted(find_runs(run_dir).items()):
            method = loader(seeds[min(seeds)] / CHECKPOINT_NAME, torch_device)
            measured[label] = measure(method)
        atomic_write_json(run_dir / "eval" / "throughput.json", measured)
        if read_previous(run_dir / RESULTS_NAME, lambda _msg: None):
            write_results(run_dir, {"throughput": measured})
    return measured
