"""The MQTT connection helper against a real mosquitto."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from booth.mqtt import BrokerUrl, MqttConnection, MqttUrlError, wait_for
from booth.protocol import JobMeta, Topics, new_job_id
from tests.support.mqtt_tools import Recorder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
T = Topics("booth")


def test_url_parsing():
    u = BrokerUrl.parse("mqtt://kiosk:p%40ss@broker.local:1884")
    assert (u.host, u.port, u.tls, u.username, u.password) == (
        "broker.local",
        1884,
        False,
        "kiosk",
        "p@ss",
    )
    assert "p@ss" not in u.safe() and "p@ss" not in repr(u)
    assert BrokerUrl.parse("mqtts://h").port == 8883
    assert BrokerUrl.parse("mqtt://h").port == 1883
    for bad in ("http://h", "mqtt://", "mqtt://h:notaport"):
        with pytest.raises(MqttUrlError):
            BrokerUrl.parse(bad)


def test_job_with_user_properties_and_jpeg_round_trips(broker):
    got: list = []
    sub = MqttConnection(
        broker.url, "sub", subscriptions=[(T.jobs("pi-1"), 1)], on_message=got.append
    ).start()
    pub = MqttConnection(broker.url, "pub").start()
    try:
        assert sub.wait_connected(10) and pub.wait_connected(10)
        assert wait_for(lambda: sub.paho.is_connected(), 5)
        time.sleep(0.3)  # let the SUBACK land
        jpeg = (FIXTURES / "portrait.jpg").read_bytes()
        meta = JobMeta(new_job_id(), "drip")
        assert pub.publish(T.jobs("pi-1"), jpeg, 1, False, meta.to_properties()).wait(10)
        assert wait_for(lambda: len(got) == 1, 10)
        msg = got[0]
        assert msg.payload == jpeg
        assert JobMeta.from_properties(msg.properties) == meta
        assert msg.properties.ContentType == "image/jpeg"
    finally:
        sub.stop()
        pub.stop()


def test_birth_and_clean_stop_say_online_then_offline(broker):
    rec = Recorder(broker.port, [T.availability("pi-1")])
    conn = MqttConnection(broker.url, "kiosk-pi-1", availability_topic=T.availability("pi-1"))
    conn.start()
    try:
        assert rec.wait(lambda ms: any(m.payload == b"online" for m in ms))
        conn.stop()
        assert rec.wait(lambda ms: ms[-1].payload == b"offline")
    finally:
        rec.close()


def test_will_is_delivered_when_a_client_is_killed(broker, tmp_path):
    script = tmp_path / "client.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from booth.mqtt import MqttConnection
c = MqttConnection({broker.url!r}, "doomed", availability_topic="booth/doomed/availability",
                   keepalive_s=5).start()
c.wait_connected(10)
print("up", flush=True)
time.sleep(600)
""")
    rec = Recorder(broker.port, ["booth/doomed/availability"])
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"up"
        assert rec.wait(lambda ms: any(m.payload == b"online" for m in ms), 10)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # The broker notices the dead TCP connection at once (RST) and publishes the will.
        assert rec.wait(lambda ms: ms[-1].payload == b"offline", 20)
        # and it is retained for late joiners
        late = Recorder(broker.port, ["booth/doomed/availability"])
        assert late.wait(lambda ms: ms and ms[-1].payload == b"offline" and ms[-1].retain, 10)
        late.close()
    finally:
        proc.kill()
        rec.close()


def test_publish_queued_while_broker_restarts_is_delivered(broker):
    got: list = []
    sub = MqttConnection(
        broker.url,
        "persistent-sub",
        subscriptions=[("booth/x/jobs", 1)],
        on_message=got.append,
        clean_start=False,
        session_expiry_s=3600,
    ).start()
    pub = MqttConnection(broker.url, "pub-restart").start()
    try:
        assert sub.wait_connected(10) and pub.wait_connected(10)
        time.sleep(0.3)
        broker.stop()
        assert wait_for(lambda: not pub.connected, 10)
        handle = pub.publish("booth/x/jobs", b"queued-while-down", qos=1)
        assert not handle.wait(0.5)  # not acked: no broker
        t0 = time.monotonic()
        broker.start()
        assert handle.wait(30), "publish was not delivered after the broker came back"
        assert wait_for(lambda: any(m.payload == b"queued-while-down" for m in got), 30)
        assert time.monotonic() - t0 < 30
    finally:
        sub.stop()
        pub.stop()


def test_publish_never_blocks_longer_than_asked(broker):
    conn = MqttConnection(broker.url, "nonblocking").start()
    assert conn.wait_connected(10)
    broker.stop()
    assert wait_for(lambda: not conn.connected, 10)
    t0 = time.monotonic()
    ok = conn.publish_wait("booth/x/jobs", b"x", timeout=0.3)
    assert not ok and time.monotonic() - t0 < 3
    conn.stop(timeout=0.3)


def test_manual_ack_redelivers_unacked_message_to_persistent_session(broker):
    """The building block of at-least-once: an unacked QoS 1 job comes back after reconnect."""
    topic = "booth/pi-1/jobs"
    first: list = []
    c1 = MqttConnection(
        broker.url,
        "acker",
        subscriptions=[(topic, 1)],
        on_message=first.append,
        clean_start=False,
        session_expiry_s=3600,
        manual_ack=True,
    ).start()
    pub = MqttConnection(broker.url, "pub-ack").start()
    assert c1.wait_connected(10) and pub.wait_connected(10)
    time.sleep(0.3)
    assert pub.publish(topic, b"job-1", qos=1).wait(10)
    assert wait_for(lambda: len(first) == 1, 10)
    # vanish without acking (like kill -9: no DISCONNECT)
    c1.paho._sock.close() if c1.paho._sock else None
    c1.paho.loop_stop()
    second: list = []
    c2 = MqttConnection(
        broker.url,
        "acker",
        subscriptions=[(topic, 1)],
        on_message=second.append,
        clean_start=False,
        session_expiry_s=3600,
        manual_ack=True,
    ).start()
    try:
        assert wait_for(lambda: len(second) >= 1, 20)
        assert second[0].payload == b"job-1" and second[0].dup
        c2.ack(second[0].mid, 1)
    finally:
        c2.stop()
        pub.stop()
