"""The whole booth as real processes for end-to-end tests: broker, worker(s), share, kiosk.

Each process is the real `booth …` command with its own log file; the rig kills them (-9 or
SIGTERM) and restarts them as a fault test needs, and reads the kiosk's ledger and store to check
that nothing was lost.

Nothing a test starts outlives it, however the test ends: `Rig.close()` (every rig fixture's
finalizer) kills the process group of each process the rig spawned or adopted, then every process
that still carries the rig's tag in its environment (`rig.env` sets it, and every process started
from it inherits it: `booth up`'s children in their own sessions, its private broker, the share
server's clip child, a process orphaned by a kill -9 of its parent).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from tests.support.mosquitto import free_port

BOOTH = [sys.executable, "-m", "appliance.cli"]
ROOT = Path(__file__).resolve().parents[2]
TAG_ENV = "BOOTH_E2E_TAG"  # marks every process a rig's environment started (Rig.close)


def base_toml(share_port: int, extra: str = "") -> str:
    return f"""
[kiosk]
title = "E2E Booth"
countdown_s = 0
redispatch_s = 8
result_timeout_s = 5
fps = 20
idle_fps = 10
[camera]
backend = "file"
preview_width = 640
preview_height = 360
[worker]
concurrency = 2
deadline_s = 20
grace_s = 3
[share]
host = "127.0.0.1"
port = {share_port}
public_url = "http://127.0.0.1:{share_port}"
{extra}
"""


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    env: dict
    popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        fh = open(self.log, "ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            start_new_session=True,
        )
        fh.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        if self.popen is not None and self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 20) -> int | None:
        if self.popen is None or not self.alive():
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            return self.popen.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Broker(Protocol):
    """What the rig needs of a broker (tests/support/mosquitto.py, tests/support/ejabberd.py)."""

    @property
    def url(self) -> str: ...


@dataclass
class Rig:
    tmp: Path
    broker: Broker
    gemini_url: str | None = None
    extra_toml: str = ""
    share_port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)
    adopted: list[subprocess.Popen] = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.data = self.tmp / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs = self.tmp / "logs"
        self.logs.mkdir(exist_ok=True)
        self.config = self.tmp / "booth.toml"
        self.config.write_text(base_toml(self.share_port, self.extra_toml))

    @property
    def env(self) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("GEMINI_API_KEY", "GEMINI_BASE_URL", "BOOTH_CONFIG")
        }
        env.update(
            {
                "BOOTH_CONFIG": str(self.config),
                "BOOTH_MQTT_URL": self.broker.url,
                "BOOTH_DATA_DIR": str(self.data),
                "BOOTH_ID": "e2e",
                "SDL_VIDEODRIVER": "dummy",
                "SDL_AUDIODRIVER": "dummy",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT),
                TAG_ENV: self.tag,
            }
        )
        if self.gemini_url:
            env.update({"GEMINI_API_KEY": "test-key-not-real", "GEMINI_BASE_URL": self.gemini_url})
        return env

    def spawn(self, name: str, *args: str, env: dict | None = None) -> Proc:
        p = Proc(name, BOOTH + list(args), self.logs / f"{name}.log", env or self.env).start()
        self.procs.append(p)
        return p

    def worker(self, wid: str = "w1", *extra: str, env: dict | None = None) -> Proc:
        return self.spawn(f"worker-{wid}", "worker", "--id", wid, *extra, env=env)

    def share(self) -> Proc:
        p = self.spawn("share", "share")
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{self.share_port}/healthz"),
            30,
            "share server did not come up:\n" + p.text(),
        )
        return p

    def kiosk(self, *args: str, env: dict | None = None, name: str = "kiosk") -> Proc:
        control = self.tmp / "control"
        control.mkdir(exist_ok=True)
        return self.spawn(
            name, "kiosk", "--headless", "--control-dir", str(control), *args, env=env
        )

    def shoot(self, style: str = "") -> None:
        """Ask the running kiosk for a shot the way a tap would (its control hook)."""
        (self.tmp / "control").mkdir(exist_ok=True)
        tmp = self.tmp / "control" / ".shoot.tmp"
        tmp.write_text(style)
        os.replace(tmp, self.tmp / "control" / "shoot")

    def kiosk_state(self) -> dict:
        try:
            return json.loads((self.tmp / "control" / "state.json").read_text())
        except (OSError, ValueError):
            return {}

    def adopt(self, popen: subprocess.Popen) -> subprocess.Popen:
        """A process the test started itself (in a session of its own): ended by close()."""
        self.adopted.append(popen)
        return popen

    def close(self) -> None:
        """End everything this rig's processes started, then wait until it is gone."""
        for p in reversed(self.procs):
            p.kill9()
        for popen in reversed(self.adopted):
            _kill_group(popen.pid)
        killed = kill_tagged(self.tag)
        for popen in self.adopted:
            try:
                popen.wait(10)
            except subprocess.TimeoutExpired:
                pass
        _, alive = psutil.wait_procs(killed, timeout=10)
        alive = [p for p in alive if _running(p)]  # a zombie is dead; its reaper is not ours
        assert not alive, f"still running after SIGKILL: {alive}"

    # ------------------------------------------------------------------ ledger checks
    def jobs(self) -> list[dict]:
        db = self.data / "ledger.sqlite"
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute("SELECT * FROM jobs ORDER BY created_at")]
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def all_final(self, n: int | None = None) -> bool:
        jobs = self.jobs()
        if n is not None and len(jobs) < n:
            return False
        return bool(jobs) and all(
            (j["status"] == "completed" and j["result_path"]) or j["status"] == "failed"
            for j in jobs
        )

    def check_nothing_lost(self) -> list[dict]:
        """Every job completed with its result on disk and downloadable, or failed with a
        reason; no half-written file anywhere in the store."""
        jobs = self.jobs()
        assert jobs, "no jobs in the ledger"
        for j in jobs:
            if j["status"] == "failed":
                assert j["error_json"], f"job {j['job_id']} failed without a reason"
                continue
            assert j["status"] == "completed", j
            path = self.data / j["result_path"]
            assert path.is_file() and path.stat().st_size > 0, path
            assert j["token"], j
            body = http_get(f"http://127.0.0.1:{self.share_port}/p/{j['token']}/photo.jpg")
            assert body == path.read_bytes(), f"download of {j['job_id']} differs from the store"
        leftovers = [p for p in self.data.rglob("*.tmp")]
        assert not leftovers, f"half-written files left: {leftovers}"
        return jobs


