"""One image edit through google-genai: JPEG in, (image bytes, mime) out, or a ModelError.

The SDK's own retries stay off: the worker owns the retry loop (deadline, shared rate-limit pause,
status messages). One client is shared by the worker's threads (the SDK's sync client is
thread-safe over one connection pool); each call gets a timeout bounded by the job's deadline.
"""

from __future__ import annotations

import logging
from typing import Any

from booth.config import GeminiConfig
from worker.classify import ModelError, classify_exception, first_image

log = logging.getLogger(__name__)


class GeminiEditor:
    """Calls `models.generate_content` with an image and a prompt."""

    def __init__(self, cfg: GeminiConfig) -> None:
        from google import genai
        from google.genai import types

        self._types = types
        self.model = cfg.model
        self.request_timeout_s = cfg.request_timeout_s
        self._client = genai.Client(
            api_key=cfg.api_key,
            http_options=types.HttpOptions(base_url=cfg.base_url or None,
                                           api_version=cfg.api_version,
                                           timeout=int(cfg.request_timeout_s * 1000)))

    def edit(self, jpeg: bytes, prompt: str, timeout_s: float) -> tuple[bytes, str]:
        """Ask the model for an edited picture; raises ModelError (already classified)."""
        types = self._types
        timeout_ms = max(1000, int(min(timeout_s, self.request_timeout_s) * 1000))
        try:
            response: Any = self._client.models.generate_content(
                model=self.model,
                contents=[types.Part.from_bytes(data=jpeg, mime_type="image/jpeg"), prompt],
                config=types.GenerateContentConfig(
                    response_modalities=["TEXT", "IMAGE"],
                    http_options=types.HttpOptions(timeout=timeout_ms)))
        except ModelError:
            raise
        except Exception as exc:  # every SDK/transport failure gets a kind
            raise classify_exception(exc) from None
        return first_image(response)

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # closing twice or a half-open pool: nothing to save
            pass
