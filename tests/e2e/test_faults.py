"""Fault suite: the whole booth as real processes, and something goes wrong.

Each test ends with `check_nothing_lost`: every job completed (result on disk and downloadable
from the share server) or failed with a reason, and no half-written file in the store.
"""

from __future__ import annotations

import json
import random
import time

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk.ui.app import SHOT_DEBOUNCE_S
from kiosk.ui.machine import NO_NEW_SHOT
from tests.e2e.rig import http_get, wait_until
from tests.support.fake_gemini import Reply

BUSY_SCREENS = {str(s) for s in NO_NEW_SHOT}  # where a tap starts no shot


def shoot_and_wait_row(rig, n_before: int, timeout: float = 30) -> None:
    """One shot through the kiosk's tap path, once a tap can start one (its camera live again
    after the last still, no countdown running: a tap before is ignored, as a guest's would be);
    wait for its ledger row."""

    def ready() -> bool:
        state = rig.kiosk_state()
        return state.get("camera") == "live" and state.get("screen") not in BUSY_SCREENS

    wait_until(ready, timeout, lambda: f"the kiosk takes no shot: {rig.kiosk_state()}")
    rig.shoot()
    wait_until(
        lambda: len(rig.jobs()) > n_before,
        timeout,
        lambda: "no ledger row after the shot:\n" + rig.procs[-1].text()[-3000:],
    )


def start_booth(rig, worker_id: str = "w1"):
    rig.share()
    w = rig.worker(worker_id)
    # only the test's shots: the headless kiosk's own shot every 10 s would add a job at a moment
    # that depends on the machine's speed (on a busy machine it landed among the error cases)
    k = rig.kiosk("--interval", "100000")
    wait_until(
        lambda: rig.kiosk_state().get("screen") == "attract",
        60,
        lambda: "kiosk not on the start screen:\n" + k.text()[-3000:],
    )
    return w, k


def test_worker_killed_mid_job_the_job_still_completes(ai_rig, gemini):
    gemini.always(Reply.image(delay=4.0))  # a slow model: the worker is mid-call
    worker, kiosk = start_booth(ai_rig)
    shoot_and_wait_row(ai_rig, 0)
    wait_until(lambda: len(gemini.requests) >= 1, 30, "the model was never called")
    worker.kill9()
    assert ai_rig.jobs()[0]["status"] in ("pending", "processing")
    gemini.always(Reply.image())
    ai_rig.worker("w1")  # same id: same persistent session, the unacked job comes back
    wait_until(
        lambda: ai_rig.all_final(1),
        90,
        lambda: "job not finished:\n" + ai_rig.procs[-1].text()[-3000:],
    )
    (job,) = ai_rig.check_nothing_lost()
    assert job["status"] == "completed" and job["effect"] == "gemini"
    assert kiosk.alive()


def test_broker_restart_with_jobs_queued_and_in_flight(ai_rig, gemini, broker):
    # a model slower than the five shots take (each past the kiosk's tap debounce): the first two
    # are still at the worker when the last is shot
    gemini.latency = 5 * (SHOT_DEBOUNCE_S + 0.2) + 1
    start_booth(ai_rig)
    for i in range(5):
        shoot_and_wait_row(ai_rig, i)
        time.sleep(SHOT_DEBOUNCE_S + 0.2)  # past the kiosk's tap debounce
    # two in flight at the worker (concurrency 2), the rest queued at the broker
    broker.restart(down_s=1.0)
    wait_until(
        lambda: ai_rig.all_final(5),
        150,
        lambda: f"not all final: {[j['status'] for j in ai_rig.jobs()]}",
    )
    jobs = ai_rig.check_nothing_lost()
    assert len(jobs) == 5
    assert all(j["status"] == "completed" for j in jobs), [j["error_json"] for j in jobs]


