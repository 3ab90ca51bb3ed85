"""The operator mark: a small warning triangle in the top-right corner (the corner every screen
it is drawn on keeps free) when something needs the operator — and, after a long press on it
or F1, the reasons with their fixes.

It is for the host, not for guests: no words until asked, small, in the corner a guest has no
reason to touch. Its text is operator text (English, read at arm's length), drawn with the role
`operator`, which the guest type test (tests/kiosk/test_type.py) leaves out. The alerts come
from kiosk/healthwatch.py through the screen context (`ctx.status.alerts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.machine import ScreenName

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.ui.context import ScreenContext

# Screens whose top-right corner is free (kiosk/ui/screens/base.py `header`, the reconnecting
# screen's centred message); the others carry a guest's photo or QR up there.
MARKED_SCREENS = frozenset({ScreenName.ATTRACT, ScreenName.RECONNECTING})
ROLE = "operator"


def mark_rect(ctx: ScreenContext) -> pygame.Rect:
    L = ctx.layout
    side = L.px(6.5)
    return pygame.Rect(L.w - L.margin - side, L.margin, side, side)


def hit(ctx: ScreenContext, pos: tuple[int, int]) -> bool:
    """A press on the mark (with a finger's margin around it)."""
    return mark_rect(ctx).inflate(ctx.layout.px(6), ctx.layout.px(6)).collidepoint(pos)


def draw_mark(ctx: ScreenContext, surf: pygame.Surface) -> pygame.Rect | None:
    """The triangle, amber (warnings) or red (something is broken); None when all is well."""
    alerts = ctx.status.alerts
    if not alerts:
        return None
    r = mark_rect(ctx)
    color = theme.RED if any(a.level == "error" for a in alerts) else theme.AMBER
    draw.rounded(surf, r, (0, 0, 0), r.width // 4, alpha=150)
    pad = max(2, r.width // 6)
    top = (r.centerx, r.top + pad)
    left = (r.left + pad, r.bottom - pad)
    right = (r.right - pad, r.bottom - pad)
    pygame.draw.polygon(surf, color, (top, right, left))
    w = max(2, r.width // 10)
    cx = r.centerx
    y0 = r.top + pad + (r.height - 2 * pad) * 0.35
    y1 = r.bottom - pad - (r.height - 2 * pad) * 0.32
    pygame.draw.line(surf, theme.BLACK, (cx, y0), (cx, y1), w)
    pygame.draw.circle(
        surf, theme.BLACK, (cx, r.bottom - pad - (r.height - 2 * pad) * 0.14), max(1, w // 2 + 1)
    )
    return r


def draw_panel(ctx: ScreenContext, surf: pygame.Surface) -> pygame.Rect | None:
    """The reasons and their fixes, in a panel under the mark (drawn over the screen)."""
    alerts = ctx.status.alerts
    if not alerts or not ctx.status.alerts_open:
        return None
    L = ctx.layout
    fonts = ctx.fonts
    size = L.px(3.4)
    small = L.px(3.0)
    width = min(L.w - 2 * L.margin, L.px(120))
    pad = L.px(2.5)
    inner = width - 2 * pad
    mark = mark_rect(ctx)
    box = pygame.Rect(L.w - L.margin - width, mark.bottom + L.px(1.5), width, 0)
    lines: list[tuple[str, int, tuple, bool]] = [("Operator", size, theme.INK, True)]
    for a in alerts:
        color = theme.RED if a.level == "error" else theme.AMBER
        for ln in draw.wrap(fonts, f"• {a.reason}", size, inner, False):
            lines.append((ln, size, color, False))
        if a.fix:
            for ln in draw.wrap(fonts, f"Fix: {a.fix}", small, inner, False):
                lines.append((ln, small, theme.MUTED, False))
    heights = [draw.line_height(fonts, s, b) for _t, s, _c, b in lines]
    box.height = min(sum(heights) + 2 * pad, L.h - box.top - L.margin)
    draw.rounded(
        surf,
        box,
        (8, 8, 12),
        L.px(2),
        alpha=235,
        border=max(1, L.px(0.4)),
        border_color=theme.AMBER,
    )
    y = box.top + pad
    for (text, s, color, bold), h in zip(lines, heights):
        if y + h > box.bottom - pad // 2:
            break  # what does not fit is on the dashboard
        draw.text(
            surf,
            fonts,
            text,
            s,
            color,
            (box.left + pad, y),
            anchor="topleft",
            bold=bold,
            role=ROLE,
            min_size=s,
        )
        y += h
    return box


def overlay(ctx: ScreenContext, surf: pygame.Surface, screen: ScreenName) -> None:
    """The mark (and its open reasons) over a screen that has room for it."""
    if screen in MARKED_SCREENS and draw_mark(ctx, surf) is not None:
        draw_panel(ctx, surf)
