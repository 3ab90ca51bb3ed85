"""The start screen in strip mode says what a tap starts ("4 photos in a row"), one line under
the shutter or the style buttons, above the privacy line, at every panel size and in every
language (tests/kiosk/test_type.py measures the line with the rest; the English and German
screenshots are tests/output/screens/attract-strip*-<w>x<h>-<lang>.png)."""

from __future__ import annotations

import pytest

from booth.texts import Texts
from tests.kiosk.gallery import LANGUAGES, SIZES, STATES, Gallery, local_results

pytestmark = pytest.mark.xdist_group("cpu2")

STRIP_STATES = [s for s in STATES if s.name in ("attract-strip", "attract-strip-styles")]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_start_screen_says_what_a_tap_starts_in_strip_mode(tmp_path, make_app, size):
    results = local_results(tmp_path / "results")
    for language in LANGUAGES:
        g = Gallery(tmp_path / language, size, language, results, make_app)
        try:
            note = Texts(language)("start_strip", n=g.apps["strip"].cfg.strip.shots)
            assert note.startswith("4 ")
            for state in [*STRIP_STATES, next(s for s in STATES if s.name == "attract")]:
                lines = g.draw(state)
                g.save(state)
                app = g.apps[state.config]
                said = [r for r in lines if r.text == note]
                if state.config == "base":  # a booth of single photos says nothing of it
                    assert not said, state.name
                    continue
                assert len(said) == 1, (state.name, language, [r.text for r in lines])
                line = said[0]
                buttons = [rect for rect, _style in app.screen.buttons]
                assert buttons and all(line.rect.top >= b.bottom for b in buttons), state.name
                # under the buttons, within the screen, and above the privacy line
                assert line.rect.bottom <= size[1] and not line.cut
                privacy = [r for r in lines if r.role == "floor" and r.rect.top > buttons[0].top]
                assert all(line.rect.bottom <= p.rect.top for p in privacy), state.name
        finally:
            g.close()
