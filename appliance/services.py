"""Starting the booth's processes on one machine: a private broker when none is reachable, and
child processes that are restarted when they die (used by `booth up` and `booth snap`).

Children never outlive the process that started them, however it ends: each runs in a process
group of its own (the terminal's Ctrl-C and SIGHUP reach only `booth up`, which stops them in
order; a stop signals the whole group), and asks the kernel for SIGTERM when its parent dies
(PR_SET_PDEATHSIG), which covers a `kill -9` of `booth up` too.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from booth.config import Config
from booth.mqtt import BrokerUrl
from booth.runlock import RunLock, holder

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn`: the child gets SIGTERM when this process dies (Linux), and gives up at
    once if this process is already gone by the time it runs."""
    parent = os.getpid()

    def setup() -> None:
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return setup


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """`sig` to the child's process group (it leads one: start_new_session), so anything it
    started goes too; the child itself when the group is gone already."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def tcp_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# LO-HI: free_loopback_port hands out ports from this range only (see there).
FREE_PORTS_ENV = "BOOTH_FREE_PORTS"


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing is bound to now, for a server started next.

    By default the kernel picks it (a bind to port 0). Such a port is free only until the
    server's own bind, and in between the kernel may hand it to someone else: another bind to
    port 0, or an outgoing connection as its source port. Where several of these run at once
    (the test suite's parallel workers), $BOOTH_FREE_PORTS="LO-HI" gives this process and its
    children a range of their own, below the kernel's ephemeral ports: ports are handed out in
    turn, the next one kept in a file that every process using the range locks, so no two
    callers get the same port before the range wraps, and a port still bound is skipped."""
    spec = os.environ.get(FREE_PORTS_ENV)
    if spec:
        return _port_from_range(spec)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_from_range(spec: str) -> int:
    import fcntl  # Unix only; the default path above needs no lock

    lo_s, _, hi_s = spec.partition("-")
    try:
        lo, hi = int(lo_s), int(hi_s)
    except ValueError:
        lo = hi = 0
    if not 1024 <= lo <= hi <= 65535:
        raise ValueError(f"{FREE_PORTS_ENV}={spec!r}: want LO-HI within 1024-65535")
    state = Path(tempfile.gettempdir()) / f"booth-free-ports-{os.getuid()}-{lo}-{hi}"
    fd = os.open(state, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            turn = int(os.read(fd, 32) or lo)
        except ValueError:
            turn = lo
        size = hi - lo + 1
        for i in range(size):
            port = lo + (turn - lo + i) % size
            if _loopback_port_unbound(port):
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, b"%d\n" % (port + 1))
                return port
        raise RuntimeError(f"every port of {FREE_PORTS_ENV}={spec} is bound")
    finally:
        os.close(fd)  # and with it the lock


def _loopback_port_unbound(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


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
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )


def start_listening(
    argv: list[str], port: int, timeout: float, what: str, log_file: Path | None = None
) -> subprocess.Popen:
    """Start a server process and return once it accepts TCP on loopback `port`.

    Raises RuntimeError with its stderr (and `log_file`) if it exits or never listens.
    """
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
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
    env = dict(
        os.environ, BOOTH_MQTT_URL=mqtt_url, BOOTH_DATA_DIR=str(data_dir), BOOTH_ID=cfg.booth_id
    )
    if config_path:
        env["BOOTH_CONFIG"] = str(Path(config_path).resolve())
    return env


class PrivateBroker:
    """A mosquitto of our own on a free loopback port, persistence in the data dir.

    One per data dir (its persistence directory): the `broker` run lock is held while it runs,
    and its URL is written beside its config so a `booth snap` next to a `booth up` uses it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.dir = data_dir / "mosquitto"
        self.port = free_loopback_port()
        self.proc: subprocess.Popen | None = None
        self._lock: RunLock | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @staticmethod
    def running_url(data_dir: Path) -> str | None:
        """The URL of the private broker another process runs for `data_dir`, if any."""
        if holder(data_dir, "broker") is None:
            return None
        try:
            url = (data_dir / "mosquitto" / "url").read_text().strip()
        except OSError:
            return None
        url_ok = url.startswith("mqtt://127.0.0.1:")
        return url if url_ok and tcp_reachable("127.0.0.1", BrokerUrl.parse(url).port) else None

    def start(self, timeout: float = 10.0) -> PrivateBroker:
        exe = mosquitto_exe()
        if exe is None:
            raise RuntimeError(
                "no MQTT broker reachable and mosquitto is not installed "
                "(apt-get install mosquitto, or run `make run`)"
            )
        self._lock = RunLock(self.data_dir, "broker").acquire()
        (self.dir / "db").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.dir / 'db'}/",
                    "autosave_interval 10",
                    "max_queued_messages 5000",
                    "max_packet_size 40000000",
                    "user root" if os.geteuid() == 0 else "",
                    f"log_dest file {self.dir / 'mosquitto.log'}",
                ]
            )
            + "\n"
        )
        try:
            self.proc = start_listening(
                [exe, "-c", str(conf)], self.port, timeout, "private mosquitto"
            )
        except BaseException:
            self._lock.release()
            raise
        (self.dir / "url").write_text(self.url + "\n")
        log.info("started a private mosquitto on 127.0.0.1:%d (data in %s)", self.port, self.dir)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._lock is not None:
            (self.dir / "url").unlink(missing_ok=True)
            self._lock.release()
            self._lock = None


def ensure_broker(cfg: Config, data_dir: Path) -> tuple[str, PrivateBroker | None]:
    """The configured broker if it answers, else a private one. Returns (url, broker or None)."""
    url = BrokerUrl.parse(cfg.mqtt.url)
    if tcp_reachable(url.host, url.port):
        log.info("using the broker at %s", url.safe())
        return cfg.mqtt.url, None
    running = PrivateBroker.running_url(data_dir)
    if running is not None:
        log.info(
            "no broker at %s; using the private one already running for %s (%s)",
            url.safe(),
            data_dir,
            running,
        )
        return running, None
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
    finishes: bool = False  # a clean exit (code 0) means done, not a crash to restart
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

    def add(self, name: str, argv: list[str], finishes: bool = False) -> Child:
        child = Child(name, argv, finishes=finishes)
        self.children.append(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent()
        )
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
            if code == 0 and child.finishes:
                continue  # done: the caller sees it and ends the run
            if child.next_start == 0.0:
                delay = min(30.0, 2.0**child.restarts)
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
                signal_group(child.proc, signal.SIGTERM)
        end = time.monotonic() + grace_s
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                signal_group(child.proc, signal.SIGKILL)
                child.proc.wait(5)
            signal_group(child.proc, signal.SIGKILL)  # anything it left behind in its group
            log.info("stopped %s", child.name)
