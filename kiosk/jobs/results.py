"""A worker's result into the photo store and the ledger: the image guard before anything is
decoded, the event's frame and caption burned in (kiosk/jobs/branding.py), a file under a fresh
token, then the row. The first result of a job wins (jobstore/ledger.py `store_result`)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from booth.fsutil import atomic_write
from booth.images import BadImage, decode, inspect
from booth.limits import MAX_BYTES, RESULT_MAX_PIXELS
from jobstore.ledger import JobRow, Ledger, photo_dir
from jobstore.links import new_token
from jobstore.names import result_name
from kiosk.jobs.branding import Branding

log = logging.getLogger(__name__)

__all__ = ["BadImage", "ResultStore"]


class ResultStore:
    def __init__(self, data_dir: Path, ledger: Ledger, branding: Branding | None) -> None:
        self.data_dir = data_dir
        self.ledger = ledger
        self.branding = branding

    def store(self, row: JobRow, data: bytes) -> int | None:
        """Store `data` as the result of `row`; returns the bytes stored, or None when the
        ledger already had a result. Raises BadImage for a result the guard refuses, and
        OSError / sqlite3.Error when it cannot be stored now (nothing is left behind)."""
        # the byte and pixel limits from the header before any decoding, then the whole
        # stream checked (at 1/8 scale for a JPEG)
        info = inspect(data, MAX_BYTES, RESULT_MAX_PIXELS)
        decode(data, info, reduce=8)
        ext = info.extension
        if self.branding is not None:
            try:
                data, ext = self.branding.apply(data, row.created_at), ".jpg"
            except Exception:  # the guest still gets the picture, unbranded
                log.exception(
                    "job %s: branding the result failed; storing it as it came", row.job_id
                )
        token = new_token()
        path = photo_dir(self.data_dir, row.created_at) / result_name(row.job_id, token, ext)
        atomic_write(path, data)
        try:
            stored = self.ledger.store_result(
                row.job_id, str(path.relative_to(self.data_dir)), token
            )
        except sqlite3.Error:
            path.unlink(missing_ok=True)  # the next try writes it again
            raise
        if stored is None:
            path.unlink(missing_ok=True)
            return None
        return len(data)
