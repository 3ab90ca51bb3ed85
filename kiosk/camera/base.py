"""The one small interface every camera backend implements.

A backend grabs preview frames on its own thread and keeps only the latest one, so the frame loop
never waits on a camera. Frames are RGB numpy arrays (h, w, 3), *not* mirrored: mirroring is a
display concern, and so is fitting the frame to the screen. `capture_still()` returns the
full-resolution shot and may block (call it off the main thread).

`camera.rotation` (a camera mounted sideways or upside down) is applied here, to preview frames
and stills alike, unless a backend does it in hardware (`_hw_rotation`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

ROTATIONS = (0, 90, 180, 270)
_CV_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class CameraError(RuntimeError):
    """A camera that cannot be opened or stopped delivering."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # RGB, (h, w, 3), uint8, C-contiguous
    seq: int
    at: float  # time.monotonic() when it arrived


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by 0/90/180/270 degrees (a contiguous copy unless 0)."""
    if degrees % 360 == 0:
        return image
    return cv2.rotate(image, _CV_ROTATE[degrees % 360])


class Camera:
    """Base class: subclasses implement `_open`, `_grab` (one preview frame), `_still` and
    `_close`; `_interrupt` releases a grab blocked in the driver before the thread is joined."""

    name = "camera"

    def __init__(self, preview_size: tuple[int, int] = (1280, 720), rotation: int = 0) -> None:
        if rotation % 360 not in ROTATIONS:
            raise CameraError(f"camera rotation must be one of {ROTATIONS}, not {rotation}")
        self.preview_size = preview_size
        self.rotation = rotation % 360
        self._hw_rotation = 0  # the part of `rotation` the backend's hardware already applies
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self.last_error: str | None = None

    # --------------------------------------------------------------- subclass hooks
    def _open(self) -> None:
        raise NotImplementedError

    def _grab(self) -> np.ndarray | None:
        """One preview frame (RGB) or None when none is ready yet; may block briefly."""
        raise NotImplementedError

    def _still(self) -> np.ndarray:
        """The full-resolution shot (RGB), before rotation. Default: the latest preview frame
        (already rotated, so it is rotated back first)."""
        frame = self.latest()
        if frame is None:
            raise CameraError(f"{self.name}: no frame to capture")
        return rotate(frame.image, (self._hw_rotation - self.rotation) % 360)

    def _interrupt(self) -> None:
        pass

    def _close(self) -> None:
        pass

    # --------------------------------------------------------------- shutter
    @property
    def switching(self) -> bool:
        """True while the backend changes mode (no frames expected: the watchdog waits)."""
        return False

    def prepare_still(self) -> None:
        """The countdown started: get ready for `capture_still()` without blocking the caller."""

    def capture_still(self) -> np.ndarray:
        """The full-resolution shot (RGB), rotated like the preview. May block: call it off the
        main thread."""
        return rotate(self._still(), (self.rotation - self._hw_rotation) % 360)

    # --------------------------------------------------------------- lifecycle
    def start(self) -> Camera:
        """Open the device and start the grab thread; raises CameraError if it cannot open."""
        try:
            self._open()
        except CameraError:
            raise
        except Exception as exc:  # drivers raise anything; the caller only needs "did not open"
            raise CameraError(f"{self.name}: {exc}") from exc
        self.last_error = None
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name=f"cam-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        try:
            self._interrupt()
        except Exception:
            log.exception("%s: interrupt failed", self.name)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=3)
        self._thread = None
        self._close()  # CameraError when the driver does not let go (the watchdog logs it)

    def latest(self) -> Frame | None:
        with self._lock:
            return self._frame

    def _publish(self, image: np.ndarray) -> None:
        turn = (self.rotation - self._hw_rotation) % 360
        image = np.ascontiguousarray(rotate(image, turn))
        with self._lock:
            self._seq += 1
            self._frame = Frame(image, self._seq, time.monotonic())

    def _loop(self) -> None:
        while self._running.is_set():
            try:
                image = self._grab()
            except Exception as exc:
                if not self._running.is_set():
                    return  # stopping: the driver was interrupted on purpose
                # A failing driver must not kill the process; the watchdog sees no new frames.
                self.last_error = str(exc)
                log.warning("%s: frame grab failed: %s", self.name, exc)
                time.sleep(0.2)
                continue
            if image is not None:
                self._publish(image)
