"""The offline effect on real photos: a chain under the face, a frame when there is no face."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from booth.protocol import Effect, JobStatus
from tests.worker.helpers import FIXTURES, decode, portrait_bytes


@pytest.fixture(scope="module")
def effect():
    from worker.local_effect import LocalEffect

    return LocalEffect()


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.absdiff(a, b).max(axis=2)


def test_portrait_face_found_and_region_below_changed(effect, out_dir):
    img = cv2.imread(str(FIXTURES / "portrait.jpg"))
    res = effect.apply(img)
    cv2.imwrite(str(out_dir / "local-portrait.png"), res.image)
    assert len(res.faces) == 1
    f = res.faces[0]
    # the data README: the cascade finds her face at about x=177 y=66 w=95 h=95
    assert abs(f.x - 177) < 15 and abs(f.y - 66) < 15 and abs(f.w - 95) < 20
    d = _diff(img, res.image)
    below = d[f.y + f.h + f.h // 4 : f.y + 2 * f.h, f.x : f.x + f.w]
    assert (below > 40).mean() > 0.15, "the chain must visibly change the region under the face"
    far = d[:60, 400:]  # top-right corner (the shuttle's sky), nowhere near the face
    assert (far > 8).mean() < 0.01
    above = d[: max(0, f.y - 10), f.x : f.x + f.w]
    assert (above > 8).mean() < 0.01, "nothing is drawn over the hair"
    assert img.shape == res.image.shape


def test_smile_gets_grills(effect):
    img = cv2.imread(str(FIXTURES / "portrait.jpg"))
    res = effect.apply(img)
    f = res.faces[0]
    assert f.smile is not None, "the astronaut smiles: the smile cascade should fire"
    sx, sy, sw, sh = f.smile
    d = _diff(img, res.image)[sy : sy + sh, sx : sx + sw]
    assert (d > 40).mean() > 0.2
    # gold grills: the mouth region turns gold (more red+green than blue)
    mouth = res.image[sy + sh // 3 : sy + 2 * sh // 3, sx + sw // 4 : sx + 3 * sw // 4].astype(int)
    assert (mouth[..., 2] - mouth[..., 0]).mean() > 40


def test_no_face_gets_a_visible_frame(effect, out_dir):
    img = cv2.imread(str(FIXTURES / "no-face.jpg"))
    res = effect.apply(img)
    cv2.imwrite(str(out_dir / "local-no-face.png"), res.image)
    assert res.faces == [] and res.framed
    d = _diff(img, res.image)
    h, w = d.shape
    border = np.concatenate(
        [
            d[: h // 25].ravel(),
            d[-h // 25 :].ravel(),
            d[:, : w // 25].ravel(),
            d[:, -w // 25 :].ravel(),
        ]
    )
    assert (border > 40).mean() > 0.5
    centre = d[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    assert (centre > 8).mean() < 0.01


def test_deterministic_and_input_untouched(effect):
    img = cv2.imread(str(FIXTURES / "portrait.jpg"))
    before = img.copy()
    a = effect.apply(img).image
    b = effect.apply(img).image
    assert np.array_equal(a, b)
    assert np.array_equal(img, before)
    nf = cv2.imread(str(FIXTURES / "no-face.jpg"))
    assert np.array_equal(effect.apply(nf).image, effect.apply(nf).image)


def test_large_and_tiny_images(effect, out_dir):
    img = cv2.imread(str(FIXTURES / "portrait.jpg"))
    big = cv2.resize(img, (1536, 1536), interpolation=cv2.INTER_CUBIC)
    res = effect.apply(big)
    cv2.imwrite(str(out_dir / "local-portrait-1536.jpg"), res.image)
    assert len(res.faces) == 1 and res.faces[0].w > 200
    tiny = np.full((40, 60, 3), 200, np.uint8)
    out = effect.apply(tiny).image
    assert out.shape == tiny.shape and not np.array_equal(out, tiny)


def test_no_api_key_every_job_gets_the_local_effect_and_says_so_once(
    worker_config, start_worker, kiosk, fake, caplog
):
    with caplog.at_level(logging.INFO, logger="worker"):
        start_worker(worker_config(key=False))
        jobs = [kiosk.send(portrait_bytes()), kiosk.send((FIXTURES / "no-face.jpg").read_bytes())]
        finals = [kiosk.final(j) for j in jobs]
    for job, final in zip(jobs, finals):
        assert final.status is JobStatus.COMPLETED and final.effect is Effect.LOCAL
        assert final.error is None
        [(data, _props)] = kiosk.results(job)
        assert decode(data) is not None
    assert fake.requests == []
    assert caplog.text.count("no GEMINI_API_KEY") == 1


def test_close_up_whose_chain_falls_off_the_picture_also_gets_the_frame(effect, out_dir):
    img = cv2.imread(str(FIXTURES / "portrait.jpg"))[40:200, 140:310]
    res = effect.apply(img)
    cv2.imwrite(str(out_dir / "local-closeup.png"), res.image)
    assert len(res.faces) == 1 and res.framed
    d = _diff(img, res.image)
    assert (d[:4].ravel() > 40).mean() > 0.5  # the frame's top edge


def test_two_faces_two_chains(effect, out_dir):
    one = cv2.imread(str(FIXTURES / "portrait.jpg"))
    two = np.hstack([one, cv2.flip(one, 1)])
    res = effect.apply(two)
    cv2.imwrite(str(out_dir / "local-two-faces.png"), res.image)
    assert len(res.faces) == 2 and not res.framed
    d = _diff(two, res.image)
    for f in res.faces:
        below = d[f.y + f.h + f.h // 4 : f.y + 2 * f.h, f.x : f.x + f.w]
        assert (below > 40).mean() > 0.15


SIZES = [(1, 1), (8, 8), (16, 16), (1, 16), (16, 1), (7, 63), (63, 64), (64, 8), (33, 200)]


@pytest.mark.parametrize("w,h", SIZES)
def test_any_size_gives_a_picture_of_that_size_or_bad_input(effect, w, h):
    """Tiny photos are drawn on an enlarged copy; only a picture too thin to enlarge is
    refused, and then as a bad image (the worker's bad_input), never a crash."""
    from booth.images import BadImage

    img = np.random.default_rng(w * 1000 + h).integers(0, 255, (h, w, 3), np.uint8)
    try:
        out = effect.apply(img).image
    except BadImage as exc:
        assert "too thin" in str(exc)
        assert max(w, h) * 64 / min(w, h) > 4096
        return
    assert out.shape == img.shape and out.dtype == np.uint8


def test_a_strip_too_thin_to_draw_on_is_refused(effect):
    from booth.images import BadImage

    with pytest.raises(BadImage, match="too thin"):
        effect.apply(np.zeros((1, 5000, 3), np.uint8))


@pytest.mark.parametrize("fmt", [".jpg", ".png"])
def test_tiny_photos_through_the_worker_never_end_internal(worker_config, start_worker, kiosk, fmt):
    start_worker(worker_config(key=False))
    jobs = {}
    for side in (1, 8, 16):
        ok, buf = cv2.imencode(fmt, np.full((side, side, 3), 150, np.uint8))
        assert ok
        jobs[side] = kiosk.send(
            buf.tobytes(), content_type="image/png" if fmt == ".png" else "image/jpeg"
        )
    for side, job in jobs.items():
        final = kiosk.final(job)
        assert final is not None, f"no final status for the {side}×{side} photo"
        # a square photo is never too thin for the local effect: a picture, whatever its size
        assert final.status is JobStatus.COMPLETED, (side, final)
        [(data, _props)] = kiosk.results(job)
        assert decode(data).shape[:2] == (side, side)


# ---------------------------------------------------------------------------- honest styles
STYLES = """
[styles.drip]
label = "Diamond drip"
prompt = "Add a diamond chain"
local = "diamond"
[styles.gold]
label = "Gold"
prompt = "Add a gold chain"
local = "gold"
[styles.ice]
label = "Ice"
prompt = "Add an iced-out chain"
local = "ice"
[styles.bling]
label = "Bling"
prompt = "Add a lot of bling"
local = "gold"
"""


def _goldness(bgr: np.ndarray) -> float:
    """How gold a region is: red and green well above blue (BGR order)."""
    b, g, r = (bgr[..., i].astype(float) for i in range(3))
    return float(((r - b > 60) & (g - b > 30)).mean())


def test_the_config_and_the_effect_know_the_same_variants():
    from booth.config import LOCAL_VARIANTS
    from worker.local_effect import VARIANTS

    assert set(LOCAL_VARIANTS) == set(VARIANTS)


def test_each_variant_looks_different(effect, out_dir):
    """Pairwise: the chain region (a face) and the frame (no face) change visibly, and gold
    is gold, ice has none."""
    from worker.local_effect import VARIANTS

    portrait = cv2.imread(str(FIXTURES / "portrait.jpg"))
    noface = cv2.imread(str(FIXTURES / "no-face.jpg"))
    faces = {v: effect.apply(portrait, v) for v in VARIANTS}
    frames = {v: effect.apply(noface, v).image for v in VARIANTS}
    cv2.imwrite(str(out_dir / "local-variants.png"), np.hstack([faces[v].image for v in VARIANTS]))
    f = faces["diamond"].faces[0]
    chain = (
        slice(f.y + f.h, min(portrait.shape[0], f.y + 2 * f.h + f.h // 2)),
        slice(max(0, f.x - f.w // 2), f.x + f.w + f.w // 2),
    )
    names = list(VARIANTS)
    for i, a in enumerate(names):
        for c in names[i + 1 :]:
            d_face = _diff(faces[a].image[chain], faces[c].image[chain])
            assert (d_face > 40).mean() > 0.05, (a, c)
            h, w = noface.shape[:2]
            border = _diff(frames[a], frames[c])[: h // 20]
            assert (border > 40).mean() > 0.1, (a, c)
    gold = {v: _goldness(faces[v].image[chain]) for v in VARIANTS}
    bare = _goldness(portrait[chain])  # the orange suit counts a little
    assert gold["gold"] > gold["diamond"] > bare + 0.02 and gold["ice"] <= bare, (gold, bare)
    sx, sy, sw, sh = f.smile
    mouth = (slice(sy + sh // 3, sy + 2 * sh // 3), slice(sx + sw // 4, sx + 3 * sw // 4))
    assert _goldness(faces["gold"].image[mouth]) > 0.3
    assert _goldness(faces["ice"].image[mouth]) < 0.05  # white grills


def test_without_a_key_the_styles_on_offer_look_different(worker_config, start_worker, kiosk, fake):
    """The real worker with no API key: each style the kiosk offers gets its own look; two
    styles sharing a variant are not both offered (kiosk/ui/offer.py)."""
    from kiosk.ui.offer import offered_styles

    cfg = worker_config(key=False, extra=STYLES)
    start_worker(cfg)
    offered = offered_styles(cfg, local_only=True)
    assert offered == ["drip", "gold", "ice"]  # "bling" draws like "gold": not offered
    results = {}
    for style in cfg.styles:
        job = kiosk.send(portrait_bytes(), style=style)
        final = kiosk.final(job)
        assert final.status is JobStatus.COMPLETED and final.effect is Effect.LOCAL
        [(data, _props)] = kiosk.results(job)
        results[style] = decode(data)
    assert fake.requests == []
    for i, a in enumerate(offered):
        for b in offered[i + 1 :]:
            assert (_diff(results[a], results[b]) > 40).mean() > 0.005, (a, b)
    assert np.array_equal(results["gold"], results["bling"])  # why "bling" is not offered
