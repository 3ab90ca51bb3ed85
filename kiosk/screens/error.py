"""A guest-friendly message for each error kind, a Try again button, and back to start."""

from __future__ import annotations

import pygame

from booth.protocol import GUEST_MESSAGES, ErrorKind
from kiosk import draw, theme
from kiosk.input import TAP, Action
from kiosk.machine import ScreenName
from kiosk.screens.base import Screen

TITLES = {
    ErrorKind.QUOTA: "The AI is resting",
    ErrorKind.RATE_LIMITED: "The AI is very busy",
    ErrorKind.SAFETY: "The AI said no to this one",
    ErrorKind.NO_IMAGE: "No picture came back",
    ErrorKind.TIMEOUT: "That took too long",
    ErrorKind.UNAVAILABLE: "The AI is out of reach",
    ErrorKind.BAD_INPUT: "We couldn't read that photo",
    ErrorKind.INTERNAL: "Something went wrong",
}
# Failures on the booth itself, before a job exists (no ErrorKind on the wire for these).
LOCAL_ERRORS = {
    "camera": ("The camera missed that", "The camera did not take the picture. Please try again."),
    "storage": ("The booth's memory is full",
                "This photo could not be saved. Please let the host know."),
    "internal": ("Something went wrong", GUEST_MESSAGES[ErrorKind.INTERNAL]),
}
ERROR_TIMEOUT_S = 15.0


class ErrorScreen(Screen):
    name = ScreenName.ERROR

    def enter(self, job_id: str = "", kind: str | None = None, **kw) -> None:
        self.job_id = job_id
        self.button = pygame.Rect(0, 0, 0, 0)
        self.detail = ""
        job = self.ctx.jobs.get(job_id)
        if kind in LOCAL_ERRORS:
            self.kind = kind
            self.title, self.message = LOCAL_ERRORS[kind]
            return
        err = job.error if job is not None else None
        ek = err.kind if err is not None else ErrorKind(kind or "internal")
        self.kind = ek.value
        self.title = TITLES[ek]
        # Our own words per kind (a worker's message is shown only if ours is missing).
        self.message = GUEST_MESSAGES.get(ek) or (err.message if err else "")
        retry = err.retry_after_s if err is not None else None
        if retry:
            self.detail = f"Ready again in about {int(retry + 0.99)} s"

    def update(self, now: float) -> None:
        if self.elapsed >= ERROR_TIMEOUT_S:
            self.ctx.done()

    def handle(self, action: Action) -> None:
        if action.kind == TAP and self.button.collidepoint(action.pos):
            self.ctx.done()

    def draw(self, surf: pygame.Surface) -> None:
        app, L = self.ctx, self.ctx.layout
        surf.fill(theme.BG)
        shot = app.pictures.shot(self.job_id) if self.job_id else None
        if shot is not None:
            surf.blit(app.pictures.backdrop(shot, f"shot-{self.job_id}"), (0, 0))
            draw.shade(surf, app.images, 90)
        w = min(L.w - 2 * L.margin, L.px(120))
        cx, y = L.w // 2, L.h // 2 - L.px(34)
        r = L.px(8)
        pygame.draw.circle(surf, theme.RED, (cx, y + r), r)
        draw.text(surf, app.fonts, "!", L.px(11), theme.WHITE, (cx, y + r))
        rr = draw.text(surf, app.fonts, self.title, L.px(7), theme.INK,
                       (cx, y + 2 * r + L.px(3)), anchor="midtop", max_w=w)
        para = draw.paragraph(surf, app.fonts, self.message, L.px(4.4), theme.MUTED,
                              (cx, rr.bottom + L.px(2.5)), w, max_lines=3)
        if self.detail:
            draw.text(surf, app.fonts, self.detail, L.px(4), theme.AMBER,
                      (cx, para.bottom + L.px(2)), anchor="midtop", max_w=w)
        self.button = pygame.Rect(0, 0, min(L.px(50), w), L.px(14))
        self.button.midbottom = (cx, L.h - L.margin - L.px(4))
        draw.button(surf, app.fonts, self.button, "Try again", primary=True, size=L.px(5.5))
        left = max(0, int(ERROR_TIMEOUT_S - self.elapsed))
        draw.text(surf, app.fonts, f"Back to start in {left} s", L.px(2.6), theme.MUTED,
                  (cx, L.h - L.margin), anchor="midbottom", bold=False)

    def state(self) -> dict:
        return {"job_id": self.job_id, "kind": self.kind}
