from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest

from eggan.errors import OutputError
from eggan.io import atomic_write, atomic_write_json, atomic_write_text, make_dirs, remove_if_empty


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


def test_an_unchanged_file_is_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = atomic_write_text(tmp_path / "config.json", "same")
    before = path.stat().st_mtime_ns
    monkeypatch.setattr(tempfile, "mkstemp", lambda **_: pytest.fail("rewrote an unchanged file"))
    assert atomic_write_text(path, "same") == path and path.stat().st_mtime_ns == before


@pytest.mark.parametrize(("error", "reason"), [(errno.ENOSPC, "No space left on device"),
                                               (errno.EROFS, "Read-only file system")])
def test_an_os_error_while_writing_is_one_line_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                error: int, reason: str) -> None:
    path = atomic_write_text(tmp_path / "results.json", "good")

    def fail(_fd: int) -> None:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputError) as info:
        atomic_write_text(path, "new")
    assert str(info.value) == f"{path}: cannot write ({reason})"
    assert path.read_text() == "good" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_folder_in_the_way_and_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "out.png").mkdir()
    with pytest.raises(OutputError, match=r"out\.png: is a folder; expected a file name"):
        atomic_write_text(tmp_path / "out.png", "x")
    (tmp_path / "run").write_text("a file")
    with pytest.raises(OutputError, match="run: exists and is not a folder"):
        make_dirs(tmp_path / "run")


def test_folders_made_for_a_failed_command_are_taken_away(tmp_path: Path) -> None:
    created = make_dirs(tmp_path / "a" / "b" / "c")
    assert created == [tmp_path / "a" / "b" / "c", tmp_path / "a" / "b", tmp_path / "a"]
    (tmp_path / "a" / "kept.txt").write_text("written before the failure")
    remove_if_empty(created)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["kept.txt"]
