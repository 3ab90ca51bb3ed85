"""What the printer's state means: for the guests' screen (ready, paused, unavailable), for the
operator (problems with their reason and fix, in the booth's language), and when a stopped CUPS
queue may be resumed without anyone (`AutoResume`, the rule of docs/printing.md, "A stopped
queue").

All of it is plain functions of one look at CUPS (`Look`) and the clock: no I/O here, so the
rule is the same in the process and in its tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from booth.printmsg import PAUSED, READY, UNAVAILABLE
from booth.protocol import Problem
from booth.texts import operator_print
from jobstore.prints import Budget
from printer.cups import IDLE, PROCESSING, DeviceState, QueueState

# printer-state-reasons (without their -report/-warning/-error suffix) → problem code
REASON_CODES = {
    "media-empty": "paper_out",
    "media-needed": "paper_out",
    "media-low": "paper_low",
    "marker-supply-empty": "ribbon_out",
    "toner-empty": "ribbon_out",
    "marker-waste-full": "ribbon_out",
    "marker-supply-low": "ribbon_low",
    "toner-low": "ribbon_low",
    "media-jam": "jam",
    "cover-open": "door_open",
    "door-open": "door_open",
    "interlock-open": "door_open",
    "input-tray-missing": "door_open",
    "offline": "offline",
    "shutdown": "offline",
    "timed-out": "offline",
}
# Reasons with which a printer cannot print: a stopped queue is never resumed while the printer
# says one of them (docs/printing.md, "A stopped queue").
BLOCKING = frozenset(
    {
        "media-empty",
        "media-needed",
        "media-jam",
        "marker-supply-empty",
        "toner-empty",
        "marker-waste-full",
        "cover-open",
        "door-open",
        "interlock-open",
        "input-tray-missing",
        "offline",
        "shutdown",
    }
)
# Problems that stop prints (the guests read "paused") and the ones that only warn the operator.
STOPPING = (
    "cups_down",
    "queue_missing",
    "jam",
    "door_open",
    "paper_out",
    "ribbon_out",
    "offline",
    "queue_stopped",
    "queue_rejecting",
    "budget_used",
)
WARNING = ("not_allowed", "paper_low", "ribbon_low", "budget_low", "failed")
# The backend's "trying to reach the printer" lasting this long means the printer is offline.
CONNECTING_OFFLINE_S = 20.0
BUDGET_LOW_SHARE = 0.1  # prints left at or below this share of the budget warn the operator
BUDGET_LOW_LEAST = 10


def base_reason(reason: str) -> str:
    """`media-empty-warning` → `media-empty` (RFC 8011: -report, -warning, -error). The
    severity is dropped on purpose: CUPS reports a printer it cannot reach as
    `offline-report`, and drivers differ in which suffix they give media-empty, so what blocks
    printing is judged by the reason alone (BLOCKING)."""
    for suffix in ("-report", "-warning", "-error"):
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


def blocking(reasons: Iterable[str]) -> set[str]:
    """The reasons among `reasons` (with their severities) that stop a printer printing."""
    return {base_reason(r) for r in reasons} & BLOCKING


def network_device(device_uri: str) -> bool:
    """A printer that can be asked over IPP itself (CUPS asks it only while a job runs)."""
    return urlsplit(device_uri).scheme in ("ipp", "ipps")


@dataclass(frozen=True)
class Look:
    """One look at CUPS: the queue (None when it could not be read: `error` says why, `cups_down`
    or `queue_missing`), and the network printer behind it when it could be asked."""

    at: float  # monotonic
    queue: QueueState | None = None
    device: DeviceState | None = None
    error: str | None = None
    error_text: str = ""
    connecting_s: float = 0.0  # how long the queue has said connecting-to-device
    device_silent_s: float = 0.0  # how long a network printer has not answered

    def reasons(self) -> set[str]:
        """The printer's reasons as far as known: the queue's, and the printer's own."""
        found = {base_reason(r) for r in (self.queue.reasons if self.queue else ())}
        found |= {base_reason(r) for r in (self.device.reasons if self.device else ())}
        found.discard("paused")  # the queue's stop, not the printer's
        return found


@dataclass(frozen=True)
class Facts:
    """Besides CUPS, what the operator's words need."""

    queue_name: str
    server: str
    waiting: int  # sheets not out yet
    budget: Budget
    failed: int = 0  # sheets that failed in this event
    last_failure: str = ""
    resume_refused: bool = False  # the last resume was refused: the booth user is not in lpadmin


