"""The result screen on a portrait panel with two codes or more (join the booth Wi-Fi, then
download): one row per step.

Why rows: the 7" portrait panel is 87 mm wide, so two codes side by side get modules of about
1.2 mm, and a phone at 0.7 m reads those in only half its frames. Here each step is a row of its
own: its code on one side, its label, network name and password (or the code to type) on the
other, the sides alternating so each code stands apart in the camera's view. The download code
is as large as fits; every other code is at least as large a card, with modules as large when
that fits too. The guest's photo shares the top row with the headline and gives up height before
any code shrinks, down to PHOTO_LEAST. When even that does not fit (a screen barely taller than
wide) `plan_steps` gives None and kiosk/ui/qrlayout/columns.py puts the codes side by side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

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
    PHOTO_LEAST,
    PHOTO_LEAST_PRINTING,
    PRINT_WEIGHT,
    BlockPlan,
    Caption,
    QrBlock,
    ResultPlan,
    ResultTexts,
)
from kiosk.ui.theme import Fonts, Layout

HEAD_SHARE = (46, 62)  # the headline column's width beside the photo, per cent: least, most
HEAD_SHARE_PRINTING = 75  # its most with the line about a print: the photo gives way first
# layout units: a code's white card may come closer to the screen's edge than text; between
# rows and columns; between a label, its code and its captions
EDGE, GAP, INNER = 1.5, 3, 1.5


@dataclass
class _Row:
    """One step: its code, and its texts beside it ("beside"), the label beside and the
    captions under the row ("under": a network name too long to share the row), or all above
    and below the code ("stacked")."""

    side: int
    mode: Literal["beside", "under", "stacked"]
    label_w: int
    label_rows: int
    captions: list[Caption]
    caption_w: int
    caption_rows: int
    height: int


def _text_needs(fonts: Fonts, L: Layout, block: QrBlock) -> tuple[int, int]:
    """The narrowest text column beside the code for the label with its captions, and for the
    label alone (measured once per plan: the costliest part of it)."""
    label_only = QrBlock(block.name, block.matrix, block.label)
    return text_width(fonts, L, block), text_width(fonts, L, label_only)


def _row(
    fonts: Fonts,
    L: Layout,
    block: QrBlock,
    needs: tuple[int, int],
    side: int,
    width: int,
    gap: int,
    inner: int,
) -> _Row:
    T = L.type
    label_lh = draw.line_height(fonts, T.body, True)
    floor_lh = draw.line_height(fonts, T.floor, True)
    beside_w = width - side - gap
    mode: Literal["beside", "under", "stacked"]
    if beside_w >= needs[0]:
        mode, label_w, caption_w = "beside", beside_w, beside_w
    elif beside_w >= needs[1]:
        mode, label_w, caption_w = "under", beside_w, width
    else:
        mode, label_w, caption_w = "stacked", width, width
    label_rows = text_rows(fonts, block.label, T.body, label_w, 2, True)
    captions = pick_captions(fonts, block, caption_w, T.floor)
    caption_rows = sum(text_rows(fonts, c.text, T.floor, caption_w, 2, c.weight) for c in captions)
    label_h, caption_h = label_rows * label_lh, caption_rows * floor_lh
    if mode == "beside":
        height = max(side, label_h + (inner if label_h and caption_h else 0) + caption_h)
    elif mode == "under":
        height = max(side, label_h) + (inner + caption_h if caption_h else 0)
    else:
        height = (
            label_h + (inner if label_h else 0) + side + (inner + caption_h if caption_h else 0)
        )
    return _Row(side, mode, label_w, label_rows, captions, caption_w, caption_rows, height)


def _head(
    fonts: Fonts, L: Layout, texts: ResultTexts, width: int
) -> tuple[int, list[str], int, int, int]:
    """(headline height, the lines under it (the status last), note height, print note
    height, height of all) in a column `width` wide."""
    T = L.type
    size, head_lines = draw.fit_headline(fonts, texts.headline, T.headline, T.headline_min, width)
    head_h = min(2, len(head_lines)) * draw.line_height(fonts, size, True)
    lines = texts.lines + ([texts.status] if texts.status else [])
    lines_h = sum(r.height for r in line_boxes(fonts, L, lines, 0, 0, width))
    floor_lh = draw.line_height(fonts, T.floor)
    note_h = text_rows(fonts, texts.note, T.floor, width, NOTE_LINES, True) * floor_lh
    print_h = (
        text_rows(fonts, texts.print_note, T.floor, width, NOTE_LINES, PRINT_WEIGHT) * floor_lh
    )
    total = head_h + lines_h + (L.px(2) + note_h if note_h else 0)
    return head_h, lines, note_h, print_h, total + (L.px(2) + print_h if print_h else 0)


def _head_width(fonts: Fonts, L: Layout, texts: ResultTexts, span: int, height: int) -> int | None:
    """The narrowest column (the photo gets the rest) whose headline, lines and note fit
    `height`, every word on a line of its own if need be; None when none does."""
    T = L.type
    words = [(w, T.headline_min) for w in texts.headline.split()] + [
        (w, T.floor)
        for line in texts.lines + [texts.status, texts.note, texts.print_note]
        for w in line.split()
    ]
    least = max(
        [span * HEAD_SHARE[0] // 100] + [fonts.get(size, True).size(w)[0] for w, size in words]
    )
    most = span * (HEAD_SHARE_PRINTING if texts.print_note else HEAD_SHARE[1]) // 100
    for width in range(least, most + 1, L.px(2)):
        note_fits = len(draw.wrap(fonts, texts.note, T.floor, width, True)) <= NOTE_LINES and (
            len(draw.wrap(fonts, texts.print_note, T.floor, width, PRINT_WEIGHT)) <= NOTE_LINES
        )
        if _head(fonts, L, texts, width)[4] <= height and note_fits:
            return width
    return None


@dataclass
class _Fit:
    cells: list[int]
    rows: list[_Row]
    top_h: int  # the photo's row
    head_w: int | None  # the headline column beside it (None: none fits)


def _fit(
    L: Layout,
    fonts: Fonts,
    blocks: list[QrBlock],
    texts: ResultTexts,
    bottom_h: int,
    least_photo: int = PHOTO_LEAST,
) -> _Fit:
    """The largest download code, every other code with modules as large if they fit, else
    merely as large a card, that leave the photo's row its least height (`least_photo` per
    cent) and room for the headline column."""
    edge, gap, inner = L.px(EDGE), L.px(GAP), L.px(INNER)
    width = L.w - 2 * edge
    span = L.w - 2 * L.margin - gap
    ref = reference(blocks)
    top = draw.qr_cell(len(ref.matrix), width)
    needs = [_text_needs(fonts, L, b) for b in blocks]
    fit = None
    for cell in range(top, 0, -1):
        for least in dict.fromkeys((cell, 1)):
            cells, sides = code_sides(blocks, cell, least)
            rows = [
                _row(fonts, L, b, n, s, width, gap, inner) for b, n, s in zip(blocks, needs, sides)
            ]
            top_h = L.h - L.margin - bottom_h - sum(r.height + gap for r in rows)
            head_w = (
                _head_width(fonts, L, texts, span, top_h)
                if top_h >= L.h * least_photo // 100 and max(sides) <= width
                else None
            )
            fit = _Fit(cells, rows, top_h, head_w)
            if head_w is not None:
                return fit
    assert fit is not None
    return fit


def plan_steps(
    L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts
) -> ResultPlan | None:
    """Every rectangle of the portrait result screen with two codes or more; None when the
    rows do not fit (a screen barely taller than wide)."""
    T = L.type
    m = L.margin
    edge, gap, inner = L.px(EDGE), L.px(GAP), L.px(INNER)
    span = L.w - 2 * m - gap  # the photo and the headline column
    floor_lh = draw.line_height(fonts, T.floor)
    btn_h = L.px(13)
    bottom_h = gap + buttons_height(fonts, L, texts, L.w - 2 * m, btn_h) + L.px(1) + floor_lh + m
    # The line about a print in a row of its own: the countdown's, when it fits on one line
    # there (the countdown gives way to it), else a row above the buttons.
    row_h, in_countdown = 0, False
    if texts.print_in_row and texts.print_note:
        rows = text_rows(fonts, texts.print_note, T.floor, L.w - 2 * m, NOTE_LINES, PRINT_WEIGHT)
        in_countdown = rows == 1
        row_h = rows * floor_lh
        if not in_countdown:
            bottom_h += row_h + L.px(1)
        texts = dataclasses.replace(texts, print_note="")
    least = PHOTO_LEAST_PRINTING if row_h and not in_countdown else PHOTO_LEAST
    fit = _fit(L, fonts, blocks, texts, bottom_h, least)
    if fit.head_w is None:
        return None
    head_w = fit.head_w
    head_h, column_lines, note_h, print_h, column_h = _head(fonts, L, texts, head_w)
    top_h = max(1, fit.top_h, column_h)
    photo = pygame.Rect(m, m, span - head_w, top_h)
    headline = pygame.Rect(photo.right + gap, m + (top_h - column_h) // 2, head_w, head_h)
    boxes = line_boxes(fonts, L, column_lines, headline.left, headline.bottom, head_w)
    lines = list(zip(column_lines, boxes))
    status = lines.pop()[1] if texts.status else None
    note = (
        pygame.Rect(
            headline.left, (boxes[-1] if boxes else headline).bottom + L.px(2), head_w, note_h
        )
        if note_h
        else None
    )
    below = note if note is not None else (boxes[-1] if boxes else headline)
    print_note = (
        pygame.Rect(headline.left, below.bottom + L.px(2), head_w, print_h) if print_h else None
    )
    plans = []
    y = photo.bottom + gap
    for i, (b, row, c) in enumerate(zip(blocks, fit.rows, fit.cells)):
        plans.append(_place(fonts, L, b, row, c, edge, y, i % 2 == 1, gap, inner))
        y += row.height + gap
    countdown = pygame.Rect(m, L.h - m - floor_lh, L.w - 2 * m, floor_lh)
    button, print_button = button_row(fonts, L, texts, L.w - 2 * m, btn_h, countdown.top - L.px(1))
    if in_countdown:
        print_note = countdown
        countdown = pygame.Rect(m, L.h - m, L.w - 2 * m, 0)  # no countdown line
    elif row_h:
        top = (print_button or button).top - L.px(1) - row_h
        print_note = pygame.Rect(m, top, L.w - 2 * m, row_h)
    return ResultPlan(
        headline, lines, status, photo, note, button, countdown, plans, print_button, print_note
    )


def _place(
    fonts: Fonts,
    L: Layout,
    block: QrBlock,
    row: _Row,
    cell: int,
    edge: int,
    top: int,
    right: bool,
    gap: int,
    inner: int,
) -> BlockPlan:
    """A row's rectangles: the code at the left edge (or the right), its texts beside it."""
    label_h = row.label_rows * draw.line_height(fonts, L.type.body, True)
    caption_h = row.caption_rows * draw.line_height(fonts, L.type.floor, True)
    code = pygame.Rect(0, 0, row.side, row.side)
    if row.mode == "stacked":
        label = pygame.Rect(edge, top, row.label_w, label_h)
        code.midtop = (L.w // 2, top + label_h + (inner if label_h else 0))
        caption_top = code.bottom + inner
    else:
        band = max(row.side, label_h) if row.mode == "under" else row.height
        code.top = top + (band - row.side) // 2
        code.left = L.w - edge - row.side if right else edge
        text_x = edge if right else code.right + gap
        text_h = label_h + (inner + caption_h if row.mode == "beside" and caption_h else 0)
        label = pygame.Rect(text_x, top + (band - text_h) // 2, row.label_w, label_h)
        caption_top = label.bottom + inner if row.mode == "beside" else top + band + inner
    caption_x = label.x if row.mode == "beside" else edge
    caps = []
    for c in row.captions:
        rows = text_rows(fonts, c.text, L.type.floor, row.caption_w, 2, c.weight)
        caps.append(
            (
                c,
                pygame.Rect(
                    caption_x,
                    caption_top,
                    row.caption_w,
                    rows * draw.line_height(fonts, L.type.floor, True),
                ),
            )
        )
        caption_top += caps[-1][1].height
    return BlockPlan(block, label, code, cell, caps)
