"""A dataset built in memory from an index alone: for code that reads labels and splits (the pairs)
or needs many images fast (benchmarks), without writing or decoding a file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from eggan.data.aus import AU_COLUMNS, AU_MAX, EXPRESSIONS
from eggan.data.dataset import FaceDataset, validate_table


def fake_dataset(train_ids: int, test_ids: int, per_cell: tuple[int, int], labelled: bool = True, size: int = 1,
                 seed: int = 0) -> FaceDataset:
    """``per_cell`` (train, test) images per identity and expression; random AU labels and pixels
    (each identity a base colour plus noise, so a colour feature can tell identities apart)."""
    generator = torch.Generator().manual_seed(seed)
    rows, images = [], []
    for i in range(train_ids + test_ids):
        split = "train" if i < train_ids else "test"
        base = torch.rand(3, 1, 1, generator=generator)
        for expression in EXPRESSIONS:
            for v in range(per_cell[split == "test"]):
                aus = (torch.rand(len(AU_COLUMNS), generator=generator) * AU_MAX).tolist()
                rows.append({"path": f"{split}/id{i:02d}/{expression}_{v}.png", "identity": f"id{i:02d}",
                             "expression": expression if labelled else "", "split": split,
                             **dict(zip(AU_COLUMNS, aus, strict=True))})
                images.append((base + 0.2 * torch.rand(3, size, size, generator=generator)).clamp(0, 1))
    table = validate_table(pd.DataFrame(rows), "index.csv")
    pixels = (torch.stack(images) * 255).round().to(torch.uint8)
    return FaceDataset("fake", Path("fake"), table, size, pixels, sorted(table["identity"].unique()))
