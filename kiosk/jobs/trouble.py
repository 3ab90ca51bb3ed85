"""What went wrong on the job side, for the operator: the last error and the messages ignored.

Every piece of the job side reports here instead of keeping its own copy; the kiosk's health
watch (kiosk/healthwatch.py) reads it once a second."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from booth.protocol import utc_now_iso

log = logging.getLogger("kiosk.jobs")


@dataclass
class Trouble:
    # {"kind", "detail", "at"} of the last thing that went wrong; None: nothing yet
    last_error: dict[str, str] | None = None
    ignored_messages: int = 0  # malformed or refused messages, each logged

    def report(self, kind: str, detail: object) -> None:
        self.last_error = {"kind": kind, "detail": str(detail)[:300], "at": utc_now_iso()}

    def ignore(self, topic: str, why: object) -> None:
        log.warning("ignored a malformed message on %s: %s", topic, why)
        self.ignored_messages += 1  # after the log line: a reader of the count finds it there
