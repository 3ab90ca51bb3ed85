"""What a broker's CONNACK offers, read from two real MQTT 5 brokers (mosquitto and ejabberd),
and the claim that stands in for a shared subscription where a broker offers none
(worker/claims.py)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as paho
import pytest

from booth.config import MqttConfig
from booth.mqtt import BrokerFeatures, MqttConnection, plain_filter, wait_for
from booth.protocol import OFFLINE, ONLINE, JobStatus, Status, Topics
from tests.support.ejabberd import Ejabberd
from worker.claims import Claims, score

pytestmark = pytest.mark.broker
T = Topics("booth")


@pytest.fixture
def ejabberd(tmp_path: Path) -> Iterator[Ejabberd]:
    e = Ejabberd(tmp_path / "ejabberd").start()
    yield e
    e.close()


def connack(url: str) -> tuple[BrokerFeatures, dict[str, Any]]:
    """Connect as a worker does (session expiry 3600 s asked) and return what the CONNACK said:
    as BrokerFeatures, and as paho hands its properties to on_connect."""
    raw: dict[str, Any] = {}
    conn = MqttConnection(url, f"connack-{os.getpid()}", session_expiry_s=3600)
    original: Any = conn.paho.on_connect

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        raw.update(props.json())
        assert original is not None
        original(client, userdata, flags, reason, props)

    conn.paho.on_connect = on_connect
    conn.start()
    try:
        assert conn.wait_connected(10), "no connection"
        assert conn.features is not None
        return conn.features, raw
    finally:
        conn.stop(end_session=True)


def test_ejabberd_offers_no_shared_subscriptions_and_keeps_a_session_300_s(ejabberd):
    features, raw = connack(ejabberd.url)
    assert raw["SharedSubscriptionAvailable"] == 0
    assert raw["SessionExpiryInterval"] == 300
    assert features.shared_subscriptions is False
    assert (features.session_expiry_s, features.asked_session_expiry_s) == (300, 3600)
    assert features.session_capped
    assert features.unusable() == []  # retained messages, wildcards and QoS 1 are there
    assert features.shortfalls() == (
        "no shared subscriptions, sessions kept 300 s, not the 3600 s asked"
    )


def test_mosquitto_offers_both_as_asked(broker):
    features, raw = connack(broker.url)
    assert "SharedSubscriptionAvailable" not in raw  # absent: available
    assert features.shared_subscriptions is True
    assert features.session_expiry_s == 3600 and not features.session_capped
    assert features.shortfalls() == ""


def test_ejabberd_disconnects_a_shared_subscriber_and_the_connection_never_asks(ejabberd, caplog):
    # What the broker does to a client that asks anyway: the worker's reconnect loop.
    gone: list[str] = []
    raw = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id="asks-anyway", protocol=paho.MQTTv5
    )
    raw.username_pw_set("booth", "booth-secret")
    raw.on_disconnect = lambda c, u, f, reason, p: gone.append(str(reason))
    raw.connect("127.0.0.1", ejabberd.port)
    raw.loop_start()
    try:
        assert wait_for(raw.is_connected, 10)
        raw.subscribe(T.shared_jobs(), 1)
        assert wait_for(lambda: bool(gone), 10), "ejabberd kept the shared subscriber"
        assert gone[0] == "Shared subscription not supported"
    finally:
        raw.disconnect()
        raw.loop_stop()

    # MqttConnection leaves such a subscription out (said once), keeps the others and stays up.
    got: list[paho.MQTTMessage] = []
    caplog.set_level(logging.INFO, logger="booth.mqtt")
    conn = MqttConnection(
        ejabberd.url,
        "leaves-it-out",
        subscriptions=[(T.shared_jobs(), 1), (plain_filter(T.shared_jobs()), 1)],
        on_message=got.append,
    ).start()
    pub = MqttConnection(ejabberd.url, "publisher").start()
    try:
        assert conn.wait_connected(10) and pub.wait_connected(10)
        time.sleep(0.3)  # the SUBACK
        assert pub.publish(T.jobs("pi-1"), b"job", qos=1).wait(10)
        assert wait_for(lambda: len(got) == 1, 10)
        time.sleep(1.0)
        assert conn.connected
    finally:
        conn.stop()
        pub.stop()
    said = [r.getMessage() for r in caplog.records if "not subscribing" in r.getMessage()]
    assert said == [
        f"mqtt leaves-it-out: not subscribing to {T.shared_jobs()}: "
        f"mqtt://booth:***@127.0.0.1:{ejabberd.port} offers no shared subscriptions"
    ]
    connects = [r.getMessage() for r in caplog.records if "leaves-it-out: connected" in r.message]
    assert len(connects) == 1 and "the broker offers no shared subscriptions" in connects[0]


def test_plain_filter():
    assert plain_filter("$share/workers/booth/+/jobs") == "booth/+/jobs"
    assert plain_filter("booth/+/jobs") == "booth/+/jobs"


# ----------------------------------------------------------------------------- claims
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def claims_for(me: str, online: list[str], clock: FakeClock) -> Claims:
    """Claims fed by hand (no broker): the watch's messages are given to its handler."""
    c = Claims(MqttConfig(url="mqtt://127.0.0.1:1"), T, me, clock=clock)
    for w in online:
        feed(c, T.worker_availability(w), ONLINE.encode())
    return c


