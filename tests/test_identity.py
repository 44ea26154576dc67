from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from PIL import Image

from eggan.data.dataset import load_dataset
from eggan.errors import CheckpointError
from evaluate.identity import INDOMAIN_SETTINGS, indomain_verifier, load_lightcnn, released_verifier, to_gray
from evaluate.lightcnn import build_lightcnn


def _released(variant: str, seed: int = 0, fc2_classes: int | None = 5) -> torch.nn.Module:
    """A network with random weights; the released fc2 is huge, a 5-class one stands in for it."""
    torch.manual_seed(seed)
    return build_lightcnn(variant, fc2_classes).eval()


def _save_like_train_py(net: torch.nn.Module, path: Path, legacy: bool = False, tensor_prec1: bool = False) -> Path:
    """The layout of LightCNN's train.py: DataParallel keys ('module.') nested under state_dict."""
    state = OrderedDict((f"module.{k}", v) for k, v in net.state_dict().items())
    prec1 = torch.tensor(98.7) if tensor_prec1 else 98.7
    payload = {"epoch": 80, "arch": "LightCNN", "state_dict": state, "prec1": prec1}
    torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.mark.parametrize(("variant", "legacy"), [("lightcnn-9", False), ("lightcnn-29v2", True)])
def test_released_layouts_load_strictly_and_reproduce_the_features(tmp_path: Path, variant: str,
                                                                   legacy: bool) -> None:
    net = _released(variant)
    path = _save_like_train_py(net, tmp_path / "w.pth.tar", legacy=legacy, tensor_prec1=legacy)
    loaded = load_lightcnn(str(path), variant)
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x)[1])


def test_a_bare_state_dict_without_fc2_loads_too(tmp_path: Path) -> None:
    net = _released("lightcnn-9", fc2_classes=None)
    torch.save(net.state_dict(), tmp_path / "bare.pt")
    assert load_lightcnn(str(tmp_path / "bare.pt"), "lightcnn-9")(torch.rand(1, 1, 128, 128)).shape == (1, 256)


def test_the_wrong_variant_is_refused_with_the_keys_and_a_guess(tmp_path: Path) -> None:
    path = _save_like_train_py(_released("lightcnn-29", fc2_classes=None), tmp_path / "29.pth.tar")
    with pytest.raises(CheckpointError, match=r"missing keys fc\.weight.*unexpected keys fc\.filter.*lightcnn-29 "):
        load_lightcnn(str(path), "lightcnn-29v2")


def test_a_file_that_is_no_lightcnn_is_refused(tmp_path: Path) -> None:
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"missing keys features\.0\.filter\.weight.*unexpected keys encoder"):
        load_lightcnn(str(tmp_path / "other.pt"), "lightcnn-9")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="no state_dict"):
        load_lightcnn(str(tmp_path / "list.pt"), "lightcnn-9")


def test_wrong_shapes_are_refused(tmp_path: Path) -> None:
    state = build_lightcnn("lightcnn-9").state_dict()
    state["fc1.filter.bias"] = torch.zeros(7)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="size mismatch"):
        load_lightcnn(str(tmp_path / "bad.pt"), "lightcnn-9")


def test_released_verifier_checks_the_file_before_loading(tmp_path: Path) -> None:
    """A LightCNN-9 of the right shape with random weights is no released file: refused unless
    accepted, then recorded, flagged unverified, and still checked against its record."""
    path = _save_like_train_py(_released("lightcnn-9"), tmp_path / "LightCNN_9Layers_checkpoint.pth.tar")
    with pytest.raises(CheckpointError, match=r"no published checksum .* --accept-unverified-weights"):
        released_verifier("lightcnn-9", str(path), "cpu")
    assert not (tmp_path / (path.name + ".json")).exists()
    verifier = released_verifier("lightcnn-9", str(path), "cpu", accept_unverified=True)
    assert verifier.features(torch.rand(3, 3, 64, 64) * 2 - 1).shape == (3, 256)
    meta = verifier.metadata()
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and meta["weights_verified"] is False
    assert (tmp_path / (path.name + ".json")).is_file()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="altered"):
        released_verifier("lightcnn-9", str(path), "cpu", accept_unverified=True)


def test_to_gray_uses_luma_weights_and_resizes() -> None:
    """A colour with three different channels (pure red would hide swapped green and blue weights):
    ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B, as PIL's "L" mode computes it from 8-bit RGB."""
    rgb = torch.tensor([40, 200, 90], dtype=torch.uint8)
    image = (rgb.float() / 127.5 - 1).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    gray = to_gray(image, 128)
    assert gray.shape == (1, 1, 128, 128)
    by_hand = (0.299 * 40 + 0.587 * 200 + 0.114 * 90) / 255
    pil = Image.new("RGB", (1, 1), tuple(rgb.tolist())).convert("L").getpixel((0, 0)) / 255
    assert torch.allclose(gray, torch.full_like(gray, by_hand), atol=1e-6)
    assert abs(by_hand - pil) <= 0.5 / 255  # PIL rounds to 8 bits


def test_indomain_verifier_is_cached_by_dataset_fingerprint(tiny_dataset: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGGAN_CACHE", str(tmp_path))
    monkeypatch.setitem(INDOMAIN_SETTINGS, "epochs", 2)
    dataset = load_dataset(tiny_dataset, 32)
    first = indomain_verifier(dataset, "cpu")
    assert "width 0.25" in first.info["name"] and "trained in-domain" in first.info["name"]
    assert len(list((tmp_path / "evaluators").glob("verifier-*.pt"))) == 1

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached verifier was trained again")

    monkeypatch.setattr("evaluate.identity.F.cross_entropy", no_training)
    again = indomain_verifier(dataset, "cpu")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(first.features(x), again.features(x))


def test_indomain_training_is_a_function_of_the_seed(tiny_dataset: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(INDOMAIN_SETTINGS, "epochs", 1)
    dataset = load_dataset(tiny_dataset, 32)
    verifiers = []
    for attempt in range(2):
        monkeypatch.setenv("EGGAN_CACHE", str(tmp_path / str(attempt)))
        torch.manual_seed(100 + attempt)  # whatever ran before must not matter
        verifiers.append(indomain_verifier(dataset, "cpu"))
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(verifiers[0].features(x), verifiers[1].features(x))
