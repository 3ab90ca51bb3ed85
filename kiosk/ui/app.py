"""KioskApp: the composition of the kiosk's parts and the frame loop.

Drivable headlessly: `step()` runs exactly one frame (input, job events, camera watchdog, update,
draw); `run_for(n)` runs n frames; `run()` paces frames at kiosk.fps on screens with a live
preview and kiosk.idle_fps elsewhere. The loop never waits on MQTT, disk or JPEG work: the job
side (`kiosk/jobs/controller.py`) and the image cache (`kiosk/ui/surfaces.py`) do that on other
threads and hand results back through queues and futures. The parts:
- `ScreenMachine` (`kiosk/ui/machine.py`): the screens and the one transition table;
- `ScreenContext` (`kiosk/ui/context.py`): all a screen may use;
- `JobBook` (`kiosk/ui/jobbook.py`): what the screens know about jobs;
- `Pictures` + `ImageStore`: every surface shown, in one cache;
- `Automation` (`kiosk/ui/automation.py`): headless shooting and the control directory, through
  the narrow `KioskControls` the app gives it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pygame

from booth import sdnotify
from booth.config import Config
from kiosk.camera import Camera, CameraWatchdog, camera_watchdog
from kiosk.camera.base import View
from kiosk.healthwatch import OperatorWatch, camera_time_lost_before
from kiosk.jobs.controller import JobController
from kiosk.jobs.sessions import EMPTY
from kiosk.jobs.views import JobEvent, JobView
from kiosk.ui.automation import Automation, CountedSessions, KioskControls
from kiosk.ui.context import BoothStatus, ScreenContext
from kiosk.ui.input import HOLD, OPERATOR, QUIT, SHOOT, TAP, Action, InputMapper, open_gpio_button
from kiosk.ui.jobbook import JobBook
from kiosk.ui.machine import LIVE_PREVIEW, NO_GUEST, NO_NEW_SHOT, Event, ScreenMachine, ScreenName
from kiosk.ui.pictures import Pictures
from kiosk.ui.preview import display_layout
from kiosk.ui.screens import SCREENS, operator_mark
from kiosk.ui.screens.base import Screen
from kiosk.ui.surfaces import ImageStore, budget_for
from kiosk.ui.theme import Fonts, Layout

log = logging.getLogger(__name__)

SHOT_DEBOUNCE_S = 1.0
ANIMATED_FPS = 12  # screens with a spinner but no camera preview
# the result's reveal: film's rate, so the drips run down smoothly (at the spinner's 12 fps they
# stepped); it costs the frame loop 1.5 ms a frame at 800x480, 6 ms at 1280x720, for 1.6 s
REVEAL_FPS = 24
# Nobody has touched the screen (or changed it) for IDLE_AFTER_S: the start screen's mirror runs
# at IDLE_PREVIEW_FPS, which still reads as live video to someone walking past (below ~10 fps
# movement starts to stutter); the first touch brings kiosk.fps back, through the countdown.
IDLE_AFTER_S = 30.0
IDLE_PREVIEW_FPS = 15
NO_PREVIEW_CAMERA_FPS = 2  # screens without the preview: frames only for the stall check
FLASH_FPS = 15  # a white fade of 0.45 s needs no more, and the shot's encodes want the CPU
RESUME_WINDOW_S = 15 * 60  # after a restart, reopen an unfinished job this young
ALERTS_OPEN_S = 30.0  # the operator mark's reasons close by themselves after this


class KioskApp:
    def __init__(
        self,
        cfg: Config,
        screen_size: tuple[int, int] | None = None,
        *,
        camera: Camera | CameraWatchdog | None = None,
        jobs: JobController | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        fullscreen: bool = False,
        on_job_done: Callable[[JobView], None] | None = None,
        control_dir: str | Path | None = None,
        auto_shoot_interval: float = 0.0,
        max_shots: int = 0,
        gpio: bool = True,
        operator_watch: bool = True,
    ) -> None:
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
        # the camera makes its frames for this screen: size, mirror, the surface's byte order
        view = View(self.surface.get_size(), True, display_layout(self.surface))
        self.images = ImageStore(budget_for(self.surface.get_size()))
        self.input = InputMapper(self.surface.get_size(), clock)

        lost_before = camera_time_lost_before(cfg)  # before our watchdog writes its own file
        if isinstance(camera, CameraWatchdog):
            self.camera = camera
            camera.set_view(view)
        elif isinstance(camera, Camera):
            camera.set_view(view)
            self.camera = CameraWatchdog.around(camera, cfg.camera.frame_timeout_s, clock=clock)
        else:
            # restart limit, health file for doctor
            self.camera = camera_watchdog(cfg, clock=clock, view=view)
        self.camera.start()
        self.jobs = jobs or JobController(cfg).start()
        self._own_jobs = jobs is None
        # the kiosk's health on MQTT and the operator mark's alerts (a thread: kiosk/healthwatch.py)
        self.operator = OperatorWatch(
            cfg,
            self.jobs,
            self.camera,
            lambda: self.screen.name.value,
            camera_lost_before_s=lost_before,
        )
        self._alerts_open_until = -1e9

        self.book = JobBook(cfg.kiosk.recent_count)
        self.pictures = Pictures(self.images, self.book, self.layout, cfg.kiosk.logo)
        self.ctx = ScreenContext(
            cfg=cfg,
            layout=self.layout,
            fonts=Fonts(self.images, floor=self.layout.type.floor),
            texts=cfg.guest_texts(),
            images=self.images,
            pictures=self.pictures,
            jobs=self.book,
            now=clock,
            wall=wall,
            fire=self.fire,
            request_shot=self.request_shot,
            take_shot=self.take_shot,
            open_job=self.open_job,
            wait_phase=self.jobs.wait_phase,
            sessions=self.jobs.sessions,
            prepare_still=self.camera.prepare_still,
            print_view=self.jobs.prints.view,
            request_print=self.jobs.prints.request,
        )
        screens: dict[ScreenName, Screen] = {cls.name: cls(self.ctx) for cls in SCREENS}
        self.machine = ScreenMachine(screens, clock)
        self.automation = Automation(
            KioskControls(
                screen=lambda: self.screen.name,
                screen_state=lambda: self.screen.state(),
                camera_state=lambda: self.camera.state,
                failures=lambda: self.machine.failures,
                jobs=self.book,
                request_shot=self.request_shot,
                stop=self.stop,
                strip=cfg.kiosk.mode == "strip",
                session_done=self._session_done,
            ),
            clock,
            interval=auto_shoot_interval,
            max_shots=max_shots,
            control_dir=control_dir,
        )
        if self.ctx.sessions is not None:  # each session begun counts for --shots
            self.ctx.sessions = CountedSessions(self.ctx.sessions, self.automation.sessions)
        self._last_shot_at = -1e9
        self.idle_after_s = IDLE_AFTER_S
        self._active_at = clock()  # the last touch or change of screen (the preview's pace)
        self._active_screen = self.machine.screen
        self.running = True
        self.frames = 0
        self._restore()
        self.gpio = open_gpio_button(cfg.kiosk.gpio_button) if gpio else None
        if operator_watch:
            self.operator.start()
        sdnotify.ready("kiosk screen up")

    # ------------------------------------------------------------------ views for tests and tools
    @property
    def screen(self) -> Screen:
        return self.machine.screen

    @property
    def screens(self) -> dict[ScreenName, Screen]:
        return self.machine.screens

    @property
    def failures(self) -> int:
        return self.machine.failures

    @property
    def job_views(self) -> dict[str, JobView]:
        return self.book.views

    @property
    def session_jobs(self) -> set[str]:
        return self.automation.shots

    def recent_jobs(self) -> list[JobView]:
        return self.book.recent()

    def result_surface(self, job_id: str) -> pygame.Surface | None:
        return self.pictures.result(job_id)

    # ------------------------------------------------------------------ state machine
    def fire(self, event: Event, **kw) -> bool:
        return self.machine.fire(event, **kw)

    def go(self, name: ScreenName | str, **kw) -> None:
        """Enter a screen directly (restoring after a restart, tests)."""
        self.machine.go(name, **kw)

    def _restore(self) -> None:
        """Rebuild the screen state from the ledger after a (re)start."""
        try:
            views = self.jobs.recent(max(self.cfg.kiosk.recent_count, 1) + 4)
        except Exception:
            log.exception("cannot read the ledger at start")
            return
        self.book.restore(views)
        fresh = [
            v for v in views if not v.finished and self.wall() - v.created_at < RESUME_WINDOW_S
        ]
        if fresh:
            newest = max(fresh, key=lambda v: v.created_at)
            log.info("resuming job %s (%s) after a restart", newest.job_id, newest.status.value)
            self.fire(Event.WAITING, job_id=newest.job_id)

    # ------------------------------------------------------------------ actions
    def request_shot(self, style: str | None = None, debounce: bool = True) -> bool:
        """What a tap on the shutter does: start the countdown (debounced). False if ignored.

        `debounce=False` is for the headless auto-shooter, whose interval is its own limit.
        """
        if self.screen.name in NO_NEW_SHOT:
            return False
        now = self.now()
        if debounce and now - self._last_shot_at < SHOT_DEBOUNCE_S:
            return False
        if self.camera.state != "live":
            return False
        self._last_shot_at = now
        if style is not None and style not in self.cfg.styles:
            style = None
        if self.cfg.kiosk.mode == "strip":  # its screen runs the countdowns (screens/session.py)
            self.camera.prepare_still()
            self.fire(Event.SESSION, style=style)
        elif self.cfg.kiosk.countdown_s <= 0:
            self.take_shot(style)
        else:
            self.camera.prepare_still()  # the still mode is ready when the countdown ends
            self.fire(Event.SHOOT, style=style)
        return True

    def _session_done(self, session_id: str) -> bool:
        """A strip session is over: its sheet is stored, or it ended without a frame."""
        if self.book.finished(session_id):
            return True
        view = self.jobs.sessions.view(session_id)
        return view is not None and view.state == EMPTY

    def take_shot(self, style: str | None) -> str:
        job_id = self.jobs.submit_capture(
            self.camera.capture_still,
            style or self.cfg.kiosk.default_style,
            display_size=self.surface.get_size(),
        )
        self.automation.shots.add(job_id)
        self.fire(Event.SHOT, job_id=job_id)
        return job_id

    def open_job(self, job_id: str) -> None:
        job = self.book.get(job_id)
        if job is None:
            return
        event = Event.READY if job.ready else Event.FAILED if job.failed else Event.WAITING
        self.fire(event, job_id=job_id)

    def screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename: a reader (or a second test run) never sees half a PNG
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
        pygame.image.save(self.surface, str(tmp))
        os.replace(tmp, path)
        return path

    # ------------------------------------------------------------------ frame loop
    def step(self) -> None:
        """One frame: input, job events, camera watchdog, update, draw, flip."""
        now = self.now()
        for event in pygame.event.get():
            action = self.input.map(event)
            if action is not None:
                self._dispatch(action)
        held = self.input.held()
        if held is not None:
            self._dispatch(held)
        for ev in self.jobs.poll():
            self._on_job_event(ev)
        self.images.collect()
        self._camera_check()
        self.ctx.status = BoothStatus(
            connected=self.jobs.mqtt.connected,
            ai_online=self.jobs.ai_online,
            local_only=self.jobs.local_only,
            camera=self.camera.state,
            alerts=self.operator.alerts,
            alerts_open=now < self._alerts_open_until,
        )
        self.automation.tick(now)
        screen = self.screen
        self.machine.safely("update", lambda: screen.update(now))
        screen = self.screen
        self.machine.safely("draw", lambda: screen.draw(self.surface))
        pygame.display.flip()
        self.frames += 1
        self._pace_camera(now)
        self.automation.after_frame()
        if self.screen.name in NO_GUEST:
            self.camera.check_permanent_fault()  # exits (75) for systemd after a long stall
        sdnotify.watchdog()

    def stop(self) -> None:
        """End the frame loop after this frame (`run()` then closes everything)."""
        self.running = False

    def run_for(self, frames: int) -> None:
        for _ in range(frames):
            self.step()

    def idle(self) -> bool:
        """Nobody has touched the screen, and it has not changed, for `idle_after_s`."""
        return self.now() - self._active_at >= self.idle_after_s

    def fps(self) -> int:
        """Full rate with a live preview (IDLE_PREVIEW_FPS on an untouched start screen); the
        reveal REVEAL_FPS; a spinner needs ~12 fps; still screens idle_fps."""
        k = self.cfg.kiosk
        if self.screen.name == ScreenName.ATTRACT and self.idle():
            return min(k.fps, IDLE_PREVIEW_FPS)
        if self.screen.name == ScreenName.FLASH:
            return min(k.fps, FLASH_FPS)
        if self.screen.live_preview:
            return k.fps
        if self.screen.smooth:
            return max(k.idle_fps, min(k.fps, REVEAL_FPS))
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
        self.operator.stop()
        if self.gpio is not None:
            self.gpio.close()
        self.automation.close()
        self.camera.stop()
        self.images.close()
        if self._own_jobs:
            self.jobs.stop()

    # ------------------------------------------------------------------ internals
    def _pace_camera(self, now: float) -> None:
        """The camera hands over only the frames the screen will show (none but the stall
        check's on screens without the preview, the flash included: it shows the shot). A new
        screen counts as activity."""
        if self.screen is not self._active_screen:
            self._active_screen = self.screen
            self._active_at = now
        self.camera.pace(self.fps() if self.screen.live_preview else NO_PREVIEW_CAMERA_FPS)

    def _dispatch(self, action: Action) -> None:
        self._active_at = self.now()
        if action.kind == QUIT:
            if action.source == "window" or not self.cfg.kiosk.kiosk_lock:
                self.running = False
            return
        if self._operator_action(action):
            return
        if action.kind == SHOOT:
            # Space/Enter/the arcade button always mean "take my photo" (debounced; ignored
            # during a countdown or while the camera reconnects).
            self.request_shot(None)
            return
        screen = self.screen
        self.machine.safely("input", lambda: screen.handle(action))

    def _operator_action(self, action: Action) -> bool:
        """F1, or a long press on the operator mark, opens (or closes) its reasons; while they
        are open, a tap closes them. True when the action was the operator's."""
        now = self.now()
        is_open = now < self._alerts_open_until
        if action.kind == OPERATOR or (
            action.kind == HOLD
            and self.operator.alerts
            and self.screen.name in operator_mark.MARKED_SCREENS
            and operator_mark.hit(self.ctx, action.pos)
        ):
            self._alerts_open_until = -1e9 if is_open else now + ALERTS_OPEN_S
            log.info("operator: reasons %s", "hidden" if is_open else "shown")
            return True
        if action.kind == TAP and is_open:
            self._alerts_open_until = -1e9
            return True
        return False

    def _on_job_event(self, ev: JobEvent) -> None:
        job = ev.job
        if ev.kind == "captured" and job is not None and ev.image is not None:
            self.pictures.add_shot(job.job_id, ev.image)
        if (
            ev.kind == "capture_failed"
            and job is not None
            and getattr(self.screen, "job_id", None) == job.job_id
        ):
            self.fire(Event.FAILED, job_id=job.job_id, kind=ev.reason or "camera")
        if (
            ev.kind == "deleted"
            and job is not None
            and getattr(self.screen, "job_id", None) == job.job_id
        ):
            self.fire(Event.DONE)  # the photo on screen was deleted: back to the start
        done = self.book.apply(ev, getattr(self.screen, "job_id", None))
        if done is not None and self.on_job_done is not None:
            try:
                self.on_job_done(done)
            except Exception:
                log.exception("on_job_done hook failed")

    def _camera_check(self) -> None:
        frame = self.camera.frame()
        if self.camera.state == "reconnecting" and self.screen.name in LIVE_PREVIEW:
            self.fire(Event.CAMERA_LOST)
        if frame is not None and self.screen.live_preview:
            self.pictures.preview.update(frame)
