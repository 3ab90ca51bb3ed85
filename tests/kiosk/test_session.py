"""A scripted guest session on the real broker, and the input rules (one tap = one shot)."""

from __future__ import annotations

import re
import time

import cv2
import numpy as np
import pygame
import pytest

from booth.protocol import JobStatus, Status
from jobstore.ledger import Ledger, ledger_path
from kiosk.jobs.capture import crop_to_aspect
from kiosk.ui.input import SHUTTER_EVENT
from tests.kiosk.conftest import FakeClock
from tests.kiosk.helpers import poll
from tests.support.mqtt_tools import Recorder


def finger(app, x: int, y: int) -> None:
    """A real touch as SDL delivers it: FINGERDOWN plus the emulated mouse click (touch=True)."""
    w, h = app.surface.get_size()
    pygame.event.post(
        pygame.event.Event(
            pygame.FINGERDOWN, x=x / w, y=y / h, dx=0, dy=0, touch_id=1, finger_id=0, pressure=1.0
        )
    )
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(x, y), button=1, touch=True))


def live(app) -> None:
    assert poll(
        lambda: app.camera.state == "live" and app.camera.frame() is not None, 15, step=app.step
    )
    app.run_for(2)


def test_scripted_session(kiosk_config, make_app, worker, broker):
    cfg = kiosk_config()
    clock = FakeClock()
    app = make_app(cfg, (800, 480), clock=clock)
    done = []
    app.on_job_done = done.append
    rec = Recorder(broker.port, ["booth/testbooth/status/+", "booth/testbooth/results/+"])
    live(app)
    button = app.screen.buttons[0][0]
    finger(app, *button.center)
    app.step()
    assert app.screen.name == "countdown"
    still = app.camera.camera.capture_still()
    for _ in range(8):
        clock.advance(0.5)
        time.sleep(0.03)
        app.step()
    assert app.screen.name in ("flash", "processing")
    job_id = app.screen.job_id

    # the job arrives on the broker: the AI copy (JPEG), with the contract's properties
    assert poll(lambda: job_id in worker.job_ids(), 15, step=app.step)
    meta, payload, _dup = worker.jobs[0]
    assert meta.style == "drip" and meta.content_type == "image/jpeg"
    ai = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    assert ai is not None and max(ai.shape[:2]) <= cfg.kiosk.ai_long_side
    # the kiosk published the retained `pending` status
    assert rec.wait(
        lambda ms: any(m.topic.endswith(f"status/{job_id}") and m.payload for m in ms), 10
    )
    pending = Status.from_json(rec.on(f"booth/testbooth/status/{job_id}")[0].payload)
    assert pending.status is JobStatus.PENDING and pending.booth_id == "testbooth"

    # the ledger holds the pending row and the saved original: full resolution, NOT mirrored,
    # cropped to the screen's aspect ratio like the preview the guest saw
    ledger = Ledger(ledger_path(cfg.data_dir))
    assert poll(
        lambda: (ledger.get(job_id) or None) and ledger.get(job_id).sent_at, 10, step=app.step
    )
    row = ledger.get(job_id)
    original = cv2.imread(str(cfg.data_path / row.original_path))
    still = crop_to_aspect(still, app.surface.get_size())
    assert original.shape[:2] == still.shape[:2] and still.shape[1] == 600
    diff = np.abs(original.astype(int) - still.astype(int)).mean()  # both BGR
    mirrored = np.abs(original.astype(int)[:, ::-1] - still.astype(int)).mean()
    assert diff < 6 < mirrored, (diff, mirrored)
    # the preview on screen is mirrored
    frame = app.camera.frame().image
    assert app.pictures.preview.surface is not None

    clock.advance(1)
    app.step()
    assert app.screen.name == "processing" and app.screen.phase() == "queued"
    worker.status(job_id, "processing")
    assert poll(lambda: app.screen.phase() == "processing", 10, step=app.step)
    worker.result(job_id)
    worker.status(job_id, "completed", effect="gemini")
    assert poll(lambda: app.screen.name == "result", 15, step=app.step)

    row = ledger.get(job_id)
    assert row.status is JobStatus.COMPLETED and row.result_path and row.token
    # ≥ 96 random bits in the QR's alphanumeric alphabet; a short code to type
    assert re.fullmatch(r"[0-9A-Z]{19}", row.token) and re.fullmatch(
        r"[0-9A-HJKMNP-TV-Z]{6}", row.code
    )
    assert (cfg.data_path / row.result_path).stat().st_size > 1000
    assert done and done[0].job_id == job_id and done[0].share_url.endswith(row.token)
    # the retained result was cleared: a fresh subscriber gets nothing retained for it
    assert rec.wait(
        lambda ms: any(m.topic.endswith(f"results/{job_id}") and not m.payload for m in ms), 10
    )
    rec2 = Recorder(broker.port, [f"booth/testbooth/results/{job_id}"])
    time.sleep(0.5)
    assert not [m for m in rec2.messages if m.payload]
    rec.close()
    rec2.close()
    ledger.close()

    # result → automatic return to the start screen after result_timeout_s
    clock.advance(cfg.kiosk.result_timeout_s + 1)
    for _ in range(3):
        time.sleep(0.03)
        app.step()
    assert app.screen.name == "attract"
    assert frame.shape[1] <= cfg.camera.preview_width  # the whole photo, inside the stream size
    assert frame.shape[0] <= cfg.camera.preview_height


