"""The print file: the stored picture, scaled onto the paper at the printer's resolution.

Why from the stored file: it is the guest's download, with the event's frame and caption burned
in when the kiosk stored it (kiosk/jobs/branding.py), so the print and the download are the same
picture and this package needs nothing of the kiosk; the screen's copy is far too small for
paper. The canvas follows the photo's orientation (a landscape photo on 4x6 paper is 1800 x 1200
at 300 dpi, a portrait one 1200 x 1800); the printer turns it to its paper. `fit` shows all of
the picture on white, its frame and caption included; `fill` covers the paper and crops what
sticks out (with a caption bar, off the top only). The JPEG carries its resolution (JFIF
density), so a driver that prints images at their own resolution prints it at the paper's size.

Why Pillow and not OpenCV (which the kiosk and the worker use): the printer process runs all
event long beside them on a Pi, and OpenCV with numpy would more than double its memory (about
40 MB against 13 MB once imported; bench/bench_print.py has the figures). The file it reads was
checked by the kiosk's image guard when it was stored (booth/images.py); here its header's size
is checked against the same limit before any pixel is decoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from booth.limits import RESULT_MAX_PIXELS

JPEG_QUALITY = 95
WHITE = (255, 255, 255)


class BadPicture(ValueError):
    """A stored file that is not a picture this process will print."""


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


def _scaled(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    # a reducing gap: large shrinks go through a cheap box step first (same look)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def compose(
    image: Image.Image, media: Media, dpi: int, fit: str, keep_bottom: bool = False
) -> Image.Image:
    """The RGB canvas of the print: `image` covering it (`fill`) or inside it on white
    (`fit`), the canvas turned to the image's orientation. `keep_bottom`: a fill crops nothing
    off the bottom (where the kiosk burns in its caption bar), all of it off the top."""
    w, h = image.size
    cw, ch = media.pixels(dpi, landscape=w >= h)
    if fit == "fill":
        scale = max(cw / w, ch / h)
        nw, nh = max(cw, round(w * scale)), max(ch, round(h * scale))
        x = (nw - cw) // 2
        y = nh - ch if keep_bottom else (nh - ch) // 2
        return _scaled(image, (nw, nh)).crop((x, y, x + cw, y + ch))
    scale = min(cw / w, ch / h)
    nw, nh = max(1, min(cw, round(w * scale))), max(1, min(ch, round(h * scale)))
    canvas = Image.new("RGB", (cw, ch), WHITE)
    canvas.paste(_scaled(image, (nw, nh)), ((cw - nw) // 2, (ch - nh) // 2))
    return canvas


def load(path: str | Path) -> Image.Image:
    """The stored picture as RGB, its size checked from the header before it is decoded."""
    try:
        with Image.open(path) as opened:
            if opened.format not in ("JPEG", "PNG"):
                raise BadPicture(f"{path} is {opened.format}, not a JPEG or PNG")
            if opened.width * opened.height > RESULT_MAX_PIXELS:  # a stored result's most
                raise BadPicture(f"{path} is {opened.width}x{opened.height}: too large to print")
            opened.load()  # decoded once; no copy when it is RGB already
            image = opened if opened.mode == "RGB" else opened.convert("RGB")
            ImageOps.exif_transpose(image, in_place=True)
    except (OSError, Image.DecompressionBombError) as exc:
        raise BadPicture(f"{path} cannot be read: {exc}") from exc
    return image


def render(
    path: str | Path,
    media: Media,
    dpi: int,
    fit: str,
    keep_bottom: bool = False,
    quality: int = JPEG_QUALITY,
) -> bytes:
    """The print file (JPEG bytes, its JFIF header saying `dpi`) of a stored picture. Raises
    BadPicture for a file that is not a picture within the limits."""
    canvas = compose(load(path), media, dpi, fit, keep_bottom)
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=quality, dpi=(dpi, dpi), subsampling=0)
    return out.getvalue()
