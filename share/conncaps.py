"""The share server's front door against hostile clients: connection caps and a header deadline.

Why: one phone (or one script) opening a thousand idle sockets used to exhaust the process's file
descriptors, and every guest's download timed out. aiohttp closes idle keep-alive connections
(`keepalive_timeout`), but it has no limit on connections per address, and older versions leave
a connection that never sends a request open for an hour. So each accepted connection passes
through a small protocol in front of aiohttp's:

- at most `per_address` open connections from one address (an IPv6 client by its /64, since
  it can pick any address in it) and `total` overall; the one over the cap is reset at once,
  which frees its descriptor;
- the first request's headers must have arrived within `header_timeout_s` of connecting
  (a slow-loris, or a socket that sends nothing); after that aiohttp's keep-alive timeout
  applies between requests.
Refusals are counted and logged through `booth.logs.RateLimitFilter`, so a flood costs a few
log lines, not a full journal.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("share.conncaps")

HEADERS_END = b"\r\n\r\n"
FDS_PER_CONNECTION = 2  # the socket, and the photo file while it is being sent
FDS_RESERVED = 64  # ledger, logs, the broker connection, thumbnails …


def address_key(address: str) -> str:
    """The unit a cap counts: the IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def raise_fd_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard one (systemd's LimitNOFILE, or the shell's);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def accept_burst(fd_limit: int) -> int:
    """The listen backlog under `fd_limit`. asyncio also uses it as the number of connections it
    accepts in one turn of its event loop, each a descriptor before the guard sees it
    (CPython's selector_events `_accept_connection`)."""
    return max(16, min(1024, fd_limit // 8))


def connections_for_fd_limit(wanted: int, fd_limit: int) -> int:
    """The total cap that cannot run the process out of descriptors under `fd_limit`: each open
    connection's, plus three accept bursts in flight (accepted in one turn of the event loop,
    refused by the guard in the next, closed in the one after)."""
    spare = fd_limit - FDS_RESERVED - 3 * accept_burst(fd_limit)
    return max(16, min(wanted, spare // FDS_PER_CONNECTION))


class ConnectionGuard:
    """A protocol factory for `loop.create_server` that wraps aiohttp's (`factory`)."""

    def __init__(
        self, *, per_address: int, total: int, header_timeout_s: float, name: str = "share"
    ) -> None:
        self.per_address = per_address
        self.total = total
        self.header_timeout_s = header_timeout_s
        self.name = name
        self.factory: Callable[[], asyncio.Protocol] | None = None
        self.open: Counter[str] = Counter()
        self.refused = 0
        self.timed_out = 0

    @property
    def open_total(self) -> int:
        return sum(self.open.values())

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def admit(self, key: str) -> str | None:
        """None when a new connection from `key` may open, else why not."""
        if self.open[key] >= self.per_address:
            return (
                f"{self.open[key]} connections already open from that address "
                f"(limit {self.per_address})"
            )
        if self.open_total >= self.total:
            return f"{self.open_total} connections open in all (limit {self.total})"
        return None


class _Guarded(asyncio.Protocol):
    """One connection: counted, timed until its first request's headers, then aiohttp's."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: Any = None
        self.key: str | None = None
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        key = address_key(peer[0]) if peer else "?"
        why = self.guard.admit(key)
        if why is not None:
            self.guard.refused += 1
            log.warning("%s: refused a connection from %s: %s", self.guard.name, key, why)
            transport.abort()  # a reset frees the descriptor now, not after a linger
            return
        self.key = key
        self.guard.open[key] += 1
        self.timer = asyncio.get_running_loop().call_later(
            self.guard.header_timeout_s, self._too_slow
        )
        assert self.guard.factory is not None
        self.inner = self.guard.factory()
        self.inner.connection_made(transport)

    def _too_slow(self) -> None:
        self.timer = None
        self.guard.timed_out += 1
        log.info(
            "%s: closed a connection from %s: no request within %g s",
            self.guard.name,
            self.key,
            self.guard.header_timeout_s,
        )
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            seen = self.tail + data
            if HEADERS_END in seen:
                self.timer.cancel()
                self.timer = None
            else:
                self.tail = seen[-(len(HEADERS_END) - 1) :]
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.key is not None:
            self.guard.open[self.key] -= 1
            if self.guard.open[self.key] <= 0:
                del self.guard.open[self.key]
            self.key = None
        if self.inner is not None:
            inner, self.inner = self.inner, None
            inner.connection_lost(exc)


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through a ConnectionGuard (stopped with its runner)."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        *,
        backlog: int = 1024,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self.app_runner = runner
        self.host = host
        self.port = port
        self.guard = guard

    @property
    def name(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        await super().start()
        self.guard.factory = self.app_runner.server
        self._server = await asyncio.get_running_loop().create_server(
            self.guard, self.host, self.port, backlog=self._backlog, reuse_address=True
        )
        if self.port == 0 and self._server.sockets:
            self.port = self._server.sockets[0].getsockname()[1]
