"""The Raspberry Pi camera through picamera2 (imported lazily: it exists only on Raspberry Pi OS).

Preview stream at display size in format BGR888, whose arrays are R,G,B (picamera2 names formats
by memory order, the reverse of numpy's channel order) — exactly what pygame wants. The full
resolution still comes from a mode switch (`switch_mode_and_capture_array`).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from kiosk.camera.base import Camera, CameraError

PREVIEW_FORMAT = "BGR888"  # arrays come out R,G,B


def _default_factory() -> Any:
    from picamera2 import Picamera2  # type: ignore[import-not-found]

    return Picamera2()


class PiCamera(Camera):
    name = "picamera2"

    def __init__(self, preview_size: tuple[int, int] = (1280, 720),
                 factory: Callable[[], Any] | None = None) -> None:
        super().__init__(preview_size)
        self._factory = factory or _default_factory
        self._cam: Any = None
        self._still_config: Any = None
        self._io = threading.Lock()  # capture_array and the still's mode switch never overlap

    def _open(self) -> None:
        try:
            cam = self._factory()
        except ImportError as exc:
            raise CameraError("picamera2 is not installed (Raspberry Pi OS only)") from exc
        except Exception as exc:
            raise CameraError(f"picamera2: no camera: {exc}") from exc
        try:
            preview = cam.create_preview_configuration(
                main={"size": tuple(self.preview_size), "format": PREVIEW_FORMAT})
            self._still_config = cam.create_still_configuration(main={"format": PREVIEW_FORMAT})
            cam.configure(preview)
            cam.start()
        except Exception as exc:
            try:
                cam.close()
            except Exception:
                pass
            raise CameraError(f"picamera2: cannot start: {exc}") from exc
        self._cam = cam

    def _grab(self) -> np.ndarray | None:
        cam = self._cam
        if cam is None:
            return None
        with self._io:
            array = cam.capture_array()
        return _rgb(array)

    def capture_still(self) -> np.ndarray:
        cam = self._cam
        if cam is None:
            raise CameraError("picamera2: not started")
        with self._io:
            array = cam.switch_mode_and_capture_array(self._still_config)
        return _rgb(array)

    def _close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            for method in ("stop", "close"):
                try:
                    getattr(cam, method)()
                except Exception:
                    pass


def _rgb(array: np.ndarray) -> np.ndarray:
    """Drop a padding/alpha channel if the driver hands out 4 channels (XBGR8888)."""
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)
