"""Retries inside a job's model budget: backoff with full jitter, a rate-limit gate, one more try
for answers that ask for it, and the service guard's permission before every call.

Why a gate shared by the whole worker: when the API says "429, retry in 20 s", every thread of
this worker would otherwise keep hammering it; the gate pauses all model calls until the delay has
passed, and a job whose budget ends inside the pause gives up at once (→ local fallback).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from booth.protocol import ErrorKind
from worker.breaker import ServiceGuard, Ticket
from worker.classify import RETRY_NO, RETRY_ONCE, ModelError

T = TypeVar("T")
MIN_CALL_S = 0.5  # a call with less time than this left is not worth starting


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base · 2^(attempt-1)))."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2 ** max(0, attempt - 1))))


class RateGate:
    """Pauses every model call of one worker until a rate limit's delay has passed."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        on_pause: Callable[[], None] | None = None,
    ) -> None:
        self._clock = clock
        self._on_pause = on_pause
        self._open_at = 0.0
        self._cond = threading.Condition()

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._open_at = max(self._open_at, self._clock() + max(0.0, seconds))
        if self._on_pause is not None:
            self._on_pause()

    @property
    def paused_for(self) -> float:
        with self._cond:
            return max(0.0, self._open_at - self._clock())

    def wait(self, deadline: float) -> bool:
        """Wait until open. False (at once) if the pause ends after `deadline`."""
        with self._cond:
            while True:
                now = self._clock()
                if now >= self._open_at:
                    return True
                if self._open_at >= deadline:
                    return False
                self._cond.wait(min(0.2, self._open_at - now))


def call_with_retries(
    fn: Callable[[float], T],
    deadline: float,
    gate: RateGate,
    backoff: Backoff = Backoff(),
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[int, ModelError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    guard: ServiceGuard | None = None,
) -> tuple[T, int]:
    """Run `fn(remaining_s)` until it succeeds, a final error, or `deadline` (monotonic).

    Returns (value, attempts). Raises the last ModelError; a job out of time raises `timeout`
    unless the last error said more (rate_limited, unavailable). When the guard refuses a call
    (breaker open, service paused) the job gives up at once with the last real error it saw, or
    the guard's refusal if it made no call.
    """
    rng = rng or random.Random()
    attempt = 0
    once_used = False
    last: ModelError | None = None

    def give_up(exc: ModelError) -> ModelError:
        exc.attempts = attempt
        return exc

    while True:
        if not gate.wait(deadline):
            wait = gate.paused_for
            raise give_up(
                last
                if last is not None and last.kind is ErrorKind.RATE_LIMITED
                else ModelError(
                    ErrorKind.RATE_LIMITED,
                    f"rate limited for another {wait:.1f} s, past the job's deadline",
                    round(wait, 1),
                )
            )
        remaining = deadline - clock()
        if remaining < MIN_CALL_S:
            raise give_up(
                last
                or ModelError(
                    ErrorKind.TIMEOUT, "the job's deadline passed before the model was asked"
                )
            )
        ticket = Ticket()
        if guard is not None:
            try:
                ticket = guard.admit()
            except ModelError as refused:
                raise give_up(last or refused) from None
        attempt += 1
        try:
            value = fn(remaining)
        except ModelError as exc:
            if guard is not None:
                guard.record(ticket, exc)
            last = exc
            if exc.kind is ErrorKind.RATE_LIMITED:
                gate.pause(
                    exc.retry_after_s
                    if exc.retry_after_s is not None
                    else backoff.delay(attempt + 1, rng) + 1.0
                )
            if exc.retry == RETRY_NO or (exc.retry == RETRY_ONCE and once_used):
                raise give_up(exc) from None
            if exc.retry == RETRY_ONCE:
                once_used = True
            if exc.kind is ErrorKind.TIMEOUT and clock() >= deadline - MIN_CALL_S:
                raise give_up(
                    ModelError(
                        ErrorKind.TIMEOUT, f"no answer within the job's deadline ({exc.detail})"
                    )
                ) from None
            delay = 0.0 if exc.kind is ErrorKind.RATE_LIMITED else backoff.delay(attempt, rng)
            if clock() + delay + MIN_CALL_S >= deadline:
                raise give_up(exc) from None
            if on_retry:
                on_retry(attempt, exc, delay)
            if delay:
                sleep(delay)
            continue
        if guard is not None:
            guard.record(ticket, None)
        return value, attempt
