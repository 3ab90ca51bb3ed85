"""The whole booth printing: `booth up` headless with `[print]` on in auto mode starts the printer
process beside the kiosk, worker and share server, and each shot (the file camera, the local
effect, the result stored with the event's caption) comes out of a real printer behind a
private cupsd once, as a 4x6 page at 300 dpi."""

from __future__ import annotations

import re
import subprocess
import time

import cv2
import numpy as np
import pytest

from tests.e2e.rig import BOOTH, ROOT, base_toml, run_up
from tests.support.cups import CupsRig, print_ids, tools_available
from tests.support.mosquitto import free_port

pytestmark = [pytest.mark.cups, pytest.mark.slow]


def test_booth_up_prints_every_shot_once_in_auto_mode(rig):
    if not tools_available():
        pytest.fail("cupsd, ippeveprinter or avahi-daemon missing: `make test` installs them")
    cups = CupsRig().start()
    try:
        rig.config.write_text(
            base_toml(
                rig.share_port,
                '[print]\nenabled = true\nmode = "auto"\n'
                f'queue = "{cups.queue}"\nserver = "{cups.socket}"\n',
            ).replace('title = "E2E Booth"', 'title = "E2E Booth"\ncaption = "{title}"')
        )
        env = dict(rig.env, BOOTH_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}")  # a private one
        code, said = run_up(env, interval=1, timeout=240)
        assert code == 0, said
        assert len(re.findall(r"download: (\S+)", said)) == 2, said
        assert "printer: queue" in said, said  # the printer process was one of the children
        # `booth up` ends after the kiosk's two shots; the prints were queued by then and went
        # to CUPS, or wait in the ledger: a printer process of its own finishes what is left
        printer = subprocess.Popen(
            BOOTH + ["printer"],
            env=env,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            end = time.monotonic() + 120
            while len(cups.printed()) < 2 and time.monotonic() < end:
                time.sleep(0.2)
            time.sleep(3)  # a third page would show now
        finally:
            printer.terminate()
            printer.wait(30)
        pages = cups.printed()
        assert len(pages) == 2 and len(set(print_ids([p.name for p in pages]))) == 2, pages
        for page in pages:
            assert page.four_by_six
            img = cv2.imdecode(np.frombuffer(page.file.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
            assert img is not None and sorted(img.shape[:2]) == [1200, 1800]
    finally:
        cups.close()
