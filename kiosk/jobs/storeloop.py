"""The job side's one writing thread: tasks in arrival order, then the periodic checks.

Why one thread: statuses, results, outbox acks and re-dispatch all write the ledger, and doing
them in one order keeps a job's status from ever moving back. paho's network thread only puts
tasks here (kiosk/jobs/controller.py); the frame loop never waits for any of it. A storage
error (a full disk, a busy ledger) is handed to `on_storage_error` and everything is tried
again on later ticks."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

TICK_S = 0.05  # the pace of the periodic checks (acks, re-dispatch, cloud links, held messages)

Task = Callable[[], None]


class StoreLoop:
    def __init__(self, on_storage_error: Callable[[Exception], None]) -> None:
        self.on_storage_error = on_storage_error
        self._ticks: list[Task] = []
        self._tasks: queue.Queue[Task | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def every_tick(self, check: Task) -> None:
        """Run `check` after every task and every TICK_S when idle (in the order added)."""
        self._ticks.append(check)

    def put(self, task: Task) -> None:
        """Run `task` on the store thread (any thread may call this)."""
        self._tasks.put(task)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="job-store", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the tasks already queued, then end the thread."""
        self._tasks.put(None)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            task: Task | None
            try:
                task = self._tasks.get(timeout=TICK_S)
                if task is None:
                    return
            except queue.Empty:
                task = None  # idle: only the periodic checks
            try:
                if task is not None:
                    task()
                for tick in self._ticks:
                    tick()
            except (OSError, sqlite3.OperationalError) as exc:
                self.on_storage_error(exc)
            except Exception:
                log.exception("job store task failed")
