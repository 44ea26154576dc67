"""Editing faces with a trained checkpoint: what `eggan-bench edit` and `interpolate` call.

A source image is decoded like the training data (centre square crop, resize to the model's
size). A target is built from whatever was given (an image, an AU string, an expression name);
the method's ``translate`` refuses a target without the field it is conditioned on. When an image
given as source or target belongs to the run's dataset, its AU and expression labels are read
from the dataset's index (found through the run's config.json next to the checkpoint). A user's
own face has no labels: its AUs are read by an ``AUReader`` the caller passes (the CLI passes the
run's in-domain AU estimator, ``evaluate.au.run_au_reader``), and every AU vector read from an
image is logged in the form ``--source-aus`` takes, so the user sees what the edit started from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from eggan.core.interpolate import check_steps, check_strip_path, interpolate, save_strip
from eggan.core.registry import aus_conditioned, load_run_config
from eggan.core.train import load_trained
from eggan.data.aus import (
    AU_COLUMNS,
    AU_NAMES,
    EXPRESSIONS,
    au_list,
    expression_index,
    format_au_vector,
    parse_au_vector,
    select_coded,
)
from eggan.data.dataset import IMAGE_ERRORS, Target, load_image, read_index, unreadable_image
from eggan.errors import ConfigError, DataError, EgganError

# Reads the AUs of faces: 1 x 3 x S x S in [-1, 1] -> 1 x 17 intensities on 0-5 (NaN: not read).
AUReader = Callable[[torch.Tensor], torch.Tensor]
Log = Callable[[str], None]


def load_face(path: str | Path, image_size: int) -> torch.Tensor:
    """1 x 3 x S x S in [-1, 1]; unreadable files are a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such image file" if not path.is_dir() else "is a folder, not an image", path)
    try:
        return load_image(path, image_size)[None].float().div(127.5).sub(1.0)
    except IMAGE_ERRORS as exc:
        raise unreadable_image(path, exc) from None


def run_labels(checkpoint: str | Path, image: str | Path) -> tuple[torch.Tensor, int] | None:
    """(AUs, expression index or -1) of ``image`` if it is in the run's dataset index, else None."""
    config_path = Path(checkpoint).parent / "config.json"
    if not config_path.is_file():
        return None
    config = load_run_config(config_path)
    if config.data.source == "synthfacs":
        from eggan.data.sources import synthfacs_dir

        root = synthfacs_dir(config.data)
    else:
        root = Path(config.data.source)
    try:
        table = read_index(root)
    except EgganError:
        return None
    wanted = Path(image).resolve()
    for row in table.itertuples(index=False):
        if (root / row.path).resolve() == wanted:
            aus = torch.tensor([float(getattr(row, c)) for c in AU_COLUMNS])
            return aus, EXPRESSIONS.index(row.expression) if row.expression else -1
    return None


def face_aus(labels: tuple[torch.Tensor, int] | None, image: torch.Tensor, read_aus: AUReader | None, role: str,
             log: Log) -> torch.Tensor | None:
    """1 x 17 AUs of a face: its ``labels`` from the run's index, else ``read_aus`` (None without it)."""
    if labels is not None:
        aus, origin = labels[0][None], "the run's dataset index"
    elif read_aus is not None:
        aus, origin = read_aus(image), "read by the run's AU estimator"
    else:
        return None
    log(f"{role} AUs ({origin}): {format_au_vector(aus[0]) or 'all 0'}")
    return aus


def coded_target(aus: torch.Tensor, coded: Sequence[str], what: str) -> torch.Tensor:
    """A 1 x 17 AU vector as the model takes it: the AUs its training data coded (DISFA: 12). An
    intensity asked for an AU the data does not code is refused, never dropped silently: the model
    never learned that AU, so the edit could not show it."""
    asked = [name for name, column, value in zip(AU_NAMES, AU_COLUMNS, aus[0].tolist(), strict=True)
             if column not in coded and not math.isnan(value) and value > 0]  # NaN: missing, nothing asked
    if asked:
        raise ConfigError(f"{what} sets {', '.join(asked)}, which the model's training data does not code "
                          f"(it codes {au_list(coded)})")
    return select_coded(aus, coded)


