"""The one checkpoint format of the suite, written atomically and read with ``weights_only=True``.

A checkpoint is a plain dict of tensors and Python primitives: format tag, method name, image
size, the resolved run config, the step, the method's networks/optimisers/schedulers, the RNG
state of every rank and the data-order position. Nothing in it needs arbitrary unpickling, so
loading never executes code from the file.
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from eggan.errors import CheckpointError
from eggan.io import atomic_write

FORMAT = "eggan-bench-checkpoint/1"
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Serialise to memory first, then write atomically: a crash keeps the previous file."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return atomic_write(path, lambda handle: handle.write(buffer.getbuffer()))


def load_file(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with one-line errors for missing, corrupt, foreign and
    unsafe files. Only a pickle that names a Python object (a GLOBAL) is "unsafe"; anything the
    unpickler cannot even read is not a PyTorch checkpoint at all."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError("is a folder, not a checkpoint file", path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", path)
    try:
        with warnings.catch_warnings():  # garbage read as a legacy pickle names a random protocol
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        culprit = re.search(r"GLOBAL [\w.]+", str(exc))
        if culprit is None:
            reason = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), "unreadable")
            raise CheckpointError(f"not a PyTorch checkpoint file ({reason})", path) from None
        raise CheckpointError(
            "refused: the file needs arbitrary unpickling, which could run code "
            f"({culprit[0]}); re-save its tensors as a plain state dict",
            path,
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"corrupt or truncated checkpoint ({first})", path) from None
    except (IndexError, KeyError, TypeError, AttributeError, ValueError, OverflowError, MemoryError) as exc:
        # A file that is not a zip archive is read as a legacy (pre-1.6) pickle, the format of
        # LightCNN's released weights; on arbitrary bytes that unpickler fails with whatever the
        # first bad opcode happens to break (an empty stack, an unknown memo key, ...).
        raise CheckpointError(f"not a PyTorch checkpoint file (unreadable: {type(exc).__name__})", path) from None


def load_checkpoint(path: str | Path, method: str | None = None, image_size: int | None = None) -> dict[str, Any]:
    """Read a suite checkpoint and check it is for the expected method and image size."""
    payload = load_file(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"not an eggan-bench checkpoint (expected format {FORMAT})", path)
    if method is not None and payload["method"] != method:
        raise CheckpointError(f"checkpoint of method {payload['method']!r}, expected {method!r}", path)
    if image_size is not None and payload["image_size"] != image_size:
        raise CheckpointError(
            f"checkpoint trained at {payload['image_size']}x{payload['image_size']}, "
            f"expected {image_size}x{image_size}",
            path,
        )
    return payload
