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
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from eggan.data.ingest import (
    DEFAULT_TEST_FRACTION,
    IngestReport,
    Record,
    SplitRule,
    copy_image,
    list_images,
    write_dataset,
)
from eggan.data.openface import AuReadout, best_face, read_openface_csv, read_openface_dir
from eggan.errors import DataError
from eggan.limits import MAX_BAD_IMAGE_FRACTION

SESSION_XML = "session.xml"


def session_subject(session: Path) -> str:
    """The subject id recorded in a session folder's ``session.xml``."""
    path = session / SESSION_XML
    if not path.is_file():
        raise DataError(f"no {SESSION_XML} to name the subject; use SRC/<subject>/<session>/ folders",
                        session)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DataError(f"not readable XML ({exc})", path) from None
    subject = next((e.get("id") for e in root.iter() if e.tag.lower() == "subject" and e.get("id")),
                   None) or root.get("subjectId") or root.get("subject")
    if not subject:
        raise DataError("no <subject id=...> element or subject attribute", path)
    return subject.strip()


def index_mmi(src: str | Path, every: int = 1) -> list[Record]:
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
            subject = session_subject(session)
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
) -> IngestReport:
    """Copy MMI frames with their OpenFace AUs into a dataset folder, split by subject."""
    src, au_csv_dir = Path(src), Path(au_csv_dir)
    records = index_mmi(src, every)
    per_frame = read_openface_dir(au_csv_dir, [r.name for r in records], min_confidence)
    if per_frame.missing:  # frames without their own CSV: try one CSV per session
        missing = set(per_frame.missing)
        per_session = read_session_csvs(au_csv_dir, src, [r for r in records if r.name in missing],
                                        min_confidence)
        per_frame.aus.update(per_session.aus)
        per_frame.missing = per_session.missing
        per_frame.no_face += per_session.no_face
        for reason, count in per_session.dropped.items():
            per_frame.dropped[reason] = per_frame.dropped.get(reason, 0) + count
    for record in records:
        record.aus = per_frame.aus.get(record.name)
        record.name = f"frames/{record.name}"
    return write_dataset(records, out, copy_image, SplitRule("identity", test_fraction, seed),
                         reader="mmi", source=src, extra={"every": every, "aus": per_frame.summary()},
                         force=force, max_failed=max_failed)
