"""The live preview: the camera's latest frame as a mirrored, screen-filling surface.

Converted at most once per new camera frame (the file camera repeats one image: converted once),
with a fast linear resize, and shared with pygame without a copy.
"""

from __future__ import annotations

import cv2
import numpy as np
import pygame

from kiosk.camera import Frame


class Preview:
    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.surface: pygame.Surface | None = None
        self._key: tuple | None = None
        self._src: np.ndarray | None = None
        self._arr: np.ndarray | None = None  # the surface's pixels (frombuffer shares them)

    def update(self, frame: Frame) -> None:
        key = (frame.seq, id(frame.image))
        if key == self._key:
            return
        self._key = key
        img = frame.image
        if self.surface is not None and self._src is img:
            return  # the same image again: nothing to convert
        self._src = img
        w, h = self.size
        ih, iw = img.shape[:2]
        scale = max(w / iw, h / ih)
        nw, nh = max(w, round(iw * scale)), max(h, round(ih * scale))
        resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
        x, y = (nw - w) // 2, (nh - h) // 2
        self._arr = cv2.flip(resized[y : y + h, x : x + w], 1)  # the preview is a mirror
        self.surface = pygame.image.frombuffer(self._arr, (w, h), "RGB")  # type: ignore[arg-type]  # an ndarray is a Buffer: numpy types __buffer__ for Python >= 3.12 only
