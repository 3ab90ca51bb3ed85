"""The reveal clips: which results have one, which are being made, which could not be.

Why a table of its own: the clip is made by the share process after the result is stored (the
kiosk never waits for it), so it cannot be a column the kiosk writes. A row is written `making`
before the child process starts; `made` with the clip's figures once its file is in place, or
`failed` with the reason. A row left `making` by a crash is tried again, at most MAX_ATTEMPTS
times, so a picture that kills the encoder cannot keep the share process busy forever. A try cut
short by the disk (the clip or its row could not be written) is not the picture's fault: it is
handed back (`postpone`) and does not count.

Who writes: the share process's clip maker only (`share/clipmaker.py`). The share server's pages
and the cloud uploader read `made` rows. A row whose job is gone (retention deleted it, and the
clip file with the photo: jobstore/retention.py) is forgotten by the clip maker.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from jobstore.connection import Connection

MAKING, MADE, FAILED = "making", "made", "failed"
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Clip:
    job_id: str
    state: str
    clip_path: str | None
    width: int | None
    height: int | None
    frames: int | None
    fps: int | None
    bytes: int | None
    attempts: int
    started_at: float
    done_at: float | None
    took_s: float | None
    error: str | None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> Clip:
        return cls(**{k: row[k] for k in row.keys()})

    @property
    def ready(self) -> bool:
        return self.state == MADE and self.clip_path is not None


@dataclass(frozen=True)
class Wanted:
    """A stored result that needs a clip: where its two pictures are."""

    job_id: str
    ai_path: str  # the guest's shot as the model got it (same framing as the result)
    result_path: str
    attempts: int


class Clips(Connection):
    """The clips table on its own connection (WAL: the kiosk's writes never wait for it)."""

    def _rows(self, sql: str, args: Iterable[object] = ()) -> list[Clip]:
        return [Clip.from_sql(r) for r in self._fetch(sql, args)]

    # ------------------------------------------------------------------ the clip maker: writes
    def wanted(self, since: float, limit: int) -> list[Wanted]:
        """Stored results shot after `since` with no clip yet (or one a crash interrupted),
        newest first: the guest at the booth first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT j.job_id, j.ai_path, j.result_path, COALESCE(c.attempts, 0)"
                " FROM jobs j LEFT JOIN clips c ON c.job_id = j.job_id"
                " WHERE j.result_path IS NOT NULL AND j.token IS NOT NULL AND j.created_at >= ?"
                " AND (c.job_id IS NULL OR (c.state = ? AND c.attempts < ?))"
                # a strip session's frames get none: its sheet's clip reveals them one by one
                " AND j.job_id NOT IN (SELECT job_id FROM session_frames)"
                " ORDER BY j.created_at DESC LIMIT ?",
                (since, MAKING, MAX_ATTEMPTS, limit),
            ).fetchall()
        return [Wanted(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    def give_up_interrupted(self, at: float) -> int:
        """Rows left `making` MAX_ATTEMPTS times (each try was cut short) become `failed`."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE clips SET state = ?, done_at = ?, error = 'interrupted every time'"
                " WHERE state = ? AND attempts >= ?",
                (FAILED, at, MAKING, MAX_ATTEMPTS),
            )
            return cur.rowcount

    def start(self, job_id: str, at: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO clips (job_id, state, attempts, started_at) VALUES (?, ?, 1, ?)"
                " ON CONFLICT(job_id) DO UPDATE SET state = excluded.state,"
                " attempts = clips.attempts + 1, started_at = excluded.started_at",
                (job_id, MAKING, at),
            )

    def made(
        self,
        job_id: str,
        clip_path: str,
        size: tuple[int, int],
        frames: int,
        fps: int,
        nbytes: int,
        took_s: float,
        at: float,
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE clips SET state = ?, clip_path = ?, width = ?, height = ?, frames = ?,"
                " fps = ?, bytes = ?, took_s = ?, done_at = ?, error = NULL WHERE job_id = ?",
                (MADE, clip_path, size[0], size[1], frames, fps, nbytes, took_s, at, job_id),
            )

    def postpone(self, job_id: str) -> None:
        """Hand back a try the disk cut short (a full disk, not the picture): it stays
        `making` and wanted, and the try does not count towards MAX_ATTEMPTS."""
        with self._lock:
            self._db.execute(
                "UPDATE clips SET attempts = MAX(attempts - 1, 0) WHERE job_id = ? AND state = ?",
                (job_id, MAKING),
            )

    def failed(self, job_id: str, error: str, took_s: float, at: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE clips SET state = ?, error = ?, took_s = ?, done_at = ? WHERE job_id = ?",
                (FAILED, error[:500], took_s, at, job_id),
            )

    def forget_orphans(self) -> int:
        """Rows whose job is gone (retention deleted it, with the clip file)."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM clips WHERE job_id NOT IN (SELECT job_id FROM jobs)"
            )
            return cur.rowcount

    # ------------------------------------------------------------------ pages, uploader: reads
    def get(self, job_id: str) -> Clip | None:
        rows = self._rows("SELECT * FROM clips WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    def ready(self, job_id: str) -> Clip | None:
        """The job's clip when it is made, else None."""
        clip = self.get(job_id)
        return clip if clip is not None and clip.ready else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM clips GROUP BY state")
            return {str(state): int(n) for state, n in rows.fetchall()}