def test_preview_is_mirrored(kiosk_config, make_app, broker):
    app = make_app(kiosk_config(), (640, 360))
    live(app)
    shown = pygame.surfarray.array3d(app.surface).swapaxes(0, 1).astype(int)
    # the shot as saved (not mirrored), framed and scaled like the screen
    still = crop_to_aspect(app.camera.capture_still(), (640, 360))
    expect = cv2.cvtColor(cv2.resize(still, (640, 360)), cv2.COLOR_BGR2RGB).astype(int)
    # compare the top-left corner of the screen with the shot's top-right corner
    left = shown[150:200, 0:40]
    cam_right = expect[150:200, -40:][:, ::-1]
    cam_left = expect[150:200, 0:40]
    assert np.abs(left - cam_right).mean() < np.abs(left - cam_left).mean()
    # the camera made the frame for this screen: the frame loop converted nothing
    assert app.pictures.preview.converted == 0
    assert app.camera.frame().image.shape[:2] == (360, 640)


def test_one_tap_one_shot_and_taps_outside(kiosk_config, make_app, worker):
    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0"), (800, 480), clock=clock)
    # the fake clock runs ahead of the camera's real frames: no watchdog restart in between
    app.camera.frame_timeout_s = 60
    live(app)
    # a tap in empty space: nothing happens
    finger(app, 30, 200)
    app.step()
    assert app.screen.name == "attract" and not app.session_jobs
    # one touch (finger + emulated click) on the button: exactly one job
    finger(app, *app.screen.buttons[0][0].center)
    app.step()
    assert len(app.session_jobs) == 1
    for _ in range(20):
        clock.advance(0.05)
        app.step()
    app.go("attract")
    app.step()
    assert len(app.session_jobs) == 1
    # space shoots (after the 1 s debounce; less than the 2 s frame timeout of the fake clock,
    # which would otherwise have the camera watchdog restart the camera under the shot)
    clock.advance(1.2)
    pygame.event.post(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, mod=0, unicode=" ", scancode=44)
    )
    app.step()
    assert len(app.session_jobs) == 2
    assert poll(lambda: len(worker.jobs) >= 2, 15, step=app.step)
    time.sleep(0.5)
    assert sorted(worker.job_ids()) == sorted(app.session_jobs)


def test_gpio_button_shoots(kiosk_config, make_app):
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    Device.pin_factory = MockFactory()
    try:
        clock = FakeClock()
        app = make_app(kiosk_config("gpio_button = 17"), (800, 480), clock=clock, gpio=True)
        assert app.gpio is not None
        live(app)
        pin = Device.pin_factory.pin(17)
        pin.drive_low()  # pressed (button to ground, pull-up)
        assert poll(lambda: app.screen.name == "countdown", 5, step=app.step)
        pin.drive_high()
        save = app.screen.name
        assert save == "countdown"
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = None


