"""What the printer process says, and only when it is news: the print state for the guests'
screens, each photo's prints, and its health as a booth service (booth/printmsg.py;
docs/protocol.md, Prints). Each is retained; a message is published again only when it changed
(its time aside), the health also every `operator.health_every_s`, and all of it once more
after a reconnect.

Photos are "touched" by whoever changed their prints (printer/service.py, printer/orders.py);
when the queue moves, every photo with a waiting print is touched, since its position changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from booth.config import Config, mask_url
from booth.mqtt import MqttConnection
from booth.printmsg import (
    CANCELLED,
    FAILED,
    NONE,
    PRINTED,
    PRINTING,
    READY,
    WAITING,
    PhotoPrint,
    PrintState,
)
from booth.protocol import Health, Problem, Topics
from jobstore import prints as pq
from jobstore.ledger import Ledger
from jobstore.prints import Budget, PrintQueue, PrintRow
from jobstore.stats import event_of
from printer.watch import Facts, Look, codes, guest_state, problems

log = logging.getLogger("printer")


@dataclass(frozen=True)
class Said:
    """What the rest of the process has to say in the health: the operator's last command and
    what came of it, the queues the booth resumed itself, whether a resume was refused."""

    last_command: dict[str, Any] | None = None
    resumes: int = 0
    last_resume: str | None = None
    resume_refused: bool = False


class Report:
    def __init__(
        self,
        cfg: Config,
        server: str,
        prints: PrintQueue,
        ledger: Ledger,
        mqtt: MqttConnection,
        mono: Callable[[], float],
    ) -> None:
        self.cfg = cfg
        self.pc = cfg.print
        self.booth = cfg.booth_id
        self.topics = Topics(cfg.mqtt.root)
        self.server = server
        self.prints = prints
        self.ledger = ledger
        self.mqtt = mqtt
        self.mono = mono
        self.touched: set[str] = set()  # photos whose status may have changed
        self.refusals: dict[str, tuple[str, str]] = {}  # photo → (request id, why it made none)
        self._sent_status: dict[str, bytes] = {}
        self._sent_state: bytes | None = None
        self._sent_health: tuple[Any, ...] | None = None
        self._health_at = -1e9

    # ------------------------------------------------------------------ what changed
    def touch(self, job_id: str) -> None:
        self.touched.add(job_id)

    def touch_waiting(self) -> None:
        """Positions move: every photo with a waiting print is told again."""
        self.touched.update(r.job_id for r in self.prints.queue())

    def refused(self, job_id: str, request_id: str, why: str) -> None:
        self.refusals[job_id] = (request_id, why)
        self.touched.add(job_id)

    def granted(self, job_id: str) -> None:
        self.refusals.pop(job_id, None)
        self.touched.add(job_id)

    def health_due(self) -> None:
        """Say the health at the next publish (an operator waits for a command's answer)."""
        self._sent_health = None

    def reconnected(self) -> None:
        """A new broker connection: everything is said again."""
        self._sent_state = self._sent_health = None
        self._sent_status.clear()
        self.touch_waiting()
        self.touched.update(self.refusals)

    def forget(self, job_id: str) -> None:
        """A deleted photo: its retained status is cleared."""
        self._sent_status.pop(job_id, None)
        self.refusals.pop(job_id, None)
        if self.mqtt.connected:
            self.mqtt.publish(self.topics.print_status(self.booth, job_id), b"", retain=True)

    # ------------------------------------------------------------------ what is true
    def event_start(self) -> float | None:
        """When the event began, as the dashboard counts it (jobstore/stats.py): a scan of the
        jobs table, so read once per look and passed on."""
        return event_of(self.cfg, self.ledger).start

    def budget(self, start: float | None) -> Budget:
        """The event's paper; `start`: the event's (`event_start`)."""
        return self.prints.budget(self.pc.budget, start, self.cfg.operator.event_gap_hours * 3600)

    def facts(self, said: Said, start: float | None) -> Facts:
        counts = self.prints.counts_since(start)
        return Facts(
            queue_name=self.pc.queue,
            server=self.server,
            waiting=len(self.prints.queue()),
            budget=self.budget(start),
            failed=counts.get(pq.FAILED, 0),
            last_failure=self.prints.last_error(pq.FAILED, start) or "",
            resume_refused=said.resume_refused,
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
        refused = self.refusals.get(job_id)
        ahead = next((i for i, r in enumerate(order) if r.job_id == job_id), 0)
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

    def health(
        self, look: Look, facts: Facts, found: list[Problem], said: Said, start: float | None
    ) -> Health:
        q = look.queue
        first = found[0] if found else None
        level = "error" if any(p.level == "error" for p in found) else "warn" if found else "ok"
        budget = facts.budget
        printer: dict[str, Any] = {
            "queue": self.pc.queue,
            "server": self.server,
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
            state=level,
            part="printer",
            id=self.booth,
            reason=first.reason if first else "",
            fix=first.fix if first else "",
            problems=tuple(found),
            counts=self.prints.counts_since(start),
            extra={
                "printer": printer,
                "queue": {"waiting": facts.waiting, "in_cups": len(self.prints.in_cups())},
                "budget": {"total": budget.total, "used": budget.used, "left": budget.left},
                "mode": self.pc.mode,
                "per_photo": self.pc.copies,
                "media": self.pc.media,
                "language": self.cfg.kiosk.language,
                "last_command": said.last_command,
                "auto_resume": {"on": self.pc.auto_resume, "count": said.resumes},
                "last_resume": said.last_resume,
            },
        )

    # ------------------------------------------------------------------ saying it
    def publish(self, look: Look, said: Said) -> None:
        if not self.mqtt.connected:
            return  # the will says offline; all of it again after the reconnect
        start = self.event_start()
        facts = self.facts(said, start)
        state = self.print_state(codes(look, facts), facts)
        body = _without_time(state.to_json())
        if body != self._sent_state:
            self._say(self.topics.print_state(self.booth), state.to_json())
            if self._sent_state is not None or state.state != READY:
                why = f" ({state.problem})" if state.problem else ""
                log.info("printer: print state %s%s", state.state, why)
            self._sent_state = body
        if self.touched:
            order = self.prints.queue()
            for job_id in sorted(self.touched):
                status = self.photo_print(job_id, order)
                body = _without_time(status.to_json())
                if self._sent_status.get(job_id) != body:
                    self._say(self.topics.print_status(self.booth, job_id), status.to_json())
                    self._sent_status[job_id] = body
            self.touched.clear()
        found = problems(look, facts, self.cfg.kiosk.language)
        q = look.queue
        key = (
            tuple((p.code, p.level) for p in found),
            facts.waiting,
            facts.budget.left,
            q.state if q else None,
            tuple(q.reasons) if q else (),
            said.last_command["id"] if said.last_command else None,
            said.resumes,
        )
        now = self.mono()
        if key != self._sent_health or now - self._health_at >= self.cfg.operator.health_every_s:
            health = self.health(look, facts, found, said, start)
            self._say(self.topics.service_health(self.booth, "printer"), health.to_json())
            if self._sent_health is not None and key[0] != self._sent_health[0]:
                words = f" ({'; '.join(p.reason for p in found)})" if found else ""
                log.info("printer: health %s%s", health.state, words)
            self._sent_health, self._health_at = key, now

    def _say(self, topic: str, body: bytes) -> None:
        self.mqtt.publish(topic, body, qos=1, retain=True)


def _without_time(body: bytes) -> bytes:
    """A message as published, without its `updated_at` (what makes it news)."""
    data = json.loads(body)
    data.pop("updated_at", None)
    return json.dumps(data, sort_keys=True).encode()
