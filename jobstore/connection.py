"""One connection to the ledger file behind a lock: the base of each table's accessor.

Each process opens its own accessor for the tables it owns (jobs in the kiosk, uploads and clips
in the share server, prints in the printer, sessions in the kiosk); with WAL one's writes never
wait for another's reads, and the lock keeps one connection's statements from interleaving
between threads of the same process.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobstore.schema import open_db


class Connection:
    """The ledger file opened (and its schema brought up to date) on a connection of its own."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = open_db(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _fetch(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _scalar(self, sql: str, args: Iterable[Any] = ()) -> Any:
        with self._lock:
            row = self._db.execute(sql, tuple(args)).fetchone()
        return row[0] if row else None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE under the lock: committed when the block ends, rolled back when it
        raises (the write lock is taken at the start, so a read-then-write never deadlocks)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
