"""The one small interface every camera backend implements.

A backend grabs preview frames on its own thread and keeps only the latest one, so the frame loop
never waits on a camera. A backend given a `View` (the screen's size, mirrored, the screen's
pixel layout) hands over frames ready to blit: cover-cropped and scaled to the screen, mirrored,
in the display surface's byte order, so the frame loop does no conversion, no resize and no
mirroring (picamera2 gets all three from the ISP; the file and OpenCV cameras do them on their
own thread, `fit_view`). Without a view (`booth doctor`, tools) frames are RGB at
`preview_size`, not mirrored. `capture_still()` returns the full-resolution shot in BGR order
(what OpenCV's encoders take, and what every backend produces natively) and may block: call it
off the main thread.

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

from booth.images import fit_inside

log = logging.getLogger(__name__)

ROTATIONS = (0, 90, 180, 270)
_CV_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}

# Pixel layouts by memory order. BGRX is what a 32-bit display surface with the usual masks
# (SDL's XRGB8888 on a little-endian machine: KMSDRM on a Pi, X11, the dummy driver) holds, and
# what picamera2 calls XRGB8888; RGBX is XBGR8888; RGB is the fallback a 24-bit or odd display
# gets (SDL converts it at the blit).
BGRX, RGBX, RGB = "BGRX", "RGBX", "RGB"
LAYOUTS = (BGRX, RGBX, RGB)
_FROM_BGR = {BGRX: cv2.COLOR_BGR2BGRA, RGBX: cv2.COLOR_BGR2RGBA, RGB: cv2.COLOR_BGR2RGB}


class CameraError(RuntimeError):
    """A camera that cannot be opened or stopped delivering."""


@dataclass(frozen=True)
class View:
    """How the screen shows the preview, so a camera can hand over frames ready to blit."""

    size: tuple[int, int]  # (w, h) of the screen
    mirror: bool = True  # a guest expects a mirror
    layout: str = BGRX  # the display surface's pixel layout (one of LAYOUTS)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown pixel layout {self.layout!r}")

    @property
    def channels(self) -> int:
        return 3 if self.layout == RGB else 4


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # (h, w, 3 or 4) uint8, C-contiguous, in `layout`
    seq: int
    at: float  # time.monotonic() when it arrived
    layout: str = RGB
    mirrored: bool = False


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by 0/90/180/270 degrees (a contiguous copy unless 0)."""
    if degrees % 360 == 0:
        return image
    return cv2.rotate(image, _CV_ROTATE[degrees % 360])


def cover_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The largest centred part of `image` with the aspect ratio of `size` (w, h): a view. The
    still is cropped by the same rule (kiosk/jobs/capture.py `crop_to_aspect`), so the guest
    gets the framing they saw."""
    h, w = image.shape[:2]
    tw, th = size
    if w * th > h * tw:  # too wide
        nw = max(1, round(h * tw / th))
        x = (w - nw) // 2
        return image[:, x : x + nw]
    nh = max(1, round(w * th / tw))
    y = (h - nh) // 2
    return image[y : y + nh]


def fit_view(bgr: np.ndarray, view: View) -> np.ndarray:
    """A BGR picture (already rotated) as a preview frame for `view`: cropped to the screen's
    aspect ratio (the framing the still gets, kiosk/jobs/capture.py), scaled to the screen,
    mirrored, in the screen's layout. Three passes at screen size, on the camera's thread."""
    crop = cover_crop(bgr, view.size)
    shrinking = crop.shape[1] > view.size[0]
    scaled = cv2.resize(
        crop, view.size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    if view.mirror:
        scaled = cv2.flip(scaled, 1)
    return np.ascontiguousarray(cv2.cvtColor(scaled, _FROM_BGR[view.layout]))


class Camera:
    """Base class: subclasses implement `_open`, `_grab` (one preview frame), `_still` and
    `_close`; `_interrupt` releases a grab blocked in the driver before the thread is joined."""

    name = "camera"

    def __init__(
        self,
        preview_size: tuple[int, int] = (1280, 720),
        rotation: int = 0,
        view: View | None = None,
    ) -> None:
        if rotation % 360 not in ROTATIONS:
            raise CameraError(f"camera rotation must be one of {ROTATIONS}, not {rotation}")
        self.preview_size = preview_size
        self.rotation = rotation % 360
        self.view = view
        self._hw_rotation = 0  # the part of `rotation` the backend's hardware already applies
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._interval = 0.0  # seconds between preview frames handed over (0: as they come)
        self._due = 0.0
        self.last_error: str | None = None

    # --------------------------------------------------------------- subclass hooks
    def _open(self) -> None:
        raise NotImplementedError

    def _grab(self) -> np.ndarray | None:
        """One preview frame as handed over (rotated; with a view ready for the screen, else
        RGB), or None when none is ready yet; may block briefly."""
        raise NotImplementedError

    def _still(self) -> np.ndarray:
        """The full-resolution shot (BGR), before rotation."""
        raise NotImplementedError

    def _interrupt(self) -> None:
        pass

    def _close(self) -> None:
        pass

    # --------------------------------------------------------------- what the screen asks
    def set_view(self, view: View | None) -> None:
        """Frames from now on for this view (a backend that needs a restart for it overrides)."""
        self.view = view

    def pace(self, fps: float) -> None:
        """Hand over at most `fps` preview frames a second (0: every frame the camera makes).

        The frame loop shows fewer frames when nobody is at the screen; a frame it would not
        show is then not copied out of the camera at all."""
        self._interval = 1.0 / fps if fps > 0 else 0.0
        self._due = min(self._due, time.monotonic() + self._interval)  # a faster pace: now

    # --------------------------------------------------------------- shutter
    @property
    def switching(self) -> bool:
        """True while the backend changes mode (no frames expected: the watchdog waits)."""
        return False

    def prepare_still(self) -> None:
        """The countdown started: get ready for `capture_still()` without blocking the caller."""

    def capture_still(self) -> np.ndarray:
        """The full-resolution shot (BGR), rotated like the preview, not mirrored. May block:
        call it off the main thread."""
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

    def _software_turn(self) -> int:
        """The part of `rotation` left to software (the ISP cannot transpose)."""
        return (self.rotation - self._hw_rotation) % 360

    def _preview_from_bgr(self, bgr: np.ndarray) -> np.ndarray:
        """A software camera's preview frame from a BGR picture: rotated, then ready for the
        view (`fit_view`), or RGB inside `preview_size` without one."""
        turned = rotate(bgr, self._software_turn())
        if self.view is None:
            return cv2.cvtColor(fit_inside(turned, self.preview_size), cv2.COLOR_BGR2RGB)
        return fit_view(turned, self.view)

    def _publish(self, image: np.ndarray) -> None:
        view = self.view
        image = np.ascontiguousarray(image)
        with self._lock:
            self._seq += 1
            self._frame = Frame(
                image,
                self._seq,
                time.monotonic(),
                view.layout if view is not None else RGB,
                view.mirror if view is not None else False,
            )

    def _loop(self) -> None:
        while self._running.is_set():
            wait = self._due - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.1))  # paced: this frame would not be shown
                continue
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
                if self._interval:
                    self._due = max(self._due + self._interval, time.monotonic() - self._interval)
