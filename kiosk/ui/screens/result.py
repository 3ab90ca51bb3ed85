"""The result: the guest's photo (the very file they download), the download QR with a short code
to type, New photo, and an automatic return to the start. With `share.wifi_ssid` set, a second
block comes first: join the booth's Wi-Fi (its own QR, the network name and password). With
`[print]` in button mode a Print button sits beside New photo, and a line says where the
guest's print is (kiosk/jobs/printwatch.py decides which); the QR stays whatever the printer
does.

With cloud sharing (`[cloud]`) the QR switches to the cloud link as soon as its upload is
confirmed, even while the guest looks at it; a line says which link it is ("works anywhere" for
the cloud, "on the booth Wi-Fi" for the LAN), and a cloud link needs no Wi-Fi to join first."""

from __future__ import annotations

import pygame

from booth.qr import qr_matrix
from booth.texts import Texts
from jobstore.links import CODE_PATH, code_address, qr_link
from kiosk.ui import draw, theme
from kiosk.ui.input import TAP, Action
from kiosk.ui.machine import ScreenName
from kiosk.ui.offer import style_label, wifi_join, wifi_lines
from kiosk.ui.qrlayout import (
    NOTE_LINES,
    PRINT_WEIGHT,
    Caption,
    QrBlock,
    ResultPlan,
    ResultTexts,
    line_rows,
    plan,
)
from kiosk.ui.reveal import Reveal
from kiosk.ui.screens.base import Screen, headline


