"""A camera that loops the photos of a folder: demos, `booth up --headless`, tests and benchmarks.

Each photo is shown for `hold_s` seconds, delivered at `fps` like a live stream. The full-resolution
decode (BGR) is kept so `capture_still()` is instant, like a real sensor's still, and the preview
frame is made once per photo (and again when the view changes), not once per frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from kiosk.camera.base import Camera, CameraError, View

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


class FileCamera(Camera):
    name = "file"

    def __init__(
        self,
        folder: str | Path | None = None,
        preview_size: tuple[int, int] = (1280, 720),
        fps: float = 30.0,
        hold_s: float = 4.0,
        rotation: int = 0,
        view: View | None = None,
    ) -> None:
        super().__init__(preview_size, rotation, view)
        self.folder = Path(folder) if folder else SAMPLES
        self.fps = fps
        self.hold_s = hold_s
        self._images: list[Path] = []
        self._index = -1
        self._full: np.ndarray | None = None
        self._preview: np.ndarray | None = None
        self._shown_at = 0.0
        self._next = 0.0
        self.paused = False  # tests: a camera that stops delivering frames

    def _open(self) -> None:
        if not self.folder.is_dir():
            raise CameraError(f"file camera: folder {self.folder} does not exist")
        self._images = list_images(self.folder)
        if not self._images:
            raise CameraError(f"file camera: no JPEG/PNG photos in {self.folder}")
        self._index = -1
        self._advance()

    def _advance(self) -> None:
        for _ in range(len(self._images)):
            self._index = (self._index + 1) % len(self._images)
            bgr = cv2.imread(str(self._images[self._index]), cv2.IMREAD_COLOR)
            if bgr is not None:
                # the whole photo, like a sensor's full field of view: the preview is cropped
                # to the screen exactly as the pipeline crops the still (kiosk/jobs/capture.py)
                preview = self._preview_from_bgr(bgr)
                with self._lock:
                    self._full = bgr
                    self._preview = preview
                self._shown_at = time.monotonic()
                return
        raise CameraError(f"file camera: none of the photos in {self.folder} can be decoded")

    def set_view(self, view: View | None) -> None:
        super().set_view(view)
        with self._lock:
            full = self._full
        if full is not None:
            preview = self._preview_from_bgr(full)
            with self._lock:
                self._preview = preview

    def _grab(self) -> np.ndarray | None:
        now = time.monotonic()
        if self._next > now:
            time.sleep(min(self._next - now, 0.1))
            return None
        self._next = max(self._next + 1.0 / self.fps, now)
        if self.paused:
            return None
        if len(self._images) > 1 and now - self._shown_at >= self.hold_s:
            self._advance()
        with self._lock:
            return self._preview

    def _still(self) -> np.ndarray:
        with self._lock:
            still = self._full
        if still is None:
            raise CameraError("file camera: not started")
        return still.copy()  # a sensor's still is a fresh buffer too
