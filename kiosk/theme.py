"""Colours, fonts and a layout unit that scales one design from 800×480 to 1920×1080 and portrait.

Every size on screen is a multiple of `u` = 1 % of the short side, so the Pi's 7" touchscreen and a
TV get the same proportions; touch targets never go below ~10 mm on the 7" panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pygame

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.images import ImageStore

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

# Bold sans faces that may exist on the machine; pygame's bundled font is the fallback (no downloads).
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
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


class Fonts:
    """Fonts by (weight, pixel size); rendered text is kept in the kiosk's image cache."""

    def __init__(self, store: "ImageStore | None" = None) -> None:
        self._bold_path = _first_existing(_FONT_CANDIDATES)
        self._regular_path = _first_existing(_REGULAR_CANDIDATES)
        self._cache: dict[tuple[bool, int], pygame.font.Font] = {}
        self._store = store

    def render(self, text: str, size: int, color: tuple, bold: bool = True) -> pygame.Surface:
        def make() -> pygame.Surface:
            return self.get(size, bold).render(text, True, color)

        if self._store is None:
            return make()
        return self._store.derive(("text", text, size, tuple(color), bold), make)

    def get(self, size: int, bold: bool = True) -> pygame.font.Font:
        size = max(8, int(size))
        key = (bold, size)
        font = self._cache.get(key)
        if font is None:
            path = self._bold_path if bold else (self._regular_path or self._bold_path)
            if path is None:
                # pygame's default font renders smaller than its nominal size: compensate.
                font = pygame.font.Font(None, int(size * 1.35))
                font.set_bold(bold)
            else:
                font = pygame.font.Font(path, size)
            self._cache[key] = font
        return font


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
    def rect(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.w, self.h)
