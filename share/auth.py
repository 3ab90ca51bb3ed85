"""The operator's login: password guesses throttled, then a session instead of a password.

Why a session: with HTTP basic auth the password crossed the network on every request (every
thumbnail). Now it is sent once, to the operator listener (localhost by default), and the browser
keeps an unguessable session cookie (HttpOnly, SameSite=Strict, path /admin).

Why the throttle looks like this: the old failure table was cleared when it grew past 1000
addresses, so guesses from many addresses unlocked a locked one. Here an address's failures count
until they are older than the window, and nothing another address does removes them: when the
table is full of addresses that still count, a new address is refused rather than an old one
forgotten (it fails closed). All failures together are capped as well, so a thousand addresses
cannot guess a thousand times faster than one. An IPv6 client is counted by its /64.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from share.conncaps import address_key

SESSION_COOKIE = "booth_admin"
SESSION_TTL_S = 12 * 3600  # an event day
MAX_SESSIONS = 64


class LoginThrottle:
    """Failed logins per address and in total, over a sliding window."""

    def __init__(
        self,
        per_address: int = 10,
        total: int | None = 100,
        window_s: float = 900.0,
        capacity: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_address = per_address
        self.total = total
        self.window_s = window_s
        self.capacity = capacity
        self.clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> float:
        """Seconds before `address` may try a password (0: now)."""
        key = address_key(address)
        now = self.clock()
        with self._lock:
            mine = self._mine(key, now)
            if mine is not None and len(mine) >= self.per_address:
                return mine[0] + self.window_s - now
            if self.total is not None and len(self._all) >= self.total:
                return self._all[0] + self.window_s - now
            if mine is None and not self._room(now):
                return self.window_s  # the table is full of addresses that still count
            return 0.0

    def failed(self, address: str) -> None:
        key = address_key(address)
        now = self.clock()
        with self._lock:
            mine = self._mine(key, now)
            if mine is None:
                if not self._room(now):
                    return  # wait_s refuses it anyway; never push out one that counts
                mine = self._fails[key] = deque()
            mine.append(now)
            self._all.append(now)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._fails.pop(address_key(address), None)

    def _mine(self, key: str, now: float) -> deque[float] | None:
        """This address's failures still inside the window (None: none); also ages the total."""
        cutoff = now - self.window_s
        while self._all and self._all[0] <= cutoff:
            self._all.popleft()
        mine = self._fails.get(key)
        if mine is not None:
            while mine and mine[0] <= cutoff:
                mine.popleft()
            if not mine:
                del self._fails[key]
                mine = None
        return mine

    def _room(self, now: float) -> bool:
        """Is there room for one more address? Only addresses whose failures have all aged
        out are ever removed to make it."""
        if len(self._fails) < self.capacity:
            return True
        cutoff = now - self.window_s
        for key in [k for k, q in self._fails.items() if q[-1] <= cutoff]:
            del self._fails[key]
        return len(self._fails) < self.capacity


class Sessions:
    """Operator sessions in memory (a restart logs the operator out); tokens stored hashed."""

    def __init__(
        self, ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(_utf8(token)).digest()

    def create(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry[self._key(token)] = self.clock() + self.ttl_s
            while len(self._expiry) > MAX_SESSIONS:
                self._expiry.popitem(last=False)
        return token

    def valid(self, token: str | None) -> bool:
        if not token or len(token) > 128:
            return False
        key = self._key(token)
        with self._lock:
            expiry = self._expiry.get(key)
            if expiry is None:
                return False
            if expiry <= self.clock():
                del self._expiry[key]
                return False
            return True

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._expiry.pop(self._key(token), None)


def password_matches(given: str, password: str) -> bool:
    """Constant-time comparison that does not leak the password's length either."""
    return hmac.compare_digest(
        hashlib.sha256(_utf8(given)).digest(), hashlib.sha256(_utf8(password)).digest()
    )


def _utf8(text: str) -> bytes:
    """UTF-8 of a client's text. aiohttp hands over header bytes that are not UTF-8 as lone
    surrogates (a cookie, a bearer token, a form field), which plain encode() refuses."""
    return text.encode("utf-8", "surrogatepass")
