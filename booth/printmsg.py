"""The print messages on the wire (their topics are in booth/protocol.py `Topics`; the contract in
words is docs/protocol.md, Prints).

- `PrintRequest`: the kiosk asks the printer process for prints of a photo (a guest's tap).
- `PrintCommand`: the operator, through the share server, tells it to resume a stopped queue,
  cancel waiting prints, reprint a photo, or add paper to the event's budget.
- `PrintState`: the printer process's retained word to the guests' screen: can it print now,
  and if not, why (a code the kiosk words in the guest's language), and how many prints are
  left of the event's paper.
- `PhotoPrint`: one photo's prints (retained per photo): waiting with N ahead, printing,
  printed, and why the last request made nothing.

Why a module beside booth/protocol.py and not in it: these messages belong to one optional
process and its two readers, and protocol.py holds the job contract every process needs. The
same reading rules apply and the helpers are shared: an unknown field is ignored (logged once
per process), a known field that is malformed is a ProtocolError, and a value a newer sender
added to a known list is read the safe way each parser says.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from booth.protocol import (
    Payload,
    ProtocolError,
    _fields,
    _known_or,
    parse_iso,
    utc_now_iso,
    validate_job_id,
)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
MAX_COPIES = 10  # per request: a guest asks one at a time, auto-print and reprints a few

# What the printer can do now, for the guests' screen (PrintState.state):
READY = "ready"  # prints come out
PAUSED = "paused"  # prints wait for the operator (paper, ribbon, jam, a stopped queue, offline)
UNAVAILABLE = "unavailable"  # CUPS does not answer or has no such queue: prints wait
PRINTER_STATES = (READY, PAUSED, UNAVAILABLE)

# What became of one photo's prints (PhotoPrint.state)
NONE, WAITING, PRINTING, PRINTED, FAILED, CANCELLED = (
    "none",
    "waiting",
    "printing",
    "printed",
    "failed",
    "cancelled",
)
PHOTO_STATES = (NONE, WAITING, PRINTING, PRINTED, FAILED, CANCELLED)

# Why a request made no print (PhotoPrint.refused), the values of jobstore/prints.py REFUSED_*
REFUSALS = ("waiting", "limit", "budget", "no_photo")

# The operator's commands
RESUME, CANCEL_WAITING, REPRINT, ADD_PAPER = "resume", "cancel_waiting", "reprint", "add_paper"
ACTIONS = (RESUME, CANCEL_WAITING, REPRINT, ADD_PAPER)


def _json(payload: Payload, what: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _count(data: dict[str, Any], key: str, what: str, *, least: int = 0, null: bool = False) -> Any:
    value = data.get(key)
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ProtocolError(f"{what} {key} must be a whole number ≥ {least}, got {value!r}")
    return value


def _request_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not REQUEST_ID_RE.match(value):
        raise ProtocolError(f"{what} must match [A-Za-z0-9_.:-]{{1,80}}, got {value!r}")
    return value


def _optional_str(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{what} {key} must be null or a string")
    return value


@dataclass(frozen=True)
class PrintRequest:
    """`{root}/{booth}/print/requests`, kiosk → printer (QoS 1). `request_id` is the request's
    idempotency key: the same request delivered twice makes its prints once."""

    job_id: str
    request_id: str
    copies: int = 1
    at: str = field(default_factory=utc_now_iso)

    def to_json(self) -> bytes:
        return _dump(
            {
                "job_id": self.job_id,
                "request_id": self.request_id,
                "copies": self.copies,
                "at": self.at,
            }
        )

    @classmethod
    def from_json(cls, payload: Payload) -> PrintRequest:
        data = _json(payload, "print request")
        _fields(data, ("job_id", "request_id", "copies"), "print request", optional=("at",))
        copies = _count(data, "copies", "print request", least=1)
        if copies > MAX_COPIES:
            raise ProtocolError(f"print request copies must be at most {MAX_COPIES}")
        at = data.get("at") or utc_now_iso()
        parse_iso(at, "print request at")
        return cls(
            validate_job_id(data["job_id"]),
            _request_id(data["request_id"], "print request request_id"),
            copies,
            at,
        )


@dataclass(frozen=True)
class PrintCommand:
    """`{root}/{booth}/print/commands`, share server → printer (QoS 1; the broker's ACL lets
    only the share server publish here). `job_id` names the photo of a reprint (and limits
    cancel_waiting to one photo when set); `count` is a reprint's copies or the sheets
    add_paper adds. An action this version does not know is refused (it is never guessed)."""

    action: str
    command_id: str
    job_id: str | None = None
    count: int = 1
    at: str = field(default_factory=utc_now_iso)

    def to_json(self) -> bytes:
        return _dump(
            {
                "action": self.action,
                "command_id": self.command_id,
                "job_id": self.job_id,
                "count": self.count,
                "at": self.at,
            }
        )

    @classmethod
    def from_json(cls, payload: Payload) -> PrintCommand:
        data = _json(payload, "print command")
        _fields(data, ("action", "command_id"), "print command", optional=("job_id", "count", "at"))
        action = data["action"]
        if action not in ACTIONS:
            raise ProtocolError(f"print command action {action!r} is not one of {ACTIONS}")
        job_id = data.get("job_id")
        if job_id is not None:
            validate_job_id(job_id)
        if action == REPRINT and job_id is None:
            raise ProtocolError("a reprint names its photo (job_id)")
        count = _count({"count": data.get("count", 1)}, "count", "print command", least=1)
        if count > 10_000:
            raise ProtocolError("print command count must be at most 10000")
        at = data.get("at") or utc_now_iso()
        parse_iso(at, "print command at")
        return cls(action, _request_id(data["command_id"], "command_id"), job_id, count, at)


@dataclass(frozen=True)
class PrintState:
    """`{root}/{booth}/print/state`, printer → kiosk (retained): whether prints come out now.

    `problem` is a code (paper_out, ribbon_out, jam, queue_stopped, printer_offline, cups_down,
    queue_missing, …) the kiosk words for guests; `prints_left` is what is left of the event's
    paper budget (null: no budget); `per_photo` the prints a guest may have of one photo; `mode`
    button or auto. A `state` this version does not know is read as `paused`: prints may not
    come out, and the guest is told the QR still works."""

    state: str
    problem: str | None = None
    prints_left: int | None = None
    per_photo: int = 1
    mode: str = "button"
    queue: int = 0  # sheets waiting
    updated_at: str = field(default_factory=utc_now_iso)

    def to_json(self) -> bytes:
        return _dump(
            {
                "state": self.state,
                "problem": self.problem,
                "prints_left": self.prints_left,
                "per_photo": self.per_photo,
                "mode": self.mode,
                "queue": self.queue,
                "updated_at": self.updated_at,
            }
        )

    @classmethod
    def from_json(cls, payload: Payload) -> PrintState:
        data = _json(payload, "print state")
        _fields(
            data,
            ("state", "updated_at"),
            "print state",
            optional=("problem", "prints_left", "per_photo", "mode", "queue"),
        )
        if not isinstance(data["state"], str):
            raise ProtocolError("print state state must be a string")
        state = _known_or(data["state"], PRINTER_STATES, "print state value", PAUSED)
        parse_iso(data["updated_at"], "print state updated_at")
        mode = data.get("mode", "button")
        if not isinstance(mode, str):
            raise ProtocolError("print state mode must be a string")
        return cls(
            state,
            _optional_str(data, "problem", "print state"),
            _count(data, "prints_left", "print state", null=True),
            _count({"per_photo": data.get("per_photo", 1)}, "per_photo", "print state"),
            mode,
            _count({"queue": data.get("queue", 0)}, "queue", "print state"),
            data["updated_at"],
        )


@dataclass(frozen=True)
class PhotoPrint:
    """`{root}/{booth}/print/status/{job}`, printer → kiosk (retained): one photo's prints.

    `ahead` is how many sheets come out before this photo's first waiting one; `printed`,
    `waiting` and `allowed` count sheets (`allowed`: what a guest may have of it in all);
    `refused` says why the request `request_id` made nothing (waiting, limit, budget,
    no_photo). A `state` this version does not know is read as `waiting`: something is under
    way, and a second tap is left to the printer process to refuse."""

    job_id: str
    state: str
    ahead: int = 0
    printed: int = 0
    waiting: int = 0
    allowed: int = 1
    refused: str | None = None
    request_id: str | None = None
    updated_at: str = field(default_factory=utc_now_iso)

    def to_json(self) -> bytes:
        return _dump(
            {
                "job_id": self.job_id,
                "state": self.state,
                "ahead": self.ahead,
                "printed": self.printed,
                "waiting": self.waiting,
                "allowed": self.allowed,
                "refused": self.refused,
                "request_id": self.request_id,
                "updated_at": self.updated_at,
            }
        )

    @classmethod
    def from_json(cls, payload: Payload) -> PhotoPrint:
        data = _json(payload, "photo print status")
        _fields(
            data,
            ("job_id", "state", "updated_at"),
            "photo print status",
            optional=("ahead", "printed", "waiting", "allowed", "refused", "request_id"),
        )
        if not isinstance(data["state"], str):
            raise ProtocolError("photo print status state must be a string")
        state = _known_or(data["state"], PHOTO_STATES, "photo print state", WAITING)
        parse_iso(data["updated_at"], "photo print status updated_at")
        counts = {k: data.get(k, 0) for k in ("ahead", "printed", "waiting")}
        request_id = data.get("request_id")
        if request_id is not None:
            _request_id(request_id, "photo print status request_id")
        refused = _optional_str(data, "refused", "photo print status")
        return cls(
            validate_job_id(data["job_id"]),
            state,
            _count(counts, "ahead", "photo print status"),
            _count(counts, "printed", "photo print status"),
            _count(counts, "waiting", "photo print status"),
            _count({"allowed": data.get("allowed", 1)}, "allowed", "photo print status"),
            refused,
            request_id,
            data["updated_at"],
        )
