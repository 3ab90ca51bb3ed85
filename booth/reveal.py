"""The drip reveal's shape and timing: the guest's shot turning into the dripped picture.

Why in the contract package: the kiosk animates it on the result screen (kiosk/ui/reveal.py)
and the share process encodes it into the clip guests download (share/clips.py); both must show
the same reveal, and they may not import each other. Pure arithmetic, no image library.

The reveal is a wipe from the top whose front is a row of paint drips: the dripped picture runs
down over the shot, a few long drips ahead of the rest, with a gold rim on the front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (centre across the picture, half width, length) of each drip, as fractions: fixed, so every
# clip and every screen shows the same drips (and tests can count on them)
DRIPS: tuple[tuple[float, float, float], ...] = (
    (0.07, 0.035, 0.55),
    (0.21, 0.05, 1.0),
    (0.34, 0.03, 0.4),
    (0.49, 0.045, 0.8),
    (0.63, 0.03, 0.5),
    (0.77, 0.055, 0.95),
    (0.92, 0.035, 0.6),
)
DRIP_DEPTH = 0.22  # how far the longest drip runs ahead of the front (fraction of the height)
WAVE = 0.08  # the front's own ripple between the drips, as a fraction of DRIP_DEPTH
RIM = 0.012  # the gold rim's thickness: a fraction of the height on screen, half that in a clip
GOLD = (255, 200, 60)  # the rim (the screens' gold, kiosk/ui/theme.py, a touch warmer)


def ease(t: float) -> float:
    """Smooth start and stop (cubic), t clamped to 0..1."""
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


def drip_profile(x: float) -> float:
    """How far ahead of the front the paint has run at `x` (0..1 across), 0..1."""
    best = WAVE * (0.5 + 0.5 * math.sin(x * math.tau * 5.0 + 0.7))
    for centre, half, length in DRIPS:
        d = abs(x - centre) / half
        if d < 1.0:
            best = max(best, length * math.sqrt(1.0 - d * d))  # a drip with a round tip
    return best


def front(x: float, progress: float) -> float:
    """The wipe front at `x` as a fraction of the height (the dripped picture is above it).

    At progress 0 it is above the picture everywhere, at 1 below it everywhere."""
    p = ease(progress)
    return (1.0 + DRIP_DEPTH) * p - DRIP_DEPTH + DRIP_DEPTH * drip_profile(x)


def fronts(columns: int, progress: float) -> list[float]:
    """`front` at the centre of each of `columns` equal columns."""
    return [front((i + 0.5) / columns, progress) for i in range(columns)]


@dataclass(frozen=True)
class Timeline:
    """When each part of a reveal happens, in seconds from its start."""

    hold_shot_s: float  # the shot alone
    wipe_s: float  # the drip wipe
    hold_result_s: float  # the dripped picture alone
    back_s: float  # a clip only: the dissolve back to the shot, so the loop joins up

    @property
    def total_s(self) -> float:
        return self.hold_shot_s + self.wipe_s + self.hold_result_s + self.back_s

    def at(self, t: float) -> tuple[float, float]:
        """(wipe progress 0..1, dissolve back to the shot 0..1) at time `t`."""
        t -= self.hold_shot_s
        if t <= 0:
            return 0.0, 0.0
        if t < self.wipe_s:
            return t / self.wipe_s, 0.0
        t -= self.wipe_s + self.hold_result_s
        if t <= 0 or self.back_s <= 0:
            return 1.0, 0.0
        return 1.0, ease(t / self.back_s)

    def done(self, t: float) -> bool:
        return t >= self.total_s


@dataclass(frozen=True)
class Staggered:
    """A strip session's clip: its frames wiped one after another, each `step_s` after the one
    before it, each in `wipe_s`; then all of them held and the dissolve back, like `Timeline`."""

    frames: int
    hold_shot_s: float = 0.5
    wipe_s: float = 1.0
    step_s: float = 0.6
    hold_result_s: float = 1.3
    back_s: float = 0.5

    @property
    def total_s(self) -> float:
        return self.hold_shot_s + self._wipes_s + self.hold_result_s + self.back_s

    @property
    def _wipes_s(self) -> float:
        return (self.frames - 1) * self.step_s + self.wipe_s

    def wipe(self, i: int, t: float) -> float:
        """Wipe progress 0..1 of frame `i` (from 0) at time `t`."""
        start = self.hold_shot_s + i * self.step_s
        return min(1.0, max(0.0, (t - start) / self.wipe_s))

    def back(self, t: float) -> float:
        """The dissolve back to the shots, 0..1, at time `t`."""
        t -= self.hold_shot_s + self._wipes_s + self.hold_result_s
        return ease(t / self.back_s) if t > 0 and self.back_s > 0 else 0.0


# The result screen: the wow moment, then the still stays (about 1.6 s).
SCREEN = Timeline(hold_shot_s=0.35, wipe_s=1.25, hold_result_s=0.0, back_s=0.0)
# The clip: 3.6 s that loop (the last frames dissolve back into the first).
CLIP = Timeline(hold_shot_s=0.5, wipe_s=1.3, hold_result_s=1.3, back_s=0.5)
