"""The result screen with printing on: the Print button and the line about the guest's print in
every printer state, at every panel size, in every language (English and German saved to
tests/output/screens/print-<state>-<w>x<h>-<lang>.png for a person to look at).

Each state is what the kiosk's job side makes of real messages (kiosk/jobs/printwatch.py fed
PrintState / PhotoPrint values and the printer's availability). Every line of text passes the
type test's rules (tests/kiosk/test_type.py); the Print button and the line cover neither a QR
code nor the photo nor each other; and the download code is as large as without printing, in
the same place on a landscape panel (the button row lives in the photo's column there), so it
scans from as far (tests/kiosk/test_qr_distance.py measured that distance).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pygame
import pytest

from booth.config import Config
from booth.printmsg import PhotoPrint, PrintState
from booth.protocol import OFFLINE, availability_properties
from booth.qr import wifi_join_payload
from kiosk.ui.qrlayout import ResultTexts, plan
from kiosk.ui.theme import Layout
from tests.kiosk.gallery import NETWORKS, Gallery, State, gallery_config, local_results
from tests.kiosk.test_type import problems_in
from tests.support.phonecam import PANELS_7_INCH, Panel, decode_screenshot, framed_rate

SIZES = [(800, 480), (1024, 600), (1280, 720), (1920, 1080), (720, 1280), (768, 1024)]
LANGUAGES = ["en", "de", "fr", "es"]
JOB = "job-ready"


def _ready(**kw: Any) -> PrintState:
    return PrintState("ready", prints_left=312, per_photo=1, **kw)


def _photo(state: str, **kw: Any) -> PhotoPrint:
    return PhotoPrint(JOB, state, allowed=1, **kw)


# name → (print state, this photo's prints, asked and not answered yet, printer process offline)
PRINT_STATES: dict[str, tuple[PrintState | None, PhotoPrint | None, bool, bool]] = {
    "ready": (_ready(), None, False, False),
    "requested": (_ready(), None, True, False),
    "next": (_ready(queue=1), _photo("waiting", waiting=1), False, False),
    "ahead": (_ready(queue=3), _photo("waiting", ahead=2, waiting=1), False, False),
    "printing": (_ready(queue=1), _photo("printing", waiting=1), False, False),
    "printed": (_ready(), _photo("printed", printed=1), False, False),
    "paused": (
        PrintState("paused", "paper_out", 312, 1, queue=4),
        _photo("waiting", ahead=3, waiting=1),
        False,
        False,
    ),
    "unavailable": (
        PrintState("unavailable", "cups_down", 312, 1, queue=1),
        _photo("waiting", waiting=1),
        False,
        False,
    ),
    "offline": (_ready(queue=1), _photo("waiting", waiting=1), False, True),
    "budget": (PrintState("ready", prints_left=0, per_photo=1), None, False, False),
    "limit": (
        _ready(),
        _photo("printed", printed=1, refused="limit", request_id="r-asked"),
        False,
        False,
    ),
    "failed": (_ready(), _photo("failed"), False, False),
}


class PrintGallery(Gallery):
    """The gallery's result screen with `[print]` on (button mode), alone and with the booth
    Wi-Fi's two codes, and in auto mode (no button)."""

    def configs(self, tmp: Path, language: str) -> dict[str, Config]:
        on = "[print]\nenabled = true\n"
        configs = {
            "print": gallery_config(tmp / "print", language, tables=on),
            "print-wifi": gallery_config(tmp / "print-wifi", language, tables=on),
            "print-auto": gallery_config(
                tmp / "print-auto", language, tables=on + 'mode = "auto"\n'
            ),
            "plain": gallery_config(tmp / "plain", language),
            "plain-wifi": gallery_config(tmp / "plain-wifi", language),
        }
        for key in ("print-wifi", "plain-wifi"):
            configs[key].share.wifi_ssid, configs[key].share.wifi_password = NETWORKS["wifi"]
        return configs


def set_printing(name: str) -> Callable[[Gallery, object], None]:
    state, photo, asked, offline = PRINT_STATES[name]

    def before(g: Gallery, app) -> None:
        g.wall_t = time.time()
        watch = app.jobs.prints
        watch.state = state
        watch.photos.clear()
        watch._asked.clear()
        watch._heard.clear()
        if photo is not None:
            watch.photos[JOB] = photo
            watch._heard[JOB] = watch.mono() - 60
        if asked or (photo is not None and photo.request_id):
            watch._asked[JOB] = (
                photo.request_id if photo and photo.request_id else "r-x",
                watch.mono() - (120 if photo else 0),
            )
        topic = watch.topics.service_availability(watch.booth, "printer")
        watch.board.feed(topic, OFFLINE if offline else "online", availability_properties())

    return before


STATES = (
    [
        State(f"print-{name}", "result", {"job_id": JOB}, config="print", before=set_printing(name))
        for name in PRINT_STATES
    ]
    + [
        State(
            f"print-{name}-wifi",
            "result",
            {"job_id": JOB},
            config="print-wifi",
            before=set_printing(name),
        )
        for name in PRINT_STATES
    ]
    + [
        State(
            "print-auto-printing",
            "result",
            {"job_id": JOB},
            config="print-auto",
            before=set_printing("printing"),
        ),
    ]
)


def _download(screen) -> tuple[pygame.Rect, int]:
    p = screen.plan(screen.ctx.jobs.get(JOB))
    block = next(b for b in p.blocks if b.block.name == "download")
    return block.code, block.cell


