"""Every guest screen in every state, drawn straight from job snapshots (no broker, no waiting).

The flow tests (tests/kiosk/test_screens.py) reach these states through the real broker; this
gallery builds them directly so that each screen can be drawn at four sizes in four languages in
seconds: the type test measures every line of text, and the English and German renderings are
saved for a person to look at (tests/output/screens/<state>-<w>x<h>-<lang>.png).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import pygame

from booth.config import Config, load_config
from booth.protocol import ErrorKind, JobError, JobStatus, Problem
from kiosk.jobs.compose import FrameFiles, SheetBrand, compose
from kiosk.jobs.controller import JobController
from kiosk.jobs.sessions import SessionView
from kiosk.jobs.views import JobView
from kiosk.ui import draw
from kiosk.ui.context import BoothStatus
from tests.kiosk.conftest import FakeClock
from tests.kiosk.helpers import FIXTURES, SCREENS_OUT, kiosk_toml

SIZES = [(800, 480), (1024, 600), (720, 1280), (1920, 1080)]
# The booth Wi-Fi of the "wifi" configs: a usual one, and a long name and password with no space
# to break at.
NETWORKS = {
    "wifi": ("AnnaBen-Booth", "confetti2026"),
    "wifi-long": ("Party-2026-Hall-B-Guests", "welcome-to-the-party-2026"),
}
LANGUAGES = ["en", "de", "fr", "es"]
SAVED_LANGUAGES = ("en", "de")
STYLES = """
[styles.drip]
label = "Diamond drip"
prompt = "Add a diamond chain"
local = "diamond"
[styles.gold]
label = "Gold grillz"
prompt = "Add gold grills"
local = "gold"
[styles.ice]
label = "Ice king"
prompt = "Add an ice crown"
local = "ice"
"""


def gallery_config(folder: Path, language: str, extra: str = "", tables: str = ""):
    """A kiosk config with no reachable broker (nothing here talks MQTT)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "booth.toml"
    path.write_text(kiosk_toml(f'language = "{language}"\n{extra}' + tables))
    return load_config(
        path,
        env={
            "BOOTH_MQTT_URL": "mqtt://127.0.0.1:1",
            "BOOTH_DATA_DIR": str(folder / "data"),
            "BOOTH_ID": "testbooth",
        },
    )


