"""Classification and retry rules without a broker: SDK errors built by the real SDK classes."""

from __future__ import annotations

import random
import threading
import time

import pytest
from google.genai import errors

from booth.protocol import ErrorKind
from worker.classify import ModelError, classify_exception, parse_duration
from worker.retry import Backoff, RateGate, call_with_retries


def api_error(code: int, status: str, message: str = "x", details=None):
    body = {"error": {"code": code, "status": status, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    cls = errors.ServerError if code >= 500 else errors.ClientError
    return cls(code, body)


@pytest.mark.parametrize("value,expected", [("27s", 27.0), ("1.5s", 1.5), ("250ms", 0.25),
                                            (3, 3.0), ({"seconds": 2, "nanos": 500000000}, 2.5),
                                            ("soon", None), (None, None), (-1, None)])
def test_parse_duration(value, expected):
    assert parse_duration(value) == expected


def test_quota_per_day_wins_over_retry_info():
    details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
               {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "40s"}]
    err = classify_exception(api_error(429, "RESOURCE_EXHAUSTED", details=details))
    assert err.kind is ErrorKind.QUOTA and err.retry_after_s == 40


def test_per_minute_with_retry_delay_is_rate_limited():
    details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}]},
               {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    err = classify_exception(api_error(429, "RESOURCE_EXHAUSTED", details=details))
    assert err.kind is ErrorKind.RATE_LIMITED and err.retry_after_s == 7


@pytest.mark.parametrize("code,status,message,kind", [
    (429, "RESOURCE_EXHAUSTED", "slow down", ErrorKind.RATE_LIMITED),
    (500, "INTERNAL", "boom", ErrorKind.UNAVAILABLE),
    (503, "UNAVAILABLE", "overloaded", ErrorKind.UNAVAILABLE),
    (504, "DEADLINE_EXCEEDED", "late", ErrorKind.TIMEOUT),
    (400, "INVALID_ARGUMENT", "bad image", ErrorKind.BAD_INPUT),
    (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
     ErrorKind.INTERNAL),
    (403, "PERMISSION_DENIED", "no", ErrorKind.INTERNAL),
    (404, "NOT_FOUND", "models/x is not found", ErrorKind.INTERNAL),
])
def test_api_error_kinds(code, status, message, kind):
    assert classify_exception(api_error(code, status, message)).kind is kind


def test_transport_errors():
    import httpx2

    assert classify_exception(httpx2.ReadTimeout("t")).kind is ErrorKind.TIMEOUT
    assert classify_exception(httpx2.ConnectError("refused")).kind is ErrorKind.UNAVAILABLE
    assert classify_exception(ValueError("Expecting value")).kind is ErrorKind.UNAVAILABLE
    assert classify_exception(RuntimeError("?")).kind is ErrorKind.INTERNAL


def test_retries_stop_on_non_transient_and_count_attempts():
    calls = []

    def fn(remaining):
        calls.append(remaining)
        if len(calls) < 3:
            raise ModelError(ErrorKind.UNAVAILABLE, "503")
        return "ok"

    value, attempts = call_with_retries(fn, time.monotonic() + 30, RateGate(),
                                        Backoff(0.01, 0.02), random.Random(1))
    assert (value, attempts) == ("ok", 3)

    def safety(remaining):
        raise ModelError(ErrorKind.SAFETY, "blocked")

    with pytest.raises(ModelError) as exc:
        call_with_retries(safety, time.monotonic() + 30, RateGate())
    assert exc.value.kind is ErrorKind.SAFETY


def test_transient_errors_give_up_at_the_deadline_with_their_kind():
    def fn(remaining):
        raise ModelError(ErrorKind.UNAVAILABLE, "503")

    with pytest.raises(ModelError) as exc:
        call_with_retries(fn, time.monotonic() + 0.5, RateGate(), Backoff(0.05, 0.1))
    assert exc.value.kind is ErrorKind.UNAVAILABLE


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
    threads = [threading.Thread(target=lambda: passed.append((gate.wait(time.monotonic() + 10),
                                                              time.monotonic())))
               for _ in range(3)]
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


def test_fake_server_refuses_unknown_keys_like_google():
    from google import genai
    from google.genai import types

    from tests.support.fake_gemini import FakeGemini

    with FakeGemini(api_keys={"good-key"}, models={"gemini-2.5-flash-image"}) as fake:
        def client(key):
            return genai.Client(api_key=key, http_options=types.HttpOptions(
                base_url=fake.url, api_version="v1beta", timeout=5000))
        bad, good = client("bad-key"), client("good-key")   # kept: a dropped Client closes
        with pytest.raises(errors.ClientError) as exc:
            bad.models.generate_content(model="gemini-2.5-flash-image", contents=["hi"])
        assert classify_exception(exc.value).kind is ErrorKind.INTERNAL
        assert good.models.get(model="gemini-2.5-flash-image").name \
            == "models/gemini-2.5-flash-image"
        with pytest.raises(errors.ClientError) as exc:
            good.models.get(model="nope")
        assert exc.value.code == 404
        assert fake.requests == []


def test_first_image_skips_thought_drafts_and_reads_finish_reasons():
    from google.genai import types

    from worker.classify import first_image

    def resp(parts, finish="STOP"):
        return types.GenerateContentResponse(candidates=[types.Candidate(
            content=types.Content(role="model", parts=parts), finish_reason=finish)])

    draft = types.Part(inline_data=types.Blob(data=b"draft", mime_type="image/png"), thought=True)
    final = types.Part(inline_data=types.Blob(data=b"final", mime_type="image/jpeg"))
    assert first_image(resp([types.Part(text="here"), draft, final])) == (b"final", "image/jpeg")
    assert first_image(resp([draft])) == (b"draft", "image/png")
    with pytest.raises(ModelError) as exc:
        first_image(resp([types.Part(text="no")], "IMAGE_PROHIBITED_CONTENT"))
    assert exc.value.kind is ErrorKind.SAFETY
    with pytest.raises(ModelError) as exc:
        first_image(resp([types.Part(text="no")], "NO_IMAGE"))
    assert exc.value.kind is ErrorKind.NO_IMAGE
    blocked = types.GenerateContentResponse(
        prompt_feedback=types.GenerateContentResponsePromptFeedback(block_reason="OTHER"))
    with pytest.raises(ModelError) as exc:
        first_image(blocked)
    assert exc.value.kind is ErrorKind.SAFETY
