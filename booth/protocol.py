"""The MQTT contract between kiosk and workers: the single home of the protocol table in README.md.

Topics, job metadata (MQTT 5 properties), the status JSON, the forward-only status order, error
kinds with their guest-facing messages, and the job id rules. Everything that comes off the wire
goes through a parser here; anything malformed raises :class:`ProtocolError` with what was wrong.
"""

from __future__ import annotations

import enum
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A booth or worker id becomes one topic level: no wildcards, no separators, printable.
NODE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ROOT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# A style preset name (config [styles.NAME], the job's `style` user property).
STYLE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

SHARE_GROUP = "workers"
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
    # the operator's view (issue 17): the kiosk's health, and the booth's services
    BOOTH_HEALTH = "booth_health"
    SERVICE_AVAILABILITY = "service_availability"
    SERVICE_HEALTH = "service_health"


# The booth's services besides the kiosk, each under `{root}/{booth}/{service}/…`: the share
# server (health and availability) and its cloud uploader (health; it lives and dies with the
# share server, whose availability it shares).
SERVICES = ("share", "uploader")


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
        if len(parts) == 4 and parts[2] in ("status", "results"):
            kind = TopicKind.STATUS if parts[2] == "status" else TopicKind.RESULTS
            return ParsedTopic(kind, booth=booth, job_id=validate_job_id(parts[3]))
        raise ProtocolError(f"topic {topic!r} does not match any topic of the protocol")


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
    ErrorKind.QUOTA: "The AI has made all the pictures it may today, so we added the bling ourselves.",
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
        if not isinstance(data, dict):
            raise ProtocolError(f"error must be null or an object, got {type(data).__name__}")
        _exact_keys(data, ("kind", "message", "retry_after_s"), "error")
        kind = _enum(ErrorKind, data["kind"], "error.kind")
        message = data["message"]
        if not isinstance(message, str):
            raise ProtocolError("error.message must be a string")
        retry = data["retry_after_s"]
        if retry is not None:
            if (
                isinstance(retry, bool)
                or not isinstance(retry, (int, float))
                or not math.isfinite(retry)
                or retry < 0
            ):
                raise ProtocolError(
                    f"error.retry_after_s must be null or a number ≥ 0, got {retry!r}"
                )
            retry = float(retry) if isinstance(retry, float) else retry
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


