"""The printer process: the booth's print queue, from a guest's tap to a sheet out of the printer.

One thread (`_loop`) does everything in order, every TICK_S; paho's network thread only puts
messages in `inbox`. Each tick:

1. requests and commands from the broker: a request becomes rows in the prints table
   (jobstore/prints.py) in one transaction with its checks (a print of the photo still waiting,
   the photo's limit, the event's paper), and only then is the message acknowledged: killed
   before that, the broker hands it over again and its `request_id` keeps it from printing twice;
2. a look at CUPS (printer/cups.py): the queue's state, reasons and supplies, and a network
   printer's own word (printer/watch.py makes sense of them);
3. the sheets in CUPS followed to their end (printed, failed, cancelled);
4. a stopped queue resumed when the rule says so (printer/watch.py `AutoResume`);
5. with `print.mode` auto, every newly stored picture queued;
6. the next sheets handed to CUPS, at most IN_CUPS_MAX at a time, each as a job named after its
   print id; the try is written to the ledger before the hand-over and CUPS's job id after, and
   a sheet tried but never recorded is looked up by name in CUPS before it is sent again;
7. what changed published: the print state (retained, for the guests' screens), each photo's
   prints (retained), the process's health (a booth service).

Requests and commands are printer/orders.py's, what is said printer/report.py's; this module
owns the loop and everything it asks CUPS.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from booth.config import Config
from booth.mqtt import MqttConnection
from booth.printmsg import (
    PrintCommand,
    PrintRequest,
)
from booth.protocol import ProtocolError, TopicKind, Topics, utc_now_iso
from jobstore import prints as pq
from jobstore.ledger import Ledger, ledger_path, resolve_in_store
from jobstore.prints import PrintQueue, PrintRow, cups_job_name
from jobstore.recovery import open_ledger
from printer.cups import (
    JOB_ABORTED,
    JOB_CANCELED,
    JOB_COMPLETED,
    JOB_PROCESSING,
    JOB_STOPPED,
    Cups,
    CupsDown,
    CupsError,
    CupsJob,
    NotAllowed,
    QueueMissing,
    QueueState,
    device_state,
)
from printer.ipp import Server, default_server
from printer.orders import Orders
from printer.render import MEDIA, BadPicture, media_name, render
from printer.report import Report, Said
from printer.watch import (
    AutoResume,
    Look,
    base_reason,
    blocking,
    network_device,
)

log = logging.getLogger("printer")

TICK_S = 0.25
BUSY_LOOK_S = 1.0  # how often CUPS is asked while sheets wait
IDLE_LOOK_S = 3.0  # and while none do
DEVICE_SILENT_LOOK_S = 10.0  # a network printer that does not answer is asked less often
IN_CUPS_MAX = 2  # sheets handed to CUPS at once: the printer always has the next one
RENDERED_KEEP = 3  # print files kept in memory (copies and reprints of the same photo)
GONE_EVERY_S = 60.0  # how often prints of deleted photos are forgotten
AUTO_SINCE = "auto_since"  # print_meta: when auto-print began (earlier photos are not printed)


@dataclass
class Inbound:
    """A message from the broker, copied off paho's thread."""

    topic: str
    payload: bytes
    mid: int
    qos: int


