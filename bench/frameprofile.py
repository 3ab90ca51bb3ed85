"""Where a frame's CPU time goes: the CPU time of each part of the frame loop, and of each thread.

On the frame loop (the main thread) the functions that make a frame are wrapped with a
stopwatch of this thread's CPU time (`time.thread_time`), each part counting only its own time
(a part inside another is taken out of it); the camera's and the other threads' CPU comes from
the kernel's per-thread counters. CPU time, not wall time: a busy machine slows a part down but
does not make it look bigger. Parts that a kiosk version lacks are skipped, so the same table
is made before and after a change.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psutil

# (module path, attribute, part) for the frame loop; the first is the whole frame
PARTS = (
    ("kiosk.ui.app:KioskApp", "step", "loop: events, jobs, status, pacing"),
    ("kiosk.ui.preview:Preview", "update", "camera frame → surface (convert, scale, mirror)"),
    ("kiosk.ui.pictures:Pictures", "draw_preview", "preview blit"),
    ("kiosk.ui.screens.attract:AttractScreen", "draw", "other drawing"),
    ("kiosk.ui.screens.countdown:CountdownScreen", "draw", "other drawing"),
    ("kiosk.ui.draw", "gradient", "gradients and shades"),
    ("kiosk.ui.draw", "shade", "gradients and shades"),
    ("kiosk.ui.draw", "blit_layer", "cached layers: blit"),
    ("kiosk.ui.draw", "layer", "cached layers: paint when changed"),
    ("kiosk.ui.draw", "text", "text: fit, render, blit"),
    ("kiosk.ui.draw", "paragraph", "text: fit, render, blit"),
    ("kiosk.ui.draw", "fit_lines", "text: fit, render, blit"),
    ("kiosk.ui.draw", "fit_size", "text: fit, render, blit"),
    ("kiosk.ui.screens.base", "header", "text: fit, render, blit"),
    ("kiosk.ui.screens.base:RecentStrip", "draw", "recent strip"),
    ("kiosk.ui.screens.base:RecentStrip", "cells", "recent strip"),
    ("kiosk.ui.screens.base:RecentStrip", "animate", "recent strip"),
    ("kiosk.ui.draw", "button", "buttons and glow"),
    ("kiosk.ui.screens.operator_mark", "overlay", "operator mark"),
    ("pygame.display", "flip", "display flip"),
)


class FrameProfile:
    """Wrap the frame's parts; `start()` and `stop()` around the frames to measure."""

    def __init__(self) -> None:
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self._stack: list[float] = []
        self._main = threading.main_thread()
        self._undo: list[tuple[Any, str, Any]] = []
        self._on = False
        self._threads0: dict[int, float] = {}
        self.threads: defaultdict[str, float] = defaultdict(float)
        self.frames = 0
        self._frame: defaultdict[str, float] = defaultdict(float)  # this frame's parts
        self.worst: dict[str, float] = {}  # the parts of the frame that cost the most
        for where, attr, part in PARTS:
            self._wrap(where, attr, part)

    def _wrap(self, where: str, attr: str, part: str) -> None:
        import importlib

        module, _, cls = where.partition(":")
        try:
            owner: Any = importlib.import_module(module)
            if cls:
                owner = getattr(owner, cls)
            fn: Callable[..., Any] = getattr(owner, attr)
        except (ImportError, AttributeError):
            return  # not in this version of the kiosk

        def timed(*a: Any, **kw: Any) -> Any:
            if not self._on or threading.current_thread() is not self._main:
                return fn(*a, **kw)
            t0 = time.thread_time()
            self._stack.append(0.0)
            try:
                return fn(*a, **kw)
            finally:
                spent = time.thread_time() - t0
                inner = self._stack.pop()
                self.cpu[part] += spent - inner
                self._frame[part] += spent - inner
                if self._stack:
                    self._stack[-1] += spent
                elif attr == "step":
                    self.frames += 1
                    if sum(self._frame.values()) > sum(self.worst.values()):
                        self.worst = self._frame
                    self._frame = defaultdict(float)

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, fn))

    def _thread_cpu(self) -> dict[int, float]:
        return {t.id: t.user_time + t.system_time for t in psutil.Process().threads()}

    def start(self) -> None:
        self.cpu.clear()
        self.frames = 0
        self._frame, self.worst = defaultdict(float), {}
        self._threads0 = self._thread_cpu()
        self._on = True

    def stop(self) -> None:
        self._on = False
        names = {t.native_id: t.name for t in threading.enumerate()}
        for tid, cpu in self._thread_cpu().items():
            name = names.get(tid, "")
            if name == "MainThread":
                continue
            spent = cpu - self._threads0.get(tid, 0.0)
            if name.startswith("cam-"):
                self.threads["camera thread (grab, copy, convert)"] += spent
            else:
                self.threads["other threads (MQTT, store, health, images)"] += spent

    def table(self) -> list[str]:
        """Markdown rows: CPU per frame of each part, and its share."""
        parts = {**self.cpu, **self.threads}
        total = sum(parts.values()) or 1e-9
        n = max(1, self.frames)
        rows = ["| part of the frame | CPU per frame | share |", "|---|---|---|"]
        for part, spent in sorted(parts.items(), key=lambda kv: -kv[1]):
            rows.append(f"| {part} | {spent / n * 1000:.2f} ms | {100 * spent / total:.0f} % |")
        rows.append(f"| total ({n} frames) | {total / n * 1000:.2f} ms | 100 % |")
        return rows

    def worst_frame(self) -> str:
        """The frame loop's costliest frame, part by part."""
        top = sorted(self.worst.items(), key=lambda kv: -kv[1])[:4]
        parts = ", ".join(f"{p} {t * 1000:.1f} ms" for p, t in top)
        return f"{sum(self.worst.values()) * 1000:.1f} ms: {parts}"
