"""The result screen with its codes side by side: beside the photo column on a landscape panel,
under the photo on a portrait one (and there too when the rows of kiosk/ui/qrlayout/steps.py do
not fit).

Why a planner of its own: the download QR must be as large as the screen allows (it has to scan
from a metre: whole-pixel modules, as many pixels each as fit), any other code shown beside it
(joining the booth's Wi-Fi, …) must be at least as large, nothing may cover the guest's photo,
and no text may fall below the type floor. A block is a label above its code and caption lines
below; more blocks are just more entries in the list.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pygame

from kiosk.ui import draw
from kiosk.ui.qrlayout.measure import (
    button_row,
    buttons_height,
    code_sides,
    line_boxes,
    pick_captions,
    reference,
    text_rows,
    text_width,
)
from kiosk.ui.qrlayout.model import (
    NOTE_LINES,
    PHOTO_LEAST_PRINTING,
    PRINT_WEIGHT,
    BlockPlan,
    PhotoColumn,
    QrBlock,
    ResultPlan,
    ResultTexts,
)
from kiosk.ui.theme import REGULAR, Fonts, Layout

# Module size (layout units) the layout tries to reach before it gives up photo width: 14 px on
# the 7" 800×480 panel, where a phone's 1080p camera sees ~3.5 pixels per module from 1 m; the
# most that fits there beside the photo and the short code. The phone-camera simulation reads
# it in every frame at 0.9 m and in most at 1 m (tests/kiosk/test_qr_distance.py).
QR_TARGET_UNITS = 2.95


class _Block:
    """A block's label and caption heights at one width."""

    def __init__(self, fonts: Fonts, L: Layout, block: QrBlock, width: int) -> None:
        T = L.type
        self.label_rows = text_rows(fonts, block.label, T.body, width, 2, True)
        self.captions = pick_captions(fonts, block, width, T.floor)
        self.caption_rows = sum(
            text_rows(fonts, c.text, T.floor, width, 2, c.weight) for c in self.captions
        )


def _blocks_height(
    fonts: Fonts, L: Layout, blocks: list[QrBlock], widths: list[int]
) -> tuple[int, int, list[_Block]]:
    """(label band, caption band, measured blocks) for blocks `widths` wide."""
    measured = [_Block(fonts, L, b, w) for b, w in zip(blocks, widths)]
    label_lh = draw.line_height(fonts, L.type.body, True)
    floor_lh = draw.line_height(fonts, L.type.floor, True)
    label_h = max((mb.label_rows for mb in measured), default=0) * label_lh
    caption_h = max((mb.caption_rows for mb in measured), default=0) * floor_lh
    return label_h, caption_h, measured


