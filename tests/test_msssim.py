"""MS-SSIM at every suite size: settings, range, NaN guard, differentiability, the authors' mode."""

from __future__ import annotations

import pytest
import torch

from eggan.msssim import STANDARD_WEIGHTS, ms_ssim, settings_for

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


def test_official_mode_raises_the_last_scale_to_four_times_its_exponent(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a pair whose coarsest-scale SSIM is below 1 the authors' grouping gives a lower value than
    the same terms combined with one exponent per scale."""
    from eggan import msssim

    torch.manual_seed(0)
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    y = (x + 0.5 * torch.randn_like(x)).clamp(-1, 1)
    captured: list[torch.Tensor] = []
    real_terms = msssim.ssim_terms

    def spy(*args, **kwargs):
        ssim, cs = real_terms(*args, **kwargs)
        captured.append(torch.stack([ssim.mean(), cs.mean()]))
        return ssim, cs

    monkeypatch.setattr(msssim, "ssim_terms", spy)
    official = float(ms_ssim(x, y, settings_for(128, "official")))
    terms = (torch.stack(captured) + 1) / 2  # normalize mode
    w = torch.tensor(STANDARD_WEIGHTS)
    once = float(torch.prod(terms[:-1, 1] ** w[:-1]) * terms[-1, 0] ** w[-1])
    assert official == pytest.approx(once * float(terms[-1, 0] ** (3 * w[-1])), rel=1e-5)
    assert official < once
