"""The drip reveal on the result screen: the guest's shot turns into the dripped picture once,
when it arrives (the wow moment), then the still stays beside the QR. A photo reopened from the
recent strip later shows its still.

The same drip wipe as the clip guests download (booth/reveal.py has its shape and timing), drawn
in pygame from the two surfaces the kiosk already has: the shot (kept by kiosk/ui/pictures.py
since the capture, or decoded from the AI copy off the loop) and the result. Cheap per frame:
the result is blitted in narrow columns down to the drip front, the gold rim is one polyline,
and the scaled copies are made once (the image cache). Nothing here waits: a shot that is not
there in SHOT_WAIT_S means no reveal, just the still. The QR and texts are drawn by the screen
from its first frame on, whatever the reveal does.
"""

from __future__ import annotations

from collections import OrderedDict

import pygame

from booth import reveal
from kiosk.ui import draw
from kiosk.ui.context import ScreenContext

SHOT_WAIT_S = 0.6  # a shot not decoded by then: no reveal, the still at once
FRESH_S = 20.0  # a picture finished longer ago than this (reopened from the strip): its still
REMEMBER = 64  # jobs whose reveal has played (a reopened photo shows its still)
COLUMNS_PX = 5  # width of the columns the wipe is drawn in (the drips' resolution)


class Reveal:
    """Plays the reveal once per job in the photo's box; `draw` is the screen's one call."""

    def __init__(self, ctx: ScreenContext, timeline: reveal.Timeline = reveal.SCREEN) -> None:
        self.ctx = ctx
        self.timeline = timeline
        self._played: OrderedDict[str, None] = OrderedDict()
        self._job = ""
        self._seen_at = 0.0  # when the result was first drawn
        self._start: float | None = None  # when the wipe's timeline began

    @property
    def playing(self) -> bool:
        """Whether frames are still changing (the screen then runs at an animated rate)."""
        return bool(self._job) and self._job not in self._played

    def draw(
        self, surf: pygame.Surface, job_id: str, img: pygame.Surface, box: pygame.Rect
    ) -> None:
        """The result in `box` as the screen shows it, or this frame of its reveal."""
        now = self.ctx.now()
        if job_id != self._job:
            self._job, self._seen_at, self._start = job_id, now, None
            job = self.ctx.jobs.get(job_id)
            finished = job.finished_at if job is not None else None
            if finished is not None and self.ctx.wall() - finished > FRESH_S:
                self._done(job_id)  # not the moment it arrived: no wow, just the photo
        if job_id in self._played:
            draw.blit_fit(surf, self.ctx.images, img, box)
            return
        shot = self.ctx.pictures.shot(job_id)
        if self._start is None:
            if shot is None:  # still decoding: the still meanwhile, and no reveal if too late
                if now - self._seen_at >= SHOT_WAIT_S:
                    self._done(job_id)
                draw.blit_fit(surf, self.ctx.images, img, box)
                return
            self._start = now
        t = now - self._start
        if shot is None or self.timeline.done(t):
            self._done(job_id)
            draw.blit_fit(surf, self.ctx.images, img, box)
            return
        self._frame(surf, job_id, img, shot, box, self.timeline.at(t)[0])

    def _done(self, job_id: str) -> None:
        self._played[job_id] = None
        while len(self._played) > REMEMBER:
            self._played.popitem(last=False)

    def _frame(
        self,
        surf: pygame.Surface,
        job_id: str,
        img: pygame.Surface,
        shot: pygame.Surface,
        box: pygame.Rect,
        wipe: float,
    ) -> None:
        store = self.ctx.images
        r = draw.fit_rect(img.get_size(), box)
        after = store.scaled(img, r.size)
        before = store.derive(
            ("reveal-shot", job_id, r.size),
            lambda: _cover(shot, r.size),
            keep=shot,
        )
        clip = surf.get_clip()
        surf.set_clip(r.clip(box))
        surf.blit(before, r)
        if wipe > 0.0:
            columns = max(1, r.width // COLUMNS_PX)
            step = r.width / columns
            rim = max(2, round(reveal.RIM * r.height))
            points: list[tuple[int, int]] = []
            for i, y in enumerate(reveal.fronts(columns, wipe)):
                x0, x1 = round(i * step), round((i + 1) * step)
                depth = max(0, min(r.height, round(y * r.height)))
                if depth > 0:
                    surf.blit(after, (r.x + x0, r.y), pygame.Rect(x0, 0, x1 - x0, depth))
                points.append((r.x + (x0 + x1) // 2, r.y + round(y * r.height) + rim // 2))
            pygame.draw.lines(surf, reveal.GOLD, False, points, rim)
        surf.set_clip(clip)


def _cover(shot: pygame.Surface, size: tuple[int, int]) -> pygame.Surface:
    """The shot scaled and centre-cropped to `size` (the result may have another shape)."""
    r = draw.fit_rect(shot.get_size(), pygame.Rect((0, 0), size), cover=True)
    out = pygame.Surface(size)
    out.blit(pygame.transform.smoothscale(shot, r.size), r)
    return out
