"""A strip session on screen: one tap, 3 or 4 countdowns, then the frames coming back.

The session's job side is kiosk/jobs/sessions.py; this screen only paces the guest:
- `countdown` (over the live preview, "Photo 2 of 4"): at zero the next capture is armed as the
  session's frame and the shutter fires as for any photo (`ctx.take_shot`);
- `flash`: the shot just taken under a fading white;
- `review` (strip.pause_s): the frames so far as tiles, "Got it!", then the next countdown;
- `waiting`: every frame as a tile, the shot under a spinner until its picture is back, then the
  picture with a tick (a red mark: it got none, its shot stands in); when the sheet is stored
  the result screen shows it with its QR, like a photo.
A session opened again (a restart: kiosk/ui/screens/processing.py sends a session's frame here)
starts in `waiting` and says what happened: the booth restarted, or the camera stopped, and the
photos already taken are kept. The guest's wait is bounded as on the processing screen
(kiosk.max_wait_s, then the sheet turns up in the recent photos).
"""

from __future__ import annotations

import math

import pygame

from jobstore.sessions import CAMERA, RESTART
from kiosk.jobs.sessions import EMPTY, SessionView
from kiosk.jobs.views import JobView
from kiosk.ui import draw, theme
from kiosk.ui.input import TAP, Action
from kiosk.ui.machine import Event, ScreenName
from kiosk.ui.screens.base import Screen, headline, headline_box, job_phase
from kiosk.ui.screens.dial import dial_for, draw_dial

FLASH_S = 0.45
COUNTDOWN, FLASH, REVIEW, WAITING = "countdown", "flash", "review", "waiting"
NOTE_LINES = 3


