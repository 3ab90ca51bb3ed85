"""Retries inside a per-job deadline: exponential backoff with full jitter, and a rate-limit gate.

Why a gate shared by the whole worker: when the API says "429, retry in 20 s", every thread of
this worker would otherwise keep hammering it; the gate pauses all model calls until the delay has
passed, and a job whose deadline falls inside the pause gives up at once (→ local fallback).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from booth.protocol import TRANSIENT_KINDS, ErrorKind
from worker.classify import ModelError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base · 2^(attempt-1)))."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * (2 ** max(0, attempt - 1))))


class RateGate:
    """Pauses every model call of one worker until a rate limit's delay has passed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open_at = 0.0
        self._cond = threading.Condition()

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._open_at = max(self._open_at, self._clock() + max(0.0, seconds))

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


def call_with_retries(fn: Callable[[float], T], deadline: float, gate: RateGate,
                      backoff: Backoff = Backoff(), rng: random.Random | None = None,
                      clock: Callable[[], float] = time.monotonic,
                      on_retry: Callable[[int, ModelError, float], None] | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> tuple[T, int]:
    """Run `fn(remaining_s)` until it succeeds, a non-transient error, or the deadline.

    Returns (value, attempts). Raises the last ModelError; a job out of time raises `timeout`
    unless the last error said more (rate_limited, unavailable).
    """
    rng = rng or random.Random()
    attempt = 0
    last: ModelError | None = None

    def give_up(exc: ModelError) -> ModelError:
        exc.attempts = max(1, attempt)
        return exc

    while True:
        if not gate.wait(deadline):
            wait = gate.paused_for
            raise give_up(ModelError(ErrorKind.RATE_LIMITED,
                                     f"rate limited for another {wait:.1f} s, past the job's "
                                     "deadline", round(wait, 1)))
        remaining = deadline - clock()
        if remaining <= 0.05:
            raise give_up(last or ModelError(ErrorKind.TIMEOUT, "the job's deadline passed"))
        attempt += 1
        try:
            return fn(remaining), attempt
        except ModelError as exc:
            last = exc
            if exc.kind is ErrorKind.RATE_LIMITED:
                gate.pause(exc.retry_after_s if exc.retry_after_s is not None
                           else backoff.delay(attempt + 1, rng) + 1.0)
            if exc.kind not in TRANSIENT_KINDS:
                raise give_up(exc) from None
            if exc.kind is ErrorKind.TIMEOUT and clock() >= deadline - 0.05:
                raise give_up(ModelError(ErrorKind.TIMEOUT,
                                         f"no answer within the job's deadline ({exc.detail})")
                              ) from None
            delay = backoff.delay(attempt, rng)
            if exc.kind is ErrorKind.RATE_LIMITED:
                delay = 0.0  # the gate does the waiting
            if clock() + delay >= deadline:
                raise give_up(exc) from None
            if on_retry:
                on_retry(attempt, exc, delay)
            if delay:
                sleep(delay)
