from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import gdown
import pytest

from eggan.errors import CheckpointError, MissingComponentError
from evaluate.evaluators import check_run_weights
from evaluate.weights import MANIFEST, fetch_weights, verify_weights

CONTENT = b"\x80\x02fake-lightcnn-weights" * 1000


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """gdown.download replaced by a function that writes a file (the tests never use the network)."""
    calls: list[str] = []

    def fake(id: str | None = None, output: str | None = None, quiet: bool = False, **_: object) -> str:
        calls.append(id or "")
        Path(output).write_bytes(CONTENT)
        return output

    monkeypatch.setattr(gdown, "download", fake)
    return calls


@pytest.fixture
def released(monkeypatch: pytest.MonkeyPatch) -> str:
    """The manifest's LightCNN-29v2 entry pinned to CONTENT's sha256, as if CONTENT were the release."""
    digest = hashlib.sha256(CONTENT).hexdigest()
    monkeypatch.setitem(MANIFEST, "lightcnn-29v2", dataclasses.replace(MANIFEST["lightcnn-29v2"], sha256=digest))
    return digest


def test_the_released_29v2_file_is_pinned_by_its_published_sha256() -> None:
    entry = MANIFEST["lightcnn-29v2"]
    assert entry.sha256 == "d0750746622270548137b092700811b00dc64d67ca8df042c6cf48cb3b1b9964"
    assert entry.size == 123_844_849 and "GPAT_TransferBench" in entry.checksum_source
    assert MANIFEST["lightcnn-9"].sha256 is None and MANIFEST["lightcnn-29"].sha256 is None  # none published


def test_first_fetch_downloads_and_records_size_and_sha256(tmp_path: Path, downloads: list[str],
                                                           released: str) -> None:
    path = fetch_weights("lightcnn-29v2", tmp_path)
    assert path == tmp_path / MANIFEST["lightcnn-29v2"].filename and path.read_bytes() == CONTENT
    assert downloads == [MANIFEST["lightcnn-29v2"].drive_id]
    record = json.loads((tmp_path / (path.name + ".json")).read_text())
    assert record["size"] == len(CONTENT) and record["sha256"] == released
    assert verify_weights(path, "lightcnn-29v2")["verified"] is True
    assert fetch_weights("lightcnn-29v2", tmp_path) == path
    assert len(downloads) == 1  # present and intact: no second download
    assert not list(tmp_path.glob("*.part"))


def test_a_file_that_is_not_the_release_is_refused_unless_accepted(tmp_path: Path, downloads: list[str]) -> None:
    """The fake download is not the released 29v2 file (its real sha256 is pinned): refused, naming both."""
    digest = hashlib.sha256(CONTENT).hexdigest()
    with pytest.raises(CheckpointError) as error:
        fetch_weights("lightcnn-29v2", tmp_path)
    assert f"sha256 {digest} is not that of the released lightcnn-29v2 file ({MANIFEST['lightcnn-29v2'].sha256}" \
           in str(error.value) and "--accept-unverified-weights" in str(error.value)
    path = fetch_weights("lightcnn-29v2", tmp_path, accept_unverified=True)
    assert verify_weights(path, "lightcnn-29v2", accept_unverified=True)["verified"] is False
    with pytest.raises(CheckpointError, match="no published checksum of the released lightcnn-9 file"):
        fetch_weights("lightcnn-9", tmp_path)


def test_partial_and_altered_files_are_detected(tmp_path: Path, downloads: list[str]) -> None:
    path = fetch_weights("lightcnn-9", tmp_path, accept_unverified=True)
    path.write_bytes(CONTENT[:-100])
    with pytest.raises(CheckpointError, match="partial or altered"):
        fetch_weights("lightcnn-9", tmp_path, accept_unverified=True)
    path.write_bytes(CONTENT[:-1] + b"!")
    with pytest.raises(CheckpointError, match="altered"):
        verify_weights(path, "lightcnn-9", accept_unverified=True)


def test_offline_fails_in_one_line_saying_where_to_put_the_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(**_: object) -> str:
        raise ConnectionError("Failed to resolve 'drive.google.com'\nmore detail")

    monkeypatch.setattr(gdown, "download", offline)
    with pytest.raises(MissingComponentError) as error:
        fetch_weights("lightcnn-29", tmp_path)
    message = str(error.value)
    assert "\n" not in message and str(tmp_path / MANIFEST["lightcnn-29"].filename) in message
    assert MANIFEST["lightcnn-29"].drive_id in message and "Failed to resolve" in message
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_a_quota_web_page_is_not_taken_for_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def page(output: str, **_: object) -> str:
        Path(output).write_bytes(b"<!DOCTYPE html><html>Quota exceeded</html>")
        return output

    monkeypatch.setattr(gdown, "download", page)
    with pytest.raises(MissingComponentError, match="web page"):
        fetch_weights("lightcnn-9", tmp_path)


def test_a_manually_placed_file_is_recorded_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST["lightcnn-9"].filename
    with pytest.raises(MissingComponentError, match="weights fetch lightcnn-9"):
        verify_weights(path, "lightcnn-9")
    path.write_bytes(CONTENT)
    assert verify_weights(path, "lightcnn-9", accept_unverified=True)["origin"].startswith("found on disk")
    path.write_bytes(CONTENT + b"x")
    with pytest.raises(CheckpointError, match="partial or altered"):
        verify_weights(path, "lightcnn-9", accept_unverified=True)


def test_check_run_weights_compares_with_the_file_the_folder_was_evaluated_with(tmp_path: Path) -> None:
    """Only a released verifier recorded in eval/evaluators.json is compared; the in-domain verifier
    and a folder never evaluated have nothing to compare with."""
    (tmp_path / "eval").mkdir()
    weights = tmp_path / "w.pth.tar"
    weights.write_bytes(CONTENT)
    digest = hashlib.sha256(CONTENT).hexdigest()
    check_run_weights(tmp_path, "lightcnn-9", weights)  # no evaluators.json yet
    record = {"verifier": {"name": "LightCNN-9", "weights": "/old/w.pth.tar", "sha256": "0" * 64,
                           "trained_in_domain": False}}
    (tmp_path / "eval" / "evaluators.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError) as error:
        check_run_weights(tmp_path, "lightcnn-9", weights)
    assert str(error.value) == (f"{weights}: sha256 {digest} (lightcnn-9) differs from {'0' * 64} (LightCNN-9, "
                                f"/old/w.pth.tar), the weights this run folder was evaluated with "
                                f"({tmp_path / 'eval' / 'evaluators.json'}); pass --accept-new-weights to rescore "
                                "every row with this file")
    check_run_weights(tmp_path, "lightcnn-9", weights, accept_new_weights=True)
    check_run_weights(tmp_path, "indomain", None)
    record["verifier"]["sha256"] = digest
    (tmp_path / "eval" / "evaluators.json").write_text(json.dumps(record))
    check_run_weights(tmp_path, "lightcnn-9", weights)  # the same file
    record["verifier"] = {"name": "LightCNN-9 (trained in-domain)", "sha256": "1" * 64, "trained_in_domain": True}
    (tmp_path / "eval" / "evaluators.json").write_text(json.dumps(record))
    check_run_weights(tmp_path, "lightcnn-9", weights)  # an in-domain verifier before: nothing to keep
