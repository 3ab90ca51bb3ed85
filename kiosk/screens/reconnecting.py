"""Shown while the camera watchdog restarts a camera that stopped delivering frames."""

from __future__ import annotations

import pygame

from kiosk import draw, theme
from kiosk.machine import Event, ScreenName
from kiosk.screens.base import Screen, header


class ReconnectingScreen(Screen):
    name = ScreenName.RECONNECTING
    animated = True

    def update(self, now: float) -> None:
        if self.ctx.status.camera == "live":
            self.ctx.fire(Event.CAMERA_BACK)

    def draw(self, surf: pygame.Surface) -> None:
        app, L = self.ctx, self.ctx.layout
        surf.fill(theme.BG)
        surf.blit(draw.gradient(app.images, (L.w, L.h), 0, 120, (60, 40, 0)), (0, 0))
        header(app, surf)
        c = (L.w // 2, L.h // 2 - L.px(8))
        draw.spinner(surf, c, L.px(9), app.now())
        r = draw.text(surf, app.fonts, "Camera reconnecting…", L.px(7), theme.INK,
                      (c[0], c[1] + L.px(14)), anchor="midtop", max_w=L.w - 2 * L.margin)
        draw.text(surf, app.fonts, "Hang tight, this takes a few seconds.", L.px(4.2),
                  theme.MUTED, (c[0], r.bottom + L.px(2)), anchor="midtop", bold=False,
                  max_w=L.w - 2 * L.margin)
