"""The pairs of the protocol: (source, target) pairs for the expression metric, real pairs for the
verification threshold. Both are seeded and saved, so every method is scored on the same pairs.

Expression pairs (``protocol.md``): per expression, ``per_expression`` targets (174 in the paper,
8 x 174 = 1,392) drawn without replacement from the TRAIN split; each is paired with a TEST-split
source, sources spread evenly over the test identities (pair i goes to identity i mod n, images
of that identity used in a seeded cycle). Each pair also names an *impostor* source (a test image
of another identity) for the balanced verification accuracy. When a small dataset has fewer
training images of some expression, the per-expression count shrinks to what every expression
has, and the count used is recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from eggan.data.aus import EXPRESSIONS
from eggan.data.dataset import FaceDataset
from eggan.errors import DataError
from eggan.io import atomic_write_text
from evaluate.indomain import ROBUSTNESS_SIGMAS, blur
from evaluate.metrics import best_threshold, cosine

if TYPE_CHECKING:
    from evaluate.identity import Verifier

PAIR_COLUMNS = ("pair", "expression", "target_path", "target_identity", "source_path", "source_identity",
                "impostor_path", "impostor_identity")


def _cycle(indices: np.ndarray, count: int, generator: torch.Generator) -> np.ndarray:
    """``count`` items from ``indices``, each used once per pass, in a seeded order per pass."""
    picked: list[int] = []
    while len(picked) < count:
        picked.extend(indices[torch.randperm(len(indices), generator=generator).numpy()].tolist())
    return np.asarray(picked[:count])


def make_pairs(dataset: FaceDataset, per_expression: int = 174, seed: int = 0) -> pd.DataFrame:
    """The (source, target, impostor) pairs; ``attrs`` record the choices made."""
    table = dataset.table
    generator = torch.Generator().manual_seed(seed)
    train = table.index[table["split"] == "train"].to_numpy()
    test = table.index[table["split"] == "test"].to_numpy()
    if len(train) == 0 or len(test) == 0:
        raise DataError("pairs need images in both splits", dataset.root)
    labelled = [e for e in EXPRESSIONS if (table.loc[train, "expression"] == e).any()]
    groups = [train[(table.loc[train, "expression"] == e).to_numpy()] for e in labelled] or [train]
    n = min(per_expression, *(len(g) for g in groups))
    if not labelled:  # no expression labels: the same total, drawn from all training images
        n = min(per_expression * len(EXPRESSIONS), len(train))
    targets = np.concatenate([g[torch.randperm(len(g), generator=generator)[:n].numpy()] for g in groups])
    test_ids = sorted(table.loc[test, "identity"].unique())
    if len(test_ids) < 2:
        raise DataError("pairs need at least two test identities (for impostor pairs)", dataset.root)
    order = [test_ids[i] for i in torch.randperm(len(test_ids), generator=generator).tolist()]
    by_id = {name: test[(table.loc[test, "identity"] == name).to_numpy()] for name in order}
    owners = [order[i % len(order)] for i in range(len(targets))]
    sources = np.empty(len(targets), dtype=np.int64)
    for name in order:
        slots = [i for i, owner in enumerate(owners) if owner == name]
        sources[slots] = _cycle(by_id[name], len(slots), generator)
    # Impostor: a test image of another identity (a seeded non-zero shift in the identity order).
    shifts = torch.randint(1, len(order), (len(targets),), generator=generator).tolist()
    position = {name: i for i, name in enumerate(order)}
    impostors = np.asarray([
        by_id[other][int(torch.randint(len(by_id[other]), (1,), generator=generator))]
        for other in (order[(position[o] + s) % len(order)] for o, s in zip(owners, shifts, strict=True))
    ])
    pairs = pd.DataFrame({
        "pair": np.arange(len(targets)),
        "expression": table.loc[targets, "expression"].to_numpy(),
        "target_path": table.loc[targets, "path"].to_numpy(),
        "target_identity": table.loc[targets, "identity"].to_numpy(),
        "source_path": table.loc[sources, "path"].to_numpy(),
        "source_identity": table.loc[sources, "identity"].to_numpy(),
        "impostor_path": table.loc[impostors, "path"].to_numpy(),
        "impostor_identity": table.loc[impostors, "identity"].to_numpy(),
    })
    pairs.attrs.update(pairs_description(pairs, per_expression, n if labelled else None, seed))
    return pairs


def pairs_description(pairs: pd.DataFrame, requested: int, used: int | None, seed: int) -> dict[str, Any]:
    return {"n_pairs": len(pairs), "per_expression_requested": requested, "per_expression_used": used,
            "seed": seed, "targets_from": "train split", "sources_from": "test split",
            "source_identities": int(pairs["source_identity"].nunique())}


def save_pairs(pairs: pd.DataFrame, path: str | Path) -> Path:
    return atomic_write_text(path, pairs.to_csv(index=False, lineterminator="\n"))


def load_pairs(path: str | Path, dataset: FaceDataset) -> pd.DataFrame:
    """Read a saved pair list and check every image it names is in ``dataset``."""
    try:
        pairs = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"not a readable pair list ({str(exc).splitlines()[0]})", path) from None
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise DataError(f"not a pair list: missing columns {', '.join(missing)}", path)
    known = set(dataset.table["path"])
    for column in ("target_path", "source_path", "impostor_path"):
        absent = sorted(set(pairs[column]) - known)
        if absent:
            raise DataError(f"{column} {absent[0]!r} is not in the dataset {dataset.name}", path)
    pairs["pair"] = pairs["pair"].astype(int)
    return pairs[list(PAIR_COLUMNS)]


def row_indices(dataset: FaceDataset, paths: pd.Series) -> torch.Tensor:
    lookup = {p: i for i, p in enumerate(dataset.table["path"])}
    return torch.tensor([lookup[p] for p in paths], dtype=torch.long)


# --- real pairs for the verification threshold ------------------------------------------------


def real_pairs(dataset: FaceDataset, count: int = 1392, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` genuine and ``count`` impostor index pairs among the TEST-split images."""
    table = dataset.table
    test = table.index[table["split"] == "test"].to_numpy()
    identity = table.loc[test, "identity"].to_numpy()
    multi = [name for name in np.unique(identity) if (identity == name).sum() >= 2]
    if len(multi) < 1 or len(np.unique(identity)) < 2:
        raise DataError("real verification pairs need two test identities, one with two images", dataset.root)
    generator = torch.Generator().manual_seed(seed)
    members = {name: test[identity == name] for name in np.unique(identity)}
    genuine, impostor = [], []
    for i in range(count):
        own = members[multi[i % len(multi)]]
        a, b = torch.randperm(len(own), generator=generator)[:2].tolist()
        genuine.append((own[a], own[b]))
        x, y = torch.randperm(len(test), generator=generator)[:2].tolist()
        while identity[x] == identity[y]:
            y = int(torch.randint(len(test), (1,), generator=generator))
        impostor.append((test[x], test[y]))
    return np.asarray(genuine), np.asarray(impostor)


