"""The capture pipeline and job tracking, without pygame (the kiosk and `booth snap` share it).

Threads, so the frame loop never waits:
- paho's network thread only puts incoming messages on `_tasks`;
- one *store* thread runs `_tasks` in order: statuses into the ledger, storing results (with the
  event's frame and caption burned in first: `kiosk/branding.py`), clearing retained results,
  outbox acks and re-dispatch;
- a capture thread takes the still and, with a small encode pool, writes a new job: files, then
  the `pending` ledger row, then the publish (transactional outbox; the store thread marks the
  row sent when the broker acks).
The UI reads `poll()` (a non-blocking drain of `JobEvent`s); headless callers use `wait_done()`.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from booth.config import Config
from booth.fsutil import atomic_write
from booth.images import encode_jpeg, fit_inside, shrink, sniff_image_type
from booth.mqtt import MqttConnection, PublishHandle
from booth.protocol import (ErrorKind, JobError, JobMeta, JobStatus, ProtocolError, Status,
                            TopicKind, Topics, new_job_id, parse_availability, utc_now_iso)
from jobstore.ledger import JobRow, Ledger, ledger_path, photo_dir
from jobstore.links import share_url
from kiosk.branding import Branding

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 40_000_000
CRASH_ENV = "BOOTH_KIOSK_CRASH_AT"  # tests: SIGKILL ourselves at a named point (kill tests)


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        log.warning("crash point %s: killing this process (test hook)", name)
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class JobView:
    """What a screen needs to know about one job (a snapshot; never mutated)."""

    job_id: str
    style: str
    created_at: float
    status: JobStatus
    effect: str | None = None
    error: JobError | None = None
    attempt: int = 1
    ai_path: Path | None = None
    result_path: Path | None = None
    token: str | None = None
    share_url: str | None = None
    processing_at: float | None = None
    finished_at: float | None = None
    code: str | None = None        # the short code a guest may type instead of scanning

    @property
    def ready(self) -> bool:
        """A picture is there for the guest (the first result was stored)."""
        return self.result_path is not None and self.token is not None

    @property
    def failed(self) -> bool:
        return self.status is JobStatus.FAILED and not self.ready

    @property
    def finished(self) -> bool:
        return self.ready or self.failed


@dataclass(frozen=True)
class JobEvent:
    """`created`, `captured` (with a display-sized RGB image), `capture_failed`, `stored`
    (photos written and the job published), `status`, `ready`, `availability`."""

    kind: str
    job: JobView | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    message: str = ""
    reason: str = ""  # capture_failed: camera, storage or internal


class JobController:
    """Captures, stores and publishes jobs and follows them to the end (no pygame)."""

    def __init__(self, cfg: Config, *, on_ready: Callable[[JobView], None] | None = None,
                 clock: Callable[[], float] = time.time, client_suffix: str = "") -> None:
        self.cfg = cfg
        self.data_dir = cfg.data_path
        self.ledger = Ledger(ledger_path(self.data_dir))
        self.topics = Topics(cfg.mqtt.root)
        self.booth = cfg.booth_id
        self.on_ready = on_ready
        self.clock = clock
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self._tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._encode = ThreadPoolExecutor(2, thread_name_prefix="encode")
        self._capture = ThreadPoolExecutor(1, thread_name_prefix="capture")
        self._acks: list[tuple[str, PublishHandle]] = []
        self._workers: dict[str, bool] = {}
        self._done = threading.Condition()
        self._views: dict[str, JobView] = {}
        self._store_thread: threading.Thread | None = None
        self._running = False
        self._last_redispatch_check = 0.0
        self.redispatches = 0
        # True when the workers run without an AI key: the last finished job got the local
        # effect with no error (a fallback has an error). None until a job says either way.
        self.local_only: bool | None = None
        self.ignored_messages = 0
        self.branding = Branding.from_config(cfg)
        self.mqtt = MqttConnection(
            cfg.mqtt.url, f"kiosk-{self.booth}{client_suffix}",
            availability_topic=self.topics.availability(self.booth),
            subscriptions=[(self.topics.booth_statuses(self.booth), 1),
                           (self.topics.booth_results(self.booth), 1),
                           (self.topics.all_worker_availability(), 1)],
            on_message=lambda msg: self._tasks.put(lambda: self._on_message(msg)),
            keepalive_s=cfg.mqtt.keepalive_s, ca_file=cfg.mqtt.ca_file or None)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> "JobController":
        """Connect (in the background), then re-publish every job the broker never acked."""
        self._running = True
        self._store_thread = threading.Thread(target=self._store_loop, name="job-store",
                                              daemon=True)
        self._store_thread.start()
        self._tasks.put(self._recover)
        self.mqtt.start()
        return self

    def stop(self) -> None:
        self._running = False
        self._capture.shutdown(wait=True, cancel_futures=False)
        self._encode.shutdown(wait=True)
        self._tasks.put(None)
        if self._store_thread is not None:
            self._store_thread.join(timeout=5)
        self.mqtt.stop()
        self.ledger.close()

    @property
    def ai_online(self) -> bool | None:
        """True if any worker says online, False if all say offline, None before any word."""
        if not self._workers:
            return None
        return any(self._workers.values())

    # ----------------------------------------------------------------- submitting
    def submit_capture(self, grab: Callable[[], np.ndarray], style: str,
                       display_size: tuple[int, int] | None = None) -> str:
        """Take the shot with `grab` (blocking camera call) off the main thread; returns the id."""
        job_id = new_job_id()
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        created = self.clock()
        self.events.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))

        def task() -> None:
            try:
                rgb = grab()
            except Exception as exc:
                log.error("capture failed: %s", exc)
                self.events.put(JobEvent("capture_failed", JobView(job_id, style, created,
                                                                   JobStatus.FAILED),
                                         message=str(exc), reason="camera"))
                return
            # Start the encodes first: the screen's copy of the shot is made while they run.
            encodes = self._start_encodes(rgb, None)
            if display_size:
                self.events.put(JobEvent("captured", JobView(job_id, style, created,
                                                             JobStatus.PENDING),
                                         image=fit_inside(rgb, display_size)))
            self._store_and_publish(job_id, style, created, rgb, encodes=encodes)

        self._capture.submit(task)
        return job_id

    def submit_jpeg(self, data: bytes, style: str | None = None) -> str:
        """A given photo (JPEG/PNG bytes) through the same pipeline. Bad bytes: ValueError."""
        if sniff_image_type(data) is None:
            raise ValueError("not a JPEG or PNG file")
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("the photo cannot be decoded")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        job_id = new_job_id()
        created = self.clock()
        self.events.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))
        original = data if sniff_image_type(data) == "image/jpeg" else None
        self._capture.submit(self._store_and_publish, job_id, style, created, rgb, original)
        return job_id

    def _start_encodes(self, rgb: np.ndarray, original: bytes | None) -> tuple:
        """Encode the full-resolution original and the AI copy in parallel (OpenCV frees the GIL)."""
        k = self.cfg.kiosk
        f_orig = None if original is not None else self._encode.submit(
            encode_jpeg, rgb, k.jpeg_quality, rgb=True)
        f_ai = self._encode.submit(lambda: encode_jpeg(shrink(rgb, k.ai_long_side),
                                                       k.jpeg_quality, rgb=True))
        return f_orig, f_ai

    def _store_and_publish(self, job_id: str, style: str, created: float, rgb: np.ndarray,
                           original: bytes | None = None, encodes: tuple | None = None) -> None:
        folder = photo_dir(self.data_dir, created)
        orig_path = folder / f"{job_id}.jpg"
        ai_path = folder / f"{job_id}-ai.jpg"
        try:
            f_orig, f_ai = encodes or self._start_encodes(rgb, original)
            orig_bytes = original if original is not None else f_orig.result()
            ai_bytes = f_ai.result()
            atomic_write(orig_path, orig_bytes)
            atomic_write(ai_path, ai_bytes)
            iso = utc_now_iso()
            self.ledger.insert_pending(job_id, self.booth, style, created, iso,
                                       str(orig_path.relative_to(self.data_dir)),
                                       str(ai_path.relative_to(self.data_dir)))
        except Exception as exc:  # disk full, encoder failure: the guest gets an error screen
            storage = isinstance(exc, (OSError, sqlite3.Error))
            log.error("storing shot %s failed (%s): %s", job_id,
                      "storage" if storage else "internal", exc)
            for path in (orig_path, ai_path):  # no orphan photo without its ledger row
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            self.events.put(JobEvent("capture_failed", JobView(job_id, style, created,
                                                               JobStatus.FAILED),
                                     message=str(exc),
                                     reason="storage" if storage else "internal"))
            return
        _crash_point("after_ledger")
        self._publish_job(job_id, style, iso, ai_bytes, pending_status=True)
        row = self.ledger.get(job_id)
        if row is not None:
            self._emit_row("stored", row)

    def _publish_job(self, job_id: str, style: str, created_iso: str, ai_bytes: bytes,
                     pending_status: bool) -> None:
        if pending_status:
            st = Status(job_id, self.booth, JobStatus.PENDING)
            self.mqtt.publish(self.topics.status(self.booth, job_id), st.to_json(), qos=1,
                              retain=True)
        meta = JobMeta(job_id, style, created_iso)
        handle = self.mqtt.publish(self.topics.jobs(self.booth), ai_bytes, qos=1,
                                   properties=meta.to_properties())
        self.ledger.mark_dispatched(job_id, self.clock())
        self._tasks.put(lambda: self._acks.append((job_id, handle)))

    # ----------------------------------------------------------------- UI side
    def poll(self, limit: int = 200) -> list[JobEvent]:
        """Drain pending events without blocking (call once per frame)."""
        out = []
        for _ in range(limit):
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                break
        return out

    def view(self, job_id: str) -> JobView | None:
        row = self.ledger.get(job_id)
        return self._view(row) if row else None

    def recent(self, limit: int) -> list[JobView]:
        return [self._view(r) for r in self.ledger.recent(limit)]

    def wait_done(self, job_id: str, timeout: float) -> JobView | None:
        """Block until the job is ready or failed (headless callers only, never the UI)."""
        end = time.monotonic() + timeout
        with self._done:
            while True:
                v = self._views.get(job_id)
                if v is not None and v.finished:
                    return v
                left = end - time.monotonic()
                if left <= 0:
                    return self.view(job_id)
                self._done.wait(min(left, 0.5))

    # ----------------------------------------------------------------- store thread
    def _store_loop(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=0.05)  # also the pace of ack and re-dispatch checks
            except queue.Empty:
                task = False
            if task is None:
                return
            try:
                if task:
                    task()
                self._tick()
            except Exception:
                log.exception("job store task failed")

    def _tick(self) -> None:
        still = []
        for job_id, handle in self._acks:
            if handle.acked:
                if handle.ok:
                    self.ledger.mark_sent(job_id, self.clock())
                else:
                    log.warning("job %s publish refused by the broker: %s", job_id, handle.reason)
            else:
                still.append((job_id, handle))
        self._acks = still
        now = self.clock()
        if now - self._last_redispatch_check >= 0.5:
            self._last_redispatch_check = now
            for row in self.ledger.due_for_redispatch(now, self.cfg.kiosk.redispatch_s):
                if any(j == row.job_id for j, _ in self._acks):
                    continue
                self._republish(row, "no worker started it within "
                                f"{self.cfg.kiosk.redispatch_s:g} s")
                self.redispatches += 1

    def _republish(self, row: JobRow, why: str) -> None:
        path = self.data_dir / row.ai_path
        try:
            ai_bytes = path.read_bytes()
        except OSError as exc:
            log.error("job %s: AI copy %s unreadable (%s); marking failed", row.job_id, path, exc)
            st = Status(row.job_id, self.booth, JobStatus.FAILED,
                        error=JobError.for_guest(ErrorKind.INTERNAL))
            self.ledger.apply_status(st, self.clock())
            self._emit_row("status", self.ledger.get(row.job_id))
            return
        log.info("job %s: publishing again (%s)", row.job_id, why)
        self._publish_job(row.job_id, row.style, row.created_iso, ai_bytes,
                          pending_status=row.sent_at is None)

    def _recover(self) -> None:
        """On start: re-publish jobs the broker never acknowledged; tell the UI what is open."""
        for row in self.ledger.unsent():
            self._republish(row, "not acknowledged before the last shutdown")
        for row in self.ledger.unfinished():
            self._emit_row("status", row)

    def _on_message(self, msg) -> None:
        try:
            parsed = self.topics.parse(msg.topic)
        except ProtocolError as exc:
            self._ignore(msg.topic, exc)
            return
        if parsed.kind is TopicKind.WORKER_AVAILABILITY:
            if not msg.payload:
                self._workers.pop(parsed.worker, None)
            else:
                try:
                    self._workers[parsed.worker] = parse_availability(msg.payload)
                except ProtocolError as exc:
                    self._ignore(msg.topic, exc)
                    return
            self.events.put(JobEvent("availability"))
            return
        if parsed.booth != self.booth or not msg.payload:
            return  # another booth, or a cleared retained message
        if parsed.kind is TopicKind.STATUS:
            self._on_status(parsed.job_id, msg.payload, msg.topic)
        elif parsed.kind is TopicKind.RESULTS:
            self._on_result(parsed.job_id, msg, msg.topic)

    def _ignore(self, topic: str, why: object) -> None:
        self.ignored_messages += 1
        log.warning("ignored a malformed message on %s: %s", topic, why)

    def _on_status(self, job_id: str, payload: bytes, topic: str) -> None:
        try:
            st = Status.from_json(payload)
        except ProtocolError as exc:
            self._ignore(topic, exc)
            return
        if st.job_id != job_id or st.booth_id != self.booth:
            self._ignore(topic, f"status names job {st.job_id} of booth {st.booth_id}")
            return
        if self.ledger.apply_status(st, self.clock()):
            log.info("job %s: %s%s", job_id, st.status.value,
                     f" ({st.error.kind.value})" if st.error else "")
            if st.status is JobStatus.COMPLETED and st.effect is not None:
                self.local_only = st.effect.value == "local" and st.error is None
            self._emit_row("status", self.ledger.get(job_id))

    def _on_result(self, job_id: str, msg, topic: str) -> None:
        row = self.ledger.get(job_id)
        if row is None:
            log.info("result for unknown job %s ignored", job_id)
            return
        clear = lambda: self.mqtt.publish(topic, b"", qos=1, retain=True)  # noqa: E731
        if row.result_path is not None:
            log.info("job %s: duplicate result ignored (the first result wins)", job_id)
            clear()
            return
        data = bytes(msg.payload)
        kind = sniff_image_type(data)
        if kind is None or len(data) > MAX_RESULT_BYTES or \
                cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_8) is None:
            self._ignore(topic, f"result is not a decodable JPEG/PNG ({len(data)} bytes)")
            return
        if self.branding is not None:
            try:
                data, kind = self.branding.apply(data, row.created_at), "image/jpeg"
            except Exception:  # the guest still gets the picture, unbranded
                log.exception("job %s: branding the result failed; storing it as it came",
                              job_id)
        ext = ".png" if kind == "image/png" else ".jpg"
        path = photo_dir(self.data_dir, row.created_at) / f"{job_id}-result{ext}"
        atomic_write(path, data)
        token = self.ledger.store_result(job_id, str(path.relative_to(self.data_dir)))
        clear()
        if token is None:
            return
        log.info("job %s: result stored (%d bytes)", job_id, len(data))
        self._emit_row("status", self.ledger.get(job_id))

    def _emit_row(self, kind: str, row: JobRow | None) -> None:
        if row is None:
            return
        view = self._view(row)
        before = self._views.get(view.job_id)
        with self._done:
            self._views[view.job_id] = view
            self._done.notify_all()
        became_ready = view.ready and not (before is not None and before.ready)
        self.events.put(JobEvent("ready" if became_ready else kind, view))
        if became_ready and self.on_ready is not None:
            try:
                self.on_ready(view)
            except Exception:
                log.exception("on_ready hook failed")

    def _view(self, row: JobRow) -> JobView:
        return JobView(
            job_id=row.job_id, style=row.style, created_at=row.created_at, status=row.status,
            effect=row.effect, error=row.error, attempt=row.attempt,
            ai_path=self.data_dir / row.ai_path,
            result_path=self.data_dir / row.result_path if row.result_path else None,
            token=row.token, share_url=share_url(self.cfg, row.token) if row.token else None,
            processing_at=row.processing_at, finished_at=row.finished_at, code=row.code)

