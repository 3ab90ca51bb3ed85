"""The protocol version on availability messages, checked against a real mosquitto: the birth,
the clean `offline` and the will all carry it as an MQTT 5 user property, and the broker keeps
the property on the retained message a late subscriber gets (also after a restart from its
persistence file), so the operator's views learn a part's version from retained state alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from booth.healthboard import HealthBoard
from booth.mqtt import MqttConnection, wait_for
from booth.protocol import (
    FIRST_PROTOCOL_VERSION,
    PROTOCOL_PROPERTY,
    PROTOCOL_VERSION,
    Availability,
    Topics,
)
from tests.support.mqtt_tools import Recorder

T = Topics("booth")
ROOT = Path(__file__).resolve().parents[2]


def retained(port: int, topic: str) -> Availability:
    """What a subscriber that comes later gets: the retained message, with its properties."""
    late = Recorder(port, [topic])
    try:
        assert late.wait(lambda ms: bool(ms) and ms[-1].retain, 10), "nothing retained"
        msg = late.on(topic)[-1]
        return Availability.parse(msg.payload, msg.properties)
    finally:
        late.close()


def test_birth_and_clean_offline_carry_the_version_and_the_broker_retains_it(broker):
    topic = T.worker_availability("w-now")
    conn = MqttConnection(broker.url, "w-now", availability_topic=topic).start()
    try:
        assert conn.wait_connected(10)
        assert retained(broker.port, topic) == Availability(True, PROTOCOL_VERSION)
    finally:
        conn.stop()
    assert retained(broker.port, topic) == Availability(False, PROTOCOL_VERSION)
    # mosquitto writes retained messages with their properties into its persistence file
    broker.restart()
    assert retained(broker.port, topic) == Availability(False, PROTOCOL_VERSION)


def test_the_will_carries_the_version_when_a_worker_is_killed(broker, tmp_path):
    topic = T.worker_availability("doomed")
    script = tmp_path / "client.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from booth.mqtt import MqttConnection
c = MqttConnection({broker.url!r}, "doomed", availability_topic={topic!r}, keepalive_s=5).start()
c.wait_connected(10)
print("up", flush=True)
time.sleep(600)
""")
    rec = Recorder(broker.port, [topic])
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"up"
        assert rec.wait(lambda ms: any(m.payload == b"online" for m in ms), 10)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert rec.wait(lambda ms: ms[-1].payload == b"offline", 20)
        will = rec.on(topic)[-1]
        assert Availability.parse(will.payload, will.properties) == Availability(
            False, PROTOCOL_VERSION
        )
        assert retained(broker.port, topic) == Availability(False, PROTOCOL_VERSION)
    finally:
        proc.kill()
        rec.close()


def test_the_health_board_learns_each_workers_version_from_retained_state(broker):
    """A worker from before versions (plain availability, no health), one of today, and a newer
    one (its availability's user property says v+1, with a property this booth does not know)."""
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    newer = Properties(PacketTypes.PUBLISH)
    newer.UserProperty = [(PROTOCOL_PROPERTY, str(PROTOCOL_VERSION + 1)), ("zone", "hall-b")]
    try:
        for worker, props in (("w-old", None), ("w-new", newer)):
            pub.publish(
                T.worker_availability(worker), "online", qos=1, retain=True, properties=props
            ).wait_for_publish(5)
    finally:
        pub.loop_stop()
        pub.disconnect()
    today = MqttConnection(broker.url, "w-now", availability_topic=T.worker_availability("w-now"))
    today.start()
    board = HealthBoard(T, "b1")
    reader = MqttConnection(
        broker.url,
        "board",
        subscriptions=board.subscriptions(kiosk=False, services=False),
        on_message=lambda m: board.feed(m.topic, m.payload, m.properties),
    ).start()
    try:
        assert today.wait_connected(10) and reader.wait_connected(10)
        rec = Recorder(broker.port, [T.all_worker_availability()])
        assert rec.wait(lambda ms: len({m.topic for m in ms}) == 3, 10)
        rec.close()
        assert wait_for(lambda: len(board.protocol_versions()) == 3, 10)
        assert board.protocol_versions() == {
            "w-old": FIRST_PROTOCOL_VERSION,
            "w-now": PROTOCOL_VERSION,
            "w-new": PROTOCOL_VERSION + 1,
        }
        views = {p.id: p for p in board.parts() if p.part == "worker"}
        assert views["w-now"].protocol_note == ""
        assert views["w-new"].protocol_note == (
            f"speaks a newer protocol (v{PROTOCOL_VERSION + 1}; "
            f"this booth speaks v{PROTOCOL_VERSION})"
        )
        assert views["w-old"].protocol_note.startswith("speaks an older protocol (v1;")
        assert views["w-new"].level == views["w-now"].level  # a note, not a problem
    finally:
        reader.stop()
        today.stop()
