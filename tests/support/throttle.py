"""A slow uplink for the tests: a TCP proxy on a free loopback port in front of a server, passing
the client's bytes on at a fixed rate (the booth's upload direction; answers come back at full
speed), and noting when each HTTP request begins.

Two ways to be slow, because they call for different things from an uploader:
- `shared=True`: one budget for every connection, like a saturated venue uplink — uploads at
  once split it, so concurrency alone makes no single upload faster;
- `shared=False`: a budget per connection, like a distant endpoint or a per-flow limit (a TCP
  window over a long round trip) — uploads at once each get the full rate.

It runs its own asyncio loop on a thread. `requests` lists every request line seen (method,
path, connection, when), read from the client's stream before throttling: the moment the
client began the request, which is when an upload "started".
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from tests.support.mosquitto import free_port, port_open

CHUNK = 4096  # bytes forwarded per step: small enough that connections take turns finely
RECV_BUFFER = 16 * 1024  # keep the kernel from buffering far ahead of the throttle


@dataclass(frozen=True)
class SeenRequest:
    at: float  # time.monotonic() when the request line was read
    method: str
    path: str  # percent-decoded, without the query
    conn: int  # the proxy's connection number
    length: int  # Content-Length (0 when absent)


class _Budget:
    """Bytes per second as a schedule: each chunk is given the next free slot in time, so
    connections sharing a budget take turns chunk by chunk."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0

    async def take(self, n: int) -> None:
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + n / self.rate
        delay = self._next - now
        if delay > 0:
            await asyncio.sleep(delay)


class _RequestLines:
    """Finds the start of each HTTP/1.1 request in one connection's client stream (requests
    with a Content-Length body, as S3 clients send them); gives up on anything else."""

    def __init__(self) -> None:
        self._head = b""
        self._body_left = 0
        self.broken = False

    def feed(self, data: bytes) -> list[tuple[str, str, int]]:
        found: list[tuple[str, str, int]] = []
        while data and not self.broken:
            if self._body_left:
                step = min(self._body_left, len(data))
                self._body_left -= step
                data = data[step:]
                continue
            self._head += data
            data = b""
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                self.broken = len(self._head) > 65536
                break
            head, data = self._head[:end], self._head[end + 4 :]
            self._head = b""
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.broken = True
                break
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])
            }
            if "chunked" in headers.get("transfer-encoding", ""):
                self.broken = True
            length = int(headers.get("content-length", "0") or 0)
            self._body_left = length
            found.append((parts[0], unquote(urlsplit(parts[1]).path), length))
        return found


class ThrottledProxy:
    def __init__(self, upstream_port: int, rate: float, *, shared: bool = True) -> None:
        """`rate`: bytes per second from the client to the server."""
        self.upstream_port = upstream_port
        self.rate = rate
        self.shared = shared
        self.port = free_port()
        self.requests: list[SeenRequest] = []
        self._budget = _Budget(rate)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._conns = 0
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThrottledProxy:
        self._thread = threading.Thread(target=self._run, name="throttled-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or not port_open(self.port):
            raise RuntimeError("the throttling proxy did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)

    def started(self, path_suffix: str) -> list[SeenRequest]:
        """The requests whose path ends with `path_suffix` (an object key), in order."""
        return [r for r in list(self.requests) if r.path.endswith(path_suffix)]

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)  # inherited
        sock.bind(("127.0.0.1", self.port))
        self._server = loop.run_until_complete(asyncio.start_server(self._client, sock=sock))
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:  # stop(): ends normally (asyncio's callback for a
            pass  # connection handler calls exception() on it, which a cancelled task raises)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns += 1
        conn = self._conns
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        budget = self._budget if self.shared else _Budget(self.rate)
        upward = asyncio.ensure_future(self._pipe(reader, up_writer, budget, conn))
        downward = asyncio.ensure_future(self._pipe(up_reader, writer, None, conn))
        failed = True  # a reset, or stop(): both sides are cut off at once
        try:
            # as TCP does: a side's close reaches the other side after every byte before it,
            # and the connection ends once both directions have
            done, _ = await asyncio.wait({upward, downward}, return_when=asyncio.FIRST_EXCEPTION)
            failed = any(t.exception() is not None for t in done)
        finally:
            for task in (upward, downward):
                task.cancel()
            for w in (writer, up_writer):
                self._writers.discard(w)
                if failed:
                    w.transport.abort()
                else:
                    w.close()  # what is still buffered goes out first

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        budget: _Budget | None,
        conn: int,
    ) -> None:
        lines = _RequestLines() if budget is not None else None
        while True:
            data = await reader.read(CHUNK)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()  # the close passed on, after what is buffered
                return
            if lines is not None:
                now = time.monotonic()
                for method, path, length in lines.feed(data):
                    self.requests.append(SeenRequest(now, method, path, conn, length))
            if budget is not None:
                await budget.take(len(data))
            writer.write(data)
            await writer.drain()
