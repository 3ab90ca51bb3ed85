"""Each unit's process, started the way systemd starts it (ExecStart, Environment=, the
EnvironmentFile= written by install.sh, NOTIFY_SOCKET and WATCHDOG_USEC), sends READY=1 and keeps
pinging WATCHDOG=1, so Type=notify and WatchdogSec= hold. Broker: the generated, secured config.
The kiosk runs with SDL_VIDEODRIVER=dummy instead of kmsdrm (no screen here)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deploytools import (
    REPO,
    GeneratedBroker,
    env_file,
    run_install,
    stop_process,
    wait_until,
)
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.broker  # `installed` starts the generated mosquitto config

BOOTH_BIN = str(Path(sys.executable).with_name("booth"))


class NotifySocket:
    """What systemd listens on: a datagram socket collecting the process's notifications."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def poll(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except (TimeoutError, BlockingIOError):
                return self.messages

    def count(self, line: str) -> int:
        return sum(line in m.splitlines() for m in self.poll())

    def close(self) -> None:
        self.sock.close()


def unit_command(name: str, root: Path) -> tuple[list[str], dict[str, str], int]:
    """ExecStart argv, the environment systemd would build, and WatchdogSec of a unit."""
    env: dict[str, str] = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    argv: list[str] = []
    watchdog = 0
    for line in (REPO / "systemd" / f"{name}.service").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            argv = shlex.split(value)
            assert argv[0] == "/opt/booth/venv/bin/booth"
            argv[0] = BOOTH_BIN
        elif key == "EnvironmentFile":
            path = root / value.lstrip("-").lstrip("/")
            if path.exists() or not value.startswith("-"):  # systemd skips a missing "-" file
                env.update(env_file(path))
        elif key == "Environment":
            k, _, v = value.partition("=")
            env[k] = v
        elif key == "WatchdogSec":
            watchdog = int(value)
    return argv, env, watchdog


@pytest.fixture
def installed(tmp_path):
    root = tmp_path / "root"
    port = free_port()
    run_install(root, "--booth-id", "b1", "--mqtt-port", str(port))
    toml = root / "etc/booth/booth.toml"
    toml.write_text(toml.read_text().replace("port = 8080", f"port = {free_port()}"))
    broker = GeneratedBroker(root, tmp_path / "mq", port)
    broker.start()
    yield root
    broker.stop(kill=True)


@pytest.mark.parametrize("unit", ["booth-worker", "booth-share", "booth-kiosk"])
def test_process_notifies_ready_and_pings_the_watchdog(installed, tmp_path, unit):
    argv, env, watchdog_s = unit_command(unit, installed)
    assert watchdog_s > 0
    env.update(
        {
            "BOOTH_CONFIG": str(installed / "etc/booth/booth.toml"),
            "BOOTH_DATA_DIR": str(tmp_path / "data"),
            "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
            "WATCHDOG_USEC": str(watchdog_s * 1_000_000),
        }
    )
    if unit == "booth-kiosk":
        assert env["SDL_VIDEODRIVER"] == "kmsdrm"
        env["SDL_VIDEODRIVER"] = "dummy"
    notify = NotifySocket(tmp_path / "notify.sock")
    log = open(tmp_path / f"{unit}.log", "w")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        ready = wait_until(lambda: notify.count("READY=1") >= 1 or proc.poll() is not None, 90)
        output = (tmp_path / f"{unit}.log").read_text
        assert ready and proc.poll() is None, output()
        assert notify.count("READY=1") == 1
        assert wait_until(lambda: notify.count("WATCHDOG=1") >= 2 or proc.poll() is not None, 60), (
            output()
        )
        assert proc.poll() is None, output()
        # The processes hold no secret in their notifications.
        password = env["BOOTH_MQTT_URL"].split(":")[2].split("@")[0]
        assert all(password not in m for m in notify.poll())
    finally:
        stop_process(proc, 40)
        log.close()
        notify.close()
    assert proc.returncode == 0, (tmp_path / f"{unit}.log").read_text()


def test_installed_booth_takes_a_photo_end_to_end(installed, tmp_path):
    """worker, share and a headless kiosk started with their units' environments on the secured
    broker: a shot is processed (local effect) and its download link serves the picture. This is
    the ACL and the env files working for the real processes, not for test clients."""
    import re
    import urllib.request

    procs = []
    logs = {}
    try:
        for unit, extra in (
            ("booth-worker", []),
            ("booth-share", []),
            ("booth-kiosk", ["--headless", "--shots", "1", "--interval", "1"]),
        ):
            argv, env, _ = unit_command(unit, installed)
            env.update(
                {
                    "BOOTH_CONFIG": str(installed / "etc/booth/booth.toml"),
                    "BOOTH_DATA_DIR": str(tmp_path / "data"),
                    "SDL_VIDEODRIVER": "dummy",
                }
            )
            logs[unit] = tmp_path / f"{unit}.log"
            procs.append(
                subprocess.Popen(
                    argv + extra,
                    env=env,
                    stdout=open(logs[unit], "w"),
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                )
            )
        kiosk = procs[-1]
        ready = re.compile(r"photo ready: (\S+)\s+download: (\S+)")
        found = wait_until(
            lambda: ready.search(logs["booth-kiosk"].read_text()) or kiosk.poll() is not None, 120
        )
        text = "\n".join(f"== {u}\n{p.read_text()}" for u, p in logs.items())
        match = ready.search(logs["booth-kiosk"].read_text())
        assert found and match, text
        result_path, url = match.groups()
        assert Path(result_path).read_bytes()[:2] == b"\xff\xd8"
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            assert b"<html" in resp.read(4096).lower()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(40)
            except subprocess.TimeoutExpired:
                p.kill()
