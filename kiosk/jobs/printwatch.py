"""What the kiosk knows of printing, and the guest's Print tap (no pygame).

The printer process (printer/service.py) owns the print queue; the kiosk only asks (a
`PrintRequest` on `{root}/{booth}/print/requests`) and listens: the retained print state (can it
print now, the paper left) and each photo's prints (booth/printmsg.py), and the printer
process's availability through the health board. `view(job)` turns that into what the result
screen shows: whether there is a Print button, whether a tap would print, and the one line that
says where the guest's print is, as a key of the guest texts (booth/texts.py).

Messages arrive on the store thread (kiosk/jobs/controller.py); the frame loop reads `view()`.
Each update replaces an immutable value in a dict, so the frame loop never waits for a lock
and never sees half an update.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho

from booth.config import Config
from booth.healthboard import HealthBoard
from booth.mqtt import PublishHandle
from booth.printmsg import (
    CANCELLED,
    FAILED,
    PAUSED,
    PRINTED,
    PRINTING,
    UNAVAILABLE,
    WAITING,
    PhotoPrint,
    PrintRequest,
    PrintState,
)
from booth.protocol import ParsedTopic, ProtocolError, Topics
from kiosk.jobs.trouble import Trouble

log = logging.getLogger(__name__)

ASKED_S = 15.0  # a tap with no word back from the printer process yet, as long as it counts
TAP_DEBOUNCE_S = 1.0  # taps on Print closer than this are one tap


@dataclass(frozen=True)
class PrintView:
    """What the result screen shows about printing one photo: `button` (a Print button at all),
    `can_print` (a tap asks for a print), `line` (a guest text key, or None) with `values`
    (its placeholders), `waiting` (a print of this photo is not out yet)."""

    button: bool = False
    can_print: bool = False
    line: str | None = None
    values: dict[str, int] = field(default_factory=dict)
    waiting: bool = False


NO_PRINTING = PrintView()


class PrintWatch:
    def __init__(
        self,
        cfg: Config,
        topics: Topics,
        board: HealthBoard,
        publish: Callable[[str, bytes], PublishHandle],
        trouble: Trouble,
        mono: Callable[[], float],
    ) -> None:
        self.pc = cfg.print
        self.booth = cfg.booth_id
        self.topics = topics
        self.board = board
        self.publish = publish
        self.trouble = trouble
        self.mono = mono
        self.state: PrintState | None = None
        self.photos: dict[str, PhotoPrint] = {}
        self._asked: dict[str, tuple[str, float]] = {}  # photo → (request id, when: mono)
        self._heard: dict[str, float] = {}  # photo → when its status last came (mono)

    def subscriptions(self) -> list[tuple[str, int]]:
        return [
            (self.topics.print_state(self.booth), 1),
            (self.topics.print_statuses(self.booth), 1),
            (f"{self.topics.root}/{self.booth}/printer/+", 1),
        ]

    # ------------------------------------------------------------------ messages (store thread)
    def on_state(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        if not msg.payload:
            self.state = None
            return
        try:
            self.state = PrintState.from_json(msg.payload)
        except ProtocolError as exc:
            self.trouble.ignore(msg.topic, exc)

    def on_status(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        job = topic.job_id
        if job is None:
            return
        if not msg.payload:  # cleared: the photo was deleted
            self.photos.pop(job, None)
            return
        try:
            status = PhotoPrint.from_json(msg.payload)
        except ProtocolError as exc:
            self.trouble.ignore(msg.topic, exc)
            return
        if status.job_id != job:
            self.trouble.ignore(msg.topic, "photo print status of another photo")
            return
        self.photos[job] = status
        self._heard[job] = self.mono()
        if len(self.photos) > 500:  # only recent photos matter on the screen
            for old in sorted(self._heard, key=self._heard.__getitem__)[:250]:
                self.photos.pop(old, None)
                self._heard.pop(old, None)

    def on_service(self, topic: ParsedTopic, msg: paho.MQTTMessage) -> None:
        if topic.service == "printer":
            self.board.feed(msg.topic, msg.payload, msg.properties)

    # ------------------------------------------------------------------ the guest's tap
    def request(self, job_id: str) -> bool:
        """Ask for a print of `job_id` (a tap on Print); False when the tap is not one (a
        second tap at once, a print of it still waiting, nothing left to print)."""
        view = self.view(job_id)
        if not view.can_print:
            return False
        asked = self._asked.get(job_id)
        now = self.mono()
        if asked is not None and now - asked[1] < TAP_DEBOUNCE_S:
            return False
        rid = "r-" + secrets.token_hex(8)
        self._asked[job_id] = (rid, now)
        self.publish(self.topics.print_requests(self.booth), PrintRequest(job_id, rid).to_json())
        log.info("print asked for %s (request %s)", job_id, rid)
        return True

    def _pending(self, job_id: str) -> bool:
        """A tap the printer process has not answered yet."""
        asked = self._asked.get(job_id)
        if asked is None:
            return False
        now = self.mono()
        if now - asked[1] > ASKED_S or self._heard.get(job_id, -1e18) > asked[1]:
            return False
        return True

    # ------------------------------------------------------------------ what the screen shows
    def printer_online(self) -> bool | None:
        online, _health = self.board.service("printer")
        return online

    def view(self, job_id: str) -> PrintView:
        if not self.pc.enabled:
            return NO_PRINTING
        button = self.pc.mode == "button"
        state, photo = self.state, self.photos.get(job_id)
        pending = self._pending(job_id)
        if photo is not None and self._asked.get(job_id, ("", 0.0))[0] == photo.request_id:
            refused = photo.refused
        else:
            refused = None
        waiting = pending or (photo is not None and photo.state in (WAITING, PRINTING))
        used = (photo.printed + photo.waiting) if photo is not None else 0
        allowed = photo.allowed if photo is not None else self.pc.copies
        left = state.prints_left if state is not None else None
        can = (
            button
            and not waiting
            and used < allowed
            and left != 0
            and refused not in ("limit", "budget")
        )
        line, values = self._line(state, photo, pending, refused, used, allowed)
        return PrintView(button, can, line, values, waiting)

    def _line(
        self,
        state: PrintState | None,
        photo: PhotoPrint | None,
        pending: bool,
        refused: str | None,
        used: int,
        allowed: int,
    ) -> tuple[str | None, dict[str, int]]:
        offline = self.printer_online() is False
        stopped = state is not None and state.state in (PAUSED, UNAVAILABLE)
        blocked = "print_unavailable" if state and state.state == UNAVAILABLE else "print_paused"
        if refused == "limit":
            return "print_limit", {}
        if refused == "budget":
            return "print_budget", {}
        if photo is not None and photo.state in (WAITING, PRINTING):
            if offline or stopped:  # (a sheet "printing" in a printer out of paper waits too)
                return "print_paused" if offline else blocked, {}
            if photo.state == PRINTING:
                return "print_printing", {}
            if photo.ahead == 0:
                return "print_next", {}
            if photo.ahead == 1:
                return "print_ahead_one", {}
            return "print_ahead_many", {"n": photo.ahead}
        if pending:
            return ("print_paused" if offline or stopped else "print_requested"), {}
        if photo is not None and photo.state == PRINTED:
            return "print_printed", {}
        if photo is not None and photo.state == FAILED:
            return "print_failed", {}
        if photo is not None and photo.state == CANCELLED:
            return "print_cancelled", {}
        if state is not None and state.prints_left == 0:
            return "print_budget", {}
        if used >= allowed and photo is not None:
            return "print_limit", {}
        if offline or stopped:
            return ("print_paused" if offline else blocked), {}
        return None, {}
