"""Re-dispatch on the monotonic clock, dispatch when a worker comes online, the bounded wait."""

from __future__ import annotations

import time

from booth.protocol import JobStatus
from kiosk.jobs.redispatch import Redispatcher
from kiosk.jobs.views import JobView
from tests.kiosk.helpers import FIXTURES, poll

PORTRAIT = (FIXTURES / "portrait.jpg").read_bytes()


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# ------------------------------------------------------------------ the rules, on a test clock


def test_a_job_nobody_started_goes_out_again_every_redispatch_s():
    mono = Clock()
    r = Redispatcher(redispatch_s=30, deadline_s=45, mono=mono)
    r.watch("job-00001", age_s=0.0)
    mono.t += 29
    assert r.due() == []
    mono.t += 1
    [(job, why)] = r.due()
    assert job == "job-00001" and "no worker started it" in why
    r.dispatched(job)
    mono.t += 29
    assert r.due() == []


def test_a_started_job_goes_out_again_only_well_past_the_deadline_from_the_shot():
    mono = Clock()
    r = Redispatcher(redispatch_s=30, deadline_s=45, mono=mono)
    r.watch("job-00001", age_s=10.0)  # the shot was 10 s ago
    r.started("job-00001")
    mono.t += 64  # 74 s after the shot: not yet
    assert r.due() == []
    mono.t += 1
    [(_, why)] = r.due()
    assert "no final status 75 s after the shot" in why
    r.dispatched("job-00001")
    mono.t += 29
    assert r.due() == []  # then at most every redispatch_s
    mono.t += 1
    assert len(r.due()) == 1
    r.done("job-00001")
    assert r.due() == [] and "job-00001" not in r


def test_ledger_times_from_a_clock_that_stepped_back_never_stall_it():
    mono = Clock()
    r = Redispatcher(redispatch_s=30, deadline_s=45, mono=mono)
    # the wall clock went back an hour: the ledger's times look like the future
    r.watch("job-00001", age_s=-3600.0, since_dispatch_s=-3600.0)
    mono.t += 30
    assert len(r.due()) == 1


def test_waiting_lists_the_jobs_no_worker_started():
    mono = Clock()
    r = Redispatcher(redispatch_s=30, deadline_s=45, mono=mono)
    r.watch("job-00001", age_s=5.0, since_dispatch_s=5.0)
    r.watch("job-00002", age_s=1.0, since_dispatch_s=1.0, started=True)
    r.watch("job-00003", age_s=0.0)  # published this instant: it may have reached no one
    assert r.waiting() == ["job-00001", "job-00003"]


# ------------------------------------------------------------------ the pipeline on a real broker


def test_a_processing_job_whose_worker_vanished_goes_out_again(kiosk_config, controllers, worker):
    cfg = kiosk_config("redispatch_s = 1\n[worker]\ndeadline_s = 2")
    jobs = controllers(cfg)
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    worker.status(job_id, "processing")  # ... and then the worker is gone
    t0 = time.monotonic()
    assert poll(lambda: jobs.ledger.get(job_id).status is JobStatus.PROCESSING, 10)
    assert poll(lambda: worker.job_ids().count(job_id) >= 2, 15)
    assert time.monotonic() - t0 >= 1.0  # not before deadline + redispatch_s from the shot
    worker.finish(job_id, effect="local")
    assert jobs.wait_done(job_id, 15).ready
    n = len(worker.jobs)
    time.sleep(2.5)
    assert len(worker.jobs) == n  # a finished job is left alone


def test_a_wall_clock_step_back_does_not_stall_redispatch(kiosk_config, controllers, worker):
    wall = Clock(time.time())
    jobs = controllers(kiosk_config("redispatch_s = 1"), clock=wall)
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    wall.t -= 3600  # NTP steps the clock back an hour
    assert poll(lambda: worker.job_ids().count(job_id) >= 2, 10)


