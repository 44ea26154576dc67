"""Benchmarks of the evaluation machinery: 1,392 pairs scored with a stand-in identity-translate
method and small evaluators (so the protocol's own cost is measured), and translate throughput."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from PIL import Image
from standins import KeepSource, standin

from eggan.aus import AU_COLUMNS, EXPRESSIONS
from eggan.data.dataset import load_dataset, write_index
from evaluate.au import AURegressor, LearnedEstimator
from evaluate.identity import FeatureExtractor, Verifier
from evaluate.lightcnn import build_lightcnn
from evaluate.pairs import calibrate, make_pairs
from evaluate.protocol import prepare_reference, score_method
from evaluate.throughput import measure

SIZE = 64


@pytest.fixture(scope="module")
def protocol_setup(tmp_path_factory: pytest.TempPathFactory):
    """8 train identities x 8 expressions x 22 images (>= 174 per expression), 4 test identities."""
    root = tmp_path_factory.mktemp("bench-data")
    generator = torch.Generator().manual_seed(0)
    rows = []
    (root / "images").mkdir()
    for i in range(12):
        base = torch.rand(3, 1, 1, generator=generator)
        for expression in EXPRESSIONS:
            for v in range(22 if i < 8 else 2):
                pixels = (base + 0.2 * torch.rand(3, SIZE, SIZE, generator=generator)).clamp(0, 1)
                rel = f"images/{i}_{expression}_{v}.png"
                Image.fromarray((pixels.permute(1, 2, 0) * 255).byte().numpy()).save(root / rel)
                rows.append({"path": rel, "identity": f"id{i}", "expression": expression,
                             "split": "train" if i < 8 else "test",
                             **dict(zip(AU_COLUMNS, (torch.rand(17, generator=generator) * 5).tolist(),
                                        strict=True))})
    write_index(pd.DataFrame(rows), root)
    dataset = load_dataset(root, SIZE)
    pairs = make_pairs(dataset)
    assert len(pairs) == 1392
    torch.manual_seed(0)
    estimator = LearnedEstimator(AURegressor(SIZE, 4), SIZE, {"name": "untrained regressor, width 4"},
                                 torch.device("cpu"))
    net = FeatureExtractor(build_lightcnn("lightcnn-9", None, width=0.125, input_size=SIZE))
    verifier = Verifier(net, SIZE, {"name": "untrained LightCNN-9 width 0.125"}, torch.device("cpu"))
    calibrate(verifier, dataset, count=200)
    return dataset, pairs, estimator, verifier


def test_bench_score_1392_pairs(benchmark, protocol_setup) -> None:
    dataset, pairs, estimator, verifier = protocol_setup
    method = standin(KeepSource, SIZE)

    def run() -> None:
        reference = prepare_reference(dataset, pairs, estimator, verifier)
        score_method(method, dataset, pairs, estimator, verifier, batch_size=32, reference=reference)

    benchmark.pedantic(run, rounds=1, warmup_rounds=0)
    benchmark.extra_info["pairs"] = len(pairs)
    benchmark.extra_info["pairs_per_s"] = len(pairs) / benchmark.stats.stats.mean


@pytest.mark.parametrize("batch_size", [1, 8, 32])
def test_bench_translate_throughput_cpu(benchmark, batch_size: int) -> None:
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
