"""The kiosk's side of the operator's view: which problems it sees (and which mark the screen),
its retained health on the real broker, the operator mark opened by F1 or a long press on it
and closed by a tap, the camera time lost by the process before, and a photo deleted by the
share process leaving the booth screen."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import paho.mqtt.client as paho
import pygame

from booth.clock import boot_id
from booth.protocol import AiState, Health, Topics
from kiosk.camera import CameraWatchdog
from kiosk.camera.statefile import CameraHealth, health_path
from kiosk.healthwatch import Facts, camera_time_lost_before, marked, problems_of
from kiosk.ui.input import HOLD, OPERATOR, TAP, InputMapper
from kiosk.ui.screens import operator_mark as mark
from tests.kiosk.conftest import FakeClock
from tests.kiosk.helpers import poll
from tests.kiosk.test_camera import FlakyCamera
from worker.health import worker_health


def facts(**kw) -> Facts:
    base: dict[str, Any] = dict(
        camera_state="live",
        camera_fault=None,
        camera_backend="file",
        camera_trouble_s=0.0,
        camera_restarts=0,
        screen="attract",
        disk_free=50 * 1024**3,
        clock_synchronized=True,
        connected=True,
        ai_online=True,
        workers={},
        held=0,
        last_error=None,
    )
    base.update(kw)
    return Facts(**base)


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_each_problem_the_operator_must_know(kiosk_config):
    cfg = kiosk_config("[operator]\ncamera_alert_s = 60\ndisk_low_mb = 1000\n")
    assert problems_of(facts(), cfg) == []
    refused = worker_health("w1", AiState.KEY_REJECTED, "API key not valid", 300, 0, {}, None)
    quota = worker_health("w2", AiState.QUOTA_EXHAUSTED, "", 300, 0, {}, None)
    broke = worker_health("w3", AiState.BREAKER_OPEN, "", 30, 0, {}, None)
    gone = worker_health("w4", AiState.KEY_REJECTED, "", 300, 0, {}, None)
    found = problems_of(
        facts(
            workers={
                "w1": (True, refused),
                "w2": (True, quota),
                "w3": (True, broke),
                "w4": (False, gone),
            }
        ),
        cfg,
    )
    assert codes(found) == ["ai_refused", "ai_quota"]  # an outage passes; an offline worker's
    assert "w1" in found[0].reason and "GEMINI_API_KEY" in found[0].fix  # old word is stale
    assert codes(problems_of(facts(ai_online=False), cfg)) == ["no_worker"]
    assert codes(problems_of(facts(connected=False, ai_online=None), cfg)) == ["broker"]
    brief = problems_of(
        facts(camera_state="reconnecting", camera_trouble_s=5, camera_fault="no frame for 2.0 s"),
        cfg,
    )
    assert codes(brief) == ["camera_reconnecting"] and marked(brief) == ()
    stuck = problems_of(facts(camera_state="reconnecting", camera_trouble_s=61), cfg)
    assert codes(stuck) == ["camera_stuck"] and codes(marked(stuck)) == ["camera_stuck"]
    low = problems_of(facts(disk_free=900 * 1024**2), cfg)
    assert codes(low) == ["disk_low"] and low[0].level == "warn"
    assert problems_of(facts(disk_free=100 * 1024**2), cfg)[0].level == "error"
    assert codes(problems_of(facts(clock_synchronized=False), cfg)) == ["clock"]
    cfg.trust_clock = True  # a Pi 5 with its RTC battery
    assert problems_of(facts(clock_synchronized=False), cfg) == []
    held = problems_of(facts(held=2, clock_synchronized=False), cfg)
    assert codes(held) == ["storage"]  # errors first
    cfg.trust_clock = False
    assert codes(problems_of(facts(held=2, clock_synchronized=False), cfg)) == ["storage", "clock"]


def test_a_long_press_is_a_hold_and_f1_is_the_operators_key():
    clock = FakeClock()
    m = InputMapper((800, 480), clock)
    down = pygame.event.Event(pygame.FINGERDOWN, x=0.95, y=0.05, finger_id=1, touch_id=1)
    assert m.map(down).kind == TAP
    clock.advance(1.0)
    assert m.held() is None
    clock.advance(0.6)
    held = m.held()
    assert held.kind == HOLD and held.pos == (760, 24)
    assert m.held() is None  # once per press
    m.map(pygame.event.Event(pygame.FINGERUP, x=0.95, y=0.05, finger_id=1, touch_id=1))
    m.map(down)
    clock.advance(0.5)
    m.map(pygame.event.Event(pygame.FINGERUP, x=0.95, y=0.05, finger_id=1, touch_id=1))
    clock.advance(2)
    assert m.held() is None  # a short tap is not a hold
    m.map(down)
    m.map(
        pygame.event.Event(pygame.FINGERMOTION, x=0.5, y=0.5, dx=0, dy=0, finger_id=1, touch_id=1)
    )
    clock.advance(2)
    assert m.held() is None  # a swipe is not a hold
    assert m.map(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F1, mod=0)).kind == OPERATOR


def test_the_camera_time_lost_by_the_process_before_is_carried(kiosk_config):
    cfg = kiosk_config()
    path = health_path(cfg.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert camera_time_lost_before(cfg) == 0.0
    path.write_text(
        json.dumps(CameraHealth(1, boot_id(), "reconnecting", None, "no frames", 40.0, 3).__dict__)
    )
    t = time.time() - 20
    os.utime(path, (t, t))
    assert 59 < camera_time_lost_before(cfg) < 65
    path.write_text(
        json.dumps(CameraHealth(1, "another-boot", "reconnecting", None, "x", 40.0, 3).__dict__)
    )
    assert camera_time_lost_before(cfg) == 0.0


class HealthSpy:
    def __init__(self, port: int, topic: str) -> None:
        self.got: list[Health] = []
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.c.on_connect = lambda c, u, f, r, p: c.subscribe(topic, 1)
        self.c.on_message = lambda c, u, m: (
            self.got.append(Health.from_json(m.payload)) if m.payload else None
        )
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()

    def last(self) -> Health | None:
        return self.got[-1] if self.got else None

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_the_mark_follows_the_camera_and_opens_for_the_operator(
    kiosk_config, make_app, broker, worker, output_dir
):
    """A real kiosk on the real broker: a camera stall is on its retained health at once and
    marks the screen after operator.camera_alert_s; F1 or a long press on the mark shows the
    reasons, a tap hides them; the camera back clears all of it."""
    cfg = kiosk_config("[operator]\ncamera_alert_s = 2\ndisk_low_mb = 50\n")
    cfg.trust_clock = True  # this machine's clock sync is not what this test is about
    cfg.camera.frame_timeout_s = 0.5
    spy = HealthSpy(broker.port, Topics().booth_health("testbooth"))
    cam = FlakyCamera(fail_opens=1000)
    app = make_app(cfg, (800, 480), camera=CameraWatchdog.around(cam, 0.5, backoff_s=(0.2, 0.5)))
    try:
        worker.availability(True)
        assert poll(
            lambda: (
                spy.last() is not None
                and spy.last().state == "ok"
                and spy.last().extra["camera"]["state"] == "live"
                and spy.last().extra["workers_online"] == 1
            ),
            15,
            step=app.step,
        ), spy.last()
        assert app.ctx.status.alerts == ()

        cam.paused = True  # frames stop, and every reopen fails
        assert poll(
            lambda: spy.last().extra["camera"]["state"] == "reconnecting", 10, step=app.step
        )
        assert [p.code for p in spy.last().problems] == ["camera_reconnecting"]
        assert app.ctx.status.alerts == ()  # not on the screen yet
        assert poll(
            lambda: [a.code for a in app.ctx.status.alerts] == ["camera_stuck"], 10, step=app.step
        )
        assert poll(lambda: spy.last().state == "error", 5, step=app.step)
        assert app.screen.name == "reconnecting"
        app.screenshot(output_dir / "kiosk-operator-mark-800x480.png")

        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_F1, mod=0))
        app.step()
        assert app.ctx.status.alerts_open
        app.step()
        app.screenshot(output_dir / "kiosk-operator-reasons-800x480.png")
        # a tap anywhere hides them; a long press on the mark opens them again
        x, y = mark.mark_rect(app.ctx).center
        pygame.event.post(
            pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(x, y), button=1, touch=False)
        )
        app.step()
        assert not app.ctx.status.alerts_open
        app.input._press = (app.now() - 2.0, (x, y))  # held for two seconds
        app.input._press_reported = False
        app.step()
        assert app.ctx.status.alerts_open

        cam.fail_opens = 0
        cam.paused = False
        assert poll(
            lambda: app.camera.state == "live" and spy.last().state == "ok", 20, step=app.step
        )
        assert poll(lambda: app.ctx.status.alerts == (), 5, step=app.step)
        app.screenshot(output_dir / "kiosk-operator-cleared-800x480.png")
    finally:
        spy.close()


def test_a_photo_deleted_by_the_share_process_leaves_the_screen(kiosk_config, make_app, worker):
    """The share process deletes a job (its row, then an empty retained status): the kiosk
    drops it from the recent strip and leaves its result screen."""
    from jobstore.ledger import Ledger, ledger_path
    from tests.kiosk.helpers import FIXTURES

    cfg = kiosk_config()
    app = make_app(cfg, (800, 480))
    assert poll(lambda: app.jobs.mqtt.connected, 10, step=app.step)
    job = app.jobs.submit_jpeg((FIXTURES / "portrait.jpg").read_bytes())
    assert poll(lambda: job in worker.job_ids(), 10, step=app.step)
    worker.finish(job)
    assert poll(
        lambda: app.book.get(job) is not None and app.book.get(job).ready, 15, step=app.step
    )
    app.open_job(job)
    assert app.screen.name == "result"
    other = Ledger(ledger_path(cfg.data_dir))  # the share process's own connection
    try:
        other.delete([job])
    finally:
        other.close()
    worker.raw(Topics().status("testbooth", job), b"", retain=True)
    assert poll(lambda: app.book.get(job) is None, 10, step=app.step)
    assert app.screen.name == "attract"
    assert job not in [v.job_id for v in app.recent_jobs()]
