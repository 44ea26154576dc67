"""Test-made stand-ins for what the documented examples read: a user's face, RaFD, DISFA (its tree
as distributed and the authors' list), MMI (Sessions/ as distributed, and extracted frames) and
StarGAN-layout folders with their OpenFace CSVs, released LightCNN weights, trained runs.

``INPUTS`` maps a path as an example writes it (``~`` is the sandbox's home) to the function that
makes it; tests/test_examples.py calls it when an example names that path (or a file below it)
and it does not exist yet. Trainings go through ``Trainings``: one smoke training per resolved
config for the whole session, copied wherever another example or input needs the same one.
"""

from __future__ import annotations

import io
import json
import shutil
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from openface_files import au_row, install_fake_openface, openface_csv, tiny_image
from PIL import Image
from real_layouts import disfa_tree, mmi_session

from eggan.cli.pipeline import BenchConfig, run_benchmark
from eggan.core.checkpoint import CHECKPOINT_NAME
from eggan.core.config import RunConfig
from eggan.core.registry import get_method
from eggan.core.train import TrainResult, resolve_config, train_run
from eggan.data.aus import AU_COLUMNS, DISFA_CODED_AUS, EXPRESSIONS
from eggan.data.rafd import RAFD_CROPS, RAFD_FRAME
from eggan.data.sources import open_dataset
from evaluate.export import export_images
from evaluate.lightcnn import build_lightcnn
from evaluate.outside import export_protocol

SMOKE_STEPS = "train.steps=1"  # what every documented training is cut to (tests/test_examples.py)
# People in test-made RaFD: a 10 % identity split of 15 leaves the two test identities a loaded
# dataset needs (the README trains on it); 6 leave the one test identity an ingest needs.
TRAINABLE, INGESTIBLE = 15, 6


class Trainings:
    """``train_run`` with a session memory: a config trained once is copied for every later use.

    Training on a CPU is deterministic, so a copy holds what a second training would write. A
    resumed or partial training (a checkpoint already in ``out_dir``, or ``until``) runs for real.
    """

    def __init__(self, store: Path) -> None:
        self.store = store
        self.done: dict[str, Path] = {}

    def key(self, config: RunConfig) -> str:
        raw = config.to_dict()
        raw["train"] = {k: v for k, v in raw["train"].items() if k != "device"}
        source = config.data.source
        raw["data"]["source"] = source if source == "synthfacs" else str(Path(source).resolve())
        return json.dumps(raw, sort_keys=True)

    def __call__(self, config: RunConfig, out_dir: str | Path, resume: bool = True, progress: bool = False,
                 dataset: Any = None, log: Callable[[str], None] | None = None, until: int | None = None,
                 allow_other_data: bool = False, monitor_for: Any = None) -> TrainResult:
        out = Path(out_dir)
        key = self.key(config)
        if until is not None or (resume and (out / CHECKPOINT_NAME).is_file()):
            return train_run(config, out, resume, progress, dataset, log, until, allow_other_data=allow_other_data,
                             monitor_for=monitor_for)
        if key not in self.done:
            folder = self.store / f"{len(self.done):03d}"
            result = train_run(config, folder, resume=False, progress=False, dataset=dataset, log=log,
                               allow_other_data=allow_other_data, monitor_for=monitor_for)
            self.done[key] = folder
            steps = result.total_steps
        else:
            steps = json.loads((self.done[key] / "meta.json").read_text())["total_steps"]
        shutil.copytree(self.done[key], out, dirs_exist_ok=True)
        return TrainResult(step=steps, total_steps=steps, checkpoint=out / CHECKPOINT_NAME)

    def run_folder(self, dest: Path, methods: tuple[str, ...]) -> Path:
        """A benchmark folder with ``train/<method>/seed0/`` trained (smoke, SynthFACS), nothing scored yet."""
        for method in methods:
            self(resolve_config(method, "smoke", "synthfacs", [SMOKE_STEPS], "cpu"), dest / "train" / method / "seed0")
        return dest