def test_kiosk_killed_between_capture_and_publish(rig):
    rig.share()
    rig.worker("w1")
    crash_env = dict(rig.env, BOOTH_KIOSK_CRASH_AT="after_ledger")
    first = rig.kiosk(env=crash_env, name="kiosk-crash")
    wait_until(lambda: rig.kiosk_state().get("screen") == "attract", 60, first.text)
    rig.shoot()
    wait_until(lambda: not first.alive(), 60, "the crash point was not reached")
    (row,) = rig.jobs()
    assert row["status"] == "pending" and row["sent_at"] is None
    assert (rig.data / row["original_path"]).is_file() and (rig.data / row["ai_path"]).is_file()
    second = rig.kiosk(name="kiosk-restarted")
    wait_until(lambda: rig.all_final(1), 90, second.text)
    (job,) = rig.check_nothing_lost()
    assert job["status"] == "completed" and job["effect"] == "local"
    assert "not acknowledged before the last shutdown" in second.text()


def test_full_disk_during_capture(rig, small_disk):
    rig.data = small_disk / "data"
    rig.data.mkdir()
    env = dict(rig.env, BOOTH_DATA_DIR=str(rig.data))
    share = rig.spawn("share", "share", env=env)
    rig.spawn("worker-w1", "worker", "--id", "w1", env=env)
    kiosk = rig.kiosk(env=env)
    wait_until(lambda: rig.kiosk_state().get("screen") == "attract", 60, kiosk.text)
    shoot_and_wait_row(rig, 0)
    wait_until(lambda: rig.all_final(1), 60, kiosk.text)
    # fill the disk to the last few KB
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    time.sleep(0.6)
    rig.shoot()
    wait_until(
        lambda: rig.kiosk_state().get("screen") == "error",
        30,
        lambda: f"no error screen: {rig.kiosk_state()}\n{kiosk.text()[-2000:]}",
    )
    state = rig.kiosk_state()
    assert state.get("kind") == "storage", state
    assert "failed (storage)" in kiosk.text()  # the log names the disk, not a camera fault
    assert kiosk.alive()
    assert not list(rig.data.rglob("*.tmp")), "a half-written file was left behind"
    assert len(rig.jobs()) == 1  # no row for a shot that could not be saved
    # the share server goes on serving the guest who came before, its clip maker waiting
    (first,) = rig.jobs()
    photo = http_get(f"http://127.0.0.1:{rig.share_port}/p/{first['token']}/photo.jpg")
    assert photo == (rig.data / first["result_path"]).read_bytes()
    assert share.alive(), share.text()[-3000:]
    # free the space: capture works again
    filler.unlink()
    wait_until(lambda: rig.kiosk_state().get("screen") in ("attract", "error"), 10)
    rig.shoot()
    time.sleep(0.3)
    if rig.kiosk_state().get("screen") == "error":  # the first tap leaves the error screen
        time.sleep(0.6)
        rig.shoot()
    wait_until(lambda: rig.all_final(2), 60, lambda: f"{rig.jobs()}\n{kiosk.text()[-3000:]}")
    jobs = rig.check_nothing_lost()
    assert [j["status"] for j in jobs] == ["completed", "completed"]


# (reply, expected final status, expected effect, expected error kind)
ERROR_CASES = [
    (Reply.quota(retry_delay="1s"), "completed", "local", "quota"),  # (its pause kept short)
    (Reply.prompt_blocked(), "completed", "local", "safety"),
    (Reply.finish("IMAGE_SAFETY"), "completed", "local", "safety"),
    (Reply.text_only(), "completed", "local", "no_image"),
    # the service's configuration is never the guest's fault: the local picture at once
    (Reply.real("key_invalid"), "completed", "local", "unavailable"),
]


