"""The kiosk's one image cache: every surface that is not drawn fresh each frame.

Decoded results and thumbnails, captured shots, blurred backdrops, scaled logos, rendered text,
gradients and shade layers all live in one LRU with one byte budget, so memory on a Pi is bounded
by a single number and the least recently drawn surface is the one that goes. Files are decoded on
a small pool (never on the frame loop); `collect()` moves finished decodes in once per frame.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pygame

from booth import images

log = logging.getLogger(__name__)

BUDGET_BYTES = 48_000_000  # a Pi has little RAM; a 1920×1080 surface is 8 MB
# The kiosk's budget follows its screen: a screen holds at most a photo, its backdrop, a layer
# and the strip's thumbnails, so a few screens' worth keeps every screen's pictures with room
# to go back and forth; more only holds results nobody looks at again (the soak filled 48 MB).
BUDGET_SCREENS = 5
MIN_BUDGET_BYTES = 12_000_000


def budget_for(size: tuple[int, int]) -> int:
    """The image cache's byte budget for a screen of `size` (32-bit pixels)."""
    return max(MIN_BUDGET_BYTES, BUDGET_SCREENS * size[0] * size[1] * 4)


def surface_from_rgb(rgb: np.ndarray) -> pygame.Surface:
    """A pygame Surface sharing nothing with the array (safe to keep)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return pygame.image.frombuffer(rgb.tobytes(), (w, h), "RGB")


def decode_fit(path: Path, size: tuple[int, int], reduce: int = 1) -> np.ndarray:
    """RGB pixels of a stored photo, fitted inside `size` (runs on the pool). The file went
    through the image guard when it was stored; it is guarded again here because a file on disk
    is outside input too."""
    data = images.read_file(str(path))
    bgr = images.decode(data, reduce=reduce)
    return images.fit_inside(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)


@dataclass
class _Entry:
    surface: pygame.Surface
    nbytes: int
    keep: Any = None  # the source of a derived surface, pinned so its id() stays unique


def _nbytes(surface: pygame.Surface) -> int:
    return surface.get_pitch() * surface.get_height()


class ImageStore:
    def __init__(self, budget_bytes: int = BUDGET_BYTES, workers: int = 2) -> None:
        self.budget = budget_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="images")
        self._loading: dict[Hashable, Future] = {}

    def __len__(self) -> int:
        return len(self._items)

    # ------------------------------------------------------------------ the cache
    def get(self, key: Hashable) -> pygame.Surface | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        self._items.move_to_end(key)
        return entry.surface

    def kept(self, key: Hashable) -> Any:
        """What was kept with the surface at `key` (None when there is none)."""
        entry = self._items.get(key)
        return entry.keep if entry is not None else None

    def put(self, key: Hashable, surface: pygame.Surface, keep: Any = None) -> pygame.Surface:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        entry = _Entry(surface, _nbytes(surface), keep)
        self._items[key] = entry
        self.bytes += entry.nbytes
        self._evict()
        return surface

    def derive(
        self, key: Hashable, make: Callable[[], pygame.Surface], keep: Any = None
    ) -> pygame.Surface:
        """The cached surface for `key`, made (once) by `make` when missing."""
        hit = self.get(key)
        return hit if hit is not None else self.put(key, make(), keep)

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self._items if match(k)]:
            self.bytes -= self._items.pop(key).nbytes

    def _evict(self) -> None:
        while self.bytes > self.budget and len(self._items) > 1:
            _key, entry = self._items.popitem(last=False)
            self.bytes -= entry.nbytes

    # ------------------------------------------------------------------ files, off the loop
    def load(
        self, key: Hashable, path: Path | None, size: tuple[int, int], reduce: int = 1
    ) -> pygame.Surface | None:
        """The decoded photo, or None while it is being decoded (or when there is no file)."""
        hit = self.get(key)
        if hit is not None or path is None:
            return hit
        if key not in self._loading:
            self._loading[key] = self._pool.submit(decode_fit, path, size, reduce)
        return None

    def collect(self) -> None:
        """Move finished decodes into the cache (on the frame loop: surfaces are made here)."""
        for key, fut in list(self._loading.items()):
            if not fut.done():
                continue
            del self._loading[key]
            try:
                self.put(key, surface_from_rgb(fut.result()))
            except Exception as exc:  # a deleted or broken file: the screen shows its fallback
                log.warning("image %s could not be loaded: %s", key, exc)

    # ------------------------------------------------------------------ derived surfaces
    def scaled(
        self, img: pygame.Surface, size: tuple[int, int], smooth: bool = True
    ) -> pygame.Surface:
        """`img` scaled to `size`, made once (a smoothscale of a full-screen photo every frame
        costs the frame loop and holds the GIL the other threads need)."""
        if img.get_size() == tuple(size):
            return img
        scale = pygame.transform.smoothscale if smooth else pygame.transform.scale
        return self.derive(
            ("scaled", id(img), tuple(size), smooth), lambda: scale(img, size), keep=img
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
