"""The one small interface every camera backend implements.

A backend grabs preview frames on its own thread and keeps only the latest one, so the frame loop
never waits on a camera. Frames are RGB numpy arrays (h, w, 3), *not* mirrored: mirroring is a
display concern. `capture_still()` returns the full-resolution shot and may block (call it off the
main thread).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


class CameraError(RuntimeError):
    """A camera that cannot be opened or stopped delivering."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # RGB, (h, w, 3), uint8, C-contiguous
    seq: int
    at: float  # time.monotonic() when it arrived


class Camera:
    """Base class: subclasses implement `_open`, `_grab` (one preview frame) and `_close`."""

    name = "camera"

    def __init__(self, preview_size: tuple[int, int] = (1280, 720)) -> None:
        self.preview_size = preview_size
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

    def _close(self) -> None:
        pass

    def capture_still(self) -> np.ndarray:
        """The full-resolution shot (RGB). Default: the latest preview frame."""
        frame = self.latest()
        if frame is None:
            raise CameraError(f"{self.name}: no frame to capture")
        return frame.image.copy()

    # --------------------------------------------------------------- lifecycle
    def start(self) -> "Camera":
        """Open the device and start the grab thread; raises CameraError if it cannot open."""
        try:
            self._open()
        except CameraError:
            raise
        except Exception as exc:  # drivers raise anything; the caller only needs "did not open"
            raise CameraError(f"{self.name}: {exc}") from exc
        self._running.set()
        self._thread = threading.Thread(target=self._loop, name=f"cam-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=3)
        self._thread = None
        try:
            self._close()
        except Exception:
            log.exception("%s: close failed", self.name)

    def latest(self) -> Frame | None:
        with self._lock:
            return self._frame

    def _publish(self, image: np.ndarray) -> None:
        image = np.ascontiguousarray(image)
        with self._lock:
            self._seq += 1
            self._frame = Frame(image, self._seq, time.monotonic())

    def _loop(self) -> None:
        while self._running.is_set():
            try:
                image = self._grab()
            except Exception as exc:
                # A failing driver must not kill the process; the watchdog sees no new frames.
                self.last_error = str(exc)
                log.warning("%s: frame grab failed: %s", self.name, exc)
                time.sleep(0.2)
                continue
            if image is not None:
                self._publish(image)
