"""`booth kiosk --headless`: the real command, shots on a timer, the download URL printed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.kiosk.helpers import ROOT, kiosk_toml

BOOTH = Path(sys.executable).parent / "booth"


def test_headless_shots_print_download_urls(tmp_path, broker, worker):
    cfg = tmp_path / "booth.toml"
    cfg.write_text(kiosk_toml("countdown_s = 1"))
    env = dict(
        os.environ,
        BOOTH_MQTT_URL=broker.url,
        BOOTH_DATA_DIR=str(tmp_path / "data"),
        BOOTH_ID="testbooth",
    )
    stop = threading.Event()

    def answer() -> None:  # a worker that finishes every job it sees
        seen: set[str] = set()
        while not stop.is_set():
            for jid in worker.job_ids():
                if jid not in seen:
                    seen.add(jid)
                    worker.finish(jid)
            time.sleep(0.05)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        out = subprocess.run(
            [
                str(BOOTH),
                "kiosk",
                "--config",
                str(cfg),
                "--headless",
                "--interval",
                "0.5",
                "--shots",
                "2",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        stop.set()
        t.join(5)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("photo ready:")]
    assert len(lines) == 2, out.stdout
    assert all("download: http://booth.local:8080/p/" in ln for ln in lines)
    assert len(set(worker.job_ids())) == 2


def test_bad_size_is_a_clear_error(tmp_path, broker):
    cfg = tmp_path / "booth.toml"
    cfg.write_text(kiosk_toml())
    env = dict(
        os.environ,
        BOOTH_MQTT_URL=broker.url,
        BOOTH_DATA_DIR=str(tmp_path / "data"),
        SDL_VIDEODRIVER="dummy",
    )
    out = subprocess.run(
        [str(BOOTH), "kiosk", "--config", str(cfg), "--size", "huge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "--size must look like 800x480" in out.stderr
