from __future__ import annotations

import pytest
import torch

from eggan.errors import ConfigError
from evaluate.lightcnn import RELEASED_CLASSES, build_lightcnn


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("variant", "total", "backbone", "keys"),
    [
        ("lightcnn-9", 25_803_653, 5_480_864, 22),
        ("lightcnn-29", 32_896_069, 12_573_280, 62),
        ("lightcnn-29v2", 30_959_200, 10_475_872, 61),
    ],
)
def test_parameter_counts_match_the_released_networks(variant: str, total: int, backbone: int, keys: int) -> None:
    full = build_lightcnn(variant, RELEASED_CLASSES[variant])
    assert _count(full) == total
    assert len(full.state_dict()) == keys
    assert _count(build_lightcnn(variant)) == backbone


def test_state_dict_names_follow_the_released_files() -> None:
    nine = build_lightcnn("lightcnn-9", RELEASED_CLASSES["lightcnn-9"]).state_dict()
    assert nine["features.0.filter.weight"].shape == (96, 1, 5, 5)
    assert nine["features.7.conv.filter.weight"].shape == (256, 128, 3, 3)
    assert nine["fc1.filter.weight"].shape == (512, 8192)
    v1 = build_lightcnn("lightcnn-29").state_dict()
    v2 = build_lightcnn("lightcnn-29v2", RELEASED_CLASSES["lightcnn-29v2"]).state_dict()
    assert "block3.2.conv2.filter.weight" in v1 and "fc.filter.weight" in v1
    assert v2["fc.weight"].shape == (256, 8192) and "fc2.bias" not in v2


@pytest.mark.parametrize("variant", ["lightcnn-9", "lightcnn-29v2"])
def test_forward_gives_logits_and_a_256_feature(variant: str) -> None:
    net = build_lightcnn(variant, num_classes=10, width=0.125).eval()
    # width only narrows the channels; the side must still be 128 for the default input size
    logits, feature = net(torch.rand(2, 1, 128, 128))
    assert logits.shape == (2, 10) and feature.shape == (2, 256)


def test_mfm_takes_the_max_of_the_two_halves() -> None:
    from evaluate.lightcnn import MFM

    unit = MFM(2, 3, linear=True)
    x = torch.randn(4, 2)
    a, b = unit.filter(x).split(3, dim=1)
    assert torch.equal(unit(x), torch.maximum(a, b))


def test_unknown_variant_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lightcnn-29v2"):
        build_lightcnn("lightcnn-4")
