"""A USB webcam through OpenCV's VideoCapture (by index). OpenCV delivers BGR, which is what the
still is; the preview frame is made from it on the camera's thread (`fit_view`).

A webcam has no separate still mode: the latest full frame is the shot.
"""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.camera.base import Camera, CameraError, View


class OpenCvCamera(Camera):
    name = "opencv"

    def __init__(
        self,
        index: int = 0,
        preview_size: tuple[int, int] = (1280, 720),
        rotation: int = 0,
        view: View | None = None,
    ) -> None:
        super().__init__(preview_size, rotation, view)
        self.index = index
        self._cap: cv2.VideoCapture | None = None
        self._raw: np.ndarray | None = None  # the latest full frame (BGR), the still's source

    def _open(self) -> None:
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"opencv: no webcam at index {self.index}")
        size = self.view.size if self.view is not None else self.preview_size
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise CameraError(f"opencv: webcam {self.index} opened but delivers no frames")
        self._cap = cap

    def _grab(self) -> np.ndarray | None:
        cap = self._cap
        if cap is None:
            return None
        ok, frame = cap.read()  # blocks until the next frame (the webcam paces us)
        if not ok or frame is None:
            raise CameraError(f"opencv: webcam {self.index} stopped delivering frames")
        with self._lock:
            self._raw = frame
        return self._preview_from_bgr(frame)

    def _still(self) -> np.ndarray:
        with self._lock:
            raw = self._raw
        if raw is None:
            raise CameraError(f"{self.name}: no frame to capture")
        return raw.copy()

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