def local_results(folder: Path) -> dict[str, Path]:
    """The real local effect on the fixtures, as the worker would send it (made once)."""
    from worker.local_effect import LocalEffect

    folder.mkdir(parents=True, exist_ok=True)
    effect = LocalEffect()
    out = {}
    for name in ("portrait", "no-face"):
        path = folder / f"{name}-result.jpg"
        if not path.exists():
            img = cv2.imread(str(FIXTURES / f"{name}.jpg"))
            assert img is not None
            cv2.imwrite(str(path), effect.apply(img).image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        out[name] = path
    return out


@dataclass
class State:
    name: str  # file name part: attract, result-wifi, error-quota …
    screen: str
    kw: dict = field(default_factory=dict)
    status: BoothStatus = BoothStatus(
        connected=True, ai_online=True, local_only=False, camera="live"
    )
    config: str = "base"  # which config of the gallery draws it
    before: Callable | None = None  # prepares the app (jobs in the book, the clock)
    after: Callable | None = None  # sets the screen's own state once it is entered


class Gallery:
    """One kiosk per config at one size and language; `draw(state)` renders one state."""

    def __init__(
        self, tmp: Path, size: tuple[int, int], language: str, results: dict[str, Path], make_app
    ) -> None:
        self.size = size
        self.language = language
        self.results = results
        self.clock = FakeClock()
        self.wall_t = time.time()
        self.apps = {}
        self.controllers: list[JobController] = []
        # Screens draw onto a surface of their own (several kiosks share pygame's one display).
        self.surface = pygame.Surface(size)
        self.sessions = GallerySessions(self)
        for key, cfg in self.configs(tmp, language).items():
            jobs = JobController(cfg)  # never started: the gallery feeds the job book itself
            self.controllers.append(jobs)
            app = make_app(cfg, size, clock=self.clock, wall=lambda: self.wall_t, jobs=jobs)
            app.ctx.sessions = self.sessions  # strip sessions shown from views, never shot
            self.apps[key] = app
        end = time.monotonic() + 15
        while time.monotonic() < end and any(a.camera.state != "live" for a in self.apps.values()):
            for a in self.apps.values():
                a.camera.frame()  # the watchdog notices a live camera when asked for a frame
            time.sleep(0.02)
        self._populate()

    def configs(self, tmp: Path, language: str) -> dict[str, Config]:
        """The kiosks of this gallery by name (a subclass shows others)."""
        configs = {
            "base": gallery_config(tmp / "base", language),
            "styles": gallery_config(tmp / "styles", language, tables=STYLES),
            # kiosk.mode = "strip": the start screen says what a tap starts
            "strip": gallery_config(tmp / "strip", language, 'mode = "strip"\n'),
            "strip-styles": gallery_config(
                tmp / "strip-styles", language, 'mode = "strip"\n', tables=STYLES
            ),
        }
        for key, (ssid, password) in NETWORKS.items():
            configs[key] = gallery_config(tmp / key, language)
            configs[key].share.wifi_ssid, configs[key].share.wifi_password = ssid, password
        return configs

    def close(self) -> None:
        for jobs in self.controllers:
            jobs.stop()

    # ------------------------------------------------------------------ jobs in the book
    def _job(
        self,
        job_id: str,
        status: JobStatus,
        age_s: float,
        *,
        result: str | None = None,
        effect: str | None = None,
        error: JobError | None = None,
        style: str = "drip",
        cloud: bool = False,
    ) -> JobView:
        ready = result is not None
        return JobView(
            job_id=job_id,
            style=style,
            created_at=self.wall_t - age_s,
            status=status,
            effect=effect,
            error=error,
            ai_path=FIXTURES / "portrait.jpg",
            result_path=self.results[result] if result is not None else None,
            token="7K2QX9MBV4RT8HZP3WD" if ready else None,
            share_url="http://booth.local:8080/p/7K2QX9MBV4RT8HZP3WD" if ready else None,
            finished_at=self.wall_t - age_s + 8
            if status.value in ("completed", "failed")
            else None,
            code="K7QX2M" if ready else None,
            cloud_url="https://photos.example.org/b1/k3v9q2xw7h4m8t6r1z5c0p" if cloud else None,
            cloud_expires_at=self.wall_t + 6 * 86400 if cloud else None,
        )

    def _populate(self) -> None:
        views = [
            self._job("job-queued", JobStatus.PENDING, 4),
            self._job("job-processing", JobStatus.PROCESSING, 12),
            self._job(
                "job-ready",
                JobStatus.COMPLETED,
                40,
                result="portrait",
                effect="gemini",
                style="gold",
            ),
            self._job(
                "job-local",
                JobStatus.COMPLETED,
                60,
                result="portrait",
                effect="local",
                error=JobError.for_guest(ErrorKind.QUOTA),
            ),
            self._job(
                "job-failed", JobStatus.FAILED, 80, error=JobError.for_guest(ErrorKind.SAFETY)
            ),
            self._job("job-old", JobStatus.COMPLETED, 900, result="no-face", effect="gemini"),
            self._job(
                "job-cloud", JobStatus.COMPLETED, 30, result="portrait", effect="gemini", cloud=True
            ),
        ]
        for kind in ErrorKind:
            views.append(
                self._job(
                    f"job-err-{kind.value}",
                    JobStatus.FAILED,
                    2000,
                    error=(
                        JobError.for_guest(kind, 20 if kind is ErrorKind.RATE_LIMITED else None)
                    ),
                )
            )
        views += self._strip_views()
        for app in self.apps.values():
            app.book.restore(views)
            app.book.storage_trouble = {"job-processing-full"}
            app.book.views["job-processing-full"] = dataclasses.replace(
                app.book.views["job-processing"], job_id="job-processing-full"
            )

    def _strip_views(self) -> list[JobView]:
        """Four frames of a strip session in every phase, and two composed sheets (a strip and
        a grid, made by the kiosk's own compose from the fixtures and their local effect)."""
        frames = [  # older than the recent strip's photos: the start screens stay as they were
            self._job("strip-f1", JobStatus.COMPLETED, 3020, result="portrait"),
            self._job("strip-f2", JobStatus.COMPLETED, 3015, result="no-face"),
            self._job("strip-f3", JobStatus.PROCESSING, 3010),
            self._job("strip-f4", JobStatus.PENDING, 3005),
        ]
        frames = [
            dataclasses.replace(v, session_id="strip-4", frame=i) for i, v in enumerate(frames, 1)
        ]
        frames[1] = dataclasses.replace(frames[1], ai_path=FIXTURES / "no-face.jpg")
        sheets = []
        for kind, shots in (("strip", 4), ("grid", 3)):
            made = self._sheet(kind, shots)
            sheets.append(
                dataclasses.replace(
                    self._job(f"{kind}-sheet", JobStatus.COMPLETED, 3000, result="portrait"),
                    result_path=made[0],
                    ai_path=made[1],
                    session_id=f"{kind}-sheet",
                )
            )
        return frames + sheets

    def _sheet(self, kind: str, shots: int) -> tuple[Path, Path]:
        """A sheet and its shots' sheet, composed once per gallery."""
        folder = self.results["portrait"].parent
        out = folder / f"sheet-{kind}-{shots}.jpg", folder / f"sheet-{kind}-{shots}-shots.jpg"
        if not out[0].exists():
            pics = [("portrait", FIXTURES / "portrait.jpg"), ("no-face", FIXTURES / "no-face.jpg")]
            files = [FrameFiles(pics[i % 2][1], self.results[pics[i % 2][0]]) for i in range(shots)]
            cfg = next(iter(self.apps.values())).cfg
            made = compose(kind, files, False, SheetBrand.from_config(cfg, self.wall_t))
            out[0].write_bytes(made.sheet)
            out[1].write_bytes(made.shots)
        return out

    # ------------------------------------------------------------------ drawing
    def draw(self, state: State) -> list[draw.TextRecord]:
        """Enter the state, let its pictures load, draw one frame; the lines of text drawn."""
        app = self.apps[state.config]
        if state.before:
            state.before(self, app)
        app.go(state.screen, **state.kw)
        assert app.screen.name == state.screen, f"{state.name}: entering failed"
        if state.after:
            state.after(self, app.screen)
        app.ctx.status = state.status
        if app.screen.live_preview:
            frame = app.camera.frame()
            if frame is not None:
                app.pictures.preview.update(frame)
        for _ in range(200):  # decodes run on the image pool: until nothing is pending
            app.images.collect()
            app.screen.draw(self.surface)
            app.images.collect()
            if not app.images._loading:
                break
            time.sleep(0.01)
        with draw.recording() as lines:
            app.screen.draw(self.surface)
        return lines

    def save(self, state: State) -> Path | None:
        if self.language not in SAVED_LANGUAGES:
            return None
        w, h = self.size
        path = SCREENS_OUT / f"{state.name}-{w}x{h}-{self.language}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
        rgb = pygame.surfarray.array3d(self.surface).swapaxes(0, 1)
        # OpenCV's fast PNG setting: a few hundred screenshots per run
        cv2.imwrite(
            str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]
        )
        os.replace(tmp, path)
        return path


