"""Which workers are online, from their retained availability and health messages.

The health board (booth/healthboard.py) is the one record of who is online; this watch feeds
it, tells the outbox when a worker comes online (it gets the waiting jobs at once), and decides
whether photos can be made at all (`ai_online`)."""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as paho

from booth.healthboard import HealthBoard
from booth.protocol import Availability, ParsedTopic, ProtocolError
from kiosk.jobs.outbox import Outbox
from kiosk.jobs.trouble import Trouble
from kiosk.jobs.views import JobEvent, JobViews

WORKERS_WORD_S = 2.0  # after connecting, retained availabilities have arrived by then


class WorkerWatch:
    def __init__(
        self,
        board: HealthBoard,
        connected: Callable[[], bool],
        outbox: Outbox,
        views: JobViews,
        trouble: Trouble,
        mono: Callable[[], float],
    ) -> None:
        self.board = board
        self.connected = connected
        self.outbox = outbox
        self.views = views
        self.trouble = trouble
        self.mono = mono
        self._connected_at: float | None = None

    def on_connect(self) -> None:
        """The broker connection (re)started: the retained availabilities follow."""
        self._connected_at = self.mono()

    @property
    def ai_online(self) -> bool | None:
        """True if any worker says online; False if all say offline, or none ever announced
        itself a while after connecting (photos are paused); None before we can tell."""
        said = [online for online, _ in self.board.workers().values() if online is not None]
        if not said:
            connected = self._connected_at
            if (
                connected is None
                or not self.connected()
                or self.mono() - connected < WORKERS_WORD_S
            ):
                return None
            return False
        return any(said)

    def on_health(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        self.board.feed(msg.topic, msg.payload, msg.properties)

    def on_availability(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        if msg.payload:  # (empty: a cleared retained availability)
            try:
                Availability.parse(msg.payload, msg.properties)
            except ProtocolError as exc:
                self.trouble.ignore(msg.topic, exc)
                return
        was = self._online(topic.worker)
        self.board.feed(msg.topic, msg.payload, msg.properties)
        if topic.worker is not None and self._online(topic.worker) and not was:
            self.outbox.worker_online(topic.worker)
        self.views.put(JobEvent("availability"))

    def _online(self, worker: str | None) -> bool:
        online, _health = self.board.workers().get(worker or "", (None, None))
        return bool(online)
