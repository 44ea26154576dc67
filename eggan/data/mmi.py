"""MMI Facial Expression Database frames as a suite dataset (AUs from OpenFace).

MMI is distributed as sessions (one person, one recording each). The reader takes frames that
were extracted to image files, in either of two layouts:

* ``SRC/<subject>/<session>/*.jpg`` (the CK+-style tree many MMI copies are rearranged into):
  the subject is the first folder name;
* ``SRC/<session>/*.jpg`` with MMI's ``session.xml`` in each session folder: the subject is the
  ``id`` attribute of its ``<subject>`` element (or a ``subject``/``subjectId`` attribute of the
  root). A session folder without it is an error: guessing identities would leak people
  across the split.

AUs come from OpenFace: one CSV per frame (``<stem>.csv``, flat or mirroring the tree) or, since a
session is one person, one ``FeatureExtraction`` CSV per session (``<session>.csv`` or
``<subject>/<session>.csv``, or named after the session's video as FeatureExtraction names it:
``<id>.csv`` for ``<id>.avi`` in the session folder) whose ``frame`` k is the k-th frame in sorted file-name order (the
order OpenFace reads an image folder in). MMI has no per-frame expression label: ``expression``
is empty. ``every`` keeps every k-th frame of a session. Split: seeded, by subject.

MMI as distributed (``Sessions/<n>/`` with ``<id>.avi``, ``<id>-oao_aucs.xml`` and ``session.xml``)
is read too: a session folder that holds a video and no extracted frames is a *video session*, and
its frames are extracted here (``eggan.data.video``). The AU XML codes which AUs are present and
when (onset, apex, offset markers), not how strongly, so it cannot be the 0-5 labels the suite
trains and scores on: those still come from OpenFace, run on the video (FeatureExtraction names its
CSV ``<id>.csv``; its ``frame`` f is the video's frame f, both counted from 1). The XML decides
which frames are taken: with ``frames="apex"`` (the default) the apex frame of every coded AU event,
where each coded AU shows most clearly, and with ``frames="all"`` every ``every``-th frame. The AUs
the XML codes as active at each taken frame are kept in ``dataset.json`` (``xml_aus``).

Assumptions beyond the published facts (none of them has a public example to check against):
``Marker Frame`` numbers count from 1 like OpenFace's rows (at apex, one frame of 24 fps either
way); a marker's phase is its ``Type`` when that reads onset/apex/offset, otherwise the markers of
one AU, in frame order, are taken as onset, apex, offset, onset, ... (so the 2nd, 5th, ... are
apexes, and an AU is active from its onset up to its offset, or to the end when the last offset is
missing). A subject comes from ``subjects`` (a ``session,subject`` CSV the user writes) or else
from ``session.xml``; a session named by neither is refused.
"""

from __future__ import annotations

import csv
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from eggan.data.ingest import (
    DEFAULT_TEST_FRACTION,
    IMAGE_SUFFIXES,
    IngestReport,
    Record,
    SplitRule,
    assign_splits,
    copy_image,
    list_images,
    move_image,
    save_png,
    write_dataset,
)
from eggan.data.openface import AuReadout, best_face, read_openface_csv, read_openface_dir
from eggan.data.staging import check_replaceable
from eggan.data.video import decode_frames
from eggan.errors import ConfigError, DataError
from eggan.io import make_dirs
from eggan.limits import MAX_BAD_IMAGE_FRACTION

SESSION_XML = "session.xml"
AU_XML_SUFFIX = "-oao_aucs.xml"
FRAME_CHOICES = ("apex", "all")
PHASES = ("onset", "apex", "offset")


def read_subject_map(path: str | Path) -> dict[str, str]:
    """session -> subject from the user's CSV (header ``session,subject``): MMI's ``session.xml``
    has no public example, so the user may say who is in each session."""
    path = Path(path)
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines(), skipinitialspace=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the subject map ({exc})", path) from None
    mapping: dict[str, str] = {}
    for number, row in enumerate(rows, start=2):
        session, subject = (str(row.get(k) or "").strip() for k in ("session", "subject"))
        if not session or not subject:
            raise DataError(f"line {number} needs a session and a subject (header: session,subject)", path)
        if mapping.setdefault(session, subject) != subject:
            raise DataError(f"session {session!r} is given two subjects ({mapping[session]}, {subject})", path)
    if not mapping:
        raise DataError("the subject map is empty (header: session,subject)", path)
    return mapping


