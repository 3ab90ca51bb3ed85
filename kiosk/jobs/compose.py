"""A strip session's sheet: its frames composed at print resolution with the event's branding.

Where the frames go is booth/sheet.py's (the share process's strip clip uses the same boxes).
Two pictures are made from one layout: the sheet (the dripped frames: what the guest downloads
and prints) and the same sheet of the shots as the model got them (its "before": the reveal on
the result screen and the strip clip wipe from one to the other). A frame that ended without a
picture (the model refused and no fallback was allowed) shows its shot, so the sheet always has
every frame the guest posed for.

Each frame is the stored result, which already carries the event's frame overlay and caption
bar (kiosk/jobs/branding.py) for its own download; the caption bar is cropped off here, because
the sheet has one band of its own: the logo and the caption (or the title and the date).

Runs on the job side's compose thread (kiosk/jobs/sessions.py), never the frame loop: about
0.1 s here for four frames (docs/benchmarks.md, "The strip").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from booth import images
from booth.config import Config
from booth.limits import RESULT_MAX_PIXELS
from booth.sheet import Box, SheetLayout, layout
from kiosk.jobs.branding import (
    BAR_BGR,
    TEXT_BGR,
    bar_height,
    blend,
    font_path,
    load_png,
    paint_mask,
    text_mask,
)

CARD_BGR = (40, 30, 32)  # a box without a frame: a shade lighter than the sheet
RIM_PX = 3  # the gold line around each frame
MUTED_BGR = (200, 190, 190)
COVER_TOP = 0.3  # a frame cropped to its box loses 30 % of the cut above, 70 % below


@dataclass(frozen=True)
class FrameFiles:
    """One frame's pictures: the shot as the model got it, and its result (None: it has none)."""

    shot: Path
    result: Path | None


@dataclass(frozen=True)
class SheetBrand:
    """What the band says: a main line (the caption, else the title), a second line (the date
    when there is no caption), the logo (BGRA), and whether the frames carry a caption bar."""

    line: str
    second: str
    logo: np.ndarray | None
    font: str | None
    frames_captioned: bool

    @classmethod
    def from_config(cls, cfg: Config, taken_at: float) -> SheetBrand:
        k = cfg.kiosk
        texts = cfg.guest_texts()
        date = texts.date(taken_at)
        caption = k.caption.strip()
        line = caption.format(title=k.title, date=date) if caption else k.title
        return cls(
            line,
            "" if caption else date,
            load_png(k.logo, "logo"),
            font_path(),
            bool(caption),
        )


@dataclass(frozen=True)
class ComposedSheet:
    """The two JPEGs and the layout they follow."""

    sheet: bytes
    shots: bytes
    layout: SheetLayout


def load_frame(path: Path, cell: Box, crop_caption: bool) -> np.ndarray:
    """A stored picture through the image guard, decoded no larger than its box needs (a JPEG
    at 1/2 or 1/4 scale where that still covers the box), with the caption bar cropped off a
    captioned result (its height follows the full-size width: kiosk/jobs/branding.py)."""
    data, info = images.load_file(path, max_pixels=RESULT_MAX_PIXELS)
    reduce = images.reduce_for(info, max(cell.w, cell.h))
    img = images.decode(data, info, reduce=reduce, max_pixels=RESULT_MAX_PIXELS)
    if crop_caption:
        bar = round(bar_height(info.width) * img.shape[1] / info.width)
        if img.shape[0] > 2 * bar:
            img = img[: img.shape[0] - bar]
    return img


def compose(
    kind: str,
    frames: list[FrameFiles],
    portrait: bool,
    brand: SheetBrand,
    quality: int = 92,
) -> ComposedSheet:
    """Both sheets of a session's frames (in shot order). Raises booth.images.BadImage or
    OSError when a picture cannot be read."""
    lay = layout(kind, len(frames), portrait)
    base = np.empty((lay.size[1], lay.size[0], 3), np.uint8)
    base[:] = BAR_BGR
    for box in lay.spare:
        _card(base, box, brand)
    _band(base, lay.band, brand)
    sheet, shots = base, base.copy()
    for box, frame in zip(lay.cells, frames):
        shot = load_frame(frame.shot, box, False)
        result = load_frame(frame.result, box, brand.frames_captioned) if frame.result else shot
        _place(sheet, box, result)
        _place(shots, box, shot)
    return ComposedSheet(
        images.encode_jpeg(sheet, quality), images.encode_jpeg(shots, quality), lay
    )


