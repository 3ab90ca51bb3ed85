"""A guest-friendly message for each error kind, a Try again button, and back to start."""

from __future__ import annotations

import pygame

from booth.protocol import ErrorKind
from kiosk.ui import draw, theme
from kiosk.ui.input import TAP, Action
from kiosk.ui.machine import ScreenName
from kiosk.ui.screens.base import Screen, headline, headline_box

# Failures on the booth itself, before a job exists (no ErrorKind on the wire for these).
LOCAL_ERRORS = ("camera", "storage", "internal")
ERROR_TIMEOUT_S = 15.0


class ErrorScreen(Screen):
    name = ScreenName.ERROR

    def enter(self, job_id: str = "", kind: str | None = None, **kw) -> None:
        self.job_id = job_id
        self.button = pygame.Rect(0, 0, 0, 0)
        self.retry_after: float | None = None
        t = self.ctx.texts
        if kind in LOCAL_ERRORS:
            self.kind = kind
        else:
            job = self.ctx.jobs.get(job_id)
            err = job.error if job is not None else None
            self.kind = (err.kind if err is not None else ErrorKind(kind or "internal")).value
            self.retry_after = err.retry_after_s if err is not None else None
        # Our own words per kind, in the guest's language (the wire's message is English).
        self.title = t(f"error_{self.kind}_title")
        self.message = t(f"error_{self.kind}")

    def update(self, now: float) -> None:
        if self.elapsed >= ERROR_TIMEOUT_S:
            self.ctx.done()

    def handle(self, action: Action) -> None:
        if action.kind == TAP and self.button.collidepoint(action.pos):
            self.ctx.done()

    def draw(self, surf: pygame.Surface) -> None:
        app = self.ctx
        L, T, t = app.layout, app.layout.type, app.texts
        m = L.margin
        surf.fill(theme.BG)
        shot = app.pictures.shot(self.job_id) if self.job_id else None
        if shot is not None:
            surf.blit(app.pictures.backdrop(shot, f"shot-{self.job_id}"), (0, 0))
            draw.shade(surf, app.images, 90)
        w = min(L.w - 2 * m, L.px(130))
        cx = L.w // 2
        floor_h = draw.line_height(app.fonts, T.floor)
        self.button = pygame.Rect(0, 0, min(L.px(50), w), L.px(14))
        self.button.midbottom = (cx, L.h - m - floor_h - L.px(2))
        left = max(0, int(ERROR_TIMEOUT_S - self.elapsed))
        draw.text(
            surf,
            app.fonts,
            t("back_in", seconds=left),
            T.floor,
            theme.MUTED,
            anchor="midbottom",
            box=pygame.Rect(cx - w // 2, L.h - m - floor_h, w, floor_h),
            bold=False,
            role="floor",
        )
        draw.button(surf, app.fonts, self.button, t("try_again"), primary=True, size=T.button)

        head_h = headline_box(app, self.title, 0, 0, w).height
        body_h = draw.line_height(app.fonts, T.body)
        detail = (
            t("ready_again_in", seconds=int(self.retry_after + 0.99)) if self.retry_after else ""
        )
        _size, lines = draw.fit_lines(app.fonts, self.message, T.body, w, 3)
        msg_h = min(3, len(lines)) * body_h
        r = L.px(7)
        content_h = (
            2 * r + L.px(2) + head_h + L.px(2) + msg_h + (body_h + L.px(1.5) if detail else 0)
        )
        y = max(m, (self.button.top - L.px(3) - content_h) // 2)
        draw.alert(surf, (cx, y + r), r, theme.RED)
        y += 2 * r + L.px(2)
        headline(app, surf, self.title, pygame.Rect(cx - w // 2, y, w, head_h))
        y += head_h + L.px(2)
        draw.paragraph(
            surf,
            app.fonts,
            self.message,
            T.body,
            theme.MUTED,
            box=pygame.Rect(cx - w // 2, y, w, msg_h),
            max_lines=3,
        )
        y += msg_h + L.px(1.5)
        if detail:
            draw.text(
                surf,
                app.fonts,
                detail,
                T.body,
                theme.AMBER,
                anchor="midtop",
                box=pygame.Rect(cx - w // 2, y, w, body_h),
            )

    def state(self) -> dict:
        return {"job_id": self.job_id, "kind": self.kind}
