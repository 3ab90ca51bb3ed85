"""The outbox's order of events: a worker quick enough that its `processing` is stored before the
store thread hears the job was published (the publish runs on the capture thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

from booth.mqtt import MqttConnection, PublishHandle
from booth.protocol import JobStatus, Status
from jobstore.ledger import Ledger, ledger_path
from kiosk.jobs.outbox import Outbox
from kiosk.jobs.views import JobViews


class Mono:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Publisher:
    """Takes the outbox's publishes; every one acked at once (the broker's part is not tested
    here: tests/kiosk/test_jobs.py has the real one)."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def publish(self, topic: str, payload: bytes, **kw: object) -> PublishHandle:
        if topic.endswith("/jobs"):
            self.jobs.append(topic)
        handle = PublishHandle(len(self.jobs))
        handle._done(None)
        return handle


def test_a_processing_stored_before_the_publish_is_heard_stops_the_redispatch(kiosk_config):
    cfg = kiosk_config("redispatch_s = 3")
    ledger = Ledger(ledger_path(cfg.data_path))
    later: list[Callable[[], None]] = []
    mono = Mono()
    mqtt = Publisher()
    views = JobViews(cfg, None, time.time)
    # the stand-in has the one method the outbox calls
    outbox = Outbox(cfg, ledger, cast(MqttConnection, mqtt), views, later.append, time.time, mono)
    (cfg.data_path / "ai.jpg").write_bytes(b"\xff\xd8 the AI copy")
    now = time.time()
    ledger.insert_pending(
        "job-00001", "testbooth", "drip", now, "2026-12-07T00:00:00Z", "o.jpg", "ai.jpg"
    )
    outbox.publish("job-00001", "drip", "2026-12-07T00:00:00Z", b"\xff\xd8", pending_status=True)
    # the worker's `processing` reaches the store thread first …
    ledger.apply_status(Status("job-00001", "testbooth", JobStatus.PROCESSING, worker="w1"), now)
    outbox.follow(ledger.get("job-00001"))
    # … then the capture thread's news of the publish
    for task in later:
        task()
    mono.t += 10  # well past redispatch_s, not past the worker's deadline
    outbox.tick()
    assert mqtt.jobs == ["booth/testbooth/jobs"], "a started job was published again"
    ledger.close()
