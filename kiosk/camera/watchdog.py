"""Keeps a camera alive: no frame for `frame_timeout_s` → restart it with backoff, off the main thread.

The frame loop asks `state` each frame (never blocks): `live`, `reconnecting` (show the
"Camera reconnecting…" screen) or `starting`. A camera fault never reaches the process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kiosk.camera.base import Camera, CameraError, Frame

log = logging.getLogger(__name__)

LIVE = "live"
STARTING = "starting"
RECONNECTING = "reconnecting"


class CameraWatchdog:
    def __init__(self, opener: Callable[[], Camera], frame_timeout_s: float = 2.0,
                 backoff_s: tuple[float, float] = (0.5, 10.0),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._opener = opener
        self.frame_timeout_s = frame_timeout_s
        self.backoff_min, self.backoff_max = backoff_s
        self._clock = clock
        self._camera: Camera | None = None
        self._state = STARTING
        self._lock = threading.Lock()
        self._restarting = False
        self._since = clock()  # start of the current state (frame timeout counts from here)
        self._last_seq = -1
        self._last_frame_at = clock()
        self.restarts = 0
        self._stalls = 0  # restarts in a row without a frame in between (drives the backoff)
        self._stopped = False

    @classmethod
    def around(cls, camera: Camera, frame_timeout_s: float = 2.0, **kw) -> "CameraWatchdog":
        """Watch an already built camera (restarts call stop()/start() on the same object)."""
        def reopen() -> Camera:
            camera.stop()
            return camera.start()
        dog = cls(reopen, frame_timeout_s, **kw)
        dog._first = camera
        return dog

    @property
    def camera(self) -> Camera | None:
        return self._camera

    @property
    def state(self) -> str:
        return self._state

    def start(self) -> None:
        """Open the camera in the background (the first open may take a second on a Pi)."""
        first = getattr(self, "_first", None)
        if first is not None:
            self._spawn(lambda: first.start(), initial=True)
        else:
            self._spawn(self._opener, initial=True)

    def stop(self) -> None:
        self._stopped = True
        cam = self._camera
        if cam is not None:
            cam.stop()

    def frame(self) -> Frame | None:
        """The latest frame; also runs the watchdog check (cheap, call every frame)."""
        cam = self._camera
        frame = cam.latest() if cam is not None else None
        now = self._clock()
        if frame is not None and frame.seq != self._last_seq:
            self._last_seq = frame.seq
            self._last_frame_at = now
            self._stalls = 0
            if self._state != LIVE and not self._restarting:
                log.info("camera: live (%s)", cam.name if cam else "?")
                self._state = LIVE
        elif not self._restarting and not self._stopped:
            waited = now - max(self._last_frame_at, self._since)
            if waited > self.frame_timeout_s:
                log.warning("camera: no frame for %.1f s; restarting", waited)
                self._state = RECONNECTING
                self._stalls += 1
                self._spawn(self._opener)
        return frame

    def capture_still(self):
        cam = self._camera
        if cam is None:
            raise CameraError("camera not running")
        return cam.capture_still()

    def _spawn(self, opener: Callable[[], Camera], initial: bool = False) -> None:
        with self._lock:
            if self._restarting:
                return
            self._restarting = True
        threading.Thread(target=self._restart, args=(opener, initial), name="cam-restart",
                         daemon=True).start()

    def _restart(self, opener: Callable[[], Camera], initial: bool) -> None:
        delay = self.backoff_min
        try:
            if not initial and self._stalls > 1:
                # Restarted before and still no frame: back off before touching the device again.
                time.sleep(min(self.backoff_max, self.backoff_min * 2 ** (self._stalls - 2)))
            while not self._stopped:
                if not initial:
                    old = self._camera
                    if old is not None and getattr(self, "_first", None) is None:
                        try:
                            old.stop()
                        except Exception:
                            log.exception("camera: stop failed")
                try:
                    cam = opener()
                    self._camera = cam
                    if not initial:
                        self.restarts += 1
                    return
                except Exception as exc:
                    log.warning("camera: open failed (%s); next try in %.1f s", exc, delay)
                    initial = False
                    self._state = RECONNECTING
                    time.sleep(delay)
                    delay = min(self.backoff_max, delay * 2)
        finally:
            self._since = self._clock()
            with self._lock:
                self._restarting = False