@dataclass(frozen=True)
class Status:
    """The retained status JSON of one job; every field is always present on the wire.

    `style_used` is the style preset whose prompt the worker sent to the model (null when no
    model was asked); it differs from the job's `style` when the worker did not know that name.
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
        _exact_keys(data, STATUS_FIELDS, "status", optional=STATUS_OPTIONAL_FIELDS)
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
        return cls(
            job_id=validate_job_id(data["job_id"]),
            booth_id=validate_node_id(data["booth_id"]),
            status=_enum(JobStatus, data["status"], "status"),
            effect=None if data["effect"] is None else _enum(Effect, data["effect"], "effect"),
            attempt=attempt,
            worker=worker,
            error=None if data["error"] is None else JobError.from_dict(data["error"]),
            updated_at=data["updated_at"],
            style_used=style_used,
        )

    @classmethod
    def from_json(cls, payload: bytes | str) -> Status:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"status is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


# --------------------------------------------------------------------------------------------
# job metadata (MQTT 5 properties of a job message)


@dataclass(frozen=True)
class JobMeta:
    """What travels with a job's image bytes as MQTT 5 properties."""

    job_id: str
    style: str
    created_at: str = field(default_factory=utc_now_iso)
    content_type: str = "image/jpeg"

    def user_properties(self) -> list[tuple[str, str]]:
        return [("job_id", self.job_id), ("style", self.style), ("created_at", self.created_at)]

    def to_properties(self) -> Any:
        """paho Properties for a PUBLISH packet."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = self.content_type
        props.UserProperty = self.user_properties()
        return props

    @property
    def created(self) -> datetime:
        return parse_iso(self.created_at, "created_at")

    @classmethod
    def from_properties(cls, props: Any) -> JobMeta:
        """Parse the properties of a received job (paho Properties or None)."""
        user: dict[str, str] = {}
        for pair in (getattr(props, "UserProperty", None) or []) if props is not None else []:
            if isinstance(pair, (tuple, list)) and len(pair) == 2:
                user.setdefault(str(pair[0]), str(pair[1]))
        content_type = getattr(props, "ContentType", None) if props is not None else None
        if "job_id" not in user:
            raise ProtocolError("job has no job_id user property")
        job_id = validate_job_id(user["job_id"])
        try:
            style = user.get("style")
            if not isinstance(style, str) or not STYLE_RE.match(style):
                raise ProtocolError(f"job style {style!r} is missing or not a preset name")
            created_at = user.get("created_at")
            parse_iso(created_at, "created_at")
            if content_type not in IMAGE_CONTENT_TYPES:
                raise ProtocolError(
                    f"job content type {content_type!r} is not one of "
                    f"{', '.join(IMAGE_CONTENT_TYPES)}"
                )
        except ProtocolError as exc:
            exc.job_id = job_id
            raise
        return cls(job_id, style, created_at, content_type)


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
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = content_type
    return props


def parse_availability(payload: bytes | str) -> bool:
    """True for `online`, False for `offline`; anything else is a protocol error."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    if text == ONLINE:
        return True
    if text == OFFLINE:
        return False
    raise ProtocolError(f"availability must be 'online' or 'offline', got {text[:40]!r}")


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
        if not isinstance(data, dict):
            raise ProtocolError("health problems must be objects")
        for key in ("code", "level", "reason"):
            if not isinstance(data.get(key), str):
                raise ProtocolError(f"health problem {key} must be a string")
        if data["level"] not in PROBLEM_LEVELS:
            raise ProtocolError(
                f"health problem level {data['level']!r} is not one of {', '.join(PROBLEM_LEVELS)}"
            )
        fix = data.get("fix", "")
        if not isinstance(fix, str):
            raise ProtocolError("health problem fix must be a string")
        return cls(data["code"], data["level"], data["reason"], fix)


@dataclass(frozen=True)
class Health:
    """The retained health JSON of a part, next to its availability: a worker
    (`{root}/workers/{worker}/health`), the kiosk (`{root}/{booth}/health`), the share server and
    its uploader (`{root}/{booth}/share/health`, `{root}/{booth}/uploader/health`). Read it
    together with the part's availability: a part that died keeps its last health, and its
    availability says `offline`.

    Only `state` and `updated_at` are required; unknown fields are kept in `extra` (and written
    back by `to_dict`), so each part adds what it knows (the kiosk its camera and disk, the
    uploader its queue) and it can grow. `problems` lists every current problem (the first one's
    words are also `reason` and `fix`).
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
        if data["state"] not in HEALTH_STATES:
            raise ProtocolError(
                f"health state {data['state']!r} is not one of {', '.join(HEALTH_STATES)}"
            )
        parse_iso(data["updated_at"], "health updated_at")
        known = {
            "state",
            "updated_at",
            "jobs_in_flight",
            "counts",
            "last_error",
            "problems",
            *cls._TEXT,
            *cls._OPTIONAL_TEXT,
        }
        kw: dict[str, Any] = {"state": data["state"], "updated_at": data["updated_at"]}
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
    def from_json(cls, payload: bytes | str) -> Health:
        try:
            data = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"health is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


# --------------------------------------------------------------------------------------------
# helpers


def _exact_keys(
    data: dict, expected: tuple[str, ...], what: str, optional: tuple[str, ...] = ()
) -> None:
    missing = [k for k in expected if k not in data]
    if missing:
        raise ProtocolError(f"{what} is missing field(s): {', '.join(missing)}")
    unknown = sorted(k for k in data if k not in expected and k not in optional)
    if unknown:
        raise ProtocolError(f"{what} has unknown field(s): {', '.join(map(str, unknown))}")


def _enum(cls: type[enum.Enum], value: Any, what: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
        raise ProtocolError(f"{what} {value!r} is not one of: {allowed}") from None