def test_escape_only_without_kiosk_lock(kiosk_config, make_app):
    locked = make_app(kiosk_config(), (640, 360))
    pygame.event.post(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="\x1b", scancode=41)
    )
    locked.step()
    assert locked.running
    locked.close()
    free = make_app(kiosk_config("kiosk_lock = false"), (640, 360))
    pygame.event.post(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="\x1b", scancode=41)
    )
    free.step()
    assert not free.running


def test_shutter_event_is_debounced(kiosk_config, make_app):
    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0"), (640, 360), clock=clock)
    live(app)
    for _ in range(3):
        pygame.event.post(pygame.event.Event(SHUTTER_EVENT, source="gpio"))
    app.step()
    assert len(app.session_jobs) == 1


def test_screen_failure_returns_to_start(kiosk_config, make_app, caplog):
    app = make_app(kiosk_config(), (640, 360))
    live(app)
    app.go("processing", job_id="nonexistent-job")

    def boom(surf):
        raise RuntimeError("draw bug")

    app.screens["processing"].draw = boom
    app.step()
    assert app.screen.name == "attract" and app.failures == 1
    assert "draw bug" in caplog.text
    app.run_for(3)
    assert app.screen.name == "attract"


def test_input_mapper_ignores_other_keys_and_buttons():
    from kiosk.ui.input import InputMapper

    m = InputMapper((800, 480))
    assert m.map(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a, mod=0)) is None
    assert (
        m.map(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(1, 1), button=3, touch=False)) is None
    )


def test_new_shot_while_a_job_runs_and_reopen_from_the_strip(kiosk_config, make_app, worker):
    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0"), (800, 480), clock=clock)
    # the fake clock runs ahead of the camera's real frames: no watchdog restart in between
    app.camera.frame_timeout_s = 60
    live(app)
    app.request_shot()
    first = app.screen.job_id
    assert poll(lambda: first in worker.job_ids(), 15, step=app.step)
    clock.advance(1)
    app.step()
    assert app.screen.name == "processing"
    # a new guest taps New photo: back to the start, the first job keeps running
    finger(app, *app.screen.new_button.center)
    app.step()
    assert app.screen.name == "attract"
    clock.advance(2)
    app.request_shot()
    second = app.screen.job_id
    assert poll(lambda: second in worker.job_ids(), 15, step=app.step)
    worker.finish(first)
    # the second guest is still on its own processing screen: the first result does not hijack it
    clock.advance(1)
    assert poll(lambda: app.job_views[first].ready, 15, step=app.step)
    assert app.screen.name == "processing" and app.screen.job_id == second
    app.go("attract")
    app.run_for(3)
    hit = [r for r, j in app.screen.strip.hits if j == first]
    assert hit, "the finished job is in the recent strip"
    finger(app, *hit[0].center)
    app.step()
    assert app.screen.name == "result" and app.screen.job_id == first
    assert app.screen.url == app.job_views[first].share_url


def test_rogue_and_duplicate_messages_change_nothing_on_screen(kiosk_config, make_app, worker):
    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0"), (800, 480), clock=clock)
    live(app)
    app.request_shot()
    job_id = app.screen.job_id
    assert poll(lambda: job_id in worker.job_ids(), 15, step=app.step)
    clock.advance(1)
    app.step()
    t = f"booth/testbooth/status/{job_id}"
    for payload in (b"{", b"[]", b'{"status": "completed"}', "x" * 5000):
        worker.raw(t, payload)
    worker.raw(f"booth/testbooth/results/{job_id}", b"\x89PNG\r\n\x1a\n truncated")
    assert poll(lambda: app.jobs.ignored_messages >= 5, 10, step=app.step)
    assert app.screen.name == "processing" and app.screen.phase() == "queued"
    assert app.failures == 0

    worker.finish(job_id)
    assert poll(
        lambda: app.screen.name == "result" and app.job_views[job_id].status is JobStatus.COMPLETED,
        15,
        step=app.step,
    )
    view, url = app.job_views[job_id], app.screen.url
    worker.result(job_id)  # a duplicate from a re-dispatched copy
    worker.status(job_id, "processing")  # late
    worker.status(job_id, "failed")  # cannot replace completed
    time.sleep(0.5)
    app.run_for(5)
    assert app.screen.name == "result" and app.screen.url == url
    assert app.job_views[job_id] == view
    assert app.failures == 0


