"""How long a guest waits on screen for a job (the processing screen asks every frame)."""

from __future__ import annotations

from typing import Literal

from kiosk.jobs.views import JobView

WAIT_NOTICE_S = 5.0  # the end of kiosk.max_wait_s: "your photo will appear in the strip"

Phase = Literal["wait", "notice", "leave"]


def wait_phase(job: JobView | None, waited_s: float, max_wait_s: float) -> Phase:
    """`wait`; then `notice` (the photo will appear in the recent strip, with its QR) for the
    last WAIT_NOTICE_S of `max_wait_s`; then `leave` (back to the start). A finished job is the
    result screen's, not this decision's."""
    if job is not None and job.finished:
        return "wait"
    if waited_s >= max_wait_s:
        return "leave"
    if waited_s >= max_wait_s - WAIT_NOTICE_S:
        return "notice"
    return "wait"
