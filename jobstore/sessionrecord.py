"""A strip session's record in the photo store: the grouping a ledger rebuild needs.

Why a file: sessions live in the ledger (jobstore/sessions.py), and a damaged ledger is rebuilt
from the photo store (jobstore/recovery.py), whose file names say whose job each picture is but
not which shots belong together. The broker cannot carry it either: a worker's status replaces
the kiosk's on the same retained topic, and the sheet is never published. So the kiosk writes,
beside the frames, `<session>-session.json` (jobstore/names.py) with the session's settings and
its frames, after each frame and when the shooting ends. It is an aid for a double fault,
written off the capture thread: a crash between a frame's row and the record costs that frame
only its place in the session after a rebuild (it comes back as a photo of its own), never the
photo. Deleting a session's sheet deletes its record (jobstore/retention.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth.fsutil import atomic_write
from jobstore.ledger import photo_dir
from jobstore.names import parse_session_record, session_record_name

log = logging.getLogger(__name__)

VERSION = 1
MAX_BYTES = 64 * 1024  # a record of 4 frames is about 400 bytes; anything far larger is not one


@dataclass(frozen=True)
class SessionInfo:
    """What a session is, as the ledger's `sessions` row (jobstore/sessions.py SessionRow) and
    its record both say it."""

    session_id: str
    booth_id: str
    style: str
    layout: str  # strip | grid (booth/sheet.py)
    shots: int  # planned
    portrait: bool
    created_at: float
    ended: str | None  # why the shooting ended: done, restart, camera, left


@dataclass(frozen=True)
class SessionRecord(SessionInfo):
    frames: tuple[tuple[int, str], ...]  # (frame, job id), in shot order

    def to_json(self) -> bytes:
        d: dict[str, Any] = {"v": VERSION, **self.__dict__}
        d["frames"] = [list(f) for f in self.frames]
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SessionRecord:
        """Raises ValueError for anything that is not a record this version can read."""
        try:
            d = json.loads(data)
            if not isinstance(d, dict) or d.get("v") != VERSION:
                raise ValueError("not a session record of version 1")
            frames = tuple((int(f), str(j)) for f, j in d["frames"])
            rec = cls(
                str(d["session_id"]),
                str(d["booth_id"]),
                str(d["style"]),
                str(d["layout"]),
                int(d["shots"]),
                bool(d["portrait"]),
                float(d["created_at"]),
                None if d["ended"] is None else str(d["ended"]),
                frames,
            )
        except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise ValueError(f"unreadable session record: {exc}") from None
        return rec


def write_record(data_dir: Path, rec: SessionRecord) -> Path:
    """Write (or replace) the record in the photo folder of the session's day; raises OSError."""
    path = photo_dir(data_dir, rec.created_at) / session_record_name(rec.session_id)
    return atomic_write(path, rec.to_json())


def read_records(data_dir: Path) -> list[SessionRecord]:
    """Every readable record in the photo store; one that cannot be read is logged and skipped
    (its frames come back as photos of their own)."""
    found: list[SessionRecord] = []
    for path in sorted((Path(data_dir) / "photos").glob("*/*-session.json")):
        sid = parse_session_record(path.name)
        if sid is None or not path.is_file():
            continue
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ValueError(f"{path.stat().st_size} bytes")
            rec = SessionRecord.from_json(path.read_bytes())
            if rec.session_id != sid:
                raise ValueError("its session id is not its file's")
        except (OSError, ValueError) as exc:
            log.warning("ledger rebuild: skipping the session record %s: %s", path.name, exc)
            continue
        found.append(rec)
    return found