class Inputs:
    """What the recipes share: the trainings and a session folder for data made once."""

    def __init__(self, trainings: Trainings, shared: Path) -> None:
        self.trainings = trainings
        self.shared = shared

    def once(self, name: str, make: Callable[[Path], Any]) -> Path:
        """``shared/name``, made by ``make`` on first use."""
        path = self.shared / name
        if not path.exists():
            make(path)
        return path

    def rafd(self, people: int = INGESTIBLE) -> Path:
        """Test-made RaFD images of ``people`` people."""
        return self.once(f"RaFD-{people}", lambda path: rafd_folder(path, people))

    def mmi(self, sessions: int, subjects_in_xml: bool) -> Path:
        """MMI's Sessions/ (``<folder>/Sessions``) with FeatureExtraction's CSVs (``<folder>/openface``)."""
        return self.once(f"MMI-{sessions}-{subjects_in_xml}",
                         lambda path: mmi_sessions(path, sessions, subjects_in_xml))



Recipe = Callable[[Path, Inputs], Any]


# --- faces and datasets --------------------------------------------------------------------------


def outside_face(dest: Path, inputs: Inputs, index: int = -1) -> None:
    """A SynthFACS-like face that is in no dataset index (another size, another file)."""
    dataset = open_dataset(get_method("eggan").preset("smoke").data)
    pixels = dataset.split("test").images[index].permute(1, 2, 0).numpy()
    dest.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).resize((40, 40)).save(dest)


def rafd_name(subject: int, expression: str, angle: int = 90) -> str:
    return f"Rafd{angle:03d}_{subject:02d}_Caucasian_female_{expression}_frontal.jpg"


