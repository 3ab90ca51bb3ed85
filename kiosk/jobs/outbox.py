"""Getting each job to a worker: the transactional outbox (a row is marked `sent` once the broker
acks its publish; on start, unacked rows go out again) and the re-dispatch of jobs no worker
started or finished in time (the timing is kiosk/jobs/redispatch.py's, on the monotonic clock).

`publish` may run on any thread; everything else runs on the pipeline's store thread
(kiosk/jobs/controller.py), which owns this state."""

from __future__ import annotations

import logging
from collections.abc import Callable

from booth.config import Config
from booth.mqtt import MqttConnection, PublishHandle
from booth.protocol import ErrorKind, JobError, JobMeta, JobStatus, Status, Topics
from jobstore.ledger import JobRow, Ledger
from kiosk.jobs.redispatch import Redispatcher
from kiosk.jobs.views import JobViews

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.5  # how often the re-dispatch timers are looked at


class Outbox:
    def __init__(
        self,
        cfg: Config,
        ledger: Ledger,
        mqtt: MqttConnection,
        views: JobViews,
        on_store_thread: Callable[[Callable[[], None]], None],
        clock: Callable[[], float],
        mono: Callable[[], float],
    ) -> None:
        self.data_dir = cfg.data_path
        self.booth = cfg.booth_id
        self.topics = Topics(cfg.mqtt.root)
        self.ledger = ledger
        self.mqtt = mqtt
        self.views = views
        self.on_store_thread = on_store_thread
        self.clock = clock
        self.mono = mono
        self.redispatch = Redispatcher(cfg.kiosk.redispatch_s, cfg.worker.deadline_s, mono)
        self.redispatches = 0
        self._acks: list[tuple[str, PublishHandle]] = []
        self._next_check = -1e9
        # job id → (session id, frame) of a strip session's frame (kiosk/jobs/sessions.py)
        self.session_of: Callable[[str], tuple[str, int | None] | None] = lambda _job: None

    def publish(
        self, job_id: str, style: str, created_iso: str, ai_bytes: bytes, pending_status: bool
    ) -> None:
        """Publish the job (and its retained `pending` status the first time)."""
        if pending_status:
            st = Status(job_id, self.booth, JobStatus.PENDING)
            self.mqtt.publish(
                self.topics.status(self.booth, job_id), st.to_json(), qos=1, retain=True
            )
        session = self.session_of(job_id)
        meta = JobMeta(job_id, style, created_iso)
        if session is not None and session[1] is not None:
            meta = JobMeta(job_id, style, created_iso, session_id=session[0], frame=session[1])
        handle = self.mqtt.publish(
            self.topics.jobs(self.booth), ai_bytes, qos=1, properties=meta.to_properties()
        )
        self.ledger.mark_dispatched(job_id, self.clock())

        def sent() -> None:
            self._acks.append((job_id, handle))
            if job_id in self.redispatch:
                self.redispatch.dispatched(job_id)
                return
            row = self.ledger.get(job_id)
            age = self.clock() - row.created_at if row is not None else 0.0
            self.redispatch.watch(job_id, age)
            # A quick worker's status may have been stored before this ran (the publish is on
            # the capture thread): start the watch where the ledger already is.
            self.follow(row)

        self.on_store_thread(sent)

    def tick(self) -> None:
        """Mark acked rows sent; publish again what is due."""
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
        if now >= self._next_check:
            self._next_check = now + CHECK_EVERY_S
            for job_id, why in self.redispatch.due():
                self.send_again(job_id, why)

    def pause(self, seconds: float) -> None:
        """No re-dispatch for a while: the ledger cannot be written (each try publishes the
        job again). On the monotonic clock: a wall time here stopped it for good."""
        self._next_check = self.mono() + seconds

    def worker_online(self, worker: str) -> None:
        """Its subscription is in place before it says so (booth/mqtt.py): jobs that reached no
        one, or wait behind a busy worker, go out now."""
        for job_id in self.redispatch.waiting():
            self.send_again(job_id, f"worker {worker} came online", even_unacked=True)

    def send_again(self, job_id: str, why: str, even_unacked: bool = False) -> None:
        """Publish a followed job again, unless the broker has not acked its last publish yet
        (paho resends that one by itself) — `even_unacked` when a worker just came online: that
        publish may have reached the broker before the worker's subscription did."""
        if not even_unacked and any(j == job_id for j, _ in self._acks):
            return
        row = self.ledger.get(job_id)
        if row is None or (
            row.status.is_final and (row.result_path or row.status is JobStatus.FAILED)
        ):
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
            st = Status(
                row.job_id,
                self.booth,
                JobStatus.FAILED,
                error=JobError.for_guest(ErrorKind.INTERNAL),
            )
            self.ledger.apply_status(st, self.clock())
            self.views.emit_row("status", self.ledger.get(row.job_id))
            return
        log.info("job %s: publishing again (%s)", row.job_id, why)
        self.publish(
            row.job_id, row.style, row.created_iso, ai_bytes, pending_status=row.sent_at is None
        )

    def recover(self) -> None:
        """On start: follow every unfinished job for re-dispatch (its ledger times turned into
        monotonic ones) and publish again the jobs the broker never acknowledged."""
        now = self.clock()
        for row in self.ledger.unfinished():
            last = row.last_dispatch or row.sent_at
            self.redispatch.watch(
                row.job_id,
                now - row.created_at,
                now - last if last is not None else None,
                started=row.status is not JobStatus.PENDING,
            )
        for row in self.ledger.unsent():
            self._republish(row, "not acknowledged before the last shutdown")

    def follow(self, row: JobRow | None) -> None:
        """Keep the re-dispatch state in step with the ledger: a started job waits for its
        final status and result; a failed one, or one completed with its result, is done."""
        if row is None:
            return
        if row.status is JobStatus.FAILED or (row.status.is_final and row.result_path):
            self.redispatch.done(row.job_id)
        elif row.status is not JobStatus.PENDING:
            self.redispatch.started(row.job_id)

    def forget(self, job_id: str) -> None:
        self.redispatch.done(job_id)
