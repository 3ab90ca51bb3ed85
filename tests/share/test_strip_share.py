"""A strip session on the share side: the sheet's page offers the sheet, each frame and the strip
clip; the clip reveals the frames one after another; the dashboard and the zip show the session
as one entry with its frames; deleting it takes the sheet and every frame.

The session is made the way the kiosk makes it: frames stored as photos (tests/share/helpers.py
add_job), the session's rows, and its sheet composed and stored by the kiosk's own job side
(kiosk/jobs/sessions.py)."""

from __future__ import annotations

import io
import re
import time
import zipfile
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from booth import reveal
from booth.sheet import layout
from jobstore.ledger import Ledger, ledger_path
from jobstore.sessions import Sessions
from kiosk.jobs.sessions import StripSessions
from kiosk.jobs.views import JobViews
from share import dashboard, h264
from share.clipmaker import ClipMaker
from share.dashboard import Sources
from share.health import board_for
from share.lookup import PhotoLookup
from tests.share.helpers import NO_FACE, PORTRAIT, add_job

needs_encoder = pytest.mark.skipif(
    not h264.available(), reason="no OpenH264 (setup installs Debian's libopenh264-7)"
)


@dataclass
class Made:
    session_id: str
    frames: list[str]
    sheet_token: str


def make_session(cfg, ledger: Ledger, shots: int = 4, kind: str = "strip") -> Made:
    """A finished strip session: `shots` frames (alternating pictures), its rows, its sheet."""
    side = StripSessions(
        cfg, ledger, JobViews(cfg, None, time.time), time.time, time.monotonic, owner=True
    )
    try:
        sid = side.begin("drip")
        frames = []
        t0 = time.time() - 60
        for n in range(1, shots + 1):
            job = add_job(cfg, ledger, created_at=t0 + n, result_src=PORTRAIT if n % 2 else NO_FACE)
            side.db.begin(sid, cfg.booth_id, "drip", kind, shots, False, t0)
            side.db.add_frame(sid, n, job.job_id)
            frames.append(job.job_id)
        side.db.close_session(sid, "done", time.time())
        side.recover()  # follows the closed session, as a kiosk does on start
        side.tick()
        end = time.monotonic() + 30
        while ledger.get(sid) is None and time.monotonic() < end:
            time.sleep(0.05)
        sheet = ledger.get(sid)
        assert sheet is not None and sheet.token, "the sheet was not composed"
        return Made(sid, frames, sheet.token)
    finally:
        side.close()


def test_the_sheets_page_offers_the_sheet_and_each_frame(cfg, ledger, server):
    single = add_job(cfg, ledger)
    made = make_session(cfg, ledger)
    status, _h, body = server.get(f"/p/{made.sheet_token}")
    page = body.decode()
    assert status == 200
    assert f'src="/p/{made.sheet_token}/photo.jpg"' in page  # the sheet is the page's photo
    assert page.count("<figure>") == 4 and 'id="frames"' in page
    for n, job_id in enumerate(made.frames, 1):
        row = ledger.get(job_id)
        assert row is not None and row.token
        assert f"/p/{row.token}/photo.jpg?dl=1" in page
        # each frame's picture has its box from the start (no layout shift)
        img = re.search(rf'<img class="photo" src="/p/{row.token}/photo.jpg"([^>]*)>', page)
        assert img and 'width="' in img.group(1) and "aspect-ratio" in img.group(1)
        assert f"Photo {n}" in page
        status, _h, data = server.get(f"/p/{row.token}/photo.jpg?dl=1")
        assert status == 200 and data == (cfg.data_path / row.result_path).read_bytes()
    status, _h, data = server.get(f"/p/{made.sheet_token}/photo.jpg")
    sheet = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert (sheet.shape[1], sheet.shape[0]) == layout("strip", 4).size
    # a photo of its own has no frames; a German phone reads the frames' heading in German
    status, _h, body = server.get(f"/p/{single.token}")
    assert status == 200 and b'id="frames"' not in body
    _s, _h, body = server.get(f"/p/{made.sheet_token}", accept_language="de-DE,de;q=0.9")
    assert "Deine Fotos einzeln" in body.decode() and "Foto 4" in body.decode()


