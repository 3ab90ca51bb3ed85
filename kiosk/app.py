"""KioskApp: the frame loop and the screen state machine.

Drivable headlessly: `step()` runs exactly one frame (events, job updates, camera watchdog,
update, draw); `run_for(n)` runs n frames; `run()` paces frames at kiosk.fps on screens with a
live preview and kiosk.idle_fps elsewhere. The loop never waits on MQTT, disk or JPEG work: the
job controller and a small image pool do that on other threads and hand back results through
queues and futures.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pygame

from booth import sdnotify
from booth.config import Config
from booth.images import fit_inside
from kiosk import draw, theme
from kiosk.camera import Camera, CameraWatchdog, camera_watchdog
from kiosk.input import QUIT, SHOOT, Action, InputMapper, open_gpio_button
from kiosk.pipeline import JobController, JobEvent, JobView
from kiosk.screens import SCREENS
from kiosk.screens.base import Screen
from kiosk.theme import Fonts, Layout

log = logging.getLogger(__name__)

SHOT_DEBOUNCE_S = 1.0
# Screens the headless auto-shooter shoots from (a guest may shoot while earlier jobs process).
AUTO_SHOOT_SCREENS = ("attract", "processing", "result")
IMAGE_CACHE_BYTES = 48_000_000  # decoded results/thumbnails kept for drawing (a Pi has little RAM)
ANIMATED_FPS = 12  # screens with a spinner but no camera preview
KEEP_SHOTS = 4  # display-sized captured shots kept in memory (older ones reload from disk)
MAX_JOB_VIEWS = 200  # jobs the screen keeps in memory (the ledger has them all)
RESUME_WINDOW_S = 15 * 60  # after a restart, reopen an unfinished job this young


def tame_malloc(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas: every thread that frees big numpy buffers (camera, encoders,
    image pool) otherwise keeps its own arena of freed memory, and RSS creeps up over an event
    (measured: 251 → 224 MB at 1920×1080, no CPU cost). Call before threads start; no-op off glibc."""
    try:
        import ctypes

        M_ARENA_MAX = -8
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def _decode_fit(path: Path, size: tuple[int, int], reduce: bool = False) -> np.ndarray | None:
    flag = cv2.IMREAD_REDUCED_COLOR_4 if reduce else cv2.IMREAD_COLOR
    bgr = cv2.imread(str(path), flag)
    if bgr is None:
        return None
    return fit_inside(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)


