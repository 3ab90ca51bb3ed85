"""What the AI service does, through the real SDK against the fake Gemini server, and what the
guest and the operator get: every error kind with and without the local fallback, the service
refusals that pause model calls and raise an alert, quota versus rate limit, outages and the
breaker, time limits that hold, only final pictures, bounded answers, the deadline counted from
the shot."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from booth.config import DRIP_PROMPT
from booth.protocol import GUEST_MESSAGES, AiState, Effect, ErrorKind, JobStatus
from tests.support.fake_gemini import Reply
from tests.support.mosquitto import free_port
from tests.worker.conftest import API_KEY
from tests.worker.helpers import decode, jpeg_of, portrait_bytes, wait_until

# (case id, replies scripted, default reply, kind, falls back to local?, min requests, max requests)
CASES = [
    ("quota", [Reply.quota()], None, ErrorKind.QUOTA, True, 1, 1),
    (
        "rate-limited-past-deadline",
        [],
        Reply.rate_limited("30s"),
        ErrorKind.RATE_LIMITED,
        True,
        1,
        1,
    ),
    (
        "prompt-blocked",
        [Reply.prompt_blocked("PROHIBITED_CONTENT")],
        None,
        ErrorKind.SAFETY,
        True,
        1,
        1,
    ),
    ("image-safety", [Reply.finish("IMAGE_SAFETY")], None, ErrorKind.SAFETY, True, 1, 1),
    ("text-only-twice", [], Reply.text_only(), ErrorKind.NO_IMAGE, True, 2, 2),
    ("slow-past-deadline", [], Reply.image(delay=20), ErrorKind.TIMEOUT, True, 1, 1),
    ("server-error", [], Reply.error(503), ErrorKind.UNAVAILABLE, True, 2, 3),
    ("malformed-json", [], Reply.malformed(), ErrorKind.UNAVAILABLE, True, 2, 3),
    ("key-rejected", [Reply.real("key_invalid")], None, ErrorKind.UNAVAILABLE, True, 1, 1),
    (
        "unable-to-process-twice",
        [],
        Reply.real("unable_to_process"),
        ErrorKind.UNAVAILABLE,
        True,
        2,
        2,
    ),
]


@pytest.mark.parametrize("fallback", ["local", "none"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_kind(case, fallback, worker_config, start_worker, kiosk, fake, out_dir):
    name, script, default, kind, falls_back, min_req, max_req = case
    if default is not None:
        fake.always(default)
    fake.script(*script)
    cfg = worker_config("deadline_s = 4", BOOTH_FALLBACK=fallback)
    start_worker(cfg)
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=40)
    assert final is not None, f"{name}: no final status"
    assert final.error is not None and final.error.kind is kind
    assert final.error.message == GUEST_MESSAGES[kind]
    assert [s.status for s in kiosk.statuses(job)][:2] == [JobStatus.PENDING, JobStatus.PROCESSING]
    assert min_req <= len(fake.requests) <= max_req, [r.answered for r in fake.requests]
    assert final.attempt == len(fake.requests)  # `attempt` counts the model calls made
    if fallback == "local" and falls_back:
        assert final.status is JobStatus.COMPLETED and final.effect is Effect.LOCAL
        [(data, props)] = kiosk.results(job)
        img = decode(data)
        assert img is not None and props.ContentType == "image/jpeg"
        (out_dir / f"fallback-{name}.jpg").write_bytes(data)
    else:
        assert final.status is JobStatus.FAILED and final.effect is None
        assert kiosk.results(job) == []


# ------------------------------------------------------------------ the service's configuration

SERVICE_REFUSALS = [
    ("key_invalid", AiState.KEY_REJECTED),
    ("key_leaked", AiState.KEY_REJECTED),
    ("permission_denied", AiState.PERMISSION_DENIED),
    ("service_disabled", AiState.SERVICE_DISABLED),
    ("model_not_found", AiState.MODEL_NOT_FOUND),
    ("location_unsupported", AiState.REGION_UNSUPPORTED),
    ("image_country", AiState.REGION_UNSUPPORTED),
    ("billing_required", AiState.BILLING_REQUIRED),
]


@pytest.mark.parametrize("body,ai", SERVICE_REFUSALS, ids=[s[0] for s in SERVICE_REFUSALS])
def test_a_refusing_service_gives_the_local_picture_at_once_and_alerts_the_operator(
    body, ai, worker_config, start_worker, kiosk, fake, caplog
):
    fake.always(Reply.real(body))
    with caplog.at_level(logging.INFO):
        start_worker(worker_config("deadline_s = 30"))
        finals = []
        for _ in range(2):
            t0 = time.monotonic()
            job = kiosk.send(portrait_bytes())
            final = kiosk.final(job, timeout=10)
            assert final is not None and time.monotonic() - t0 <= 5.0
            finals.append(final)
    for final in finals:
        assert (final.status, final.effect) == (JobStatus.COMPLETED, Effect.LOCAL)
        assert final.error.kind is ErrorKind.UNAVAILABLE  # never the guest's fault
    assert len(fake.requests) == 1  # no retries, and the next guest costs no call
    health = kiosk.health("w1", lambda h: h.ai == ai.value)
    assert health is not None and health.state == "error"
    assert health.reason and health.fix and health.ai_until
    assert health.last_error["kind"] == "unavailable"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and ai.value in r.message]
    assert len(errors) == 1, [r.message for r in caplog.records]
    assert API_KEY not in caplog.text and API_KEY not in health.to_json().decode()


QUOTAS = ["quota_daily", "quota_limit_zero", "quota_bare"]


@pytest.mark.parametrize("body", QUOTAS)
def test_a_used_up_quota_pauses_calls_for_everyone(body, worker_config, start_worker, kiosk, fake):
    fake.always(Reply.real(body))
    start_worker(worker_config("deadline_s = 30\nconcurrency = 2"))
    sent = {kiosk.send(portrait_bytes()): time.monotonic() for _ in range(4)}
    for job, t0 in sent.items():
        final = kiosk.final(job, timeout=10)
        assert final is not None and time.monotonic() - t0 <= 5.0
        assert (final.status, final.effect) == (JobStatus.COMPLETED, Effect.LOCAL)
        assert final.error.kind is ErrorKind.QUOTA
    assert len(fake.requests) <= 2, [r.answered for r in fake.requests]
    health = kiosk.health("w1", lambda h: h.ai == "quota_exhausted")
    assert health is not None and health.state == "warn"


def test_a_per_minute_rate_limit_is_waited_out_then_the_ai_answers(
    worker_config, start_worker, kiosk, fake
):
    fake.script(Reply.real("rate_per_minute"))  # RetryInfo 2s
    start_worker(worker_config("deadline_s = 20"))
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=30)
    assert (final.status, final.effect, final.attempt) == (JobStatus.COMPLETED, Effect.GEMINI, 2)
    first, second = fake.requests
    assert second.at - first.at >= 2.0


@pytest.mark.parametrize(
    "first",
    [Reply.real("unable_to_process"), Reply.drafts_only("IMAGE_OTHER"), Reply.finish("NO_IMAGE")],
    ids=["unable-to-process", "image-other", "no-image"],
)
def test_answers_that_often_work_a_second_time_are_retried_once(
    first, worker_config, start_worker, kiosk, fake
):
    fake.script(first)
    start_worker(worker_config("deadline_s = 20"))
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=30)
    assert (final.status, final.effect, final.attempt) == (JobStatus.COMPLETED, Effect.GEMINI, 2)
    assert final.error is None


@pytest.mark.parametrize("fallback", ["local", "none"])
def test_500_then_success_completes_after_retries(
    fallback, worker_config, start_worker, kiosk, fake
):
    fake.script(Reply.real("internal"), Reply.real("overloaded"))
    start_worker(worker_config("deadline_s = 30", BOOTH_FALLBACK=fallback))
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=40)
    assert final.status is JobStatus.COMPLETED and final.effect is Effect.GEMINI
    assert final.error is None and final.attempt == 3
    assert [r.answered for r in fake.requests] == ["real:internal", "real:overloaded", "image:mark"]


def test_rate_limit_pauses_every_call_of_the_worker(worker_config, start_worker, kiosk, fake):
    fake.script(Reply.rate_limited("2s"))
    w = start_worker(worker_config("deadline_s = 20\nconcurrency = 2"))
    job1 = kiosk.send(portrait_bytes())
    assert wait_until(lambda: len(fake.requests) >= 1, 10)
    assert wait_until(lambda: w.gate.paused_for > 0, 10)  # the 429 has been seen
    assert kiosk.health("w1", lambda h: h.ai == "rate_limited") is not None
    job2 = kiosk.send(portrait_bytes())
    assert kiosk.final(job1, 30).status is JobStatus.COMPLETED
    assert kiosk.final(job2, 30).status is JobStatus.COMPLETED
    first = fake.requests[0]
    later = fake.requests[1:]
    assert len(later) == 2 and all(r.at - first.at >= 2.0 for r in later)


# ------------------------------------------------------------------ outages and time limits

OUTAGES = [
    ("overloaded", Reply.real("overloaded")),
    ("captive-portal", Reply.html()),
    ("invalid-json", Reply.malformed()),
    ("refused", None),
]


@pytest.mark.parametrize("name,reply", OUTAGES, ids=[o[0] for o in OUTAGES])
def test_an_outage_opens_the_breaker_and_every_guest_gets_the_local_picture_fast(
    name, reply, worker_config, start_worker, kiosk, fake
):
    env = {"GEMINI_BASE_URL": f"http://127.0.0.1:{free_port()}"} if reply is None else {}
    if reply is not None:
        fake.always(reply)
    start_worker(worker_config("deadline_s = 45", **env))
    waits = []
    for _ in range(4):
        t0 = time.monotonic()
        job = kiosk.send(portrait_bytes())
        final = kiosk.final(job, timeout=30)
        waits.append(time.monotonic() - t0)
        assert (final.status, final.effect) == (JobStatus.COMPLETED, Effect.LOCAL)
        assert final.error.kind is ErrorKind.UNAVAILABLE
        time.sleep(0.5)
    assert max(waits) < 8.0, waits
    assert sum(waits[1:]) < 3.0, waits  # after the first guest: no calls at all
    assert len(fake.requests) <= 3
    health = kiosk.health("w1", lambda h: h.ai == "breaker_open")
    assert health is not None and health.ai_until


def test_the_breaker_lets_one_probe_through_and_closes_when_the_ai_is_back(
    worker_config, start_worker, kiosk, fake
):
    fake.always(Reply.real("overloaded"))
    start_worker(worker_config("deadline_s = 20\nbreaker_failures = 2\nbreaker_open_s = 2"))
    first = kiosk.send(portrait_bytes())
    assert kiosk.final(first, 20).effect is Effect.LOCAL
    calls = len(fake.requests)
    assert calls == 2
    fake.always(Reply.image())
    time.sleep(2.2)
    probe = kiosk.send(portrait_bytes())
    final = kiosk.final(probe, 20)
    assert (final.effect, len(fake.requests)) == (Effect.GEMINI, calls + 1)
    assert kiosk.health("w1", lambda h: h.ai == "ok") is not None


def test_a_trickled_answer_cannot_outlive_the_deadline(worker_config, start_worker, kiosk, fake):
    fake.always(Reply.image().trickled(0.05))  # every read is quick, the answer never ends
    w = start_worker(worker_config("deadline_s = 6"))
    t0 = time.monotonic()
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=30)
    assert time.monotonic() - t0 <= 6 + 5
    assert (final.status, final.effect) == (JobStatus.COMPLETED, Effect.LOCAL)
    assert final.error.kind is ErrorKind.TIMEOUT
    # the abandoned call really ended: nothing piles up in the worker or at the server
    assert wait_until(lambda: w.editor.in_flight == 0 and fake.in_flight == 0, 10)


def test_the_deadline_counts_from_the_shot(worker_config, start_worker, kiosk, fake):
    start_worker(worker_config("deadline_s = 20"))
    now = datetime.now(UTC)

    def iso(dt):
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    # queued 30 s already: past its deadline, the guest gets the local picture with no call
    t0 = time.monotonic()
    old = kiosk.send(portrait_bytes(), created_at=iso(now - timedelta(seconds=30)))
    final = kiosk.final(old, 10)
    assert time.monotonic() - t0 < 3
    assert (final.effect, final.error.kind) == (Effect.LOCAL, ErrorKind.TIMEOUT)
    assert fake.requests == []
    # a kiosk clock an hour ahead or hours behind is not believed: a full deadline from now
    for skew in (timedelta(hours=1), -timedelta(hours=3)):
        job = kiosk.send(portrait_bytes(), created_at=iso(now + skew))
        assert kiosk.final(job, 20).effect is Effect.GEMINI
    assert len(fake.requests) == 2


# ------------------------------------------------------------------ only final, bounded pictures


def test_drafts_never_reach_a_guest(worker_config, start_worker, kiosk, fake):
    fake.script(Reply.drafts_only("IMAGE_SAFETY", drafts=2), Reply.image(drafts=2))
    start_worker(worker_config("deadline_s = 20"))
    blocked = kiosk.send(portrait_bytes())
    final = kiosk.final(blocked, 20)
    assert (final.effect, final.error.kind) == (Effect.LOCAL, ErrorKind.SAFETY)
    assert len(fake.requests) == 1  # a safety answer is not retried
    job = kiosk.send(portrait_bytes())
    assert kiosk.final(job, 20).effect is Effect.GEMINI
    [(data, _props)] = kiosk.results(job)
    img = decode(data)
    h, w = img.shape[:2]
    # the final picture (the fake's magenta stripe across the middle), not a draft (red cross)
    b, g, r = (int(v) for v in img[h // 2, w // 4])
    assert r > 150 and b > 150 and g < 100, (b, g, r)


def test_a_huge_answer_is_cut_off_and_the_guest_gets_the_local_picture(
    worker_config, start_worker, kiosk, fake
):
    fake.script(Reply.huge(100_000_000, chunked=True))
    start_worker(worker_config("deadline_s = 20"))
    t0 = time.monotonic()
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, 20)
    assert time.monotonic() - t0 < 5
    assert (final.effect, final.error.kind) == (Effect.LOCAL, ErrorKind.UNAVAILABLE)
    assert len(fake.requests) == 1


# A 4K JPEG decodes at a reduced scale; a PNG always decodes whole, and the decoder budget takes
# one of about 8 MP (booth/images.py): 2560x1920 is above Gemini's 2K outputs.
@pytest.mark.parametrize("mime,size", [("image/jpeg", (4096, 3072)), ("image/png", (2560, 1920))])
def test_a_big_result_is_shrunk_before_it_is_published(
    mime, size, worker_config, start_worker, kiosk, fake
):
    fake.script(Reply.image(size=size, mime=mime))
    start_worker(worker_config("deadline_s = 20\nresult_long_side = 1600"))
    job = kiosk.send(portrait_bytes())
    assert kiosk.final(job, 20).effect is Effect.GEMINI
    [(data, props)] = kiosk.results(job)
    img = decode(data)
    assert (img.shape[1], img.shape[0]) == (1600, 1200) and props.ContentType == "image/jpeg"


# ------------------------------------------------------------------ styles and the operator


def test_an_unknown_style_falls_back_visibly(worker_config, start_worker, kiosk, fake, caplog):
    cfg = worker_config(
        extra='[styles.drip]\nlabel = "Drip"\nprompt = "' + DRIP_PROMPT + '"\n'
        '[styles.gold]\nlabel = "Gold"\nprompt = "Add gold."\n'
    )
    start_worker(cfg)
    with caplog.at_level(logging.WARNING):
        unknown = kiosk.send(portrait_bytes(), style="neon")
        known = kiosk.send(portrait_bytes(), style="gold")
        assert kiosk.final(unknown, 20).style_used == "drip"
        assert kiosk.final(known, 20).style_used == "gold"
    assert sorted(r.prompt for r in fake.requests) == sorted([DRIP_PROMPT, "Add gold."])
    assert "style 'neon' is not configured on this worker" in caplog.text


def test_health_says_what_the_worker_can_do(worker_config, start_worker, kiosk, fake):
    start_worker(worker_config())
    health = kiosk.health("w1")
    assert (health.state, health.ai, health.part, health.id) == ("ok", "ok", "worker", "w1")
    assert health.jobs_in_flight == 0


def test_health_of_a_worker_without_a_key(worker_config, start_worker, kiosk):
    start_worker(worker_config(key=False), worker_id="w2")
    job = kiosk.send(jpeg_of(decode(portrait_bytes())))
    final = kiosk.final(job, 20)
    assert final.effect is Effect.LOCAL and final.error is None and final.style_used is None
    health = kiosk.health("w2")
    assert (health.state, health.ai) == ("warn", "no_key") and "GEMINI_API_KEY" in health.fix
