"""Keeps a camera alive: no frame for `frame_timeout_s` → reopen it with backoff, off the main
thread.

The frame loop asks `state` each frame (never blocks): `live`, `reconnecting` (show the
"Camera reconnecting…" screen) or `starting`. `fault` says why the camera is not live (for the
operator: logged at ERROR, written to the health file `booth doctor` reads). A mode switch the
backend announces (`camera.switching`) is not a stall.

Some faults only a new process clears (a wedged libcamera, a camera that vanished from
libcamera's list): when the camera has not been live for `restart_limit_s`, `permanent_fault`
turns true and `check_permanent_fault()` — called by the frame loop before its systemd watchdog
ping — exits the process with EXIT_CAMERA_STUCK, so systemd (or `booth up`) starts it afresh.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from booth.clock import boot_id
from kiosk.camera.base import Camera, CameraError, Frame, View
from kiosk.camera.statefile import CameraHealth, HealthWriter

log = logging.getLogger(__name__)

LIVE = "live"
STARTING = "starting"
RECONNECTING = "reconnecting"
EXIT_CAMERA_STUCK = 75  # EX_TEMPFAIL: systemd's Restart=always and `booth up` start it again


class CameraWatchdog:
    def __init__(
        self,
        opener: Callable[[], Camera],
        frame_timeout_s: float = 2.0,
        backoff_s: tuple[float, float] = (0.5, 10.0),
        clock: Callable[[], float] = time.monotonic,
        restart_limit_s: float = 0.0,
        health: HealthWriter | None = None,
    ) -> None:
        self._opener = opener
        self.frame_timeout_s = frame_timeout_s
        self.backoff_min, self.backoff_max = backoff_s
        self.restart_limit_s = restart_limit_s
        self._clock = clock
        self._health = health
        self._camera: Camera | None = None
        self._state = STARTING
        self._lock = threading.Lock()
        self._restarting = False
        self._since = clock()  # start of the current state (frame timeout counts from here)
        self._trouble_since = clock()  # when the camera was last live (or the start)
        self._last_seq = -1
        self._last_frame_at = clock()
        self.restarts = 0
        self._stalls = 0  # restarts in a row without a frame in between (drives the backoff)
        self._stopped = False
        self._fault: str | None = None
        self._logged_fault: str | None = None
        self._first: Camera | None = None
        self._fps = 0.0  # the pace asked for (`pace`), given to every camera it opens

    @classmethod
    def around(cls, camera: Camera, frame_timeout_s: float = 2.0, **kw) -> CameraWatchdog:
        """Watch an already built camera (restarts call stop()/start() on the same object)."""

        def reopen() -> Camera:
            camera.stop()
            return camera.start()

        dog = cls(reopen, frame_timeout_s, **kw)
        dog._first = camera
        return dog

    # ------------------------------------------------------------------ what the loop reads
    @property
    def camera(self) -> Camera | None:
        return self._camera

    @property
    def state(self) -> str:
        return self._state

    @property
    def fault(self) -> str | None:
        """Why the camera is not live (None when it is)."""
        return None if self._state == LIVE else self._fault

    @property
    def trouble_s(self) -> float:
        """Seconds the camera has not been live (0 while it is)."""
        return 0.0 if self._state == LIVE else max(0.0, self._clock() - self._trouble_since)

    @property
    def permanent_fault(self) -> bool:
        """Not live for longer than `restart_limit_s`: only a new process may help."""
        return (
            self.restart_limit_s > 0
            and self._state != LIVE
            and not self._stopped
            and self._clock() - self._trouble_since > self.restart_limit_s
        )

    def check_permanent_fault(self) -> None:
        """Exit for systemd when `permanent_fault` (call from the frame loop, main thread)."""
        if self.permanent_fault:
            log.error(
                "camera: not live for %.0f s (%s); exiting with code %d so the kiosk is restarted",
                self._clock() - self._trouble_since,
                self._fault or "no frames",
                EXIT_CAMERA_STUCK,
            )
            raise SystemExit(EXIT_CAMERA_STUCK)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open the camera in the background (the first open may take a second on a Pi)."""
        first = self._first
        if first is not None:
            self._spawn(lambda: first.start(), initial=True)
        else:
            self._spawn(self._opener, initial=True)

    def stop(self) -> None:
        self._stopped = True
        cam = self._camera
        if cam is not None:
            try:
                cam.stop()
            except CameraError as exc:
                log.error("camera: %s", exc)

    def frame(self) -> Frame | None:
        """The latest frame; also runs the watchdog check (cheap, call every frame)."""
        cam = self._camera
        frame = cam.latest() if cam is not None else None
        now = self._clock()
        if cam is not None and cam.switching:
            self._last_frame_at = now  # a mode switch: no frames expected meanwhile
        if frame is not None and frame.seq != self._last_seq:
            self._last_seq = frame.seq
            self._last_frame_at = now
            self._stalls = 0
            if self._state != LIVE and not self._restarting:
                log.info("camera: live (%s)", cam.name if cam else "?")
                self._set_state(LIVE, None)
        elif not self._restarting and not self._stopped:
            waited = now - max(self._last_frame_at, self._since)
            if waited > self.frame_timeout_s:
                why = f"no frame for {waited:.1f} s"
                if cam is not None and cam.last_error:
                    why += f" ({cam.last_error})"
                log.warning("camera: %s; restarting", why)
                self._set_state(RECONNECTING, why)
                self._stalls += 1
                self._spawn(self._opener)
        return frame

    def set_view(self, view: View | None) -> None:
        """The screen the frames are for: the camera built around (`around`) and the one
        running now get it (an opener that builds cameras gets it itself: `camera_watchdog`)."""
        for cam in {id(c): c for c in (self._first, self._camera) if c is not None}.values():
            cam.set_view(view)

    def pace(self, fps: float) -> None:
        """At most `fps` preview frames a second from now on, from this camera and the next
        (never below what the stall check needs)."""
        fps = max(fps, 2.0 / self.frame_timeout_s) if fps > 0 else 0.0
        if fps == self._fps:
            return
        self._fps = fps
        cam = self._camera
        if cam is not None:
            cam.pace(fps)

    def prepare_still(self) -> None:
        """The countdown started: let the camera get ready for the shot (never blocks)."""
        cam = self._camera
        if cam is not None and self._state == LIVE:
            cam.prepare_still()

    def capture_still(self):
        cam = self._camera
        if cam is None:
            raise CameraError("camera not running")
        return cam.capture_still()

    # ------------------------------------------------------------------ internals
    def _set_state(self, state: str, fault: str | None) -> None:
        if state != LIVE and self._state == LIVE:
            self._trouble_since = self._clock()
        changed = state != self._state or fault != self._fault
        self._state = state
        if fault is not None or state == LIVE:
            self._fault = fault
        if changed:
            self._report()

    def _report(self) -> None:
        if self._health is None:
            return
        cam = self._camera
        live = self._state == LIVE
        self._health.publish(
            CameraHealth(
                pid=os.getpid(),
                boot_id=boot_id(),
                state=self._state,
                backend=cam.name if cam is not None else None,
                fault=self.fault,
                trouble_s=0.0 if live else round(self._clock() - self._trouble_since, 1),
                restarts=self.restarts,
            )
        )

    def _open_failed(self, exc: Exception) -> None:
        why = str(exc)
        if why != self._logged_fault:  # once per distinct reason, not every retry
            self._logged_fault = why
            log.error('camera: cannot open: %s; retrying (guests see "Camera reconnecting…")', why)
        else:
            log.info("camera: still cannot open: %s", why)
        self._set_state(RECONNECTING, f"cannot open: {why}")

    def _spawn(self, opener: Callable[[], Camera], initial: bool = False) -> None:
        with self._lock:
            if self._restarting:
                return
            self._restarting = True
        threading.Thread(
            target=self._restart, args=(opener, initial), name="cam-restart", daemon=True
        ).start()

    def _restart(self, opener: Callable[[], Camera], initial: bool) -> None:
        delay = self.backoff_min
        try:
            if not initial and self._stalls > 1:
                # Restarted before and still no frame: back off before touching the device again.
                time.sleep(min(self.backoff_max, self.backoff_min * 2 ** (self._stalls - 2)))
            while not self._stopped:
                if not initial:
                    old = self._camera
                    if old is not None and self._first is None:
                        self._camera = None
                        try:
                            old.stop()
                        except CameraError as exc:
                            log.error("camera: %s", exc)
                            self._set_state(RECONNECTING, str(exc))
                        except Exception:
                            log.exception("camera: stop failed")
                try:
                    cam = opener()
                    cam.pace(self._fps)
                    self._camera = cam
                    self._logged_fault = None
                    if not initial:
                        self.restarts += 1
                    return
                except Exception as exc:
                    self._open_failed(exc)
                    initial = False
                    time.sleep(delay)
                    delay = min(self.backoff_max, delay * 2)
        finally:
            self._since = self._clock()
            with self._lock:
                self._restarting = False
