"""The worker process: take jobs from the shared subscription, edit them, publish, then ack.

At-least-once: a job is acked only after its result and final status were acknowledged by the
broker, so a worker killed mid-job loses nothing (the broker redelivers it). Duplicates — from a
redelivery or from the kiosk's re-dispatch — are answered from the dedupe store, checked when a job
*starts*. paho's thread only queues messages; `concurrency` threads do the blocking work.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from booth.config import Config
from booth.mqtt import MqttConnection
from booth.images import BadImage, encode_jpeg, shrink, sniff_image_type
from booth.protocol import (Effect, ErrorKind, JobError, JobMessage, JobStatus, ProtocolError,
                            Status, Topics, result_properties, utc_now_iso)
from worker.classify import ModelError
from worker.dedupe import DedupeStore
from worker.local_effect import LocalEffect
from worker.retry import Backoff, RateGate, call_with_retries
from worker.validate import Decoded, decode_job_image

log = logging.getLogger("worker")

# Model failures that end in the local effect when fallback = "local" (README.md, Job lifecycle).
FALLBACK_KINDS = frozenset({ErrorKind.QUOTA, ErrorKind.RATE_LIMITED, ErrorKind.SAFETY,
                            ErrorKind.NO_IMAGE, ErrorKind.TIMEOUT, ErrorKind.UNAVAILABLE})
PUBLISH_WAIT_S = 10.0


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


def worker_dir(cfg: Config) -> Path:
    return cfg.data_path / "worker"


def claim_worker_id(cfg: Config) -> tuple[str, Any]:
    """`worker-<host>-<n>` with the lowest slot n free on this machine (held by a file lock).

    Stable across restarts (a persistent MQTT session needs the same client id) yet distinct for
    two workers started side by side with the same data dir. Returns (id, lock file to keep open).
    """
    host = "".join(c if (c.isalnum() or c in "_-") else "-"
                   for c in socket.gethostname().split(".")[0])[:40] or "host"
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
            self.editor = GeminiEditor(cfg.gemini)
        self.gate = RateGate()
        self.backoff = Backoff()
        self._queue: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._job_locks: dict[str, list] = {}   # job id → [lock, users]
        self._active = 0
        self._threads: list[threading.Thread] = []
        self._last_prune = 0.0
        self.counts = {"completed": 0, "failed": 0, "duplicates": 0, "rejected": 0}
        self.mqtt = MqttConnection(
            cfg.mqtt.url, self.id,
            availability_topic=self.topics.worker_availability(self.id),
            subscriptions=[(self.topics.shared_jobs(), 1)],
            on_message=self._on_message,
            clean_start=False,
            session_expiry_s=cfg.mqtt.session_expiry_s,
            receive_maximum=cfg.worker.concurrency,
            manual_ack=True,
            keepalive_s=cfg.mqtt.keepalive_s,
            ca_file=cfg.mqtt.ca_file or None)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Worker":
        self.store.prune()
        self._last_prune = time.monotonic()
        if self.editor is None:
            log.warning("worker %s: no GEMINI_API_KEY set: every job gets the local effect",
                        self.id)
        else:
            log.info("worker %s: model %s via %s", self.id, self.cfg.gemini.model,
                     self.cfg.gemini.base_url or "Google")
        for i in range(self.cfg.worker.concurrency):
            t = threading.Thread(target=self._run, name=f"job-{i + 1}", daemon=True)
            t.start()
            self._threads.append(t)
        self.mqtt.start()
        log.info("worker %s: started (concurrency %d, deadline %g s, fallback %s)", self.id,
                 self.cfg.worker.concurrency, self.cfg.worker.deadline_s, self.cfg.worker.fallback)
        return self

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self.mqtt.wait_connected(timeout)

    @property
    def active(self) -> int:
        with self._lock:
            return self._active

    def stop(self, grace_s: float | None = None) -> bool:
        """Stop taking jobs; give in-flight ones `grace_s` to finish. True if none was left.

        Jobs not finished by then are not acked: the broker gives them back on reconnect, and the
        kiosk re-dispatches a job that never showed `processing`.
        """
        grace = self.cfg.worker.grace_s if grace_s is None else grace_s
        self._stopping.set()
        try:
            if self.mqtt.connected:
                self.mqtt.paho.unsubscribe(self.topics.shared_jobs())
        except Exception:  # disconnected: nothing new can arrive anyway
            pass
        end = time.monotonic() + grace
        while self.active and time.monotonic() < end:
            time.sleep(0.05)
        left = self.active
        if left:
            log.warning("worker %s: %d job(s) still running after %g s; leaving them un-acked "
                        "for redelivery", self.id, left, grace)
        self.mqtt.stop()
        for _ in self._threads:
            self._queue.put(None)
        if self.editor is not None and not left:
            self.editor.close()
        if self._slot_lock is not None:
            self._slot_lock.close()
        log.info("worker %s: stopped (%s)", self.id,
                 ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        return left == 0

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
            log.warning("job %s: could not keep its result for duplicates (%s)", status.job_id,
                        exc)

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
                status = self._status(ref, JobStatus.FAILED, None,
                                      JobError.for_guest(ErrorKind.BAD_INPUT), 1)
                if self._publish_final(ref, status, None):
                    self._ack(msg)
                return
            log.warning("job on %s rejected (%d bytes): %s; no status can be sent without a "
                        "job id; acked", msg.topic, len(payload), exc)
            self._ack(msg)
            return
        lock = self._job_lock(header.job_id)
        try:
            with lock:  # a duplicate waits for the first copy, then hits the dedupe store
                self._handle_job(msg, header, payload, arrived)
        except Exception:
            # A bug or a broken disk must not hold a receive-maximum slot forever, nor leave
            # the guest waiting: the job ends failed/internal and is acked.
            log.exception("job %s: failed (internal error)", header.job_id)
            self._count("failed")
            status = self._status(header, JobStatus.FAILED, None,
                                  JobError.for_guest(ErrorKind.INTERNAL), 1)
            if self._publish_final(header, status, None):
                self._ack(msg)
        finally:
            self._release_job_lock(header.job_id)

    def _handle_job(self, msg: Any, header: JobMessage, payload: bytes, arrived: float) -> None:
        started = time.monotonic()
        job = header.job_id
        queue_wait = max(0.0, (datetime.now(timezone.utc) - header.meta.created).total_seconds())
        done = self.store.get(job)
        if done is not None:
            self._count("duplicates")
            log.info("job %s: duplicate%s; republishing its stored %s result", job,
                     " (redelivered)" if msg.dup else "", done.status.status.value)
            if self._publish_final(header, done.status, done.result, done.content_type):
                self._ack(msg)
            return
        try:
            decoded = decode_job_image(payload, self.cfg.worker.max_bytes,
                                       self.cfg.worker.max_pixels)
        except BadImage as exc:
            self._count("rejected")
            status = self._status(header, JobStatus.FAILED, None,
                                  JobError.for_guest(ErrorKind.BAD_INPUT), 1)
            log.warning("job %s: failed (bad_input: %s, %d bytes)", job, exc, len(payload))
            self._remember(status, None)
            if self._publish_final(header, status, None):
                self._ack(msg)
            return
        self.mqtt.publish(self.topics.status(header.booth, job),
                          self._status(header, JobStatus.PROCESSING, None, None, 1).to_json(),
                          qos=1, retain=True)
        w, h = decoded.width, decoded.height
        log.info("job %s: processing (%dx%d %s, style %s, queue wait %.2f s)", job, w, h,
                 decoded.kind.split("/")[1], header.meta.style,
                 queue_wait)
        try:
            produced = self._produce(job, header, decoded, started)
        except BadImage as exc:  # the full decode failed after the quick check passed
            log.warning("job %s: %s", job, exc)
            produced = Produced(None, None, JobError.for_guest(ErrorKind.BAD_INPUT), 1, 0.0)
        final = JobStatus.COMPLETED if produced.result is not None else JobStatus.FAILED
        status = self._status(header, final, produced.effect, produced.error, produced.attempts)
        self._remember(status, produced.result)
        ok = self._publish_final(header, status, produced.result)
        total = time.monotonic() - started
        self._count(final.value)
        cause = f" ({produced.error.kind.value})" if produced.error else ""
        log.info("job %s: %s%s effect=%s attempts=%d queue wait %.2f s, model %.2f s, total "
                 "%.2f s", job, final.value, cause, produced.effect.value if produced.effect
                 else "none", produced.attempts, queue_wait, produced.model_s, total)
        if ok:
            self._ack(msg)

    # ------------------------------------------------------------------ producing a picture
    def _produce(self, job: str, header: JobMessage, decoded: Decoded,
                 started: float) -> Produced:
        long_side = self.cfg.worker.model_long_side

        def small() -> np.ndarray:
            return shrink(decoded.image, long_side)

        if self.editor is None:
            return Produced(self._local(small(), header.meta.style), Effect.LOCAL, None, 1,
                            0.0)
        if decoded.kind == "image/jpeg" and max(decoded.width, decoded.height) <= long_side:
            model_in = decoded.data  # already a JPEG of the right size: no re-encode
        else:
            model_in = encode_jpeg(small(), 90)
        prompt = self.cfg.style(header.meta.style).prompt
        deadline = started + self.cfg.worker.deadline_s
        t0 = time.monotonic()

        def call(remaining: float) -> bytes:
            data, mime = self.editor.edit(model_in, prompt, remaining)
            return self._as_jpeg(data, mime)

        def on_retry(attempt: int, exc: ModelError, delay: float) -> None:
            extra = f", paused {self.gate.paused_for:.1f} s" if self.gate.paused_for else ""
            log.info("job %s: attempt %d failed (%s: %s); retrying in %.2f s%s", job, attempt,
                     exc.kind.value, exc.detail, delay, extra)

        try:
            result, attempts = call_with_retries(call, deadline, self.gate, self.backoff,
                                                 on_retry=on_retry)
            return Produced(result, Effect.GEMINI, None, attempts, time.monotonic() - t0)
        except ModelError as exc:
            model_s = time.monotonic() - t0
            error = JobError.for_guest(exc.kind, exc.retry_after_s)
            level = logging.ERROR if exc.kind is ErrorKind.INTERNAL else logging.WARNING
            log.log(level, "job %s: model call failed: %s: %s", job, exc.kind.value, exc.detail)
            if self.cfg.worker.fallback == "local" and exc.kind in FALLBACK_KINDS:
                return Produced(self._local(small(), header.meta.style), Effect.LOCAL, error,
                                exc.attempts, model_s)
            return Produced(None, None, error, exc.attempts, model_s)

    def _as_jpeg(self, data: bytes, mime: str) -> bytes:
        """The model's picture as a JPEG; an undecodable picture counts as no image."""
        is_jpeg = sniff_image_type(data) == "image/jpeg"
        # a JPEG is passed on as is: a 1/8-scale decode is enough to know it is whole
        flags = cv2.IMREAD_REDUCED_COLOR_8 if is_jpeg else cv2.IMREAD_COLOR
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
        if img is None:
            raise ModelError(ErrorKind.NO_IMAGE, f"the model's {mime} ({len(data)} bytes) does "
                                                 "not decode")
        if is_jpeg:
            return data
        return encode_jpeg(img, self.cfg.worker.jpeg_quality)

    def _local(self, image: np.ndarray, style: str) -> bytes:
        """The local effect in the style's own variant (booth/config.py LOCAL_VARIANTS)."""
        variant = self.cfg.style(style).local
        return encode_jpeg(self.effect.apply(image, variant).image, self.cfg.worker.jpeg_quality)

    # ------------------------------------------------------------------ publishing
    def _status(self, header: JobRef | JobMessage, status: JobStatus, effect: Effect | None,
                error: JobError | None, attempts: int) -> Status:
        return Status(header.job_id, header.booth, status, effect=effect,
                      attempt=max(1, attempts), worker=self.id, error=error)

    def _publish_final(self, header: JobRef | JobMessage, status: Status, result: bytes | None,
                       content_type: str = "image/jpeg") -> bool:
        """Result (retained) then final status (retained); True once the broker acked both."""
        handles = []
        if result is not None:
            handles.append(self.mqtt.publish(self.topics.results(header.booth, header.job_id),
                                             result, qos=1, retain=True,
                                             properties=result_properties(content_type)))
        # a stored status may come from another worker or an earlier time: ours, stamped now
        final = dataclasses.replace(status, worker=self.id, updated_at=utc_now_iso())
        handles.append(self.mqtt.publish(self.topics.status(header.booth, header.job_id),
                                         final.to_json(), qos=1, retain=True))
        # Wait while the broker may still take them (paho resends QoS 1 after a reconnect).
        end = time.monotonic() + max(PUBLISH_WAIT_S, self.cfg.worker.grace_s)
        for handle in handles:
            while not handle.wait(0.5):
                if handle.acked or time.monotonic() > end:
                    log.warning("job %s: broker did not accept the %s (%s); not acking, it "
                                "will be redelivered", header.job_id, "final status/result",
                                handle.reason)
                    return False
        return True
