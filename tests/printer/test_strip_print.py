"""A strip session's sheet through the real stack: the printer process asks a real cupsd, whose
driverless queue sends the job to ippeveprinter, which keeps the file. A session prints as one
page (its sheet, never its frames), of the paper's pixel size at 300 dpi (printer/render.py):
a 2x6 in strip (600 x 1800) whole in the middle of 4x6 paper (1200 x 1800, white beside it), the
same strip filling `print.media = "2x6"` (600 x 1800: strips cut from a 4x6 roll, the driver's
size name in `print.media_name`), and a 2x2 grid filling 4x6 paper (1800 x 1200).

The session is made the way the kiosk makes it (tests/share/test_strip_share.py make_session)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from booth.sheet import layout
from printer.service import PrinterService
from tests.printer.helpers import wait_for
from tests.share.test_strip_share import make_session
from tests.support.cups import PAPER, CupsRig, Printed

pytestmark = [pytest.mark.cups, pytest.mark.slow]


def print_session(
    booth, rig: CupsRig, kind: str, **settings
) -> tuple[np.ndarray, Printed, np.ndarray]:
    """A composed session of `kind` printed through the rig: the page's picture, the page, and
    the stored sheet."""
    cfg, photos, watcher = booth(**settings)
    made = make_session(cfg, photos.ledger, shots=4, kind=kind)
    service = PrinterService(cfg).start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        wait_for(lambda: watcher.state() and watcher.state().state == "ready", 30, "ready")
        watcher.request(made.session_id)
        done = wait_for(
            lambda: (s := watcher.photo(made.session_id)) and s.state == "printed" and s,
            90,
            "the sheet printed",
        )
        assert done.printed == 1 and done.waiting == 0
    finally:
        service.stop()
    pages = rig.printed()
    assert len(pages) == 1, pages  # one sheet, not one page per frame
    data = pages[0].file.read_bytes()
    assert data[:2] == b"\xff\xd8" and data[13:18] == b"\x01\x01\x2c\x01\x2c"  # JFIF: 300 dpi
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    for job_id in made.frames:
        assert watcher.photo(job_id) is None  # no frame was printed or asked for
    row = photos.ledger.get(made.session_id)
    assert row is not None and row.result_path
    sheet = cv2.imread(str(cfg.data_path / row.result_path))
    assert sheet is not None
    return img, pages[0], sheet


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same picture but for JPEG's loss."""
    return a.shape == b.shape and float(np.abs(a.astype(int) - b.astype(int)).mean()) < 4


def white(img: np.ndarray) -> bool:
    return bool(img.min() > 240)


def test_a_strip_prints_whole_in_the_middle_of_4x6_paper(booth, rig):
    img, page, sheet = print_session(booth, rig, "strip")
    assert page.four_by_six, page.media_col
    assert (img.shape[1], img.shape[0]) == (1200, 1800)  # 4x6 in, portrait like the strip
    # `fit`: the 600 x 1800 strip at full height in the middle, white paper beside it
    assert (sheet.shape[1], sheet.shape[0]) == layout("strip", 4).size == (600, 1800)
    assert white(img[:, 5:295]) and white(img[:, 905:1195])
    assert same(img[:, 300:900], sheet)


def test_a_strip_fills_2x6_paper(booth, rig):
    img, _page, sheet = print_session(booth, rig, "strip", media="2x6", media_name=PAPER)
    assert (img.shape[1], img.shape[0]) == (600, 1800)  # 2x6 in: the strip itself
    assert same(img, sheet)  # nothing added, nothing cropped


def test_a_grid_fills_4x6_paper(booth, rig):
    img, page, sheet = print_session(booth, rig, "grid")
    assert page.four_by_six, page.media_col
    assert (sheet.shape[1], sheet.shape[0]) == layout("grid", 4).size == (1800, 1200)
    assert (img.shape[1], img.shape[0]) == (1800, 1200)
    assert same(img, sheet)  # the sheet to the paper's edges