def test_camera_failure_at_capture_shows_the_camera_error(kiosk_config, make_app):
    from kiosk.camera import CameraError

    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0"), (800, 480), clock=clock)
    live(app)

    def broken():
        raise CameraError("buffer allocation failed")

    app.camera.camera.capture_still = broken
    assert app.request_shot()
    assert poll(lambda: app.screen.name == "error", 10, step=app.step)
    assert app.screen.kind == "camera"
    assert app.jobs.ledger.count() == 0
    assert not app.recent_jobs()
    # Try again → back to the start screen
    finger(app, *app.screen.button.center)
    app.step()
    assert app.screen.name == "attract"


def test_broker_down_during_a_shot(kiosk_config, make_app, worker, broker):
    """The screen keeps running with the broker gone; the job reaches a worker once it is back
    (paho re-sends the queued publish, and re-dispatch covers a worker that resubscribed late)."""
    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 0\nredispatch_s = 1"), (800, 480), clock=clock)
    live(app)
    assert poll(lambda: app.jobs.mqtt.connected, 10, step=app.step)
    broker.stop()
    assert poll(lambda: not app.jobs.mqtt.connected, 10, step=app.step)
    assert app.request_shot()
    job_id = app.screen.job_id
    assert poll(lambda: app.jobs.ledger.get(job_id) is not None, 10, step=app.step)
    frames = app.frames
    for _ in range(20):  # the loop is not blocked by the missing broker
        clock.advance(0.1)
        app.step()
    assert app.frames == frames + 20
    assert app.jobs.ledger.get(job_id).sent_at is None
    assert app.screen.name == "processing"
    broker.start()
    assert poll(lambda: job_id in worker.job_ids(), 30, step=app.step)
    assert poll(lambda: app.jobs.ledger.get(job_id).sent_at is not None, 15, step=app.step)
    worker.finish(job_id)
    assert poll(lambda: app.screen.name == "result", 20, step=app.step)


def test_arcade_button_on_the_result_screen_starts_a_new_shot(kiosk_config, make_app, worker):
    clock = FakeClock()
    app = make_app(kiosk_config("countdown_s = 2"), (800, 480), clock=clock)
    live(app)
    app.request_shot()
    for _ in range(6):
        clock.advance(0.5)
        time.sleep(0.03)
        app.step()
    job_id = app.screen.job_id
    assert poll(lambda: job_id in worker.job_ids(), 15, step=app.step)
    worker.finish(job_id)
    assert poll(lambda: app.screen.name == "result", 15, step=app.step)
    pygame.event.post(pygame.event.Event(SHUTTER_EVENT, source="gpio"))
    app.step()
    assert app.screen.name == "countdown"
    # pressing again during the countdown does not restart or double it
    pygame.event.post(pygame.event.Event(SHUTTER_EVENT, source="gpio"))
    clock.advance(0.5)
    app.step()
    assert app.screen.name == "countdown" and app.screen.elapsed >= 0.5


def test_frame_rate_drops_without_a_live_preview(kiosk_config, make_app):
    app = make_app(kiosk_config("fps = 30\nidle_fps = 4"), (640, 360))
    assert app.screen.name == "attract" and app.fps() == 30
    app.go("error", job_id="", kind="camera")
    assert app.fps() == 4
    app.go("processing", job_id="x" * 32)
    assert app.fps() == 12  # a spinner, no preview
    app.go("reconnecting")
    assert 4 <= app.fps() < 30


def test_memory_of_old_jobs_is_bounded(kiosk_config, make_app, monkeypatch):
    import kiosk.ui.jobbook
    from kiosk.jobs.views import JobEvent, JobView

    monkeypatch.setattr(kiosk.ui.jobbook, "MAX_VIEWS", 10)
    app = make_app(kiosk_config(), (640, 360))
    for i in range(40):
        v = JobView(f"job{i:06d}x", "drip", 1000.0 + i, JobStatus.FAILED)
        app._on_job_event(JobEvent("status", v))
    assert len(app.job_views) <= 10
    assert "job000039x" in app.job_views  # the newest stay
    assert [v.job_id for v in app.recent_jobs()][0] == "job000039x"


