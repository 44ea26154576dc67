"""LightCNN's 5-point face alignment: the input its authors' released weights were tested on.

The LightCNN README normalises grey faces by 5 points (eye centres, nose, mouth corners): the
eyes are rotated to horizontal, the face is scaled so that the eye-centre midpoint and the mouth
centre are ``ec_mc_y`` = 48 px apart vertically, and a 128x128 crop puts the eye-centre midpoint at
height ``ec_y`` = 40, centred horizontally (``lightcnn.md`` section 1.5; training used 144x144 with
ec_y 48, of which the test crop is the centre 128x128). That is one similarity transform per face:

- rotation: the angle of the line from the right eye centre to the left one (image left to right);
- scale: 48 / (distance from the eye-centre midpoint to the mouth centre, measured perpendicular
  to the eye line), so the mouth centre lands 48 px below the eyes after rotation;
- translation: the eye-centre midpoint to (63.5, 40), i.e. the crop's horizontal centre line, row 40
  (pixel centres at integer coordinates, as OpenFace's landmarks are).

Another output side scales those numbers with it (the released networks always take 128).

The nose is not used, as in the authors' recipe. The warp samples the image bilinearly; outside the
source image is black (as an image rotation fills it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EC_Y = 40.0  # height of the eye-centre midpoint in the 128x128 crop (README: ec_y 40)
EC_MC_Y = 48.0  # eye-centre midpoint to mouth centre (README: ec_mc_y 48)
ALIGNED_SIZE = 128
DESCRIPTION = (f"5-point similarity alignment by the OpenFace landmarks (eyes horizontal, eye-centre midpoint at "
               f"x = 63.5, y = {EC_Y:g} and the mouth centre {EC_MC_Y:g} px below it in a "
               f"{ALIGNED_SIZE}x{ALIGNED_SIZE} crop: the authors' ec_y 40, ec_mc_y 48)")


def eye_and_mouth_centres(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right eye, left eye and mouth centre (N x 2 each) of 5-point sets (N x 5 x 2, in
    ``eggan.data.landmarks.POINT_NAMES`` order)."""
    return points[:, 0], points[:, 1], (points[:, 3] + points[:, 4]) / 2


def output_to_input(points: torch.Tensor, size: int = ALIGNED_SIZE) -> torch.Tensor:
    """N x 2 x 3 affine maps from aligned-crop pixels (x, y, 1) to source-image pixels."""
    right, left, mouth = eye_and_mouth_centres(points.double())
    centre = (right + left) / 2
    axis = left - right
    u = axis / axis.norm(dim=1, keepdim=True)  # the eye line, to the image's right
    v = torch.stack([-u[:, 1], u[:, 0]], dim=1)  # perpendicular to it, downwards (image y grows down)
    drop = ((mouth - centre) * v).sum(dim=1)  # eye midpoint to mouth centre, across the eye line
    scale = size / ALIGNED_SIZE
    per_pixel = (drop / (EC_MC_Y * scale))[:, None]  # source pixels per aligned pixel
    linear = torch.stack([u * per_pixel, v * per_pixel], dim=2)  # columns: the output's x and y axes
    target = torch.tensor([(size - 1) / 2, EC_Y * scale], dtype=torch.float64)
    offset = centre - linear @ target
    return torch.cat([linear, offset[:, :, None]], dim=2)


def align(images: torch.Tensor, points: torch.Tensor, size: int = ALIGNED_SIZE) -> torch.Tensor:
    """``images`` (N x C x H x W) warped so their ``points`` (N x 5 x 2, in their pixels) sit where
    LightCNN's alignment puts them, as N x C x size x size."""
    n, _, height, width = images.shape
    affine = output_to_input(points, size).to(images.device)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float64, device=images.device),
                            torch.arange(size, dtype=torch.float64, device=images.device), indexing="ij")
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(1, -1, 3, 1)
    source = (affine[:, None] @ grid).squeeze(-1)  # N x size*size x 2, source pixels
    scale = torch.tensor([width, height], dtype=torch.float64, device=images.device)
    normalised = (2 * source + 1) / scale - 1  # grid_sample's coordinates with align_corners=False
    grid = normalised.reshape(n, size, size, 2).to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
