"""Differentiable image operations that training and evaluation both use (batched, on any device)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur with one ``sigma`` per image (0 leaves an image as it is), 9x9 taps."""
    radius = 4
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    sigma = sigma.to(images).clamp_min(1e-3)[:, None]
    taps = torch.exp(-0.5 * (offsets[None] / sigma) ** 2)
    taps = taps / taps.sum(1, keepdim=True)  # B x 9, a delta where sigma is ~0
    n, c, h, w = images.shape
    kernels = taps.repeat_interleave(c, 0)  # one kernel per (image, channel)
    x = F.pad(images.reshape(1, n * c, h, w), (radius,) * 4, mode="replicate")
    x = F.conv2d(x, kernels[:, None, None, :], groups=n * c)
    x = F.conv2d(x, kernels[:, None, :, None], groups=n * c)
    return x.reshape(n, c, h, w)


def random_blur(images: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Each image blurred by its own sigma drawn uniformly from [0, max_sigma] px (torch's RNG)."""
    if max_sigma == 0:
        return images
    return blur(images, torch.rand(len(images), device=images.device) * max_sigma)


def random_noise(images: torch.Tensor, max_std: float) -> torch.Tensor:
    """Each image plus Gaussian noise of its own standard deviation, drawn uniformly from
    [0, max_std] (in the images' units; torch's RNG)."""
    if max_std == 0:
        return images
    std = torch.rand(len(images), device=images.device, dtype=images.dtype) * max_std
    return images + std.view(-1, *(1,) * (images.dim() - 1)) * torch.randn_like(images)
