"""Frames out of a video: frame k handed on is the k-th frame written, and bad videos are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from video_files import frame_mark, frame_number, write_avi

from eggan.data.video import decode_frames
from eggan.errors import DataError


@pytest.mark.parametrize("codec", ["mpeg4", "mjpeg"])
def test_each_wanted_frame_is_that_frame_and_the_count_is_the_video_length(tmp_path: Path, codec: str) -> None:
    video = write_avi(tmp_path / "clip.avi", 10, codec=codec, mark=200)
    got: dict[int, Image.Image] = {}
    count = decode_frames(video, [10, 1, 4, 4], lambda k, image: got.setdefault(k, image))
    assert count == 10
    assert sorted(got) == [1, 4, 10]
    assert {k: frame_number(image) for k, image in got.items()} == {1: 1, 4: 4, 10: 10}  # not off by one
    assert got[4].mode == "RGB" and got[4].size == (64, 64)
    assert frame_mark(got[4]) == pytest.approx(200, abs=8)


def test_nothing_wanted_still_counts_every_frame(tmp_path: Path) -> None:
    assert decode_frames(write_avi(tmp_path / "clip.avi", 7), [], lambda k, image: None) == 7


def test_bad_videos_are_one_line_naming_the_file(tmp_path: Path) -> None:
    video = write_avi(tmp_path / "short.avi", 5)
    with pytest.raises(DataError, match=r"short\.avi: has 5 frames; frame 6 was asked for"):
        decode_frames(video, [2, 6], lambda k, image: None)
    with pytest.raises(DataError, match="frames are numbered from 1"):
        decode_frames(video, [0], lambda k, image: None)
    (tmp_path / "text.avi").write_text("not a video at all\n" * 20)
    with pytest.raises(DataError, match=r"text\.avi: not a readable video") as caught:
        decode_frames(tmp_path / "text.avi", [1], lambda k, image: None)
    assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match=r"missing\.avi: not a readable video"):
        decode_frames(tmp_path / "missing.avi", [1], lambda k, image: None)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(write_avi(tmp_path / "whole.avi", 10).read_bytes()[:3000])
    with pytest.raises(DataError, match=r"cut\.avi: "):
        decode_frames(cut, [10], lambda k, image: None)


def test_an_error_of_the_sink_is_not_blamed_on_the_video(tmp_path: Path) -> None:
    video = write_avi(tmp_path / "clip.avi", 3)

    def full_disk(frame: int, image: Image.Image) -> None:
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        decode_frames(video, [2], full_disk)


def test_none_wanted_hands_on_every_frame_in_order(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    video = write_avi(tmp_path / "clip.avi", 6)
    count = decode_frames(video, None, lambda k, image: seen.append((k, frame_number(image))))
    assert count == 6 and seen == [(k, k) for k in range(1, 7)]
