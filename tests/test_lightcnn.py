from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

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


# --- an independent forward pass, written from the paper's description and the released keys ------


def mfm(x: torch.Tensor, sd: dict[str, torch.Tensor], key: str, padding: int = 0) -> torch.Tensor:
    """Max-Feature-Map: the layer's 2C outputs as two stacked halves, maximum over the pair."""
    w, b = sd[f"{key}.filter.weight"], sd[f"{key}.filter.bias"]
    y = F.conv2d(x, w, b, padding=padding) if w.dim() == 4 else x @ w.T + b
    return y.unflatten(1, (2, y.shape[1] // 2)).amax(dim=1)


def pool(x: torch.Tensor, v2: bool = False) -> torch.Tensor:
    """2x2 max pooling (v2: max + mean) on even sides, as reshapes."""
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2)
    return windows.amax(dim=(3, 5)) + (windows.mean(dim=(3, 5)) if v2 else 0)


def group(x: torch.Tensor, sd: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    return mfm(mfm(x, sd, f"{key}.conv_a"), sd, f"{key}.conv", padding=1)


def reference_lightcnn9(x: torch.Tensor, sd: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    x = pool(mfm(x, sd, "features.0", padding=2))
    x = pool(group(x, sd, "features.2"))
    x = pool(group(x, sd, "features.4"))
    x = pool(group(group(x, sd, "features.6"), sd, "features.7"))
    feature = mfm(x.flatten(1), sd, "fc1")
    return feature @ sd["fc2.weight"].T + sd["fc2.bias"], feature


def reference_lightcnn29(x: torch.Tensor, sd: dict[str, torch.Tensor], v2: bool
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    def blocks(x: torch.Tensor, stage: int) -> torch.Tensor:
        count = len({k.split(".")[1] for k in sd if k.startswith(f"block{stage}.")})
        for i in range(count):
            key = f"block{stage}.{i}"
            x = mfm(mfm(x, sd, f"{key}.conv1", padding=1), sd, f"{key}.conv2", padding=1) + x
        return x

    x = pool(mfm(x, sd, "conv1", padding=2), v2)
    x = pool(group(blocks(x, 1), sd, "group1"), v2)
    x = pool(group(blocks(x, 2), sd, "group2"), v2)
    x = group(blocks(x, 3), sd, "group3")
    x = pool(group(blocks(x, 4), sd, "group4"), v2)
    feature = x.flatten(1) @ sd["fc.weight"].T + sd["fc.bias"] if v2 else mfm(x.flatten(1), sd, "fc")
    logits = feature @ sd["fc2.weight"].T + (0 if v2 else sd["fc2.bias"])
    return logits, feature


@pytest.mark.parametrize("variant", ["lightcnn-9", "lightcnn-29", "lightcnn-29v2"])
def test_forward_equals_an_independent_functional_forward(variant: str) -> None:
    torch.manual_seed(0)
    net = build_lightcnn(variant, num_classes=7, width=0.125, input_size=32).double().eval()
    with torch.no_grad():
        for p in net.parameters():  # biases too: a missed bias would not show with zeros
            p.add_(0.05 * torch.randn_like(p))
    sd = net.state_dict()
    x = torch.rand(3, 1, 32, 32, dtype=torch.float64)
    logits, feature = net(x)
    expected = reference_lightcnn9(x, sd) if variant == "lightcnn-9" else reference_lightcnn29(
        x, sd, v2=variant == "lightcnn-29v2")
    torch.testing.assert_close(feature, expected[1], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(logits, expected[0], rtol=1e-10, atol=1e-12)


def test_unknown_variant_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lightcnn-29v2"):
        build_lightcnn("lightcnn-4")
