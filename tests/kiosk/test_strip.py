"""Strip sessions through the real pipeline: the kiosk's job side, a real mosquitto, a real
in-process worker and the real google-genai SDK against the fake Gemini server.

What it shows: four frames go to the worker pool as four ordinary jobs and are dripped in
parallel (the session takes about the time of one photo, not four); the sheet has every frame
dripped at print size (2x6 in at 300 dpi); a frame the model refuses gets the local effect and
the session still completes. The kill test (a kiosk killed after shot 2) is
tests/kiosk/test_strip_kill.py; the screens are tests/kiosk/test_strip_screens.py.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from booth.protocol import JobStatus
from booth.sheet import layout
from jobstore.ledger import Ledger, ledger_path
from jobstore.recovery import open_ledger, recoveries
from jobstore.sessions import COMPOSED, DONE, Sessions
from tests.kiosk.helpers import FIXTURES
from tests.support.fake_gemini import FakeGemini, Reply

LATENCY_S = 2.0  # each model answer: long enough that parallel and serial are far apart
DISPLAY = (800, 480)


@pytest.fixture
def fake():
    with FakeGemini(latency=LATENCY_S) as server:
        yield server


@pytest.fixture
def strip_config(make_config, broker, fake):
    def _make(extra: str = ""):
        return make_config(
            f"""
