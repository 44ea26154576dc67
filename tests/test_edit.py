"""`eggan-bench edit` and `eggan-bench interpolate` on a checkpoint trained for two smoke steps, on faces of
the run's dataset and on a face outside it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from eggan_helpers import smoke_synthfacs
from PIL import Image
from typer.testing import CliRunner, Result

from baselines.stargan import StarGAN
from eggan.cli.main import app
from eggan.core.config import apply_overrides
from eggan.core.edit import edit_face, interpolation_strip
from eggan.core.train import train_run
from eggan.data.aus import AU_NAMES
from eggan.egg.model import EggAN
from eggan.errors import CheckpointError, ConfigError

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


def test_a_face_outside_the_dataset_has_its_aus_read_and_logged(run: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, data = run
    outside = tmp_path / "face.png"
    Image.open(image_in(data)).save(outside)
    with pytest.raises(ConfigError, match="--source-aus"):  # no labels and no reader
        interpolation_strip(checkpoint, outside, tmp_path / "s.png", target_aus="AU12=5")
    read: list[torch.Tensor] = []

    def reader(image: torch.Tensor) -> torch.Tensor:
        read.append(image)
        return torch.full((1, 17), 2.0)

    messages: list[str] = []
    strip = interpolation_strip(checkpoint, outside, tmp_path / "s.png", target_aus="AU12=5", steps=3,
                                read_aus=reader, log=messages.append)
    assert size_of(strip) == (4 * CELL + 2, CELL + 2) and len(read) == 1 and read[0].shape == (1, 3, 32, 32)
    assert messages == ["source AUs (read by the run's AU estimator): " + ",".join(f"{a}=2.0" for a in AU_NAMES)]
    # a face of the dataset keeps its labels, and --source-aus wins over both
    messages.clear()
    interpolation_strip(checkpoint, image_in(data), tmp_path / "s.png", target_aus="AU12=5", read_aus=reader,
                        log=messages.append)
    assert len(read) == 1 and messages[0].startswith("source AUs (the run's dataset index): ")
    interpolation_strip(checkpoint, outside, tmp_path / "s.png", target_aus="AU12=5", source_aus="AU12=0",
                        read_aus=reader)
    assert len(read) == 1
    # an outside face as the target of an edit: its AUs are read too
    messages.clear()
    edit_face(checkpoint, image_in(data), tmp_path / "e.png", target_image=outside, read_aus=reader,
              log=messages.append)
    assert len(read) == 2 and messages[0].startswith("target AUs (read by the run's AU estimator): AU01=2.0")


def test_interpolate_refuses_a_model_not_conditioned_on_aus_in_one_line(run: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    _, data = run
    config = apply_overrides(StarGAN.preset("smoke"), ["train.steps=1"])
    config.data.source, config.train.device = str(data), "cpu"
    stargan = train_run(config, tmp_path / "stargan").checkpoint
    result = invoke("interpolate", "--checkpoint", stargan, "--source", image_in(data), "--target-aus", "AU12=5",
                    "--out", tmp_path / "s.png")
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == (f"{stargan}: a stargan checkpoint; interpolate needs a model conditioned on "
                                     "AU vectors (eggan, ganimation)")
    assert not (tmp_path / "s.png").exists()


def test_not_a_checkpoint(run: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = run
    bogus = tmp_path / "checkpoint.pt"
    bogus.write_bytes(b"not a checkpoint")
    result = invoke("edit", "--checkpoint", bogus, "--source", image_in(data), "--target-aus", "AU12=1",
                    "--out", tmp_path / "o.png")
    assert isinstance(result.exception, CheckpointError)
