"""Run configuration: `--set section.field=value` parsing and every validation error, one line each."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from hang_guard import HANG_GUARD_S

from eggan.core.config import apply_overrides, validate
from eggan.egg.model import EggAN
from eggan.egg.variants import resolve
from eggan.errors import ConfigError


def smoke():
    return EggAN.preset("smoke")


def test_overrides_are_parsed_as_the_fields_types() -> None:
    config = apply_overrides(smoke(), ["train.steps=7", "train.bf16=yes", "model.lambda_id=0.5",
                                       "model.classifier_depth=2,1,2,1,2", "model.latent_size=none",
                                       "model.variant=official", " data.synth.identities = 9 "])
    assert (config.train.steps, config.train.bf16, config.model.lambda_id) == (7, True, 0.5)
    assert config.model.classifier_depth == (2, 1, 2, 1, 2) and config.model.latent_size is None
    assert config.model.variant == "official" and config.data.synth.identities == 9


@pytest.mark.parametrize(("override", "message"), [
    ("train.steps", r"override 'train\.steps' is not of the form section\.field=value"),
    ("train.nope=1", r"unknown config key 'train\.nope'"),
    ("nope.steps=1", r"unknown config key 'nope\.steps'"),
    ("model.lambda_id.x=1", r"unknown config key 'model\.lambda_id\.x'"),
    ("train.steps=ten", r"train\.steps='ten' is not a valid int"),
    ("model.lambda_id=high", r"model\.lambda_id='high' is not a valid float"),
    ("train.bf16=maybe", r"train\.bf16='maybe' is not a valid bool"),
    ("model.adversarial=hinge", r"model\.adversarial must be one of \('wgan-gp', 'least-squares'\), not 'hinge'"),
    ("model.cid_passes=twice", r"model\.cid_passes must be one of \('joint', 'per-branch'\)"),
    ("data.synth=3", r"data\.synth cannot be set from the command line"),
    ("data.image_size=48", r"image size 48 is not one of \(32, 64, 128, 256\)"),
    ("train.batch_size=0", r"train\.batch_size=0 must be positive"),
    ("train.steps=0", r"train\.steps=0 must be positive"),
    ("train.log_every=0", r"train\.log_every=0 must be positive"),
])
def test_a_bad_override_is_a_one_line_config_error(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        apply_overrides(smoke(), [override])
    assert "\n" not in str(info.value)


def test_epochs_replace_steps_and_the_preset_is_checked() -> None:
    assert apply_overrides(smoke(), ["train.epochs=2"]).train.epochs == 2
    config = smoke()
    config.preset = "huge"
    with pytest.raises(ConfigError, match="unknown preset 'huge'; expected one of smoke, quick, standard, paper"):
        validate(config)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("variant", "authors", r"model\.variant must be paper or official, not 'authors'"),
    ("width", 0.0, r"model\.width and model\.latent_size must be positive"),
    ("latent_size", 0, r"model\.width and model\.latent_size must be positive"),
    ("n_critic", 0, r"model\.n_critic, cid_batch_size and schedule_epochs must be >= 1"),
    ("cid_batch_size", 0, r"model\.n_critic, cid_batch_size and schedule_epochs must be >= 1"),
    ("cid_epochs", -1, r"cid_epochs >= 0"),
    ("decay_start", 1.5, r"model\.decay_start must lie in \[0, 1\], not 1\.5"),
    ("lambda_gp", -1.0, r"model\.lambda_gp must be >= 0, not -1\.0"),
    ("classifier_weight_scale", -0.1, r"model\.classifier_weight_scale must be >= 0"),
    ("classifier_depth", (1, 1, 1), r"model\.classifier_depth needs 5 positive conv counts"),
    ("classifier_depth", (1, 1, 0, 1, 1), r"model\.classifier_depth needs 5 positive conv counts"),
])
def test_eggan_checks_its_own_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(dataclasses.replace(smoke().model, **{field: value}))


def test_the_cli_reports_a_bad_set_in_one_line_with_status_2(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "eggan", "train", "--method", "eggan", "--preset", "smoke",
                           "--set", "train.steps=ten", "--out", str(out)], capture_output=True, text=True,
                          timeout=HANG_GUARD_S)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: train.steps='ten' is not a valid int"]
    assert not out.exists()
