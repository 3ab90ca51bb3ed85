"""Screen base class and the pieces several screens draw (header, recent strip)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.input import Action
from kiosk.ui.machine import LIVE_PREVIEW, ScreenName
from kiosk.ui.offer import reopens_qr

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.jobs.views import JobView
    from kiosk.ui.context import ScreenContext


class Screen:
    """One state of the kiosk: enter, then update and draw every frame, handle taps.

    `animated` screens (a spinner) run at a moderate frame rate, `smooth` ones (a motion that
    must look fluid) and the live-preview screens at kiosk.fps or near it, the others at
    kiosk.idle_fps (kiosk/ui/app.py `fps`)."""

    name: ScreenName
    animated = False

    def __init__(self, ctx: ScreenContext) -> None:
        self.ctx = ctx
        self.entered_at = 0.0

    @property
    def live_preview(self) -> bool:
        return self.name in LIVE_PREVIEW

    @property
    def smooth(self) -> bool:
        """True while the screen plays a motion that must look fluid (the result's reveal)."""
        return False

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


def headline_box(ctx: ScreenContext, text: str, x: int, y: int, width: int) -> pygame.Rect:
    """Where a headline goes: one line at the headline size if it fits, else shrunk (never
    below headline_min, so it stays the screen's largest text) and on up to two lines."""
    T = ctx.layout.type
    size, lines = draw.fit_headline(ctx.fonts, text, T.headline, T.headline_min, width)
    return pygame.Rect(x, y, width, min(2, len(lines)) * draw.line_height(ctx.fonts, size, True))


def headline(
    ctx: ScreenContext,
    surf: pygame.Surface,
    text: str,
    box: pygame.Rect,
    color: tuple = theme.INK,
    align: str = "center",
) -> pygame.Rect:
    T = ctx.layout.type
    size, lines = draw.fit_headline(ctx.fonts, text, T.headline, T.headline_min, box.width)
    return draw.paragraph(
        surf,
        ctx.fonts,
        text,
        size,
        color,
        box=box,
        bold=True,
        max_lines=len(lines),
        align=align,
        role="headline",
        shadow=True,
        min_size=T.headline_min,
    )


def header(
    ctx: ScreenContext, surf: pygame.Surface, title: bool = True, measure_only: bool = False
) -> int:
    """Logo and event title along the top (the start screen's headline); returns the y below
    (with `measure_only`, without drawing anything).

    The top-right corner stays free for a status mark."""
    L = ctx.layout
    T = L.type
    m = L.margin
    x = m
    logo = ctx.pictures.logo
    top_h = L.px(10)
    if logo is not None:
        r = draw.fit_rect(logo.get_size(), pygame.Rect(m, m, L.px(22), top_h))
        r.topleft = (m, m)
        if not measure_only:
            surf.blit(ctx.images.scaled(logo, r.size), r)
        x = r.right + L.px(2)
    bottom = m + top_h
    if title:
        corner = L.px(16)  # the free corner
        box = pygame.Rect(x, m - L.px(0.6), L.w - corner - m - x, top_h)
        size = draw.fit_size(
            ctx.fonts, ctx.cfg.kiosk.title, T.headline, box.width, min_size=T.headline_min
        )
        if ctx.fonts.get(size).size(ctx.cfg.kiosk.title)[0] > box.width:
            # Not enough room beside the logo (portrait, a long title): rows of its own.
            top = m + (top_h + L.px(1) if logo is not None else 0)
            box = headline_box(ctx, ctx.cfg.kiosk.title, m, top, L.w - corner - m)
            if measure_only:
                return max(bottom, box.bottom)
            r = headline(ctx, surf, ctx.cfg.kiosk.title, box, align="left")
            return max(bottom, r.bottom)
        if measure_only:
            return bottom
        draw.text(
            surf,
            ctx.fonts,
            ctx.cfg.kiosk.title,
            size,
            theme.INK,
            anchor="topleft",
            box=box,
            shadow=True,
            role="headline",
            min_size=T.headline_min,
        )
    return bottom


def job_phase(job: JobView) -> str:
    if job.ready:
        return "ready"
    if job.failed:
        return "failed"
    if job.status.value == "pending":
        return "queued"
    return "processing"


PHASE_COLORS = {
    "queued": theme.BLUE,
    "processing": theme.GOLD,
    "ready": theme.GREEN,
    "failed": theme.RED,
}


@dataclass(frozen=True)
class StripCell:
    """One photo of the strip as drawn this frame."""

    rect: pygame.Rect
    job_id: str
    phase: str  # job_phase()
    open_: bool  # a tap still opens its QR
    thumb: pygame.Surface | None

    @property
    def signature(self) -> tuple:
        """What its painted look depends on (kiosk/ui/draw.py layer)."""
        return (tuple(self.rect), self.job_id, self.phase, self.open_, id(self.thumb))

    def moved(self, dx: int, dy: int) -> StripCell:
        return replace(self, rect=self.rect.move(dx, dy))


class RecentStrip:
    """Thumbnails of the latest photos; tap one to reopen it while it may still show its QR.

    No words (they would be too small to read from a metre): a spinner while a photo is made, a
    green tick when it is ready, a red mark when it failed, and a dimmed picture with a lock once
    it no longer opens its download QR (kiosk.recent_qr_s, kiosk/ui/offer.py)."""

    def __init__(self, ctx: ScreenContext) -> None:
        self.ctx = ctx
        self.hits: list[tuple[pygame.Rect, str]] = []  # the photos a tap opens
        self.shown: list[tuple[pygame.Rect, str]] = []  # every photo drawn

    def side(self) -> int:
        return self.ctx.layout.px(16)

    def layout(self, area: pygame.Rect, vertical: bool, jobs: list[JobView]) -> list[pygame.Rect]:
        L = self.ctx.layout
        if not jobs:
            return []
        side = self.side()
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

    def cells(self, area: pygame.Rect, vertical: bool, jobs: list[JobView]) -> list[StripCell]:
        """What the strip shows this frame (and which photos a tap opens); asks for the
        thumbnails, which decode off the frame loop."""
        ctx = self.ctx
        wall = ctx.wall()
        self.hits = []
        self.shown = []
        cells = []
        for rect, job in zip(self.layout(area, vertical, jobs), jobs):
            self.shown.append((rect, job.job_id))
            open_ = reopens_qr(job, wall, ctx.cfg.kiosk.recent_qr_s)
            if open_:
                self.hits.append((rect, job.job_id))
            thumb = ctx.pictures.thumbnail(job, rect.size)
            cells.append(StripCell(rect, job.job_id, job_phase(job), open_, thumb))
        return cells

    def paint(self, surf: pygame.Surface, cells: list[StripCell]) -> None:
        """Everything of the strip but its spinners: drawn once into the screen's layer."""
        L = self.ctx.layout
        store = self.ctx.images
        radius = L.px(2)
        for c in cells:
            rect = c.rect
            draw.rounded(surf, rect.inflate(6, 6), (0, 0, 0), radius + 3, alpha=140, store=store)
            if c.thumb is not None:
                surf.blit(self._rounded(c.thumb, rect.size, radius), rect)
            else:
                draw.rounded(surf, rect, theme.PANEL, radius)
            busy = c.phase in ("queued", "processing")
            if not c.open_ or busy:
                dim = 150 if not c.open_ else 110
                draw.rounded(surf, rect, (0, 0, 0), radius, alpha=dim, store=store)
            color = PHASE_COLORS[c.phase] if c.open_ else theme.MUTED
            pygame.draw.rect(surf, color, rect, width=max(2, L.px(0.5)), border_radius=radius)
            mark = (rect.right - L.px(3.2), rect.bottom - L.px(3.2))
            if not c.open_:
                draw.lock(surf, rect.center, L.px(3.4), theme.MUTED)
            elif c.phase == "ready":
                draw.tick(surf, mark, L.px(2.6), theme.GREEN)
            elif c.phase == "failed":
                draw.alert(surf, mark, L.px(2.6), theme.RED)

    def animate(self, surf: pygame.Surface, cells: list[StripCell]) -> None:
        """The spinners of the photos still being made (the only part that moves)."""
        now = self.ctx.now()
        for c in cells:
            if c.open_ and c.phase in ("queued", "processing"):
                r = c.rect.width * 3 // 10
                draw.spinner(
                    surf,
                    c.rect.center,
                    r,
                    now,
                    theme.WHITE if c.phase == "processing" else theme.BLUE,
                    dots=8,
                    dot_r=max(2, r // 4),
                )

    def draw(
        self, surf: pygame.Surface, area: pygame.Rect, vertical: bool, jobs: list[JobView]
    ) -> None:
        """The whole strip, drawn afresh."""
        cells = self.cells(area, vertical, jobs)
        self.paint(surf, cells)
        self.animate(surf, cells)

    def _rounded(self, thumb: pygame.Surface, size: tuple[int, int], radius: int) -> pygame.Surface:
        """The thumbnail cropped to a rounded square (made once, then kept in the cache)."""

        def make() -> pygame.Surface:
            inner = pygame.Surface(size, pygame.SRCALPHA)
            draw.blit_fit(inner, self.ctx.images, thumb, inner.get_rect(), cover=True)
            mask = pygame.Surface(size, pygame.SRCALPHA)
            pygame.draw.rect(mask, (255, 255, 255, 255), mask.get_rect(), border_radius=radius)
            inner.blit(mask, (0, 0), special_flags=pygame.BLEND_RGBA_MIN)
            return inner

        return self.ctx.images.derive(("rounded", id(thumb), tuple(size), radius), make, keep=thumb)

    def hit(self, pos: tuple[int, int]) -> str | None:
        for rect, job_id in self.hits:
            if rect.inflate(8, 8).collidepoint(pos):
                return job_id
        return None
