"""A strip session survives its kiosk: the real `booth kiosk` process SIGKILLed after the second
of four shots. The restarted kiosk keeps those two frames, finishes them, tells the guest what
happened on the session's screen, composes the sheet of the two and shows it with its QR.

Shots and screens go through the kiosk's control directory (tests/kiosk/test_kill.py)."""

from __future__ import annotations

import cv2

from booth.sheet import layout
from jobstore.ledger import Ledger, ledger_path
from jobstore.sessions import COMPOSED, RESTART, Sessions
from tests.kiosk import test_kill
from tests.kiosk.helpers import kiosk_toml, poll

kiosks = test_kill.kiosks  # the fixture: `booth kiosk` processes, stopped after the test

STRIP = 'countdown_s = 1\nmode = "strip"\n[strip]\nshots = 4\nlayout = "strip"\npause_s = 4'


def test_killed_after_shot_two_keeps_and_finishes_those_frames(tmp_path, broker, worker, kiosks):
    (tmp_path / "booth.toml").write_text(kiosk_toml(STRIP))
    k = kiosks(tmp_path, broker)
    k.wait_state(lambda s: s.get("screen") == "attract" and s.get("camera") == "live")
    k.shoot()
    s = k.wait_state(lambda s: s.get("screen") == "session" and s.get("taken") == 2, 60)
    sid = s["session_id"]
    assert s["phase"] in ("flash", "review")  # shot 2 is in; shot 3's countdown not begun
    led = Ledger(ledger_path(k.data))
    store = Sessions(ledger_path(k.data))
    try:
        # both shots are stored as jobs of the session before the kill
        assert poll(lambda: len(store.frames(sid)) == 2, 15), store.frame_ids(sid)
        frames = [f.job_id for f in store.frames(sid)]
        k.kill9()
        assert store.get(sid).state == "shooting"  # what the dead kiosk left

        k2 = kiosks(tmp_path, broker)
        s = k2.wait_state(lambda s: s.get("screen") == "session" and s.get("session_id") == sid, 60)
        assert s["phase"] == "waiting" and s["taken"] == 2 and s["ended"] == RESTART, s
        assert "restarted" in s["note"] and "2 of 4" in s["note"], s["note"]
        row = store.get(sid)
        assert row.state == "closed" and row.ended == RESTART
        # the two frames are finished by the worker as any photo (published again if need be)
        assert poll(lambda: set(frames) <= set(worker.job_ids()), 30), worker.job_ids()
        for job_id in frames:
            worker.finish(job_id)
        s = k2.wait_state(lambda s: s.get("screen") == "result" and s.get("job_id") == sid, 60)
        assert s["url"].startswith("http://booth.local:8080/p/")
        row = store.get(sid)
        assert row.state == COMPOSED and row.ended == RESTART
        assert [f.job_id for f in store.frames(sid)] == frames
        sheet = led.get(sid)
        assert sheet is not None and sheet.token and s["url"].endswith(sheet.token)
        img = cv2.imread(str(k2.data / sheet.result_path))
        assert img is not None and (img.shape[1], img.shape[0]) == layout("strip", 2).size
        assert len(led.recent(20)) == 3  # two frames and their sheet: shots 3 and 4 never were
    finally:
        store.close()
        led.close()
