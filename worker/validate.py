"""Job validation before any model call: what arrived, is it an image we can safely decode?

Why the header checks: a PNG can declare 100 megapixels in a few hundred bytes, and decoding it
would eat the Pi's memory. We read the declared size from the JPEG/PNG header first and refuse
anything over `worker.max_pixels` without decoding. A truncated JPEG decodes "fine" in OpenCV
(grey bottom half), so we also require the end-of-image marker / IEND chunk.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from booth.protocol import (JOB_ID_RE, STYLE_RE, ProtocolError, Topics, TopicKind, parse_iso,
                            sniff_image_type)

JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class BadJob(ValueError):
    """A job that can never succeed."""


@dataclass(frozen=True)
class JobHeader:
    """Who a job is for, read from its topic and MQTT 5 properties (no image work)."""

    job_id: str
    booth: str
    style: str | None
    created_at: datetime | None


@dataclass
class Decoded:
    """A payload known to decode. The full-size pixels are decoded on first use of `image`
    (a JPEG the model can take as is never needs them)."""

    data: bytes
    kind: str                  # image/jpeg or image/png
    width: int
    height: int
    _image: np.ndarray | None = None

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            img = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise BadJob(f"{self.kind} could not be decoded")
            self._image = img
        return self._image


def read_header(topics: Topics, topic: str, props: Any) -> JobHeader:
    """Job id (strict), booth (from the topic), style and created_at (lenient: defaults apply)."""
    try:
        parsed = topics.parse(topic)
    except ProtocolError as exc:
        raise BadJob(f"job on an unexpected topic: {exc}") from None
    if parsed.kind is not TopicKind.JOBS or not parsed.booth:
        raise BadJob(f"message on {topic!r} is not a job")
    user = {}
    for pair in (getattr(props, "UserProperty", None) or []) if props is not None else []:
        if isinstance(pair, (tuple, list)) and len(pair) == 2:
            user.setdefault(str(pair[0]), str(pair[1]))
    job_id = user.get("job_id")
    if job_id is None:
        raise BadJob("job has no job_id user property")
    if not JOB_ID_RE.match(job_id):
        raise BadJob(f"job id {job_id[:80]!r} is not [A-Za-z0-9_-]{{8,64}}")
    style = user.get("style")
    if style is not None and not STYLE_RE.match(style):
        style = None
    created = None
    if "created_at" in user:
        try:
            created = parse_iso(user["created_at"], "created_at")
        except ProtocolError:
            created = None
    return JobHeader(job_id, parsed.booth, style, created)


def declared_size(data: bytes, kind: str) -> tuple[int, int]:
    """(width, height) from the header, without decoding. Raises BadJob if there is none."""
    if kind == "image/png":
        if len(data) < 33 or data[12:16] != b"IHDR":
            raise BadJob("PNG has no IHDR header")
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise BadJob("JPEG header is corrupt (no marker where one must be)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        seg_len = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in JPEG_SOF:
            if i + 9 > n:
                break
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        if marker in (0xDA, 0xD9):
            break
        i += 2 + seg_len
    raise BadJob("JPEG has no frame header (truncated or not a JPEG)")


def decode_job_image(data: bytes, max_bytes: int, max_pixels: int) -> Decoded:
    """Decode a job payload into BGR pixels, refusing anything unsafe or broken."""
    if not data:
        raise BadJob("empty payload (no image)")
    if len(data) > max_bytes:
        raise BadJob(f"payload is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_image_type(data)
    if kind is None:
        raise BadJob(f"payload ({len(data)} bytes) is neither a JPEG nor a PNG")
    w, h = declared_size(data, kind)
    if w <= 0 or h <= 0:
        raise BadJob(f"image declares a size of {w}×{h}")
    if w * h > max_pixels:
        raise BadJob(f"image declares {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                     f"{max_pixels / 1e6:g}")
    if kind == "image/jpeg":
        sos = data.find(b"\xff\xda")
        if sos < 0 or data.rfind(b"\xff\xd9") < sos:
            raise BadJob("JPEG is truncated (no end-of-image marker)")
    elif data.rfind(b"IEND") < 0:
        raise BadJob("PNG is truncated (no IEND chunk)")
    if kind == "image/jpeg":
        # the whole entropy-coded stream is checked, at 1/8 scale (a quarter of the time)
        probe = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_8)
        expect = {(math.ceil(w / 8), math.ceil(h / 8)), (math.ceil(h / 8), math.ceil(w / 8))}
        if probe is None or probe.size == 0:
            raise BadJob("JPEG could not be decoded")
        if (probe.shape[1], probe.shape[0]) not in expect:
            raise BadJob("JPEG decodes to a size that differs from its header")
        return Decoded(data, kind, w, h)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise BadJob(f"{kind} could not be decoded")
    if (image.shape[1], image.shape[0]) not in ((w, h), (h, w)):  # (h, w): EXIF rotation
        raise BadJob(f"decoded size {image.shape[1]}×{image.shape[0]} differs from the header")
    return Decoded(data, kind, w, h, image)


def shrink(image: np.ndarray, long_side: int) -> np.ndarray:
    """Downsize so the long side is at most `long_side` (never upscales)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
