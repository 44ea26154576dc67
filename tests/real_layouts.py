"""DISFA and MMI trees as their owners distribute them, made small in a test folder.

DISFA: ``ActionUnit_Labels/SN001/SN001_au<n>.txt`` (``frame,intensity`` lines, the 12 coded AUs),
``Videos_LeftCamera/LeftVideoSN001_comp.avi`` and ``Videos_RightCamera/RightVideoSN001_comp.avi``.
MMI: ``Sessions/<n>/<id>.avi``, ``<id>-oao_aucs.xml`` (``<ActionUnit Number>`` with ``<Marker
Frame>`` onset, apex, offset) and ``session.xml``, with OpenFace FeatureExtraction's ``<id>.csv``.
Every video frame says its own number (tests/video_files.py); left-camera frames are dark below,
right-camera frames light, so a test can tell which video and which frame an image came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from openface_files import au_row, openface_csv
from video_files import write_avi

DISFA_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
LEFT_MARK, RIGHT_MARK = 0, 200


def disfa_intensity(subject: int, au: int, frame: int) -> int:
    """The intensity written for (subject number, AU, frame): 0-5, different across all three."""
    return (subject + au + frame) % 6


def disfa_tree(root: Path, subjects: int = 3, frames: int = 12, right: bool = True,
               size: int | tuple[int, int] = 32) -> Path:
    """A DISFA root with ``subjects`` subjects (SN001 ...) of ``frames`` labelled frames each."""
    for s in range(1, subjects + 1):
        name = f"SN{s:03d}"
        labels = root / "ActionUnit_Labels" / name
        labels.mkdir(parents=True, exist_ok=True)
        for au in DISFA_AUS:
            lines = [f"{f},{disfa_intensity(s, au, f)}" for f in range(1, frames + 1)]
            (labels / f"{name}_au{au}.txt").write_text("\n".join(lines) + "\n")
        write_avi(root / "Videos_LeftCamera" / f"LeftVideo{name}_comp.avi", frames, size=size, mark=LEFT_MARK)
        if right:
            write_avi(root / "Videos_RightCamera" / f"RightVideo{name}_comp.avi", frames, size=size, mark=RIGHT_MARK)
    return root


def au_xml(events: Sequence[tuple[int, int, int, int]], typed: bool = False) -> str:
    """An oao_aucs.xml: per AU its (onset, apex, offset) markers; ``typed`` adds Type=onset/apex/offset."""
    units: dict[int, list[str]] = {}
    for au, *phases in events:
        for phase, frame in zip(("onset", "apex", "offset"), phases, strict=True):
            kind = f' Type="{phase}"' if typed else ""
            units.setdefault(au, []).append(f'    <Marker Frame="{frame}"{kind}/>')
    body = "".join(f'  <ActionUnit Number="{au}">\n' + "\n".join(markers) + "\n  </ActionUnit>\n"
                   for au, markers in units.items())
    return f'<?xml version="1.0" encoding="utf-8"?>\n<ActionUnits>\n{body}</ActionUnits>\n'


def mmi_csv_row(session: int, frame: int) -> dict[str, object]:
    """The OpenFace row written for (session number, frame): the AUs a test expects back."""
    return au_row(1000 * session + frame, frame=frame)


def mmi_session(sessions: Path, csv_dir: Path, number: int, subject: str | None,
                events: Sequence[tuple[int, int, int, int]], frames: int = 16, typed: bool = False,
                size: int = 32) -> str:
    """Sessions/<number>/ with its video, AU XML and session.xml (no subject when ``subject`` is
    None), and FeatureExtraction's CSV of the video in ``csv_dir``; returns the video's id."""
    video_id = f"S{number:03d}-{number:03d}"
    folder = sessions / str(number)
    write_avi(folder / f"{video_id}.avi", frames, size=size, fps=24)
    (folder / f"{video_id}-oao_aucs.xml").write_text(au_xml(events, typed))
    owner = "" if subject is None else f'<subject id="{subject}"/>'
    (folder / "session.xml").write_text(
        f'<?xml version="1.0"?>\n<session sessionId="{number}">{owner}<track filename="{video_id}.avi"/>'
        f'<annotation filename="{video_id}-oao_aucs.xml"/></session>\n')
    csv_dir.mkdir(parents=True, exist_ok=True)
    rows = [mmi_csv_row(number, f) for f in range(1, frames + 1)]
    (csv_dir / f"{video_id}.csv").write_bytes(openface_csv(rows, layout="2.0"))
    return video_id
