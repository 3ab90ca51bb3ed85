"""A local HTTP server that speaks the Gemini REST API, so tests run the real google-genai SDK.

Point the SDK (or a worker) at it with ``GEMINI_BASE_URL=fake.url`` and any non-empty
``GEMINI_API_KEY``. Every test scripts what the "model" answers::

    with FakeGemini() as fake:                       # default answer: the input, visibly changed
        fake.script(Reply.quota(), Reply.image())    # next two requests, in order
        fake.default = Reply.error(500)              # every request after the script runs out
        ...
        fake.requests[0].prompt, fake.requests[0].image_size   # what the client sent

Answers (all `Reply` class methods): ``image`` (success; ``mode="mark"`` draws a gold frame and a
stripe on the input, ``"echo"`` returns the input bytes unchanged — cheapest, for benchmarks;
``size=(w, h)`` answers a picture that big; ``drafts=n`` puts n draft images in thought parts
before the final one), ``drafts_only`` (thought-part drafts, then no final picture and a finish
reason such as IMAGE_SAFETY or IMAGE_OTHER), ``quota`` / ``rate_limited`` (429 with QuotaFailure
and RetryInfo), ``real(name)`` (an error body exactly as Google sends it, from public reports: see
REAL_ERRORS), ``prompt_blocked`` (promptFeedback.blockReason, no candidates), ``finish`` (a
candidate with no image and a finishReason), ``text_only``, ``error`` (any HTTP status with a
Google error body), ``malformed`` (200 with broken JSON), ``html`` (a captive portal's page),
``huge(n)`` (an n-byte answer, streamed; ``chunked=True`` without a Content-Length) and
``.trickled(interval)`` (any answer sent one byte at a time). Any reply takes ``delay=`` seconds
(a slow model); ``FakeGemini(latency=L)`` adds L to every answer, and ``latency=(lo, hi)`` a
seeded random latency. Responses are camelCase like Google's (the SDK reads snake_case fields as
missing). ``GET /{version}/models/{model}`` answers like the real API.
A request without an API key gets 403; ``FakeGemini(api_keys={"k"})`` also refuses other keys
with 400 API_KEY_INVALID (refused requests are not recorded and do not use up the script).
Model look-ups (`GET …/models/{name}`, what `booth doctor` calls) are recorded in `lookups`;
``models={...}`` limits the known names and ``lookup_reply=Reply.error(429)`` forces an answer.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_T = "type.googleapis.com/google.rpc."
# The live API's body for a bare status (Reply.error without a message).
_REAL_FOR_STATUS = {
    400: "invalid_argument",
    403: "permission_denied",
    404: "model_not_found",
    429: "quota_bare",
    500: "internal",
    503: "overloaded",
    504: "deadline",
}
_HELP_QUOTA = {
    "@type": _T + "Help",
    "links": [
        {
            "description": "Learn more about Gemini API quotas",
            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
        }
    ],
}
_QUOTA_TEXT = (
    "You exceeded your current quota, please check your plan and billing details. For "
    "more information on this error, head to: "
    "https://ai.google.dev/gemini-api/docs/rate-limits."
)


def _violation(
    quota_id: str, metric: str, value: str, model: str = "gemini-2.5-flash-image"
) -> dict:
    return {
        "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": value,
    }


def _err(code: int, status: str, message: str, details: list | None = None) -> tuple[int, dict]:
    body: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        body["details"] = details
    return code, {"error": body}


# Error bodies as the real API sends them. Each shape is copied from public reports of the live
# service (issue threads quoting the raw JSON), not from this project's worker:
REAL_ERRORS: dict[str, tuple[int, dict]] = {
    # continuedev/continue#8516, google/timesketch#3703: a wrong key
    "key_invalid": _err(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": _T + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": _T + "LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    ),
    "key_expired": _err(
        400,
        "INVALID_ARGUMENT",
        "API key expired. Please renew the API key.",
        [
            {
                "@type": _T + "ErrorInfo",
                "reason": "API_KEY_EXPIRED",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    ),
    # continuedev/continue#10513, googleapis/python-genai#1764: a key flagged as leaked
    "key_leaked": _err(
        403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key."
    ),
    "permission_denied": _err(403, "PERMISSION_DENIED", "The caller does not have permission"),
    # google/generative-ai-docs#74, google-gemini/gemini-cli#1343: the API is off for the project
    "service_disabled": _err(
        403,
        "PERMISSION_DENIED",
        "Generative Language API has not been used in project 411082643095 before or it is "
        "disabled. Enable it by visiting https://console.developers.google.com/apis/api/"
        "generativelanguage.googleapis.com/overview?project=411082643095 then retry. If you "
        "enabled this API recently, wait a few minutes for the action to propagate to our "
        "systems and retry.",
        [
            {
                "@type": _T + "Help",
                "links": [
                    {
                        "description": "Google developers console API activation",
                        "url": "https://console.developers.google.com/apis/api/generativelanguage."
                        "googleapis.com/overview?project=411082643095",
                    }
                ],
            },
            {
                "@type": _T + "ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                    "consumer": "projects/411082643095",
                    "service": "generativelanguage.googleapis.com",
                },
            },
        ],
    ),
    # if-ai/ComfyUI-IF_Gemini#15, chatwise-releases#794: a retired model name
    "model_not_found": _err(
        404,
        "NOT_FOUND",
        "models/gemini-2.0-flash-preview-image-generation is not found for API version v1beta, "
        "or is not supported for generateContent. Call ListModels to see the list of available "
        "models and their supported methods.",
    ),
    # poenl/gemini-api#4, google-gemini/gemini-cli#1614: a region the API does not serve
    "location_unsupported": _err(
        400, "FAILED_PRECONDITION", "User location is not supported for the API use."
    ),
    # chatboxai/chatbox#2280: image output refused by country
    "image_country": _err(
        400, "FAILED_PRECONDITION", "Image generation is not available in your country."
    ),
    # u14app/neo-chat#7 and the free-tier refusal: billing needed
    "billing_required": _err(
        400,
        "FAILED_PRECONDITION",
        "Gemini API free tier is not available in your country. Please "
        "enable billing on your project in Google AI Studio.",
    ),
    "location_billing": _err(
        400,
        "FAILED_PRECONDITION",
        "User location is not supported for the API use without a billing account linked.",
    ),
    # a transient refusal of a good photo (troubleshooting guide's wording)
    "unable_to_process": _err(
        400,
        "INVALID_ARGUMENT",
        "Unable to process input image. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    "invalid_argument": _err(400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    # RooCodeInc/Roo-Code#3883: per-minute limit with QuotaFailure, Help and RetryInfo
    "rate_per_minute": _err(
        429,
        "RESOURCE_EXHAUSTED",
        _QUOTA_TEXT,
        [
            {
                "@type": _T + "QuotaFailure",
                "violations": [
                    _violation(
                        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "generate_content_free_tier_requests",
                        "10",
                    )
                ],
            },
            _HELP_QUOTA,
            {"@type": _T + "RetryInfo", "retryDelay": "2s"},
        ],
    ),
    # llmsresearch/paperbanana#10 (per-day id) — the daily quota is gone; RetryInfo still sent
    "quota_daily": _err(
        429,
        "RESOURCE_EXHAUSTED",
        _QUOTA_TEXT,
        [
            {
                "@type": _T + "QuotaFailure",
                "violations": [
                    _violation(
                        "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                        "generate_content_free_tier_requests",
                        "100",
                    )
                ],
            },
            _HELP_QUOTA,
            {"@type": _T + "RetryInfo", "retryDelay": "31s"},
        ],
    ),
    # continuedev/continue#11693, #10085: a free tier with no allowance for the model at all
    "quota_limit_zero": _err(
        429,
        "RESOURCE_EXHAUSTED",
        _QUOTA_TEXT
        + (
            " To monitor your current usage, head to: https://ai.dev/rate-limit. \n"
            "* Quota exceeded for metric: "
            "generativelanguage.googleapis.com/generate_content_free_tier_requests, "
            "limit: 0, model: gemini-2.5-flash-image\nPlease retry in 38.962214405s."
        ),
        [
            _HELP_QUOTA,
            {
                "@type": _T + "QuotaFailure",
                "violations": [
                    _violation(
                        "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "generate_content_free_tier_requests",
                        "0",
                    )
                ],
            },
            {"@type": _T + "RetryInfo", "retryDelay": "38s"},
        ],
    ),
    # google-gemini/gemini-cli#8414: the bare form, only a Help link, no RetryInfo
    "quota_bare": _err(429, "RESOURCE_EXHAUSTED", _QUOTA_TEXT, [_HELP_QUOTA]),
    "overloaded": _err(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "internal": _err(
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/"
        "troubleshooting",
    ),
    "deadline": _err(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}

CAPTIVE_PORTAL = (
    b"<!DOCTYPE html><html><head><title>Welcome to Venue Wi-Fi</title></head>"
    b"<body><h1>Please accept the terms to continue</h1>"
    b"<form action='/login'><button>Connect</button></form></body></html>"
)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: HTTP status, JSON body (or raw bytes), and how long to take."""

    status: int = 200
    body: Any = None  # dict → JSON; bytes → sent as is; None → built from `kind`
    kind: str = "image"  # image | raw | huge
    mode: str = "mark"  # image replies: mark | echo
    mime: str = "image/jpeg"  # image replies: mime type of the returned picture
    text: str | None = None  # image replies: an extra text part before the image
    delay: float = 0.0
    size: tuple[int, int] | None = None  # image replies: (w, h) of the answer; None: the input's
    drafts: int = 0  # image replies: draft images in thought parts before the answer
    final: bool = True  # image replies: False → only the drafts, no final picture
    finish_reason: str = "STOP"
    content_type: str = "application/json; charset=UTF-8"
    trickle: float = 0.0  # seconds between single bytes of the body (0: all at once)
    length: int = 0  # huge replies: bytes in the body
    chunked: bool = False  # huge replies: no Content-Length, chunked transfer
    name: str = ""  # real(name) replies: the catalogue name, for `answered`

    # -- successes
    @classmethod
    def image(
        cls,
        mode: str = "mark",
        mime: str = "image/jpeg",
        text: str | None = None,
        delay: float = 0.0,
        size: tuple[int, int] | None = None,
        drafts: int = 0,
    ) -> Reply:
        return cls(
            kind="image", mode=mode, mime=mime, text=text, delay=delay, size=size, drafts=drafts
        )

    @classmethod
    def drafts_only(
        cls, finish_reason: str = "IMAGE_SAFETY", drafts: int = 1, delay: float = 0.0
    ) -> Reply:
        """Thought-part draft images, then no final picture: what a thinking image model sends
        when its final image was blocked (IMAGE_SAFETY) or not made (IMAGE_OTHER)."""
        return cls(
            kind="image", drafts=drafts, final=False, finish_reason=finish_reason, delay=delay
        )

    # -- answers without an image
    @classmethod
    def text_only(
        cls,
        text: str = "I can't make that picture, but here is a poem instead.",
        finish_reason: str = "STOP",
        delay: float = 0.0,
    ) -> Reply:
        return cls.json(
            200,
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": finish_reason,
                        "index": 0,
                    }
                ]
            },
            delay,
        )

    @classmethod
    def finish(cls, reason: str = "IMAGE_SAFETY", delay: float = 0.0) -> Reply:
        """A candidate that ended for `reason` without any image (content has no parts)."""
        return cls.json(
            200,
            {"candidates": [{"content": {"role": "model"}, "finishReason": reason, "index": 0}]},
            delay,
        )

    @classmethod
    def prompt_blocked(cls, reason: str = "SAFETY", delay: float = 0.0) -> Reply:
        return cls.json(
            200, {"promptFeedback": {"blockReason": reason, "safetyRatings": []}}, delay
        )

    # -- errors
    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        details: list | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An error of `status`; without a message, the live API's own body for that status
        (a bad key is a 400 with ErrorInfo API_KEY_INVALID there, never a 401)."""
        if message is None and details is None and status in _REAL_FOR_STATUS:
            return cls.real(_REAL_FOR_STATUS[status], delay)
        name = _STATUS_NAMES.get(status, "UNKNOWN")
        if status == 400 and details is None and message and "API key" in message:
            details = REAL_ERRORS["key_invalid"][1]["error"]["details"]
        err: dict[str, Any] = {
            "code": status,
            "message": message or f"fake {name.lower()}",
            "status": name,
        }
        if details is not None:
            err["details"] = details
        return cls.json(status, {"error": err}, delay)

    @classmethod
    def real(cls, name: str, delay: float = 0.0) -> Reply:
        """An error body from REAL_ERRORS (as the live API sends it)."""
        status, body = REAL_ERRORS[name]
        return cls(
            status=status, body=json.loads(json.dumps(body)), kind="raw", delay=delay, name=name
        )

    @classmethod
    def quota(cls, per: str = "Day", retry_delay: str | None = None, delay: float = 0.0) -> Reply:
        """429 as the live API sends it: per="Day" the daily quota is gone (REAL_ERRORS
        quota_daily), "Minute" a per-minute rate limit (rate_per_minute); `retry_delay` replaces
        the RetryInfo delay the body carries."""
        reply = cls.real("quota_daily" if per == "Day" else "rate_per_minute", delay)
        if retry_delay is not None:
            for d in reply.body["error"]["details"]:
                if d["@type"].endswith("RetryInfo"):
                    d["retryDelay"] = retry_delay
        return reply

    @classmethod
    def rate_limited(cls, retry_delay: str = "2s", delay: float = 0.0) -> Reply:
        """429 with RetryInfo (a per-minute limit): the client should wait `retry_delay`."""
        return cls.quota(per="Minute", retry_delay=retry_delay, delay=delay)

    @classmethod
    def malformed(cls, delay: float = 0.0) -> Reply:
        return cls(
            status=200,
            body=b'{"candidates": [{"content": {"parts": [{"inlineDa',
            kind="raw",
            delay=delay,
        )

    @classmethod
    def html(cls, status: int = 200, delay: float = 0.0) -> Reply:
        """A captive portal's login page where the API's JSON should be."""
        return cls(
            status=status,
            body=CAPTIVE_PORTAL,
            kind="raw",
            delay=delay,
            content_type="text/html; charset=utf-8",
        )

    @classmethod
    def huge(cls, length: int, chunked: bool = False, delay: float = 0.0) -> Reply:
        """A 200 answer of `length` bytes: valid JSON holding one enormous inlineData part."""
        return cls(kind="huge", length=length, chunked=chunked, delay=delay)

    @classmethod
    def json(cls, status: int, body: dict, delay: float = 0.0) -> Reply:
        return cls(status=status, body=body, kind="raw", delay=delay)

    def slow(self, seconds: float) -> Reply:
        """The same answer, `seconds` later."""
        return replace(self, delay=seconds)

    def trickled(self, interval: float = 0.5) -> Reply:
        """The same answer, its body sent one byte every `interval` seconds: each read is quick,
        the whole answer takes forever."""
        return replace(self, trickle=interval)


@dataclass
class Request:
    """What one generateContent call carried (the API key is kept only as 'present or not')."""

    path: str
    model: str
    has_api_key: bool
    prompt: str
    image_mime: str | None
    image_bytes: int
    image_size: tuple[int, int] | None  # (width, height) of the decoded input, None if none
    response_modalities: list[str]
    at: float  # time.monotonic() when it arrived
    answered: str = ""  # short name of the reply given
    ended: float | None = None  # time.monotonic() when the answer ended or was cut off


@dataclass
class _State:
    queue: deque = field(default_factory=deque)
    requests: list = field(default_factory=list)


class FakeGemini:
    """The fake server; starts listening on a free loopback port at construction."""

    def __init__(
        self,
        latency: float | tuple[float, float] = 0.0,
        seed: int = 1234,
        default: Reply | None = None,
        api_keys: set[str] | None = None,
        models: set[str] | None = None,
        lookup_reply: Reply | None = None,
    ) -> None:
        """`api_keys`: accepted keys (None: any non-empty key); `models`: known model names
        for GET /{version}/models/{name} (None: any)."""
        self.latency = latency
        self.api_keys = api_keys
        self.models = models
        self.lookup_reply = lookup_reply
        self.lookups: list[str] = []  # paths of accepted GET model look-ups
        self.default = default or Reply.image()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._state = _State()
        self.in_flight = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                refused = outer._key_refusal(self.headers.get("x-goog-api-key"))
                if refused is not None:
                    return self._send(refused.status, refused.body)
                with outer._lock:
                    outer.lookups.append(self.path.split("?")[0])
                if outer.lookup_reply is not None:
                    return self._send(outer.lookup_reply.status, outer.lookup_reply.body)
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                if outer.models is not None and name not in outer.models:
                    return self._send(404, Reply.error(404, f"models/{name} is not found").body)
                self._send(
                    200,
                    {
                        "name": f"models/{name}",
                        "displayName": name,
                        "supportedGenerationMethods": ["generateContent"],
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                refused = outer._key_refusal(self.headers.get("x-goog-api-key"))
                if refused is not None:
                    return self._send(refused.status, refused.body)
                outer._handle(self, raw)

            def _send(self, status: int, body: Any, reply: Reply | None = None) -> None:
                """The answer. A client that went away (its timeout) ends it: like the real
                service, there is nothing else to do then."""
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                ctype = reply.content_type if reply else "application/json; charset=UTF-8"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if reply is not None and reply.trickle:
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _send_stream(self, chunks: Iterator[bytes], total: int | None) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    if total is None:
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.send_header("Content-Length", str(total))
                    self.end_headers()
                    for chunk in chunks:
                        if total is None:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            self.wfile.write(chunk)
                    if total is None:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-gemini", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------ scripting
    def script(self, *replies: Reply) -> FakeGemini:
        """Queue answers for the next requests, in order (after them: `default`)."""
        with self._lock:
            self._state.queue.extend(replies)
        return self

    def always(self, reply: Reply) -> FakeGemini:
        """Drop any script and answer every request with `reply`."""
        with self._lock:
            self._state.queue.clear()
            self.default = reply
        return self

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._state.requests)

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeGemini:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ serving
    def _key_refusal(self, key: str | None) -> Reply | None:
        """What Google answers for a missing (403) or unknown (400 API_KEY_INVALID) key."""
        if not key:
            return Reply.error(
                403,
                "Method doesn't allow unregistered callers (callers without "
                "established identity). Please use API Key or other form "
                "of API consumer identity to call this API.",
            )
        if self.api_keys is not None and key not in self.api_keys:
            return Reply.real("key_invalid")
        return None

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._state.queue.popleft() if self._state.queue else self.default

    def _latency(self) -> float:
        if isinstance(self.latency, tuple):
            with self._lock:
                return self._rng.uniform(*self.latency)
        return float(self.latency)

    def _handle(self, handler: Any, raw: bytes) -> None:
        t0 = time.monotonic()
        reply = self._next_reply()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            handler._send(400, Reply.error(400, "Invalid JSON payload received.").body)
            return
        prompt, mime, img = _parse_contents(body)
        size = _header_size(img) if img else None
        decoded = None
        if img and (reply.kind == "image" and reply.mode != "echo" or size is None):
            decoded = cv2.imdecode(np.frombuffer(img, np.uint8), cv2.IMREAD_COLOR)
            if decoded is not None:
                size = (decoded.shape[1], decoded.shape[0])
        model = handler.path.split("/models/", 1)[-1].split(":", 1)[0]
        gen = body.get("generationConfig") or body.get("generation_config") or {}
        modalities = gen.get("responseModalities") or gen.get("response_modalities") or []
        record = Request(
            handler.path,
            model,
            bool(handler.headers.get("x-goog-api-key")),
            prompt,
            mime,
            len(img),
            size,
            list(modalities),
            t0,
            _reply_name(reply),
        )
        with self._lock:
            self._state.requests.append(record)
            self.in_flight += 1
        try:
            wait = reply.delay + self._latency() - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            if reply.kind == "image":
                handler._send(200, _image_answer(reply, img, mime, decoded), reply)
            elif reply.kind == "huge":
                chunks = _huge_answer(reply.length)
                handler._send_stream(chunks, None if reply.chunked else reply.length)
            else:
                handler._send(reply.status, reply.body, reply)
        finally:
            record.ended = time.monotonic()
            with self._lock:
                self.in_flight -= 1


def _parse_contents(body: dict) -> tuple[str, str | None, bytes]:
    """(prompt text, image mime type, image bytes) from a generateContent request body."""
    texts: list[str] = []
    mime, data = None, b""
    for content in body.get("contents") or []:
        for part in (content or {}).get("parts") or []:
            if "text" in part:
                texts.append(str(part["text"]))
            inline = part.get("inlineData") or part.get("inline_data")
            if inline and not data:
                mime = inline.get("mimeType") or inline.get("mime_type")
                data = _b64(inline.get("data") or "")
    return "\n".join(texts), mime, data


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG IHDR or a JPEG frame header, without decoding (cheap)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    i = 2
    while data[:2] == b"\xff\xd8" and i + 9 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def _b64(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional (the SDK sends URL-safe without padding)."""
    text = text.strip()
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text.replace("-", "+").replace("_", "/"))


