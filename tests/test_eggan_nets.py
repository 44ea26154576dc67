"""EGGAN's networks: shapes at every suite size for both architecture families, and layer counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from eggan.core.method import count_parameters
from eggan.egg import nets_official, nets_paper
from eggan.egg.nets import N_LEVELS, LatentDiscriminator, build_networks
from eggan.egg.nets_paper import UpResBlock

SIZES = (32, 64, 128, 256)
N_AUS, N_IDS = 17, 5


@pytest.mark.parametrize("architecture", ["paper", "official"])
@pytest.mark.parametrize("size", SIZES)
def test_shapes_at_every_size(architecture: str, size: int) -> None:
    torch.manual_seed(0)
    nets = build_networks(architecture, size, 16, N_AUS, N_IDS, width=1 / 16, classifier_depth=(1, 1, 1, 1, 1))
    x = torch.rand(2, 3, size, size) * 2 - 1
    aus = torch.rand(2, N_AUS) * 5
    with torch.no_grad():
        code = nets["encoder"](x)
        image = nets["generator"](code, aus)
        assert code.shape == (2, 16)
        assert image.shape == (2, 3, size, size)
        assert image.abs().max() <= 1
        assert nets["latent_d"](code).shape == (2,)
        assert nets["critic"](x).shape == (2,)
        assert nets["c_exp"](x).shape == (2, N_AUS, N_LEVELS)
        assert nets["c_id"](x).shape == (2, N_IDS)


def test_identity_classifier_is_left_out_when_ablated() -> None:
    nets = build_networks("paper", 32, 8, N_AUS, N_IDS, width=1 / 16, identity=False)
    assert "c_id" not in nets


def convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("size", SIZES)
def test_paper_layer_counts(size: int) -> None:
    """5 stride-2 encoder convs + 1 FC; 6 FC in D_z; 6 residual blocks in G; 6 critic convs."""
    encoder = nets_paper.Encoder(size, 8, width=1 / 16)
    assert [c.stride for c in convs(encoder)] == [(2, 2)] * 5
    latent_d = LatentDiscriminator(8, nets_paper.LATENT_D_UNITS, slope_per_unit=True)
    assert len([m for m in latent_d.modules() if isinstance(m, nn.Linear)]) == 6
    generator = nets_paper.Generator(size, 8, N_AUS, width=1 / 16)
    blocks = [m for m in generator.modules() if isinstance(m, UpResBlock)]
    ups = sum(any(isinstance(x, nn.Upsample) for x in b.main) for b in blocks)
    assert len(blocks) == 6
    assert ups == min(6, {32: 4, 64: 5, 128: 6, 256: 6}[size])
    critic = nets_paper.Critic(size, width=1 / 16)
    assert len(convs(critic.features)) == 6
    assert sum(c.stride == (2, 2) for c in convs(critic.features)) == min(6, size.bit_length() - 2)


def test_official_widths_at_128_match_the_published_code() -> None:
    """Width 1/16 x 16 gives the published widths without building the 250M-parameter nets."""
    w = 1 / 16
    gen = [c.out_channels * 16 for c in convs(nets_official.OfficialGenerator(128, 8, N_AUS, w))]
    assert gen[:-1] == [2048, 2048, 1024, 1024, 512, 512, 256, 256, 128, 128, 64, 64] and gen[-1] == 48
    enc = [c.out_channels * 16 for c in convs(nets_official.OfficialEncoder(8, w))]
    assert enc == [128, 256, 512, 1024, 2048]
    disc = [c.out_channels * 16 for c in convs(nets_official.OfficialDiscriminator(128, w))]
    assert disc == [128, 256, 512, 1024, 2048, 16]  # five stride-2 convs, then the 1-channel 4x4 conv
    with torch.no_grad():  # the unpadded 4x4 conv gives one score per image at 128 px
        assert nets_official.OfficialDiscriminator(128, w).out(torch.zeros(1, 128, 4, 4)).shape == (1, 1, 1, 1)


# Counted by hand from the layer shapes of the authors' modules at 128 px, latent 512, 17 AUs and
# the 27 DISFA identities (one PReLU slope per layer; C_id's last 1024->2048 conv bare).
AUTHORS_PARAMETERS = {"encoder": 45_623_684, "generator": 112_357_455, "critic": 44_607_366, "latent_d": 76_549,
                      "c_exp": 16_636_521, "c_id": 25_270_339}


def test_official_parameter_counts_equal_the_authors_networks() -> None:
    """Built on the meta device: shapes only, none of the 245M parameters is allocated."""
    with torch.device("meta"):
        nets = build_networks("official", 128, 512, N_AUS, 27)
    assert {name: count_parameters(net) for name, net in nets.items()} == AUTHORS_PARAMETERS
    slopes = {name: {m.num_parameters for m in net.modules() if isinstance(m, nn.PReLU)} for name, net in nets.items()}
    assert all(kinds == {1} for kinds in slopes.values())  # nn.PReLU(): one slope per layer
    assert [type(m) for m in nets["c_id"].features[-1]] == [nn.Conv2d]  # no BatchNorm, no PReLU after it


def test_paper_family_keeps_one_slope_per_channel() -> None:
    generator = nets_paper.Generator(32, 8, N_AUS, width=1 / 16)
    assert all(m.num_parameters > 1 for m in generator.modules() if isinstance(m, nn.PReLU))


def test_official_initialisation_is_normal_002() -> None:
    torch.manual_seed(0)
    nets = build_networks("official", 64, 8, N_AUS, N_IDS, width=1 / 8)
    weights = torch.cat([c.weight.detach().flatten() for c in convs(nets["generator"])])
    assert abs(float(weights.std()) - 0.02) < 0.002


def test_generator_depends_on_the_aus() -> None:
    torch.manual_seed(0)
    for architecture in ("paper", "official"):
        nets = build_networks(architecture, 32, 8, N_AUS, N_IDS, width=1 / 8)
        code = torch.randn(1, 8)
        with torch.no_grad():
            a = nets["generator"](code, torch.zeros(1, N_AUS))
            b = nets["generator"](code, torch.full((1, N_AUS), 5.0))
        assert not torch.allclose(a, b)
