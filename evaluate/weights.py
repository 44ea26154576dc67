"""Released LightCNN weights: where they live, fetching them with gdown, and checking them.

The files sit on Google Drive (ids from the LightCNN README, ``lightcnn.md``). ``fetch_weights``
downloads one into a cache directory and ``verify_weights`` checks it before every use:

- against the sha256 of the released file, where one is public (``WeightsFile.sha256``). The
  authors publish none; for LightCNN-29v2 an independent project published the sha256 and size of
  the file it downloaded from the authors' Google Drive id (the one in the manifest), and that is
  pinned. A file of the right shape with other weights (a random init, a fine-tuned copy) would
  otherwise give plausible-looking but meaningless identity figures;
- a file with no published checksum to match (LightCNN-9 and -29: none could be found), or one
  that does not match, is refused unless the user accepts it explicitly
  (``--accept-unverified-weights``); it is then recorded and captioned "unverified weights";
- against the size and sha256 recorded next to it on first use, so a file altered or cut short
  later is caught either way.

Examples:
    eggan-bench weights fetch lightcnn-29v2
    eggan-bench weights fetch lightcnn-9 --cache ~/weights --accept-unverified-weights
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eggan.data.sources import cache_root
from eggan.errors import CheckpointError, ConfigError, MissingComponentError
from eggan.io import atomic_write_json, sha256


@dataclass(frozen=True)
class WeightsFile:
    variant: str
    filename: str
    drive_id: str
    sha256: str | None = None  # of the released file, where a public record gives it
    size: int | None = None
    checksum_source: str | None = None  # where that record is

    @property
    def url(self) -> str:
        return f"https://drive.google.com/uc?id={self.drive_id}"


MANIFEST: dict[str, WeightsFile] = {
    "lightcnn-9": WeightsFile("lightcnn-9", "LightCNN_9Layers_checkpoint.pth.tar", "0ByNaVHFekDPRWk5XUFRvTTRIVmc"),
    "lightcnn-29": WeightsFile(
        "lightcnn-29", "LightCNN_29Layers_checkpoint.pth.tar", "0ByNaVHFekDPRMGlLWVBhbkVGVm8"
    ),
    "lightcnn-29v2": WeightsFile(
        "lightcnn-29v2", "LightCNN_29Layers_V2_checkpoint.pth.tar", "1Jn6aXtQ84WY-7J3Tpr2_j6sX0ch9yucS",
        sha256="d0750746622270548137b092700811b00dc64d67ca8df042c6cf48cb3b1b9964", size=123_844_849,
        checksum_source="the sha256 github.com/COngtuthien/GPAT_TransferBench recorded for its download of the "
                        "authors' Drive file (the authors publish none)",
    ),
}
RECORD_SUFFIX = ".json"
ACCEPT_FLAG = "--accept-unverified-weights"


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


def write_record(path: Path, variant: str, origin: str, digest: str) -> dict[str, Any]:
    record = {"variant": variant, "file": path.name, "size": path.stat().st_size, "sha256": digest, "origin": origin}
    atomic_write_json(record_path(path), record)
    return record


def verify_weights(path: str | Path, variant: str, accept_unverified: bool = False,
                   origin: str = "found on disk, recorded on first use") -> dict[str, Any]:
    """Check ``path`` (see the module docstring); returns its record with ``verified`` (it is the
    released file) and ``checked_against`` (the checksum's source, or None)."""
    path = Path(path)
    entry = manifest_entry(variant)
    if not path.is_file():
        raise MissingComponentError(
            f"no {variant} weights; run `eggan-bench weights fetch {variant}` or download "
            f"{entry.url} by hand and put it at this path",
            path,
        )
    record = _recorded(path)
    digest = sha256(path)
    if record is not None and digest != record["sha256"]:
        raise CheckpointError("sha256 differs from the recorded one: the file was altered; fetch it again", path)
    verified = entry.sha256 is not None and digest == entry.sha256
    if not verified and not accept_unverified:
        accept = f"pass {ACCEPT_FLAG} to use it anyway, captioned 'unverified weights'"
        if entry.sha256 is None:
            raise CheckpointError(f"sha256 {digest}: there is no published checksum of the released {variant} file "
                                  f"to check it against; {accept}", path)
        raise CheckpointError(f"sha256 {digest} is not that of the released {variant} file ({entry.sha256}, "
                              f"{entry.checksum_source}): a partial download, another file or altered weights; "
                              f"delete it and fetch it again, or {accept}", path)
    if record is None:
        record = write_record(path, variant, origin, digest)
    return {**record, "verified": verified, "checked_against": entry.checksum_source if verified else None}


def _recorded(path: Path) -> dict[str, Any] | None:
    """The size/sha256 recorded next to ``path`` on its first use (None before); a size that
    differs is a partial or altered file."""
    record_file = record_path(path)
    if not record_file.is_file():
        return None
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
    return {**record, "sha256": digest}


def fetch_weights(variant: str, cache_dir: str | Path | None = None, accept_unverified: bool = False) -> Path:
    """The verified weights file of ``variant``, downloaded with gdown when not there yet."""
    entry = manifest_entry(variant)
    target = expected_path(variant, cache_dir)
    if target.is_file():
        verify_weights(target, variant, accept_unverified)
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
    verify_weights(target, variant, accept_unverified, origin=f"gdown {entry.url}")
    return target
