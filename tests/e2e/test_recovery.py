"""Real process faults: a power cut of the whole booth mid-burst, a worker frozen after saying
`processing`, and a shot taken before any worker ever connected."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.rig import Rig, base_toml, wait_until
from tests.support.fake_gemini import FakeGemini, Reply
from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.slow


def set_keys(rig, section: str, **keys: object) -> None:
    """The rig's config with keys of one table set (added or replaced); keys set before
    stay set."""
    text = (
        rig.config.read_text() if rig.config.exists() else base_toml(rig.share_port, rig.extra_toml)
    )
    head = f"[{section}]\n"
    for key, value in keys.items():
        start = text.index(head) + len(head)
        end = text.find("\n[", start)
        body = text[start:end]
        lines = [ln for ln in body.splitlines() if not ln.startswith(f"{key} = ")]
        text = text[:start] + "\n".join([f"{key} = {value}", *lines]) + text[end:]
    rig.config.write_text(text)


def booth(rig, worker_id: str = "w1"):
    """Share, a worker and the kiosk (only the test's shots: no automatic ones)."""
    rig.share()
    worker = rig.worker(worker_id) if worker_id else None
    kiosk = rig.kiosk("--interval", "100000")
    wait_until(
        lambda: rig.kiosk_state().get("screen") == "attract",
        60,
        lambda: "kiosk not on the start screen:\n" + kiosk.text()[-3000:],
    )
    return worker, kiosk


def shoot(rig) -> str:
    before = {j["job_id"] for j in rig.jobs()}
    rig.shoot()
    wait_until(lambda: len(rig.jobs()) > len(before), 30, "no ledger row after the shot")
    time.sleep(1.1)  # past the kiosk's tap debounce
    return next(j["job_id"] for j in rig.jobs() if j["job_id"] not in before)


def row(rig, job_id: str) -> dict:
    return next(j for j in rig.jobs() if j["job_id"] == job_id)


@pytest.mark.broker  # a mosquitto of its own (autosave off)
def test_a_power_cut_of_the_whole_booth_mid_burst_loses_no_guest(tmp_path):
    """Broker, worker, kiosk and share killed at once before the broker saved anything (its
    periodic save is an hour away), then started again: every job ends completed or failed
    within a minute, each result downloadable."""
    broker = Mosquitto(tmp_path / "mosquitto", extra_conf="autosave_interval 3600").start()
    gemini = FakeGemini(latency=2.0)
    rig = Rig(tmp_path, broker, gemini_url=gemini.url)
    set_keys(rig, "worker", deadline_s=8)
    try:
        booth(rig)
        for _ in range(6):
            shoot(rig)
        open_jobs = [j for j in rig.jobs() if j["status"] in ("pending", "processing")]
        for p in rig.procs:
            p.kill9()
        broker.stop(kill=True)
        assert open_jobs, "nothing was in flight at the power cut"
        broker.start()
        restarted = time.monotonic()
        booth(rig)
        wait_until(
            lambda: rig.all_final(6),
            60,
            lambda: (
                f"not all final a minute after the restart: "
                f"{[(j['status'], j['result_path']) for j in rig.jobs()]}"
            ),
        )
        assert time.monotonic() - restarted <= 60
        jobs = rig.check_nothing_lost()
        assert len(jobs) == 6 and all(j["status"] == "completed" for j in jobs)
    finally:
        rig.close()
        gemini.close()
        broker.stop(kill=True)


def test_a_frozen_worker_the_guest_leaves_the_wait_and_another_worker_finishes(ai_rig, gemini):
    set_keys(ai_rig, "worker", deadline_s=8)
    set_keys(ai_rig, "kiosk", max_wait_s=12, redispatch_s=4)
    gemini.always(Reply.image(delay=120))  # the first worker's call hangs …
    w1, kiosk = booth(ai_rig)
    job_id = shoot(ai_rig)
    wait_until(lambda: row(ai_rig, job_id)["status"] == "processing", 30)
    os.killpg(w1.pid, signal.SIGSTOP)  # … and then the worker freezes
    # no other worker: the guest's screen leaves the wait within kiosk.max_wait_s of the shot
    wait_until(
        lambda: ai_rig.kiosk_state().get("screen") == "attract",
        20,
        lambda: f"still waiting: {ai_rig.kiosk_state()}",
    )
    left = time.time() - row(ai_rig, job_id)["created_at"]
    assert left <= 12 + 1.0, left
    assert row(ai_rig, job_id)["status"] == "processing"
    # another worker: the kiosk sends the job again past the deadline, and it is finished
    gemini.always(Reply.image())
    ai_rig.worker("w2")
    wait_until(lambda: ai_rig.all_final(1), 90, lambda: f"{ai_rig.jobs()}\n{kiosk.text()[-3000:]}")
    (job,) = ai_rig.check_nothing_lost()
    assert (job["status"], job["worker"]) == ("completed", "w2")
    assert job["token"]  # its QR: the share link
    # … and it is in the recent strip, ready
    wait_until(
        lambda: ai_rig.kiosk_state().get("jobs", {}).get(job_id) == "ready",
        10,
        lambda: str(ai_rig.kiosk_state()),
    )
    assert "no final status" in kiosk.text()


def test_a_shot_before_any_worker_ever_connected_completes_soon_after_one_starts(rig):
    _none, kiosk = booth(rig, worker_id="")
    job_id = shoot(rig)
    time.sleep(1.0)
    assert row(rig, job_id)["status"] == "pending"
    started = time.time()
    rig.worker("w1")
    wait_until(lambda: rig.all_final(1), 30, lambda: kiosk.text()[-3000:])
    job = row(rig, job_id)
    assert job["status"] == "completed"
    assert job["finished_at"] - started <= 3.0, job["finished_at"] - started
