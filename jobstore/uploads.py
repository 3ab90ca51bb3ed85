"""The cloud upload queue: which results still have to go to the bucket, and their cloud links.

Why a table in the ledger: the queue must survive restarts and power cuts and belongs with the
job data (retention and links already live here). A row is created, with its object keys, before
the first upload attempt; the keys never change, so an upload retried after a crash overwrites
the same two objects (the photo and its phone page) instead of adding copies. A row becomes
`uploaded` only after both objects were confirmed by the bucket; only then does the kiosk show
the cloud link.

Who writes: the share process only (`share/uploader.py`). The kiosk reads links
(`link`, `links`, `confirmed_since`). A row whose job is gone (retention deleted it) is an
*orphan*: the uploader deletes its objects from the bucket, then the row.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from jobstore.schema import open_db

KEY_BYTES = 16  # 128 random bits, URL-safe base64: 22 characters
QUEUED, UPLOADED = "queued", "uploaded"


@dataclass(frozen=True)
class Upload:
    job_id: str
    page_key: str
    photo_key: str
    state: str
    attempts: int
    next_try_at: float
    last_error: str | None
    queued_at: float
    uploaded_at: float | None
    url: str | None
    url_expires_at: float | None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> Upload:
        return cls(**{k: row[k] for k in row.keys()})


@dataclass(frozen=True)
class CloudLink:
    """A confirmed upload's link, as the kiosk shows it."""

    url: str
    expires_at: float | None
    uploaded_at: float

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


def new_object_keys(prefix: str, result_path: str) -> tuple[str, str]:
    """(page key, photo key): the page has no extension so its link stays short."""
    rand = secrets.token_urlsafe(KEY_BYTES)
    ext = ".png" if result_path.lower().endswith(".png") else ".jpg"
    return prefix + rand, prefix + rand + ext


class Uploads:
    """The queue on its own connection (WAL: the kiosk's ledger writes never wait for it)."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = open_db(Path(path))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, args: Iterable[object] = ()) -> list[Upload]:
        with self._lock:
            return [Upload.from_sql(r) for r in self._db.execute(sql, tuple(args)).fetchall()]

    # ------------------------------------------------------------------ share process: writes
    def enqueue_new(self, prefix: str, since: float, now: float) -> int:
        """Queue every stored result (created after `since`) that has no row yet."""
        with self._lock:
            found = self._db.execute(
                "SELECT j.job_id, j.result_path FROM jobs j LEFT JOIN uploads u"
                " ON u.job_id = j.job_id WHERE u.job_id IS NULL AND j.result_path IS NOT NULL"
                " AND j.token IS NOT NULL AND j.created_at >= ?",
                (since,),
            ).fetchall()
            added = 0
            for job_id, result_path in found:
                page_key, photo_key = new_object_keys(prefix, result_path)
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO uploads (job_id, page_key, photo_key, state,"
                    " next_try_at, queued_at) VALUES (?,?,?,?,?,?)",
                    (job_id, page_key, photo_key, QUEUED, now, now),
                )
                added += cur.rowcount
            return added

    def due(self, now: float, limit: int, skip: Iterable[str] = ()) -> list[Upload]:
        """Queued rows whose retry time has come, newest photo first (the guest at the booth
        first), leaving out `skip` (the uploads in flight). Ordered by the job's creation, not
        by `queued_at`: a backlog queued in one go (the share process was down) has one
        `queued_at`."""
        ids = list(skip)
        marks = ",".join("?" * len(ids))
        return self._rows(
            "SELECT u.* FROM uploads u LEFT JOIN jobs j ON j.job_id = u.job_id"
            " WHERE u.state = ? AND u.next_try_at <= ?"
            + (f" AND u.job_id NOT IN ({marks})" if ids else "")
            + " ORDER BY COALESCE(j.created_at, u.queued_at) DESC, u.queued_at DESC LIMIT ?",
            [QUEUED, now, *ids, limit],
        )

    def mark_uploaded(self, job_id: str, url: str, expires_at: float | None, at: float) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE uploads SET state = ?, uploaded_at = ?, url = ?, url_expires_at = ?,"
                " last_error = NULL WHERE job_id = ? AND state = ?",
                (UPLOADED, at, url, expires_at, job_id, QUEUED),
            )
            return cur.rowcount == 1

    def mark_retry(self, job_id: str, error: str, next_try_at: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE uploads SET attempts = attempts + 1, last_error = ?,"
                " next_try_at = ? WHERE job_id = ?",
                (error[:500], next_try_at, job_id),
            )

    def orphans(self, limit: int) -> list[Upload]:
        """Rows whose job is gone: their objects are to be deleted from the bucket."""
        return self._rows(
            "SELECT u.* FROM uploads u LEFT JOIN jobs j ON j.job_id = u.job_id"
            " WHERE j.job_id IS NULL LIMIT ?",
            (limit,),
        )

    def forget(self, job_ids: Iterable[str]) -> int:
        ids = [(j,) for j in job_ids]
        with self._lock:
            return self._db.executemany("DELETE FROM uploads WHERE job_id = ?", ids).rowcount

    def get(self, job_id: str) -> Upload | None:
        rows = self._rows("SELECT * FROM uploads WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    def queued(self) -> int:
        """How many photos wait for their upload (in flight or not)."""
        return self.counts().get(QUEUED, 0)

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM uploads GROUP BY state")
            return {state: n for state, n in rows.fetchall()}

    def unconfirmed_since(self, since: float) -> int:
        """Results of jobs created at or after `since` without a confirmed upload (queued, in
        flight, or not queued yet): what a finite headless run waits for before it stops."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM jobs j LEFT JOIN uploads u ON u.job_id = j.job_id"
                " WHERE j.result_path IS NOT NULL AND j.token IS NOT NULL AND j.created_at >= ?"
                " AND (u.state IS NULL OR u.state != ?)",
                (since, UPLOADED),
            ).fetchone()
            return int(row[0])

    # ------------------------------------------------------------------ kiosk: reads
    def links(self, job_ids: Iterable[str]) -> dict[str, CloudLink]:
        ids = list(job_ids)
        out: dict[str, CloudLink] = {}
        for i in range(0, len(ids), 500):  # SQLite's host-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for u in self._rows(
                f"SELECT * FROM uploads WHERE state = ? AND job_id IN ({marks})", [UPLOADED, *chunk]
            ):
                out[u.job_id] = _link(u)
        return out

    def link(self, job_id: str) -> CloudLink | None:
        return self.links([job_id]).get(job_id)

    def confirmed_since(self, since: float) -> list[tuple[str, CloudLink]]:
        """Uploads confirmed at or after `since` (the kiosk's poll for new cloud links)."""
        return [
            (u.job_id, _link(u))
            for u in self._rows(
                "SELECT * FROM uploads WHERE state = ? AND uploaded_at >= ? ORDER BY uploaded_at",
                (UPLOADED, since),
            )
        ]


def _link(u: Upload) -> CloudLink:
    assert u.url is not None and u.uploaded_at is not None
    return CloudLink(u.url, u.url_expires_at, u.uploaded_at)
