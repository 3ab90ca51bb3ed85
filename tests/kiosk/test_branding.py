"""Branding burned into the result file at full resolution: the frame overlay and a caption bar.

Through the real pipeline on the real broker: the worker's result arrives, the kiosk stores it
with the frame and caption composed in, and that file (what the share server serves and the
result screen shows) is checked pixel by pixel at known places.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from booth.texts import Texts
from kiosk.jobs.branding import BAR_SHARE, TEXT_BGR, Branding
from tests.kiosk.helpers import FIXTURES, poll, result_jpeg

MAGENTA = (255, 0, 255)  # BGR and RGB alike
LOGO_GREEN = (40, 200, 60)


def _pngs(tmp_path):
    """A frame overlay (opaque magenta border 6 % wide, transparent middle, not the result's
    shape: it is stretched) and a green logo."""
    frame = np.zeros((400, 300, 4), np.uint8)
    b = 24
    frame[:b, :] = frame[-b:, :] = frame[:, :18] = frame[:, -18:] = (*MAGENTA, 255)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    logo = np.zeros((80, 160, 4), np.uint8)
    cv2.ellipse(logo, (80, 40), (76, 36), 0, 0, 360, (*LOGO_GREEN[::-1], 255), -1)
    cv2.imwrite(str(tmp_path / "logo.png"), logo)
    return tmp_path / "frame.png", tmp_path / "logo.png"


def _close(px, color, tol=40) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(px, color))


def test_the_stored_result_carries_frame_and_caption(kiosk_config, controllers, worker, tmp_path):
    frame, logo = _pngs(tmp_path)
    cfg = kiosk_config(
        f'frame_overlay = "{frame}"\nlogo = "{logo}"\n'
        'caption = "{title} · {date}"\nlanguage = "de"'
    )
    c = controllers(cfg)
    job_id = c.submit_jpeg((FIXTURES / "portrait.jpg").read_bytes())
    assert poll(lambda: job_id in worker.job_ids(), 15)
    sent = result_jpeg()
    worker.finish(job_id)
    view = c.wait_done(job_id, 15)
    assert view is not None and view.ready
    original = cv2.imdecode(np.frombuffer(sent, np.uint8), cv2.IMREAD_COLOR)
    stored = cv2.imread(str(view.result_path))
    h, w = original.shape[:2]
    bar = max(24, round(w * BAR_SHARE))
    assert stored.shape[:2] == (h + bar, w), "full resolution, with the bar added below"
    # the frame: stretched to the picture, so its border is 6 % of each side
    for y, x in ((3, w // 2), (h - 4, w // 3), (h // 2, 4), (h // 2, w - 5)):
        assert _close(stored[y, x], MAGENTA), (y, x, stored[y, x])
    # the photo itself is untouched inside the frame (JPEG aside)
    inner = (slice(h // 5, 4 * h // 5), slice(w // 5, 4 * w // 5))
    diff = cv2.absdiff(stored[inner], original[inner]).mean()
    assert diff < 3, diff
    # the caption bar: dark, the logo at the left, gold text in the middle
    strip = stored[h + 2 : h + bar - 2]
    assert strip[:, -3].mean() < 40
    assert np.any([_close(p, LOGO_GREEN[::-1]) for p in strip[bar // 2, : bar * 2]])
    gold = np.all(np.abs(strip.astype(int) - TEXT_BGR) < 60, axis=2)
    cols = np.nonzero(gold.any(axis=0))[0]
    assert gold.sum() > bar * 4 and cols.min() > bar and cols.max() < w - 4
    # the caption: the title and the shot's date in the booth's language
    t = time.localtime(view.created_at)
    month = Texts("de")("months").split("|")[t.tm_mon - 1]
    assert (
        c.results.branding.caption_text(view.created_at)
        == f"Anna & Ben's Wedding · {t.tm_mday}. {month} {t.tm_year}"
    )


def test_without_branding_the_result_is_stored_as_sent(kiosk_config, controllers, worker):
    c = controllers(kiosk_config())
    assert c.results.branding is None
    job_id = c.submit_jpeg((FIXTURES / "portrait.jpg").read_bytes())
    assert poll(lambda: job_id in worker.job_ids(), 15)
    worker.finish(job_id)
    view = c.wait_done(job_id, 15)
    assert view.result_path.read_bytes() == result_jpeg()


def test_an_unusable_overlay_is_left_out_and_said(kiosk_config, tmp_path, caplog):
    opaque = np.full((40, 40, 4), 255, np.uint8)
    cv2.imwrite(str(tmp_path / "opaque.png"), opaque)
    cfg = kiosk_config(f'frame_overlay = "{tmp_path / "opaque.png"}"')
    assert Branding.from_config(cfg) is None
    assert "no transparent area" in caplog.text
    cfg = kiosk_config(f'frame_overlay = "{tmp_path / "missing.png"}"\ncaption = "{{title}}"')
    b = Branding.from_config(cfg)
    assert b is not None and b.overlay is None and "cannot be loaded" in caplog.text
    # a result that is not an image is refused by the guard, not composed
    with pytest.raises(ValueError):
        b.apply(b"not an image", time.time())
