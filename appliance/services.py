"""Starting the booth's processes on one machine: a private broker when none is reachable, and
child processes that are restarted when they die (used by `booth up` and `booth snap`)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from booth.config import Config
from booth.mqtt import BrokerUrl

log = logging.getLogger(__name__)


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def usable_data_dir(cfg: Config, env: dict[str, str] | None = None) -> Path:
    """The configured data dir, or a per-user one when it cannot be written (a laptop run)."""
    env = dict(os.environ) if env is None else env
    wanted = Path(cfg.data_dir)
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        if os.access(wanted, os.W_OK):
            return wanted
    except OSError:
        pass
    base = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    fallback = base / "drip-me-out"
    fallback.mkdir(parents=True, exist_ok=True)
    log.warning("data dir %s is not writable; using %s", wanted, fallback)
    return fallback


def mosquitto_exe() -> str | None:
    """The Debian package's broker (in /usr/sbin, which a user's PATH may lack)."""
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                         if Path("/usr/sbin/mosquitto").exists() else None)


def start_listening(argv: list[str], port: int, timeout: float, what: str,
                    log_file: Path | None = None) -> subprocess.Popen:
    """Start a server process and return once it accepts TCP on loopback `port`.

    Raises RuntimeError with its stderr (and `log_file`) if it exits or never listens.
    """
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            logged = log_file.read_text() if log_file and log_file.exists() else ""
            raise RuntimeError(f"{what} exited: {err.strip()}\n{logged}".strip())
        if tcp_reachable("127.0.0.1", port, 0.2):
            return proc
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise RuntimeError(f"{what} did not listen on port {port}")


def child_env(cfg: Config, mqtt_url: str, data_dir: Path, config_path: str | None) -> dict:
    """The environment for `booth …` children: this process's broker, data dir, id, config."""
    env = dict(os.environ, BOOTH_MQTT_URL=mqtt_url, BOOTH_DATA_DIR=str(data_dir),
               BOOTH_ID=cfg.booth_id)
    if config_path:
        env["BOOTH_CONFIG"] = str(Path(config_path).resolve())
    return env


class PrivateBroker:
    """A mosquitto of our own on a free loopback port, persistence in the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "mosquitto"
        self.port = free_loopback_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "PrivateBroker":
        exe = mosquitto_exe()
        if exe is None:
            raise RuntimeError("no MQTT broker reachable and mosquitto is not installed "
                               "(apt-get install mosquitto, or run `make run`)")
        (self.dir / "db").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join([
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.dir / 'db'}/",
            "autosave_interval 10",
            "max_queued_messages 5000",
            "max_packet_size 40000000",
            "user root" if os.geteuid() == 0 else "",
            f"log_dest file {self.dir / 'mosquitto.log'}",
        ]) + "\n")
        self.proc = start_listening([exe, "-c", str(conf)], self.port, timeout,
                                    "private mosquitto")
        log.info("started a private mosquitto on 127.0.0.1:%d (data in %s)", self.port, self.dir)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def ensure_broker(cfg: Config, data_dir: Path) -> tuple[str, PrivateBroker | None]:
    """The configured broker if it answers, else a private one. Returns (url, broker or None)."""
    url = BrokerUrl.parse(cfg.mqtt.url)
    if tcp_reachable(url.host, url.port):
        log.info("using the broker at %s", url.safe())
        return cfg.mqtt.url, None
    log.info("no broker at %s; starting a private one", url.safe())
    broker = PrivateBroker(data_dir).start()
    return broker.url, broker


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start: float = 0.0
    log_path: Path | None = None
    extra: dict = field(default_factory=dict)


def booth_argv(*args: str) -> list[str]:
    """How to run another `booth` subcommand with this same interpreter."""
    return [sys.executable, "-m", "appliance.cli", *args]


class Supervisor:
    """Runs child processes, restarts the ones that die (with backoff), stops them all cleanly."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[Child] = []
        self._stopping = False

    def add(self, name: str, argv: list[str]) -> Child:
        child = Child(name, argv)
        self.children.append(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        child.started_at = time.monotonic()
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    def start_all(self) -> None:
        for child in self.children:
            self._spawn(child)

    def poll(self) -> None:
        """Restart any child that died: 1 s, 2 s, 4 s … up to 30 s when it keeps dying fast."""
        now = time.monotonic()
        for child in self.children:
            if self._stopping or child.proc is None:
                continue
            code = child.proc.poll()
            if code is None:
                if child.restarts and now - child.started_at > 60:
                    child.restarts = 0  # it has been healthy for a while
                continue
            if child.next_start == 0.0:
                delay = min(30.0, 2.0 ** child.restarts)
                child.next_start = now + delay
                log.warning("%s exited with code %s; restarting in %.0f s", child.name, code, delay)
            elif now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                self._spawn(child)

    def stop_all(self, grace_s: float = 15.0) -> None:
        self._stopping = True
        for child in reversed(self.children):
            if child.proc and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + grace_s
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.proc.kill()
                child.proc.wait(5)
            log.info("stopped %s", child.name)
