"""When the worker may call the model at all: the outage breaker and the service pause, shared by
every job thread of one worker.

Why: a failure that is about the service rather than the photo repeats for every guest. Without
this, each guest would spend calls and seconds (or the whole deadline) rediscovering it.
- Outage (5xx, no connection, a captive portal, timeouts): after `breaker_failures` such model
  calls in a row the breaker opens; for `breaker_open_s` every job gets the local effect at once.
- Service refusal (key, permission, API disabled, model, region, billing) and a used-up quota:
  model calls pause for `service_pause_s` at once, on the first such answer.
- After a pause, one job at a time probes the model; its outcome closes the breaker or starts
  a new pause. The others get the local effect meanwhile.
- A refusal with no clearer reason (a generic 400) pauses nothing but is shown until a success.
The current `Condition` goes into the worker's retained health message (worker/service.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from booth.protocol import AiState, ErrorKind
from worker.classify import RETRY_NO, ModelError

PAUSING = frozenset(
    {
        AiState.QUOTA_EXHAUSTED,
        AiState.KEY_REJECTED,
        AiState.PERMISSION_DENIED,
        AiState.SERVICE_DISABLED,
        AiState.MODEL_NOT_FOUND,
        AiState.REGION_UNSUPPORTED,
        AiState.BILLING_REQUIRED,
        AiState.BREAKER_OPEN,
    }
)


@dataclass(frozen=True)
class Condition:
    """The service as this worker sees it. `until` is the monotonic end of a pause."""

    ai: AiState = AiState.OK
    detail: str = ""
    until: float | None = None


@dataclass(frozen=True)
class Ticket:
    """Permission for one model call; `probe` marks the one call that tests a paused service,
    `paused_for` what the pause was about."""

    probe: bool = False
    paused_for: AiState = AiState.OK


class ServiceGuard:
    def __init__(
        self,
        *,
        breaker_failures: int,
        breaker_open_s: float,
        service_pause_s: float,
        probe_lease_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[Condition, Condition], None] | None = None,
    ) -> None:
        self.breaker_failures = breaker_failures
        self.breaker_open_s = breaker_open_s
        self.service_pause_s = service_pause_s
        self.probe_lease_s = probe_lease_s
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._cond = Condition()
        self._failures = 0
        self._probe_since: float | None = None
        self._paused_for = AiState.OK

    @property
    def condition(self) -> Condition:
        with self._lock:
            return self._cond

    def admit(self) -> Ticket:
        """A ticket for one model call, or the ModelError the job falls back with (no call)."""
        with self._lock:
            cond = self._cond
            if cond.ai not in PAUSING and cond.ai is not AiState.PROBING:
                return Ticket()
            now = self._clock()
            if cond.until is not None and now < cond.until:
                raise self._refusal(
                    cond, f"model calls paused for another {cond.until - now:.0f} s"
                )
            if self._probe_since is not None and now - self._probe_since < self.probe_lease_s:
                raise self._refusal(cond, "another job is probing the model")
            self._probe_since = now
            paused_for = self._paused_for if cond.ai is AiState.PROBING else cond.ai
            self._paused_for = paused_for
            changed = self._set(Condition(AiState.PROBING, cond.detail, None))
        self._notify(changed)
        return Ticket(probe=True, paused_for=paused_for)

    def record(self, ticket: Ticket, error: ModelError | None) -> None:
        """The outcome of a call made with `ticket` (None: it succeeded)."""
        with self._lock:
            now = self._clock()
            if ticket.probe:
                self._probe_since = None
            if error is None or not (error.outage or error.ai is not None):
                # The service answered (a picture, or a safety/no-image/rate answer): it is up.
                self._failures = 0
                if self._cond.ai is not AiState.OK and (
                    error is None or ticket.probe or self._cond.ai not in PAUSING
                ):
                    changed = self._set(Condition())
                else:
                    changed = None
            elif error.ai is not None:
                self._failures = 0
                pause = (
                    max(self.service_pause_s, error.retry_after_s or 0.0)
                    if error.ai in PAUSING
                    else None
                )
                changed = self._set(
                    Condition(error.ai, error.detail, now + pause if pause else None)
                )
            else:  # an outage outcome
                self._failures += 1
                failed_probe = ticket.probe and ticket.paused_for is AiState.BREAKER_OPEN
                if failed_probe or self._failures >= self.breaker_failures:
                    changed = self._set(
                        Condition(
                            AiState.BREAKER_OPEN,
                            f"{self._failures} model call(s) in a row failed; last: {error.detail}",
                            now + self.breaker_open_s,
                        )
                    )
                    self._failures = 0
                elif ticket.probe:
                    # A probe of a refusal (key, quota …) met a hiccup instead: the refusal is
                    # not confirmed, so calls resume and the breaker counts as usual.
                    changed = self._set(Condition())
                else:
                    changed = None
        self._notify(changed)

    # ---------------------------------------------------------------- inside the lock
    def _set(self, new: Condition) -> tuple[Condition, Condition] | None:
        old = self._cond
        self._cond = new
        if (old.ai, old.detail) == (new.ai, new.detail) and new.ai is not AiState.BREAKER_OPEN:
            return None
        return old, new

    @staticmethod
    def _refusal(cond: Condition, why: str) -> ModelError:
        kind = ErrorKind.QUOTA if cond.ai is AiState.QUOTA_EXHAUSTED else ErrorKind.UNAVAILABLE
        err = ModelError(kind, f"{why} ({cond.ai.value}: {cond.detail})", retry=RETRY_NO)
        err.attempts = 0
        return err

    def _notify(self, changed: tuple[Condition, Condition] | None) -> None:
        if changed is not None and self._on_change is not None:
            self._on_change(*changed)
