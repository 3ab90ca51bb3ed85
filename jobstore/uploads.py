"""The cloud upload queue: which results still have to go to the bucket, and their cloud links.

Why a table in the ledger: the queue must survive restarts and power cuts and belongs with the
job data (retention and links already live here). A row is created, with its object keys, before
the first upload attempt; the keys never change, so an upload retried after a crash overwrites
the same two objects (the photo and its phone page) instead of adding copies. A row becomes
`uploaded` only after both objects were confirmed by the bucket; only then does the kiosk show
the cloud link.

The result's reveal clip, made by the clip maker (jobstore/clips.py) usually seconds after the
photo went up, follows in an upload of its own: the clip object (`page_key` + `.mp4`, written
in `clip_key` before its first PUT, so the deletes find it), then the page put again with it.
`clip_state` is NULL while the clip may still come; it ends `uploaded`, `none` (the clip maker
made none) or `failed` (its uploads failed CLIP_ATTEMPTS times: share/uploader.py).

A strip session's frames (jobstore/sessions.py) are uploaded as photos of their own, and its
sheet's page links their objects: `page_frames` counts the frames the sheet's page was put
with, so a frame confirmed after it puts the page again (`due_frame_pages`). A frame gets no
clip of its own (its sheet's clip reveals it), so its row leaves the clips' look at once.

Who writes: the share process only (`share/uploader.py`). The kiosk reads links
(`link`, `links`, `confirmed_since`). A row whose job is gone (retention deleted it) is an
*orphan*: the uploader deletes its objects from the bucket, then the row.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from jobstore.clips import FAILED as CLIP_NOT_MADE
from jobstore.clips import MADE as CLIP_MADE
from jobstore.connection import Connection
from jobstore.schema import CLIP_WAIT_INDEX

KEY_BYTES = 16  # 128 random bits, URL-safe base64: 22 characters
QUEUED, UPLOADED = "queued", "uploaded"  # the photo and its page
CLIP_NONE, CLIP_FAILED = "none", "failed"  # a clip that will not go up (UPLOADED: it did)
CLIP_SUFFIX = ".mp4"


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
    clip_key: str | None
    clip_state: str | None
    clip_attempts: int
    clip_next_try_at: float
    clip_uploaded_at: float | None
    clip_error: str | None
    page_frames: int | None  # a sheet's page: how many of its frames it shows

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> Upload:
        return cls(**{k: row[k] for k in row.keys() if k in _UPLOAD_FIELDS})

    @property
    def objects(self) -> list[str]:
        """Every key this row may have put in the bucket (what a delete must remove)."""
        return [self.photo_key, self.page_key, *([self.clip_key] if self.clip_key else [])]


_UPLOAD_FIELDS = frozenset(Upload.__dataclass_fields__)


@dataclass(frozen=True)
class ClipUpload:
    """An uploaded result whose reveal clip is made and not in the bucket yet."""

    upload: Upload
    clip_path: str  # relative to the data dir (jobstore/clips.py)
    width: int
    height: int

    @property
    def key(self) -> str:
        """The clip's object key: beside the photo's, under the same secret."""
        return self.upload.clip_key or self.upload.page_key + CLIP_SUFFIX


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


class Uploads(Connection):
    """The queue on its own connection (WAL: the kiosk's ledger writes never wait for it)."""

    def _rows(self, sql: str, args: Iterable[object] = ()) -> list[Upload]:
        return [Upload.from_sql(r) for r in self._fetch(sql, args)]

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

    def mark_uploaded(
        self, job_id: str, url: str, expires_at: float | None, at: float, frames: int = 0
    ) -> bool:
        """The photo and its page are in the bucket; `frames`: the page shows that many of a
        strip session's frames."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE uploads SET state = ?, uploaded_at = ?, url = ?, url_expires_at = ?,"
                " last_error = NULL, page_frames = ? WHERE job_id = ? AND state = ?",
                (UPLOADED, at, url, expires_at, frames, job_id, QUEUED),
            )
            return cur.rowcount == 1

    def frames_of(self, session_id: str) -> list[tuple[int, Upload]]:
        """(frame number, upload) of a strip session's frames whose upload is confirmed, in
        shot order: what its sheet's page links."""
        rows = self._fetch(
            "SELECT f.frame AS f_frame, u.* FROM session_frames f"
            " JOIN uploads u ON u.job_id = f.job_id"
            " WHERE f.session_id = ? AND u.state = ? ORDER BY f.frame",
            (session_id, UPLOADED),
        )
        return [(int(r["f_frame"]), Upload.from_sql(r)) for r in rows]

    def due_frame_pages(self, since: float, limit: int) -> list[Upload]:
        """Sheets uploaded at or after `since` whose page shows fewer frames than are now
        confirmed: their page is to be put again. Only the sessions' rows are looked at."""
        return self._rows(
            "SELECT * FROM (SELECT u.*, (SELECT COUNT(*) FROM session_frames f"
            "  JOIN uploads fu ON fu.job_id = f.job_id"
            "  WHERE f.session_id = s.session_id AND fu.state = ?) AS frames_up"
            " FROM sessions s JOIN uploads u ON u.job_id = s.session_id"
            " WHERE u.state = ? AND u.uploaded_at >= ?)"
            " WHERE frames_up > COALESCE(page_frames, 0) ORDER BY uploaded_at DESC LIMIT ?",
            (UPLOADED, UPLOADED, since, limit),
        )

    def mark_page_frames(self, job_id: str, frames: int) -> None:
        """The sheet's page was put again with `frames` of its frames."""
        with self._lock:
            self._db.execute(
                "UPDATE uploads SET page_frames = ? WHERE job_id = ?", (frames, job_id)
            )

    def mark_retry(self, job_id: str, error: str, next_try_at: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE uploads SET attempts = attempts + 1, last_error = ?,"
                " next_try_at = ? WHERE job_id = ?",
                (error[:500], next_try_at, job_id),
            )

    def due_clips(self, now: float, limit: int) -> list[ClipUpload]:
        """Uploaded results whose clip is made and due, newest first. It reads only the
        partial index CLIP_WAIT_INDEX, the rows whose clip may still come, so it stays small
        however long the event."""
        rows = self._fetch(
            "SELECT u.*, c.clip_path AS c_path, c.width AS c_width, c.height AS c_height"
            # the waiting rows first (CROSS JOIN keeps that order), each looked up in clips
            f" FROM uploads u INDEXED BY {CLIP_WAIT_INDEX}"
            " CROSS JOIN clips c ON c.job_id = u.job_id"
            " CROSS JOIN jobs j ON j.job_id = u.job_id"
            # literal, as in the index's WHERE: else the planner may not use it
            f" WHERE u.state = '{UPLOADED}' AND u.clip_state IS NULL"
            " AND u.clip_next_try_at <= ? AND c.state = ? AND c.clip_path IS NOT NULL"
            " AND c.width > 0 AND c.height > 0"
            " ORDER BY j.created_at DESC LIMIT ?",
            (now, CLIP_MADE, limit),
        )
        return [
            ClipUpload(Upload.from_sql(r), str(r["c_path"]), int(r["c_width"]), int(r["c_height"]))
            for r in rows
        ]

    def settle_clips(self, shot_before: float) -> int:
        """Uploaded results that will get no clip: the clip maker gave up on theirs, none was
        made and their job was shot before `shot_before` (the clip maker no longer tries one),
        or they are a strip session's frames (never given one). Their page stays photo-only and
        they leave the clip index."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE uploads SET clip_state = ?, clip_error = COALESCE("
                " (SELECT 'the clip maker made none: ' || COALESCE(c.error, '?') FROM clips c"
                "  WHERE c.job_id = uploads.job_id AND c.state = ?), 'no clip was made')"
                " WHERE clip_state IS NULL AND job_id IN ("
                f" SELECT u.job_id FROM uploads u INDEXED BY {CLIP_WAIT_INDEX}"
                " LEFT JOIN clips c ON c.job_id = u.job_id"
                " LEFT JOIN jobs j ON j.job_id = u.job_id"
                f" WHERE u.state = '{UPLOADED}' AND u.clip_state IS NULL AND (c.state = ?"
                " OR (COALESCE(c.state, '') != ? AND (COALESCE(j.created_at, 0) < ?"
                "  OR u.job_id IN (SELECT job_id FROM session_frames)))))",
                (CLIP_NONE, CLIP_NOT_MADE, CLIP_NOT_MADE, CLIP_MADE, shot_before),
            )
            return cur.rowcount

    def start_clip(self, job_id: str, key: str) -> None:
        """Record the clip's key before its first PUT: a crash mid-PUT still leaves it for
        the deletes, and a retry overwrites the same object."""
        with self._lock:
            self._db.execute(
                "UPDATE uploads SET clip_key = COALESCE(clip_key, ?) WHERE job_id = ?",
                (key, job_id),
            )

    def mark_clip_uploaded(self, job_id: str, at: float) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE uploads SET clip_state = ?, clip_uploaded_at = ?, clip_error = NULL"
                " WHERE job_id = ? AND clip_state IS NULL",
                (UPLOADED, at, job_id),
            )
            return cur.rowcount == 1

    def mark_clip_retry(self, job_id: str, error: str, next_try_at: float) -> None:
        """A failed attempt: counted, and the next not before `next_try_at`."""
        with self._lock:
            self._db.execute(
                "UPDATE uploads SET clip_attempts = clip_attempts + 1, clip_error = ?,"
                " clip_next_try_at = ? WHERE job_id = ?",
                (error[:500], next_try_at, job_id),
            )

    def end_clip(self, job_id: str, state: str, error: str) -> None:
        """No (more) tries: `none` or `failed`; the page stays photo-only."""
        with self._lock:
            self._db.execute(
                "UPDATE uploads SET clip_state = ?, clip_error = ? WHERE job_id = ?"
                " AND clip_state IS NULL",
                (state, error[:500], job_id),
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
        return int(
            self._scalar(
                "SELECT COUNT(*) FROM jobs j LEFT JOIN uploads u ON u.job_id = j.job_id"
                " WHERE j.result_path IS NOT NULL AND j.token IS NOT NULL AND j.created_at >= ?"
                " AND (u.state IS NULL OR u.state != ?)",
                (since, UPLOADED),
            )
        )

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