def codes(look: Look, facts: Facts) -> list[str]:
    """The problem codes now, worst first (STOPPING before WARNING)."""
    found: list[str] = []
    if look.error == "cups_down":
        found.append("cups_down")
    elif look.error == "queue_missing":
        found.append("queue_missing")
    q = look.queue
    if q is not None:
        reasons = look.reasons()
        for reason in sorted(reasons):
            code = REASON_CODES.get(reason)
            if code and code not in found:
                found.append(code)
        if look.connecting_s >= CONNECTING_OFFLINE_S and "offline" not in found:
            found.append("offline")
        if look.device_silent_s >= CONNECTING_OFFLINE_S and "offline" not in found:
            found.append("offline")  # a network printer that does not answer
        if q.stopped:
            found.append("queue_stopped")
        if not q.accepting:
            found.append("queue_rejecting")
        for m in q.markers:
            low = m.low if m.low > 0 else 10
            if 0 <= m.level <= low and m.level < 100:
                kind = (
                    "paper_low" if "media" in m.type or "paper" in m.name.lower() else "ribbon_low"
                )
                if m.level == 0:
                    kind = "paper_out" if kind == "paper_low" else "ribbon_out"
                if kind not in found:
                    found.append(kind)
    b = facts.budget
    if b.left is not None:
        if b.left <= 0:
            found.append("budget_used")
        elif b.left <= max(BUDGET_LOW_LEAST, round(b.total * BUDGET_LOW_SHARE)):
            found.append("budget_low")
    if facts.resume_refused:
        found.append("not_allowed")
    if facts.failed:
        found.append("failed")
    order = {c: i for i, c in enumerate(STOPPING + WARNING)}
    return sorted(dict.fromkeys(found), key=lambda c: order.get(c, len(order)))


def guest_state(found: list[str]) -> tuple[str, str | None]:
    """(ready | paused | unavailable, the problem code the guests' line is about)."""
    for code in found:
        if code in ("cups_down", "queue_missing"):
            return UNAVAILABLE, code
        if code in STOPPING:
            return PAUSED, code
    return READY, None


def problems(look: Look, facts: Facts, language: str) -> list[Problem]:
    """The operator's problems in plain words (the booth's language), worst first."""
    out = []
    q = look.queue
    low = next(
        (m for m in (q.markers if q else ()) if 0 <= m.level <= (m.low if m.low > 0 else 10)),
        None,
    )
    values: dict[str, object] = {
        "queue": facts.queue_name,
        "server": facts.server,
        "waiting": facts.waiting,
        "message": (q.message if q and q.message else "paused"),
        "used": facts.budget.used,
        "total": facts.budget.total,
        "left": facts.budget.left if facts.budget.left is not None else "",
        "n": facts.failed,
        "error": facts.last_failure or "?",
        "marker": low.name if low else "ribbon",
        "level": low.level if low else 0,
    }
    for code in codes(look, facts):
        level = "error" if code in STOPPING else "warn"
        out.append(
            Problem(
                code,
                level,
                operator_print(language, code, **values),
                operator_print(language, f"{code}_fix", **values),
            )
        )
    return out


@dataclass
class AutoResume:
    """When a stopped queue is resumed without anyone (docs/printing.md, "A stopped queue").

    `decide(look)` says whether to resume now; `resumed()` records that it was; `printed()`
    that a sheet came out (which resets the back-off)."""

    ready_for_s: float
    first_wait_s: float = 60.0
    max_wait_s: float = 900.0
    quick_stop_s: float = 60.0  # a queue stopped again this soon after a resume: wait longer
    _ready_since: float | None = None
    _wait_s: float = field(default=0.0)
    _last_resume: float | None = None
    _probe_at: float | None = None
    _stopped_again: bool = False  # the queue was seen stopped since the last resume

    def __post_init__(self) -> None:
        self._wait_s = self.first_wait_s

    def printed(self) -> None:
        self._wait_s = self.first_wait_s

    def resumed(self, now: float) -> None:
        self._last_resume = now
        self._ready_since = None
        self._probe_at = None
        self._stopped_again = False

    def ready(self, look: Look) -> bool:
        """Whether the printer says it could print (the queue's stop aside)."""
        q = look.queue
        if q is None:
            return False
        if network_device(q.device_uri):
            d = look.device
            return (
                d is not None
                and d.state in (IDLE, PROCESSING)
                and d.accepting
                and not blocking(d.reasons)
            )
        return not blocking(q.reasons)  # ("paused", the queue's own stop, is not one)

    def decide(self, look: Look) -> str | None:
        """`"ready"` or `"probe"` when the queue is to be resumed now, else None."""
        q, now = look.queue, look.at
        if q is None or not q.stopped or not q.accepting:
            self._ready_since = self._probe_at = None
            return None
        last = self._last_resume
        if last is not None and not self._stopped_again:
            self._stopped_again = True  # (looks come after the resume: this one is news)
            if now - last < self.quick_stop_s:
                self._wait_s = min(self.max_wait_s, self._wait_s * 2)
        earliest = (self._last_resume or -1e18) + self._wait_s
        if self.ready(look):
            self._probe_at = None
            if self._ready_since is None:
                self._ready_since = now
            if now - self._ready_since >= self.ready_for_s and (
                self._last_resume is None or now >= earliest
            ):
                return "ready"
            return None
        self._ready_since = None
        if network_device(q.device_uri):
            return None  # the printer itself says it cannot print: wait for it
        # A USB printer is heard only while a job runs: try one after the back-off.
        if self._probe_at is None:
            self._probe_at = max(now + self._wait_s, earliest)
        if now >= self._probe_at:
            return "probe"  # stopped again soon after it, the queue doubles the wait (above)
        return None
