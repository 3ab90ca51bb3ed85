"""Retention: guests' photos do not pile up forever.

Jobs older than `retention_days` lose their result, original and AI copy, then their ledger row,
then their retained MQTT status/result messages (an empty retained publish clears one). Files go
first so a crash half-way leaves rows that the next run finishes; rows go before MQTT so a broker
that is down never keeps photos on disk. MQTT clears that could not be acknowledged are kept in a
small JSON file in the data dir and retried on the next run. The cloud copies of a deleted job
(`[cloud]`) go with it: its `uploads` row is left without a job, and the share process's
uploader deletes those objects from the bucket within seconds, retrying while offline
(`share/uploader.py`).

Ages come from jobstore/age.py, so a clock jump cannot make fresh photos look old. While the
clock is not synchronized (no network time yet, `trust_clock` off) nothing is deleted at all;
once it is, jobs shot before that get their true time back first (`Ledger.correct_clock`).

Retained statuses and results under this booth's topics whose job the ledger does not know (junk
from a rogue client, or left by a lost ledger) would stay on the broker forever and replay at
every start. Each run reads what is retained there; such an orphan is cleared once it has been
seen for `share.orphan_grace_s` (first sightings are kept in a JSON file in the data dir), so a
job whose row is being written right now is never touched.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from booth.clock import Clock, SystemClock
from booth.config import Config
from booth.fsutil import atomic_write
from booth.mqtt import MqttConnection, read_retained
from booth.protocol import ProtocolError, Topics
from jobstore.age import DAY_S, age_s
from jobstore.ledger import JobRow, Ledger, resolve_in_store
from jobstore.names import clip_path, session_record_name

log = logging.getLogger("jobstore.retention")

PENDING_FILE = "retention-mqtt-pending.json"
MAX_PENDING = 20000  # (booth, job) pairs remembered for a later clear; oldest dropped beyond
ORPHANS_FILE = "retention-orphans.json"
MAX_ORPHANS = 50000  # topics remembered with their first sighting


@dataclass
class RetentionReport:
    job_ids: list[str] = field(default_factory=list)
    files_deleted: int = 0
    rows_deleted: int = 0
    topics_cleared: int = 0
    clears_pending: int = 0  # retained messages still to clear (broker unreachable)
    orphans_seen: int = 0  # retained messages of jobs the ledger does not know
    orphans_cleared: int = 0
    errors: list[str] = field(default_factory=list)
    clock_synchronized: bool = True  # False: nothing was deleted (the ages cannot be trusted)
    rows_corrected: int = 0  # jobs shot before the clock was synchronized, given their time


def _pending_path(cfg: Config) -> Path:
    return cfg.data_path / PENDING_FILE


def _load_pending(path: Path) -> list[tuple[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [(str(b), str(j)) for b, j in data]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError) as exc:
        log.warning("retention: ignoring unreadable %s: %s", path.name, exc)
        return []


def _save_pending(path: Path, pending: list[tuple[str, str]]) -> None:
    if not pending:
        path.unlink(missing_ok=True)
        return
    atomic_write(path, json.dumps([list(p) for p in pending[-MAX_PENDING:]]).encode())


def _clear_retained(
    mqtt: MqttConnection | None,
    topics: Topics,
    jobs: list[tuple[str, str]],
    timeout_s: float,
    report: RetentionReport,
) -> list[tuple[str, str]]:
    """Publish empty retained messages; returns the (booth, job) pairs not acknowledged."""
    if not jobs:
        return []
    if mqtt is None or not mqtt.wait_connected(min(timeout_s, 2.0)):
        log.warning(
            "retention: broker unreachable; %d jobs' retained messages will be cleared "
            "on a later run",
            len(jobs),
        )
        return list(jobs)
    handles = []
    for booth, job in jobs:
        try:
            t_status, t_result = topics.status(booth, job), topics.results(booth, job)
        except ProtocolError as exc:  # a row that never matched the protocol: nothing retained
            report.errors.append(f"{job}: {exc}")
            continue
        handles.append(
            (
                (booth, job),
                mqtt.publish(t_status, b"", qos=1, retain=True),
                mqtt.publish(t_result, b"", qos=1, retain=True),
            )
        )
    deadline = time.monotonic() + timeout_s
    left = []
    for pair, h1, h2 in handles:
        ok1 = h1.wait(deadline - time.monotonic())
        ok2 = h2.wait(deadline - time.monotonic())
        if ok1 and ok2:
            report.topics_cleared += 2
        else:
            left.append(pair)
    if left:
        log.warning(
            "retention: %d jobs' retained messages not acknowledged; retrying later", len(left)
        )
    return left


def _remove_empty_dirs(photos: Path, candidates: set[Path]) -> None:
    for d in sorted(candidates, key=lambda p: len(p.parts), reverse=True):
        try:
            if d.resolve().is_relative_to(photos.resolve()) and d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        except OSError:
            pass


def _expired_rows(
    cfg: Config, ledger: Ledger, clock: Clock, report: RetentionReport
) -> list[JobRow]:
    if not clock.synchronized():
        report.clock_synchronized = False
        log.info("retention: the clock is not synchronized (no network time yet); nothing deleted")
        return []
    report.rows_corrected = ledger.correct_clock(clock.boot_id, clock.now(), clock.boot_now())
    if report.rows_corrected:
        log.info(
            "retention: %d jobs shot before the clock was synchronized got their true time back",
            report.rows_corrected,
        )
    limit = cfg.retention_days * DAY_S
    rows = ledger.older_than(clock.now() - limit, clock.boot_id)
    return [r for r in rows if (a := age_s(r, clock)) is not None and a > limit]


def _delete_session_record(cfg: Config, row: JobRow, emptied: set[Path]) -> None:
    """A sheet's row is its session's (jobstore/sessions.py): the session's record beside its
    pictures (jobstore/sessionrecord.py) goes with it. Any other row has none."""
    pictures = row.result_path or row.ai_path
    if not pictures:
        return
    rel = str(PurePosixPath(pictures).parent / session_record_name(row.job_id))
    path = resolve_in_store(cfg.data_dir, rel)
    if path is None:
        return
    try:
        path.unlink()
        emptied.add(path.parent)
    except FileNotFoundError:
        pass
    except OSError as exc:  # ids only: a rebuild would skip it, its frames being gone
        log.warning("retention: cannot delete the record of session %s: %s", row.job_id, exc)


def delete_jobs(
    cfg: Config,
    ledger: Ledger,
    rows: list[JobRow],
    mqtt: MqttConnection | None = None,
    *,
    mqtt_timeout_s: float = 10.0,
    report: RetentionReport | None = None,
) -> RetentionReport:
    """Delete these jobs for good: their files (result, its reveal clip, original, AI copy),
    then their rows, then their retained MQTT status and result (a clear the broker did not
    acknowledge is kept and retried on the next run). Their cloud copies follow: the uploads
    rows are left without a job, and the uploader deletes those objects (and the clips rows:
    the clip maker forgets them). Retention and the operator's delete button
    (share/admin.py) both come here."""
    report = report or RetentionReport()
    emptied: set[Path] = set()
    done: list[str] = []
    for row in rows:
        failed = False
        clip = clip_path(row.result_path) if row.result_path else None  # share/clipmaker.py
        for rel in {p for p in (row.result_path, clip, row.original_path, row.ai_path) if p}:
            path = resolve_in_store(cfg.data_dir, rel)
            if path is None:
                report.errors.append(f"{row.job_id}: path outside the data dir, not touched")
                log.error(
                    "retention: job %s has a path outside the data dir; not deleting it", row.job_id
                )
                continue
            try:
                path.unlink()
                report.files_deleted += 1
                emptied.add(path.parent)
            except FileNotFoundError:
                pass
            except OSError as exc:
                failed = True
                report.errors.append(f"{row.job_id}: {exc.strerror}")
                log.error("retention: cannot delete a file of job %s: %s", row.job_id, exc.strerror)
        if not failed:
            done.append(row.job_id)
            _delete_session_record(cfg, row, emptied)
    report.rows_deleted += ledger.delete(done)
    report.job_ids += done
    _remove_empty_dirs(cfg.data_path / "photos", emptied)

    pending_path = _pending_path(cfg)
    by_id = {r.job_id: r.booth_id for r in rows}
    jobs = _load_pending(pending_path) + [(by_id[j], j) for j in done]
    jobs = list(dict.fromkeys(jobs))
    left = _clear_retained(mqtt, Topics(cfg.mqtt.root), jobs, mqtt_timeout_s, report)
    try:
        _save_pending(pending_path, left)
    except OSError as exc:
        report.errors.append(f"pending clears not saved: {exc.strerror}")
        log.error("retention: cannot save the pending MQTT clears: %s", exc.strerror)
    report.clears_pending = len(left)
    return report


def run_retention(
    cfg: Config,
    ledger: Ledger,
    mqtt: MqttConnection | None = None,
    *,
    now: float | None = None,
    clock: Clock | None = None,
    mqtt_timeout_s: float = 10.0,
    scan_orphans: bool = True,
) -> RetentionReport:
    """Delete everything of jobs older than `cfg.retention_days`, and retained messages of
    jobs the ledger does not know (after a grace period); safe to call at any time.
    `now` fixes the wall time of the system clock; `clock` replaces it entirely (tests)."""
    if clock is None:
        fixed = now
        clock = SystemClock(cfg.trust_clock, (lambda: fixed) if fixed is not None else None)
    now = clock.now()
    report = RetentionReport()
    old = _expired_rows(cfg, ledger, clock, report)
    delete_jobs(cfg, ledger, old, mqtt, mqtt_timeout_s=mqtt_timeout_s, report=report)
    if mqtt is not None and scan_orphans:
        _clear_orphans(cfg, ledger, mqtt, now, mqtt_timeout_s, report)
    if report.job_ids or report.clears_pending or report.orphans_cleared:
        log.info(
            "retention: deleted %d jobs (%d files), cleared %d retained messages, "
            "%d clears pending, %d orphaned retained messages cleared",
            len(report.job_ids),
            report.files_deleted,
            report.topics_cleared,
            report.clears_pending,
            report.orphans_cleared,
        )
    return report


# ---------------------------------------------------------------------------- orphans
def retained_topics(
    cfg: Config, connect_s: float = 3.0, quiet_s: float = 0.7, max_s: float = 20.0
) -> set[str]:
    """The status/result topics of this booth that hold a retained message now (TimeoutError
    when the broker cannot be reached)."""
    topics = Topics(cfg.mqtt.root)
    return set(
        read_retained(
            cfg.mqtt,
            f"share-scan-{cfg.booth_id}-{os.getpid()}",
            [topics.booth_statuses(cfg.booth_id), topics.booth_results(cfg.booth_id)],
            connect_s=connect_s,
            quiet_s=quiet_s,
            max_s=max_s,
        )
    )


def _orphan_job(topics: Topics, topic: str, ledger: Ledger) -> bool:
    """A retained status/result whose job the ledger does not know (or that names no job)."""
    try:
        job_id = topics.parse(topic).job_id
    except ProtocolError:
        return True
    return job_id is None or ledger.get(job_id) is None


def _clear_orphans(
    cfg: Config,
    ledger: Ledger,
    mqtt: MqttConnection,
    now: float,
    timeout_s: float,
    report: RetentionReport,
) -> None:
    try:
        retained = retained_topics(cfg)
    except (OSError, ValueError, TimeoutError) as exc:
        report.errors.append(f"retained messages not read: {exc}")
        log.warning("retention: cannot read the retained messages (%s); orphans later", exc)
        return
    topics = Topics(cfg.mqtt.root)
    path = cfg.data_path / ORPHANS_FILE
    try:
        first_seen = {
            str(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()
        }
    except FileNotFoundError:
        first_seen = {}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("retention: ignoring unreadable %s: %s", path.name, exc)
        first_seen = {}
    orphans = {t for t in retained if _orphan_job(topics, t, ledger)}
    report.orphans_seen = len(orphans)
    seen = {t: first_seen.get(t, now) for t in orphans}
    due = [t for t, at in seen.items() if now - at >= cfg.share.orphan_grace_s]
    handles = [(t, mqtt.publish(t, b"", qos=1, retain=True)) for t in due]
    deadline = time.monotonic() + timeout_s
    for topic, handle in handles:
        if handle.wait(deadline - time.monotonic()):
            report.orphans_cleared += 1
            seen.pop(topic, None)
    if len(seen) > MAX_ORPHANS:  # keep the oldest sightings: they are the next to go
        seen = dict(sorted(seen.items(), key=lambda kv: kv[1])[:MAX_ORPHANS])
    try:
        if seen:
            atomic_write(path, json.dumps(seen).encode())
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        report.errors.append(f"orphan sightings not saved: {exc.strerror}")
    if orphans:
        log.info(
            "retention: %d retained messages of unknown jobs on the broker; %d cleared "
            "(seen for %g s or more)",
            len(orphans),
            report.orphans_cleared,
            cfg.share.orphan_grace_s,
        )
