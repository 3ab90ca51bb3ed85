"""The one place that gathers the booth's health: the latest retained health and availability of
every part, each judged green / amber / red with its reason and fix in plain words.

Why in the contract package: the share server's dashboard, `/metrics` and the kiosk's operator
mark all read the same messages, and the kiosk and the share server must not import each other.
Feed it MQTT messages (`feed`, from any thread); read it with `parts()` (a snapshot).

How a part is judged: its availability first (a part that said `offline`, or whose will the
broker published, is red for the kiosk and the share server; a worker that went offline is only
listed, since workers come and go — but no worker online at all is red: photos are paused), then
its own health's state (`ok` green, `warn` amber, `error` red), then silence: a part that is
online but has not reported for `stale_s` is amber (a frozen process keeps its connection).
Silence is measured on this machine's monotonic clock from the last message received, never by
comparing another machine's timestamps (a booth's clock may be weeks off before NTP).

Each part's protocol version (booth/protocol.py PROTOCOL_VERSION: the user property of its
availability, the field of its health) is kept too, so the views can say that a part speaks a
newer or an older protocol than this booth. It does not change a part's level: readers on both
sides ignore what they do not know, so a mixed fleet works; the note says what to upgrade.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from booth.protocol import (
    PROTOCOL_VERSION,
    Availability,
    Health,
    Payload,
    Problem,
    ProtocolError,
    TopicKind,
    Topics,
)

OK, WARN, ERROR, OFFLINE, UNKNOWN = "ok", "warn", "error", "offline", "unknown"
LEVEL_RANK = {OK: 0, OFFLINE: 0, UNKNOWN: 1, WARN: 1, ERROR: 2}

# What a part is called on the dashboard, and what to do when it is gone.
TITLES = {
    "kiosk": "Booth screen",
    "worker": "Worker",
    "workers": "Workers",
    "share": "Download server",
    "uploader": "Cloud uploads",
    "printer": "Printer",
}
GONE_FIX = {
    "kiosk": "the booth screen is not running: sudo systemctl status booth-kiosk (it restarts "
    "by itself; `journalctl -u booth-kiosk -b` says why it stopped)",
    "share": "the download server is not running: sudo systemctl status booth-share",
    "printer": "the printing process is not running: sudo systemctl status booth-printer "
    "(requested prints wait in the ledger and come out once it runs)",
}
NO_WORKER_FIX = (
    "start one: sudo systemctl start booth-worker, or `booth worker` on any machine "
    "that reaches the broker"
)


def protocol_words(version: int | None) -> str:
    """How a part's protocol version compares with this booth's, in words ("" when the same or
    not known): "speaks a newer protocol (v3; this booth speaks v2)"."""
    if version is None or version == PROTOCOL_VERSION:
        return ""
    which = "a newer" if version > PROTOCOL_VERSION else "an older"
    return f"speaks {which} protocol (v{version}; this booth speaks v{PROTOCOL_VERSION})"


@dataclass(frozen=True)
class PartView:
    """One part as the views show it."""

    key: str  # "kiosk/<booth>", "worker/<id>", "share/<booth>", "uploader/<booth>"
    part: str  # kiosk | worker | workers | share | uploader
    id: str
    level: str  # ok | warn | error | offline | unknown
    reason: str = ""
    fix: str = ""
    online: bool | None = None
    health: Health | None = None
    silent_s: float | None = None  # seconds since its last message (None: never heard)
    problems: tuple[Problem, ...] = ()
    protocol_version: int | None = None  # None: nothing it sent said (or could say)

    @property
    def title(self) -> str:
        name = TITLES.get(self.part, self.part)
        return f"{name} {self.id}" if self.part == "worker" else name

    @property
    def protocol_note(self) -> str:
        return protocol_words(self.protocol_version)

    def to_dict(self) -> dict[str, Any]:
        h = self.health
        return {
            "key": self.key,
            "part": self.part,
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "reason": self.reason,
            "fix": self.fix,
            "online": self.online,
            "silent_s": None if self.silent_s is None else round(self.silent_s, 1),
            "problems": [p.to_dict() for p in self.problems],
            "protocol_version": self.protocol_version,
            "protocol_note": self.protocol_note,
            "health": h.to_dict() if h is not None else None,
        }


@dataclass
class _Seen:
    online: bool | None = None
    health: Health | None = None
    heard_at: float | None = None
    online_version: int | None = None  # from its availability's user property

    @property
    def version(self) -> int | None:
        """The newest version its latest availability and health said: a part that sent a
        versioned message speaks at least that (one without a version may come from a caller
        that did not pass the message's properties)."""
        said = [self.online_version, self.health.protocol_version if self.health else None]
        known = [v for v in said if v is not None]
        return max(known) if known else None


@dataclass
class HealthBoard:
    """Latest availability and health per part of one booth (and every worker)."""

    topics: Topics
    booth: str
    stale_s: float = 100.0  # about three health periods (30 s) and a margin
    mono: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    ignored: int = 0

    # ------------------------------------------------------------------ input
    def subscriptions(
        self, kiosk: bool = True, workers: bool = True, services: bool = True
    ) -> list[tuple[str, int]]:
        subs = []
        if kiosk:
            subs += [
                (self.topics.availability(self.booth), 1),
                (self.topics.booth_health(self.booth), 1),
            ]
        if workers:
            subs += [
                (self.topics.all_worker_availability(), 1),
                (self.topics.all_worker_health(), 1),
            ]
        if services:
            subs += [(t, 1) for t in self.topics.booth_services(self.booth)]
        return subs

    def feed(self, topic: str, payload: Payload, properties: Any = None) -> bool:
        """Take in one message; True when it was a health or availability message of this
        booth or a worker (malformed ones are counted and dropped). `properties` are the
        message's MQTT 5 properties (an availability's protocol version); None when the caller
        does not have them."""
        try:
            parsed = self.topics.parse(topic)
        except ProtocolError:
            return False
        kind = parsed.kind
        if kind in (TopicKind.WORKER_AVAILABILITY, TopicKind.WORKER_HEALTH):
            key = ("worker", parsed.worker or "")
        elif parsed.booth != self.booth:
            return False
        elif kind in (TopicKind.AVAILABILITY, TopicKind.BOOTH_HEALTH):
            key = ("kiosk", self.booth)
        elif kind in (TopicKind.SERVICE_AVAILABILITY, TopicKind.SERVICE_HEALTH):
            key = (parsed.service or "", self.booth)
        else:
            return False
        is_health = kind in (
            TopicKind.WORKER_HEALTH,
            TopicKind.BOOTH_HEALTH,
            TopicKind.SERVICE_HEALTH,
        )
        health: Health | None = None
        availability: Availability | None = None
        try:
            if payload and is_health:
                health = Health.from_json(payload)
            elif payload:
                availability = Availability.parse(payload, properties)
        except ProtocolError:
            self.ignored += 1
            return True
        with self._lock:
            seen = self._seen.setdefault(key, _Seen())
            if is_health:
                seen.health = health
            else:
                seen.online = None if availability is None else availability.online
                if availability is None:
                    seen.online_version = None
                elif properties is not None:
                    seen.online_version = availability.protocol_version
            if not payload and seen.health is None and seen.online is None:
                del self._seen[key]  # a cleared retained message: forget the part
                return True
            seen.heard_at = self.mono()
        return True

    def put(self, part: str, health: Health, online: bool = True) -> None:
        """A part of this process reports itself directly (no round trip through the broker)."""
        with self._lock:
            seen = self._seen.setdefault((part, self.booth), _Seen())
            seen.health, seen.online, seen.heard_at = health, online, self.mono()

    # ------------------------------------------------------------------ output
    def parts(self, cloud: bool | None = None, printer: bool | None = None) -> list[PartView]:
        """Every part, judged: the kiosk, the workers (a `workers` row when none is online),
        the share server, (when `cloud` is true or it has reported) the uploader, and (when
        `printer` is true or it has reported) the printer process."""
        now = self.mono()
        with self._lock:
            seen = {k: replace(s) for k, s in self._seen.items()}
        out = [self._judge("kiosk", self.booth, seen.get(("kiosk", self.booth)), now)]
        workers = sorted((k[1], s) for k, s in seen.items() if k[0] == "worker")
        online = [(w, s) for w, s in workers if s.online]
        if not online:
            out.append(
                PartView(
                    "workers",
                    "workers",
                    "",
                    ERROR,
                    "no worker is online: photos are paused until one is",
                    NO_WORKER_FIX,
                    online=False,
                )
            )
        for w, s in workers:
            out.append(self._judge("worker", w, s, now))
        out.append(self._judge("share", self.booth, seen.get(("share", self.booth)), now))
        uploader = seen.get(("uploader", self.booth))
        if cloud or (cloud is None and uploader is not None):
            share = seen.get(("share", self.booth))
            if uploader is not None and share is not None:
                uploader.online = share.online  # it lives and dies with the share server
            out.append(self._judge("uploader", self.booth, uploader, now))
        printing = seen.get(("printer", self.booth))
        if printer or (printer is None and printing is not None):
            out.append(self._judge("printer", self.booth, printing, now))
        return out

    def service(self, name: str) -> tuple[bool | None, Health | None]:
        """One service of this booth as last heard: (online, health)."""
        with self._lock:
            seen = self._seen.get((name, self.booth))
            return (seen.online, seen.health) if seen is not None else (None, None)

    def worst(self, parts: list[PartView] | None = None) -> str:
        parts = self.parts() if parts is None else parts
        return max((p.level for p in parts), key=lambda lv: LEVEL_RANK[lv], default=OK)

    def workers(self) -> dict[str, tuple[bool | None, Health | None]]:
        """Every worker heard of: (online, latest health)."""
        with self._lock:
            return {k[1]: (s.online, s.health) for k, s in self._seen.items() if k[0] == "worker"}

    def protocol_versions(self) -> dict[str, int]:
        """The protocol version of every worker whose messages said one."""
        with self._lock:
            found = {k[1]: s.version for k, s in self._seen.items() if k[0] == "worker"}
        return {w: v for w, v in found.items() if v is not None}

    def _judge(self, part: str, pid: str, seen: _Seen | None, now: float) -> PartView:
        view = self._level(part, pid, seen, now)
        return view if seen is None else replace(view, protocol_version=seen.version)

    def _level(self, part: str, pid: str, seen: _Seen | None, now: float) -> PartView:
        key = f"{part}/{pid}"
        if seen is None:
            return PartView(
                key,
                part,
                pid,
                UNKNOWN,
                f"no word from the {TITLES[part].lower()} yet",
                GONE_FIX.get(part, ""),
            )
        silent = None if seen.heard_at is None else now - seen.heard_at
        h = seen.health
        problems = h.problems if h is not None else ()
        if seen.online is False:
            if part == "worker":
                return PartView(key, part, pid, OFFLINE, "offline", "", False, h, silent)
            return PartView(
                key,
                part,
                pid,
                ERROR,
                f"the {TITLES[part].lower()} is offline",
                GONE_FIX.get(part, ""),
                False,
                h,
                silent,
            )
        if h is None:
            return PartView(
                key,
                part,
                pid,
                UNKNOWN,
                "online, no health report yet",
                "",
                seen.online,
                None,
                silent,
            )
        if silent is not None and silent > self.stale_s:
            return PartView(
                key,
                part,
                pid,
                WARN,
                f"no health report for {silent:.0f} s (is it frozen?)",
                GONE_FIX.get(part, "check its log"),
                seen.online,
                h,
                silent,
                problems,
            )
        return PartView(key, part, pid, h.state, h.reason, h.fix, seen.online, h, silent, problems)