def build_target(
    checkpoint: str | Path,
    image_size: int,
    target_image: Path | None = None,
    target_aus: str | None = None,
    target_expression: str | None = None,
    read_aus: AUReader | None = None,
    log: Log = lambda _msg: None,
) -> Target:
    """A one-image Target from exactly one of the three options."""
    given = [v is not None for v in (target_image, target_aus, target_expression)]
    if sum(given) != 1:
        raise ConfigError("give exactly one of --target-image, --target-aus, --target-expression")
    if target_aus is not None:
        return Target(aus=parse_au_vector(target_aus)[None])
    if target_expression is not None:
        return Target(expression=torch.tensor([expression_index(target_expression)]))
    assert target_image is not None
    image = load_face(target_image, image_size)
    labels = run_labels(checkpoint, target_image)
    expression = None if labels is None or labels[1] < 0 else torch.tensor([labels[1]])
    return Target(image=image, aus=face_aus(labels, image, read_aus, "target", log), expression=expression)


def edit_face(
    checkpoint: str | Path,
    source: str | Path,
    out: str | Path,
    target_image: Path | None = None,
    target_aus: str | None = None,
    target_expression: str | None = None,
    device: str = "cpu",
    read_aus: AUReader | None = None,
    log: Log = lambda _msg: None,
) -> Path:
    """Translate one source image to the target and save [source | result] as a PNG (or JPEG)."""
    check_strip_path(out, source, target_image, checkpoint)
    method = load_trained(checkpoint, device)
    size = method.info.image_size
    # Only a model conditioned on AUs needs a face's AUs (reading them may first train the estimator).
    reader = read_aus if method.condition == "aus" else None
    target = build_target(checkpoint, size, target_image, target_aus, target_expression, reader, log)
    if target_image is not None and getattr(target, method.condition) is None:
        what = "AUs are" if method.condition == "aus" else "expression is"
        raise ConfigError(f"{target_image}: not in the run's dataset index, so its {what} unknown and "
                          f"{method.name} needs them; give --target-{method.condition} instead")
    if target.aus is not None:
        target = replace(target, aus=coded_target(target.aus, method.info.coded_aus, "the target"))
    image = load_face(source, size)
    result = method.translate(image, target).cpu()
    return save_strip(result[None], out, source=image)


def interpolation_strip(
    checkpoint: str | Path,
    source: str | Path,
    out: str | Path,
    target_aus: str | None = None,
    target_image: Path | None = None,
    source_aus: str | None = None,
    steps: int = 7,
    device: str = "cpu",
    read_aus: AUReader | None = None,
    log: Log = lambda _msg: None,
) -> Path:
    """Eq. 8 from the source's AUs to the target's, saved as [source | alpha = 0 ... 1].

    The source's AUs are ``source_aus`` when given, else its labels in the run's index, else what
    ``read_aus`` reads from the image; without any of them the error says to pass --source-aus.
    """
    check_steps(steps)
    check_strip_path(out, source, target_image, checkpoint)
    method = load_trained(checkpoint, device)
    if method.condition != "aus":  # before anything slow: the target and source AUs may need an estimator
        raise ConfigError(f"a {method.name} checkpoint; interpolate needs a model conditioned on AU vectors "
                          f"({', '.join(aus_conditioned())})", checkpoint)
    size = method.info.image_size
    target = build_target(checkpoint, size, target_image, target_aus, read_aus=read_aus, log=log)
    if target.aus is None:
        raise ConfigError(f"{target_image}: not in the run's dataset index, so its AUs are unknown; use --target-aus")
    image = load_face(source, size)
    if source_aus is not None:
        start = parse_au_vector(source_aus)[None]
    else:
        start = face_aus(run_labels(checkpoint, source), image, read_aus, "source", log)
        if start is None:
            raise ConfigError(f"{source}: not in the run's dataset index; give its AUs with --source-aus")
    coded = method.info.coded_aus
    frames = interpolate(method, image, coded_target(start, coded, "the source"),
                         coded_target(target.aus, coded, "the target"), steps)
    return save_strip(frames, out, source=image)
