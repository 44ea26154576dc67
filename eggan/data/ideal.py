"""The ideal edit of a SynthFACS pair: the source person, in the source image's own viewing
conditions, showing the target's AUs.

SynthFACS renders every image from (identity, AUs per image half, nuisance), all of which follow
from the dataset's seed and the image's path. So the edit that a perfect method would make can be
rendered exactly: the source's identity and its shift, scale and brightness, with the target's AU
labels drawn the way this person draws them (a unilateral expression such as contempt on the
source's dominant side). Rendering a source with its own labels reproduces its PNG byte for byte.

These renders are the suite's ground truth for scoring (evaluate.groundtruth); no method sees
them, the renderer, or anything derived from them while it learns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from eggan.data.face import Nuisance, render_faces
from eggan.data.identity import Identity, sample_identity
from eggan.data.synthfacs import META_NAME, parse_image_path, sample_expression, sided_aus
from eggan.errors import DataError


class IdealRenderer:
    """Renders ideal edits of the sources of one rendered SynthFACS folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        meta_path = self.root / META_NAME
        try:
            meta = json.loads(meta_path.read_text())
            self.seed, self.size = int(meta["seed"]), int(meta["size"])
        except (OSError, ValueError, KeyError, TypeError):
            raise DataError(f"not a SynthFACS folder (no readable {META_NAME}): it has no ideal renders",
                            self.root) from None
        self._people: dict[int, Identity] = {}

    def _person(self, index: int) -> Identity:
        if index not in self._people:
            self._people[index] = sample_identity(self.seed, index)
        return self._people[index]

    def render(self, source_paths: Sequence[str], target_aus: torch.Tensor, target_expressions: Sequence[str],
               alpha: float = 1.0) -> torch.Tensor:
        """Ideal edits, N x 3 x S x S uint8: each source moved ``alpha`` of the way from its own AUs
        to the target's (Eq. 8's path; 1 is the edit itself, 0 the source's own render)."""
        people, sided, nuisances = [], [], []
        for path, aus, expression in zip(source_paths, target_aus.double().numpy(), target_expressions, strict=True):
            index, source_expression, variant = parse_image_path(path)
            person = self._person(index)
            side = float(person.side[0])
            source = sample_expression(self.seed, index, source_expression, variant, side)
            target = sided_aus(aus, expression, side)
            people.append(person)
            sided.append(source.sided + alpha * (target - source.sided))
            nuisances.append((*source.shift, source.scale, source.brightness))
        shift_x, shift_y, scale, brightness = torch.tensor(nuisances, dtype=torch.float32).unbind(1)
        aus = torch.from_numpy(np.stack(sided).astype(np.float32))
        return render_faces(Identity.cat(people), aus, self.size, Nuisance(shift_x, shift_y, scale, brightness))
