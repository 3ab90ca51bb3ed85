"""What the printer process asks CUPS, in its own terms: the queue's state, its jobs, a print, a
cancel, a resume (printer/ipp.py carries it over the wire).

Every call raises only :class:`CupsDown` (cupsd does not answer), :class:`QueueMissing` (no such
queue), :class:`NotAllowed` (this user may not do that: the booth user is not in `lpadmin`) or
:class:`CupsError` (any other refusal), so the queue loop (printer/service.py) can say which
one it is in plain words and carry on.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from printer.ipp import (
    Attr,
    IppBadAnswer,
    IppClient,
    IppError,
    IppForbidden,
    IppNotFound,
    IppUnreachable,
    Op,
    Response,
    Server,
    Tag,
    Value,
    decode_response,
    encode_request,
    first,
    integers,
    keywords,
    requested,
)

# printer-state
IDLE, PROCESSING, STOPPED = 3, 4, 5
# job-state
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
JOB_DONE = frozenset({JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED})
JOB_NAMES = {3: "pending", 4: "held", 5: "processing", 6: "stopped", 7: "canceled"}
JOB_NAMES.update({8: "aborted", 9: "completed"})
STATE_NAMES = {IDLE: "idle", PROCESSING: "processing", STOPPED: "stopped"}

QUEUE_ATTRS = (
    "printer-name",
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-is-accepting-jobs",
    "device-uri",
    "queued-job-count",
    "marker-names",
    "marker-types",
    "marker-levels",
    "marker-low-levels",
    "marker-high-levels",
    "printer-make-and-model",
)
DEVICE_ATTRS = (
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-is-accepting-jobs",
)
# Only attributes cupsd answers from memory: asking for others limits Get-Jobs to 500 jobs
# (scheduler/ipp.c in CUPS), and a print looked up after a crash may be the 501st.
LIST_ATTRS = ("job-id", "job-name", "job-state", "job-state-reasons")
JOB_ATTRS = (*LIST_ATTRS, "job-state-message")


class CupsError(Exception):
    """CUPS refused; the text says what it said, `status` is the IPP status code (0: no answer).
    A 0x05xx status (server-error-…) may pass; a 0x04xx (client-error-…) will not."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def lasting(self) -> bool:
        """CUPS answered that this request itself is wrong (trying again will not help)."""
        return 0x0400 <= self.status < 0x0500


class CupsDown(CupsError):
    """cupsd does not answer at the configured address."""


class QueueMissing(CupsError):
    """The configured queue does not exist in this cupsd."""


class NotAllowed(CupsError):
    """The user the printer process runs as may not do this (cupsd's policy)."""


@dataclass(frozen=True)
class Marker:
    """One supply the printer reports (a dye-sub's ribbon or paper count, an inkjet's ink):
    `level` in per cent, -1 unknown, -2 unknown but some left, -3 unknown but some used."""

    name: str
    type: str
    level: int
    low: int = -1

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "type": self.type, "level": self.level, "low": self.low}


@dataclass(frozen=True)
class QueueState:
    """A CUPS queue as CUPS sees it: its state, why, whether it takes jobs, its supplies."""

    name: str
    state: int  # IDLE | PROCESSING | STOPPED
    reasons: tuple[str, ...]  # printer-state-reasons without "none"
    accepting: bool
    message: str
    device_uri: str
    queued: int
    markers: tuple[Marker, ...] = ()
    model: str = ""

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, str(self.state))

    @property
    def stopped(self) -> bool:
        return self.state == STOPPED


@dataclass(frozen=True)
class DeviceState:
    """What a network printer behind a queue says of itself (asked directly over IPP)."""

    state: int
    reasons: tuple[str, ...]
    accepting: bool
    message: str


@dataclass(frozen=True)
class CupsJob:
    id: int
    name: str
    state: int
    reasons: tuple[str, ...] = ()
    message: str = ""

    @property
    def done(self) -> bool:
        return self.state in JOB_DONE

    @property
    def state_name(self) -> str:
        return JOB_NAMES.get(self.state, str(self.state))


def _reasons(attrs: Mapping[str, list[Value]], name: str) -> tuple[str, ...]:
    return tuple(r for r in keywords(attrs, name) if r != "none")


def _str(value: Value) -> str:
    return value if isinstance(value, str) else ""


