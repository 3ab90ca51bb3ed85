"""Strip sessions: several shots taken one after another and composed into one sheet.

Why this grouping lives in the ledger and not on the wire: the job contract stays one job per
shot (a worker never needs to know about sessions), and what belongs together is the kiosk's
knowledge, which must survive a restart. A session is a row of `sessions`; each frame a row of
`session_frames` (session, frame number, job id), written *before* the frame's job row, so a
crash between the two cannot lose a frame from its session (a frame whose job row never came is
forgotten on the next start). The composed sheet is a row of `jobs` whose job_id is the
session's id: it gets a token, a short code and a file like any photo, so its link, the share
page, printing, cloud uploads, retention and the operator's delete work on it as on a photo.

A session moves forward only:

    shooting → closed → composed          (a closed session without a frame is dropped)

`closed` means no more shots will come: the last one was taken (`ended` = done), the camera
failed (`camera`), or the kiosk restarted mid-session (`restart`: the next start closes it with
the frames already taken). A closed session is composed once every frame is finished, however
long that takes and however many restarts it sees.

Who writes: the kiosk process only (kiosk/jobs/sessions.py). The share process reads (the
session's page, the dashboard, the zip, the clip maker); its deletes (retention, the operator)
go through `Ledger.delete`, which drops the session rows of the jobs it deletes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields

from booth.protocol import JobStatus, new_job_id
from jobstore.connection import Connection
from jobstore.ledger import NOT_A_FRAME, NOT_A_SHEET, JobRow
from jobstore.links import new_code
from jobstore.sessionrecord import SessionInfo, SessionRecord

SHOOTING, CLOSED, COMPOSED = "shooting", "closed", "composed"
OPEN = (SHOOTING, CLOSED)
DONE, RESTART, CAMERA = "done", "restart", "camera"  # why the shooting ended
CODE_TRIES = 8

_BEGIN = (
    "INSERT OR IGNORE INTO sessions (session_id, booth_id, style, layout, shots, portrait,"
    " created_at, state) VALUES (?,?,?,?,?,?,?,?)"
)
_ADD_FRAME = "INSERT OR IGNORE INTO session_frames (job_id, session_id, frame) VALUES (?,?,?)"
_CLOSE = (
    "UPDATE sessions SET state = ?, ended = ?, closed_at = ? WHERE session_id = ? AND state = ?"
)


@dataclass(frozen=True)
class SessionRow(SessionInfo):
    state: str  # shooting, closed, composed
    closed_at: float | None
    composed_at: float | None
    error: str | None  # the last compose failure

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> SessionRow:
        d = dict(row)
        d["portrait"] = bool(d["portrait"])
        return cls(**d)


@dataclass(frozen=True)
class Sheet:
    """A composed sheet as stored: the picture, the shots composed the same way (its "before",
    for the reveal and the strip clip), and the session's first frame (its time and boot)."""

    result_path: str  # relative to the data dir
    shots_path: str
    token: str
    first: JobRow


@dataclass(frozen=True)
class Entry:
    """One line of the operator's list: a photo of its own, or a session with its frames."""

    kind: str  # "job" | "session"
    id: str
    created_at: float


