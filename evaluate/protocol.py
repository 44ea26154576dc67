"""Scoring one method on the protocol's pairs, and the two reference rows.

A method is seen only through ``Method.translate(source, Target.from_batch(target))``: every
target field is filled, the method reads the one it is conditioned on. For each pair the
generated image is read by the AU estimator (compared with the estimator's reading of the real
target, and with the dataset's labels: exact ground truth on SynthFACS) and by the verifier
(cosine with its own source, and with an impostor source of another identity).

Each method is also asked for its *reconstruction* (the source's own AUs, class or image): the
output minus the reconstruction is the change the method itself made, which the estimator reads
(``own_response``) and, on SynthFACS, the ground truth measures (evaluate.groundtruth).

Reference rows (``protocol.md``): "Source (no edit)" scores the unedited source as if it were the
output (the floor every method must beat on expression); "Real" reads the real target images
against their labels (the estimator's ceiling) and verifies real genuine/impostor pairs. On
SynthFACS, "Ideal" scores the ideal edits themselves (eggan.data.ideal), and "Ideal, blurred 1 px"
the same edits as a soft generator would draw them (``score_ideal``'s ``blur_sigma``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from eggan.core.imageops import blur
from eggan.core.method import Method
from eggan.data.aus import AU_COLUMNS, coded_names, select_coded
from eggan.data.dataset import Batch, FaceDataset, Target
from eggan.data.ideal import IdealRenderer
from eggan.io import atomic_write_text
from evaluate.au import AUEstimator
from evaluate.groundtruth import concat_scores, own_edit_summary, pair_scores, summarise_ground_truth
from evaluate.identity import Verifier
from evaluate.interpolation import projected_change
from evaluate.metrics import au_agreement, cosine, verification
from evaluate.pairs import row_indices

Translate = Callable[[torch.Tensor, Target], torch.Tensor]
# What a row shows for a chunk of pairs (their indices, source and target batches): the output and,
# where the row has one, the reconstruction (the output asked for the source's own target).
Outputs = Callable[[torch.Tensor, Batch, Batch], tuple[torch.Tensor, torch.Tensor | None]]
AU_NAMES_R = list(AU_COLUMNS)


@dataclass
class Reference:
    """What every method's scoring shares: indices, the target readings, the source features."""

    target: torch.Tensor  # dataset rows of the targets
    source: torch.Tensor
    impostor: torch.Tensor
    target_aus: torch.Tensor  # the estimator's reading of the real targets, N x 17
    target_ok: torch.Tensor
    labels: torch.Tensor  # the dataset's labels of the targets, N x 17, NaN for an AU it does not code
    source_features: torch.Tensor
    impostor_features: torch.Tensor
    ideal: torch.Tensor | None = None  # SynthFACS: the ideal edit of every pair, N x 3 x S x S uint8
    coded_aus: tuple[str, ...] = AU_COLUMNS  # the AUs the dataset codes: the only ones scored


def prepare_reference(dataset: FaceDataset, pairs: pd.DataFrame, estimator: AUEstimator, verifier: Verifier,
                      batch_size: int = 64, renderer: IdealRenderer | None = None) -> Reference:
    """What every row's scoring shares; with a ``renderer`` (SynthFACS) the pairs' ideal edits too."""
    target = row_indices(dataset, pairs["target_path"])
    source = row_indices(dataset, pairs["source_path"])
    impostor = row_indices(dataset, pairs["impostor_path"])
    readings, oks, ideal = [], [], []
    for chunk in torch.arange(len(pairs)).split(batch_size):
        reading = estimator.estimate(dataset.batch(target[chunk]).image, [f"target_{i:04d}" for i in chunk.tolist()])
        readings.append(reading.aus)
        oks.append(reading.ok)
        if renderer is not None:
            ideal.append(renderer.render(list(pairs["source_path"].iloc[chunk.numpy()]), dataset.aus[target[chunk]],
                                         list(pairs["expression"].iloc[chunk.numpy()])))
    return Reference(
        target=target, source=source, impostor=impostor,
        target_aus=torch.cat(readings), target_ok=torch.cat(oks), labels=dataset.all_aus[target],
        source_features=_features(verifier, dataset, source, batch_size),
        impostor_features=_features(verifier, dataset, impostor, batch_size),
        ideal=torch.cat(ideal) if ideal else None, coded_aus=dataset.coded_aus,
    )


