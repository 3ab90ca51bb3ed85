"""The Gemini API key check: one cheap model lookup, its refusal read by meaning."""

from __future__ import annotations

from appliance.doctor.probe import FAIL, OK, WARN, Check, Probe
from booth.config import Config


# ------------------------------------------------------------------------------- API key
def check_api_key(cfg: Config, probe: Probe, offline: bool = False) -> Check:
    key = cfg.gemini.api_key
    if not key:
        return Check(
            "api key",
            WARN,
            "GEMINI_API_KEY is not set: every photo gets the local effect",
            "put GEMINI_API_KEY=… in /etc/booth/secrets.env, then restart the worker",
        )
    if offline:
        return Check("api key", OK, "GEMINI_API_KEY is set (not tried: --offline)")
    from google import genai
    from google.genai import errors, types

    opts = types.HttpOptions(
        base_url=cfg.gemini.base_url or None,
        api_version=cfg.gemini.api_version,
        timeout=int(probe.api_timeout_s * 1000),
    )
    where = cfg.gemini.base_url or "Google"
    try:
        client = genai.Client(api_key=key, http_options=opts)
        try:
            client.models.get(model=cfg.gemini.model)
        finally:
            client.close()
    except errors.APIError as exc:
        code = getattr(exc, "code", None)
        if getattr(exc, "status", "") == "FAILED_PRECONDITION":  # a region or billing refusal
            return Check(
                "api key",
                FAIL,
                f"{where} refuses this machine's requests: "
                f"{str(getattr(exc, 'message', '') or '')[:160]}",
                "enable billing for the key's project, or run the worker where the "
                "Gemini API is available",
            )
        if code in (400, 401, 403):
            return Check(
                "api key",
                FAIL,
                f"{where} rejected the API key ({code} {getattr(exc, 'status', '')})",
                "create a key at https://aistudio.google.com/apikey and put it in "
                "/etc/booth/secrets.env",
            )
        if code == 404:
            return Check(
                "api key",
                FAIL,
                f"the key works but model {cfg.gemini.model!r} was not found",
                "set gemini.model (GEMINI_MODEL) to an image model such as gemini-2.5-flash-image",
            )
        if code == 429:
            return Check(
                "api key",
                WARN,
                "the key is accepted but rate limited or out of quota (429)",
                "wait, or raise the project's quota; the booth falls back to "
                "the local effect meanwhile",
            )
        return Check(
            "api key",
            WARN,
            f"{where} answered {code}: try again later",
            "the booth falls back to the local effect while the service is down",
        )
    except Exception as exc:  # timeouts and connection errors come from the transport
        return Check(
            "api key",
            WARN,
            f"could not reach {where}: {type(exc).__name__}",
            "check the internet connection (or GEMINI_BASE_URL); use --offline to skip",
        )
    return Check("api key", OK, f"{where} accepted the key; model {cfg.gemini.model} is available")
