"""The job pipeline without pygame: outbox, re-dispatch, duplicates, rogue messages, restarts."""

from __future__ import annotations

import json
import time

import pytest

from booth.protocol import JobStatus, Status
from jobstore.ledger import Ledger, ledger_path
from tests.kiosk.helpers import FIXTURES, poll, result_jpeg
from tests.support.bombs import png_bomb

PORTRAIT = (FIXTURES / "portrait.jpg").read_bytes()


def row_snapshot(ledger: Ledger, job_id: str) -> tuple:
    r = ledger.get(job_id)
    assert r is not None, f"no ledger row for {job_id}"
    return (r.status, r.effect, r.worker, r.result_path, r.token, r.finished_at)


def test_headless_pipeline_from_a_jpeg(kiosk_config, controllers, worker):
    """What `booth snap PHOTO` does: a given JPEG through the real pipeline to a share URL."""
    cfg = kiosk_config()
    jobs = controllers(cfg)
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    worker.finish(job_id)
    view = jobs.wait_done(job_id, 15)
    assert view is not None and view.ready
    assert (
        view.result_path.is_file() and view.share_url == f"http://booth.local:8080/p/{view.token}"
    )
    # the original is the given file, byte for byte
    row = jobs.ledger.get(job_id)
    assert (cfg.data_path / row.original_path).read_bytes() == PORTRAIT


def test_bad_photo_is_refused_clearly(kiosk_config, controllers):
    jobs = controllers(kiosk_config())
    with pytest.raises(ValueError, match="neither a JPEG nor a PNG"):
        jobs.submit_jpeg(b"hello")
    with pytest.raises(ValueError, match="cannot be used: JPEG header is corrupt"):
        jobs.submit_jpeg(b"\xff\xd8\xff" + b"\x00" * 100)
    with pytest.raises(ValueError, match="20000×20000 = 400 megapixels"):
        jobs.submit_jpeg(png_bomb(20000, 20000))
    assert jobs.ledger.count() == 0


def test_malformed_messages_are_logged_and_ignored(kiosk_config, controllers, worker, caplog):
    jobs = controllers(kiosk_config())
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    good = Status(job_id, "testbooth", JobStatus.PROCESSING, worker="w1").to_dict()
    t = f"booth/testbooth/status/{job_id}"
    rogue = [
        (t, b"not json"),
        (t, json.dumps({k: v for k, v in good.items() if k != "attempt"})),
        (t, json.dumps({**good, "job_id": "someoneelse123"})),
        ("booth/testbooth/status/bad id!", json.dumps(good)),
        (f"booth/testbooth/results/{job_id}", b"\xff\xd8\xff garbage that is no JPEG"),
        (f"booth/testbooth/results/{job_id}", b"GIF89a....."),
        ("booth/workers/w9/availability", b"maybe"),
    ]
    # a status value this version does not know (a newer worker's step) is not malformed: it
    # leaves the job where it is, without a warning per message (booth/protocol.py UnknownStatus)
    newer = (t, json.dumps({**good, "status": "exploded"}))
    before = jobs.ignored_messages
    for topic, payload in [newer, *rogue]:
        worker.raw(topic, payload)
    assert poll(lambda: jobs.ignored_messages - before >= len(rogue), 10)
    row = jobs.ledger.get(job_id)
    assert row.status is JobStatus.PENDING and row.result_path is None
    assert "ignored a malformed message" in caplog.text
    # and the job still completes normally afterwards
    worker.finish(job_id)
    view = jobs.wait_done(job_id, 15)
    assert view is not None and view.ready


