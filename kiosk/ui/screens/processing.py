"""The shot under an overlay: in line → adding the drip, a spinner, elapsed seconds, a notice
slot (the slow notice), New photo. With the booth's own Wi-Fi (`share.wifi_ssid`) a panel beside
it shows the join QR with the network name and password, so guests join while they wait: the
download link on the result screen works only on that network."""

from __future__ import annotations

import pygame

from kiosk.ui import draw, theme
from kiosk.ui.input import TAP, Action
from kiosk.ui.machine import Event, ScreenName
from kiosk.ui.offer import wifi_join, wifi_lines
from kiosk.ui.screens.base import Screen, headline, headline_box, job_phase
from kiosk.ui.theme import CONDENSED

JOIN_PAD = 2.5  # layout units inside the join panel
NOTICE_LINES = 4  # the card beside the join panel is narrow: a notice may need four in Spanish


class ProcessingScreen(Screen):
    name = ScreenName.PROCESSING
    animated = True

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.wifi_matrix = wifi_join(ctx.cfg)
        self.wifi_lines = wifi_lines(ctx.cfg, ctx.texts) if self.wifi_matrix else []
        self.wifi_rect = pygame.Rect(0, 0, 0, 0)
        self._split: int | None = None  # where the join panel starts (measured once)

    def enter(self, job_id: str = "", **kw) -> None:
        self.job_id = job_id
        self.new_button = pygame.Rect(0, 0, 0, 0)

    @property
    def job(self):
        return self.ctx.jobs.get(self.job_id)

    def update(self, now: float) -> None:
        job = self.job
        if job is not None and (job.is_frame or (job.is_sheet and not job.ready)):
            # a strip session's frame, or its sheet not made yet (a restart reopens the newest
            # unfinished job): the session's own screen shows it (screens/session.py)
            self.ctx.fire(Event.SESSION, session_id=job.session_id)
        elif job is not None and job.ready:
            self.ctx.fire(Event.READY, job_id=self.job_id)
        elif job is not None and job.failed:
            self.ctx.fire(Event.FAILED, job_id=self.job_id)
        elif self.wait() == "leave":  # kiosk.max_wait_s: the photo turns up in the strip
            self.ctx.done()

    def wait(self) -> str:
        """wait | notice (the last seconds of kiosk.max_wait_s) | leave
        (kiosk/jobs/controller.py)."""
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
        if self.job_id in self.ctx.jobs.storage_trouble:
            return self.ctx.texts("storage_wait")  # kiosk/jobs/controller.py holds and retries it
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
        content, panel = self._areas()
        bw, bh = min(L.px(50), content.width), L.px(14)
        self.new_button = pygame.Rect(0, 0, bw, bh)
        self.new_button.midbottom = (content.centerx, L.h - m)

        pad = L.px(4)
        card_w = min(L.px(110), content.width)
        inner_w = card_w - 2 * pad
        word = t("in_line") if phase == "queued" else t("working")
        head_h = headline_box(app, word, 0, 0, inner_w).height
        body_h = draw.line_height(app.fonts, T.body, True)
        notice_size, notice_lines = draw.fit_lines(
            app.fonts, notice, T.body, inner_w, NOTICE_LINES, True
        )
        notice_h = (
            len(notice_lines) * draw.line_height(app.fonts, notice_size, True) if notice else 0
        )
        spin_r = L.px(6)
        card_h = (
            pad
            + 2 * spin_r
            + L.px(3)
            + head_h
            + body_h
            + (L.px(1.5) + notice_h if notice else 0)
            + pad
        )
        card = pygame.Rect(0, 0, card_w, card_h)
        card.center = (
            content.centerx,
            content.top + (self.new_button.top - L.px(2) - content.top) // 2 + L.px(1),
        )
        if panel is not None and L.portrait:
            card.top = content.top
        card.top = max(card.top, m)
        draw.rounded(surf, card, theme.PANEL, L.px(4), alpha=225)
        y = card.top + pad
        draw.spinner(surf, (card.centerx, y + spin_r), spin_r, app.now())
        y += 2 * spin_r + L.px(3)
        headline(app, surf, word, pygame.Rect(card.left + pad, y, inner_w, head_h))
        y += head_h
        draw.text(
            surf,
            app.fonts,
            t("seconds", seconds=secs),
            T.body,
            theme.MUTED,
            anchor="midtop",
            box=pygame.Rect(card.left + pad, y, inner_w, body_h),
            bold=False,
        )
        y += body_h + L.px(1.5)
        if notice:
            draw.paragraph(
                surf,
                app.fonts,
                notice,
                T.body,
                theme.AMBER,
                bold=True,
                box=pygame.Rect(card.left + pad, y, inner_w, notice_h),
                max_lines=NOTICE_LINES,
            )
        draw.button(surf, app.fonts, self.new_button, t("new_photo"), primary=False, size=T.button)
        if panel is not None:
            if L.portrait:
                panel.top = card.bottom + L.px(3)
                panel.height = self.new_button.top - L.px(3) - panel.top
            self._draw_join(surf, panel)

    def _areas(self) -> tuple[pygame.Rect, pygame.Rect | None]:
        """Where the card and button go, and the join panel (None without the booth Wi-Fi)."""
        L = self.ctx.layout
        m = L.margin
        whole = pygame.Rect(m, m, L.w - 2 * m, L.h - 2 * m)
        if self.wifi_matrix is None:
            return whole, None
        if L.portrait:  # the panel's height is settled once the card is placed
            return whole, pygame.Rect(m, m, L.w - 2 * m, 0)
        if self._split is None:
            # the panel widens (the card keeps 42 %) until the network name and the password
            # each fit one row: rows they do not take go to the code
            widest = max(
                self.ctx.fonts.get(L.type.floor, CONDENSED).size(line)[0]
                for line in self.wifi_lines
            )
            self._split = min(
                int(L.w * 0.5),
                max(int(L.w * 0.42), L.w - m - L.px(1.5) - 2 * L.px(JOIN_PAD) - widest),
            )
        split = self._split
        return (
            pygame.Rect(m, m, split - m - L.px(1.5), L.h - 2 * m),
            pygame.Rect(split + L.px(1.5), m, L.w - split - L.px(1.5) - m, L.h - 2 * m),
        )

    def _draw_join(self, surf: pygame.Surface, panel: pygame.Rect) -> None:
        app = self.ctx
        L, T, t = app.layout, app.layout.type, app.texts
        pad = L.px(JOIN_PAD)
        inner = panel.inflate(-2 * pad, -2 * pad)
        draw.rounded(surf, panel, theme.PANEL, L.px(3), alpha=235)
        label = t("wait_join_wifi")
        size, rows = draw.fit_lines(app.fonts, label, T.body, inner.width, 2, True)
        label_box = pygame.Rect(
            inner.x, inner.y, inner.width, len(rows) * draw.line_height(app.fonts, size, True)
        )
        draw.paragraph(
            surf, app.fonts, label, T.body, theme.GOLD, box=label_box, bold=True, max_lines=2
        )
        lines = self.wifi_lines
        line_h = draw.line_height(app.fonts, T.floor, CONDENSED)
        heights = [
            line_h
            * min(2, len(draw.fit_lines(app.fonts, s, T.floor, inner.width, 2, CONDENSED)[1]))
            for s in lines
        ]
        bottom = inner.bottom - sum(heights) - L.px(1)
        code_box = pygame.Rect(
            inner.x,
            label_box.bottom + L.px(1),
            inner.width,
            max(line_h, bottom - label_box.bottom - L.px(1)),
        )
        matrix = self.wifi_matrix
        assert matrix is not None  # a join panel is laid out only with the booth Wi-Fi
        self.wifi_rect = draw.qr(surf, app.images, matrix, code_box)
        y = self.wifi_rect.bottom + L.px(1)
        for text, h in zip(lines, heights):
            draw.paragraph(
                surf,
                app.fonts,
                text,
                T.floor,
                theme.INK,
                bold=CONDENSED,
                box=pygame.Rect(inner.x, y, inner.width, h),
                max_lines=2,
                role="floor",
            )
            y += h

    def state(self) -> dict:
        return {"job_id": self.job_id, "phase": self.phase(), "wait": self.wait()}
