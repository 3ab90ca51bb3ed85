"""Drawing helpers: fitted/wrapped text, buttons, marks, spinner, QR, image fitting.

Whatever is worth keeping between frames (rendered text, scaled images, gradients, shade layers,
QR codes) goes into the kiosk's one image cache (`kiosk/ui/surfaces.py`), passed in as `store`.

Text is fitted to its layout box and never below the type scale's floor (`kiosk/ui/theme.py`);
inside `recording()` every line drawn is recorded with its size, rectangle and box, so tests
can measure what a guest would read (tests/kiosk/test_type.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pygame

from kiosk.ui import theme
from kiosk.ui.surfaces import ImageStore
from kiosk.ui.theme import Fonts


@dataclass(frozen=True)
class TextRecord:
    """One line of text as drawn: what the type and overflow tests check (tests/kiosk)."""

    text: str
    size: int  # the font's pixel size after fitting
    rect: pygame.Rect  # where the line went
    box: pygame.Rect  # the layout box it had to stay in
    role: str  # headline, body, button, floor, display, … (theme.TypeScale)
    cut: bool = False  # did not fit even at the floor: drawn with an ellipsis


_records: list[TextRecord] | None = None


@contextmanager
def recording() -> Iterator[list[TextRecord]]:
    """Collect every line of text drawn inside the block (one frame: `app.step()`)."""
    global _records
    outer, _records = _records, []
    try:
        yield _records
    finally:
        _records = outer


def _record(
    s: str, size: int, rect: pygame.Rect, box: pygame.Rect | None, role: str, cut: bool
) -> None:
    if _records is not None and s.strip():
        _records.append(
            TextRecord(
                s,
                size,
                pygame.Rect(rect),
                pygame.Rect(box) if box is not None else pygame.Rect(rect),
                role,
                cut,
            )
        )


def render(
    fonts: Fonts, text: str, size: int, color: tuple, bold: bool | str = True
) -> pygame.Surface:
    return fonts.render(text, size, color, bold)


def fit_size(
    fonts: Fonts,
    text: str,
    size: int,
    max_w: int,
    bold: bool | str = True,
    min_size: int | None = None,
) -> int:
    """The largest size ≤ `size` at which `text` fits in `max_w` pixels, never below
    `min_size` (default: the type scale's floor)."""
    floor = fonts.floor if min_size is None else min_size
    while size > floor and fonts.get(size, bold).size(text)[0] > max_w:
        size = max(floor, int(size * 0.94))
    return size


def ellipsize(fonts: Fonts, text: str, size: int, max_w: int, bold: bool | str = True) -> str:
    """`text`, cut with an ellipsis until it fits `max_w` (the last resort below the floor)."""
    font = fonts.get(size, bold)
    if font.size(text)[0] <= max_w:
        return text
    while text and font.size(text + "…")[0] > max_w:
        text = text[:-1]
    return text.rstrip() + "…"


def text(
    surface: pygame.Surface,
    fonts: Fonts,
    s: str,
    size: int,
    color: tuple,
    pos: tuple[int, int] | None = None,
    anchor: str = "center",
    bold: bool | str = True,
    max_w: int | None = None,
    shadow: bool = False,
    box: pygame.Rect | None = None,
    role: str = "body",
    min_size: int | None = None,
) -> pygame.Rect:
    """Draw one line; `anchor` is a pygame.Rect attribute name (center, midtop, topleft …).

    `box` is the layout box the line must stay in: it sets the width to fit (unless `max_w`
    does) and, without `pos`, the anchor point (the box's own `anchor`). The text shrinks to fit
    but never below `min_size` (default: the floor); what still does not fit is cut with an
    ellipsis and recorded as cut."""
    if box is not None:
        if max_w is None:
            max_w = box.width
        if pos is None:
            pos = getattr(box, anchor)
    assert pos is not None, "text() needs a position or a box"
    cut = False
    if max_w is not None:
        size = fit_size(fonts, s, size, max_w, bold, min_size)
        shown = ellipsize(fonts, s, size, max_w, bold)
        cut = shown != s
        s = shown
    img = render(fonts, s, size, color, bold)
    rect = img.get_rect(**{anchor: pos})
    if shadow:
        sh = render(fonts, s, size, (0, 0, 0), bold)
        off = max(1, size // 18)
        sh = sh.copy()
        sh.set_alpha(150)
        surface.blit(sh, rect.move(off, off))
    surface.blit(img, rect)
    _record(s, size, rect, box, role, cut)
    return rect


def wrap(fonts: Fonts, s: str, size: int, max_w: int, bold: bool | str = False) -> list[str]:
    """Lines of at most `max_w` pixels, broken at spaces only (a no-break space holds)."""
    font = fonts.get(size, bold)
    lines: list[str] = []
    for para in s.split("\n"):
        line = ""
        for word in [w for w in para.split(" ") if w]:
            trial = f"{line} {word}".strip()
            if font.size(trial)[0] <= max_w or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def line_height(fonts: Fonts, size: int, bold: bool | str = False) -> int:
    return int(fonts.get(size, bold).get_linesize() * 1.05)


def fit_lines(
    fonts: Fonts,
    s: str,
    size: int,
    max_w: int,
    max_lines: int,
    bold: bool | str = False,
    min_size: int | None = None,
) -> tuple[int, list[str]]:
    """(size, lines): `s` wrapped to `max_w`, shrunk until it takes at most `max_lines` lines
    but never below `min_size` (default: the floor); may still be longer than `max_lines`."""
    floor = fonts.floor if min_size is None else min_size
    lines = wrap(fonts, s, size, max_w, bold)
    while (
        len(lines) > max_lines or max(fonts.get(size, bold).size(ln)[0] for ln in lines) > max_w
    ) and size > floor:
        size = max(floor, int(size * 0.92))
        lines = wrap(fonts, s, size, max_w, bold)
    return size, lines


def fit_headline(
    fonts: Fonts, s: str, size: int, min_size: int, max_w: int
) -> tuple[int, list[str]]:
    """(size, lines) of a headline: one line, shrunk towards `min_size` if need be, else two."""
    one = fit_size(fonts, s, size, max_w, True, min_size)
    if fonts.get(one, True).size(s)[0] <= max_w:
        return one, [s]
    return fit_lines(fonts, s, size, max_w, 2, True, min_size)


def paragraph(
    surface: pygame.Surface,
    fonts: Fonts,
    s: str,
    size: int,
    color: tuple,
    midtop: tuple[int, int] | None = None,
    max_w: int | None = None,
    bold: bool | str = False,
    max_lines: int = 4,
    align: str = "center",
    box: pygame.Rect | None = None,
    role: str = "body",
    shadow: bool = False,
    min_size: int | None = None,
) -> pygame.Rect:
    """Wrapped text in `box` (or below `midtop`, `max_w` wide); shrinks until it fits in
    `max_lines` lines, never below the floor; lines beyond that are dropped and the last one
    ends in an ellipsis. Returns the area the lines took."""
    if box is not None:
        max_w = box.width if max_w is None else max_w
        midtop = midtop or box.midtop
    assert midtop is not None and max_w is not None
    size, lines = fit_lines(fonts, s, size, max_w, max_lines, bold, min_size)
    cut = len(lines) > max_lines
    if cut:
        lines = lines[:max_lines]
        lines[-1] = ellipsize(fonts, lines[-1] + "…", size, max_w, bold)
    x, y = midtop
    line_h = line_height(fonts, size, bold)
    area = pygame.Rect(x - max_w // 2, y, max_w, 0)
    for line in lines:
        pos = (x, y) if align == "center" else (area.x, y)
        r = text(
            surface,
            fonts,
            line,
            size,
            color,
            pos,
            anchor="midtop" if align == "center" else "topleft",
            bold=bold,
            max_w=max_w,
            shadow=shadow,
            box=box,
            role=role,
            min_size=size,
        )
        if cut and _records:
            _records[-1] = dataclasses.replace(_records[-1], cut=True)
        y += line_h
        area.union_ip(r)
    area.height = max(area.height, y - midtop[1])
    return area


def rounded(
    surface: pygame.Surface,
    rect: pygame.Rect,
    color: tuple,
    radius: int,
    alpha: int = 255,
    border: int = 0,
    border_color: tuple | None = None,
    store: ImageStore | None = None,
) -> None:
    """A rounded rectangle; a translucent one is drawn on a layer, kept in `store` when given
    (drawn every frame, it is the same few layers again and again)."""
    if alpha >= 255:
        pygame.draw.rect(surface, color, rect, border_radius=radius)
    else:

        def make() -> pygame.Surface:
            layer = pygame.Surface(rect.size, pygame.SRCALPHA)
            pygame.draw.rect(layer, (*color[:3], alpha), layer.get_rect(), border_radius=radius)
            return layer

        key = ("rounded", tuple(rect.size), tuple(color[:3]), radius, alpha)
        surface.blit(store.derive(key, make) if store is not None else make(), rect)
    if border and border_color:
        pygame.draw.rect(surface, border_color, rect, width=border, border_radius=radius)


def button(
    surface: pygame.Surface,
    fonts: Fonts,
    rect: pygame.Rect,
    label: str,
    primary: bool = True,
    size: int | None = None,
    pulse: float = 0.0,
    store: ImageStore | None = None,
) -> None:
    """A pill button; `pulse` (0..1) widens and brightens the glow of a primary button. The
    label fits inside the pill's straight part. With `store` the glow's layers are kept
    (`pulse` is then taken in GLOW_STEPS steps, so there are only that many)."""
    radius = rect.height // 2
    size = size or int(rect.height * 0.42)
    if primary:
        if store is not None:
            pulse = round(pulse * GLOW_STEPS) / GLOW_STEPS
        spread = int(rect.height * (0.2 + 0.22 * pulse))
        glow = rect.inflate(spread, spread)
        rounded(
            surface, glow, theme.GOLD, glow.height // 2, alpha=int(60 + 50 * pulse), store=store
        )
        rounded(surface, rect, theme.GOLD, radius)
        fg = theme.ON_GOLD
    else:
        rounded(
            surface,
            rect,
            (20, 20, 28),
            radius,
            alpha=200,
            border=max(2, rect.height // 22),
            border_color=theme.INK,
        )
        fg = theme.INK
    inner = rect.inflate(-(rect.height // 2), -(rect.height // 5))
    text(surface, fonts, label, size, fg, rect.center, box=inner, role="button")


GLOW_STEPS = 10  # a breathing glow in 10 steps each way still looks smooth (2.6 s a breath)


def spinner(
    surface: pygame.Surface,
    center: tuple[int, int],
    radius: int,
    t: float,
    color: tuple = theme.GOLD,
    dots: int = 12,
    dot_r: int | None = None,
) -> None:
    """A ring of dots whose brightness chases around (reads well even at a low frame rate)."""
    head = (t * dots * 0.9) % dots
    dot_r = dot_r or max(2, radius // 7)
    for i in range(dots):
        age = (head - i) % dots
        fade = max(0.18, 1.0 - age / dots)
        ang = 2 * math.pi * i / dots - math.pi / 2
        x = center[0] + radius * math.cos(ang)
        y = center[1] + radius * math.sin(ang)
        c = tuple(int(ch * fade) for ch in color)
        pygame.draw.circle(surface, c, (round(x), round(y)), dot_r)


def tick(surface: pygame.Surface, center: tuple[int, int], r: int, color: tuple) -> None:
    """A filled disc with a white check mark (a photo is ready)."""
    cx, cy = center
    pygame.draw.circle(surface, color, center, r)
    w = max(2, r // 3)
    pygame.draw.lines(
        surface,
        theme.WHITE,
        False,
        [(cx - r * 0.5, cy), (cx - r * 0.12, cy + r * 0.4), (cx + r * 0.5, cy - r * 0.38)],
        w,
    )


def alert(surface: pygame.Surface, center: tuple[int, int], r: int, color: tuple) -> None:
    """A filled disc with a white exclamation mark, drawn (not a glyph of any size)."""
    cx, cy = center
    pygame.draw.circle(surface, color, center, r)
    w = max(2, r // 3)
    pygame.draw.rect(
        surface, theme.WHITE, (cx - w // 2, cy - r * 0.55, w, r * 0.7), border_radius=w // 2
    )
    pygame.draw.circle(surface, theme.WHITE, (cx, round(cy + r * 0.45)), max(1, w // 2 + 1))


def lock(surface: pygame.Surface, center: tuple[int, int], size: int, color: tuple) -> None:
    """A padlock: a photo that no longer opens its QR from the strip."""
    cx, cy = center
    body = pygame.Rect(0, 0, size * 2, round(size * 1.5))
    body.midtop = (cx, cy - size // 4)
    w = max(2, size // 4)
    shackle = pygame.Rect(0, 0, round(size * 1.3), round(size * 1.6))
    shackle.midbottom = (cx, body.top + shackle.height // 2)
    pygame.draw.arc(surface, color, shackle, 0, math.pi, w)
    pygame.draw.line(
        surface,
        color,
        (shackle.left + w // 2, shackle.centery),
        (shackle.left + w // 2, body.top),
        w,
    )
    pygame.draw.line(
        surface,
        color,
        (shackle.right - w // 2 - 1, shackle.centery),
        (shackle.right - w // 2 - 1, body.top),
        w,
    )
    pygame.draw.rect(surface, color, body, border_radius=max(1, size // 4))


def qr_surface(matrix: Sequence[Sequence[bool]], cell: int, pad: int) -> pygame.Surface:
    """A QR code as crisp `cell`-pixel modules on a white card with `pad` pixels of quiet zone
    (the matrix carries none)."""
    n = len(matrix)
    side = cell * n + 2 * pad
    surf = pygame.Surface((side, side), pygame.SRCALPHA)
    pygame.draw.rect(surf, theme.WHITE, surf.get_rect(), border_radius=max(0, pad // 3))
    for y, row in enumerate(matrix):
        x0 = None
        for x, dark in enumerate(list(row) + [False]):
            if dark and x0 is None:
                x0 = x
            elif not dark and x0 is not None:
                pygame.draw.rect(
                    surf, theme.BLACK, (pad + x0 * cell, pad + y * cell, (x - x0) * cell, cell)
                )
                x0 = None
    return surf


QUIET_MODULES = 1.5  # quiet zone of a code on screen, in modules: its card is lit and white


def qr_cell(modules: int, side: int) -> int:
    """The largest whole-pixel module size at which a code of `modules` and its quiet zone fit
    in `side` pixels (whole pixels keep every module sharp for the phone's camera)."""
    return max(1, int(side // (modules + 2 * QUIET_MODULES)))


def qr_side(modules: int, cell: int) -> int:
    return modules * cell + 2 * round(QUIET_MODULES * cell)


def qr(
    surface: pygame.Surface,
    store: ImageStore,
    matrix: Sequence[Sequence[bool]],
    rect: pygame.Rect,
    cell: int | None = None,
) -> pygame.Rect:
    """Draw a QR code on its white card centred in `rect`, with modules of `cell` pixels (or
    the largest that fit). Drawn once per size, then blitted. Returns the card's rectangle."""
    n = len(matrix)
    cell = cell or qr_cell(n, min(rect.width, rect.height))
    pad = round(QUIET_MODULES * cell)
    key = ("qr", tuple(tuple(r) for r in matrix), cell, pad)
    img = store.derive(key, lambda: qr_surface(matrix, cell, pad))
    box = img.get_rect(center=rect.center)
    surface.blit(img, box)
    return box


def fit_rect(src: tuple[int, int], box: pygame.Rect, cover: bool = False) -> pygame.Rect:
    sw, sh = src
    scale = (max if cover else min)(box.width / sw, box.height / sh)
    r = pygame.Rect(0, 0, max(1, round(sw * scale)), max(1, round(sh * scale)))
    r.center = box.center
    return r


def blit_fit(
    surface: pygame.Surface,
    store: ImageStore,
    img: pygame.Surface,
    box: pygame.Rect,
    cover: bool = False,
    smooth: bool = True,
) -> pygame.Rect:
    """`img` scaled to fit (or cover) `box`, centred and clipped to it; returns where it went."""
    r = fit_rect(img.get_size(), box, cover)
    img = store.scaled(img, r.size, smooth)
    clip = surface.get_clip()
    surface.set_clip(box.clip(clip) if clip else box)
    surface.blit(img, r)
    surface.set_clip(clip)
    return r.clip(box)


def gradient(
    store: ImageStore,
    size: tuple[int, int],
    top_alpha: int,
    bottom_alpha: int,
    color: tuple = (0, 0, 0),
) -> pygame.Surface:
    """A vertical alpha gradient, to keep text readable over a photo."""

    def make() -> pygame.Surface:
        w, h = size
        column = pygame.Surface((1, h), pygame.SRCALPHA)
        for y in range(h):
            a = top_alpha + (bottom_alpha - top_alpha) * (y / max(1, h - 1))
            column.set_at((0, y), (*color, int(a)))
        return pygame.transform.scale(column, (w, h))

    return store.derive(("gradient", tuple(size), top_alpha, bottom_alpha, tuple(color)), make)


def shade(
    surface: pygame.Surface,
    store: ImageStore,
    alpha: int,
    color: tuple = (0, 0, 0),
    rect: pygame.Rect | None = None,
) -> None:
    """Darken (or tint) `rect` of the surface; the layer is filled once, not every frame."""
    rect = rect or surface.get_rect()

    def make() -> pygame.Surface:
        layer = pygame.Surface(rect.size)
        layer.fill(color)
        return layer

    layer = store.derive(("shade", rect.size, tuple(color)), make)
    layer.set_alpha(alpha)
    surface.blit(layer, rect)


# ---------------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class Layer:
    """A painted layer: premultiplied RGBA, cut to what was painted, and where it goes."""

    surface: pygame.Surface
    pos: tuple[int, int]


@dataclass(frozen=True)
class _Painted:
    signature: Hashable
    records: tuple[TextRecord, ...]
    pos: tuple[int, int]


def layer(
    store: ImageStore,
    name: str,
    signature: Hashable,
    size: tuple[int, int],
    paint: Callable[[pygame.Surface], object],
    area: pygame.Rect | None = None,
) -> Layer:
    """What `paint` draws over a screen of `size` (texts, panels, gradients), painted once per
    `signature` and then put on each frame with `blit_layer`: one blit of what was painted
    instead of every text fitted, rendered and blitted again. The lines it drew are recorded
    again at each use, so the type tests (tests/kiosk/test_type.py) see every frame's text.

    The layer is premultiplied RGBA, found by painting twice, over black and over white: any
    sequence of alpha blits over a background B gives C + B·T (C the painted colour, T what
    shows through), so over black the result is C and over white C + 255·T. Blitting C with
    alpha 1 − T (BLEND_PREMULTIPLIED) gives exactly what painting over the preview gave,
    antialiased edges included (a plain RGBA layer would darken them). It is cut to the
    painted pixels' bounding box, so a small layer costs a small blit. With `area` the canvas
    is only that part of the screen, its top-left corner at (0, 0) for `paint` (a strip that
    changes often: a cheap repaint)."""
    global _records
    key = ("layer", name, tuple(size))
    hit = store.get(key)
    kept = store.kept(key)
    if hit is not None and isinstance(kept, _Painted) and kept.signature == signature:
        if _records is not None:
            _records.extend(kept.records)
        return Layer(hit, kept.pos)
    outer = _records
    box = pygame.Rect(area).clip((0, 0, *size)) if area is not None else pygame.Rect(0, 0, *size)
    canvases: list[pygame.Surface] = []
    lines: list[TextRecord] = []
    for background in ((0, 0, 0), (255, 255, 255)):
        canvas = pygame.Surface(box.size)
        canvas.fill(background)
        _records = lines = []
        try:
            paint(canvas)
        finally:
            _records = outer
        canvases.append(canvas)
    if box.topleft != (0, 0):
        lines = [
            dataclasses.replace(r, rect=r.rect.move(box.topleft), box=r.box.move(box.topleft))
            for r in lines
        ]
    black = pygame.surfarray.pixels3d(canvases[0])  # views (w, h, 3): no copies
    white = pygame.surfarray.pixels3d(canvases[1])
    # what shows through: the same in every channel but for rounding, so green alone says it
    through = white[:, :, 1].astype(np.int16) - black[:, :, 1]
    alpha = (255 - np.clip(through, 0, 255)).astype(np.uint8)
    cols, rows = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    x0, x1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 1)
    y0, y1 = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 1)
    out = pygame.Surface((x1 - x0, y1 - y0), pygame.SRCALPHA)
    a = alpha[x0:x1, y0:y1]
    pygame.surfarray.pixels3d(out)[:] = np.minimum(black[x0:x1, y0:y1], a[:, :, None])
    pygame.surfarray.pixels_alpha(out)[:] = a
    del black, white  # the views lock the canvases
    pos = (box.x + x0, box.y + y0)
    store.put(key, out, keep=_Painted(signature, tuple(lines), pos))
    if _records is not None:
        _records.extend(lines)
    return Layer(out, pos)


def blit_layer(surface: pygame.Surface, painted: Layer) -> None:
    """Put a `layer` over the screen."""
    surface.blit(painted.surface, painted.pos, special_flags=pygame.BLEND_PREMULTIPLIED)
