"""A worker one protocol version ahead of this booth, as a fleet has while it is being upgraded.

The newer worker adds fields everywhere it can: to its statuses (and their error object), to its
result's and its availability's MQTT 5 user properties, and to its health; it also says a status
value this booth has never heard of. Today's kiosk job side (JobController, in this process),
the real `booth share` process (its operator dashboard, logged in) and `booth doctor`'s worker
check each *use* what it sent: the job completes with the newer worker's result stored and
downloadable, the dashboard lists the worker as healthy and says it speaks a newer protocol,
and doctor says so too.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.doctor import WARN, Probe, check_workers
from booth.config import load_config
from booth.protocol import (
    PROTOCOL_PROPERTY,
    PROTOCOL_VERSION,
    AiState,
    JobMeta,
    JobStatus,
    Topics,
    utc_now_iso,
)
from tests.e2e.rig import Rig, http_get, wait_until
from tests.e2e.test_operator_view import Dashboard
from tests.kiosk.helpers import FIXTURES, result_jpeg
from tests.support.mosquitto import free_port
from worker.health import worker_health

NEWER = PROTOCOL_VERSION + 1
WORKER = "w-next"
NEWER_WORDS = f"speaks a newer protocol (v{NEWER}; this booth speaks v{PROTOCOL_VERSION})"


def _user_props(*pairs: tuple[str, str], content_type: str | None = None) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = list(pairs)
    if content_type:
        props.ContentType = content_type
    return props


class NewerWorker:
    """The worker side of protocol v(N+1), written by hand: every message carries added fields."""

    def __init__(self, port: int, booth: str) -> None:
        self.topics = Topics("booth")
        self.booth = booth
        self.jobs: list[str] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"newer-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv5,
        )
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(self.topics.jobs(booth), 1)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_job
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert self._subscribed.wait(10)

    def _on_job(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        self.jobs.append(JobMeta.from_properties(msg.properties).job_id)

    def _send(self, topic: str, payload: bytes | str, props: Properties | None = None) -> None:
        self.client.publish(topic, payload, qos=1, retain=True, properties=props).wait_for_publish(
            5
        )

    def online(self) -> None:
        props = _user_props((PROTOCOL_PROPERTY, str(NEWER)), ("capabilities", "video,strip"))
        self._send(self.topics.worker_availability(WORKER), "online", props)

    def health(self) -> None:
        data = worker_health(WORKER, AiState.OK, "", None, 0, {"completed": 1}, None).to_dict()
        data.update({PROTOCOL_PROPERTY: NEWER, "gpu": {"temp_c": 61}, "queue_depth": 0})
        self._send(self.topics.worker_health(WORKER), json.dumps(data))

    def status(self, job_id: str, status: str, **more: object) -> None:
        data: dict[str, object] = {
            "job_id": job_id,
            "booth_id": self.booth,
            "status": status,
            "effect": None,
            "attempt": 1,
            "worker": WORKER,
            "error": None,
            "updated_at": utc_now_iso(),
            "style_used": None,
            "queue_position": 0,  # added in v(N+1)
            "trace_id": uuid.uuid4().hex,  # added in v(N+1)
        }
        data.update(more)
        self._send(self.topics.status(self.booth, job_id), json.dumps(data))

    def result(self, job_id: str) -> None:
        props = _user_props(
            (PROTOCOL_PROPERTY, str(NEWER)), ("width", "1024"), content_type="image/jpeg"
        )
        self._send(self.topics.results(self.booth, job_id), result_jpeg(), props)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def booth(tmp_path, broker):
    """The rig's config with an operator listener, and the real share process on it."""
    admin_port = free_port()
    rig = Rig(tmp_path, broker)
    text = rig.config.read_text().replace("[share]\n", f"[share]\nadmin_port = {admin_port}\n")
    rig.config.write_text("trust_clock = true\n" + text)  # NTP here is not the subject
    env = {**rig.env, "BOOTH_ADMIN_PASSWORD": "op-pass"}
    share = rig.spawn("share", "share", env=env)
    wait_until(lambda: _admin_up(admin_port), 30, share.text)
    yield rig, load_config(rig.config, env=env), Dashboard(admin_port, "op-pass")
    rig.close()


