"""The result screen's layout: where the photo, the texts and each QR code go (no drawing).

`plan()` is the entry; the model's dataclasses are what it takes and gives."""

from kiosk.ui.qrlayout.measure import line_rows
from kiosk.ui.qrlayout.model import (
    NOTE_LINES,
    PRINT_WEIGHT,
    BlockPlan,
    Caption,
    QrBlock,
    ResultPlan,
    ResultTexts,
)
from kiosk.ui.qrlayout.plan import plan

__all__ = [
    "NOTE_LINES",
    "PRINT_WEIGHT",
    "BlockPlan",
    "Caption",
    "QrBlock",
    "ResultPlan",
    "ResultTexts",
    "line_rows",
    "plan",
]
