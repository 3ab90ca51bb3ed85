"""The worker as a real process: kill -9 mid-job loses nothing; SIGTERM is graceful; two workers
share the load with every job completed once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from booth.protocol import Effect, JobStatus
from tests.support.fake_gemini import Reply
from tests.worker.conftest import API_KEY
from tests.worker.helpers import ROOT, portrait_bytes, wait_until


def spawn_worker(tmp_path, broker, fake, worker_id="wproc", extra="") -> subprocess.Popen:
    conf = tmp_path / f"{worker_id}.toml"
    conf.write_text(f'[worker]\nid = "{worker_id}"\ngrace_s = 10\ndeadline_s = 30\n{extra}\n')
    env = dict(
        os.environ,
        BOOTH_MQTT_URL=broker.url,
        BOOTH_DATA_DIR=str(tmp_path / "data"),
        BOOTH_ID="testbooth",
        GEMINI_API_KEY=API_KEY,
        GEMINI_BASE_URL=fake.url,
    )
    env.pop("BOOTH_CONFIG", None)
    log = open(tmp_path / f"{worker_id}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "worker", "--config", str(conf)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_proc(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_kill_9_while_the_model_answers_slowly_then_restart_completes(
    tmp_path, broker, fake, kiosk
):
    fake.script(Reply.image(delay=30))  # the first call hangs: the worker dies during it
    proc = spawn_worker(tmp_path, broker, fake)
    try:
        assert kiosk.worker_online("wproc", 30)
        job = kiosk.send(portrait_bytes())
        assert wait_until(lambda: fake.in_flight == 1, 30), "the model call never started"
        assert wait_until(
            lambda: any(s.status is JobStatus.PROCESSING for s in kiosk.statuses(job)), 10
        )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # the will message tells everyone the worker is gone
        assert wait_until(
            lambda: any(
                t.endswith("workers/wproc/availability") and p == b"offline"
                for t, p, _pr, _r in list(kiosk.messages)
            ),
            60,
        )
        assert kiosk.results(job) == []
        proc = spawn_worker(tmp_path, broker, fake)
        final = kiosk.final(job, timeout=60)
        assert final is not None and final.status is JobStatus.COMPLETED
        assert final.effect is Effect.GEMINI
        assert len(kiosk.results(job)) == 1
        assert len(fake.requests) == 2  # the lost call, and the one after the restart
    finally:
        stop_proc(proc)
    log = (tmp_path / "wproc.log").read_text()
    assert API_KEY not in log


def test_sigterm_finishes_the_in_flight_job_then_says_offline(tmp_path, broker, fake, kiosk):
    fake.script(Reply.image(delay=2))
    proc = spawn_worker(tmp_path, broker, fake, worker_id="wterm")
    try:
        assert kiosk.worker_online("wterm", 30)
        job = kiosk.send(portrait_bytes())
        assert wait_until(lambda: fake.in_flight == 1, 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        final = kiosk.final(job, timeout=5)
        assert final is not None and final.status is JobStatus.COMPLETED
        assert wait_until(
            lambda: any(
                t.endswith("workers/wterm/availability") and p == b"offline"
                for t, p, _pr, _r in list(kiosk.messages)
            ),
            10,
        )
    finally:
        stop_proc(proc)
    log = (tmp_path / "wterm.log").read_text()
    assert "SIGTERM received" in log and "stopped" in log


def test_a_shot_taken_while_the_worker_restarts_waits_only_for_the_restart(
    tmp_path, broker, fake, kiosk
):
    """`systemctl restart booth-worker`: SIGTERM keeps the shared subscription, so the worker's
    persistent session holds the job until the worker is back (no kiosk re-dispatch needed)."""
    proc = spawn_worker(tmp_path, broker, fake, worker_id="wrestart")
    try:
        assert kiosk.worker_online("wrestart", 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        job = kiosk.send(portrait_bytes())  # nobody is subscribed and listening now
        seen = len(kiosk.messages)
        proc = spawn_worker(tmp_path, broker, fake, worker_id="wrestart")
        assert kiosk.worker_online("wrestart", 30, after=seen)
        back = time.monotonic()
        final = kiosk.final(job, timeout=30)
        assert final is not None and final.status is JobStatus.COMPLETED
        assert time.monotonic() - back < 5, "the job waited for something other than the worker"
    finally:
        stop_proc(proc)


def test_two_workers_share_twenty_jobs_each_completed_once(
    worker_config, start_worker, kiosk, fake
):
    fake.latency = 0.3
    cfg = worker_config("concurrency = 2")
    start_worker(cfg, worker_id="wa")
    start_worker(cfg, worker_id="wb")
    jobs = [kiosk.send(portrait_bytes()) for _ in range(20)]
    for job in jobs:
        final = kiosk.final(job, timeout=60)
        assert final is not None and final.status is JobStatus.COMPLETED, job
    completed = Counter()
    workers = Counter()
    for job in jobs:
        for st in kiosk.statuses(job):
            if st.status is JobStatus.COMPLETED:
                completed[job] += 1
                workers[st.worker] += 1
        assert len(kiosk.results(job)) == 1
    assert set(completed.values()) == {1}
    assert set(workers) == {"wa", "wb"} and min(workers.values()) >= 3, workers
    assert len(fake.requests) == 20


def test_broker_restart_mid_job_the_job_still_completes(worker_config, start_worker, broker, fake):
    from tests.worker.helpers import Kiosk

    fake.script(Reply.image(delay=2))
    start_worker(worker_config("deadline_s = 30"))
    k = Kiosk(broker.port)
    try:
        job = k.send(portrait_bytes())
        assert wait_until(lambda: fake.in_flight == 1, 20)
    finally:
        k.close()
    broker.restart()
    # a fresh kiosk connection reads the retained final status and result
    k2 = Kiosk(broker.port)
    try:
        final = k2.final(job, timeout=60)
        assert final is not None and final.status is JobStatus.COMPLETED
        assert wait_until(lambda: len(k2.results(job)) >= 1, 20)
    finally:
        k2.close()


def test_stop_with_a_job_past_the_grace_period_leaves_it_for_redelivery(
    worker_config, start_worker, kiosk, fake
):
    fake.script(Reply.image(delay=3))
    cfg = worker_config("deadline_s = 30")
    w = start_worker(cfg)
    job = kiosk.send(portrait_bytes())
    assert wait_until(lambda: fake.in_flight == 1, 20)
    assert w.stop(grace_s=0.3) is False  # could not finish: not acked
    assert not any(s.status.is_final for s in kiosk.statuses(job))
    start_worker(cfg)  # same id: the broker hands the job back
    final = kiosk.final(job, timeout=60)
    assert final is not None and final.status is JobStatus.COMPLETED
