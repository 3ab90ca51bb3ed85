"""What a phone's QR scanner sees of the booth screen from a distance, for tests that say a code
on a screenshot "scans at 0.7 m".

The model: the screen's physical width from its diagonal and pixel size; the phone's main camera
with a 69° horizontal field of view (a 26 mm-equivalent lens, typical of phones); and, because QR
scanners analyse video frames rather than the 12 MP still, a 1920-pixel-wide frame. A screen pixel
then covers `pitch_mm * frame_px / field_mm` camera pixels: the screenshot is resized by that
factor with area averaging (what the sensor does) and slightly blurred (focus, hand motion).
The model agrees with the issue's measurement that a 3-pixel-per-module code on a 7" 800×480
screen reads only from about 0.2 m (tests/foundation/test_phone_camera.py).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

FRAME_PX = 1920  # width of the video frame a scanner analyses
HFOV_DEG = 69.0  # horizontal field of view of a phone's main camera
MIN_CAMERA_PX_PER_MODULE = 3.0  # what the tests below show a decoder needs, with the blur


def camera_scale(screen_px: tuple[int, int], diagonal_in: float = 7.0,
                 distance_m: float = 0.7, frame_px: int = FRAME_PX,
                 hfov_deg: float = HFOV_DEG) -> float:
    """Camera pixels per screen pixel for a phone `distance_m` in front of the screen."""
    w, h = screen_px
    pitch_mm = diagonal_in * 25.4 / math.hypot(w, h)  # square pixels
    field_mm = 2 * distance_m * 1000 * math.tan(math.radians(hfov_deg / 2))
    return pitch_mm * frame_px / field_mm


# A scanner reads many frames while the hand moves: the code lands on the sensor at a different
# sub-pixel offset in each. A code "scans" when one of these frames decodes.
FRAME_SHIFTS = ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5))


def as_seen(bgr: np.ndarray, screen_px: tuple[int, int] | None = None, diagonal_in: float = 7.0,
            distance_m: float = 0.7, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The screenshot `bgr` (the whole screen) as one frame of the phone's scanner gets it;
    `shift` moves the image by a fraction of a camera pixel first."""
    if screen_px is None:
        screen_px = (bgr.shape[1], bgr.shape[0])
    scale = camera_scale(screen_px, diagonal_in, distance_m)
    if shift != (0.0, 0.0):
        move = np.float32([[1, 0, shift[0] / scale], [0, 1, shift[1] / scale]])
        bgr = cv2.warpAffine(bgr, move, (bgr.shape[1], bgr.shape[0]), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 0.6)


def frames(bgr: np.ndarray, screen_px: tuple[int, int] | None = None, diagonal_in: float = 7.0,
           distance_m: float = 0.7) -> list[np.ndarray]:
    """A few frames of a scan attempt (see FRAME_SHIFTS)."""
    return [as_seen(bgr, screen_px, diagonal_in, distance_m, s) for s in FRAME_SHIFTS]


def min_module_px(screen_px: tuple[int, int], diagonal_in: float = 7.0,
                  distance_m: float = 0.7) -> int:
    """Smallest whole number of screen pixels per QR module that scans from `distance_m`."""
    return math.ceil(MIN_CAMERA_PX_PER_MODULE / camera_scale(screen_px, diagonal_in, distance_m))
