"""Kiosk test helpers: a worker stand-in on the real broker, polling, config text."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import cv2
import paho.mqtt.client as paho

from booth.protocol import Effect, JobError, JobMeta, JobStatus, Status, Topics, result_properties

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SCREENS_OUT = ROOT / "tests" / "output" / "screens"


def kiosk_toml(extra: str = "", folder: Path | None = None) -> str:
    """A kiosk config; `key = value` lines at the start of `extra` override the [kiosk] defaults,
    anything after a table header is appended as is."""
    defaults = {
        "title": '"Anna & Ben\'s Wedding"',
        "countdown_s": "3",
        "redispatch_s": "30",
        "privacy": '"Photos are processed by an AI service and deleted after 7 days."',
    }
    head, sep, tables = ("\n" + extra).partition("\n[")
    for line in head.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            defaults[key.strip()] = value.strip()
    kiosk = "\n".join(f"{k} = {v}" for k, v in defaults.items())
    return f"""
[kiosk]
{kiosk}
[camera]
backend = "file"
folder = "{folder or FIXTURES}"
preview_width = 1280
preview_height = 720
[share]
public_url = "http://booth.local:8080"
{sep.strip()}{tables}
"""


def poll(predicate, timeout: float = 15.0, interval: float = 0.02, step=None):
    """Call `step` (e.g. app.step) and check `predicate` until it holds or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if step is not None:
            step()
        value = predicate()
        if value:
            return value
        # Like the real frame loop, sleep between frames: back-to-back frames would hold the
        # GIL and starve the kiosk's store and MQTT threads this test is waiting for.
        time.sleep(interval)
    return predicate()


def result_jpeg(quality: int = 90) -> bytes:
    """A stand-in AI result: the fixture portrait with a gold chain drawn on (BGR for OpenCV)."""
    img = cv2.imread(str(FIXTURES / "portrait.jpg"))
    assert img is not None
    h, w = img.shape[:2]
    for i in range(18):
        t = i / 17
        x = int(w * (0.28 + 0.44 * t))
        y = int(h * (0.78 + 0.12 * (1 - (2 * t - 1) ** 2)))
        cv2.circle(img, (x, y), max(4, w // 60), (40, 200, 250), -1)
        cv2.circle(img, (x, y), max(4, w // 60), (20, 120, 180), 2)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


class FakeWorker:
    """Plays the worker's side on the real broker: sees jobs, publishes statuses and results."""

    def __init__(
        self, port: int, root: str = "booth", booth: str = "testbooth", worker_id: str = "w1"
    ) -> None:
        self.topics = Topics(root)
        self.booth = booth
        self.worker_id = worker_id
        self.jobs: list[tuple[JobMeta, bytes, bool]] = []  # meta, payload, dup flag
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"fake-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv5,
        )
        self._subscribed = False
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(self.topics.jobs(booth), 1)
        self.client.on_subscribe = lambda *a: setattr(self, "_subscribed", True)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert poll(lambda: self._subscribed, 10)

    def _on_message(self, client, userdata, msg) -> None:
        try:
            meta = JobMeta.from_properties(msg.properties)
        except Exception:
            return
        self.jobs.append((meta, bytes(msg.payload), bool(msg.dup)))

    def job_ids(self) -> list[str]:
        return [m.job_id for m, _p, _d in self.jobs]

    def availability(self, online: bool) -> None:
        self.client.publish(
            self.topics.worker_availability(self.worker_id),
            "online" if online else "offline",
            qos=1,
            retain=True,
        ).wait_for_publish(5)

    def status(
        self, job_id: str, status: str, effect: str | None = None, error: JobError | None = None
    ) -> None:
        st = Status(
            job_id,
            self.booth,
            JobStatus(status),
            effect=Effect(effect) if effect else None,
            worker=self.worker_id,
            error=error,
        )
        self.client.publish(
            self.topics.status(self.booth, job_id), st.to_json(), qos=1, retain=True
        ).wait_for_publish(5)

    def result(self, job_id: str, data: bytes | None = None) -> None:
        self.client.publish(
            self.topics.results(self.booth, job_id),
            data or result_jpeg(),
            qos=1,
            retain=True,
            properties=result_properties("image/jpeg"),
        ).wait_for_publish(5)

    def raw(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def finish(self, job_id: str, effect: str = "gemini", error: JobError | None = None) -> None:
        self.status(job_id, "processing")
        self.result(job_id)
        self.status(job_id, "completed", effect=effect, error=error)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
