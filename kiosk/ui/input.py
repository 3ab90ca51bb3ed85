"""Input: touch, mouse, keys and a GPIO arcade button, mapped to a few kiosk actions.

SDL sends a touch twice (FINGERDOWN, then an emulated MOUSEBUTTONDOWN with `touch=True`); we
act on the finger and drop the emulated click, so one tap fires once. The GPIO button (gpiozero,
on its own thread) posts a pygame event, which is thread-safe, so the frame loop handles every
input the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pygame

log = logging.getLogger(__name__)

SHUTTER_EVENT = pygame.USEREVENT + 7  # posted by the GPIO button (and tools)

TAP = "tap"
SHOOT = "shoot"
QUIT = "quit"
HOLD = "hold"  # a press held LONG_PRESS_S in one place (the operator mark's long press)
OPERATOR = "operator"  # F1: show or hide the reasons behind the operator mark
LONG_PRESS_S = 1.5


@dataclass(frozen=True)
class Action:
    kind: str
    pos: tuple[int, int] = (0, 0)
    source: str = ""


class InputMapper:
    """pygame events → Actions. Keeps the screen size to turn finger coordinates into pixels."""

    def __init__(
        self,
        size: tuple[int, int],
        clock: Callable[[], float] = time.monotonic,
        echo_window_s: float = 0.6,
    ) -> None:
        self.size = size
        self.clock = clock
        self.echo_window_s = echo_window_s
        self._last_finger: tuple[float, tuple[int, int]] | None = None
        self._press: tuple[float, tuple[int, int]] | None = None  # a finger or button held down
        self._press_reported = False

    def map(self, event: Any) -> Action | None:
        t = event.type
        if t == pygame.FINGERDOWN:
            pos = (int(event.x * self.size[0]), int(event.y * self.size[1]))
            self._last_finger = (self.clock(), pos)
            self._pressed(pos)
            return Action(TAP, pos, "touch")
        if t == pygame.MOUSEBUTTONDOWN:
            if getattr(event, "touch", False) or event.button != 1:
                return None  # SDL's emulated click for a touch we already handled
            if self._last_finger is not None:
                at, fpos = self._last_finger
                near = abs(fpos[0] - event.pos[0]) < 40 and abs(fpos[1] - event.pos[1]) < 40
                if self.clock() - at < self.echo_window_s and near:
                    return None  # a driver that echoes touches without the touch flag
            self._pressed(tuple(event.pos))
            return Action(TAP, tuple(event.pos), "mouse")
        if t in (pygame.FINGERUP, pygame.MOUSEBUTTONUP):
            self._press = None
            return None
        if t == pygame.FINGERMOTION and self._press is not None:
            pos = (int(event.x * self.size[0]), int(event.y * self.size[1]))
            if abs(pos[0] - self._press[1][0]) > 40 or abs(pos[1] - self._press[1][1]) > 40:
                self._press = None  # a swipe, not a press
            return None
        if t == pygame.KEYDOWN and event.key == pygame.K_F1:
            return Action(OPERATOR, source="key")
        if t == pygame.KEYDOWN:
            if event.key in (pygame.K_SPACE, pygame.K_RETURN, pygame.K_KP_ENTER):
                return Action(SHOOT, source="key")
            if event.key == pygame.K_ESCAPE:
                return Action(QUIT, source="key")
            return None
        if t == SHUTTER_EVENT:
            return Action(SHOOT, source=getattr(event, "source", "gpio"))
        if t == pygame.QUIT:
            return Action(QUIT, source="window")
        return None

    def _pressed(self, pos: tuple[int, int]) -> None:
        self._press = (self.clock(), pos)
        self._press_reported = False

    def held(self, hold_s: float = LONG_PRESS_S) -> Action | None:
        """A HOLD once a press has lasted `hold_s` (asked every frame, while still pressed:
        the long press answers without waiting for the finger to lift)."""
        if self._press is None or self._press_reported:
            return None
        at, pos = self._press
        if self.clock() - at < hold_s:
            return None
        self._press_reported = True
        return Action(HOLD, pos, "press")


class GpioButton:
    """An arcade button on a BCM pin (to ground, internal pull-up) that posts SHUTTER_EVENT."""

    def __init__(self, pin: int, bounce_s: float = 0.05) -> None:
        from gpiozero import Button  # imported lazily: only on a Pi (or with a mock pin factory)

        self.button = Button(pin, pull_up=True, bounce_time=bounce_s)
        self.button.when_pressed = self._pressed

    def _pressed(self) -> None:
        try:
            pygame.event.post(pygame.event.Event(SHUTTER_EVENT, source="gpio"))
        except pygame.error as exc:  # the display went away during shutdown
            log.debug("gpio press not posted: %s", exc)

    def close(self) -> None:
        self.button.close()


def open_gpio_button(pin: int) -> GpioButton | None:
    """The configured button, or None (logged) when GPIO is unavailable on this machine."""
    if not pin:
        return None
    try:
        return GpioButton(pin)
    except Exception as exc:
        log.warning("GPIO button on BCM %d unavailable: %s", pin, exc)
        return None
