"""Which layout the result screen gets: on a portrait panel with two codes or more, a row per
step (kiosk/ui/qrlayout/steps.py) when the rows fit; otherwise the codes side by side
(kiosk/ui/qrlayout/columns.py). `plan()` gives every element its rectangle and each code its
module size; kiosk/ui/screens/result.py only draws."""

from __future__ import annotations

import dataclasses

from kiosk.ui import draw
from kiosk.ui.qrlayout.columns import plan_landscape, plan_portrait
from kiosk.ui.qrlayout.model import (
    NOTE_LINES,
    PHOTO_LEAST,
    PRINT_WEIGHT,
    QrBlock,
    ResultPlan,
    ResultTexts,
)
from kiosk.ui.qrlayout.steps import plan_steps
from kiosk.ui.theme import Fonts, Layout


def plan(L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts) -> ResultPlan:
    """Every rectangle of the result screen (`blocks` may be empty: no link yet).

    With two codes or more the status line says again what the first step says (join the booth
    Wi-Fi to download): it gives way when that lets the smallest code grow (a long network
    name). The line about a guest's print goes under the codes, or into the photo's column when
    that holds it and the codes grow by it; a code never shrinks for it if it need not."""
    best, base = _plan(L, fonts, blocks, texts), texts
    if len(blocks) > 1 and best.status is not None:  # (not shown: nothing to give)
        bare = _plan(L, fonts, blocks, dataclasses.replace(texts, status=""))
        if _smallest_cell(bare) > _smallest_cell(best):
            best, base = bare, dataclasses.replace(texts, status="")
    if len(blocks) > 1 and texts.print_note:
        # The line about a print: under the codes (landscape) or beside the photo (portrait),
        # unless the photo's column holds it (landscape: at the floor, the photo keeping
        # PHOTO_LEAST of the height) or a row of its own does (portrait), and the codes grow.
        portrait = L.portrait
        for t in (
            dataclasses.replace(x, print_in_row=portrait, print_in_column=not portrait)
            for x in (base, texts)
        ):
            p = _plan(L, fonts, blocks, t)
            if (t.print_in_row or _holds(L, fonts, p, t)) and _cells(p) > _cells(best):
                best = p
    return best


def _holds(L: Layout, fonts: Fonts, p: ResultPlan, texts: ResultTexts) -> bool:
    if p.print_note is None or p.photo.height < L.h * PHOTO_LEAST // 100:
        return False
    rows = draw.wrap(fonts, texts.print_note, L.type.floor, p.print_note.width, PRINT_WEIGHT)
    return len(rows) <= NOTE_LINES


def _smallest_cell(p: ResultPlan) -> int:
    """The module size of its hardest code to read."""
    return min(b.cell for b in p.blocks)


def _cells(p: ResultPlan) -> tuple[int, int]:
    """How well its codes read: the module size of the hardest, then of the download code."""
    download = next((b.cell for b in p.blocks if b.block.name == "download"), 0)
    return _smallest_cell(p), download


def _plan(L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts) -> ResultPlan:
    if L.portrait and len(blocks) > 1:
        steps = plan_steps(L, fonts, blocks, texts)
        if steps is not None:
            return steps
    if L.portrait:
        return plan_portrait(L, fonts, blocks, texts)
    return plan_landscape(L, fonts, blocks, texts)
