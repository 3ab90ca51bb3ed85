"""Classification by meaning and the retry rules, without a broker.

Error bodies are the real API's (tests/support/fake_gemini.py REAL_ERRORS, copied from public
reports), turned into exceptions by the real SDK's own error classes; answers are parsed by the
real SDK's types.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from google.genai import errors, types

from booth.protocol import AiState, ErrorKind
from tests.support.fake_gemini import REAL_ERRORS
from worker.breaker import ServiceGuard
from worker.classify import (
    RETRY_NO,
    RETRY_ONCE,
    RETRY_TRANSIENT,
    ModelError,
    classify_exception,
    final_image,
    parse_duration,
)
from worker.retry import Backoff, RateGate, call_with_retries


def api_error(code: int, status: str, message: str = "x", details=None):
    body = {"error": {"code": code, "status": status, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    cls = errors.ServerError if code >= 500 else errors.ClientError
    return cls(code, body)


def real(name: str) -> ModelError:
    code, body = REAL_ERRORS[name]
    cls = errors.ServerError if code >= 500 else errors.ClientError
    return classify_exception(cls(code, body))


@pytest.mark.parametrize(
    "value,expected",
    [
        ("27s", 27.0),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        (3, 3.0),
        ({"seconds": 2, "nanos": 500000000}, 2.5),
        ("soon", None),
        (None, None),
        (-1, None),
    ],
)
def test_parse_duration(value, expected):
    assert parse_duration(value) == expected


# (real body, guest's kind, retry rule, operator's AI state)
VERDICTS = [
    ("key_invalid", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.KEY_REJECTED),
    ("key_expired", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.KEY_REJECTED),
    ("key_leaked", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.KEY_REJECTED),
    ("permission_denied", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.PERMISSION_DENIED),
    ("service_disabled", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.SERVICE_DISABLED),
    ("model_not_found", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.MODEL_NOT_FOUND),
    ("location_unsupported", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.REGION_UNSUPPORTED),
    ("image_country", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.REGION_UNSUPPORTED),
    ("billing_required", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.BILLING_REQUIRED),
    ("location_billing", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.BILLING_REQUIRED),
    ("unable_to_process", ErrorKind.UNAVAILABLE, RETRY_ONCE, None),
    ("invalid_argument", ErrorKind.UNAVAILABLE, RETRY_NO, AiState.REQUEST_REFUSED),
    ("rate_per_minute", ErrorKind.RATE_LIMITED, RETRY_TRANSIENT, None),
    ("quota_daily", ErrorKind.QUOTA, RETRY_NO, AiState.QUOTA_EXHAUSTED),
    ("quota_limit_zero", ErrorKind.QUOTA, RETRY_NO, AiState.QUOTA_EXHAUSTED),
    ("quota_bare", ErrorKind.QUOTA, RETRY_NO, AiState.QUOTA_EXHAUSTED),
    ("overloaded", ErrorKind.UNAVAILABLE, RETRY_TRANSIENT, None),
    ("internal", ErrorKind.UNAVAILABLE, RETRY_TRANSIENT, None),
    ("deadline", ErrorKind.TIMEOUT, RETRY_TRANSIENT, None),
]


def test_a_free_tier_limit_of_0_is_read_from_the_whole_message():
    """The free tier's "limit: 0" comes late in a long message (past what the log keeps), and
    may come without the quotaValue detail: it is still a quota, not a short rate limit."""
    code, body = REAL_ERRORS["quota_limit_zero"]
    error = dict(body["error"])
    assert error["message"].find("limit: 0") > 300
    error["details"] = [
        d for d in error.get("details", []) if "QuotaFailure" not in str(d.get("@type", ""))
    ]
    err = classify_exception(errors.ClientError(code, {"error": error}))
    assert err.kind is ErrorKind.QUOTA and err.ai is AiState.QUOTA_EXHAUSTED, err


def test_another_failed_precondition_is_not_called_a_region_block():
    err = classify_exception(api_error(400, "FAILED_PRECONDITION", "Precondition check failed."))
    assert err.ai is not AiState.REGION_UNSUPPORTED and err.ai is not AiState.BILLING_REQUIRED


def test_every_real_body_has_a_verdict():
    assert {v[0] for v in VERDICTS} == set(REAL_ERRORS)


@pytest.mark.parametrize("name,kind,retry,ai", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_real_error_bodies_are_classified_by_meaning(name, kind, retry, ai):
    err = real(name)
    assert (err.kind, err.retry, err.ai) == (kind, retry, ai), err.detail
    assert err.kind is not ErrorKind.BAD_INPUT  # the service never decides a photo is bad
    assert err.outage == (retry == RETRY_TRANSIENT and kind is not ErrorKind.RATE_LIMITED)


def test_rate_limit_keeps_its_delay_and_quota_keeps_the_one_it_was_given():
    assert real("rate_per_minute").retry_after_s == 2
    assert real("quota_daily").retry_after_s == 31  # per day wins over RetryInfo
    assert real("quota_bare").retry_after_s is None


def test_quota_forms_told_apart_from_the_body_not_the_code():
    # "exceeded your current quota" with a per-minute violation and a delay: a rate limit
    per_minute = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
    ]
    err = classify_exception(
        api_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota", per_minute)
    )
    assert (err.kind, err.retry_after_s) == (ErrorKind.RATE_LIMITED, 7)
    # the classic bare 429 of a per-minute limit
    err = classify_exception(
        api_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
    )
    assert err.kind is ErrorKind.RATE_LIMITED and err.retry == RETRY_TRANSIENT
    # a quotaValue of "0" is no allowance at all, whatever the id says
    zero = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel", "quotaValue": "0"}
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
    ]
    assert (
        classify_exception(api_error(429, "RESOURCE_EXHAUSTED", "x", zero)).ai
        is AiState.QUOTA_EXHAUSTED
    )


def test_other_codes_and_transport_errors():
    import httpx2

    assert classify_exception(api_error(401, "UNAUTHENTICATED")).ai is AiState.KEY_REJECTED
    assert classify_exception(api_error(502, "UNAVAILABLE", "<html>bad gateway</html>")).outage
    assert classify_exception(api_error(511, "", "<html>captive portal</html>")).outage
    assert classify_exception(httpx2.ReadTimeout("t")).kind is ErrorKind.TIMEOUT
    assert classify_exception(TimeoutError()).kind is ErrorKind.TIMEOUT
    assert classify_exception(httpx2.ConnectError("refused")).outage
    assert classify_exception(ValueError("Expecting value")).outage
    assert classify_exception(RuntimeError("?")).kind is ErrorKind.INTERNAL


# ------------------------------------------------------------------------- answers


def answer(parts, finish="STOP", ratings=None):
    return types.GenerateContentResponse(
        candidates=[
            types.Candidate(
                content=types.Content(role="model", parts=parts),
                finish_reason=finish,
                safety_ratings=ratings,
            )
        ]
    )


DRAFT = types.Part(inline_data=types.Blob(data=b"draft", mime_type="image/png"), thought=True)
FINAL = types.Part(
    inline_data=types.Blob(data=b"final", mime_type="image/jpeg"), thought_signature=b"sig"
)


def test_only_a_final_non_thought_image_is_an_answer():
    thought_text = types.Part(text="planning", thought=True)
    assert final_image(answer([thought_text, DRAFT, types.Part(text="here"), FINAL])) == (
        b"final",
        "image/jpeg",
    )
    with pytest.raises(ModelError) as exc:
        final_image(answer([DRAFT]))  # drafts only: never a guest's picture
    assert exc.value.kind is ErrorKind.NO_IMAGE and exc.value.retry == RETRY_ONCE


@pytest.mark.parametrize(
    "finish", ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "SAFETY", "IMAGE_RECITATION"]
)
def test_any_safety_signal_means_no_picture_even_with_one_attached(finish):
    for parts in ([DRAFT], [DRAFT, FINAL], [FINAL]):
        with pytest.raises(ModelError) as exc:
            final_image(answer(parts, finish))
        assert exc.value.kind is ErrorKind.SAFETY and exc.value.retry == RETRY_NO


def test_a_rating_marked_blocked_or_a_blocked_prompt_means_no_picture():
    rating = types.SafetyRating(category="HARM_CATEGORY_SEXUALLY_EXPLICIT", blocked=True)
    with pytest.raises(ModelError) as exc:
        final_image(answer([FINAL], "STOP", [rating]))
    assert exc.value.kind is ErrorKind.SAFETY
    blocked = types.GenerateContentResponse(
        prompt_feedback=types.GenerateContentResponsePromptFeedback(block_reason="OTHER")
    )
    with pytest.raises(ModelError) as exc:
        final_image(blocked)
    assert exc.value.kind is ErrorKind.SAFETY


@pytest.mark.parametrize("finish", ["IMAGE_OTHER", "NO_IMAGE", "STOP", "MAX_TOKENS"])
def test_no_picture_is_worth_one_more_try(finish):
    with pytest.raises(ModelError) as exc:
        final_image(answer([types.Part(text="Sure! Here is your image:")], finish))
    assert exc.value.kind is ErrorKind.NO_IMAGE and exc.value.retry == RETRY_ONCE


# ------------------------------------------------------------------------- retries


def test_retries_stop_on_final_errors_and_count_attempts():
    calls = []

    def fn(remaining):
        calls.append(remaining)
        if len(calls) < 3:
            raise ModelError(ErrorKind.UNAVAILABLE, "503")
        return "ok"

    value, attempts = call_with_retries(
        fn, time.monotonic() + 30, RateGate(), Backoff(0.01, 0.02), random.Random(1)
    )
    assert (value, attempts) == ("ok", 3)

    def safety(remaining):
        raise ModelError(ErrorKind.SAFETY, "blocked")

    with pytest.raises(ModelError) as exc:
        call_with_retries(safety, time.monotonic() + 30, RateGate())
    assert exc.value.kind is ErrorKind.SAFETY and exc.value.attempts == 1


def test_retry_once_means_two_calls_at_most():
    calls = []

    def fn(remaining):
        calls.append(1)
        raise ModelError(ErrorKind.NO_IMAGE, "IMAGE_OTHER", retry=RETRY_ONCE)

    with pytest.raises(ModelError) as exc:
        call_with_retries(fn, time.monotonic() + 30, RateGate(), Backoff(0.01, 0.02))
    assert len(calls) == 2 and exc.value.attempts == 2


def test_transient_errors_give_up_before_the_deadline_with_their_kind():
    def fn(remaining):
        raise ModelError(ErrorKind.UNAVAILABLE, "503")

    t0 = time.monotonic()
    with pytest.raises(ModelError) as exc:
        call_with_retries(fn, t0 + 2.0, RateGate(), Backoff(0.05, 0.1))
    assert exc.value.kind is ErrorKind.UNAVAILABLE and time.monotonic() - t0 < 2.0


def test_no_call_is_started_without_time_for_it():
    with pytest.raises(ModelError) as exc:
        call_with_retries(lambda r: "never", time.monotonic() + 0.2, RateGate())
    assert exc.value.kind is ErrorKind.TIMEOUT and exc.value.attempts == 0


def test_rate_gate_pause_longer_than_the_deadline_gives_up_at_once():
    gate = RateGate()
    gate.pause(60)
    t0 = time.monotonic()
    with pytest.raises(ModelError) as exc:
        call_with_retries(lambda r: "never", time.monotonic() + 5, gate)
    assert exc.value.kind is ErrorKind.RATE_LIMITED and exc.value.retry_after_s > 50
    assert time.monotonic() - t0 < 4  # did not sit out a pause it could never finish


def test_rate_gate_holds_every_thread():
    gate = RateGate()
    gate.pause(0.5)
    passed = []
    threads = [
        threading.Thread(
            target=lambda: passed.append((gate.wait(time.monotonic() + 10), time.monotonic()))
        )
        for _ in range(3)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(passed) == 3 and all(ok and at - t0 >= 0.45 for ok, at in passed)


def test_backoff_full_jitter_bounds():
    rng = random.Random(3)
    b = Backoff(0.5, 8.0)
    for attempt in range(1, 10):
        for _ in range(50):
            assert 0 <= b.delay(attempt, rng) <= min(8.0, 0.5 * 2 ** (attempt - 1))


def test_a_refused_call_ends_the_job_with_the_last_real_error():
    guard = ServiceGuard(breaker_failures=2, breaker_open_s=60, service_pause_s=60, probe_lease_s=5)
    calls = []

    def fn(remaining):
        calls.append(1)
        raise ModelError(ErrorKind.UNAVAILABLE, "HTTP 503")

    with pytest.raises(ModelError) as exc:
        call_with_retries(fn, time.monotonic() + 30, RateGate(), Backoff(0.01, 0.02), guard=guard)
    assert len(calls) == 2 and exc.value.detail == "HTTP 503" and exc.value.attempts == 2
    with pytest.raises(ModelError) as exc:  # the next job: no call at all
        call_with_retries(fn, time.monotonic() + 30, RateGate(), guard=guard)
    assert len(calls) == 2 and exc.value.attempts == 0
    assert exc.value.kind is ErrorKind.UNAVAILABLE and "breaker_open" in exc.value.detail


def test_fake_server_refuses_unknown_keys_like_google():
    from google import genai

    from tests.support.fake_gemini import FakeGemini

    with FakeGemini(api_keys={"good-key"}, models={"gemini-2.5-flash-image"}) as fake:

        def client(key):
            return genai.Client(
                api_key=key,
                http_options=types.HttpOptions(
                    base_url=fake.url, api_version="v1beta", timeout=5000
                ),
            )

        bad, good = client("bad-key"), client("good-key")  # kept: a dropped Client closes
        with pytest.raises(errors.ClientError) as exc:
            bad.models.generate_content(model="gemini-2.5-flash-image", contents=["hi"])
        assert classify_exception(exc.value).ai is AiState.KEY_REJECTED
        assert (
            good.models.get(model="gemini-2.5-flash-image").name == "models/gemini-2.5-flash-image"
        )
        with pytest.raises(errors.ClientError) as exc:
            good.models.get(model="nope")
        assert exc.value.code == 404
        assert fake.requests == []
