"""Where a strip session's frames go on its sheet: the sizes at print resolution and the boxes.

Why in the contract package: the kiosk composes the sheet (kiosk/jobs/compose.py) and the share
process makes the strip clip that reveals it frame by frame (share/clips.py); both must agree on
where each frame is, and they may not import each other. Pure arithmetic, no image library.

Two layouts, both at 300 dpi (the resolution of the dye-sub printers booths use):
- `strip`: 2x6 in, 600 x 1800, the frames one above the other (3:2 boxes, the classic strip),
  the branding band under them taking what is left (a 3-shot strip has a taller band);
- `grid`: 4x6 in, two by two, 1800 x 1200 for landscape shots and 1200 x 1800 for portrait
  ones (a portrait screen), with a branding band along the bottom; a box without a frame (a
  3-shot grid, or a session cut short) shows the event's card instead.
"""

from __future__ import annotations

from dataclasses import dataclass

DPI = 300
STRIP, GRID = "strip", "grid"
LAYOUTS = (STRIP, GRID)
MAX_FRAMES = 4

STRIP_SIZE = (2 * DPI, 6 * DPI)  # 600 x 1800
GRID_LANDSCAPE = (6 * DPI, 4 * DPI)  # 1800 x 1200
GRID_PORTRAIT = (4 * DPI, 6 * DPI)
STRIP_MARGIN, STRIP_GAP = 24, 16
GRID_MARGIN, GRID_GAP = 30, 20
STRIP_CELL_ASPECT = 3 / 2  # width / height of a strip's frame
GRID_BAND_SHARE = 0.11  # the grid's band: a share of the sheet's short side


@dataclass(frozen=True)
class Box:
    """A rectangle on the sheet, in pixels."""

    x: int
    y: int
    w: int
    h: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h


@dataclass(frozen=True)
class SheetLayout:
    """The sheet's size, one box per frame in shot order, the boxes left for the event's card
    (a grid with fewer frames than boxes), and the branding band."""

    kind: str
    size: tuple[int, int]
    cells: tuple[Box, ...]
    spare: tuple[Box, ...]
    band: Box


def layout(kind: str, frames: int, portrait: bool = False) -> SheetLayout:
    """The layout of a sheet with `frames` frames (1..MAX_FRAMES). `portrait`: the shots are
    taller than wide (only a grid turns for them; a strip's boxes stay 3:2)."""
    if kind not in LAYOUTS:
        raise ValueError(f"unknown sheet layout {kind!r}")
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"a sheet holds 1 to {MAX_FRAMES} frames, not {frames}")
    return _strip(frames) if kind == STRIP else _grid(frames, portrait)


def _strip(frames: int) -> SheetLayout:
    w, h = STRIP_SIZE
    m, g = STRIP_MARGIN, STRIP_GAP
    cw = w - 2 * m
    ch = round(cw / STRIP_CELL_ASPECT)
    cells = tuple(Box(m, m + i * (ch + g), cw, ch) for i in range(frames))
    top = cells[-1].y + ch + g
    return SheetLayout(STRIP, (w, h), cells, (), Box(m, top, cw, h - m - top))


def _grid(frames: int, portrait: bool) -> SheetLayout:
    w, h = GRID_PORTRAIT if portrait else GRID_LANDSCAPE
    m, g = GRID_MARGIN, GRID_GAP
    band_h = round(min(w, h) * GRID_BAND_SHARE)
    cw = (w - 2 * m - g) // 2
    ch = (h - 2 * m - 2 * g - band_h) // 2
    boxes = [Box(m + c * (cw + g), m + r * (ch + g), cw, ch) for r in range(2) for c in range(2)]
    band = Box(m, m + 2 * ch + 2 * g, w - 2 * m, h - m - (m + 2 * ch + 2 * g))
    return SheetLayout(GRID, (w, h), tuple(boxes[:frames]), tuple(boxes[frames:]), band)
