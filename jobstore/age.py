"""How old a job is, measured so a wall-clock jump cannot change it.

Shot in this boot: the boot time elapsed since (CLOCK_BOOTTIME, see booth/clock.py) — exact
whatever the wall clock did meanwhile. Shot in an earlier boot: the wall clock, when created_at is
trustworthy (taken while synchronized, or corrected by `Ledger.correct_clock`). Otherwise the age
is unknown (None): such a job neither expires nor is deleted until it is corrected.
"""

from __future__ import annotations

from booth.clock import Clock
from jobstore.ledger import JobRow

DAY_S = 86400.0


def age_s(row: JobRow, clock: Clock) -> float | None:
    if row.boot_id and row.boot_id == clock.boot_id and row.created_boot is not None:
        return clock.boot_now() - row.created_boot
    if not row.clock_ok:
        return None
    return clock.now() - row.created_at


def expired(row: JobRow, retention_days: float, clock: Clock) -> bool:
    """Older than the retention period (an unknown age is not)."""
    age = age_s(row, clock)
    return age is not None and age > retention_days * DAY_S
