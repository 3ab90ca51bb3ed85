"""Pick the first camera backend that works: `camera.backend = auto|picamera2|opencv|file`.

`auto` means a *real* camera: picamera2, then an OpenCV webcam. It never falls back to the file
camera — a booth whose camera fails must not show guests the sample photos; it shows "Camera
reconnecting…" and keeps trying (kiosk/camera/watchdog.py) while the reason is logged at ERROR.
The file camera is used only when asked for: `camera.backend = "file"`, `--folder`, `--headless`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from booth.config import Config
from kiosk.camera.base import Camera, CameraError, View
from kiosk.camera.filecam import FileCamera
from kiosk.camera.opencv_cam import OpenCvCamera
from kiosk.camera.picam import PiCamera
from kiosk.camera.statefile import HealthWriter, health_path
from kiosk.camera.watchdog import CameraWatchdog

log = logging.getLogger(__name__)

AUTO_ORDER = ("picamera2", "opencv")  # real cameras only
FIRST_FRAME_S = 3.0  # doctor: how long a camera that opened gets to send its first frame


def make_camera(cfg: Config, backend: str, view: View | None = None) -> Camera:
    """A backend; with `view` (the kiosk's screen) its frames come ready to blit."""
    c = cfg.camera
    size = (c.preview_width, c.preview_height)
    if backend == "picamera2":
        return PiCamera(size, c.rotation, frame_timeout_s=c.frame_timeout_s, view=view)
    if backend == "opencv":
        return OpenCvCamera(c.index, size, c.rotation, view=view)
    if backend == "file":
        return FileCamera(c.folder or None, size, fps=cfg.kiosk.fps, rotation=c.rotation, view=view)
    raise CameraError(f"unknown camera backend {backend!r}")


def camera_factories(
    cfg: Config, view: View | None = None
) -> list[tuple[str, Callable[[], Camera]]]:
    names = AUTO_ORDER if cfg.camera.backend == "auto" else (cfg.camera.backend,)
    return [(n, functools.partial(make_camera, cfg, n, view)) for n in names]


def open_camera(cfg: Config, view: View | None = None) -> Camera:
    """Start the first backend that opens; CameraError listing every failure when none does
    (the watchdog logs it at ERROR and tries again)."""
    failures = []
    for name, factory in camera_factories(cfg, view):
        cam = factory()
        try:
            cam.start()
        except CameraError as exc:
            text = str(exc)
            failures.append(text if text.startswith(name) else f"{name}: {text}")
            log.debug("camera backend %s unavailable: %s", name, exc)
            continue
        log.info("camera: using %s", name)
        return cam
    raise CameraError("no camera works (" + "; ".join(failures) + ")")


def camera_watchdog(
    cfg: Config, clock: Callable[[], float] = time.monotonic, view: View | None = None
) -> CameraWatchdog:
    """The kiosk's camera: the configured backend behind a watchdog that reopens it, exits
    after `camera.restart_limit_s` without a live camera, and writes the health file. `view`:
    the screen the frames are made for (every camera it opens is opened for it)."""
    return CameraWatchdog(
        lambda: open_camera(cfg, view),
        cfg.camera.frame_timeout_s,
        clock=clock,
        restart_limit_s=cfg.camera.restart_limit_s,
        health=HealthWriter(health_path(cfg.data_dir)),
    )


def doctor_probe(cfg: Config) -> str | None:
    """For `booth doctor`: which camera opens (then closed again), or None."""
    names = AUTO_ORDER if cfg.camera.backend == "auto" else (cfg.camera.backend,)
    for name in names:
        cam = make_camera(cfg, name)
        try:
            cam.start()
        except CameraError:
            continue
        try:
            end = time.monotonic() + FIRST_FRAME_S
            while cam.latest() is None and time.monotonic() < end:
                time.sleep(0.05)
            if cam.latest() is None:
                return f"camera backend {cam.name} opens but sent no frame in {FIRST_FRAME_S:g} s"
            return f"camera backend {cam.name} opens and delivers frames"
        finally:
            try:
                cam.stop()
            except CameraError:
                pass
    return None