def _kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads, or the process alone when it leads none; never
    pytest's own group."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    try:
        if group == pid and group != os.getpgrp():
            os.killpg(group, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_tagged(tag: str, rounds: int = 5) -> list[psutil.Process]:
    """SIGKILL every process whose environment carries `tag`, and the groups they lead; a few
    rounds, as a supervisor may start a child while the first round kills. Returns them all."""
    killed: list[psutil.Process] = []
    for _ in range(rounds):
        found = []
        for p in psutil.process_iter():
            try:
                if p.environ().get(TAG_ENV) == tag:
                    found.append(p)
            except (psutil.Error, OSError):
                continue  # gone, a zombie, or not ours to read
        live = [p for p in found if _running(p)]
        if not live:
            break
        for p in live:
            _kill_group(p.pid)
        killed += live
        time.sleep(0.1)
    return killed


def run_up(
    env: dict[str, str], shots: int = 2, interval: float = 0.5, timeout: float = 120
) -> tuple[int, str]:
    """`booth up --headless` taking `shots` shots `interval` s apart, run to its own end:
    (its exit code, its stdout and stderr together)."""
    done = subprocess.run(
        BOOTH + ["up", "--headless", "--interval", str(interval), "--shots", str(shots)],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def wait_until(
    pred, timeout: float, message: str | Callable[[], str] = "condition not met", interval=0.1
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(interval)
    raise AssertionError(message if not callable(message) else message())
