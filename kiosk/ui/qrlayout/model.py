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
# The line about a guest's print: condensed, so it takes one line where a row is all it gets
PRINT_WEIGHT = CONDENSED
PHOTO_LEAST = 15  # per cent of the screen's height the photo keeps (its column, or its row)
PHOTO_LEAST_PRINTING = 12  # and on a portrait screen beside a line about a print (it gives way)


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
    countdown: pygame.Rect  # empty (no height) when the line about a print took its place
    blocks: list[BlockPlan]
    # [print]: the Print button beside (or above) New photo, and the line that says where the
    # guest's print is (up to NOTE_LINES at the floor); None without printing
    print_button: pygame.Rect | None = None
    print_note: pygame.Rect | None = None


@dataclass(frozen=True)
class ResultTexts:
    headline: str
    lines: list[str]  # body size, each up to three rows (line_rows)
    status: str  # a line about the link (body, as the lines)
    note: str  # up to NOTE_LINES at the floor, or ""
    button: str
    countdown: str  # the longest countdown text ("… 60 s")
    print_button: str = ""  # the Print button's label ("": no button)
    print_note: str = ""  # where the guest's print is ("": nothing to say)
    print_in_column: bool = False  # beside two codes: the line in the photo's column, not under
    print_in_row: bool = False  # a row per step: the line in the countdown's row (the countdown
    # gives way) or, longer than one line, in a row above the buttons


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
    print_button: pygame.Rect | None = None
    print_note: pygame.Rect | None = None
