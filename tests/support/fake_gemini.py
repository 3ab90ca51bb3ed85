"""A local HTTP server that speaks the Gemini REST API, so tests run the real google-genai SDK.

Point the SDK (or a worker) at it with ``GEMINI_BASE_URL=fake.url`` and any non-empty
``GEMINI_API_KEY``. Every test scripts what the "model" answers::

    with FakeGemini() as fake:                       # default answer: the input, visibly changed
        fake.script(Reply.quota(), Reply.image())    # next two requests, in order
        fake.default = Reply.error(500)              # every request after the script runs out
        ...
        fake.requests[0].prompt, fake.requests[0].image_size   # what the client sent

Answers (all `Reply` class methods): ``image`` (success; ``mode="mark"`` draws a gold frame and a
stripe on the input, ``"echo"`` returns the input bytes unchanged — cheapest, for benchmarks),
``quota`` (429 with a per-day QuotaFailure), ``rate_limited`` (429 with RetryInfo.retryDelay),
``prompt_blocked`` (promptFeedback.blockReason, no candidates), ``finish`` (a candidate with no
image and a finishReason such as IMAGE_SAFETY), ``text_only``, ``error`` (any HTTP status with a
Google error body: 400, 401, 403, 404, 500, 503 …), ``malformed`` (200 with broken JSON). Any reply
takes ``delay=`` seconds (a slow model); ``FakeGemini(latency=L)`` adds L to every answer, and
``latency=(lo, hi)`` a seeded random latency. Responses are camelCase like Google's (the SDK reads
snake_case fields as missing). ``GET /{version}/models/{model}`` answers like the real API.
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: HTTP status, JSON body (or raw bytes), and how long to take."""

    status: int = 200
    body: Any = None              # dict → JSON; bytes → sent as is; None → built from `kind`
    kind: str = "image"           # image | raw
    mode: str = "mark"            # image replies: mark | echo
    mime: str = "image/jpeg"      # image replies: mime type of the returned picture
    text: str | None = None       # image replies: an extra text part before the image
    delay: float = 0.0

    # -- successes
    @classmethod
    def image(cls, mode: str = "mark", mime: str = "image/jpeg", text: str | None = None,
              delay: float = 0.0) -> "Reply":
        return cls(kind="image", mode=mode, mime=mime, text=text, delay=delay)

    # -- answers without an image
    @classmethod
    def text_only(cls, text: str = "I can't make that picture, but here is a poem instead.",
                  finish_reason: str = "STOP", delay: float = 0.0) -> "Reply":
        return cls.json(200, {"candidates": [{
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": finish_reason, "index": 0}]}, delay)

    @classmethod
    def finish(cls, reason: str = "IMAGE_SAFETY", delay: float = 0.0) -> "Reply":
        """A candidate that ended for `reason` without any image (content has no parts)."""
        return cls.json(200, {"candidates": [{"content": {"role": "model"},
                                              "finishReason": reason, "index": 0}]}, delay)

    @classmethod
    def prompt_blocked(cls, reason: str = "SAFETY", delay: float = 0.0) -> "Reply":
        return cls.json(200, {"promptFeedback": {"blockReason": reason, "safetyRatings": []}},
                        delay)

    # -- errors
    @classmethod
    def error(cls, status: int, message: str | None = None, details: list | None = None,
              delay: float = 0.0) -> "Reply":
        name = _STATUS_NAMES.get(status, "UNKNOWN")
        if status == 401 and message is None:
            message = "API key not valid. Please pass a valid API key."
        if status == 400 and details is None and message and "API key" in message:
            details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
        err: dict[str, Any] = {"code": status, "message": message or f"fake {name.lower()}",
                               "status": name}
        if details is not None:
            err["details"] = details
        return cls.json(status, {"error": err}, delay)

    @classmethod
    def quota(cls, per: str = "Day", retry_delay: str | None = None,
              delay: float = 0.0) -> "Reply":
        """429: a quota is used up. per="Day" is the daily/project quota; "Minute" a rate limit."""
        details: list[dict] = [{
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model",
                "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel",
                "quotaDimensions": {"model": "gemini-2.5-flash-image", "location": "global"},
                "quotaValue": "100"}]}]
        if retry_delay is not None:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": retry_delay})
        return cls.error(429, "You exceeded your current quota, please check your plan and "
                              "billing details.", details, delay)

    @classmethod
    def rate_limited(cls, retry_delay: str = "2s", delay: float = 0.0) -> "Reply":
        """429 with RetryInfo (a per-minute limit): the client should wait `retry_delay`."""
        return cls.quota(per="Minute", retry_delay=retry_delay, delay=delay)

    @classmethod
    def malformed(cls, delay: float = 0.0) -> "Reply":
        return cls(status=200, body=b'{"candidates": [{"content": {"parts": [{"inlineDa',
                   kind="raw", delay=delay)

    @classmethod
    def json(cls, status: int, body: dict, delay: float = 0.0) -> "Reply":
        return cls(status=status, body=body, kind="raw", delay=delay)

    def slow(self, seconds: float) -> "Reply":
        """The same answer, `seconds` later."""
        return Reply(self.status, self.body, self.kind, self.mode, self.mime, self.text, seconds)


@dataclass
class Request:
    """What one generateContent call carried (the API key is kept only as 'present or not')."""

    path: str
    model: str
    has_api_key: bool
    prompt: str
    image_mime: str | None
    image_bytes: int
    image_size: tuple[int, int] | None   # (width, height) of the decoded input, None if none
    response_modalities: list[str]
    at: float                            # time.monotonic() when it arrived
    answered: str = ""                   # short name of the reply given


@dataclass
class _State:
    queue: deque = field(default_factory=deque)
    requests: list = field(default_factory=list)


class FakeGemini:
    """The fake server; starts listening on a free loopback port at construction."""

    def __init__(self, latency: float | tuple[float, float] = 0.0, seed: int = 1234,
                 default: Reply | None = None, api_keys: set[str] | None = None,
                 models: set[str] | None = None, lookup_reply: Reply | None = None) -> None:
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
                self._send(200, {"name": f"models/{name}", "displayName": name,
                                 "supportedGenerationMethods": ["generateContent"]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                refused = outer._key_refusal(self.headers.get("x-goog-api-key"))
                if refused is not None:
                    return self._send(refused.status, refused.body)
                outer._handle(self, raw)

            def _send(self, status: int, body: Any) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): like the real service, nothing to do

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gemini",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ scripting
    def script(self, *replies: Reply) -> "FakeGemini":
        """Queue answers for the next requests, in order (after them: `default`)."""
        with self._lock:
            self._state.queue.extend(replies)
        return self

    def always(self, reply: Reply) -> "FakeGemini":
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

    def __enter__(self) -> "FakeGemini":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ serving
    def _key_refusal(self, key: str | None) -> Reply | None:
        """What Google answers for a missing (403) or unknown (400 API_KEY_INVALID) key."""
        if not key:
            return Reply.error(403, "Method doesn't allow unregistered callers (callers without "
                                    "established identity). Please use API Key or other form "
                                    "of API consumer identity to call this API.")
        if self.api_keys is not None and key not in self.api_keys:
            return Reply.error(400, "API key not valid. Please pass a valid API key.")
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
        record = Request(handler.path, model, bool(handler.headers.get("x-goog-api-key")),
                         prompt, mime, len(img), size, list(modalities), t0,
                         _reply_name(reply))
        with self._lock:
            self._state.requests.append(record)
            self.in_flight += 1
        try:
            wait = reply.delay + self._latency() - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            if reply.kind == "image":
                handler._send(200, _image_answer(reply, img, mime, decoded))
            else:
                handler._send(reply.status, reply.body)
        finally:
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
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None


def _b64(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional (the SDK sends URL-safe without padding)."""
    text = text.strip()
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text.replace("-", "+").replace("_", "/"))


def _image_answer(reply: Reply, img: bytes, mime: str | None, decoded: Any) -> dict:
    if reply.mode == "echo" and img:
        out, out_mime = img, mime or "image/jpeg"
    else:
        picture = decoded if decoded is not None else np.full((512, 512, 3), 90, np.uint8)
        picture = mark(picture)
        ext = ".png" if reply.mime == "image/png" else ".jpg"
        ok, buf = cv2.imencode(ext, picture)
        assert ok
        out, out_mime = buf.tobytes(), reply.mime
    parts: list[dict] = []
    if reply.text:
        parts.append({"text": reply.text})
    parts.append({"inlineData": {"mimeType": out_mime, "data": base64.b64encode(out).decode()}})
    return {"candidates": [{"content": {"role": "model", "parts": parts},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1290, "candidatesTokenCount": 1290},
            "modelVersion": "gemini-2.5-flash-image"}


def mark(picture: np.ndarray) -> np.ndarray:
    """The fake model's visible change: a thick gold frame and a magenta stripe across the middle."""
    out = picture.copy()
    h, w = out.shape[:2]
    t = max(4, min(h, w) // 20)
    cv2.rectangle(out, (0, 0), (w - 1, h - 1), (40, 190, 240), t * 2)
    cv2.rectangle(out, (0, h // 2 - t // 2), (w - 1, h // 2 + t // 2), (200, 40, 200), -1)
    return out


def _reply_name(reply: Reply) -> str:
    if reply.kind == "image":
        return f"image:{reply.mode}"
    if isinstance(reply.body, dict):
        if "error" in reply.body:
            return f"error:{reply.status}"
        if "promptFeedback" in reply.body:
            return "prompt_blocked"
        cands = reply.body.get("candidates") or [{}]
        return f"no_image:{cands[0].get('finishReason')}"
    return "malformed"
