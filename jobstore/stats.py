"""The event in numbers: which jobs belong to "the event", and what happened to them.

The event is not "today": a party goes on past midnight, and a booth is set up the evening
before. It is `operator.event_start` when the operator set one, and otherwise the newest run of
photos — everything since the first shot after the last pause of `operator.event_gap_hours`
(6 h by default) without a shot. A wedding from 16:00 to 02:00 is one event; the next
afternoon's is the next one. Until its first photo the dashboard keeps showing the last event
(its photos are what an operator downloads the morning after).

The dashboard (share/admin.py) and `/metrics` (share/metrics.py) both read `event_stats`, so
their numbers are the same numbers.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from booth.config import Config, event_start_ts
from jobstore.ledger import Ledger

AI, LOCAL, FAILED, IN_PROGRESS = "ai", "local", "failed", "in_progress"
NO_KEY = "no_key"  # the local effect with no error: the workers have no AI key (a choice)
WAIT_MAX_S = 3600.0  # a "wait" beyond this is a clock step, not a guest waiting


@dataclass(frozen=True)
class Event:
    start: float | None  # unix time (None: no photo yet and no start set)
    explicit: bool  # operator.event_start


@dataclass
class EventStats:
    start: float | None
    explicit: bool
    photos: int = 0  # shots in the event (every job)
    ai: int = 0  # pictures the AI made
    local: int = 0  # pictures the local effect made
    failed: int = 0  # jobs that ended without a picture
    in_progress: int = 0  # waiting or being made
    fallbacks: dict[str, int] = field(default_factory=dict)  # local picture: why (error kind)
    failures: dict[str, int] = field(default_factory=dict)  # no picture: why (error kind)
    wait_p50_s: float | None = None  # shot → picture, median
    wait_p95_s: float | None = None
    wait_sum_s: float = 0.0
    waits: int = 0
    uploads_pending: int | None = None  # None: cloud sharing is off

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_of(cfg: Config, ledger: Ledger) -> Event:
    if cfg.operator.event_start:
        return Event(event_start_ts(cfg.operator.event_start), True)
    return Event(ledger.latest_run_start(cfg.operator.event_gap_hours * 3600), False)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (the value a guest actually waited)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def event_stats(cfg: Config, ledger: Ledger, uploads_pending: int | None = None) -> EventStats:
    event = event_of(cfg, ledger)
    out = EventStats(event.start, event.explicit, uploads_pending=uploads_pending)
    if event.start is None:
        return out
    for status, effect, kind, has_result, n in ledger.outcomes_since(event.start):
        out.photos += n
        if has_result and effect == "gemini":
            out.ai += n
        elif has_result and effect == "local":
            out.local += n
            why = kind or NO_KEY
            out.fallbacks[why] = out.fallbacks.get(why, 0) + n
        elif status == "failed":
            out.failed += n
            why = kind or "internal"
            out.failures[why] = out.failures.get(why, 0) + n
        else:  # waiting, being made, or its picture is in and its final status on the way
            out.in_progress += n
    waits = [w for w in ledger.waits_since(event.start) if 0 <= w <= WAIT_MAX_S]
    if waits:
        out.waits = len(waits)
        out.wait_sum_s = round(sum(waits), 3)
        out.wait_p50_s = round(statistics.median(waits), 3)
        out.wait_p95_s = round(percentile(waits, 95) or 0.0, 3)
    return out


def event_label(stats: EventStats, now: float | None = None) -> str:
    """'since Sat 16:02' — how the dashboard names the event."""
    if stats.start is None:
        return "no photos yet"
    now = time.time() if now is None else now
    fmt = "%H:%M" if now - stats.start < 20 * 3600 else "%a %d %b %H:%M"
    return (
        "since "
        + time.strftime(fmt, time.localtime(stats.start))
        + (" (operator.event_start)" if stats.explicit else "")
    )
