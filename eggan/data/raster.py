"""Anti-aliased 2-D rasterisation of analytic shapes, vectorised over a batch of images.

A shape is a signed distance ``d`` (negative inside, in face units) and its pixel coverage is
``clamp(0.5 - d / pixel, 0, 1)``: an exact box-filter for straight edges and a close one for
curves, so one sample per pixel is already anti-aliased (no supersampling, hence fast).

Images are rendered without rotation, so a pixel's x depends on its column only and its y on its
row only. Coordinates are ``N x 1 x S`` (x) and ``N x S x 1`` (y) tensors, and any quantity that
depends on one axis (a curve y(x), a Gaussian factor) costs a row, not a whole image; only the
final comparisons broadcast to ``N x S x S``. Parameters are ``N x 1 x 1`` or ``N x 1 x S``.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def coverage(distance: Tensor, pixel: Tensor) -> Tensor:
    """Fraction of each pixel inside the shape whose signed distance is ``distance``."""
    return (0.5 - distance / pixel).clamp_(0.0, 1.0)


def below(y: Tensor, curve: Tensor, pixel: Tensor) -> Tensor:
    """Coverage of the region under (larger y than) a curve y = curve(x), by vertical distance."""
    return ((y - curve) / pixel + 0.5).clamp_(0.0, 1.0)


def band(y: Tensor, curve: Tensor, half_width: Tensor | float, pixel: Tensor) -> Tensor:
    """Coverage of a line of ``half_width`` around a curve y = curve(x), widened to >= 1 pixel.

    Lines thinner than a pixel would vanish at 32 px; keeping them one pixel wide keeps wrinkles
    and lid lines visible at every size (their contrast, not their width, carries intensity).
    """
    return ring(y - curve, half_width, pixel)


def span(x: Tensor, lo: Tensor | float, hi: Tensor | float, pixel: Tensor) -> Tensor:
    """Coverage of the interval lo < x < hi along one axis (the extent of a curve or a line)."""
    return coverage(torch.maximum(lo - x, x - hi), pixel)


def ellipse(x: Tensor, y: Tensor, cx, cy, rx, ry) -> Tensor:
    """Signed distance to an axis-aligned ellipse (Quilez's approximation, exact on circles)."""
    u, v = (x - cx) / rx, (y - cy) / ry
    k0 = (u * u + v * v).sqrt_()
    k1 = ((u / rx) ** 2 + (v / ry) ** 2).sqrt_().clamp_(min=1e-6)
    return k0 * (k0 - 1.0) / k1


def rounded_box(x: Tensor, y: Tensor, cx, cy, half_w, half_h, radius) -> Tensor:
    """Signed distance to an axis-aligned box with rounded corners."""
    qx = (x - cx).abs() - (half_w - radius)
    qy = (y - cy).abs() - (half_h - radius)
    outside = (qx.clamp(min=0.0) ** 2 + qy.clamp(min=0.0) ** 2).sqrt_()
    inside = torch.maximum(qx, qy).clamp_(max=0.0)
    return outside + inside - radius


def ring(distance: Tensor, half_width: Tensor | float, pixel: Tensor) -> Tensor:
    """Coverage of the outline of a shape given by its signed distance (at least one pixel wide)."""
    half = torch.maximum(torch.as_tensor(half_width, dtype=distance.dtype), 0.5 * pixel)
    return coverage(distance.abs() - half, pixel)


def segment(x: Tensor, y: Tensor, ax, ay, bx, by) -> Tensor:
    """Unsigned distance to the line segment from a to b."""
    dx, dy = bx - ax, by - ay
    length2 = (dx * dx + dy * dy).clamp(min=1e-8)
    t = (((x - ax) * dx + (y - ay) * dy) / length2).clamp_(0.0, 1.0)
    ex, ey = x - ax - t * dx, y - ay - t * dy
    return (ex * ex + ey * ey).sqrt_()


def blob(x: Tensor, y: Tensor, cx, cy, rx, ry) -> Tensor:
    """A soft Gaussian weight (shading, blush): separable, so one full-size multiply."""
    return torch.exp(-(((x - cx) / rx) ** 2)) * torch.exp(-(((y - cy) / ry) ** 2))


def paint(image: Tensor, alpha: Tensor, colour: Tensor) -> None:
    """Composite ``colour`` over ``image`` (N x 3 x S x S) in place with per-pixel ``alpha``."""
    image.add_(alpha.unsqueeze(1) * (colour - image))
