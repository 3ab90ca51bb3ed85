"""Map what the SDK raised or answered to one of the protocol's error kinds (booth/protocol.py).

Why here and not spread over the worker: the retry and fallback rules depend only on the kind,
so every odd thing the API or the network can do is decided in one table-like place, with an
operator-facing `detail` for the log (the guest sees GUEST_MESSAGES[kind]).
"""

from __future__ import annotations

import re
from typing import Any

from booth.protocol import ErrorKind

SAFETY_REASONS = frozenset({
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST",
    "SPII", "RECITATION", "IMAGE_RECITATION", "OTHER_SAFETY",
})


class ModelError(Exception):
    """A classified failure of one model call."""

    def __init__(self, kind: ErrorKind, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.attempts = 1  # model calls made for the job when it was given up (set by retry)


def parse_duration(value: Any) -> float | None:
    """'27s', '1.5s', '250ms', 27, {'seconds': 27, 'nanos': 5e8} → seconds; junk → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, dict):
        try:
            return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", value)
        if m:
            number = float(m.group(1))
            return number / 1000 if m.group(2) == "ms" else number
    return None


def _error_details(exc: Any) -> list[dict]:
    """The `details` list of a Google error body, wherever the SDK put it."""
    body = getattr(exc, "details", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"].get("details")
    elif isinstance(body, dict):
        body = body.get("details")
    return [d for d in body if isinstance(d, dict)] if isinstance(body, list) else []


def _kind_of(detail: dict) -> str:
    return str(detail.get("@type", "")).rsplit(".", 1)[-1]


def classify_api_error(exc: Any) -> ModelError:
    """An `errors.APIError` (4xx/5xx with a Google error body) → ModelError."""
    code = int(getattr(exc, "code", 0) or 0)
    status = str(getattr(exc, "status", "") or "")
    message = str(getattr(exc, "message", "") or "")[:300]
    details = _error_details(exc)
    where = f"HTTP {code} {status}".strip()
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        retry = None
        per_day = False
        quota_failure = False
        for d in details:
            kind = _kind_of(d)
            if kind == "RetryInfo":
                retry = parse_duration(d.get("retryDelay", d.get("retry_delay")))
            elif kind == "QuotaFailure":
                quota_failure = True
                for v in d.get("violations") or []:
                    ident = f"{v.get('quotaId', '')} {v.get('quotaMetric', '')}".lower() \
                        if isinstance(v, dict) else ""
                    if "perday" in ident or "per_day" in ident or "daily" in ident:
                        per_day = True
        if per_day:
            return ModelError(ErrorKind.QUOTA, f"{where}: daily quota used up ({message})", retry)
        if retry is not None:
            return ModelError(ErrorKind.RATE_LIMITED, f"{where}: rate limited, retry in {retry:g} s",
                              retry)
        if quota_failure and "minute" not in str(details).lower():
            return ModelError(ErrorKind.QUOTA, f"{where}: quota used up ({message})")
        return ModelError(ErrorKind.RATE_LIMITED, f"{where}: rate limited ({message})")
    key_rejected = code in (401, 403) or any(
        _kind_of(d) == "ErrorInfo" and "API_KEY" in str(d.get("reason", "")) for d in details) \
        or "api key" in message.lower()
    if key_rejected:
        return ModelError(ErrorKind.INTERNAL,
                          f"{where}: the Gemini API rejected the API key or its permissions "
                          f"({message}); check GEMINI_API_KEY in the worker's environment")
    if code == 404:
        return ModelError(ErrorKind.INTERNAL, f"{where}: model or endpoint not found ({message}); "
                                              "check gemini.model / GEMINI_MODEL and GEMINI_BASE_URL")
    if code in (408, 504) or status == "DEADLINE_EXCEEDED":
        return ModelError(ErrorKind.TIMEOUT, f"{where}: the model timed out ({message})")
    if code >= 500:
        return ModelError(ErrorKind.UNAVAILABLE, f"{where}: server error ({message})")
    if code == 400 or status in ("INVALID_ARGUMENT", "FAILED_PRECONDITION"):
        return ModelError(ErrorKind.BAD_INPUT, f"{where}: the API refused the request ({message})")
    return ModelError(ErrorKind.INTERNAL, f"{where}: unexpected API error ({message})")


def classify_exception(exc: BaseException) -> ModelError:
    """Anything a generate_content call can raise → ModelError."""
    if isinstance(exc, ModelError):
        return exc
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return classify_api_error(exc)
    name = type(exc).__name__
    mro = {c.__name__ for c in type(exc).__mro__}
    if "TimeoutException" in mro or isinstance(exc, TimeoutError):
        return ModelError(ErrorKind.TIMEOUT, f"no answer in time ({name})")
    if "TransportError" in mro or isinstance(exc, (ConnectionError, OSError)):
        return ModelError(ErrorKind.UNAVAILABLE, f"cannot reach the model ({name}: {exc})"[:300])
    if isinstance(exc, ValueError):  # JSONDecodeError, pydantic validation: a broken answer
        return ModelError(ErrorKind.UNAVAILABLE, f"unreadable answer from the API ({name})")
    return ModelError(ErrorKind.INTERNAL, f"unexpected {name}: {exc}"[:300])


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", None) or getattr(value, "name", None) or value)


def first_image(response: Any) -> tuple[bytes, str]:
    """(bytes, mime) of the first image part of a generate_content answer, else ModelError."""
    feedback = getattr(response, "prompt_feedback", None)
    block = _enum_name(getattr(feedback, "block_reason", None)) if feedback else None
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        if block:
            raise ModelError(ErrorKind.SAFETY, f"prompt blocked ({block})")
        raise ModelError(ErrorKind.NO_IMAGE, "the answer has no candidates")
    texts = []
    reasons = []
    drafts = []  # images in "thought" parts: a thinking model's drafts, used only as a last resort
    for cand in candidates:
        content = getattr(cand, "content", None)
        for part in (getattr(content, "parts", None) or []):
            inline = getattr(part, "inline_data", None)
            data = getattr(inline, "data", None) if inline is not None else None
            if data:
                found = bytes(data), str(getattr(inline, "mime_type", None) or "image/png")
                if not getattr(part, "thought", None):
                    return found
                drafts.append(found)
            if getattr(part, "text", None):
                texts.append(part.text)
        reason = _enum_name(getattr(cand, "finish_reason", None))
        if reason:
            reasons.append(reason)
    if drafts:
        return drafts[-1]
    if block or any(r in SAFETY_REASONS for r in reasons):
        raise ModelError(ErrorKind.SAFETY, f"the model refused (finish reason "
                                           f"{', '.join(reasons) or block})")
    said = f"; it said {texts[0][:80]!r}" if texts else ""
    raise ModelError(ErrorKind.NO_IMAGE, f"no image in the answer (finish reason "
                                         f"{', '.join(reasons) or 'none'}{said})")
