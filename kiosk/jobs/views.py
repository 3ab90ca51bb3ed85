"""What the screens know of the jobs: one immutable `JobView` per job, `JobEvent`s for the frame
loop, and `JobViews`, the hand-over between the job side's threads (kiosk/jobs/controller.py) and
the frame loop (which drains `poll()` and never waits)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from booth.config import Config
from booth.protocol import JobError, JobStatus
from jobstore.ledger import JobRow
from jobstore.links import share_url
from jobstore.uploads import CloudLink, Uploads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobView:
    """What a screen needs to know about one job (a snapshot; never mutated)."""

    job_id: str
    style: str
    created_at: float
    status: JobStatus
    effect: str | None = None
    error: JobError | None = None
    attempt: int = 1
    ai_path: Path | None = None
    result_path: Path | None = None
    token: str | None = None
    share_url: str | None = None  # the LAN link (booth Wi-Fi)
    processing_at: float | None = None
    # [cloud]: the cloud link, set once the share process confirmed the upload (jobstore/uploads.py)
    cloud_url: str | None = None
    cloud_expires_at: float | None = None
    finished_at: float | None = None
    code: str | None = None  # the short code a guest may type instead of scanning
    # a strip session (kiosk/jobs/sessions.py): a frame's session and its number; a session's
    # sheet has its own id as session_id and no frame
    session_id: str | None = None
    frame: int | None = None

    @property
    def is_frame(self) -> bool:
        return self.frame is not None

    @property
    def is_sheet(self) -> bool:
        return self.session_id is not None and self.session_id == self.job_id

    @property
    def link(self) -> str | None:
        """The link to show: the cloud link once confirmed, else the LAN link."""
        return self.cloud_url or self.share_url

    @property
    def link_kind(self) -> str | None:
        """'cloud' (works anywhere), 'lan' (on the booth Wi-Fi) or None (no picture yet)."""
        return "cloud" if self.cloud_url else "lan" if self.share_url else None

    @property
    def ready(self) -> bool:
        """A picture is there for the guest (the first result was stored)."""
        return self.result_path is not None and self.token is not None

    @property
    def failed(self) -> bool:
        return self.status is JobStatus.FAILED and not self.ready

    @property
    def finished(self) -> bool:
        return self.ready or self.failed


@dataclass(frozen=True)
class JobEvent:
    """`created`, `captured` (with a display-sized RGB image), `capture_failed`, `stored`
    (photos written and the job published), `status`, `ready`, `availability`, `cloud` (the
    job's cloud link was confirmed), `store_failed` (a status or result for this job could
    not be stored yet: the disk is full or the ledger failing; it is retried, `message` says
    why), and `deleted` (the share process deleted the job: only `job.job_id` means anything)."""

    kind: str
    job: JobView | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    message: str = ""
    reason: str = ""  # capture_failed: camera, storage or internal


class JobViews:
    """The latest view of every job the pipeline followed, and the events for the screens.

    The pipeline's threads write (`emit_row`, `put`, `forget`); the frame loop drains `poll()`
    without blocking; headless callers block in `wait_done()`."""

    def __init__(
        self,
        cfg: Config,
        uploads: Uploads | None,
        clock: Callable[[], float],
        on_ready: Callable[[JobView], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.data_dir = cfg.data_path
        self.uploads = uploads
        self.clock = clock
        self.on_ready = on_ready
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self._done = threading.Condition()
        self._views: dict[str, JobView] = {}
        # job id → (session id, frame; None for a sheet), kiosk/jobs/sessions.py SessionMap.of
        self.session_of: Callable[[str], tuple[str, int | None] | None] = lambda _job: None

    def of(self, row: JobRow, link: CloudLink | None = None) -> JobView:
        """The view of a ledger row; the cloud link only while it is live."""
        live = link is not None and link.live(self.clock())
        session = self.session_of(row.job_id)
        return JobView(
            job_id=row.job_id,
            style=row.style,
            created_at=row.created_at,
            status=row.status,
            effect=row.effect,
            error=row.error,
            attempt=row.attempt,
            ai_path=self.data_dir / row.ai_path,
            result_path=self.data_dir / row.result_path if row.result_path else None,
            token=row.token,
            share_url=share_url(self.cfg, row.token) if row.token else None,
            processing_at=row.processing_at,
            finished_at=row.finished_at,
            code=row.code,
            cloud_url=link.url if live and link else None,
            cloud_expires_at=link.expires_at if live and link else None,
            session_id=session[0] if session else None,
            frame=session[1] if session else None,
        )

    def put(self, event: JobEvent) -> None:
        self.events.put(event)

    def emit_row(self, kind: str, row: JobRow | None, link: CloudLink | None = None) -> None:
        """Tell the screens about a row; the first time it has a picture the event is `ready`
        (and `on_ready` runs) whatever `kind` says."""
        if row is None:
            return
        if link is None and self.uploads is not None and row.token:
            link = self.uploads.link(row.job_id)
        view = self.of(row, link)
        before = self._views.get(view.job_id)
        with self._done:
            self._views[view.job_id] = view
            self._done.notify_all()
        became_ready = view.ready and not (before is not None and before.ready)
        self.events.put(JobEvent("ready" if became_ready else kind, view))
        if became_ready and self.on_ready is not None:
            try:
                self.on_ready(view)
            except Exception:
                log.exception("on_ready hook failed")

    def forget(self, job_id: str) -> None:
        """The job was deleted (retention, the operator): it leaves the screens."""
        with self._done:
            self._views.pop(job_id, None)
        self.events.put(JobEvent("deleted", JobView(job_id, "", 0.0, JobStatus.FAILED)))

    def poll(self, limit: int = 200) -> list[JobEvent]:
        """Drain pending events without blocking (call once per frame)."""
        out = []
        for _ in range(limit):
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                break
        return out

    def wait_done(self, job_id: str, timeout: float) -> JobView | None:
        """The job's view once it is ready or failed; None when `timeout` passes first."""
        end = time.monotonic() + timeout
        with self._done:
            while True:
                v = self._views.get(job_id)
                if v is not None and v.finished:
                    return v
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._done.wait(min(left, 0.5))
