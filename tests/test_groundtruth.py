"""Ground-truth scores of edits (evaluate.groundtruth) on hand-made images with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from evaluate.groundtruth import (
    CHANGE_LEVEL,
    MIN_CHANGED,
    own_edit_summary,
    pair_scores,
    pixel_projection,
    summarise_ground_truth,
)


def _image(value: float, size: int = 16) -> torch.Tensor:
    """One 1 x 3 x size x size uint8 image of a constant grey level."""
    return torch.full((1, 3, size, size), value, dtype=torch.uint8)


def _patched(base: torch.Tensor, value: float, rows: slice = slice(4, 8), cols: slice = slice(4, 8)) -> torch.Tensor:
    out = base.clone()
    out[:, :, rows, cols] = value
    return out


def test_edit_score_is_the_share_of_the_ideal_change_made_on_the_pixels_that_must_change() -> None:
    source = _image(100)
    ideal = _patched(source, 140)  # 16 pixels must rise by 40 levels
    half = _patched(source, 120)
    scores = pair_scores(source, ideal, half, None)
    assert scores["changed_pixels"][0] == 16
    assert scores["edit"][0] == pytest.approx(1 - (16 * 3 * 20) / (16 * 3 * 40))  # 0.5
    assert pair_scores(source, ideal, ideal, None)["edit"][0] == pytest.approx(1.0)
    assert pair_scores(source, ideal, source, None)["edit"][0] == pytest.approx(0.0)
    overshoot = _patched(source, 200)  # 100 past the source where 40 was asked: worse than no edit
    assert pair_scores(source, ideal, overshoot, None)["edit"][0] == pytest.approx(1 - 60 / 40)


def test_damage_counts_only_the_pixels_that_must_stay() -> None:
    source = _image(100)
    ideal = _patched(source, 140)
    output = ideal.clone() + 10  # the edit made, and every pixel 10 levels brighter
    scores = pair_scores(source, ideal, output, None)
    assert scores["damage"][0] == pytest.approx(10.0)
    assert scores["edit"][0] == pytest.approx(1 - 10 / 40)


def test_a_difference_of_the_change_level_or_less_asks_for_no_change() -> None:
    source = _image(100)
    faint = _patched(source, 100 + CHANGE_LEVEL)  # exactly the level: not a change the edit must make
    scores = pair_scores(source, faint, faint, source)
    assert scores["changed_pixels"][0] == 0
    assert math.isnan(scores["edit"][0]) and math.isnan(scores["own_projection"][0])
    few = _patched(source, 150, slice(0, 1), slice(0, MIN_CHANGED - 1))  # too few pixels
    assert math.isnan(pair_scores(source, few, few, None)["edit"][0])
    enough = _patched(source, 150, slice(0, 1), slice(0, MIN_CHANGED))
    assert pair_scores(source, enough, enough, None)["edit"][0] == pytest.approx(1.0)


def test_psnr_and_ssim_against_the_ideal() -> None:
    source = _image(100)
    ideal = _patched(source, 140)
    output = ideal.clone() + 5  # every value 5 levels off: MSE 25
    scores = pair_scores(source, ideal, output, None)
    assert scores["psnr"][0] == pytest.approx(10 * math.log10(255**2 / 25))
    assert pair_scores(source, ideal, ideal, None)["ssim"][0] == pytest.approx(1.0)
    assert scores["ssim"][0] < 1.0
    assert math.isinf(pair_scores(source, ideal, ideal, None)["psnr"][0])  # identical images


def test_own_edit_is_the_change_from_the_reconstruction_projected_on_the_ideal_change() -> None:
    source = _image(100)
    ideal = _patched(source, 140)
    reconstruction = source.clone() + 6  # a uniformly brighter reconstruction
    output = _patched(reconstruction, 106 + 10)  # the method itself adds a quarter of the change
    scores = pair_scores(source, ideal, output, reconstruction)
    assert scores["own_projection"][0] == pytest.approx(0.25)
    assert scores["own_cosine"][0] == pytest.approx(1.0)
    assert scores["recon_psnr"][0] == pytest.approx(10 * math.log10(255**2 / 36))
    away = _patched(reconstruction, 106 - 10)  # the opposite way
    assert pair_scores(source, ideal, away, reconstruction)["own_cosine"][0] == pytest.approx(-1.0)
    no_reconstruction = pair_scores(source, ideal, output, None)
    assert all(math.isnan(no_reconstruction[k][0]) for k in ("recon_psnr", "own_projection", "own_cosine"))


def test_images_in_the_model_range_are_read_as_8_bit_levels() -> None:
    source = _image(100)
    ideal = _patched(source, 140)
    as_model = (ideal.float() / 127.5 - 1.0)  # the same image as a method returns it, in [-1, 1]
    assert pair_scores(source, ideal, as_model, None)["edit"][0] == pytest.approx(1.0)


def test_pixel_projection_works_on_a_stack_of_frames() -> None:
    source = _image(100)
    ideal = _patched(source, 140)
    frames = torch.stack([_patched(source, 100 + 10 * k) for k in range(5)])  # 5 x 1 x 3 x H x W
    projected = pixel_projection(frames[0], frames, source, ideal)
    assert projected[:, 0].tolist() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def _frame(values: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    columns = {f"gt_{k}": [math.nan] * n for k in ("edit", "damage", "psnr", "ssim", "recon_psnr",
                                                   "own_projection", "own_cosine")}
    columns.update({f"gt_{k}": v for k, v in values.items()})
    return pd.DataFrame({"expression": ["happy", "sad"] * (n // 2), "gt_changed_pixels": [20.0] * n, **columns})


def test_summary_means_and_percentile_bootstrap_interval() -> None:
    edits = [0.1, 0.5, 0.2, 0.8, 0.4, 0.6]
    summary = summarise_ground_truth(_frame({"edit": edits}), rounds=500, seed=3)
    entry = summary["metrics"]["edit"]
    assert entry["value"] == pytest.approx(np.mean(edits)) and entry["n"] == 6
    # an explicit percentile bootstrap over the same resamples (torch's seeded draws of indices)
    draws = torch.randint(6, (500, 6), generator=torch.Generator().manual_seed(3)).numpy()
    means = np.asarray(edits)[draws].mean(axis=1)
    assert entry["ci_low"] == pytest.approx(np.quantile(means, 0.025))
    assert entry["ci_high"] == pytest.approx(np.quantile(means, 0.975))
    assert summary["per_expression"]["happy"]["edit"] == pytest.approx(np.mean(edits[0::2]))
    assert summary["metrics"]["damage"]["value"] is None  # all n/a: no value, not NaN


def test_gain_is_the_estimators_reading_over_the_pixels_projection() -> None:
    frame = _frame({"own_projection": [0.1, 0.2, math.nan, 0.3]})
    frame["own_response"] = [0.5, 0.7, 0.9, 0.6]
    summary = own_edit_summary(frame, rounds=0)
    assert summary["n_both"] == 3  # the pair without a ground-truth projection is left out of both
    assert summary["gain"] == pytest.approx(np.mean([0.5, 0.7, 0.6]) / np.mean([0.1, 0.2, 0.3]))
    assert summary["learned_response"]["value"] == pytest.approx(np.mean([0.5, 0.7, 0.9, 0.6]))
    frame["gt_own_projection"] = [0.0, 0.01, 0.0, 0.01]  # no measurable edit: no gain
    assert own_edit_summary(frame, rounds=0)["gain"] is None
