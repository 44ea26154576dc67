"""Released LightCNN weights: where they live, fetching them with gdown, and checking them.

The files sit on Google Drive (ids from the LightCNN README, ``lightcnn.md``). ``fetch_weights``
downloads one into a cache directory and records its size and sha256 in a small JSON file next
to it; every later use re-checks the file against that record, so a partial download or an
altered file is caught before it produces silently wrong features. A file the user downloaded by
hand is accepted where the manifest expects it and recorded on first use (trust on first use,
said so in the record).

Examples:
    eggan-bench weights fetch lightcnn-29v2
    eggan-bench weights fetch lightcnn-9 --cache ~/weights
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eggan.data.sources import cache_root
from eggan.errors import CheckpointError, ConfigError, MissingComponentError
from eggan.io import atomic_write_json


@dataclass(frozen=True)
class WeightsFile:
    variant: str
    filename: str
    drive_id: str

    @property
    def url(self) -> str:
        return f"https://drive.google.com/uc?id={self.drive_id}"


MANIFEST: dict[str, WeightsFile] = {
    "lightcnn-9": WeightsFile("lightcnn-9", "LightCNN_9Layers_checkpoint.pth.tar", "0ByNaVHFekDPRWk5XUFRvTTRIVmc"),
    "lightcnn-29": WeightsFile(
        "lightcnn-29", "LightCNN_29Layers_checkpoint.pth.tar", "0ByNaVHFekDPRMGlLWVBhbkVGVm8"
    ),
    "lightcnn-29v2": WeightsFile(
        "lightcnn-29v2", "LightCNN_29Layers_V2_checkpoint.pth.tar", "1Jn6aXtQ84WY-7J3Tpr2_j6sX0ch9yucS"
    ),
}
RECORD_SUFFIX = ".json"


def weights_dir() -> Path:
    return cache_root() / "weights"


def manifest_entry(variant: str) -> WeightsFile:
    if variant not in MANIFEST:
        raise ConfigError(f"no released weights for {variant!r}; available: {', '.join(MANIFEST)}")
    return MANIFEST[variant]


def expected_path(variant: str, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or weights_dir()) / manifest_entry(variant).filename


def record_path(path: Path) -> Path:
    return path.with_name(path.name + RECORD_SUFFIX)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_record(path: Path, variant: str, origin: str) -> dict[str, Any]:
    record = {"variant": variant, "file": path.name, "size": path.stat().st_size, "sha256": sha256(path),
              "origin": origin}
    atomic_write_json(record_path(path), record)
    return record


def verify_weights(path: str | Path, variant: str) -> dict[str, Any]:
    """Check ``path`` against its size/sha256 record (created now if absent); returns the record."""
    path = Path(path)
    if not path.is_file():
        raise MissingComponentError(
            f"no {variant} weights; run `eggan-bench weights fetch {variant}` or download "
            f"{manifest_entry(variant).url} by hand and put it at this path",
            path,
        )
    record_file = record_path(path)
    if not record_file.is_file():
        return write_record(path, variant, origin="found on disk, recorded on first use")
    try:
        record = json.loads(record_file.read_text())
        size, digest = int(record["size"]), str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError("unreadable weights record; delete it to re-record the file", record_file) from None
    actual = path.stat().st_size
    if actual != size:
        raise CheckpointError(
            f"size {actual} bytes differs from the recorded {size}: partial or altered download; "
            "delete it and fetch again",
            path,
        )
    if sha256(path) != digest:
        raise CheckpointError("sha256 differs from the recorded one: the file was altered; fetch it again", path)
    return record


def fetch_weights(variant: str, cache_dir: str | Path | None = None) -> Path:
    """The verified weights file of ``variant``, downloaded with gdown when not there yet."""
    entry = manifest_entry(variant)
    target = expected_path(variant, cache_dir)
    if target.is_file():
        verify_weights(target, variant)
        return target
    import gdown

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        try:
            result = gdown.download(id=entry.drive_id, output=tmp, quiet=True)
        except Exception as exc:  # gdown raises many kinds (requests, its own FileURLRetrievalError)
            result = None
            reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        else:
            reason = "gdown returned nothing"
        part = Path(tmp)
        if result is None or not part.is_file() or part.stat().st_size == 0:
            raise MissingComponentError(
                f"could not download {variant} weights ({reason}); download {entry.url} by hand "
                f"and put it at {target}"
            )
        with part.open("rb") as handle:
            head = handle.read(64).lstrip().lower()
        if head.startswith((b"<!doctype", b"<html")):
            raise MissingComponentError(
                f"Google Drive sent a web page instead of the {variant} weights (quota or consent "
                f"page); download {entry.url} by hand and put it at {target}"
            )
        os.replace(part, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    write_record(target, variant, origin=f"gdown {entry.url}")
    return target
