"""Guest-screen costs: branding a result file, and laying out the result screen.

- Branding (kiosk/jobs/branding.py) runs on the pipeline's store thread when a result arrives: the
  frame overlay and the caption bar composed at full resolution and the JPEG encoded again. It
  delays the moment the QR appears by its time.
- The result screen's layout (kiosk/ui/qrlayout/: codes as large as fit, every text
  measured) and its QR matrices run on the frame loop when the screen is entered: one frame
  takes that much longer.

    .venv/bin/python bench/bench_branding.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2
import numpy as np
import pygame

from bench.report import figure, median
from booth.config import Config
from booth.qr import qr_matrix
from booth.texts import Texts
from jobstore.links import new_code, new_token, qr_link
from kiosk.jobs.branding import Branding
from kiosk.ui.offer import wifi_join, wifi_lines
from kiosk.ui.qrlayout import QrBlock, ResultTexts, plan
from kiosk.ui.screens.result import join_block, typed_captions
from kiosk.ui.theme import Fonts, Layout


def result_jpeg(long_side: int) -> bytes:
    img = cv2.imread(str(ROOT / "tests" / "fixtures" / "portrait.jpg"))
    assert img is not None
    img = cv2.resize(img, (long_side, long_side), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def bench_branding(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        frame = np.zeros((1200, 900, 4), np.uint8)
        for border in (frame[:60], frame[-60:], frame[:, :60], frame[:, -60:]):
            border[:] = (255, 0, 255, 255)
        cv2.imwrite(str(Path(tmp) / "frame.png"), frame)
        cfg = Config()
        cfg.kiosk.frame_overlay = str(Path(tmp) / "frame.png")
        cfg.kiosk.caption = "{title} · {date}"
        branding = Branding.from_config(cfg)
        assert branding is not None
        data = result_jpeg(1536)
        branding.apply(data, time.time())  # fonts loaded once
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            branding.apply(data, time.time())
            times.append((time.perf_counter() - t0) * 1000)
    value = median(times)
    figure(
        "branding a 1536 px result (frame + caption + JPEG), median",
        value,
        "ms",
        "≤ 300 ms",
        value <= 300,
        digits=0,
    )


def bench_layout(runs: int) -> None:
    pygame.font.init()
    t = Texts("de")
    cfg = Config()
    cfg.share.wifi_ssid, cfg.share.wifi_password = "AnnaBen-Booth", "confetti2026"
    for size in ((800, 480), (720, 1280), (1920, 1080)):
        L = Layout(*size)
        times = []
        for _ in range(runs):
            fonts = Fonts(floor=L.type.floor)  # a new screen size: nothing measured yet
            t0 = time.perf_counter()
            url = qr_link(f"http://192.168.1.123:8080/p/{new_token()}")
            code = new_code()
            join = wifi_join(cfg)
            assert join is not None  # the config above has a Wi-Fi
            blocks = [
                join_block(t, join, wifi_lines(cfg, t)),
                QrBlock(
                    "download",
                    qr_matrix(url, border=0),
                    t("then_scan"),
                    typed_captions(t, "192.168.1.123:8080", code),
                ),
            ]
            plan(
                L,
                fonts,
                blocks,
                ResultTexts(
                    t("ready"),
                    [],
                    t("on_booth_wifi"),
                    t("fallback_note"),
                    t("new_photo"),
                    t("back_in", seconds=60),
                ),
            )
            times.append((time.perf_counter() - t0) * 1000)
        value = median(times)
        figure(
            f"entering the result screen with two codes at {size[0]}x{size[1]}, median",
            value,
            "ms",
            "≤ 50 ms",
            value <= 50,
            digits=1,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    bench_branding(args.runs)
    bench_layout(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
