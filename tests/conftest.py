"""Shared fixtures: a private environment for every test, a tiny dataset folder, a LaTeX compiler;
how plain `pytest` runs the benchmarks, and the `gpu` marker's skip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch
from hang_guard import HANG_GUARD_S
from PIL import Image

from eggan.data.aus import AU_COLUMNS, EXPRESSIONS
from eggan.data.dataset import write_index


def _timing(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_only", False) or config.getoption("benchmark_enable", False))


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark reads its options
def pytest_configure(config: pytest.Config) -> None:
    """Plain `pytest` runs every benchmark function once, untimed (pytest-benchmark's
    ``--benchmark-disable``), so CI executes the benchmark code; ``--benchmark-only`` times it."""
    if not _timing(config):
        config.option.benchmark_disable = True


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """A skipped LaTeX compilation is said at the end of the run, not only among the skips."""
    skipped = config.stash.get(LATEX_SKIPPED, [])
    if skipped:
        terminalreporter.write_sep("!", "LaTeX tables NOT compiled", yellow=True)
        terminalreporter.write_line(
            f"pdflatex is not installed: {len(skipped)} test(s) skipped ({', '.join(skipped)}). The tables' escaping "
            "is still checked without it (tests/test_reports.py); CI (.ci/run) installs pdflatex and sets "
            "EGGAN_REQUIRE_LATEX=1, which turns this skip into a failure.")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Untimed, the `timed_only` benchmark cases skip (each function keeps a small case that runs);
    GPU cases skip without CUDA."""
    skip_timed = pytest.mark.skip(reason="timed benchmark case: run with pytest --benchmark-only")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "timed_only" in item.keywords and not _timing(config):
            item.add_marker(skip_timed)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session", autouse=True)
def private_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test (and every process it starts) sees an empty cache of its own and no ImageNet VGG19
    weights, whatever the user's machine holds: ``$EGGAN_CACHE`` and ``$TORCH_HOME`` point into the
    session's temporary folder and ``$EGGAN_VGG19_WEIGHTS`` is unset. A test needing something else
    sets it with ``monkeypatch``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EGGAN_CACHE", str(tmp_path_factory.mktemp("eggan-cache")))
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        patch.delenv("EGGAN_VGG19_WEIGHTS", raising=False)
        yield


@pytest.fixture(autouse=True)
def seeded_torch() -> None:
    """Each test starts from torch's seed 0, so a test that draws ``torch.rand`` inputs sees the
    same values on every run and in any order: a failure in CI reproduces here."""
    torch.manual_seed(0)


LATEX_SKIPPED = pytest.StashKey[list[str]]()


@pytest.fixture
def compile_latex(request: pytest.FixtureRequest) -> Callable[[str, Path], None]:
    """``compile(body, folder)``: pdflatex on an article with booktabs around ``body``, failing on any
    LaTeX error. Without pdflatex the test skips, and the run's summary ends with a line saying the
    tables were not compiled, unless ``$EGGAN_REQUIRE_LATEX=1`` (set by .ci/run): there it fails, so
    CI cannot pass without compiling the tables."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("EGGAN_REQUIRE_LATEX") == "1":
            pytest.fail("pdflatex is not installed, and EGGAN_REQUIRE_LATEX=1 requires the LaTeX tables to compile")
        request.config.stash.setdefault(LATEX_SKIPPED, []).append(request.node.nodeid)
        pytest.skip("no LaTeX engine installed (pdflatex)")

    def compile_body(body: str, folder: Path) -> None:
        doc = folder / "doc.tex"
        doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                       f"{body}\n\\end{{document}}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=folder,
                              capture_output=True, timeout=HANG_GUARD_S)
        errors = re.findall(r"^!.*$", done.stdout.decode(errors="replace"), re.M)
        assert done.returncode == 0 and not errors, errors or done.stdout.decode(errors="replace")[-2000:]
        assert (folder / "doc.pdf").stat().st_size > 0

    return compile_body


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