def subject_of(session: Path, subjects: Mapping[str, str] | None) -> str:
    """The subject of a session folder: the user's map first, then ``session.xml``."""
    if subjects is not None and session.name in subjects:
        return subjects[session.name]
    return session_subject(session)


def session_subject(session: Path) -> str:
    """The subject id recorded in a session folder's ``session.xml``."""
    path = session / SESSION_XML
    if not path.is_file():
        raise DataError(f"no {SESSION_XML} to name the subject; list the session in --subjects (session,subject) "
                        "or use SRC/<subject>/<session>/ folders", session)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DataError(f"not readable XML ({exc})", path) from None
    subject = next((e.get("id") for e in root.iter() if e.tag.lower() == "subject" and e.get("id")),
                   None) or root.get("subjectId") or root.get("subject")
    if not subject:
        raise DataError("no <subject id=...> element or subject attribute; list the session in --subjects "
                        "(session,subject)", path)
    return subject.strip()


def index_mmi(src: str | Path, every: int = 1, subjects: Mapping[str, str] | None = None) -> list[Record]:
    """Records for every frame (every ``every``-th per session) under ``src``."""
    src = Path(src)
    if every < 1:
        raise DataError(f"every must be at least 1, not {every}")
    sessions: dict[Path, list[Path]] = {}
    for frame in list_images(src):
        sessions.setdefault(frame.parent, []).append(frame)
    records = []
    for session, frames in sorted(sessions.items()):
        depth = len(session.relative_to(src).parts)
        if depth == 2:
            subject = session.parent.name
        elif depth == 1:
            subject = subject_of(session, subjects)
        else:
            raise DataError("frames must be in SRC/<subject>/<session>/ or SRC/<session>/", frames[0])
        records += [Record(source=f, name=f.relative_to(src).as_posix(), identity=subject)
                    for f in sorted(frames)[::every]]
    return records


def read_session_csvs(csv_dir: Path, src: Path, records: list[Record], min_confidence: float) -> AuReadout:
    """AUs from one OpenFace CSV per session, frame k = k-th sorted frame of that session."""
    readout = AuReadout()
    by_session: dict[Path, list[Record]] = {}
    for record in records:
        by_session.setdefault(record.source.parent, []).append(record)
    session_names = [s.name for s in by_session]
    for session, members in by_session.items():
        rel = session.relative_to(src)
        # <session>.csv flat only when no other subject has a session of that name
        flat = [csv_dir / f"{session.name}.csv"] if session_names.count(session.name) == 1 else []
        # FeatureExtraction names its CSV after the video (<id>.avi -> <id>.csv), not the folder
        videos = [csv_dir / rel.parent / f"{v.stem}.csv" for v in sorted(session.glob("*.avi"))]
        csv = next((p for p in (csv_dir / f"{rel}.csv", *flat, *videos) if p.is_file()), None)
        if csv is None:
            readout.missing += [r.name for r in members]
            continue
        table = read_openface_csv(csv, min_confidence)
        if "frame" not in table:
            raise DataError("a per-session AU CSV needs a 'frame' column", csv)
        readout.add_dropped(table)
        order = {f.name: k for k, f in enumerate(sorted(list_images(session, recursive=False)), 1)}
        for record in members:
            vector = best_face(table[table["frame"] == order[record.source.name]].reset_index(drop=True))
            if vector is None:
                readout.no_face.append(record.name)
            else:
                readout.aus[record.name] = vector
    return readout


def attribute(element: ET.Element, name: str) -> str | None:
    """An XML attribute by name, ignoring case (``Number``/``number``: no public file fixes it)."""
    return next((v for k, v in element.attrib.items() if k.lower() == name), None)


@dataclass
class AuEvent:
    """One coded occurrence of an AU in a session: its phase markers (None where the XML has none)."""

    au: int
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None

    def active(self, frame: int) -> bool:
        """Coded as present at ``frame``: from its onset (or apex) up to, not including, its offset."""
        start = self.onset if self.onset is not None else self.apex
        return start is not None and start <= frame and (self.offset is None or frame < self.offset)


