"""A phone camera looking at the booth's screen: what a guest's phone sees from a given distance.

Why: whether a QR code scans from a metre is a question of geometry (how many camera pixels one
module covers) and of what a real camera does to the picture (the sensor integrates light over
its pixels, the lens and hand shake blur, the sensor adds noise, the preview stream is JPEG
compressed). This helper reproduces that chain for a screenshot, so tests can decode the code
the way a phone would and find the distance at which it stops working.

Defaults: a phone's 1080p camera stream with a ~70° horizontal field of view (a typical main
camera: 26 mm equivalent focal length), pointed at the middle of the Raspberry Pi 7"
touchscreen (800×480 pixels on an active area of 154.2 × 85.9 mm — its pixels are not square).
Calibration: without the hand's movement (`shift`), the booth's earlier download code (33
modules at 5 px) decodes here up to 0.5 m and not at 0.6 m, as a phone-camera check of that
screen found (up to ~0.5 m, not at 0.7 m); with it, as `decodes_at` judges, only up to 0.3 m:
the judgement the tests use is, if anything, harsher.
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
# The other 7" panels the booth runs on: 1024×600 (the same active area) and the Touch Display 2
# (720×1280, portrait).
PANELS_7_INCH = {
    (800, 480): PI_7_INCH,
    (1024, 600): Panel(1024, 600, 154.2, 85.9),
    (720, 1280): Panel(720, 1280, 86.9, 154.6),
}


@dataclass(frozen=True)
class PhoneCamera:
    width: int = 1920
    height: int = 1080
    hfov_deg: float = 70.0
    blur_sigma: float = 0.6  # camera pixels: lens, focus and a steady hand ("slight")
    noise_sigma: float = 2.5  # grey levels of sensor noise
    jpeg_quality: int = 90  # the preview stream's compression
    black: int = 28  # a lit screen's black is not black on camera (glare) …
    white: int = 232  # … and its white is exposed below clipping
    room: int = 70  # the grey of the room around the booth

    def px_per_mm(self, distance_mm: float) -> float:
        """Camera pixels per millimetre of a plane `distance_mm` in front of the lens."""
        return self.width / (2 * distance_mm * math.tan(math.radians(self.hfov_deg) / 2))


PHONE_1080P = PhoneCamera()


def photograph(
    screen_rgb: np.ndarray,
    distance_mm: float,
    panel: Panel = PI_7_INCH,
    camera: PhoneCamera = PHONE_1080P,
    aim: tuple[float, float] = (0.5, 0.5),
    seed: int = 0,
    shift: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """The camera frame (BGR, camera.width × camera.height) of `screen_rgb` seen from
    `distance_mm`, with the camera aimed at `aim` (fractions of the screen's width and height).

    `screen_rgb` is a screenshot at the panel's resolution (H×W×3, RGB as pygame gives it).
    `shift` moves the camera by whole screen pixels (a quarter of a camera pixel each at 1 m):
    where the sensor's pixels fall on the screen's changes what they see, as a hand moves.
    """
    h, w = screen_rgb.shape[:2]
    if (w, h) != (panel.width_px, panel.height_px):
        raise ValueError(
            f"the screenshot is {w}×{h}; the panel is {panel.width_px}×{panel.height_px}"
        )
    k = camera.px_per_mm(distance_mm)
    sx = panel.width_mm / panel.width_px * k  # camera pixels per screen pixel, across
    sy = panel.height_mm / panel.height_px * k  # … and down (the pixels are not square)
    img: np.ndarray = cv2.cvtColor(np.ascontiguousarray(screen_rgb), cv2.COLOR_RGB2GRAY).astype(
        np.float32
    )
    dx, dy = shift
    if dx or dy:  # the sensor's grid starts `shift` screen pixels further up and left
        img = cv2.copyMakeBorder(img, dy, 0, dx, 0, cv2.BORDER_REPLICATE)
        h, w = img.shape[:2]
        aim = ((aim[0] * panel.width_px + dx) / w, (aim[1] * panel.height_px + dy) / h)
    out_w, out_h = max(1, round(w * sx)), max(1, round(h * sy))
    # The sensor integrates the light falling on each of its pixels: an area average.
    shown = cv2.resize(img, (out_w, out_h), interpolation=cv2.INTER_AREA)
    shown = camera.black + shown * ((camera.white - camera.black) / 255.0)

    frame: np.ndarray = np.full((camera.height, camera.width), float(camera.room), np.float32)
    bezel = round(panel.bezel_mm * k)
    x0 = round(camera.width / 2 - aim[0] * out_w)
    y0 = round(camera.height / 2 - aim[1] * out_h)
    _paste(
        frame,
        np.full((out_h + 2 * bezel, out_w + 2 * bezel), 12.0, np.float32),
        x0 - bezel,
        y0 - bezel,
    )
    _paste(frame, shown, x0, y0)

    frame = cv2.GaussianBlur(frame, (0, 0), camera.blur_sigma)
    rng = np.random.default_rng(seed)
    frame += rng.normal(0.0, camera.noise_sigma, frame.shape).astype(np.float32)
    gray = np.clip(frame, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(
        ".jpg",
        cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality],
    )
    assert ok
    decoded = cv2.imdecode(jpg, cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded


def scaled_copy(
    screen_bgr: np.ndarray,
    distance_mm: float,
    panel: Panel = PI_7_INCH,
    camera: PhoneCamera = PHONE_1080P,
    interpolation: int = cv2.INTER_AREA,
) -> np.ndarray:
    """The screenshot (or a part of it) scaled to as many pixels as the camera has for it from
    `distance_mm`, nothing else (no blur, noise or JPEG): the plain geometry check."""
    k = camera.px_per_mm(distance_mm)
    return cv2.resize(
        screen_bgr,
        None,
        fx=k * panel.width_mm / panel.width_px,
        fy=k * panel.height_mm / panel.height_px,
        interpolation=interpolation,
    )


def scaled_rate(
    screen_bgr: np.ndarray,
    distance_mm: float,
    expected: str,
    card: tuple[int, int, int, int],
    panel: Panel = PI_7_INCH,
    shifts: tuple[int, ...] = (0, 1, 2, 3),
) -> float:
    """How many of a few plain scaled copies (`scaled_copy`) of one code read as `expected`:
    the code and a tenth of its size on each side, cut at a few offsets of a screen pixel (where
    the camera's pixels fall on the screen's), scaled by area and linearly, read by both of
    OpenCV's detectors."""
    x, y, w, h = card
    H, W = screen_bgr.shape[:2]
    hits = tries = 0
    for s in shifts:
        top, left = max(0, y - h // 10 - s), max(0, x - w // 10 - (s * 3) % 4)
        cut = np.ascontiguousarray(
            screen_bgr[top : min(H, y + h + h // 10), left : min(W, x + w + w // 10)]
        )
        for interpolation in (cv2.INTER_AREA, cv2.INTER_LINEAR):
            small = scaled_copy(cut, distance_mm, panel, interpolation=interpolation)
            tries += 1
            hits += reads_either(small, expected)
    return hits / tries


def _paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    h, w = src.shape[:2]
    H, W = dst.shape[:2]
    xa, ya, xb, yb = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if xb > xa and yb > ya:
        dst[ya:yb, xa:xb] = src[ya - y : yb - y, xa - x : xb - x]


def decode(frame_bgr: np.ndarray) -> str:
    """What OpenCV's QRCodeDetector reads in a camera frame ('' when nothing)."""
    text, _pts, _ = cv2.QRCodeDetector().detectAndDecode(frame_bgr)
    return text or ""


def decode_screenshot(bgr: np.ndarray) -> set[str]:
    """The codes in a pixel-perfect screenshot. OpenCV's classic detector misses a few per cent
    of perfectly sharp codes (their edges are too clean for its finder search), which a phone's
    camera never delivers: a slightly soft copy and a half-size one are tried too."""
    found: set[str] = set()
    for img in (
        bgr,
        cv2.GaussianBlur(bgr, (3, 3), 0),
        cv2.resize(bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    ):
        found |= decode_all(img)
    return found


def reads(frame_bgr: np.ndarray, expected: str) -> bool:
    """Whether a frame yields `expected` (the single-code detector first: it is quicker)."""
    return decode(frame_bgr) == expected or expected in decode_all(frame_bgr)


def reads_either(frame_bgr: np.ndarray, expected: str) -> bool:
    """`reads`, or OpenCV's other (ArUco-based) detector: a scanner tries more than one way."""
    return (
        reads(frame_bgr, expected)
        or cv2.QRCodeDetectorAruco().detectAndDecode(frame_bgr)[0] == expected
    )


def decode_all(frame_bgr: np.ndarray) -> set[str]:
    """Every code OpenCV's QRCodeDetector reads in a frame (a screen may show two, and a phone
    offers each it sees)."""
    found = {decode(frame_bgr)}
    ok, texts, _pts, _ = cv2.QRCodeDetector().detectAndDecodeMulti(frame_bgr)
    if ok:
        found.update(texts)
    return found - {""}


def framed_rate(
    screen_rgb: np.ndarray,
    distance_mm: float,
    expected: str,
    card: tuple[int, int, int, int],
    panel: Panel = PI_7_INCH,
    camera: PhoneCamera = PHONE_1080P,
    seeds: tuple[int, ...] = tuple(range(8)),
) -> float:
    """`decode_rate` for one of several codes on the screen, the phone aimed at its `card`
    (x, y, w, h in screen pixels). A phone's scanner finds every code in view and reads each
    (ML Kit, Apple's Vision); OpenCV's detector does not separate two codes side by side, so
    each frame is cut to the aimed code (its card and 30 % of its size around it) and read by
    both of OpenCV's detectors, as a scanner tries more than one way."""
    x, y, w, h = card
    aim = ((x + w / 2) / panel.width_px, (y + h / 2) / panel.height_px)
    k = camera.px_per_mm(distance_mm)
    half_w = round(w * panel.width_mm / panel.width_px * k * 0.8)
    half_h = round(h * panel.height_mm / panel.height_px * k * 0.8)
    cx, cy = camera.width // 2, camera.height // 2
    hits = 0
    for seed in seeds:
        shift = (seed * 3 % 4, seed * 7 % 4)
        frame = photograph(screen_rgb, distance_mm, panel, camera, aim, seed, shift)
        cut = frame[max(0, cy - half_h) : cy + half_h, max(0, cx - half_w) : cx + half_w]
        hits += reads_either(cut, expected)
    return hits / len(seeds)


def decodes_at(
    screen_rgb: np.ndarray,
    distance_mm: float,
    expected: str,
    panel: Panel = PI_7_INCH,
    camera: PhoneCamera = PHONE_1080P,
    aim: tuple[float, float] = (0.5, 0.5),
    seeds: tuple[int, ...] = tuple(range(6)),
) -> bool:
    """True when most of a few frames (different noise, the hand moved by a fraction of a
    camera pixel) decode to `expected`: a phone scans frame after frame, so a code read in most
    frames is read at once, while one read now and then makes the guest wait and wiggle."""
    return decode_rate(screen_rgb, distance_mm, expected, panel, camera, aim, seeds) > 0.5


def decode_rate(
    screen_rgb: np.ndarray,
    distance_mm: float,
    expected: str,
    panel: Panel = PI_7_INCH,
    camera: PhoneCamera = PHONE_1080P,
    aim: tuple[float, float] = (0.5, 0.5),
    seeds: tuple[int, ...] = tuple(range(6)),
) -> float:
    """The share of frames that decode to `expected`; frame `seed` has its own noise and the
    camera moved by a different fraction of its pixel (up to one)."""
    hits = 0
    for seed in seeds:
        shift = (seed * 3 % 4, seed * 7 % 4)
        frame = photograph(screen_rgb, distance_mm, panel, camera, aim, seed, shift)
        hits += reads(frame, expected)
    return hits / len(seeds)


def farthest_decode(
    screen_rgb: np.ndarray,
    expected: str,
    aim: tuple[float, float],
    start_mm: float = 300,
    stop_mm: float = 2500,
    step_mm: float = 50,
    panel: Panel = PI_7_INCH,
    camera: PhoneCamera = PHONE_1080P,
) -> float:
    """The largest distance, walking out from `start_mm` in `step_mm` steps, up to which the
    code `decodes_at` every step; 0 if it does not decode at `start_mm`."""
    best = 0.0
    d = start_mm
    while d <= stop_mm and decodes_at(screen_rgb, d, expected, panel, camera, aim):
        best = d
        d += step_mm
    return best
