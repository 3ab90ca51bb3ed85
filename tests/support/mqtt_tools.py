"""A recording test client on the real broker: collects messages by topic."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as paho


class Recorder:
    """Subscribes to `topics` and records every message (topic, payload, properties, retain)."""

    def __init__(self, url_port: int, topics: list[str], client_id: str | None = None) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"rec-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5,
        )
        self._topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.connect("127.0.0.1", url_port, keepalive=30)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("recorder did not subscribe")

    def _on_connect(self, client, userdata, flags, reason, props):
        client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.messages.append(msg)

    def on(self, topic_prefix: str) -> list[paho.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic.startswith(topic_prefix)]

    def wait(self, predicate, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if predicate(list(self.messages)):
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
