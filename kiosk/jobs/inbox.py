"""This booth's job statuses and results, as they arrive: into the ledger, onto the screens.

Statuses only move forward (the ledger decides, jobstore/ledger.py `apply_status`); the first
result wins and every result is cleared from the broker once stored or refused, so it is not
offered again on the next start. A storage error propagates to the router
(kiosk/jobs/router.py), which holds the message and offers it again."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import paho.mqtt.client as paho

from booth.images import BadImage
from booth.protocol import JobStatus, ParsedTopic, ProtocolError, Status, UnknownStatus
from jobstore.ledger import JobRow, Ledger
from kiosk.jobs.outbox import Outbox
from kiosk.jobs.results import ResultStore
from kiosk.jobs.trouble import Trouble
from kiosk.jobs.views import JobViews

log = logging.getLogger(__name__)


class JobInbox:
    def __init__(
        self,
        booth: str,
        ledger: Ledger,
        results: ResultStore,
        outbox: Outbox,
        views: JobViews,
        trouble: Trouble,
        clear_retained: Callable[[str], object],
        clock: Callable[[], float],
    ) -> None:
        self.booth = booth
        self.ledger = ledger
        self.results = results
        self.outbox = outbox
        self.views = views
        self.trouble = trouble
        self.clear_retained = clear_retained
        self.clock = clock
        # True when the workers run without an AI key: the last finished job got the local
        # effect with no error (a fallback has an error). None until a job says either way.
        self.local_only: bool | None = None

    def on_status(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        if topic.booth != self.booth or topic.job_id is None:
            return  # another booth's
        if not msg.payload:
            self._cleared(topic.job_id)
            return
        try:
            st = Status.from_json(msg.payload)
        except UnknownStatus:
            return  # a newer worker's step: the job stays where it is (booth/protocol.py)
        except ProtocolError as exc:
            self.trouble.ignore(msg.topic, exc)
            return
        if st.job_id != topic.job_id or st.booth_id != self.booth:
            self.trouble.ignore(msg.topic, f"status names job {st.job_id} of booth {st.booth_id}")
            return
        if not self.ledger.apply_status(st, self.clock()):
            return
        log.info(
            "job %s: %s%s",
            st.job_id,
            st.status.value,
            f" ({st.error.kind.value})" if st.error else "",
        )
        if st.status is JobStatus.COMPLETED and st.effect is not None:
            self.local_only = st.effect.value == "local" and st.error is None
        row = self.ledger.get(st.job_id)
        if st.style_used is not None and row is not None and st.style_used != row.style:
            log.warning(
                "job %s: the worker does not know style %r; it used %r",
                st.job_id,
                row.style,
                st.style_used,
            )
        self.outbox.follow(row)
        self.views.emit_row("status", row)

    def on_result(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        if topic.booth != self.booth or topic.job_id is None or not msg.payload:
            return  # another booth's, or a cleared retained result
        job_id = topic.job_id
        row = self.ledger.get(job_id)
        if row is None:
            log.info("result for unknown job %s ignored", job_id)
            return
        if row.result_path is not None:
            log.info("job %s: duplicate result ignored (the first result wins)", job_id)
            self.clear_retained(msg.topic)
            return
        try:
            size = self.results.store(row, bytes(msg.payload))
        except BadImage as exc:
            self.trouble.ignore(msg.topic, f"result refused ({len(msg.payload)} bytes): {exc}")
            self.clear_retained(msg.topic)  # it would be refused again on every restart
            return
        self.clear_retained(msg.topic)
        if size is None:
            return
        log.info("job %s: result stored (%d bytes)", job_id, size)
        row = self.ledger.get(job_id)
        self.outbox.follow(row)
        self.views.emit_row("status", row)

    def row_quietly(self, job_id: str) -> JobRow | None:
        """The job's row, or None also when the ledger cannot be read right now."""
        try:
            return self.ledger.get(job_id)
        except sqlite3.Error:
            return None

    def _cleared(self, job_id: str) -> None:
        """A job's retained status was cleared: when its row is gone too, the share process
        deleted it (retention, or the operator on the dashboard): it leaves the screens."""
        if self.row_quietly(job_id) is not None:
            return
        self.outbox.forget(job_id)
        self.views.forget(job_id)
