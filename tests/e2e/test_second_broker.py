"""The booth on a second MQTT 5 broker: ejabberd 23.01 from Debian, a clustered broker that offers
no shared subscriptions and keeps a session 300 s (tests/support/ejabberd.py). The booth's own
steps against it: `booth snap`, `booth up`, two workers, a worker killed mid-job; and what the
operator is told (the worker's log, its health, `booth doctor`).

Workers on such a broker subscribe plainly and claim each job (worker/claims.py): every job is
run by one worker, one model call each.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from booth.config import load_config
from booth.mqtt import MqttConnection, wait_for
from booth.protocol import Health, JobStatus, ProtocolError, Status, TopicKind, Topics
from tests.e2e.rig import BOOTH, ROOT, Rig, run_up, wait_until
from tests.e2e.test_recovery import booth, row, set_keys, shoot
from tests.support.ejabberd import Ejabberd
from tests.support.fake_gemini import FakeGemini, Reply

if TYPE_CHECKING:
    from kiosk.jobs.controller import JobController
    from kiosk.jobs.views import JobView

pytestmark = pytest.mark.broker
PORTRAIT = ROOT / "tests" / "fixtures" / "portrait.jpg"
T = Topics("booth")
TOLD = "offers no MQTT 5 shared subscriptions"  # the worker's one warning


@pytest.fixture
def ejabberd(tmp_path: Path) -> Iterator[Ejabberd]:
    e = Ejabberd(tmp_path / "ejabberd").start()
    yield e
    e.close()


@pytest.fixture
def ej_rig(tmp_path: Path, ejabberd: Ejabberd) -> Iterator[Rig]:
    r = Rig(tmp_path, ejabberd)
    yield r
    r.close()


@pytest.fixture
def ej_ai_rig(tmp_path: Path, ejabberd: Ejabberd, gemini: FakeGemini) -> Iterator[Rig]:
    r = Rig(tmp_path, ejabberd, gemini_url=gemini.url)
    yield r
    r.close()


class Watch:
    """Every status, availability and health message of the booth, as the broker carries them."""

    def __init__(self, url: str) -> None:
        self.statuses: list[Status] = []
        self.online: dict[str, bool] = {}
        self.health: dict[str, Health] = {}
        self._lock = threading.Lock()
        self.conn = MqttConnection(
            url,
            "e2e-watch",
            subscriptions=[
                (T.booth_statuses("e2e"), 1),
                (T.all_worker_availability(), 1),
                (T.all_worker_health(), 1),
            ],
            on_message=self._on,
        ).start()
        assert self.conn.wait_connected(10)

    def _on(self, msg) -> None:
        if not msg.payload:
            return
        try:
            parsed = T.parse(msg.topic)
            with self._lock:
                if parsed.kind is TopicKind.STATUS:
                    self.statuses.append(Status.from_json(msg.payload))
                elif parsed.kind is TopicKind.WORKER_AVAILABILITY and parsed.worker:
                    self.online[parsed.worker] = msg.payload == b"online"
                elif parsed.kind is TopicKind.WORKER_HEALTH and parsed.worker:
                    self.health[parsed.worker] = Health.from_json(msg.payload)
        except ProtocolError:
            pass

    def completed_by(self) -> Counter[tuple[str, str | None]]:
        """(job, worker) → how many `completed` statuses the broker carried."""
        with self._lock:
            return Counter(
                (s.job_id, s.worker) for s in self.statuses if s.status is JobStatus.COMPLETED
            )

    def claimant(self, job_id: str) -> str | None:
        with self._lock:
            for s in self.statuses:
                if s.job_id == job_id and s.status is JobStatus.PROCESSING:
                    return s.worker
        return None

    def close(self) -> None:
        self.conn.stop()


def finished(ctl: JobController, job_id: str, timeout: float) -> JobView | None:
    """The job once ready with its final status (the result comes first), or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        view = ctl.view(job_id)
        if view is not None and view.ready and view.status.is_final:
            return view
        time.sleep(0.1)
    return None


def run_booth(rig: Rig, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        BOOTH + list(args),
        env=rig.env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_snap_on_ejabberd_completes_and_the_worker_says_once_what_the_broker_lacks(ej_rig):
    t0 = time.monotonic()
    out = run_booth(ej_rig, "snap", str(PORTRAIT), "--json", "--timeout", "40")
    took = time.monotonic() - t0
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["status"], result["effect"]) == ("completed", "local")
    assert "using the broker at mqtt://booth:***@127.0.0.1" in out.stderr
    assert out.stderr.count(TOLD) == 1, out.stderr
    assert out.stderr.count("keeps this worker's session 300 s, not the 3600 s asked") == 1
    assert "disconnected" not in out.stderr  # no reconnect loop
    assert "no worker said online" not in out.stderr
    assert took < 30, f"snap took {took:.1f} s"


def test_up_on_ejabberd_prints_two_links(ej_rig):
    code, said = run_up(ej_rig.env, timeout=90)
    assert code == 0, said[-4000:]
    assert "using the broker at mqtt://booth:***@127.0.0.1" in said
    assert "private mosquitto" not in said
    assert len(re.findall(r"download: (\S+)", said)) == 2, said[-4000:]
    assert said.count(TOLD) == 1
    assert "restarting" not in said


