"""Turning a shot into a stored job: the framing the guest saw (`crop_to_aspect`), the two JPEG
encodes, the files and the `pending` ledger row (files first: a row never names a missing photo;
on failure no orphan file stays). Publishing is kiosk/jobs/controller.py's.

Shots are BGR (OpenCV's order, what the cameras deliver and the encoders take): no colour
conversion and no copy of the 12 MP pixels here. The AI copy is scaled once, from the shot, and
the screen's copy of the shot is made from the AI copy's pixels, not from the 12 MP again."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from booth.clock import BootStamp, Clock, stamp
from booth.config import Config
from booth.fsutil import atomic_write
from booth.images import encode_jpeg
from booth.protocol import utc_now_iso
from jobstore.ledger import Ledger, photo_dir
from jobstore.names import ai_name, original_name

log = logging.getLogger(__name__)

CRASH_ENV = "BOOTH_KIOSK_CRASH_AT"  # tests: SIGKILL ourselves at a named point (kill tests)


@dataclass(frozen=True)
class AiCopy:
    """The copy sent to the model: its JPEG and its pixels (BGR, long side ≤ kiosk.ai_long_side),
    from which the screen's copy of the shot is made."""

    jpeg: bytes
    pixels: np.ndarray


Encodes = tuple["Future[bytes] | None", "Future[AiCopy]"]  # (the original unless given; AI)


def fit_within(bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`bgr` scaled down to fit inside `size` (w, h), aspect kept (never enlarged): halved with
    pyrDown (a Gaussian, so no aliasing) while still twice too big, then one linear step of
    less than 2× (12 MP → 1536 px: a pyrDown and a 1.3× step; an area resize of the rest cost
    as much again)."""
    h, w = bgr.shape[:2]
    scale = min(size[0] / w, size[1] / h)
    if scale >= 1:
        return bgr
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    while bgr.shape[1] >= 2 * target[0] and bgr.shape[0] >= 2 * target[1]:
        bgr = cv2.pyrDown(bgr)
    if (bgr.shape[1], bgr.shape[0]) == target:
        return bgr
    return cv2.resize(bgr, target, interpolation=cv2.INTER_LINEAR)


def ai_copy(bgr: np.ndarray, long_side: int, quality: int) -> AiCopy:
    """Scale the shot once to the model's size and encode it (runs on the encode pool)."""
    pixels = fit_within(bgr, (long_side, long_side))
    return AiCopy(encode_jpeg(pixels, quality), pixels)


def crop_to_aspect(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The largest centred part of `image` with the aspect ratio of `size` (w, h); no scaling,
    so the shot keeps its full resolution. A view, not a copy. (The camera crops its preview by
    the same rule, kiosk/camera/base.py `cover_crop`; the import rules keep the two sides
    apart, tests/kiosk/test_preview_path.py holds them equal.)"""
    h, w = image.shape[:2]
    tw, th = size
    if tw <= 0 or th <= 0:
        return image
    if w * th > h * tw:  # too wide
        nw = max(1, round(h * tw / th))
        x = (w - nw) // 2
        return image[:, x : x + nw]
    nh = max(1, round(w * th / tw))
    y = (h - nh) // 2
    return image[y : y + nh, :]


def release_heap() -> None:
    """Give back to the system the pages a shot's big buffers left free inside the heap.

    glibc returns a freed block to the system only from the top of its heap (or when the block
    was mmap'd, above a threshold that rises to 32 MB as big blocks come and go); the 12 MP
    shot's scaled copies and encode buffers otherwise stay in the kiosk's RSS, shot after shot.
    Called on the capture thread once a shot is stored; a no-op off glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        log.warning("crash point %s: killing this process (test hook)", name)
        os.kill(os.getpid(), signal.SIGKILL)


class ShotWriter:
    """Encodes and stores shots; the encodes run in a small pool (OpenCV frees the GIL)."""

    def __init__(self, cfg: Config, ledger: Ledger, booth_clock: Clock) -> None:
        self.cfg = cfg
        self.data_dir = cfg.data_path
        self.ledger = ledger
        self.booth_clock = booth_clock
        self._encode = ThreadPoolExecutor(2, thread_name_prefix="encode")

    def start_encodes(self, bgr: np.ndarray, original: bytes | None) -> Encodes:
        """Encode the full-resolution original (unless the given JPEG is kept as it is) and
        the AI copy in parallel, the AI copy first (it is what the guest waits for)."""
        k = self.cfg.kiosk
        f_ai = self._encode.submit(ai_copy, bgr, k.ai_long_side, k.jpeg_quality)
        f_orig = (
            None if original is not None else self._encode.submit(encode_jpeg, bgr, k.jpeg_quality)
        )
        return f_orig, f_ai

    def write(
        self,
        job_id: str,
        booth_id: str,
        style: str,
        created: float,
        bgr: np.ndarray,
        original: bytes | None = None,
        encodes: Encodes | None = None,
        when: BootStamp | None = None,
    ) -> tuple[str, bytes]:
        """Store the shot; returns (its creation time as ISO text, the AI copy's bytes). Any
        failure (a full disk, an encoder error) is raised after its files are removed."""
        when = when or stamp(self.booth_clock)
        folder = photo_dir(self.data_dir, created)
        orig_path = folder / original_name(job_id)
        ai_path = folder / ai_name(job_id)
        try:
            f_orig, f_ai = encodes or self.start_encodes(bgr, original)
            if original is not None:
                orig_bytes = original
            else:
                assert f_orig is not None  # the original is encoded when none is given
                orig_bytes = f_orig.result()
            ai_bytes = f_ai.result().jpeg
            atomic_write(orig_path, orig_bytes)
            atomic_write(ai_path, ai_bytes)
            iso = utc_now_iso()
            self.ledger.insert_pending(
                job_id,
                booth_id,
                style,
                created,
                iso,
                str(orig_path.relative_to(self.data_dir)),
                str(ai_path.relative_to(self.data_dir)),
                stamp=when,
            )
        except BaseException:
            for path in (orig_path, ai_path):  # no orphan photo without its ledger row
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            raise
        return iso, ai_bytes

    def shutdown(self) -> None:
        self._encode.shutdown(wait=True)
