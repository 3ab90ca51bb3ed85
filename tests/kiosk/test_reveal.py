"""The drip reveal on the result screen (kiosk/ui/reveal.py): it plays once when the picture
arrives, the QR is there from the first frame, then the still stays; a photo reopened later
shows its still. Screenshots of a few reveal frames at every panel size in English and German
(tests/output/screens/reveal-<t>-<w>x<h>-<lang>.png)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pygame
import pytest

from booth import reveal
from booth.protocol import JobStatus
from kiosk.ui.app import REVEAL_FPS
from tests.kiosk.gallery import SAVED_LANGUAGES, SIZES, Gallery, State, local_results

FRAMES_AT = (0.1, 0.7, 1.0, 1.3)  # seconds into the reveal: the shot, the drips, nearly done


def _fresh(g: Gallery, app) -> None:
    """A picture that arrived just now (the moment the processing screen hands over)."""
    g.wall_t = time.time()
    view = dataclasses.replace(
        app.book.views["job-ready"], job_id="job-fresh", finished_at=g.wall_t
    )
    app.book.views["job-fresh"] = view


def _photo(surface: pygame.Surface, box: pygame.Rect) -> np.ndarray:
    return pygame.surfarray.array3d(surface.subsurface(box)).astype(np.int16)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_reveal_plays_once_then_the_still_stays(size, make_app, tmp_path):
    results = local_results(tmp_path / "results")
    for lang in SAVED_LANGUAGES:
        g = Gallery(tmp_path / lang, size, lang, results, make_app)
        try:
            app = g.apps["base"]
            state = State("reveal", "result", {"job_id": "job-fresh"}, before=_fresh)
            g.draw(state)  # enters; the shot and the result decode on the image pool
            screen = app.screen
            deadline = time.monotonic() + 60  # (a loaded machine: the clock stands still)
            while app.pictures.shot("job-fresh") is None or app.result_surface("job-fresh") is None:
                assert time.monotonic() < deadline, "the pictures did not decode"
                time.sleep(0.02)
                app.images.collect()
            screen.draw(g.surface)
            box = screen.plan(app.book.get("job-fresh")).photo
            assert screen.smooth, "the reveal plays when the picture has just arrived"
            assert app.fps() == min(app.cfg.kiosk.fps, REVEAL_FPS)  # not the spinner's 12
            assert screen.qr_rect.width > 0  # the QR from the first frame on
            shots = {}
            start = g.clock()
            for at in FRAMES_AT:
                g.clock.t = start + at
                screen.draw(g.surface)
                shots[at] = _photo(g.surface, box)
                g.save(dataclasses.replace(state, name=f"reveal-{int(at * 10):02d}"))
            g.clock.t = start + reveal.SCREEN.total_s + 0.05
            screen.draw(g.surface)
            assert not screen.smooth, "then it holds the still (idle frame rate)"
            assert app.fps() == app.cfg.kiosk.idle_fps
            still = _photo(g.surface, box)
            g.save(dataclasses.replace(state, name="reveal-done"))

            # the shot first, the dripped picture at the end, something in between
            def moved(a: np.ndarray, b: np.ndarray) -> float:
                return float(np.mean(np.abs(a - b).max(axis=2) > 30))

            assert moved(shots[0.1], still) > 0.005, "the shot differs from the dripped photo"
            h = box.height  # (surfarray is x, y): halfway, the top is dripped, the bottom not yet
            top, bottom = slice(0, int(0.3 * h)), slice(int(0.8 * h), h)
            assert moved(shots[1.0][:, top], still[:, top]) < 0.001
            assert moved(shots[1.0][:, bottom], shots[0.1][:, bottom]) < 0.001
            gold = np.all(np.abs(shots[0.7] - np.array(reveal.GOLD)) < 12, axis=2)
            assert gold.mean() > 0.002, "the gold rim of the drips"

            # once: entering the same photo again (from the strip) shows the still at once
            g.clock.t += 1
            app.go("result", job_id="job-fresh")
            app.screen.draw(g.surface)
            assert not app.screen.smooth
            assert moved(_photo(g.surface, box), still) < 0.001
        finally:
            g.close()


def test_a_photo_finished_a_while_ago_shows_its_still(make_app, tmp_path):
    g = Gallery(tmp_path / "en", (800, 480), "en", local_results(tmp_path / "r"), make_app)
    try:
        app = g.apps["base"]
        g.draw(State("result", "result", {"job_id": "job-ready"}))  # finished 32 s before
        assert app.book.get("job-ready").status is JobStatus.COMPLETED
        assert not app.screen.smooth
    finally:
        g.close()