def test_full_disk_at_capture_shows_the_storage_error(kiosk_config, make_app, monkeypatch):
    """ENOSPC while writing the AI copy (injected: the real full tmpfs is in tests/e2e): the
    guest sees a storage message, no row and no orphan original are left, the kiosk goes on."""
    import errno

    import kiosk.jobs.capture as kjobs
    from tests.kiosk.helpers import SCREENS_OUT

    real_write = kjobs.atomic_write
    calls = []

    def failing_write(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(kjobs, "atomic_write", failing_write)
    cfg = kiosk_config("countdown_s = 0")
    app = make_app(cfg, (800, 480))
    live(app)
    assert app.request_shot()
    assert poll(lambda: app.screen.name == "error", 15, step=app.step)
    assert app.screen.kind == "storage"
    app.run_for(2)
    app.screenshot(SCREENS_OUT / "error-storage-800x480.png")
    assert app.jobs.ledger.count() == 0
    assert not [p for p in cfg.data_path.rglob("*.jpg")]
    monkeypatch.setattr(kjobs, "atomic_write", real_write)
    app.go("attract")
    app._last_shot_at = -1e9
    assert app.request_shot()
    assert poll(lambda: app.jobs.ledger.count() == 1, 15, step=app.step)


@pytest.mark.parametrize("size", [(800, 480), (720, 1280)], ids=["800x480", "720x1280"])
def test_the_saved_shot_has_the_framing_the_guest_saw(
    kiosk_config, make_app, worker, size, tmp_path
):
    """What the preview shows (mirrored, cover-cropped to the screen) is what the stored photo
    holds: a wide 4:3 still on a landscape and on a portrait screen, compared pixel by pixel
    after undoing the mirror. Screenshots of both land in tests/output/screens/."""
    from tests.kiosk.helpers import SCREENS_OUT

    folder = tmp_path / "photos"
    folder.mkdir()
    # a 4:3 still with a different colour in each third, so a wrong crop cannot pass
    still = np.zeros((1200, 1600, 3), np.uint8)
    still[:, :533] = (200, 40, 40)
    still[:, 533:1066] = (40, 200, 40)
    still[:, 1066:] = (40, 40, 200)
    cv2.putText(still, "FRAME", (420, 700), cv2.FONT_HERSHEY_SIMPLEX, 9, (255, 255, 255), 30)
    cv2.imwrite(str(folder / "wide.jpg"), still)
    cfg = kiosk_config("countdown_s = 0", folder=folder)
    app = make_app(cfg, size)
    live(app)
    preview = pygame.surfarray.array3d(app.surface).swapaxes(0, 1)  # RGB, mirrored
    app.screenshot(SCREENS_OUT / f"framing-preview-{size[0]}x{size[1]}.png")
    assert app.request_shot()
    job_id = app.screen.job_id
    ledger = Ledger(ledger_path(cfg.data_dir))
    try:
        assert poll(
            lambda: (ledger.get(job_id) or None) and ledger.get(job_id).sent_at, 15, step=app.step
        )
        saved = cv2.imread(str(cfg.data_path / ledger.get(job_id).original_path))
    finally:
        ledger.close()
    w, h = size
    assert abs(saved.shape[1] / saved.shape[0] - w / h) < 0.01  # the screen's aspect ratio
    seen = cv2.resize(saved, (w, h), interpolation=cv2.INTER_AREA)[:, ::-1, ::-1]  # mirror, RGB
    # the start screen draws over the preview (title, button, gradients): compare the middle band
    band = slice(h * 2 // 5, h * 3 // 5)
    diff = np.abs(seen[band].astype(int) - preview[band].astype(int)).mean()
    shifted = np.abs(
        np.roll(seen, w // 6, axis=1)[band].astype(int) - preview[band].astype(int)
    ).mean()
    assert diff < 25 < shifted, (diff, shifted)
