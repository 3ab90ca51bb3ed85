"""The share server on a full disk (a real 4 MB tmpfs as the data dir): guests' pages and
downloads go on, and the reveal clip waits for room instead of being given up or taking the
process down (share/clipmaker.py)."""

from __future__ import annotations

import logging
import time

import pytest

from jobstore.clips import FAILED, MADE, Clips
from jobstore.ledger import Ledger, ledger_path
from share import clipmaker, h264
from tests.share.helpers import add_job
from tests.support.smalldisk import fill, ledger_refuses_writes, small_tmpfs

needs_encoder = pytest.mark.skipif(
    not h264.available(), reason="no OpenH264 (setup installs Debian's libopenh264-7)"
)


def _wait(predicate, timeout: float, step: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@needs_encoder
@pytest.mark.slow
def test_a_full_disk_postpones_the_clip_and_the_guests_pages_go_on(
    tmp_path, share_cfg, serve, caplog, monkeypatch
):
    """First the clip's file does not fit (ENOSPC in the child; the ledger still takes its
    rows), then nothing fits (the clips table's writes fail with "database or disk is full"):
    the page and the photo answer throughout, one line says clips wait, nothing is counted
    against the picture, and once there is room again the clip is made and offered."""
    monkeypatch.setattr(clipmaker, "STORAGE_RETRY_S", 0.5)
    with small_tmpfs(tmp_path / "disk") as disk:
        cfg = share_cfg(
            '[share]\npublic_url = "http://booth.test:8080"\n', BOOTH_DATA_DIR=str(disk)
        )
        ledger = Ledger(ledger_path(cfg.data_dir))  # open all along, like the kiosk's
        clips = Clips(ledger_path(cfg.data_dir))
        try:
            job = add_job(cfg, ledger)
            assert job.result is not None
            photo = job.result.read_bytes()
            filler = disk / "filler"
            fill(filler, leave=64 * 1024)  # room for a few rows; a clip is about 500 KB
            with caplog.at_level(logging.INFO, logger="share.clipmaker"):
                server = serve(cfg, ledger=ledger, make_clips=True)

                def waiting() -> list[str]:
                    return [
                        r.getMessage()
                        for r in caplog.records
                        if r.name == "share.clipmaker" and "no reveal clips" in r.getMessage()
                    ]

                def answers() -> None:
                    status, _h, body = server.get(f"/p/{job.token}")
                    assert status == 200 and b'id="download"' in body and b"<video" not in body
                    assert server.get(f"/p/{job.token}/photo.jpg")[2] == photo
                    assert server.get("/healthz")[0] == 200

                # 1. the clip is encoded but its file does not fit
                seen = _wait(
                    lambda: waiting() or ((c := clips.get(job.job_id)) and c.state != "making"),
                    240,
                )
                clip = clips.get(job.job_id)
                assert clip is not None and clip.state != FAILED, clip  # not the picture's fault
                assert seen == waiting() and "No space left on device" in seen[0], seen
                answers()

                # 2. nothing fits: the clips table's own writes fail
                fill(filler)
                assert ledger_refuses_writes(ledger_path(cfg.data_dir))
                time.sleep(3.0)  # six more looks at 0.5 s
                answers()
                clip = clips.get(job.job_id)
                assert clip is not None and clip.state == "making", clip
                assert len(waiting()) == 1, waiting()  # said once, not at every look
                errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
                assert not errors, [r.getMessage() for r in errors]

                # 3. room again: the clip is made and the page offers it
                filler.unlink()
                made = _wait(lambda: (c := clips.get(job.job_id)) and c.state == MADE and c, 240)
                assert made, clips.get(job.job_id)
                status, _h, body = server.get(f"/p/{job.token}")
                assert status == 200 and f'src="/p/{job.token}/clip.mp4"'.encode() in body
                status, _h, data = server.get(f"/p/{job.token}/clip.mp4")
                assert status == 200 and len(data) == made.bytes
            said = [r.getMessage() for r in caplog.records if r.name == "share.clipmaker"]
            assert len(waiting()) == 1, said
            assert sum("takes clips again" in m for m in said) == 1, said
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR], said
        finally:
            clips.close()
            ledger.close()
