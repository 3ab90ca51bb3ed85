"""Every error kind, produced by the fake Gemini server, with and without the local fallback."""

from __future__ import annotations

import logging

import pytest

from booth.protocol import GUEST_MESSAGES, Effect, ErrorKind, JobStatus
from tests.support.fake_gemini import Reply
from tests.worker.helpers import decode, portrait_bytes

# (case id, replies scripted, default reply, kind, falls back to local?, min requests, max requests)
CASES = [
    ("quota", [Reply.quota()], None, ErrorKind.QUOTA, True, 1, 1),
    ("rate-limited-past-deadline", [], Reply.rate_limited("30s"), ErrorKind.RATE_LIMITED, True, 1,
     1),
    ("prompt-blocked", [Reply.prompt_blocked("PROHIBITED_CONTENT")], None, ErrorKind.SAFETY,
     True, 1, 1),
    ("image-safety", [Reply.finish("IMAGE_SAFETY")], None, ErrorKind.SAFETY, True, 1, 1),
    ("text-only", [Reply.text_only()], None, ErrorKind.NO_IMAGE, True, 1, 1),
    ("slow-past-deadline", [], Reply.image(delay=20), ErrorKind.TIMEOUT, True, 1, 3),
    ("server-error", [], Reply.error(503), ErrorKind.UNAVAILABLE, True, 2, 40),
    ("malformed-json", [], Reply.malformed(), ErrorKind.UNAVAILABLE, True, 2, 40),
    ("key-rejected", [Reply.error(401)], None, ErrorKind.INTERNAL, False, 1, 1),
    ("invalid-argument", [Reply.error(400, "Unable to process input image.")], None,
     ErrorKind.BAD_INPUT, False, 1, 1),
]


@pytest.mark.parametrize("fallback", ["local", "none"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_kind(case, fallback, worker_config, start_worker, kiosk, fake, out_dir):
    name, script, default, kind, falls_back, min_req, max_req = case
    if default is not None:
        fake.always(default)
    fake.script(*script)
    cfg = worker_config("deadline_s = 3", BOOTH_FALLBACK=fallback)
    start_worker(cfg)
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=40)
    assert final is not None, f"{name}: no final status"
    assert final.error is not None and final.error.kind is kind
    assert final.error.message == GUEST_MESSAGES[kind]
    assert [s.status for s in kiosk.statuses(job)][:2] == [JobStatus.PENDING,
                                                            JobStatus.PROCESSING]
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


@pytest.mark.parametrize("fallback", ["local", "none"])
def test_rate_limit_pause_is_honoured_then_completes(fallback, worker_config, start_worker, kiosk,
                                                     fake):
    fake.script(Reply.rate_limited("2s"))
    start_worker(worker_config("deadline_s = 20", BOOTH_FALLBACK=fallback))
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=30)
    assert final.status is JobStatus.COMPLETED and final.effect is Effect.GEMINI
    assert final.attempt == 2
    first, second = fake.requests
    assert second.at - first.at >= 2.0  # the retryDelay was waited out, not hammered


def test_rate_limit_pauses_every_call_of_the_worker(worker_config, start_worker, kiosk, fake):
    fake.script(Reply.rate_limited("2s"))
    w = start_worker(worker_config("deadline_s = 20\nconcurrency = 2"))
    job1 = kiosk.send(portrait_bytes())
    assert wait_for_requests(fake, 1)
    from tests.worker.helpers import wait_until
    assert wait_until(lambda: w.gate.paused_for > 0, 10)   # the 429 has been seen
    job2 = kiosk.send(portrait_bytes())
    assert kiosk.final(job1, 30).status is JobStatus.COMPLETED
    assert kiosk.final(job2, 30).status is JobStatus.COMPLETED
    first = fake.requests[0]
    later = fake.requests[1:]
    assert len(later) == 2 and all(r.at - first.at >= 2.0 for r in later)


@pytest.mark.parametrize("fallback", ["local", "none"])
def test_500_then_success_completes_after_retries(fallback, worker_config, start_worker, kiosk,
                                                  fake):
    fake.script(Reply.error(500), Reply.error(503))
    start_worker(worker_config("deadline_s = 30", BOOTH_FALLBACK=fallback))
    job = kiosk.send(portrait_bytes())
    final = kiosk.final(job, timeout=40)
    assert final.status is JobStatus.COMPLETED and final.effect is Effect.GEMINI
    assert final.error is None and final.attempt == 3
    assert [r.answered for r in fake.requests] == ["error:500", "error:503", "image:mark"]


def test_rejected_key_is_logged_for_the_operator_without_the_key(worker_config, start_worker,
                                                                 kiosk, fake, caplog):
    fake.script(Reply.error(400, "API key not valid. Please pass a valid API key."))
    with caplog.at_level(logging.INFO):
        start_worker(worker_config())
        job = kiosk.send(portrait_bytes())
        final = kiosk.final(job)
    assert final.status is JobStatus.FAILED and final.error.kind is ErrorKind.INTERNAL
    text = caplog.text
    assert "GEMINI_API_KEY" in text and "rejected the API key" in text
    from tests.worker.conftest import API_KEY
    assert API_KEY not in text


def wait_for_requests(fake, n, timeout=10.0):
    from tests.worker.helpers import wait_until
    return wait_until(lambda: len(fake.requests) >= n, timeout)
