"""Chosen frames of a video file, decoded with PyAV (FFmpeg), for the readers of DISFA and MMI.

DISFA and MMI are distributed as videos with per-frame labels. Their frames are numbered from 1
(the first frame of the video is frame 1, as OpenFace's ``frame`` column also counts), so this
module speaks the same numbering and no reader converts it.

The whole video is decoded in order, never seeked: AVI seeking lands on the nearest key frame and
would silently shift labels by a few frames. Decoding to the end also gives the real frame count
(a container's header count can be absent or wrong), which the readers compare with their labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import av
from PIL import Image

from eggan.errors import DataError

# Called once per wanted frame, in order: (frame number from 1, the frame as an RGB image).
FrameSink = Callable[[int, Image.Image], None]


def decode_frames(path: str | Path, wanted: Iterable[int] | None, sink: FrameSink) -> int:
    """Decode ``path`` to its end, hand each wanted frame (numbered from 1; None: every frame) to
    ``sink``, and return the number of frames the video has.

    An unreadable file, a file without a video stream, or a video that ends before the last wanted
    frame is a one-line ``DataError`` naming the file (nothing is handed on after the error)."""
    path = Path(path)
    todo = [] if wanted is None else sorted(set(wanted))
    if todo and todo[0] < 1:
        raise DataError(f"frame {todo[0]} asked for; frames are numbered from 1", path)
    remaining = set(todo)
    count = 0
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DataError(f"not a readable video ({' '.join(str(exc).split())})", path) from None
    with container:
        if not container.streams.video:
            raise DataError("has no video stream", path)
        frames = container.decode(container.streams.video[0])
        while True:
            try:  # only decoding is guarded: an error of ``sink`` (a full disk) keeps its own message
                frame = next(frames)
            except StopIteration:
                break
            except (av.FFmpegError, OSError, ValueError) as exc:
                raise DataError(f"frame {count + 1} is not readable ({' '.join(str(exc).split())})", path) from None
            count += 1
            if wanted is None or count in remaining:
                remaining.discard(count)
                sink(count, frame.to_image())
    if remaining:
        raise DataError(f"has {count} frames; frame {min(remaining)} was asked for (the video is shorter "
                        "than its labels)", path)
    return count
