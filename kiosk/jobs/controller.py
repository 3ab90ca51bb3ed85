"""The kiosk's job side behind one front: the kiosk's frame loop and `booth snap` use only this.

`JobController` composes the pieces, each doing one job:
- `Shooter` (kiosk/jobs/shooter.py): taking the shot, its files and `pending` row, publishing;
- `StoreLoop` (kiosk/jobs/storeloop.py): the one thread that writes, tasks in arrival order;
- `MessageRouter` (kiosk/jobs/router.py): each incoming message to its handler by topic kind,
  holding what cannot be stored yet (kiosk/jobs/held.py);
- `JobInbox` (kiosk/jobs/inbox.py): this booth's statuses and results into the ledger;
- `WorkerWatch` (kiosk/jobs/workers.py): who of the workers is online;
- `Outbox` (kiosk/jobs/outbox.py): publishing, acks and re-dispatch;
- `CloudLinkWatch` (kiosk/jobs/cloudlinks.py): cloud links the share process confirmed;
- `PrintWatch` (kiosk/jobs/printwatch.py): with `[print]`, the printer's word and Print taps;
- `StripSessions` (kiosk/jobs/sessions.py): strip sessions, their frames and their sheet;
- `wait_phase` (kiosk/jobs/waiting.py): how long a guest waits on screen for a job.
paho's network thread only puts messages on the store loop; the UI reads `poll()` (a
non-blocking drain of `JobEvent`s, kiosk/jobs/views.py); headless callers use `wait_done()`.
Each row records the boot and boot time of its shot (booth/clock.py), so its link and its
retention survive a clock jump.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from booth.clock import Clock, SystemClock
from booth.config import Config
from booth.healthboard import HealthBoard
from booth.mqtt import MqttConnection
from booth.protocol import TopicKind, Topics
from jobstore.ledger import ledger_path
from jobstore.recovery import open_ledger
from jobstore.uploads import Uploads
from kiosk.jobs.branding import Branding
from kiosk.jobs.cloudlinks import CloudLinkWatch
from kiosk.jobs.held import STORE_RETRY_MAX_S, HeldMessages
from kiosk.jobs.inbox import JobInbox
from kiosk.jobs.outbox import Outbox
from kiosk.jobs.printwatch import PrintWatch
from kiosk.jobs.results import ResultStore
from kiosk.jobs.router import MessageRouter
from kiosk.jobs.sessions import StripSessions
from kiosk.jobs.shooter import Shooter
from kiosk.jobs.storeloop import StoreLoop
from kiosk.jobs.trouble import Trouble
from kiosk.jobs.views import JobEvent, JobView, JobViews
from kiosk.jobs.waiting import Phase, wait_phase
from kiosk.jobs.workers import WorkerWatch

log = logging.getLogger(__name__)


class JobController:
    """Captures, stores and publishes jobs and follows them to the end (no pygame)."""

    # set in __init__ after the MQTT connection, whose callbacks reach them
    router: MessageRouter
    workers: WorkerWatch

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
        self.topics = Topics(cfg.mqtt.root)
        self.booth = cfg.booth_id
        self.clock = clock
        self.mono = mono
        self.trouble = Trouble()
        self.views = JobViews(cfg, self.uploads, clock, on_ready)
        self.results = ResultStore(self.data_dir, self.ledger, Branding.from_config(cfg))
        # The operator's view (kiosk/healthwatch.py): the workers' availability and health.
        self.board = HealthBoard(self.topics, self.booth)
        self._last_storage_log = -1e9
        self.store = StoreLoop(self._storage_trouble)
        # [print]: the printer process's word and the guest's Print tap (kiosk/jobs/printwatch.py)
        self.prints = PrintWatch(
            cfg,
            self.topics,
            self.board,
            lambda topic, body: self.mqtt.publish(topic, body, qos=1),
            self.trouble,
            mono,
        )
        self.mqtt = MqttConnection.for_config(
            cfg.mqtt,
            f"kiosk-{self.booth}{client_suffix}",
            availability_topic=self.topics.availability(self.booth),
            subscriptions=[
                (self.topics.booth_statuses(self.booth), 1),
                (self.topics.booth_results(self.booth), 1),
                (self.topics.all_worker_availability(), 1),
                (self.topics.all_worker_health(), 1),
            ]
            + (self.prints.subscriptions() if cfg.print.enabled else []),
            on_message=lambda msg: self.store.put(lambda: self.router.route(msg)),
            on_connect=lambda _present: self.workers.on_connect(),
        )
        self.outbox = Outbox(cfg, self.ledger, self.mqtt, self.views, self.store.put, clock, mono)
        self.workers = WorkerWatch(
            self.board, lambda: self.mqtt.connected, self.outbox, self.views, self.trouble, mono
        )
        self.inbox = JobInbox(
            self.booth,
            self.ledger,
            self.results,
            self.outbox,
            self.views,
            self.trouble,
            lambda topic: self.mqtt.publish(topic, b"", qos=1, retain=True),
            clock,
        )
        self.router = MessageRouter(
            self.topics,
            {
                TopicKind.STATUS: self.inbox.on_status,
                TopicKind.RESULTS: self.inbox.on_result,
                TopicKind.WORKER_AVAILABILITY: self.workers.on_availability,
                TopicKind.WORKER_HEALTH: self.workers.on_health,
                TopicKind.PRINT_STATE: self.prints.on_state,
                TopicKind.PRINT_STATUS: self.prints.on_status,
                TopicKind.SERVICE_HEALTH: self.prints.on_service,
                TopicKind.SERVICE_AVAILABILITY: self.prints.on_service,
            },
            HeldMessages(),
            self.views,
            self.trouble,
            self.inbox.row_quietly,
        )
        self.shooter = Shooter(
            cfg, self.ledger, self.outbox, self.views, self.trouble, clock, self.booth_clock
        )
        self.store.every_tick(self.outbox.tick)
        if self.uploads is not None:
            cloud = CloudLinkWatch(self.uploads, self.ledger, self.views, clock, mono)
            self.store.every_tick(cloud.tick)
        self.store.every_tick(self.router.retry_held)
        # strip sessions: only the kiosk's own controller (no suffix) closes and composes them
        self.sessions = StripSessions(
            cfg,
            self.ledger,
            self.views,
            clock,
            mono,
            owner=client_suffix == "",
            on_store_thread=self.store.put,
        )
        self.outbox.session_of = self.sessions.map.of
        self.store.every_tick(self.sessions.tick)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> JobController:
        """Connect (in the background), then re-publish every job the broker never acked."""
        self.sessions.recover()  # before the screens restore: a session cut short says so
        self.store.start()
        self.store.put(self._recover)
        self.mqtt.start()
        return self

    def stop(self) -> None:
        self.shooter.shutdown()
        self.store.stop()
        self.sessions.close()
        self.mqtt.stop()
        self.ledger.close()
        if self.uploads is not None:
            self.uploads.close()

    def _recover(self) -> None:
        """On start: publish again what the broker never acknowledged and follow every
        unfinished job (kiosk/jobs/outbox.py); tell the UI what is open."""
        self.booth_clock.synchronized()  # the first check may run timedatectl: not in a shot
        self.outbox.recover()
        for row in self.ledger.unfinished():
            self.views.emit_row("status", row)

    def _storage_trouble(self, exc: Exception) -> None:
        """A ledger write of the outbox (sent, re-dispatch) failed: the disk is full or the
        ledger busy. Slow the re-dispatch down (each try publishes the job again) and say so
        once in a while; everything is tried again on later ticks."""
        now = self.clock()
        self.outbox.pause(STORE_RETRY_MAX_S)
        self.trouble.report("storage", f"cannot write the ledger: {exc}")
        if now - self._last_storage_log >= STORE_RETRY_MAX_S:
            self._last_storage_log = now
            log.error("job store: cannot write the ledger (%s); trying again", exc)

    # ----------------------------------------------------------------- what the kiosk reads
    @property
    def ai_online(self) -> bool | None:
        """Any worker online (kiosk/jobs/workers.py); None before we can tell."""
        return self.workers.ai_online

    @property
    def local_only(self) -> bool | None:
        """The workers run without an AI key (None until a finished job says either way)."""
        return self.inbox.local_only

    @property
    def redispatches(self) -> int:
        """Jobs published again (no worker started or finished them in time)."""
        return self.outbox.redispatches

    @property
    def held(self) -> int:
        """Statuses and results received but not stored yet (a full disk, a failing ledger)."""
        return len(self.router.held)

    @property
    def last_error(self) -> dict[str, str] | None:
        """The last thing that went wrong here ({"kind", "detail", "at"}; None: nothing yet)."""
        return self.trouble.last_error

    @property
    def ignored_messages(self) -> int:
        return self.trouble.ignored_messages

    def wait_phase(self, job: JobView | None, waited_s: float) -> Phase:
        """What the processing screen does for a guest who has waited `waited_s` for `job`
        (kiosk/jobs/waiting.py)."""
        return wait_phase(job, waited_s, self.cfg.kiosk.max_wait_s)

    # ----------------------------------------------------------------- submitting
    def submit_capture(
        self,
        grab: Callable[[], np.ndarray],
        style: str,
        display_size: tuple[int, int] | None = None,
    ) -> str:
        """Take the shot with `grab` (a blocking camera call) off the caller's thread; returns
        the job id at once (kiosk/jobs/shooter.py)."""
        return self.sessions.capture(self.shooter.capture, grab, style, display_size)

    def submit_jpeg(self, data: bytes, style: str | None = None) -> str:
        """A given photo (JPEG/PNG bytes) through the same pipeline. Bad bytes: ValueError."""
        return self.shooter.photo(data, style)

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
        """The newest jobs, and the sheets of the strip sessions not composed yet."""
        rows = self.ledger.recent(limit)
        links = self.uploads.links(r.job_id for r in rows) if self.uploads is not None else {}
        return [self.views.of(r, links.get(r.job_id)) for r in rows] + self.sessions.placeholders()

    def wait_done(self, job_id: str, timeout: float) -> JobView | None:
        """Block until the job is ready or failed (headless callers only, never the UI); after
        `timeout` the job as it is then."""
        return self.views.wait_done(job_id, timeout) or self.view(job_id)
