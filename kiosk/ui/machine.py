"""The screen state machine: every screen by name, and every transition in one table.

A screen never names the screen that comes next; it reports what happened (`Event`), and
TRANSITIONS says where that leads from where we are. Anything that goes wrong while entering,
updating or drawing a screen lands on the start screen (the failsafe), so a bug costs one guest a
screen, never the booth.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class ScreenName(str, enum.Enum):
    ATTRACT = "attract"  # live preview, the shutter, recent photos
    COUNTDOWN = "countdown"  # 3-2-1 over the preview
    FLASH = "flash"  # the flash while the still is taken off the main thread
    PROCESSING = "processing"  # the shot under Queued → Processing
    RESULT = "result"  # the picture and its download QR
    ERROR = "error"  # a guest-friendly error, then back to the start
    RECONNECTING = "reconnecting"  # the camera watchdog restarts the camera
    SESSION = "session"  # a strip session: its countdowns, then its frames coming back

    def __str__(self) -> str:
        return self.value


class Event(str, enum.Enum):
    SHOOT = "shoot"  # a guest asked for a photo: count down
    SHOT = "shot"  # the shutter fired
    FLASHED = "flashed"  # the flash is over
    READY = "ready"  # a job has its picture (job_id=…)
    FAILED = "failed"  # a job or a capture failed (job_id=…, kind=…)
    WAITING = "waiting"  # a job still processing was opened (job_id=…)
    DONE = "done"  # timeout, "New photo", "Try again": back to the start
    CAMERA_LOST = "camera_lost"  # the camera stopped delivering frames
    CAMERA_BACK = "camera_back"  # the camera delivers again
    SESSION = "session"  # a strip session: a new one (style=…) or one to show (session_id=…)


S, E = ScreenName, Event
# Opening a job (a tap on the recent strip, a restart) and a new shot are allowed from every
# screen a guest can act on.
_OPEN_JOB = {E.READY: S.RESULT, E.FAILED: S.ERROR, E.WAITING: S.PROCESSING}
_NEW_SHOT = {E.SHOOT: S.COUNTDOWN, E.SHOT: S.FLASH, E.SESSION: S.SESSION}

TRANSITIONS: dict[ScreenName, dict[Event, ScreenName]] = {
    S.ATTRACT: {**_NEW_SHOT, **_OPEN_JOB, E.CAMERA_LOST: S.RECONNECTING},
    S.COUNTDOWN: {E.SHOT: S.FLASH, E.CAMERA_LOST: S.RECONNECTING, E.DONE: S.ATTRACT},
    S.FLASH: {E.FLASHED: S.PROCESSING, E.FAILED: S.ERROR},
    S.PROCESSING: {**_NEW_SHOT, **_OPEN_JOB, E.DONE: S.ATTRACT},
    S.RESULT: {**_NEW_SHOT, **_OPEN_JOB, E.DONE: S.ATTRACT},
    S.ERROR: {**_NEW_SHOT, **_OPEN_JOB, E.DONE: S.ATTRACT},
    S.RECONNECTING: {E.CAMERA_BACK: S.ATTRACT, **_OPEN_JOB},
    S.SESSION: {E.READY: S.RESULT, E.FAILED: S.ERROR, E.DONE: S.ATTRACT},
}
START = S.ATTRACT
# Screens on which a new shot cannot start (the camera is busy or gone).
NO_NEW_SHOT = frozenset({S.COUNTDOWN, S.FLASH, S.RECONNECTING, S.SESSION})
# Screens with no guest's photo on them: the kiosk may exit here for systemd to restart it.
NO_GUEST = frozenset({S.ATTRACT, S.RECONNECTING})
# Screens that show the live preview (and so drop to RECONNECTING when the camera is lost).
LIVE_PREVIEW = frozenset({S.ATTRACT, S.COUNTDOWN})


class MachineScreen(Protocol):
    """What the machine needs of a screen (kiosk/ui/screens/base.py Screen has it), so this
    module needs no screen module."""

    name: ScreenName
    entered_at: float

    def enter(self, **kw: Any) -> None: ...


ScreenT = TypeVar("ScreenT", bound=MachineScreen)


class ScreenMachine(Generic[ScreenT]):
    """Holds the current screen; `fire(event)` follows the table, `go(name)` enters directly
    (used for restoring state and by tests)."""

    def __init__(self, screens: dict[ScreenName, ScreenT], now: Callable[[], float]) -> None:
        self.screens = screens
        self.now = now
        self.failures = 0
        self.screen = screens[START]
        self.screen.entered_at = now()

    @property
    def name(self) -> ScreenName:
        return self.screen.name

    def fire(self, event: Event, **kw: Any) -> bool:
        """Follow TRANSITIONS from the current screen; False when the event means nothing here."""
        target = TRANSITIONS[self.screen.name].get(event)
        if target is None:
            log.debug("event %s ignored on screen %s", event.value, self.screen.name)
            return False
        self.go(target, **kw)
        return True

    def go(self, name: ScreenName | str, **kw: Any) -> None:
        screen = self.screens[ScreenName(name)]
        try:
            screen.entered_at = self.now()
            screen.enter(**kw)
        except Exception:
            log.exception("entering screen %s failed; back to the start screen", name)
            self.failures += 1
            screen = self.screens[START]
            screen.entered_at = self.now()
        if screen is not self.screen:
            log.debug("screen %s → %s", self.screen.name, screen.name)
        self.screen = screen

    def safely(self, what: str, fn: Callable[[], None]) -> None:
        """Run a step of the current screen; a failure sends the guest to the start screen."""
        try:
            fn()
        except Exception:
            self.failures += 1
            log.exception(
                "screen %s failed in %s; back to the start screen", self.screen.name, what
            )
            if self.screen.name != START:
                self.go(START)