def test_two_workers_on_ejabberd_run_each_job_once_and_doctor_says_what_the_broker_lacks(
    ej_ai_rig, ejabberd, gemini
):
    from kiosk.jobs.controller import JobController

    gemini.always(Reply.image(delay=1.0))  # each worker busy a while: the other takes the next
    watch = Watch(ejabberd.url)
    ctl = None
    try:
        w1, w2 = ej_ai_rig.worker("w1"), ej_ai_rig.worker("w2")
        assert wait_for(lambda: watch.online.get("w1") and watch.online.get("w2"), 30), (
            w1.text()[-2000:] + w2.text()[-2000:]
        )
        cfg = load_config(ej_ai_rig.config, env=ej_ai_rig.env)
        ctl = JobController(cfg, client_suffix="-e2e-test").start()
        photo = PORTRAIT.read_bytes()
        jobs = [ctl.submit_jpeg(photo) for _ in range(8)]
        for job in jobs:
            view = finished(ctl, job, 90)
            assert view is not None, f"{ctl.view(job)}\n{w1.text()[-2000:]}\n{w2.text()[-2000:]}"
            assert view.effect == "gemini"
        assert len(gemini.requests) == 8, "a job's model was called more than once"
        done = watch.completed_by()
        assert sorted(j for j, _w in done) == sorted(jobs), done  # each completed once
        per_worker = Counter(w for _j, w in done)
        assert set(per_worker) == {"w1", "w2"} and min(per_worker.values()) >= 2, per_worker
        assert "standing down" in w1.text() + w2.text()

        # the workers' health: how they take jobs, and the session the broker granted
        assert wait_for(lambda: {"w1", "w2"} <= set(watch.health), 40)
        for w in ("w1", "w2"):
            broker = watch.health[w].extra["broker"]
            assert broker["jobs"] == "claimed" and broker["shared_subscriptions"] is False
            assert (broker["session_expiry_s"], broker["session_expiry_asked_s"]) == (300, 3600)
            assert "no shared subscriptions" in broker["note"] and "300 s" in broker["note"]
        for proc in (w1, w2):
            assert proc.text().count(TOLD) == 1
            assert "disconnected" not in proc.text()

        doctor = run_booth(ej_ai_rig, "doctor", "--role", "worker", "--offline")
        lines = doctor.stdout.splitlines()
        (broker_line,) = [ln for ln in lines if "] broker" in ln]
        assert broker_line.startswith("[warn]"), doctor.stdout
        assert "offers no shared subscriptions" in broker_line
        assert "300 s (its limit; mqtt.session_expiry_s asks 3600 s)" in broker_line
        (workers_line,) = [ln for ln in lines if "] workers" in ln]
        assert "2 online" in workers_line, doctor.stdout
    finally:
        if ctl is not None:
            ctl.stop()
        watch.close()


def test_a_worker_killed_mid_job_on_ejabberd_the_other_finishes_it(ej_ai_rig, ejabberd, gemini):
    """The claimant dies mid-call: its will says `offline`, so its claim no longer counts, and
    the other worker runs the job the kiosk sends again: with the model when that is before the
    job's deadline, else at once with the local effect. The dead worker, restarted within the
    session the broker keeps (300 s), gets its copies back and stands down: no more calls."""
    rig = ej_ai_rig
    set_keys(rig, "kiosk", redispatch_s=3, max_wait_s=30)
    # (set_keys starts from the rig's base config each time: the second table by hand)
    rig.config.write_text(rig.config.read_text().replace("deadline_s = 20", "deadline_s = 8"))
    gemini.always(Reply.image(delay=60))  # whoever claims the job hangs in the model call
    watch = Watch(ejabberd.url)
    try:
        workers = {"w1": rig.worker("w1"), "w2": rig.worker("w2")}
        assert wait_for(lambda: watch.online.get("w1") and watch.online.get("w2"), 30)
        assert "deadline 8 s" in workers["w1"].text()
        _none, kiosk = booth(rig, worker_id="")
        job_id = shoot(rig)
        wait_until(lambda: len(gemini.requests) >= 1, 30, "the model was never called")
        first = watch.claimant(job_id)
        assert first in workers, watch.statuses
        other = "w2" if first == "w1" else "w1"
        workers[first].kill9()
        gemini.always(Reply.image())
        wait_until(
            lambda: rig.all_final(1),
            60,
            lambda: f"{rig.jobs()}\n{workers[other].text()[-3000:]}\n{kiosk.text()[-2000:]}",
        )
        job = row(rig, job_id)
        said = f"{watch.statuses}\n{workers[other].text()[-3000:]}\n{kiosk.text()[-2000:]}"
        assert (job["status"], job["worker"]) == ("completed", other), said
        calls = 1 + (job["effect"] == "gemini")  # the killed call, and the other's if in time
        assert job["effect"] in ("gemini", "local") and len(gemini.requests) == calls, said

        back = rig.worker(first)  # same id: its session (300 s) still holds its copies
        wait_until(
            lambda: "standing down" in back.text(),
            30,
            lambda: back.text()[-3000:],
        )
        assert f"already completed by {other}" in back.text()
        time.sleep(1.0)
        assert len(gemini.requests) == calls
        rig.check_nothing_lost()
    finally:
        watch.close()
