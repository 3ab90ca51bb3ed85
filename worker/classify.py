"""Map what the SDK raised or answered to what it *means*, and so what the worker does about it.

Why here and not spread over the worker: the retry, pause and fallback rules depend only on the
verdict, so every odd thing the API or the network can do is decided in one table-like place.
A verdict is a `ModelError` with:
- `kind` — the protocol's error kind the guest's status carries (booth/protocol.py);
- `retry` — `transient` (back off and retry within the deadline), `once` (one more try: a 400
  that says "retry", an answer without a picture) or `no`;
- `ai` — for failures that are about the service as a whole rather than this photo (the key, the
  project, the model name, the region, billing, a used-up quota) the operator-facing AI state
  (booth.protocol.AiState): the worker then pauses model calls for everyone and raises an alert.
The HTTP code alone never decides: a 400 can be a bad key, a region refusal or a hiccup that says
"please retry", and a 429 can be a per-minute rate or a quota that is gone for the day.
The guest's photo is `bad_input` only when the worker's own validation refused it
(worker/validate.py) or the local effect cannot draw on it (too thin), never because the
service answered 400.
"""

from __future__ import annotations

import re
from typing import Any

from booth.protocol import TRANSIENT_KINDS, AiState, ErrorKind

SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
        "OTHER_SAFETY",
    }
)
RETRY_TRANSIENT, RETRY_ONCE, RETRY_NO = "transient", "once", "no"


class ModelError(Exception):
    """A classified failure of one model call (see the module docstring)."""

    def __init__(
        self,
        kind: ErrorKind,
        detail: str,
        retry_after_s: float | None = None,
        *,
        retry: str | None = None,
        ai: AiState | None = None,
    ) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.retry = retry or (RETRY_TRANSIENT if kind in TRANSIENT_KINDS else RETRY_NO)
        self.ai = ai
        self.attempts = 1  # model calls made for the job when it was given up (set by retry)

    @property
    def outage(self) -> bool:
        """Says the service cannot be reached or answered nothing usable (the breaker counts)."""
        return (
            self.ai is None
            and self.kind in (ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT)
            and self.retry == RETRY_TRANSIENT
        )


class ResponseTooLarge(ModelError):
    """The answer is bigger than gemini.max_response_bytes: cut off before it fills memory."""

    def __init__(self, size: int, limit: int, declared: bool) -> None:
        how = "declares" if declared else "ran past"
        super().__init__(
            ErrorKind.UNAVAILABLE,
            f"the answer {how} {size} bytes; the limit is {limit} (gemini.max_response_bytes)",
            retry=RETRY_NO,
        )


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


def _type_of(detail: dict) -> str:
    return str(detail.get("@type", "")).rsplit(".", 1)[-1]


# Service-wide refusals: (AI state, what the operator reads in the log and the health message).
_SERVICE_REFUSALS = {
    AiState.KEY_REJECTED: "the Gemini API rejected the API key",
    AiState.PERMISSION_DENIED: "the API key may not use the Gemini API",
    AiState.SERVICE_DISABLED: "the Generative Language API is not enabled for the key's project",
    AiState.MODEL_NOT_FOUND: "the model does not exist (retired or misspelt)",
    AiState.REGION_UNSUPPORTED: "the Gemini API refuses requests from this location",
    AiState.BILLING_REQUIRED: "the key's project needs billing for this model",
    AiState.QUOTA_EXHAUSTED: "the API quota is used up",
}


def _service(ai: AiState, kind: ErrorKind, where: str, message: str) -> ModelError:
    return ModelError(kind, f"{where}: {_SERVICE_REFUSALS[ai]} ({message})", retry=RETRY_NO, ai=ai)


def _classify_429(where: str, message: str, text: str, details: list[dict]) -> ModelError:
    """Quota (gone for hours: pause everyone) or rate limit (come back in a few seconds).
    `text` is the whole message in lower case (`message`, shortened, is for people)."""
    retry: float | None = None
    per_day = per_minute = zero_limit = False
    for d in details:
        kind = _type_of(d)
        if kind == "RetryInfo":
            retry = parse_duration(d.get("retryDelay", d.get("retry_delay")))
        elif kind == "QuotaFailure":
            for v in d.get("violations") or []:
                if not isinstance(v, dict):
                    continue
                ident = f"{v.get('quotaId', '')} {v.get('quotaMetric', '')}".lower()
                if "perday" in ident or "per_day" in ident or "daily" in ident:
                    per_day = True
                if "perminute" in ident or "per_minute" in ident:
                    per_minute = True
                if str(v.get("quotaValue", "")).strip() == "0":
                    zero_limit = True
    types = {_type_of(d) for d in details}
    help_only = bool(types) and types <= {"Help", "LocalizedMessage"}
    if re.search(r"\blimit:\s*0\b", text):
        zero_limit = True  # a free tier with no allowance for this model: never comes back
    exceeded = "exceeded your current quota" in text
    if (
        per_day
        or zero_limit
        or (exceeded and retry is None and not per_minute)
        or (help_only and retry is None)
    ):
        why = (
            "daily quota"
            if per_day
            else "no quota for this model (limit 0)"
            if zero_limit
            else "quota"
        )
        err = _service(AiState.QUOTA_EXHAUSTED, ErrorKind.QUOTA, where, f"{why}: {message}")
        err.retry_after_s = retry
        return err
    if retry is not None:
        return ModelError(
            ErrorKind.RATE_LIMITED, f"{where}: rate limited, retry in {retry:g} s", retry
        )
    return ModelError(ErrorKind.RATE_LIMITED, f"{where}: rate limited ({message})")


