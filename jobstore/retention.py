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
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from booth.clock import Clock, SystemClock
from booth.config import Config
from booth.fsutil import atomic_write
from booth.mqtt import MqttConnection
from booth.protocol import ProtocolError, Topics
from jobstore.age import DAY_S, age_s
from jobstore.ledger import Ledger, resolve_in_store

log = logging.getLogger("jobstore.retention")

PENDING_FILE = "retention-mqtt-pending.json"
MAX_PENDING = 20000  # (booth, job) pairs remembered for a later clear; oldest dropped beyond


@dataclass
class RetentionReport:
    job_ids: list[str] = field(default_factory=list)
    files_deleted: int = 0
    rows_deleted: int = 0
    topics_cleared: int = 0
    clears_pending: int = 0  # retained messages still to clear (broker unreachable)
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


def _clear_retained(mqtt: MqttConnection | None, topics: Topics,
                    jobs: list[tuple[str, str]], timeout_s: float,
                    report: RetentionReport) -> list[tuple[str, str]]:
    """Publish empty retained messages; returns the (booth, job) pairs not acknowledged."""
    if not jobs:
        return []
    if mqtt is None or not mqtt.wait_connected(min(timeout_s, 2.0)):
        log.warning("retention: broker unreachable; %d jobs' retained messages will be cleared "
                    "on a later run", len(jobs))
        return list(jobs)
    handles = []
    for booth, job in jobs:
        try:
            t_status, t_result = topics.status(booth, job), topics.results(booth, job)
        except ProtocolError as exc:  # a row that never matched the protocol: nothing retained
            report.errors.append(f"{job}: {exc}")
            continue
        handles.append(((booth, job), mqtt.publish(t_status, b"", qos=1, retain=True),
                        mqtt.publish(t_result, b"", qos=1, retain=True)))
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
        log.warning("retention: %d jobs' retained messages not acknowledged; retrying later",
                    len(left))
    return left


def _remove_empty_dirs(photos: Path, candidates: set[Path]) -> None:
    for d in sorted(candidates, key=lambda p: len(p.parts), reverse=True):
        try:
            if d.resolve().is_relative_to(photos.resolve()) and d.is_dir() and \
                    not any(d.iterdir()):
                d.rmdir()
        except OSError:
            pass


def _expired_rows(cfg: Config, ledger: Ledger, clock: Clock, report: RetentionReport) -> list:
    if not clock.synchronized():
        report.clock_synchronized = False
        log.info("retention: the clock is not synchronized (no network time yet); nothing "
                 "deleted")
        return []
    report.rows_corrected = ledger.correct_clock(clock.boot_id, clock.now(), clock.boot_now())
    if report.rows_corrected:
        log.info("retention: %d jobs shot before the clock was synchronized got their true "
                 "time back", report.rows_corrected)
    limit = cfg.retention_days * DAY_S
    rows = ledger.older_than(clock.now() - limit, clock.boot_id)
    return [r for r in rows if (a := age_s(r, clock)) is not None and a > limit]


def run_retention(cfg: Config, ledger: Ledger, mqtt: MqttConnection | None = None, *,
                  now: float | None = None, clock: Clock | None = None,
                  mqtt_timeout_s: float = 10.0) -> RetentionReport:
    """Delete everything of jobs older than `cfg.retention_days`; safe to call at any time.
    `now` fixes the wall time of the system clock; `clock` replaces it entirely (tests)."""
    if clock is None:
        clock = SystemClock(cfg.trust_clock, (lambda: now) if now is not None else None)
    report = RetentionReport()
    old = _expired_rows(cfg, ledger, clock, report)
    emptied: set[Path] = set()
    done: list[str] = []
    for row in old:
        failed = False
        for rel in {row.result_path, row.original_path, row.ai_path} - {None, ""}:
            path = resolve_in_store(cfg.data_dir, rel)  # type: ignore[arg-type]
            if path is None:
                report.errors.append(f"{row.job_id}: path outside the data dir, not touched")
                log.error("retention: job %s has a path outside the data dir; not deleting it",
                          row.job_id)
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
                log.error("retention: cannot delete a file of job %s: %s", row.job_id,
                          exc.strerror)
        if not failed:
            done.append(row.job_id)
    report.rows_deleted = ledger.delete(done)
    report.job_ids = done
    _remove_empty_dirs(cfg.data_path / "photos", emptied)

    pending_path = _pending_path(cfg)
    by_id = {r.job_id: r.booth_id for r in old}
    jobs = _load_pending(pending_path) + [(by_id[j], j) for j in done]
    jobs = list(dict.fromkeys(jobs))
    left = _clear_retained(mqtt, Topics(cfg.mqtt.root), jobs, mqtt_timeout_s, report)
    try:
        _save_pending(pending_path, left)
    except OSError as exc:
        report.errors.append(f"pending clears not saved: {exc.strerror}")
        log.error("retention: cannot save the pending MQTT clears: %s", exc.strerror)
    report.clears_pending = len(left)
    if done or left:
        log.info("retention: deleted %d jobs (%d files), cleared %d retained messages, "
                 "%d clears pending", len(done), report.files_deleted, report.topics_cleared,
                 len(left))
    return report
