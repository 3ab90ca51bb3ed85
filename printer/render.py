"""The print file: the stored picture, scaled onto the paper at the printer's resolution.

Why from the stored file: it is the guest's download, with the event's frame and caption burned
in when the kiosk stored it (kiosk/jobs/branding.py), so the print and the download are the same
picture and this package needs nothing of the kiosk; the screen's copy is far too small for
paper. The canvas follows the photo's orientation (a landscape photo on 4x6 paper is 1800 x 1200
at 300 dpi, a portrait one 1200 x 1800); the printer turns it to its paper. `fit` shows all of
the picture on white, its frame and caption included; `fill` covers the paper and crops what
sticks out (with a caption bar, off the top only). The JPEG carries its
resolution (JFIF density), so a driver that prints images at their own resolution prints it
exactly at the paper's size.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from booth.images import RESULT_MAX_PIXELS, decode, downscale, load_file

JPEG_QUALITY = 95
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Media:
    """A paper size: `short` × `long` in inches and its PWG name (what IPP and CUPS call it;
    CUPS maps it onto a driver's own size names by its dimensions)."""

    key: str
    short_in: float
    long_in: float
    pwg: str

    def pixels(self, dpi: int, landscape: bool) -> tuple[int, int]:
        """(width, height) of the canvas at `dpi`, long side across for a landscape photo."""
        short, long = round(self.short_in * dpi), round(self.long_in * dpi)
        return (long, short) if landscape else (short, long)


MEDIA = {
    "4x6": Media("4x6", 4.0, 6.0, "na_index-4x6_4x6in"),
    "2x6": Media("2x6", 2.0, 6.0, "oe_photo-strip_2x6in"),
    "a6": Media("a6", 105 / 25.4, 148 / 25.4, "iso_a6_105x148mm"),
}


def media_name(key: str, override: str = "") -> str:
    """The media keyword sent to CUPS: the configured override, else the PWG name."""
    return override or MEDIA[key].pwg


def compose(
    image: np.ndarray, media: Media, dpi: int, fit: str, keep_bottom: bool = False
) -> np.ndarray:
    """The BGR canvas of the print: `image` covering it (`fill`) or inside it on white
    (`fit`), the canvas turned to the image's orientation. `keep_bottom`: a fill crops nothing
    off the bottom (where the kiosk burns in its caption bar), all of it off the top."""
    h, w = image.shape[:2]
    size = media.pixels(dpi, landscape=w >= h)
    cw, ch = size
    if fit == "fill":
        scale = max(cw / w, ch / h)
        nw, nh = max(cw, round(w * scale)), max(ch, round(h * scale))
        scaled = downscale(image, (nw, nh))
        x = (nw - cw) // 2
        y = nh - ch if keep_bottom else (nh - ch) // 2
        return np.ascontiguousarray(scaled[y : y + ch, x : x + cw])
    scale = min(cw / w, ch / h)
    nw, nh = max(1, min(cw, round(w * scale))), max(1, min(ch, round(h * scale)))
    scaled = downscale(image, (nw, nh))
    canvas = np.empty((ch, cw, 3), np.uint8)
    canvas[:] = WHITE
    x, y = (cw - nw) // 2, (ch - nh) // 2
    canvas[y : y + nh, x : x + nw] = scaled
    return canvas


def with_density(jpeg: bytes, dpi: int) -> bytes:
    """The JPEG with its JFIF header saying `dpi` dots per inch (OpenCV writes 1:1 aspect);
    unchanged when it has no JFIF header."""
    # SOI, APP0 marker, length, "JFIF\0", version (2 bytes), then units, X and Y density
    if jpeg[:4] != b"\xff\xd8\xff\xe0" or jpeg[6:11] != b"JFIF\x00":
        return jpeg
    return jpeg[:13] + struct.pack(">BHH", 1, dpi, dpi) + jpeg[18:]


def render(
    path: str | Path,
    media: Media,
    dpi: int,
    fit: str,
    keep_bottom: bool = False,
    quality: int = JPEG_QUALITY,
) -> bytes:
    """The print file (JPEG bytes) of a stored picture. Raises booth.images.BadImage for a file
    that is not a picture within the limits, OSError when it cannot be read."""
    data, info = load_file(path, max_pixels=RESULT_MAX_PIXELS)
    image = decode(data, info)
    canvas = compose(image, media, dpi, fit, keep_bottom)
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError("the print file could not be encoded")
    return with_density(buf.tobytes(), dpi)