[kiosk]
mode = "strip"
[worker]
id = "w-strip"
concurrency = 4
grace_s = 2
[strip]
shots = 4
layout = "strip"
{extra}
""",
            GEMINI_BASE_URL=fake.url,
            GEMINI_API_KEY="test-key",
        )

    return _make


@pytest.fixture
def pipeline(controllers):
    """(controller, worker) for a config: a started kiosk job side and an in-process worker."""
    from worker.service import Worker

    workers = []

    def _start(cfg):
        w = Worker(cfg).start()
        workers.append(w)
        assert w.wait_ready(20), "worker did not connect"
        ctl = controllers(cfg)
        assert _poll(lambda: ctl.ai_online, 20), "the kiosk never saw the worker online"
        return ctl, w

    yield _start
    for w in workers:
        w.stop(grace_s=0)


def _poll(pred, timeout: float, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    return pred()


def _shots() -> list[np.ndarray]:
    """Four different stills (BGR, as cameras deliver them)."""
    base = cv2.imread(str(FIXTURES / "portrait.jpg"))
    assert base is not None
    out = []
    for i in range(4):
        img = base.copy()
        cv2.putText(img, str(i + 1), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
        out.append(np.ascontiguousarray(cv2.flip(img, 1) if i % 2 else img))
    return out


def _run_session(ctl, shots: list[np.ndarray]) -> str:
    sid = ctl.sessions.begin("drip")
    for n, shot in enumerate(shots, 1):
        ctl.sessions.take(sid, n)
        ctl.submit_capture(lambda s=shot: s, "drip", DISPLAY)
    return sid


def _magenta(cell: np.ndarray) -> float:
    """Share of a cell's pixels in the fake model's magenta stripe (tests/support/fake_gemini.py
    `mark`): what tells a frame the model dripped from one the local effect drew."""
    b, g, r = (cell[..., i].astype(int) for i in range(3))
    return float(np.mean((b > 150) & (r > 150) & (g < 90)))


def _max_in_flight(fake: FakeGemini) -> int:
    spans = [(r.at, r.ended or r.at) for r in fake.requests]
    return max((sum(1 for a, b in spans if a <= t < b) for t, _ in spans), default=0)


def _cells(sheet: np.ndarray, n: int) -> list[np.ndarray]:
    lay = layout("strip", n)
    assert (sheet.shape[1], sheet.shape[0]) == lay.size
    return [sheet[c.y : c.y + c.h, c.x : c.x + c.w] for c in lay.cells]


def test_four_frames_are_dripped_in_parallel_and_composed_at_print_size(
    strip_config, pipeline, fake
):
    cfg = strip_config()
    ctl, _worker = pipeline(cfg)
    shots = _shots()

    # one photo, for the time a guest waits for one
    t0 = time.monotonic()
    single = ctl.submit_capture(lambda: shots[0], "drip", DISPLAY)
    view = ctl.wait_done(single, 60)
    one_s = time.monotonic() - t0
    assert view is not None and view.ready  # what the guest waits for: the picture
    asked = len(fake.requests)

    t0 = time.monotonic()
    sid = _run_session(ctl, shots)
    sheet_view = ctl.wait_done(sid, 90)
    session_s = time.monotonic() - t0
    assert sheet_view is not None and sheet_view.ready, ctl.sessions.view(sid)
    assert sheet_view.is_sheet and sheet_view.share_url and sheet_view.code

    # the worker pool took the four frames at once: serially they would take 4 model answers
    assert len(fake.requests) - asked == 4
    assert _max_in_flight(fake) >= 3, [(r.at, r.ended) for r in fake.requests]
    assert session_s < 2.0 * one_s + 1.0, (session_s, one_s)
    assert session_s < 4 * LATENCY_S, (session_s, one_s)

    store = Sessions(ledger_path(cfg.data_dir))
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        row = store.get(sid)
        assert row is not None and row.state == COMPOSED and row.ended == DONE
        # the completed statuses follow the results by a moment
        assert _poll(lambda: all(f.status.is_final for f in store.frames(sid)), 20)
        frames = store.frames(sid)
        assert [f.job_id for f in frames] == list(ctl.sessions.view(sid).frames)
        assert all(f.status is JobStatus.COMPLETED and f.effect == "gemini" for f in frames)
        assert all(f.token and f.result_path for f in frames)  # each frame downloads alone
        sheet_row = ledger.get(sid)
        assert sheet_row is not None and sheet_row.token == sheet_view.token
        sheet = cv2.imread(str(cfg.data_path / sheet_row.result_path))
        before = cv2.imread(str(cfg.data_path / sheet_row.ai_path))
        assert sheet is not None and before is not None
        cells, shot_cells = _cells(sheet, 4), _cells(before, 4)
        # every frame dripped (the fake model's stripe), none in the shots' sheet
        assert all(_magenta(c) > 0.02 for c in cells), [_magenta(c) for c in cells]
        assert all(_magenta(c) < 0.005 for c in shot_cells)
        # four different frames, in shot order (the flipped ones are 2 and 4)
        small = [cv2.resize(c, (60, 40)).astype(int) for c in shot_cells]
        assert all(np.abs(small[i] - small[i + 1]).mean() > 5 for i in range(3))
        # ordinary photos otherwise: the stats count four photos by the AI, not the sheet
        outcomes = ledger.outcomes_since(0)
        assert sum(n for *_k, n in outcomes) == 5  # the single photo and the four frames
    finally:
        store.close()
        ledger.close()


def test_a_frame_the_model_refuses_gets_the_local_effect_and_the_session_completes(
    strip_config, pipeline, fake, output_dir
):
    cfg = strip_config()
    ctl, _worker = pipeline(cfg)
    fake.script(Reply.prompt_blocked("SAFETY"))  # the first request to arrive: one frame
    sid = _run_session(ctl, _shots())
    sheet_view = ctl.wait_done(sid, 90)
    assert sheet_view is not None and sheet_view.ready, ctl.sessions.view(sid)

    store = Sessions(ledger_path(cfg.data_dir))
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        assert _poll(lambda: all(f.status.is_final for f in store.frames(sid)), 20)
        frames = store.frames(sid)
        assert len(frames) == 4 and all(f.result_path for f in frames)
        local = [i for i, f in enumerate(frames) if f.effect == "local"]
        assert len(local) == 1, [(f.effect, f.error) for f in frames]
        refused = frames[local[0]]
        assert refused.error is not None and refused.error.kind.value == "safety"
        assert sum(f.effect == "gemini" for f in frames) == 3
        sheet_row = ledger.get(sid)
        sheet = cv2.imread(str(cfg.data_path / sheet_row.result_path))
        before = cv2.imread(str(cfg.data_path / sheet_row.ai_path))
        cells, shot_cells = _cells(sheet, 4), _cells(before, 4)
        for i, (cell, shot) in enumerate(zip(cells, shot_cells)):
            if i == local[0]:  # the local effect: no stripe, but not the bare shot either
                assert _magenta(cell) < 0.005
                assert np.abs(cell.astype(int) - shot.astype(int)).mean() > 1.0
            else:
                assert _magenta(cell) > 0.02
        Path(output_dir / "strip-refused-frame.jpg").write_bytes(
            (cfg.data_path / sheet_row.result_path).read_bytes()
        )
    finally:
        store.close()
        ledger.close()


def test_a_rebuilt_ledger_groups_the_session_again(strip_config, pipeline, tmp_path):
    """A damaged ledger is rebuilt from the photo store (jobstore/recovery.py); the session's
    record beside its frames (jobstore/sessionrecord.py, written by the kiosk after each frame)
    makes its frames and sheet one session again: one dashboard entry, the frames in shot order,
    the sheet composed, in the session's style and timed by its first frame. Without the
    record the four frames and the sheet came back as five photos of their own."""
    cfg = strip_config()
    ctl, _worker = pipeline(cfg)
    sid = _run_session(ctl, _shots())
    sheet_view = ctl.wait_done(sid, 90)
    assert sheet_view is not None and sheet_view.ready, ctl.sessions.view(sid)
    frames = list(ctl.sessions.view(sid).frames)
    # the record follows the last frame on the store thread
    assert _poll(lambda: any(cfg.data_path.glob(f"photos/*/{sid}-session.json")), 10)
    before = Ledger(ledger_path(cfg.data_dir))
    try:
        sheet_before = before.get(sid)
        assert sheet_before is not None
    finally:
        before.close()

    # the photo store as it is, beside a ledger that is garbage
    copy = tmp_path / "rebuilt"
    shutil.copytree(cfg.data_path / "photos", copy / "photos")
    (copy / "ledger.sqlite").write_bytes(b"\x13 not a database " * 512)
    assert ledger_path(copy).name == "ledger.sqlite"
    damaged = dataclasses.replace(cfg, data_dir=str(copy))
    ledger = open_ledger(damaged, broker=False)
    store = Sessions(ledger_path(copy))
    try:
        assert recoveries(copy)[-1].sessions == 1
        row = store.get(sid)
        assert row is not None and row.state == COMPOSED and row.ended == DONE
        assert (row.layout, row.shots, row.style) == ("strip", 4, "drip")
        assert store.frame_ids(sid) == [(n, j) for n, j in enumerate(frames, 1)]
        assert [e.kind for e in store.entries_since(0, 0, 10)] == ["session"]
        sheet = ledger.get(sid)
        assert sheet is not None and sheet.token == sheet_before.token  # the guest's link
        assert sheet.created_at == min(ledger.get(j).created_at for j in frames)
        assert sheet.original_path == sheet.ai_path and sheet.style == "drip"
        assert all(ledger.get(j).style == "drip" for j in frames)
    finally:
        store.close()
        ledger.close()
