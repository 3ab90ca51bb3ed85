"""The capture pipeline and job tracking, without pygame (the kiosk and `booth snap` share it).

Threads, so the frame loop never waits:
- paho's network thread only puts incoming messages on `_tasks`;
- one *store* thread runs `_tasks` in order: statuses into the ledger, storing results
  (kiosk/jobs/results.py), clearing retained results, outbox acks and re-dispatch (kiosk/jobs/outbox.py:
  a job goes out again when no worker started it, when it has no final status well past the
  worker's deadline, and at once when a worker comes online). A status or result that cannot
  be stored (a full
  disk, a busy or failing ledger) is held (kiosk/jobs/held.py) and tried again until it is stored,
  so the guest's screen follows by itself once space returns;
- a capture thread takes the still and writes a new job (kiosk/jobs/capture.py: files, then the
  `pending` ledger row), then publishes it (transactional outbox; the store thread marks the
  row sent when the broker acks).
The UI reads `poll()` (a non-blocking drain of `JobEvent`s, kiosk/jobs/views.py); headless callers
use `wait_done()`.

What the guest saw is what they get: the preview is the camera stream cover-cropped to the
screen, so a shot from the kiosk is cropped to the screen's aspect ratio around its centre
(`crop_to_aspect`) before it is stored. Each row also records the boot and boot time of the shot
(booth/clock.py), so its link and its retention survive a clock jump.

How long a guest waits on screen for a job is decided here too (`wait_phase`).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from booth.clock import BootStamp, Clock, SystemClock, stamp
from booth.config import Config
from booth.healthboard import HealthBoard
from booth.images import BadImage, decode, fit_inside, inspect
from booth.mqtt import MqttConnection
from booth.protocol import (
    JobStatus,
    ProtocolError,
    Status,
    TopicKind,
    Topics,
    new_job_id,
    parse_availability,
    utc_now_iso,
)
from jobstore.ledger import JobRow, ledger_path
from jobstore.recovery import open_ledger
from jobstore.uploads import Uploads
from kiosk.jobs.branding import Branding
from kiosk.jobs.capture import Encodes, ShotWriter, crash_point, crop_to_aspect
from kiosk.jobs.held import STORE_RETRY_MAX_S, Held, HeldMessages
from kiosk.jobs.outbox import Outbox
from kiosk.jobs.results import ResultStore
from kiosk.jobs.views import JobEvent, JobView, JobViews

log = logging.getLogger(__name__)

CLOUD_POLL_S = 0.25  # how often the store thread looks for newly confirmed cloud links
WAIT_NOTICE_S = 5.0  # the end of kiosk.max_wait_s: "your photo will appear in the strip"
WORKERS_WORD_S = 2.0  # after connecting, retained availabilities have arrived by then


class JobController:
    """Captures, stores and publishes jobs and follows them to the end (no pygame)."""

    def __init__(
        self,
        cfg: Config,
        *,
        on_ready: Callable[[JobView], None] | None = None,
        clock: Callable[[], float] = time.time,
        client_suffix: str = "",
        booth_clock: Clock | None = None,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
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
        self.clock = clock
        self.mono = mono
        self.views = JobViews(cfg, self.uploads, clock, on_ready)
        self._tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.shots = ShotWriter(cfg, self.ledger, self.booth_clock)
        self._capture = ThreadPoolExecutor(1, thread_name_prefix="capture")
        self._store_thread: threading.Thread | None = None
        self._running = False
        self._last_trouble_log = -1e9
        self._connected_at: float | None = None
        # True when the workers run without an AI key: the last finished job got the local
        # effect with no error (a fallback has an error). None until a job says either way.
        self.local_only: bool | None = None
        self.ignored_messages = 0
        self._held = HeldMessages()  # messages not stored yet (storage errors)
        # The operator's view (kiosk/healthwatch.py): the workers' availability and health, and the
        # last thing that went wrong here ({"kind", "detail", "at"}; None: nothing yet).
        self.board = HealthBoard(self.topics, self.booth)
        self.last_error: dict | None = None
        self.results = ResultStore(self.data_dir, self.ledger, Branding.from_config(cfg))
        self.mqtt = MqttConnection.for_config(
            cfg.mqtt,
            f"kiosk-{self.booth}{client_suffix}",
            availability_topic=self.topics.availability(self.booth),
            subscriptions=[
                (self.topics.booth_statuses(self.booth), 1),
                (self.topics.booth_results(self.booth), 1),
                (self.topics.all_worker_availability(), 1),
                (self.topics.all_worker_health(), 1),
            ],
            on_message=lambda msg: self._tasks.put(lambda: self._on_message(msg)),
            on_connect=lambda _present: setattr(self, "_connected_at", self.mono()),
        )
        self.outbox = Outbox(cfg, self.ledger, self.mqtt, self.views, self._tasks.put, clock, mono)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> JobController:
        """Connect (in the background), then re-publish every job the broker never acked."""
        self._running = True
        self._store_thread = threading.Thread(
            target=self._store_loop, name="job-store", daemon=True
        )
        self._store_thread.start()
        self._tasks.put(self._recover)
        self.mqtt.start()
        return self

    def stop(self) -> None:
        self._running = False
        self._capture.shutdown(wait=True, cancel_futures=False)
        self.shots.shutdown()
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
        said = [online for online, _ in self.board.workers().values() if online is not None]
        if not said:
            connected = self._connected_at
            if (
                connected is None
                or not self.mqtt.connected
                or self.mono() - connected < WORKERS_WORD_S
            ):
                return None
            return False
        return any(said)

    def _worker_online(self, worker: str | None) -> bool:
        online, _health = self.board.workers().get(worker or "", (None, None))
        return bool(online)

    @property
    def redispatches(self) -> int:
        """Jobs published again (no worker started or finished them in time)."""
        return self.outbox.redispatches

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
    def submit_capture(
        self,
        grab: Callable[[], np.ndarray],
        style: str,
        display_size: tuple[int, int] | None = None,
    ) -> str:
        """Take the shot with `grab` (blocking camera call) off the main thread; returns the id.
        With `display_size` the shot is cropped to the screen's aspect ratio (the preview's
        framing)."""
        job_id = new_job_id()
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        created = self.clock()
        self.views.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))

        def task() -> None:
            when = stamp(self.booth_clock)  # here, not on the caller's (UI) thread
            try:
                rgb = grab()
                if display_size:
                    rgb = np.ascontiguousarray(crop_to_aspect(rgb, display_size))
            except Exception as exc:
                log.error("capture failed: %s", exc)
                self._trouble("camera", f"capture failed: {exc}")
                self.views.put(
                    JobEvent(
                        "capture_failed",
                        JobView(job_id, style, created, JobStatus.FAILED),
                        message=str(exc),
                        reason="camera",
                    )
                )
                return
            # Start the encodes first: the screen's copy of the shot is made while they run.
            encodes = self.shots.start_encodes(rgb, None)
            if display_size:
                self.views.put(
                    JobEvent(
                        "captured",
                        JobView(job_id, style, created, JobStatus.PENDING),
                        image=fit_inside(rgb, display_size),
                    )
                )
            self._store_and_publish(job_id, style, created, rgb, encodes=encodes, when=when)

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
        self.views.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))
        original = data if info.kind == "image/jpeg" else None
        self._capture.submit(self._store_and_publish, job_id, style, created, rgb, original)
        return job_id

    def _store_and_publish(
        self,
        job_id: str,
        style: str,
        created: float,
        rgb: np.ndarray,
        original: bytes | None = None,
        encodes: Encodes | None = None,
        when: BootStamp | None = None,
    ) -> None:
        try:
            iso, ai_bytes = self.shots.write(
                job_id, self.booth, style, created, rgb, original, encodes, when
            )
        except Exception as exc:  # disk full, encoder failure: the guest gets an error screen
            storage = isinstance(exc, (OSError, sqlite3.Error))
            log.error(
                "storing shot %s failed (%s): %s", job_id, "storage" if storage else "internal", exc
            )
            self._trouble("storage" if storage else "internal", f"storing a shot failed: {exc}")
            self.views.put(
                JobEvent(
                    "capture_failed",
                    JobView(job_id, style, created, JobStatus.FAILED),
                    message=str(exc),
                    reason="storage" if storage else "internal",
                )
            )
            return
        crash_point("after_ledger")
        self.outbox.publish(job_id, style, iso, ai_bytes, pending_status=True)
        row = self.ledger.get(job_id)
        if row is not None:
            self.views.emit_row("stored", row)

    # ----------------------------------------------------------------- UI side
    def poll(self, limit: int = 200) -> list[JobEvent]:
        """Drain pending events without blocking (call once per frame)."""
        return self.views.poll(limit)

    def view(self, job_id: str) -> JobView | None:
        row = self.ledger.get(job_id)
        if row is None:
            return None
        link = self.uploads.link(job_id) if self.uploads is not None and row.token else None
        return self.views.of(row, link)

    def recent(self, limit: int) -> list[JobView]:
        rows = self.ledger.recent(limit)
        links = self.uploads.links(r.job_id for r in rows) if self.uploads is not None else {}
        return [self.views.of(r, links.get(r.job_id)) for r in rows]

    def wait_done(self, job_id: str, timeout: float) -> JobView | None:
        """Block until the job is ready or failed (headless callers only, never the UI); after
        `timeout` the job as it is then."""
        return self.views.wait_done(job_id, timeout) or self.view(job_id)

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
                self._held.retry(lambda held: self._on_message(held.msg, held))
            except (OSError, sqlite3.OperationalError) as exc:
                self._storage_trouble(exc)
            except Exception:
                log.exception("job store task failed")

    def _storage_trouble(self, exc: Exception) -> None:
        """A ledger write of the outbox (sent, re-dispatch) failed: the disk is full or the
        ledger busy. Slow the re-dispatch down (each try publishes the job again) and say so
        once in a while; everything is tried again on later ticks."""
        now = self.clock()
        self.outbox.pause(STORE_RETRY_MAX_S)
        self._trouble("storage", f"cannot write the ledger: {exc}")
        if now - self._last_trouble_log >= STORE_RETRY_MAX_S:
            self._last_trouble_log = now
            log.error("job store: cannot write the ledger (%s); trying again", exc)

    def _tick(self) -> None:
        self.outbox.tick()
        now = self.mono()
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
                self.views.emit_row("cloud", row, link)

    def _recover(self) -> None:
        """On start: publish again what the broker never acknowledged and follow every
        unfinished job (kiosk/jobs/outbox.py); tell the UI what is open."""
        self.booth_clock.synchronized()  # the first check may run timedatectl: not in a shot
        self.outbox.recover()
        for row in self.ledger.unfinished():
            self.views.emit_row("status", row)

    def _on_message(self, msg, held: Held | None = None) -> None:
        try:
            parsed = self.topics.parse(msg.topic)
        except ProtocolError as exc:
            self._ignore(msg.topic, exc)
            return
        if parsed.kind is TopicKind.WORKER_HEALTH:
            self.board.feed(msg.topic, msg.payload)
            return
        if parsed.kind is TopicKind.WORKER_AVAILABILITY:
            if msg.payload:
                try:
                    parse_availability(msg.payload)
                except ProtocolError as exc:
                    self._ignore(msg.topic, exc)
                    return
            was = self._worker_online(parsed.worker)
            self.board.feed(msg.topic, msg.payload)  # (the one record of who is online)
            if self._worker_online(parsed.worker) and not was:
                self.outbox.worker_online(parsed.worker)
            self.views.put(JobEvent("availability"))
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
        self.outbox.forget(job_id)
        self.views.forget(job_id)

    # ----------------------------------------------------------------- storage faults
    def _hold(self, job_id: str, msg, exc: Exception, held: Held | None) -> None:
        """Keep a message that could not be stored; `_held.retry` stores it later."""
        if held is not None:  # a retry failed again: back off
            self._held.hold_again(held)
            return
        self._held.hold(job_id, msg, len(msg.payload or b""))
        log.error(
            "job %s: cannot store its %s (%s); keeping it and trying again until there is space",
            job_id,
            msg.topic.split("/")[-2],
            exc,
        )
        self._trouble("storage", f"cannot store a {msg.topic.split('/')[-2]}: {exc}")
        row = self._row_quietly(job_id)
        if row is not None:
            self.views.put(
                JobEvent("store_failed", self.views.of(row), message=str(exc), reason="storage")
            )

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
            log.info(
                "job %s: %s%s",
                job_id,
                st.status.value,
                f" ({st.error.kind.value})" if st.error else "",
            )
            if st.status is JobStatus.COMPLETED and st.effect is not None:
                self.local_only = st.effect.value == "local" and st.error is None
            row = self.ledger.get(job_id)
            if st.style_used is not None and row is not None and st.style_used != row.style:
                log.warning(
                    "job %s: the worker does not know style %r; it used %r",
                    job_id,
                    row.style,
                    st.style_used,
                )
            self.outbox.follow(row)
            self.views.emit_row("status", row)

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
        try:
            size = self.results.store(row, bytes(msg.payload))
        except BadImage as exc:
            self._ignore(topic, f"result refused ({len(msg.payload)} bytes): {exc}")
            clear()  # it would be refused again on every restart
            return
        clear()
        if size is None:
            return
        log.info("job %s: result stored (%d bytes)", job_id, size)
        row = self.ledger.get(job_id)
        self.outbox.follow(row)
        self.views.emit_row("status", row)
