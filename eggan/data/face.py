"""Render SynthFACS faces: an identity plus 17 AU intensities -> an anti-aliased RGB image.

Each AU moves the facial landmarks or adds the shading FACS describes for it (see the table in
the SynthFACS spec): brows move for AU01/02/04, lids for AU05/07/45, the cheek and crow's feet
appear for AU06, nose wrinkles for AU09, the lips and jaw for AU10-AU26. Displacements are linear
in the intensity, so the image is a smooth, monotonic function of every AU and an AU of 2 already
moves a feature by about a pixel at 64x64.

AUs may differ between the two halves of the face (``aus`` of shape N x 2 x 17, left then right
half of the image): every AU-driven quantity is evaluated per image column, which is how the
unilateral contempt smirk is drawn without a second code path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from eggan.data.aus import AU_IDS, AU_MAX, N_AUS
from eggan.data.config import IMAGE_SIZES
from eggan.data.identity import Identity
from eggan.data.raster import (
    band,
    below,
    blob,
    coverage,
    ellipse,
    paint,
    ring,
    rounded_box,
    span,
)
from eggan.errors import ConfigError

Tensor = torch.Tensor
SCLERA = torch.tensor([0.95, 0.94, 0.91])
MOUTH_INSIDE = torch.tensor([0.30, 0.07, 0.09])
TEETH = torch.tensor([0.95, 0.93, 0.87])
LASH = torch.tensor([0.07, 0.05, 0.05])
# Half-width of the view in face units: the face fills about 85 % of the image height, like the
# aligned crops of RaFD.
VIEW = 0.8


@dataclass
class Nuisance:
    """Per-image viewing conditions: sub-pixel shift (pixels), scale and brightness factors."""

    shift_x: Tensor
    shift_y: Tensor
    scale: Tensor
    brightness: Tensor

    @classmethod
    def none(cls, n: int) -> Nuisance:
        return cls(torch.zeros(n), torch.zeros(n), torch.ones(n), torch.ones(n))


class _Face:
    """One batch being drawn: pixel grids, identity factors and AU intensities, all broadcastable.

    ``x`` is N x 1 x S, ``y`` N x S x 1, ``mx = |x|`` (mirror image for paired features: eyes,
    brows, ears); identity scalars are N x 1 x 1, colours N x 3 x 1 x 1, ``au(k)`` N x 1 x S.
    """

    # Set while drawing, read by later layers.
    chin: Tensor  # y of the chin (drops with AU26)
    hair_cover: Tensor  # coverage of the hair mass (the fringe is cut out of it)
    mouth: _Mouth

    def __init__(self, identity: Identity, aus: Tensor, size: int, nuisance: Nuisance) -> None:
        n = len(identity)
        step = 2.0 / size  # pixel pitch in image units ([-1, 1] across)
        grid = (torch.arange(size, dtype=torch.float32) + 0.5) * step - 1.0
        zoom = VIEW / nuisance.scale.view(n, 1, 1)  # face units per image unit
        self.x = (grid.view(1, 1, size) - nuisance.shift_x.view(n, 1, 1) * step) * zoom
        self.y = (grid.view(1, size, 1) - nuisance.shift_y.view(n, 1, 1) * step) * zoom
        self.mx = self.x.abs()
        self.px = step * zoom
        right = (self.x > 0).float().unsqueeze(-1)  # N x 1 x S x 1
        left_aus, right_aus = (aus / AU_MAX).unbind(1)
        self._aus = left_aus[:, None, None, :] + (right_aus - left_aus)[:, None, None, :] * right
        self.id = identity
        self.image = torch.empty(0)

    def au(self, number: int) -> Tensor:
        """Intensity of AU ``number`` on 0-1, per image column (N x 1 x S)."""
        return self._aus[..., AU_IDS.index(number)]

    def __getattr__(self, name: str) -> Tensor:
        """Identity factor ``name`` shaped to broadcast over the image (scalars and colours)."""
        value = getattr(self.__dict__["id"], name)
        return value.view(-1, 3, 1, 1) if value.dim() == 2 else value.view(-1, 1, 1)

    def paint(self, alpha: Tensor, colour: Tensor) -> None:
        paint(self.image, alpha, colour.view(-1, 3, 1, 1) if colour.dim() < 4 else colour)


def render_faces(identity: Identity, aus: Tensor, size: int, nuisance: Nuisance | None = None) -> Tensor:
    """Render N faces: ``identity`` (N rows), ``aus`` N x 17 (or N x 2 x 17 per image half) on 0-5.

    Returns an N x 3 x size x size uint8 tensor. Pure function of its inputs: the same inputs give
    the same bytes.
    """
    if size not in IMAGE_SIZES:
        raise ConfigError(f"image size {size} is not one of {IMAGE_SIZES}")
    aus = aus.float()
    if aus.dim() == 2:
        aus = aus.unsqueeze(1).expand(-1, 2, -1)
    if aus.shape[1:] != (2, N_AUS) or aus.shape[0] != len(identity):
        raise ConfigError(f"AU tensor of shape {tuple(aus.shape)} does not match {len(identity)} faces")
    nuisance = nuisance or Nuisance.none(len(identity))
    f = _Face(identity, aus.clamp(0.0, AU_MAX), size, nuisance)
    face = _draw_head(f)
    f.mouth = _mouth_shape(f)
    _draw_beard(f, face)  # under the AU marks, so a beard never hides a dimple or the chin boss
    _draw_skin_marks(f, face)
    _draw_nose(f)
    _draw_mouth(f)
    _draw_eyes(f)
    _draw_brows(f)
    _draw_hair_and_glasses(f)
    image = f.image * nuisance.brightness.view(-1, 1, 1, 1)
    return image.mul_(255.0).round_().clamp_(0.0, 255.0).to(torch.uint8)


def _draw_head(f: _Face) -> Tensor:
    """Background, clothes, neck, hair behind the head, ears and the face; returns face coverage."""
    n, size = len(f.id), f.x.shape[-1]
    gradient = (f.y + 1.0).unsqueeze(1) * 0.5  # N x 1 x S x 1
    f.image = (f.background + (f.background_low - f.background) * gradient).expand(n, 3, size, size)
    f.image = f.image.contiguous()
    f.paint(coverage(ellipse(f.x, f.y, 0.0, f.face_bot + 0.78, f.face_w + 0.38, 0.52), f.px), f.shirt)
    neck = rounded_box(f.x, f.y, 0.0, f.face_bot + 0.2, f.neck_w, 0.35, 0.05)
    f.paint(coverage(neck, f.px), f.skin * 0.8)
    hair_top = -f.hair_top
    half_h = (f.hair_bottom - hair_top) * 0.5
    radius = torch.minimum(f.hair_round, torch.minimum(f.hair_w, half_h))
    hair_box = rounded_box(f.x, f.y, 0.0, hair_top + half_h, f.hair_w, half_h, radius)
    f.hair_cover = coverage(hair_box, f.px)
    f.paint(f.hair_cover * f.hair_alpha, f.hair * 0.8)
    ears = ellipse(f.mx, f.y, f.face_w - 0.015, f.eye_y + 0.07, 0.06 * f.ear, 0.11 * f.ear)
    f.paint(coverage(ears, f.px), f.skin * 0.93)
    inner = ellipse(f.mx, f.y, f.face_w - 0.005, f.eye_y + 0.07, 0.03 * f.ear, 0.07 * f.ear)
    f.paint(coverage(inner, f.px) * 0.5, f.skin * 0.7)
    # The jaw drops with AU26: the lower half of the outline (and everything on it) moves down.
    f.chin = f.face_bot + 0.10 * f.au(26)
    lower = (f.y / f.chin).clamp(0.0, 1.0)
    half_w = f.face_w * (1.0 - f.jaw * lower * lower)
    half_h = torch.where(f.y < 0, f.face_top, f.chin)
    q = (f.x / half_w) ** 2 + (f.y / half_h) ** 2
    face = coverage((q.sqrt() - 1.0) * torch.minimum(half_w, half_h), f.px)
    shade = 1.0 - 0.16 * q.clamp(0.0, 1.0) ** 2 - 0.04 * f.x.clamp(min=0.0)
    f.paint(face, f.skin * shade.unsqueeze(1))
    return face


def _draw_skin_marks(f: _Face, face: Tensor) -> None:
    """Wrinkles, furrows and shading that AUs add to the skin (forehead, brows, nose, cheeks, chin)."""
    wrinkle, rosy = f.skin * 0.55, f.skin * torch.tensor([0.93, 0.66, 0.64]).view(1, 3, 1, 1)
    a1, a2, a4, a6, a9 = f.au(1), f.au(2), f.au(4), f.au(6), f.au(9)
    # AU01 wrinkles the centre of the forehead, AU02 its sides.
    lines = 0.6 * (a1 * span(f.mx, -1.0, 0.15, f.px) + a2 * span(f.mx, 0.13, 0.36, f.px))
    for k in range(2):
        curve = f.brow_y - 0.14 - 0.045 * k + 0.25 * f.mx * f.mx
        f.paint(band(f.y, curve, 0.005, f.px) * lines, wrinkle)
    # AU04: vertical furrows between the brows.
    furrow = band(f.mx, 0.028, 0.005, f.px) * span(f.y, f.brow_y - 0.02, f.brow_y + 0.07, f.px)
    f.paint(furrow * (0.75 * a4), wrinkle)
    # AU09: horizontal wrinkles across the nose bridge.
    for k in range(3):
        nose_line = band(f.y, f.eye_y + 0.035 * k - 0.005, 0.005, f.px) * span(f.mx, -1.0, 0.055, f.px)
        f.paint(nose_line * (0.8 * a9), wrinkle)
    # AU06: cheeks rise (blush moves up, bulge line under the eye) and crow's feet appear.
    cheek = blob(f.mx, f.y, f.eye_x + 0.02, f.eye_y + 0.22 - 0.08 * a6, 0.11, 0.07)
    f.paint(cheek * (0.08 + 0.55 * a6) * face, rosy)
    arc_x = (f.mx - f.eye_x) / f.eye_w
    bulge = f.eye_y + f.lid_low + 0.05 - 0.025 * a6 + 0.03 * arc_x * arc_x
    f.paint(band(f.y, bulge, 0.005, f.px) * span(arc_x, -0.8, 0.9, f.px / f.eye_w) * (0.6 * a6), wrinkle)
    corner = f.eye_x + f.eye_w + 0.012
    reach = (f.mx - corner).clamp(min=0.0)
    for k in (-1.0, 0.0, 1.0):
        crow = band(f.y, f.eye_y + k * (0.008 + 0.55 * reach), 0.005, f.px)
        f.paint(crow * span(f.mx, corner, corner + 0.045, f.px) * (0.7 * a6), wrinkle)
    # Nasolabial folds deepen with AU12 (smile), AU10 and AU09 (sneer) and a little with AU06.
    mouth = f.mouth
    top_y, bottom_y = f.nose_y - 0.03, mouth.corner_y + 0.03
    s = ((f.y - top_y) / (bottom_y - top_y)).clamp(0.0, 1.0)
    fold_x = f.nose_w + 0.03 + (mouth.half_w + 0.04 - f.nose_w - 0.03) * s + 0.05 * s * (1.0 - s)
    fold = band(f.mx, fold_x, 0.005, f.px) * span(f.y, top_y, bottom_y, f.px)
    depth = 0.04 + 0.6 * (0.9 * f.au(12) + 0.8 * f.au(10) + 0.5 * a9 + 0.2 * a6).clamp(max=1.0)
    f.paint(fold * depth, wrinkle)
    # AU14: dimples just outside the mouth corners.
    dimple_y = f.y - mouth.corner_y
    dimple = band(f.mx, mouth.half_w + 0.03 + 6.0 * dimple_y * dimple_y, 0.01, f.px)
    dimple = dimple * span(dimple_y, -0.045, 0.04, f.px)
    f.paint(dimple * f.au(14), f.skin * 0.45)
    # AU17: chin boss (wrinkled, shaded chin) and a deeper crease under the lower lip.
    a17 = f.au(17)
    f.paint(blob(f.x, f.y, 0.0, f.chin - 0.1, 0.1, 0.05) * (0.55 * a17) * face, wrinkle)
    crease = band(f.y, mouth.lower_out + 0.035, 0.006, f.px) * span(f.x, -0.07, 0.07, f.px)
    f.paint(crease * (0.12 + 0.6 * a17), wrinkle)


def _draw_beard(f: _Face, face: Tensor) -> None:
    """Stubble, full beard, moustache or goatee (identity factors; they follow the jaw)."""
    style = [(f.beard == k).float() for k in range(5)]
    jaw_area = face * below(f.y, f.nose_y + 0.08 - 0.22 * f.mx, f.px)
    moustache = band(f.y, f.mouth_y - f.lip_up - 0.035, 0.022, f.px) * span(f.mx, -1.0, f.mouth_w + 0.02, f.px)
    below_lip = f.mouth_y + f.lip_low + 0.14 * f.au(26) + 0.01  # under the lower lip's middle
    tuft = (f.chin - below_lip) * 0.4
    goatee = coverage(ellipse(f.x, f.y, 0.0, below_lip + tuft, f.mouth_w, tuft + 0.02), f.px) * face
    f.paint(0.3 * style[1] * jaw_area, f.hair * 0.5)  # stubble: a shadow, whatever the hair colour
    alpha = 0.8 * style[2] * jaw_area + 0.9 * style[3] * moustache
    f.paint(alpha + 0.9 * style[4] * (goatee + moustache).clamp(max=1.0), f.hair * 0.85)


def _draw_nose(f: _Face) -> None:
    """Bridge shadow, tip shading, wings and nostrils; AU09 (and a little AU10) lift the nostrils."""
    dark = f.skin * 0.5
    bridge = band(f.x, 0.5 * f.nose_w, 0.008, f.px) * span(f.y, f.eye_y + 0.03, f.nose_y - 0.04, f.px)
    f.paint(bridge * 0.2, dark)
    f.paint(blob(f.x, f.y, 0.0, f.nose_y + 0.02, f.nose_w * 1.1, 0.022) * 0.3, dark)
    rise = 0.035 * f.au(9) + 0.012 * f.au(10)
    nostril_y = f.nose_y - rise
    wing_x = f.nose_w * (0.85 + 0.25 * f.au(9))
    wing = ring(ellipse(f.mx, f.y, wing_x, nostril_y - 0.012, 0.032, 0.03), 0.005, f.px)
    f.paint(wing * span(f.y, nostril_y - 0.04, nostril_y + 0.02, f.px) * 0.3, dark)
    nostrils = coverage(ellipse(f.mx, f.y, f.nose_w * 0.5, nostril_y, 0.02, 0.011), f.px)
    f.paint(nostrils * 0.6, f.skin * 0.3)


@dataclass
class _Mouth:
    """Mouth curves as functions of x (N x 1 x S): lip outlines top to bottom, corners, extent."""

    half_w: Tensor
    corner_y: Tensor
    mid: Tensor
    upper_out: Tensor
    upper_in: Tensor
    lower_in: Tensor
    lower_out: Tensor


def _mouth_shape(f: _Face) -> _Mouth:
    """Where the lips are for the current lip and jaw AUs (per column, so per side)."""
    a10, a12, a14, a15 = f.au(10), f.au(12), f.au(14), f.au(15)
    a17, a20, a23, a25, a26 = f.au(17), f.au(20), f.au(23), f.au(25), f.au(26)
    half_w = f.mouth_w * (1.0 + 0.3 * a12 - 0.3 * a14 + 0.5 * a20 - 0.18 * a23)
    corner_dy = -0.08 * a12 - 0.02 * a14 + 0.07 * a15 + 0.018 * a20
    t = f.x / half_w
    t2 = t * t
    inside = (1.0 - t2).clamp(min=0.0)
    round_ = inside.sqrt()
    mid = f.mouth_y + corner_dy * t2 - 0.028 * a17 * inside + 0.04 * a26 * round_
    raise10 = 0.045 * a10 * (1.0 - t2 * t2).clamp(min=0.0)
    upper_in = mid - (0.012 * a25 + 0.02 * a26) * round_ - raise10
    lower_in = mid + (0.035 * a25 + 0.1 * a26) * round_
    thin = (1.0 - 0.75 * a23) * (1.0 - 0.3 * a20)
    bow = 1.0 - 0.3 * torch.exp(-((t / 0.16) ** 2))
    upper_out = upper_in - f.lip_up * thin * (1.0 - 0.3 * a10) * round_ * bow
    lower_out = lower_in + f.lip_low * thin * round_
    return _Mouth(half_w, f.mouth_y + corner_dy, mid, upper_out, upper_in, lower_in, lower_out)


def _draw_mouth(f: _Face) -> None:
    """Lips, the line between them, and when open the mouth cavity with upper and lower teeth."""
    m = f.mouth
    extent = span(f.x, -m.half_w, m.half_w, f.px)
    top, upper_in = below(f.y, m.upper_out, f.px), below(f.y, m.upper_in, f.px)
    lower_in, bottom = below(f.y, m.lower_in, f.px), below(f.y, m.lower_out, f.px)
    f.paint((top - upper_in).clamp_(min=0.0) * extent, f.lip * 0.88)
    f.paint((lower_in - bottom).clamp_(min=0.0) * extent, f.lip)
    # A soft outline keeps lip shape readable on any skin tone and over a beard.
    outline = (band(f.y, m.upper_out, 0.003, f.px) + band(f.y, m.lower_out, 0.003, f.px)).clamp_(max=1.0)
    f.paint(outline * extent * 0.45, f.lip * 0.5)
    f.paint(band(f.y, m.mid, 0.004, f.px) * extent * 0.8, f.lip * 0.4)
    cavity = (upper_in - lower_in).clamp_(min=0.0) * extent
    f.paint(cavity, MOUTH_INSIDE)
    f.paint(cavity * (1.0 - below(f.y, m.upper_in + 0.03, f.px)), TEETH)
    f.paint(cavity * below(f.y, m.lower_in - 0.018, f.px) * 0.85, TEETH * 0.9)


def _draw_eyes(f: _Face) -> None:
    """Lids (AU05 raises, AU07 tightens, AU06 pushes the lower lid up, AU45 closes), iris, lashes."""
    a5, a6, a7, a45 = f.au(5), f.au(6), f.au(7), f.au(45)
    t = (f.mx - f.eye_x) / f.eye_w
    shape = 1.0 - t * t
    upper = f.eye_y - f.lid_up * (1.0 + 0.9 * a5) * (1.0 - 0.45 * a7) * shape
    lower = f.eye_y + f.lid_low * (1.0 - 0.45 * a6 - 0.55 * a7).clamp(min=0.05) * shape
    lid = upper + (lower - upper) * a45
    # Outside the eye the two lid parabolas cross; clip to the eye's width so they never meet there.
    under_lower = (1.0 - below(f.y, lower, f.px)) * span(t, -1.0, 1.0, f.px / f.eye_w)
    socket = below(f.y, upper, f.px) * under_lower
    opening = below(f.y, lid, f.px) * under_lower
    f.paint(socket, f.skin * 0.86)
    f.paint(opening, SCLERA)
    iris_x = f.eye_x + f.gaze * torch.sign(f.x)
    iris = coverage(ellipse(f.mx, f.y, iris_x, f.eye_y + 0.004, f.iris_r, f.iris_r), f.px) * opening
    f.paint(iris, f.iris)
    pupil = coverage(ellipse(f.mx, f.y, iris_x, f.eye_y + 0.004, 0.45 * f.iris_r, 0.45 * f.iris_r), f.px)
    f.paint(pupil * opening, LASH)
    glint_r = 0.22 * f.iris_r
    glint = ellipse(f.mx, f.y, iris_x - 0.35 * f.iris_r, f.eye_y - 0.3 * f.iris_r, glint_r, glint_r)
    f.paint(coverage(glint, f.px) * opening * 0.9, SCLERA)
    width = span(t, -1.0, 1.08, f.px / f.eye_w)
    f.paint(band(f.y, lid, 0.011, f.px) * width, LASH)
    f.paint(band(f.y, lower, 0.004, f.px) * span(t, -1.0, 1.0, f.px / f.eye_w) * (0.35 + 0.6 * a7),
            f.skin * 0.45)
    crease = upper - 0.028 - 0.012 * shape.clamp(min=0.0)
    f.paint(band(f.y, crease, 0.004, f.px) * span(t, -0.8, 0.95, f.px / f.eye_w) * 0.3, f.skin * 0.55)


def _draw_brows(f: _Face) -> None:
    """Brows as tapered quadratic curves: AU01 lifts the inner ends, AU02 the outer, AU04 lowers
    them and pulls them together."""
    a1, a2, a4 = f.au(1), f.au(2), f.au(4)
    inner_x = f.brow_in - 0.035 * a4
    inner_y = f.brow_y + 0.01 - 0.095 * a1 + 0.09 * a4
    mid_y = f.brow_y - f.brow_arch - 0.035 * a1 - 0.06 * a2 + 0.05 * a4
    outer_y = f.brow_y + 0.01 - 0.11 * a2 + 0.03 * a4
    length = f.brow_out - inner_x
    t = ((f.mx - inner_x) / length).clamp(0.0, 1.0)
    curve = (1 - t) ** 2 * inner_y + 2 * t * (1 - t) * mid_y + t * t * outer_y
    slope = 2 * ((1 - t) * (mid_y - inner_y) + t * (outer_y - mid_y)) / length
    half = 0.5 * f.brow_th * (1.15 - 0.55 * t) * (1 + slope * slope).sqrt()
    f.paint(band(f.y, curve, half, f.px) * span(f.mx, inner_x, f.brow_out, f.px) * 0.95, f.brow)


def _draw_hair_and_glasses(f: _Face) -> None:
    """Fringe over the forehead (parted on the dominant side), then glasses if the identity wears them."""
    line = f.hairline + f.hair_curve * f.x * f.x - f.hair_part * f.side * f.x
    cap = f.brow_y - 0.16 + 2.5 * (f.mx - f.brow_out - 0.02).clamp(min=0.0)
    fringe = f.hair_cover * (1.0 - below(f.y, torch.minimum(line, cap), f.px))
    f.paint(fringe * f.hair_alpha, f.hair)
    frame = rounded_box(f.mx, f.y, f.eye_x, f.eye_y + 0.005, f.eye_w + 0.045, 0.075, 0.04)
    f.paint(coverage(frame, f.px) * (0.08 * f.glasses), f.frame * 0.3 + 0.7)
    edge = f.eye_x - f.eye_w - 0.045
    bridge = band(f.y, f.eye_y - 0.025, 0.009, f.px) * span(f.mx, -1.0, edge + 0.01, f.px)
    arm = band(f.y, f.eye_y - 0.03, 0.009, f.px) * span(f.mx, f.eye_x + f.eye_w + 0.04, f.face_w, f.px)
    glasses = (ring(frame, 0.011, f.px) + bridge + arm).clamp_(max=1.0)
    f.paint(glasses * f.glasses, f.frame)