def test_redispatch_then_duplicates_change_nothing(kiosk_config, controllers, worker):
    cfg = kiosk_config("redispatch_s = 1")
    jobs = controllers(cfg)
    job_id = jobs.submit_jpeg(PORTRAIT)
    # no worker answers: the same job id is published again after redispatch_s
    assert poll(lambda: worker.job_ids().count(job_id) >= 2, 15)
    # counted just after the publish, on the store thread: the worker may see it first
    assert poll(lambda: jobs.redispatches >= 1, 5)
    assert len(set(worker.job_ids())) == 1
    row = jobs.ledger.get(job_id)
    assert row.dispatches >= 2

    worker.status(job_id, "processing")
    assert poll(lambda: jobs.ledger.get(job_id).status is JobStatus.PROCESSING, 10)
    n = len(worker.jobs)
    time.sleep(2.5)  # longer than redispatch_s: a processing job is not published again
    assert len(worker.jobs) == n

    first = result_jpeg(quality=90)
    worker.result(job_id, first)
    worker.status(job_id, "completed", effect="gemini")
    view = jobs.wait_done(job_id, 15)
    assert view.ready
    assert poll(lambda: jobs.ledger.get(job_id).status is JobStatus.COMPLETED, 10)
    snap = row_snapshot(jobs.ledger, job_id)
    stored = view.result_path.read_bytes()
    assert stored == first

    # a duplicate result (another worker) and a late `processing`: nothing changes
    worker.result(job_id, result_jpeg(quality=40))
    worker.status(job_id, "processing")
    worker.status(job_id, "failed")
    marker = jobs.submit_jpeg(PORTRAIT)  # a later message to know the earlier ones were handled
    assert poll(lambda: marker in worker.job_ids(), 15)
    time.sleep(0.5)
    assert row_snapshot(jobs.ledger, job_id) == snap
    assert view.result_path.read_bytes() == first


def test_restart_republishes_unsent_jobs(kiosk_config, controllers, worker):
    """A job in the ledger whose publish was never acked is published again on start."""
    cfg = kiosk_config()
    jobs = controllers(cfg)
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    assert poll(lambda: jobs.ledger.get(job_id).sent_at is not None, 10)
    jobs.stop()
    # simulate a crash between the ledger write and the broker's ack
    led = Ledger(ledger_path(cfg.data_dir))
    led._db.execute("UPDATE jobs SET sent_at = NULL WHERE job_id = ?", (job_id,))
    led.close()
    worker.jobs.clear()
    again = controllers(cfg, client_suffix="-2")
    assert poll(lambda: job_id in worker.job_ids(), 15)
    assert poll(lambda: again.ledger.get(job_id).sent_at is not None, 10)


def test_worker_availability(kiosk_config, controllers, worker):
    jobs = controllers(kiosk_config())
    worker.availability(False)
    assert poll(lambda: jobs.ai_online is False, 10)
    worker.availability(True)
    assert poll(lambda: jobs.ai_online is True, 10)


def test_a_result_that_cannot_be_stored_is_kept_and_stored_when_space_returns(
    kiosk_config, controllers, worker, monkeypatch
):
    """ENOSPC while the result arrives (the status after it too): the job is not lost, and its
    view turns ready by itself once writing works again — no restart."""
    import errno

    import kiosk.jobs.results as results

    jobs = controllers(kiosk_config())
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    real_write = results.atomic_write
    disk_full = {"on": True}

    def write(path, data):
        if disk_full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(results, "atomic_write", write)
    worker.status(job_id, "processing")
    worker.result(job_id)
    worker.status(job_id, "completed", effect="gemini")
    assert poll(
        lambda: any(e.kind == "store_failed" and e.job.job_id == job_id for e in jobs.poll()), 10
    )
    time.sleep(2.5)  # several retries, all failing
    row = jobs.ledger.get(job_id)
    assert row.result_path is None and row.status is JobStatus.COMPLETED
    assert jobs.view(job_id).ready is False
    assert not list(jobs.data_dir.rglob("*.tmp"))
    disk_full["on"] = False
    view = jobs.wait_done(job_id, 30)
    assert view is not None and view.ready, "the held result was never stored"
    assert view.result_path.read_bytes() == result_jpeg()


def test_a_bomb_as_a_result_is_refused_before_decoding(kiosk_config, controllers, worker, caplog):
    """A 20000×20000 PNG published as the job's result: refused from its header, cleared from
    the broker (so it does not replay at every start), and the real result still wins."""
    jobs = controllers(kiosk_config())
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    before = jobs.ignored_messages
    worker.result(job_id, png_bomb(20000, 20000))
    assert poll(lambda: jobs.ignored_messages > before, 10)
    assert "20000×20000 = 400 megapixels" in caplog.text
    assert jobs.ledger.get(job_id).result_path is None
    worker.finish(job_id)
    view = jobs.wait_done(job_id, 15)
    assert view is not None and view.ready and view.result_path.read_bytes() == result_jpeg()