class Cups:
    """The CUPS of this booth (`server`), as the printer process uses it."""

    def __init__(self, server: Server, timeout_s: float = 10.0, user: str | None = None) -> None:
        self.ipp = IppClient(server, timeout_s, user)
        self.server = server

    def _call(
        self,
        op: Op,
        path: str,
        operation: list[Attr],
        job: list[Attr] | None = None,
        document: bytes | None = None,
        queue: str = "",
    ) -> Response:
        try:
            return self.ipp.call(op, path, operation, job or [], document)
        except IppUnreachable as exc:
            raise CupsDown(str(exc)) from exc
        except IppNotFound as exc:
            if queue:
                raise QueueMissing(f"CUPS has no queue {queue!r} ({exc})") from exc
            raise CupsError(str(exc)) from exc
        except IppForbidden as exc:
            raise NotAllowed(str(exc)) from exc
        except IppError as exc:
            raise CupsError(str(exc), exc.status) from exc

    # ------------------------------------------------------------------ the queue
    def queue(self, name: str) -> QueueState:
        resp = self._call(
            Op.GET_PRINTER_ATTRIBUTES,
            f"/printers/{name}",
            [*self.ipp.base(self.ipp.printer_uri(name)), requested(QUEUE_ATTRS)],
            queue=name,
        )
        a = resp.group(Tag.PRINTER)
        names = keywords(a, "marker-names")
        types = keywords(a, "marker-types")
        levels = integers(a, "marker-levels")
        lows = integers(a, "marker-low-levels")
        markers = tuple(
            Marker(
                n,
                types[i] if i < len(types) else "",
                levels[i] if i < len(levels) else -1,
                lows[i] if i < len(lows) else -1,
            )
            for i, n in enumerate(names)
        )
        state = first(a, "printer-state")
        queued = first(a, "queued-job-count")
        return QueueState(
            name=name,
            state=state if isinstance(state, int) else IDLE,
            reasons=_reasons(a, "printer-state-reasons"),
            accepting=first(a, "printer-is-accepting-jobs") is not False,
            message=_str(first(a, "printer-state-message")),
            device_uri=_str(first(a, "device-uri")),
            queued=queued if isinstance(queued, int) else 0,
            markers=markers,
            model=_str(first(a, "printer-make-and-model")),
        )

    def resume(self, name: str) -> None:
        """What `cupsenable` and `cupsaccept` do: the queue takes and prints jobs again."""
        base = self.ipp.base(self.ipp.printer_uri(name))
        self._call(Op.RESUME_PRINTER, "/admin/", base, queue=name)
        self._call(Op.CUPS_ACCEPT_JOBS, "/admin/", base, queue=name)

    # ------------------------------------------------------------------ jobs
    def print_jpeg(
        self, queue: str, data: bytes, job_name: str, media: str, scaling: str = "fill"
    ) -> int:
        """Send one JPEG as one job (one copy); returns CUPS's job id. `media` is a PWG media
        name (CUPS maps it onto a PPD's page sizes); unsupported job attributes are ignored by
        CUPS (ipp-attribute-fidelity false) rather than refusing the print."""
        operation = [
            *self.ipp.base(self.ipp.printer_uri(queue)),
            Attr.of(Tag.NAME, "job-name", job_name),
            Attr.of(Tag.BOOLEAN, "ipp-attribute-fidelity", False),
            Attr.of(Tag.MIME_TYPE, "document-format", "image/jpeg"),
        ]
        job = [
            Attr.of(Tag.INTEGER, "copies", 1),
            Attr.of(Tag.KEYWORD, "media", media),
            Attr.of(Tag.KEYWORD, "print-scaling", scaling),
        ]
        resp = self._call(Op.PRINT_JOB, f"/printers/{queue}", operation, job, data, queue=queue)
        job_id = first(resp.group(Tag.JOB), "job-id")
        if not isinstance(job_id, int):
            raise CupsError(f"CUPS accepted the print but named no job id ({resp.message})")
        return job_id

    def jobs(self, queue: str, which: str = "all", first_job_id: int = 0) -> list[CupsJob]:
        """The queue's jobs (`which`: all, completed, not-completed) from `first_job_id` on, as
        far as CUPS keeps its history (`MaxJobs`, 500 by default)."""
        operation = [
            *self.ipp.base(self.ipp.printer_uri(queue)),
            Attr.of(Tag.KEYWORD, "which-jobs", which),
            requested(LIST_ATTRS),
        ]
        if first_job_id > 0:
            operation.append(Attr.of(Tag.INTEGER, "first-job-id", first_job_id))
        resp = self._call(Op.GET_JOBS, f"/printers/{queue}", operation, queue=queue)
        return [j for j in (_job(a) for a in resp.groups_of(Tag.JOB)) if j is not None]

    def job(self, job_id: int) -> CupsJob | None:
        """One job by id; None when CUPS no longer knows it."""
        try:
            resp = self.ipp.call(
                Op.GET_JOB_ATTRIBUTES,
                "/jobs/",
                [*self.ipp.base(self.ipp.job_uri(job_id), "job-uri"), requested(JOB_ATTRS)],
            )
        except IppNotFound:
            return None
        except IppUnreachable as exc:
            raise CupsDown(str(exc)) from exc
        except IppForbidden as exc:
            raise NotAllowed(str(exc)) from exc
        except IppError as exc:
            raise CupsError(str(exc), exc.status) from exc
        return _job(resp.group(Tag.JOB))

    def cancel(self, job_id: int) -> bool:
        """Cancel one job; False when CUPS no longer had it (or it had finished already)."""
        try:
            self.ipp.call(
                Op.CANCEL_JOB, "/jobs/", self.ipp.base(self.ipp.job_uri(job_id), "job-uri")
            )
        except IppNotFound:
            return False
        except IppUnreachable as exc:
            raise CupsDown(str(exc)) from exc
        except IppForbidden as exc:
            raise NotAllowed(str(exc)) from exc
        except IppError as exc:
            if exc.status == 0x0407:  # client-error-not-possible: it is already done
                return False
            raise CupsError(str(exc), exc.status) from exc
        return True

    def release(self, job_id: int) -> bool:
        """Release a held job (CUPS holds a job "indefinitely due to backend errors"); False
        when it was not held or is gone."""
        try:
            self.ipp.call(
                Op.RELEASE_JOB, "/jobs/", self.ipp.base(self.ipp.job_uri(job_id), "job-uri")
            )
        except (IppNotFound, IppForbidden):
            return False
        except IppUnreachable as exc:
            raise CupsDown(str(exc)) from exc
        except IppError:
            return False
        return True


