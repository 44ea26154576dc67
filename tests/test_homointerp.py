"""HomoInterpGAN: the authors' networks, VGG initialisation, update schedule, Method contract."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch
from method_checks import (
    build,
    check_ddp_replicas_agree,
    check_resume_is_exact,
    check_state_round_trip,
    check_translate_contract,
    smoke_config,
)
from torchvision.models import vgg19

from baselines.homointerp import HomoInterpGAN
from baselines.homointerp_nets import Interpolator, LatentCritic, VGGEncoder
from baselines.homointerp_vgg import copy_torchvision, gatys_normalise, init_encoder, load_vgg19g
from eggan.core.method import DataInfo
from eggan.core.vgg import imagenet_normalise
from eggan.data.dataset import load_dataset
from eggan.errors import CheckpointError, ConfigError, MissingComponentError


def test_paper_preset_is_the_authors_configuration() -> None:
    config = HomoInterpGAN.preset("paper")
    method = HomoInterpGAN(config.model, DataInfo(128, 10), 1000, torch.device("cpu"))
    counts = method.metadata()["parameters"]
    assert counts == {
        "E": 12_944_960,
        "I": 2 * 7_079_424,  # expression branch + residual branch
        "G": 6_201_603,
        "D": 2_492_928 + 65_792 + (256 * 8 + 8),  # trunk + critic head + one 8-label head
        "KGT": 262_656,
        "T": 12_944_960,
    }
    assert not any(p.requires_grad for p in method.nets["T"].parameters())
    betas = {name: opt.param_groups[0]["betas"] for name, opt in method.optimizers.items()}
    assert betas == {"E": (0.5, 0.999), "I": (0.5, 0.999), "D": (0.5, 0.999), "G": (0.9, 0.999),
                     "KGT": (0.9, 0.999)}
    assert (config.model.lambda_gp, config.model.n_discrim, config.model.allow_random_vgg) == (100, 5, False)


def test_interpolator_is_the_identity_at_zero_strength() -> None:
    torch.manual_seed(0)
    interp = Interpolator(2, 0.125)
    f_a, f_b = torch.rand(2, 64, 4, 4), torch.rand(2, 64, 4, 4)
    assert torch.equal(interp(f_a, f_b, torch.zeros(2, 2)), f_a)
    only_first = interp(f_a, f_b, torch.tensor([[1.0, 0.0], [0.5, 0.0]]))
    step = interp.branches[0](f_b - f_a)
    assert torch.allclose(only_first, f_a + torch.tensor([1.0, 0.5]).view(2, 1, 1, 1) * step)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_latent_critic_works_at_every_preset_size(size: int) -> None:
    latent = size // 16
    score, logits = LatentCritic(latent, 8, 0.125)(torch.rand(3, 64, latent, latent))
    assert score.shape == (3, 32) and logits.shape == (3, 8)


def test_encoder_matches_torchvision_vgg19_to_relu5_1() -> None:
    torch.manual_seed(0)
    features = vgg19(weights=None).features
    encoder = VGGEncoder()
    copy_torchvision(encoder, features)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(encoder(x), features[:30](x), atol=1e-5)
        assert torch.allclose(encoder.features_1(x), features[:12](x), atol=1e-5)  # relu3_1


def test_gatys_normalisation_gives_unit_mean_activations_and_keeps_features() -> None:
    torch.manual_seed(0)
    encoder = VGGEncoder(0.125)
    original = copy.deepcopy(encoder)
    x = torch.randn(8, 3, 32, 32)
    gatys_normalise(encoder, x)
    h = x
    for block in (encoder.features_1, encoder.features_2, encoder.features_3):
        for layer in block:
            h = layer(h)
            if isinstance(layer, torch.nn.ReLU):  # unit means, except (nearly) dead filters left alone
                mean = h.mean(dim=(0, 2, 3))
                unit = (mean - 1).abs() < 1e-4
                assert unit.float().mean() > 0.8 and (mean[~unit] < 0.1).all()
    with torch.no_grad():
        a, b = encoder(x), original(x)
        ratio = b.sum(dim=(0, 2, 3)) / a.sum(dim=(0, 2, 3)).clamp_min(1e-12)
        assert torch.allclose(b, a * ratio.view(1, -1, 1, 1), rtol=1e-3, atol=1e-5)  # per-channel rescale


def test_vgg_initialisation_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = VGGEncoder(0.125)
    torch.save({**source.state_dict(), "classifier.0.weight": torch.zeros(2)}, tmp_path / "vgg19g.pth")
    target = VGGEncoder(0.125)
    load_vgg19g(target, tmp_path / "vgg19g.pth")  # extra keys filtered out, as the authors do
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.state_dict().items())
    torch.save({"features_1.conv1_1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="vgg19g"):
        load_vgg19g(target, tmp_path / "other.pth")
    monkeypatch.delenv("EGGAN_VGG19_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    images = torch.randn(2, 3, 32, 32)
    with pytest.raises(MissingComponentError):
        init_encoder(VGGEncoder(), 1.0, images, None, None, normalise=True, allow_random=False)
    with pytest.raises(ConfigError, match="width"):
        init_encoder(VGGEncoder(0.5), 0.5, images, None, None, normalise=True, allow_random=False)
    info = init_encoder(VGGEncoder(0.5), 0.5, images, None, None, normalise=True, allow_random=True)
    assert info["weights"] == "random" and "Gatys" in info["normalised"]


def decoder_loss(method: HomoInterpGAN, x: torch.Tensor) -> float:
    """Pixel + perceptual loss of the unedited reconstruction, BatchNorm on batch statistics (on a
    copy of the decoder, so no running statistics move)."""
    decoder = copy.deepcopy(method.nets["G"]).train()
    with torch.no_grad():
        xn = imagenet_normalise(x)
        pixel, perceptual = method.decoder_loss(decoder(method.nets["E"](xn)), xn, method.nets["T"].features_1(xn))
        return (pixel + perceptual).item()


def test_pretraining_and_training_reduce_the_reconstruction_loss(tiny_dataset: Path) -> None:
    config = smoke_config("homointerp", tiny_dataset, "model.pretrain_steps=20", "model.pretrain_batch=8",
                          "model.lr=1e-3")
    train = load_dataset(tiny_dataset, 32).split("train")
    few = dataclasses.replace(train, table=train.table.iloc[:8].reset_index(drop=True), images=train.images[:8])
    batch = few.batch(torch.arange(8))
    torch.manual_seed(0)
    method = HomoInterpGAN(config.model, DataInfo(32, len(train.identities)), 100, torch.device("cpu"))
    start = decoder_loss(method, batch.image)
    method.pretrain(few, lambda _msg: None)
    pretrained = decoder_loss(method, batch.image)
    assert pretrained < 0.7 * start
    assert method.metadata()["decoder_pretraining_steps"] == 20
    assert method.metadata()["vgg_init"]["weights"] == "random"
    for step in range(15):
        method.train_step(batch, step)
    assert decoder_loss(method, batch.image) < 0.9 * pretrained


def test_encoder_and_interpolator_update_every_fifth_step(tiny_dataset: Path) -> None:
    method, train = build("homointerp", tiny_dataset)
    batch = train.batch(torch.arange(4))
    updated = []
    for step in range(7):
        before = method.nets["E"].features_1.conv1_1.weight.clone()
        losses = method.train_step(batch, step)
        updated.append(not torch.equal(before, method.nets["E"].features_1.conv1_1.weight))
        assert ("ei_adv" in losses) == updated[-1]
    assert updated == [True, False, False, False, False, True, False]


def test_method_contract(tiny_dataset: Path, tmp_path: Path) -> None:
    method, train = build("homointerp", tiny_dataset)
    batch = train.batch(torch.arange(4))
    check_translate_contract(method, batch)
    check_state_round_trip("homointerp", tiny_dataset, batch)
    check_resume_is_exact("homointerp", tiny_dataset, tmp_path, steps=6)


@pytest.mark.slow
@pytest.mark.ddp
def test_ddp_two_processes_keep_replicas_identical(tiny_dataset: Path, tmp_path: Path) -> None:
    check_ddp_replicas_agree("homointerp", tiny_dataset, tmp_path)
