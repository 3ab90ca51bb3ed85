"""Image helpers every side uses: what a payload is, whether it is safe to decode, and the few
resize/encode steps the kiosk and the worker both need.

Why a guard before every decode: a few bytes can make OpenCV take more memory than a Pi has. A PNG
can declare 400 megapixels in a few hundred bytes; a 45-byte PNG whose chunk length says 2 GB
made OpenCV allocate the 2 GB; an 858-byte JPEG declaring 40 megapixels gets the whole output
buffer; a progressive JPEG keeps every coefficient of the picture whatever the output scale. So
`inspect()` walks the file's structure (every PNG chunk with its CRC, every JPEG segment up to
the first scan) and reads what the decoder will need from it, refusing anything malformed or
over the limits *before* any pixel is decoded; `decode()` then decodes only within the process's
memory budget (DECODE_BUDGET, the reasoning in docs/security.md). A truncated JPEG decodes "fine"
in OpenCV (grey bottom half), so the end-of-image marker / IEND chunk is required too.
"""

from __future__ import annotations

import math
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from booth.limits import MAX_BYTES, MAX_PIXELS

JPEG = "image/jpeg"
PNG = "image/png"
IMAGE_TYPES = (JPEG, PNG)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# The frame types accepted: baseline, extended sequential and progressive, Huffman-coded, 8-bit.
# What cameras, phones and image models write; the others (lossless, hierarchical, arithmetic)
# only widen what the decoder can be made to do.
JPEG_ACCEPTED_SOF = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive"}
# Markers that may stand before the first scan besides a frame header: tables (DHT, DQT, DRI),
# APPn, COM. Anything else there is refused.
_JPEG_TABLES = {0xC4, 0xDB, 0xDD}
_JPEG_META = set(range(0xE0, 0xF0)) | {0xFE}

# Limits for images from outside: booth/limits.py (MAX_BYTES, MAX_PIXELS, RESULT_MAX_PIXELS).
# Structure limits: far above what any camera, phone or encoder writes (a phone JPEG has about
# 15 segments, a 40 MB PNG of 8 KB chunks 5000 chunks, a progressive JPEG about 10 scans), low
# enough that walking or decoding a crafted file stays quick.
MAX_PNG_CHUNKS = 65_536
MAX_JPEG_SEGMENTS = 4_096
MAX_JPEG_SCANS = 100

MiB = 1 << 20
# Decoder memory one process may use at once, all its threads together (docs/security.md has the
# per-process budget this is part of). 48 MiB decodes a 12 MP camera or phone JPEG at half size,
# an 8 MP PNG or progressive 4:4:4 JPEG whole; a bigger baseline JPEG decodes at a smaller scale,
# a bigger PNG or progressive JPEG is refused.
DECODE_BUDGET = 48 * MiB
# What OpenCV's decoders were measured to need (opencv-python-headless 4.14, numpy 2; the
# figures in tests/foundation/test_image_guard_properties.py): the BGR output twice over, or for a
# buffered JPEG once plus every coefficient of the picture (2 bytes each, 64 per 8×8 block)
# whatever the output scale; the largest PNG chunk or all JPEG metadata (copied whole), row
# buffers, and a little for tables.
OUTPUT_COPIES = 2
BUFFERED_OUTPUT_COPIES = 1
COEFFICIENT_BLOCK_BYTES = 64 * 2
DECODER_SLACK = 2 * MiB


class BadImage(ValueError):
    """Bytes that are not an image we accept; the text says why (for logs, not for guests)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, checked against the limits; no pixels decoded yet.

    `sampling` holds each JPEG component's (horizontal, vertical) sampling factors; `buffered` is
    true for a JPEG whose decoder must keep every coefficient of the picture (progressive, or
    a sequential file whose first scan lacks a component); `held_bytes` is what the decoder
    keeps besides the output (the largest PNG chunk or all JPEG metadata, and its row buffers)."""

    kind: str  # image/jpeg or image/png
    width: int
    height: int
    sampling: tuple[tuple[int, int], ...] = ()
    buffered: bool = False
    held_bytes: int = 0

    @property
    def extension(self) -> str:
        return ".png" if self.kind == PNG else ".jpg"