class PrinterService:
    """`PrinterService(cfg).start()`; `stop()` ends it. `heartbeat` is the monotonic time of the
    last finished tick (the command's watchdog pings systemd only while it moves)."""

    def __init__(
        self,
        cfg: Config,
        *,
        cups: Cups | None = None,
        mono: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        client_suffix: str = "",
    ) -> None:
        self.cfg = cfg
        self.pc = cfg.print
        self.booth = cfg.booth_id
        self.topics = Topics(cfg.mqtt.root)
        self.server = Server.parse(self.pc.server) if self.pc.server else default_server(os.environ)
        self.cups = cups or Cups(self.server)
        self.media = MEDIA[self.pc.media]
        self.media_keyword = media_name(self.pc.media, self.pc.media_name)
        self.mono = mono
        self.clock = clock
        path = ledger_path(cfg.data_dir)
        # checked first: a damaged ledger is rebuilt (jobstore/recovery.py) before anything writes
        self.ledger: Ledger = open_ledger(cfg)  # read: the photos and the event
        self.prints = PrintQueue(path)  # written by this process alone
        self.inbox: queue.Queue[Inbound] = queue.Queue()
        self._connected = threading.Event()  # set on (re)connect: everything is published again
        self.mqtt = MqttConnection.for_config(
            cfg.mqtt,
            f"printer-{self.booth}{client_suffix}",
            availability_topic=self.topics.service_availability(self.booth, "printer"),
            subscriptions=[
                (self.topics.print_requests(self.booth), 1),
                (self.topics.print_commands(self.booth), 1),
            ],
            on_message=self._on_message,
            on_connect=lambda _present: self._connected.set(),
            clean_start=False,
            session_expiry_s=max(3600, cfg.mqtt.session_expiry_s),
            receive_maximum=50,
            manual_ack=True,
        )
        self.auto_resume = AutoResume(self.pc.ready_for_s)
        self.report = Report(cfg, str(self.server), self.prints, self.ledger, self.mqtt, mono)
        self.orders = Orders(cfg, self.prints, self.cups, self.report, clock, self._resumed_by_hand)
        self.heartbeat = mono()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._look = Look(mono(), error="cups_down", error_text="not asked yet")
        self._next_look = 0.0
        self._reconciled = False
        self._first_seen: dict[str, float] = {}  # a lasting reason → since when (monotonic)
        self._device_silent_since: float | None = None
        self._next_device_look = 0.0
        self._rendered: OrderedDict[str, bytes] = OrderedDict()
        self._next_gone = 0.0
        self._resume_refused = False
        self.resumes = 0  # queues resumed by the booth itself since start
        self.last_resume: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> PrinterService:
        if self.pc.mode == "auto" and self.prints.meta(AUTO_SINCE) is None:
            self.prints.set_meta(AUTO_SINCE, repr(self.clock()))
        elif self.pc.mode != "auto":
            self.prints.set_meta(AUTO_SINCE, None)  # back to auto later starts afresh
        self._thread = threading.Thread(target=self._loop, name="printer", daemon=True)
        self._thread.start()
        self.mqtt.start()
        log.info(
            "printer: queue %s on CUPS %s, %s mode, %s paper (%s), %d per photo, budget %s",
            self.pc.queue,
            self.server,
            self.pc.mode,
            self.pc.media,
            self.media_keyword,
            self.pc.copies,
            self.pc.budget or "none",
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.mqtt.stop()
        self.prints.close()
        self.ledger.close()

    def wait_ready(self, timeout: float) -> bool:
        return self.mqtt.wait_connected(timeout)

    def _on_message(self, msg: Any) -> None:
        """paho's thread: hand the message over (it is acknowledged once handled)."""
        self.inbox.put(Inbound(msg.topic, bytes(msg.payload or b""), msg.mid, msg.qos))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("printer: a tick failed; going on")
            self.heartbeat = self.mono()
            self._stop.wait(TICK_S)

    # ------------------------------------------------------------------ one tick
    def tick(self) -> None:
        self._drain()
        now = self.mono()
        if now >= self._next_look:
            self._look = self._look_at_cups(now)
            waiting = bool(self.prints.queue())
            self._next_look = now + (BUSY_LOOK_S if waiting else IDLE_LOOK_S)
            if self._look.queue is not None:
                self._reconcile_once()
                self._follow()
                self._maybe_resume()
        if self.pc.mode == "auto":
            self._queue_auto()
        if self._look.queue is not None:
            self._feed()
        if now >= self._next_gone:
            self._next_gone = now + GONE_EVERY_S
            for job_id in self.prints.forget_gone_jobs():
                self.report.forget(job_id)
        if self._connected.is_set() and self.mqtt.connected:
            self._connected.clear()
            self.report.reconnected()
        self.report.publish(self._look, self.said())

    def said(self) -> Said:
        return Said(self.orders.last_command, self.resumes, self.last_resume, self._resume_refused)

    def _resumed_by_hand(self) -> None:
        self._resume_refused = False
        self.auto_resume.printed()  # the operator is there: no back-off
        self._next_look = 0.0

    # ------------------------------------------------------------------ messages
    def _drain(self) -> None:
        while True:
            try:
                msg = self.inbox.get_nowait()
            except queue.Empty:
                return
            try:
                self._handle(msg)
            except ProtocolError as exc:
                log.warning("printer: dropped a message on %s: %s", msg.topic, exc)
            finally:
                if msg.qos > 0:
                    self.mqtt.ack(msg.mid, msg.qos)  # handled (or not ours to handle): done

    def _handle(self, msg: Inbound) -> None:
        parsed = self.topics.parse(msg.topic)
        if parsed.booth != self.booth:
            return
        if parsed.kind is TopicKind.PRINT_REQUESTS:
            self.orders.request(PrintRequest.from_json(msg.payload))
        elif parsed.kind is TopicKind.PRINT_COMMANDS:
            self.orders.command(PrintCommand.from_json(msg.payload))

    # ------------------------------------------------------------------ CUPS
    def _look_at_cups(self, now: float) -> Look:
        try:
            q = self.cups.queue(self.pc.queue)
        except QueueMissing as exc:
            return Look(now, error="queue_missing", error_text=str(exc))
        except CupsDown as exc:
            return Look(now, error="cups_down", error_text=str(exc))
        except CupsError as exc:
            return Look(now, error="cups_down", error_text=str(exc))
        device = None
        if network_device(q.device_uri) and now >= self._next_device_look:
            device = device_state(q.device_uri, timeout_s=2.0)
            if device is None:
                self._device_silent_since = self._device_silent_since or now
                self._next_device_look = now + DEVICE_SILENT_LOOK_S
            else:
                self._device_silent_since = None
        elif network_device(q.device_uri):
            device = self._look.device  # not asked this time: the last answer
        reasons = {base_reason(r) for r in q.reasons}
        if "connecting-to-device" in reasons:
            self._first_seen.setdefault("connecting", now)
        else:
            self._first_seen.pop("connecting", None)
        connecting = now - self._first_seen["connecting"] if "connecting" in self._first_seen else 0
        silent = now - self._device_silent_since if self._device_silent_since else 0.0
        return Look(now, q, device, connecting_s=connecting, device_silent_s=silent)

    def _reconcile_once(self) -> None:
        """At the first look at CUPS: every sheet tried but not recorded is found again (or not)
        by its job name; the sheets in CUPS are followed from here on (`_follow`)."""
        if self._reconciled:
            return
        tried = self.prints.tried_not_sent()
        found = 0
        if tried:
            try:
                jobs = self._ours_in_cups()
            except CupsError:
                return  # the next look tries again; nothing is sent before
            for row in tried:
                job = jobs.get(cups_job_name(row.print_id))
                if job is not None and self.prints.mark_sent(row.print_id, job.id, self.clock()):
                    found += 1
                    self.report.touch(row.job_id)
        self._reconciled = True
        waiting = self.prints.queue()
        log.info(
            "printer: reconciled with CUPS: %d print(s) in CUPS (%d found by name after a "
            "restart), %d to send",
            len(self.prints.in_cups()),
            found,
            sum(1 for r in waiting if r.state == pq.REQUESTED),
        )

    def _ours_in_cups(self) -> dict[str, CupsJob]:
        return {
            j.name: j
            for j in self.cups.jobs(self.pc.queue, "all")
            if pq.print_id_of(j.name) is not None
        }

    def _follow(self) -> None:
        """Each sheet in CUPS moves on with its CUPS job."""
        for row in self.prints.in_cups():
            if row.cups_job_id is None:
                continue
            try:
                job = self.cups.job(row.cups_job_id)
            except CupsError:
                return
            now = self.clock()
            if job is None:  # CUPS forgot it (its history was cleared): it was not lost there
                moved = self.prints.move(row.print_id, pq.PRINTED, now, "CUPS no longer knows it")
            elif job.state in (JOB_PROCESSING, JOB_STOPPED):
                moved = self.prints.move(row.print_id, pq.PRINTING, now)
            elif job.state == JOB_COMPLETED:
                moved = self.prints.move(row.print_id, pq.PRINTED, now)
                if moved:
                    self.auto_resume.printed()
            elif job.state == JOB_CANCELED:
                moved = self.prints.move(row.print_id, pq.CANCELLED, now, "cancelled in CUPS")
            elif job.state == JOB_ABORTED:
                why = job.message or ", ".join(job.reasons) or "aborted by CUPS"
                moved = self.prints.move(row.print_id, pq.FAILED, now, why)
                log.warning("printer: print %s failed in CUPS: %s", row.print_id, why)
            else:
                moved = False
            if moved:
                self.report.touch(row.job_id)
                self.report.touch_waiting()

    def _maybe_resume(self) -> None:
        if not self.pc.auto_resume:
            return
        why = self.auto_resume.decide(self._look)
        if why is None:
            return
        try:
            self.cups.resume(self.pc.queue)
        except NotAllowed as exc:
            if not self._resume_refused:
                log.error("printer: may not resume queue %s: %s", self.pc.queue, exc)
            self._resume_refused = True
            self.auto_resume.resumed(self._look.at)  # the back-off applies to refusals too
            return
        except CupsError as exc:
            log.warning("printer: resuming queue %s failed: %s", self.pc.queue, exc)
            return
        self._resume_refused = False
        self.auto_resume.resumed(self._look.at)
        self.resumes += 1
        self.last_resume = utc_now_iso()
        self._next_look = 0.0
        log.warning(
            "printer: resumed the stopped queue %s (%s)",
            self.pc.queue,
            "the printer reports ready"
            if why == "ready"
            else "a try: the printer is not heard while the queue is stopped",
        )

    def _can_feed(self, q: QueueState) -> bool:
        """CUPS takes prints now, and a network printer does not say it cannot print (its own
        word is live; a USB printer's last reasons may be stale, so they do not stop the feed:
        CUPS and the printer keep a sheet waiting there)."""
        device = self._look.device
        blocked = device is not None and bool(blocking(device.reasons))
        return q.accepting and not q.stopped and not blocked

    def _feed(self) -> None:
        """Hand the next sheets to CUPS, in order, until IN_CUPS_MAX are there."""
        q = self._look.queue
        if q is None or not self._can_feed(q) or not self._reconciled:
            return
        in_cups = len(self.prints.in_cups())
        for row in self.prints.queue():
            if in_cups >= IN_CUPS_MAX:
                return
            if row.state != pq.REQUESTED:
                continue
            result = self._send(row)
            if result == "sent":
                in_cups += 1
            elif result == "stop":
                return

    def _send(self, row: PrintRow) -> str:
        """One sheet to CUPS: "sent", "skip" (it failed for good, the next one may go) or
        "stop" (CUPS cannot take prints now)."""
        now = self.clock()
        if row.tries > 0:  # tried before: maybe CUPS has it already
            try:
                job = self._ours_in_cups().get(cups_job_name(row.print_id))
            except CupsError as exc:
                self.prints.note_error(row.print_id, str(exc))
                return "stop"
            if job is not None:
                self.prints.mark_sent(row.print_id, job.id, now)
                self.report.touch(row.job_id)
                log.info("printer: print %s was in CUPS already (job %d)", row.print_id, job.id)
                return "sent"
        try:
            data = self._print_file(row.job_id)
        except (OSError, BadPicture, LookupError) as exc:
            self.prints.move(row.print_id, pq.FAILED, now, f"no print file: {exc}")
            self.report.touch(row.job_id)
            log.error("printer: print %s of %s has no file: %s", row.print_id, row.job_id, exc)
            return "skip"
        self.prints.will_send(row.print_id, now)
        try:
            job_id = self.cups.print_jpeg(
                self.pc.queue,
                data,
                cups_job_name(row.print_id),
                self.media_keyword,
                "fill" if self.pc.fit == "fill" else "fit",
            )
        except (CupsDown, QueueMissing) as exc:
            self.prints.note_error(row.print_id, str(exc))
            self._next_look = 0.0
            return "stop"
        except CupsError as exc:
            if exc.lasting and not isinstance(exc, NotAllowed):
                self.prints.move(row.print_id, pq.FAILED, now, str(exc))
                self.report.touch(row.job_id)
                log.error("printer: CUPS refused print %s: %s", row.print_id, exc)
                return "skip"
            self.prints.note_error(row.print_id, str(exc))
            return "stop"
        self.prints.mark_sent(row.print_id, job_id, self.clock())
        self.report.touch(row.job_id)
        self.report.touch_waiting()
        log.info("printer: print %s of %s is CUPS job %d", row.print_id, row.job_id, job_id)
        return "sent"

    def _print_file(self, job_id: str) -> bytes:
        if job_id in self._rendered:
            self._rendered.move_to_end(job_id)
            return self._rendered[job_id]
        photo = self.ledger.get(job_id)
        if photo is None or photo.result_path is None:
            raise LookupError("the photo is gone")
        path = resolve_in_store(self.cfg.data_dir, photo.result_path)
        if path is None:
            raise LookupError("the photo's path leaves the data dir")
        data = render(path, self.media, self.pc.dpi, self.pc.fit, bool(self.cfg.kiosk.caption))
        self._rendered[job_id] = data
        while len(self._rendered) > RENDERED_KEEP:
            self._rendered.popitem(last=False)
        return data

    # ------------------------------------------------------------------ auto-print
    def _queue_auto(self) -> None:
        since_text = self.prints.meta(AUTO_SINCE)
        since = float(since_text) if since_text else self.clock()
        start = self.report.event_start()  # once: each budget below is read after the last grant
        for job_id in self.prints.auto_candidates(since):
            granted = self.prints.request(
                job_id,
                f"auto-{job_id}",
                self.pc.copies,
                pq.AUTO,
                per_photo=self.pc.copies,
                budget=self.report.budget(start),
                now=self.clock(),
            )
            if granted.refused:  # (refused and granted both tell the photo's status again)
                if granted.refused != self.report.refusals.get(job_id, ("", ""))[1]:
                    log.info("printer: auto-print of %s waits (%s)", job_id, granted.refused)
                self.report.refused(job_id, f"auto-{job_id}", granted.refused)
                if granted.refused == pq.REFUSED_BUDGET:
                    return  # the rest would be refused too
            else:
                self.report.granted(job_id)
                log.info("printer: auto-print: %d print(s) of %s queued", len(granted.rows), job_id)