def score_real_pairs(verifier: Verifier, dataset: FaceDataset, genuine: np.ndarray, impostor: np.ndarray,
                     blur_second: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of real genuine and impostor pairs (each image's features computed once).

    ``blur_second`` > 0 blurs the second image of every pair by that sigma, as a stand-in for a
    softer generated face: how far the verdicts move says how much the verifier scores sharpness.
    """
    used = np.unique(np.concatenate([genuine.ravel(), impostor.ravel()]))
    images = dataset.batch(torch.from_numpy(used)).image
    features = verifier.features(images, used)
    second = verifier.features(blur(images, torch.full((len(images),), blur_second)), used) if blur_second \
        else features
    where = {int(row): i for i, row in enumerate(used)}

    def score(pairs: np.ndarray) -> np.ndarray:
        a = features[[where[int(r)] for r in pairs[:, 0]]]
        b = second[[where[int(r)] for r in pairs[:, 1]]]
        return cosine(a, b).numpy()

    return score(genuine), score(impostor)


def calibrate(verifier: Verifier, dataset: FaceDataset, count: int = 1392, seed: int = 0) -> dict[str, Any]:
    """Fix the verifier's threshold on real pairs of held-out identities (highest accuracy).

    Called before any generated image is scored. The accuracy reported is on the same pairs
    the threshold was chosen on (one parameter fitted on thousands of pairs).
    """
    genuine, impostor = real_pairs(dataset, count, seed)
    g, i = score_real_pairs(verifier, dataset, genuine, impostor)
    threshold, accuracy = best_threshold(g, i)
    verifier.threshold = threshold
    verifier.calibration = {"pairs": "test-split identities", "n_genuine": len(g), "n_impostor": len(i),
                            "seed": seed, "threshold": threshold, "accuracy": accuracy,
                            "mean_genuine_cosine": float(np.mean(g)), "mean_impostor_cosine": float(np.mean(i))}
    verifier.real_scores = (g, i)
    blurred = {}
    for sigma in ROBUSTNESS_SIGMAS:
        bg, bi = score_real_pairs(verifier, dataset, genuine, impostor, blur_second=sigma)
        blurred[f"{sigma:g}"] = float(((bg >= threshold).sum() + (bi < threshold).sum()) / (len(bg) + len(bi)))
    verifier.calibration["accuracy_second_blurred"] = blurred
    return verifier.calibration
