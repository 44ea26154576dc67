"""The images an OpenFace evaluation reads, written as files to run OpenFace on elsewhere.

OpenFace is a binary this suite does not ship; where it runs on another machine, ``export_images``
writes every image ``evaluate --estimator openface`` will look up (named by the keys of
``evaluate.evaluation.image_keys``), and the CSVs OpenFace makes of them come back with
``--openface-csv``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from eggan.core.checkpoint import CHECKPOINT_NAME
from eggan.core.lock import READER_ADVICE, locked_dir
from eggan.core.runmeta import select_device
from eggan.data.dataset import Target
from evaluate.au import save_images
from evaluate.evaluation import IDEAL_SIGMAS, check_coded, run_pairs
from evaluate.evaluators import check_evaluators
from evaluate.groundtruth import ideal_renderer
from evaluate.pairs import row_indices
from evaluate.protocol import ideal_outputs, ideal_prefix
from evaluate.run_data import Loader, find_runs, run_dataset


def export_images(run_dir: str | Path, out_dir: str | Path, device: str = "auto", batch_size: int = 32,
                  per_expression: int = 174, seed: int = 0, loader: Loader | None = None,
                  allow_other_data: bool = False) -> int:
    """Write every image the ``openface`` estimator reads, as ``<key>.png`` in ``out_dir``.

    Keys: ``target_<pair>``, ``source_<pair>`` (the "Source (no edit)" row), ``ideal_<pair>`` and
    ``idealblur_<pair>`` (the "Ideal" rows, SynthFACS only) and ``<label>_seed<k>_<pair>``. Run
    OpenFace on them elsewhere (FaceLandmarkImg, one CSV per image), then ``evaluate --estimator
    openface --openface-csv CSV_DIR``. Returns the count.
    """
    check_evaluators(batch_size=batch_size)
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    torch_device = select_device(device)
    if loader is None:
        from eggan.core.train import load_trained as loader
    with locked_dir(run_dir, advice=READER_ADVICE):
        return _export(run_dir, out_dir, torch_device, batch_size, per_expression, seed, loader, allow_other_data)


def _export(run_dir: Path, out_dir: Path, torch_device: torch.device, batch_size: int, per_expression: int,
            seed: int, loader: Loader, allow_other_data: bool) -> int:
    runs = find_runs(run_dir)
    config, dataset, _ = run_dataset(runs, allow_other_data)
    pairs, _ = run_pairs(run_dir / "eval", dataset, per_expression, seed)
    target, source = row_indices(dataset, pairs["target_path"]), row_indices(dataset, pairs["source_path"])
    renderer = ideal_renderer(config, dataset)
    chunks = list(torch.arange(len(pairs)).split(batch_size))
    written = 0
    for chunk in chunks:
        for prefix, rows in (("target", target), ("source", source)):
            keys = [f"{prefix}_{i:04d}" for i in chunk.tolist()]
            written += len(save_images(dataset.batch(rows[chunk]).image, keys, out_dir))
        if renderer is not None:  # the Ideal rows' images (SynthFACS)
            ideal = renderer.render(list(pairs["source_path"].iloc[chunk.numpy()]), dataset.aus[target[chunk]],
                                    list(pairs["expression"].iloc[chunk.numpy()]))
            for sigma in IDEAL_SIGMAS.values():
                keys = [f"{ideal_prefix(sigma)}_{i:04d}" for i in chunk.tolist()]
                written += len(save_images(ideal_outputs(ideal, sigma), keys, out_dir))
    for label, seeds in sorted(runs.items()):
        for k, folder in sorted(seeds.items()):
            method = loader(folder / CHECKPOINT_NAME, torch_device)
            check_coded(method, dataset, folder / CHECKPOINT_NAME)
            for chunk in chunks:
                generated = method.translate(dataset.batch(source[chunk]).image,
                                             Target.from_batch(dataset.batch(target[chunk])))
                keys = [f"{label}_seed{k}_{i:04d}" for i in chunk.tolist()]
                written += len(save_images(generated, keys, out_dir))
    return written
