"""Incoming MQTT messages, routed by the kind of their topic through one table.

Runs on the store thread (kiosk/jobs/storeloop.py). A topic that does not parse is counted and
logged; a kind with no handler is not ours to read. A message whose handler hits a storage
error (a full disk, a busy or failing ledger) is held (kiosk/jobs/held.py) and offered again
until it is stored, so the guest's screen follows by itself once space returns."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping

import paho.mqtt.client as paho

from booth.protocol import ParsedTopic, ProtocolError, TopicKind, Topics
from jobstore.ledger import JobRow
from kiosk.jobs.held import Held, HeldMessages
from kiosk.jobs.trouble import Trouble
from kiosk.jobs.views import JobEvent, JobViews

log = logging.getLogger(__name__)

Handler = Callable[[ParsedTopic, paho.MQTTMessage], None]


class MessageRouter:
    def __init__(
        self,
        topics: Topics,
        handlers: Mapping[TopicKind, Handler],
        held: HeldMessages,
        views: JobViews,
        trouble: Trouble,
        row_of: Callable[[str], JobRow | None],
    ) -> None:
        self.topics = topics
        self.handlers = dict(handlers)
        self.held = held
        self.views = views
        self.trouble = trouble
        self.row_of = row_of  # a job's row, None when missing or unreadable

    def route(self, msg: paho.MQTTMessage, held: Held | None = None) -> None:
        """Hand `msg` to its kind's handler; `held` is set when a held message is offered
        again."""
        try:
            topic = self.topics.parse(msg.topic)
        except ProtocolError as exc:
            self.trouble.ignore(msg.topic, exc)
            return
        handler = self.handlers.get(topic.kind)
        if handler is None:
            return
        try:
            handler(topic, msg)
        except (OSError, sqlite3.OperationalError) as exc:
            if topic.job_id is None:
                raise
            self._hold(topic.job_id, msg, exc, held)

    def retry_held(self) -> None:
        """Offer the held messages that are due again (a store-thread tick)."""
        self.held.retry(lambda h: self.route(h.msg, h))

    def _hold(self, job_id: str, msg: paho.MQTTMessage, exc: Exception, held: Held | None) -> None:
        if held is not None:  # a retry failed again: back off
            self.held.hold_again(held)
            return
        self.held.hold(job_id, msg, len(msg.payload or b""))
        what = msg.topic.split("/")[-2]
        log.error(
            "job %s: cannot store its %s (%s); keeping it and trying again until there is space",
            job_id,
            what,
            exc,
        )
        self.trouble.report("storage", f"cannot store a {what}: {exc}")
        row = self.row_of(job_id)
        if row is not None:
            self.views.put(
                JobEvent("store_failed", self.views.of(row), message=str(exc), reason="storage")
            )
