"""Token → stored result, through the ledger only.

Why a module of its own: this is the one place that decides what a client may download. A token
is checked against a strict pattern before it reaches SQL, the job must be completed with a
result, not older than the retention period (an age no clock jump can change: jobstore/age.py),
and its file must resolve inside the data dir. Nothing a client sends ever becomes part of a file
path.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from booth.clock import Clock, SystemClock
from booth.images import BadImage, declared_size, sniff_image_type
from booth.limits import MAX_BYTES
from jobstore.age import expired
from jobstore.ledger import JobRow, Ledger, resolve_in_store
from jobstore.links import valid_token
from share.pages import PhotoSize

log = logging.getLogger("share.lookup")

_NAME_SAFE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class SharedPhoto:
    """A result a guest may download."""

    job_id: str
    token: str
    path: Path
    filename: str
    created_at: float


_SYSTEM_CLOCK: SystemClock | None = None


def system_clock() -> SystemClock:
    global _SYSTEM_CLOCK
    if _SYSTEM_CLOCK is None:
        _SYSTEM_CLOCK = SystemClock()
    return _SYSTEM_CLOCK


def is_expired(row: JobRow, retention_days: float, clock: Clock | None = None) -> bool:
    """Older than the retention period: treated as gone even before retention deletes it."""
    return expired(row, retention_days, clock or system_clock())


def servable(row: JobRow | None, retention_days: float, clock: Clock | None = None) -> bool:
    """A finished picture: the kiosk stored the result (which is what issues the token).

    Deliberately the same rule as the kiosk's result screen (a stored result is ready), so a QR
    on screen never leads to a 404 while the `completed` status is still on its way. Jobs that
    are pending or processing without a result have no token at all.
    """
    return (
        row is not None
        and bool(row.result_path)
        and bool(row.token)
        and not is_expired(row, retention_days, clock)
    )


def day_start(ts: float) -> float:
    """Local midnight of the day of `ts` (photo folders and file names use local days)."""
    t = time.localtime(ts)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


class PhotoLookup:
    """Resolves tokens for the server; caches the (immutable) download file names."""

    def __init__(
        self,
        ledger: Ledger,
        data_dir: str | Path,
        retention_days: float,
        clock: Clock | None = None,
    ) -> None:
        self.ledger = ledger
        self.clock = clock or system_clock()
        self.data_dir = Path(data_dir)
        self.retention_days = retention_days
        self._names: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, token: str) -> SharedPhoto | None:
        """The downloadable result for `token`, or None (unknown, expired, not finished, gone)."""
        if not valid_token(token):
            return None
        row = self.ledger.by_token(token)
        if not servable(row, self.retention_days, self.clock):
            return None
        assert row is not None and row.result_path is not None
        path = resolve_in_store(self.data_dir, row.result_path)
        if path is None or not path.is_file():
            return None
        return SharedPhoto(
            job_id=row.job_id,
            token=row.token or token,
            path=path,
            filename=self.filename(row),
            created_at=row.created_at,
        )

    def filename(self, row: JobRow) -> str:
        """`drip-2026-11-24-0042.jpg`: style, local date, the shot's number that day. A strip
        session's sheet is no shot: `drip-strip-2026-11-24-0003.jpg` (or `grid`), the day's
        third session; the shots' numbers count its frames, never the sheet."""
        with self._lock:
            name = self._names.get(row.job_id)
            if name is not None:
                self._names.move_to_end(row.job_id)
                return name
        start = day_start(row.created_at)
        sheets = self.ledger.sheets_since(start)
        layout = sheets.get(row.job_id)
        number = sum(
            1
            for r in self.ledger.since(start)
            if r.created_at < start + 86400
            and (r.job_id in sheets) == (layout is not None)
            and (r.created_at, r.job_id) <= (row.created_at, row.job_id)
        )
        style = _NAME_SAFE.sub("-", row.style.lower()).strip("-")[:24] or "photo"
        if layout is not None:
            style += "-" + _NAME_SAFE.sub("-", layout.lower()).strip("-")[:8]
        suffix = ".png" if row.result_path and row.result_path.lower().endswith(".png") else ".jpg"
        name = (
            f"{style}-{time.strftime('%Y-%m-%d', time.localtime(row.created_at))}"
            f"-{max(number, 1):04d}{suffix}"
        )
        with self._lock:
            self._names[row.job_id] = name
            while len(self._names) > 2048:
                self._names.popitem(last=False)
        return name


HEADER_BYTES = 256 * 1024  # where a JPEG's frame header is, after EXIF and ICC segments


@functools.lru_cache(maxsize=1024)
def photo_size(path: Path) -> PhotoSize | None:
    """A stored result's pixel size, from its header (a result never changes, so it is kept):
    the pages (LAN and cloud) give the photo's box its size before the photo arrives."""
    try:
        with open(path, "rb") as f:
            data = f.read(HEADER_BYTES)
            kind = sniff_image_type(data)
            if kind is None:
                return None
            try:
                width, height = declared_size(data, kind)
            except BadImage:  # the frame header lies further in: read the whole file
                data += f.read(MAX_BYTES)
                width, height = declared_size(data, kind)
    except (OSError, BadImage) as exc:
        log.warning("share: no size for %s: %s", path.name, exc)
        return None
    return PhotoSize(width, height) if width > 0 and height > 0 else None
