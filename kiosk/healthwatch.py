"""The kiosk's side of the operator's view: its health on MQTT, and the alerts behind the
operator mark on the booth screen.

A thread (never the frame loop) looks once a second at what the kiosk knows — the camera
watchdog, the free space in data_dir, whether network time set the clock (booth/clock.py may
run `timedatectl`), the broker connection, the workers' availability and health
(`JobController.board`, booth/healthboard.py), results held by a storage error — and turns it
into `Problem`s in plain words with their fix. It publishes them as the retained
`{root}/{booth}/health` at once when they change and every `operator.health_every_s`, and keeps
`alerts`, the problems the booth screen's operator mark stands for
(kiosk/ui/screens/operator_mark.py), for the frame loop to read (one attribute read, no lock, no
waiting).

The camera: a stall is shown on the dashboard at once (amber) but marks the screen only after
`operator.camera_alert_s`. The kiosk exits after `camera.restart_limit_s` without a camera so
systemd starts it afresh; the camera health file of the process before (kiosk/camera/statefile.py)
carries the time already lost into the new one, so a camera that never comes back still raises
the mark.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from booth.clock import boot_id
from booth.config import Config
from booth.protocol import AiState, Health, Problem
from kiosk.camera.statefile import health_path, read_health

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.camera import CameraWatchdog
    from kiosk.jobs.controller import JobController

log = logging.getLogger(__name__)

TICK_S = 1.0
CARRY_MAX_S = 600.0  # a camera health file older than this says nothing about now

# AI states in which the service refuses the booth's requests until someone acts (a key, a
# project setting): the operator must know. Passing states (rate limit, outage) are not alerts.
AI_REFUSED = frozenset(
    {
        AiState.KEY_REJECTED,
        AiState.PERMISSION_DENIED,
        AiState.SERVICE_DISABLED,
        AiState.MODEL_NOT_FOUND,
        AiState.REGION_UNSUPPORTED,
        AiState.BILLING_REQUIRED,
    }
)
# Problems shown on the dashboard but not worth the booth screen's mark.
NOT_MARKED = frozenset({"camera_reconnecting"})

_CAMERA_FIX = (
    "check the camera cable and `journalctl -u booth-kiosk -b`; the kiosk reopens the "
    "camera by itself and restarts when that does not help"
)
_CLOCK_FIX = (
    "give the booth network time once (internet over ethernet or Wi-Fi); retention "
    "deletes nothing until then. A Pi 5 with its RTC battery: trust_clock = true"
)


@dataclass(frozen=True)
class Facts:
    """What the kiosk knows about itself at one moment."""

    camera_state: str
    camera_fault: str | None
    camera_backend: str | None
    camera_trouble_s: float
    camera_restarts: int
    screen: str
    disk_free: int | None  # bytes free in data_dir (None: cannot tell)
    clock_synchronized: bool
    connected: bool
    ai_online: bool | None
    workers: dict  # worker id → (online, Health | None)
    held: int
    last_error: dict | None
    # [print]: the printer process as last heard (online, its health); None: printing is off
    printer: tuple[bool | None, Health | None] | None = None


def problems_of(f: Facts, cfg: Config) -> list[Problem]:
    """Every problem the operator should know of, worst first."""
    op = cfg.operator
    out: list[Problem] = []
    if not f.connected:
        out.append(
            Problem(
                "broker",
                "error",
                "the booth screen cannot reach the broker: new photos wait and no worker gets them",
                "sudo systemctl status mosquitto; check mqtt.url",
            )
        )
    elif f.ai_online is False:
        out.append(
            Problem(
                "no_worker",
                "error",
                "no worker is online: photos are paused until one is",
                "sudo systemctl start booth-worker, or start `booth "
                "worker` on a machine that reaches the broker",
            )
        )
    for wid, (online, health) in sorted(f.workers.items()):
        if not online or health is None or health.ai is None:
            continue
        try:
            ai = AiState(health.ai)
        except ValueError:
            continue
        if ai in AI_REFUSED:
            out.append(Problem("ai_refused", "error", f"worker {wid}: {health.reason}", health.fix))
        elif ai is AiState.QUOTA_EXHAUSTED:
            out.append(Problem("ai_quota", "warn", f"worker {wid}: {health.reason}", health.fix))
    if f.camera_state != "live":
        lost = f"{f.camera_trouble_s:.0f} s"
        why = f": {f.camera_fault}" if f.camera_fault else ""
        if f.camera_trouble_s >= op.camera_alert_s:
            out.append(
                Problem(
                    "camera_stuck",
                    "error",
                    f"the camera has not worked for {lost}{why}",
                    _CAMERA_FIX,
                )
            )
        elif f.camera_state == "reconnecting":
            out.append(
                Problem(
                    "camera_reconnecting",
                    "warn",
                    f"the camera is reconnecting ({lost}){why}",
                    _CAMERA_FIX,
                )
            )
    if f.held:
        out.append(
            Problem(
                "storage",
                "error",
                f"{f.held} finished picture(s) cannot be stored "
                "(the disk is full or failing); guests wait for them",
                "free space in data_dir (lower retention_days, delete old photos); "
                "they are stored by themselves once there is room",
            )
        )
    if f.disk_free is not None:
        low = op.disk_low_mb * 1024 * 1024
        if f.disk_free < low:
            level = "error" if f.disk_free < low / 5 else "warn"
            out.append(
                Problem(
                    "disk_low",
                    level,
                    f"only {f.disk_free / 1024**2:.0f} MB free for photos",
                    "lower retention_days or delete old photos in data_dir; use a larger SD card",
                )
            )
    out += printer_problems(f.printer)
    if not f.clock_synchronized and not cfg.trust_clock:
        out.append(
            Problem(
                "clock",
                "warn",
                "the clock is not synchronized (no network time yet): photo times may be wrong",
                _CLOCK_FIX,
            )
        )
    out.sort(key=lambda p: p.level != "error")
    return out


_PRINTER_GONE = Problem(
    "printer_offline",
    "error",
    "the printing process is not running: requested prints wait",
    "sudo systemctl status booth-printer; the prints come out once it runs",
)


def printer_problems(printer: tuple[bool | None, Health | None] | None) -> list[Problem]:
    """The printer process's problems for the operator mark (codes `print_<its code>`, its
    words, in the booth's language): paper, ribbon, a jam, a stopped queue, CUPS down, the
    paper budget; and the process itself not running."""
    if printer is None:
        return []
    online, health = printer
    if online is False:
        return [_PRINTER_GONE]
    if health is None:
        return []
    return [Problem(f"print_{p.code}", p.level, p.reason, p.fix) for p in health.problems]


def marked(problems: list[Problem] | tuple[Problem, ...]) -> tuple[Problem, ...]:
    """The problems the booth screen's operator mark stands for."""
    return tuple(p for p in problems if p.code not in NOT_MARKED)


