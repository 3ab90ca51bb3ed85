"""Kill tests: the real `booth kiosk` process killed with SIGKILL at the worst moments.

Shots are triggered through the kiosk's control directory (a `shoot` file); the kiosk reports its
screen in `state.json` there. The moment between the ledger write and the broker's ack is hit
exactly with the kiosk's crash point (BOOTH_KIOSK_CRASH_AT=after_ledger: it SIGKILLs itself).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobstore.ledger import Ledger, ledger_path
from tests.kiosk.helpers import ROOT, kiosk_toml, poll

BOOTH = Path(sys.executable).parent / "booth"


class KioskProcess:
    def __init__(self, tmp_path: Path, broker, extra_env: dict | None = None) -> None:
        self.control = tmp_path / "control"
        self.control.mkdir(exist_ok=True)
        self.config = tmp_path / "booth.toml"
        if not self.config.exists():
            self.config.write_text(kiosk_toml("countdown_s = 1"))
        self.data = tmp_path / "data"
        env = dict(
            os.environ,
            SDL_VIDEODRIVER="dummy",
            SDL_AUDIODRIVER="dummy",
            BOOTH_MQTT_URL=broker.url,
            BOOTH_DATA_DIR=str(self.data),
            BOOTH_ID="testbooth",
            PYTHONUNBUFFERED="1",
        )
        env.pop("BOOTH_KIOSK_CRASH_AT", None)
        env.update(extra_env or {})
        (self.control / "state.json").unlink(missing_ok=True)
        self.log = open(tmp_path / f"kiosk-{os.getpid()}-{id(self)}.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(BOOTH),
                "kiosk",
                "--config",
                str(self.config),
                "--size",
                "800x480",
                "--control-dir",
                str(self.control),
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def state(self) -> dict:
        try:
            return json.loads((self.control / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_state(self, pred, timeout: float = 30.0) -> dict:
        ok = poll(lambda: pred(self.state()), timeout, interval=0.05)
        assert ok, f"state never matched; last: {self.state()}; log: {self.logtext()[-2000:]}"
        return self.state()

    def shoot(self) -> None:
        (self.control / "shoot").write_text("")

    def logtext(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def kiosks():
    made: list[KioskProcess] = []

    def _start(*a, **kw) -> KioskProcess:
        k = KioskProcess(*a, **kw)
        made.append(k)
        return k

    yield _start
    for k in made:
        k.stop()


def test_killed_after_ledger_write_before_ack_republishes(tmp_path, broker, worker, kiosks):
    k = kiosks(tmp_path, broker, {"BOOTH_KIOSK_CRASH_AT": "after_ledger"})
    k.wait_state(lambda s: s.get("screen") == "attract" and s.get("camera") == "live")
    k.shoot()
    assert k.proc.wait(30) == -signal.SIGKILL
    led = Ledger(ledger_path(k.data))
    rows = led.recent(5)
    assert len(rows) == 1 and rows[0].sent_at is None and rows[0].status.value == "pending"
    job_id = rows[0].job_id
    assert (k.data / rows[0].original_path).is_file() and (k.data / rows[0].ai_path).is_file()
    assert job_id not in worker.job_ids()

    k2 = kiosks(tmp_path, broker)
    assert poll(lambda: job_id in worker.job_ids(), 30), k2.logtext()[-2000:]
    assert poll(lambda: led.get(job_id).sent_at is not None, 15)
    # the restarted kiosk shows the job it resumed, and its result when it arrives
    k2.wait_state(lambda s: s.get("screen") == "processing" and s.get("job_id") == job_id)
    worker.finish(job_id)
    k2.wait_state(lambda s: s.get("screen") == "result" and s.get("job_id") == job_id)
    assert led.get(job_id).token
    led.close()


def test_killed_while_processing_shows_the_result_after_restart(tmp_path, broker, worker, kiosks):
    k = kiosks(tmp_path, broker)
    k.wait_state(lambda s: s.get("screen") == "attract" and s.get("camera") == "live")
    k.shoot()
    s = k.wait_state(lambda s: s.get("screen") == "processing")
    job_id = s["job_id"]
    assert poll(lambda: job_id in worker.job_ids(), 20)
    worker.status(job_id, "processing")
    k.wait_state(lambda s: s.get("phase") == "processing")
    k.kill9()

    worker.result(job_id)  # arrives while the kiosk is down: retained on the broker
    worker.status(job_id, "completed", effect="gemini")
    k2 = kiosks(tmp_path, broker)
    s = k2.wait_state(lambda s: s.get("screen") == "result" and s.get("job_id") == job_id)
    assert s["url"].startswith("http://booth.local:8080/p/")
    led = Ledger(ledger_path(k2.data))
    row = led.get(job_id)
    assert row.status.value == "completed" and row.result_path and row.token
    led.close()


def test_killed_while_processing_then_result_arrives_later(tmp_path, broker, worker, kiosks):
    k = kiosks(tmp_path, broker)
    k.wait_state(lambda s: s.get("screen") == "attract" and s.get("camera") == "live")
    k.shoot()
    job_id = k.wait_state(lambda s: s.get("screen") == "processing")["job_id"]
    assert poll(lambda: job_id in worker.job_ids(), 20)
    worker.status(job_id, "processing")
    k.wait_state(lambda s: s.get("phase") == "processing")
    k.kill9()
    k2 = kiosks(tmp_path, broker)
    k2.wait_state(
        lambda s: (
            s.get("screen") == "processing"
            and s.get("job_id") == job_id
            and s.get("phase") == "processing"
        )
    )
    worker.result(job_id)
    worker.status(job_id, "completed", effect="gemini")
    k2.wait_state(lambda s: s.get("screen") == "result" and s.get("job_id") == job_id)
    k2.stop()
    assert k2.proc.returncode == 0