def _job(a: Mapping[str, list[Value]]) -> CupsJob | None:
    job_id, state = first(a, "job-id"), first(a, "job-state")
    if not isinstance(job_id, int) or not isinstance(state, int):
        return None
    return CupsJob(
        job_id,
        _str(first(a, "job-name")),
        state,
        _reasons(a, "job-state-reasons"),
        _str(first(a, "job-state-message")),
    )


def device_state(device_uri: str, timeout_s: float = 5.0) -> DeviceState | None:
    """Ask a network printer itself (an ipp:// or ipps:// device URI) how it is; None for any
    other kind of device (USB, a driver's backend) or when it does not answer.

    Why: while CUPS has stopped a queue it runs no backend, so the queue's own reasons are the
    last ones reported before the stop; a network printer can still be asked."""
    parts = urlsplit(device_uri)
    if parts.scheme not in ("ipp", "ipps") or not parts.hostname:
        return None
    port = parts.port or 631
    path = parts.path or "/ipp/print"
    body = encode_request(
        Op.GET_PRINTER_ATTRIBUTES,
        1,
        [
            Attr.of(Tag.CHARSET, "attributes-charset", "utf-8"),
            Attr.of(Tag.LANGUAGE, "attributes-natural-language", "en"),
            Attr.of(Tag.URI, "printer-uri", device_uri),
            requested(DEVICE_ATTRS),
        ],
    )
    conn: http.client.HTTPConnection
    if parts.scheme == "ipps":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # printers have self-signed certificates
        conn = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout_s, context=ctx)
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout_s)
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/ipp", "Content-Length": str(len(body))},
        )
        answer = conn.getresponse()
        data = answer.read(1 << 20)
        if answer.status != 200:
            return None
        resp = decode_response(data)
    except (OSError, http.client.HTTPException, IppBadAnswer):
        return None
    finally:
        conn.close()
    if not resp.ok:
        return None
    a = resp.group(Tag.PRINTER)
    state = first(a, "printer-state")
    return DeviceState(
        state if isinstance(state, int) else STOPPED,
        _reasons(a, "printer-state-reasons"),
        first(a, "printer-is-accepting-jobs") is not False,
        _str(first(a, "printer-state-message")),
    )
