"""Statuses and results that arrived but could not be stored yet (a full disk, a failing or busy
ledger). They are kept in arrival order, in bounded memory, and offered again with a backoff, so
the guest's screen follows by itself once space returns (kiosk/jobs/router.py holds and offers
them)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho

log = logging.getLogger(__name__)

# Storing a held message again after a storage error: 1 s, 2 s, 4 s … then every 15 s.
STORE_RETRY_MIN_S = 1.0
STORE_RETRY_MAX_S = 15.0
MAX_HELD_BYTES = 64_000_000  # beyond this a held result is dropped (it stays retained)


@dataclass
class Held:
    """A received status or result waiting to be stored."""

    job_id: str
    msg: paho.MQTTMessage = field(repr=False)
    size: int
    due: float
    tries: int = 0


class HeldMessages:
    """Oldest first; only the store thread touches it."""

    def __init__(
        self, mono: Callable[[], float] = time.monotonic, max_bytes: int = MAX_HELD_BYTES
    ) -> None:
        self.mono = mono
        self.max_bytes = max_bytes
        self._held: list[Held] = []

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, job_id: str, msg: paho.MQTTMessage, size: int) -> None:
        """Keep a message that could not be stored; the oldest are dropped beyond the bound (a
        result stays retained on the broker, so the next kiosk start stores it)."""
        while self._held and sum(h.size for h in self._held) + size > self.max_bytes:
            dropped = self._held.pop(0)
            log.error(
                "job %s: dropping a held message (%d bytes) to bound memory; a retained "
                "result is stored again after the next kiosk start",
                dropped.job_id,
                dropped.size,
            )
        self._held.append(Held(job_id, msg, size, self.mono() + STORE_RETRY_MIN_S))

    def hold_again(self, held: Held) -> None:
        """A retry failed again: back off, and keep its place at the front."""
        held.tries += 1
        held.due = self.mono() + min(STORE_RETRY_MAX_S, STORE_RETRY_MIN_S * 2**held.tries)
        self._held.insert(0, held)

    def retry(self, store: Callable[[Held], None]) -> None:
        """Offer the due messages to `store` in order; when one fails again (`store` called
        `hold_again`) the later ones wait their turn."""
        if not self._held or self._held[0].due > self.mono():
            return
        waiting, self._held = self._held, []
        for i, held in enumerate(waiting):
            if held.due > self.mono():
                self._held.extend(waiting[i:])
                break
            before = len(self._held)
            store(held)
            if len(self._held) > before:
                self._held.extend(waiting[i + 1 :])
                break
            log.info(
                "job %s: stored after %d %s",
                held.job_id,
                held.tries + 1,
                "retry" if held.tries == 0 else "retries",
            )