def cover(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`picture` scaled to cover `size` (w, h) and cropped to it: centred across, and from
    nearer the top than the bottom (COVER_TOP of what is cut), where the faces are."""
    w, h = size
    ph, pw = picture.shape[:2]
    scale = max(w / pw, h / ph)
    nw, nh = max(w, round(pw * scale)), max(h, round(ph * scale))
    scaled = images.downscale(picture, (nw, nh))
    x, y = (nw - w) // 2, round((nh - h) * COVER_TOP)
    return np.ascontiguousarray(scaled[y : y + h, x : x + w])


def _place(canvas: np.ndarray, box: Box, picture: np.ndarray) -> None:
    """The picture cover-cropped into its box, a gold rim around it."""
    x, y, w, h = box.as_tuple()
    canvas[y : y + h, x : x + w] = cover(picture, (w, h))
    r = RIM_PX
    cv2.rectangle(canvas, (x - r, y - r), (x + w + r - 1, y + h + r - 1), TEXT_BGR, r)


def _card(canvas: np.ndarray, box: Box, brand: SheetBrand) -> None:
    """A box without a frame: the event's logo, else its title."""
    x, y, w, h = box.as_tuple()
    canvas[y : y + h, x : x + w] = CARD_BGR
    if brand.logo is not None:
        _logo(canvas, Box(x + w // 4, y + h // 4, w // 2, h // 2), brand.logo)
    else:
        _lines(canvas, box, [(brand.line, TEXT_BGR, 0.16)], brand.font)


def _band(canvas: np.ndarray, band: Box, brand: SheetBrand) -> None:
    """The logo and the text lines: side by side in a wide band, one above the other in a
    tall one (a 3-shot strip)."""
    x, y, w, h = band.as_tuple()
    pad = max(8, min(w, h) // 10)
    lines: list[tuple[str, tuple[int, int, int], float]] = [(brand.line, TEXT_BGR, 0.30)]
    if brand.second:
        lines.append((brand.second, MUTED_BGR, 0.20))
    text_box = Box(x + pad, y + pad, w - 2 * pad, h - 2 * pad)
    if brand.logo is not None:
        if h >= w * 0.6:  # tall: the logo above, the text in the lower part
            logo_h = (h - 2 * pad) // 2
            drawn = _logo(canvas, Box(x + pad, y + pad, w - 2 * pad, logo_h), brand.logo)
            text_box = Box(
                x + pad, drawn.y + drawn.h + pad, w - 2 * pad, y + h - pad - drawn.y - drawn.h - pad
            )
        else:
            drawn = _logo(canvas, Box(x + pad, y + pad, w // 3, h - 2 * pad), brand.logo)
            left = drawn.x + drawn.w + pad
            text_box = Box(left, y + pad, x + w - pad - left, h - 2 * pad)
    _lines(canvas, text_box, lines, brand.font)


def _logo(canvas: np.ndarray, box: Box, logo: np.ndarray) -> Box:
    """The logo fitted into `box` (centred), blended; returns where it went."""
    lh, lw = logo.shape[:2]
    scale = min(box.w / lw, box.h / lh)
    w, h = max(1, round(lw * scale)), max(1, round(lh * scale))
    x, y = box.x + (box.w - w) // 2, box.y + (box.h - h) // 2
    blend(canvas[y : y + h, x : x + w], cv2.resize(logo, (w, h), interpolation=cv2.INTER_AREA))
    return Box(x, y, w, h)


def _lines(
    canvas: np.ndarray,
    box: Box,
    lines: list[tuple[str, tuple[int, int, int], float]],
    font: str | None,
) -> None:
    """Text lines centred in `box`; each line's size is a share of the box's height, capped by
    the width (text_mask shrinks a line until it fits)."""
    masks = []
    unit = min(box.h, box.w // 2)
    for text, colour, share in lines:
        size = max(10, round(unit * share))
        mask = text_mask(font, text, size, box.w)
        if mask is not None:
            masks.append((mask, colour))
    if not masks:
        return
    gap = max(4, unit // 20)
    total = sum(m.shape[0] for m, _ in masks) + gap * (len(masks) - 1)
    y = box.y + max(0, (box.h - total) // 2)
    for mask, colour in masks:
        if y + mask.shape[0] > canvas.shape[0]:
            break
        paint_mask(canvas, mask, box.x + (box.w - mask.shape[1]) // 2, y, colour)
        y += mask.shape[0] + gap
