"""Colours, fonts, a type scale and a layout unit that scale one design from 800×480 to 1920×1080
and portrait.

Every size on screen is a multiple of `u` = 1 % of the short side, so the Pi's 7" touchscreen and a
TV get the same proportions; touch targets never go below ~10 mm on the 7" panel.

The type scale has a floor: a guest reads the screen from one to two metres, so no guest text is
smaller than 4 mm on the 7" panel (800 px across 154.2 mm: 5.19 px per mm, so 21 px there; the
same share of the short side elsewhere). Text that does not fit wraps or shrinks, never below
the floor. The headline of each screen is its largest text (tests/kiosk/test_type.py measures
both on every screen, size and language).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pygame

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.ui.surfaces import ImageStore

BG = (12, 11, 18)
PANEL = (24, 22, 34)
INK = (250, 248, 242)
MUTED = (184, 180, 198)
GOLD = (245, 197, 66)
ON_GOLD = (22, 18, 8)
GREEN = (64, 201, 122)
AMBER = (240, 160, 48)
RED = (235, 87, 87)
BLUE = (98, 160, 255)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)

PANEL_7IN_PX_PER_MM = 800 / 154.2  # the Raspberry Pi 7" touchscreen, across

# Bold sans faces that may exist on the machine; pygame's bundled font is the fallback (no
# downloads).
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
)
# Narrow bold faces for long strings a guest must read whole (an address to type).
_CONDENSED_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",
)
_REGULAR_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)


def _first_existing(paths: tuple[str, ...]) -> str | None:
    for p in paths:
        if Path(p).is_file():
            return p
    return None


BOLD, REGULAR, CONDENSED = True, False, "condensed"  # the weights Fonts knows
MAX_FONTS = 24  # open fonts kept (each holds its face and glyph cache: ~0.1-0.25 MB)


class Fonts:
    """Fonts by (weight, pixel size); rendered text is kept in the kiosk's image cache.

    `floor` is the smallest size a guest text may be drawn at (the type scale's floor); the
    drawing helpers (`kiosk/ui/draw.py`) never fit text below it."""

    def __init__(self, store: ImageStore | None = None, floor: int = 10) -> None:
        self._bold_path = _first_existing(_FONT_CANDIDATES)
        self._regular_path = _first_existing(_REGULAR_CANDIDATES)
        self._condensed_path = _first_existing(_CONDENSED_CANDIDATES) or self._bold_path
        # the fonts used last; fitting tries many sizes once, a screen then uses a few
        self._cache: OrderedDict[tuple[bool | str, int], pygame.font.Font] = OrderedDict()
        self._store = store
        self.floor = floor

    def render(self, text: str, size: int, color: tuple, bold: bool | str = True) -> pygame.Surface:
        def make() -> pygame.Surface:
            return self.get(size, bold).render(text, True, color)

        if self._store is None:
            return make()
        return self._store.derive(("text", text, size, tuple(color), bold), make)

    def get(self, size: int, bold: bool | str = True) -> pygame.font.Font:
        size = max(8, int(size))
        key = (bold, size)
        font = self._cache.get(key)
        if font is not None:
            self._cache.move_to_end(key)
        else:
            path = {BOLD: self._bold_path, CONDENSED: self._condensed_path}.get(
                bold, self._regular_path or self._bold_path
            )
            if path is None:
                # pygame's default font renders smaller than its nominal size: compensate.
                font = pygame.font.Font(None, int(size * 1.35))
                font.set_bold(bold is not REGULAR)
            else:
                font = pygame.font.Font(path, size)
            self._cache[key] = font
            while len(self._cache) > MAX_FONTS:
                self._cache.popitem(last=False)  # ~0.1 MB each, plus its glyph cache
        return font


@dataclass(frozen=True)
class TypeScale:
    """Font sizes in pixels for one screen size, largest last."""

    floor: int  # the smallest guest text: 4 mm on the 7" panel
    body: int  # sub-lines, labels over QR codes
    button: int  # button labels
    headline_min: int  # a headline shrinks no further (it stays the largest text) …
    headline: int  # … from here: each screen's largest text
    display: int  # the countdown's digits (a picture more than a text)


@dataclass(frozen=True)
class Layout:
    w: int
    h: int

    @property
    def u(self) -> float:
        return min(self.w, self.h) / 100.0

    @property
    def portrait(self) -> bool:
        return self.h > self.w

    def px(self, units: float) -> int:
        return max(1, round(units * self.u))

    @property
    def margin(self) -> int:
        return self.px(4)

    @property
    def type(self) -> TypeScale:
        return TypeScale(
            floor=self.px(4.4),
            body=self.px(5.2),
            button=self.px(5.6),
            headline_min=self.px(6.4),
            headline=self.px(8),
            display=self.px(30),
        )

    def mm_on_7in(self, px: float) -> float:
        """How tall `px` is on the 7" panel when this layout is scaled to 800×480's short side."""
        return px * (480 / min(self.w, self.h)) / PANEL_7IN_PX_PER_MM

    @property
    def rect(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.w, self.h)
