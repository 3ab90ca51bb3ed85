"""The outage breaker and the service pause (worker/breaker.py), on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from booth.protocol import AiState, ErrorKind
from worker.breaker import ServiceGuard
from worker.classify import RETRY_NO, ModelError


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def outage() -> ModelError:
    return ModelError(ErrorKind.UNAVAILABLE, "HTTP 503 UNAVAILABLE")


def refusal(ai: AiState, kind: ErrorKind = ErrorKind.UNAVAILABLE) -> ModelError:
    return ModelError(kind, f"refused: {ai.value}", retry=RETRY_NO, ai=ai)


@pytest.fixture
def made():
    changes = []
    clock = Clock()
    guard = ServiceGuard(
        breaker_failures=3,
        breaker_open_s=30,
        service_pause_s=300,
        probe_lease_s=10,
        clock=clock,
        on_change=lambda old, new: changes.append((old.ai, new.ai)),
    )
    return guard, clock, changes


def test_breaker_opens_after_consecutive_outages_then_one_probe_closes_it(made):
    guard, clock, changes = made
    for _ in range(2):
        guard.record(guard.admit(), outage())
    guard.record(guard.admit(), None)  # a success in between resets the count
    for _ in range(3):
        guard.record(guard.admit(), outage())
    assert guard.condition.ai is AiState.BREAKER_OPEN
    with pytest.raises(ModelError) as exc:
        guard.admit()
    assert exc.value.kind is ErrorKind.UNAVAILABLE and exc.value.attempts == 0
    clock.t += 31
    probe = guard.admit()
    assert probe.probe and guard.condition.ai is AiState.PROBING
    with pytest.raises(ModelError, match="another job is probing"):
        guard.admit()  # one probe at a time
    guard.record(probe, None)
    assert guard.condition.ai is AiState.OK and not guard.admit().probe
    assert changes == [
        (AiState.OK, AiState.BREAKER_OPEN),
        (AiState.BREAKER_OPEN, AiState.PROBING),
        (AiState.PROBING, AiState.OK),
    ]


def test_a_failed_probe_reopens_at_once(made):
    guard, clock, _ = made
    for _ in range(3):
        guard.record(guard.admit(), outage())
    clock.t += 31
    probe = guard.admit()
    guard.record(probe, outage())
    assert guard.condition.ai is AiState.BREAKER_OPEN
    assert guard.condition.until == pytest.approx(clock.t + 30)


def test_a_probe_that_never_reports_back_frees_the_slot_after_its_lease(made):
    guard, clock, _ = made
    for _ in range(3):
        guard.record(guard.admit(), outage())
    clock.t += 31
    assert guard.admit().probe  # its job thread dies without a word
    clock.t += 11
    assert guard.admit().probe


@pytest.mark.parametrize(
    "ai",
    [
        AiState.KEY_REJECTED,
        AiState.MODEL_NOT_FOUND,
        AiState.REGION_UNSUPPORTED,
        AiState.BILLING_REQUIRED,
        AiState.SERVICE_DISABLED,
        AiState.PERMISSION_DENIED,
    ],
)
def test_a_service_refusal_pauses_every_call_on_the_first_answer(made, ai):
    guard, clock, _ = made
    guard.record(guard.admit(), refusal(ai))
    assert guard.condition.ai is ai and guard.condition.until == pytest.approx(clock.t + 300)
    with pytest.raises(ModelError) as exc:
        guard.admit()
    assert exc.value.kind is ErrorKind.UNAVAILABLE and ai.value in exc.value.detail
    clock.t += 301
    probe = guard.admit()
    guard.record(probe, refusal(ai))  # still refused: another pause
    assert guard.condition.ai is ai and guard.condition.until == pytest.approx(clock.t + 300)


def test_a_probe_of_a_refusal_that_meets_a_hiccup_lets_calls_resume(made):
    guard, clock, _ = made
    guard.record(guard.admit(), refusal(AiState.KEY_REJECTED))
    clock.t += 301
    probe = guard.admit()
    guard.record(probe, outage())  # a 500: says nothing about the key
    assert guard.condition.ai is AiState.OK
    assert not guard.admit().probe


def test_a_used_up_quota_refuses_with_the_quota_kind(made):
    guard, clock, _ = made
    guard.record(guard.admit(), refusal(AiState.QUOTA_EXHAUSTED, ErrorKind.QUOTA))
    with pytest.raises(ModelError) as exc:
        guard.admit()
    assert exc.value.kind is ErrorKind.QUOTA


def test_a_refusal_without_a_clear_reason_is_shown_but_pauses_nothing(made):
    guard, clock, _ = made
    guard.record(guard.admit(), refusal(AiState.REQUEST_REFUSED))
    assert guard.condition.ai is AiState.REQUEST_REFUSED and guard.condition.until is None
    ticket = guard.admit()
    assert not ticket.probe
    guard.record(ticket, None)
    assert guard.condition.ai is AiState.OK


def test_an_answer_without_a_picture_means_the_service_is_up(made):
    guard, clock, _ = made
    for _ in range(2):
        guard.record(guard.admit(), outage())
    guard.record(guard.admit(), ModelError(ErrorKind.SAFETY, "IMAGE_SAFETY"))
    guard.record(guard.admit(), outage())
    assert guard.condition.ai is AiState.OK  # the count started again


def test_threads_share_one_breaker(made):
    guard, clock, _ = made
    barrier = threading.Barrier(6)

    def job():
        ticket = guard.admit()
        barrier.wait(5)
        guard.record(ticket, outage())

    threads = [threading.Thread(target=job) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert guard.condition.ai is AiState.BREAKER_OPEN