def sniff_image_type(data: bytes) -> str | None:
    """The content type of a payload from its magic bytes (JPEG/PNG), else None."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == PNG_SIGNATURE:
        return PNG
    return None


# PNG colour type → the bit depths it allows (PNG specification, IHDR)
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Chunks of animated PNG: OpenCV's APNG path composes frames in buffers of its own; a booth picture
# is never animated.
_APNG_CHUNKS = (b"acTL", b"fcTL", b"fdAT")


def _png_structure(data: bytes) -> ImageInfo:
    """Every chunk of a PNG checked (length within the file, CRC, order) up to IEND."""
    n = len(data)
    view = memoryview(data)
    i = len(PNG_SIGNATURE)
    width = height = depth = 0
    colour = -1
    chunks = largest = 0
    palette = idat = idat_ended = False
    while True:
        if i + 12 > n:
            raise BadImage("PNG is truncated (no IEND chunk)")
        length, ctype = struct.unpack(">I4s", view[i : i + 8])
        left = n - i - 12
        if length > left:
            raise BadImage(f"PNG chunk {ctype!r} declares {length} bytes; the file has {left} left")
        if not ctype.isalpha():  # bytes.isalpha: ASCII letters only
            raise BadImage(f"PNG chunk type {ctype!r} is not four letters")
        body = view[i + 8 : i + 8 + length]
        (crc,) = struct.unpack(">I", view[i + 8 + length : i + 12 + length])
        if zlib.crc32(body, zlib.crc32(ctype)) != crc:
            raise BadImage(f"PNG chunk {ctype!r} fails its CRC (damaged)")
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise BadImage(f"PNG has more than {MAX_PNG_CHUNKS} chunks")
        largest = max(largest, length)
        if chunks == 1:
            if ctype != b"IHDR" or length != 13:
                raise BadImage("PNG has no IHDR header")
            width, height, depth, colour, method, filt, interlace = struct.unpack(">IIBBBBB", body)
            if depth not in _PNG_DEPTHS.get(colour, ()):
                raise BadImage(f"PNG colour type {colour} with bit depth {depth} is not valid")
            if method or filt or interlace > 1:
                raise BadImage("PNG header names a compression, filter or interlace it lacks")
        elif ctype == b"IHDR":
            raise BadImage("PNG has a second IHDR")
        elif ctype == b"IEND":
            break
        elif ctype == b"IDAT":
            if idat_ended:
                raise BadImage("PNG image data (IDAT) is split by other chunks")
            idat = True
        elif ctype in _APNG_CHUNKS:
            raise BadImage("animated PNG (not a photo)")
        elif ctype == b"PLTE":
            palette = True
        elif ctype[0:1].isupper():
            raise BadImage(f"PNG has an unknown critical chunk {ctype!r}")
        if idat and ctype != b"IDAT":
            idat_ended = True
        i += 12 + length
    if not idat:
        raise BadImage("PNG has no image data (IDAT)")
    if colour == 3 and not palette:
        raise BadImage("PNG with a palette colour type has no palette (PLTE)")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    row = math.ceil(width * channels * depth / 8) + 1  # libpng's row and previous row
    return ImageInfo(PNG, width, height, held_bytes=largest + 2 * row)


def _jpeg_structure(data: bytes) -> ImageInfo:
    """Every JPEG segment up to the first scan checked (lengths within the file, one frame
    header of an accepted type with sane sampling), the scans counted, the end marker found."""
    n = len(data)
    i = 2
    segments = held = 0
    frame: tuple[int, int, tuple[tuple[int, int], ...], bool] | None = None
    while True:
        if i >= n or data[i] != 0xFF:
            raise BadImage("JPEG header is corrupt (no marker where one must be)")
        while i < n and data[i] == 0xFF:  # a marker, after any fill bytes
            i += 1
        if i + 3 > n:
            break  # truncated: said below
        marker = data[i]
        i += 1
        if marker == 0x00:  # a stuffed zero belongs in coded data, never between segments
            raise BadImage("JPEG header is corrupt (no marker where one must be)")
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone, no length
            continue
        (seg_len,) = struct.unpack(">H", data[i : i + 2])
        if seg_len < 2 or i + seg_len > n:
            raise BadImage(f"JPEG segment 0x{marker:02X} runs past the end of the file")
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise BadImage(f"JPEG has more than {MAX_JPEG_SEGMENTS} segments before its image")
        body = data[i + 2 : i + seg_len]
        if marker in JPEG_SOF:
            if frame is not None:
                raise BadImage("JPEG has two frame headers")
            frame = _jpeg_frame(marker, body)
        elif marker == 0xDA:
            if frame is None:
                break
            h, w, sampling, progressive = frame
            in_first_scan = body[0] if body else 0
            scans = data.count(b"\xff\xda", i - 2)  # 0xFF 0xDA is never inside coded data
            if scans > MAX_JPEG_SCANS:
                raise BadImage(f"JPEG has {scans} scans; the limit is {MAX_JPEG_SCANS}")
            if data.rfind(b"\xff\xd9") < i:
                raise BadImage("JPEG is truncated (no end-of-image marker)")
            buffered = progressive or in_first_scan < len(sampling)
            rows = w * 3 * 16 * max(v for _, v in sampling)  # a row of MCUs, before and after
            return ImageInfo(JPEG, w, h, sampling, buffered, held + rows)
        elif marker in _JPEG_META:
            held += seg_len
        elif marker not in _JPEG_TABLES:
            raise BadImage(f"JPEG marker 0x{marker:02X} is not expected before the image")
        i += seg_len
    if frame is None:
        raise BadImage("JPEG has no frame header (truncated or not a JPEG)")
    raise BadImage("JPEG is truncated (no image data)")


def _jpeg_frame(marker: int, body: bytes) -> tuple[int, int, tuple[tuple[int, int], ...], bool]:
    """(height, width, sampling factors, progressive) of a frame header, or BadImage."""
    if marker not in JPEG_ACCEPTED_SOF:
        raise BadImage(
            f"JPEG frame type 0x{marker:02X} is not accepted (only baseline, extended and "
            "progressive Huffman-coded JPEGs)"
        )
    if len(body) < 6:
        raise BadImage("JPEG frame header is too short")
    precision, h, w, count = struct.unpack(">BHHB", body[:6])
    if precision != 8:
        raise BadImage(f"JPEG has {precision}-bit samples; only 8-bit ones are accepted")
    if count not in (1, 3) or len(body) != 6 + 3 * count:
        raise BadImage(f"JPEG has {count} colour components; 1 (grey) or 3 are accepted")
    sampling = tuple((body[7 + 3 * c] >> 4, body[7 + 3 * c] & 15) for c in range(count))
    if any(not (1 <= f <= 4) for pair in sampling for f in pair):
        raise BadImage(f"JPEG sampling factors {sampling} are out of range (1 to 4)")
    return h, w, sampling, marker == 0xC2


def declared_size(data: bytes, kind: str) -> tuple[int, int]:
    """(width, height) from the header, without decoding. Raises BadImage if the file's
    structure is broken (see inspect)."""
    info = _png_structure(data) if kind == PNG else _jpeg_structure(data)
    return info.width, info.height


def inspect(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Type, declared size and decoder needs of `data`, refused (BadImage) when over a limit,
    truncated or malformed."""
    if not data:
        raise BadImage("empty payload (no image)")
    if len(data) > max_bytes:
        raise BadImage(f"payload is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_image_type(data)
    if kind is None:
        raise BadImage(f"payload ({len(data)} bytes) is neither a JPEG nor a PNG")
    info = _png_structure(data) if kind == PNG else _jpeg_structure(data)
    w, h = info.width, info.height
    if w <= 0 or h <= 0:
        raise BadImage(f"image declares a size of {w}×{h}")
    if w * h > max_pixels:
        raise BadImage(
            f"image declares {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
            f"{max_pixels / 1e6:g}"
        )
    return info


# ---------------------------------------------------------------------------- the budget
def decoder_bytes(info: ImageInfo, reduce: int = 1) -> int:
    """The most memory OpenCV needs to decode `info` at 1/`reduce` of its size (PNGs always
    decode whole), from the measured figures above DECODE_BUDGET."""
    scale = reduce if info.kind == JPEG else 1
    output = math.ceil(info.width / scale) * math.ceil(info.height / scale) * 3
    copies = BUFFERED_OUTPUT_COPIES if info.buffered else OUTPUT_COPIES
    need = copies * output + info.held_bytes + DECODER_SLACK
    if info.buffered:
        hmax = max(h for h, _ in info.sampling)
        vmax = max(v for _, v in info.sampling)
        mcu_cols = math.ceil(info.width / (8 * hmax))
        mcu_rows = math.ceil(info.height / (8 * vmax))
        blocks = sum(mcu_cols * h * mcu_rows * v for h, v in info.sampling)
        need += blocks * COEFFICIENT_BLOCK_BYTES
    return need


def decode_scale(info: ImageInfo, reduce: int = 1, budget: int = DECODE_BUDGET) -> int:
    """The output scale 1/1, 1/2, 1/4 or 1/8 at which `info` decodes within `budget`: `reduce`
    or, for a JPEG that needs more, the first smaller scale that fits. BadImage when none fits
    (a PNG or a buffered JPEG too large for the budget at any scale)."""
    scale = reduce if info.kind == JPEG else 1
    while decoder_bytes(info, scale) > budget and info.kind == JPEG and scale < 8:
        scale *= 2
    need = decoder_bytes(info, scale)
    if need > budget:
        what = "progressive or multi-scan " if info.buffered else ""
        raise BadImage(
            f"decoding this {info.width}×{info.height} {what}{info.kind.split('/')[1].upper()} "
            f"needs about {need / MiB:.0f} MiB; the budget is {budget / MiB:.0f} MiB"
        )
    return scale


class DecodeBudget:
    """Decoder memory a process may use at once: each decode holds its share while it runs, and
    one that would go over the total waits for others to finish (decodes within the budget take
    well under a second), so concurrent jobs, thumbnails or screens never add up past it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._used = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        nbytes = min(nbytes, self.total)
        with self._cond:
            while self._used + nbytes > self.total:
                self._cond.wait()
            self._used += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._used -= nbytes
                self._cond.notify_all()

    @property
    def used(self) -> int:
        with self._cond:
            return self._used


PROCESS_BUDGET = DecodeBudget(DECODE_BUDGET)

_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode(
    data: bytes,
    info: ImageInfo | None = None,
    *,
    reduce: int = 1,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    budget: DecodeBudget = PROCESS_BUDGET,
) -> np.ndarray:
    """BGR pixels of a guarded image (inspected here unless `info` is given).

    `reduce` 2/4/8 decodes a JPEG at that fraction of its size (cheaper; PNGs decode whole and
    are then shrunk). A JPEG too large to decode within the budget at that scale decodes at a
    smaller one (every caller fits or shrinks the picture to a screen, a model or a thumbnail);
    one that fits at no scale, like such a PNG, is refused. Raises BadImage when the bytes do
    not decode to what the header said.
    """
    info = info or inspect(data, max_bytes, max_pixels)
    scale = decode_scale(info, reduce, budget.total)
    flag = _REDUCED[scale] if info.kind == JPEG else cv2.IMREAD_COLOR
    with budget.hold(decoder_bytes(info, scale)):
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if img is None or img.size == 0:
        raise BadImage(f"{info.kind} could not be decoded")
    w, h = math.ceil(info.width / scale), math.ceil(info.height / scale)
    if (img.shape[1], img.shape[0]) not in {(w, h), (h, w)}:  # EXIF rotation swaps them
        raise BadImage(f"decoded size {img.shape[1]}×{img.shape[0]} differs from the header")
    if reduce > 1 and info.kind == PNG:
        img = shrink(img, max(img.shape[:2]) // reduce or 1)
    return img


def read_file(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> bytes:
    """A file's bytes, refused before reading when it is larger than `max_bytes`."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadImage(f"{path} is larger than {max_bytes} bytes")
    return data


def load_file(
    path: str | os.PathLike[str], max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> tuple[bytes, ImageInfo]:
    """A file's bytes and what its header says, both within the limits (nothing decoded)."""
    data = read_file(path, max_bytes)
    return data, inspect(data, max_bytes, max_pixels)


def reduce_for(info: ImageInfo, long_side: int) -> int:
    """The cheapest `decode(reduce=…)` whose JPEG is still at least `long_side` on its long
    side (1 for PNGs, which always decode whole)."""
    if info.kind != JPEG:
        return 1
    big = max(info.width, info.height)
    return next((r for r in (8, 4, 2) if big // r >= long_side), 1)


def downscale(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to `size` (w, h): halve with pyrDown while ≥ 2× too big, then INTER_AREA (faster
    than INTER_AREA alone on a 12 MP still, same look)."""
    while image.shape[1] >= 2 * size[0] and image.shape[0] >= 2 * size[1]:
        image = cv2.pyrDown(image)
    if (image.shape[1], image.shape[0]) == size:
        return image
    interp = cv2.INTER_AREA if image.shape[1] > size[0] else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def shrink(image: np.ndarray, long_side: int) -> np.ndarray:
    """Downsize so the long side is at most `long_side` (never upscales)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale >= 1:
        return image
    return downscale(image, (max(1, round(w * scale)), max(1, round(h * scale))))


def fit_inside(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to fit inside `size` (w, h), aspect kept (for showing a shot on screen)."""
    h, w = image.shape[:2]
    scale = min(size[0] / w, size[1] / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return np.ascontiguousarray(downscale(image, (nw, nh)))


def fit_cover(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale and centre-crop `image` to exactly `size` (w, h), keeping its aspect."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    nw, nh = max(w, round(iw * scale)), max(h, round(ih * scale))
    resized = downscale(image, (nw, nh))
    x, y = (nw - w) // 2, (nh - h) // 2
    return np.ascontiguousarray(resized[y : y + h, x : x + w])


def encode_jpeg(image: np.ndarray, quality: int, *, rgb: bool = False) -> bytes:
    """JPEG bytes of a BGR image (OpenCV's order), or of an RGB one with `rgb=True`."""
    if rgb:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BadImage("JPEG encoding failed")
    return buf.tobytes()
