"""The ledger's schema, its version (`PRAGMA user_version`) and the steps that upgrade it.

Why versioned: a booth keeps its ledger across updates (guests' links must keep working), so a
new column needs an upgrade path. Each step in MIGRATIONS takes the file from version n-1 to n
inside one transaction; opening a ledger runs the missing steps. A ledger from before versioning
(user_version 0 with a `jobs` table) is version 1's layout and is adopted as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

V1 = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id          TEXT PRIMARY KEY,
    booth_id        TEXT NOT NULL,
    style           TEXT NOT NULL,
    created_at      REAL NOT NULL,          -- unix time of the shot
    created_iso     TEXT NOT NULL,          -- as sent in the job's created_at property
    status          TEXT NOT NULL,
    effect          TEXT,
    attempt         INTEGER NOT NULL DEFAULT 1,
    worker          TEXT,
    error_json      TEXT,
    updated_at      REAL NOT NULL,
    original_path   TEXT NOT NULL,
    ai_path         TEXT NOT NULL,
    result_path     TEXT,
    token           TEXT UNIQUE,
    sent_at         REAL,                   -- broker acked the (first) job publish
    dispatches      INTEGER NOT NULL DEFAULT 0,
    last_dispatch   REAL,
    processing_at   REAL,
    finished_at     REAL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""


def _run(db: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _run(db, V1)


# The cloud upload queue (jobstore/uploads.py): one row per result to upload, written only by
# the share process. The object key is chosen before the first attempt and never changes, so a
# retry after a crash overwrites the same objects instead of adding copies.
UPLOADS = """
CREATE TABLE IF NOT EXISTS uploads (
    job_id          TEXT PRIMARY KEY,
    page_key        TEXT NOT NULL UNIQUE,   -- full object key of the phone page (prefix + random)
    photo_key       TEXT NOT NULL UNIQUE,   -- full object key of the photo
    state           TEXT NOT NULL,          -- queued | uploaded
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_try_at     REAL NOT NULL,
    last_error      TEXT,
    queued_at       REAL NOT NULL,
    uploaded_at     REAL,
    url             TEXT,                   -- the guest's cloud link, once the upload is confirmed
    url_expires_at  REAL
);
CREATE INDEX IF NOT EXISTS uploads_due ON uploads(state, next_try_at);
CREATE INDEX IF NOT EXISTS uploads_done ON uploads(state, uploaded_at);
"""


def _v2_uploads(db: sqlite3.Connection) -> None:
    _run(db, UPLOADS)


def _v3_clock(db: sqlite3.Connection) -> None:
    """Ages no clock jump can break: the boot a job was shot in, CLOCK_BOOTTIME then,
    and whether created_at was a synchronized wall time. Rows from before keep clock_ok = 1:
    their wall time is all there is."""
    _run(
        db,
        """