def rafd_folder(dest: Path, people: int = INGESTIBLE) -> Path:
    """Official RaFD file names and frame size: 8 expressions frontal per person, and two at 45/135."""
    dest.mkdir(parents=True)
    names = [rafd_name(s, e) for s in range(1, people + 1) for e in EXPRESSIONS]
    names += [rafd_name(s, "happy", angle) for s in range(1, people + 1) for angle in (45, 135)]
    for k, name in enumerate(names):
        image = Image.new("RGB", RAFD_FRAME, (40, 40, 40))
        image.paste((90 + 20 * (k % 8), 60 + 25 * (k // 8 % 7), 120), RAFD_CROPS[90])
        image.save(dest / name, quality=90)
    return dest


def stargan_folder(dest: Path, names: list[str]) -> Path:
    """train/<expression>/ and test/<expression>/ with tiny faces; the last two people are the test ones."""
    for k, name in enumerate(names):
        split = "test" if k >= len(names) - 2 * len(EXPRESSIONS) else "train"
        tiny_image(dest / split / EXPRESSIONS[k % len(EXPRESSIONS)] / name, (24, 24), colour=7 * k)
    return dest


RAFD_STARGAN_NAMES = [rafd_name(s, e).replace(".jpg", ".png") for s in range(1, INGESTIBLE + 1) for e in EXPRESSIONS]
PERSON_NAMES = [f"person{s}_{e}.png" for s in range(1, INGESTIBLE + 1) for e in EXPRESSIONS]


def stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.rglob("*") if p.suffix in (".jpg", ".png"))


def openface_csvs(dest: Path, names: list[str], aligned: bool = False) -> Path:
    """One FaceLandmarkImg CSV per image stem (flat), and optionally its aligned face, as OpenFace names them."""
    dest.mkdir(parents=True, exist_ok=True)
    for k, stem in enumerate(names):
        (dest / f"{stem}.csv").write_bytes(openface_csv([au_row(k)]))
        if aligned:
            (dest / f"{stem}_aligned").mkdir(exist_ok=True)
            Image.new("RGB", (32, 32), (k % 256, 90, 90)).save(dest / f"{stem}_aligned" / "face_det_000000.bmp")
    return dest


def disfa_list(dest: Path, inputs: Inputs) -> None:
    """The authors' list format for the faces of ``~/DISFA/aligned`` (0 for the 5 AUs DISFA does not code)."""
    lines = [f"SN{s:03d}_{f:04d}.png " + " ".join(f"{(s + f + k) % 6 * 0.8:.1f}" if c in DISFA_CODED_AUS else "0"
                                                  for k, c in enumerate(AU_COLUMNS))
             for s in range(1, INGESTIBLE + 1) for f in range(4)]
    dest.write_text("\n".join(lines) + "\n")


def disfa_faces(dest: Path, inputs: Inputs) -> None:
    for s in range(1, INGESTIBLE + 1):
        for f in range(4):
            tiny_image(dest / f"SN{s:03d}_{f:04d}.png", (24, 24), colour=s)


def mmi_frames(dest: Path, inputs: Inputs) -> None:
    """<subject>/<session>/0001.png ...: six frames per session, enough for --every 5."""
    for s in range(1, INGESTIBLE + 1):
        for k in range(1, 7):
            tiny_image(dest / f"S{s:03d}" / "s1" / f"{k:04d}.png", (24, 24), colour=s)


def mmi_csvs(dest: Path, inputs: Inputs) -> None:
    """Per-frame OpenFace CSVs mirroring ``~/MMI/frames``."""
    frames = Path(dest).parent / "frames"
    if not frames.exists():
        mmi_frames(frames, inputs)
    for k, frame in enumerate(sorted(frames.rglob("*.png"))):
        csv = dest / frame.relative_to(frames).with_suffix(".csv")
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_bytes(openface_csv([au_row(k)]))


def mmi_sessions(dest: Path, sessions: int, subjects_in_xml: bool) -> None:
    """``sessions`` 16-frame sessions, one subject each (P01 ...), two coded apexes each (frames 5 and
    12); their session.xml names the subject only when ``subjects_in_xml``."""
    for n in range(1, sessions + 1):
        mmi_session(dest / "Sessions", dest / "openface", n, f"P{n:02d}" if subjects_in_xml else None,
                    [(12, 2, 5, 9), (6, 3, 5, 8), (1, 10, 12, 14)])


def mmi_subject_map(dest: Path, inputs: Inputs) -> None:
    """The user's session,subject CSV for every test-made session."""
    dest.write_text("session,subject\n" + "".join(f"{n},P{n:02d}\n" for n in range(1, TRAINABLE + 1)))


def lightcnn_weights(variant: str, dest: Path) -> Path:
    """A randomly initialised LightCNN in the released files' layout ('module.' keys, no classifier)."""
    torch.manual_seed(0)
    state = OrderedDict((f"module.{k}", v) for k, v in build_lightcnn(variant, num_classes=None).state_dict().items())
    dest.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()  # one byte string for every path (a file's archive is named after the file)
    torch.save({"epoch": 1, "state_dict": state}, buffer)
    dest.write_bytes(buffer.getvalue())
    return dest


# --- trained runs --------------------------------------------------------------------------------


def trained(method: str) -> Recipe:
    """A training run folder of ``method`` (smoke preset, SynthFACS)."""
    def make(dest: Path, inputs: Inputs) -> None:
        inputs.trainings(resolve_config(method, "smoke", "synthfacs", [SMOKE_STEPS], "cpu"), dest)
    return make


def checkpoint_file(dest: Path, inputs: Inputs) -> None:
    """An EGGAN checkpoint on its own, away from its run folder."""
    run = inputs.once("eggan-run", lambda p: trained("eggan")(p, inputs))
    shutil.copy(run / CHECKPOINT_NAME, dest)


def scored_run(dest: Path, inputs: Inputs) -> None:
    """A finished smoke benchmark (EGGAN only): results.json, tables, figures."""
    bench = BenchConfig(methods=["eggan"], preset="smoke", device="cpu", overrides=[SMOKE_STEPS], per_expression=2,
                        examples=2, interpolation_steps=3)
    run_benchmark(bench, dest, progress=False, log=lambda _msg: None)


def outside_outputs(dest: Path, inputs: Inputs) -> None:
    """A folder of another method's outputs for the sandbox's runs/default: its targets pasted."""
    protocol = dest.parent / ".protocol-for-outputs"
    export_protocol(dest.parent / "runs" / "default", protocol)
    shutil.copytree(protocol / "targets", dest)
    shutil.rmtree(protocol)


def exported_csvs(dest: Path, inputs: Inputs) -> None:
    """OpenFace's CSVs of the images `evaluate --export-images RUN/images` writes, as if run elsewhere."""
    images = dest.parent / "images"
    if not images.exists():
        export_images(dest.parent, images, device="cpu")
    openface_csvs(dest, stems(images))


def rafd_copy(people: int) -> Recipe:
    return lambda dest, inputs: shutil.copytree(inputs.rafd(people), dest)


# Path as an example writes it -> how it is made. Add a line here when an example reads a new file.
INPUTS: dict[str, Recipe] = {
    "face.png": outside_face,
    "a.png": outside_face,
    "b.png": lambda dest, inputs: outside_face(dest, inputs, index=0),
    "RAFD_DIR": rafd_copy(TRAINABLE),  # README: ingested, then trained on
    "~/RaFD": rafd_copy(INGESTIBLE),
    "~/rafd-openface": lambda dest, inputs: openface_csvs(dest, stems(inputs.rafd())),
    "data/RaFD": lambda dest, inputs: stargan_folder(dest, RAFD_STARGAN_NAMES),
    "data/RaFD-openface": lambda dest, inputs: openface_csvs(dest, [Path(n).stem for n in RAFD_STARGAN_NAMES]),
    "faces": lambda dest, inputs: stargan_folder(dest, PERSON_NAMES),
    "aus": lambda dest, inputs: openface_csvs(  # CSVs and aligned faces for ~/RaFD and faces
        dest, stems(inputs.rafd()) + [Path(n).stem for n in PERSON_NAMES], aligned=True),
    "disfa_list.txt": disfa_list,
    "~/DISFA/aligned": disfa_faces,
    "disfa_aligned": disfa_faces,
    "DISFA_DIR": lambda dest, inputs: disfa_tree(dest, subjects=TRAINABLE, frames=12),  # README: ingested, trained on
    "~/DISFA": lambda dest, inputs: disfa_tree(dest, subjects=INGESTIBLE, frames=12, size=(1024, 768)),  # DISFA's size
    "MMI_DIR/Sessions": lambda dest, inputs: shutil.copytree(inputs.mmi(TRAINABLE, False) / "Sessions", dest),
    "mmi_openface": lambda dest, inputs: shutil.copytree(inputs.mmi(TRAINABLE, False) / "openface", dest),
    "mmi_subjects.csv": mmi_subject_map,
    "~/MMI/Sessions": lambda dest, inputs: shutil.copytree(inputs.mmi(INGESTIBLE, True) / "Sessions", dest),
    "mmi-aus": lambda dest, inputs: shutil.copytree(inputs.mmi(INGESTIBLE, True) / "openface", dest),
    "subjects.csv": mmi_subject_map,
    "~/MMI/frames": mmi_frames,
    "~/MMI/openface": mmi_csvs,
    "~/OpenFace/build/bin/FaceLandmarkImg": lambda dest, inputs: install_fake_openface(dest),
    "LightCNN_29Layers_V2_checkpoint.pth.tar": lambda dest, inputs: lightcnn_weights("lightcnn-29v2", dest),
    "data/synthfacs64": lambda dest, inputs: shutil.copytree(
        open_dataset(get_method("eggan").preset("smoke").data).root, dest),
    "runs/q": trained("eggan"),
    "runs/s": trained("stargan"),
    "c.pt": checkpoint_file,
    "runs/eggan-quick/checkpoint.pt": lambda dest, inputs: trained("eggan")(dest.parent, inputs),  # evaluate --help
    "runs/quick": lambda dest, inputs: inputs.trainings.run_folder(dest, ("eggan",)),
    "runs/default": scored_run,
    "my_outputs": outside_outputs,
    # evaluate --help's RaFD run: trained on the smoke SynthFACS (the evaluators are the point)
    "runs/rafd": lambda dest, inputs: inputs.trainings.run_folder(dest, ("eggan",)),
    "runs/rafd/openface": exported_csvs,
}