def _encode(picture: np.ndarray, mime: str) -> bytes:
    ok, buf = cv2.imencode(".png" if mime == "image/png" else ".jpg", picture)
    assert ok
    return buf.tobytes()


def draft(picture: np.ndarray) -> np.ndarray:
    """A thinking model's draft: the input with a red cross over it (never for a guest)."""
    out = picture.copy()
    h, w = out.shape[:2]
    t = max(4, min(h, w) // 25)
    cv2.line(out, (0, 0), (w - 1, h - 1), (30, 30, 230), t)
    cv2.line(out, (w - 1, 0), (0, h - 1), (30, 30, 230), t)
    return out


def _signature(seed: int) -> str:
    """An opaque thoughtSignature like the API's (base64 of bytes the client must not read)."""
    return base64.b64encode(random.Random(seed).randbytes(48)).decode()


def _image_answer(reply: Reply, img: bytes, mime: str | None, decoded: Any) -> dict:
    source = decoded if decoded is not None else np.full((512, 512, 3), 90, np.uint8)
    parts: list[dict] = []
    for i in range(reply.drafts):
        parts.append({"text": f"Drafting the look ({i + 1}) …", "thought": True})
        sketch = _encode(draft(source), "image/jpeg")
        parts.append(
            {
                "inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(sketch).decode()},
                "thought": True,
                "thoughtSignature": _signature(len(sketch)),
            }
        )
    if reply.final:
        if reply.mode == "echo" and img and reply.size is None:
            out, out_mime = img, mime or "image/jpeg"
        else:
            picture = mark(source)
            if reply.size is not None:
                picture = cv2.resize(picture, reply.size, interpolation=cv2.INTER_LINEAR)
            out, out_mime = _encode(picture, reply.mime), reply.mime
        if reply.text:
            parts.append({"text": reply.text})
        final: dict[str, Any] = {
            "inlineData": {"mimeType": out_mime, "data": base64.b64encode(out).decode()}
        }
        if reply.drafts:
            final["thoughtSignature"] = _signature(len(out))
        parts.append(final)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": reply.finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 1290, "candidatesTokenCount": 1290},
        "modelVersion": "gemini-2.5-flash-image",
    }