ALTER TABLE jobs ADD COLUMN boot_id TEXT;
ALTER TABLE jobs ADD COLUMN created_boot REAL;
ALTER TABLE jobs ADD COLUMN clock_ok INTEGER NOT NULL DEFAULT 1
""",
    )


def _v4_short_codes(db: sqlite3.Connection) -> None:
    """A short code per stored result, for guests who type instead of scanning (jobstore/links.py).
    Rows from before have none; their tokens keep working."""
    _run(
        db,
        "ALTER TABLE jobs ADD COLUMN code TEXT;"
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_code ON jobs(code)",
    )


# The print queue (jobstore/prints.py): one row per sheet a guest, auto-print or the operator
# asked for, written only by the printer process. `print_id` travels in the CUPS job's name, so
# a print CUPS accepted just before a crash is found again instead of being sent twice.
PRINTS = """
CREATE TABLE IF NOT EXISTS prints (
    print_id        TEXT PRIMARY KEY,       -- random, in the CUPS job-name booth-print-<print_id>
    job_id          TEXT NOT NULL,          -- the photo
    request_id      TEXT NOT NULL,          -- idempotency key of the request that made it
    copy            INTEGER NOT NULL,       -- 1..n within its request
    source          TEXT NOT NULL,          -- guest | auto | operator
    state           TEXT NOT NULL,  -- requested, sent, printing, then printed, failed or cancelled
    cups_job_id     INTEGER,                -- set once CUPS accepted it
    requested_at    REAL NOT NULL,
    tried_at        REAL,                   -- last handed to CUPS (written before the answer)
    tries           INTEGER NOT NULL DEFAULT 0,
    sent_at         REAL,
    done_at         REAL,
    error           TEXT,
    UNIQUE (request_id, copy)
);
CREATE INDEX IF NOT EXISTS prints_job ON prints(job_id);
CREATE INDEX IF NOT EXISTS prints_state ON prints(state, requested_at);
CREATE TABLE IF NOT EXISTS print_budget (
    at              REAL NOT NULL,          -- when the operator raised the event's paper budget
    added           INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS print_meta (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
)
"""


def _v5_prints(db: sqlite3.Connection) -> None:
    _run(db, PRINTS)


# The reveal clips (jobstore/clips.py): one row per result the share process made a clip for,
# or gave up on, written only by its clip maker (share/clipmaker.py). The file lies next to the
# result (jobstore/names.py clip_path), so retention deletes it with the photo.
CLIPS = """
CREATE TABLE IF NOT EXISTS clips (
    job_id          TEXT PRIMARY KEY,
    state           TEXT NOT NULL,          -- making | made | failed
    clip_path       TEXT,                   -- relative to the data dir, once made
    width           INTEGER,
    height          INTEGER,
    frames          INTEGER,
    fps             INTEGER,
    bytes           INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    started_at      REAL NOT NULL,
    done_at         REAL,
    took_s          REAL,                   -- wall time the child process needed
    error           TEXT
);
CREATE INDEX IF NOT EXISTS clips_state ON clips(state)
"""


def _v6_clips(db: sqlite3.Connection) -> None:
    _run(db, CLIPS)


# Strip sessions (jobstore/sessions.py): one row per session and one per frame, written only by
# the kiosk. A frame's row is written before its job's row (kiosk/jobs/sessions.py), so a crash
# between the two never loses a frame from its session. The composed sheet is a row of `jobs`
# whose job_id is the session's id (it has its own token, short code and file, like a photo).
SESSIONS = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id      TEXT PRIMARY KEY,       -- also the job_id of its sheet, once composed
    booth_id        TEXT NOT NULL,
    style           TEXT NOT NULL,
    layout          TEXT NOT NULL,          -- strip | grid (booth/sheet.py)
    shots           INTEGER NOT NULL,       -- planned
    portrait        INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    state           TEXT NOT NULL,          -- shooting, closed, then composed or empty
    ended           TEXT,                   -- why the shooting ended: done, restart, camera
    closed_at       REAL,
    composed_at     REAL,
    error           TEXT                    -- the last compose failure (it is tried again)
);
CREATE INDEX IF NOT EXISTS sessions_state ON sessions(state);
CREATE INDEX IF NOT EXISTS sessions_created ON sessions(created_at);
CREATE TABLE IF NOT EXISTS session_frames (
    job_id          TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    frame           INTEGER NOT NULL,       -- 1, 2 ... in shot order
    UNIQUE (session_id, frame)
)
"""


def _v7_sessions(db: sqlite3.Connection) -> None:
    _run(db, SESSIONS)


# The reveal clip's cloud copy (jobstore/uploads.py), written only by the share process's
# uploader: a clip is usually made seconds after its photo went up, so it follows in an upload
# of its own. clip_state is NULL while the clip may still come; the partial index holds only
# those rows, so the uploader's look for clips to upload stays small however long the event.
CLIP_WAIT_INDEX = "uploads_clip_wait"
UPLOAD_CLIPS = f"""
ALTER TABLE uploads ADD COLUMN clip_key TEXT;   -- page_key + .mp4, written before its first PUT
ALTER TABLE uploads ADD COLUMN clip_state TEXT; -- NULL (may still come), uploaded, none, failed
ALTER TABLE uploads ADD COLUMN clip_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN clip_next_try_at REAL NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN clip_uploaded_at REAL;
ALTER TABLE uploads ADD COLUMN clip_error TEXT;
CREATE INDEX IF NOT EXISTS {CLIP_WAIT_INDEX} ON uploads(clip_next_try_at)
    WHERE state = 'uploaded' AND clip_state IS NULL
"""


def _v8_upload_clips(db: sqlite3.Connection) -> None:
    _run(db, UPLOAD_CLIPS)


# A strip session's sheet: how many of its frames its cloud page shows (jobstore/uploads.py).
# Its frames are uploaded as photos of their own; a frame confirmed after the sheet's page was
# put makes the uploader put the page again, so the count is kept with the row (NULL: the page
# was put before version 9, or never).
UPLOAD_PAGE_FRAMES = """
ALTER TABLE uploads ADD COLUMN page_frames INTEGER
"""


def _v9_upload_page_frames(db: sqlite3.Connection) -> None:
    _run(db, UPLOAD_PAGE_FRAMES)


# version n is reached by MIGRATIONS[n - 1]
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1,
    _v2_uploads,
    _v3_clock,
    _v4_short_codes,
    _v5_prints,
    _v6_clips,
    _v7_sessions,
    _v8_upload_clips,
    _v9_upload_page_frames,
]
VERSION = len(MIGRATIONS)


class SchemaError(sqlite3.DatabaseError):
    """A ledger written by a newer version of the booth (downgrades are not supported)."""


def version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> int:
    """Bring the open ledger to VERSION; returns the version it had."""
    found = version(db)
    if (
        found == 0
        and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
        ).fetchone()
    ):
        found = 1  # written before the schema was versioned: version 1's layout
        db.execute("PRAGMA user_version = 1")
    if found > VERSION:
        raise SchemaError(
            f"the ledger is schema version {found}; this booth knows up to "
            f"{VERSION} (it was written by a newer version)"
        )
    for target in range(found + 1, VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if version(db) >= target:
                # The kiosk and the share server open the ledger at the same moment: the other
                # one took this step between our first look and our write lock.
                db.execute("COMMIT")
                continue
            MIGRATIONS[target - 1](db)
            db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return found


# What SQLite says when the disk, not the statement, stops a write: full, failing or read-only.
DISK_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")


def disk_refused(exc: BaseException) -> bool:
    """True when a ledger write failed for the disk's sake ("database or disk is full", an I/O
    error), which waiting may cure, rather than for a bug, which it never does."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    return isinstance(exc, sqlite3.OperationalError) and name.startswith(DISK_ERRORS)


def open_db(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL, full sync and the schema brought up to date."""
    db = sqlite3.connect(str(path), check_same_thread=False, timeout=10, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    migrate(db)
    return db
