"""3-2-1 over the live preview with the chosen style named (the dial: kiosk/ui/screens/dial.py),
then the flash (which is when the shot is taken)."""

from __future__ import annotations

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.machine import Event, ScreenName
from kiosk.ui.screens.base import Screen
from kiosk.ui.screens.dial import dial_for, draw_dial


class CountdownScreen(Screen):
    name = ScreenName.COUNTDOWN

    def enter(self, style: str | None = None, **kw) -> None:
        self.style = style
        self.seconds = self.ctx.cfg.kiosk.countdown_s

    def update(self, now: float) -> None:
        if self.elapsed >= self.seconds:
            self.ctx.take_shot(self.style)

    def draw(self, surf: pygame.Surface) -> None:
        ctx = self.ctx
        ctx.pictures.draw_preview(surf)
        dial = dial_for(ctx, ctx.texts("get_ready"), self.style)
        draw_dial(ctx, surf, dial, self.seconds - self.elapsed)

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
