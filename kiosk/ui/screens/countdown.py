"""3-2-1 over the live preview with the chosen style named, then the flash (which is when the
shot is taken)."""

from __future__ import annotations

import math

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.machine import Event, ScreenName
from kiosk.ui.offer import style_label
from kiosk.ui.screens.base import Screen, headline, headline_box

POP_STEPS = 5  # the number's pop in 5 sizes: 5 fonts, not one per frame


class CountdownScreen(Screen):
    name = ScreenName.COUNTDOWN

    def enter(self, style: str | None = None, **kw) -> None:
        self.style = style
        self.seconds = self.ctx.cfg.kiosk.countdown_s

    def update(self, now: float) -> None:
        if self.elapsed >= self.seconds:
            self.ctx.take_shot(self.style)

    def _geometry(self) -> tuple[list[str], str | None, pygame.Rect, pygame.Rect, int]:
        """(lines under the ring, the style's label, the ring's box, the headline's box, the
        body's line height): the same for the whole countdown."""
        ctx = self.ctx
        L, T, t = ctx.layout, ctx.layout.type, ctx.texts
        lines = [t("look_at_camera")]
        label = style_label(ctx.cfg, self.style)
        if label:
            lines.insert(0, t("style_named", style=label))
        body_h = draw.line_height(ctx.fonts, T.body, True)
        width = L.w - 2 * L.margin
        head = headline_box(ctx, t("get_ready"), L.margin, 0, width)
        gap = L.px(2.5)
        # the ring as large as the screen allows with the headline above and the lines below
        radius = min(
            L.px(24), (L.h - 2 * L.margin - head.height - len(lines) * body_h - 2 * gap) // 2
        )
        group = head.height + 2 * gap + 2 * radius + len(lines) * body_h  # centred as one
        ring = pygame.Rect(0, 0, 2 * radius, 2 * radius)
        ring.center = (L.w // 2, (L.h - group) // 2 + head.height + gap + radius)
        head.bottom = ring.top - gap
        return lines, label, ring, head, body_h

    def draw(self, surf: pygame.Surface) -> None:
        """The preview, the still part (shade, disc, ring, words) as one cached layer
        (kiosk/ui/draw.py), then the arc and the number, which move."""
        ctx = self.ctx
        L, T = ctx.layout, ctx.layout.type
        ctx.pictures.draw_preview(surf)
        lines, label, ring, head, body_h = self._geometry()
        radius, c = ring.width // 2, ring.center
        signature = (tuple(lines), label, tuple(ring), tuple(head))
        draw.blit_layer(
            surf,
            draw.layer(
                ctx.images,
                "countdown",
                signature,
                (L.w, L.h),
                lambda s: self._paint(s, lines, label, ring, head, body_h),
            ),
        )
        left = max(0.0, self.seconds - self.elapsed)
        number = max(1, math.ceil(left))
        frac = left - math.floor(left) if left % 1 else 1.0
        start = math.pi / 2
        pygame.draw.arc(surf, theme.GOLD, ring, start, start + 2 * math.pi * frac, width=L.px(1.6))
        # the number pops in at the start of each second (in POP_STEPS sizes: a font each)
        pop = 1.0 + 0.25 * round(max(0.0, frac - 0.8) / 0.2 * POP_STEPS) / POP_STEPS
        draw.text(
            surf,
            ctx.fonts,
            str(number),
            int(T.display * radius / L.px(24) * pop),
            theme.GOLD,
            c,
            role="display",
        )

    def _paint(
        self,
        surf: pygame.Surface,
        lines: list[str],
        label: str | None,
        ring: pygame.Rect,
        head: pygame.Rect,
        body_h: int,
    ) -> None:
        ctx = self.ctx
        L, T, t = ctx.layout, ctx.layout.type, ctx.texts
        draw.shade(surf, ctx.images, 70)
        radius = ring.width // 2
        disc = pygame.Surface((2 * radius, 2 * radius), pygame.SRCALPHA)
        pygame.draw.circle(disc, (0, 0, 0, 170), (radius, radius), radius)
        surf.blit(disc, ring)
        pygame.draw.circle(surf, (60, 56, 70), ring.center, radius, width=L.px(1.6))
        headline(ctx, surf, t("get_ready"), head)
        y = ring.bottom + L.px(2.5)
        width = L.w - 2 * L.margin
        for i, line in enumerate(lines):
            draw.text(
                surf,
                ctx.fonts,
                line,
                T.body,
                theme.GOLD if label and i == 0 else theme.INK,
                anchor="midtop",
                box=pygame.Rect(L.margin, y, width, body_h),
                bold=bool(label and i == 0),
                shadow=True,
            )
            y += body_h

    def state(self) -> dict:
        return {"style": self.style}


class FlashScreen(Screen):
    """A white flash that fades out while the still is taken off the main thread."""

    name = ScreenName.FLASH
    FLASH_S = 0.45

    def enter(self, job_id: str = "", **kw) -> None:
        self.job_id = job_id

    def update(self, now: float) -> None:
        if self.elapsed >= self.FLASH_S:
            self.ctx.fire(Event.FLASHED, job_id=self.job_id)

    def draw(self, surf: pygame.Surface) -> None:
        ctx = self.ctx
        shot = ctx.images.get(("shot", self.job_id))  # the shot just taken, if captured yet
        if shot is not None:
            surf.fill(theme.BG)
            draw.blit_fit(surf, ctx.images, shot, ctx.layout.rect)
        else:
            ctx.pictures.draw_preview(surf)
        k = max(0.0, 1.0 - self.elapsed / self.FLASH_S)
        draw.shade(surf, ctx.images, int(255 * k), theme.WHITE)

    def state(self) -> dict:
        return {"job_id": self.job_id}
