"""Pick the first camera backend that works: `camera.backend = auto|picamera2|opencv|file`."""

from __future__ import annotations

import logging
import time
from typing import Callable

from booth.config import Config
from kiosk.camera.base import Camera, CameraError
from kiosk.camera.filecam import FileCamera
from kiosk.camera.opencv_cam import OpenCvCamera
from kiosk.camera.picam import PiCamera

log = logging.getLogger(__name__)

AUTO_ORDER = ("picamera2", "opencv", "file")
FIRST_FRAME_S = 3.0  # doctor: how long a camera that opened gets to send its first frame


def make_camera(cfg: Config, backend: str) -> Camera:
    size = (cfg.camera.preview_width, cfg.camera.preview_height)
    if backend == "picamera2":
        return PiCamera(size)
    if backend == "opencv":
        return OpenCvCamera(cfg.camera.index, size)
    if backend == "file":
        return FileCamera(cfg.camera.folder or None, size, fps=cfg.kiosk.fps)
    raise CameraError(f"unknown camera backend {backend!r}")


def camera_factories(cfg: Config) -> list[tuple[str, Callable[[], Camera]]]:
    names = AUTO_ORDER if cfg.camera.backend == "auto" else (cfg.camera.backend,)
    return [(n, (lambda n=n: make_camera(cfg, n))) for n in names]


def open_camera(cfg: Config) -> Camera:
    """Start the first backend that opens; CameraError listing every failure when none does."""
    failures = []
    for name, factory in camera_factories(cfg):
        cam = factory()
        try:
            cam.start()
        except CameraError as exc:
            failures.append(f"{name}: {exc}")
            log.info("camera backend %s unavailable: %s", name, exc)
            continue
        log.info("camera: using %s", name)
        return cam
    raise CameraError("no camera backend works (" + "; ".join(failures) + ")")


def doctor_probe(cfg: Config) -> str | None:
    """For `booth doctor`: which *real* camera opens (then closed again), or None.

    With `auto`, the file camera does not count: it is a demo, and a booth that silently falls
    back to it has no camera."""
    names = ("picamera2", "opencv") if cfg.camera.backend == "auto" else (cfg.camera.backend,)
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
            cam.stop()
    return None
