"""Benchmarks of the evaluation machinery: 1,392 pairs scored with a stand-in identity-translate
method and small evaluators (so the protocol's own cost is measured), and translate throughput.
Plain `pytest` runs the scoring once on 8 pairs per expression instead of 174."""

from __future__ import annotations

import pytest
import torch
from fake_index import fake_dataset
from standins import KeepSource, standin

from evaluate.au import AURegressor, LearnedEstimator
from evaluate.identity import FeatureExtractor, Verifier
from evaluate.lightcnn import build_lightcnn
from evaluate.pairs import calibrate, make_pairs
from evaluate.protocol import prepare_reference, score_method
from evaluate.throughput import measure

SIZE = 64


@pytest.fixture(scope="module")
def protocol_setup():
    """8 train identities x 8 expressions x 22 images (>= 174 per expression), 4 test identities x 2,
    held in memory (no file is written or decoded: the scoring is what is measured)."""
    dataset = fake_dataset(8, 4, (22, 2), size=SIZE)
    torch.manual_seed(0)
    estimator = LearnedEstimator(AURegressor(SIZE, 4), SIZE, {"name": "untrained regressor, width 4"},
                                 torch.device("cpu"))
    net = FeatureExtractor(build_lightcnn("lightcnn-9", None, width=0.125, input_size=SIZE))
    verifier = Verifier(net, SIZE, {"name": "untrained LightCNN-9 width 0.125"}, torch.device("cpu"))
    calibrate(verifier, dataset, count=200)
    return dataset, estimator, verifier


@pytest.mark.parametrize("per_expression", [8, pytest.param(174, marks=pytest.mark.timed_only)])
def test_bench_score_1392_pairs(benchmark, rates, protocol_setup, per_expression: int) -> None:
    dataset, estimator, verifier = protocol_setup
    pairs = make_pairs(dataset, per_expression)
    assert len(pairs) == 8 * per_expression
    method = standin(KeepSource, SIZE)

    def run() -> dict:
        reference = prepare_reference(dataset, pairs, estimator, verifier)
        return score_method(method, dataset, pairs, estimator, verifier, batch_size=32, reference=reference)[1]

    summary = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert summary["n_pairs"] == len(pairs)
    benchmark.extra_info["pairs"] = len(pairs)
    rates(pairs=len(pairs))


@pytest.mark.parametrize("batch_size", [1, 8, 32])
def test_bench_translate_throughput_cpu(benchmark, rates, batch_size: int) -> None:
    method = standin(KeepSource, SIZE)
    result = benchmark.pedantic(lambda: measure(method, (batch_size,), warmup=1, repeats=3), rounds=3,
                                warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = result["batches"][0]["translations_per_s"]


@pytest.mark.gpu
@pytest.mark.parametrize("batch_size", [1, 8, 32])
def test_bench_translate_throughput_gpu(benchmark, batch_size: int) -> None:
    method = standin(KeepSource, 128)
    method.device = torch.device("cuda")
    result = benchmark.pedantic(lambda: measure(method, (batch_size,), warmup=2, repeats=5), rounds=3,
                                warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = result["batches"][0]["translations_per_s"]
    benchmark.extra_info["device"] = result["device"]["name"]