def classify_api_error(exc: Any) -> ModelError:
    """An `errors.APIError` (4xx/5xx with a Google error body) → ModelError."""
    code = int(getattr(exc, "code", 0) or 0)
    status = str(getattr(exc, "status", "") or "")
    full = " ".join(str(getattr(exc, "message", "") or "").split())
    message = full[:300]  # for the log and the health topic; the meaning is read from all of it
    details = _error_details(exc)
    where = f"HTTP {code} {status}".strip()
    text = full.lower()
    reasons = {str(d.get("reason", "")) for d in details if _type_of(d) == "ErrorInfo"}

    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return _classify_429(where, message, text, details)
    if (
        reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"}
        or code == 401
        or status == "UNAUTHENTICATED"
        or "api key not valid" in text
        or "api key expired" in text
        or "leaked" in text
        or "api key not found" in text
    ):
        return _service(AiState.KEY_REJECTED, ErrorKind.UNAVAILABLE, where, message)
    if "SERVICE_DISABLED" in reasons or "has not been used in project" in text:
        return _service(AiState.SERVICE_DISABLED, ErrorKind.UNAVAILABLE, where, message)
    if code == 403 or status == "PERMISSION_DENIED":
        return _service(AiState.PERMISSION_DENIED, ErrorKind.UNAVAILABLE, where, message)
    if code == 404 or status == "NOT_FOUND":
        return _service(AiState.MODEL_NOT_FOUND, ErrorKind.UNAVAILABLE, where, message)
    billing = "billing" in text or "free tier" in text
    if (
        "location is not supported" in text
        or "not available in your country" in text
        or (status == "FAILED_PRECONDITION" and billing)
    ):
        ai = AiState.BILLING_REQUIRED if billing else AiState.REGION_UNSUPPORTED
        return _service(ai, ErrorKind.UNAVAILABLE, where, message)
    if code in (408, 504) or status == "DEADLINE_EXCEEDED":
        return ModelError(ErrorKind.TIMEOUT, f"{where}: the model timed out ({message})")
    if code >= 500:
        return ModelError(ErrorKind.UNAVAILABLE, f"{where}: server error ({message})")
    if "retry" in text:
        # "Unable to process input image. Please retry or report …": the photo passed our own
        # validation, so this is the service's hiccup; one more try.
        return ModelError(
            ErrorKind.UNAVAILABLE,
            f"{where}: the service asks to retry ({message})",
            retry=RETRY_ONCE,
        )
    # Another refusal of a photo we already validated (a generic INVALID_ARGUMENT, 413, 409 …):
    # this job gets the local effect; the operator sees the reason in the worker's health.
    return ModelError(
        ErrorKind.UNAVAILABLE,
        f"{where}: the service refused the request ({message})",
        retry=RETRY_NO,
        ai=AiState.REQUEST_REFUSED,
    )


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
    if isinstance(exc, ValueError):  # JSONDecodeError, pydantic validation: a captive portal's
        # page or a broken answer
        return ModelError(ErrorKind.UNAVAILABLE, f"unreadable answer from the API ({name})")
    return ModelError(ErrorKind.INTERNAL, f"unexpected {name}: {exc}"[:300])


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", None) or getattr(value, "name", None) or value)


def final_image(response: Any) -> tuple[bytes, str]:
    """(bytes, mime) of the answer's final picture, else ModelError.

    Only a non-thought image part is an answer: a thinking model's "thought" parts hold drafts,
    which may show what the final check then blocked. Any block or safety signal — a blocked
    prompt, a safety finish reason, a rating marked blocked — means no picture at all, even if
    one came along. An answer without a final picture (IMAGE_OTHER, NO_IMAGE, text only) is
    worth one more try.
    """
    feedback = getattr(response, "prompt_feedback", None)
    block = _enum_name(getattr(feedback, "block_reason", None)) if feedback else None
    if block:
        raise ModelError(ErrorKind.SAFETY, f"prompt blocked ({block})")
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        raise ModelError(ErrorKind.NO_IMAGE, "the answer has no candidates", retry=RETRY_ONCE)
    texts: list[str] = []
    reasons: list[str] = []
    finals: list[tuple[bytes, str]] = []
    drafts = 0
    for cand in candidates:
        reason = _enum_name(getattr(cand, "finish_reason", None))
        if reason:
            reasons.append(reason)
        for rating in getattr(cand, "safety_ratings", None) or []:
            if getattr(rating, "blocked", None):
                reasons.append(f"{_enum_name(getattr(rating, 'category', None))} blocked")
        content = getattr(cand, "content", None)
        for part in getattr(content, "parts", None) or []:
            inline = getattr(part, "inline_data", None)
            data = getattr(inline, "data", None) if inline is not None else None
            if data:
                if getattr(part, "thought", None):
                    drafts += 1
                else:
                    finals.append(
                        (bytes(data), str(getattr(inline, "mime_type", None) or "image/png"))
                    )
            elif getattr(part, "text", None) and not getattr(part, "thought", None):
                texts.append(part.text)
    unsafe = [r for r in reasons if r in SAFETY_REASONS or r.endswith(" blocked")]
    if unsafe:
        seen = f" ({len(finals) + drafts} picture(s) withheld)" if finals or drafts else ""
        raise ModelError(
            ErrorKind.SAFETY, f"the model refused (finish reason {', '.join(unsafe)}){seen}"
        )
    if finals:
        return finals[-1]  # the final picture comes after any drafts
    said = f"; it said {texts[0][:80]!r}" if texts else ""
    draft = f"; {drafts} draft(s) only" if drafts else ""
    raise ModelError(
        ErrorKind.NO_IMAGE,
        f"no image in the answer (finish reason {', '.join(reasons) or 'none'}{draft}{said})",
        retry=RETRY_ONCE,
    )
