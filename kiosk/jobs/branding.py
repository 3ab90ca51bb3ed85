"""Branding burned into the result file: the frame overlay and a caption bar at full resolution.

Why in the file and not on the screen: guests post the file they download, so the event's frame
and caption must be in it; and the kiosk shows that same file, so what the guest sees on the
booth is what they get. The pipeline calls `Branding.apply` (`kiosk/jobs/results.py`) on its store
thread when a result arrives, before the file is written and the download token issued; the
frame loop never waits for it.

- `kiosk.frame_overlay`: a PNG with transparency, stretched to the result's size and blended.
- `kiosk.caption`: a bar added under the picture (the photo itself is not covered) with the
  caption (`{title}` = `kiosk.title`, `{date}` = the shot's date in the guest's language) and the
  `kiosk.logo` at its left when there is one.

Text is rendered with Pillow's FreeType fonts (imported only when a caption is configured), so
the job side needs no pygame (`booth snap` and the kiosk's store thread both brand results).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from booth.config import Config
from booth.images import decode, encode_jpeg, inspect
from booth.texts import Texts

log = logging.getLogger(__name__)

BAR_SHARE = 0.085  # caption bar height as a share of the picture's width
TEXT_SHARE = 0.46  # caption text size as a share of the bar's height
BAR_BGR = (18, 11, 12)  # the screens' background colour (kiosk/ui/theme.py BG), as BGR
TEXT_BGR = (66, 197, 245)  # the screens' gold (kiosk/ui/theme.py GOLD), as BGR
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
)


def load_png(path: str, what: str) -> np.ndarray | None:
    """A BGRA picture from a PNG file, or None (logged) when it cannot be used."""
    if not path:
        return None
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        log.warning("%s %s cannot be loaded; results are stored without it", what, path)
        return None
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    return img


BLEND_ROWS = 64  # rows blended at a time: float copies of a band, not of the whole picture


def blend(dst: np.ndarray, bgra: np.ndarray) -> None:
    """Alpha-blend a BGRA picture of the same size onto `dst` (in place), a band of rows at a
    time, so the float arithmetic holds a few MB whatever the picture's size (a whole 2800 px
    result in float32 was 400 MB more)."""
    for y in range(0, dst.shape[0], BLEND_ROWS):
        band, over = dst[y : y + BLEND_ROWS], bgra[y : y + BLEND_ROWS]
        a = over[..., 3:4].astype(np.float32) * np.float32(1 / 255)
        out = band.astype(np.float32) * (1.0 - a) + over[..., :3].astype(np.float32) * a
        band[:] = np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Branding:
    overlay: np.ndarray | None  # BGRA, as loaded
    caption: str  # with {title} and {date}
    title: str
    texts: Texts
    logo: np.ndarray | None  # BGRA, as loaded
    jpeg_quality: int = 92
    font_path: str | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> Branding | None:
        """The branding a config asks for, or None when there is none to burn in."""
        overlay = load_png(cfg.kiosk.frame_overlay, "frame overlay")
        caption = cfg.kiosk.caption.strip()
        if overlay is not None and overlay.shape[2] == 4 and not (overlay[..., 3] < 255).any():
            log.warning(
                "frame overlay %s has no transparent area: it would hide the photo; "
                "results are stored without it",
                cfg.kiosk.frame_overlay,
            )
            overlay = None
        if overlay is None and not caption:
            return None
        font = font_path()
        return cls(
            overlay,
            caption,
            cfg.kiosk.title,
            cfg.guest_texts(),
            load_png(cfg.kiosk.logo, "logo") if caption else None,
            cfg.kiosk.jpeg_quality,
            font,
        )

    def apply(self, data: bytes, taken_at: float) -> bytes:
        """The result (JPEG/PNG bytes) with the frame and caption burned in, as a JPEG."""
        img = decode(data, inspect(data))
        if self.overlay is not None:
            h, w = img.shape[:2]
            blend(img, cv2.resize(self.overlay, (w, h), interpolation=cv2.INTER_AREA))
        if self.caption:
            img = np.vstack([img, self.caption_bar(img.shape[1], self.caption_text(taken_at))])
        return encode_jpeg(img, self.jpeg_quality)

    def caption_text(self, taken_at: float) -> str:
        return self.caption.format(title=self.title, date=self.texts.date(taken_at))

    def caption_bar(self, width: int, text: str) -> np.ndarray:
        """A BGR bar `width` wide: the logo at the left, the caption centred in what is left."""
        bar_h = bar_height(width)
        bar = np.empty((bar_h, width, 3), np.uint8)
        bar[:] = BAR_BGR
        pad = bar_h // 4
        left = pad
        if self.logo is not None:
            lh = bar_h - 2 * pad
            lw = max(1, round(self.logo.shape[1] * lh / self.logo.shape[0]))
            if lw < width // 3:
                logo = cv2.resize(self.logo, (lw, lh), interpolation=cv2.INTER_AREA)
                blend(bar[pad : pad + lh, pad : pad + lw], logo)
                left = pad + lw + pad
        mask = text_mask(self.font_path, text, round(bar_h * TEXT_SHARE), width - left - pad)
        if mask is not None:
            mh, mw = mask.shape
            paint_mask(
                bar, mask, left + (width - left - pad - mw) // 2, (bar_h - mh) // 2, TEXT_BGR
            )
        return bar


def bar_height(width: int) -> int:
    """The caption bar's height under a picture `width` wide (a strip sheet crops it off its
    frames again: kiosk/jobs/compose.py)."""
    return max(24, round(width * BAR_SHARE))


def font_path() -> str | None:
    """The first bold font installed of the ones the branding knows (None: no text drawn)."""
    return next((p for p in _FONTS if Path(p).is_file()), None)


def text_mask(font: str | None, text: str, size: int, max_w: int) -> np.ndarray | None:
    """`text` as an 8-bit coverage mask, shrunk until it fits `max_w` (None: no font)."""
    if not text or font is None or max_w <= 0:
        return None
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(font, size)
    while True:
        left, top, right, bottom = face.getbbox(text)
        # whole pixels (Pillow types the box as float for fractional strokes; none here)
        w, h = max(1, int(right - left)), max(1, int(bottom - top))
        if w <= max_w or size <= 8:
            break
        size = max(8, int(size * max_w / w))
        face = ImageFont.truetype(font, size)
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).text((-left, -top), text, font=face, fill=255)
    mask = np.asarray(img)
    return mask[:, :max_w]


def paint_mask(
    dst: np.ndarray, mask: np.ndarray, x: int, y: int, bgr: tuple[int, int, int]
) -> None:
    """Blend a coverage mask onto `dst` at (x, y) in colour `bgr` (in place)."""
    mh, mw = mask.shape
    a = mask.astype(np.float32)[..., None] / 255.0
    roi = dst[y : y + mh, x : x + mw].astype(np.float32)
    dst[y : y + mh, x : x + mw] = np.clip(
        roi * (1 - a) + np.array(bgr, dtype=np.float32) * a + 0.5, 0, 255
    ).astype(np.uint8)
