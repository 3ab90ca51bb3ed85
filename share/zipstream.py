"""A zip of many photos, streamed to the client while it is written, in bounded memory.

Why not build it first: 500 photos of an event are 500–800 MB, more than a Pi should hold, and
the operator's download would start only after all of it was written. The standard library's
`zipfile` writes to a stream that cannot seek (a data descriptor after each member), so a
thread writes the archive into a pipe of at most QUEUE_CHUNKS chunks of CHUNK bytes, and the
event loop sends each chunk when the client has taken the one before: memory stays a few MB
whatever the archive's size, and a slow client slows the writer instead of filling memory.
Photos are stored, not compressed (JPEG does not shrink, and a Pi's CPU is better spent on
the guests).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

log = logging.getLogger("share.zip")

CHUNK = 256 * 1024
QUEUE_CHUNKS = 4


@dataclass(frozen=True)
class Member:
    name: str  # the name inside the archive (unique)
    path: Path


class _Gone(Exception):
    """The client went away: the writer stops."""


class _Pipe:
    """A file-like sink for zipfile that hands CHUNK-sized pieces to the event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, gone: threading.Event
    ) -> None:
        self.loop = loop
        self.queue = queue
        self.gone = gone
        self.buf = bytearray()
        self.written = 0

    def write(self, data: bytes) -> int:
        self.buf += data
        self.written += len(data)
        while len(self.buf) >= CHUNK:
            self._send(bytes(self.buf[:CHUNK]))
            del self.buf[:CHUNK]
        return len(data)

    def tell(self) -> int:  # zipfile asks where it is (offsets for the central directory)
        return self.written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.buf:
            self._send(bytes(self.buf))
            self.buf.clear()

    def _send(self, chunk: bytes | None) -> None:
        if self.gone.is_set():
            raise _Gone()
        fut = asyncio.run_coroutine_threadsafe(self.queue.put(chunk), self.loop)
        while True:
            try:
                fut.result(timeout=1.0)
                return
            except TimeoutError:  # the pipe is full (a slow client): wait on, unless it left
                if self.gone.is_set():
                    fut.cancel()
                    raise _Gone() from None


def write_zip(pipe: _Pipe, members: Iterable[Member]) -> int:
    """Write the archive into `pipe`; returns how many photos went in (a file that vanished
    meanwhile — deleted by retention or the operator — is left out)."""
    n = 0
    with zipfile.ZipFile(
        pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True, strict_timestamps=False
    ) as zf:  # a Pi's clock may say 1970
        for m in members:
            try:
                zf.write(m.path, m.name)
                n += 1
            except FileNotFoundError:
                continue
    pipe.close()
    return n


async def stream_zip(
    request: web.Request, filename: str, members: Callable[[], Iterable[Member]]
) -> web.StreamResponse:
    """Send the zip of `members()` (called on the writer thread: it may read the ledger)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    gone = threading.Event()
    pipe = _Pipe(loop, queue, gone)
    result: dict = {}

    def writer() -> None:
        try:
            result["photos"] = write_zip(pipe, members())
        except _Gone:
            result["gone"] = True
        except Exception as exc:  # an unreadable file: end the stream, the client sees it cut
            log.exception("share: the zip stopped")
            result["error"] = exc
        finally:
            if not gone.is_set():
                try:
                    asyncio.run_coroutine_threadsafe(queue.put(None), loop).result(30)
                except Exception:
                    pass

    resp = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        }
    )
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    thread = threading.Thread(target=writer, name="zip-writer", daemon=True)
    thread.start()
    try:
        while True:
            chunk = await queue.get()
            if chunk is None:
                break
            await resp.write(chunk)
    except (ConnectionResetError, asyncio.CancelledError):
        gone.set()
        while not queue.empty():  # unblock the writer, which then sees `gone`
            queue.get_nowait()
        raise
    finally:
        gone.set()
        while not queue.empty():
            queue.get_nowait()
    if "error" in result:
        raise result["error"]
    await resp.write_eof()
    log.info(
        "share: zip of %d photo(s) sent (%d MB)",
        result.get("photos", 0),
        pipe.written // (1024 * 1024),
    )
    return resp