def _admin_up(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def test_a_newer_workers_messages_are_used_by_the_kiosk_the_share_server_and_doctor(broker, booth):
    from kiosk.jobs.controller import JobController

    rig, cfg, dashboard = booth
    newer = NewerWorker(broker.port, cfg.booth_id)
    newer.online()
    newer.health()
    jobs = JobController(cfg).start()
    try:
        assert jobs.mqtt.wait_connected(10)
        job_id = jobs.submit_jpeg((FIXTURES / "portrait.jpg").read_bytes())
        wait_until(lambda: job_id in newer.jobs, 15, "the newer worker never got the job")

        # 1. the kiosk: a status with added fields moves the job
        newer.status(job_id, "processing")
        wait_until(
            lambda: jobs.ledger.get(job_id).status is JobStatus.PROCESSING,
            10,
            lambda: f"the kiosk dropped the newer worker's status: {jobs.ledger.get(job_id)}",
        )
        # a status value from after this booth's time leaves the job where it is
        newer.status(job_id, "upscaling")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            assert jobs.ledger.get(job_id).status is JobStatus.PROCESSING
            time.sleep(0.05)
        # the result (added user properties) and the final status (added fields, an added
        # field in its error, a newer error kind) complete it
        newer.result(job_id)
        newer.status(
            job_id,
            "completed",
            effect="local",
            error={
                "kind": "model_overloaded",
                "message": "The AI is busy; we added the bling ourselves.",
                "retry_after_s": None,
                "upstream_code": 529,
            },
            model="gemini-next-image",
        )
        view = jobs.wait_done(job_id, 15)
        assert view is not None and view.ready, jobs.ledger.get(job_id)
        # the result makes the job ready; the completed status is a message of its own, on
        # another topic, and may be applied after it: wait for it before reading its fields
        wait_until(
            lambda: jobs.ledger.get(job_id).status is JobStatus.COMPLETED,
            10,
            lambda: f"the kiosk never applied the completed status: {jobs.ledger.get(job_id)}",
        )
        row = jobs.ledger.get(job_id)
        assert (row.status, row.worker, row.effect) == (JobStatus.COMPLETED, WORKER, "local")
        assert row.error is not None and row.error.kind.value == "internal"
        stored = cfg.data_path / row.result_path
        assert stored.is_file() and stored.stat().st_size > 0
        # the kiosk's own board lists the worker, healthy and online
        kiosk_view = {p.key: p for p in jobs.board.parts()}[f"worker/{WORKER}"]
        assert (kiosk_view.level, kiosk_view.online) == ("ok", True)
        assert kiosk_view.protocol_note == NEWER_WORDS  # from its health (the kiosk's
        # board is fed without the availability's properties)

        # 2. the share server: the guest's download, and the operator's dashboard
        body = http_get(f"http://127.0.0.1:{cfg.share.port}/p/{row.token}/photo.jpg")
        assert body == stored.read_bytes()

        def worker_row() -> dict | None:
            return dashboard.parts().get(f"worker/{WORKER}")

        wait_until(lambda: worker_row() is not None, 10, lambda: str(dashboard.parts()))
        part = worker_row()
        assert part is not None
        assert (part["level"], part["online"]) == ("ok", True), part
        assert part["protocol_version"] == NEWER and NEWER_WORDS in part["details"], part
        assert "AI ok" in part["details"] and "workers" not in dashboard.parts()

        # 3. booth doctor: the worker is online and healthy, and speaks a newer protocol
        check = check_workers(cfg, Probe())
        assert check.level == WARN, check
        assert f"{WORKER} (AI ok)" in check.found, check
        assert f"worker {WORKER} {NEWER_WORDS}" in check.found, check
        assert "upgrade this machine" in check.fix, check
    finally:
        jobs.stop()
        newer.close()


def test_the_ledger_rebuild_reads_a_newer_workers_retained_statuses(broker, make_config):
    """A damaged ledger is rebuilt from the broker's retained statuses (jobstore/recovery.py):
    a newer worker's status with added fields counts; one with a status value this booth does
    not know is left out (its job is rebuilt from the photo store), and the rest still count."""
    from jobstore.recovery import read_retained_statuses

    cfg = make_config()
    newer = NewerWorker(broker.port, cfg.booth_id)
    done, odd = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        newer.status(done, "completed", effect="gemini", model="gemini-next-image")
        newer.status(odd, "archived")
        statuses = read_retained_statuses(cfg)
    finally:
        newer.close()
    assert set(statuses) == {done}
    st = statuses[done]
    assert (st.status, st.worker, st.effect and st.effect.value) == (
        JobStatus.COMPLETED,
        WORKER,
        "gemini",
    )
