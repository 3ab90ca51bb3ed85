"""Drawing helpers: fitted/wrapped text, buttons, badges, spinner, QR, image fitting.

Whatever is worth keeping between frames (rendered text, scaled images, gradients, shade layers,
QR codes) goes into the kiosk's one image cache (`kiosk/images.py`), passed in as `store`.
"""

from __future__ import annotations

import math
from typing import Sequence

import pygame

from kiosk import theme
from kiosk.images import ImageStore
from kiosk.theme import Fonts


def render(fonts: Fonts, text: str, size: int, color: tuple, bold: bool = True) -> pygame.Surface:
    return fonts.render(text, size, color, bold)


def fit_size(fonts: Fonts, text: str, size: int, max_w: int, bold: bool = True,
             min_size: int = 10) -> int:
    """The largest size ≤ `size` at which `text` fits in `max_w` pixels."""
    while size > min_size and fonts.get(size, bold).size(text)[0] > max_w:
        size = max(min_size, int(size * 0.92))
    return size


def text(surface: pygame.Surface, fonts: Fonts, s: str, size: int, color: tuple,
         pos: tuple[int, int], anchor: str = "center", bold: bool = True,
         max_w: int | None = None, shadow: bool = False) -> pygame.Rect:
    """Draw one line; `anchor` is a pygame.Rect attribute name (center, midtop, topleft …)."""
    if max_w is not None:
        size = fit_size(fonts, s, size, max_w, bold)
    img = render(fonts, s, size, color, bold)
    rect = img.get_rect(**{anchor: pos})
    if shadow:
        sh = render(fonts, s, size, (0, 0, 0), bold)
        off = max(1, size // 18)
        sh = sh.copy()
        sh.set_alpha(150)
        surface.blit(sh, rect.move(off, off))
    surface.blit(img, rect)
    return rect


def wrap(fonts: Fonts, s: str, size: int, max_w: int, bold: bool = False) -> list[str]:
    font = fonts.get(size, bold)
    lines: list[str] = []
    for para in s.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if font.size(trial)[0] <= max_w or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def paragraph(surface: pygame.Surface, fonts: Fonts, s: str, size: int, color: tuple,
              midtop: tuple[int, int], max_w: int, bold: bool = False, max_lines: int = 4,
              align: str = "center") -> pygame.Rect:
    """Wrapped text; shrinks the size until it fits in `max_lines` lines."""
    lines = wrap(fonts, s, size, max_w, bold)
    while len(lines) > max_lines and size > 10:
        size = int(size * 0.9)
        lines = wrap(fonts, s, size, max_w, bold)
    lines = lines[:max_lines]
    x, y = midtop
    line_h = int(fonts.get(size, bold).get_linesize() * 1.05)
    area = pygame.Rect(x - max_w // 2, y, max_w, 0)
    for line in lines:
        img = render(fonts, line, size, color, bold)
        if img.get_width() > max_w:
            img = render(fonts, line, fit_size(fonts, line, size, max_w, bold), color, bold)
        r = img.get_rect(midtop=(x, y)) if align == "center" else img.get_rect(topleft=(area.x, y))
        surface.blit(img, r)
        y += line_h
    area.height = y - midtop[1]
    return area


def rounded(surface: pygame.Surface, rect: pygame.Rect, color: tuple, radius: int,
            alpha: int = 255, border: int = 0, border_color: tuple | None = None) -> None:
    if alpha >= 255:
        pygame.draw.rect(surface, color, rect, border_radius=radius)
    else:
        layer = pygame.Surface(rect.size, pygame.SRCALPHA)
        pygame.draw.rect(layer, (*color[:3], alpha), layer.get_rect(), border_radius=radius)
        surface.blit(layer, rect)
    if border and border_color:
        pygame.draw.rect(surface, border_color, rect, width=border, border_radius=radius)


def button(surface: pygame.Surface, fonts: Fonts, rect: pygame.Rect, label: str,
           primary: bool = True, size: int | None = None, pulse: float = 0.0) -> None:
    """A pill button; `pulse` (0..1) widens and brightens the glow of a primary button."""
    radius = rect.height // 2
    size = size or int(rect.height * 0.42)
    if primary:
        spread = int(rect.height * (0.2 + 0.22 * pulse))
        glow = rect.inflate(spread, spread)
        rounded(surface, glow, theme.GOLD, glow.height // 2, alpha=int(60 + 50 * pulse))
        rounded(surface, rect, theme.GOLD, radius)
        fg = theme.ON_GOLD
    else:
        rounded(surface, rect, (20, 20, 28), radius, alpha=200, border=max(2, rect.height // 22),
                border_color=theme.INK)
        fg = theme.INK
    text(surface, fonts, label, size, fg, rect.center, max_w=rect.width - rect.height // 2)


def pill(surface: pygame.Surface, fonts: Fonts, label: str, size: int, anchor_pos: tuple,
         anchor: str, dot: tuple | None, bg: tuple = (0, 0, 0), fg: tuple = theme.INK,
         alpha: int = 170) -> pygame.Rect:
    img = render(fonts, label, size, fg, True)
    pad_x, pad_y = int(size * 0.8), int(size * 0.45)
    dot_w = int(size * 0.9) if dot else 0
    rect = pygame.Rect(0, 0, img.get_width() + 2 * pad_x + dot_w, img.get_height() + 2 * pad_y)
    setattr(rect, anchor, anchor_pos)
    rounded(surface, rect, bg, rect.height // 2, alpha=alpha)
    x = rect.x + pad_x
    if dot:
        r = max(3, size // 4)
        pygame.draw.circle(surface, dot, (x + r, rect.centery), r)
        x += dot_w
    surface.blit(img, img.get_rect(midleft=(x, rect.centery)))
    return rect


def spinner(surface: pygame.Surface, center: tuple[int, int], radius: int, t: float,
            color: tuple = theme.GOLD, dots: int = 12) -> None:
    """A ring of dots whose brightness chases around (reads well even at a low frame rate)."""
    head = (t * dots * 0.9) % dots
    dot_r = max(2, radius // 7)
    for i in range(dots):
        age = (head - i) % dots
        fade = max(0.18, 1.0 - age / dots)
        ang = 2 * math.pi * i / dots - math.pi / 2
        x = center[0] + radius * math.cos(ang)
        y = center[1] + radius * math.sin(ang)
        c = tuple(int(ch * fade) for ch in color)
        pygame.draw.circle(surface, c, (round(x), round(y)), dot_r)


def qr_surface(matrix: Sequence[Sequence[bool]], cell: int) -> pygame.Surface:
    """A QR code (matrix includes its quiet zone) as crisp `cell`-pixel modules on white."""
    n = len(matrix)
    surf = pygame.Surface((cell * n, cell * n))
    surf.fill(theme.WHITE)
    for y, row in enumerate(matrix):
        x0 = None
        for x, dark in enumerate(list(row) + [False]):
            if dark and x0 is None:
                x0 = x
            elif not dark and x0 is not None:
                pygame.draw.rect(surf, theme.BLACK, (x0 * cell, y * cell, (x - x0) * cell, cell))
                x0 = None
    return surf


def qr(surface: pygame.Surface, store: ImageStore, matrix: Sequence[Sequence[bool]],
       rect: pygame.Rect) -> pygame.Rect:
    """Draw a QR code centred in `rect`; the module size is a whole number of pixels so every
    module is sharp and scanners read it. Drawn once per size, then blitted."""
    n = len(matrix)
    cell = max(1, min(rect.width, rect.height) // n)
    key = ("qr", tuple(tuple(r) for r in matrix), cell)
    img = store.derive(key, lambda: qr_surface(matrix, cell))
    box = img.get_rect(center=rect.center)
    surface.blit(img, box)
    return box


def fit_rect(src: tuple[int, int], box: pygame.Rect, cover: bool = False) -> pygame.Rect:
    sw, sh = src
    scale = (max if cover else min)(box.width / sw, box.height / sh)
    r = pygame.Rect(0, 0, max(1, round(sw * scale)), max(1, round(sh * scale)))
    r.center = box.center
    return r


def blit_fit(surface: pygame.Surface, store: ImageStore, img: pygame.Surface, box: pygame.Rect,
             cover: bool = False, smooth: bool = True) -> pygame.Rect:
    """`img` scaled to fit (or cover) `box`, centred and clipped to it; returns where it went."""
    r = fit_rect(img.get_size(), box, cover)
    img = store.scaled(img, r.size, smooth)
    clip = surface.get_clip()
    surface.set_clip(box.clip(clip) if clip else box)
    surface.blit(img, r)
    surface.set_clip(clip)
    return r.clip(box)


def gradient(store: ImageStore, size: tuple[int, int], top_alpha: int, bottom_alpha: int,
             color: tuple = (0, 0, 0)) -> pygame.Surface:
    """A vertical alpha gradient, to keep text readable over a photo."""
    def make() -> pygame.Surface:
        w, h = size
        column = pygame.Surface((1, h), pygame.SRCALPHA)
        for y in range(h):
            a = top_alpha + (bottom_alpha - top_alpha) * (y / max(1, h - 1))
            column.set_at((0, y), (*color, int(a)))
        return pygame.transform.scale(column, (w, h))

    return store.derive(("gradient", tuple(size), top_alpha, bottom_alpha, tuple(color)), make)


def shade(surface: pygame.Surface, store: ImageStore, alpha: int, color: tuple = (0, 0, 0),
          rect: pygame.Rect | None = None) -> None:
    """Darken (or tint) `rect` of the surface; the layer is filled once, not every frame."""
    rect = rect or surface.get_rect()

    def make() -> pygame.Surface:
        layer = pygame.Surface(rect.size)
        layer.fill(color)
        return layer

    layer = store.derive(("shade", rect.size, tuple(color)), make)
    layer.set_alpha(alpha)
    surface.blit(layer, rect)
