"""Figures to look at a dataset: an identities x expressions montage and a SynthFACS AU sweep.

Both are labelled grids of the images at their native pixels (upscaled by an integer factor with
nearest-neighbour, so nothing is smoothed away): what a person checks is what the models see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from eggan.data.aus import AU_DESCRIPTIONS, AU_NAMES, EXPRESSIONS, N_AUS
from eggan.data.dataset import read_face, read_index
from eggan.data.face import render_faces
from eggan.data.identity import Identity
from eggan.data.synthfacs import dataset_identity
from eggan.errors import DataError
from eggan.io import atomic_write

CELL = 128  # displayed cell size: images are upscaled by an integer factor up to about this
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def _grid(cells: list[list[np.ndarray | None]], rows: list[str], columns: list[str]) -> Image.Image:
    """Lay out H x W x 3 uint8 cells (None = empty) with row labels on the left, headers on top."""
    size = next(c for row in cells for c in row if c is not None).shape[0]
    zoom = max(1, CELL // size)
    side = size * zoom
    font = ImageFont.load_default(size=max(11, side // 9))
    draw_probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max(int(draw_probe.textlength(r, font=font)) for r in rows) + 12
    header_h = int(font.size * 1.8)
    canvas = Image.new("RGB", (label_w + side * len(columns), header_h + side * len(rows)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(columns):
        width = draw.textlength(title, font=font)
        draw.text((label_w + j * side + (side - width) / 2, header_h * 0.2), title, fill=INK, font=font)
    for i, title in enumerate(rows):
        top = header_h + i * side
        draw.text((6, top + (side - font.size) / 2), title, fill=INK, font=font)
        for j, cell in enumerate(cells[i]):
            if cell is not None:
                tile = Image.fromarray(cell).resize((side, side), Image.Resampling.NEAREST)
                canvas.paste(tile, (label_w + j * side, top))
    return canvas


def _save(image: Image.Image, out_png: str | Path) -> Path:
    return atomic_write(out_png, lambda handle: image.save(handle, format="PNG"))


def save_montage(dataset_dir: str | Path, out_png: str | Path, identities: int = 6) -> Path:
    """Rows = identities (test identities first), columns = the eight expressions (first image)."""
    root = Path(dataset_dir)
    table = read_index(root).sort_values("path", kind="stable")
    labelled = table[table["expression"] != ""]
    if labelled.empty:
        raise DataError("no image has an expression label; a montage needs them", root / "index.csv")
    order = labelled.assign(test=labelled["split"] != "test").sort_values(["test", "identity"], kind="stable")
    people = list(dict.fromkeys(order["identity"]))[:identities]
    cells: list[list[np.ndarray | None]] = []
    for person in people:
        row: list[np.ndarray | None] = []
        for expression in EXPRESSIONS:
            match = labelled[(labelled["identity"] == person) & (labelled["expression"] == expression)]
            if match.empty:
                row.append(None)
                continue
            face = read_face(root, match["path"].iloc[0], int(match.index[0]) + 1, image_size=None)
            row.append(face.permute(1, 2, 0).numpy())
        cells.append(row)
    split_of = dict(zip(order["identity"], order["split"], strict=True))
    names = [f"{person} ({split_of[person]})" for person in people]
    return _save(_grid(cells, names, list(EXPRESSIONS)), out_png)


def save_au_sweep(
    source: str | Path | Identity, out_png: str | Path, size: int | None = None, levels: int = 6
) -> Path:
    """One row per AU, intensity 0 .. 5 left to right, on one SynthFACS face.

    ``source`` is a rendered SynthFACS folder (its first test identity, at its size) or an
    ``Identity`` row (at ``size``, default 64).
    """
    if isinstance(source, Identity):
        identity, native = source.select([0]), 64
    else:
        identity, native = dataset_identity(source)
    size = size or native
    intensities = torch.linspace(0.0, 5.0, levels)
    aus = torch.zeros(N_AUS, levels, N_AUS)
    for k in range(N_AUS):
        aus[k, :, k] = intensities
    images = render_faces(identity.select([0] * N_AUS * levels), aus.view(-1, N_AUS), size)
    images = images.view(N_AUS, levels, 3, size, size).permute(0, 1, 3, 4, 2).numpy()
    rows = [f"{name} {AU_DESCRIPTIONS[name]}" for name in AU_NAMES]
    columns = [f"{v:g}" for v in intensities.tolist()]
    return _save(_grid([list(r) for r in images], rows, columns), out_png)
