"""A strip session's sheet without a broker: the layouts' sizes and boxes (booth/sheet.py), and
the compose (kiosk/jobs/compose.py): every frame in its box, the caption bar of a frame cropped
off, a frame without a picture showing its shot, the band's text."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from booth.config import Config
from booth.sheet import GRID, STRIP, layout
from kiosk.jobs.branding import bar_height
from kiosk.jobs.compose import FrameFiles, SheetBrand, compose, cover

GREEN = (0, 255, 0)


@pytest.mark.parametrize(
    ("kind", "frames", "portrait", "size", "spare"),
    [
        (STRIP, 4, False, (600, 1800), 0),
        (STRIP, 3, False, (600, 1800), 0),
        (STRIP, 2, True, (600, 1800), 0),
        (GRID, 4, False, (1800, 1200), 0),
        (GRID, 4, True, (1200, 1800), 0),
        (GRID, 3, False, (1800, 1200), 1),
        (GRID, 1, False, (1800, 1200), 3),
    ],
)
def test_every_box_is_on_the_sheet_and_none_overlap(kind, frames, portrait, size, spare):
    lay = layout(kind, frames, portrait)
    assert lay.size == size and len(lay.cells) == frames and len(lay.spare) == spare
    w, h = size
    boxes = [*lay.cells, *lay.spare, lay.band]
    for b in boxes:
        assert 0 <= b.x and 0 <= b.y and b.x + b.w <= w and b.y + b.h <= h and b.w > 0 < b.h
    for a, b in itertools.combinations(boxes, 2):
        assert a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
    if kind == STRIP:  # the classic strip: 3:2 frames, what is left is the band
        assert all(abs(c.w / c.h - 1.5) < 0.01 for c in lay.cells)
    assert lay.band.h >= 100


def test_a_layout_refuses_what_it_cannot_hold():
    with pytest.raises(ValueError):
        layout(STRIP, 5)
    with pytest.raises(ValueError):
        layout("collage", 4)


def _picture(folder: Path, name: str, colour: tuple[int, int, int], bar: bool) -> Path:
    """A 1536×700 picture of one colour with a caption bar of pure green under it (as the kiosk
    stores a captioned result: kiosk/jobs/branding.py), or without one. Wider than every box
    even with its bar, so that only a crop of the bar itself can take the bar away."""
    img = np.zeros((700, 1536, 3), np.uint8)
    img[:] = colour
    cv2.circle(img, (768, 300), 150, (255, 255, 255), -1)  # a "face" in the upper half
    if bar:
        strip = np.zeros((bar_height(1536), 1536, 3), np.uint8)
        strip[:] = GREEN
        img = np.vstack([img, strip])
    path = folder / f"{name}.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def _green(region: np.ndarray) -> float:
    b, g, r = (region[..., i].astype(int) for i in range(3))
    return float(np.mean((g > 200) & (b < 60) & (r < 60)))


def _cells(jpeg: bytes, kind: str, n: int) -> list[np.ndarray]:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    lay = layout(kind, n)
    assert img is not None and (img.shape[1], img.shape[0]) == lay.size
    return [img[c.y : c.y + c.h, c.x : c.x + c.w] for c in lay.cells]


@pytest.mark.parametrize("kind", [STRIP, GRID])
def test_each_frame_in_its_box_without_its_caption_bar(tmp_path, kind):
    colours = [(200, 40, 40), (40, 40, 200), (40, 160, 200), (160, 40, 160)]
    shots = [_picture(tmp_path, f"shot{i}", (90, 90, 90), False) for i in range(4)]
    results = [_picture(tmp_path, f"r{i}", c, True) for i, c in enumerate(colours)]
    cfg = Config()
    cfg.kiosk.caption = "{title} · {date}"
    brand = SheetBrand.from_config(cfg, time.time())
    made = compose(kind, [FrameFiles(s, r) for s, r in zip(shots, results)], False, brand)
    for cell, colour in zip(_cells(made.sheet, kind, 4), colours):
        assert _green(cell) == 0.0  # the bar went (a sheet has one band of its own)
        corner = cell[5:25, 5:25].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - np.array(colour)).max() < 30, (corner, colour)
    for cell in _cells(made.shots, kind, 4):  # the shots' sheet: the same boxes, the shots
        assert np.abs(cell[5:25, 5:25].reshape(-1, 3).mean(axis=0) - 90).max() < 20
    # the frames' caption bars are only cropped when the results carry one
    brand = SheetBrand.from_config(Config(), time.time())
    uncropped = compose(kind, [FrameFiles(s, r) for s, r in zip(shots, results)], False, brand)
    assert any(_green(c) > 0.01 for c in _cells(uncropped.sheet, kind, 4))


def test_a_frame_without_a_picture_shows_its_shot(tmp_path):
    shot = _picture(tmp_path, "shot", (30, 120, 30), False)
    other = _picture(tmp_path, "other", (200, 40, 40), False)
    files = [FrameFiles(shot, other), FrameFiles(shot, None), FrameFiles(shot, other)]
    made = compose(STRIP, files, False, SheetBrand.from_config(Config(), time.time()))
    cells, shot_cells = _cells(made.sheet, STRIP, 3), _cells(made.shots, STRIP, 3)
    assert np.abs(cells[1].astype(int) - shot_cells[1].astype(int)).mean() < 2
    assert np.abs(cells[0].astype(int) - shot_cells[0].astype(int)).mean() > 40


def test_the_band_carries_the_title(tmp_path):
    """The title in the band (Pillow's FreeType): gold ink there, none without a title."""
    shot = _picture(tmp_path, "shot", (90, 90, 90), False)
    band = layout(STRIP, 4).band

    def gold(title: str) -> float:
        cfg = Config()
        cfg.kiosk.title = title
        brand = SheetBrand.from_config(cfg, time.time())
        made = compose(STRIP, [FrameFiles(shot, shot)] * 4, False, brand)
        img = cv2.imdecode(np.frombuffer(made.sheet, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None
        area = img[band.y : band.y + band.h, band.x : band.x + band.w].astype(int)
        return float(np.mean((area[..., 2] > 180) & (area[..., 1] > 140) & (area[..., 0] < 120)))

    if brand_font_missing():
        pytest.skip("no TrueType font to draw the band's text with")
    assert gold("Anna & Ben") > 0.01
    assert gold("") == 0.0


def brand_font_missing() -> bool:
    from kiosk.jobs.branding import font_path

    return font_path() is None


def test_cover_crops_nearer_the_top():
    """A tall picture in a wide box keeps more of its top (the faces) than its bottom."""
    img = np.repeat(np.linspace(0, 250, 1000).astype(np.uint8)[:, None, None], 300, axis=1)
    img = np.repeat(img, 3, axis=2)  # each row's value says where it was: 0.25 per row
    out = cover(img, (300, 150))
    assert out.shape == (150, 300, 3)
    first_row = round(float(out[0, 0, 0]) / 0.25)
    assert abs(first_row - 0.3 * 850) <= 3  # 30 % of the 850 rows cut are cut above
