"""The ledger's schema version: a ledger written before versioning keeps every row, and a
ledger from a newer booth is refused instead of being misread."""

from __future__ import annotations

import sqlite3

import pytest

from booth.protocol import JobStatus
from jobstore import schema
from jobstore.ledger import Ledger

# The ledger as the booth wrote it before `PRAGMA user_version` (git b705410, kiosk/ledger.py).
UNVERSIONED = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, booth_id TEXT NOT NULL, style TEXT NOT NULL,
    created_at REAL NOT NULL, created_iso TEXT NOT NULL, status TEXT NOT NULL, effect TEXT,
    attempt INTEGER NOT NULL DEFAULT 1, worker TEXT, error_json TEXT, updated_at REAL NOT NULL,
    original_path TEXT NOT NULL, ai_path TEXT NOT NULL, result_path TEXT, token TEXT UNIQUE,
    sent_at REAL, dispatches INTEGER NOT NULL DEFAULT 0, last_dispatch REAL,
    processing_at REAL, finished_at REAL);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""


def _old_ledger(path, rows: int) -> None:
    db = sqlite3.connect(path)
    db.executescript(UNVERSIONED)
    for i in range(rows):
        db.execute(
            "INSERT INTO jobs (job_id, booth_id, style, created_at, created_iso, status, effect,"
            " updated_at, original_path, ai_path, result_path, token, sent_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                f"job{i:08d}",
                "b1",
                "drip",
                1_700_000_000.0 + i,
                "2023-11-14T22:13:20.000Z",
                "completed" if i % 2 else "pending",
                "local" if i % 2 else None,
                1_700_000_000.0 + i,
                f"photos/x/job{i:08d}.jpg",
                f"photos/x/job{i:08d}-ai.jpg",
                f"photos/x/job{i:08d}-result.jpg" if i % 2 else None,
                f"token{i:012d}" if i % 2 else None,
                1_700_000_001.0 + i,
            ),
        )
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()


def test_a_ledger_from_before_versioning_keeps_every_row(tmp_path):
    path = tmp_path / "ledger.sqlite"
    _old_ledger(path, 25)
    ledger = Ledger(path)
    try:
        assert ledger.count() == 25
        row = ledger.by_token("token000000000003")
        assert row is not None and row.status is JobStatus.COMPLETED and row.effect == "local"
        assert ledger.get("job00000004").status is JobStatus.PENDING
        assert len(ledger.unsent()) == 0 and len(ledger.recent(100)) == 25
    finally:
        ledger.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    db.close()
    Ledger(path).close()  # opening again changes nothing


def test_a_new_ledger_has_the_current_version(tmp_path):
    Ledger(tmp_path / "l.sqlite").close()
    db = sqlite3.connect(tmp_path / "l.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    db.close()


def test_a_ledger_from_a_newer_booth_is_refused(tmp_path):
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    db.close()
    with pytest.raises(schema.SchemaError, match="newer version"):
        Ledger(path)


def test_a_failed_step_leaves_the_old_version(tmp_path, monkeypatch):
    path = tmp_path / "l.sqlite"
    _old_ledger(path, 3)

    def broken(db):
        db.execute("ALTER TABLE jobs ADD COLUMN half_done TEXT")
        raise RuntimeError("power cut half-way")

    good = schema.VERSION  # every real step runs; the broken one after them does not stick
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + [broken])
    monkeypatch.setattr(schema, "VERSION", len(schema.MIGRATIONS))
    with pytest.raises(RuntimeError):
        Ledger(path)
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)")]
    assert db.execute("PRAGMA user_version").fetchone()[0] == good and "half_done" not in cols
    assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 3
    db.close()


def test_version_2_adds_the_upload_queue_to_an_old_ledger(tmp_path):
    """A booth updated to cloud sharing keeps its jobs and gains an empty queue."""
    from jobstore.uploads import Uploads

    path = tmp_path / "ledger.sqlite"
    _old_ledger(path, 4)
    queue = Uploads(path)
    try:
        assert queue.counts() == {}
        # the old results (odd rows) are picked up once cloud sharing is on
        assert queue.enqueue_new("booth/", 0, 1_700_000_100.0) == 2
        assert queue.enqueue_new("booth/", 0, 1_700_000_100.0) == 0
        row = queue.get("job00000001")
        assert row.state == "queued" and row.photo_key == row.page_key + ".jpg"
        assert row.page_key.startswith("booth/") and len(row.page_key) == len("booth/") + 22
    finally:
        queue.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 4
    db.close()


def test_two_processes_upgrading_at_once(tmp_path, monkeypatch):
    """The kiosk and the share server start together: both see the old version, one takes the
    write lock and upgrades, the other must then skip the steps instead of repeating them."""
    path = tmp_path / "l.sqlite"
    _old_ledger(path, 2)
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None)
    real = schema.version
    stale = iter([1])  # what `second` read before `first` upgraded

    def version(db):
        if db is second:
            return next(stale, None) or real(db)
        return real(db)

    schema.migrate(first)
    monkeypatch.setattr(schema, "version", version)
    assert schema.migrate(second) == 1  # no "duplicate column" from a repeated step
    assert real(second) == schema.VERSION
    assert second.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2
    first.close()
    second.close()


def test_short_codes_arrive_with_version_4_and_old_rows_keep_their_links(tmp_path):
    """A version-1 ledger gains the code column (version 4); its rows keep their tokens (no
    code); new results get a token and a short code, unique in the ledger."""
    path = tmp_path / "ledger.sqlite"
    _old_ledger(path, 4)
    ledger = Ledger(path)
    try:
        old = ledger.by_token("token000000000001")
        assert old is not None and old.code is None
        ledger.insert_pending(
            "newjob0001",
            "b1",
            "drip",
            1_800_000_000.0,
            "2027-01-15T08:00:00Z",
            "photos/x/new.jpg",
            "photos/x/new-ai.jpg",
        )
        token = ledger.store_result("newjob0001", "photos/x/new-result.jpg")
        row = ledger.get("newjob0001")
        assert row.token == token and len(row.code) == 6
        assert ledger.by_code(row.code.lower()).job_id == "newjob0001"
        assert ledger.by_token(token.lower()).job_id == "newjob0001"
        assert ledger.store_result("newjob0001", "photos/x/other.jpg") is None  # first wins
    finally:
        ledger.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    with pytest.raises(sqlite3.IntegrityError):  # two results can never share a code
        db.execute(
            "UPDATE jobs SET code = (SELECT code FROM jobs WHERE job_id = 'newjob0001')"
            " WHERE job_id = 'job00000001'"
        )
    db.close()


def test_a_taken_short_code_is_drawn_again(tmp_path, monkeypatch):
    from jobstore import ledger as ledger_module

    codes = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr(ledger_module, "new_code", lambda: next(codes))
    ledger = Ledger(tmp_path / "l.sqlite")
    try:
        for i in range(2):
            ledger.insert_pending(f"job{i:08d}", "b1", "drip", 1.0 + i, "x", "o.jpg", "a.jpg")
            assert ledger.store_result(f"job{i:08d}", f"r{i}.jpg")
        assert [ledger.get(f"job{i:08d}").code for i in range(2)] == ["AAAAAA", "BBBBBB"]
    finally:
        ledger.close()
