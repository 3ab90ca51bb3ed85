"""The shot under an overlay: in line → adding the drip, a spinner, elapsed seconds, a notice
slot (the slow notice), New photo."""

from __future__ import annotations

import pygame

from kiosk import draw, theme
from kiosk.input import TAP, Action
from kiosk.machine import Event, ScreenName
from kiosk.screens.base import Screen, headline, headline_box, job_phase


class ProcessingScreen(Screen):
    name = ScreenName.PROCESSING
    animated = True

    def enter(self, job_id: str = "", **kw) -> None:
        self.job_id = job_id
        self.new_button = pygame.Rect(0, 0, 0, 0)

    @property
    def job(self):
        return self.ctx.jobs.get(self.job_id)

    def update(self, now: float) -> None:
        job = self.job
        if job is not None and job.ready:
            self.ctx.fire(Event.READY, job_id=self.job_id)
        elif job is not None and job.failed:
            self.ctx.fire(Event.FAILED, job_id=self.job_id)
        elif self.wait() == "leave":  # kiosk.max_wait_s: the photo turns up in the strip
            self.ctx.done()

    def wait(self) -> str:
        """wait | notice (the last seconds of kiosk.max_wait_s) | leave (kiosk/pipeline.py)."""
        return self.ctx.wait_phase(self.job, self.elapsed)

    def handle(self, action: Action) -> None:
        # A new guest may start while this job still runs; it stays in the recent strip.
        if action.kind == TAP and self.new_button.collidepoint(action.pos):
            self.ctx.done()

    def phase(self) -> str:
        job = self.job
        return job_phase(job) if job is not None else "queued"

    def notice(self, secs: int) -> str:
        """The line under the timer ('' for none): in the last seconds of the bounded wait, where
        the photo will turn up; before that the slow notice past kiosk.slow_after_s."""
        if self.wait() != "wait":
            return self.ctx.texts("in_strip")
        if secs >= self.ctx.cfg.kiosk.slow_after_s:
            return self.ctx.texts("slow")
        return ""

    def draw(self, surf: pygame.Surface) -> None:
        app = self.ctx
        L, T, t = app.layout, app.layout.type, app.texts
        m = L.margin
        shot = app.pictures.shot(self.job_id)
        surf.fill(theme.BG)
        if shot is not None:
            surf.blit(app.pictures.backdrop(shot, f"shot-{self.job_id}"), (0, 0))
            draw.blit_fit(surf, app.images, shot, L.rect)
        draw.shade(surf, app.images, 120)

        job = self.job
        phase = self.phase()
        created = job.created_at if job is not None else None
        secs = int(max(0.0, app.wall() - created)) if created else int(self.elapsed)
        notice = self.notice(secs)
        bw, bh = min(L.px(50), L.w - 2 * m), L.px(14)
        self.new_button = pygame.Rect(0, 0, bw, bh)
        self.new_button.midbottom = (L.w // 2, L.h - m)

        pad = L.px(4)
        card_w = min(L.px(110), L.w - 2 * m)
        inner_w = card_w - 2 * pad
        word = t("in_line") if phase == "queued" else t("working")
        head_h = headline_box(app, word, 0, 0, inner_w).height
        body_h = draw.line_height(app.fonts, T.body, True)
        notice_size, notice_lines = draw.fit_lines(app.fonts, notice, T.body, inner_w, 2, True)
        notice_h = len(notice_lines) * draw.line_height(app.fonts, notice_size, True) \
            if notice else 0
        spin_r = L.px(6)
        card_h = pad + 2 * spin_r + L.px(3) + head_h + body_h + \
            (L.px(1.5) + notice_h if notice else 0) + pad
        card = pygame.Rect(0, 0, card_w, card_h)
        card.center = (L.w // 2, (self.new_button.top - L.px(2)) // 2 + L.px(1))
        card.top = max(card.top, m)
        draw.rounded(surf, card, theme.PANEL, L.px(4), alpha=225)
        y = card.top + pad
        draw.spinner(surf, (card.centerx, y + spin_r), spin_r, app.now())
        y += 2 * spin_r + L.px(3)
        headline(app, surf, word, pygame.Rect(card.left + pad, y, inner_w, head_h))
        y += head_h
        draw.text(surf, app.fonts, t("seconds", seconds=secs), T.body, theme.MUTED,
                  anchor="midtop", box=pygame.Rect(card.left + pad, y, inner_w, body_h),
                  bold=False)
        y += body_h + L.px(1.5)
        if notice:
            draw.paragraph(surf, app.fonts, notice, T.body, theme.AMBER, bold=True,
                           box=pygame.Rect(card.left + pad, y, inner_w, notice_h), max_lines=2)
        draw.button(surf, app.fonts, self.new_button, t("new_photo"), primary=False,
                    size=T.button)

    def state(self) -> dict:
        return {"job_id": self.job_id, "phase": self.phase(), "wait": self.wait()}
