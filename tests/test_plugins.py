"""Plug-in methods: an outside package's entry point in ``eggan_bench.methods`` is trained and
scored through ``--methods`` like a built-in method; a built-in name wins a clash, with a warning."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hang_guard import HANG_GUARD_S
from test_examples import APPENDED

from eggan.core import registry
from eggan.errors import ConfigError, EgganWarning

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin-identity"
PIP = [sys.executable, "-m", "pip"]
README_INSTALL = "pip install --no-deps -e examples/plugin-identity"
README_RUN = "eggan-bench run --methods eggan,identity --out runs/mine"


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    """The example package installed into this venv (offline, editable), uninstalled afterwards."""
    assert README_INSTALL in (ROOT / "README.md").read_text()
    done = subprocess.run([sys.executable, "-m", *shlex.split(README_INSTALL), "-q", "--no-build-isolation",
                           "--no-index"], cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        subprocess.run([*PIP, "uninstall", "-y", "-q", "eggan-plugin-identity"], capture_output=True,
                       timeout=HANG_GUARD_S)


def test_an_installed_plugin_trains_and_is_scored_through_methods(installed: None, tmp_path: Path) -> None:
    """README's line as written, with the smoke options tests/test_examples.py appends to every `run`."""
    assert README_RUN in (ROOT / "README.md").read_text()
    argv = [*shlex.split(README_RUN)[1:], *APPENDED["run"], "--device", "cpu"]
    done = subprocess.run([sys.executable, "-m", "eggan", *argv], cwd=tmp_path, capture_output=True, text=True,
                          timeout=HANG_GUARD_S, env={**os.environ, "OMP_NUM_THREADS": "1"})
    out = tmp_path / "runs" / "mine"
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    row = next(r for r in results["rows"] if r["label"] == "identity")
    assert row["kind"] == "method" and row["checkpoint_steps"] == {"0": 1}
    assert row["metadata"]["plugin"] == {"package": "eggan-plugin-identity", "version": "0.1.0",
                                         "entry_point": "identity = eggan_plugin_identity:Identity",
                                         "group": "eggan_bench.methods"}
    assert "| identity" in (out / "tables" / "expression.md").read_text()


def test_a_builtin_name_wins_a_clash_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    clash = importlib.metadata.EntryPoint("eggan", "somewhere:Fake", registry.PLUGIN_GROUP)
    mine = importlib.metadata.EntryPoint("mine", "tests_nowhere:Mine", registry.PLUGIN_GROUP)
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **select: [clash, mine] if select.get(
        "group") == registry.PLUGIN_GROUP else real(**select))
    with pytest.warns(EgganWarning, match=r"plug-in method 'eggan' .* ignored: the built-in method of that name wins"):
        assert list(registry.plugins()) == ["mine"]
    assert registry.get_method("eggan").__module__ == "eggan.egg.model"  # the built-in, plug-ins not even read
    with pytest.warns(EgganWarning), pytest.raises(ConfigError, match=r"unknown method 'other'; available: .*mine"):
        registry.get_method("other")