class ResultScreen(Screen):
    name = ScreenName.RESULT

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.wifi_matrix = wifi_join(ctx.cfg)
        self._plans: dict[tuple, ResultPlan] = {}
        self.reveal = Reveal(ctx)  # the shot turning into the result (kiosk/ui/reveal.py)

    @property
    def smooth(self) -> bool:  # the reveal's drips at REVEAL_FPS while it plays
        return self.reveal.playing

    def enter(self, job_id: str = "", **kw) -> None:
        self.job_id = job_id
        self.new_button = pygame.Rect(0, 0, 0, 0)
        self.print_button = pygame.Rect(0, 0, 0, 0)
        self.qr_rect = pygame.Rect(0, 0, 0, 0)
        self.wifi_rect = pygame.Rect(0, 0, 0, 0)
        self.url: str | None = None
        self.link_kind: str | None = None
        self._follow_link(self.ctx.jobs.get(job_id))

    def _follow_link(self, job) -> None:
        """The QR of the job's current link (kiosk/jobs/views.py JobView.link): rebuilt only when
        the link changes (the cloud upload was confirmed)."""
        url = job.link if job is not None else None
        if url == self.url and self.link_kind is not None:
            return
        self.url, self.link_kind = url, job.link_kind if job is not None else None
        self.qr_text = qr_link(url) if url else None
        self.matrix = qr_matrix(self.qr_text, border=0) if self.qr_text else None
        lan = self.link_kind == "lan"
        # the short code is typed at the booth's own address: only for the LAN link
        self.code = job.code if job is not None and lan else None
        base = url.rpartition("/p/")[0] if url and lan else None
        self.address = code_address(self.ctx.cfg, base) if base else ""
        self._plans.clear()

    def update(self, now: float) -> None:
        self._follow_link(self.ctx.jobs.get(self.job_id))
        if self.elapsed >= self.ctx.cfg.kiosk.result_timeout_s:
            self.ctx.done()

    def handle(self, action: Action) -> None:
        if action.kind == TAP and self.new_button.collidepoint(action.pos):
            self.ctx.done()
        elif action.kind == TAP and self.print_button.collidepoint(action.pos):
            self.ctx.request_print(self.job_id)  # a second tap while it waits asks nothing

    # ------------------------------------------------------------------ what is shown
    def blocks(self) -> list[QrBlock]:
        t = self.ctx.texts
        out = []
        if self.wifi_matrix is not None and self.link_kind != "cloud":
            out.append(join_block(t, self.wifi_matrix, wifi_lines(self.ctx.cfg, t)))
        if self.matrix is not None:
            captions = typed_captions(t, self.address, self.code) if self.code else []
            out.append(
                QrBlock("download", self.matrix, t("then_scan") if out else t("scan"), captions)
            )
        return out

    def lines(self, job) -> list[str]:
        """Lines under the headline: the chosen style."""
        label = style_label(self.ctx.cfg, job.style if job is not None else None)
        return [self.ctx.texts("style_named", style=label)] if label else []

    def status(self) -> str:
        """Where the download link works ('' when nothing needs saying)."""
        if self.link_kind == "cloud":
            return self.ctx.texts("works_anywhere")
        if self.wifi_matrix is not None or self.ctx.cfg.cloud.enabled:
            return self.ctx.texts("on_booth_wifi")
        return ""

    def note(self, job) -> str:
        """A gentle word when the AI failed and the local effect stood in."""
        if job is not None and job.effect == "local" and job.error is not None:
            return self.ctx.texts("fallback_note")
        return ""

    def print_note(self) -> str:
        """Where the guest's print is ('' when nothing needs saying)."""
        view = self.ctx.print_view(self.job_id)
        return self.ctx.texts(view.line, **view.values) if view.line else ""

    def plan(self, job) -> ResultPlan:
        t = self.ctx.texts
        texts = ResultTexts(
            t("ready"),
            self.lines(job),
            self.status(),
            self.note(job),
            t("new_photo"),
            t("back_in", seconds=int(self.ctx.cfg.kiosk.result_timeout_s)),
            t("print_button") if self.ctx.print_view(self.job_id).button else "",
            self.print_note(),
        )
        key = (
            texts.headline,
            tuple(texts.lines),
            texts.status,
            texts.note,
            self.qr_text,
            self.code,
            texts.print_button,
            texts.print_note,
        )
        if key not in self._plans:
            self._plans[key] = plan(self.ctx.layout, self.ctx.fonts, self.blocks(), texts)
        return self._plans[key]

    # ------------------------------------------------------------------ drawing
    def draw(self, surf: pygame.Surface) -> None:
        app = self.ctx
        L, T, t = app.layout, app.layout.type, app.texts
        job = app.jobs.get(self.job_id)
        img = app.pictures.result(self.job_id)
        p = self.plan(job)
        surf.fill(theme.BG)
        if img is not None:
            surf.blit(app.pictures.backdrop(img, f"result-{self.job_id}"), (0, 0))
            self.reveal.draw(surf, self.job_id, img, p.photo)  # once: the shot dripping
        else:
            draw.spinner(surf, p.photo.center, L.px(6), app.now())
        if p.blocks:
            area = p.blocks[0].label.unionall(
                [r for b in p.blocks for r in [b.label, b.code] + [c[1] for c in b.captions]]
            )
            draw.rounded(surf, area.inflate(L.px(3), L.px(3)), theme.PANEL, L.px(3), alpha=235)
        headline(app, surf, t("ready"), p.headline, theme.GOLD)
        for line, box in p.lines:
            draw.paragraph(
                surf,
                app.fonts,
                line,
                T.body,
                theme.INK,
                box=box,
                bold=True,
                max_lines=line_rows(app.fonts, L, line, box.width),
                shadow=True,
            )
        status = self.status()
        if status and p.status is not None:
            draw.paragraph(
                surf,
                app.fonts,
                status,
                T.body,
                theme.GOLD,
                box=p.status,
                bold=True,
                max_lines=line_rows(app.fonts, L, status, p.status.width),
                shadow=True,
            )
        note = self.note(job)
        if note and p.note is not None:
            draw.paragraph(
                surf,
                app.fonts,
                note,
                T.floor,
                theme.AMBER,
                box=p.note,
                bold=True,
                max_lines=NOTE_LINES,
                role="floor",
                shadow=True,
            )
        for b in p.blocks:
            if b.block.label:
                draw.paragraph(
                    surf,
                    app.fonts,
                    b.block.label,
                    T.body,
                    theme.INK,
                    box=b.label,
                    bold=True,
                    max_lines=2,
                )
            card = draw.qr(surf, app.images, b.block.matrix, b.code, b.cell)
            if b.block.name == "download":
                self.qr_rect = card
            elif b.block.name == "wifi":
                self.wifi_rect = card
            for caption, box in b.captions:
                draw.paragraph(
                    surf,
                    app.fonts,
                    caption.text,
                    T.floor,
                    theme.INK if caption.strong else theme.MUTED,
                    box=box,
                    bold=caption.weight,
                    max_lines=2,
                    role="floor",
                )
        self.draw_print(surf, p)
        left = max(0, int(app.cfg.kiosk.result_timeout_s - self.elapsed))
        self.new_button = p.button
        draw.button(surf, app.fonts, p.button, t("new_photo"), primary=True, size=T.button)
        if p.countdown.height:  # (the line about a print may have taken its place)
            draw.paragraph(
                surf,
                app.fonts,
                t("back_in", seconds=left),
                T.floor,
                theme.MUTED,
                box=p.countdown,
                max_lines=2,
                role="floor",
            )

    def draw_print(self, surf: pygame.Surface, p: ResultPlan) -> None:
        """The Print button (gold while a tap would print) and the line about the print."""
        app = self.ctx
        view = app.print_view(self.job_id)
        self.print_button = p.print_button or pygame.Rect(0, 0, 0, 0)
        if p.print_button is not None:
            draw.button(
                surf,
                app.fonts,
                p.print_button,
                app.texts("print_button"),
                primary=view.can_print,
                size=app.layout.type.button,
            )
        note = self.print_note()
        if note and p.print_note is not None:
            draw.paragraph(
                surf,
                app.fonts,
                note,
                app.layout.type.floor,
                theme.GOLD if view.waiting else theme.INK,
                box=p.print_note,
                bold=PRINT_WEIGHT,
                max_lines=NOTE_LINES,
                role="floor",
                shadow=True,
            )

    def state(self) -> dict:
        view = self.ctx.print_view(self.job_id)
        return {
            "job_id": self.job_id,
            "url": self.url,
            "qr": self.qr_text,
            "code": self.code,
            "link": self.link_kind,
            "print": {"button": view.button, "can_print": view.can_print, "line": view.line},
        }


def join_block(t: Texts, matrix: list[list[bool]], lines: list[str]) -> QrBlock:
    """Step 1: the booth Wi-Fi's join code, its network name and password under it."""
    return QrBlock("wifi", matrix, t("join_wifi"), [[Caption(line, True) for line in lines]])


def typed_captions(t: Texts, address: str, code: str) -> list[list[Caption]]:
    """Ways to write `address/CODE` (CODE_PATH) under the download code, best first: whole, or
    broken after the slash, or after the colon for a narrow column ("192.168.1.123:" above
    "8080/CODE")."""
    typed = address + CODE_PATH.format(code=code)
    where = typed[: len(typed) - len(code)]
    captions = [
        [Caption(t("or_type")), Caption(typed, True)],
        [Caption(f"{t('or_type')} {where}"), Caption(code, True)],
        [Caption(where, True), Caption(code, True)],
    ]
    host, colon, port = where.rpartition(":")
    if colon:
        captions.append([Caption(host + colon, True), Caption(port + code, True)])
    return captions