class SessionScreen(Screen):
    name = ScreenName.SESSION
    animated = True  # a countdown ring or spinners

    def enter(self, style: str | None = None, session_id: str = "", **kw: object) -> None:
        ctx = self.ctx
        self.button = pygame.Rect(0, 0, 0, 0)
        self.shots: list[str] = []  # the frames this screen took, in order
        self.frame = 1
        self.phase_at = ctx.now()
        self.style = style or ctx.cfg.kiosk.default_style
        if session_id or ctx.sessions is None:  # shown again (a restart, the recent strip)
            self.session_id = session_id
            self.phase = WAITING
            view = self.view
            self.style = view.style if view is not None else self.style
            return
        self.session_id = ctx.sessions.begin(self.style)
        self.phase = COUNTDOWN

    # ------------------------------------------------------------------ what it knows
    @property
    def view(self) -> SessionView | None:
        s = self.ctx.sessions
        return s.view(self.session_id) if s is not None else None

    @property
    def total(self) -> int:
        view = self.view
        if view is not None and not view.shooting:
            return max(1, view.taken)
        return view.shots if view is not None else self.ctx.cfg.strip.shots

    def frames(self) -> list[str]:
        """The frames' job ids in shot order (the job side's list, else the shots taken here)."""
        view = self.view
        known = list(view.frames) if view is not None else []
        return known + [j for j in self.shots if j not in known]

    def frame_jobs(self) -> list[JobView | None]:
        return [self.ctx.jobs.get(j) for j in self.frames()]

    def ready_count(self) -> int:
        return sum(1 for j in self.frame_jobs() if j is not None and j.finished)

    @property
    def live_preview(self) -> bool:
        return self.phase == COUNTDOWN

    def _in_phase(self) -> float:
        return self.ctx.now() - self.phase_at

    def _go(self, phase: str) -> None:
        self.phase, self.phase_at = phase, self.ctx.now()

    # ------------------------------------------------------------------ pacing
    def update(self, now: float) -> None:
        ctx = self.ctx
        if self.phase == COUNTDOWN:
            self._count_down()
        elif self.phase == FLASH and self._in_phase() >= FLASH_S:
            self._after_shot()
        elif self.phase == REVIEW and self._in_phase() >= ctx.cfg.strip.pause_s:
            self.frame += 1
            ctx.prepare_still()
            self._go(COUNTDOWN)
        elif self.phase == WAITING:
            self._wait()

    def _count_down(self) -> None:
        ctx = self.ctx
        if ctx.status.camera != "live" or self._capture_failed():
            self._stop(CAMERA)
            return
        if self._in_phase() >= ctx.cfg.kiosk.countdown_s:
            assert ctx.sessions is not None  # a session is shot only with a job side
            ctx.sessions.take(self.session_id, self.frame)
            self.shots.append(ctx.take_shot(self.style))
            self._go(FLASH)

    def _after_shot(self) -> None:
        if self._capture_failed():
            self._stop(CAMERA)
        elif self.frame >= self.ctx.cfg.strip.shots:
            self._go(WAITING)
        else:
            self._go(REVIEW)

    def _capture_failed(self) -> bool:
        """The last shot never became a job (the camera failed at the shutter): the job book
        dropped it (kiosk/ui/jobbook.py)."""
        last = self.shots[-1] if self.shots else None
        return last is not None and self.ctx.jobs.finished(last) and self.ctx.jobs.get(last) is None

    def _stop(self, why: str) -> None:
        """No more shots (the camera failed): the frames taken are kept and finished."""
        ctx = self.ctx
        if ctx.sessions is not None:
            ctx.sessions.end(self.session_id, why)
        if not any(ctx.jobs.get(j) is not None for j in self.shots):
            ctx.fire(Event.FAILED, kind="camera")
            return
        self._go(WAITING)

    def _wait(self) -> None:
        ctx = self.ctx
        sheet = ctx.jobs.get(self.session_id)
        view = self.view
        if sheet is not None and sheet.ready:
            ctx.fire(Event.READY, job_id=self.session_id)
        elif view is not None and view.state == EMPTY:
            ctx.fire(Event.FAILED, kind="camera")
        elif self._in_phase() >= ctx.cfg.kiosk.max_wait_s:
            ctx.done()  # the sheet turns up in the recent photos with its QR

    def handle(self, action: Action) -> None:
        if action.kind == TAP and self.phase == WAITING and self.button.collidepoint(action.pos):
            self.ctx.done()  # the session finishes meanwhile; its sheet goes to the strip

    # ------------------------------------------------------------------ words
    def note(self) -> str:
        """Why the session has fewer frames than planned, or where the sheet will turn up."""
        t = self.ctx.texts
        view = self.view
        if view is not None and view.ended in (RESTART, CAMERA) and self.phase == WAITING:
            key = "strip_restarted" if view.ended == RESTART else "strip_camera_stopped"
            return t(key, taken=view.taken, total=view.shots)
        if self.phase == WAITING and self._in_phase() >= self.ctx.cfg.kiosk.max_wait_s - 5:
            return t("in_strip")
        return ""

    def title(self) -> str:
        t = self.ctx.texts
        if self.phase == COUNTDOWN:
            return t("strip_photo_of", n=self.frame, total=self.ctx.cfg.strip.shots)
        if self.phase == REVIEW:
            return t("strip_got_it")
        return t("strip_working")

    # ------------------------------------------------------------------ drawing
    def draw(self, surf: pygame.Surface) -> None:
        if self.phase == COUNTDOWN:
            self._draw_countdown(surf)
        elif self.phase == FLASH:
            self._draw_flash(surf)
        else:
            self._draw_frames(surf)

    def _draw_countdown(self, surf: pygame.Surface) -> None:
        ctx = self.ctx
        ctx.pictures.draw_preview(surf)
        left = ctx.cfg.kiosk.countdown_s - self._in_phase()
        draw_dial(ctx, surf, dial_for(ctx, self.title(), self.style), left)

    def _draw_flash(self, surf: pygame.Surface) -> None:
        ctx = self.ctx
        shot = ctx.images.get(("shot", self.shots[-1])) if self.shots else None
        if shot is not None:
            surf.fill(theme.BG)
            draw.blit_fit(surf, ctx.images, shot, ctx.layout.rect)
        else:
            ctx.pictures.draw_preview(surf)
        k = max(0.0, 1.0 - self._in_phase() / FLASH_S)
        draw.shade(surf, ctx.images, int(255 * k), theme.WHITE)

    def _draw_frames(self, surf: pygame.Surface) -> None:
        """The headline, a tile per frame, the count and the note, New photo (waiting)."""
        ctx = self.ctx
        L, T, t = ctx.layout, ctx.layout.type, ctx.texts
        m = L.margin
        surf.fill(theme.BG)
        latest = next((s for s in reversed(self.frames()) if ctx.pictures.shot(s)), None)
        shot = ctx.pictures.shot(latest) if latest else None
        if shot is not None:
            surf.blit(ctx.pictures.backdrop(shot, f"shot-{latest}"), (0, 0))
        width = L.w - 2 * m
        title = self.title()
        head = headline_box(ctx, title, m, m, width)
        headline(ctx, surf, title, head, theme.GOLD)
        waiting = self.phase == WAITING
        body_h = draw.line_height(ctx.fonts, T.body, True)
        bottom = L.h - m
        if waiting:
            self.button = pygame.Rect(0, 0, min(L.px(50), width), L.px(14))
            self.button.midbottom = (L.w // 2, bottom)
            draw.button(surf, ctx.fonts, self.button, t("new_photo"), primary=False, size=T.button)
            bottom = self.button.top - L.px(2)
        note = self.note()
        note_h = 0
        if note:
            size, rows = draw.fit_lines(ctx.fonts, note, T.body, width, NOTE_LINES, True)
            note_h = min(NOTE_LINES, len(rows)) * draw.line_height(ctx.fonts, size, True)
            box = pygame.Rect(m, bottom - note_h, width, note_h)
            draw.paragraph(
                surf,
                ctx.fonts,
                note,
                T.body,
                theme.AMBER,
                box=box,
                bold=True,
                max_lines=NOTE_LINES,
                shadow=True,
            )
            bottom = box.top - L.px(1)
        if waiting:
            count = t("strip_count", ready=self.ready_count(), total=self.total)
            box = pygame.Rect(m, bottom - body_h, width, body_h)
            draw.text(
                surf, ctx.fonts, count, T.body, theme.INK, anchor="midtop", box=box, shadow=True
            )
            bottom = box.top - L.px(1)
        area = pygame.Rect(m, head.bottom + L.px(2), width, bottom - head.bottom - L.px(3))
        self._draw_tiles(surf, area)

    def _draw_tiles(self, surf: pygame.Surface, area: pygame.Rect) -> None:
        ctx = self.ctx
        L = ctx.layout
        jobs = self.frame_jobs()
        n = max(self.total, len(jobs))
        for i, rect in enumerate(tile_rects(area, n, (L.w, L.h), L.px(2))):
            job = jobs[i] if i < len(jobs) else None
            radius = L.px(2)
            draw.rounded(
                surf, rect.inflate(6, 6), (0, 0, 0), radius + 3, alpha=150, store=ctx.images
            )
            thumb = ctx.pictures.thumbnail(job, rect.size) if job is not None else None
            if thumb is not None:
                cover = draw.fit_rect(thumb.get_size(), rect, cover=True)
                clip = surf.get_clip()
                surf.set_clip(rect)
                surf.blit(ctx.images.scaled(thumb, cover.size), cover)
                surf.set_clip(clip)
            else:
                draw.rounded(surf, rect, theme.PANEL, radius)
            phase = job_phase(job) if job is not None else "empty"
            if job is None:
                draw.text(
                    surf,
                    ctx.fonts,
                    str(i + 1),
                    ctx.layout.type.headline,
                    theme.MUTED,
                    rect.center,
                    role="display",
                )
                continue
            color = {"ready": theme.GREEN, "failed": theme.RED}.get(phase, theme.GOLD)
            pygame.draw.rect(surf, color, rect, width=max(2, L.px(0.5)), border_radius=radius)
            mark = (rect.right - L.px(4), rect.bottom - L.px(4))
            if phase in ("queued", "processing"):
                draw.rounded(surf, rect, (0, 0, 0), radius, alpha=110, store=ctx.images)
                r = min(rect.width, rect.height) // 5
                draw.spinner(
                    surf, rect.center, r, ctx.now(), theme.WHITE, dots=8, dot_r=max(2, r // 4)
                )
            elif phase == "ready":
                draw.tick(surf, mark, L.px(3), theme.GREEN)
            else:
                draw.alert(surf, mark, L.px(3), theme.RED)

    def state(self) -> dict:
        view = self.view
        return {
            "session_id": self.session_id,
            "phase": self.phase,
            "frame": self.frame,
            "shots": self.ctx.cfg.strip.shots,
            "taken": len(self.frames()),
            "ready": self.ready_count(),
            "ended": view.ended if view is not None else None,
            "note": self.note(),
        }


def tile_rects(area: pygame.Rect, n: int, aspect: tuple[int, int], gap: int) -> list[pygame.Rect]:
    """`n` tiles of the shots' aspect ratio, as large as `area` allows: one row, or two."""
    best: list[pygame.Rect] = []
    best_w = 0.0
    aw, ah = aspect
    for rows in (1, 2):
        cols = math.ceil(n / rows)
        w = min(
            (area.width - (cols - 1) * gap) / cols,
            (area.height - (rows - 1) * gap) / rows * aw / ah,
        )
        if w <= best_w or w <= 0:
            continue
        tw, th = int(w), int(w * ah / aw)
        total_h = rows * th + (rows - 1) * gap
        y0 = area.y + (area.height - total_h) // 2
        rects = []
        for i in range(n):
            r, c = divmod(i, cols)
            in_row = min(cols, n - r * cols)
            row_w = in_row * tw + (in_row - 1) * gap
            x0 = area.x + (area.width - row_w) // 2
            rects.append(pygame.Rect(x0 + c * (tw + gap), y0 + r * (th + gap), tw, th))
        best, best_w = rects, w
    return best
