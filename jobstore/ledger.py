"""The job ledger (SQLite, WAL): the source of truth for every shot taken, and its API.

A row is inserted as `pending` in the same step that writes the photos (transactional outbox);
`sent_at` is set when the broker acknowledges the job publish, so a restarted kiosk re-publishes
every unsent job. Statuses only move forward; the first result wins. The share server maps a
download token to a stored result through this table, so nothing a client sends becomes a path.
Photo paths are stored relative to the data dir.

Who may write what (one process per kind of write, so no two processes race on a row):
- the kiosk process (`kiosk/jobs/controller.py`): inserts jobs, marks them dispatched/sent, applies
  statuses and stores results (which issues the download token); through `jobstore/sessions.py`
  it also writes the strip sessions and inserts each session's composed sheet, a row of its own
  whose job_id is the session's id (born completed with its result: it is never published);
- the share process (`share/cli.py`, through `jobstore/retention.py`): deletes old jobs —
  their files, rows and retained MQTT messages — and the jobs the operator deletes on the
  dashboard (`share/admin.py`, the same `delete_jobs`), and, once the clock is synchronized,
  gives jobs shot before that their true time back (`correct_clock`);
- the share process's cloud uploader (`share/uploader.py`, through `jobstore/uploads.py`): the
  `uploads` table (the upload queue and the confirmed cloud links), and nothing else; the
  kiosk only reads that table;
- whichever of the two opens a damaged ledger first (`jobstore/recovery.py`, under a lock
  file): moves it aside and inserts the rows rebuilt from the photo store, before anything else;
- everyone else (the share server's pages, `booth doctor`, `booth snap`) only reads.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from booth.clock import BootStamp
from booth.protocol import JobError, JobStatus, Status, moves_forward
from jobstore.connection import Connection
from jobstore.links import canonical_code, canonical_token, new_code, new_token

CODE_TRIES = 8  # a fresh short code collides with a stored one about once in 10**6 at 1000 rows
# A strip session's composed sheet is a row too (jobstore/sessions.py): a picture, but no shot.
NOT_A_SHEET = "job_id NOT IN (SELECT session_id FROM sessions)"
NOT_A_FRAME = "job_id NOT IN (SELECT job_id FROM session_frames)"


@dataclass(frozen=True)
class JobRow:
    job_id: str
    booth_id: str
    style: str
    created_at: float
    created_iso: str
    status: JobStatus
    effect: str | None
    attempt: int
    worker: str | None
    error: JobError | None
    updated_at: float
    original_path: str
    ai_path: str
    result_path: str | None
    token: str | None
    sent_at: float | None
    dispatches: int
    last_dispatch: float | None
    processing_at: float | None
    finished_at: float | None
    boot_id: str | None = None  # the boot the shot was taken in (jobstore/age.py)
    created_boot: float | None = None  # CLOCK_BOOTTIME at the shot
    clock_ok: bool = True  # created_at was a synchronized wall time (or corrected since)
    code: str | None = None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> JobRow:
        d = dict(row)
        err = d.pop("error_json")
        d["error"] = JobError.from_dict(json.loads(err)) if err else None
        d["status"] = JobStatus(d["status"])
        d["clock_ok"] = bool(d["clock_ok"])
        return cls(**d)


class Ledger(Connection):
    """Thread-safe access to the ledger; one connection guarded by a lock (low write volume)."""

    def _one(self, sql: str, args: Iterable[Any] = ()) -> JobRow | None:
        rows = self._fetch(sql, args)
        return JobRow.from_sql(rows[0]) if rows else None

    def _many(self, sql: str, args: Iterable[Any] = ()) -> list[JobRow]:
        return [JobRow.from_sql(r) for r in self._fetch(sql, args)]

    # ------------------------------------------------------------------ writes
    def insert_pending(
        self,
        job_id: str,
        booth_id: str,
        style: str,
        created_at: float,
        created_iso: str,
        original_path: str,
        ai_path: str,
        stamp: BootStamp | None = None,
    ) -> None:
        """`stamp`: the shot's boot and boot time (without one, created_at alone is trusted)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (job_id, booth_id, style, created_at, created_iso, status,"
                " updated_at, original_path, ai_path, boot_id, created_boot, clock_ok)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    booth_id,
                    style,
                    created_at,
                    created_iso,
                    JobStatus.PENDING.value,
                    created_at,
                    original_path,
                    ai_path,
                    stamp.boot_id if stamp else None,
                    stamp.boot_time if stamp else None,
                    int(stamp.clock_ok) if stamp else 1,
                ),
            )

    def correct_clock(self, boot_id: str, wall_now: float, boot_now: float) -> int:
        """The clock is synchronized now: give jobs shot before that their true time back.

        Shot in this boot: exact (now minus the boot time elapsed since the shot). Shot in an
        earlier boot that never synchronized: at most as old as if that boot had ended at its
        last shot and this one begun right after — an age never overstated, so a link never
        expires early. Returns the rows corrected.
        """
        boot_start = wall_now - boot_now
        with self._lock:
            same = self._db.execute(
                "UPDATE jobs SET created_at = ? - (? - created_boot), clock_ok = 1"
                " WHERE clock_ok = 0 AND boot_id = ? AND created_boot IS NOT NULL",
                (wall_now, boot_now, boot_id),
            ).rowcount
            earlier = self._db.execute(
                "UPDATE jobs SET created_at = ? - ((SELECT MAX(j.created_boot) FROM jobs j"
                " WHERE j.boot_id = jobs.boot_id) - created_boot), clock_ok = 1"
                " WHERE clock_ok = 0 AND boot_id IS NOT ? AND created_boot IS NOT NULL",
                (boot_start, boot_id),
            ).rowcount
        return same + earlier

    def mark_dispatched(self, job_id: str, at: float | None = None) -> None:
        """A (re-)publish of the job was handed to MQTT."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET dispatches = dispatches + 1, last_dispatch = ? WHERE job_id = ?",
                (at or time.time(), job_id),
            )

    def mark_sent(self, job_id: str, at: float | None = None) -> None:
        """The broker acknowledged the job publish: the outbox entry is done."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET sent_at = COALESCE(sent_at, ?) WHERE job_id = ?",
                (at or time.time(), job_id),
            )

    def apply_status(self, status: Status, at: float | None = None) -> bool:
        """Record a status if it moves the job forward. Returns True if it changed the row."""
        now = at or time.time()
        with self._lock:
            row = self._db.execute(
                "SELECT status FROM jobs WHERE job_id = ?", (status.job_id,)
            ).fetchone()
            if row is None or not moves_forward(JobStatus(row["status"]), status.status):
                return False
            self._db.execute(
                "UPDATE jobs SET status = ?, effect = ?, attempt = ?, worker = ?, error_json = ?,"
                " updated_at = ?,"
                " processing_at = CASE WHEN ? = 'processing' THEN ? ELSE processing_at END,"
                " finished_at = CASE WHEN ? IN ('completed','failed') THEN ? ELSE finished_at END"
                " WHERE job_id = ?",
                (
                    status.status.value,
                    status.effect.value if status.effect else None,
                    status.attempt,
                    status.worker,
                    json.dumps(status.error.to_dict()) if status.error else None,
                    now,
                    status.status.value,
                    now,
                    status.status.value,
                    now,
                    status.job_id,
                ),
            )
            return True

    def store_result(self, job_id: str, result_path: str, token: str | None = None) -> str | None:
        """Attach the first result to a job and give it a share token (`token`, else a new one)
        and a short code.

        Returns the token, or None when the job is unknown or already has a result
        (the first result wins; a duplicate changes nothing).
        """
        with self._lock:
            for attempt in range(CODE_TRIES):
                tok = token or new_token()
                try:
                    cur = self._db.execute(
                        "UPDATE jobs SET result_path = ?, token = ?, code = ?"
                        " WHERE job_id = ? AND result_path IS NULL",
                        (result_path, tok, new_code(), job_id),
                    )
                except sqlite3.IntegrityError:
                    if attempt == CODE_TRIES - 1:
                        raise
                    continue  # the short code (or, once in 2**98, the token) is taken
                return tok if cur.rowcount == 1 else None
        return None

    def insert_recovered(self, rows: Iterable[JobRow]) -> int:
        """Rows rebuilt after the ledger was damaged (jobstore/recovery.py); returns how many
        were inserted (a job already present is left alone)."""
        cols = [f.name for f in dataclasses.fields(JobRow) if f.name != "error"]
        sql = (
            f"INSERT OR IGNORE INTO jobs ({', '.join(cols)}, error_json) "
            f"VALUES ({', '.join('?' * (len(cols) + 1))})"
        )
        values = [
            [getattr(r, c).value if c == "status" else getattr(r, c) for c in cols]
            + [json.dumps(r.error.to_dict()) if r.error else None]
            for r in rows
        ]
        with self._transaction() as db:
            return sum(db.execute(sql, v).rowcount for v in values)

    def delete(self, job_ids: Iterable[str]) -> int:
        ids = list(job_ids)
        if not ids:
            return 0
        with self._transaction() as db:  # all or nothing: no frame left naming a deleted job
            cur = db.executemany("DELETE FROM jobs WHERE job_id = ?", [(j,) for j in ids])
            deleted = cur.rowcount
            # a deleted frame leaves its session; a deleted sheet takes its session along
            # (jobstore/sessions.py; its other frames are in `ids` too when a session goes)
            db.executemany("DELETE FROM session_frames WHERE job_id = ?", [(j,) for j in ids])
            db.executemany("DELETE FROM sessions WHERE session_id = ?", [(j,) for j in ids])
            db.execute(  # a session whose frames all went (no sheet yet) goes too
                "DELETE FROM sessions WHERE state != 'shooting'"
                " AND session_id NOT IN (SELECT job_id FROM jobs)"
                " AND session_id NOT IN (SELECT session_id FROM session_frames)"
            )
            return deleted

    # ------------------------------------------------------------------ reads
    def get(self, job_id: str) -> JobRow | None:
        return self._one("SELECT * FROM jobs WHERE job_id = ?", (job_id,))

    def by_token(self, token: str) -> JobRow | None:
        """The job of a download token as a client sent it (today's tokens in any case)."""
        canonical = canonical_token(token)
        if canonical is None:
            return None
        return self._one("SELECT * FROM jobs WHERE token = ?", (canonical,))

    def by_code(self, typed: str) -> JobRow | None:
        """The job of a typed short code (any case, O for 0, I or L for 1)."""
        code = canonical_code(typed)
        if code is None:
            return None
        return self._one("SELECT * FROM jobs WHERE code = ?", (code,))

    def unsent(self) -> list[JobRow]:
        """Jobs whose publish the broker never acknowledged (re-published on start)."""
        return self._many(
            "SELECT * FROM jobs WHERE sent_at IS NULL AND status = 'pending' ORDER BY created_at"
        )

    def unfinished(self) -> list[JobRow]:
        return self._many(
            "SELECT * FROM jobs WHERE status IN ('pending','processing')"
            " OR (status = 'completed' AND result_path IS NULL)"
            " ORDER BY created_at"
        )

    def recent(self, limit: int) -> list[JobRow]:
        return self._many("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))

    def since(self, start: float) -> list[JobRow]:
        return self._many(
            "SELECT * FROM jobs WHERE created_at >= ? ORDER BY created_at DESC", (start,)
        )

    def sheets_since(self, start: float) -> dict[str, str]:
        """Strip sessions' sheets (jobstore/sessions.py) created at or after `start`: job id →
        the sheet's layout (strip | grid). A sheet is no shot: the download names count it
        apart (share/lookup.py)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT j.job_id, s.layout FROM jobs j JOIN sessions s ON s.session_id = j.job_id"
                " WHERE j.created_at >= ?",
                (start,),
            ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    # ---- the operator's view (jobstore/stats.py) ----
    def latest_run_start(self, gap_s: float) -> float | None:
        """When the newest run of photos began: the first shot after the last pause of at least
        `gap_s` between two shots (None: no jobs)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(created_at) FROM (SELECT created_at, created_at - LAG(created_at)"
                " OVER (ORDER BY created_at) AS gap FROM jobs) WHERE gap IS NULL OR gap >= ?",
                (gap_s,),
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def page_since(self, start: float, offset: int, limit: int) -> list[JobRow]:
        """Jobs shot at or after `start`, newest first, one page."""
        return self._many(
            "SELECT * FROM jobs WHERE created_at >= ? ORDER BY created_at DESC,"
            " job_id DESC LIMIT ? OFFSET ?",
            (start, limit, offset),
        )

    def outcomes_since(self, start: float) -> list[tuple[str, str | None, str | None, bool, int]]:
        """(status, effect, error kind, has a result, how many) of the jobs since `start`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT status, effect, json_extract(error_json, '$.kind'),"
                " result_path IS NOT NULL, COUNT(*) FROM jobs WHERE created_at >= ?"
                f" AND {NOT_A_SHEET} GROUP BY 1, 2, 3, 4",
                (start,),
            ).fetchall()
        return [(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows]

    def waits_since(self, start: float) -> list[float]:
        """Seconds from the shot to its final status, for the jobs since `start` that have
        their picture."""
        with self._lock:
            rows = self._db.execute(
                "SELECT finished_at - created_at FROM jobs WHERE created_at >= ? AND"
                f" result_path IS NOT NULL AND finished_at IS NOT NULL AND {NOT_A_SHEET}",
                (start,),
            ).fetchall()
        return [float(r[0]) for r in rows]

    def ids_since(self, start: float) -> list[str]:
        """The ids of the jobs since `start`, oldest first (the zip walks them one by one)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id FROM jobs WHERE created_at >= ? ORDER BY created_at, job_id",
                (start,),
            ).fetchall()
        return [r[0] for r in rows]

    def older_than(self, cutoff: float, boot_id: str | None = None) -> list[JobRow]:
        """Jobs with created_at before `cutoff`, plus every job of boot `boot_id` (their age
        is measured in boot time, which a clock jump does not move)."""
        return self._many(
            "SELECT * FROM jobs WHERE created_at < ? OR boot_id = ? ORDER BY created_at",
            (cutoff, boot_id),
        )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def ledger_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "ledger.sqlite"


def photo_dir(data_dir: str | Path, created_at: float) -> Path:
    """Photos live in one folder per day: data_dir/photos/YYYY-MM-DD/."""
    return Path(data_dir) / "photos" / time.strftime("%Y-%m-%d", time.localtime(created_at))


def resolve_in_store(data_dir: str | Path, rel: str) -> Path | None:
    """The absolute path of a stored file, or None if `rel` would leave the data dir."""
    root = Path(data_dir).resolve()
    path = (root / rel).resolve()
    return path if path.is_relative_to(root) else None
