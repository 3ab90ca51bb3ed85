"""The Internet Printing Protocol on the wire: encoding requests, decoding responses, sending them
to cupsd over HTTP (a TCP port or its Unix socket).

Why our own few hundred lines instead of pycups or the `lp` tools: the printer process runs all
event long on a Pi and asks CUPS every couple of seconds. pycups has no wheels (it builds
against libcups2-dev with a C compiler on the Pi, or comes from the OS as python3-cups), and the
command-line tools cost a fork and exec per question and print localized text that does not
carry `job-name`, `marker-levels` or `printer-state-reasons` in full. IPP is a small binary
format (RFC 8010) over HTTP POST: the standard library's http.client speaks it, imports in
milliseconds and adds nothing to the process's memory. Only what printer/cups.py needs is here.

Authentication: cupsd accepts `Authorization: PeerCred <user>` on its Unix socket and checks it
against the socket's peer uid (scheduler/auth.c in CUPS): the booth user in the `lpadmin` group
may then resume a queue, as `cupsenable` does. Over TCP no credentials are sent.
"""

from __future__ import annotations

import enum
import http.client
import itertools
import os
import pwd
import socket
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

IPP_VERSION = (2, 0)
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a Get-Jobs answer for 500 jobs is well under 1 MB


class Op(enum.IntEnum):
    PRINT_JOB = 0x0002
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_JOBS = 0x000A
    GET_PRINTER_ATTRIBUTES = 0x000B
    PAUSE_PRINTER = 0x0010
    RESUME_PRINTER = 0x0011
    RELEASE_JOB = 0x000D
    CUPS_ACCEPT_JOBS = 0x4008


class Tag(enum.IntEnum):
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED_GROUP = 0x05
    # out of band
    UNSUPPORTED = 0x10
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    # values
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEGIN_COLLECTION = 0x34
    TEXT_WITH_LANGUAGE = 0x35
    NAME_WITH_LANGUAGE = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME_TYPE = 0x49
    MEMBER_NAME = 0x4A


_STRING_TAGS = frozenset(
    {
        Tag.TEXT,
        Tag.NAME,
        Tag.KEYWORD,
        Tag.URI,
        Tag.URI_SCHEME,
        Tag.CHARSET,
        Tag.LANGUAGE,
        Tag.MIME_TYPE,
        Tag.MEMBER_NAME,
    }
)

# A decoded value: what each tag becomes in Python (collections become dicts of lists).
Value: TypeAlias = "int | bool | str | bytes | tuple[int, ...] | None | Collection"
Collection: TypeAlias = "dict[str, list[Value]]"


