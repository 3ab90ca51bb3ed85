"""Opening the ledger safely: an integrity check at start, and a rebuild when it is damaged.

Why: a corrupt SQLite file (garbage, a truncated file, a zeroed header — a bad SD card or a
power cut) used to crash the kiosk and the share server at every start. Now whichever of them
opens the ledger first checks it (`PRAGMA quick_check`) under a lock file, so when both start
together one checks or rebuilds while the other waits. A damaged ledger is moved aside (kept for
the operator as `ledger.corrupt-<time>.sqlite`) and a new one is rebuilt from what survives it:
the photo store (every job's files; a result's name carries its download token, so links already
on guests' phones keep working), the strip sessions' records beside their frames
(jobstore/sessionrecord.py: which jobs a session grouped) and the broker (the retained status of
each job). The rebuild is written down in `ledger-recovery.json` for `booth doctor`.

Who writes: the rebuild inserts rows in whichever process opens the ledger first (kiosk or share
server), before that process writes anything else; the rules in `jobstore/ledger.py` apply after.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from booth.config import Config
from booth.fsutil import atomic_write
from booth.protocol import ErrorKind, JobError, JobStatus, ProtocolError, Status, Topics
from booth.runlock import RunLock
from jobstore.ledger import JobRow, Ledger, ledger_path
from jobstore.links import new_token
from jobstore.names import parse_name
from jobstore.sessionrecord import SessionRecord, read_records
from jobstore.sessions import Sessions

log = logging.getLogger("jobstore.recovery")

RECORD_FILE = "ledger-recovery.json"
LOCK_WAIT_S = 120.0  # a rebuild with a broker read takes seconds; a check milliseconds
LOST_AFTER_S = 3600.0  # a job with no result and no status older than this is not coming
MAX_RECORDS = 10


@dataclass
class Recovery:
    """One rebuild, as `booth doctor` reports it."""

    at: float
    problem: str
    moved_to: str
    jobs: int = 0
    with_status: int = 0  # rows whose status came from the broker's retained message
    links_kept: int = 0  # results whose token was read back from the file name
    links_new: int = 0  # results stored before tokens were in names: a new link
    sessions: int = 0  # strip sessions grouped again from their records in the photo store
    broker: str = "not asked"  # "read", "unreachable" or "not asked"
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- the check
# What SQLite says about a damaged file; anything else (permissions, a busy or failing disk) is
# not fixed by a rebuild and is raised to the caller as it is.
DAMAGE_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def check_ledger(path: Path) -> str | None:
    """None when the ledger file is sound (or absent), else what is wrong with it.

    Read-only as far as SQLite allows: nothing is written to a damaged file. Errors that are not
    damage (the file cannot be opened, the disk fails) raise sqlite3.Error or OSError.
    """
    if not path.exists():
        return None
    if path.stat().st_size == 0:
        return "the ledger file is empty" if _store_has_photos(path.parent) else None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            return "integrity check failed: " + "; ".join(str(r) for r in rows[:3])
        if db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
        ).fetchone():
            db.execute("SELECT COUNT(*), MAX(created_at) FROM jobs").fetchone()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "… malformed"
        if getattr(exc, "sqlite_errorname", None) in DAMAGE_ERRORS:
            return str(exc)
        raise
    finally:
        db.close()
    return None


def _store_has_photos(data_dir: Path) -> bool:
    photos = data_dir / "photos"
    try:
        return any(any(d.iterdir()) for d in photos.iterdir() if d.is_dir())
    except OSError:
        return False


# ---------------------------------------------------------------------------- opening
def open_ledger(cfg: Config, *, broker: bool = True, wait_s: float = LOCK_WAIT_S) -> Ledger:
    """The data dir's ledger, checked; a damaged one is moved aside and rebuilt first.

    `broker` False rebuilds from the photo store alone (no MQTT connection is made).
    """
    data_dir = Path(cfg.data_dir)
    path = ledger_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(data_dir, "ledger").acquire(wait_s=wait_s)
    try:
        problem = check_ledger(path)
        if problem is not None:
            log.error("ledger %s is damaged (%s): moving it aside and rebuilding it", path, problem)
            rebuild(cfg, problem, broker=broker)
        return Ledger(path)
    finally:
        lock.release()


def rebuild(
    cfg: Config, problem: str, *, broker: bool = True, now: float | None = None
) -> Recovery:
    """Build a new ledger from the photo store and the broker beside the damaged one, then move
    the damaged one aside and the new one into its place.

    In that order so that a rebuild that fails half-way (an error reading the store, a full
    disk) leaves the damaged ledger where it was: the next start finds it and tries again. Had
    it been moved aside first, that start would open an empty ledger and every link of the event
    would be lost."""
    data_dir = Path(cfg.data_dir)
    path = ledger_path(data_dir)
    now = time.time() if now is None else now
    moved = path.with_name(
        time.strftime("ledger.corrupt-%Y%m%d-%H%M%S.sqlite", time.localtime(now))
    )
    n = 1
    while moved.exists():
        n += 1
        moved = moved.with_name(f"{moved.stem.split('~')[0]}~{n}.sqlite")
    rec = Recovery(at=now, problem=problem, moved_to=moved.name)
    statuses: dict[str, Status] = {}
    if broker:
        try:
            statuses = read_retained_statuses(cfg)
            rec.broker = "read"
        except Exception as exc:  # the store alone still rebuilds every job and link
            rec.broker = "unreachable"
            rec.notes.append(f"broker not read: {exc}")
            log.warning(
                "ledger rebuild: the broker's statuses could not be read (%s); "
                "rebuilding from the photo store alone",
                exc,
            )
    rows = rows_from_store(cfg, statuses, now, rec)
    records = read_records(data_dir)
    rows = as_sessions(rows, records)
    fresh = path.with_name(path.name + REBUILDING_SUFFIX)
    _remove_with_journal(fresh)  # a rebuild killed before its swap
    try:
        ledger = Ledger(fresh)
        try:
            rec.jobs = ledger.insert_recovered(rows)
        finally:
            ledger.close()
        sessions = Sessions(fresh)
        try:
            stored = {r.job_id for r in rows}
            rec.sessions = sum(1 for r in records if sessions.restore(r, stored, now))
        finally:
            sessions.close()
        if any(fresh.with_name(fresh.name + s).exists() for s in JOURNAL_SUFFIXES):
            raise OSError(f"{fresh.name} kept its journal after closing")
    except BaseException:
        _remove_with_journal(fresh)
        raise
    os.replace(path, moved)
    for suffix in JOURNAL_SUFFIXES:  # the old journal belongs to the old file
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, moved.with_name(moved.name + suffix))
    os.replace(fresh, path)
    _write_record(data_dir, rec)
    log.error(
        "ledger rebuilt: %d jobs from the photo store (%d with their broker status), "
        "%d links kept, %d new, %d strip sessions; the damaged file is kept as %s",
        rec.jobs,
        rec.with_status,
        rec.links_kept,
        rec.links_new,
        rec.sessions,
        moved,
    )
    return rec


REBUILDING_SUFFIX = ".rebuilding"
JOURNAL_SUFFIXES = ("-wal", "-shm", "-journal")


def _remove_with_journal(path: Path) -> None:
    for p in [path] + [path.with_name(path.name + s) for s in JOURNAL_SUFFIXES]:
        p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- the sources
def read_retained_statuses(
    cfg: Config, connect_s: float = 3.0, quiet_s: float = 0.7, max_s: float = 8.0
) -> dict[str, Status]:
    """The retained status of each of this booth's jobs, read from the broker (TimeoutError
    when it cannot be reached).

    Read as tolerantly as the kiosk reads them (booth/protocol.py): a newer worker's added fields
    are ignored, so its statuses still count. A status value newer than this version
    (UnknownStatus) or a malformed status is left out: that job is rebuilt from the photo store
    alone, as if the broker had no status for it, never placed at a guessed point of its order.
    So is a status that fails in any other way: one bad message never costs the other jobs."""
    from booth.mqtt import read_retained

    topics = Topics(cfg.mqtt.root)
    retained = read_retained(
        cfg.mqtt,
        f"ledger-rebuild-{cfg.booth_id}-{os.getpid()}",
        [topics.booth_statuses(cfg.booth_id)],
        connect_s=connect_s,
        quiet_s=quiet_s,
        max_s=max_s,
    )
    found: dict[str, Status] = {}
    for topic, payload in retained.items():
        try:
            parsed = topics.parse(topic)
            st = Status.from_json(payload)
        except ProtocolError:
            continue
        except Exception:  # a parser bug must cost one job its status, never the rebuild
            log.exception("ledger rebuild: skipping the unreadable status on %s", topic)
            continue
        if st.job_id == parsed.job_id and st.booth_id == cfg.booth_id:
            found[st.job_id] = st
    return found


def rows_from_store(
    cfg: Config, statuses: dict[str, Status], now: float, rec: Recovery
) -> list[JobRow]:
    """One row per job with files under photos/, its status from `statuses` where known."""
    data_dir = Path(cfg.data_dir)
    files: dict[str, dict[str, Any]] = {}
    for day in sorted((data_dir / "photos").glob("*")):
        if not day.is_dir():
            continue
        for f in day.iterdir():
            meaning = parse_name(f.name)
            if meaning is None or not f.is_file():
                continue
            entry = files.setdefault(meaning.job_id, {"mtime": float("inf")})
            entry[meaning.kind] = (str(f.relative_to(data_dir)), meaning.token)
            entry["mtime"] = min(entry["mtime"], f.stat().st_mtime)
    rows = []
    for job_id, entry in files.items():
        created = entry["mtime"]
        result = entry.get("result")
        token = None
        if result is not None:
            token = result[1]
            if token:
                rec.links_kept += 1
            else:
                token = new_token()
                rec.links_new += 1
        st = statuses.get(job_id)
        if st is not None:
            rec.with_status += 1
            status, effect, attempt, worker, error = (
                st.status,
                st.effect.value if st.effect else None,
                st.attempt,
                st.worker,
                st.error,
            )
        elif result is not None:
            status, effect, attempt, worker, error = JobStatus.COMPLETED, None, 1, None, None
        elif now - created < LOST_AFTER_S:  # may still be on its way: the kiosk re-dispatches
            status, effect, attempt, worker, error = JobStatus.PENDING, None, 1, None, None
        else:
            status, effect, attempt, worker, error = (
                JobStatus.FAILED,
                None,
                1,
                None,
                JobError.for_guest(ErrorKind.INTERNAL),
            )
        rows.append(
            JobRow(
                job_id=job_id,
                booth_id=cfg.booth_id,
                style=cfg.kiosk.default_style,
                created_at=created,
                created_iso=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(created)),
                status=status,
                effect=effect,
                attempt=attempt,
                worker=worker,
                error=error,
                updated_at=now,
                original_path=entry.get("original", ("", None))[0],
                ai_path=entry.get("ai", ("", None))[0],
                result_path=result[0] if result else None,
                token=token,
                sent_at=created,
                dispatches=1,
                last_dispatch=created,
                processing_at=None,
                finished_at=now if status.is_final else None,
            )
        )
    rows.sort(key=lambda r: r.created_at)
    return rows


def as_sessions(rows: list[JobRow], records: list[SessionRecord]) -> list[JobRow]:
    """The rows of the sessions' frames and sheets as the kiosk wrote them: in the session's
    style (a rebuilt row otherwise gets the default), the sheet timed by the session's first
    frame rather than by its files, with its shots as its original (jobstore/sessions.py
    `store_sheet`), so it lists beside its frames again."""
    by_id = {r.job_id: r for r in rows}
    for record in records:
        frames = [by_id[j] for _f, j in record.frames if j in by_id]
        for frame in frames:
            by_id[frame.job_id] = dataclasses.replace(frame, style=record.style)
        sheet = by_id.get(record.session_id)
        if sheet is None or not frames:
            continue
        first = min(frames, key=lambda r: r.created_at)
        by_id[sheet.job_id] = dataclasses.replace(
            sheet,
            created_at=first.created_at,
            created_iso=first.created_iso,
            original_path=sheet.original_path or sheet.ai_path,
            style=record.style,
        )
    return sorted(by_id.values(), key=lambda r: r.created_at)


# ---------------------------------------------------------------------------- the record
def _write_record(data_dir: Path, rec: Recovery) -> None:
    records = recoveries(data_dir)
    records.append(rec)
    try:
        atomic_write(
            data_dir / RECORD_FILE,
            json.dumps([asdict(r) for r in records[-MAX_RECORDS:]], indent=1).encode(),
        )
    except OSError as exc:
        log.error("ledger rebuild: cannot write %s: %s", RECORD_FILE, exc.strerror)


def recoveries(data_dir: str | os.PathLike[str]) -> list[Recovery]:
    """The rebuilds recorded in the data dir, oldest first (empty when there were none)."""
    try:
        data = json.loads((Path(data_dir) / RECORD_FILE).read_text(encoding="utf-8"))
        return [Recovery(**d) for d in data]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring an unreadable %s: %s", RECORD_FILE, exc)
        return []
