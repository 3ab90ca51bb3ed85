"""Shown while the camera watchdog restarts a camera that stopped delivering frames."""

from __future__ import annotations

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.machine import Event, ScreenName
from kiosk.ui.screens import operator_mark
from kiosk.ui.screens.base import Screen, headline, headline_box


class ReconnectingScreen(Screen):
    name = ScreenName.RECONNECTING
    animated = True

    def update(self, now: float) -> None:
        if self.ctx.status.camera == "live":
            self.ctx.fire(Event.CAMERA_BACK)

    def draw(self, surf: pygame.Surface) -> None:
        app = self.ctx
        L, T, t = app.layout, app.layout.type, app.texts
        surf.fill(theme.BG)
        surf.blit(draw.gradient(app.images, (L.w, L.h), 0, 120, (60, 40, 0)), (0, 0))
        w = L.w - 2 * L.margin
        head = headline_box(app, t("camera_reconnecting"), L.margin, 0, w)
        c = (L.w // 2, L.h // 2 - L.px(10))
        draw.spinner(surf, c, L.px(9), app.now())
        y = c[1] + L.px(14)
        head.top = y
        headline(app, surf, t("camera_reconnecting"), head)
        y = head.bottom + L.px(1)
        draw.paragraph(
            surf,
            app.fonts,
            t("camera_wait"),
            T.body,
            theme.MUTED,
            box=pygame.Rect(L.margin, y, w, L.h - L.margin - y),
            max_lines=2,
        )
        operator_mark.overlay(app, surf, self.name)  # the operator mark, in the free corner
