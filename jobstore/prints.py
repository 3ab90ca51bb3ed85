"""The print queue: every sheet asked for, in order, and what became of it.

Why a table in the ledger: a requested print must survive a crash, a power cut and a restart of
everything, and it belongs with the photo it prints (retention and the dashboard already read
the job data here). One row per sheet: a request for two copies makes two rows in one
transaction, each with its own `print_id`, and each goes to CUPS as a job of its own named
`booth-print-<print_id>` (`cups_job_name`). The states move forward only:

    requested → sent → printing → printed
                   └──────────┴──→ failed | cancelled      (requested → cancelled too)

`tries` and `tried_at` are written *before* a print is handed to CUPS, `cups_job_id` after CUPS
accepted it. A row still `requested` with tries > 0 after a crash may be in CUPS already: the
printer process looks for its job name in CUPS's job list before sending it again
(printer/service.py), so a print is neither lost nor printed twice.

The request's `request_id` is its idempotency key: the same request seen again (a QoS 1
redelivery, a retried publish) makes no new rows (`UNIQUE (request_id, copy)`).

Who writes: the printer process only (`printer/service.py`). The kiosk never touches this table
(it asks over MQTT); the share server's dashboard and /metrics read it.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jobstore.connection import Connection

REQUESTED, SENT, PRINTING = "requested", "sent", "printing"
PRINTED, FAILED, CANCELLED = "printed", "failed", "cancelled"
STATES = (REQUESTED, SENT, PRINTING, PRINTED, FAILED, CANCELLED)
WAITING = (REQUESTED, SENT, PRINTING)  # not out of the printer yet
IN_CUPS = (SENT, PRINTING)
USES_PAPER = (REQUESTED, SENT, PRINTING, PRINTED)  # counted against the limits
FINAL = (PRINTED, FAILED, CANCELLED)
_RANK = {REQUESTED: 0, SENT: 1, PRINTING: 2, PRINTED: 3, FAILED: 3, CANCELLED: 3}

GUEST, AUTO, OPERATOR = "guest", "auto", "operator"
SOURCES = (GUEST, AUTO, OPERATOR)
JOB_NAME_PREFIX = "booth-print-"

# Why a request made no print (the printer process says it to the guest through the kiosk).
REFUSED_WAITING = "waiting"  # a print of this photo is still waiting (a second tap)
REFUSED_LIMIT = "limit"  # the photo has all the prints a guest may have
REFUSED_BUDGET = "budget"  # the event's paper budget is used up
REFUSED_NO_PHOTO = "no_photo"  # no stored picture for that job (yet)


def new_print_id() -> str:
    return secrets.token_hex(8)


def cups_job_name(print_id: str) -> str:
    """The CUPS job name that carries a print's id (printer/service.py finds prints by it)."""
    return JOB_NAME_PREFIX + print_id


def print_id_of(job_name: str) -> str | None:
    """The print id in a CUPS job name of ours; None for anyone else's job."""
    if not job_name.startswith(JOB_NAME_PREFIX):
        return None
    rest = job_name[len(JOB_NAME_PREFIX) :]
    return rest if rest and all(c in "0123456789abcdef" for c in rest) else None


@dataclass(frozen=True)
class PrintRow:
    print_id: str
    job_id: str
    request_id: str
    copy: int
    source: str
    state: str
    cups_job_id: int | None
    requested_at: float
    tried_at: float | None
    tries: int
    sent_at: float | None
    done_at: float | None
    error: str | None

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> PrintRow:
        return cls(**{k: row[k] for k in row.keys()})

    @property
    def waiting(self) -> bool:
        return self.state in WAITING


@dataclass(frozen=True)
class Granted:
    """What a request made: the rows it created (or, for a request seen before, the ones it
    created then), or why it made none."""

    rows: tuple[PrintRow, ...] = ()
    refused: str | None = None
    repeat: bool = False


@dataclass(frozen=True)
class PhotoPrints:
    """One photo's prints by state (guest/auto and operator sheets alike)."""

    printed: int = 0
    waiting: int = 0
    failed: int = 0
    cancelled: int = 0
    guest_used: int = 0  # sheets that count against the guest's allowance (not the operator's)

    @property
    def total(self) -> int:
        return self.printed + self.waiting


