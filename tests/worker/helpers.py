"""Worker test helpers: a kiosk stand-in that publishes jobs and records statuses and results."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as paho

from booth.protocol import Health, JobMeta, JobStatus, Status, Topics, new_job_id

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "tests" / "output" / "worker"
BOOTH = "testbooth"


def portrait_bytes() -> bytes:
    return (FIXTURES / "portrait.jpg").read_bytes()


def jpeg_of(img: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def decode(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class Kiosk:
    """Publishes jobs like the kiosk does and records everything under the booth's topics."""

    def __init__(self, port: int, root: str = "booth", booth: str = BOOTH) -> None:
        self.topics = Topics(root)
        self.booth = booth
        self.messages: list[tuple[str, bytes, object, bool]] = []
        self._subscribed = False
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"kiosk-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv5,
        )
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(
            [
                (f"{root}/{booth}/#", 1),
                (self.topics.all_worker_availability(), 1),
                (self.topics.all_worker_health(), 1),
            ]
        )
        self.client.on_subscribe = lambda *a: setattr(self, "_subscribed", True)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert wait_until(lambda: self._subscribed, 10)

    def _on_message(self, client, userdata, msg) -> None:
        self.messages.append((msg.topic, bytes(msg.payload), msg.properties, bool(msg.retain)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # ---------------------------------------------------------------- sending
    def send(
        self,
        payload: bytes,
        job_id: str | None = None,
        style: str = "drip",
        content_type: str = "image/jpeg",
        pending: bool = True,
        props=None,
        created_at: str | None = None,
    ) -> str:
        job_id = job_id or new_job_id()
        if created_at is not None:
            props = JobMeta(job_id, style, created_at, content_type).to_properties()
        if pending:
            st = Status(job_id, self.booth, JobStatus.PENDING)
            self.client.publish(
                self.topics.status(self.booth, job_id), st.to_json(), qos=1, retain=True
            ).wait_for_publish(10)
        if props is None:
            props = JobMeta(job_id, style, content_type=content_type).to_properties()
        self.client.publish(
            self.topics.jobs(self.booth), payload, qos=1, properties=props
        ).wait_for_publish(30)
        return job_id

    # ---------------------------------------------------------------- reading
    def statuses(self, job_id: str) -> list[Status]:
        topic = self.topics.status(self.booth, job_id)
        return [Status.from_json(p) for t, p, _pr, _r in list(self.messages) if t == topic and p]

    def results(self, job_id: str) -> list[tuple[bytes, object]]:
        topic = self.topics.results(self.booth, job_id)
        return [(p, pr) for t, p, pr, _r in list(self.messages) if t == topic and p]

    def final(self, job_id: str, timeout: float = 30.0) -> Status | None:
        def done():
            finals = [s for s in self.statuses(job_id) if s.status.is_final]
            return finals[-1] if finals else None

        return wait_until(done, timeout)

    def health(self, worker_id: str, where=lambda h: True, timeout: float = 10.0) -> Health | None:
        """The latest health message of a worker for which `where(health)` holds."""
        topic = self.topics.worker_health(worker_id)

        def latest():
            found = [
                Health.from_json(p) for t, p, _pr, _r in list(self.messages) if t == topic and p
            ]
            return found[-1] if found and where(found[-1]) else None

        return wait_until(latest, timeout)

    def worker_online(self, worker_id: str, timeout: float = 15.0, after: int = 0) -> bool:
        """An `online` for the worker among the messages from index `after` on (pass the count
        taken before a restart so an old retained `online` does not count)."""
        topic = self.topics.worker_availability(worker_id)
        return bool(
            wait_until(
                lambda: any(
                    t == topic and p == b"online" for t, p, _pr, _r in list(self.messages)[after:]
                ),
                timeout,
            )
        )
