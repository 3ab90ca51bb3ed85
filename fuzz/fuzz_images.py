"""Fuzz the image guard (booth/images.py): `inspect` raises only BadImage on any bytes, and
what it lets through decodes (or is refused) within the decoding budget.

The memory promise is checked by libFuzzer's RSS limit: the harness sits at about 85 MB once
OpenCV is loaded, and -rss_limit_mb (default here 240) stops the run at the first input that
grows it by more than the 150 MB a booth process may grow (docs/security.md, "Decoding pictures").
A mutated PNG would almost never pass its chunks' CRCs, so the harness writes them anew before
the guard sees the bytes: the fuzzer reaches the structure checks and the decoder behind them
(the CRC check itself is in tests/foundation/test_image_guard_properties.py).
"""

from __future__ import annotations

import struct
import zlib

from booth.images import (
    DECODE_BUDGET,
    PNG_SIGNATURE,
    BadImage,
    decode,
    decode_scale,
    decoder_bytes,
    inspect,
)
from fuzz.harness import fuzz


def with_png_crcs(data: bytes) -> bytes:
    """`data` with every whole PNG chunk's CRC made right (other bytes unchanged)."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    out = bytearray(data)
    i = len(PNG_SIGNATURE)
    while i + 12 <= len(out):
        (length,) = struct.unpack(">I", out[i : i + 4])
        end = i + 8 + length
        if end + 4 > len(out):
            break
        out[end : end + 4] = struct.pack(">I", zlib.crc32(out[i + 4 : end]))
        i = end + 4
    return bytes(out)


def one_input(data: bytes) -> None:
    data = with_png_crcs(data)
    try:
        info = inspect(data)
        scale = decode_scale(info)
    except BadImage:
        return
    assert decoder_bytes(info, scale) <= DECODE_BUDGET, (info, scale)
    try:
        image = decode(data, info)
    except BadImage:
        return
    assert image.ndim == 3 and image.shape[2] == 3, image.shape


if __name__ == "__main__":
    fuzz(one_input, "images", ["-max_len=262144", "-rss_limit_mb=240", "-timeout=20"])
