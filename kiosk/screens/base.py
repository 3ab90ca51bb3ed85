"""Screen base class and the pieces several screens draw (header, AI badge, recent strip)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pygame

from kiosk import draw, theme
from kiosk.input import Action

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.app import KioskApp
    from kiosk.pipeline import JobView


class Screen:
    """One state of the kiosk. `live_preview` screens run at kiosk.fps, the others at idle_fps."""

    name = "screen"
    live_preview = False
    animated = False  # a spinner: a moderate frame rate even without a preview

    def __init__(self, app: "KioskApp") -> None:
        self.app = app
        self.entered_at = 0.0

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
        return self.app.now() - self.entered_at


def ai_badge(app: "KioskApp", surf: pygame.Surface, topright: tuple[int, int]) -> pygame.Rect:
    L = app.layout
    online = app.jobs.ai_online
    if online is None:
        label, dot = "Connecting…", theme.MUTED
    elif online and app.jobs.local_only:
        label, dot = "Local effect (no AI key)", theme.AMBER
    elif online:
        label, dot = "AI online", theme.GREEN
    else:  # no worker online: nothing can process a photo
        label, dot = "Photos paused — tell the host", theme.RED
    if not app.jobs.mqtt.connected:
        label, dot = "Connecting…", theme.MUTED
    return draw.pill(surf, app.fonts, label, L.px(3.4), topright, "topright", dot)


def header(app: "KioskApp", surf: pygame.Surface, badge: bool = True,
           title: bool = True) -> int:
    """Logo, event title and AI badge along the top; returns the y below the header."""
    L = app.layout
    m = L.margin
    x = m
    logo = app.logo
    top_h = L.px(9)
    if logo is not None:
        r = draw.fit_rect(logo.get_size(), pygame.Rect(m, m, L.px(20), top_h))
        r.topleft = (m, m)
        surf.blit(draw.scaled(logo, r.size), r)  # scaled once, not every frame
        x = r.right + L.px(2)
    badge_rect = ai_badge(app, surf, (L.w - m, m)) if badge else pygame.Rect(L.w - m, m, 0, 0)
    if title:
        max_w = badge_rect.left - x - L.px(2)
        size = L.px(7.5)
        if draw.fit_size(app.fonts, app.cfg.kiosk.title, size, max_w) < size * 0.8:
            # Not enough room beside the logo and badge (portrait): a row of its own.
            r = draw.text(surf, app.fonts, app.cfg.kiosk.title, size, theme.INK,
                          (L.w // 2, m + top_h + L.px(1)), anchor="midtop",
                          max_w=L.w - 2 * m, shadow=True)
            return r.bottom
        draw.text(surf, app.fonts, app.cfg.kiosk.title, size, theme.INK, (x, m - L.px(0.6)),
                  anchor="topleft", max_w=max_w, shadow=True)
    return m + top_h


def blurred_backdrop(app: "KioskApp", img: pygame.Surface, key: str) -> pygame.Surface:
    """A darkened, blurred full-screen version of `img` (cheap: shrink then enlarge)."""
    L = app.layout
    cache_key = (key, L.w, L.h)
    surf = app.backdrops.get(cache_key)
    if surf is None:
        small_r = draw.fit_rect(img.get_size(), pygame.Rect(0, 0, 32, 32), cover=True)
        small = pygame.transform.smoothscale(img, small_r.size)
        big_r = draw.fit_rect(small.get_size(), L.rect, cover=True)
        big = pygame.transform.smoothscale(small, big_r.size)
        surf = pygame.Surface((L.w, L.h))
        surf.blit(big, big_r)
        draw.shade(surf, 150)
        if len(app.backdrops) >= 3:  # full-screen surfaces: keep only a few
            app.backdrops.pop(next(iter(app.backdrops)))
        app.backdrops[cache_key] = surf
    return surf


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

    def __init__(self, app: "KioskApp") -> None:
        self.app = app
        self.hits: list[tuple[pygame.Rect, str]] = []
        self._cache: dict[tuple, tuple[pygame.Surface, pygame.Surface]] = {}

    def layout(self, area: pygame.Rect, vertical: bool) -> list[pygame.Rect]:
        L = self.app.layout
        jobs = self.app.recent_jobs()
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

    def draw(self, surf: pygame.Surface, area: pygame.Rect, vertical: bool) -> None:
        app = self.app
        L = app.layout
        self.hits = []
        jobs = app.recent_jobs()
        for rect, job in zip(self.layout(area, vertical), jobs):
            radius = L.px(2)
            draw.rounded(surf, rect.inflate(6, 6), (0, 0, 0), radius + 3, alpha=140)
            thumb = app.thumbnail(job, rect.size)
            if thumb is not None:
                surf.blit(self._rounded(thumb, rect.size, radius), rect)
            else:
                draw.rounded(surf, rect, theme.PANEL, radius)
            phase = job_phase(job)
            label, color = STATUS_BADGES[phase]
            pygame.draw.rect(surf, color, rect, width=max(2, L.px(0.5)), border_radius=radius)
            size = draw.fit_size(app.fonts, label, L.px(2.3), int(rect.width * 0.72))
            draw.pill(surf, app.fonts, label, size, (rect.centerx, rect.bottom - L.px(1)),
                      "midbottom", None, bg=color, fg=theme.ON_GOLD, alpha=235)
            if phase in ("queued", "processing"):
                draw.spinner(surf, (rect.centerx, rect.centery - L.px(2)), L.px(3.2), app.now(),
                             theme.WHITE, dots=8)
            self.hits.append((rect, job.job_id))

    def _rounded(self, thumb: pygame.Surface, size: tuple[int, int],
                 radius: int) -> pygame.Surface:
        """The thumbnail cropped to a rounded square (cached: built once, not every frame)."""
        key = (id(thumb), size, radius)
        cache = self._cache
        hit = cache.get(key)
        if hit is not None and hit[0] is thumb:
            return hit[1]
        inner = pygame.Surface(size, pygame.SRCALPHA)
        draw.blit_fit(inner, thumb, inner.get_rect(), cover=True)
        mask = pygame.Surface(size, pygame.SRCALPHA)
        pygame.draw.rect(mask, (255, 255, 255, 255), mask.get_rect(), border_radius=radius)
        inner.blit(mask, (0, 0), special_flags=pygame.BLEND_RGBA_MIN)
        if len(cache) > 4 * max(1, self.app.cfg.kiosk.recent_count):
            cache.clear()
        cache[key] = (thumb, inner)
        return inner

    def hit(self, pos: tuple[int, int]) -> str | None:
        for rect, job_id in self.hits:
            if rect.inflate(8, 8).collidepoint(pos):
                return job_id
        return None
