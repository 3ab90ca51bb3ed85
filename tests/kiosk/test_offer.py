"""What the booth offers a guest: honest styles, the privacy line, the strip's QR time limit."""

from __future__ import annotations

from booth.protocol import JobStatus
from booth.texts import Texts
from kiosk.jobs.views import JobView
from kiosk.ui.input import TAP, Action
from kiosk.ui.offer import offered_styles, privacy_line, reopens_qr, style_label
from tests.kiosk.gallery import STATES, STYLES, Gallery, gallery_config, local_results

SAME_VARIANT = STYLES.replace('local = "gold"', 'local = "diamond"')


def test_styles_are_offered_only_when_they_look_different(tmp_path):
    distinct = gallery_config(tmp_path / "a", "en", tables=STYLES)
    shared = gallery_config(tmp_path / "b", "en", tables=SAME_VARIANT)
    one = gallery_config(tmp_path / "c", "en")
    for local_only in (True, None):  # no AI, or no word yet: only what the local effect shows
        assert offered_styles(distinct, local_only) == ["drip", "gold", "ice"]
        assert offered_styles(shared, local_only) == ["drip", "ice"]  # gold looks like drip
        assert offered_styles(one, local_only) == []
    assert offered_styles(shared, False) == ["drip", "gold", "ice"]  # the AI draws each
    assert offered_styles(one, False) == []
    # the default style keeps its place for its variant
    shared.kiosk.default_style = "gold"
    assert offered_styles(shared, True) == ["gold", "ice"]
    only_diamond = gallery_config(
        tmp_path / "d",
        "en",
        tables=STYLES.replace('local = "gold"', 'local = "diamond"').replace(
            'local = "ice"', 'local = "diamond"'
        ),
    )
    assert offered_styles(only_diamond, True) == []
    assert style_label(distinct, "gold") == "Gold grillz" and style_label(one, None) is None


def test_privacy_line(tmp_path):
    cfg = gallery_config(tmp_path / "a", "de")
    t = Texts("de")
    cfg.kiosk.privacy = ""
    line = privacy_line(cfg, t, None)
    assert "KI-Dienst" in line and "7 Tage" in line  # unknown: photos may go to the AI
    assert privacy_line(cfg, t, False) == line
    assert privacy_line(cfg, t, True) == ""  # nothing leaves the booth
    cfg.kiosk.privacy = "Fotos bleiben auf der Booth."
    assert privacy_line(cfg, t, False) == "Fotos bleiben auf der Booth."
    cfg.kiosk.privacy = "off"
    assert privacy_line(cfg, t, False) == ""
    cfg.kiosk.privacy = ""
    cfg.retention_days = 1
    assert "1 Tag " in privacy_line(cfg, t, False)


def _view(created: float, finished: float | None) -> JobView:
    return JobView("j" * 12, "drip", created, JobStatus.COMPLETED, finished_at=finished)


def test_a_recent_photo_opens_its_qr_for_a_while():
    now = 10_000.0
    assert reopens_qr(_view(now - 100, now - 90), now, 180)
    assert not reopens_qr(_view(now - 400, now - 390), now, 180)
    # counted from when it finished: a slow job is still offered for the full time
    assert reopens_qr(_view(now - 400, now - 60), now, 180)
    assert reopens_qr(_view(now - 10**6, None), now, 0)  # 0: no limit


def test_the_strip_stops_opening_old_photos(tmp_path, make_app):
    """A photo from a minute ago opens its QR from the strip; one from 15 minutes ago is still
    shown but a tap on it does nothing; with no limit it opens again."""
    g = Gallery(tmp_path, (800, 480), "en", local_results(tmp_path / "results"), make_app)
    try:
        app = g.apps["base"]
        fresh, old = app.book.get("job-ready"), app.book.get("job-old")
        app.book.views = {"job-ready": fresh, "job-old": old}
        attract = next(s for s in STATES if s.name == "attract")
        g.draw(attract)
        strip = app.screen.strip
        shown = dict((job_id, rect) for rect, job_id in strip.shown)
        assert set(shown) == {"job-ready", "job-old"}
        assert [job_id for _r, job_id in strip.hits] == ["job-ready"]
        app.screen.handle(Action(TAP, pos=shown["job-old"].center))
        assert app.screen.name == "attract"
        app.screen.handle(Action(TAP, pos=shown["job-ready"].center))
        assert app.screen.name == "result" and app.screen.job_id == "job-ready"

        app.cfg.kiosk.recent_qr_s = 0
        g.draw(attract)
        app.screen.handle(Action(TAP, pos=shown["job-old"].center))
        assert app.screen.name == "result" and app.screen.job_id == "job-old"
    finally:
        g.close()
