"""Bad input, as a new user gives it: every user error is one line on stderr and exit status 2, no
traceback, nothing that existed changed and no partial output left behind (issue 11).

The commands run in this process through the console script's ``main`` (as `eggan-bench` does),
on the toy method of ``toy_method.py`` (registered for this module) and the tiny dataset.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from folder_state import snapshot
from hang_guard import HANG_GUARD_S
from openface_files import truncated_image
from test_folders import stargan_tree

from eggan.cli.main import main
from eggan.core.lock import LOCK_NAME
from eggan.core.registry import REGISTRY
from eggan.data.folders import ingest_folders
from eggan.errors import DataError

TESTS = Path(__file__).parent


@pytest.fixture(scope="module", autouse=True)
def toy_registered() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REGISTRY, "toy", "toy_method:ToyMethod")
        yield


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, list[str]]:
    """Exit status and stderr lines of `eggan-bench ARGS` (run through the console script's main)."""
    with mock.patch.object(sys, "argv", ["eggan-bench", *map(str, args)]), pytest.raises(SystemExit) as done:
        main()
    return done.value.code, capsys.readouterr().err.strip().splitlines()


def one_line_error(result: tuple[int, list[str]], *fragments: str) -> str:
    code, lines = result
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def train_args(data: Path, out: Path, *overrides: str) -> list[str]:
    sets = [item for o in ("train.steps=2", *overrides) for item in ("--set", o)]
    return ["train", "--method", "toy", "--preset", "smoke", "--data", data, "--out", out, "--no-progress", *sets]


@pytest.fixture(scope="module")
def bench(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A benchmark folder with one toy run trained for 2 steps: train/toy/seed0/checkpoint.pt."""
    from eggan.core.config import apply_overrides
    from eggan.core.registry import get_method
    from eggan.core.train import train_run

    config = get_method("toy").preset("smoke")
    config.data.source = str(tiny_dataset)
    bench = tmp_path_factory.mktemp("bench")
    train_run(apply_overrides(config, ["train.steps=2"]), bench / "train" / "toy" / "seed0")
    return bench


@pytest.fixture
def checkpoint(bench: Path) -> Path:
    return bench / "train" / "toy" / "seed0" / "checkpoint.pt"


@pytest.fixture
def face(tiny_dataset: Path) -> Path:
    return tiny_dataset / "images" / "id00_happy.png"


# --- options checked before anything is built or written ------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--device", "tpu"], "unknown device 'tpu'; expected auto, cpu, cuda or cuda:N"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["--device", "cuda:7"], "device 'cuda:7' requested but"),
    (["--set", "train.device=tpu"], "unknown device 'tpu'"),
    (["--set", "model.lr=nan"], "model.lr=nan must be a finite number, not negative"),
    (["--set", "model.lr=-1"], "model.lr=-1.0 must be a finite number, not negative"),
    (["--set", "model.lr=0"], "model.lr=0.0 must be positive"),
    (["--set", "model.lambda_gp=inf"], "model.lambda_gp=inf must be a finite number"),
    (["--set", "train.batch_size=0"], "train.batch_size=0 must be positive"),
    (["--set", "train.log_every=0"], "train.log_every=0 must be positive"),
    (["--set", "train.seed=-1"], "train.seed=-1 must be a finite number, not negative"),
    (["--set", "train.batch_size=1000"], "fewer than one batch"),  # found once the data is read
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_training_options_are_refused_before_the_run_folder_exists(
        capsys: pytest.CaptureFixture[str], tiny_dataset: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "run"
    one_line_error(cli(capsys, *train_args(tiny_dataset, out), *args), message)
    assert not out.exists()


def test_the_generic_number_rule_covers_every_method() -> None:
    from eggan.core.config import apply_overrides
    from eggan.core.registry import get_method, method_names
    from eggan.errors import ConfigError

    for name in method_names():  # every preset passes; a NaN in any method's float field does not
        for preset in ("smoke", "quick", "paper"):
            apply_overrides(get_method(name).preset(preset), [])
        with pytest.raises(ConfigError, match="must be a finite number"):
            apply_overrides(get_method(name).preset("smoke"), ["model.lr=nan"])


@pytest.mark.parametrize(("args", "message"), [
    (["evaluate", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["evaluate", "--estimator", "eyeball"], "unknown AU estimator 'eyeball'"),
    (["evaluate", "--verifier", "face++"], "unknown verifier 'face++'"),
    (["evaluate", "--device", "tpu"], "unknown device 'tpu'"),
    (["evaluate", "--export-images", "{tmp}/x", "--batch-size", "0"], "--batch-size must be at least 1"),
    (["run", "--seeds=-1", "--preset", "smoke", "--out", "{tmp}/r"], "--seeds -1: expected distinct integers from 0"),
    (["run", "--seeds", "0,0", "--preset", "smoke", "--out", "{tmp}/r"], "--seeds 0,0"),
    (["run", "--seeds", "one", "--out", "{tmp}/r"], "--seeds must be integers separated by commas"),
    (["run", "--estimator", "eyeball", "--preset", "smoke", "--out", "{tmp}/r"], "unknown AU estimator"),
    (["run", "--per-expression", "0", "--preset", "smoke", "--out", "{tmp}/r"], "--per-expression must be"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_evaluation_and_benchmark_options_are_refused_before_any_work(
        capsys: pytest.CaptureFixture[str], bench: Path, tmp_path: Path, args: list[str], message: str) -> None:
    before = snapshot(bench)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    run = ["--run", bench] if args[0] == "evaluate" else []
    one_line_error(cli(capsys, *args, *run), message)
    assert snapshot(bench) == before and not (bench / "eval").exists()  # no pairs were built
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("options", "message"), [
    (["--target-aus", ""], "no AU intensity in ''"),
    (["--target-aus", ","], "no AU intensity in ','"),
    (["--target-aus", "AU12=3,AU12=1"], "AU12 is given twice (AU12=3 and AU12=1)"),
    (["--target-aus", "AU12=nan"], "intensity nan of AU12 is outside 0-5"),
    (["--target-aus", "AU12=3", "--device", "tpu"], "unknown device 'tpu'"),
    (["--target-aus", "AU12=3", "--out", "{tmp}/e.gif"], "use .png, .jpg or .jpeg"),
    (["--target-aus", "AU12=3", "--out", "{face}"], "is also an input"),
    (["--target-image", "{face}", "--out", "{face}"], "is also an input"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_edit_refuses_bad_targets_and_outputs(capsys: pytest.CaptureFixture[str], checkpoint: Path, face: Path,
                                              tmp_path: Path, options: list[str], message: str) -> None:
    shutil.copy(face, tmp_path / "elsewhere.png")  # the same pixels, outside the dataset
    before = snapshot(face.parent)
    options = [o.replace("{tmp}", str(tmp_path)).replace("{face}", str(face)) for o in options]
    out = [] if "--out" in options else ["--out", tmp_path / "e.png"]
    one_line_error(cli(capsys, "edit", "--checkpoint", checkpoint, "--source", face, *out, *options), message)
    assert snapshot(face.parent) == before and sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.png"]


def test_interpolate_steps_have_a_maximum(capsys: pytest.CaptureFixture[str], checkpoint: Path, face: Path,
                                          tmp_path: Path) -> None:
    for steps in ("100000", "1"):
        one_line_error(cli(capsys, "interpolate", "--checkpoint", checkpoint, "--source", face, "--source-aus",
                           "AU12=0", "--target-aus", "AU12=4", "--steps", steps, "--out", tmp_path / "s.png"),
                       f"--steps must be between 2 and 64, got {steps}")
    assert list(tmp_path.iterdir()) == []


def test_edit_writes_the_format_its_name_asks_for(capsys: pytest.CaptureFixture[str], checkpoint: Path, face: Path,
                                                  tmp_path: Path) -> None:
    for name, magic in (("e.jpg", b"\xff\xd8"), ("e.JPEG", b"\xff\xd8"), ("e.png", b"\x89PNG")):
        code, _ = cli(capsys, "edit", "--checkpoint", checkpoint, "--source", face, "--target-aus", "AU12=3",
                      "--out", tmp_path / name)
        assert code == 0 and (tmp_path / name).read_bytes()[:2] == magic[:2]


@pytest.mark.parametrize(("content", "message"), [
    (random.Random(7).randbytes(4096), "not a PyTorch checkpoint file"),
    (None, "is a folder, not a checkpoint file"),
])
def test_a_file_that_is_no_checkpoint_is_called_so(capsys: pytest.CaptureFixture[str], face: Path, tmp_path: Path,
                                                   content: bytes | None, message: str) -> None:
    fake = tmp_path / "checkpoint.pt"
    fake.mkdir() if content is None else fake.write_bytes(content)
    one_line_error(cli(capsys, "edit", "--checkpoint", fake, "--source", face, "--target-aus", "AU12=3", "--out",
                       tmp_path / "e.png"), f"{fake}: {message}")
    assert not (tmp_path / "e.png").exists()


def test_a_file_given_as_the_dataset_folder_is_called_so(capsys: pytest.CaptureFixture[str], tiny_dataset: Path,
                                                         tmp_path: Path) -> None:
    one_line_error(cli(capsys, *train_args(tiny_dataset / "index.csv", tmp_path / "run")),
                   "index.csv: is a file, not a dataset folder")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("crop", ["090=1,2", "90:1,2,3", "030=10,10,100", "090=a,b,c", "090=10,10,0", "=1,2,3"])
def test_a_bad_rafd_crop_override_is_one_line_quoting_it(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         crop: str) -> None:
    one_line_error(cli(capsys, "data", "rafd", tmp_path, "--au-csv-dir", tmp_path, "--out", tmp_path / "out",
                       "--crop", crop),
                   f"--crop {crop!r}: expected ANGLE=LEFT,TOP,SIZE (ANGLE one of 000, 045, 090, 135, 180")
    assert list(tmp_path.iterdir()) == []


def test_rafd_crop_box_outside_the_frame_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one_line_error(cli(capsys, "data", "rafd", tmp_path, "--au-csv-dir", tmp_path, "--out", tmp_path / "out",
                       "--crop", "090=2000,2000,500"),
                   "crop box 2000,2000,2500,2500 of camera 090 is not inside RaFD's 681x1024 frame")
    assert list(tmp_path.iterdir()) == []


# --- unwritable outputs -----------------------------------------------------------------------------


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Folders appended to the returned list behave as on a read-only mount for this process
    (creating, renaming or opening a file there for writing fails with EROFS): chmod does not
    stop root, and a test cannot mount."""
    roots: list[Path] = []
    real_open, real_mkdir, real_replace = os.open, os.mkdir, os.replace

    def blocked(path: object) -> bool:
        resolved = Path(os.fsdecode(path)).absolute()
        return any(resolved == root or root in resolved.parents for root in roots)

    def refuse(path: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and blocked(path):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if blocked(path):
            refuse(path)
        return real_mkdir(path, *args, **kwargs)

    def fake_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if blocked(dst):
            refuse(dst)
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    monkeypatch.setattr(os, "replace", fake_replace)
    return roots


def test_a_read_only_output_folder_is_named_in_one_line(capsys: pytest.CaptureFixture[str], read_only: list[Path],
                                                        tiny_dataset: Path, tmp_path: Path) -> None:
    read_only.append(tmp_path)
    one_line_error(cli(capsys, "data", "synth", "--out", tmp_path / "synth", "--size", "32", "--identities", "3",
                       "--test-identities", "1", "--variants", "1"), "synth: cannot write (Read-only file system)")
    one_line_error(cli(capsys, *train_args(tiny_dataset, tmp_path / "run")), "run: cannot write (Read-only file")
    one_line_error(cli(capsys, "data", "show", tiny_dataset, "--out", tmp_path / "m.png"),
                   "m.png: cannot write (Read-only file system)")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_names_the_file(capsys: pytest.CaptureFixture[str], tiny_dataset: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.png").write_bytes(b"previous")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    one_line_error(cli(capsys, "data", "show", tiny_dataset, "--out", tmp_path / "m.png"),
                   f"{tmp_path / 'm.png'}: cannot write (No space left on device)")
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"] and (tmp_path / "m.png").read_bytes() == b"previous"


def test_a_folder_where_the_output_file_goes(capsys: pytest.CaptureFixture[str], checkpoint: Path, face: Path,
                                             tmp_path: Path) -> None:
    (tmp_path / "e.png").mkdir()
    one_line_error(cli(capsys, "edit", "--checkpoint", checkpoint, "--source", face, "--target-aus", "AU12=3",
                       "--out", tmp_path / "e.png"), "e.png: is a folder; expected a file name")
    assert list((tmp_path / "e.png").iterdir()) == []


def test_a_finished_run_reads_back_from_a_read_only_mount(capsys: pytest.CaptureFixture[str], read_only: list[Path],
                                                         tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli(capsys, *train_args(tiny_dataset, out))[0] == 0
    before = snapshot(out)
    read_only.append(out)
    code, lines = cli(capsys, *train_args(tiny_dataset, out))
    assert code == 0 and any("already trained to step 2" in line for line in lines), lines
    assert snapshot(out) == before


# --- data sets: broken images and indexes, overwriting ----------------------------------------------


def text_named_png(root: Path) -> str:
    (root / "images" / "id01_sad.png").write_text("not an image")
    return "images/id01_sad.png: not a readable image (cannot identify image file"


def truncated_png(root: Path) -> str:
    path = root / "images" / "id01_sad.png"
    path.write_bytes(path.read_bytes()[:200])
    return "images/id01_sad.png: not a readable image (image file is truncated"


def truncated_jpeg_named_png(root: Path) -> str:
    truncated_image(root / "images" / "id01_sad.png")
    return "images/id01_sad.png: not a readable image"


def missing_image(root: Path) -> str:
    (root / "images" / "id01_sad.png").unlink()
    return "images/id01_sad.png: no such image file (data row 15 of index.csv)"


def edit_index(root: Path, old: str, new: str) -> None:
    index = root / "index.csv"
    index.write_text(index.read_text().replace(old, new, 1))


def escaping_path(root: Path) -> str:
    edit_index(root, "images/id01_sad.png", "../../../etc/passwd")
    return "image path '../../../etc/passwd' in data row 15 is not inside the dataset folder"


def absolute_path(root: Path) -> str:
    edit_index(root, "images/id01_sad.png", "/etc/passwd")
    return "image path '/etc/passwd' in data row 15 is not inside the dataset folder"


def row_cut_short(root: Path) -> str:
    index = root / "index.csv"
    lines = index.read_text().splitlines()
    index.write_text("\n".join([*lines[:-1], lines[-1][:41]]) + "\n")  # path,identity,expression,
    return "index.csv: data row 48 (line 49) has no split (a row cut short?)"


@pytest.mark.parametrize("breakage", [text_named_png, truncated_png, truncated_jpeg_named_png, missing_image,
                                      escaping_path, absolute_path, row_cut_short], ids=lambda f: f.__name__)
@pytest.mark.parametrize("command", ["data show", "train"])
def test_a_broken_dataset_is_one_line_naming_the_file(capsys: pytest.CaptureFixture[str], tiny_dataset: Path,
                                                      tmp_path: Path, breakage: Callable[[Path], str],
                                                      command: str) -> None:
    data = Path(shutil.copytree(tiny_dataset, tmp_path / "data"))
    message = breakage(data)
    before = snapshot(data)
    out = tmp_path / ("run" if command == "train" else "m.png")
    args = train_args(data, out) if command == "train" else ["data", "show", data, "--out", out]
    one_line_error(cli(capsys, *args), message)
    assert snapshot(data) == before and not out.exists()


def test_a_dataset_is_replaced_only_when_asked_and_then_whole(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    src, csvs, out = tmp_path / "faces", tmp_path / "aus", tmp_path / "out"
    stargan_tree(src, csvs, range(3), range(3, 5), name="plain")
    folders = ["data", "folders", src, "--au-csv-dir", csvs, "--out", out, "--identity-pattern", r"^(person\d+)-"]
    synth = ["data", "synth", "--out", out, "--size", "32", "--identities", "3", "--test-identities", "1",
             "--variants", "1"]
    assert cli(capsys, *folders)[0] == 0
    before = snapshot(out)
    one_line_error(cli(capsys, *synth), f"{out}: is already a dataset (index.csv); pass --force to replace it")
    one_line_error(cli(capsys, *folders), "pass --force to replace it")
    assert snapshot(out) == before
    assert cli(capsys, *synth, "--force")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["images", "index.csv", "synthfacs.json"]  # no stale dataset.json
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aus", "faces", "out"]  # no staging folder left
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    one_line_error(cli(capsys, *synth[:2], "--out", tmp_path / "notes", *synth[4:], "--force"),
                   "notes: is not empty and not a dataset folder; choose a new --out")
    one_line_error(cli(capsys, *folders[:6], tmp_path, *folders[7:], "--force"), f"{tmp_path}: holds the source")


def test_a_failed_reader_leaves_nothing(tmp_path: Path) -> None:
    src, csvs, out = tmp_path / "RaFD", tmp_path / "aus", tmp_path / "new" / "out"
    written = stargan_tree(src, csvs, range(1, 4), range(4, 6))
    truncated_image(src / written[3])
    with pytest.raises(DataError, match="1 of 40 images are unusable"):
        ingest_folders(src, csvs, out)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.__setitem__("rows", []) or r, "'rows' is empty"),
    (lambda r: r.pop("rows") and r, "missing or malformed key 'rows' (a list)"),
    (lambda r: r.pop("metrics") and r, "missing or malformed key 'metrics' (a dict)"),
    (lambda r: r["rows"][1].__setitem__("summary", {}) or r, "row 'eggan' has an empty or incomplete summary"),
    (lambda r: [r], "not an eggan-bench results file"),
    (lambda r: r.__setitem__("format", "eggan-bench-results/2") or r, "not an eggan-bench results file"),
    (lambda r: r.pop("format") and r, "not an eggan-bench results file"),
], ids=["no rows", "rows missing", "metrics missing", "empty summary", "a JSON list", "a newer format",
        "no format tag"])
def test_a_malformed_results_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              change: Callable[[dict], object], message: str) -> None:
    from test_reports import make_results

    (tmp_path / "results.json").write_text(json.dumps(change(make_results())))
    one_line_error(cli(capsys, "report", tmp_path), f"{tmp_path / 'results.json'}: {message}")
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# --- one writer per output folder --------------------------------------------------------------------


def test_a_second_process_on_one_out_is_refused_naming_the_holder(capsys: pytest.CaptureFixture[str],
                                                                   tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from eggan.core.lock import locked_dir\n"
         "with locked_dir(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        one_line_error(cli(capsys, *train_args(tiny_dataset, out)),
                       f"{out}: in use by pid {holder.pid} on {socket.gethostname()} since ")
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]
    finally:
        holder.communicate("", timeout=HANG_GUARD_S)
    assert list(out.iterdir()) == []  # released: the lock file goes with its holder
    assert cli(capsys, *train_args(tiny_dataset, out))[0] == 0


def test_a_stale_lock_is_taken_over_and_killed_writes_are_cleaned(capsys: pytest.CaptureFixture[str],
                                                                 tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli(capsys, *train_args(tiny_dataset, out))[0] == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    leftovers = [out / ".checkpoint.pt.k3x9_a2b.tmp", out / "samples" / ".step-0000002.png.q1w2e3r4.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    code, lines = cli(capsys, *train_args(tiny_dataset, out))
    assert code == 0
    assert f"{out}: took over the lock of pid {int(dead.stdout)} on {socket.gethostname()}, which is no longer " \
           "running" in lines
    assert f"{out}: removed 2 temp file(s) of an interrupted write" in lines
    assert not any(p.exists() for p in leftovers) and not (out / LOCK_NAME).exists()


def test_temp_files_of_unlocked_neighbours_are_kept(tmp_path: Path) -> None:
    from eggan.core.lock import locked_dir

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / LOCK_NAME).write_text("{}")  # another writer guards this sub-folder
    kept = tmp_path / "other" / ".checkpoint.pt.abcdefgh.tmp"
    kept.write_bytes(b"being written")
    with locked_dir(tmp_path):
        pass
    assert kept.exists()
