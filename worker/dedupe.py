"""Finished jobs kept on disk for `worker.dedupe_hours`, so a redelivered job costs no model call.

Layout under `{data_dir}/worker/dedupe/`: `{job_id}.jpg` (the result) and `{job_id}.json` (the
final status and the booth). Both are written atomically, the image first, so a `.json` always
has its image. Several workers on one machine may share the folder.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from booth.fsutil import atomic_write, remove_stale_temps
from booth.protocol import Status, validate_job_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    status: Status
    result: bytes | None  # None for a failed job
    content_type: str


class DedupeStore:
    def __init__(self, folder: Path, keep_hours: float) -> None:
        self.folder = Path(folder)
        self.keep_s = keep_hours * 3600.0
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.folder)

    def _paths(self, job_id: str) -> tuple[Path, Path]:
        validate_job_id(job_id)  # never a path outside the folder
        return self.folder / f"{job_id}.json", self.folder / f"{job_id}.jpg"

    def put(self, status: Status, result: bytes | None, content_type: str = "image/jpeg") -> None:
        if self.keep_s <= 0:
            return
        meta, image = self._paths(status.job_id)
        if result is not None:
            atomic_write(image, result)
        atomic_write(
            meta,
            json.dumps(
                {
                    "status": status.to_dict(),
                    "content_type": content_type,
                    "has_result": result is not None,
                    "stored_at": time.time(),
                }
            ).encode(),
        )

    def get(self, job_id: str) -> Finished | None:
        """The stored outcome of a job finished within the keep window, else None."""
        if self.keep_s <= 0:
            return None
        meta, image = self._paths(job_id)
        try:
            record = json.loads(meta.read_bytes())
            if time.time() - float(record["stored_at"]) > self.keep_s:
                return None
            status = Status.from_dict(record["status"])
            result = image.read_bytes() if record.get("has_result") else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("dedupe record of job %s unreadable (%s); treating as new", job_id, exc)
            return None
        return Finished(status, result, str(record.get("content_type") or "image/jpeg"))

    def prune(self) -> int:
        """Delete records older than the keep window. Returns how many jobs were removed."""
        cutoff = time.time() - self.keep_s
        removed = 0
        for meta in self.folder.glob("*.json"):
            try:
                if meta.stat().st_mtime < cutoff:
                    meta.unlink(missing_ok=True)
                    (meta.with_suffix(".jpg")).unlink(missing_ok=True)
                    removed += 1
            except OSError:
                pass
        for image in self.folder.glob("*.jpg"):  # an image whose record never got written
            try:
                if image.stat().st_mtime < cutoff and not image.with_suffix(".json").exists():
                    image.unlink(missing_ok=True)
            except OSError:
                pass
        return removed
