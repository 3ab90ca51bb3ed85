"""The MQTT contract between kiosk and workers, written out for readers in docs/protocol.md.

Topics, job metadata (MQTT 5 properties), the status JSON, the forward-only status order, error
kinds with their guest-facing messages, and the job id rules. Everything that comes off the wire
goes through a parser here; anything malformed raises :class:`ProtocolError` with what was wrong.

The readers are tolerant across versions, because booths and workers of one fleet are upgraded at
different times: a field this version does not know is ignored (and logged once per process), a
known field that is malformed is still an error, and a value a newer sender added to a known enum
is read the safe way its parser documents. Availability and health carry the sender's
`PROTOCOL_VERSION`, so the operator's views can say who speaks a newer protocol.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

log = logging.getLogger("booth.protocol")

# The version of this contract, the one place it is written. Raise it whenever the contract grows
# (a field, an enum value, a topic): older readers ignore what they do not know, and the operator's
# views compare it (booth/healthboard.py). Every availability message carries it as the MQTT 5 user
# property PROTOCOL_PROPERTY, every health message as the field of the same name. A message
# without it comes from before versions existed: FIRST_PROTOCOL_VERSION.
PROTOCOL_VERSION = 4
FIRST_PROTOCOL_VERSION = 1
PROTOCOL_PROPERTY = "protocol_version"

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A booth or worker id becomes one topic level: no wildcards, no separators, printable.
NODE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ROOT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# A style preset name (config [styles.NAME], the job's `style` user property).
STYLE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

SHARE_GROUP = "workers"
# A message body as paho hands it over (MQTTMessage.payload), or as text.
Payload = bytes | bytearray | str
IMAGE_CONTENT_TYPES = ("image/jpeg", "image/png")
ONLINE = "online"
OFFLINE = "offline"


class ProtocolError(ValueError):
    """A message, topic or id that does not follow the contract. The text says what was wrong.

    A job whose id could be read carries it (`job_id`, `booth`), so it can still be answered."""

    job_id: str | None = None
    booth: str | None = None


# --------------------------------------------------------------------------------------------
# ids and time


def new_job_id() -> str:
    """A random job id (UUID4 hex: 32 chars, 122 random bits)."""
    return uuid.uuid4().hex


def validate_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise ProtocolError(f"bad job id {job_id!r}: must match [A-Za-z0-9_-]{{8,64}}")
    return job_id


def validate_node_id(node_id: Any, what: str = "booth id") -> str:
    if not isinstance(node_id, str) or not NODE_ID_RE.match(node_id):
        raise ProtocolError(f"bad {what} {node_id!r}: must match [A-Za-z0-9_.-]{{1,64}}")
    return node_id


def utc_now_iso() -> str:
    """ISO 8601 UTC with milliseconds and a Z, the form every timestamp on the wire takes."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(value: Any, what: str = "timestamp") -> datetime:
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{what} must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProtocolError(f"{what} {value!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise ProtocolError(f"{what} {value!r} has no time zone (expected UTC, ending in Z)")
    return parsed


# --------------------------------------------------------------------------------------------
# topics


class TopicKind(str, enum.Enum):
    JOBS = "jobs"
    STATUS = "status"
    RESULTS = "results"
    AVAILABILITY = "availability"
    WORKER_AVAILABILITY = "worker_availability"
    WORKER_HEALTH = "worker_health"
    # the operator's view: the kiosk's health, and the booth's services
    BOOTH_HEALTH = "booth_health"
    SERVICE_AVAILABILITY = "service_availability"
    SERVICE_HEALTH = "service_health"
    # prints (the messages: booth/printmsg.py)
    PRINT_REQUESTS = "print_requests"
    PRINT_COMMANDS = "print_commands"
    PRINT_STATE = "print_state"
    PRINT_STATUS = "print_status"


# The booth's services besides the kiosk, each under `{root}/{booth}/{service}/…`: the share
# server (health and availability) and its cloud uploader (health; it lives and dies with the
# share server, whose availability it shares), and the printer process (health, availability).
SERVICES = ("share", "uploader", "printer")
# Under `{root}/{booth}/print/`: what the kiosk asks of the printer process, what the operator
# (through the share server) tells it, and what it says back (booth/printmsg.py).
PRINT_LEVEL = "print"


@dataclass(frozen=True)
class ParsedTopic:
    kind: TopicKind
    booth: str | None = None
    job_id: str | None = None
    worker: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Topics:
    """Topic builders for one root. `{root}/{booth}/…` and `{root}/workers/{worker}/…`."""

    root: str = "booth"

    def __post_init__(self) -> None:
        if not isinstance(self.root, str) or not ROOT_RE.match(self.root):
            raise ProtocolError(f"bad topic root {self.root!r}: must match [A-Za-z0-9_.-]{{1,64}}")

    def jobs(self, booth: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/jobs"

    def status(self, booth: str, job_id: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/status/{validate_job_id(job_id)}"

    def results(self, booth: str, job_id: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/results/{validate_job_id(job_id)}"

    def availability(self, booth: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/availability"

    def worker_availability(self, worker: str) -> str:
        return f"{self.root}/workers/{validate_node_id(worker, 'worker id')}/availability"

    def worker_health(self, worker: str) -> str:
        return f"{self.root}/workers/{validate_node_id(worker, 'worker id')}/health"

    def booth_health(self, booth: str) -> str:
        """The kiosk's health (next to its availability)."""
        return f"{self.root}/{validate_node_id(booth)}/health"

    def service_availability(self, booth: str, service: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/{_service(service)}/availability"

    def service_health(self, booth: str, service: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/{_service(service)}/health"

    def print_requests(self, booth: str) -> str:
        """The kiosk's print requests (QoS 1, not retained) to the printer process."""
        return f"{self.root}/{validate_node_id(booth)}/{PRINT_LEVEL}/requests"

    def print_commands(self, booth: str) -> str:
        """The operator's print commands, from the share server only (QoS 1, not retained)."""
        return f"{self.root}/{validate_node_id(booth)}/{PRINT_LEVEL}/commands"

    def print_state(self, booth: str) -> str:
        """The printer process's retained word to the guests' screen: can it print now."""
        return f"{self.root}/{validate_node_id(booth)}/{PRINT_LEVEL}/state"

    def print_status(self, booth: str, job_id: str) -> str:
        """One photo's prints (retained)."""
        return (
            f"{self.root}/{validate_node_id(booth)}/{PRINT_LEVEL}/status/{validate_job_id(job_id)}"
        )

    def print_statuses(self, booth: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/{PRINT_LEVEL}/status/+"

    # subscriptions
    def shared_jobs(self) -> str:
        """What workers subscribe to: every booth's jobs, dealt over the share group."""
        return f"$share/{SHARE_GROUP}/{self.root}/+/jobs"

    def booth_statuses(self, booth: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/status/+"

    def booth_results(self, booth: str) -> str:
        return f"{self.root}/{validate_node_id(booth)}/results/+"

    def all_worker_availability(self) -> str:
        return f"{self.root}/workers/+/availability"

    def all_worker_health(self) -> str:
        return f"{self.root}/workers/+/health"

    def booth_services(self, booth: str) -> list[str]:
        """Every service's health and availability of one booth (one filter per service: a
        `+/+` would match the booth's statuses and results too)."""
        return [f"{self.root}/{validate_node_id(booth)}/{s}/+" for s in SERVICES]

    def parse(self, topic: str) -> ParsedTopic:
        """Parse a concrete topic of this root; raises ProtocolError for anything else."""
        if not isinstance(topic, str):
            raise ProtocolError(f"topic must be a string, got {type(topic).__name__}")
        parts = topic.split("/")
        if len(parts) < 3 or parts[0] != self.root:
            raise ProtocolError(f"topic {topic!r} is not under root {self.root!r}")
        if parts[1] == "workers":
            if len(parts) == 4 and parts[3] in ("availability", "health"):
                kind = (
                    TopicKind.WORKER_AVAILABILITY
                    if parts[3] == "availability"
                    else TopicKind.WORKER_HEALTH
                )
                return ParsedTopic(kind, worker=validate_node_id(parts[2], "worker id"))
            raise ProtocolError(f"topic {topic!r} is not a worker availability or health topic")
        booth = validate_node_id(parts[1])
        if len(parts) == 3 and parts[2] == "jobs":
            return ParsedTopic(TopicKind.JOBS, booth=booth)
        if len(parts) == 3 and parts[2] == "availability":
            return ParsedTopic(TopicKind.AVAILABILITY, booth=booth)
        if len(parts) == 3 and parts[2] == "health":
            return ParsedTopic(TopicKind.BOOTH_HEALTH, booth=booth)
        if len(parts) == 4 and parts[2] in SERVICES and parts[3] in ("availability", "health"):
            kind = (
                TopicKind.SERVICE_HEALTH if parts[3] == "health" else TopicKind.SERVICE_AVAILABILITY
            )
            return ParsedTopic(kind, booth=booth, service=parts[2])
        if len(parts) >= 4 and parts[2] == PRINT_LEVEL:
            return _print_topic(topic, parts, booth)
        if len(parts) == 4 and parts[2] in ("status", "results"):
            kind = TopicKind.STATUS if parts[2] == "status" else TopicKind.RESULTS
            return ParsedTopic(kind, booth=booth, job_id=validate_job_id(parts[3]))
        raise ProtocolError(f"topic {topic!r} does not match any topic of the protocol")


_PRINT_KINDS = {
    "requests": TopicKind.PRINT_REQUESTS,
    "commands": TopicKind.PRINT_COMMANDS,
    "state": TopicKind.PRINT_STATE,
}


def _print_topic(topic: str, parts: list[str], booth: str) -> ParsedTopic:
    if len(parts) == 4 and parts[3] in _PRINT_KINDS:
        return ParsedTopic(_PRINT_KINDS[parts[3]], booth=booth)
    if len(parts) == 5 and parts[3] == "status":
        return ParsedTopic(TopicKind.PRINT_STATUS, booth=booth, job_id=validate_job_id(parts[4]))
    raise ProtocolError(f"topic {topic!r} is not a print topic of the protocol")


def _service(name: str) -> str:
    if name not in SERVICES:
        raise ProtocolError(f"unknown service {name!r}: one of {', '.join(SERVICES)}")
    return name


# --------------------------------------------------------------------------------------------
# statuses and errors


class JobStatus(str, enum.Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


_RANK = {JobStatus.PENDING: 0, JobStatus.PROCESSING: 1, JobStatus.COMPLETED: 2, JobStatus.FAILED: 2}
_STATUS_VALUES = tuple(s.value for s in JobStatus)


def moves_forward(current: JobStatus | None, new: JobStatus) -> bool:
    """Statuses only move forward; a final status never changes (the first result wins)."""
    if current is None:
        return True
    return new.rank > current.rank


class Effect(str, enum.Enum):
    GEMINI = "gemini"
    LOCAL = "local"


class ErrorKind(str, enum.Enum):
    QUOTA = "quota"
    RATE_LIMITED = "rate_limited"
    SAFETY = "safety"
    NO_IMAGE = "no_image"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    BAD_INPUT = "bad_input"
    INTERNAL = "internal"


# What a guest reads for each kind (worker messages and kiosk error screens use these).
GUEST_MESSAGES: dict[ErrorKind, str] = {
    ErrorKind.QUOTA: "The AI has made all the pictures it may today, "
    "so we added the bling ourselves.",
    ErrorKind.RATE_LIMITED: "The AI is very busy right now. Please try again in a moment.",
    ErrorKind.SAFETY: "The AI would not edit this photo. Try another pose!",
    ErrorKind.NO_IMAGE: "The AI did not send a picture back this time.",
    ErrorKind.TIMEOUT: "The AI took too long to answer.",
    ErrorKind.UNAVAILABLE: "The AI can't be reached right now.",
    ErrorKind.BAD_INPUT: "That photo could not be read. Please take another one.",
    ErrorKind.INTERNAL: "Something went wrong on our side. Please take another photo.",
}

# Kinds that may clear up by themselves (the worker retries these within the deadline).
TRANSIENT_KINDS = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.TIMEOUT, ErrorKind.UNAVAILABLE})


@dataclass(frozen=True)
class JobError:
    kind: ErrorKind
    message: str
    retry_after_s: float | None = None

    @classmethod
    def for_guest(cls, kind: ErrorKind, retry_after_s: float | None = None) -> JobError:
        return cls(kind, GUEST_MESSAGES[kind], retry_after_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "retry_after_s": self.retry_after_s,
        }

    @classmethod
    def from_dict(cls, data: Any) -> JobError:
        """Parse an error object; an unknown field is ignored.

        A `kind` this version does not know (a newer worker's) is read as `internal`: the status
        that carries it must still count (a completed job with a fallback still shows its
        picture), and `internal` is the one kind that promises nothing a reader acts on — not
        transient (so nothing retries), no special screen. The sender's `message` is kept.
        """
        if not isinstance(data, dict):
            raise ProtocolError(f"error must be null or an object, got {type(data).__name__}")
        _fields(data, ("kind", "message", "retry_after_s"), "error")
        kind = _enum_or(ErrorKind, data["kind"], "error.kind", ErrorKind.INTERNAL)
        message = data["message"]
        if not isinstance(message, str):
            raise ProtocolError("error.message must be a string")
        retry = data["retry_after_s"]
        if retry is not None and not _finite_at_least_zero(retry):
            shown = f"{retry!r}"[:40]
            raise ProtocolError(f"error.retry_after_s must be null or a number ≥ 0, got {shown}")
        return cls(kind, message, retry)


STATUS_FIELDS = (
    "job_id",
    "booth_id",
    "status",
    "effect",
    "attempt",
    "worker",
    "error",
    "updated_at",
)
# Fields added later: always sent, but a message without them (an older sender) is still valid.
STATUS_OPTIONAL_FIELDS = ("style_used",)


class UnknownStatus(ProtocolError):
    """A status message whose `status` value is newer than this version, otherwise well-formed.

    A reader cannot place a value it does not know in the forward-only order: read as any known
    status it could move the job backward, end it without a picture, or stop the re-dispatch of a
    job no worker has. So such a message leaves its job where it is (it is a ProtocolError, which
    every reader already drops) and the next status this version knows moves the job on. Readers
    may drop it quietly: the value is logged once per process here. `job_id` and `booth` are set.
    """


@dataclass(frozen=True)
class Status:
    """The retained status JSON of one job; every field is always present on the wire.

    `style_used` is the style preset whose prompt the worker sent to the model (null when no
    model was asked); it differs from the job's `style` when the worker did not know that name.

    Read tolerantly (a newer worker's status must still move an older kiosk's job): an unknown
    field is ignored; an unknown `effect` is read as null (the effect only describes the picture,
    so the status still counts); an unknown error kind as `internal` (:meth:`JobError.from_dict`);
    an unknown `status` value raises :class:`UnknownStatus`.
    """

    job_id: str
    booth_id: str
    status: JobStatus
    effect: Effect | None = None
    attempt: int = 1
    worker: str | None = None
    error: JobError | None = None
    updated_at: str = field(default_factory=utc_now_iso)
    style_used: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "booth_id": self.booth_id,
            "status": self.status.value,
            "effect": self.effect.value if self.effect else None,
            "attempt": self.attempt,
            "worker": self.worker,
            "error": self.error.to_dict() if self.error else None,
            "updated_at": self.updated_at,
            "style_used": self.style_used,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, data: Any) -> Status:
        if not isinstance(data, dict):
            raise ProtocolError(f"status must be a JSON object, got {type(data).__name__}")
        _fields(data, STATUS_FIELDS, "status", optional=STATUS_OPTIONAL_FIELDS)
        job_id = validate_job_id(data["job_id"])
        booth_id = validate_node_id(data["booth_id"])
        attempt = data["attempt"]
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise ProtocolError(f"attempt must be an integer ≥ 1, got {attempt!r}")
        worker = data["worker"]
        if worker is not None:
            validate_node_id(worker, "worker id")
        parse_iso(data["updated_at"], "updated_at")
        style_used = data.get("style_used")
        if style_used is not None and (
            not isinstance(style_used, str) or not STYLE_RE.match(style_used)
        ):
            raise ProtocolError(
                f"style_used must be null or a style preset name, got {style_used!r}"
            )
        effect = (
            None if data["effect"] is None else _enum_or(Effect, data["effect"], "effect", None)
        )
        error = None if data["error"] is None else JobError.from_dict(data["error"])
        status = data["status"]
        if not isinstance(status, str):
            raise ProtocolError(f"status must be a string, got {status!r}")
        if status not in _STATUS_VALUES:  # checked last: the rest of the message is well-formed
            _note_unknown("status value", status, "its job stays where it is")
            exc = UnknownStatus(
                f"status {status[:40]!r} is newer than protocol v{PROTOCOL_VERSION} "
                f"(one of: {', '.join(_STATUS_VALUES)}); the job stays where it is"
            )
            exc.job_id, exc.booth = job_id, booth_id
            raise exc
        return cls(
            job_id=job_id,
            booth_id=booth_id,
            status=JobStatus(status),
            effect=effect,
            attempt=attempt,
            worker=worker,
            error=error,
            updated_at=data["updated_at"],
            style_used=style_used,
        )

    @classmethod
    def from_json(cls, payload: Payload) -> Status:
        return cls.from_dict(load_json(payload, "status"))


# --------------------------------------------------------------------------------------------
# job metadata (MQTT 5 properties of a job message)


JOB_USER_PROPERTIES = ("job_id", "style", "created_at")
# A frame of a strip session (since protocol v4): the session it belongs to and its place in it.
# Only for the reader's information (logs, a fleet's own tools): the job is one shot like any
# other, and the kiosk groups its frames in its own ledger (jobstore/sessions.py).
JOB_SESSION_PROPERTIES = ("session_id", "frame")
MAX_FRAME = 16


@dataclass(frozen=True)
class JobMeta:
    """What travels with a job's image bytes as MQTT 5 properties."""

    job_id: str
    style: str
    created_at: str = field(default_factory=utc_now_iso)
    content_type: str = "image/jpeg"
    session_id: str | None = None  # a strip session's frame: its session and its number
    frame: int | None = None

    def user_properties(self) -> list[tuple[str, str]]:
        props = list(zip(JOB_USER_PROPERTIES, (self.job_id, self.style, self.created_at)))
        if self.session_id is not None and self.frame is not None:
            props += [("session_id", self.session_id), ("frame", str(self.frame))]
        return props

    def to_properties(self) -> Any:
        """paho Properties for a PUBLISH packet."""
        props = _properties(will=False)
        props.ContentType = self.content_type
        props.UserProperty = self.user_properties()
        return props

    @property
    def created(self) -> datetime:
        return parse_iso(self.created_at, "created_at")

    @classmethod
    def from_properties(cls, props: Any) -> JobMeta:
        """Parse the properties of a received job (paho Properties or None); a user property
        this version does not know is ignored."""
        user = _user_properties(props)
        for name in sorted(set(user) - set(JOB_USER_PROPERTIES) - set(JOB_SESSION_PROPERTIES)):
            _note_unknown("job user property", name, "ignored")
        content_type = getattr(props, "ContentType", None) if props is not None else None
        if "job_id" not in user:
            raise ProtocolError("job has no job_id user property")
        job_id = validate_job_id(user["job_id"])
        try:
            style = user.get("style")
            if not isinstance(style, str) or not STYLE_RE.match(style):
                raise ProtocolError(f"job style {style!r} is missing or not a preset name")
            created_at = user.get("created_at", "")
            parse_iso(created_at, "created_at")
            if content_type not in IMAGE_CONTENT_TYPES:
                raise ProtocolError(
                    f"job content type {content_type!r} is not one of "
                    f"{', '.join(IMAGE_CONTENT_TYPES)}"
                )
            session_id, frame = _job_session(user)
        except ProtocolError as exc:
            exc.job_id = job_id
            raise
        return cls(job_id, style, created_at, content_type, session_id, frame)


def _job_session(user: dict[str, str]) -> tuple[str | None, int | None]:
    """A job's strip session and frame number, both or neither (None, None)."""
    if "session_id" not in user and "frame" not in user:
        return None, None
    session_id, frame = user.get("session_id", ""), user.get("frame", "")
    if not (JOB_ID_RE.match(session_id) and re.fullmatch(r"[0-9]{1,2}", frame)) or not (
        1 <= int(frame) <= MAX_FRAME
    ):
        raise ProtocolError(
            f"job session {session_id[:64]!r} frame {frame[:8]!r}: expected a session id "
            f"and a frame number 1 to {MAX_FRAME}, both or neither"
        )
    return session_id, int(frame)


@dataclass(frozen=True)
class JobMessage:
    """A received job: the booth it came from (its topic) and its metadata (its properties)."""

    booth: str
    meta: JobMeta

    @property
    def job_id(self) -> str:
        return self.meta.job_id

    @classmethod
    def parse(cls, topics: Topics, topic: str, props: Any) -> JobMessage:
        """The one parser of job messages. Raises ProtocolError; when the job id and booth could
        still be read they are on the error (`job_id`, `booth`), so the receiver can answer the
        job with a failed status instead of leaving the guest waiting."""
        parsed = topics.parse(topic)
        if parsed.kind is not TopicKind.JOBS or not parsed.booth:
            raise ProtocolError(f"message on {topic!r} is not a job")
        try:
            return cls(parsed.booth, JobMeta.from_properties(props))
        except ProtocolError as exc:
            exc.booth = parsed.booth
            raise


def result_properties(content_type: str = "image/jpeg") -> Any:
    props = _properties(will=False)
    props.ContentType = content_type
    return props


def parse_availability(payload: Payload) -> bool:
    """True for `online`, False for `offline`; anything else is a protocol error."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes | bytearray) else payload
    if text == ONLINE:
        return True
    if text == OFFLINE:
        return False
    raise ProtocolError(f"availability must be 'online' or 'offline', got {text[:40]!r}")


@dataclass(frozen=True)
class Availability:
    """A part's availability: the plain `online` / `offline` payload (kept exactly so: Home
    Assistant and other MQTT tools read it) and the protocol version its sender speaks, carried
    beside it as the MQTT 5 user property PROTOCOL_PROPERTY (on the birth and on the will)."""

    online: bool
    protocol_version: int = FIRST_PROTOCOL_VERSION

    @classmethod
    def parse(cls, payload: Payload, properties: Any = None) -> Availability:
        """Parse a received availability (paho Properties or None); other user properties are
        ignored, a malformed version is a ProtocolError."""
        return cls(parse_availability(payload), protocol_version_of(properties))


def availability_properties(will: bool = False) -> Any:
    """paho Properties for an availability publish (or, with `will`, for the will message):
    this process's PROTOCOL_VERSION as a user property."""
    props = _properties(will)
    props.UserProperty = [(PROTOCOL_PROPERTY, str(PROTOCOL_VERSION))]
    return props


def protocol_version_of(properties: Any) -> int:
    """The PROTOCOL_PROPERTY user property of a message (FIRST_PROTOCOL_VERSION without it)."""
    value = _user_properties(properties).get(PROTOCOL_PROPERTY)
    if value is None:
        return FIRST_PROTOCOL_VERSION
    if not _VERSION_RE.match(value):
        raise ProtocolError(f"{PROTOCOL_PROPERTY} must be a whole number ≥ 1, got {value[:20]!r}")
    return int(value)


def parse_protocol_version(value: Any, what: str) -> int:
    """A JSON `protocol_version` field: absent (None) is FIRST_PROTOCOL_VERSION."""
    if value is None:
        return FIRST_PROTOCOL_VERSION
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise ProtocolError(
            f"{what} must be a whole number from 1 to {MAX_VERSION}, got {value!r:.40}"
        )
    return value


# What a sender's version may be, as a user property (nine digits) and as a JSON field alike.
MAX_VERSION = 999_999_999
_VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}$")


# --------------------------------------------------------------------------------------------
# health: a retained JSON message next to a part's availability (the operator's view)

HEALTH_STATES = ("ok", "warn", "error")


class AiState(str, enum.Enum):
    """What a worker knows about the AI service (the `ai` field of its health)."""

    OK = "ok"
    NO_KEY = "no_key"  # no GEMINI_API_KEY: the local effect by choice
    RATE_LIMITED = "rate_limited"  # paused for the service's retry delay
    QUOTA_EXHAUSTED = "quota_exhausted"  # daily/project quota used up (or limit 0)
    KEY_REJECTED = "key_rejected"  # invalid, expired or leaked key
    PERMISSION_DENIED = "permission_denied"
    SERVICE_DISABLED = "service_disabled"  # the API is not enabled for the key's project
    MODEL_NOT_FOUND = "model_not_found"  # a retired or misspelt model name
    REGION_UNSUPPORTED = "region_unsupported"
    BILLING_REQUIRED = "billing_required"
    REQUEST_REFUSED = "request_refused"  # a 4xx the service gave no clearer reason for
    BREAKER_OPEN = "breaker_open"  # outage: model calls stopped for a while
    PROBING = "probing"  # after a pause: one job is trying the model


PROBLEM_LEVELS = ("warn", "error")


@dataclass(frozen=True)
class Problem:
    """One thing an operator should know about a part: `code` names it for programs (the
    booth's operator mark, metrics), `reason` and `fix` say it in plain words."""

    code: str
    level: str  # warn | error
    reason: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level, "reason": self.reason, "fix": self.fix}

    @classmethod
    def from_dict(cls, data: Any) -> Problem:
        """Parse one problem; an unknown field is ignored, and a `level` this version does not
        know is read as `warn` (Health.from_dict says why)."""
        if not isinstance(data, dict):
            raise ProtocolError("health problems must be objects")
        for key in ("code", "level", "reason"):
            if not isinstance(data.get(key), str):
                raise ProtocolError(f"health problem {key} must be a string")
        _fields(data, ("code", "level", "reason"), "health problem", optional=("fix",))
        fix = data.get("fix", "")
        if not isinstance(fix, str):
            raise ProtocolError("health problem fix must be a string")
        level = _known_or(data["level"], PROBLEM_LEVELS, "health problem level", "warn")
        return cls(data["code"], level, data["reason"], fix)


@dataclass(frozen=True)
class Health:
    """The retained health JSON of a part, next to its availability: a worker
    (`{root}/workers/{worker}/health`), the kiosk (`{root}/{booth}/health`), the share server and
    its uploader (`{root}/{booth}/share/health`, `{root}/{booth}/uploader/health`). Read it
    together with the part's availability: a part that died keeps its last health, and its
    availability says `offline`.

    Only `state` and `updated_at` are required; unknown fields are kept in `extra` (and written
    back by `to_dict`), so each part adds what it knows (the kiosk its camera and disk, the
    uploader its queue) and it can grow. They are part of the message by design, so unlike the
    other parsers' unknown fields they are not logged. `problems` lists every current problem
    (the first one's words are also `reason` and `fix`). `protocol_version` is the sender's
    PROTOCOL_VERSION (FIRST_PROTOCOL_VERSION when the message has none).

    A `state` (or a problem's `level`) this version does not know is read as `warn`: the part
    still reports, so dropping its health would show it silent or unknown; `ok` would hide what
    a newer part thought worth saying, and `error` would raise an alarm for a word nobody here can
    judge. Amber makes the operator look, and `reason` and `fix` are shown as the part sent them.
    """

    state: str  # ok | warn | error
    updated_at: str = field(default_factory=utc_now_iso)
    part: str = "worker"
    id: str | None = None
    reason: str = ""  # plain words: what is wrong ("" when ok)
    fix: str = ""  # plain words: what the operator can do
    ai: str | None = None  # an AiState value (a string, so newer states still parse)
    ai_until: str | None = None  # ISO time a pause of model calls ends, if one is on
    jobs_in_flight: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    last_error: dict[str, Any] | None = None  # {"kind", "detail", "at"} of the last failure
    problems: tuple[Problem, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    protocol_version: int = PROTOCOL_VERSION

    _TEXT = ("part", "reason", "fix")
    _OPTIONAL_TEXT = ("id", "ai", "ai_until")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            {
                "part": self.part,
                "id": self.id,
                "state": self.state,
                "reason": self.reason,
                "fix": self.fix,
                "ai": self.ai,
                "ai_until": self.ai_until,
                "jobs_in_flight": self.jobs_in_flight,
                "counts": dict(self.counts),
                "last_error": self.last_error,
                "problems": [p.to_dict() for p in self.problems],
                "updated_at": self.updated_at,
                PROTOCOL_PROPERTY: self.protocol_version,
            }
        )
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, data: Any) -> Health:
        if not isinstance(data, dict):
            raise ProtocolError(f"health must be a JSON object, got {type(data).__name__}")
        for key in ("state", "updated_at"):
            if key not in data:
                raise ProtocolError(f"health is missing field {key!r}")
        if not isinstance(data["state"], str):
            raise ProtocolError(f"health state must be a string, got {data['state']!r}")
        state = _known_or(data["state"], HEALTH_STATES, "health state", "warn")
        parse_iso(data["updated_at"], "health updated_at")
        known = {
            "state",
            "updated_at",
            "jobs_in_flight",
            "counts",
            "last_error",
            "problems",
            PROTOCOL_PROPERTY,
            *cls._TEXT,
            *cls._OPTIONAL_TEXT,
        }
        kw: dict[str, Any] = {
            "state": state,
            "updated_at": data["updated_at"],
            "protocol_version": parse_protocol_version(
                data.get(PROTOCOL_PROPERTY), f"health {PROTOCOL_PROPERTY}"
            ),
        }
        for key in cls._TEXT:
            if key in data:
                if not isinstance(data[key], str):
                    raise ProtocolError(f"health {key} must be a string")
                kw[key] = data[key]
        for key in cls._OPTIONAL_TEXT:
            if data.get(key) is not None:
                if not isinstance(data[key], str):
                    raise ProtocolError(f"health {key} must be null or a string")
                kw[key] = data[key]
        if "jobs_in_flight" in data:
            n = data["jobs_in_flight"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ProtocolError(f"health jobs_in_flight must be an integer ≥ 0, got {n!r}")
            kw["jobs_in_flight"] = n
        if "counts" in data:
            counts = data["counts"]
            if not isinstance(counts, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in counts.items()
            ):
                raise ProtocolError("health counts must be an object of whole numbers")
            kw["counts"] = dict(counts)
        if data.get("last_error") is not None:
            if not isinstance(data["last_error"], dict):
                raise ProtocolError("health last_error must be null or an object")
            kw["last_error"] = dict(data["last_error"])
        if data.get("problems") is not None:
            if not isinstance(data["problems"], list):
                raise ProtocolError("health problems must be a list")
            kw["problems"] = tuple(Problem.from_dict(p) for p in data["problems"])
        kw["extra"] = {k: v for k, v in data.items() if k not in known}
        return cls(**kw)

    @classmethod
    def from_json(cls, payload: Payload) -> Health:
        return cls.from_dict(load_json(payload, "health"))


# --------------------------------------------------------------------------------------------
# helpers

# How deep a message's JSON may nest. The messages here nest three levels (a health's problems);
# a reader that accepted hundreds would pass the depth on to whatever serialises the message
# again (the dashboard's JSON), deeper in its call stack, where it fails.
MAX_JSON_DEPTH = 32


def load_json(payload: Payload, what: str) -> Any:
    """The JSON value of a message body; ProtocolError for anything that is not JSON (bad
    UTF-8, nesting past MAX_JSON_DEPTH or past Python's recursion limit, an integer of more
    digits than Python converts) or holds text that is not Unicode (a `\\udc90` escape)."""
    try:
        data = json.loads(payload)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ProtocolError(f"{what} is not valid JSON: {str(exc)[:80]}") from None
    _check_json(data, what)
    return data


def _check_json(value: Any, what: str) -> None:
    """Nesting within MAX_JSON_DEPTH and every string (keys too) encodable as UTF-8, checked
    without recursion. A lone surrogate reads fine from a JSON escape but fails wherever the
    message is written out again as UTF-8 (Status.to_json, a log file)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ProtocolError(f"{what} holds text that is not Unicode") from None
            continue
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > MAX_JSON_DEPTH:
            raise ProtocolError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((child, level + 1) for child in children)


def _finite_at_least_zero(value: Any) -> bool:
    """A JSON number ≥ 0 that is a float's finite value (an integer past a float's range is not:
    every reader computes with it as a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and number >= 0


def _fields(
    data: dict[str, Any], required: tuple[str, ...], what: str, optional: tuple[str, ...] = ()
) -> None:
    """Every required field is there; fields this version does not know are ignored (a newer
    sender's additions), each logged once per process."""
    missing = [k for k in required if k not in data]
    if missing:
        raise ProtocolError(f"{what} is missing field(s): {', '.join(missing)}")
    for key in sorted(str(k) for k in data if k not in required and k not in optional):
        _note_unknown(f"{what} field", key, "ignored")


E = TypeVar("E", bound=enum.Enum)
F = TypeVar("F")


def _enum_or(cls: type[E], value: Any, what: str, fallback: F) -> E | F:
    """A known enum field: a string this version does not know (a newer sender's value) is read
    as `fallback` and logged once; anything but a string is malformed."""
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string, got {value!r}")
    try:
        return cls(value)
    except ValueError:
        shown = fallback.value if isinstance(fallback, enum.Enum) else fallback
        _note_unknown(f"{what} value", value, f"read as {shown!r}")
        return fallback


def _known_or(value: str, known: tuple[str, ...], what: str, fallback: str) -> str:
    """_enum_or for fields kept as plain strings."""
    if value in known:
        return value
    _note_unknown(f"{what} value", value, f"read as {fallback!r}")
    return fallback


def _properties(will: bool) -> Any:
    """Empty paho Properties for a PUBLISH packet or a will message (imported here: the contract
    is importable without paho)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    packet = PacketTypes.WILLMESSAGE if will else PacketTypes.PUBLISH
    return Properties(packet)


def _user_properties(props: Any) -> dict[str, str]:
    """name → value of a message's MQTT 5 user properties (the first of repeated names)."""
    user: dict[str, str] = {}
    for pair in (getattr(props, "UserProperty", None) or []) if props is not None else []:
        if isinstance(pair, (tuple, list)) and len(pair) == 2:
            user.setdefault(str(pair[0]), str(pair[1]))
    return user


# What this process has already said it does not know: (what, name). Bounded, so a sender that
# makes up a new name per message grows neither memory nor the log.
NOTED_MAX = 256
_noted: set[tuple[str, str]] = set()
_noted_lock = threading.Lock()


def _note_unknown(what: str, name: str, action: str) -> None:
    """Log, once per process, that a message carried a name or value this version does not know.

    Once and not per message: a newer worker sends its added field on every status, and a fleet
    of them would flood the log with the same line."""
    name = name[:64]
    with _noted_lock:
        if (what, name) in _noted or len(_noted) >= NOTED_MAX:
            return
        _noted.add((what, name))
        last = len(_noted) == NOTED_MAX
    log.info(
        "%s %r is not in protocol v%d (a newer sender?): %s; said once per process",
        what,
        name,
        PROTOCOL_VERSION,
        action,
    )
    if last:
        log.info("%d unknown names noted: further ones are not logged", NOTED_MAX)
