"""MS-SSIM at every suite size: settings, range, NaN guard, differentiability, the authors' mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from eggan.egg.msssim import STANDARD_WEIGHTS, ms_ssim, settings_for

SIZES = (32, 64, 128, 256)


@pytest.mark.parametrize("size", SIZES)
def test_settings_keep_the_coarsest_scale_at_least_a_window_wide(size: int) -> None:
    s = settings_for(size)
    assert size // 2 ** (s.scales - 1) >= s.window
    assert s.scales == len(s.weights) and abs(sum(s.weights) - 1) < 1e-9
    assert (s.scales, s.window) == {32: (3, 7), 64: (4, 7), 128: (4, 11), 256: (5, 11)}[size]
    assert settings_for(size, "official").weights == STANDARD_WEIGHTS


@pytest.mark.parametrize("mode", ["standard", "official"])
@pytest.mark.parametrize("size", SIZES)
def test_finite_differentiable_and_one_for_identical_images(size: int, mode: str) -> None:
    torch.manual_seed(size)
    settings = settings_for(size, mode)
    x = torch.rand(2, 3, size, size) * 2 - 1
    assert float(ms_ssim(x, x, settings)) == pytest.approx(1.0, abs=1e-5)
    for other in ((x + 0.3 * torch.randn_like(x)).clamp(-1, 1), -x, torch.zeros_like(x)):
        y = other.detach().requires_grad_(True)
        value = ms_ssim(x, y, settings)
        value.backward()
        assert torch.isfinite(value) and 0.0 <= float(value.detach()) < 1.0
        assert torch.isfinite(y.grad).all()


def test_more_noise_gives_lower_msssim() -> None:
    torch.manual_seed(0)
    settings = settings_for(64)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    values = [float(ms_ssim(x, (x + s * torch.randn_like(x)).clamp(-1, 1), settings)) for s in (0.05, 0.2, 0.6)]
    assert values[0] > values[1] > values[2]


# --- an independent reference: numpy and scipy, written from the definitions ------------------------


def _window(size: int, sigma: float) -> np.ndarray:
    g = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def _maps(a: np.ndarray, b: np.ndarray, window: np.ndarray, value_range: float) -> tuple[np.ndarray, np.ndarray]:
    """SSIM and contrast-structure maps of two single-channel images, valid filtering (no padding)."""
    c1, c2 = (0.01 * value_range) ** 2, (0.03 * value_range) ** 2

    def blur(img: np.ndarray) -> np.ndarray:
        return correlate2d(img, window, mode="valid")

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    return (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1) * cs, cs


def _halve(img: np.ndarray) -> np.ndarray:
    """2x2 average pooling of a C x H x W array (an odd last row/column dropped)."""
    c, h, w = img.shape
    return img[:, : h // 2 * 2, : w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def reference_standard(x: np.ndarray, y: np.ndarray, scales: int, size: int, sigma: float,
                       weights: tuple[float, ...]) -> float:
    """Per image: cs at every scale but the last, SSIM at the last (channels and positions averaged),
    floored at 1e-4, raised to the weights and multiplied; then the batch mean."""
    window, values = _window(size, sigma), []
    for a, b in zip(x, y, strict=True):
        product = 1.0
        for scale in range(scales):
            ssim, cs = zip(*(_maps(a[k], b[k], window, 2.0) for k in range(len(a))), strict=True)
            term = np.mean(ssim) if scale == scales - 1 else np.mean(cs)
            product *= max(term, 1e-4) ** weights[scale]
            a, b = _halve(a), _halve(b)
        values.append(product)
    return float(np.mean(values))


def reference_official(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The normalised SSIM and cs of jorge-pessoa's pytorch-msssim at 5 scales (the authors' copy):
    window min(11, side), range guessed from x at each scale, means over the whole batch."""
    ssims, css = [], []
    for _ in range(5):
        value_range = (255 if x.max() > 128 else 1) - (-1 if x.min() < -0.5 else 0)
        window = _window(min(11, x.shape[-2], x.shape[-1]), 1.5)
        maps = [_maps(x[i, k], y[i, k], window, value_range) for i in range(len(x)) for k in range(x.shape[1])]
        ssims.append(np.mean([m[0] for m in maps]))
        css.append(np.mean([m[1] for m in maps]))
        x, y = np.stack([_halve(i) for i in x]), np.stack([_halve(i) for i in y])
    return (np.array(ssims) + 1) / 2, (np.array(css) + 1) / 2


def noisy_pair(size: int, noise: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, size, size, generator=generator, dtype=torch.float64) * 2 - 1
    return x, (x + noise * torch.randn(x.shape, generator=generator, dtype=torch.float64)).clamp(-1, 1)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_standard_mode_equals_an_independent_computation(size: int) -> None:
    s = settings_for(size)
    for noise in (0.1, 0.5, 2.0):  # 2.0: anti-correlated patches exercise the floor
        x, y = noisy_pair(size, noise)
        expected = reference_standard(x.numpy(), y.numpy(), s.scales, s.window, s.sigma, s.weights)
        assert float(ms_ssim(x, y, s)) == pytest.approx(expected, rel=1e-9)


def test_constant_images_have_the_analytic_value() -> None:
    """Flat images: every cs is 1 and the last SSIM is the luminance term (2ab + C1) / (a^2 + b^2 + C1)."""
    s = settings_for(32)  # 3 scales
    x, y = torch.full((1, 3, 32, 32), 0.5, dtype=torch.float64), torch.full((1, 3, 32, 32), 0.25, dtype=torch.float64)
    c1 = (0.01 * 2) ** 2
    luminance = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert float(ms_ssim(x, y, s)) == pytest.approx(luminance ** (0.3001 / (0.0448 + 0.2856 + 0.3001)), rel=1e-9)


@pytest.mark.parametrize("size", [32, 128])
def test_official_mode_equals_the_authors_grouping_and_raises_the_last_scale_fourfold(size: int) -> None:
    """prod(cs[:-1] ** w[:-1] * ssim[-1] ** w[-1]) multiplies ssim[-1] ** w[-1] into four factors:
    below the value with one exponent per scale whenever the coarsest SSIM is below 1."""
    x, y = noisy_pair(size, 0.5)
    ssim, cs = reference_official(x.numpy(), y.numpy())
    w = np.array(STANDARD_WEIGHTS)
    authors = float(np.prod(cs[:-1] ** w[:-1] * ssim[-1] ** w[-1]))
    intended = float(np.prod(cs[:-1] ** w[:-1]) * ssim[-1] ** w[-1])
    official = float(ms_ssim(x, y, settings_for(size, "official")))
    assert official == pytest.approx(authors, rel=1e-7)  # its range constants are float32
    assert ssim[-1] < 1 and official < intended
