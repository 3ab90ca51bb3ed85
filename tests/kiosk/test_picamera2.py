"""The picamera2 backend against a stand-in that models picamera2's job queue
(tests/support/picamera2_standin.py): bounded waits, recovery from a stall, exit on a permanent
one, the shutter without a mode switch at zero, autofocus, rotation and framing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from types import SimpleNamespace

import numpy as np
import pytest

import kiosk.camera.picam as picam_module
from kiosk.camera import CameraWatchdog
from kiosk.camera.base import BGRX, View
from kiosk.camera.picam import PiCamera
from kiosk.camera.statefile import CameraHealth, HealthWriter, read_health
from kiosk.camera.watchdog import EXIT_CAMERA_STUCK
from kiosk.jobs.capture import crop_to_aspect
from tests.kiosk.helpers import poll
from tests.support.picamera2_standin import Rig, StandInPicamera2, unregister

MODULE3 = (4608, 2592)
HQ = (4056, 3040)


def test_the_stand_in_blocks_like_picamera2():
    """The model itself: a stalled camera answers one capture from the request it kept (queue=True
    keeps the last completed one), the next blocks the queue, stop() waits behind it,
    cancel_all_and_flush() releases both (as in picamera2's tests/wait_cancel_test.py)."""
    rig = Rig(fps=50)
    cam = StandInPicamera2(rig)
    cam.configure(cam.create_preview_configuration(main={"size": (320, 240)}))
    cam.start()
    assert cam.capture_array(wait=5).shape == (240, 320, 4)
    assert poll(lambda: cam.completed_requests, 5)  # a frame came after that capture: kept
    rig.stall()  # returns once no frame can complete any more
    kept = rig.frames[-1][0]
    assert int(cam.capture_array(wait=5)[0, 0, 1]) == kept % 256  # the kept request answers
    with pytest.raises(FutureTimeout):
        cam.capture_array(wait=0.3)  # nothing is kept now: the job stays queued
    outcome: list[BaseException | None] = []

    def stop() -> None:
        try:
            cam.stop()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    stopper.join(1.0)
    assert stopper.is_alive()  # stop() waits behind the stuck capture
    job = cam.dispatch_functions([cam.capture_array_], wait=False)
    cam.cancel_all_and_flush()  # cancels every queued job, the stop's own included
    with pytest.raises(CancelledError):
        job.get_result(1)
    stopper.join(1.0)
    assert not stopper.is_alive() and isinstance(outcome[0], CancelledError)
    t0 = time.monotonic()
    cam.stop()  # with the queue empty it runs at once (the prodded event loop)
    assert time.monotonic() - t0 < 0.5 and not cam.started
    cam.close()
    assert rig.holder is None


def test_without_queue_a_capture_waits_for_the_next_frame():
    """queue=False keeps no completed request: frames before a capture never answer it, so a
    capture after the stall blocks however many frames came before."""
    rig = Rig(fps=50)
    cam = StandInPicamera2(rig)
    cam.configure(cam.create_preview_configuration(main={"size": (320, 240)}, queue=False))
    cam.start()
    assert cam.capture_array(wait=5).shape == (240, 320, 4)
    assert poll(lambda: len(rig.frames) >= 5, 5)
    rig.stall()
    assert not cam.completed_requests
    with pytest.raises(FutureTimeout):
        cam.capture_array(wait=0.3)
    cam.cancel_all_and_flush()
    cam.close()
    assert rig.holder is None


def test_preview_and_shutter_without_a_mode_switch_at_zero():
    rig = Rig(sensor=MODULE3, autofocus=True, fps=30, switch_s=0.4)
    cam = PiCamera((1280, 720), frame_timeout_s=1.0, api=rig.api()).start()
    try:
        assert poll(lambda: cam.latest() is not None, 5)
        frame = cam.latest().image
        assert frame.shape == (720, 1280, 3)  # the Module 3 sensor is 16:9: full field of view
        assert frame[0, 0, 0] == 200 and frame[0, 0, 2] == 0  # BGR888 arrays are R,G,B
        # continuous autofocus, in both configurations, because the camera offers AfMode
        assert rig.controls_seen and all(c.get("AfMode") == 2 for c in rig.controls_seen)
        for _ in range(3):
            cam.prepare_still()  # the countdown starts: the switch is not the caller's to wait
            assert cam.switching
            seen = cam.latest().seq
            # the preview keeps coming during the countdown (from the lores stream)
            assert poll(lambda seen=seen: not cam.switching and cam.latest().seq > seen + 3, 5)
            before = list(rig.switches)
            t1 = time.monotonic()
            still = cam.capture_still()
            # no mode switch at the shutter: at most the switch back, queued after the shot
            assert rig.switches[: len(before)] == before
            assert rig.switches[len(before) :] in ([], ["preview"])
            assert still.shape == (2592, 4608, 3) and still[0, 0, 2] == 200  # B,G,R
            seq = int(still[0, 0, 1])
            # flush=True: a frame produced after the shutter, not one already queued
            born = [t for s, t in rig.frames if s % 256 == seq][-1]
            assert born >= t1
            assert poll(lambda: rig.switches[-1] == "preview" and not cam.switching, 5)
            assert poll(lambda: cam.latest().image.shape == (720, 1280, 3), 5)
        assert rig.switches == ["still", "preview"] * 3
        # every switch was asked for off the caller's thread (the frame loop never waits)
        assert set(rig.switch_callers) == {"cam-modes_0"}
        assert rig.allocations == ["preview", "still"]  # persistent: allocated once each
    finally:
        cam.stop()
    assert rig.holder is None and rig.closed == 1


def test_hq_camera_gets_no_autofocus_and_a_4_3_preview():
    rig = Rig(sensor=HQ, autofocus=False)
    cam = PiCamera((1280, 720), api=rig.api()).start()
    try:
        assert poll(lambda: cam.latest() is not None, 5)
        assert cam.latest().image.shape == (958, 1280, 3)
        assert all("AfMode" not in c for c in rig.controls_seen)
        # a countdown of 0: no prepare, the switch happens in capture_still
        assert cam.capture_still().shape == (3040, 4056, 3)
    finally:
        cam.stop()


@pytest.mark.parametrize(
    "rotation, hw, preview, still",
    [
        (180, (True, True), (958, 1280, 3), (3040, 4056, 3)),
        (90, (False, False), (1280, 958, 3), (4056, 3040, 3)),
        (270, (False, False), (1280, 958, 3), (4056, 3040, 3)),
    ],
)
def test_rotation(rotation, hw, preview, still):
    rig = Rig(sensor=HQ)
    cam = PiCamera((1280, 720), rotation=rotation, api=rig.api()).start()
    try:
        assert poll(lambda: cam.latest() is not None, 5)
        assert rig.transforms[0] == hw  # 180° in libcamera; 90/270 cannot be done by the ISP
        assert cam.latest().image.shape == preview
        assert cam.capture_still().shape == still
    finally:
        cam.stop()


def test_a_stall_is_recovered_within_seconds(tmp_path):
    rig = Rig(sensor=HQ, fps=30)
    cam = PiCamera((640, 480), frame_timeout_s=0.5, api=rig.api())
    health = tmp_path / "health.json"
    dog = CameraWatchdog.around(
        cam,
        frame_timeout_s=0.5,
        backoff_s=(0.1, 0.5),
        restart_limit_s=30,
        health=HealthWriter(health),
    )
    dog.start()
    try:
        assert poll(lambda: (dog.frame(), dog.state)[1] == "live", 5)
        rig.stall()  # frames stop: the capture job times out and stays queued
        t0 = time.monotonic()
        assert poll(lambda: (dog.frame(), dog.state)[1] == "reconnecting", 5)
        assert "no frame" in dog.fault
        assert poll(lambda: (dog.frame(), dog.state)[1] == "live", 10)
        recovered = time.monotonic() - t0
        assert recovered < 5.0, recovered
        assert rig.opened == 2 and rig.closed == 1  # the stuck instance was really closed
        assert not dog.permanent_fault and dog.fault is None
        assert poll(
            lambda: (
                (read_health(health) or CameraHealth(0, "", "", None, None, 0, 0)).state == "live"
            ),
            5,
        )
    finally:
        dog.stop()
    assert rig.holder is None


def test_a_permanent_stall_exits_for_systemd(tmp_path, monkeypatch):
    """The driver hangs: stop() never returns, the camera stays held, reopening fails. After
    restart_limit_s the frame loop's check exits with EXIT_CAMERA_STUCK — and no exit hook of
    the stuck camera is left to block that exit."""
    rig = Rig(sensor=HQ, heal_on_reopen=False)
    monkeypatch.setattr(
        picam_module,
        "atexit",
        SimpleNamespace(unregister=lambda fn: unregister(rig.exit_hooks, fn)),
        raising=False,
    )
    cam = PiCamera((640, 480), frame_timeout_s=0.3, api=rig.api())
    health = tmp_path / "health.json"
    dog = CameraWatchdog.around(
        cam,
        frame_timeout_s=0.3,
        backoff_s=(0.1, 0.3),
        restart_limit_s=2.0,
        health=HealthWriter(health),
    )
    dog.start()
    try:
        assert poll(lambda: (dog.frame(), dog.state)[1] == "live", 5)
        rig.wedge()
        assert poll(lambda: (dog.frame(), dog.permanent_fault)[1], 15)
        assert dog.state == "reconnecting"
        with pytest.raises(SystemExit) as ended:
            dog.check_permanent_fault()
        assert ended.value.code == EXIT_CAMERA_STUCK
        assert poll(lambda: "busy" in (dog.fault or "") or "stuck" in (dog.fault or ""), 10)
        h = read_health(health)
        assert h is not None and h.state == "reconnecting" and h.alive()
        stuck = rig.holder
        assert stuck is not None and not [f for f in rig.exit_hooks if f.__self__ is stuck]
    finally:
        dog.stop()


def test_the_kiosk_exits_non_zero_on_a_permanent_stall(kiosk_config, make_app):
    rig = Rig(sensor=HQ, heal_on_reopen=False)
    cfg = kiosk_config()
    cam = PiCamera((640, 480), frame_timeout_s=0.3, api=rig.api())
    app = make_app(
        cfg,
        (800, 480),
        camera=CameraWatchdog.around(cam, 0.3, backoff_s=(0.1, 0.3), restart_limit_s=2.0),
    )
    assert poll(lambda: app.camera.state == "live", 10, step=app.step)
    rig.wedge()
    with pytest.raises(SystemExit) as ended:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            app.step()
            time.sleep(0.02)
    assert ended.value.code == EXIT_CAMERA_STUCK
    assert app.screen.name == "reconnecting"


def test_crop_to_aspect_matches_the_preview_framing():
    img = np.zeros((3040, 4056, 3), np.uint8)
    assert crop_to_aspect(img, (800, 480)).shape == (2434, 4056, 3)
    assert crop_to_aspect(img, (720, 1280)).shape == (3040, 1710, 3)
    assert crop_to_aspect(img, (4056, 3040)).shape == img.shape
    tall = np.zeros((4056, 3040, 3), np.uint8)  # a camera mounted sideways (rotation 90)
    assert crop_to_aspect(tall, (720, 1280)).shape == (4056, 2282, 3)


def blue_patch(frame: np.ndarray, layout_blue: int) -> tuple[bool, bool]:
    """(is the scene's blue patch on the left?, at the top?) in a frame on screen."""
    h, w = frame.shape[:2]
    blue = frame[:, :, layout_blue] > 128
    ys, xs = np.nonzero(blue)
    return bool(xs.mean() < w / 2), bool(ys.mean() < h / 2)


@pytest.mark.parametrize(
    "rotation, screen, preview_transform, still_transform, shape",
    [
        (0, (1280, 720), (True, False), (False, False), (720, 1280, 4)),
        (180, (1280, 720), (False, True), (True, True), (720, 1280, 4)),
        # a camera mounted sideways for a portrait screen: the ISP's vertical flip, turned by
        # software, is the screen's mirror
        (90, (720, 1280), (False, True), (False, False), (1280, 720, 4)),
    ],
)
def test_frames_for_the_screen(rotation, screen, preview_transform, still_transform, shape):
    """With a view the preview stream is the screen's frame: its size, mirrored by the
    transform, XRGB8888 (B,G,R,X: what the display surface holds); the still is not mirrored.
    The countdown's frames (from the lores stream) look the same."""
    rig = Rig(sensor=HQ, fps=30, switch_s=0.1)
    view = View(screen, True, BGRX)
    cam = PiCamera((1280, 720), rotation=rotation, api=rig.api(), view=view).start()
    try:
        assert poll(lambda: cam.latest() is not None, 5)
        frame = cam.latest()
        assert frame.image.shape == shape and frame.layout == BGRX and frame.mirrored
        assert frame.image.flags.c_contiguous
        assert frame.image[shape[0] // 2, 0, 2] == 200  # red in B,G,R,X
        assert rig.transforms[0] == preview_transform
        # the sensor sees the patch top-right: a mirror shows it top-left (rotation aside)
        seen = blue_patch(frame.image, 0)
        cam.prepare_still()
        assert poll(lambda: not cam.switching and rig.switches == ["still"], 5)
        seq = cam.latest().seq
        assert poll(lambda: cam.latest().seq > seq + 2, 5)
        countdown = cam.latest().image
        assert countdown.shape == shape and blue_patch(countdown, 0) == seen
        still = cam.capture_still()
        assert rig.transforms[1] == still_transform
    finally:
        cam.stop()
    if rotation == 0:
        assert seen == (True, True)  # mirrored: the top-right patch on the left
        assert blue_patch(still, 0) == (False, True)  # the still as the sensor saw it


def test_a_new_view_reconfigures_the_running_camera():
    rig = Rig(sensor=HQ, fps=30, switch_s=0.05)
    cam = PiCamera((1280, 720), api=rig.api()).start()
    try:
        assert poll(lambda: cam.latest() is not None, 5)
        assert cam.latest().image.shape == (958, 1280, 3) and cam.latest().layout == "RGB"
        cam.set_view(View((800, 480), True, BGRX))
        assert poll(lambda: cam.latest().image.shape == (480, 800, 4), 5)
        assert cam.latest().mirrored
    finally:
        cam.stop()