class IppError(Exception):
    """An IPP exchange that did not succeed; `status` is the IPP status code (0 when the answer
    never came: no connection, not IPP)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class IppUnreachable(IppError):
    """Nothing answered at the address (cupsd not running, wrong socket or port)."""


class IppNotFound(IppError):
    """client-error-not-found: the queue or job does not exist."""


class IppForbidden(IppError):
    """client-error-not-authorized / forbidden / not-authenticated: the user may not do this."""


class IppBadAnswer(IppError):
    """Bytes that are not a well-formed IPP message."""


STATUS_OK_MAX = 0x00FF
STATUS_FORBIDDEN = 0x0401
STATUS_NOT_AUTHENTICATED = 0x0402
STATUS_NOT_AUTHORIZED = 0x0403
STATUS_NOT_FOUND = 0x0406


@dataclass(frozen=True)
class Attr:
    """One attribute to send: its tag, name and one or more values."""

    tag: Tag
    name: str
    values: tuple[Value, ...]

    @classmethod
    def of(cls, tag: Tag, name: str, *values: Value) -> Attr:
        return cls(tag, name, values)


@dataclass
class Response:
    """A decoded IPP answer: its status, and its attribute groups in order (an operation group,
    then one group per job or printer)."""

    status: int
    request_id: int
    groups: list[tuple[Tag, dict[str, list[Value]]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status <= STATUS_OK_MAX

    def group(self, tag: Tag) -> dict[str, list[Value]]:
        """The first group of `tag` (empty when there is none)."""
        return next((attrs for t, attrs in self.groups if t == tag), {})

    def groups_of(self, tag: Tag) -> list[dict[str, list[Value]]]:
        return [attrs for t, attrs in self.groups if t == tag]

    @property
    def message(self) -> str:
        text = self.group(Tag.OPERATION).get("status-message", [""])
        return str(text[0]) if text and text[0] is not None else ""


# ------------------------------------------------------------------------------------ encoding
def encode_request(
    op: Op,
    request_id: int,
    operation: Sequence[Attr],
    job: Sequence[Attr] = (),
    printer: Sequence[Attr] = (),
) -> bytes:
    """An IPP request (without its document): the version, the operation, the groups."""
    out = bytearray(struct.pack(">BBHI", *IPP_VERSION, int(op), request_id))
    for tag, attrs in ((Tag.OPERATION, operation), (Tag.JOB, job), (Tag.PRINTER, printer)):
        if not attrs:
            continue
        out.append(tag)
        for a in attrs:
            _encode_attr(out, a)
    out.append(Tag.END)
    return bytes(out)


def _encode_attr(out: bytearray, a: Attr) -> None:
    for i, value in enumerate(a.values):
        name = a.name.encode() if i == 0 else b""
        body = _encode_value(a.tag, value)
        out += struct.pack(">BH", a.tag, len(name)) + name + struct.pack(">H", len(body)) + body


def _encode_value(tag: Tag, value: Value) -> bytes:
    if tag in (Tag.INTEGER, Tag.ENUM):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"IPP {tag.name} needs an int, got {value!r}")
        return struct.pack(">i", value)
    if tag == Tag.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in _STRING_TAGS or tag in (Tag.TEXT, Tag.NAME):
        if not isinstance(value, str):
            raise TypeError(f"IPP {tag.name} needs a str, got {value!r}")
        data = value.encode()
        if len(data) > 1023:
            raise ValueError(f"IPP value too long ({len(data)} bytes)")
        return data
    if tag in (Tag.NO_VALUE, Tag.UNKNOWN, Tag.UNSUPPORTED):
        return b""
    raise TypeError(f"cannot encode IPP tag {tag!r}")


# ------------------------------------------------------------------------------------ decoding
def decode_response(data: bytes) -> Response:
    """Parse an IPP answer; raises IppBadAnswer on anything malformed (never reads past the end,
    never recurses without bound)."""
    if len(data) < 8:
        raise IppBadAnswer(f"IPP answer of {len(data)} bytes is too short")
    _major, _minor, status, request_id = struct.unpack(">BBHI", data[:8])
    resp = Response(status, request_id)
    pos = 8
    current: dict[str, list[Value]] | None = None
    last_name = ""
    stack: list[tuple[Collection, str]] = []  # open collections: (its members, current member)
    while True:
        if pos >= len(data):
            raise IppBadAnswer("IPP answer ends without its end-of-attributes tag")
        tag = data[pos]
        pos += 1
        if tag == Tag.END:
            break
        if tag < 0x10:  # a delimiter: a new group
            if stack:
                raise IppBadAnswer("IPP group starts inside a collection")
            current = {}
            try:
                group = Tag(tag)
            except ValueError:  # a group this version does not know: kept, under END
                group = Tag.END
            resp.groups.append((group, current))
            continue
        if current is None:
            raise IppBadAnswer("IPP attribute outside any group")
        if pos + 2 > len(data):
            raise IppBadAnswer("IPP attribute header cut off")
        (name_len,) = struct.unpack(">H", data[pos : pos + 2])
        pos += 2
        name = data[pos : pos + name_len].decode("utf-8", "replace")
        pos += name_len
        if pos + 2 > len(data):
            raise IppBadAnswer("IPP value length cut off")
        (value_len,) = struct.unpack(">H", data[pos : pos + 2])
        pos += 2
        raw = data[pos : pos + value_len]
        if len(raw) != value_len:
            raise IppBadAnswer("IPP value cut off")
        pos += value_len
        if tag == Tag.BEGIN_COLLECTION:
            if len(stack) >= 8:
                raise IppBadAnswer("IPP collections nested too deep")
            coll: Collection = {}
            _add(current, stack, name, last_name, coll)
            if name:
                last_name = name
            stack.append((coll, ""))
            continue
        if tag == Tag.END_COLLECTION:
            if not stack:
                raise IppBadAnswer("IPP end of collection without a start")
            stack.pop()
            continue
        if tag == Tag.MEMBER_NAME and stack:
            stack[-1] = (stack[-1][0], raw.decode("utf-8", "replace"))
            continue
        value = _decode_value(tag, raw)
        if stack:
            members, member = stack[-1]
            members.setdefault(member, []).append(value)
            continue
        if name:
            last_name = name
            current.setdefault(name, []).append(value)
        elif last_name:
            current.setdefault(last_name, []).append(value)
        else:
            raise IppBadAnswer("IPP additional value without an attribute")
    return resp


def _add(
    current: dict[str, list[Value]],
    stack: list[tuple[Collection, str]],
    name: str,
    last_name: str,
    value: Value,
) -> None:
    if stack:
        members, member = stack[-1]
        members.setdefault(member, []).append(value)
    else:
        current.setdefault(name or last_name, []).append(value)


def _decode_value(tag: int, raw: bytes) -> Value:
    if tag in (Tag.INTEGER, Tag.ENUM):
        if len(raw) != 4:
            raise IppBadAnswer(f"IPP integer of {len(raw)} bytes")
        return int(struct.unpack(">i", raw)[0])
    if tag == Tag.BOOLEAN:
        if len(raw) != 1:
            raise IppBadAnswer(f"IPP boolean of {len(raw)} bytes")
        return raw != b"\x00"
    if tag in _STRING_TAGS:
        return raw.decode("utf-8", "replace")
    if tag in (Tag.TEXT_WITH_LANGUAGE, Tag.NAME_WITH_LANGUAGE):
        if len(raw) < 4:
            raise IppBadAnswer("IPP text-with-language cut off")
        (lang_len,) = struct.unpack(">H", raw[:2])
        rest = raw[2 + lang_len :]
        if len(rest) < 2:
            raise IppBadAnswer("IPP text-with-language cut off")
        (text_len,) = struct.unpack(">H", rest[:2])
        return rest[2 : 2 + text_len].decode("utf-8", "replace")
    if tag == Tag.RANGE and len(raw) == 8:
        return tuple(struct.unpack(">ii", raw))
    if tag == Tag.RESOLUTION and len(raw) == 9:
        x, y, units = struct.unpack(">iib", raw)
        return (x, y, units)
    if tag in (Tag.NO_VALUE, Tag.UNKNOWN, Tag.UNSUPPORTED):
        return None
    return bytes(raw)  # octetString, dateTime and anything newer: kept as bytes


# ------------------------------------------------------------------------------------ transport
@dataclass(frozen=True)
class Server:
    """Where cupsd listens: a Unix socket path, or host and port."""

    socket_path: str | None = None
    host: str = "localhost"
    port: int = 631

    @classmethod
    def parse(cls, text: str) -> Server:
        """`/run/cups/cups.sock`, `host`, `host:port` or `[v6]:port` (CUPS_SERVER's forms)."""
        text = text.strip()
        if not text:
            raise ValueError("empty CUPS server")
        if text.startswith("/"):
            return cls(socket_path=text)
        host, port = text, 631
        if text.startswith("["):
            close = text.find("]")
            host = text[1:close]
            if text[close + 1 : close + 2] == ":":
                port = int(text[close + 2 :])
        elif text.count(":") == 1:
            host, _, p = text.partition(":")
            port = int(p)
        return cls(host=host, port=port)

    def __str__(self) -> str:
        return self.socket_path or f"{self.host}:{self.port}"

    @property
    def uri_host(self) -> str:
        """The host part of printer URIs sent to this server."""
        return "localhost" if self.socket_path else f"{self.host}:{self.port}"


def default_server(env: Mapping[str, str]) -> Server:
    """What libcups would use: $CUPS_SERVER, else the local socket when it is there, else
    localhost:631."""
    named = env.get("CUPS_SERVER", "").strip()
    if named:
        return Server.parse(named)
    for path in ("/run/cups/cups.sock", "/var/run/cups/cups.sock"):
        if os.path.exists(path):
            return Server(socket_path=path)
    return Server()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


_request_ids = itertools.count(1)


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


class IppClient:
    """One cupsd: `call()` sends a request (and an optional document) and returns the answer.
    A connection per call: cupsd closes idle ones, and a booth asks every few seconds."""

    def __init__(self, server: Server, timeout_s: float = 10.0, user: str | None = None) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.user = user or _user()

    def printer_uri(self, queue: str) -> str:
        return f"ipp://{self.server.uri_host}/printers/{queue}"

    def job_uri(self, job_id: int) -> str:
        return f"ipp://{self.server.uri_host}/jobs/{job_id}"

    def base(self, target: str, target_name: str = "printer-uri") -> list[Attr]:
        """The operation attributes every request starts with."""
        return [
            Attr.of(Tag.CHARSET, "attributes-charset", "utf-8"),
            Attr.of(Tag.LANGUAGE, "attributes-natural-language", "en"),
            Attr.of(Tag.URI, target_name, target),
            Attr.of(Tag.NAME, "requesting-user-name", self.user),
        ]

    def call(
        self,
        op: Op,
        path: str,
        operation: Sequence[Attr],
        job: Sequence[Attr] = (),
        document: bytes | None = None,
    ) -> Response:
        """Send one request to `path` (/printers/NAME, /jobs/, /admin/ …); raises IppUnreachable,
        IppNotFound, IppForbidden or IppError when the answer is not a success."""
        body = encode_request(op, next(_request_ids) & 0x7FFFFFFF, operation, job)
        if document is not None:
            body += document
        headers = {"Content-Type": "application/ipp", "Content-Length": str(len(body))}
        if self.server.socket_path:
            headers["Authorization"] = f"PeerCred {self.user}"
        conn: http.client.HTTPConnection
        if self.server.socket_path:
            conn = _UnixHTTPConnection(self.server.socket_path, self.timeout_s)
        else:
            conn = http.client.HTTPConnection(
                self.server.host, self.server.port, timeout=self.timeout_s
            )
        try:
            try:
                conn.request("POST", path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read(MAX_RESPONSE_BYTES + 1)
            except (ConnectionRefusedError, FileNotFoundError) as exc:
                raise IppUnreachable(f"nothing answers at {self.server} ({exc.strerror})") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise IppUnreachable(f"{self.server} did not answer: {exc}") from exc
        finally:
            conn.close()
        if answer.status in (401, 403):
            raise IppForbidden(
                f"{self.server} refused {op.name} for user {self.user} (HTTP {answer.status})",
                STATUS_NOT_AUTHORIZED,
            )
        if answer.status != 200:
            raise IppError(f"{self.server} answered HTTP {answer.status} to {op.name}")
        if len(data) > MAX_RESPONSE_BYTES:
            raise IppBadAnswer(f"{self.server}'s answer to {op.name} is too large")
        resp = decode_response(data)
        if not resp.ok:
            text = f"{op.name}: {resp.message or hex(resp.status)}"
            if resp.status == STATUS_NOT_FOUND:
                raise IppNotFound(text, resp.status)
            if resp.status in (STATUS_FORBIDDEN, STATUS_NOT_AUTHENTICATED, STATUS_NOT_AUTHORIZED):
                raise IppForbidden(text, resp.status)
            raise IppError(text, resp.status)
        return resp


def keywords(attrs: Mapping[str, list[Value]], name: str) -> list[str]:
    """An attribute's string values (absent: [])."""
    return [v for v in attrs.get(name, []) if isinstance(v, str)]


def first(attrs: Mapping[str, list[Value]], name: str) -> Value:
    values = attrs.get(name) or [None]
    return values[0]


def integers(attrs: Mapping[str, list[Value]], name: str) -> list[int]:
    return [v for v in attrs.get(name, []) if isinstance(v, int) and not isinstance(v, bool)]


def requested(names: Iterable[str]) -> Attr:
    return Attr(Tag.KEYWORD, "requested-attributes", tuple(names))
