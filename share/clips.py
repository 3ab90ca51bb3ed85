"""The reveal clip: the guest's shot turning into the dripped picture, as an MP4 to download.

What it is: 1080×1920 (9:16, the shape of a phone held upright and of a story, so it posts
without the app cropping it or adding a backdrop of its own), 30 fps, 3.6 s (108 frames) that
loop: the shot, the drip wipe (booth/reveal.py, the same as on the booth screen), the dripped
picture, and a dissolve back to the shot. The picture sits on a blurred, darkened copy of
itself under the event title. H.264 Constrained Baseline, yuv420p, BT.709, in a fast-start MP4
(share/h264.py, share/mp4.py): it plays inline and muted on iPhone Safari and Android Chrome
and saves to the phone's photos.

Why cheap to make: only the photo's area changes between frames, and it is composed in YUV from
two pictures converted once; the encoder gets exactly CLIP.total_s × FPS frames. It runs in a
child process of the share server at idle priority (share/clipmaker.py), never in the kiosk.

`python -m share.clips SHOT RESULT OUT [--title T]` makes one clip and prints its figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from booth import images, reveal
from booth.fsutil import atomic_write
from share.h264 import H264Encoder
from share.mp4 import Mp4Writer

log = logging.getLogger("share.clips")

WIDTH, HEIGHT = 1080, 1920  # 9:16
FPS = 30
BITRATE = 4_000_000  # OpenH264's target in quality mode; the clips come out near 1–2 MB
MAX_BYTES = 3 * 1024 * 1024  # a clip over this is not kept (the phone page's promise)
TIMELINE = reveal.CLIP
FRAMES = round(TIMELINE.total_s * FPS)
MARGIN = 48  # around the picture, px
TITLE_PX = 64  # the event title's type size
CORNER = 28  # the picture's rounded corners, px
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
)
TITLE_RGB = (245, 197, 66)  # the screens' gold (kiosk/ui/theme.py GOLD)


@dataclass(frozen=True)
class ClipInfo:
    """What was made: the figures the ledger keeps and the page needs."""

    width: int
    height: int
    fps: int
    frames: int
    bytes: int
    seconds: float  # wall time to make it (decode, compose, encode, write)


@dataclass
class Planes:
    """One I420 picture: Y at full size, U and V at half size each way."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    def copy(self) -> Planes:
        return Planes(self.y.copy(), self.u.copy(), self.v.copy())