class GallerySessions:
    """Strip sessions as the session screen sees them (kiosk/jobs/sessions.py SessionControls),
    from fixed views: the gallery never shoots."""

    def __init__(self, g: Gallery) -> None:
        self.g = g
        f = ("strip-f1", "strip-f2", "strip-f3", "strip-f4")
        t = g.wall_t
        self.views = {
            "strip-2": SessionView("strip-2", "drip", "strip", 4, t, "shooting", None, f[:2]),
            "strip-4": SessionView("strip-4", "drip", "strip", 4, t, "closed", "done", f),
            "strip-restart": SessionView(
                "strip-restart", "drip", "strip", 4, t, "closed", "restart", f[:2]
            ),
            "strip-camera": SessionView(
                "strip-camera", "drip", "grid", 4, t, "closed", "camera", f[:3]
            ),
        }

    def begin(self, style: str) -> str:
        self.views["strip-live"] = SessionView(
            "strip-live", style, "strip", 4, self.g.wall_t, "shooting"
        )
        return "strip-live"

    def take(self, session_id: str, frame: int) -> None:
        pass

    def end(self, session_id: str, ended: str) -> None:
        pass

    def view(self, session_id: str) -> SessionView | None:
        return self.views.get(session_id)


def _review(g: Gallery, screen) -> None:
    """Two shots taken, the pause before the third countdown."""
    screen.phase, screen.frame, screen.shots = "review", 2, ["strip-f1", "strip-f2"]


def _shot(g: Gallery, app) -> None:
    """The frozen shot of the flash (what the capture hands the screen)."""
    bgr = cv2.imread(str(FIXTURES / "portrait.jpg"))
    assert bgr is not None
    img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    app.pictures.add_shot("job-processing", img)


def _slow(g: Gallery, app) -> None:
    g.wall_t = time.time() + app.cfg.kiosk.slow_after_s + 5


def _now(g: Gallery, app) -> None:
    g.wall_t = time.time()