def kiosk_health(f: Facts, problems: list[Problem], booth: str) -> Health:
    state = "error" if any(p.level == "error" for p in problems) else "warn" if problems else "ok"
    first = problems[0] if problems else None
    workers_online = sum(1 for on, _h in f.workers.values() if on)
    return Health(
        state=state,
        part="kiosk",
        id=booth,
        reason=first.reason if first else "",
        fix=first.fix if first else "",
        last_error=f.last_error,
        problems=tuple(problems),
        extra={
            "camera": {
                "state": f.camera_state,
                "backend": f.camera_backend,
                "fault": f.camera_fault,
                "trouble_s": round(f.camera_trouble_s, 1),
                "restarts": f.camera_restarts,
            },
            "screen": f.screen,
            "disk_free_mb": None if f.disk_free is None else f.disk_free // (1024 * 1024),
            "clock_synchronized": f.clock_synchronized,
            "broker_connected": f.connected,
            "workers_online": workers_online,
            "storage": {"held": f.held},
        },
    )


class OperatorWatch:
    """`OperatorWatch(cfg, jobs, camera, screen).start()`; the frame loop reads `alerts`."""

    def __init__(
        self,
        cfg: Config,
        jobs: JobController,
        camera: CameraWatchdog,
        screen: Callable[[], str],
        *,
        camera_lost_before_s: float = 0.0,
    ) -> None:
        """`camera_lost_before_s`: `camera_time_lost_before(cfg)`, read before this process's
        camera watchdog writes its own health file."""
        self.cfg = cfg
        self.jobs = jobs
        self.camera = camera
        self.screen = screen
        self.clock = jobs.booth_clock
        self.alerts: tuple[Problem, ...] = ()
        self._carried = camera_lost_before_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sent: tuple | None = None
        self._last_sent_at = -1e9
        self._was_connected = False

    def start(self) -> OperatorWatch:
        self._thread = threading.Thread(target=self._loop, name="operator-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # ------------------------------------------------------------------ one look
    def facts(self) -> Facts:
        cam = self.camera
        live = cam.state == "live"
        if live:
            self._carried = 0.0  # it worked in this process: the time lost before is over
        backend = cam.camera.name if cam.camera is not None else None
        return Facts(
            camera_state=cam.state,
            camera_fault=cam.fault,
            camera_backend=backend,
            camera_trouble_s=0.0 if live else cam.trouble_s + self._carried,
            camera_restarts=cam.restarts,
            screen=self.screen(),
            disk_free=self._statvfs(),
            clock_synchronized=self.clock.synchronized(),
            connected=self.jobs.mqtt.connected,
            ai_online=self.jobs.ai_online,
            workers=self.jobs.board.workers(),
            held=self.jobs.held,
            last_error=self.jobs.last_error,
            printer=self.jobs.board.service("printer") if self.cfg.print.enabled else None,
        )

    def check(self) -> None:
        """Look now; publish the health when it changed or is due."""
        f = self.facts()
        problems = problems_of(f, self.cfg)
        self.alerts = marked(problems) if self.cfg.operator.mark else ()
        self._publish(f, problems)

    def _publish(self, f: Facts, problems: list[Problem]) -> None:
        connected = self.jobs.mqtt.connected
        back = connected and not self._was_connected
        self._was_connected = connected
        if not connected:
            return  # the broker publishes our will; a fresh report follows the reconnect
        # what makes a report news (the camera's growing trouble time and the free bytes do not)
        key = (
            tuple((p.code, p.level) for p in problems),
            f.camera_state,
            f.camera_fault,
            f.clock_synchronized,
            sum(1 for on, _h in f.workers.values() if on),
        )
        now = time.monotonic()
        if (
            not back
            and key == self._last_sent
            and now - self._last_sent_at < self.cfg.operator.health_every_s
        ):
            return
        health = kiosk_health(f, problems, self.jobs.booth)
        self.jobs.mqtt.publish(
            self.jobs.topics.booth_health(self.jobs.booth), health.to_json(), qos=1, retain=True
        )
        if key != self._last_sent and self._last_sent is not None:
            log.info(
                "operator: health %s%s",
                health.state,
                f" ({'; '.join(p.reason for p in problems)})" if problems else "",
            )
        self._last_sent, self._last_sent_at = key, now

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("operator: health check failed; trying again")
            self._stop.wait(TICK_S)

    # ------------------------------------------------------------------ helpers
    def _statvfs(self) -> int | None:
        path = Path(self.cfg.data_dir)
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return None


def camera_time_lost_before(cfg: Config) -> float:
    """Seconds the camera had been failing in the kiosk process before this one (the camera
    health file it left, if it is recent and from this boot). Read it before the camera starts."""
    path = health_path(cfg.data_dir)
    before = read_health(path)
    if before is None or before.state == "live" or before.boot_id != boot_id():
        return 0.0
    try:
        since_written = time.time() - path.stat().st_mtime
    except OSError:
        return 0.0
    if not 0 <= since_written <= CARRY_MAX_S:
        return 0.0
    return before.trouble_s + since_written