class Sessions(Connection):
    """The session tables on their own connection (WAL: as the uploads and clips tables)."""

    # ------------------------------------------------------------------ the kiosk: writes
    def begin(
        self,
        session_id: str,
        booth_id: str,
        style: str,
        layout: str,
        shots: int,
        portrait: bool,
        created_at: float,
    ) -> None:
        with self._lock:
            self._db.execute(
                _BEGIN,
                (session_id, booth_id, style, layout, shots, int(portrait), created_at, SHOOTING),
            )

    def add_frame(self, session_id: str, frame: int, job_id: str) -> None:
        """Frame `frame` of the session is job `job_id` (before the job's own row exists)."""
        with self._lock:
            self._db.execute(_ADD_FRAME, (job_id, session_id, frame))

    def close_session(self, session_id: str, ended: str, at: float) -> bool:
        """No more shots will come; False when it was closed already."""
        with self._lock:
            cur = self._db.execute(_CLOSE, (CLOSED, ended, at, session_id, SHOOTING))
            return cur.rowcount == 1

    def register_frame(
        self, info: SessionInfo, frame: int, job_id: str, closed_at: float | None
    ) -> None:
        """`begin` (the first frame's), `add_frame` and, for the last frame (`closed_at`),
        `close_session` as one write: the capture thread waits for one commit, not three."""
        with self._transaction() as db:
            db.execute(
                _BEGIN,
                (
                    info.session_id,
                    info.booth_id,
                    info.style,
                    info.layout,
                    info.shots,
                    int(info.portrait),
                    info.created_at,
                    SHOOTING,
                ),
            )
            db.execute(_ADD_FRAME, (job_id, info.session_id, frame))
            if closed_at is not None:
                db.execute(_CLOSE, (CLOSED, DONE, closed_at, info.session_id, SHOOTING))

    def close_interrupted(self, at: float) -> list[str]:
        """On start: sessions a previous process left shooting are closed (`restart`) with the
        frames they have; frames whose job row never came are forgotten. Their ids."""
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT session_id FROM sessions WHERE state = ?", (SHOOTING,)
                ).fetchall()
            ]
            self._db.executemany(
                "UPDATE sessions SET state = ?, ended = ?, closed_at = ? WHERE session_id = ?",
                [(CLOSED, RESTART, at, sid) for sid in ids],
            )
            self._db.execute(
                "DELETE FROM session_frames WHERE job_id NOT IN (SELECT job_id FROM jobs)"
            )
        return ids

    def drop_empty(self, session_id: str) -> None:
        """A closed session without a single stored frame (the camera failed at the first
        shot): nothing to compose or show, so its row goes."""
        with self._lock:
            self._db.execute(
                "DELETE FROM sessions WHERE session_id = ? AND state = ?"
                " AND NOT EXISTS (SELECT 1 FROM session_frames WHERE session_id = ?)",
                (session_id, CLOSED, session_id),
            )

    def forget_frame(self, job_id: str) -> None:
        """A frame whose shot was never stored (its job row never came)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM session_frames WHERE job_id = ?"
                " AND job_id NOT IN (SELECT job_id FROM jobs)",
                (job_id,),
            )

    def note_error(self, session_id: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE sessions SET error = ? WHERE session_id = ?", (error[:300], session_id)
            )

    def store_sheet(self, session: SessionRow, sheet: Sheet, at: float) -> str | None:
        """The composed sheet as the session's own row of `jobs` (completed, with its token and
        a short code), and the session `composed`, in one transaction. Returns the token, or
        None when the session was composed already (the first sheet wins)."""
        with self._transaction():
            return self._insert_sheet(session, sheet, at)

    def _insert_sheet(self, session: SessionRow, sheet: Sheet, at: float) -> str | None:
        first = sheet.first
        db = self._db
        state = db.execute(
            "SELECT state FROM sessions WHERE session_id = ?", (session.session_id,)
        ).fetchone()
        if state is None or state[0] != CLOSED:
            return None
        for attempt in range(CODE_TRIES):
            try:
                db.execute(
                    "INSERT INTO jobs (job_id, booth_id, style, created_at, created_iso, status,"
                    " attempt, updated_at, original_path, ai_path, result_path, token, code,"
                    " sent_at, dispatches, finished_at, boot_id, created_boot, clock_ok)"
                    " VALUES (?,?,?,?,?,?,1,?,?,?,?,?,?,?,0,?,?,?,?)",
                    (
                        session.session_id,
                        session.booth_id,
                        session.style,
                        first.created_at,
                        first.created_iso,
                        JobStatus.COMPLETED.value,
                        at,
                        sheet.shots_path,
                        sheet.shots_path,
                        sheet.result_path,
                        sheet.token,
                        new_code(),
                        at,  # never published: nothing to send
                        at,
                        first.boot_id,
                        first.created_boot,
                        int(first.clock_ok),
                    ),
                )
                break
            except sqlite3.IntegrityError:
                if db.execute(
                    "SELECT 1 FROM jobs WHERE job_id = ?", (session.session_id,)
                ).fetchone():
                    return None  # stored before (a crash after the row, before the state)
                if attempt == CODE_TRIES - 1:
                    raise
        db.execute(
            "UPDATE sessions SET state = ?, composed_at = ?, error = NULL WHERE session_id = ?",
            (COMPOSED, at, session.session_id),
        )
        return sheet.token

    def restore(self, rec: SessionRecord, stored: set[str], at: float) -> int:
        """A ledger rebuild (jobstore/recovery.py): the session of a record, with the frames
        whose jobs came back (`stored`: the rebuilt rows' ids), `composed` when its sheet came
        back too, else closed (the kiosk composes it once its frames are finished). Returns the
        frames restored; 0, and nothing written, when none of its frames came back."""
        frames = [(f, j) for f, j in rec.frames if j in stored]
        if not frames:
            return 0
        composed = rec.session_id in stored
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO sessions (session_id, booth_id, style, layout, shots,"
                " portrait, created_at, state, ended, closed_at, composed_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec.session_id,
                    rec.booth_id,
                    rec.style,
                    rec.layout,
                    rec.shots,
                    int(rec.portrait),
                    rec.created_at,
                    COMPOSED if composed else CLOSED,
                    rec.ended or RESTART,
                    at,
                    at if composed else None,
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO session_frames (job_id, session_id, frame) VALUES (?,?,?)",
                [(j, rec.session_id, f) for f, j in frames],
            )
        return len(frames)

    # ------------------------------------------------------------------ reads
    def record(self, session_id: str) -> SessionRecord | None:
        """The session as its record in the photo store says it (jobstore/sessionrecord.py)."""
        row = self.get(session_id)
        if row is None:
            return None
        info = {f.name: getattr(row, f.name) for f in fields(SessionInfo)}
        return SessionRecord(**info, frames=tuple(self.frame_ids(session_id)))

    def get(self, session_id: str) -> SessionRow | None:
        rows = self._fetch("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        return SessionRow.from_sql(rows[0]) if rows else None

    def open_sessions(self) -> list[SessionRow]:
        rows = self._fetch("SELECT * FROM sessions WHERE state IN (?, ?) ORDER BY created_at", OPEN)
        return [SessionRow.from_sql(r) for r in rows]

    def since(self, start: float) -> list[SessionRow]:
        """The sessions begun at or after `start` (less a minute: a session's first frame is
        shot a countdown after it begins), oldest first."""
        rows = self._fetch(
            "SELECT * FROM sessions WHERE created_at >= ? ORDER BY created_at", (start - 60,)
        )
        return [SessionRow.from_sql(r) for r in rows]

    def recent(self, limit: int) -> list[SessionRow]:
        rows = self._fetch("SELECT * FROM sessions ORDER BY created_at DESC LIMIT ?", (limit,))
        return [SessionRow.from_sql(r) for r in rows]

    def frame_ids(self, session_id: str) -> list[tuple[int, str]]:
        """(frame, job id) of every frame registered, in shot order (a job row may be missing
        while its shot is being stored)."""
        rows = self._fetch(
            "SELECT frame, job_id FROM session_frames WHERE session_id = ? ORDER BY frame",
            (session_id,),
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def frames(self, session_id: str) -> list[JobRow]:
        """The frames' job rows, in shot order (frames without a row yet are left out)."""
        rows = self._fetch(
            "SELECT j.* FROM session_frames f JOIN jobs j ON j.job_id = f.job_id"
            " WHERE f.session_id = ? ORDER BY f.frame",
            (session_id,),
        )
        return [JobRow.from_sql(r) for r in rows]

    def of_job(self, job_id: str) -> tuple[str, int] | None:
        """(session id, frame) of a frame's job; None for a photo of its own."""
        sql = "SELECT session_id, frame FROM session_frames WHERE job_id = ?"
        rows = self._fetch(sql, (job_id,))
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    # ------------------------------------------------------------------ the operator's view
    def entries_since(self, start: float, offset: int, limit: int) -> list[Entry]:
        """The event's lines, newest first: photos of their own and sessions (a session's
        frames and sheet are one line)."""
        rows = self._fetch(
            "SELECT 'job', job_id, created_at FROM jobs WHERE created_at >= ?"
            f" AND {NOT_A_FRAME} AND {NOT_A_SHEET}"
            " UNION ALL SELECT 'session', session_id, created_at FROM sessions"
            " WHERE created_at >= ? ORDER BY 3 DESC, 2 DESC LIMIT ? OFFSET ?",
            (start, start, limit, offset),
        )
        return [Entry(str(r[0]), str(r[1]), float(r[2])) for r in rows]

    def count_entries_since(self, start: float) -> int:
        rows = self._fetch(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE created_at >= ?"
            f" AND {NOT_A_FRAME} AND {NOT_A_SHEET})"
            " + (SELECT COUNT(*) FROM sessions WHERE created_at >= ?)",
            (start, start),
        )
        return int(rows[0][0])


def new_session_id() -> str:
    """A session id has the shape of a job id: its sheet's row in `jobs` uses it as one."""
    return new_job_id()
