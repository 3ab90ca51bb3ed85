"""The shot under an overlay: Queued → Processing, a spinner, elapsed seconds, a slow notice."""

from __future__ import annotations

import pygame

from kiosk import draw, theme
from kiosk.input import TAP, Action
from kiosk.machine import Event, ScreenName
from kiosk.screens.base import Screen, header, job_phase


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
        elif self.ctx.wait_phase(job, self.elapsed) == "leave":  # kiosk.max_wait_s
            self.ctx.done()

    def handle(self, action: Action) -> None:
        # A new guest may start while this job still runs; it stays in the recent strip.
        if action.kind == TAP and self.new_button.collidepoint(action.pos):
            self.ctx.done()

    def phase(self) -> str:
        job = self.job
        return job_phase(job) if job is not None else "queued"

    def draw(self, surf: pygame.Surface) -> None:
        app = self.ctx
        L = app.layout
        shot = app.pictures.shot(self.job_id)
        surf.fill(theme.BG)
        if shot is not None:
            surf.blit(app.pictures.backdrop(shot, f"shot-{self.job_id}"), (0, 0))
            draw.blit_fit(surf, app.images, shot, L.rect)
        draw.shade(surf, app.images, 120)
        header(app, surf)

        job = self.job
        phase = self.phase()
        created = job.created_at if job is not None else None
        secs = int(max(0.0, app.wall() - created)) if created else int(self.elapsed)
        card = pygame.Rect(0, 0, min(L.px(86), L.w - 2 * L.margin), L.px(50))
        card.center = (L.w // 2, L.h // 2 - L.px(2))
        draw.rounded(surf, card, theme.PANEL, L.px(4), alpha=225)
        draw.spinner(surf, (card.centerx, card.top + L.px(11)), L.px(6), app.now())
        word = "Queued" if phase == "queued" else "Processing"
        draw.text(surf, app.fonts, word, L.px(8), theme.INK,
                  (card.centerx, card.top + L.px(20)), anchor="midtop", max_w=card.width - L.px(6))
        if phase == "queued":
            sub = "Waiting for a free AI artist"
        elif job is not None and job.effect == "local":
            sub = "Adding the bling locally"
        else:
            sub = "Adding the drip"
        draw.text(surf, app.fonts, f"{sub}  ·  {secs} s", L.px(4.2), theme.MUTED,
                  (card.centerx, card.top + L.px(31)), anchor="midtop", bold=False,
                  max_w=card.width - L.px(6))
        if app.wait_phase(job, self.elapsed) != "wait":  # the bounded wait's last seconds
            draw.text(surf, app.fonts, "Your photo will appear in the recent photos",
                      L.px(3.8), theme.AMBER, (card.centerx, card.top + L.px(39)),
                      anchor="midtop", max_w=card.width - L.px(6))
        elif secs >= app.cfg.kiosk.slow_after_s:
            draw.text(surf, app.fonts, "Taking longer than usual. Hang tight!", L.px(3.8),
                      theme.AMBER, (card.centerx, card.top + L.px(39)), anchor="midtop",
                      max_w=card.width - L.px(6))
        bw, bh = min(L.px(44), L.w - 2 * L.margin), L.px(13)
        self.new_button = pygame.Rect(0, 0, bw, bh)
        self.new_button.midbottom = (L.w // 2, L.h - L.margin)
        if self.new_button.top < card.bottom + L.px(2):
            self.new_button.top = card.bottom + L.px(2)
        draw.button(surf, app.fonts, self.new_button, "New photo", primary=False,
                    size=L.px(4.6))

    def state(self) -> dict:
        return {"job_id": self.job_id, "phase": self.phase(),
                "wait": self.ctx.wait_phase(self.job, self.elapsed)}
