"""A print through the real stack: the printer process asks a real cupsd, whose driverless queue
sends the job to ippeveprinter, which keeps the file it was sent. What lands there is the print:
a decodable JPEG of the paper's pixel size at 300 dpi, on 4x6 paper, with the event's caption
bar the kiosk burned into the stored picture. Then fifty in a row: all of them, in the order
asked, each once."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jobstore import prints as pq
from kiosk.jobs.branding import BAR_BGR
from printer.service import PrinterService
from tests.printer.helpers import wait_for
from tests.support.cups import print_ids

pytestmark = [pytest.mark.cups, pytest.mark.slow]

CAPTION = '[kiosk]\ncaption = "{title} · {date}"\ntitle = "Anna & Ben"\n'


def test_a_print_lands_as_a_4x6_page_with_the_branding(booth, rig):
    cfg, photos, watcher = booth(CAPTION)
    job = photos.add()
    service = PrinterService(cfg).start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        wait_for(lambda: watcher.state() and watcher.state().state == "ready", 30, "ready")
        watcher.request(job)
        done = wait_for(
            lambda: (s := watcher.photo(job)) and s.state == "printed" and s, 60, "printed"
        )
        assert done.printed == 1 and done.waiting == 0
    finally:
        service.stop()
    [page] = rig.printed()
    assert page.four_by_six, page.media_col  # CUPS asked the printer for 4x6 paper
    assert page.copies == 1
    data = page.file.read_bytes()
    assert data[:2] == b"\xff\xd8" and data[13:18] == b"\x01\x01\x2c\x01\x2c"  # JFIF: 300 dpi
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    assert (img.shape[1], img.shape[0]) == (1800, 1200)  # landscape photo, 4x6 in at 300 dpi
    # `fit`: all of the picture, its caption bar (the kiosk's colours) across the bottom of the
    # picture, white beside it
    stored = cv2.imread(str(cfg.data_path / photos.ledger.get(job).result_path))
    h, w = stored.shape[:2]
    scale = min(1800 / w, 1200 / h)
    pw = round(w * scale)
    left = (1800 - pw) // 2
    bar = img[1200 - 20 : 1200 - 4, left + 20 : left + pw - 20]
    assert np.abs(bar.reshape(-1, 3).mean(axis=0) - np.array(BAR_BGR)).max() < 30, bar.mean()
    assert img[600, 5].min() > 240 and img[600, 1794].min() > 240  # the white border
    row = pq.PrintQueue(cfg.data_path / "ledger.sqlite").for_job(job)
    assert [r.state for r in row] == ["printed"] and row[0].cups_job_id == page.job_id
    assert print_ids([page.name]) == [row[0].print_id]


def test_fifty_prints_all_land_in_order_once_each(booth, rig):
    cfg, photos, watcher = booth(copies=1, budget=0)
    jobs = [photos.add() for _ in range(50)]
    service = PrinterService(cfg).start()
    try:
        wait_for(watcher.online, 30, "the printer process online")
        for job in jobs:
            watcher.request(job)
        wait_for(lambda: len(rig.printed()) >= 50, 300, "50 pages out of the printer")
        wait_for(
            lambda: all((s := watcher.photo(j)) and s.state == "printed" for j in jobs),
            60,
            "every photo printed",
        )
    finally:
        service.stop()
    queue = pq.PrintQueue(cfg.data_path / "ledger.sqlite")
    by_print = {r.print_id: job for job in jobs for r in queue.for_job(job)}
    printed = print_ids(rig.printed_names())
    assert len(printed) == 50 and len(set(printed)) == 50  # each once
    assert [by_print[p] for p in printed] == jobs  # in the order asked
    assert all(r.state == "printed" for job in jobs for r in queue.for_job(job))
