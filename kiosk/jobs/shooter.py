"""Taking the shot: the still, its files and `pending` row, then the job published.

All of it on a capture thread, never the caller's (the frame loop): the blocking camera call,
the framing the guest saw (`crop_to_aspect`: the preview is the camera stream cover-cropped to
the screen; a view, no copy), the encodes and the ledger (kiosk/jobs/capture.py), then the
transactional outbox
(kiosk/jobs/outbox.py: the store thread marks the row sent when the broker acks). The screens
hear of each step as a `JobEvent`."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from booth.clock import BootStamp, Clock, stamp
from booth.config import Config
from booth.images import BadImage, decode, inspect
from booth.protocol import JobStatus, new_job_id
from jobstore.ledger import Ledger
from kiosk.jobs.capture import (
    AiCopy,
    Encodes,
    ShotWriter,
    crash_point,
    crop_to_aspect,
    fit_within,
    release_heap,
)
from kiosk.jobs.outbox import Outbox
from kiosk.jobs.trouble import Trouble
from kiosk.jobs.views import JobEvent, JobView, JobViews

log = logging.getLogger(__name__)


class Shooter:
    def __init__(
        self,
        cfg: Config,
        ledger: Ledger,
        outbox: Outbox,
        views: JobViews,
        trouble: Trouble,
        clock: Callable[[], float],
        booth_clock: Clock,
    ) -> None:
        self.cfg = cfg
        self.booth = cfg.booth_id
        self.ledger = ledger
        self.outbox = outbox
        self.views = views
        self.trouble = trouble
        self.clock = clock
        self.booth_clock = booth_clock
        self.shots = ShotWriter(cfg, ledger, booth_clock)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="capture")

    def shutdown(self) -> None:
        """Finish the shots already taken (they are the guests' photos), then stop."""
        self._pool.shutdown(wait=True, cancel_futures=False)
        self.shots.shutdown()

    def capture(
        self,
        grab: Callable[[], np.ndarray],
        style: str,
        display_size: tuple[int, int] | None = None,
    ) -> str:
        """Take the shot with `grab` (blocking camera call) off the caller's thread; returns the
        job id at once. With `display_size` the shot is cropped to the screen's aspect ratio
        (the preview's framing)."""
        job_id, style, created = self._created(style)

        def task() -> None:
            shoot()
            release_heap()  # the shot's buffers are gone now (shoot's locals)

        def shoot() -> None:
            when = stamp(self.booth_clock)  # here, not on the caller's (UI) thread
            try:
                bgr = grab()
                if display_size:
                    bgr = crop_to_aspect(bgr, display_size)  # a view: the encoders take it
            except Exception as exc:  # any camera failure is the guest's error screen
                log.error("capture failed: %s", exc)
                self.trouble.report("camera", f"capture failed: {exc}")
                self._failed(job_id, style, created, exc, "camera")
                return
            encodes = self.shots.start_encodes(bgr, None)
            if display_size:
                self._show_shot(job_id, style, created, encodes[1], display_size)
            self._store_and_publish(job_id, style, created, bgr, encodes=encodes, when=when)

        self._pool.submit(task)
        return job_id

    def photo(self, data: bytes, style: str | None = None) -> str:
        """A given photo (JPEG/PNG bytes) through the same pipeline. Bad bytes: ValueError.

        The image guard reads the header first: a photo over the byte or pixel limits is
        refused before any pixel is decoded."""
        try:
            info = inspect(data)
            bgr = decode(data, info)
        except BadImage as exc:
            raise ValueError(f"the photo cannot be used: {exc}") from None
        job_id, style, created = self._created(style)
        original = data if info.kind == "image/jpeg" else None
        self._pool.submit(self._store_and_publish, job_id, style, created, bgr, original)
        return job_id

    def _show_shot(
        self,
        job_id: str,
        style: str,
        created: float,
        ai: Future[AiCopy],
        display_size: tuple[int, int],
    ) -> None:
        """The screen's copy of the shot (RGB, display-sized), made from the AI copy's pixels
        once they are ready (the 12 MP are scaled once, for the model)."""

        def done(f: Future[AiCopy]) -> None:
            if f.exception() is not None:
                return  # the store step reports it
            small = fit_within(f.result().pixels, display_size)
            self.views.put(
                JobEvent(
                    "captured",
                    JobView(job_id, style, created, JobStatus.PENDING),
                    image=cv2.cvtColor(small, cv2.COLOR_BGR2RGB),
                )
            )

        ai.add_done_callback(done)

    def _created(self, style: str | None) -> tuple[str, str, float]:
        """A new job id, the style it gets (the default for one the config lacks), its time;
        the screens hear of it at once."""
        job_id = new_job_id()
        style = style if style in self.cfg.styles else self.cfg.kiosk.default_style
        created = self.clock()
        self.views.put(JobEvent("created", JobView(job_id, style, created, JobStatus.PENDING)))
        return job_id, style, created

    def _failed(self, job_id: str, style: str, created: float, exc: Exception, why: str) -> None:
        self.views.put(
            JobEvent(
                "capture_failed",
                JobView(job_id, style, created, JobStatus.FAILED),
                message=str(exc),
                reason=why,
            )
        )

    def _store_and_publish(
        self,
        job_id: str,
        style: str,
        created: float,
        bgr: np.ndarray,
        original: bytes | None = None,
        encodes: Encodes | None = None,
        when: BootStamp | None = None,
    ) -> None:
        try:
            iso, ai_bytes = self.shots.write(
                job_id, self.booth, style, created, bgr, original, encodes, when
            )
        except Exception as exc:  # disk full, encoder failure: the guest gets an error screen
            why = "storage" if isinstance(exc, (OSError, sqlite3.Error)) else "internal"
            log.error("storing shot %s failed (%s): %s", job_id, why, exc)
            self.trouble.report(why, f"storing a shot failed: {exc}")
            self._failed(job_id, style, created, exc, why)
            return
        crash_point("after_ledger")
        self.outbox.publish(job_id, style, iso, ai_bytes, pending_status=True)
        row = self.ledger.get(job_id)
        if row is not None:
            self.views.emit_row("stored", row)