def test_the_model_answering_every_error_kind(ai_rig, gemini):
    # a used-up quota and a refused key pause model calls (worker.service_pause_s): keep the
    # pause short so that each case below reaches the model
    ai_rig.config.write_text(
        ai_rig.config.read_text().replace("[worker]\n", "[worker]\nservice_pause_s = 1\n")
    )
    start_booth(ai_rig)
    for i, (reply, *_rest) in enumerate(ERROR_CASES):
        gemini.always(reply)
        shoot_and_wait_row(ai_rig, i)
        wait_until(
            lambda i=i: ai_rig.all_final(i + 1),
            60,
            lambda: f"{ai_rig.jobs()[-1]}\n{ai_rig.procs[-2].text()[-3000:]}",
        )
        time.sleep(1.1)
    # transient errors then success: 500, 503, a rate limit, malformed JSON → still gemini
    # (never three outage answers in a row: that would open the breaker)
    gemini.always(Reply.image())
    gemini.script(Reply.error(500), Reply.error(503), Reply.rate_limited("1s"), Reply.malformed())
    shoot_and_wait_row(ai_rig, len(ERROR_CASES))
    wait_until(lambda: ai_rig.all_final(len(ERROR_CASES) + 1), 90)
    jobs = ai_rig.check_nothing_lost()
    for job, (_reply, status, effect, kind) in zip(jobs, ERROR_CASES):
        err = json.loads(job["error_json"]) if job["error_json"] else None
        assert err is not None and err["kind"] == kind, (kind, job)
        if status:
            assert (job["status"], job["effect"]) == (status, effect), job
    last = jobs[-1]
    assert (last["status"], last["effect"]) == ("completed", "gemini"), last


def test_rogue_client_with_200_malformed_messages(rig, broker):
    worker, kiosk = start_booth(rig)
    shoot_and_wait_row(rig, 0)
    wait_until(lambda: rig.all_final(1), 60)
    real_job = rig.jobs()[0]["job_id"]
    rogue = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="rogue", protocol=paho.MQTTv5)
    rogue.connect("127.0.0.1", broker.port)
    rogue.loop_start()
    rnd = random.Random(7)
    topics = [
        "booth/e2e/jobs",
        f"booth/e2e/status/{real_job}",
        "booth/e2e/status/abcdefgh1234",
        "booth/e2e/status/bad id!",
        f"booth/e2e/results/{real_job}",
        "booth/e2e/results/abcdefgh1234",
        "booth/workers/evil/availability",
        "booth/e2e/availability",
        "booth/e2e/status/" + "x" * 70,
    ]
    payloads = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'{"job_id": 1}',
        b"\xff\xd8\xff\xe0garbage",
        json.dumps(
            {
                "job_id": real_job,
                "booth_id": "e2e",
                "status": "processing",
                "effect": None,
                "attempt": 1,
                "worker": None,
                "error": None,
                "updated_at": "2026-01-01T00:00:00Z",
            }
        ).encode(),
        json.dumps({"job_id": real_job, "status": "failed"}).encode(),
        bytes(rnd.getrandbits(8) for _ in range(2000)),
        b"maybe",
    ]
    infos = []
    for i in range(200):
        props = None
        if i % 3 == 0:
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = [
                ("job_id", rnd.choice(["", "../../x", real_job, "a" * 100])),
                ("style", rnd.choice(["drip", "", "; rm -rf"])),
            ]
            props.ContentType = rnd.choice(["image/jpeg", "text/html"])
        infos.append(
            rogue.publish(
                topics[i % len(topics)],
                payloads[i % len(payloads)],
                qos=1,
                retain=(i % 7 == 0 and "jobs" not in topics[i % len(topics)]),
                properties=props,
            )
        )
    for info in infos:
        info.wait_for_publish(10)  # (returns on its timeout too: checked below)
    assert all(info.is_published() for info in infos), "the broker did not take every message"
    rogue.disconnect()
    rogue.loop_stop()
    time.sleep(2)
    assert worker.alive() and kiosk.alive()
    # the first job did not move backwards
    assert rig.jobs()[0]["status"] == "completed"
    # both sides keep working
    time.sleep(0.6)
    shoot_and_wait_row(rig, len(rig.jobs()))
    wait_until(
        lambda: (
            rig.all_final(2) and len([j for j in rig.jobs() if j["status"] == "completed"]) >= 2
        ),
        90,
        lambda: f"{rig.jobs()}\n{worker.text()[-3000:]}",
    )
    rig.check_nothing_lost()
    assert "Traceback" not in worker.text() and "Traceback" not in kiosk.text()
    assert "ignored a malformed message" in kiosk.text()
    assert " rejected" in worker.text()  # the malformed jobs reached the worker and were refused