@dataclass(frozen=True)
class Budget:
    """The event's paper: `total` = the configured budget plus what the operator added (0 when
    there is no budget), `used` = sheets printed or waiting since the event began."""

    total: int
    used: int
    limited: bool = True

    @property
    def left(self) -> int | None:
        return max(0, self.total - self.used) if self.limited else None


class PrintQueue(Connection):
    """The prints table on its own connection (WAL: the kiosk's writes never wait for it)."""

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[PrintRow]:
        return [PrintRow.from_sql(r) for r in self._fetch(sql, args)]

    # ------------------------------------------------------------------ printer process: writes
    def request(
        self,
        job_id: str,
        request_id: str,
        copies: int,
        source: str,
        *,
        per_photo: int | None,
        budget: Budget | None,
        now: float | None = None,
    ) -> Granted:
        """Queue up to `copies` sheets of a photo, in one transaction with the checks: a request
        seen before makes nothing new; a guest's (or auto-print's) request makes nothing while a
        print of the photo waits, nor beyond `per_photo` sheets in all; nobody's goes beyond the
        budget's sheets left. `budget` is the event's before this request (None: unlimited)."""
        if source not in SOURCES:
            raise ValueError(f"unknown print source {source!r}")
        now = time.time() if now is None else now
        with self._transaction():
            return self._request(job_id, request_id, copies, source, per_photo, budget, now)

    def _request(
        self,
        job_id: str,
        request_id: str,
        copies: int,
        source: str,
        per_photo: int | None,
        budget: Budget | None,
        now: float,
    ) -> Granted:
        db = self._db
        before = db.execute(
            "SELECT * FROM prints WHERE request_id = ? ORDER BY copy", (request_id,)
        ).fetchall()
        if before:
            return Granted(tuple(PrintRow.from_sql(r) for r in before), repeat=True)
        photo = db.execute("SELECT result_path FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if photo is None or photo[0] is None:
            return Granted(refused=REFUSED_NO_PHOTO)
        n = max(0, copies)
        if source != OPERATOR:
            marks = ",".join("?" * len(WAITING))
            waiting = db.execute(
                f"SELECT COUNT(*) FROM prints WHERE job_id = ? AND source != ?"
                f" AND state IN ({marks})",
                (job_id, OPERATOR, *WAITING),
            ).fetchone()[0]
            if waiting:
                return Granted(refused=REFUSED_WAITING)
            if per_photo is not None:
                marks = ",".join("?" * len(USES_PAPER))
                used = db.execute(
                    f"SELECT COUNT(*) FROM prints WHERE job_id = ? AND source != ?"
                    f" AND state IN ({marks})",
                    (job_id, OPERATOR, *USES_PAPER),
                ).fetchone()[0]
                if used >= per_photo:
                    return Granted(refused=REFUSED_LIMIT)
                n = min(n, per_photo - used)
        if budget is not None and budget.left is not None:
            if budget.left <= 0:
                return Granted(refused=REFUSED_BUDGET)
            n = min(n, budget.left)
        if n <= 0:
            return Granted(refused=REFUSED_LIMIT)
        rows = []
        for copy in range(1, n + 1):
            pid = new_print_id()
            db.execute(
                "INSERT INTO prints (print_id, job_id, request_id, copy, source, state,"
                " requested_at) VALUES (?,?,?,?,?,?,?)",
                (pid, job_id, request_id, copy, source, REQUESTED, now),
            )
            rows.append(
                PrintRow.from_sql(
                    db.execute("SELECT * FROM prints WHERE print_id = ?", (pid,)).fetchone()
                )
            )
        return Granted(tuple(rows))

    def will_send(self, print_id: str, now: float | None = None) -> None:
        """Written before the print is handed to CUPS: after a crash, a print with tries > 0 and
        no CUPS job id is looked for in CUPS before it is sent again."""
        with self._lock:
            self._db.execute(
                "UPDATE prints SET tries = tries + 1, tried_at = ? WHERE print_id = ?",
                (time.time() if now is None else now, print_id),
            )

    def mark_sent(self, print_id: str, cups_job_id: int, now: float | None = None) -> bool:
        """CUPS accepted the print as job `cups_job_id`."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE prints SET state = ?, cups_job_id = ?, sent_at = ?, error = NULL"
                " WHERE print_id = ? AND state = ?",
                (SENT, cups_job_id, time.time() if now is None else now, print_id, REQUESTED),
            )
            return cur.rowcount == 1

    def move(
        self, print_id: str, state: str, now: float | None = None, error: str | None = None
    ) -> bool:
        """Move a print forward (printing, printed, failed, cancelled); a move backward or out of
        a final state changes nothing. True when it changed the row."""
        if state not in STATES:
            raise ValueError(f"unknown print state {state!r}")
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM prints WHERE print_id = ?", (print_id,)
            ).fetchone()
            if row is None or row[0] in FINAL or _RANK[state] <= _RANK[row[0]]:
                return False
            self._db.execute(
                "UPDATE prints SET state = ?, error = COALESCE(?, error),"
                " done_at = CASE WHEN ? IN ('printed','failed','cancelled') THEN ? ELSE done_at END"
                " WHERE print_id = ?",
                (state, error, state, now, print_id),
            )
            return True

    def note_error(self, print_id: str, error: str) -> None:
        """Why the last try to hand a print to CUPS failed (it stays requested)."""
        with self._lock:
            self._db.execute(
                "UPDATE prints SET error = ? WHERE print_id = ?", (error[:300], print_id)
            )

    def cancel_requested(self, job_id: str | None = None, now: float | None = None) -> list[str]:
        """Cancel the prints not handed to CUPS yet (of one photo, or all); their ids."""
        now = time.time() if now is None else now
        where, args = ("AND job_id = ?", (job_id,)) if job_id else ("", ())
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    f"SELECT print_id FROM prints WHERE state = ? {where}", (REQUESTED, *args)
                ).fetchall()
            ]
            self._db.executemany(
                "UPDATE prints SET state = ?, done_at = ? WHERE print_id = ? AND state = ?",
                [(CANCELLED, now, pid, REQUESTED) for pid in ids],
            )
        return ids

    def add_budget(self, sheets: int, at: float | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO print_budget (at, added) VALUES (?, ?)",
                (time.time() if at is None else at, int(sheets)),
            )

    def set_meta(self, key: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._db.execute("DELETE FROM print_meta WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT INTO print_meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def forget_gone_jobs(self) -> list[str]:
        """Delete the prints of photos that are gone (retention, the operator's delete); returns
        those photos' ids (their retained print statuses are to be cleared)."""
        with self._lock:
            gone = [
                r[0]
                for r in self._db.execute(
                    "SELECT DISTINCT p.job_id FROM prints p LEFT JOIN jobs j ON j.job_id = p.job_id"
                    " WHERE j.job_id IS NULL"
                ).fetchall()
            ]
            self._db.executemany("DELETE FROM prints WHERE job_id = ?", [(j,) for j in gone])
        return gone

    # ------------------------------------------------------------------ reads
    def get(self, print_id: str) -> PrintRow | None:
        rows = self._rows("SELECT * FROM prints WHERE print_id = ?", (print_id,))
        return rows[0] if rows else None

    def meta(self, key: str) -> str | None:
        value = self._scalar("SELECT value FROM print_meta WHERE key = ?", (key,))
        return value if isinstance(value, str) else None

    def queue(self) -> list[PrintRow]:
        """Every print not out yet, in the order they come out: those in CUPS first (in the order
        they were handed over), then the requested ones in the order they were asked for."""
        marks = ",".join("?" * len(WAITING))
        return self._rows(
            f"SELECT * FROM prints WHERE state IN ({marks})"
            " ORDER BY CASE state WHEN 'requested' THEN 1 ELSE 0 END,"
            " COALESCE(sent_at, 0), rowid",
            WAITING,
        )

    def for_job(self, job_id: str) -> list[PrintRow]:
        return self._rows("SELECT * FROM prints WHERE job_id = ? ORDER BY rowid", (job_id,))

    def photos(self, job_ids: Iterable[str]) -> dict[str, PhotoPrints]:
        """Each photo's prints by state (photos without prints are left out)."""
        ids = list(job_ids)
        out: dict[str, PhotoPrints] = {}
        for i in range(0, len(ids), 500):  # SQLite's host-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                found = self._db.execute(
                    f"SELECT job_id, state, source, COUNT(*) FROM prints WHERE job_id IN ({marks})"
                    " GROUP BY 1, 2, 3",
                    chunk,
                ).fetchall()
            tally: dict[str, dict[str, int]] = {}
            for job_id, state, source, n in found:
                t = tally.setdefault(job_id, {})
                t[state] = t.get(state, 0) + n
                if source != OPERATOR and state in USES_PAPER:
                    t["guest_used"] = t.get("guest_used", 0) + n
            for job_id, t in tally.items():
                out[job_id] = PhotoPrints(
                    printed=t.get(PRINTED, 0),
                    waiting=sum(t.get(s, 0) for s in WAITING),
                    failed=t.get(FAILED, 0),
                    cancelled=t.get(CANCELLED, 0),
                    guest_used=t.get("guest_used", 0),
                )
        return out

    def photo(self, job_id: str) -> PhotoPrints:
        return self.photos([job_id]).get(job_id, PhotoPrints())

    def last_error(self, state: str, since: float | None = None) -> str | None:
        """The error of the newest print in `state` since `since` (why the last one failed)."""
        value = self._scalar(
            "SELECT error FROM prints WHERE state = ? AND requested_at >= ? AND error IS NOT NULL"
            " ORDER BY COALESCE(done_at, requested_at) DESC LIMIT 1",
            (state, since if since is not None else 0.0),
        )
        return value if isinstance(value, str) else None

    def tried_not_sent(self) -> list[PrintRow]:
        """Prints handed to CUPS at least once whose answer was never recorded."""
        return self._rows(
            "SELECT * FROM prints WHERE state = ? AND tries > 0 ORDER BY rowid", (REQUESTED,)
        )

    def in_cups(self) -> list[PrintRow]:
        marks = ",".join("?" * len(IN_CUPS))
        return self._rows(
            f"SELECT * FROM prints WHERE state IN ({marks}) ORDER BY sent_at, rowid", IN_CUPS
        )

    def budget(self, base: int, start: float | None, grace_s: float) -> Budget:
        """The event's paper: `base` sheets (0: no budget) plus what the operator added during
        the event or in the pause before its first photo (`grace_s`), against every sheet
        printed or waiting since `start` (None: no event yet, nothing used)."""
        if base <= 0:
            return Budget(0, self.used_since(start), limited=False)
        since = (start - grace_s) if start is not None else 0.0
        added = self._scalar(
            "SELECT COALESCE(SUM(added), 0) FROM print_budget WHERE at >= ?", (since,)
        )
        return Budget(base + int(added or 0), self.used_since(start))

    def used_since(self, start: float | None) -> int:
        marks = ",".join("?" * len(USES_PAPER))
        return int(
            self._scalar(
                f"SELECT COUNT(*) FROM prints WHERE state IN ({marks}) AND requested_at >= ?",
                (*USES_PAPER, start if start is not None else 0.0),
            )
            or 0
        )

    def counts_since(self, start: float | None) -> dict[str, int]:
        """Sheets by state since `start` (the dashboard's and /metrics' numbers)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM prints WHERE requested_at >= ? GROUP BY state",
                (start if start is not None else 0.0,),
            ).fetchall()
        return {state: int(n) for state, n in rows}

    def auto_candidates(self, since: float, limit: int = 50) -> list[str]:
        """Stored pictures shot at or after `since` that auto-print has not queued yet, oldest
        first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT j.job_id FROM jobs j WHERE j.result_path IS NOT NULL"
                " AND j.token IS NOT NULL AND j.created_at >= ?"
                # a strip session prints as one sheet: its own row (jobstore/sessions.py)
                " AND j.job_id NOT IN (SELECT job_id FROM session_frames)"
                " AND NOT EXISTS (SELECT 1 FROM prints p"
                " WHERE p.request_id = 'auto-' || j.job_id) ORDER BY j.created_at LIMIT ?",
                (since, limit),
            ).fetchall()
        return [r[0] for r in rows]
