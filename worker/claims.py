"""Which worker runs a job when the broker offers no shared subscriptions: a claim.

Without a shared subscription every worker receives every job. The claim is the job's own
`processing` status, which the protocol has anyway: the worker whose `processing` the broker
carries first runs the job, and every other worker stands down (acks its copy) once it sees that
status. Nothing new goes on the wire, and what is already there covers the rest: statuses only
move forward and the first result wins, so a rare second runner costs one model call and
nothing else; a claim of a worker that said `offline`, or one past the job's deadline, no longer
counts, so the job the kiosk re-dispatches for a dead worker is run by the next one.

So that the workers do not all race for every job, they are ranked per job (rendezvous hashing
of the job id with each online worker's id): the first starts at once, the k-th waits up to
k × CLAIM_STAGGER_S for someone else's claim. A busy or dead first worker costs the guest a
second, not a re-dispatch, and the load spreads by who is free.

The statuses and the workers' availability come over a connection of its own (the watch): a
broker may send nothing more to a client holding an un-acked message (ejabberd 23.01 sends one
message at a time), and the job connection holds its job un-acked until the job is done.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho

from booth.config import MqttConfig
from booth.mqtt import MqttConnection
from booth.protocol import (
    JobStatus,
    ProtocolError,
    Status,
    TopicKind,
    Topics,
    parse_availability,
)

log = logging.getLogger("worker")

CLAIM_STAGGER_S = 1.0  # per rank: far more than a claim takes to reach the others on a LAN
STATUS_WAIT_S = 3.0  # for a job's retained status (the kiosk's `pending`) after subscribing
ECHO_WAIT_S = 3.0  # for this worker's own `processing` to come back through the broker


def score(job_id: str, worker: str) -> int:
    """The rendezvous weight of a worker for a job: the highest weight goes first."""
    return int.from_bytes(hashlib.sha256(f"{job_id}\n{worker}".encode()).digest()[:8], "big")


class Claims:
    """The watch connection and what it has seen: who is online, and the statuses of the jobs
    this worker is handling. Job threads ask `settle` before starting a job and `confirm`
    after publishing its `processing`; either returns why to stand down, or None to run."""

    def __init__(
        self,
        mqtt: MqttConfig,
        topics: Topics,
        worker_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.me = worker_id
        self.topics = topics
        self._clock = clock
        self._cond = threading.Condition()
        self._online: dict[str, bool] = {}
        self._seen: dict[str, list[Status]] = {}  # job id → its statuses, in arrival order
        self._watching: dict[str, int] = {}  # job id → how many of its copies are in hand
        self.conn = MqttConnection.for_config(
            mqtt,
            f"{worker_id}-watch",
            subscriptions=[(topics.all_worker_availability(), 1)],
            on_message=self._on_message,
        )

    def start(self) -> Claims:
        self.conn.start()
        return self

    def stop(self) -> None:
        self.conn.stop(1.0)

    # ------------------------------------------------------------------ the watch's thread
    def _on_message(self, msg: paho.MQTTMessage) -> None:
        try:
            parsed = self.topics.parse(msg.topic)
            if parsed.kind is TopicKind.WORKER_AVAILABILITY and parsed.worker:
                online = parse_availability(msg.payload) if msg.payload else False
                with self._cond:
                    self._online[parsed.worker] = online
                    self._cond.notify_all()
            elif parsed.kind is TopicKind.STATUS and parsed.job_id and msg.payload:
                status = Status.from_json(msg.payload)
                with self._cond:
                    seen = self._seen.get(status.job_id)
                    if seen is not None:  # only the jobs in hand
                        seen.append(status)
                        self._cond.notify_all()
        except ProtocolError as exc:
            log.debug("watch: ignored a message on %s: %s", msg.topic, exc)

    # ------------------------------------------------------------------ job threads
    def watch(self, booth: str, job_id: str) -> None:
        """Follow a job's status (its retained one first) while a copy of it is in hand."""
        with self._cond:
            self._watching[job_id] = self._watching.get(job_id, 0) + 1
            if self._watching[job_id] > 1:
                return
            self._seen[job_id] = []
        self.conn.subscribe(self.topics.status(booth, job_id), 1)

    def unwatch(self, booth: str, job_id: str) -> None:
        with self._cond:
            left = self._watching.get(job_id, 0) - 1
            if left > 0:
                self._watching[job_id] = left
                return
            self._watching.pop(job_id, None)
            self._seen.pop(job_id, None)
        self.conn.unsubscribe(self.topics.status(booth, job_id))

    def rank(self, job_id: str) -> int:
        """How many online workers go before this one for the job (0: this one goes first)."""
        with self._cond:
            others = [w for w, on in self._online.items() if on and w != self.me]
        mine = score(job_id, self.me)
        return sum(score(job_id, w) > mine for w in others)

    def settle(self, job_id: str, arrived: float, deadline: float) -> str | None:
        """Before starting a job: wait for its status, then this worker's turn (its rank ×
        CLAIM_STAGGER_S after the job arrived); why to stand down, or None to run it."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._seen.get(job_id)), STATUS_WAIT_S)
        turn = arrived + self.rank(job_id) * CLAIM_STAGGER_S
        with self._cond:
            while True:
                why = self._taken(job_id, self._seen.get(job_id, []), deadline)
                left = turn - self._clock()
                if why or left <= 0:
                    return why
                self._cond.wait(left)

    def mark(self, job_id: str) -> int:
        """Where this worker's own claim will land among the job's statuses: take it just
        before publishing `processing`, and pass it to `confirm`."""
        with self._cond:
            return len(self._seen.get(job_id, []))

    def confirm(self, job_id: str, mark: int, deadline: float) -> str | None:
        """After publishing `processing`: once it came back through the broker, another live
        claim that came before it wins (the broker carried it first), and this worker stands
        down. None: run the job (also when the echo does not come in time)."""

        def echo() -> int | None:
            seen = self._seen.get(job_id, [])
            for i in range(mark, len(seen)):
                if seen[i].worker == self.me and seen[i].status is JobStatus.PROCESSING:
                    return i
            return None

        with self._cond:
            if not self._cond.wait_for(lambda: echo() is not None, ECHO_WAIT_S):
                log.warning(
                    "job %s: this worker's claim did not come back within %g s; running it",
                    job_id,
                    ECHO_WAIT_S,
                )
                return None
            at = echo()
            return self._taken(job_id, self._seen.get(job_id, [])[:at], deadline)

    def _taken(self, job_id: str, seen: list[Status], deadline: float) -> str | None:
        """Why the job is someone else's, from the statuses seen (under the lock)."""
        for st in seen:
            if st.status.is_final:
                return f"already {st.status.value} by {st.worker or 'a worker'}"
        if self._clock() > deadline:
            return None  # past its deadline: whoever claimed it did not finish it in time
        for st in seen:
            if (
                st.status is JobStatus.PROCESSING
                and st.worker
                and st.worker != self.me
                and self._online.get(st.worker, True)
            ):
                return f"worker {st.worker} has it (processing)"
        return None
