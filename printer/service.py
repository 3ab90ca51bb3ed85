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
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from booth.config import Config, mask_url
from booth.mqtt import MqttConnection
from booth.printmsg import (
    ADD_PAPER,
    CANCEL_WAITING,
    CANCELLED,
    FAILED,
    NONE,
    PRINTED,
    PRINTING,
    READY,
    REPRINT,
    RESUME,
    WAITING,
    PhotoPrint,
    PrintCommand,
    PrintRequest,
    PrintState,
)
from booth.protocol import Health, ProtocolError, TopicKind, Topics, utc_now_iso
from jobstore import prints as pq
from jobstore.ledger import Ledger, ledger_path, resolve_in_store
from jobstore.prints import PrintQueue, PrintRow, cups_job_name
from jobstore.stats import event_of
from printer.cups import (
    JOB_ABORTED,
    JOB_CANCELED,
    JOB_COMPLETED,
    JOB_HELD,
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
from printer.render import MEDIA, BadPicture, media_name, render
from printer.watch import (
    BLOCKING,
    AutoResume,
    Facts,
    Look,
    base_reason,
    codes,
    guest_state,
    network_device,
    problems,
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
        self.ledger = Ledger(path)  # read: the photos and the event
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
        self._refusals: dict[str, tuple[str, str]] = {}  # photo → (request id, why)
        self._touched: set[str] = set()  # photos whose status may have changed
        self._sent_status: dict[str, bytes] = {}
        self._sent_state: bytes | None = None
        self._sent_health: tuple[Any, ...] | None = None
        self._health_at = -1e9
        self._next_gone = 0.0
        self._resume_refused = False
        self.last_command: dict[str, Any] | None = None
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
            self._forget_gone()
        self._publish()

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
            self._request(PrintRequest.from_json(msg.payload))
        elif parsed.kind is TopicKind.PRINT_COMMANDS:
            self._command(PrintCommand.from_json(msg.payload))

    def _request(self, req: PrintRequest) -> None:
        granted = self.prints.request(
            req.job_id,
            req.request_id,
            min(req.copies, self.pc.copies),
            pq.GUEST,
            per_photo=self.pc.copies,
            budget=self.budget(),
            now=self.clock(),
        )
        self._touched.add(req.job_id)
        if granted.refused:
            self._refusals[req.job_id] = (req.request_id, granted.refused)
            log.info(
                "printer: request %s for %s made no print (%s)",
                req.request_id,
                req.job_id,
                granted.refused,
            )
        else:
            self._refusals.pop(req.job_id, None)
            if not granted.repeat:
                log.info(
                    "printer: %d print(s) of %s queued (request %s)",
                    len(granted.rows),
                    req.job_id,
                    req.request_id,
                )

    def _command(self, cmd: PrintCommand) -> None:
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
        self._sent_health = None  # the dashboard waits for this
        log.info("printer: operator command %s (%s): %s", cmd.action, cmd.command_id, result)

    def _do(self, cmd: PrintCommand) -> str:
        if cmd.action == RESUME:
            self.cups.resume(self.pc.queue)
            for row in self.prints.in_cups():
                job = self.cups.job(row.cups_job_id) if row.cups_job_id else None
                if job is not None and job.state == JOB_HELD:
                    self.cups.release(job.id)
            self._resume_refused = False
            self.auto_resume.printed()  # the operator is there: no back-off
            self._next_look = 0.0
            return "resumed"
        if cmd.action == CANCEL_WAITING:
            ids = self.prints.cancel_requested(cmd.job_id, self.clock())
            cancelled = len(ids)
            for row in self.prints.in_cups():
                if cmd.job_id and row.job_id != cmd.job_id:
                    continue
                if row.cups_job_id is not None:
                    self.cups.cancel(row.cups_job_id)
                if self.prints.move(row.print_id, pq.CANCELLED, self.clock(), "cancelled"):
                    cancelled += 1
                    self._touched.add(row.job_id)
            self._touch_all_waiting()
            for pid in ids:
                row_ = self.prints.get(pid)
                if row_ is not None:
                    self._touched.add(row_.job_id)
            return f"cancelled {cancelled}"
        if cmd.action == REPRINT:
            assert cmd.job_id is not None
            granted = self.prints.request(
                cmd.job_id,
                f"op-{cmd.command_id}",
                cmd.count,
                pq.OPERATOR,
                per_photo=None,
                budget=self.budget(),
                now=self.clock(),
            )
            self._touched.add(cmd.job_id)
            if granted.refused:
                return f"refused: {granted.refused}"
            return f"queued {len(granted.rows)}"
        if cmd.action == ADD_PAPER:
            self.prints.add_budget(cmd.count, self.clock())
            return f"added {cmd.count}"
        return "unknown action"

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
                    self._touched.add(row.job_id)
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
                self._touched.add(row.job_id)
                self._touch_all_waiting()

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
        blocked = device is not None and bool({base_reason(r) for r in device.reasons} & BLOCKING)
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
                self._touched.add(row.job_id)
                log.info("printer: print %s was in CUPS already (job %d)", row.print_id, job.id)
                return "sent"
        try:
            data = self._print_file(row.job_id)
        except (OSError, BadPicture, LookupError) as exc:
            self.prints.move(row.print_id, pq.FAILED, now, f"no print file: {exc}")
            self._touched.add(row.job_id)
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
                self._touched.add(row.job_id)
                log.error("printer: CUPS refused print %s: %s", row.print_id, exc)
                return "skip"
            self.prints.note_error(row.print_id, str(exc))
            return "stop"
        self.prints.mark_sent(row.print_id, job_id, self.clock())
        self._touched.add(row.job_id)
        self._touch_all_waiting()
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

    # ------------------------------------------------------------------ auto, budget, cleanup
    def budget(self) -> pq.Budget:
        event = event_of(self.cfg, self.ledger)
        return self.prints.budget(
            self.pc.budget, event.start, self.cfg.operator.event_gap_hours * 3600
        )

    def _queue_auto(self) -> None:
        since_text = self.prints.meta(AUTO_SINCE)
        since = float(since_text) if since_text else self.clock()
        for job_id in self.prints.auto_candidates(since):
            granted = self.prints.request(
                job_id,
                f"auto-{job_id}",
                self.pc.copies,
                pq.AUTO,
                per_photo=self.pc.copies,
                budget=self.budget(),
                now=self.clock(),
            )
            self._touched.add(job_id)
            if granted.refused:
                if granted.refused != self._refusals.get(job_id, ("", ""))[1]:
                    log.info("printer: auto-print of %s waits (%s)", job_id, granted.refused)
                self._refusals[job_id] = (f"auto-{job_id}", granted.refused)
                if granted.refused == pq.REFUSED_BUDGET:
                    return  # the rest would be refused too
            else:
                self._refusals.pop(job_id, None)
                log.info("printer: auto-print: %d print(s) of %s queued", len(granted.rows), job_id)

    def _forget_gone(self) -> None:
        for job_id in self.prints.forget_gone_jobs():
            self._sent_status.pop(job_id, None)
            self._refusals.pop(job_id, None)
            if self.mqtt.connected:
                self.mqtt.publish(self.topics.print_status(self.booth, job_id), b"", retain=True)

    def _touch_all_waiting(self) -> None:
        """Positions move: every photo with a waiting print is told again."""
        self._touched.update(r.job_id for r in self.prints.queue())

    # ------------------------------------------------------------------ what it says
    def facts(self) -> Facts:
        waiting = self.prints.queue()
        start = event_of(self.cfg, self.ledger).start
        counts = self.prints.counts_since(start)
        return Facts(
            queue_name=self.pc.queue,
            server=str(self.server),
            waiting=len(waiting),
            budget=self.budget(),
            failed=counts.get(pq.FAILED, 0),
            last_failure=self.prints.last_error(pq.FAILED, start) or "",
            resume_refused=self._resume_refused,
        )

    def print_state(self, found: list[str], facts: Facts) -> PrintState:
        state, problem = guest_state(found)
        return PrintState(
            state=state,
            problem=problem,
            prints_left=facts.budget.left,
            per_photo=self.pc.copies,
            mode=self.pc.mode,
            queue=facts.waiting,
        )

    def photo_print(self, job_id: str, order: list[PrintRow]) -> PhotoPrint:
        rows = self.prints.for_job(job_id)
        refused = self._refusals.get(job_id)
        ahead = 0
        for i, r in enumerate(order):
            if r.job_id == job_id:
                ahead = i
                break
        if any(r.state == pq.PRINTING for r in rows):
            state = PRINTING
        elif any(r.waiting for r in rows):
            state = WAITING
        elif rows:
            last = rows[-1].state
            state = {pq.PRINTED: PRINTED, pq.FAILED: FAILED, pq.CANCELLED: CANCELLED}.get(
                last, NONE
            )
        else:
            state = NONE
        return PhotoPrint(
            job_id=job_id,
            state=state,
            ahead=ahead if state in (WAITING, PRINTING) else 0,
            printed=sum(1 for r in rows if r.state == pq.PRINTED),
            waiting=sum(1 for r in rows if r.waiting),
            allowed=self.pc.copies,
            refused=refused[1] if refused else None,
            request_id=refused[0] if refused else None,
        )

    def health(self, look: Look, facts: Facts, found_problems: list[Any]) -> Health:
        q = look.queue
        first = found_problems[0] if found_problems else None
        state = (
            "error"
            if any(p.level == "error" for p in found_problems)
            else "warn"
            if found_problems
            else "ok"
        )
        start = event_of(self.cfg, self.ledger).start
        budget = facts.budget
        printer: dict[str, Any] = {
            "queue": self.pc.queue,
            "server": str(self.server),
            "state": q.state_name if q else None,
            "reasons": list(q.reasons) if q else [],
            "accepting": q.accepting if q else None,
            "message": q.message if q else look.error_text,
            "device": mask_url(q.device_uri) if q else None,
            "device_reasons": list(look.device.reasons) if look.device else None,
            "markers": [m.to_dict() for m in q.markers] if q else [],
            "model": q.model if q else None,
        }
        return Health(
            state=state,
            part="printer",
            id=self.booth,
            reason=first.reason if first else "",
            fix=first.fix if first else "",
            problems=tuple(found_problems),
            counts=self.prints.counts_since(start),
            extra={
                "printer": printer,
                "queue": {"waiting": facts.waiting, "in_cups": len(self.prints.in_cups())},
                "budget": {"total": budget.total, "used": budget.used, "left": budget.left},
                "mode": self.pc.mode,
                "per_photo": self.pc.copies,
                "media": self.pc.media,
                "language": self.cfg.kiosk.language,
                "last_command": self.last_command,
                "auto_resume": {"on": self.pc.auto_resume, "count": self.resumes},
                "last_resume": self.last_resume,
            },
        )

    def _publish(self) -> None:
        if not self.mqtt.connected:
            return
        if self._connected.is_set():  # (re)connected: say everything again
            self._connected.clear()
            self._sent_state = None
            self._sent_health = None
            self._sent_status.clear()
            self._touch_all_waiting()
            self._touched.update(self._refusals)
        facts = self.facts()
        found = codes(self._look, facts)
        state = self.print_state(found, facts)
        body = _without_time(state.to_json())
        if body != self._sent_state:
            self.mqtt.publish(
                self.topics.print_state(self.booth), state.to_json(), qos=1, retain=True
            )
            if self._sent_state is not None or state.state != READY:
                log.info(
                    "printer: print state %s%s",
                    state.state,
                    f" ({state.problem})" if state.problem else "",
                )
            self._sent_state = body
        if self._touched:
            order = self.prints.queue()
            for job_id in sorted(self._touched):
                status = self.photo_print(job_id, order)
                body = _without_time(status.to_json())
                if self._sent_status.get(job_id) != body:
                    self.mqtt.publish(
                        self.topics.print_status(self.booth, job_id),
                        status.to_json(),
                        qos=1,
                        retain=True,
                    )
                    self._sent_status[job_id] = body
            self._touched.clear()
        found_problems = problems(self._look, facts, self.cfg.kiosk.language)
        key = (
            tuple((p.code, p.level) for p in found_problems),
            facts.waiting,
            facts.budget.left,
            self._look.queue.state if self._look.queue else None,
            tuple(self._look.queue.reasons) if self._look.queue else (),
            self.last_command["id"] if self.last_command else None,
            self.resumes,
        )
        now = self.mono()
        if key != self._sent_health or now - self._health_at >= self.cfg.operator.health_every_s:
            health = self.health(self._look, facts, found_problems)
            self.mqtt.publish(
                self.topics.service_health(self.booth, "printer"),
                health.to_json(),
                qos=1,
                retain=True,
            )
            if self._sent_health is not None and key[0] != self._sent_health[0]:
                log.info(
                    "printer: health %s%s",
                    health.state,
                    f" ({'; '.join(p.reason for p in found_problems)})" if found_problems else "",
                )
            self._sent_health, self._health_at = key, now


def _without_time(body: bytes) -> bytes:
    """A message as published, without its `updated_at` (what makes it news)."""
    data = json.loads(body)
    data.pop("updated_at", None)
    return json.dumps(data, sort_keys=True).encode()
