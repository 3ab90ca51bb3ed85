"""Fleet mode: two real mosquittos on loopback, the booth's (config from install.sh plus
deploy/mosquitto-bridge.conf.example) and a central one (deploy/mosquitto/central.*.example).
A worker connected only to the central broker processes the booth's jobs and the results reach
the kiosk; with the bridge cut and restored, nothing is lost.

The worker here is a plain MQTT client doing what `booth worker` does on the wire (shared
subscription, persistent session, processing → result → completed, all retained QoS 1)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploytools import (
    REPO,
    Client,
    GeneratedBroker,
    credentials,
    job_properties,
    run_install,
    stop_process,
    wait_until,
)
from tests.support.mosquitto import Mosquitto, free_port

pytestmark = pytest.mark.broker  # each test starts a booth and a central mosquitto

BOOTH = "b1"
TIMEOUT = 60  # bridges reconnect with a backoff; generous for a loaded CI machine


class CentralBroker(Mosquitto):
    """The central broker from the example config, pointed at temp files and a free port."""

    def __init__(self, workdir: Path, password: str, worker_password: str) -> None:
        super().__init__(workdir)
        self.passwd = self.workdir / "central.passwd"
        self.acl = self.workdir / "central.acl"
        subprocess.run(
            ["mosquitto_passwd", "-b", "-c", str(self.passwd), f"bridge-{BOOTH}", password],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["mosquitto_passwd", "-b", str(self.passwd), "worker", worker_password],
            check=True,
            capture_output=True,
        )
        acl = (REPO / "deploy/mosquitto/central.acl.example").read_text()
        self.acl.write_text(acl.replace("BOOTH", BOOTH))

    def write_conf(self) -> None:
        import os

        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        conf = (REPO / "deploy/mosquitto/central.conf.example").read_text()
        conf = (
            conf.replace("/etc/mosquitto/central.passwd", str(self.passwd))
            .replace("/etc/mosquitto/central.acl", str(self.acl))
            .replace("\nlistener 1883\n", f"\nlistener {self.port} 127.0.0.1\n")
        )
        self.conf.write_text(
            "\n".join(
                [
                    conf,
                    f"persistence_location {data}/",
                    "user root" if os.geteuid() == 0 else "",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    f"log_dest file {self.log}",
                ]
            )
            + "\n"
        )


def bridge_conf(central_port: int, password: str) -> str:
    text = (REPO / "deploy/mosquitto-bridge.conf.example").read_text()
    return (
        text.replace("CENTRAL_HOST:1883", f"127.0.0.1:{central_port}")
        .replace("CHANGE_ME", password)
        .replace("BOOTH", BOOTH)
        # reconnect fast in tests (the example's 2..30 s backoff is for Wi-Fi in the field)
        .replace("restart_timeout 2 30", "restart_timeout 1 3")
    )


KIOSK_TOPICS = ("booth/b1/status/+", "booth/b1/results/+", "booth/workers/+/availability")


def start_fleet(
    tmp_path: Path, root: Path, booth_port: int, secret: str, worker_password: str
) -> tuple[CentralBroker, GeneratedBroker]:
    """The central broker and the booth's broker bridged to it (with `secret`), both started."""
    central = CentralBroker(tmp_path / "central", secret, worker_password)
    central.start()
    booth = GeneratedBroker(
        root, tmp_path / "booth", booth_port, extra_conf=bridge_conf(central.port, secret)
    )
    booth.start()
    return central, booth


def kiosk_client(booth: GeneratedBroker, root: Path) -> Client:
    """The kiosk's persistent session on the booth's broker (what `booth kiosk` opens)."""
    return Client(
        booth.port,
        *credentials(root, "kiosk"),
        client_id="kiosk-b1",
        clean_start=False,
        session_expiry_s=3600,
    )