def _without_printing(screen, layout: Layout) -> tuple[pygame.Rect, int]:
    """Where the download code would be, and its module size, with the same texts but no Print
    button and no line about a print."""
    job = screen.ctx.jobs.get(JOB)
    t = screen.ctx.texts
    texts = ResultTexts(
        t("ready"),
        screen.lines(job),
        screen.status(),
        screen.note(job),
        t("new_photo"),
        t("back_in", seconds=int(screen.ctx.cfg.kiosk.result_timeout_s)),
    )
    p = plan(layout, screen.ctx.fonts, screen.blocks(), texts)
    block = next(b for b in p.blocks if b.block.name == "download")
    return block.code, block.cell


def layout_problems(state: State, screen, layout: Layout, where: str) -> list[str]:
    found = []
    p = screen.plan(screen.ctx.jobs.get(JOB))
    view = screen.ctx.print_view(JOB)
    if view.button != (p.print_button is not None):
        found.append(f"{where}: Print button {'missing' if view.button else 'drawn in auto mode'}")
    ours = [r for r in (p.print_button, p.print_note) if r is not None]
    codes = [b.code for b in p.blocks]
    others = [p.photo, p.button, p.countdown, p.headline, *codes, *(r for _t, r in p.lines)]
    if p.note is not None:
        others.append(p.note)
    for mine, other in itertools.product(ours, others):
        if mine.colliderect(other):
            found.append(f"{where}: {mine} covers {other}")
    if len(ours) == 2 and ours[0].colliderect(ours[1]):
        found.append(f"{where}: the Print button covers its line")
    screen_rect = pygame.Rect(0, 0, layout.w, layout.h)
    found += [f"{where}: {r} is off the screen" for r in ours if not screen_rect.contains(r)]
    card, cell = _download(screen)
    bare_card, bare_cell = _without_printing(screen, layout)
    if cell < bare_cell and not still_scans(screen, layout, p):
        found.append(f"{where}: the download code shrank from {bare_cell} to {cell} px a module")
    if not layout.portrait and len(p.blocks) == 1 and card != bare_card:
        found.append(f"{where}: the download code moved from {bare_card} to {card}")
    return found


def still_scans(screen, layout: Layout, p) -> bool:
    """A code that gave up module pixels for the line about a print (under two codes, where
    the status line was) still reads as tests/kiosk/test_qr_distance.py asks of the booth
    Wi-Fi's steps: in most frames of a phone camera aimed at it from 0.7 m. The panel is the
    7" one for its pixels, else the smallest such pixels come in: a 7" diagonal."""
    panel = PANELS_7_INCH.get((layout.w, layout.h))
    if panel is None:
        scale = 177.8 / math.hypot(layout.w, layout.h)  # mm per pixel on a 7" diagonal
        panel = Panel(layout.w, layout.h, layout.w * scale, layout.h * scale)
    key = (layout.w, layout.h, tuple((b.block.name, b.cell, tuple(b.code)) for b in p.blocks))
    if key not in _scans:
        rgb = np.ascontiguousarray(pygame.surfarray.array3d(screen_surface[0]).swapaxes(0, 1))
        texts = {"download": screen.qr_text, "wifi": wifi_join_payload(*NETWORKS["wifi"])}
        _scans[key] = all(
            framed_rate(rgb, 700, texts[b.block.name], tuple(b.code), panel) > 0.5 for b in p.blocks
        )
    return _scans[key]


_scans: dict[tuple, bool] = {}
screen_surface: list[pygame.Surface] = []  # the surface the state was drawn on (set per draw)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_print_button_and_line_in_every_state(size, make_app, tmp_path):
    layout = Layout(*size)
    results = local_results(tmp_path / "results")
    problems: list[str] = []
    for lang in LANGUAGES:
        g = PrintGallery(tmp_path / lang, size, lang, results, make_app)
        screen_surface[:] = [g.surface]
        try:
            for state in STATES:
                lines = g.draw(state)
                g.save(state)
                where = f"{state.name} {size[0]}x{size[1]} {lang}"
                problems += problems_in(state, lines, layout, where)
                problems += layout_problems(state, g.apps[state.config].screen, layout, where)
                if lang == "en" and state.name == "print-paused":
                    rgb = pygame.surfarray.array3d(g.surface).swapaxes(0, 1)
                    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
                    screen = g.apps[state.config].screen
                    assert screen.qr_text in decode_screenshot(bgr), where
        finally:
            g.close()
    assert not problems, "\n".join(problems[:60])


def test_a_tap_on_print_asks_once_and_the_line_follows(make_app, tmp_path):
    """A tap on the button asks the kiosk's job side for a print; more taps while it waits ask
    nothing; the line says the print was sent."""
    g = PrintGallery(
        tmp_path / "en", (800, 480), "en", local_results(tmp_path / "results"), make_app
    )
    try:
        state = next(s for s in STATES if s.name == "print-ready")
        g.draw(state)
        app = g.apps["print"]
        screen = app.screen
        asked: list[str] = []
        original = app.jobs.prints.publish
        app.jobs.prints.publish = lambda topic, body: asked.append(topic) or original(topic, body)
        from kiosk.ui.input import TAP, Action

        tap = Action(TAP, screen.print_button.center)
        for _ in range(20):
            screen.handle(tap)
        assert len(asked) == 1 and asked[0].endswith("/print/requests")
        assert screen.state()["print"]["line"] == "print_requested"
        assert not screen.state()["print"]["can_print"]
        g.surface.fill((0, 0, 0))
        with_line = dataclasses.replace(state, before=None)
        lines = g.draw(with_line)
        assert any("Sending your print" in r.text for r in lines)
    finally:
        g.close()