@needs_encoder
def test_the_strip_clip_reveals_the_frames_one_after_another(cfg, ledger, server, tmp_path):
    made = make_session(cfg, ledger)
    maker = ClipMaker(cfg)
    try:
        assert maker.run_once() == 1  # the sheet's clip; the frames get none of their own
        assert maker.run_once() == 0
    finally:
        maker.stop()
    status, _h, data = server.get(f"/p/{made.sheet_token}/clip.mp4")
    assert status == 200
    clip = tmp_path / "strip.mp4"
    clip.write_bytes(data)
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    timeline = reveal.Staggered(4)
    assert len(frames) == round(timeline.total_s * 30)
    assert frames[0].shape[:2] == (1920, 1080)
    # where each frame's box is in the clip: its change from the first picture tells its wipe
    first = frames[0].astype(int)
    last_still = frames[round((timeline.total_s - timeline.back_s - 0.2) * 30)].astype(int)
    moved = np.abs(last_still - first).mean(axis=2) > 40
    rows = np.where(moved.any(axis=1))[0]
    assert len(rows), "nothing changed between the shots and the sheet"
    top, bottom = rows.min(), rows.max()
    bands = np.array_split(np.arange(top, bottom + 1), 4)

    def changed(t: float) -> list[float]:
        f = frames[round(t * 30)].astype(int)
        diff = np.abs(f - first).mean(axis=2) > 40
        return [float(diff[b].mean() / max(1e-6, moved[b].mean())) for b in bands]

    # after frame 1's wipe and before frame 2's: the first box dripped, the last untouched
    t = timeline.hold_shot_s + timeline.wipe_s + 0.05
    early = changed(t)
    assert early[0] > 0.8 and early[3] < 0.1, early
    # once all are wiped every box has changed
    assert min(changed(timeline.total_s - timeline.back_s - 0.2)) > 0.8


def _sources(cfg, ledger: Ledger) -> tuple[Sources, Sessions]:
    strips = Sessions(ledger_path(cfg.data_dir))
    lookup = PhotoLookup(ledger, cfg.data_dir, cfg.retention_days)
    return Sources(cfg, ledger, lookup, board_for(cfg), strips=strips), strips


def test_dashboard_and_zip_show_a_session_as_one_entry_with_its_frames(cfg, ledger):
    singles = [add_job(cfg, ledger, created_at=time.time() - 120 + i) for i in range(2)]
    made = make_session(cfg, ledger)
    src, strips = _sources(cfg, ledger)
    try:
        state = dashboard.state(src)
        ids = [j["id"] for j in state["jobs"]]
        assert sorted(ids) == sorted([made.session_id] + [j.job_id for j in singles])
        entry = next(j for j in state["jobs"] if j["id"] == made.session_id)
        assert entry["phase"] == "ready" and entry["link"].endswith(made.sheet_token)
        assert entry["session"]["layout"] == "strip" and entry["session"]["taken"] == 4
        assert [f["id"] for f in entry["session"]["frames"]] == made.frames
        assert all(f["phase"] == "ready" and f["thumb"] for f in entry["session"]["frames"])
        assert state["event"]["photos"] == 6  # shots: two photos and four frames, no sheet

        names = [m.name for m in dashboard.zip_members(src, state["event"]["start"])]
        folder = {n.rsplit("/", 1)[0] for n in names if n.startswith("strips/")}
        assert len(folder) == 1 and made.session_id[:8] in folder.pop()
        inside = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("strips/"))
        assert inside == ["1-drip.jpg", "2-drip.jpg", "3-drip.jpg", "4-drip.jpg", "strip.jpg"]
        assert len(names) == 7  # and the two photos of their own, at the top
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for m in dashboard.zip_members(src, state["event"]["start"]):
                z.write(m.path, m.name)
        assert len(zipfile.ZipFile(buf).namelist()) == 7
    finally:
        strips.close()


def test_deleting_a_session_takes_its_sheet_and_every_frame(cfg, ledger):
    import asyncio

    keep = add_job(cfg, ledger)
    made = make_session(cfg, ledger)
    files = [
        cfg.data_path / p
        for j in [made.session_id, *made.frames]
        for p in (ledger.get(j).result_path, ledger.get(j).ai_path)
    ]
    assert all(f.is_file() for f in files)
    src, strips = _sources(cfg, ledger)
    try:
        assert asyncio.run(dashboard.delete_job(src, made.session_id, None))
        assert all(ledger.get(j) is None for j in [made.session_id, *made.frames])
        assert not any(f.exists() for f in files)
        assert strips.get(made.session_id) is None and strips.frame_ids(made.session_id) == []
        assert ledger.get(keep.job_id) is not None
        assert [j["id"] for j in dashboard.state(src)["jobs"]] == [keep.job_id]
    finally:
        strips.close()


def test_printing_and_auto_print_see_the_sheet_not_its_frames(cfg, ledger):
    from jobstore.prints import PrintQueue

    made = make_session(cfg, ledger, shots=3, kind="grid")
    single = add_job(cfg, ledger)
    queue = PrintQueue(ledger_path(cfg.data_dir))
    try:
        assert set(queue.auto_candidates(0)) == {made.session_id, single.job_id}
        granted = queue.request(made.session_id, "r-1", 1, "guest", per_photo=1, budget=None)
        assert granted.refused is None and len(granted.rows) == 1  # the sheet is a photo to print
    finally:
        queue.close()
    sheet = cv2.imread(str(cfg.data_path / ledger.get(made.session_id).result_path))
    assert (sheet.shape[1], sheet.shape[0]) == (1800, 1200)  # a 3-shot grid: 4x6 in