def to_i420(rgb: np.ndarray) -> Planes:
    """BT.709 limited range (what share/mp4.py tags the clip with), chroma averaged 2×2."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16.0 + (0.2126 * r + 0.7152 * g + 0.0722 * b) * (219.0 / 255.0)
    h, w = rgb.shape[:2]
    small = cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    r2, g2, b2 = small[..., 0], small[..., 1], small[..., 2]
    u = 128.0 + (-0.1146 * r2 - 0.3854 * g2 + 0.5 * b2) * (224.0 / 255.0)
    v = 128.0 + (0.5 * r2 - 0.4542 * g2 - 0.0458 * b2) * (224.0 / 255.0)
    return Planes(*(np.clip(p + 0.5, 0, 255).astype(np.uint8) for p in (y, u, v)))


def _colour_i420(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    p = to_i420(np.array([[rgb, rgb], [rgb, rgb]], dtype=np.uint8))
    return int(p.y[0, 0]), int(p.u[0, 0]), int(p.v[0, 0])


def photo_box(size: tuple[int, int], top: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the picture in the frame: as wide as the margins allow (even sizes,
    for the half-size chroma planes), centred in the space below the title."""
    pw, ph = size
    w = WIDTH - 2 * MARGIN
    h = round(w * ph / pw)
    if h > HEIGHT - top - MARGIN:
        h = HEIGHT - top - MARGIN
        w = round(h * pw / ph)
    w, h = w - w % 2, h - h % 2
    x = (WIDTH - w) // 2 // 2 * 2
    y = (top + (HEIGHT - top - MARGIN - h) // 2) // 2 * 2
    return x, y, w, h


def _title(canvas: np.ndarray, title: str) -> int:
    """The event title across the top (Pillow's FreeType; nothing without a font); returns
    the y below it."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = next((p for p in _FONTS if Path(p).is_file()), None)
    top = MARGIN + TITLE_PX + MARGIN // 2
    if not title or font_path is None:
        return MARGIN * 2
    size = TITLE_PX
    font = ImageFont.truetype(font_path, size)
    while size > 28 and font.getlength(title) > WIDTH - 2 * MARGIN:
        size -= 4
        font = ImageFont.truetype(font_path, size)
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    draw.text(
        (WIDTH // 2, MARGIN + TITLE_PX // 2),
        title,
        font=font,
        fill=TITLE_RGB,
        anchor="mm",
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    canvas[:] = np.asarray(img)
    return top


def _backdrop(result_rgb: np.ndarray) -> np.ndarray:
    """The picture cover-filling the frame, blurred and darkened (cheap: shrink, enlarge)."""
    small = images.fit_cover(result_rgb, (36, 64))
    big = cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), 24)
    return (big.astype(np.uint16) * 90 // 255).astype(np.uint8)


def _rounded_mask(w: int, h: int, r: int) -> np.ndarray:
    mask = np.full((h, w), 255, np.uint8)
    corner = np.zeros((r, r), np.uint8)
    cv2.circle(corner, (r, r), r, 255, -1, lineType=cv2.LINE_AA)
    mask[:r, :r] = corner
    mask[:r, w - r :] = corner[:, ::-1]
    mask[h - r :, :r] = corner[::-1, :]
    mask[h - r :, w - r :] = corner[::-1, ::-1]
    return mask


@dataclass
class Stage:
    """The two full frames the clip moves between, and where the picture is."""

    before: Planes
    after: Planes
    box: tuple[int, int, int, int]


def stage(shot_rgb: np.ndarray, result_rgb: np.ndarray, title: str) -> Stage:
    """Both frames: the same backdrop and title, the shot or the result in the picture's box.
    The shot is cropped to the result's shape (a model may answer in another aspect ratio)."""
    canvas = _backdrop(result_rgb)
    top = _title(canvas, title)
    x, y, w, h = photo_box((result_rgb.shape[1], result_rgb.shape[0]), top)
    alpha = _rounded_mask(w, h, CORNER).astype(np.float32)[..., None] / 255.0
    frames = []
    for pic in (shot_rgb, result_rgb):
        fitted = images.fit_cover(pic, (w, h))
        frame = canvas.copy()
        region = frame[y : y + h, x : x + w].astype(np.float32)
        frame[y : y + h, x : x + w] = (fitted * alpha + region * (1.0 - alpha)).astype(np.uint8)
        frames.append(to_i420(frame))
    return Stage(frames[0], frames[1], (x, y, w, h))


def _masks(box: tuple[int, int, int, int], wipe: float) -> tuple[np.ndarray, np.ndarray]:
    """(dripped, rim) masks of the picture's area: the dripped picture above the front, and a
    gold rim of even thickness around it (the front grown by the rim, less the front)."""
    _x, _y, w, h = box
    front = np.array(reveal.fronts(w, wipe), dtype=np.float32) * h
    rows = np.arange(h, dtype=np.float32)[:, None]
    dripped = (rows < front[None, :]).astype(np.uint8)
    r = max(1, round(reveal.RIM * HEIGHT / 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    rim = np.zeros((h, w), bool)
    lo = max(0, int(front.min()) - r - 1)  # only the band the front moves in is dilated
    hi = min(h, int(front.max()) + r + 2)
    if lo < hi:
        band = dripped[lo:hi]
        rim[lo:hi] = cv2.dilate(band, kernel) > band
    return dripped.astype(bool), rim


def _wipe_plane(
    out: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    box: tuple[int, int, int, int],
    dripped: np.ndarray,
    rim: np.ndarray,
    colour: int,
) -> None:
    """One plane's picture area: `after` where dripped, the rim's colour, else `before`."""
    x, y, w, h = box
    region = np.where(dripped, after[y : y + h, x : x + w], before[y : y + h, x : x + w])
    region[rim] = colour
    out[y : y + h, x : x + w] = region


def frame_at(st: Stage, t: float, rim_yuv: tuple[int, int, int]) -> Planes:
    """The clip's picture at time `t` (seconds from its start)."""
    wipe, back = TIMELINE.at(t)
    if wipe <= 0.0:
        return st.before
    if wipe >= 1.0 and back <= 0.0:
        return st.after
    if wipe >= 1.0:
        a = float(back)
        pairs = ((st.before.y, st.after.y), (st.before.u, st.after.u), (st.before.v, st.after.v))
        return Planes(*(cv2.addWeighted(s, a, r, 1.0 - a, 0.0) for s, r in pairs))
    x, y, w, h = st.box
    dripped, rim = _masks(st.box, wipe)
    out = st.before.copy()
    _wipe_plane(out.y, st.before.y, st.after.y, st.box, dripped, rim, rim_yuv[0])
    half = (x // 2, y // 2, w // 2, h // 2)
    d2, r2 = dripped[::2, ::2], rim[::2, ::2]
    _wipe_plane(out.u, st.before.u, st.after.u, half, d2, r2, rim_yuv[1])
    _wipe_plane(out.v, st.before.v, st.after.v, half, d2, r2, rim_yuv[2])
    return out


def cell_boxes(
    st: Stage, cells: list[tuple[float, float, float, float]]
) -> list[tuple[int, int, int, int]]:
    """A sheet's frame boxes (booth/sheet.py, as fractions of the sheet) where they are in the
    clip's picture box (even sizes and places, for the half-size chroma planes)."""
    x0, y0, w, h = st.box
    out = []
    for cx, cy, cw, ch in cells:
        x, y = x0 + round(cx * w) // 2 * 2, y0 + round(cy * h) // 2 * 2
        out.append((x, y, max(2, round(cw * w) // 2 * 2), max(2, round(ch * h) // 2 * 2)))
    return out


def strip_frame_at(
    st: Stage,
    t: float,
    rim_yuv: tuple[int, int, int],
    boxes: list[tuple[int, int, int, int]],
    timeline: reveal.Staggered,
) -> Planes:
    """A strip session's clip at time `t`: each frame's box wiped in turn, then the dissolve
    back to the shots (the band and the margins are the same in both pictures)."""
    back = timeline.back(t)
    if back > 0.0:
        pairs = ((st.before.y, st.after.y), (st.before.u, st.after.u), (st.before.v, st.after.v))
        return Planes(*(cv2.addWeighted(s, back, r, 1.0 - back, 0.0) for s, r in pairs))
    out = st.before.copy()
    for i, box in enumerate(boxes):
        wipe = timeline.wipe(i, t)
        x, y, w, h = box
        half = (x // 2, y // 2, w // 2, h // 2)
        if wipe <= 0.0:
            continue
        if wipe >= 1.0:
            for plane, after, (bx, by, bw, bh) in (
                (out.y, st.after.y, box),
                (out.u, st.after.u, half),
                (out.v, st.after.v, half),
            ):
                plane[by : by + bh, bx : bx + bw] = after[by : by + bh, bx : bx + bw]
            continue
        dripped, rim = _masks(box, wipe)
        _wipe_plane(out.y, st.before.y, st.after.y, box, dripped, rim, rim_yuv[0])
        d2, r2 = dripped[::2, ::2], rim[::2, ::2]
        _wipe_plane(out.u, st.before.u, st.after.u, half, d2, r2, rim_yuv[1])
        _wipe_plane(out.v, st.before.v, st.after.v, half, d2, r2, rim_yuv[2])
    return out


def load_rgb(path: Path, long_side: int = 1536) -> np.ndarray:
    """A stored picture, through the image guard (booth/images.py), as RGB no larger than
    `long_side` (the clip needs no more than 984 px across)."""
    data = images.read_file(str(path))
    info = images.inspect(data)
    bgr = images.decode(data, reduce=images.reduce_for(info, long_side))
    return cv2.cvtColor(images.shrink(bgr, long_side), cv2.COLOR_BGR2RGB)


def make_clip(
    shot: Path,
    result: Path,
    out: Path,
    title: str = "",
    cells: list[tuple[float, float, float, float]] | None = None,
) -> ClipInfo:
    """Compose, encode and write the clip atomically (share/h264.py raises EncoderUnavailable
    when this machine cannot encode); ValueError when it would be over MAX_BYTES. `cells`: the
    frame boxes of a strip session's sheet (booth/sheet.py), revealed one after another."""
    t0 = time.monotonic()
    long_side = 1920 if cells else 1536  # a 2x6 strip stands 1700 px tall in the clip
    st = stage(load_rgb(shot, long_side), load_rgb(result, long_side), title)
    rim = _colour_i420(reveal.GOLD)
    if cells:
        staggered = reveal.Staggered(len(cells))
        frames = round(staggered.total_s * FPS)
        boxes = cell_boxes(st, cells)
    else:
        frames = FRAMES
    mp4 = Mp4Writer(WIDTH, HEIGHT, FPS)
    with H264Encoder(WIDTH, HEIGHT, FPS, BITRATE) as enc:
        for i in range(frames):
            if cells:
                p = strip_frame_at(st, i / FPS, rim, boxes, staggered)
            else:
                p = frame_at(st, i / FPS, rim)
            coded = enc.encode(p.y, p.u, p.v)
            mp4.add(coded.nals, coded.keyframe)
    data = mp4.to_bytes()
    if len(data) > MAX_BYTES:
        raise ValueError(f"the clip came out at {len(data)} bytes, over {MAX_BYTES}")
    atomic_write(out, data)
    return ClipInfo(WIDTH, HEIGHT, FPS, frames, len(data), round(time.monotonic() - t0, 3))


def parse_cells(text: str) -> list[tuple[float, float, float, float]]:
    """`x,y,w,h;x,y,w,h;…` (the clip maker's --cells, fractions of the sheet) as boxes."""
    out = []
    for part in text.split(";"):
        x, y, w, h = (float(v) for v in part.split(","))
        out.append((x, y, w, h))
    return out


def lower_priority() -> str:
    """Make the calling process (or thread) yield the CPU to everything else: SCHED_IDLE where
    the kernel allows it, else nice 19. Returns what was set, for the log."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "SCHED_IDLE"
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 19)
        return "nice 19"
    except OSError:
        return "unchanged"


def main(argv: list[str] | None = None) -> int:
    """The child process share/clipmaker.py starts: one clip, its figures as one JSON line."""
    ap = argparse.ArgumentParser(prog="python -m share.clips")
    ap.add_argument("shot", type=Path)
    ap.add_argument("result", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--title", default="")
    ap.add_argument("--cells", default="", help="a strip session's frame boxes: x,y,w,h;…")
    ap.add_argument("--keep-priority", action="store_true", help="benchmarks: do not lower it")
    args = ap.parse_args(argv)
    if not args.keep_priority:
        lower_priority()
    try:
        cells = parse_cells(args.cells) if args.cells else None
        info = make_clip(args.shot, args.result, args.out, args.title, cells)
    except Exception as exc:  # the parent logs it; the guest simply has no clip
        report: dict[str, object] = {"error": f"{type(exc).__name__}: {exc}"}
        if isinstance(exc, OSError) and exc.errno is not None:
            report["errno"] = exc.errno  # the parent tells a full disk from a broken picture
        print(json.dumps(report), flush=True)
        return 1
    print(json.dumps(asdict(info)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
