"""The live preview: the camera's latest frame as a screen-filling surface, without a copy.

The camera is asked for frames made for this screen (`view`: its size, mirrored, the display
surface's pixel layout; kiosk/camera/base.py), so a frame becomes a surface by
`pygame.image.frombuffer` over the camera's own array — no conversion, resize, mirroring or copy
on the frame loop — and the one blit that puts it on the screen copies it like-for-like. A
frame that was not made for this view (a camera that cannot, or frames from before the view was
set) is converted here, the slow way, so the screen is always right.
"""

from __future__ import annotations

import cv2
import numpy as np
import pygame

from kiosk.camera import Frame
from kiosk.camera.base import BGRX, RGB, RGBX, View, fit_view

# pygame's name for each layout's bytes (a "BGRA" surface is made opaque: X is not alpha)
_FROMBUFFER = {BGRX: "BGRA", RGBX: "RGBX", RGB: "RGB"}
_TO_BGR = {BGRX: cv2.COLOR_BGRA2BGR, RGBX: cv2.COLOR_RGBA2BGR, RGB: cv2.COLOR_RGB2BGR}


def display_layout(surface: pygame.Surface | None) -> str:
    """The pixel layout a frame must have to be blitted onto `surface` like-for-like."""
    if surface is not None and surface.get_bytesize() == 4:
        masks = tuple(surface.get_masks()[:3])
        if masks == (0xFF0000, 0xFF00, 0xFF):
            return BGRX
        if masks == (0xFF, 0xFF00, 0xFF0000):
            return RGBX
    return RGB


class Preview:
    def __init__(self, size: tuple[int, int], layout: str | None = None) -> None:
        self.size = size
        self.view = View(size, True, layout or display_layout(pygame.display.get_surface()))
        self.surface: pygame.Surface | None = None
        self.converted = 0  # frames that needed the slow path (none with a camera that obeys)
        self._key: tuple[int, int] | None = None
        self._arr: np.ndarray | None = None  # the surface's pixels (frombuffer shares them)

    def update(self, frame: Frame) -> None:
        key = (frame.seq, id(frame.image))
        if key == self._key:
            return
        self._key = key
        img = frame.image
        if img is self._arr and self.surface is not None:
            return  # the same array again (the file camera repeats one): nothing to do
        view = self.view
        ready = (
            frame.layout == view.layout
            and frame.mirrored == view.mirror
            and (img.shape[1], img.shape[0]) == view.size
            and img.flags.c_contiguous
        )
        arr = img if ready else self._convert(frame)
        surface = pygame.image.frombuffer(arr, view.size, _FROMBUFFER[view.layout])  # type: ignore[arg-type]  # an ndarray is a Buffer: numpy types __buffer__ for Python >= 3.12 only
        if view.layout == BGRX:
            surface.set_alpha(None)  # opaque: a plain copy at the blit
        self._arr, self.surface = arr, surface

    def _convert(self, frame: Frame) -> np.ndarray:
        """The slow path: any frame to this view (crop, scale, mirror, channels)."""
        self.converted += 1
        img = frame.image
        bgr = cv2.cvtColor(img, _TO_BGR[frame.layout])
        if frame.mirrored:
            bgr = cv2.flip(bgr, 1)
        return fit_view(bgr, self.view)
