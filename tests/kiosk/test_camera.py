"""Camera backends, the probe and the watchdog (picamera2 against a stand-in with its methods)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kiosk.camera import CameraError, CameraWatchdog, FileCamera
from kiosk.camera.picam import PiCamera
from kiosk.camera.probe import doctor_probe, open_camera
from tests.kiosk.helpers import FIXTURES, poll


class StandInPicamera2:
    """The Picamera2 methods the backend uses; BGR888 arrays are R,G,B like the real one."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.config = None

    def create_preview_configuration(self, main):
        self.calls.append("preview_config")
        return {"kind": "preview", **main}

    def create_still_configuration(self, main=None):
        return {"kind": "still", "size": (4056, 3040), **(main or {})}

    def configure(self, config):
        self.config = config

    def start(self):
        self.calls.append("start")

    def capture_array(self):
        w, h = self.config["size"]
        a = np.zeros((h, w, 3), np.uint8)
        a[:, :, 0] = 200  # red in channel 0: BGR888 memory order is R,G,B in numpy
        time.sleep(0.01)
        return a

    def switch_mode_and_capture_array(self, config):
        self.calls.append("switch_mode")
        w, h = config["size"]
        a = np.zeros((h, w, 4), np.uint8)  # XBGR8888-like padding is dropped
        a[:, :, 0] = 200
        return a

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")


def test_picamera2_backend_against_stand_in():
    stand_in = StandInPicamera2()
    cam = PiCamera((640, 480), factory=lambda: stand_in).start()
    try:
        assert poll(lambda: cam.latest() is not None, 5)
        frame = cam.latest().image
        assert frame.shape == (480, 640, 3) and frame[0, 0, 0] == 200 and frame[0, 0, 2] == 0
        assert stand_in.config["format"] == "BGR888"
        still = cam.capture_still()
        assert still.shape == (3040, 4056, 3) and still[0, 0, 0] == 200
        assert "switch_mode" in stand_in.calls
    finally:
        cam.stop()
    assert "close" in stand_in.calls


def test_picamera2_missing_is_a_camera_error():
    def factory():
        raise ImportError("No module named 'picamera2'")
    with pytest.raises(CameraError, match="picamera2"):
        PiCamera(factory=factory).start()


def test_probe_falls_back_to_the_file_camera(kiosk_config):
    cfg = kiosk_config()
    cfg.camera.backend = "auto"
    cfg.camera.index = 15  # no webcam there
    cam = open_camera(cfg)
    try:
        assert cam.name == "file"
    finally:
        cam.stop()
    assert doctor_probe(cfg) is None  # auto: a fallback to the demo camera is no camera
    cfg.camera.backend = "file"
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
        assert cam.latest().image.shape == (180, 320, 3)
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
