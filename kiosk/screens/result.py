"""The result full screen with its QR code, the short URL, New photo, and an automatic return."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame

from booth.protocol import GUEST_MESSAGES
from kiosk import draw, theme
from kiosk.input import TAP, Action
from kiosk.machine import ScreenName
from kiosk.screens.base import Screen

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.context import ScreenContext
from booth.qr import qr_matrix, wifi_join_payload


def split_url(app: "ScreenContext", url: str, max_w: int) -> list[str]:
    """The URL without its scheme, on one line if it fits readably, else split before the token."""
    short = url.split("://", 1)[-1]
    if app.fonts.get(app.layout.px(2.9), False).size(short)[0] > max_w:
        head, sep, tail = short.rpartition("/")
        return [head + sep, tail] if sep else [short]
    return [short]


def url_lines(surf: pygame.Surface, app: "ScreenContext", url: str, midtop: tuple[int, int],
              max_w: int) -> pygame.Rect:
    L = app.layout
    size = L.px(2.9)
    lines = split_url(app, url, max_w)
    x, y = midtop
    area = pygame.Rect(x, y, 0, 0)
    for line in lines:
        r = draw.text(surf, app.fonts, line, size, theme.MUTED, (x, y), anchor="midtop",
                      bold=False, max_w=max_w)
        area.union_ip(r)
        y = r.bottom
    return area


class ResultScreen(Screen):
    name = ScreenName.RESULT

    def enter(self, job_id: str = "", **kw) -> None:
        self.job_id = job_id
        self.new_button = pygame.Rect(0, 0, 0, 0)
        self.qr_rect = pygame.Rect(0, 0, 0, 0)
        job = self.ctx.jobs.get(job_id)
        self.url = job.share_url if job is not None else None
        self.matrix = qr_matrix(self.url) if self.url else None
        # Phones must be on the booth's network to reach the download server: offer a join QR.
        wifi = wifi_join_payload(self.ctx.cfg.share.wifi_ssid, self.ctx.cfg.share.wifi_password)
        self.wifi_matrix = qr_matrix(wifi) if wifi else None
        self.wifi_rect = pygame.Rect(0, 0, 0, 0)

    def update(self, now: float) -> None:
        if self.elapsed >= self.ctx.cfg.kiosk.result_timeout_s:
            self.ctx.done()

    def handle(self, action: Action) -> None:
        if action.kind == TAP and self.new_button.collidepoint(action.pos):
            self.ctx.done()

    def draw(self, surf: pygame.Surface) -> None:
        app = self.ctx
        L = app.layout
        m = L.margin
        job = app.jobs.get(self.job_id)
        img = app.pictures.result(self.job_id)
        surf.fill(theme.BG)
        if L.portrait:
            panel = pygame.Rect(0, int(L.h * 0.56), L.w, L.h - int(L.h * 0.56))
            photo_area = pygame.Rect(0, 0, L.w, panel.top)
        else:
            pw = max(int(L.w * 0.36), L.px(62))
            panel = pygame.Rect(L.w - pw, 0, pw, L.h)
            photo_area = pygame.Rect(0, 0, L.w - pw, L.h)
        if img is not None:
            surf.blit(app.pictures.backdrop(img, f"result-{self.job_id}"), (0, 0))
            shown = draw.blit_fit(surf, app.images, img,
                                  photo_area.inflate(-2 * L.px(2), -2 * L.px(2)))
            overlay = app.pictures.frame_overlay
            if overlay is not None:
                surf.blit(app.images.scaled(overlay, shown.size), shown)
        else:
            draw.spinner(surf, photo_area.center, L.px(6), app.now())
        if self.wifi_matrix:
            self._draw_wifi_card(surf, photo_area)
        draw.rounded(surf, panel, theme.PANEL, 0, alpha=235)

        inner = panel.inflate(-2 * m, -2 * m)
        if L.portrait:
            self._draw_portrait_panel(surf, inner, job)
        else:
            self._draw_side_panel(surf, inner, job)

    def _draw_wifi_card(self, surf: pygame.Surface, area: pygame.Rect) -> None:
        app, L = self.ctx, self.ctx.layout
        side = min(L.px(32), int(area.height / 2.6))  # ≥ 3 px per module on the 7" panel
        pad = L.px(1.5)
        label_h = L.px(3.2)
        card = pygame.Rect(0, 0, max(side, L.px(26)) + 2 * pad, side + 2 * label_h + 3 * pad)
        card.bottomleft = (area.left + L.px(2), area.bottom - L.px(2))
        draw.rounded(surf, card, theme.PANEL, L.px(2), alpha=235)
        draw.text(surf, app.fonts, "1. Join the Wi-Fi", L.px(2.6), theme.GOLD,
                  (card.centerx, card.top + pad), anchor="midtop", max_w=card.width - 2 * pad)
        box = pygame.Rect(0, 0, side, side)
        box.midtop = (card.centerx, card.top + pad + label_h)
        self.wifi_rect = draw.qr(surf, app.images, self.wifi_matrix, box)
        draw.text(surf, app.fonts, app.cfg.share.wifi_ssid, L.px(2.6), theme.INK,
                  (card.centerx, self.wifi_rect.bottom + pad // 2), anchor="midtop", bold=False,
                  max_w=card.width - 2 * pad)

    def _scan_label(self) -> str:
        return "2. Scan to download" if self.wifi_matrix else "Scan to download"

    def _note(self, job) -> str:
        if job is not None and job.effect == "local" and job.error is not None:
            return GUEST_MESSAGES.get(job.error.kind, job.error.message)
        return ""

    def _draw_side_panel(self, surf: pygame.Surface, inner: pygame.Rect, job) -> None:
        app, L = self.ctx, self.ctx.layout
        y = inner.top
        r = draw.text(surf, app.fonts, "Your drip is ready!", L.px(6), theme.GOLD,
                      (inner.centerx, y), anchor="midtop", max_w=inner.width)
        y = r.bottom + L.px(2)
        btn_h = L.px(13)
        footer = L.px(5)
        note = self._note(job)
        note_h = L.px(10) if note else 0
        # below the QR: the scan label and gaps, then one or two lines of URL
        url_h = len(split_url(app, self.url, inner.width)) * app.fonts.get(
            L.px(2.9), False).get_linesize() if self.url else 0
        qr_side = min(inner.width, inner.bottom - btn_h - footer - note_h - L.px(10) - url_h - y)
        self.qr_rect = pygame.Rect(0, 0, qr_side, qr_side)
        self.qr_rect.midtop = (inner.centerx, y)
        if self.matrix:
            self.qr_rect = draw.qr(surf, app.images, self.matrix, self.qr_rect)
        y = self.qr_rect.bottom + L.px(1.5)
        r = draw.text(surf, app.fonts, self._scan_label(), L.px(4.6), theme.INK,
                      (inner.centerx, y), anchor="midtop", max_w=inner.width)
        y = r.bottom + L.px(0.8)
        if self.url:
            r = url_lines(surf, app, self.url, (inner.centerx, y), inner.width)
            y = r.bottom + L.px(1)
        if note:
            draw.paragraph(surf, app.fonts, note, L.px(2.6), theme.AMBER, (inner.centerx, y),
                           inner.width, max_lines=2)
        self._draw_footer(surf, inner, btn_h)

    def _draw_portrait_panel(self, surf: pygame.Surface, inner: pygame.Rect, job) -> None:
        app, L = self.ctx, self.ctx.layout
        btn_h = L.px(13)
        qr_side = min(inner.width // 2, inner.height - btn_h - L.px(9))
        self.qr_rect = pygame.Rect(inner.left, inner.top, qr_side, qr_side)
        if self.matrix:
            self.qr_rect = draw.qr(surf, app.images, self.matrix, self.qr_rect)
            self.qr_rect.topleft = (inner.left, inner.top)
        tx = self.qr_rect.right + L.px(4)
        tw = inner.right - tx
        cx = tx + tw // 2
        y = inner.top + L.px(2)
        r = draw.text(surf, app.fonts, "Your drip is ready!", L.px(6), theme.GOLD, (cx, y),
                      anchor="midtop", max_w=tw)
        r = draw.text(surf, app.fonts, self._scan_label(), L.px(4.6), theme.INK,
                      (cx, r.bottom + L.px(3)), anchor="midtop", max_w=tw)
        if self.url:
            r = url_lines(surf, app, self.url, (cx, r.bottom + L.px(1.5)), tw)
        note = self._note(job)
        if note:
            draw.paragraph(surf, app.fonts, note, L.px(2.8), theme.AMBER,
                           (cx, r.bottom + L.px(2)), tw, max_lines=3)
        self._draw_footer(surf, inner, btn_h)

    def _draw_footer(self, surf: pygame.Surface, inner: pygame.Rect, btn_h: int) -> None:
        app, L = self.ctx, self.ctx.layout
        left = max(0, int(app.cfg.kiosk.result_timeout_s - self.elapsed))
        r = draw.text(surf, app.fonts, f"Back to start in {left} s", L.px(2.6), theme.MUTED,
                      (inner.centerx, inner.bottom), anchor="midbottom", bold=False,
                      max_w=inner.width)
        w = min(inner.width, L.px(56))
        self.new_button = pygame.Rect(0, 0, w, btn_h)
        self.new_button.midbottom = (inner.centerx, r.top - L.px(1.5))
        draw.button(surf, app.fonts, self.new_button, "New photo", primary=True, size=L.px(5))

    def state(self) -> dict:
        return {"job_id": self.job_id, "url": self.url}
