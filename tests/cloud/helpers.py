"""Small helpers of the cloud tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from booth.config import Config
from jobstore.clips import Clips
from jobstore.ledger import ledger_path
from jobstore.names import clip_path
from jobstore.uploads import CLIP_SUFFIX
from tests.share.helpers import Job


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


def made_clip(cfg: Config, job: Job, data: bytes, *, took_s: float = 1.0) -> Path:
    """What the clip maker (share/clipmaker.py) records once a result's reveal clip is made:
    the file next to the result (jobstore/names.py clip_path) and a `made` row. The bytes need
    not be a real MP4: the cloud copy must be them, byte for byte."""
    assert job.result is not None
    rel = clip_path(str(job.result.relative_to(cfg.data_dir)))
    path = Path(cfg.data_dir) / rel
    clips = Clips(ledger_path(cfg.data_dir))
    try:
        clips.start(job.job_id, time.time())
        path.write_bytes(data)
        clips.made(job.job_id, rel, (1080, 1920), 108, 30, len(data), took_s, time.time())
    finally:
        clips.close()
    return path


def failed_clip(cfg: Config, job: Job, why: str = "the encoder gave up") -> None:
    """What the clip maker records for a result it could not make a clip of."""
    clips = Clips(ledger_path(cfg.data_dir))
    try:
        clips.start(job.job_id, time.time())
        clips.failed(job.job_id, why, 0.5, time.time())
    finally:
        clips.close()


def clip_bytes(size: int, seed: int = 11) -> bytes:
    """An MP4-looking blob of `size` bytes (random: its size is the bytes sent)."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + np.random.default_rng(seed).bytes(max(0, size - len(head)))


def without_clips(objects: Iterable[str], page_keys: Iterable[str]) -> list[str]:
    """The bucket's keys without the reveal clips, sorted. A real `booth share` runs its clip
    maker, so a clip may follow a photo while a test runs: it must be one of these pages' own
    (`page key + .mp4`), and the rest is checked as before."""
    keys = sorted(objects)
    clips = {k for k in keys if k.endswith(CLIP_SUFFIX)}
    assert clips <= {p + CLIP_SUFFIX for p in page_keys}, clips
    return [k for k in keys if k not in clips]
