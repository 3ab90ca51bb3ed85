"""Measuring the result screen's texts and codes: how many rows a text takes at a width, the
narrowest width a block's texts fit, how large each code's card is at a module size."""

from __future__ import annotations

import pygame

from kiosk.ui import draw
from kiosk.ui.qrlayout.model import Caption, QrBlock
from kiosk.ui.theme import Fonts, Layout


def pick_captions(fonts: Fonts, block: QrBlock, width: int, floor: int) -> list[Caption]:
    """The first way of writing the block's captions whose lines all fit `width`."""
    for option in block.captions:
        if all(fonts.get(floor, c.weight).size(c.text)[0] <= width for c in option):
            return option
    return block.captions[-1] if block.captions else []


def text_rows(
    fonts: Fonts, text: str, size: int, width: int, max_lines: int, bold: bool | str
) -> int:
    _size, lines = draw.fit_lines(fonts, text, size, width, max_lines, bold)
    return min(max_lines, len(lines)) if text else 0


def reference(blocks: list[QrBlock]) -> QrBlock:
    """The block whose code sets the size: the download code, else the first."""
    return next((b for b in blocks if b.name == "download"), blocks[0])


def code_sides(blocks: list[QrBlock], cell: int, least: int = 1) -> tuple[list[int], list[int]]:
    """(module size, card side) of each block: the reference code at `cell`, the others at the
    smallest module size (at least `least`) that makes them at least as large."""
    ref = reference(blocks)
    first = draw.qr_side(len(ref.matrix), cell)
    cells, sides = [], []
    for b in blocks:
        n = len(b.matrix)
        c = cell if b is ref else least
        while draw.qr_side(n, c) < first:
            c += 1
        cells.append(c)
        sides.append(draw.qr_side(n, c))
    return cells, sides


def fits_rows(fonts: Fonts, text: str, size: int, width: int, rows: int, bold: bool | str) -> bool:
    _size, lines = draw.fit_lines(fonts, text, size, width, rows, bold)
    return len(lines) <= rows and all(fonts.get(_size, bold).size(ln)[0] <= width for ln in lines)


def text_width(fonts: Fonts, L: Layout, block: QrBlock) -> int:
    """The narrowest width at which the block's label fits two rows and its captions (the last
    way of writing them, the most compact) two rows each, at the floor if need be."""
    T = L.type
    texts = [(block.label, True)] + [
        (c.text, c.weight) for c in (block.captions[-1] if block.captions else [])
    ]
    lo, hi = 1, max([fonts.get(T.floor, w).size(t)[0] for t, w in texts] + [1])
    while lo < hi:  # the smallest width at which everything fits
        mid = (lo + hi) // 2
        if all(
            fits_rows(fonts, t, T.body if w is True else T.floor, mid, 2, w) for t, w in texts if t
        ):
            hi = mid
        else:
            lo = mid + 1
    return lo


def line_rows(fonts: Fonts, L: Layout, text: str, width: int) -> int:
    """Rows a body line takes: one (shrunk towards the floor if need be), else two, else three
    (a narrow column beside the photo)."""
    if _fits(fonts, L, text, width):
        return text_rows(fonts, text, L.type.body, width, 1, True)
    if fits_rows(fonts, text, L.type.floor, width, 2, True):
        return text_rows(fonts, text, L.type.body, width, 2, True)
    return text_rows(fonts, text, L.type.body, width, 3, True)


def _fits(fonts: Fonts, L: Layout, text: str, width: int) -> bool:
    return fonts.get(L.type.floor, True).size(text)[0] <= width


def line_boxes(
    fonts: Fonts, L: Layout, lines: list[str], x: int, y: int, width: int
) -> list[pygame.Rect]:
    """Boxes for the lines under the headline (and the status line), `line_rows` rows each."""
    body_lh = draw.line_height(fonts, L.type.body, True)
    out = []
    for line in lines:
        rows = line_rows(fonts, L, line, width)
        out.append(pygame.Rect(x, y, width, rows * body_lh))
        y += rows * body_lh
    return out
