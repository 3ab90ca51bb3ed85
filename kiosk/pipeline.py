"""The capture pipeline and job tracking, without pygame (the kiosk and `booth snap` share it).

Threads, so the frame loop never waits:
- paho's network thread only puts incoming messages on `_tasks`;
- one *store* thread runs `_tasks` in order: statuses into the ledger, storing results (with the
  event's frame and caption burned in first: `kiosk/branding.py`), clearing retained results,
  outbox acks and re-dispatch (kiosk/redispatch.py: timed on the monotonic clock; a job goes out
  again when no worker started it, when it has no final status well past the worker's deadline,
  and at once when a worker comes online). A status or result that cannot be stored (a full
  disk, a busy or failing ledger) is held and tried again until it is stored, so the guest's
  screen follows by itself once space returns;
- a capture thread takes the still and, with a small encode pool, writes a new job: files, then
  the `pending` ledger row, then the publish (transactional outbox; the store thread marks the
  row sent when the broker acks).
The UI reads `poll()` (a non-blocking drain of `JobEvent`s); headless callers use `wait_done()`.

What the guest saw is what they get: the preview is the camera stream cover-cropped to the
screen, so a shot from the kiosk is cropped to the screen's aspect ratio around its centre
(`crop_to_aspect`) before it is stored. Each row also records the boot and boot time of the shot
(booth/clock.py), so its link and its retention survive a clock jump.

How long a guest waits on screen for a job is decided here too (`wait_phase`).
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

from booth.clock import BootStamp, Clock, SystemClock, stamp
from booth.config import Config
from booth.fsutil import atomic_write
from booth.healthboard import HealthBoard
from booth.images import (MAX_BYTES, RESULT_MAX_PIXELS, BadImage, decode, encode_jpeg,
                          fit_inside, inspect, shrink)
from booth.mqtt import MqttConnection, PublishHandle
from booth.protocol import (ErrorKind, JobError, JobMeta, JobStatus, ProtocolError, Status,
                            TopicKind, Topics, new_job_id, parse_availability, utc_now_iso)
from jobstore.ledger import JobRow, ledger_path, photo_dir
from jobstore.links import new_token, share_url
from jobstore.names import ai_name, original_name, result_name
from jobstore.recovery import open_ledger
from jobstore.uploads import CloudLink, Uploads
from kiosk.redispatch import Redispatcher
from kiosk.branding import Branding

log = logging.getLogger(__name__)

CLOUD_POLL_S = 0.25  # how often the store thread looks for newly confirmed cloud links
# Storing a held message again after a storage error: 1 s, 2 s, 4 s … then every 15 s.
STORE_RETRY_MIN_S = 1.0
STORE_RETRY_MAX_S = 15.0
MAX_HELD_BYTES = 64_000_000  # beyond this a held result is dropped (it stays retained)
CRASH_ENV = "BOOTH_KIOSK_CRASH_AT"  # tests: SIGKILL ourselves at a named point (kill tests)
WAIT_NOTICE_S = 5.0      # the end of kiosk.max_wait_s: "your photo will appear in the strip"
WORKERS_WORD_S = 2.0     # after connecting, retained availabilities have arrived by then


def crop_to_aspect(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The largest centred part of `image` with the aspect ratio of `size` (w, h); no scaling,
    so the shot keeps its full resolution. A view, not a copy."""
    h, w = image.shape[:2]
    tw, th = size
    if tw <= 0 or th <= 0:
        return image
    if w * th > h * tw:  # too wide
        nw = max(1, round(h * tw / th))
        x = (w - nw) // 2
        return image[:, x:x + nw]
    nh = max(1, round(w * th / tw))
    y = (h - nh) // 2
    return image[y:y + nh, :]


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
    share_url: str | None = None  # the LAN link (booth Wi-Fi)
    processing_at: float | None = None
    # [cloud]: the cloud link, set once the share process confirmed the upload (jobstore/uploads.py)
    cloud_url: str | None = None
    cloud_expires_at: float | None = None
    finished_at: float | None = None
    code: str | None = None        # the short code a guest may type instead of scanning

    @property
    def link(self) -> str | None:
        """The link to show: the cloud link once confirmed, else the LAN link."""
        return self.cloud_url or self.share_url

    @property
    def link_kind(self) -> str | None:
        """'cloud' (works anywhere), 'lan' (on the booth Wi-Fi) or None (no picture yet)."""
        return "cloud" if self.cloud_url else "lan" if self.share_url else None

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
    (photos written and the job published), `status`, `ready`, `availability`, `cloud` (the
    job's cloud link was confirmed), `store_failed` (a status or result for this job could
    not be stored yet: the disk is full or the ledger failing; it is retried, `message` says
    why), and `deleted` (the share process deleted the job: only `job.job_id` means anything)."""

    kind: str
    job: JobView | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    message: str = ""
    reason: str = ""  # capture_failed: camera, storage or internal


class JobController:
    """Captures, stores and publishes jobs and follows them to the end (no pygame)."""

    def __init__(self, cfg: Config, *, on_ready: Callable[[JobView], None] | None = None,
                 clock: Callable[[], float] = time.time, client_suffix: str = "",
                 booth_clock: Clock | None = None,
                 mono: Callable[[], float] = time.monotonic) -> None:
        """`clock` is the wall clock (ledger times); `mono` times re-dispatch and waits."""
        self.cfg = cfg
        self.booth_clock = booth_clock or SystemClock(cfg.trust_clock)
        self.data_dir = cfg.data_path
        self.ledger = open_ledger(cfg)
        # [cloud]: read-only; the share process uploads and confirms (jobstore/uploads.py)
        self.uploads = Uploads(ledger_path(self.data_dir)) if cfg.cloud.enabled else None
        self._cloud_mark = 0.0
        self._cloud_at_mark: set[str] = set()
        self._cloud_check = 0.0
        self.topics = Topics(cfg.mqtt.root)
        self.booth = cfg.booth_id
        self.on_ready = on_ready
        self.clock = clock
        self.mono = mono
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
        self._last_redispatch_check = -1e9
        self._last_trouble_log = -1e9
        self._connected_at: float | None = None
        self.redispatch = Redispatcher(cfg.kiosk.redispatch_s, cfg.worker.deadline_s, mono)
        self.redispatches = 0
        # True when the workers run without an AI key: the last finished job got the local
        # effect with no error (a fallback has an error). None until a job says either way.
        self.local_only: bool | None = None
        self.ignored_messages = 0
        self._held: list[_Held] = []  # messages not stored yet (storage errors), oldest first
        # The operator's view (kiosk/operator.py): the workers' availability and health, and the
        # last thing that went wrong here ({"kind", "detail", "at"}; None: nothing yet).
        self.board = HealthBoard(self.topics, self.booth)
        self.last_error: dict | None = None
        self.branding = Branding.from_config(cfg)
        self.mqtt = MqttConnection(
            cfg.mqtt.url, f"kiosk-{self.booth}{client_suffix}",
            availability_topic=self.topics.availability(self.booth),
            subscriptions=[(self.topics.booth_statuses(self.booth), 1),
                           (self.topics.booth_results(self.booth), 1),
                           (self.topics.all_worker_availability(), 1),
                           (self.topics.all_worker_health(), 1)],
            on_message=lambda msg: self._tasks.put(lambda: self._on_message(msg)),
            on_connect=lambda _present: setattr(self, "_connected_at", self.mono()),
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
        if self.uploads is not None:
            self.uploads.close()

    @property
    def ai_online(self) -> bool | None:
        """True if any worker says online; False if all say offline, or none ever announced
        itself a while after connecting (photos are paused); None before we can tell."""
        if not self._workers:
            connected = self._connected_at
            if connected is None or not self.mqtt.connected or \
                    self.mono() - connected < WORKERS_WORD_S:
                return None
            return False
        return any(self._workers.values())

    @property
    def held(self) -> int:
        """Statuses and results received but not stored yet (a full disk, a failing ledger)."""
        return len(self._held)

    def _trouble(self, kind: str, detail: object) -> None:
        self.last_error = {"kind": kind, "detail": str(detail)[:300], "at": utc_now_iso()}

    def wait_phase(self, job: JobView | None, waited_s: float) -> str:
        """What the processing screen does for a guest who has waited `waited_s` for `job`:
        `wait`; then `notice` (the photo will appear in the recent strip, with its QR) for the
        last WAIT_NOTICE_S of kiosk.max_wait_s; then `leave` (back to the start). A finished job
        is the result screen's, not this decision's."""
        if job is not None and job.finished:
            return "wait"
        max_wait = self.cfg.kiosk.max_wait_s
        if waited_s >= max_wait:
            return "leave"
        if waited_s >= max_wait - WAIT_NOTICE_S:
            return "notice"
        return "wait"

    # ----------------------------------------------------------------- submitting
    def submit_capture(self, grab: Callable[[], np.ndarray], style: str,
                       display_size: tuple[int, int] | None = None) -> str:
        """Take the shot with `grab` (blocking camera call) off the main thread; returns the id.
        With `display_size` the shot is cropped to the screen's aspect ratio (the preview's
        framing)."""
        job_id = new_job_id()
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        created = self.clock()
        self.events.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))

        def task() -> None:
            when = stamp(self.booth_clock)  # here, not on the caller's (UI) thread
            try:
                rgb = grab()
                if display_size:
                    rgb = np.ascontiguousarray(crop_to_aspect(rgb, display_size))
            except Exception as exc:
                log.error("capture failed: %s", exc)
                self._trouble("camera", f"capture failed: {exc}")
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
            self._store_and_publish(job_id, style, created, rgb, encodes=encodes,
                                    when=when)

        self._capture.submit(task)
        return job_id

    def submit_jpeg(self, data: bytes, style: str | None = None) -> str:
        """A given photo (JPEG/PNG bytes) through the same pipeline. Bad bytes: ValueError.

        The image guard reads the header first: a photo over the byte or pixel limits is
        refused before any pixel is decoded."""
        try:
            info = inspect(data)
            bgr = decode(data, info)
        except BadImage as exc:
            raise ValueError(f"the photo cannot be used: {exc}") from None
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        job_id = new_job_id()
        created = self.clock()
        self.events.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))
        original = data if info.kind == "image/jpeg" else None
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
                           original: bytes | None = None, encodes: tuple | None = None,
                           when: BootStamp | None = None) -> None:
        when = when or stamp(self.booth_clock)
        folder = photo_dir(self.data_dir, created)
        orig_path = folder / original_name(job_id)
        ai_path = folder / ai_name(job_id)
        try:
            f_orig, f_ai = encodes or self._start_encodes(rgb, original)
            orig_bytes = original if original is not None else f_orig.result()
            ai_bytes = f_ai.result()
            atomic_write(orig_path, orig_bytes)
            atomic_write(ai_path, ai_bytes)
            iso = utc_now_iso()
            self.ledger.insert_pending(job_id, self.booth, style, created, iso,
                                       str(orig_path.relative_to(self.data_dir)),
                                       str(ai_path.relative_to(self.data_dir)), stamp=when)
        except Exception as exc:  # disk full, encoder failure: the guest gets an error screen
            storage = isinstance(exc, (OSError, sqlite3.Error))
            log.error("storing shot %s failed (%s): %s", job_id,
                      "storage" if storage else "internal", exc)
            self._trouble("storage" if storage else "internal", f"storing a shot failed: {exc}")
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

        def sent() -> None:  # on the store thread, which owns the re-dispatch state
            self._acks.append((job_id, handle))
            if job_id not in self.redispatch:
                row = self.ledger.get(job_id)
                age = self.clock() - row.created_at if row is not None else 0.0
                self.redispatch.watch(job_id, age)
            self.redispatch.dispatched(job_id)
        self._tasks.put(sent)

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
        if row is None:
            return None
        link = self.uploads.link(job_id) if self.uploads is not None and row.token else None
        return self._view(row, link)

    def recent(self, limit: int) -> list[JobView]:
        rows = self.ledger.recent(limit)
        links = self.uploads.links(r.job_id for r in rows) if self.uploads is not None else {}
        return [self._view(r, links.get(r.job_id)) for r in rows]

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
                self._retry_held()
            except (OSError, sqlite3.OperationalError) as exc:
                self._storage_trouble(exc)
            except Exception:
                log.exception("job store task failed")

    def _storage_trouble(self, exc: Exception) -> None:
        """A ledger write of the outbox (sent, re-dispatch) failed: the disk is full or the
        ledger busy. Slow the re-dispatch down (each try publishes the job again) and say so
        once in a while; everything is tried again on later ticks."""
        now = self.clock()
        # (the re-dispatch check runs on the monotonic clock: a wall time here stopped it for good)
        self._last_redispatch_check = self.mono() + STORE_RETRY_MAX_S
        self._trouble("storage", f"cannot write the ledger: {exc}")
        if now - self._last_trouble_log >= STORE_RETRY_MAX_S:
            self._last_trouble_log = now
            log.error("job store: cannot write the ledger (%s); trying again", exc)

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
        now = self.mono()
        if now - self._last_redispatch_check >= 0.5:
            self._last_redispatch_check = now
            for job_id, why in self.redispatch.due():
                self._redispatch(job_id, why)
        if self.uploads is not None and now - self._cloud_check >= CLOUD_POLL_S:
            self._cloud_check = now
            self._new_cloud_links()

    def _new_cloud_links(self) -> None:
        """Cloud links confirmed since the last look become `cloud` events (one indexed query).

        Views read from the ledger (`recent`, `view`) carry their link already; the mark starts
        a minute before the first look so an upload confirmed while the screen restored its
        state is not missed."""
        if not self._cloud_mark:
            self._cloud_mark = self.clock() - 60
        for job_id, link in self.uploads.confirmed_since(self._cloud_mark):
            if link.uploaded_at > self._cloud_mark:
                self._cloud_mark, self._cloud_at_mark = link.uploaded_at, set()
            if job_id in self._cloud_at_mark:
                continue  # seen on an earlier look (same confirmation time as the mark)
            self._cloud_at_mark.add(job_id)
            row = self.ledger.get(job_id)
            if row is not None:
                self._emit_row("cloud", row, link)

    def _redispatch(self, job_id: str, why: str, even_unacked: bool = False) -> None:
        """Publish a followed job again, unless the broker has not acked its last publish yet
        (paho resends that one by itself) — `even_unacked` when a worker just came online: that
        publish may have reached the broker before the worker's subscription did."""
        if not even_unacked and any(j == job_id for j, _ in self._acks):
            return
        row = self.ledger.get(job_id)
        if row is None or (row.status.is_final and (row.result_path or
                                                     row.status is JobStatus.FAILED)):
            self.redispatch.done(job_id)
            return
        self.redispatch.dispatched(job_id)  # also when the copy is unreadable: no busy loop
        self._republish(row, why)
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
        """On start: re-publish jobs the broker never acknowledged, follow every unfinished job
        for re-dispatch (its ledger times turned into monotonic ones); tell the UI what is open.
        """
        self.booth_clock.synchronized()  # the first check may run timedatectl: not in a shot
        now = self.clock()
        for row in self.ledger.unfinished():
            last = row.last_dispatch or row.sent_at
            self.redispatch.watch(row.job_id, now - row.created_at,
                                  now - last if last is not None else None,
                                  started=row.status is not JobStatus.PENDING)
        for row in self.ledger.unsent():
            self._republish(row, "not acknowledged before the last shutdown")
        for row in self.ledger.unfinished():
            self._emit_row("status", row)

    def _on_message(self, msg, held: "_Held | None" = None) -> None:
        try:
            parsed = self.topics.parse(msg.topic)
        except ProtocolError as exc:
            self._ignore(msg.topic, exc)
            return
        if parsed.kind is TopicKind.WORKER_HEALTH:
            self.board.feed(msg.topic, msg.payload)
            return
        if parsed.kind is TopicKind.WORKER_AVAILABILITY:
            self.board.feed(msg.topic, msg.payload)
            was = self._workers.get(parsed.worker)
            if not msg.payload:
                self._workers.pop(parsed.worker, None)
            else:
                try:
                    self._workers[parsed.worker] = parse_availability(msg.payload)
                except ProtocolError as exc:
                    self._ignore(msg.topic, exc)
                    return
            if self._workers.get(parsed.worker) and not was:
                # Its subscription is in place before it says so (booth/mqtt.py): jobs that
                # reached no one, or wait behind a busy worker, go out now.
                for job_id in self.redispatch.waiting():
                    self._redispatch(job_id, f"worker {parsed.worker} came online",
                                     even_unacked=True)
            self.events.put(JobEvent("availability"))
            return
        if parsed.booth != self.booth:
            return  # another booth
        if not msg.payload:
            if parsed.kind is TopicKind.STATUS:
                self._cleared(parsed.job_id)
            return  # a cleared retained message
        try:
            if parsed.kind is TopicKind.STATUS:
                self._on_status(parsed.job_id, msg.payload, msg.topic)
            elif parsed.kind is TopicKind.RESULTS:
                self._on_result(parsed.job_id, msg, msg.topic)
        except (OSError, sqlite3.OperationalError) as exc:
            self._hold(parsed.job_id, msg, exc, held)

    def _cleared(self, job_id: str | None) -> None:
        """A job's retained status was cleared: when its row is gone too, the share process
        deleted it (retention, or the operator on the dashboard): it leaves the screens."""
        if job_id is None or self._row_quietly(job_id) is not None:
            return
        self.redispatch.done(job_id)
        with self._done:
            self._views.pop(job_id, None)
        self.events.put(JobEvent("deleted", JobView(job_id, "", 0.0, JobStatus.FAILED)))

    # ----------------------------------------------------------------- storage faults
    def _hold(self, job_id: str, msg, exc: Exception, held: "_Held | None") -> None:
        """Keep a message that could not be stored; `_retry_held` stores it later."""
        now = time.monotonic()
        if held is not None:  # a retry failed again: back off
            held.tries += 1
            held.due = now + min(STORE_RETRY_MAX_S, STORE_RETRY_MIN_S * 2 ** held.tries)
            self._held.insert(0, held)  # keep the original order
            return
        size = len(msg.payload or b"")
        while self._held and sum(h.size for h in self._held) + size > MAX_HELD_BYTES:
            dropped = self._held.pop(0)
            log.error("job %s: dropping a held message (%d bytes) to bound memory; a retained "
                      "result is stored again after the next kiosk start", dropped.job_id,
                      dropped.size)
        self._held.append(_Held(job_id, msg, size, now + STORE_RETRY_MIN_S))
        log.error("job %s: cannot store its %s (%s); keeping it and trying again until there "
                  "is space", job_id, msg.topic.split("/")[-2], exc)
        self._trouble("storage", f"cannot store a {msg.topic.split('/')[-2]}: {exc}")
        row = self._row_quietly(job_id)
        if row is not None:
            self.events.put(JobEvent("store_failed", self._view(row), message=str(exc),
                                     reason="storage"))

    def _retry_held(self) -> None:
        if not self._held or self._held[0].due > time.monotonic():
            return
        waiting, self._held = self._held, []
        for i, held in enumerate(waiting):
            if held.due > time.monotonic():
                self._held.extend(waiting[i:])
                break
            before = len(self._held)
            self._on_message(held.msg, held)
            if len(self._held) > before:  # still failing: later ones wait their turn
                self._held.extend(waiting[i + 1:])
                break
            log.info("job %s: stored after %d %s", held.job_id, held.tries + 1,
                     "retry" if held.tries == 0 else "retries")

    def _row_quietly(self, job_id: str) -> JobRow | None:
        try:
            return self.ledger.get(job_id)
        except sqlite3.Error:
            return None

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
            row = self.ledger.get(job_id)
            if st.style_used is not None and row is not None and st.style_used != row.style:
                log.warning("job %s: the worker does not know style %r; it used %r", job_id,
                            row.style, st.style_used)
            self._follow(row)
            self._emit_row("status", row)

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
        try:
            # the image guard: byte and pixel limits from the header before any decoding, then
            # the whole stream checked (at 1/8 scale for a JPEG)
            info = inspect(data, MAX_BYTES, RESULT_MAX_PIXELS)
            decode(data, info, reduce=8)
        except BadImage as exc:
            self._ignore(topic, f"result refused ({len(data)} bytes): {exc}")
            clear()  # it would be refused again on every restart
            return
        ext = info.extension
        if self.branding is not None:
            try:
                data, ext = self.branding.apply(data, row.created_at), ".jpg"
            except Exception:  # the guest still gets the picture, unbranded
                log.exception("job %s: branding the result failed; storing it as it came",
                              job_id)
        token = new_token()
        path = photo_dir(self.data_dir, row.created_at) / result_name(job_id, token, ext)
        atomic_write(path, data)
        try:
            stored = self.ledger.store_result(job_id, str(path.relative_to(self.data_dir)),
                                              token)
        except sqlite3.Error:
            path.unlink(missing_ok=True)  # the next try writes it again
            raise
        clear()
        if stored is None:
            path.unlink(missing_ok=True)
            return
        log.info("job %s: result stored (%d bytes)", job_id, len(data))
        row = self.ledger.get(job_id)
        self._follow(row)
        self._emit_row("status", row)

    def _follow(self, row: JobRow | None) -> None:
        """Keep the re-dispatch state in step with the ledger: a started job waits for its
        final status and result; a failed one, or one completed with its result, is done."""
        if row is None:
            return
        if row.status is JobStatus.FAILED or (row.status.is_final and row.result_path):
            self.redispatch.done(row.job_id)
        elif row.status is not JobStatus.PENDING:
            self.redispatch.started(row.job_id)

    def _emit_row(self, kind: str, row: JobRow | None, link: CloudLink | None = None) -> None:
        if row is None:
            return
        if link is None and self.uploads is not None and row.token:
            link = self.uploads.link(row.job_id)
        view = self._view(row, link)
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

    def _view(self, row: JobRow, link: CloudLink | None = None) -> JobView:
        live = link is not None and link.live(self.clock())
        return JobView(
            job_id=row.job_id, style=row.style, created_at=row.created_at, status=row.status,
            effect=row.effect, error=row.error, attempt=row.attempt,
            ai_path=self.data_dir / row.ai_path,
            result_path=self.data_dir / row.result_path if row.result_path else None,
            token=row.token, share_url=share_url(self.cfg, row.token) if row.token else None,
            processing_at=row.processing_at, finished_at=row.finished_at, code=row.code,
            cloud_url=link.url if live and link else None,
            cloud_expires_at=link.expires_at if live and link else None)



@dataclass
class _Held:
    """A received status or result waiting to be stored (see `JobController._hold`)."""

    job_id: str
    msg: object = field(repr=False)
    size: int
    due: float
    tries: int = 0
