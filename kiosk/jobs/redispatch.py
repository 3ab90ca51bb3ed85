"""Which unfinished jobs the kiosk publishes again, timed on the monotonic clock.

Why the kiosk re-dispatches at all: the broker deals shared-subscription jobs round-robin
without regard to a worker's backlog, a job published while no worker was subscribed reaches
nobody, and a worker can vanish after saying `processing` (host lost, process stopped, a power
cut that took the broker's unsaved queue with it). A duplicate is harmless: the worker's dedupe
store answers it, statuses only move forward and the first result wins.

Why monotonic: the rules are about how long the kiosk has waited, and a wall clock that steps
back (NTP after a boot with a wrong clock) would stall them for as long as the step. Wall-clock
times from the ledger are turned into monotonic ones once, when a job is first seen after a
start, and clamped so that a clock step can only make a job look younger, never stall it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Watch:
    created: float  # monotonic time of the shot (estimated once for jobs from the ledger)
    dispatched: float  # monotonic time of the last publish
    started: bool  # a worker said `processing` (or more) for it


class Redispatcher:
    """Rules:
    - a job no worker started within `redispatch_s` of its last publish goes out again;
    - a started job with no final status `redispatch_s` past the worker's deadline (which counts
      from the shot) goes out again, at most every `redispatch_s`;
    - when a worker comes online, every job not started yet goes out at once (`waiting`).
    """

    def __init__(
        self, redispatch_s: float, deadline_s: float, mono: Callable[[], float] = time.monotonic
    ) -> None:
        self.redispatch_s = redispatch_s
        self.deadline_s = deadline_s
        self.mono = mono
        self._jobs: dict[str, _Watch] = {}

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def watch(
        self,
        job_id: str,
        age_s: float,
        since_dispatch_s: float | None = None,
        started: bool = False,
    ) -> None:
        """Follow a job `age_s` old (wall clock; negative is taken as 0) whose last publish was
        `since_dispatch_s` ago (None: not published yet, it is about to be)."""
        now = self.mono()
        created = now - max(0.0, age_s)
        dispatched = now if since_dispatch_s is None else now - max(0.0, since_dispatch_s)
        self._jobs[job_id] = _Watch(created, max(created, dispatched), started)

    def dispatched(self, job_id: str) -> None:
        watch = self._jobs.get(job_id)
        if watch is not None:
            watch.dispatched = self.mono()

    def started(self, job_id: str) -> None:
        watch = self._jobs.get(job_id)
        if watch is not None:
            watch.started = True

    def done(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def due(self) -> list[tuple[str, str]]:
        """(job id, why) for every job to publish again now, oldest first."""
        now = self.mono()
        out = []
        for job_id, w in sorted(self._jobs.items(), key=lambda kv: kv[1].created):
            if now - w.dispatched < self.redispatch_s:
                continue
            if not w.started:
                out.append((job_id, f"no worker started it within {self.redispatch_s:g} s"))
            elif now - w.created >= self.deadline_s + self.redispatch_s:
                out.append(
                    (
                        job_id,
                        f"no final status {now - w.created:.0f} s after the shot "
                        f"(the worker's deadline is {self.deadline_s:g} s)",
                    )
                )
        return out

    def waiting(self) -> list[str]:
        """Jobs no worker has started. (Even one published a moment ago: it may have reached
        the broker before the worker's subscription did.)"""
        return [
            job_id
            for job_id, w in sorted(self._jobs.items(), key=lambda kv: kv[1].created)
            if not w.started
        ]
