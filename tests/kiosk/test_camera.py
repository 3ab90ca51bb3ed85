"""Camera backends, the probe and the watchdog (picamera2 against a stand-in with its methods)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kiosk.camera import CameraError, CameraWatchdog, FileCamera
from kiosk.camera.picam import PiCamera
from kiosk.camera.pick import doctor_probe, open_camera
from tests.kiosk.helpers import FIXTURES, poll


def test_picamera2_missing_is_a_camera_error():
    """Off a Pi picamera2 cannot be imported: the error says so, with the import's own words."""
    with pytest.raises(CameraError, match="picamera2 cannot be imported: ModuleNotFoundError"):
        PiCamera().start()


def test_auto_never_falls_back_to_the_file_camera(kiosk_config):
    cfg = kiosk_config()
    cfg.camera.backend = "auto"
    cfg.camera.index = 15  # no webcam there
    with pytest.raises(CameraError) as failed:
        open_camera(cfg)
    assert "picamera2" in str(failed.value) and "opencv" in str(failed.value)
    assert "file" not in str(failed.value)
    assert doctor_probe(cfg) is None
    cfg.camera.backend = "file"  # asked for: the file camera
    cam = open_camera(cfg)
    try:
        assert cam.name == "file"
    finally:
        cam.stop()
    assert "file" in doctor_probe(cfg)
    cfg.camera.backend = "opencv"
    with pytest.raises(CameraError, match="opencv"):
        open_camera(cfg)
    assert doctor_probe(cfg) is None


def test_file_camera_errors(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        FileCamera(tmp_path / "nope").start()
    with pytest.raises(CameraError, match="no JPEG"):
        FileCamera(tmp_path).start()
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    with pytest.raises(CameraError, match="decoded"):
        FileCamera(tmp_path).start()


def test_file_camera_loops_photos(tmp_path):
    cam = FileCamera(FIXTURES, (320, 180), fps=50, hold_s=0.2).start()
    try:
        shapes = set()
        end = time.monotonic() + 5
        while time.monotonic() < end and len(shapes) < 2:
            shapes.add(cam.capture_still().shape)
            time.sleep(0.05)
        assert shapes == {(512, 512, 3), (400, 600, 3)}
        # the preview keeps the photo's aspect (a sensor's full field of view) inside 320×180;
        # the screen crops it as the pipeline crops the still
        h, w = cam.latest().image.shape[:2]
        assert (h == 180 and w <= 320) or (w == 320 and h <= 180)
    finally:
        cam.stop()


class FlakyCamera(FileCamera):
    """Opens fine, then stops delivering; the first `fail_opens` re-opens raise."""

    def __init__(self, fail_opens: int) -> None:
        super().__init__(FIXTURES, (320, 180), fps=30)
        self.fail_opens = fail_opens
        self.opens = 0

    def _open(self) -> None:
        self.opens += 1
        if 1 < self.opens <= 1 + self.fail_opens:
            raise CameraError("timeout receiving frames")
        self.paused = False
        super()._open()


def test_watchdog_restarts_a_stalled_camera_with_backoff():
    cam = FlakyCamera(fail_opens=2)
    dog = CameraWatchdog.around(cam, frame_timeout_s=0.3, backoff_s=(0.05, 0.2))
    dog.start()
    try:
        assert poll(lambda: dog.frame() is not None and dog.state == "live", 5)
        cam.paused = True  # frames stop
        assert poll(lambda: (dog.frame(), dog.state)[1] == "reconnecting", 5)
        assert poll(lambda: (dog.frame(), dog.state)[1] == "live", 10)
        assert cam.opens == 4 and dog.restarts >= 1
    finally:
        dog.stop()


def test_watchdog_survives_a_camera_that_never_opens():
    attempts = []

    def opener():
        attempts.append(time.monotonic())
        raise CameraError("no camera")

    dog = CameraWatchdog(opener, frame_timeout_s=0.2, backoff_s=(0.05, 0.4))
    dog.start()
    try:
        assert poll(lambda: len(attempts) >= 4, 10)
        assert dog.state == "reconnecting" and dog.frame() is None
        gaps = np.diff(attempts)
        assert gaps[-1] > gaps[0]  # backs off
        assert threading.active_count() < 50
    finally:
        dog.stop()


def test_app_shows_reconnecting_then_recovers(kiosk_config, make_app):
    cfg = kiosk_config()
    cam = FlakyCamera(fail_opens=1)
    cfg.camera.frame_timeout_s = 0.5
    app = make_app(cfg, (800, 480), camera=CameraWatchdog.around(cam, 0.5, backoff_s=(0.1, 0.5)))
    assert poll(lambda: app.camera.state == "live", 10, step=app.step)
    cam.paused = True
    assert poll(lambda: app.screen.name == "reconnecting", 10, step=app.step)
    assert not app.request_shot()  # no countdown without a camera
    assert poll(lambda: app.screen.name == "attract", 15, step=app.step)
    assert app.failures == 0


BROKEN_PICAMERA2 = '''\
"""Raspberry Pi OS Bookworm's picamera2 in a venv whose numpy is 2.x: its simplejpeg import."""
raise ValueError("numpy.dtype size changed, may indicate binary incompatibility. "
                 "Expected 96 from C header, got 88 from PyObject")
'''


@pytest.mark.slow
def test_a_pi_whose_picamera2_fails_gets_the_reconnecting_screen_then_a_restart(tmp_path, broker):
    """The real `booth kiosk` with camera.backend = auto on a "Pi" whose picamera2 import fails
    (as on Bookworm with a mismatched numpy): "Camera reconnecting…", never the sample photos,
    the reason at ERROR, and after camera.restart_limit_s an exit for systemd."""
    import json
    import os
    import subprocess
    import sys

    from kiosk.camera.statefile import health_path, read_health
    from kiosk.camera.watchdog import EXIT_CAMERA_STUCK
    from tests.kiosk.helpers import ROOT, kiosk_toml

    fake = tmp_path / "os-packages" / "picamera2"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(BROKEN_PICAMERA2)
    conf = tmp_path / "booth.toml"
    conf.write_text(
        kiosk_toml().replace(
            'backend = "file"', 'backend = "auto"\nindex = 15\nrestart_limit_s = 4'
        )
    )
    control = tmp_path / "control"
    control.mkdir()
    data = tmp_path / "data"
    env = dict(
        os.environ,
        BOOTH_MQTT_URL=broker.url,
        BOOTH_DATA_DIR=str(data),
        BOOTH_ID="testbooth",
        SDL_VIDEODRIVER="dummy",
        PYTHONPATH=f"{fake.parent}{os.pathsep}{ROOT}",
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appliance.cli",
            "kiosk",
            "--config",
            str(conf),
            "--size",
            "800x480",
            "--control-dir",
            str(control),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def state() -> dict:
            try:
                return json.loads((control / "state.json").read_text())
            except (OSError, ValueError):
                return {}

        assert poll(lambda: state().get("screen") == "reconnecting", 30)
        assert state()["camera"] == "reconnecting"
        health = read_health(health_path(data))
        assert health is not None and health.alive() and health.backend is None
        assert "numpy.dtype size changed" in health.fault
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_CAMERA_STUCK, out[-3000:]
    assert "ERROR" in out and "numpy.dtype size changed" in out
    assert "camera: using file" not in out and "live (file)" not in out
