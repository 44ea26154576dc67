"""`eggan-bench edit` and `eggan-bench interpolate` on a checkpoint trained for two smoke steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from eggan_helpers import smoke_synthfacs
from PIL import Image
from typer.testing import CliRunner, Result

from eggan.cli import app
from eggan.config import apply_overrides
from eggan.errors import CheckpointError, ConfigError
from eggan.model import EggAN
from eggan.train import train_run

runner = CliRunner()
CELL = 32 + 2  # make_grid padding


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(checkpoint, dataset folder) of an EGGAN trained for 2 smoke steps on a SynthFACS render."""
    data = tmp_path_factory.mktemp("synth")
    dataset = smoke_synthfacs(data)
    config = apply_overrides(EggAN.preset("smoke"), ["train.steps=2", "model.no_perceptual=true"])
    config.data.source = str(data)
    config.train.device = "cpu"
    result = train_run(config, tmp_path_factory.mktemp("run"), dataset=dataset)
    return result.checkpoint, data


def image_in(data: Path, expression: str = "happy") -> Path:
    return next((data / "images").glob(f"*/{expression}_0.png"))


def invoke(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def test_edit_with_target_aus_and_target_image(run: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, data = run
    out = tmp_path / "edit.png"
    result = invoke("edit", "--checkpoint", checkpoint, "--source", image_in(data), "--target-aus", "AU12=3,AU06=2",
                    "--out", out)
    assert result.exit_code == 0, result.output
    assert size_of(out) == (2 * CELL + 2, CELL + 2)
    # a dataset image as target: its AUs come from the run's index
    result = invoke("edit", "--checkpoint", checkpoint, "--source", image_in(data), "--target-image",
                    image_in(data, "sad"), "--out", out)
    assert result.exit_code == 0, result.output


def test_interpolate_strip(run: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, data = run
    out = tmp_path / "strip.png"
    result = invoke("interpolate", "--checkpoint", checkpoint, "--source", image_in(data), "--target-aus", "AU12=5",
                    "--steps", "5", "--out", out)
    assert result.exit_code == 0, result.output
    assert size_of(out) == (6 * CELL + 2, CELL + 2)


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [
        (["--target-aus", "AU13=2"], ConfigError, "unknown AU"),
        (["--target-aus", "AU12=7"], ConfigError, "outside 0-5"),
        (["--target-expression", "happy"], ConfigError, "conditioned on the target's aus"),
        (["--target-aus", "AU12=1", "--target-expression", "happy"], ConfigError, "exactly one"),
    ],
)
def test_edit_errors_are_one_line(run: tuple[Path, Path], tmp_path: Path, extra: list[str], error: type,
                                  message: str) -> None:
    checkpoint, data = run
    result = invoke("edit", "--checkpoint", checkpoint, "--source", image_in(data), "--out", tmp_path / "o.png", *extra)
    assert isinstance(result.exception, error)
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_interpolate_needs_source_aus_outside_the_dataset(run: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, data = run
    outside = tmp_path / "face.png"
    Image.open(image_in(data)).save(outside)
    args = ["interpolate", "--checkpoint", checkpoint, "--source", outside, "--target-aus", "AU12=5",
            "--out", tmp_path / "s.png"]
    result = invoke(*args)
    assert isinstance(result.exception, ConfigError) and "--source-aus" in str(result.exception)
    assert invoke(*args, "--source-aus", "AU12=0").exit_code == 0


def test_not_a_checkpoint(run: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = run
    bogus = tmp_path / "checkpoint.pt"
    bogus.write_bytes(b"not a checkpoint")
    result = invoke("edit", "--checkpoint", bogus, "--source", image_in(data), "--target-aus", "AU12=1",
                    "--out", tmp_path / "o.png")
    assert isinstance(result.exception, CheckpointError)
