"""What the screens know about jobs: the latest view of each, fed by the pipeline's events.

The ledger has every job; the screens need only the recent ones, so the book is bounded and
forgets old finished jobs. Views only move forward: a late snapshot never moves a job back.
"""

from __future__ import annotations

from kiosk.jobs.views import JobEvent, JobView

MAX_VIEWS = 200  # jobs kept in memory (the ledger has them all)


class JobBook:
    def __init__(self, recent_count: int) -> None:
        self.recent_count = recent_count
        self.views: dict[str, JobView] = {}
        self._finished: set[str] = set()  # ready, failed, or never captured
        self.storage_trouble: set[str] = set()  # a status/result held until there is space

    def get(self, job_id: str) -> JobView | None:
        return self.views.get(job_id)

    def recent(self) -> list[JobView]:
        """The newest jobs, for the recent strip: a strip session is one entry, its sheet
        (kiosk/jobs/sessions.py), not its frames."""
        jobs = sorted(
            (v for v in self.views.values() if not v.is_frame),
            key=lambda v: v.created_at,
            reverse=True,
        )
        return jobs[: self.recent_count]

    def restore(self, views: list[JobView]) -> None:
        for v in views:
            self.views[v.job_id] = v

    def apply(self, ev: JobEvent, shown: str | None) -> JobView | None:
        """Take in one pipeline event; returns the job when it has just finished (ready or
        failed), once per job. `shown` is the job on screen (never forgotten)."""
        job = ev.job
        if job is None or ev.kind == "availability":
            return None
        if ev.kind == "deleted":  # deleted by the operator or retention: gone from the strip
            self.views.pop(job.job_id, None)
            self._finished.add(job.job_id)
            self.storage_trouble.discard(job.job_id)
            return None
        if ev.kind == "store_failed":
            self.storage_trouble.add(job.job_id)
        elif job.ready:
            self.storage_trouble.discard(job.job_id)
        if ev.kind == "capture_failed":  # no photo, so no job: it leaves the strip
            self.views.pop(job.job_id, None)
            self._finished.add(job.job_id)
            return None
        old = self.views.get(job.job_id)
        if ev.kind in ("created", "captured") and old is not None:
            return None  # a snapshot from before the ledger row: never move a job back
        if old is None or job.status.rank >= old.status.rank or job.ready:
            self.views[job.job_id] = job
        if len(self.views) > MAX_VIEWS:
            self._prune(shown)
        if job.finished and job.job_id not in self._finished:
            self._finished.add(job.job_id)
            return job
        return None

    def finished(self, job_id: str) -> bool:
        return job_id in self._finished

    def _prune(self, shown: str | None) -> None:
        """Forget old finished jobs; the strip needs only the newest."""
        old = sorted(self.views.values(), key=lambda v: v.created_at)
        for v in old[: len(old) - MAX_VIEWS // 2]:
            if v.finished and v.job_id != shown:
                del self.views[v.job_id]
