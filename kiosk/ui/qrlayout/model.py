"""What the result screen's layout takes and gives: QR blocks and texts in, rectangles out.

Named dataclasses rather than tuples, so a planner (kiosk/ui/qrlayout/columns.py,
kiosk/ui/qrlayout/steps.py) and the screen that draws (kiosk/ui/screens/result.py) agree on
what each rectangle is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygame

from kiosk.ui.theme import CONDENSED, REGULAR

# The note that the local effect stood in: lines at the floor it may take (a narrow column
# beside two codes needs five in French)
NOTE_LINES = 5


@dataclass(frozen=True)
class Caption:
    text: str
    strong: bool = False  # something to type or read out (an address, a password)

    @property
    def weight(self) -> bool | str:
        return CONDENSED if self.strong else REGULAR


@dataclass
class QrBlock:
    name: str  # "download", "wifi", …
    matrix: list[list[bool]]  # without its quiet zone (kiosk/ui/draw.py adds it)
    label: str  # above the code
    captions: list[list[Caption]] = field(default_factory=list)  # ways to write the lines


@dataclass
class BlockPlan:
    block: QrBlock
    label: pygame.Rect
    code: pygame.Rect  # the white card, quiet zone included
    cell: int  # pixels per module
    captions: list[tuple[Caption, pygame.Rect]]


@dataclass
class ResultPlan:
    headline: pygame.Rect
    lines: list[tuple[str, pygame.Rect]]  # under the headline: the style, and the code's
    # label when it moved there to give the code more height (up to two rows each)
    status: pygame.Rect | None  # where the link works: under the codes when they
    # share a row, else with the lines under the headline
    photo: pygame.Rect
    note: pygame.Rect | None
    button: pygame.Rect
    countdown: pygame.Rect
    blocks: list[BlockPlan]


@dataclass(frozen=True)
class ResultTexts:
    headline: str
    lines: list[str]  # body size, each up to three rows (line_rows)
    status: str  # a line about the link (body, as the lines)
    note: str  # up to NOTE_LINES at the floor, or ""
    button: str
    countdown: str  # the longest countdown text ("… 60 s")


@dataclass
class PhotoColumn:
    """The column beside the codes (side by side): headline and lines at its top, the button
    and countdown at its bottom, the note above them, the photo in what is left."""

    headline: pygame.Rect
    lines: list[pygame.Rect]
    photo: pygame.Rect
    note: pygame.Rect | None
    button: pygame.Rect
    countdown: pygame.Rect
