"""Shared fixtures: a tiny dataset folder written by the tests, and the `gpu` marker's skip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

from eggan.aus import AU_COLUMNS, EXPRESSIONS
from eggan.data.dataset import write_index


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Plain `pytest` skips the benchmarks (run them with `pytest --benchmark-only`); GPU cases
    skip without CUDA."""
    benchmarks = config.getoption("benchmark_only", default=False)
    skip_bench = pytest.mark.skip(reason="benchmark: run with pytest --benchmark-only")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if not benchmarks and "benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(skip_bench)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


def write_tiny_dataset(root: Path, identities: int = 6, size: int = 32, seed: int = 0) -> Path:
    """Random-texture faces with random AU labels: enough to exercise loaders and the training loop."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(identities):
        base = torch.rand(3, 1, 1, generator=generator)
        for expression in EXPRESSIONS:
            pixels = (base + 0.3 * torch.rand(3, size, size, generator=generator)).clamp(0, 1)
            rel = f"images/id{i:02d}_{expression}.png"
            (root / "images").mkdir(parents=True, exist_ok=True)
            Image.fromarray((pixels.permute(1, 2, 0) * 255).byte().numpy()).save(root / rel)
            aus = (torch.rand(len(AU_COLUMNS), generator=generator) * 5).tolist()
            split = "test" if i >= identities - 2 else "train"
            rows.append({"path": rel, "identity": f"id{i:02d}", "expression": expression, "split": split,
                         **dict(zip(AU_COLUMNS, aus, strict=True))})
    write_index(pd.DataFrame(rows), root)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"))
