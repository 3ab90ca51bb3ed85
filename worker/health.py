"""The worker's retained health message: its AI state in words an operator can act on.

Published on `{root}/workers/{worker}/health` (booth.protocol.Health) on every connect, at once
when the AI state changes, and every HEALTH_EVERY_S with fresh counts. `booth doctor` and the
operator's view read it; guests never see these texts. It also says how this worker takes its
jobs from the broker it found (`broker`: shared subscription or claims, and how long the broker
keeps its queued jobs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from booth.mqtt import BrokerFeatures
from booth.protocol import AiState, Health, utc_now_iso

HEALTH_EVERY_S = 30.0

# state → (health state, what is wrong, what the operator can do)
TEXTS: dict[AiState, tuple[str, str, str]] = {
    AiState.OK: ("ok", "", ""),
    AiState.NO_KEY: (
        "warn",
        "no GEMINI_API_KEY: every photo gets the local effect",
        "put GEMINI_API_KEY=… in the worker's environment (/etc/booth/secrets.env) "
        "and restart the worker, if AI pictures are wanted",
    ),
    AiState.RATE_LIMITED: (
        "warn",
        "the AI service asked to slow down; calls are paused",
        "nothing, if it is brief; many guests at once need a higher rate limit (a paid tier)",
    ),
    AiState.QUOTA_EXHAUSTED: (
        "warn",
        "the AI quota is used up: photos get the local effect",
        "raise the quota or enable billing for the key's project in Google "
        "AI Studio; the worker tries again every few minutes",
    ),
    AiState.KEY_REJECTED: (
        "error",
        "the AI service rejects the API key (invalid, expired or "
        "reported as leaked): photos get the local effect",
        "create a new key in Google AI Studio, put it in GEMINI_API_KEY "
        "(/etc/booth/secrets.env) and restart the worker",
    ),
    AiState.PERMISSION_DENIED: (
        "error",
        "the API key may not use the Gemini API: photos get the local effect",
        "check the key's restrictions and project in Google AI Studio, or use another key",
    ),
    AiState.SERVICE_DISABLED: (
        "error",
        "the Generative Language API is not enabled for the "
        "key's project: photos get the local effect",
        "enable the Generative Language API for the project (the link "
        "is in the worker's log), then wait a few minutes",
    ),
    AiState.MODEL_NOT_FOUND: (
        "error",
        "the configured model does not exist (retired or misspelt): photos get the local effect",
        "set gemini.model (GEMINI_MODEL) to a current image model such as "
        "gemini-2.5-flash-image and restart the worker",
    ),
    AiState.REGION_UNSUPPORTED: (
        "error",
        "the AI service refuses requests from this location: photos get the local effect",
        "route the worker through a supported region, or run a worker "
        "in one (workers may run anywhere that reaches the broker)",
    ),
    AiState.BILLING_REQUIRED: (
        "error",
        "the key's project needs billing for this model: photos get the local effect",
        "enable billing for the project in Google AI Studio",
    ),
    AiState.REQUEST_REFUSED: (
        "warn",
        "the AI service refused a request without a clear reason (that photo got the local effect)",
        "see last_error; if it repeats, check gemini.model and the worker's log",
    ),
    AiState.BREAKER_OPEN: (
        "warn",
        "the AI service is unreachable or failing: photos get the local effect for a while",
        "check the booth's internet connection (a captive portal?) and "
        "https://aistudio.google.com/status; the worker retries by itself",
    ),
    AiState.PROBING: ("warn", "trying the AI service again after a pause", ""),
}


def _iso_in(seconds: float) -> str:
    at = datetime.now(UTC) + timedelta(seconds=max(0.0, seconds))
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def worker_health(
    worker_id: str,
    ai: AiState,
    detail: str,
    pause_left_s: float | None,
    jobs_in_flight: int,
    counts: dict[str, int],
    last_error: dict[str, Any] | None,
    broker: dict[str, Any] | None = None,
) -> Health:
    state, reason, fix = TEXTS[ai]
    if detail and ai not in (AiState.OK, AiState.NO_KEY):
        reason = f"{reason} ({detail[:300]})"
    return Health(
        state=state,
        part="worker",
        id=worker_id,
        reason=reason,
        fix=fix,
        ai=ai.value,
        ai_until=_iso_in(pause_left_s) if pause_left_s else None,
        jobs_in_flight=jobs_in_flight,
        counts=dict(counts),
        last_error=last_error,
        extra={"broker": broker} if broker is not None else {},
    )


def broker_record(features: BrokerFeatures, claiming: bool) -> dict[str, Any]:
    """The health's `broker` field: how this worker takes jobs and how long the broker keeps
    the ones dealt to it while it is away (the expiry the broker granted, not the one asked)."""
    kept = features.session_expiry_s
    if claiming:
        how = (
            "the broker offers no shared subscriptions: every worker receives every job, and "
            "the first to publish `processing` runs it while the others stand down"
        )
    else:
        how = "jobs are dealt to the workers over the broker's shared subscription"
    queued = f"the broker keeps the jobs that come while this worker is away for {kept} s"
    if features.session_capped:
        queued += f" (its limit; {features.asked_session_expiry_s} s were asked)"
    return {
        "jobs": "claimed" if claiming else "shared",
        "shared_subscriptions": features.shared_subscriptions,
        "session_expiry_s": kept,
        "session_expiry_asked_s": features.asked_session_expiry_s,
        "note": f"{how}; {queued}, and the kiosk sends a job no worker started again "
        "after kiosk.redispatch_s",
    }


def error_record(kind: str, detail: str) -> dict[str, Any]:
    """The `last_error` of a health message."""
    return {"kind": kind, "detail": detail[:300], "at": utc_now_iso()}
