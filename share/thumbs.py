"""Small JPEG thumbnails for the operator gallery, made with OpenCV and kept in memory.

Why in memory: results are immutable and the gallery shows one day, so a bounded LRU avoids a
second set of files on disk that retention would have to track.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger("share.thumbs")

THUMB_LONG_SIDE = 240
# One thumbnail is made at a time: the dashboard asks for a page of them at once, and each reads
# its whole file (up to booth/images.py MAX_BYTES) before the decoder's budget applies; made one
# by one they cost the server one file and one decode at most (docs/security.md).
_MAKING = threading.Lock()


def make_thumbnail(path: Path, long_side: int = THUMB_LONG_SIDE) -> bytes | None:
    """JPEG bytes of a reduced copy of `path`, or None if it cannot be decoded.

    The file goes through the image guard first: a picture whose header declares more than
    a result may have, or whose decoder would need more than the budget, is refused before
    anything is decoded (a bomb on disk would otherwise take the server's memory at the first
    look at the gallery)."""
    # lazily: OpenCV costs ~30 MB of RSS, needed only once an operator looks
    import cv2

    from booth.images import BadImage, decode, load_file, reduce_for
    from booth.limits import MAX_BYTES, RESULT_MAX_PIXELS

    try:
        with _MAKING:
            data, info = load_file(path, MAX_BYTES, RESULT_MAX_PIXELS)
            img = decode(data, info, reduce=reduce_for(info, long_side))
            del data
    except (BadImage, OSError) as exc:
        log.warning("share: no thumbnail for %s: %s", path.name, exc)
        return None
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    if scale < 1:
        img = cv2.resize(
            img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 78])
    return buf.tobytes() if ok else None


class ThumbCache:
    """Thread-safe LRU of thumbnails by job id."""

    def __init__(self, capacity: int = 300) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str, path: Path) -> bytes | None:
        with self._lock:
            hit = self._items.get(job_id)
            if hit is not None:
                self._items.move_to_end(job_id)
                return hit
        thumb = make_thumbnail(path)
        if thumb is not None:
            with self._lock:
                self._items[job_id] = thumb
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        return thumb

    def forget(self, job_ids: list[str]) -> None:
        with self._lock:
            for j in job_ids:
                self._items.pop(j, None)
