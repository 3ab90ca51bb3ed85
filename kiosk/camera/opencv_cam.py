"""A USB webcam through OpenCV's VideoCapture (by index). OpenCV delivers BGR; we hand out RGB.

A webcam has no separate still mode: the latest full frame is the shot (the base class default).
"""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.camera.base import Camera, CameraError


class OpenCvCamera(Camera):
    name = "opencv"

    def __init__(
        self, index: int = 0, preview_size: tuple[int, int] = (1280, 720), rotation: int = 0
    ) -> None:
        super().__init__(preview_size, rotation)
        self.index = index
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> None:
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"opencv: no webcam at index {self.index}")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.preview_size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.preview_size[1])
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
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
