"""The cloud uploader: drains the upload queue (`jobstore/uploads.py`) into the bucket.

Why in the share process: it is the booth's housekeeper (it already runs retention, which must
delete the cloud copies too), it is the only unit that gets the bucket credentials
(/etc/booth/cloud.env), and its work never touches the kiosk: a slow or dead network cannot
delay a capture or a frame. It runs on a thread of its own; obstore's calls block only it.

One pass: queue every newly stored result (object keys fixed before the first attempt), upload
the due ones newest first (photo, then its phone page; the row turns `uploaded` only after both
were confirmed), then delete the objects of jobs that retention removed. A network error pauses
the whole queue with exponential backoff and jitter up to `cloud.retry_max_s`; refused
credentials, a missing bucket or a wrong clock pause it at the longest delay and are logged once,
in words an operator can act on. Guests keep the LAN link meanwhile.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from booth.clock import SystemClock
from booth.config import Config
from jobstore.age import DAY_S, age_s
from jobstore.ledger import JobRow, Ledger, ledger_path, resolve_in_store
from jobstore.uploads import Upload, Uploads
from share import pages
from share.cloud import Bucket, CloudError
from share.lookup import PhotoLookup, is_expired

log = logging.getLogger("share.uploader")

POLL_S = 0.2  # how often new results are looked for (an indexed query)
ORPHAN_EVERY_S = 2.0  # how often deleted jobs' objects are looked for
BATCH = 16  # uploads started per pass
PARALLEL = 4  # uploads at once: real links are latency-bound
MIN_LINK_S = 600  # a link that would die within this is not worth uploading
CRASH_ENV = "BOOTH_SHARE_CRASH_AT"  # tests: SIGKILL this process at a named point


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        log.warning("crash point %s: killing this process (test hook)", name)
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class UploaderState:
    """What the uploader is doing, for logs, `booth doctor` and tests."""

    state: str = "starting"  # starting | online | offline | refused
    message: str = ""
    uploaded: int = 0
    deleted: int = 0
    failures: int = 0


class Uploader:
    def __init__(self, cfg: Config, *, clock=time.time) -> None:
        self.cfg = cfg
        self.clock = clock
        path = ledger_path(cfg.data_dir)
        self.queue = Uploads(path)
        self.ledger = Ledger(path)
        self.texts = cfg.guest_texts()  # the cloud page speaks the booth's language
        self.lookup = PhotoLookup(
            self.ledger, cfg.data_dir, cfg.retention_days, SystemClock(cfg.trust_clock)
        )
        self.status = UploaderState()
        self._bucket: Bucket | None = None
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="upload")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._blocked_until = 0.0
        self._failures_in_row = 0
        self._next_orphans = 0.0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Uploader:
        self._thread = threading.Thread(target=self._loop, name="cloud-uploader", daemon=True)
        self._thread.start()
        c = self.cfg.cloud
        log.info(
            "cloud: uploading results to bucket %r at %s (%s links)",
            c.bucket,
            c.endpoint_url or f"AWS {c.region}",
            "public" if c.public_base_url else "presigned",
        )
        return self

    def wake(self) -> None:
        """Look at the queue now (after retention, or in tests)."""
        self._blocked_until = 0.0
        self._next_orphans = 0.0
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.queue.close()
        self.ledger.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("cloud: uploader pass failed; trying again")
                self._block(self.cfg.cloud.retry_max_s)
            self._wake.wait(POLL_S)
            self._wake.clear()

    # ------------------------------------------------------------------ one pass
    def run_once(self) -> int:
        """Queue new results, upload what is due, delete orphans; returns uploads done."""
        now = self.clock()
        self.queue.enqueue_new(
            self.cfg.cloud.key_prefix, now - self.cfg.retention_days * 86400, now
        )
        if now < self._blocked_until:
            return 0
        bucket = self._get_bucket()
        if bucket is None:
            return 0
        done = self._upload_due(bucket, now)
        if now >= self._next_orphans and now >= self._blocked_until:
            self._next_orphans = now + ORPHAN_EVERY_S
            self._delete_orphans(bucket)
        return done

    def _get_bucket(self) -> Bucket | None:
        if self._bucket is None:
            try:
                self._bucket = Bucket(self.cfg.cloud)
            except CloudError as exc:
                self._refused(exc)
                return None
        return self._bucket

    def _upload_due(self, bucket: Bucket, now: float) -> int:
        due = self.queue.due(now, BATCH)
        if not due:
            return 0
        futures = [(u, self._pool.submit(self._upload_one, bucket, u)) for u in due]
        done = 0
        error: CloudError | None = None
        for u, fut in futures:
            try:
                if fut.result():
                    done += 1
                else:  # expired or gone: retention removes it; look again much later
                    self.queue.mark_retry(
                        u.job_id, "not uploaded: the job expired or is gone", now + 3600
                    )
            except CloudError as exc:
                error = error or exc
                self.queue.mark_retry(u.job_id, exc.message, now + self._backoff())
            except OSError as exc:  # the result file: unreadable is not the network's fault
                log.error(
                    "cloud: job %s: cannot read its result (%s); retrying later",
                    u.job_id,
                    exc.strerror or exc,
                )
                self.queue.mark_retry(
                    u.job_id, f"result unreadable: {exc}", now + self.cfg.cloud.retry_max_s
                )
        if error is not None:
            if error.transient:
                self._offline(error)
            else:
                self._refused(error)
        elif done:
            self._online()
        return done

    def _upload_one(self, bucket: Bucket, u: Upload) -> bool:
        row = self.ledger.get(u.job_id)
        now = self.clock()
        if (
            row is None
            or row.result_path is None
            or is_expired(row, self.cfg.retention_days, self.lookup.clock)
        ):
            return False  # retention is removing it; the orphan sweep deletes any objects
        path = resolve_in_store(self.cfg.data_dir, row.result_path)
        if path is None:
            raise OSError(f"result path of job {u.job_id} leaves the data dir")
        size = path.stat().st_size  # OSError when it is gone: retried later
        life = round(self._expiry(row, now) - now)  # whole seconds, as signed
        if life < MIN_LINK_S:
            return False
        expires_at = now + life
        filename = self.lookup.filename(row)
        ctype = "image/png" if u.photo_key.endswith(".png") else "image/jpeg"
        photo_url = bucket.link(u.photo_key, life)
        page_url = bucket.link(u.page_key, life)
        html = pages.cloud_page(
            self.texts,
            self.cfg.kiosk.title,
            photo_url,
            filename,
            expires_at,
            secrets.token_urlsafe(16),
        )
        t0 = time.monotonic()
        max_age = max(60, life)
        bucket.put(
            u.photo_key,
            path,
            ctype,
            disposition=_inline(filename),
            cache_control=f"private, max-age={max_age}",
        )
        _crash_point("cloud_between_objects")
        bucket.put(
            u.page_key,
            html.encode("utf-8"),
            "text/html; charset=utf-8",
            cache_control="private, no-cache",
        )
        if self.queue.mark_uploaded(u.job_id, page_url, expires_at, self.clock()):
            self.status.uploaded += 1
            log.info(
                "cloud: job %s uploaded (%d KB) in %.2f s; link works until %s",
                u.job_id,
                size // 1024,
                time.monotonic() - t0,
                time.strftime("%Y-%m-%d %H:%M", time.localtime(expires_at)),
            )
            return True
        return False

    def _expiry(self, row: JobRow, now: float) -> float:
        """When the link stops working: retention deletes the objects when the job's age
        (jobstore/age.py: right across clock jumps; unknown counts as new) passes
        retention_days; a presigned link also dies after cloud.link_days (at most 7 days, the
        SigV4 limit)."""
        age = age_s(row, self.lookup.clock)
        gone = now + self.cfg.retention_days * DAY_S - (age or 0.0)
        if self.cfg.cloud.public_base_url:
            return gone
        return min(gone, now + self.cfg.cloud.link_days * DAY_S)

    def _delete_orphans(self, bucket: Bucket) -> None:
        while True:
            orphans = self.queue.orphans(200)
            if not orphans:
                return
            keys = [k for u in orphans for k in (u.photo_key, u.page_key)]
            try:
                bucket.delete(keys)
            except CloudError as exc:
                if exc.transient:
                    self._offline(exc)
                else:
                    self._refused(exc)
                return
            self.queue.forget(u.job_id for u in orphans)
            self.status.deleted += len(orphans)
            log.info("cloud: deleted the cloud copies of %d removed job(s)", len(orphans))

    # ------------------------------------------------------------------ states
    def _backoff(self) -> float:
        cap = self.cfg.cloud.retry_max_s
        delay = min(cap, 1.0 * 2 ** min(self._failures_in_row, 16))
        return max(0.2, delay * random.uniform(0.8, 1.0))

    def _block(self, delay: float) -> None:
        self._blocked_until = self.clock() + delay

    def _offline(self, exc: CloudError) -> None:
        delay = self._backoff()
        self._failures_in_row += 1
        self.status.failures += 1
        self._block(delay)
        if self.status.state != "offline":
            counts = self.queue.counts()
            log.warning(
                "cloud: %s; %d photo(s) queued, retrying with backoff (guests get the "
                "LAN link meanwhile)",
                exc.message,
                counts.get("queued", 0),
            )
        self.status.state, self.status.message = "offline", exc.message

    def _refused(self, exc: CloudError) -> None:
        self.status.failures += 1
        self._block(self.cfg.cloud.retry_max_s)
        if self.status.state != "refused" or self.status.message != exc.message:
            log.error(
                "cloud: %s. Uploads are paused (retrying every %g s); guests get the LAN "
                "link. `booth doctor` checks the bucket.",
                exc.message,
                self.cfg.cloud.retry_max_s,
            )
        self.status.state, self.status.message = "refused", exc.message

    def _online(self) -> None:
        if self.status.state in ("offline", "refused"):
            log.info(
                "cloud: the bucket works again; uploading the %d queued photo(s)",
                self.queue.counts().get("queued", 0),
            )
        self._failures_in_row = 0
        self.status.state, self.status.message = "online", ""


def _inline(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f'inline; filename="{ascii_name}"'
