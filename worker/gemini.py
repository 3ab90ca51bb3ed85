"""One image edit through google-genai: JPEG in, (image bytes, mime) out, or a ModelError.

Two bounds the SDK does not give:
- Wall time. The SDK's timeout is per connect/read/write, so a server trickling bytes keeps one
  call alive for as long as it likes. Every call therefore runs on the SDK's async client, on one
  event loop thread owned by this editor, under `asyncio.wait_for`: at the limit the call is
  cancelled there (its connection closed) and the job thread is free at once. Abandoned calls
  cannot pile up: they end within the loop, and `max_in_flight` refuses new calls while too many
  are still winding down.
- Size. The answer is read through a transport that refuses a declared Content-Length over
  `gemini.max_response_bytes` and cuts off a body that runs past it, so a runaway answer never
  sits in memory (the SDK would hold it several times over: bytes, text, JSON, decoded image).
  It asks for an uncompressed answer, so the bytes counted are the bytes kept.
The SDK's own retries stay off: the worker owns the retry loop (worker/retry.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any

import httpx2

from booth.config import GeminiConfig
from booth.protocol import ErrorKind
from worker.classify import RETRY_NO, ModelError, ResponseTooLarge, classify_exception, final_image

log = logging.getLogger(__name__)
BACKSTOP_S = 2.0  # the job thread's own wait beyond the call's limit, should the loop lag


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self):
        total = 0
        async for chunk in self._inner:
            total += len(chunk)
            if total > self._limit:
                raise ResponseTooLarge(total, self._limit, declared=False)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """httpx2's transport with a ceiling on the bytes of an answer (see the module docstring)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.headers["Accept-Encoding"] = "identity"
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await response.aclose()
            raise ResponseTooLarge(int(declared), self.limit, declared=True)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self.limit),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class GeminiEditor:
    """Calls `models.generate_content` with an image and a prompt, bounded in time and size."""

    def __init__(self, cfg: GeminiConfig, max_in_flight: int = 8) -> None:
        from google import genai
        from google.genai import types

        self._types = types
        self.model = cfg.model
        self.request_timeout_s = cfg.request_timeout_s
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="gemini-io", daemon=True
        )
        self._thread.start()
        self._http = httpx2.AsyncClient(transport=CappedTransport(cfg.max_response_bytes))
        self._client = genai.Client(
            api_key=cfg.api_key,
            http_options=types.HttpOptions(
                base_url=cfg.base_url or None,
                api_version=cfg.api_version,
                timeout=int(cfg.request_timeout_s * 1000),
                httpx_async_client=self._http,
            ),
        )

    @property
    def in_flight(self) -> int:
        """Calls not yet ended, abandoned ones included."""
        with self._lock:
            return self._in_flight

    def edit(self, jpeg: bytes, prompt: str, timeout_s: float) -> tuple[bytes, str]:
        """Ask the model for an edited picture within `timeout_s` (capped by
        gemini.request_timeout_s); raises ModelError (already classified)."""
        limit = max(0.1, min(timeout_s, self.request_timeout_s))
        busy = self.in_flight
        if busy >= self.max_in_flight:
            raise ModelError(
                ErrorKind.UNAVAILABLE,
                f"{busy} earlier model calls have not ended yet",
                retry=RETRY_NO,
            )
        try:
            future = asyncio.run_coroutine_threadsafe(
                self._generate(jpeg, prompt, limit), self._loop
            )
        except RuntimeError:  # the loop is closed: the editor was closed under us
            raise ModelError(
                ErrorKind.UNAVAILABLE, "the model client is closed", retry=RETRY_NO
            ) from None
        try:
            response = future.result(limit + BACKSTOP_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ModelError(
                ErrorKind.TIMEOUT, f"no complete answer within {limit:.1f} s (abandoned)"
            ) from None
        except Exception as exc:  # every SDK/transport failure gets a kind (a ModelError its own)
            raise classify_exception(exc) from None
        return final_image(response)

    async def _generate(self, jpeg: bytes, prompt: str, limit: float) -> Any:
        types = self._types
        with self._lock:  # counted from here: a task cancelled before it starts never runs
            self._in_flight += 1
        try:
            return await asyncio.wait_for(
                self._client.aio.models.generate_content(
                    model=self.model,
                    contents=[types.Part.from_bytes(data=jpeg, mime_type="image/jpeg"), prompt],
                    config=types.GenerateContentConfig(
                        response_modalities=["TEXT", "IMAGE"],
                        http_options=types.HttpOptions(timeout=max(1000, int(limit * 1000))),
                    ),
                ),
                limit,
            )
        except TimeoutError:
            raise ModelError(
                ErrorKind.TIMEOUT, f"no complete answer within {limit:.1f} s"
            ) from None
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        """Cancel what still runs, close the connections, stop the loop thread."""
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            me = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not me:
                    task.cancel()
            await self._http.aclose()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        except Exception as exc:  # a half-open pool: nothing to save
            log.debug("closing the model client: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
        try:
            self._client.close()
        except Exception:  # closing twice: nothing to save
            pass
