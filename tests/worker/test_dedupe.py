"""Duplicates (redeliveries, kiosk re-dispatch) are answered from the store: one model call."""

from __future__ import annotations

from booth.protocol import Effect, JobStatus
from tests.support.fake_gemini import Reply
from tests.worker.helpers import portrait_bytes, wait_until


def test_redelivered_job_republishes_stored_result_without_a_model_call(
    worker_config, start_worker, kiosk, fake
):
    start_worker(worker_config())
    job = kiosk.send(portrait_bytes())
    first = kiosk.final(job)
    assert first.status is JobStatus.COMPLETED
    kiosk.send(portrait_bytes(), job_id=job, pending=False)  # the kiosk re-dispatches
    assert wait_until(lambda: len(kiosk.results(job)) == 2, 20)
    assert wait_until(lambda: len([s for s in kiosk.statuses(job) if s.status.is_final]) == 2)
    finals = [s for s in kiosk.statuses(job) if s.status.is_final]
    assert all(s.status is JobStatus.COMPLETED and s.effect is Effect.GEMINI for s in finals)
    r1, r2 = kiosk.results(job)
    assert r1[0] == r2[0]
    assert len(fake.requests) == 1
    # no second `processing`: a duplicate never moves the job back
    assert [s.status for s in kiosk.statuses(job)].count(JobStatus.PROCESSING) == 1


def test_duplicate_arriving_while_first_copy_runs_is_checked_when_it_starts(
    worker_config, start_worker, kiosk, fake
):
    fake.script(Reply.image(delay=1.5))
    start_worker(worker_config("concurrency = 2"))
    job = kiosk.send(portrait_bytes())
    assert wait_until(lambda: fake.in_flight == 1, 10)
    kiosk.send(portrait_bytes(), job_id=job, pending=False)
    assert wait_until(lambda: len([s for s in kiosk.statuses(job) if s.status.is_final]) == 2, 20)
    assert len(fake.requests) == 1


def test_dedupe_survives_a_worker_restart(worker_config, start_worker, kiosk, fake):
    cfg = worker_config()
    w = start_worker(cfg)
    job = kiosk.send(portrait_bytes())
    assert kiosk.final(job).status is JobStatus.COMPLETED
    w.stop(grace_s=1)
    start_worker(cfg)
    kiosk.send(portrait_bytes(), job_id=job, pending=False)
    assert wait_until(lambda: len(kiosk.results(job)) == 2, 20)
    assert len(fake.requests) == 1


def test_store_expiry_and_prune(tmp_path):
    import json
    import os
    import time

    from booth.protocol import Status
    from worker.dedupe import DedupeStore

    store = DedupeStore(tmp_path, keep_hours=1)
    st = Status("job12345678", "b1", JobStatus.COMPLETED, effect=Effect.LOCAL, worker="w1")
    store.put(st, b"\xff\xd8\xffdata")
    got = store.get("job12345678")
    assert got and got.result == b"\xff\xd8\xffdata" and got.status.status is JobStatus.COMPLETED
    meta = tmp_path / "job12345678.json"
    record = json.loads(meta.read_text())
    record["stored_at"] = time.time() - 7200
    meta.write_text(json.dumps(record))
    assert store.get("job12345678") is None
    old = time.time() - 7200
    os.utime(meta, (old, old))
    assert store.prune() == 1 and not meta.exists()
    assert not (tmp_path / "job12345678.jpg").exists()
    import pytest

    from booth.protocol import ProtocolError

    with pytest.raises(ProtocolError):
        store.get("../../etc/passwd")  # a job id never becomes a path outside the store


def test_unwritable_dedupe_store_costs_dedupe_not_the_job(worker_config, start_worker, kiosk, fake):
    import shutil

    w = start_worker(worker_config())
    shutil.rmtree(w.store.folder)
    w.store.folder.write_text("not a folder")  # every write into the store now fails
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job)
    assert final.status is JobStatus.COMPLETED and len(kiosk.results(job)) == 1


def test_a_crash_while_handling_ends_failed_internal_and_the_worker_goes_on(
    worker_config, start_worker, kiosk, fake
):
    from booth.protocol import ErrorKind

    w = start_worker(worker_config("concurrency = 1", key=False))
    real = w.effect.apply

    def broken(image):
        raise RuntimeError("simulated bug")

    w.effect.apply = broken
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job)
    assert final.status is JobStatus.FAILED and final.error.kind is ErrorKind.INTERNAL
    w.effect.apply = real
    job2 = kiosk.send(portrait_bytes())  # receive maximum 1: only works if the first was acked
    assert kiosk.final(job2).status is JobStatus.COMPLETED
