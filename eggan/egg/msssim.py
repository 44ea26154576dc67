"""MS-SSIM for EGGAN's reconstruction loss (Eq. 6), usable at every suite size (32-256 px).

The standard definition (5 scales, 11x11 Gaussian window, sigma 1.5) needs a side of at least
161 px, so common libraries refuse 128x128 faces. ``settings_for`` keeps the standard weights
and shrinks the setup per size instead: an 11x11 window (sigma 1.5) from 128 px up and a 7x7
window (sigma 1.0) below, with as many scales (at most 5) as keep the coarsest scale at least as
large as the window. The first k standard weights are renormalised to sum to 1. The settings go
into the run's metadata.

Negative structure/contrast terms (possible for anti-correlated patches early in training) make
a fractional power NaN; they are clamped to a small positive floor (``EPS``) before the power,
as pytorch-msssim's ``relu`` guard does.

``mode="official"`` reproduces the authors' MS-SSIM (the pytorch-msssim of jorge-pessoa that
they vendor): always 5 scales with the 11x11 window shrunk to the image at coarse scales, no
padding, the value range re-detected at each scale, batch-averaged terms, "normalize" mode
((x + 1) / 2 on every term) and the grouping ``prod(cs[:-1] ** w * ssim[-1] ** w[-1])``, which
raises the last scale's term to 4x its exponent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

STANDARD_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
EPS = 1e-4
K1, K2 = 0.01, 0.03

Mode = Literal["standard", "official"]


@dataclass(frozen=True)
class MSSSIMSettings:
    mode: Mode
    image_size: int
    scales: int
    window: int
    sigma: float
    weights: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings_for(image_size: int, mode: Mode = "standard") -> MSSSIMSettings:
    """The window and number of scales used at ``image_size`` (see the module docstring)."""
    if mode == "official":
        return MSSSIMSettings("official", image_size, 5, 11, 1.5, STANDARD_WEIGHTS)
    window, sigma = (11, 1.5) if image_size >= 128 else (7, 1.0)
    scales = 1
    while scales < len(STANDARD_WEIGHTS) and image_size // 2**scales >= window:
        scales += 1
    if image_size < window:
        raise ValueError(f"MS-SSIM needs images of at least {window} px, got {image_size}")
    kept = STANDARD_WEIGHTS[:scales]
    weights = tuple(w / sum(kept) for w in kept)
    return MSSSIMSettings("standard", image_size, scales, window, sigma, weights)


def gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    """A normalised 2-D Gaussian, one copy per channel for a grouped convolution."""
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_terms(
    x: torch.Tensor, y: torch.Tensor, window: torch.Tensor, data_range: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image SSIM and contrast-structure (cs) means, valid convolution (no padding)."""
    c = x.shape[1]
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_x, mu_y = F.conv2d(x, window, groups=c), F.conv2d(y, window, groups=c)
    var_x = F.conv2d(x * x, window, groups=c) - mu_x**2
    var_y = F.conv2d(y * y, window, groups=c) - mu_y**2
    cov = F.conv2d(x * y, window, groups=c) - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs_map
    return ssim_map.flatten(1).mean(1), cs_map.flatten(1).mean(1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, settings: MSSSIMSettings) -> torch.Tensor:
    """Mean MS-SSIM of two image batches in [-1, 1] (1 for identical images).

    Always computed in float32 or wider, also under bf16 autocast: the variances are differences
    of nearly equal local means, which bf16's 8-bit mantissa turns negative (the loss was -inf at
    the first step of a bf16 run at 64 px). float64 inputs stay float64 (the exact reference tests).
    """
    with torch.autocast(x.device.type, enabled=False):
        dtype = torch.promote_types(x.dtype, torch.float32)
        x, y = x.to(dtype), y.to(dtype)
        if settings.mode == "official":
            return ms_ssim_official(x, y)
        return _ms_ssim_standard(x, y, settings)


def _ms_ssim_standard(x: torch.Tensor, y: torch.Tensor, settings: MSSSIMSettings) -> torch.Tensor:
    weights = x.new_tensor(settings.weights)
    window = gaussian_window(settings.window, settings.sigma, x.shape[1], x)
    values = []
    for scale in range(settings.scales):
        ssim, cs = ssim_terms(x, y, window, data_range=2.0)
        values.append(ssim if scale == settings.scales - 1 else cs)
        if scale < settings.scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    terms = torch.stack(values, dim=1).clamp(min=EPS)  # B x scales
    return (terms**weights).prod(dim=1).mean()


def detected_range(x: torch.Tensor) -> torch.Tensor:
    """The authors' value-range guess: max 255 or 1, min -1 or 0, read from the image batch."""
    high = torch.where(x.max() > 128, 255.0, 1.0)
    low = torch.where(x.min() < -0.5, -1.0, 0.0)
    return (high - low).detach()


def ms_ssim_official(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The authors' MS-SSIM, quirks included (module docstring), on batches in [-1, 1]."""
    weights = x.new_tensor(STANDARD_WEIGHTS)
    ssims, css = [], []
    for _ in STANDARD_WEIGHTS:
        size = min(11, x.shape[-2], x.shape[-1])
        window = gaussian_window(size, 1.5, x.shape[1], x)
        ssim, cs = ssim_terms(x, y, window, detected_range(x))
        ssims.append(ssim.mean())
        css.append(cs.mean())
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    ssim_t = (torch.stack(ssims) + 1) / 2
    cs_t = (torch.stack(css) + 1) / 2
    return torch.prod(cs_t[:-1] ** weights[:-1] * ssim_t[-1] ** weights[-1])