def test_jobs_go_out_at_once_when_a_worker_comes_online(kiosk_config, controllers, worker):
    jobs = controllers(kiosk_config("redispatch_s = 60"))
    worker.availability(False)
    job_id = jobs.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    assert poll(lambda: jobs.ai_online is False, 10)
    worker.availability(True)
    t0 = time.monotonic()
    assert poll(lambda: worker.job_ids().count(job_id) >= 2, 5)
    assert time.monotonic() - t0 < 2
    worker.status(job_id, "processing")
    assert poll(lambda: jobs.ledger.get(job_id).status is JobStatus.PROCESSING, 10)
    worker.availability(False)
    worker.availability(True)  # a started job is not sent again for this
    time.sleep(1.0)
    assert worker.job_ids().count(job_id) == 2


def test_a_restarted_kiosk_sends_a_long_silent_processing_job_again(
    kiosk_config, controllers, worker
):
    cfg = kiosk_config("redispatch_s = 1\n[worker]\ndeadline_s = 2")
    first = controllers(cfg)
    job_id = first.submit_jpeg(PORTRAIT)
    assert poll(lambda: job_id in worker.job_ids(), 15)
    worker.status(job_id, "processing")
    assert poll(lambda: first.ledger.get(job_id).status is JobStatus.PROCESSING, 10)
    first.stop()
    time.sleep(3.2)  # longer than deadline + redispatch_s
    worker.jobs.clear()
    controllers(cfg, client_suffix="-2")
    assert poll(lambda: job_id in worker.job_ids(), 5)


def test_no_worker_ever_seen_means_photos_are_paused(kiosk_config, controllers):
    jobs = controllers(kiosk_config())
    assert poll(lambda: jobs.ai_online is False, 10)


def test_the_wait_on_screen_is_bounded(kiosk_config, controllers):
    jobs = controllers(kiosk_config("max_wait_s = 20"))
    view = JobView("job-00001", "drip", time.time(), JobStatus.PROCESSING)
    assert [jobs.wait_phase(view, s) for s in (0, 14.9, 15, 19.9, 20, 300)] == [
        "wait",
        "wait",
        "notice",
        "notice",
        "leave",
        "leave",
    ]
    assert jobs.wait_phase(None, 25) == "leave"


def test_the_guest_leaves_the_wait_honestly_and_finds_the_photo_in_the_strip(
    kiosk_config, make_app, worker
):
    import pygame

    from tests.kiosk.conftest import FakeClock
    from tests.kiosk.helpers import SCREENS_OUT

    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0\nmax_wait_s = 30"), (800, 480), clock=clock)
    # the fake clock jumps 30 s ahead of the camera's real frames: no watchdog restart meanwhile
    # (a CI run saw the start screen give way to "Camera reconnecting" after the jump)
    app.camera.frame_timeout_s = 3600
    assert poll(lambda: app.camera.state == "live", 15, step=app.step)
    assert app.request_shot()

    def frame() -> None:
        clock.advance(0.05)
        app.step()

    assert poll(lambda: app.screen.name == "processing", 15, step=frame)
    job_id = app.screen.job_id
    assert poll(lambda: job_id in worker.job_ids(), 15, step=app.step)
    worker.status(job_id, "processing")  # ... and no final status comes
    assert poll(lambda: app.screen.phase() == "processing", 10, step=app.step)
    clock.advance(24 - app.screen.elapsed)
    app.step()
    assert (app.screen.name, app.screen.state()["wait"]) == ("processing", "wait")
    clock.advance(1)
    app.step()
    assert app.screen.state()["wait"] == "notice"
    SCREENS_OUT.mkdir(parents=True, exist_ok=True)
    pygame.image.save(app.surface, str(SCREENS_OUT / "processing-notice-800x480.png"))
    clock.advance(5)
    app.step()
    assert app.screen.name == "attract"  # within kiosk.max_wait_s of the shot
    worker.finish(job_id, effect="local")  # later, the picture arrives
    assert poll(
        lambda: any(v.job_id == job_id and v.ready for v in app.recent_jobs()), 15, step=app.step
    )
    assert app.screen.name == "attract"  # the next guest's screen is not taken over
