"""The face-trained VGG trunk (issue 19's lever): trained on the training split's identities only,
cached and checksummed, and used as EGGAN's phi or HomoInterpGAN's encoder start when asked."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
from eggan_helpers import smoke_synthfacs
from method_checks import build

import eggan.core.facetrunk as facetrunk
from eggan.core.config import apply_overrides
from eggan.core.facetrunk import face_trunk
from eggan.core.method import DataInfo
from eggan.core.registry import get_method
from eggan.core.vgg import narrow_random_trunk
from eggan.data.dataset import FaceDataset
from eggan.egg.model import EggAN
from eggan.errors import ConfigError, MissingComponentError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> FaceDataset:
    return smoke_synthfacs(tmp_path_factory.mktemp("synth"))


def conv_weights(trunk: torch.nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in trunk.modules() if isinstance(m, torch.nn.Conv2d)]


def test_the_trunk_learns_the_training_identities_once_and_is_cached(
    synth: FaceDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = synth.split("train")
    seen: dict[str, object] = {}
    fit = facetrunk.fit_classifier

    def spy(title: str, predict: Any, parameters: Any, data: FaceDataset, labels: torch.Tensor, *args: Any,
            **kwargs: Any) -> float:
        seen.update(data=data, labels=labels)
        return fit(title, predict, parameters, data, labels, *args, **kwargs)

    monkeypatch.setattr(facetrunk, "fit_classifier", spy)
    trunk, status = face_trunk(train, 0.25, CPU, settings={"epochs": 2})
    # It learned the people of the split it was given, by their identity labels (8 people here).
    assert seen["data"] is train and torch.equal(seen["labels"], train.identity_index)
    assert status.weights == "face" and "8 identities of the training split (128 images" in status.note
    digest = hashlib.sha256(Path(status.path).read_bytes()).hexdigest()
    assert status.note.endswith(digest)
    start, _ = narrow_random_trunk(0.25)  # where training starts: the trunk moved away from it
    assert all(not torch.equal(a, b) for a, b in zip(conv_weights(trunk), conv_weights(start), strict=True))

    # The second call reads the cache: no training, the same weights.
    monkeypatch.setattr(facetrunk, "fit_classifier", lambda *_a, **_k: pytest.fail("trained twice"))
    again, status_again = face_trunk(train, 0.25, CPU, settings={"epochs": 2})
    assert status_again == status
    assert all(torch.equal(a, b) for a, b in zip(conv_weights(again), conv_weights(trunk), strict=True))


def test_eggan_measures_its_perceptual_term_with_the_face_trunk(synth: FaceDataset) -> None:
    train = synth.split("train")
    config = apply_overrides(EggAN.preset("smoke"), ["model.perceptual_trunk=face", "model.perceptual_width=0.25",
                                                      "model.allow_random_vgg=false"])
    EggAN.check_requirements(config)  # no ImageNet weights needed, and none are here
    method = EggAN(config.model, DataInfo(32, len(train.identities)), 10, CPU)
    messages: list[str] = []
    method.setup(train, messages.append)  # the run's log: the trunk's training is not silent
    assert any(m.startswith("face trunk pre-training epoch 4/4") for m in messages), messages
    expected, status = face_trunk(train, 0.25, CPU)
    assert all(torch.equal(a, b) for a, b in zip(conv_weights(method.phi), conv_weights(expected), strict=True))
    meta = method.metadata()
    assert meta["perceptual_trunk"] == "face" and meta["vgg19"] == status.to_dict()
    assert smoke_like(train).metadata()["perceptual_trunk"] == "vgg19"


def smoke_like(train: FaceDataset) -> EggAN:
    config = apply_overrides(EggAN.preset("smoke"), ["model.perceptual_width=0.25"])
    method = EggAN(config.model, DataInfo(32, len(train.identities)), 10, CPU)
    method.setup(train)
    return method


def test_eggan_refuses_an_unknown_trunk() -> None:
    config = EggAN.preset("smoke").model  # a config written by hand (--set checks the value itself)
    config.perceptual_trunk = "imagenet"
    with pytest.raises(ConfigError, match="perceptual_trunk must be vgg19 or face"):
        EggAN(config, DataInfo(32, 8), 10, CPU)


def test_homointerp_starts_its_encoder_and_teacher_from_the_face_trunk(tiny_dataset: Path) -> None:
    method, train = build("homointerp", tiny_dataset, overrides=("model.latent_layer=relu3_1",
                                                                 "model.encoder_init=face"))
    expected, status = face_trunk(train, method.config.width, CPU)
    assert all(torch.equal(a, b) for a, b in
               zip(conv_weights(method.nets["T"]), conv_weights(expected), strict=True))
    assert method.vgg_init["weights"] == "face" and method.vgg_init["note"] == status.note
    assert "trained on the training split's identities" in " | ".join(method.metadata()["deviations"])


def test_homointerp_face_start_needs_no_imagenet_weights() -> None:
    config = get_method("homointerp").preset("smoke")
    config.model.width, config.model.allow_random_vgg = 1.0, False
    with pytest.raises(MissingComponentError, match="VGG19 ImageNet weights"):  # none here (conftest)
        get_method("homointerp").check_requirements(config)
    config.model.encoder_init, config.model.latent_layer = "face", "relu3_1"
    get_method("homointerp").check_requirements(config)


def test_homointerp_face_start_needs_the_relu3_1_latent() -> None:
    config = get_method("homointerp").preset("smoke").model
    config.latent_layer, config.encoder_init = "relu4_1", "face"
    with pytest.raises(ConfigError, match=r"encoder_init=face .* model\.latent_layer=relu3_1"):
        get_method("homointerp")(config, DataInfo(32, 4), 10, CPU)