def feed(c: Claims, topic: str, payload: bytes) -> None:
    msg = SimpleNamespace(topic=topic, payload=payload)  # what the handler reads of a message
    c._on_message(msg)  # type: ignore[arg-type]  # a stand-in for paho's MQTTMessage


def status(job: str, st: JobStatus, worker: str | None) -> bytes:
    return Status(job, "pi-1", st, worker=worker).to_json()


JOB = "job0123456789"


def test_rank_is_the_rendezvous_order_of_the_online_workers():
    clock = FakeClock()
    workers = ["wa", "wb", "wc"]
    order = sorted(workers, key=lambda w: score(JOB, w), reverse=True)
    for i, w in enumerate(order):
        assert claims_for(w, workers, clock).rank(JOB) == i
    first = claims_for(order[1], workers, clock)
    feed(first, T.worker_availability(order[0]), OFFLINE.encode())
    assert first.rank(JOB) == 0  # the one before it went offline


def test_settle_stands_down_for_a_live_claim_or_a_final_status_only():
    clock = FakeClock()
    c = claims_for("wa", ["wa", "wb"], clock)
    c.watch("pi-1", JOB)
    topic = T.status("pi-1", JOB)
    feed(c, topic, status(JOB, JobStatus.PENDING, None))
    deadline = clock.now + 20
    assert c.settle(JOB, arrived=clock.now - 10, deadline=deadline) is None  # its turn is past
    feed(c, topic, status(JOB, JobStatus.PROCESSING, "wa"))  # its own earlier claim
    assert c.settle(JOB, arrived=clock.now - 10, deadline=deadline) is None
    feed(c, topic, status(JOB, JobStatus.PROCESSING, "wb"))
    assert c.settle(JOB, clock.now - 10, deadline) == "worker wb has it (processing)"
    clock.now = deadline + 1  # wb did not finish in time: the kiosk re-dispatched it
    assert c.settle(JOB, clock.now - 10, deadline) is None
    clock.now = deadline - 5
    feed(c, T.worker_availability("wb"), OFFLINE.encode())  # wb died mid-job
    assert c.settle(JOB, clock.now - 10, deadline) is None
    feed(c, topic, status(JOB, JobStatus.COMPLETED, "wc"))
    assert c.settle(JOB, clock.now - 10, deadline) == "already completed by wc"
    c.unwatch("pi-1", JOB)
    assert c._seen == {}


def test_settle_waits_its_turn_and_ends_it_when_the_first_worker_claims():
    clock = FakeClock()
    workers = ["wa", "wb"]
    second = min(workers, key=lambda w: score(JOB, w))
    first = max(workers, key=lambda w: score(JOB, w))
    c = claims_for(second, workers, clock)
    c.watch("pi-1", JOB)
    topic = T.status("pi-1", JOB)
    feed(c, topic, status(JOB, JobStatus.PENDING, None))
    threading.Timer(0.2, feed, (c, topic, status(JOB, JobStatus.PROCESSING, first))).start()
    t0 = time.monotonic()
    assert c.settle(JOB, arrived=clock.now, deadline=clock.now + 20) == (
        f"worker {first} has it (processing)"
    )
    assert 0.1 < time.monotonic() - t0 < 0.9  # woken by the claim, before its turn (1 s)


def test_confirm_the_claim_the_broker_carried_first_wins():
    clock = FakeClock()
    c = claims_for("wa", ["wa", "wb"], clock)
    c.watch("pi-1", JOB)
    topic = T.status("pi-1", JOB)
    feed(c, topic, status(JOB, JobStatus.PENDING, None))
    mark = c.mark(JOB)
    feed(c, topic, status(JOB, JobStatus.PROCESSING, "wb"))  # wb's came first
    feed(c, topic, status(JOB, JobStatus.PROCESSING, "wa"))  # then this worker's echo
    assert c.confirm(JOB, mark, clock.now + 20) == "worker wb has it (processing)"

    other = claims_for("wb", ["wa", "wb"], clock)  # wb saw the same order: its own first
    other.watch("pi-1", JOB)
    feed(other, topic, status(JOB, JobStatus.PENDING, None))
    mark = other.mark(JOB)
    feed(other, topic, status(JOB, JobStatus.PROCESSING, "wb"))
    feed(other, topic, status(JOB, JobStatus.PROCESSING, "wa"))
    assert other.confirm(JOB, mark, clock.now + 20) is None


# ----------------------------------------------------------------------------- booth snap
def test_snap_says_where_to_look_when_no_worker_comes_online():
    from appliance.snap import _no_worker

    def ctl(features: BrokerFeatures | None) -> Any:
        return SimpleNamespace(mqtt=SimpleNamespace(features=features))

    plain = _no_worker(ctl(BrokerFeatures()), started_worker=False)
    assert plain == (
        "no worker said online within 30 s: the photo waits for one; "
        "`booth doctor` checks the broker and the workers"
    )
    said = _no_worker(ctl(BrokerFeatures(shared_subscriptions=False)), started_worker=True)
    assert "the worker started for this snap logged why above" in said
    assert "this broker offers no shared subscriptions" in said
    assert _no_worker(ctl(None), started_worker=False) == plain
