"""The kiosk screen with the real worker behind it: tap → the local effect → result with a QR.

Saves `tests/output/screens/real-*-<size>.png` (what a guest really sees with no API key) and
reads the QR back with OpenCV.
"""

from __future__ import annotations

import shutil
import time

import cv2
import pygame
import pytest

from booth.config import load_config
from jobstore.links import qr_link
from tests.e2e.rig import ROOT, Rig, http_get, wait_until
from tests.support.phonecam import decode_screenshot

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_tap_to_dripped_result_with_the_real_worker(tmp_path, broker, output_dir, size):
    from kiosk.ui.app import KioskApp

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(FIXTURES / "portrait.jpg", photos / "portrait.jpg")
    rig = Rig(tmp_path, broker)
    rig.config.write_text(
        rig.config.read_text().replace('backend = "file"', f'backend = "file"\nfolder = "{photos}"')
    )
    try:
        rig.share()
        rig.worker("w1")
        cfg = load_config(rig.config, env=rig.env)
        app = KioskApp(cfg, size, gpio=False)
        try:
            wait_until(
                lambda: (app.step(), app.jobs.ai_online)[1] is True,
                60,
                "the worker never said online",
            )
            app.run_for(5)
            shots = output_dir / "screens"
            shots.mkdir(parents=True, exist_ok=True)
            w, h = size
            pygame.image.save(app.surface, str(shots / f"real-attract-{w}x{h}.png"))
            assert app.request_shot(None)
            wait_until(
                lambda: (app.step(), app.screen.name)[1] == "result",
                60,
                lambda: f"stuck on {app.screen.name}",
            )
            for _ in range(int(cfg.kiosk.fps * 0.5)):  # let the result image fade in
                app.step()
                time.sleep(1 / cfg.kiosk.fps)
            path = shots / f"real-result-{w}x{h}.png"
            pygame.image.save(app.surface, str(path))
            url = app.screen.state()["url"]
            assert app.screen.state()["qr"] == qr_link(url)
            assert qr_link(url) in decode_screenshot(cv2.imread(str(path)))
            (job,) = rig.jobs()
            assert (job["status"], job["effect"]) == ("completed", "local")
            # the worker has no AI key (local effect, no error): from now on the start screen
            # has no AI privacy line and offers only styles the local effect draws differently
            assert app.jobs.local_only is True
            app.go("attract")
            app.run_for(3)
            pygame.image.save(app.surface, str(shots / f"real-attract-local-{w}x{h}.png"))
            assert http_get(url + "/photo.jpg") == (rig.data / job["result_path"]).read_bytes()
        finally:
            app.close()
    finally:
        rig.close()
