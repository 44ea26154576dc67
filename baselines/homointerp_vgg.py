"""Where HomoInterpGAN's VGG-19 encoder starts: the authors' normalised VGG, or ImageNet VGG-19
rescaled the way that file was made, or (CPU presets only) a fixed-seed random trunk.

The authors initialise the encoder (and its frozen teacher) from ``vgg19g-4aff041b.pth``, the
"normalized VGG-19" of Deep Feature Interpolation: ImageNet VGG-19 with every filter rescaled so
its mean activation over images and positions is 1 (Gatys et al.). That file cannot be downloaded
here. A user who has it passes its path (``model.vgg19g_path``); otherwise the torchvision
ImageNet weights are found offline (``eggan.core.vgg``) and rescaled the same way, measured on the
training faces instead of ImageNet images. Because the network only has ReLUs and max-pools,
the rescaling changes each feature map by a per-channel constant and nothing else; it sets the
scale of the latent-space losses, which the authors' unit loss weights were tuned for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.homointerp_nets import VGGEncoder
from eggan.core.checkpoint import load_file
from eggan.core.vgg import vgg19_features
from eggan.errors import CheckpointError, ConfigError

DEAD_FRACTION = 0.01


def load_vgg19g(encoder: VGGEncoder, path: str | Path) -> None:
    """The authors' file: keys ``features_{1,2,3}.convX_Y.*``, filtered to the encoder's (as they do)."""
    state = load_file(path)
    own = encoder.state_dict()
    if not isinstance(state, dict):
        raise CheckpointError("not a state dict", path)
    matched = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(matched))
    if missing:
        raise CheckpointError(f"not the normalised VGG-19 (vgg19g) file: no {missing[0]}", path)
    try:
        encoder.load_state_dict(matched)
    except RuntimeError as exc:
        raise CheckpointError(f"vgg19g shapes do not fit ({str(exc).splitlines()[-1].strip()})", path) from None


@torch.no_grad()
def copy_torchvision(encoder: VGGEncoder, features: nn.Sequential) -> None:
    """Copy torchvision's ``vgg19().features`` convolutions, in order, into the encoder."""
    theirs = [m for m in features if isinstance(m, nn.Conv2d)]
    for mine, source in zip(encoder.convs(), theirs, strict=False):
        mine.weight.copy_(source.weight)
        mine.bias.copy_(source.bias)


@torch.no_grad()
def gatys_normalise(encoder: VGGEncoder, images: torch.Tensor) -> None:
    """Rescale filters so each conv's mean ReLU activation over ``images`` and positions is 1.

    Layer by layer: undo the previous layer's per-channel scale on this layer's input weights,
    measure this layer's mean activations, divide its filters and biases by them. Dead and nearly
    dead filters (mean below ``DEAD_FRACTION`` of the layer's median) are left as they are:
    dividing by a tiny mean would amplify them by orders of magnitude (common in random trunks).
    """
    h = images
    previous: torch.Tensor | None = None
    for block in encoder.blocks():
        for layer in block:
            if isinstance(layer, nn.Conv2d):
                if previous is not None:
                    layer.weight.mul_(previous.view(1, -1, 1, 1))
                mean = F.relu(layer(h)).mean(dim=(0, 2, 3))
                alive = mean > DEAD_FRACTION * mean.median()
                scale = torch.where(alive, mean, torch.ones_like(mean))
                layer.weight.div_(scale.view(-1, 1, 1, 1))
                layer.bias.div_(scale)
                previous = scale
            h = layer(h)


def init_encoder(
    encoder: VGGEncoder,
    width: float,
    images: torch.Tensor,
    vgg19g_path: str | None,
    vgg19_path: str | None,
    normalise: bool,
    allow_random: bool,
) -> dict[str, Any]:
    """Initialise ``encoder`` in place; returns what was done, for the run's metadata.

    ``images`` are ImageNet-normalised training faces, used only for the Gatys rescaling.
    """
    if vgg19g_path:
        if width != 1:
            raise ConfigError(f"model.vgg19g_path needs model.width=1 (the authors' VGG), not {width}")
        load_vgg19g(encoder, vgg19g_path)
        return {"weights": "vgg19g", "path": vgg19g_path, "normalised": "authors' file (Gatys-normalised)"}
    if width == 1:
        features, status = vgg19_features(vgg19_path, allow_random=allow_random)
        copy_torchvision(encoder, features)
        info: dict[str, Any] = {"weights": status.weights, "path": status.path, "note": status.note}
    else:
        if not allow_random:
            raise ConfigError(f"model.width={width}: ImageNet VGG-19 weights need width 1 (allowed random only in "
                              "smoke/quick: set model.allow_random_vgg=true)")
        info = {"weights": "random", "path": None,
                "note": f"width {width} VGG layout, seeded random init (ImageNet weights need width 1)"}
    if normalise:
        gatys_normalise(encoder, images)
        info["normalised"] = f"Gatys-style per-filter rescaling on {len(images)} training faces"
    else:
        info["normalised"] = "no (raw weights)"
    return info