def _place_blocks(
    fonts: Fonts,
    L: Layout,
    blocks: list[QrBlock],
    measured: list[_Block],
    cells: list[int],
    sides: list[int],
    lefts: list[int],
    widths: list[int],
    top: int,
    label_h: int,
    gap: int,
) -> list[BlockPlan]:
    out = []
    floor_lh = draw.line_height(fonts, L.type.floor, True)
    card_top = top + label_h + (gap if label_h else 0)
    tallest = max(sides)
    for b, mb, cell, side, x, w in zip(blocks, measured, cells, sides, lefts, widths):
        label = pygame.Rect(x, top, w, label_h)
        code = pygame.Rect(0, 0, side, side)
        code.midtop = (x + w // 2, card_top)
        y = card_top + tallest + gap
        caps = []
        for c in mb.captions:
            rows = text_rows(fonts, c.text, L.type.floor, w, 2, c.weight)
            caps.append((c, pygame.Rect(x, y, w, rows * floor_lh)))
            y += rows * floor_lh
        out.append(BlockPlan(b, label, code, cell, caps))
    return out


def photo_column(
    fonts: Fonts, L: Layout, texts: ResultTexts, col: pygame.Rect, lines_text: list[str]
) -> PhotoColumn:
    """Headline and lines at the top of `col`, the button and countdown at its bottom, the
    note above them, the photo in what is left."""
    T = L.type
    gap = L.px(2)
    head_lh = draw.line_height(fonts, T.headline_min, True)
    head_size, head_lines = draw.fit_headline(
        fonts, texts.headline, T.headline, T.headline_min, col.width
    )
    head_h = min(2, len(head_lines)) * draw.line_height(fonts, head_size, True)
    head_h = max(head_h, head_lh)
    headline = pygame.Rect(col.left, col.top, col.width, head_h)
    y = headline.bottom
    lines = line_boxes(fonts, L, lines_text, col.left, y, col.width)
    y = lines[-1].bottom if lines else y
    floor_lh = draw.line_height(fonts, T.floor)
    count_w = fonts.get(T.floor, REGULAR).size(texts.countdown)[0]
    btn_h = L.px(13)
    btn_w = min(
        col.width, max(L.px(40), fonts.get(T.button).size(texts.button)[0] + btn_h + L.px(4))
    )
    side_by_side = btn_w + L.px(3) + count_w <= col.width
    if side_by_side:
        button = pygame.Rect(col.left, col.bottom - btn_h, btn_w, btn_h)
        countdown = pygame.Rect(
            button.right + L.px(3),
            button.centery - floor_lh // 2,
            col.right - button.right - L.px(3),
            floor_lh,
        )
        bottom = button.top
    else:
        rows = text_rows(fonts, texts.countdown, T.floor, col.width, 2, REGULAR)
        countdown = pygame.Rect(col.left, col.bottom - rows * floor_lh, col.width, rows * floor_lh)
        button = pygame.Rect(0, 0, btn_w, btn_h)
        button.midbottom = (col.centerx, countdown.top - L.px(1))
        bottom = button.top
    # [print]: the Print button above New photo, the line about the guest's print above it
    print_button = print_note = None
    if texts.print_button:
        label_w = fonts.get(T.button).size(texts.print_button)[0]
        print_button = pygame.Rect(
            0, 0, min(col.width, max(L.px(40), label_w + btn_h + L.px(4))), btn_h
        )
        if side_by_side:
            print_button.bottomleft = (col.left, bottom - L.px(2))
        else:
            print_button.midbottom = (col.centerx, bottom - L.px(2))
        bottom = print_button.top
    if texts.print_note:
        rows = text_rows(fonts, texts.print_note, T.floor, col.width, NOTE_LINES, PRINT_WEIGHT)
        print_note = pygame.Rect(
            col.left, bottom - gap - rows * floor_lh, col.width, rows * floor_lh
        )
        bottom = print_note.top
    note = None
    if texts.note:
        rows = text_rows(fonts, texts.note, T.floor, col.width, NOTE_LINES, True)
        note = pygame.Rect(col.left, bottom - gap - rows * floor_lh, col.width, rows * floor_lh)
        bottom = note.top
    photo = pygame.Rect(col.left, y + gap, col.width, max(1, bottom - gap - (y + gap)))
    return PhotoColumn(headline, lines, photo, note, button, countdown, print_button, print_note)


@dataclass
class _Fit:
    cells: list[int]
    sides: list[int]
    widths: list[int]
    measured: list[_Block]
    label_h: int
    status_h: int
    span: int
    need_h: int


def _fit_codes(
    fonts: Fonts,
    L: Layout,
    blocks: list[QrBlock],
    status: str,
    need_text: list[int],
    fixed_w: int,
    qm: int,
    inner: int,
    gap: int,
) -> _Fit:
    """The largest codes that fit beside a photo column taking `fixed_w` (margins included),
    with their labels, captions and `status` under them, in the screen's height."""
    T = L.type
    one_row = [
        max(
            [fonts.get(T.body, True).size(b.label)[0]]
            + [fonts.get(T.floor, c.weight).size(c.text)[0] for c in b.captions[0]]
            if b.captions
            else [fonts.get(T.body, True).size(b.label)[0]]
        )
        for b in blocks
    ]
    cell = draw.qr_cell(len(reference(blocks).matrix), L.h)
    while True:
        cells, sides = code_sides(blocks, cell)
        widths = [max(s, t) for s, t in zip(sides, need_text)]
        # width the photo column does not need lets labels and captions sit on fewer rows
        spare = L.w - fixed_w - sum(widths)
        if spare > 0:
            widths = [
                max(w, min(w + spare // len(widths), s * 13 // 10, one))
                for w, s, one in zip(widths, sides, one_row)
            ]
        label_h, caption_h, measured = _blocks_height(fonts, L, blocks, widths)
        span = sum(widths) + gap * (len(blocks) - 1)
        status_h = line_boxes(fonts, L, [status], 0, 0, span)[0].height if status else 0
        need_h = (
            qm
            + label_h
            + (inner if label_h else 0)
            + max(sides)
            + inner
            + caption_h
            + (inner + status_h if status_h else 0)
            + qm
        )
        one_ok = len(blocks) > 1 or max(sides) <= L.w // 2  # one code: not a wall
        if (need_h <= L.h and fixed_w + sum(widths) <= L.w and one_ok) or cell == 1:
            return _Fit(cells, sides, widths, measured, label_h, status_h, span, need_h)
        cell -= 1


def plan_landscape(
    L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts
) -> ResultPlan:
    T = L.type
    m = L.margin
    qm = L.px(2.5)  # the code column reaches closer to the screen's edge
    gap = L.px(3)
    inner = L.px(1.5)  # label → code → captions
    # the photo column keeps room for the button's label and the headline's longest word
    words = max(
        (fonts.get(T.headline_min).size(w)[0] for w in texts.headline.split(" ")), default=0
    )
    button_w = (
        max(fonts.get(T.floor).size(b)[0] for b in (texts.button, texts.print_button))
        + L.px(13) // 2
        + L.px(2)
    )
    least = max(L.px(40), words, button_w)
    plans: list[BlockPlan] = []
    status = note_under = print_under = None
    # Under the codes when they share a row: the line about the guest's print if there is one,
    # else the local effect's note, else the status line (which gives way: the first step says
    # the same). The photo's column beside two codes is too narrow for a long line.
    first = "" if texts.print_in_column else texts.print_note
    below = (first or texts.note or texts.status) if len(blocks) > 1 else ""
    under = bool(below)
    code_left = L.w - m
    column_lines = list(texts.lines)
    if blocks:
        # A generous photo first, the label above its code; then a lone code's label moves
        # under the headline, then the photo gives up width: whatever first lets the codes
        # reach the module size that scans from a metre (else the largest codes found).
        ref = blocks.index(reference(blocks))
        tries = [
            (share, up) for share in (35, 22) for up in (True, False) if up or len(blocks) == 1
        ]
        best = None
        for share, up in tries:
            shown = blocks if up else [dataclasses.replace(b, label="") for b in blocks]
            need_text = [text_width(fonts, L, b) for b in shown]
            fixed_w = m + max(least, L.w * share // 100) + gap * len(blocks) + qm
            fit = _fit_codes(fonts, L, shown, below, need_text, fixed_w, qm, inner, gap)
            if best is None or fit.cells[ref] > best[0].cells[ref]:
                best = (fit, shown, up)
            if fit.cells[ref] >= L.px(QR_TARGET_UNITS):
                best = (fit, shown, up)
                break
        assert best is not None  # `tries` is never empty
        fit, shown, up = best
        if not up:
            column_lines += [b.label for b in blocks]
        top = (L.h - fit.need_h) // 2 + qm
        lefts: list[int] = []
        x = L.w - qm
        for w in reversed(fit.widths):
            x -= w
            lefts.insert(0, x)
            x -= gap
        code_left = lefts[0]
        plans = _place_blocks(
            fonts,
            L,
            shown,
            fit.measured,
            fit.cells,
            fit.sides,
            lefts,
            fit.widths,
            top,
            fit.label_h,
            inner,
        )
        if under:
            band = pygame.Rect(
                lefts[0], top + fit.need_h - 2 * qm - fit.status_h, fit.span, fit.status_h
            )
            if first:
                print_under = band
            elif texts.note:
                note_under = band
            else:
                status = band
    col = pygame.Rect(m, m, code_left - gap - m, L.h - 2 * m)
    if texts.status and not under:
        column_lines.append(texts.status)
    in_column = texts
    if note_under:
        in_column = dataclasses.replace(texts, note="")
    if print_under:
        in_column = dataclasses.replace(texts, print_note="")
    column = photo_column(fonts, L, in_column, col, column_lines)
    lines = list(zip(column_lines, column.lines))
    if texts.status and not under:
        status = lines.pop()[1]
    return ResultPlan(
        column.headline,
        lines,
        status,
        column.photo,
        note_under or column.note,
        column.button,
        column.countdown,
        plans,
        column.print_button,
        print_under or column.print_note,
    )


def plan_portrait(L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts) -> ResultPlan:
    T = L.type
    m = L.margin
    gap = L.px(3)
    inner = L.px(1.5)
    width = L.w - 2 * m
    floor_lh = draw.line_height(fonts, T.floor)
    head_size, head_lines = draw.fit_headline(
        fonts, texts.headline, T.headline, T.headline_min, width
    )
    head_h = min(2, len(head_lines)) * draw.line_height(fonts, head_size, True)
    note_h = text_rows(fonts, texts.note, T.floor, width, NOTE_LINES, True) * floor_lh
    print_h = (
        text_rows(fonts, texts.print_note, T.floor, width, NOTE_LINES, PRINT_WEIGHT) * floor_lh
    )
    btn_h = L.px(13)
    buttons_h = buttons_height(fonts, L, texts, width, btn_h)
    column_lines = texts.lines + ([texts.status] if texts.status else [])
    lines_h = sum(r.height for r in line_boxes(fonts, L, column_lines, 0, 0, width))
    printing_h = (print_h + gap if print_h else 0) + buttons_h - btn_h
    fixed = (
        m
        + head_h
        + lines_h
        + (note_h + gap if note_h else 0)
        + printing_h
        + gap
        + gap
        + btn_h
        + L.px(1)
        + floor_lh
        + m
    )  # a gap above and below the codes
    # the photo gives way to what printing adds (the line, a second button row) before any
    # code shrinks for it, down to PHOTO_LEAST_PRINTING
    photo_min = max(L.h * PHOTO_LEAST_PRINTING // 100, L.h * 22 // 100 - printing_h)
    k = len(blocks)
    plans: list[BlockPlan] = []
    blocks_h = 0
    if blocks:
        col_w = (width - gap * (k - 1)) // k
        n = len(reference(blocks).matrix)
        cell = draw.qr_cell(n, min(col_w, L.h * 36 // 100))
        while True:
            cells, sides = code_sides(blocks, cell)
            widths = [col_w] * k
            label_h, caption_h, measured = _blocks_height(fonts, L, blocks, widths)
            blocks_h = label_h + (inner if label_h else 0) + max(sides) + inner + caption_h
            if (max(sides) <= col_w and fixed + gap + blocks_h + photo_min <= L.h) or cell == 1:
                break
            cell -= 1
    photo_h = max(1, L.h - fixed - (gap + blocks_h if blocks else 0))
    photo = pygame.Rect(m, m, width, photo_h)
    y = photo.bottom + gap
    headline = pygame.Rect(m, y, width, head_h)
    y = headline.bottom
    boxes = line_boxes(fonts, L, column_lines, m, y, width)
    y = boxes[-1].bottom if boxes else y
    lines = list(zip(column_lines, boxes))
    status = lines.pop()[1] if texts.status else None
    note = None
    if note_h:
        note = pygame.Rect(m, y, width, note_h)
        y = note.bottom + gap
    print_note = None
    if print_h:
        print_note = pygame.Rect(m, y, width, print_h)
        y = print_note.bottom + gap
    if blocks:
        lefts = [m + i * (col_w + gap) for i in range(k)]
        total = k * col_w + (k - 1) * gap
        lefts = [x + (width - total) // 2 for x in lefts]
        plans = _place_blocks(
            fonts, L, blocks, measured, cells, sides, lefts, widths, y + gap, label_h, inner
        )
    countdown = pygame.Rect(m, L.h - m - floor_lh, width, floor_lh)
    button, print_button = button_row(fonts, L, texts, width, btn_h, countdown.top - L.px(1))
    return ResultPlan(
        headline, lines, status, photo, note, button, countdown, plans, print_button, print_note
    )
