"""Which layout the result screen gets: on a portrait panel with two codes or more, a row per
step (kiosk/ui/qrlayout/steps.py) when the rows fit; otherwise the codes side by side
(kiosk/ui/qrlayout/columns.py). `plan()` gives every element its rectangle and each code its
module size; kiosk/ui/screens/result.py only draws."""

from __future__ import annotations

import dataclasses

from kiosk.ui.qrlayout.columns import plan_landscape, plan_portrait
from kiosk.ui.qrlayout.model import QrBlock, ResultPlan, ResultTexts
from kiosk.ui.qrlayout.steps import plan_steps
from kiosk.ui.theme import Fonts, Layout


def plan(L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts) -> ResultPlan:
    """Every rectangle of the result screen (`blocks` may be empty: no link yet).

    With two codes or more the status line says again what the first step says (join the booth
    Wi-Fi to download): it gives way when that lets the smallest code grow (a long network
    name)."""
    best = _plan(L, fonts, blocks, texts)
    if len(blocks) > 1 and best.status is not None:  # (not shown: nothing to give)
        bare = _plan(L, fonts, blocks, dataclasses.replace(texts, status=""))
        if _smallest_cell(bare) > _smallest_cell(best):
            return bare
    return best


def _smallest_cell(p: ResultPlan) -> int:
    """The module size of its hardest code to read."""
    return min(b.cell for b in p.blocks)


def _plan(L: Layout, fonts: Fonts, blocks: list[QrBlock], texts: ResultTexts) -> ResultPlan:
    if L.portrait and len(blocks) > 1:
        steps = plan_steps(L, fonts, blocks, texts)
        if steps is not None:
            return steps
    if L.portrait:
        return plan_portrait(L, fonts, blocks, texts)
    return plan_landscape(L, fonts, blocks, texts)
