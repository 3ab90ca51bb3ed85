"""Start screen: live mirrored preview, the title, the shutter (or style) buttons, recent photos."""

from __future__ import annotations

import math

import pygame

from kiosk import draw, theme
from kiosk.input import TAP, Action
from kiosk.machine import ScreenName
from kiosk.screens.base import RecentStrip, Screen, header


class AttractScreen(Screen):
    name = ScreenName.ATTRACT

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.strip = RecentStrip(ctx)
        self.buttons: list[tuple[pygame.Rect, str | None]] = []

    def _layout(self, has_recent: bool
                ) -> tuple[list[tuple[pygame.Rect, str | None]], pygame.Rect, bool]:
        """(buttons with their style, strip area, strip vertical?)"""
        L = self.ctx.layout
        m = L.margin
        styles = list(self.ctx.cfg.styles.items())
        vertical = not L.portrait
        privacy_h = L.px(6) if self.ctx.cfg.kiosk.privacy else 0
        bottom = L.h - m - privacy_h
        btn_h = L.px(17)
        show_strip = has_recent and self.ctx.cfg.kiosk.recent_count > 0
        if vertical:
            strip = pygame.Rect(L.w - m - L.px(15), m + L.px(13), L.px(15),
                                bottom - (m + L.px(13)))
            content_w = (strip.left - L.px(3)) if show_strip else L.w - m
        else:
            content_w = L.w - m
        left = m
        avail_w = content_w - left
        cx = left + avail_w // 2
        n = len(styles)
        if n > 1 and L.portrait:
            # A tall screen: stack the style buttons, each as wide as the single shutter.
            gap = L.px(4)
            bh = L.px(14)
            w = min(L.px(78), avail_w)
            top = bottom - n * bh - (n - 1) * gap
            buttons = [(pygame.Rect(cx - w // 2, top + i * (bh + gap), w, bh), name)
                       for i, (name, _s) in enumerate(styles)]
        elif n > 1:
            gap = L.px(4)
            w = min(L.px(46), (avail_w - gap * (n - 1)) // n)
            total = n * w + (n - 1) * gap
            x0 = cx - total // 2
            buttons = [(pygame.Rect(x0 + i * (w + gap), bottom - btn_h, w, btn_h), name)
                       for i, (name, _s) in enumerate(styles)]
        else:
            w = min(L.px(78), avail_w)
            buttons = [(pygame.Rect(cx - w // 2, bottom - btn_h, w, btn_h), None)]
        if not vertical:
            top = min(r.top for r, _s in buttons)
            strip = pygame.Rect(m, top - L.px(9) - L.px(15), L.w - 2 * m, L.px(15))
        return buttons, strip, vertical

    def handle(self, action: Action) -> None:
        if action.kind != TAP:
            return
        for rect, style in self.buttons:
            if rect.collidepoint(action.pos):
                self.ctx.request_shot(style)
                return
        job_id = self.strip.hit(action.pos)
        if job_id:
            self.ctx.open_job(job_id)
        # anywhere else: nothing (a guest leaning on the screen must not shoot)

    def draw(self, surf: pygame.Surface) -> None:
        ctx = self.ctx
        L = ctx.layout
        ctx.pictures.draw_preview(surf)
        surf.blit(draw.gradient(ctx.images, (L.w, L.h // 3), 190, 0), (0, 0))
        surf.blit(draw.gradient(ctx.images, (L.w, L.h // 2), 0, 215), (0, L.h - L.h // 2))
        header(ctx, surf)
        recent = ctx.jobs.recent()
        self.buttons, strip_area, vertical = self._layout(bool(recent))
        if ctx.cfg.kiosk.recent_count > 0:
            self.strip.draw(surf, strip_area, vertical, recent)
        styles = ctx.cfg.styles
        first = self.buttons[0][0]
        caption_y = first.top - L.px(3)
        if len(self.buttons) > 1:
            left = min(r.left for r, _s in self.buttons)
            right = max(r.right for r, _s in self.buttons)
            draw.text(surf, ctx.fonts, "Tap to get dripped: pick your style", L.px(5), theme.INK,
                      ((left + right) // 2, caption_y), anchor="midbottom", shadow=True,
                      max_w=max(right - left, L.w - 2 * L.margin))
            # one type size for all style buttons (the longest label decides)
            size = min(draw.fit_size(ctx.fonts, styles[st].label, int(r.height * 0.42),
                                     r.width - r.height // 2) for r, st in self.buttons)
            for rect, style in self.buttons:
                draw.button(surf, ctx.fonts, rect, styles[style].label, primary=True, size=size)
        else:
            # a slow breathing glow draws the eye to the one thing to do
            pulse = 0.5 + 0.5 * math.sin(ctx.now() * 2.4)
            draw.button(surf, ctx.fonts, first, "Tap to get dripped", primary=True,
                        size=L.px(6.2), pulse=pulse)
            hint = "or press the big button" if ctx.cfg.kiosk.gpio_button else \
                "Strike a pose, we add the bling"
            draw.text(surf, ctx.fonts, hint, L.px(3.6), theme.INK, (first.centerx, caption_y),
                      anchor="midbottom", bold=False, shadow=True, max_w=first.width + L.px(20))
        if ctx.cfg.kiosk.privacy:
            draw.paragraph(surf, ctx.fonts, ctx.cfg.kiosk.privacy, L.px(2.7), theme.MUTED,
                           (L.w // 2, L.h - L.margin - L.px(4.6)), L.w - 2 * L.margin,
                           max_lines=2)

    def state(self) -> dict:
        return {"buttons": [s for _r, s in self.buttons]}
