"""Job validation before any model call: is the payload an image we can safely decode?

The checks themselves (byte and pixel limits and the file's structure before decoding, the
decoder's memory budget) are the contract's image guard (`booth/images.py`), shared with the
kiosk and the share server; this module adds the worker's view: a JPEG the model can take as is
never needs its full pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from booth.images import JPEG, BadImage, ImageInfo, decode, inspect


@dataclass
class Decoded:
    """A payload known to decode. Its pixels are decoded on first use of `image`: whole, or for a
    JPEG too large for the decoding budget at the largest fraction that fits (booth/images.py
    decode; the worker only ever shrinks them for the model)."""

    data: bytes
    info: ImageInfo
    _image: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            self._image = decode(self.data, self.info)
        return self._image


def decode_job_image(data: bytes, max_bytes: int, max_pixels: int) -> Decoded:
    """Check a job payload (BadImage when unsafe or broken); decode it as far as needed."""
    info = inspect(data, max_bytes, max_pixels)
    if info.kind == JPEG:
        # the whole entropy-coded stream is checked at 1/8 scale (a quarter of the time)
        decode(data, info, reduce=8)
        return Decoded(data, info)
    return Decoded(data, info, decode(data, info))


__all__ = ["BadImage", "Decoded", "decode_job_image"]
