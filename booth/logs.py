"""One log format for every process (journald adds the time on the Pi; we add it elsewhere)."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable


def setup_logging(level: str = "INFO", name: str = "booth") -> None:
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = (
        "%(name)s %(levelname)s %(message)s"
        if under_journald
        else "%(asctime)s " + name + " %(name)s %(levelname)s %(message)s"
    )
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=fmt,
        stream=sys.stderr,
        force=True,
    )
    # paho and the HTTP stacks are chatty at DEBUG; keep them at WARNING unless asked.
    for noisy in ("httpx", "httpx2", "httpcore", "google_genai", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(
            logging.WARNING if level.upper() != "DEBUG" else logging.DEBUG
        )


class RateLimitFilter(logging.Filter):
    """At most `burst` lines of one kind at once, then one every `every_s` seconds.

    Why: a flood from outside (a thousand sockets, a rogue MQTT client) must cost a few lines,
    not a full journal. A kind is one logger and one message template, so a flood of one kind
    never silences another. The next line of a kind that let lines drop says how many."""

    def __init__(
        self,
        burst: int = 20,
        every_s: float = 5.0,
        max_kinds: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.every_s = every_s
        self.max_kinds = max_kinds
        self.clock = clock
        self._kinds: dict[tuple[str, str], list[float]] = {}  # kind → [tokens, at, dropped]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, str(record.msg))
        now = self.clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is None:
                if len(self._kinds) >= self.max_kinds:
                    self._kinds.clear()  # many kinds at once: start counting again
                state = self._kinds[kind] = [float(self.burst), now, 0]
            state[0] = min(float(self.burst), state[0] + (now - state[1]) / self.every_s)
            state[1] = now
            if state[0] < 1.0:
                state[2] += 1
                return False
            state[0] -= 1.0
            dropped, state[2] = int(state[2]), 0
        if dropped:
            record.msg = f"{record.msg} [{dropped} similar lines dropped]"
        return True


def limit_log_rate(burst: int = 20, every_s: float = 5.0) -> RateLimitFilter:
    """Put a RateLimitFilter on every handler of the root logger (after setup_logging)."""
    filt = RateLimitFilter(burst, every_s)
    for handler in logging.getLogger().handlers:
        handler.addFilter(filt)
    return filt
