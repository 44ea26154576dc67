from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from eggan.io import atomic_write, atomic_write_json, atomic_write_text


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "results.json", "good")

    def fail(handle) -> None:
        handle.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "sub" / "meta.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == '{\n  "a": 1\n}\n'
