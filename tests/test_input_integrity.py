"""Inputs never turn to garbage (issue 23): images decode to 8 bits at the right scale or are
refused, a decompression bomb is refused before it is decoded, an index may only name files inside
its dataset and each file once, index and header problems are named exactly, and seeds and integer
settings stay within what torch and numpy take.

Each case runs through the console script's ``main``: exit status, the one line, files unchanged.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from folder_state import snapshot
from PIL import Image, ImageFile
from test_bad_input import cli, one_line_error, train_args

from eggan.core.config import apply_overrides
from eggan.core.registry import REGISTRY, get_method
from eggan.core.train import train_run
from eggan.data.dataset import load_dataset

GREY_16 = 32896  # 65535 * 128 / 255: mid grey in 16 bits


@pytest.fixture(scope="module", autouse=True)
def toy_registered() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REGISTRY, "toy", "toy_method:ToyMethod")
        yield


@pytest.fixture(scope="module")
def checkpoint(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy model trained for 2 steps, to edit faces with."""
    config = get_method("toy").preset("smoke")
    config.data.source = str(tiny_dataset)
    return train_run(apply_overrides(config, ["train.steps=2"]), tmp_path_factory.mktemp("toy")).checkpoint


@pytest.fixture
def data(tiny_dataset: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_dataset, tmp_path / "data"))


def edit(capsys: pytest.CaptureFixture[str], checkpoint: Path, source: Path, out: Path) -> tuple[int, list[str]]:
    return cli(capsys, "edit", "--checkpoint", checkpoint, "--source", source, "--target-aus", "AU12=3", "--out", out)


def source_panel(strip: Path) -> np.ndarray:
    """The first image of an `edit` strip (a grid with 2 px of padding around every image)."""
    pixels = np.asarray(Image.open(strip).convert("RGB"))
    return pixels[2:-2, 2 : pixels.shape[0] - 2]


# --- decoding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "array", "mode"), [
    ("grey16.png", np.full((40, 40), GREY_16, dtype=np.uint16), None),
    ("grey16.tif", np.full((40, 40), GREY_16, dtype=np.uint16), None),
    ("float.tif", np.full((40, 40), 0.502, dtype=np.float32), "F"),
    ("int32.tif", np.full((40, 40), GREY_16, dtype=np.int32), None),
])
def test_deep_images_are_scaled_to_8_bits(capsys: pytest.CaptureFixture[str], checkpoint: Path, tmp_path: Path,
                                          name: str, array: np.ndarray, mode: str | None) -> None:
    """A mid-grey 16-bit, 32-bit or 0-1 float face reads as mid grey (128), not white or black."""
    Image.fromarray(array, mode=mode).save(tmp_path / name)
    assert edit(capsys, checkpoint, tmp_path / name, tmp_path / "e.png")[0] == 0
    assert (source_panel(tmp_path / "e.png") == 128).all()


@pytest.mark.parametrize(("array", "mode", "message"), [
    (np.full((40, 40), 1000.0, dtype=np.float32), "F",
     "refused: floating-point pixels from 1000 to 1000, not in 0-1, so their 8-bit scale is unknown"),
    (np.array([[np.nan, 0.5]] * 20, dtype=np.float32), "F", "refused: floating-point pixels from 0.5 to 0.5 with NaN"),
    (np.full((40, 40), 70000, dtype=np.int32), None,
     "refused: 32-bit integer pixels from 70000 to 70000, outside 16-bit 0-65535"),
], ids=["float 1000", "float NaN", "int32 70000"])
def test_images_of_unknown_scale_are_refused(capsys: pytest.CaptureFixture[str], checkpoint: Path, tmp_path: Path,
                                             array: np.ndarray, mode: str | None, message: str) -> None:
    Image.fromarray(array, mode=mode).save(tmp_path / "face.tif")
    one_line_error(edit(capsys, checkpoint, tmp_path / "face.tif", tmp_path / "e.png"),
                   f"{tmp_path / 'face.tif'}: {message}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.tif"]


