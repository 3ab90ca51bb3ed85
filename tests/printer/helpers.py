"""A booth's printing side for the tests: a ledger with stored pictures (written as the kiosk
writes them, branding included), the printer process (in this process, or as `booth printer`
in its own), and an MQTT client that asks for prints as the kiosk does and reads what the
printer process says (its retained print state, each photo's prints, its health)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from booth.config import Config, load_config
from booth.mqtt import MqttConnection
from booth.printmsg import PhotoPrint, PrintCommand, PrintRequest, PrintState
from booth.protocol import Health, Topics, utc_now_iso
from jobstore.ledger import Ledger, ledger_path, photo_dir
from jobstore.names import original_name
from jobstore.prints import PrintQueue
from tests.support.cups import CupsRig

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BOOTH = "testbooth"


def print_toml(rig: CupsRig, **settings: Any) -> str:
    """A booth.toml with [print] on, pointed at the rig's cupsd."""
    values: dict[str, Any] = {"enabled": True, "queue": rig.queue, "server": rig.socket}
    values.update(settings)
    lines = ["[print]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll until `predicate()` is truthy (generous: the machine may be loaded)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(0.05)


class Watcher:
    """An MQTT client that reads the printer's retained messages and sends what the kiosk
    (requests) and the share server (commands) send."""

    def __init__(self, cfg: Config, name: str = "watcher") -> None:
        self.cfg = cfg
        self.topics = Topics(cfg.mqtt.root)
        self.lock = threading.Lock()
        self.retained: dict[str, bytes] = {}
        self.seen_states: list[PrintState] = []
        self.conn = MqttConnection.for_config(
            cfg.mqtt,
            f"{name}-{uuid.uuid4().hex[:8]}",
            subscriptions=[
                (f"{cfg.mqtt.root}/{BOOTH}/print/#", 1),
                (f"{cfg.mqtt.root}/{BOOTH}/printer/#", 1),
            ],
            on_message=self._on_message,
        ).start()
        assert self.conn.wait_connected(20), "the watcher cannot reach the broker"

    def _on_message(self, msg: Any) -> None:
        with self.lock:
            self.retained[msg.topic] = bytes(msg.payload)
            if msg.topic.endswith("/print/state") and msg.payload:
                self.seen_states.append(PrintState.from_json(msg.payload))

    def close(self) -> None:
        self.conn.stop(1.0)

    def _get(self, topic: str) -> bytes | None:
        with self.lock:
            return self.retained.get(topic) or None

    def state(self) -> PrintState | None:
        body = self._get(self.topics.print_state(BOOTH))
        return PrintState.from_json(body) if body else None

    def photo(self, job_id: str) -> PhotoPrint | None:
        body = self._get(self.topics.print_status(BOOTH, job_id))
        return PhotoPrint.from_json(body) if body else None

    def health(self) -> Health | None:
        body = self._get(self.topics.service_health(BOOTH, "printer"))
        return Health.from_json(body) if body else None

    def online(self) -> bool:
        return self._get(self.topics.service_availability(BOOTH, "printer")) == b"online"

    def request(self, job_id: str, copies: int = 1, request_id: str | None = None) -> str:
        rid = request_id or f"r-{uuid.uuid4().hex[:12]}"
        req = PrintRequest(job_id, rid, copies)
        assert self.conn.publish_wait(self.topics.print_requests(BOOTH), req.to_json(), 10)
        return rid

    def command(self, action: str, job_id: str | None = None, count: int = 1) -> str:
        cid = f"c-{uuid.uuid4().hex[:12]}"
        cmd = PrintCommand(action, cid, job_id, count)
        assert self.conn.publish_wait(self.topics.print_commands(BOOTH), cmd.to_json(), 10)
        return cid

    def problem_codes(self) -> list[str]:
        h = self.health()
        return [p.code for p in h.problems] if h else []

    def command_result(self, command_id: str) -> str | None:
        h = self.health()
        last = h.extra.get("last_command") if h else None
        return (
            last.get("result") if isinstance(last, dict) and last.get("id") == command_id else None
        )


class Photos:
    """Stored pictures in the ledger, as the kiosk stores a worker's result (the same code:
    kiosk/jobs/results.py, with the config's branding)."""

    def __init__(self, cfg: Config) -> None:
        from kiosk.jobs.branding import Branding
        from kiosk.jobs.results import ResultStore

        self.cfg = cfg
        self.ledger = Ledger(ledger_path(cfg.data_dir))
        self.store = ResultStore(cfg.data_path, self.ledger, Branding.from_config(cfg))
        # what a worker sends back for a 4:3 camera still: the AI copy's size, 1536 x 1152
        img = cv2.imread(str(FIXTURES / "no-face.jpg"))
        assert img is not None
        img = cv2.resize(img, (1728, 1152), interpolation=cv2.INTER_CUBIC)[:, 96:1632]
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        self.result = buf.tobytes()

    def add(self) -> str:
        job_id = uuid.uuid4().hex
        now = time.time()
        folder = photo_dir(self.cfg.data_dir, now)
        folder.mkdir(parents=True, exist_ok=True)
        original = folder / original_name(job_id)  # named as the kiosk names it
        original.write_bytes(self.result)
        rel = str(original.relative_to(self.cfg.data_path))
        self.ledger.insert_pending(job_id, BOOTH, "drip", now, utc_now_iso(), rel, rel)
        row = self.ledger.get(job_id)
        assert row is not None
        assert self.store.store(row, self.result)
        return job_id

    def close(self) -> None:
        self.ledger.close()


def queue_rows(cfg: Config) -> PrintQueue:
    return PrintQueue(ledger_path(cfg.data_dir))


def make_config(tmp_path: Path, broker_url: str, toml: str) -> Config:
    path = tmp_path / "booth.toml"
    path.write_text(toml)
    return load_config(
        path,
        env={
            "BOOTH_MQTT_URL": broker_url,
            "BOOTH_DATA_DIR": str(tmp_path / "data"),
            "BOOTH_ID": BOOTH,
        },
    )


class PrinterProcess:
    """`booth printer` as a process of its own (to be killed like systemd would see it die)."""

    def __init__(self, cfg: Config, config_path: Path, log: Path) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrinterProcess:
        env = {
            **os.environ,
            "BOOTH_CONFIG": str(self.config_path),
            "BOOTH_MQTT_URL": self.cfg.mqtt.url,
            "BOOTH_DATA_DIR": self.cfg.data_dir,
            "BOOTH_ID": BOOTH,
        }
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "appliance.cli", "printer", "--log-level", "INFO"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class OperatorSite:
    """The share server's operator pages as `booth share` runs them: its MQTT connection feeds
    the health board (share/cli.py), the admin app reads it and sends the print commands."""

    PASSWORD = "s3cret-pass"

    def __init__(self, cfg: Config) -> None:
        from urllib.parse import urlencode

        from share.admin import make_admin_app
        from share.health import board_for
        from share.server import make_app
        from tests.share.helpers import ServerThread

        self.cfg = cfg
        cfg.share.admin_password = self.PASSWORD
        self.board = board_for(cfg)
        self.mqtt = MqttConnection.for_config(
            cfg.mqtt,
            f"share-{uuid.uuid4().hex[:8]}",
            subscriptions=self.board.subscriptions(),
            on_message=lambda msg: self.board.feed(msg.topic, msg.payload, msg.properties),
        ).start()
        assert self.mqtt.wait_connected(20)
        self.ledger = Ledger(ledger_path(cfg.data_dir))
        guests = make_app(cfg, ledger=self.ledger, mqtt=self.mqtt)
        self.guests = ServerThread(guests).start()
        self.admin = ServerThread(make_admin_app(guests, board=self.board)).start()
        status, headers, _ = self.admin.request(
            "POST",
            "/admin/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode({"password": self.PASSWORD}).encode(),
        )
        assert status == 303, status
        self.cookie = headers["set-cookie"].split(";", 1)[0]

    def state(self) -> dict[str, Any]:
        status, _h, body = self.admin.get("/admin/api/state", Cookie=self.cookie)
        assert status == 200, status
        data: dict[str, Any] = json.loads(body)
        return data

    def printer(self) -> dict[str, Any]:
        card = self.state()["printer"]
        assert isinstance(card, dict)
        return card

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        status, _h, raw = self.admin.request(
            "POST",
            path,
            {"Cookie": self.cookie, "Content-Type": "application/json"},
            json.dumps(body or {}).encode(),
        )
        answer: dict[str, Any] = json.loads(raw)
        return status, answer

    def metrics(self) -> str:
        status, _h, body = self.admin.get("/metrics", Cookie=self.cookie)
        assert status == 200
        return body.decode()

    def close(self) -> None:
        self.admin.stop()
        self.guests.stop()
        self.mqtt.stop(1.0)
        self.ledger.close()
