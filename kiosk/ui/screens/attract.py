"""Start screen: live mirrored preview, the title, the shutter (or style) buttons, in strip mode
what a tap starts (under the buttons), recent photos, the privacy line."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.input import TAP, Action
from kiosk.ui.machine import ScreenName
from kiosk.ui.offer import offered_styles, privacy_line
from kiosk.ui.screens import operator_mark
from kiosk.ui.screens.base import RecentStrip, Screen, header


@dataclass(frozen=True)
class _Plan:
    """The start screen's layout and words for one state of the booth."""

    key: tuple  # what it was made for
    buttons: list[tuple[pygame.Rect, str | None]]
    strip: pygame.Rect
    vertical: bool
    caption: pygame.Rect
    words: str
    color: tuple
    bold: bool
    privacy: str
    privacy_box: pygame.Rect
    note: str  # strip mode: what a tap starts ("4 photos in a row"), under the buttons
    note_box: pygame.Rect


class AttractScreen(Screen):
    name = ScreenName.ATTRACT

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.strip = RecentStrip(ctx)
        self.buttons: list[tuple[pygame.Rect, str | None]] = []
        self._planned: _Plan | None = None

    def _layout(
        self,
        has_recent: bool,
        styles: list[str],
        privacy_h: int,
        top: int,
        caption: str,
        bold: bool = False,
        note: str = "",
    ) -> tuple[list[tuple[pygame.Rect, str | None]], pygame.Rect, bool, pygame.Rect, pygame.Rect]:
        """(buttons with their style, strip area, strip vertical?, the caption's box above the
        buttons, the note's box under them: empty without a note)"""
        L = self.ctx.layout
        fonts = self.ctx.fonts
        m = L.margin
        vertical = not L.portrait
        bottom = L.h - m - (privacy_h + L.px(1.5) if privacy_h else 0)
        btn_h = L.px(17)
        side = self.strip.side()
        show_strip = has_recent and self.ctx.cfg.kiosk.recent_count > 0
        if vertical:
            top += L.px(2)
            strip = pygame.Rect(L.w - m - side, top, side, bottom - top)
            content_w = (strip.left - L.px(3)) if show_strip else L.w - m
        else:
            content_w = L.w - m
        left = m
        avail_w = content_w - left
        cx = left + avail_w // 2
        note_box = pygame.Rect(left, bottom, avail_w, 0)
        if note:
            # one line under the buttons, at the caption's size where it fits
            size, _lines = draw.fit_lines(fonts, note, L.type.body, avail_w, 1, True)
            note_h = draw.line_height(fonts, size, True)
            note_box = pygame.Rect(left, bottom - note_h, avail_w, note_h)
            bottom = note_box.top - L.px(2)
        n = len(styles)
        buttons: list[tuple[pygame.Rect, str | None]]
        if n > 1 and L.portrait:
            # A tall screen: stack the style buttons, each as wide as the single shutter.
            gap = L.px(4)
            bh = L.px(14)
            w = min(L.px(78), avail_w)
            top = bottom - n * bh - (n - 1) * gap
            buttons = [
                (pygame.Rect(cx - w // 2, top + i * (bh + gap), w, bh), name)
                for i, name in enumerate(styles)
            ]
        elif n > 1:
            gap = L.px(3)
            w = min(L.px(52), (avail_w - gap * (n - 1)) // n)
            total = n * w + (n - 1) * gap
            x0 = cx - total // 2
            buttons = [
                (pygame.Rect(x0 + i * (w + gap), bottom - btn_h, w, btn_h), name)
                for i, name in enumerate(styles)
            ]
        else:
            w = min(L.px(82), avail_w)
            buttons = [(pygame.Rect(cx - w // 2, bottom - btn_h, w, btn_h), None)]
        # measured in the weight it is drawn in (bold wraps sooner)
        size, lines = draw.fit_lines(fonts, caption, L.type.body, avail_w, 2, bold)
        caption_h = min(2, len(lines)) * draw.line_height(fonts, size, bold)
        first = min(r.top for r, _s in buttons)
        caption_box = pygame.Rect(left, first - L.px(3) - caption_h, avail_w, caption_h)
        if not vertical:
            strip = pygame.Rect(m, caption_box.top - L.px(3) - side, L.w - 2 * m, side)
        return buttons, strip, vertical, caption_box, note_box

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

    def _plan(self, has_recent: bool) -> _Plan:
        """The layout and words for the booth's state (fitted once per state, not per frame)."""
        ctx = self.ctx
        L, T, t = ctx.layout, ctx.layout.type, ctx.texts
        privacy = privacy_line(ctx.cfg, t, ctx.status.local_only)
        styles = offered_styles(ctx.cfg, ctx.status.local_only)
        color = theme.INK
        if ctx.status.connected and ctx.status.ai_online is False:
            # no worker online: a shot waits until one is (tell the host)
            words, color = t("photos_paused"), theme.AMBER
        elif len(styles) > 1:
            words = t("pick_style")
        else:
            words = t("start_hint_gpio") if ctx.cfg.kiosk.gpio_button else t("start_hint")
        note = ""
        if ctx.cfg.kiosk.mode == "strip":
            note = t("start_strip", n=ctx.cfg.strip.shots)
        key = (has_recent, tuple(styles), words, color, privacy, note)
        if self._planned is not None and self._planned.key == key:
            return self._planned
        m = L.margin
        privacy_w = L.w - 2 * m
        privacy_size, privacy_lines = draw.fit_lines(ctx.fonts, privacy, T.floor, privacy_w, 2)
        privacy_h = len(privacy_lines) * draw.line_height(ctx.fonts, privacy_size) if privacy else 0
        bold = len(styles) > 1 or color is not theme.INK
        # the header's height is known without drawing it: the same layout every frame
        top = header(ctx, pygame.Surface((1, 1)), measure_only=True)
        buttons, strip_area, vertical, caption, note_box = self._layout(
            has_recent, styles, privacy_h, top, words, bold, note
        )
        self._planned = _Plan(
            key,
            buttons,
            strip_area,
            vertical,
            caption,
            words,
            color,
            bold,
            privacy,
            pygame.Rect(m, L.h - m - privacy_h, privacy_w, privacy_h),
            note,
            note_box,
        )
        return self._planned

    def draw(self, surf: pygame.Surface) -> None:
        """The preview, then what does not change as one cached layer (kiosk/ui/draw.py), then
        what moves: the shutter's glow, the strip's spinners, the operator mark."""
        ctx = self.ctx
        L, T, t = ctx.layout, ctx.layout.type, ctx.texts
        ctx.pictures.draw_preview(surf)
        recent = ctx.jobs.recent()
        plan = self._plan(bool(recent))
        self.buttons = plan.buttons
        show_strip = ctx.cfg.kiosk.recent_count > 0
        cells = self.strip.cells(plan.strip, plan.vertical, recent) if show_strip else []
        size = (L.w, L.h)
        signature = (plan.key, id(ctx.pictures.logo))
        draw.blit_layer(
            surf, draw.layer(ctx.images, "attract", signature, size, lambda s: self._paint(s, plan))
        )
        for i, cell in enumerate(cells):
            # the strip changes with every job: a small layer per photo, so a change paints
            # one photo again (its area only), not the screen
            area = cell.rect.inflate(8, 8)
            paint = functools.partial(self.strip.paint, cells=[cell.moved(-area.x, -area.y)])
            draw.blit_layer(
                surf,
                draw.layer(ctx.images, f"attract-strip-{i}", cell.signature, size, paint, area),
            )
        if len(self.buttons) == 1:
            # a slow breathing glow draws the eye to the one thing to do
            pulse = 0.5 + 0.5 * math.sin(ctx.now() * 2.4)
            draw.button(
                surf,
                ctx.fonts,
                self.buttons[0][0],
                t("start_button"),
                primary=True,
                size=T.button,
                pulse=pulse,
                store=ctx.images,
            )
        if plan.privacy:
            # over the glow, as it always was (its own small layer)
            draw.blit_layer(
                surf,
                draw.layer(
                    ctx.images, "attract-privacy", (plan.privacy, tuple(plan.privacy_box)), size,
                    lambda s: draw.paragraph(
                        s, ctx.fonts, plan.privacy, T.floor, theme.MUTED, box=plan.privacy_box,
                        max_lines=2, role="floor", shadow=True,
                    ),
                ),
            )  # fmt: skip
        self.strip.animate(surf, cells)
        operator_mark.overlay(ctx, surf, self.name)  # the operator mark, in the free corner

    def _paint(self, surf: pygame.Surface, plan: _Plan) -> None:
        """Everything of the start screen that stays put but the strip, once per change."""
        ctx = self.ctx
        L, T = ctx.layout, ctx.layout.type
        surf.blit(draw.gradient(ctx.images, (L.w, L.h // 3), 190, 0), (0, 0))
        surf.blit(draw.gradient(ctx.images, (L.w, L.h // 2), 0, 215), (0, L.h - L.h // 2))
        header(ctx, surf)
        draw.paragraph(
            surf,
            ctx.fonts,
            plan.words,
            T.body,
            plan.color,
            box=plan.caption,
            max_lines=2,
            bold=plan.bold,
            shadow=True,
        )
        if plan.note:
            draw.paragraph(
                surf,
                ctx.fonts,
                plan.note,
                T.body,
                theme.INK,
                box=plan.note_box,
                max_lines=1,
                bold=True,
                shadow=True,
            )
        if len(plan.buttons) > 1:
            named = [(r, st) for r, st in plan.buttons if st is not None]  # all of them here
            # one type size for all style buttons (the longest label decides)
            size = min(
                draw.fit_size(
                    ctx.fonts, ctx.cfg.styles[st].label, T.button, r.width - r.height // 2
                )
                for r, st in named
            )
            for rect, style in named:
                draw.button(
                    surf, ctx.fonts, rect, ctx.cfg.styles[style].label, primary=True, size=size
                )

    def state(self) -> dict:
        return {"buttons": [s for _r, s in self.buttons]}