def test_a_16_bit_image_in_a_dataset_is_read_at_its_scale(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    Image.fromarray(np.full((32, 32), GREY_16, dtype=np.uint16)).save(data / "images" / "id00_angry.png")
    assert cli(capsys, "data", "show", data, "--out", data.parent / "m.png")[0] == 0
    dataset = load_dataset(data, 32)
    row = dataset.table.index[dataset.table["path"] == "images/id00_angry.png"][0]
    assert (dataset.images[row] == 128).all()


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG header that declares width x height grey pixels, followed by one tiny block of
    data: a few hundred bytes that would decode to width * height bytes (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [12000, 20000])  # 144 Mpx: Pillow warns; 400 Mpx: Pillow's own error
def test_a_decompression_bomb_is_refused_before_it_is_decoded(capsys: pytest.CaptureFixture[str], checkpoint: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              side: int) -> None:
    def never(*_args: object) -> None:
        raise AssertionError("a huge image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    bomb = png_header_only(tmp_path / "bomb.png", side, side)
    one_line_error(edit(capsys, checkpoint, bomb, tmp_path / "e.png"),
                   f"{bomb}: refused: {side}x{side} is {side * side / 1e6:.1f} Mpx, more than the 89.5 Mpx this "
                   "suite decodes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.png"]


def test_a_decompression_bomb_in_a_dataset_names_its_row(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    png_header_only(data / "images" / "id01_sad.png", 12000, 12000)
    before = snapshot(data)
    one_line_error(cli(capsys, "data", "show", data, "--out", data.parent / "m.png"),
                   "images/id01_sad.png: refused: 12000x12000 is 144.0 Mpx", "; data row 15 of index.csv")
    assert snapshot(data) == before and not (data.parent / "m.png").exists()


# --- the index: files inside the dataset, each once; exact header problems ------------------------------


def rewrite_index(data: Path, change) -> None:
    lines = (data / "index.csv").read_text().splitlines()
    (data / "index.csv").write_text("\n".join(change(lines)) + "\n")


@pytest.mark.parametrize("command", ["data show", "train"])
def test_a_symlink_out_of_the_dataset_is_refused(capsys: pytest.CaptureFixture[str], data: Path,
                                                 command: str) -> None:
    outside = data.parent / "outside.png"
    shutil.move(data / "images" / "id01_sad.png", outside)
    (data / "images" / "id01_sad.png").symlink_to(outside)
    out = data.parent / ("run" if command == "train" else "m.png")
    args = train_args(data, out) if command == "train" else ["data", "show", data, "--out", out]
    one_line_error(cli(capsys, *args), f"images/id01_sad.png: resolves to {outside.resolve()}, outside the dataset "
                                       f"folder {data.resolve()} (a symlink?); data row 15 of index.csv")
    assert not out.exists()


def test_a_symlink_inside_the_dataset_is_read(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    (data / "faces").mkdir()
    shutil.move(data / "images" / "id01_sad.png", data / "faces" / "sad.png")
    (data / "images" / "id01_sad.png").symlink_to(Path("..") / "faces" / "sad.png")
    assert cli(capsys, "data", "show", data, "--out", data.parent / "m.png")[0] == 0


def test_two_spellings_of_one_file_are_refused(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    def respell(lines: list[str]) -> list[str]:
        first = lines[1].split(",")[0]
        second = lines[2].split(",")
        second[0] = "./" + first.replace("/", "//")
        return [*lines[:2], ",".join(second), *lines[3:]]

    rewrite_index(data, respell)
    before = snapshot(data)
    one_line_error(cli(capsys, "data", "show", data, "--out", data.parent / "m.png"),
                   "index.csv: duplicate image path './images//id00_angry.png' in data row 2 (data row 1 names the "
                   "same file as 'images/id00_angry.png'): one image would carry two label sets")
    assert snapshot(data) == before


def test_a_symlink_to_a_file_the_index_already_names_is_refused(capsys: pytest.CaptureFixture[str],
                                                               data: Path) -> None:
    """Loading a dataset resolves every file: one reached by two names is refused before training."""
    target = data / "images" / "id01_sad.png"
    target.unlink()
    target.symlink_to("id00_angry.png")
    one_line_error(cli(capsys, *train_args(data, data.parent / "run")),
                   "index.csv: data rows 1 and 15 name the same image file ('images/id00_angry.png' and "
                   "'images/id01_sad.png'): one image would carry two label sets")
    assert not (data.parent / "run").exists()


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_an_index_with_another_delimiter_says_which(capsys: pytest.CaptureFixture[str], data: Path,
                                                    separator: str, name: str) -> None:
    rewrite_index(data, lambda lines: [line.replace(",", separator) for line in lines])
    one_line_error(cli(capsys, "data", "show", data, "--out", data.parent / "m.png"),
                   f"index.csv: the header is one column separated by {name}; index.csv must be separated by commas")


@pytest.mark.parametrize(("header", "message"), [
    ("AU12_r ", "column 'AU12_r ' has spaces around its name; expected 'AU12_r'"),
    (" AU12_r", "column ' AU12_r' has spaces around its name; expected 'AU12_r'"),
    ("au12_r", "column 'au12_r' is not spelled 'AU12_r' (names are case-sensitive)"),
])
def test_a_header_problem_is_named_exactly(capsys: pytest.CaptureFixture[str], data: Path, header: str,
                                           message: str) -> None:
    rewrite_index(data, lambda lines: [lines[0].replace("AU12_r", header), *lines[1:]])
    one_line_error(cli(capsys, "data", "show", data, "--out", data.parent / "m.png"), f"index.csv: {message}")


# --- seeds and integer settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--seeds", str(2**64), "--preset", "smoke"], f"--seeds {2**64}: expected distinct integers from 0 to "
                                                          "4294967295"),
    (["run", "--seeds", f"0,{2**32}", "--preset", "smoke"], "expected distinct integers from 0 to 4294967295"),
    (["train", "--preset", "smoke", "--set", f"train.seed={2**63}"],
     f"train.seed={2**63} must be a seed from 0 to 4294967295 (numpy's seed range)"),
    (["train", "--preset", "smoke", "--set", f"data.synth.seed={2**32}"], "data.synth.seed=4294967296 must be a seed"),
    (["train", "--preset", "smoke", "--set", f"train.steps={2**64}"],
     f"train.steps={2**64} is larger than 9223372036854775807, the largest integer torch takes"),
    (["data", "synth", "--size", "32", "--identities", "3", "--test-identities", "1", "--variants", "1",
      "--seed", str(2**64)], f"--seed={2**64} must be a seed from 0 to 4294967295"),
], ids=["run --seeds 2**64", "run --seeds 0,2**32", "train.seed", "data.synth.seed", "train.steps",
        "data synth --seed"])
def test_seeds_and_integers_beyond_torch_and_numpy_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                args: list[str], message: str) -> None:
    one_line_error(cli(capsys, *args, "--out", tmp_path / "out"), message)
    assert list(tmp_path.iterdir()) == []
