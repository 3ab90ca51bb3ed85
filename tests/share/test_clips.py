"""The reveal clip: what is made (decoded back with OpenCV's FFmpeg, a decoder independent of
the encoder), how the share process makes it, and the page with and without one."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from jobstore.clips import FAILED, MADE, Clips
from jobstore.ledger import ledger_path, resolve_in_store
from jobstore.names import clip_path
from share import clips, h264, mp4
from share.clipmaker import ClipMaker
from tests.share.helpers import PORTRAIT, add_job
from worker.local_effect import LocalEffect

ROOT = Path(__file__).resolve().parents[2]
needs_encoder = pytest.mark.skipif(
    not h264.available(), reason="no OpenH264 (setup installs Debian's libopenh264-7)"
)


def _pair(tmp_path: Path, size: tuple[int, int] = (960, 1280)) -> tuple[Path, Path]:
    """A shot and its dripped result (the real local effect), as the store has them."""
    image = cv2.imread(str(PORTRAIT))
    assert image is not None
    shot = cv2.resize(image, size)
    result = LocalEffect().apply(shot.copy()).image
    paths = tmp_path / "shot.jpg", tmp_path / "result.jpg"
    cv2.imwrite(str(paths[0]), shot)
    cv2.imwrite(str(paths[1]), result)
    return paths


def _decode(path: Path) -> tuple[list[np.ndarray], float, float]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps, count = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_COUNT)
    cap.release()
    return frames, fps, count


def _avcc(data: bytes) -> bytes:
    at = data.index(b"avcC")
    size = struct.unpack(">I", data[at - 4 : at])[0]
    return data[at + 4 : at - 4 + size]


@needs_encoder
def test_the_clip_decodes_to_what_it_promises(tmp_path, output_dir):
    shot, result = _pair(tmp_path)
    out = tmp_path / "clip.mp4"
    info = clips.make_clip(shot, result, out, "Anna & Ben · 24 Nov")
    data = out.read_bytes()
    assert info.bytes == len(data) <= clips.MAX_BYTES == 3 * 1024 * 1024
    assert (info.width, info.height, info.fps, info.frames) == (1080, 1920, 30, 108)

    frames, fps, count = _decode(out)
    assert len(frames) == count == 108 and fps == 30
    assert len(frames) / fps == pytest.approx(3.6)
    assert all(f.shape == (1920, 1080, 3) for f in frames)

    # fast start: the movie box before the media data; H.264 Constrained Baseline, level 4.0,
    # 4:2:0 (baseline has no other), the BT.709 colour tag
    kinds = [k for k, _at, _size in mp4.top_level_boxes(data)]
    assert kinds == [b"ftyp", b"moov", b"mdat"]
    avcc = _avcc(data)
    assert (avcc[1], avcc[3]) == (66, 40) and avcc[2] & 0x40  # constraint_set1: constrained
    assert b"nclx" in data

    # it shows the shot, then the dripped picture (the local effect's chain and grills: a few
    # percent of the picture), and its last frame leads back into the first
    box = (slice(300, 1600), slice(60, 1020))  # inside the picture's area

    def changed(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(cv2.absdiff(a[box], b[box]).max(axis=2) > 40))

    first, middle, last = frames[0], frames[75], frames[-1]
    assert changed(first, middle) > 0.01
    assert changed(first, last) < changed(first, middle) / 10
    assert changed(first, frames[10]) < 0.001  # still the shot
    assert changed(middle, frames[90]) < 0.001  # holding the dripped picture
    strip = np.hstack([cv2.resize(frames[i], (270, 480)) for i in (0, 20, 30, 40, 75, 107)])
    cv2.imwrite(str(output_dir / "clip-frames.png"), strip)


@needs_encoder
def test_a_landscape_picture_sits_whole_in_the_portrait_frame(tmp_path):
    shot, result = _pair(tmp_path, (1536, 864))
    out = tmp_path / "clip.mp4"
    clips.make_clip(shot, result, out)
    frames, _fps, _count = _decode(out)
    assert len(frames) == 108 and frames[0].shape == (1920, 1080, 3)
    x, y, w, h = clips.photo_box((1536, 864), clips.MARGIN * 2)
    assert w == 1080 - 2 * clips.MARGIN and abs(w / h - 1536 / 864) < 0.01


def test_the_encoder_refuses_what_h264_cannot_carry():
    with pytest.raises(ValueError):
        h264.H264Encoder(1079, 1920, 30, 1_000_000)


def test_no_openh264_is_said_plainly(monkeypatch):
    monkeypatch.setenv(h264.LIBRARY_ENV, "/nonexistent/libopenh264.so.7")
    assert not h264.available()
    with pytest.raises(h264.EncoderUnavailable, match="libopenh264-7"):
        h264.H264Encoder(64, 64, 30, 100_000)


@needs_encoder
def test_the_child_process_runs_at_idle_priority(tmp_path):
    """What the clip maker starts: one clip, one JSON line, SCHED_IDLE (or nice 19)."""
    shot, result = _pair(tmp_path, (480, 640))
    probe = (
        "import os, runpy, sys; from share import clips; "
        "print(clips.lower_priority()); print(os.sched_getscheduler(0) == os.SCHED_IDLE "
        "or os.getpriority(os.PRIO_PROCESS, 0) == 19)"
    )
    low = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert low.stdout.split()[-1] == "True", low
    out = tmp_path / "clip.mp4"
    run = subprocess.run(
        [sys.executable, "-m", "share.clips", str(shot), str(result), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["frames"] == 108 and report["bytes"] == out.stat().st_size


def _wait_clip(cfg, job_id: str, timeout: float = 240.0):
    store = Clips(ledger_path(cfg.data_dir))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            clip = store.get(job_id)
            if clip is not None and clip.state in (MADE, FAILED):
                return clip
            time.sleep(0.2)
        raise AssertionError(f"no clip for {job_id} within {timeout} s")
    finally:
        store.close()


@needs_encoder
def test_the_share_server_makes_the_clip_and_the_page_offers_it(cfg, ledger, serve, tmp_path):
    shot, result = _pair(tmp_path, (480, 640))
    job = add_job(cfg, ledger, result_src=result)
    server = serve(cfg, ledger=ledger, make_clips=True)
    status, _h, body = server.get(f"/p/{job.token}")
    assert status == 200  # the page never waits for the clip

    clip = _wait_clip(cfg, job.job_id)
    assert clip.state == MADE, clip.error
    assert clip.clip_path == clip_path(str(job.result.relative_to(cfg.data_dir)))
    assert (clip.width, clip.height, clip.frames, clip.fps) == (1080, 1920, 108, 30)
    assert clip.took_s is not None and clip.took_s > 0

    status, _h, body = server.get(f"/p/{job.token}")
    page = body.decode()
    for needed in (
        f'src="/p/{job.token}/clip.mp4"',
        f'poster="/p/{job.token}/photo.jpg"',
        'width="1080" height="1920" style="aspect-ratio:1080/1920"',
        "autoplay muted loop playsinline",
        f'href="/p/{job.token}/clip.mp4?dl=1"',
        "Download clip",
    ):
        assert needed in page, needed
    status, headers, data = server.get(f"/p/{job.token}/clip.mp4")
    assert status == 200 and headers["content-type"] == "video/mp4"
    assert data == resolve_in_store(cfg.data_dir, clip.clip_path).read_bytes()
    status, headers, part = server.get(f"/p/{job.token}/clip.mp4", Range="bytes=0-99")
    assert status == 206 and part == data[:100]  # Safari plays only what it can ask for in parts
    status, headers, _ = server.get(f"/p/{job.token}/clip.mp4?dl=1")
    assert headers["content-disposition"].startswith("attachment;")
    assert ".mp4" in headers["content-disposition"]


def test_without_an_encoder_the_page_has_the_photo_only(cfg, ledger, serve, monkeypatch):
    monkeypatch.setenv(h264.LIBRARY_ENV, "/nonexistent/libopenh264.so.7")
    job = add_job(cfg, ledger)
    maker = ClipMaker(cfg)
    try:
        maker._loop()  # returns at once: it checks the encoder first
        assert maker.state.encoder.startswith("no OpenH264")
    finally:
        maker.stop()
    server = serve(cfg, ledger=ledger, make_clips=True)
    status, _h, body = server.get(f"/p/{job.token}")
    assert status == 200 and b"<video" not in body and b"clip.mp4" not in body
    assert b'id="download"' in body
    assert server.get(f"/p/{job.token}/clip.mp4")[0] == 404


@needs_encoder
def test_a_clip_that_cannot_be_made_leaves_the_photo(cfg, ledger, serve, tmp_path):
    """The encoder works but this picture breaks the child: a failed row, a plain page."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(PORTRAIT.read_bytes()[:600])  # a JPEG cut short
    job = add_job(cfg, ledger, result_src=broken)
    server = serve(cfg, ledger=ledger, make_clips=True)
    clip = _wait_clip(cfg, job.job_id)
    assert clip.state == FAILED and clip.error
    status, _h, body = server.get(f"/p/{job.token}")
    assert status == 200 and b"<video" not in body and b'id="download"' in body
    assert server.get(f"/p/{job.token}/clip.mp4")[0] == 404


