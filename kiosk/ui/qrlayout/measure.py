"""Measuring the result screen's texts and codes: how many rows a text takes at a width, the
narrowest width a block's texts fit, how large each code's card is at a module size."""

from __future__ import annotations

import pygame

from kiosk.ui import draw
from kiosk.ui.qrlayout.model import Caption, QrBlock, ResultTexts
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


def _side_by_side(
    fonts: Fonts, L: Layout, texts: ResultTexts, width: int, btn_h: int
) -> tuple[int, int] | None:
    """(Print's width, New photo's width) when the two fit side by side in `width`: each as wide
    as its label needs at the button size, else at the floor (kiosk/ui/draw.py shrinks a
    button's label to fit), the room left shared out; None when even that does not fit."""
    gap = L.px(3)
    pad = btn_h // 2 + L.px(4)
    most = L.px(56)
    for size in (L.type.button, L.type.floor):
        needs = [
            min(most, fonts.get(size).size(t)[0] + pad) for t in (texts.print_button, texts.button)
        ]
        if fonts.get(size).size(texts.button)[0] + pad > most:
            continue
        if sum(needs) + gap <= width:
            spare = (width - gap - sum(needs)) // 2
            w0, w1 = (min(most, max(n + spare, L.px(40))) for n in needs)
            if w0 + w1 + gap <= width:
                return w0, w1
            return needs[0], needs[1]
    return None


def buttons_height(fonts: Fonts, L: Layout, texts: ResultTexts, width: int, btn_h: int) -> int:
    """The height the bottom buttons of a portrait screen take: one row, or two when New photo
    and Print do not fit side by side."""
    if not texts.print_button or _side_by_side(fonts, L, texts, width, btn_h) is not None:
        return btn_h
    return 2 * btn_h + L.px(3)


def button_row(
    fonts: Fonts, L: Layout, texts: ResultTexts, width: int, btn_h: int, bottom: int
) -> tuple[pygame.Rect, pygame.Rect | None]:
    """(New photo, Print) at the bottom of a portrait screen: one centred button; or, with
    printing on, the two side by side (Print first), or Print above New photo when their
    labels do not fit side by side."""
    if not texts.print_button:
        button = pygame.Rect(0, 0, min(width, L.px(56)), btn_h)
        button.midbottom = (L.w // 2, bottom)
        return button, None
    gap = L.px(3)
    widths = _side_by_side(fonts, L, texts, width, btn_h)
    if widths is not None:
        left = L.w // 2 - (widths[0] + widths[1] + gap) // 2
        print_button = pygame.Rect(left, bottom - btn_h, widths[0], btn_h)
        button = pygame.Rect(print_button.right + gap, bottom - btn_h, widths[1], btn_h)
        return button, print_button
    button = pygame.Rect(0, 0, min(width, L.px(56)), btn_h)
    button.midbottom = (L.w // 2, bottom)
    print_button = button.copy()
    print_button.bottom = button.top - gap
    return button, print_button
