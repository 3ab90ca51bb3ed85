"""Decompression bombs for the image guard's tests: small files that declare huge pictures."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid, complete PNG of `width`×`height` black pixels (1-bit greyscale).

    20000×20000 is 400 megapixels — about 1.2 GB once a decoder expands it to BGR — in a file
    of about 60 KB. Made row by row, so building it needs no big buffer either."""
    row = b"\0" + b"\0" * ((width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    parts = [z.compress(row) for _ in range(height)]
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
