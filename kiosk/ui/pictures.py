"""The pictures the screens show: results, shots, thumbnails, the preview, backdrops, the logo.

Everything comes from the one image cache (`kiosk/ui/surfaces.py`); files are decoded off the frame
loop, so a picture that is not ready yet is None for a frame or two and the screen shows a
spinner or its fallback.
"""

from __future__ import annotations

import logging

import numpy as np
import pygame

from kiosk.jobs.views import JobView
from kiosk.ui import draw, theme
from kiosk.ui.jobbook import JobBook
from kiosk.ui.preview import Preview
from kiosk.ui.surfaces import ImageStore, surface_from_rgb
from kiosk.ui.theme import Layout

log = logging.getLogger(__name__)


def load_png(path: str, what: str) -> pygame.Surface | None:
    if not path:
        return None
    try:
        return pygame.image.load(path).convert_alpha()
    except (pygame.error, FileNotFoundError) as exc:
        log.warning("%s %s cannot be loaded: %s", what, path, exc)
        return None


class Pictures:
    def __init__(self, store: ImageStore, book: JobBook, layout: Layout, logo: str = "") -> None:
        self.store = store
        self.book = book
        self.layout = layout
        self.preview = Preview((layout.w, layout.h))
        self.logo = load_png(logo, "logo")
        # The frame overlay is not drawn here: it is burned into the result file
        # (kiosk/jobs/branding.py), which is what the result screen shows.

    @property
    def size(self) -> tuple[int, int]:
        return self.layout.w, self.layout.h

    def add_shot(self, job_id: str, rgb: np.ndarray) -> None:
        """The display-sized copy of a shot just taken (older ones reload from disk)."""
        self.store.put(("shot", job_id), surface_from_rgb(rgb))

    def result(self, job_id: str) -> pygame.Surface | None:
        job = self.book.get(job_id)
        if job is None or job.result_path is None:
            return None
        return self.store.load(("result", job_id, self.size), job.result_path, self.size)

    def shot(self, job_id: str) -> pygame.Surface | None:
        hit = self.store.get(("shot", job_id))
        if hit is not None:
            return hit
        job = self.book.get(job_id)
        return self.store.load(("shot", job_id), job.ai_path if job else None, self.size)

    def thumbnail(self, job: JobView, size: tuple[int, int]) -> pygame.Surface | None:
        """The result (or the shot while it processes), decoded small."""
        path = job.result_path if job.ready else job.ai_path
        big = (size[0] * 2, size[1] * 2)
        thumb = self.store.load(("thumb", str(path)), path, big, reduce=4) if path else None
        return thumb or self.store.get(("shot", job.job_id))

    def draw_preview(self, surf: pygame.Surface) -> None:
        if self.preview.surface is None:
            surf.fill(theme.BG)
        else:
            surf.blit(self.preview.surface, (0, 0))

    def backdrop(self, img: pygame.Surface, key: str) -> pygame.Surface:
        """A darkened, blurred full-screen version of `img` (cheap: shrink then enlarge)."""
        L = self.layout

        def make() -> pygame.Surface:
            small_r = draw.fit_rect(img.get_size(), pygame.Rect(0, 0, 32, 32), cover=True)
            small = pygame.transform.smoothscale(img, small_r.size)
            big_r = draw.fit_rect(small.get_size(), L.rect, cover=True)
            surf = pygame.Surface((L.w, L.h))
            surf.blit(pygame.transform.smoothscale(small, big_r.size), big_r)
            draw.shade(surf, self.store, 150)
            return surf

        return self.store.derive(("backdrop", key, L.w, L.h), make)
