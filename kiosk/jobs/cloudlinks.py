"""Cloud links confirmed by the share process, turned into `cloud` events for the screens.

The share process uploads and confirms (jobstore/uploads.py); the kiosk only reads, so a guest's
QR switches to the cloud link as soon as its upload is confirmed."""

from __future__ import annotations

from collections.abc import Callable

from jobstore.ledger import Ledger
from jobstore.uploads import Uploads
from kiosk.jobs.views import JobViews

CLOUD_POLL_S = 0.25  # how often the store thread looks for newly confirmed cloud links


class CloudLinkWatch:
    def __init__(
        self,
        uploads: Uploads,
        ledger: Ledger,
        views: JobViews,
        clock: Callable[[], float],
        mono: Callable[[], float],
    ) -> None:
        self.uploads = uploads
        self.ledger = ledger
        self.views = views
        self.clock = clock
        self.mono = mono
        self._mark = 0.0
        self._at_mark: set[str] = set()
        self._checked = 0.0

    def tick(self) -> None:
        """On the store thread: look again when CLOUD_POLL_S has passed (one indexed query)."""
        now = self.mono()
        if now - self._checked >= CLOUD_POLL_S:
            self._checked = now
            self._new_links()

    def _new_links(self) -> None:
        """Views read from the ledger (`recent`, `view`) carry their link already; the mark
        starts a minute before the first look so an upload confirmed while the screen restored
        its state is not missed."""
        if not self._mark:
            self._mark = self.clock() - 60
        for job_id, link in self.uploads.confirmed_since(self._mark):
            if link.uploaded_at > self._mark:
                self._mark, self._at_mark = link.uploaded_at, set()
            if job_id in self._at_mark:
                continue  # seen on an earlier look (same confirmation time as the mark)
            self._at_mark.add(job_id)
            row = self.ledger.get(job_id)
            if row is not None:
                self.views.emit_row("cloud", row, link)