def _features(verifier: Verifier, dataset: FaceDataset, rows: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([verifier.features(dataset.batch(chunk).image, chunk) for chunk in rows.split(batch_size)])


def score_translation(
    translate: Translate,
    dataset: FaceDataset,
    pairs: pd.DataFrame,
    estimator: AUEstimator,
    verifier: Verifier,
    reference: Reference,
    batch_size: int = 32,
    key_prefix: str = "generated",
    rounds: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-pair results and their summary for a method's translate function: each pair's edit and
    its reconstruction (the source asked for its own AUs, class or image)."""

    def outputs(_chunk: torch.Tensor, source: Batch, target: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return (translate(source.image, Target.from_batch(target)),
                translate(source.image, Target.from_batch(source)))

    return score_outputs(outputs, dataset, pairs, estimator, verifier, reference, batch_size, key_prefix, rounds,
                         seed)


def score_outputs(
    outputs: Outputs,
    dataset: FaceDataset,
    pairs: pd.DataFrame,
    estimator: AUEstimator,
    verifier: Verifier,
    reference: Reference,
    batch_size: int = 32,
    key_prefix: str = "generated",
    rounds: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-pair results and their summary for any row's outputs (a method, no edit, the ideal edit).

    The estimator reads each output (against the target's reading and labels) and, where the row
    has a reconstruction and the estimator reads new images, the reconstruction too: the AU change
    the estimator sees between them is its reading of the row's own edit. With the reference's
    ideal renders (SynthFACS) every output is also scored against its ideal edit."""
    if verifier.threshold is None:
        raise RuntimeError("calibrate the verifier on real pairs before scoring generated images")
    start = time.perf_counter()
    predicted, ok, features, own, truth = [], [], [], [], []
    for chunk in torch.arange(len(pairs)).split(batch_size):
        source = dataset.batch(reference.source[chunk])
        target = dataset.batch(reference.target[chunk])
        generated, reconstruction = outputs(chunk, source, target)
        generated = generated.detach().cpu()
        reading = estimator.estimate(generated, [f"{key_prefix}_{i:04d}" for i in chunk.tolist()])
        predicted.append(reading.aus)
        ok.append(reading.ok)
        features.append(verifier.features(generated, reference.source[chunk]))  # an edit has its source's pose
        if reconstruction is not None and estimator.reads_new_images:
            before = estimator.estimate(reconstruction.detach().cpu(), [f"{key_prefix}_recon_{i:04d}" for i in
                                                                         chunk.tolist()])
            own.append(projected_change(select_coded(before.aus, dataset.coded_aus),
                                        select_coded(reading.aus, dataset.coded_aus), source.aus, target.aus))
        if reference.ideal is not None:
            truth.append(pair_scores(source.image, reference.ideal[chunk], generated,
                                     None if reconstruction is None else reconstruction.detach().cpu()))
    seconds = time.perf_counter() - start
    generated_features = torch.cat(features)
    frame = per_pair_frame(pairs, reference, torch.cat(predicted), torch.cat(ok),
                           cosine(reference.source_features, generated_features),
                           cosine(generated_features, reference.impostor_features), verifier.threshold)
    if own:
        frame["own_response"] = torch.cat(own).numpy()
    if truth:
        frame = pd.concat([frame, concat_scores(truth)], axis=1)
    summary = summarise(frame, verifier.threshold, rounds, seed)
    summary["seconds"] = round(seconds, 2)
    summary["pairs_per_s"] = round(len(pairs) / seconds, 2) if seconds > 0 else None
    return frame, summary


def per_pair_frame(pairs: pd.DataFrame, reference: Reference, predicted: torch.Tensor, ok: torch.Tensor,
                   genuine: torch.Tensor, impostor: torch.Tensor, threshold: float) -> pd.DataFrame:
    frame = pairs[["pair", "expression", "source_path", "target_path"]].reset_index(drop=True).copy()
    blocks = [frame,
              _block("target_", reference.target_aus), _block("label_", reference.labels), _block("pred_", predicted),
              pd.DataFrame({"target_ok": reference.target_ok.numpy(), "pred_ok": ok.numpy(),
                            "cosine": genuine.numpy(), "impostor_cosine": impostor.numpy()})]
    frame = pd.concat(blocks, axis=1)
    frame["accepted"] = frame["cosine"] >= threshold
    frame["impostor_accepted"] = frame["impostor_cosine"] >= threshold
    return frame


def write_pair_frame(frame: pd.DataFrame, folder: Path) -> None:
    """A row's per-pair results as ``folder/pairs.csv`` (atomically; 5 decimals, what every reader expects)."""
    atomic_write_text(folder / "pairs.csv", frame.to_csv(index=False, float_format="%.5f", lineterminator="\n"))


def _block(prefix: str, values: torch.Tensor) -> pd.DataFrame:
    return pd.DataFrame(values.numpy(), columns=[prefix + c for c in AU_NAMES_R])


def columns(frame: pd.DataFrame, prefix: str, coded: Sequence[str] = AU_NAMES_R) -> np.ndarray:
    return frame[[prefix + c for c in coded]].to_numpy(np.float64)


def frame_coded_aus(frame: pd.DataFrame) -> list[str]:
    """The AUs a per-pair frame has labels for (the dataset's coded AUs; the others are empty
    columns): a saved pairs.csv says itself which AUs its figures are over."""
    return [c for c in AU_NAMES_R if frame["label_" + c].notna().all()]


def summarise(frame: pd.DataFrame, threshold: float, rounds: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The summary of a per-pair frame (so any table can be rebuilt from the saved pairs.csv).

    Every AU figure is over the AUs the dataset codes: the estimator reads all 17, but an AU
    without a label has no target, so it is neither scored nor averaged (``frame_coded_aus``)."""
    coded = frame_coded_aus(frame)
    agreement = {"rounds": rounds, "seed": seed, "names": coded_names(coded)}
    pred_ok = frame["pred_ok"].to_numpy(bool)
    both_ok = pred_ok & frame["target_ok"].to_numpy(bool)
    extra: dict[str, Any] = {}
    if "own_response" in frame:
        extra["own_edit"] = own_edit_summary(frame, rounds, seed)
    if "gt_edit" in frame:
        extra["ground_truth"] = summarise_ground_truth(frame, rounds, seed)
    return {
        "n_pairs": len(frame),
        "estimator_failures": int((~pred_ok).sum()),
        "au": {
            "vs_estimator": au_agreement(columns(frame, "target_", coded), columns(frame, "pred_", coded), both_ok,
                                         **agreement),
            "vs_labels": au_agreement(columns(frame, "label_", coded), columns(frame, "pred_", coded), pred_ok,
                                      **agreement),
        },
        "verification": verification(frame["cosine"].to_numpy(), frame["impostor_cosine"].to_numpy(), threshold),
        **extra,
    }


def score_method(
    method: Method,
    dataset: FaceDataset,
    pairs: pd.DataFrame,
    estimator: AUEstimator,
    verifier: Verifier,
    batch_size: int = 32,
    reference: Reference | None = None,
    key_prefix: str = "generated",
    rounds: int = 1000,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score ``method`` on ``pairs``: per-pair DataFrame and summary dict."""
    reference = reference or prepare_reference(dataset, pairs, estimator, verifier)
    return score_translation(method.translate, dataset, pairs, estimator, verifier, reference, batch_size,
                             key_prefix, rounds)


def score_source(dataset: FaceDataset, pairs: pd.DataFrame, estimator: AUEstimator, verifier: Verifier,
                 reference: Reference, batch_size: int = 32, rounds: int = 1000
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The "Source (no edit)" row: the unedited source scored as if it were the output."""

    def unedited(_chunk: torch.Tensor, source: Batch, _target: Batch) -> tuple[torch.Tensor, None]:
        return source.image, None

    return score_outputs(unedited, dataset, pairs, estimator, verifier, reference, batch_size, "source", rounds)


def ideal_outputs(ideal: torch.Tensor, blur_sigma: float) -> torch.Tensor:
    """An Ideal row's outputs in [-1, 1]: the uint8 ideal renders, blurred by ``blur_sigma`` px
    (0: as rendered). The OpenFace export writes the same images as ``score_ideal`` scores."""
    images = ideal.float().div(127.5).sub(1.0)
    return images if blur_sigma == 0 else blur(images, torch.full((len(images),), blur_sigma))


def ideal_prefix(blur_sigma: float) -> str:
    """The image-key prefix of an Ideal row's outputs (``<prefix>_<pair>``)."""
    return "ideal" if blur_sigma == 0 else "idealblur"


def score_ideal(dataset: FaceDataset, pairs: pd.DataFrame, estimator: AUEstimator, verifier: Verifier,
                reference: Reference, batch_size: int = 32, rounds: int = 1000, blur_sigma: float = 0.0
                ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The "Ideal" row (SynthFACS): the ideal edits scored as outputs. Their reconstruction is the
    source itself (a source re-rendered with its own labels is its own PNG), so the estimator's
    reading of the ideal's own edit is its gain on a change that is exactly the asked one.

    With ``blur_sigma`` > 0, the "Ideal, blurred" row: ideal and source blurred alike (Gaussian,
    pixels), the blurred source as reconstruction. That is the right edit at the sharpness of a soft
    generator; it shows what softness alone costs in every ground-truth column and how the
    estimator's gain grows with it, so a method's row can be read against it."""
    if reference.ideal is None:
        raise RuntimeError("the Ideal row needs ideal renders (SynthFACS)")
    ideal = reference.ideal

    def perfect(chunk: torch.Tensor, source: Batch, _target: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        recon = source.image if blur_sigma == 0 else blur(source.image, torch.full((len(chunk),), blur_sigma))
        return ideal_outputs(ideal[chunk], blur_sigma), recon

    return score_outputs(perfect, dataset, pairs, estimator, verifier, reference, batch_size,
                         ideal_prefix(blur_sigma), rounds)


def score_real(reference: Reference, estimator: AUEstimator, verifier: Verifier, rounds: int = 1000
               ) -> dict[str, Any]:
    """The estimator on the real targets against their labels; verification of real pairs."""
    if verifier.real_scores is None or verifier.threshold is None:
        raise RuntimeError("calibrate the verifier on real pairs first")
    genuine, impostor = verifier.real_scores
    ok = reference.target_ok.numpy()
    return {
        "n_pairs": len(reference.target),
        "estimator_failures": int((~ok).sum()),
        "au": {"vs_estimator": None,
               "vs_labels": au_agreement(select_coded(reference.labels, reference.coded_aus).numpy(),
                                         select_coded(reference.target_aus, reference.coded_aus).numpy(), ok,
                                         rounds=rounds, names=coded_names(reference.coded_aus))},
        "verification": {**verification(genuine, impostor, verifier.threshold),
                         "pairs": "real genuine/impostor pairs of test identities (the calibration pairs)"},
        "note": real_row_note(estimator.metadata().get("trained_on")),
    }


def real_row_note(trained_on: dict[str, Any] | None) -> str:
    """What the Real row's AU figures mean, given the faces an in-domain estimator learned from."""
    if trained_on is None:
        return "the estimator (not trained on this dataset) on the real target images, against their labels"
    if trained_on["disjoint_from_scored_faces"]:
        return (f"the estimator on the real target images, against their labels; it learned from the "
                f"{trained_on['split']} split ({trained_on['identities']} other people), so no target's "
                "person was seen in training")
    return f"optimistic: {trained_on['warning']}"
