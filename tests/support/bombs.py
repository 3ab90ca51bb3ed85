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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk_length_bomb() -> bytes:
    """45 bytes: an 8×8 PNG header, then an IDAT chunk whose length field says 0x7fffffff and
    the four letters IEND. OpenCV (4.11 to 4.14 at least) allocates the declared 2 GB for the
    chunk before it finds the bytes missing."""
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + struct.pack(">I", 0x7FFFFFFF) + b"IDAT" + b"IEND"


def _jpeg_of(image_bgr: object, *, progressive: bool, sampling: str, quality: int = 90) -> bytes:
    import cv2
    import numpy as np

    factor = {
        "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    }[sampling]
    ok, buf = cv2.imencode(
        ".jpg",
        np.asarray(image_bgr),
        [
            cv2.IMWRITE_JPEG_QUALITY,
            quality,
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            int(progressive),
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            factor,
        ],
    )
    assert ok
    return bytes(buf.tobytes())


def jpeg_declaring(
    width: int, height: int, *, progressive: bool = False, sampling: str = "420"
) -> bytes:
    """A JPEG of a few hundred bytes whose frame header declares `width`×`height`: the tables
    and scan of a 16×16 picture with the size fields changed, so the scan data runs out at once
    and the rest is garbage to the decoder. It still gets the whole output buffer (and, when
    progressive, every coefficient of the declared size): 8000×5000 made an 858-byte baseline
    file that grew a decoding process by 232 MB."""
    import numpy as np

    tile = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    data = bytearray(_jpeg_of(tile, progressive=progressive, sampling=sampling))
    sof = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def progressive_jpeg(width: int, height: int, sampling: str = "444") -> bytes:
    """A real, whole progressive JPEG of a smooth gradient: small on disk (8000×5000 4:4:4 is
    about 0.7 MB) but its decoder keeps every coefficient of the picture (2 bytes each, 64 per
    block, for every component: 240 MB at 40 MP in 4:4:4) whatever the output scale."""
    import numpy as np

    ramp = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = ramp[None, :, None]
    return _jpeg_of(image, progressive=True, sampling=sampling)
