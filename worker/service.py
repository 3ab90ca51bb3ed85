"""The worker process: take jobs from the shared subscription, edit them, publish, then ack.

A broker without shared subscriptions (its CONNACK says so) gets a plain subscription instead,
and every worker receives every job: then a claim decides who runs it (worker/claims.py).

At-least-once: a job is acked only after its result and final status were acknowledged by the
broker, so a worker killed mid-job loses nothing (the broker redelivers it). Duplicates — from a
redelivery or from the kiosk's re-dispatch — are answered from the dedupe store, checked when a job
*starts*. paho's thread only queues messages; `concurrency` threads do the blocking work.

Time: a job's deadline counts from its `created_at` (the shot), so the guest's wait includes the
queue. Model calls stop LOCAL_RESERVE_S before it, so the local picture is always published in
time. The kiosk's clock is trusted within sane bounds (see `job_age`).
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from booth.config import Config
from booth.images import JPEG, BadImage, decode, encode_jpeg, inspect, reduce_for, shrink
from booth.mqtt import BrokerFeatures, MqttConnection, plain_filter
from booth.protocol import (
    AiState,
    Effect,
    ErrorKind,
    Health,
    JobError,
    JobMessage,
    JobStatus,
    ProtocolError,
    Status,
    Topics,
    result_properties,
    utc_now_iso,
)
from worker.breaker import PAUSING, Condition, ServiceGuard
from worker.claims import Claims
from worker.classify import RETRY_ONCE, ModelError
from worker.dedupe import DedupeStore
from worker.health import HEALTH_EVERY_S, broker_record, error_record, worker_health
from worker.local_effect import LocalEffect
from worker.retry import Backoff, RateGate, call_with_retries
from worker.validate import Decoded, decode_job_image

log = logging.getLogger("worker")

# Model failures that end in the local effect when fallback = "local"
# (docs/worker.md, What a failure means).
FALLBACK_KINDS = frozenset(
    {
        ErrorKind.QUOTA,
        ErrorKind.RATE_LIMITED,
        ErrorKind.SAFETY,
        ErrorKind.NO_IMAGE,
        ErrorKind.TIMEOUT,
        ErrorKind.UNAVAILABLE,
    }
)
PUBLISH_WAIT_S = 10.0
LOCAL_RESERVE_S = 2.0  # the end of a job's deadline kept for the local effect and publishing
CLOCK_AHEAD_S = 5.0  # a job "created" further in the future than this: the kiosk's clock
CLOCK_SANE_MIN_S = 600.0  # older than max(this, 10 × deadline): taken as a wrong kiosk clock


@dataclass(frozen=True)
class JobRef:
    """Enough of a job to answer it: whose booth, which job."""

    booth: str
    job_id: str


@dataclass
class Produced:
    """What a job ends with: result bytes (None if failed), effect, error, model attempts."""

    result: bytes | None
    effect: Effect | None
    error: JobError | None
    attempts: int
    model_s: float
    style_used: str | None = None


def job_age(created: datetime, now: datetime, deadline_s: float) -> tuple[float, str]:
    """Seconds since the shot as far as the deadline is concerned, and a note if the kiosk's
    clock could not be trusted.

    A job from the future (the kiosk's clock is ahead) counts as just taken. A job older than
    max(CLOCK_SANE_MIN_S, 10 × deadline) is taken as a kiosk clock that is far behind — or a job
    that waited so long that nobody is watching the screen for it: either way it gets a full
    deadline from now instead of being given up unasked.
    """
    age = (now - created).total_seconds()
    if age < -CLOCK_AHEAD_S:
        return 0.0, f"created {-age:.0f} s in the future (the kiosk's clock is ahead?)"
    if age > max(CLOCK_SANE_MIN_S, 10 * deadline_s):
        return 0.0, f"created {age:.0f} s ago (a kiosk clock far behind, or a long queue)"
    return max(0.0, age), ""


def worker_dir(cfg: Config) -> Path:
    return cfg.data_path / "worker"


def claim_worker_id(cfg: Config) -> tuple[str, Any]:
    """`worker-<host>-<n>` with the lowest slot n free on this machine (held by a file lock).

    Stable across restarts (a persistent MQTT session needs the same client id) yet distinct for
    two workers started side by side with the same data dir. Returns (id, lock file to keep open).
    """
    host = (
        "".join(
            c if (c.isalnum() or c in "_-") else "-" for c in socket.gethostname().split(".")[0]
        )[:40]
        or "host"
    )
    folder = worker_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, 65):
        fh = open(folder / f"slot-{n}.lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        return f"worker-{host}-{n}", fh
    raise RuntimeError(f"64 workers already run with data dir {cfg.data_dir}; set worker.id")


class Worker:
    """`Worker(cfg).start()` … `.stop()`; the CLI and the tests use the same object."""

    def __init__(self, cfg: Config, worker_id: str | None = None) -> None:
        self.cfg = cfg
        self.topics = Topics(cfg.mqtt.root)
        self._slot_lock = None
        if worker_id or cfg.worker.id:
            self.id = worker_id or cfg.worker.id
        else:
            self.id, self._slot_lock = claim_worker_id(cfg)
        self.store = DedupeStore(worker_dir(cfg) / "dedupe", cfg.worker.dedupe_hours)
        self.effect = LocalEffect()
        self.editor = None
        if cfg.gemini.api_key:
            from worker.gemini import GeminiEditor

            self.editor = GeminiEditor(cfg.gemini, max_in_flight=2 * cfg.worker.concurrency + 2)
        self._health_now = threading.Event()
        self.gate = RateGate(on_pause=self._health_now.set)
        self.backoff = Backoff()
        w = cfg.worker
        self.guard = ServiceGuard(
            breaker_failures=w.breaker_failures,
            breaker_open_s=w.breaker_open_s,
            service_pause_s=w.service_pause_s,
            probe_lease_s=cfg.gemini.request_timeout_s + 5,
            on_change=self._ai_changed,
        )
        self._alerted: set[AiState] = set()
        self._last_error: dict | None = None
        self._queue: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._job_locks: dict[str, list] = {}  # job id → [lock, users]
        self._active = 0
        self._threads: list[threading.Thread] = []
        self._last_prune = 0.0
        self.counts = {
            "completed": 0,
            "failed": 0,
            "duplicates": 0,
            "rejected": 0,
            "stood_down": 0,  # jobs another worker claimed first (worker/claims.py)
        }
        self.claims: Claims | None = None  # only on a broker without shared subscriptions
        self._session_told: int | None = None  # the session expiry last logged as capped
        self.mqtt = MqttConnection.for_config(
            cfg.mqtt,
            self.id,
            availability_topic=self.topics.worker_availability(self.id),
            subscriptions=[(self.topics.shared_jobs(), 1)],
            on_message=self._on_message,
            on_connect=lambda _present: self._health_now.set(),
            on_features=self._choose_subscription,
            clean_start=False,
            session_expiry_s=cfg.mqtt.session_expiry_s,
            receive_maximum=cfg.worker.concurrency,
            manual_ack=True,
        )

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Worker:
        self.store.prune()
        self._last_prune = time.monotonic()
        if self.editor is None:
            log.warning(
                "worker %s: no GEMINI_API_KEY set: every job gets the local effect", self.id
            )
        else:
            log.info(
                "worker %s: model %s via %s",
                self.id,
                self.cfg.gemini.model,
                self.cfg.gemini.base_url or "Google",
            )
        for i in range(self.cfg.worker.concurrency):
            t = threading.Thread(target=self._run, name=f"job-{i + 1}", daemon=True)
            t.start()
            self._threads.append(t)
        threading.Thread(target=self._health_loop, name="health", daemon=True).start()
        self.mqtt.start()
        log.info(
            "worker %s: started (concurrency %d, deadline %g s, fallback %s)",
            self.id,
            self.cfg.worker.concurrency,
            self.cfg.worker.deadline_s,
            self.cfg.worker.fallback,
        )
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self.mqtt.wait_connected(timeout)

    @property
    def active(self) -> int:
        with self._lock:
            return self._active

    def stop(self, grace_s: float | None = None) -> bool:
        """Stop taking jobs; give in-flight ones `grace_s` to finish. True if none was left.

        The shared subscription is kept: this worker's persistent session holds the jobs that
        arrive while it restarts (`systemctl restart`), and hands them over when it is back.
        Jobs not finished or not started are not acked: the broker gives them back on reconnect,
        and the kiosk re-dispatches a job that never finishes.
        """
        grace = self.cfg.worker.grace_s if grace_s is None else grace_s
        self._stopping.set()
        self._health_now.set()
        end = time.monotonic() + grace
        while self.active and time.monotonic() < end:
            time.sleep(0.05)
        left = self.active
        if left:
            features = self.mqtt.features
            log.warning(
                "worker %s: %d job(s) still running after %g s; leaving them un-acked "
                "for redelivery%s",
                self.id,
                left,
                grace,
                f" (the broker keeps them {features.session_expiry_s} s for this worker)"
                if features
                else "",
            )
        self.mqtt.stop()
        if self.claims is not None:
            self.claims.stop()
        for _ in self._threads:
            self._queue.put(None)
        if self.editor is not None and not left:
            self.editor.close()
        if self._slot_lock is not None:
            self._slot_lock.close()
        log.info(
            "worker %s: stopped (%s)",
            self.id,
            ", ".join(f"{k} {v}" for k, v in self.counts.items()),
        )
        return left == 0

    # ------------------------------------------------------------------ the broker's offer
    def _choose_subscription(self, features: BrokerFeatures) -> None:
        """On every connect, before subscribing (paho's thread): the shared subscription when
        the broker offers it, else the same filter plainly, with claims (worker/claims.py). A
        broker without shared subscriptions disconnects a client that asks for one, so the
        worker would never come online. Said once at WARNING: what the broker lacks and what it
        means; health carries it from then on (worker/health.py broker_record)."""
        shared = self.topics.shared_jobs()
        plain = plain_filter(shared)
        claiming = not features.shared_subscriptions
        self.mqtt.unsubscribe(plain if claiming else shared)
        self.mqtt.subscribe(shared if not claiming else plain, 1)
        if claiming and self.claims is None:
            self.claims = Claims(self.cfg.mqtt, self.topics, self.id).start()
            log.warning(
                "worker %s: %s offers no MQTT 5 shared subscriptions: subscribing to %s "
                "plainly, so every worker receives every job, and the first worker to "
                "publish its `processing` runs it while the others stand down",
                self.id,
                self.mqtt.url.safe(),
                plain,
            )
        elif not claiming and self.claims is not None:
            log.warning(
                "worker %s: the broker offers shared subscriptions again: back to %s",
                self.id,
                shared,
            )
            self.claims.stop()
            self.claims = None
        if features.session_capped and features.session_expiry_s != self._session_told:
            self._session_told = features.session_expiry_s
            log.warning(
                "worker %s: the broker keeps this worker's session %d s, not the %d s asked: "
                "jobs dealt to it while it is away longer than that are lost to it (the kiosk "
                "sends them again)",
                self.id,
                features.session_expiry_s,
                features.asked_session_expiry_s,
            )

    # ------------------------------------------------------------------ health
    def health(self) -> Health:
        """This worker's health message now."""
        if self.editor is None:
            ai, detail, left = AiState.NO_KEY, "", None
        else:
            cond = self.guard.condition
            ai, detail = cond.ai, cond.detail
            left = cond.until - time.monotonic() if cond.until is not None else None
            if ai is AiState.OK and self.gate.paused_for > 0:
                ai, left = AiState.RATE_LIMITED, self.gate.paused_for
        with self._lock:
            counts = dict(self.counts)
            in_flight = self._active
            last_error = self._last_error
        features = self.mqtt.features
        broker = broker_record(features, self.claims is not None) if features else None
        return worker_health(
            self.id, ai, self._scrub(detail), left, in_flight, counts, last_error, broker
        )

    def publish_health(self) -> None:
        self.mqtt.publish(
            self.topics.worker_health(self.id), self.health().to_json(), qos=1, retain=True
        )

    def _health_loop(self) -> None:
        while True:
            paused = self.gate.paused_for  # publish again when a rate-limit pause ends
            self._health_now.wait(min(HEALTH_EVERY_S, paused + 0.1) if paused else HEALTH_EVERY_S)
            self._health_now.clear()
            if self._stopping.is_set():
                return
            if self.mqtt.connected:
                self.publish_health()

    def _ai_changed(self, old: Condition, new: Condition) -> None:
        """The guard's state moved: tell the operator (once at ERROR per problem) and publish."""
        detail = self._scrub(new.detail)
        if new.ai is AiState.OK:
            log.info("worker %s: the AI service works again (was %s)", self.id, old.ai.value)
        elif new.ai is AiState.PROBING:
            log.info("worker %s: trying the AI service again (%s)", self.id, old.ai.value)
        else:
            pause = (
                f"; local effect for {new.until - time.monotonic():.0f} s"
                if new.until is not None
                else ""
            )
            first = new.ai not in self._alerted and new.ai in PAUSING - {AiState.BREAKER_OPEN}
            self._alerted.add(new.ai)
            log.log(
                logging.ERROR if first else logging.WARNING,
                "worker %s: AI %s%s: %s",
                self.id,
                new.ai.value,
                pause,
                detail,
            )
        self._health_now.set()

    def _scrub(self, text: str) -> str:
        """Never publish or log the API key, whatever a message echoes back."""
        key = self.cfg.gemini.api_key
        return text.replace(key, "***") if key and text else text

    # ------------------------------------------------------------------ paho thread
    def _on_message(self, msg: Any) -> None:
        if self._stopping.is_set():
            return  # not acked: stays with the broker
        self._queue.put((msg, time.monotonic()))

    # ------------------------------------------------------------------ job threads
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._stopping.is_set():
                continue
            with self._lock:
                self._active += 1
            try:
                self._handle(*item)
            except Exception:
                log.exception("worker %s: job handling crashed; the job stays un-acked", self.id)
            finally:
                with self._lock:
                    self._active -= 1
            if time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                self.store.prune()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def _remember(self, status: Status, result: bytes | None) -> None:
        """Keep the outcome for duplicates; a full disk costs dedupe, never the job."""
        try:
            self.store.put(status, result)
        except OSError as exc:
            log.warning("job %s: could not keep its result for duplicates (%s)", status.job_id, exc)

    def _stand_down(self, msg: Any, job: str, why: str) -> None:
        """Another worker has the job (worker/claims.py): ack this copy and leave it to them.
        Should they die, the kiosk re-dispatches it and their claim no longer counts."""
        self._count("stood_down")
        log.info("job %s: %s; standing down", job, why)
        self._ack(msg)

    def _ack(self, msg: Any) -> None:
        if msg.qos > 0:
            self.mqtt.ack(msg.mid, msg.qos)

    def _job_lock(self, job_id: str) -> threading.Lock:
        with self._lock:
            entry = self._job_locks.setdefault(job_id, [threading.Lock(), 0])
            entry[1] += 1
            return entry[0]

    def _release_job_lock(self, job_id: str) -> None:
        with self._lock:
            entry = self._job_locks.get(job_id)
            if entry:
                entry[1] -= 1
                if entry[1] <= 0:
                    self._job_locks.pop(job_id, None)

    def _handle(self, msg: Any, arrived: float) -> None:
        payload = bytes(msg.payload or b"")
        try:
            header = JobMessage.parse(self.topics, msg.topic, msg.properties)
        except ProtocolError as exc:
            self._count("rejected")
            if exc.job_id and exc.booth:
                ref = JobRef(exc.booth, exc.job_id)
                log.warning("job %s rejected: %s; failed (bad_input)", exc.job_id, exc)
                status = self._status(
                    ref, JobStatus.FAILED, None, JobError.for_guest(ErrorKind.BAD_INPUT), 1
                )
                if self._publish_final(ref, status, None):
                    self._ack(msg)
                return
            log.warning(
                "job on %s rejected (%d bytes): %s; no status can be sent without a job id; acked",
                msg.topic,
                len(payload),
                exc,
            )
            self._ack(msg)
            return
        lock = self._job_lock(header.job_id)
        claims = self.claims
        if claims is not None:
            claims.watch(header.booth, header.job_id)
        try:
            with lock:  # a duplicate waits for the first copy, then hits the dedupe store
                self._handle_job(msg, header, payload, arrived, claims)
        except Exception:
            # A bug or a broken disk must not hold a receive-maximum slot forever, nor leave
            # the guest waiting: the job ends failed/internal and is acked.
            log.exception("job %s: failed (internal error)", header.job_id)
            self._count("failed")
            status = self._status(
                header, JobStatus.FAILED, None, JobError.for_guest(ErrorKind.INTERNAL), 1
            )
            if self._publish_final(header, status, None):
                self._ack(msg)
        finally:
            self._release_job_lock(header.job_id)
            if claims is not None:
                claims.unwatch(header.booth, header.job_id)

    def _handle_job(
        self,
        msg: Any,
        header: JobMessage,
        payload: bytes,
        arrived: float,
        claims: Claims | None = None,
    ) -> None:
        started = time.monotonic()
        job = header.job_id
        age, clock_note = job_age(
            header.meta.created, datetime.now(UTC), self.cfg.worker.deadline_s
        )
        if clock_note:
            log.warning("job %s: %s; its deadline counts from now", job, clock_note)
        deadline = started - age + self.cfg.worker.deadline_s
        if claims is not None:
            why = claims.settle(job, arrived, deadline)
            if why:
                self._stand_down(msg, job, why)
                return
        done = self.store.get(job)
        if done is not None:
            self._count("duplicates")
            log.info(
                "job %s: duplicate%s; republishing its stored %s result",
                job,
                " (redelivered)" if msg.dup else "",
                done.status.status.value,
            )
            if self._publish_final(header, done.status, done.result, done.content_type):
                self._ack(msg)
            return
        try:
            decoded = decode_job_image(
                payload, self.cfg.worker.max_bytes, self.cfg.worker.max_pixels
            )
        except BadImage as exc:
            self._count("rejected")
            status = self._status(
                header, JobStatus.FAILED, None, JobError.for_guest(ErrorKind.BAD_INPUT), 1
            )
            log.warning("job %s: failed (bad_input: %s, %d bytes)", job, exc, len(payload))
            self._remember(status, None)
            if self._publish_final(header, status, None):
                self._ack(msg)
            return
        mark = claims.mark(job) if claims is not None else 0
        self.mqtt.publish(
            self.topics.status(header.booth, job),
            self._status(header, JobStatus.PROCESSING, None, None, 1).to_json(),
            qos=1,
            retain=True,
        )
        if claims is not None:
            why = claims.confirm(job, mark, deadline)
            if why:
                self._stand_down(msg, job, why)
                return
        w, h = decoded.width, decoded.height
        log.info(
            "job %s: processing (%dx%d %s, style %s, queue wait %.2f s, %.1f s left)",
            job,
            w,
            h,
            decoded.kind.split("/")[1],
            header.meta.style,
            age,
            deadline - time.monotonic(),
        )
        try:
            produced = self._produce(job, header, decoded, deadline)
        except BadImage as exc:  # the full decode failed, or the local effect cannot draw on it
            log.warning("job %s: %s", job, exc)
            produced = Produced(None, None, JobError.for_guest(ErrorKind.BAD_INPUT), 1, 0.0)
        final = JobStatus.COMPLETED if produced.result is not None else JobStatus.FAILED
        status = dataclasses.replace(
            self._status(header, final, produced.effect, produced.error, produced.attempts),
            style_used=produced.style_used,
        )
        self._remember(status, produced.result)
        ok = self._publish_final(header, status, produced.result)
        total = time.monotonic() - started
        self._count(final.value)
        cause = f" ({produced.error.kind.value})" if produced.error else ""
        log.info(
            "job %s: %s%s effect=%s attempts=%d queue wait %.2f s, model %.2f s, total %.2f s",
            job,
            final.value,
            cause,
            produced.effect.value if produced.effect else "none",
            produced.attempts,
            age,
            produced.model_s,
            total,
        )
        if ok:
            self._ack(msg)

    # ------------------------------------------------------------------ producing a picture
    def _produce(self, job: str, header: JobMessage, decoded: Decoded, deadline: float) -> Produced:
        long_side = self.cfg.worker.model_long_side

        def small() -> np.ndarray:
            return shrink(decoded.image, long_side)

        style = header.meta.style
        if style not in self.cfg.styles:
            style = self.cfg.kiosk.default_style
            log.warning(
                "job %s: style %r is not configured on this worker; using %r (the "
                "status says so in style_used)",
                job,
                header.meta.style,
                style,
            )
        editor = self.editor
        if editor is None:
            # no model asked: style_used stays null (booth/protocol.py Status)
            return Produced(self._local(small(), style), Effect.LOCAL, None, 1, 0.0)
        prompt = self.cfg.styles[style].prompt
        if decoded.kind == "image/jpeg" and max(decoded.width, decoded.height) <= long_side:
            model_in = decoded.data  # already a JPEG of the right size: no re-encode
        else:
            model_in = encode_jpeg(small(), 90)
        reserve = min(LOCAL_RESERVE_S, self.cfg.worker.deadline_s / 4)
        t0 = time.monotonic()

        def call(remaining: float) -> bytes:
            data, mime = editor.edit(model_in, prompt, remaining)
            return self._publishable(data, mime)

        def on_retry(attempt: int, exc: ModelError, delay: float) -> None:
            extra = f", paused {self.gate.paused_for:.1f} s" if self.gate.paused_for else ""
            log.info(
                "job %s: attempt %d failed (%s: %s); retrying in %.2f s%s",
                job,
                attempt,
                exc.kind.value,
                self._scrub(exc.detail),
                delay,
                extra,
            )

        try:
            result, attempts = call_with_retries(
                call,
                deadline - reserve,
                self.gate,
                self.backoff,
                on_retry=on_retry,
                guard=self.guard,
            )
            return Produced(result, Effect.GEMINI, None, attempts, time.monotonic() - t0, style)
        except ModelError as exc:
            model_s = time.monotonic() - t0
            error = JobError.for_guest(exc.kind, exc.retry_after_s)
            detail = self._scrub(exc.detail)
            if exc.attempts:  # a call was made: the operator's last_error
                with self._lock:
                    self._last_error = error_record(exc.kind.value, detail)
            level = logging.ERROR if exc.kind is ErrorKind.INTERNAL else logging.WARNING
            log.log(level, "job %s: model call failed: %s: %s", job, exc.kind.value, detail)
            if self.cfg.worker.fallback == "local" and exc.kind in FALLBACK_KINDS:
                return Produced(
                    self._local(small(), style), Effect.LOCAL, error, exc.attempts, model_s, style
                )
            return Produced(None, None, error, exc.attempts, model_s, style)

    def _publishable(self, data: bytes, mime: str) -> bytes:
        """The model's picture as a JPEG no larger than worker.result_long_side; a picture that
        is not a whole, sane image counts as no image (worth one more try)."""
        target = self.cfg.worker.result_long_side
        try:
            info = inspect(data, max(len(data), 1), self.cfg.worker.max_pixels)
            long = max(info.width, info.height)
            if info.kind == JPEG and long <= target:
                decode(data, info, reduce=8)  # whole? a 1/8-scale decode is enough to know
                return data
            # a big JPEG decodes at the largest fraction still at least the target size
            img = shrink(decode(data, info, reduce=reduce_for(info, target)), target)
        except BadImage as exc:
            raise ModelError(
                ErrorKind.NO_IMAGE,
                f"the model's {mime} ({len(data)} bytes) is not usable: {exc}",
                retry=RETRY_ONCE,
            ) from None
        return encode_jpeg(img, self.cfg.worker.jpeg_quality)

    def _local(self, image: np.ndarray, style: str) -> bytes:
        """The local effect in the style's own variant (booth/config.py LOCAL_VARIANTS)."""
        variant = self.cfg.style(style).local
        return encode_jpeg(self.effect.apply(image, variant).image, self.cfg.worker.jpeg_quality)

    # ------------------------------------------------------------------ publishing
    def _status(
        self,
        header: JobRef | JobMessage,
        status: JobStatus,
        effect: Effect | None,
        error: JobError | None,
        attempts: int,
    ) -> Status:
        return Status(
            header.job_id,
            header.booth,
            status,
            effect=effect,
            attempt=max(1, attempts),
            worker=self.id,
            error=error,
        )

    def _publish_final(
        self,
        header: JobRef | JobMessage,
        status: Status,
        result: bytes | None,
        content_type: str = "image/jpeg",
    ) -> bool:
        """Result (retained) then final status (retained); True once the broker acked both."""
        handles = []
        if result is not None:
            handles.append(
                self.mqtt.publish(
                    self.topics.results(header.booth, header.job_id),
                    result,
                    qos=1,
                    retain=True,
                    properties=result_properties(content_type),
                )
            )
        # a stored status may come from another worker or an earlier time: ours, stamped now
        final = dataclasses.replace(status, worker=self.id, updated_at=utc_now_iso())
        handles.append(
            self.mqtt.publish(
                self.topics.status(header.booth, header.job_id), final.to_json(), qos=1, retain=True
            )
        )
        # Wait while the broker may still take them (paho resends QoS 1 after a reconnect).
        end = time.monotonic() + max(PUBLISH_WAIT_S, self.cfg.worker.grace_s)
        for handle in handles:
            while not handle.wait(0.5):
                if handle.acked or time.monotonic() > end:
                    log.warning(
                        "job %s: broker did not accept the %s (%s); not acking, it "
                        "will be redelivered",
                        header.job_id,
                        "final status/result",
                        handle.reason,
                    )
                    return False
        return True
