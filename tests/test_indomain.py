from __future__ import annotations

import torch

from evaluate.indomain import blur, degrade


def test_blur_keeps_sigma_zero_images_and_smooths_the_others() -> None:
    images = torch.zeros(2, 3, 16, 16)
    images[:, :, 8, 8] = 1.0  # a single bright pixel
    out = blur(images, torch.tensor([0.0, 1.5]))
    assert torch.allclose(out[0], images[0], atol=1e-6)
    assert out[1, :, 8, 8].max() < 0.2  # spread over its neighbours...
    assert torch.allclose(out[1].sum(dim=(1, 2)), images[1].sum(dim=(1, 2)), atol=1e-4)  # ...and conserved
    assert torch.allclose(out[1, 0], out[1, 0].T, atol=1e-6)  # isotropic


def test_degrade_blurs_about_half_the_batch_reproducibly() -> None:
    images = torch.rand(200, 3, 16, 16)
    first = degrade(images, 2.0, torch.Generator().manual_seed(0))
    again = degrade(images, 2.0, torch.Generator().manual_seed(0))
    assert torch.equal(first, again)
    changed = (first - images).abs().flatten(1).amax(1) > 1e-4
    assert 70 < int(changed.sum()) < 130
    assert torch.equal(degrade(images, 0.0, torch.Generator()), images)
