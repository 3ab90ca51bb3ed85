"""Screen base class and the pieces several screens draw (header, AI badge, recent strip)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pygame

from kiosk import draw, theme
from kiosk.input import Action
from kiosk.machine import LIVE_PREVIEW, ScreenName

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.context import ScreenContext
    from kiosk.pipeline import JobView


class Screen:
    """One state of the kiosk: enter, then update and draw every frame, handle taps.

    `animated` screens (a spinner) run at a moderate frame rate, the live-preview screens at
    kiosk.fps, the others at kiosk.idle_fps."""

    name: ScreenName
    animated = False

    def __init__(self, ctx: "ScreenContext") -> None:
        self.ctx = ctx
        self.entered_at = 0.0

    @property
    def live_preview(self) -> bool:
        return self.name in LIVE_PREVIEW

    def enter(self, **kw: Any) -> None:
        pass

    def handle(self, action: Action) -> None:
        pass

    def update(self, now: float) -> None:
        pass

    def draw(self, surf: pygame.Surface) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        """What the test/automation state file reports about this screen."""
        return {}

    @property
    def elapsed(self) -> float:
        return self.ctx.now() - self.entered_at


def ai_badge(ctx: "ScreenContext", surf: pygame.Surface, topright: tuple[int, int]) -> pygame.Rect:
    L, st = ctx.layout, ctx.status
    if not st.connected or st.ai_online is None:
        label, dot = "Connecting…", theme.MUTED
    elif st.ai_online and st.local_only:
        label, dot = "Local effect (no AI key)", theme.AMBER
    elif st.ai_online:
        label, dot = "AI online", theme.GREEN
    else:  # no worker online: nothing can process a photo
        label, dot = "Photos paused — tell the host", theme.RED
    return draw.pill(surf, ctx.fonts, label, L.px(3.4), topright, "topright", dot)


def header(ctx: "ScreenContext", surf: pygame.Surface, badge: bool = True,
           title: bool = True) -> int:
    """Logo, event title and AI badge along the top; returns the y below the header."""
    L = ctx.layout
    m = L.margin
    x = m
    logo = ctx.pictures.logo
    top_h = L.px(9)
    if logo is not None:
        r = draw.fit_rect(logo.get_size(), pygame.Rect(m, m, L.px(20), top_h))
        r.topleft = (m, m)
        surf.blit(ctx.images.scaled(logo, r.size), r)
        x = r.right + L.px(2)
    badge_rect = ai_badge(ctx, surf, (L.w - m, m)) if badge else pygame.Rect(L.w - m, m, 0, 0)
    if title:
        max_w = badge_rect.left - x - L.px(2)
        size = L.px(7.5)
        if draw.fit_size(ctx.fonts, ctx.cfg.kiosk.title, size, max_w) < size * 0.8:
            # Not enough room beside the logo and badge (portrait): a row of its own.
            r = draw.text(surf, ctx.fonts, ctx.cfg.kiosk.title, size, theme.INK,
                          (L.w // 2, m + top_h + L.px(1)), anchor="midtop",
                          max_w=L.w - 2 * m, shadow=True)
            return r.bottom
        draw.text(surf, ctx.fonts, ctx.cfg.kiosk.title, size, theme.INK, (x, m - L.px(0.6)),
                  anchor="topleft", max_w=max_w, shadow=True)
    return m + top_h


STATUS_BADGES = {
    "queued": ("Queued", theme.BLUE),
    "processing": ("Processing", theme.GOLD),
    "ready": ("Ready", theme.GREEN),
    "failed": ("Oops", theme.RED),
}


def job_phase(job: "JobView") -> str:
    if job.ready:
        return "ready"
    if job.failed:
        return "failed"
    if job.status.value == "pending":
        return "queued"
    return "processing"


class RecentStrip:
    """Thumbnails of the latest photos with status badges; tap one to reopen it."""

    def __init__(self, ctx: "ScreenContext") -> None:
        self.ctx = ctx
        self.hits: list[tuple[pygame.Rect, str]] = []

    def layout(self, area: pygame.Rect, vertical: bool,
               jobs: list["JobView"]) -> list[pygame.Rect]:
        L = self.ctx.layout
        if not jobs:
            return []
        side = L.px(15)
        gap = L.px(2)
        span = area.height if vertical else area.width
        count = max(0, min(len(jobs), (span + gap) // (side + gap)))
        rects = []
        for i in range(count):
            if vertical:
                rects.append(pygame.Rect(area.right - side, area.y + i * (side + gap), side, side))
            else:
                total = count * side + (count - 1) * gap
                x0 = area.centerx - total // 2
                rects.append(pygame.Rect(x0 + i * (side + gap), area.bottom - side, side, side))
        return rects

    def draw(self, surf: pygame.Surface, area: pygame.Rect, vertical: bool,
             jobs: list["JobView"]) -> None:
        ctx = self.ctx
        L = ctx.layout
        self.hits = []
        for rect, job in zip(self.layout(area, vertical, jobs), jobs):
            radius = L.px(2)
            draw.rounded(surf, rect.inflate(6, 6), (0, 0, 0), radius + 3, alpha=140)
            thumb = ctx.pictures.thumbnail(job, rect.size)
            if thumb is not None:
                surf.blit(self._rounded(thumb, rect.size, radius), rect)
            else:
                draw.rounded(surf, rect, theme.PANEL, radius)
            phase = job_phase(job)
            label, color = STATUS_BADGES[phase]
            pygame.draw.rect(surf, color, rect, width=max(2, L.px(0.5)), border_radius=radius)
            size = draw.fit_size(ctx.fonts, label, L.px(2.3), int(rect.width * 0.72))
            draw.pill(surf, ctx.fonts, label, size, (rect.centerx, rect.bottom - L.px(1)),
                      "midbottom", None, bg=color, fg=theme.ON_GOLD, alpha=235)
            if phase in ("queued", "processing"):
                draw.spinner(surf, (rect.centerx, rect.centery - L.px(2)), L.px(3.2), ctx.now(),
                             theme.WHITE, dots=8)
            self.hits.append((rect, job.job_id))

    def _rounded(self, thumb: pygame.Surface, size: tuple[int, int],
                 radius: int) -> pygame.Surface:
        """The thumbnail cropped to a rounded square (made once, then kept in the cache)."""
        def make() -> pygame.Surface:
            inner = pygame.Surface(size, pygame.SRCALPHA)
            draw.blit_fit(inner, self.ctx.images, thumb, inner.get_rect(), cover=True)
            mask = pygame.Surface(size, pygame.SRCALPHA)
            pygame.draw.rect(mask, (255, 255, 255, 255), mask.get_rect(), border_radius=radius)
            inner.blit(mask, (0, 0), special_flags=pygame.BLEND_RGBA_MIN)
            return inner

        return self.ctx.images.derive(("rounded", id(thumb), tuple(size), radius), make,
                                      keep=thumb)

    def hit(self, pos: tuple[int, int]) -> str | None:
        for rect, job_id in self.hits:
            if rect.inflate(8, 8).collidepoint(pos):
                return job_id
        return None
