"""tests/support/phonecam.py, the one phone-camera model behind every "scans from …" claim, held
against an earlier measurement of the old join code: 3 px per module on the 7" 800×480
panel decodes only from about 0.2 m."""

from __future__ import annotations

import numpy as np

from booth.qr import qr_matrix, wifi_join_payload
from tests.support.phonecam import PI_7_INCH, framed_rate

JOIN = wifi_join_payload("Drip Booth", "confetti2026")


def screen_with_code(payload: str, cell: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A dark 800×480 screen with the code on its white card in whole-pixel modules, as the
    kiosk draws it; and the card (x, y, w, h)."""
    matrix = np.array(qr_matrix(payload), dtype=bool)  # its quiet zone included
    side = len(matrix) * cell
    img = np.full((PI_7_INCH.height_px, PI_7_INCH.width_px, 3), 30, np.uint8)
    x, y = (PI_7_INCH.width_px - side) // 2, (PI_7_INCH.height_px - side) // 2
    code = np.where(np.kron(matrix, np.ones((cell, cell), dtype=bool)), 0, 255)
    img[y : y + side, x : x + side] = code.astype(np.uint8)[..., None]
    return img, (x, y, side, side)


def test_the_old_join_code_reads_from_about_20_cm_only():
    img, card = screen_with_code(JOIN, 3)
    assert framed_rate(img, 200, JOIN, card) > 0.5
    assert framed_rate(img, 500, JOIN, card) == 0.0
    assert framed_rate(img, 700, JOIN, card) == 0.0


def test_a_larger_module_reads_from_further():
    img, card = screen_with_code(JOIN, 9)
    assert framed_rate(img, 700, JOIN, card) > 0.5