def read_au_xml(path: Path) -> list[AuEvent]:
    """The AU events of an ``<id>-oao_aucs.xml`` (phases as the module docstring says)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DataError(f"not readable XML ({exc})", path) from None
    units = [e for e in root.iter() if e.tag.lower() == "actionunit"]
    if not units:
        raise DataError("no <ActionUnit Number=...> element", path)
    events: list[AuEvent] = []
    for unit in units:
        text = attribute(unit, "number")
        if text is None or not text.strip().isdigit():
            raise DataError(f"<ActionUnit Number={text!r}> is not an AU number", path)
        au = int(text)
        markers = []
        for marker in (e for e in unit.iter() if e.tag.lower() == "marker"):
            frame = attribute(marker, "frame")
            if frame is None or not frame.strip().isdigit() or int(frame) < 1:
                raise DataError(f"AU {au}: <Marker Frame={frame!r}> is not a frame number from 1", path)
            markers.append((int(frame), (attribute(marker, "type") or "").strip().lower()))
        markers.sort()
        if markers and all(phase in PHASES for _, phase in markers):
            groups: list[dict[str, int]] = []
            for frame, phase in markers:  # a new event at each onset, or when a phase repeats
                if not groups or phase in groups[-1] or phase == "onset":
                    groups.append({})
                groups[-1][phase] = frame
        else:
            groups = [dict(zip(PHASES, (f for f, _ in markers[i : i + 3]), strict=False))
                      for i in range(0, len(markers), 3)]
        events += [AuEvent(au, g.get("onset"), g.get("apex"), g.get("offset")) for g in groups]
    return events


def video_sessions(src: Path) -> list[Path]:
    """Session folders directly in ``src`` that hold a video and no extracted frames."""
    return sorted(d for d in src.iterdir() if d.is_dir()
                  and any(p.suffix.lower() == ".avi" for p in d.iterdir())
                  and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in d.rglob("*")))


def session_video(session: Path) -> Path:
    videos = sorted(p for p in session.iterdir() if p.suffix.lower() == ".avi")
    if len(videos) != 1:
        raise DataError(f"holds {len(videos)} videos ({', '.join(v.name for v in videos)}); expected one "
                        "<id>.avi per session", session)
    return videos[0]


def session_csv(csv_dir: Path, session: Path, video: Path) -> Path | None:
    """FeatureExtraction's CSV of the session's video: ``<id>.csv`` (flat or in a folder named after
    the session), or ``<session>.csv``."""
    candidates = (csv_dir / f"{video.stem}.csv", csv_dir / session.name / f"{video.stem}.csv",
                  csv_dir / f"{session.name}.csv")
    return next((p for p in candidates if p.is_file()), None)


def read_video_session(
    session: Path, subject: str, csv_dir: Path, scratch: Path, frames: str, every: int, min_confidence: float,
) -> tuple[list[Record], AuReadout, dict[str, list[int]]]:
    """Extract a video session's frames into ``scratch``: its records (AUs from OpenFace's CSV of the
    video), the readout, and the AUs the XML codes as active at each taken frame."""
    video = session_video(session)
    xml = session / f"{video.stem}{AU_XML_SUFFIX}"
    events = read_au_xml(xml) if xml.is_file() else None
    if events is None and frames == "apex":
        raise DataError(f"no {xml.name} (MMI's AU coding) to find apex frames in; --frames all takes every "
                        "--every-th frame without it", session)
    wanted = sorted({e.apex for e in events or [] if e.apex is not None}) if frames == "apex" else None
    if wanted == []:
        raise DataError("codes no apex marker: no frame to take (--frames all takes every --every-th frame)", xml)
    readout = AuReadout()
    csv = session_csv(csv_dir, session, video)
    table = None if csv is None else read_openface_csv(csv, min_confidence)
    if table is not None and "frame" not in table:
        raise DataError("a per-session AU CSV needs a 'frame' column", csv)
    taken: list[int] = []

    def keep(frame: int, image: Image.Image) -> None:
        if wanted is not None or (frame - 1) % every == 0:
            save_png(image, scratch / session.name / f"{frame:05d}.png")
            taken.append(frame)

    count = decode_frames(video, wanted, keep)
    records = [Record(source=scratch / session.name / f"{f:05d}.png", name=f"frames/{session.name}/{f:05d}.png",
                      identity=subject) for f in taken]
    if table is None:
        readout.missing += [r.name for r in records]
    else:
        rows = len(table) + sum(table.attrs.get("dropped", {}).values())
        if rows != count:
            raise DataError(f"has {rows} frame rows, {video.name} {count} frames: frame counts disagree (a CSV of "
                            "another video?)", csv)
        readout.add_dropped(table)
        for frame, record in zip(taken, records, strict=True):
            record.aus = best_face(table[table["frame"] == frame].reset_index(drop=True))
            if record.aus is None:
                readout.no_face.append(record.name)
            else:
                readout.aus[record.name] = record.aus
    coded = {} if events is None else {r.name: sorted({e.au for e in events if e.active(f)})
                                        for f, r in zip(taken, records, strict=True)}
    return records, readout, coded


def merge_readout(into: AuReadout, other: AuReadout) -> None:
    into.aus.update(other.aus)
    into.missing += other.missing
    into.no_face += other.no_face
    for reason, count in other.dropped.items():
        into.dropped[reason] = into.dropped.get(reason, 0) + count


def frame_aus(records: list[Record], src: Path, au_csv_dir: Path, min_confidence: float) -> AuReadout:
    """AUs of extracted frames: their own CSVs, else one CSV per session."""
    readout = read_openface_dir(au_csv_dir, [r.name for r in records], min_confidence)
    if readout.missing:  # frames without their own CSV: try one CSV per session
        missing = set(readout.missing)
        readout.missing = []
        merge_readout(readout, read_session_csvs(au_csv_dir, src, [r for r in records if r.name in missing],
                                                 min_confidence))
    return readout


def ingest_mmi(
    src: str | Path,
    au_csv_dir: str | Path,
    out: str | Path,
    every: int = 1,
    seed: int = 0,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    min_confidence: float = 0.0,
    force: bool = False,
    max_failed: float = MAX_BAD_IMAGE_FRACTION,
    frames: str = "apex",
    subjects: str | Path | None = None,
) -> IngestReport:
    """Copy MMI frames (extracted ones, and those of video sessions) with their OpenFace AUs into a
    dataset folder, split by subject. ``frames`` and ``subjects``: see the module docstring."""
    src, au_csv_dir, out = Path(src), Path(au_csv_dir), Path(out)
    if every < 1:
        raise DataError(f"every must be at least 1, not {every}")
    if frames not in FRAME_CHOICES:
        raise ConfigError(f"--frames {frames!r}: expected one of {', '.join(FRAME_CHOICES)}")
    mapping = None if subjects is None else read_subject_map(subjects)
    if not src.is_dir():
        raise DataError("no such image folder", src)
    if not au_csv_dir.is_dir():
        raise DataError("AU CSV folder does not exist", au_csv_dir)
    videos = video_sessions(src)
    if videos and frames == "apex" and every != 1:
        raise ConfigError("--every applies to --frames all; --frames apex takes each coded AU event's apex frame")
    has_frames = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in src.rglob("*"))
    records = index_mmi(src, every, mapping) if has_frames or not videos else []
    readout = frame_aus(records, src, au_csv_dir, min_confidence) if records else AuReadout()
    for record in records:
        record.aus = readout.aus.get(record.name)
        record.name = f"frames/{record.name}"
    subject_by_session = {v: subject_of(v, mapping) for v in videos}  # every subject before any decoding
    rule = SplitRule("identity", test_fraction, seed)
    people = {*subject_by_session.values(), *(r.identity for r in records)}
    if videos:  # a split that cannot be drawn is refused before the videos are decoded
        assign_splits([Record(source=src, name=p, identity=p) for p in people], rule, src)
    extra: dict[str, object] = {"every": every}
    with ExitStack() as stack:
        if videos:
            check_replaceable(out, force, src)  # before decoding, not after
            make_dirs(out.parent)
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f".{out.name}.frames.",
                                                                          dir=out.parent)))
            xml_aus: dict[str, list[int]] = {}
            for session in videos:
                found, session_readout, coded = read_video_session(
                    session, subject_by_session[session], au_csv_dir, scratch, frames, every, min_confidence)
                records += found
                merge_readout(readout, session_readout)
                xml_aus.update(coded)
            extra.update({"video_sessions": len(videos), "frames": frames, "xml_aus": xml_aus,
                          "frame_numbering": "XML Marker Frame f = OpenFace frame f = the f-th decoded frame (from 1)"})

        def write(source: Path, target: Path) -> None:
            (move_image if videos and source.is_relative_to(scratch) else copy_image)(source, target)

        extra["aus"] = readout.summary()
        return write_dataset(records, out, write, rule, reader="mmi",
                             source=src, extra=extra, force=force, max_failed=max_failed)
