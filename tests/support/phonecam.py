"""A phone camera looking at the booth's screen: what a guest's phone sees from a given distance.

Why: whether a QR code scans from a metre is a question of geometry (how many camera pixels one
module covers) and of what a real camera does to the picture (the sensor integrates light over
its pixels, the lens and hand shake blur, the sensor adds noise, the preview stream is JPEG
compressed). This helper reproduces that chain for a screenshot, so tests can decode the code
the way a phone would and find the distance at which it stops working.

Defaults: a phone's 1080p camera stream with a ~70° horizontal field of view (a typical main
camera: 26 mm equivalent focal length), pointed at the middle of the Raspberry Pi 7"
touchscreen (800×480 pixels on an active area of 154.2 × 85.9 mm — its pixels are not square).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Panel:
    """A screen: its pixels and the physical size of its active area."""

    width_px: int = 800
    height_px: int = 480
    width_mm: float = 154.2
    height_mm: float = 85.9
    bezel_mm: float = 12.0


PI_7_INCH = Panel()


@dataclass(frozen=True)
class PhoneCamera:
    width: int = 1920
    height: int = 1080
    hfov_deg: float = 70.0
    blur_sigma: float = 0.8      # camera pixels: lens, focus and a steady hand ("slight")
    noise_sigma: float = 3.0     # grey levels of sensor noise
    jpeg_quality: int = 80       # the preview stream's compression
    black: int = 28              # a lit screen's black is not black on camera (glare) …
    white: int = 232             # … and its white is exposed below clipping
    room: int = 70               # the grey of the room around the booth

    def px_per_mm(self, distance_mm: float) -> float:
        """Camera pixels per millimetre of a plane `distance_mm` in front of the lens."""
        return self.width / (2 * distance_mm * math.tan(math.radians(self.hfov_deg) / 2))


PHONE_1080P = PhoneCamera()


def photograph(screen_rgb: np.ndarray, distance_mm: float, panel: Panel = PI_7_INCH,
               camera: PhoneCamera = PHONE_1080P, aim: tuple[float, float] = (0.5, 0.5),
               seed: int = 0) -> np.ndarray:
    """The camera frame (BGR, camera.width × camera.height) of `screen_rgb` seen from
    `distance_mm`, with the camera aimed at `aim` (fractions of the screen's width and height).

    `screen_rgb` is a screenshot at the panel's resolution (H×W×3, RGB as pygame gives it).
    """
    h, w = screen_rgb.shape[:2]
    if (w, h) != (panel.width_px, panel.height_px):
        raise ValueError(f"the screenshot is {w}×{h}; the panel is "
                         f"{panel.width_px}×{panel.height_px}")
    k = camera.px_per_mm(distance_mm)
    sx = panel.width_mm / panel.width_px * k     # camera pixels per screen pixel, across
    sy = panel.height_mm / panel.height_px * k   # … and down (the pixels are not square)
    out_w, out_h = max(1, round(w * sx)), max(1, round(h * sy))
    # The sensor integrates the light falling on each of its pixels: an area average.
    img = cv2.cvtColor(np.ascontiguousarray(screen_rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    shown = cv2.resize(img, (out_w, out_h), interpolation=cv2.INTER_AREA)
    shown = camera.black + shown * ((camera.white - camera.black) / 255.0)

    frame = np.full((camera.height, camera.width), float(camera.room), np.float32)
    bezel = round(panel.bezel_mm * k)
    x0 = round(camera.width / 2 - aim[0] * out_w)
    y0 = round(camera.height / 2 - aim[1] * out_h)
    _paste(frame, np.full((out_h + 2 * bezel, out_w + 2 * bezel), 12.0, np.float32),
           x0 - bezel, y0 - bezel)
    _paste(frame, shown, x0, y0)

    frame = cv2.GaussianBlur(frame, (0, 0), camera.blur_sigma)
    rng = np.random.default_rng(seed)
    frame += rng.normal(0.0, camera.noise_sigma, frame.shape).astype(np.float32)
    gray = np.clip(frame, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)


def _paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    h, w = src.shape[:2]
    H, W = dst.shape[:2]
    xa, ya, xb, yb = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if xb > xa and yb > ya:
        dst[ya:yb, xa:xb] = src[ya - y:yb - y, xa - x:xb - x]


def decode(frame_bgr: np.ndarray) -> str:
    """What OpenCV's QRCodeDetector reads in a camera frame ('' when nothing)."""
    text, _pts, _ = cv2.QRCodeDetector().detectAndDecode(frame_bgr)
    return text or ""


def decodes_at(screen_rgb: np.ndarray, distance_mm: float, expected: str,
               panel: Panel = PI_7_INCH, camera: PhoneCamera = PHONE_1080P,
               aim: tuple[float, float] = (0.5, 0.5), seeds: tuple[int, ...] = (0, 1, 2)
               ) -> bool:
    """True when every one of a few noisy frames (different noise) decodes to `expected`."""
    return all(decode(photograph(screen_rgb, distance_mm, panel, camera, aim, seed)) == expected
               for seed in seeds)


def farthest_decode(screen_rgb: np.ndarray, expected: str, aim: tuple[float, float],
                    start_mm: float = 300, stop_mm: float = 2500, step_mm: float = 50,
                    panel: Panel = PI_7_INCH, camera: PhoneCamera = PHONE_1080P) -> float:
    """The largest distance (in `step_mm` steps from `start_mm`) at which the code still decodes
    at every step on the way out; 0 if it does not decode at `start_mm`."""
    best = 0.0
    d = start_mm
    while d <= stop_mm:
        if not decodes_at(screen_rgb, d, expected, panel, camera, aim):
            break
        best = d
        d += step_mm
    return best
