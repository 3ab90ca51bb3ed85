"""The cloud uploader: drains the upload queue (`jobstore/uploads.py`) into the bucket.

Why in the share process: it is the booth's housekeeper (it already runs retention, which must
delete the cloud copies too), it is the only unit that gets the bucket credentials
(/etc/booth/cloud.env), and its work never touches the kiosk: a slow or dead network cannot
delay a capture or a frame. obstore's calls block only the uploader's own threads.

A scheduler thread looks every POLL_S for newly stored results and queues each at once (object
keys fixed before the first attempt), then starts due uploads, newest photo first, each on a
thread of its own, as slots free up. It never waits for an upload, so a new result starts
uploading within a second whatever is in flight: up to PARALLEL run at once, and a result just
stored that finds them all busy (a backlog draining) starts beside them. An upload is the
photo, then its phone page; the row turns `uploaded` only after both were confirmed. Deleting
the objects of jobs that retention removed runs on a thread of its own too.

The reveal clip (share/clipmaker.py) is usually made seconds after its photo went up, so it
follows in an upload of its own: the clip, then the page put again with it, at the same link.
Clips go after photos: one at a time, and only while no photo is uploading or due (a clip is up
to 3 MB; a photo stored meanwhile starts beside it at once, as beside any upload). A clip whose
uploads keep failing is given up after CLIP_ATTEMPTS, and its failures never pause the photos:
its page simply stays photo-only.

A strip session's frames go up as photos of their own, and its sheet's page links their objects
(as its LAN page links the frames' routes). The sheet is never held back for them: a frame
confirmed after the sheet's page was put makes the page go up again at the same link
(`jobstore/uploads.py` `page_frames`), and so does the strip clip, with the frames confirmed by
then.

A slow uplink: uploads at once share it, and the request timeout counts the whole upload, so a
backlog four wide can miss the timeout round after round and never drain. An upload that timed
out beside others therefore halves how many run at once (and new results then wait for a free
slot too); one that finished within half the timeout lets one more run. A lone upload timing
out, a network error or a 5xx pauses the queue with exponential backoff and jitter up to
`cloud.retry_max_s`; refused credentials, a missing bucket or a wrong clock pause it at the
longest delay and are logged once, in words an operator can act on. Guests keep the LAN link
meanwhile.

A full disk: the uploads only read, but their rows must be written. When a write of the ledger is
refused for the disk's sake (jobstore/schema.py disk_refused), one warning says so and no upload
starts for STORAGE_RETRY_S; what already went up (a photo with its page, a clip with its page)
is held in memory and recorded first when the uploader looks again, so nothing is put twice
while the disk is full, and a clip's try the disk cut short does not count as one of its
CLIP_ATTEMPTS. A stop meanwhile loses only the record: the next uploader puts the same keys.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from booth.clock import SystemClock
from booth.config import Config
from jobstore.age import DAY_S, age_s
from jobstore.clips import Clips
from jobstore.ledger import JobRow, Ledger, ledger_path, resolve_in_store
from jobstore.schema import disk_refused
from jobstore.uploads import CLIP_FAILED, CLIP_NONE, UPLOADED, ClipUpload, Upload, Uploads
from share import pages
from share.clipmaker import CATCH_UP_S, CHILD_TIMEOUT_S
from share.cloud import Bucket, CloudError
from share.lookup import PhotoLookup, is_expired, photo_size

log = logging.getLogger("share.uploader")

POLL_S = 0.2  # how often new results are looked for (an indexed query)
ORPHAN_EVERY_S = 2.0  # how often deleted jobs' objects are looked for
PARALLEL = 4  # uploads at once while the uplink carries them: real links are latency-bound
EXTRA_NEW = 4  # new results that may start beside PARALLEL busy slots
NEW_S = 10.0  # a result queued this recently and never tried is new: its guest is at the booth
MIN_LINK_S = 600  # a link that would die within this is not worth uploading
STOP_WAIT_S = 10.0  # how long stop() lets the uploads in flight finish
GONE_RETRY_S = 3600  # a job expired or deleted: retention removes it; look again much later
CLIP_ATTEMPTS = 8  # a clip is given up after this many failed tries (an hour at retry_max_s 30)
CLIP_RETRY_MAX_S = 3600.0  # the longest wait before a clip's next try
# a result shot this long ago without a clip gets none: the clip maker no longer starts one
CLIP_WAIT_S = CATCH_UP_S + CHILD_TIMEOUT_S + 60.0
FRAMES_FOLLOW_S = 3600.0  # a sheet's page is put again for frames confirmed this long after it
STORAGE_RETRY_S = 30.0  # the ledger refused a write for the disk's sake: how long uploads wait
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
    parallel: int = PARALLEL  # uploads allowed at once now (fewer after timeouts)
    clips: int = 0  # reveal clips uploaded (their pages put again with them)
    storage: str = ""  # why the ledger takes no writes (a full disk); "" while it does


@dataclass(frozen=True)
class Uploaded:
    """One upload confirmed by the bucket: what its row records."""

    url: str
    expires_at: float
    size: int
    frames: int  # a strip session's sheet: the frames its page shows


Outcome = Uploaded | None | BaseException  # None: the job expired or is gone


@dataclass(frozen=True)
class ClipSent:
    """A clip and its page put again, both confirmed."""

    size: int
    frames: int  # a strip session's sheet: the frames its page shows


@dataclass(frozen=True)
class NoClip:
    """Why a clip will not go up (its page stays photo-only)."""

    why: str


ClipOutcome = ClipSent | NoClip | None | BaseException  # None: the job is gone (the sweep's)


class Uploader:
    def __init__(self, cfg: Config, *, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.clock = clock
        path = ledger_path(cfg.data_dir)
        self.queue = Uploads(path)
        self.ledger = Ledger(path)
        self.clips = Clips(path)  # read only: a sheet's page put again keeps its clip
        self.texts = cfg.guest_texts()  # the cloud page speaks the booth's language
        self.lookup = PhotoLookup(
            self.ledger, cfg.data_dir, cfg.retention_days, SystemClock(cfg.trust_clock)
        )
        self.status = UploaderState()
        self._bucket: Bucket | None = None
        # a thread per upload (and per orphan sweep), ended with it: obstore reads the photo
        # on the calling thread, and each thread that ever did keeps a malloc arena of freed
        # buffers; a pool grows to its maximum (+20 MB measured with 9 threads for 4 uploads)
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()  # the fields below, and each outcome with its row
        self._in_flight: dict[str, int] = {}  # job id → most uploads at once while it ran
        self._clip_in_flight: str | None = None  # the job whose clip is going up
        self._page_not_before: dict[str, float] = {}  # a sheet's page put again failed: wait
        # what went up but could not be recorded (the disk): recorded before anything starts
        self._held: dict[str, Callable[[], bool]] = {}
        self._storage_until = 0.0  # no upload starts before this while the disk refuses writes
        self._sweeping = False
        self._new_after: float | None = None  # rows queued after the first look are new results
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

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop queueing and starting; give the uploads in flight `timeout` to finish (one cut
        off is simply tried again by the next uploader: same keys)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        end = time.monotonic() + timeout
        with self._lock:
            running = set(self._workers)
        for worker in running:
            worker.join(max(0.0, end - time.monotonic()))
        self.queue.close()
        self.clips.close()
        self.ledger.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:
                if disk_refused(exc):
                    self._storage_full(exc)
                else:
                    log.exception("cloud: uploader pass failed; trying again")
                    self._block(self.cfg.cloud.retry_max_s)
            self._wake.wait(POLL_S)
            self._wake.clear()

    # ------------------------------------------------------------------ scheduling
    def run_once(self) -> int:
        """Queue new results, start what is due and fits (photos, then a clip when no photo
        is uploading), start an orphan sweep when it is time; returns the uploads started.
        Never waits for an upload. Raises sqlite3.OperationalError while the disk refuses the
        ledger's writes (see the module's docstring)."""
        now = self.clock()
        if now < self._storage_until:
            return 0
        if self._held:
            self._record_held()
        if self.queue.enqueue_new(
            self.cfg.cloud.key_prefix, now - self.cfg.retention_days * DAY_S, now
        ):
            with self._lock:
                self._wrote()
        if self._new_after is None:
            self._new_after = now  # what this first look queued is a backlog, not a guest's
        if now < self._blocked_until:
            return 0
        bucket = self._get_bucket()
        if bucket is None:
            return 0
        started = self._start_due(bucket, now)
        started += self._start_pages(bucket, now)
        started += self._start_clip(bucket, now)
        if now >= self._next_orphans and now >= self._blocked_until:
            self._next_orphans = now + ORPHAN_EVERY_S
            self.queue.settle_clips(now - CLIP_WAIT_S)
            with self._lock:
                sweep = not self._sweeping
                self._sweeping = True
            if sweep:
                self._submit(self._sweep, bucket)
        return started

    def _get_bucket(self) -> Bucket | None:
        if self._bucket is None:
            try:
                self._bucket = Bucket(self.cfg.cloud)
            except CloudError as exc:
                with self._lock:
                    self._refused(exc)
                return None
        return self._bucket

    def _is_new(self, u: Upload, now: float) -> bool:
        """A guest's result just stored, not yet tried: not the backlog found at start, nor
        results that waited out an outage (those take turns, or a backlog would run eight
        photos at once, each held in memory whole)."""
        return (
            u.attempts == 0
            and self._new_after is not None
            and u.queued_at > self._new_after
            and now - u.queued_at < NEW_S
        )

    def _start_due(self, bucket: Bucket, now: float) -> int:
        with self._lock:
            busy = list(self._in_flight) + list(self._held)
        due = self.queue.due(now, PARALLEL + EXTRA_NEW, skip=busy)
        started = 0
        for u in due:
            with self._lock:
                n = len(self._in_flight)
                fits = n < self.status.parallel or (
                    self._is_new(u, now)
                    and self.status.parallel == PARALLEL
                    and n < PARALLEL + EXTRA_NEW
                )
                if not fits:
                    continue
                for job_id in self._in_flight:
                    self._in_flight[job_id] = max(self._in_flight[job_id], n + 1)
                self._in_flight[u.job_id] = n + 1
            self._submit(self._run, bucket, u)
            started += 1
        return started

    def _start_clip(self, bucket: Bucket, now: float) -> int:
        """The newest due clip, when no photo is uploading (so none is due either: a due
        photo finds a free slot) and no other clip is: a clip never holds a photo back."""
        with self._lock:
            if self._in_flight or self._clip_in_flight is not None:
                return 0
        due = self.queue.due_clips(now, 1)
        with self._lock:
            if not due or due[0].upload.job_id in self._held:
                return 0
            self._clip_in_flight = due[0].upload.job_id
        self._submit(self._run_clip, bucket, due[0])
        return 1

    def _start_pages(self, bucket: Bucket, now: float) -> int:
        """Sheets whose page shows fewer frames than are confirmed now: each page put again
        in a free slot (a page is a few KB). The busy jobs are read before the query, and only
        this thread starts uploads, so a clip that just ended is seen with its row."""
        with self._lock:
            busy = self._busy()
            free = self.status.parallel - len(self._in_flight)
        if free <= 0:
            return 0
        started = 0
        for u in self.queue.due_frame_pages(now - FRAMES_FOLLOW_S, free + len(busy)):
            if u.job_id in busy or now < self._page_not_before.get(u.job_id, 0.0):
                continue
            with self._lock:
                if len(self._in_flight) >= self.status.parallel:
                    break
                self._in_flight[u.job_id] = len(self._in_flight) + 1
            self._submit(self._run_page, bucket, u.job_id)
            started += 1
        return started

    def _busy(self) -> set[str]:
        """The jobs whose objects are being put now (under _lock)."""
        busy = set(self._in_flight) | set(self._held)
        if self._clip_in_flight is not None:
            busy.add(self._clip_in_flight)
        return busy

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        def work() -> None:
            try:
                fn(*args)
            finally:
                with self._lock:
                    self._workers.discard(threading.current_thread())

        worker = threading.Thread(target=work, name="cloud-upload", daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()

    # ------------------------------------------------------------------ one upload
    def _run(self, bucket: Bucket, u: Upload) -> None:
        """On a pool thread: upload, then record the outcome with the row; only then is the
        job out of flight, so the scheduler never starts it twice."""
        t0 = time.monotonic()
        outcome: Outcome
        try:
            outcome = self._upload_one(bucket, u)
        except (CloudError, OSError) as exc:
            outcome = exc
        except Exception as exc:  # a bug: logged, and the row waits the longest delay
            log.exception("cloud: job %s: upload failed unexpectedly", u.job_id)
            outcome = exc
        took = time.monotonic() - t0
        try:
            self._finish(u, outcome, took)
        except Exception as exc:
            if not disk_refused(exc):
                log.exception("cloud: job %s: cannot record the upload's outcome", u.job_id)
            else:
                if isinstance(outcome, Uploaded):  # in the bucket: recorded, never put again
                    self._hold(u.job_id, partial(self._finish, u, outcome, took))
                self._storage_full(exc)
        finally:
            with self._lock:
                self._in_flight.pop(u.job_id, None)
            self._wake.set()  # a slot is free

    def _finish(self, u: Upload, outcome: Outcome, took: float) -> bool:
        """Record an upload's outcome with its row (each branch writes it); True."""
        now = self.clock()
        with self._lock:
            crowd = self._in_flight.get(u.job_id, 1)
            if isinstance(outcome, Uploaded):
                if self.queue.mark_uploaded(
                    u.job_id, outcome.url, outcome.expires_at, now, outcome.frames
                ):
                    self.status.uploaded += 1
                    log.info(
                        "cloud: job %s uploaded (%d KB) in %.2f s; link works until %s",
                        u.job_id,
                        outcome.size // 1024,
                        took,
                        time.strftime("%Y-%m-%d %H:%M", time.localtime(outcome.expires_at)),
                    )
                self._online(took)
            elif outcome is None:
                self.queue.mark_retry(
                    u.job_id, "not uploaded: the job expired or is gone", now + GONE_RETRY_S
                )
            elif isinstance(outcome, CloudError) and outcome.kind == "timeout" and crowd > 1:
                self.queue.mark_retry(u.job_id, outcome.message, now)  # again, fewer at once
                self._crowded(outcome, crowd, took)
            elif isinstance(outcome, CloudError):
                self.queue.mark_retry(u.job_id, outcome.message, now + self._backoff())
                if outcome.transient:
                    self._offline(outcome)
                else:
                    self._refused(outcome)
            elif isinstance(outcome, OSError):  # the result file: not the network's fault
                log.error(
                    "cloud: job %s: cannot read its result (%s); retrying later",
                    u.job_id,
                    outcome.strerror or outcome,
                )
                self.queue.mark_retry(
                    u.job_id, f"result unreadable: {outcome}", now + self.cfg.cloud.retry_max_s
                )
            else:
                self.queue.mark_retry(
                    u.job_id,
                    f"internal error: {type(outcome).__name__}",
                    now + self.cfg.cloud.retry_max_s,
                )
            self._wrote()
        return True

    def _upload_one(self, bucket: Bucket, u: Upload) -> Uploaded | None:
        row = self.ledger.get(u.job_id)
        now = self.clock()
        if (
            row is None
            or row.result_path is None
            or is_expired(row, self.cfg.retention_days, self.lookup.clock)
        ):
            return None  # retention is removing it; the orphan sweep deletes any objects
        path = resolve_in_store(self.cfg.data_dir, row.result_path)
        if path is None:
            raise OSError(f"result path of job {u.job_id} leaves the data dir")
        size = path.stat().st_size  # OSError when it is gone: retried later
        life = round(self._expiry(row, now) - now)  # whole seconds, as signed
        if life < MIN_LINK_S:
            return None
        expires_at = now + life
        filename = self.lookup.filename(row)
        ctype = "image/png" if u.photo_key.endswith(".png") else "image/jpeg"
        page_url = bucket.link(u.page_key, life)
        page, frames = self._page(bucket, u, row, life, expires_at)
        bucket.put(
            u.photo_key,
            path,
            ctype,
            disposition=_inline(filename),
            cache_control=_private(life),
            timeout_s=bucket.upload_timeout(size),
        )
        _crash_point("cloud_between_objects")
        _put_page(bucket, u.page_key, page)
        return Uploaded(page_url, expires_at, size, frames)

    def _page(
        self,
        bucket: Bucket,
        u: Upload,
        row: JobRow,
        life: int,
        expires_at: float,
        clip: pages.ClipLink | None = None,
    ) -> tuple[bytes, int]:
        """The cloud page of a result (with its clip once that is up; a strip session's
        sheet with its frames confirmed so far) and how many frames it shows: its links
        signed for `life` seconds, so they end with the page's promise, `expires_at`."""
        frames = self._frame_links(bucket, u.job_id, life)
        path = resolve_in_store(self.cfg.data_dir, row.result_path or "")
        html = pages.cloud_page(
            self.texts,
            self.cfg.kiosk.title,
            bucket.link(u.photo_key, life),
            self.lookup.filename(row),
            expires_at,
            secrets.token_urlsafe(16),
            size=photo_size(path) if path is not None else None,
            clip=clip,
            frames=frames,
        )
        return html.encode("utf-8"), len(frames)

    def _frame_links(self, bucket: Bucket, job_id: str, life: int) -> list[pages.FrameLink]:
        """A sheet's frames whose upload is confirmed, each its own object (a frame is never
        older than its sheet, so its object outlives the sheet's link); [] for a photo."""
        out = []
        for n, fu in self.queue.frames_of(job_id):
            frame = self.ledger.get(fu.job_id)
            if frame is None or frame.result_path is None:
                continue  # deleted meanwhile: the orphan sweep takes its objects
            path = resolve_in_store(self.cfg.data_dir, frame.result_path)
            src = bucket.link(fu.photo_key, life)
            size = photo_size(path) if path is not None else None
            out.append(pages.FrameLink(n, src, src, self.lookup.filename(frame), size))
        return out

    def _row_clip(self, bucket: Bucket, u: Upload, row: JobRow, life: int) -> pages.ClipLink | None:
        """The clip a page put again keeps: the one already in the bucket, if any."""
        if u.clip_state != UPLOADED or u.clip_key is None:
            return None
        clip = self.clips.ready(u.job_id)
        if clip is None or not clip.width or not clip.height:
            return None
        url = bucket.link(u.clip_key, life)
        name = pages.clip_filename(self.lookup.filename(row))
        return pages.ClipLink(url, url, name, pages.PhotoSize(clip.width, clip.height))

    # ------------------------------------------------------------------ a sheet's page again
    def _run_page(self, bucket: Bucket, job_id: str) -> None:
        """On a thread of its own: a sheet's page put again with the frames confirmed since."""
        again_at = 0.0
        try:
            frames = self._put_page_again(bucket, job_id)
            if frames is None:
                again_at = self.clock() + GONE_RETRY_S
        except CloudError as exc:
            again_at = self.clock() + self.cfg.cloud.retry_max_s
            with self._lock:
                if exc.transient:
                    self._offline(exc)
                else:
                    self._refused(exc)
        except Exception as exc:
            if disk_refused(exc):  # put, but not marked: put again once the disk takes it
                self._storage_full(exc)
                again_at = self.clock() + STORAGE_RETRY_S
            else:
                log.exception("cloud: job %s: putting its page again failed", job_id)
                again_at = self.clock() + self.cfg.cloud.retry_max_s
        finally:
            with self._lock:
                self._in_flight.pop(job_id, None)
                if again_at:
                    self._page_not_before[job_id] = again_at
                else:
                    self._page_not_before.pop(job_id, None)
            self._wake.set()

    def _put_page_again(self, bucket: Bucket, job_id: str) -> int | None:
        """The page at the same link, with its clip if that is up; the frames it shows, or
        None when the job is gone or its link ends too soon."""
        u = self.queue.get(job_id)  # read now: no clip of this job can start meanwhile
        row = self.ledger.get(job_id)
        if u is None or u.state != UPLOADED or row is None or row.result_path is None:
            return None
        if is_expired(row, self.cfg.retention_days, self.lookup.clock):
            return None
        now = self.clock()
        expires_at = u.url_expires_at if u.url_expires_at is not None else self._expiry(row, now)
        life = round(expires_at - now)
        if life < MIN_LINK_S:
            return None
        page, frames = self._page(
            bucket, u, row, life, expires_at, self._row_clip(bucket, u, row, life)
        )
        _put_page(bucket, u.page_key, page)
        self.queue.mark_page_frames(job_id, frames)
        log.info("cloud: job %s: its page put again with %d frame(s)", job_id, frames)
        return frames

    # ------------------------------------------------------------------ one clip
    def _run_clip(self, bucket: Bucket, c: ClipUpload) -> None:
        """On a thread of its own: the clip and its page, then the outcome with the row."""
        t0 = time.monotonic()
        outcome: ClipOutcome
        try:
            outcome = self._upload_clip(bucket, c)
        except (CloudError, OSError) as exc:
            outcome = exc
        except Exception as exc:  # a bug: logged, and the clip counts it as a failed try
            if not disk_refused(exc):  # the disk's: _finish_clip counts nothing
                log.exception("cloud: job %s: clip upload failed unexpectedly", c.upload.job_id)
            outcome = exc
        took = time.monotonic() - t0
        try:
            self._finish_clip(c, outcome, took)
        except Exception as exc:
            if not disk_refused(exc):
                log.exception("cloud: job %s: cannot record the clip's outcome", c.upload.job_id)
            else:
                if isinstance(outcome, ClipSent):  # in the bucket: recorded, never put again
                    self._hold(c.upload.job_id, partial(self._finish_clip, c, outcome, took))
                self._storage_full(exc)
        finally:
            with self._lock:
                self._clip_in_flight = None
            self._wake.set()

    def _upload_clip(self, bucket: Bucket, c: ClipUpload) -> ClipOutcome:
        """The clip object, then the page put again with it, at the same link and with the
        same end as the photo's."""
        u = c.upload
        row = self.ledger.get(u.job_id)
        if row is None:
            return None  # deleted: the orphan sweep deletes its objects and row
        if row.result_path is None or is_expired(row, self.cfg.retention_days, self.lookup.clock):
            return NoClip("the job expired")
        now = self.clock()
        expires_at = u.url_expires_at if u.url_expires_at is not None else self._expiry(row, now)
        life = round(expires_at - now)
        if life < MIN_LINK_S:
            return NoClip("the link ends too soon")
        path = resolve_in_store(self.cfg.data_dir, c.clip_path)
        if path is None:
            raise OSError(f"clip path of job {u.job_id} leaves the data dir")
        size = path.stat().st_size  # OSError when it is gone: a failed try
        filename = self.lookup.filename(row)
        clip_name = pages.clip_filename(filename)
        self.queue.start_clip(u.job_id, c.key)
        clip_url = bucket.link(c.key, life)
        clip = pages.ClipLink(clip_url, clip_url, clip_name, pages.PhotoSize(c.width, c.height))
        page, frames = self._page(bucket, u, row, life, expires_at, clip)
        bucket.put(
            c.key,
            path,  # read by the client itself, never a Python bytes object
            "video/mp4",
            disposition=_inline(clip_name),
            cache_control=_private(life),
            timeout_s=bucket.upload_timeout(size),
        )
        _put_page(bucket, u.page_key, page)
        return ClipSent(size, frames)

    def _finish_clip(self, c: ClipUpload, outcome: ClipOutcome, took: float) -> bool:
        """Record a clip's outcome; True when something was written. A failure waits longer
        each time and never pauses the photos' queue; after CLIP_ATTEMPTS the page stays
        photo-only. A try the disk stopped (its start could not be recorded, so nothing went
        up) is not the clip's failure: nothing is counted."""
        job_id, now = c.upload.job_id, self.clock()
        if isinstance(outcome, BaseException) and disk_refused(outcome):
            self._storage_full(outcome)
            return False
        if isinstance(outcome, ClipSent):
            self.queue.mark_page_frames(job_id, outcome.frames)
            marked = self.queue.mark_clip_uploaded(job_id, now)
            with self._lock:
                self._wrote()
                if marked:
                    self.status.clips += 1
            if marked:
                log.info(
                    "cloud: job %s: its clip uploaded (%d KB) in %.2f s; the cloud page offers it",
                    job_id,
                    outcome.size // 1024,
                    took,
                )
            return True
        if isinstance(outcome, NoClip):
            self.queue.end_clip(job_id, CLIP_NONE, outcome.why)
            with self._lock:
                self._wrote()
            return True
        if outcome is None:
            return False
        if isinstance(outcome, CloudError):
            why = outcome.message
        elif isinstance(outcome, OSError):
            why = f"clip unreadable: {outcome.strerror or outcome}"
        else:
            why = f"internal error: {type(outcome).__name__}"
        tries = c.upload.clip_attempts + 1
        wait = min(CLIP_RETRY_MAX_S, self.cfg.cloud.retry_max_s * 2 ** (tries - 1))
        self.queue.mark_clip_retry(job_id, why, now + wait * random.uniform(0.8, 1.0))
        if tries >= CLIP_ATTEMPTS:
            self.queue.end_clip(job_id, CLIP_FAILED, why)
            log.warning(
                "cloud: job %s: its clip could not be uploaded (%s; tried %d×); its cloud page "
                "stays photo-only",
                job_id,
                why,
                tries,
            )
        else:
            log.info("cloud: job %s: clip upload failed (%s); trying again later", job_id, why)
        with self._lock:
            self._wrote()
        return True

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

    def _sweep(self, bucket: Bucket) -> None:
        """On a pool thread: delete the objects of jobs that are gone, then their rows."""
        try:
            while not self._stop.is_set():
                found = self.queue.orphans(200)
                with self._lock:  # after the query: an upload started before it is seen
                    busy = self._busy()
                # a job deleted mid-upload waits for the next sweep, or its objects would
                # come back after the delete
                orphans = [u for u in found if u.job_id not in busy]
                if not orphans:
                    return
                keys = [k for u in orphans for k in u.objects]
                try:
                    bucket.delete(keys)
                except CloudError as exc:
                    with self._lock:
                        if exc.transient:
                            self._offline(exc)
                        else:
                            self._refused(exc)
                    return
                self.queue.forget(u.job_id for u in orphans)
                with self._lock:
                    self.status.deleted += len(orphans)
                log.info("cloud: deleted the cloud copies of %d removed job(s)", len(orphans))
        except Exception as exc:
            if disk_refused(exc):  # deleted, not forgotten: deleted again (a no-op) later
                self._storage_full(exc)
            else:
                log.exception("cloud: deleting the cloud copies of removed jobs failed")
        finally:
            with self._lock:
                self._sweeping = False

    # ------------------------------------------------------------------ a full disk
    def _hold(self, job_id: str, record: Callable[[], bool]) -> None:
        """What went up but could not be recorded: recorded first when the uploader looks again
        (and the job counts as busy meanwhile, so it is not started again)."""
        with self._lock:
            self._held[job_id] = record

    def _record_held(self) -> None:
        """Record what went up while the disk refused it (raises while it still does)."""
        with self._lock:
            held = list(self._held.items())
        for job_id, record in held:
            record()
            with self._lock:
                self._held.pop(job_id, None)

    def _storage_full(self, exc: BaseException) -> None:
        """The ledger refused a write for the disk's sake: one warning, and no upload starts
        for STORAGE_RETRY_S."""
        with self._lock:
            self._storage_until = self.clock() + STORAGE_RETRY_S
            if not self.status.storage:
                log.warning(
                    "cloud: uploads wait: the ledger cannot be written (%s); what went up is "
                    "recorded once it can, guests keep their links; trying again every %g s",
                    exc,
                    STORAGE_RETRY_S,
                )
            self.status.storage = str(exc)

    # ------------------------------------------------------------------ states (under _lock)
    def _wrote(self) -> None:
        """A write of the ledger went through: one line if the disk had refused them."""
        if self.status.storage:
            log.info("cloud: the ledger takes writes again; uploads go on")
            self.status.storage = ""
            self._storage_until = 0.0

    def _backoff(self) -> float:
        cap = self.cfg.cloud.retry_max_s
        delay = min(cap, 1.0 * 2 ** min(self._failures_in_row, 16))
        return max(0.2, delay * random.uniform(0.8, 1.0))

    def _block(self, delay: float) -> None:
        self._blocked_until = max(self._blocked_until, self.clock() + delay)

    def _offline(self, exc: CloudError) -> None:
        if self.clock() >= self._blocked_until:  # the uploads in flight fail together: once
            self._failures_in_row += 1
            self._block(self._backoff())
        self.status.failures += 1
        if self.status.state != "offline":
            log.warning(
                "cloud: %s; %d photo(s) queued, retrying with backoff (guests get the "
                "LAN link meanwhile)",
                exc.message,
                self.queue.queued(),
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

    def _crowded(self, exc: CloudError, crowd: int, took: float) -> None:
        """An upload timed out beside others: the uplink cannot carry that many at once."""
        self.status.failures += 1
        fewer = max(1, min(self.status.parallel, crowd // 2))
        if fewer < self.status.parallel:
            log.warning(
                "cloud: an upload timed out after %.0f s with %d running at once: the uplink "
                "is too slow for that many; now at most %d at a time",
                took,
                crowd,
                fewer,
            )
            self.status.parallel = fewer

    def _online(self, took: float) -> None:
        if self.status.state in ("offline", "refused"):
            log.info(
                "cloud: the bucket works again; uploading the %d queued photo(s)",
                self.queue.queued() + 1,  # the one just confirmed was one of them
            )
        self._failures_in_row = 0
        if took < self.cfg.cloud.timeout_s / 2 and self.status.parallel < PARALLEL:
            self.status.parallel += 1  # the uplink keeps up: one more at once
        self.status.state, self.status.message = "online", ""


def _private(life: int) -> str:
    """Cache-Control of a photo or clip: private, for as long as its link works."""
    return f"private, max-age={max(60, life)}"


def _put_page(bucket: Bucket, key: str, page: bytes) -> None:
    """A cloud page: never cached, as it is put again when the clip follows."""
    bucket.put(key, page, "text/html; charset=utf-8", cache_control="private, no-cache")


def _inline(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f'inline; filename="{ascii_name}"'
