"""Image helpers every side uses: what a payload is, whether it is safe to decode, and the few
resize/encode steps the kiosk and the worker both need.

Why a guard before every decode: a PNG can declare 400 megapixels in a few hundred bytes, and
decoding it would take the Pi's memory (an out-of-memory kill, then the retained message replays
it on every restart). `inspect()` reads the declared size from the JPEG/PNG header and refuses
anything over the limits *before* any pixel is decoded; `decode()` decodes only what passed.
A truncated JPEG decodes "fine" in OpenCV (grey bottom half), so the end-of-image marker / IEND
chunk is required too.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass

import cv2
import numpy as np

JPEG = "image/jpeg"
PNG = "image/png"
IMAGE_TYPES = (JPEG, PNG)
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}

# Limits for images from outside (jobs, results, `booth snap` files, thumbnails). A 12 MP Pi
# camera still is 12 M pixels; 40 M leaves room for 48 MP phone photos and refuses bombs.
MAX_BYTES = 40_000_000
MAX_PIXELS = 40_000_000
# Results are pictures for a screen and a phone: a model's 4K output is about 17 M pixels. The
# lower limit keeps one result's decode (3 bytes a pixel) well inside a Pi's memory.
RESULT_MAX_PIXELS = 25_000_000


class BadImage(ValueError):
    """Bytes that are not an image we accept; the text says why (for logs, not for guests)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, checked against the limits; no pixels decoded yet."""

    kind: str  # image/jpeg or image/png
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ".png" if self.kind == PNG else ".jpg"


def sniff_image_type(data: bytes) -> str | None:
    """The content type of a payload from its magic bytes (JPEG/PNG), else None."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    return None


def declared_size(data: bytes, kind: str) -> tuple[int, int]:
    """(width, height) from the header, without decoding. Raises BadImage if there is none."""
    if kind == PNG:
        if len(data) < 33 or data[12:16] != b"IHDR":
            raise BadImage("PNG has no IHDR header")
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise BadImage("JPEG header is corrupt (no marker where one must be)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in JPEG_SOF:
            if i + 9 > n:
                break
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        if marker in (0xDA, 0xD9):
            break
        i += 2 + seg_len
    raise BadImage("JPEG has no frame header (truncated or not a JPEG)")


def inspect(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Type and declared size of `data`, refused (BadImage) when over a limit or truncated."""
    if not data:
        raise BadImage("empty payload (no image)")
    if len(data) > max_bytes:
        raise BadImage(f"payload is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_image_type(data)
    if kind is None:
        raise BadImage(f"payload ({len(data)} bytes) is neither a JPEG nor a PNG")
    w, h = declared_size(data, kind)
    if w <= 0 or h <= 0:
        raise BadImage(f"image declares a size of {w}×{h}")
    if w * h > max_pixels:
        raise BadImage(
            f"image declares {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
            f"{max_pixels / 1e6:g}"
        )
    if kind == JPEG:
        sos = data.find(b"\xff\xda")
        if sos < 0 or data.rfind(b"\xff\xd9") < sos:
            raise BadImage("JPEG is truncated (no end-of-image marker)")
    elif data.rfind(b"IEND") < 0:
        raise BadImage("PNG is truncated (no IEND chunk)")
    return ImageInfo(kind, w, h)


_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode(
    data: bytes,
    info: ImageInfo | None = None,
    *,
    reduce: int = 1,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """BGR pixels of a guarded image (inspected here unless `info` is given).

    `reduce` 2/4/8 decodes a JPEG at that fraction of its size (cheaper; PNGs decode whole and
    are then shrunk). Raises BadImage when the bytes do not decode to what the header said.
    """
    info = info or inspect(data, max_bytes, max_pixels)
    flag = _REDUCED[reduce] if info.kind == JPEG else cv2.IMREAD_COLOR
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None or img.size == 0:
        raise BadImage(f"{info.kind} could not be decoded")
    w, h = info.width, info.height
    if info.kind == JPEG:
        expect = {
            (math.ceil(w / reduce), math.ceil(h / reduce)),
            (math.ceil(h / reduce), math.ceil(w / reduce)),
        }  # EXIF rotation swaps them
    else:
        expect = {(w, h), (h, w)}
    if (img.shape[1], img.shape[0]) not in expect:
        raise BadImage(f"decoded size {img.shape[1]}×{img.shape[0]} differs from the header")
    if reduce > 1 and info.kind == PNG:
        img = shrink(img, max(img.shape[:2]) // reduce or 1)
    return img


def read_file(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> bytes:
    """A file's bytes, refused before reading when it is larger than `max_bytes`."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadImage(f"{path} is larger than {max_bytes} bytes")
    return data


def load_file(
    path: str | os.PathLike[str], max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> tuple[bytes, ImageInfo]:
    """A file's bytes and what its header says, both within the limits (nothing decoded)."""
    data = read_file(path, max_bytes)
    return data, inspect(data, max_bytes, max_pixels)


def reduce_for(info: ImageInfo, long_side: int) -> int:
    """The cheapest `decode(reduce=…)` whose JPEG is still at least `long_side` on its long
    side (1 for PNGs, which always decode whole)."""
    if info.kind != JPEG:
        return 1
    big = max(info.width, info.height)
    return next((r for r in (8, 4, 2) if big // r >= long_side), 1)


def downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to `size` (w, h): halve with pyrDown while ≥ 2× too big, then INTER_AREA (faster
    than INTER_AREA alone on a 12 MP still, same look)."""
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        image = cv2.pyrDown(image)
    if (image.shape[1], image.shape[0]) == size:
        return image
    interp = cv2.INTER_AREA if image.shape[1] > size[0] else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def shrink(image: np.ndarray, long_side: int) -> np.ndarray:
    """Downsize so the long side is at most `long_side` (never upscales)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1:
        return image
    return downscale(image, (max(1, round(w * scale)), max(1, round(h * scale))))


def fit_inside(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to fit inside `size` (w, h), aspect kept (for showing a shot on screen)."""
    h, w = image.shape[:2]
    scale = min(size[0] / w, size[1] / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return np.ascontiguousarray(downscale(image, (nw, nh)))


def fit_cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale and centre-crop `image` to exactly `size` (w, h), keeping its aspect."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    nw, nh = max(w, round(iw * scale)), max(h, round(ih * scale))
    resized = downscale(image, (nw, nh))
    x, y = (nw - w) // 2, (nh - h) // 2
    return np.ascontiguousarray(resized[y : y + h, x : x + w])


def encode_jpeg(image: np.ndarray, quality: int, *, rgb: bool = False) -> bytes:
    """JPEG bytes of a BGR image (OpenCV's order), or of an RGB one with `rgb=True`."""
    if rgb:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BadImage("JPEG encoding failed")
    return buf.tobytes()