@needs_encoder
def test_retention_deletes_the_clip_with_the_photo(cfg, ledger, tmp_path):
    from jobstore.retention import delete_jobs

    shot, result = _pair(tmp_path, (480, 640))
    job = add_job(cfg, ledger, result_src=result)
    maker = ClipMaker(cfg)
    try:
        assert maker.run_once() == 1
    finally:
        maker.stop()
    clip_file = job.result.with_suffix(".mp4")
    assert clip_file.is_file()
    row = ledger.get(job.job_id)
    assert row is not None
    delete_jobs(cfg, ledger, [row])
    assert not clip_file.exists() and not job.result.exists()
    assert not clip_file.parent.exists()  # the day folder went too: nothing was left in it
    store = Clips(ledger_path(cfg.data_dir))
    try:
        assert store.forget_orphans() == 1 and store.get(job.job_id) is None
    finally:
        store.close()


def test_a_crash_mid_clip_is_tried_again_then_given_up(cfg, ledger):
    job = add_job(cfg, ledger)
    store = Clips(ledger_path(cfg.data_dir))
    try:
        since = time.time() - 60
        store.start(job.job_id, time.time())  # the first try, cut short by a crash
        assert [w.job_id for w in store.wanted(since, 5)] == [job.job_id]
        store.start(job.job_id, time.time())  # the second, cut short too
        assert store.wanted(since, 5) == []
        assert store.give_up_interrupted(time.time()) == 1
        clip = store.get(job.job_id)
        assert clip is not None and clip.state == FAILED and clip.attempts == 2
    finally:
        store.close()


def test_the_clip_lies_next_to_its_result():
    """Derived from the result's path alone (jobstore/names.py), so retention finds it."""
    assert clip_path("photos/2026-11-24/abc-result-TOKEN.jpg") == (
        "photos/2026-11-24/abc-result-TOKEN.mp4"
    )
    assert clip_path("photos/2026-11-24/abc-result-TOKEN.png").endswith("TOKEN.mp4")
