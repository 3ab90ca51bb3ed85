"""Small helpers of the cloud tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np


def noise_jpeg(path: Path, size: int) -> Path:
    """A JPEG of at least `size` bytes (noise compresses badly: its size is the bytes sent)."""
    rng = np.random.default_rng(7)
    side = 64
    while True:
        img = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
        data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
        if len(data) >= size:
            path.write_bytes(data)
            return path
        side += 16


def wait_for(predicate: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
