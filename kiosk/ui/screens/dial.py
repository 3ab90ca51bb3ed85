"""The countdown's dial over the live preview: the headline, a ring that empties over each
second around the number, and the style's lines under it. The countdown screen and each shot of
a strip session (kiosk/ui/screens/session.py) draw the same dial, so a guest sees one countdown."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.context import ScreenContext
from kiosk.ui.offer import style_label
from kiosk.ui.screens.base import headline, headline_box

POP_STEPS = 5  # the number's pop in 5 sizes: 5 fonts, not one per frame


@dataclass(frozen=True)
class Dial:
    """Where the dial's parts go: the same for a whole countdown."""

    title: str
    lines: tuple[str, ...]  # under the ring; the first is the style's label when there is one
    labelled: bool
    ring: pygame.Rect
    head: pygame.Rect
    body_h: int

    @property
    def signature(self) -> tuple:
        return (self.title, self.lines, self.labelled, tuple(self.ring), tuple(self.head))


def dial_for(ctx: ScreenContext, title: str, style: str | None) -> Dial:
    """The ring as large as the screen allows with the headline above and the lines below, the
    three centred as one group."""
    L, T, t = ctx.layout, ctx.layout.type, ctx.texts
    lines = [t("look_at_camera")]
    label = style_label(ctx.cfg, style)
    if label:
        lines.insert(0, t("style_named", style=label))
    body_h = draw.line_height(ctx.fonts, T.body, True)
    head = headline_box(ctx, title, L.margin, 0, L.w - 2 * L.margin)
    gap = L.px(2.5)
    radius = min(L.px(24), (L.h - 2 * L.margin - head.height - len(lines) * body_h - 2 * gap) // 2)
    group = head.height + 2 * gap + 2 * radius + len(lines) * body_h
    ring = pygame.Rect(0, 0, 2 * radius, 2 * radius)
    ring.center = (L.w // 2, (L.h - group) // 2 + head.height + gap + radius)
    head.bottom = ring.top - gap
    return Dial(title, tuple(lines), bool(label), ring, head, body_h)


def draw_dial(ctx: ScreenContext, surf: pygame.Surface, dial: Dial, left_s: float) -> None:
    """Over what is on `surf` (the preview): the still part (shade, disc, ring, words) as one
    cached layer (kiosk/ui/draw.py), then the arc and the number, which move. `left_s`: the
    seconds left in the countdown."""
    L, T = ctx.layout, ctx.layout.type
    size = (L.w, L.h)
    draw.blit_layer(
        surf,
        draw.layer(ctx.images, "countdown", dial.signature, size, lambda s: _paint(ctx, s, dial)),
    )
    left = max(0.0, left_s)
    number = max(1, math.ceil(left))
    frac = left - math.floor(left) if left % 1 else 1.0
    start = math.pi / 2
    arc = start + 2 * math.pi * frac
    pygame.draw.arc(surf, theme.GOLD, dial.ring, start, arc, width=L.px(1.6))
    # the number pops in at the start of each second (in POP_STEPS sizes: a font each)
    pop = 1.0 + 0.25 * round(max(0.0, frac - 0.8) / 0.2 * POP_STEPS) / POP_STEPS
    radius = dial.ring.width // 2
    size_px = int(T.display * radius / L.px(24) * pop)
    draw.text(surf, ctx.fonts, str(number), size_px, theme.GOLD, dial.ring.center, role="display")


def _paint(ctx: ScreenContext, surf: pygame.Surface, dial: Dial) -> None:
    L, T = ctx.layout, ctx.layout.type
    draw.shade(surf, ctx.images, 70)
    ring = dial.ring
    radius = ring.width // 2
    disc = pygame.Surface((2 * radius, 2 * radius), pygame.SRCALPHA)
    pygame.draw.circle(disc, (0, 0, 0, 170), (radius, radius), radius)
    surf.blit(disc, ring)
    pygame.draw.circle(surf, (60, 56, 70), ring.center, radius, width=L.px(1.6))
    headline(ctx, surf, dial.title, dial.head)
    y = ring.bottom + L.px(2.5)
    width = L.w - 2 * L.margin
    for i, line in enumerate(dial.lines):
        first_label = dial.labelled and i == 0
        draw.text(
            surf,
            ctx.fonts,
            line,
            T.body,
            theme.GOLD if first_label else theme.INK,
            anchor="midtop",
            box=pygame.Rect(L.margin, y, width, dial.body_h),
            bold=first_label,
            shadow=True,
        )
        y += dial.body_h