AI = BoothStatus(connected=True, ai_online=True, local_only=False, camera="live")
PAUSED = BoothStatus(connected=True, ai_online=False, local_only=None, camera="live")
# The operator mark (kiosk/ui/screens/operator_mark.py) with what kiosk/healthwatch.py would say.
_ALERTS = (
    Problem(
        "camera_stuck",
        "error",
        "the camera has not worked for 75 s: no frame for 2.0 s (timeout receiving frames)",
        "check the camera cable and `journalctl -u booth-kiosk -b`",
    ),
    Problem(
        "clock",
        "warn",
        "the clock is not synchronized (no network time yet): photo times may be wrong",
        "give the booth network time once",
    ),
)
MARKED = BoothStatus(
    connected=True, ai_online=True, local_only=False, camera="live", alerts=_ALERTS
)
OPEN = BoothStatus(
    connected=True,
    ai_online=True,
    local_only=False,
    camera="live",
    alerts=_ALERTS,
    alerts_open=True,
)
OPERATOR_STATES = [
    State("attract-operator-mark", "attract", status=MARKED, before=_now),
    State("attract-operator-reasons", "attract", status=OPEN, before=_now),
    State(
        "reconnecting-operator-reasons",
        "reconnecting",
        status=BoothStatus(
            connected=True, ai_online=True, camera="reconnecting", alerts=_ALERTS, alerts_open=True
        ),
    ),
]
LOCAL = BoothStatus(connected=True, ai_online=True, local_only=True, camera="live")

STATES = [
    State("attract", "attract", before=_now),
    State("attract-local", "attract", status=LOCAL, before=_now),
    State("attract-styles", "attract", config="styles", before=_now),
    State("attract-paused", "attract", status=PAUSED, before=_now),
    State("attract-strip", "attract", config="strip", before=_now),
    State("attract-strip-styles", "attract", config="strip-styles", before=_now),
    State("countdown", "countdown"),
    State("countdown-style", "countdown", {"style": "gold"}, config="styles"),
    State("flash", "flash", {"job_id": "job-processing"}, before=_shot),
    State("queued", "processing", {"job_id": "job-queued"}, before=_now),
    State("processing", "processing", {"job_id": "job-processing"}, before=_now),
    State("processing-slow", "processing", {"job_id": "job-processing"}, before=_slow),
    State("processing-full", "processing", {"job_id": "job-processing-full"}, before=_now),
    State(
        "processing-wifi", "processing", {"job_id": "job-processing"}, config="wifi", before=_now
    ),
    State("result", "result", {"job_id": "job-ready"}, before=_now),
    State("result-style", "result", {"job_id": "job-ready"}, config="styles", before=_now),
    State("result-local", "result", {"job_id": "job-local"}, before=_now),
    State("result-wifi", "result", {"job_id": "job-ready"}, config="wifi", before=_now),
    State("result-wifi-local", "result", {"job_id": "job-local"}, config="wifi", before=_now),
    State(
        "processing-wifi-long",
        "processing",
        {"job_id": "job-processing"},
        config="wifi-long",
        before=_now,
    ),
    State(
        "processing-slow-wifi-long",
        "processing",
        {"job_id": "job-processing"},
        config="wifi-long",
        before=_slow,
    ),
    State(
        "processing-full-wifi-long",
        "processing",
        {"job_id": "job-processing-full"},
        config="wifi-long",
        before=_now,
    ),
    State(
        "processing-full-wifi",
        "processing",
        {"job_id": "job-processing-full"},
        config="wifi",
        before=_now,
    ),
    State("result-wifi-long", "result", {"job_id": "job-ready"}, config="wifi-long", before=_now),
    State("result-cloud", "result", {"job_id": "job-cloud"}, config="wifi", before=_now),
    *[State(f"error-{k.value}", "error", {"job_id": f"job-err-{k.value}"}) for k in ErrorKind],
    State("error-camera", "error", {"kind": "camera"}),
    State("error-storage", "error", {"kind": "storage"}),
    State("reconnecting", "reconnecting"),
    # strip sessions (kiosk.mode = "strip"): the countdown, the pause between shots, the
    # frames coming back, a session cut short by a restart or the camera, the sheet's result
    State("strip-countdown", "session", {"style": "drip"}, before=_now),
    State("strip-review", "session", {"session_id": "strip-2"}, before=_now, after=_review),
    State("strip-waiting", "session", {"session_id": "strip-4"}, before=_now),
    State("strip-restarted", "session", {"session_id": "strip-restart"}, before=_now),
    State("strip-camera", "session", {"session_id": "strip-camera"}, before=_now),
    State("result-strip", "result", {"job_id": "strip-sheet"}, before=_now),
    State("result-grid", "result", {"job_id": "grid-sheet"}, before=_now),
]