def _huge_answer(length: int) -> Iterator[bytes]:
    """`length` bytes of a valid answer whose image data is a long run of base64 'A's."""
    head = (
        b'{"candidates":[{"content":{"role":"model","parts":[{"inlineData":'
        b'{"mimeType":"image/png","data":"'
    )
    tail = b'"}}]},"finishReason":"STOP","index":0}]}'
    filler = length - len(head) - len(tail)
    assert filler > 0, "a huge answer needs more bytes than its JSON frame"
    yield head
    block = b"A" * (1 << 20)
    while filler > 0:
        n = min(filler, len(block))
        yield block[:n]
        filler -= n
    yield tail


def mark(picture: np.ndarray) -> np.ndarray:
    """The fake model's visible change: a thick gold frame, a magenta stripe across the middle."""
    out = picture.copy()
    h, w = out.shape[:2]
    t = max(4, min(h, w) // 20)
    cv2.rectangle(out, (0, 0), (w - 1, h - 1), (40, 190, 240), t * 2)
    cv2.rectangle(out, (0, h // 2 - t // 2), (w - 1, h // 2 + t // 2), (200, 40, 200), -1)
    return out


def _reply_name(reply: Reply) -> str:
    if reply.name:
        return f"real:{reply.name}"
    if reply.kind == "image":
        if not reply.final:
            return f"drafts_only:{reply.finish_reason}"
        return f"image:{reply.mode}"
    if reply.kind == "huge":
        return f"huge:{reply.length}"
    if isinstance(reply.body, dict):
        if "error" in reply.body:
            return f"error:{reply.status}"
        if "promptFeedback" in reply.body:
            return "prompt_blocked"
        cands = reply.body.get("candidates") or [{}]
        return f"no_image:{cands[0].get('finishReason')}"
    if reply.content_type.startswith("text/html"):
        return "html"
    return "malformed"