class FakeWorker:
    """Processes every job it gets: processing status, result, completed status (retained)."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.jobs: list[str] = []
        self.password = password
        self.client = Client(
            port,
            user,
            password,
            client_id="worker-central-1",
            clean_start=False,
            session_expiry_s=3600,
        )
        self.client.c.on_message = self._on_message
        assert self.client.wait_connack().ok
        self.client.subscribe("$share/workers/booth/+/jobs")
        self.client.publish("booth/workers/worker-central-1/availability", "online", retain=True)

    def _on_message(self, client, userdata, msg):
        booth = msg.topic.split("/")[1]
        props = dict(msg.properties.UserProperty)
        job = props["job_id"]
        assert msg.properties.ContentType == "image/jpeg"
        self.jobs.append(job)
        for status in ("processing", "completed"):
            if status == "completed":
                client.publish(
                    f"booth/{booth}/results/{job}",
                    b"\x89PNG result " + msg.payload,
                    qos=1,
                    retain=True,
                )
            client.publish(
                f"booth/{booth}/status/{job}",
                json.dumps(
                    {
                        "job_id": job,
                        "booth_id": booth,
                        "status": status,
                        "effect": "local",
                        "attempt": 1,
                        "worker": "worker-central-1",
                        "error": None,
                        "updated_at": "2026-11-24T09:00:00.000Z",
                    }
                ),
                qos=1,
                retain=True,
            )

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def fleet(tmp_path):
    root = tmp_path / "root"
    booth_port = free_port()
    run_install(root, "--booth-id", BOOTH, "--mqtt-port", str(booth_port))
    _w, worker_pw = credentials(root, "worker")
    central, booth = start_fleet(tmp_path, root, booth_port, "bridge-secret-1", worker_pw)
    worker = FakeWorker(central.port, "worker", worker_pw)
    kiosk = kiosk_client(booth, root)
    assert kiosk.wait_connack().ok
    for topic in KIOSK_TOPICS:
        kiosk.subscribe(topic)
    # The bridge is up once the worker's retained availability crossed it.
    assert wait_until(lambda: kiosk.on("booth/workers/+/availability"), TIMEOUT), (
        booth.log.read_text()
    )
    yield booth, central, worker, kiosk
    kiosk.close()
    worker.close()
    booth.stop(kill=True)
    central.stop(kill=True)


def completed(kiosk: Client, job: str) -> bool:
    return any(
        json.loads(m.payload)["status"] == "completed" for m in kiosk.on(f"booth/b1/status/{job}")
    ) and bool([m for m in kiosk.on(f"booth/b1/results/{job}") if m.payload])


def test_job_crosses_the_bridge_and_the_result_comes_back(fleet):
    booth, central, worker, kiosk = fleet
    job = "bridgejob0001"
    assert (
        kiosk.publish(f"booth/b1/status/{job}", json.dumps({"status": "pending"}), retain=True)
        == "ok"
    )
    assert kiosk.publish("booth/b1/jobs", b"\xff\xd8 photo", props=job_properties(job)) == "ok"
    assert wait_until(lambda: completed(kiosk, job), TIMEOUT)
    assert worker.jobs == [job]  # the job properties crossed the bridge (MQTT 5)
    result = [m for m in kiosk.on(f"booth/b1/results/{job}") if m.payload][0]
    assert result.payload == b"\x89PNG result \xff\xd8 photo"
    statuses = [json.loads(m.payload)["status"] for m in kiosk.on(f"booth/b1/status/{job}")]
    assert statuses == ["pending", "processing", "completed"]  # no echo loop on "both" topics
    # Clearing the retained result at the booth clears it at the central broker too.
    assert retained_results_at_central(central, worker.password, job) == [result.payload]
    assert kiosk.publish(f"booth/b1/results/{job}", b"", retain=True) == "ok"
    assert wait_until(
        lambda: retained_results_at_central(central, worker.password, job) == [], TIMEOUT
    )


def retained_results_at_central(
    central: CentralBroker, password: str, job: str
) -> list[bytes | bytearray]:
    """The retained result payloads of `job` a fresh subscriber at the central broker gets. The
    retained status of the same job (always there) marks the end of the retained batch."""
    spy = Client(central.port, "worker", password)
    try:
        assert spy.wait_connack().ok
        spy.subscribe(f"booth/b1/results/{job}")
        spy.subscribe(f"booth/b1/status/{job}")  # SUBACKs come in order: results were sent first
        assert wait_until(lambda: spy.on(f"booth/b1/status/{job}"), TIMEOUT)
        return [m.payload for m in spy.on(f"booth/b1/results/{job}") if m.payload]
    finally:
        spy.close()


def test_bridge_cut_and_restored_loses_nothing(fleet):
    booth, central, worker, kiosk = fleet
    central.stop()  # the event network drops: the booth keeps taking photos
    jobs = [f"offlinejob{i:04d}" for i in range(5)]
    for job in jobs:
        assert (
            kiosk.publish("booth/b1/jobs", b"\xff\xd8 " + job.encode(), props=job_properties(job))
            == "ok"
        )
    central.start()
    assert wait_until(lambda: all(completed(kiosk, j) for j in jobs), TIMEOUT), (
        worker.jobs,
        booth.log.read_text(),
    )
    assert sorted(set(worker.jobs)) == jobs


def test_results_published_while_the_booth_is_down_arrive_when_it_is_back(fleet):
    booth, central, worker, kiosk = fleet
    job = "whiledown0001"
    assert (
        kiosk.publish("booth/b1/jobs", b"\xff\xd8 first", props=job_properties("warmup0001"))
        == "ok"
    )
    assert wait_until(lambda: completed(kiosk, "warmup0001"), TIMEOUT)
    booth.stop()  # the booth's broker goes down (power cut); the bridge session stays at central
    # A worker finishes a job while the booth is off: status and result wait at central.
    assert (
        worker.client.publish(
            f"booth/b1/status/{job}", json.dumps({"status": "completed"}), retain=True
        )
        == "ok"
    )
    assert worker.client.publish(f"booth/b1/results/{job}", b"\x89PNG late", retain=True) == "ok"
    booth.start()
    assert wait_until(
        lambda: [m for m in kiosk.on(f"booth/b1/results/{job}") if m.payload], TIMEOUT
    ), booth.log.read_text()


def test_real_booth_worker_on_the_central_broker(tmp_path):
    """The same flow with the real `booth worker` (no API key: the local effect) connected only
    to the central broker; the bridge is cut and restored while jobs are taken."""
    import os
    import sys

    root = tmp_path / "root"
    booth_port = free_port()
    run_install(root, "--booth-id", BOOTH, "--mqtt-port", str(booth_port))
    _w, worker_pw = credentials(root, "worker")
    central, booth = start_fleet(tmp_path, root, booth_port, "bridge-secret-2", worker_pw)
    toml = tmp_path / "worker.toml"
    toml.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GEMINI_BASE_URL")}
    env.update(
        {
            "BOOTH_CONFIG": str(toml),
            "BOOTH_DATA_DIR": str(tmp_path / "wdata"),
            "BOOTH_MQTT_URL": f"mqtt://worker:{worker_pw}@127.0.0.1:{central.port}",
        }
    )
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("booth")), "worker", "--id", "central-w1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    kiosk = kiosk_client(booth, root)
    photo = (REPO / "tests/fixtures/portrait.jpg").read_bytes()
    try:
        assert kiosk.wait_connack().ok
        for topic in KIOSK_TOPICS:
            kiosk.subscribe(topic)
        assert wait_until(
            lambda: any(
                m.payload == b"online" for m in kiosk.on("booth/workers/central-w1/availability")
            ),
            TIMEOUT,
        ), (tmp_path / "worker.log").read_text()
        first = "realworker0001"
        assert kiosk.publish("booth/b1/jobs", photo, props=job_properties(first)) == "ok"
        assert wait_until(lambda: completed(kiosk, first), TIMEOUT), (
            tmp_path / "worker.log"
        ).read_text()
        final = json.loads([m for m in kiosk.on(f"booth/b1/status/{first}")][-1].payload)
        assert final["status"] == "completed" and final["effect"] == "local"
        assert final["worker"] == "central-w1" and final["booth_id"] == BOOTH
        result = [m for m in kiosk.on(f"booth/b1/results/{first}") if m.payload][0]
        assert result.payload[:2] == b"\xff\xd8"  # a JPEG came back across the bridge

        central.stop()
        jobs = [f"realcut{i:04d}" for i in range(3)]
        for job in jobs:
            assert kiosk.publish("booth/b1/jobs", photo, props=job_properties(job)) == "ok"
        central.start()
        assert wait_until(lambda: all(completed(kiosk, j) for j in jobs), TIMEOUT * 2), (
            tmp_path / "worker.log"
        ).read_text()
    finally:
        kiosk.close()
        stop_process(worker, 30)
        log.close()
        booth.stop(kill=True)
        central.stop(kill=True)


def test_the_booths_health_crosses_to_the_central_broker(fleet, tmp_path):
    """The kiosk's, the share server's and the uploader's retained health go out over the
    bridge, so a central dashboard or Prometheus sees every booth (docs/deploy.md, Fleet mode)."""
    from booth.protocol import Health

    booth, central, worker, kiosk = fleet
    share = Client(booth.port, *credentials(tmp_path / "root", "share"))
    spy = Client(central.port, f"bridge-{BOOTH}", "bridge-secret-1")
    try:
        assert share.wait_connack().ok and spy.wait_connack().ok
        sent = {
            "booth/b1/health": Health("warn", part="kiosk", id="b1", reason="disk low"),
            "booth/b1/share/health": Health("ok", part="share", id="b1"),
            "booth/b1/uploader/health": Health("error", part="uploader", id="b1"),
        }
        assert (
            kiosk.publish("booth/b1/health", sent["booth/b1/health"].to_json(), retain=True) == "ok"
        )
        for topic in ("booth/b1/share/health", "booth/b1/uploader/health"):
            assert share.publish(topic, sent[topic].to_json(), retain=True) == "ok"
        assert share.publish("booth/b1/share/availability", "online", retain=True) == "ok"
        for topic in ("booth/b1/health", "booth/b1/share/+", "booth/b1/uploader/+"):
            spy.subscribe(topic)
        for topic, health in sent.items():
            assert wait_until(lambda t=topic: spy.on(t), TIMEOUT), topic
            assert Health.from_json(spy.on(topic)[-1].payload) == health
        assert wait_until(lambda: spy.on("booth/b1/share/availability"), TIMEOUT)
    finally:
        share.close()
        spy.close()