class KioskApp:
    def __init__(self, cfg: Config, screen_size: tuple[int, int] | None = None, *,
                 camera: Camera | CameraWatchdog | None = None,
                 jobs: JobController | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 fullscreen: bool = False,
                 on_job_done: Callable[[JobView], None] | None = None,
                 control_dir: str | Path | None = None,
                 auto_shoot_interval: float = 0.0,
                 max_shots: int = 0,
                 gpio: bool = True) -> None:
        tame_malloc()
        self.cfg = cfg
        self.now = clock
        self.wall = wall
        self.on_job_done = on_job_done
        pygame.display.init()
        pygame.font.init()
        if fullscreen:
            self.surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
            pygame.mouse.set_visible(False)
        else:
            size = screen_size or (cfg.kiosk.window_width, cfg.kiosk.window_height)
            self.surface = pygame.display.set_mode(size)
        pygame.display.set_caption(cfg.kiosk.title)
        self.layout = Layout(*self.surface.get_size())
        self.fonts = Fonts()
        self.input = InputMapper(self.surface.get_size(), clock)
        self.logo = self._load_png(cfg.kiosk.logo, "logo")
        self.frame_overlay = self._load_png(cfg.kiosk.frame_overlay, "frame overlay")

        if isinstance(camera, CameraWatchdog):
            self.camera = camera
        elif isinstance(camera, Camera):
            self.camera = CameraWatchdog.around(camera, cfg.camera.frame_timeout_s, clock=clock)
        else:
            self.camera = camera_watchdog(cfg, clock=clock)  # issue 13: limit + health file
        self.camera.start()
        self.jobs = jobs or JobController(cfg).start()
        self._own_jobs = jobs is None

        self.job_views: dict[str, JobView] = {}
        self.shots: dict[str, pygame.Surface] = {}
        self.backdrops: dict = {}
        self._capture_failed: set[str] = set()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="images")
        self._loading: dict[tuple, Future] = {}
        self._images: "OrderedDict[tuple, pygame.Surface]" = OrderedDict()
        self._preview: pygame.Surface | None = None
        self._preview_key: tuple | None = None
        self._preview_src: np.ndarray | None = None
        self._last_shot_at = -1e9
        self.running = True
        self.frames = 0
        self.failures = 0
        self.session_jobs: set[str] = set()
        self.finished_jobs: set[str] = set()
        self.auto_shoot_interval = auto_shoot_interval
        self.max_shots = max_shots
        self._last_auto = clock()
        self.control_dir = Path(control_dir) if control_dir else None
        self._last_control = 0.0
        self._last_state: dict | None = None

        self.screens: dict[str, Screen] = {cls.name: cls(self) for cls in SCREENS}
        self.screen: Screen = self.screens["attract"]
        self.screen.entered_at = clock()
        self._restore()
        self.gpio = open_gpio_button(cfg.kiosk.gpio_button) if gpio else None
        sdnotify.ready("kiosk screen up")

    # ------------------------------------------------------------------ set-up helpers
    def _load_png(self, path: str, what: str) -> pygame.Surface | None:
        if not path:
            return None
        try:
            return pygame.image.load(path).convert_alpha()
        except (pygame.error, FileNotFoundError) as exc:
            log.warning("%s %s cannot be loaded: %s", what, path, exc)
            return None

    def _restore(self) -> None:
        """Rebuild the screen state from the ledger after a (re)start."""
        try:
            views = self.jobs.recent(max(self.cfg.kiosk.recent_count, 1) + 4)
        except Exception:
            log.exception("cannot read the ledger at start")
            return
        for v in views:
            self.job_views[v.job_id] = v
        fresh = [v for v in views if not v.finished
                 and self.wall() - v.created_at < RESUME_WINDOW_S]
        if fresh:
            newest = max(fresh, key=lambda v: v.created_at)
            log.info("resuming job %s (%s) after a restart", newest.job_id, newest.status.value)
            self.go("processing", job_id=newest.job_id)

    # ------------------------------------------------------------------ state machine
    def go(self, name: str, **kw) -> None:
        screen = self.screens[name]
        try:
            screen.entered_at = self.now()
            screen.enter(**kw)
        except Exception:
            log.exception("entering screen %s failed; back to the start screen", name)
            self.failures += 1
            screen = self.screens["attract"]
            screen.entered_at = self.now()
        if screen is not self.screen:
            log.debug("screen %s → %s", self.screen.name, screen.name)
        self.screen = screen

    def _safely(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            self.failures += 1
            log.exception("screen %s failed in %s; back to the start screen", self.screen.name,
                          what)
            if self.screen.name != "attract":
                self.go("attract")

    # ------------------------------------------------------------------ public API
    def request_shot(self, style: str | None = None, debounce: bool = True) -> bool:
        """What a tap on the shutter does: start the countdown (debounced). False if ignored.

        `debounce=False` is for the headless auto-shooter, whose interval is its own limit.
        """
        if self.screen.name in ("countdown", "capture", "reconnecting"):
            return False
        now = self.now()
        if debounce and now - self._last_shot_at < SHOT_DEBOUNCE_S:
            return False
        if self.camera.state != "live":
            return False
        self._last_shot_at = now
        if style is not None and style not in self.cfg.styles:
            style = None
        if self.cfg.kiosk.countdown_s <= 0:
            self.take_shot(style)
        else:
            self.go("countdown", style=style)
        return True

    def take_shot(self, style: str | None) -> str:
        job_id = self.jobs.submit_capture(self.camera.capture_still,
                                          style or self.cfg.kiosk.default_style,
                                          display_size=self.surface.get_size())
        self.session_jobs.add(job_id)
        self.go("capture", job_id=job_id)
        return job_id

    def open_job(self, job_id: str) -> None:
        job = self.job_views.get(job_id)
        if job is None:
            return
        if job.ready:
            self.go("result", job_id=job_id)
        elif job.failed:
            self.go("error", job_id=job_id)
        else:
            self.go("processing", job_id=job_id)

    def screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a reader (or a second test run) never sees half a PNG
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
        pygame.image.save(self.surface, str(tmp))
        os.replace(tmp, path)
        return path

    def recent_jobs(self) -> list[JobView]:
        jobs = [v for v in self.job_views.values() if v.job_id not in self._capture_failed]
        jobs.sort(key=lambda v: v.created_at, reverse=True)
        return jobs[: self.cfg.kiosk.recent_count]

    # ------------------------------------------------------------------ frame loop
    def step(self) -> None:
        """One frame: input, job events, camera watchdog, update, draw, flip."""
        now = self.now()
        for event in pygame.event.get():
            action = self.input.map(event)
            if action is not None:
                self._dispatch(action)
        for ev in self.jobs.poll():
            self._on_job_event(ev)
        self._collect_images()
        self._camera_check()
        self._automation(now)
        self._safely("update", lambda: self.screen.update(now))
        self._safely("draw", lambda: self.screen.draw(self.surface))
        pygame.display.flip()
        self.frames += 1
        self._write_state()
        if self.screen.name in ("attract", "reconnecting"):  # issue 13: no guest on screen
            self.camera.check_permanent_fault()  # exits (75) for systemd after a long stall
        sdnotify.watchdog()

    def run_for(self, frames: int) -> None:
        for _ in range(frames):
            self.step()

    def fps(self) -> int:
        """Full rate with a live preview; a spinner needs ~12 fps; still screens idle_fps."""
        k = self.cfg.kiosk
        if self.screen.live_preview or self.screen.name == "capture":
            return k.fps
        if self.screen.animated:
            return max(k.idle_fps, min(k.fps, ANIMATED_FPS))
        return k.idle_fps

    def run(self) -> int:
        clock = pygame.time.Clock()
        try:
            while self.running:
                self.step()
                clock.tick(self.fps())
        finally:
            self.close()
        return 0

    def close(self) -> None:
        sdnotify.stopping()
        if self.gpio is not None:
            self.gpio.close()
        self.camera.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_jobs:
            self.jobs.stop()

    # ------------------------------------------------------------------ internals
    def _dispatch(self, action: Action) -> None:
        if action.kind == QUIT:
            if action.source == "window" or not self.cfg.kiosk.kiosk_lock:
                self.running = False
            return
        if action.kind == SHOOT:
            # Space/Enter/the arcade button always mean "take my photo" (debounced; ignored
            # during a countdown or while the camera reconnects).
            self.request_shot(None)
            return
        self._safely("input", lambda: self.screen.handle(action))

    def _on_job_event(self, ev: JobEvent) -> None:
        job = ev.job
        if ev.kind == "availability" or job is None:
            return
        if ev.kind == "captured" and ev.image is not None:
            self.shots[job.job_id] = draw.surface_from_rgb(ev.image)
            keep = {v.job_id for v in self.recent_jobs()[:KEEP_SHOTS]} | {job.job_id}
            for old_id in [j for j in self.shots if j not in keep]:
                del self.shots[old_id]  # older shots are reloaded from disk when needed
        elif ev.kind == "capture_failed":
            self._capture_failed.add(job.job_id)
            self.job_views.pop(job.job_id, None)
            if getattr(self.screen, "job_id", None) == job.job_id:
                self.go("error", job_id=job.job_id, kind=ev.reason or "camera")
            return
        old = self.job_views.get(job.job_id)
        if ev.kind == "created" or old is None or job.status.rank >= old.status.rank \
                or job.ready:
            if ev.kind in ("created", "captured") and old is not None:
                return  # a snapshot from before the ledger row: never move a job back
            self.job_views[job.job_id] = job
        if len(self.job_views) > MAX_JOB_VIEWS:
            self._prune_views()
        if job.finished and job.job_id not in self.finished_jobs:
            self.finished_jobs.add(job.job_id)
            if self.on_job_done is not None:
                try:
                    self.on_job_done(job)
                except Exception:
                    log.exception("on_job_done hook failed")

    def _prune_views(self) -> None:
        """Forget old finished jobs (the ledger keeps them); the strip needs only the newest."""
        shown = getattr(self.screen, "job_id", None)
        old = sorted(self.job_views.values(), key=lambda v: v.created_at)
        for v in old[: len(old) - MAX_JOB_VIEWS // 2]:
            if v.finished and v.job_id != shown:
                del self.job_views[v.job_id]

    def _camera_check(self) -> None:
        frame = self.camera.frame()
        if self.camera.state == "reconnecting" and self.screen.live_preview:
            self.go("reconnecting")
        if frame is None:
            return
        key = (frame.seq, id(frame.image))
        if self.screen.live_preview and key != self._preview_key:
            self._preview_key = key
            img = frame.image
            if self._preview is not None and self._preview_src is img:
                return  # the same image again (file camera): nothing to convert
            self._preview_src = img
            w, h = self.surface.get_size()
            ih, iw = img.shape[:2]
            scale = max(w / iw, h / ih)
            nw, nh = max(w, round(iw * scale)), max(h, round(ih * scale))
            resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
            x, y = (nw - w) // 2, (nh - h) // 2
            mirrored = cv2.flip(resized[y:y + h, x:x + w], 1)  # the preview is a mirror
            # Share the array's memory (no copy); keep the array alive as long as the surface.
            self._preview_arr = mirrored
            self._preview = pygame.image.frombuffer(mirrored, (w, h), "RGB")

    def draw_preview(self, surf: pygame.Surface) -> None:
        if self._preview is None:
            surf.fill(theme.BG)
        else:
            surf.blit(self._preview, (0, 0))

    def _image(self, key: tuple, path: Path | None, size: tuple[int, int],
               reduce: bool = False) -> pygame.Surface | None:
        img = self._images.get(key)
        if img is not None:
            self._images.move_to_end(key)
            return img
        if path is None:
            return None
        if key not in self._loading:
            self._loading[key] = self._pool.submit(_decode_fit, path, size, reduce)
        return None

    def _collect_images(self) -> None:
        added = False
        for key, fut in list(self._loading.items()):
            if fut.done():
                del self._loading[key]
                try:
                    rgb = fut.result()
                except Exception as exc:
                    log.warning("image %s could not be loaded: %s", key, exc)
                    rgb = None
                if rgb is not None:
                    self._images[key] = draw.surface_from_rgb(rgb)
                    added = True
        if not added:
            return  # the cache only grows here: nothing to evict
        total = sum(i.get_width() * i.get_height() * 4 for i in self._images.values())
        while total > IMAGE_CACHE_BYTES and len(self._images) > 1:
            _key, img = self._images.popitem(last=False)
            total -= img.get_width() * img.get_height() * 4

    def result_surface(self, job_id: str) -> pygame.Surface | None:
        job = self.job_views.get(job_id)
        if job is None or job.result_path is None:
            return None
        return self._image(("result", job_id, self.surface.get_size()), job.result_path,
                           self.surface.get_size())

    def shot_surface(self, job_id: str) -> pygame.Surface | None:
        shot = self.shots.get(job_id)
        if shot is not None:
            return shot
        job = self.job_views.get(job_id)
        if job is None or job.ai_path is None:
            return None
        return self._image(("shot", job_id), job.ai_path, self.surface.get_size())

    def thumbnail(self, job: JobView, size: tuple[int, int]) -> pygame.Surface | None:
        path = job.result_path if job.ready else job.ai_path
        big = (size[0] * 2, size[1] * 2)
        if path is None:
            shot = self.shots.get(job.job_id)
            return shot
        return self._image(("thumb", str(path)), path, big, reduce=True) or \
            self.shots.get(job.job_id)

    def _automation(self, now: float) -> None:
        """Headless auto-shooting and the control directory (tests, `booth up --headless`)."""
        if self.auto_shoot_interval and self.screen.name in AUTO_SHOOT_SCREENS and \
                now - self._last_auto >= self.auto_shoot_interval and \
                (not self.max_shots or len(self.session_jobs) < self.max_shots):
            if self.request_shot(None, debounce=False):
                self._last_auto = now
        if self.max_shots and len(self.session_jobs) >= self.max_shots and \
                self.session_jobs <= self.finished_jobs:
            self.running = False
        if self.control_dir is None or now - self._last_control < 0.2:
            return
        self._last_control = now
        trigger = self.control_dir / "shoot"
        if trigger.exists():
            try:
                style = trigger.read_text().strip() or None
                trigger.unlink()
            except OSError:
                return
            if not self.request_shot(style):
                log.info("control: shot request ignored on screen %s", self.screen.name)

    def _write_state(self) -> None:
        if self.control_dir is None:
            return
        state = {"screen": self.screen.name, "camera": self.camera.state, "pid": os.getpid(),
                 "failures": self.failures}
        try:
            state.update(self.screen.state())
        except Exception:
            pass
        state["jobs"] = {v.job_id: ("ready" if v.ready else "failed" if v.failed
                                    else v.status.value) for v in self.job_views.values()}
        if state == self._last_state:
            return
        self._last_state = state
        tmp = self.control_dir / ".state.json.tmp"
        try:
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.control_dir / "state.json")
        except OSError as exc:
            log.warning("cannot write the state file: %s", exc)
