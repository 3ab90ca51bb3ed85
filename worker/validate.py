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
    """A payload known to decode.

    `image` gives its pixels: whole, or for a JPEG too large for the decoding budget at the
    largest fraction that fits (booth/images.py decode; the worker only ever shrinks them for
    the model). They are not kept: pixels decoded while checking the payload (a PNG's) are
    handed over once, and a later use decodes again. So a job holds its full picture only while
    it shrinks it (at most twice: for the model, and for the local effect after a failed call),
    and parallel jobs never hold one full picture each for the length of their model calls."""

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
        image, self._image = self._image, None
        return image if image is not None else decode(self.data, self.info)


def decode_job_image(data: bytes, max_bytes: int, max_pixels: int) -> Decoded:
    """Check a job payload (BadImage when unsafe or broken): its structure and limits, then its
    whole stream decoded (a JPEG at 1/8 scale, a quarter of the time, and let go)."""
    info = inspect(data, max_bytes, max_pixels)
    if info.kind == JPEG:
        decode(data, info, reduce=8)
        return Decoded(data, info)
    return Decoded(data, info, decode(data, info))


__all__ = ["BadImage", "Decoded", "decode_job_image"]
