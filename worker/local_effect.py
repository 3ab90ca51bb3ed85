"""The offline "drip": a chain under every face, grills on a smile, a bling frame otherwise.

Used when there is no API key, and as the fallback when the AI fails, so a guest always gets a
changed picture. Everything is drawn procedurally with OpenCV (no image assets): faces come from
the Haar cascades that opencv-python-headless ships; stones are faceted discs lit from the top
left, drawn supersampled and composited with a soft drop shadow. Deterministic: the same input
gives the same output (no randomness except a fixed-seed generator).

Each style names a variant (`[styles.NAME] local = …`, booth/config.py LOCAL_VARIANTS) and the
variants really look different, so a guest who picks a style without the AI gets that style:
`diamond` an iced tennis chain over a gold Cuban link, a halo pendant, diamond-set gold grills;
`gold` two gold Cuban chains and a gold medallion, plain gold grills, a studded gold frame;
`ice` white metal only: two diamond strands, white grills set with diamonds, a platinum frame.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import cv2.data
import numpy as np

from booth.images import BadImage

DETECT_LONG_SIDE = 640  # faces are found on a copy this size (speed on a Pi)
# The drawing needs room (a frame ~8 px thick on each side, stones, sparkles): smaller pictures
# are drawn on an enlarged copy and brought back to their own size. A picture that would have
# to grow past MAX_WORK_SIDE to get there (a 1×5000 strip) is refused as bad input.
MIN_WORK_SIDE = 64
MAX_WORK_SIDE = 4096
SHIFT = 4  # sub-pixel drawing: coordinates × 16
ONE = 1 << SHIFT

# BGR colours
ICE_DARK = np.array([128, 104, 92], np.float32)
ICE_LIGHT = np.array([255, 252, 246], np.float32)
METAL_DARK = (96, 98, 104)
METAL = (206, 208, 214)
GOLD_DARK = np.array([20, 105, 170], np.float32)
GOLD_LIGHT = np.array([130, 225, 255], np.float32)
PLAT_DARK = np.array([120, 118, 112], np.float32)
PLAT_LIGHT = np.array([252, 250, 246], np.float32)
LIGHT_DIR = math.radians(225)  # light from the top left (y grows downwards)


@dataclass(frozen=True)
class Variant:
    """What one style looks like when the local effect draws it."""

    strands: tuple[str, str]  # the short and the long strand: "stones" or "cuban"
    pendant: str  # "halo" (diamonds round a big stone) or "medallion" (a disc)
    metal: tuple[np.ndarray, np.ndarray]  # dark and light of the links, teeth and bezel
    grill_stones: bool  # a diamond set in every tooth
    frame_stones: bool  # diamonds round the frame (else metal studs)


VARIANTS: dict[str, Variant] = {
    "diamond": Variant(("stones", "cuban"), "halo", (GOLD_DARK, GOLD_LIGHT), True, True),
    "gold": Variant(("cuban", "cuban"), "medallion", (GOLD_DARK, GOLD_LIGHT), False, False),
    "ice": Variant(("stones", "stones"), "halo", (PLAT_DARK, PLAT_LIGHT), True, True),
}
DEFAULT_VARIANT = "diamond"


Box = tuple[int, int, int, int]  # x, y, w, h in pixels


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    w: int
    h: int
    smile: Box | None = None


@dataclass
class EffectResult:
    image: np.ndarray
    faces: list[Face] = field(default_factory=list)
    framed: bool = False


class LocalEffect:
    """Loads the cascades once; `apply()` is safe to call from several threads."""

    def __init__(self) -> None:
        base = cv2.data.haarcascades
        self._face = cv2.CascadeClassifier(base + "haarcascade_frontalface_default.xml")
        self._smile = cv2.CascadeClassifier(base + "haarcascade_smile.xml")
        if self._face.empty() or self._smile.empty():
            raise RuntimeError(
                f"OpenCV Haar cascades missing under {base} (opencv-python-headless < 5 ships them)"
            )
        self._lock = threading.Lock()  # a CascadeClassifier is not safe to share across threads

    # ------------------------------------------------------------------ detection
    def detect(self, image: np.ndarray) -> list[Face]:
        h, w = image.shape[:2]
        scale = min(1.0, DETECT_LONG_SIDE / max(h, w))
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale < 1:
            gray = cv2.resize(
                gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
            )
        gray = cv2.equalizeHist(gray)
        short = min(gray.shape[:2])
        min_face = max(24, short // 10)
        with self._lock:
            found = self._face.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=6, minSize=(min_face, min_face)
            )
            boxes = sorted(
                ((int(x), int(y), int(fw), int(fh)) for x, y, fw, fh in found),
                key=lambda b: -b[2] * b[3],
            )[:6]
            faces = []
            for x, y, fw, fh in boxes:
                smile = self._find_smile(gray, x, y, fw, fh)
                inv = 1.0 / scale
                s: Box | None = None
                if smile is not None:
                    sx, sy, sw, sh = smile
                    s = (
                        int(round(sx * inv)),
                        int(round(sy * inv)),
                        int(round(sw * inv)),
                        int(round(sh * inv)),
                    )
                faces.append(
                    Face(
                        int(round(x * inv)),
                        int(round(y * inv)),
                        int(round(fw * inv)),
                        int(round(fh * inv)),
                        s,
                    )
                )
        return sorted(faces, key=lambda f: f.x)

    def _find_smile(self, gray: np.ndarray, x: int, y: int, w: int, h: int) -> Box | None:
        top = y + h // 2
        roi = gray[top : min(gray.shape[0], y + h + h // 10), x : x + w]
        if roi.size == 0 or roi.shape[0] < 12:
            return None
        found = self._smile.detectMultiScale(
            roi, scaleFactor=1.15, minNeighbors=18, minSize=(max(12, w // 4), max(6, h // 10))
        )
        best = None
        for sx, sy, sw, sh in found:
            cx, cy = x + sx + sw / 2, top + sy + sh / 2
            if abs(cx - (x + w / 2)) > 0.18 * w or not (y + 0.6 * h <= cy <= y + 0.98 * h):
                continue
            score = abs(cx - (x + w / 2)) + abs(cy - (y + 0.8 * h))
            if best is None or score < best[0]:
                best = (score, (x + sx, top + sy, sw, sh))
        return best[1] if best else None

    # ------------------------------------------------------------------ the effect
    def apply(self, image: np.ndarray, variant: str = DEFAULT_VARIANT) -> EffectResult:
        """A new picture of the same size in the style's `variant` (the input is not modified).
        An unknown variant (a worker older than the config) draws the default one.

        Raises BadImage for a picture too thin to draw on (see MAX_WORK_SIDE)."""
        h, w = image.shape[:2]
        if min(h, w) >= MIN_WORK_SIDE:
            return self._apply(image, variant)
        scale = MIN_WORK_SIDE / min(h, w)
        if max(h, w) * scale > MAX_WORK_SIDE:
            raise BadImage(f"a {w}×{h} picture is too thin for the local effect")
        big = cv2.resize(
            image,
            (max(MIN_WORK_SIDE, round(w * scale)), max(MIN_WORK_SIDE, round(h * scale))),
            interpolation=cv2.INTER_CUBIC,
        )
        done = self._apply(big, variant)
        back = cv2.resize(done.image, (w, h), interpolation=cv2.INTER_AREA)

        def down(box: Box) -> Box:
            x, y, bw, bh = box
            return (int(x / scale), int(y / scale), int(bw / scale), int(bh / scale))

        faces = [
            Face(*down((f.x, f.y, f.w, f.h)), down(f.smile) if f.smile else None)
            for f in done.faces
        ]
        return EffectResult(back, faces, done.framed)

    def _apply(self, image: np.ndarray, variant: str) -> EffectResult:
        v = VARIANTS.get(variant, VARIANTS[DEFAULT_VARIANT])
        out = image.copy()
        faces = self.detect(image)
        shown = 0
        for face in faces:
            shown += _draw_chain(out, face, v)
        for face in faces:
            if face.smile is not None:
                _draw_grills(out, face.smile, v)
        if shown < 3:  # no face, or a close-up whose chain falls off the picture
            _draw_frame(out, v)
        return EffectResult(out, faces, framed=shown < 3)


# ---------------------------------------------------------------------- drawing helpers
def _p(x: float, y: float) -> tuple[int, int]:
    return int(round(x * ONE)), int(round(y * ONE))


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> tuple[float, ...]:
    t = min(1.0, max(0.0, t))
    return tuple(float(v) for v in a + (b - a) * t)


def _stone(
    layer: np.ndarray,
    alpha: np.ndarray | None,
    cx: float,
    cy: float,
    r: float,
    setting: bool = True,
) -> None:
    """A round brilliant in a metal setting: eight shaded facets, a bright table, a highlight.

    `alpha` None draws straight onto a picture (no compositing layer)."""
    if setting:
        cv2.circle(layer, _p(cx, cy), int(r * 1.22 * ONE), METAL_DARK, -1, cv2.LINE_AA, SHIFT)
        cv2.circle(
            layer,
            _p(cx - r * 0.05, cy - r * 0.05),
            int(r * 1.1 * ONE),
            METAL,
            -1,
            cv2.LINE_AA,
            SHIFT,
        )
        if alpha is not None:
            cv2.circle(alpha, _p(cx, cy), int(r * 1.24 * ONE), 1.0, -1, cv2.LINE_AA, SHIFT)
    elif alpha is not None:
        cv2.circle(alpha, _p(cx, cy), int(r * 1.04 * ONE), 1.0, -1, cv2.LINE_AA, SHIFT)
    for k in range(8):
        a0 = math.radians(k * 45 + 22.5)
        a1 = a0 + math.radians(45)
        mid = (a0 + a1) / 2
        light = 0.5 + 0.5 * math.cos(mid - LIGHT_DIR)
        # brilliants flash: alternate facets are darker whatever the light
        shade = 0.55 + 0.45 * light if k % 2 == 0 else 0.1 + 0.4 * light
        pts = np.array(
            [
                _p(cx, cy),
                _p(cx + r * math.cos(a0), cy + r * math.sin(a0)),
                _p(cx + r * math.cos(a1), cy + r * math.sin(a1)),
            ],
            np.int32,
        )
        cv2.fillConvexPoly(layer, pts, _lerp(ICE_DARK, ICE_LIGHT, shade), cv2.LINE_AA, SHIFT)
    table = np.array(
        [
            _p(
                cx + 0.5 * r * math.cos(math.radians(k * 45 + 22.5)),
                cy + 0.5 * r * math.sin(math.radians(k * 45 + 22.5)),
            )
            for k in range(8)
        ],
        np.int32,
    )
    cv2.fillConvexPoly(layer, table, _lerp(ICE_DARK, ICE_LIGHT, 0.92), cv2.LINE_AA, SHIFT)
    edge = max(1, int(round(r / 9)))
    cv2.polylines(layer, [table], True, _lerp(ICE_DARK, ICE_LIGHT, 0.45), edge, cv2.LINE_AA, SHIFT)
    cv2.circle(layer, _p(cx, cy), int(r * ONE), (92, 84, 80), edge, cv2.LINE_AA, SHIFT)
    cv2.circle(
        layer,
        _p(cx - 0.32 * r, cy - 0.34 * r),
        max(ONE, int(r * 0.2 * ONE)),
        (255, 255, 255),
        -1,
        cv2.LINE_AA,
        SHIFT,
    )


def _link(
    layer: np.ndarray, alpha: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float
) -> None:
    """A short metal link between two stones (drawn under them)."""
    ang = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))
    cx, cy = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    half = math.hypot(b[0] - a[0], b[1] - a[1]) / 2 + r * 0.3
    axes = (int(half * ONE), int(r * 0.55 * ONE))
    cv2.ellipse(layer, _p(cx, cy), axes, ang, 0, 360, METAL_DARK, -1, cv2.LINE_AA, SHIFT)
    cv2.ellipse(
        layer,
        _p(cx, cy - r * 0.08),
        (int(half * 0.92 * ONE), int(r * 0.38 * ONE)),
        ang,
        0,
        360,
        METAL,
        -1,
        cv2.LINE_AA,
        SHIFT,
    )
    cv2.ellipse(alpha, _p(cx, cy), axes, ang, 0, 360, 1.0, -1, cv2.LINE_AA, SHIFT)


def _cuban_link(
    layer: np.ndarray,
    alpha: np.ndarray,
    a: tuple[float, float],
    b: tuple[float, float],
    r: float,
    tilt: bool,
    metal: tuple[np.ndarray, np.ndarray] = (GOLD_DARK, GOLD_LIGHT),
) -> None:
    """One link of a Cuban chain: a thick oval ring, twisted alternately, lit from above."""
    dark, light = metal
    ang = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0])) + (18 if tilt else -18)
    cx, cy = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    outer = (int(r * 1.05 * ONE), int(r * 0.62 * ONE))
    thick = max(1, int(r * 0.34))
    cv2.ellipse(
        layer,
        _p(cx, cy),
        outer,
        ang,
        0,
        360,
        tuple(float(v) for v in dark * 0.7),
        thick + max(2, int(r * 0.16)),
        cv2.LINE_AA,
        SHIFT,
    )
    cv2.ellipse(
        layer, _p(cx, cy), outer, ang, 0, 360, _lerp(dark, light, 0.55), thick, cv2.LINE_AA, SHIFT
    )
    cv2.ellipse(
        layer,
        _p(cx, cy - r * 0.08),
        outer,
        ang,
        200,
        340,
        _lerp(dark, light, 1),
        max(1, thick // 2),
        cv2.LINE_AA,
        SHIFT,
    )
    cv2.ellipse(
        alpha,
        _p(cx, cy),
        outer,
        ang,
        0,
        360,
        1.0,
        thick + max(2, int(r * 0.16)),
        cv2.LINE_AA,
        SHIFT,
    )


def _sparkle(img: np.ndarray, cx: float, cy: float, size: float) -> None:
    """A four-pointed glint, added (lighten) onto the picture."""
    s = max(2.0, size)
    pts_v = np.array(
        [_p(cx, cy - s), _p(cx + s * 0.12, cy), _p(cx, cy + s), _p(cx - s * 0.12, cy)], np.int32
    )
    pts_h = np.array(
        [_p(cx - s * 0.8, cy), _p(cx, cy - s * 0.1), _p(cx + s * 0.8, cy), _p(cx, cy + s * 0.1)],
        np.int32,
    )
    x0, y0 = int(cx - s - 2), int(cy - s - 2)
    x1, y1 = int(cx + s + 3), int(cy + s + 3)
    h, w = img.shape[:2]
    x0c, y0c, x1c, y1c = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1c <= x0c or y1c <= y0c:
        return
    glow = np.zeros((y1c - y0c, x1c - x0c), np.float32)
    off = np.array(_p(x0c, y0c), np.int32)
    cv2.fillConvexPoly(glow, pts_v - off, 1.0, cv2.LINE_AA, SHIFT)
    cv2.fillConvexPoly(glow, pts_h - off, 1.0, cv2.LINE_AA, SHIFT)
    cv2.circle(
        glow, _p(cx - x0c, cy - y0c), max(ONE, int(s * 0.22 * ONE)), 1.0, -1, cv2.LINE_AA, SHIFT
    )
    glow = cv2.GaussianBlur(glow, (0, 0), max(0.6, s / 14)) * 1.1
    roi = img[y0c:y1c, x0c:x1c].astype(np.float32)
    roi += (255.0 - roi) * np.clip(glow, 0, 1)[..., None]
    img[y0c:y1c, x0c:x1c] = roi.astype(np.uint8)


def _composite(
    img: np.ndarray,
    layer: np.ndarray,
    alpha: np.ndarray,
    x0: int,
    y0: int,
    ss: int,
    shadow_px: float,
) -> None:
    """Downsample a supersampled layer and blend it at (x0, y0) with a soft drop shadow."""
    h, w = img.shape[:2]
    lh, lw = layer.shape[0] // ss, layer.shape[1] // ss
    if ss > 1:
        layer = cv2.resize(layer, (lw, lh), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (lw, lh), interpolation=cv2.INTER_AREA)
    xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + lw), min(h, y0 + lh)
    if xb <= xa or yb <= ya:
        return
    lay = layer[ya - y0 : yb - y0, xa - x0 : xb - x0].astype(np.float32)
    a = alpha[ya - y0 : yb - y0, xa - x0 : xb - x0]
    roi = img[ya:yb, xa:xb].astype(np.float32)
    if shadow_px > 0:
        shift = np.array([[1, 0, shadow_px * 0.5], [0, 1, shadow_px]], dtype=np.float32)
        sh = cv2.warpAffine(a, shift, (a.shape[1], a.shape[0]))
        sh = cv2.GaussianBlur(sh, (0, 0), max(1.0, shadow_px))
        roi *= (1.0 - 0.5 * sh)[..., None]
    roi = roi * (1.0 - a[..., None]) + lay * a[..., None]
    img[ya:yb, xa:xb] = np.clip(roi, 0, 255).astype(np.uint8)


def _chain_path(
    face: Face, spread: float = 0.62, depth: float = 0.85, top: float = 1.15
) -> list[tuple[float, float]]:
    """Points of a necklace hanging from the sides of the neck onto the chest."""
    cx = face.x + face.w / 2
    cy = face.y + face.h * top
    a, b = face.w * spread, face.h * depth
    pts = []
    for i in range(181):
        t = math.radians(8 + i * (164 / 180))
        pts.append((cx + a * math.cos(t), cy + b * math.sin(t) ** 1.15))
    return pts


def _spaced(path: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """Points at equal arc length along `path`, both ends included (symmetric chains)."""
    seg = [math.hypot(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in zip(path, path[1:])]
    total = sum(seg)
    n = max(1, round(total / step))
    out = []
    i, acc = 0, 0.0
    for k in range(n + 1):
        target = total * k / n
        while i < len(seg) - 1 and acc + seg[i] < target:
            acc += seg[i]
            i += 1
        t = 0.0 if seg[i] == 0 else min(1.0, (target - acc) / seg[i])
        (x0, y0), (x1, y1) = path[i], path[i + 1]
        out.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
    return out


def _strand(
    layer: np.ndarray,
    alpha: np.ndarray,
    pts: list[tuple[float, float]],
    kind: str,
    r: float,
    v: Variant,
) -> None:
    """One strand along `pts` (layer coordinates): Cuban links, or linked stones of radius r."""
    if kind == "cuban":
        for i, (a, b) in enumerate(zip(pts, pts[1:])):
            _cuban_link(layer, alpha, a, b, r, i % 2 == 0, v.metal)
        return
    for a, b in zip(pts, pts[1:]):
        _link(layer, alpha, a, b, r)
    for c in pts:
        _stone(layer, alpha, *c, r)


def _medallion(
    layer: np.ndarray,
    alpha: np.ndarray,
    cx: float,
    cy: float,
    r: float,
    metal: tuple[np.ndarray, np.ndarray],
) -> None:
    """A polished metal disc: a dark rim, a lit dome, an engraved ring and a raised star."""
    dark, light = metal
    cv2.circle(
        layer, _p(cx, cy), int(r * ONE), tuple(float(c) for c in dark * 0.6), -1, cv2.LINE_AA, SHIFT
    )
    cv2.circle(alpha, _p(cx, cy), int(r * 1.02 * ONE), 1.0, -1, cv2.LINE_AA, SHIFT)
    steps = 10
    for k in range(steps):  # a dome lit from the top left: smaller, brighter discs
        t = k / (steps - 1)
        rr = r * (0.9 - 0.55 * t)
        off = r * 0.18 * t
        cv2.circle(
            layer,
            _p(cx - off, cy - off),
            int(rr * ONE),
            _lerp(dark, light, 0.35 + 0.6 * t),
            -1,
            cv2.LINE_AA,
            SHIFT,
        )
    cv2.circle(
        layer,
        _p(cx, cy),
        int(r * 0.72 * ONE),
        tuple(float(c) for c in dark * 0.75),
        max(1, int(r * 0.06)),
        cv2.LINE_AA,
        SHIFT,
    )
    star = []
    for k in range(10):
        ang = -math.pi / 2 + k * math.pi / 5
        rad = r * (0.48 if k % 2 == 0 else 0.2)
        star.append(_p(cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    cv2.fillPoly(
        layer, [np.array(star, np.int32)], tuple(float(c) for c in dark * 0.8), cv2.LINE_AA, SHIFT
    )
    cv2.polylines(
        layer,
        [np.array(star, np.int32)],
        True,
        _lerp(dark, light, 1.0),
        max(1, int(r * 0.04)),
        cv2.LINE_AA,
        SHIFT,
    )


def _draw_chain(img: np.ndarray, face: Face, v: Variant) -> int:
    """Draw the chains and pendant; returns how many of the short strand's stone places landed
    inside the picture (the same count for every variant: it decides the frame)."""
    r = max(2.5, face.w * 0.066)
    path = _chain_path(face)
    places = _spaced(path, r * 2.3)
    short_kind, long_kind = v.strands
    short = places if short_kind == "stones" else _spaced(path, r * 1.7)
    # the second, longer strand hangs under the first (layered chains)
    long_path = _chain_path(face, 0.74, 1.08, 1.1)
    long_r = r * 0.95 if long_kind == "cuban" else r * 0.72
    longer = _spaced(long_path, r * 1.25 if long_kind == "cuban" else long_r * 2.3)
    bottom = max(places, key=lambda p: p[1])
    pend_r = r * 2.3
    pend = (bottom[0], bottom[1] + r * 1.1 + pend_r * 1.25)
    xs = [p[0] for p in short + longer] + [pend[0]]
    ys = [p[1] for p in short + longer] + [pend[1]]
    pad = pend_r * 1.7 + 4
    x0, y0 = int(min(xs) - pad), int(min(ys) - pad)
    x1, y1 = int(max(xs) + pad), int(max(ys) + pad)
    ss = max(1, min(4, math.ceil(14 / r)))
    layer = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss, 3), np.uint8)
    alpha = np.zeros(layer.shape[:2], np.float32)

    def L(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] - x0) * ss, (p[1] - y0) * ss

    rs = r * ss
    _strand(layer, alpha, [L(p) for p in longer], long_kind, long_r * ss, v)
    short_r = rs if short_kind == "stones" else rs * 1.25  # the gold variant's heavy Cuban
    _strand(layer, alpha, [L(p) for p in short], short_kind, short_r, v)
    # the pendant hangs from the lowest link on a bail
    bx, by = L(bottom)
    px, py = L(pend)
    bail_dark, bail = (
        (METAL_DARK, METAL)
        if v.pendant == "halo"
        else (tuple(float(c) for c in v.metal[0] * 0.7), _lerp(*v.metal, 0.6))
    )
    cv2.line(
        layer,
        _p(bx, by),
        _p(px, py - pend_r * ss),
        bail_dark,
        max(2, int(rs * 0.7)),
        cv2.LINE_AA,
        SHIFT,
    )
    cv2.line(
        layer, _p(bx, by), _p(px, py - pend_r * ss), bail, max(1, int(rs * 0.4)), cv2.LINE_AA, SHIFT
    )
    cv2.line(
        alpha, _p(bx, by), _p(px, py - pend_r * ss), 1.0, max(2, int(rs * 0.7)), cv2.LINE_AA, SHIFT
    )
    if v.pendant == "medallion":
        _medallion(layer, alpha, px, py, pend_r * ss * 1.55, v.metal)
    else:  # a halo of small stones round a big one
        cv2.circle(
            layer, _p(px, py), int(pend_r * ss * 1.62 * ONE), METAL_DARK, -1, cv2.LINE_AA, SHIFT
        )
        cv2.circle(alpha, _p(px, py), int(pend_r * ss * 1.64 * ONE), 1.0, -1, cv2.LINE_AA, SHIFT)
        ring = 12
        for k in range(ring):
            ang = 2 * math.pi * k / ring - math.pi / 2
            _stone(
                layer,
                alpha,
                px + math.cos(ang) * pend_r * ss * 1.3,
                py + math.sin(ang) * pend_r * ss * 1.3,
                pend_r * ss * 0.3,
                setting=False,
            )
        _stone(layer, alpha, px, py, pend_r * ss, setting=True)
    _composite(img, layer, alpha, x0, y0, ss, shadow_px=r * 0.45)
    glints = short if short_kind == "stones" else short[::3]
    for i, c in enumerate(glints):
        if i % 4 == 1:
            _sparkle(img, c[0] - r * 0.3, c[1] - r * 0.3, r * 1.6)
    _sparkle(img, pend[0] - pend_r * 0.35, pend[1] - pend_r * 0.4, pend_r * 1.9)
    h, w = img.shape[:2]
    return sum(1 for (x, y) in places if 0 <= x < w and 0 <= y < h)


def _draw_grills(img: np.ndarray, smile: Box, v: Variant) -> None:
    """Metal teeth over the smiling mouth, a small diamond in each where the variant has them."""
    dark, light = v.metal
    sx, sy, sw, sh = smile
    mx0, mx1 = sx + sw * 0.14, sx + sw * 0.86
    top, height = sy + sh * 0.44, sh * 0.36
    n = 6
    tw = (mx1 - mx0) / n
    ss = max(1, min(4, math.ceil(24 / max(1.0, tw))))
    pad = int(tw) + 4
    x0, y0 = int(mx0 - pad), int(top - pad)
    x1, y1 = int(mx1 + pad), int(top + height * 1.4 + pad)
    layer = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss, 3), np.uint8)
    alpha = np.zeros(layer.shape[:2], np.float32)
    seam = tuple(float(c) for c in dark * 0.55)
    for i in range(n):
        u = (i + 0.5) / n * 2 - 1  # -1 … 1 across the mouth
        lift = height * 0.35 * u * u  # a smile curves up at the corners
        th = height * (1.0 - 0.25 * u * u)
        tx0 = (mx0 + i * tw + tw * 0.06 - x0) * ss
        tx1 = (mx0 + (i + 1) * tw - tw * 0.06 - x0) * ss
        ty0 = (top - lift - y0) * ss
        ty1 = ty0 + th * ss
        rad = (tx1 - tx0) * 0.3
        # the dark seam between teeth: a base slightly larger than the tooth
        g = tw * 0.07 * ss
        base = np.array(
            [
                _p(tx0 - g, ty0 - g * 0.5),
                _p(tx1 + g, ty0 - g * 0.5),
                _p(tx1 + g - rad * 0.4, ty1 + g),
                _p(tx0 - g + rad * 0.4, ty1 + g),
            ],
            np.int32,
        )
        cv2.fillConvexPoly(layer, base, seam, cv2.LINE_AA, SHIFT)
        cv2.fillConvexPoly(alpha, base, 0.9, cv2.LINE_AA, SHIFT)
        # a rounded tooth: body plus rounded bottom corners, shaded top to bottom
        steps = 8
        for k in range(steps):
            t0 = ty0 + (ty1 - ty0) * k / steps
            t1 = ty0 + (ty1 - ty0) * (k + 1) / steps
            col = _lerp(light, dark, 0.15 + 0.8 * k / steps)
            inset = (
                rad * (1 - math.sqrt(max(0.0, 1 - ((t1 - (ty1 - rad)) / rad) ** 2)))
                if t1 > ty1 - rad
                else 0.0
            )
            box = np.array(
                [
                    _p(tx0 + inset, t0),
                    _p(tx1 - inset, t0),
                    _p(tx1 - inset, t1),
                    _p(tx0 + inset, t1),
                ],
                np.int32,
            )
            cv2.fillConvexPoly(layer, box, col, cv2.LINE_AA, SHIFT)
            cv2.fillConvexPoly(alpha, box, 0.97, cv2.LINE_AA, SHIFT)
        cv2.line(
            layer,
            _p(tx0 + (tx1 - tx0) * 0.22, ty0 + (ty1 - ty0) * 0.12),
            _p(tx0 + (tx1 - tx0) * 0.22, ty0 + (ty1 - ty0) * 0.7),
            (200, 245, 255),
            max(1, int((tx1 - tx0) * 0.08)),
            cv2.LINE_AA,
            SHIFT,
        )
        if v.grill_stones:
            _stone(
                layer,
                alpha,
                (tx0 + tx1) / 2,
                ty0 + (ty1 - ty0) * 0.5,
                (tx1 - tx0) * 0.26,
                setting=False,
            )
    _composite(img, layer, alpha, x0, y0, ss, shadow_px=0)
    _sparkle(img, mx0 + tw * 1.5, top, tw * 0.9)


def _stud(
    img: np.ndarray, cx: float, cy: float, r: float, metal: tuple[np.ndarray, np.ndarray]
) -> None:
    """A domed metal stud set into the frame (the variants without diamonds)."""
    dark, light = metal
    cv2.circle(
        img,
        _p(cx + r * 0.12, cy + r * 0.15),
        int(r * 1.05 * ONE),
        tuple(float(c) for c in dark * 0.45),
        -1,
        cv2.LINE_AA,
        SHIFT,
    )
    for k in range(5):
        t = k / 4
        cv2.circle(
            img,
            _p(cx - r * 0.15 * t, cy - r * 0.15 * t),
            int(r * (1 - 0.55 * t) * ONE),
            _lerp(dark, light, 0.3 + 0.7 * t),
            -1,
            cv2.LINE_AA,
            SHIFT,
        )


def _draw_frame(img: np.ndarray, v: Variant) -> None:
    """No face: a metal bezel set with diamonds (or studs) all round, starbursts in the
    corners."""
    dark, light = v.metal
    h, w = img.shape[:2]
    t = max(8.0, min(h, w) * 0.05)
    k = min(min(h, w) // 2, int(math.ceil(t * 1.9)))
    # only the four border strips are touched (speed on big pictures)
    for y0, y1, x0, x1 in ((0, k, 0, w), (h - k, h, 0, w), (k, h - k, 0, k), (k, h - k, w - k, w)):
        if y1 <= y0 or x1 <= x0:
            continue
        ys = np.arange(y0, y1, dtype=np.float32)
        xs = np.arange(x0, x1, dtype=np.float32)
        d = np.minimum(np.minimum(ys, h - 1 - ys)[:, None], np.minimum(xs, w - 1 - xs)[None, :])
        bevel = np.sin(np.clip(d / t, 0, 1) * math.pi)  # bright mid-band
        metal = dark + (light - dark) * (0.2 + 0.8 * bevel)[..., None]
        cover = np.clip(t - d + 0.5, 0, 1)[..., None]  # anti-aliased inner edge
        shadow = np.clip(1 - (d - t) / (0.8 * t), 0, 1) * (d >= t)  # soft shadow inside
        roi = img[y0:y1, x0:x1].astype(np.float32)
        roi = roi * (1 - cover) + metal * cover
        roi *= (1 - 0.45 * shadow)[..., None]
        img[y0:y1, x0:x1] = np.clip(roi, 0, 255).astype(np.uint8)
    cv2.rectangle(
        img,
        (int(t), int(t)),
        (w - 1 - int(t), h - 1 - int(t)),
        tuple(float(c) for c in dark * 0.6),
        max(1, int(t / 10)),
        cv2.LINE_AA,
    )
    c = t / 2
    r = t * 0.34
    step = r * 2.9
    stones: list[tuple[float, float]] = []
    nx = max(2, int((w - 2 * c) / step))
    ny = max(2, int((h - 2 * c) / step))
    for i in range(nx + 1):
        x = c + (w - 2 * c) * i / nx
        stones += [(x, c), (x, h - c)]
    for j in range(1, ny):
        y = c + (h - 2 * c) * j / ny
        stones += [(c, y), (w - c, y)]
    for x, y in stones:
        if v.frame_stones:
            _stone(img, None, x, y, r)
        else:
            _stud(img, x, y, r * 0.8, v.metal)
    for x, y in ((c, c), (w - c, c), (c, h - c), (w - c, h - c)):
        _sparkle(img, x, y, t * 1.6)
    rng = np.random.default_rng(7)
    for _ in range(6):
        _sparkle(img, float(rng.uniform(t * 2, w - t * 2)), float(rng.choice([c, h - c])), t * 0.9)
