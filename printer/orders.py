"""What the printer process is asked: a guest's print request (from the kiosk) and the operator's
commands (from the share server), turned into rows of the prints table (jobstore/prints.py) and
calls to CUPS (printer/cups.py). Each is made once: a request by its `request_id` (the table's
key), a command by its `command_id`, kept in the table's meta, so a redelivered command (QoS 1)
does not add paper twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from booth.config import Config
from booth.printmsg import ADD_PAPER, CANCEL_WAITING, REPRINT, RESUME, PrintCommand, PrintRequest
from booth.protocol import utc_now_iso
from jobstore import prints as pq
from jobstore.prints import PrintQueue
from printer.cups import JOB_HELD, Cups, CupsError
from printer.report import Report

log = logging.getLogger("printer")


class Orders:
    def __init__(
        self,
        cfg: Config,
        prints: PrintQueue,
        cups: Cups,
        report: Report,
        clock: Callable[[], float],
        on_resume: Callable[[], None],
    ) -> None:
        """`on_resume` runs after the operator's resume (the process looks at CUPS at once and
        drops its auto-resume back-off: the operator is there)."""
        self.pc = cfg.print
        self.prints = prints
        self.cups = cups
        self.report = report
        self.clock = clock
        self.on_resume = on_resume
        self.last_command: dict[str, Any] | None = None

    def request(self, req: PrintRequest) -> None:
        """A guest's tap: up to the photo's limit, never while a print of it waits, within
        the event's paper."""
        granted = self.prints.request(
            req.job_id,
            req.request_id,
            min(req.copies, self.pc.copies),
            pq.GUEST,
            per_photo=self.pc.copies,
            budget=self.report.budget(self.report.event_start()),
            now=self.clock(),
        )
        if granted.refused:
            self.report.refused(req.job_id, req.request_id, granted.refused)
            log.info(
                "printer: request %s for %s made no print (%s)",
                req.request_id,
                req.job_id,
                granted.refused,
            )
            return
        self.report.granted(req.job_id)
        if not granted.repeat:
            log.info(
                "printer: %d print(s) of %s queued (request %s)",
                len(granted.rows),
                req.job_id,
                req.request_id,
            )

    def command(self, cmd: PrintCommand) -> None:
        """An operator's command, once; what came of it goes into the health (`last_command`)."""
        key = f"command:{cmd.command_id}"
        if self.prints.meta(key) is not None:
            return  # delivered again: done already
        try:
            result = self._do(cmd)
        except CupsError as exc:
            result = f"failed: {exc}"
        self.prints.set_meta(key, result)
        self.last_command = {
            "id": cmd.command_id,
            "action": cmd.action,
            "job_id": cmd.job_id,
            "result": result,
            "at": utc_now_iso(),
        }
        self.report.health_due()  # the dashboard waits for this
        log.info("printer: operator command %s (%s): %s", cmd.action, cmd.command_id, result)

    def _do(self, cmd: PrintCommand) -> str:
        if cmd.action == RESUME:
            self.cups.resume(self.pc.queue)  # cupsenable and cupsaccept
            for row in self.prints.in_cups():
                job = self.cups.job(row.cups_job_id) if row.cups_job_id else None
                if job is not None and job.state == JOB_HELD:
                    self.cups.release(job.id)
            self.on_resume()
            return "resumed"
        if cmd.action == CANCEL_WAITING:
            return self._cancel(cmd.job_id)
        if cmd.action == REPRINT:
            assert cmd.job_id is not None  # (PrintCommand refuses a reprint without one)
            granted = self.prints.request(
                cmd.job_id,
                f"op-{cmd.command_id}",
                cmd.count,
                pq.OPERATOR,
                per_photo=None,
                budget=self.report.budget(self.report.event_start()),
                now=self.clock(),
            )
            self.report.touch(cmd.job_id)
            return (
                f"refused: {granted.refused}" if granted.refused else f"queued {len(granted.rows)}"
            )
        if cmd.action == ADD_PAPER:
            self.prints.add_budget(cmd.count, self.clock())
            return f"added {cmd.count}"
        return "unknown action"

    def _cancel(self, job_id: str | None) -> str:
        """The prints not out yet (of one photo, or all): those not handed to CUPS in the ledger,
        those in CUPS there too."""
        cancelled = 0
        for print_id in self.prints.cancel_requested(job_id, self.clock()):
            cancelled += 1
            row = self.prints.get(print_id)
            if row is not None:
                self.report.touch(row.job_id)
        for row in self.prints.in_cups():
            if job_id and row.job_id != job_id:
                continue
            if row.cups_job_id is not None:
                self.cups.cancel(row.cups_job_id)
            if self.prints.move(row.print_id, pq.CANCELLED, self.clock(), "cancelled"):
                cancelled += 1
                self.report.touch(row.job_id)
        self.report.touch_waiting()
        return f"cancelled {cancelled}"
